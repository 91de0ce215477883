/* SPDX-License-Identifier: Apache-2.0 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kw_log.h"

static char log_prog[32] = "keywarden";
static enum kw_log_level log_level = KW_LOG_INFO;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void
kw_log_init(const char *prog, enum kw_log_level level)
{
	snprintf(log_prog, sizeof(log_prog), "%s", prog != NULL ? prog : "keywarden");
	log_level = level;
}

void
kw_log_set_level(enum kw_log_level level)
{
	log_level = level;
}

enum kw_log_level
kw_log_get_level(void)
{
	return log_level;
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

/* Format and write one line; the caller holds log_lock. suffix may be "". */
static void KW_PRINTF(4, 0)
vwrite_locked(enum kw_log_level lvl, const char *func, int r, const char *fmt, va_list ap,
    const char *suffix)
{
	static const char *names[] = {"error", "warn", "info", "debug"};
	char msg[1024], ts[32];
	struct timespec now;
	struct tm tm;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	escape_inplace(msg, sizeof(msg));
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	if (r != 0)
		fprintf(stderr, "%s.%03ldZ %s %s[%ld] %s: %s: %s%s\n", ts, now.tv_nsec / 1000000,
		    names[lvl], log_prog, (long)getpid(), func, msg, kw_strerror(r), suffix);
	else
		fprintf(stderr, "%s.%03ldZ %s %s[%ld] %s: %s%s\n", ts, now.tv_nsec / 1000000,
		    names[lvl], log_prog, (long)getpid(), func, msg, suffix);
	fflush(stderr);
}

void
kw_log_write(enum kw_log_level lvl, const char *func, int r, const char *fmt, ...)
{
	va_list ap;

	if (lvl > log_level)
		return;
	va_start(ap, fmt);
	pthread_mutex_lock(&log_lock);
	vwrite_locked(lvl, func, r, fmt, ap, "");
	pthread_mutex_unlock(&log_lock);
	va_end(ap);
}

void
kw_log_write_rl(struct kw_log_ratelimit *rl, unsigned int burst, enum kw_log_level lvl,
    const char *func, int r, const char *fmt, ...)
{
	char suffix[64] = "";
	struct timespec mono;
	va_list ap;

	if (lvl > log_level)
		return;
	clock_gettime(CLOCK_MONOTONIC, &mono);
	pthread_mutex_lock(&log_lock);
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
		pthread_mutex_unlock(&log_lock);
		return;
	}
	rl->tokens--;
	if (rl->dropped > 0)
		snprintf(suffix, sizeof(suffix), " [%lu similar lines suppressed]", rl->dropped);
	rl->dropped = 0;
	va_start(ap, fmt);
	vwrite_locked(lvl, func, r, fmt, ap, suffix);
	va_end(ap);
	pthread_mutex_unlock(&log_lock);
}
