/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_tpm_azure: the input as recorded Azure vTPM evidence JSON
 * (tpm_azure_evidence_parse), then its tee-evidence, then the az-*-vtpm
 * members' shape checks on that.
 */
#include <stdint.h>
#include <stdlib.h>

#include "kw_json.h"
#include "tpm_azure.h"
#include "verifier.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tpm_azure_evidence e;
	json_t *doc = NULL, *ev = NULL;
	const char *why = NULL;

	static int init;

	if (!init) {
		kw_json_init();
		init = 1;
	}
	if (kw_json_parse(data, size, TPM_AZURE_MAX_DOC, &doc) != 0)
		return 0;
	if (tpm_azure_evidence_parse(doc, &e, &why) == 0) {
		int tdx = e.td_quote != NULL;

		if (tpm_azure_tee_evidence(&e, tdx, &ev) == 0) {
			(void)(tdx ? kw_verifier_az_tdx_vtpm : kw_verifier_az_snp_vtpm).check(ev, &why);
			json_decref(ev);
		}
		tpm_azure_evidence_clear(&e);
	} else if (why == NULL) {
		abort();
	}
	json_decref(doc);
	return 0;
}
