/* SPDX-License-Identifier: Apache-2.0 */
#ifndef HSM_JWE_H
#define HSM_JWE_H

#include <stddef.h>
#include <stdint.h>

#include "kw_err.h"
#include "kw_secret.h"

#define HSM_JWE_IV_LEN 16
#define HSM_JWE_MAC_KEY_LEN 32
#define HSM_JWE_TAG_LEN 32

/*
 * Assemble the compact JWE for alg=RSA-OAEP, enc=A256CBC-HS512 from the
 * pieces the HSM produced (PKCS11.md 3.2 steps 11-12): the protected header
 * {"alg":"RSA-OAEP","enc":"A256CBC-HS512","kid":kid} (this member order),
 * AAD = ASCII(b64url(header)), tag = HMAC-SHA-512(mac_key, AAD||IV||CT||AL)[0:32].
 * mac_key must be HSM_JWE_MAC_KEY_LEN bytes; it is only read. Returns 0 and
 * *ret (NUL-terminated, free()), or KW_ERR_INVALID_ARG / KW_ERR_NOMEM /
 * KW_ERR_CRYPTO; *ret is untouched on failure.
 */
int hsm_jwe_compact(const char *kid, const uint8_t *ek, size_t ek_len,
    const uint8_t iv[static HSM_JWE_IV_LEN], const uint8_t *ct, size_t ct_len,
    const struct kw_secret *mac_key, char **ret) KW_WUR;

/*
 * A256CBC-HS512 authentication tag alone (RFC 7518 5.2.2.1 with the SHA-512
 * parameters): HMAC-SHA-512(mac_key, aad||iv||ct||be64(8*aad_len))[0:32].
 */
int hsm_jwe_tag(const uint8_t *mac_key, size_t mac_key_len, const uint8_t *aad, size_t aad_len,
    const uint8_t *iv, size_t iv_len, const uint8_t *ct, size_t ct_len,
    uint8_t tag[static HSM_JWE_TAG_LEN]) KW_WUR;

/*
 * Decrypt a compact RSA-OAEP + A256CBC-HS512 JWE with the private key priv
 * (an OpenSSL EVP_PKEY): checks
 * the header's alg/enc, the tag (constant time), and the PKCS#7 padding.
 * Writes at most max bytes to out and sets *ret_len. Used by the helper's
 * start-up self test. KW_ERR_INVALID_FORMAT, KW_ERR_SIG_INVALID (tag) or
 * KW_ERR_CRYPTO on failure.
 */
struct evp_pkey_st;
int hsm_jwe_decrypt(const char *jwe, struct evp_pkey_st *priv, uint8_t *out, size_t max, size_t *ret_len) KW_WUR;

#endif
