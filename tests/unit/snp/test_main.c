/* SPDX-License-Identifier: Apache-2.0 */
/* test_snp: CUnit runner for verifier-client/snp (meson test --suite unit snp). */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "test_snp.h"

static const char *vectors;

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
	if (test_begin() != 0)
		return 2;
	return test_end(test_snp_vectors_register() | test_snp_emu_register());
}
