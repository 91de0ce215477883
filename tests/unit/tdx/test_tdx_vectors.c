/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TDX verifier against the real Intel vectors in $KW_VECTORS/tdx: every quote
 * listed by an expected.json reaches the independent results recorded there
 * (decoded fields, each signature and binding check, the PCK extension, the
 * TCB statuses, advisories, collateral dates), at a time pinned inside the
 * collateral's window read from expected.json, or with freshness disabled
 * explicitly where the collateral has no common window. Then the negatives
 * that real data allows: the SGX quote, bit flips over every byte of a quote,
 * truncation at every length, another FMSPC's collateral, broken collateral
 * signatures, stale collateral, a debug TD.
 */
#include <dirent.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/x509.h>

#include "kw_json.h"
#include "kw_util.h"
#include "tdx_int.h"
#include "test_tdx.h"

/* A vector: its quote, its collateral, its expected.json. */
struct vec {
	char name[128];
	uint8_t *quote;
	size_t len;          /* as stored */
	size_t proper;       /* without a non-zero tail (go-tdx-guest's test file has one) */
	json_t *exp, *coll;
	int64_t at, window_end;
	int fresh;           /* the collateral has a common window */
};

static void
vec_free(struct vec *v)
{
	free(v->quote);
	json_decref(v->exp);
	json_decref(v->coll);
	memset(v, 0, sizeof(*v));
}

static const char *
jstr(json_t *o, const char *path)
{
	return json_string_value(test_jget(o, path));
}

/* "2025-06-19 10:00:35+00:00" or "2025-06-19T10:16:03Z" → seconds. */
static int64_t
jtime(json_t *v)
{
	char buf[64];
	int64_t t = 0;
	const char *s = json_string_value(v);

	CU_ASSERT_FATAL(s != NULL && strlen(s) < sizeof(buf) && strlen(s) > 10);
	snprintf(buf, sizeof(buf), "%s", s);
	buf[10] = 'T';
	CU_ASSERT_FATAL(kw_time_parse_rfc3339(buf, &t) == 0);
	return t;
}

/* The time to verify at: the latest issue date of any collateral object; fresh when before the earliest expiry. */
static void
vec_window(struct vec *v)
{
	json_t *c = test_jget(v->exp, "verify.collateral");
	int64_t from[4], to[4];

	from[0] = jtime(test_jget(c, "tcb_info.issueDate"));
	to[0] = jtime(test_jget(c, "tcb_info.nextUpdate"));
	from[1] = jtime(test_jget(c, "qe_identity.issueDate"));
	to[1] = jtime(test_jget(c, "qe_identity.nextUpdate"));
	from[2] = jtime(json_array_get(json_object_get(c, "pck_crl_this_next"), 0));
	to[2] = jtime(json_array_get(json_object_get(c, "pck_crl_this_next"), 1));
	from[3] = jtime(json_array_get(json_object_get(c, "root_crl_this_next"), 0));
	to[3] = jtime(json_array_get(json_object_get(c, "root_crl_this_next"), 1));
	v->at = from[0];
	v->window_end = to[0];
	for (size_t i = 1; i < 4; i++) {
		v->at = from[i] > v->at ? from[i] : v->at;
		v->window_end = to[i] < v->window_end ? to[i] : v->window_end;
	}
	v->fresh = v->at < v->window_end;
}

static int
vec_load(struct vec *v, const char *dir)
{
	char p[4096];
	const char *qf, *cf;
	int64_t trailing;

	memset(v, 0, sizeof(*v));
	snprintf(v->name, sizeof(v->name), "%s", dir);
	if ((v->exp = test_json_file(vpath(p, sizeof(p), "%s/expected.json", dir))) == NULL)
		return -1;
	qf = jstr(v->exp, "quote");
	cf = jstr(v->exp, "collateral");
	CHECKF(qf != NULL && cf != NULL, "%s: expected.json names no quote or collateral", dir);
	if (qf == NULL || cf == NULL || test_slurp(vpath(p, sizeof(p), "%s/%s", dir, qf), &v->quote, &v->len) != 0 ||
	    (v->coll = test_json_file(vpath(p, sizeof(p), "%s/%s", dir, cf))) == NULL)
		return -1;
	CHECKF((json_int_t)v->len == json_integer_value(json_object_get(v->exp, "size")), "%s: size", dir);
	trailing = json_integer_value(test_jget(v->exp, "parsed.trailing_bytes"));
	v->proper = v->len;
	for (size_t i = v->len - (size_t)trailing; i < v->len; i++)
		if (v->quote[i] != 0)
			v->proper = v->len - (size_t)trailing;
	vec_window(v);
	return 0;
}

static struct tdx_trust *
trust(void)
{
	struct tdx_trust *t = NULL;

	CU_ASSERT_FATAL(tdx_trust_new(&t) == 0);
	return t;
}

/* ---- decoded fields ---- */

static void
hexs(const uint8_t *in, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", in[i]);
}

static size_t nfields;

static void
field_hex(const char *name, json_t *o, const char *key, const uint8_t *b, size_t n)
{
	char got[1024];
	const char *want = jstr(o, key);

	hexs(b, n, got);
	CHECKF(want != NULL && strcmp(want, got) == 0, "%s: %s: want %s got %s", name, key, want ? want : "-", got);
	nfields++;
}

static void
field_int(const char *name, json_t *o, const char *key, long long got)
{
	json_t *w = test_jget(o, key);

	CHECKF(json_is_integer(w) && json_integer_value(w) == got, "%s: %s: want %lld got %lld", name, key,
	    w ? (long long)json_integer_value(w) : -1LL, got);
	nfields++;
}

static void
field_str(const char *name, json_t *o, const char *key, const char *got)
{
	const char *want = jstr(o, key);

	CHECKF(want != NULL && got != NULL && strcmp(want, got) == 0, "%s: %s: want %s got %s", name, key,
	    want ? want : "-", got ? got : "-");
	nfields++;
}

static void
compare_parsed(const struct vec *v, const struct tdx_quote *q)
{
	json_t *p = json_object_get(v->exp, "parsed");
	json_t *h = json_object_get(p, "header"), *td = json_object_get(p, "td_report");
	json_t *sig = json_object_get(p, "sig"), *qe = test_jget(p, "sig.qe_report");
	static const char *rtmr[4] = { "rtmr0", "rtmr1", "rtmr2", "rtmr3" };
	char buf[32];

	nfields = 0;
	field_int(v->name, h, "version", q->version);
	field_int(v->name, h, "att_key_type", q->att_key_type);
	snprintf(buf, sizeof(buf), "0x%x", q->tee_type);
	field_str(v->name, h, "tee_type", buf);
	field_hex(v->name, h, "qe_vendor_id", q->qe_vendor_id, 16);
	field_hex(v->name, h, "user_data", q->user_data, 20);
	if (q->version == 5) {
		field_int(v->name, p, "body_type", q->body_type);
		field_int(v->name, p, "body_size", q->body_type == 3 ? TDX_TD15_BODY_SIZE : TDX_TD10_BODY_SIZE);
	}
	field_hex(v->name, td, "tee_tcb_svn", q->td.tee_tcb_svn, 16);
	field_hex(v->name, td, "mrseam", q->td.mrseam, 48);
	field_hex(v->name, td, "mrsignerseam", q->td.mrsignerseam, 48);
	field_hex(v->name, td, "seam_attributes", q->td.seam_attributes, 8);
	field_hex(v->name, td, "td_attributes", q->td.td_attributes, 8);
	field_hex(v->name, td, "xfam", q->td.xfam, 8);
	field_hex(v->name, td, "mrtd", q->td.mrtd, 48);
	field_hex(v->name, td, "mrconfigid", q->td.mrconfigid, 48);
	field_hex(v->name, td, "mrowner", q->td.mrowner, 48);
	field_hex(v->name, td, "mrownerconfig", q->td.mrownerconfig, 48);
	for (size_t i = 0; i < 4; i++)
		field_hex(v->name, td, rtmr[i], q->td.rtmr[i], 48);
	field_hex(v->name, td, "report_data", q->td.report_data, 64);
	field_int(v->name, p, "signed_len", (long long)q->signed_len);
	field_int(v->name, p, "sig_data_len", (long long)(v->proper - q->padding - q->signed_len - 4));
	field_int(v->name, p, "trailing_bytes", (long long)(v->len - v->proper + q->padding));
	field_hex(v->name, sig, "attest_key", q->attest_key, 64);
	field_hex(v->name, qe, "cpusvn", q->qe.cpusvn, 16);
	snprintf(buf, sizeof(buf), "0x%x", q->qe.miscselect);
	field_str(v->name, qe, "miscselect", buf);
	field_hex(v->name, qe, "attributes", q->qe.attributes, 16);
	field_hex(v->name, qe, "mrenclave", q->qe.mrenclave, 32);
	field_hex(v->name, qe, "mrsigner", q->qe.mrsigner, 32);
	field_int(v->name, qe, "isvprodid", q->qe.isvprodid);
	field_int(v->name, qe, "isvsvn", q->qe.isvsvn);
	field_hex(v->name, qe, "report_data", q->qe.report_data, 64);
	field_hex(v->name, sig, "qe_auth_data", q->qe_auth_data, q->qe_auth_len);
	field_int(v->name, sig, "cert_data_type", TDX_CERT_DATA_PCK_CHAIN);
	field_int(v->name, sig, "cert_data_size", (long long)q->pck_chain_len);
	CHECKF(nfields == (q->version == 5 ? 37u : 35u), "%s: %zu fields compared", v->name, nfields);
}

/* RFC 4514 order (the last RDN first), as Python's cryptography prints it. */
static void
subject_str(const X509 *x, char *out, size_t n)
{
	const X509_NAME *nm = X509_get_subject_name(x);
	size_t off = 0;

	out[0] = '\0';
	for (int i = X509_NAME_entry_count(nm) - 1; i >= 0; i--) {
		const X509_NAME_ENTRY *e = X509_NAME_get_entry(nm, i);
		const ASN1_STRING *s = X509_NAME_ENTRY_get_data(e);
		const char *sn = OBJ_nid2sn(OBJ_obj2nid(X509_NAME_ENTRY_get_object(e)));

		off += (size_t)snprintf(out + off, off < n ? n - off : 0, "%s%s=%.*s", off > 0 ? "," : "", sn,
		    ASN1_STRING_length(s), (const char *)ASN1_STRING_get0_data(s));
	}
}

/* PCK chain subjects and the SGX extension, through the internal API (for every quote, verified or not). */
static void
compare_pck(const struct vec *v, const struct tdx_quote *q)
{
	json_t *subj = test_jget(v->exp, "verify.pck_chain_subjects"), *pck = test_jget(v->exp, "verify.pck");
	X509 *c[3] = { NULL, NULL, NULL };
	struct tdx_pck p;
	char s[512];

	CU_ASSERT_FATAL(tdx_pem_certs(q->pck_chain, q->pck_chain_len, c, 3) == 0);
	for (size_t i = 0; i < 3; i++) {
		subject_str(c[i], s, sizeof(s));
		CHECKF(strcmp(s, json_string_value(json_array_get(subj, i))) == 0, "%s: subject %zu: %s", v->name, i, s);
	}
	CU_ASSERT_FATAL(tdx_pck_from_cert(c[0], &p) == 0);
	nfields = 0;
	field_hex(v->name, pck, "fmspc", p.fmspc, 6);
	field_hex(v->name, pck, "pceid", p.pce_id, 2);
	field_int(v->name, pck, "pcesvn", p.pcesvn);
	field_hex(v->name, pck, "cpusvn", p.cpusvn, 16);
	for (size_t i = 0; i < 16; i++) {
		json_t *w = json_array_get(json_object_get(pck, "sgx_tcb_comp_svn"), i);

		CHECKF(json_is_integer(w) && json_integer_value(w) == p.sgx_svn[i], "%s: sgx comp %zu", v->name, i);
	}
	for (size_t i = 0; i < 3; i++)
		X509_free(c[i]);
}

/* ---- verification results ---- */

/* Each check expected.json reports as passed must be a set bit in the trace. */
static void
compare_checks(const struct vec *v, const struct tdx_trace *tr, int freshness)
{
	json_t *ve = json_object_get(v->exp, "verify"), *c = json_object_get(ve, "collateral");
	static const struct { const char *path; unsigned int bit; } ok[] = {
		{ "quote_sig", TDX_CHECK_QUOTE_SIG },
		{ "qe_report_sig", TDX_CHECK_QE_REPORT_SIG },
		{ "collateral.tcb_info_sig", TDX_CHECK_TCB_INFO_SIG },
		{ "collateral.qe_identity_sig", TDX_CHECK_QE_IDENTITY_SIG },
		{ "collateral.root_crl_sig", TDX_CHECK_ROOT_CRL_SIG },
		{ "collateral.pck_crl_sig", TDX_CHECK_PCK_CRL_SIG },
	};
	static const struct { const char *path; int want; unsigned int bit; } flags[] = {
		{ "qe_report_data_binds_attest_key", 1, TDX_CHECK_QE_REPORT_DATA },
		{ "chain_root_equals_intel_root", 1, TDX_CHECK_PCK_CHAIN },
		{ "collateral.pck_revoked", 0, TDX_CHECK_NOT_REVOKED },
		{ "collateral.pck_intermediate_revoked", 0, TDX_CHECK_NOT_REVOKED },
		{ "collateral.fmspc_match", 1, TDX_CHECK_FMSPC_PCEID },
		{ "collateral.qe_mrsigner_match", 1, TDX_CHECK_QE_IDENTITY },
		{ "collateral.qe_isvprodid_match", 1, TDX_CHECK_QE_IDENTITY },
		{ "collateral.qe_miscselect_match", 1, TDX_CHECK_QE_IDENTITY },
		{ "collateral.qe_attributes_match", 1, TDX_CHECK_QE_IDENTITY },
	};
	json_t *arrs[2] = { json_object_get(ve, "pck_chain_sigs"), json_object_get(c, "tcb_signing_chain") };
	unsigned int abits[2] = { TDX_CHECK_PCK_CHAIN, TDX_CHECK_TCB_SIGNING_CHAIN };

	for (size_t i = 0; i < KW_ARRAY_SIZE(ok); i++) {
		const char *s = jstr(ve, ok[i].path);

		CHECKF(s != NULL && strcmp(s, "OK") == 0 && (tr->passed & ok[i].bit) != 0, "%s: %s (%s) not passed",
		    v->name, ok[i].path, s ? s : "-");
	}
	for (size_t i = 0; i < KW_ARRAY_SIZE(flags); i++) {
		json_t *b = test_jget(ve, flags[i].path);

		CHECKF(json_is_boolean(b) && json_boolean_value(b) == flags[i].want && (tr->passed & flags[i].bit) != 0,
		    "%s: %s", v->name, flags[i].path);
	}
	for (size_t k = 0; k < 2; k++) {
		size_t i;
		json_t *s;

		CHECKF(json_array_size(arrs[k]) >= 2, "%s: chain results", v->name);
		json_array_foreach(arrs[k], i, s)
			CHECKF(strcmp(json_string_value(s), "OK") == 0 && (tr->passed & abits[k]) != 0, "%s: chain sig %zu",
			    v->name, i);
	}
	if (test_jget(c, "tdx_module_identity.mrsigner_match") != NULL)
		CHECKF(json_is_true(test_jget(c, "tdx_module_identity.mrsigner_match")) &&
		    (tr->passed & TDX_CHECK_TDX_MODULE) != 0, "%s: module identity", v->name);
	CHECKF(((tr->passed & TDX_CHECK_FRESHNESS) != 0) == freshness, "%s: freshness bit", v->name);
	CHECKF((tr->passed & (TDX_CHECK_QUOTE_FORMAT | TDX_CHECK_SAME_ROOT)) ==
	    (TDX_CHECK_QUOTE_FORMAT | TDX_CHECK_SAME_ROOT), "%s: format/root", v->name);
}

static void
claim_str(const char *name, json_t *claims, const char *path, const char *want)
{
	const char *got = jstr(claims, path);

	CHECKF(want != NULL && got != NULL && strcmp(got, want) == 0, "%s: claim %s: want %s got %s", name, path,
	    want ? want : "-", got ? got : "-");
}

static void
claim_time(const char *name, json_t *claims, const char *path, json_t *want)
{
	int64_t t = 0;
	const char *got = jstr(claims, path);

	CHECKF(got != NULL && kw_time_parse_rfc3339(got, &t) == 0 && t == jtime(want), "%s: claim %s: %s", name, path,
	    got ? got : "-");
}

static void
compare_claims(const struct vec *v, json_t *claims, int freshness)
{
	json_t *td = test_jget(v->exp, "parsed.td_report"), *c = test_jget(v->exp, "verify.collateral");
	json_t *plat = json_object_get(c, "platform_tcb_level"), *qel = json_object_get(c, "qe_tcb_level");
	json_t *adv = json_object_get(claims, "advisory_ids"), *want_adv = json_array();
	static const char *same[] = { "mrtd", "rtmr0", "rtmr1", "rtmr2", "rtmr3", "mrconfigid", "mrowner",
		"mrownerconfig", "mrseam", "mrsignerseam", "seam_attributes", "td_attributes", "xfam", "tee_tcb_svn",
		"report_data" };
	size_t i;
	json_t *a;
	const char *tda = jstr(td, "td_attributes");

	for (i = 0; i < KW_ARRAY_SIZE(same); i++)
		claim_str(v->name, claims, same[i], jstr(td, same[i]));
	claim_str(v->name, claims, "tee", "tdx");
	claim_str(v->name, claims, "root", "intel");
	claim_str(v->name, claims, "tdx_version", json_integer_value(test_jget(v->exp, "parsed.body_type")) == 3 ? "1.5" : "1.0");
	CHECKF(json_is_boolean(json_object_get(claims, "debug")) &&
	    json_boolean_value(json_object_get(claims, "debug")) == (tda != NULL && tda[1] == '1'), "%s: debug", v->name);
	claim_str(v->name, claims, "fmspc", jstr(v->exp, "verify.pck.fmspc"));
	claim_str(v->name, claims, "platform.pce_id", jstr(v->exp, "verify.pck.pceid"));
	claim_str(v->name, claims, "platform.cpusvn", jstr(v->exp, "verify.pck.cpusvn"));
	CHECKF(json_equal(test_jget(claims, "platform.sgx_tcb_components"), test_jget(v->exp, "verify.pck.sgx_tcb_comp_svn")),
	    "%s: sgx_tcb_components", v->name);
	CHECKF(json_equal(test_jget(claims, "platform.pcesvn"), test_jget(v->exp, "verify.pck.pcesvn")), "%s: pcesvn", v->name);
	claim_str(v->name, claims, "platform.qe.mrsigner", jstr(v->exp, "parsed.sig.qe_report.mrsigner"));
	claim_str(v->name, claims, "platform.qe.mrenclave", jstr(v->exp, "parsed.sig.qe_report.mrenclave"));
	CHECKF(json_equal(test_jget(claims, "platform.qe.isvsvn"), test_jget(v->exp, "parsed.sig.qe_report.isvsvn")),
	    "%s: qe isvsvn", v->name);

	/* TCB: the converged status, the platform level, QE and module levels, advisories */
	claim_str(v->name, claims, "tcb_status", jstr(c, "final_tcb_status"));
	claim_str(v->name, claims, "platform_tcb_status", jstr(plat, "status"));
	claim_time(v->name, claims, "tcb_date", json_object_get(plat, "date"));
	claim_str(v->name, claims, "qe_status", jstr(qel, "status"));
	if (json_object_get(c, "tdx_module_identity") != NULL) {
		claim_str(v->name, claims, "tdx_module_status", jstr(c, "tdx_module_identity.status"));
		claim_str(v->name, claims, "tdx_module_id", jstr(c, "tdx_module_identity.id"));
	} else {
		CHECKF(json_object_get(claims, "tdx_module_id") == NULL, "%s: module id without module", v->name);
		claim_str(v->name, claims, "tdx_module_status", "UpToDate");
	}
	json_array_foreach(json_object_get(plat, "advisories"), i, a)
		json_array_append(want_adv, a);
	json_array_foreach(json_object_get(qel, "advisories"), i, a)
		json_array_append(want_adv, a);
	CHECKF(json_equal(adv, want_adv), "%s: advisory_ids", v->name);
	json_decref(want_adv);

	/* Collateral dates and evaluation number */
	claim_time(v->name, claims, "collateral.tcb_info_issue_date", test_jget(c, "tcb_info.issueDate"));
	claim_time(v->name, claims, "collateral.tcb_info_next_update", test_jget(c, "tcb_info.nextUpdate"));
	claim_time(v->name, claims, "collateral.qe_identity_issue_date", test_jget(c, "qe_identity.issueDate"));
	claim_time(v->name, claims, "collateral.qe_identity_next_update", test_jget(c, "qe_identity.nextUpdate"));
	claim_time(v->name, claims, "collateral.pck_crl_this_update", json_array_get(json_object_get(c, "pck_crl_this_next"), 0));
	claim_time(v->name, claims, "collateral.pck_crl_next_update", json_array_get(json_object_get(c, "pck_crl_this_next"), 1));
	claim_time(v->name, claims, "collateral.root_ca_crl_this_update", json_array_get(json_object_get(c, "root_crl_this_next"), 0));
	claim_time(v->name, claims, "collateral.root_ca_crl_next_update", json_array_get(json_object_get(c, "root_crl_this_next"), 1));
	CHECKF(json_equal(test_jget(claims, "collateral.tcb_evaluation_data_number"), test_jget(c, "tcb_info.tcbEvaluationDataNumber")),
	    "%s: tcb evaluation data number", v->name);
	CHECKF(json_is_boolean(test_jget(claims, "collateral.freshness_checked")) &&
	    json_boolean_value(test_jget(claims, "collateral.freshness_checked")) == freshness, "%s: freshness claim", v->name);
}

static int n_tdx, n_sgx, n_verified, n_rejected, n_stale;

static void
run_vector(struct vec *v)
{
	struct tdx_trust *t = trust();
	struct tdx_quote q;
	struct tdx_trace tr;
	struct tdx_verify_opts o = { .at = v->at, .allow_debug = 1, .trace = &tr };
	json_t *claims = NULL;
	const char *why = NULL, *final = jstr(v->exp, "verify.collateral.final_tcb_status");
	const char *tda = jstr(v->exp, "parsed.td_report.td_attributes");
	int r, debug = tda != NULL && tda[1] == '1';

	/* A file with a non-zero tail is refused as it is, and checked without the tail. */
	if (v->proper != v->len) {
		r = tdx_quote_parse(v->quote, v->len, &q, &why);
		CHECKF(r == KW_ERR_TRAILING, "%s: non-zero tail gave %s", v->name, kw_strerror(r));
		r = tdx_verify(t, v->quote, v->len, v->coll, &o, &claims, &why);
		CHECKF(r == KW_ERR_TRAILING && claims == NULL, "%s: verify with tail gave %s", v->name, kw_strerror(r));
	}
	r = tdx_quote_parse(v->quote, v->proper, &q, &why);
	CHECKF(r == 0, "%s: parse: %s (%s)", v->name, kw_strerror(r), why);
	if (r != 0)
		goto out;
	compare_parsed(v, &q);
	compare_pck(v, &q);

	/* Where the collateral has no common window, freshness is off, said so, and it would fail. */
	o.skip_freshness = !v->fresh;
	if (!v->fresh) {
		struct tdx_verify_opts strict = o;

		strict.skip_freshness = 0;
		r = tdx_verify(t, v->quote, v->proper, v->coll, &strict, &claims, &why);
		CHECKF(r == KW_ERR_CERT_EXPIRED && claims == NULL, "%s: no window, freshness on gave %s", v->name,
		    kw_strerror(r));
		n_stale++;
	}
	r = tdx_verify(t, v->quote, v->proper, v->coll, &o, &claims, &why);
	compare_checks(v, &tr, v->fresh);
	CHECKF(final != NULL && strcmp(tdx_tcb_status_name(tr.final), final) == 0, "%s: final status %s, want %s",
	    v->name, tdx_tcb_status_name(tr.final), final ? final : "-");
	CHECKF(tr.qe != TDX_TCB_UNKNOWN && strcmp(tdx_tcb_status_name(tr.qe),
	    jstr(v->exp, "verify.collateral.qe_tcb_level.status")) == 0, "%s: QE status", v->name);
	if (final != NULL && strcmp(final, "TCB_NOT_SUPPORTED") == 0) {
		CHECKF(r == KW_ERR_DENIED && claims == NULL && why != NULL && strstr(why, "TCB_NOT_SUPPORTED") != NULL,
		    "%s: no level must be rejected, got %s (%s)", v->name, kw_strerror(r), why ? why : "-");
		CHECKF(json_is_null(test_jget(v->exp, "verify.collateral.platform_tcb_level")), "%s: expected level", v->name);
		CHECKF((tr.passed & TDX_CHECK_TCB_LEVEL) == 0, "%s: level bit", v->name);
		n_rejected++;
		goto out;
	}
	CHECKF(r == 0, "%s: verify: %s (%s)", v->name, kw_strerror(r), why ? why : "-");
	if (r != 0)
		goto out;
	n_verified++;
	CHECKF(strcmp(tdx_tcb_status_name(tr.platform), jstr(v->exp, "verify.collateral.platform_tcb_level.status")) == 0,
	    "%s: platform status", v->name);
	CHECKF((tr.passed & (TDX_CHECK_TCB_LEVEL | TDX_CHECK_DEBUG)) == (TDX_CHECK_TCB_LEVEL | TDX_CHECK_DEBUG),
	    "%s: level/debug bits", v->name);
	compare_claims(v, claims, v->fresh);
	json_decref(claims);
	claims = NULL;

	/* Without allow_debug only a debug TD is rejected. */
	o.allow_debug = 0;
	r = tdx_verify(t, v->quote, v->proper, v->coll, &o, &claims, &why);
	CHECKF(r == (debug ? KW_ERR_DEBUG_GUEST : 0), "%s: allow_debug=0 gave %s", v->name, kw_strerror(r));
	if (debug)
		CHECKF(claims == NULL && strcmp(why, "debug TD not allowed") == 0, "%s: debug reason", v->name);
	json_decref(claims);
	claims = NULL;
	o.allow_debug = 1;

	/* The window's edges: its last second verifies, its end and the second before it start do not. */
	if (v->fresh) {
		o.at = v->window_end - 1;
		r = tdx_verify(t, v->quote, v->proper, v->coll, &o, &claims, &why);
		CHECKF(r == 0, "%s: last second of the window gave %s", v->name, kw_strerror(r));
		json_decref(claims);
		claims = NULL;
		o.at = v->window_end;
		r = tdx_verify(t, v->quote, v->proper, v->coll, &o, &claims, &why);
		CHECKF(r == KW_ERR_CERT_EXPIRED && strstr(why, "not valid at the verification time") != NULL,
		    "%s: at nextUpdate gave %s (%s)", v->name, kw_strerror(r), why);
		o.at = v->at - 1;
		r = tdx_verify(t, v->quote, v->proper, v->coll, &o, &claims, &why);
		CHECKF(r == KW_ERR_CERT_EXPIRED, "%s: before issue gave %s", v->name, kw_strerror(r));
		CU_ASSERT(claims == NULL);
	}
out:
	json_decref(claims);
	tdx_trust_free(t);
}

static void
run_sgx(struct vec *v)
{
	struct tdx_trust *t = trust();
	struct tdx_quote q;
	struct tdx_verify_opts o = { .at = v->at, .allow_debug = 1 };
	json_t *claims = NULL;
	const char *why = NULL;
	int r;

	CHECKF(strcmp(jstr(v->exp, "parsed.header.tee_type"), "0x0") == 0, "%s: not SGX", v->name);
	r = tdx_quote_parse(v->quote, v->len, &q, &why);
	CHECKF(r == KW_ERR_UNSUPPORTED && why != NULL && strstr(why, "SGX quote") != NULL, "%s: parse gave %s (%s)",
	    v->name, kw_strerror(r), why ? why : "-");
	why = NULL;
	r = tdx_verify(t, v->quote, v->len, v->coll, &o, &claims, &why);
	CHECKF(r == KW_ERR_UNSUPPORTED && claims == NULL && why != NULL && strstr(why, "not TDX evidence") != NULL,
	    "%s: verify gave %s", v->name, kw_strerror(r));
	tdx_trust_free(t);
}

static void
test_expected_json(void)
{
	char p[4096];
	DIR *d = opendir(vpath(p, sizeof(p), "%s", ""));
	struct dirent *de;

	CU_ASSERT_FATAL(d != NULL);
	n_tdx = n_sgx = n_verified = n_rejected = n_stale = 0;
	while ((de = readdir(d)) != NULL) {
		struct vec v;

		if (de->d_name[0] == '.' || access(vpath(p, sizeof(p), "%s/expected.json", de->d_name), R_OK) != 0)
			continue;
		if (vec_load(&v, de->d_name) == 0) {
			if (strcmp(jstr(v.exp, "parsed.header.tee_type"), "0x81") == 0) {
				run_vector(&v);
				n_tdx++;
			} else {
				run_sgx(&v);
				n_sgx++;
			}
		}
		vec_free(&v);
	}
	closedir(d);
	fprintf(stderr, "\n  tdx vectors: %d TDX (%d verified, %d no TCB level, %d without a common window), %d SGX\n",
	    n_tdx, n_verified, n_rejected, n_stale, n_sgx);
	CHECKF(n_tdx == 8 && n_sgx == 1, "expected 8 TDX and 1 SGX vectors, found %d and %d", n_tdx, n_sgx);
	CHECKF(n_verified == 5 && n_rejected == 3 && n_stale == 2, "verified %d rejected %d stale %d", n_verified,
	    n_rejected, n_stale);
}

/* ---- negatives on real data ---- */

static struct tdx_collateral *
load_collateral(const struct tdx_trust *t, json_t *j)
{
	struct tdx_collateral *c = NULL;
	const char *why = NULL;
	int r = tdx_collateral_new(t, j, &c, &why);

	CHECKF(r == 0, "collateral: %s (%s)", kw_strerror(r), why ? why : "-");
	return c;
}

/* A vector with its collateral loaded once, for the sweeps. */
struct fix {
	struct vec v;
	struct tdx_trust *t;
	struct tdx_collateral *c;
	uint8_t *buf;          /* scratch copy of the quote */
};

static int
fix_open(struct fix *f, const char *dir)
{
	memset(f, 0, sizeof(*f));
	f->t = trust();
	if (vec_load(&f->v, dir) != 0 || (f->c = load_collateral(f->t, f->v.coll)) == NULL ||
	    (f->buf = malloc(f->v.len)) == NULL)
		return -1;
	return 0;
}

static void
fix_close(struct fix *f)
{
	free(f->buf);
	tdx_collateral_free(f->c);
	tdx_trust_free(f->t);
	vec_free(&f->v);
}

/* Verify the quote with bit b of byte i flipped; the verdict must carry no claims. */
static int
fix_flip(struct fix *f, size_t i, unsigned int b, const char **why)
{
	struct tdx_verify_opts o = { .at = f->v.at, .allow_debug = 1 };
	json_t *claims = NULL;
	int r;

	memcpy(f->buf, f->v.quote, f->v.len);
	f->buf[i] ^= (uint8_t)(1u << b);
	r = tdx_verify_quote(f->t, f->buf, f->v.len, f->c, &o, &claims, why);
	CHECKF(r != 0 && claims == NULL && *why != NULL, "flip at %zu.%u accepted", i, b);
	json_decref(claims);
	return r;
}

/* The region of a v4 quote (offsets from Intel's layout) a byte belongs to, and the code a flip there gives. */
static int
flip_expect(size_t i, size_t chain_len)
{
	const size_t cd = 636 + 134, auth = cd + 384 + 64, pem = auth + 2 + 32 + 6;

	if (i < 8 || (i >= 12 && i < 28))
		return KW_ERR_UNSUPPORTED;   /* version, key type, TEE type, QE vendor */
	if (i < 632)
		return KW_ERR_SIG_INVALID;   /* reserved, user data, the TD report: the quote signature */
	if (i < 636)
		return 0;                    /* signature data length: some error */
	if (i < 700)
		return KW_ERR_SIG_INVALID;   /* r ‖ s */
	if (i < 764)
		return KW_ERR_MISMATCH;      /* attestation key: no longer the one the QE report binds */
	if (i < cd)
		return 0;                    /* certification data type and size */
	if (i < cd + 384 + 64)
		return KW_ERR_SIG_INVALID;   /* QE report and its signature */
	if (i < auth + 2)
		return 0;                    /* auth data size */
	if (i < auth + 2 + 32)
		return KW_ERR_MISMATCH;      /* QE auth data */
	if (i < pem)
		return 0;                    /* nested type and size */
	if (i < pem + chain_len)
		return 0;                    /* the PEM chain: format, chain or root errors */
	return KW_ERR_TRAILING;          /* padding */
}

static void
test_bitflip_every_byte(void)
{
	struct fix f;
	size_t counts[4] = { 0, 0, 0, 0 };

	if (fix_open(&f, "dcapqvl-b0c06f-v4-uptodate") != 0)
		goto out;
	for (size_t i = 0; i < f.v.len; i++) {
		const char *why = NULL;
		int want = flip_expect(i, 3678), r = fix_flip(&f, i, (unsigned int)(i % 8), &why);

		if (want != 0)
			CHECKF(r == want, "flip at %zu gave %s (%s), want %s", i, kw_strerror(r), why ? why : "-",
			    kw_strerror(want));
		counts[0] += r == KW_ERR_SIG_INVALID;
		counts[1] += r == KW_ERR_INVALID_FORMAT;
		counts[2] += r == KW_ERR_CERT_INVALID || r == KW_ERR_UNTRUSTED_ROOT;
		counts[3] += r == KW_ERR_TRAILING;
	}
	fprintf(stderr, "\n  flips: %zu signature, %zu format, %zu chain, %zu padding\n", counts[0], counts[1], counts[2],
	    counts[3]);
	CHECKF(counts[0] > 1000 && counts[1] > 500 && counts[2] > 1000 && counts[3] == 70, "flip outcome counts");
	/* The unflipped quote still verifies against the same loaded collateral. */
	{
		struct tdx_verify_opts o = { .at = f.v.at };
		json_t *claims = NULL;

		CU_ASSERT(tdx_verify_quote(f.t, f.v.quote, f.v.len, f.c, &o, &claims, NULL) == 0);
		json_decref(claims);
	}
out:
	fix_close(&f);
}

/* Every bit of every byte of the header and of the first QE report bytes. */
static void
test_bitflip_all_bits_header(void)
{
	struct fix f;

	if (fix_open(&f, "dcapqvl-near-20a06f-v4-uptodate") != 0)
		goto out;
	for (unsigned int b = 0; b < 8; b++) {
		for (size_t i = 0; i < 48 + 16; i++) {
			const char *why = NULL;
			int r = fix_flip(&f, i, b, &why);

			CHECKF(r == flip_expect(i, 0), "header flip %zu.%u gave %s", i, b, kw_strerror(r));
		}
		for (size_t i = 770; i < 770 + 64; i++) {
			const char *why = NULL;
			int r = fix_flip(&f, i, b, &why);

			CHECKF(r == KW_ERR_SIG_INVALID && strcmp(why, "QE report signature invalid") == 0,
			    "QE report flip %zu.%u gave %s", i, b, kw_strerror(r));
		}
	}
out:
	fix_close(&f);
}

static void
truncation_sweep(const char *dir)
{
	struct fix f;
	struct tdx_quote q, sentinel;
	size_t proper;

	if (fix_open(&f, dir) != 0)
		goto out;
	CU_ASSERT_FATAL(tdx_quote_parse(f.v.quote, f.v.len, &q, NULL) == 0);
	proper = f.v.len - q.padding;
	memset(&sentinel, 0xa5, sizeof(sentinel));
	for (size_t n = 0; n <= f.v.len; n++) {
		struct tdx_verify_opts o = { .at = f.v.at, .allow_debug = 1, .skip_freshness = !f.v.fresh };
		json_t *claims = (json_t *)&sentinel;   /* must stay untouched on failure */
		uint8_t *buf = malloc(n > 0 ? n : 1);   /* exactly n bytes, so ASan sees any over-read */
		const char *why = NULL;
		int r;

		memcpy(buf, f.v.quote, n);
		q = sentinel;
		r = tdx_quote_parse(buf, n, &q, &why);
		if (n < proper) {
			CHECKF(r == KW_ERR_TRUNCATED && memcmp(&q, &sentinel, sizeof(q)) == 0, "%s: prefix %zu parsed: %s",
			    dir, n, kw_strerror(r));
			r = tdx_verify_quote(f.t, buf, n, f.c, &o, &claims, &why);
			CHECKF(r == KW_ERR_TRUNCATED && claims == (json_t *)&sentinel && why != NULL,
			    "%s: prefix %zu verify gave %s", dir, n, kw_strerror(r));
		} else {
			/* Cutting only padding leaves the whole quote. */
			CHECKF(r == 0 && q.padding == n - proper, "%s: prefix %zu (padding) gave %s", dir, n, kw_strerror(r));
			r = tdx_verify_quote(f.t, buf, n, f.c, &o, &claims, &why);
			CHECKF(r == 0, "%s: prefix %zu verify gave %s (%s)", dir, n, kw_strerror(r), why ? why : "-");
			if (r == 0)
				json_decref(claims);
		}
		free(buf);
	}
out:
	fix_close(&f);
}

static void
test_truncation_v4(void)
{
	truncation_sweep("dcapqvl-b0c06f-v4-uptodate");
}

static void
test_truncation_v5(void)
{
	truncation_sweep("gotdx-v5-90c06f");
}

static void
test_other_fmspc(void)
{
	struct tdx_trust *t = trust();
	struct vec a, b;
	struct tdx_verify_opts o = { .allow_debug = 1 };
	json_t *claims = NULL;
	const char *why = NULL;
	int r;

	/* The b0c06f quote against the near (20a06f) collateral, inside that collateral's window. */
	if (vec_load(&a, "dcapqvl-b0c06f-v4-uptodate") == 0 && vec_load(&b, "dcapqvl-near-20a06f-v4-uptodate") == 0) {
		o.at = b.at;
		r = tdx_verify(t, a.quote, a.len, b.coll, &o, &claims, &why);
		CHECKF(r == KW_ERR_MISMATCH && strstr(why, "FMSPC") != NULL && claims == NULL,
		    "other FMSPC gave %s (%s)", kw_strerror(r), why ? why : "-");
		/* And the SGX vector's collateral (TCB Info id SGX, QE identity QE) for a TDX quote. */
		vec_free(&b);
		if (vec_load(&b, "dcapqvl-sgx-v3") == 0) {
			r = tdx_verify(t, a.quote, a.len, b.coll, &o, &claims, &why);
			CHECKF(r == KW_ERR_UNSUPPORTED && strcmp(why, "TCB Info is for SGX, not TDX") == 0,
			    "SGX collateral gave %s (%s)", kw_strerror(r), why ? why : "-");
		}
	}
	vec_free(&a);
	vec_free(&b);
	tdx_trust_free(t);
}

/* Replace the first occurrence of from by to in member key of a copy of coll. */
static json_t *
edit_member(json_t *coll, const char *key, const char *from, const char *to)
{
	json_t *c = json_deep_copy(coll);
	const char *s = json_string_value(json_object_get(c, key)), *at = strstr(s, from);
	size_t n = strlen(s) + strlen(to) + 1, pre;
	char *out = malloc(n);

	CU_ASSERT_FATAL(at != NULL && out != NULL);
	pre = (size_t)(at - s);
	snprintf(out, n, "%.*s%s%s", (int)pre, s, to, at + strlen(from));
	CU_ASSERT_FATAL(json_object_set_new(c, key, json_string(out)) == 0);
	free(out);
	return c;
}

/* Flip one hex digit at position pos (negative: from the end) of member key. */
static json_t *
flip_hex(json_t *coll, const char *key, long pos)
{
	json_t *c = json_deep_copy(coll);
	char *s = strdup(json_string_value(json_object_get(c, key)));
	size_t len = strlen(s), i = pos >= 0 ? (size_t)pos : len - (size_t)(-pos);

	s[i] = s[i] == '0' ? '1' : '0';
	CU_ASSERT_FATAL(json_object_set_new(c, key, json_string(s)) == 0);
	free(s);
	return c;
}

static void
expect_collateral(struct vec *v, json_t *coll, int want, const char *reason, const char *label)
{
	struct tdx_trust *t = trust();
	struct tdx_verify_opts o = { .at = v->at, .allow_debug = 1 };
	json_t *claims = NULL;
	const char *why = NULL;
	int r = tdx_verify(t, v->quote, v->len, coll, &o, &claims, &why);

	if (want == 0)
		CHECKF(r == 0 && claims != NULL, "%s: got %s (%s)", label, kw_strerror(r), why ? why : "-");
	else
		CHECKF(r == want && claims == NULL && why != NULL && strstr(why, reason) != NULL, "%s: got %s (%s)",
		    label, kw_strerror(r), why ? why : "-");
	json_decref(claims);
	json_decref(coll);
	tdx_trust_free(t);
}

static void
test_broken_collateral(void)
{
	struct vec v;

	if (vec_load(&v, "dcapqvl-b0c06f-v4-uptodate") != 0)
		goto out;
	/* The signed texts: one character changed, still well-formed JSON. */
	expect_collateral(&v, edit_member(v.coll, "tcb_info", "\"tcbEvaluationDataNumber\":17",
	    "\"tcbEvaluationDataNumber\":18"), KW_ERR_SIG_INVALID, "TCB Info signature invalid", "tcb_info edit");
	expect_collateral(&v, edit_member(v.coll, "tcb_info", "\"tcbStatus\":\"OutOfDate\"",
	    "\"tcbStatus\":\"UpToDate\""), KW_ERR_SIG_INVALID, "TCB Info signature invalid", "status edit");
	expect_collateral(&v, edit_member(v.coll, "qe_identity", "\"isvprodid\":2", "\"isvprodid\":3"),
	    KW_ERR_SIG_INVALID, "QE identity signature invalid", "qe_identity edit");
	/* Whitespace changes nothing for a JSON parser but everything for the signature: never re-serialized. */
	expect_collateral(&v, edit_member(v.coll, "tcb_info", "\"version\":3", "\"version\": 3"), KW_ERR_SIG_INVALID,
	    "TCB Info signature invalid", "tcb_info whitespace");
	expect_collateral(&v, edit_member(v.coll, "tcb_info", "{\"id\"", " \"id\""), KW_ERR_INVALID_FORMAT,
	    "TCB Info", "tcb_info brace");
	expect_collateral(&v, flip_hex(v.coll, "tcb_info_signature", 5), KW_ERR_SIG_INVALID,
	    "TCB Info signature invalid", "tcb_info_signature");
	expect_collateral(&v, flip_hex(v.coll, "qe_identity_signature", -3), KW_ERR_SIG_INVALID,
	    "QE identity signature invalid", "qe_identity_signature");
	/* The last bytes of a CRL are its signature's S. */
	expect_collateral(&v, flip_hex(v.coll, "pck_crl", -1), KW_ERR_SIG_INVALID, "PCK CRL signature invalid",
	    "pck_crl");
	expect_collateral(&v, flip_hex(v.coll, "root_ca_crl", -1), KW_ERR_SIG_INVALID, "Root CA CRL signature invalid",
	    "root_ca_crl");
	expect_collateral(&v, flip_hex(v.coll, "pck_crl", 2), KW_ERR_INVALID_FORMAT, "pck_crl", "pck_crl DER");
	/* Issuer chains: a changed certificate fails its signature or the strict PEM. */
	expect_collateral(&v, edit_member(v.coll, "tcb_info_issuer_chain", "MIIC", "MIID"), KW_ERR_INVALID_FORMAT,
	    "tcb_info_issuer_chain", "tcb chain");
	{
		json_t *c = json_deep_copy(v.coll);

		/* The PCK CRL issuer chain given as the TCB signing chain: wrong role. */
		json_object_set(c, "tcb_info_issuer_chain", json_object_get(v.coll, "pck_crl_issuer_chain"));
		expect_collateral(&v, c, KW_ERR_CERT_INVALID, "TCB Signing", "swapped chains");
	}
	{
		json_t *c = json_deep_copy(v.coll);

		json_object_set_new(c, "extra", json_string("x"));
		expect_collateral(&v, c, KW_ERR_INVALID_FORMAT, "unknown member", "unknown member");
		c = json_deep_copy(v.coll);
		json_object_del(c, "pck_crl");
		expect_collateral(&v, c, KW_ERR_INVALID_FORMAT, "pck_crl", "missing member");
		c = json_deep_copy(v.coll);
		json_object_set_new(c, "pck_certificate_chain", json_string("ignored"));
		expect_collateral(&v, c, 0, NULL, "optional member");
	}
out:
	vec_free(&v);
}

static void
test_wrong_root_pin(void)
{
	struct tdx_trust *t = trust();
	struct vec v;
	char p[4096];
	uint8_t *pem = NULL;
	size_t len = 0;

	/* The Intel root given as a "test root" is accepted and stays Intel's. */
	if (test_slurp(vpath(p, sizeof(p), "certs/intel_sgx_root_ca.pem"), &pem, &len) == 0) {
		CU_ASSERT(tdx_trust_add_test_root_pem(t, pem, len) == 0);
		CU_ASSERT(t->nroots == 0);
	}
	if (vec_load(&v, "dcapqvl-near-20a06f-v4-uptodate") == 0) {
		struct tdx_verify_opts o = { .at = v.at };
		json_t *claims = NULL;
		X509 *c[3] = { NULL, NULL, NULL };
		struct tdx_quote q;
		struct tdx_chain ch;
		const char *why = NULL;

		CU_ASSERT(tdx_verify(t, v.quote, v.len, v.coll, &o, &claims, &why) == 0);
		CU_ASSERT(claims != NULL && strcmp(jstr(claims, "root"), "intel") == 0);
		json_decref(claims);
		/* A chain whose root is not the pinned one (the intermediate twice) is untrusted. */
		CU_ASSERT_FATAL(tdx_quote_parse(v.quote, v.len, &q, NULL) == 0);
		CU_ASSERT_FATAL(tdx_pem_certs(q.pck_chain, q.pck_chain_len, c, 3) == 0);
		X509_free(c[2]);
		c[2] = X509_dup(c[1]);
		memset(&ch, 0, sizeof(ch));
		CU_ASSERT(tdx_chain_verify(t, TDX_CHAIN_PCK, c, 3, &ch, &why) == KW_ERR_UNTRUSTED_ROOT);
		for (size_t i = 0; i < 3; i++)
			X509_free(c[i]);
	}
	vec_free(&v);
	free(pem);
	tdx_trust_free(t);
}

static void
test_bad_args(void)
{
	struct tdx_trust *t = trust();
	struct tdx_quote q;
	struct vec v;
	const char *why = NULL;
	json_t *claims = NULL;

	CU_ASSERT(tdx_quote_parse(NULL, 0, &q, &why) == KW_ERR_TRUNCATED);
	CU_ASSERT(tdx_quote_parse((const uint8_t *)"x", 1, NULL, &why) == KW_ERR_INVALID_ARG);
	if (vec_load(&v, "dcapqvl-b0c06f-v4-uptodate") == 0) {
		struct tdx_verify_opts o = { .at = v.at };
		uint8_t *big = calloc(1, TDX_MAX_QUOTE + 1);

		CU_ASSERT(tdx_verify(NULL, v.quote, v.len, v.coll, &o, &claims, &why) == KW_ERR_INVALID_ARG);
		CU_ASSERT(tdx_verify(t, NULL, v.len, v.coll, &o, &claims, &why) == KW_ERR_INVALID_ARG);
		CU_ASSERT(tdx_verify(t, v.quote, v.len, NULL, &o, &claims, &why) == KW_ERR_INVALID_ARG);
		CU_ASSERT(tdx_verify(t, v.quote, v.len, v.coll, NULL, &claims, &why) == KW_ERR_INVALID_ARG);
		CU_ASSERT(tdx_verify(t, v.quote, v.len, v.coll, &o, NULL, &why) == KW_ERR_INVALID_ARG);
		o.at = 0;
		CU_ASSERT(tdx_verify(t, v.quote, v.len, v.coll, &o, &claims, NULL) == KW_ERR_INVALID_ARG);
		memcpy(big, v.quote, v.len);
		CU_ASSERT(tdx_quote_parse(big, TDX_MAX_QUOTE + 1, &q, &why) == KW_ERR_TOO_LARGE);
		CU_ASSERT_FATAL(tdx_quote_parse(v.quote, v.len, &q, &why) == 0 && q.padding == 70);
		CU_ASSERT(tdx_quote_parse(big, TDX_MAX_QUOTE, &q, &why) == 0 && q.padding == TDX_MAX_QUOTE - (v.len - 70));
		free(big);
		CU_ASSERT(claims == NULL);
	}
	vec_free(&v);
	tdx_trust_free(t);
	tdx_trust_free(NULL);
	tdx_collateral_free(NULL);
}

/* A quote's report data check when the caller supplies the expected value. */
static void
test_report_data(void)
{
	struct tdx_trust *t = trust();
	struct vec v;

	if (vec_load(&v, "dcapqvl-b0c06f-v4-uptodate") == 0) {
		struct tdx_quote q;
		uint8_t rd[64];
		struct tdx_trace tr;
		struct tdx_verify_opts o = { .at = v.at, .report_data = rd, .trace = &tr };
		json_t *claims = NULL;
		const char *why = NULL;

		CU_ASSERT_FATAL(tdx_quote_parse(v.quote, v.len, &q, NULL) == 0);
		memcpy(rd, q.td.report_data, 64);
		CU_ASSERT(tdx_verify(t, v.quote, v.len, v.coll, &o, &claims, &why) == 0);
		CU_ASSERT((tr.passed & TDX_CHECK_REPORT_DATA) != 0);
		json_decref(claims);
		claims = NULL;
		rd[63] ^= 1;
		CU_ASSERT(tdx_verify(t, v.quote, v.len, v.coll, &o, &claims, &why) == KW_ERR_MISMATCH);
		CU_ASSERT(claims == NULL && strcmp(why, "REPORT_DATA does not match the expected value") == 0);
	}
	vec_free(&v);
	tdx_trust_free(t);
}

int
test_tdx_vectors_register(void)
{
	CU_pSuite s = CU_add_suite("tdx_vectors", NULL, NULL);

	if (s == NULL)
		return -1;
	return TEST_ADD(s, test_expected_json) | TEST_ADD(s, test_bitflip_every_byte) |
	    TEST_ADD(s, test_bitflip_all_bits_header) | TEST_ADD(s, test_truncation_v4) |
	    TEST_ADD(s, test_truncation_v5) | TEST_ADD(s, test_other_fmspc) | TEST_ADD(s, test_broken_collateral) |
	    TEST_ADD(s, test_wrong_root_pin) | TEST_ADD(s, test_bad_args) | TEST_ADD(s, test_report_data);
}
