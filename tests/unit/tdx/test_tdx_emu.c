/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TDX verifier against emulated evidence (attester/att_tdx_emu.c: a test root, "NOT
 * INTEL" chains, locally signed collateral): what real vectors cannot show —
 * revoked PCK leaf and CA, a debug TD, roots that differ, each collateral
 * object stale on its own, every branch of Intel's TCB level selection and
 * status convergence (QE identity, TDX module, TD relaunch), advisories,
 * concurrent use of one trust and one collateral with the chain cache.
 */
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include "kw_json.h"
#include "kw_util.h"
#include "att_tdx_emu.h"
#include "tdx_int.h"
#include "test_tdx.h"

#define NOW 1767225600LL   /* 2026-01-01T00:00:00Z */

struct env {
	struct att_tdx_emu *emu;
	struct tdx_trust *trust;
	struct att_tdx_emu_opts o;
};

static int
env_open(struct env *e, int intel_names)
{
	char *pem = NULL;
	int r;

	memset(e, 0, sizeof(*e));
	att_tdx_emu_opts_default(&e->o, NOW);
	CU_ASSERT_FATAL(tdx_trust_new(&e->trust) == 0);
	r = att_tdx_emu_new(&e->o, intel_names, &e->emu);
	CHECKF(r == 0, "emulator: %s", kw_strerror(r));
	if (r != 0)
		return -1;
	if (!intel_names) {
		CU_ASSERT_FATAL(att_tdx_emu_root_pem(e->emu, &pem) == 0);
		r = tdx_trust_add_test_root_pem(e->trust, pem, strlen(pem));
		CHECKF(r == 0, "test root: %s", kw_strerror(r));
		free(pem);
	}
	return 0;
}

static void
env_close(struct env *e)
{
	att_tdx_emu_free(e->emu);
	tdx_trust_free(e->trust);
}

/* Quote and collateral of o from e's emulator, verified by trust t at `at`. */
static int
run(struct env *e, const struct att_tdx_emu_opts *o, const struct tdx_trust *t, int64_t at, int allow_debug,
    struct tdx_trace *tr, json_t **claims, const char **why)
{
	uint8_t *q = NULL;
	size_t qlen = 0;
	char *coll = NULL;
	json_t *cj = NULL;
	struct tdx_verify_opts vo = { .at = at, .allow_debug = allow_debug, .trace = tr };
	int r = -1;

	if (att_tdx_emu_quote(e->emu, o, &q, &qlen) != 0 || att_tdx_emu_collateral(e->emu, o, &coll) != 0 ||
	    (cj = test_json_text(coll)) == NULL) {
		CU_FAIL("emulation failed");
		goto out;
	}
	r = tdx_verify(t != NULL ? t : e->trust, q, qlen, cj, &vo, claims, why);
out:
	json_decref(cj);
	free(coll);
	free(q);
	return r;
}

/* Verify o; want r; when verified want this tcb_status. */
static void
expect(struct env *e, const struct att_tdx_emu_opts *o, int want, const char *status, const char *label)
{
	struct tdx_trace tr;
	json_t *claims = NULL;
	const char *why = NULL;
	int r = run(e, o, NULL, NOW, 1, &tr, &claims, &why);

	CHECKF(r == want, "%s: got %s (%s), want %s", label, kw_strerror(r), r != 0 && why ? why : "-",
	    kw_strerror(want));
	if (r == 0 && status != NULL)
		CHECKF(strcmp(json_string_value(json_object_get(claims, "tcb_status")), status) == 0,
		    "%s: tcb_status %s, want %s", label, json_string_value(json_object_get(claims, "tcb_status")), status);
	if (r != 0 && status != NULL)
		CHECKF(strcmp(tdx_tcb_status_name(tr.final), status) == 0, "%s: final %s, want %s", label,
		    tdx_tcb_status_name(tr.final), status);
	json_decref(claims);
}

static void
test_emu_basic(void)
{
	struct env e;
	struct tdx_trust *bare = NULL;
	struct tdx_trace tr;
	json_t *claims = NULL;
	const char *why = NULL;
	char mrtd[97];
	int r;

	if (env_open(&e, 0) != 0)
		goto out;
	r = run(&e, &e.o, NULL, NOW, 0, &tr, &claims, &why);
	CHECKF(r == 0, "emulated quote: %s (%s)", kw_strerror(r), r ? why : "-");
	if (r == 0) {
		for (size_t i = 0; i < 48; i++)
			snprintf(mrtd + 2 * i, 3, "%02x", e.o.mrtd[i]);
		CU_ASSERT(strcmp(json_string_value(json_object_get(claims, "root")), "test") == 0);
		CU_ASSERT(strcmp(json_string_value(json_object_get(claims, "mrtd")), mrtd) == 0);
		CU_ASSERT(strcmp(json_string_value(json_object_get(claims, "tcb_status")), "UpToDate") == 0);
		CU_ASSERT(strcmp(json_string_value(json_object_get(claims, "tdx_module_id")), "TDX_01") == 0);
		CU_ASSERT(strcmp(json_string_value(json_object_get(claims, "fmspc")), "00906ed50000") == 0);
		CU_ASSERT(json_is_false(json_object_get(claims, "debug")));
		CU_ASSERT(json_is_true(json_object_get(claims, "sept_ve_disable")));
		CU_ASSERT(json_array_size(json_object_get(claims, "advisory_ids")) == 0);
		CU_ASSERT(tr.passed == (0x7ffffu & ~(unsigned int)TDX_CHECK_REPORT_DATA));
	}
	json_decref(claims);
	claims = NULL;
	/* The same evidence against a trust that was not given the test root. */
	CU_ASSERT_FATAL(tdx_trust_new(&bare) == 0);
	r = run(&e, &e.o, bare, NOW, 0, &tr, &claims, &why);
	CHECKF(r == KW_ERR_UNTRUSTED_ROOT && claims == NULL && strstr(why, "trusted root") != NULL,
	    "no test root: %s (%s)", kw_strerror(r), why ? why : "-");
	tdx_trust_free(bare);
out:
	env_close(&e);
}

/* Every certificate the emulation makes says NOT INTEL. */
static void
test_emu_not_intel(void)
{
	struct env e;
	uint8_t *q = NULL;
	size_t qlen = 0;
	char *coll = NULL, cn[128];
	json_t *cj = NULL;
	struct tdx_quote qq;
	X509 *c[3] = { NULL, NULL, NULL };
	static const char *chains[] = { "tcb_info_issuer_chain", "qe_identity_issuer_chain", "pck_crl_issuer_chain" };

	if (env_open(&e, 0) != 0 || att_tdx_emu_quote(e.emu, &e.o, &q, &qlen) != 0 ||
	    att_tdx_emu_collateral(e.emu, &e.o, &coll) != 0 || (cj = test_json_text(coll)) == NULL)
		goto out;
	CU_ASSERT_FATAL(tdx_quote_parse(q, qlen, &qq, NULL) == 0);
	CU_ASSERT_FATAL(tdx_pem_certs(qq.pck_chain, qq.pck_chain_len, c, 3) == 0);
	for (size_t i = 0; i < 3; i++) {
		CU_ASSERT(X509_NAME_get_text_by_NID(X509_get_subject_name(c[i]), NID_commonName, cn, sizeof(cn)) > 0 &&
		    strncmp(cn, "NOT INTEL SGX ", 14) == 0);
		CU_ASSERT(X509_NAME_get_text_by_NID(X509_get_subject_name(c[i]), NID_organizationName, cn,
		    sizeof(cn)) > 0 && strncmp(cn, "NOT INTEL", 9) == 0);
		X509_free(c[i]);
		c[i] = NULL;
	}
	for (size_t k = 0; k < KW_ARRAY_SIZE(chains); k++) {
		const char *pem = json_string_value(json_object_get(cj, chains[k]));

		CU_ASSERT_FATAL(tdx_pem_certs((const uint8_t *)pem, strlen(pem), c, 2) == 0);
		for (size_t i = 0; i < 2; i++) {
			CU_ASSERT(X509_NAME_get_text_by_NID(X509_get_subject_name(c[i]), NID_commonName, cn,
			    sizeof(cn)) > 0 && strncmp(cn, "NOT INTEL SGX ", 14) == 0);
			X509_free(c[i]);
			c[i] = NULL;
		}
	}
out:
	json_decref(cj);
	free(coll);
	free(q);
	env_close(&e);
}

/* o verifies (asserted); its claims (json_decref them) or NULL. */
static json_t *
verified(struct env *e, const struct att_tdx_emu_opts *o, int allow_debug, const char *label)
{
	json_t *claims = NULL;
	const char *why = NULL;
	int r = run(e, o, NULL, NOW, allow_debug, NULL, &claims, &why);

	CHECKF(r == 0 && claims != NULL, "%s: %s (%s)", label, kw_strerror(r), r != 0 && why ? why : "-");
	return r == 0 ? claims : NULL;
}

/* o is rejected with exactly this code and reason; tr (optional) gets the trace. */
static void
expect_why(struct env *e, const struct att_tdx_emu_opts *o, int want, const char *reason, struct tdx_trace *tr)
{
	json_t *claims = NULL;
	const char *why = NULL;
	int r = run(e, o, NULL, NOW, 0, tr, &claims, &why);

	CHECKF(r == want && claims == NULL && why != NULL && strcmp(why, reason) == 0, "%s: got %s (%s)", reason,
	    kw_strerror(r), why ? why : "-");
	json_decref(claims);
}

static void
test_emu_versions(void)
{
	struct env e;
	struct att_tdx_emu_opts o;
	json_t *c;

	if (env_open(&e, 0) != 0)
		goto out;
	o = e.o;
	o.version = 5;
	o.body_type = 3;
	c = verified(&e, &o, 0, "v5 type 3");
	CU_ASSERT(c != NULL && strcmp(json_string_value(json_object_get(c, "tdx_version")), "1.5") == 0 &&
	    json_object_get(c, "mrservicetd") != NULL);
	json_decref(c);
	o.body_type = 2;
	c = verified(&e, &o, 0, "v5 type 2");
	CU_ASSERT(c != NULL && strcmp(json_string_value(json_object_get(c, "tdx_version")), "1.0") == 0 &&
	    json_object_get(c, "mrservicetd") == NULL &&
	    json_integer_value(json_object_get(json_object_get(c, "platform"), "quote_version")) == 5);
	json_decref(c);
out:
	env_close(&e);
}

/* A revoked PCK leaf and CA; a debug TD without and with allow_debug. */
static void
test_emu_revoked_and_debug(void)
{
	struct env e;
	struct att_tdx_emu_opts o;
	struct tdx_trace tr;
	json_t *c;

	if (env_open(&e, 0) != 0)
		goto out;
	o = e.o;
	o.revoke_leaf = 1;
	expect_why(&e, &o, KW_ERR_CERT_INVALID, "PCK certificate revoked", &tr);
	CU_ASSERT((tr.passed & TDX_CHECK_PCK_CRL_SIG) != 0 && (tr.passed & TDX_CHECK_NOT_REVOKED) == 0);
	o = e.o;
	o.revoke_ca = 1;
	expect_why(&e, &o, KW_ERR_CERT_INVALID, "PCK CRL issuer revoked", NULL);
	o = e.o;
	o.td_attributes[0] |= 1;
	expect_why(&e, &o, KW_ERR_DEBUG_GUEST, "debug TD not allowed", &tr);
	CU_ASSERT((tr.passed & TDX_CHECK_TCB_LEVEL) != 0 && (tr.passed & TDX_CHECK_DEBUG) == 0);
	c = verified(&e, &o, 1, "debug TD allowed");
	CU_ASSERT(c != NULL && json_is_true(json_object_get(c, "debug")));
	json_decref(c);
out:
	env_close(&e);
}

static void
test_emu_roots(void)
{
	struct env a, b;
	uint8_t *q = NULL;
	size_t qlen = 0;
	char *coll = NULL, *pem = NULL;
	json_t *cj = NULL, *claims = NULL;
	const char *why = NULL;
	struct tdx_verify_opts vo = { .at = NOW };
	int r;

	if (env_open(&a, 0) != 0 || env_open(&b, 0) != 0)
		goto out;
	/* A's quote, B's collateral; both roots trusted: the roots differ. */
	CU_ASSERT_FATAL(att_tdx_emu_root_pem(b.emu, &pem) == 0);
	CU_ASSERT_FATAL(tdx_trust_add_test_root_pem(a.trust, pem, strlen(pem)) == 0);
	if (att_tdx_emu_quote(a.emu, &a.o, &q, &qlen) != 0 || att_tdx_emu_collateral(b.emu, &b.o, &coll) != 0 ||
	    (cj = test_json_text(coll)) == NULL)
		goto out;
	r = tdx_verify(a.trust, q, qlen, cj, &vo, &claims, &why);
	CHECKF(r == KW_ERR_MISMATCH && strcmp(why, "collateral and PCK chain end at different roots") == 0,
	    "two roots: %s (%s)", kw_strerror(r), why);
	/* Without B's root, B's collateral itself is untrusted. */
	r = tdx_verify(b.trust, q, qlen, cj, &vo, &claims, &why);
	CHECKF(r == KW_ERR_UNTRUSTED_ROOT, "quote from an unknown root: %s (%s)", kw_strerror(r), why);
	CU_ASSERT(claims == NULL);
out:
	json_decref(cj);
	free(coll);
	free(pem);
	free(q);
	env_close(&a);
	env_close(&b);
}

/* Emulated evidence with Intel's names under a test root, and the real vectors against test collateral. */
static void
test_emu_names_and_intel(void)
{
	struct env e, named;
	char *pem = NULL, *coll = NULL, p[4096];
	uint8_t *q = NULL, *rq = NULL;
	size_t qlen = 0, rlen = 0;
	json_t *cj = NULL, *claims = NULL, *rc = NULL;
	const char *why = NULL;
	int r;

	if (env_open(&e, 0) != 0 || env_open(&named, 1) != 0)
		goto out;
	/* A root named "Intel SGX Root CA" is not accepted as a test root. */
	CU_ASSERT_FATAL(att_tdx_emu_root_pem(named.emu, &pem) == 0);
	CU_ASSERT(tdx_trust_add_test_root_pem(named.trust, pem, strlen(pem)) == KW_ERR_CERT_INVALID);
	CU_ASSERT(named.trust->nroots == 0);
	/* Trusted anyway (by a second trust that takes it as if marked): the chain's role names must match its root. */
	{
		struct tdx_root *root = &e.trust->roots[e.trust->nroots];
		BIO *bio = BIO_new_mem_buf(pem, -1);

		root->cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		BIO_free(bio);
		CU_ASSERT_FATAL(root->cert != NULL && tdx_cert_sha256(root->cert, root->sha256) == 0);
		e.trust->nroots++;
	}
	r = run(&named, &named.o, e.trust, NOW, 0, NULL, &claims, &why);
	CHECKF(r == KW_ERR_CERT_INVALID && strstr(why, "chain is not") != NULL, "Intel names under a test root: %s (%s)",
	    kw_strerror(r), why ? why : "-");

	/* A real quote with emulated collateral, and an emulated quote with real collateral. */
	vpath(p, sizeof(p), "dcapqvl-near-20a06f-v4-uptodate/quote.bin");
	if (test_slurp(p, &rq, &rlen) != 0)
		goto out;
	vpath(p, sizeof(p), "dcapqvl-near-20a06f-v4-uptodate/collateral.json");
	if ((rc = test_json_file(p)) == NULL)
		goto out;
	{
		struct att_tdx_emu_opts o = e.o;
		struct tdx_verify_opts vo = { .at = 1758800000LL };   /* 2025-09-25, inside the real window */

		o.now = vo.at;
		if (att_tdx_emu_quote(e.emu, &o, &q, &qlen) != 0 || att_tdx_emu_collateral(e.emu, &o, &coll) != 0 ||
		    (cj = test_json_text(coll)) == NULL)
			goto out;
		r = tdx_verify(e.trust, rq, rlen, cj, &vo, &claims, &why);
		CHECKF(r == KW_ERR_MISMATCH && strstr(why, "different roots") != NULL, "real quote, test collateral: %s (%s)",
		    kw_strerror(r), why);
		r = tdx_verify(e.trust, q, qlen, rc, &vo, &claims, &why);
		CHECKF(r == KW_ERR_MISMATCH && strstr(why, "different roots") != NULL, "test quote, real collateral: %s (%s)",
		    kw_strerror(r), why);
		CU_ASSERT(claims == NULL);
	}
out:
	json_decref(cj);
	json_decref(rc);
	free(coll);
	free(pem);
	free(q);
	free(rq);
	env_close(&e);
	env_close(&named);
}

static void
test_emu_freshness(void)
{
	static const struct {
		size_t field;
		const char *reason;
	} cases[] = {
		{ offsetof(struct att_tdx_emu_opts, tcb_next), "TCB Info not valid" },
		{ offsetof(struct att_tdx_emu_opts, qe_next), "QE identity not valid" },
		{ offsetof(struct att_tdx_emu_opts, pck_crl_next), "PCK CRL not valid" },
		{ offsetof(struct att_tdx_emu_opts, root_crl_next), "Root CA CRL not valid" },
	};
	struct env e;
	struct tdx_trace tr;
	json_t *claims = NULL;
	const char *why = NULL;
	int r;

	if (env_open(&e, 0) != 0)
		goto out;
	for (size_t i = 0; i < KW_ARRAY_SIZE(cases); i++) {
		struct att_tdx_emu_opts o = e.o;
		int64_t next = NOW;   /* expired exactly at the verification time */

		memcpy((uint8_t *)&o + cases[i].field, &next, sizeof(next));
		r = run(&e, &o, NULL, NOW, 0, &tr, &claims, &why);
		CHECKF(r == KW_ERR_CERT_EXPIRED && strstr(why, cases[i].reason) != NULL, "%s: %s (%s)", cases[i].reason,
		    kw_strerror(r), why);
		next = NOW + 1;       /* one second left */
		memcpy((uint8_t *)&o + cases[i].field, &next, sizeof(next));
		r = run(&e, &o, NULL, NOW, 0, &tr, &claims, &why);
		CHECKF(r == 0, "%s, one second left: %s", cases[i].reason, kw_strerror(r));
		json_decref(claims);
		claims = NULL;
	}
	/* Issued in the future (verification time before issueDate). */
	r = run(&e, &e.o, NULL, NOW - 7200, 0, &tr, &claims, &why);
	CHECKF(r == KW_ERR_CERT_EXPIRED, "before issue: %s", kw_strerror(r));
out:
	env_close(&e);
}

static void
set_level(struct att_tdx_emu_level *l, const struct att_tdx_emu_opts *o, const char *status)
{
	memset(l, 0, sizeof(*l));
	memcpy(l->sgx, o->pck_sgx_svn, 16);
	l->pcesvn = o->pcesvn;
	memcpy(l->tdx, o->tee_tcb_svn, 16);
	l->status = status;
}

/* The TCB level's own status, with the QE or the TDX module out of date or revoked (QVL convergence). */
static void
test_emu_convergence(void)
{
	static const struct {
		const char *level, *alone, *qe_old, *module_old;
	} rows[] = {
		{ "UpToDate", "UpToDate", "OutOfDate", "OutOfDate" },
		{ "SWHardeningNeeded", "SWHardeningNeeded", "OutOfDate", "OutOfDate" },
		{ "ConfigurationNeeded", "ConfigurationNeeded", "OutOfDateConfigurationNeeded",
		  "OutOfDateConfigurationNeeded" },
		{ "ConfigurationAndSWHardeningNeeded", "ConfigurationAndSWHardeningNeeded",
		  "OutOfDateConfigurationNeeded", "OutOfDateConfigurationNeeded" },
		{ "OutOfDate", "OutOfDate", "OutOfDate", "OutOfDate" },
		{ "OutOfDateConfigurationNeeded", "OutOfDateConfigurationNeeded", "OutOfDateConfigurationNeeded",
		  "OutOfDateConfigurationNeeded" },
	};
	struct env e;

	if (env_open(&e, 0) != 0)
		goto out;
	for (size_t i = 0; i < KW_ARRAY_SIZE(rows); i++) {
		struct att_tdx_emu_opts o = e.o;
		char label[128];

		o.nlevels = 1;
		set_level(&o.levels[0], &o, rows[i].level);
		snprintf(label, sizeof(label), "%s alone", rows[i].level);
		expect(&e, &o, 0, rows[i].alone, label);

		/* QE ISVSVN 8 below the UpToDate level 9 */
		o.nqe_levels = 2;
		o.qe_levels[0] = (struct att_tdx_emu_isv_level){ 9, "UpToDate", NULL };
		o.qe_levels[1] = (struct att_tdx_emu_isv_level){ 0, "OutOfDate", NULL };
		snprintf(label, sizeof(label), "%s + QE OutOfDate", rows[i].level);
		expect(&e, &o, 0, rows[i].qe_old, label);
		o.qe_levels[1].status = "Revoked";
		snprintf(label, sizeof(label), "%s + QE Revoked", rows[i].level);
		expect(&e, &o, 0, "Revoked", label);   /* verified: the policy decides */
		o.nqe_levels = 1;   /* only level 9: ISVSVN 8 has none */
		snprintf(label, sizeof(label), "%s + no QE level", rows[i].level);
		expect(&e, &o, KW_ERR_DENIED, "TCB_NOT_SUPPORTED", label);

		/* TDX module TDX_01 minor SVN 5 below the UpToDate level 6 */
		o.nqe_levels = 0;
		o.nmodules = 1;
		o.modules[0] = (struct att_tdx_emu_module){ 1, { { 6, "UpToDate", NULL }, { 0, "OutOfDate", NULL } }, 2 };
		snprintf(label, sizeof(label), "%s + module OutOfDate", rows[i].level);
		expect(&e, &o, 0, rows[i].module_old, label);
		o.modules[0].levels[1].status = "Revoked";
		snprintf(label, sizeof(label), "%s + module Revoked", rows[i].level);
		expect(&e, &o, 0, "Revoked", label);   /* verified: the policy decides */
		o.modules[0].nlevels = 1;
		snprintf(label, sizeof(label), "%s + no module level", rows[i].level);
		expect(&e, &o, KW_ERR_DENIED, "TCB_NOT_SUPPORTED", label);
	}
	{
		struct att_tdx_emu_opts o = e.o;

		o.nlevels = 1;
		set_level(&o.levels[0], &o, "Revoked");
		expect(&e, &o, 0, "Revoked", "level Revoked");
	}
out:
	env_close(&e);
}

static void
test_emu_level_selection(void)
{
	struct env e;
	struct att_tdx_emu_opts o;

	if (env_open(&e, 0) != 0)
		goto out;
	/* The first level the platform reaches wins: higher levels first, as Intel orders them. */
	o = e.o;
	o.nlevels = 3;
	set_level(&o.levels[0], &o, "UpToDate");
	o.levels[0].sgx[3]++;                    /* SGX component above the PCK's */
	set_level(&o.levels[1], &o, "SWHardeningNeeded");
	o.levels[1].pcesvn++;                    /* PCESVN above */
	set_level(&o.levels[2], &o, "OutOfDate");
	expect(&e, &o, 0, "OutOfDate", "SGX component and PCESVN above");
	o.levels[1].pcesvn--;
	expect(&e, &o, 0, "SWHardeningNeeded", "PCESVN equal");
	o.levels[1].tdx[2]++;                    /* TDX component 2 above TEE_TCB_SVN[2] */
	expect(&e, &o, 0, "OutOfDate", "TDX component above");
	o.levels[1].tdx[2]--;
	o.levels[1].tdx[0] = 200;                /* components 0 and 1 are the module's: skipped for version > 0 */
	o.levels[1].tdx[1] = 200;
	expect(&e, &o, 0, "SWHardeningNeeded", "module SVNs skipped");
	/* With module version 0 there is no module identity and components 0 and 1 count. */
	o = e.o;
	o.tee_tcb_svn[1] = 0;
	o.no_module_identities = 1;
	o.nlevels = 2;
	set_level(&o.levels[0], &o, "UpToDate");
	o.levels[0].tdx[0]++;
	set_level(&o.levels[1], &o, "OutOfDate");
	expect(&e, &o, 0, "OutOfDate", "module version 0, component 0 above");
	o.levels[0].tdx[0]--;
	expect(&e, &o, 0, "UpToDate", "module version 0, component 0 equal");
	/* No level at all. */
	o = e.o;
	o.nlevels = 1;
	set_level(&o.levels[0], &o, "UpToDate");
	o.levels[0].sgx[0] = 255;
	expect(&e, &o, KW_ERR_DENIED, "TCB_NOT_SUPPORTED", "no level");
	/* TDX module identity: missing list, missing version. */
	o = e.o;
	o.no_module_identities = 1;
	expect(&e, &o, KW_ERR_MISMATCH, NULL, "no module identities");
	o = e.o;
	o.nmodules = 1;
	o.modules[0] = (struct att_tdx_emu_module){ 2, { { 0, "UpToDate", NULL } }, 1 };
	expect(&e, &o, KW_ERR_MISMATCH, NULL, "no TDX_01");
	o.nmodules = 2;
	o.modules[1] = (struct att_tdx_emu_module){ 1, { { 0, "UpToDate", NULL } }, 1 };
	expect(&e, &o, 0, "UpToDate", "TDX_01 second");
out:
	env_close(&e);
}

static void
test_emu_relaunch(void)
{
	struct env e;
	struct att_tdx_emu_opts o;

	if (env_open(&e, 0) != 0)
		goto out;
	o = e.o;
	o.version = 5;
	o.body_type = 3;
	o.nmodules = 1;
	o.modules[0] = (struct att_tdx_emu_module){ 1, { { 6, "UpToDate", NULL }, { 0, "OutOfDate", NULL } }, 2 };
	/* The running module (SVN 5) is out of date; the one loaded for the next launch (SVN2 6) is current. */
	o.tee_tcb_svn2[0] = 6;
	o.tee_tcb_svn2[1] = 1;
	o.tee_tcb_svn2[2] = 2;
	expect(&e, &o, 0, "TDRelaunchAdvised", "relaunch advised");
	o.tee_tcb_svn2[0] = 5;
	expect(&e, &o, 0, "OutOfDate", "next module not newer");
	o.tee_tcb_svn2[0] = 6;
	o.tee_tcb_svn2[2] = 1;
	expect(&e, &o, 0, "OutOfDate", "SVN2[2] below the latest level");
	o.tee_tcb_svn2[2] = 2;
	o.tee_tcb_svn2[1] = 0;                  /* module version 0: the latest level's component 0 (5) */
	expect(&e, &o, 0, "TDRelaunchAdvised", "relaunch, version 0");
	o.tee_tcb_svn2[1] = 2;                  /* no TDX_02 identity */
	expect(&e, &o, KW_ERR_MISMATCH, NULL, "relaunch, unknown module");
	o.tee_tcb_svn2[1] = 1;
	o.nlevels = 1;
	set_level(&o.levels[0], &o, "ConfigurationNeeded");
	expect(&e, &o, 0, "TDRelaunchAdvisedConfigurationNeeded", "relaunch, configuration needed");
	/* Not for TDX 1.0 bodies, and not when the QE is out of date. */
	o.body_type = 2;
	expect(&e, &o, 0, "OutOfDateConfigurationNeeded", "1.0 body");
	o.body_type = 3;
	o.nqe_levels = 2;
	o.qe_levels[0] = (struct att_tdx_emu_isv_level){ 9, "UpToDate", NULL };
	o.qe_levels[1] = (struct att_tdx_emu_isv_level){ 0, "OutOfDate", NULL };
	expect(&e, &o, 0, "OutOfDateConfigurationNeeded", "QE out of date");
out:
	env_close(&e);
}

static void
test_emu_advisories(void)
{
	struct env e;
	struct att_tdx_emu_opts o;
	json_t *claims = NULL, *want;
	const char *why = NULL;
	int r;

	if (env_open(&e, 0) != 0)
		goto out;
	o = e.o;
	o.nlevels = 1;
	set_level(&o.levels[0], &o, "SWHardeningNeeded");
	o.levels[0].advisories = "INTEL-SA-00001,INTEL-SA-00002";
	o.nqe_levels = 1;
	o.qe_levels[0] = (struct att_tdx_emu_isv_level){ 0, "UpToDate", "INTEL-SA-00002,INTEL-SA-00003" };
	o.nmodules = 1;
	o.modules[0] = (struct att_tdx_emu_module){ 1, { { 0, "UpToDate", "INTEL-SA-00004" } }, 1 };
	r = run(&e, &o, NULL, NOW, 0, NULL, &claims, &why);
	want = json_pack("[s,s,s,s]", "INTEL-SA-00001", "INTEL-SA-00002", "INTEL-SA-00003", "INTEL-SA-00004");
	CHECKF(r == 0 && json_equal(json_object_get(claims, "advisory_ids"), want), "advisories: %s", kw_strerror(r));
	CU_ASSERT(r == 0 && strcmp(json_string_value(json_object_get(claims, "tcb_status")), "SWHardeningNeeded") == 0);
	json_decref(want);
	json_decref(claims);
	claims = NULL;
	o.levels[0].advisories = "INTEL SA";   /* not an advisory ID */
	r = run(&e, &o, NULL, NOW, 0, NULL, &claims, &why);
	CHECKF(r == KW_ERR_INVALID_FORMAT && strcmp(why, "TCB Info malformed") == 0, "bad advisory: %s", kw_strerror(r));
out:
	env_close(&e);
}

struct thr {
	const struct tdx_trust *t;
	struct tdx_collateral *c;
	const uint8_t *q;
	size_t len;
	int failures;
};

static void *
thr_main(void *arg)
{
	struct thr *a = arg;

	for (int i = 0; i < 25; i++) {
		struct tdx_verify_opts o = { .at = NOW };
		json_t *claims = NULL;

		if (tdx_verify_quote(a->t, a->q, a->len, a->c, &o, &claims, NULL) != 0)
			a->failures++;
		json_decref(claims);
	}
	return NULL;
}

/* One trust and one collateral shared by threads; the PCK chain is verified once, then cached. */
static void
test_emu_concurrent_cache(void)
{
	struct env e;
	uint8_t *q = NULL;
	size_t qlen = 0;
	char *coll = NULL;
	json_t *cj = NULL;
	struct tdx_collateral *c = NULL;
	struct tdx_collateral_info info;
	pthread_t th[4];
	struct thr a[4];
	unsigned long hits = 0, misses = 0, pck_misses;
	const char *why = NULL;

	if (env_open(&e, 0) != 0 || att_tdx_emu_quote(e.emu, &e.o, &q, &qlen) != 0 ||
	    att_tdx_emu_collateral(e.emu, &e.o, &coll) != 0 || (cj = test_json_text(coll)) == NULL)
		goto out;
	CU_ASSERT_FATAL(tdx_collateral_new(e.trust, cj, &c, &why) == 0);
	tdx_collateral_get_info(c, &info);
	CU_ASSERT(memcmp(info.fmspc, e.o.fmspc, 6) == 0 && info.is_test_root == 1 &&
	    info.tcb_evaluation_data_number == 17 && info.not_before == NOW - 3600 &&
	    info.not_after == NOW + 30 * 86400);
	tdx_trust_cache_stats(e.trust, &hits, &misses);
	CU_ASSERT(misses == 2 && hits == 1);   /* TCB Info, QE identity (the same chain: a hit), CRL issuer */
	for (int i = 0; i < 4; i++) {
		a[i] = (struct thr){ e.trust, tdx_collateral_ref(c), q, qlen, 0 };
		CU_ASSERT_FATAL(pthread_create(&th[i], NULL, thr_main, &a[i]) == 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		CHECKF(a[i].failures == 0, "thread %d: %d failures", i, a[i].failures);
		tdx_collateral_free(a[i].c);
	}
	/* Each thread's first quote may miss the PCK cache (they race); every later one hits. */
	tdx_trust_pck_cache_stats(e.trust, &hits, &misses);
	CHECKF(hits >= 100 - 4 && hits + misses == 100 && misses >= 1, "PCK cache: %lu hits, %lu misses", hits, misses);
	pck_misses = misses;
	/* Only a PCK cache miss verifies the chain (the first one misses the chain cache too). */
	tdx_trust_cache_stats(e.trust, &hits, &misses);
	CHECKF(misses >= 3 && hits + misses == 3 + pck_misses, "chain cache: %lu hits, %lu misses", hits, misses);
	/*
	 * A clear (a trust change) forgets what was stored: the next quote misses
	 * both caches again, also after a clear of a cache that held nothing
	 * (the clear skips untouched slots, not stored ones).
	 */
	for (int round = 0; round < 2; round++) {
		unsigned long h0, m0, ph0, pm0, h1, m1, ph1, pm1;
		json_t *claims = NULL;
		struct tdx_verify_opts o = { .at = NOW };

		tdx_trust_cache_clear(e.trust);
		if (round == 1)
			tdx_trust_cache_clear(e.trust);
		tdx_trust_cache_stats(e.trust, &h0, &m0);
		tdx_trust_pck_cache_stats(e.trust, &ph0, &pm0);
		CU_ASSERT_EQUAL(tdx_verify_quote(e.trust, q, qlen, c, &o, &claims, NULL), 0);
		json_decref(claims);
		tdx_trust_cache_stats(e.trust, &h1, &m1);
		tdx_trust_pck_cache_stats(e.trust, &ph1, &pm1);
		CHECKF(pm1 == pm0 + 1 && ph1 == ph0 && m1 == m0 + 1 && h1 == h0,
		    "after clear %d: PCK %lu/%lu -> %lu/%lu, chain %lu/%lu -> %lu/%lu", round, ph0, pm0,
		    ph1, pm1, h0, m0, h1, m1);
	}
out:
	tdx_collateral_free(c);
	json_decref(cj);
	free(coll);
	free(q);
	env_close(&e);
}

static void
test_trust_errors(void)
{
	struct tdx_trust *t = NULL;
	struct env e;
	char *pem = NULL, *two = NULL;
	size_t n;

	CU_ASSERT_FATAL(tdx_trust_new(&t) == 0);
	CU_ASSERT(tdx_trust_add_test_root_file(t, "/nonexistent/root.pem") == KW_ERR_IO);
	CU_ASSERT(tdx_trust_add_test_root_pem(t, "", 0) == KW_ERR_INVALID_FORMAT);
	CU_ASSERT(tdx_trust_add_test_root_pem(t, "not pem", 7) == KW_ERR_INVALID_FORMAT);
	CU_ASSERT(tdx_trust_add_test_root_pem(NULL, "x", 1) == KW_ERR_INVALID_ARG);
	if (env_open(&e, 0) == 0 && att_tdx_emu_root_pem(e.emu, &pem) == 0) {
		n = strlen(pem);
		two = malloc(2 * n + 1);
		memcpy(two, pem, n);
		memcpy(two + n, pem, n + 1);
		CU_ASSERT(tdx_trust_add_test_root_pem(t, two, 2 * n) == KW_ERR_INVALID_FORMAT);
		CU_ASSERT(tdx_trust_add_test_root_pem(t, pem, n) == 0);
		CU_ASSERT(tdx_trust_add_test_root_pem(t, pem, n) == 0 && t->nroots == 1);   /* once */
	}
	free(two);
	free(pem);
	env_close(&e);
	tdx_trust_free(t);
}

/* scripts/mk-tdx-emu.sh, loaded by att_tdx_emu_load: the set a workload and a test broker use. */
static void
test_emu_script_set(void)
{
	const char *src = getenv("KW_SOURCE_ROOT");
	char cmd[8192], dir[4096], root[4200], mrtd[97];
	struct att_tdx_emu *emu = NULL;
	struct att_tdx_emu_opts o;
	struct tdx_trust *t = NULL;
	uint8_t *q = NULL;
	size_t qlen = 0;
	char *coll = NULL;
	json_t *cj = NULL, *claims = NULL;
	const char *why = NULL;
	int64_t now;
	int r;

	CU_ASSERT_FATAL(src != NULL);
	snprintf(dir, sizeof(dir), "%s/tdx-emu", test_tmpdir());
	snprintf(cmd, sizeof(cmd), "sh '%s/scripts/mk-tdx-emu.sh' --fmspc 00806f050000 '%s' 2>/dev/null", src, dir);
	CU_ASSERT_FATAL(system(cmd) == 0);
	/* Refuses to overwrite without --force. */
	snprintf(cmd, sizeof(cmd), "sh '%s/scripts/mk-tdx-emu.sh' '%s' 2>/dev/null", src, dir);
	CU_ASSERT(system(cmd) != 0);

	now = kw_time_now();   /* the script's certificates start when they are made */
	r = att_tdx_emu_load(dir, now, &emu, &o);
	CHECKF(r == 0, "load: %s", kw_strerror(r));
	if (r != 0)
		goto out;
	for (size_t i = 0; i < 64; i++)
		o.report_data[i] = (uint8_t)(0xc0 ^ i);
	snprintf(root, sizeof(root), "%s/root.pem", dir);
	CU_ASSERT_FATAL(tdx_trust_new(&t) == 0);
	CU_ASSERT_FATAL(tdx_trust_add_test_root_file(t, root) == 0);
	if (att_tdx_emu_quote(emu, &o, &q, &qlen) != 0 || att_tdx_emu_collateral(emu, &o, &coll) != 0 ||
	    (cj = test_json_text(coll)) == NULL) {
		CU_FAIL("emulation from the script's set failed");
		goto out;
	}
	{
		struct tdx_verify_opts vo = { .at = now, .report_data = o.report_data };

		r = tdx_verify(t, q, qlen, cj, &vo, &claims, &why);
	}
	CHECKF(r == 0, "script set: %s (%s)", kw_strerror(r), r ? why : "-");
	if (r == 0) {
		for (size_t i = 0; i < 48; i++)
			snprintf(mrtd + 2 * i, 3, "%02x", o.mrtd[i]);
		CU_ASSERT(strcmp(json_string_value(json_object_get(claims, "root")), "test") == 0);
		CU_ASSERT(strcmp(json_string_value(json_object_get(claims, "fmspc")), "00806f050000") == 0);
		CU_ASSERT(strcmp(json_string_value(json_object_get(claims, "mrtd")), mrtd) == 0);
		CU_ASSERT(strcmp(json_string_value(json_object_get(claims, "tcb_status")), "UpToDate") == 0);
		CU_ASSERT(json_integer_value(json_object_get(json_object_get(claims, "platform"), "pcesvn")) == 13);
	}
	/* A missing set, and a set whose emu.json says something else than its certificate. */
	att_tdx_emu_free(emu);
	emu = NULL;
	CU_ASSERT(att_tdx_emu_load("/nonexistent/tdx-emu", NOW, &emu, &o) == KW_ERR_IO && emu == NULL);
	{
		char p[4200];
		FILE *f;

		snprintf(p, sizeof(p), "%s/emu.json", dir);
		CU_ASSERT_FATAL((f = fopen(p, "w")) != NULL);
		fputs("{\"fmspc\":\"00806f050000\",\"extra\":1}", f);
		fclose(f);
		CU_ASSERT(att_tdx_emu_load(dir, NOW, &emu, &o) == KW_ERR_INVALID_FORMAT && emu == NULL);
	}
out:
	json_decref(claims);
	json_decref(cj);
	free(coll);
	free(q);
	tdx_trust_free(t);
	att_tdx_emu_free(emu);
}

int
test_tdx_emu_register(void)
{
	CU_pSuite s = CU_add_suite("tdx_emu", NULL, NULL);

	if (s == NULL)
		return -1;
	return TEST_ADD(s, test_emu_basic) | TEST_ADD(s, test_emu_not_intel) | TEST_ADD(s, test_emu_versions) |
	    TEST_ADD(s, test_emu_revoked_and_debug) | TEST_ADD(s, test_emu_roots) |
	    TEST_ADD(s, test_emu_names_and_intel) | TEST_ADD(s, test_emu_freshness) |
	    TEST_ADD(s, test_emu_convergence) | TEST_ADD(s, test_emu_level_selection) |
	    TEST_ADD(s, test_emu_relaunch) | TEST_ADD(s, test_emu_advisories) |
	    TEST_ADD(s, test_emu_concurrent_cache) | TEST_ADD(s, test_trust_errors) |
	    TEST_ADD(s, test_emu_script_set);
}
