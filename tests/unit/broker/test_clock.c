/* SPDX-License-Identifier: Apache-2.0 */
/*
 * broker/clock.c, compiled with and without KW_TEST_HOOKS: only the test-hook
 * build lets KEYWARDEN_TEST_CLOCK_FILE move the clock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"

#ifndef EXPECT_HOOKS
#error "EXPECT_HOOKS must be 0 or 1"
#endif

static int failures;

#define CHECK(cond, ...)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);   \
			fprintf(stderr, __VA_ARGS__);                          \
			fputc('\n', stderr);                                   \
			failures++;                                            \
		}                                                              \
	} while (0)

static long long
skew(void)
{
	return (long long)(kw_broker_now() - (int64_t)time(NULL));
}

int
main(void)
{
	char path[] = "/tmp/kw-clock-XXXXXX";
	int fd = mkstemp(path);
	long long d;

	if (fd < 0 || write(fd, "+400\n", 5) != 5) {
		perror("mkstemp");
		return 1;
	}
	close(fd);
	unsetenv("KEYWARDEN_TEST_CLOCK_FILE");
	CHECK(kw_broker_test_hooks() == EXPECT_HOOKS, "test_hooks() = %d", kw_broker_test_hooks());
	CHECK(!kw_broker_clock_is_test() && !kw_broker_clock_ignored(), "flags without the variable");
	d = skew();
	CHECK(d >= -1 && d <= 1, "skew without the variable: %lld", d);
	setenv("KEYWARDEN_TEST_CLOCK_FILE", path, 1);
	d = skew();
	if (EXPECT_HOOKS) {
		CHECK(d >= 399 && d <= 401, "hooks build: skew %lld, want 400", d);
		CHECK(kw_broker_clock_is_test() && !kw_broker_clock_ignored(), "hooks build flags");
	} else {
		CHECK(d >= -1 && d <= 1, "production build: the variable moved the clock by %lld", d);
		CHECK(!kw_broker_clock_is_test() && kw_broker_clock_ignored(), "production flags");
	}
	/* a malformed or missing file leaves the clock alone in both builds */
	setenv("KEYWARDEN_TEST_CLOCK_FILE", "/nonexistent/kw-clock", 1);
	d = skew();
	CHECK(d >= -1 && d <= 1, "missing file: skew %lld", d);
	unlink(path);
	printf("clock (%s): %s\n", EXPECT_HOOKS ? "test hooks" : "no test hooks",
	    failures == 0 ? "ok" : "FAILED");
	return failures == 0 ? 0 : 1;
}
