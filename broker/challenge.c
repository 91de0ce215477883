/* SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "challenge.h"
#include "kw_b64url.h"
#include "kw_secret.h"

struct used_entry {
	uint8_t id[16];   /* first 16 bytes of rand: 128 bits, collision-free in practice */
	int64_t expiry;   /* 0 = empty slot */
};

struct kw_challenges {
	struct kw_secret *key;
	unsigned int ttl;
	size_t cap;       /* live entries allowed */
	size_t nslots;    /* 2 * cap, open addressing */
	size_t used;
	struct used_entry *slots;
};

int
kw_challenges_new(unsigned int ttl, size_t max_used, struct kw_challenges **ret)
{
	struct kw_challenges *c;
	int r;

	if (ttl == 0 || max_used < 1 || max_used > 100000000)
		return KW_ERR_INVALID_ARG;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return KW_ERR_NOMEM;
	c->ttl = ttl;
	c->cap = max_used;
	c->nslots = 2 * max_used;
	if ((c->slots = calloc(c->nslots, sizeof(*c->slots))) == NULL) {
		free(c);
		return KW_ERR_NOMEM;
	}
	if ((r = kw_secret_new(32, &c->key)) != 0 ||
	    RAND_priv_bytes(kw_secret_ptr(c->key), 32) != 1) {
		kw_challenges_free(c);
		return r != 0 ? r : KW_ERR_CRYPTO;
	}
	*ret = c;
	return 0;
}

void
kw_challenges_free(struct kw_challenges *c)
{
	if (c == NULL)
		return;
	kw_secret_free(c->key);
	free(c->slots);
	free(c);
}

static int
mac(const struct kw_challenges *c, const char *tee, const uint8_t *body, size_t bodylen,
    uint8_t out[32])
{
	static const char label[] = "kw-challenge-v1";
	uint8_t zero = 0;
	size_t outlen = 32;
	EVP_MAC *m = NULL;
	EVP_MAC_CTX *ctx = NULL;
	OSSL_PARAM params[2];
	int r = KW_ERR_CRYPTO;

	params[0] = OSSL_PARAM_construct_utf8_string("digest", (char *)(uintptr_t)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if ((m = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL ||
	    (ctx = EVP_MAC_CTX_new(m)) == NULL ||
	    !EVP_MAC_init(ctx, kw_secret_cptr(c->key), kw_secret_len(c->key), params) ||
	    !EVP_MAC_update(ctx, (const uint8_t *)label, sizeof(label) - 1) ||
	    !EVP_MAC_update(ctx, (const uint8_t *)tee, strlen(tee)) ||
	    !EVP_MAC_update(ctx, &zero, 1) ||
	    !EVP_MAC_update(ctx, body, bodylen) ||
	    !EVP_MAC_final(ctx, out, &outlen, 32) || outlen != 32)
		goto out;
	r = 0;
out:
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(m);
	return r;
}

int
kw_challenge_issue(struct kw_challenges *c, const char *tee, int64_t now,
    char out[static KW_CHALLENGE_STR_MAX])
{
	uint8_t raw[KW_CHALLENGE_RAW_LEN];
	uint64_t exp = (uint64_t)(now + c->ttl);
	char *s = NULL;
	int r;

	raw[0] = 1;
	for (int i = 0; i < 8; i++)
		raw[1 + i] = (uint8_t)(exp >> (56 - 8 * i));
	if (RAND_bytes(raw + 9, KW_CHALLENGE_RAND_LEN) != 1)
		return KW_ERR_CRYPTO;
	if ((r = mac(c, tee, raw, 9 + KW_CHALLENGE_RAND_LEN, raw + 9 + KW_CHALLENGE_RAND_LEN)) != 0)
		return r;
	if ((r = kw_b64url_encode(raw, sizeof(raw), &s)) != 0)
		return r;
	if (strlen(s) >= KW_CHALLENGE_STR_MAX) {
		free(s);
		return KW_ERR_INTERNAL;
	}
	memcpy(out, s, strlen(s) + 1);
	free(s);
	return 0;
}

static size_t
slot_of(const struct kw_challenges *c, const uint8_t id[16])
{
	uint64_t h = 0;

	memcpy(&h, id, sizeof(h));    /* id is uniformly random */
	return (size_t)(h % c->nslots);
}

/* Rebuild the table without expired entries. */
static void
sweep(struct kw_challenges *c, int64_t now)
{
	struct used_entry *old = c->slots, *n;

	if ((n = calloc(c->nslots, sizeof(*n))) == NULL) {
		/* Out of memory: drop expired entries in place is unsafe with
		 * linear probing, so keep the table as it is. */
		return;
	}
	c->slots = n;
	c->used = 0;
	for (size_t i = 0; i < c->nslots; i++) {
		if (old[i].expiry == 0 || old[i].expiry < now)
			continue;
		size_t s = slot_of(c, old[i].id);
		while (c->slots[s].expiry != 0)
			s = (s + 1) % c->nslots;
		c->slots[s] = old[i];
		c->used++;
	}
	free(old);
}

int
kw_challenge_consume(struct kw_challenges *c, const char *tee, const char *s, int64_t now)
{
	uint8_t raw[KW_CHALLENGE_RAW_LEN], want[32];
	size_t len = 0, slot;
	uint64_t exp = 0;
	int r;

	if (s == NULL || kw_b64url_decode(s, strlen(s), raw, sizeof(raw), &len) != 0 ||
	    len != sizeof(raw) || raw[0] != 1)
		return KW_ERR_INVALID_FORMAT;
	if ((r = mac(c, tee, raw, 9 + KW_CHALLENGE_RAND_LEN, want)) != 0)
		return r;
	if (CRYPTO_memcmp(want, raw + 9 + KW_CHALLENGE_RAND_LEN, 32) != 0)
		return KW_ERR_INVALID_FORMAT;
	for (int i = 0; i < 8; i++)
		exp = (exp << 8) | raw[1 + i];
	if (exp > INT64_MAX || (int64_t)exp < now)
		return KW_ERR_EXPIRED;
	if (c->used >= c->cap)
		sweep(c, now);
	slot = slot_of(c, raw + 9);
	while (c->slots[slot].expiry != 0) {
		if (memcmp(c->slots[slot].id, raw + 9, 16) == 0)
			return KW_ERR_REPLAY;
		slot = (slot + 1) % c->nslots;
	}
	if (c->used >= c->cap)
		return KW_ERR_UNAVAILABLE;
	memcpy(c->slots[slot].id, raw + 9, 16);
	c->slots[slot].expiry = (int64_t)exp;
	c->used++;
	return 0;
}
