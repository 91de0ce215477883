/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_LOG_H
#define KW_LOG_H

#include <stddef.h>

#include "kw_err.h"

enum kw_log_level { KW_LOG_ERR = 0, KW_LOG_WARN = 1, KW_LOG_INFO = 2, KW_LOG_DEBUG = 3 };

/*
 * Logging. One line per record on stderr: "TIME LEVEL PROG[PID] FUNC:
 * MESSAGE". Never pass secrets, tokens, evidence or request bodies; identify
 * keys with kw_fp(). Every byte of the message outside printable ASCII is
 * written as \xNN here, in one place, so peer-controlled text cannot break a
 * line; kw_log_escape() is still useful to cut a long value short and to
 * quote it for messages that do not go through kw_log (errors on stderr).
 */
void kw_log_init(const char *prog, enum kw_log_level level);
void kw_log_set_level(enum kw_log_level level);
enum kw_log_level kw_log_get_level(void);
/* Parse "error", "warn", "info", "debug". */
int kw_log_level_parse(const char *s, enum kw_log_level *ret) KW_WUR;
void kw_log_write(enum kw_log_level lvl, const char *func, int r, const char *fmt, ...) KW_PRINTF(4, 5);

#define kw_log_err(...) kw_log_write(KW_LOG_ERR, __func__, 0, __VA_ARGS__)
#define kw_log_warn(...) kw_log_write(KW_LOG_WARN, __func__, 0, __VA_ARGS__)
#define kw_log_info(...) kw_log_write(KW_LOG_INFO, __func__, 0, __VA_ARGS__)
#define kw_log_debug(...) kw_log_write(KW_LOG_DEBUG, __func__, 0, __VA_ARGS__)
/* The _r forms append ": <kw_strerror(r)>". */
#define kw_log_err_r(r, ...) kw_log_write(KW_LOG_ERR, __func__, (r), __VA_ARGS__)
#define kw_log_warn_r(r, ...) kw_log_write(KW_LOG_WARN, __func__, (r), __VA_ARGS__)
#define kw_log_info_r(r, ...) kw_log_write(KW_LOG_INFO, __func__, (r), __VA_ARGS__)
#define kw_log_debug_r(r, ...) kw_log_write(KW_LOG_DEBUG, __func__, (r), __VA_ARGS__)

/*
 * Lines that a peer can cause (rejected requests, refused connections) are
 * rate-limited per call site so that a flood cannot fill the disk: a token
 * bucket of `burst` lines refilled at one line per second, so a burst is
 * seen whole and a sustained flood costs one line a second per site; the
 * first line written after a suppressed stretch ends with "[N similar lines
 * suppressed]". The state is a static struct kw_log_ratelimit per call site
 * (the _rl macros declare it); thread-safe.
 */
struct kw_log_ratelimit {
	long long last;             /* CLOCK_MONOTONIC second of the last refill */
	unsigned int tokens;        /* lines that may be written now (+ initialized flag) */
	int primed;
	unsigned long dropped;      /* lines suppressed since the last one written */
};
#define KW_LOG_BURST 10
void kw_log_write_rl(struct kw_log_ratelimit *rl, unsigned int burst, enum kw_log_level lvl,
    const char *func, int r, const char *fmt, ...) KW_PRINTF(6, 7);
#define KW_LOG_RL_(lvl, r, ...) do {                                                   \
		static struct kw_log_ratelimit kw_rl_;                                 \
		kw_log_write_rl(&kw_rl_, KW_LOG_BURST, (lvl), __func__, (r), __VA_ARGS__); \
	} while (0)
#define kw_log_info_rl(...) KW_LOG_RL_(KW_LOG_INFO, 0, __VA_ARGS__)
#define kw_log_info_r_rl(r, ...) KW_LOG_RL_(KW_LOG_INFO, (r), __VA_ARGS__)
#define kw_log_warn_rl(...) KW_LOG_RL_(KW_LOG_WARN, 0, __VA_ARGS__)
#define kw_log_warn_r_rl(r, ...) KW_LOG_RL_(KW_LOG_WARN, (r), __VA_ARGS__)
#define kw_log_err_rl(...) KW_LOG_RL_(KW_LOG_ERR, 0, __VA_ARGS__)
#define kw_log_err_r_rl(r, ...) KW_LOG_RL_(KW_LOG_ERR, (r), __VA_ARGS__)

/*
 * Escape an untrusted string for a log line: printable ASCII except '\\'
 * and '\'' is kept, everything else becomes \xNN; at most max input bytes
 * are shown, then "...". out must hold outsz bytes; always NUL-terminated.
 */
void kw_log_escape(const char *in, size_t max, char *out, size_t outsz);

#endif
