/* SPDX-License-Identifier: Apache-2.0 */
/* test_tdx: CUnit runner for verifier-client/tdx (meson test --suite unit tdx). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kw_json.h"
#include "kw_util.h"
#include "test_tdx.h"

int
main(void)
{
	/* The real Intel vectors are the point of this test: a missing directory is a failure. */
	if (test_vectors("tdx") == NULL)
		return 1;
	if (test_begin() != 0)
		return 2;
	return test_end(test_tdx_vectors_register() | test_tdx_emu_register());
}
