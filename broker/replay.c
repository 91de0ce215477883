/* SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>
#include <string.h>

#include "replay.h"

struct entry {
	uint8_t id[KW_REPLAY_ID_LEN];
	int64_t expiry;    /* 0 = empty slot */
};

struct kw_replay {
	size_t cap, nslots, used;
	struct entry *slots;
};

int
kw_replay_new(size_t cap, struct kw_replay **ret)
{
	struct kw_replay *r;

	if (cap < 1 || cap > 100000000)
		return KW_ERR_INVALID_ARG;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return KW_ERR_NOMEM;
	r->cap = cap;
	r->nslots = 2 * cap;
	if ((r->slots = calloc(r->nslots, sizeof(*r->slots))) == NULL) {
		free(r);
		return KW_ERR_NOMEM;
	}
	*ret = r;
	return 0;
}

void
kw_replay_free(struct kw_replay *r)
{
	if (r == NULL)
		return;
	free(r->slots);
	free(r);
}

static size_t
slot_of(const struct kw_replay *r, const uint8_t id[KW_REPLAY_ID_LEN])
{
	uint64_t h;

	memcpy(&h, id, sizeof(h));    /* ids are random or digests: uniform */
	return (size_t)(h % r->nslots);
}

/* Rebuild the table without expired entries (linear probing has no delete). */
static void
sweep(struct kw_replay *r, int64_t now)
{
	struct entry *old = r->slots, *n;

	if ((n = calloc(r->nslots, sizeof(*n))) == NULL)
		return;    /* keep the old table: correct, only fuller */
	r->slots = n;
	r->used = 0;
	for (size_t i = 0; i < r->nslots; i++) {
		if (old[i].expiry == 0 || old[i].expiry < now)
			continue;
		size_t s = slot_of(r, old[i].id);
		while (r->slots[s].expiry != 0)
			s = (s + 1) % r->nslots;
		r->slots[s] = old[i];
		r->used++;
	}
	free(old);
}

int
kw_replay_add(struct kw_replay *r, const uint8_t id[static KW_REPLAY_ID_LEN], int64_t expiry,
    int64_t now)
{
	size_t s;

	if (expiry <= 0)
		expiry = 1;
	if (r->used >= r->cap)
		sweep(r, now);
	s = slot_of(r, id);
	while (r->slots[s].expiry != 0) {
		if (memcmp(r->slots[s].id, id, KW_REPLAY_ID_LEN) == 0) {
			if (r->slots[s].expiry >= now)
				return KW_ERR_REPLAY;
			r->slots[s].expiry = expiry;    /* expired entry: reuse the slot */
			return 0;
		}
		s = (s + 1) % r->nslots;
	}
	if (r->used >= r->cap)
		return KW_ERR_UNAVAILABLE;
	memcpy(r->slots[s].id, id, KW_REPLAY_ID_LEN);
	r->slots[s].expiry = expiry;
	r->used++;
	return 0;
}
