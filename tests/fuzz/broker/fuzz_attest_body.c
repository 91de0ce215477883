/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz the /kbs/v0/attest body: capped JSON parse, the strict parser (JWK
 * import, the evidence type by shape and its check), and the report-data
 * computation (JCS).
 */
#include <stddef.h>
#include <stdint.h>

#include "broker.h"
#include "kw_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kw_attest_req a;
	const char *why = NULL;
	uint8_t rd[64];
	json_t *j = NULL;

	if (kw_json_parse(data, size, 65536, &j) != 0)
		return 0;
	if (kw_parse_attest(j, &a, &why) == 0) {
		if (a.verifier == NULL || a.evidence == NULL || a.nonce == NULL)
			__builtin_trap();
		if (kw_expected_report_data(a.runtime_data, rd) == 0 && rd[63] != 0)
			__builtin_trap();    /* the padding is zero */
		kw_attest_req_clear(&a);
	}
	json_decref(j);
	return 0;
}
