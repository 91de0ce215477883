/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_tdx_quote: tdx_quote_parse on the input; for a parsed quote the strict
 * PEM reader on its PCK chain, the SGX extension of its leaf, the identity
 * checks and TCB evaluation against a fixed collateral; then the whole
 * verification against an empty trust, which must never succeed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tdx_collateral *c = fuzz_tdx_fixed_collateral();
	struct tdx_trust *t = NULL;
	struct tdx_quote q, fixed;
	struct tdx_pck pck;
	struct tdx_verify_opts o = { .at = 1767225600, .allow_debug = 1 };
	json_t *claims = NULL;
	const char *why = NULL;

	if (c == NULL)
		return 0;
	if (tdx_quote_parse(data, size, &q, &why) == 0) {
		X509 *certs[3] = { NULL, NULL, NULL };

		fuzz_tdx_fixed_quote(&fixed, &pck);
		if (tdx_pem_certs(q.pck_chain, q.pck_chain_len, certs, 3) == 0) {
			if (tdx_pck_from_cert(certs[0], &pck) != 0)
				fuzz_tdx_fixed_quote(&fixed, &pck);
			for (size_t i = 0; i < 3; i++)
				X509_free(certs[i]);
		}
		fuzz_tdx_evaluate(c, &q, &pck);
	}
	if (tdx_trust_new(&t) != 0)
		return 0;
	if (tdx_verify_quote(t, data, size, c, &o, &claims, &why) == 0)
		abort();   /* nothing verifies against an empty trust */
	json_decref(claims);
	tdx_trust_free(t);
	return 0;
}
