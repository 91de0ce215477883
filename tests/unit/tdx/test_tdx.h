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

/* Read a whole file (≤ 1 MiB); asserts on failure. */
int test_slurp(const char *path, uint8_t **buf, size_t *len);
/* Parse a JSON document from a file or a string; asserts on failure. */
json_t *test_json_file(const char *path);
json_t *test_json_text(const char *text);

#endif
