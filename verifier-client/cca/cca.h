/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CCA_H
#define CCA_H

/*
 * Arm CCA attestation tokens (docs/verifier-cca.md): the CBOR tag 399
 * collection {44234: platform token, 44241: realm token}, each a COSE_Sign1
 * signed with ES384. The platform token is signed by a CCA Platform
 * Attestation Key (CPAK) the configuration names (there is no public Arm
 * root to pin); the realm token by the Realm Attestation Key (RAK) it
 * carries in claim 44237, which the platform token vouches for: its
 * challenge (claim 10) is the hash of the RAK named by realm claim 44240.
 * Decoding is libcbor's, after a bounded pre-scan (no indefinite lengths,
 * counts no larger than the bytes left, nesting depth capped); every map
 * consumed refuses duplicate keys. No network, no clock.
 */

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "kw_err.h"

#define CCA_MAX_TOKEN (16 * 1024)       /* the whole collection; the example is 2234 bytes */
#define CCA_MAX_DEPTH 8                 /* CBOR nesting (collection → token → claims → sw comps) */
#define CCA_MAX_SW_COMPONENTS 32
#define CCA_MAX_CPAKS 64                /* configured trust anchors */
#define CCA_CHALLENGE_LEN 64            /* the realm challenge: keywarden's binding */
#define CCA_MAX_JWK_FILE 4096

#define CCA_TAG_COLLECTION 399
#define CCA_KEY_PLATFORM 44234
#define CCA_KEY_REALM 44241

/* The configured CPAKs. Read-only once built: cca_verify may run concurrently. */
struct cca_trust;

int cca_trust_new(struct cca_trust **ret) KW_WUR;
/* NULL-safe. */
void cca_trust_free(struct cca_trust *t);

/*
 * Trust one CPAK: a public JWK (kty EC, crv P-384; kw_jwk_import_public's
 * checks). is_test 1 marks a test anchor (the example token's CPAK, an
 * emulator's): claims of tokens it signed carry "root": "test", others
 * "root": "cpak". KW_ERR_INVALID_FORMAT (not a P-384 public JWK),
 * KW_ERR_EXISTS (the same key twice), KW_ERR_TOO_LARGE (more than
 * CCA_MAX_CPAKS), KW_ERR_NOMEM. On failure t is unchanged.
 */
int cca_trust_add_cpak_jwk(struct cca_trust *t, const json_t *jwk, int is_test) KW_WUR;
/* The same from a file holding that JWK (at most CCA_MAX_JWK_FILE bytes); KW_ERR_IO as well. */
int cca_trust_add_cpak_file(struct cca_trust *t, const char *path, int is_test) KW_WUR;
/* The number of CPAKs trusted. */
size_t cca_trust_count(const struct cca_trust *t);

/*
 * Verify a CCA token (the tag 399 collection, len <= CCA_MAX_TOKEN) in this
 * order: CBOR shape (pre-scan, collection, both COSE_Sign1 with protected
 * header {1: -35}), realm and platform claims (parsed, not yet trusted),
 * platform signature by a configured CPAK, realm signature by the RAK of
 * claim 44237, platform challenge == hash of the RAK (algorithm of claim
 * 44240). 0 and new claims
 * (docs/claims.md, "cca"; "report_data" is the realm challenge in hex), or:
 * KW_ERR_TOO_LARGE, KW_ERR_TRUNCATED, KW_ERR_TRAILING, KW_ERR_INVALID_FORMAT
 * (CBOR that is not a token: wrong types, sizes, duplicate or missing
 * claims, indefinite lengths), KW_ERR_UNSUPPORTED (another algorithm or
 * hash), KW_ERR_UNTRUSTED_ROOT (no configured CPAK verifies the platform
 * token), KW_ERR_SIG_INVALID (the realm signature), KW_ERR_MISMATCH (the
 * platform challenge is not the RAK's hash), KW_ERR_NOMEM, KW_ERR_CRYPTO;
 * with a static reason. *ret_claims is not written on failure.
 */
int cca_verify(const struct cca_trust *t, const uint8_t *token, size_t len, json_t **ret_claims,
    const char **reterr_reason) KW_WUR;

/*
 * Everything cca_verify checks before the first signature: the CBOR shape,
 * both tokens' claims, the RAK a point on P-384 (for the fuzz target and
 * cheap shape checks). 0 or cca_verify's parse codes, with a static reason.
 */
int cca_token_check(const uint8_t *token, size_t len, const char **reterr_reason) KW_WUR;

/*
 * The bounded pre-scan alone (for the fuzz target and cca_verify): buf must
 * hold exactly one well-formed CBOR item within the limits above. 0,
 * KW_ERR_TRUNCATED, KW_ERR_TRAILING, KW_ERR_INVALID_FORMAT, KW_ERR_TOO_LARGE.
 */
int cca_cbor_scan(const uint8_t *buf, size_t len) KW_WUR;

/* "secured", "debug", ...: the PSA security lifecycle state name of a lifecycle value. */
const char *cca_lifecycle_name(int64_t lifecycle);

#endif
