/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_LISTENER_H
#define KW_LISTENER_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/http.h>
#include <openssl/ssl.h>

#include "kw_err.h"
#include "metrics.h"

/*
 * kw_listener: one HTTPS listener (evhttp over bufferevent_openssl) with
 * bounded connections, used by the workload listener (http.c) and the admin
 * listener (admin.c). It adds what evhttp 2.1 lacks:
 *   - a cap on open connections and one per client address (conntab.h);
 *     over either, the accepted socket is reset before any TLS byte;
 *   - a request deadline that does not restart on each byte: armed at
 *     accept (TLS handshake + first request head and body) and again when a
 *     response is complete (keep-alive idle + the next request), disarmed
 *     while the request callback owns the request;
 *   - accept() errors back off (listener paused 100 ms doubling to 1 s) and
 *     are logged at most once a second with a count;
 *   - a connection whose TLS state cannot be set up is refused, never
 *     served in plaintext.
 * A listener lives on one event_base and is used only by the thread that
 * runs that base (and by whoever creates and frees it while it is not
 * running).
 */
struct kw_listener;

struct kw_listener_opts {
	const char *name;             /* "workload", "admin": in log lines */
	const char *addr;
	uint16_t port;
	SSL_CTX *ssl_ctx;             /* borrowed; must outlive the listener. The listener
	                                 installs its ClientHello callback on it, turns
	                                 off session tickets and the session cache, and
	                                 sets SSL_MODE_RELEASE_BUFFERS */
	size_t max_connections;
	size_t max_per_address;
	size_t accept_slack;          /* accepted sockets still being refused, beyond
	                                 max_connections; at that many descriptors the
	                                 listener stops accepting for a moment */
	unsigned int request_timeout; /* seconds */
	size_t max_body;              /* evhttp's caps */
	size_t max_headers;
	uint16_t methods;             /* evhttp_set_allowed_methods */
	void (*cb)(struct evhttp_request *req, void *arg);   /* every request */
	void *cbarg;
};

/* Bind and start accepting on base. Nothing in *ret on failure (logged). */
int kw_listener_new(struct event_base *base, const struct kw_listener_opts *o,
    struct kw_listener **ret) KW_WUR;
/*
 * Name the endpoint req is counted under in keywarden_requests_total and
 * keywarden_request_duration_seconds (metrics.h) when its answer is written;
 * untagged requests count as "other" (on the admin listener: "/admin/v1/..." ).
 * Call it from the request callback, on the listener's thread.
 */
void kw_listener_tag(struct evhttp_request *req, enum kw_met_endpoint ep);

/* The evhttp (owned by the listener) for further settings. */
struct evhttp *kw_listener_evhttp(struct kw_listener *l);
/*
 * Close the listener and every connection and log its totals; call it on
 * the base's thread or while the base is not running. The connections'
 * bufferevents are finalized later by the base (event_base_free at the
 * latest). NULL-safe.
 */
void kw_listener_free(struct kw_listener *l);

/*
 * After the listeners on base are freed and nothing else of the program is
 * left on it: let libevent run what connection teardown it still has queued
 * (deferred bufferevent callbacks hold references; finalizers close the
 * sockets and free the TLS state) so that event_base_free() leaves nothing
 * behind. Bounded: a few non-blocking loop passes.
 */
void kw_listener_drain(struct event_base *base);

/*
 * Raise RLIMIT_NOFILE's soft limit to the hard limit; *ret is the soft
 * limit in force afterwards (also when raising failed, which is logged).
 */
int kw_nofile_raise(size_t *ret) KW_WUR;

/* Send libevent's own log messages through kw_log, at most 10 a second. */
void kw_listener_libevent_log(void);

#endif
