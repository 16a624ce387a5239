#ifndef KK_CARCHIVE_SHIM_H
#define KK_CARCHIVE_SHIM_H
#include <archive.h>
#include <archive_entry.h>
#endif
