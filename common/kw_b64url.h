/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_B64URL_H
#define KW_B64URL_H

#include <stddef.h>
#include <stdint.h>

#include "kw_err.h"

/*
 * A SHA-256 digest in base64url: 43 characters, and the NUL. Every RFC 7638
 * JWK thumbprint (kid, jkt) and every DPoP "ath" has this size.
 */
#define KW_B64URL_SHA256_LEN 43
#define KW_B64URL_SHA256_SIZE (KW_B64URL_SHA256_LEN + 1)

/* Length of the unpadded base64url encoding of n bytes (without NUL). */
size_t kw_b64url_enclen(size_t n);

/*
 * Encode n bytes as unpadded base64url into a new NUL-terminated string.
 * Returns 0 and *ret (caller frees with free(); use kw_free_wipe for
 * secrets), or KW_ERR_NOMEM / KW_ERR_TOO_LARGE.
 */
int kw_b64url_encode(const void *in, size_t n, char **ret) KW_WUR;

/*
 * Strict decode: alphabet A-Z a-z 0-9 - _, no padding, no whitespace, the
 * unused low bits of the last symbol must be zero, length mod 4 != 1.
 * Writes at most max bytes to out; *ret_len is set on success only.
 * Returns KW_ERR_INVALID_FORMAT or KW_ERR_TOO_LARGE on failure. Runs in time
 * independent of the symbol values (constant-time table-free lookup), so it
 * can be used on key material.
 */
int kw_b64url_decode(const char *in, size_t inlen, uint8_t *out, size_t max, size_t *ret_len) KW_WUR;

/* Decode into a freshly malloc'd buffer of at most max bytes. */
int kw_b64url_decode_alloc(const char *in, size_t inlen, size_t max, uint8_t **ret, size_t *ret_len) KW_WUR;

/*
 * The same strict decode (same inputs accepted, same bytes, same errors),
 * table-driven and several times faster, for public input only (evidence,
 * certificates): its time depends on the symbols. Never for key material,
 * tokens or other secrets.
 */
int kw_b64url_decode_public(const char *in, size_t inlen, uint8_t *out, size_t max,
    size_t *ret_len) KW_WUR;
int kw_b64url_decode_public_alloc(const char *in, size_t inlen, size_t max, uint8_t **ret,
    size_t *ret_len) KW_WUR;

#endif
