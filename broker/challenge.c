/* SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "challenge.h"
#include "kw_b64url.h"
#include "kw_rd.h"
#include "kw_secret.h"
#include "replay.h"

_Static_assert(sizeof(((struct kw_challenge_ticket *)0)->id) == KW_REPLAY_ID_LEN &&
    KW_CHALLENGE_RAND_LEN >= KW_REPLAY_ID_LEN, "a ticket holds a replay-set id");

struct seal_ver {
	uint32_t version;
	struct kw_secret *key;
	struct kw_secret *state_key;   /* kw_challenge_key's K2 */
};

struct kw_challenges {
	struct seal_ver keys[KW_SEAL_KEYS_MAX];
	size_t n_keys, issue;      /* keys[issue] seals new challenges */
	EVP_MAC *hmac;             /* fetched once; a context per MAC */
	unsigned int ttl;
	struct kw_replay *used;    /* NULL for verify-only instances */
};

/* The sealed layout (challenge.h): offsets of its fields. */
#define CH_VERSION 2
#define CH_BODY_LEN (1 + 4 + 8 + KW_CHALLENGE_RAND_LEN)      /* what the MAC covers */

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
	c->n_keys = 1;
	if ((r = kw_replay_new(max_used, 0, ttl, &c->used)) != 0 ||
	    (r = kw_secret_new(32, &c->keys[0].key)) != 0 ||
	    RAND_priv_bytes(kw_secret_ptr(c->keys[0].key), 32) != 1 ||
	    (r = kw_secret_new(32, &c->keys[0].state_key)) != 0 ||
	    RAND_priv_bytes(kw_secret_ptr(c->keys[0].state_key), 32) != 1 ||
	    (c->hmac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL) {
		kw_challenges_free(c);
		return r != 0 ? r : KW_ERR_CRYPTO;
	}
	*ret = c;
	return 0;
}

void
kw_challenges_set_metrics(struct kw_challenges *c, int set)
{
	kw_replay_set_metrics(c->used, set);
}

void
kw_challenges_free(struct kw_challenges *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < KW_SEAL_KEYS_MAX; i++) {
		kw_secret_free(c->keys[i].key);
		kw_secret_free(c->keys[i].state_key);
	}
	EVP_MAC_free(c->hmac);
	kw_replay_free(c->used);
	free(c);
}

static int
mac_keyed(const struct kw_challenges *c, const struct kw_secret *key, const char *label, const char *tee,
    const uint8_t *body, size_t bodylen, uint8_t out[static 32])
{
	uint8_t zero = 0;
	size_t outlen = 32;
	EVP_MAC_CTX *ctx = NULL;
	OSSL_PARAM params[2];
	int r = KW_ERR_CRYPTO;

	params[0] = OSSL_PARAM_construct_utf8_string("digest", (char *)(uintptr_t)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if ((ctx = EVP_MAC_CTX_new(c->hmac)) == NULL ||
	    !EVP_MAC_init(ctx, kw_secret_cptr(key), kw_secret_len(key), params) ||
	    !EVP_MAC_update(ctx, (const uint8_t *)label, strlen(label)) ||
	    !EVP_MAC_update(ctx, (const uint8_t *)tee, strlen(tee)) ||
	    !EVP_MAC_update(ctx, &zero, 1) ||
	    !EVP_MAC_update(ctx, body, bodylen) ||
	    !EVP_MAC_final(ctx, out, &outlen, 32) || outlen != 32)
		goto out;
	r = 0;
out:
	EVP_MAC_CTX_free(ctx);
	return r;
}

/* The keys of version kv, or NULL (not one we hold). */
static const struct seal_ver *
find_ver(const struct kw_challenges *c, uint32_t kv)
{
	for (size_t i = 0; i < c->n_keys; i++)
		if (c->keys[i].version == kv)
			return &c->keys[i];
	return NULL;
}

static int
mac(const struct kw_challenges *c, const struct seal_ver *k, const char *tee, const uint8_t *body,
    size_t bodylen, uint8_t out[static 32])
{
	return mac_keyed(c, k->key, "kw-challenge-v1", tee, body, bodylen, out);
}

/* HMAC-SHA-256(master, "kw-seal/" purpose suffix) into a new secret. */
static int
derive(const struct kw_challenges *c, const uint8_t *master, const char *purpose,
    const char *suffix, struct kw_secret **ret)
{
	struct kw_secret *k = NULL;
	EVP_MAC_CTX *ctx = NULL;
	OSSL_PARAM params[2];
	size_t outlen = 32;
	int r;

	params[0] = OSSL_PARAM_construct_utf8_string("digest", (char *)(uintptr_t)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if ((r = kw_secret_new(32, &k)) != 0)
		return r;
	r = KW_ERR_CRYPTO;
	if ((ctx = EVP_MAC_CTX_new(c->hmac)) == NULL ||
	    !EVP_MAC_init(ctx, master, KW_SEAL_MASTER_LEN, params) ||
	    !EVP_MAC_update(ctx, (const uint8_t *)"kw-seal/", 8) ||
	    !EVP_MAC_update(ctx, (const uint8_t *)purpose, strlen(purpose)) ||
	    !EVP_MAC_update(ctx, (const uint8_t *)suffix, strlen(suffix)) ||
	    !EVP_MAC_final(ctx, kw_secret_ptr(k), &outlen, 32) || outlen != 32)
		goto out;
	*ret = k;
	k = NULL;    /* transferred */
	r = 0;
out:
	EVP_MAC_CTX_free(ctx);
	kw_secret_free(k);
	return r;
}

int
kw_challenges_set_keys(struct kw_challenges *c, const char *purpose,
    const struct kw_seal_master *keys, size_t n, size_t issue)
{
	struct seal_ver nk[KW_SEAL_KEYS_MAX];
	int r = 0;

	if (purpose == NULL || n == 0 || n > KW_SEAL_KEYS_MAX || issue >= n)
		return KW_ERR_INVALID_ARG;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < i; j++)
			if (keys[i].version == keys[j].version)
				return KW_ERR_INVALID_ARG;
	memset(nk, 0, sizeof(nk));
	for (size_t i = 0; i < n && r == 0; i++) {
		nk[i].version = keys[i].version;
		if ((r = derive(c, keys[i].key, purpose, "/mac", &nk[i].key)) == 0)
			r = derive(c, keys[i].key, purpose, "/state", &nk[i].state_key);
	}
	if (r != 0) {
		for (size_t i = 0; i < n; i++) {
			kw_secret_free(nk[i].key);
			kw_secret_free(nk[i].state_key);
		}
		return r;
	}
	for (size_t i = 0; i < KW_SEAL_KEYS_MAX; i++) {
		kw_secret_free(c->keys[i].key);
		kw_secret_free(c->keys[i].state_key);
		c->keys[i] = nk[i];    /* transferred (zero beyond n) */
	}
	c->n_keys = n;
	c->issue = issue;
	return 0;
}

uint32_t
kw_challenges_version(const struct kw_challenges *c)
{
	return c->keys[c->issue].version;
}

int
kw_challenge_issue(struct kw_challenges *c, const char *tee, int64_t now,
    char out[static KW_CHALLENGE_STR_MAX])
{
	uint8_t raw[KW_CHALLENGE_RAW_LEN];
	uint64_t exp = (uint64_t)(now + c->ttl);
	const struct seal_ver *k = &c->keys[c->issue];
	char *s = NULL;
	int r;

	raw[0] = CH_VERSION;
	for (int i = 0; i < 4; i++)
		raw[1 + i] = (uint8_t)(k->version >> (24 - 8 * i));    /* big-endian key version */
	for (int i = 0; i < 8; i++)
		raw[5 + i] = (uint8_t)(exp >> (56 - 8 * i));    /* big-endian expiry */
	if (RAND_bytes(raw + 13, KW_CHALLENGE_RAND_LEN) != 1)
		return KW_ERR_CRYPTO;
	if ((r = mac(c, k, tee, raw, CH_BODY_LEN, raw + CH_BODY_LEN)) != 0)
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

/*
 * Decode s through the bounded reader, check its MAC (constant time) and
 * expiry; on success *ret_rand points into raw at the 32 random bytes.
 */
static int
open_sealed(struct kw_challenges *c, const char *tee, const char *s, int64_t now,
    uint8_t raw[static KW_CHALLENGE_RAW_LEN], const uint8_t **ret_rand, int64_t *ret_exp,
    const struct seal_ver **ret_key)
{
	const struct seal_ver *k;
	const uint8_t *rnd, *tag;
	uint8_t want[32], ver;
	uint32_t kv;
	uint64_t exp;
	struct kw_rd rd;
	size_t len = 0;
	int r;

	if (s == NULL || kw_b64url_decode(s, strlen(s), raw, KW_CHALLENGE_RAW_LEN, &len) != 0)
		return KW_ERR_INVALID_FORMAT;
	kw_rd_init(&rd, raw, len);
	if (kw_rd_u8(&rd, &ver) != 0 || ver != CH_VERSION || kw_rd_u32be(&rd, &kv) != 0 ||
	    kw_rd_u64be(&rd, &exp) != 0 ||
	    kw_rd_bytes(&rd, KW_CHALLENGE_RAND_LEN, &rnd) != 0 || kw_rd_bytes(&rd, 32, &tag) != 0 ||
	    kw_rd_end(&rd) != 0)
		return KW_ERR_INVALID_FORMAT;
	if ((k = find_ver(c, kv)) == NULL)
		return KW_ERR_INVALID_FORMAT;    /* not sealed by a key we hold */
	if ((r = mac(c, k, tee, raw, CH_BODY_LEN, want)) != 0)
		return r;
	if (CRYPTO_memcmp(want, tag, sizeof(want)) != 0)
		return KW_ERR_INVALID_FORMAT;
	if (exp > INT64_MAX || (int64_t)exp < now)
		return KW_ERR_EXPIRED;
	*ret_rand = rnd;
	*ret_exp = (int64_t)exp;
	*ret_key = k;
	return 0;
}

int
kw_challenge_verify(struct kw_challenges *c, const char *tee, const char *s, int64_t now)
{
	uint8_t raw[KW_CHALLENGE_RAW_LEN];
	const struct seal_ver *k;
	const uint8_t *rnd;
	int64_t exp;

	return open_sealed(c, tee, s, now, raw, &rnd, &exp, &k);
}

int
kw_challenge_key(struct kw_challenges *c, const char *tee, const char *s, int64_t now,
    uint8_t ret_key[static KW_CHALLENGE_KEY_SIZE])
{
	uint8_t raw[KW_CHALLENGE_RAW_LEN], k[32];
	const struct seal_ver *sk;
	const uint8_t *rnd;
	int64_t exp;
	int r;

	if ((r = open_sealed(c, tee, s, now, raw, &rnd, &exp, &sk)) != 0)
		return r;
	/* distinct label, distinct key: neither MAC tells anything about the other */
	if ((r = mac_keyed(c, sk->state_key, "kw-challenge-key-v1", tee, raw, CH_BODY_LEN, k)) != 0)
		return r;
	memcpy(ret_key, k, sizeof(k));
	OPENSSL_cleanse(k, sizeof(k));
	return 0;
}

int
kw_challenge_check(struct kw_challenges *c, const char *tee, const char *s, int64_t now,
    struct kw_challenge_ticket *ret_ticket)
{
	uint8_t raw[KW_CHALLENGE_RAW_LEN];
	const struct seal_ver *k;
	const uint8_t *rnd;
	int64_t exp;
	int r;

	if ((r = open_sealed(c, tee, s, now, raw, &rnd, &exp, &k)) != 0)
		return r;
	if ((r = kw_replay_check(c->used, rnd, NULL, now)) != 0)
		return r == KW_ERR_INVALID_ARG ? KW_ERR_EXPIRED : r;
	memcpy(ret_ticket->id, rnd, sizeof(ret_ticket->id));
	ret_ticket->expiry = exp;
	return 0;
}

int
kw_challenge_record(struct kw_challenges *c, const struct kw_challenge_ticket *t, int64_t now)
{
	int r = kw_replay_add(c->used, t->id, NULL, t->expiry, now);

	return r == KW_ERR_INVALID_ARG ? KW_ERR_EXPIRED : r;
}

int
kw_challenge_consume(struct kw_challenges *c, const char *tee, const char *s, int64_t now)
{
	struct kw_challenge_ticket t;
	int r;

	if ((r = kw_challenge_check(c, tee, s, now, &t)) != 0)
		return r;
	return kw_challenge_record(c, &t, now);
}
