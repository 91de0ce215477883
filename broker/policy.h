/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_POLICY_H
#define KW_POLICY_H

/*
 * The release-policy language (docs/policy.md, docs/policy.schema.json) and
 * reference-value sets. A pure module: no I/O, no clock, no store, no
 * libevent. Documents are jansson values the caller parsed (kw_json_parse);
 * time comes in through struct kw_policy_ctx so tests can inject it.
 * Deny by default: anything the evaluator cannot establish is a denial.
 */

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "kw_err.h"
#include "kw_util.h"

#define KW_POLICY_MAX_BYTES (64 * 1024)      /* compact serialization of a policy */
#define KW_REFVAL_MAX_BYTES (256 * 1024)     /* compact serialization of a refval set */
#define KW_POLICY_MAX_DEPTH 8                /* the "rules" member is depth 1 */
#define KW_POLICY_MAX_RULES 256              /* rule objects (combinators and leaves) */
#define KW_POLICY_MAX_SEGMENTS 8             /* claim path segments */
#define KW_POLICY_MAX_SEGMENT_LEN 64
#define KW_POLICY_MAX_SETS 16                /* names in reference_values.sets */
#define KW_POLICY_MAX_MEASUREMENTS 1024      /* entries in one measurements list */
#define KW_POLICY_MAX_LIST 256               /* digests and TLS name lists */
#define KW_POLICY_MAX_FINGERPRINTS 512       /* allowed root-store fingerprints */

/*
 * Check a policy document. Returns 0, or KW_ERR_INVALID_FORMAT with a
 * one-line reason naming the offending member (e.g. "rules.allOf[2].op:
 * unknown operator") in why (always NUL-terminated when whylen > 0; why may
 * be NULL). Oversized (> KW_POLICY_MAX_BYTES), too deep, too many rules and
 * unknown members are all KW_ERR_INVALID_FORMAT. Never echoes values.
 */
int kw_policy_validate(const json_t *doc, char *why, size_t whylen) KW_WUR;

/* The same for a reference-value set document (stored as kind "refval"). */
int kw_refval_validate(const json_t *doc, char *why, size_t whylen) KW_WUR;

/*
 * Resolves a reference-value set named by a policy. On success *ret_doc is a
 * new reference the evaluator releases. Return KW_ERR_NOT_FOUND for an
 * unknown set (the policy then denies); any other negative code makes the
 * evaluation fail (could not evaluate, which also denies).
 */
typedef int (*kw_refset_fn)(void *arg, const char *name, json_t **ret_doc);

struct kw_policy_ctx {
	int64_t now;          /* seconds since the epoch; windows and lint ages */
	kw_refset_fn refset;  /* may be NULL when no policy names a set */
	void *arg;            /* passed to refset */
};

/*
 * Evaluate policy against the normalized claims (docs/claims.md). The policy
 * is validated first. Returns 0 (allow), KW_ERR_DENIED (deny) or another
 * negative code when it could not be evaluated (invalid policy or set,
 * resolver failure, no memory): callers treat every non-zero return as deny.
 * When ret_explain is non-NULL and the return is 0 or KW_ERR_DENIED,
 * *ret_explain is a new object
 *   {"decision":"allow"|"deny", "reason":<deciding check>, "path":<location
 *    in the policy>, "detail":<one line>, "matched"?:{...},
 *    "checks":[{"check","result":"pass"|"fail","detail"}...]}
 * (docs/policy.md, "Explain"); it is not written on other returns.
 */
int kw_policy_eval(const json_t *policy, const json_t *claims, const struct kw_policy_ctx *ctx,
    json_t **ret_explain) KW_WUR;

/*
 * Hygiene warnings for a valid policy: *ret_warnings is a new array of
 * strings "<code>: <text>" (codes in docs/policy.md, "Lint"), empty when
 * nothing is wrong. Named sets are resolved through ctx->refset (a NULL
 * resolver gives a "set-unresolved" warning per set). max_age_seconds <= 0
 * disables the age check. Returns 0, KW_ERR_INVALID_FORMAT for an invalid
 * policy, KW_ERR_INVALID_ARG, KW_ERR_NOMEM, or a resolver error other than
 * KW_ERR_NOT_FOUND; *ret_warnings is written only on 0.
 */
int kw_policy_lint(const json_t *policy, const struct kw_policy_ctx *ctx, int64_t max_age_seconds,
    json_t **ret_warnings) KW_WUR;

/*
 * Supersede old_hex by new_hex in the reference-value set doc (not modified):
 * *ret_doc is a new document where old's not-after is min(its not-after,
 * now + grace_seconds), never before its not-before, and new_hex is added as
 * {"value":new,"not-before":now} unless already present (then only old
 * changes). Hex of either case is accepted and stored lower-case.
 * KW_ERR_INVALID_FORMAT: doc invalid; KW_ERR_INVALID_ARG: bad hex, equal
 * values, grace outside 0..KW_DURATION_MAX, or a result over the caps;
 * KW_ERR_NOT_FOUND: old not in doc. *ret_doc is written only on 0.
 */
int kw_refval_supersede(const json_t *doc, const char *old_hex, const char *new_hex, int64_t now,
    int64_t grace_seconds, json_t **ret_doc) KW_WUR;

/* Durations (supersede grace, max_reference_age): kw_duration_parse() in kw_util.h. */

#endif
