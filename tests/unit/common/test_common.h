/* SPDX-License-Identifier: Apache-2.0 */
#ifndef TEST_COMMON_H
#define TEST_COMMON_H

#include "test_helper.h"

/* Each test_<file>.c registers one CUnit suite. */
int test_b64url_register(void);
int test_util_register(void);
int test_rd_register(void);
int test_json_register(void);
int test_jcs_register(void);
int test_jwk_register(void);
int test_jose_register(void);
int test_name_register(void);
int test_spki_register(void);

#endif
