/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hsm/hsm_msg.c without a helper: every typed request encodes to what the
 * helper's parser (hsm_req.c) reads back, and every reply decodes into its
 * typed result, or fails with KW_ERR_HSM when a member it needs is missing
 * or malformed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsm_msg.h"
#include "hsm_req.h"
#include "kw_b64url.h"
#include "kw_json.h"
#include "kw_util.h"
#include "test_hsm.h"

#define TP43 "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"

/* Encode a with id 5 and parse it as the helper does. */
static int
roundtrip(const struct hsm_args *a, struct hsm_req *req)
{
	json_t *o = NULL;
	char *s;
	uint32_t id = 0;
	int r;

	if ((r = hsm_args_encode(a, &o)) != 0)
		return r;
	CU_ASSERT_FATAL(json_object_set_new(o, "id", json_integer(5)) == 0);
	s = kw_json_dumps(o, JSON_COMPACT);
	json_decref(o);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	r = hsm_req_parse(s, strlen(s), req, &id);
	free(s);
	CU_ASSERT_EQUAL(id, 5);
	CU_ASSERT_EQUAL(req->op, a->op);
	return r;
}

static void
test_encode_roundtrip(void)
{
	static struct hsm_req req;
	uint8_t n[256], e[3] = {1, 0, 1}, digest[HSM_SIGN_DIGEST_LEN];
	char *kek = NULL, *value = NULL;
	uint8_t kekb[HSM_IMPORT_KEK_LEN], vb[40];
	struct hsm_args a;

	memset(n, 0xc5, sizeof(n));
	memset(digest, 0x3c, sizeof(digest));
	/* the ops without members */
	for (int op = HSM_OP_NONE + 1; op < HSM_OP__COUNT; op++) {
		if (op != HSM_OP_PROBE && op != HSM_OP_STATS && op != HSM_OP_TOKEN_KEYS &&
		    op != HSM_OP_IMPORT_KEY && op != HSM_OP_TOKEN_KEY_NEW && op != HSM_OP_KEY_LIST &&
		    op != HSM_OP_AUDIT_KEY)
			continue;
		memset(&a, 0, sizeof(a));
		a.op = (enum hsm_op)op;
		CU_ASSERT_EQUAL(roundtrip(&a, &req), 0);
	}
	CU_ASSERT_FALSE(req.now_set);
	a = (struct hsm_args){.op = HSM_OP_LOG, .u.log = {.level = "error", .format = "journal"}};
	CU_ASSERT_EQUAL(roundtrip(&a, &req), 0);
	CU_ASSERT_EQUAL(req.log_level, KW_LOG_ERR);
	CU_ASSERT_EQUAL(req.log_format, KW_LOG_FMT_JOURNAL);
	a = (struct hsm_args){.op = HSM_OP_GENERATE, .u.generate = {.label = "t/x/1",
	    .kind = HSM_KIND_SECRET, .length = 20, .if_missing = true}};
	CU_ASSERT_EQUAL(roundtrip(&a, &req), 0);
	CU_ASSERT_STRING_EQUAL(req.label, "t/x/1");
	CU_ASSERT_EQUAL(req.kind, HSM_KIND_SECRET);
	CU_ASSERT_EQUAL(req.length, 20);
	CU_ASSERT_TRUE(req.if_missing);
	/* AES: the length may be left out, or given and equal */
	a.u.generate.kind = HSM_KIND_AES128;
	a.u.generate.length = 0;
	a.u.generate.if_missing = false;
	CU_ASSERT_EQUAL(roundtrip(&a, &req), 0);
	CU_ASSERT_EQUAL(req.kind, HSM_KIND_AES128);
	CU_ASSERT_EQUAL(req.length, 16);
	CU_ASSERT_FALSE(req.if_missing);
	a.u.generate.kind = HSM_KIND_AES256;
	a.u.generate.length = 32;
	CU_ASSERT_EQUAL(roundtrip(&a, &req), 0);
	CU_ASSERT_EQUAL(req.length, 32);
	a = (struct hsm_args){.op = HSM_OP_RELEASE, .u.release = {.label = "kw-key/r/t/x/v2",
	    .profile = PROFILE, .n = n, .n_len = sizeof(n), .e = e, .e_len = sizeof(e),
	    .kid = "kid \"x\""}};
	CU_ASSERT_EQUAL(roundtrip(&a, &req), 0);
	CU_ASSERT_STRING_EQUAL(req.label, "kw-key/r/t/x/v2");
	CU_ASSERT_EQUAL(req.n_len, sizeof(n));
	CU_ASSERT_EQUAL(memcmp(req.n, n, sizeof(n)), 0);
	CU_ASSERT_EQUAL(req.e_len, 3);
	CU_ASSERT_EQUAL(memcmp(req.e, e, 3), 0);
	CU_ASSERT_STRING_EQUAL(req.kid, "kid \"x\"");
	a = (struct hsm_args){.op = HSM_OP_RANDOM, .u.random = {.length = HSM_RANDOM_MAX}};
	CU_ASSERT_EQUAL(roundtrip(&a, &req), 0);
	CU_ASSERT_EQUAL(req.length, HSM_RANDOM_MAX);
	a = (struct hsm_args){.op = HSM_OP_TOKEN_KEY_NEW, .u.token_key_new = {.now_set = true,
	    .now = 1700000000}};
	CU_ASSERT_EQUAL(roundtrip(&a, &req), 0);
	CU_ASSERT_TRUE(req.now_set);
	CU_ASSERT_EQUAL(req.now, 1700000000);
	a = (struct hsm_args){.op = HSM_OP_SIGN, .u.sign = {.label = "kw-token/7",
	    .digest = digest}};
	CU_ASSERT_EQUAL(roundtrip(&a, &req), 0);
	CU_ASSERT_STRING_EQUAL(req.label, "kw-token/7");
	CU_ASSERT_EQUAL(memcmp(req.digest, digest, sizeof(digest)), 0);
	memset(&req, 0, sizeof(req));
	a = (struct hsm_args){.op = HSM_OP_AUDIT_SIGN, .u.audit_sign = {.digest = digest}};
	CU_ASSERT_EQUAL(roundtrip(&a, &req), 0);
	CU_ASSERT_EQUAL(req.op, HSM_OP_AUDIT_SIGN);
	CU_ASSERT_EQUAL(memcmp(req.digest, digest, sizeof(digest)), 0);
	CU_ASSERT_STRING_EQUAL(req.label, "");    /* no label: the one audit key */
	a = (struct hsm_args){.op = HSM_OP_TOKEN_KEY_DESTROY, .u.token_key_destroy = {
	    .label = "kw-token/8"}};
	CU_ASSERT_EQUAL(roundtrip(&a, &req), 0);
	CU_ASSERT_STRING_EQUAL(req.label, "kw-token/8");
	a.op = HSM_OP_DESTROY;    /* the same member */
	a.u.destroy.label = "kw-key/a/b/c/v1";
	CU_ASSERT_EQUAL(roundtrip(&a, &req), 0);
	CU_ASSERT_STRING_EQUAL(req.label, "kw-key/a/b/c/v1");
	/* the helper still judges what the broker sends: a bad label is its KW_ERR_INVALID_FORMAT */
	a.u.destroy.label = "t/aes/one";
	CU_ASSERT_EQUAL(roundtrip(&a, &req), KW_ERR_INVALID_FORMAT);
	a = (struct hsm_args){.op = HSM_OP_KEY_LIST, .u.key_list = {.after = ""}};
	CU_ASSERT_EQUAL(roundtrip(&a, &req), 0);
	CU_ASSERT_TRUE(req.after_set);
	CU_ASSERT_STRING_EQUAL(req.after, "");
	a.u.key_list.after = "kw-key/m";
	CU_ASSERT_EQUAL(roundtrip(&a, &req), 0);
	CU_ASSERT_STRING_EQUAL(req.after, "kw-key/m");
	/* import: kek and value pass through as the importer's base64url */
	memset(kekb, 0x11, sizeof(kekb));
	memset(vb, 0x22, sizeof(vb));
	CU_ASSERT_FATAL(kw_b64url_encode(kekb, sizeof(kekb), &kek) == 0 &&
	    kw_b64url_encode(vb, sizeof(vb), &value) == 0);
	a = (struct hsm_args){.op = HSM_OP_IMPORT, .u.import = {.label = "kw-key/a/b/c/v2",
	    .kind = HSM_KIND_SECRET, .length = 20, .kid = TP43, .kek = kek, .value = value}};
	CU_ASSERT_EQUAL(roundtrip(&a, &req), 0);
	CU_ASSERT_STRING_EQUAL(req.label, "kw-key/a/b/c/v2");
	CU_ASSERT_EQUAL(req.kind, HSM_KIND_SECRET);
	CU_ASSERT_EQUAL(req.length, 20);
	CU_ASSERT_STRING_EQUAL(req.import_kid, TP43);
	CU_ASSERT_EQUAL(memcmp(req.kek, kekb, sizeof(kekb)), 0);
	CU_ASSERT_EQUAL(req.value_len, sizeof(vb));
	CU_ASSERT_EQUAL(memcmp(req.value, vb, sizeof(vb)), 0);
	free(kek);
	free(value);
}

static void
test_encode_rejects(void)
{
	struct hsm_args a;
	json_t *o = NULL;

	memset(&a, 0, sizeof(a));
	CU_ASSERT_EQUAL(hsm_args_encode(&a, &o), KW_ERR_INVALID_ARG);    /* HSM_OP_NONE */
	a.op = HSM_OP__COUNT;
	CU_ASSERT_EQUAL(hsm_args_encode(&a, &o), KW_ERR_INVALID_ARG);
	CU_ASSERT_EQUAL(hsm_args_encode(NULL, &o), KW_ERR_INVALID_ARG);
	a.op = HSM_OP_DESTROY;    /* no label */
	CU_ASSERT_EQUAL(hsm_args_encode(&a, &o), KW_ERR_INVALID_ARG);
	a.op = HSM_OP_GENERATE;
	a.u.generate.label = "t/x";
	a.u.generate.kind = 0;    /* no such kind */
	CU_ASSERT_EQUAL(hsm_args_encode(&a, &o), KW_ERR_INVALID_ARG);
	a = (struct hsm_args){.op = HSM_OP_RELEASE, .u.release = {.label = "t/x",
	    .profile = PROFILE}};
	a.u.release.kid = "k";    /* no n, e */
	CU_ASSERT_EQUAL(hsm_args_encode(&a, &o), KW_ERR_INVALID_ARG);
	memset(&a, 0, sizeof(a));
	a.op = HSM_OP_SIGN;
	a.u.sign.label = "kw-token/1";    /* no digest */
	CU_ASSERT_EQUAL(hsm_args_encode(&a, &o), KW_ERR_INVALID_ARG);
	CU_ASSERT_PTR_NULL(o);    /* never written on failure */
}

static void
test_reply_parse(void)
{
	static const char *const bad[] = {"", "x", "[]", "{}", "{\"id\":1}", "{\"ok\":true}",
		"{\"id\":-1,\"ok\":true}", "{\"id\":4294967296,\"ok\":true}", "{\"id\":\"1\",\"ok\":true}",
		"{\"id\":1,\"ok\":1}", "{\"id\":1,\"ok\":true} x", "{\"id\":1,\"id\":2,\"ok\":true}",
		"{\"id\":1.5,\"ok\":true}"};
	static char big[HSM_PROTO_MAX + 2];
	uint32_t id = 99;
	json_t *o = NULL;
	int err = 99;

	for (size_t i = 0; i < KW_ARRAY_SIZE(bad); i++) {
		CU_ASSERT_NOT_EQUAL(hsm_reply_parse(bad[i], strlen(bad[i]), &id, &err, &o), 0);
		CU_ASSERT_EQUAL(id, 99);
		CU_ASSERT_PTR_NULL(o);
	}
	memset(big, ' ', sizeof(big));
	memcpy(big, "{\"id\":1,\"ok\":true}", 18);
	CU_ASSERT_EQUAL(hsm_reply_parse(big, sizeof(big), &id, &err, &o), KW_ERR_TOO_LARGE);
	CU_ASSERT_EQUAL(hsm_reply_parse("{\"id\":4294967295,\"ok\":true,\"x\":[1]}", 35, &id, &err,
	    &o), 0);
	CU_ASSERT_EQUAL(id, 4294967295U);
	CU_ASSERT_EQUAL(err, 0);
	json_decref(o);
	o = NULL;
	CU_ASSERT_EQUAL(hsm_reply_parse("{\"id\":0,\"ok\":false,\"error\":-3,\"detail\":\"x\"}", 43, &id,
	    &err, &o), 0);
	CU_ASSERT_EQUAL(id, 0);
	CU_ASSERT_EQUAL(err, -3);
	json_decref(o);
	o = NULL;
	/* an error that is not a kw_err becomes KW_ERR_HSM */
	CU_ASSERT_EQUAL(hsm_reply_parse("{\"id\":2,\"ok\":false,\"error\":5}", 29, &id, &err, &o), 0);
	CU_ASSERT_EQUAL(err, KW_ERR_HSM);
	json_decref(o);
	o = NULL;
	CU_ASSERT_EQUAL(hsm_reply_parse("{\"id\":2,\"ok\":false,\"error\":-100000}", 35, &id, &err,
	    &o), 0);
	CU_ASSERT_EQUAL(err, KW_ERR_HSM);
	json_decref(o);
	o = NULL;
	CU_ASSERT_EQUAL(hsm_reply_parse("{\"id\":2,\"ok\":false}", 19, &id, &err, &o), 0);
	CU_ASSERT_EQUAL(err, KW_ERR_HSM);
	json_decref(o);
}

/* Good replies of every op (without "id" and "ok"), and what must not be left out. */
struct good_reply {
	enum hsm_op op;
	const char *json;
	const char *optional[3]; /* members that may be missing */
};

#define JWK_EC "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"x\",\"y\":\"y\"}"
#define JWE "eyJ.ZW.aXY.Y3Q.dGc"

static const struct good_reply goods[] = {
	{HSM_OP_PROBE, "{\"token\":\"kw\",\"profiles\":[\"" PROFILE "\"],\"module\":\"m 2.6\"}",
	    {NULL}},
	{HSM_OP_GENERATE, "{\"created\":true,\"kind\":\"secret\",\"length\":20}", {NULL}},
	{HSM_OP_RELEASE, "{\"jwe\":\"" JWE "\"}", {NULL}},
	{HSM_OP_RANDOM, "{\"bytes\":\"AAECAw\"}", {NULL}},
	{HSM_OP_STATS, "{\"releases\":3,\"recycles\":1,\"rss_kb\":-1,\"signs\":2}", {"signs"}},
	{HSM_OP_TOKEN_KEYS, "{\"keys\":[{\"label\":\"kw-token/5\",\"created\":5,\"kid\":\"" TP43
	    "\",\"jwk\":" JWK_EC "},{\"label\":\"kw-token/6\",\"created\":6,\"kid\":\"" TP43
	    "\",\"jwk\":" JWK_EC "}]}", {NULL}},
	{HSM_OP_TOKEN_KEY_NEW, "{\"label\":\"kw-token/9\",\"created\":9,\"kid\":\"" TP43 "\",\"jwk\":"
	    JWK_EC "}", {NULL}},
	{HSM_OP_SIGN, "{\"sig\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	    "AAAAAAAAAAA\"}", {NULL}},
	{HSM_OP_TOKEN_KEY_DESTROY, "{}", {NULL}},
	{HSM_OP_KEY_LIST, "{\"labels\":[\"kw-key/a\",\"kw-key/b\"],\"more\":true}", {NULL}},
	{HSM_OP_DESTROY, "{\"destroyed\":false}", {NULL}},
	{HSM_OP_IMPORT_KEY, "{\"kid\":\"" TP43 "\",\"jwk\":{\"kty\":\"RSA\",\"n\":\"AQ\",\"e\":\"AQAB\"}}",
	    {NULL}},
	{HSM_OP_IMPORT, "{\"created\":true,\"kind\":\"aes-128\",\"length\":16}", {"kind", "length"}},
	{HSM_OP_AUDIT_KEY, "{\"label\":\"kw-audit/1\",\"kid\":\"" TP43 "\",\"jwk\":" JWK_EC "}",
	    {NULL}},
	{HSM_OP_AUDIT_SIGN, "{\"sig\":\"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	    "AAAAAAAAAAAAAAAA\"}", {NULL}},
	{HSM_OP_SEAL_KEYS, "{\"keys\":[{\"version\":7,\"key\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	    "AAAAAAA\"},{\"version\":9,\"key\":\"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}]}",
	    {NULL}},
	{HSM_OP_SEAL_KEY_NEW, "{\"version\":9}", {NULL}},
	{HSM_OP_LOG, "{}", {NULL}},
};

static int
decode_str(enum hsm_op op, const char *s, struct hsm_result **ret)
{
	json_t *o = NULL;
	int r;

	if (kw_json_parse(s, strlen(s), HSM_PROTO_MAX, &o) != 0)
		return -1000;
	r = hsm_result_decode(op, o, ret);
	json_decref(o);
	return r;
}

static void
test_decode_good(void)
{
	struct hsm_result *res = NULL, *copy = NULL;

	CU_ASSERT_EQUAL(KW_ARRAY_SIZE(goods), HSM_OP__COUNT - 1);
	for (size_t i = 0; i < KW_ARRAY_SIZE(goods); i++) {
		res = NULL;
		CU_ASSERT_EQUAL_FATAL(decode_str(goods[i].op, goods[i].json, &res), 0);
		CU_ASSERT_EQUAL(res->op, goods[i].op);
		/* a copy is independent of the original */
		CU_ASSERT_EQUAL_FATAL(hsm_result_copy(res, &copy), 0);
		CU_ASSERT_PTR_NOT_EQUAL(copy->json, res->json);
		CU_ASSERT_TRUE(json_equal(copy->json, res->json));
		hsm_result_free(res);
		res = copy;
		switch (res->op) {
		case HSM_OP_PROBE:
			CU_ASSERT_STRING_EQUAL(res->u.probe.token, "kw");
			CU_ASSERT_STRING_EQUAL(res->u.probe.module, "m 2.6");
			CU_ASSERT_EQUAL(res->u.probe.n_profiles, 1);
			CU_ASSERT_STRING_EQUAL(res->u.probe.profiles[0], PROFILE);
			break;
		case HSM_OP_GENERATE:
			CU_ASSERT_TRUE(res->u.generate.created);
			CU_ASSERT_EQUAL(res->u.generate.kind, HSM_KIND_SECRET);
			CU_ASSERT_EQUAL(res->u.generate.length, 20);
			break;
		case HSM_OP_RELEASE:
			CU_ASSERT_STRING_EQUAL(res->u.release.jwe, JWE);
			CU_ASSERT_EQUAL(res->u.release.jwe_len, strlen(JWE));
			break;
		case HSM_OP_RANDOM:
			CU_ASSERT_EQUAL(res->u.random.len, 4);
			CU_ASSERT_EQUAL(memcmp(res->u.random.bytes, "\x00\x01\x02\x03", 4), 0);
			break;
		case HSM_OP_STATS:
			CU_ASSERT_EQUAL(res->u.stats.releases, 3);
			CU_ASSERT_EQUAL(res->u.stats.recycles, 1);
			CU_ASSERT_EQUAL(res->u.stats.signs, 2);
			CU_ASSERT_EQUAL(res->u.stats.rss_kb, -1);
			break;
		case HSM_OP_TOKEN_KEYS:
			CU_ASSERT_EQUAL_FATAL(res->u.token_keys.n, 2);
			CU_ASSERT_STRING_EQUAL(res->u.token_keys.k[0].label, "kw-token/5");
			CU_ASSERT_EQUAL(res->u.token_keys.k[1].created, 6);
			CU_ASSERT_STRING_EQUAL(res->u.token_keys.k[1].kid, TP43);
			CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(res->u.token_keys.k[1].jwk,
			    "crv")), "P-256");
			break;
		case HSM_OP_TOKEN_KEY_NEW:
			CU_ASSERT_STRING_EQUAL(res->u.token_key_new.label, "kw-token/9");
			CU_ASSERT_EQUAL(res->u.token_key_new.created, 9);
			break;
		case HSM_OP_SIGN:
			for (size_t k = 0; k < HSM_SIGN_SIG_LEN; k++)
				CU_ASSERT_EQUAL(res->u.sign.sig[k], 0);
			break;
		case HSM_OP_KEY_LIST:
			CU_ASSERT_EQUAL_FATAL(res->u.key_list.n, 2);
			CU_ASSERT_STRING_EQUAL(res->u.key_list.labels[1], "kw-key/b");
			CU_ASSERT_TRUE(res->u.key_list.more);
			break;
		case HSM_OP_DESTROY:
			CU_ASSERT_FALSE(res->u.destroy.destroyed);
			break;
		case HSM_OP_IMPORT_KEY:
			CU_ASSERT_STRING_EQUAL(res->u.import_key.kid, TP43);
			CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(res->u.import_key.jwk,
			    "kty")), "RSA");
			break;
		case HSM_OP_AUDIT_KEY:
			CU_ASSERT_STRING_EQUAL(res->u.audit_key.kid, TP43);
			CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(res->u.audit_key.jwk,
			    "crv")), "P-256");
			break;
		case HSM_OP_AUDIT_SIGN:
			CU_ASSERT_EQUAL(res->u.audit_sign.sig[0], 1);
			for (size_t k = 1; k < HSM_SIGN_SIG_LEN; k++)
				CU_ASSERT_EQUAL(res->u.audit_sign.sig[k], 0);
			break;
		case HSM_OP_IMPORT:
			CU_ASSERT_TRUE(res->u.import.created);
			CU_ASSERT_EQUAL(res->u.import.kind, HSM_KIND_AES128);
			CU_ASSERT_EQUAL(res->u.import.length, 16);
			break;
		default:
			break;
		}
		hsm_result_free(res);
	}
	/* HSM_OP_NONE: the raw reply only */
	CU_ASSERT_EQUAL_FATAL(decode_str(HSM_OP_NONE, "{\"anything\":1}", &res), 0);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(res->json, "anything")), 1);
	hsm_result_free(res);
	/* an older helper's import reply (no kind, length), and members added later are ignored */
	CU_ASSERT_EQUAL_FATAL(decode_str(HSM_OP_IMPORT, "{\"created\":true}", &res), 0);
	CU_ASSERT_EQUAL(res->u.import.kind, 0);
	hsm_result_free(res);
	CU_ASSERT_EQUAL_FATAL(decode_str(HSM_OP_DESTROY, "{\"destroyed\":true,\"new\":[]}", &res), 0);
	CU_ASSERT_TRUE(res->u.destroy.destroyed);
	hsm_result_free(res);
}

/* Leaving out any required member of a good reply fails with KW_ERR_HSM. */
static void
test_decode_missing(void)
{
	struct hsm_result *res = NULL;

	for (size_t i = 0; i < KW_ARRAY_SIZE(goods); i++) {
		json_t *o = NULL;
		const char *key;
		json_t *v;

		CU_ASSERT_EQUAL_FATAL(kw_json_parse(goods[i].json, strlen(goods[i].json), HSM_PROTO_MAX,
		    &o), 0);
		json_object_foreach(o, key, v) {
			json_t *less = json_deep_copy(o);
			bool optional = false;
			int r;

			for (size_t k = 0; goods[i].optional[k] != NULL; k++)
				optional |= strcmp(goods[i].optional[k], key) == 0;
			CU_ASSERT_FATAL(less != NULL && json_object_del(less, key) == 0);
			res = NULL;
			r = hsm_result_decode(goods[i].op, less, &res);
			/* import's kind and length go together: one alone is malformed */
			if (goods[i].op == HSM_OP_IMPORT && optional) {
				CU_ASSERT_EQUAL(r, KW_ERR_HSM);
			} else {
				CU_ASSERT_EQUAL(r, optional ? 0 : KW_ERR_HSM);
			}
			if (r != 0) {
				CU_ASSERT_PTR_NULL(res);
			}
			hsm_result_free(res);
			/* the same member with a value of the wrong type */
			CU_ASSERT_FATAL(json_object_set_new(less, key, json_real(0.5)) == 0);
			res = NULL;
			CU_ASSERT_EQUAL(hsm_result_decode(goods[i].op, less, &res), KW_ERR_HSM);
			json_decref(less);
		}
		json_decref(o);
	}
}

/* Values the helper never sends. */
static void
test_decode_bad(void)
{
	static const struct {
		enum hsm_op op;
		const char *json;
	} bad[] = {
		{HSM_OP_PROBE, "{\"token\":\"kw\",\"profiles\":[1],\"module\":\"m\"}"},
		{HSM_OP_PROBE, "{\"token\":\"kw\",\"profiles\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\","
		    "\"h\",\"i\"],\"module\":\"m\"}"},
		{HSM_OP_GENERATE, "{\"created\":true,\"kind\":\"aes-128\",\"length\":32}"},
		{HSM_OP_GENERATE, "{\"created\":true,\"kind\":\"des\",\"length\":8}"},
		{HSM_OP_GENERATE, "{\"created\":true,\"kind\":\"secret\",\"length\":4097}"},
		{HSM_OP_RELEASE, "{\"jwe\":\"\"}"},
		{HSM_OP_RELEASE, "{\"jwe\":\"a.b.c.d\"}"},
		{HSM_OP_RELEASE, "{\"jwe\":\"a.b.c.d.e.f\"}"},
		{HSM_OP_RELEASE, "{\"jwe\":\"a..c.d.e\"}"},
		{HSM_OP_RELEASE, "{\"jwe\":\"a.b.c.d.\"}"},
		{HSM_OP_RELEASE, "{\"jwe\":\"a.b.c.d.e=\"}"},
		{HSM_OP_RELEASE, "{\"jwe\":\"a.b.c.d.e\\n\"}"},
		{HSM_OP_RANDOM, "{\"bytes\":\"\"}"},
		{HSM_OP_RANDOM, "{\"bytes\":\"AA==\"}"},
		{HSM_OP_STATS, "{\"releases\":-1,\"recycles\":0,\"rss_kb\":1}"},
		{HSM_OP_STATS, "{\"releases\":1,\"recycles\":0,\"rss_kb\":-2}"},
		{HSM_OP_STATS, "{\"releases\":1,\"recycles\":0,\"rss_kb\":1,\"signs\":-1}"},
		{HSM_OP_TOKEN_KEYS, "{\"keys\":{}}"},
		{HSM_OP_TOKEN_KEYS, "{\"keys\":[1]}"},
		/* created must be the label's number */
		{HSM_OP_TOKEN_KEYS, "{\"keys\":[{\"label\":\"kw-token/5\",\"created\":6,\"kid\":\"" TP43
		    "\",\"jwk\":{}}]}"},
		{HSM_OP_TOKEN_KEYS, "{\"keys\":[{\"label\":\"kw-token/05\",\"created\":5,\"kid\":\"" TP43
		    "\",\"jwk\":{}}]}"},
		{HSM_OP_TOKEN_KEYS, "{\"keys\":[{\"label\":\"t/x\",\"created\":5,\"kid\":\"" TP43
		    "\",\"jwk\":{}}]}"},
		/* oldest first, no duplicates */
		{HSM_OP_TOKEN_KEYS, "{\"keys\":[{\"label\":\"kw-token/6\",\"created\":6,\"kid\":\"" TP43
		    "\",\"jwk\":{}},{\"label\":\"kw-token/5\",\"created\":5,\"kid\":\"" TP43
		    "\",\"jwk\":{}}]}"},
		{HSM_OP_TOKEN_KEYS, "{\"keys\":[{\"label\":\"kw-token/5\",\"created\":5,\"kid\":\"" TP43
		    "\",\"jwk\":{}},{\"label\":\"kw-token/5\",\"created\":5,\"kid\":\"" TP43
		    "\",\"jwk\":{}}]}"},
		{HSM_OP_TOKEN_KEY_NEW, "{\"label\":\"kw-token/9\",\"created\":9,\"kid\":\"short\","
		    "\"jwk\":{}}"},
		{HSM_OP_TOKEN_KEY_NEW, "{\"label\":\"kw-token/9\",\"created\":9,\"kid\":\"" TP43 "\","
		    "\"jwk\":[]}"},
		{HSM_OP_SIGN, "{\"sig\":\"AAAA\"}"},
		{HSM_OP_KEY_LIST, "{\"labels\":[\"kw-key/b\",\"kw-key/a\"],\"more\":false}"},
		{HSM_OP_KEY_LIST, "{\"labels\":[\"kw-key/a\",\"kw-key/a\"],\"more\":false}"},
		{HSM_OP_KEY_LIST, "{\"labels\":[\"t/aes/one\"],\"more\":false}"},
		{HSM_OP_KEY_LIST, "{\"labels\":[\"kw-key/a\\u0000b\"],\"more\":false}"},
		{HSM_OP_IMPORT_KEY, "{\"kid\":\"" TP43 "=\",\"jwk\":{}}"},
		{HSM_OP_IMPORT, "{\"created\":true,\"kind\":\"secret\"}"},
	};
	struct hsm_result *res = NULL;

	for (size_t i = 0; i < KW_ARRAY_SIZE(bad); i++) {
		int r = decode_str(bad[i].op, bad[i].json, &res);

		if (r != KW_ERR_HSM && r != -1000)
			fprintf(stderr, "decoded: %s\n", bad[i].json);
		CU_ASSERT_TRUE(r == KW_ERR_HSM || r == -1000);
		CU_ASSERT_PTR_NULL(res);
	}
	/* more labels than a page, more keys than the helper keeps */
	{
		json_t *ls = json_array(), *o;
		char l[32];

		for (int i = 0; i <= HSM_KEY_LIST_PAGE; i++) {
			snprintf(l, sizeof(l), "kw-key/%04d", i);
			json_array_append_new(ls, json_string(l));
		}
		o = json_pack("{s:o,s:b}", "labels", ls, "more", 0);
		CU_ASSERT_EQUAL(hsm_result_decode(HSM_OP_KEY_LIST, o, &res), KW_ERR_HSM);
		CU_ASSERT_EQUAL(json_array_remove(json_object_get(o, "labels"), 0), 0);
		CU_ASSERT_EQUAL(hsm_result_decode(HSM_OP_KEY_LIST, o, &res), 0);
		CU_ASSERT_EQUAL(res->u.key_list.n, HSM_KEY_LIST_PAGE);
		hsm_result_free(res);
		json_decref(o);
	}
	{
		json_t *o = json_object();

		CU_ASSERT_EQUAL(hsm_result_decode(HSM_OP__COUNT, o, &res), KW_ERR_INVALID_ARG);
		json_decref(o);
	}
}

int
test_hsm_msg_suite(void)
{
	static const struct hsm_test tests[] = {
		{"encode_roundtrip", test_encode_roundtrip},
		{"encode_rejects", test_encode_rejects},
		{"reply_parse", test_reply_parse},
		{"decode_good", test_decode_good},
		{"decode_missing", test_decode_missing},
		{"decode_bad", test_decode_bad},
		{NULL, NULL},
	};

	return hsm_test_add_suite("hsm_msg", false, tests);
}
