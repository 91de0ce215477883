/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hsm_client.h"
#include "hsm_proto.h"
#include "kw_json.h"
#include "kw_log.h"
#include "kw_util.h"

#define SYNC_TIMEOUT_MS 60000
#define STOP_GRACE_MS 2000
#define READ_BATCH 64 /* replies per read callback, for fairness */

extern char **environ;

struct hsm_call {
	TAILQ_ENTRY(hsm_call) q;
	uint32_t id;
	hsm_client_cb cb;
	void *arg;
	char *msg; /* serialized request until sent, then NULL */
	size_t len;
};
TAILQ_HEAD(hsm_call_list, hsm_call);

struct hsm_client {
	struct event_base *base;
	char **argv, **envp;     /* built once; used after fork without allocating */
	int fd;                  /* -1 while no helper runs */
	pid_t pid;
	struct event *ev_read, *ev_write;
	struct hsm_call_list pending; /* sent or unsent, in id order */
	struct hsm_call *unsent;      /* first call not yet written, or NULL */
	uint32_t next_id;
	json_t *probe;
	uint8_t *rbuf;
};

static void read_cb(evutil_socket_t fd, short what, void *arg);
static void write_cb(evutil_socket_t fd, short what, void *arg);

static void
call_free(struct hsm_call *call)
{
	if (call == NULL)
		return;
	if (call->msg != NULL)
		kw_free_wipe(call->msg);
	free(call);
}

static void
strv_free(char **v)
{
	if (v == NULL)
		return;
	for (char **p = v; *p != NULL; p++)
		free(*p);
	free(v);
}

/* Wait for pid up to ms milliseconds, then SIGKILL it and reap. */
static void
reap(pid_t pid, int ms)
{
	struct timespec ts = {0, 10 * 1000 * 1000};
	int st;

	for (int waited = 0; waited < ms; waited += 10) {
		pid_t w = waitpid(pid, &st, WNOHANG);

		if (w == pid || (w < 0 && errno != EINTR))
			goto done;
		nanosleep(&ts, NULL);
	}
	(void)kill(pid, SIGKILL);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
done:
	kw_log_debug("helper %ld ended", (long)pid);
}

/*
 * The helper is gone (EOF, socket error, protocol violation) or being
 * stopped: close the socket, make sure the process is reaped, and fail
 * every pending call with KW_ERR_UNAVAILABLE. The list is detached first,
 * so callbacks may call hsm_client_call() (which respawns).
 */
static void
helper_down(struct hsm_client *c, int grace_ms)
{
	struct hsm_call_list failed;
	struct hsm_call *call;

	if (c->ev_read != NULL)
		event_free(c->ev_read);
	if (c->ev_write != NULL)
		event_free(c->ev_write);
	c->ev_read = c->ev_write = NULL;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	if (c->pid > 0) {
		if (grace_ms == 0)
			(void)kill(c->pid, SIGKILL);
		reap(c->pid, grace_ms);
	}
	c->pid = -1;
	TAILQ_INIT(&failed);
	TAILQ_CONCAT(&failed, &c->pending, q);
	c->unsent = NULL;
	while ((call = TAILQ_FIRST(&failed)) != NULL) {
		TAILQ_REMOVE(&failed, call, q);
		if (call->cb != NULL)
			call->cb(KW_ERR_UNAVAILABLE, NULL, call->arg);
		call_free(call);
	}
}

static int
spawn(struct hsm_client *c)
{
	int sv[2] = {-1, -1}, fl;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
		kw_log_err("socketpair: %s", strerror(errno));
		return KW_ERR_UNAVAILABLE;
	}
	if ((pid = fork()) < 0) {
		kw_log_err("fork: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return KW_ERR_UNAVAILABLE;
	}
	if (pid == 0) {
		/* Child: async-signal-safe calls only (the broker may be threaded). */
		sigset_t all;
		struct sigaction dfl;

		memset(&dfl, 0, sizeof(dfl));
		dfl.sa_handler = SIG_DFL;
		(void)sigaction(SIGPIPE, &dfl, NULL);
		(void)sigaction(SIGCHLD, &dfl, NULL);
		sigemptyset(&all);
		(void)sigprocmask(SIG_SETMASK, &all, NULL);
		if (sv[1] == HSM_PROTO_FD) {
			if (fcntl(HSM_PROTO_FD, F_SETFD, 0) != 0)
				_exit(127);
		} else if (dup2(sv[1], HSM_PROTO_FD) != HSM_PROTO_FD) {
			_exit(127);
		}
		if (close_range(HSM_PROTO_FD + 1, ~0U, 0) != 0) {
			for (int fd = HSM_PROTO_FD + 1; fd < 65536; fd++)
				(void)close(fd);
		}
		execve(c->argv[0], c->argv, c->envp);
		_exit(127);
	}
	close(sv[1]);
	c->fd = sv[0];
	c->pid = pid;
	if ((fl = fcntl(c->fd, F_GETFL)) < 0 || fcntl(c->fd, F_SETFL, fl | O_NONBLOCK) != 0)
		goto fail;
	c->ev_read = event_new(c->base, c->fd, EV_READ | EV_PERSIST, read_cb, c);
	c->ev_write = event_new(c->base, c->fd, EV_WRITE | EV_PERSIST, write_cb, c);
	if (c->ev_read == NULL || c->ev_write == NULL || event_add(c->ev_read, NULL) != 0)
		goto fail;
	kw_log_debug("helper %ld started", (long)pid);
	return 0;
fail:
	helper_down(c, 0);
	return KW_ERR_UNAVAILABLE;
}

/* Write queued requests until the socket is full; never blocks. */
static void
flush(struct hsm_client *c)
{
	while (c->unsent != NULL) {
		struct hsm_call *call = c->unsent;
		ssize_t n = send(c->fd, call->msg, call->len, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			(void)event_add(c->ev_write, NULL);
			return;
		}
		if (n < 0 || (size_t)n != call->len) {
			/* The helper is gone: let the read path see EOF and fail the calls. */
			kw_log_debug("send: %s", n < 0 ? strerror(errno) : "short write");
			(void)event_del(c->ev_write);
			event_active(c->ev_read, EV_READ, 0);
			return;
		}
		kw_free_wipe(call->msg);
		call->msg = NULL;
		c->unsent = TAILQ_NEXT(call, q);
	}
	(void)event_del(c->ev_write);
}

static void
write_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	flush(arg);
}

/* Complete the call a reply answers. KW_ERR_INVALID_FORMAT on a protocol violation. */
static int
dispatch(struct hsm_client *c, const uint8_t *buf, size_t len)
{
	struct hsm_call *call;
	json_t *o = NULL;
	int64_t id, err;
	int ok, r;
	const char *detail;

	if ((r = kw_json_parse(buf, len, HSM_PROTO_MAX, &o)) != 0)
		goto out;
	r = KW_ERR_INVALID_FORMAT;
	if (kw_json_get_int(o, "id", &id) != 0 || id < 0 || id > UINT32_MAX ||
	    kw_json_get_bool(o, "ok", &ok) != 0)
		goto out;
	TAILQ_FOREACH(call, &c->pending, q) {
		if (call->id == (uint32_t)id && call->msg == NULL)
			break;
	}
	if (call == NULL) {
		kw_log_warn("helper reply for unknown request %lld", (long long)id);
		r = 0;
		goto out;
	}
	if (!ok) {
		if (kw_json_get_int(o, "error", &err) != 0 || err >= 0 || err <= KW_ERR__LAST)
			err = KW_ERR_HSM;
		if (kw_json_get_str(o, "detail", &detail, NULL) == 0) {
			char esc[256];

			kw_log_escape(detail, 120, esc, sizeof(esc));
			kw_log_debug("request %u failed: %s ('%s')", call->id, kw_strerror((int)err), esc);
		}
	}
	TAILQ_REMOVE(&c->pending, call, q);
	if (call->cb != NULL)
		call->cb(ok ? 0 : (int)err, ok ? o : NULL, call->arg);
	call_free(call);
	r = 0;
out:
	json_decref(o);
	return r;
}

/* Read available replies; returns false when the helper was declared down. */
static bool
read_some(struct hsm_client *c)
{
	for (int i = 0; i < READ_BATCH; i++) {
		ssize_t n = recv(c->fd, c->rbuf, HSM_PROTO_MAX, MSG_DONTWAIT | MSG_TRUNC);
		int r;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return true;
		if (n <= 0 || (size_t)n > HSM_PROTO_MAX) {
			if (n > 0)
				kw_log_err("helper reply too large; restarting it");
			else
				kw_log_warn("helper %ld went away (%s)", (long)c->pid,
				    n == 0 ? "EOF" : strerror(errno));
			helper_down(c, 0);
			return false;
		}
		r = dispatch(c, c->rbuf, (size_t)n);
		kw_wipe(c->rbuf, (size_t)n);    /* replies may carry random bytes */
		if (r != 0) {
			kw_log_err_r(r, "malformed helper reply; restarting it");
			helper_down(c, 0);
			return false;
		}
		if (c->fd < 0)
			return false;    /* a callback freed nothing but the helper is gone */
	}
	return true;
}

static void
read_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)read_some(arg);
}

/* Queue a request (stolen) with the next id; spawns the helper if needed. */
static int
enqueue(struct hsm_client *c, json_t *req, hsm_client_cb cb, void *arg, uint32_t *ret_id)
{
	struct hsm_call *call = NULL;
	char *msg = NULL;
	int r = KW_ERR_NOMEM;

	if (req == NULL || !json_is_object(req)) {
		r = KW_ERR_INVALID_ARG;
		goto out;
	}
	if (c->next_id == 0)
		c->next_id = 1;    /* 0 is the helper's "no id" */
	if (json_object_set_new(req, "id", json_integer(c->next_id)) != 0)
		goto out;
	if ((msg = json_dumps(req, JSON_COMPACT)) == NULL)
		goto out;
	if (strlen(msg) > HSM_PROTO_MAX) {
		r = KW_ERR_TOO_LARGE;
		goto out;
	}
	if (c->fd < 0 && (r = spawn(c)) != 0)
		goto out;
	if ((call = calloc(1, sizeof(*call))) == NULL) {
		r = KW_ERR_NOMEM;
		goto out;
	}
	call->id = c->next_id++;
	call->cb = cb;
	call->arg = arg;
	call->len = strlen(msg);
	call->msg = msg;
	msg = NULL;    /* transferred */
	TAILQ_INSERT_TAIL(&c->pending, call, q);
	if (c->unsent == NULL)
		c->unsent = call;
	*ret_id = call->id;
	flush(c);
	r = 0;
out:
	if (msg != NULL)
		kw_free_wipe(msg);
	json_decref(req);
	return r;
}

int
hsm_client_call(struct hsm_client *c, json_t *req, hsm_client_cb cb, void *arg)
{
	uint32_t id;

	if (cb == NULL) {
		json_decref(req);
		return KW_ERR_INVALID_ARG;
	}
	return enqueue(c, req, cb, arg, &id);
}

struct sync_state {
	bool done;
	int r;
	json_t *reply;
};

static void
sync_cb(int r, json_t *result, void *arg)
{
	struct sync_state *st = arg;

	st->done = true;
	st->r = r;
	st->reply = r == 0 ? json_incref(result) : NULL;
}

int
hsm_client_call_sync(struct hsm_client *c, json_t *req, json_t **ret)
{
	struct sync_state st = {false, KW_ERR_UNAVAILABLE, NULL};
	struct timespec t0, now;
	uint32_t id;
	int r;

	if ((r = enqueue(c, req, sync_cb, &st, &id)) != 0)
		return r;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!st.done) {
		struct pollfd pfd = {c->fd, POLLIN, 0};
		long left;

		clock_gettime(CLOCK_MONOTONIC, &now);
		left = SYNC_TIMEOUT_MS - ((now.tv_sec - t0.tv_sec) * 1000 +
		    (now.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0) {
			kw_log_err("helper did not answer within %d ms; killing it", SYNC_TIMEOUT_MS);
			helper_down(c, 0);    /* fails our call too: st.done */
			break;
		}
		if (c->unsent != NULL)
			pfd.events |= POLLOUT;
		if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR) {
			helper_down(c, 0);
			break;
		}
		if (pfd.revents & POLLOUT)
			flush(c);
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR))
			(void)read_some(c);
	}
	if (st.r == 0)
		*ret = st.reply;    /* transferred */
	return st.r;
}

/* NULL-terminated copy of environ with SOFTHSM2_CONF replaced when conf is set. */
static char **
build_env(const char *conf)
{
	size_t n = 0, o = 0;
	char **v;

	while (environ != NULL && environ[n] != NULL)
		n++;
	if ((v = calloc(n + 2, sizeof(*v))) == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (conf != NULL && strncmp(environ[i], "SOFTHSM2_CONF=", 14) == 0)
			continue;
		if ((v[o++] = strdup(environ[i])) == NULL)
			goto fail;
	}
	if (conf != NULL && asprintf(&v[o++], "SOFTHSM2_CONF=%s", conf) < 0) {
		v[o - 1] = NULL;
		goto fail;
	}
	return v;
fail:
	strv_free(v);
	return NULL;
}

static char **
build_argv(const struct hsm_client_config *cfg)
{
	char **v;
	size_t o = 0;
	char num[16];

	if ((v = calloc(12, sizeof(*v))) == NULL)
		return NULL;
	if ((v[o++] = strdup(cfg->helper_path)) == NULL || (v[o++] = strdup("--module")) == NULL ||
	    (v[o++] = strdup(cfg->module_path)) == NULL || (v[o++] = strdup("--token")) == NULL ||
	    (v[o++] = strdup(cfg->token_label)) == NULL || (v[o++] = strdup("--pin-file")) == NULL ||
	    (v[o++] = strdup(cfg->pin_file)) == NULL)
		goto fail;
	if (cfg->recycle_after != 0) {
		snprintf(num, sizeof(num), "%u",
		    cfg->recycle_after == HSM_CLIENT_RECYCLE_NEVER ? 0U : cfg->recycle_after);
		if ((v[o++] = strdup("--recycle-after")) == NULL || (v[o++] = strdup(num)) == NULL)
			goto fail;
	}
	if (cfg->log_level != NULL &&
	    ((v[o++] = strdup("--log-level")) == NULL || (v[o++] = strdup(cfg->log_level)) == NULL))
		goto fail;
	return v;
fail:
	strv_free(v);
	return NULL;
}

int
hsm_client_start(struct event_base *base, const struct hsm_client_config *cfg,
    struct hsm_client **ret)
{
	struct hsm_client *c = NULL;
	json_t *req = NULL, *probe = NULL;
	int r = KW_ERR_INVALID_ARG;

	if (base == NULL || cfg == NULL || cfg->helper_path == NULL || cfg->module_path == NULL ||
	    cfg->token_label == NULL || cfg->pin_file == NULL)
		return KW_ERR_INVALID_ARG;
	r = KW_ERR_NOMEM;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return KW_ERR_NOMEM;
	c->base = base;
	c->fd = -1;
	c->pid = -1;
	c->next_id = 1;
	TAILQ_INIT(&c->pending);
	if ((c->rbuf = malloc(HSM_PROTO_MAX)) == NULL || (c->argv = build_argv(cfg)) == NULL ||
	    (c->envp = build_env(cfg->softhsm2_conf)) == NULL)
		goto out;
	if ((req = json_pack("{s:s}", "op", "probe")) == NULL)
		goto out;
	r = hsm_client_call_sync(c, req, &probe);
	req = NULL;    /* stolen */
	if (r != 0) {
		kw_log_err_r(r, "HSM helper probe failed");
		goto out;
	}
	c->probe = probe;
	*ret = c;
	c = NULL;    /* transferred */
	r = 0;
out:
	json_decref(req);
	hsm_client_free(c);
	return r;
}

pid_t
hsm_client_pid(const struct hsm_client *c)
{
	return c->pid > 0 ? c->pid : -1;
}

const json_t *
hsm_client_probe(const struct hsm_client *c)
{
	return c->probe;
}

void
hsm_client_free(struct hsm_client *c)
{
	if (c == NULL)
		return;
	/* Closing the socket makes the helper exit 0 on its own; SIGKILL after the grace time. */
	helper_down(c, STOP_GRACE_MS);
	json_decref(c->probe);
	strv_free(c->argv);
	strv_free(c->envp);
	free(c->rbuf);
	free(c);
}
