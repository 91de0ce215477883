/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bounded single-use sets: chained hashing over a preallocated entry pool,
 * an expiry wheel of one-second buckets, optional per-partition quotas.
 * See replay.h for the contract and the shape.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "metrics.h"
#include "replay.h"

#define NIL 0u                          /* index 0 is never used: calloc'd heads are empty */
#define T_MAX ((int64_t)1 << 62)        /* times beyond this are caller errors */
#define WHEEL_MIN 16u

struct ent {
	uint8_t id[KW_REPLAY_ID_LEN];
	int64_t expiry;
	uint32_t hnext;                 /* hash chain, or the free list */
	uint32_t prev, next;            /* circular list: a wheel bucket or the pending list */
	uint32_t part;                  /* partition index, NIL for none */
};

struct part {
	uint8_t id[KW_REPLAY_ID_LEN];
	uint32_t count;                 /* live entries in it; 0 = on the free list */
	uint32_t hnext;                 /* hash chain, or the free list */
};

struct kw_replay {
	uint32_t cap, quota, nwheel, hmask;
	uint32_t *heads;                /* [hmask + 1] entry chains */
	/*
	 * [1 + cap + nwheel + 1]: entries 1..cap, then one list sentinel per
	 * wheel bucket, then the sentinel of the pending list (entries taken
	 * out of due buckets and not yet looked at).
	 */
	struct ent *e;
	uint32_t efree, eunused;        /* free list; next never-used entry */
	uint32_t *pheads;               /* [hmask + 1] partition chains (quota > 0) */
	struct part *p;                 /* [1 + cap] (quota > 0) */
	uint32_t pfree, punused;
	size_t live, nparts;
	int met;                        /* enum kw_met_set published to, or -1 */
	int64_t cur;                    /* the next wheel second to sweep */
	uint64_t work;
	uint8_t key[16], pkey[16];      /* SipHash keys: entries, partitions */
};

/* ---- SipHash-2-4 (Aumasson, Bernstein 2012) ---- */

static uint64_t
le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

#define ROTL(x, b) (((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND(v0, v1, v2, v3) do {                                           \
	v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);               \
	v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                                  \
	v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                                  \
	v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);               \
} while (0)

uint64_t
kw_replay_siphash(const uint8_t key[static 16], const uint8_t *p, size_t n)
{
	uint64_t k0 = le64(key), k1 = le64(key + 8), m, b;
	uint64_t v0 = k0 ^ 0x736f6d6570736575ULL, v1 = k1 ^ 0x646f72616e646f6dULL;
	uint64_t v2 = k0 ^ 0x6c7967656e657261ULL, v3 = k1 ^ 0x7465646279746573ULL;
	size_t i;

	for (i = 0; i + 8 <= n; i += 8) {
		m = le64(p + i);
		v3 ^= m;
		SIPROUND(v0, v1, v2, v3);
		SIPROUND(v0, v1, v2, v3);
		v0 ^= m;
	}
	b = (uint64_t)n << 56;
	for (size_t k = 0; i + k < n; k++)
		b |= (uint64_t)p[i + k] << (8 * k);
	v3 ^= b;
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

/* ---- set ---- */

int
kw_replay_new(size_t cap, size_t quota, unsigned int max_ttl, struct kw_replay **ret)
{
	struct kw_replay *r;
	size_t nb = 1;
	uint32_t w = WHEEL_MIN;

	if (cap < 1 || cap > KW_REPLAY_MAX_CAP || max_ttl > KW_REPLAY_MAX_TTL)
		return KW_ERR_INVALID_ARG;
	while (w < max_ttl + 2u)
		w <<= 1;
	while (nb < cap)
		nb <<= 1;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return KW_ERR_NOMEM;
	r->cap = (uint32_t)cap;
	r->quota = (uint32_t)(quota < cap ? quota : cap);
	r->nwheel = w;
	r->hmask = (uint32_t)(nb - 1);
	r->eunused = r->punused = 1;
	r->met = -1;
	/* calloc: pages of the pool stay untouched (not resident) until used */
	if ((r->heads = calloc(nb, sizeof(*r->heads))) == NULL ||
	    (r->e = calloc(cap + w + 2, sizeof(*r->e))) == NULL ||
	    (quota > 0 && ((r->pheads = calloc(nb, sizeof(*r->pheads))) == NULL ||
	    (r->p = calloc(cap + 1, sizeof(*r->p))) == NULL))) {
		kw_replay_free(r);
		return KW_ERR_NOMEM;
	}
	for (uint32_t s = r->cap + 1; s <= r->cap + w + 1; s++)
		r->e[s].prev = r->e[s].next = s;
	if (RAND_bytes(r->key, sizeof(r->key)) != 1 || RAND_bytes(r->pkey, sizeof(r->pkey)) != 1) {
		kw_replay_free(r);
		return KW_ERR_CRYPTO;
	}
	*ret = r;
	return 0;
}

void
kw_replay_set_metrics(struct kw_replay *r, int set)
{
	r->met = set;
	if (set >= 0)
		kw_metrics_single_use((enum kw_met_set)set, r->live, r->cap);
}

void
kw_replay_free(struct kw_replay *r)
{
	if (r == NULL)
		return;
	free(r->heads);
	free(r->e);
	free(r->pheads);
	free(r->p);
	OPENSSL_cleanse(r->key, sizeof(r->key));
	OPENSSL_cleanse(r->pkey, sizeof(r->pkey));
	free(r);
}

static uint32_t
pending(const struct kw_replay *r)
{
	return r->cap + 1 + r->nwheel;
}

static uint32_t
bucket(const struct kw_replay *r, int64_t second)
{
	return r->cap + 1 + (uint32_t)((uint64_t)second & (r->nwheel - 1));
}

static void
list_unlink(struct kw_replay *r, uint32_t i)
{
	r->e[r->e[i].prev].next = r->e[i].next;
	r->e[r->e[i].next].prev = r->e[i].prev;
}

static void
list_push(struct kw_replay *r, uint32_t s, uint32_t i)
{
	uint32_t t = r->e[s].prev;

	r->e[i].prev = t;
	r->e[i].next = s;
	r->e[t].next = i;
	r->e[s].prev = i;
}

/* Move every item of list from to the tail of list to, in O(1). */
static void
list_splice(struct kw_replay *r, uint32_t from, uint32_t to)
{
	uint32_t first = r->e[from].next, last = r->e[from].prev, t = r->e[to].prev;

	if (first == from)
		return;
	r->e[t].next = first;
	r->e[first].prev = t;
	r->e[last].next = to;
	r->e[to].prev = last;
	r->e[from].prev = r->e[from].next = from;
}

/*
 * Put entry i in the bucket of its expiry second, clamped to the seconds the
 * wheel covers now, [cur, cur + nwheel). A clamped entry is looked at early
 * and put back further on; it is never freed before expiry < now.
 */
static void
wheel_put(struct kw_replay *r, uint32_t i)
{
	int64_t b = r->e[i].expiry;

	if (b < r->cur)
		b = r->cur;
	else if (b - r->cur >= (int64_t)r->nwheel)
		b = r->cur + r->nwheel - 1;
	list_push(r, bucket(r, b), i);
}

static uint32_t
slot(const struct kw_replay *r, const uint8_t *key, const uint8_t id[KW_REPLAY_ID_LEN])
{
	return (uint32_t)(kw_replay_siphash(key, id, KW_REPLAY_ID_LEN) & r->hmask);
}

static uint32_t
find(struct kw_replay *r, const uint8_t id[KW_REPLAY_ID_LEN])
{
	for (uint32_t i = r->heads[slot(r, r->key, id)]; i != NIL; i = r->e[i].hnext) {
		r->work++;
		if (CRYPTO_memcmp(r->e[i].id, id, KW_REPLAY_ID_LEN) == 0)
			return i;
	}
	return NIL;
}

static uint32_t
part_find(struct kw_replay *r, const uint8_t id[KW_REPLAY_ID_LEN])
{
	for (uint32_t i = r->pheads[slot(r, r->pkey, id)]; i != NIL; i = r->p[i].hnext) {
		r->work++;
		if (CRYPTO_memcmp(r->p[i].id, id, KW_REPLAY_ID_LEN) == 0)
			return i;
	}
	return NIL;
}

/* One live entry fewer in partition pi; the record goes when it is empty. */
static void
part_put(struct kw_replay *r, uint32_t pi)
{
	uint32_t *pp;

	if (--r->p[pi].count > 0)
		return;
	for (pp = &r->pheads[slot(r, r->pkey, r->p[pi].id)]; *pp != pi; pp = &r->p[*pp].hnext)
		r->work++;
	*pp = r->p[pi].hnext;
	r->p[pi].hnext = r->pfree;
	r->pfree = pi;
	r->nparts--;
}

/* Forget entry i (it is in a wheel bucket or the pending list). */
static void
release(struct kw_replay *r, uint32_t i)
{
	uint32_t *pp;

	for (pp = &r->heads[slot(r, r->key, r->e[i].id)]; *pp != i; pp = &r->e[*pp].hnext)
		r->work++;
	*pp = r->e[i].hnext;
	list_unlink(r, i);
	if (r->e[i].part != NIL)
		part_put(r, r->e[i].part);
	r->e[i].part = NIL;
	r->e[i].hnext = r->efree;
	r->efree = i;
	r->live--;
	if (r->met >= 0)
		kw_metrics_single_use((enum kw_met_set)r->met, r->live, r->cap);
}

static int
has_room(const struct kw_replay *r)
{
	return r->efree != NIL || r->eunused <= r->cap;
}

enum sweep_until { SWEEP_STEP, SWEEP_ROOM, SWEEP_PART };

/*
 * Advance the wheel towards now, freeing entries whose expiry < now. STEP
 * does at most KW_REPLAY_SWEEP_STEP units of work; ROOM goes on until an
 * entry is free, PART until partition pi is below its quota, or (both) until
 * nothing due is left. Each unit is an empty-bucket step (at most nwheel per
 * catch-up), an entry freed (once per entry) or an entry put back further
 * (once per wheel turn for entries beyond max_ttl): O(1) amortized per add.
 */
static void
sweep(struct kw_replay *r, int64_t now, enum sweep_until until, uint32_t pi)
{
	uint32_t pend = pending(r), i;
	size_t budget = until == SWEEP_STEP ? KW_REPLAY_SWEEP_STEP : SIZE_MAX;

	if (r->live == 0) {
		r->cur = now;    /* nothing to look at: follow the clock, either way */
		return;
	}
	if (now > r->cur && now - r->cur >= (int64_t)r->nwheel) {
		/* the clock moved a whole turn on: every bucket is due */
		for (uint32_t b = 0; b < r->nwheel; b++)
			list_splice(r, r->cap + 1 + b, pend);
		r->work += r->nwheel;
		r->cur = now;
	}
	while (budget > 0) {
		if ((until == SWEEP_ROOM && has_room(r)) ||
		    (until == SWEEP_PART && r->p[pi].count < r->quota))
			break;
		if ((i = r->e[pend].next) != pend) {
			list_unlink(r, i);
			if (r->e[i].expiry < now)
				release(r, i);
			else
				wheel_put(r, i);
		} else if (r->cur < now) {
			list_splice(r, bucket(r, r->cur), pend);
			r->cur++;
		} else {
			break;
		}
		r->work++;
		budget--;
	}
}

/*
 * Everything an add needs short of recording: a live id is a replay, an
 * expired one is dropped now; then the partition quota and the capacity, each
 * after sweeping what is due. *ret_pi: the existing partition record or NIL.
 */
static int
prepare(struct kw_replay *r, const uint8_t id[KW_REPLAY_ID_LEN], const uint8_t *part,
    int64_t now, uint32_t *ret_pi)
{
	uint32_t i, pi = NIL;

	if (now < 0 || now > T_MAX)
		return KW_ERR_INVALID_ARG;
	sweep(r, now, SWEEP_STEP, NIL);
	if ((i = find(r, id)) != NIL) {
		if (r->e[i].expiry >= now)
			return KW_ERR_REPLAY;
		release(r, i);
	}
	if (part != NULL && r->quota > 0 && (pi = part_find(r, part)) != NIL &&
	    r->p[pi].count >= r->quota) {
		sweep(r, now, SWEEP_PART, pi);
		if (r->p[pi].count >= r->quota)
			return KW_ERR_BUSY;
		if (r->p[pi].count == 0)
			pi = NIL;    /* its record was freed */
	}
	if (!has_room(r)) {
		sweep(r, now, SWEEP_ROOM, NIL);
		if (!has_room(r))
			return KW_ERR_UNAVAILABLE;
		/* freeing may have emptied (and freed) the partition record too */
		if (pi != NIL && r->p[pi].count == 0)
			pi = NIL;
	}
	*ret_pi = pi;
	return 0;
}

int
kw_replay_check(struct kw_replay *r, const uint8_t id[static KW_REPLAY_ID_LEN],
    const uint8_t *part, int64_t now)
{
	uint32_t pi;

	return prepare(r, id, part, now, &pi);
}

int
kw_replay_add(struct kw_replay *r, const uint8_t id[static KW_REPLAY_ID_LEN],
    const uint8_t *part, int64_t expiry, int64_t now)
{
	uint32_t i, pi = NIL, h;
	int rc;

	if (expiry < 0 || expiry > T_MAX || now < 0 || now > T_MAX)
		return KW_ERR_INVALID_ARG;
	if (expiry < now)
		return KW_ERR_EXPIRED;
	if ((rc = prepare(r, id, part, now, &pi)) != 0)
		return rc;
	if (part != NULL && r->quota > 0 && pi == NIL) {
		/* partitions <= live entries < cap here, so a record is always free */
		if (r->pfree != NIL) {
			pi = r->pfree;
			r->pfree = r->p[pi].hnext;
		} else if (r->punused <= r->cap) {
			pi = r->punused++;
		} else {
			return KW_ERR_INTERNAL;
		}
		memcpy(r->p[pi].id, part, KW_REPLAY_ID_LEN);
		r->p[pi].count = 0;
		h = slot(r, r->pkey, part);
		r->p[pi].hnext = r->pheads[h];
		r->pheads[h] = pi;
		r->nparts++;
	}
	if (r->efree != NIL) {
		i = r->efree;
		r->efree = r->e[i].hnext;
	} else {
		i = r->eunused++;    /* prepare() made sure there is room */
	}
	memcpy(r->e[i].id, id, KW_REPLAY_ID_LEN);
	r->e[i].expiry = expiry;
	r->e[i].part = pi;
	if (pi != NIL)
		r->p[pi].count++;
	h = slot(r, r->key, id);
	r->e[i].hnext = r->heads[h];
	r->heads[h] = i;
	wheel_put(r, i);
	r->live++;
	if (r->met >= 0)
		kw_metrics_single_use((enum kw_met_set)r->met, r->live, r->cap);
	return 0;
}

void
kw_replay_stats(const struct kw_replay *r, struct kw_replay_stats *ret)
{
	ret->cap = r->cap;
	ret->quota = r->quota;
	ret->live = r->live;
	ret->partitions = r->nparts;
	ret->wheel = r->nwheel;
	ret->work = r->work;
}
