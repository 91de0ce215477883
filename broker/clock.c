/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The broker's clock. In production it is the wall clock. For tests that
 * must cross an expiry without sleeping, builds configured with
 * -Dtest_hooks=true (KW_TEST_HOOKS) read KEYWARDEN_TEST_CLOCK_FILE: a file
 * holding a signed offset in seconds ("+400"), read on every call; the
 * broker logs a warning at start when it is in effect. Without test hooks
 * the code that reads the variable is not compiled in, so an environment
 * variable cannot move a production broker's clock.
 */
#include <stdio.h>
#include <stdlib.h>

#include "clock.h"
#include "kw_util.h"

#define TEST_CLOCK_ENV "KEYWARDEN_TEST_CLOCK_FILE"

#ifdef KW_TEST_HOOKS
#include <pthread.h>

static pthread_mutex_t clock_lock = PTHREAD_MUTEX_INITIALIZER;

int
kw_broker_test_hooks(void)
{
	return 1;
}

int
kw_broker_clock_is_test(void)
{
	return getenv(TEST_CLOCK_ENV) != NULL;
}

int
kw_broker_clock_ignored(void)
{
	return 0;
}

int64_t
kw_broker_now(void)
{
	const char *path = getenv(TEST_CLOCK_ENV);
	int64_t now = kw_time_now(), off = 0;
	FILE *f;
	long long v = 0;

	if (path == NULL)
		return now;
	pthread_mutex_lock(&clock_lock);
	if ((f = fopen(path, "re")) != NULL) {
		if (fscanf(f, "%lld", &v) == 1 && v > -100000000LL && v < 100000000LL)
			off = (int64_t)v;
		fclose(f);
	}
	pthread_mutex_unlock(&clock_lock);
	return now + off;
}

#else /* !KW_TEST_HOOKS */

int
kw_broker_test_hooks(void)
{
	return 0;
}

int
kw_broker_clock_is_test(void)
{
	return 0;
}

int
kw_broker_clock_ignored(void)
{
	return getenv(TEST_CLOCK_ENV) != NULL;
}

int64_t
kw_broker_now(void)
{
	return kw_time_now();
}

#endif
