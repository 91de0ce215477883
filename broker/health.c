/* SPDX-License-Identifier: Apache-2.0 */
/*
 * /healthz, /readyz and /metrics (docs/operations.md), and the metrics
 * listener (metrics.listen).
 *
 * /healthz answers from the loop without looking at anything: if it
 * answers, the loop runs. /readyz runs four checks: the HSM helper answers
 * a probe (through the helper protocol, with a deadline of
 * KW_READY_HSM_DEADLINE_MS, the result reused for KW_READY_CACHE_MS so that
 * probes cannot flood the helper), the store is writable (its file and
 * directory, without writing: a check must stay cheap; PostgreSQL: a
 * "SELECT 1" through the pool on an appraisal worker, at most one out, its
 * result reused for KW_READY_CACHE_MS and never waited for: a probe out for
 * longer than KW_READY_STORE_DEADLINE_MS counts as a failure), a token-signing key
 * is loaded, and TDX collateral is held where TDX is configured. Requests
 * that arrive while the probe is out wait for it (at most
 * KW_READY_WAITERS_MAX of them; more are answered from what is known).
 * Everything here runs on the loop thread; /metrics on the admin listener
 * runs on the admin thread and only formats (metrics.h).
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/statvfs.h>

#include <event2/event.h>
#include <event2/http.h>

#include "broker.h"
#include "health.h"
#include "listener.h"
#include "kw_log.h"
#include "kw_util.h"
#include "metrics.h"

#define KW_READY_HSM_DEADLINE_MS 1000
#define KW_READY_CACHE_MS 1000
#define KW_READY_WAITERS_MAX 64
#define KW_READY_STORE_DEADLINE_MS 1000

struct kw_health {
	struct kw_broker *b;
	struct event *deadline_ev;
	int probe_out;                 /* a probe is queued at the helper */
	int64_t probe_started;         /* monotonic ms */
	int64_t hsm_checked;           /* when hsm_ok was last decided (ms; 0: never) */
	int hsm_ok;
	const char *hsm_why;           /* static */
	struct evhttp_request *waiters[KW_READY_WAITERS_MAX];
	size_t n_waiters;
	/* PostgreSQL: the store probe (loop thread, but ping_r: the worker's until its done) */
	int store_probe_out;
	int64_t store_started, store_checked;   /* monotonic ms; checked 0: the open at start */
	int store_ok;
	const char *store_why;         /* static */
	int ping_r;
	/* the metrics listener (metrics.listen) */
	SSL_CTX *ssl_ctx;
	struct kw_listener *listener;
	struct kw_prom_out out;        /* reused between scrapes on the loop */
};

static int64_t
mono_ms(void)
{
	return kw_mono_us() / 1000;
}

/* The store's file and directory can be written, on a file system mounted writable with room. */
static int
store_writable(const struct kw_config *c, const char **why)
{
	char dir[PATH_MAX];
	struct statvfs sv;

	snprintf(dir, sizeof(dir), "%s", c->store_path);
	if (access(c->store_path, R_OK | W_OK) != 0 || access(dirname(dir), W_OK | X_OK) != 0) {
		*why = "the store file or its directory is not writable";
		return 0;
	}
	if (statvfs(c->store_path, &sv) != 0 || (sv.f_flag & ST_RDONLY) != 0 || sv.f_bavail == 0) {
		*why = "the store's file system is read-only or full";
		return 0;
	}
	return 1;
}

static void
store_ping_run(void *arg)
{
	struct kw_health *h = arg;

	h->ping_r = kw_store_ping(h->b->store, KW_READY_STORE_DEADLINE_MS);
}

static void
store_ping_done(void *arg)
{
	struct kw_health *h = arg;

	h->store_probe_out = 0;
	h->store_ok = h->ping_r == 0;
	h->store_why = h->ping_r == 0 ? NULL : h->ping_r == KW_ERR_TIMEOUT ?
	    "the database did not answer within 1 s" : "the database is unreachable or failed";
	h->store_checked = mono_ms();
}

/*
 * PostgreSQL: the last probe's result (the open at start counts as the
 * first); a new probe when it is KW_READY_CACHE_MS old. Never waits.
 */
static int
store_reachable(struct kw_health *h, const char **why)
{
	int64_t now = mono_ms();

	if (h->store_probe_out) {
		if (now - h->store_started >= KW_READY_STORE_DEADLINE_MS) {
			*why = "no answer from the database within 1 s";
			return 0;
		}
	} else if (now - h->store_checked >= KW_READY_CACHE_MS) {
		if (kw_workers_submit(h->b->workers, store_ping_run, store_ping_done, h) == 0) {
			h->store_probe_out = 1;
			h->store_started = now;
		} else {
			h->store_ok = 0;
			h->store_why = "the appraisal queue is full (not checked)";
			h->store_checked = now;
		}
	}
	*why = h->store_why;
	return h->store_ok;
}

int
kw_health_collateral_ok(int tdx_enabled, const char *mode, int fresh, uint64_t failures_since)
{
	if (!tdx_enabled)
		return 1;
	/* offline: something valid was loaded; pcs/pccs: fetched on demand, so only a
	 * source whose fetches failed since it last held a copy counts as not ready */
	if (mode == NULL || strcmp(mode, "offline") == 0)
		return fresh;
	return failures_since == 0;
}

static int
collateral_ok(const struct kw_broker *b)
{
	int fresh;
	uint64_t failures;

	kw_metrics_collateral_state(&fresh, &failures);
	return kw_health_collateral_ok(b->cfg->tdx_enabled, b->cfg->tdx_collateral_mode, fresh,
	    failures);
}

/* Answer one /readyz request from the state now. */
static void
ready_answer(struct kw_health *h, struct evhttp_request *req)
{
	struct kw_broker *b = h->b;
	const char *store_why = NULL;
	int hsm = h->hsm_ok, store = b->cfg->store_kind == KW_STORE_SQLITE ?
	    store_writable(b->cfg, &store_why) : store_reachable(h, &store_why);
	int tok = kw_token_keys_active(b->token_keys) != NULL, coll = collateral_ok(b);
	json_t *checks = json_pack("{s:s, s:s, s:s, s:s}", "hsm", hsm ? "ok" : "fail",
	    "store", store ? "ok" : "fail", "token_key", tok ? "ok" : "fail",
	    "collateral", !b->cfg->tdx_enabled ? "not configured" : coll ? "ok" : "fail");
	char detail[256];

	if (checks == NULL) {
		kw_http_problem(req, KW_PROBLEM_UNAVAILABLE, NULL);
		return;
	}
	if (hsm && store && tok && coll) {
		kw_http_json(req, json_pack("{s:s, s:o}", "status", "ready", "checks", checks));
		return;
	}
	snprintf(detail, sizeof(detail), "not ready:%s%s%s%s%s%s%s%s", hsm ? "" : " hsm (",
	    hsm ? "" : h->hsm_why, hsm ? "" : ")", store ? "" : " store (",
	    store ? "" : store_why, store ? "" : ")", tok ? "" : " token_key (no signing key)",
	    coll ? "" : " collateral (none held)");
	kw_http_problem_ext(req, KW_PROBLEM_UNAVAILABLE, detail,
	    json_pack("{s:o}", "checks", checks));
}

static void
answer_waiters(struct kw_health *h)
{
	size_t n = h->n_waiters;

	h->n_waiters = 0;
	for (size_t i = 0; i < n; i++)
		ready_answer(h, h->waiters[i]);
}

static void
hsm_decided(struct kw_health *h, int ok, const char *why)
{
	h->hsm_ok = ok;
	h->hsm_why = why;
	h->hsm_checked = mono_ms();
	(void)event_del(h->deadline_ev);
	answer_waiters(h);
}

static void
probe_done(int r, const struct hsm_result *res, void *arg)
{
	struct kw_health *h = arg;

	h->probe_out = 0;
	if (r != 0) {
		hsm_decided(h, 0, r == KW_ERR_TIMEOUT ? "no answer within its deadline" :
		    "the helper is down or failed the probe");
		return;
	}
	if (res->u.probe.n_profiles == 0) {
		hsm_decided(h, 0, "no release profile passed the self test");
		return;
	}
	hsm_decided(h, 1, NULL);
}

/* The probe missed our (short) deadline: answer now; its late reply still updates the cache. */
static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct kw_health *h = arg;

	(void)fd;
	(void)what;
	h->hsm_ok = 0;
	h->hsm_why = "no answer within 1 s";
	h->hsm_checked = mono_ms();
	answer_waiters(h);
}

static void
readyz(struct kw_health *h, struct evhttp_request *req)
{
	int64_t now = mono_ms();
	struct timeval tv = { KW_READY_HSM_DEADLINE_MS / 1000, (KW_READY_HSM_DEADLINE_MS % 1000) * 1000 };

	if (h->hsm_checked != 0 && now - h->hsm_checked < KW_READY_CACHE_MS) {
		ready_answer(h, req);
		return;
	}
	if (h->probe_out && now - h->probe_started >= KW_READY_HSM_DEADLINE_MS) {
		/* an earlier probe is still unanswered: the helper is not answering */
		h->hsm_ok = 0;
		h->hsm_why = "an earlier probe is still unanswered";
		h->hsm_checked = now;
		ready_answer(h, req);
		return;
	}
	if (h->n_waiters == KW_READY_WAITERS_MAX) {
		ready_answer(h, req);    /* from the last result */
		return;
	}
	if (!h->probe_out) {
		/* a helper that is gone is started again here (at most once a second,
		 * hsm_client.h), so a broker without traffic becomes ready again too */
		if (hsm_client_probe(h->b->hsm, probe_done, h) != 0) {
			h->hsm_ok = 0;
			h->hsm_why = "the helper is down (restarting) or its queue is full";
			h->hsm_checked = now;
			ready_answer(h, req);
			return;
		}
		h->probe_out = 1;
		h->probe_started = now;
		(void)event_add(h->deadline_ev, &tv);
	}
	h->waiters[h->n_waiters++] = req;    /* answered by probe_done or deadline_cb */
}

/* The body of /metrics (any thread; out is the caller's). */
static void
metrics_answer(struct evhttp_request *req, struct kw_prom_out *out)
{
	int r = kw_metrics_format(kw_broker_now(), out);

	if (r != 0) {
		kw_log_err_r_rl(r, "metrics cannot be formatted");
		kw_http_problem_from_err(req, KW_ERR_UNAVAILABLE, NULL);
		return;
	}
	kw_http_metrics(req, out->p, out->len);
}

void
kw_health_route(struct kw_broker *b, struct evhttp_request *req, enum kw_met_endpoint ep)
{
	struct kw_health *h = b->health;

	switch (ep) {
	case KW_MET_EP_HEALTHZ:
		kw_http_json(req, json_pack("{s:s}", "status", "alive"));
		return;
	case KW_MET_EP_READYZ:
		if (h == NULL) {
			kw_http_problem(req, KW_PROBLEM_UNAVAILABLE, "not ready: starting or stopping");
			return;
		}
		readyz(h, req);
		return;
	case KW_MET_EP_METRICS:
		if (h == NULL) {
			kw_http_problem(req, KW_PROBLEM_UNAVAILABLE, NULL);
			return;
		}
		metrics_answer(req, &h->out);
		return;
	default:
		kw_http_problem(req, KW_PROBLEM_NOT_FOUND, "no such endpoint");
		return;
	}
}

void
kw_health_admin_metrics(struct evhttp_request *req)
{
	struct kw_prom_out out = { 0 };

	metrics_answer(req, &out);
	kw_prom_out_free(&out);
}

/* The metrics listener's routes: metrics_route serves them, --list-routes prints them. */
static const struct kw_http_route metrics_routes[] = {
	{"/metrics", EVHTTP_REQ_GET, NULL, KW_MET_EP_METRICS},
	{"/healthz", EVHTTP_REQ_GET, NULL, KW_MET_EP_HEALTHZ},
	{"/readyz", EVHTTP_REQ_GET, NULL, KW_MET_EP_READYZ},
};

void
kw_health_routes_list(FILE *f)
{
	kw_http_routes_print(f, "metrics", metrics_routes, KW_ARRAY_SIZE(metrics_routes));
}

static void
metrics_route(struct evhttp_request *req, void *arg)
{
	struct kw_broker *b = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;

	for (size_t i = 0; path != NULL && i < KW_ARRAY_SIZE(metrics_routes); i++) {
		const struct kw_http_route *row = &metrics_routes[i];

		if (strcmp(row->path, path) != 0)
			continue;
		kw_listener_tag(req, row->ep);
		if (evhttp_request_get_command(req) != row->method) {
			evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET");
			kw_http_problem(req, KW_PROBLEM_METHOD_NOT_ALLOWED, NULL);
			return;
		}
		kw_health_route(b, req, row->ep);
		return;
	}
	kw_listener_tag(req, KW_MET_EP_OTHER);
	kw_http_problem(req, KW_PROBLEM_NOT_FOUND, "no such endpoint");
}

static void
hsm_observe(void *arg, int op, int r, uint64_t us)
{
	(void)arg;
	kw_metrics_hsm_call(op, r, us);
}

static void
hsm_spawned(void *arg)
{
	(void)arg;
	kw_metrics_hsm_restart();
}

int
kw_health_start(struct kw_broker *b)
{
	struct kw_health *h;
	struct kw_listener_opts o;
	const struct kw_token_key *tk = kw_token_keys_active(b->token_keys);
	int r;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		return KW_ERR_NOMEM;
	h->b = b;
	h->store_ok = 1;    /* the store was opened (and migrated) just now */
	h->store_checked = mono_ms();
	if ((h->deadline_ev = evtimer_new(b->base, deadline_cb, h)) == NULL) {
		free(h);
		return KW_ERR_NOMEM;
	}
	b->health = h;
	hsm_client_set_observer(b->hsm, hsm_observe, hsm_spawned, NULL);
	kw_metrics_token_key(tk != NULL ? tk->created : 0);
	if (b->cfg->metrics_listen_addr == NULL)
		return 0;
	if ((r = kw_http_tls_ctx(b->cfg, &h->ssl_ctx)) != 0)
		return r;
	memset(&o, 0, sizeof(o));
	o.name = "metrics";
	o.addr = b->cfg->metrics_listen_addr;
	o.port = b->cfg->metrics_listen_port;
	o.ssl_ctx = h->ssl_ctx;
	o.max_connections = KW_METRICS_MAX_CONNECTIONS;
	o.max_per_address = KW_METRICS_MAX_CONNECTIONS;
	o.accept_slack = KW_ADMIN_ACCEPT_SLACK;
	o.request_timeout = b->limits.request_timeout;
	o.max_body = 1024;
	o.max_headers = 16 * 1024;
	o.methods = EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD;
	o.cb = metrics_route;
	o.cbarg = b;
	if ((r = kw_listener_new(b->base, &o, &h->listener)) != 0)
		return r;
	kw_log_info("metrics on https://%s:%u/metrics (also /healthz, /readyz)",
	    b->cfg->metrics_listen_addr, (unsigned int)b->cfg->metrics_listen_port);
	return 0;
}

void
kw_health_stop(struct kw_broker *b)
{
	struct kw_health *h = b->health;

	if (h == NULL)
		return;
	/* held /readyz requests first: freeing a listener frees its connections'
	 * requests, held ones included */
	h->hsm_ok = 0;
	h->hsm_why = "stopping";
	h->hsm_checked = mono_ms();
	answer_waiters(h);
	kw_listener_free(h->listener);
	h->listener = NULL;
}

void
kw_health_free(struct kw_broker *b)
{
	struct kw_health *h = b->health;

	if (h == NULL)
		return;
	b->health = NULL;
	if (h->deadline_ev != NULL)
		event_free(h->deadline_ev);
	SSL_CTX_free(h->ssl_ctx);
	kw_prom_out_free(&h->out);
	free(h);
}
