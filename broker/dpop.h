/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_DPOP_H
#define KW_DPOP_H

#include <stddef.h>
#include <stdint.h>

#include "challenge.h"
#include "kw_err.h"

/*
 * RFC 9449 proof-of-possession checks for resource requests. A proof is a
 * JWS with header {typ "dpop+jwt", alg "ES256", jwk} and claims htm, htu,
 * iat, jti, ath, nonce. Server nonces are sealed values (challenge.c, label
 * "dpop"), valid for nonce_ttl, reusable within it; jti values are single
 * use: a bounded replay set partitioned by the token key (cnf.jkt), each key
 * holding at most jti_per_key live jti values, so one workload cannot fill
 * the set for the others. A jti is remembered until the proof could no
 * longer be accepted: min(iat + iat_window, now + jti_ttl), jti_ttl being the
 * token lifetime. Verifying records nothing; the caller records the jti with
 * kw_dpop_record once the whole request is known to be valid.
 */
struct kw_dpop;

#define KW_DPOP_IAT_WINDOW_DEFAULT 60
#define KW_DPOP_JTI_PER_KEY_DEFAULT 256

/* A verified proof's jti, for kw_dpop_record. */
struct kw_dpop_jti {
	uint8_t id[16];        /* SHA-256 of the jti string, first KW_REPLAY_ID_LEN bytes */
	uint8_t part[16];      /* SHA-256 of cnf.jkt, first KW_REPLAY_ID_LEN bytes */
	int64_t expiry;
};

int kw_dpop_new(unsigned int nonce_ttl, unsigned int iat_window, unsigned int jti_ttl,
    size_t max_jti, size_t jti_per_key, struct kw_dpop **ret) KW_WUR;
void kw_dpop_free(struct kw_dpop *d);

/* A fresh server nonce for the DPoP-Nonce header. */
int kw_dpop_nonce(struct kw_dpop *d, int64_t now, char out[static KW_CHALLENGE_STR_MAX]) KW_WUR;
/* The nonces' sealing keys from the HSM's seal keys (kw_challenges_set_keys, purpose "dpop"). */
int kw_dpop_set_seal_keys(struct kw_dpop *d, const struct kw_seal_master *keys, size_t n,
    size_t issue) KW_WUR;

/*
 * Verify proof for a request (htm, htu) presenting token whose cnf.jkt is jkt:
 * signature, key binding, claims, nonce, and that the jti was not used and
 * could be recorded. Records nothing. 0 on success with *ret_jti filled.
 * On failure *reterr_why names the check; *reterr_need_nonce is set when the
 * only problem is a missing, foreign or expired nonce (answer use_dpop_nonce
 * with a new DPoP-Nonce). KW_ERR_REPLAY: jti seen before; KW_ERR_BUSY: this
 * token key holds jti_per_key live jti values (the client's own doing, retry
 * later); KW_ERR_UNAVAILABLE: the set is full (the broker's capacity).
 */
int kw_dpop_verify(struct kw_dpop *d, const char *proof, const char *htm, const char *htu,
    const char *token, const char *jkt, int64_t now, struct kw_dpop_jti *ret_jti,
    int *reterr_need_nonce, const char **reterr_why) KW_WUR;

/*
 * Spend a verified jti (call once the request is accepted). 0, KW_ERR_REPLAY,
 * KW_ERR_BUSY, KW_ERR_UNAVAILABLE as above, KW_ERR_EXPIRED (no longer valid).
 */
int kw_dpop_record(struct kw_dpop *d, const struct kw_dpop_jti *jti, int64_t now) KW_WUR;

#endif
