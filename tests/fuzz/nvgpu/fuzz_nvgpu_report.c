/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_nvgpu_report: nvgpu_report_parse and the opaque-data claims on the
 * input, then nvgpu_verify with the input as the transcript and a chain of
 * two "certificates" cut from it (bytes 0..n/2 and n/2..n), against the
 * pinned root only.
 */
#include <stdint.h>
#include <stdlib.h>

#include "nvgpu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nvgpu_report *r = malloc(sizeof(*r));
	struct nvgpu_trust *t = NULL;
	json_t *claims = NULL;
	const char *why = NULL;
	const uint8_t *certs[2];
	size_t lens[2];

	if (r == NULL)
		return 0;
	if (nvgpu_report_parse(data, size, r) == 0) {
		(void)nvgpu_report_tlv(r, NVGPU_TLV_DRIVER_VERSION);
		if (nvgpu_report_claims(r, &claims) == 0)
			json_decref(claims);
		claims = NULL;
	}
	free(r);
	if (size < 2 || nvgpu_trust_new(&t) != 0)
		return 0;
	certs[0] = data;
	lens[0] = size / 2;
	certs[1] = data + size / 2;
	lens[1] = size - size / 2;
	if (nvgpu_verify(t, data, size, certs, lens, 2, 1796601600, data, &claims, &why) == 0)
		abort();   /* nothing here chains to NVIDIA's root */
	nvgpu_trust_free(t);
	return 0;
}
