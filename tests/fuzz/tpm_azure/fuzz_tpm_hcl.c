/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_tpm_hcl: tpm_hcl_parse on the input (an Azure HCL report); when it
 * parses, the binding against its own REPORT_DATA and the runtime claims.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kw_json.h"
#include "tpm_hcl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tpm_hcl *h = NULL;
	const char *why = NULL;
	json_t *c;

	static int init;

	if (!init) {
		kw_json_init();
		init = 1;
	}
	if (tpm_hcl_parse(data, size, &h, &why) != 0) {
		if (h != NULL || why == NULL)
			abort();   /* failures leave *ret alone and say why */
		return 0;
	}
	if (h->ak == NULL || h->var_data_len == 0 ||
	    (h->type != TPM_HCL_SNP && h->type != TPM_HCL_TDX))
		abort();
	/* the constant-time comparison agrees with a plain one */
	if ((tpm_hcl_check_binding(h, h->report_data, &why) == 0) !=
	    (memcmp(h->report_data, h->var_data_sha256, sizeof(h->var_data_sha256)) == 0))
		abort();
	c = tpm_hcl_claims(h);
	json_decref(c);
	tpm_hcl_free(h);
	return 0;
}
