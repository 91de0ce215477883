/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_FUZZ_ES256_H
#define KW_FUZZ_ES256_H

#include <openssl/evp.h>
#include <jansson.h>

/*
 * Signing for the broker's fuzz targets: fuzz payloads are signed here with
 * fixed keys so that the checks after a signature are reached.
 */

/* The P-256 key pair of the private scalar d (aborts on failure). */
EVP_PKEY *fuzz_p256_key(const unsigned char d[static 32]);

/* Compact JWS of header and payload signed with priv (ES256); NULL on failure. */
char *fuzz_es256_compact(EVP_PKEY *priv, const json_t *header, const json_t *payload);

#endif
