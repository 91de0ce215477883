/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JCS on values the parser cannot produce: arbitrary doubles from raw bit
 * patterns (property: the output reads back as the same double) and objects
 * whose member names and strings are arbitrary bytes, unchecked (property:
 * either KW_ERR_INVALID_FORMAT or output that parses and canonicalizes to
 * itself).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kw_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_double(double d)
{
	json_t *v;
	char *out = NULL, *end;
	size_t len = 0;

	if (!isfinite(d) || (v = json_real(d)) == NULL)
		return;
	if (kw_jcs_serialize(v, &out, &len) != 0)
		abort();
	if (strtod(out, &end) != d || *end != '\0' || strlen(out) != len || len > 25)
		abort();
	free(out);
	json_decref(v);
}

static void
check_object(const uint8_t *p, size_t n)
{
	json_t *o = json_object(), *v2 = NULL;
	char *c1 = NULL, *c2 = NULL;
	size_t l1 = 0, l2 = 0, start = 0;
	int r, k = 0;
	char key[64];

	if (o == NULL)
		return;
	/* NUL-separated fields alternate: member name, string value */
	for (size_t i = 0; i <= n && k < 64; i++) {
		if (i < n && p[i] != 0)
			continue;
		if (k % 2 == 0) {
			size_t kl = i - start < sizeof(key) - 1 ? i - start : sizeof(key) - 1;
			memcpy(key, p + start, kl);
			key[kl] = '\0';
		} else {
			(void)json_object_set_new_nocheck(o, key,
			    json_stringn_nocheck((const char *)p + start, i - start));
		}
		k++;
		start = i + 1;
	}
	r = kw_jcs_serialize(o, &c1, &l1);
	if (r == 0) {
		if ((v2 = json_loadb(c1, l1, JSON_REJECT_DUPLICATES, NULL)) == NULL)
			abort();
		if (kw_jcs_serialize(v2, &c2, &l2) != 0 || l1 != l2 || memcmp(c1, c2, l1) != 0)
			abort();
	} else if (r != KW_ERR_INVALID_FORMAT) {
		abort();
	}
	free(c1);
	free(c2);
	json_decref(v2);
	json_decref(o);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 65536)
		return 0;
	if (data[0] & 1) {
		for (size_t i = 1; i + 8 <= size; i += 8) {
			uint64_t b;
			double d;

			memcpy(&b, data + i, 8);
			memcpy(&d, &b, 8);
			check_double(d);
		}
	} else {
		check_object(data + 1, size - 1);
	}
	return 0;
}
