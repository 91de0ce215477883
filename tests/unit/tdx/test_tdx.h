/* SPDX-License-Identifier: Apache-2.0 */
#ifndef TEST_TDX_H
#define TEST_TDX_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "test_helper.h"

int test_tdx_vectors_register(void);
int test_tdx_emu_register(void);

/* $KW_VECTORS/tdx/<fmt ...> */
#define vpath(buf, n, ...) test_vpath((buf), (n), "tdx", __VA_ARGS__)

/* test_slurp, test_json_file, test_json_text, test_jget: test_helper.h */

#endif
