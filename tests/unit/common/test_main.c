/* SPDX-License-Identifier: Apache-2.0 */
/* test_common: CUnit runner for common/ (meson test --suite unit). */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

#include <CUnit/Basic.h>

#include "kw_json.h"
#include "test_common.h"

static char tmpdir[64];

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
tmpdir_cleanup(void)
{
	if (tmpdir[0] != '\0')
		(void)nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char *
test_tmpdir(void)
{
	if (tmpdir[0] == '\0') {
		snprintf(tmpdir, sizeof(tmpdir), "/tmp/kw-test-common.XXXXXX");
		if (mkdtemp(tmpdir) == NULL) {
			perror("mkdtemp");
			exit(2);
		}
		atexit(tmpdir_cleanup);
	}
	return tmpdir;
}

int
main(void)
{
	unsigned int failed;

	kw_json_init();
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	if (test_b64url_register() != 0 || test_util_register() != 0 || test_rd_register() != 0 ||
	    test_json_register() != 0 || test_jcs_register() != 0 || test_jwk_register() != 0 ||
	    test_jose_register() != 0 || test_name_register() != 0) {
		fprintf(stderr, "test registration failed\n");
		CU_cleanup_registry();
		return 2;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_tests_failed() + CU_get_number_of_failures();
	CU_cleanup_registry();
	return failed == 0 ? 0 : 1;
}
