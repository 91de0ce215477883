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
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hsm_client.h"
#include "hsm_proto.h"
#include "kw_json.h"
#include "kw_log.h"
#include "kw_util.h"

/* The broker's log records about the helper carry KW_EVENT=hsm (kw_log.h). */
#define HSM_EV KW_LOG_CTX(KW_EV_HSM, NULL, NULL)

#define STOP_GRACE_MS 2000
#define KILL_GRACE_MS 3000 /* SIGTERM -> SIGKILL */
#define REAP_POLL_MS 20
#define DYING_MAX 8
#define READ_BATCH 64 /* replies per read callback, for fairness */
#define ARGV_MAX 20   /* the helper's argv (build_argv), with its NULL */

/* Deadline classes: workload-path calls and slow admin-only calls. */
enum { CLS_CALL = 0, CLS_ADMIN = 1, CLS_N = 2 };

extern char **environ;

/*
 * Deadline bookkeeping. Every outstanding call is on c->pending in id
 * order, which is the order the helper answers in. A call whose callback
 * has not run yet is also on c->by_deadline[cls]; deadlines within a class
 * grow with the enqueue time, so the head of each class list is its
 * earliest deadline and one timer (the earliest of the two heads and the
 * hung check) suffices. When a call's deadline passes, its callback runs
 * with KW_ERR_TIMEOUT and cb becomes NULL: an unsent call is forgotten at
 * once, a sent one stays on c->pending (it still counts against
 * max_pending) until the helper answers it, and that late reply is
 * matched by id and dropped. If the helper answers nothing for a full
 * deadline of the call at the head of c->pending (the one it is working
 * on), it is declared hung: killed (or disconnected) and every pending
 * call fails. Until a new helper's first reply (its start-up: module
 * load, login, self test) the hung check allows the admin deadline, so a
 * slow start under load costs some calls their deadline but is not killed
 * over and over.
 */
struct hsm_call {
	TAILQ_ENTRY(hsm_call) q;  /* c->pending */
	TAILQ_ENTRY(hsm_call) dq; /* c->by_deadline[cls], while cb != NULL */
	uint32_t id;
	enum hsm_op op;           /* decodes the reply; HSM_OP_NONE: raw */
	int cls;
	int64_t t_enq, deadline;  /* monotonic milliseconds */
	int64_t t_enq_us;         /* monotonic microseconds, for the observer */
	hsm_client_cb cb;         /* NULL once completed by its deadline (abandoned) */
	void *arg;
	char *msg; /* serialized request until sent, then NULL */
	size_t len;
};
TAILQ_HEAD(hsm_call_list, hsm_call);

struct hsm_client {
	struct event_base *base;
	char *socket_path;       /* socket mode when set */
	char **argv, **envp;     /* spawn mode: built once; used after fork without allocating */
	int fd;                  /* -1 while no helper runs (or no connection) */
	pid_t pid;               /* spawn mode: the helper; -1 otherwise */
	struct event *ev_read, *ev_write, *ev_timer, *ev_reap;
	struct {
		pid_t pid;
		int64_t kill_at;
	} dying[DYING_MAX];           /* retired helpers not yet reaped */
	size_t n_dying;
	struct hsm_call_list pending; /* sent or unsent, in id order */
	struct hsm_call_list by_deadline[CLS_N];
	struct hsm_call *unsent;      /* first call not yet written, or NULL */
	size_t n_pending, max_pending;
	int64_t timeout_ms[CLS_N];
	int64_t last_reply;           /* last reply received, or the spawn */
	bool answered;                /* the current helper has replied at least once */
	int64_t last_spawn;           /* last spawn or connect attempt; INT64_MIN: never */
	int64_t respawn_ms;           /* at most one spawn or connect per this */
	int64_t last_full_log;        /* rate limit for "queue full" lines */
	uint32_t next_id;
	struct hsm_result *probe;
	uint8_t *rbuf;
	struct hsm_client_stats st;
	hsm_client_observe_fn obs_done;   /* hsm_client_set_observer; NULL: none */
	void (*obs_spawned)(void *arg);
	void *obs_arg;
};

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Tell the observer how call ended (before its callback runs). */
static void
observe(const struct hsm_client *c, const struct hsm_call *call, int r)
{
	if (c->obs_done != NULL)
		c->obs_done(c->obs_arg, (int)call->op, r, (uint64_t)(kw_mono_us() - call->t_enq_us));
}

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

/* Reap pid if it has ended; true when it is gone (or not ours any more). */
static bool
try_reap(pid_t pid)
{
	pid_t w;
	int st;

	do
		w = waitpid(pid, &st, WNOHANG);
	while (w < 0 && errno == EINTR);
	return w == pid || w < 0;
}

static void
kill_now(pid_t pid)
{
	int st;

	(void)kill(pid, SIGKILL);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	kw_log_debug("helper %ld killed", (long)pid);
}

static void
arm_reaper(struct hsm_client *c)
{
	struct timeval tv = {0, REAP_POLL_MS * 1000};

	if (c->ev_reap != NULL && c->n_dying > 0)
		(void)evtimer_add(c->ev_reap, &tv);
}

/*
 * Reap retired helpers; SIGKILL those still alive after their grace time.
 * block: wait for all of them (shutdown).
 */
static void
reap_dying(struct hsm_client *c, bool block)
{
	struct timespec ts = {0, REAP_POLL_MS * 1000 * 1000};

	for (;;) {
		int64_t now = mono_ms();

		for (size_t i = 0; i < c->n_dying;) {
			if (!try_reap(c->dying[i].pid) && now < c->dying[i].kill_at) {
				i++;
				continue;
			}
			if (now >= c->dying[i].kill_at && !try_reap(c->dying[i].pid)) {
				kw_log_warn("helper %ld did not end within %d ms of SIGTERM; SIGKILL",
				    (long)c->dying[i].pid, KILL_GRACE_MS);
				kill_now(c->dying[i].pid);
			}
			c->dying[i] = c->dying[--c->n_dying];
		}
		if (!block || c->n_dying == 0)
			break;
		nanosleep(&ts, NULL);
	}
	arm_reaper(c);
}

static void
reap_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	reap_dying(arg, false);
}

/*
 * End a helper that may still be running. Not SIGKILL first: SoftHSM 2.6.1
 * rewrites token.object in place (truncate, then write) at every C_Login,
 * so a SIGKILL inside that window leaves it empty and the token is gone
 * with every key in it (seen in tests/integration/test_hsm_faults.py as
 * "token label not found"). SIGTERM+SIGCONT lets the helper finish the
 * PKCS#11 call it is in (its handler only sets a flag; a stopped helper
 * continues) and exit; SIGKILL follows after KILL_GRACE_MS, from a timer,
 * so the loop never waits.
 */
static void
retire(struct hsm_client *c, pid_t pid)
{
	if (try_reap(pid))
		return;
	(void)kill(pid, SIGTERM);
	(void)kill(pid, SIGCONT);
	if (c->n_dying == DYING_MAX) {
		kill_now(pid);    /* not reached: at most one spawn per second */
		return;
	}
	c->dying[c->n_dying].pid = pid;
	c->dying[c->n_dying].kill_at = mono_ms() + KILL_GRACE_MS;
	c->n_dying++;
	arm_reaper(c);
}

/* Shutdown: wait up to ms for pid to end on its own (EOF on its socket). */
static bool
wait_exit(pid_t pid, int ms)
{
	struct timespec ts = {0, 10 * 1000 * 1000};

	for (int waited = 0; waited < ms; waited += 10) {
		if (try_reap(pid))
			return true;
		nanosleep(&ts, NULL);
	}
	return try_reap(pid);
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
	if (c->pid > 0 && (grace_ms == 0 || !wait_exit(c->pid, grace_ms)))
		retire(c, c->pid);
	c->pid = -1;
	TAILQ_INIT(&failed);
	TAILQ_CONCAT(&failed, &c->pending, q);
	for (int k = 0; k < CLS_N; k++)
		TAILQ_INIT(&c->by_deadline[k]);
	c->unsent = NULL;
	c->n_pending = 0;
	if (c->ev_timer != NULL)
		(void)evtimer_del(c->ev_timer);
	while ((call = TAILQ_FIRST(&failed)) != NULL) {
		TAILQ_REMOVE(&failed, call, q);
		if (call->cb != NULL) {
			observe(c, call, KW_ERR_UNAVAILABLE);
			call->cb(KW_ERR_UNAVAILABLE, NULL, call->arg);
		}
		call_free(call);
	}
}

/* How long the helper may stay silent with head outstanding before it counts as hung. */
static int64_t
hung_after(const struct hsm_client *c, const struct hsm_call *head)
{
	int64_t t = c->timeout_ms[head->cls];

	if (!c->answered && c->timeout_ms[CLS_ADMIN] > t)
		t = c->timeout_ms[CLS_ADMIN];
	return t;
}

/* The earliest moment check_deadlines() has work: INT64_MAX when none. */
static int64_t
next_wake(const struct hsm_client *c)
{
	const struct hsm_call *head = TAILQ_FIRST(&c->pending);
	int64_t next = INT64_MAX;

	for (int k = 0; k < CLS_N; k++) {
		const struct hsm_call *first = TAILQ_FIRST(&c->by_deadline[k]);

		if (first != NULL && first->deadline < next)
			next = first->deadline;
	}
	if (head != NULL) {
		int64_t started = head->t_enq > c->last_reply ? head->t_enq : c->last_reply;
		int64_t hung_at = started + hung_after(c, head);

		if (hung_at < next)
			next = hung_at;
	}
	return next;
}

/* (Re)arm the one timer for next_wake(). */
static void
arm(struct hsm_client *c)
{
	int64_t next = next_wake(c), delay;
	struct timeval tv;

	if (c->ev_timer == NULL)
		return;
	if (next == INT64_MAX) {
		(void)evtimer_del(c->ev_timer);
		return;
	}
	delay = next - mono_ms();
	if (delay < 0)
		delay = 0;
	tv.tv_sec = (time_t)(delay / 1000);
	tv.tv_usec = (suseconds_t)((delay % 1000) * 1000);
	(void)evtimer_add(c->ev_timer, &tv);
}

/*
 * Complete every call whose deadline has passed with KW_ERR_TIMEOUT, then
 * declare the helper hung if it answered nothing for a full deadline of
 * the call at the head of the queue. Callbacks may call hsm_client_call().
 */
static void
check_deadlines(struct hsm_client *c, int64_t now)
{
	struct hsm_call *call, *head;
	unsigned long expired = 0;

	for (int k = 0; k < CLS_N; k++) {
		while ((call = TAILQ_FIRST(&c->by_deadline[k])) != NULL && call->deadline <= now) {
			hsm_client_cb cb = call->cb;
			void *arg = call->arg;

			TAILQ_REMOVE(&c->by_deadline[k], call, dq);
			observe(c, call, KW_ERR_TIMEOUT);
			call->cb = NULL;    /* abandoned: a late reply is dropped */
			call->arg = NULL;
			if (call->msg != NULL) {
				/* never sent: no reply will come, forget it now */
				if (c->unsent == call)
					c->unsent = TAILQ_NEXT(call, q);
				TAILQ_REMOVE(&c->pending, call, q);
				c->n_pending--;
				call_free(call);
			}
			expired++;
			c->st.timeouts++;
			cb(KW_ERR_TIMEOUT, NULL, arg);
		}
	}
	if (expired > 0)
		kw_log_warn_ev(HSM_EV, "%lu HSM call(s) missed their deadline (%zu outstanding)", expired,
		    c->n_pending);
	head = TAILQ_FIRST(&c->pending);
	if (head != NULL && c->fd >= 0) {
		int64_t started = head->t_enq > c->last_reply ? head->t_enq : c->last_reply;

		if (now - started >= hung_after(c, head)) {
			c->st.hung++;
			if (c->socket_path != NULL)
				kw_log_err_ev(HSM_EV, "HSM helper at '%s' answered nothing for %lld ms with %zu "
				    "call(s) outstanding: declaring it hung and reconnecting on the next "
				    "call", c->socket_path, (long long)(now - started), c->n_pending);
			else
				kw_log_err_ev(HSM_EV, "HSM helper %ld answered nothing for %lld ms with %zu call(s) "
				    "outstanding: declaring it hung and ending it (SIGTERM, SIGKILL after "
				    "%d s); the next call starts a new one", (long)c->pid,
				    (long long)(now - started), c->n_pending, KILL_GRACE_MS / 1000);
			helper_down(c, 0);
		}
	}
	arm(c);
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	check_deadlines(arg, mono_ms());
}

/* Events for a fresh helper socket c->fd; the helper is then "up". */
static int
attach(struct hsm_client *c)
{
	int fl;

	if ((fl = fcntl(c->fd, F_GETFL)) < 0 || fcntl(c->fd, F_SETFL, fl | O_NONBLOCK) != 0)
		return KW_ERR_HSM;
	c->ev_read = event_new(c->base, c->fd, EV_READ | EV_PERSIST, read_cb, c);
	c->ev_write = event_new(c->base, c->fd, EV_WRITE | EV_PERSIST, write_cb, c);
	if (c->ev_read == NULL || c->ev_write == NULL || event_add(c->ev_read, NULL) != 0)
		return KW_ERR_HSM;
	c->last_reply = mono_ms();
	c->answered = false;
	c->st.spawns++;
	if (c->obs_spawned != NULL)
		c->obs_spawned(c->obs_arg);
	return 0;
}

/* Socket mode: connect to the supervisor (never blocks: a full backlog is EAGAIN). */
static int
connect_helper(struct hsm_client *c)
{
	struct sockaddr_un sa;
	int fd;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(c->socket_path) >= sizeof(sa.sun_path))
		return KW_ERR_INVALID_ARG;
	memcpy(sa.sun_path, c->socket_path, strlen(c->socket_path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0) {
		kw_log_err("socket: %s", strerror(errno));
		return KW_ERR_HSM;
	}
	if (connect(fd, (const struct sockaddr *)&sa, sizeof(sa)) != 0) {
		kw_log_warn_ev(HSM_EV, "cannot connect to the HSM helper at '%s': %s", c->socket_path,
		    strerror(errno));
		close(fd);
		return KW_ERR_HSM;
	}
	c->fd = fd;
	c->pid = -1;
	if (attach(c) != 0) {
		helper_down(c, 0);
		return KW_ERR_HSM;
	}
	kw_log_debug("connected to the HSM helper at '%s'", c->socket_path);
	return 0;
}

static int
spawn(struct hsm_client *c)
{
	int sv[2] = {-1, -1};
	pid_t pid;

	c->last_spawn = mono_ms();
	if (c->socket_path != NULL)
		return connect_helper(c);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
		kw_log_err("socketpair: %s", strerror(errno));
		return KW_ERR_HSM;
	}
	if ((pid = fork()) < 0) {
		kw_log_err("fork: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return KW_ERR_HSM;
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
	if (attach(c) != 0) {
		helper_down(c, 0);
		return KW_ERR_HSM;
	}
	kw_log_debug("helper %ld started", (long)pid);
	return 0;
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
	struct hsm_result *res = NULL;
	json_t *o = NULL;
	uint32_t id;
	int err, r;
	const char *detail;

	if ((r = hsm_reply_parse(buf, len, &id, &err, &o)) != 0)
		return r;
	TAILQ_FOREACH(call, &c->pending, q) {
		if (call->id == id && call->msg == NULL)
			break;
	}
	if (call == NULL) {
		kw_log_warn("helper reply for unknown request %u", id);
		goto out;
	}
	c->last_reply = mono_ms();
	c->answered = true;
	TAILQ_REMOVE(&c->pending, call, q);
	c->n_pending--;
	if (call->cb == NULL) {
		/* its deadline passed and its caller has had KW_ERR_TIMEOUT: drop it */
		c->st.late_replies++;
		kw_log_debug("late reply to abandoned request %u dropped", call->id);
		call_free(call);
		goto out;
	}
	TAILQ_REMOVE(&c->by_deadline[call->cls], call, dq);
	if (err != 0 && kw_json_get_str(o, "detail", &detail, NULL) == 0)
		kw_log_debug("request %u failed: %s ('%.120s')", call->id, kw_strerror(err), detail);
	if (err == 0 && (err = hsm_result_decode(call->op, o, &res)) != 0) {
		/* an ok reply without what its op promises: the call fails, the helper stays */
		kw_log_warn_r_rl(err, "helper reply to '%s' (request %u) does not decode",
		    hsm_op_info(call->op) != NULL ? hsm_op_info(call->op)->name : "?", call->id);
		err = err == KW_ERR_NOMEM ? err : KW_ERR_HSM;
	}
	observe(c, call, err);
	call->cb(err, res, call->arg);
	call_free(call);
out:
	hsm_result_free(res);
	json_decref(o);
	return 0;
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
				kw_log_err_ev(HSM_EV, "helper reply too large; restarting it");
			else if (c->socket_path != NULL)
				kw_log_warn_ev(HSM_EV, "HSM helper at '%s' closed the connection (%s; a refused "
				    "peer is logged by keywarden-hsm)", c->socket_path,
				    n == 0 ? "EOF" : strerror(errno));
			else
				kw_log_warn_ev(HSM_EV, "helper %ld went away (%s)", (long)c->pid,
				    n == 0 ? "EOF" : strerror(errno));
			helper_down(c, 0);
			return false;
		}
		r = dispatch(c, c->rbuf, (size_t)n);
		kw_wipe(c->rbuf, (size_t)n);    /* replies may carry random bytes */
		if (r != 0) {
			kw_log_err_r_ev(r, HSM_EV, "malformed helper reply; restarting it");
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
	struct hsm_client *c = arg;

	(void)fd;
	(void)what;
	if (read_some(c))
		arm(c);    /* the hung clock restarts with every reply */
}

/* The deadline class of op (HSM_OPF_ADMIN); HSM_OP_NONE: that of req's "op" member. */
static int
op_class(enum hsm_op op, const json_t *req)
{
	const struct hsm_op_info *info = hsm_op_info(op);

	if (info == NULL)
		info = hsm_op_info(hsm_op_from_name(json_string_value(json_object_get(req, "op"))));
	return info != NULL && (info->flags & HSM_OPF_ADMIN) != 0 ? CLS_ADMIN : CLS_CALL;
}

/*
 * Queue a request (stolen) to op with the next id and a deadline of class
 * cls (-1: by its op); spawns or connects the helper if needed.
 */
static int
enqueue(struct hsm_client *c, json_t *req, enum hsm_op op, int cls, hsm_client_cb cb,
    void *arg, uint32_t *ret_id)
{
	struct hsm_call *call = NULL;
	char *msg = NULL;
	int64_t now = mono_ms();
	int r = KW_ERR_NOMEM;

	if (req == NULL || !json_is_object(req)) {
		r = KW_ERR_INVALID_ARG;
		goto out;
	}
	if (cls < 0)
		cls = op_class(op, req);
	if (c->n_pending >= c->max_pending) {
		c->st.rejected++;
		if (now - c->last_full_log >= 1000) {
			c->last_full_log = now;
			kw_log_warn_ev(HSM_EV, "HSM queue full (%zu calls outstanding): failing calls at once",
			    c->n_pending);
		}
		r = KW_ERR_HSM;
		goto out;
	}
	if (c->next_id == 0)
		c->next_id = 1;    /* 0 is the helper's "no id" */
	if (json_object_set_new(req, "id", json_integer(c->next_id)) != 0)
		goto out;
	if ((msg = kw_json_dumps(req, JSON_COMPACT)) == NULL)
		goto out;
	if (strlen(msg) > HSM_PROTO_MAX) {
		r = KW_ERR_TOO_LARGE;
		goto out;
	}
	if (c->fd < 0) {
		/* respawn backoff: a helper that dies at start is not forked in a loop */
		if (c->last_spawn != INT64_MIN && now - c->last_spawn < c->respawn_ms) {
			c->st.rejected++;
			kw_log_debug("HSM helper down; next start in %lld ms",
			    (long long)(c->respawn_ms - (now - c->last_spawn)));
			r = KW_ERR_HSM;
			goto out;
		}
		if ((r = spawn(c)) != 0) {
			r = r == KW_ERR_INVALID_ARG ? r : KW_ERR_HSM;
			goto out;
		}
		now = mono_ms();
	}
	if ((call = calloc(1, sizeof(*call))) == NULL) {
		r = KW_ERR_NOMEM;
		goto out;
	}
	call->id = c->next_id++;
	call->op = op;
	call->cls = cls;
	call->t_enq = now;
	call->t_enq_us = kw_mono_us();
	call->deadline = now + c->timeout_ms[cls];
	call->cb = cb;
	call->arg = arg;
	call->len = strlen(msg);
	call->msg = msg;
	msg = NULL;    /* transferred */
	TAILQ_INSERT_TAIL(&c->pending, call, q);
	TAILQ_INSERT_TAIL(&c->by_deadline[cls], call, dq);
	c->n_pending++;
	if (c->unsent == NULL)
		c->unsent = call;
	*ret_id = call->id;
	flush(c);
	arm(c);
	r = 0;
out:
	if (msg != NULL)
		kw_free_wipe(msg);
	json_decref(req);
	return r;
}

int
hsm_client_call_json(struct hsm_client *c, enum hsm_op op, json_t *req, hsm_client_cb cb,
    void *arg)
{
	uint32_t id;

	if (cb == NULL || (op != HSM_OP_NONE && hsm_op_info(op) == NULL)) {
		json_decref(req);
		return KW_ERR_INVALID_ARG;
	}
	return enqueue(c, req, op, -1, cb, arg, &id);
}

int
hsm_client_call(struct hsm_client *c, const struct hsm_args *a, hsm_client_cb cb, void *arg)
{
	json_t *req = NULL;
	int r;

	if (cb == NULL)
		return KW_ERR_INVALID_ARG;
	if ((r = hsm_args_encode(a, &req)) != 0)
		return r;
	return hsm_client_call_json(c, a->op, req, cb, arg);
}

int
hsm_client_probe(struct hsm_client *c, hsm_client_cb cb, void *arg)
{
	return hsm_client_call(c, &(struct hsm_args){.op = HSM_OP_PROBE}, cb, arg);
}

int
hsm_client_generate(struct hsm_client *c, const char *label, enum hsm_kind kind, size_t length,
    bool if_missing, hsm_client_cb cb, void *arg)
{
	const struct hsm_args a = {.op = HSM_OP_GENERATE, .u.generate = {.label = label,
	    .kind = kind, .length = length, .if_missing = if_missing}};

	return hsm_client_call(c, &a, cb, arg);
}

int
hsm_client_release(struct hsm_client *c, const char *label, const char *profile,
    const uint8_t *n, size_t n_len, const uint8_t *e, size_t e_len, const char *kid,
    hsm_client_cb cb, void *arg)
{
	const struct hsm_args a = {.op = HSM_OP_RELEASE, .u.release = {.label = label,
	    .profile = profile, .n = n, .n_len = n_len, .e = e, .e_len = e_len, .kid = kid}};

	return hsm_client_call(c, &a, cb, arg);
}

int
hsm_client_random(struct hsm_client *c, size_t length, hsm_client_cb cb, void *arg)
{
	const struct hsm_args a = {.op = HSM_OP_RANDOM, .u.random = {.length = length}};

	return hsm_client_call(c, &a, cb, arg);
}

int
hsm_client_stats(struct hsm_client *c, hsm_client_cb cb, void *arg)
{
	return hsm_client_call(c, &(struct hsm_args){.op = HSM_OP_STATS}, cb, arg);
}

int
hsm_client_token_keys(struct hsm_client *c, hsm_client_cb cb, void *arg)
{
	return hsm_client_call(c, &(struct hsm_args){.op = HSM_OP_TOKEN_KEYS}, cb, arg);
}

int
hsm_client_token_key_new(struct hsm_client *c, int64_t now, hsm_client_cb cb, void *arg)
{
	const struct hsm_args a = {.op = HSM_OP_TOKEN_KEY_NEW, .u.token_key_new = {
	    .now_set = now >= 0, .now = now}};

	return hsm_client_call(c, &a, cb, arg);
}

int
hsm_client_sign(struct hsm_client *c, const char *label,
    const uint8_t digest[static HSM_SIGN_DIGEST_LEN], hsm_client_cb cb, void *arg)
{
	const struct hsm_args a = {.op = HSM_OP_SIGN, .u.sign = {.label = label, .digest = digest}};

	return hsm_client_call(c, &a, cb, arg);
}

int
hsm_client_token_key_destroy(struct hsm_client *c, const char *label, hsm_client_cb cb,
    void *arg)
{
	const struct hsm_args a = {.op = HSM_OP_TOKEN_KEY_DESTROY, .u.token_key_destroy = {
	    .label = label}};

	return hsm_client_call(c, &a, cb, arg);
}

int
hsm_client_key_list(struct hsm_client *c, const char *after, hsm_client_cb cb, void *arg)
{
	const struct hsm_args a = {.op = HSM_OP_KEY_LIST, .u.key_list = {.after = after}};

	return hsm_client_call(c, &a, cb, arg);
}

int
hsm_client_destroy(struct hsm_client *c, const char *label, hsm_client_cb cb, void *arg)
{
	const struct hsm_args a = {.op = HSM_OP_DESTROY, .u.destroy = {.label = label}};

	return hsm_client_call(c, &a, cb, arg);
}

int
hsm_client_import_key(struct hsm_client *c, hsm_client_cb cb, void *arg)
{
	return hsm_client_call(c, &(struct hsm_args){.op = HSM_OP_IMPORT_KEY}, cb, arg);
}

int
hsm_client_audit_key(struct hsm_client *c, hsm_client_cb cb, void *arg)
{
	return hsm_client_call(c, &(struct hsm_args){.op = HSM_OP_AUDIT_KEY}, cb, arg);
}

int
hsm_client_audit_sign(struct hsm_client *c, const uint8_t digest[static HSM_SIGN_DIGEST_LEN],
    hsm_client_cb cb, void *arg)
{
	const struct hsm_args a = {.op = HSM_OP_AUDIT_SIGN, .u.audit_sign = {.digest = digest}};

	return hsm_client_call(c, &a, cb, arg);
}

int
hsm_client_import(struct hsm_client *c, const char *label, enum hsm_kind kind, size_t length,
    const char *kid, const char *kek, const char *value, hsm_client_cb cb, void *arg)
{
	const struct hsm_args a = {.op = HSM_OP_IMPORT, .u.import = {.label = label, .kind = kind,
	    .length = length, .kid = kid, .kek = kek, .value = value}};

	return hsm_client_call(c, &a, cb, arg);
}

struct sync_state {
	bool done;
	int r;
	struct hsm_result *res;
};

static void
sync_cb(int r, const struct hsm_result *res, void *arg)
{
	struct sync_state *st = arg;

	st->done = true;
	st->r = r == 0 ? hsm_result_copy(res, &st->res) : r;
}

/* The blocking loop of hsm_client_call_sync: poll the socket until st is done. */
static int
call_sync(struct hsm_client *c, const struct hsm_args *a, int cls, struct hsm_result **ret)
{
	struct sync_state st = {false, KW_ERR_UNAVAILABLE, NULL};
	json_t *req = NULL;
	uint32_t id;
	int r;

	if ((r = hsm_args_encode(a, &req)) != 0)
		return r;
	if ((r = enqueue(c, req, a->op, cls, sync_cb, &st, &id)) != 0)
		return r;
	while (!st.done) {
		struct pollfd pfd = {c->fd, POLLIN, 0};
		int64_t now = mono_ms(), wake = next_wake(c);
		int wait_ms;

		if (wake <= now) {
			check_deadlines(c, now);    /* completes st by its deadline at the latest */
			continue;
		}
		if (c->fd < 0)
			break;    /* cannot happen: a pending call implies a helper */
		wait_ms = wake - now > 1000 ? 1000 : (int)(wake - now);
		if (c->unsent != NULL)
			pfd.events |= POLLOUT;
		if (poll(&pfd, 1, wait_ms) < 0 && errno != EINTR) {
			helper_down(c, 0);
			break;
		}
		if (pfd.revents & POLLOUT)
			flush(c);
		if ((pfd.revents & (POLLIN | POLLHUP | POLLERR)) && read_some(c))
			arm(c);
	}
	if (st.r == 0)
		*ret = st.res;    /* transferred */
	return st.r;
}

int
hsm_client_call_sync(struct hsm_client *c, const struct hsm_args *a, struct hsm_result **ret)
{
	return call_sync(c, a, -1, ret);
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

	if ((v = calloc(ARGV_MAX, sizeof(*v))) == NULL)
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
	if (cfg->log_format != NULL &&
	    ((v[o++] = strdup("--log-format")) == NULL || (v[o++] = strdup(cfg->log_format)) == NULL))
		goto fail;
	if (cfg->journal_socket != NULL && ((v[o++] = strdup("--journal-socket")) == NULL ||
	    (v[o++] = strdup(cfg->journal_socket)) == NULL))
		goto fail;
	if (cfg->release_assembly != NULL && ((v[o++] = strdup("--release-assembly")) == NULL ||
	    (v[o++] = strdup(cfg->release_assembly)) == NULL))
		goto fail;
	return v;
fail:
	strv_free(v);
	return NULL;
}

/* Set (or add) the value of argv's option opt; 0 or KW_ERR_NOMEM (nothing changed). */
static int
argv_set(char **v, const char *opt, const char *val)
{
	size_t i;
	char *d;

	for (i = 0; v[i] != NULL && strcmp(v[i], opt) != 0; i++)
		;
	if (v[i] != NULL && v[i + 1] != NULL) {
		if ((d = strdup(val)) == NULL)
			return KW_ERR_NOMEM;
		free(v[i + 1]);
		v[i + 1] = d;
		return 0;
	}
	if (i + 2 >= ARGV_MAX)    /* not reached: build_argv leaves room for both options */
		return KW_ERR_NOMEM;
	if ((v[i] = strdup(opt)) == NULL)
		return KW_ERR_NOMEM;
	if ((v[i + 1] = strdup(val)) == NULL) {
		free(v[i]);
		v[i] = NULL;
		return KW_ERR_NOMEM;
	}
	return 0;
}

static void
log_done(int r, const struct hsm_result *res, void *arg)
{
	(void)res;
	(void)arg;
	if (r != 0)
		kw_log_warn_r(r, "the HSM helper did not take the new log settings (it gets them "
		    "when it is started again)");
}

int
hsm_client_set_log(struct hsm_client *c, const char *level, const char *format)
{
	int r;

	if (c == NULL || c->argv == NULL)
		return 0;
	if (level != NULL && (r = argv_set(c->argv, "--log-level", level)) != 0)
		return r;
	if (format != NULL && (r = argv_set(c->argv, "--log-format", format)) != 0)
		return r;
	/* the running helper: told now (a new one reads its argv) */
	if (c->fd < 0 || level == NULL || format == NULL)
		return 0;
	return hsm_client_call(c, &(struct hsm_args){.op = HSM_OP_LOG,
	    .u.log = {.level = level, .format = format}}, log_done, NULL);
}

int
hsm_client_start(struct event_base *base, const struct hsm_client_config *cfg,
    struct hsm_client **ret)
{
	struct hsm_client *c = NULL;
	struct hsm_result *probe = NULL;
	int r = KW_ERR_INVALID_ARG;

	if (base == NULL || cfg == NULL)
		return KW_ERR_INVALID_ARG;
	if (cfg->socket_path != NULL ? (cfg->socket_path[0] == '\0' ||
	    strlen(cfg->socket_path) >= sizeof(((struct sockaddr_un *)NULL)->sun_path)) :
	    (cfg->helper_path == NULL || cfg->module_path == NULL || cfg->token_label == NULL ||
	    cfg->pin_file == NULL))
		return KW_ERR_INVALID_ARG;
	r = KW_ERR_NOMEM;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return KW_ERR_NOMEM;
	c->base = base;
	c->fd = -1;
	c->pid = -1;
	c->next_id = 1;
	c->last_spawn = INT64_MIN;
	c->last_full_log = INT64_MIN / 2;
	c->timeout_ms[CLS_CALL] = cfg->call_timeout_ms != 0 ? cfg->call_timeout_ms :
	    HSM_CLIENT_CALL_TIMEOUT_DEFAULT_MS;
	c->timeout_ms[CLS_ADMIN] = cfg->admin_timeout_ms != 0 ? cfg->admin_timeout_ms :
	    HSM_CLIENT_ADMIN_TIMEOUT_DEFAULT_MS;
	c->max_pending = cfg->max_pending != 0 ? cfg->max_pending : HSM_CLIENT_MAX_PENDING_DEFAULT;
	/* never shorter than the default: retire() counts on one spawn per second at most */
	c->respawn_ms = cfg->respawn_interval_ms > HSM_CLIENT_RESPAWN_INTERVAL_MS ?
	    cfg->respawn_interval_ms : HSM_CLIENT_RESPAWN_INTERVAL_MS;
	TAILQ_INIT(&c->pending);
	for (int k = 0; k < CLS_N; k++)
		TAILQ_INIT(&c->by_deadline[k]);
	if ((c->rbuf = malloc(HSM_PROTO_MAX)) == NULL ||
	    (c->ev_timer = evtimer_new(base, timer_cb, c)) == NULL ||
	    (c->ev_reap = evtimer_new(base, reap_cb, c)) == NULL)
		goto out;
	if (cfg->socket_path != NULL) {
		if ((c->socket_path = strdup(cfg->socket_path)) == NULL)
			goto out;
	} else if ((c->argv = build_argv(cfg)) == NULL ||
	    (c->envp = build_env(cfg->softhsm2_conf)) == NULL) {
		goto out;
	}
	/* the first probe waits for the helper's start-up (login, self test) */
	if ((r = call_sync(c, &(struct hsm_args){.op = HSM_OP_PROBE}, CLS_ADMIN, &probe)) != 0) {
		kw_log_err_r_ev(r, HSM_EV, "HSM helper probe failed");
		goto out;
	}
	c->probe = probe;
	*ret = c;
	c = NULL;    /* transferred */
	r = 0;
out:
	hsm_client_free(c);
	return r;
}

pid_t
hsm_client_pid(const struct hsm_client *c)
{
	return c->pid > 0 ? c->pid : -1;
}

int
hsm_client_connected(const struct hsm_client *c)
{
	return c->fd >= 0;
}

void
hsm_client_get_stats(const struct hsm_client *c, struct hsm_client_stats *ret)
{
	*ret = c->st;
	ret->pending = c->n_pending;
}

const struct hsm_result *
hsm_client_start_probe(const struct hsm_client *c)
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
	reap_dying(c, true);
	if (c->ev_timer != NULL)
		event_free(c->ev_timer);
	if (c->ev_reap != NULL)
		event_free(c->ev_reap);
	free(c->socket_path);
	hsm_result_free(c->probe);
	strv_free(c->argv);
	strv_free(c->envp);
	free(c->rbuf);
	free(c);
}

void
hsm_client_set_observer(struct hsm_client *c, hsm_client_observe_fn done,
    void (*spawned)(void *arg), void *arg)
{
	c->obs_done = done;
	c->obs_spawned = spawned;
	c->obs_arg = arg;
}
