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
 * use (a bounded replay set; entries live as long as a token can).
 */
struct kw_dpop;

#define KW_DPOP_IAT_WINDOW_DEFAULT 60

int kw_dpop_new(unsigned int nonce_ttl, unsigned int iat_window, unsigned int jti_ttl,
    size_t max_jti, struct kw_dpop **ret) KW_WUR;
void kw_dpop_free(struct kw_dpop *d);

/* A fresh server nonce for the DPoP-Nonce header. */
int kw_dpop_nonce(struct kw_dpop *d, int64_t now, char out[static KW_CHALLENGE_STR_MAX]) KW_WUR;

/*
 * Verify proof for a request (htm, htu) presenting token whose cnf.jkt is jkt.
 * 0 on success (the jti is now used). On failure *reterr_why names the check;
 * *reterr_need_nonce is set when the only problem is a missing, foreign or
 * expired nonce (answer use_dpop_nonce with a new DPoP-Nonce).
 */
int kw_dpop_verify(struct kw_dpop *d, const char *proof, const char *htm, const char *htu,
    const char *token, const char *jkt, int64_t now, int *reterr_need_nonce,
    const char **reterr_why) KW_WUR;

#endif
