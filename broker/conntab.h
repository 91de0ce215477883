/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_CONNTAB_H
#define KW_CONNTAB_H

#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>

#include "kw_err.h"

/*
 * Connection accounting for the listeners (broker/listener.c), kept free of
 * libevent so it can be unit-tested: the per-address table and the
 * descriptor budget that the connection caps are derived from.
 */

/*
 * A client address as counted against limits.max_connections_per_address:
 * an IPv4 address (also when it arrives IPv4-mapped on an IPv6 socket), or
 * the /64 prefix of an IPv6 address (one host usually owns a whole /64, so
 * counting /128s would let it open a fresh address per connection).
 */
#define KW_CONN_KEY_LEN 9
struct kw_conn_key {
	uint8_t b[KW_CONN_KEY_LEN];    /* family tag (4, 6, or 0 = other), then 4 or 8 bytes */
};

/* Fold a peer address into its key; other families all share one key. */
void kw_conn_key_from_sockaddr(const struct sockaddr *sa, socklen_t len, struct kw_conn_key *ret);
/* "192.0.2.1" or "2001:db8:1:2::/64" (at least KW_CONN_KEY_STR_MAX bytes); safe to log. */
#define KW_CONN_KEY_STR_MAX 64
void kw_conn_key_format(const struct kw_conn_key *k, char *out, size_t outlen);

/*
 * Open connections per key. Open addressing over a power of two >= 2 *
 * max_keys slots with a per-table random SipHash key (a client cannot pick
 * addresses that collide), backward-shift deletion. One thread at a time.
 */
struct kw_conntab;

int kw_conntab_new(size_t max_keys, struct kw_conntab **ret) KW_WUR;
void kw_conntab_free(struct kw_conntab *t);
/*
 * Count one more connection for k unless it already has cap: 0, or
 * KW_ERR_BUSY (k is at cap, or max_keys distinct keys are present); the
 * table is unchanged on failure.
 */
int kw_conntab_add(struct kw_conntab *t, const struct kw_conn_key *k, size_t cap) KW_WUR;
/* Count one connection of k less (a key at 0 is removed); k must be present. */
void kw_conntab_del(struct kw_conntab *t, const struct kw_conn_key *k);
size_t kw_conntab_count(const struct kw_conntab *t, const struct kw_conn_key *k);
/* Distinct keys present. */
size_t kw_conntab_keys(const struct kw_conntab *t);

/*
 * The descriptor budget. Of RLIMIT_NOFILE, KW_FD_RESERVE descriptors are
 * kept for the broker's own files (store, HSM socket, event bases, logs,
 * signal pipe, listening sockets, certificate reads), and each listener may
 * hold its cap plus a slack of accepted sockets still being refused.
 */
#define KW_FD_RESERVE 64
#define KW_ACCEPT_SLACK 32
#define KW_ADMIN_ACCEPT_SLACK 8
#define KW_MAX_CONNECTIONS_CEIL 16384
#define KW_MIN_CONNECTIONS 16

struct kw_conn_limits {
	size_t nofile;                  /* the RLIMIT_NOFILE this budget is for */
	size_t max_connections;         /* workload listener */
	size_t max_per_address;
	size_t admin_max_connections;   /* 0: no admin listener */
	size_t admin_max_per_address;
	unsigned int request_timeout;   /* seconds */
};

/*
 * Effective limits from the configured ones (0 = derive) for nofile
 * descriptors: max_connections = min(nofile - reserve - slacks - admin cap,
 * 16384), max_per_address = max(8, max_connections / 8), admin per address
 * = max(4, admin cap / 4), each capped by its listener's cap. KW_ERR_CONFIG
 * with a message in errbuf when fewer than 16 descriptors are left for the
 * workload listener or a configured value does not fit the budget.
 */
int kw_conn_limits_derive(size_t nofile, const struct kw_conn_limits *cfg,
    struct kw_conn_limits *ret, char *errbuf, size_t errlen) KW_WUR;

#endif
