/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hsm/ tests. Part 1 needs no token: the strict request parser (good
 * requests, rejects, truncation and bit-flip sweeps) and the JWE assembly.
 * Part 2 runs the real keywarden-hsm (argv[1]) against a throw-away SoftHSM2
 * token through hsm_client and decrypts every release with code written
 * here (and once with python3-jwcrypto, argv[2]).
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

#define MODULE "/usr/lib/softhsm/libsofthsm2.so"
#define PROFILE HSM_PROFILE_RSA_OAEP_A256CBC_HS512

static const char *helper_path, *py_script, *jws_script;
static char tmpdir[64], conf_path[128], pin_path[128];
static struct event_base *base;
static struct hsm_client *cl;

/* An OpenSSL RSA key and its public numbers in base64url. */
struct tkey {
	EVP_PKEY *pk;
	char *n, *e;
};

static void
tkey_free(struct tkey *k)
{
	EVP_PKEY_free(k->pk);
	free(k->n);
	free(k->e);
	memset(k, 0, sizeof(*k));
}

static int
tkey_gen(unsigned int bits, struct tkey *k)
{
	BIGNUM *n = NULL, *e = NULL;
	uint8_t nb[1024], eb[16];
	int r = -1, nl, el;

	memset(k, 0, sizeof(*k));
	if ((k->pk = EVP_RSA_gen(bits)) == NULL ||
	    EVP_PKEY_get_bn_param(k->pk, OSSL_PKEY_PARAM_RSA_N, &n) != 1 ||
	    EVP_PKEY_get_bn_param(k->pk, OSSL_PKEY_PARAM_RSA_E, &e) != 1)
		goto out;
	nl = BN_bn2bin(n, nb);
	el = BN_bn2bin(e, eb);
	if (kw_b64url_encode(nb, (size_t)nl, &k->n) != 0 || kw_b64url_encode(eb, (size_t)el, &k->e) != 0)
		goto out;
	r = 0;
out:
	BN_free(n);
	BN_free(e);
	return r;
}

/* ---- the test's own JWE decryptor (independent of hsm_jwe.c) ---- */

static int
b64part(const char *s, size_t len, uint8_t *out, size_t max, size_t *ret_len)
{
	return kw_b64url_decode(s, len, out, max, ret_len);
}

/* 0 and out[0..*ret_len) on success. */
static int
test_decrypt(const char *jwe, EVP_PKEY *pk, uint8_t *out, size_t max, size_t *ret_len)
{
	const char *d[4], *p = jwe;
	static uint8_t ek[1024], iv[64], ct[8192], tag[64], hdr[512], mac[64], rsa_out[1024];
	uint8_t *pt = NULL;
	size_t ekl, ivl, ctl, tagl, hdrl, cekl = sizeof(rsa_out);
	uint8_t al[8];
	uint64_t aadbits;
	unsigned int macl = 0;
	EVP_PKEY_CTX *pc = NULL;
	EVP_CIPHER_CTX *cc = NULL;
	uint8_t *macin = NULL;
	size_t aadl;
	int r = -1, o1 = 0, o2 = 0;

	for (int i = 0; i < 4; i++) {
		if ((d[i] = strchr(p, '.')) == NULL)
			return -1;
		p = d[i] + 1;
	}
	if (b64part(jwe, (size_t)(d[0] - jwe), hdr, sizeof(hdr) - 1, &hdrl) != 0 ||
	    b64part(d[0] + 1, (size_t)(d[1] - d[0] - 1), ek, sizeof(ek), &ekl) != 0 ||
	    b64part(d[1] + 1, (size_t)(d[2] - d[1] - 1), iv, sizeof(iv), &ivl) != 0 ||
	    b64part(d[2] + 1, (size_t)(d[3] - d[2] - 1), ct, sizeof(ct), &ctl) != 0 ||
	    b64part(d[3] + 1, strlen(d[3] + 1), tag, sizeof(tag), &tagl) != 0)
		return -1;
	hdr[hdrl] = 0;
	if (ivl != 16 || tagl != 32)
		return -1;
	if ((pc = EVP_PKEY_CTX_new(pk, NULL)) == NULL || EVP_PKEY_decrypt_init(pc) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_OAEP_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md(pc, EVP_sha1()) != 1 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(pc, EVP_sha1()) != 1 ||
	    EVP_PKEY_decrypt(pc, rsa_out, &cekl, ek, ekl) != 1 || cekl != 64)
		goto out;
	aadbits = (uint64_t)(d[0] - jwe) * 8;
	for (int i = 0; i < 8; i++)
		al[i] = (uint8_t)(aadbits >> (56 - 8 * i));
	/* one-shot HMAC over AAD || IV || CT || AL (hsm_jwe.c streams it with EVP_MAC) */
	aadl = (size_t)(d[0] - jwe);
	if ((macin = malloc(aadl + 16 + ctl + 8)) == NULL)
		goto out;
	memcpy(macin, jwe, aadl);
	memcpy(macin + aadl, iv, 16);
	memcpy(macin + aadl + 16, ct, ctl);
	memcpy(macin + aadl + 16 + ctl, al, 8);
	if (HMAC(EVP_sha512(), rsa_out, 32, macin, aadl + 16 + ctl + 8, mac, &macl) == NULL ||
	    macl != 64)
		goto out;
	if (CRYPTO_memcmp(mac, tag, 32) != 0)
		goto out;
	if ((pt = malloc(ctl + 16)) == NULL || (cc = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_DecryptInit_ex(cc, EVP_aes_256_cbc(), NULL, rsa_out + 32, iv) != 1 ||
	    EVP_DecryptUpdate(cc, pt, &o1, ct, (int)ctl) != 1 ||
	    EVP_DecryptFinal_ex(cc, pt + o1, &o2) != 1 || (size_t)(o1 + o2) > max)
		goto out;
	memcpy(out, pt, (size_t)(o1 + o2));
	*ret_len = (size_t)(o1 + o2);
	r = 0;
out:
	free(pt);
	EVP_PKEY_CTX_free(pc);
	EVP_CIPHER_CTX_free(cc);
	free(macin);
	return r;
}

/* ---- part 1: parser ---- */

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

static struct tkey key2048;

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
	};
	uint32_t id = 99;
	char label[HSM_LABEL_MAX + 2], *s;

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
	s = release_json(label, key2048.n, key2048.e, "k");
	CU_ASSERT_EQUAL(parse_str(s, &req, &id), 0);
	free(s);
	label[HSM_LABEL_MAX] = 'a';
	label[HSM_LABEL_MAX + 1] = 0;
	s = release_json(label, key2048.n, key2048.e, "k");
	CU_ASSERT_EQUAL(parse_str(s, &req, &id), KW_ERR_INVALID_FORMAT);
	free(s);
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
	s = release_json("a", k1024.n, k1024.e, "k");
	CU_ASSERT_EQUAL(parse_str(s, &req, &id), KW_ERR_INVALID_FORMAT);
	free(s);
	/* leading zero byte on a valid modulus */
	CU_ASSERT_FATAL(kw_b64url_decode(key2048.n, strlen(key2048.n), nb + 1, 1024, &nl) == 0);
	nb[0] = 0;
	CU_ASSERT_FATAL(kw_b64url_encode(nb, nl + 1, &nz) == 0);
	s = release_json("a", nz, key2048.e, "k");
	CU_ASSERT_EQUAL(parse_str(s, &req, &id), KW_ERR_INVALID_FORMAT);
	free(s);
	/* even modulus */
	nb[nl] &= 0xfe;
	CU_ASSERT_FATAL(kw_b64url_encode(nb + 1, nl, &even) == 0);
	s = release_json("a", even, key2048.e, "k");
	CU_ASSERT_EQUAL(parse_str(s, &req, &id), KW_ERR_INVALID_FORMAT);
	free(s);
	/* 8200 bits */
	memset(nb, 0xff, 1026);
	CU_ASSERT_FATAL(kw_b64url_encode(nb, 1026, &big) == 0);
	s = release_json("a", big, key2048.e, "k");
	CU_ASSERT_EQUAL(parse_str(s, &req, &id), KW_ERR_INVALID_FORMAT);
	free(s);
	/* exponents: even, 1, padded, not base64url */
	s = release_json("a", key2048.n, "AQAA", "k");
	CU_ASSERT_EQUAL(parse_str(s, &req, &id), KW_ERR_INVALID_FORMAT);
	free(s);
	s = release_json("a", key2048.n, "AQ", "k");
	CU_ASSERT_EQUAL(parse_str(s, &req, &id), KW_ERR_INVALID_FORMAT);
	free(s);
	s = release_json("a", key2048.n, "AQAB==", "k");
	CU_ASSERT_EQUAL(parse_str(s, &req, &id), KW_ERR_INVALID_FORMAT);
	free(s);
	s = release_json("a", key2048.n, "AAEAAQ", "k");
	CU_ASSERT_EQUAL(parse_str(s, &req, &id), KW_ERR_INVALID_FORMAT);
	free(s);
	s = release_json("a", key2048.n, "Aw", "k");
	CU_ASSERT_EQUAL(parse_str(s, &req, &id), 0);
	free(s);
	/* kid length cap */
	memset(kid, 'k', sizeof(kid));
	kid[HSM_KID_MAX] = 0;
	s = release_json("a", key2048.n, key2048.e, kid);
	CU_ASSERT_EQUAL(parse_str(s, &req, &id), 0);
	free(s);
	kid[HSM_KID_MAX] = 'k';
	kid[HSM_KID_MAX + 1] = 0;
	s = release_json("a", key2048.n, key2048.e, kid);
	CU_ASSERT_EQUAL(parse_str(s, &req, &id), KW_ERR_INVALID_FORMAT);
	free(s);
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

static void
test_parse_sweeps(void)
{
	static struct hsm_req req;
	char *s = release_json("repo/key/1", key2048.n, key2048.e, "kid");
	size_t len = strlen(s);
	uint32_t id;
	unsigned long accepted = 0;
	char *m = malloc(len);

	CU_ASSERT_FATAL(m != NULL);
	CU_ASSERT_EQUAL(hsm_req_parse(s, len, &req, &id), 0);
	/* every proper prefix fails cleanly */
	for (size_t i = 0; i < len; i++)
		CU_ASSERT_NOT_EQUAL(hsm_req_parse(s, i, &req, &id), 0);
	/* single bit flips: never crash; what is accepted still satisfies the invariants */
	for (size_t i = 0; i < len; i++) {
		for (int b = 0; b < 8; b++) {
			memcpy(m, s, len);
			m[i] = (char)(m[i] ^ (1 << b));
			if (hsm_req_parse(m, len, &req, &id) == 0) {
				/* a flipped JSON delimiter can never give a valid request */
				CU_ASSERT_PTR_NULL(strchr("{}\":,", s[i]));
				accepted++;
				CU_ASSERT_TRUE(req.op != HSM_OP_RELEASE ||
				    (hsm_label_valid(req.label, strlen(req.label)) && req.n[0] != 0 &&
				    req.n_len >= 256 && (req.e[req.e_len - 1] & 1) == 1));
			}
		}
	}
	/* some flips (letter case inside n, label or kid) keep a valid request */
	CU_ASSERT_TRUE(accepted > 0 && accepted < len * 8);
	free(m);
	free(s);
}

/* ---- part 1b: JWE assembly ---- */

static void
test_jwe_compact(void)
{
	uint8_t cek[64], iv[16], pt[40], ct[64], ek[512], out[64];
	size_t ekl = sizeof(ek), outl = 0;
	int cl1 = 0, cl2 = 0;
	struct kw_secret *mac = NULL;
	EVP_PKEY_CTX *pc;
	EVP_CIPHER_CTX *cc;
	char *jwe = NULL, *p;

	CU_ASSERT_FATAL(RAND_bytes(cek, 64) == 1 && RAND_bytes(iv, 16) == 1 && RAND_bytes(pt, 40) == 1);
	cc = EVP_CIPHER_CTX_new();
	CU_ASSERT_FATAL(cc != NULL && EVP_EncryptInit_ex(cc, EVP_aes_256_cbc(), NULL, cek + 32, iv) == 1 &&
	    EVP_EncryptUpdate(cc, ct, &cl1, pt, 40) == 1 && EVP_EncryptFinal_ex(cc, ct + cl1, &cl2) == 1);
	EVP_CIPHER_CTX_free(cc);
	CU_ASSERT_EQUAL(cl1 + cl2, 48);
	pc = EVP_PKEY_CTX_new(key2048.pk, NULL);
	CU_ASSERT_FATAL(pc != NULL && EVP_PKEY_encrypt_init(pc) == 1 &&
	    EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_OAEP_PADDING) == 1 &&
	    EVP_PKEY_encrypt(pc, ek, &ekl, cek, 64) == 1);
	EVP_PKEY_CTX_free(pc);
	CU_ASSERT_FATAL(kw_secret_from(cek, 32, &mac) == 0);
	CU_ASSERT_EQUAL_FATAL(hsm_jwe_compact("k\"1", ek, ekl, iv, ct, 48, mac, &jwe), 0);
	/* fixed header member order, kid escaped */
	CU_ASSERT_EQUAL(strncmp(jwe, "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZDQkMtSFM1MTIiLCJraWQiOiJrXCIxIn0.",
	    72), 0);
	CU_ASSERT_EQUAL(test_decrypt(jwe, key2048.pk, out, sizeof(out), &outl), 0);
	CU_ASSERT_EQUAL(outl, 40);
	CU_ASSERT_EQUAL(memcmp(out, pt, 40), 0);
	outl = 0;
	CU_ASSERT_EQUAL(hsm_jwe_decrypt(jwe, key2048.pk, out, sizeof(out), &outl), 0);
	CU_ASSERT_EQUAL(outl, 40);
	/* a flipped character in any part breaks both decryptors */
	for (size_t i = 0; i < strlen(jwe); i += 37) {
		char save;

		p = jwe + i;
		save = *p;

		if (save == '.')
			continue;
		*p = save == 'A' ? 'B' : 'A';
		CU_ASSERT_NOT_EQUAL(test_decrypt(jwe, key2048.pk, out, sizeof(out), &outl), 0);
		CU_ASSERT_NOT_EQUAL(hsm_jwe_decrypt(jwe, key2048.pk, out, sizeof(out), &outl), 0);
		*p = save;
	}
	/* wrong MAC key length */
	kw_secret_set_len(mac, 16);
	{
		char *j2 = NULL;

		CU_ASSERT_EQUAL(hsm_jwe_compact("k", ek, ekl, iv, ct, 48, mac, &j2), KW_ERR_INVALID_ARG);
		CU_ASSERT_PTR_NULL(j2);
	}
	kw_secret_free(mac);
	free(jwe);
}

/* ---- part 1c: token-key ops without a token ---- */

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
test_token_label_parse(void)
{
	static const char *const good[] = {"kw-token/0", "kw-token/1", "kw-token/1700000000",
	    "kw-token/999999999999"};
	static const int64_t want[] = {0, 1, 1700000000, 999999999999LL};
	static const char *const bad[] = {"kw-token/", "kw-token/01", "kw-token/00",
	    "kw-token/1234567890123", "kw-token/-1", "kw-token/+1", "kw-token/1a", "kw-token/1 ",
	    "kw-token//1", "kw-token/1/2", "KW-token/1", "kw-token1", "kw-tokens/1", "x/kw-token/1",
	    "", "kw-token/1.5"};
	int64_t n;

	for (size_t i = 0; i < KW_ARRAY_SIZE(good); i++) {
		n = -1;
		CU_ASSERT_EQUAL(hsm_token_label_parse(good[i], strlen(good[i]), &n), 0);
		CU_ASSERT_EQUAL(n, want[i]);
		/* reserved for token keys: never a resource label */
		CU_ASSERT_FALSE(hsm_label_valid(good[i], strlen(good[i])));
	}
	for (size_t i = 0; i < KW_ARRAY_SIZE(bad); i++) {
		n = -1;
		if (hsm_token_label_parse(bad[i], strlen(bad[i]), &n) == 0)
			fprintf(stderr, "accepted token label: %s\n", bad[i]);
		CU_ASSERT_EQUAL(hsm_token_label_parse(bad[i], strlen(bad[i]), &n), KW_ERR_INVALID_FORMAT);
		CU_ASSERT_EQUAL(n, -1);
	}
	/* embedded NUL: len beyond the string */
	CU_ASSERT_EQUAL(hsm_token_label_parse("kw-token/1\0" "2", 12, &n), KW_ERR_INVALID_FORMAT);
	/* the prefix is reserved for resources too, also with a non-numeric tail */
	CU_ASSERT_FALSE(hsm_label_valid("kw-token/x", 10));
	CU_ASSERT_TRUE(hsm_label_valid("kw-token", 8));
	CU_ASSERT_TRUE(hsm_label_valid("kw-tokens/1", 11));
	CU_ASSERT_TRUE(hsm_label_valid("a/kw-token/1", 12));
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
	s = sign_json("kw-token/1", d31);
	CU_ASSERT_EQUAL(parse_str(s, &req, &id), KW_ERR_INVALID_FORMAT);
	free(s);
	s = sign_json("kw-token/1", d33);
	CU_ASSERT_EQUAL(parse_str(s, &req, &id), KW_ERR_INVALID_FORMAT);
	free(s);
	d32[42] = '=';    /* not base64url */
	s = sign_json("kw-token/1", d32);
	CU_ASSERT_EQUAL(parse_str(s, &req, &id), KW_ERR_INVALID_FORMAT);
	free(s);
	d32[42] = 'r';    /* nonzero unused low bits in the last symbol */
	s = sign_json("kw-token/1", d32);
	CU_ASSERT_EQUAL(parse_str(s, &req, &id), KW_ERR_INVALID_FORMAT);
	free(s);
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

static void
test_parse_sign_sweeps(void)
{
	static struct hsm_req req;
	char *d = b64_of(0x5c, 32), *s = sign_json("kw-token/1700000000", d);
	size_t len = strlen(s);
	unsigned long accepted = 0;
	char *m = malloc(len);
	uint32_t id;

	CU_ASSERT_FATAL(m != NULL && d != NULL);
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
			/* still a sign of a token label, or a flip into the id */
			CU_ASSERT_EQUAL(req.op, HSM_OP_SIGN);
			CU_ASSERT_EQUAL(hsm_token_label_parse(req.label, strlen(req.label), NULL), 0);
		}
	}
	/* flips inside the digest and label digits keep a valid request */
	CU_ASSERT_TRUE(accepted > 0 && accepted < len * 8);
	free(m);
	free(s);
	free(d);
}

/* DER OCTET STRING of 04||X||Y for pk (a P-256 EVP_PKEY). */
static size_t
point_der(EVP_PKEY *pk, uint8_t out[67])
{
	size_t n = 0;

	if (EVP_PKEY_get_octet_string_param(pk, OSSL_PKEY_PARAM_PUB_KEY, out + 2, 65, &n) != 1 ||
	    n != 65)
		return 0;
	out[0] = 0x04;
	out[1] = 0x41;
	return 67;
}

static void
test_ec_point(void)
{
	EVP_PKEY *pk = EVP_EC_gen("P-256");
	uint8_t der[80], m[80], x[32], y[32], x2[32], y2[32];
	size_t len;
	unsigned long accepted = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(pk);
	CU_ASSERT_EQUAL_FATAL(len = point_der(pk, der), 67);
	CU_ASSERT_EQUAL(hsm_ec_point_parse(der, len, x, y), 0);
	CU_ASSERT_EQUAL(memcmp(x, der + 3, 32), 0);
	CU_ASSERT_EQUAL(memcmp(y, der + 35, 32), 0);
	/* every prefix fails, outputs untouched */
	for (size_t i = 0; i < len; i++) {
		memset(x2, 0xee, 32);
		CU_ASSERT_EQUAL(hsm_ec_point_parse(der, i, x2, y2), KW_ERR_TRUNCATED);
		CU_ASSERT_EQUAL(x2[0], 0xee);
	}
	/* a byte too many */
	der[len] = 0;
	CU_ASSERT_EQUAL(hsm_ec_point_parse(der, len + 1, x2, y2), KW_ERR_TRAILING);
	/* raw point without the OCTET STRING, long-form length, compressed form */
	CU_ASSERT_NOT_EQUAL(hsm_ec_point_parse(der + 2, 65, x2, y2), 0);
	memcpy(m, der, 2);
	m[1] = 0x81;
	m[2] = 0x41;
	memcpy(m + 3, der + 2, 65);
	CU_ASSERT_EQUAL(hsm_ec_point_parse(m, 68, x2, y2), KW_ERR_INVALID_FORMAT);
	memcpy(m, der, len);
	m[2] = 0x02;
	CU_ASSERT_EQUAL(hsm_ec_point_parse(m, len, x2, y2), KW_ERR_INVALID_FORMAT);
	/* bit flips: the three header bytes always fail, coordinates parse (to other values) */
	for (size_t i = 0; i < len; i++) {
		for (int b = 0; b < 8; b++) {
			memcpy(m, der, len);
			m[i] = (uint8_t)(m[i] ^ (1 << b));
			if (hsm_ec_point_parse(m, len, x2, y2) != 0) {
				CU_ASSERT_TRUE(i < 3);
				continue;
			}
			accepted++;
			CU_ASSERT_TRUE(i >= 3);
			CU_ASSERT_TRUE(memcmp(x, x2, 32) != 0 || memcmp(y, y2, 32) != 0);
		}
	}
	CU_ASSERT_EQUAL(accepted, 64 * 8);
	EVP_PKEY_free(pk);
}

/* The RFC 7638 thumbprint computed here from the JWK members. */
static int
my_thumbprint(const json_t *jwk, char out[44])
{
	char ser[256], *b64 = NULL;
	uint8_t md[32];
	int n = snprintf(ser, sizeof(ser), "{\"crv\":\"%s\",\"kty\":\"%s\",\"x\":\"%s\",\"y\":\"%s\"}",
	    json_string_value(json_object_get(jwk, "crv")), json_string_value(json_object_get(jwk, "kty")),
	    json_string_value(json_object_get(jwk, "x")), json_string_value(json_object_get(jwk, "y")));

	if (n <= 0 || (size_t)n >= sizeof(ser) || json_object_size(jwk) != 4)
		return -1;
	SHA256((const uint8_t *)ser, (size_t)n, md);
	if (kw_b64url_encode(md, 32, &b64) != 0 || strlen(b64) != 43) {
		free(b64);
		return -1;
	}
	memcpy(out, b64, 44);
	free(b64);
	return 0;
}

static void
test_token_key_json(void)
{
	EVP_PKEY *pk = EVP_EC_gen("P-256"), *back = NULL;
	struct hsm_token_key k;
	uint8_t der[80];
	char tp[44];
	json_t *o = NULL, *jwk;

	CU_ASSERT_PTR_NOT_NULL_FATAL(pk);
	CU_ASSERT_EQUAL_FATAL(point_der(pk, der), 67);
	memset(&k, 0, sizeof(k));
	snprintf(k.label, sizeof(k.label), "kw-token/42");
	k.created = 42;
	CU_ASSERT_EQUAL_FATAL(hsm_ec_point_parse(der, 67, k.x, k.y), 0);
	CU_ASSERT_EQUAL_FATAL(hsm_token_key_json(&k, &o), 0);
	CU_ASSERT_EQUAL(json_object_size(o), 4);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "label")), "kw-token/42");
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(o, "created")), 42);
	jwk = json_object_get(o, "jwk");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(jwk, "kty")), "EC");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(jwk, "crv")), "P-256");
	CU_ASSERT_EQUAL_FATAL(my_thumbprint(jwk, tp), 0);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "kid")), tp);
	/* the JWK is the same public key */
	CU_ASSERT_EQUAL_FATAL(kw_jwk_import_public(jwk, &back), 0);
	CU_ASSERT_EQUAL(EVP_PKEY_eq(pk, back), 1);
	EVP_PKEY_free(back);
	json_decref(o);
	o = NULL;
	/* a point off the curve is refused */
	k.y[31] ^= 1;
	CU_ASSERT_NOT_EQUAL(hsm_token_key_json(&k, &o), 0);
	CU_ASSERT_PTR_NULL(o);
	EVP_PKEY_free(pk);
}

static void
test_sig_fixed(void)
{
	uint8_t in[66], out[64];

	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i + 1);
	CU_ASSERT_EQUAL(hsm_ecdsa_sig_fixed(in, 64, out), 0);
	CU_ASSERT_EQUAL(memcmp(in, out, 64), 0);
	/* 31-byte halves are left-padded */
	CU_ASSERT_EQUAL(hsm_ecdsa_sig_fixed(in, 62, out), 0);
	CU_ASSERT_EQUAL(out[0], 0);
	CU_ASSERT_EQUAL(memcmp(out + 1, in, 31), 0);
	CU_ASSERT_EQUAL(out[32], 0);
	CU_ASSERT_EQUAL(memcmp(out + 33, in + 31, 31), 0);
	CU_ASSERT_EQUAL(hsm_ecdsa_sig_fixed(in, 2, out), 0);
	CU_ASSERT_EQUAL(out[31], 1);
	CU_ASSERT_EQUAL(out[63], 2);
	CU_ASSERT_EQUAL(hsm_ecdsa_sig_fixed(in, 0, out), KW_ERR_INVALID_FORMAT);
	CU_ASSERT_EQUAL(hsm_ecdsa_sig_fixed(in, 63, out), KW_ERR_INVALID_FORMAT);
	CU_ASSERT_EQUAL(hsm_ecdsa_sig_fixed(in, 66, out), KW_ERR_INVALID_FORMAT);
}

/* ---- part 1c: admin-plane ops (key_list, destroy, import_key, import) ---- */

#define KID43 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

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
	s = import_json("kw-key/r/t/g/v1", "aes-128", 16, KID43, 384, 24);
	CU_ASSERT_EQUAL(parse_str(s, &req, &id), 0);
	free(s);
	s = import_json("kw-key/r/t/g/v1", "secret", 20, KID43, 384, 40);
	CU_ASSERT_EQUAL(parse_str(s, &req, &id), 0);
	CU_ASSERT_EQUAL(req.length, 20);
	free(s);
	s = import_json("kw-key/r/t/g/v1", "secret", 4096, KID43, 384, 4104);
	CU_ASSERT_EQUAL(parse_str(s, &req, &id), 0);
	free(s);
	s = import_json("kw-key/r/t/g/v1", "secret", 1, KID43, 384, 24);
	CU_ASSERT_EQUAL(parse_str(s, &req, &id), 0);
	free(s);
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
test_parse_import_sweeps(void)
{
	static struct hsm_req req;
	const char *const dj = "{\"id\":4,\"op\":\"destroy\",\"label\":\"kw-key/r/t/g/v1\"}";
	char *reqs[2] = {import_json("kw-key/r/t/g/v1", "secret", 20, KID43, 384, 40), NULL};
	unsigned long accepted = 0, total = 0;
	uint32_t id;

	CU_ASSERT_PTR_NOT_NULL_FATAL(reqs[0]);
	reqs[1] = strdup(dj);
	for (size_t k = 0; k < 2; k++) {
		char *s = reqs[k], *m;
		size_t len = strlen(s);

		CU_ASSERT_EQUAL(hsm_req_parse(s, len, &req, &id), 0);
		for (size_t i = 0; i < len; i++)
			CU_ASSERT_NOT_EQUAL(hsm_req_parse(s, i, &req, &id), 0);
		CU_ASSERT_PTR_NOT_NULL_FATAL(m = malloc(len));
		for (size_t i = 0; i < len; i++) {
			for (int b = 0; b < 8; b++) {
				memcpy(m, s, len);
				m[i] = (char)(m[i] ^ (1 << b));
				total++;
				if (hsm_req_parse(m, len, &req, &id) != 0)
					continue;
				accepted++;
				CU_ASSERT_PTR_NULL(strchr("{}\":,", s[i]));
				if (req.op == HSM_OP_IMPORT) {
					CU_ASSERT_TRUE(hsm_key_label_valid(req.label, strlen(req.label)));
					CU_ASSERT_EQUAL(req.value_len,
					    hsm_import_plain_len(req.kind, req.length) + 8);
					CU_ASSERT_EQUAL(strlen(req.import_kid), HSM_IMPORT_KID_LEN);
				} else {
					CU_ASSERT_EQUAL(req.op, HSM_OP_DESTROY);
					CU_ASSERT_TRUE(hsm_key_label_valid(req.label, strlen(req.label)));
				}
			}
		}
		free(m);
	}
	/* flips inside base64url data and the label keep some requests valid, most are not */
	CU_ASSERT_TRUE(accepted > 0 && accepted < total);
	free(reqs[0]);
	free(reqs[1]);
}

/* ---- part 2: the real helper ---- */

struct res {
	int done;
	int r;
	json_t *o;
};

static void
res_cb(int r, json_t *result, void *arg)
{
	struct res *x = arg;

	x->done++;
	x->r = r;
	x->o = result != NULL ? json_incref(result) : NULL;
}

static void
timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	*(int *)arg = 1;
}

/* Run the loop until all n results are done (or 120 s). */
static int
wait_all(struct res *xs, size_t n)
{
	int timed_out = 0;
	struct timeval tv = {120, 0};
	struct event *t = evtimer_new(base, timeout_cb, &timed_out);

	evtimer_add(t, &tv);
	for (;;) {
		size_t done = 0;

		for (size_t i = 0; i < n; i++)
			done += xs[i].done != 0;
		if (done == n || timed_out)
			break;
		event_base_loop(base, EVLOOP_ONCE);
	}
	event_free(t);
	return timed_out ? -1 : 0;
}

/* Run the loop until pid no longer exists (reaped), at most ms; true when gone. */
static int
wait_gone(pid_t pid, int ms)
{
	for (int waited = 0; waited < ms; waited += 20) {
		struct timeval tv = {0, 20 * 1000};
		int fired = 0;
		struct event *t;

		if (kill(pid, 0) != 0 && errno == ESRCH)
			return 1;
		t = evtimer_new(base, timeout_cb, &fired);
		evtimer_add(t, &tv);
		while (!fired)
			event_base_loop(base, EVLOOP_ONCE);
		event_free(t);
	}
	return kill(pid, 0) != 0 && errno == ESRCH;
}

static void
res_clear(struct res *xs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		json_decref(xs[i].o);
		memset(&xs[i], 0, sizeof(xs[i]));
	}
}

/* One asynchronous call; returns r and the reply in *ret (NULL on error). */
static int
call1(struct hsm_client *c, json_t *req, json_t **ret)
{
	struct res x = {0, 0, NULL};
	int r = hsm_client_call(c, req, res_cb, &x);

	if (r != 0)
		return r;
	if (wait_all(&x, 1) != 0)
		return -1000;
	if (x.done != 1)
		return -1001;
	*ret = x.o;
	return x.r;
}

static json_t *
release_req(const char *label, const struct tkey *k, const char *kid)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "op", "release", "label", label, "profile",
	    PROFILE, "n", k->n, "e", k->e, "kid", kid);
}

static json_t *
gen_req(const char *label, const char *kind, int length, int if_missing)
{
	json_t *o = json_pack("{s:s,s:s,s:s,s:b}", "op", "generate", "label", label, "kind", kind,
	    "if_missing", if_missing);

	if (length > 0)
		json_object_set_new(o, "length", json_integer(length));
	return o;
}

/* Release label to k and decrypt; returns the plaintext length or < 0. */
static int
release_value(struct hsm_client *c, const char *label, const struct tkey *k, uint8_t *out,
    size_t max)
{
	json_t *o = NULL;
	size_t len = 0;
	int r = call1(c, release_req(label, k, "kid-test"), &o);

	if (r != 0)
		return r;
	r = test_decrypt(json_string_value(json_object_get(o, "jwe")), k->pk, out, max, &len);
	json_decref(o);
	return r == 0 ? (int)len : -2000;
}

static struct tkey ka, kb;

static int
write_file(const char *path, const void *buf, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	int ok;

	if (fd < 0)
		return -1;
	ok = write(fd, buf, len) == (ssize_t)len;
	close(fd);
	return ok ? 0 : -1;
}

static int
suite_token_init(void)
{
	char conf[512], cmd[512];
	struct hsm_client_config cfg = {0};
	int n;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/kwhsm-test-XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(conf_path, sizeof(conf_path), "%s/softhsm2.conf", tmpdir);
	snprintf(pin_path, sizeof(pin_path), "%s/pin", tmpdir);
	snprintf(cmd, sizeof(cmd), "%s/tokens", tmpdir);
	if (mkdir(cmd, 0700) != 0)
		return -1;
	n = snprintf(conf, sizeof(conf),
	    "directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n"
	    "slots.removable = false\nlibrary.reset_on_fork = true\n", tmpdir);
	if (write_file(conf_path, conf, (size_t)n, 0600) != 0 || write_file(pin_path, "5678\n", 5, 0600) != 0)
		return -1;
	setenv("SOFTHSM2_CONF", conf_path, 1);
	if (system("softhsm2-util --init-token --free --label kwtest --so-pin 1234 --pin 5678 "
	    ">/dev/null") != 0)
		return -1;
	if ((base = event_base_new()) == NULL)
		return -1;
	if (tkey_gen(3072, &ka) != 0 || tkey_gen(3072, &kb) != 0)
		return -1;
	cfg.helper_path = helper_path;
	cfg.module_path = MODULE;
	cfg.token_label = "kwtest";
	cfg.pin_file = pin_path;
	cfg.softhsm2_conf = conf_path;
	cfg.log_level = "warn";
	return hsm_client_start(base, &cfg, &cl) == 0 ? 0 : -1;
}

static int
suite_token_clean(void)
{
	char cmd[128];

	hsm_client_free(cl);
	cl = NULL;
	tkey_free(&ka);
	tkey_free(&kb);
	if (base != NULL)
		event_base_free(base);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
test_probe(void)
{
	const json_t *p = hsm_client_probe(cl);
	json_t *profiles = json_object_get(p, "profiles");

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(p, "token")), "kwtest");
	CU_ASSERT_EQUAL(json_array_size(profiles), 1);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(profiles, 0)), PROFILE);
	CU_ASSERT_PTR_NOT_NULL(strstr(json_string_value(json_object_get(p, "module")), "SoftHSM"));
	CU_ASSERT_TRUE(hsm_client_pid(cl) > 0);
}

static void
test_generate(void)
{
	json_t *o = NULL;

	CU_ASSERT_EQUAL_FATAL(call1(cl, gen_req("t/aes/one", "aes-256", 0, 1), &o), 0);
	CU_ASSERT_TRUE(json_is_true(json_object_get(o, "created")));
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "kind")), "aes-256");
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(o, "length")), 32);
	json_decref(o);
	o = NULL;
	CU_ASSERT_EQUAL_FATAL(call1(cl, gen_req("t/aes/one", "aes-256", 0, 1), &o), 0);
	CU_ASSERT_TRUE(json_is_false(json_object_get(o, "created")));
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(o, "length")), 32);
	json_decref(o);
	o = NULL;
	CU_ASSERT_EQUAL(call1(cl, gen_req("t/aes/one", "aes-256", 0, 0), &o), KW_ERR_EXISTS);
	CU_ASSERT_PTR_NULL(o);
	CU_ASSERT_EQUAL(call1(cl, gen_req("t/aes/one", "aes-128", 0, 1), &o), KW_ERR_MISMATCH);
	CU_ASSERT_EQUAL(call1(cl, gen_req("t/aes/one", "secret", 32, 1), &o), KW_ERR_MISMATCH);
	CU_ASSERT_EQUAL(call1(cl, gen_req("t/aes/128", "aes-128", 16, 0), &o), 0);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(o, "length")), 16);
	json_decref(o);
}

static void
test_release_same_value(void)
{
	uint8_t v1[64], v2[64];

	CU_ASSERT_EQUAL(release_value(cl, "t/aes/one", &ka, v1, sizeof(v1)), 32);
	CU_ASSERT_EQUAL(release_value(cl, "t/aes/one", &kb, v2, sizeof(v2)), 32);
	CU_ASSERT_EQUAL(memcmp(v1, v2, 32), 0);
	CU_ASSERT_EQUAL(release_value(cl, "t/aes/128", &ka, v1, sizeof(v1)), 16);
	CU_ASSERT_NOT_EQUAL(memcmp(v1, v2, 16), 0);
}

static void
test_generic_secret(void)
{
	static const int lens[] = {20, 1, 16, 32, 4095, 4096};
	static uint8_t v1[4200], v2[4200];
	char label[64];
	json_t *o = NULL;

	for (size_t i = 0; i < KW_ARRAY_SIZE(lens); i++) {
		snprintf(label, sizeof(label), "t/secret/%d", lens[i]);
		CU_ASSERT_EQUAL_FATAL(call1(cl, gen_req(label, "secret", lens[i], 0), &o), 0);
		CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "kind")), "secret");
		CU_ASSERT_EQUAL(json_integer_value(json_object_get(o, "length")), lens[i]);
		json_decref(o);
		o = NULL;
		CU_ASSERT_EQUAL(release_value(cl, label, &ka, v1, sizeof(v1)), lens[i]);
		CU_ASSERT_EQUAL(release_value(cl, label, &kb, v2, sizeof(v2)), lens[i]);
		CU_ASSERT_EQUAL(memcmp(v1, v2, (size_t)lens[i]), 0);
	}
	CU_ASSERT_EQUAL(call1(cl, gen_req("t/secret/20", "secret", 20, 1), &o), 0);
	CU_ASSERT_TRUE(json_is_false(json_object_get(o, "created")));
	json_decref(o);
	o = NULL;
	CU_ASSERT_EQUAL(call1(cl, gen_req("t/secret/20", "secret", 21, 1), &o), KW_ERR_MISMATCH);
}

static void
test_jwcrypto(void)
{
	char jwe_path[160], pem_path[160], cmd[640], line[256];
	uint8_t v[64];
	size_t vl = 0;
	json_t *o = NULL;
	const char *jwe;
	BIO *bio;
	FILE *f;

	CU_ASSERT_EQUAL_FATAL(call1(cl, release_req("t/secret/20", &ka, "py"), &o), 0);
	jwe = json_string_value(json_object_get(o, "jwe"));
	CU_ASSERT_EQUAL_FATAL(test_decrypt(jwe, ka.pk, v, sizeof(v), &vl), 0);
	CU_ASSERT_EQUAL(vl, 20);
	snprintf(jwe_path, sizeof(jwe_path), "%s/jwe.txt", tmpdir);
	snprintf(pem_path, sizeof(pem_path), "%s/key.pem", tmpdir);
	CU_ASSERT_EQUAL_FATAL(write_file(jwe_path, jwe, strlen(jwe), 0600), 0);
	bio = BIO_new_file(pem_path, "w");
	CU_ASSERT_FATAL(bio != NULL &&
	    PEM_write_bio_PrivateKey(bio, ka.pk, NULL, NULL, 0, NULL, NULL) == 1);
	BIO_free(bio);
	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 '%s' '%s' '%s'", py_script, jwe_path, pem_path);
	f = popen(cmd, "r");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	memset(line, 0, sizeof(line));
	CU_ASSERT_PTR_NOT_NULL(fgets(line, sizeof(line), f));
	CU_ASSERT_EQUAL(pclose(f), 0);
	line[strcspn(line, "\n")] = 0;
	{
		char hex[41];

		for (size_t i = 0; i < 20; i++)
			snprintf(hex + 2 * i, 3, "%02x", v[i]);
		CU_ASSERT_STRING_EQUAL(line, hex);
	}
	json_decref(o);
}

/* A secret deleted behind the helper's back (its label cache) is looked up again. */
static void
test_deleted_behind(void)
{
	char cmd[512];
	uint8_t v1[64], v2[64];
	json_t *o = NULL;

	CU_ASSERT_EQUAL_FATAL(call1(cl, gen_req("t/del/1", "aes-256", 0, 0), &o), 0);
	json_decref(o);
	o = NULL;
	CU_ASSERT_EQUAL_FATAL(release_value(cl, "t/del/1", &ka, v1, sizeof(v1)), 32);
	snprintf(cmd, sizeof(cmd), "pkcs11-tool --module %s --token-label kwtest --login --pin 5678 "
	    "--delete-object --type secrkey --label t/del/1 >/dev/null 2>&1", MODULE);
	CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
	CU_ASSERT_EQUAL(call1(cl, release_req("t/del/1", &ka, "k"), &o), KW_ERR_NOT_FOUND);
	CU_ASSERT_EQUAL_FATAL(call1(cl, gen_req("t/del/1", "aes-256", 0, 0), &o), 0);
	CU_ASSERT_TRUE(json_is_true(json_object_get(o, "created")));
	json_decref(o);
	CU_ASSERT_EQUAL(release_value(cl, "t/del/1", &ka, v2, sizeof(v2)), 32);
	CU_ASSERT_NOT_EQUAL(memcmp(v1, v2, 32), 0);
}

static void
test_errors(void)
{
	struct tkey k1024;
	json_t *o = NULL, *req;
	pid_t pid = hsm_client_pid(cl);

	CU_ASSERT_EQUAL(call1(cl, release_req("t/no/such", &ka, "k"), &o), KW_ERR_NOT_FOUND);
	CU_ASSERT_PTR_NULL(o);
	CU_ASSERT_FATAL(tkey_gen(1024, &k1024) == 0);
	CU_ASSERT_EQUAL(call1(cl, release_req("t/aes/one", &k1024, "k"), &o), KW_ERR_INVALID_FORMAT);
	tkey_free(&k1024);
	/* unknown field, wrong type, bad label: rejected, helper stays */
	req = release_req("t/aes/one", &ka, "k");
	json_object_set_new(req, "extra", json_true());
	CU_ASSERT_EQUAL(call1(cl, req, &o), KW_ERR_INVALID_FORMAT);
	CU_ASSERT_EQUAL(call1(cl, json_pack("{s:s,s:s}", "op", "random", "length", "8"), &o),
	    KW_ERR_INVALID_FORMAT);
	CU_ASSERT_EQUAL(call1(cl, release_req("t/../aes", &ka, "k"), &o), KW_ERR_INVALID_FORMAT);
	CU_ASSERT_EQUAL(call1(cl, json_pack("{s:s}", "op", "nuke"), &o), KW_ERR_UNSUPPORTED);
	CU_ASSERT_EQUAL(hsm_client_pid(cl), pid);
	CU_ASSERT_EQUAL(call1(cl, json_pack("{s:s,s:i}", "op", "random", "length", 32), &o), 0);
	{
		uint8_t b[64];
		size_t bl = 0;
		const char *s = json_string_value(json_object_get(o, "bytes"));

		CU_ASSERT_EQUAL(kw_b64url_decode(s, strlen(s), b, sizeof(b), &bl), 0);
		CU_ASSERT_EQUAL(bl, 32);
	}
	json_decref(o);
	CU_ASSERT_EQUAL(hsm_client_pid(cl), pid);
}

/* Raw datagrams straight to a helper: garbage must not kill it. */
static void
test_raw_garbage(void)
{
	static char big[HSM_PROTO_MAX + 100];
	char buf[4096];
	const char *msgs[] = {"garbage", "{", "[]", "{\"id\":1,\"op\":\"probe\"} trailing",
	    "{\"id\":2,\"op\":\"probe\",\"op\":\"probe\"}", "{\"id\":3,\"op\":\"probe\",\"x\":1}"};
	const uint32_t want_id[] = {0, 0, 0, 0, 0, 3};
	int sv[2], st;
	pid_t pid;
	ssize_t n;
	json_t *o;

	CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
	if ((pid = fork()) == 0) {
		if (dup2(sv[1], HSM_PROTO_FD) != HSM_PROTO_FD)
			_exit(127);
		execl(helper_path, helper_path, "--module", MODULE, "--token", "kwtest", "--pin-file",
		    pin_path, "--log-level", "error", (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	CU_ASSERT_FATAL(pid > 0);
	for (size_t i = 0; i < KW_ARRAY_SIZE(msgs); i++) {
		CU_ASSERT_EQUAL(send(sv[0], msgs[i], strlen(msgs[i]), 0), (ssize_t)strlen(msgs[i]));
		n = recv(sv[0], buf, sizeof(buf) - 1, 0);
		CU_ASSERT_FATAL(n > 0);
		o = json_loadb(buf, (size_t)n, 0, NULL);
		CU_ASSERT_TRUE(json_is_false(json_object_get(o, "ok")));
		CU_ASSERT_EQUAL(json_integer_value(json_object_get(o, "id")), want_id[i]);
		CU_ASSERT_EQUAL(json_integer_value(json_object_get(o, "error")), KW_ERR_INVALID_FORMAT);
		json_decref(o);
	}
	memset(big, ' ', sizeof(big));
	big[0] = '{';
	big[sizeof(big) - 1] = '}';
	CU_ASSERT_EQUAL(send(sv[0], big, sizeof(big), 0), (ssize_t)sizeof(big));
	n = recv(sv[0], buf, sizeof(buf) - 1, 0);
	CU_ASSERT_FATAL(n > 0);
	o = json_loadb(buf, (size_t)n, 0, NULL);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(o, "error")), KW_ERR_TOO_LARGE);
	json_decref(o);
	/* still alive and correct */
	CU_ASSERT_EQUAL(send(sv[0], "{\"id\":9,\"op\":\"probe\"}", 21, 0), 21);
	n = recv(sv[0], buf, sizeof(buf) - 1, 0);
	CU_ASSERT_FATAL(n > 0);
	o = json_loadb(buf, (size_t)n, 0, NULL);
	CU_ASSERT_TRUE(json_is_true(json_object_get(o, "ok")));
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(o, "id")), 9);
	json_decref(o);
	/* closing the socket ends the helper with status 0 */
	close(sv[0]);
	CU_ASSERT_EQUAL(waitpid(pid, &st, 0), pid);
	CU_ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

#define PIPELINE 200

static void
check_batch(struct res *xs, size_t n, const struct tkey *k, const uint8_t *want, size_t want_len)
{
	uint8_t v[64];
	size_t vl;
	size_t ok = 0;

	for (size_t i = 0; i < n; i++) {
		CU_ASSERT_EQUAL(xs[i].done, 1);
		if (xs[i].r != 0 || xs[i].o == NULL)
			continue;
		vl = 0;
		if (test_decrypt(json_string_value(json_object_get(xs[i].o, "jwe")), k->pk, v, sizeof(v),
		    &vl) == 0 && vl == want_len && memcmp(v, want, want_len) == 0)
			ok++;
	}
	CU_ASSERT_EQUAL(ok, n);
}

static void
test_pipeline(void)
{
	static struct res xs[PIPELINE];
	uint8_t want[64];

	CU_ASSERT_EQUAL_FATAL(release_value(cl, "t/aes/one", &ka, want, sizeof(want)), 32);
	for (size_t i = 0; i < PIPELINE; i++)
		CU_ASSERT_EQUAL_FATAL(hsm_client_call(cl, release_req("t/aes/one", &ka, "p"), res_cb,
		    &xs[i]), 0);
	/* nothing completes before the loop runs */
	CU_ASSERT_EQUAL(xs[0].done, 0);
	CU_ASSERT_EQUAL_FATAL(wait_all(xs, PIPELINE), 0);
	check_batch(xs, PIPELINE, &ka, want, 32);
	res_clear(xs, PIPELINE);
}

static void
test_kill_respawn(void)
{
	static struct res xs[20];
	pid_t pid = hsm_client_pid(cl), pid2;
	uint8_t v[64];
	json_t *o = NULL;

	CU_ASSERT_FATAL(pid > 0);
	/* stopped: it can answer nothing, so every pending call must fail */
	CU_ASSERT_EQUAL(kill(pid, SIGSTOP), 0);
	for (size_t i = 0; i < KW_ARRAY_SIZE(xs); i++)
		CU_ASSERT_EQUAL_FATAL(hsm_client_call(cl, release_req("t/aes/one", &ka, "k"), res_cb,
		    &xs[i]), 0);
	CU_ASSERT_EQUAL(kill(pid, SIGKILL), 0);
	CU_ASSERT_EQUAL_FATAL(wait_all(xs, KW_ARRAY_SIZE(xs)), 0);
	for (size_t i = 0; i < KW_ARRAY_SIZE(xs); i++) {
		CU_ASSERT_EQUAL(xs[i].done, 1);
		CU_ASSERT_EQUAL(xs[i].r, KW_ERR_UNAVAILABLE);
	}
	res_clear(xs, KW_ARRAY_SIZE(xs));
	CU_ASSERT_EQUAL(hsm_client_pid(cl), -1);
	CU_ASSERT_TRUE(wait_gone(pid, 5000));    /* reaped (by the client's reaper timer) */
	/* the next call respawns */
	CU_ASSERT_EQUAL(call1(cl, json_pack("{s:s}", "op", "probe"), &o), 0);
	json_decref(o);
	pid2 = hsm_client_pid(cl);
	CU_ASSERT_TRUE(pid2 > 0 && pid2 != pid);
	CU_ASSERT_EQUAL(release_value(cl, "t/aes/one", &kb, v, sizeof(v)), 32);
}

static struct hsm_client *
start_client(unsigned int recycle_after)
{
	struct hsm_client_config cfg = {0};
	struct hsm_client *c = NULL;

	cfg.helper_path = helper_path;
	cfg.module_path = MODULE;
	cfg.token_label = "kwtest";
	cfg.pin_file = pin_path;
	cfg.softhsm2_conf = conf_path;
	cfg.recycle_after = recycle_after;
	cfg.log_level = "warn";
	return hsm_client_start(base, &cfg, &c) == 0 ? c : NULL;
}

static void
run_recycle(unsigned int recycle_after, int64_t min_rec, int64_t max_rec)
{
	static struct res xs[PIPELINE];
	struct hsm_client *c = start_client(recycle_after);
	uint8_t want[64];
	json_t *o = NULL;

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL_FATAL(release_value(c, "t/secret/20", &kb, want, sizeof(want)), 20);
	for (size_t i = 0; i < PIPELINE; i++)
		CU_ASSERT_EQUAL_FATAL(hsm_client_call(c, release_req("t/secret/20", &kb, "r"), res_cb,
		    &xs[i]), 0);
	CU_ASSERT_EQUAL_FATAL(wait_all(xs, PIPELINE), 0);
	check_batch(xs, PIPELINE, &kb, want, 20);
	res_clear(xs, PIPELINE);
	CU_ASSERT_EQUAL_FATAL(call1(c, json_pack("{s:s}", "op", "stats"), &o), 0);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(o, "releases")), PIPELINE + 1);
	CU_ASSERT_TRUE(json_integer_value(json_object_get(o, "recycles")) >= min_rec);
	CU_ASSERT_TRUE(json_integer_value(json_object_get(o, "recycles")) <= max_rec);
	CU_ASSERT_TRUE(json_integer_value(json_object_get(o, "rss_kb")) > 0);
	json_decref(o);
	/* still works after the last recycle */
	CU_ASSERT_EQUAL(release_value(c, "t/aes/one", &ka, want, sizeof(want)), 32);
	hsm_client_free(c);
}

static void
test_recycle(void)
{
	run_recycle(50, 4, 4);    /* 201 releases / 50 */
}

static void
test_recycle_never(void)
{
	run_recycle(HSM_CLIENT_RECYCLE_NEVER, 0, 0);
}

/* ---- part 2b: token-signing keys ---- */

#define TK_NOW 1700000000

static json_t *
sign_req(const char *label, const uint8_t *digest, size_t len)
{
	char *d = NULL;
	json_t *o;

	if (kw_b64url_encode(digest, len, &d) != 0)
		return NULL;
	o = json_pack("{s:s,s:s,s:s}", "op", "sign", "label", label, "digest", d);
	free(d);
	return o;
}

/* Verify a 64-byte R||S over msg (ES256) with the public JWK. 1: valid, 0: not, < 0: error. */
static int
es256_verify(const json_t *jwk, const uint8_t *msg, size_t msg_len, const uint8_t sig[64])
{
	EVP_PKEY *pk = NULL;
	EVP_MD_CTX *mc = NULL;
	ECDSA_SIG *es = NULL;
	BIGNUM *r = NULL, *s = NULL;
	uint8_t *der = NULL;
	int dl, ret = -1;

	if (kw_jwk_import_public(jwk, &pk) != 0 || (es = ECDSA_SIG_new()) == NULL ||
	    (r = BN_bin2bn(sig, 32, NULL)) == NULL || (s = BN_bin2bn(sig + 32, 32, NULL)) == NULL ||
	    ECDSA_SIG_set0(es, r, s) != 1)
		goto out;
	r = s = NULL;
	if ((dl = i2d_ECDSA_SIG(es, &der)) <= 0 || (mc = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestVerifyInit(mc, NULL, EVP_sha256(), NULL, pk) != 1)
		goto out;
	ret = EVP_DigestVerify(mc, der, (size_t)dl, msg, msg_len) == 1;
out:
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(es);
	OPENSSL_free(der);
	EVP_MD_CTX_free(mc);
	EVP_PKEY_free(pk);
	return ret;
}

/* The helper's signature over SHA-256(msg) with label; 0 and sig on success. */
static int
hsm_sign_msg(struct hsm_client *c, const char *label, const uint8_t *msg, size_t len, uint8_t sig[64])
{
	uint8_t md[32];
	size_t sl = 0;
	json_t *o = NULL;
	const char *s;
	int r;

	SHA256(msg, len, md);
	if ((r = call1(c, sign_req(label, md, sizeof(md)), &o)) != 0)
		return r;
	s = json_string_value(json_object_get(o, "sig"));
	r = s != NULL && strlen(s) == 86 && kw_b64url_decode(s, strlen(s), sig, 64, &sl) == 0 &&
	    sl == 64 && json_object_size(o) == 3 ? 0 : -3000;
	json_decref(o);
	return r;
}

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
	keys = token_keys(cl);
	CU_ASSERT_PTR_NOT_NULL_FATAL(keys);
	CU_ASSERT_EQUAL_FATAL(json_array_size(keys), 4);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(keys, 0), "label")),
	    "kw-token/5");
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
	char jws_path[160], jwk_path[160], cmd[640], line[64];
	const char *payload = "{\"eat_profile\":\"tag:keywarden\",\"n\":1}";
	uint8_t sig[64];
	size_t il;
	FILE *f;

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
	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 '%s' '%s' '%s'", jws_script, jws_path, jwk_path);
	f = popen(cmd, "r");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	memset(line, 0, sizeof(line));
	CU_ASSERT_PTR_NOT_NULL(fgets(line, sizeof(line), f));
	CU_ASSERT_EQUAL(pclose(f), 0);
	CU_ASSERT_STRING_EQUAL(line, "ok\n");
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

/* ---- direct PKCS#11 in the test process, to read the stored attributes ---- */

static CK_BBOOL ck_true_t = CK_TRUE;

struct tp11 {
	void *dl;
	CK_FUNCTION_LIST_PTR f;
	CK_SESSION_HANDLE s;
};

static int
tp11_open(struct tp11 *t)
{
	static CK_UTF8CHAR pin[] = "5678";
	CK_C_GetFunctionList gfl;
	CK_SLOT_ID slots[16];
	CK_ULONG n = KW_ARRAY_SIZE(slots);
	CK_TOKEN_INFO ti;

	memset(t, 0, sizeof(*t));
	if ((t->dl = dlopen(MODULE, RTLD_NOW | RTLD_LOCAL)) == NULL ||
	    (gfl = (CK_C_GetFunctionList)dlsym(t->dl, "C_GetFunctionList")) == NULL ||
	    gfl(&t->f) != CKR_OK || t->f->C_Initialize(NULL) != CKR_OK ||
	    t->f->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK)
		return -1;
	for (CK_ULONG i = 0; i < n; i++) {
		if (t->f->C_GetTokenInfo(slots[i], &ti) == CKR_OK && memcmp(ti.label, "kwtest ", 7) == 0)
			return t->f->C_OpenSession(slots[i], CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &t->s) ==
			    CKR_OK && t->f->C_Login(t->s, CKU_USER, pin, 4) == CKR_OK ?
			    0 : -1;
	}
	return -1;
}

static void
tp11_close(struct tp11 *t)
{
	if (t->f != NULL)
		(void)t->f->C_Finalize(NULL);
	if (t->dl != NULL)
		dlclose(t->dl);
}

/* Objects of class cls labelled label: count, and the first handle in *h. */
static size_t
tp11_find(struct tp11 *t, CK_OBJECT_CLASS cls, const char *label, CK_OBJECT_HANDLE *h)
{
	CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof(cls)},
	    {CKA_LABEL, (void *)(uintptr_t)label, strlen(label)}};
	CK_OBJECT_HANDLE hs[4];
	CK_ULONG n = 0;

	if (t->f->C_FindObjectsInit(t->s, tmpl, 2) != CKR_OK)
		return 99;
	if (t->f->C_FindObjects(t->s, hs, 4, &n) != CKR_OK)
		n = 99;
	(void)t->f->C_FindObjectsFinal(t->s);
	if (n > 0 && n < 99)
		*h = hs[0];
	return n;
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
	keys = token_keys(cl);
	CU_ASSERT_PTR_NOT_NULL_FATAL(keys);
	CU_ASSERT_EQUAL_FATAL(json_array_size(keys), 3);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(keys, 0), "label")),
	    "kw-token/5");
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

/* ---- part 2c: admin-plane key lifecycle (key_list, destroy, import_key, import) ---- */

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
static int
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
	if (r == 0 && (!json_is_true(json_object_get(o, "created")) || json_object_size(o) != 3))
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
	/* tampered kek: OAEP fails */
	bad = tamper(kek);
	CU_ASSERT_PTR_NOT_NULL_FATAL(bad);
	CU_ASSERT_EQUAL(call1(cl, import_req(lbl, "aes-256", 0, imp_kid(), bad, val), &o),
	    KW_ERR_INVALID_FORMAT);
	free(bad);
	check_unchanged(before, lbl);
	/* tampered value: the KWP integrity check fails */
	bad = tamper(val);
	CU_ASSERT_PTR_NOT_NULL_FATAL(bad);
	CU_ASSERT_EQUAL(call1(cl, import_req(lbl, "aes-256", 0, imp_kid(), kek, bad), &o),
	    KW_ERR_INVALID_FORMAT);
	free(bad);
	check_unchanged(before, lbl);
	/* the same value claimed as aes-128 or as a 20-byte secret */
	CU_ASSERT_EQUAL(call1(cl, import_req(lbl, "aes-128", 0, imp_kid(), kek, val), &o),
	    KW_ERR_INVALID_FORMAT);
	free(kek);
	free(val);
	/* aes-256 with a 16-byte value */
	CU_ASSERT_EQUAL_FATAL(wrap_for_import(jwk, v, 16, &kek, &val), 0);
	CU_ASSERT_EQUAL(call1(cl, import_req(lbl, "aes-256", 0, imp_kid(), kek, val), &o),
	    KW_ERR_INVALID_FORMAT);
	check_unchanged(before, lbl);
	free(kek);
	free(val);
	/*
	 * Lengths that the wrapped size cannot tell apart (KWP pads to 8): only
	 * the unwrapped CKA_VALUE_LEN shows them. A 30-byte value as a 32-byte
	 * secret, a 25-byte value as aes-256.
	 */
	CU_ASSERT_EQUAL_FATAL(wrap_for_import(jwk, v, 30, &kek, &val), 0);
	CU_ASSERT_EQUAL(call1(cl, import_req(lbl, "secret", 32, imp_kid(), kek, val), &o),
	    KW_ERR_INVALID_FORMAT);
	check_unchanged(before, lbl);
	free(kek);
	free(val);
	CU_ASSERT_EQUAL_FATAL(wrap_for_import(jwk, v, 25, &kek, &val), 0);
	CU_ASSERT_EQUAL(call1(cl, import_req(lbl, "aes-256", 0, imp_kid(), kek, val), &o),
	    KW_ERR_INVALID_FORMAT);
	check_unchanged(before, lbl);
	free(kek);
	free(val);
	/* a 20-byte secret whose padding block is missing (20 bytes wrapped as they are) */
	CU_ASSERT_EQUAL_FATAL(wrap_for_import(jwk, v, 20, &kek, &val), 0);
	CU_ASSERT_EQUAL(call1(cl, import_req(lbl, "secret", 20, imp_kid(), kek, val), &o),
	    KW_ERR_INVALID_FORMAT);
	check_unchanged(before, lbl);
	free(kek);
	free(val);
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
		CU_ASSERT_EQUAL_FATAL(hsm_client_call(cl, gen_req(label, "aes-128", 0, 0), res_cb,
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
		CU_ASSERT_EQUAL_FATAL(hsm_client_call(cl, json_pack("{s:s,s:s}", "op", "destroy",
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

/* ---- deadlines, the queue bound and the respawn backoff (real helper) ---- */

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Run the loop for ms milliseconds. */
static void
run_for(int ms)
{
	int fired = 0;
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	struct event *t = evtimer_new(base, timeout_cb, &fired);

	evtimer_add(t, &tv);
	while (!fired)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(t);
}

/* Run the loop until pred(c) holds or ms pass; returns whether it held. */
static int
run_until_down(struct hsm_client *c, int ms)
{
	int64_t until = now_ms() + ms;

	while (hsm_client_connected(c) && now_ms() < until)
		run_for(20);
	return !hsm_client_connected(c);
}

static struct hsm_client *
start_client_dl(unsigned int call_ms, unsigned int admin_ms, unsigned int max_pending)
{
	struct hsm_client_config cfg = {0};
	struct hsm_client *c = NULL;

	cfg.helper_path = helper_path;
	cfg.module_path = MODULE;
	cfg.token_label = "kwtest";
	cfg.pin_file = pin_path;
	cfg.softhsm2_conf = conf_path;
	cfg.log_level = "warn";
	cfg.call_timeout_ms = call_ms;
	cfg.admin_timeout_ms = admin_ms;
	cfg.max_pending = max_pending;
	return hsm_client_start(base, &cfg, &c) == 0 ? c : NULL;
}

/*
 * A stopped helper: every call (sent, and unsent because the socket
 * filled up) completes with KW_ERR_TIMEOUT at its deadline, exactly once;
 * the helper is then declared hung, killed and reaped; the next call
 * starts a new one.
 */
static void
test_deadline_stopped(void)
{
	enum { N = 400 };    /* more than the socket buffer holds: some stay unsent */
	static struct res xs[N];
	struct hsm_client *c = start_client_dl(1000, 3000, 1000);
	struct hsm_client_stats st;
	pid_t pid, pid2;
	int64_t t0, t1;
	uint8_t v[64];

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	pid = hsm_client_pid(c);
	CU_ASSERT_FATAL(pid > 0);
	/* one answered call first: the hung check uses the normal deadline */
	CU_ASSERT_EQUAL_FATAL(release_value(c, "t/aes/one", &ka, v, sizeof(v)), 32);
	CU_ASSERT_EQUAL_FATAL(kill(pid, SIGSTOP), 0);
	t0 = now_ms();
	for (size_t i = 0; i < N; i++)
		CU_ASSERT_EQUAL_FATAL(hsm_client_call(c, release_req("t/aes/one", &ka, "d"), res_cb,
		    &xs[i]), 0);
	hsm_client_get_stats(c, &st);
	CU_ASSERT_EQUAL(st.pending, N);
	CU_ASSERT_EQUAL_FATAL(wait_all(xs, N), 0);
	t1 = now_ms();
	/*
	 * The calls whose deadline passed get KW_ERR_TIMEOUT (at least the
	 * first); in the same moment the helper is declared hung and the rest
	 * fail with KW_ERR_UNAVAILABLE. Each callback runs exactly once.
	 */
	{
		size_t n_to = 0, n_un = 0;

		for (size_t i = 0; i < N; i++) {
			CU_ASSERT_EQUAL(xs[i].done, 1);
			n_to += xs[i].r == KW_ERR_TIMEOUT;
			n_un += xs[i].r == KW_ERR_UNAVAILABLE;
		}
		CU_ASSERT_EQUAL(xs[0].r, KW_ERR_TIMEOUT);
		CU_ASSERT_EQUAL(n_to + n_un, N);
		hsm_client_get_stats(c, &st);
		CU_ASSERT_EQUAL(st.timeouts, n_to);
	}
	/* at the deadline, not before it and not much after it */
	CU_ASSERT(t1 - t0 >= 950);
	CU_ASSERT(t1 - t0 < 2500);
	res_clear(xs, N);
	CU_ASSERT_EQUAL(st.hung, 1);
	CU_ASSERT_EQUAL(st.pending, 0);
	CU_ASSERT_EQUAL(hsm_client_pid(c), -1);
	/* ended although stopped (SIGTERM+SIGCONT, SIGKILL after 3 s), and reaped */
	CU_ASSERT_TRUE(wait_gone(pid, 5000));
	/* the next call starts a new helper (the last spawn was long enough ago) */
	CU_ASSERT_EQUAL(release_value(c, "t/aes/one", &kb, v, sizeof(v)), 32);
	pid2 = hsm_client_pid(c);
	CU_ASSERT(pid2 > 0 && pid2 != pid);
	hsm_client_free(c);
}

/*
 * A helper stopped for less than the hung limit: the short call behind a
 * slow (admin) call times out, the admin call still succeeds, the late
 * reply to the abandoned call is matched and dropped, and the helper is
 * not replaced.
 */
static void
test_deadline_late_reply(void)
{
	struct hsm_client *c = start_client_dl(500, 4000, 100);
	struct hsm_client_stats st;
	struct res a = {0, 0, NULL}, b = {0, 0, NULL}, d = {0, 0, NULL};
	pid_t pid;
	uint8_t v[64];

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	pid = hsm_client_pid(c);
	CU_ASSERT_EQUAL_FATAL(release_value(c, "t/aes/one", &ka, v, sizeof(v)), 32);
	CU_ASSERT_EQUAL_FATAL(kill(pid, SIGSTOP), 0);
	/* "generate" (if_missing) has the admin deadline, "probe" the short one */
	CU_ASSERT_EQUAL_FATAL(hsm_client_call(c, gen_req("t/aes/one", "aes-256", 0, 1), res_cb,
	    &a), 0);
	CU_ASSERT_EQUAL_FATAL(hsm_client_call(c, json_pack("{s:s}", "op", "probe"), res_cb, &b), 0);
	run_for(1200);
	CU_ASSERT_EQUAL(a.done, 0);
	CU_ASSERT_EQUAL(b.done, 1);
	CU_ASSERT_EQUAL(b.r, KW_ERR_TIMEOUT);
	CU_ASSERT_EQUAL(hsm_client_pid(c), pid);    /* not hung: the head has 4 s */
	CU_ASSERT_EQUAL(kill(pid, SIGCONT), 0);
	CU_ASSERT_EQUAL_FATAL(wait_all(&a, 1), 0);
	CU_ASSERT_EQUAL(a.r, 0);
	CU_ASSERT_EQUAL(json_is_false(json_object_get(a.o, "created")), 1);
	/* the late probe reply arrives after a's; give it a moment, then check */
	CU_ASSERT_EQUAL(call1(c, json_pack("{s:s}", "op", "probe"), &d.o), 0);
	hsm_client_get_stats(c, &st);
	CU_ASSERT_EQUAL(st.late_replies, 1);
	CU_ASSERT_EQUAL(st.timeouts, 1);
	CU_ASSERT_EQUAL(st.hung, 0);
	CU_ASSERT_EQUAL(st.pending, 0);
	CU_ASSERT_EQUAL(b.done, 1);    /* its callback ran exactly once */
	CU_ASSERT_EQUAL(hsm_client_pid(c), pid);
	res_clear(&a, 1);
	res_clear(&b, 1);
	res_clear(&d, 1);
	hsm_client_free(c);
}

/* max_pending: the extra call fails at once with KW_ERR_HSM and no callback. */
static void
test_max_pending(void)
{
	static struct res xs[4];
	struct res extra = {0, 0, NULL};
	struct hsm_client *c = start_client_dl(3000, 3000, KW_ARRAY_SIZE(xs));
	struct hsm_client_stats st;
	uint8_t want[64];
	pid_t pid;

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	pid = hsm_client_pid(c);
	CU_ASSERT_EQUAL_FATAL(release_value(c, "t/aes/one", &ka, want, sizeof(want)), 32);
	CU_ASSERT_EQUAL_FATAL(kill(pid, SIGSTOP), 0);
	for (size_t i = 0; i < KW_ARRAY_SIZE(xs); i++)
		CU_ASSERT_EQUAL(hsm_client_call(c, release_req("t/aes/one", &ka, "m"), res_cb,
		    &xs[i]), 0);
	CU_ASSERT_EQUAL(hsm_client_call(c, release_req("t/aes/one", &ka, "m"), res_cb, &extra),
	    KW_ERR_HSM);
	hsm_client_get_stats(c, &st);
	CU_ASSERT_EQUAL(st.rejected, 1);
	CU_ASSERT_EQUAL(st.pending, KW_ARRAY_SIZE(xs));
	run_for(300);
	CU_ASSERT_EQUAL(extra.done, 0);
	CU_ASSERT_EQUAL(kill(pid, SIGCONT), 0);
	CU_ASSERT_EQUAL_FATAL(wait_all(xs, KW_ARRAY_SIZE(xs)), 0);
	check_batch(xs, KW_ARRAY_SIZE(xs), &ka, want, 32);
	res_clear(xs, KW_ARRAY_SIZE(xs));
	CU_ASSERT_EQUAL(extra.done, 0);
	/* room again */
	CU_ASSERT_EQUAL(release_value(c, "t/aes/one", &ka, want, sizeof(want)), 32);
	CU_ASSERT_EQUAL(hsm_client_pid(c), pid);
	hsm_client_free(c);
}

/* A helper that dies right after its start is not started again within a second. */
static void
test_respawn_backoff(void)
{
	static struct res first, never;
	struct hsm_client *c = start_client_dl(2000, 3000, 100);
	struct hsm_client_stats st;
	unsigned long spawns;
	pid_t pid;
	uint8_t v[64];

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	run_for(1100);    /* the first start is now more than a second ago */
	CU_ASSERT_EQUAL_FATAL(kill(hsm_client_pid(c), SIGKILL), 0);
	CU_ASSERT_FATAL(run_until_down(c, 5000));
	hsm_client_get_stats(c, &st);
	spawns = st.spawns;
	/* first call after the death: a new helper at once... */
	CU_ASSERT_EQUAL_FATAL(hsm_client_call(c, json_pack("{s:s}", "op", "probe"), res_cb,
	    &first), 0);
	pid = hsm_client_pid(c);
	CU_ASSERT_FATAL(pid > 0);
	/*
	 * ...which dies during its start. SIGTERM, not SIGKILL: a helper killed
	 * inside its C_Login can empty SoftHSM's token.object (docs/hsm.md).
	 */
	CU_ASSERT_EQUAL_FATAL(kill(pid, SIGTERM), 0);
	CU_ASSERT_FATAL(run_until_down(c, 5000));
	CU_ASSERT_EQUAL(first.done, 1);
	CU_ASSERT_EQUAL(first.r, KW_ERR_UNAVAILABLE);
	/* within a second of that start: fail fast, no fork */
	CU_ASSERT_EQUAL(hsm_client_call(c, json_pack("{s:s}", "op", "probe"), res_cb, &never),
	    KW_ERR_HSM);
	hsm_client_get_stats(c, &st);
	CU_ASSERT_EQUAL(st.spawns, spawns + 1);
	CU_ASSERT_EQUAL(hsm_client_pid(c), -1);
	run_for(1100);
	CU_ASSERT_EQUAL(never.done, 0);
	CU_ASSERT_EQUAL(release_value(c, "t/aes/one", &ka, v, sizeof(v)), 32);
	hsm_client_get_stats(c, &st);
	CU_ASSERT_EQUAL(st.spawns, spawns + 2);
	res_clear(&first, 1);
	hsm_client_free(c);
}

/* Supervisor argument parsing: allow lists and the sd_listen_fds protocol. */
static void
test_supervise_parse(void)
{
	struct hsm_allow a = {{0}, 0};
	const char *bad[] = {"", "-1", "+1", "01", "1.0", "1 ", "x", "4294967295", "4294967296",
		"99999999999999999999999", NULL};
	int fd = -1;

	CU_ASSERT_EQUAL(hsm_allow_add_uid(&a, "0"), 0);
	CU_ASSERT_EQUAL(hsm_allow_add_uid(&a, "4294967294"), 0);
	CU_ASSERT_EQUAL(hsm_allow_add_uid(&a, "0"), 0);    /* no duplicate */
	CU_ASSERT_EQUAL(a.n, 2);
	CU_ASSERT_TRUE(hsm_allow_has(&a, 0));
	CU_ASSERT_TRUE(hsm_allow_has(&a, 4294967294U));
	CU_ASSERT_FALSE(hsm_allow_has(&a, 1));
	for (size_t i = 0; bad[i] != NULL; i++)
		CU_ASSERT_EQUAL(hsm_allow_add_uid(&a, bad[i]), KW_ERR_INVALID_FORMAT);
	CU_ASSERT_EQUAL(a.n, 2);
	for (unsigned int u = 10; a.n < HSM_ALLOW_MAX; u++) {
		char num[16];

		snprintf(num, sizeof(num), "%u", u);
		CU_ASSERT_EQUAL_FATAL(hsm_allow_add_uid(&a, num), 0);
	}
	CU_ASSERT_EQUAL(hsm_allow_add_uid(&a, "5"), KW_ERR_TOO_LARGE);
	CU_ASSERT_EQUAL(hsm_allow_add_user(&a, "root"), 0);    /* uid 0, already there */
	CU_ASSERT_EQUAL(hsm_allow_add_user(&a, "no-such-user-kw"), KW_ERR_NOT_FOUND);

	CU_ASSERT_EQUAL(hsm_listen_fds_parse("42", "1", 42, &fd), 0);
	CU_ASSERT_EQUAL(fd, 3);
	fd = -1;
	CU_ASSERT_EQUAL(hsm_listen_fds_parse(NULL, "1", 42, &fd), KW_ERR_NOT_FOUND);
	CU_ASSERT_EQUAL(hsm_listen_fds_parse("42", NULL, 42, &fd), KW_ERR_NOT_FOUND);
	CU_ASSERT_EQUAL(hsm_listen_fds_parse("43", "1", 42, &fd), KW_ERR_NOT_FOUND);
	CU_ASSERT_EQUAL(hsm_listen_fds_parse("42", "0", 42, &fd), KW_ERR_NOT_FOUND);
	CU_ASSERT_EQUAL(hsm_listen_fds_parse("42", "2", 42, &fd), KW_ERR_UNSUPPORTED);
	CU_ASSERT_EQUAL(hsm_listen_fds_parse("x42", "1", 42, &fd), KW_ERR_INVALID_FORMAT);
	CU_ASSERT_EQUAL(hsm_listen_fds_parse("42", "-1", 42, &fd), KW_ERR_INVALID_FORMAT);
	CU_ASSERT_EQUAL(hsm_listen_fds_parse("0", "1", 0, &fd), KW_ERR_INVALID_FORMAT);
	CU_ASSERT_EQUAL(hsm_listen_fds_parse("42", "", 42, &fd), KW_ERR_INVALID_FORMAT);
	CU_ASSERT_EQUAL(hsm_listen_fds_parse("42", "99999999999", 42, &fd), KW_ERR_INVALID_FORMAT);
	CU_ASSERT_EQUAL(fd, -1);    /* never written on failure */
}

static void
test_start_failures(void)
{
	struct hsm_client_config cfg = {0};
	struct hsm_client *c = NULL;

	cfg.helper_path = "/nonexistent/keywarden-hsm";
	cfg.module_path = MODULE;
	cfg.token_label = "kwtest";
	cfg.pin_file = pin_path;
	cfg.softhsm2_conf = conf_path;
	CU_ASSERT_EQUAL(hsm_client_start(base, &cfg, &c), KW_ERR_UNAVAILABLE);
	CU_ASSERT_PTR_NULL(c);
	cfg.helper_path = NULL;
	CU_ASSERT_EQUAL(hsm_client_start(base, &cfg, &c), KW_ERR_INVALID_ARG);
	/* wrong token label: the helper runs, the probe answers with no profile */
	cfg.helper_path = helper_path;
	cfg.token_label = "nosuchtoken";
	cfg.log_level = "error";
	CU_ASSERT_EQUAL_FATAL(hsm_client_start(base, &cfg, &c), 0);
	CU_ASSERT_EQUAL(json_array_size(json_object_get(hsm_client_probe(c), "profiles")), 0);
	{
		json_t *o = NULL;

		CU_ASSERT_EQUAL(call1(c, release_req("t/aes/one", &ka, "k"), &o), KW_ERR_HSM);
	}
	hsm_client_free(c);
}

int
main(int argc, char **argv)
{
	CU_pSuite s;
	unsigned int fails;

	if (argc < 4) {
		fprintf(stderr, "usage: test_hsm KEYWARDEN_HSM JWE_DECRYPT_PY JWS_VERIFY_PY\n");
		return 2;
	}
	helper_path = argv[1];
	py_script = argv[2];
	jws_script = argv[3];
	kw_json_init();
	kw_log_init("test_hsm", KW_LOG_WARN);
	signal(SIGPIPE, SIG_IGN);
	if (tkey_gen(2048, &key2048) != 0)
		return 1;
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("hsm_offline", NULL, NULL);
	CU_add_test(s, "parse_good", test_parse_good);
	CU_add_test(s, "parse_reject", test_parse_reject);
	CU_add_test(s, "parse_rsa", test_parse_rsa);
	CU_add_test(s, "parse_sweeps", test_parse_sweeps);
	CU_add_test(s, "jwe_compact", test_jwe_compact);
	CU_add_test(s, "token_label_parse", test_token_label_parse);
	CU_add_test(s, "parse_token_ops", test_parse_token_ops);
	CU_add_test(s, "parse_sign_sweeps", test_parse_sign_sweeps);
	CU_add_test(s, "ec_point", test_ec_point);
	CU_add_test(s, "token_key_json", test_token_key_json);
	CU_add_test(s, "sig_fixed", test_sig_fixed);
	CU_add_test(s, "supervise_parse", test_supervise_parse);
	CU_add_test(s, "parse_admin_ops", test_parse_admin_ops);
	CU_add_test(s, "parse_import_sweeps", test_parse_import_sweeps);
	s = CU_add_suite("hsm_softhsm", suite_token_init, suite_token_clean);
	CU_add_test(s, "probe", test_probe);
	CU_add_test(s, "generate", test_generate);
	CU_add_test(s, "release_same_value", test_release_same_value);
	CU_add_test(s, "generic_secret", test_generic_secret);
	CU_add_test(s, "jwcrypto", test_jwcrypto);
	CU_add_test(s, "deleted_behind", test_deleted_behind);
	CU_add_test(s, "token_keys_empty", test_token_keys_empty);
	CU_add_test(s, "token_key_new", test_token_key_new);
	CU_add_test(s, "token_sign", test_token_sign);
	CU_add_test(s, "token_jwcrypto", test_token_jwcrypto);
	CU_add_test(s, "token_sign_errors", test_token_sign_errors);
	CU_add_test(s, "token_key_attrs", test_token_key_attrs);
	CU_add_test(s, "token_key_destroy", test_token_key_destroy);
	CU_add_test(s, "token_foreign", test_token_foreign);
	CU_add_test(s, "token_sign_recycle", test_token_sign_recycle);
	CU_add_test(s, "import_key", test_import_key);
	CU_add_test(s, "import_key_attrs", test_import_key_attrs);
	CU_add_test(s, "import_roundtrip", test_import_roundtrip);
	CU_add_test(s, "import_rejects", test_import_rejects);
	CU_add_test(s, "key_list_destroy", test_key_list_destroy);
	CU_add_test(s, "key_list_pages", test_key_list_pages);
	CU_add_test(s, "errors", test_errors);
	CU_add_test(s, "raw_garbage", test_raw_garbage);
	CU_add_test(s, "pipeline", test_pipeline);
	CU_add_test(s, "kill_respawn", test_kill_respawn);
	CU_add_test(s, "recycle", test_recycle);
	CU_add_test(s, "recycle_never", test_recycle_never);
	CU_add_test(s, "deadline_stopped", test_deadline_stopped);
	CU_add_test(s, "deadline_late_reply", test_deadline_late_reply);
	CU_add_test(s, "max_pending", test_max_pending);
	CU_add_test(s, "respawn_backoff", test_respawn_backoff);
	CU_add_test(s, "start_failures", test_start_failures);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures() + CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	json_decref(tk_a);
	json_decref(tk_b);
	json_decref(imp_key);
	tkey_free(&key2048);
	return fails == 0 ? 0 : 1;
}
