/* SPDX-License-Identifier: Apache-2.0 */
#ifndef HSM_CLIENT_H
#define HSM_CLIENT_H

#include <event2/event.h>
#include <jansson.h>

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
	unsigned int recycle_after; /* releases between C_Finalize/C_Initialize; 0 = default */
	const char *log_level;      /* "info" etc., passed on */
};

/*
 * Called exactly once per call, on the loop thread. r is 0 and result the
 * reply object (borrowed: valid only during the callback), or r < 0 and
 * result NULL (KW_ERR_UNAVAILABLE when the helper died; the client restarts
 * it for the next call) or the helper's error code.
 */
typedef void (*hsm_client_cb)(int r, json_t *result, void *arg);

/* Spawn the helper (fork+exec with a socketpair) and wait for its probe. */
int hsm_client_start(struct event_base *base, const struct hsm_client_config *cfg,
    struct hsm_client **ret) KW_WUR;

/* Queue a request; req is stolen (its "id" is set here). */
int hsm_client_call(struct hsm_client *c, json_t *req, hsm_client_cb cb, void *arg) KW_WUR;

/*
 * Blocking round trip for start-up only, before the loop runs (probe,
 * generate-if-missing). *ret is a new reference to the reply.
 */
int hsm_client_call_sync(struct hsm_client *c, json_t *req, json_t **ret) KW_WUR;

/* The probe reply received at start (borrowed). */
const json_t *hsm_client_probe(const struct hsm_client *c);

/* Stop the helper, fail pending calls with KW_ERR_UNAVAILABLE; NULL-safe. */
void hsm_client_free(struct hsm_client *c);

#endif
