/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_cca_token: the CCA token parser on the input — the bounded CBOR
 * pre-scan, the full parse without signatures (cca_token_check: collection,
 * both COSE_Sign1, realm and platform claims, the RAK point), and
 * cca_verify against a trust without CPAKs (the parse again, then refusal).
 */
#include <stdint.h>
#include <stdlib.h>

#include "cca.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t empty[1];
	struct cca_trust *t = NULL;
	json_t *claims = NULL;
	const char *why = NULL;
	int scan, parse;

	if (data == NULL)
		data = empty;
	scan = cca_cbor_scan(data, size);
	parse = cca_token_check(data, size, &why);
	if (parse == 0 && scan != 0)
		abort();   /* the parse runs the scan first: it cannot pass what the scan refuses */
	if (cca_trust_new(&t) != 0)
		return 0;
	if (cca_verify(t, data, size, &claims, &why) == 0)
		abort();   /* no CPAK is trusted: nothing may verify */
	cca_trust_free(t);
	return 0;
}
