/* SPDX-License-Identifier: Apache-2.0 */
/* test_replay: the bounded single-use sets of broker/replay.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_helper.h"
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "replay.h"

#define T0 1800000000LL

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t
next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* id number n, spread over all 16 bytes */
static void
make_id(uint64_t n, uint8_t id[KW_REPLAY_ID_LEN])
{
	uint64_t a = n * 0x9e3779b97f4a7c15ULL, b = ~n;

	memcpy(id, &a, 8);
	memcpy(id + 8, &b, 8);
}

static size_t
live(const struct kw_replay *r)
{
	struct kw_replay_stats st;

	kw_replay_stats(r, &st);
	return st.live;
}

static size_t
partitions(const struct kw_replay *r)
{
	struct kw_replay_stats st;

	kw_replay_stats(r, &st);
	return st.partitions;
}

static uint64_t
work(const struct kw_replay *r)
{
	struct kw_replay_stats st;

	kw_replay_stats(r, &st);
	return st.work;
}

/* SipHash-2-4: the paper's vector, and OpenSSL's SIPHASH MAC on random input */
static void
test_siphash(void)
{
	uint8_t key[16], msg[64], mac[8];
	EVP_MAC *m = EVP_MAC_fetch(NULL, "SIPHASH", NULL);
	size_t outlen;

	for (int i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	for (int i = 0; i < 15; i++)
		msg[i] = (uint8_t)i;
	CU_ASSERT_EQUAL(kw_replay_siphash(key, msg, 15), 0xa129ca6149be45e5ULL);
	CU_ASSERT_FATAL(m != NULL);
	for (size_t n = 0; n <= sizeof(msg); n++) {
		EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(m);
		OSSL_PARAM params[2];
		size_t sz = 8;
		uint64_t want = 0;

		CU_ASSERT_FATAL(RAND_bytes(key, sizeof(key)) == 1 && RAND_bytes(msg, sizeof(msg)) == 1);
		params[0] = OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &sz);
		params[1] = OSSL_PARAM_construct_end();
		CU_ASSERT_FATAL(ctx != NULL && EVP_MAC_init(ctx, key, sizeof(key), params) &&
		    EVP_MAC_update(ctx, msg, n) && EVP_MAC_final(ctx, mac, &outlen, sizeof(mac)) &&
		    outlen == 8);
		for (int i = 7; i >= 0; i--)
			want = (want << 8) | mac[i];
		CU_ASSERT_EQUAL(kw_replay_siphash(key, msg, n), want);
		EVP_MAC_CTX_free(ctx);
	}
	EVP_MAC_free(m);
}

static void
test_basic(void)
{
	struct kw_replay *r;
	uint8_t a[16], b[16];

	CU_ASSERT_EQUAL(kw_replay_new(0, 0, 60, &r), KW_ERR_INVALID_ARG);
	CU_ASSERT_EQUAL(kw_replay_new((size_t)KW_REPLAY_MAX_CAP + 1, 0, 60, &r), KW_ERR_INVALID_ARG);
	CU_ASSERT_EQUAL(kw_replay_new(10, 0, KW_REPLAY_MAX_TTL + 1, &r), KW_ERR_INVALID_ARG);
	CU_ASSERT_FATAL(kw_replay_new(10, 0, 60, &r) == 0);
	make_id(1, a);
	make_id(2, b);
	CU_ASSERT_EQUAL(kw_replay_check(r, a, NULL, T0), 0);
	CU_ASSERT_EQUAL(live(r), 0);    /* checking records nothing */
	CU_ASSERT_EQUAL(kw_replay_add(r, a, NULL, T0 + 10, T0), 0);
	CU_ASSERT_EQUAL(kw_replay_check(r, a, NULL, T0), KW_ERR_REPLAY);
	CU_ASSERT_EQUAL(kw_replay_add(r, a, NULL, T0 + 10, T0 + 1), KW_ERR_REPLAY);
	CU_ASSERT_EQUAL(kw_replay_check(r, b, NULL, T0), 0);
	CU_ASSERT_EQUAL(live(r), 1);
	/* live through its expiry second, forgotten after it; then it can be used again */
	CU_ASSERT_EQUAL(kw_replay_check(r, a, NULL, T0 + 10), KW_ERR_REPLAY);
	CU_ASSERT_EQUAL(kw_replay_check(r, a, NULL, T0 + 11), 0);
	CU_ASSERT_EQUAL(kw_replay_add(r, a, NULL, T0 + 30, T0 + 11), 0);
	CU_ASSERT_EQUAL(live(r), 1);
	CU_ASSERT_EQUAL(kw_replay_check(r, a, NULL, T0 + 25), KW_ERR_REPLAY);
	/* an already expired value is not recorded, and says so */
	CU_ASSERT_EQUAL(kw_replay_add(r, b, NULL, T0 + 10, T0 + 11), KW_ERR_EXPIRED);
	CU_ASSERT_EQUAL(kw_replay_check(r, b, NULL, T0 + 11), 0);
	/* times outside [0, 2^62] are caller errors */
	CU_ASSERT_EQUAL(kw_replay_add(r, b, NULL, INT64_MAX, T0), KW_ERR_INVALID_ARG);
	CU_ASSERT_EQUAL(kw_replay_add(r, b, NULL, T0, -1), KW_ERR_INVALID_ARG);
	CU_ASSERT_EQUAL(kw_replay_check(r, b, NULL, -5), KW_ERR_INVALID_ARG);
	CU_ASSERT_EQUAL(live(r), 1);
	kw_replay_free(r);
	kw_replay_free(NULL);
}

static void
test_capacity(void)
{
	struct kw_replay *r;
	uint8_t id[16];

	CU_ASSERT_FATAL(kw_replay_new(4, 0, 60, &r) == 0);
	for (uint64_t i = 0; i < 4; i++) {
		make_id(i, id);
		CU_ASSERT_EQUAL(kw_replay_add(r, id, NULL, T0 + 10 + (int64_t)i, T0), 0);
	}
	/* full of live entries: shed, never forget a used one */
	make_id(4, id);
	CU_ASSERT_EQUAL(kw_replay_check(r, id, NULL, T0), KW_ERR_UNAVAILABLE);
	CU_ASSERT_EQUAL(kw_replay_add(r, id, NULL, T0 + 10, T0 + 5), KW_ERR_UNAVAILABLE);
	make_id(0, id);
	CU_ASSERT_EQUAL(kw_replay_add(r, id, NULL, T0 + 10, T0 + 5), KW_ERR_REPLAY);
	/* the first one expires after T0 + 10: exactly one slot */
	make_id(4, id);
	CU_ASSERT_EQUAL(kw_replay_add(r, id, NULL, T0 + 40, T0 + 11), 0);
	make_id(5, id);
	CU_ASSERT_EQUAL(kw_replay_add(r, id, NULL, T0 + 40, T0 + 11), KW_ERR_UNAVAILABLE);
	CU_ASSERT_EQUAL(live(r), 4);
	/* much later everything is free again */
	for (uint64_t i = 10; i < 14; i++) {
		make_id(i, id);
		CU_ASSERT_EQUAL(kw_replay_add(r, id, NULL, T0 + 200, T0 + 100), 0);
	}
	CU_ASSERT_EQUAL(live(r), 4);
	kw_replay_free(r);
}

static void
test_quota(void)
{
	struct kw_replay *r;
	uint8_t id[16], pa[16], pb[16];

	make_id(1000, pa);
	make_id(2000, pb);
	CU_ASSERT_FATAL(kw_replay_new(100, 3, 60, &r) == 0);
	for (uint64_t i = 0; i < 3; i++) {
		make_id(i, id);
		CU_ASSERT_EQUAL(kw_replay_add(r, id, pa, T0 + 10, T0), 0);
	}
	CU_ASSERT_EQUAL(partitions(r), 1);
	make_id(3, id);
	CU_ASSERT_EQUAL(kw_replay_check(r, id, pa, T0), KW_ERR_BUSY);
	CU_ASSERT_EQUAL(kw_replay_add(r, id, pa, T0 + 10, T0), KW_ERR_BUSY);
	/* a replay is a replay, whatever the quota */
	make_id(0, id);
	CU_ASSERT_EQUAL(kw_replay_add(r, id, pa, T0 + 10, T0), KW_ERR_REPLAY);
	/* another partition, and values without one, are not affected */
	for (uint64_t i = 10; i < 13; i++) {
		make_id(i, id);
		CU_ASSERT_EQUAL(kw_replay_add(r, id, pb, T0 + 20, T0 + 1), 0);
	}
	make_id(20, id);
	CU_ASSERT_EQUAL(kw_replay_add(r, id, NULL, T0 + 20, T0 + 1), 0);
	CU_ASSERT_EQUAL(partitions(r), 2);
	CU_ASSERT_EQUAL(live(r), 7);
	/* pa's entries expire after T0 + 10: pa has room again, its record was freed */
	make_id(3, id);
	CU_ASSERT_EQUAL(kw_replay_add(r, id, pa, T0 + 30, T0 + 11), 0);
	make_id(4, id);
	CU_ASSERT_EQUAL(kw_replay_add(r, id, pb, T0 + 30, T0 + 11), KW_ERR_BUSY);
	/* everything expires: partitions go away once their last entry is swept */
	for (int i = 0; i < 100 && live(r) > 0; i++) {
		make_id(500 + (uint64_t)i, id);
		CU_ASSERT_EQUAL(kw_replay_check(r, id, NULL, T0 + 31), 0);
	}
	CU_ASSERT_EQUAL(live(r), 0);
	CU_ASSERT_EQUAL(partitions(r), 0);
	kw_replay_free(r);
}

/* A quota of one partition can also be met by a full set: quota first, then capacity. */
static void
test_quota_and_capacity(void)
{
	struct kw_replay *r;
	uint8_t id[16], p[4][16];

	CU_ASSERT_FATAL(kw_replay_new(6, 2, 60, &r) == 0);
	for (uint64_t k = 0; k < 4; k++)
		make_id(9000 + k, p[k]);
	for (uint64_t i = 0; i < 6; i++) {
		make_id(i, id);
		CU_ASSERT_EQUAL(kw_replay_add(r, id, p[i / 2], T0 + 10, T0), 0);
	}
	make_id(6, id);
	CU_ASSERT_EQUAL(kw_replay_add(r, id, p[0], T0 + 10, T0), KW_ERR_BUSY);
	CU_ASSERT_EQUAL(kw_replay_add(r, id, p[3], T0 + 10, T0), KW_ERR_UNAVAILABLE);
	CU_ASSERT_EQUAL(kw_replay_add(r, id, NULL, T0 + 10, T0), KW_ERR_UNAVAILABLE);
	CU_ASSERT_EQUAL(partitions(r), 3);
	kw_replay_free(r);
}

/* The wheel (16 buckets for max_ttl 10) turns many times; entries beyond it still work. */
static void
test_wheel_wrap(void)
{
	struct kw_replay *r;
	struct kw_replay_stats st;
	uint8_t id[16], far[16];
	uint64_t n = 0;

	CU_ASSERT_FATAL(kw_replay_new(1000, 0, 10, &r) == 0);
	kw_replay_stats(r, &st);
	CU_ASSERT_EQUAL(st.wheel, 16);
	make_id(777777, far);
	CU_ASSERT_EQUAL(kw_replay_add(r, far, NULL, T0 + 100, T0), 0);    /* 6 turns away */
	for (int64_t t = T0; t < T0 + 120; t++) {
		for (int k = 0; k < 3; k++) {
			make_id(n++, id);
			CU_ASSERT_EQUAL(kw_replay_add(r, id, NULL, t + k * 5, t), 0);
		}
		/* values of the last seconds are still known, older ones forgotten */
		if (t >= T0 + 12) {
			make_id(n - 3 * 10 - 1, id);    /* added at t - 10 with expiry t */
			CU_ASSERT_EQUAL(kw_replay_check(r, id, NULL, t), KW_ERR_REPLAY);
			make_id(n - 3 * 12 - 3, id);    /* added at t - 12 with expiry t - 12 */
			CU_ASSERT_EQUAL(kw_replay_check(r, id, NULL, t), 0);
		}
		CU_ASSERT_EQUAL(kw_replay_check(r, far, NULL, t), t <= T0 + 100 ? KW_ERR_REPLAY : 0);
		/* at most 11 seconds of values are live (plus the far one) */
		CU_ASSERT(live(r) <= 3 * 11 + 1 + KW_REPLAY_SWEEP_STEP);
	}
	kw_replay_free(r);
}

/* A clock that goes back and forth never corrupts the set. */
static void
test_time_backwards(void)
{
	struct kw_replay *r;
	uint8_t id[16];

	CU_ASSERT_FATAL(kw_replay_new(100, 4, 60, &r) == 0);
	for (uint64_t i = 0; i < 10; i++) {
		make_id(i, id);
		CU_ASSERT_EQUAL(kw_replay_add(r, id, NULL, T0 + 1000 + 10, T0 + 1000), 0);
	}
	/* the clock steps back by 1000 s: values are still known, new ones recorded */
	for (uint64_t i = 0; i < 10; i++) {
		make_id(i, id);
		CU_ASSERT_EQUAL(kw_replay_check(r, id, NULL, T0), KW_ERR_REPLAY);
	}
	for (uint64_t i = 10; i < 20; i++) {
		make_id(i, id);
		CU_ASSERT_EQUAL(kw_replay_add(r, id, NULL, T0 + 5, T0), 0);
	}
	CU_ASSERT_EQUAL(live(r), 20);
	/* forward again, past the first batch's expiry: all of it is freed, nothing lost early */
	for (uint64_t i = 10; i < 20; i++) {
		make_id(i, id);
		CU_ASSERT_EQUAL(kw_replay_check(r, id, NULL, T0 + 5), KW_ERR_REPLAY);
	}
	for (uint64_t i = 0; i < 10; i++) {
		make_id(i, id);
		CU_ASSERT_EQUAL(kw_replay_check(r, id, NULL, T0 + 1010), KW_ERR_REPLAY);
	}
	for (int i = 0; i < 400 && live(r) > 0; i++) {
		make_id(100 + (uint64_t)i, id);
		CU_ASSERT_EQUAL(kw_replay_check(r, id, NULL, T0 + 1011), 0);
	}
	CU_ASSERT_EQUAL(live(r), 0);
	/* and it keeps working: fill, back, forth */
	for (uint64_t i = 0; i < 100; i++) {
		make_id(1000 + i, id);
		CU_ASSERT_EQUAL(kw_replay_add(r, id, NULL, T0 + 1020 + (int64_t)(i % 7), T0 + 1011), 0);
	}
	make_id(5000, id);
	CU_ASSERT_EQUAL(kw_replay_add(r, id, NULL, T0 + 1020, T0 + 900), KW_ERR_UNAVAILABLE);
	CU_ASSERT_EQUAL(kw_replay_add(r, id, NULL, T0 + 1100, T0 + 1030), 0);
	for (int i = 0; i < 400 && live(r) > 1; i++) {
		make_id(2000 + (uint64_t)i, id);
		CU_ASSERT_EQUAL(kw_replay_check(r, id, NULL, T0 + 1030), 0);
	}
	CU_ASSERT_EQUAL(live(r), 1);
	make_id(5000, id);
	CU_ASSERT_EQUAL(kw_replay_check(r, id, NULL, T0 + 1030), KW_ERR_REPLAY);
	kw_replay_free(r);
}

/*
 * Differential test against a plain list with eager expiry (time moves
 * forward, in random steps): the same answer for every check and add.
 */
struct model_ent {
	uint64_t id;
	int part;
	int64_t expiry;
};

static void
test_against_model(void)
{
	enum { CAP = 64, QUOTA = 5, NPART = 8, NID = 300, OPS = 200000 };
	static struct model_ent m[CAP];
	size_t nm = 0, ok = 0, busy = 0, full = 0, replay = 0;
	struct kw_replay *r;
	int64_t now = T0;
	uint8_t id[16], part[NPART][16];

	CU_ASSERT_FATAL(kw_replay_new(CAP, QUOTA, 20, &r) == 0);
	for (int k = 0; k < NPART; k++)
		make_id(100000 + (uint64_t)k, part[k]);
	for (int op = 0; op < OPS; op++) {
		uint64_t x = next_rand(), n = x % NID;
		int p = (int)((x >> 20) % (NPART + 1)) - 1;    /* -1: no partition */
		int is_add = (x >> 30) & 1, want = 0, got, np = 0;
		int64_t exp;

		if (((x >> 40) & 63) == 0)
			now += (int64_t)((x >> 46) % 5);
		exp = now + (int64_t)((x >> 32) % 30);    /* some beyond max_ttl */
		for (size_t i = 0; i < nm;)
			if (m[i].expiry < now)
				m[i] = m[--nm];
			else
				i++;
		for (size_t i = 0; i < nm; i++) {
			if (m[i].id == n)
				want = KW_ERR_REPLAY;
			if (p >= 0 && m[i].part == p)
				np++;
		}
		if (want == 0 && p >= 0 && np >= QUOTA)
			want = KW_ERR_BUSY;
		if (want == 0 && nm >= CAP)
			want = KW_ERR_UNAVAILABLE;
		make_id(n, id);
		if (is_add) {
			got = kw_replay_add(r, id, p >= 0 ? part[p] : NULL, exp, now);
			if (want == 0) {
				m[nm].id = n;
				m[nm].part = p;
				m[nm].expiry = exp;
				nm++;
			}
		} else {
			got = kw_replay_check(r, id, p >= 0 ? part[p] : NULL, now);
		}
		if (got != want) {
			CU_FAIL("replay set and model disagree");
			fprintf(stderr, "op %d: got %d want %d (n=%llu p=%d now=%lld)\n", op, got, want,
			    (unsigned long long)n, p, (long long)(now - T0));
			break;
		}
		ok += want == 0;
		busy += want == KW_ERR_BUSY;
		full += want == KW_ERR_UNAVAILABLE;
		replay += want == KW_ERR_REPLAY;
	}
	printf("\n    %zu ok, %zu busy, %zu full, %zu replays\n", ok, busy, full, replay);
	/* every outcome was exercised */
	CU_ASSERT(ok > 1000 && busy > 1000 && full > 1000 && replay > 1000);
	CU_ASSERT(live(r) >= nm);
	kw_replay_free(r);
}

/*
 * At capacity, adds stay cheap: the work counter (chain nodes visited, wheel
 * steps, entries swept) grows by a small constant per add, never by the size
 * of the set (the old table was rebuilt on every add once full).
 */
static void
test_cost_at_capacity(void)
{
	enum { CAP = 100000, N = 20000 };
	struct kw_replay *r;
	uint8_t id[16];
	uint64_t w0, n = 0;
	size_t fails = 0;

	CU_ASSERT_FATAL(kw_replay_new(CAP, 0, 60, &r) == 0);
	for (int i = 0; i < CAP; i++) {
		make_id(n++, id);
		CU_ASSERT_FATAL(kw_replay_add(r, id, NULL, T0 + 10 + i % 50, T0) == 0);
	}
	/* full of live entries: every add fails, each for a few units of work */
	w0 = work(r);
	for (int i = 0; i < N; i++) {
		make_id(n++, id);
		fails += kw_replay_add(r, id, NULL, T0 + 60, T0 + 5) == KW_ERR_UNAVAILABLE;
	}
	CU_ASSERT_EQUAL(fails, N);
	printf("\n    full: %.2f units of work per add\n", (double)(work(r) - w0) / N);
	CU_ASSERT(work(r) - w0 <= 8 * (uint64_t)N);
	/* a fifth has expired (T0 + 10 .. T0 + 19): the adds succeed and free as they go */
	w0 = work(r);
	for (int i = 0; i < N; i++) {
		make_id(n++, id);
		CU_ASSERT_EQUAL(kw_replay_add(r, id, NULL, T0 + 80, T0 + 20), 0);
	}
	printf("    expiring: %.2f units of work per add\n", (double)(work(r) - w0) / N);
	CU_ASSERT(work(r) - w0 <= 12 * (uint64_t)N);
	CU_ASSERT_EQUAL(live(r), CAP);
	/* one add after a long idle time: a whole wheel turn plus what it frees */
	w0 = work(r);
	make_id(n++, id);
	CU_ASSERT_EQUAL(kw_replay_add(r, id, NULL, T0 + 10000 + 60, T0 + 10000), 0);
	CU_ASSERT(work(r) - w0 <= 256 + 2 * KW_REPLAY_SWEEP_STEP + 8);
	kw_replay_free(r);
}

int
main(void)
{
	CU_pSuite s;

	if (test_begin() != 0)
		return 2;
	s = CU_add_suite("replay", NULL, NULL);
	CU_add_test(s, "SipHash-2-4", test_siphash);
	CU_add_test(s, "add, replay, expiry reuse", test_basic);
	CU_add_test(s, "capacity", test_capacity);
	CU_add_test(s, "per-partition quota", test_quota);
	CU_add_test(s, "quota and capacity", test_quota_and_capacity);
	CU_add_test(s, "wheel wrap-around", test_wheel_wrap);
	CU_add_test(s, "time going backwards", test_time_backwards);
	CU_add_test(s, "against a model", test_against_model);
	CU_add_test(s, "cost at capacity", test_cost_at_capacity);
	return test_end(0);
}
