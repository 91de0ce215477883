/* SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "kw_b64url.h"
#include "dpop.h"
#include "kw_jose.h"
#include "kw_json.h"
#include "kw_jwk.h"
#include "kw_util.h"
#include "metrics.h"
#include "replay.h"

struct kw_dpop {
	struct kw_challenges *nonces;   /* sealing only; never consumed */
	struct kw_replay *jtis;
	unsigned int iat_window, jti_ttl;
};

_Static_assert(sizeof(((struct kw_dpop_jti *)0)->id) == KW_REPLAY_ID_LEN &&
    sizeof(((struct kw_dpop_jti *)0)->part) == KW_REPLAY_ID_LEN, "replay-set ids");

int
kw_dpop_new(unsigned int nonce_ttl, unsigned int iat_window, unsigned int jti_ttl,
    size_t max_jti, size_t jti_per_key, struct kw_dpop **ret)
{
	struct kw_dpop *d;
	int r;

	if (iat_window == 0 || jti_ttl == 0 || jti_per_key == 0)
		return KW_ERR_INVALID_ARG;
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return KW_ERR_NOMEM;
	d->iat_window = iat_window;
	d->jti_ttl = jti_ttl > iat_window ? jti_ttl : iat_window;
	if ((r = kw_challenges_new(nonce_ttl, 1, &d->nonces)) != 0 ||
	    (r = kw_replay_new(max_jti, jti_per_key, d->jti_ttl, &d->jtis)) != 0) {
		kw_dpop_free(d);
		return r;
	}
	kw_replay_set_metrics(d->jtis, KW_MET_SET_DPOP_JTI);
	*ret = d;
	return 0;
}

void
kw_dpop_free(struct kw_dpop *d)
{
	if (d == NULL)
		return;
	kw_challenges_free(d->nonces);
	kw_replay_free(d->jtis);
	free(d);
}

int
kw_dpop_set_seal_keys(struct kw_dpop *d, const struct kw_seal_master *keys, size_t n, size_t issue)
{
	return kw_challenges_set_keys(d->nonces, "dpop", keys, n, issue);
}

int
kw_dpop_nonce(struct kw_dpop *d, int64_t now, char out[static KW_CHALLENGE_STR_MAX])
{
	return kw_challenge_issue(d->nonces, "dpop", now, out);
}

int
kw_dpop_record(struct kw_dpop *d, const struct kw_dpop_jti *jti, int64_t now)
{
	int r = kw_replay_add(d->jtis, jti->id, jti->part, jti->expiry, now);

	return r == KW_ERR_INVALID_ARG ? KW_ERR_EXPIRED : r;
}

static int
str_eq(const json_t *v, const char *want)
{
	return json_is_string(v) && strcmp(json_string_value(v), want) == 0;
}

int
kw_dpop_verify(struct kw_dpop *d, const char *proof, const char *htm, const char *htu,
    const char *token, const char *jkt, int64_t now, struct kw_dpop_jti *ret_jti, int *need_nonce,
    const char **why)
{
	static const char *const hdr_allowed[] = {"typ", "jwk", NULL};
	static const char *const claims_allowed[] = {"htm", "htu", "iat", "jti", "ath", "nonce",
		NULL};
	struct kw_jws *j = NULL;
	EVP_PKEY *pk = NULL;
	const json_t *jwk, *pl, *v;
	char tp[KW_B64URL_SHA256_SIZE], ath[KW_B64URL_SHA256_SIZE];
	uint8_t md[SHA256_DIGEST_LENGTH];
	struct kw_dpop_jti t;
	json_int_t iat;
	const char *jti;
	int r;

	*need_nonce = 0;
	*why = "no DPoP proof";
	if (proof == NULL || token == NULL || jkt == NULL) {
		r = KW_ERR_INVALID_FORMAT;
		goto out;
	}
	*why = "malformed DPoP proof";
	if ((r = kw_jws_parse(proof, strlen(proof), KW_JWS_MAX, &j)) != 0)
		goto out;
	*why = "DPoP proof header not allowed (typ dpop+jwt, alg ES256, jwk only)";
	if ((r = kw_jws_check_header(j, "ES256", hdr_allowed)) != 0)
		goto out;
	r = KW_ERR_INVALID_FORMAT;
	if (!str_eq(json_object_get(j->header, "typ"), "dpop+jwt"))
		goto out;
	jwk = json_object_get(j->header, "jwk");
	*why = "DPoP proof key is not a public EC P-256 JWK";
	if (!json_is_object(jwk) || !str_eq(json_object_get(jwk, "kty"), "EC") ||
	    !str_eq(json_object_get(jwk, "crv"), "P-256") ||
	    (r = kw_jwk_import_public(jwk, &pk)) != 0) {
		r = KW_ERR_INVALID_FORMAT;
		goto out;
	}
	*why = "DPoP proof signature invalid";
	if ((r = kw_jws_verify_es256(j, pk)) != 0)
		goto out;
	*why = "DPoP proof key is not the key the token is bound to";
	if ((r = kw_jwk_thumbprint(jwk, tp)) != 0)
		goto out;
	r = KW_ERR_MISMATCH;
	if (strlen(jkt) != strlen(tp) || CRYPTO_memcmp(tp, jkt, strlen(tp)) != 0)
		goto out;
	pl = j->payload;
	*why = "DPoP proof claims malformed";
	r = KW_ERR_INVALID_FORMAT;
	if (kw_json_check_keys(pl, claims_allowed) != 0)
		goto out;
	v = json_object_get(pl, "jti");
	if (!json_is_string(v) || json_string_length(v) < 16 || json_string_length(v) > 256 ||
	    !json_is_integer(json_object_get(pl, "iat")))
		goto out;
	jti = json_string_value(v);
	iat = json_integer_value(json_object_get(pl, "iat"));
	*why = "DPoP proof is for another method or URL";
	r = KW_ERR_MISMATCH;
	if (!str_eq(json_object_get(pl, "htm"), htm) || !str_eq(json_object_get(pl, "htu"), htu))
		goto out;
	*why = "DPoP proof iat outside the accepted window";
	r = KW_ERR_EXPIRED;
	if (iat < now - (json_int_t)d->iat_window || iat > now + (json_int_t)d->iat_window)
		goto out;
	*why = "DPoP proof ath does not match the token";
	if ((r = kw_jose_ath(token, strlen(token), ath)) != 0)
		goto out;
	r = KW_ERR_MISMATCH;
	v = json_object_get(pl, "ath");
	if (!json_is_string(v) || json_string_length(v) != strlen(ath) ||
	    CRYPTO_memcmp(json_string_value(v), ath, strlen(ath)) != 0)
		goto out;
	*why = "DPoP proof without a valid server nonce";
	v = json_object_get(pl, "nonce");
	if (!json_is_string(v) ||
	    kw_challenge_verify(d->nonces, "dpop", json_string_value(v), now) != 0) {
		*need_nonce = 1;
		r = KW_ERR_EXPIRED;
		goto out;
	}
	*why = "internal error";
	if ((r = kw_sha256(jti, strlen(jti), md)) != 0)
		goto out;
	memcpy(t.id, md, sizeof(t.id));
	if ((r = kw_sha256(jkt, strlen(jkt), md)) != 0)
		goto out;
	memcpy(t.part, md, sizeof(t.part));
	/* accepted while iat >= now - iat_window and the token lives (<= jti_ttl) */
	t.expiry = iat + (json_int_t)d->iat_window < now + (json_int_t)d->jti_ttl ?
	    (int64_t)iat + d->iat_window : now + d->jti_ttl;
	if ((r = kw_replay_check(d->jtis, t.id, t.part, now)) != 0) {
		*why = r == KW_ERR_REPLAY ? "DPoP proof replayed (jti seen before)" :
		    r == KW_ERR_BUSY ? "too many live DPoP proofs for this token key" :
		    "DPoP jti replay set full";
		goto out;
	}
	*ret_jti = t;
	*why = NULL;
	r = 0;
out:
	EVP_PKEY_free(pk);
	kw_jws_free(j);
	return r;
}
