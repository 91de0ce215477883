/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_REPLAY_H
#define KW_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "kw_err.h"

/*
 * A bounded set of used single-use values (challenge randoms, DPoP "jti"
 * digests), each remembered until its expiry (live while expiry >= now).
 * Loop thread only: no locking, and callers rely on check-then-add within
 * one callback not being interleaved with another.
 *
 * Shape (all of it allocated once in kw_replay_new: no malloc on the request
 * path, memory bounded by cap):
 *  - an entry pool of cap entries (40 bytes each) with chained hashing over
 *    a power-of-two bucket array (>= cap heads, 4 bytes each); the bucket is
 *    SipHash-2-4 of the id under a random per-set key, so clients that choose
 *    the hashed strings cannot make chains long;
 *  - an expiry wheel of one-second buckets (a power of two > max_ttl), each
 *    a doubly linked list; every call advances the wheel a few steps and
 *    frees expired entries incrementally (KW_REPLAY_SWEEP_STEP), and only a
 *    full set or partition sweeps on until room appears. Nothing is ever
 *    rebuilt: adds, lookups and sweeps are O(1) amortized;
 *  - optional partitions (quota > 0): every entry may carry a 16-byte
 *    partition id (a DPoP token key); a partition holds at most quota live
 *    entries, so one client cannot exhaust the set for the others. Partition
 *    records (24 bytes, up to cap of them) are freed when their last entry is.
 *
 * Time is an input. A clock that goes backwards never corrupts the set:
 * entries are freed only once expiry < now, and the wheel tolerates any
 * order of now values (entries are re-bucketed, never lost). A value freed
 * while the clock was ahead is forgotten, as in any expiring cache.
 */
struct kw_replay;

#define KW_REPLAY_ID_LEN 16
#define KW_REPLAY_MAX_CAP 100000000u   /* indices are 32-bit */
#define KW_REPLAY_MAX_TTL 86400u       /* the wheel has at most 128 Ki buckets */
#define KW_REPLAY_SWEEP_STEP 8         /* wheel steps and frees done by every call */

/*
 * A set of at most cap live entries. quota = 0: no partitions; otherwise
 * each partition holds at most quota entries. max_ttl is the longest
 * expiry - now the caller uses (entries beyond it still work, they are only
 * revisited once per wheel turn). KW_ERR_INVALID_ARG, KW_ERR_NOMEM,
 * KW_ERR_CRYPTO (no random hash key).
 */
int kw_replay_new(size_t cap, size_t quota, unsigned int max_ttl, struct kw_replay **ret) KW_WUR;
void kw_replay_free(struct kw_replay *r);

/*
 * Would kw_replay_add(id, part, now) succeed? Records nothing. 0, or
 * KW_ERR_REPLAY (id seen and still live), KW_ERR_BUSY (part holds quota live
 * entries), KW_ERR_UNAVAILABLE (cap live entries), KW_ERR_INVALID_ARG
 * (now outside [0, 2^62]). part is NULL or KW_REPLAY_ID_LEN bytes.
 */
int kw_replay_check(struct kw_replay *r, const uint8_t id[static KW_REPLAY_ID_LEN],
    const uint8_t *part, int64_t now) KW_WUR;

/*
 * Record id (in partition part, NULL for none) until expiry. 0 (recorded),
 * KW_ERR_REPLAY, KW_ERR_BUSY, KW_ERR_UNAVAILABLE as above, KW_ERR_EXPIRED
 * (expiry < now: nothing to remember, and the value must not be accepted),
 * KW_ERR_INVALID_ARG (now or expiry outside [0, 2^62]). Nothing is recorded
 * on failure.
 */
int kw_replay_add(struct kw_replay *r, const uint8_t id[static KW_REPLAY_ID_LEN],
    const uint8_t *part, int64_t expiry, int64_t now) KW_WUR;

/*
 * Publish this set's live entries and capacity as the single-use gauges of
 * set (enum kw_met_set, metrics.h) whenever they change; -1: not published.
 */
void kw_replay_set_metrics(struct kw_replay *r, int set);

/* Counters for tests, benchmarks and logs. */
struct kw_replay_stats {
	size_t cap, quota, live, partitions, wheel;
	uint64_t work;      /* chain nodes visited + wheel steps + entries swept, ever */
};
void kw_replay_stats(const struct kw_replay *r, struct kw_replay_stats *ret);

/* SipHash-2-4 of p[0..n) under key (little-endian result); exposed for tests. */
uint64_t kw_replay_siphash(const uint8_t key[static 16], const uint8_t *p, size_t n);

#endif
