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
	const char *helper_path;    /* keywarden-hsm executable */
	const char *module_path;    /* PKCS#11 module, e.g. /usr/lib/softhsm/libsofthsm2.so */
	const char *token_label;
	const char *pin_file;       /* read by the helper only */
	const char *softhsm2_conf;  /* optional: SOFTHSM2_CONF for the helper */
	unsigned int recycle_after; /* releases between C_Finalize/C_Initialize; 0 = default
	                             * (the helper's 5000), HSM_CLIENT_RECYCLE_NEVER = never */
	const char *log_level;      /* "info" etc., passed on */
};

#define HSM_CLIENT_RECYCLE_NEVER 0xffffffffU

/*
 * Called exactly once per call, on the loop thread. r is 0 and result the
 * reply object (borrowed: valid only during the callback), or r < 0 and
 * result NULL (KW_ERR_UNAVAILABLE when the helper died; the client restarts
 * it for the next call) or the helper's error code.
 */
typedef void (*hsm_client_cb)(int r, json_t *result, void *arg);
/* A callback may call hsm_client_call() but must not free the client. */

/* Spawn the helper (fork+exec with a socketpair) and wait for its probe. */
int hsm_client_start(struct event_base *base, const struct hsm_client_config *cfg,
    struct hsm_client **ret) KW_WUR;

/*
 * Queue a request; req is stolen (its "id" is set here), also on failure.
 * Respawns the helper first if it died. Returns 0 (cb will be called later,
 * from the loop, never from inside this function) or < 0 (KW_ERR_TOO_LARGE,
 * KW_ERR_NOMEM, KW_ERR_UNAVAILABLE when the helper cannot be spawned) and
 * then cb is never called.
 */
int hsm_client_call(struct hsm_client *c, json_t *req, hsm_client_cb cb, void *arg) KW_WUR;

/*
 * Blocking round trip for start-up only, before the loop runs (probe,
 * generate-if-missing). req is stolen. Returns 0 and *ret (a new reference
 * to the ok reply), or the helper's error code, or KW_ERR_UNAVAILABLE when
 * the helper died or did not answer within 60 s (it is then killed).
 * Replies to earlier asynchronous calls that arrive meanwhile complete their
 * callbacks from inside this call.
 */
int hsm_client_call_sync(struct hsm_client *c, json_t *req, json_t **ret) KW_WUR;

/*
 * The helper's pid, or -1 when none is running (it died and was not yet
 * respawned). For tests and diagnostics.
 */
pid_t hsm_client_pid(const struct hsm_client *c);

/* The probe reply received at start (borrowed). */
const json_t *hsm_client_probe(const struct hsm_client *c);

/*
 * Stop the helper (close its socket, wait up to 2 s, then SIGKILL), fail
 * pending calls with KW_ERR_UNAVAILABLE (their callbacks run inside this
 * call); NULL-safe.
 */
void hsm_client_free(struct hsm_client *c);

#endif
