/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_replay [CAP...]: nanoseconds per replay-set operation at capacity
 * (broker/replay.c), for 100,000 and 1,000,000 entries by default. Prints
 * numbers; not a test (wall time depends on the machine), built and not run
 * by the suite.
 *
 *   fill       adds into an empty set until it is full
 *   full       adds to a set full of live entries (each fails: 503 in the broker)
 *   lookup     checks of recorded ids (replays) and of new ids, set full
 *   expiring   steady state: cap/(ttl+1) adds per simulated second with
 *              expiry now+ttl, so expired entries are freed as new ones come
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "replay.h"

#define T0 1800000000LL
#define TTL 60

static uint64_t rng = 0x2545f4914f6cdd1dULL;

static void
rand_id(uint8_t id[KW_REPLAY_ID_LEN])
{
	for (int i = 0; i < 2; i++) {
		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		memcpy(id + 8 * i, &rng, 8);
	}
}

static double
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static uint64_t
work(const struct kw_replay *r)
{
	struct kw_replay_stats st;

	kw_replay_stats(r, &st);
	return st.work;
}

static int
bench(size_t cap)
{
	struct kw_replay *r = NULL;
	uint8_t id[KW_REPLAY_ID_LEN], (*kept)[KW_REPLAY_ID_LEN] = NULL;
	size_t n = cap < 200000 ? cap : 200000, fails = 0, ok = 0, rate;
	double t0, t1, worst = 0;
	uint64_t w0, wmax = 0;
	int rc = 1;

	if ((kept = calloc(n, sizeof(*kept))) == NULL || kw_replay_new(cap, 0, TTL, &r) != 0)
		goto out;
	t0 = now_ns();
	for (size_t i = 0; i < cap; i++) {
		rand_id(id);
		if (i < n)
			memcpy(kept[i], id, sizeof(id));
		if (kw_replay_add(r, id, NULL, T0 + TTL, T0) != 0)
			goto out;
	}
	t1 = now_ns();
	printf("cap %zu: fill      %6.0f ns/add\n", cap, (t1 - t0) / (double)cap);

	w0 = work(r);
	t0 = now_ns();
	for (size_t i = 0; i < n; i++) {
		rand_id(id);
		fails += kw_replay_add(r, id, NULL, T0 + TTL, T0 + 1) == KW_ERR_UNAVAILABLE;
	}
	t1 = now_ns();
	printf("cap %zu: full      %6.0f ns/add (%zu of %zu unavailable, %.2f work/add)\n", cap,
	    (t1 - t0) / (double)n, fails, n, (double)(work(r) - w0) / (double)n);

	fails = 0;
	t0 = now_ns();
	for (size_t i = 0; i < n; i++)
		fails += kw_replay_check(r, kept[i], NULL, T0 + 1) == KW_ERR_REPLAY;
	t1 = now_ns();
	printf("cap %zu: lookup    %6.0f ns/check of a recorded id (%zu of %zu replays)\n", cap,
	    (t1 - t0) / (double)n, fails, n);
	t0 = now_ns();
	for (size_t i = 0; i < n; i++) {
		rand_id(id);
		if (kw_replay_check(r, id, NULL, T0 + 1) == KW_ERR_REPLAY)
			goto out;
	}
	t1 = now_ns();
	printf("cap %zu: lookup    %6.0f ns/check of a new id\n", cap, (t1 - t0) / (double)n);
	kw_replay_free(r);
	r = NULL;

	/* steady state near capacity: entries expire as fast as new ones arrive */
	if (kw_replay_new(cap, 0, TTL, &r) != 0)
		goto out;
	rate = cap / (TTL + 1);
	for (int64_t s = 0; s < TTL + 1; s++)
		for (size_t i = 0; i < rate; i++) {
			rand_id(id);
			if (kw_replay_add(r, id, NULL, T0 + s + TTL, T0 + s) != 0)
				goto out;
		}
	fails = 0;
	w0 = work(r);
	t0 = now_ns();
	for (int64_t s = TTL + 1; s < 3 * TTL; s++)
		for (size_t i = 0; i < rate; i++) {
			rand_id(id);
			if (kw_replay_add(r, id, NULL, T0 + s + TTL, T0 + s) == 0)
				ok++;
			else
				fails++;
		}
	t1 = now_ns();
	printf("cap %zu: expiring  %6.0f ns/add (%zu recorded, %zu refused, %.2f work/add)\n", cap,
	    (t1 - t0) / (double)(ok + fails), ok, fails, (double)(work(r) - w0) / (double)(ok + fails));
	/*
	 * The slowest single add of one more simulated minute: in units of work
	 * (what the code does) and in time (which also counts being preempted on
	 * a busy machine, and the timer).
	 */
	for (int64_t s = 3 * TTL; s < 4 * TTL; s++)
		for (size_t i = 0; i < rate; i++) {
			double a = now_ns(), d;
			uint64_t wa = work(r);
			rand_id(id);
			if (kw_replay_add(r, id, NULL, T0 + s + TTL, T0 + s) != 0)
				goto out;
			if ((d = now_ns() - a) > worst)
				worst = d;
			if (work(r) - wa > wmax)
				wmax = work(r) - wa;
		}
	printf("cap %zu: expiring  slowest of %zu adds: %llu units of work, %.0f ns\n", cap,
	    rate * TTL, (unsigned long long)wmax, worst);
	rc = 0;
out:
	if (rc != 0)
		fprintf(stderr, "bench_replay: setup failed for cap %zu\n", cap);
	kw_replay_free(r);
	free(kept);
	return rc;
}

int
main(int argc, char **argv)
{
	static const size_t defaults[] = {100000, 1000000};
	int rc = 0;

	if (argc > 1) {
		for (int i = 1; i < argc; i++) {
			char *end;
			unsigned long long v = strtoull(argv[i], &end, 10);
			if (*end != '\0' || v < 1 || v > KW_REPLAY_MAX_CAP) {
				fprintf(stderr, "usage: bench_replay [CAP...]\n");
				return 2;
			}
			rc |= bench((size_t)v);
		}
		return rc;
	}
	for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
		rc |= bench(defaults[i]);
	return rc;
}
