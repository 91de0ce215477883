/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz kw_dpop_verify (and kw_dpop_record): the DPoP proof a workload
 * presents with every resource request, checked against a fixed token, its
 * cnf.jkt (the thumbprint of key A), method GET and a fixed URL. The first
 * byte selects the mode:
 *   bit 0 clear: the rest is a proof, verified as it is (parser, header,
 *                key, signature, and for proofs signed with key A by
 *                gen_dpop_corpus.py the claims up to the server nonce,
 *                which no stored proof can carry);
 *   bit 0 set:   the rest is {"h": {...}, "p": {...}}: header members over
 *                {"typ":"dpop+jwt","alg":"ES256","jwk":<signing key>} (null
 *                removes one) and the claims, signed here with key A (key B
 *                when bit 1 is set), so that every check after the
 *                signature is reached. In "p", the strings "$nonce",
 *                "$nonce_old" and "$ath" become a fresh server nonce, one
 *                issued 1000 s ago, and the token's hash.
 * Each input gets its own kw_dpop (a fresh nonce key and empty replay set).
 * An accepted proof must be recordable once and then be a replay.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dpop.h"
#include "fuzz_es256.h"
#include "kw_jose.h"
#include "kw_json.h"
#include "kw_jwk.h"

#define NOW 1800000000
#define HTU "https://kw.test:8443/kbs/v0/resource/demo/key/disk"
#define TOKEN "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9.eyJmdXp6IjoiZHBvcCJ9.ZnV6eg"
#define IAT_WINDOW 60
#define JTI_TTL 300

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const unsigned char key_a_d[33] = "keywarden fuzz dpop key A 000001";
static const unsigned char key_b_d[33] = "keywarden fuzz dpop key B 000001";
static EVP_PKEY *key_a, *key_b;
static json_t *jwk_a, *jwk_b;
static char jkt[44], ath[44];

static void
init(void)
{
	kw_json_init();
	key_a = fuzz_p256_key(key_a_d);
	key_b = fuzz_p256_key(key_b_d);
	if (kw_jwk_export_public(key_a, &jwk_a) != 0 || kw_jwk_export_public(key_b, &jwk_b) != 0 ||
	    kw_jwk_thumbprint(jwk_a, jkt) != 0 || kw_jose_ath(TOKEN, strlen(TOKEN), ath) != 0)
		abort();
}

/* Replace the placeholder strings of the claims (see the top). */
static int
fill_claims(struct kw_dpop *d, json_t *p)
{
	char nonce[KW_CHALLENGE_STR_MAX];
	const char *k;
	json_t *v;
	int r = 0;

	json_object_foreach(p, k, v) {
		const char *s = json_string_value(v);

		if (s == NULL)
			continue;
		if (strcmp(s, "$nonce") == 0 || strcmp(s, "$nonce_old") == 0)
			r = kw_dpop_nonce(d, strcmp(s, "$nonce") == 0 ? NOW : NOW - 1000, nonce) != 0 ||
			    json_string_set(v, nonce) != 0;
		else if (strcmp(s, "$ath") == 0)
			r = json_string_set(v, ath) != 0;
		if (r != 0)
			return -1;
	}
	return 0;
}

/* The proof of a {"h","p"} input, signed with key A or B. */
static char *
sign_proof(struct kw_dpop *d, const uint8_t *data, size_t size, int use_b)
{
	json_t *in = NULL, *h, *p, *hdr = NULL;
	const char *k;
	json_t *v;
	char *proof = NULL;

	if (kw_json_parse(data, size, 65536, &in) != 0)
		return NULL;
	h = json_object_get(in, "h");
	p = json_object_get(in, "p");
	if (!json_is_object(p) || (h != NULL && !json_is_object(h)) || fill_claims(d, p) != 0)
		goto out;
	hdr = json_pack("{s:s, s:s, s:O}", "typ", "dpop+jwt", "alg", "ES256", "jwk",
	    use_b ? jwk_b : jwk_a);
	if (hdr == NULL)
		goto out;
	json_object_foreach(h, k, v) {
		if (json_is_null(v))
			json_object_del(hdr, k);
		else
			json_object_set(hdr, k, v);
	}
	proof = fuzz_es256_compact(use_b ? key_b : key_a, hdr, p);
out:
	json_decref(hdr);
	json_decref(in);
	return proof;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kw_dpop *d = NULL;
	struct kw_dpop_jti jti, again;
	const char *why = NULL;
	char *proof = NULL;
	int r, need_nonce = -1;

	if (key_a == NULL)
		init();
	if (size < 1 || kw_dpop_new(60, IAT_WINDOW, JTI_TTL, 16, 4, &d) != 0)
		return 0;
	if (data[0] & 1) {
		proof = sign_proof(d, data + 1, size - 1, data[0] & 2);
	} else if ((proof = malloc(size)) != NULL) {
		memcpy(proof, data + 1, size - 1);
		proof[size - 1] = '\0';    /* the raw mode stops at an embedded NUL */
	}
	if (proof == NULL)
		goto out;
	r = kw_dpop_verify(d, proof, "GET", HTU, TOKEN, jkt, NOW, &jti, &need_nonce, &why);
	if (r == 0) {
		/* accepted: bound to key A, remembered while acceptable (iat + window,
		 * iat within the window of now), recordable exactly once */
		if (why != NULL || need_nonce != 0 || (data[0] & 3) == 3 ||
		    jti.expiry < NOW || jti.expiry > NOW + 2 * IAT_WINDOW)
			__builtin_trap();
		if (kw_dpop_record(d, &jti, NOW) != 0 ||
		    kw_dpop_verify(d, proof, "GET", HTU, TOKEN, jkt, NOW, &again, &need_nonce,
		    &why) != KW_ERR_REPLAY || why == NULL)
			__builtin_trap();
	} else if (why == NULL || (need_nonce && r != KW_ERR_EXPIRED)) {
		__builtin_trap();
	}
out:
	free(proof);
	kw_dpop_free(d);
	return 0;
}
