/* SPDX-License-Identifier: Apache-2.0 */
/*
 * systemd integration without systemd: the NOTIFY_SOCKET messages
 * (broker/sdnotify.c) received on a datagram socket bound here, exactly as
 * sent; the journal's native protocol (common/kw_log.c) received on a test
 * socket and parsed field by field; JSON lines parsed with jansson; the
 * JOURNAL_STREAM match against stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "kw_log.h"
#include "sdnotify.h"
#include "test_helper.h"

/* A datagram socket bound at path (or abstract when path starts with '@'); -1 on failure. */
static int
bind_dgram(const char *path)
{
	struct sockaddr_un sa;
	size_t len = strlen(path);
	socklen_t sl;
	int fd;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (len >= sizeof(sa.sun_path))
		return -1;
	memcpy(sa.sun_path, path, len);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	sl = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (path[0] != '@'));
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sa, sl) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The next datagram (waits at most 2 s), NUL-terminated; its length or -1. */
static ssize_t
recv_msg(int fd, char *buf, size_t n)
{
	struct timeval tv = {.tv_sec = 2};
	ssize_t r;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	r = recv(fd, buf, n - 1, 0);
	buf[r > 0 ? r : 0] = '\0';
	return r;
}

/* Nothing more is queued on fd. */
static int
queue_empty(int fd)
{
	char c;

	return recv(fd, &c, 1, MSG_DONTWAIT) < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

/* The next datagram on fd is exactly want. */
static void
expect_next(int fd, const char *want)
{
	char buf[1024];
	/* received once, outside CHECKF (which evaluates its condition twice) */
	int same = recv_msg(fd, buf, sizeof(buf)) > 0 && strcmp(buf, want) == 0;

	CHECKF(same, "got '%s', want '%s'", buf, want);
}

static uint64_t
mono_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000U + (uint64_t)ts.tv_nsec / 1000U;
}

static void
test_unset(void)
{
	struct kw_sdnotify *n = (struct kw_sdnotify *)(uintptr_t)1;

	unsetenv("NOTIFY_SOCKET");
	setenv("WATCHDOG_USEC", "1000000", 1);
	CU_ASSERT_EQUAL(kw_sdnotify_open(&n), 0);
	CU_ASSERT_PTR_NULL(n);
	CU_ASSERT_PTR_NULL(getenv("WATCHDOG_USEC"));
	/* every call is a no-op without a socket */
	CU_ASSERT_EQUAL(kw_sdnotify_ready(n, "x"), 0);
	CU_ASSERT_EQUAL(kw_sdnotify_watchdog(n), 0);
	CU_ASSERT_EQUAL(kw_sdnotify_reloading(n, "x"), 0);
	CU_ASSERT_EQUAL(kw_sdnotify_watchdog_usec(n), 0);
	kw_sdnotify_free(n);
}

static void
test_path_socket_messages(void)
{
	char path[256], buf[1024], pid[32];
	struct kw_sdnotify *n = NULL;
	unsigned long long mono = 0;
	uint64_t t0, t1;
	int fd, used = 0;

	snprintf(path, sizeof(path), "%s/notify.sock", test_tmpdir());
	fd = bind_dgram(path);
	CU_ASSERT_FATAL(fd >= 0);
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	setenv("NOTIFY_SOCKET", path, 1);
	setenv("WATCHDOG_USEC", "3000000", 1);
	setenv("WATCHDOG_PID", pid, 1);
	CU_ASSERT_EQUAL_FATAL(kw_sdnotify_open(&n), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(n);
	/* not inherited by the helper */
	CU_ASSERT_PTR_NULL(getenv("NOTIFY_SOCKET"));
	CU_ASSERT_PTR_NULL(getenv("WATCHDOG_USEC"));
	CU_ASSERT_PTR_NULL(getenv("WATCHDOG_PID"));
	CU_ASSERT_EQUAL(kw_sdnotify_watchdog_usec(n), 3000000);

	CU_ASSERT_EQUAL(kw_sdnotify_status(n, "starting: HSM helper self test"), 0);
	expect_next(fd, "STATUS=starting: HSM helper self test");
	CU_ASSERT_EQUAL(kw_sdnotify_ready(n, "ready: 2 workers"), 0);
	expect_next(fd, "READY=1\nSTATUS=ready: 2 workers");
	CU_ASSERT_EQUAL(kw_sdnotify_watchdog(n), 0);
	expect_next(fd, "WATCHDOG=1");

	t0 = mono_usec();
	CU_ASSERT_EQUAL(kw_sdnotify_reloading(n, "reloading"), 0);
	t1 = mono_usec();
	CU_ASSERT(recv_msg(fd, buf, sizeof(buf)) > 0);
	CHECKF(sscanf(buf, "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading%n", &mono, &used) == 1 &&
	    (size_t)used == strlen(buf), "reloading message: '%s'", buf);
	/* CLOCK_MONOTONIC in microseconds, taken during the call */
	CHECKF(mono >= t0 && mono <= t1, "MONOTONIC_USEC %llu not in [%llu, %llu]", mono,
	    (unsigned long long)t0, (unsigned long long)t1);

	CU_ASSERT_EQUAL(kw_sdnotify_stopping(n, "stopping"), 0);
	expect_next(fd, "STOPPING=1\nSTATUS=stopping");
	/* a status cannot add an assignment: control bytes are escaped */
	CU_ASSERT_EQUAL(kw_sdnotify_status(n, "x\nREADY=1"), 0);
	expect_next(fd, "STATUS=x\\x0aREADY=1");
	CU_ASSERT(queue_empty(fd));
	kw_sdnotify_free(n);
	close(fd);
	/* a socket gone: an error, never a crash */
	unlink(path);
	setenv("NOTIFY_SOCKET", path, 1);
	CU_ASSERT_EQUAL_FATAL(kw_sdnotify_open(&n), 0);
	CU_ASSERT_EQUAL(kw_sdnotify_watchdog(n), KW_ERR_IO);
	kw_sdnotify_free(n);
}

static void
test_abstract_socket(void)
{
	char name[64];
	struct kw_sdnotify *n = NULL;
	int fd;

	snprintf(name, sizeof(name), "@kw-test-notify-%ld", (long)getpid());
	fd = bind_dgram(name);
	CU_ASSERT_FATAL(fd >= 0);
	setenv("NOTIFY_SOCKET", name, 1);
	CU_ASSERT_EQUAL_FATAL(kw_sdnotify_open(&n), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(n);
	CU_ASSERT_EQUAL(kw_sdnotify_watchdog_usec(n), 0);    /* no WATCHDOG_USEC */
	CU_ASSERT_EQUAL(kw_sdnotify_ready(n, "ready: 1 workers"), 0);
	expect_next(fd, "READY=1\nSTATUS=ready: 1 workers");
	kw_sdnotify_free(n);
	close(fd);
}

static void
test_watchdog_env_and_bad_addresses(void)
{
	struct kw_sdnotify *n = NULL;
	char path[256];

	snprintf(path, sizeof(path), "%s/wd.sock", test_tmpdir());
	/* the watchdog of another process (WATCHDOG_PID) is not ours */
	setenv("NOTIFY_SOCKET", path, 1);
	setenv("WATCHDOG_USEC", "3000000", 1);
	setenv("WATCHDOG_PID", "1", 1);
	CU_ASSERT_EQUAL_FATAL(kw_sdnotify_open(&n), 0);
	CU_ASSERT_EQUAL(kw_sdnotify_watchdog_usec(n), 0);
	kw_sdnotify_free(n);
	setenv("NOTIFY_SOCKET", path, 1);
	setenv("WATCHDOG_USEC", "12abc", 1);
	CU_ASSERT_EQUAL_FATAL(kw_sdnotify_open(&n), 0);
	CU_ASSERT_EQUAL(kw_sdnotify_watchdog_usec(n), 0);
	kw_sdnotify_free(n);
	/* vsock, relative and oversized addresses are refused, and still unset */
	n = NULL;
	setenv("NOTIFY_SOCKET", "vsock:2:1234", 1);
	CU_ASSERT_EQUAL(kw_sdnotify_open(&n), KW_ERR_INVALID_ARG);
	CU_ASSERT_PTR_NULL(n);
	CU_ASSERT_PTR_NULL(getenv("NOTIFY_SOCKET"));
	setenv("NOTIFY_SOCKET", "@", 1);
	CU_ASSERT_EQUAL(kw_sdnotify_open(&n), KW_ERR_INVALID_ARG);
	{
		char longp[200];

		memset(longp, 'a', sizeof(longp) - 1);
		longp[0] = '/';
		longp[sizeof(longp) - 1] = '\0';
		setenv("NOTIFY_SOCKET", longp, 1);
		CU_ASSERT_EQUAL(kw_sdnotify_open(&n), KW_ERR_INVALID_ARG);
	}
	CU_ASSERT_PTR_NULL(n);
}

/* Split a native-protocol datagram into "KEY=VALUE" lines; the value of key, or NULL. */
static const char *
jfield(char *dgram, const char *key, char *out, size_t n)
{
	size_t kl = strlen(key);
	char *p = dgram;

	while (*p != '\0') {
		char *nl = strchr(p, '\n');
		size_t ll = nl != NULL ? (size_t)(nl - p) : strlen(p);

		if (ll > kl && strncmp(p, key, kl) == 0 && p[kl] == '=') {
			snprintf(out, n, "%.*s", (int)(ll - kl - 1), p + kl + 1);
			return out;
		}
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	return NULL;
}

/* Redirect stderr to a fresh file; returns its fd for restore_stderr. */
static int
stderr_to(const char *path, int *ret_saved)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	fflush(stderr);
	*ret_saved = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	close(fd);
	return 0;
}

static void
restore_stderr(int saved)
{
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
}

static void
test_journal_native(void)
{
	char path[256], buf[4096], v[512], errpath[256];
	uint8_t *text = NULL;
	size_t tlen = 0;
	int fd, saved;

	snprintf(path, sizeof(path), "%s/journal.sock", test_tmpdir());
	fd = bind_dgram(path);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(kw_log_set_journal_socket(path), 0);
	kw_log_init("kwtest", KW_LOG_INFO);
	kw_log_set_format(KW_LOG_FMT_JOURNAL);

	kw_log_info_ev(KW_LOG_CTX(KW_EV_RELEASE, "demo", "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"),
	    "released '%s'", "a\nMESSAGE_ID=forged");
	CU_ASSERT_FATAL(recv_msg(fd, buf, sizeof(buf)) > 0);
	CU_ASSERT_STRING_EQUAL(jfield(buf, "MESSAGE", v, sizeof(v)),
	    "released 'a\\x0aMESSAGE_ID=forged'");
	CU_ASSERT_STRING_EQUAL(jfield(buf, "PRIORITY", v, sizeof(v)), "6");
	CU_ASSERT_STRING_EQUAL(jfield(buf, "SYSLOG_IDENTIFIER", v, sizeof(v)), "kwtest");
	CU_ASSERT_STRING_EQUAL(jfield(buf, "CODE_FUNC", v, sizeof(v)), "test_journal_native");
	CU_ASSERT_STRING_EQUAL(jfield(buf, "KW_EVENT", v, sizeof(v)), "release");
	CU_ASSERT_STRING_EQUAL(jfield(buf, "MESSAGE_ID", v, sizeof(v)),
	    "fe04767cee394f30940db2cea142093f");
	CU_ASSERT_STRING_EQUAL(jfield(buf, "KW_REPOSITORY", v, sizeof(v)), "demo");
	CU_ASSERT_STRING_EQUAL(jfield(buf, "KW_JKT", v, sizeof(v)),
	    "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
	CU_ASSERT_PTR_NULL(jfield(buf, "KW_ERROR", v, sizeof(v)));
	/* exactly one MESSAGE_ID line: the forged one stayed inside MESSAGE */
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "\nMESSAGE_ID=fe04"));
	CU_ASSERT_PTR_NULL(strstr(buf, "\nMESSAGE_ID=forged"));

	/* a record without an event: no KW_EVENT, no MESSAGE_ID; errors: KW_ERROR */
	kw_log_err_r(KW_ERR_HSM, "plain %d", 7);
	CU_ASSERT_FATAL(recv_msg(fd, buf, sizeof(buf)) > 0);
	CU_ASSERT_STRING_EQUAL(jfield(buf, "PRIORITY", v, sizeof(v)), "3");
	CU_ASSERT_STRING_EQUAL(jfield(buf, "KW_ERROR", v, sizeof(v)), kw_strerror(KW_ERR_HSM));
	CU_ASSERT_PTR_NULL(jfield(buf, "KW_EVENT", v, sizeof(v)));
	CU_ASSERT_PTR_NULL(jfield(buf, "MESSAGE_ID", v, sizeof(v)));
	/* below the level: nothing is sent */
	kw_log_debug("not sent");
	CU_ASSERT(queue_empty(fd));
	kw_log_set_level(KW_LOG_DEBUG);
	kw_log_debug("sent");
	CU_ASSERT_FATAL(recv_msg(fd, buf, sizeof(buf)) > 0);
	CU_ASSERT_STRING_EQUAL(jfield(buf, "PRIORITY", v, sizeof(v)), "7");
	kw_log_set_level(KW_LOG_INFO);
	close(fd);

	/* no journal (the socket is gone): the record is a text line on stderr */
	unlink(path);
	snprintf(errpath, sizeof(errpath), "%s/stderr-fallback", test_tmpdir());
	stderr_to(errpath, &saved);
	kw_log_info_ev(KW_LOG_CTX(KW_EV_DENIAL, "r1", NULL), "fallback line");
	restore_stderr(saved);
	CU_ASSERT_EQUAL_FATAL(test_slurp(errpath, &text, &tlen), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr((char *)text, " info kwtest["));
	CU_ASSERT_PTR_NOT_NULL(strstr((char *)text, "] test_journal_native: fallback line\n"));
	free(text);
	kw_log_set_format(KW_LOG_FMT_TEXT);
}

/* A journal that takes nothing more: one send waits its bounded time, then stderr for a while. */
static void
test_journal_stalled(void)
{
	char path[256], errpath[256];
	struct stat st;
	uint64_t t0, t1 = 0, t2;
	int fd, saved, n;

	snprintf(path, sizeof(path), "%s/stalled.sock", test_tmpdir());
	snprintf(errpath, sizeof(errpath), "%s/stderr-stalled", test_tmpdir());
	fd = bind_dgram(path);    /* never read */
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(kw_log_set_journal_socket(path), 0);
	kw_log_init("kwtest", KW_LOG_INFO);
	kw_log_set_format(KW_LOG_FMT_JOURNAL);
	stderr_to(errpath, &saved);
	t0 = mono_usec();
	/* the queue fills (net.unix.max_dgram_qlen datagrams, or the buffer); then one send times out */
	for (n = 0; n < 5000; n++) {
		kw_log_info("record %d", n);
		if (stat(errpath, &st) == 0 && st.st_size > 0)
			break;
	}
	t1 = mono_usec();
	/* the next record goes to stderr at once (no second wait) */
	kw_log_info("after the stall");
	t2 = mono_usec();
	restore_stderr(saved);
	kw_log_set_format(KW_LOG_FMT_TEXT);
	CHECKF(n < 5000, "no record reached stderr after %d records", n);
	CHECKF(t1 - t0 >= 900000 && t1 - t0 < 10000000, "the stalled send took %llu us",
	    (unsigned long long)(t1 - t0));
	CHECKF(t2 - t1 < 500000, "a record during the backoff took %llu us",
	    (unsigned long long)(t2 - t1));
	CU_ASSERT_EQUAL(stat(errpath, &st), 0);
	{
		uint8_t *text = NULL;
		size_t tlen = 0;

		CU_ASSERT_EQUAL_FATAL(test_slurp(errpath, &text, &tlen), 0);
		CU_ASSERT_PTR_NOT_NULL(strstr((char *)text, "test_journal_stalled: after the stall\n"));
		free(text);
	}
	close(fd);
}

static void
test_json_lines(void)
{
	char path[256];
	uint8_t *text = NULL;
	size_t tlen = 0;
	json_t *o;
	int saved;

	snprintf(path, sizeof(path), "%s/json-lines", test_tmpdir());
	kw_log_init("kwtest", KW_LOG_INFO);
	kw_log_set_format(KW_LOG_FMT_JSON);
	stderr_to(path, &saved);
	kw_log_info_ev(KW_LOG_CTX(KW_EV_DENIAL, "re\"po\\", "jkt-1"), "denied \"%s\"\t%s", "q", "\x01");
	restore_stderr(saved);
	kw_log_set_format(KW_LOG_FMT_TEXT);
	CU_ASSERT_EQUAL_FATAL(test_slurp(path, &text, &tlen), 0);
	CU_ASSERT(tlen > 0 && text[tlen - 1] == '\n' && memchr(text, '\n', tlen) == text + tlen - 1);
	o = test_json_text((const char *)text);
	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "level")), "info");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "prog")), "kwtest");
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(o, "pid")), (json_int_t)getpid());
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "func")), "test_json_lines");
	/* escaped before formatting: control bytes and the backslash as \xNN */
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "msg")), "denied \"q\"\\x09\\x01");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "event")), "denial");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "message_id")),
	    "9d0cd4fc6c8a45bf81a64a741c98f452");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "repository")), "re\"po\\x5c");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "jkt")), "jkt-1");
	CU_ASSERT_PTR_NOT_NULL(json_string_value(json_object_get(o, "time")));
	CU_ASSERT_EQUAL(json_object_size(o), 10);
	json_decref(o);
	free(text);
}

/*
 * keywarden-hsm shares the broker's stderr: two processes logging JSON at
 * once must leave whole lines (each record is one write).
 */
static void
test_json_lines_two_processes(void)
{
	enum { N = 300 };
	char path[256], big[900];
	uint8_t *text = NULL;
	size_t tlen = 0, lines = 0, mine = 0;
	int saved, st = -1;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/json-two", test_tmpdir());
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	kw_log_init("kwtest", KW_LOG_INFO);
	kw_log_set_format(KW_LOG_FMT_JSON);
	stderr_to(path, &saved);
	pid = fork();
	if (pid == 0) {
		kw_log_init("kwtest-child", KW_LOG_INFO);
		for (int i = 0; i < N; i++)
			kw_log_info("child %d \"%s\"", i, big);
		_exit(0);
	}
	for (int i = 0; i < N && pid > 0; i++)
		kw_log_info("parent %d \"%s\"", i, big);
	if (pid > 0)
		(void)waitpid(pid, &st, 0);
	restore_stderr(saved);
	kw_log_set_format(KW_LOG_FMT_TEXT);
	CU_ASSERT_FATAL(pid > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CU_ASSERT_EQUAL_FATAL(test_slurp(path, &text, &tlen), 0);
	for (char *p = (char *)text, *nl; p < (char *)text + tlen; p = nl + 1) {
		const char *pr;
		json_t *o;

		nl = memchr(p, '\n', tlen - (size_t)(p - (char *)text));
		CU_ASSERT_PTR_NOT_NULL_FATAL(nl);
		*nl = '\0';
		o = test_json_text(p);
		CU_ASSERT_PTR_NOT_NULL(o);
		pr = o != NULL ? json_string_value(json_object_get(o, "prog")) : NULL;
		CU_ASSERT(pr != NULL && (strcmp(pr, "kwtest") == 0 || strcmp(pr, "kwtest-child") == 0));
		mine += pr != NULL && strcmp(pr, "kwtest") == 0;
		json_decref(o);
		lines++;
	}
	CU_ASSERT_EQUAL(lines, 2 * N);
	CU_ASSERT_EQUAL(mine, N);
	free(text);
}

static void
test_journal_stream_match(void)
{
	char buf[64], path[256];
	struct stat st;
	int saved;

	snprintf(path, sizeof(path), "%s/stream", test_tmpdir());
	stderr_to(path, &saved);
	CU_ASSERT_EQUAL_FATAL(fstat(STDERR_FILENO, &st), 0);
	snprintf(buf, sizeof(buf), "%llu:%llu", (unsigned long long)st.st_dev,
	    (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", buf, 1);
	CU_ASSERT_EQUAL(kw_log_stderr_is_journal(), 1);
	{
		enum kw_log_format f = KW_LOG_FMT_TEXT;

		CU_ASSERT_EQUAL(kw_log_format_parse("auto", &f), 0);
		CU_ASSERT_EQUAL(f, KW_LOG_FMT_JOURNAL);
	}
	snprintf(buf, sizeof(buf), "%llu:%llu", (unsigned long long)st.st_dev,
	    (unsigned long long)st.st_ino + 1);
	setenv("JOURNAL_STREAM", buf, 1);
	CU_ASSERT_EQUAL(kw_log_stderr_is_journal(), 0);
	setenv("JOURNAL_STREAM", "12:", 1);
	CU_ASSERT_EQUAL(kw_log_stderr_is_journal(), 0);
	setenv("JOURNAL_STREAM", "x", 1);
	CU_ASSERT_EQUAL(kw_log_stderr_is_journal(), 0);
	restore_stderr(saved);
	unsetenv("JOURNAL_STREAM");
	{
		enum kw_log_format f = KW_LOG_FMT_JSON;

		CU_ASSERT_EQUAL(kw_log_format_parse("auto", &f), 0);
		CU_ASSERT_EQUAL(f, KW_LOG_FMT_TEXT);
		CU_ASSERT_EQUAL(kw_log_format_parse("json", &f), 0);
		CU_ASSERT_EQUAL(f, KW_LOG_FMT_JSON);
		CU_ASSERT_EQUAL(kw_log_format_parse("JSON", &f), KW_ERR_INVALID_ARG);
		CU_ASSERT_EQUAL(f, KW_LOG_FMT_JSON);    /* untouched on failure */
	}
	/* every event has a name and a distinct 32-hex-digit id */
	for (int i = 1; i < KW_EV_COUNT_; i++) {
		const char *id = kw_log_event_message_id((enum kw_log_event)i);

		CU_ASSERT_PTR_NOT_NULL_FATAL(kw_log_event_name((enum kw_log_event)i));
		CU_ASSERT_PTR_NOT_NULL_FATAL(id);
		CU_ASSERT_EQUAL(strlen(id), 32);
		CU_ASSERT_EQUAL(strspn(id, "0123456789abcdef"), 32);
		for (int k = 1; k < i; k++)
			CU_ASSERT(strcmp(id, kw_log_event_message_id((enum kw_log_event)k)) != 0);
	}
	CU_ASSERT_PTR_NULL(kw_log_event_message_id(KW_EV_NONE));
	CU_ASSERT_PTR_NULL(kw_log_event_name(KW_EV_COUNT_));
}

int
main(void)
{
	CU_pSuite s;

	if (test_begin() != 0)
		return 2;
	s = CU_add_suite("systemd", NULL, NULL);
	TEST_ADD(s, test_unset);
	TEST_ADD(s, test_path_socket_messages);
	TEST_ADD(s, test_abstract_socket);
	TEST_ADD(s, test_watchdog_env_and_bad_addresses);
	TEST_ADD(s, test_journal_native);
	TEST_ADD(s, test_journal_stalled);
	TEST_ADD(s, test_json_lines);
	TEST_ADD(s, test_json_lines_two_processes);
	TEST_ADD(s, test_journal_stream_match);
	return test_end(0);
}
