/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kw_json_parse, then JCS and the redacted dump. Property: JCS output parses
 * again and canonicalizes to the same bytes (idempotence).
 */
#include <stdlib.h>
#include <string.h>

#include "kw_json.h"

#define FUZZ_JSON_MAX (256 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const allowed[] = {"kty", "crv", "x", "y", "n", "e", NULL};
	static int init;
	json_t *v = NULL, *v2 = NULL;
	char *c1 = NULL, *c2 = NULL, *dump;
	size_t l1 = 0, l2 = 0;
	const char *s;
	int64_t i;
	int b;

	if (!init) {
		kw_json_init();
		init = 1;
	}
	if (kw_json_parse(data, size, FUZZ_JSON_MAX, &v) != 0)
		return 0;
	if (kw_json_check_keys(v, allowed) == 0 && json_object_get(v, "exp") != NULL)
		abort();
	if (kw_json_get_str(v, "kty", &s, NULL) == 0 && s == NULL)
		abort();
	if (kw_json_get_int(v, "exp", &i) == 0 && !json_is_integer(json_object_get(v, "exp")))
		abort();
	if (kw_json_get_bool(v, "debug", &b) == 0 && b != 0 && b != 1)
		abort();
	dump = kw_json_dump_redacted(v);
	free(dump);
	if (kw_jcs_serialize(v, &c1, &l1) == 0) {
		if (strlen(c1) != l1)
			abort();
		/* integers as reals: JCS may print an integral real like 1e20 as
		 * "100000000000000000000", which overflows jansson's json_int_t */
		if ((v2 = json_loadb(c1, l1, JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL,
		    NULL)) == NULL)
			abort();
		if (kw_jcs_serialize(v2, &c2, &l2) != 0 || l1 != l2 || memcmp(c1, c2, l1) != 0)
			abort();
	}
	free(c1);
	free(c2);
	json_decref(v2);
	json_decref(v);
	return 0;
}
