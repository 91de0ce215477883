/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_snp_certtable: att_snp_certtable_parse over arbitrary bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attester.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct att_snp_certs c;
	uint8_t *copy;

	/* an exact-size heap copy, so ASan sees any read past the end */
	if ((copy = malloc(size > 0 ? size : 1)) == NULL)
		return 0;
	if (size > 0)
		memcpy(copy, data, size);
	memset(&c, 0, sizeof(c));
	if (att_snp_certtable_parse(copy, size, &c) == 0) {
		if (c.nentries > ATT_MAX_CERTTABLE_ENTRIES)
			abort();
		for (int k = 0; k < ATT_CERT__N; k++) {
			if (c.c[k].p == NULL)
				continue;
			/* every view lies after the table and inside the input */
			if (c.c[k].len == 0 || c.c[k].p < copy + (c.nentries + 1) * 24 ||
			    c.c[k].len > size || c.c[k].p > copy + size - c.c[k].len)
				abort();
		}
	}
	free(copy);
	return 0;
}
