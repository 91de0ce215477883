/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_audit [dir] [seconds]: durable appends per second through the audit
 * writer with 1 and 16 concurrent producers, group commit against one
 * transaction (one fsync) per record, each on a fresh database in dir
 * (default /var/tmp: a real disk, not tmpfs) for seconds (default 3) per run.
 * Every producer waits for its record to be durable before the next.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "kw_json.h"

static atomic_bool stop;
static atomic_ulong done_count, errors;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *
produce(void *arg)
{
	struct audit_writer *w = arg;
	json_t *d = json_pack("{s:s, s:s, s:i, s:s, s:i, s:{s:s, s:s}, s:s, s:s, s:s, s:s, s:s}",
	    "repository", "prod", "resource", "prod/keys/db", "version", 3, "policy", "fw",
	    "policy_version", 7, "refval", "set", "fw-prod", "entry", "fw-2026.11",
	    "wrap_jkt", "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs", "client", "10.1.2.3",
	    "jti", "4f0c6d0e-6a2d-4b7e-9a59-1f1e3c2b9d77",
	    "jkt", "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I",
	    "measurement", "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6071");

	while (!atomic_load(&stop)) {
		if (audit_writer_append_wait(w, AUDIT_KIND_RELEASE, 1800000000, d, NULL) == 0)
			atomic_fetch_add(&done_count, 1);
		else
			atomic_fetch_add(&errors, 1);
	}
	json_decref(d);
	return NULL;
}

static int
run(const char *dir, double seconds, int producers, bool group)
{
	char path[512];
	struct audit_writer *w = NULL;
	struct audit_writer_config cfg = { .one_per_commit = !group };
	struct audit_writer_stats st;
	pthread_t t[64];
	double t0, t1;

	snprintf(path, sizeof(path), "%s/bench-audit-%d-%d.db", dir, producers, group);
	unlink(path);
	if (audit_writer_open(path, &cfg, &w) != 0) {
		fprintf(stderr, "bench_audit: cannot open %s\n", path);
		return 1;
	}
	atomic_store(&stop, false);
	atomic_store(&done_count, 0);
	atomic_store(&errors, 0);
	t0 = now();
	for (int i = 0; i < producers; i++)
		if (pthread_create(&t[i], NULL, produce, w) != 0)
			return 1;
	usleep((useconds_t)(seconds * 1e6));
	atomic_store(&stop, true);
	for (int i = 0; i < producers; i++)
		pthread_join(t[i], NULL);
	t1 = now();
	audit_writer_stats(w, &st);
	audit_writer_close(w);
	printf("%-2d producer%s  %-22s %8.0f appends/s  (%lu records, %llu commits, %.1f per commit,"
	    " %lu errors)\n", producers, producers == 1 ? " " : "s",
	    group ? "group commit" : "one fsync per record",
	    (double)atomic_load(&done_count) / (t1 - t0), atomic_load(&done_count),
	    (unsigned long long)st.commits,
	    st.commits > 0 ? (double)st.records / (double)st.commits : 0.0, atomic_load(&errors));
	fflush(stdout);
	unlink(path);
	snprintf(path, sizeof(path), "%s/bench-audit-%d-%d.db-wal", dir, producers, group);
	unlink(path);
	snprintf(path, sizeof(path), "%s/bench-audit-%d-%d.db-shm", dir, producers, group);
	unlink(path);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/var/tmp";
	double seconds = argc > 2 ? strtod(argv[2], NULL) : 3.0;
	int rc = 0;

	kw_json_init();
	if (seconds <= 0 || seconds > 600)
		return 2;
	for (int g = 0; g < 2; g++)
		for (int p = 1; p <= 16; p += 15)
			rc |= run(dir, seconds, p, g == 1);
	return rc;
}
