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

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>

#include "broker.h"
#include "kw_b64url.h"
#include "kw_jwk.h"
#include "kw_log.h"
#include "kw_util.h"

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

/* One appraisal, handed from the loop to a worker and back. */
struct attest_job {
	struct kw_broker *b;
	struct evhttp_request *req;
	json_t *body;                 /* keeps the borrowed pointers of a alive */
	struct kw_attest_req a;
	uint8_t expected_rd[64];
	/* results */
	int r;
	const char *reason;
	json_t *claims;
};

static void
attest_run(void *arg)
{
	struct attest_job *j = arg;
	struct snp_evidence ev;
	struct snp_verify_opts o;
	json_t *claims = NULL;
	const char *rd_hex;
	uint8_t rd[64];

	memset(&ev, 0, sizeof(ev));
	ev.report = j->a.report;
	ev.report_len = j->a.report_len;
	for (size_t i = 0; i < j->a.ncerts; i++) {
		ev.certs[i] = j->a.certs[i];
		ev.cert_lens[i] = j->a.cert_lens[i];
	}
	ev.ncerts = j->a.ncerts;
	o.at = kw_broker_now();
	o.allow_debug = 1;    /* debug is a claim; each key's rule decides (rcar_resource) */
	j->reason = "evidence did not verify";
	if ((j->r = snp_verify(j->b->snp, &ev, &o, &claims, &j->reason)) != 0)
		return;
	/* bind: report data must be SHA-384(JCS(runtime-data)) zero-padded */
	rd_hex = json_string_value(json_object_get(claims, "report_data"));
	if (rd_hex == NULL || kw_hex_decode(rd_hex, rd, sizeof(rd)) != 0) {
		j->r = KW_ERR_INTERNAL;
		j->reason = "verifier returned no report_data";
		json_decref(claims);
		return;
	}
	if (CRYPTO_memcmp(rd, j->expected_rd, sizeof(rd)) != 0) {
		j->r = KW_ERR_MISMATCH;
		j->reason = "report data does not match SHA-384(JCS(runtime-data))";
		json_decref(claims);
		return;
	}
	j->claims = claims;
	j->r = 0;
}

static void
attest_done(void *arg)
{
	struct attest_job *j = arg;
	struct kw_broker *b = j->b;
	struct kw_session s;
	char id[KW_SESSION_ID_MAX], fp[17], kid[44];
	const char *mhex;
	int debug;
	int r = j->r;

	memset(&s, 0, sizeof(s));
	if (r != 0) {
		b->n_attest_fail++;
		kw_log_info_r(r, "attestation rejected: %s", j->reason);
		kw_http_problem_from_err(j->req, r, r == KW_ERR_NOMEM || r == KW_ERR_INTERNAL ?
		    NULL : "attestation failed");
		goto out;
	}
	mhex = json_string_value(json_object_get(j->claims, "measurement"));
	if (mhex == NULL || kw_hex_decode(mhex, s.measurement, sizeof(s.measurement)) != 0) {
		kw_http_problem_from_err(j->req, KW_ERR_INTERNAL, NULL);
		goto out;
	}
	s.debug = json_is_true(json_object_get(j->claims, "debug"));
	if ((r = kw_jwk_thumbprint(j->a.tee_pubkey, s.tee_kid)) != 0) {
		kw_http_problem_from_err(j->req, r, NULL);
		goto out;
	}
	s.tee_pubkey = json_deep_copy(j->a.tee_pubkey);
	s.claims = j->claims;
	j->claims = NULL;    /* transferred */
	s.expiry = kw_broker_now() + b->cfg->session_ttl;
	if (s.tee_pubkey == NULL) {
		json_decref(s.claims);
		kw_http_problem_from_err(j->req, KW_ERR_NOMEM, NULL);
		goto out;
	}
	memcpy(kid, s.tee_kid, sizeof(kid));
	debug = s.debug;
	if ((r = kw_sessions_put(b->sessions, &s, kw_broker_now(), id)) != 0) {
		kw_log_warn_r(r, "cannot store the attestation result");
		kw_http_problem_from_err(j->req, r, NULL);
		goto out;
	}
	b->n_attest_ok++;
	kw_fp(id, strlen(id), fp);
	kw_log_info("attested tee=snp measurement=%.32s... debug=%s tee-key=%s session=%s",
	    mhex, debug ? "yes" : "no", kid, fp);
	kw_http_json(j->req, json_pack("{s:s, s:I}", "session", id, "expires_in",
	    (json_int_t)b->cfg->session_ttl));
	OPENSSL_cleanse(id, sizeof(id));
out:
	json_decref(j->claims);
	kw_attest_req_clear(&j->a);
	json_decref(j->body);
	free(j);
}

void
kw_rcar_attest(struct kw_broker *b, struct evhttp_request *req)
{
	struct attest_job *j;
	const char *why = "malformed request";
	int r;

	if ((j = calloc(1, sizeof(*j))) == NULL) {
		kw_http_problem_from_err(req, KW_ERR_UNAVAILABLE, NULL);
		return;
	}
	j->b = b;
	j->req = req;
	if (kw_http_body_json(b, req, &j->body) != 0)
		goto fail_sent;
	if ((r = kw_parse_attest(j->body, &j->a, &why)) != 0) {
		kw_log_info("attest request rejected: %s", why);
		kw_http_problem_from_err(req, r, why);
		goto fail_sent;
	}
	if ((r = kw_expected_report_data(j->a.runtime_data, j->expected_rd)) != 0) {
		kw_http_problem_from_err(req, r, "runtime-data cannot be canonicalized (RFC 8785)");
		goto fail_sent;
	}
	/* single use: the challenge is spent whatever the appraisal says */
	if ((r = kw_challenge_consume(b->challenges, "snp", j->a.nonce, kw_broker_now())) != 0) {
		b->n_attest_fail++;
		kw_log_info_r(r, "attestation rejected: challenge not accepted");
		if (r == KW_ERR_INVALID_FORMAT)
			r = KW_ERR_MISMATCH;    /* a forged or foreign nonce is an auth failure */
		kw_http_problem_from_err(req, r,
		    r == KW_ERR_UNAVAILABLE ? NULL : "challenge unknown, expired or already used");
		goto fail_sent;
	}
	if ((r = kw_workers_submit(b->workers, attest_run, attest_done, j)) != 0) {
		kw_log_warn_r(r, "appraisal queue full, shedding");
		evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "1");
		kw_http_problem(req, 429, "shed", "Too Many Requests",
		    "too many appraisals in progress; retry later");
		goto fail_sent;
	}
	return;
fail_sent:
	kw_attest_req_clear(&j->a);
	json_decref(j->body);
	free(j);
}

/* One release, waiting for keywarden-hsm. */
struct release_job {
	struct kw_broker *b;
	struct evhttp_request *req;
	char path[256];
	char kid[44];
};

static void
release_done(int r, json_t *result, void *arg)
{
	struct release_job *j = arg;
	const char *jwe = result != NULL ? json_string_value(json_object_get(result, "jwe")) : NULL;
	struct evbuffer *out;

	if (r != 0 || jwe == NULL) {
		if (r == 0)
			r = KW_ERR_HSM;
		kw_log_err_r(r, "release of '%s' failed in the HSM helper", j->path);
		kw_http_problem_from_err(j->req, r == KW_ERR_NOT_FOUND ? KW_ERR_NOT_FOUND :
		    KW_ERR_UNAVAILABLE, "no such resource");
		goto out;
	}
	j->b->n_release_ok++;
	kw_log_info("released '%s' to tee-key=%s (JWE RSA-OAEP/A256CBC-HS512)", j->path, j->kid);
	out = evhttp_request_get_output_buffer(j->req);
	evhttp_add_header(evhttp_request_get_output_headers(j->req), "Content-Type",
	    "application/jose");
	evhttp_add_header(evhttp_request_get_output_headers(j->req), "Cache-Control", "no-store");
	evbuffer_add(out, jwe, strlen(jwe));
	evhttp_send_reply(j->req, 200, "OK", out);
out:
	free(j);
}

static int
measurement_allowed(const struct kw_resource_cfg *rc, const uint8_t m[48])
{
	int found = 0;

	for (size_t i = 0; i < rc->n_measurements; i++)
		found |= CRYPTO_memcmp(rc->measurements[i], m, 48) == 0;
	return found;
}

void
kw_rcar_resource(struct kw_broker *b, struct evhttp_request *req, const char *path)
{
	struct evkeyvalq *h = evhttp_request_get_input_headers(req);
	const char *auth = evhttp_find_header(h, "Authorization");
	const struct kw_resource_cfg *rc;
	const struct kw_session *s;
	struct release_job *j;
	uint8_t *n = NULL, *e = NULL;
	size_t nlen, elen;
	char *nb = NULL, *eb = NULL, esc[80];
	EVP_PKEY *pk = NULL;
	json_t *call;
	int r;

	if (auth == NULL || strncmp(auth, "KW-Session ", 11) != 0) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
		    "KW-Session");
		kw_http_problem(req, 401, "unauthenticated", "Unauthorized",
		    "attest first (POST /kbs/v0/attest) and present the session reference");
		return;
	}
	if ((r = kw_sessions_get(b->sessions, auth + 11, kw_broker_now(), &s)) != 0) {
		kw_http_problem(req, 401, "unauthenticated", "Unauthorized",
		    r == KW_ERR_EXPIRED ? "session expired; attest again" : "unknown session");
		return;
	}
	if (strchr(path, '%') != NULL || !kw_resource_path_valid(path)) {
		kw_http_problem(req, 400, "malformed", "Bad Request",
		    "resource path must be REPOSITORY/TYPE/TAG of [A-Za-z0-9._-]");
		return;
	}
	if ((rc = kw_config_resource(b->cfg, path)) == NULL) {
		kw_log_escape(path, 60, esc, sizeof(esc));
		kw_log_info("release denied: no resource '%s'", esc);
		kw_http_problem(req, 404, "not-found", "Not Found", "no such resource");
		return;
	}
	if (s->debug && !rc->allow_debug) {
		b->n_release_denied++;
		kw_log_info("release of '%s' denied: debug guest (tee-key=%s)", rc->path, s->tee_kid);
		kw_http_problem_from_err(req, KW_ERR_DEBUG_GUEST, "denied by policy");
		return;
	}
	if (!measurement_allowed(rc, s->measurement)) {
		b->n_release_denied++;
		kw_log_info("release of '%s' denied: measurement not allowed (tee-key=%s)", rc->path,
		    s->tee_kid);
		kw_http_problem_from_err(req, KW_ERR_DENIED, "denied by policy");
		return;
	}
	if ((r = kw_jwk_import_public(s->tee_pubkey, &pk)) != 0 ||
	    (r = kw_jwk_rsa_components(pk, &n, &nlen, &e, &elen)) != 0 ||
	    (r = kw_b64url_encode(n, nlen, &nb)) != 0 ||
	    (r = kw_b64url_encode(e, elen, &eb)) != 0)
		goto fail;
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		r = KW_ERR_NOMEM;
		goto fail;
	}
	j->b = b;
	j->req = req;
	snprintf(j->path, sizeof(j->path), "%s", rc->path);
	memcpy(j->kid, s->tee_kid, sizeof(j->kid));
	call = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "op", "release", "label", rc->path,
	    "profile", b->release_profile, "n", nb, "e", eb, "kid", s->tee_kid);
	if (call == NULL) {
		free(j);
		r = KW_ERR_NOMEM;
		goto fail;
	}
	if ((r = hsm_client_call(b->hsm, call, release_done, j)) != 0) {
		free(j);
		goto fail;
	}
	goto out;
fail:
	kw_log_err_r(r, "release of '%s' could not be started", rc->path);
	kw_http_problem_from_err(req, r == KW_ERR_NOMEM ? KW_ERR_UNAVAILABLE : r, NULL);
out:
	EVP_PKEY_free(pk);
	free(n);
	free(e);
	free(nb);
	free(eb);
}
