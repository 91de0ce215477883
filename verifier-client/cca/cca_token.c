/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Arm CCA attestation token verification (cca.h, docs/verifier-cca.md):
 * the tag 399 collection, two COSE_Sign1 (ES384), the CPAK → platform
 * token → RAK → realm token chain, claims.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cbor.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "cca.h"
#include "cca_int.h"
#include "kw_b64url.h"
#include "kw_jose.h"
#include "kw_json.h"
#include "kw_jwk.h"
#include "kw_util.h"

#define COSE_TAG_SIGN1 18
#define COSE_TAG_SIGN1_BYTE 0xd2           /* major type 6, value 18 */
#define COSE_HDR_ALG 1
#define COSE_ALG_ES384 (-35)
#define ES384_SIG_LEN 96
#define P384_POINT_LEN 97              /* 0x04 ‖ x ‖ y */
#define P384_COORD_LEN 48
#define P384_RAK_MAX 256               /* claim 44237's bytes, either encoding */
#define CBOR_TYPE_MAP_MAJOR 5           /* a map's first byte: major type 5 */
/* COSE_Key labels and values (RFC 9052 §7.1, RFC 9053 §7.1.1 and §7.2) */
#define COSE_KEY_KTY 1
#define COSE_KEY_KID 2
#define COSE_KEY_ALG 3
#define COSE_KEY_OPS 4
#define COSE_KEY_OP_VERIFY 2
#define COSE_EC2_CRV (-1)
#define COSE_EC2_X (-2)
#define COSE_EC2_Y (-3)
#define COSE_EC2_D (-4)
#define COSE_KTY_EC2 2
#define COSE_CRV_P384 2
#define MAX_COSE_KEY_LABELS 8
#define MAX_PROTECTED 64
#define MAX_UNPROTECTED 8
#define MAX_TEXT 256
#define MAX_PLATFORM_CONFIG 1024
#define MAX_MEASUREMENT 64
#define MAX_SIGNER_ID 64
#define REM_COUNT 4

/* platform claims (draft-ffm-rats-cca-token) */
#define P_PROFILE 265
#define P_CHALLENGE 10
#define P_IMPL_ID 2396
#define P_INSTANCE_ID 256
#define P_CONFIG 2401
#define P_LIFECYCLE 2395
#define P_SW_COMPONENTS 2399
#define P_VERIFICATION_SERVICE 2400
#define P_HASH_ALG 2402
/* software component members */
#define SW_TYPE 1
#define SW_MEASUREMENT 2
#define SW_VERSION 4
#define SW_SIGNER_ID 5
#define SW_HASH_ALG 6
/* realm claims (RMM specification) */
#define R_PROFILE 265
#define R_CHALLENGE 10
#define R_PERSONALIZATION 44235
#define R_HASH_ALG 44236
#define R_RAK 44237
#define R_RIM 44238
#define R_REMS 44239
#define R_RAK_HASH_ALG 44240

static const char *const platform_profiles[] = {"http://arm.com/CCA-SSD/1.0.0",
	"tag:arm.com,2023:cca_platform#1.0.0", NULL};
static const char realm_profile[] = "tag:arm.com,2023:realm#1.0.0";

struct cca_cpak {
	EVP_PKEY *pk;
	int is_test;
	char jkt[KW_B64URL_SHA256_SIZE];    /* RFC 7638 thumbprint: names the anchor in claims */
};

struct cca_trust {
	struct cca_cpak cpaks[CCA_MAX_CPAKS];
	size_t n;
};

int
cca_trust_new(struct cca_trust **ret)
{
	struct cca_trust *t;

	if (ret == NULL)
		return KW_ERR_INVALID_ARG;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return KW_ERR_NOMEM;
	*ret = t;
	return 0;
}

void
cca_trust_free(struct cca_trust *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->n; i++)
		EVP_PKEY_free(t->cpaks[i].pk);
	free(t);
}

size_t
cca_trust_count(const struct cca_trust *t)
{
	return t != NULL ? t->n : 0;
}

int
cca_trust_add_cpak_jwk(struct cca_trust *t, const json_t *jwk, int is_test)
{
	static const char *const members[] = {"kty", "crv", "x", "y", "kid", "alg", "use", NULL};
	char jkt[KW_B64URL_SHA256_SIZE];
	EVP_PKEY *pk = NULL;
	int r;

	if (t == NULL || jwk == NULL)
		return KW_ERR_INVALID_ARG;
	if (!json_is_object(jwk) || kw_json_check_keys(jwk, members) != 0 ||
	    !json_is_string(json_object_get(jwk, "crv")) ||
	    strcmp(json_string_value(json_object_get(jwk, "crv")), "P-384") != 0)
		return KW_ERR_INVALID_FORMAT;
	{
		/* the thumbprint and the import look at the RFC 7638 members only */
		json_t *pub = json_pack("{s:O, s:O, s:O, s:O}", "kty", json_object_get(jwk, "kty"), "crv",
		    json_object_get(jwk, "crv"), "x", json_object_get(jwk, "x"), "y", json_object_get(jwk, "y"));

		if (pub == NULL)
			return KW_ERR_INVALID_FORMAT;
		r = kw_jwk_thumbprint(pub, jkt);
		if (r == 0)
			r = kw_jwk_import_public(pub, &pk);
		json_decref(pub);
	}
	if (r != 0)
		return r == KW_ERR_NOMEM ? r : KW_ERR_INVALID_FORMAT;
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->cpaks[i].jkt, jkt) == 0) {
			EVP_PKEY_free(pk);
			return KW_ERR_EXISTS;
		}
	if (t->n == CCA_MAX_CPAKS) {
		EVP_PKEY_free(pk);
		return KW_ERR_TOO_LARGE;
	}
	t->cpaks[t->n].pk = pk;   /* taken */
	t->cpaks[t->n].is_test = is_test != 0;
	memcpy(t->cpaks[t->n].jkt, jkt, sizeof(jkt));
	t->n++;
	return 0;
}

int
cca_trust_add_cpak_file(struct cca_trust *t, const char *path, int is_test)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	json_t *jwk = NULL;
	int r;

	if (t == NULL || path == NULL)
		return KW_ERR_INVALID_ARG;
	if ((r = kw_file_read(path, CCA_MAX_JWK_FILE, &buf, &len)) != 0)
		return r;
	if ((r = kw_json_parse(buf, len, CCA_MAX_JWK_FILE, &jwk)) == 0)
		r = cca_trust_add_cpak_jwk(t, jwk, is_test);
	json_decref(jwk);
	free(buf);
	return r;
}

const char *
cca_lifecycle_name(int64_t lc)
{
	static const char *const names[] = {"unknown", "assembly-and-test", "cca-platform-rot-provisioning",
		"secured", "non-cca-platform-rot-debug", "recoverable-cca-platform-rot-debug",
		"decommissioned"};
	int64_t major = lc >> 12;

	if (lc < 0 || lc > 0x60ff || (lc & 0x0f00) != 0 || (major == 0 && lc > 0xff))
		return NULL;
	return names[major];
}

/* ---- hashes ---- */

static const EVP_MD *
hash_md(const char *name, size_t *ret_len)
{
	if (strcmp(name, "sha-256") == 0) {
		*ret_len = 32;
		return EVP_sha256();
	}
	if (strcmp(name, "sha-384") == 0) {
		*ret_len = 48;
		return EVP_sha384();
	}
	if (strcmp(name, "sha-512") == 0) {
		*ret_len = 64;
		return EVP_sha512();
	}
	return NULL;
}

/* ---- COSE_Sign1 ---- */

struct cose1 {
	cbor_item_t *root;                /* the loaded COSE_Sign1 (owned) */
	cbor_item_t *claims;              /* the loaded payload (owned), a checked map */
	const uint8_t *prot, *payload, *sig;   /* views into root */
	size_t prot_len, payload_len, sig_len;
};

static void
cose1_clear(struct cose1 *c)
{
	if (c->root != NULL)
		cbor_decref(&c->root);
	if (c->claims != NULL)
		cbor_decref(&c->claims);
	memset(c, 0, sizeof(*c));
}

/* The protected header must be exactly {1: -35}. */
static int
check_protected(const uint8_t *p, size_t len, const char **why)
{
	cbor_item_t *h = NULL;
	int64_t alg = 0;
	int r;

	*why = "COSE_Sign1 protected header is not a CBOR map";
	if ((r = cca_cbor_load(p, len, &h)) != 0 || (r = cca_map_check(h, MAX_UNPROTECTED)) != 0)
		goto out;
	*why = "COSE_Sign1 protected header must be {1: -35} (ES384)";
	if (cbor_map_size(h) != 1 || cca_int(cca_map_get(h, COSE_HDR_ALG), &alg) != 0) {
		r = KW_ERR_INVALID_FORMAT;
		goto out;
	}
	if (alg != COSE_ALG_ES384) {
		r = KW_ERR_UNSUPPORTED;
		goto out;
	}
	r = 0;
out:
	if (h != NULL)
		cbor_decref(&h);
	return r == KW_ERR_TOO_LARGE ? KW_ERR_INVALID_FORMAT : r;
}

/* A COSE_Sign1 (tag 18 optional) whose payload is a claims map of at most max_claims pairs. */
static int
cose1_parse(const uint8_t *buf, size_t len, size_t max_claims, struct cose1 *ret, const char **why)
{
	struct cose1 c;
	const cbor_item_t *a;
	cbor_item_t **it;
	int r;

	memset(&c, 0, sizeof(c));
	/*
	 * libcbor 0.8 (Debian 12) refuses the one-byte tags 6..20 as
	 * "unassigned", COSE_Sign1's tag 18 (0xd2) among them: that one byte is
	 * taken off here; the two-byte form (0xd8 0x12) reaches libcbor.
	 */
	if (len > 0 && buf[0] == COSE_TAG_SIGN1_BYTE) {
		buf++;
		len--;
	}
	*why = "token is not well-formed definite-length CBOR";
	if ((r = cca_cbor_load(buf, len, &c.root)) != 0)
		goto out;
	a = c.root;
	if (cbor_isa_tag(a)) {
		cbor_item_t *inner;

		*why = "token is tagged but not COSE_Sign1 (tag 18)";
		if (cbor_tag_value(a) != COSE_TAG_SIGN1) {
			r = KW_ERR_INVALID_FORMAT;
			goto out;
		}
		inner = cbor_tag_item(a);   /* a new reference; root keeps the item alive */
		a = inner;
		cbor_decref(&inner);
	}
	*why = "COSE_Sign1 must be an array [protected, unprotected, payload, signature]";
	if (!cbor_isa_array(a) || !cbor_array_is_definite(a) || cbor_array_size(a) != 4) {
		r = KW_ERR_INVALID_FORMAT;
		goto out;
	}
	it = cbor_array_handle(a);
	if ((r = cca_bstr(it[0], 1, MAX_PROTECTED, &c.prot, &c.prot_len)) != 0 ||
	    (r = cca_map_check(it[1], MAX_UNPROTECTED)) != 0 ||
	    (r = cca_bstr(it[2], 1, CCA_MAX_TOKEN, &c.payload, &c.payload_len)) != 0) {
		r = KW_ERR_INVALID_FORMAT;
		goto out;
	}
	*why = "COSE_Sign1 signature must be 96 bytes (ES384 r ‖ s)";
	if ((r = cca_bstr(it[3], ES384_SIG_LEN, ES384_SIG_LEN, &c.sig, &c.sig_len)) != 0)
		goto out;
	if ((r = check_protected(c.prot, c.prot_len, why)) != 0)
		goto out;
	*why = "token payload is not a claims map (definite, unique keys)";
	if ((r = cca_cbor_load(c.payload, c.payload_len, &c.claims)) != 0)
		goto out;
	if ((r = cca_map_check(c.claims, max_claims)) != 0) {
		r = KW_ERR_INVALID_FORMAT;
		goto out;
	}
	*ret = c;
	memset(&c, 0, sizeof(c));   /* transferred */
out:
	cose1_clear(&c);
	return r;
}

/* ES384 over the Sig_structure of c with pk: 0, KW_ERR_SIG_INVALID, KW_ERR_NOMEM, KW_ERR_CRYPTO. */
static int
cose1_verify(const struct cose1 *c, EVP_PKEY *pk)
{
	uint8_t *tbs = NULL, *der = NULL;
	size_t tbs_len = 0, der_len = 0;
	EVP_MD_CTX *md = NULL;
	int r;

	if ((r = cca_sig_structure(c->prot, c->prot_len, c->payload, c->payload_len, &tbs, &tbs_len)) != 0)
		goto out;
	if ((r = kw_ecdsa_raw_to_der(c->sig, c->sig_len, &der, &der_len)) != 0) {
		r = r == KW_ERR_NOMEM ? r : KW_ERR_SIG_INVALID;
		goto out;
	}
	r = KW_ERR_CRYPTO;
	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestVerifyInit_ex(md, NULL, "SHA384", NULL, NULL, pk, NULL) != 1)
		goto out;
	r = EVP_DigestVerify(md, der, der_len, tbs, tbs_len) == 1 ? 0 : KW_ERR_SIG_INVALID;
out:
	EVP_MD_CTX_free(md);
	free(der);
	free(tbs);
	return r;
}

/* A P-384 public key from an uncompressed point: KW_ERR_INVALID_FORMAT when not on the curve. */
static int
p384_point_key(const uint8_t *p, size_t len, EVP_PKEY **ret)
{
	OSSL_PARAM_BLD *b = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pk = NULL;
	int r = KW_ERR_CRYPTO;

	if ((b = OSSL_PARAM_BLD_new()) == NULL ||
	    OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME, "P-384", 0) != 1 ||
	    OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, p, len) != 1 ||
	    (params = OSSL_PARAM_BLD_to_param(b)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1)
		goto out;
	if (EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1) {
		r = KW_ERR_INVALID_FORMAT;   /* not a point on P-384 */
		goto out;
	}
	*ret = pk;
	pk = NULL;   /* transferred */
	r = 0;
out:
	EVP_PKEY_free(pk);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(b);
	return r;
}

/*
 * The RAK as a COSE_Key (RFC 9052 §7, RFC 9053 §7.1.1): the claim's bytes
 * are one CBOR map {1: 2 (EC2), -1: 2 (P-384), -2: x, -3: y} with x and y
 * 48-byte byte strings; kid (2, a byte string), alg (3, -35 ES384 when
 * present) and key_ops (4, an array holding verify, 2) may be there too;
 * anything else (a private d, -4; a compressed y; labels this verifier does
 * not know) is refused. Into the 97-byte uncompressed point.
 */
static int
rak_cose_key(const uint8_t *p, size_t len, uint8_t point[static P384_POINT_LEN], const char **why)
{
	static const int64_t known[] = {COSE_KEY_KTY, COSE_KEY_KID, COSE_KEY_ALG, COSE_KEY_OPS, COSE_EC2_CRV,
		COSE_EC2_X, COSE_EC2_Y};
	cbor_item_t *k = NULL;
	const cbor_item_t *v;
	const uint8_t *x, *y, *kid;
	size_t xn, yn, kidn;
	int64_t n = 0;
	int r;

	*why = "realm public key (44237) COSE_Key is not one well-formed CBOR item";
	if ((r = cca_cbor_load(p, len, &k)) != 0)
		goto out;
	*why = "realm public key (44237) COSE_Key must be a map with unique integer labels";
	if ((r = cca_map_check(k, MAX_COSE_KEY_LABELS)) != 0) {
		r = KW_ERR_INVALID_FORMAT;
		goto out;
	}
	r = KW_ERR_INVALID_FORMAT;
	*why = "realm public key (44237) COSE_Key must not carry a private key (-4)";
	if (cca_map_get(k, COSE_EC2_D) != NULL)
		goto out;
	*why = "realm public key (44237) COSE_Key has a label other than 1, 2, 3, 4, -1, -2, -3";
	if (cca_map_only(k, known, sizeof(known) / sizeof(known[0])) != 0)
		goto out;
	*why = "realm public key (44237) COSE_Key kty (1) must be 2 (EC2)";
	if (cca_int(cca_map_get(k, COSE_KEY_KTY), &n) != 0)
		goto out;
	if (n != COSE_KTY_EC2) {
		r = KW_ERR_UNSUPPORTED;
		goto out;
	}
	*why = "realm public key (44237) COSE_Key crv (-1) must be 2 (P-384)";
	if (cca_int(cca_map_get(k, COSE_EC2_CRV), &n) != 0)
		goto out;
	if (n != COSE_CRV_P384) {
		r = KW_ERR_UNSUPPORTED;
		goto out;
	}
	if ((v = cca_map_get(k, COSE_KEY_ALG)) != NULL) {
		*why = "realm public key (44237) COSE_Key alg (3) must be -35 (ES384) when present";
		if (cca_int(v, &n) != 0)
			goto out;
		if (n != COSE_ALG_ES384) {
			r = KW_ERR_UNSUPPORTED;
			goto out;
		}
	}
	*why = "realm public key (44237) COSE_Key kid (2) must be a byte string";
	if ((v = cca_map_get(k, COSE_KEY_KID)) != NULL && cca_bstr(v, 0, P384_RAK_MAX, &kid, &kidn) != 0)
		goto out;
	if ((v = cca_map_get(k, COSE_KEY_OPS)) != NULL) {
		int verify = 0;

		*why = "realm public key (44237) COSE_Key key_ops (4) must be an array of integers with verify (2)";
		if (!cbor_isa_array(v) || !cbor_array_is_definite(v) || cbor_array_size(v) > MAX_COSE_KEY_LABELS)
			goto out;
		for (size_t i = 0; i < cbor_array_size(v); i++) {
			if (cca_int(cbor_array_handle(v)[i], &n) != 0)
				goto out;
			verify |= n == COSE_KEY_OP_VERIFY;
		}
		if (!verify)
			goto out;
	}
	*why = "realm public key (44237) COSE_Key x (-2) and y (-3) must be 48-byte byte strings";
	if (cca_bstr(cca_map_get(k, COSE_EC2_X), P384_COORD_LEN, P384_COORD_LEN, &x, &xn) != 0 ||
	    cca_bstr(cca_map_get(k, COSE_EC2_Y), P384_COORD_LEN, P384_COORD_LEN, &y, &yn) != 0)
		goto out;
	point[0] = 0x04;
	memcpy(point + 1, x, P384_COORD_LEN);
	memcpy(point + 1 + P384_COORD_LEN, y, P384_COORD_LEN);
	r = 0;
out:
	if (k != NULL)
		cbor_decref(&k);
	return r;
}

/*
 * The RAK of claim 44237 in either encoding: the uncompressed P-384 point
 * (97 bytes starting 0x04, the example token's) or a CBOR-encoded COSE_Key
 * (a map: its first byte is 0xa0..0xbf, never 0x04, so the two cannot be
 * confused). The key must be on P-384.
 */
static int
rak_key(const uint8_t *p, size_t len, EVP_PKEY **ret, const char **why)
{
	uint8_t point[P384_POINT_LEN];
	int r;

	if (len == P384_POINT_LEN && p[0] == 0x04) {
		*why = "realm public key (44237) is not a point on P-384";
		return p384_point_key(p, len, ret);
	}
	if (len == 0 || (p[0] >> 5) != CBOR_TYPE_MAP_MAJOR) {
		*why = "realm public key (44237) must be an uncompressed P-384 point or a COSE_Key";
		return KW_ERR_UNSUPPORTED;
	}
	if ((r = rak_cose_key(p, len, point, why)) != 0)
		return r;
	*why = "realm public key (44237) COSE_Key is not a point on P-384";
	return p384_point_key(point, sizeof(point), ret);
}

/* ---- claims ---- */

/* obj[key] = hex(p, n); KW_ERR_NOMEM. */
static int
set_hex(json_t *obj, const char *key, const uint8_t *p, size_t n)
{
	char *hex = NULL;
	int r;

	if (n == 0) {
		hex = strdup("");
		r = hex != NULL ? 0 : KW_ERR_NOMEM;
	} else {
		r = kw_hex_encode(p, n, &hex);
	}
	if (r != 0)
		return r;
	r = json_object_set_new(obj, key, json_string(hex)) == 0 ? 0 : KW_ERR_NOMEM;
	free(hex);
	return r;
}

static int
set_str(json_t *obj, const char *key, const char *s)
{
	return json_object_set_new(obj, key, json_string(s)) == 0 ? 0 : KW_ERR_NOMEM;
}

/* A hash algorithm claim: a name the verifier knows. */
static int
claim_hash(const cbor_item_t *m, int64_t key, char out[static 16], size_t *ret_len, const char **why,
    const char *what)
{
	*why = what;
	if (cca_tstr(cca_map_get(m, key), 15, out, 16) != 0)
		return KW_ERR_INVALID_FORMAT;
	if (hash_md(out, ret_len) == NULL)
		return KW_ERR_UNSUPPORTED;
	return 0;
}

struct realm {
	char hash_alg[16], rak_hash_alg[16];
	size_t hash_len, rak_hash_len;
	const uint8_t *challenge, *rak;
	size_t rak_len;
};

static int
realm_claims(const cbor_item_t *m, json_t *claims, struct realm *ret, const char **why)
{
	static const int64_t known[] = {R_PROFILE, R_CHALLENGE, R_PERSONALIZATION, R_HASH_ALG, R_RAK, R_RIM,
		R_REMS, R_RAK_HASH_ALG};
	struct realm rl;
	const cbor_item_t *rems;
	const uint8_t *p;
	size_t n;
	char buf[MAX_TEXT + 1];
	int r;

	memset(&rl, 0, sizeof(rl));
	*why = "realm token has an unknown claim";
	if ((r = cca_map_only(m, known, sizeof(known) / sizeof(known[0]))) != 0)
		return r;
	if (cca_map_get(m, R_PROFILE) != NULL) {
		*why = "realm profile (265) is not tag:arm.com,2023:realm#1.0.0";
		if (cca_tstr(cca_map_get(m, R_PROFILE), MAX_TEXT, buf, sizeof(buf)) != 0)
			return KW_ERR_INVALID_FORMAT;
		if (strcmp(buf, realm_profile) != 0)
			return KW_ERR_UNSUPPORTED;
		if ((r = set_str(claims, "realm_profile", buf)) != 0)
			return r;
	}
	if ((r = claim_hash(m, R_HASH_ALG, rl.hash_alg, &rl.hash_len, why,
	    "realm hash algorithm (44236) must be sha-256, sha-384 or sha-512")) != 0 ||
	    (r = claim_hash(m, R_RAK_HASH_ALG, rl.rak_hash_alg, &rl.rak_hash_len, why,
	    "RAK hash algorithm (44240) must be sha-256, sha-384 or sha-512")) != 0)
		return r;
	*why = "realm challenge (10) must be 64 bytes";
	if (cca_bstr(cca_map_get(m, R_CHALLENGE), CCA_CHALLENGE_LEN, CCA_CHALLENGE_LEN, &rl.challenge, &n) != 0)
		return KW_ERR_INVALID_FORMAT;
	*why = "realm public key (44237) must be a byte string";
	if (cca_bstr(cca_map_get(m, R_RAK), 1, P384_RAK_MAX, &rl.rak, &rl.rak_len) != 0)
		return KW_ERR_INVALID_FORMAT;
	*why = "realm personalization value (44235) must be 64 bytes";
	if (cca_bstr(cca_map_get(m, R_PERSONALIZATION), 64, 64, &p, &n) != 0)
		return KW_ERR_INVALID_FORMAT;
	if ((r = set_hex(claims, "personalization", p, n)) != 0)
		return r;
	*why = "realm initial measurement (44238) must be a digest of the realm hash algorithm";
	if (cca_bstr(cca_map_get(m, R_RIM), rl.hash_len, rl.hash_len, &p, &n) != 0)
		return KW_ERR_INVALID_FORMAT;
	if ((r = set_hex(claims, "rim", p, n)) != 0)
		return r;
	*why = "realm extensible measurements (44239) must be 4 digests of the realm hash algorithm";
	rems = cca_map_get(m, R_REMS);
	if (rems == NULL || !cbor_isa_array(rems) || !cbor_array_is_definite(rems) ||
	    cbor_array_size(rems) != REM_COUNT)
		return KW_ERR_INVALID_FORMAT;
	for (size_t i = 0; i < REM_COUNT; i++) {
		char key[8];

		if (cca_bstr(cbor_array_handle(rems)[i], rl.hash_len, rl.hash_len, &p, &n) != 0)
			return KW_ERR_INVALID_FORMAT;
		snprintf(key, sizeof(key), "rem%zu", i);
		if ((r = set_hex(claims, key, p, n)) != 0)
			return r;
	}
	if ((r = set_str(claims, "realm_hash_alg", rl.hash_alg)) != 0 ||
	    (r = set_str(claims, "rak_hash_alg", rl.rak_hash_alg)) != 0 ||
	    (r = set_hex(claims, "rak", rl.rak, rl.rak_len)) != 0 ||
	    (r = set_hex(claims, "report_data", rl.challenge, CCA_CHALLENGE_LEN)) != 0)
		return r;
	*ret = rl;
	return 0;
}

static int
sw_component(const cbor_item_t *c, json_t **ret, const char **why)
{
	static const int64_t known[] = {SW_TYPE, SW_MEASUREMENT, SW_VERSION, SW_SIGNER_ID, SW_HASH_ALG};
	static const struct { int64_t key; const char *name; } texts[] = {
		{SW_TYPE, "type"}, {SW_VERSION, "version"}, {SW_HASH_ALG, "hash_alg"}};
	json_t *o = NULL;
	const uint8_t *p;
	size_t n;
	char buf[MAX_TEXT + 1];
	int r;

	*why = "software component must be a map of known members (1, 2, 4, 5, 6) with a measurement "
	    "and a signer id";
	if (cca_map_check(c, 5) != 0 || cca_map_only(c, known, 5) != 0)
		return KW_ERR_INVALID_FORMAT;
	if ((o = json_object()) == NULL)
		return KW_ERR_NOMEM;
	r = KW_ERR_INVALID_FORMAT;
	if (cca_bstr(cca_map_get(c, SW_MEASUREMENT), 1, MAX_MEASUREMENT, &p, &n) != 0)
		goto out;
	if ((r = set_hex(o, "measurement", p, n)) != 0)
		goto out;
	r = KW_ERR_INVALID_FORMAT;
	if (cca_bstr(cca_map_get(c, SW_SIGNER_ID), 1, MAX_SIGNER_ID, &p, &n) != 0)
		goto out;
	if ((r = set_hex(o, "signer_id", p, n)) != 0)
		goto out;
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		const cbor_item_t *v = cca_map_get(c, texts[i].key);

		if (v == NULL)
			continue;
		r = KW_ERR_INVALID_FORMAT;
		if (cca_tstr(v, MAX_TEXT, buf, sizeof(buf)) != 0)
			goto out;
		if ((r = set_str(o, texts[i].name, buf)) != 0)
			goto out;
	}
	*ret = o;
	o = NULL;   /* transferred */
	r = 0;
out:
	json_decref(o);
	return r;
}

static int
platform_claims(const cbor_item_t *m, json_t *claims, const char **why)
{
	static const int64_t known[] = {P_PROFILE, P_CHALLENGE, P_IMPL_ID, P_INSTANCE_ID, P_CONFIG, P_LIFECYCLE,
		P_SW_COMPONENTS, P_VERIFICATION_SERVICE, P_HASH_ALG};
	const cbor_item_t *sw;
	json_t *a = NULL, *c = NULL;
	const uint8_t *p;
	size_t n;
	int64_t lc = 0;
	char buf[MAX_TEXT + 1];
	const char *lcname;
	int ok = 0, r;

	*why = "platform token has an unknown claim";
	if ((r = cca_map_only(m, known, sizeof(known) / sizeof(known[0]))) != 0)
		return r;
	*why = "platform profile (265) must be http://arm.com/CCA-SSD/1.0.0 or "
	    "tag:arm.com,2023:cca_platform#1.0.0";
	if (cca_tstr(cca_map_get(m, P_PROFILE), MAX_TEXT, buf, sizeof(buf)) != 0)
		return KW_ERR_INVALID_FORMAT;
	for (size_t i = 0; platform_profiles[i] != NULL; i++)
		ok |= strcmp(buf, platform_profiles[i]) == 0;
	if (!ok)
		return KW_ERR_UNSUPPORTED;
	if ((r = set_str(claims, "platform_profile", buf)) != 0)
		return r;
	*why = "platform implementation id (2396) must be 32 bytes";
	if (cca_bstr(cca_map_get(m, P_IMPL_ID), 32, 32, &p, &n) != 0)
		return KW_ERR_INVALID_FORMAT;
	if ((r = set_hex(claims, "implementation_id", p, n)) != 0)
		return r;
	*why = "platform instance id (256) must be 33 bytes starting with 0x01";
	if (cca_bstr(cca_map_get(m, P_INSTANCE_ID), 33, 33, &p, &n) != 0 || p[0] != 0x01)
		return KW_ERR_INVALID_FORMAT;
	if ((r = set_hex(claims, "instance_id", p, n)) != 0)
		return r;
	*why = "platform config (2401) must be a byte string of at most 1 KiB";
	if (cca_bstr(cca_map_get(m, P_CONFIG), 0, MAX_PLATFORM_CONFIG, &p, &n) != 0)
		return KW_ERR_INVALID_FORMAT;
	if ((r = set_hex(claims, "platform_config", p, n)) != 0)
		return r;
	*why = "platform lifecycle (2395) must be a PSA security lifecycle value";
	if (cca_int(cca_map_get(m, P_LIFECYCLE), &lc) != 0 || (lcname = cca_lifecycle_name(lc)) == NULL)
		return KW_ERR_INVALID_FORMAT;
	if (json_object_set_new(claims, "lifecycle", json_integer((json_int_t)lc)) != 0 ||
	    (r = set_str(claims, "lifecycle_state", lcname)) != 0 ||
	    json_object_set_new(claims, "debug", json_boolean((lc >> 12) == 4 || (lc >> 12) == 5)) != 0)
		return KW_ERR_NOMEM;
	*why = "platform hash algorithm (2402) must be a text string";
	if (cca_tstr(cca_map_get(m, P_HASH_ALG), MAX_TEXT, buf, sizeof(buf)) != 0)
		return KW_ERR_INVALID_FORMAT;
	if ((r = set_str(claims, "platform_hash_alg", buf)) != 0)
		return r;
	if (cca_map_get(m, P_VERIFICATION_SERVICE) != NULL) {
		*why = "platform verification service (2400) must be a text string";
		if (cca_tstr(cca_map_get(m, P_VERIFICATION_SERVICE), MAX_TEXT, buf, sizeof(buf)) != 0)
			return KW_ERR_INVALID_FORMAT;
		if ((r = set_str(claims, "verification_service", buf)) != 0)
			return r;
	}
	*why = "platform software components (2399) must be an array of 1 to 32 maps";
	sw = cca_map_get(m, P_SW_COMPONENTS);
	if (sw == NULL || !cbor_isa_array(sw) || !cbor_array_is_definite(sw) || cbor_array_size(sw) == 0 ||
	    cbor_array_size(sw) > CCA_MAX_SW_COMPONENTS)
		return KW_ERR_INVALID_FORMAT;
	if ((a = json_array()) == NULL)
		return KW_ERR_NOMEM;
	for (size_t i = 0; i < cbor_array_size(sw); i++) {
		if ((r = sw_component(cbor_array_handle(sw)[i], &c, why)) != 0)
			goto out;
		if (json_array_append_new(a, c) != 0) {   /* steals c, also on failure */
			r = KW_ERR_NOMEM;
			goto out;
		}
	}
	r = json_object_set_new(claims, "sw_components", a) == 0 ? 0 : KW_ERR_NOMEM;
	a = NULL;   /* stolen */
out:
	json_decref(a);
	return r;
}

/* The collection: tag 399 around {44234: bstr, 44241: bstr}. Views into the loaded item. */
static int
collection_parse(const cbor_item_t *root, const uint8_t **ret_plat, size_t *ret_plat_len,
    const uint8_t **ret_realm, size_t *ret_realm_len, const char **why)
{
	static const int64_t known[] = {CCA_KEY_PLATFORM, CCA_KEY_REALM};
	cbor_item_t *m;
	int r = KW_ERR_INVALID_FORMAT;

	*why = "CCA token must be CBOR tag 399";
	if (!cbor_isa_tag(root) || cbor_tag_value(root) != CCA_TAG_COLLECTION)
		return KW_ERR_INVALID_FORMAT;
	m = cbor_tag_item(root);   /* a new reference, dropped below */
	*why = "CCA token collection must be {44234: platform token, 44241: realm token}";
	if (cca_map_check(m, 2) == 0 && cbor_map_size(m) == 2 && cca_map_only(m, known, 2) == 0 &&
	    cca_bstr(cca_map_get(m, CCA_KEY_PLATFORM), 1, CCA_MAX_TOKEN, ret_plat, ret_plat_len) == 0 &&
	    cca_bstr(cca_map_get(m, CCA_KEY_REALM), 1, CCA_MAX_TOKEN, ret_realm, ret_realm_len) == 0)
		r = 0;
	cbor_decref(&m);
	return r;
}

/* A token parsed in full, nothing authenticated yet. */
struct parsed {
	cbor_item_t *root;                  /* the collection (owned) */
	struct cose1 plat, realm;
	struct realm rl;                    /* views into realm */
	EVP_PKEY *rak;
	const uint8_t *pchal;               /* the platform challenge: a view into plat */
	size_t pchal_len;
	json_t *claims;                     /* both tokens' claims (owned) */
};

static void
parsed_clear(struct parsed *p)
{
	json_decref(p->claims);
	EVP_PKEY_free(p->rak);
	cose1_clear(&p->plat);
	cose1_clear(&p->realm);
	if (p->root != NULL)
		cbor_decref(&p->root);
	memset(p, 0, sizeof(*p));
}

/*
 * Shape and claims of both tokens (STYLE.md: parse into a plain structure,
 * then verify the signatures over the exact signed bytes, then appraise).
 */
static int
token_parse(const uint8_t *token, size_t len, struct parsed *ret, const char **why)
{
	struct parsed p;
	const uint8_t *pbuf = NULL, *rbuf = NULL;
	size_t plen = 0, rlen = 0;
	int r;

	memset(&p, 0, sizeof(p));
	*why = "CCA token is larger than 16 KiB";
	if (len > CCA_MAX_TOKEN)
		return KW_ERR_TOO_LARGE;
	*why = "CCA token is not well-formed definite-length CBOR";
	if ((r = cca_cbor_load(token, len, &p.root)) != 0)
		goto out;
	if ((r = collection_parse(p.root, &pbuf, &plen, &rbuf, &rlen, why)) != 0 ||
	    (r = cose1_parse(pbuf, plen, 16, &p.plat, why)) != 0 ||
	    (r = cose1_parse(rbuf, rlen, 16, &p.realm, why)) != 0)
		goto out;
	if ((p.claims = json_object()) == NULL) {
		r = KW_ERR_NOMEM;
		goto out;
	}
	if ((r = realm_claims(p.realm.claims, p.claims, &p.rl, why)) != 0)
		goto out;
	if ((r = rak_key(p.rl.rak, p.rl.rak_len, &p.rak, why)) != 0)
		goto out;
	*why = "platform challenge (10) must be a byte string of 32 to 64 bytes";
	if ((r = cca_bstr(cca_map_get(p.plat.claims, P_CHALLENGE), 32, 64, &p.pchal, &p.pchal_len)) != 0)
		goto out;
	if ((r = platform_claims(p.plat.claims, p.claims, why)) != 0)
		goto out;
	*ret = p;
	memset(&p, 0, sizeof(p));   /* transferred */
out:
	parsed_clear(&p);
	return r;
}

int
cca_token_check(const uint8_t *token, size_t len, const char **why)
{
	struct parsed p;
	int r;

	*why = "invalid arguments";
	if (token == NULL)
		return KW_ERR_INVALID_ARG;
	if ((r = token_parse(token, len, &p, why)) == 0)
		parsed_clear(&p);
	return r;
}

int
cca_verify(const struct cca_trust *t, const uint8_t *token, size_t len, json_t **ret_claims, const char **why)
{
	struct parsed p;
	const struct cca_cpak *cpak = NULL;
	uint8_t digest[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	size_t dlen = 0;
	int r;

	*why = "invalid arguments";
	if (t == NULL || token == NULL || ret_claims == NULL)
		return KW_ERR_INVALID_ARG;
	/* 1. shape and claims of the collection and both COSE_Sign1 */
	if ((r = token_parse(token, len, &p, why)) != 0)
		return r;
	/* 2. the platform token is signed by a configured CPAK */
	for (size_t i = 0; i < t->n && cpak == NULL; i++) {
		r = cose1_verify(&p.plat, t->cpaks[i].pk);
		if (r == 0)
			cpak = &t->cpaks[i];
		else if (r != KW_ERR_SIG_INVALID)
			goto out;
	}
	if (cpak == NULL) {
		*why = "platform token is not signed by a configured CPAK";
		r = KW_ERR_UNTRUSTED_ROOT;
		goto out;
	}
	/* 3. the realm token is signed by its RAK */
	*why = "realm token signature does not verify with its RAK";
	if ((r = cose1_verify(&p.realm, p.rak)) != 0)
		goto out;
	/* 4. the platform vouches for this RAK: its challenge is the RAK's hash */
	r = KW_ERR_CRYPTO;
	if (EVP_Digest(p.rl.rak, p.rl.rak_len, digest, &mdlen, hash_md(p.rl.rak_hash_alg, &dlen), NULL) != 1)
		goto out;
	*why = "platform challenge is not the hash of the realm's RAK";
	if (p.pchal_len != mdlen || CRYPTO_memcmp(p.pchal, digest, mdlen) != 0) {
		r = KW_ERR_MISMATCH;
		goto out;
	}
	r = KW_ERR_NOMEM;
	if (json_object_set_new(p.claims, "tee", json_string("cca")) != 0 ||
	    json_object_set_new(p.claims, "root", json_string(cpak->is_test ? "test" : "cpak")) != 0 ||
	    json_object_set_new(p.claims, "cpak", json_string(cpak->jkt)) != 0)
		goto out;
	*ret_claims = p.claims;
	p.claims = NULL;   /* transferred */
	r = 0;
out:
	parsed_clear(&p);
	return r;
}
