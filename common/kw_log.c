/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>

#include "kw_log.h"

static char log_prog[32] = "keywarden";
/* read by every thread without the lock (the level test comes first): atomics */
static int log_level = KW_LOG_INFO;
static int log_format = KW_LOG_FMT_TEXT;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
/* the journal's native socket; under log_lock */
static char journal_path[108] = "/run/systemd/journal/socket";
static int journal_fd = -1;
static long long journal_retry_at;   /* CLOCK_MONOTONIC second before which stderr is used */

/*
 * A send blocks like sd_journal_send's, so that a busy journal slows us down
 * rather than losing records, but at most this long; then the record and
 * those of the next JOURNAL_BACKOFF_S seconds go to stderr as text lines.
 */
#define JOURNAL_SEND_TIMEOUT_MS 1000
#define JOURNAL_BACKOFF_S 10

/*
 * KW_EVENT names and MESSAGE_IDs: stable forever (operators filter on them
 * with journalctl MESSAGE_ID=...); a new event gets a new random id
 * (cat /proc/sys/kernel/random/uuid), never a reused one. The table in
 * docs/operations.md lists them.
 */
static const struct { const char *name, *id; } log_events[KW_EV_COUNT_] = {
	[KW_EV_START] = {"start", "da4739b396e64acd913c250efa573e0f"},
	[KW_EV_STOP] = {"stop", "31356b8a3c154aac99bbd59a8c51e275"},
	[KW_EV_RELOAD] = {"reload", "d61b9beeb9cf4a3bacd21111e7df37db"},
	[KW_EV_ATTEST] = {"attest", "f609df25d45348059dac57b09219350c"},
	[KW_EV_ATTEST_REJECT] = {"attest_reject", "ecaaddfae9354f5b980dd9583fec6f24"},
	[KW_EV_TOKEN] = {"token", "2e331f6a4257465eaec6bfdce802cdc5"},
	[KW_EV_RELEASE] = {"release", "fe04767cee394f30940db2cea142093f"},
	[KW_EV_DENIAL] = {"denial", "9d0cd4fc6c8a45bf81a64a741c98f452"},
	[KW_EV_ADMIN] = {"admin", "4d35c270402945599a69b8012a82569e"},
	[KW_EV_ADMIN_DENIED] = {"admin_denied", "8547b541978d41e28224c9a11bf3bf51"},
	[KW_EV_HSM] = {"hsm", "017c416476184113888bab1b68a137c1"},
};

const char *
kw_log_event_name(enum kw_log_event ev)
{
	return (unsigned)ev < KW_EV_COUNT_ ? log_events[ev].name : NULL;
}

const char *
kw_log_event_message_id(enum kw_log_event ev)
{
	return (unsigned)ev < KW_EV_COUNT_ ? log_events[ev].id : NULL;
}

static enum kw_log_level
level_now(void)
{
	return (enum kw_log_level)__atomic_load_n(&log_level, __ATOMIC_RELAXED);
}

void
kw_log_init(const char *prog, enum kw_log_level level)
{
	snprintf(log_prog, sizeof(log_prog), "%s", prog != NULL ? prog : "keywarden");
	kw_log_set_level(level);
}

void
kw_log_set_level(enum kw_log_level level)
{
	__atomic_store_n(&log_level, (int)level, __ATOMIC_RELAXED);
}

enum kw_log_level
kw_log_get_level(void)
{
	return level_now();
}

int
kw_log_stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char *end;

	if (e == NULL || fstat(STDERR_FILENO, &st) != 0)
		return 0;
	errno = 0;
	dev = strtoull(e, &end, 10);
	if (errno != 0 || end == e || *end != ':')
		return 0;
	e = end + 1;
	ino = strtoull(e, &end, 10);
	if (errno != 0 || end == e || *end != '\0')
		return 0;
	return dev == (unsigned long long)st.st_dev && ino == (unsigned long long)st.st_ino;
}

int
kw_log_format_parse(const char *s, enum kw_log_format *ret)
{
	if (s == NULL)
		return KW_ERR_INVALID_ARG;
	if (strcmp(s, "text") == 0)
		*ret = KW_LOG_FMT_TEXT;
	else if (strcmp(s, "json") == 0)
		*ret = KW_LOG_FMT_JSON;
	else if (strcmp(s, "journal") == 0)
		*ret = KW_LOG_FMT_JOURNAL;
	else if (strcmp(s, "auto") == 0)
		*ret = kw_log_stderr_is_journal() ? KW_LOG_FMT_JOURNAL : KW_LOG_FMT_TEXT;
	else
		return KW_ERR_INVALID_ARG;
	return 0;
}

void
kw_log_set_format(enum kw_log_format f)
{
	__atomic_store_n(&log_format, (int)f, __ATOMIC_RELAXED);
}

enum kw_log_format
kw_log_get_format(void)
{
	return (enum kw_log_format)__atomic_load_n(&log_format, __ATOMIC_RELAXED);
}

int
kw_log_set_journal_socket(const char *path)
{
	if (path == NULL || path[0] == '\0' || strlen(path) >= sizeof(journal_path))
		return KW_ERR_INVALID_ARG;
	pthread_mutex_lock(&log_lock);
	snprintf(journal_path, sizeof(journal_path), "%s", path);
	journal_retry_at = 0;    /* a new socket is tried at once */
	pthread_mutex_unlock(&log_lock);
	return 0;
}

int
kw_log_level_parse(const char *s, enum kw_log_level *ret)
{
	static const struct { const char *n; enum kw_log_level l; } t[] = {
		{"error", KW_LOG_ERR}, {"warn", KW_LOG_WARN},
		{"info", KW_LOG_INFO}, {"debug", KW_LOG_DEBUG},
	};

	for (size_t i = 0; s != NULL && i < KW_ARRAY_SIZE(t); i++) {
		if (strcmp(s, t[i].n) == 0) {
			*ret = t[i].l;
			return 0;
		}
	}
	return KW_ERR_INVALID_ARG;
}

void
kw_log_escape(const char *in, size_t max, char *out, size_t outsz)
{
	size_t o = 0, i;

	if (outsz == 0)
		return;
	if (in == NULL)
		in = "(null)";
	for (i = 0; in[i] != '\0' && i < max; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
			if (o + 2 > outsz)
				break;
			out[o++] = (char)c;
		} else {
			if (o + 5 > outsz)
				break;
			snprintf(out + o, 5, "\\x%02x", c);
			o += 4;
		}
	}
	if (in[i] != '\0' && o + 4 <= outsz) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

/*
 * The one place log lines are made safe: every byte outside printable ASCII
 * (control characters, DEL, anything non-ASCII) and the backslash become
 * \xNN, so a value
 * from a peer can neither end the line nor forge another record, whatever
 * the caller passed. Cuts at a character boundary when the result does not
 * fit (the line then ends with "...").
 */
static void
escape_inplace(char *msg, size_t size)
{
	char out[1024];    /* the size of kw_log_write's message buffer */
	size_t o = 0, i;

	for (i = 0; msg[i] != '\0'; i++) {
		unsigned char c = (unsigned char)msg[i];

		if (c >= 0x20 && c < 0x7f && c != '\\') {
			if (o + 1 >= sizeof(out) - 3)
				break;
			out[o++] = (char)c;
		} else {
			if (o + 4 >= sizeof(out) - 3)
				break;
			snprintf(out + o, 5, "\\x%02x", c);
			o += 4;
		}
	}
	if (msg[i] != '\0') {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	snprintf(msg, size, "%s", out);
}

/*
 * One JSON record, built whole and written with one write(2): keywarden-hsm
 * shares the broker's stderr, and records written piecemeal would interleave
 * byte by byte. Big enough for the largest record: a message of 1023
 * escaped bytes (no backslash left; each '"' doubles), repository and jkt of
 * 199 (doubled at most), the error text, function and program names and the
 * fixed keys stay far below.
 */
struct jline {
	char b[6144];
	size_t n;
};

static void KW_PRINTF(2, 3)
jput(struct jline *l, const char *fmt, ...)
{
	va_list ap;
	int k;

	va_start(ap, fmt);
	k = vsnprintf(l->b + l->n, sizeof(l->b) - l->n, fmt, ap);
	va_end(ap);
	if (k > 0)
		l->n = (size_t)k < sizeof(l->b) - l->n ? l->n + (size_t)k : sizeof(l->b) - 1;
}

static void
jchar(struct jline *l, char c)
{
	if (l->n < sizeof(l->b) - 1)
		l->b[l->n++] = c;
}

/* JSON-quote s (already escaped: printable ASCII only) into l. */
static void
json_str(struct jline *l, const char *s)
{
	jchar(l, '"');
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			jchar(l, '\\');
		if ((unsigned char)*s < 0x20)
			jput(l, "\\u%04x", (unsigned char)*s);
		else
			jchar(l, *s);
	}
	jchar(l, '"');
}

/* l's bytes to stderr in one write (retried only for what a signal or a short write left). */
static void
jwrite(const struct jline *l)
{
	size_t o = 0;

	fflush(stderr);
	while (o < l->n) {
		ssize_t w = write(STDERR_FILENO, l->b + o, l->n - o);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		o += (size_t)w;
	}
}

/* One journal field; an escaped value never holds '\n', so the simple KEY=VALUE form suffices. */
static int
jfield(char *out, size_t outsz, size_t *o, const char *key, const char *val)
{
	int n = snprintf(out + *o, outsz - *o, "%s=%s\n", key, val);

	if (n < 0 || (size_t)n >= outsz - *o)
		return -1;
	*o += (size_t)n;
	return 0;
}

/* One datagram to the journal's native socket; the caller holds log_lock. 0 or -1. */
static int
journal_send_locked(const char *buf, size_t len)
{
	const struct timeval tmo = {.tv_sec = JOURNAL_SEND_TIMEOUT_MS / 1000,
		.tv_usec = (JOURNAL_SEND_TIMEOUT_MS % 1000) * 1000};
	struct sockaddr_un sa;
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if ((long long)now.tv_sec < journal_retry_at)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, journal_path, strlen(journal_path) + 1);
	if (journal_fd < 0) {
		if ((journal_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
			goto fail;
		(void)setsockopt(journal_fd, SOL_SOCKET, SO_SNDTIMEO, &tmo, sizeof(tmo));
	}
	if (sendto(journal_fd, buf, len, MSG_NOSIGNAL, (const struct sockaddr *)&sa,
	    (socklen_t)sizeof(sa)) >= 0)
		return 0;
fail:
	journal_retry_at = (long long)now.tv_sec + JOURNAL_BACKOFF_S;
	return -1;
}

/* An untrusted field value (repository, jkt): escaped and cut like kw_log_escape. */
static void
field_escape(const char *in, char out[static 200])
{
	kw_log_escape(in, 128, out, 200);
}

/* Format and write one record; the caller holds log_lock. suffix may be "". ctx may be NULL. */
static void KW_PRINTF(5, 0)
vwrite_locked(enum kw_log_level lvl, const char *func, int r, const struct kw_log_ctx *ctx,
    const char *fmt, va_list ap, const char *suffix)
{
	static const char *names[] = {"error", "warn", "info", "debug"};
	static const char prio[] = {'3', '4', '6', '7'};   /* syslog: err, warning, info, debug */
	char msg[1024], ts[32], repo[200] = "", jkt[200] = "";
	const char *ev = NULL, *mid = NULL;
	enum kw_log_format fmtk = kw_log_get_format();
	struct timespec now;
	struct tm tm;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	escape_inplace(msg, sizeof(msg));
	if (ctx != NULL) {
		ev = kw_log_event_name(ctx->event);
		mid = kw_log_event_message_id(ctx->event);
		if (ctx->repository != NULL)
			field_escape(ctx->repository, repo);
		if (ctx->jkt != NULL)
			field_escape(ctx->jkt, jkt);
	}
	if (fmtk == KW_LOG_FMT_JOURNAL) {
		char d[2048], m[1400], pid[24];
		size_t o = 0;

		snprintf(m, sizeof(m), "%s%s%s%s", msg, r != 0 ? ": " : "", r != 0 ? kw_strerror(r) : "",
		    suffix);
		snprintf(pid, sizeof(pid), "%ld", (long)getpid());
		if (jfield(d, sizeof(d), &o, "MESSAGE", m) == 0 &&
		    jfield(d, sizeof(d), &o, "PRIORITY", (char[]){prio[lvl], '\0'}) == 0 &&
		    jfield(d, sizeof(d), &o, "SYSLOG_IDENTIFIER", log_prog) == 0 &&
		    jfield(d, sizeof(d), &o, "SYSLOG_PID", pid) == 0 &&
		    jfield(d, sizeof(d), &o, "CODE_FUNC", func) == 0 &&
		    (r == 0 || jfield(d, sizeof(d), &o, "KW_ERROR", kw_strerror(r)) == 0) &&
		    (ev == NULL || jfield(d, sizeof(d), &o, "KW_EVENT", ev) == 0) &&
		    (mid == NULL || jfield(d, sizeof(d), &o, "MESSAGE_ID", mid) == 0) &&
		    (repo[0] == '\0' || jfield(d, sizeof(d), &o, "KW_REPOSITORY", repo) == 0) &&
		    (jkt[0] == '\0' || jfield(d, sizeof(d), &o, "KW_JKT", jkt) == 0) &&
		    journal_send_locked(d, o) == 0)
			return;
		/* no journal: the record still goes to stderr, as a text line */
	}
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	if (fmtk == KW_LOG_FMT_JSON) {
		struct jline l;

		l.n = 0;
		jput(&l, "{\"time\":\"%s.%03ldZ\",\"level\":\"%s\",\"prog\":", ts,
		    now.tv_nsec / 1000000, names[lvl]);
		json_str(&l, log_prog);
		jput(&l, ",\"pid\":%ld,\"func\":", (long)getpid());
		json_str(&l, func);
		jput(&l, ",\"msg\":");
		json_str(&l, msg);
		if (r != 0) {
			jput(&l, ",\"error\":");
			json_str(&l, kw_strerror(r));
		}
		if (ev != NULL)
			jput(&l, ",\"event\":\"%s\",\"message_id\":\"%s\"", ev, mid);
		if (repo[0] != '\0') {
			jput(&l, ",\"repository\":");
			json_str(&l, repo);
		}
		if (jkt[0] != '\0') {
			jput(&l, ",\"jkt\":");
			json_str(&l, jkt);
		}
		if (suffix[0] != '\0') {
			jput(&l, ",\"suppressed\":");
			json_str(&l, suffix + 1);
		}
		jput(&l, "}\n");
		jwrite(&l);
		return;
	}
	if (r != 0) {
		fprintf(stderr, "%s.%03ldZ %s %s[%ld] %s: %s: %s%s\n", ts, now.tv_nsec / 1000000,
		    names[lvl], log_prog, (long)getpid(), func, msg, kw_strerror(r), suffix);
	} else {
		fprintf(stderr, "%s.%03ldZ %s %s[%ld] %s: %s%s\n", ts, now.tv_nsec / 1000000,
		    names[lvl], log_prog, (long)getpid(), func, msg, suffix);
	}
	fflush(stderr);
}

/* The token bucket of kw_log_write_rl; the caller holds log_lock. 1: write, with *suffix set. */
static int
ratelimit_take_locked(struct kw_log_ratelimit *rl, unsigned int burst, char *suffix, size_t n)
{
	struct timespec mono;

	clock_gettime(CLOCK_MONOTONIC, &mono);
	if (!rl->primed) {
		rl->primed = 1;
		rl->tokens = burst;
		rl->last = (long long)mono.tv_sec;
	} else if ((long long)mono.tv_sec > rl->last) {
		long long add = (long long)mono.tv_sec - rl->last;

		rl->tokens = add >= (long long)burst || rl->tokens + add >= burst ? burst :
		    rl->tokens + (unsigned int)add;
		rl->last = (long long)mono.tv_sec;
	}
	if (rl->tokens == 0) {
		rl->dropped++;
		return 0;
	}
	rl->tokens--;
	if (rl->dropped > 0)
		snprintf(suffix, n, " [%lu similar lines suppressed]", rl->dropped);
	rl->dropped = 0;
	return 1;
}

/* Every entry point ends here: level, rate limit (rl may be NULL), one record under the lock. */
static void KW_PRINTF(7, 0)
vlog(struct kw_log_ratelimit *rl, unsigned int burst, enum kw_log_level lvl, const char *func,
    int r, const struct kw_log_ctx *ctx, const char *fmt, va_list ap)
{
	char suffix[64] = "";

	if (lvl > level_now())
		return;
	pthread_mutex_lock(&log_lock);
	if (rl == NULL || ratelimit_take_locked(rl, burst, suffix, sizeof(suffix)))
		vwrite_locked(lvl, func, r, ctx, fmt, ap, suffix);
	pthread_mutex_unlock(&log_lock);
}

void
kw_log_write(enum kw_log_level lvl, const char *func, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(NULL, 0, lvl, func, r, NULL, fmt, ap);
	va_end(ap);
}

void
kw_log_write_ctx(enum kw_log_level lvl, const char *func, int r, const struct kw_log_ctx *ctx,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(NULL, 0, lvl, func, r, ctx, fmt, ap);
	va_end(ap);
}

void
kw_log_write_rl(struct kw_log_ratelimit *rl, unsigned int burst, enum kw_log_level lvl,
    const char *func, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(rl, burst, lvl, func, r, NULL, fmt, ap);
	va_end(ap);
}

void
kw_log_write_rl_ctx(struct kw_log_ratelimit *rl, unsigned int burst, enum kw_log_level lvl,
    const char *func, int r, const struct kw_log_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(rl, burst, lvl, func, r, ctx, fmt, ap);
	va_end(ap);
}
