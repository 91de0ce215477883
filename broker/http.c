/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTTPS front: libevent's evhttp over bufferevent_openssl, TLS 1.3 only
 * unless the configuration allows 1.2; connections are bounded by
 * kw_listener (listener.c). Every answer of both listeners leaves through
 * send_body() here: the problem answers (kw_http_problem with a row of the
 * problem table, problem.c; kw_http_problem_from_err, the one mapping from
 * kw_err) and the successes (kw_http_json*, kw_http_no_content,
 * kw_http_jose). rcar.c (workload endpoints), admin.c (admin plane) and
 * listener.c (connections) know HTTP too, but name no status.
 */
#include <string.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "broker.h"
#include "health.h"
#include "listener.h"
#include "kw_json.h"
#include "kw_log.h"

/* evhttp's own cap: bodies above the configured max_body but below this get
 * our 413 problem; beyond it libevent answers 413 itself and closes. */
#define KW_HTTP_HARD_BODY_CAP (1024 * 1024)
#define KW_HTTP_MAX_HEADERS (96 * 1024)    /* a token with a 1024-certificate manifest fits */

/*
 * The one place that sends a response (scripts/checksrc.sh): body of len
 * bytes as ctype, never cached; no body and no headers when ctype is NULL.
 */
static void
send_body(struct evhttp_request *req, int status, const char *reason, const char *ctype,
    const char *body, size_t len)
{
	struct evbuffer *out = evhttp_request_get_output_buffer(req);
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	if (ctype == NULL) {
		evhttp_send_reply(req, status, reason, NULL);
		return;
	}
	evhttp_add_header(h, "Content-Type", ctype);
	evhttp_add_header(h, "Cache-Control", "no-store");
	if (evbuffer_add(out, body, len) != 0) {
		/* evbuffer_add appends all or nothing: out is empty */
		const struct kw_problem_info *pi = kw_problem_info(KW_PROBLEM_INTERNAL);
		evhttp_send_reply(req, pi->status, pi->title, out);
		return;
	}
	evhttp_send_reply(req, status, reason, out);
}

/* Send body (reference stolen) as JSON. */
static void
send_json(struct evhttp_request *req, int status, const char *reason, const char *ctype,
    json_t *body)
{
	char *s = body != NULL ? kw_json_dumps(body, JSON_COMPACT) : NULL;

	json_decref(body);
	evhttp_add_header(evhttp_request_get_output_headers(req), "X-Content-Type-Options",
	    "nosniff");
	if (s == NULL) {
		const struct kw_problem_info *pi = kw_problem_info(KW_PROBLEM_INTERNAL);
		char fallback[96];
		int n = snprintf(fallback, sizeof(fallback), "{\"title\":\"%s\",\"status\":%d}",
		    pi->title, pi->status);

		send_body(req, pi->status, pi->title, ctype, fallback,
		    n > 0 && (size_t)n < sizeof(fallback) ? (size_t)n : 0);
		return;
	}
	send_body(req, status, reason, ctype, s, strlen(s));
	free(s);
}

void
kw_http_problem(struct evhttp_request *req, enum kw_problem p, const char *detail)
{
	kw_http_problem_ext(req, p, detail, NULL);
}

void
kw_http_problem_ext(struct evhttp_request *req, enum kw_problem p, const char *detail,
    json_t *ext)
{
	const struct kw_problem_info *pi = kw_problem_info(p);
	json_t *doc;

	if (pi == NULL) {
		kw_log_err("problem %d is not in the table", (int)p);
		p = KW_PROBLEM_INTERNAL;
		pi = kw_problem_info(p);
		detail = NULL;
	}
	doc = kw_problem_json(p, detail);
	/* extension members (RFC 7807 3.2) never replace the standard ones */
	if (doc != NULL && ext != NULL && json_object_update_missing(doc, ext) != 0) {
		json_decref(doc);
		doc = NULL;    /* send_json answers 500 */
	}
	json_decref(ext);
	if (pi->retry_after != NULL)
		evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After",
		    pi->retry_after);
	send_json(req, pi->status, pi->title, "application/problem+json", doc);
}

void
kw_http_metrics(struct evhttp_request *req, const char *text, size_t len)
{
	send_body(req, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", text, len);
}

void
kw_http_json(struct evhttp_request *req, json_t *body)
{
	send_json(req, 200, "OK", "application/json", body);
}

void
kw_http_json_status(struct evhttp_request *req, int status, json_t *body)
{
	send_json(req, status, status == 201 ? "Created" : "OK", "application/json", body);
}

void
kw_http_no_content(struct evhttp_request *req)
{
	send_body(req, 204, "No Content", NULL, NULL, 0);
}

void
kw_http_jose(struct evhttp_request *req, const char *compact)
{
	send_body(req, 200, "OK", "application/jose", compact, strlen(compact));
}

void
kw_http_text(struct evhttp_request *req, const char *text)
{
	send_body(req, 200, "OK", "text/plain; charset=utf-8", text, strlen(text));
}

void
kw_http_problem_from_err(struct evhttp_request *req, int r, const char *context)
{
	enum kw_problem p = kw_problem_of_err(r);

	kw_http_problem(req, p, kw_problem_err_detail(p, context));
}

void
kw_http_attestation_failed(struct evhttp_request *req, int r)
{
	switch (r) {
	case KW_ERR_NOMEM:
	case KW_ERR_UNAVAILABLE:
	case KW_ERR_TIMEOUT:
		kw_http_problem_from_err(req, KW_ERR_UNAVAILABLE, NULL);
		break;
	case KW_ERR_INTERNAL:
		kw_http_problem_from_err(req, r, NULL);
		break;
	default:
		/* every verifier verdict (malformed, unsupported version, bad signature,
		 * chain, binding) is one answer: the evidence did not verify */
		kw_http_problem(req, KW_PROBLEM_ATTESTATION_FAILED, "attestation failed");
		break;
	}
}

void
kw_http_hsm_unavailable(struct evhttp_request *req)
{
	kw_http_problem(req, KW_PROBLEM_HSM_UNAVAILABLE, NULL);
}

int
kw_http_body_json(struct kw_broker *b, struct evhttp_request *req, json_t **ret)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	const uint8_t *p;

	if (len > b->cfg->max_body) {
		kw_http_problem(req, KW_PROBLEM_TOO_LARGE, "request body exceeds the configured limit");
		return -1;
	}
	if (len == 0) {
		kw_http_problem(req, KW_PROBLEM_MALFORMED, "empty request body");
		return -1;
	}
	if ((p = evbuffer_pullup(in, (ev_ssize_t)len)) == NULL) {
		kw_http_problem(req, KW_PROBLEM_UNAVAILABLE, "out of memory");
		return -1;
	}
	if (kw_json_parse(p, len, b->cfg->max_body, ret) != 0) {
		kw_http_problem(req, KW_PROBLEM_MALFORMED,
		    "body is not a valid JSON object (duplicate keys and deep nesting are rejected)");
		return -1;
	}
	return 0;
}

static void
method_not_allowed(struct evhttp_request *req, const char *allow)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", allow);
	kw_http_problem(req, KW_PROBLEM_METHOD_NOT_ALLOWED, NULL);
}

/* Handlers of the workload routes: rest is what the row's "{" stands for. */
static void
h_auth(struct kw_broker *b, struct evhttp_request *req, const char *rest)
{
	(void)rest;
	kw_rcar_auth(b, req);
}

static void
h_attest(struct kw_broker *b, struct evhttp_request *req, const char *rest)
{
	(void)rest;
	kw_rcar_attest(b, req);
}

static void
h_resource(struct kw_broker *b, struct evhttp_request *req, const char *rest)
{
	kw_rcar_resource(b, req, rest);
}

static void
h_jwks(struct kw_broker *b, struct evhttp_request *req, const char *rest)
{
	(void)rest;
	kw_rcar_jwks(b, req);
}

static void
h_checkpoint(struct kw_broker *b, struct evhttp_request *req, const char *rest)
{
	(void)rest;
	kw_audit_http_checkpoint(b, req, 0);
}

static void
h_checkpoint_key(struct kw_broker *b, struct evhttp_request *req, const char *rest)
{
	(void)rest;
	kw_audit_http_checkpoint(b, req, 1);
}

/* load balancers probe the workload port: both live here (and on the metrics
 * listener); /metrics never does (docs/operations.md) */
static void
h_healthz(struct kw_broker *b, struct evhttp_request *req, const char *rest)
{
	(void)rest;
	kw_health_route(b, req, KW_MET_EP_HEALTHZ);
}

static void
h_readyz(struct kw_broker *b, struct evhttp_request *req, const char *rest)
{
	(void)rest;
	kw_health_route(b, req, KW_MET_EP_READYZ);
}

/*
 * The workload listener's routes, one row per path and method, in the order
 * they are tried. A path matches exactly, or, when it has a "{", by the
 * prefix before it (the handler gets the rest, not decoded). A path that
 * matches only with other methods is 405 with Allow: those methods; no match
 * is 404. docs/openapi/workload.yaml documents every row (keywarden
 * --list-routes prints them; tests/unit/docs/check_openapi.py compares).
 */
static const struct kw_http_route routes[] = {
	{"/kbs/v0/auth", EVHTTP_REQ_POST, h_auth, KW_MET_EP_AUTH},
	{"/kbs/v0/attest", EVHTTP_REQ_POST, h_attest, KW_MET_EP_ATTEST},
	{"/kbs/v0/resource/{repository}/{type}/{tag}", EVHTTP_REQ_GET, h_resource,
	    KW_MET_EP_RESOURCE},
	{"/.well-known/jwks.json", EVHTTP_REQ_GET, h_jwks, KW_MET_EP_JWKS},
	{"/.well-known/keywarden-checkpoint", EVHTTP_REQ_GET, h_checkpoint, KW_MET_EP_CHECKPOINT},
	{"/.well-known/keywarden-checkpoint-key", EVHTTP_REQ_GET, h_checkpoint_key,
	    KW_MET_EP_CHECKPOINT_KEY},
	{"/healthz", EVHTTP_REQ_GET, h_healthz, KW_MET_EP_HEALTHZ},
	{"/readyz", EVHTTP_REQ_GET, h_readyz, KW_MET_EP_READYZ},
};

/* Does path match row's path? *ret_rest: the part a "{" stands for. */
static int
route_match(const struct kw_http_route *row, const char *path, const char **ret_rest)
{
	const char *brace = strchr(row->path, '{');

	if (brace == NULL) {
		if (strcmp(row->path, path) != 0)
			return 0;
		*ret_rest = "";
		return 1;
	}
	if (strncmp(row->path, path, (size_t)(brace - row->path)) != 0)
		return 0;
	*ret_rest = path + (brace - row->path);
	return 1;
}

static const char *
method_name(enum evhttp_cmd_type m)
{
	switch (m) {
	case EVHTTP_REQ_GET: return "GET";
	case EVHTTP_REQ_POST: return "POST";
	case EVHTTP_REQ_PUT: return "PUT";
	case EVHTTP_REQ_DELETE: return "DELETE";
	case EVHTTP_REQ_PATCH: return "PATCH";
	case EVHTTP_REQ_HEAD: return "HEAD";
	default: return "OTHER";
	}
}

void
kw_http_routes_print(FILE *f, const char *listener, const struct kw_http_route *rows, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s %s %s\n", listener, method_name(rows[i].method), rows[i].path);
}

void
kw_http_routes_list(FILE *f)
{
	kw_http_routes_print(f, "workload", routes, KW_ARRAY_SIZE(routes));
}

static void
route(struct evhttp_request *req, void *arg)
{
	struct kw_broker *b = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	enum evhttp_cmd_type m = evhttp_request_get_command(req);
	char allow[64] = "";
	const char *rest;

	if (path == NULL) {
		kw_http_problem(req, KW_PROBLEM_MALFORMED, "invalid request URI");
		return;
	}
	for (size_t i = 0; i < KW_ARRAY_SIZE(routes); i++) {
		size_t n = strlen(allow);

		if (!route_match(&routes[i], path, &rest))
			continue;
		if (n == 0)    /* the first row of this path labels the request */
			kw_listener_tag(req, routes[i].ep);
		if (routes[i].method == m) {
			routes[i].handler(b, req, rest);
			return;
		}
		snprintf(allow + n, sizeof(allow) - n, "%s%s", n > 0 ? ", " : "",
		    method_name(routes[i].method));
	}
	if (allow[0] != '\0')
		method_not_allowed(req, allow);
	else
		kw_http_problem(req, KW_PROBLEM_NOT_FOUND, "no such endpoint");
}

int
kw_http_tls_ctx(const struct kw_config *c, SSL_CTX **ret)
{
	SSL_CTX *ctx;

	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL)
		return KW_ERR_CRYPTO;
	if (!SSL_CTX_set_min_proto_version(ctx, c->tls_allow_12 ? TLS1_2_VERSION : TLS1_3_VERSION))
		goto fail;
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_TICKET);
	if (c->tls_allow_12 &&
	    !SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20"))
		goto fail;
	if (SSL_CTX_use_certificate_chain_file(ctx, c->tls_cert) != 1) {
		kw_log_err("cannot load TLS certificate chain %s", c->tls_cert);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, c->tls_key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		kw_log_err("cannot load TLS private key %s (or it does not match the certificate)",
		    c->tls_key);
		goto fail;
	}
	*ret = ctx;
	return 0;
fail:
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return KW_ERR_CONFIG;
}

/*
 * TLS records of one response leave in several small writes; with Nagle's
 * algorithm the second waits for the peer's delayed ACK (~40 ms). Accepted
 * sockets inherit TCP_NODELAY from the listener on Linux.
 */
void
kw_http_nodelay(evutil_socket_t fd)
{
	int one = 1;

	if (fd >= 0 && setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0)
		kw_log_warn("cannot set TCP_NODELAY on the listener");
}

int
kw_http_start(struct kw_broker *b)
{
	struct kw_listener_opts o;
	int r;

	if ((r = kw_http_tls_ctx(b->cfg, &b->ssl_ctx)) != 0)
		return r;
	memset(&o, 0, sizeof(o));
	o.name = "workload";
	o.addr = b->cfg->listen_addr;
	o.port = b->cfg->listen_port;
	o.ssl_ctx = b->ssl_ctx;
	o.max_connections = b->limits.max_connections;
	o.max_per_address = b->limits.max_per_address;
	o.accept_slack = KW_ACCEPT_SLACK;
	o.request_timeout = b->limits.request_timeout;
	o.max_body = KW_HTTP_HARD_BODY_CAP;
	o.max_headers = KW_HTTP_MAX_HEADERS;
	o.methods = EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_HEAD | EVHTTP_REQ_PATCH;
	o.cb = route;
	o.cbarg = b;
	if ((r = kw_listener_new(b->base, &o, &b->listener)) != 0)
		return r;
	b->http = kw_listener_evhttp(b->listener);
	evhttp_set_default_content_type(b->http, "application/json");
	kw_log_info("listening on https://%s:%u (TLS %s)", b->cfg->listen_addr,
	    (unsigned int)b->cfg->listen_port, b->cfg->tls_allow_12 ? "1.2+" : "1.3 only");
	return 0;
}

void
kw_http_stop(struct kw_broker *b)
{
	kw_listener_free(b->listener);    /* frees b->http */
	b->listener = NULL;
	b->http = NULL;
	SSL_CTX_free(b->ssl_ctx);
	b->ssl_ctx = NULL;
}
