/* SPDX-License-Identifier: Apache-2.0 */
#ifndef TEST_SNP_H
#define TEST_SNP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "test_helper.h"

int test_snp_vectors_register(void);
int test_snp_emu_register(void);

/* $KW_VECTORS (checked non-empty and present by main). */
const char *test_vectors_dir(void);

/* Assert with a message on stderr naming what failed. */
#define CHECKF(cond, ...) do { \
	if (!(cond)) { \
		fprintf(stderr, "\n  FAILED %s:%d: ", __FILE__, __LINE__); \
		fprintf(stderr, __VA_ARGS__); \
		fprintf(stderr, "\n"); \
	} \
	CU_ASSERT(cond); \
} while (0)


#endif
