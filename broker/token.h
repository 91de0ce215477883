/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_TOKEN_H
#define KW_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "kw_b64url.h"
#include "hsm_msg.h"
#include "kw_err.h"

/*
 * EAR attestation results (draft-ietf-rats-ear) as ES256 JWTs whose key
 * lives in the HSM (keywarden-hsm "sign"), bound to the TEE by "cnf.jkt"
 * (RFC 7638 thumbprint of tee-sigkey). Tokens are never bearer tokens: every
 * use needs a DPoP proof (dpop.c). They carry normalized claims and the
 * tee-pubkey (as "ear.veraison.key-attestation".akpub, SPKI DER), never a
 * secret or raw evidence.
 */

#define KW_EAR_PROFILE "tag:github.com,2023:veraison/ear"
#define KW_TOKEN_TTL_MAX 300
#define KW_TOKEN_LABEL_PREFIX "kw-token/"

struct kw_token_key {
	char label[64];
	char kid[KW_B64URL_SHA256_SIZE];
	int64_t created;
	EVP_PKEY *pub;
	json_t *jwk;
};

/* The HSM's token keys, oldest first; the newest signs. */
struct kw_token_keys {
	size_t n;
	struct kw_token_key *k;
};

/*
 * From the helper's token key entries, oldest first (a decoded "token_keys"
 * reply, hsm_msg.h): each jwk is imported as a P-256 key and its kid
 * recomputed and checked.
 */
int kw_token_keys_from_hsm(const struct hsm_token_key_entry *k, size_t n,
    struct kw_token_keys **ret) KW_WUR;
/* The same from a raw "token_keys" reply object (decoded with hsm_result_decode). */
int kw_token_keys_from_reply(const json_t *reply, struct kw_token_keys **ret) KW_WUR;
void kw_token_keys_free(struct kw_token_keys *ks);
/* The signing key (newest), or NULL when there is none. */
const struct kw_token_key *kw_token_keys_active(const struct kw_token_keys *ks);
/*
 * A key is published (and accepted) while tokens it signed can be alive:
 * the newest always, an older one until its successor is ttl seconds old.
 */
int kw_token_key_published(const struct kw_token_keys *ks, size_t i, int64_t now, unsigned int ttl);
/* {"keys":[...]} of the published keys with "kid", "use":"sig", "alg":"ES256". */
json_t *kw_token_jwks(const struct kw_token_keys *ks, int64_t now, unsigned int ttl);

/*
 * Build the protected header and the claims of an EAR token for one
 * successful appraisal. claims are the verifier's normalized claims (with
 * the broker's "config"); their "tee" names the verifier table entry
 * (verifier.h) whose token claims, vendor root and appraisal policy id are
 * used (KW_ERR_INVALID_ARG for an unknown tee); tee_pubkey and tee_sigkey
 * the runtime-data JWKs. New references in *ret_*.
 */
int kw_ear_build(const json_t *claims, const json_t *tee_pubkey, const json_t *tee_sigkey,
    const char *issuer, const char *kid, int64_t now, unsigned int ttl, json_t **ret_header,
    json_t **ret_payload) KW_WUR;

/*
 * Verify a token: strict compact JWS, header exactly {alg ES256, typ JWT, kid}
 * (no jwk/jku/x5c/crit), kid among the published keys, signature, eat_profile,
 * iss, iat not in the future (60 s skew), exp > now, exp - iat <= KW_TOKEN_TTL_MAX,
 * cnf.jkt and the cpu0 submodule present. *ret_payload is a new reference.
 * Errors: KW_ERR_INVALID_FORMAT, KW_ERR_UNSUPPORTED (alg), KW_ERR_NOT_FOUND
 * (kid), KW_ERR_SIG_INVALID, KW_ERR_EXPIRED, KW_ERR_MISMATCH (iss/profile);
 * *reterr_why says which check failed (for the log).
 */
int kw_token_verify(const struct kw_token_keys *ks, const char *token, size_t len,
    const char *issuer, int64_t now, unsigned int ttl, json_t **ret_payload,
    const char **reterr_why) KW_WUR;

/* What the release rule needs from a verified payload (borrowed pointers). */
struct kw_token_view {
	const char *jkt;
	const json_t *claims;       /* kw.claims */
	char tee_kid[KW_B64URL_SHA256_SIZE];           /* RFC 7638 thumbprint of tee-pubkey (the JWE kid) */
	uint8_t measurement[48];    /* the "measurement" claim (SNP), zero when absent */
	int debug;
	uint8_t *tee_n, *tee_e;     /* the TEE's RSA modulus and exponent, owned: kw_token_view_clear */
	size_t tee_nlen, tee_elen;
};
int kw_token_view(const json_t *payload, struct kw_token_view *ret) KW_WUR;
/* Free what a view owns. NULL-safe. */
void kw_token_view_clear(struct kw_token_view *v);

#endif
