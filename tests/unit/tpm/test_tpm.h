/* SPDX-License-Identifier: Apache-2.0 */
#ifndef TEST_TPM_H
#define TEST_TPM_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "test_helper.h"
#include "tpm_quote.h"

int test_tpm_quote_register(void);

/* $KW_VECTORS/tpm/<fmt ...> */
#define vpath(buf, n, ...) test_vpath((buf), (n), "tpm", __VA_ARGS__)

/* Read a whole file (≤ 1 MiB, NUL-terminated); asserts on failure. */
int test_slurp(const char *path, uint8_t **buf, size_t *len);
/* Parse a JSON file; asserts on failure. */
json_t *test_json_file(const char *path);
/* The object at a dotted path of o, or NULL. */
json_t *test_jget(json_t *o, const char *path);
/* PCRs of bank b from a vector's "index hex" text file into *p; asserts. */
int test_pcrs_file(const char *path, enum tpm_bank b, struct tpm_pcrs *p);

#endif
