/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Prometheus metrics: the counter table (C11 atomics, relaxed) and the text
 * exposition format 0.0.4 formatter (metrics.h; docs/operations.md).
 */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsm_proto.h"
#include "kw_build.h"
#include "kw_util.h"
#include "metrics.h"

/* ---- the formatter ---- */

void
kw_prom_put(struct kw_prom_out *out, const char *s, size_t n)
{
	if (out->err != 0 || n == 0)
		return;
	if (n > KW_PROM_OUT_MAX - out->len) {
		out->err = KW_ERR_TOO_LARGE;
		return;
	}
	if (out->len + n > out->cap) {
		size_t cap = out->cap != 0 ? out->cap : 16384;
		char *p;

		while (cap < out->len + n)
			cap *= 2;
		if (cap > KW_PROM_OUT_MAX)
			cap = KW_PROM_OUT_MAX;
		/* metrics text holds no secret: plain realloc is fine here */
		if ((p = realloc(out->p, cap)) == NULL) {
			out->err = KW_ERR_NOMEM;
			return;
		}
		out->p = p;
		out->cap = cap;
	}
	memcpy(out->p + out->len, s, n);
	out->len += n;
}

static void
put_str(struct kw_prom_out *out, const char *s)
{
	kw_prom_put(out, s, strlen(s));
}

void
kw_prom_escape_label(struct kw_prom_out *out, const char *value)
{
	const char *run = value;

	for (const char *p = value; *p != '\0'; p++) {
		const char *esc = *p == '\\' ? "\\\\" : *p == '"' ? "\\\"" : *p == '\n' ? "\\n" : NULL;

		if (esc == NULL)
			continue;
		kw_prom_put(out, run, (size_t)(p - run));
		put_str(out, esc);
		run = p + 1;
	}
	put_str(out, run);
}

void
kw_prom_header(struct kw_prom_out *out, const char *name, const char *type, const char *help)
{
	const char *run = help;

	put_str(out, "# HELP ");
	put_str(out, name);
	put_str(out, " ");
	for (const char *p = help; *p != '\0'; p++) {
		if (*p != '\\' && *p != '\n')
			continue;
		kw_prom_put(out, run, (size_t)(p - run));
		put_str(out, *p == '\\' ? "\\\\" : "\\n");
		run = p + 1;
	}
	put_str(out, run);
	put_str(out, "\n# TYPE ");
	put_str(out, name);
	put_str(out, " ");
	put_str(out, type);
	put_str(out, "\n");
}

/* name{l1="v1",...,extra="xv"} with extra optional (NULL) */
static void
series(struct kw_prom_out *out, const char *name, const char *suffix,
    const struct kw_prom_label *labels, size_t n, const char *extra, const char *extra_v)
{
	put_str(out, name);
	put_str(out, suffix);
	if (n == 0 && extra == NULL)
		return;
	put_str(out, "{");
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			put_str(out, ",");
		put_str(out, labels[i].name);
		put_str(out, "=\"");
		kw_prom_escape_label(out, labels[i].value);
		put_str(out, "\"");
	}
	if (extra != NULL) {
		if (n > 0)
			put_str(out, ",");
		put_str(out, extra);
		put_str(out, "=\"");
		kw_prom_escape_label(out, extra_v);
		put_str(out, "\"");
	}
	put_str(out, "}");
}

static void
value_u64(struct kw_prom_out *out, uint64_t v)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), " %" PRIu64 "\n", v);

	if (n > 0 && (size_t)n < sizeof(buf))
		kw_prom_put(out, buf, (size_t)n);
}

/* Microseconds as exact decimal seconds, without trailing zeros ("0.0025", "1"). */
static void
us_seconds(char *buf, size_t len, uint64_t us)
{
	int n;

	if (us % 1000000 == 0) {
		snprintf(buf, len, "%" PRIu64, us / 1000000);
		return;
	}
	n = snprintf(buf, len, "%" PRIu64 ".%06" PRIu64, us / 1000000, us % 1000000);
	while (n > 0 && (size_t)n < len && buf[n - 1] == '0')
		buf[--n] = '\0';
}

void
kw_prom_sample_u64(struct kw_prom_out *out, const char *name, const struct kw_prom_label *labels,
    size_t n_labels, uint64_t v)
{
	series(out, name, "", labels, n_labels, NULL, NULL);
	value_u64(out, v);
}

void
kw_prom_sample_i64(struct kw_prom_out *out, const char *name, const struct kw_prom_label *labels,
    size_t n_labels, int64_t v)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), " %" PRId64 "\n", v);

	series(out, name, "", labels, n_labels, NULL, NULL);
	if (n > 0 && (size_t)n < sizeof(buf))
		kw_prom_put(out, buf, (size_t)n);
}

void
kw_prom_histogram(struct kw_prom_out *out, const char *name, const struct kw_prom_label *labels,
    size_t n_labels, const uint64_t *bounds_us, size_t n_bounds, const uint64_t *counts,
    uint64_t sum_us)
{
	char le[32], full[96];
	uint64_t cum = 0;

	snprintf(full, sizeof(full), "%s", name);
	for (size_t i = 0; i <= n_bounds; i++) {
		cum += counts[i];
		if (i < n_bounds)
			us_seconds(le, sizeof(le), bounds_us[i]);
		else
			snprintf(le, sizeof(le), "+Inf");
		series(out, full, "_bucket", labels, n_labels, "le", le);
		value_u64(out, cum);
	}
	us_seconds(le, sizeof(le), sum_us);
	series(out, full, "_sum", labels, n_labels, NULL, NULL);
	put_str(out, " ");
	put_str(out, le);
	put_str(out, "\n");
	series(out, full, "_count", labels, n_labels, NULL, NULL);
	value_u64(out, cum);
}

void
kw_prom_out_free(struct kw_prom_out *out)
{
	free(out->p);
	memset(out, 0, sizeof(*out));
}

/* ---- the table ---- */

/* Latency buckets, microseconds (fixed: a histogram's buckets never change at run time). */
static const uint64_t bounds_us[] = {
	500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000,
	5000000, 10000000,
};
#define NB (KW_ARRAY_SIZE(bounds_us) + 1)

struct hist {
	atomic_uint_fast64_t b[NB];
	atomic_uint_fast64_t sum_us;
};

/* The statuses kept apart; any other one counts as "other". */
static const int statuses[] = { 200, 201, 204, 400, 401, 403, 404, 405, 409, 413, 415, 429, 500,
	503 };
#define NS (KW_ARRAY_SIZE(statuses) + 1)

static const char *const endpoints[KW_MET_EP__COUNT] = {
	[KW_MET_EP_AUTH] = "/kbs/v0/auth",
	[KW_MET_EP_ATTEST] = "/kbs/v0/attest",
	[KW_MET_EP_RESOURCE] = "/kbs/v0/resource/{repository}/{type}/{tag}",
	[KW_MET_EP_JWKS] = "/.well-known/jwks.json",
	[KW_MET_EP_CHECKPOINT] = "/.well-known/keywarden-checkpoint",
	[KW_MET_EP_CHECKPOINT_KEY] = "/.well-known/keywarden-checkpoint-key",
	[KW_MET_EP_HEALTHZ] = "/healthz",
	[KW_MET_EP_READYZ] = "/readyz",
	[KW_MET_EP_METRICS] = "/metrics",
	[KW_MET_EP_ADMIN] = "/admin/v1/*",
	[KW_MET_EP_OTHER] = "other",
};

/* The evidence types of the verifier table; another "tee" counts as "other". */
static const char *const tees[] = { "snp", "tdx", "tpm", "tpm-akcert", "az-snp-vtpm",
	"az-tdx-vtpm", "cca", "other" };
#define NT KW_ARRAY_SIZE(tees)

static const char *const verdicts[KW_MET_V__COUNT] = { "verified", "rejected", "unavailable" };
static const char *const denials[KW_MET_D__COUNT] = { "token", "dpop", "resource", "policy" };
static const char *const listeners[KW_MET_L__COUNT] = { "workload", "admin", "metrics" };
static const char *const sets[KW_MET_SET__COUNT] = { "challenge", "dpop_jti" };
static const char *const pools[KW_MET_POOL__COUNT] = { "appraisal", "admin" };
static const char *const store_errs[KW_MET_SE__COUNT] = { "busy", "nomem", "io", "constraint" };

enum { HR_OK, HR_ERROR, HR_TIMEOUT, HR_UNAVAILABLE, HR__COUNT };
static const char *const hsm_results[HR__COUNT] = { "ok", "error", "timeout", "unavailable" };

/*
 * Repository (or repository/key) slots: written by one thread only (the
 * loop, where /resource is answered); a slot's name is complete before
 * n_repos makes it visible (release store, acquire load).
 */
struct repo_slot {
	char name[KW_MET_LABEL_MAX];
	atomic_uint_fast64_t releases;
	atomic_uint_fast64_t denials[KW_MET_D__COUNT];
};

static struct {
	int key_labels;
	atomic_uint_fast64_t req[KW_MET_EP__COUNT][NS];
	struct hist req_lat[KW_MET_EP__COUNT];
	atomic_uint_fast64_t appraisals[NT][KW_MET_V__COUNT];
	atomic_int_fast64_t appraisals_inflight;
	atomic_uint_fast64_t hsm[HSM_OP__COUNT][HR__COUNT];
	struct hist hsm_lat[HSM_OP__COUNT];
	atomic_uint_fast64_t hsm_restarts;
	atomic_int_fast64_t conns[KW_MET_L__COUNT];
	atomic_uint_fast64_t set_live[KW_MET_SET__COUNT], set_cap[KW_MET_SET__COUNT];
	atomic_uint_fast64_t queue[KW_MET_POOL__COUNT];
	atomic_int_fast64_t token_key_created;
	atomic_int_fast64_t collateral_fresh;
	atomic_uint_fast64_t collateral_failures, collateral_failures_since;
	atomic_uint_fast64_t store_errors[KW_MET_SE__COUNT];
	/* then "_other" (the table is full) and "_unverified" (see repo_slot) */
	struct repo_slot repos[KW_MET_REPOS_MAX + 2];
	atomic_size_t n_repos;
} M;

#define INC(x) atomic_fetch_add_explicit(&(x), 1, memory_order_relaxed)
#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)
#define STORE(x, v) atomic_store_explicit(&(x), (v), memory_order_relaxed)

void
kw_metrics_init(int key_labels)
{
	/* before any thread runs: a plain reset is race-free */
	memset(&M, 0, sizeof(M));
	M.key_labels = key_labels;
	snprintf(M.repos[KW_MET_REPOS_MAX].name, KW_MET_LABEL_MAX, "_other");
	snprintf(M.repos[KW_MET_REPOS_MAX + 1].name, KW_MET_LABEL_MAX, "_unverified");
}

const char *
kw_metrics_endpoint_name(enum kw_met_endpoint ep)
{
	return (unsigned int)ep < KW_MET_EP__COUNT ? endpoints[ep] : "other";
}

static void
hist_add(struct hist *h, uint64_t us)
{
	size_t i = 0;

	while (i < KW_ARRAY_SIZE(bounds_us) && us > bounds_us[i])
		i++;
	INC(h->b[i]);
	atomic_fetch_add_explicit(&h->sum_us, us, memory_order_relaxed);
}

void
kw_metrics_request(enum kw_met_endpoint ep, int status, uint64_t us)
{
	size_t s = 0;

	if ((unsigned int)ep >= KW_MET_EP__COUNT)
		ep = KW_MET_EP_OTHER;
	while (s < KW_ARRAY_SIZE(statuses) && statuses[s] != status)
		s++;
	INC(M.req[ep][s]);
	hist_add(&M.req_lat[ep], us);
}

void
kw_metrics_appraisal(const char *tee, enum kw_met_verdict v)
{
	size_t t = 0;

	while (t < NT - 1 && (tee == NULL || strcmp(tees[t], tee) != 0))
		t++;
	if ((unsigned int)v < KW_MET_V__COUNT)
		INC(M.appraisals[t][v]);
}

void
kw_metrics_appraisal_inflight(int delta)
{
	atomic_fetch_add_explicit(&M.appraisals_inflight, delta, memory_order_relaxed);
}

enum kw_met_denial
kw_metrics_denial_class(const char *check)
{
	for (size_t i = 0; i < KW_MET_D__COUNT; i++)
		if (check != NULL && strcmp(check, denials[i]) == 0)
			return (enum kw_met_denial)i;
	return KW_MET_D__COUNT;
}

/*
 * The slot of path's repository (and key with key_labels); the loop thread
 * only. Only a release or a policy decision (the key exists) adds a name:
 * other denials (no token, bad proof, no such key) name whatever the client
 * asked for, so they count under an existing name or "_unverified", and a
 * client cannot fill the table with names of its choosing.
 */
static struct repo_slot *
repo_slot(const char *path, int add)
{
	char name[KW_MET_LABEL_MAX];
	size_t n = atomic_load_explicit(&M.n_repos, memory_order_relaxed), len;
	const char *slash = strchr(path, '/');

	/* a release's path carries " (vN)": the version is not a label */
	len = M.key_labels || slash == NULL ? strcspn(path, " ") : (size_t)(slash - path);
	if (len >= sizeof(name))
		len = sizeof(name) - 1;
	memcpy(name, path, len);
	name[len] = '\0';
	for (size_t i = 0; i < n; i++)
		if (strcmp(M.repos[i].name, name) == 0)
			return &M.repos[i];
	if (!add)
		return &M.repos[KW_MET_REPOS_MAX + 1];
	if (n == KW_MET_REPOS_MAX)
		return &M.repos[KW_MET_REPOS_MAX];
	memcpy(M.repos[n].name, name, len + 1);
	atomic_store_explicit(&M.n_repos, n + 1, memory_order_release);
	return &M.repos[n];
}

void
kw_metrics_release(const char *path)
{
	INC(repo_slot(path, 1)->releases);
}

void
kw_metrics_denial(const char *path, enum kw_met_denial d)
{
	if ((unsigned int)d < KW_MET_D__COUNT)
		INC(repo_slot(path, d == KW_MET_D_POLICY)->denials[d]);
}

void
kw_metrics_hsm_call(int op, int r, uint64_t us)
{
	int res = r == 0 ? HR_OK : r == KW_ERR_TIMEOUT ? HR_TIMEOUT :
	    r == KW_ERR_UNAVAILABLE ? HR_UNAVAILABLE : HR_ERROR;

	if (op <= HSM_OP_NONE || op >= HSM_OP__COUNT)
		return;
	INC(M.hsm[op][res]);
	hist_add(&M.hsm_lat[op], us);
}

void
kw_metrics_hsm_restart(void)
{
	INC(M.hsm_restarts);
}

void
kw_metrics_conn(enum kw_met_listener l, int delta)
{
	if ((unsigned int)l < KW_MET_L__COUNT)
		atomic_fetch_add_explicit(&M.conns[l], delta, memory_order_relaxed);
}

void
kw_metrics_single_use(enum kw_met_set s, size_t live, size_t cap)
{
	if ((unsigned int)s >= KW_MET_SET__COUNT)
		return;
	STORE(M.set_live[s], live);
	STORE(M.set_cap[s], cap);
}

void
kw_metrics_queue_depth(enum kw_met_pool p, size_t depth)
{
	if ((unsigned int)p < KW_MET_POOL__COUNT)
		STORE(M.queue[p], depth);
}

void
kw_metrics_token_key(int64_t created)
{
	STORE(M.token_key_created, created);
}

void
kw_metrics_collateral_fresh(int64_t now)
{
	STORE(M.collateral_fresh, now);
	STORE(M.collateral_failures_since, 0);
}

void
kw_metrics_collateral_failure(void)
{
	INC(M.collateral_failures);
	INC(M.collateral_failures_since);
}

void
kw_metrics_collateral_state(int *ret_fresh_ever, uint64_t *ret_failures_since)
{
	*ret_fresh_ever = LOAD(M.collateral_fresh) != 0;
	*ret_failures_since = LOAD(M.collateral_failures_since);
}

void
kw_metrics_store_error(enum kw_met_store_err e)
{
	if ((unsigned int)e < KW_MET_SE__COUNT)
		INC(M.store_errors[e]);
}

/* ---- the scrape ---- */

static void
hist_put(struct kw_prom_out *out, const char *name, const struct kw_prom_label *l, size_t nl,
    struct hist *h)
{
	uint64_t c[NB];

	for (size_t i = 0; i < NB; i++)
		c[i] = LOAD(h->b[i]);
	kw_prom_histogram(out, name, l, nl, bounds_us, KW_ARRAY_SIZE(bounds_us), c, LOAD(h->sum_us));
}

static int
hist_empty(struct hist *h)
{
	for (size_t i = 0; i < NB; i++)
		if (LOAD(h->b[i]) != 0)
			return 0;
	return 1;
}

static void
fmt_requests(struct kw_prom_out *out)
{
	char st[16];

	kw_prom_header(out, "keywarden_requests_total", "counter",
	    "HTTP requests answered, by endpoint (route template) and status.");
	for (size_t e = 0; e < KW_MET_EP__COUNT; e++)
		for (size_t s = 0; s < NS; s++) {
			uint64_t v = LOAD(M.req[e][s]);
			struct kw_prom_label l[2] = { { "endpoint", endpoints[e] }, { "status", st } };

			if (v == 0)
				continue;
			if (s < KW_ARRAY_SIZE(statuses))
				snprintf(st, sizeof(st), "%d", statuses[s]);
			else
				snprintf(st, sizeof(st), "other");
			kw_prom_sample_u64(out, "keywarden_requests_total", l, 2, v);
		}
	kw_prom_header(out, "keywarden_request_duration_seconds", "histogram",
	    "Time from the request head to the last byte of the answer, by endpoint.");
	for (size_t e = 0; e < KW_MET_EP__COUNT; e++) {
		struct kw_prom_label l = { "endpoint", endpoints[e] };

		if (!hist_empty(&M.req_lat[e]))
			hist_put(out, "keywarden_request_duration_seconds", &l, 1, &M.req_lat[e]);
	}
}

static void
fmt_appraisals(struct kw_prom_out *out)
{
	kw_prom_header(out, "keywarden_appraisals_total", "counter",
	    "Evidence appraisals finished on the workers, by evidence type and verdict.");
	for (size_t t = 0; t < NT; t++)
		for (size_t v = 0; v < KW_MET_V__COUNT; v++) {
			struct kw_prom_label l[2] = { { "tee", tees[t] }, { "verdict", verdicts[v] } };
			uint64_t n = LOAD(M.appraisals[t][v]);

			if (n != 0)
				kw_prom_sample_u64(out, "keywarden_appraisals_total", l, 2, n);
		}
	kw_prom_header(out, "keywarden_appraisals_in_flight", "gauge",
	    "Appraisals queued or running on the workers.");
	kw_prom_sample_i64(out, "keywarden_appraisals_in_flight", NULL, 0,
	    LOAD(M.appraisals_inflight));
	kw_prom_header(out, "keywarden_worker_queue_depth", "gauge",
	    "Jobs waiting for a worker thread, by pool.");
	for (size_t p = 0; p < KW_MET_POOL__COUNT; p++) {
		struct kw_prom_label l = { "pool", pools[p] };

		kw_prom_sample_u64(out, "keywarden_worker_queue_depth", &l, 1, LOAD(M.queue[p]));
	}
}

static void
fmt_repos(struct kw_prom_out *out)
{
	size_t n = atomic_load_explicit(&M.n_repos, memory_order_acquire);
	const char *lname = M.key_labels ? "key" : "repository";

	kw_prom_header(out, "keywarden_releases_total", "counter",
	    M.key_labels ? "Keys released (JWE sent), by key (repository/type/tag)." :
	    "Keys released (JWE sent), by repository.");
	for (size_t i = 0; i <= KW_MET_REPOS_MAX + 1; i++) {
		struct kw_prom_label l;
		uint64_t v;

		if (i == n)
			i = KW_MET_REPOS_MAX;
		l.name = lname;
		l.value = M.repos[i].name;
		if ((v = LOAD(M.repos[i].releases)) != 0)
			kw_prom_sample_u64(out, "keywarden_releases_total", &l, 1, v);
	}
	kw_prom_header(out, "keywarden_denials_total", "counter",
	    "Resource requests denied, by repository and the check that failed "
	    "(token, dpop, resource, policy).");
	for (size_t i = 0; i <= KW_MET_REPOS_MAX + 1; i++) {
		if (i == n)
			i = KW_MET_REPOS_MAX;
		for (size_t d = 0; d < KW_MET_D__COUNT; d++) {
			struct kw_prom_label l[2] = { { lname, M.repos[i].name }, { "reason", denials[d] } };
			uint64_t v = LOAD(M.repos[i].denials[d]);

			if (v != 0)
				kw_prom_sample_u64(out, "keywarden_denials_total", l, 2, v);
		}
	}
}

static void
fmt_hsm(struct kw_prom_out *out)
{
	kw_prom_header(out, "keywarden_hsm_calls_total", "counter",
	    "Calls to the HSM helper, by op and result (ok, error, timeout, unavailable).");
	for (int op = HSM_OP_NONE + 1; op < HSM_OP__COUNT; op++) {
		const struct hsm_op_info *oi = hsm_op_info((enum hsm_op)op);

		for (size_t r = 0; r < HR__COUNT && oi != NULL; r++) {
			struct kw_prom_label l[2] = { { "op", oi->name }, { "result", hsm_results[r] } };
			uint64_t v = LOAD(M.hsm[op][r]);

			if (v != 0)
				kw_prom_sample_u64(out, "keywarden_hsm_calls_total", l, 2, v);
		}
	}
	kw_prom_header(out, "keywarden_hsm_call_duration_seconds", "histogram",
	    "Time from queueing an HSM call to its completion, by op.");
	for (int op = HSM_OP_NONE + 1; op < HSM_OP__COUNT; op++) {
		const struct hsm_op_info *oi = hsm_op_info((enum hsm_op)op);
		struct kw_prom_label l = { "op", oi != NULL ? oi->name : "?" };

		if (oi != NULL && !hist_empty(&M.hsm_lat[op]))
			hist_put(out, "keywarden_hsm_call_duration_seconds", &l, 1, &M.hsm_lat[op]);
	}
	kw_prom_header(out, "keywarden_hsm_helper_restarts_total", "counter",
	    "HSM helpers started (or reconnected) after the first one.");
	kw_prom_sample_u64(out, "keywarden_hsm_helper_restarts_total", NULL, 0,
	    LOAD(M.hsm_restarts));
}

/* Seconds since t at now; nothing while t is 0 (not known yet). */
static void
age_gauge(struct kw_prom_out *out, const char *name, const char *help, int64_t t, int64_t now)
{
	if (t == 0)
		return;
	kw_prom_header(out, name, "gauge", help);
	kw_prom_sample_i64(out, name, NULL, 0, now > t ? now - t : 0);
}

/* A gauge with one series per single-use set. */
static void
set_gauge(struct kw_prom_out *out, const char *name, const char *help,
    atomic_uint_fast64_t v[static KW_MET_SET__COUNT])
{
	kw_prom_header(out, name, "gauge", help);
	for (size_t s = 0; s < KW_MET_SET__COUNT; s++) {
		struct kw_prom_label l = { "set", sets[s] };

		kw_prom_sample_u64(out, name, &l, 1, LOAD(v[s]));
	}
}

static void
fmt_state(struct kw_prom_out *out, int64_t now)
{
	set_gauge(out, "keywarden_single_use_entries",
	    "Live entries of a single-use set (challenges, DPoP jti values).", M.set_live);
	set_gauge(out, "keywarden_single_use_capacity",
	    "Capacity of a single-use set (limits.max_sessions).", M.set_cap);
	kw_prom_header(out, "keywarden_open_connections", "gauge",
	    "Open connections (descriptors held), by listener.");
	for (size_t i = 0; i < KW_MET_L__COUNT; i++) {
		struct kw_prom_label l = { "listener", listeners[i] };

		kw_prom_sample_i64(out, "keywarden_open_connections", &l, 1, LOAD(M.conns[i]));
	}
	age_gauge(out, "keywarden_token_key_age_seconds", "Age of the token-signing key in use.",
	    LOAD(M.token_key_created), now);
	kw_prom_header(out, "keywarden_collateral_fetch_failures_total", "counter",
	    "TDX collateral fetches from PCS or PCCS that failed.");
	kw_prom_sample_u64(out, "keywarden_collateral_fetch_failures_total", NULL, 0,
	    LOAD(M.collateral_failures));
	age_gauge(out, "keywarden_collateral_age_seconds",
	    "Seconds since TDX collateral was last fetched, or loaded at start.",
	    LOAD(M.collateral_fresh), now);
	kw_prom_header(out, "keywarden_store_errors_total", "counter",
	    "Errors of the SQLite store, by class (busy, nomem, io, constraint).");
	for (size_t e = 0; e < KW_MET_SE__COUNT; e++) {
		struct kw_prom_label l = { "class", store_errs[e] };

		kw_prom_sample_u64(out, "keywarden_store_errors_total", &l, 1,
		    LOAD(M.store_errors[e]));
	}
	{
		struct kw_prom_label l = { "version", KW_VERSION };

		kw_prom_header(out, "keywarden_build_info", "gauge",
		    "Always 1; the label says which keywarden answers.");
		kw_prom_sample_u64(out, "keywarden_build_info", &l, 1, 1);
	}
}

int
kw_metrics_format(int64_t now, struct kw_prom_out *out)
{
	int r;

	out->len = 0;
	out->err = 0;
	fmt_requests(out);
	fmt_appraisals(out);
	fmt_repos(out);
	fmt_hsm(out);
	fmt_state(out, now);
	if ((r = out->err) != 0)
		kw_prom_out_free(out);
	return r;
}
