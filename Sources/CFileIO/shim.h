#ifndef KK_CFILEIO_SHIM_H
#define KK_CFILEIO_SHIM_H
/* File I/O calls Swift's Glibc module does not expose. Blobstore uses them to stream blobs
   to disk as they arrive (see BlobWriter); a header-only module so nothing extra links. */
#include <stdint.h>

#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>

/* sync_file_range(2) flags; glibc only declares them (and the call) under _GNU_SOURCE,
   which Swift's Glibc module is not built with. Values are the kernel ABI. */
#define KK_FILEIO_SYNC_WAIT_BEFORE 1u
#define KK_FILEIO_SYNC_WRITE 2u
#define KK_FILEIO_SYNC_WAIT_AFTER 4u

/* Starts (and with the WAIT flags, waits for) writeback of a byte range of `fd`.
   Returns 0 or -1 with errno. Advisory for durability: only fsync/fdatasync promise it. */
static inline int kk_fileio_sync_file_range(int fd, int64_t offset, int64_t count,
                                            unsigned int flags) {
  return (int)syscall(SYS_sync_file_range, fd, offset, count, flags);
}
#endif
#endif
