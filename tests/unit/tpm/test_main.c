/* SPDX-License-Identifier: Apache-2.0 */
/* test_tpm: CUnit runner for verifier-client/tpm (meson test --suite unit tpm). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kw_json.h"
#include "kw_util.h"
#include "test_tpm.h"

int
test_pcrs_file(const char *path, enum tpm_bank b, struct tpm_pcrs *p)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	const char *why = NULL;
	int r;

	if ((r = test_slurp(path, &buf, &len)) != 0)
		return r;
	r = tpm_pcrs_from_text((const char *)buf, len, b, p, &why);
	CHECKF(r == 0, "%s: %s", path, why);
	free(buf);
	return r;
}

int
main(void)
{
	/* The real vectors are the point of this test: a missing directory is a failure. */
	if (test_vectors("tpm") == NULL)
		return 1;
	if (test_begin() != 0)
		return 2;
	return test_end(test_tpm_quote_register() | test_tpm_eventlog_register() |
	    test_tpm_seam_register() | test_tpm_runtime_register());
}
