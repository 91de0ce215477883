/* SPDX-License-Identifier: Apache-2.0 */
#ifndef HSM_CLIENT_H
#define HSM_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>
#include <jansson.h>
#include <sys/types.h>

#include "hsm_msg.h"
#include "kw_err.h"

/*
 * Broker side of the helper protocol (hsm_proto.h). Runs on the broker's
 * libevent loop and never blocks it: calls are queued, written when the
 * socket is writable, and completed from the read callback. Requests are
 * typed (struct hsm_args, or the hsm_client_<op>() stubs below) and every
 * reply is decoded by its op into a typed result (hsm_msg.h).
 */
struct hsm_client;

struct hsm_client_config {
	/*
	 * Socket mode: connect to a keywarden-hsm supervisor listening at this
	 * path (it runs as its own user and holds the PIN; docs/hsm.md
	 * "Supervisor mode"). "Restarting the helper" then means closing the
	 * connection and connecting again. The fields below up to log_level
	 * are not used in socket mode.
	 */
	const char *socket_path;
	/* Spawn mode (socket_path NULL): fork+exec the helper as our own user. */
	const char *helper_path;    /* keywarden-hsm executable */
	const char *module_path;    /* PKCS#11 module, e.g. /usr/lib/softhsm/libsofthsm2.so */
	const char *token_label;
	const char *pin_file;       /* read by the helper only */
	const char *softhsm2_conf;  /* optional: SOFTHSM2_CONF for the helper */
	unsigned int recycle_after; /* releases between C_Finalize/C_Initialize; 0 = default
	                             * (the helper's 5000), HSM_CLIENT_RECYCLE_NEVER = never */
	const char *log_level;      /* "info" etc., passed on */
	const char *log_format;     /* "text", "json" or "journal" (resolved), passed on */
	const char *journal_socket; /* the journal's native socket, passed on; NULL: default */
	const char *release_assembly; /* "hsm", "helper" or NULL (the helper's default, "hsm") */

	/* Deadlines and the queue bound (both modes); 0 = the default. */
	unsigned int call_timeout_ms;  /* ops of class "call" (hsm_proto.h OPS) */
	unsigned int admin_timeout_ms; /* ops of class "admin" (HSM_OPF_ADMIN); also the
	                                * first probe at start (it includes the helper's
	                                * start-up) */
	unsigned int max_pending;      /* calls queued, in flight or abandoned */
	unsigned int respawn_interval_ms; /* at most one spawn/connect per this; less than
	                                   * HSM_CLIENT_RESPAWN_INTERVAL_MS (0): that */
};

#define HSM_CLIENT_RECYCLE_NEVER 0xffffffffU
#define HSM_CLIENT_CALL_TIMEOUT_DEFAULT_MS 5000U
#define HSM_CLIENT_ADMIN_TIMEOUT_DEFAULT_MS 30000U
#define HSM_CLIENT_MAX_PENDING_DEFAULT 1024U
/* At most one spawn (or connect) per this interval; calls meanwhile fail fast (the default). */
#define HSM_CLIENT_RESPAWN_INTERVAL_MS 1000

/*
 * Called exactly once per call, on the loop thread. r is 0 and res the
 * decoded reply (borrowed: valid only during the callback; hsm_result_copy
 * keeps it), or r < 0 and res NULL:
 *   KW_ERR_TIMEOUT      the call's deadline passed (the call is abandoned: a
 *                       late reply is matched by its id and dropped);
 *   KW_ERR_UNAVAILABLE  the helper died, broke the protocol or was declared
 *                       hung (it answered nothing for a full deadline while
 *                       calls were pending) and was killed or disconnected;
 *                       the next call starts a new one;
 *   KW_ERR_HSM          also: an ok reply that does not decode (hsm_msg.h);
 *   anything else       the helper's error code.
 * A callback may start new calls but must not free the client.
 */
typedef void (*hsm_client_cb)(int r, const struct hsm_result *res, void *arg);

/*
 * Spawn the helper (fork+exec with a socketpair), or in socket mode connect
 * to the supervisor, and wait for its probe (admin deadline). 0 and *ret, or
 * KW_ERR_INVALID_ARG (incomplete config), or the error of the probe.
 */
int hsm_client_start(struct event_base *base, const struct hsm_client_config *cfg,
    struct hsm_client **ret) KW_WUR;

/*
 * Queue the request a (encoded here: its pointers need to live only during
 * this call). Respawns (reconnects) the helper first if it is gone, at most
 * once per respawn interval (HSM_CLIENT_RESPAWN_INTERVAL_MS by default). The call gets the deadline of its
 * op's class (hsm_proto.h OPS). Returns 0 (cb will be called later, from
 * the loop, never from inside this function, at the latest shortly after
 * the deadline) or < 0 and then cb is never called: KW_ERR_TOO_LARGE,
 * KW_ERR_NOMEM, KW_ERR_INVALID_ARG, or KW_ERR_HSM when the HSM cannot take
 * the call now (max_pending calls outstanding, within the respawn interval,
 * or the spawn/connect failed).
 */
int hsm_client_call(struct hsm_client *c, const struct hsm_args *a, hsm_client_cb cb,
    void *arg) KW_WUR;

/*
 * The typed stubs: each builds its struct hsm_args and calls
 * hsm_client_call (same returns); the reply arrives as res->u.<op>.
 */
int hsm_client_probe(struct hsm_client *c, hsm_client_cb cb, void *arg) KW_WUR;
/* length: bytes of a "secret"; for AES 0, or 16/32 (another value is the helper's error). */
int hsm_client_generate(struct hsm_client *c, const char *label, enum hsm_kind kind,
    size_t length, bool if_missing, hsm_client_cb cb, void *arg) KW_WUR;
/* n, e: the big-endian RSA public key the value is released to. */
int hsm_client_release(struct hsm_client *c, const char *label, const char *profile,
    const uint8_t *n, size_t n_len, const uint8_t *e, size_t e_len, const char *kid,
    hsm_client_cb cb, void *arg) KW_WUR;
int hsm_client_random(struct hsm_client *c, size_t length, hsm_client_cb cb, void *arg) KW_WUR;
int hsm_client_stats(struct hsm_client *c, hsm_client_cb cb, void *arg) KW_WUR;
int hsm_client_token_keys(struct hsm_client *c, hsm_client_cb cb, void *arg) KW_WUR;
/* now < 0: the helper's clock. */
int hsm_client_token_key_new(struct hsm_client *c, int64_t now, hsm_client_cb cb,
    void *arg) KW_WUR;
int hsm_client_sign(struct hsm_client *c, const char *label,
    const uint8_t digest[static HSM_SIGN_DIGEST_LEN], hsm_client_cb cb, void *arg) KW_WUR;
int hsm_client_token_key_destroy(struct hsm_client *c, const char *label, hsm_client_cb cb,
    void *arg) KW_WUR;
/* after NULL: the whole list in one reply (KW_ERR_TOO_LARGE when it does not fit). */
int hsm_client_key_list(struct hsm_client *c, const char *after, hsm_client_cb cb,
    void *arg) KW_WUR;
int hsm_client_destroy(struct hsm_client *c, const char *label, hsm_client_cb cb,
    void *arg) KW_WUR;
int hsm_client_import_key(struct hsm_client *c, hsm_client_cb cb, void *arg) KW_WUR;
/* The audit checkpoint key (created on first use) and a signature with it (docs/audit.md). */
int hsm_client_audit_key(struct hsm_client *c, hsm_client_cb cb, void *arg) KW_WUR;
int hsm_client_audit_sign(struct hsm_client *c, const uint8_t digest[static HSM_SIGN_DIGEST_LEN],
    hsm_client_cb cb, void *arg) KW_WUR;
/* kek, value: base64url as the importer sent them (the helper checks them). */
int hsm_client_import(struct hsm_client *c, const char *label, enum hsm_kind kind,
    size_t length, const char *kid, const char *kek, const char *value, hsm_client_cb cb,
    void *arg) KW_WUR;

/*
 * Queue a request object req (stolen, also on failure; its "id" is set
 * here): one encoded by hsm_args_encode on another thread (the admin
 * bridge), or a hand-made one (tests of the helper's request checks). op
 * selects the deadline class and the reply's decoding; HSM_OP_NONE: the
 * class of req's "op" member, and res carries only the raw reply (res->json).
 * Returns as hsm_client_call.
 */
int hsm_client_call_json(struct hsm_client *c, enum hsm_op op, json_t *req, hsm_client_cb cb,
    void *arg) KW_WUR;

/*
 * Blocking round trip for start-up only, before the loop runs (probe,
 * token keys, reconciliation). Returns 0 and *ret (the caller's: free with
 * hsm_result_free), or the helper's error code, or an error as for
 * hsm_client_call and its callback (KW_ERR_TIMEOUT after the call's
 * deadline, KW_ERR_UNAVAILABLE when the helper died or was declared hung).
 * Replies to earlier asynchronous calls that arrive meanwhile, and their
 * deadlines, complete their callbacks from inside this call.
 */
int hsm_client_call_sync(struct hsm_client *c, const struct hsm_args *a,
    struct hsm_result **ret) KW_WUR;

/*
 * The helper's pid, or -1 when none is running (it died and was not yet
 * respawned) or in socket mode (the helper is not our child). For tests
 * and diagnostics.
 */
pid_t hsm_client_pid(const struct hsm_client *c);

/*
 * Spawn mode: the log level and format (as in hsm_client_config; NULL:
 * unchanged) of the helpers spawned from now on (the broker's SIGHUP), and,
 * when both are given and a helper runs, a "log" call that tells it (a
 * failure of that call is logged). 0, or KW_ERR_NOMEM (the format may then
 * be unchanged), or an error of hsm_client_call. Socket mode: 0, nothing
 * to do (the supervisor's options decide).
 */
int hsm_client_set_log(struct hsm_client *c, const char *level, const char *format) KW_WUR;

/* Whether a helper (or a connection to one) is up now. */
int hsm_client_connected(const struct hsm_client *c);

/*
 * Counters for tests and diagnostics: calls outstanding (queued, in
 * flight or abandoned and still owed a reply by the helper), calls failed
 * by their deadline, helpers declared hung, spawns/connects, and late
 * replies dropped.
 */
struct hsm_client_stats {
	size_t pending;
	unsigned long timeouts, hung, spawns, late_replies, rejected;
};
void hsm_client_get_stats(const struct hsm_client *c, struct hsm_client_stats *ret);

/*
 * Observe the client (the broker's metrics): done(arg, op, r, us) once per
 * call that completes (a reply, its deadline, or the helper going down; r
 * as the callback's, us since it was queued), just before the call's
 * callback; spawned(arg) each time a helper is started or connected after
 * this call. Loop thread; either may be NULL.
 */
typedef void (*hsm_client_observe_fn)(void *arg, int op, int r, uint64_t us);
void hsm_client_set_observer(struct hsm_client *c, hsm_client_observe_fn done,
    void (*spawned)(void *arg), void *arg);
/* The probe reply received at start (borrowed; op HSM_OP_PROBE, see res->u.probe). */
const struct hsm_result *hsm_client_start_probe(const struct hsm_client *c);

/*
 * Stop the helper (close its socket, wait up to 2 s, then SIGKILL), fail
 * pending calls with KW_ERR_UNAVAILABLE (their callbacks run inside this
 * call); NULL-safe.
 */
void hsm_client_free(struct hsm_client *c);

#endif
