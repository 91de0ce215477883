/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Proof verification (RFC 9162 §2.1.3.2, §2.1.4.2) on arbitrary input:
 * index, size, first (u64 little-endian), a mode byte, a leaf, a root, an
 * old root, then up to 64 proof hashes. Properties: no crash, and a
 * verdict that does not depend on how often it is asked.
 */
#include <stdlib.h>
#include <string.h>

#include "audit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t
le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct audit_proof p = { .n = 0 };
	const uint8_t *leaf, *root, *old;
	uint64_t index, tsize, first;
	int r1, r2;

	if (size < 25 + 3 * AUDIT_HASH_LEN)
		return 0;
	index = le64(data);
	tsize = le64(data + 8);
	first = le64(data + 16);
	leaf = data + 25;
	root = leaf + AUDIT_HASH_LEN;
	old = root + AUDIT_HASH_LEN;
	data += 25 + 3 * AUDIT_HASH_LEN;
	size -= 25 + 3 * AUDIT_HASH_LEN;
	while (size >= AUDIT_HASH_LEN && p.n < AUDIT_PROOF_MAX) {
		memcpy(p.hash[p.n++], data, AUDIT_HASH_LEN);
		data += AUDIT_HASH_LEN;
		size -= AUDIT_HASH_LEN;
	}
	r1 = audit_verify_inclusion(index, tsize, leaf, &p, root);
	r2 = audit_verify_inclusion(index, tsize, leaf, &p, root);
	if (r1 != r2 || (r1 != 0 && r1 != KW_ERR_MISMATCH && r1 != KW_ERR_INVALID_ARG))
		abort();
	r1 = audit_verify_consistency(first, tsize, old, root, &p);
	r2 = audit_verify_consistency(first, tsize, old, root, &p);
	if (r1 != r2 || (r1 != 0 && r1 != KW_ERR_MISMATCH && r1 != KW_ERR_INVALID_ARG))
		abort();
	return 0;
}
