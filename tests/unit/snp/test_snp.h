/* SPDX-License-Identifier: Apache-2.0 */
#ifndef TEST_SNP_H
#define TEST_SNP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "test_helper.h"

int test_snp_vectors_register(void);
int test_snp_emu_register(void);

/* $KW_VECTORS/sev-snp/<fmt ...> */
#define vpath(buf, n, ...) test_vpath((buf), (n), "sev-snp", __VA_ARGS__)

#endif
