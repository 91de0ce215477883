/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_JOSE_H
#define KW_JOSE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "kw_b64url.h"
#include "kw_err.h"

/*
 * Compact JWS (RFC 7515) for ES256 only: the EAR tokens keywarden issues
 * and the DPoP proofs (RFC 9449) workloads send. Strict by construction:
 * exactly three non-empty parts, strict base64url, protected header and
 * payload are JSON objects (duplicate keys rejected, size-capped), the
 * signature is the fixed-length r‖s form (64 bytes for ES256). Which
 * algorithms and header members are acceptable is checked separately
 * (kw_jws_check_header), so callers state their policy explicitly.
 */

#define KW_JWS_MAX 65536          /* whole compact serialization (tokens carry the config manifest) */
#define KW_JWS_HEADER_MAX 2048    /* decoded protected header */
#define KW_ES256_SIG_LEN 64

struct kw_jws {
	json_t *header;              /* decoded protected header (owned) */
	json_t *payload;             /* decoded payload object (owned) */
	uint8_t *sig;                /* decoded signature (owned) */
	size_t sig_len;
	char *signing_input;         /* ASCII b64url(header) "." b64url(payload), NUL-terminated (owned) */
	size_t signing_input_len;
};

/*
 * Parse a compact JWS of at most max bytes (max <= KW_JWS_MAX). Rejects
 * anything but 3 parts, empty parts (so "alg":"none" tokens with an empty
 * signature never parse), bad base64url, non-object header or payload,
 * header larger than KW_JWS_HEADER_MAX. *ret is freed with kw_jws_free.
 */
int kw_jws_parse(const char *compact, size_t len, size_t max, struct kw_jws **ret) KW_WUR;
void kw_jws_free(struct kw_jws *j);

/*
 * Header policy: "alg" must be a string equal to want_alg; every member
 * must be in allowed (NULL-terminated; "alg" is implied); "crit" is always
 * rejected (no extension is understood). KW_ERR_UNSUPPORTED for a wrong
 * algorithm, KW_ERR_INVALID_FORMAT for other violations.
 */
int kw_jws_check_header(const struct kw_jws *j, const char *want_alg,
    const char *const *allowed) KW_WUR;

/*
 * Verify an ES256 signature (r‖s, exactly 64 bytes) over the signing input
 * with pk, which must be an EC P-256 public key. 0 or KW_ERR_SIG_INVALID.
 */
int kw_jws_verify_es256(const struct kw_jws *j, EVP_PKEY *pk) KW_WUR;

/* The signing input for a header and payload (compact JSON, base64url). */
int kw_jws_signing_input(const json_t *header, const json_t *payload, char **ret,
    size_t *ret_len) KW_WUR;

/* signing_input "." b64url(sig): a new string (free()). */
int kw_jws_compact(const char *signing_input, const uint8_t *sig, size_t sig_len,
    char **ret) KW_WUR;

/* ES256 with a local private key (the attester's tee-sigkey): r‖s. */
int kw_es256_sign(EVP_PKEY *priv, const void *msg, size_t len,
    uint8_t sig[static KW_ES256_SIG_LEN]) KW_WUR;

/* Convert between the JWS r‖s form (2*n bytes) and DER ECDSA-Sig-Value. */
int kw_ecdsa_raw_to_der(const uint8_t *raw, size_t rawlen, uint8_t **ret_der,
    size_t *ret_len) KW_WUR;
int kw_ecdsa_der_to_raw(const uint8_t *der, size_t derlen, size_t n, uint8_t *out) KW_WUR;

/* base64url(SHA-256(s)) — the DPoP "ath" of an access token (44 bytes incl. NUL). */
int kw_jose_ath(const char *token, size_t len, char out[static KW_B64URL_SHA256_SIZE]) KW_WUR;

#endif
