/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_BROKER_H
#define KW_BROKER_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>
#include <openssl/ssl.h>

#include "challenge.h"
#include "clock.h"
#include "config.h"
#include "conntab.h"
#include "hsm_client.h"
#include "dpop.h"
#include "kw_jose.h"
#include "metrics.h"
#include "problem.h"
#include "store.h"
#include "token.h"
#include "verifier.h"
#include "audit.h"
#include "workers.h"

/*
 * Everything the daemon holds; one per process, used on the loop thread
 * except where noted (threading model: docs/architecture.md).
 */
struct tdx_pcs;
struct kw_health;

struct kw_broker {
	struct kw_config *cfg;
	struct kw_conn_limits limits;  /* effective connection limits (main.c, read-only) */
	struct event_base *base;
	struct kw_listener *listener;  /* workload listener (listener.h) */
	struct evhttp *http;           /* the listener's, borrowed */
	SSL_CTX *ssl_ctx;
	struct hsm_client *hsm;
	/* the verifiers' trust (verifier.h): its members are owned here, read-only once built */
	struct kw_trust trust;
	struct kw_tdx_collateral_source *tdx_collateral;   /* trust.tdx_collateral */
	struct tdx_pcs *tdx_pcs;      /* owned by tdx_collateral: modes pcs, pccs */
	struct tpm_ca *tpm_ek;                             /* trust.tpm_ek (tpm.ek_roots) */
	struct tpm_ca *tpm_akcert;                         /* trust.tpm_akcert */
	struct cca_trust *cca;                             /* trust.cca (cca.cpaks, cca.test_cpaks) */
	struct kw_ocsp *gpu_ocsp;                          /* nvgpu.ocsp_url (keywarden-pcs.so) */
	struct kw_cert_status gpu_status;                  /* trust.gpu_status over gpu_ocsp */
	struct kw_challenges *challenges;
	struct kw_dpop *dpop;
	struct kw_token_keys *token_keys;   /* from the HSM; newest signs */
	struct kw_workers *workers;
	/* state: the admin thread writes through store; the loop reads through store_ro */
	struct kw_store *store;
	struct kw_store *store_ro;
	/* admin listener (admin.c): its own event_base run by admin_thread */
	struct event_base *admin_base;
	pthread_t admin_thread;
	int admin_thread_running;
	struct event *admin_stop_ev;
	struct kw_listener *admin_listener;
	struct evhttp *admin_http;     /* the admin listener's, borrowed */
	SSL_CTX *admin_ssl_ctx;
	struct kw_workers *admin_worker;
	struct kw_hsm_bridge *bridge;
	const char *release_profile;   /* chosen from the HSM probe */
	char *hsm_token_uri;           /* the HSM token's PKCS#11 URI (probe), or NULL: object
	                                * URIs in the admin API (docs/hsm.md "PKCS#11 URIs") */
	struct event *sig_int, *sig_term, *sig_hup;
	struct event *key_poll;        /* keysync.c: hsm.key_poll_interval */
	struct kw_audit *audit;        /* audit_log.c; NULL when audit.enabled is false */
		struct kw_health *health;      /* health.c: /readyz state, the metrics listener */
	/* counters, loop thread only */
	unsigned long n_attest_ok, n_attest_fail, n_release_ok, n_release_denied;
};


/* http.c: TLS listener and routing. */
int kw_http_start(struct kw_broker *b) KW_WUR;
void kw_http_stop(struct kw_broker *b);
/* The workload listener's TLS context (tls.*); also the metrics listener's. */
int kw_http_tls_ctx(const struct kw_config *c, SSL_CTX **ret) KW_WUR;
/* Set TCP_NODELAY on a listening socket (accepted sockets inherit it). */
void kw_http_nodelay(evutil_socket_t fd);
/*
 * A route of a listener's table (http.c): path, exact or, up to its first
 * "{", a prefix; method (one EVHTTP_REQ_* bit); the handler gets the part of
 * the path the "{" stands for ("" for an exact path).
 */
struct kw_http_route {
	const char *path;
	enum evhttp_cmd_type method;
	void (*handler)(struct kw_broker *b, struct evhttp_request *req, const char *rest);
	enum kw_met_endpoint ep;    /* the metrics label of requests to this path */
};
/* Print "<listener> <METHOD> <path>" per row of rows (keywarden --list-routes). */
void kw_http_routes_print(FILE *f, const char *listener, const struct kw_http_route *rows,
    size_t n);
/* The workload listener's routes, one per line (keywarden --list-routes). */
void kw_http_routes_list(FILE *f);

/*
 * Send the RFC 7807 problem p of the problem table (problem.h: status, type,
 * title, Retry-After) as application/problem+json and finish req. detail is
 * shown to the client (NULL: the row's default): never put secrets or echoed
 * input in it.
 */
void kw_http_problem(struct evhttp_request *req, enum kw_problem p, const char *detail);
/* As kw_http_problem, with the members of ext (stolen; extension members, RFC 7807 3.2) added. */
void kw_http_problem_ext(struct evhttp_request *req, enum kw_problem p, const char *detail,
    json_t *ext);
/* 200 with a Prometheus text exposition (text/plain; version=0.0.4). */
void kw_http_metrics(struct evhttp_request *req, const char *text, size_t len);
/* Send a JSON object (reference stolen) with status 200, or 200/201. */
void kw_http_json(struct evhttp_request *req, json_t *body);
void kw_http_json_status(struct evhttp_request *req, int status, json_t *body);
/* 200 with a text/plain body (UTF-8). */
void kw_http_text(struct evhttp_request *req, const char *text);
/* 204 without a body. */
void kw_http_no_content(struct evhttp_request *req);
/* 200 with a compact JWE or JWS as application/jose. */
void kw_http_jose(struct evhttp_request *req, const char *compact);
/*
 * 503 hsm_unavailable with Retry-After: the HSM helper failed, timed out,
 * or its queue is full. Used for every HSM failure on the workload path.
 */
void kw_http_hsm_unavailable(struct evhttp_request *req);
/*
 * The answer to evidence the verifier rejected (r from the verifier or the
 * binding check): 401 attestation-failed whatever the reason (malformed,
 * unsupported version, signature, chain, binding), 503 when the broker
 * itself ran out of memory, 500 on an internal error.
 */
void kw_http_attestation_failed(struct evhttp_request *req, int r);
/*
 * Answer a kw_err with its problem (kw_problem_of_err, the only such
 * mapping): KW_ERR_BUSY -> 429 and KW_ERR_UNAVAILABLE/KW_ERR_TIMEOUT -> 503,
 * both with Retry-After; KW_ERR_HSM -> 503 hsm_unavailable. context is the
 * detail of a 4xx; a 5xx shows its row's generic detail instead.
 */
void kw_http_problem_from_err(struct evhttp_request *req, int r, const char *context);
/* Read the request body as JSON, enforcing cfg->max_body; sends 400/413 itself
 * and returns non-zero when it did. */
int kw_http_body_json(struct kw_broker *b, struct evhttp_request *req, json_t **ret) KW_WUR;

/* admin.c: the admin listener (mutual TLS, roles per repository). */
int kw_admin_start(struct kw_broker *b) KW_WUR;
void kw_admin_stop(struct kw_broker *b);
/* Reconcile store rows and HSM objects after a crash (start-up, blocking). */
int kw_admin_reconcile(struct kw_broker *b) KW_WUR;

/*
 * hsm_bridge.c: a blocking HSM call for the admin thread. The typed request
 * is encoded on the calling thread and handed to the loop, which calls
 * hsm_client_call_json; the calling thread waits for the typed reply (*ret:
 * its own copy, free with hsm_result_free). Never call it on the loop thread.
 */
struct kw_hsm_bridge;
int kw_hsm_bridge_new(struct kw_broker *b, struct kw_hsm_bridge **ret) KW_WUR;
void kw_hsm_bridge_shutdown(struct kw_hsm_bridge *br);   /* fail waiting and future calls */
/* Free after hsm_client_free (pending calls may still complete into it); NULL-safe. */
void kw_hsm_bridge_free(struct kw_hsm_bridge *br);
int kw_hsm_bridge_call(struct kw_hsm_bridge *br, const struct hsm_args *a,
    struct hsm_result **ret) KW_WUR;

/*
 * Reference-value sets named by a policy, from a store connection of the
 * calling thread (kw_refset_fn for struct kw_policy_ctx; arg is a
 * struct kw_refset_arg). KW_ERR_NOT_FOUND for an unknown set.
 */
struct kw_refset_arg {
	struct kw_store *st;
	const char *repo;
};
int kw_refset_from_store(void *arg, const char *name, json_t **ret) KW_WUR;

/*
 * audit_log.c: the broker's audit stream (docs/audit.md). One writer per
 * broker; all of these are no-ops (0) when audit.enabled is false.
 * kw_audit_note: any thread, fire and forget, data stolen (NULL: lost, logged).
 * kw_audit_write_wait: blocking (never on the loop), data stolen, 0 once durable.
 * kw_audit_write: loop thread; data stolen; 0 and cb(arg, r) later on the
 * loop once the record is durable (r == 0) or failed (r < 0: KW_ERR_IO,
 * KW_ERR_UNAVAILABLE, ...), or an error now and cb is never called
 * (KW_ERR_UNAVAILABLE also when audit is off or the broker is stopping).
 */
struct kw_audit;
typedef void (*kw_audit_cb)(void *arg, int r);
int kw_audit_open(struct kw_broker *b) KW_WUR;   /* writes "start" */
/* After the loop stopped: run the kw_audit_write completions still due. */
void kw_audit_begin_close(struct kw_broker *b);
void kw_audit_close(struct kw_broker *b, const char *reason);   /* writes "stop" */
int kw_audit_closing(const struct kw_broker *b);
void kw_audit_note(struct kw_broker *b, enum audit_kind kind, json_t *data);
int kw_audit_write_wait(struct kw_broker *b, enum audit_kind kind, json_t *data) KW_WUR;
int kw_audit_write(struct kw_broker *b, enum audit_kind kind, json_t *data, kw_audit_cb cb,
    void *arg) KW_WUR;
/* After the HSM client and the workers started: the HSM's checkpoint key, the timer. */
int kw_audit_start_checkpoints(struct kw_broker *b) KW_WUR;
/* A read-only view of the log (any thread): the audit tables' file, or the shared database. */
int kw_audit_db_open(struct kw_broker *b, struct audit_db **ret) KW_WUR;
/* GET /.well-known/keywarden-checkpoint (key: ...-checkpoint-key), text/plain or 404. */
void kw_audit_http_checkpoint(struct kw_broker *b, struct evhttp_request *req, int key);
/* The peer address of a request, for "client" ("unknown" when not known). */
void kw_audit_client(struct evhttp_request *req, char *out, size_t outlen);
void kw_audit_hex32(const uint8_t in[static 32], char out[static 65]);

/* rcar.c: the workload endpoints. */
void kw_rcar_auth(struct kw_broker *b, struct evhttp_request *req);
void kw_rcar_attest(struct kw_broker *b, struct evhttp_request *req);
void kw_rcar_resource(struct kw_broker *b, struct evhttp_request *req, const char *path);
void kw_rcar_jwks(struct kw_broker *b, struct evhttp_request *req);

/*
 * rcar_parse.c: strict parsers of the request bodies (pure functions, also
 * used by the fuzz targets). Return 0, or KW_ERR_INVALID_FORMAT (or
 * KW_ERR_TOO_LARGE for a manifest a token cannot carry; KW_ERR_UNSUPPORTED
 * for a "tee" the verifier table does not have) with a static client-safe
 * reason in *reterr_reason. /attest's evidence type is the table member
 * whose identifying member tee-evidence holds (kw_verifier_for_evidence),
 * and that member's check() decides its shape.
 */
struct kw_auth_req {
	const char *tee;    /* borrowed from the JSON; a tee of the verifier table */
	const json_t *extra_params;   /* borrowed: the "extra-params" object, or NULL */
};
int kw_parse_auth(const json_t *body, struct kw_auth_req *ret, const char **reterr_reason) KW_WUR;

struct kw_attest_req {
	const json_t *runtime_data;        /* borrowed */
	const char *nonce;                 /* borrowed */
	const json_t *tee_pubkey;          /* borrowed */
	const json_t *tee_sigkey;          /* borrowed */
	const json_t *evidence;            /* borrowed: tee-evidence, its shape checked */
	const struct kw_verifier *verifier;   /* the evidence type whose shape it has */
	const json_t *gpus;                /* borrowed: "gpus" (composite evidence) or NULL */
};
int kw_parse_attest(const json_t *body, struct kw_attest_req *ret, const char **reterr_reason) KW_WUR;
void kw_attest_req_clear(struct kw_attest_req *a);
/*
 * What /attest accepts is derived from what the token it answers can carry
 * (docs/reliability.md, "Request sizes and the configuration manifest").
 * The token is a compact JWS that kw_token_verify parses with a cap of
 * KW_JWS_MAX (64 KiB) and that travels back in an Authorization header
 * (http.c KW_HTTP_MAX_HEADERS, 96 KiB for all headers, leaves 32 KiB for the
 * DPoP proof and the rest). Of the 64 KiB, the protected header
 * ({"alg","typ","kid"}: 72 bytes, 96 characters) and the 86-character ES256
 * signature and two dots take at most KW_TOKEN_HEADER_B64_MAX +
 * KW_TOKEN_SIG_B64 + 2; the rest is base64url of the payload JSON, 3 bytes per
 * 4 characters: KW_TOKEN_PAYLOAD_MAX. Every claim but the manifest and "iss"
 * takes at most KW_TOKEN_CLAIMS_RESERVE (about 1.8 KiB measured with RSA-3072
 * and SNP claims, tests/integration/test_sets.py; RSA-8192's akpub adds
 * ~0.7 KiB: 6 KiB leaves a wide margin), "iss" is given
 * KW_TOKEN_ISSUER_RESERVE (a longer token.issuer shrinks the budget at run
 * time, kw_manifest_budget). What remains is the manifest's compact JSON:
 * KW_MANIFEST_MAX, i.e. KW_MANIFEST_MAX_FINGERPRINTS root-store
 * fingerprints (67 bytes each: quotes, 64 hex digits, comma) next to small
 * tls/crypto members. Larger manifests are refused with 413 before the
 * challenge is looked at and before appraisal.
 */
#define KW_TOKEN_MAX KW_JWS_MAX
#define KW_TOKEN_HEADER_B64_MAX 128
#define KW_TOKEN_SIG_B64 86
#define KW_TOKEN_PAYLOAD_MAX (((KW_TOKEN_MAX - KW_TOKEN_HEADER_B64_MAX - KW_TOKEN_SIG_B64 - 2) / 4) * 3)
#define KW_TOKEN_CLAIMS_RESERVE 6144
#define KW_TOKEN_ISSUER_RESERVE 512
#define KW_MANIFEST_MAX (KW_TOKEN_PAYLOAD_MAX - KW_TOKEN_CLAIMS_RESERVE - KW_TOKEN_ISSUER_RESERVE)
#define KW_MANIFEST_FP_JSON 67
#define KW_MANIFEST_MAX_FINGERPRINTS ((KW_MANIFEST_MAX - 256) / KW_MANIFEST_FP_JSON)
/*
 * The workload's configuration manifest (runtime-data.config, docs/claims.md):
 * strict shape, sorted fingerprints, and a root-store digest that matches them.
 * KW_ERR_TOO_LARGE when its compact JSON exceeds KW_MANIFEST_MAX bytes or it
 * lists more than KW_MANIFEST_MAX_FINGERPRINTS fingerprints; otherwise
 * KW_ERR_INVALID_FORMAT.
 */
int kw_manifest_check(const json_t *m, const char **reterr_why) KW_WUR;
/* Compact JSON size of a manifest (as in the token), and the budget left by issuer. */
size_t kw_manifest_size(const json_t *m);
size_t kw_manifest_budget(const char *issuer);
/* report_data the evidence must carry: SHA-384(JCS(runtime-data)) ‖ 16 zero bytes. */
int kw_expected_report_data(const json_t *runtime_data, uint8_t out[64]) KW_WUR;

#endif
