/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Segment exports (audit_segment.c): header, checkpoints, proofs, records,
 * verified against a fixed key (its private half was thrown away after
 * signing the corpus seeds). Properties: a verdict names a range inside the
 * checkpoint's tree; a good segment holds exactly to - from records; a bad
 * one names an index in [from, to].
 */
#include <stdlib.h>
#include <string.h>

#include "audit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char fixed_vkey[] =
    "keywarden.fuzz/audit+a163453b+AjBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABEnYkKFW9iqDPbMzRRCT4x4dRjf5oJsStVMEPBk/siL9P7xTDhoZtlJ/lsbbA2DAa2IH3Fh9kxBwCBMESXsl/e8=";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct audit_vkey *key;
	struct audit_verify_result res;
	struct audit_segment_info info;

	if (key == NULL && audit_vkey_parse(fixed_vkey, strlen(fixed_vkey), &key) != 0)
		abort();
	if (audit_verify_segment((const char *)data, size, key, &res, &info) != 0)
		return 0;
	if (info.from >= info.to || info.to > info.size ||
	    (info.latest_size != 0 && info.latest_size < info.size) ||
	    strcmp(info.origin, "keywarden.fuzz/audit") != 0)
		abort();
	if (res.ok && res.records != info.to - info.from)
		abort();
	if (!res.ok && (res.first_bad < info.from || res.first_bad > info.to))
		abort();
	return 0;
}
