/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_CLOCK_H
#define KW_CLOCK_H

#include <stdint.h>

/*
 * The broker's clock: seconds since the epoch. Thread-safe.
 *
 * Builds configured with -Dtest_hooks=true (the test suite's builds, never
 * the default) let tests shift it: KEYWARDEN_TEST_CLOCK_FILE names a file
 * holding a signed offset in seconds ("+400"), read on every call. In any
 * other build the variable is ignored (kw_broker_clock_ignored() says so).
 */
int64_t kw_broker_now(void);

/* 1 when this build has test hooks and KEYWARDEN_TEST_CLOCK_FILE is set. */
int kw_broker_clock_is_test(void);

/* 1 when KEYWARDEN_TEST_CLOCK_FILE is set but this build has no test hooks. */
int kw_broker_clock_ignored(void);

/* 1 when this build was configured with test hooks. */
int kw_broker_test_hooks(void);

#endif
