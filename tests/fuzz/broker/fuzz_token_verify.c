/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz kw_token_verify and kw_token_view: the EAR token a workload presents
 * with every resource request. The first byte selects the mode:
 *   even: the rest is a compact JWS, verified as it is (parser, header and
 *         signature checks);
 *   odd:  the rest is a payload, signed here with the token key under the
 *         broker's header, so that the claim checks after the signature and
 *         the release view are reached with arbitrary claims.
 * The token key is a fixed P-256 key made from a constant scalar (the target
 * is deterministic apart from ECDSA's random nonce, which verification does
 * not depend on).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "broker.h"
#include "kw_jose.h"
#include "kw_json.h"
#include "kw_jwk.h"

#define ISSUER "https://kw.test:8443"
#define NOW 1800000000
#define TTL 300

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct kw_token_keys *keys;
static EVP_PKEY *priv;

/* A P-256 key pair from a fixed private scalar. */
static EVP_PKEY *
fixed_key(void)
{
	static const unsigned char d[32] = {
		0x4b, 0x65, 0x79, 0x77, 0x61, 0x72, 0x64, 0x65, 0x6e, 0x20, 0x66, 0x75, 0x7a, 0x7a, 0x20,
		0x74, 0x6f, 0x6b, 0x65, 0x6e, 0x20, 0x6b, 0x65, 0x79, 0x20, 0x30, 0x30, 0x30, 0x30, 0x30,
		0x30, 0x31,
	};
	EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
	EC_POINT *q = g != NULL ? EC_POINT_new(g) : NULL;
	BIGNUM *bn = BN_bin2bn(d, sizeof(d), NULL);
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pk = NULL;
	unsigned char pub[65];

	if (q == NULL || bn == NULL || bld == NULL ||
	    !EC_POINT_mul(g, q, bn, NULL, NULL, NULL) ||
	    EC_POINT_point2oct(g, q, POINT_CONVERSION_UNCOMPRESSED, pub, sizeof(pub), NULL) != 65 ||
	    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, bn) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub)) ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1 || EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_KEYPAIR, params) != 1)
		abort();
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn);
	EC_POINT_free(q);
	EC_GROUP_free(g);
	return pk;
}

static void
init(void)
{
	json_t *jwk = NULL, *reply;
	char kid[44];

	kw_json_init();
	priv = fixed_key();
	if (kw_jwk_export_public(priv, &jwk) != 0 || kw_jwk_thumbprint(jwk, kid) != 0)
		abort();
	reply = json_pack("{s:[{s:s, s:I, s:s, s:o}]}", "keys", "label", "kw-token/1799999000",
	    "created", (json_int_t)1799999000, "kid", kid, "jwk", jwk);
	if (reply == NULL || kw_token_keys_from_reply(reply, &keys) != 0 || keys->n != 1)
		abort();
	json_decref(reply);
}

/* The broker's header and the fuzz payload, signed with the token key. */
static char *
sign_payload(const uint8_t *data, size_t size)
{
	json_t *hdr = NULL, *pl = NULL;
	uint8_t sig[KW_ES256_SIG_LEN];
	char *si = NULL, *tok = NULL;
	size_t silen;

	if (kw_json_parse(data, size, 65536, &pl) != 0)
		return NULL;
	hdr = json_pack("{s:s, s:s, s:s}", "alg", "ES256", "typ", "JWT", "kid",
	    kw_token_keys_active(keys)->kid);
	if (hdr != NULL && kw_jws_signing_input(hdr, pl, &si, &silen) == 0 &&
	    kw_es256_sign(priv, si, silen, sig) == 0 &&
	    kw_jws_compact(si, sig, sizeof(sig), &tok) != 0)
		tok = NULL;
	free(si);
	json_decref(hdr);
	json_decref(pl);
	return tok;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kw_token_view tv;
	const char *why = NULL;
	json_t *payload = NULL;
	char *tok;
	size_t len;

	if (keys == NULL)
		init();
	if (size < 1)
		return 0;
	if (data[0] & 1) {
		if ((tok = sign_payload(data + 1, size - 1)) == NULL)
			return 0;
	} else {
		if ((tok = malloc(size)) == NULL)
			return 0;
		memcpy(tok, data + 1, size - 1);
		tok[size - 1] = '\0';
	}
	len = strlen(tok);    /* the raw mode stops at an embedded NUL */
	if (kw_token_verify(keys, tok, len, ISSUER, NOW, TTL, &payload, &why) == 0) {
		if (payload == NULL || why != NULL)
			__builtin_trap();
		memset(&tv, 0, sizeof(tv));
		if (kw_token_view(payload, &tv) == 0) {
			if (tv.jkt == NULL || tv.claims == NULL || strlen(tv.tee_kid) != 43)
				__builtin_trap();
			EVP_PKEY_free(tv.tee_pub);
		}
		json_decref(payload);
	}
	free(tok);
	return 0;
}
