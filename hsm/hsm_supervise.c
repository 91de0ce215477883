/* SPDX-License-Identifier: Apache-2.0 */
/*
 * keywarden-hsm --listen: the supervisor. It owns the listening socket,
 * decides who may talk to the HSM (SO_PEERCRED), and keeps exactly one
 * serving helper (keywarden-hsm in its fd 3 mode, started fresh with
 * fork+exec) for the one active broker session. It never loads the PKCS#11
 * module and never reads the PIN, so nothing secret lives in it.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hsm_proto.h"
#include "hsm_supervise.h"
#include "kw_log.h"

#define SD_LISTEN_FDS_START 3
#define STOP_GRACE_MS 2000
#define KILL_GRACE_MS 3000
#define SV_BACKLOG 16
#define SV_ARGV_MAX 20

extern char **environ;

/* Strict decimal: digits only, no leading zero (except "0"), value <= max. */
static int
parse_dec(const char *s, unsigned long long max, unsigned long long *ret)
{
	unsigned long long v = 0;
	size_t n;

	if (s == NULL || (n = strlen(s)) == 0 || n > 20 || (s[0] == '0' && n > 1))
		return KW_ERR_INVALID_FORMAT;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return KW_ERR_INVALID_FORMAT;
		if (v > (max - (unsigned long long)(s[i] - '0')) / 10)
			return KW_ERR_INVALID_FORMAT;
		v = v * 10 + (unsigned long long)(s[i] - '0');
	}
	*ret = v;
	return 0;
}

static int
allow_add(struct hsm_allow *a, uid_t uid)
{
	if (hsm_allow_has(a, uid))
		return 0;
	if (a->n >= HSM_ALLOW_MAX)
		return KW_ERR_TOO_LARGE;
	a->uid[a->n++] = uid;
	return 0;
}

int
hsm_allow_add_uid(struct hsm_allow *a, const char *s)
{
	unsigned long long v;

	/* (uid_t)-1 is "no uid" for chown() and friends: never a real peer */
	if (parse_dec(s, 0xfffffffeULL, &v) != 0)
		return KW_ERR_INVALID_FORMAT;
	return allow_add(a, (uid_t)v);
}

int
hsm_allow_add_user(struct hsm_allow *a, const char *name)
{
	struct passwd *pw;

	if (name == NULL || name[0] == '\0' || (pw = getpwnam(name)) == NULL)
		return KW_ERR_NOT_FOUND;
	return allow_add(a, pw->pw_uid);
}

bool
hsm_allow_has(const struct hsm_allow *a, uid_t uid)
{
	for (size_t i = 0; i < a->n; i++) {
		if (a->uid[i] == uid)
			return true;
	}
	return false;
}

int
hsm_peer_cred(int fd, struct ucred *ret)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) != 0 || len != sizeof(uc))
		return KW_ERR_IO;
	*ret = uc;
	return 0;
}

int
hsm_listen_fds_parse(const char *listen_pid, const char *listen_fds, pid_t self, int *ret_fd)
{
	unsigned long long pid, n;

	if (listen_pid == NULL || listen_fds == NULL)
		return KW_ERR_NOT_FOUND;
	if (parse_dec(listen_pid, 0x7fffffffULL, &pid) != 0 || pid == 0 ||
	    parse_dec(listen_fds, 0x7fffffffULL - SD_LISTEN_FDS_START, &n) != 0)
		return KW_ERR_INVALID_FORMAT;
	if ((pid_t)pid != self || n == 0)
		return KW_ERR_NOT_FOUND;
	if (n != 1)
		return KW_ERR_UNSUPPORTED;
	*ret_fd = SD_LISTEN_FDS_START;
	return 0;
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct sv {
	const struct hsm_supervise_config *cfg;
	int lfd, sfd;
	bool created;         /* we created (and will unlink) listen_path */
	pid_t child;          /* the serving helper of the active session, or -1 */
	char *argv[SV_ARGV_MAX];
	size_t uid_slot;      /* argv[uid_slot] is uidbuf */
	char uidbuf[24];      /* the --allow-uid value, rewritten per session */
	char **envp;
	int64_t last_refusal_log;
	unsigned long refusals_suppressed;
};

/* The descriptor systemd passed, checked to be a listening AF_UNIX SEQPACKET socket. */
static int
passed_socket(int *ret_fd)
{
	struct sockaddr_un sa;
	socklen_t sl = sizeof(sa);
	int fd, r, type = 0, acc = 0;
	socklen_t tl = sizeof(type), al = sizeof(acc);

	r = hsm_listen_fds_parse(getenv("LISTEN_PID"), getenv("LISTEN_FDS"), getpid(), &fd);
	/* sd_listen_fds(unset_environment=1): the serving helpers must not see them */
	(void)unsetenv("LISTEN_PID");
	(void)unsetenv("LISTEN_FDS");
	(void)unsetenv("LISTEN_FDNAMES");
	if (r != 0)
		return r;
	memset(&sa, 0, sizeof(sa));
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) != 0 || type != SOCK_SEQPACKET ||
	    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &al) != 0 || acc != 1 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) != 0 || sa.sun_family != AF_UNIX)
		return KW_ERR_INVALID_ARG;
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) != 0)
		return KW_ERR_IO;
	*ret_fd = fd;
	return 0;
}

/* Create, bind and listen on path; a stale socket (nobody listening) is replaced. */
static int
own_socket(const char *path, mode_t mode, int *ret_fd)
{
	struct sockaddr_un sa;
	struct stat st;
	mode_t old;
	int fd = -1, r = KW_ERR_IO;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (path == NULL || strlen(path) == 0 || strlen(path) >= sizeof(sa.sun_path)) {
		kw_log_err("--listen: the socket path must be 1..%zu bytes", sizeof(sa.sun_path) - 1);
		return KW_ERR_INVALID_ARG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) < 0) {
		kw_log_err("socket: %s", strerror(errno));
		return KW_ERR_IO;
	}
	if (lstat(path, &st) == 0) {
		int probe;

		if (!S_ISSOCK(st.st_mode)) {
			kw_log_err("%s exists and is not a socket", path);
			goto out;
		}
		probe = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		if (probe >= 0 && connect(probe, (const struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(probe);
			kw_log_err("another keywarden-hsm is listening on %s", path);
			goto out;
		}
		if (probe >= 0)
			close(probe);
		if (unlink(path) != 0) {
			kw_log_err("cannot remove the stale socket %s: %s", path, strerror(errno));
			goto out;
		}
	}
	old = umask((mode_t)(~mode & 0777));
	r = bind(fd, (const struct sockaddr *)&sa, sizeof(sa));
	(void)umask(old);
	if (r != 0) {
		kw_log_err("bind %s: %s", path, strerror(errno));
		r = KW_ERR_IO;
		goto out;
	}
	r = KW_ERR_IO;
	if (chmod(path, mode) != 0 || listen(fd, SV_BACKLOG) != 0) {
		kw_log_err("listen %s: %s", path, strerror(errno));
		(void)unlink(path);
		goto out;
	}
	*ret_fd = fd;
	fd = -1;    /* transferred */
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	return r;
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

/* A copy of environ without LISTEN_* and with SOFTHSM2_CONF set when configured. */
static char **
serve_env(const char *conf)
{
	size_t n = 0, o = 0;
	char **v;

	while (environ != NULL && environ[n] != NULL)
		n++;
	if ((v = calloc(n + 2, sizeof(*v))) == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if ((conf != NULL && strncmp(environ[i], "SOFTHSM2_CONF=", 14) == 0) ||
		    strncmp(environ[i], "LISTEN_", 7) == 0)
			continue;
		if ((v[o++] = strdup(environ[i])) == NULL)
			goto fail;
	}
	if (conf != NULL && asprintf(&v[o], "SOFTHSM2_CONF=%s", conf) < 0) {
		v[o] = NULL;
		goto fail;
	}
	return v;
fail:
	strv_free(v);
	return NULL;
}

/* The serving helper's argv; the last element is the peer's uid, set per session. */
static int
build_argv(struct sv *s)
{
	const struct hsm_supervise_config *c = s->cfg;
	const char *a[SV_ARGV_MAX];
	size_t o = 0;

	a[o++] = c->self_exe;
	a[o++] = "--module";
	a[o++] = c->module;
	a[o++] = "--token";
	a[o++] = c->token;
	a[o++] = "--pin-file";
	a[o++] = c->pin_file;
	if (c->recycle_after != NULL) {
		a[o++] = "--recycle-after";
		a[o++] = c->recycle_after;
	}
	if (c->log_level != NULL) {
		a[o++] = "--log-level";
		a[o++] = c->log_level;
	}
	if (c->log_format != NULL) {
		a[o++] = "--log-format";
		a[o++] = c->log_format;
	}
	if (c->journal_socket != NULL) {
		a[o++] = "--journal-socket";
		a[o++] = c->journal_socket;
	}
	if (c->release_assembly != NULL) {
		a[o++] = "--release-assembly";
		a[o++] = c->release_assembly;
	}
	a[o++] = "--allow-uid";
	for (size_t i = 0; i < o; i++) {
		if ((s->argv[i] = strdup(a[i])) == NULL)
			return KW_ERR_NOMEM;
	}
	s->argv[o] = s->uidbuf;    /* not freed */
	s->uid_slot = o;
	s->argv[o + 1] = NULL;
	return 0;
}

static void
argv_free(struct sv *s)
{
	for (size_t i = 0; i < s->uid_slot; i++)
		free(s->argv[i]);
}

static void
log_exit(pid_t pid, int st)
{
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		kw_log_info("serving helper %ld ended (the broker closed the session)", (long)pid);
	else if (WIFEXITED(st))
		kw_log_warn("serving helper %ld exited with status %d", (long)pid, WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		kw_log_warn("serving helper %ld killed by signal %d", (long)pid, WTERMSIG(st));
}

static void
reap_all(struct sv *s)
{
	pid_t p;
	int st;

	while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
		log_exit(p, st);
		if (p == s->child)
			s->child = -1;
	}
}

/*
 * End and reap the serving helper: sig (SIGTERM, with SIGCONT so that a
 * stopped helper runs its handler), then SIGKILL (which works on a stopped
 * process too) after grace_ms. Not SIGKILL first: SoftHSM 2.6.1 rewrites
 * token.object in place at every C_Login, and a helper killed inside that
 * write leaves an empty file and a lost token; the helper's SIGTERM handler
 * lets it finish the PKCS#11 call it is in.
 */
static void
kill_child(struct sv *s, int sig, int grace_ms)
{
	int64_t until = mono_ms() + grace_ms;
	struct timespec ts = {0, 10 * 1000 * 1000};
	int st;

	if (s->child <= 0)
		return;
	(void)kill(s->child, sig);
	if (sig != SIGKILL)
		(void)kill(s->child, SIGCONT);
	for (;;) {
		pid_t p = waitpid(s->child, &st, sig == SIGKILL ? 0 : WNOHANG);

		if (p == s->child) {
			log_exit(p, st);
			break;
		}
		if (p < 0 && errno != EINTR)
			break;
		if (p == 0 && mono_ms() >= until) {
			(void)kill(s->child, SIGKILL);
			sig = SIGKILL;
			continue;
		}
		if (p == 0)
			nanosleep(&ts, NULL);
	}
	s->child = -1;
}

/* One line per second at most, with the number of refusals not logged. */
static void
log_refusal(struct sv *s, const struct ucred *uc)
{
	int64_t now = mono_ms();

	if (now - s->last_refusal_log < 1000) {
		s->refusals_suppressed++;
		return;
	}
	if (s->refusals_suppressed > 0)
		kw_log_warn("refused peer uid %u gid %u pid %ld: uid not allowed (--allow-user/"
		    "--allow-uid); %lu more refused since the last such line", (unsigned)uc->uid,
		    (unsigned)uc->gid, (long)uc->pid, s->refusals_suppressed);
	else
		kw_log_warn("refused peer uid %u gid %u pid %ld: uid not allowed (--allow-user/"
		    "--allow-uid)", (unsigned)uc->uid, (unsigned)uc->gid, (long)uc->pid);
	s->last_refusal_log = now;
	s->refusals_suppressed = 0;
}

static void
session(struct sv *s, int conn)
{
	struct ucred uc;
	pid_t pid;

	if (hsm_peer_cred(conn, &uc) != 0) {
		kw_log_warn("SO_PEERCRED: %s; connection closed", strerror(errno));
		close(conn);
		return;
	}
	if (!hsm_allow_has(&s->cfg->allow, uc.uid)) {
		/* checked before anything else: a refused peer never disturbs the session */
		log_refusal(s, &uc);
		close(conn);
		return;
	}
	if (s->child > 0) {
		/* the broker reconnects only after giving up on the old session */
		kw_log_info("new session from pid %ld: stopping serving helper %ld",
		    (long)uc.pid, (long)s->child);
		/* SIGTERM+SIGCONT first, SIGKILL after the grace: see kill_child() */
		kill_child(s, SIGTERM, KILL_GRACE_MS);
	}
	snprintf(s->uidbuf, sizeof(s->uidbuf), "%u", (unsigned)uc.uid);
	if ((pid = fork()) < 0) {
		kw_log_err("fork: %s; connection closed", strerror(errno));
		close(conn);
		return;
	}
	if (pid == 0) {
		sigset_t none;

		sigemptyset(&none);
		(void)sigprocmask(SIG_SETMASK, &none, NULL);
		if (conn == HSM_PROTO_FD) {
			if (fcntl(HSM_PROTO_FD, F_SETFD, 0) != 0)
				_exit(127);
		} else if (dup2(conn, HSM_PROTO_FD) != HSM_PROTO_FD) {
			_exit(127);
		}
		/* the listening socket and the signalfd are >= 4 or replaced by dup2 */
		if (close_range(HSM_PROTO_FD + 1, ~0U, 0) != 0) {
			for (int fd = HSM_PROTO_FD + 1; fd < 65536; fd++)
				(void)close(fd);
		}
		execve(s->cfg->self_exe, s->argv, s->envp);
		_exit(127);
	}
	close(conn);
	s->child = pid;
	kw_log_info("session for uid %u (pid %ld): serving helper %ld", (unsigned)uc.uid,
	    (long)uc.pid, (long)pid);
}

/* Warnings about a layout that gives no custody boundary; never fatal. */
static int
check_layout(const struct hsm_supervise_config *c)
{
	struct stat st;

	if (stat(c->pin_file, &st) != 0 || access(c->pin_file, R_OK) != 0) {
		kw_log_err("PIN file %s is not readable by uid %u: %s", c->pin_file,
		    (unsigned)getuid(), strerror(errno));
		return KW_ERR_IO;
	}
	if ((st.st_mode & 077) != 0)
		kw_log_warn("PIN file %s has mode %04o: make it 0400 (owner only)", c->pin_file,
		    (unsigned)(st.st_mode & 07777));
	if (hsm_allow_has(&c->allow, getuid()))
		kw_log_warn("uid %u (our own) is allowed: a broker running as this user has no "
		    "custody boundary", (unsigned)getuid());
	if (getuid() == 0)
		kw_log_warn("running as root: run keywarden-hsm as its own user (docs/deploy.md)");
	return 0;
}

int
hsm_supervise(const struct hsm_supervise_config *cfg)
{
	struct sv s;
	sigset_t set;
	int r, rc = 1;
	bool stop = false;

	memset(&s, 0, sizeof(s));
	s.cfg = cfg;
	s.lfd = s.sfd = -1;
	s.child = -1;
	s.last_refusal_log = INT64_MIN / 2;
	if (cfg->allow.n == 0 || cfg->self_exe == NULL || cfg->module == NULL ||
	    cfg->token == NULL || cfg->pin_file == NULL) {
		kw_log_err("supervisor: --allow-user or --allow-uid, --module, --token and "
		    "--pin-file are required");
		return 2;
	}
	if (check_layout(cfg) != 0)
		return 1;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0 ||
	    (s.sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK)) < 0) {
		kw_log_err("signalfd: %s", strerror(errno));
		goto out;
	}
	r = passed_socket(&s.lfd);
	if (r == KW_ERR_NOT_FOUND) {
		if (cfg->listen_path == NULL) {
			kw_log_err("no socket passed by systemd and no --listen path");
			goto out;
		}
		if (own_socket(cfg->listen_path, cfg->socket_mode, &s.lfd) != 0)
			goto out;
		s.created = true;
		kw_log_info("listening on %s (mode %04o)", cfg->listen_path,
		    (unsigned)cfg->socket_mode);
	} else if (r != 0) {
		kw_log_err_r(r, "LISTEN_FDS: expected one listening AF_UNIX SOCK_SEQPACKET socket");
		goto out;
	} else {
		kw_log_info("listening on the socket passed by systemd (fd %d)", s.lfd);
	}
	{
		/* poll() says when; accept4() must not block if the peer went away meanwhile */
		int fl = fcntl(s.lfd, F_GETFL);

		if (fl < 0 || fcntl(s.lfd, F_SETFL, fl | O_NONBLOCK) != 0) {
			kw_log_err("fcntl: %s", strerror(errno));
			goto out;
		}
	}
	/* after passed_socket(): LISTEN_* are gone from our environment */
	if ((s.envp = serve_env(cfg->softhsm2_conf)) == NULL || build_argv(&s) != 0) {
		kw_log_err("out of memory");
		goto out;
	}
	{
		char allowed[HSM_ALLOW_MAX * 12 + 1];
		size_t o = 0;

		allowed[0] = '\0';
		for (size_t i = 0; i < cfg->allow.n && o < sizeof(allowed); i++)
			o += (size_t)snprintf(allowed + o, sizeof(allowed) - o, "%s%u",
			    i > 0 ? "," : "", (unsigned)cfg->allow.uid[i]);
		kw_log_info("supervisor uid %u: sessions for uid %s; module %s, token '%s'",
		    (unsigned)getuid(), allowed, cfg->module, cfg->token);
	}
	while (!stop) {
		struct pollfd p[2] = {{s.lfd, POLLIN, 0}, {s.sfd, POLLIN, 0}};

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			kw_log_err("poll: %s", strerror(errno));
			goto out;
		}
		if (p[1].revents & POLLIN) {
			struct signalfd_siginfo si;

			while (read(s.sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
					kw_log_info("signal %u: stopping", si.ssi_signo);
					stop = true;
				}
			}
			reap_all(&s);
		}
		if (!stop && (p[0].revents & POLLIN)) {
			int conn = accept4(s.lfd, NULL, NULL, SOCK_CLOEXEC);

			if (conn >= 0) {
				session(&s, conn);
			} else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
				struct timespec ts = {0, 100 * 1000 * 1000};

				kw_log_err("accept: %s", strerror(errno));
				nanosleep(&ts, NULL);    /* e.g. EMFILE: do not spin */
			}
		}
	}
	rc = 0;
out:
	/* SIGTERM, then SIGKILL after the grace time */
	kill_child(&s, SIGTERM, STOP_GRACE_MS);
	if (s.lfd >= 0)
		close(s.lfd);
	if (s.created)
		(void)unlink(cfg->listen_path);
	if (s.sfd >= 0)
		close(s.sfd);
	strv_free(s.envp);
	argv_free(&s);
	return rc;
}
