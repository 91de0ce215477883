/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hsm/hsm_p11.c through the real helper: generate, release (decrypted
 * here and once with python3-jwcrypto), the label cache.
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
test_probe(void)
{
	const struct hsm_result *p = hsm_client_start_probe(cl);

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL(p->op, HSM_OP_PROBE);
	CU_ASSERT_STRING_EQUAL(p->u.probe.token, "kwtest");
	CU_ASSERT_EQUAL(p->u.probe.n_profiles, 1);
	CU_ASSERT_STRING_EQUAL(p->u.probe.profiles[0], PROFILE);
	CU_ASSERT_PTR_NOT_NULL(strstr(p->u.probe.module, "SoftHSM"));
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
	char jwe_path[160], pem_path[160], line[256];
	uint8_t v[64];
	size_t vl = 0;
	json_t *o = NULL;
	const char *jwe;
	BIO *bio;

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
	CU_ASSERT_EQUAL(run_python(py_script, jwe_path, pem_path, line, sizeof(line)), 0);
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

int
test_hsm_p11_suite(void)
{
	static const struct hsm_test tests[] = {
		{"probe", test_probe},
		{"generate", test_generate},
		{"release_same_value", test_release_same_value},
		{"generic_secret", test_generic_secret},
		{"jwcrypto", test_jwcrypto},
		{"deleted_behind", test_deleted_behind},
		{NULL, NULL},
	};

	return hsm_test_add_suite("hsm_p11", true, tests);
}
