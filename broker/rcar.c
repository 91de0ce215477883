/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The workload endpoints (RCAR, wire-shaped like the Trustee KBS protocol):
 *   POST /kbs/v0/auth      -> sealed challenge
 *   POST /kbs/v0/attest    -> appraisal on a worker thread -> session reference
 *   GET  /kbs/v0/resource/<repository>/<type>/<tag>
 *                          -> release rule -> JWE from keywarden-hsm
 * The loop thread never blocks: appraisal runs on kw_workers, releases are
 * asynchronous calls to the HSM helper.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>
#include <sys/queue.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <strings.h>

#include "broker.h"
#include "policy.h"
#include "kw_b64url.h"
#include "kw_jose.h"
#include "kw_json.h"
#include "kw_jwk.h"
#include "kw_log.h"
#include "kw_util.h"
#include "metrics.h"

/* The repository of a key path "repo/type/tag..." for the log's KW_REPOSITORY (buf: 72 bytes). */
static const char *
log_repo(const char *path, char buf[static 72])
{
	const char *slash = strchr(path, '/');
	size_t n = slash != NULL ? (size_t)(slash - path) : 0;

	if (n == 0 || n >= 72)
		return NULL;
	memcpy(buf, path, n);
	buf[n] = '\0';
	return buf;
}

/*
 * The /auth step of an evidence type that has one (verifier.h, kw_verifier.auth:
 * the `tpm` credential), run on a worker: the challenge is issued first, its
 * key derived (challenge.h, kw_challenge_key) and wiped once the member used it.
 */
struct auth_job {
	struct kw_broker *b;
	struct evhttp_request *req;
	json_t *body;                  /* keeps a.extra_params alive */
	struct kw_auth_req a;
	const struct kw_verifier *verifier;
	char nonce[KW_CHALLENGE_STR_MAX];
	uint8_t key[KW_CHALLENGE_KEY_SIZE];
	int64_t at;
	/* results */
	int r;
	const char *reason;
	json_t *extra;
};

_Static_assert(KW_CHALLENGE_KEY_SIZE == KW_CHALLENGE_KEY_LEN, "the seam's challenge key is challenge.h's");

static void
auth_job_free(struct auth_job *j)
{
	OPENSSL_cleanse(j->key, sizeof(j->key));
	OPENSSL_cleanse(j->nonce, sizeof(j->nonce));
	json_decref(j->extra);
	json_decref(j->body);
	free(j);
}

static void
auth_run(void *arg)
{
	struct auth_job *j = arg;
	struct kw_auth_step in;

	in.params = j->a.extra_params;
	in.challenge_key = j->key;
	in.at = j->at;
	in.trust = &j->b->trust;
	j->reason = "the /auth parameters did not verify";
	j->r = j->verifier->auth(&in, &j->extra, &j->reason);
	OPENSSL_cleanse(j->key, sizeof(j->key));   /* the member is done with it */
}

static void
auth_done(void *arg)
{
	struct auth_job *j = arg;

	switch (j->r) {
	case 0:
		kw_http_json(j->req, json_pack("{s:s, s:O}", "nonce", j->nonce, "extra-params", j->extra));
		break;
	case KW_ERR_INVALID_FORMAT:
	case KW_ERR_TOO_LARGE:
	case KW_ERR_TRUNCATED:
	case KW_ERR_TRAILING:
		kw_log_info_ev_rl(KW_LOG_CTX(KW_EV_ATTEST_REJECT, NULL, NULL),
		    "auth request rejected (tee=%s): %s", j->verifier->tee, j->reason);
		kw_http_problem_from_err(j->req, KW_ERR_INVALID_FORMAT, j->reason);
		break;
	default:
		/* the EK certificate, the AK: the reason goes to the log, the client learns "failed" */
		j->b->n_attest_fail++;
		kw_log_info_r_ev_rl(j->r, KW_LOG_CTX(KW_EV_ATTEST_REJECT, NULL, NULL),
		    "auth refused (tee=%s): %s", j->verifier->tee, j->reason);
		kw_http_attestation_failed(j->req, j->r);
		break;
	}
	auth_job_free(j);
}

/* Issue the challenge, then hand the member's /auth step to a worker. */
static void
auth_with_step(struct kw_broker *b, struct evhttp_request *req, json_t *body, const struct kw_auth_req *a,
    const struct kw_verifier *v)
{
	struct auth_job *j;
	int r;

	if ((j = calloc(1, sizeof(*j))) == NULL) {
		json_decref(body);
		kw_http_problem(req, KW_PROBLEM_UNAVAILABLE, NULL);
		return;
	}
	j->b = b;
	j->req = req;
	j->body = body;   /* taken */
	j->a = *a;
	j->verifier = v;
	j->at = kw_broker_now();
	if (a->extra_params == NULL) {
		kw_http_problem(req, KW_PROBLEM_MALFORMED, "this \"tee\" needs \"extra-params\" (docs/protocol.md)");
		goto fail;
	}
	if ((r = kw_challenge_issue(b->challenges, v->tee, j->at, j->nonce)) != 0 ||
	    (r = kw_challenge_key(b->challenges, v->tee, j->nonce, j->at, j->key)) != 0) {
		kw_log_err_r(r, "cannot issue a challenge");
		kw_http_problem_from_err(req, r, NULL);
		goto fail;
	}
	if ((r = kw_workers_submit(b->workers, auth_run, auth_done, j)) != 0) {
		kw_log_warn_r_rl(r, "appraisal queue full, shedding an auth step");
		kw_http_problem(req, KW_PROBLEM_SHED, "too many appraisals in progress; retry later");
		goto fail;
	}
	return;
fail:
	auth_job_free(j);
}

void
kw_rcar_auth(struct kw_broker *b, struct evhttp_request *req)
{
	char nonce[KW_CHALLENGE_STR_MAX];
	struct kw_auth_req a;
	const char *why = "malformed request";
	json_t *body = NULL;
	int r;

	if (kw_http_body_json(b, req, &body) != 0)
		return;
	if ((r = kw_parse_auth(body, &a, &why)) != 0) {
		kw_http_problem_from_err(req, r, why);
		goto out;
	}
	if (!kw_verifier_find(a.tee)->enabled(&b->trust)) {
		kw_http_problem(req, KW_PROBLEM_UNSUPPORTED,
		    "this \"tee\" is not configured on this broker");
		goto out;
	}
	if (kw_verifier_find(a.tee)->auth != NULL) {
		auth_with_step(b, req, body, &a, kw_verifier_find(a.tee));
		return;   /* body taken */
	}
	if ((r = kw_challenge_issue(b->challenges, a.tee, kw_broker_now(), nonce)) != 0) {
		kw_log_err_r(r, "cannot issue a challenge");
		kw_http_problem_from_err(req, r, NULL);
		goto out;
	}
	kw_http_json(req, json_pack("{s:s, s:{}}", "nonce", nonce, "extra-params"));
	OPENSSL_cleanse(nonce, sizeof(nonce));
out:
	json_decref(body);
}

/* SHA-256 of the JCS of v as hex into out; 0 or an error. */
static int
jcs_digest_hex(const json_t *v, char out[static 2 * AUDIT_HASH_LEN + 1])
{
	uint8_t d[AUDIT_HASH_LEN];
	char *jcs = NULL;
	size_t len;
	int r;

	if ((r = kw_jcs_serialize(v, &jcs, &len)) == 0 && (r = kw_sha256(jcs, len, d)) == 0)
		kw_audit_hex32(d, out);
	free(jcs);
	return r;
}

/* A claim's string value when it fits an audit record's text member, else NULL. */
static const char *
audit_str(const json_t *o, const char *name)
{
	const char *s = json_string_value(json_object_get(o, name));

	return s != NULL && s[0] != '\0' && strlen(s) <= AUDIT_TEXT_MAX ? s : NULL;
}

/*
 * The "appraisal" record of /attest (docs/audit.md): accepted (claims and the
 * token's payload pl: its jti, cnf.jkt and EAR status) or refused (claims
 * NULL: the evidence's digest and the reason). No evidence, nonce or token.
 */
static void
audit_appraisal(struct kw_broker *b, struct evhttp_request *req, const struct kw_verifier *v,
    const json_t *evidence, const json_t *claims, const json_t *pl, const char *reason)
{
	char client[64], cd[2 * AUDIT_HASH_LEN + 1], ed[2 * AUDIT_HASH_LEN + 1];
	const json_t *cpu0 = json_object_get(json_object_get(pl, "submods"), "cpu0");
	json_t *data;

	if (b->audit == NULL)
		return;
	kw_audit_client(req, client, sizeof(client));
	if (claims != NULL) {
		if (jcs_digest_hex(claims, cd) != 0) {
			kw_audit_note(b, AUDIT_KIND_APPRAISAL, NULL);
			return;
		}
		data = json_pack("{s:s, s:s, s:s, s:s*, s:s*, s:s*, s:s*, s:s*, s:s*, s:s}", "tee", v->tee,
		    "result", audit_str(cpu0, "ear.status") != NULL ? audit_str(cpu0, "ear.status") :
		    "affirming", "claims_digest", cd, "measurement", audit_str(claims, v->log_claim),
		    "tcb_status", audit_str(claims, "tcb_status"), "signer",
		    audit_str(claims, "signing_key"), "root", audit_str(claims, "root"), "jkt",
		    audit_str(json_object_get(pl, "cnf"), "jkt"), "jti", audit_str(pl, "jti"),
		    "client", client);
	} else {
		data = json_pack("{s:s, s:s, s:s*, s:s, s:s}", "tee", v->tee, "result", "denied",
		    "evidence_digest", evidence != NULL && jcs_digest_hex(evidence, ed) == 0 ? ed : NULL,
		    "reason", reason != NULL && reason[0] != '\0' ? reason : "refused", "client", client);
	}
	kw_audit_note(b, AUDIT_KIND_APPRAISAL, data);
}

/* One appraisal, handed from the loop to a worker and back. */
struct attest_job {
	struct kw_broker *b;
	struct evhttp_request *req;
	json_t *body;                 /* keeps the borrowed pointers of a alive */
	struct kw_attest_req a;
	uint8_t expected_rd[64];
	uint8_t gpu_nonce[NVGPU_NONCE_LEN];   /* with a.gpus: SHA-256(JCS(runtime-data))[0:32] */
	struct kw_challenge_ticket ticket;   /* checked on arrival, spent in attest_done */
	uint8_t challenge_key[KW_CHALLENGE_KEY_SIZE];   /* for members with an /auth step; wiped */
	int has_key;
	json_t *diag;                 /* the verifier's diagnostics (verifier.h), for the log */
	/* results */
	int r;
	int r_once;                   /* the shared used-challenge set (PostgreSQL), 0 otherwise */
	const char *reason;
	int reason_public;            /* reason is the problem's detail (static, client-safe) */
	json_t *claims;
};

/*
 * A manifest digest the verifier read from a measurement register
 * (tpm.config_sha384: kwget's TPM2_PCR_Event(23), replayed against the
 * quote) must be SHA-384(JCS(runtime-data.config)); without the claim the
 * report data alone binds the manifest (docs/kwget.md, "Measurement
 * registers"). 0, or KW_ERR_MISMATCH / KW_ERR_NOMEM and a static reason.
 */
static int
manifest_register_check(const json_t *claims, const json_t *cfg, const char **why)
{
	const char *want = json_string_value(json_object_get(json_object_get(claims, "tpm"), "config_sha384"));
	uint8_t md[64];
	char *hex = NULL;
	int r;

	if (want == NULL)
		return 0;
	*why = "tpm.config_sha384 (PCR 23) is set but runtime-data has no config";
	if (cfg == NULL)
		return KW_ERR_MISMATCH;
	*why = "out of memory";
	/* the report data's RFC 8785 + SHA-384, over the manifest: its first 48 bytes */
	if ((r = kw_expected_report_data(cfg, md)) != 0 || (r = kw_hex_encode(md, 48, &hex)) != 0)
		return r;
	r = 0;
	if (strcmp(hex, want) != 0) {
		*why = "tpm.config_sha384 (PCR 23) is not SHA-384(JCS(runtime-data.config))";
		r = KW_ERR_MISMATCH;
	}
	free(hex);
	return r;
}

static void
attest_run(void *arg)
{
	struct attest_job *j = arg;
	struct kw_appraisal in;
	json_t *claims = NULL;
	const json_t *cfg;

	memset(&in, 0, sizeof(in));
	in.evidence = j->a.evidence;
	in.binding = j->expected_rd;     /* SHA-384(JCS(runtime-data)) zero-padded */
	in.binding_len = sizeof(j->expected_rd);
	in.at = kw_broker_now();
	in.trust = &j->b->trust;
	in.allow_debug = 1;    /* debug is a claim; each key's rule decides (rcar_resource) */
	in.diag = j->diag;
	in.challenge_key = j->has_key ? j->challenge_key : NULL;
	j->reason = "evidence did not verify";
	j->r = j->a.verifier->appraise(&in, &claims, &j->reason);
	OPENSSL_cleanse(j->challenge_key, sizeof(j->challenge_key));
	if (j->r != 0)
		return;
	/* the configuration manifest is bound by the report data: it becomes claims
	 * ({} when the attester sent none) */
	cfg = json_object_get(j->a.runtime_data, "config");
	if ((j->r = manifest_register_check(claims, cfg, &j->reason)) != 0) {
		j->reason_public = 1;
		json_decref(claims);
		return;
	}
	if (json_object_set_new(claims, "config", cfg != NULL ? json_deep_copy(cfg) :
	    json_object()) != 0) {
		j->r = KW_ERR_NOMEM;
		json_decref(claims);
		return;
	}
	if (j->a.gpus != NULL) {
		json_t *gpus = NULL;
		size_t bad = 0;

		/* composite evidence: every GPU bound to the same runtime-data, or no token */
		j->r = kw_gpus_appraise(j->a.gpus, in.trust, in.at, j->gpu_nonce, &gpus, &bad, &j->reason);
		if (j->r != 0) {
			(void)json_object_set_new(j->diag, "gpu", json_integer((json_int_t)bad));
			json_decref(claims);
			return;
		}
		if (json_object_set_new(claims, "gpu_count", json_integer((json_int_t)json_array_size(gpus))) != 0 ||
		    json_object_set_new(claims, "gpus", gpus) != 0) {
			j->r = KW_ERR_NOMEM;
			json_decref(claims);
			return;
		}
	}
	j->claims = claims;
	j->r = 0;
	/* brokers sharing a PostgreSQL store spend the challenge there too: once, at any broker */
	if (kw_store_is_shared(j->b->store_ro))
		j->r_once = kw_store_once(j->b->store_ro, KW_STORE_ONCE_CHALLENGE, j->ticket.id,
		    sizeof(j->ticket.id), j->ticket.expiry, kw_broker_now());
}

/* The token for one appraisal, waiting for the HSM's signature. */
struct sign_job {
	struct kw_broker *b;
	struct evhttp_request *req;
	char *signing_input;
	char kid[KW_B64URL_SHA256_SIZE];
	char jkt[KW_B64URL_SHA256_SIZE];
};

static void
sign_done(int r, const struct hsm_result *res, void *arg)
{
	struct sign_job *sj = arg;
	char nonce[KW_CHALLENGE_STR_MAX], *token = NULL;

	/* res->u.sign.sig is the 64-byte ES256 value (hsm_msg.c checked its length) */
	if (r != 0 || kw_jws_compact(sj->signing_input, res->u.sign.sig, sizeof(res->u.sign.sig),
	    &token) != 0) {
		/*
		 * Deadline missed, helper down or hung: 503 hsm_unavailable. The HSM
		 * client logs those events once each, so they are debug here.
		 */
		if (r == KW_ERR_TIMEOUT || r == KW_ERR_UNAVAILABLE)
			kw_log_debug_r(r, "the HSM did not sign the token");
		else
			kw_log_err_r_rl(r != 0 ? r : KW_ERR_HSM, "the HSM did not sign the token");
		kw_http_hsm_unavailable(sj->req);
		goto out;
	}
	sj->b->n_attest_ok++;
	if (kw_dpop_nonce(sj->b->dpop, kw_broker_now(), nonce) == 0)
		evhttp_add_header(evhttp_request_get_output_headers(sj->req), "DPoP-Nonce", nonce);
	kw_log_info_ev(KW_LOG_CTX(KW_EV_TOKEN, NULL, sj->jkt),
	    "issued token (kid %s) bound to tee-sigkey %s", sj->kid, sj->jkt);
	kw_http_json(sj->req, json_pack("{s:s}", "token", token));
out:
	free(token);
	free(sj->signing_input);
	free(sj);
}

static void
attest_done(void *arg)
{
	struct attest_job *j = arg;
	struct kw_broker *b = j->b;
	const struct kw_token_key *tk = kw_token_keys_active(b->token_keys);
	json_t *hdr = NULL, *pl = NULL;
	struct sign_job *sj = NULL;
	uint8_t digest[HSM_SIGN_DIGEST_LEN];
	size_t silen;
	int r = j->r;

	kw_metrics_appraisal_inflight(-1);
	kw_metrics_appraisal(j->a.verifier->tee, r == 0 ? KW_MET_V_VERIFIED :
	    r == KW_ERR_UNAVAILABLE || r == KW_ERR_NOMEM || r == KW_ERR_INTERNAL ?
	    KW_MET_V_UNAVAILABLE : KW_MET_V_REJECTED);
	if (r == KW_ERR_UNAVAILABLE) {
		/* the verifier lacks outside input (TDX collateral): fail closed, spend nothing */
		const char *fmspc = json_string_value(json_object_get(j->diag, "fmspc"));
		const json_t *gpu = json_object_get(j->diag, "gpu");   /* a GPU chain's OCSP status */
		char gi[32] = "";

		b->n_attest_fail++;
		if (gpu != NULL)
			snprintf(gi, sizeof(gi), "gpus[%lld]: ", (long long)json_integer_value(gpu));
		kw_log_warn_ev_rl(KW_LOG_CTX(KW_EV_ATTEST_REJECT, NULL, NULL),
		    "attestation refused (tee=%s): %s%s%s%s", j->a.verifier->tee, gi, j->reason,
		    fmspc != NULL ? ": FMSPC " : "", fmspc != NULL ? fmspc : "");
		audit_appraisal(b, j->req, j->a.verifier, j->a.evidence, NULL, NULL,
		    "collateral unavailable");
		kw_http_problem(j->req, KW_PROBLEM_COLLATERAL_UNAVAILABLE, NULL);
		goto out;
	}
	if (r != 0) {
		/* the challenge was not spent: evidence that does not verify costs nobody else */
		const json_t *gpu = json_object_get(j->diag, "gpu");

		b->n_attest_fail++;
		if (gpu != NULL)
			kw_log_info_r_ev_rl(r, KW_LOG_CTX(KW_EV_ATTEST_REJECT, NULL, NULL),
			    "attestation rejected: gpus[%lld]: %s",
			    (long long)json_integer_value(gpu), j->reason);
		else
			kw_log_info_r_ev_rl(r, KW_LOG_CTX(KW_EV_ATTEST_REJECT, NULL, NULL),
			    "attestation rejected: %s", j->reason);
		audit_appraisal(b, j->req, j->a.verifier, j->a.evidence, NULL, NULL, j->reason);
		if (j->reason_public && r == KW_ERR_MISMATCH)
			kw_http_problem(j->req, KW_PROBLEM_ATTESTATION_FAILED, j->reason);
		else
			kw_http_attestation_failed(j->req, r);
		goto out;
	}
	if (tk == NULL) {
		r = KW_ERR_UNAVAILABLE;
		goto fail;
	}
	if ((r = kw_ear_build(j->claims, j->a.tee_pubkey, j->a.tee_sigkey, b->cfg->token_issuer,
	    tk->kid, kw_broker_now(), b->cfg->token_ttl, &hdr, &pl)) != 0)
		goto fail;
	if ((sj = calloc(1, sizeof(*sj))) == NULL) {
		r = KW_ERR_NOMEM;
		goto fail;
	}
	sj->b = b;
	sj->req = j->req;
	memcpy(sj->kid, tk->kid, sizeof(sj->kid));
	snprintf(sj->jkt, sizeof(sj->jkt), "%s",
	    json_string_value(json_object_get(json_object_get(pl, "cnf"), "jkt")));
	if ((r = kw_jws_signing_input(hdr, pl, &sj->signing_input, &silen)) != 0)
		goto fail;
	/* the request limits (broker.h KW_MANIFEST_MAX) keep this from happening;
	 * if it does, refuse before the challenge is spent */
	if (silen > KW_TOKEN_MAX - 1 - KW_TOKEN_SIG_B64) {
		b->n_attest_fail++;
		kw_log_warn("token of %zu bytes would exceed %d: refused", silen + 1 +
		    KW_TOKEN_SIG_B64, KW_TOKEN_MAX);
		kw_http_problem(j->req, KW_PROBLEM_TOO_LARGE,
		    "the token for this runtime-data would be too large");
		goto out;
	}
	/*
	 * Spend the challenge now that the evidence verified and bound the
	 * runtime-data. The loop is single-threaded: of two appraisals of one
	 * challenge, only the first to get here wins.
	 */
	if ((r = j->r_once) != 0 ||
	    (r = kw_challenge_record(b->challenges, &j->ticket, kw_broker_now())) != 0) {
		if (r == KW_ERR_TIMEOUT)
			r = KW_ERR_UNAVAILABLE;    /* the shared set did not answer */
		b->n_attest_fail++;
		kw_log_info_r_rl(r, "attestation rejected: challenge %s",
		    r == KW_ERR_UNAVAILABLE ? "replay set full" : "spent or expired meanwhile");
		audit_appraisal(b, j->req, j->a.verifier, j->a.evidence, NULL, NULL,
		    r == KW_ERR_UNAVAILABLE ? "challenge replay set full" :
		    "challenge spent or expired meanwhile");
		kw_http_problem_from_err(j->req, r, r == KW_ERR_UNAVAILABLE ? NULL :
		    "challenge unknown, expired or already used");
		goto out;
	}
	if ((r = kw_sha256(sj->signing_input, silen, digest)) != 0)
		goto fail;
	if ((r = hsm_client_sign(b->hsm, tk->label, digest, sign_done, sj)) != 0)
		goto fail;
	sj = NULL;    /* owned by the callback now */
	audit_appraisal(b, j->req, j->a.verifier, j->a.evidence, j->claims, pl, NULL);
	kw_log_info_ev(KW_LOG_CTX(KW_EV_ATTEST, NULL, NULL), "attested tee=%s %s=%.32s... debug=%s",
	    j->a.verifier->tee, j->a.verifier->log_claim,
	    json_string_value(json_object_get(j->claims, j->a.verifier->log_claim)),
	    json_is_true(json_object_get(j->claims, "debug")) ? "yes" : "no");
	goto out;
fail:
	kw_log_err_r(r, "cannot issue the token");
	kw_http_problem_from_err(j->req, r == KW_ERR_NOMEM ? KW_ERR_UNAVAILABLE : r, NULL);
out:
	if (sj != NULL) {
		free(sj->signing_input);
		free(sj);
	}
	json_decref(hdr);
	json_decref(pl);
	json_decref(j->claims);
	json_decref(j->diag);
	kw_attest_req_clear(&j->a);
	json_decref(j->body);
	OPENSSL_cleanse(j->challenge_key, sizeof(j->challenge_key));
	free(j);
}

void
kw_rcar_attest(struct kw_broker *b, struct evhttp_request *req)
{
	struct attest_job *j;
	const char *why = "malformed request";
	const json_t *cfg;
	int r;

	if ((j = calloc(1, sizeof(*j))) == NULL) {
		kw_http_problem(req, KW_PROBLEM_UNAVAILABLE, NULL);
		return;
	}
	j->b = b;
	j->req = req;
	if (kw_http_body_json(b, req, &j->body) != 0)
		goto fail_sent;
	if ((r = kw_parse_attest(j->body, &j->a, &why)) != 0) {
		kw_log_info_rl("attest request rejected: %s", why);
		kw_http_problem_from_err(req, r, why);
		goto fail_sent;
	}
	if (!j->a.verifier->enabled(&b->trust)) {
		kw_log_info_rl("attest request rejected: tee=%s is not configured", j->a.verifier->tee);
		kw_http_problem(req, KW_PROBLEM_UNSUPPORTED,
		    "this evidence type is not configured on this broker");
		goto fail_sent;
	}
	/* what the token can carry also depends on the configured issuer's length */
	cfg = json_object_get(j->a.runtime_data, "config");
	if (cfg != NULL && kw_manifest_size(cfg) > kw_manifest_budget(b->cfg->token_issuer)) {
		kw_log_info_rl("attest request rejected: manifest too large for a token");
		kw_http_problem(req, KW_PROBLEM_TOO_LARGE,
		    "runtime-data.config is larger than a token can carry (docs/reliability.md)");
		goto fail_sent;
	}
	if ((r = kw_expected_report_data(j->a.runtime_data, j->expected_rd)) != 0 ||
	    (j->a.gpus != NULL && (r = kw_gpu_binding(j->a.runtime_data, j->gpu_nonce)) != 0)) {
		kw_http_problem_from_err(req, r, "runtime-data cannot be canonicalized (RFC 8785)");
		goto fail_sent;
	}
	/*
	 * Single use, but only evidence that verifies spends a challenge: here
	 * the MAC, the expiry, "not used yet" and room in the set are checked,
	 * nothing is recorded; attest_done records it after the appraisal.
	 */
	/* the challenge was sealed for one tee: the one whose evidence this is */
	if ((r = kw_challenge_check(b->challenges, j->a.verifier->tee, j->a.nonce, kw_broker_now(),
	    &j->ticket)) != 0) {
		b->n_attest_fail++;
		kw_log_info_r_rl(r, "attestation rejected: challenge not accepted");
		audit_appraisal(b, req, j->a.verifier, j->a.evidence, NULL, NULL,
		    "challenge unknown, expired or already used");
		if (r == KW_ERR_INVALID_FORMAT)
			r = KW_ERR_MISMATCH;    /* a forged or foreign nonce is an auth failure */
		kw_http_problem_from_err(req, r,
		    r == KW_ERR_UNAVAILABLE ? NULL : "challenge unknown, expired or already used");
		goto fail_sent;
	}
	if (j->a.verifier->auth != NULL) {
		/* the secret of the member's /auth step for this challenge (checked just above) */
		if ((r = kw_challenge_key(b->challenges, j->a.verifier->tee, j->a.nonce, kw_broker_now(),
		    j->challenge_key)) != 0) {
			kw_http_problem_from_err(req, r == KW_ERR_EXPIRED ? r : KW_ERR_INTERNAL, NULL);
			goto fail_sent;
		}
		j->has_key = 1;
	}
	if ((j->diag = json_object()) == NULL) {
		kw_http_problem(req, KW_PROBLEM_UNAVAILABLE, NULL);
		goto fail_sent;
	}
	if ((r = kw_workers_submit(b->workers, attest_run, attest_done, j)) != 0) {
		kw_log_warn_r_rl(r, "appraisal queue full, shedding");
		kw_http_problem(req, KW_PROBLEM_SHED, "too many appraisals in progress; retry later");
		goto fail_sent;
	}
	kw_metrics_appraisal_inflight(1);
	return;
fail_sent:
	kw_attest_req_clear(&j->a);
	json_decref(j->diag);
	json_decref(j->body);
	OPENSSL_cleanse(j->challenge_key, sizeof(j->challenge_key));
	free(j);
}

/*
 * One release: its "release" record is written first (kw_audit_write); only
 * once it is durable is the HSM asked (release_audited), and the answer
 * waits for the HSM (release_done). A failed HSM call adds a "denial" record
 * with check "release_failed". Without an audit log the HSM is asked at once.
 */
struct release_job {
	struct kw_broker *b;
	struct evhttp_request *req;
	char path[256];
	char kid[KW_B64URL_SHA256_SIZE];
	char jkt[KW_B64URL_SHA256_SIZE];   /* the token's cnf.jkt (public), for the log */
	char label[KW_STORE_LABEL_MAX];
	uint8_t *tee_n, *tee_e;        /* copies of the token view's */
	size_t tee_nlen, tee_elen;
	json_t *rec;                   /* the release record's data */
};

static void
release_job_free(struct release_job *j)
{
	free(j->tee_n);
	free(j->tee_e);
	json_decref(j->rec);
	free(j);
}

/* The "denial" record of a granted release that did not happen. */
static void
audit_release_failed(struct release_job *j, const char *reason)
{
	json_t *d;

	if (j->b->audit == NULL)
		return;
	d = json_deep_copy(j->rec);
	if (d != NULL && (json_object_set_new(d, "check", json_string("release_failed")) != 0 ||
	    json_object_set_new(d, "reason", json_string(reason)) != 0)) {
		json_decref(d);
		d = NULL;
	}
	kw_audit_note(j->b, AUDIT_KIND_DENIAL, d);
}

static void
release_done(int r, const struct hsm_result *res, void *arg)
{
	struct release_job *j = arg;
	char repo[72];

	if (r != 0) {
		/* the HSM client logs deadline and hung-helper events once each */
		if (r == KW_ERR_TIMEOUT || r == KW_ERR_UNAVAILABLE)
			kw_log_debug_r(r, "release of '%s' failed in the HSM helper", j->path);
		else
			kw_log_err_r_rl(r, "release of '%s' failed in the HSM helper", j->path);
		audit_release_failed(j, r == KW_ERR_NOT_FOUND ? "the key is gone from the HSM" :
		    "the HSM did not release");
		if (r == KW_ERR_NOT_FOUND)
			kw_http_problem_from_err(j->req, KW_ERR_NOT_FOUND, "no such resource");
		else    /* KW_ERR_TIMEOUT, KW_ERR_UNAVAILABLE (down or hung), KW_ERR_HSM, ... */
			kw_http_hsm_unavailable(j->req);
		goto out;
	}
	j->b->n_release_ok++;
	kw_metrics_release(j->path);
	kw_log_info_ev(KW_LOG_CTX(KW_EV_RELEASE, log_repo(j->path, repo),
	    j->jkt[0] != '\0' ? j->jkt : NULL),
	    "released '%s' to tee-key=%s (JWE RSA-OAEP/A256CBC-HS512)", j->path, j->kid);
	kw_http_jose(j->req, res->u.release.jwe);
out:
	release_job_free(j);
}

/* Ask the HSM (the record, if any, is durable). */
static void
release_start(struct release_job *j)
{
	struct kw_broker *b = j->b;
	int r;

	if ((r = hsm_client_release(b->hsm, j->label, b->release_profile, j->tee_n, j->tee_nlen,
	    j->tee_e, j->tee_elen, j->kid, release_done, j)) != 0) {
		kw_log_err_r_rl(r, "release could not be started");
		audit_release_failed(j, "the HSM call could not be started");
		kw_http_problem_from_err(j->req, r == KW_ERR_NOMEM ? KW_ERR_UNAVAILABLE : r, NULL);
		release_job_free(j);
	}
}

/* The release record's completion, on the loop. */
static void
release_audited(void *arg, int r)
{
	struct release_job *j = arg;

	if (r != 0) {
		/* disk full, read-only store, I/O error: nothing leaves the HSM */
		kw_log_err_r_rl(r, "release of '%s' refused: its audit record cannot be written", j->path);
		kw_http_problem(j->req, KW_PROBLEM_UNAVAILABLE, "the audit log cannot be written");
		release_job_free(j);
		return;
	}
	if (kw_audit_closing(j->b)) {
		audit_release_failed(j, "the broker is stopping");
		kw_http_problem(j->req, KW_PROBLEM_UNAVAILABLE, NULL);
		release_job_free(j);
		return;
	}
	release_start(j);
}

/* What the release rule decided on, for the audit records. */
struct release_info {
	char repo[72];
	json_int_t policy_version;
	json_t *refval;                /* the matched reference value (audit "refval"), or NULL */
};

/*
 * A "denial" record of /resource: check names the failed check (docs/audit.md).
 * path is valid (kw_resource_path_valid); tv may be NULL (no valid token).
 */
static void
audit_denial(struct kw_broker *b, struct evhttp_request *req, const char *path,
    const struct kw_token_view *tv, const char *check, const char *reason,
    const struct kw_release_target *t, const struct release_info *ri)
{
	char client[64], repo[72];
	const char *slash = strchr(path, '/');
	json_t *d;

	kw_metrics_denial(path, kw_metrics_denial_class(check));
	if (b->audit == NULL || slash == NULL || (size_t)(slash - path) >= sizeof(repo))
		return;
	memcpy(repo, path, (size_t)(slash - path));
	repo[slash - path] = '\0';
	kw_audit_client(req, client, sizeof(client));
	d = json_pack("{s:s, s:s, s:s, s:s, s:s*}", "repository", repo, "resource", path, "check",
	    check, "client", client, "reason", reason);
	if (d != NULL && tv != NULL && tv->jkt != NULL) {
		const json_t *tee = json_object_get(tv->claims, "tee");
		const struct kw_verifier *v = kw_verifier_find(json_string_value(tee));

		if (json_object_set_new(d, "jkt", json_string(tv->jkt)) != 0 ||
		    json_object_set_new(d, "wrap_jkt", json_string(tv->tee_kid)) != 0 ||
		    (audit_str(tv->claims, "tee") != NULL &&
		    json_object_set_new(d, "tee", json_string(audit_str(tv->claims, "tee"))) != 0) ||
		    (v != NULL && audit_str(tv->claims, v->log_claim) != NULL &&
		    json_object_set_new(d, "measurement",
		    json_string(audit_str(tv->claims, v->log_claim))) != 0)) {
			json_decref(d);
			d = NULL;
		}
	}
	if (d != NULL && t != NULL && t->policy[0] != '\0' &&
	    (json_object_set_new(d, "version", json_integer(t->version)) != 0 ||
	    json_object_set_new(d, "policy", json_string(t->policy)) != 0 ||
	    (ri != NULL && ri->policy_version > 0 &&
	    json_object_set_new(d, "policy_version", json_integer(ri->policy_version)) != 0))) {
		json_decref(d);
		d = NULL;
	}
	kw_audit_note(b, AUDIT_KIND_DENIAL, d);
}

/*
 * The audit "refval" of kw_policy_eval's explain "matched" (docs/policy.md):
 * set (or "policy" for a list inline in the policy), entry "<claim>[<index>]",
 * the entry's name and window. NULL when nothing matched.
 */
static json_t *
refval_of(const json_t *matched)
{
	const char *claim = audit_str(matched, "claim"), *set = audit_str(matched, "set");
	const json_t *nb = json_object_get(matched, "not_before"), *na = json_object_get(matched, "not_after");
	char entry[160];
	json_t *rv;

	if (matched == NULL)
		return NULL;
	snprintf(entry, sizeof(entry), "%.120s[%lld]", claim != NULL ? claim : "measurement",
	    (long long)json_integer_value(json_object_get(matched, "index")));
	rv = json_pack("{s:s, s:s, s:s*}", "set", set != NULL ? set : "policy", "entry", entry, "name",
	    audit_str(matched, "name"));
	if (rv != NULL && ((nb != NULL && json_object_set_new(rv, "not_before",
	    json_integer(json_integer_value(nb))) != 0) ||
	    (na != NULL && json_object_set_new(rv, "not_after",
	    json_integer(json_integer_value(na))) != 0))) {
		json_decref(rv);
		rv = NULL;
	}
	return rv;
}

/*
 * The release rule: the key's newest enabled version (or ?version=N) and the
 * policy bound to the key, evaluated by the policy language (broker/policy.c,
 * deny by default) against the token's claims, which include the attested
 * configuration manifest.
 *
 * In three steps: release_where parses the path (on the loop);
 * release_decide reads the store and evaluates the policy, touching neither
 * libevent nor broker state; release_judge answers a denial (and writes its
 * record) on the loop. With SQLite, release_decide runs on the loop through
 * the read-only connection (WAL: readers never wait for the admin writer, and
 * a local read is short). With PostgreSQL (kw_store_is_shared) a read waits
 * on the network, so release_decide runs on an appraisal worker with a
 * connection of the pool, and the loop goes on serving meanwhile.
 */
struct release_where {
	char repo[72], type[72], tag[72];
	int version;
};

/* The key path and ?version=N of a request; answers and returns -1 when malformed. */
static int
release_where(struct evhttp_request *req, const char *path, struct release_where *w)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *query = uri != NULL ? evhttp_uri_get_query(uri) : NULL;
	const char *s1 = strchr(path, '/'), *s2 = s1 != NULL ? strchr(s1 + 1, '/') : NULL;

	memset(w, 0, sizeof(*w));
	if (s1 == NULL || s2 == NULL || (size_t)(s1 - path) >= sizeof(w->repo) ||
	    (size_t)(s2 - s1 - 1) >= sizeof(w->type) || strlen(s2 + 1) >= sizeof(w->tag)) {
		kw_http_problem(req, KW_PROBLEM_MALFORMED, "invalid resource path");
		return -1;
	}
	memcpy(w->repo, path, (size_t)(s1 - path));
	memcpy(w->type, s1 + 1, (size_t)(s2 - s1 - 1));
	memcpy(w->tag, s2 + 1, strlen(s2 + 1) + 1);
	if (query != NULL) {
		char *end;
		long lv;
		if (strncmp(query, "version=", 8) != 0 || (lv = strtol(query + 8, &end, 10)) < 1 ||
		    lv > 1000000 || *end != '\0' || query[8] == '0') {
			kw_http_problem(req, KW_PROBLEM_MALFORMED, "the only query parameter is version=N");
			return -1;
		}
		w->version = (int)lv;
	}
	return 0;
}

/* What the store and the policy said (release_decide). */
struct release_decision {
	int r_lookup;                  /* kw_store_release_lookup */
	struct kw_release_target target;
	int r_policy;                  /* kw_store_doc_get of the bound policy; NOT_FOUND when unbound */
	json_t *pol;
	int r_eval;                    /* kw_policy_eval */
	json_t *explain;
};

static void
release_decision_clear(struct release_decision *d)
{
	json_decref(d->pol);
	json_decref(d->explain);
	d->pol = d->explain = NULL;
}

/* Thread-safe given a store usable from this thread; st: the release reads' store. */
static void
release_decide(struct kw_store *st, const struct release_where *w, const json_t *claims,
    int64_t now, struct release_decision *d)
{
	struct kw_refset_arg ra = { st, w->repo };
	struct kw_policy_ctx ctx = { now, kw_refset_from_store, &ra };

	memset(d, 0, sizeof(*d));
	if ((d->r_lookup = kw_store_release_lookup(st, w->repo, w->type, w->tag, w->version,
	    &d->target)) != 0)
		return;
	d->r_policy = d->target.policy[0] == '\0' ? KW_ERR_NOT_FOUND :
	    kw_store_doc_get(st, "policy", w->repo, d->target.policy, 0, &d->pol);
	if (d->r_policy != 0)
		return;
	d->r_eval = kw_policy_eval(json_object_get(d->pol, "document"), claims, &ctx, &d->explain);
}

/* A store that did not answer: 503, no denial record (nothing was decided). */
static int
store_down(int r)
{
	return r == KW_ERR_UNAVAILABLE || r == KW_ERR_TIMEOUT || r == KW_ERR_IO ||
	    r == KW_ERR_NOMEM || r == KW_ERR_INTERNAL;
}

/*
 * Answer a denial (and write its record) and return non-zero, or return 0
 * with ret and ri saying what matched. Takes d's references.
 */
static int
release_judge(struct kw_broker *b, struct evhttp_request *req, const char *path,
    const struct kw_token_view *tv, const struct release_where *w, struct release_decision *d,
    struct kw_release_target *ret, struct release_info *ri)
{
	int r = -1;

	snprintf(ri->repo, sizeof(ri->repo), "%s", w->repo);
	*ret = d->target;
	if (d->r_lookup != 0) {
		kw_log_info_ev_rl(KW_LOG_CTX(KW_EV_DENIAL, w->repo, tv->jkt),
		    "release denied: no enabled key '%.60s'%s", path,
		    d->r_lookup == KW_ERR_NOT_FOUND ? "" :
		    " (store error)");
		if (d->r_lookup == KW_ERR_NOT_FOUND)
			audit_denial(b, req, path, tv, "resource", w->version != 0 ?
			    "no such enabled key version" : "no such enabled key", NULL, NULL);
		kw_http_problem_from_err(req, d->r_lookup == KW_ERR_NOT_FOUND ? KW_ERR_NOT_FOUND :
		    KW_ERR_UNAVAILABLE, d->r_lookup == KW_ERR_NOT_FOUND ? "no such resource" : NULL);
		goto out;
	}
	if (d->r_policy != 0 && d->r_policy != KW_ERR_NOT_FOUND && store_down(d->r_policy)) {
		kw_log_info_r_rl(d->r_policy, "release of '%s': the store did not answer", path);
		kw_http_problem(req, KW_PROBLEM_UNAVAILABLE, NULL);
		goto out;
	}
	if (d->r_policy != 0) {
		b->n_release_denied++;
		kw_log_info_ev_rl(KW_LOG_CTX(KW_EV_DENIAL, w->repo, tv->jkt),
		    "release of '%s' denied: no policy bound or the policy does not exist", path);
		audit_denial(b, req, path, tv, "policy", ret->policy[0] == '\0' ? "no policy bound" :
		    "the bound policy does not exist", ret, NULL);
		kw_http_problem(req, KW_PROBLEM_DENIED, "denied by policy");
		goto out;
	}
	ri->policy_version = json_integer_value(json_object_get(d->pol, "version"));
	if (d->r_eval == KW_ERR_UNAVAILABLE || d->r_eval == KW_ERR_TIMEOUT) {
		/* a reference-value set could not be read: not a decision */
		kw_log_info_r_rl(d->r_eval, "release of '%s': the store did not answer", path);
		kw_http_problem(req, KW_PROBLEM_UNAVAILABLE, NULL);
		goto out;
	}
	if (d->r_eval != 0) {
		const char *reason = json_string_value(json_object_get(d->explain, "reason"));
		const char *detail = json_string_value(json_object_get(d->explain, "detail"));
		char why[300];

		b->n_release_denied++;
		/* the reason goes to the log and to admins' explain; the workload learns "denied" */
		kw_log_info_ev_rl(KW_LOG_CTX(KW_EV_DENIAL, w->repo, tv->jkt),
		    "release of '%s' denied by policy '%s' v%lld: %s%s%s (tee-key=%s)", path,
		    ret->policy, (long long)ri->policy_version,
		    reason != NULL ? reason : "could not evaluate", detail != NULL ? ": " : "",
		    detail != NULL ? detail : "", tv->tee_kid);
		snprintf(why, sizeof(why), "%s%s%.200s", reason != NULL ? reason : "could not evaluate",
		    detail != NULL ? ": " : "", detail != NULL ? detail : "");
		audit_denial(b, req, path, tv, "policy", why, ret, ri);
		kw_http_problem(req, KW_PROBLEM_DENIED, "denied by policy");
		goto out;
	}
	ri->refval = refval_of(json_object_get(d->explain, "matched"));
	r = 0;
out:
	release_decision_clear(d);
	return r;
}

static void
unauthorized(struct evhttp_request *req, const char *www, const char *detail)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate", www);
	kw_http_problem(req, KW_PROBLEM_UNAUTHENTICATED, detail);
}

/* Exactly one occurrence of header name, or NULL. */
static const char *
single_header(struct evkeyvalq *h, const char *name)
{
	struct evkeyval *kv;
	const char *found = NULL;
	int n = 0;

	TAILQ_FOREACH(kv, h, next) {
		if (strcasecmp(kv->key, name) == 0) {
			found = kv->value;
			n++;
		}
	}
	return n == 1 ? found : NULL;
}

/* The release record's data (docs/audit.md): what, under which policy and reference value, to whom. */
static json_t *
release_record(struct evhttp_request *req, const char *path, const struct kw_token_view *tv,
    const json_t *payload, const struct kw_release_target *t, const struct release_info *ri)
{
	const struct kw_verifier *v = kw_verifier_find(json_string_value(json_object_get(tv->claims,
	    "tee")));
	char client[64];
	json_t *d;

	kw_audit_client(req, client, sizeof(client));
	d = json_pack("{s:s, s:s, s:i, s:s, s:I, s:s, s:s, s:s*, s:s*, s:s*, s:s*}", "repository",
	    ri->repo, "resource", path, "version", t->version, "policy", t->policy, "policy_version",
	    ri->policy_version, "wrap_jkt", tv->tee_kid, "client", client, "jti",
	    audit_str(payload, "jti"), "jkt", tv->jkt, "tee", audit_str(tv->claims, "tee"),
	    "measurement", v != NULL ? audit_str(tv->claims, v->log_claim) : NULL);
	if (d != NULL && ri->refval != NULL && json_object_set(d, "refval", ri->refval) != 0) {
		json_decref(d);
		d = NULL;
	}
	return d;
}

/* A copy of n bytes (n > 0). */
static uint8_t *
dup_bytes(const uint8_t *p, size_t n)
{
	uint8_t *q = malloc(n);

	if (q != NULL)
		memcpy(q, p, n);
	return q;
}

/*
 * The rest of a release the rule granted: spend the proof's jti, then the
 * audit record, then the HSM. Answers.
 */
static void
release_granted(struct kw_broker *b, struct evhttp_request *req, const char *path,
    const struct kw_token_view *tv, const json_t *payload, const struct kw_dpop_jti *jti,
    int64_t now, const struct kw_release_target *tp, const struct release_info *rip)
{
	struct kw_release_target target = *tp;
	struct release_info ri = *rip;
	struct release_job *j = NULL;
	int r;

	/* only now, with path, token key and policy valid, is the proof's jti spent */
	if ((r = kw_dpop_record(b->dpop, jti, now)) != 0) {
		kw_log_info_r_rl(r, "resource request rejected: DPoP jti not recorded");
		if (r == KW_ERR_BUSY || r == KW_ERR_UNAVAILABLE) {
			kw_http_problem_from_err(req, r, r == KW_ERR_BUSY ?
			    "too many DPoP proofs for this token key; retry later" : NULL);
		} else {
			audit_denial(b, req, path, tv, "dpop", "DPoP proof replayed", &target, &ri);
			unauthorized(req, "DPoP error=\"invalid_dpop_proof\", algs=\"ES256\"",
			    "invalid DPoP proof");
		}
		goto out;
	}
	r = KW_ERR_NOMEM;
	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (j->tee_n = dup_bytes(tv->tee_n, tv->tee_nlen)) == NULL ||
	    (j->tee_e = dup_bytes(tv->tee_e, tv->tee_elen)) == NULL)
		goto fail;
	j->b = b;
	j->req = req;
	j->tee_nlen = tv->tee_nlen;
	j->tee_elen = tv->tee_elen;
	snprintf(j->path, sizeof(j->path), "%s (v%d)", path, target.version);
	memcpy(j->kid, tv->tee_kid, sizeof(j->kid));
	snprintf(j->jkt, sizeof(j->jkt), "%s", tv->jkt != NULL ? tv->jkt : "");
	memcpy(j->label, target.label, sizeof(j->label));
	if (b->audit == NULL) {
		release_start(j);    /* answers */
		j = NULL;
		goto out;
	}
	if ((j->rec = release_record(req, path, tv, payload, &target, &ri)) == NULL)
		goto fail;
	/* audit before release: the HSM is asked once the record is durable */
	if ((r = kw_audit_write(b, AUDIT_KIND_RELEASE, json_incref(j->rec), release_audited, j)) != 0) {
		kw_log_err_r_rl(r, "release of '%s' refused: its audit record cannot be queued", path);
		kw_http_problem(req, KW_PROBLEM_UNAVAILABLE, "the audit log cannot be written");
		goto out;
	}
	j = NULL;    /* release_audited's */
	goto out;
fail:
	kw_log_err_r_rl(r, "release could not be started");
	kw_http_problem_from_err(req, r == KW_ERR_NOMEM ? KW_ERR_UNAVAILABLE : r, NULL);
out:
	if (j != NULL)
		release_job_free(j);
}

/*
 * release_decide on an appraisal worker (a PostgreSQL store): the job owns
 * the token payload (the view points into it) until release_decided, back
 * on the loop, judges and goes on like the inline path.
 */
struct decide_job {
	struct kw_broker *b;
	struct evhttp_request *req;
	char path[256];
	struct release_where where;
	int64_t now;
	json_t *payload;
	struct kw_token_view tv;
	struct kw_dpop_jti jti;
	struct release_decision dec;
	int r_once;                    /* the shared jti set (spent only when granted) */
};

static void
decide_job_free(struct decide_job *j)
{
	release_decision_clear(&j->dec);
	kw_token_view_clear(&j->tv);
	json_decref(j->payload);
	free(j);
}

static void
decide_run(void *arg)
{
	struct decide_job *j = arg;

	uint8_t id[sizeof(j->jti.id) + sizeof(j->jti.part)];

	release_decide(j->b->store_ro, &j->where, j->tv.claims, j->now, &j->dec);
	if (j->dec.r_lookup != 0 || j->dec.r_policy != 0 || j->dec.r_eval != 0)
		return;
	/* granted: spend the proof's jti in the set every broker shares (per token key) */
	memcpy(id, j->jti.id, sizeof(j->jti.id));
	memcpy(id + sizeof(j->jti.id), j->jti.part, sizeof(j->jti.part));
	j->r_once = kw_store_once(j->b->store_ro, KW_STORE_ONCE_JTI, id, sizeof(id), j->jti.expiry,
	    j->now);
}

static void
decide_done(void *arg)
{
	struct decide_job *j = arg;
	struct kw_release_target target;
	struct release_info ri;

	memset(&ri, 0, sizeof(ri));
	if (kw_audit_closing(j->b))
		kw_http_problem(j->req, KW_PROBLEM_UNAVAILABLE, NULL);
	else if (release_judge(j->b, j->req, j->path, &j->tv, &j->where, &j->dec, &target,
	    &ri) != 0)
		;    /* answered and recorded */
	else if (j->r_once == KW_ERR_REPLAY || j->r_once == KW_ERR_EXPIRED) {
		kw_log_info_rl("resource request rejected: DPoP proof replayed (shared jti set)");
		audit_denial(j->b, j->req, j->path, &j->tv, "dpop", "DPoP proof replayed", &target, &ri);
		unauthorized(j->req, "DPoP error=\"invalid_dpop_proof\", algs=\"ES256\"",
		    "invalid DPoP proof");
	} else if (j->r_once != 0) {
		kw_log_info_r_rl(j->r_once, "release of '%s': the shared jti set did not answer",
		    j->path);
		kw_http_problem(j->req, KW_PROBLEM_UNAVAILABLE, NULL);
	} else {
		release_granted(j->b, j->req, j->path, &j->tv, j->payload, &j->jti, j->now, &target,
		    &ri);
	}
	json_decref(ri.refval);
	decide_job_free(j);
}

/* Takes *payload and *tv (left empty here) on success and on failure; answers either way. */
static void
release_decide_async(struct kw_broker *b, struct evhttp_request *req, const char *path,
    const struct release_where *w, struct kw_token_view *tv, json_t **payload,
    const struct kw_dpop_jti *jti, int64_t now)
{
	struct decide_job *j = calloc(1, sizeof(*j));
	int r;

	if (j == NULL || strlen(path) >= sizeof(j->path)) {
		free(j);
		kw_http_problem(req, KW_PROBLEM_UNAVAILABLE, NULL);
		return;
	}
	j->b = b;
	j->req = req;
	memcpy(j->path, path, strlen(path) + 1);
	j->where = *w;
	j->now = now;
	j->jti = *jti;
	j->payload = *payload;    /* transferred, with the view that points into it */
	*payload = NULL;
	j->tv = *tv;
	memset(tv, 0, sizeof(*tv));
	if ((r = kw_workers_submit(b->workers, decide_run, decide_done, j)) != 0) {
		kw_log_warn_r_rl(r, "appraisal queue full, shedding a release");
		kw_http_problem(req, KW_PROBLEM_SHED, "too many requests in progress; retry later");
		decide_job_free(j);
	}
}

void
kw_rcar_resource(struct kw_broker *b, struct evhttp_request *req, const char *path)
{
	struct evkeyvalq *h = evhttp_request_get_input_headers(req);
	const char *auth = single_header(h, "Authorization"), *proof = single_header(h, "DPoP");
	struct kw_release_target target;
	struct release_info ri;
	struct release_where where;
	struct release_decision dec;
	struct kw_token_view tv;
	char htu[512], nonce[KW_CHALLENGE_STR_MAX];
	const char *why = NULL, *token;
	json_t *payload = NULL;
	struct kw_dpop_jti jti;
	int r, need_nonce = 0, nn;
	/* denials are recorded for well-formed resource paths only */
	int path_ok = strchr(path, '%') == NULL && kw_resource_path_valid(path);
	int64_t now = kw_broker_now();

	memset(&tv, 0, sizeof(tv));
	memset(&ri, 0, sizeof(ri));
	if (kw_audit_closing(b)) {
		kw_http_problem(req, KW_PROBLEM_UNAVAILABLE, NULL);
		return;
	}
	if (auth == NULL || strncmp(auth, "DPoP ", 5) != 0) {
		if (path_ok)
			audit_denial(b, req, path, NULL, "token", "no DPoP token", NULL, NULL);
		unauthorized(req, "DPoP algs=\"ES256\"",
		    "attest first (POST /kbs/v0/attest), then present the token with "
		    "Authorization: DPoP and a DPoP proof");
		return;
	}
	token = auth + 5;
	if ((r = kw_token_verify(b->token_keys, token, strlen(token), b->cfg->token_issuer, now,
	    b->cfg->token_ttl, &payload, &why)) != 0 ||
	    (r = kw_token_view(payload, &tv)) != 0) {
		kw_log_info_r_rl(r, "resource request rejected: %s", why != NULL ? why : "token view");
		if (path_ok)
			audit_denial(b, req, path, NULL, "token", "invalid or expired token", NULL, NULL);
		unauthorized(req, "DPoP error=\"invalid_token\", algs=\"ES256\"",
		    "invalid or expired token");
		goto out;
	}
	nn = snprintf(htu, sizeof(htu), "%s/kbs/v0/resource/%s", b->cfg->public_url, path);
	if (nn < 0 || (size_t)nn >= sizeof(htu)) {
		kw_http_problem(req, KW_PROBLEM_MALFORMED, "resource path too long");
		goto out;
	}
	if ((r = kw_dpop_verify(b->dpop, proof, "GET", htu, token, tv.jkt, now, &jti, &need_nonce,
	    &why)) != 0) {
		kw_log_info_r_rl(r, "resource request rejected: %s", why);
		if (r == KW_ERR_BUSY || r == KW_ERR_UNAVAILABLE) {
			/* quota of this token key (429) or the broker's capacity (503): never a 401 */
			kw_http_problem_from_err(req, r, r == KW_ERR_BUSY ?
			    "too many DPoP proofs for this token key; retry later" : NULL);
		} else if (need_nonce && kw_dpop_nonce(b->dpop, now, nonce) == 0) {
			/* the protocol's nonce round trip, not a denial */
			evhttp_add_header(evhttp_request_get_output_headers(req), "DPoP-Nonce", nonce);
			unauthorized(req, "DPoP error=\"use_dpop_nonce\", algs=\"ES256\"",
			    "use the DPoP-Nonce from this response in a new proof");
		} else {
			if (path_ok)
				audit_denial(b, req, path, &tv, "dpop", why != NULL ? why : "invalid DPoP proof",
				    NULL, NULL);
			unauthorized(req, "DPoP error=\"invalid_dpop_proof\", algs=\"ES256\"",
			    "invalid DPoP proof");
		}
		goto out;
	}
	if (!path_ok) {
		kw_http_problem(req, KW_PROBLEM_MALFORMED,
		    "resource path must be REPOSITORY/TYPE/TAG of [A-Za-z0-9._-]");
		goto out;
	}
	if (release_where(req, path, &where) != 0)
		goto out;
	if (kw_store_is_shared(b->store_ro)) {
		release_decide_async(b, req, path, &where, &tv, &payload, &jti, now);   /* answers */
		goto out;
	}
	release_decide(b->store_ro, &where, tv.claims, now, &dec);
	if (release_judge(b, req, path, &tv, &where, &dec, &target, &ri) != 0)
		goto out;    /* answered and recorded */
	release_granted(b, req, path, &tv, payload, &jti, now, &target, &ri);
out:
	json_decref(ri.refval);
	kw_token_view_clear(&tv);
	json_decref(payload);
}

void
kw_rcar_jwks(struct kw_broker *b, struct evhttp_request *req)
{
	json_t *jwks = kw_token_jwks(b->token_keys, kw_broker_now(), b->cfg->token_ttl);

	if (jwks == NULL) {
		kw_http_problem(req, KW_PROBLEM_UNAVAILABLE, NULL);
		return;
	}
	kw_http_json(req, jwks);
}
