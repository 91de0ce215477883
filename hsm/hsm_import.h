/* SPDX-License-Identifier: Apache-2.0 */
#ifndef HSM_IMPORT_H
#define HSM_IMPORT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "kw_b64url.h"
#include "kw_err.h"

/*
 * The import key's public JWK (hsm_proto.h "import_key"): {"kty":"RSA",
 * "n", "e"} from big-endian n and e (no leading zero bytes) and its RFC 7638
 * thumbprint in kid. The key is checked by importing it (kw_jwk).
 * ret_jwk may be NULL when only the kid is wanted; else a new reference.
 */
int hsm_rsa_jwk(const uint8_t *n, size_t n_len, const uint8_t *e, size_t e_len, json_t **ret_jwk,
    char kid[static KW_B64URL_SHA256_SIZE]) KW_WUR;

#endif
