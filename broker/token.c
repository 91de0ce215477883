/* SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "kw_b64url.h"
#include "kw_build.h"
#include "kw_jose.h"
#include "kw_json.h"
#include "kw_jwk.h"
#include "kw_spki.h"
#include "kw_util.h"
#include "token.h"
#include "verifier.h"

#define KW_TOKEN_SKEW 60

void
kw_token_keys_free(struct kw_token_keys *ks)
{
	if (ks == NULL)
		return;
	for (size_t i = 0; i < ks->n; i++) {
		EVP_PKEY_free(ks->k[i].pub);
		json_decref(ks->k[i].jwk);
	}
	free(ks->k);
	free(ks);
}

int
kw_token_keys_from_hsm(const struct hsm_token_key_entry *e, size_t n, struct kw_token_keys **ret)
{
	struct kw_token_keys *ks;
	int r = KW_ERR_INVALID_FORMAT;

	if (n > HSM_TOKEN_KEYS_MAX)
		return KW_ERR_INVALID_FORMAT;
	if ((ks = calloc(1, sizeof(*ks))) == NULL)
		return KW_ERR_NOMEM;
	if (n > 0 && (ks->k = calloc(n, sizeof(*ks->k))) == NULL) {
		free(ks);
		return KW_ERR_NOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		struct kw_token_key *k = &ks->k[i];
		char tp[KW_B64URL_SHA256_SIZE];

		ks->n++;
		r = KW_ERR_INVALID_FORMAT;
		if (strlen(e[i].label) >= sizeof(k->label) || strlen(e[i].kid) >= sizeof(k->kid) ||
		    strncmp(e[i].label, KW_TOKEN_LABEL_PREFIX, strlen(KW_TOKEN_LABEL_PREFIX)) != 0)
			goto out;
		if ((r = kw_jwk_import_public(e[i].jwk, &k->pub)) != 0 ||
		    (r = kw_jwk_thumbprint(e[i].jwk, tp)) != 0)
			goto out;
		r = KW_ERR_MISMATCH;
		if (strcmp(tp, e[i].kid) != 0 || EVP_PKEY_get_base_id(k->pub) != EVP_PKEY_EC ||
		    EVP_PKEY_get_bits(k->pub) != 256)
			goto out;
		if (i > 0 && e[i].created < e[i - 1].created)
			goto out;    /* the helper lists oldest first */
		memcpy(k->label, e[i].label, strlen(e[i].label) + 1);
		memcpy(k->kid, e[i].kid, strlen(e[i].kid) + 1);
		k->created = e[i].created;
		if ((k->jwk = json_deep_copy(e[i].jwk)) == NULL) {
			r = KW_ERR_NOMEM;
			goto out;
		}
	}
	*ret = ks;
	ks = NULL;    /* transferred */
	r = 0;
out:
	kw_token_keys_free(ks);
	return r;
}

int
kw_token_keys_from_reply(const json_t *reply, struct kw_token_keys **ret)
{
	struct hsm_result *res = NULL;
	int r;

	if ((r = hsm_result_decode(HSM_OP_TOKEN_KEYS, (json_t *)(uintptr_t)reply, &res)) != 0)
		return r == KW_ERR_NOMEM ? r : KW_ERR_INVALID_FORMAT;
	r = kw_token_keys_from_hsm(res->u.token_keys.k, res->u.token_keys.n, ret);
	hsm_result_free(res);
	return r;
}

const struct kw_token_key *
kw_token_keys_active(const struct kw_token_keys *ks)
{
	return ks != NULL && ks->n > 0 ? &ks->k[ks->n - 1] : NULL;
}

int
kw_token_key_published(const struct kw_token_keys *ks, size_t i, int64_t now, unsigned int ttl)
{
	if (ks == NULL || i >= ks->n)
		return 0;
	if (i == ks->n - 1)
		return 1;
	/* tokens signed by k[i] were issued before k[i+1] existed */
	return ks->k[i + 1].created + (int64_t)ttl + KW_TOKEN_SKEW >= now;
}

json_t *
kw_token_jwks(const struct kw_token_keys *ks, int64_t now, unsigned int ttl)
{
	json_t *arr = json_array(), *k;

	if (arr == NULL)
		return NULL;
	for (size_t i = 0; ks != NULL && i < ks->n; i++) {
		if (!kw_token_key_published(ks, i, now, ttl))
			continue;
		if ((k = json_deep_copy(ks->k[i].jwk)) == NULL ||
		    json_object_set_new(k, "kid", json_string(ks->k[i].kid)) != 0 ||
		    json_object_set_new(k, "use", json_string("sig")) != 0 ||
		    json_object_set_new(k, "alg", json_string("ES256")) != 0 ||
		    json_array_append_new(arr, k) != 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return json_pack("{s:o}", "keys", arr);
}

/* AR4SI trustworthiness claims: 0 no claim, 2..31 affirming, 32..95 warning, 96.. contraindicated */
static const char *
ear_status(const json_t *tv)
{
	const char *k;
	json_t *v;
	int worst = 0;

	json_object_foreach((json_t *)(uintptr_t)tv, k, v) {
		json_int_t x = json_integer_value(v);
		int tier = x >= 96 ? 3 : x >= 32 ? 2 : x >= 2 ? 1 : 0;
		if (tier > worst)
			worst = tier;
	}
	return worst == 3 ? "contraindicated" : worst == 2 ? "warning" :
	    worst == 1 ? "affirming" : "none";
}

/*
 * The GPU claims a token carries (docs/claims.md, "GPUs"): what policies
 * test; the raw fields (fwid, board_id, ...) stay in the appraisal record.
 */
static const char *const gpu_token_claims[] = {"root", "driver_version", "vbios_version", "chip_sku",
	"project", "project_sku", "cc_mode", "protected_pcie", "measurements", "ocsp", NULL};

/* "gpu_count" and "gpus" (composite evidence) into o; nothing without GPUs. */
static int
pick_gpu_claims(const json_t *claims, json_t *o)
{
	const json_t *gpus = json_object_get(claims, "gpus"), *g, *x;
	json_t *a;
	size_t i;

	if (gpus == NULL)
		return 0;
	if ((a = json_array()) == NULL || json_object_set_new(o, "gpus", a) != 0 ||
	    json_object_set(o, "gpu_count", json_object_get(claims, "gpu_count")) != 0)
		return -1;
	json_array_foreach(gpus, i, g) {
		json_t *one = json_object();

		if (one == NULL || json_array_append_new(a, one) != 0)
			return -1;
		for (size_t k = 0; gpu_token_claims[k] != NULL; k++)
			if ((x = json_object_get(g, gpu_token_claims[k])) != NULL &&
			    json_object_set_new(one, gpu_token_claims[k], json_deep_copy(x)) != 0)
				return -1;
	}
	return 0;
}

/*
 * The claims the token carries: what the verifier's table entry lists
 * (docs/claims.md, "in token") and the configuration manifest the broker
 * added ("config"). Raw evidence (report data, certificates) stays out.
 */
static json_t *
pick_claims(const struct kw_verifier *v, const json_t *claims)
{
	json_t *o = json_object(), *x;

	if (o == NULL)
		return NULL;
	for (size_t i = 0; v->token_claims[i] != NULL; i++) {
		if ((x = json_object_get(claims, v->token_claims[i])) != NULL &&
		    json_object_set_new(o, v->token_claims[i], json_deep_copy(x)) != 0) {
			json_decref(o);
			return NULL;
		}
	}
	if (((x = json_object_get(claims, "config")) != NULL &&
	    json_object_set_new(o, "config", json_deep_copy(x)) != 0) || pick_gpu_claims(claims, o) != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/*
 * AR4SI "hardware": 2 (genuine) for evidence that chains to the vendor
 * root; 96 (contraindicated: not genuine hardware) for an emulation root
 * the configuration trusts; 32 (warning: genuine, with known
 * vulnerabilities or configuration needed) when the verifier reports a TCB
 * status other than UpToDate (TDX); 96 again for the TCB status Revoked
 * (Intel revoked that TCB: its keys are not to be trusted). With GPUs, one
 * GPU whose chain ends at an emulation root makes the whole 96.
 */
static int
hardware_tier(const struct kw_verifier *v, const json_t *claims)
{
	const char *root = json_string_value(json_object_get(claims, "root"));
	const char *status = json_string_value(json_object_get(claims, "tcb_status"));
	const json_t *g;
	size_t i;

	if (root == NULL || strcmp(root, v->vendor_root) != 0)
		return 96;
	json_array_foreach(json_object_get(claims, "gpus"), i, g) {
		const char *gr = json_string_value(json_object_get(g, "root"));

		if (gr == NULL || strcmp(gr, "nvidia") != 0)
			return 96;
	}
	if (status != NULL && strcmp(status, "Revoked") == 0)
		return 96;
	if (json_object_get(claims, "tcb_status") != NULL &&
	    (status == NULL || strcmp(status, "UpToDate") != 0))
		return 32;
	return 2;
}

/* The TEE's RSA JWK as base64url SubjectPublicKeyInfo (EAR "akpub"), without building a key. */
static int
akpub_b64(const json_t *tee_pubkey, char **ret)
{
	uint8_t *n = NULL, *e = NULL, *der = NULL;
	size_t nlen = 0, elen = 0, dlen = 0;
	int r;

	if ((r = kw_jwk_rsa_members(tee_pubkey, &n, &nlen, &e, &elen)) == 0 &&
	    (r = kw_rsa_spki_encode(n, nlen, e, elen, &der, &dlen)) == 0)
		r = kw_b64url_encode(der, dlen, ret);
	free(n);
	free(e);
	free(der);
	return r;
}

int
kw_ear_build(const json_t *claims, const json_t *tee_pubkey, const json_t *tee_sigkey,
    const char *issuer, const char *kid, int64_t now, unsigned int ttl, json_t **ret_header,
    json_t **ret_payload)
{
	char jkt[KW_B64URL_SHA256_SIZE], *akpub = NULL, *jti = NULL;
	uint8_t jti_raw[16];
	json_t *tv = NULL, *hdr = NULL, *pl = NULL, *kc = NULL;
	const struct kw_verifier *v = kw_verifier_find(json_string_value(json_object_get(claims, "tee")));
	int r;

	if (ttl == 0 || ttl > KW_TOKEN_TTL_MAX || v == NULL)
		return KW_ERR_INVALID_ARG;
	if ((r = kw_jwk_thumbprint(tee_sigkey, jkt)) != 0 || (r = akpub_b64(tee_pubkey, &akpub)) != 0)
		goto out;
	if (RAND_bytes(jti_raw, sizeof(jti_raw)) != 1) {
		r = KW_ERR_CRYPTO;
		goto out;
	}
	if ((r = kw_b64url_encode(jti_raw, sizeof(jti_raw), &jti)) != 0)
		goto out;
	r = KW_ERR_NOMEM;
	/* instance identity: the evidence verified under a key that chains to a
	 * trusted root (SNP: VCEK/VLEK; TDX: attestation key certified by the
	 * PCK); hardware: hardware_tier; configuration: a debug guest is unsafe (32) */
	tv = json_pack("{s:i, s:i, s:i}", "instance-identity", 2, "hardware",
	    hardware_tier(v, claims), "configuration",
	    json_is_true(json_object_get(claims, "debug")) ? 32 : 0);
	if (tv == NULL || (kc = pick_claims(v, claims)) == NULL)
		goto out;
	hdr = json_pack("{s:s, s:s, s:s}", "alg", "ES256", "typ", "JWT", "kid", kid);
	pl = json_pack("{s:s, s:s, s:I, s:I, s:s, s:{s:s, s:s}, s:{s:s}, s:{s:{s:s, s:O, s:s, s:{s:s}, s:O}}}",
	    "eat_profile", KW_EAR_PROFILE, "iss", issuer, "iat", (json_int_t)now, "exp",
	    (json_int_t)(now + ttl), "jti", jti,
	    "ear.verifier-id", "developer", "keywarden", "build", "keywarden " KW_VERSION,
	    "cnf", "jkt", jkt,
	    "submods", "cpu0", "ear.status", ear_status(tv), "ear.trustworthiness-vector", tv,
	    "ear.appraisal-policy-id", v->appraisal_policy_id, "ear.veraison.key-attestation", "akpub",
	    akpub, "kw.claims", kc);
	if (hdr == NULL || pl == NULL)
		goto out;
	*ret_header = hdr;
	*ret_payload = pl;
	hdr = pl = NULL;    /* transferred */
	r = 0;
out:
	json_decref(hdr);
	json_decref(pl);
	json_decref(tv);
	json_decref(kc);
	free(akpub);
	free(jti);
	return r;
}

int
kw_token_verify(const struct kw_token_keys *ks, const char *token, size_t len,
    const char *issuer, int64_t now, unsigned int ttl, json_t **ret_payload, const char **why)
{
	static const char *const hdr_allowed[] = {"typ", "kid", NULL};
	struct kw_jws *j = NULL;
	const json_t *pl, *v, *sub;
	const char *kid, *typ;
	json_int_t iat, exp;
	EVP_PKEY *pk = NULL;
	int r;

	*why = "malformed token";
	if ((r = kw_jws_parse(token, len, KW_JWS_MAX, &j)) != 0)
		goto out;
	*why = "token header not allowed (alg must be ES256; only typ and kid)";
	if ((r = kw_jws_check_header(j, "ES256", hdr_allowed)) != 0)
		goto out;
	typ = json_string_value(json_object_get(j->header, "typ"));
	kid = json_string_value(json_object_get(j->header, "kid"));
	r = KW_ERR_INVALID_FORMAT;
	if ((json_object_get(j->header, "typ") != NULL && (typ == NULL || strcmp(typ, "JWT") != 0)) ||
	    kid == NULL)
		goto out;
	*why = "token signed by a key that is not published";
	r = KW_ERR_NOT_FOUND;
	for (size_t i = 0; ks != NULL && i < ks->n; i++)
		if (strcmp(ks->k[i].kid, kid) == 0 && kw_token_key_published(ks, i, now, ttl))
			pk = ks->k[i].pub;
	if (pk == NULL)
		goto out;
	*why = "token signature invalid";
	if ((r = kw_jws_verify_es256(j, pk)) != 0)
		goto out;
	pl = j->payload;
	*why = "token claims invalid";
	r = KW_ERR_INVALID_FORMAT;
	if (!json_is_integer(json_object_get(pl, "iat")) ||
	    !json_is_integer(json_object_get(pl, "exp")))
		goto out;
	iat = json_integer_value(json_object_get(pl, "iat"));
	exp = json_integer_value(json_object_get(pl, "exp"));
	v = json_object_get(pl, "cnf");
	sub = json_object_get(json_object_get(pl, "submods"), "cpu0");
	if (!json_is_string(json_object_get(v, "jkt")) || !json_is_object(sub) ||
	    exp <= iat || exp - iat > KW_TOKEN_TTL_MAX)
		goto out;
	*why = "token from another issuer or profile";
	r = KW_ERR_MISMATCH;
	if (!json_is_string(json_object_get(pl, "iss")) ||
	    strcmp(json_string_value(json_object_get(pl, "iss")), issuer) != 0 ||
	    !json_is_string(json_object_get(pl, "eat_profile")) ||
	    strcmp(json_string_value(json_object_get(pl, "eat_profile")), KW_EAR_PROFILE) != 0)
		goto out;
	*why = "token expired or not yet valid";
	r = KW_ERR_EXPIRED;
	if (exp <= now || iat > now + KW_TOKEN_SKEW)
		goto out;
	*ret_payload = json_incref(j->payload);
	*why = NULL;
	r = 0;
out:
	kw_jws_free(j);
	return r;
}

int
kw_token_view(const json_t *payload, struct kw_token_view *ret)
{
	const json_t *sub = json_object_get(json_object_get(payload, "submods"), "cpu0");
	const json_t *kc = json_object_get(sub, "kw.claims");
	const char *akpub = json_string_value(json_object_get(
	    json_object_get(sub, "ear.veraison.key-attestation"), "akpub"));
	const char *m = json_string_value(json_object_get(kc, "measurement"));
	struct kw_token_view v;
	uint8_t *der = NULL;
	size_t derlen;
	int r;

	memset(&v, 0, sizeof(v));
	v.jkt = json_string_value(json_object_get(json_object_get(payload, "cnf"), "jkt"));
	v.claims = kc;
	/* measurement: SNP's; other TEEs name theirs differently (TDX: mrtd) */
	if (v.jkt == NULL || !json_is_object(kc) || akpub == NULL ||
	    (m != NULL && kw_hex_decode(m, v.measurement, sizeof(v.measurement)) != 0))
		return KW_ERR_INVALID_FORMAT;
	v.debug = json_is_true(json_object_get(kc, "debug"));
	if ((r = kw_b64url_decode_alloc(akpub, strlen(akpub), 16384, &der, &derlen)) != 0)
		return KW_ERR_INVALID_FORMAT;
	/* the TEE's RSA key: its n and e for the HSM, its thumbprint for the JWE kid */
	r = kw_rsa_spki_decode(der, derlen, &v.tee_n, &v.tee_nlen, &v.tee_e, &v.tee_elen);
	free(der);
	if (r != 0 || (r = kw_jwk_rsa_thumbprint(v.tee_n, v.tee_nlen, v.tee_e, v.tee_elen, v.tee_kid)) != 0) {
		kw_token_view_clear(&v);
		return r == KW_ERR_NOMEM ? r : KW_ERR_INVALID_FORMAT;
	}
	*ret = v;
	return 0;
}

void
kw_token_view_clear(struct kw_token_view *v)
{
	if (v == NULL)
		return;
	free(v->tee_n);
	free(v->tee_e);
	v->tee_n = v->tee_e = NULL;
	v->tee_nlen = v->tee_elen = 0;
}
