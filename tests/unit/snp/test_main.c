/* SPDX-License-Identifier: Apache-2.0 */
/* test_snp: CUnit runner for verifier-client/snp (meson test --suite unit snp). */
#include "test_snp.h"

int
main(void)
{
	/* The real AMD vectors are the point of this test: a missing directory is a failure. */
	if (test_vectors("sev-snp") == NULL)
		return 1;
	if (test_begin() != 0)
		return 2;
	return test_end(test_snp_vectors_register() | test_snp_emu_register());
}
