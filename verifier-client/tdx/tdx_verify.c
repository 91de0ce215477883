/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TDX quote verification: trust (pinned Intel SGX Root CA, configured test
 * roots, chain cache), the checks in the order of docs/verifier-tdx.md, and
 * the normalized claims.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "kw_json.h"
#include "kw_util.h"
#include "tdx_int.h"

/* ---- trust ---- */

int
tdx_trust_new(struct tdx_trust **ret)
{
	struct tdx_trust *t;

	if (ret == NULL)
		return KW_ERR_INVALID_ARG;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return KW_ERR_NOMEM;
	if ((t->cache = calloc(1, sizeof(*t->cache))) == NULL) {
		free(t);
		return KW_ERR_NOMEM;
	}
	if (pthread_mutex_init(&t->cache->lock, NULL) != 0) {
		free(t->cache);
		free(t);
		return KW_ERR_NOMEM;
	}
	*ret = t;
	return 0;
}

void
tdx_trust_free(struct tdx_trust *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->nroots; i++)
		X509_free(t->roots[i].cert);
	tdx_chain_cache_destroy(t->cache);
	free(t);
}

int
tdx_trust_add_test_root_pem(struct tdx_trust *t, const void *pem, size_t len)
{
	BIO *bio = NULL;
	X509 *x = NULL, *extra = NULL;
	const X509_NAME *nm;
	char cn[80];
	uint8_t sha[32];
	int r = KW_ERR_INVALID_FORMAT;

	if (t == NULL || pem == NULL)
		return KW_ERR_INVALID_ARG;
	if (len == 0 || len > TDX_MAX_CHAIN_PEM)
		return len == 0 ? KW_ERR_INVALID_FORMAT : KW_ERR_TOO_LARGE;
	if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL)   /* len <= TDX_MAX_CHAIN_PEM */
		return KW_ERR_NOMEM;
	if ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) == NULL ||
	    (extra = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
		goto out;   /* exactly one certificate */
	if ((r = tdx_cert_sha256(x, sha)) != 0)
		goto out;
	r = 0;
	if (memcmp(sha, tdx_intel_root_sha256, 32) == 0)
		goto out;   /* the pinned Intel root: trusted anyway, and stays "intel" */
	for (size_t i = 0; i < t->nroots; i++)
		if (memcmp(sha, t->roots[i].sha256, 32) == 0)
			goto out;
	r = KW_ERR_CERT_INVALID;
	nm = X509_get_subject_name(x);
	if (X509_check_issued(x, x) != X509_V_OK || X509_verify(x, X509_get0_pubkey(x)) != 1 ||
	    X509_check_ca(x) == 0 || X509_NAME_get_text_by_NID(nm, NID_commonName, cn, sizeof(cn)) <= 0 ||
	    strncmp(cn, "NOT INTEL", 9) != 0)
		goto out;
	r = KW_ERR_TOO_LARGE;
	if (t->nroots == TDX_MAX_TEST_ROOTS)
		goto out;
	(void)X509_check_purpose(x, -1, 0);   /* fill the extension cache before sharing */
	t->roots[t->nroots].cert = x;          /* transferred */
	memcpy(t->roots[t->nroots].sha256, sha, 32);
	t->nroots++;
	x = NULL;
	tdx_trust_cache_clear(t);
	r = 0;
out:
	X509_free(x);
	X509_free(extra);
	BIO_free(bio);
	ERR_clear_error();
	return r;
}

int
tdx_trust_add_test_root_file(struct tdx_trust *t, const char *pem_path)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	if (t == NULL || pem_path == NULL)
		return KW_ERR_INVALID_ARG;
	if ((r = kw_file_read(pem_path, TDX_MAX_CHAIN_PEM, &buf, &len)) != 0)
		return r;
	r = tdx_trust_add_test_root_pem(t, buf, len);
	free(buf);
	return r;
}

/* ---- claims ---- */

static int
put_hex(json_t *o, const char *key, const uint8_t *b, size_t n)
{
	char *h = NULL;
	int r;

	if ((r = kw_hex_encode(b, n, &h)) != 0)
		return r;
	r = json_object_set_new(o, key, json_string(h)) == 0 ? 0 : KW_ERR_NOMEM;
	free(h);
	return r;
}

static int
put_time(json_t *o, const char *key, int64_t t)
{
	char s[21];

	kw_time_format_rfc3339(t, s);
	return json_object_set_new(o, key, json_string(s)) == 0 ? 0 : KW_ERR_NOMEM;
}

static int
put(json_t *o, const char *key, json_t *v)
{
	return json_object_set_new(o, key, v) == 0 ? 0 : KW_ERR_NOMEM;   /* v stolen, also on failure */
}

/* put() of *v, which is taken (set to NULL) whatever the outcome. */
static int
put_take(json_t *o, const char *key, json_t **v)
{
	json_t *x = *v;

	*v = NULL;
	return put(o, key, x);
}

static int
add_advisories(json_t *arr, const struct tdx_collateral *c, const struct tdx_adv_ids *a)
{
	for (size_t i = 0; i < a->n; i++) {
		const char *id = c->adv[a->first + i];
		size_t k;

		for (k = 0; k < json_array_size(arr); k++)
			if (strcmp(json_string_value(json_array_get(arr, k)), id) == 0)
				break;
		if (k == json_array_size(arr) && json_array_append_new(arr, json_string(id)) != 0)
			return KW_ERR_NOMEM;
	}
	return 0;
}

static uint64_t
le64(const uint8_t b[static 8])
{
	uint64_t v = 0;

	for (size_t i = 0; i < 8; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

struct verified {
	struct tdx_quote q;
	struct tdx_pck_chain chain;
	struct tdx_tcb_result tcb;
	int freshness_checked;
};

static int
build_collateral_claims(json_t *o, const struct tdx_collateral *c, int freshness_checked)
{
	int r;

	if ((r = put_time(o, "tcb_info_issue_date", c->tcb.issue)) != 0 ||
	    (r = put_time(o, "tcb_info_next_update", c->tcb.next)) != 0 ||
	    (r = put_time(o, "qe_identity_issue_date", c->qe.issue)) != 0 ||
	    (r = put_time(o, "qe_identity_next_update", c->qe.next)) != 0 ||
	    (r = put_time(o, "pck_crl_this_update", c->pck_crl_this)) != 0 ||
	    (r = put_time(o, "pck_crl_next_update", c->pck_crl_next)) != 0 ||
	    (r = put_time(o, "root_ca_crl_this_update", c->root_crl_this)) != 0 ||
	    (r = put_time(o, "root_ca_crl_next_update", c->root_crl_next)) != 0 ||
	    (r = put(o, "tcb_evaluation_data_number", json_integer(c->tcb.eval_num))) != 0 ||
	    (r = put(o, "qe_identity_tcb_evaluation_data_number", json_integer(c->qe.eval_num))) != 0 ||
	    (r = put(o, "freshness_checked", json_boolean(freshness_checked))) != 0)
		return r;
	return 0;
}

static int
build_platform_claims(json_t *o, const struct verified *v)
{
	const struct tdx_quote *q = &v->q;
	json_t *comps = json_array(), *qe = json_object();
	int r = KW_ERR_NOMEM;

	if (comps == NULL || qe == NULL)
		goto out;
	for (size_t i = 0; i < 16; i++)
		if (json_array_append_new(comps, json_integer(v->chain.pck.sgx_svn[i])) != 0)
			goto out;
	if ((r = put_hex(qe, "mrenclave", q->qe.mrenclave, 32)) != 0 ||
	    (r = put_hex(qe, "mrsigner", q->qe.mrsigner, 32)) != 0 ||
	    (r = put(qe, "isvprodid", json_integer(q->qe.isvprodid))) != 0 ||
	    (r = put(qe, "isvsvn", json_integer(q->qe.isvsvn))) != 0)
		goto out;
	if ((r = put_take(o, "sgx_tcb_components", &comps)) != 0 || (r = put_take(o, "qe", &qe)) != 0 ||
	    (r = put(o, "pcesvn", json_integer(v->chain.pck.pcesvn))) != 0 ||
	    (r = put_hex(o, "cpusvn", v->chain.pck.cpusvn, 16)) != 0 ||
	    (r = put_hex(o, "pce_id", v->chain.pck.pce_id, 2)) != 0 ||
	    (r = put(o, "sgx_type", json_integer(v->chain.pck.sgx_type))) != 0 ||
	    (r = put(o, "pck_ca", json_string(v->chain.processor_ca ? "processor" : "platform"))) != 0 ||
	    (r = put(o, "quote_version", json_integer(q->version))) != 0 ||
	    (r = put_hex(o, "user_data", q->user_data, 20)) != 0)
		goto out;
out:
	json_decref(comps);
	json_decref(qe);
	return r;
}

static json_t *
build_claims(const struct verified *v, const struct tdx_collateral *c)
{
	const struct tdx_quote *q = &v->q;
	const struct tdx_td_report *td = &q->td;
	uint64_t attrs = le64(td->td_attributes);
	json_t *o = json_object(), *adv = json_array(), *coll = json_object(), *plat = json_object();
	static const char *rtmr_names[4] = { "rtmr0", "rtmr1", "rtmr2", "rtmr3" };
	int r = KW_ERR_NOMEM;

	if (o == NULL || adv == NULL || coll == NULL || plat == NULL)
		goto out;
	if ((r = add_advisories(adv, c, &v->tcb.level->adv)) != 0 ||
	    (v->tcb.qe_level != NULL && (r = add_advisories(adv, c, &v->tcb.qe_level->adv)) != 0) ||
	    (v->tcb.module_level != NULL && (r = add_advisories(adv, c, &v->tcb.module_level->adv)) != 0))
		goto out;
	if ((r = build_collateral_claims(coll, c, v->freshness_checked)) != 0 ||
	    (r = build_platform_claims(plat, v)) != 0)
		goto out;
	if ((r = put(o, "tee", json_string("tdx"))) != 0 ||
	    (r = put(o, "root", json_string(v->chain.is_test ? "test" : "intel"))) != 0 ||
	    (r = put(o, "tdx_version", json_string(q->body_type == 3 ? "1.5" : "1.0"))) != 0 ||
	    (r = put_hex(o, "mrtd", td->mrtd, 48)) != 0)
		goto out;
	for (size_t i = 0; i < 4; i++)
		if ((r = put_hex(o, rtmr_names[i], td->rtmr[i], 48)) != 0)
			goto out;
	if ((r = put_hex(o, "mrconfigid", td->mrconfigid, 48)) != 0 ||
	    (r = put_hex(o, "mrowner", td->mrowner, 48)) != 0 ||
	    (r = put_hex(o, "mrownerconfig", td->mrownerconfig, 48)) != 0 ||
	    (r = put_hex(o, "mrseam", td->mrseam, 48)) != 0 ||
	    (r = put_hex(o, "mrsignerseam", td->mrsignerseam, 48)) != 0 ||
	    (r = put_hex(o, "seam_attributes", td->seam_attributes, 8)) != 0 ||
	    (r = put_hex(o, "td_attributes", td->td_attributes, 8)) != 0 ||
	    (r = put(o, "debug", json_boolean((attrs & TDX_TD_ATTR_DEBUG) != 0))) != 0 ||
	    (r = put(o, "sept_ve_disable", json_boolean((attrs & TDX_TD_ATTR_SEPT_VE_DISABLE) != 0))) != 0 ||
	    (r = put_hex(o, "xfam", td->xfam, 8)) != 0 ||
	    (r = put_hex(o, "tee_tcb_svn", td->tee_tcb_svn, 16)) != 0 ||
	    (r = put_hex(o, "report_data", td->report_data, 64)) != 0 ||
	    (r = put_hex(o, "fmspc", v->chain.pck.fmspc, 6)) != 0 ||
	    (r = put(o, "tcb_status", json_string(tdx_tcb_status_name(v->tcb.final)))) != 0 ||
	    (r = put(o, "platform_tcb_status", json_string(tdx_tcb_status_name(v->tcb.platform)))) != 0 ||
	    (r = put_time(o, "tcb_date", v->tcb.level->date)) != 0 ||
	    (r = put(o, "tdx_module_status", json_string(tdx_tcb_status_name(v->tcb.module)))) != 0 ||
	    (r = put(o, "qe_status", json_string(tdx_tcb_status_name(v->tcb.qe)))) != 0)
		goto out;
	if (q->body_type == 3 && ((r = put_hex(o, "tee_tcb_svn2", td->tee_tcb_svn2, 16)) != 0 ||
	    (r = put_hex(o, "mrservicetd", td->mrservicetd, 48)) != 0))
		goto out;
	if (v->tcb.module_id != NULL && (r = put(o, "tdx_module_id", json_string(v->tcb.module_id->id))) != 0)
		goto out;
	if ((r = put_take(o, "advisory_ids", &adv)) != 0 || (r = put_take(o, "collateral", &coll)) != 0 ||
	    (r = put_take(o, "platform", &plat)) != 0)
		goto out;
out:
	json_decref(adv);
	json_decref(coll);
	json_decref(plat);
	if (r != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* ---- verification ---- */

#define FAIL(code, text) do { r = (code); why = (text); goto out; } while (0)

/* 1 when crl lists the (positive) serial number, 0 when not, KW_ERR_NOMEM. */
static int
crl_lists(X509_CRL *crl, const uint8_t *serial, size_t len)
{
	ASN1_INTEGER *ai = ASN1_INTEGER_new();
	X509_REVOKED *rev = NULL;
	int r;

	if (ai == NULL || ASN1_STRING_set(ai, serial, (int)len) != 1) {   /* len <= TDX_MAX_SERIAL */
		ASN1_INTEGER_free(ai);
		return KW_ERR_NOMEM;
	}
	r = X509_CRL_get0_by_serial(crl, &rev, ai) == 1 ? 1 : 0;
	ASN1_INTEGER_free(ai);
	return r;
}

static int
in_window(int64_t at, int64_t from, int64_t until)
{
	return at >= from && at < until;
}

int
tdx_verify_quote(const struct tdx_trust *t, const uint8_t *quote, size_t len, const struct tdx_collateral *c,
    const struct tdx_verify_opts *o, json_t **ret_claims, const char **reterr_reason)
{
	struct tdx_trace local, *tr = o != NULL && o->trace != NULL ? o->trace : &local;
	struct verified v;
	EVP_PKEY *ak = NULL;
	json_t *claims = NULL;
	const char *why = "invalid arguments";
	uint8_t md[32], binding[96];
	int r = KW_ERR_INVALID_ARG;

	memset(tr, 0, sizeof(*tr));
	memset(&v, 0, sizeof(v));
	if (t == NULL || quote == NULL || c == NULL || o == NULL || ret_claims == NULL || o->at <= 0)
		goto out;

	/* 1. the quote's structure */
	if ((r = tdx_quote_parse(quote, len, &v.q, &why)) != 0)
		goto out;
	tr->passed |= TDX_CHECK_QUOTE_FORMAT;

	/* 2. PCK chain to the pinned root (or a test root), valid at `at`; its SGX extension */
	if ((r = tdx_pck_chain_get(t, v.q.pck_chain, v.q.pck_chain_len, &v.chain, &why)) != 0)
		goto out;
	if (!in_window(o->at, v.chain.not_before, v.chain.not_after + 1))
		FAIL(KW_ERR_CERT_EXPIRED, "PCK certificate chain outside its validity period");
	tr->passed |= TDX_CHECK_PCK_CHAIN;

	/* 3. QE report signed by the PCK key */
	if ((r = tdx_ecdsa_verify(v.chain.leaf_key, v.q.qe_report_sig, v.q.qe_report_raw,
	    TDX_QE_REPORT_SIZE)) != 0)
		FAIL(r, "QE report signature invalid");
	tr->passed |= TDX_CHECK_QE_REPORT_SIG;

	/* 4. QE report data = SHA-256(attestation key ‖ QE auth data) ‖ 32 zero bytes */
	{
		EVP_MD_CTX *mdc = EVP_MD_CTX_new();
		unsigned int mdlen = 0;
		int ok = mdc != NULL && EVP_DigestInit_ex(mdc, EVP_sha256(), NULL) == 1 &&
		    EVP_DigestUpdate(mdc, v.q.attest_key, 64) == 1 &&
		    EVP_DigestUpdate(mdc, v.q.qe_auth_data, v.q.qe_auth_len) == 1 &&
		    EVP_DigestFinal_ex(mdc, md, &mdlen) == 1 && mdlen == 32;

		EVP_MD_CTX_free(mdc);
		if (!ok)
			FAIL(KW_ERR_CRYPTO, "internal error");
	}
	memset(binding, 0, sizeof(binding));
	if (memcmp(md, v.q.qe.report_data, 32) != 0 || memcmp(binding, v.q.qe.report_data + 32, 32) != 0)
		FAIL(KW_ERR_MISMATCH, "QE report data does not bind the attestation key");
	tr->passed |= TDX_CHECK_QE_REPORT_DATA;

	/* 5. quote signed by the attestation key */
	if ((r = tdx_p256_key(v.q.attest_key, &ak)) != 0)
		FAIL(KW_ERR_INVALID_FORMAT, "attestation key is not a P-256 point");
	if ((r = tdx_ecdsa_verify(ak, v.q.sig, v.q.signed_part, v.q.signed_len)) != 0)
		FAIL(r, "quote signature invalid");
	tr->passed |= TDX_CHECK_QUOTE_SIG;

	/* 6. the caller's report data */
	if (o->report_data != NULL) {
		if (CRYPTO_memcmp(o->report_data, v.q.td.report_data, 64) != 0)
			FAIL(KW_ERR_MISMATCH, "REPORT_DATA does not match the expected value");
		tr->passed |= TDX_CHECK_REPORT_DATA;
	}

	/* 7. collateral (verified at load) from the same root */
	tr->passed |= c->checks;
	if (memcmp(c->root_sha256, v.chain.root_sha256, 32) != 0)
		FAIL(KW_ERR_MISMATCH, "collateral and PCK chain end at different roots");
	tr->passed |= TDX_CHECK_SAME_ROOT;

	/* 8. freshness at `at` */
	if (!o->skip_freshness) {
		if (!in_window(o->at, c->certs_not_before, c->certs_not_after + 1))
			FAIL(KW_ERR_CERT_EXPIRED, "collateral signing certificate outside its validity period");
		if (!in_window(o->at, c->tcb.issue, c->tcb.next))
			FAIL(KW_ERR_CERT_EXPIRED, "TCB Info not valid at the verification time");
		if (!in_window(o->at, c->qe.issue, c->qe.next))
			FAIL(KW_ERR_CERT_EXPIRED, "QE identity not valid at the verification time");
		if (!in_window(o->at, c->pck_crl_this, c->pck_crl_next))
			FAIL(KW_ERR_CERT_EXPIRED, "PCK CRL not valid at the verification time");
		if (!in_window(o->at, c->root_crl_this, c->root_crl_next))
			FAIL(KW_ERR_CERT_EXPIRED, "Root CA CRL not valid at the verification time");
		tr->passed |= TDX_CHECK_FRESHNESS;
		v.freshness_checked = 1;
	}

	/* 9. revocation of the PCK leaf (PCK CRL from its issuer) and of its CA (Root CA CRL) */
	if (memcmp(v.chain.issuer_name_sha256, c->pck_crl_issuer_name_sha256, 32) != 0 ||
	    memcmp(v.chain.ca_spki_sha256, c->pck_crl_issuer_spki_sha256, 32) != 0)
		FAIL(KW_ERR_MISMATCH, "PCK CRL is not from the PCK certificate's issuer");
	if ((r = crl_lists(c->pck_crl, v.chain.leaf_serial, v.chain.leaf_serial_len)) != 0) {
		if (r > 0)
			FAIL(KW_ERR_CERT_INVALID, "PCK certificate revoked");
		FAIL(r, "out of memory");
	}
	if ((r = crl_lists(c->root_crl, v.chain.ca_serial, v.chain.ca_serial_len)) != 0) {
		if (r > 0)
			FAIL(KW_ERR_CERT_INVALID, "PCK CA certificate revoked");
		FAIL(r, "out of memory");
	}
	tr->passed |= TDX_CHECK_NOT_REVOKED;

	/* 10. the collateral is this platform's */
	if (memcmp(v.chain.pck.fmspc, c->tcb.fmspc, 6) != 0)
		FAIL(KW_ERR_MISMATCH, "FMSPC of the PCK certificate does not match the TCB Info");
	if (memcmp(v.chain.pck.pce_id, c->tcb.pce_id, 2) != 0)
		FAIL(KW_ERR_MISMATCH, "PCE-ID of the PCK certificate does not match the TCB Info");
	tr->passed |= TDX_CHECK_FMSPC_PCEID;

	/* 11. TDX module and QE identities */
	if ((r = tdx_tcb_check_identities(c, &v.q, &v.tcb, &why)) != 0)
		goto out;
	tr->passed |= TDX_CHECK_TDX_MODULE | TDX_CHECK_QE_IDENTITY;
	tr->qe = v.tcb.qe;

	/* 12. TCB level and status convergence */
	r = tdx_tcb_evaluate(c, &v.chain.pck, &v.q, &v.tcb, &why);
	tr->platform = v.tcb.platform;
	tr->module = v.tcb.module;
	tr->final = v.tcb.final;
	if (r != 0)
		goto out;
	if (v.tcb.final == TDX_TCB_NOT_SUPPORTED)
		FAIL(KW_ERR_DENIED, "no TCB level matches the platform (TCB_NOT_SUPPORTED)");
	/* Revoked is verified and reported (the claim); policies deny it unless allow_revoked_tcb. */
	tr->passed |= TDX_CHECK_TCB_LEVEL;

	/* 13. debug TDs */
	if ((v.q.td.td_attributes[0] & TDX_TD_ATTR_DEBUG) != 0 && !o->allow_debug)
		FAIL(KW_ERR_DEBUG_GUEST, "debug TD not allowed");
	tr->passed |= TDX_CHECK_DEBUG;

	if ((claims = build_claims(&v, c)) == NULL)
		FAIL(KW_ERR_NOMEM, "out of memory");
	*ret_claims = claims;   /* transferred */
	r = 0;
out:
	tdx_pck_chain_clear(&v.chain);
	EVP_PKEY_free(ak);
	ERR_clear_error();
	if (r != 0 && reterr_reason != NULL)
		*reterr_reason = why;
	return r;
}

int
tdx_verify(const struct tdx_trust *t, const uint8_t *quote, size_t len, const json_t *collateral,
    const struct tdx_verify_opts *o, json_t **ret_claims, const char **reterr_reason)
{
	struct tdx_collateral *c = NULL;
	const char *why = "invalid arguments";
	int r;

	if (o != NULL && o->trace != NULL)
		memset(o->trace, 0, sizeof(*o->trace));
	if (t == NULL || quote == NULL || collateral == NULL || o == NULL || ret_claims == NULL) {
		r = KW_ERR_INVALID_ARG;
		goto out;
	}
	/* The quote first: evidence that is not even a TDX quote says so before the collateral does. */
	{
		struct tdx_quote q;

		if ((r = tdx_quote_parse(quote, len, &q, &why)) != 0)
			goto out;
	}
	if ((r = tdx_collateral_new(t, collateral, &c, &why)) != 0) {
		if (o->trace != NULL)
			o->trace->passed = TDX_CHECK_QUOTE_FORMAT;
		goto out;
	}
	r = tdx_verify_quote(t, quote, len, c, o, ret_claims, &why);
out:
	tdx_collateral_free(c);
	if (r != 0 && reterr_reason != NULL)
		*reterr_reason = why;
	return r;
}

int
tdx_quote_platform(const struct tdx_trust *t, const uint8_t *quote, size_t len,
    struct tdx_quote_platform *ret, const char **reterr_reason)
{
	struct tdx_quote q;
	struct tdx_pck_chain ch;
	const char *why = "invalid arguments";
	int r = KW_ERR_INVALID_ARG;

	memset(&ch, 0, sizeof(ch));
	if (t == NULL || quote == NULL || ret == NULL)
		goto out;
	if ((r = tdx_quote_parse(quote, len, &q, &why)) != 0 ||
	    (r = tdx_pck_chain_get(t, q.pck_chain, q.pck_chain_len, &ch, &why)) != 0)
		goto out;
	memcpy(ret->fmspc, ch.pck.fmspc, 6);
	memcpy(ret->pce_id, ch.pck.pce_id, 2);
	ret->processor_ca = ch.processor_ca;
	r = 0;
out:
	tdx_pck_chain_clear(&ch);
	ERR_clear_error();
	if (r != 0 && reterr_reason != NULL)
		*reterr_reason = why;
	return r;
}
