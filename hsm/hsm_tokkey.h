/* SPDX-License-Identifier: Apache-2.0 */
#ifndef HSM_TOKKEY_H
#define HSM_TOKKEY_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "hsm_proto.h"
#include "kw_err.h"

/*
 * Token-signing keys (hsm_proto.h "token_keys" etc.): the parts that need
 * no token, kept apart from hsm_p11.c so that they can be unit-tested and
 * fuzzed.
 */
#define HSM_P256_COORD 32

/* The public half of one token key as the helper reports it. */
struct hsm_token_key {
	char label[HSM_TOKEN_LABEL_MAX + 1];
	int64_t created;    /* the number in the label */
	uint8_t x[HSM_P256_COORD], y[HSM_P256_COORD];
};

/* DER OID prime256v1 (1.2.840.10045.3.1.7), the CKA_EC_PARAMS of every token key. */
extern const uint8_t hsm_p256_params[10];

/*
 * Strict parse of a P-256 CKA_EC_POINT: a DER OCTET STRING (short-form
 * length 65) holding 04||X||Y, nothing after it. Returns 0 and fills x, y,
 * else KW_ERR_TRUNCATED / KW_ERR_TRAILING / KW_ERR_INVALID_FORMAT. The
 * point is not checked to be on the curve here (hsm_token_key_json does).
 */
int hsm_ec_point_parse(const uint8_t *der, size_t len, uint8_t x[HSM_P256_COORD],
    uint8_t y[HSM_P256_COORD]) KW_WUR;

/*
 * The protocol entry {"label", "created", "kid", "jwk"} for k. The point is
 * checked to be on P-256 (kw_jwk_thumbprint imports it). *ret: new reference.
 */
int hsm_token_key_json(const struct hsm_token_key *k, json_t **ret) KW_WUR;

/*
 * JWS ES256 signature value from a CKM_ECDSA result: R||S, each half
 * left-padded to 32 bytes. A module may return shorter halves (sig_len even,
 * 2..64); anything else is KW_ERR_INVALID_FORMAT.
 */
int hsm_ecdsa_sig_fixed(const uint8_t *sig, size_t sig_len, uint8_t out[HSM_SIGN_SIG_LEN]) KW_WUR;

#endif
