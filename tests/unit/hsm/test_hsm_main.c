/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The "hsm" unit test: the suites of test_hsm.h in order. argv: the
 * keywarden-hsm executable, tests/unit/hsm/jwe_decrypt.py and
 * jws_verify.py (python3-jwcrypto cross-checks), the fake PKCS#11 module
 * (fake_p11.c, for the helper's self-test gate).
 */
#include <signal.h>
#include <stdio.h>

#include "kw_json.h"
#include "kw_log.h"
#include "test_hsm.h"

int
main(int argc, char **argv)
{
	static int (*const suites[])(void) = {
		test_hsm_proto_suite, test_hsm_req_suite, test_hsm_jwe_suite, test_hsm_tokkey_suite,
		test_hsm_supervise_suite, test_hsm_msg_suite, test_hsm_p11_suite,
		test_hsm_p11_tokkey_suite, test_hsm_p11_admin_suite, test_keywarden_hsm_suite,
		test_hsm_client_suite, test_hsm_uri_suite,
	};
	unsigned int fails;

	if (argc < 5) {
		fprintf(stderr, "usage: test_hsm KEYWARDEN_HSM JWE_DECRYPT_PY JWS_VERIFY_PY "
		    "FAKE_P11_MODULE\n");
		return 2;
	}
	helper_path = argv[1];
	py_script = argv[2];
	jws_script = argv[3];
	fake_module = argv[4];
	kw_json_init();
	kw_log_init("test_hsm", KW_LOG_WARN);
	signal(SIGPIPE, SIG_IGN);
	if (tkey_gen(2048, &key2048) != 0)
		return 1;
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++) {
		if (suites[i]() != 0)
			return 1;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures() + CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	test_hsm_p11_tokkey_cleanup();
	test_hsm_p11_admin_cleanup();
	hsm_test_token_down();
	tkey_free(&key2048);
	return fails == 0 ? 0 : 1;
}
