/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_SESSION_H
#define KW_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "kw_err.h"

/*
 * Attestation results held between /attest and /resource.
 *
 * This is the walking skeleton's short-lived session reference: an opaque
 * 256-bit random handle that names one successful appraisal. It is not a
 * credential for the key itself: every release is encrypted to the TEE key
 * bound into that appraisal's evidence, so a leaked handle yields only a
 * JWE its holder cannot open. The TEE-bound token issue (EAR + DPoP)
 * replaces this module; the rest of the flow stays.
 */
struct kw_sessions;

struct kw_session {
	int64_t expiry;
	json_t *claims;        /* normalized claims (owned) */
	json_t *tee_pubkey;    /* public JWK from runtime-data (owned) */
	char tee_kid[44];      /* RFC 7638 thumbprint of tee_pubkey */
	uint8_t measurement[48];
	int debug;
};

#define KW_SESSION_ID_MAX 64

int kw_sessions_new(size_t max, struct kw_sessions **ret) KW_WUR;
void kw_sessions_free(struct kw_sessions *s);

/*
 * Store sess (its owned members are taken over, also on failure) and
 * return its new handle in id. KW_ERR_UNAVAILABLE when full of live sessions.
 */
int kw_sessions_put(struct kw_sessions *s, struct kw_session *sess, int64_t now,
    char id[static KW_SESSION_ID_MAX]) KW_WUR;

/* Borrowed pointer valid until the next put; KW_ERR_NOT_FOUND / KW_ERR_EXPIRED. */
int kw_sessions_get(struct kw_sessions *s, const char *id, int64_t now,
    const struct kw_session **ret) KW_WUR;

#endif
