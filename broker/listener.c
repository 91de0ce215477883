/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bounded HTTPS connections over libevent 2.1.12's evhttp (listener.h).
 *
 * evhttp 2.1.12 has no connection cap and no hook per accepted socket or per
 * new request, so this module works through the hooks it does have. What
 * each step relies on, as read in the 2.1.12 sources:
 *
 * - http.c evhttp_get_request_connection(): for every accepted socket the
 *   bevcb is called once, before the connection knows its fd (the bufferevent
 *   is created with fd -1); right after it, bufferevent_setfd(fd) and
 *   bufferevent_enable(EV_READ). If the bevcb returns NULL,
 *   evhttp_connection_base_bufferevent_new() makes a plain socket
 *   bufferevent: the connection would be served WITHOUT TLS. So conn_bevcb
 *   never returns NULL when it can avoid it: when the TLS bufferevent cannot
 *   be made it returns one end of a bufferevent pair, whose be_ops have no
 *   ctrl, so bufferevent_setfd() fails, evhttp frees the connection and
 *   evhttp_get_request() closes the socket (the pair is made with
 *   BEV_OPT_CLOSE_ON_FREE so evhttp_connection_free() does not close the fd
 *   a second time). Only if even that allocation fails is NULL returned, and
 *   then conn_request() refuses to route any request on a connection that
 *   has no admitted TLS context.
 * - bufferevent_openssl.c: BEV_CTRL_SET_FD makes a socket BIO (BIO_NOCLOSE)
 *   and calls SSL_clear(), which keeps ex_data; be_openssl_destruct() (run
 *   from bufferevent_finalize_cb_, i.e. deferred to the base's loop after
 *   bufferevent_free) closes the fd (BEV_OPT_CLOSE_ON_FREE) and then calls
 *   SSL_free(). The per-connection context is SSL ex_data whose free
 *   callback (conn_ex_free) runs inside that SSL_free, right after the
 *   descriptor is closed: that is where the counters drop.
 * - event.c: the accept callback runs from the base's active queue;
 *   event_active() appends our per-connection event to the same queue, so it
 *   runs in the same loop iteration, after evhttp has set the fd, and before
 *   the socket's read event can fire (that needs the next epoll_wait). There
 *   conn_admit() reads the fd (SSL_get_fd), getpeername()s it and enforces
 *   the caps.
 * - Closing a connection evhttp owns: never close() or free it ourselves.
 *   SO_LINGER {1, 0} and shutdown(SHUT_RDWR): the socket becomes readable
 *   (EOF), bufferevent_openssl reports an error or EOF, evhttp_error_cb ->
 *   evhttp_connection_fail_ -> evhttp_connection_incoming_fail (EOF) frees
 *   the connection; the close then sends a RST. A ClientHello already
 *   queued when we refuse is not worked on: the ClientHello callback fails
 *   the handshake of any connection not admitted (no key exchange, no
 *   signature).
 * - http.c evhttp_handle_request() calls the gencb (wrapped by
 *   conn_request) when a whole request is read, with reading disabled until
 *   the reply; evhttp_send_done() calls the request's on_complete callback
 *   before it frees or reuses the connection. When a connection fails while
 *   the user still holds the request, the request is detached (evcon NULL)
 *   and evhttp_send() later frees it without on_complete: on_complete only
 *   runs while the connection, and so our context, is alive.
 * - listener.c listener_read_cb(): accept() loops until EAGAIN, calling the
 *   callback per socket, and returns early when the callback disabled the
 *   listener; a non-retriable accept() error calls the error callback with
 *   errno intact and the evhttp as argument (hence the small registry from
 *   evconnlistener to kw_listener).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sys/resource.h>
#include <sys/socket.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <openssl/ssl.h>

#include "broker.h"
#include "conntab.h"
#include "kw_log.h"
#include "listener.h"
#include "kw_util.h"
#include "metrics.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 1000
#define REGISTRY_MAX 8
#define LIBEVENT_LOG_PER_S 10

enum conn_state { CONN_NEW, CONN_ADMITTED, CONN_CLOSING };

struct kw_conn {
	struct kw_listener *l;    /* NULL once the listener is gone (kw_listener_free) */
	struct kw_conn *prev, *next;
	SSL *ssl;                 /* borrowed: the context lives inside it */
	struct event *ev;         /* the admission check, then the request deadline */
	struct kw_conn_key key;
	enum conn_state state;
	int admitted;             /* counted in the caps */
	int64_t t_request;        /* monotonic us: the request head was read (metrics) */
	enum kw_met_endpoint tag; /* the request's endpoint (kw_listener_tag) */
};

struct kw_listener {
	char name[16];
	enum kw_met_listener met;      /* its keywarden_open_connections series */
	struct event_base *base;
	struct evhttp *http;
	struct evconnlistener *lev;    /* evhttp's */
	SSL_CTX *ctx;
	size_t max_conn, max_per_addr, slack;
	struct timeval timeout;
	void (*cb)(struct evhttp_request *, void *);
	void *cbarg;
	struct kw_conntab *tab;
	struct kw_conn *conns;         /* every context alive */
	size_t n_open;                 /* contexts alive = descriptors held */
	size_t n_admitted;
	size_t peak_admitted;
	int paused_full, paused_err, closing;
	unsigned int backoff_ms;
	struct event *resume_ev, *report_ev;
	int report_armed;
	/* since the last report */
	unsigned long w_addr, w_full, w_deadline, w_plain, w_err;
	int w_errno;
	char w_peer[KW_CONN_KEY_STR_MAX];
	/* totals */
	unsigned long t_accepted, t_addr, t_full, t_deadline, t_plain, t_err;
};

static int conn_idx = -1;
static pthread_once_t conn_idx_once = PTHREAD_ONCE_INIT;

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	struct evconnlistener *lev;
	struct kw_listener *l;
} registry[REGISTRY_MAX];

/* ---- the per-connection context (SSL ex_data) ---- */

static void conn_release(struct kw_conn *c);

static void
conn_ex_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	if (ptr == NULL)
		return;
	if (((struct kw_conn *)ptr)->l == NULL)
		free(ptr);    /* orphaned by kw_listener_free, which freed its event */
	else
		conn_release(ptr);
}

static void
conn_idx_init(void)
{
	conn_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, conn_ex_free);
}

static struct kw_conn *
conn_of_ssl(SSL *ssl)
{
	return ssl != NULL ? SSL_get_ex_data(ssl, conn_idx) : NULL;
}

static struct kw_conn *
conn_of_req(struct evhttp_request *req)
{
	struct evhttp_connection *con = evhttp_request_get_connection(req);
	struct bufferevent *bev = con != NULL ? evhttp_connection_get_bufferevent(con) : NULL;

	/* bufferevent_openssl_get_ssl() is NULL for a bufferevent that is not TLS */
	return bev != NULL ? conn_of_ssl(bufferevent_openssl_get_ssl(bev)) : NULL;
}

/* Reset fd's connection; evhttp sees EOF and frees it (see the top). */
static void
reset_fd(evutil_socket_t fd)
{
	struct linger lg = {1, 0};

	if (fd < 0)
		return;
	(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	(void)shutdown(fd, SHUT_RDWR);
}

static void
report_arm(struct kw_listener *l)
{
	static const struct timeval one_s = {1, 0};

	if (!l->report_armed && event_add(l->report_ev, &one_s) == 0)
		l->report_armed = 1;
}

static void
pause_set(struct kw_listener *l)
{
	if (l->lev != NULL && !l->closing)
		(void)evconnlistener_disable(l->lev);
}

static void
pause_clear(struct kw_listener *l)
{
	if (l->lev != NULL && !l->closing && !l->paused_full && !l->paused_err)
		(void)evconnlistener_enable(l->lev);
}

static void
conn_release(struct kw_conn *c)
{
	struct kw_listener *l = c->l;

	if (c->admitted) {
		kw_conntab_del(l->tab, &c->key);
		l->n_admitted--;
	}
	l->n_open--;
	kw_metrics_conn(l->met, -1);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		l->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	event_free(c->ev);
	free(c);
	if (l->paused_full && l->n_open < l->max_conn + l->slack) {
		l->paused_full = 0;
		pause_clear(l);
	}
}

static void
conn_close(struct kw_conn *c)
{
	c->state = CONN_CLOSING;
	event_del(c->ev);
	reset_fd(SSL_get_fd(c->ssl));
}

/* Right after accept, before any byte is read: enforce the caps. */
static void
conn_admit(struct kw_conn *c)
{
	struct kw_listener *l = c->l;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd = SSL_get_fd(c->ssl);

	if (fd < 0) {
		c->state = CONN_CLOSING;    /* evhttp failed to set it up and is freeing it */
		return;
	}
	if (getpeername(fd, (struct sockaddr *)&ss, &len) != 0) {
		conn_close(c);              /* already reset by the peer */
		return;
	}
	kw_conn_key_from_sockaddr((struct sockaddr *)&ss, len, &c->key);
	if (l->n_admitted >= l->max_conn) {
		l->w_full++;
		l->t_full++;
		conn_close(c);
		report_arm(l);
		return;
	}
	if (kw_conntab_add(l->tab, &c->key, l->max_per_addr) != 0) {
		l->w_addr++;
		l->t_addr++;
		kw_conn_key_format(&c->key, l->w_peer, sizeof(l->w_peer));
		conn_close(c);
		report_arm(l);
		return;
	}
	c->admitted = 1;
	c->state = CONN_ADMITTED;
	if (++l->n_admitted > l->peak_admitted)
		l->peak_admitted = l->n_admitted;
	if (event_add(c->ev, &l->timeout) != 0)
		conn_close(c);
}

static void
conn_event(evutil_socket_t fd, short what, void *arg)
{
	struct kw_conn *c = arg;

	(void)fd;
	(void)what;
	switch (c->state) {
	case CONN_NEW:
		conn_admit(c);
		break;
	case CONN_ADMITTED:
		/* the request deadline passed, however many bytes trickled in */
		c->l->w_deadline++;
		c->l->t_deadline++;
		conn_close(c);
		report_arm(c->l);
		break;
	case CONN_CLOSING:
		break;
	}
}

/* ClientHello callback: no handshake work for a connection not admitted. */
static int
conn_client_hello(SSL *ssl, int *al, void *arg)
{
	struct kw_conn *c = conn_of_ssl(ssl);

	(void)arg;
	if (c == NULL || c->state != CONN_ADMITTED) {
		*al = SSL_AD_HANDSHAKE_FAILURE;
		return SSL_CLIENT_HELLO_ERROR;
	}
	return SSL_CLIENT_HELLO_SUCCESS;
}

/* A connection evhttp can take that can never carry a request (see the top). */
static struct bufferevent *
refuser(struct event_base *base)
{
	struct bufferevent *pair[2];

	if (bufferevent_pair_new(base, BEV_OPT_CLOSE_ON_FREE, pair) != 0)
		return NULL;
	bufferevent_free(pair[1]);
	return pair[0];
}

static struct bufferevent *
conn_bevcb(struct event_base *base, void *arg)
{
	struct kw_listener *l = arg;
	struct bufferevent *bev = NULL;
	struct kw_conn *c;
	SSL *ssl;

	l->t_accepted++;
	l->backoff_ms = 0;    /* accept() works again */
	if ((c = calloc(1, sizeof(*c))) == NULL)
		goto refuse;
	if ((c->ev = event_new(base, -1, 0, conn_event, c)) == NULL)
		goto refuse;
	if ((ssl = SSL_new(l->ctx)) == NULL)
		goto refuse;
	/* ssl is owned by bev, or freed by the call when it fails (CLOSE_ON_FREE) */
	bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
	    BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL)
		goto refuse;
	c->l = l;
	c->ssl = ssl;
	c->state = CONN_NEW;
	if (SSL_set_ex_data(ssl, conn_idx, c) != 1) {
		bufferevent_free(bev);    /* its SSL_free sees no context */
		goto refuse;
	}
	/* c is owned by ssl now: conn_ex_free releases it */
	c->next = l->conns;
	if (c->next != NULL)
		c->next->prev = c;
	l->conns = c;
	l->n_open++;
	kw_metrics_conn(l->met, 1);
	event_active(c->ev, EV_TIMEOUT, 0);
	if (l->n_open >= l->max_conn + l->slack && !l->paused_full) {
		/* descriptors for this listener are used up: stop accepting until
		 * refused connections are closed (listener_read_cb returns now) */
		l->paused_full = 1;
		pause_set(l);
	}
	return bev;
refuse:
	if (c != NULL) {
		if (c->ev != NULL)
			event_free(c->ev);
		free(c);
	}
	l->w_plain++;
	l->t_plain++;
	report_arm(l);
	return refuser(base);
}

void
kw_listener_tag(struct evhttp_request *req, enum kw_met_endpoint ep)
{
	struct kw_conn *c = conn_of_req(req);

	if (c != NULL)
		c->tag = ep;
}

/* on_complete: the response is written (counted); keep-alive idle + next request. */
static void
conn_complete(struct evhttp_request *req, void *arg)
{
	struct kw_conn *c = arg;

	kw_metrics_request(c->tag, evhttp_request_get_response_code(req),
	    (uint64_t)(kw_mono_us() - c->t_request));
	if (c->state == CONN_ADMITTED && event_add(c->ev, &c->l->timeout) != 0)
		conn_close(c);
}

/* The gencb: every complete request passes here first. */
static void
conn_request(struct evhttp_request *req, void *arg)
{
	struct kw_listener *l = arg;
	struct kw_conn *c = conn_of_req(req);

	if (c == NULL || c->state != CONN_ADMITTED) {
		/* no admitted TLS context: never route it. Reset the socket and
		 * let the (undeliverable) reply release the request. */
		struct evhttp_connection *con = evhttp_request_get_connection(req);
		struct bufferevent *bev = con != NULL ? evhttp_connection_get_bufferevent(con) : NULL;

		if (c == NULL) {
			l->w_plain++;
			l->t_plain++;
			report_arm(l);
		}
		reset_fd(bev != NULL ? bufferevent_getfd(bev) : -1);
		evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
		kw_http_problem(req, KW_PROBLEM_MALFORMED, "no TLS session");
		return;
	}
	event_del(c->ev);    /* the request is the callback's now */
	c->t_request = kw_mono_us();
	c->tag = l->met == KW_MET_L_ADMIN ? KW_MET_EP_ADMIN : KW_MET_EP_OTHER;
	evhttp_request_set_on_complete_cb(req, conn_complete, c);
	l->cb(req, l->cbarg);
}

/* ---- accept() errors ---- */

static void
resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct kw_listener *l = arg;

	(void)fd;
	(void)what;
	l->paused_err = 0;
	pause_clear(l);
}

static struct kw_listener *
registry_find(struct evconnlistener *lev)
{
	struct kw_listener *l = NULL;

	pthread_mutex_lock(&registry_lock);
	for (size_t i = 0; i < REGISTRY_MAX; i++)
		if (registry[i].lev == lev)
			l = registry[i].l;
	pthread_mutex_unlock(&registry_lock);
	return l;
}

static void
accept_error(struct evconnlistener *lev, void *arg)
{
	int err = errno;    /* intact from accept() (see the top) */
	struct kw_listener *l = registry_find(lev);
	struct timeval tv;

	(void)arg;    /* the evhttp */
	if (l == NULL) {
		(void)evconnlistener_disable(lev);    /* cannot happen; never spin */
		return;
	}
	l->w_err++;
	l->t_err++;
	l->w_errno = err;
	/* EMFILE, ENFILE, ENOBUFS, ENOMEM and anything else not retriable: the
	 * socket stays readable, so retrying now would spin; pause instead */
	l->backoff_ms = l->backoff_ms == 0 ? BACKOFF_MIN_MS :
	    l->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : l->backoff_ms * 2;
	l->paused_err = 1;
	(void)evconnlistener_disable(lev);
	tv.tv_sec = l->backoff_ms / 1000;
	tv.tv_usec = (suseconds_t)(l->backoff_ms % 1000) * 1000;
	if (event_add(l->resume_ev, &tv) != 0) {
		l->paused_err = 0;
		pause_clear(l);
	}
	report_arm(l);
}

/* ---- the once-a-second report ---- */

static void
report_cb(evutil_socket_t fd, short what, void *arg)
{
	struct kw_listener *l = arg;
	char buf[160];

	(void)fd;
	(void)what;
	l->report_armed = 0;
	if (l->w_err > 0) {
		const char *es = strerror_r(l->w_errno, buf, sizeof(buf));    /* GNU: returns the text */
		kw_log_warn("%s listener: accept() failed %lu time(s) in the last second (last: %s); "
		    "pausing it %u ms (backs off up to %d ms); %zu connections open", l->name,
		    l->w_err, es, l->backoff_ms, BACKOFF_MAX_MS, l->n_admitted);
	}
	if (l->w_addr > 0 || l->w_full > 0 || l->w_plain > 0)
		kw_log_warn("%s listener: in the last second refused %lu connection(s) over the "
		    "per-address cap of %zu (last from %s), %lu at the listener cap of %zu, %lu "
		    "without a TLS context; closed %lu at the %ld s request deadline; %zu open",
		    l->name, l->w_addr, l->max_per_addr, l->w_addr > 0 ? l->w_peer : "-", l->w_full,
		    l->max_conn, l->w_plain, l->w_deadline, (long)l->timeout.tv_sec, l->n_admitted);
	else if (l->w_deadline > 0)
		kw_log_info("%s listener: closed %lu connection(s) at the %ld s request deadline in "
		    "the last second; %zu open", l->name, l->w_deadline, (long)l->timeout.tv_sec,
		    l->n_admitted);
	l->w_addr = l->w_full = l->w_deadline = l->w_plain = l->w_err = 0;
}

/* ---- the listener ---- */

int
kw_listener_new(struct event_base *base, const struct kw_listener_opts *o,
    struct kw_listener **ret)
{
	struct kw_listener *l;
	struct evhttp_bound_socket *bound;
	size_t i;
	int r = KW_ERR_NOMEM;

	pthread_once(&conn_idx_once, conn_idx_init);
	if (conn_idx < 0)
		return KW_ERR_CRYPTO;
	if (o->max_connections == 0 || o->max_per_address == 0 || o->request_timeout == 0 ||
	    o->accept_slack == 0 || o->cb == NULL || o->ssl_ctx == NULL)
		return KW_ERR_INVALID_ARG;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return KW_ERR_NOMEM;
	snprintf(l->name, sizeof(l->name), "%s", o->name);
	l->met = strcmp(o->name, "admin") == 0 ? KW_MET_L_ADMIN :
	    strcmp(o->name, "metrics") == 0 ? KW_MET_L_METRICS : KW_MET_L_WORKLOAD;
	l->base = base;
	l->ctx = o->ssl_ctx;
	l->max_conn = o->max_connections;
	l->max_per_addr = o->max_per_address;
	l->slack = o->accept_slack;
	l->timeout.tv_sec = (time_t)o->request_timeout;
	l->cb = o->cb;
	l->cbarg = o->cbarg;
	if ((r = kw_conntab_new(l->max_conn, &l->tab)) != 0)
		goto fail;
	r = KW_ERR_NOMEM;
	if ((l->resume_ev = evtimer_new(base, resume_cb, l)) == NULL ||
	    (l->report_ev = evtimer_new(base, report_cb, l)) == NULL ||
	    (l->http = evhttp_new(base)) == NULL)
		goto fail;
	SSL_CTX_set_client_hello_cb(l->ctx, conn_client_hello, NULL);
	/* no server-side session state per connection: with TLS 1.3,
	 * SSL_OP_NO_TICKET alone makes OpenSSL issue stateful tickets, kept in
	 * the session cache (20480 sessions by default), which a connection
	 * flood would fill; clients here do a full handshake each time. Idle
	 * connections give their record buffers back (measured: 29 -> 16 KiB
	 * of RSS per open connection after the handshake) */
	if (SSL_CTX_set_num_tickets(l->ctx, 0) != 1)
		goto fail;
	(void)SSL_CTX_set_session_cache_mode(l->ctx, SSL_SESS_CACHE_OFF);
	(void)SSL_CTX_set_mode(l->ctx, SSL_MODE_RELEASE_BUFFERS);
	evhttp_set_bevcb(l->http, conn_bevcb, l);
	evhttp_set_gencb(l->http, conn_request, l);
	evhttp_set_max_body_size(l->http, (ev_ssize_t)o->max_body);
	evhttp_set_max_headers_size(l->http, (ev_ssize_t)o->max_headers);
	/* evhttp's own timeout restarts on every byte; ours (conn_event) does
	 * not and fires first. Theirs stays as the bound on writing a reply. */
	evhttp_set_timeout(l->http, (int)o->request_timeout + 1);
	evhttp_set_allowed_methods(l->http, o->methods);
	if ((bound = evhttp_bind_socket_with_handle(l->http, o->addr, o->port)) == NULL) {
		kw_log_err("cannot listen on %s port %u (%s)", o->addr, (unsigned int)o->port,
		    l->name);
		r = KW_ERR_IO;
		goto fail;
	}
	kw_http_nodelay(evhttp_bound_socket_get_fd(bound));
	l->lev = evhttp_bound_socket_get_listener(bound);
	pthread_mutex_lock(&registry_lock);
	for (i = 0; i < REGISTRY_MAX && registry[i].lev != NULL; i++)
		;
	if (i < REGISTRY_MAX) {
		registry[i].lev = l->lev;
		registry[i].l = l;
	}
	pthread_mutex_unlock(&registry_lock);
	if (i == REGISTRY_MAX) {
		r = KW_ERR_INTERNAL;
		goto fail;
	}
	evconnlistener_set_error_cb(l->lev, accept_error);
	*ret = l;
	return 0;
fail:
	kw_listener_free(l);
	return r;
}

struct evhttp *
kw_listener_evhttp(struct kw_listener *l)
{
	return l->http;
}

void
kw_listener_free(struct kw_listener *l)
{
	if (l == NULL)
		return;
	l->closing = 1;
	pthread_mutex_lock(&registry_lock);
	for (size_t i = 0; i < REGISTRY_MAX; i++)
		if (registry[i].l == l) {
			registry[i].lev = NULL;
			registry[i].l = NULL;
		}
	pthread_mutex_unlock(&registry_lock);
	if (l->http != NULL) {
		/* frees every connection; their bufferevents are finalized (fd
		 * closed, SSL_free, conn_ex_free) later, from the base's loop or by
		 * event_base_free. Orphan the contexts now: their events are freed
		 * while the base is whole, and conn_ex_free then only frees them */
		evhttp_free(l->http);
		l->http = NULL;
	}
	while (l->conns != NULL) {
		struct kw_conn *c = l->conns;

		l->conns = c->next;
		kw_metrics_conn(l->met, -1);    /* orphaned: conn_release will not run */
		event_free(c->ev);
		c->ev = NULL;
		c->l = NULL;
		c->prev = c->next = NULL;
	}
	if (l->t_accepted > 0)
		kw_log_info("%s listener: %lu connections accepted, %lu refused over the per-address "
		    "cap, %lu at the listener cap, %lu without a TLS context, %lu closed at the "
		    "request deadline, %lu accept() errors; at most %zu open at once", l->name,
		    l->t_accepted, l->t_addr, l->t_full, l->t_plain, l->t_deadline, l->t_err,
		    l->peak_admitted);
	if (l->resume_ev != NULL)
		event_free(l->resume_ev);
	if (l->report_ev != NULL)
		event_free(l->report_ev);
	kw_conntab_free(l->tab);
	free(l);
}

void
kw_listener_drain(struct event_base *base)
{
	/* a deferred callback may queue a finalizer, which needs one more pass */
	for (int i = 0; base != NULL && i < 4; i++)
		if (event_base_loop(base, EVLOOP_NONBLOCK) != 0)
			break;    /* nothing left */
}

/* ---- process-wide ---- */

int
kw_nofile_raise(size_t *ret)
{
	struct rlimit rl;
	rlim_t want;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return KW_ERR_IO;
	/* the kernel never grants more than fs.nr_open (1048576 by default) */
	want = rl.rlim_max == RLIM_INFINITY ? 1048576 : rl.rlim_max;
	if (rl.rlim_cur < want) {
		struct rlimit nl = {want, rl.rlim_max};
		if (setrlimit(RLIMIT_NOFILE, &nl) == 0)
			rl.rlim_cur = want;
		else
			kw_log_warn("cannot raise RLIMIT_NOFILE from %llu to %llu",
			    (unsigned long long)rl.rlim_cur, (unsigned long long)want);
	}
	*ret = rl.rlim_cur == RLIM_INFINITY ? 1048576 : (size_t)rl.rlim_cur;
	return 0;
}

static pthread_mutex_t evlog_lock = PTHREAD_MUTEX_INITIALIZER;
static time_t evlog_window;
static unsigned long evlog_n, evlog_dropped;

static void
libevent_log(int severity, const char *msg)
{
	struct timespec now;
	unsigned long dropped = 0;
	int emit;

	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&evlog_lock);
	if (now.tv_sec != evlog_window) {
		dropped = evlog_dropped;
		evlog_window = now.tv_sec;
		evlog_n = 0;
		evlog_dropped = 0;
	}
	emit = evlog_n < LIBEVENT_LOG_PER_S;
	if (emit)
		evlog_n++;
	else
		evlog_dropped++;
	pthread_mutex_unlock(&evlog_lock);
	if (dropped > 0)
		kw_log_warn("libevent: %lu message(s) suppressed in the previous second", dropped);
	if (!emit)
		return;
	switch (severity) {
	case EVENT_LOG_ERR:
		kw_log_err("libevent: %.200s", msg);
		break;
	case EVENT_LOG_WARN:
		kw_log_warn("libevent: %.200s", msg);
		break;
	case EVENT_LOG_MSG:
		kw_log_info("libevent: %.200s", msg);
		break;
	default:
		kw_log_debug("libevent: %.200s", msg);
		break;
	}
}

void
kw_listener_libevent_log(void)
{
	event_set_log_callback(libevent_log);
}
