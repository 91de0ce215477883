/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_CHALLENGE_H
#define KW_CHALLENGE_H

#include <stddef.h>
#include <stdint.h>

#include "kw_err.h"

/*
 * Sealed, single-use attestation challenges (the /auth nonce).
 *
 * A challenge is base64url(ver ‖ expiry ‖ rand ‖ mac): ver = 1 (1 byte),
 * expiry = be64 seconds, rand = 32 bytes from the CSPRNG, mac =
 * HMAC-SHA-256(K, "kw-challenge-v1" ‖ tee ‖ 0x00 ‖ ver ‖ expiry ‖ rand).
 * K is random per broker start and never leaves this module. Issuing keeps
 * no state, so /auth floods cannot exhaust memory; consuming one records
 * rand in a bounded replay set until its expiry.
 */
struct kw_challenges;

#define KW_CHALLENGE_RAND_LEN 32
#define KW_CHALLENGE_RAW_LEN (1 + 8 + KW_CHALLENGE_RAND_LEN + 32)
#define KW_CHALLENGE_STR_MAX 128

int kw_challenges_new(unsigned int ttl, size_t max_used, struct kw_challenges **ret) KW_WUR;
void kw_challenges_free(struct kw_challenges *c);

/* Issue a challenge for tee (e.g. "snp") at time now into out (NUL-terminated). */
int kw_challenge_issue(struct kw_challenges *c, const char *tee, int64_t now,
    char out[static KW_CHALLENGE_STR_MAX]) KW_WUR;

/*
 * Check and consume: KW_ERR_INVALID_FORMAT (not ours / forged / other tee),
 * KW_ERR_EXPIRED, KW_ERR_REPLAY (already used), KW_ERR_UNAVAILABLE (replay
 * set full of live entries: shed load). 0 means fresh and now used up.
 */
int kw_challenge_consume(struct kw_challenges *c, const char *tee, const char *s, int64_t now) KW_WUR;

/* Check MAC, TEE label and expiry without consuming (multi-use nonces: DPoP). */
int kw_challenge_verify(struct kw_challenges *c, const char *tee, const char *s, int64_t now) KW_WUR;

#endif
