/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz the /kbs/v0/auth body: capped JSON parse, then the strict parser. */
#include <stddef.h>
#include <stdint.h>

#include "broker.h"
#include "kw_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kw_auth_req a;
	const char *why = NULL;
	json_t *j = NULL;

	if (kw_json_parse(data, size, 65536, &j) != 0)
		return 0;
	if (kw_parse_auth(j, &a, &why) == 0 && a.tee == NULL)
		__builtin_trap();    /* success must name the TEE */
	json_decref(j);
	return 0;
}
