/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hsm/hsm_req.c: the helper's strict request parser (good requests,
 * rejects, truncation and bit-flip sweeps), no token.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <event2/event.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <p11-kit/pkcs11.h>

#include "hsm_client.h"
#include "hsm_import.h"
#include "hsm_jwe.h"
#include "hsm_proto.h"
#include "hsm_req.h"
#include "hsm_supervise.h"
#include "hsm_tokkey.h"
#include "kw_b64url.h"
#include "kw_json.h"
#include "kw_jwk.h"
#include "kw_log.h"
#include "kw_secret.h"

#include "test_hsm.h"

static char *
release_json(const char *label, const char *n, const char *e, const char *kid)
{
	json_t *o = json_pack("{s:i,s:s,s:s,s:s,s:s,s:s,s:s}", "id", 7, "op", "release", "label",
	    label, "profile", PROFILE, "n", n, "e", e, "kid", kid);
	char *s = json_dumps(o, JSON_COMPACT);

	json_decref(o);
	return s;
}

static int
parse_str(const char *s, struct hsm_req *req, uint32_t *id)
{
	return hsm_req_parse(s, strlen(s), req, id);
}

/* Parse s (freed here; NULL fails) into *req; the parser's result. */
static int
parse_free(char *s, struct hsm_req *req)
{
	uint32_t id;
	int r = s != NULL ? parse_str(s, req, &id) : -1000;

	free(s);
	return r;
}

static void
test_parse_good(void)
{
	static struct hsm_req req;
	uint32_t id;
	char *s;

	CU_ASSERT_EQUAL(parse_str("{\"id\":1,\"op\":\"probe\"}", &req, &id), 0);
	CU_ASSERT_EQUAL(req.op, HSM_OP_PROBE);
	CU_ASSERT_EQUAL(req.id, 1);
	CU_ASSERT_EQUAL(parse_str("{\"id\":4294967295,\"op\":\"stats\"}", &req, &id), 0);
	CU_ASSERT_EQUAL(req.id, 4294967295U);
	CU_ASSERT_EQUAL(parse_str("{\"id\":2,\"op\":\"random\",\"length\":1024}", &req, &id), 0);
	CU_ASSERT_EQUAL(req.length, 1024);
	CU_ASSERT_EQUAL(parse_str("{\"id\":3,\"op\":\"generate\",\"label\":\"r/aes/t-1.x_y\","
	    "\"kind\":\"aes-128\",\"if_missing\":true}", &req, &id), 0);
	CU_ASSERT_EQUAL(req.kind, HSM_KIND_AES128);
	CU_ASSERT_EQUAL(req.length, 16);
	CU_ASSERT_TRUE(req.if_missing);
	CU_ASSERT_STRING_EQUAL(req.label, "r/aes/t-1.x_y");
	CU_ASSERT_EQUAL(parse_str("{\"id\":3,\"op\":\"generate\",\"label\":\"a\",\"kind\":\"aes-256\","
	    "\"length\":32,\"if_missing\":false}", &req, &id), 0);
	CU_ASSERT_EQUAL(req.length, 32);
	CU_ASSERT_EQUAL(parse_str("{\"id\":3,\"op\":\"generate\",\"label\":\"a\",\"kind\":\"secret\","
	    "\"length\":4096,\"if_missing\":false}", &req, &id), 0);
	CU_ASSERT_EQUAL(req.kind, HSM_KIND_SECRET);
	CU_ASSERT_EQUAL(req.length, 4096);
	s = release_json("repo/key/1", key2048.n, key2048.e, "kid-\"q\"");
	CU_ASSERT_EQUAL(parse_str(s, &req, &id), 0);
	CU_ASSERT_EQUAL(req.op, HSM_OP_RELEASE);
	CU_ASSERT_EQUAL(req.n_len, 256);
	CU_ASSERT_EQUAL(req.e_len, 3);
	CU_ASSERT_STRING_EQUAL(req.kid, "kid-\"q\"");
	CU_ASSERT_EQUAL(id, 7);
	free(s);
	CU_ASSERT_EQUAL(parse_str("{\"id\":8,\"op\":\"log\",\"level\":\"warn\",\"format\":\"json\"}",
	    &req, &id), 0);
	CU_ASSERT_EQUAL(req.op, HSM_OP_LOG);
	CU_ASSERT_EQUAL(req.log_level, KW_LOG_WARN);
	CU_ASSERT_EQUAL(req.log_format, KW_LOG_FMT_JSON);
	CU_ASSERT_EQUAL(parse_str("{\"id\":8,\"op\":\"log\",\"level\":\"debug\","
	    "\"format\":\"journal\"}", &req, &id), 0);
	CU_ASSERT_EQUAL(req.log_level, KW_LOG_DEBUG);
	CU_ASSERT_EQUAL(req.log_format, KW_LOG_FMT_JOURNAL);
}

static void
test_parse_reject(void)
{
	static struct hsm_req req;
	static const char *const bad[] = {
		"", "[]", "{}", "{\"id\":1}", "{\"op\":\"probe\"}", "{\"id\":-1,\"op\":\"probe\"}",
		"{\"id\":4294967296,\"op\":\"probe\"}", "{\"id\":1.0,\"op\":\"probe\"}",
		"{\"id\":\"1\",\"op\":\"probe\"}", "{\"id\":1,\"op\":\"probe\",\"x\":1}",
		"{\"id\":1,\"op\":\"probe\",\"id\":2}", "{\"id\":1,\"op\":1}",
		"{\"id\":1,\"op\":\"random\"}", "{\"id\":1,\"op\":\"random\",\"length\":0}",
		"{\"id\":1,\"op\":\"random\",\"length\":1025}",
		"{\"id\":1,\"op\":\"random\",\"length\":\"5\"}",
		"{\"id\":1,\"op\":\"generate\",\"label\":\"a\",\"kind\":\"secret\",\"if_missing\":true}",
		"{\"id\":1,\"op\":\"generate\",\"label\":\"a\",\"kind\":\"secret\",\"length\":4097,"
		"\"if_missing\":true}",
		"{\"id\":1,\"op\":\"generate\",\"label\":\"a\",\"kind\":\"aes-256\",\"length\":16,"
		"\"if_missing\":true}",
		"{\"id\":1,\"op\":\"generate\",\"label\":\"a\",\"kind\":\"aes-256\",\"if_missing\":1}",
		"{\"id\":1,\"op\":\"generate\",\"label\":\"a\",\"kind\":\"aes-256\"}",
		"{\"id\":1,\"op\":\"generate\",\"label\":\"a b\",\"kind\":\"aes-256\",\"if_missing\":true}",
		"{\"id\":1,\"op\":\"generate\",\"label\":\"a/../b\",\"kind\":\"aes-256\",\"if_missing\":true}",
		"{\"id\":1,\"op\":\"generate\",\"label\":\"\",\"kind\":\"aes-256\",\"if_missing\":true}",
		"{\"id\":1,\"op\":\"generate\",\"label\":\"a\\u0000b\",\"kind\":\"aes-256\",\"if_missing\":true}",
		"{\"id\":1,\"op\":\"generate\",\"label\":\"\\u00e9\",\"kind\":\"aes-256\",\"if_missing\":true}",
		"{\"id\":1,\"op\":\"log\",\"level\":\"info\"}",
		"{\"id\":1,\"op\":\"log\",\"format\":\"json\"}",
		"{\"id\":1,\"op\":\"log\",\"level\":\"info\",\"format\":\"auto\"}",
		"{\"id\":1,\"op\":\"log\",\"level\":\"verbose\",\"format\":\"text\"}",
		"{\"id\":1,\"op\":\"log\",\"level\":\"info\",\"format\":\"yaml\"}",
		"{\"id\":1,\"op\":\"log\",\"level\":2,\"format\":\"text\"}",
		"{\"id\":1,\"op\":\"log\",\"level\":\"info\",\"format\":\"text\",\"x\":1}",
	};
	uint32_t id = 99;
	char label[HSM_LABEL_MAX + 2];

	for (size_t i = 0; i < KW_ARRAY_SIZE(bad); i++) {
		int r = parse_str(bad[i], &req, &id);

		if (r == 0)
			fprintf(stderr, "accepted: %s\n", bad[i]);
		CU_ASSERT_EQUAL(r, KW_ERR_INVALID_FORMAT);
	}
	/* the id is still reported when it was readable */
	CU_ASSERT_EQUAL(parse_str("{\"id\":5,\"op\":\"probe\",\"x\":1}", &req, &id),
	    KW_ERR_INVALID_FORMAT);
	CU_ASSERT_EQUAL(id, 5);
	CU_ASSERT_EQUAL(parse_str("nonsense", &req, &id), KW_ERR_INVALID_FORMAT);
	CU_ASSERT_EQUAL(id, 0);
	CU_ASSERT_EQUAL(parse_str("{\"id\":1,\"op\":\"delete\"}", &req, &id), KW_ERR_UNSUPPORTED);
	CU_ASSERT_EQUAL(parse_str("{\"id\":1,\"op\":\"generate\",\"label\":\"a\",\"kind\":\"aes-192\","
	    "\"if_missing\":true}", &req, &id), KW_ERR_UNSUPPORTED);
	/* label length cap */
	memset(label, 'a', sizeof(label));
	label[HSM_LABEL_MAX] = 0;
	CU_ASSERT_EQUAL(parse_free(release_json(label, key2048.n, key2048.e, "k"), &req), 0);
	label[HSM_LABEL_MAX] = 'a';
	label[HSM_LABEL_MAX + 1] = 0;
	CU_ASSERT_EQUAL(parse_free(release_json(label, key2048.n, key2048.e, "k"), &req), KW_ERR_INVALID_FORMAT);
}

static void
test_parse_rsa(void)
{
	static struct hsm_req req;
	struct tkey k1024;
	uint8_t nb[1100];
	char *nz = NULL, *big = NULL, *even = NULL, *s, kid[HSM_KID_MAX + 2];
	size_t nl;
	uint32_t id;

	CU_ASSERT_FATAL(tkey_gen(1024, &k1024) == 0);
	CU_ASSERT_EQUAL(parse_free(release_json("a", k1024.n, k1024.e, "k"), &req), KW_ERR_INVALID_FORMAT);
	/* leading zero byte on a valid modulus */
	CU_ASSERT_FATAL(kw_b64url_decode(key2048.n, strlen(key2048.n), nb + 1, 1024, &nl) == 0);
	nb[0] = 0;
	CU_ASSERT_FATAL(kw_b64url_encode(nb, nl + 1, &nz) == 0);
	CU_ASSERT_EQUAL(parse_free(release_json("a", nz, key2048.e, "k"), &req), KW_ERR_INVALID_FORMAT);
	/* even modulus */
	nb[nl] &= 0xfe;
	CU_ASSERT_FATAL(kw_b64url_encode(nb + 1, nl, &even) == 0);
	CU_ASSERT_EQUAL(parse_free(release_json("a", even, key2048.e, "k"), &req), KW_ERR_INVALID_FORMAT);
	/* 8200 bits */
	memset(nb, 0xff, 1026);
	CU_ASSERT_FATAL(kw_b64url_encode(nb, 1026, &big) == 0);
	CU_ASSERT_EQUAL(parse_free(release_json("a", big, key2048.e, "k"), &req), KW_ERR_INVALID_FORMAT);
	/* exponents: even, 1, padded, not base64url */
	CU_ASSERT_EQUAL(parse_free(release_json("a", key2048.n, "AQAA", "k"), &req), KW_ERR_INVALID_FORMAT);
	CU_ASSERT_EQUAL(parse_free(release_json("a", key2048.n, "AQ", "k"), &req), KW_ERR_INVALID_FORMAT);
	CU_ASSERT_EQUAL(parse_free(release_json("a", key2048.n, "AQAB==", "k"), &req), KW_ERR_INVALID_FORMAT);
	CU_ASSERT_EQUAL(parse_free(release_json("a", key2048.n, "AAEAAQ", "k"), &req), KW_ERR_INVALID_FORMAT);
	CU_ASSERT_EQUAL(parse_free(release_json("a", key2048.n, "Aw", "k"), &req), 0);
	/* kid length cap */
	memset(kid, 'k', sizeof(kid));
	kid[HSM_KID_MAX] = 0;
	CU_ASSERT_EQUAL(parse_free(release_json("a", key2048.n, key2048.e, kid), &req), 0);
	kid[HSM_KID_MAX] = 'k';
	kid[HSM_KID_MAX + 1] = 0;
	CU_ASSERT_EQUAL(parse_free(release_json("a", key2048.n, key2048.e, kid), &req), KW_ERR_INVALID_FORMAT);
	/* wrong profile */
	s = release_json("a", key2048.n, key2048.e, "k");
	{
		char *p = strstr(s, "RSA-OAEP+");

		CU_ASSERT_FATAL(p != NULL);
		memcpy(p, "RSA-OAEQ+", 9);
	}
	CU_ASSERT_EQUAL(parse_str(s, &req, &id), KW_ERR_UNSUPPORTED);
	free(s);
	free(nz);
	free(even);
	free(big);
	tkey_free(&k1024);
}

/*
 * The sweeps of one good request s: every proper prefix fails cleanly, and
 * every single bit flip either fails or gives a request for which check
 * holds (a flipped JSON delimiter never does). Returns how many flips were
 * accepted; some are (letter case inside base64url data or a label), most not.
 */
static unsigned long
sweep(const char *s, void (*check)(const struct hsm_req *))
{
	static struct hsm_req req;
	size_t len = strlen(s);
	unsigned long accepted = 0;
	char *m = malloc(len);
	uint32_t id;

	CU_ASSERT_FATAL(m != NULL);
	CU_ASSERT_EQUAL(hsm_req_parse(s, len, &req, &id), 0);
	for (size_t i = 0; i < len; i++)
		CU_ASSERT_NOT_EQUAL(hsm_req_parse(s, i, &req, &id), 0);
	for (size_t i = 0; i < len; i++) {
		for (int b = 0; b < 8; b++) {
			memcpy(m, s, len);
			m[i] = (char)(m[i] ^ (1 << b));
			if (hsm_req_parse(m, len, &req, &id) != 0)
				continue;
			accepted++;
			CU_ASSERT_PTR_NULL(strchr("{}\":,", s[i]));
			check(&req);
		}
	}
	CU_ASSERT_TRUE(accepted > 0 && accepted < len * 8);
	free(m);
	return accepted;
}

static void
check_release(const struct hsm_req *req)
{
	CU_ASSERT_TRUE(req->op != HSM_OP_RELEASE ||
	    (hsm_label_valid(req->label, strlen(req->label)) && req->n[0] != 0 &&
	    req->n_len >= 256 && (req->e[req->e_len - 1] & 1) == 1));
}

static void
test_parse_sweeps(void)
{
	char *s = release_json("repo/key/1", key2048.n, key2048.e, "kid");

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	(void)sweep(s, check_release);
	free(s);
}
static char *
sign_json(const char *label, const char *digest)
{
	json_t *o = json_pack("{s:i,s:s,s:s,s:s}", "id", 11, "op", "sign", "label", label, "digest",
	    digest);
	char *s = json_dumps(o, JSON_COMPACT);

	json_decref(o);
	return s;
}

/* base64url of n bytes of value v */
static char *
b64_of(uint8_t v, size_t n)
{
	uint8_t b[64];
	char *s = NULL;

	memset(b, v, sizeof(b));
	return kw_b64url_encode(b, n, &s) == 0 ? s : NULL;
}

static void
test_parse_token_ops(void)
{
	static struct hsm_req req;
	char *d32 = b64_of(0xab, 32), *d31 = b64_of(0xab, 31), *d33 = b64_of(0xab, 33), *s, *p;
	uint32_t id;
	static const char *const bad[] = {
		"{\"id\":1,\"op\":\"token_keys\",\"x\":1}",
		"{\"id\":1,\"op\":\"token_keys\",\"now\":1}",
		"{\"id\":1,\"op\":\"token_key_new\",\"now\":-1}",
		"{\"id\":1,\"op\":\"token_key_new\",\"now\":253402300800}",
		"{\"id\":1,\"op\":\"token_key_new\",\"now\":\"5\"}",
		"{\"id\":1,\"op\":\"token_key_new\",\"now\":1.5}",
		"{\"id\":1,\"op\":\"token_key_new\",\"now\":null}",
		"{\"id\":1,\"op\":\"token_key_new\",\"label\":\"kw-token/1\"}",
		"{\"id\":1,\"op\":\"token_key_destroy\"}",
		"{\"id\":1,\"op\":\"token_key_destroy\",\"label\":\"t/aes/one\"}",
		"{\"id\":1,\"op\":\"token_key_destroy\",\"label\":\"kw-token/01\"}",
		"{\"id\":1,\"op\":\"token_key_destroy\",\"label\":\"kw-token/1\",\"now\":1}",
		"{\"id\":1,\"op\":\"sign\",\"label\":\"kw-token/1\"}",
		"{\"id\":1,\"op\":\"generate\",\"label\":\"kw-token/1\",\"kind\":\"aes-256\","
		"\"if_missing\":true}",
	};

	CU_ASSERT_FATAL(d32 != NULL && d31 != NULL && d33 != NULL);
	CU_ASSERT_EQUAL(parse_str("{\"id\":1,\"op\":\"token_keys\"}", &req, &id), 0);
	CU_ASSERT_EQUAL(req.op, HSM_OP_TOKEN_KEYS);
	CU_ASSERT_EQUAL(parse_str("{\"id\":2,\"op\":\"token_key_new\"}", &req, &id), 0);
	CU_ASSERT_EQUAL(req.op, HSM_OP_TOKEN_KEY_NEW);
	CU_ASSERT_FALSE(req.now_set);
	CU_ASSERT_EQUAL(parse_str("{\"id\":2,\"op\":\"token_key_new\",\"now\":0}", &req, &id), 0);
	CU_ASSERT_TRUE(req.now_set);
	CU_ASSERT_EQUAL(req.now, 0);
	CU_ASSERT_EQUAL(parse_str("{\"id\":2,\"op\":\"token_key_new\",\"now\":253402300799}", &req,
	    &id), 0);
	CU_ASSERT_EQUAL(req.now, HSM_TOKEN_TIME_MAX);
	CU_ASSERT_EQUAL(parse_str("{\"id\":3,\"op\":\"token_key_destroy\",\"label\":\"kw-token/17\"}",
	    &req, &id), 0);
	CU_ASSERT_EQUAL(req.op, HSM_OP_TOKEN_KEY_DESTROY);
	CU_ASSERT_STRING_EQUAL(req.label, "kw-token/17");
	s = sign_json("kw-token/1700000000", d32);
	CU_ASSERT_EQUAL(parse_str(s, &req, &id), 0);
	CU_ASSERT_EQUAL(req.op, HSM_OP_SIGN);
	CU_ASSERT_EQUAL(id, 11);
	CU_ASSERT_STRING_EQUAL(req.label, "kw-token/1700000000");
	CU_ASSERT_EQUAL(req.digest[0], 0xab);
	CU_ASSERT_EQUAL(req.digest[31], 0xab);
	free(s);
	for (size_t i = 0; i < KW_ARRAY_SIZE(bad); i++) {
		if (parse_str(bad[i], &req, &id) == 0)
			fprintf(stderr, "accepted: %s\n", bad[i]);
		CU_ASSERT_EQUAL(parse_str(bad[i], &req, &id), KW_ERR_INVALID_FORMAT);
		CU_ASSERT_EQUAL(id, 1);
	}
	/* sign: only token-key labels, only 32-byte strict base64url digests */
	{
		const char *labels[] = {"t/aes/one", "kw-token", "kw-token/", "kw-token/x", "kw-token/01"};

		for (size_t i = 0; i < KW_ARRAY_SIZE(labels); i++) {
			s = sign_json(labels[i], d32);
			CU_ASSERT_EQUAL(parse_str(s, &req, &id), KW_ERR_INVALID_FORMAT);
			free(s);
		}
	}
	CU_ASSERT_EQUAL(parse_free(sign_json("kw-token/1", d31), &req), KW_ERR_INVALID_FORMAT);
	CU_ASSERT_EQUAL(parse_free(sign_json("kw-token/1", d33), &req), KW_ERR_INVALID_FORMAT);
	d32[42] = '=';    /* not base64url */
	CU_ASSERT_EQUAL(parse_free(sign_json("kw-token/1", d32), &req), KW_ERR_INVALID_FORMAT);
	d32[42] = 'r';    /* nonzero unused low bits in the last symbol */
	CU_ASSERT_EQUAL(parse_free(sign_json("kw-token/1", d32), &req), KW_ERR_INVALID_FORMAT);
	d32[42] = 's';
	s = sign_json("kw-token/1", d32);
	CU_ASSERT_EQUAL(parse_str(s, &req, &id), 0);
	/* an extra field */
	p = strrchr(s, '}');
	CU_ASSERT_FATAL(p != NULL);
	{
		char buf[256];

		snprintf(buf, sizeof(buf), "%.*s,\"kid\":\"x\"}", (int)(p - s), s);
		CU_ASSERT_EQUAL(parse_str(buf, &req, &id), KW_ERR_INVALID_FORMAT);
	}
	free(s);
	free(d32);
	free(d31);
	free(d33);
}

/* still a sign of a token label, or a flip into the id */
static void
check_sign(const struct hsm_req *req)
{
	CU_ASSERT_EQUAL(req->op, HSM_OP_SIGN);
	CU_ASSERT_EQUAL(hsm_token_label_parse(req->label, strlen(req->label), NULL), 0);
}

static void
test_parse_sign_sweeps(void)
{
	char *d = b64_of(0x5c, 32), *s = sign_json("kw-token/1700000000", d);

	CU_ASSERT_FATAL(s != NULL && d != NULL);
	(void)sweep(s, check_sign);
	free(s);
	free(d);
}
/* An import request with a kek of kek_len bytes and a value of value_len bytes (filler). */
static char *
import_json(const char *label, const char *kind, int length, const char *kid, size_t kek_len,
    size_t value_len)
{
	static uint8_t filler[HSM_IMPORT_VALUE_MAX + 64];
	char *k = NULL, *v = NULL, *s;
	json_t *o;

	memset(filler, 0xa5, sizeof(filler));
	if (kw_b64url_encode(filler, kek_len, &k) != 0 || kw_b64url_encode(filler, value_len, &v) != 0)
		return NULL;
	o = json_pack("{s:i,s:s,s:s,s:s,s:s,s:s,s:s}", "id", 11, "op", "import", "label", label,
	    "kind", kind, "kid", kid, "kek", k, "value", v);
	if (length > 0)
		json_object_set_new(o, "length", json_integer(length));
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	free(k);
	free(v);
	return s;
}

static void
test_parse_admin_ops(void)
{
	static struct hsm_req req;
	static const char *const bad[] = {
		"{\"id\":1,\"op\":\"key_list\",\"x\":1}",
		"{\"id\":1,\"op\":\"key_list\",\"after\":1}",
		"{\"id\":1,\"op\":\"key_list\",\"after\":\"a\\u0000b\"}",
		"{\"id\":1,\"op\":\"import_key\",\"label\":\"kw-import/1\"}",
		"{\"id\":1,\"op\":\"destroy\"}",
		"{\"id\":1,\"op\":\"destroy\",\"label\":\"t/aes/one\"}",
		"{\"id\":1,\"op\":\"destroy\",\"label\":\"kw-key/\"}",
		"{\"id\":1,\"op\":\"destroy\",\"label\":\"kw-key/a/../b\"}",
		"{\"id\":1,\"op\":\"destroy\",\"label\":\"kw-token/5\"}",
		"{\"id\":1,\"op\":\"destroy\",\"label\":\"kw-import/1\"}",
		"{\"id\":1,\"op\":\"destroy\",\"label\":\"kw-key/a\",\"x\":1}",
		"{\"id\":1,\"op\":\"generate\",\"label\":\"kw-import/1\",\"kind\":\"aes-256\","
		"\"if_missing\":true}",
	};
	char label[HSM_LABEL_MAX + 2], *s;
	uint32_t id;

	CU_ASSERT_EQUAL(parse_str("{\"id\":1,\"op\":\"key_list\"}", &req, &id), 0);
	CU_ASSERT_EQUAL(req.op, HSM_OP_KEY_LIST);
	CU_ASSERT_FALSE(req.after_set);
	CU_ASSERT_EQUAL(parse_str("{\"id\":1,\"op\":\"key_list\",\"after\":\"\"}", &req, &id), 0);
	CU_ASSERT_TRUE(req.after_set);
	CU_ASSERT_STRING_EQUAL(req.after, "");
	CU_ASSERT_EQUAL(parse_str("{\"id\":1,\"op\":\"key_list\",\"after\":\"kw-key/r/t/g/v1\"}", &req,
	    &id), 0);
	CU_ASSERT_STRING_EQUAL(req.after, "kw-key/r/t/g/v1");
	CU_ASSERT_EQUAL(parse_str("{\"id\":2,\"op\":\"import_key\"}", &req, &id), 0);
	CU_ASSERT_EQUAL(req.op, HSM_OP_IMPORT_KEY);
	CU_ASSERT_EQUAL(parse_str("{\"id\":3,\"op\":\"destroy\",\"label\":\"kw-key/r/t/g/v12\"}", &req,
	    &id), 0);
	CU_ASSERT_EQUAL(req.op, HSM_OP_DESTROY);
	CU_ASSERT_STRING_EQUAL(req.label, "kw-key/r/t/g/v12");
	/* both label generations stay valid resource labels */
	CU_ASSERT_EQUAL(parse_str("{\"id\":3,\"op\":\"generate\",\"label\":\"kw-key/r/t/g/v1\","
	    "\"kind\":\"aes-256\",\"if_missing\":false}", &req, &id), 0);
	CU_ASSERT_EQUAL(parse_str("{\"id\":3,\"op\":\"generate\",\"label\":\"r/t/g\","
	    "\"kind\":\"aes-256\",\"if_missing\":false}", &req, &id), 0);
	for (size_t i = 0; i < KW_ARRAY_SIZE(bad); i++) {
		int r = parse_str(bad[i], &req, &id);

		if (r == 0)
			fprintf(stderr, "accepted: %s\n", bad[i]);
		CU_ASSERT_EQUAL(r, KW_ERR_INVALID_FORMAT);
	}
	/* "after" length cap */
	memset(label, 'a', sizeof(label));
	label[HSM_LABEL_MAX + 1] = 0;
	s = NULL;
	{
		json_t *o = json_pack("{s:i,s:s,s:s}", "id", 1, "op", "key_list", "after", label);

		s = json_dumps(o, JSON_COMPACT);
		json_decref(o);
	}
	CU_ASSERT_EQUAL(parse_str(s, &req, &id), KW_ERR_INVALID_FORMAT);
	free(s);
	/* import: every kind with its exact wrapped length */
	s = import_json("kw-key/r/t/g/v1", "aes-256", 0, KID43, 384, 40);
	CU_ASSERT_EQUAL(parse_str(s, &req, &id), 0);
	CU_ASSERT_EQUAL(req.op, HSM_OP_IMPORT);
	CU_ASSERT_EQUAL(req.kind, HSM_KIND_AES256);
	CU_ASSERT_EQUAL(req.length, 32);
	CU_ASSERT_EQUAL(req.value_len, 40);
	CU_ASSERT_STRING_EQUAL(req.import_kid, KID43);
	CU_ASSERT_EQUAL(req.kek[383], 0xa5);
	free(s);
	CU_ASSERT_EQUAL(parse_free(import_json("kw-key/r/t/g/v1", "aes-128", 16, KID43, 384, 24), &req), 0);
	s = import_json("kw-key/r/t/g/v1", "secret", 20, KID43, 384, 40);
	CU_ASSERT_EQUAL(parse_str(s, &req, &id), 0);
	CU_ASSERT_EQUAL(req.length, 20);
	free(s);
	CU_ASSERT_EQUAL(parse_free(import_json("kw-key/r/t/g/v1", "secret", 4096, KID43, 384, 4104), &req), 0);
	CU_ASSERT_EQUAL(parse_free(import_json("kw-key/r/t/g/v1", "secret", 1, KID43, 384, 24), &req), 0);
	/* import rejects */
	{
		static const struct {
			const char *label, *kind, *kid;
			int length;
			size_t kek, value;
			int want;
		} rej[] = {
			{"r/t/g", "aes-256", KID43, 0, 384, 40, KW_ERR_INVALID_FORMAT},
			{"kw-token/1", "aes-256", KID43, 0, 384, 40, KW_ERR_INVALID_FORMAT},
			{"kw-key/r/t/g/v1", "aes-256", KID43, 0, 383, 40, KW_ERR_INVALID_FORMAT},
			{"kw-key/r/t/g/v1", "aes-256", KID43, 0, 385, 40, KW_ERR_INVALID_FORMAT},
			{"kw-key/r/t/g/v1", "aes-256", KID43, 0, 384, 24, KW_ERR_INVALID_FORMAT},
			{"kw-key/r/t/g/v1", "aes-256", KID43, 0, 384, 48, KW_ERR_INVALID_FORMAT},
			{"kw-key/r/t/g/v1", "aes-128", KID43, 0, 384, 40, KW_ERR_INVALID_FORMAT},
			{"kw-key/r/t/g/v1", "aes-256", KID43, 16, 384, 40, KW_ERR_INVALID_FORMAT},
			{"kw-key/r/t/g/v1", "secret", KID43, 0, 384, 40, KW_ERR_INVALID_FORMAT},
			{"kw-key/r/t/g/v1", "secret", KID43, 20, 384, 32, KW_ERR_INVALID_FORMAT},
			{"kw-key/r/t/g/v1", "secret", KID43, 4097, 384, 4112, KW_ERR_INVALID_FORMAT},
			{"kw-key/r/t/g/v1", "aes-256", "short", 0, 384, 40, KW_ERR_INVALID_FORMAT},
			{"kw-key/r/t/g/v1", "aes-256", KID43 "A", 0, 384, 40, KW_ERR_INVALID_FORMAT},
			{"kw-key/r/t/g/v1", "aes-256", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+",
			    0, 384, 40, KW_ERR_INVALID_FORMAT},
			{"kw-key/r/t/g/v1", "aes-192", KID43, 0, 384, 40, KW_ERR_UNSUPPORTED},
		};

		for (size_t i = 0; i < KW_ARRAY_SIZE(rej); i++) {
			int r;

			s = import_json(rej[i].label, rej[i].kind, rej[i].length, rej[i].kid, rej[i].kek,
			    rej[i].value);
			CU_ASSERT_PTR_NOT_NULL_FATAL(s);
			r = parse_str(s, &req, &id);
			if (r != rej[i].want)
				fprintf(stderr, "import reject case %zu: %d\n", i, r);
			CU_ASSERT_EQUAL(r, rej[i].want);
			CU_ASSERT_EQUAL(id, 11);
			free(s);
		}
	}
	/* empty kek / value, and a missing field */
	CU_ASSERT_EQUAL(parse_str("{\"id\":1,\"op\":\"import\",\"label\":\"kw-key/a\",\"kind\":\"aes-256\","
	    "\"kid\":\"" KID43 "\",\"kek\":\"\",\"value\":\"\"}", &req, &id), KW_ERR_INVALID_FORMAT);
	CU_ASSERT_EQUAL(parse_str("{\"id\":1,\"op\":\"import\",\"label\":\"kw-key/a\",\"kind\":\"aes-256\","
	    "\"kid\":\"" KID43 "\"}", &req, &id), KW_ERR_INVALID_FORMAT);
	CU_ASSERT_EQUAL(hsm_import_plain_len(HSM_KIND_SECRET, 17), 32);
	CU_ASSERT_EQUAL(hsm_import_plain_len(HSM_KIND_SECRET, 32), 32);
	CU_ASSERT_EQUAL(hsm_import_plain_len(HSM_KIND_SECRET, 0), 0);
	CU_ASSERT_EQUAL(hsm_import_plain_len(HSM_KIND_SECRET, 4097), 0);
	CU_ASSERT_EQUAL(hsm_import_plain_len(HSM_KIND_AES128, 32), 0);
	CU_ASSERT_TRUE(hsm_key_label_valid("kw-key/a", 8));
	CU_ASSERT_FALSE(hsm_key_label_valid("kw-key/", 7));
	CU_ASSERT_FALSE(hsm_label_valid("kw-import/2", 11));
}

/* Truncation and bit-flip sweeps over an import and a destroy request. */
static void
check_key_op(const struct hsm_req *req)
{
	CU_ASSERT_TRUE(hsm_key_label_valid(req->label, strlen(req->label)));
	if (req->op == HSM_OP_IMPORT) {
		CU_ASSERT_EQUAL(req->value_len, hsm_import_plain_len(req->kind, req->length) + 8);
		CU_ASSERT_EQUAL(strlen(req->import_kid), HSM_IMPORT_KID_LEN);
	} else {
		CU_ASSERT_EQUAL(req->op, HSM_OP_DESTROY);
	}
}

static void
test_parse_import_sweeps(void)
{
	char *s = import_json("kw-key/r/t/g/v1", "secret", 20, KID43, 384, 40);

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	(void)sweep(s, check_key_op);
	(void)sweep("{\"id\":4,\"op\":\"destroy\",\"label\":\"kw-key/r/t/g/v1\"}", check_key_op);
	free(s);
}
int
test_hsm_req_suite(void)
{
	static const struct hsm_test tests[] = {
		{"parse_good", test_parse_good},
		{"parse_reject", test_parse_reject},
		{"parse_rsa", test_parse_rsa},
		{"parse_sweeps", test_parse_sweeps},
		{"parse_token_ops", test_parse_token_ops},
		{"parse_sign_sweeps", test_parse_sign_sweeps},
		{"parse_admin_ops", test_parse_admin_ops},
		{"parse_import_sweeps", test_parse_import_sweeps},
		{NULL, NULL},
	};

	return hsm_test_add_suite("hsm_req", false, tests);
}
