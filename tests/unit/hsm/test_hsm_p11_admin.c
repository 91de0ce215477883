/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hsm/hsm_p11_admin.c through the real helper: the admin-plane key
 * lifecycle (import key, import, key_list, destroy).
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

#define IMP_AES256 "kw-key/t/k/imp/v1"
#define IMP_AES128 "kw-key/t/k/imp128/v1"
#define IMP_SEC20 "kw-key/t/k/imp20/v1"
#define IMP_SEC1 "kw-key/t/k/imp1/v1"
#define IMP_SEC4096 "kw-key/t/k/imp4096/v1"
#define GEN_AES "kw-key/t/gen/a/v1"
#define GEN_SEC "kw-key/t/gen/s/v2"

static json_t *imp_key; /* the first import_key reply */

/* import_key reply (new reference) or NULL */
static json_t *
import_key_reply(struct hsm_client *c)
{
	json_t *o = NULL;

	return call1(c, json_pack("{s:s}", "op", "import_key"), &o) == 0 ? o : NULL;
}

static const char *
imp_kid(void)
{
	return json_string_value(json_object_get(imp_key, "kid"));
}

/*
 * What kwctl does: a fresh AES-256 KEK, RSA-OAEP (SHA-1) of it under the
 * import public key, AES-KWP (RFC 5649) of value under the KEK.
 */
int
wrap_for_import(const json_t *jwk, const uint8_t *value, size_t len, char **ret_kek,
    char **ret_val)
{
	static uint8_t wv[HSM_IMPORT_VALUE_MAX + 64];
	uint8_t kek[32], ek[512];
	size_t ekl = sizeof(ek);
	int l1 = 0, l2 = 0, r = -1;
	EVP_PKEY *pk = NULL;
	EVP_PKEY_CTX *pc = NULL;
	EVP_CIPHER_CTX *cc = NULL;

	*ret_kek = *ret_val = NULL;
	if (RAND_bytes(kek, sizeof(kek)) != 1 || kw_jwk_import_public(jwk, &pk) != 0 ||
	    (pc = EVP_PKEY_CTX_new(pk, NULL)) == NULL || EVP_PKEY_encrypt_init(pc) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_OAEP_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md(pc, EVP_sha1()) != 1 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(pc, EVP_sha1()) != 1 ||
	    EVP_PKEY_encrypt(pc, ek, &ekl, kek, sizeof(kek)) != 1)
		goto out;
	if ((cc = EVP_CIPHER_CTX_new()) == NULL)
		goto out;
	EVP_CIPHER_CTX_set_flags(cc, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
	if (EVP_EncryptInit_ex(cc, EVP_aes_256_wrap_pad(), NULL, kek, NULL) != 1 ||
	    EVP_EncryptUpdate(cc, wv, &l1, value, (int)len) != 1 ||
	    EVP_EncryptFinal_ex(cc, wv + l1, &l2) != 1)
		goto out;
	if (kw_b64url_encode(ek, ekl, ret_kek) != 0 ||
	    kw_b64url_encode(wv, (size_t)(l1 + l2), ret_val) != 0)
		goto out;
	r = 0;
out:
	OPENSSL_cleanse(kek, sizeof(kek));
	EVP_CIPHER_CTX_free(cc);
	EVP_PKEY_CTX_free(pc);
	EVP_PKEY_free(pk);
	return r;
}

static json_t *
import_req(const char *label, const char *kind, int length, const char *kid, const char *kek,
    const char *val)
{
	json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "op", "import", "label", label, "kind",
	    kind, "kid", kid, "kek", kek, "value", val);

	if (length > 0)
		json_object_set_new(o, "length", json_integer(length));
	return o;
}

/* Wrap value[0..len) and import it; the helper's result (0: created). */
static int
import_value(const char *label, const char *kind, int length, const uint8_t *value, size_t len)
{
	char *kek = NULL, *val = NULL;
	json_t *o = NULL;
	int r;

	if (wrap_for_import(json_object_get(imp_key, "jwk"), value, len, &kek, &val) != 0)
		return -4000;
	r = call1(cl, import_req(label, kind, length, imp_kid(), kek, val), &o);
	/* id, ok, created, and kind and length as stored */
	if (r == 0 && (!json_is_true(json_object_get(o, "created")) || json_object_size(o) != 5 ||
	    strcmp(json_string_value(json_object_get(o, "kind")), kind) != 0 ||
	    json_integer_value(json_object_get(o, "length")) !=
	    (strcmp(kind, "aes-128") == 0 ? 16 : strcmp(kind, "aes-256") == 0 ? 32 : length)))
		r = -4001;
	json_decref(o);
	free(kek);
	free(val);
	return r;
}

/* key_list with "after" (NULL: none); the labels (new reference) or NULL, *more, *err. */
static json_t *
key_list(struct hsm_client *c, const char *after, int *more, int *err)
{
	json_t *req = json_pack("{s:s}", "op", "key_list"), *o = NULL, *ls;

	if (after != NULL)
		json_object_set_new(req, "after", json_string(after));
	if ((*err = call1(c, req, &o)) != 0)
		return NULL;
	ls = json_incref(json_object_get(o, "labels"));
	if (more != NULL)
		*more = json_is_true(json_object_get(o, "more"));
	if (!json_is_boolean(json_object_get(o, "more")) || json_object_size(o) != 4) {
		json_decref(ls);
		ls = NULL;
	}
	json_decref(o);
	return json_is_array(ls) ? ls : NULL;
}

static json_t *
key_list_all(void)
{
	int err = 0;

	return key_list(cl, NULL, NULL, &err);
}

static int
destroy_label(struct hsm_client *c, const char *label, int *destroyed)
{
	json_t *o = NULL;
	int r = call1(c, json_pack("{s:s,s:s}", "op", "destroy", "label", label), &o);

	if (r == 0)
		*destroyed = json_is_true(json_object_get(o, "destroyed")) ? 1 :
		    json_is_false(json_object_get(o, "destroyed")) ? 0 : -1;
	json_decref(o);
	return r;
}

static void
test_import_key(void)
{
	const json_t *jwk;
	json_t *o2, *o3;
	struct hsm_client *c;
	char tp[44], ser[1024];
	uint8_t nb[600], md[32];
	size_t nl = 0;
	char *b64 = NULL;
	int n;

	imp_key = import_key_reply(cl);
	CU_ASSERT_PTR_NOT_NULL_FATAL(imp_key);
	CU_ASSERT_EQUAL(json_object_size(imp_key), 4);    /* id, ok, kid, jwk */
	jwk = json_object_get(imp_key, "jwk");
	CU_ASSERT_EQUAL(json_object_size(jwk), 3);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(jwk, "kty")), "RSA");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(jwk, "e")), "AQAB");
	CU_ASSERT_EQUAL(kw_b64url_decode(json_string_value(json_object_get(jwk, "n")),
	    strlen(json_string_value(json_object_get(jwk, "n"))), nb, sizeof(nb), &nl), 0);
	CU_ASSERT_EQUAL(nl, 384);
	CU_ASSERT_TRUE((nb[0] & 0x80) != 0);
	/* RFC 7638 by hand: {"e","kty","n"} in this order, SHA-256, base64url */
	n = snprintf(ser, sizeof(ser), "{\"e\":\"%s\",\"kty\":\"RSA\",\"n\":\"%s\"}",
	    json_string_value(json_object_get(jwk, "e")), json_string_value(json_object_get(jwk, "n")));
	CU_ASSERT_FATAL(n > 0 && (size_t)n < sizeof(ser));
	SHA256((const uint8_t *)ser, (size_t)n, md);
	CU_ASSERT_EQUAL_FATAL(kw_b64url_encode(md, 32, &b64), 0);
	CU_ASSERT_STRING_EQUAL(imp_kid(), b64);
	free(b64);
	CU_ASSERT_EQUAL(kw_jwk_thumbprint(jwk, tp), 0);
	CU_ASSERT_STRING_EQUAL(imp_kid(), tp);
	/* the same key on the next call ... */
	o2 = import_key_reply(cl);
	CU_ASSERT_PTR_NOT_NULL_FATAL(o2);
	CU_ASSERT_TRUE(json_equal(json_object_get(o2, "jwk"), jwk));
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o2, "kid")), imp_kid());
	json_decref(o2);
	/* ... from another helper process, and after it recycled */
	c = start_client(1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	o3 = import_key_reply(c);
	CU_ASSERT_TRUE(json_equal(json_object_get(o3, "jwk"), jwk));
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o3, "kid")), imp_kid());
	json_decref(o3);
	CU_ASSERT_EQUAL(release_value(c, "t/aes/one", &ka, nb, sizeof(nb)), 32);
	o3 = NULL;
	CU_ASSERT_EQUAL_FATAL(call1(c, json_pack("{s:s}", "op", "stats"), &o3), 0);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(o3, "recycles")), 1);
	json_decref(o3);
	o3 = import_key_reply(c);
	CU_ASSERT_TRUE(json_equal(json_object_get(o3, "jwk"), jwk));
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o3, "kid")), imp_kid());
	json_decref(o3);
	hsm_client_free(c);
}

/* The import key pair's stored attributes, read with direct PKCS#11 calls. */
static void
test_import_key_attrs(void)
{
	CK_BBOOL b[12];
	uint8_t val[1024], mod[600], nb[600];
	size_t nl = 0;
	const char *n64 = json_string_value(json_object_get(json_object_get(imp_key, "jwk"), "n"));
	CK_OBJECT_HANDLE hpriv = 0, hpub = 0;
	CK_ATTRIBUTE pa[] = {
		{CKA_TOKEN, &b[0], 1}, {CKA_PRIVATE, &b[1], 1}, {CKA_SENSITIVE, &b[2], 1},
		{CKA_EXTRACTABLE, &b[3], 1}, {CKA_UNWRAP, &b[4], 1}, {CKA_DECRYPT, &b[5], 1},
		{CKA_SIGN, &b[6], 1}, {CKA_DERIVE, &b[7], 1}, {CKA_ALWAYS_SENSITIVE, &b[8], 1},
		{CKA_NEVER_EXTRACTABLE, &b[9], 1},
	};
	CK_ATTRIBUTE ua[] = {
		{CKA_TOKEN, &b[0], 1}, {CKA_PRIVATE, &b[1], 1}, {CKA_ENCRYPT, &b[2], 1},
		{CKA_WRAP, &b[3], 1}, {CKA_VERIFY, &b[4], 1}, {CKA_MODULUS, mod, sizeof(mod)},
	};
	CK_ATTRIBUTE av = {CKA_PRIVATE_EXPONENT, val, sizeof(val)};
	struct tp11 t;

	CU_ASSERT_PTR_NOT_NULL_FATAL(n64);
	CU_ASSERT_EQUAL_FATAL(tp11_open(&t), 0);
	CU_ASSERT_EQUAL_FATAL(tp11_find(&t, CKO_PRIVATE_KEY, HSM_IMPORT_LABEL, &hpriv), 1);
	CU_ASSERT_EQUAL_FATAL(tp11_find(&t, CKO_PUBLIC_KEY, HSM_IMPORT_LABEL, &hpub), 1);
	CU_ASSERT_EQUAL(t.f->C_GetAttributeValue(t.s, hpriv, pa, KW_ARRAY_SIZE(pa)), CKR_OK);
	CU_ASSERT_TRUE(b[0] && b[1] && b[2] && !b[3] && b[4] && !b[5] && !b[6] && !b[7] && b[8] &&
	    b[9]);
	/* the private exponent and primes cannot be read ... */
	CU_ASSERT_EQUAL(t.f->C_GetAttributeValue(t.s, hpriv, &av, 1), CKR_ATTRIBUTE_SENSITIVE);
	av.type = CKA_PRIME_1;
	av.ulValueLen = sizeof(val);
	CU_ASSERT_EQUAL(t.f->C_GetAttributeValue(t.s, hpriv, &av, 1), CKR_ATTRIBUTE_SENSITIVE);
	/* ... nor wrapped out, nor made extractable afterwards */
	{
		CK_ATTRIBUTE set = {CKA_EXTRACTABLE, &ck_true_t, 1};

		CU_ASSERT_NOT_EQUAL(t.f->C_SetAttributeValue(t.s, hpriv, &set, 1), CKR_OK);
	}
	{
		CK_MECHANISM_TYPE mt[4];
		CK_ATTRIBUTE am = {CKA_ALLOWED_MECHANISMS, mt, sizeof(mt)};

		CU_ASSERT_EQUAL(t.f->C_GetAttributeValue(t.s, hpriv, &am, 1), CKR_OK);
		CU_ASSERT_EQUAL(am.ulValueLen, sizeof(mt[0]));
		CU_ASSERT_EQUAL(mt[0], CKM_RSA_PKCS_OAEP);
	}
	CU_ASSERT_EQUAL(t.f->C_GetAttributeValue(t.s, hpub, ua, KW_ARRAY_SIZE(ua)), CKR_OK);
	CU_ASSERT_TRUE(b[0] && !b[1] && b[2] && b[3] && !b[4]);
	CU_ASSERT_EQUAL(kw_b64url_decode(n64, strlen(n64), nb, sizeof(nb), &nl), 0);
	CU_ASSERT_EQUAL(ua[5].ulValueLen, nl);
	CU_ASSERT_EQUAL(memcmp(mod, nb, nl), 0);
	tp11_close(&t);
}

static void
test_import_roundtrip(void)
{
	static uint8_t known[4096], got[4200];
	uint8_t padded[32];
	struct tkey k;
	CK_OBJECT_HANDLE h = 0;
	struct tp11 t;

	for (size_t i = 0; i < sizeof(known); i++)
		known[i] = (uint8_t)(i * 7 + 3);
	CU_ASSERT_FATAL(tkey_gen(3072, &k) == 0);
	/* aes-256: exactly the known 32 bytes come back */
	CU_ASSERT_EQUAL_FATAL(import_value(IMP_AES256, "aes-256", 0, known, 32), 0);
	CU_ASSERT_EQUAL(release_value(cl, IMP_AES256, &k, got, sizeof(got)), 32);
	CU_ASSERT_EQUAL(memcmp(got, known, 32), 0);
	memset(got, 0, sizeof(got));
	CU_ASSERT_EQUAL(release_value(cl, IMP_AES256, &kb, got, sizeof(got)), 32);
	CU_ASSERT_EQUAL(memcmp(got, known, 32), 0);
	/* aes-128 */
	CU_ASSERT_EQUAL_FATAL(import_value(IMP_AES128, "aes-128", 16, known + 100, 16), 0);
	CU_ASSERT_EQUAL(release_value(cl, IMP_AES128, &k, got, sizeof(got)), 16);
	CU_ASSERT_EQUAL(memcmp(got, known + 100, 16), 0);
	/* a 20-byte secret, PKCS#7-padded by the importer: released without the padding */
	memcpy(padded, known + 200, 20);
	memset(padded + 20, 12, 12);
	CU_ASSERT_EQUAL_FATAL(import_value(IMP_SEC20, "secret", 20, padded, 32), 0);
	CU_ASSERT_EQUAL(release_value(cl, IMP_SEC20, &k, got, sizeof(got)), 20);
	CU_ASSERT_EQUAL(memcmp(got, known + 200, 20), 0);
	/* 1 byte (a full block of padding follows it) and 4096 bytes (none) */
	memset(padded, 15, 16);
	padded[0] = 0x42;
	CU_ASSERT_EQUAL_FATAL(import_value(IMP_SEC1, "secret", 1, padded, 16), 0);
	CU_ASSERT_EQUAL(release_value(cl, IMP_SEC1, &k, got, sizeof(got)), 1);
	CU_ASSERT_EQUAL(got[0], 0x42);
	CU_ASSERT_EQUAL_FATAL(import_value(IMP_SEC4096, "secret", 4096, known, 4096), 0);
	CU_ASSERT_EQUAL(release_value(cl, IMP_SEC4096, &k, got, sizeof(got)), 4096);
	CU_ASSERT_EQUAL(memcmp(got, known, 4096), 0);
	/* stored exactly like a generated secret */
	CU_ASSERT_EQUAL_FATAL(tp11_open(&t), 0);
	CU_ASSERT_EQUAL_FATAL(tp11_find(&t, CKO_SECRET_KEY, IMP_SEC20, &h), 1);
	{
		CK_BBOOL b[11];
		CK_KEY_TYPE kt = 0;
		CK_ULONG vl = 0;
		char id[32];
		uint8_t v[64];
		CK_ATTRIBUTE a[] = {
			{CKA_TOKEN, &b[0], 1}, {CKA_PRIVATE, &b[1], 1}, {CKA_SENSITIVE, &b[2], 1},
			{CKA_EXTRACTABLE, &b[3], 1}, {CKA_ENCRYPT, &b[4], 1}, {CKA_DECRYPT, &b[5], 1},
			{CKA_WRAP, &b[6], 1}, {CKA_UNWRAP, &b[7], 1}, {CKA_SIGN, &b[8], 1},
			{CKA_VERIFY, &b[9], 1}, {CKA_DERIVE, &b[10], 1}, {CKA_KEY_TYPE, &kt, sizeof(kt)},
			{CKA_VALUE_LEN, &vl, sizeof(vl)}, {CKA_ID, id, sizeof(id)},
		};
		CK_ATTRIBUTE av = {CKA_VALUE, v, sizeof(v)};

		CU_ASSERT_EQUAL(t.f->C_GetAttributeValue(t.s, h, a, KW_ARRAY_SIZE(a)), CKR_OK);
		CU_ASSERT_TRUE(b[0] && b[1] && b[2] && b[3] && !b[4] && !b[5] && !b[6] && !b[7] &&
		    !b[8] && !b[9] && !b[10]);
		CU_ASSERT_EQUAL(kt, CKK_GENERIC_SECRET);
		/* SoftHSM 2.6.1 leaves CKA_VALUE_LEN at 0 on unwrap; the layout is in CKA_ID */
		CU_ASSERT_TRUE(vl == 0 || vl == 32);
		CU_ASSERT_EQUAL(a[13].ulValueLen, 10);
		CU_ASSERT_EQUAL(memcmp(id, "kw1:len=20", 10), 0);
		CU_ASSERT_EQUAL(t.f->C_GetAttributeValue(t.s, h, &av, 1), CKR_ATTRIBUTE_SENSITIVE);
	}
	CU_ASSERT_EQUAL(tp11_find(&t, CKO_SECRET_KEY, IMP_AES128, &h), 1);
	{
		CK_KEY_TYPE kt = 0;
		CK_ULONG vl = 0;
		CK_ATTRIBUTE a[] = {{CKA_KEY_TYPE, &kt, sizeof(kt)}, {CKA_VALUE_LEN, &vl, sizeof(vl)}};

		CU_ASSERT_EQUAL(t.f->C_GetAttributeValue(t.s, h, a, 2), CKR_OK);
		CU_ASSERT_EQUAL(kt, CKK_AES);
		CU_ASSERT_TRUE(vl == 0 || vl == 16);
	}
	tp11_close(&t);
	tkey_free(&k);
}

/* A rejected import leaves the token as it was. */
static void
check_unchanged(const json_t *before, const char *label)
{
	json_t *now = key_list_all();
	CK_OBJECT_HANDLE h;
	struct tp11 t;

	CU_ASSERT_TRUE(json_equal(before, now));
	json_decref(now);
	CU_ASSERT_EQUAL_FATAL(tp11_open(&t), 0);
	CU_ASSERT_EQUAL(tp11_find(&t, CKO_SECRET_KEY, label, &h), 0);
	tp11_close(&t);
}

/* Flip one byte in the middle of a base64url string's decoded bytes. */
static char *
tamper(const char *b64)
{
	uint8_t buf[HSM_IMPORT_VALUE_MAX + 64];
	size_t n = 0;
	char *out = NULL;

	if (kw_b64url_decode(b64, strlen(b64), buf, sizeof(buf), &n) != 0 || n == 0)
		return NULL;
	buf[n / 2] ^= 0x01;
	return kw_b64url_encode(buf, n, &out) == 0 ? out : NULL;
}

static void
test_import_rejects(void)
{
	const json_t *jwk = json_object_get(imp_key, "jwk");
	static const char *const lbl = "kw-key/t/k/bad/v1";
	uint8_t v[32];
	char *kek = NULL, *val = NULL, *bad = NULL;
	json_t *before = key_list_all(), *o = NULL;

	CU_ASSERT_PTR_NOT_NULL_FATAL(before);
	CU_ASSERT_FATAL(RAND_bytes(v, sizeof(v)) == 1);
	CU_ASSERT_EQUAL_FATAL(wrap_for_import(jwk, v, 32, &kek, &val), 0);
	/* each case changes one thing; the untouched request is imported at the end */
	/* wrong kid */
	CU_ASSERT_EQUAL(call1(cl, import_req(lbl, "aes-256", 0, KID43, kek, val), &o),
	    KW_ERR_MISMATCH);
	check_unchanged(before, lbl);
	/* a tampered kek (OAEP fails), a tampered value (the KWP integrity check fails) */
	for (int k = 0; k < 2; k++) {
		bad = tamper(k == 0 ? kek : val);
		CU_ASSERT_PTR_NOT_NULL_FATAL(bad);
		CU_ASSERT_EQUAL(call1(cl, import_req(lbl, "aes-256", 0, imp_kid(), k == 0 ? bad : kek,
		    k == 0 ? val : bad), &o), KW_ERR_INVALID_FORMAT);
		free(bad);
		check_unchanged(before, lbl);
	}
	/* the same value claimed as aes-128 or as a 20-byte secret */
	CU_ASSERT_EQUAL(call1(cl, import_req(lbl, "aes-128", 0, imp_kid(), kek, val), &o),
	    KW_ERR_INVALID_FORMAT);
	free(kek);
	free(val);
	/* aes-256 with a 16-byte value */
	CU_ASSERT_EQUAL(import_value(lbl, "aes-256", 0, v, 16), KW_ERR_INVALID_FORMAT);
	check_unchanged(before, lbl);
	/*
	 * Lengths that the wrapped size cannot tell apart (KWP pads to 8): only
	 * the unwrapped CKA_VALUE_LEN shows them. A 30-byte value as a 32-byte
	 * secret, a 25-byte value as aes-256.
	 */
	CU_ASSERT_EQUAL(import_value(lbl, "secret", 32, v, 30), KW_ERR_INVALID_FORMAT);
	check_unchanged(before, lbl);
	CU_ASSERT_EQUAL(import_value(lbl, "aes-256", 0, v, 25), KW_ERR_INVALID_FORMAT);
	check_unchanged(before, lbl);
	/* a 20-byte secret whose padding block is missing (20 bytes wrapped as they are) */
	CU_ASSERT_EQUAL(import_value(lbl, "secret", 20, v, 20), KW_ERR_INVALID_FORMAT);
	check_unchanged(before, lbl);
	/* duplicate labels: an imported one and a generated one */
	CU_ASSERT_EQUAL_FATAL(call1(cl, gen_req(GEN_AES, "aes-256", 0, 0), &o), 0);
	json_decref(o);
	o = NULL;
	json_decref(before);
	before = key_list_all();
	CU_ASSERT_EQUAL(import_value(IMP_AES256, "aes-256", 0, v, 32), KW_ERR_EXISTS);
	CU_ASSERT_EQUAL(import_value(GEN_AES, "aes-256", 0, v, 32), KW_ERR_EXISTS);
	{
		json_t *now = key_list_all();

		CU_ASSERT_TRUE(json_equal(before, now));
		json_decref(now);
	}
	/* the import key's own label and token-key labels are not import targets */
	CU_ASSERT_EQUAL_FATAL(wrap_for_import(jwk, v, 32, &kek, &val), 0);
	CU_ASSERT_EQUAL(call1(cl, import_req(HSM_IMPORT_LABEL, "aes-256", 0, imp_kid(), kek, val), &o),
	    KW_ERR_INVALID_FORMAT);
	CU_ASSERT_EQUAL(call1(cl, import_req("t/k/old", "aes-256", 0, imp_kid(), kek, val), &o),
	    KW_ERR_INVALID_FORMAT);
	/* and the good request still works afterwards */
	CU_ASSERT_EQUAL(call1(cl, import_req(lbl, "aes-256", 0, imp_kid(), kek, val), &o), 0);
	json_decref(o);
	o = NULL;
	{
		uint8_t got[64];

		CU_ASSERT_EQUAL(release_value(cl, lbl, &ka, got, sizeof(got)), 32);
		CU_ASSERT_EQUAL(memcmp(got, v, 32), 0);
	}
	{
		int d = -1;

		CU_ASSERT_EQUAL(destroy_label(cl, lbl, &d), 0);
		CU_ASSERT_EQUAL(d, 1);
	}
	free(kek);
	free(val);
	json_decref(before);
}

static void
test_key_list_destroy(void)
{
	static const char *const want[] = {GEN_AES, GEN_SEC, IMP_AES256, IMP_SEC1, IMP_AES128,
		IMP_SEC20, IMP_SEC4096};
	json_t *ls, *o = NULL;
	uint8_t got[64];
	int d = -1, more = -1, err = 0;

	CU_ASSERT_EQUAL_FATAL(call1(cl, gen_req(GEN_SEC, "secret", 20, 0), &o), 0);
	json_decref(o);
	o = NULL;
	/* sorted; no old-style labels, token keys or the import key */
	ls = key_list(cl, NULL, &more, &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ls);
	CU_ASSERT_EQUAL(more, 0);
	CU_ASSERT_EQUAL(json_array_size(ls), KW_ARRAY_SIZE(want));
	for (size_t i = 0; i < KW_ARRAY_SIZE(want) && i < json_array_size(ls); i++)
		CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(ls, i)), want[i]);
	json_decref(ls);
	/* "after" */
	ls = key_list(cl, IMP_AES256, &more, &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ls);
	CU_ASSERT_EQUAL(json_array_size(ls), 4);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(ls, 0)), IMP_SEC1);
	json_decref(ls);
	ls = key_list(cl, "kw-key/z", &more, &err);
	CU_ASSERT_EQUAL(json_array_size(ls), 0);
	CU_ASSERT_EQUAL(more, 0);
	json_decref(ls);
	/* release (its handle is cached), destroy, and it is gone for good */
	CU_ASSERT_EQUAL(release_value(cl, IMP_AES256, &ka, got, sizeof(got)), 32);
	CU_ASSERT_EQUAL(destroy_label(cl, IMP_AES256, &d), 0);
	CU_ASSERT_EQUAL(d, 1);
	CU_ASSERT_EQUAL(destroy_label(cl, IMP_AES256, &d), 0);
	CU_ASSERT_EQUAL(d, 0);
	CU_ASSERT_EQUAL(call1(cl, release_req(IMP_AES256, &ka, "k"), &o), KW_ERR_NOT_FOUND);
	CU_ASSERT_EQUAL(destroy_label(cl, "kw-key/t/no/such/v1", &d), 0);
	CU_ASSERT_EQUAL(d, 0);
	ls = key_list_all();
	CU_ASSERT_EQUAL(json_array_size(ls), KW_ARRAY_SIZE(want) - 1);
	for (size_t i = 0; i < json_array_size(ls); i++)
		CU_ASSERT_STRING_NOT_EQUAL(json_string_value(json_array_get(ls, i)), IMP_AES256);
	json_decref(ls);
	{
		CK_OBJECT_HANDLE h;
		struct tp11 t;

		CU_ASSERT_EQUAL_FATAL(tp11_open(&t), 0);
		CU_ASSERT_EQUAL(tp11_find(&t, CKO_SECRET_KEY, IMP_AES256, &h), 0);
		/* the others are untouched */
		CU_ASSERT_EQUAL(tp11_find(&t, CKO_SECRET_KEY, IMP_SEC20, &h), 1);
		CU_ASSERT_EQUAL(tp11_find(&t, CKO_PRIVATE_KEY, HSM_IMPORT_LABEL, &h), 1);
		tp11_close(&t);
	}
	/* only kw-key/ labels can be destroyed */
	CU_ASSERT_EQUAL(destroy_label(cl, "t/aes/one", &d), KW_ERR_INVALID_FORMAT);
	CU_ASSERT_EQUAL(destroy_label(cl, HSM_IMPORT_LABEL, &d), KW_ERR_INVALID_FORMAT);
	CU_ASSERT_EQUAL(release_value(cl, "t/aes/one", &ka, got, sizeof(got)), 32);
	/* the label can be used again: a new value */
	{
		uint8_t v[32];

		memset(v, 0x5a, sizeof(v));
		CU_ASSERT_EQUAL(import_value(IMP_AES256, "aes-256", 0, v, 32), 0);
		CU_ASSERT_EQUAL(release_value(cl, IMP_AES256, &ka, got, sizeof(got)), 32);
		CU_ASSERT_EQUAL(memcmp(got, v, 32), 0);
	}
	/* a generated kw-key/ secret is destroyed the same way */
	CU_ASSERT_EQUAL(destroy_label(cl, GEN_SEC, &d), 0);
	CU_ASSERT_EQUAL(d, 1);
	CU_ASSERT_EQUAL(call1(cl, release_req(GEN_SEC, &ka, "k"), &o), KW_ERR_NOT_FOUND);
}

#define MANY 300

/* More labels than one reply holds: {} is refused, paging with "after" gets them all. */
static void
test_key_list_pages(void)
{
	static struct res xs[MANY];
	char label[64], last[HSM_LABEL_MAX + 1] = "";
	json_t *ls, *base_ls = key_list_all();
	size_t total = 0, pages = 0, many = 0, nbase;
	int more = 1, err = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(base_ls);
	nbase = json_array_size(base_ls);
	for (int i = 0; i < MANY; i++) {
		snprintf(label, sizeof(label), "kw-key/t/many/%03d/v1", i);
		CU_ASSERT_EQUAL_FATAL(call_json(cl, gen_req(label, "aes-128", 0, 0), res_cb,
		    &xs[i]), 0);
	}
	CU_ASSERT_EQUAL_FATAL(wait_all(xs, MANY), 0);
	for (int i = 0; i < MANY; i++)
		CU_ASSERT_EQUAL(xs[i].r, 0);
	res_clear(xs, MANY);
	CU_ASSERT_PTR_NULL(key_list(cl, NULL, &more, &err));
	CU_ASSERT_EQUAL(err, KW_ERR_TOO_LARGE);
	while (more) {
		ls = key_list(cl, last, &more, &err);
		CU_ASSERT_PTR_NOT_NULL_FATAL(ls);
		CU_ASSERT_TRUE(json_array_size(ls) <= HSM_KEY_LIST_PAGE);
		CU_ASSERT_TRUE(!more || json_array_size(ls) == HSM_KEY_LIST_PAGE);
		for (size_t i = 0; i < json_array_size(ls); i++) {
			const char *s = json_string_value(json_array_get(ls, i));

			CU_ASSERT_PTR_NOT_NULL_FATAL(s);
			if (s == NULL)
				break;
			CU_ASSERT_TRUE(strcmp(s, last) > 0);
			snprintf(last, sizeof(last), "%s", s);
			many += strncmp(s, "kw-key/t/many/", 14) == 0;
			total++;
		}
		pages++;
		json_decref(ls);
		if (pages > 10)
			break;
	}
	CU_ASSERT_EQUAL(pages, 2);
	CU_ASSERT_EQUAL(many, MANY);
	CU_ASSERT_EQUAL(total, MANY + nbase);
	for (int i = 0; i < MANY; i++) {
		snprintf(label, sizeof(label), "kw-key/t/many/%03d/v1", i);
		CU_ASSERT_EQUAL_FATAL(call_json(cl, json_pack("{s:s,s:s}", "op", "destroy",
		    "label", label), res_cb, &xs[i]), 0);
	}
	CU_ASSERT_EQUAL_FATAL(wait_all(xs, MANY), 0);
	for (int i = 0; i < MANY; i++)
		CU_ASSERT_TRUE(xs[i].r == 0 && json_is_true(json_object_get(xs[i].o, "destroyed")));
	res_clear(xs, MANY);
	ls = key_list_all();
	CU_ASSERT_TRUE(json_equal(ls, base_ls));
	json_decref(ls);
	json_decref(base_ls);
}

void
test_hsm_p11_admin_cleanup(void)
{
	json_decref(imp_key);
	imp_key = NULL;
}

int
test_hsm_p11_admin_suite(void)
{
	static const struct hsm_test tests[] = {
		{"import_key", test_import_key},
		{"import_key_attrs", test_import_key_attrs},
		{"import_roundtrip", test_import_roundtrip},
		{"import_rejects", test_import_rejects},
		{"key_list_destroy", test_key_list_destroy},
		{"key_list_pages", test_key_list_pages},
		{NULL, NULL},
	};

	return hsm_test_add_suite("hsm_p11_admin", true, tests);
}
