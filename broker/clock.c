/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The broker's clock. In production it is the wall clock. For tests that
 * must cross an expiry without sleeping, KEYWARDEN_TEST_CLOCK_FILE names a
 * file holding a signed offset in seconds ("+400"); the broker logs a warning
 * at start when it is set (see docs/configuration.md). The file is read on
 * every call: only tests set it.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "broker.h"
#include "kw_util.h"

static pthread_mutex_t clock_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t clock_offset;

int
kw_broker_clock_is_test(void)
{
	return getenv("KEYWARDEN_TEST_CLOCK_FILE") != NULL;
}

int64_t
kw_broker_now(void)
{
	const char *path = getenv("KEYWARDEN_TEST_CLOCK_FILE");
	int64_t now = kw_time_now(), off;

	if (path == NULL)
		return now;
	pthread_mutex_lock(&clock_lock);
	{
		FILE *f = fopen(path, "r");
		long long v = 0;

		clock_offset = 0;
		if (f != NULL) {
			if (fscanf(f, "%lld", &v) == 1 && v > -100000000LL && v < 100000000LL)
				clock_offset = (int64_t)v;
			fclose(f);
		}
	}
	off = clock_offset;
	pthread_mutex_unlock(&clock_lock);
	return now + off;
}
