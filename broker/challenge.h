/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_CHALLENGE_H
#define KW_CHALLENGE_H

#include <stddef.h>
#include <stdint.h>

#include "kw_err.h"

/*
 * Sealed, single-use attestation challenges (the /auth nonce).
 *
 * A challenge is base64url(ver ‖ kv ‖ expiry ‖ rand ‖ mac): ver = 2 (1 byte),
 * kv = be32 version of the sealing key, expiry = be64 seconds, rand = 32
 * bytes from the CSPRNG, mac = HMAC-SHA-256(K_kv, "kw-challenge-v1" ‖ tee ‖
 * 0x00 ‖ ver ‖ kv ‖ expiry ‖ rand). K_0 is random per instance; with
 * kw_challenges_set_keys the keys are derived from the HSM's seal keys
 * (docs/ha.md "Shared keys"), so every replica opens what another issued,
 * and a rotation keeps the older versions that were handed in. Issuing keeps
 * no state, so /auth floods cannot exhaust memory. Using one is two steps:
 * kw_challenge_check before the (expensive) appraisal records nothing, and
 * kw_challenge_record after it succeeded puts rand in a bounded replay set
 * until its expiry. So only evidence that verifies spends a challenge, and
 * garbage cannot fill the set. Loop thread only (the set is not locked, and
 * record is where two appraisals of one challenge are decided: one wins).
 */
struct kw_challenges;

#define KW_CHALLENGE_RAND_LEN 32
#define KW_CHALLENGE_RAW_LEN (1 + 4 + 8 + KW_CHALLENGE_RAND_LEN + 32)
#define KW_SEAL_KEYS_MAX 3     /* versions accepted at once (hsm_proto.h HSM_SEAL_KEYS_MAX) */
#define KW_SEAL_MASTER_LEN 32

/* A seal key version and the 32 bytes the HSM derived from it (hsm_proto.h "seal_keys"). */
struct kw_seal_master {
	uint32_t version;
	uint8_t key[KW_SEAL_MASTER_LEN];
};
#define KW_CHALLENGE_STR_MAX 128

int kw_challenges_new(unsigned int ttl, size_t max_used, struct kw_challenges **ret) KW_WUR;
/* A challenge that passed kw_challenge_check: what kw_challenge_record records. */
struct kw_challenge_ticket {
	uint8_t id[16];        /* the first KW_REPLAY_ID_LEN bytes of rand */
	int64_t expiry;
};
/* Publish the used-challenge set as a single-use gauge (kw_replay_set_metrics). */
void kw_challenges_set_metrics(struct kw_challenges *c, int set);
void kw_challenges_free(struct kw_challenges *c);

/* Issue a challenge for tee (e.g. "snp") at time now into out (NUL-terminated). */
int kw_challenge_issue(struct kw_challenges *c, const char *tee, int64_t now,
    char out[static KW_CHALLENGE_STR_MAX]) KW_WUR;

/*
 * Check without consuming: MAC and TEE label, expiry, not used yet, and room
 * in the replay set. KW_ERR_INVALID_FORMAT (not ours / forged / other tee),
 * KW_ERR_EXPIRED, KW_ERR_REPLAY (already used), KW_ERR_UNAVAILABLE (replay
 * set full of live entries: shed load). On 0, *ret_ticket is filled.
 */
int kw_challenge_check(struct kw_challenges *c, const char *tee, const char *s, int64_t now,
    struct kw_challenge_ticket *ret_ticket) KW_WUR;
/*
 * Spend a checked challenge. 0 (used up now), KW_ERR_REPLAY (spent meanwhile,
 * e.g. by a concurrent appraisal of the same challenge), KW_ERR_EXPIRED
 * (it expired during the appraisal), KW_ERR_UNAVAILABLE (set full).
 */
int kw_challenge_record(struct kw_challenges *c, const struct kw_challenge_ticket *t,
    int64_t now) KW_WUR;
/* check + record in one step (0 means fresh and now used up). */
int kw_challenge_consume(struct kw_challenges *c, const char *tee, const char *s, int64_t now) KW_WUR;

#define KW_CHALLENGE_KEY_SIZE 32

/*
 * The challenge's secret for verifier members with an /auth step
 * (verifier.h, struct kw_auth_step): HMAC-SHA-256(K2, "kw-challenge-key-v1"
 * ‖ tee ‖ 0x00 ‖ ver ‖ kv ‖ expiry ‖ rand), K2 a second key of the same
 * version (random, or derived from the HSM's seal key) that never leaves
 * this module. s must open under tee (MAC, expiry:
 * as kw_challenge_verify); nothing is recorded, so /auth stays stateless
 * and the secret is only as good as its challenge: unusable once the
 * challenge is spent, expired, or the broker restarted. 0 and the key in
 * ret_key, or the codes of kw_challenge_verify. Never log the key.
 */
int kw_challenge_key(struct kw_challenges *c, const char *tee, const char *s, int64_t now,
    uint8_t ret_key[static KW_CHALLENGE_KEY_SIZE]) KW_WUR;

/*
 * Replace the sealing keys: n (1..KW_SEAL_KEYS_MAX) versions, each derived
 * as HMAC-SHA-256(master, "kw-seal/" ‖ purpose ‖ "/mac") and ("/state")
 * for kw_challenge_key; purpose separates users of one master ("challenge",
 * "dpop"). New challenges use keys[issue]; all n are accepted. Versions must
 * be distinct. The masters are only read. 0, KW_ERR_INVALID_ARG, or
 * KW_ERR_NOMEM / KW_ERR_CRYPTO (the old keys are then kept).
 */
int kw_challenges_set_keys(struct kw_challenges *c, const char *purpose,
    const struct kw_seal_master *keys, size_t n, size_t issue) KW_WUR;
/* The version new challenges are sealed with (0: the random per-instance key). */
uint32_t kw_challenges_version(const struct kw_challenges *c);

/* Check MAC, TEE label and expiry without consuming (multi-use nonces: DPoP). */
int kw_challenge_verify(struct kw_challenges *c, const char *tee, const char *s, int64_t now) KW_WUR;

#endif
