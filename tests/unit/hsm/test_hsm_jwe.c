/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hsm/hsm_jwe.c: JWE assembly, checked with the test's own decryptor.
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

int
test_hsm_jwe_suite(void)
{
	static const struct hsm_test tests[] = {
		{"jwe_compact", test_jwe_compact},
		{NULL, NULL},
	};

	return hsm_test_add_suite("hsm_jwe", false, tests);
}
