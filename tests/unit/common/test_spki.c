/* SPDX-License-Identifier: Apache-2.0 */
/* common/kw_spki.c: RSA SubjectPublicKeyInfo without key encoders. */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "kw_jwk.h"
#include "kw_spki.h"
#include "test_common.h"

/* OpenSSL's own encoding of k (i2d_PUBKEY) as the reference. */
static void
reference(EVP_PKEY *k, uint8_t **der, size_t *len, uint8_t **n, size_t *nlen, uint8_t **e, size_t *elen)
{
	unsigned char *d = NULL;
	int l = i2d_PUBKEY(k, &d);

	CU_ASSERT_FATAL(l > 0);
	*der = malloc((size_t)l);
	CU_ASSERT_FATAL(*der != NULL);
	memcpy(*der, d, (size_t)l);
	*len = (size_t)l;
	OPENSSL_free(d);
	CU_ASSERT_FATAL(kw_jwk_rsa_components(k, n, nlen, e, elen) == 0);
}

static void
test_spki_roundtrip(void)
{
	static const unsigned int bits[] = {2048, 3072, 4096};

	for (size_t i = 0; i < KW_ARRAY_SIZE(bits); i++) {
		EVP_PKEY *k = EVP_RSA_gen(bits[i]);
		uint8_t *der = NULL, *n = NULL, *e = NULL, *mine = NULL, *n2 = NULL, *e2 = NULL;
		size_t len = 0, nlen = 0, elen = 0, mlen = 0, n2len = 0, e2len = 0;
		const unsigned char *p;
		EVP_PKEY *back;

		CU_ASSERT_FATAL(k != NULL);
		reference(k, &der, &len, &n, &nlen, &e, &elen);
		/* ours is byte for byte OpenSSL's */
		CU_ASSERT_EQUAL(kw_rsa_spki_encode(n, nlen, e, elen, &mine, &mlen), 0);
		CHECKF(mlen == len && memcmp(mine, der, len) == 0, "%u bits: encodings differ", bits[i]);
		/* and decodes back to the same numbers, which OpenSSL agrees are the key */
		CU_ASSERT_EQUAL(kw_rsa_spki_decode(der, len, &n2, &n2len, &e2, &e2len), 0);
		CU_ASSERT(n2len == nlen && memcmp(n2, n, nlen) == 0 && e2len == elen && memcmp(e2, e, elen) == 0);
		p = mine;
		back = d2i_PUBKEY(NULL, &p, (long)mlen);
		CU_ASSERT(back != NULL && EVP_PKEY_eq(back, k) == 1);
		EVP_PKEY_free(back);
		EVP_PKEY_free(k);
		free(der);
		free(n);
		free(e);
		free(mine);
		free(n2);
		free(e2);
	}
}

static int
decodes(const uint8_t *der, size_t len)
{
	uint8_t *n = NULL, *e = NULL;
	size_t nlen = 0, elen = 0;
	int r = kw_rsa_spki_decode(der, len, &n, &nlen, &e, &elen);

	CU_ASSERT(r == 0 ? n != NULL && e != NULL && nlen > 0 && elen > 0 : n == NULL && e == NULL);
	free(n);
	free(e);
	return r;
}

static void
test_spki_hostile(void)
{
	EVP_PKEY *k = EVP_RSA_gen(2048), *ec = EVP_EC_gen("P-256");
	uint8_t *der = NULL, *n = NULL, *e = NULL, *buf, *ecder;
	size_t len = 0, nlen = 0, elen = 0, accepted = 0;
	unsigned char *d = NULL;
	int l;

	CU_ASSERT_FATAL(k != NULL && ec != NULL);
	reference(k, &der, &len, &n, &nlen, &e, &elen);
	CU_ASSERT_EQUAL(decodes(der, len), 0);
	/* every truncation fails */
	for (size_t i = 0; i < len; i++)
		CHECKF(decodes(der, i) != 0, "truncated to %zu accepted", i);
	/* trailing bytes fail */
	buf = malloc(len + 1);
	CU_ASSERT_FATAL(buf != NULL);
	memcpy(buf, der, len);
	buf[len] = 0;
	CU_ASSERT_EQUAL(decodes(buf, len + 1), KW_ERR_INVALID_FORMAT);
	/* a bit flip anywhere but inside the integers' contents (n with its leading zero
	 * octet, e) breaks the structure or its DER form: refused; inside them it may be
	 * another well-formed key */
	for (size_t i = 0; i < len * 8; i++) {
		memcpy(buf, der, len);
		buf[i / 8] ^= (uint8_t)(1u << (i % 8));
		if (decodes(buf, len) == 0)
			accepted++;
	}
	CHECKF(accepted <= (nlen + 1 + elen) * 8, "%zu flips accepted", accepted);
	CHECKF(accepted > 0, "no flip inside the modulus was accepted");
	free(buf);
	/* another algorithm */
	l = i2d_PUBKEY(ec, &d);
	CU_ASSERT_FATAL(l > 0);
	ecder = d;
	CU_ASSERT_EQUAL(decodes(ecder, (size_t)l), KW_ERR_INVALID_FORMAT);
	OPENSSL_free(d);
	/* non-minimal length (0x82 0x01 0x22 written as 0x83 0x00 0x01 0x22) is not DER */
	{
		uint8_t *nd = malloc(len + 1);

		CU_ASSERT_FATAL(nd != NULL && der[1] == 0x82);
		nd[0] = der[0];
		nd[1] = 0x83;
		nd[2] = 0;
		memcpy(nd + 3, der + 2, len - 2);
		CU_ASSERT_EQUAL(decodes(nd, len + 1), KW_ERR_INVALID_FORMAT);
		free(nd);
	}
	/* arguments */
	CU_ASSERT_EQUAL(decodes(der, 0), KW_ERR_INVALID_FORMAT);
	CU_ASSERT_EQUAL(kw_rsa_spki_decode(der, 20000, &n, &nlen, &e, &elen), KW_ERR_TOO_LARGE);
	{
		uint8_t *out = NULL, z[2] = {0, 1};
		size_t ol = 0;

		CU_ASSERT_EQUAL(kw_rsa_spki_encode(z, 2, e, elen, &out, &ol), KW_ERR_INVALID_ARG);
		CU_ASSERT_EQUAL(kw_rsa_spki_encode(n, nlen, e, 0, &out, &ol), KW_ERR_INVALID_ARG);
		CU_ASSERT_PTR_NULL(out);
	}
	free(der);
	free(n);
	free(e);
	EVP_PKEY_free(k);
	EVP_PKEY_free(ec);
}

/* The thumbprint from n and e equals the one from the JWK. */
static void
test_rsa_thumbprint_and_members(void)
{
	EVP_PKEY *k = EVP_RSA_gen(3072);
	json_t *jwk = NULL;
	uint8_t *n = NULL, *e = NULL, *n2 = NULL, *e2 = NULL;
	size_t nlen = 0, elen = 0, n2len = 0, e2len = 0;
	char a[44], b[44];

	CU_ASSERT_FATAL(k != NULL && kw_jwk_export_public(k, &jwk) == 0);
	CU_ASSERT_FATAL(kw_jwk_rsa_components(k, &n, &nlen, &e, &elen) == 0);
	CU_ASSERT_EQUAL(kw_jwk_thumbprint(jwk, a), 0);
	CU_ASSERT_EQUAL(kw_jwk_rsa_thumbprint(n, nlen, e, elen, b), 0);
	CU_ASSERT_STRING_EQUAL(a, b);
	CU_ASSERT_EQUAL(kw_jwk_rsa_members(jwk, &n2, &n2len, &e2, &e2len), 0);
	CU_ASSERT(n2len == nlen && memcmp(n2, n, nlen) == 0 && e2len == elen && memcmp(e2, e, elen) == 0);
	free(n2);
	free(e2);
	/* an even modulus and an EC key are refused as the import refuses them */
	{
		json_t *bad = json_deep_copy(jwk);
		char *s;

		n[nlen - 1] ^= 1;
		CU_ASSERT_FATAL(kw_b64url_encode(n, nlen, &s) == 0);
		json_object_set_new(bad, "n", json_string(s));
		free(s);
		n2 = NULL;
		CU_ASSERT_EQUAL(kw_jwk_rsa_members(bad, &n2, &n2len, &e2, &e2len), KW_ERR_INVALID_FORMAT);
		CU_ASSERT_PTR_NULL(n2);
		json_decref(bad);
		bad = json_pack("{s:s, s:s, s:s, s:s}", "kty", "EC", "crv", "P-256", "x", "AA", "y", "AA");
		CU_ASSERT_EQUAL(kw_jwk_rsa_members(bad, &n2, &n2len, &e2, &e2len), KW_ERR_UNSUPPORTED);
		json_decref(bad);
	}
	CU_ASSERT_EQUAL(kw_jwk_rsa_thumbprint(n, 0, e, elen, b), KW_ERR_INVALID_ARG);
	free(n);
	free(e);
	json_decref(jwk);
	EVP_PKEY_free(k);
}

int
test_spki_register(void)
{
	CU_pSuite s = CU_add_suite("spki", NULL, NULL);

	if (s == NULL)
		return -1;
	return TEST_ADD(s, test_spki_roundtrip) | TEST_ADD(s, test_spki_hostile) |
	    TEST_ADD(s, test_rsa_thumbprint_and_members);
}
