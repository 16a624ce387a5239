#ifndef KK_CARCHIVE_SHIM_H
#define KK_CARCHIVE_SHIM_H
#include <archive.h>
#include <archive_entry.h>
#include <stdint.h>

#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>

/* sync_file_range(2) flags; glibc only declares them (and the call) under _GNU_SOURCE,
   which Swift's Glibc module is not built with. Values are the kernel ABI. */
#define KK_SYNC_FILE_RANGE_WAIT_BEFORE 1u
#define KK_SYNC_FILE_RANGE_WRITE 2u
#define KK_SYNC_FILE_RANGE_WAIT_AFTER 4u

/* Starts (and with the WAIT flags, waits for) writeback of a byte range of `fd`, so an
   artifact writer can overlap disk writes with compression. Returns 0 or -1 with errno. */
static inline int kk_sync_file_range(int fd, int64_t offset, int64_t count, unsigned int flags) {
  return (int)syscall(SYS_sync_file_range, fd, offset, count, flags);
}

/* O_DIRECT is only defined under _GNU_SOURCE; glibc's __O_DIRECT carries the value for each
   architecture (0x4000 on x86-64, 0x10000 on arm64). The artifact writer bypasses the page
   cache with it. */
#include <fcntl.h>
static inline int kk_o_direct(void) { return __O_DIRECT; }
#endif
#endif
