/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_METRICS_H
#define KW_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "kw_err.h"

/*
 * Prometheus metrics (text exposition format 0.0.4, docs/operations.md
 * "Metrics") and the readiness checks of /readyz.
 *
 * The counters live in one process-wide table of C11 atomics updated with
 * relaxed operations from whatever thread observes the event (the loop, the
 * appraisal workers, the admin thread, the collateral refresher): no lock
 * on any hot path. A scrape reads them with relaxed loads and formats; it
 * takes no lock the loop could be waiting on. Gauges of loop-owned state
 * (connections, single-use sets, queue depth, token key) are published into
 * atomics by their owner when they change, so a scrape on the admin thread
 * (metrics.on_admin) reads them without touching loop state.
 *
 * No label ever carries a secret, token, nonce, jkt or key material. Label
 * values come from fixed tables (endpoints as route templates, TEEs, verdicts,
 * HSM ops, reason classes) or from repository names, of which at most
 * KW_MET_REPOS_MAX distinct ones are kept (further ones count as "_other").
 * Key names appear only with metrics.key_labels.
 */

/* ---- the formatter (pure; exposed for the unit tests) ---- */

#define KW_PROM_OUT_MAX (4u * 1024 * 1024)   /* a scrape's body never grows past this */

struct kw_prom_out {
	char *p;
	size_t len, cap;
	int err;        /* sticky: KW_ERR_NOMEM or KW_ERR_TOO_LARGE; further output is dropped */
};

struct kw_prom_label {
	const char *name;
	const char *value;   /* any bytes but NUL; escaped here */
};

/* Append s; on failure out->err is set and stays set. */
void kw_prom_put(struct kw_prom_out *out, const char *s, size_t n);
/* Append value escaped as a label value (\\, \", \n). */
void kw_prom_escape_label(struct kw_prom_out *out, const char *value);
/* "# HELP name help\n# TYPE name type\n" (help escaped: \\ and \n). */
void kw_prom_header(struct kw_prom_out *out, const char *name, const char *type, const char *help);
/* One sample line: name{labels} value. */
void kw_prom_sample_u64(struct kw_prom_out *out, const char *name,
    const struct kw_prom_label *labels, size_t n_labels, uint64_t v);
void kw_prom_sample_i64(struct kw_prom_out *out, const char *name,
    const struct kw_prom_label *labels, size_t n_labels, int64_t v);
/*
 * A histogram series: counts[i] observations fell in (bounds[i-1], bounds[i]]
 * (not cumulative) for i < n_bounds, counts[n_bounds] above the last bound;
 * bounds in microseconds, printed in seconds. Writes the cumulative
 * name_bucket{...,le=...} lines, le="+Inf", name_sum (sum_us in seconds)
 * and name_count (the sum of counts, so it always equals the +Inf bucket).
 */
void kw_prom_histogram(struct kw_prom_out *out, const char *name,
    const struct kw_prom_label *labels, size_t n_labels, const uint64_t *bounds_us,
    size_t n_bounds, const uint64_t *counts, uint64_t sum_us);
/* Free the buffer (NULL-safe); out is reset. */
void kw_prom_out_free(struct kw_prom_out *out);

/* ---- what is counted ---- */

/* Workload and health endpoints, labelled by route template (never the raw path). */
enum kw_met_endpoint {
	KW_MET_EP_AUTH, KW_MET_EP_ATTEST, KW_MET_EP_RESOURCE, KW_MET_EP_JWKS,
	KW_MET_EP_CHECKPOINT, KW_MET_EP_CHECKPOINT_KEY, KW_MET_EP_HEALTHZ, KW_MET_EP_READYZ,
	KW_MET_EP_METRICS, KW_MET_EP_ADMIN, KW_MET_EP_OTHER,
	KW_MET_EP__COUNT
};
const char *kw_metrics_endpoint_name(enum kw_met_endpoint ep);

enum kw_met_listener { KW_MET_L_WORKLOAD, KW_MET_L_ADMIN, KW_MET_L_METRICS, KW_MET_L__COUNT };

enum kw_met_verdict { KW_MET_V_VERIFIED, KW_MET_V_REJECTED, KW_MET_V_UNAVAILABLE, KW_MET_V__COUNT };

/* Denials of /resource, by the check that failed (the audit record's "check"). */
enum kw_met_denial { KW_MET_D_TOKEN, KW_MET_D_DPOP, KW_MET_D_RESOURCE, KW_MET_D_POLICY,
	KW_MET_D__COUNT };
/* "token", "dpop", "resource", "policy" -> the class; anything else: KW_MET_D__COUNT. */
enum kw_met_denial kw_metrics_denial_class(const char *check);

enum kw_met_set { KW_MET_SET_CHALLENGE, KW_MET_SET_DPOP_JTI, KW_MET_SET__COUNT };
enum kw_met_pool { KW_MET_POOL_APPRAISAL, KW_MET_POOL_ADMIN, KW_MET_POOL__COUNT };

#define KW_MET_REPOS_MAX 256
#define KW_MET_LABEL_MAX 136     /* repository (64) + '/' + key name (type/tag), truncated */

/*
 * Reset every counter and set the options (main.c, before any thread
 * starts; tests). key_labels: label releases and denials with the key
 * name (type/tag) too.
 */
void kw_metrics_init(int key_labels);

/* A request answered: endpoint, HTTP status, microseconds from the request head. */
void kw_metrics_request(enum kw_met_endpoint ep, int status, uint64_t us);
/* An appraisal finished (tee: the evidence type's "tee"). */
void kw_metrics_appraisal(const char *tee, enum kw_met_verdict v);
/* Appraisals submitted to the workers and not yet done (+1 / -1). */
void kw_metrics_appraisal_inflight(int delta);
/* A release (the JWE was sent) and a denial; path "repo/type/tag" (a valid resource path). */
void kw_metrics_release(const char *path);
void kw_metrics_denial(const char *path, enum kw_met_denial d);
/* An HSM call completed (op: enum hsm_op; r: 0 or its error), after us microseconds. */
void kw_metrics_hsm_call(int op, int r, uint64_t us);
/* A new helper was started (or reconnected) after the first one. */
void kw_metrics_hsm_restart(void);
/* Open connections of a listener (+1 / -1), from its thread. */
void kw_metrics_conn(enum kw_met_listener l, int delta);
/* A single-use set's live entries and capacity (its owner thread, after a change). */
void kw_metrics_single_use(enum kw_met_set s, size_t live, size_t cap);
/* Jobs waiting for a worker thread of a pool. */
void kw_metrics_queue_depth(enum kw_met_pool p, size_t depth);
/* The signing token key's creation time (seconds since the epoch; 0: none). */
void kw_metrics_token_key(int64_t created);
/* TDX collateral: a copy fetched or loaded at now; a fetch failed. */
void kw_metrics_collateral_fresh(int64_t now);
void kw_metrics_collateral_failure(void);
/* A store error (SQLite result code class). */
enum kw_met_store_err { KW_MET_SE_BUSY, KW_MET_SE_NOMEM, KW_MET_SE_IO, KW_MET_SE_CONSTRAINT,
	KW_MET_SE__COUNT };
void kw_metrics_store_error(enum kw_met_store_err e);

/*
 * Format every family at now (seconds since the epoch, for ages) into out
 * (reset first). Returns 0, or KW_ERR_NOMEM / KW_ERR_TOO_LARGE (out freed).
 */
int kw_metrics_format(int64_t now, struct kw_prom_out *out) KW_WUR;

/* Whether collateral is required for readiness and whether one is held. */
void kw_metrics_collateral_state(int *ret_fresh_ever, uint64_t *ret_failures_since);

#endif
