/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Segment exports (docs/audit.md "Retention"): records [from, to) with what
 * makes them verifiable without the rest of the log. A segment is JSON Lines:
 * a header line, then the records, each exactly its leaf bytes. The header
 * (RFC 8785 canonical JSON) carries the signed checkpoint of size N >= to,
 * the compact range of D[0:from] ("left": the roots of the perfect subtrees
 * left of from, largest first) and the RFC 9162 consistency proof from to
 * to N. A verifier folds left and the records into MTH(D[0:to]) and checks
 * the proof against the checkpoint's root: the records are then the leaves
 * from..to-1 of the signed tree (the sizes fix the shape of the fold, so
 * any other record, position or hash changes the root). Optionally, "latest"
 * carries a newer checkpoint and the consistency proof from N to it.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "audit.h"
#include "audit_int.h"
#include "kw_json.h"
#include "kw_util.h"

#define AUDIT_SEGMENT_MAX (1024UL * 1024 * 1024)   /* one segment file */
#define AUDIT_SEGMENT_HEADER_MAX (4 * AUDIT_NOTE_MAX)

static const char *const header_keys[] = {
	"checkpoint", "consistency", "format", "from", "latest", "left", "to", "v", NULL,
};
static const char *const latest_keys[] = { "checkpoint", "consistency", NULL };

/* ---- export ---- */

static json_t *
hash_array(const uint8_t (*h)[AUDIT_HASH_LEN], size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < n; i++) {
		char *x = NULL;

		if (kw_hex_encode(h[i], AUDIT_HASH_LEN, &x) != 0 ||
		    json_array_append_new(a, json_string(x)) != 0) {
			free(x);
			json_decref(a);
			return NULL;
		}
		free(x);
	}
	return a;
}

/* Parse a stored note and check it against the tables' tree at its size. */
static int
stored_checkpoint(struct audit_db *db, uint64_t log_size, const char *note,
    struct audit_checkpoint *ret)
{
	struct audit_checkpoint cp;
	uint8_t root[AUDIT_HASH_LEN];
	int r;

	if ((r = audit_checkpoint_parse(note, strlen(note), &cp)) != 0)
		return r;
	if (cp.size > log_size)
		return KW_ERR_MISMATCH;
	if ((r = audit_db_root(db, cp.size, root)) != 0)
		return r;
	if (CRYPTO_memcmp(root, cp.root, AUDIT_HASH_LEN) != 0)
		return KW_ERR_MISMATCH;
	*ret = cp;
	return 0;
}

int
audit_segment_export(struct audit_db *db, uint64_t from, uint64_t to, FILE *f,
    struct audit_segment_info *ret_info)
{
	struct audit_segment_info info;
	struct audit_checkpoint cp, latest;
	struct audit_nodes src;
	struct audit_frontier left;
	struct audit_proof proof = { .n = 0 }, lproof = { .n = 0 };
	uint64_t size = 0;
	char *note = NULL, *lnote = NULL, *text = NULL;
	size_t tlen = 0;
	json_t *h = NULL, *lo = NULL;
	int r;

	if (db == NULL || f == NULL || from >= to || to >= (UINT64_C(1) << 53))
		return KW_ERR_INVALID_ARG;
	if ((r = audit_db_size(db, &size)) != 0)
		return r;
	if (to > size)
		return KW_ERR_INVALID_ARG;
	if ((r = audit_db_checkpoint_covering(db, to, &note)) != 0 ||
	    (r = stored_checkpoint(db, size, note, &cp)) != 0)
		goto out;
	audit_db_nodes(db, &src);
	if ((r = audit_tree_compact_range(&src, from, &left)) != 0)
		goto out;
	if (to < cp.size && (r = audit_proof_consistency(&src, to, cp.size, &proof)) != 0)
		goto out;
	if ((r = audit_db_checkpoint_latest(db, &lnote)) != 0 ||
	    (r = stored_checkpoint(db, size, lnote, &latest)) != 0)
		goto out;
	if (latest.size > cp.size) {
		if ((r = audit_proof_consistency(&src, cp.size, latest.size, &lproof)) != 0)
			goto out;
		if ((lo = json_pack("{s:s, s:o}", "checkpoint", lnote, "consistency",
		    hash_array((const uint8_t (*)[AUDIT_HASH_LEN])lproof.hash, lproof.n))) == NULL) {
			r = KW_ERR_NOMEM;
			goto out;
		}
	}
	if ((h = json_pack("{s:s, s:o, s:s, s:I, s:o, s:I, s:i}", "checkpoint", note,
	    "consistency", hash_array((const uint8_t (*)[AUDIT_HASH_LEN])proof.hash, proof.n),
	    "format", AUDIT_SEGMENT_FORMAT, "from", (json_int_t)from,
	    "left", hash_array((const uint8_t (*)[AUDIT_HASH_LEN])left.hash, left.n),
	    "to", (json_int_t)to, "v", 1)) == NULL) {
		r = KW_ERR_NOMEM;
		goto out;
	}
	if (lo != NULL && json_object_set(h, "latest", lo) != 0) {
		r = KW_ERR_NOMEM;
		goto out;
	}
	if ((r = kw_jcs_serialize(h, &text, &tlen)) != 0)
		goto out;
	if (fwrite(text, 1, tlen, f) != tlen || fputc('\n', f) == EOF) {
		r = KW_ERR_IO;
		goto out;
	}
	if ((r = audit_db_export(db, from, to, f)) != 0)
		goto out;
	memset(&info, 0, sizeof(info));
	info.from = from;
	info.to = to;
	info.size = cp.size;
	info.latest_size = latest.size > cp.size ? latest.size : 0;
	snprintf(info.origin, sizeof(info.origin), "%s", cp.origin);
	if (ret_info != NULL)
		*ret_info = info;
	r = 0;
out:
	json_decref(h);
	json_decref(lo);
	free(text);
	free(note);
	free(lnote);
	return r;
}

/* ---- verification ---- */

/* A JSON array of at most max lower-case hex hashes into out. */
static int
hashes_from(const json_t *a, size_t max, uint8_t (*out)[AUDIT_HASH_LEN], size_t *ret_n)
{
	size_t n;

	if (!json_is_array(a) || (n = json_array_size(a)) > max)
		return KW_ERR_INVALID_FORMAT;
	for (size_t i = 0; i < n; i++) {
		const char *s = json_string_value(json_array_get(a, i));

		if (s == NULL || strlen(s) != 2 * AUDIT_HASH_LEN ||
		    strspn(s, "0123456789abcdef") != 2 * AUDIT_HASH_LEN ||
		    kw_hex_decode(s, out[i], AUDIT_HASH_LEN) != 0)
			return KW_ERR_INVALID_FORMAT;
	}
	*ret_n = n;
	return 0;
}

static int
u64_member(const json_t *o, const char *name, uint64_t *ret)
{
	int64_t v;

	if (kw_json_get_int(o, name, &v) != 0 || v < 0)
		return KW_ERR_INVALID_FORMAT;
	*ret = (uint64_t)v;
	return 0;
}

/* A note member, verified with key and of the log the key names. */
static int
note_member(const json_t *o, const struct audit_vkey *key, struct audit_checkpoint *ret)
{
	struct audit_checkpoint cp;
	const char *note = NULL;
	size_t len = 0;
	int r;

	if (kw_json_get_str(o, "checkpoint", &note, &len) != 0)
		return KW_ERR_INVALID_FORMAT;
	if ((r = audit_checkpoint_verify(note, len, key, &cp)) != 0)
		return r;
	/* the broker names its checkpoint key after its log's origin: another
	 * origin under the same key is another log */
	if (strcmp(cp.origin, audit_vkey_name(key)) != 0)
		return KW_ERR_NOT_FOUND;
	*ret = cp;
	return 0;
}

/* The header: the checkpoint verified, the sizes and hashes well formed. */
struct seg_header {
	uint64_t from, to;
	struct audit_checkpoint cp, latest;
	bool has_latest;
	struct audit_frontier left;
	struct audit_proof proof, lproof;
};

static int
header_parse(const char *line, size_t len, const struct audit_vkey *key, struct seg_header *ret)
{
	struct seg_header *h = NULL;
	json_t *o = NULL, *lo;
	const char *fmt = NULL;
	size_t flen = 0, n = 0;
	int64_t v = 0;
	int r = KW_ERR_INVALID_FORMAT;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		return KW_ERR_NOMEM;
	if ((r = kw_json_parse(line, len, AUDIT_SEGMENT_HEADER_MAX, &o)) != 0) {
		r = r == KW_ERR_NOMEM ? r : KW_ERR_INVALID_FORMAT;
		goto out;
	}
	r = KW_ERR_INVALID_FORMAT;
	if (kw_json_check_keys(o, header_keys) != 0 ||
	    kw_json_get_str(o, "format", &fmt, &flen) != 0 ||
	    strcmp(fmt, AUDIT_SEGMENT_FORMAT) != 0 || kw_json_get_int(o, "v", &v) != 0 || v != 1 ||
	    u64_member(o, "from", &h->from) != 0 || u64_member(o, "to", &h->to) != 0 ||
	    h->from >= h->to || h->to >= (UINT64_C(1) << 53))
		goto out;
	if (hashes_from(json_object_get(o, "left"), AUDIT_TREE_MAX_LEVELS, h->left.hash, &n) != 0 ||
	    n != (size_t)__builtin_popcountll(h->from))
		goto out;
	h->left.n = (unsigned int)n;
	h->left.size = h->from;
	if (hashes_from(json_object_get(o, "consistency"), AUDIT_PROOF_MAX, h->proof.hash,
	    &h->proof.n) != 0)
		goto out;
	if ((r = note_member(o, key, &h->cp)) != 0)
		goto out;
	r = KW_ERR_INVALID_FORMAT;
	if (h->to > h->cp.size)
		goto out;
	if ((lo = json_object_get(o, "latest")) != NULL) {
		if (!json_is_object(lo) || kw_json_check_keys(lo, latest_keys) != 0 ||
		    hashes_from(json_object_get(lo, "consistency"), AUDIT_PROOF_MAX,
		    h->lproof.hash, &h->lproof.n) != 0)
			goto out;
		if ((r = note_member(lo, key, &h->latest)) != 0)
			goto out;
		h->has_latest = true;
	}
	*ret = *h;
	r = 0;
out:
	json_decref(o);
	free(h);
	return r;
}

/* The tree checks: MTH(D[0:to]) from left and the leaves, against the checkpoint. */
static int
check_tree(const struct seg_header *h, const uint8_t (*leaves)[AUDIT_HASH_LEN], uint64_t n,
    bool *ret_ok)
{
	struct audit_frontier f = h->left;
	uint8_t root[AUDIT_HASH_LEN];
	int r;

	for (uint64_t i = 0; i < n; i++)
		if ((r = audit_frontier_append(&f, leaves[i], NULL, NULL)) != 0)
			return r;
	if ((r = audit_frontier_root(&f, root)) != 0)
		return r;
	if (h->to == h->cp.size) {
		*ret_ok = h->proof.n == 0 && CRYPTO_memcmp(root, h->cp.root, AUDIT_HASH_LEN) == 0;
		return 0;
	}
	r = audit_verify_consistency(h->to, h->cp.size, root, h->cp.root, &h->proof);
	if (r != 0 && r != KW_ERR_MISMATCH)
		return r;
	*ret_ok = r == 0;
	return 0;
}

/* The newer checkpoint must extend the segment's: else the log forked. */
static int
check_latest(const struct seg_header *h)
{
	int r;

	if (!h->has_latest)
		return 0;
	if (h->latest.size < h->cp.size)
		return KW_ERR_INVALID_FORMAT;
	if (h->latest.size == h->cp.size)
		return h->lproof.n == 0 &&
		    CRYPTO_memcmp(h->latest.root, h->cp.root, AUDIT_HASH_LEN) == 0 ?
		    0 : KW_ERR_MISMATCH;
	r = audit_verify_consistency(h->cp.size, h->latest.size, h->cp.root, h->latest.root,
	    &h->lproof);
	return r == KW_ERR_INVALID_ARG ? KW_ERR_INVALID_FORMAT : r;
}

int
audit_verify_segment(const char *buf, size_t len, const struct audit_vkey *key,
    struct audit_verify_result *ret, struct audit_segment_info *ret_info)
{
	struct audit_verify_result res = { .ok = true, .reason = "ok" };
	struct audit_segment_info info;
	struct seg_header *h = NULL;
	const char **lines = NULL;
	size_t *lens = NULL, nl = 0;
	uint8_t (*leaves)[AUDIT_HASH_LEN] = NULL;
	uint64_t n, want;
	bool tree_ok = false;
	int r;

	if (buf == NULL || key == NULL || ret == NULL)
		return KW_ERR_INVALID_ARG;
	if ((r = audit_split_lines(buf, len, &lines, &lens, &nl)) != 0)
		return r;
	if (nl == 0) {
		r = KW_ERR_INVALID_FORMAT;
		goto out;
	}
	if ((h = calloc(1, sizeof(*h))) == NULL) {
		r = KW_ERR_NOMEM;
		goto out;
	}
	if ((r = header_parse(lines[0], lens[0], key, h)) != 0 || (r = check_latest(h)) != 0)
		goto out;
	n = nl - 1;
	want = h->to - h->from;
	res.records = n;
	res.checked = h->cp.size;
	if (n > 0 && (leaves = calloc((size_t)n, AUDIT_HASH_LEN)) == NULL) {
		r = KW_ERR_NOMEM;
		goto out;
	}
	for (uint64_t i = 0; i < n; i++)
		if ((r = audit_leaf_hash(lines[i + 1], lens[i + 1], leaves[i])) != 0)
			goto out;
	/* the chain inside the segment; the first record's prev names a record
	 * outside it, and is vouched for by the tree (it is part of the leaf) */
	if ((r = audit_verify_chain(lines + 1, lens + 1, n, h->from, NULL,
	    (const uint8_t (*)[AUDIT_HASH_LEN])leaves, &res)) != 0)
		goto out;
	if (!res.ok)
		goto done;
	if (n < want) {
		audit_verify_bad(&res, h->from + n, "the segment ends before the end of its range:"
		    " truncated");
		goto done;
	}
	if (n > want) {
		audit_verify_bad(&res, h->to, "the segment holds records past the end of its range");
		goto done;
	}
	if ((r = check_tree(h, (const uint8_t (*)[AUDIT_HASH_LEN])leaves, n, &tree_ok)) != 0)
		goto out;
	if (!tree_ok)
		/* every record but the last is vouched for by its successor */
		audit_verify_bad(&res, h->to - 1, "the records are not the leaves the checkpoint"
		    " signs: the last record was edited (or the chain rewritten, or the header's"
		    " hashes changed)");
done:
	memset(&info, 0, sizeof(info));
	info.from = h->from;
	info.to = h->to;
	info.size = h->cp.size;
	info.latest_size = h->has_latest ? h->latest.size : 0;
	snprintf(info.origin, sizeof(info.origin), "%s", h->cp.origin);
	if (n > 0) {
		struct audit_record rec;

		if (audit_record_decode(lines[1], lens[1], &rec) == 0) {
			memcpy(info.first_prev, rec.prev, AUDIT_HASH_LEN);
			audit_record_clear(&rec);
		}
		memcpy(info.last_leaf, leaves[n - 1], AUDIT_HASH_LEN);
	}
	*ret = res;
	if (ret_info != NULL)
		*ret_info = info;
	r = 0;
out:
	free(leaves);
	free(h);
	free(lines);
	free(lens);
	return r;
}

int
audit_verify_segment_file(const char *path, const struct audit_vkey *key,
    struct audit_verify_result *ret, struct audit_segment_info *ret_info)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	if (path == NULL || key == NULL || ret == NULL)
		return KW_ERR_INVALID_ARG;
	if ((r = kw_file_read(path, AUDIT_SEGMENT_MAX, &buf, &len)) != 0)
		return r;
	r = audit_verify_segment((const char *)buf, len, key, ret, ret_info);
	free(buf);
	return r;
}
