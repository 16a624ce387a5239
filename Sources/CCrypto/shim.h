#ifndef KK_CCRYPTO_SHIM_H
#define KK_CCRYPTO_SHIM_H
#include <openssl/evp.h>
#include <openssl/err.h>
#endif
