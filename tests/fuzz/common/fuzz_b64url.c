/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Strict base64url decode. Property: whatever decodes re-encodes to exactly
 * the input (one canonical encoding per byte string), and the max cap holds.
 */
#include <stdlib.h>
#include <string.h>

#include "kw_b64url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *out = NULL;
	char *enc = NULL;
	size_t len = 0, max;

	if (size > 65536)
		return 0;
	/* the first byte picks a cap so that TOO_LARGE is exercised too */
	max = size > 0 ? (size_t)data[0] * 4 : 0;
	if (kw_b64url_decode_alloc((const char *)data, size, max, &out, &len) == 0) {
		if (len > max)
			abort();
		if (kw_b64url_encode(out, len, &enc) != 0)
			abort();
		if (strlen(enc) != size || memcmp(enc, data, size) != 0)
			abort();
		free(enc);
		free(out);
	}
	out = NULL;
	if (kw_b64url_decode_alloc((const char *)data, size, size, &out, &len) == 0) {
		if (kw_b64url_encode(out, len, &enc) != 0 || strlen(enc) != size ||
		    memcmp(enc, data, size) != 0)
			abort();
		free(enc);
		free(out);
	}
	return 0;
}
