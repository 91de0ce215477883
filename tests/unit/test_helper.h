/* SPDX-License-Identifier: Apache-2.0 */
#ifndef TEST_HELPER_H
#define TEST_HELPER_H

/*
 * What every CUnit test program shares: a scratch directory and the runner.
 *
 *	int main(void) {
 *		if (test_begin() != 0) return 2;
 *		... CU_add_suite / TEST_ADD ...
 *		return test_end();
 *	}
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include <CUnit/CUnit.h>

#include "kw_err.h"

/* Add fn to suite under its own name: 0, or -1 (then test_end reports it). */
#define TEST_ADD(suite, fn) (CU_add_test((suite), #fn, (fn)) == NULL ? -1 : 0)

/*
 * A scratch directory for this run (/tmp/kw-test-<program>.XXXXXX), made on
 * first use and removed with everything in it at exit. Exits 2 when it
 * cannot be made.
 */
const char *test_tmpdir(void);
/* Remove path and everything below it (no error when it does not exist). */
void test_rmtree(const char *path);

/* Assert with a message on stderr naming what failed. */
#define CHECKF(cond, ...) do { \
	if (!(cond)) { \
		fprintf(stderr, "\n  FAILED %s:%d: ", __FILE__, __LINE__); \
		fprintf(stderr, __VA_ARGS__); \
		fprintf(stderr, "\n"); \
	} \
	CU_ASSERT(cond); \
} while (0)

/*
 * The test vectors: $KW_VECTORS, once $KW_VECTORS/<sub> is shown to be a
 * directory; NULL (with the reason on stderr) when it is not set or missing,
 * which the caller turns into a failure — the real vectors are the point.
 */
const char *test_vectors(const char *sub);
/* "$KW_VECTORS/<sub>/<fmt ...>" into buf; returns buf. */
const char *test_vpath(char *buf, size_t n, const char *sub, const char *fmt, ...) KW_PRINTF(4, 5);

/* Read a whole file (at most 1 MiB, NUL-terminated, free()); asserts (and says which) on failure. */
int test_slurp(const char *path, uint8_t **buf, size_t *len);
/* Parse a JSON document from a file or a string (at most 4 MiB); asserts on failure, NULL then. */
json_t *test_json_file(const char *path);
json_t *test_json_text(const char *text);
/* The member of o at a dotted path ("a.b.c"), or NULL. */
json_t *test_jget(json_t *o, const char *path);

/* Install kw_json's allocator and open the CUnit registry: 0, or 2. */
int test_begin(void);
/*
 * Run every registered suite verbosely and close the registry. registration
 * is the OR of the TEST_ADD/registration results (non-zero: nothing runs).
 * Returns the process exit status: 0 when every test and assertion passed,
 * 1 when one failed, 2 when the tests could not be registered or run.
 */
int test_end(int registration);
/* test_begin, register a CU_SUITE_INFO_NULL-terminated table, test_end. */
int test_run_suites(CU_SuiteInfo *suites);

#endif
