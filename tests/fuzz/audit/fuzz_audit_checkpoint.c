/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Checkpoint notes (c2sp signed-note) and verifier keys: parse and verify
 * against a fixed key (its private half was thrown away after signing the
 * corpus seed). Properties: a note that verifies also parses to the same
 * checkpoint; the input read as a verifier key either fails or formats back
 * to the same text.
 */
#include <stdlib.h>
#include <string.h>

#include "audit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char fixed_vkey[] =
    "keywarden.fuzz/audit+127c3921+AjBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABGu/Rtm5qimT6NCd0sxlB0ez+7uqthV4q6eQr801S+tLV8QZx5NVnZGVTCmMdpu1ZyWzrRcr0BCNo0991uJJNnk=";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct audit_vkey *key;
	struct audit_checkpoint a, b;
	struct audit_vkey *k = NULL;

	if (key == NULL && audit_vkey_parse(fixed_vkey, strlen(fixed_vkey), &key) != 0)
		abort();
	if (audit_checkpoint_verify((const char *)data, size, key, &a) == 0) {
		if (audit_checkpoint_parse((const char *)data, size, &b) != 0 ||
		    memcmp(&a, &b, sizeof(a)) != 0)
			abort();
	} else {
		if (audit_checkpoint_parse((const char *)data, size, &b) == 0 &&
		    (b.size > (uint64_t)INT64_MAX || b.origin[0] == '\0'))
			abort();
	}
	if (audit_vkey_parse((const char *)data, size, &k) == 0) {
		char *text = NULL;

		if (audit_vkey_format(k, &text) != 0)
			abort();
		/* the key ID's hex may come in upper case; all else is exact */
		if (strlen(text) != size || strncasecmp(text, (const char *)data, size) != 0)
			abort();
		free(text);
		audit_vkey_free(k);
	}
	return 0;
}
