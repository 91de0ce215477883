/* SPDX-License-Identifier: Apache-2.0 */
/*
 * verifier-client/cca: the example token of $KW_VECTORS/cca (signed by published test keys)
 * against its expected.json with its CPAK as a test anchor and without; truncation and
 * bit-flip sweeps; CBOR shapes the pre-scan refuses (indefinite lengths, huge counts, deep
 * nesting, duplicate keys); emulated tokens (attester/att_cca_emu.c) for what the vector
 * cannot show: another CPAK, a realm token not signed by its RAK, a platform challenge that
 * is not the RAK's hash, the lifecycle, the RAK as a COSE_Key (good and refused forms), and
 * the seam member "cca" with the binding.
 */
#include <stdlib.h>
#include <string.h>

#include <cbor.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include "att_cca_emu.h"
#include "cca.h"
#include "kw_b64url.h"
#include "kw_json.h"
#include "kw_jwk.h"
#include "kw_util.h"
#include "test_helper.h"
#include "verifier.h"

static uint8_t *vec;
static size_t vec_len;
static json_t *expected, *cpak_jwk;

/* Outside any test (no CUnit asserts here): 0, or -1 with the reason on stderr. */
static int
load_json(const char *name, json_t **ret)
{
	char p[4096];
	uint8_t *b = NULL;
	size_t n = 0;
	int r;

	if ((r = kw_file_read(test_vpath(p, sizeof(p), "cca", "%s", name), 65536, &b, &n)) == 0)
		r = kw_json_parse(b, n, 65536, ret);
	free(b);
	if (r != 0)
		fprintf(stderr, "cannot load %s: %s\n", p, kw_strerror(r));
	return r == 0 ? 0 : -1;
}

static int
load_vector(void)
{
	char p[4096];

	if (kw_file_read(test_vpath(p, sizeof(p), "cca", "cca-example-token.cbor"), 65536, &vec, &vec_len) != 0) {
		fprintf(stderr, "cannot read %s\n", p);
		return -1;
	}
	return load_json("expected.json", &expected) == 0 && load_json("cpak-pub.json", &cpak_jwk) == 0 ? 0 : -1;
}

static struct cca_trust *
trust_with(const json_t *jwk, int is_test)
{
	struct cca_trust *t = NULL;

	CU_ASSERT_FATAL(cca_trust_new(&t) == 0);
	if (jwk != NULL)
		CU_ASSERT_FATAL(cca_trust_add_cpak_jwk(t, jwk, is_test) == 0);
	return t;
}

static const char *
jstr(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s != NULL ? s : "(missing)";
}

/* The example token reaches expected.json with its CPAK as a test anchor. */
static void
test_vector_expected(void)
{
	struct cca_trust *t = trust_with(cpak_jwk, 1);
	const char *why = NULL;
	json_t *c = NULL;
	uint8_t rak_hash[32];
	int r;

	r = cca_verify(t, vec, vec_len, &c, &why);
	CHECKF(r == 0, "example token: %s (%s)", kw_strerror(r), why);
	if (r == 0) {
		static const struct { const char *claim, *exp; } m[] = {
			{"platform_profile", "platform_profile"}, {"implementation_id", "platform_impl_id"},
			{"instance_id", "platform_instance_id"}, {"report_data", "realm_challenge"},
			{"rim", "realm_rim"}, {"personalization", "realm_personalization"},
			{"realm_hash_alg", "realm_hash_alg"}};
		const char *rak = jstr(c, "rak");
		uint8_t point[97];

		for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
			CHECKF(strcmp(jstr(c, m[i].claim), jstr(expected, m[i].exp)) == 0, "%s: %s, expected %s",
			    m[i].claim, jstr(c, m[i].claim), jstr(expected, m[i].exp));
		CHECKF(strcmp(jstr(c, "root"), "test") == 0, "root %s", jstr(c, "root"));
		CHECKF(strcmp(jstr(c, "tee"), "cca") == 0, "tee %s", jstr(c, "tee"));
		CHECKF(strcmp(jstr(c, "rak_hash_alg"), "sha-256") == 0, "rak_hash_alg %s", jstr(c, "rak_hash_alg"));
		/* expected.json: platform nonce == SHA-256(RAK); recompute it from the claim */
		CU_ASSERT(json_is_true(json_object_get(expected, "platform_nonce_eq_sha256_rak")));
		CU_ASSERT_FATAL(strlen(rak) == 194 && kw_hex_decode(rak, point, sizeof(point)) == 0);
		CU_ASSERT(point[0] == 0x04);
		CU_ASSERT(kw_sha256(point, sizeof(point), rak_hash) == 0);
		CU_ASSERT(json_integer_value(json_object_get(c, "lifecycle")) == 0x3003);
		CHECKF(strcmp(jstr(c, "lifecycle_state"), "secured") == 0, "lifecycle %s", jstr(c, "lifecycle_state"));
		CU_ASSERT(json_is_false(json_object_get(c, "debug")));
		CU_ASSERT(strcmp(jstr(c, "platform_hash_alg"), "sha-256") == 0);
		CU_ASSERT(json_array_size(json_object_get(c, "sw_components")) == 13);
		CHECKF(strcmp(jstr(json_array_get(json_object_get(c, "sw_components"), 0), "type"), "RSE_BL1_2") == 0,
		    "sw_components[0].type");
		CU_ASSERT(strcmp(jstr(json_array_get(json_object_get(c, "sw_components"), 0), "measurement"),
		    "9a271f2a916b0b6ee6cecb2426f0b3206ef074578be55d9bc94f6f3fe3ab86aa") == 0);
		for (size_t i = 0; i < 4; i++) {
			char k[8];

			snprintf(k, sizeof(k), "rem%zu", i);
			CHECKF(strlen(jstr(c, k)) == 128 && strspn(jstr(c, k), "0") == 128, "%s %s", k, jstr(c, k));
		}
	}
	json_decref(c);
	cca_trust_free(t);
}

/* Without its CPAK (no anchor, or another key only) the example token is refused. */
static void
test_vector_untrusted(void)
{
	struct cca_trust *t = trust_with(NULL, 0);
	EVP_PKEY *other = EVP_EC_gen("P-384");
	json_t *c = NULL, *jwk = NULL;
	const char *why = NULL;
	int r;

	r = cca_verify(t, vec, vec_len, &c, &why);
	CHECKF(r == KW_ERR_UNTRUSTED_ROOT && c == NULL, "no anchor: %s", kw_strerror(r));
	CU_ASSERT_FATAL(other != NULL && kw_jwk_export_public(other, &jwk) == 0);
	CU_ASSERT(cca_trust_add_cpak_jwk(t, jwk, 1) == 0);
	r = cca_verify(t, vec, vec_len, &c, &why);
	CHECKF(r == KW_ERR_UNTRUSTED_ROOT && c == NULL, "another CPAK: %s", kw_strerror(r));
	json_decref(jwk);
	EVP_PKEY_free(other);
	cca_trust_free(t);
}

static void
test_trust_keys(void)
{
	struct cca_trust *t = trust_with(cpak_jwk, 0);
	EVP_PKEY *p256 = EVP_EC_gen("P-256");
	json_t *jwk = NULL, *priv;
	char path[4096];

	CU_ASSERT(cca_trust_add_cpak_jwk(t, cpak_jwk, 1) == KW_ERR_EXISTS);
	CU_ASSERT(cca_trust_count(t) == 1);
	CU_ASSERT_FATAL(p256 != NULL && kw_jwk_export_public(p256, &jwk) == 0);
	CU_ASSERT(cca_trust_add_cpak_jwk(t, jwk, 0) == KW_ERR_INVALID_FORMAT);
	priv = json_deep_copy(cpak_jwk);
	CU_ASSERT_FATAL(priv != NULL);
	CU_ASSERT(json_object_set_new(priv, "d", json_string("AAAA")) == 0);
	CU_ASSERT(cca_trust_add_cpak_jwk(t, priv, 0) == KW_ERR_INVALID_FORMAT);
	snprintf(path, sizeof(path), "%s/none.json", test_tmpdir());
	CU_ASSERT(cca_trust_add_cpak_file(t, path, 0) == KW_ERR_IO);
	CU_ASSERT(cca_trust_count(t) == 1);
	/* the production anchor says "cpak" */
	{
		json_t *c = NULL;
		const char *why = NULL;

		CU_ASSERT_FATAL(cca_verify(t, vec, vec_len, &c, &why) == 0);
		CU_ASSERT(strcmp(jstr(c, "root"), "cpak") == 0);
		json_decref(c);
	}
	json_decref(priv);
	json_decref(jwk);
	EVP_PKEY_free(p256);
	cca_trust_free(t);
}

/* Every proper prefix fails cleanly; so does any one flipped bit per byte, alternating bits. */
static void
test_vector_sweeps(void)
{
	struct cca_trust *t = trust_with(cpak_jwk, 1);
	uint8_t *b = malloc(vec_len);
	size_t accepted = 0, sig_fail = 0;

	CU_ASSERT_FATAL(b != NULL);
	for (size_t n = 0; n < vec_len; n++) {
		json_t *c = NULL;
		const char *why = NULL;
		int r;

		memcpy(b, vec, n);
		r = cca_verify(t, b, n, &c, &why);
		if (r == 0 || c != NULL) {
			CHECKF(0, "prefix of %zu bytes accepted", n);
			json_decref(c);
			break;
		}
	}
	for (size_t i = 0; i < vec_len; i++) {
		json_t *c = NULL;
		const char *why = NULL;
		int r;

		memcpy(b, vec, vec_len);
		b[i] ^= (uint8_t)(1u << (i % 8));
		r = cca_verify(t, b, vec_len, &c, &why);
		if (r == 0) {
			accepted++;
			CHECKF(0, "bit %zu of byte %zu flipped: accepted", i % 8, i);
			json_decref(c);
		}
		sig_fail += r == KW_ERR_UNTRUSTED_ROOT || r == KW_ERR_SIG_INVALID;
	}
	CU_ASSERT(accepted == 0);
	/* most bytes are inside the signed payloads: their flips fail the signatures */
	CHECKF(sig_fail > vec_len / 4, "%zu of %zu flips failed a signature", sig_fail, vec_len);
	free(b);
	cca_trust_free(t);
}

/* The pre-scan: shapes libcbor would accept or allocate for, refused before the loader. */
static void
test_cbor_scan(void)
{
	static const uint8_t huge_array[] = {0x9b, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00};
	static const uint8_t huge_map[] = {0xba, 0x10, 0x00, 0x00, 0x00};
	static const uint8_t indef_array[] = {0x9f, 0x01, 0xff};
	static const uint8_t indef_bstr[] = {0x5f, 0x41, 0x00, 0xff};
	static const uint8_t indef_map[] = {0xbf, 0x01, 0x02, 0xff};
	static const uint8_t ok[] = {0x82, 0x01, 0xa1, 0x02, 0x43, 0x01, 0x02, 0x03};
	static const uint8_t trailing[] = {0x01, 0x00};
	static const uint8_t truncated[] = {0x43, 0x01, 0x02};
	uint8_t deep[32];

	CU_ASSERT(cca_cbor_scan(ok, sizeof(ok)) == 0);
	CU_ASSERT(cca_cbor_scan(huge_array, sizeof(huge_array)) == KW_ERR_INVALID_FORMAT);
	CU_ASSERT(cca_cbor_scan(huge_map, sizeof(huge_map)) == KW_ERR_INVALID_FORMAT);
	CU_ASSERT(cca_cbor_scan(indef_array, sizeof(indef_array)) == KW_ERR_INVALID_FORMAT);
	CU_ASSERT(cca_cbor_scan(indef_bstr, sizeof(indef_bstr)) == KW_ERR_INVALID_FORMAT);
	CU_ASSERT(cca_cbor_scan(indef_map, sizeof(indef_map)) == KW_ERR_INVALID_FORMAT);
	CU_ASSERT(cca_cbor_scan(trailing, sizeof(trailing)) == KW_ERR_TRAILING);
	CU_ASSERT(cca_cbor_scan(truncated, sizeof(truncated)) == KW_ERR_TRUNCATED);
	CU_ASSERT(cca_cbor_scan(ok, 0) == KW_ERR_TRUNCATED);
	memset(deep, 0x81, sizeof(deep));   /* [[[[...]]]] */
	deep[sizeof(deep) - 1] = 0x00;
	CU_ASSERT(cca_cbor_scan(deep, sizeof(deep)) == KW_ERR_INVALID_FORMAT);
	CU_ASSERT(cca_cbor_scan(deep + sizeof(deep) - CCA_MAX_DEPTH - 1, CCA_MAX_DEPTH + 1) == 0);
	CU_ASSERT(cca_lifecycle_name(0x3003) != NULL && strcmp(cca_lifecycle_name(0x3003), "secured") == 0);
	CU_ASSERT(cca_lifecycle_name(0x50ff) != NULL &&
	    strcmp(cca_lifecycle_name(0x50ff), "recoverable-cca-platform-rot-debug") == 0);
	CU_ASSERT(cca_lifecycle_name(0x0100) == NULL);
	CU_ASSERT(cca_lifecycle_name(0x3100) == NULL);
	CU_ASSERT(cca_lifecycle_name(0x7000) == NULL);
}

/* The collection with its members re-encoded: duplicate keys and indefinite maps are refused. */
static void
test_collection_shapes(void)
{
	struct cca_trust *t = trust_with(cpak_jwk, 1);
	struct cbor_load_result lr;
	cbor_item_t *root = cbor_load(vec, vec_len, &lr), *m, *dup = NULL, *tag = NULL;
	struct cbor_pair *p;
	unsigned char *out = NULL;
	size_t outsize = 0, n;
	json_t *c = NULL;
	const char *why = NULL;
	int r;

	CU_ASSERT_FATAL(root != NULL && cbor_isa_tag(root));
	m = cbor_tag_item(root);
	CU_ASSERT_FATAL(cbor_map_size(m) == 2);
	p = cbor_map_handle(m);
	/* {44234: platform, 44241: realm, 44234: platform} */
	dup = cbor_new_definite_map(3);
	tag = cbor_new_tag(399);
	CU_ASSERT_FATAL(dup != NULL && tag != NULL);
	CU_ASSERT(cbor_map_add(dup, p[0]) && cbor_map_add(dup, p[1]) && cbor_map_add(dup, p[0]));
	cbor_tag_set_item(tag, dup);
	CU_ASSERT_FATAL((n = cbor_serialize_alloc(tag, &out, &outsize)) > 0);
	r = cca_verify(t, out, n, &c, &why);
	CHECKF(r == KW_ERR_INVALID_FORMAT && c == NULL, "duplicate key: %s", kw_strerror(r));
	free(out);
	out = NULL;
	cbor_decref(&tag);
	cbor_decref(&dup);
	/* the same map, indefinite-length */
	dup = cbor_new_indefinite_map();
	tag = cbor_new_tag(399);
	CU_ASSERT_FATAL(dup != NULL && tag != NULL);
	CU_ASSERT(cbor_map_add(dup, p[0]) && cbor_map_add(dup, p[1]));
	cbor_tag_set_item(tag, dup);
	CU_ASSERT_FATAL((n = cbor_serialize_alloc(tag, &out, &outsize)) > 0);
	r = cca_verify(t, out, n, &c, &why);
	CHECKF(r == KW_ERR_INVALID_FORMAT && c == NULL, "indefinite map: %s", kw_strerror(r));
	free(out);
	cbor_decref(&tag);
	cbor_decref(&dup);
	/* untagged */
	r = cca_verify(t, vec + 3, vec_len - 3, &c, &why);
	CHECKF(r == KW_ERR_INVALID_FORMAT && c == NULL, "untagged: %s", kw_strerror(r));
	cbor_decref(&m);
	cbor_decref(&root);
	cca_trust_free(t);
}

/* ---- emulated tokens ---- */

struct emu {
	EVP_PKEY *cpak, *rak;
	json_t *jwk;
	struct cca_trust *t;
	struct att_cca_emu_opts o;
};

static void
emu_open(struct emu *e)
{
	memset(e, 0, sizeof(*e));
	CU_ASSERT_FATAL(att_cca_emu_cpak(test_tmpdir(), &e->cpak) == 0);
	CU_ASSERT_FATAL((e->rak = EVP_EC_gen("P-384")) != NULL);
	CU_ASSERT_FATAL(kw_jwk_export_public(e->cpak, &e->jwk) == 0);
	e->t = trust_with(e->jwk, 1);
	att_cca_emu_opts_default(&e->o);
	for (size_t i = 0; i < sizeof(e->o.challenge); i++)
		e->o.challenge[i] = (uint8_t)i;
}

static void
emu_close(struct emu *e)
{
	EVP_PKEY_free(e->cpak);
	EVP_PKEY_free(e->rak);
	json_decref(e->jwk);
	cca_trust_free(e->t);
}

static const char *emu_why;   /* the reason of the last emu_verify */

/* cca_verify of a token made from e (claims into *ret when not NULL). */
static int
emu_verify(struct emu *e, json_t **ret)
{
	uint8_t *tok = NULL;
	size_t len = 0;
	json_t *c = NULL;
	const char *why = NULL;
	int r;

	r = att_cca_emu_token(e->cpak, e->rak, &e->o, &tok, &len);
	CHECKF(r == 0, "emulator: %s", kw_strerror(r));
	if (r != 0)
		return 99;
	r = cca_verify(e->t, tok, len, &c, &why);
	emu_why = why != NULL ? why : "(none)";
	if (ret != NULL)
		*ret = c;
	else
		json_decref(c);
	free(tok);
	return r;
}

static void
test_emu_good(void)
{
	struct emu e;
	json_t *c = NULL;
	char *hex = NULL;
	int r;

	emu_open(&e);
	e.o.rem[2][0] = 0xab;
	r = emu_verify(&e, &c);
	CHECKF(r == 0, "emulated token: %s", kw_strerror(r));
	if (r == 0) {
		CU_ASSERT_FATAL(kw_hex_encode(e.o.challenge, 64, &hex) == 0);
		CU_ASSERT(strcmp(jstr(c, "report_data"), hex) == 0);
		free(hex);
		CU_ASSERT_FATAL(kw_hex_encode(e.o.rim, 64, &hex) == 0);
		CU_ASSERT(strcmp(jstr(c, "rim"), hex) == 0);
		free(hex);
		CU_ASSERT(strncmp(jstr(c, "rem2"), "ab00", 4) == 0);
		CU_ASSERT(strcmp(jstr(c, "realm_profile"), "tag:arm.com,2023:realm#1.0.0") == 0);
		CU_ASSERT(strcmp(jstr(c, "lifecycle_state"), "secured") == 0);
		CU_ASSERT(json_array_size(json_object_get(c, "sw_components")) == 2);
		CU_ASSERT(strcmp(jstr(json_array_get(json_object_get(c, "sw_components"), 1), "type"), "RMM") == 0);
	}
	json_decref(c);
	c = NULL;
	/* sha-256 realm, sha-512 RAK hash */
	e.o.realm_hash_alg = "sha-256";
	e.o.rak_hash_alg = "sha-512";
	r = emu_verify(&e, &c);
	CHECKF(r == 0, "sha-256 realm: %s", kw_strerror(r));
	CU_ASSERT(strlen(jstr(c, "rim")) == 64 && strlen(jstr(c, "rem3")) == 64);
	json_decref(c);
	emu_close(&e);
}

static void
test_emu_refused(void)
{
	struct emu e;
	EVP_PKEY *other = EVP_EC_gen("P-384"), *cpak;
	json_t *c = NULL;
	int r;

	CU_ASSERT_FATAL(other != NULL);
	emu_open(&e);
	/* the platform challenge is not the RAK's hash */
	e.o.break_rak_hash = 1;
	CU_ASSERT((r = emu_verify(&e, NULL)) == KW_ERR_MISMATCH);
	e.o.break_rak_hash = 0;
	/* the realm token signed by another key than its RAK */
	e.o.realm_signer = other;
	CU_ASSERT((r = emu_verify(&e, NULL)) == KW_ERR_SIG_INVALID);
	e.o.realm_signer = NULL;
	/* the platform token signed by another key than the configured CPAK */
	cpak = e.cpak;
	e.cpak = other;
	CU_ASSERT((r = emu_verify(&e, NULL)) == KW_ERR_UNTRUSTED_ROOT);
	e.cpak = cpak;
	/* a debug lifecycle is reported (the seam refuses it without allow_debug) */
	e.o.lifecycle = 0x4000;
	CU_ASSERT_FATAL((r = emu_verify(&e, &c)) == 0);
	CU_ASSERT(json_is_true(json_object_get(c, "debug")));
	CU_ASSERT(strcmp(jstr(c, "lifecycle_state"), "non-cca-platform-rot-debug") == 0);
	json_decref(c);
	/* not a lifecycle value */
	e.o.lifecycle = 0x7000;
	CU_ASSERT(emu_verify(&e, NULL) == KW_ERR_INVALID_FORMAT);
	/* the emulator's own checks */
	e.o.lifecycle = 0x3000;
	e.o.realm_hash_alg = "md5";
	{
		uint8_t *tok = NULL;
		size_t len = 0;

		CU_ASSERT(att_cca_emu_token(e.cpak, e.rak, &e.o, &tok, &len) == KW_ERR_INVALID_ARG);
	}
	EVP_PKEY_free(other);
	emu_close(&e);
}

/* ---- the RAK as a COSE_Key ---- */

/* What cose_key_make changes from a good COSE_Key of the RAK (0: the good value). */
struct ck {
	int64_t kty, crv, alg;             /* kty, crv 0: 2; alg 0: absent */
	size_t xlen, ylen;                 /* 0: 48 */
	int flip_y;                        /* y's last byte changed: off the curve */
	int kid, key_ops;                  /* add kid (2); key_ops (4): 1 [2] (verify), 2 [1] (sign only) */
	int64_t extra;                     /* add this label (0: none) */
	int text_label;                    /* add a text label */
	int dup;                           /* crv twice */
};

static cbor_item_t *
cint(int64_t v)
{
	return v >= 0 ? cbor_build_uint64((uint64_t)v) : cbor_build_negint64((uint64_t)(-1 - v));
}

static void
cput(cbor_item_t *m, cbor_item_t *k, cbor_item_t *v)
{
	CU_ASSERT_FATAL(k != NULL && v != NULL && cbor_map_add(m, (struct cbor_pair){.key = k, .value = v}));
	cbor_decref(&k);
	cbor_decref(&v);
}

/* The COSE_Key of k's public point, built by the test (labels in another order than the emulator's). */
static void
cose_key_make(EVP_PKEY *k, const struct ck *c, uint8_t **ret, size_t *ret_len)
{
	uint8_t point[97], xy[2][64];
	size_t n = 0, bufsize = 0;
	unsigned char *buf = NULL;
	cbor_item_t *m = cbor_new_definite_map(12);

	CU_ASSERT_FATAL(m != NULL);
	CU_ASSERT_FATAL(EVP_PKEY_get_octet_string_param(k, "encoded-pub-key", point, sizeof(point), &n) == 1 &&
	    n == 97);
	memset(xy, 0x42, sizeof(xy));
	memcpy(xy[0], point + 1, 48);
	memcpy(xy[1], point + 49, 48);
	if (c->flip_y)
		xy[1][47] ^= 0x01;
	cput(m, cint(-2), cbor_build_bytestring(xy[0], c->xlen != 0 ? c->xlen : 48));
	cput(m, cint(-3), cbor_build_bytestring(xy[1], c->ylen != 0 ? c->ylen : 48));
	cput(m, cint(-1), cint(c->crv != 0 ? c->crv : 2));
	if (c->dup)
		cput(m, cint(-1), cint(2));
	cput(m, cint(1), cint(c->kty != 0 ? c->kty : 2));
	if (c->alg != 0)
		cput(m, cint(3), cint(c->alg));
	if (c->kid)
		cput(m, cint(2), cbor_build_bytestring((const uint8_t *)"rak-1", 5));
	if (c->key_ops) {
		cbor_item_t *a = cbor_new_definite_array(1);

		CU_ASSERT_FATAL(a != NULL && cbor_array_push(a, cbor_move(cint(c->key_ops == 1 ? 2 : 1))));
		cput(m, cint(4), a);
	}
	if (c->extra != 0)
		cput(m, cint(c->extra), cbor_build_bytestring((const uint8_t *)"z", 1));
	if (c->text_label)
		cput(m, cbor_build_string("x"), cbor_build_bytestring(xy[0], 48));
	CU_ASSERT_FATAL((n = cbor_serialize_alloc(m, &buf, &bufsize)) > 0);
	cbor_decref(&m);
	*ret = buf;
	*ret_len = n;
}

static void
ck_default(struct ck *c)
{
	memset(c, 0, sizeof(*c));
}

/* A token whose claim 44237 is the COSE_Key c (the challenge hashes it): cca_verify's code. */
static int
ck_verify(struct emu *e, const struct ck *c, json_t **ret, uint8_t **ret_key, size_t *ret_key_len)
{
	uint8_t *key = NULL;
	size_t n = 0;
	int r;

	cose_key_make(e->rak, c, &key, &n);
	e->o.rak_claim = key;
	e->o.rak_claim_len = n;
	r = emu_verify(e, ret);
	e->o.rak_claim = NULL;
	e->o.rak_claim_len = 0;
	if (ret_key != NULL) {
		*ret_key = key;
		*ret_key_len = n;
	} else {
		free(key);
	}
	return r;
}

/* COSE_Keys the verifier refuses: the code and a part of the reason. */
static const struct {
	struct ck c;
	int code;
	const char *reason;
} ck_refused[] = {
	{{.crv = 1}, KW_ERR_UNSUPPORTED, "crv (-1) must be 2 (P-384)"},              /* P-256 */
	{{.kty = 1}, KW_ERR_UNSUPPORTED, "kty (1) must be 2 (EC2)"},                  /* OKP */
	{{.alg = -7}, KW_ERR_UNSUPPORTED, "alg (3) must be -35"},                     /* ES256 */
	{{.xlen = 47}, KW_ERR_INVALID_FORMAT, "x (-2) and y (-3) must be 48-byte"},
	{{.ylen = 49}, KW_ERR_INVALID_FORMAT, "x (-2) and y (-3) must be 48-byte"},
	{{.flip_y = 1}, KW_ERR_INVALID_FORMAT, "not a point on P-384"},
	{{.dup = 1}, KW_ERR_INVALID_FORMAT, "unique integer labels"},
	{{.extra = -4}, KW_ERR_INVALID_FORMAT, "private key (-4)"},                   /* d */
	{{.extra = -5}, KW_ERR_INVALID_FORMAT, "label other than"},                   /* unknown */
	{{.extra = 5}, KW_ERR_INVALID_FORMAT, "label other than"},                    /* Base IV */
	{{.text_label = 1}, KW_ERR_INVALID_FORMAT, "label other than"},
	{{.key_ops = 2}, KW_ERR_INVALID_FORMAT, "key_ops (4)"},                       /* sign only */
};

static void
test_rak_cose_key(void)
{
	struct emu e;
	struct ck c;
	json_t *cl = NULL;
	uint8_t *key = NULL, point[97];
	size_t n = 0;
	char *hex = NULL;
	int r;

	emu_open(&e);
	/* the emulator's default: a COSE_Key; claim rak is the hex of the claim's bytes */
	r = emu_verify(&e, &cl);
	CHECKF(r == 0, "COSE_Key RAK (emulator): %s (%s)", kw_strerror(r), emu_why);
	CU_ASSERT(strncmp(jstr(cl, "rak"), "a5", 2) == 0);   /* a map of 5 pairs, not 04 ‖ x ‖ y */
	json_decref(cl);
	cl = NULL;
	/* the raw point still works; rak is then the point */
	e.o.rak_raw_point = 1;
	r = emu_verify(&e, &cl);
	CHECKF(r == 0, "raw point RAK: %s (%s)", kw_strerror(r), emu_why);
	CU_ASSERT_FATAL(EVP_PKEY_get_octet_string_param(e.rak, "encoded-pub-key", point, sizeof(point), &n) == 1);
	CU_ASSERT_FATAL(kw_hex_encode(point, sizeof(point), &hex) == 0);
	CU_ASSERT(strcmp(jstr(cl, "rak"), hex) == 0);
	free(hex);
	json_decref(cl);
	cl = NULL;
	e.o.rak_raw_point = 0;
	/* the test's own COSE_Key (other label order, kid, key_ops [verify], alg): accepted, hashed as carried */
	ck_default(&c);
	c.alg = -35;
	c.kid = 1;
	c.key_ops = 1;
	r = ck_verify(&e, &c, &cl, &key, &n);
	CHECKF(r == 0, "test COSE_Key: %s (%s)", kw_strerror(r), emu_why);
	CU_ASSERT_FATAL(kw_hex_encode(key, n, &hex) == 0);
	CU_ASSERT(strcmp(jstr(cl, "rak"), hex) == 0);
	free(hex);
	free(key);
	json_decref(cl);
	/* alg is optional */
	ck_default(&c);
	CU_ASSERT((r = ck_verify(&e, &c, NULL, NULL, NULL)) == 0);
	/* the platform challenge over the point while the claim carries a COSE_Key: not vouched for */
	e.o.hash_point = 1;
	r = emu_verify(&e, NULL);
	CHECKF(r == KW_ERR_MISMATCH && strstr(emu_why, "platform challenge") != NULL, "hash over the point: %s",
	    kw_strerror(r));
	e.o.hash_point = 0;
	/* refusals, each with its reason */
	for (size_t i = 0; i < sizeof(ck_refused) / sizeof(ck_refused[0]); i++) {
		r = ck_verify(&e, &ck_refused[i].c, NULL, NULL, NULL);
		CHECKF(r == ck_refused[i].code && strstr(emu_why, ck_refused[i].reason) != NULL,
		    "case %zu (%s): got %s (%s)", i, ck_refused[i].reason, kw_strerror(r), emu_why);
	}
	/* trailing bytes after the map; not a map; an empty map */
	{
		static const uint8_t arr[] = {0x82, 0x01, 0x02}, empty[] = {0xa0};
		uint8_t *k2 = NULL;

		ck_default(&c);
		cose_key_make(e.rak, &c, &key, &n);
		CU_ASSERT_FATAL((k2 = malloc(n + 1)) != NULL);
		memcpy(k2, key, n);
		k2[n] = 0x00;
		e.o.rak_claim = k2;
		e.o.rak_claim_len = n + 1;
		r = emu_verify(&e, NULL);
		CHECKF(r == KW_ERR_TRAILING && strstr(emu_why, "one well-formed CBOR item") != NULL,
		    "trailing byte: %s (%s)", kw_strerror(r), emu_why);
		e.o.rak_claim_len = n - 1;   /* and one byte short */
		r = emu_verify(&e, NULL);
		CHECKF(r == KW_ERR_TRUNCATED, "cut COSE_Key: %s (%s)", kw_strerror(r), emu_why);
		e.o.rak_claim = arr;
		e.o.rak_claim_len = sizeof(arr);
		r = emu_verify(&e, NULL);
		CHECKF(r == KW_ERR_UNSUPPORTED && strstr(emu_why, "uncompressed P-384 point or a COSE_Key") != NULL,
		    "array: %s (%s)", kw_strerror(r), emu_why);
		e.o.rak_claim = empty;
		e.o.rak_claim_len = sizeof(empty);
		r = emu_verify(&e, NULL);
		CHECKF(r == KW_ERR_INVALID_FORMAT && strstr(emu_why, "kty (1)") != NULL, "empty map: %s (%s)",
		    kw_strerror(r), emu_why);
		e.o.rak_claim = NULL;
		e.o.rak_claim_len = 0;
		free(k2);
		free(key);
	}
	emu_close(&e);
}

/* The seam member: shape, binding (the realm challenge), debug, the table's pick by shape. */
static void
test_seam(void)
{
	const struct kw_verifier *v = kw_verifier_find("cca");
	struct kw_appraisal in;
	struct kw_trust trust;
	struct emu e;
	uint8_t *tok = NULL;
	size_t len = 0;
	json_t *ev = NULL, *c = NULL;
	const char *why = NULL;
	int r;

	CU_ASSERT_FATAL(v != NULL);
	emu_open(&e);
	CU_ASSERT_FATAL(att_cca_emu_token(e.cpak, e.rak, &e.o, &tok, &len) == 0);
	CU_ASSERT_FATAL((ev = json_object()) != NULL && kw_json_set_b64url(ev, "token", tok, len) == 0);
	CU_ASSERT(kw_verifier_for_evidence(ev, &why) == v);
	CU_ASSERT(v->check(ev, &why) == 0);
	memset(&trust, 0, sizeof(trust));
	CU_ASSERT(!v->enabled(&trust));
	trust.cca = e.t;
	CU_ASSERT(v->enabled(&trust));
	memset(&in, 0, sizeof(in));
	in.evidence = ev;
	in.binding = e.o.challenge;
	in.binding_len = KW_BINDING_LEN;
	in.at = 1767225600;
	in.trust = &trust;
	r = v->appraise(&in, &c, &why);
	CHECKF(r == 0, "appraise: %s (%s)", kw_strerror(r), why);
	json_decref(c);
	c = NULL;
	/* another binding: the challenge was not this one */
	{
		uint8_t other[KW_BINDING_LEN];

		memcpy(other, e.o.challenge, sizeof(other));
		other[63] ^= 0xff;
		in.binding = other;
		r = v->appraise(&in, &c, &why);
		CHECKF(r == KW_ERR_MISMATCH && c == NULL, "wrong challenge: %s", kw_strerror(r));
		in.binding = e.o.challenge;
	}
	/* debug lifecycle: refused unless allowed */
	free(tok);
	e.o.lifecycle = 0x5001;
	CU_ASSERT_FATAL(att_cca_emu_token(e.cpak, e.rak, &e.o, &tok, &len) == 0);
	CU_ASSERT_FATAL(kw_json_set_b64url(ev, "token", tok, len) == 0);
	CU_ASSERT(v->appraise(&in, &c, &why) == KW_ERR_DEBUG_GUEST);
	in.allow_debug = 1;
	CU_ASSERT(v->appraise(&in, &c, &why) == 0);
	json_decref(c);
	/* shape errors */
	CU_ASSERT(json_object_set_new(ev, "extra", json_string("x")) == 0);
	CU_ASSERT(v->check(ev, &why) == KW_ERR_INVALID_FORMAT);
	CU_ASSERT(json_object_del(ev, "extra") == 0);
	CU_ASSERT(json_object_set_new(ev, "token", json_string("not base64url!")) == 0);
	CU_ASSERT(v->check(ev, &why) == KW_ERR_INVALID_FORMAT);
	free(tok);
	json_decref(ev);
	emu_close(&e);
}

int
main(void)
{
	CU_pSuite s;
	int reg = 0, r;

	if (test_vectors("cca") == NULL)
		return 1;
	if (test_begin() != 0)
		return 2;
	if (load_vector() != 0)
		return 1;
	s = CU_add_suite("cca", NULL, NULL);
	reg |= s == NULL ? -1 : 0;
	reg |= TEST_ADD(s, test_vector_expected);
	reg |= TEST_ADD(s, test_vector_untrusted);
	reg |= TEST_ADD(s, test_trust_keys);
	reg |= TEST_ADD(s, test_vector_sweeps);
	reg |= TEST_ADD(s, test_cbor_scan);
	reg |= TEST_ADD(s, test_collection_shapes);
	reg |= TEST_ADD(s, test_emu_good);
	reg |= TEST_ADD(s, test_emu_refused);
	reg |= TEST_ADD(s, test_rak_cose_key);
	reg |= TEST_ADD(s, test_seam);
	r = test_end(reg);
	free(vec);
	json_decref(expected);
	json_decref(cpak_jwk);
	return r;
}
