/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_KEYSYNC_H
#define KW_KEYSYNC_H

#include <stddef.h>
#include <stdint.h>

#include "kw_err.h"

/*
 * Keys that every replica sharing one HSM token must agree on (docs/ha.md
 * "Shared keys"): the token-signing keys (kw-token/<n>) and the seal keys
 * (kw-seal/<n>) from which challenges and DPoP nonces are sealed. They are
 * read from the HSM at start, on SIGHUP, and every hsm.key_poll_interval
 * seconds, so a rotation on one replica (or by `keywarden
 * --rotate-token-key` / `--rotate-seal-key`) reaches the others within one
 * interval. Loop thread only.
 */
struct kw_broker;
struct kw_token_keys;

/*
 * A seal key version seals new challenges only once it is this many
 * seconds old beyond the poll interval, so that every replica has read it
 * before the first challenge sealed with it reaches one (clock skew
 * allowance between replicas included).
 */
#define KW_SEAL_ACTIVATE_MARGIN 5

/* Seal keys from the HSM into b->challenges and b->dpop (blocking: start-up). */
int kw_keysync_load_seal(struct kw_broker *b) KW_WUR;
/*
 * The index of keys (oldest first, versions = creation seconds) that seals
 * new challenges at now: the newest that is at least delay seconds old,
 * else the oldest.
 */
size_t kw_keysync_seal_issue(const int64_t *versions, size_t n, int64_t now, unsigned int delay);
/* Ask the HSM for the token keys and the seal keys now (async); why: for the log. */
void kw_keysync_reload(struct kw_broker *b, const char *why);
/*
 * The same, then done(arg) on the loop once both replies are handled
 * (whatever their outcome; at once when neither call could be made). SIGHUP
 * uses it to tell systemd READY=1 after RELOADING=1.
 */
void kw_keysync_reload_then(struct kw_broker *b, const char *why, void (*done)(void *arg),
    void *arg);
/* The poll timer (hsm.key_poll_interval; 0: none). */
int kw_keysync_start(struct kw_broker *b) KW_WUR;
void kw_keysync_stop(struct kw_broker *b);
/*
 * Install ks as the broker's token keys and record what changed against the
 * old ones ("token_key_rotation" audit records). ks is stolen.
 */
void kw_keysync_set_token_keys(struct kw_broker *b, struct kw_token_keys *ks);
/* --rotate-seal-key: a new seal key version in the HSM (blocking); prints it. */
int kw_keysync_rotate_seal(struct kw_broker *b) KW_WUR;

#endif
