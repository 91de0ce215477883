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

/*
 * Where records go (docs/operations-logging.md "Logging"): TEXT is the line
 * above on stderr; JSON one object per line on stderr (keys time, level,
 * prog, pid, func, msg, and error, event, message_id, repository, jkt,
 * suppressed when they apply); JOURNAL one datagram per record in
 * journald's native protocol (MESSAGE, PRIORITY, SYSLOG_IDENTIFIER,
 * CODE_FUNC, KW_* fields, MESSAGE_ID) to /run/systemd/journal/socket, with
 * the text line on stderr whenever a datagram cannot be sent. Every format
 * carries the same escaped message: escaping happens before formatting.
 */
enum kw_log_format { KW_LOG_FMT_TEXT = 0, KW_LOG_FMT_JSON = 1, KW_LOG_FMT_JOURNAL = 2 };
/*
 * Parse "text", "json", "journal" or "auto"; auto resolves here: JOURNAL
 * when stderr is the journal (kw_log_stderr_is_journal), else TEXT.
 */
int kw_log_format_parse(const char *s, enum kw_log_format *ret) KW_WUR;
void kw_log_set_format(enum kw_log_format f);
enum kw_log_format kw_log_get_format(void);
/*
 * Whether stderr is connected to the journal: $JOURNAL_STREAM ("DEV:INO",
 * set by systemd for StandardError=journal) names stderr's st_dev:st_ino.
 */
int kw_log_stderr_is_journal(void);
/*
 * The journal's native socket (default /run/systemd/journal/socket); tests
 * point it elsewhere. path: at most 107 bytes, copied. 0 or
 * KW_ERR_INVALID_ARG (too long; nothing changed).
 */
int kw_log_set_journal_socket(const char *path) KW_WUR;

/*
 * Structured records: what happened (KW_EVENT=, and a stable MESSAGE_ID per
 * event, docs/operations-logging.md) and, when known, the repository and
 * the JWK thumbprint (RFC 7638, public) of the key the record is about.
 * Strings are escaped in every format like the message.
 */
enum kw_log_event {
	KW_EV_NONE = 0,
	KW_EV_START,           /* the broker is ready */
	KW_EV_STOP,            /* the broker stops */
	KW_EV_RELOAD,          /* SIGHUP */
	KW_EV_ATTEST,          /* an attestation was accepted */
	KW_EV_ATTEST_REJECT,   /* an attestation or auth step was refused */
	KW_EV_TOKEN,           /* a token was issued */
	KW_EV_RELEASE,         /* a key was released */
	KW_EV_DENIAL,          /* a release was denied */
	KW_EV_ADMIN,           /* an admin change */
	KW_EV_ADMIN_DENIED,    /* an admin request was refused */
	KW_EV_HSM,             /* the HSM helper (up, down, failures) */
	KW_EV_COUNT_
};
struct kw_log_ctx {
	enum kw_log_event event;
	const char *repository;   /* NULL: none */
	const char *jkt;          /* NULL: none */
};
/*
 * The event's KW_EVENT name and MESSAGE_ID (32 lower-case hex digits); NULL
 * for KW_EV_NONE or out of range.
 */
const char *kw_log_event_name(enum kw_log_event ev);
const char *kw_log_event_message_id(enum kw_log_event ev);
void kw_log_write_ctx(enum kw_log_level lvl, const char *func, int r, const struct kw_log_ctx *ctx,
    const char *fmt, ...) KW_PRINTF(5, 6);
#define kw_log_err_ev(ctx, ...) kw_log_write_ctx(KW_LOG_ERR, __func__, 0, (ctx), __VA_ARGS__)
#define kw_log_warn_ev(ctx, ...) kw_log_write_ctx(KW_LOG_WARN, __func__, 0, (ctx), __VA_ARGS__)
#define kw_log_info_ev(ctx, ...) kw_log_write_ctx(KW_LOG_INFO, __func__, 0, (ctx), __VA_ARGS__)
#define kw_log_info_r_ev(r, ctx, ...) \
	kw_log_write_ctx(KW_LOG_INFO, __func__, (r), (ctx), __VA_ARGS__)
#define kw_log_err_r_ev(r, ctx, ...) \
	kw_log_write_ctx(KW_LOG_ERR, __func__, (r), (ctx), __VA_ARGS__)
/* A compound literal for the ctx argument: KW_LOG_CTX(KW_EV_RELEASE, repo, jkt). */
#define KW_LOG_CTX(ev, repo, jkt) (&(const struct kw_log_ctx){(ev), (repo), (jkt)})

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
void kw_log_write_rl_ctx(struct kw_log_ratelimit *rl, unsigned int burst, enum kw_log_level lvl,
    const char *func, int r, const struct kw_log_ctx *ctx, const char *fmt, ...) KW_PRINTF(7, 8);
#define KW_LOG_RL_(lvl, r, ...) do {                                                   \
		static struct kw_log_ratelimit kw_rl_;                                 \
		kw_log_write_rl(&kw_rl_, KW_LOG_BURST, (lvl), __func__, (r), __VA_ARGS__); \
	} while (0)
#define KW_LOG_RL_EV_(lvl, r, ctx, ...) do {                                           \
		static struct kw_log_ratelimit kw_rl_;                                 \
		kw_log_write_rl_ctx(&kw_rl_, KW_LOG_BURST, (lvl), __func__, (r), (ctx), __VA_ARGS__); \
	} while (0)
#define kw_log_info_ev_rl(ctx, ...) KW_LOG_RL_EV_(KW_LOG_INFO, 0, (ctx), __VA_ARGS__)
#define kw_log_info_r_ev_rl(r, ctx, ...) KW_LOG_RL_EV_(KW_LOG_INFO, (r), (ctx), __VA_ARGS__)
#define kw_log_warn_ev_rl(ctx, ...) KW_LOG_RL_EV_(KW_LOG_WARN, 0, (ctx), __VA_ARGS__)
#define kw_log_err_r_ev_rl(r, ctx, ...) KW_LOG_RL_EV_(KW_LOG_ERR, (r), (ctx), __VA_ARGS__)
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
