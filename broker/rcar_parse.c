/* SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "broker.h"
#include "kw_util.h"
#include "kw_b64url.h"
#include "kw_json.h"
#include "kw_jwk.h"

static int
hex_string(const json_t *v, size_t n)
{
	const char *s = json_string_value(v);

	if (s == NULL || json_string_length(v) != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

static int
name_list(const json_t *a, size_t max)
{
	const json_t *v;
	size_t i;

	if (!json_is_array(a) || json_array_size(a) > max)
		return 0;
	json_array_foreach(a, i, v) {
		const char *s = json_string_value(v);
		if (s == NULL || json_string_length(v) == 0 || json_string_length(v) > 64)
			return 0;
		for (size_t k = 0; s[k] != '\0'; k++)
			if (s[k] < 0x21 || s[k] > 0x7e)
				return 0;
	}
	return 1;
}

_Static_assert(KW_MANIFEST_MAX_FINGERPRINTS >= 256, "a token carries a real root store");

size_t
kw_manifest_size(const json_t *m)
{
	/* the token serializes its claims with JSON_COMPACT (kw_jws_signing_input) */
	return json_dumpb(m, NULL, 0, JSON_COMPACT);
}

size_t
kw_manifest_budget(const char *issuer)
{
	json_t *v = json_string(issuer);
	size_t n = v != NULL ? json_dumpb(v, NULL, 0, JSON_ENCODE_ANY) : SIZE_MAX;

	json_decref(v);
	if (n == 0)
		n = SIZE_MAX;    /* cannot be serialized: nothing fits */
	return n <= KW_TOKEN_ISSUER_RESERVE ? KW_MANIFEST_MAX :
	    n - KW_TOKEN_ISSUER_RESERVE >= KW_MANIFEST_MAX ? 0 :
	    KW_MANIFEST_MAX - (n - KW_TOKEN_ISSUER_RESERVE);
}

int
kw_manifest_check(const json_t *m, const char **why)
{
	static const char *const top[] = {"root-store", "tls", "crypto", NULL};
	static const char *const rs_keys[] = {"fingerprints", "digest", NULL};
	static const char *const tls_keys[] = {"min_version", "cipher_suites", "groups",
		"signature_algorithms", NULL};
	static const char *const crypto_keys[] = {"rsa_bits", "ec_bits", "symmetric_bits", NULL};
	const json_t *o, *v;
	const char *k;
	size_t i;

	*why = "runtime-data.config must be a configuration manifest (docs/claims.md)";
	if (!json_is_object(m) || kw_json_check_keys(m, top) != 0)
		return KW_ERR_INVALID_FORMAT;
	*why = "runtime-data.config is larger than a token can carry (docs/reliability.md)";
	if (kw_manifest_size(m) > KW_MANIFEST_MAX)
		return KW_ERR_TOO_LARGE;
	if ((o = json_object_get(m, "root-store")) != NULL) {
		const json_t *fps = json_object_get(o, "fingerprints");
		EVP_MD_CTX *ctx;
		uint8_t md[48];
		char hex[97];
		const char *prev = NULL;
		int good = 1;

		*why = "runtime-data.config.root-store lists more fingerprints than a token can carry";
		if (json_is_array(fps) && json_array_size(fps) > KW_MANIFEST_MAX_FINGERPRINTS)
			return KW_ERR_TOO_LARGE;
		*why = "runtime-data.config.root-store: sorted SHA-256 fingerprints and their "
		    "SHA-384 digest";
		if (kw_json_check_keys(o, rs_keys) != 0 || !json_is_array(fps) ||
		    !hex_string(json_object_get(o, "digest"), 96))
			return KW_ERR_INVALID_FORMAT;
		/* the digest must be the one of this list: recompute it */
		if ((ctx = EVP_MD_CTX_new()) == NULL || !EVP_DigestInit_ex(ctx, EVP_sha384(), NULL)) {
			EVP_MD_CTX_free(ctx);
			return KW_ERR_NOMEM;
		}
		json_array_foreach(fps, i, v) {
			if (!hex_string(v, 64) || (prev != NULL && strcmp(prev, json_string_value(v)) >= 0)) {
				good = 0;
				break;
			}
			prev = json_string_value(v);
			if (!EVP_DigestUpdate(ctx, prev, 64) || !EVP_DigestUpdate(ctx, "\n", 1))
				good = 0;
		}
		if (good && EVP_DigestFinal_ex(ctx, md, NULL)) {
			for (i = 0; i < sizeof(md); i++)
				snprintf(hex + 2 * i, 3, "%02x", md[i]);
			good = strcmp(hex, json_string_value(json_object_get(o, "digest"))) == 0;
		} else {
			good = 0;
		}
		EVP_MD_CTX_free(ctx);
		if (!good)
			return KW_ERR_INVALID_FORMAT;
	}
	if ((o = json_object_get(m, "tls")) != NULL) {
		*why = "runtime-data.config.tls: min_version and lists of names";
		if (!json_is_object(o) || kw_json_check_keys(o, tls_keys) != 0)
			return KW_ERR_INVALID_FORMAT;
		v = json_object_get(o, "min_version");
		if (v != NULL && (!json_is_string(v) || json_string_length(v) > 8))
			return KW_ERR_INVALID_FORMAT;
		for (i = 1; tls_keys[i] != NULL; i++)
			if ((v = json_object_get(o, tls_keys[i])) != NULL && !name_list(v, 512))
				return KW_ERR_INVALID_FORMAT;
	}
	if ((o = json_object_get(m, "crypto")) != NULL) {
		*why = "runtime-data.config.crypto: rsa_bits, ec_bits, symmetric_bits (integers)";
		if (!json_is_object(o) || kw_json_check_keys(o, crypto_keys) != 0)
			return KW_ERR_INVALID_FORMAT;
		json_object_foreach((json_t *)(uintptr_t)o, k, v)
			if (!json_is_integer(v) || json_integer_value(v) < 1 ||
			    json_integer_value(v) > 65536)
				return KW_ERR_INVALID_FORMAT;
	}
	return 0;
}

int
kw_parse_auth(const json_t *body, struct kw_auth_req *ret, const char **why)
{
	static const char *const keys[] = {"version", "tee", "extra-params", NULL};
	const json_t *v;

	if (!json_is_object(body) || kw_json_check_keys(body, keys) != 0) {
		*why = "unknown member in request";
		return KW_ERR_INVALID_FORMAT;
	}
	v = json_object_get(body, "version");
	if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 16 ||
	    strncmp(json_string_value(v), "0.", 2) != 0) {
		*why = "\"version\" must be a protocol version string 0.x";
		return KW_ERR_INVALID_FORMAT;
	}
	v = json_object_get(body, "tee");
	if (!json_is_string(v)) {
		*why = "\"tee\" must be a string";
		return KW_ERR_INVALID_FORMAT;
	}
	if (kw_verifier_find(json_string_value(v)) == NULL) {
		*why = kw_verifier_unsupported_reason();
		return KW_ERR_UNSUPPORTED;
	}
	v = json_object_get(body, "extra-params");
	if (v != NULL && !json_is_object(v) && !json_is_string(v)) {
		*why = "\"extra-params\" must be an object or a string";
		return KW_ERR_INVALID_FORMAT;
	}
	if (json_is_object(v) && json_object_size(v) > 16) {
		*why = "\"extra-params\" too large";
		return KW_ERR_INVALID_FORMAT;
	}
	ret->tee = json_string_value(json_object_get(body, "tee"));
	ret->extra_params = json_is_object(v) ? v : NULL;
	return 0;
}

void
kw_attest_req_clear(struct kw_attest_req *a)
{
	memset(a, 0, sizeof(*a));    /* everything in it is borrowed from the body */
}

/*
 * The TEE keys of runtime-data: checked as an import would check them, but
 * no key is built here (the release and the DPoP proof build what they use).
 */
static int
check_jwk(const json_t *jwk, int want_rsa)
{
	const json_t *kty = json_object_get(jwk, "kty");
	uint8_t *n = NULL, *e = NULL;
	size_t nlen = 0, elen = 0, bits;
	int r;

	if (!json_is_object(jwk) || !json_is_string(kty))
		return KW_ERR_INVALID_FORMAT;
	if (want_rsa && strcmp(json_string_value(kty), "RSA") != 0)
		return KW_ERR_INVALID_FORMAT;
	if (!want_rsa && (strcmp(json_string_value(kty), "EC") != 0 ||
	    !json_is_string(json_object_get(jwk, "crv")) ||
	    strcmp(json_string_value(json_object_get(jwk, "crv")), "P-256") != 0))
		return KW_ERR_INVALID_FORMAT;
	if (!want_rsa)
		return kw_jwk_check_public(jwk);
	if ((r = kw_jwk_rsa_members(jwk, &n, &nlen, &e, &elen)) != 0)
		return r;
	bits = nlen * 8;    /* n is minimal: its first byte is not zero */
	for (uint8_t top = n[0]; (top & 0x80) == 0; top = (uint8_t)(top << 1))
		bits--;
	free(n);
	free(e);
	return bits < 3072 ? KW_ERR_INVALID_FORMAT : 0;    /* RSA-3072 or larger only */
}

int
kw_parse_attest(const json_t *body, struct kw_attest_req *ret, const char **why)
{
	static const char *const top[] = {"runtime-data", "tee-evidence", "gpus", NULL};
	static const char *const rd_keys[] = {"nonce", "tee-pubkey", "tee-sigkey", "config", NULL};
	struct kw_attest_req a;
	const json_t *rd, *ev, *v;
	int r;

	memset(&a, 0, sizeof(a));
	if (!json_is_object(body) || kw_json_check_keys(body, top) != 0) {
		*why = "unknown member in request";
		return KW_ERR_INVALID_FORMAT;
	}
	rd = json_object_get(body, "runtime-data");
	ev = json_object_get(body, "tee-evidence");
	if (!json_is_object(rd) || !json_is_object(ev)) {
		*why = "\"runtime-data\" and \"tee-evidence\" must be objects";
		return KW_ERR_INVALID_FORMAT;
	}
	if (kw_json_check_keys(rd, rd_keys) != 0) {
		*why = "unknown member in runtime-data";
		return KW_ERR_INVALID_FORMAT;
	}
	v = json_object_get(rd, "nonce");
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    json_string_length(v) >= KW_CHALLENGE_STR_MAX) {
		*why = "runtime-data.nonce must be the challenge string from /auth";
		return KW_ERR_INVALID_FORMAT;
	}
	a.nonce = json_string_value(v);
	a.tee_pubkey = json_object_get(rd, "tee-pubkey");
	if (check_jwk(a.tee_pubkey, 1) != 0) {
		*why = "runtime-data.tee-pubkey must be a public RSA JWK of at least 3072 bits";
		return KW_ERR_INVALID_FORMAT;
	}
	a.tee_sigkey = json_object_get(rd, "tee-sigkey");
	if (check_jwk(a.tee_sigkey, 0) != 0) {
		*why = "runtime-data.tee-sigkey must be a public EC P-256 JWK";
		return KW_ERR_INVALID_FORMAT;
	}
	v = json_object_get(rd, "config");
	if (v != NULL && (r = kw_manifest_check(v, why)) != 0)
		return r == KW_ERR_TOO_LARGE || r == KW_ERR_NOMEM ? r : KW_ERR_INVALID_FORMAT;
	a.runtime_data = rd;

	/* the evidence type is the table member whose shape tee-evidence has */
	if ((a.verifier = kw_verifier_for_evidence(ev, why)) == NULL)
		return KW_ERR_INVALID_FORMAT;
	if ((r = a.verifier->check(ev, why)) != 0)
		return r == KW_ERR_NOMEM ? r : KW_ERR_INVALID_FORMAT;
	a.evidence = ev;
	/* composite evidence: GPUs bound to the same runtime-data (docs/verifier-nvgpu.md) */
	if ((v = json_object_get(body, "gpus")) != NULL) {
		if ((r = kw_gpus_check(v, why)) != 0)
			return r == KW_ERR_NOMEM ? r : KW_ERR_INVALID_FORMAT;
		a.gpus = v;
	}
	*ret = a;
	return 0;
}

int
kw_expected_report_data(const json_t *runtime_data, uint8_t out[64])
{
	char *jcs = NULL;
	size_t len = 0;
	uint8_t md[48];
	int r;

	if ((r = kw_jcs_serialize(runtime_data, &jcs, &len)) != 0)
		return r;
	/* never a default value: a failed digest must not become an expected all-zero binding */
	r = kw_sha384(jcs, len, md);
	free(jcs);
	if (r != 0)
		return r;
	memcpy(out, md, 48);
	memset(out + 48, 0, 16);
	return 0;
}

int
kw_refset_from_store(void *arg, const char *name, json_t **ret)
{
	struct kw_refset_arg *ra = arg;
	json_t *row = NULL;
	int r;

	if ((r = kw_store_doc_get(ra->st, "refval", ra->repo, name, 0, &row)) != 0)
		return r;
	*ret = json_incref(json_object_get(row, "document"));
	json_decref(row);
	return *ret != NULL ? 0 : KW_ERR_NOT_FOUND;
}
