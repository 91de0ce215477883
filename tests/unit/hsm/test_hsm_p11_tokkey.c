/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hsm/hsm_p11_tokkey.c through the real helper: token-signing keys
 * (list, new, sign, destroy, foreign objects, stored attributes).
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

#include "audit.h"
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

#define TK_NOW 1700000000

/* token_keys as an array (new reference) or NULL */
static json_t *
token_keys(struct hsm_client *c)
{
	json_t *o = NULL, *keys;

	if (call1(c, json_pack("{s:s}", "op", "token_keys"), &o) != 0)
		return NULL;
	keys = json_incref(json_object_get(o, "keys"));
	json_decref(o);
	return json_is_array(keys) ? keys : NULL;
}

/* Check the shape of one entry: label == kw-token/created, kid == our thumbprint. */
static void
check_entry(const json_t *e)
{
	char lbl[64], tp[44];
	const json_t *jwk = json_object_get(e, "jwk");

	CU_ASSERT_EQUAL(json_object_size(e), 4);
	snprintf(lbl, sizeof(lbl), "kw-token/%lld",
	    (long long)json_integer_value(json_object_get(e, "created")));
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(e, "label")), lbl);
	CU_ASSERT_EQUAL(json_object_size(jwk), 4);
	CU_ASSERT_EQUAL_FATAL(my_thumbprint(jwk, tp), 0);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(e, "kid")), tp);
	CU_ASSERT_EQUAL(kw_jwk_thumbprint(jwk, tp), 0);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(e, "kid")), tp);
}

/* The n token keys (new reference), the oldest labelled kw-token/5 (made with "now": 5). */
static json_t *
keys_oldest_5(size_t n)
{
	json_t *keys = token_keys(cl);

	CU_ASSERT_PTR_NOT_NULL_FATAL(keys);
	CU_ASSERT_EQUAL_FATAL(json_array_size(keys), n);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(keys, 0), "label")),
	    "kw-token/5");
	return keys;
}

static void
test_token_keys_empty(void)
{
	json_t *keys = token_keys(cl);

	CU_ASSERT_PTR_NOT_NULL_FATAL(keys);
	CU_ASSERT_EQUAL(json_array_size(keys), 0);
	json_decref(keys);
}

static json_t *tk_a, *tk_b;    /* kw-token/TK_NOW and TK_NOW+1 */

static void
test_token_key_new(void)
{
	json_t *o = NULL, *keys;
	time_t t0;
	int64_t created;

	CU_ASSERT_EQUAL_FATAL(call1(cl, json_pack("{s:s,s:i}", "op", "token_key_new", "now", TK_NOW),
	    &o), 0);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "label")), "kw-token/1700000000");
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(o, "created")), TK_NOW);
	json_object_del(o, "id");
	json_object_del(o, "ok");
	check_entry(o);
	tk_a = o;
	o = NULL;
	CU_ASSERT_EQUAL_FATAL(call1(cl, json_pack("{s:s,s:i}", "op", "token_key_new", "now", TK_NOW),
	    &o), 0);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "label")), "kw-token/1700000001");
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(o, "created")), TK_NOW + 1);
	json_object_del(o, "id");
	json_object_del(o, "ok");
	check_entry(o);
	tk_b = o;
	o = NULL;
	CU_ASSERT_STRING_NOT_EQUAL(json_string_value(json_object_get(tk_a, "kid")),
	    json_string_value(json_object_get(tk_b, "kid")));
	/* listed oldest first, identical to what token_key_new returned */
	keys = token_keys(cl);
	CU_ASSERT_PTR_NOT_NULL_FATAL(keys);
	CU_ASSERT_EQUAL_FATAL(json_array_size(keys), 2);
	CU_ASSERT_TRUE(json_equal(json_array_get(keys, 0), tk_a));
	CU_ASSERT_TRUE(json_equal(json_array_get(keys, 1), tk_b));
	json_decref(keys);
	/* without "now": the helper's clock; an older "now" sorts first */
	t0 = time(NULL);
	CU_ASSERT_EQUAL_FATAL(call1(cl, json_pack("{s:s}", "op", "token_key_new"), &o), 0);
	created = json_integer_value(json_object_get(o, "created"));
	CU_ASSERT_TRUE(created >= t0 && created <= time(NULL) + 1);
	json_decref(o);
	o = NULL;
	CU_ASSERT_EQUAL_FATAL(call1(cl, json_pack("{s:s,s:i}", "op", "token_key_new", "now", 5), &o), 0);
	json_decref(o);
	keys = keys_oldest_5(4);
	CU_ASSERT_TRUE(json_equal(json_array_get(keys, 1), tk_a));
	CU_ASSERT_TRUE(json_equal(json_array_get(keys, 2), tk_b));
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_array_get(keys, 3), "created")),
	    created);
	for (size_t i = 0; i < 4; i++)
		check_entry(json_array_get(keys, i));
	json_decref(keys);
}

static void
test_token_sign(void)
{
	static const char msg[] = "eyJhbGciOiJFUzI1NiJ9.eyJlYXRfcHJvZmlsZSI6InRlc3QifQ";
	const char *la = json_string_value(json_object_get(tk_a, "label"));
	const json_t *ja = json_object_get(tk_a, "jwk"), *jb = json_object_get(tk_b, "jwk");
	uint8_t sig[64], sig2[64], md[32];
	char other[sizeof(msg)];
	EVP_PKEY *pk = NULL;
	EVP_PKEY_CTX *pc = NULL;
	ECDSA_SIG *es = NULL;
	uint8_t *der = NULL;
	size_t mlen = strlen(msg);
	int dl;

	CU_ASSERT_PTR_NOT_NULL_FATAL(la);
	CU_ASSERT_EQUAL_FATAL(hsm_sign_msg(cl, la, (const uint8_t *)msg, mlen, sig), 0);
	CU_ASSERT_EQUAL(es256_verify(ja, (const uint8_t *)msg, mlen, sig), 1);
	/* not with the other key, not over another message, not when flipped */
	CU_ASSERT_EQUAL(es256_verify(jb, (const uint8_t *)msg, mlen, sig), 0);
	memcpy(other, msg, sizeof(msg));
	other[5] ^= 1;
	CU_ASSERT_EQUAL(es256_verify(ja, (const uint8_t *)other, mlen, sig), 0);
	sig[10] ^= 0x80;
	CU_ASSERT_EQUAL(es256_verify(ja, (const uint8_t *)msg, mlen, sig), 0);
	sig[10] ^= 0x80;
	/* ECDSA is randomized: a second signature differs and verifies too */
	CU_ASSERT_EQUAL_FATAL(hsm_sign_msg(cl, la, (const uint8_t *)msg, mlen, sig2), 0);
	CU_ASSERT_NOT_EQUAL(memcmp(sig, sig2, 64), 0);
	CU_ASSERT_EQUAL(es256_verify(ja, (const uint8_t *)msg, mlen, sig2), 1);
	/* the signature is over the digest as sent: a bit-flipped digest does not verify */
	SHA256((const uint8_t *)msg, mlen, md);
	CU_ASSERT_EQUAL_FATAL(kw_jwk_import_public(ja, &pk), 0);
	es = ECDSA_SIG_new();
	CU_ASSERT_FATAL(es != NULL && ECDSA_SIG_set0(es, BN_bin2bn(sig, 32, NULL),
	    BN_bin2bn(sig + 32, 32, NULL)) == 1);
	CU_ASSERT_FATAL((dl = i2d_ECDSA_SIG(es, &der)) > 0);
	pc = EVP_PKEY_CTX_new(pk, NULL);
	CU_ASSERT_FATAL(pc != NULL && EVP_PKEY_verify_init(pc) == 1);
	CU_ASSERT_EQUAL(EVP_PKEY_verify(pc, der, (size_t)dl, md, 32), 1);
	md[31] ^= 1;
	CU_ASSERT_EQUAL(EVP_PKEY_verify(pc, der, (size_t)dl, md, 32), 0);
	EVP_PKEY_CTX_free(pc);
	OPENSSL_free(der);
	ECDSA_SIG_free(es);
	EVP_PKEY_free(pk);
}

/* Cross-check: a compact JWS made with the helper verifies with python3-jwcrypto. */
static void
test_token_jwcrypto(void)
{
	char hdr_json[160], *hdr = NULL, *pl = NULL, *sg = NULL, *jwk = NULL, *input = NULL;
	char jws_path[160], jwk_path[160], line[64];
	const char *payload = "{\"eat_profile\":\"tag:keywarden\",\"n\":1}";
	uint8_t sig[64];
	size_t il;

	snprintf(hdr_json, sizeof(hdr_json), "{\"alg\":\"ES256\",\"kid\":\"%s\"}",
	    json_string_value(json_object_get(tk_b, "kid")));
	CU_ASSERT_FATAL(kw_b64url_encode(hdr_json, strlen(hdr_json), &hdr) == 0 &&
	    kw_b64url_encode(payload, strlen(payload), &pl) == 0);
	il = strlen(hdr) + 1 + strlen(pl);
	input = malloc(il + 1 + 90);
	CU_ASSERT_PTR_NOT_NULL_FATAL(input);
	snprintf(input, il + 1, "%s.%s", hdr, pl);
	CU_ASSERT_EQUAL_FATAL(hsm_sign_msg(cl, json_string_value(json_object_get(tk_b, "label")),
	    (const uint8_t *)input, il, sig), 0);
	CU_ASSERT_FATAL(kw_b64url_encode(sig, 64, &sg) == 0);
	snprintf(input + il, 1 + 90, ".%s", sg);
	snprintf(jws_path, sizeof(jws_path), "%s/jws.txt", tmpdir);
	snprintf(jwk_path, sizeof(jwk_path), "%s/jwk.json", tmpdir);
	jwk = json_dumps(json_object_get(tk_b, "jwk"), JSON_COMPACT);
	CU_ASSERT_FATAL(jwk != NULL && write_file(jws_path, input, strlen(input), 0600) == 0 &&
	    write_file(jwk_path, jwk, strlen(jwk), 0600) == 0);
	CU_ASSERT_EQUAL(run_python(jws_script, jws_path, jwk_path, line, sizeof(line)), 0);
	CU_ASSERT_STRING_EQUAL(line, "ok");
	free(hdr);
	free(pl);
	free(sg);
	free(jwk);
	free(input);
}

static void
test_token_sign_errors(void)
{
	uint8_t md[33];
	json_t *o = NULL;
	pid_t pid = hsm_client_pid(cl);

	memset(md, 7, sizeof(md));
	CU_ASSERT_EQUAL(call1(cl, sign_req("kw-token/1699999999", md, 32), &o), KW_ERR_NOT_FOUND);
	CU_ASSERT_PTR_NULL(o);
	/* a resource key cannot sign; a token key cannot be released */
	CU_ASSERT_EQUAL(call1(cl, sign_req("t/aes/one", md, 32), &o), KW_ERR_INVALID_FORMAT);
	CU_ASSERT_EQUAL(call1(cl, release_req("kw-token/1700000000", &ka, "k"), &o),
	    KW_ERR_INVALID_FORMAT);
	CU_ASSERT_EQUAL(call1(cl, gen_req("kw-token/1700000002", "aes-256", 0, 1), &o),
	    KW_ERR_INVALID_FORMAT);
	CU_ASSERT_EQUAL(call1(cl, json_pack("{s:s,s:s}", "op", "token_key_destroy", "label",
	    "t/aes/one"), &o), KW_ERR_INVALID_FORMAT);
	CU_ASSERT_EQUAL(call1(cl, sign_req("kw-token/1700000000", md, 31), &o), KW_ERR_INVALID_FORMAT);
	CU_ASSERT_EQUAL(call1(cl, sign_req("kw-token/1700000000", md, 33), &o), KW_ERR_INVALID_FORMAT);
	CU_ASSERT_EQUAL(call1(cl, sign_req("kw-token/1700000000", md, 0), &o), KW_ERR_INVALID_FORMAT);
	CU_ASSERT_EQUAL(hsm_client_pid(cl), pid);
}

static void
test_token_key_attrs(void)
{
	const char *la = json_string_value(json_object_get(tk_a, "label"));
	CK_BBOOL b[12];
	uint8_t id1[64], id2[64], val[64];
	CK_OBJECT_HANDLE hpriv = 0, hpub = 0;
	CK_KEY_TYPE kt = 0;
	CK_ATTRIBUTE pa[] = {
		{CKA_TOKEN, &b[0], 1}, {CKA_PRIVATE, &b[1], 1}, {CKA_SENSITIVE, &b[2], 1},
		{CKA_EXTRACTABLE, &b[3], 1}, {CKA_SIGN, &b[4], 1}, {CKA_DECRYPT, &b[5], 1},
		{CKA_UNWRAP, &b[6], 1}, {CKA_DERIVE, &b[7], 1}, {CKA_ALWAYS_SENSITIVE, &b[8], 1},
		{CKA_NEVER_EXTRACTABLE, &b[9], 1}, {CKA_KEY_TYPE, &kt, sizeof(kt)}, {CKA_ID, id1, 64},
	};
	CK_ATTRIBUTE ua[] = {
		{CKA_TOKEN, &b[0], 1}, {CKA_PRIVATE, &b[1], 1}, {CKA_VERIFY, &b[2], 1},
		{CKA_ENCRYPT, &b[3], 1}, {CKA_WRAP, &b[4], 1}, {CKA_DERIVE, &b[5], 1}, {CKA_ID, id2, 64},
	};
	CK_ATTRIBUTE av = {CKA_VALUE, val, sizeof(val)};
	struct tp11 t;

	CU_ASSERT_EQUAL_FATAL(tp11_open(&t), 0);
	CU_ASSERT_EQUAL_FATAL(tp11_find(&t, CKO_PRIVATE_KEY, la, &hpriv), 1);
	CU_ASSERT_EQUAL_FATAL(tp11_find(&t, CKO_PUBLIC_KEY, la, &hpub), 1);
	CU_ASSERT_EQUAL(t.f->C_GetAttributeValue(t.s, hpriv, pa, KW_ARRAY_SIZE(pa)), CKR_OK);
	CU_ASSERT_TRUE(b[0] && b[1] && b[2] && !b[3] && b[4] && !b[5] && !b[6] && !b[7] && b[8] &&
	    b[9]);
	CU_ASSERT_EQUAL(kt, CKK_EC);
	CU_ASSERT_EQUAL(pa[11].ulValueLen, 16);
	/* the private value cannot be read */
	CU_ASSERT_EQUAL(t.f->C_GetAttributeValue(t.s, hpriv, &av, 1), CKR_ATTRIBUTE_SENSITIVE);
	/* ... nor set extractable afterwards */
	{
		CK_ATTRIBUTE set = {CKA_EXTRACTABLE, &ck_true_t, 1};

		CU_ASSERT_NOT_EQUAL(t.f->C_SetAttributeValue(t.s, hpriv, &set, 1), CKR_OK);
	}
	CU_ASSERT_EQUAL(t.f->C_GetAttributeValue(t.s, hpub, ua, KW_ARRAY_SIZE(ua)), CKR_OK);
	CU_ASSERT_TRUE(b[0] && !b[1] && b[2] && !b[3] && !b[4] && !b[5]);
	CU_ASSERT_EQUAL(ua[6].ulValueLen, 16);
	CU_ASSERT_EQUAL(memcmp(id1, id2, 16), 0);
	tp11_close(&t);
}

static void
test_token_key_destroy(void)
{
	const char *la = json_string_value(json_object_get(tk_a, "label"));
	json_t *keys = token_keys(cl), *o = NULL, *newest;
	uint8_t sig[64];
	CK_OBJECT_HANDLE h;
	char nl[64];
	struct tp11 t;

	CU_ASSERT_PTR_NOT_NULL_FATAL(keys);
	CU_ASSERT_EQUAL_FATAL(json_array_size(keys), 4);
	newest = json_array_get(keys, 3);
	snprintf(nl, sizeof(nl), "%s", json_string_value(json_object_get(newest, "label")));
	CU_ASSERT_EQUAL(call1(cl, json_pack("{s:s,s:s}", "op", "token_key_destroy", "label", nl), &o),
	    KW_ERR_DENIED);
	CU_ASSERT_EQUAL(call1(cl, json_pack("{s:s,s:s}", "op", "token_key_destroy", "label",
	    "kw-token/6"), &o), KW_ERR_NOT_FOUND);
	/* sign first so that its handle is cached, then destroy */
	CU_ASSERT_EQUAL(hsm_sign_msg(cl, la, (const uint8_t *)"x", 1, sig), 0);
	CU_ASSERT_EQUAL_FATAL(call1(cl, json_pack("{s:s,s:s}", "op", "token_key_destroy", "label",
	    la), &o), 0);
	CU_ASSERT_EQUAL(json_object_size(o), 2);
	json_decref(o);
	o = NULL;
	json_decref(keys);
	keys = keys_oldest_5(3);
	CU_ASSERT_TRUE(json_equal(json_array_get(keys, 1), tk_b));
	CU_ASSERT_EQUAL(hsm_sign_msg(cl, la, (const uint8_t *)"x", 1, sig), KW_ERR_NOT_FOUND);
	CU_ASSERT_EQUAL(call1(cl, json_pack("{s:s,s:s}", "op", "token_key_destroy", "label", la), &o),
	    KW_ERR_NOT_FOUND);
	/* both halves are gone from the token */
	CU_ASSERT_EQUAL_FATAL(tp11_open(&t), 0);
	CU_ASSERT_EQUAL(tp11_find(&t, CKO_PRIVATE_KEY, la, &h), 0);
	CU_ASSERT_EQUAL(tp11_find(&t, CKO_PUBLIC_KEY, la, &h), 0);
	tp11_close(&t);
	/* the label is free again */
	CU_ASSERT_EQUAL_FATAL(call1(cl, json_pack("{s:s,s:i}", "op", "token_key_new", "now", TK_NOW),
	    &o), 0);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "label")), la);
	CU_ASSERT_STRING_NOT_EQUAL(json_string_value(json_object_get(o, "kid")),
	    json_string_value(json_object_get(tk_a, "kid")));
	json_decref(o);
	json_decref(keys);
}

/* A private EC key made by someone else with a token-key label but no public half is skipped. */
static void
test_token_foreign(void)
{
	char cmd[512];
	json_t *keys;

	snprintf(cmd, sizeof(cmd), "pkcs11-tool --module %s --token-label kwtest --login --pin 5678 "
	    "--keypairgen --key-type EC:prime256v1 --label kw-token/3 --id 0102 >/dev/null 2>&1 && "
	    "pkcs11-tool --module %s --token-label kwtest --login --pin 5678 --delete-object "
	    "--type pubkey --label kw-token/3 >/dev/null 2>&1", MODULE, MODULE);
	CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
	keys = token_keys(cl);
	CU_ASSERT_PTR_NOT_NULL_FATAL(keys);
	CU_ASSERT_EQUAL(json_array_size(keys), 4);
	for (size_t i = 0; i < json_array_size(keys); i++)
		CU_ASSERT_STRING_NOT_EQUAL(json_string_value(json_object_get(json_array_get(keys, i),
		    "label")), "kw-token/3");
	json_decref(keys);
	/* it is on the token, though, so the label is taken for token_key_new */
	{
		json_t *o = NULL;

		CU_ASSERT_EQUAL_FATAL(call1(cl, json_pack("{s:s,s:i}", "op", "token_key_new", "now", 3),
		    &o), 0);
		CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "label")), "kw-token/4");
		json_decref(o);
	}
}

static void
test_token_sign_recycle(void)
{
	struct hsm_client *c = start_client(2);
	const char *lb = json_string_value(json_object_get(tk_b, "label"));
	const json_t *jb = json_object_get(tk_b, "jwk");
	uint8_t sig[64], v[64];
	json_t *o = NULL;

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(hsm_sign_msg(c, lb, (const uint8_t *)"before", 6, sig), 0);
	CU_ASSERT_EQUAL(es256_verify(jb, (const uint8_t *)"before", 6, sig), 1);
	/* two releases: the helper recycles after the second */
	CU_ASSERT_EQUAL(release_value(c, "t/aes/one", &ka, v, sizeof(v)), 32);
	CU_ASSERT_EQUAL(release_value(c, "t/aes/one", &ka, v, sizeof(v)), 32);
	CU_ASSERT_EQUAL_FATAL(call1(c, json_pack("{s:s}", "op", "stats"), &o), 0);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(o, "recycles")), 1);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(o, "signs")), 1);
	json_decref(o);
	CU_ASSERT_EQUAL(hsm_sign_msg(c, lb, (const uint8_t *)"after", 5, sig), 0);
	CU_ASSERT_EQUAL(es256_verify(jb, (const uint8_t *)"after", 5, sig), 1);
	hsm_client_free(c);
}

/* audit_sign's request: {"op":"audit_sign","digest"} of len bytes */
static json_t *
audit_sign_req(const uint8_t *digest, size_t len)
{
	char *d = NULL;
	json_t *o;

	if (kw_b64url_encode(digest, len, &d) != 0)
		return NULL;
	o = json_pack("{s:s,s:s}", "op", "audit_sign", "digest", d);
	free(d);
	return o;
}

/* The audit checkpoint signer of docs/audit.md through the real helper. */
static int
hsm_audit_signer(void *arg, const uint8_t digest[static 32], uint8_t ret_sig[static 64])
{
	json_t *o = NULL;
	int r = call1(arg, audit_sign_req(digest, 32), &o);

	if (r == 0 && hsm_member_b64(o, "sig", ret_sig, 64, 64, NULL) != 0)
		r = KW_ERR_HSM;
	json_decref(o);
	return r;
}

/*
 * The audit checkpoint key: made on first use, then the same; sensitive, not
 * extractable, sign only; not a token key and not a resource; its signatures
 * verify, and a C2SP checkpoint signed through it verifies with audit/.
 */
static void
test_audit_key(void)
{
	static const char msg[] = "keywarden.test/audit\n7\nAAAA\n";
	uint8_t md[33], sig[64];    /* md: one byte more for the too-long request */
	json_t *o = NULL, *o2 = NULL, *keys;
	const json_t *jwk;
	char tp[44];
	CK_BBOOL b[8];
	CK_OBJECT_HANDLE hpriv = 0, hpub = 0;
	CK_ATTRIBUTE pa[] = {
		{CKA_SENSITIVE, &b[0], 1}, {CKA_EXTRACTABLE, &b[1], 1}, {CKA_SIGN, &b[2], 1},
		{CKA_DECRYPT, &b[3], 1}, {CKA_UNWRAP, &b[4], 1}, {CKA_DERIVE, &b[5], 1},
		{CKA_NEVER_EXTRACTABLE, &b[6], 1}, {CKA_TOKEN, &b[7], 1},
	};
	struct tp11 t;

	SHA256((const uint8_t *)msg, strlen(msg), md);
	md[32] = 0x11;
	/* no key yet: nothing signs */
	CU_ASSERT_EQUAL(call1(cl, audit_sign_req(md, 32), &o), KW_ERR_NOT_FOUND);
	CU_ASSERT_EQUAL_FATAL(call1(cl, json_pack("{s:s}", "op", "audit_key"), &o), 0);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "label")), HSM_AUDIT_LABEL);
	jwk = json_object_get(o, "jwk");
	CU_ASSERT_EQUAL_FATAL(my_thumbprint(jwk, tp), 0);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "kid")), tp);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(jwk, "crv")), "P-256");
	/* asked again: the same key, not a new one */
	CU_ASSERT_EQUAL_FATAL(call1(cl, json_pack("{s:s}", "op", "audit_key"), &o2), 0);
	CU_ASSERT_TRUE(json_equal(json_object_get(o, "kid"), json_object_get(o2, "kid")));
	CU_ASSERT_TRUE(json_equal(json_object_get(o, "jwk"), json_object_get(o2, "jwk")));
	json_decref(o2);
	/* its signatures verify with its public key, not with a token key */
	CU_ASSERT_EQUAL_FATAL(call1(cl, audit_sign_req(md, 32), &o2), 0);
	CU_ASSERT_EQUAL_FATAL(hsm_member_b64(o2, "sig", sig, 64, 64, NULL), 0);
	json_decref(o2);
	CU_ASSERT_EQUAL(es256_verify(jwk, (const uint8_t *)msg, strlen(msg), sig), 1);
	CU_ASSERT_EQUAL(es256_verify(json_object_get(tk_b, "jwk"), (const uint8_t *)msg,
	    strlen(msg), sig), 0);
	/* the stored attributes */
	CU_ASSERT_EQUAL_FATAL(tp11_open(&t), 0);
	CU_ASSERT_EQUAL_FATAL(tp11_find(&t, CKO_PRIVATE_KEY, HSM_AUDIT_LABEL, &hpriv), 1);
	CU_ASSERT_EQUAL_FATAL(tp11_find(&t, CKO_PUBLIC_KEY, HSM_AUDIT_LABEL, &hpub), 1);
	CU_ASSERT_EQUAL(t.f->C_GetAttributeValue(t.s, hpriv, pa, KW_ARRAY_SIZE(pa)), CKR_OK);
	CU_ASSERT_TRUE(b[0] && !b[1] && b[2] && !b[3] && !b[4] && !b[5] && b[6] && b[7]);
	tp11_close(&t);
	/* the token ops and the resource ops do not reach it; it is not a token key */
	CU_ASSERT_EQUAL(call1(cl, sign_req(HSM_AUDIT_LABEL, md, 32), &o2), KW_ERR_INVALID_FORMAT);
	CU_ASSERT_EQUAL(call1(cl, gen_req(HSM_AUDIT_LABEL, "aes-256", 0, 1), &o2),
	    KW_ERR_INVALID_FORMAT);
	CU_ASSERT_EQUAL(call1(cl, json_pack("{s:s,s:s}", "op", "destroy", "label", HSM_AUDIT_LABEL),
	    &o2), KW_ERR_INVALID_FORMAT);
	keys = token_keys(cl);
	CU_ASSERT_PTR_NOT_NULL_FATAL(keys);
	for (size_t i = 0; i < json_array_size(keys); i++)
		CU_ASSERT_STRING_NOT_EQUAL(json_string_value(json_object_get(json_array_get(keys, i),
		    "label")), HSM_AUDIT_LABEL);
	json_decref(keys);
	/* malformed requests */
	CU_ASSERT_EQUAL(call1(cl, audit_sign_req(md, 31), &o2), KW_ERR_INVALID_FORMAT);
	CU_ASSERT_EQUAL(call1(cl, audit_sign_req(md, 33), &o2), KW_ERR_INVALID_FORMAT);
	CU_ASSERT_EQUAL(call1(cl, json_pack("{s:s,s:s,s:s}", "op", "audit_sign", "digest",
	    "AAAA", "label", "kw-token/1"), &o2), KW_ERR_INVALID_FORMAT);
	CU_ASSERT_EQUAL(call1(cl, json_pack("{s:s,s:b}", "op", "audit_key", "create", 1), &o2),
	    KW_ERR_INVALID_FORMAT);
	/* a C2SP checkpoint signed in the HSM verifies with audit/ and the key's SPKI */
	{
		struct audit_checkpoint cp = { .size = 7, .time = 1800000000 }, got;
		struct audit_vkey *vk = NULL;
		EVP_PKEY *pk = NULL;
		char *note = NULL;
		size_t len = 0;

		snprintf(cp.origin, sizeof(cp.origin), "keywarden.test/audit");
		memset(cp.root, 0x5a, sizeof(cp.root));
		CU_ASSERT_EQUAL_FATAL(kw_jwk_import_public(jwk, &pk), 0);
		CU_ASSERT_EQUAL_FATAL(audit_vkey_from_pkey(cp.origin, pk, &vk), 0);
		CU_ASSERT_EQUAL_FATAL(audit_checkpoint_sign(&cp, vk, hsm_audit_signer, cl, &note,
		    &len), 0);
		CU_ASSERT_EQUAL(audit_checkpoint_verify(note, len, vk, &got), 0);
		CU_ASSERT(got.size == 7 && memcmp(got.root, cp.root, 32) == 0);
		note[strlen(cp.origin) + 1] = '8';    /* the size */
		CU_ASSERT_EQUAL(audit_checkpoint_verify(note, len, vk, &got), KW_ERR_SIG_INVALID);
		free(note);
		audit_vkey_free(vk);
		EVP_PKEY_free(pk);
	}
	json_decref(o);
}

/* seal_keys as (version, key bytes) pairs; the number of keys, or -1 */
static int
seal_keys(struct hsm_client *c, int64_t *vers, uint8_t (*keys)[HSM_SEAL_KEY_LEN], size_t max)
{
	json_t *o = NULL, *arr, *e;
	size_t i, n;

	if (call1(c, json_pack("{s:s}", "op", "seal_keys"), &o) != 0)
		return -1;
	arr = json_object_get(o, "keys");
	if (!json_is_array(arr) || json_array_size(arr) > max) {
		json_decref(o);
		return -1;
	}
	json_array_foreach(arr, i, e) {
		vers[i] = json_integer_value(json_object_get(e, "version"));
		if (hsm_member_b64(e, "key", keys[i], HSM_SEAL_KEY_LEN, HSM_SEAL_KEY_LEN, &n) != 0) {
			json_decref(o);
			return -1;
		}
	}
	n = json_array_size(arr);
	json_decref(o);
	return (int)n;
}

/*
 * Seal keys: created on first use, the same derived bytes from another
 * helper process, rotation keeps the older versions' bytes and only the
 * newest HSM_SEAL_KEYS_MAX versions, and the prefix is reserved.
 */
static void
test_seal_keys(void)
{
	int64_t v[HSM_SEAL_KEYS_MAX], v2[HSM_SEAL_KEYS_MAX];
	uint8_t k[HSM_SEAL_KEYS_MAX][HSM_SEAL_KEY_LEN], k2[HSM_SEAL_KEYS_MAX][HSM_SEAL_KEY_LEN];
	struct hsm_client *other;
	json_t *o = NULL;
	int64_t t0 = (int64_t)time(NULL);

	CU_ASSERT_EQUAL_FATAL(seal_keys(cl, v, k, HSM_SEAL_KEYS_MAX), 1);
	CU_ASSERT(v[0] >= t0 - 1 && v[0] <= t0 + 5);
	/* again, and from another helper process: the same bytes (derived in the token) */
	CU_ASSERT_EQUAL_FATAL(seal_keys(cl, v2, k2, HSM_SEAL_KEYS_MAX), 1);
	CU_ASSERT_EQUAL(v2[0], v[0]);
	CU_ASSERT(memcmp(k2[0], k[0], HSM_SEAL_KEY_LEN) == 0);
	other = start_client(0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(other);
	memset(k2, 0, sizeof(k2));
	CU_ASSERT_EQUAL(seal_keys(other, v2, k2, HSM_SEAL_KEYS_MAX), 1);
	CU_ASSERT(memcmp(k2[0], k[0], HSM_SEAL_KEY_LEN) == 0);
	hsm_client_free(other);
	/* a rotation with an older clock still makes a newer version */
	CU_ASSERT_EQUAL_FATAL(call1(cl, json_pack("{s:s,s:I}", "op", "seal_key_new", "now",
	    (json_int_t)(v[0] - 100)), &o), 0);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(o, "version")), v[0] + 1);
	json_decref(o);
	CU_ASSERT_EQUAL_FATAL(seal_keys(cl, v2, k2, HSM_SEAL_KEYS_MAX), 2);
	CU_ASSERT(v2[0] == v[0] && v2[1] == v[0] + 1);
	CU_ASSERT(memcmp(k2[0], k[0], HSM_SEAL_KEY_LEN) == 0);
	CU_ASSERT(memcmp(k2[1], k[0], HSM_SEAL_KEY_LEN) != 0);
	memcpy(k[1], k2[1], HSM_SEAL_KEY_LEN);
	/* two more: the first version is destroyed, the others keep their bytes */
	for (int i = 0; i < 2; i++) {
		CU_ASSERT_EQUAL_FATAL(call1(cl, json_pack("{s:s}", "op", "seal_key_new"), &o), 0);
		json_decref(o);
	}
	CU_ASSERT_EQUAL_FATAL(seal_keys(cl, v2, k2, HSM_SEAL_KEYS_MAX), 3);
	CU_ASSERT_EQUAL(v2[0], v[0] + 1);
	CU_ASSERT(v2[1] > v2[0] && v2[2] > v2[1]);
	CU_ASSERT(memcmp(k2[0], k[1], HSM_SEAL_KEY_LEN) == 0);
	/* out of range, and the prefix is not a resource label */
	o = NULL;
	CU_ASSERT_EQUAL(call1(cl, json_pack("{s:s,s:i}", "op", "seal_key_new", "now", 0), &o),
	    KW_ERR_INVALID_FORMAT);
	json_decref(o);
	o = NULL;
	CU_ASSERT_EQUAL(call1(cl, gen_req("kw-seal/1", "aes-256", 0, 1), &o), KW_ERR_INVALID_FORMAT);
	json_decref(o);
	OPENSSL_cleanse(k, sizeof(k));
	OPENSSL_cleanse(k2, sizeof(k2));
}

void
test_hsm_p11_tokkey_cleanup(void)
{
	json_decref(tk_a);
	json_decref(tk_b);
	tk_a = tk_b = NULL;
}

int
test_hsm_p11_tokkey_suite(void)
{
	static const struct hsm_test tests[] = {
		{"token_keys_empty", test_token_keys_empty},
		{"token_key_new", test_token_key_new},
		{"token_sign", test_token_sign},
		{"token_jwcrypto", test_token_jwcrypto},
		{"token_sign_errors", test_token_sign_errors},
		{"token_key_attrs", test_token_key_attrs},
		{"token_key_destroy", test_token_key_destroy},
		{"token_foreign", test_token_foreign},
		{"token_sign_recycle", test_token_sign_recycle},
		{"audit_key", test_audit_key},
		{"seal_keys", test_seal_keys},
		{NULL, NULL},
	};

	return hsm_test_add_suite("hsm_p11_tokkey", true, tests);
}
