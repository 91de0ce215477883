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

#include <openssl/evp.h>

#include "broker.h"
#include "fuzz_es256.h"
#include "kw_jose.h"
#include "kw_json.h"
#include "kw_jwk.h"

#define ISSUER "https://kw.test:8443"
#define NOW 1800000000
#define TTL 300

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct kw_token_keys *keys;
static EVP_PKEY *priv;

/* The token key's private scalar. */
static const unsigned char token_key_d[32] = {
	0x4b, 0x65, 0x79, 0x77, 0x61, 0x72, 0x64, 0x65, 0x6e, 0x20, 0x66, 0x75, 0x7a, 0x7a, 0x20,
	0x74, 0x6f, 0x6b, 0x65, 0x6e, 0x20, 0x6b, 0x65, 0x79, 0x20, 0x30, 0x30, 0x30, 0x30, 0x30,
	0x30, 0x31,
};

static void
init(void)
{
	json_t *jwk = NULL, *reply;
	char kid[44];

	kw_json_init();
	priv = fuzz_p256_key(token_key_d);
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
	json_t *hdr, *pl = NULL;
	char *tok;

	if (kw_json_parse(data, size, 65536, &pl) != 0)
		return NULL;
	hdr = json_pack("{s:s, s:s, s:s}", "alg", "ES256", "typ", "JWT", "kid",
	    kw_token_keys_active(keys)->kid);
	tok = hdr != NULL ? fuzz_es256_compact(priv, hdr, pl) : NULL;
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
			if (tv.tee_n == NULL || tv.tee_nlen == 0 || tv.tee_e == NULL || tv.tee_elen == 0)
				__builtin_trap();
			kw_token_view_clear(&tv);
		}
		json_decref(payload);
	}
	free(tok);
	return 0;
}
