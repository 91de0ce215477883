/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared keys across replicas (keysync.h, docs/ha.md "Shared keys"): the
 * token-signing keys and the seal keys are re-read from the HSM token on a
 * timer, so that every broker on the same token signs with the same key,
 * publishes the same JWKS, and opens the challenges and DPoP nonces any of
 * them sealed.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "broker.h"
#include "keysync.h"
#include "metrics.h"
#include "kw_log.h"
#include "kw_util.h"

/* kid is in the set ks (NULL: an empty set). */
static int
token_key_in(const struct kw_token_keys *ks, const char *kid)
{
	for (size_t i = 0; ks != NULL && i < ks->n; i++)
		if (strcmp(ks->k[i].kid, kid) == 0)
			return 1;
	return 0;
}

/* Both sets hold the same kids in the same order. */
static int
token_keys_same(const struct kw_token_keys *a, const struct kw_token_keys *b)
{
	if (a == NULL || b == NULL || a->n != b->n)
		return 0;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->k[i].kid, b->k[i].kid) != 0)
			return 0;
	return 1;
}

void
kw_keysync_set_token_keys(struct kw_broker *b, struct kw_token_keys *ks)
{
	const struct kw_token_keys *old = b->token_keys;

	/* a "token_key_rotation" record for every key new in ks and every key gone from it */
	for (size_t i = 0; i < ks->n; i++)
		if (!token_key_in(old, ks->k[i].kid))
			kw_audit_note(b, AUDIT_KIND_TOKEN_KEY_ROTATION, json_pack("{s:s, s:s, s:s, s:I}",
			    "kid", ks->k[i].kid, "action", "new", "label", ks->k[i].label, "created",
			    (json_int_t)ks->k[i].created));
	for (size_t i = 0; old != NULL && i < old->n; i++)
		if (!token_key_in(ks, old->k[i].kid))
			kw_audit_note(b, AUDIT_KIND_TOKEN_KEY_ROTATION, json_pack("{s:s, s:s, s:s}",
			    "kid", old->k[i].kid, "action", "destroy", "label", old->k[i].label));
	kw_token_keys_free(b->token_keys);
	b->token_keys = ks;    /* stolen */
	kw_metrics_token_key(kw_token_keys_active(ks) != NULL ? kw_token_keys_active(ks)->created : 0);
}

size_t
kw_keysync_seal_issue(const int64_t *versions, size_t n, int64_t now, unsigned int delay)
{
	for (size_t i = n; i > 0; i--)
		if (versions[i - 1] <= now - (int64_t)delay)
			return i - 1;
	return 0;
}

/* Seconds a new seal key waits before it seals (0 without polling: one broker, or SIGHUP). */
static unsigned int
seal_delay(const struct kw_broker *b)
{
	return b->cfg->hsm_key_poll_interval == 0 ? 0 :
	    b->cfg->hsm_key_poll_interval + KW_SEAL_ACTIVATE_MARGIN;
}

/* The seal keys of a "seal_keys" reply into the challenges and the DPoP nonces. */
static int
apply_seal(struct kw_broker *b, const struct hsm_result *res, const char *why)
{
	struct kw_seal_master m[KW_SEAL_KEYS_MAX];
	int64_t v[KW_SEAL_KEYS_MAX];
	uint32_t before = kw_challenges_version(b->challenges);
	size_t n = res->u.seal_keys.n, issue;
	int r;

	if (n == 0 || n > KW_SEAL_KEYS_MAX)
		return KW_ERR_HSM;
	for (size_t i = 0; i < n; i++) {
		m[i].version = (uint32_t)res->u.seal_keys.k[i].version;
		memcpy(m[i].key, res->u.seal_keys.k[i].key, KW_SEAL_MASTER_LEN);
		v[i] = res->u.seal_keys.k[i].version;
	}
	issue = kw_keysync_seal_issue(v, n, kw_broker_now(), seal_delay(b));
	if ((r = kw_challenges_set_keys(b->challenges, "challenge", m, n, issue)) == 0)
		r = kw_dpop_set_seal_keys(b->dpop, m, n, issue);
	OPENSSL_cleanse(m, sizeof(m));
	if (r != 0)
		return r;
	if (before != m[issue].version || why == NULL)
		kw_log_info("%s%sseal key version %u seals new challenges and DPoP nonces "
		    "(%zu version(s) accepted, newest %u)", why != NULL ? why : "",
		    why != NULL ? ": " : "", (unsigned)v[issue], n, (unsigned)v[n - 1]);
	return 0;
}

int
kw_keysync_load_seal(struct kw_broker *b)
{
	struct hsm_result *res = NULL;
	int r;

	if ((r = hsm_client_call_sync(b->hsm, &(struct hsm_args){.op = HSM_OP_SEAL_KEYS},
	    &res)) != 0)
		return r;
	r = apply_seal(b, res, NULL);
	hsm_result_free(res);
	return r;
}

struct reload {
	struct kw_broker *b;
	const char *why;   /* a string literal */
	unsigned int pending;             /* HSM replies still to come */
	void (*done)(void *arg);          /* called when pending drops to 0 (NULL: none) */
	void *done_arg;
};

/* One of a reload's replies has been handled. */
static void
reload_step(struct reload *rl)
{
	if (rl->pending > 0 && --rl->pending == 0 && rl->done != NULL)
		rl->done(rl->done_arg);
}

static void
token_keys_reloaded(int r, const struct hsm_result *res, void *arg)
{
	struct reload *rl = arg;
	struct kw_token_keys *ks = NULL;

	if (r != 0 ||
	    (r = kw_token_keys_from_hsm(res->u.token_keys.k, res->u.token_keys.n, &ks)) != 0 ||
	    ks->n == 0) {
		kw_log_err_r(r != 0 ? r : KW_ERR_NOT_FOUND, "%s: cannot reload the token keys; "
		    "keeping the current ones", rl->why);
		kw_token_keys_free(ks);
		reload_step(rl);
		return;
	}
	if (token_keys_same(rl->b->token_keys, ks)) {
		kw_token_keys_free(ks);
		/* unchanged: only SIGHUP says again which key signs (the poll may have been first) */
		if (strcmp(rl->why, "SIGHUP") != 0) {
			reload_step(rl);
			return;
		}
		ks = rl->b->token_keys;
	} else {
		kw_keysync_set_token_keys(rl->b, ks);
	}
	/* the kid is the key's RFC 7638 thumbprint: public */
	kw_log_info("%s: token-signing key is now %s (%zu key(s))", rl->why,
	    kw_token_keys_active(ks)->kid, ks->n);
	reload_step(rl);
}

static void
seal_keys_reloaded(int r, const struct hsm_result *res, void *arg)
{
	struct reload *rl = arg;

	if (r == 0)
		r = apply_seal(rl->b, res, rl->why);
	if (r != 0)
		kw_log_err_r(r, "%s: cannot reload the seal keys; keeping the current ones", rl->why);
	reload_step(rl);
}

void
kw_keysync_reload_then(struct kw_broker *b, const char *why, void (*done)(void *arg), void *arg)
{
	/* one per reason (the callbacks only read it): SIGHUP or the poll */
	static struct reload hup, poll;
	struct reload *rl = strcmp(why, "SIGHUP") == 0 ? &hup : &poll;

	rl->b = b;
	rl->why = why;
	rl->done = done;         /* a reload still running finishes into the newest one's */
	rl->done_arg = arg;
	rl->pending += 3;        /* two replies, and this function's own step below */
	if (hsm_client_token_keys(b->hsm, token_keys_reloaded, rl) != 0) {
		kw_log_err("%s: cannot ask the HSM helper for the token keys", why);
		rl->pending--;
	}
	if (hsm_client_call(b->hsm, &(struct hsm_args){.op = HSM_OP_SEAL_KEYS}, seal_keys_reloaded,
	    rl) != 0) {
		kw_log_err("%s: cannot ask the HSM helper for the seal keys", why);
		rl->pending--;
	}
	reload_step(rl);
}

void
kw_keysync_reload(struct kw_broker *b, const char *why)
{
	kw_keysync_reload_then(b, why, NULL, NULL);
}

static void
on_poll(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	kw_keysync_reload(arg, "key poll");
}

int
kw_keysync_start(struct kw_broker *b)
{
	struct timeval tv = {.tv_sec = (time_t)b->cfg->hsm_key_poll_interval};

	if (b->cfg->hsm_key_poll_interval == 0)
		return 0;
	if ((b->key_poll = event_new(b->base, -1, EV_PERSIST, on_poll, b)) == NULL ||
	    event_add(b->key_poll, &tv) != 0)
		return KW_ERR_NOMEM;
	return 0;
}

void
kw_keysync_stop(struct kw_broker *b)
{
	if (b->key_poll != NULL)
		event_free(b->key_poll);
	b->key_poll = NULL;
}

int
kw_keysync_rotate_seal(struct kw_broker *b)
{
	struct hsm_result *res = NULL;
	int r;

	if ((r = hsm_client_call_sync(b->hsm, &(struct hsm_args){.op = HSM_OP_SEAL_KEY_NEW},
	    &res)) != 0)
		return r;
	printf("keywarden: new seal key version %lld; brokers seal with it %u s after its "
	    "creation and accept the %d newest versions\n", (long long)res->u.seal_key_new.version,
	    seal_delay(b), KW_SEAL_KEYS_MAX);
	hsm_result_free(res);
	return 0;
}
