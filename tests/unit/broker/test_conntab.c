/* SPDX-License-Identifier: Apache-2.0 */
/* test_conntab: per-address connection counts and the descriptor budget. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "test_helper.h"

#include "conntab.h"

static struct kw_conn_key
key4(const char *a)
{
	struct sockaddr_in s;
	struct kw_conn_key k;

	memset(&s, 0, sizeof(s));
	s.sin_family = AF_INET;
	s.sin_port = htons(1234);
	CU_ASSERT_FATAL(inet_pton(AF_INET, a, &s.sin_addr) == 1);
	kw_conn_key_from_sockaddr((struct sockaddr *)&s, sizeof(s), &k);
	return k;
}

static struct kw_conn_key
key6(const char *a, uint16_t port)
{
	struct sockaddr_in6 s;
	struct kw_conn_key k;

	memset(&s, 0, sizeof(s));
	s.sin6_family = AF_INET6;
	s.sin6_port = htons(port);
	CU_ASSERT_FATAL(inet_pton(AF_INET6, a, &s.sin6_addr) == 1);
	kw_conn_key_from_sockaddr((struct sockaddr *)&s, sizeof(s), &k);
	return k;
}

static int
key_eq(struct kw_conn_key a, struct kw_conn_key b)
{
	return memcmp(&a, &b, sizeof(a)) == 0;
}

static void
test_keys(void)
{
	struct kw_conn_key k;
	struct sockaddr_in short4;
	char s[KW_CONN_KEY_STR_MAX];

	/* IPv4, and IPv4 arriving mapped on an IPv6 socket, are the same client */
	CU_ASSERT(key_eq(key4("192.0.2.7"), key6("::ffff:192.0.2.7", 1)));
	CU_ASSERT(!key_eq(key4("192.0.2.7"), key4("192.0.2.8")));
	/* the port never matters */
	CU_ASSERT(key_eq(key6("2001:db8:1:2::1", 1), key6("2001:db8:1:2::1", 2)));
	/* IPv6 per /64 */
	CU_ASSERT(key_eq(key6("2001:db8:1:2::1", 1), key6("2001:db8:1:2:ffff:ffff:ffff:ffff", 1)));
	CU_ASSERT(!key_eq(key6("2001:db8:1:2::1", 1), key6("2001:db8:1:3::1", 1)));
	/* an IPv6 /64 never equals an IPv4 address with the same bytes */
	CU_ASSERT(!key_eq(key6("c000:207::", 1), key4("192.0.2.7")));
	kw_conn_key_format(&(struct kw_conn_key){0}, s, sizeof(s));
	CU_ASSERT_STRING_EQUAL(s, "(other)");
	k = key4("192.0.2.7");
	kw_conn_key_format(&k, s, sizeof(s));
	CU_ASSERT_STRING_EQUAL(s, "192.0.2.7");
	k = key6("2001:db8:1:2:3:4:5:6", 9);
	kw_conn_key_format(&k, s, sizeof(s));
	CU_ASSERT_STRING_EQUAL(s, "2001:db8:1:2::/64");
	/* a truncated address is not read past its length: "other" */
	memset(&short4, 0, sizeof(short4));
	short4.sin_family = AF_INET;
	short4.sin_addr.s_addr = htonl(0xc0000207);
	kw_conn_key_from_sockaddr((struct sockaddr *)&short4, 4, &k);
	CU_ASSERT(k.b[0] == 0);
}

static void
test_caps(void)
{
	struct kw_conntab *t;
	struct kw_conn_key a = key4("198.51.100.1"), b = key4("198.51.100.2");

	CU_ASSERT(kw_conntab_new(0, &t) == KW_ERR_INVALID_ARG);
	CU_ASSERT_FATAL(kw_conntab_new(4, &t) == 0);
	for (int i = 0; i < 3; i++)
		CU_ASSERT(kw_conntab_add(t, &a, 3) == 0);
	CU_ASSERT_EQUAL(kw_conntab_add(t, &a, 3), KW_ERR_BUSY);    /* at its cap */
	CU_ASSERT_EQUAL(kw_conntab_count(t, &a), 3);
	CU_ASSERT(kw_conntab_add(t, &b, 3) == 0);                   /* others unaffected */
	CU_ASSERT_EQUAL(kw_conntab_keys(t), 2);
	kw_conntab_del(t, &a);
	CU_ASSERT_EQUAL(kw_conntab_count(t, &a), 2);
	CU_ASSERT(kw_conntab_add(t, &a, 3) == 0);                   /* a slot freed */
	for (int i = 0; i < 3; i++)
		kw_conntab_del(t, &a);
	CU_ASSERT_EQUAL(kw_conntab_count(t, &a), 0);
	CU_ASSERT_EQUAL(kw_conntab_keys(t), 1);
	kw_conntab_del(t, &a);                                      /* absent: no change */
	CU_ASSERT_EQUAL(kw_conntab_keys(t), 1);
	/* no more than max_keys distinct clients */
	for (int i = 3; i <= 6; i++) {
		char ip[32];
		struct kw_conn_key k;

		snprintf(ip, sizeof(ip), "198.51.100.%d", i);
		k = key4(ip);
		CU_ASSERT_EQUAL(kw_conntab_add(t, &k, 3), i <= 5 ? 0 : KW_ERR_BUSY);
	}
	CU_ASSERT_EQUAL(kw_conntab_keys(t), 4);
	kw_conntab_free(t);
	kw_conntab_free(NULL);
}

/* Random adds and deletes against a plain array: deletion must keep every
 * probe run intact (a broken backward shift loses or duplicates keys). */
static void
test_model(void)
{
	enum { NADDR = 3000, MAXK = 1024, CAP = 3 };
	static unsigned int model[NADDR];
	struct kw_conntab *t;
	size_t live = 0;
	unsigned int seed = 12345;
	int bad = 0;

	memset(model, 0, sizeof(model));
	CU_ASSERT_FATAL(kw_conntab_new(MAXK, &t) == 0);
	for (int step = 0; step < 300000 && !bad; step++) {
		unsigned int i;
		struct kw_conn_key k;
		struct sockaddr_in6 s;

		seed = seed * 1103515245u + 12345u;
		i = (seed >> 8) % NADDR;
		memset(&s, 0, sizeof(s));
		s.sin6_family = AF_INET6;
		s.sin6_addr.s6_addr[0] = 0x20;
		s.sin6_addr.s6_addr[6] = (uint8_t)(i >> 8);
		s.sin6_addr.s6_addr[7] = (uint8_t)i;
		s.sin6_addr.s6_addr[15] = (uint8_t)seed;    /* same /64, other host */
		kw_conn_key_from_sockaddr((struct sockaddr *)&s, sizeof(s), &k);
		if ((seed >> 20) % 2 == 0) {
			int want = model[i] < CAP && (model[i] > 0 || live < MAXK) ? 0 : KW_ERR_BUSY;
			int r = kw_conntab_add(t, &k, CAP);
			if (r != want)
				bad = 1;
			if (r == 0 && model[i]++ == 0)
				live++;
		} else if (model[i] > 0) {
			kw_conntab_del(t, &k);
			if (--model[i] == 0)
				live--;
		}
		if (kw_conntab_count(t, &k) != model[i] || kw_conntab_keys(t) != live)
			bad = 1;
	}
	CU_ASSERT(!bad);
	CU_ASSERT(live > MAXK / 2);    /* the table was well filled */
	kw_conntab_free(t);
}

static void
test_budget(void)
{
	struct kw_conn_limits want, got;
	char eb[400];

	memset(&want, 0, sizeof(want));
	want.admin_max_connections = 32;
	CU_ASSERT_FATAL(kw_conn_limits_derive(1024, &want, &got, eb, sizeof(eb)) == 0);
	CU_ASSERT_EQUAL(got.max_connections, 1024 - KW_FD_RESERVE - KW_ACCEPT_SLACK - 32 -
	    KW_ADMIN_ACCEPT_SLACK);
	CU_ASSERT_EQUAL(got.max_connections, 888);
	CU_ASSERT_EQUAL(got.max_per_address, 111);
	CU_ASSERT_EQUAL(got.admin_max_connections, 32);
	CU_ASSERT_EQUAL(got.admin_max_per_address, 8);
	CU_ASSERT_EQUAL(got.request_timeout, 10);
	CU_ASSERT_EQUAL(got.nofile, 1024);
	/* large limits: capped */
	CU_ASSERT_FATAL(kw_conn_limits_derive(65536, &want, &got, eb, sizeof(eb)) == 0);
	CU_ASSERT_EQUAL(got.max_connections, KW_MAX_CONNECTIONS_CEIL);
	CU_ASSERT_EQUAL(got.max_per_address, KW_MAX_CONNECTIONS_CEIL / 8);
	/* no admin listener: its share goes to the workload listener */
	want.admin_max_connections = 0;
	CU_ASSERT_FATAL(kw_conn_limits_derive(1024, &want, &got, eb, sizeof(eb)) == 0);
	CU_ASSERT_EQUAL(got.max_connections, 1024 - KW_FD_RESERVE - KW_ACCEPT_SLACK);
	CU_ASSERT_EQUAL(got.admin_max_per_address, 0);
	/* small budgets: per-address floor of 8, then the listener cap */
	CU_ASSERT_FATAL(kw_conn_limits_derive(KW_FD_RESERVE + KW_ACCEPT_SLACK + 40, &want, &got, eb,
	    sizeof(eb)) == 0);
	CU_ASSERT_EQUAL(got.max_connections, 40);
	CU_ASSERT_EQUAL(got.max_per_address, 8);
	CU_ASSERT_FATAL(kw_conn_limits_derive(KW_FD_RESERVE + KW_ACCEPT_SLACK + 16, &want, &got, eb,
	    sizeof(eb)) == 0);
	CU_ASSERT_EQUAL(got.max_connections, 16);
	/* too small: refused, with the reason */
	got.max_connections = 7;
	CU_ASSERT_EQUAL(kw_conn_limits_derive(KW_FD_RESERVE + KW_ACCEPT_SLACK + 15, &want, &got, eb,
	    sizeof(eb)), KW_ERR_CONFIG);
	CU_ASSERT(strstr(eb, "RLIMIT_NOFILE is 111") != NULL);
	CU_ASSERT(strstr(eb, "LimitNOFILE") != NULL);
	CU_ASSERT_EQUAL(got.max_connections, 7);    /* ret untouched on failure */
	/* configured values above the budget are refused, not clamped */
	want.admin_max_connections = 32;
	want.max_connections = 889;
	CU_ASSERT_EQUAL(kw_conn_limits_derive(1024, &want, &got, eb, sizeof(eb)), KW_ERR_CONFIG);
	CU_ASSERT(strstr(eb, "limits.max_connections is 889") != NULL);
	CU_ASSERT(strstr(eb, "at most 888") != NULL);
	want.max_connections = 888;
	CU_ASSERT(kw_conn_limits_derive(1024, &want, &got, eb, sizeof(eb)) == 0);
	CU_ASSERT_EQUAL(got.max_connections, 888);
	want.max_connections = 100;
	want.max_per_address = 101;
	CU_ASSERT_EQUAL(kw_conn_limits_derive(1024, &want, &got, eb, sizeof(eb)), KW_ERR_CONFIG);
	CU_ASSERT(strstr(eb, "max_connections_per_address") != NULL);
	want.max_per_address = 100;
	want.request_timeout = 30;
	CU_ASSERT(kw_conn_limits_derive(1024, &want, &got, eb, sizeof(eb)) == 0);
	CU_ASSERT_EQUAL(got.max_per_address, 100);
	CU_ASSERT_EQUAL(got.request_timeout, 30);
	/* a tiny admin cap keeps a per-address cap within it */
	want.admin_max_connections = 2;
	CU_ASSERT(kw_conn_limits_derive(1024, &want, &got, eb, sizeof(eb)) == 0);
	CU_ASSERT_EQUAL(got.admin_max_per_address, 2);
}

int
main(void)
{
	CU_pSuite s;

	if (test_begin() != 0)
		return 2;
	s = CU_add_suite("conntab", NULL, NULL);
	CU_add_test(s, "address keys and /64 folding", test_keys);
	CU_add_test(s, "per-address caps", test_caps);
	CU_add_test(s, "table against a model", test_model);
	CU_add_test(s, "descriptor budget", test_budget);
	return test_end(0);
}
