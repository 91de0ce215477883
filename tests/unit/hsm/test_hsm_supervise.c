/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hsm/hsm_supervise.c: the supervisor's argument parsing.
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

int
test_hsm_supervise_suite(void)
{
	static const struct hsm_test tests[] = {
		{"supervise_parse", test_supervise_parse},
		{NULL, NULL},
	};

	return hsm_test_add_suite("hsm_supervise", false, tests);
}
