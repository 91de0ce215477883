/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Offline verification of an exported log against a signed checkpoint:
 * recompute every leaf hash, the chain of "prev" hashes and the tree, and
 * name the first bad index. Each record is vouched for by its successor's
 * "prev" and the last covered one by the checkpoint's root; a break between
 * records i-1 and i is attributed to i-1 when record i is itself vouched for
 * (its successor agrees with it, or it is the last record), else to i.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "audit.h"
#include "audit_int.h"
#include "kw_util.h"

#define AUDIT_EXPORT_MAX (1024UL * 1024 * 1024)   /* one export file */

void
audit_verify_bad(struct audit_verify_result *res, uint64_t i, const char *why)
{
	res->ok = false;
	res->first_bad = i;
	res->reason = why;
}

/* The decoded prev of record i, or false when it does not decode. */
static bool
prev_of(const char *const *recs, const size_t *lens, uint64_t i, uint8_t out[static AUDIT_HASH_LEN])
{
	struct audit_record rec;

	if (audit_record_decode(recs[i], lens[i], &rec) != 0)
		return false;
	memcpy(out, rec.prev, AUDIT_HASH_LEN);
	audit_record_clear(&rec);
	return true;
}

int
audit_verify_chain(const char *const *recs, const size_t *lens, uint64_t n, uint64_t base,
    const uint8_t *first_prev, const uint8_t (*leaves)[AUDIT_HASH_LEN],
    struct audit_verify_result *res)
{
	int r;

	for (uint64_t i = 0; i < n && res->ok; i++) {
		struct audit_record rec;
		uint8_t next_prev[AUDIT_HASH_LEN];
		const uint8_t *want = i == 0 ? first_prev : leaves[i - 1];
		bool vouched;

		if ((r = audit_record_decode(recs[i], lens[i], &rec)) != 0) {
			if (r == KW_ERR_NOMEM)
				return r;
			audit_verify_bad(res, base + i, "the record is not a canonical audit record");
			break;
		}
		if (rec.index != base + i) {
			audit_record_clear(&rec);
			audit_verify_bad(res, base + i, "a record holds another index: records"
			    " deleted, inserted or reordered");
			break;
		}
		if (want != NULL && CRYPTO_memcmp(rec.prev, want, AUDIT_HASH_LEN) != 0) {
			vouched = i + 1 == n || (prev_of(recs, lens, i + 1, next_prev) &&
			    CRYPTO_memcmp(next_prev, leaves[i], AUDIT_HASH_LEN) == 0);
			if (vouched && i > 0)
				audit_verify_bad(res, base + i - 1, "the record differs from what its"
				    " successor's prev names: edited");
			else
				audit_verify_bad(res, base + i, "the record's prev does not name its"
				    " predecessor: edited");
		}
		audit_record_clear(&rec);
	}
	return 0;
}

int
audit_verify_log(const char *const *recs, const size_t *lens, uint64_t n, const char *note,
    size_t note_len, const struct audit_vkey *key, struct audit_verify_result *ret)
{
	struct audit_verify_result res = { .ok = true, .records = n, .reason = "ok" };
	struct audit_checkpoint cp;
	struct audit_frontier f;
	uint8_t (*leaves)[AUDIT_HASH_LEN] = NULL;
	uint8_t zero[AUDIT_HASH_LEN] = { 0 }, root[AUDIT_HASH_LEN];
	int r;

	if ((n > 0 && (recs == NULL || lens == NULL)) || ret == NULL || n > SIZE_MAX / AUDIT_HASH_LEN)
		return KW_ERR_INVALID_ARG;
	if ((r = audit_checkpoint_verify(note, note_len, key, &cp)) != 0)
		return r;
	res.checked = cp.size;
	if (n > 0 && (leaves = malloc((size_t)n * AUDIT_HASH_LEN)) == NULL)
		return KW_ERR_NOMEM;
	for (uint64_t i = 0; i < n; i++)
		if ((r = audit_leaf_hash(recs[i], lens[i], leaves[i])) != 0)
			goto out;
	if ((r = audit_verify_chain(recs, lens, n, 0, zero, leaves, &res)) != 0)
		goto out;
	if (!res.ok)
		goto done;
	if (n < cp.size) {
		audit_verify_bad(&res, n, "the log ends before the checkpoint's tree size: truncated");
		goto done;
	}
	audit_frontier_init(&f);
	for (uint64_t i = 0; i < cp.size; i++)
		if ((r = audit_frontier_append(&f, leaves[i], NULL, NULL)) != 0)
			goto out;
	if ((r = audit_frontier_root(&f, root)) != 0)
		goto out;
	if (CRYPTO_memcmp(root, cp.root, AUDIT_HASH_LEN) != 0) {
		if (cp.size == 0)
			audit_verify_bad(&res, 0, "the checkpoint's root is not the empty tree's");
		else if (n == cp.size)
			audit_verify_bad(&res, cp.size - 1, "the last record differs from the"
			    " checkpoint: edited");
		else
			/* every record is vouched for by its successor, yet the tree
			 * differs: the chain was rewritten consistently from some record
			 * on; one checkpoint cannot say which (an older one can) */
			audit_verify_bad(&res, 0, "the tree differs from the checkpoint although the"
			    " chain is"
			    " intact: rewritten, position unknown");
	}
done:
	*ret = res;
	r = 0;
out:
	free(leaves);
	return r;
}

int
audit_split_lines(const char *buf, size_t len, const char ***ret_lines, size_t **ret_lens,
    size_t *ret_n)
{
	const char **lines = NULL;
	size_t *lens = NULL, n = 0, cap = 0;

	for (size_t i = 0; i < len; i++)
		if (buf[i] == '\n')
			cap++;
	if (len > 0 && buf[len - 1] != '\n')
		cap++;    /* a last line without its newline: read, and it will not parse */
	if (cap > 0 && ((lines = calloc(cap, sizeof(*lines))) == NULL ||
	    (lens = calloc(cap, sizeof(*lens))) == NULL)) {
		free(lines);
		return KW_ERR_NOMEM;
	}
	for (size_t i = 0; i < len;) {
		const char *nl = memchr(buf + i, '\n', len - i);
		size_t l = nl != NULL ? (size_t)(nl - (buf + i)) : len - i;

		lines[n] = buf + i;
		lens[n] = l;
		n++;
		i += l + 1;
	}
	*ret_lines = lines;
	*ret_lens = lens;
	*ret_n = n;
	return 0;
}

int
audit_verify_file(const char *path, const char *note, size_t note_len,
    const struct audit_vkey *key, struct audit_verify_result *ret)
{
	uint8_t *buf = NULL;
	const char **recs = NULL;
	size_t *lens = NULL, len = 0, n = 0;
	int r;

	if (path == NULL || ret == NULL)
		return KW_ERR_INVALID_ARG;
	if ((r = kw_file_read(path, AUDIT_EXPORT_MAX, &buf, &len)) != 0)
		return r;
	if ((r = audit_split_lines((const char *)buf, len, &recs, &lens, &n)) != 0)
		goto out;
	r = audit_verify_log(recs, lens, n, note, note_len, key, ret);
out:
	free(recs);
	free(lens);
	free(buf);
	return r;
}
