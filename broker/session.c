/* SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "kw_b64url.h"
#include "session.h"

struct slot {
	uint8_t id[32];
	struct kw_session s;   /* s.expiry == 0: empty */
};

struct kw_sessions {
	size_t cap, nslots, used;
	struct slot *slots;
};

int
kw_sessions_new(size_t max, struct kw_sessions **ret)
{
	struct kw_sessions *s;

	if (max < 1 || max > 10000000)
		return KW_ERR_INVALID_ARG;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return KW_ERR_NOMEM;
	s->cap = max;
	s->nslots = 2 * max;
	if ((s->slots = calloc(s->nslots, sizeof(*s->slots))) == NULL) {
		free(s);
		return KW_ERR_NOMEM;
	}
	*ret = s;
	return 0;
}

static void
session_clear(struct kw_session *k)
{
	json_decref(k->claims);
	json_decref(k->tee_pubkey);
	OPENSSL_cleanse(k, sizeof(*k));
}

void
kw_sessions_free(struct kw_sessions *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->nslots; i++)
		if (s->slots[i].s.expiry != 0)
			session_clear(&s->slots[i].s);
	free(s->slots);
	free(s);
}

static size_t
slot_of(const struct kw_sessions *s, const uint8_t id[32])
{
	uint64_t h;

	memcpy(&h, id, sizeof(h));    /* ids are uniformly random */
	return (size_t)(h % s->nslots);
}

static void
sweep(struct kw_sessions *s, int64_t now)
{
	struct slot *old = s->slots, *n;

	if ((n = calloc(s->nslots, sizeof(*n))) == NULL)
		return;
	s->slots = n;
	s->used = 0;
	for (size_t i = 0; i < s->nslots; i++) {
		if (old[i].s.expiry == 0)
			continue;
		if (old[i].s.expiry < now) {
			session_clear(&old[i].s);
			continue;
		}
		size_t k = slot_of(s, old[i].id);
		while (s->slots[k].s.expiry != 0)
			k = (k + 1) % s->nslots;
		s->slots[k] = old[i];
		s->used++;
	}
	OPENSSL_cleanse(old, s->nslots * sizeof(*old));
	free(old);
}

int
kw_sessions_put(struct kw_sessions *s, struct kw_session *sess, int64_t now,
    char id[static KW_SESSION_ID_MAX])
{
	uint8_t raw[32];
	char *enc = NULL;
	size_t k;
	int r;

	if (s->used >= s->cap)
		sweep(s, now);
	if (s->used >= s->cap) {
		r = KW_ERR_UNAVAILABLE;
		goto fail;
	}
	if (RAND_bytes(raw, sizeof(raw)) != 1) {
		r = KW_ERR_CRYPTO;
		goto fail;
	}
	if ((r = kw_b64url_encode(raw, sizeof(raw), &enc)) != 0)
		goto fail;
	k = slot_of(s, raw);
	while (s->slots[k].s.expiry != 0)
		k = (k + 1) % s->nslots;
	memcpy(s->slots[k].id, raw, sizeof(raw));
	s->slots[k].s = *sess;    /* owned members transferred */
	memset(sess, 0, sizeof(*sess));
	s->used++;
	memcpy(id, enc, strlen(enc) + 1);
	free(enc);
	return 0;
fail:
	session_clear(sess);
	return r;
}

int
kw_sessions_get(struct kw_sessions *s, const char *id, int64_t now,
    const struct kw_session **ret)
{
	uint8_t raw[32];
	size_t len = 0, k;

	if (id == NULL || kw_b64url_decode(id, strlen(id), raw, sizeof(raw), &len) != 0 ||
	    len != sizeof(raw))
		return KW_ERR_NOT_FOUND;
	k = slot_of(s, raw);
	while (s->slots[k].s.expiry != 0) {
		if (CRYPTO_memcmp(s->slots[k].id, raw, sizeof(raw)) == 0) {
			if (s->slots[k].s.expiry < now)
				return KW_ERR_EXPIRED;
			*ret = &s->slots[k].s;
			return 0;
		}
		k = (k + 1) % s->nslots;
	}
	return KW_ERR_NOT_FOUND;
}
