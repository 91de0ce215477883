/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_nvgpu_rim: nvgpu_rim_verify and, when it verifies, nvgpu_rim_refval.
 * Input: an optional root certificate PEM (from "-----BEGIN CERTIFICATE-----"
 * up to and including "-----END CERTIFICATE-----\n") followed by the RIM
 * XML; without a PEM the root is the first half of the input. The seeds
 * (rim_gen_corpus) carry their own root, so the signed path and the
 * extraction behind it are reached.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nvgpu_rim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char begin[] = "-----BEGIN CERTIFICATE-----";
	static const char end[] = "-----END CERTIFICATE-----\n";
	const uint8_t *xml = data + size / 2;
	size_t root_len = size / 2;
	json_t *rim = NULL, *doc = NULL;
	const char *why = NULL;

	if (size >= sizeof(begin) - 1 && memcmp(data, begin, sizeof(begin) - 1) == 0) {
		const uint8_t *e = memmem(data, size, end, sizeof(end) - 1);

		if (e != NULL) {
			root_len = (size_t)(e - data) + sizeof(end) - 1;
			xml = data + root_len;
		}
	}
	if (nvgpu_rim_verify(xml, size - root_len, data, root_len, 1800000000, &rim, &why) == 0) {
		if (nvgpu_rim_refval(rim, &doc) == 0)
			json_decref(doc);
		json_decref(rim);
	} else if (why == NULL) {
		abort();   /* every refusal says why */
	}
	return 0;
}
