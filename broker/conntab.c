/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/random.h>

#include "conntab.h"

#define SLOT_COUNT_MAX UINT32_MAX

struct slot {
	struct kw_conn_key key;
	uint32_t count;    /* 0 = empty */
};

struct kw_conntab {
	uint64_t k0, k1;   /* SipHash key */
	size_t mask;       /* nslots - 1 */
	size_t max_keys, keys;
	struct slot *slots;
};

/* ---- keys ---- */

void
kw_conn_key_from_sockaddr(const struct sockaddr *sa, socklen_t len, struct kw_conn_key *ret)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	struct kw_conn_key k;

	memset(&k, 0, sizeof(k));
	if (sa != NULL && sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;
		k.b[0] = 4;
		memcpy(k.b + 1, &s4->sin_addr, 4);
	} else if (sa != NULL && sa->sa_family == AF_INET6 &&
	    len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;
		if (memcmp(s6->sin6_addr.s6_addr, mapped, sizeof(mapped)) == 0) {
			k.b[0] = 4;
			memcpy(k.b + 1, s6->sin6_addr.s6_addr + 12, 4);
		} else {
			k.b[0] = 6;
			memcpy(k.b + 1, s6->sin6_addr.s6_addr, 8);    /* the /64 */
		}
	}
	*ret = k;
}

void
kw_conn_key_format(const struct kw_conn_key *k, char *out, size_t outlen)
{
	char buf[INET6_ADDRSTRLEN];

	if (outlen == 0)
		return;
	if (k->b[0] == 4 && inet_ntop(AF_INET, k->b + 1, buf, sizeof(buf)) != NULL) {
		snprintf(out, outlen, "%s", buf);
	} else if (k->b[0] == 6) {
		uint8_t a[16];

		memset(a, 0, sizeof(a));
		memcpy(a, k->b + 1, 8);
		if (inet_ntop(AF_INET6, a, buf, sizeof(buf)) != NULL)
			snprintf(out, outlen, "%s/64", buf);
		else
			snprintf(out, outlen, "(IPv6)");
	} else {
		snprintf(out, outlen, "(other)");
	}
}

/* ---- SipHash-2-4 over a key (Aumasson and Bernstein) ---- */

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static void
sip_round(uint64_t v[4])
{
	v[0] += v[1]; v[1] = ROTL(v[1], 13); v[1] ^= v[0]; v[0] = ROTL(v[0], 32);
	v[2] += v[3]; v[3] = ROTL(v[3], 16); v[3] ^= v[2];
	v[0] += v[3]; v[3] = ROTL(v[3], 21); v[3] ^= v[0];
	v[2] += v[1]; v[1] = ROTL(v[1], 17); v[1] ^= v[2]; v[2] = ROTL(v[2], 32);
}

static uint64_t
siphash(uint64_t k0, uint64_t k1, const uint8_t *in, size_t len)
{
	uint64_t v[4] = {
		k0 ^ 0x736f6d6570736575ULL, k1 ^ 0x646f72616e646f6dULL,
		k0 ^ 0x6c7967656e657261ULL, k1 ^ 0x7465646279746573ULL,
	};
	uint64_t m, b = (uint64_t)len << 56;
	size_t i, full = len - len % 8;

	for (i = 0; i < full; i += 8) {
		m = 0;
		for (size_t j = 0; j < 8; j++)
			m |= (uint64_t)in[i + j] << (8 * j);
		v[3] ^= m;
		sip_round(v);
		sip_round(v);
		v[0] ^= m;
	}
	for (size_t j = 0; i + j < len; j++)
		b |= (uint64_t)in[i + j] << (8 * j);
	v[3] ^= b;
	sip_round(v);
	sip_round(v);
	v[0] ^= b;
	v[2] ^= 0xff;
	for (int r = 0; r < 4; r++)
		sip_round(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

/* ---- the table ---- */

int
kw_conntab_new(size_t max_keys, struct kw_conntab **ret)
{
	struct kw_conntab *t;
	size_t n = 16;
	uint64_t seed[2];

	if (max_keys < 1 || max_keys > 10000000)
		return KW_ERR_INVALID_ARG;
	while (n < 2 * max_keys)
		n *= 2;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return KW_ERR_NOMEM;
	if ((t->slots = calloc(n, sizeof(*t->slots))) == NULL) {
		free(t);
		return KW_ERR_NOMEM;
	}
	/* a fixed key only makes collisions predictable; never fail for it */
	if (getrandom(seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed)) {
		seed[0] = (uint64_t)(uintptr_t)t ^ 0x9e3779b97f4a7c15ULL;
		seed[1] = (uint64_t)(uintptr_t)t->slots;
	}
	t->k0 = seed[0];
	t->k1 = seed[1];
	t->mask = n - 1;
	t->max_keys = max_keys;
	*ret = t;
	return 0;
}

void
kw_conntab_free(struct kw_conntab *t)
{
	if (t == NULL)
		return;
	free(t->slots);
	free(t);
}

/* The slot holding k, or the empty slot where it would go. */
static size_t
find(const struct kw_conntab *t, const struct kw_conn_key *k)
{
	size_t i = (size_t)siphash(t->k0, t->k1, k->b, sizeof(k->b)) & t->mask;

	/* load <= 1/2: an empty slot always exists */
	while (t->slots[i].count != 0 && memcmp(&t->slots[i].key, k, sizeof(*k)) != 0)
		i = (i + 1) & t->mask;
	return i;
}

int
kw_conntab_add(struct kw_conntab *t, const struct kw_conn_key *k, size_t cap)
{
	size_t i = find(t, k);
	struct slot *s = &t->slots[i];

	if (s->count == 0) {
		if (cap == 0 || t->keys >= t->max_keys)
			return KW_ERR_BUSY;
		s->key = *k;
		s->count = 1;
		t->keys++;
		return 0;
	}
	if (s->count >= cap || s->count == SLOT_COUNT_MAX)
		return KW_ERR_BUSY;
	s->count++;
	return 0;
}

void
kw_conntab_del(struct kw_conntab *t, const struct kw_conn_key *k)
{
	size_t i = find(t, k), j;

	if (t->slots[i].count == 0)
		return;    /* not present: a caller bug, but never corrupt the table */
	if (--t->slots[i].count != 0)
		return;
	t->keys--;
	/* backward-shift deletion: move later entries of the probe run up into
	 * the hole unless their home slot lies cyclically in (i, j] */
	j = i;
	for (;;) {
		size_t home;

		j = (j + 1) & t->mask;
		if (t->slots[j].count == 0)
			break;
		home = (size_t)siphash(t->k0, t->k1, t->slots[j].key.b, KW_CONN_KEY_LEN) & t->mask;
		if (((j - home) & t->mask) < ((j - i) & t->mask))
			continue;    /* home is after the hole: stays */
		t->slots[i] = t->slots[j];
		i = j;
	}
	memset(&t->slots[i], 0, sizeof(t->slots[i]));
}

size_t
kw_conntab_count(const struct kw_conntab *t, const struct kw_conn_key *k)
{
	return t->slots[find(t, k)].count;
}

size_t
kw_conntab_keys(const struct kw_conntab *t)
{
	return t->keys;
}

/* ---- the descriptor budget ---- */

static int KW_PRINTF(3, 4)
budget_err(char *eb, size_t el, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(eb, el, fmt, ap);
	va_end(ap);
	return KW_ERR_CONFIG;
}

int
kw_conn_limits_derive(size_t nofile, const struct kw_conn_limits *cfg,
    struct kw_conn_limits *ret, char *eb, size_t el)
{
	struct kw_conn_limits l;
	size_t fixed = KW_FD_RESERVE + KW_ACCEPT_SLACK, budget;

	memset(&l, 0, sizeof(l));
	l.nofile = nofile;
	l.request_timeout = cfg->request_timeout != 0 ? cfg->request_timeout : 10;
	l.admin_max_connections = cfg->admin_max_connections;
	if (l.admin_max_connections > 0)
		fixed += l.admin_max_connections + KW_ADMIN_ACCEPT_SLACK;
	if (nofile < fixed + KW_MIN_CONNECTIONS)
		return budget_err(eb, el, "RLIMIT_NOFILE is %zu, but the broker keeps %zu descriptors "
		    "for itself%s, leaving fewer than %d for connections; raise LimitNOFILE "
		    "(docs/reliability.md, \"Connections\")", nofile, fixed,
		    l.admin_max_connections > 0 ? " and the admin listener" : "", KW_MIN_CONNECTIONS);
	budget = nofile - fixed;
	if (cfg->max_connections > budget)
		return budget_err(eb, el, "limits.max_connections is %zu, but RLIMIT_NOFILE %zu leaves "
		    "room for at most %zu; raise LimitNOFILE or lower the value", cfg->max_connections,
		    nofile, budget);
	l.max_connections = cfg->max_connections != 0 ? cfg->max_connections :
	    budget < KW_MAX_CONNECTIONS_CEIL ? budget : KW_MAX_CONNECTIONS_CEIL;
	if (cfg->max_per_address > l.max_connections)
		return budget_err(eb, el, "limits.max_connections_per_address (%zu) is above "
		    "limits.max_connections (%zu)", cfg->max_per_address, l.max_connections);
	l.max_per_address = cfg->max_per_address != 0 ? cfg->max_per_address :
	    l.max_connections / 8 > 8 ? l.max_connections / 8 : 8;
	if (l.max_per_address > l.max_connections)
		l.max_per_address = l.max_connections;
	if (l.admin_max_connections > 0) {
		l.admin_max_per_address = l.admin_max_connections / 4 > 4 ?
		    l.admin_max_connections / 4 : 4;
		if (l.admin_max_per_address > l.admin_max_connections)
			l.admin_max_per_address = l.admin_max_connections;
	}
	*ret = l;
	return 0;
}
