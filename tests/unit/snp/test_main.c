/* SPDX-License-Identifier: Apache-2.0 */
/* test_snp: CUnit runner for verifier-client/snp (meson test --suite unit snp). */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <CUnit/Basic.h>

#include "test_snp.h"

static char tmpdir[64];
static const char *vectors;

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
		snprintf(tmpdir, sizeof(tmpdir), "/tmp/kw-test-snp.XXXXXX");
		if (mkdtemp(tmpdir) == NULL) {
			perror("mkdtemp");
			exit(2);
		}
		atexit(tmpdir_cleanup);
	}
	return tmpdir;
}

const char *
test_vectors_dir(void)
{
	return vectors;
}

int
main(void)
{
	char path[4096];
	struct stat st;
	unsigned int failed;

	/* The real AMD vectors are the point of this test: a missing directory is a failure. */
	vectors = getenv("KW_VECTORS");
	if (vectors == NULL || vectors[0] == '\0') {
		fprintf(stderr, "test_snp: KW_VECTORS is not set (run through meson test)\n");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/sev-snp", vectors);
	if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "test_snp: vector directory %s is missing\n", path);
		return 1;
	}
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	if (test_snp_vectors_register() != 0 || test_snp_emu_register() != 0) {
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
