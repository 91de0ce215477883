/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_crypto_conf: att_manifest_crypto_parse (the crypto declaration) over arbitrary bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attester.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *r = NULL;
	uint8_t *copy;
	const char *k;
	json_t *v;

	/* an exact-size heap copy, so ASan sees any read past the end */
	if ((copy = malloc(size > 0 ? size : 1)) == NULL)
		return 0;
	if (size > 0)
		memcpy(copy, data, size);
	if (att_manifest_crypto_parse(copy, size, &r) == 0) {
		if (json_object_size(r) < 1 || json_object_size(r) > 3)
			abort();
		json_object_foreach(r, k, v) {
			if ((strcmp(k, "rsa_bits") != 0 && strcmp(k, "ec_bits") != 0 &&
			    strcmp(k, "symmetric_bits") != 0) || !json_is_integer(v) ||
			    json_integer_value(v) < 1 || json_integer_value(v) > ATT_CRYPTO_MAX_BITS)
				abort();
		}
		json_decref(r);
	} else if (r != NULL) {
		abort();
	}
	free(copy);
	return 0;
}
