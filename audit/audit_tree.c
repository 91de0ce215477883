/* SPDX-License-Identifier: Apache-2.0 */
/*
 * RFC 6962 / RFC 9162 Merkle tree: leaf and node hashes, the compact range
 * (frontier) for O(log n) appends, inclusion and consistency proofs
 * (§2.1.3.1, §2.1.4.1) built from the roots of perfect subtrees, and their
 * verification (§2.1.3.2, §2.1.4.2). Pure: no I/O, no allocation.
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "audit.h"

static int
sha256_parts(const uint8_t *prefix, size_t plen, const void *a, size_t alen, const void *b,
    size_t blen, uint8_t out[static AUDIT_HASH_LEN])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int olen = 0;
	int ok;

	if (ctx == NULL)
		return KW_ERR_CRYPTO;
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	    (plen == 0 || EVP_DigestUpdate(ctx, prefix, plen) == 1) &&
	    (alen == 0 || EVP_DigestUpdate(ctx, a, alen) == 1) &&
	    (blen == 0 || EVP_DigestUpdate(ctx, b, blen) == 1) &&
	    EVP_DigestFinal_ex(ctx, out, &olen) == 1 && olen == AUDIT_HASH_LEN;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : KW_ERR_CRYPTO;
}

int
audit_leaf_hash(const void *leaf, size_t len, uint8_t out[static AUDIT_HASH_LEN])
{
	static const uint8_t zero = 0x00;

	if (leaf == NULL && len != 0)
		return KW_ERR_INVALID_ARG;
	return sha256_parts(&zero, 1, leaf, len, NULL, 0, out);
}

int
audit_node_hash(const uint8_t left[static AUDIT_HASH_LEN], const uint8_t right[static AUDIT_HASH_LEN],
    uint8_t out[static AUDIT_HASH_LEN])
{
	static const uint8_t one = 0x01;

	return sha256_parts(&one, 1, left, AUDIT_HASH_LEN, right, AUDIT_HASH_LEN, out);
}

int
audit_empty_root(uint8_t out[static AUDIT_HASH_LEN])
{
	return sha256_parts(NULL, 0, NULL, 0, NULL, 0, out);
}

/* ---- the compact range ---- */

void
audit_frontier_init(struct audit_frontier *f)
{
	memset(f, 0, sizeof(*f));
}

int
audit_frontier_append(struct audit_frontier *f, const uint8_t leaf[static AUDIT_HASH_LEN],
    audit_node_cb on_node, void *arg)
{
	uint8_t h[AUDIT_HASH_LEN];
	unsigned int n = f->n, level = 0;
	int r;

	if (f->size >= (UINT64_C(1) << 62))
		return KW_ERR_TOO_LARGE;
	memcpy(h, leaf, sizeof(h));
	/* every set low bit of size is a perfect subtree to the left that the
	 * new leaf completes: merge it (a binary counter's carry) */
	while ((f->size >> level) & 1) {
		if (n == 0)
			return KW_ERR_INTERNAL;
		if ((r = audit_node_hash(f->hash[n - 1], h, h)) != 0)
			return r;
		n--;
		level++;
		if (on_node != NULL && (r = on_node(arg, level, f->size >> level, h)) != 0)
			return r;
	}
	/* only now change f: a failure above left it as it was */
	memcpy(f->hash[n], h, sizeof(h));
	f->n = n + 1;
	f->size++;
	return 0;
}

int
audit_frontier_root(const struct audit_frontier *f, uint8_t out[static AUDIT_HASH_LEN])
{
	uint8_t r[AUDIT_HASH_LEN];
	int rc;

	if (f->n == 0)
		return audit_empty_root(out);
	memcpy(r, f->hash[f->n - 1], sizeof(r));
	for (unsigned int i = f->n - 1; i > 0; i--)
		if ((rc = audit_node_hash(f->hash[i - 1], r, r)) != 0)
			return rc;
	memcpy(out, r, sizeof(r));
	return 0;
}

int
audit_tree_compact_range(const struct audit_nodes *src, uint64_t size, struct audit_frontier *ret)
{
	struct audit_frontier f;
	uint64_t off = 0;
	int r;

	if (src == NULL || src->get == NULL || ret == NULL || size >= (UINT64_C(1) << 62))
		return KW_ERR_INVALID_ARG;
	audit_frontier_init(&f);
	for (int level = 61; level >= 0; level--) {
		if (!((size >> level) & 1))
			continue;
		if ((r = src->get(src->arg, (unsigned int)level, off >> level, f.hash[f.n])) != 0)
			return r;
		f.n++;
		off += UINT64_C(1) << level;
	}
	f.size = size;
	*ret = f;
	return 0;
}

/* ---- proofs from perfect subtree roots ---- */

/* The largest power of two smaller than n (n >= 2). */
static uint64_t
split_point(uint64_t n)
{
	uint64_t k = UINT64_C(1) << (63 - __builtin_clzll(n - 1));

	return k;
}

/*
 * MTH(D[a:b]), a < b. A perfect, aligned range is one lookup; otherwise
 * split as RFC 6962 does (k = the largest power of two below b - a); the
 * ranges met on a proof's path are split O(log n) times.
 */
static int
mth(const struct audit_nodes *src, uint64_t a, uint64_t b, unsigned int depth,
    uint8_t out[static AUDIT_HASH_LEN])
{
	uint8_t l[AUDIT_HASH_LEN], r[AUDIT_HASH_LEN];
	uint64_t n = b - a, k;
	int rc;

	if (a >= b || depth > 2 * AUDIT_TREE_MAX_LEVELS)
		return KW_ERR_INTERNAL;
	if ((n & (n - 1)) == 0 && (a & (n - 1)) == 0) {
		unsigned int level = (unsigned int)__builtin_ctzll(n);

		return src->get(src->arg, level, a >> level, out);
	}
	k = split_point(n);
	if ((rc = mth(src, a, a + k, depth + 1, l)) != 0 ||
	    (rc = mth(src, a + k, b, depth + 1, r)) != 0)
		return rc;
	return audit_node_hash(l, r, out);
}

int
audit_tree_root(const struct audit_nodes *src, uint64_t size, uint8_t out[static AUDIT_HASH_LEN])
{
	if (src == NULL || src->get == NULL)
		return KW_ERR_INVALID_ARG;
	if (size == 0)
		return audit_empty_root(out);
	return mth(src, 0, size, 0, out);
}

/* Reverse the first n entries (proofs are built top-down, given bottom-up). */
static void
proof_reverse(struct audit_proof *p)
{
	uint8_t t[AUDIT_HASH_LEN];

	for (size_t i = 0, j = p->n; i + 1 < j; i++, j--) {
		memcpy(t, p->hash[i], sizeof(t));
		memcpy(p->hash[i], p->hash[j - 1], sizeof(t));
		memcpy(p->hash[j - 1], t, sizeof(t));
	}
}

static int
proof_push(const struct audit_nodes *src, struct audit_proof *p, uint64_t a, uint64_t b)
{
	if (p->n >= AUDIT_PROOF_MAX)
		return KW_ERR_TOO_LARGE;
	return mth(src, a, b, 0, p->hash[p->n++]);
}

int
audit_proof_inclusion(const struct audit_nodes *src, uint64_t index, uint64_t size,
    struct audit_proof *ret)
{
	struct audit_proof p = { .n = 0 };
	uint64_t a = 0, b = size;
	int r;

	if (src == NULL || src->get == NULL || ret == NULL || index >= size)
		return KW_ERR_INVALID_ARG;
	while (b - a > 1) {
		uint64_t k = split_point(b - a);

		if (index < a + k) {
			r = proof_push(src, &p, a + k, b);
			b = a + k;
		} else {
			r = proof_push(src, &p, a, a + k);
			a = a + k;
		}
		if (r != 0)
			return r;
	}
	proof_reverse(&p);
	*ret = p;
	return 0;
}

int
audit_proof_consistency(const struct audit_nodes *src, uint64_t first, uint64_t second,
    struct audit_proof *ret)
{
	struct audit_proof p = { .n = 0 };
	uint64_t a = 0, b = second;
	bool whole = true;   /* the RFC's b: the subtree is the old tree itself */
	int r = 0;

	if (src == NULL || src->get == NULL || ret == NULL || first == 0 || first > second)
		return KW_ERR_INVALID_ARG;
	for (;;) {
		uint64_t k;

		if (first == b) {
			if (!whole)
				r = proof_push(src, &p, a, b);
			break;
		}
		k = split_point(b - a);
		if (first <= a + k) {
			r = proof_push(src, &p, a + k, b);
			b = a + k;
		} else {
			r = proof_push(src, &p, a, a + k);
			a = a + k;
			whole = false;
		}
		if (r != 0)
			return r;
	}
	if (r != 0)
		return r;
	proof_reverse(&p);
	*ret = p;
	return 0;
}

/* ---- verification (RFC 9162 §2.1.3.2 and §2.1.4.2) ---- */

static bool
hash_eq(const uint8_t a[static AUDIT_HASH_LEN], const uint8_t b[static AUDIT_HASH_LEN])
{
	return CRYPTO_memcmp(a, b, AUDIT_HASH_LEN) == 0;
}

int
audit_verify_inclusion(uint64_t index, uint64_t size, const uint8_t leaf[static AUDIT_HASH_LEN],
    const struct audit_proof *proof, const uint8_t root[static AUDIT_HASH_LEN])
{
	uint8_t r[AUDIT_HASH_LEN];
	uint64_t fn = index, sn;
	int rc;

	if (proof == NULL || proof->n > AUDIT_PROOF_MAX || index >= size)
		return KW_ERR_INVALID_ARG;
	sn = size - 1;
	memcpy(r, leaf, sizeof(r));
	for (size_t i = 0; i < proof->n; i++) {
		if (sn == 0)
			return KW_ERR_MISMATCH;
		if ((fn & 1) || fn == sn) {
			rc = audit_node_hash(proof->hash[i], r, r);
			if (!(fn & 1))
				while (!(fn & 1) && fn != 0) {
					fn >>= 1;
					sn >>= 1;
				}
		} else {
			rc = audit_node_hash(r, proof->hash[i], r);
		}
		if (rc != 0)
			return rc;
		fn >>= 1;
		sn >>= 1;
	}
	return sn == 0 && hash_eq(r, root) ? 0 : KW_ERR_MISMATCH;
}

int
audit_verify_consistency(uint64_t first, uint64_t second,
    const uint8_t first_root[static AUDIT_HASH_LEN], const uint8_t second_root[static AUDIT_HASH_LEN],
    const struct audit_proof *proof)
{
	uint8_t fr[AUDIT_HASH_LEN], sr[AUDIT_HASH_LEN];
	uint64_t fn, sn;
	size_t start;
	bool pow2;
	int rc;

	if (proof == NULL || proof->n > AUDIT_PROOF_MAX || first == 0 || first > second)
		return KW_ERR_INVALID_ARG;
	if (first == second)
		return proof->n == 0 && hash_eq(first_root, second_root) ? 0 : KW_ERR_MISMATCH;
	if (proof->n == 0)
		return KW_ERR_MISMATCH;
	/* 1: a power-of-two first tree is itself a node of the path: the
	 * "prepended" first_root is path[0], the proof starts the loop */
	pow2 = (first & (first - 1)) == 0;
	fn = first - 1;
	sn = second - 1;
	while (fn & 1) {
		fn >>= 1;
		sn >>= 1;
	}
	if (pow2) {
		memcpy(fr, first_root, sizeof(fr));
		start = 0;
	} else {
		memcpy(fr, proof->hash[0], sizeof(fr));
		start = 1;
	}
	memcpy(sr, fr, sizeof(sr));
	for (size_t i = start; i < proof->n; i++) {
		const uint8_t *c = proof->hash[i];

		if (sn == 0)
			return KW_ERR_MISMATCH;
		if ((fn & 1) || fn == sn) {
			if ((rc = audit_node_hash(c, fr, fr)) != 0 ||
			    (rc = audit_node_hash(c, sr, sr)) != 0)
				return rc;
			if (!(fn & 1))
				while (!(fn & 1) && fn != 0) {
					fn >>= 1;
					sn >>= 1;
				}
		} else {
			if ((rc = audit_node_hash(sr, c, sr)) != 0)
				return rc;
		}
		fn >>= 1;
		sn >>= 1;
	}
	return sn == 0 && hash_eq(fr, first_root) && hash_eq(sr, second_root) ? 0 :
	    KW_ERR_MISMATCH;
}

/* ---- a node source over leaf hashes in memory ---- */

static int
mem_get(void *arg, unsigned int level, uint64_t idx, uint8_t out[static AUDIT_HASH_LEN])
{
	const struct audit_mem_nodes *m = arg;
	uint8_t l[AUDIT_HASH_LEN], r[AUDIT_HASH_LEN];
	int rc;

	if (level >= AUDIT_TREE_MAX_LEVELS || idx > (UINT64_MAX >> level) ||
	    ((idx + 1) << level) > m->n || ((idx + 1) << level) == 0)
		return KW_ERR_NOT_FOUND;
	if (level == 0) {
		memcpy(out, m->leaves[idx], AUDIT_HASH_LEN);
		return 0;
	}
	if ((rc = mem_get(arg, level - 1, 2 * idx, l)) != 0 ||
	    (rc = mem_get(arg, level - 1, 2 * idx + 1, r)) != 0)
		return rc;
	return audit_node_hash(l, r, out);
}

void
audit_nodes_from_mem(const struct audit_mem_nodes *m, struct audit_nodes *ret)
{
	ret->get = mem_get;
	ret->arg = (void *)(uintptr_t)m;    /* read only: mem_get never writes through it */
}
