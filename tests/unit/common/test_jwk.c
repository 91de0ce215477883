/* SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "kw_b64url.h"
#include "kw_json.h"
#include "kw_jwk.h"
#include "test_common.h"

/* RFC 7638 3.1 example key and thumbprint */
static const char rfc7638_n[] =
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPeb"
    "WKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368"
    "QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd"
    "2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
static const char rfc7638_tp[] = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";

/* RFC 7517 A.1 P-256 key; thumbprint computed independently with python3-jwcrypto */
static const char p256_json[] =
    "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4\","
    "\"y\":\"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM\",\"use\":\"enc\",\"kid\":\"1\"}";
static const char p256_tp[] = "cn-I_WNMClehiVp51i_0VpOENW1upEerA8sEam5hn-s";
/* a P-384 key generated with python3-jwcrypto, thumbprint from jwcrypto */
static const char p384_json[] =
    "{\"crv\":\"P-384\",\"kty\":\"EC\",\"x\":\"jw-bBjN3NdBhaZuTTW_56whxgVhOQdMx9p2UIiqM3DQhE5q5CYuxX"
    "Y-0rI0KAL69\",\"y\":\"r5F_yIXIR5btftkcRF9vqDDY2gZMB67QJexeilRMZ4RREPxOwG6hpJknkwmWCZeP\"}";
static const char p384_tp[] = "LKlxXCMfldqIolk1tRwBfFJqxtGyeubzElUcKeDuzZY";

static json_t *
rfc_rsa(void)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s}", "kty", "RSA", "n", rfc7638_n, "e", "AQAB",
	    "alg", "RS256", "kid", "2011-04-29");
}

static json_t *
parse(const char *s)
{
	json_t *v = NULL;

	if (kw_json_parse(s, strlen(s), 65536, &v) != 0)
		return NULL;
	return v;
}

/* Replace member name by the base64url of its decoded value with bit `bit` flipped,
 * or with `delta` bytes added (>0: leading zeros) or removed (<0: leading bytes). */
static void
mutate_b64(json_t *jwk, const char *name, long bit, int delta)
{
	const char *s = json_string_value(json_object_get(jwk, name));
	uint8_t *raw = NULL, buf[2048];
	size_t len = 0;
	char *enc = NULL;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL_FATAL(kw_b64url_decode_alloc(s, strlen(s), 1024, &raw, &len), 0);
	if (bit >= 0)
		raw[bit / 8] ^= (uint8_t)(0x80 >> (bit % 8));
	if (delta > 0) {
		memset(buf, 0, (size_t)delta);
		memcpy(buf + delta, raw, len);
		len += (size_t)delta;
	} else {
		memcpy(buf, raw - delta, len - (size_t)(-delta));
		len -= (size_t)(-delta);
	}
	CU_ASSERT_EQUAL_FATAL(kw_b64url_encode(buf, len, &enc), 0);
	CU_ASSERT_EQUAL(json_object_set_new(jwk, name, json_string(enc)), 0);
	free(enc);
	free(raw);
}

static int
import_rc(const json_t *jwk)
{
	EVP_PKEY *pk = NULL;
	int r = kw_jwk_import_public(jwk, &pk);

	CU_ASSERT((r == 0) == (pk != NULL));
	EVP_PKEY_free(pk);
	return r;
}

static void
test_jwk_rfc7638(void)
{
	json_t *j = rfc_rsa();
	EVP_PKEY *pk = NULL;
	char tp[44];
	uint8_t *n = NULL, *e = NULL, *want = NULL;
	size_t nlen = 0, elen = 0, wlen = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	CU_ASSERT_EQUAL(kw_jwk_thumbprint(j, tp), 0);
	CU_ASSERT_STRING_EQUAL(tp, rfc7638_tp);
	CU_ASSERT_EQUAL_FATAL(kw_jwk_import_public(j, &pk), 0);
	CU_ASSERT_EQUAL(EVP_PKEY_get_bits(pk), 2048);
	CU_ASSERT_EQUAL(kw_jwk_rsa_components(pk, &n, &nlen, &e, &elen), 0);
	CU_ASSERT_EQUAL(kw_b64url_decode_alloc(rfc7638_n, strlen(rfc7638_n), 1024, &want, &wlen), 0);
	CU_ASSERT_EQUAL(nlen, 256);
	CU_ASSERT(nlen == wlen && memcmp(n, want, wlen) == 0);
	CU_ASSERT(elen == 3 && memcmp(e, "\x01\x00\x01", 3) == 0);
	free(n);
	free(e);
	free(want);
	EVP_PKEY_free(pk);
	json_decref(j);

	j = parse(p256_json);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	CU_ASSERT_EQUAL(kw_jwk_thumbprint(j, tp), 0);
	CU_ASSERT_STRING_EQUAL(tp, p256_tp);
	json_decref(j);
	j = parse(p384_json);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	CU_ASSERT_EQUAL(kw_jwk_thumbprint(j, tp), 0);
	CU_ASSERT_STRING_EQUAL(tp, p384_tp);
	json_decref(j);
}

/* Export, check members, import, compare, thumbprint stable. */
static void
roundtrip(EVP_PKEY *key, const char *kty, size_t members, size_t coord_chars)
{
	json_t *j = NULL, *j2 = NULL;
	EVP_PKEY *back = NULL;
	char tp[44], tp2[44];

	CU_ASSERT_EQUAL_FATAL(kw_jwk_export_public(key, &j), 0);
	CU_ASSERT_EQUAL(json_object_size(j), members);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "kty")), kty);
	if (coord_chars != 0) {
		CU_ASSERT_EQUAL(strlen(json_string_value(json_object_get(j, "x"))), coord_chars);
		CU_ASSERT_EQUAL(strlen(json_string_value(json_object_get(j, "y"))), coord_chars);
	}
	CU_ASSERT_EQUAL_FATAL(kw_jwk_import_public(j, &back), 0);
	CU_ASSERT_EQUAL(EVP_PKEY_eq(key, back), 1);
	CU_ASSERT_EQUAL(kw_jwk_export_public(back, &j2), 0);
	CU_ASSERT(json_equal(j, j2));
	CU_ASSERT_EQUAL(kw_jwk_thumbprint(j, tp), 0);
	CU_ASSERT_EQUAL(kw_jwk_thumbprint(j2, tp2), 0);
	CU_ASSERT_EQUAL(strlen(tp), 43);
	CU_ASSERT_STRING_EQUAL(tp, tp2);
	EVP_PKEY_free(back);
	json_decref(j);
	json_decref(j2);
}

static void
test_jwk_roundtrip_rsa(void)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072);
	uint8_t *n = NULL, *e = NULL;
	size_t nlen = 0, elen = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(k);
	roundtrip(k, "RSA", 3, 0);
	CU_ASSERT_EQUAL(kw_jwk_rsa_components(k, &n, &nlen, &e, &elen), 0);
	CU_ASSERT_EQUAL(nlen, 384);
	CU_ASSERT(n != NULL && (n[0] & 0x80) != 0);
	CU_ASSERT(elen == 3 && memcmp(e, "\x01\x00\x01", 3) == 0);
	free(n);
	free(e);
	EVP_PKEY_free(k);
}

static void
test_jwk_roundtrip_ec(void)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	uint8_t *n = NULL, *e = NULL;
	size_t nlen = 0, elen = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(k);
	roundtrip(k, "EC", 4, 43);
	CU_ASSERT_EQUAL(kw_jwk_rsa_components(k, &n, &nlen, &e, &elen), KW_ERR_UNSUPPORTED);
	CU_ASSERT_PTR_NULL(n);
	EVP_PKEY_free(k);
	k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	CU_ASSERT_PTR_NOT_NULL_FATAL(k);
	roundtrip(k, "EC", 4, 64);
	EVP_PKEY_free(k);
	/* many P-256 keys: some have coordinates with leading zero bytes (padding) */
	for (int i = 0; i < 64; i++) {
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		CU_ASSERT_PTR_NOT_NULL_FATAL(k);
		roundtrip(k, "EC", 4, 43);
		EVP_PKEY_free(k);
	}
}

static void
test_jwk_export_unsupported(void)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	json_t *j = NULL;

	CU_ASSERT_PTR_NOT_NULL_FATAL(k);
	CU_ASSERT_EQUAL(kw_jwk_export_public(k, &j), KW_ERR_UNSUPPORTED);
	CU_ASSERT_PTR_NULL(j);
	EVP_PKEY_free(k);
	k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521");
	CU_ASSERT_PTR_NOT_NULL_FATAL(k);
	CU_ASSERT_EQUAL(kw_jwk_export_public(k, &j), KW_ERR_UNSUPPORTED);
	CU_ASSERT_PTR_NULL(j);
	EVP_PKEY_free(k);
}

static void
test_jwk_ec_point_checks(void)
{
	json_t *base = parse(p256_json), *j;
	char tp[44] = "unchanged";

	CU_ASSERT_PTR_NOT_NULL_FATAL(base);
	CU_ASSERT_EQUAL(import_rc(base), 0);
	/* every single-bit change of x or y leaves the curve */
	for (long bit = 0; bit < 256; bit++) {
		j = json_deep_copy(base);
		mutate_b64(j, bit % 2 == 0 ? "x" : "y", bit, 0);
		CU_ASSERT_EQUAL(import_rc(j), KW_ERR_INVALID_FORMAT);
		CU_ASSERT_EQUAL(kw_jwk_thumbprint(j, tp), KW_ERR_INVALID_FORMAT);
		CU_ASSERT_EQUAL(kw_jwk_check_public(j), KW_ERR_INVALID_FORMAT);
		json_decref(j);
	}
	CU_ASSERT_EQUAL(kw_jwk_check_public(base), 0);
	CU_ASSERT_STRING_EQUAL(tp, "unchanged");
	/* coordinates must be exactly 32 bytes: no extra leading zero, no stripping */
	j = json_deep_copy(base);
	mutate_b64(j, "x", -1, 1);
	CU_ASSERT_EQUAL(import_rc(j), KW_ERR_INVALID_FORMAT);
	json_decref(j);
	j = json_deep_copy(base);
	mutate_b64(j, "y", -1, -1);
	CU_ASSERT_EQUAL(import_rc(j), KW_ERR_INVALID_FORMAT);
	json_decref(j);
	/* coordinates >= p */
	j = json_pack("{s:s, s:s, s:s, s:s}", "kty", "EC", "crv", "P-256",
	    "x", "_____________________________________________w",
	    "y", "_____________________________________________w");
	CU_ASSERT_EQUAL(import_rc(j), KW_ERR_INVALID_FORMAT);
	json_decref(j);
	/* P-256 coordinates under P-384 */
	j = json_deep_copy(base);
	json_object_set_new(j, "crv", json_string("P-384"));
	CU_ASSERT_EQUAL(import_rc(j), KW_ERR_INVALID_FORMAT);
	json_decref(j);
	/* unknown / missing / mistyped members */
	j = json_deep_copy(base);
	json_object_set_new(j, "crv", json_string("P-521"));
	CU_ASSERT_EQUAL(import_rc(j), KW_ERR_UNSUPPORTED);
	json_object_set_new(j, "crv", json_string("secp256k1"));
	CU_ASSERT_EQUAL(import_rc(j), KW_ERR_UNSUPPORTED);
	json_object_set_new(j, "crv", json_integer(1));
	CU_ASSERT_EQUAL(import_rc(j), KW_ERR_INVALID_FORMAT);
	json_decref(j);
	j = json_deep_copy(base);
	json_object_del(j, "y");
	CU_ASSERT_EQUAL(import_rc(j), KW_ERR_INVALID_FORMAT);
	json_decref(j);
	j = json_deep_copy(base);
	json_object_set_new(j, "x", json_string("MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4="));
	CU_ASSERT_EQUAL(import_rc(j), KW_ERR_INVALID_FORMAT);
	json_decref(j);
	json_decref(base);
}

static void
test_jwk_private_members(void)
{
	static const char *const priv[] = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"};

	for (size_t i = 0; i < KW_ARRAY_SIZE(priv); i++) {
		json_t *a = rfc_rsa(), *b = parse(p256_json);
		char tp[44];

		CU_ASSERT_PTR_NOT_NULL_FATAL(a);
		CU_ASSERT_PTR_NOT_NULL_FATAL(b);
		json_object_set_new(a, priv[i], json_string("AQAB"));
		json_object_set_new(b, priv[i], json_null());
		CU_ASSERT_EQUAL(import_rc(a), KW_ERR_INVALID_FORMAT);
		CU_ASSERT_EQUAL(import_rc(b), KW_ERR_INVALID_FORMAT);
		CU_ASSERT_EQUAL(kw_jwk_thumbprint(a, tp), KW_ERR_INVALID_FORMAT);
		json_decref(a);
		json_decref(b);
	}
}

static void
test_jwk_rsa_checks(void)
{
	EVP_PKEY *small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	json_t *j;

	/* leading zero byte in n */
	j = rfc_rsa();
	mutate_b64(j, "n", -1, 1);
	CU_ASSERT_EQUAL(import_rc(j), KW_ERR_INVALID_FORMAT);
	json_decref(j);
	/* even modulus */
	j = rfc_rsa();
	mutate_b64(j, "n", 2047, 0);
	CU_ASSERT_EQUAL(import_rc(j), KW_ERR_INVALID_FORMAT);
	json_decref(j);
	/* 2040-bit modulus: too small */
	j = rfc_rsa();
	mutate_b64(j, "n", -1, -1);
	CU_ASSERT_EQUAL(import_rc(j), KW_ERR_UNSUPPORTED);
	json_decref(j);
	/* exponents */
	{
		static const struct {
			const char *e;
			int want;
		} es[] = {
			{"AQAB", 0}, {"Aw", 0}, {"_____w", 0},    /* 65537, 3, 2^32-1 */
			{"AQAAAAE", KW_ERR_INVALID_FORMAT},       /* 2^32+1 */
			{"AQ", KW_ERR_INVALID_FORMAT},            /* 1 */
			{"BA", KW_ERR_INVALID_FORMAT},            /* 4: even */
			{"AAEAAQ", KW_ERR_INVALID_FORMAT},        /* leading zero */
			{"AQAAAAM", KW_ERR_INVALID_FORMAT},       /* 2^32+3 > 2^32 */
			{"AQAAAAAB", KW_ERR_UNSUPPORTED},         /* 6 bytes */
			{"", KW_ERR_INVALID_FORMAT},
			{"AQAB=", KW_ERR_INVALID_FORMAT},
		};
		for (size_t i = 0; i < KW_ARRAY_SIZE(es); i++) {
			j = rfc_rsa();
			json_object_set_new(j, "e", json_string(es[i].e));
			CU_ASSERT_EQUAL(import_rc(j), es[i].want);
			json_decref(j);
		}
	}
	/* n truncated at every length */
	for (size_t l = 0; l < strlen(rfc7638_n); l++) {
		j = rfc_rsa();
		json_object_set_new(j, "n", json_stringn(rfc7638_n, l));
		CU_ASSERT_NOT_EQUAL(import_rc(j), 0);
		json_decref(j);
	}
	/* 1024-bit key exports but does not import */
	CU_ASSERT_PTR_NOT_NULL_FATAL(small);
	CU_ASSERT_EQUAL(kw_jwk_export_public(small, &j), 0);
	CU_ASSERT_EQUAL(import_rc(j), KW_ERR_UNSUPPORTED);
	json_decref(j);
	EVP_PKEY_free(small);
	/* kty */
	j = rfc_rsa();
	json_object_set_new(j, "kty", json_string("oct"));
	CU_ASSERT_EQUAL(import_rc(j), KW_ERR_UNSUPPORTED);
	json_object_set_new(j, "kty", json_string("rsa"));
	CU_ASSERT_EQUAL(import_rc(j), KW_ERR_UNSUPPORTED);
	json_object_set_new(j, "kty", json_true());
	CU_ASSERT_EQUAL(import_rc(j), KW_ERR_INVALID_FORMAT);
	json_object_del(j, "kty");
	CU_ASSERT_EQUAL(import_rc(j), KW_ERR_INVALID_FORMAT);
	json_decref(j);
	j = json_array();
	CU_ASSERT_EQUAL(import_rc(j), KW_ERR_INVALID_FORMAT);
	json_decref(j);
}

static void
test_jwk_json_truncation(void)
{
	/* every prefix of a serialized JWK fails in parse or import, never crashes */
	size_t n = strlen(p256_json);

	for (size_t l = 0; l < n; l++) {
		json_t *v = NULL;
		int r = kw_json_parse(p256_json, l, n, &v);

		if (r == 0)
			r = import_rc(v);
		CU_ASSERT_NOT_EQUAL(r, 0);
		json_decref(v);
	}
}

int
test_jwk_register(void)
{
	CU_pSuite s = CU_add_suite("jwk", NULL, NULL);

	if (s == NULL)
		return -1;
	return TEST_ADD(s, test_jwk_rfc7638) | TEST_ADD(s, test_jwk_roundtrip_rsa) |
	    TEST_ADD(s, test_jwk_roundtrip_ec) | TEST_ADD(s, test_jwk_export_unsupported) |
	    TEST_ADD(s, test_jwk_ec_point_checks) | TEST_ADD(s, test_jwk_private_members) |
	    TEST_ADD(s, test_jwk_rsa_checks) | TEST_ADD(s, test_jwk_json_truncation);
}
