/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_CU_RUN_H
#define KW_CU_RUN_H

#include <CUnit/Basic.h>

/*
 * Register suites (a CU_SUITE_INFO_NULL-terminated table), run them
 * verbosely and free the registry; the exit status (2: CUnit failed).
 */
static inline int
cu_run(CU_SuiteInfo *suites)
{
	unsigned int fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	if (CU_register_suites(suites) != CUE_SUCCESS) {
		CU_cleanup_registry();
		return 2;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed() +
	    CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	return fails == 0 ? 0 : 1;
}

#endif
