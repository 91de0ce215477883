/* SPDX-License-Identifier: Apache-2.0 */
#ifndef TEST_TPM_H
#define TEST_TPM_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "test_helper.h"
#include "tpm_quote.h"

int test_tpm_quote_register(void);
int test_tpm_eventlog_register(void);
int test_tpm_seam_register(void);
int test_tpm_runtime_register(void);

/* CHECKF on the result of expr, evaluated once (CHECKF evaluates its condition twice). */
#define CHECK_RC(expr, want, ...) do { \
	int rc_ = (expr); \
	CHECKF(rc_ == (want), __VA_ARGS__); \
} while (0)

/* $KW_VECTORS/tpm/<fmt ...> */
#define vpath(buf, n, ...) test_vpath((buf), (n), "tpm", __VA_ARGS__)

/* test_slurp, test_json_file, test_jget: test_helper.h */
/* PCRs of bank b from a vector's "index hex" text file into *p; asserts. */
int test_pcrs_file(const char *path, enum tpm_bank b, struct tpm_pcrs *p);

#endif
