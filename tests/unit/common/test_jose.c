/* SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>
#include <string.h>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "kw_b64url.h"
#include "kw_jose.h"
#include "kw_json.h"
#include "kw_jwk.h"
#include "test_common.h"

/*
 * Made with python3-jwcrypto 1.1 when this test was written: a fresh P-256
 * key, a JWT signed with it (header {"alg":"ES256","kid":"k1","typ":"JWT"})
 * and a DPoP-shaped proof carrying the public key in "jwk".
 */
static const char jc_pub[] =
    "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"okSCrY-5R58iWQOzdJ3vhPvGU-BS2quAw6ib_LGRjcg\","
    "\"y\":\"7gv3uBQG-Gz9rUcDxe2MCkhoxRNkwLmbJhwTfbcw2IE\"}";
static const char jc_other[] =
    "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"vdpbxGc-8jw6ayaVsRJ-HDzhf_VRYgz0_PpH6m9YBaU\","
    "\"y\":\"zBcSpYvWXSVrl2bnvt_Cf5fbvKeDQYvy15GHX2825dQ\"}";
static const char jc_tok[] =
    "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIiwidHlwIjoiSldUIn0."
    "eyJjbmYiOnsiamt0IjoiYWJjIn0sImV4cCI6MTc2NzIyNTkwMCwiaWF0IjoxNzY3MjI1NjAwLCJpc3MiOiJodHRwczovL2t3"
    "LmV4YW1wbGUifQ."
    "oMeQdESji4HeLifGbRFuC0ic6X0XBicp1OUyhXBB91Z2ed9OmwSRcVD0od4W4hgMUXN3b5sS7UGvNgLrf-OG6w";
static const char jc_dpop[] =
    "eyJhbGciOiJFUzI1NiIsImp3ayI6eyJjcnYiOiJQLTI1NiIsImt0eSI6IkVDIiwieCI6Im9rU0NyWS01UjU4aVdRT3pkSjN2"
    "aFB2R1UtQlMycXVBdzZpYl9MR1JqY2ciLCJ5IjoiN2d2M3VCUUctR3o5clVjRHhlMk1Da2hveFJOa3dMbWJKaHdUZmJjdzJJ"
    "RSJ9LCJ0eXAiOiJkcG9wK2p3dCJ9."
    "eyJodG0iOiJHRVQiLCJodHUiOiJodHRwczovL2t3LmV4YW1wbGUva2JzL3YwL3Jlc291cmNlL2EvYi9jIiwiaWF0IjoxNzY3"
    "MjI1NjAwLCJqdGkiOiJ4MSJ9."
    "PhhTRSwrPfASTB4KCVPgcDcPN3O7NjooMoCuvZ393auMnulLgGopPc37ydtZjDN8AzORGa8yGkWLOv34BKVkCg";
/* printf %s "$jc_tok" | openssl dgst -sha256 -binary | basenc --base64url (padding dropped) */
static const char jc_tok_ath[] = "dnLc8g6kFTROFCWh3YE91_LVHZrTB9HjqE4yeOuMUPs";

static const char *const allow_typ_kid[] = {"typ", "kid", NULL};
static const char *const allow_typ[] = {"typ", NULL};

static EVP_PKEY *
import(const char *s)
{
	json_t *v = NULL;
	EVP_PKEY *pk = NULL;

	if (kw_json_parse(s, strlen(s), 4096, &v) != 0)
		return NULL;
	if (kw_jwk_import_public(v, &pk) != 0)
		pk = NULL;
	json_decref(v);
	return pk;
}

static struct kw_jws *
parse_ok(const char *s)
{
	struct kw_jws *j = NULL;

	CU_ASSERT_EQUAL(kw_jws_parse(s, strlen(s), KW_JWS_MAX, &j), 0);
	return j;
}

static int
parse_rc(const char *s, size_t len)
{
	struct kw_jws *j = (struct kw_jws *)&j; /* sentinel: must stay untouched on failure */
	int r = kw_jws_parse(s, len, KW_JWS_MAX, &j);

	if (r == 0)
		kw_jws_free(j);
	else
		CU_ASSERT_PTR_EQUAL(j, (struct kw_jws *)&j);
	return r;
}

/* 0 when s parses, has an ES256 header within allowed, and verifies with pk. */
static int
full_check(const char *s, size_t len, EVP_PKEY *pk, const char *const *allowed)
{
	struct kw_jws *j = NULL;
	int r;

	if ((r = kw_jws_parse(s, len, KW_JWS_MAX, &j)) != 0)
		return r;
	if ((r = kw_jws_check_header(j, "ES256", allowed)) == 0)
		r = kw_jws_verify_es256(j, pk);
	kw_jws_free(j);
	return r;
}

static void
test_jose_jwcrypto_token(void)
{
	EVP_PKEY *pk = import(jc_pub), *other = import(jc_other);
	struct kw_jws *j = parse_ok(jc_tok);
	json_int_t exp;

	CU_ASSERT_PTR_NOT_NULL_FATAL(pk);
	CU_ASSERT_PTR_NOT_NULL_FATAL(other);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	CU_ASSERT_EQUAL(kw_jws_check_header(j, "ES256", allow_typ_kid), 0);
	CU_ASSERT_EQUAL(kw_jws_verify_es256(j, pk), 0);
	CU_ASSERT_EQUAL(kw_jws_verify_es256(j, other), KW_ERR_SIG_INVALID);
	CU_ASSERT_EQUAL(j->sig_len, 64);
	CU_ASSERT_EQUAL(j->signing_input_len, (size_t)(strrchr(jc_tok, '.') - jc_tok));
	CU_ASSERT_EQUAL(strncmp(j->signing_input, jc_tok, j->signing_input_len), 0);
	CU_ASSERT_EQUAL(strlen(j->signing_input), j->signing_input_len);
	exp = json_integer_value(json_object_get(j->payload, "exp"));
	CU_ASSERT_EQUAL(exp, 1767225900);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j->header, "kid")), "k1");
	/* policy: "kid" not allowed -> format error; another algorithm -> unsupported */
	CU_ASSERT_EQUAL(kw_jws_check_header(j, "ES256", allow_typ), KW_ERR_INVALID_FORMAT);
	CU_ASSERT_EQUAL(kw_jws_check_header(j, "ES256", NULL), KW_ERR_INVALID_FORMAT);
	CU_ASSERT_EQUAL(kw_jws_check_header(j, "ES384", allow_typ_kid), KW_ERR_UNSUPPORTED);
	CU_ASSERT_EQUAL(kw_jws_check_header(j, "ES25", allow_typ_kid), KW_ERR_UNSUPPORTED);
	kw_jws_free(j);

	/* the DPoP-shaped proof: its embedded jwk is the key that verifies it */
	j = parse_ok(jc_dpop);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	{
		static const char *const dpop_allowed[] = {"typ", "jwk", NULL};
		EVP_PKEY *emb = NULL;
		char tp1[44], tp2[44];
		json_t *pubj = NULL;

		CU_ASSERT_EQUAL(kw_jws_check_header(j, "ES256", dpop_allowed), 0);
		CU_ASSERT_EQUAL_FATAL(kw_jwk_import_public(json_object_get(j->header, "jwk"), &emb), 0);
		CU_ASSERT_EQUAL(kw_jws_verify_es256(j, emb), 0);
		CU_ASSERT_EQUAL(kw_json_parse(jc_pub, strlen(jc_pub), 4096, &pubj), 0);
		CU_ASSERT_EQUAL(kw_jwk_thumbprint(pubj, tp1), 0);
		CU_ASSERT_EQUAL(kw_jwk_thumbprint(json_object_get(j->header, "jwk"), tp2), 0);
		CU_ASSERT_STRING_EQUAL(tp1, tp2);
		json_decref(pubj);
		EVP_PKEY_free(emb);
	}
	kw_jws_free(j);
	EVP_PKEY_free(pk);
	EVP_PKEY_free(other);
}

static void
test_jose_ath(void)
{
	char ath[44];

	memset(ath, 'x', sizeof(ath));
	CU_ASSERT_EQUAL(kw_jose_ath(jc_tok, strlen(jc_tok), ath), 0);
	CU_ASSERT_STRING_EQUAL(ath, jc_tok_ath);
	/* SHA-256("") = e3b0c442...: base64url 47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU */
	CU_ASSERT_EQUAL(kw_jose_ath("", 0, ath), 0);
	CU_ASSERT_STRING_EQUAL(ath, "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU");
	CU_ASSERT_EQUAL(kw_jose_ath(NULL, 1, ath), KW_ERR_INVALID_ARG);
}

static void
test_jose_signing_input(void)
{
	json_t *h = json_pack("{s:s, s:s}", "typ", "dpop+jwt", "alg", "ES256");
	json_t *p = json_pack("{s:s, s:i, s:s}", "htm", "GET", "iat", 1, "s", "\xc3\xa9/");
	char *si = (char *)&si;
	size_t n = 7;

	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	/* insertion order, compact, UTF-8 unescaped, "/" unescaped (computed with Python) */
	CU_ASSERT_EQUAL_FATAL(kw_jws_signing_input(h, p, &si, &n), 0);
	CU_ASSERT_STRING_EQUAL(si, "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2In0."
	    "eyJodG0iOiJHRVQiLCJpYXQiOjEsInMiOiLDqS8ifQ");
	CU_ASSERT_EQUAL(n, strlen(si));
	free(si);
	si = (char *)&si;
	CU_ASSERT_EQUAL(kw_jws_signing_input(h, json_array_get(p, 0), &si, &n), KW_ERR_INVALID_ARG);
	CU_ASSERT_PTR_EQUAL(si, (char *)&si);
	/* a header our own parser would refuse is never produced */
	{
		char big[KW_JWS_HEADER_MAX + 1];

		memset(big, 'a', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		CU_ASSERT_EQUAL(json_object_set_new(h, "kid", json_string(big)), 0);
		CU_ASSERT_EQUAL(kw_jws_signing_input(h, p, &si, &n), KW_ERR_TOO_LARGE);
		CU_ASSERT_PTR_EQUAL(si, (char *)&si);
	}
	json_decref(h);
	json_decref(p);
}

/* Build a token from header and payload JSON with a signature made by key (or raw sig). */
static char *
make_token(EVP_PKEY *key, const char *hjson, const char *pjson)
{
	json_t *h = NULL, *p = NULL;
	char *si = NULL, *tok = NULL;
	size_t n = 0;
	uint8_t sig[KW_ES256_SIG_LEN];

	CU_ASSERT_EQUAL_FATAL(kw_json_parse(hjson, strlen(hjson), 65536, &h), 0);
	CU_ASSERT_EQUAL_FATAL(kw_json_parse(pjson, strlen(pjson), 65536, &p), 0);
	CU_ASSERT_EQUAL_FATAL(kw_jws_signing_input(h, p, &si, &n), 0);
	CU_ASSERT_EQUAL_FATAL(kw_es256_sign(key, si, n, sig), 0);
	CU_ASSERT_EQUAL_FATAL(kw_jws_compact(si, sig, sizeof(sig), &tok), 0);
	free(si);
	json_decref(h);
	json_decref(p);
	return tok;
}

static void
test_jose_sign_roundtrip(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-256"), *k2 = EVP_EC_gen("P-256"), *k384 = EVP_EC_gen("P-384");
	EVP_PKEY *rsa = EVP_RSA_gen(2048);
	uint8_t sig[KW_ES256_SIG_LEN];
	char *tok;

	CU_ASSERT_PTR_NOT_NULL_FATAL(k);
	CU_ASSERT_PTR_NOT_NULL_FATAL(k2);
	CU_ASSERT_PTR_NOT_NULL_FATAL(k384);
	CU_ASSERT_PTR_NOT_NULL_FATAL(rsa);
	tok = make_token(k, "{\"alg\":\"ES256\",\"typ\":\"JWT\"}", "{\"sub\":\"x\",\"n\":[1,2]}");
	CU_ASSERT_EQUAL(full_check(tok, strlen(tok), k, allow_typ), 0);
	CU_ASSERT_EQUAL(full_check(tok, strlen(tok), k2, allow_typ), KW_ERR_SIG_INVALID);
	/* only P-256 keys are acceptable, for signing and verifying */
	CU_ASSERT_EQUAL(full_check(tok, strlen(tok), k384, allow_typ), KW_ERR_INVALID_ARG);
	CU_ASSERT_EQUAL(full_check(tok, strlen(tok), rsa, allow_typ), KW_ERR_INVALID_ARG);
	CU_ASSERT_EQUAL(kw_es256_sign(k384, "a", 1, sig), KW_ERR_INVALID_ARG);
	CU_ASSERT_EQUAL(kw_es256_sign(rsa, "a", 1, sig), KW_ERR_INVALID_ARG);
	/* a public-only key cannot sign */
	{
		EVP_PKEY *pub = import(jc_pub);

		CU_ASSERT_NOT_EQUAL(kw_es256_sign(pub, "a", 1, sig), 0);
		EVP_PKEY_free(pub);
	}
	free(tok);
	EVP_PKEY_free(k);
	EVP_PKEY_free(k2);
	EVP_PKEY_free(k384);
	EVP_PKEY_free(rsa);
}

/* Sign with OpenSSL directly (DER), convert to r‖s, verify through the JWS path. */
static void
test_jose_der_convert(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	const char si[] = "eyJhbGciOiJFUzI1NiJ9.eyJhIjoxfQ";
	uint8_t der[80], raw[64], raw2[64], *der2 = NULL;
	size_t derlen = sizeof(der), der2len = 0;
	struct kw_jws *j = NULL;
	char *tok = NULL;

	CU_ASSERT_PTR_NOT_NULL_FATAL(k);
	CU_ASSERT_PTR_NOT_NULL_FATAL(md);
	CU_ASSERT_EQUAL_FATAL(EVP_DigestSignInit_ex(md, NULL, "SHA256", NULL, NULL, k, NULL), 1);
	CU_ASSERT_EQUAL_FATAL(EVP_DigestSign(md, der, &derlen, (const uint8_t *)si, strlen(si)), 1);
	CU_ASSERT_EQUAL_FATAL(kw_ecdsa_der_to_raw(der, derlen, 32, raw), 0);
	CU_ASSERT_EQUAL_FATAL(kw_jws_compact(si, raw, sizeof(raw), &tok), 0);
	j = parse_ok(tok);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	CU_ASSERT_EQUAL(kw_jws_verify_es256(j, k), 0);
	kw_jws_free(j);
	/* and back: r‖s -> DER gives the same bytes OpenSSL produced */
	CU_ASSERT_EQUAL_FATAL(kw_ecdsa_raw_to_der(raw, sizeof(raw), &der2, &der2len), 0);
	CU_ASSERT_EQUAL(der2len, derlen);
	CU_ASSERT_EQUAL(memcmp(der2, der, derlen), 0);
	free(der2);
	/* a small r (leading zero bytes) is left-padded to 32 bytes */
	{
		static const uint8_t small[] = {0x30, 0x08, 0x02, 0x02, 0x01, 0x02, 0x02, 0x02, 0x7f, 0x03};

		memset(raw2, 0xee, sizeof(raw2));
		CU_ASSERT_EQUAL(kw_ecdsa_der_to_raw(small, sizeof(small), 32, raw2), 0);
		CU_ASSERT_EQUAL(raw2[29], 0);
		CU_ASSERT_EQUAL(raw2[30], 0x01);
		CU_ASSERT_EQUAL(raw2[31], 0x02);
		CU_ASSERT_EQUAL(raw2[61], 0);
		CU_ASSERT_EQUAL(raw2[62], 0x7f);
		CU_ASSERT_EQUAL(raw2[63], 0x03);
	}
	/* refused: non-minimal INTEGER, trailing byte, negative, too long for n, bad lengths */
	{
		static const uint8_t nonmin[] = {0x30, 0x09, 0x02, 0x03, 0x00, 0x01, 0x02, 0x02, 0x02, 0x7f, 0x03};
		static const uint8_t neg[] = {0x30, 0x06, 0x02, 0x01, 0x81, 0x02, 0x01, 0x01};
		static const uint8_t big[] = {0x30, 0x08, 0x02, 0x02, 0x01, 0x02, 0x02, 0x02, 0x7f, 0x03};
		uint8_t trail[sizeof(big) + 1];

		memcpy(trail, big, sizeof(big));
		trail[sizeof(big)] = 0;
		memset(raw2, 0xee, sizeof(raw2));
		CU_ASSERT_NOT_EQUAL(kw_ecdsa_der_to_raw(nonmin, sizeof(nonmin), 32, raw2), 0);
		CU_ASSERT_NOT_EQUAL(kw_ecdsa_der_to_raw(neg, sizeof(neg), 32, raw2), 0);
		CU_ASSERT_NOT_EQUAL(kw_ecdsa_der_to_raw(trail, sizeof(trail), 32, raw2), 0);
		CU_ASSERT_NOT_EQUAL(kw_ecdsa_der_to_raw(big, sizeof(big), 1, raw2), 0);
		CU_ASSERT_NOT_EQUAL(kw_ecdsa_der_to_raw(der, derlen - 1, 32, raw2), 0);
		CU_ASSERT_EQUAL(kw_ecdsa_der_to_raw(der, 0, 32, raw2), KW_ERR_INVALID_FORMAT);
		CU_ASSERT_EQUAL(kw_ecdsa_der_to_raw(der, derlen, 0, raw2), KW_ERR_INVALID_ARG);
		CU_ASSERT_EQUAL(raw2[0], 0xee); /* out untouched on failure */
		der2 = (uint8_t *)&der2;
		CU_ASSERT_EQUAL(kw_ecdsa_raw_to_der(raw, 63, &der2, &der2len), KW_ERR_INVALID_FORMAT);
		CU_ASSERT_EQUAL(kw_ecdsa_raw_to_der(raw, 0, &der2, &der2len), KW_ERR_INVALID_FORMAT);
		CU_ASSERT_PTR_EQUAL(der2, (uint8_t *)&der2);
	}
	free(tok);
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(k);
}

static char *
b64(const char *s)
{
	char *e = NULL;

	CU_ASSERT_EQUAL_FATAL(kw_b64url_encode(s, strlen(s), &e), 0);
	return e;
}

static char *
join3(const char *a, const char *b, const char *c)
{
	size_t n = strlen(a) + strlen(b) + strlen(c) + 3;
	char *s = malloc(n);

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	snprintf(s, n, "%s.%s.%s", a, b, c);
	return s;
}

static void
test_jose_alg_policy(void)
{
	const char *sig = strrchr(jc_tok, '.') + 1;
	char *h, *p, *t;
	struct kw_jws *j;

	/* alg "none": empty signature, never parses */
	h = b64("{\"alg\":\"none\"}");
	p = b64("{\"sub\":\"x\"}");
	t = join3(h, p, "");
	CU_ASSERT_EQUAL(parse_rc(t, strlen(t)), KW_ERR_INVALID_FORMAT);
	free(t);
	/* alg "none" with a signature parses but is an unsupported algorithm */
	t = join3(h, p, sig);
	j = parse_ok(t);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	CU_ASSERT_EQUAL(kw_jws_check_header(j, "ES256", NULL), KW_ERR_UNSUPPORTED);
	kw_jws_free(j);
	free(t);
	free(h);
	/* HS256 (e.g. keyed with the public key) */
	h = b64("{\"alg\":\"HS256\",\"typ\":\"JWT\"}");
	t = join3(h, p, "dnLc8g6kFTROFCWh3YE91_LVHZrTB9HjqE4yeOuMUPs");
	j = parse_ok(t);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	CU_ASSERT_EQUAL(kw_jws_check_header(j, "ES256", allow_typ), KW_ERR_UNSUPPORTED);
	kw_jws_free(j);
	free(t);
	free(h);
	/* missing or non-string alg, lowercase alg */
	{
		static const char *const hs[] = {"{\"typ\":\"JWT\"}", "{\"alg\":256}", "{\"alg\":null}",
			"{\"alg\":[\"ES256\"]}"};

		for (size_t i = 0; i < KW_ARRAY_SIZE(hs); i++) {
			h = b64(hs[i]);
			t = join3(h, p, sig);
			j = parse_ok(t);
			CU_ASSERT_PTR_NOT_NULL_FATAL(j);
			CU_ASSERT_EQUAL(kw_jws_check_header(j, "ES256", allow_typ), KW_ERR_INVALID_FORMAT);
			kw_jws_free(j);
			free(t);
			free(h);
		}
		h = b64("{\"alg\":\"es256\"}");
		t = join3(h, p, sig);
		j = parse_ok(t);
		CU_ASSERT_EQUAL(kw_jws_check_header(j, "ES256", allow_typ), KW_ERR_UNSUPPORTED);
		kw_jws_free(j);
		free(t);
		free(h);
	}
	/* "crit" is refused even when listed as allowed */
	{
		static const char *const allow_crit[] = {"crit", "exp", NULL};

		h = b64("{\"alg\":\"ES256\",\"crit\":[\"exp\"],\"exp\":1}");
		t = join3(h, p, sig);
		j = parse_ok(t);
		CU_ASSERT_PTR_NOT_NULL_FATAL(j);
		CU_ASSERT_EQUAL(kw_jws_check_header(j, "ES256", allow_crit), KW_ERR_INVALID_FORMAT);
		kw_jws_free(j);
		free(t);
		free(h);
	}
	/* a jwk header on a token whose policy does not allow it */
	h = b64("{\"alg\":\"ES256\",\"jwk\":{\"kty\":\"EC\"}}");
	t = join3(h, p, sig);
	j = parse_ok(t);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	CU_ASSERT_EQUAL(kw_jws_check_header(j, "ES256", allow_typ_kid), KW_ERR_INVALID_FORMAT);
	CU_ASSERT_EQUAL(kw_jws_check_header(NULL, "ES256", allow_typ_kid), KW_ERR_INVALID_ARG);
	CU_ASSERT_EQUAL(kw_jws_check_header(j, NULL, allow_typ_kid), KW_ERR_INVALID_ARG);
	kw_jws_free(j);
	free(t);
	free(h);
	free(p);
}

static void
test_jose_shape(void)
{
	const char *dot1 = strchr(jc_tok, '.'), *dot2 = strrchr(jc_tok, '.');
	size_t hl = (size_t)(dot1 - jc_tok), sil = (size_t)(dot2 - jc_tok);
	char buf[KW_JWS_MAX + 2];
	EVP_PKEY *pk = import(jc_pub);

	CU_ASSERT_PTR_NOT_NULL_FATAL(pk);
	CU_ASSERT_EQUAL(parse_rc(jc_tok, strlen(jc_tok)), 0);
	/* 2 and 4 parts, empty parts */
	CU_ASSERT_EQUAL(parse_rc(jc_tok, sil), KW_ERR_INVALID_FORMAT);
	snprintf(buf, sizeof(buf), "%s.%s", jc_tok, dot2 + 1);
	CU_ASSERT_EQUAL(parse_rc(buf, strlen(buf)), KW_ERR_INVALID_FORMAT);
	snprintf(buf, sizeof(buf), "%s.", jc_tok);
	CU_ASSERT_EQUAL(parse_rc(buf, strlen(buf)), KW_ERR_INVALID_FORMAT);
	snprintf(buf, sizeof(buf), "%.*s.", (int)sil, jc_tok);
	CU_ASSERT_EQUAL(parse_rc(buf, strlen(buf)), KW_ERR_INVALID_FORMAT);
	snprintf(buf, sizeof(buf), "%s", dot1);
	CU_ASSERT_EQUAL(parse_rc(buf, strlen(buf)), KW_ERR_INVALID_FORMAT);
	snprintf(buf, sizeof(buf), "%.*s.%s", (int)hl, jc_tok, dot2);
	CU_ASSERT_EQUAL(parse_rc(buf, strlen(buf)), KW_ERR_INVALID_FORMAT);
	CU_ASSERT_EQUAL(parse_rc("..", 2), KW_ERR_INVALID_FORMAT);
	CU_ASSERT_EQUAL(parse_rc("", 0), KW_ERR_INVALID_FORMAT);
	/* padding and whitespace anywhere */
	{
		/* {before the token, after the header part, after the token} */
		static const char *const ins[][3] = {{"", "=", ""}, {" ", "", ""}, {"", " ", ""},
			{"", "\n", ""}, {"", "\t", ""}, {"", "", "\n"}, {"", "", "="}, {"", "", " "},
			{"", "", "\r\n"}, {"\xef\xbb\xbf", "", ""}};

		for (size_t i = 0; i < KW_ARRAY_SIZE(ins); i++) {
			snprintf(buf, sizeof(buf), "%s%.*s%s%s%s", ins[i][0], (int)hl, jc_tok, ins[i][1],
			    dot1, ins[i][2]);
			CU_ASSERT_NOT_EQUAL(parse_rc(buf, strlen(buf)), 0);
		}
		snprintf(buf, sizeof(buf), "%s==", jc_tok);
		CU_ASSERT_NOT_EQUAL(parse_rc(buf, strlen(buf)), 0);
		snprintf(buf, sizeof(buf), "%.*s=.%s", (int)sil, jc_tok, dot2 + 1);
		CU_ASSERT_NOT_EQUAL(parse_rc(buf, strlen(buf)), 0);
		/* standard base64 alphabet */
		snprintf(buf, sizeof(buf), "%s", jc_tok);
		for (char *c = buf; *c != '\0'; c++)
			if (*c == '-')
				*c = '+';
			else if (*c == '_')
				*c = '/';
		CU_ASSERT_NOT_EQUAL(parse_rc(buf, strlen(buf)), 0);
		/* embedded NUL */
		memcpy(buf, jc_tok, strlen(jc_tok) + 1);
		buf[5] = '\0';
		CU_ASSERT_NOT_EQUAL(parse_rc(buf, strlen(jc_tok)), 0);
	}
	/* size caps: len > max, max > KW_JWS_MAX, oversized header */
	{
		struct kw_jws *j = NULL;
		char *h, *big;

		CU_ASSERT_EQUAL(kw_jws_parse(jc_tok, strlen(jc_tok), strlen(jc_tok) - 1, &j), KW_ERR_TOO_LARGE);
		CU_ASSERT_EQUAL(kw_jws_parse(jc_tok, strlen(jc_tok), KW_JWS_MAX + 1, &j), KW_ERR_INVALID_ARG);
		CU_ASSERT_EQUAL(kw_jws_parse(NULL, 0, KW_JWS_MAX, &j), KW_ERR_INVALID_ARG);
		CU_ASSERT_PTR_NULL(j);
		big = malloc(KW_JWS_HEADER_MAX + 64);
		CU_ASSERT_PTR_NOT_NULL_FATAL(big);
		/* exactly KW_JWS_HEADER_MAX bytes of header parses, one more does not */
		snprintf(big, KW_JWS_HEADER_MAX + 64, "{\"alg\":\"ES256\",\"kid\":\"%0*d\"}",
		    KW_JWS_HEADER_MAX - 24, 0);
		CU_ASSERT_EQUAL(strlen(big), KW_JWS_HEADER_MAX);
		h = b64(big);
		snprintf(buf, sizeof(buf), "%s%s", h, dot1);
		CU_ASSERT_EQUAL(parse_rc(buf, strlen(buf)), 0);
		CU_ASSERT_EQUAL(full_check(buf, strlen(buf), pk, allow_typ_kid), KW_ERR_SIG_INVALID);
		free(h);
		snprintf(big, KW_JWS_HEADER_MAX + 64, "{\"alg\":\"ES256\",\"kid\":\"%0*d\"}",
		    KW_JWS_HEADER_MAX - 23, 0);
		h = b64(big);
		snprintf(buf, sizeof(buf), "%s%s", h, dot1);
		CU_ASSERT_EQUAL(parse_rc(buf, strlen(buf)), KW_ERR_TOO_LARGE);
		free(h);
		free(big);
		/* a whole token over KW_JWS_MAX */
		memset(buf, 'A', KW_JWS_MAX + 1);
		CU_ASSERT_EQUAL(parse_rc(buf, KW_JWS_MAX + 1), KW_ERR_TOO_LARGE);
	}
	/* header or payload not an object, or not JSON, or duplicate keys */
	{
		static const char *const bad[] = {"[1]", "\"x\"", "1", "null", "{", "{\"a\":1,\"a\":2}",
			"{\"a\":1} ", "{\"a\":1}x", ""};
		char *e, *ok = b64("{\"alg\":\"ES256\"}");

		for (size_t i = 0; i < KW_ARRAY_SIZE(bad); i++) {
			char *t;

			if (bad[i][0] == '\0')
				continue;
			e = b64(bad[i]);
			t = join3(ok, e, dot2 + 1);
			if (strcmp(bad[i], "{\"a\":1} ") == 0) {
				CU_ASSERT_EQUAL(parse_rc(t, strlen(t)), 0); /* JSON whitespace is JSON */
			} else {
				CU_ASSERT_EQUAL(parse_rc(t, strlen(t)), KW_ERR_INVALID_FORMAT);
			}
			free(t);
			t = join3(e, dot1 + 1, "AA");
			if (strcmp(bad[i], "{\"a\":1} ") != 0) {
				CU_ASSERT_NOT_EQUAL(parse_rc(t, strlen(t)), 0);
			}
			free(t);
			free(e);
		}
		free(ok);
	}
	EVP_PKEY_free(pk);
}

static void
test_jose_sig_length_and_payload(void)
{
	const char *dot2 = strrchr(jc_tok, '.');
	size_t sil = (size_t)(dot2 - jc_tok);
	EVP_PKEY *pk = import(jc_pub);
	struct kw_jws *j = parse_ok(jc_tok);
	uint8_t sig[66];
	char *tok = NULL, *si = NULL;
	size_t n = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(pk);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	memcpy(sig, j->sig, 64);
	sig[64] = 0;
	sig[65] = 0;
	si = strndup(jc_tok, sil);
	CU_ASSERT_PTR_NOT_NULL_FATAL(si);
	/* 63, 65 and 66 bytes (also with the right r‖s inside) never verify */
	{
		static const size_t lens[] = {63, 65, 66, 32, 1};

		for (size_t i = 0; i < KW_ARRAY_SIZE(lens); i++) {
			CU_ASSERT_EQUAL_FATAL(kw_jws_compact(si, sig, lens[i], &tok), 0);
			CU_ASSERT_EQUAL(full_check(tok, strlen(tok), pk, allow_typ_kid), KW_ERR_SIG_INVALID);
			free(tok);
		}
		/* a leading zero byte in front of r‖s */
		memmove(sig + 1, j->sig, 64);
		sig[0] = 0;
		CU_ASSERT_EQUAL_FATAL(kw_jws_compact(si, sig, 65, &tok), 0);
		CU_ASSERT_EQUAL(full_check(tok, strlen(tok), pk, allow_typ_kid), KW_ERR_SIG_INVALID);
		free(tok);
		/* r = 0, s = 0 */
		memset(sig, 0, 64);
		CU_ASSERT_EQUAL_FATAL(kw_jws_compact(si, sig, 64, &tok), 0);
		CU_ASSERT_EQUAL(full_check(tok, strlen(tok), pk, allow_typ_kid), KW_ERR_SIG_INVALID);
		free(tok);
		/* r, s = all ones (>= n) */
		memset(sig, 0xff, 64);
		CU_ASSERT_EQUAL_FATAL(kw_jws_compact(si, sig, 64, &tok), 0);
		CU_ASSERT_EQUAL(full_check(tok, strlen(tok), pk, allow_typ_kid), KW_ERR_SIG_INVALID);
		free(tok);
	}
	/* altered payload, re-encoded, same header and signature */
	{
		json_t *pl = json_deep_copy(j->payload);
		json_t *h = j->header;
		char *si2 = NULL;

		CU_ASSERT_EQUAL(json_object_set_new(pl, "exp", json_integer(1767229500)), 0);
		CU_ASSERT_EQUAL_FATAL(kw_jws_signing_input(h, pl, &si2, &n), 0);
		CU_ASSERT_EQUAL_FATAL(kw_jws_compact(si2, j->sig, j->sig_len, &tok), 0);
		CU_ASSERT_EQUAL(full_check(tok, strlen(tok), pk, allow_typ_kid), KW_ERR_SIG_INVALID);
		free(tok);
		free(si2);
		json_decref(pl);
	}
	kw_jws_free(j);
	free(si);
	EVP_PKEY_free(pk);
}

/* Every prefix of a valid token fails to parse or to verify. */
static void
test_jose_truncation_sweep(void)
{
	static const char *const dpop_allowed[] = {"typ", "jwk", NULL};
	EVP_PKEY *pk = import(jc_pub);
	size_t len = strlen(jc_tok), dl = strlen(jc_dpop);
	unsigned int ok = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(pk);
	for (size_t i = 0; i < len; i++)
		if (full_check(jc_tok, i, pk, allow_typ_kid) == 0)
			ok++;
	for (size_t i = 0; i < dl; i++)
		if (full_check(jc_dpop, i, pk, dpop_allowed) == 0)
			ok++;
	CU_ASSERT_EQUAL(ok, 0);
	CU_ASSERT_EQUAL(full_check(jc_tok, len, pk, allow_typ_kid), 0);
	CU_ASSERT_EQUAL(full_check(jc_dpop, dl, pk, dpop_allowed), 0);
	EVP_PKEY_free(pk);
}

/* Every single-bit change of every character fails to parse or to verify. */
static void
test_jose_bitflip_sweep(void)
{
	EVP_PKEY *pk = import(jc_pub);
	size_t len = strlen(jc_tok);
	char buf[sizeof(jc_tok)];
	unsigned int ok = 0, tried = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(pk);
	for (size_t i = 0; i < len; i++) {
		for (int b = 0; b < 8; b++) {
			memcpy(buf, jc_tok, sizeof(buf));
			buf[i] = (char)(buf[i] ^ (1 << b));
			tried++;
			if (full_check(buf, len, pk, allow_typ_kid) == 0)
				ok++;
		}
		/* and every other base64url symbol in this position */
		for (const char *c = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"; *c; c++) {
			if (*c == jc_tok[i])
				continue;
			memcpy(buf, jc_tok, sizeof(buf));
			buf[i] = *c;
			tried++;
			if (full_check(buf, len, pk, allow_typ_kid) == 0)
				ok++;
		}
	}
	CU_ASSERT_EQUAL(ok, 0);
	CU_ASSERT(tried > 8 * len);
	EVP_PKEY_free(pk);
}

int
test_jose_register(void)
{
	CU_pSuite s = CU_add_suite("jose", NULL, NULL);

	if (s == NULL)
		return -1;
	return TEST_ADD(s, test_jose_jwcrypto_token) || TEST_ADD(s, test_jose_ath) ||
	    TEST_ADD(s, test_jose_signing_input) || TEST_ADD(s, test_jose_sign_roundtrip) ||
	    TEST_ADD(s, test_jose_der_convert) || TEST_ADD(s, test_jose_alg_policy) ||
	    TEST_ADD(s, test_jose_shape) || TEST_ADD(s, test_jose_sig_length_and_payload) ||
	    TEST_ADD(s, test_jose_truncation_sweep) || TEST_ADD(s, test_jose_bitflip_sweep) ? -1 : 0;
}
