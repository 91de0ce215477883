/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Exported audit records (audit_record_decode). Property: a record that
 * decodes re-encodes from its fields to exactly the same bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "audit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct audit_record rec;
	char *again = NULL;
	size_t len = 0;

	if (audit_record_decode(data, size, &rec) != 0)
		return 0;
	if (audit_record_encode(rec.index, rec.at, rec.kind, rec.prev, rec.data, &again, &len) != 0 ||
	    len != size || memcmp(again, data, size) != 0)
		abort();
	free(again);
	audit_record_clear(&rec);
	return 0;
}
