#ifndef KK_CLIBDEFLATE_SHIM_H
#define KK_CLIBDEFLATE_SHIM_H
/* libdeflate: whole-buffer deflate (the 1 MiB gzip members of binaries) and a PCLMUL crc32
   (the stored members of layers); see Package.swift for why it sits beside zlib. */
#include <libdeflate.h>
#endif
