/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_HEALTH_H
#define KW_HEALTH_H

#include <event2/http.h>

#include <stdint.h>
#include <stdio.h>

#include "kw_err.h"
#include "metrics.h"

/*
 * /healthz, /readyz, /metrics and the metrics listener (health.c,
 * docs/operations.md "Health and readiness"). Loop thread, except
 * kw_health_admin_metrics (the admin thread).
 */
struct kw_broker;
struct kw_health;

/* Connections of the metrics listener (a scraper or two, and probes). */
#define KW_METRICS_MAX_CONNECTIONS 16

/*
 * After the HSM client, the token keys and the workload listener: the
 * readiness state, the HSM observer, and the metrics listener when
 * metrics.listen is set. On failure b->health may be set: kw_health_stop
 * and kw_health_free clean up.
 */
int kw_health_start(struct kw_broker *b) KW_WUR;
/* The loop stopped: close the metrics listener, answer /readyz requests still held. */
void kw_health_stop(struct kw_broker *b);
/* After hsm_client_free (a probe's callback may still run until then); NULL-safe. */
void kw_health_free(struct kw_broker *b);

/*
 * The readiness rule for TDX collateral (pure): ready when TDX is not
 * configured; mode "offline": when valid collateral was loaded (fresh);
 * "pcs"/"pccs" (fetched on demand): unless fetches failed since the last
 * copy was fetched or loaded (failures_since > 0).
 */
int kw_health_collateral_ok(int tdx_enabled, const char *mode, int fresh, uint64_t failures_since);

/* Answer a GET of /healthz, /readyz or /metrics (ep) on the loop. */
void kw_health_route(struct kw_broker *b, struct evhttp_request *req, enum kw_met_endpoint ep);
/* Answer GET /metrics on the admin listener (metrics.on_admin), on the admin thread. */
void kw_health_admin_metrics(struct evhttp_request *req);

/* The metrics listener's routes, one per line (keywarden --list-routes). */
void kw_health_routes_list(FILE *f);

#endif
