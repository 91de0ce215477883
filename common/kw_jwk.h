/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_JWK_H
#define KW_JWK_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "kw_b64url.h"
#include "kw_err.h"

/*
 * JWK (RFC 7517/7518) public keys and RFC 7638 thumbprints.
 * Supported: "kty":"RSA" (n, e; modulus 2048..8192 bits, odd exponent 3..2^32),
 * "kty":"EC" with "crv" P-256 / P-384 (x, y, point checked on the curve).
 * Private members (d, p, q, ...) in an imported JWK are an error.
 */

/* Import a public JWK; *ret is a new EVP_PKEY (EVP_PKEY_free). */
int kw_jwk_import_public(const json_t *jwk, EVP_PKEY **ret) KW_WUR;

/*
 * Check a public JWK as kw_jwk_import_public does (members, strict
 * base64url, sizes, RSA modulus and exponent rules, an EC point on its
 * curve and not at infinity) without building a key: 0 or its error codes.
 */
int kw_jwk_check_public(const json_t *jwk) KW_WUR;

/* Export the public half of pkey as a new JWK object (members as RFC 7638 needs, plus none else). */
int kw_jwk_export_public(const EVP_PKEY *pkey, json_t **ret) KW_WUR;

/*
 * RFC 7638 SHA-256 thumbprint of a public JWK, base64url (43 chars + NUL).
 * The members are checked as kw_jwk_import_public checks them (strict
 * base64url, sizes, RSA modulus and exponent rules, an EC point on its
 * curve) without building a key.
 */
int kw_jwk_thumbprint(const json_t *jwk, char out[static KW_B64URL_SHA256_SIZE]) KW_WUR;

/* The RFC 7638 thumbprint of the RSA key (n, e: minimal unsigned big-endian). */
int kw_jwk_rsa_thumbprint(const uint8_t *n, size_t nlen, const uint8_t *e, size_t elen,
    char out[static KW_B64URL_SHA256_SIZE]) KW_WUR;

/*
 * An RSA public JWK's n and e as new buffers (free()), checked as
 * kw_jwk_import_public checks them, without building a key.
 * KW_ERR_UNSUPPORTED for another kty; the import's errors otherwise.
 */
int kw_jwk_rsa_members(const json_t *jwk, uint8_t **ret_n, size_t *ret_nlen, uint8_t **ret_e,
    size_t *ret_elen) KW_WUR;

/*
 * RSA public key as big-endian modulus and exponent (views into newly
 * allocated buffers the caller frees). For the HSM release.
 */
int kw_jwk_rsa_components(const EVP_PKEY *pkey, uint8_t **ret_n, size_t *ret_nlen,
    uint8_t **ret_e, size_t *ret_elen) KW_WUR;

#endif
