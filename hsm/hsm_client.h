/* SPDX-License-Identifier: Apache-2.0 */
#ifndef HSM_CLIENT_H
#define HSM_CLIENT_H

#include <event2/event.h>
#include <jansson.h>
#include <sys/types.h>

#include "kw_err.h"

/*
 * Broker side of the helper protocol (hsm_proto.h). Runs on the broker's
 * libevent loop and never blocks it: calls are queued, written when the
 * socket is writable, and completed from the read callback.
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

	/* Deadlines and the queue bound (both modes); 0 = the default. */
	unsigned int call_timeout_ms;  /* release, sign, random, probe, stats, token_keys */
	unsigned int admin_timeout_ms; /* generate, import, import_key, key_list, destroy,
	                                * token_key_new, token_key_destroy; also the first
	                                * probe at start (it includes the helper's start-up) */
	unsigned int max_pending;      /* calls queued, in flight or abandoned */
};

#define HSM_CLIENT_RECYCLE_NEVER 0xffffffffU
#define HSM_CLIENT_CALL_TIMEOUT_DEFAULT_MS 5000U
#define HSM_CLIENT_ADMIN_TIMEOUT_DEFAULT_MS 30000U
#define HSM_CLIENT_MAX_PENDING_DEFAULT 1024U
/* At most one spawn (or connect) per this interval; calls meanwhile fail fast. */
#define HSM_CLIENT_RESPAWN_INTERVAL_MS 1000

/*
 * Called exactly once per call, on the loop thread. r is 0 and result the
 * reply object (borrowed: valid only during the callback), or r < 0 and
 * result NULL:
 *   KW_ERR_TIMEOUT      the call's deadline passed (the call is abandoned: a
 *                       late reply is matched by its id and dropped);
 *   KW_ERR_UNAVAILABLE  the helper died, broke the protocol or was declared
 *                       hung (it answered nothing for a full deadline while
 *                       calls were pending) and was killed or disconnected;
 *                       the next call starts a new one;
 *   anything else       the helper's error code.
 */
typedef void (*hsm_client_cb)(int r, json_t *result, void *arg);
/* A callback may call hsm_client_call() but must not free the client. */

/*
 * Spawn the helper (fork+exec with a socketpair), or in socket mode connect
 * to the supervisor, and wait for its probe (admin deadline). 0 and *ret, or
 * KW_ERR_INVALID_ARG (incomplete config), or the error of the probe.
 */
int hsm_client_start(struct event_base *base, const struct hsm_client_config *cfg,
    struct hsm_client **ret) KW_WUR;

/*
 * Queue a request; req is stolen (its "id" is set here), also on failure.
 * Respawns (reconnects) the helper first if it is gone, at most once per
 * HSM_CLIENT_RESPAWN_INTERVAL_MS. The call gets a deadline (call_timeout_ms
 * or admin_timeout_ms by its "op"). Returns 0 (cb will be called later, from
 * the loop, never from inside this function, at the latest shortly after
 * the deadline) or < 0 and then cb is never called: KW_ERR_TOO_LARGE,
 * KW_ERR_NOMEM, KW_ERR_INVALID_ARG, or KW_ERR_HSM when the HSM cannot take
 * the call now (max_pending calls outstanding, within the respawn interval,
 * or the spawn/connect failed).
 */
int hsm_client_call(struct hsm_client *c, json_t *req, hsm_client_cb cb, void *arg) KW_WUR;

/*
 * Blocking round trip for start-up only, before the loop runs (probe,
 * generate-if-missing). req is stolen. Returns 0 and *ret (a new reference
 * to the ok reply), or the helper's error code, or an error as for
 * hsm_client_call and its callback (KW_ERR_TIMEOUT after the call's
 * deadline, KW_ERR_UNAVAILABLE when the helper died or was declared hung).
 * Replies to earlier asynchronous calls that arrive meanwhile, and their
 * deadlines, complete their callbacks from inside this call.
 */
int hsm_client_call_sync(struct hsm_client *c, json_t *req, json_t **ret) KW_WUR;

/*
 * The helper's pid, or -1 when none is running (it died and was not yet
 * respawned) or in socket mode (the helper is not our child). For tests
 * and diagnostics.
 */
pid_t hsm_client_pid(const struct hsm_client *c);

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

/* The probe reply received at start (borrowed). */
const json_t *hsm_client_probe(const struct hsm_client *c);

/*
 * Stop the helper (close its socket, wait up to 2 s, then SIGKILL), fail
 * pending calls with KW_ERR_UNAVAILABLE (their callbacks run inside this
 * call); NULL-safe.
 */
void hsm_client_free(struct hsm_client *c);

#endif
