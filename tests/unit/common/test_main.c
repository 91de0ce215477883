/* SPDX-License-Identifier: Apache-2.0 */
/* test_common: CUnit runner for common/ (meson test --suite unit). */
#include "test_common.h"

int
main(void)
{
	if (test_begin() != 0)
		return 2;
	return test_end(test_b64url_register() | test_util_register() | test_rd_register() |
	    test_json_register() | test_jcs_register() | test_jwk_register() |
	    test_jose_register() | test_name_register() | test_spki_register());
}
