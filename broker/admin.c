/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The admin plane: /admin/v1 on its own HTTPS listener with mutual TLS.
 * Identity is the subject CN of a client certificate verified against the
 * configured admin CA; roles are granted per repository in the
 * configuration (docs/admin.md). The listener has its own event_base and
 * thread (kw_admin_start), so floods on the workload listener cannot starve
 * it. Requests are parsed on that loop and executed on one admin worker
 * thread, which owns the writing store connection and reaches the HSM
 * through the blocking bridge (hsm_client stays on the main loop); no loop
 * waits for SQLite commits or the HSM.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "admin.h"
#include "broker.h"
#include "hsm_uri.h"
#include "health.h"
#include "listener.h"
#include "policy.h"
#include "kw_json.h"
#include "kw_log.h"
#include "kw_util.h"

#define ADMIN_BODY_MAX (256 * 1024)
#define ANSWER_FROM_ERR (-1)    /* admin_req.problem: kw_problem_of_err(r) */

struct admin_req {
	struct kw_broker *b;
	struct evhttp_request *req;    /* NULL in kw_admin_call */
	enum evhttp_cmd_type method;
	char subject[128];
	struct kw_admin_path path;
	const struct kw_admin_route *route;
	struct kw_admin_args args;    /* the route's parameters */
	int authorized;         /* kw_admin_authorize succeeded (KW_ADMIN_BODY) */
	char *q_repository;
	int q_version;          /* 0 = not given */
	int64_t q_after;
	size_t q_limit;
	/* GET audit, audit/proof, audit/consistency (-1: not given) */
	int64_t q_since, q_until, q_cursor, q_index, q_size, q_from, q_to, q_last;
	char *q_resource, *q_kind, *q_decision;
	json_t *body;
	/* result */
	int r;                  /* 0: success */
	int problem;            /* r != 0: enum kw_problem to answer, or ANSWER_FROM_ERR */
	char detail[200];
	int status;             /* success status */
	json_t *resp;           /* success body (NULL for 204) */
	/* change record */
	const char *action;
	char target[256];
	char repo[72];
};

/* ---- identity and authorization ---- */

/* An identity string: printable ASCII without spaces or quotes, shorter than outlen. */
static int
copy_identity(const unsigned char *p, int len, char *out, size_t outlen)
{
	if (len <= 0 || (size_t)len >= outlen)
		return KW_ERR_DENIED;
	for (int i = 0; i < len; i++)
		if (p[i] < 0x21 || p[i] > 0x7e || p[i] == '"' || p[i] == '\'')
			return KW_ERR_DENIED;
	memcpy(out, p, (size_t)len);
	out[len] = '\0';
	return 0;
}

static int
identity_from_cn(X509 *cert, char *out, size_t outlen)
{
	X509_NAME *name = X509_get_subject_name(cert);
	unsigned char *utf8 = NULL;
	int idx, len, r;

	if ((idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1)) < 0 ||
	    X509_NAME_get_index_by_NID(name, NID_commonName, idx) >= 0)
		return KW_ERR_DENIED;    /* exactly one CN */
	if ((len = ASN1_STRING_to_UTF8(&utf8,
	    X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx)))) <= 0)
		return KW_ERR_DENIED;
	r = copy_identity(utf8, len, out, outlen);
	OPENSSL_free(utf8);
	return r;
}

static int
identity_from_san(X509 *cert, int type, char *out, size_t outlen)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	const ASN1_IA5STRING *found = NULL;
	int n = 0, r = KW_ERR_DENIED;

	for (int i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);

		if (g->type != type)
			continue;
		n++;
		found = type == GEN_DNS ? g->d.dNSName : type == GEN_EMAIL ? g->d.rfc822Name :
		    g->d.uniformResourceIdentifier;
	}
	if (n == 1 && found != NULL)    /* exactly one name of the configured type */
		r = copy_identity(ASN1_STRING_get0_data(found), ASN1_STRING_length(found), out,
		    outlen);
	GENERAL_NAMES_free(gens);
	return r;
}

/*
 * The admin's identity from the verified client certificate (the TLS layer
 * already checked the chain to admin.client_ca, its validity, the purpose and
 * the path length). Here: the certificate must be a leaf (not a CA) with
 * extendedKeyUsage clientAuth, its issuer one of admin.issuer_sha256 when
 * set, and the name exactly one CN or one SAN of the configured type. On
 * failure *reterr_why is a client-safe reason for the 401.
 */
static int
peer_subject(const struct kw_config *c, struct evhttp_request *req, char *out, size_t outlen,
    const char **reterr_why)
{
	struct evhttp_connection *con = evhttp_request_get_connection(req);
	struct bufferevent *bev = con != NULL ? evhttp_connection_get_bufferevent(con) : NULL;
	SSL *ssl = bev != NULL ? bufferevent_openssl_get_ssl(bev) : NULL;
	X509 *cert = ssl != NULL ? SSL_get0_peer_certificate(ssl) : NULL;
	STACK_OF(X509) *chain;
	int r;

	*reterr_why = "a client certificate from the admin CA is required";
	if (cert == NULL || SSL_get_verify_result(ssl) != X509_V_OK)
		return KW_ERR_DENIED;
	*reterr_why = "the client certificate must be a leaf certificate (basicConstraints CA:FALSE)";
	if (X509_check_ca(cert) != 0)
		return KW_ERR_DENIED;
	*reterr_why = "the client certificate must carry extendedKeyUsage clientAuth";
	if ((X509_get_extension_flags(cert) & EXFLAG_XKUSAGE) == 0 ||
	    (X509_get_extended_key_usage(cert) & XKU_SSL_CLIENT) == 0)
		return KW_ERR_DENIED;
	if (c->n_admin_issuers > 0) {
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned int mdlen = 0;
		size_t i;

		*reterr_why = "the client certificate was not issued by a pinned admin issuer";
		chain = SSL_get0_verified_chain(ssl);
		if (chain == NULL || sk_X509_num(chain) < 2 ||
		    X509_digest(sk_X509_value(chain, 1), EVP_sha256(), md, &mdlen) != 1 || mdlen != 32)
			return KW_ERR_DENIED;
		for (i = 0; i < c->n_admin_issuers; i++)
			if (CRYPTO_memcmp(md, c->admin_issuers[i], 32) == 0)
				break;
		if (i == c->n_admin_issuers)
			return KW_ERR_DENIED;
	}
	switch (c->admin_identity) {
	case KW_ADMIN_ID_SAN_DNS:
		*reterr_why = "the client certificate must carry exactly one DNS subjectAltName";
		r = identity_from_san(cert, GEN_DNS, out, outlen);
		break;
	case KW_ADMIN_ID_SAN_EMAIL:
		*reterr_why = "the client certificate must carry exactly one email subjectAltName";
		r = identity_from_san(cert, GEN_EMAIL, out, outlen);
		break;
	case KW_ADMIN_ID_SAN_URI:
		*reterr_why = "the client certificate must carry exactly one URI subjectAltName";
		r = identity_from_san(cert, GEN_URI, out, outlen);
		break;
	case KW_ADMIN_ID_CN:
	default:
		*reterr_why = "the client certificate must carry exactly one printable subject CN";
		r = identity_from_cn(cert, out, outlen);
		break;
	}
	return r;
}

static unsigned int
role_bit(const char *role)
{
	if (strcmp(role, "key-admin") == 0)
		return KW_ROLE_KEY;
	if (strcmp(role, "policy-admin") == 0)
		return KW_ROLE_POLICY;
	if (strcmp(role, "auditor") == 0)
		return KW_ROLE_AUDIT;
	return 0;
}

/* Does subject hold one of roles for repository repo (NULL: for any repository)? */
static int
permitted(const struct kw_config *c, const char *subject, unsigned int roles, const char *repo)
{
	for (size_t i = 0; i < c->n_grants; i++) {
		const struct kw_grant *g = &c->grants[i];

		if (strcmp(g->subject, subject) != 0 || (role_bit(g->role) & roles) == 0)
			continue;
		if (repo == NULL)
			return 1;
		for (size_t k = 0; k < g->n_repos; k++)
			if (strcmp(g->repos[k], "*") == 0 || strcmp(g->repos[k], repo) == 0)
				return 1;
	}
	return 0;
}

/* Answer problem p with detail (r != 0 for the change record). */
static int
answer(struct admin_req *a, int r, int p, const char *detail)
{
	a->r = r != 0 ? r : KW_ERR_INTERNAL;
	a->problem = p;
	snprintf(a->detail, sizeof(a->detail), "%s", detail != NULL ? detail : kw_strerror(a->r));
	return a->r;
}

/* 403: outside the caller's roles (recorded as "denied"). */
static int
deny(struct admin_req *a, const char *why)
{
	return answer(a, KW_ERR_DENIED, KW_PROBLEM_FORBIDDEN, why);
}

/* The problem of r (kw_problem_of_err). */
static int
fail(struct admin_req *a, int r, const char *detail)
{
	return answer(a, r, ANSWER_FROM_ERR, detail);
}

/* Rows of repo are shown to the caller of a listing (KW_ADMIN_QUERY, ..._OR_SOME). */
static int
visible(const struct admin_req *a, const char *repo)
{
	return permitted(a->b->cfg, a->subject, a->route->roles, repo);
}

int
kw_admin_authorize(struct admin_req *a, const char *repo)
{
	if (!permitted(a->b->cfg, a->subject, a->route->roles, repo))
		return deny(a, a->route->denied);
	a->authorized = 1;
	return 0;
}

static int
ok(struct admin_req *a, int status, json_t *resp)
{
	a->r = 0;
	a->status = status;
	a->resp = resp;
	if (status != 204 && resp == NULL)
		return fail(a, KW_ERR_NOMEM, NULL);
	return 0;
}

/* ---- body validation ---- */

static int
body_keys(struct admin_req *a, const char *const *allowed)
{
	if (a->body == NULL)
		a->body = json_object();
	if (!json_is_object(a->body) || kw_json_check_keys(a->body, allowed) != 0)
		return fail(a, KW_ERR_INVALID_FORMAT, "unknown member in request body");
	return 0;
}

static const char *
body_name(struct admin_req *a, const char *key, int required)
{
	const json_t *v = json_object_get(a->body, key);

	if (v == NULL && !required)
		return NULL;
	if (!json_is_string(v) || !kw_name_valid(json_string_value(v))) {
		snprintf(a->detail, sizeof(a->detail), "\"%s\" must be a name of [A-Za-z0-9._-]{1,64}",
		    key);
		a->r = KW_ERR_INVALID_FORMAT;
		return NULL;
	}
	return json_string_value(v);
}

/* Policies and reference-value sets are checked by the policy module at registration. */
static int
valid_document(const char *kind, const json_t *doc, char *why, size_t whylen)
{
	if (!json_is_object(doc)) {
		snprintf(why, whylen, "\"document\" must be an object");
		return 0;
	}
	if (strcmp(kind, "refval") == 0)
		return kw_refval_validate(doc, why, whylen) == 0;
	return kw_policy_validate(doc, why, whylen) == 0;
}

/* ---- operations (admin thread) ---- */

/* One HSM call from the admin thread; *ret (may be NULL): the typed reply. */
static int
hsm_call(struct admin_req *a, const struct hsm_args *args, struct hsm_result **ret)
{
	struct hsm_result *res = NULL;
	int r;

	if ((r = kw_hsm_bridge_call(a->b->bridge, args, &res)) != 0)
		return r;
	if (ret != NULL)
		*ret = res;    /* transferred */
	else
		hsm_result_free(res);
	return 0;
}

/*
 * Each version's "uri": the PKCS#11 URI (RFC 7512) of its HSM object, on
 * the token the helper reported (docs/hsm.md "PKCS#11 URIs"). Built from
 * the label and CKA_ID the helper gives a secret (hsm_uri_secret); none
 * for a pending version (its object may not exist yet) or when the helper
 * reported no token URI.
 */
static int
key_uris(const struct kw_broker *b, json_t *m)
{
	const char *repo = json_string_value(json_object_get(m, "repository"));
	const char *type = json_string_value(json_object_get(m, "type"));
	const char *tag = json_string_value(json_object_get(m, "tag"));
	json_int_t len = json_integer_value(json_object_get(m, "length"));
	json_t *v;
	size_t i;
	int r;

	if (b->hsm_token_uri == NULL || repo == NULL || type == NULL || tag == NULL || len < 1)
		return 0;
	json_array_foreach(json_object_get(m, "versions"), i, v) {
		json_int_t ver = json_integer_value(json_object_get(v, "version"));
		const char *st = json_string_value(json_object_get(v, "state"));
		char *label = NULL, *uri = NULL;

		if (ver < 1 || st == NULL || strcmp(st, "pending") == 0)
			continue;
		if ((r = kw_store_make_label(repo, type, tag, ver, &label)) != 0 ||
		    (r = hsm_uri_secret(b->hsm_token_uri, label, (size_t)len, &uri)) != 0 ||
		    (r = json_object_set_new(v, "uri", json_string(uri)) != 0 ? KW_ERR_NOMEM : 0) != 0) {
			free(label);
			free(uri);
			return r;
		}
		free(label);
		free(uri);
	}
	return 0;
}

static int
key_meta(struct admin_req *a, const char *repo, const char *type, const char *tag, int status)
{
	json_t *m = NULL;
	int r;

	if ((r = kw_store_key_get(a->b->store, repo, type, tag, &m)) != 0)
		return fail(a, r, "no such key");
	if ((r = key_uris(a->b, m)) != 0) {
		json_decref(m);
		return fail(a, r, NULL);
	}
	return ok(a, status, m);
}

/* Create the HSM object for a pending version, then commit it. */
static int
materialize(struct admin_req *a, const char *label, const char *alg, unsigned int length,
    const json_t *wrapped)
{
	struct hsm_args args = {.op = wrapped == NULL ? HSM_OP_GENERATE : HSM_OP_IMPORT};
	enum hsm_kind kind = 0;
	int r;

	if (hsm_kind_from_name(alg, &kind) != 0)
		kind = 0;    /* the encoder refuses it (KW_ERR_INVALID_ARG): fails like the HSM */
	if (wrapped == NULL) {
		args.u.generate.label = label;
		args.u.generate.kind = kind;
		args.u.generate.length = length;
		args.u.generate.if_missing = false;
	} else {
		args.u.import.label = label;
		args.u.import.kind = kind;
		args.u.import.length = length;
		args.u.import.kid = json_string_value(json_object_get(wrapped, "kid"));
		args.u.import.kek = json_string_value(json_object_get(wrapped, "kek"));
		args.u.import.value = json_string_value(json_object_get(wrapped, "value"));
	}
	if ((r = hsm_call(a, &args, NULL)) != 0) {
		int ar = kw_store_version_abort(a->b->store, label);
		if (ar != 0)
			kw_log_err_r(ar, "cannot abort pending version %s (reconciled at restart)", label);
		if (wrapped != NULL && (r == KW_ERR_INVALID_FORMAT || r == KW_ERR_MISMATCH))
			return fail(a, KW_ERR_INVALID_FORMAT,
			    "the wrapped value did not unwrap in the HSM (wrong import key, KEK or length)");
		return fail(a, r == KW_ERR_EXISTS ? KW_ERR_EXISTS : KW_ERR_UNAVAILABLE,
		    "the HSM could not create the key");
	}
	if ((r = kw_store_version_commit(a->b->store, label)) != 0) {
		kw_log_err_r(r, "cannot commit version %s (reconciled at restart)", label);
		return fail(a, KW_ERR_UNAVAILABLE, "the store could not commit the key");
	}
	kw_log_info_ev(KW_LOG_CTX(KW_EV_ADMIN, a->repo[0] != '\0' ? a->repo : NULL, NULL),
	    "admin %s: %s %s in the HSM", a->subject, wrapped != NULL ? "imported" :
	    "generated", label);
	return 0;
}

static const json_t *
wrapped_of(struct admin_req *a)
{
	static const char *const wkeys[] = {"kid", "kek", "value", NULL};
	const json_t *w = json_object_get(a->body, "wrapped");

	if (w == NULL)
		return NULL;
	if (!json_is_object(w) || kw_json_check_keys(w, wkeys) != 0 ||
	    !json_is_string(json_object_get(w, "kid")) ||
	    !json_is_string(json_object_get(w, "kek")) ||
	    !json_is_string(json_object_get(w, "value")) ||
	    json_string_length(json_object_get(w, "kek")) > 2048 ||
	    json_string_length(json_object_get(w, "value")) > 8192 ||
	    json_string_length(json_object_get(w, "kid")) > 64) {
		fail(a, KW_ERR_INVALID_FORMAT, "\"wrapped\" must be {\"kid\",\"kek\",\"value\"} strings");
		return NULL;
	}
	return w;
}

static int
op_key_create(struct admin_req *a, int import)
{
	static const char *const keys[] = {"repository", "type", "tag", "algorithm", "length",
		"policy", "wrapped", NULL};
	struct kw_key_spec spec;
	const json_t *alg, *len, *pol, *w = NULL;
	char *label = NULL;
	int r;

	if (body_keys(a, keys) != 0)
		return a->r;
	memset(&spec, 0, sizeof(spec));
	if ((spec.repository = body_name(a, "repository", 1)) == NULL ||
	    (spec.type = body_name(a, "type", 1)) == NULL ||
	    (spec.tag = body_name(a, "tag", 1)) == NULL)
		return a->r;
	snprintf(a->repo, sizeof(a->repo), "%s", spec.repository);
	snprintf(a->target, sizeof(a->target), "%s/%s/%s", spec.repository, spec.type, spec.tag);
	if (kw_admin_authorize(a, spec.repository) != 0)
		return a->r;
	alg = json_object_get(a->body, "algorithm");
	len = json_object_get(a->body, "length");
	pol = json_object_get(a->body, "policy");
	if (!json_is_string(alg) || (len != NULL && !json_is_integer(len)) ||
	    (pol != NULL && !json_is_null(pol) && body_name(a, "policy", 1) == NULL))
		return fail(a, KW_ERR_INVALID_FORMAT,
		    "\"algorithm\" (aes-128, aes-256, secret), \"length\" (integer), \"policy\" (name)");
	spec.algorithm = json_string_value(alg);
	if (strcmp(spec.algorithm, "aes-128") == 0)
		spec.length = 16;
	else if (strcmp(spec.algorithm, "aes-256") == 0)
		spec.length = 32;
	else if (strcmp(spec.algorithm, "secret") != 0)
		return fail(a, KW_ERR_INVALID_FORMAT, "\"algorithm\" must be aes-128, aes-256 or secret");
	if (len != NULL) {
		json_int_t l = json_integer_value(len);
		if (l < 1 || l > 4096 || (spec.length != 0 && (unsigned int)l != spec.length))
			return fail(a, KW_ERR_INVALID_FORMAT, "\"length\" does not fit the algorithm");
		spec.length = (unsigned int)l;
	}
	if (spec.length == 0)
		return fail(a, KW_ERR_INVALID_FORMAT, "a secret needs \"length\" (1..4096)");
	spec.policy = json_is_string(pol) ? json_string_value(pol) : NULL;
	/* binding a policy is the policy-admin's decision (docs/admin.md), also at creation */
	if (spec.policy != NULL && !permitted(a->b->cfg, a->subject, KW_ROLE_POLICY, spec.repository))
		return deny(a, "binding a policy requires the policy-admin role for this repository "
		    "(create the key without \"policy\" and let a policy-admin bind it)");
	if (import) {
		if ((w = wrapped_of(a)) == NULL)
			return a->r != 0 ? a->r : fail(a, KW_ERR_INVALID_FORMAT, "\"wrapped\" is required");
	} else if (json_object_get(a->body, "wrapped") != NULL) {
		return fail(a, KW_ERR_INVALID_FORMAT, "use /admin/v1/keys/import to import a value");
	}
	if ((r = kw_store_key_create(a->b->store, &spec, import ? "imported" : "generated",
	    kw_broker_now(), &label)) != 0)
		return fail(a, r, r == KW_ERR_EXISTS ? "the key exists" : NULL);
	r = materialize(a, label, spec.algorithm, spec.length, w);
	free(label);
	if (r != 0)
		return r;
	return key_meta(a, spec.repository, spec.type, spec.tag, 201);
}

static int
op_key_version(struct admin_req *a, const char *repo, const char *type, const char *tag)
{
	static const char *const keys[] = {"wrapped", NULL};
	const json_t *w = NULL, *meta_alg, *meta_len;
	json_t *meta = NULL;
	char *label = NULL;
	int r, version;

	if (body_keys(a, keys) != 0)
		return a->r;
	if (json_object_get(a->body, "wrapped") != NULL && (w = wrapped_of(a)) == NULL)
		return a->r;
	if ((r = kw_store_key_get(a->b->store, repo, type, tag, &meta)) != 0)
		return fail(a, r, "no such key");
	meta_alg = json_object_get(meta, "algorithm");
	meta_len = json_object_get(meta, "length");
	if ((r = kw_store_version_add(a->b->store, repo, type, tag, w != NULL ? "imported" :
	    "generated", kw_broker_now(), &version, &label)) != 0) {
		json_decref(meta);
		return fail(a, r == KW_ERR_DENIED ? KW_ERR_EXISTS : r, "cannot add a version");
	}
	r = materialize(a, label, json_string_value(meta_alg),
	    (unsigned int)json_integer_value(meta_len), w);
	json_decref(meta);
	free(label);
	if (r != 0)
		return r;
	return key_meta(a, repo, type, tag, 201);
}

static int
op_key_delete(struct admin_req *a, const char *repo, const char *type, const char *tag)
{
	json_t *labels = NULL, *l;
	size_t i;
	int r;

	if ((r = kw_store_key_delete_begin(a->b->store, repo, type, tag, &labels)) != 0)
		return fail(a, r, "no such key");
	json_array_foreach(labels, i, l) {
		struct hsm_args args = {.op = HSM_OP_DESTROY};

		args.u.destroy.label = json_string_value(l);
		if ((r = hsm_call(a, &args, NULL)) != 0) {
			json_decref(labels);
			return fail(a, KW_ERR_UNAVAILABLE,
			    "the HSM could not destroy the key; retry the deletion");
		}
		kw_log_info_ev(KW_LOG_CTX(KW_EV_ADMIN, repo, NULL), "admin %s: destroyed %s in the HSM",
		    a->subject, json_string_value(l));
	}
	json_decref(labels);
	if ((r = kw_store_key_delete_finish(a->b->store, repo, type, tag)) != 0)
		return fail(a, KW_ERR_UNAVAILABLE, "retry the deletion");
	return ok(a, 204, NULL);
}

static int
op_key_state(struct admin_req *a, const char *repo, const char *type, const char *tag,
    int version, const char *state)
{
	int r;

	if (body_keys(a, (const char *const[]){NULL}) != 0)
		return a->r;
	r = version > 0 ? kw_store_version_set_state(a->b->store, repo, type, tag, version, state) :
	    kw_store_key_set_state(a->b->store, repo, type, tag, state);
	if (r != 0)
		return fail(a, r == KW_ERR_DENIED ? KW_ERR_EXISTS : r,
		    r == KW_ERR_NOT_FOUND ? "no such key or version" : "the key cannot change state now");
	return key_meta(a, repo, type, tag, 200);
}

static int
op_key_policy(struct admin_req *a, const char *repo, const char *type, const char *tag)
{
	static const char *const keys[] = {"policy", NULL};
	const json_t *p;
	int r;

	if (body_keys(a, keys) != 0)
		return a->r;
	p = json_object_get(a->body, "policy");
	if (p == NULL || (!json_is_null(p) && body_name(a, "policy", 1) == NULL))
		return fail(a, KW_ERR_INVALID_FORMAT, "\"policy\" must be a name or null");
	if ((r = kw_store_key_set_policy(a->b->store, repo, type, tag,
	    json_is_string(p) ? json_string_value(p) : NULL)) != 0)
		return fail(a, r, "no such key");
	return key_meta(a, repo, type, tag, 200);
}

static int
op_key_list(struct admin_req *a)
{
	json_t *all = NULL, *out, *k;
	size_t i;
	int r;

	if ((r = kw_store_key_list(a->b->store, a->q_repository, &all)) != 0)
		return fail(a, r, NULL);
	if ((out = json_array()) == NULL) {
		json_decref(all);
		return fail(a, KW_ERR_NOMEM, NULL);
	}
	json_array_foreach(all, i, k)
		if (visible(a, json_string_value(json_object_get(k, "repository"))))
			json_array_append(out, k);
	json_decref(all);
	return ok(a, 200, json_pack("{s:o}", "keys", out));
}

static void add_lint(struct admin_req *a, const char *repo, const json_t *doc, json_t *out);

static int
op_doc(struct admin_req *a, const char *kind, const char *repo, const char *name, int history)
{
	static const char *const keys[] = {"document", "immutable", "base_version", NULL};
	json_t *out = NULL;
	const json_t *doc, *imm, *base;
	char why[200];
	int r, version = 0;

	if (a->method == EVHTTP_REQ_GET) {
		r = history ? kw_store_doc_history(a->b->store, kind, repo, name, &out) :
		    kw_store_doc_get(a->b->store, kind, repo, name, a->q_version, &out);
		if (r != 0)
			return fail(a, r, "no such document or version");
		return ok(a, 200, history ? json_pack("{s:o}", "history", out) : out);
	}
	if (body_keys(a, keys) != 0)
		return a->r;
	doc = json_object_get(a->body, "document");
	imm = json_object_get(a->body, "immutable");
	base = json_object_get(a->body, "base_version");
	if (imm != NULL && !json_is_boolean(imm))
		return fail(a, KW_ERR_INVALID_FORMAT, "\"immutable\" must be true or false");
	if (base != NULL && (!json_is_integer(base) || json_integer_value(base) < 1 ||
	    json_integer_value(base) > 1000000000))
		return fail(a, KW_ERR_INVALID_FORMAT, "\"base_version\" must be a version number");
	if (!valid_document(kind, doc, why, sizeof(why)))
		return fail(a, KW_ERR_INVALID_FORMAT, why);
	/* base_version: written only if the latest version is still that one (409 otherwise) */
	r = base != NULL ? kw_store_doc_put_based(a->b->store, kind, repo, name, doc,
	    json_is_true(imm), a->subject, kw_broker_now(), (int)json_integer_value(base), &version) :
	    kw_store_doc_put(a->b->store, kind, repo, name, doc, json_is_true(imm), a->subject,
	    kw_broker_now(), &version);
	if (r == KW_ERR_MISMATCH)
		return fail(a, KW_ERR_EXISTS, "the document changed since base_version; read it and "
		    "retry");
	if (r != 0)
		return fail(a, r, r == KW_ERR_EXISTS ? "the document is immutable" : NULL);
	if ((r = kw_store_doc_get(a->b->store, kind, repo, name, version, &out)) != 0)
		return fail(a, r, NULL);
	if (strcmp(kind, "policy") == 0)
		add_lint(a, repo, doc, out);
	return ok(a, 201, out);
}

/* Attach hygiene warnings (server-side lint) to a policy response and log them. */
static void
add_lint(struct admin_req *a, const char *repo, const json_t *doc, json_t *out)
{
	struct kw_refset_arg ra = {a->b->store, repo};
	struct kw_policy_ctx ctx = {kw_broker_now(), kw_refset_from_store, &ra};
	json_t *w = NULL, *x;
	size_t i;

	if (kw_policy_lint(doc, &ctx, a->b->cfg->policy_max_age, &w) != 0)
		return;
	json_array_foreach(w, i, x)
		kw_log_warn("policy %s/%s: %s", repo, json_string_value(json_object_get(out, "name")),
		    json_string_value(x));
	json_object_set_new(out, "warnings", w);
}

/* GET .../policies/R/N/lint and POST .../policies/R/N/explain */
static int
op_policy_check(struct admin_req *a, const char *repo, const char *name, int explain)
{
	static const char *const keys[] = {"claims", "version", "at", NULL};
	struct kw_refset_arg ra = {a->b->store, repo};
	struct kw_policy_ctx ctx = {kw_broker_now(), kw_refset_from_store, &ra};
	const json_t *claims, *at, *ver;
	json_t *row = NULL, *res = NULL;
	int r, version = a->q_version;

	if (explain) {
		if (body_keys(a, keys) != 0)
			return a->r;
		claims = json_object_get(a->body, "claims");
		at = json_object_get(a->body, "at");
		ver = json_object_get(a->body, "version");
		if (!json_is_object(claims) || (ver != NULL && (!json_is_integer(ver) ||
		    json_integer_value(ver) < 1 || json_integer_value(ver) > 1000000)) ||
		    (at != NULL && (!json_is_string(at) ||
		    kw_time_parse_rfc3339(json_string_value(at), &ctx.now) != 0)))
			return fail(a, KW_ERR_INVALID_FORMAT,
			    "{\"claims\": {...}, \"version\"?: n, \"at\"?: RFC 3339 time}");
		if (ver != NULL)
			version = (int)json_integer_value(ver);
	}
	if ((r = kw_store_doc_get(a->b->store, "policy", repo, name, version, &row)) != 0)
		return fail(a, r, "no such policy or version");
	if (explain) {
		r = kw_policy_eval(json_object_get(row, "document"), json_object_get(a->body, "claims"),
		    &ctx, &res);
		if (r != 0 && r != KW_ERR_DENIED) {
			json_decref(row);
			return fail(a, KW_ERR_INVALID_FORMAT, "the policy could not be evaluated "
			    "(a release would be denied)");
		}
	} else {
		json_t *w = NULL;
		if ((r = kw_policy_lint(json_object_get(row, "document"), &ctx,
		    a->b->cfg->policy_max_age, &w)) != 0) {
			json_decref(row);
			return fail(a, r, NULL);
		}
		res = json_pack("{s:o}", "warnings", w);
	}
	if (res != NULL) {
		json_object_set(res, "policy", json_pack("{s:s, s:s, s:O}", "repository", repo,
		    "name", name, "version", json_object_get(row, "version")));
		json_decref(json_object_get(res, "policy"));
	}
	json_decref(row);
	return ok(a, 200, res);
}

/* POST .../refvals/R/N/supersede {"old","new","grace"} */
static int
op_supersede(struct admin_req *a, const char *repo, const char *name)
{
	static const char *const keys[] = {"old", "new", "grace", NULL};
	const char *old, *nw, *grace;
	json_t *row = NULL, *nd = NULL, *out = NULL;
	int64_t secs;
	int r, version, base;

	if (body_keys(a, keys) != 0)
		return a->r;
	old = json_string_value(json_object_get(a->body, "old"));
	nw = json_string_value(json_object_get(a->body, "new"));
	grace = json_string_value(json_object_get(a->body, "grace"));
	if (old == NULL || nw == NULL || grace == NULL || kw_duration_parse(grace, &secs) != 0)
		return fail(a, KW_ERR_INVALID_FORMAT,
		    "{\"old\": hex, \"new\": hex, \"grace\": \"7d\"|\"12h\"|\"30m\"|\"45s\"}");
	if ((r = kw_store_doc_get(a->b->store, "refval", repo, name, 0, &row)) != 0)
		return fail(a, r, "no such reference-value set");
	base = (int)json_integer_value(json_object_get(row, "version"));
	r = kw_refval_supersede(json_object_get(row, "document"), old, nw, kw_broker_now(), secs,
	    &nd);
	json_decref(row);
	if (r != 0)
		return fail(a, r == KW_ERR_NOT_FOUND ? KW_ERR_NOT_FOUND : KW_ERR_INVALID_FORMAT,
		    r == KW_ERR_NOT_FOUND ? "the old measurement is not in the set" :
		    "invalid measurements or grace");
	/* written only if nobody (another broker's admin) wrote the set since we read it */
	r = kw_store_doc_put_based(a->b->store, "refval", repo, name, nd, 0, a->subject,
	    kw_broker_now(), base, &version);
	json_decref(nd);
	if (r == KW_ERR_MISMATCH)
		return fail(a, KW_ERR_EXISTS, "the set changed while this request ran; read it and "
		    "retry");
	if (r != 0)
		return fail(a, r, r == KW_ERR_EXISTS ? "the set is immutable" : NULL);
	if ((r = kw_store_doc_get(a->b->store, "refval", repo, name, version, &out)) != 0)
		return fail(a, r, NULL);
	kw_log_info_ev(KW_LOG_CTX(KW_EV_ADMIN, repo, NULL),
	    "admin %s: %s/%s: superseded a measurement (grace %s), version %d", a->subject,
	    repo, name, grace, version);
	return ok(a, 201, out);
}

static int
op_doc_list(struct admin_req *a, const char *kind)
{
	json_t *all = NULL, *out, *d;
	size_t i;
	int r;

	if ((r = kw_store_doc_list(a->b->store, kind, a->q_repository, &all)) != 0)
		return fail(a, r, NULL);
	out = json_array();
	json_array_foreach(all, i, d)
		if (visible(a, json_string_value(json_object_get(d, "repository"))))
			json_array_append(out, d);
	json_decref(all);
	return ok(a, 200, json_pack("{s:o}", strcmp(kind, "policy") == 0 ? "policies" :
	    "refvals", out));
}

static int
op_changes(struct admin_req *a)
{
	json_t *all = NULL, *out, *c;
	size_t i;
	int r;

	if ((r = kw_store_changes(a->b->store, a->q_repository, a->q_after,
	    a->q_limit != 0 ? a->q_limit : 1000, &all)) != 0)
		return fail(a, r, NULL);
	out = json_array();
	json_array_foreach(all, i, c) {
		const char *rp = json_string_value(json_object_get(c, "repository"));
		if (rp != NULL && rp[0] != '\0' && !visible(a, rp))
			continue;
		json_array_append(out, c);
	}
	json_decref(all);
	return ok(a, 200, json_pack("{s:o}", "changes", out));
}

/* ---- the audit log (auditor role; docs/admin.md "Audit") ---- */

static int
audit_open_ro(struct admin_req *a, struct audit_db **ret)
{
	int r;

	if (a->b->audit == NULL)
		return fail(a, KW_ERR_NOT_FOUND, "the audit log is disabled on this broker");
	if ((r = kw_audit_db_open(a->b, ret)) != 0)
		return fail(a, KW_ERR_UNAVAILABLE, NULL);
	return 0;
}

static json_t *
hex_array(const struct audit_proof *p)
{
	json_t *arr = json_array();
	char hex[2 * AUDIT_HASH_LEN + 1];

	for (size_t i = 0; arr != NULL && i < p->n; i++) {
		kw_audit_hex32(p->hash[i], hex);
		if (json_array_append_new(arr, json_string(hex)) != 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

/* GET /admin/v1/audit: filters, a page of at most limit (default 100) records, next_cursor. */
static int
op_audit_list(struct admin_req *a)
{
	struct audit_filter f = { a->q_since, a->q_until, a->q_repository, a->q_resource, a->q_kind,
		a->q_decision };
	struct audit_db *db = NULL;
	json_t *all = NULL, *out = NULL, *rec;
	uint64_t next = 0;
	size_t i;
	int r;

	uint64_t size = 0, start = a->q_cursor >= 0 ? (uint64_t)a->q_cursor : 0;
	size_t limit = a->q_limit != 0 ? a->q_limit : 100;

	if (audit_open_ro(a, &db) != 0)
		return -1;
	r = audit_db_size(db, &size);
	if (r == 0 && a->q_last > 0) {
		/* the newest last records (filters apply to them) */
		start = size > (uint64_t)a->q_last ? size - (uint64_t)a->q_last : 0;
		limit = (size_t)a->q_last;
	}
	if (r == 0)
		r = audit_db_list(db, &f, start, limit, &all, &next);
	audit_db_close(db);
	if (r != 0)
		return fail(a, r == KW_ERR_INVALID_ARG ? KW_ERR_INVALID_FORMAT : KW_ERR_UNAVAILABLE, NULL);
	if ((out = json_array()) == NULL) {
		json_decref(all);
		return fail(a, KW_ERR_NOMEM, NULL);
	}
	/* an auditor sees the records of the repositories it audits, and those of none */
	json_array_foreach(all, i, rec) {
		const char *rp = json_string_value(json_object_get(json_object_get(rec, "data"),
		    "repository"));
		if (rp != NULL && !visible(a, rp))
			continue;
		json_array_append(out, rec);
	}
	json_decref(all);
	return ok(a, 200, next != 0 ? json_pack("{s:o, s:I, s:I}", "records", out, "size",
	    (json_int_t)size, "next_cursor", (json_int_t)next) : json_pack("{s:o, s:I}", "records", out,
	    "size", (json_int_t)size));
}

/*
 * The answer of a proof request: r from building it (KW_ERR_NOT_FOUND: missing
 * says what), else {k1: v1, k2: v2, hk1: hex h1, hk2: hex h2, "proof": [hex]}.
 */
static int
proof_reply(struct admin_req *a, int r, const char *missing, const char *k1, uint64_t v1,
    const char *k2, uint64_t v2, const char *hk1, const uint8_t h1[static AUDIT_HASH_LEN],
    const char *hk2, const uint8_t h2[static AUDIT_HASH_LEN], const struct audit_proof *p)
{
	char x1[2 * AUDIT_HASH_LEN + 1], x2[2 * AUDIT_HASH_LEN + 1];

	if (r == KW_ERR_NOT_FOUND)
		return fail(a, KW_ERR_NOT_FOUND, missing);
	if (r != 0)
		return fail(a, KW_ERR_UNAVAILABLE, NULL);
	kw_audit_hex32(h1, x1);
	kw_audit_hex32(h2, x2);
	return ok(a, 200, json_pack("{s:I, s:I, s:s, s:s, s:o*}", k1, (json_int_t)v1, k2,
	    (json_int_t)v2, hk1, x1, hk2, x2, "proof", hex_array(p)));
}

/*
 * GET /admin/v1/audit/checkpoint: the newest stored signed checkpoint and the
 * time of the first one (the checkpoint key is made on first use), for kwctl report.
 */
static int
op_audit_checkpoint(struct admin_req *a)
{
	struct audit_db *db = NULL;
	char *note = NULL;
	int64_t first = 0;
	int r;

	if (audit_open_ro(a, &db) != 0)
		return -1;
	r = audit_db_checkpoint_latest(db, &note);
	if (r == 0)
		r = audit_db_checkpoint_first_at(db, &first);
	audit_db_close(db);
	if (r == KW_ERR_NOT_FOUND)
		return fail(a, KW_ERR_NOT_FOUND, "no checkpoint has been signed yet");
	if (r != 0)
		return fail(a, KW_ERR_UNAVAILABLE, NULL);
	r = ok(a, 200, json_pack("{s:s, s:I}", "note", note, "first_at", (json_int_t)first));
	free(note);
	return r;
}

/* GET /admin/v1/audit/proof?index=N[&size=M]: RFC 9162 inclusion proof (size: the log's now). */
static int
op_audit_proof(struct admin_req *a)
{
	struct audit_db *db = NULL;
	struct audit_nodes src;
	struct audit_proof p;
	uint8_t root[AUDIT_HASH_LEN], leaf[AUDIT_HASH_LEN];
	uint64_t size = 0;
	int r;

	if (a->q_index < 0)
		return fail(a, KW_ERR_INVALID_FORMAT, "index=N is required");
	if (audit_open_ro(a, &db) != 0)
		return -1;
	audit_db_nodes(db, &src);
	if ((r = audit_db_size(db, &size)) == 0) {
		if (a->q_size >= 0 && (uint64_t)a->q_size > size)
			r = KW_ERR_NOT_FOUND;
		else if (a->q_size >= 0)
			size = (uint64_t)a->q_size;
	}
	if (r == 0 && (uint64_t)a->q_index >= size)
		r = KW_ERR_NOT_FOUND;
	if (r == 0 && (r = audit_proof_inclusion(&src, (uint64_t)a->q_index, size, &p)) == 0 &&
	    (r = src.get(src.arg, 0, (uint64_t)a->q_index, leaf)) == 0)
		r = audit_db_root(db, size, root);
	audit_db_close(db);
	return proof_reply(a, r, "no such index or size in the log", "index", a->q_index, "size", size,
	    "leaf_hash", leaf, "root", root, &p);
}

/* GET /admin/v1/audit/consistency?from=M&to=N: RFC 9162 consistency proof. */
static int
op_audit_consistency(struct admin_req *a)
{
	struct audit_db *db = NULL;
	struct audit_nodes src;
	struct audit_proof p;
	uint8_t r1[AUDIT_HASH_LEN], r2[AUDIT_HASH_LEN];
	uint64_t size = 0, to;
	int r;

	if (a->q_from < 1 || a->q_to < a->q_from)
		return fail(a, KW_ERR_INVALID_FORMAT, "from=M&to=N with 0 < M <= N are required");
	if (audit_open_ro(a, &db) != 0)
		return -1;
	audit_db_nodes(db, &src);
	to = (uint64_t)a->q_to;
	if ((r = audit_db_size(db, &size)) == 0 && to > size)
		r = KW_ERR_NOT_FOUND;
	if (r == 0 && (r = audit_proof_consistency(&src, (uint64_t)a->q_from, to, &p)) == 0 &&
	    (r = audit_db_root(db, (uint64_t)a->q_from, r1)) == 0)
		r = audit_db_root(db, to, r2);
	audit_db_close(db);
	return proof_reply(a, r, "the log is not that large", "from", (uint64_t)a->q_from, "to", to,
	    "from_root", r1, "to_root", r2, &p);
}

static int
op_import_key(struct admin_req *a)
{
	struct hsm_result *res = NULL;
	json_t *out;

	if (hsm_call(a, &(struct hsm_args){.op = HSM_OP_IMPORT_KEY}, &res) != 0)
		return fail(a, KW_ERR_UNAVAILABLE, "the HSM has no import key");
	out = json_pack("{s:s, s:O}", "kid", res->u.import_key.kid, "jwk", res->u.import_key.jwk);
	hsm_result_free(res);
	return out != NULL ? ok(a, 200, out) : fail(a, KW_ERR_NOMEM, NULL);
}

static int
op_whoami(struct admin_req *a)
{
	json_t *gr = json_array();
	const struct kw_config *c = a->b->cfg;

	for (size_t i = 0; gr != NULL && i < c->n_grants; i++) {
		json_t *repos;
		if (strcmp(c->grants[i].subject, a->subject) != 0)
			continue;
		repos = json_array();
		for (size_t k = 0; k < c->grants[i].n_repos; k++)
			json_array_append_new(repos, json_string(c->grants[i].repos[k]));
		json_array_append_new(gr, json_pack("{s:s, s:o}", "role", c->grants[i].role,
		    "repositories", repos));
	}
	return ok(a, 200, json_pack("{s:s, s:o}", "subject", a->subject, "grants", gr));
}

/* ---- the route table ---- */

/* variant "import": the value comes wrapped in the body */
static int
h_key_create(struct admin_req *a)
{
	return op_key_create(a, a->route->variant != NULL);
}

static int
h_method_not_allowed(struct admin_req *a)
{
	return answer(a, KW_ERR_UNSUPPORTED, KW_PROBLEM_METHOD_NOT_ALLOWED, "method not allowed");
}

static int
h_key_show(struct admin_req *a)
{
	return key_meta(a, a->args.arg[0], a->args.arg[1], a->args.arg[2], 200);
}

static int
h_key_delete(struct admin_req *a)
{
	return op_key_delete(a, a->args.arg[0], a->args.arg[1], a->args.arg[2]);
}

static int
h_key_rotate(struct admin_req *a)
{
	return op_key_version(a, a->args.arg[0], a->args.arg[1], a->args.arg[2]);
}

/* variant: the state the key (or its {version}) goes to */
static int
h_key_state(struct admin_req *a)
{
	return op_key_state(a, a->args.arg[0], a->args.arg[1], a->args.arg[2], a->args.version,
	    a->route->variant);
}

static int
h_key_policy(struct admin_req *a)
{
	return op_key_policy(a, a->args.arg[0], a->args.arg[1], a->args.arg[2]);
}

/* variant: the document kind, "policy" or "refval" */
static int
h_doc_list(struct admin_req *a)
{
	return op_doc_list(a, a->route->variant);
}

/* GET shows, PUT writes (op_doc) */
static int
h_doc(struct admin_req *a)
{
	return op_doc(a, a->route->variant, a->args.arg[0], a->args.arg[1], 0);
}

static int
h_doc_history(struct admin_req *a)
{
	return op_doc(a, a->route->variant, a->args.arg[0], a->args.arg[1], 1);
}

/* variant "explain": evaluate claims (POST), else lint (GET) */
static int
h_policy_check(struct admin_req *a)
{
	return op_policy_check(a, a->args.arg[0], a->args.arg[1], a->route->variant != NULL);
}

static int
h_supersede(struct admin_req *a)
{
	return op_supersede(a, a->args.arg[0], a->args.arg[1]);
}

#define GET EVHTTP_REQ_GET
#define POST EVHTTP_REQ_POST
#define PUT EVHTTP_REQ_PUT
#define DELETE EVHTTP_REQ_DELETE
#define KEY KW_ROLE_KEY
#define POLICY KW_ROLE_POLICY
#define AUDIT KW_ROLE_AUDIT
#define ANY KW_ROLE_ANY
#define KEYS "keys/{repo}/{name}/{name}"
#define NO_ROLE "no role for this repository"
#define KEY_ADMIN "key-admin role required for this repository"
#define POLICY_ADMIN "policy-admin role required for this repository"
#define POLICY_OR_AUDIT "policy-admin or auditor role required for this repository"

/* docs/admin.md "Endpoints"; a pattern matches by segment count and literals. */
const struct kw_admin_route kw_admin_routes[] = {
	{GET, "whoami", KW_ADMIN_PUBLIC, 0, NULL, NULL, op_whoami, NULL},
	{GET, "import-key", KW_ADMIN_SOME, KEY, "key-admin role required", NULL, op_import_key, NULL},
	{GET, "changes", KW_ADMIN_QUERY_OR_SOME, AUDIT, "auditor role required", NULL, op_changes,
		NULL},
	{GET, "audit", KW_ADMIN_QUERY_OR_SOME, AUDIT, "auditor role required", NULL, op_audit_list,
		NULL},
	{GET, "audit/checkpoint", KW_ADMIN_SOME, AUDIT, "auditor role required", NULL,
		op_audit_checkpoint, NULL},
	{GET, "audit/proof", KW_ADMIN_SOME, AUDIT, "auditor role required", NULL, op_audit_proof, NULL},
	{GET, "audit/consistency", KW_ADMIN_SOME, AUDIT, "auditor role required", NULL,
		op_audit_consistency, NULL},
	{GET, "keys", KW_ADMIN_QUERY, ANY, NO_ROLE, NULL, op_key_list, NULL},
	/* the key's repository is in the body; binding a policy at creation also
	 * needs policy-admin there (op_key_create) */
	{POST, "keys", KW_ADMIN_BODY, KEY, KEY_ADMIN, "key.create", h_key_create, NULL},
	{PUT | DELETE | EVHTTP_REQ_PATCH | EVHTTP_REQ_HEAD, "keys", KW_ADMIN_PUBLIC, 0, NULL, NULL,
		h_method_not_allowed, NULL},
	{POST, "keys/import", KW_ADMIN_BODY, KEY, KEY_ADMIN, "key.import", h_key_create, "import"},
	{GET, KEYS, KW_ADMIN_PATH, ANY, NO_ROLE, NULL, h_key_show, NULL},
	{DELETE, KEYS, KW_ADMIN_PATH, KEY, KEY_ADMIN, "key.delete", h_key_delete, NULL},
	{POST, KEYS "/versions", KW_ADMIN_PATH, KEY, KEY_ADMIN, "key.rotate", h_key_rotate, NULL},
	{POST, KEYS "/enable", KW_ADMIN_PATH, KEY, KEY_ADMIN, "key.enable", h_key_state, "enabled"},
	{POST, KEYS "/disable", KW_ADMIN_PATH, KEY, KEY_ADMIN, "key.disable", h_key_state,
		"disabled"},
	{POST, KEYS "/versions/{version}/enable", KW_ADMIN_PATH, KEY, KEY_ADMIN, "key.enable",
		h_key_state, "enabled"},
	{POST, KEYS "/versions/{version}/disable", KW_ADMIN_PATH, KEY, KEY_ADMIN, "key.disable",
		h_key_state, "disabled"},
	{PUT, KEYS "/policy", KW_ADMIN_PATH, POLICY, POLICY_ADMIN, "key.set-policy", h_key_policy,
		NULL},
	{GET, "policies", KW_ADMIN_QUERY, ANY, NO_ROLE, NULL, h_doc_list, "policy"},
	{GET, "policies/{repo}/{name}", KW_ADMIN_PATH, ANY, NO_ROLE, NULL, h_doc, "policy"},
	{PUT, "policies/{repo}/{name}", KW_ADMIN_PATH, POLICY, POLICY_ADMIN, "policy.put", h_doc,
		"policy"},
	{GET, "policies/{repo}/{name}/history", KW_ADMIN_PATH, ANY, NO_ROLE, NULL, h_doc_history,
		"policy"},
	{GET, "policies/{repo}/{name}/lint", KW_ADMIN_PATH, POLICY | AUDIT, POLICY_OR_AUDIT, NULL,
		h_policy_check, NULL},
	{POST, "policies/{repo}/{name}/explain", KW_ADMIN_PATH, POLICY | AUDIT, POLICY_OR_AUDIT,
		NULL, h_policy_check, "explain"},
	{GET, "refvals", KW_ADMIN_QUERY, ANY, NO_ROLE, NULL, h_doc_list, "refval"},
	{GET, "refvals/{repo}/{name}", KW_ADMIN_PATH, ANY, NO_ROLE, NULL, h_doc, "refval"},
	{PUT, "refvals/{repo}/{name}", KW_ADMIN_PATH, POLICY, POLICY_ADMIN, "refval.put", h_doc,
		"refval"},
	{GET, "refvals/{repo}/{name}/history", KW_ADMIN_PATH, ANY, NO_ROLE, NULL, h_doc_history,
		"refval"},
	{POST, "refvals/{repo}/{name}/supersede", KW_ADMIN_PATH, POLICY, POLICY_ADMIN,
		"refval.supersede", h_supersede, NULL},
};
const size_t kw_admin_nroutes = KW_ARRAY_SIZE(kw_admin_routes);

void
kw_admin_routes_list(FILE *f)
{
	static const struct {
		unsigned int bit;
		const char *name;
	} methods[] = {
		{EVHTTP_REQ_GET, "GET"}, {EVHTTP_REQ_POST, "POST"}, {EVHTTP_REQ_PUT, "PUT"},
		{EVHTTP_REQ_DELETE, "DELETE"}, {EVHTTP_REQ_PATCH, "PATCH"}, {EVHTTP_REQ_HEAD, "HEAD"},
	};

	for (size_t i = 0; i < kw_admin_nroutes; i++) {
		if (kw_admin_routes[i].handler == h_method_not_allowed)
			continue;
		for (size_t k = 0; k < KW_ARRAY_SIZE(methods); k++)
			if ((kw_admin_routes[i].methods & methods[k].bit) != 0)
				fprintf(f, "admin %s %s%s\n", methods[k].name, KW_ADMIN_PREFIX,
				    kw_admin_routes[i].pattern);
	}
}

#undef GET
#undef POST
#undef PUT
#undef DELETE
#undef KEY
#undef POLICY
#undef AUDIT
#undef ANY
#undef KEYS
#undef NO_ROLE
#undef KEY_ADMIN
#undef POLICY_ADMIN
#undef POLICY_OR_AUDIT

/* The role check of a->route for its scope, before the handler. */
static int
route_permits(struct admin_req *a)
{
	const struct kw_admin_route *rt = a->route;

	switch (rt->scope) {
	case KW_ADMIN_PUBLIC:
	case KW_ADMIN_BODY:    /* the handler calls kw_admin_authorize */
		return 1;
	case KW_ADMIN_PATH:
		return permitted(a->b->cfg, a->subject, rt->roles, a->args.arg[0]);
	case KW_ADMIN_SOME:
		return permitted(a->b->cfg, a->subject, rt->roles, NULL);
	case KW_ADMIN_QUERY:
		return a->q_repository == NULL ||
		    permitted(a->b->cfg, a->subject, rt->roles, a->q_repository);
	case KW_ADMIN_QUERY_OR_SOME:
		return permitted(a->b->cfg, a->subject, rt->roles, a->q_repository);
	}
	return 0;
}

/* Route a->path by method, check its roles, run its handler. Admin thread. */
static void
dispatch(struct admin_req *a)
{
	const struct kw_admin_route *rt;
	struct kw_admin_args args;

	rt = kw_admin_route_find(kw_admin_routes, kw_admin_nroutes, a->method, a->path.segs,
	    a->path.n);
	if (rt == NULL) {
		fail(a, KW_ERR_NOT_FOUND, "no such endpoint");
		return;
	}
	if (kw_admin_route_args(rt->pattern, a->path.segs, a->path.n, &args) != 0) {
		/* before anything is recorded */
		fail(a, KW_ERR_INVALID_FORMAT, "version must be a positive integer");
		return;
	}
	a->route = rt;
	a->args = args;
	for (size_t i = 0; i < args.n; i++) {
		size_t len = strlen(a->target);
		snprintf(a->target + len, sizeof(a->target) - len, "%s%s", i > 0 ? "/" : "",
		    args.arg[i]);
	}
	if (rt->scope == KW_ADMIN_PATH)
		snprintf(a->repo, sizeof(a->repo), "%s", args.arg[0]);
	a->action = rt->action;
	if (!route_permits(a)) {
		deny(a, rt->denied);
		return;
	}
	rt->handler(a);
	if (rt->scope == KW_ADMIN_BODY && a->r == 0 && !a->authorized) {
		kw_log_err("admin route %s answered without its role check", rt->pattern);
		json_decref(a->resp);
		a->resp = NULL;
		fail(a, KW_ERR_INTERNAL, NULL);
	}
}

static void
admin_run(void *arg)
{
	struct admin_req *a = arg;
	const char *outcome;
	int r;

	dispatch(a);
	if (a->action == NULL)
		return;    /* reads are not recorded */
	outcome = a->r == 0 ? "ok" : a->problem == KW_PROBLEM_FORBIDDEN ? "denied" : "error";
	r = kw_store_change_add(a->b->store, kw_broker_now(), a->subject, a->action,
	    a->repo[0] != '\0' ? a->repo : NULL, a->target, outcome, a->r == 0 ? "" : a->detail);
	/* the same change in the audit log (admin_changes stays, docs/audit.md), durable first */
	if (r == 0)
		r = kw_audit_write_wait(a->b, AUDIT_KIND_ADMIN_CHANGE, json_pack("{s:s, s:s, s:s, s:s*, "
		    "s:s*, s:s*}", "actor", a->subject, "action", a->action, "outcome", outcome,
		    "repository", a->repo[0] != '\0' ? a->repo : NULL, "target",
		    a->target[0] != '\0' ? a->target : NULL, "detail",
		    a->r != 0 && a->detail[0] != '\0' ? a->detail : NULL));
	if (r != 0) {
		/* an unrecorded change must not look acknowledged */
		kw_log_err_r(r, "cannot record admin change %s on %s", a->action, a->target);
		if (a->r == 0) {
			json_decref(a->resp);
			a->resp = NULL;
			fail(a, KW_ERR_UNAVAILABLE, "the change was made but could not be recorded");
		}
	}
}

static void
admin_req_free(struct admin_req *a)
{
	kw_admin_path_clear(&a->path);
	free(a->q_repository);
	free(a->q_resource);
	free(a->q_kind);
	free(a->q_decision);
	json_decref(a->body);
	json_decref(a->resp);
	free(a);
}

/* The problem answering a failed request (a->r != 0) and its detail. */
static enum kw_problem
admin_problem(const struct admin_req *a, const char **ret_detail)
{
	enum kw_problem p;

	if (a->problem != ANSWER_FROM_ERR) {
		*ret_detail = a->detail;
		return (enum kw_problem)a->problem;
	}
	p = kw_problem_of_err(a->r);
	*ret_detail = kw_problem_err_detail(p, a->detail);
	return p;
}

static void
admin_done(void *arg)
{
	struct admin_req *a = arg;
	const char *detail;
	enum kw_problem p;

	if (a->r == 0) {
		if (a->status == 204) {
			kw_http_no_content(a->req);
		} else {
			kw_http_json_status(a->req, a->status, a->resp);
			a->resp = NULL;    /* stolen */
		}
	} else {
		p = admin_problem(a, &detail);
		if (p == KW_PROBLEM_FORBIDDEN) {
			kw_log_info_ev(KW_LOG_CTX(KW_EV_ADMIN_DENIED, a->repo[0] != '\0' ? a->repo : NULL,
			    NULL), "admin '%.60s' denied: %s (%s)", a->subject, a->detail, a->target);
		}
		kw_http_problem(a->req, p, detail);
	}
	admin_req_free(a);
}

/* ---- loop side ---- */

/* The field of an integer parameter of the audit routes, or NULL. */
static int64_t *
audit_param(struct admin_req *a, const char *key)
{
	static const struct {
		const char *name;
		size_t off;
	} params[] = {
		{ "since", offsetof(struct admin_req, q_since) },
		{ "until", offsetof(struct admin_req, q_until) },
		{ "cursor", offsetof(struct admin_req, q_cursor) },
		{ "index", offsetof(struct admin_req, q_index) },
		{ "size", offsetof(struct admin_req, q_size) },
		{ "from", offsetof(struct admin_req, q_from) },
		{ "to", offsetof(struct admin_req, q_to) },
	};

	for (size_t i = 0; i < KW_ARRAY_SIZE(params); i++)
		if (strcmp(key, params[i].name) == 0)
			return (int64_t *)(void *)((char *)a + params[i].off);
	return NULL;
}

static int
parse_query(struct admin_req *a, const char *q)
{
	struct evkeyvalq kv;
	struct evkeyval *e;
	int r = 0;

	if (q == NULL)
		return 0;
	TAILQ_INIT(&kv);
	if (evhttp_parse_query_str(q, &kv) != 0)
		return KW_ERR_INVALID_FORMAT;
	TAILQ_FOREACH(e, &kv, next) {
		int64_t *p;
		char *end;
		long long v;

		if (strcmp(e->key, "repository") == 0 && a->q_repository == NULL &&
		    kw_name_valid(e->value)) {
			a->q_repository = strdup(e->value);
			continue;
		}
		if (strcmp(e->key, "resource") == 0 && a->q_resource == NULL &&
		    kw_resource_path_valid(e->value)) {
			a->q_resource = strdup(e->value);
			continue;
		}
		if (strcmp(e->key, "kind") == 0 && a->q_kind == NULL &&
		    audit_kind_from_name(e->value, &(enum audit_kind){0}) == 0) {
			a->q_kind = strdup(e->value);
			continue;
		}
		if (strcmp(e->key, "decision") == 0 && a->q_decision == NULL && kw_name_valid(e->value)) {
			a->q_decision = strdup(e->value);
			continue;
		}
		v = strtoll(e->value, &end, 10);
		if (*end != '\0' || e->value[0] == '\0' || v < 0 || v > 1000000000000LL) {
			r = KW_ERR_INVALID_FORMAT;
			break;
		}
		if (strcmp(e->key, "version") == 0 && v >= 1 && v <= 1000000)
			a->q_version = (int)v;
		else if (strcmp(e->key, "after") == 0)
			a->q_after = v;
		else if (strcmp(e->key, "limit") == 0 && v >= 1 && v <= 10000)
			a->q_limit = (size_t)v;
		else if (strcmp(e->key, "last") == 0 && v >= 1 && v <= 10000)
			a->q_last = v;
		else if ((p = audit_param(a, e->key)) != NULL)
			*p = v;
		else {
			r = KW_ERR_INVALID_FORMAT;
			break;
		}
	}
	evhttp_clear_headers(&kv);
	return r;
}

/*
 * Everything of a request the admin thread needs, parsed on the loop: path,
 * query and body. 0, or the problem to answer right away in *reterr_problem
 * and *reterr_detail (NULL: the row's default).
 */
static int
admin_prepare(struct admin_req *a, const char *path, const char *query, const uint8_t *body,
    size_t blen, enum kw_problem *reterr_problem, const char **reterr_detail)
{
	if (kw_admin_path_split(path, &a->path, reterr_problem, reterr_detail) != 0)
		return -1;
	if (parse_query(a, query) != 0) {
		*reterr_problem = KW_PROBLEM_MALFORMED;
		*reterr_detail = "query parameters: repository=NAME, version=N, after=N, limit=1..10000";
		return -1;
	}
	if (blen > 0) {
		if (blen > ADMIN_BODY_MAX) {
			*reterr_problem = KW_PROBLEM_TOO_LARGE;
			*reterr_detail = "request body exceeds 256 KiB";
			return -1;
		}
		if (body == NULL) {
			*reterr_problem = KW_PROBLEM_UNAVAILABLE;
			*reterr_detail = NULL;
			return -1;
		}
		if (kw_json_parse(body, blen, ADMIN_BODY_MAX, &a->body) != 0) {
			*reterr_problem = KW_PROBLEM_MALFORMED;
			*reterr_detail = "body is not a valid JSON object";
			return -1;
		}
	}
	return 0;
}

static struct admin_req *
admin_req_new(struct kw_broker *b, struct evhttp_request *req, enum evhttp_cmd_type method)
{
	struct admin_req *a = calloc(1, sizeof(*a));

	if (a == NULL)
		return NULL;
	a->b = b;
	a->q_since = a->q_until = a->q_cursor = a->q_index = a->q_size = a->q_from = a->q_to = a->q_last = -1;
	a->req = req;
	a->method = method;
	a->problem = ANSWER_FROM_ERR;
	return a;
}

static void
admin_route(struct evhttp_request *req, void *arg)
{
	struct kw_broker *b = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t blen = evbuffer_get_length(in);
	struct admin_req *a;
	const char *why = NULL;
	enum kw_problem p;

	if ((a = admin_req_new(b, req, evhttp_request_get_command(req))) == NULL) {
		kw_http_problem(req, KW_PROBLEM_UNAVAILABLE, NULL);
		return;
	}
	if (peer_subject(b->cfg, req, a->subject, sizeof(a->subject), &why) != 0) {
		kw_log_info_rl("admin request refused: %s", why);
		kw_http_problem(req, KW_PROBLEM_UNAUTHENTICATED, why);
		goto fail;
	}
	if (b->cfg->metrics_on_admin && uri != NULL && evhttp_uri_get_path(uri) != NULL &&
	    strcmp(evhttp_uri_get_path(uri), "/metrics") == 0 &&
	    evhttp_request_get_command(req) == EVHTTP_REQ_GET) {
		/* metrics.on_admin: any admin identity may scrape (no role: the
		 * exposition holds no key material, docs/operations.md) */
		kw_listener_tag(req, KW_MET_EP_METRICS);
		kw_health_admin_metrics(req);
		goto fail;    /* answered; a is not needed */
	}
	if (admin_prepare(a, uri != NULL ? evhttp_uri_get_path(uri) : NULL,
	    uri != NULL ? evhttp_uri_get_query(uri) : NULL,
	    blen > 0 && blen <= ADMIN_BODY_MAX ? evbuffer_pullup(in, (ev_ssize_t)blen) : NULL,
	    blen, &p, &why) != 0) {
		kw_http_problem(req, p, why);
		goto fail;
	}
	if (kw_workers_submit(b->admin_worker, admin_run, admin_done, a) != 0) {
		kw_http_problem(req, KW_PROBLEM_SHED, "admin queue full; retry");
		goto fail;
	}
	return;
fail:
	admin_req_free(a);
}

int
kw_admin_call(struct kw_broker *b, const char *subject, enum evhttp_cmd_type method,
    const char *path, const char *query, const char *body, int *ret_status, json_t **ret_body)
{
	struct admin_req *a;
	const char *detail = NULL;
	enum kw_problem p;

	if ((a = admin_req_new(b, NULL, method)) == NULL)
		return KW_ERR_NOMEM;
	if (strlen(subject) >= sizeof(a->subject)) {
		admin_req_free(a);
		return KW_ERR_INVALID_ARG;
	}
	memcpy(a->subject, subject, strlen(subject) + 1);
	if (admin_prepare(a, path, query, (const uint8_t *)body, body != NULL ? strlen(body) : 0,
	    &p, &detail) == 0) {
		admin_run(a);
		if (a->r == 0) {
			*ret_status = a->status;
			*ret_body = a->resp;
			a->resp = NULL;
			admin_req_free(a);
			return 0;
		}
		p = admin_problem(a, &detail);
	}
	*ret_status = kw_problem_info(p)->status;
	*ret_body = kw_problem_json(p, detail);
	admin_req_free(a);
	return *ret_body != NULL ? 0 : KW_ERR_NOMEM;
}

static int
admin_tls(const struct kw_config *c, SSL_CTX **ret)
{
	STACK_OF(X509_NAME) *names;
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx == NULL)
		return KW_ERR_CRYPTO;
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
	    SSL_CTX_use_certificate_chain_file(ctx, c->admin_cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, c->admin_key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1 ||
	    SSL_CTX_load_verify_locations(ctx, c->admin_client_ca, NULL) != 1 ||
	    (names = SSL_load_client_CA_file(c->admin_client_ca)) == NULL) {
		kw_log_err("admin: cannot load the TLS certificate, key or client CA");
		ERR_clear_error();
		SSL_CTX_free(ctx);
		return KW_ERR_CONFIG;
	}
	SSL_CTX_set_client_CA_list(ctx, names);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	/* path length: at most this many CA certificates between the leaf and client_ca */
	SSL_CTX_set_verify_depth(ctx, (int)c->admin_max_intermediates);
	X509_VERIFY_PARAM_set_purpose(SSL_CTX_get0_param(ctx), X509_PURPOSE_SSL_CLIENT);
	*ret = ctx;
	return 0;
}

/* The admin listener's thread: runs admin_base until kw_admin_stop. */
static void *
admin_loop(void *arg)
{
	struct kw_broker *b = arg;

	(void)event_base_loop(b->admin_base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

/* On the admin thread, activated by kw_admin_stop (a loopbreak called before
 * the loop starts would be forgotten; an active event is not). */
static void
admin_stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct kw_broker *b = arg;

	(void)fd;
	(void)what;
	(void)event_base_loopbreak(b->admin_base);
}

int
kw_admin_start(struct kw_broker *b)
{
	const struct kw_config *c = b->cfg;
	struct kw_listener_opts o;
	int r;

	if (c->admin_listen_addr == NULL) {
		kw_log_warn("no \"admin\" section: the admin listener is disabled");
		return 0;
	}
	if ((r = admin_tls(c, &b->admin_ssl_ctx)) != 0)
		return r;
	/* the bridge stays on the main loop, where hsm_client lives; the admin
	 * listener, its request parsing and its worker's done callbacks run on
	 * admin_base, so a flood on the workload listener cannot starve them */
	if ((r = kw_hsm_bridge_new(b, &b->bridge)) != 0)
		return r;
	if ((b->admin_base = event_base_new()) == NULL ||
	    (b->admin_stop_ev = event_new(b->admin_base, -1, 0, admin_stop_cb, b)) == NULL)
		return KW_ERR_NOMEM;
	if ((r = kw_workers_new(b->admin_base, 1, 64, &b->admin_worker)) != 0)
		return r;
	kw_workers_set_metrics(b->admin_worker, KW_MET_POOL_ADMIN);
	memset(&o, 0, sizeof(o));
	o.name = "admin";
	o.addr = c->admin_listen_addr;
	o.port = c->admin_listen_port;
	o.ssl_ctx = b->admin_ssl_ctx;
	o.max_connections = b->limits.admin_max_connections;
	o.max_per_address = b->limits.admin_max_per_address;
	o.accept_slack = KW_ADMIN_ACCEPT_SLACK;
	o.request_timeout = b->limits.request_timeout;
	o.max_body = 2 * ADMIN_BODY_MAX;
	o.max_headers = 16384;
	o.methods = EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_PATCH | EVHTTP_REQ_HEAD;
	o.cb = admin_route;
	o.cbarg = b;
	if ((r = kw_listener_new(b->admin_base, &o, &b->admin_listener)) != 0)
		return r;
	b->admin_http = kw_listener_evhttp(b->admin_listener);
	if (pthread_create(&b->admin_thread, NULL, admin_loop, b) != 0) {
		kw_log_err("cannot start the admin listener's thread");
		return KW_ERR_INTERNAL;
	}
	b->admin_thread_running = 1;
	kw_log_info("admin listener on https://%s:%u (mutual TLS, %zu grants, own thread)",
	    c->admin_listen_addr, (unsigned int)c->admin_listen_port, c->n_grants);
	return 0;
}

void
kw_admin_stop(struct kw_broker *b)
{
	/* a job blocked in the bridge fails now, so the worker can be joined */
	kw_hsm_bridge_shutdown(b->bridge);
	if (b->admin_thread_running) {
		event_active(b->admin_stop_ev, EV_READ, 0);
		pthread_join(b->admin_thread, NULL);
		b->admin_thread_running = 0;
	}
	/* admin_base is not running any more: everything below is single-threaded */
	kw_workers_free(b->admin_worker);
	b->admin_worker = NULL;
	kw_listener_free(b->admin_listener);    /* frees admin_http */
	b->admin_listener = NULL;
	b->admin_http = NULL;
	if (b->admin_stop_ev != NULL)
		event_free(b->admin_stop_ev);
	b->admin_stop_ev = NULL;
	kw_listener_drain(b->admin_base);    /* connections that were closing at the stop */
	if (b->admin_base != NULL)
		event_base_free(b->admin_base);
	b->admin_base = NULL;
	SSL_CTX_free(b->admin_ssl_ctx);
	b->admin_ssl_ctx = NULL;
	/* the bridge itself is freed by main after hsm_client_free: a call the
	 * admin thread gave up on may still complete into it until then */
}

/* ---- crash reconciliation (start-up, before serving) ---- */

/* Destroy the HSM object(s) labelled label (blocking, start-up). */
static int
hsm_destroy_sync(struct kw_broker *b, const char *label)
{
	struct hsm_args args = {.op = HSM_OP_DESTROY};
	struct hsm_result *res = NULL;
	int r;

	args.u.destroy.label = label;
	if ((r = hsm_client_call_sync(b->hsm, &args, &res)) == 0)
		hsm_result_free(res);
	return r;
}

/* Every kw-key/ label in the HSM: *ret = {"labels": [...]} (the helper pages key_list). */
static int
hsm_key_labels(struct kw_broker *b, json_t **ret)
{
	json_t *out = json_object(), *labels = json_array();
	const char *after = "";
	int r;

	if (out == NULL || labels == NULL) {
		json_decref(out);
		json_decref(labels);
		return KW_ERR_NOMEM;
	}
	json_object_set_new(out, "labels", labels);
	for (;;) {
		struct hsm_args args = {.op = HSM_OP_KEY_LIST};
		struct hsm_result *page = NULL;
		bool more;

		args.u.key_list.after = after;
		if ((r = hsm_client_call_sync(b->hsm, &args, &page)) != 0) {
			json_decref(out);
			return r;
		}
		r = 0;
		for (size_t i = 0; i < page->u.key_list.n && r == 0; i++)
			if (json_array_append_new(labels, json_string(page->u.key_list.labels[i])) != 0)
				r = KW_ERR_NOMEM;
		more = page->u.key_list.more && page->u.key_list.n > 0;
		hsm_result_free(page);
		if (r != 0) {
			json_decref(out);
			return r;
		}
		if (!more)
			break;
		after = json_string_value(json_array_get(labels, json_array_size(labels) - 1));
		if (after == NULL) {
			json_decref(out);
			return KW_ERR_NOMEM;
		}
	}
	*ret = out;
	return 0;
}

int
kw_admin_reconcile(struct kw_broker *b)
{
	json_t *versions = NULL, *rep = NULL, *labels, *v, *l;
	size_t i, k, fixed = 0;
	int r;

	if ((r = kw_store_all_versions(b->store, &versions)) != 0)
		return r;
	if ((r = hsm_key_labels(b, &rep)) != 0)
		goto out;
	labels = json_object_get(rep, "labels");
	json_array_foreach(versions, i, v) {
		const char *label = json_string_value(json_object_get(v, "label"));
		const char *state = json_string_value(json_object_get(v, "state"));
		int present = 0;

		if (label == NULL || state == NULL)
			continue;
		json_array_foreach(labels, k, l)
			if (json_is_string(l) && strcmp(json_string_value(l), label) == 0)
				present = 1;
		if (strcmp(state, "pending") == 0 || strcmp(state, "deleting") == 0) {
			if (present && (r = hsm_destroy_sync(b, label)) != 0)
				goto out;
			if (strcmp(state, "pending") == 0 &&
			    (r = kw_store_version_abort(b->store, label)) != 0)
				goto out;
			kw_log_warn("reconcile: %s version %s (unacknowledged)%s",
			    strcmp(state, "pending") == 0 ? "rolled back pending" :
			    "finished deleting", label, present ? ", HSM object destroyed" : "");
			fixed++;
		} else if (!present) {
			kw_log_err("reconcile: %s is %s in the store but has no HSM object; it cannot "
			    "be released", label, state);
		}
	}
	/* keys whose deletion was interrupted */
	json_decref(versions);
	versions = NULL;
	{
		json_t *keys = NULL, *key;
		if ((r = kw_store_key_list(b->store, NULL, &keys)) != 0)
			goto out;
		json_array_foreach(keys, i, key) {
			if (strcmp(json_string_value(json_object_get(key, "state")), "deleting") != 0)
				continue;
			r = kw_store_key_delete_finish(b->store,
			    json_string_value(json_object_get(key, "repository")),
			    json_string_value(json_object_get(key, "type")),
			    json_string_value(json_object_get(key, "tag")));
			if (r != 0) {
				json_decref(keys);
				goto out;
			}
			fixed++;
		}
		json_decref(keys);
	}
	/*
	 * HSM objects without a row: created before a crash, never acknowledged.
	 * The objects are listed before the rows are read: a row is always
	 * written before its object, so an object another broker on a shared
	 * store creates meanwhile already has its row here.
	 */
	json_decref(rep);
	rep = NULL;
	if ((r = hsm_key_labels(b, &rep)) != 0)    /* again: the passes above destroyed some */
		goto out;
	if ((r = kw_store_all_versions(b->store, &versions)) != 0)
		goto out;
	labels = json_object_get(rep, "labels");
	json_array_foreach(labels, k, l) {
		int known = 0;

		json_array_foreach(versions, i, v)
			if (json_is_string(l) && strcmp(json_string_value(json_object_get(v, "label")),
			    json_string_value(l)) == 0)
				known = 1;
		if (known || !json_is_string(l))
			continue;
		if ((r = hsm_destroy_sync(b, json_string_value(l))) != 0)
			goto out;
		kw_log_warn("reconcile: destroyed orphan HSM object %s (no store row)",
		    json_string_value(l));
		fixed++;
	}
	kw_log_info("reconcile: store and HSM agree (%zu repair(s))", fixed);
	r = 0;
out:
	json_decref(versions);
	json_decref(rep);
	return r;
}
