/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hsm/hsm_tokkey.c: token-key parts without a token (CKA_EC_POINT, the
 * protocol entry, ECDSA signature values).
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

int
test_hsm_tokkey_suite(void)
{
	static const struct hsm_test tests[] = {
		{"ec_point", test_ec_point},
		{"token_key_json", test_token_key_json},
		{"sig_fixed", test_sig_fixed},
		{NULL, NULL},
	};

	return hsm_test_add_suite("hsm_tokkey", false, tests);
}
