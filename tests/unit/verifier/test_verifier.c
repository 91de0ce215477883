/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The verifier seam (verifier-client/verifier.h): the table and how
 * evidence finds its member; SNP through the seam on a real vector; TDX
 * through the seam with emulated evidence (attester/att_tdx_emu.c) and the
 * offline collateral source (files by FMSPC and window, the best one chosen,
 * unavailable outside every window, bad files refused at load); the fixed
 * source; the binding and the diagnostics.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <CUnit/CUnit.h>

#include "att_tdx_emu.h"
#include "kw_b64url.h"
#include "kw_json.h"
#include "kw_util.h"
#include "test_helper.h"
#include "verifier.h"

#define T0 1796600000LL      /* 2026-12-06: the emulated collateral's "now" */
#define DAY 86400LL

/* ---- the table ---- */

static void
test_table(void)
{
	const char *why = NULL;
	json_t *ev;
	size_t n = 0;

	CU_ASSERT_PTR_EQUAL(kw_verifiers[0], &kw_verifier_snp);
	CU_ASSERT_PTR_EQUAL(kw_verifiers[1], &kw_verifier_tdx);
	for (n = 0; kw_verifiers[n] != NULL; n++) {
		const struct kw_verifier *v = kw_verifiers[n];
		int has_tee = 0, has_root = 0, has_debug = 0;

		CU_ASSERT_PTR_EQUAL(kw_verifier_find(v->tee), v);
		CU_ASSERT(v->members != NULL && v->members[0] != NULL);
		CU_ASSERT(v->vendor_root != NULL && strcmp(v->vendor_root, "test") != 0);
		CU_ASSERT(strstr(v->appraisal_policy_id, v->tee) != NULL);
		CU_ASSERT(v->check != NULL && v->appraise != NULL && v->enabled != NULL);
		/* the token carries what a release policy needs from every TEE */
		for (size_t i = 0; v->token_claims[i] != NULL; i++) {
			has_tee |= strcmp(v->token_claims[i], "tee") == 0;
			has_root |= strcmp(v->token_claims[i], "root") == 0;
			has_debug |= strcmp(v->token_claims[i], "debug") == 0;
			CU_ASSERT(strcmp(v->token_claims[i], "report_data") != 0);
			CU_ASSERT(strcmp(v->token_claims[i], "config") != 0);    /* the broker adds it */
		}
		CU_ASSERT(has_tee && has_root && has_debug);
		CU_ASSERT(v->enabled(NULL) == 0);
		/*
		 * no two share an identifying member; when v's identifying member
		 * is another's member (TDX's "quote" in the TPM types), the
		 * other's identifying member is not v's, so that evidence holding
		 * both is told apart by the members v does not have
		 */
		for (size_t k = 0; kw_verifiers[k] != NULL; k++) {
			int in_k = 0, k_in_v = 0;

			if (k == n)
				continue;
			CU_ASSERT(strcmp(kw_verifiers[k]->members[0], v->members[0]) != 0);
			for (size_t i = 0; kw_verifiers[k]->members[i] != NULL; i++)
				in_k |= strcmp(kw_verifiers[k]->members[i], v->members[0]) == 0;
			for (size_t i = 0; v->members[i] != NULL; i++)
				k_in_v |= strcmp(v->members[i], kw_verifiers[k]->members[0]) == 0;
			CU_ASSERT(!(in_k && k_in_v));
		}
	}
	CU_ASSERT_EQUAL(n, 7);
	CU_ASSERT_STRING_EQUAL(kw_verifier_names(), "snp, tdx, tpm-akcert, tpm, az-snp-vtpm, az-tdx-vtpm, cca");
	CU_ASSERT_STRING_EQUAL(kw_verifier_unsupported_reason(),
	    "unsupported \"tee\" (supported: snp, tdx, tpm-akcert, tpm, az-snp-vtpm, az-tdx-vtpm, cca)");
	CU_ASSERT_PTR_EQUAL(kw_verifiers[6], &kw_verifier_cca);
	CU_ASSERT_PTR_EQUAL(kw_verifiers[2], &kw_verifier_tpm_akcert);
	CU_ASSERT_PTR_EQUAL(kw_verifiers[3], &kw_verifier_tpm);
	CU_ASSERT_PTR_EQUAL(kw_verifiers[4], &kw_verifier_az_snp_vtpm);
	CU_ASSERT_PTR_EQUAL(kw_verifiers[5], &kw_verifier_az_tdx_vtpm);
	CU_ASSERT_PTR_EQUAL(kw_verifier_find("tpm"), &kw_verifier_tpm);
	CU_ASSERT_PTR_NULL(kw_verifier_find("tpm2"));
	CU_ASSERT_PTR_NULL(kw_verifier_find("SNP"));
	CU_ASSERT_PTR_NULL(kw_verifier_find(NULL));

	/* evidence finds its member by shape; exactly one must match */
	ev = json_pack("{s:s, s:s}", "report", "AA", "vcek", "AA");
	CU_ASSERT_PTR_EQUAL(kw_verifier_for_evidence(ev, &why), &kw_verifier_snp);
	json_object_set_new(ev, "quote", json_string("AA"));
	CU_ASSERT_PTR_NULL(kw_verifier_for_evidence(ev, &why));
	CU_ASSERT(strstr(why, "more than one") != NULL);
	json_object_del(ev, "report");
	json_object_del(ev, "vcek");
	CU_ASSERT_PTR_EQUAL(kw_verifier_for_evidence(ev, &why), &kw_verifier_tdx);
	/* TDX's identifying "quote" with the TPM members: tpm-akcert, whose list covers them all */
	json_object_set_new(ev, "signature", json_string("AA"));
	json_object_set_new(ev, "pcrs", json_object());
	json_object_set_new(ev, "ak_cert", json_string("AA"));
	CU_ASSERT_PTR_EQUAL(kw_verifier_for_evidence(ev, &why), &kw_verifier_tpm_akcert);
	/* ... but not when a member of neither is there too */
	json_object_set_new(ev, "cc_eventlog", json_string("AA"));
	CU_ASSERT_PTR_NULL(kw_verifier_for_evidence(ev, &why));
	CU_ASSERT(strstr(why, "more than one") != NULL);
	json_decref(ev);
	/* TPM evidence has a "quote" too: the type that allows every member wins */
	ev = json_pack("{s:s, s:s, s:s, s:s, s:s, s:{}}", "credential", "AA", "ek_cert", "AA", "ak_public", "AA",
	    "quote", "AA", "signature", "AA", "pcrs");
	CU_ASSERT_PTR_EQUAL(kw_verifier_for_evidence(ev, &why), &kw_verifier_tpm);
	json_object_set_new(ev, "cc_eventlog", json_string("x"));   /* now neither allows all */
	CU_ASSERT_PTR_NULL(kw_verifier_for_evidence(ev, &why));
	json_decref(ev);
	ev = json_pack("{s:s, s:s}", "quote", "AA", "cc_eventlog", "x");
	CU_ASSERT_PTR_EQUAL(kw_verifier_for_evidence(ev, &why), &kw_verifier_tdx);
	json_decref(ev);
	ev = json_pack("{s:s}", "vcek", "AA");    /* SNP's, but not its identifying member */
	CU_ASSERT_PTR_NULL(kw_verifier_for_evidence(ev, &why));
	json_decref(ev);
	ev = json_array();
	CU_ASSERT_PTR_NULL(kw_verifier_for_evidence(ev, &why));
	json_decref(ev);
}

static void
test_check_shapes(void)
{
	static const struct {
		const struct kw_verifier *v;
		const char *json;
		int want;
	} cases[] = {
		{&kw_verifier_snp, "{\"report\":\"AAEC\",\"vcek\":\"AAEC\"}", 0},
		{&kw_verifier_snp, "{\"report\":\"AAEC\",\"vcek\":\"AAEC\",\"chain\":[\"AA\",\"AA\"]}", 0},
		{&kw_verifier_snp, "{\"report\":\"AAEC\",\"vcek\":\"AAEC\",\"chain\":[\"AA\",\"AA\",\"AA\",\"AA\"]}",
			KW_ERR_INVALID_FORMAT},
		{&kw_verifier_snp, "{\"report\":\"AAEC\"}", KW_ERR_INVALID_FORMAT},
		{&kw_verifier_snp, "{\"report\":\"AA==\",\"vcek\":\"AAEC\"}", KW_ERR_INVALID_FORMAT},
		{&kw_verifier_snp, "{\"report\":\"AAEC\",\"vcek\":\"AAEC\",\"x\":1}", KW_ERR_INVALID_FORMAT},
		{&kw_verifier_tdx, "{\"quote\":\"AAEC\"}", 0},
		{&kw_verifier_tdx, "{\"quote\":\"AAEC\",\"cc_eventlog\":\"anything\"}", 0},
		{&kw_verifier_tdx, "{\"quote\":\"AAEC\",\"cc_eventlog\":{}}", KW_ERR_INVALID_FORMAT},
		{&kw_verifier_tdx, "{\"quote\":\"\"}", KW_ERR_INVALID_FORMAT},
		{&kw_verifier_tdx, "{\"quote\":7}", KW_ERR_INVALID_FORMAT},
		{&kw_verifier_tdx, "{\"quote\":\"AAEC\",\"report\":\"AA\"}", KW_ERR_INVALID_FORMAT},
	};

	for (size_t i = 0; i < KW_ARRAY_SIZE(cases); i++) {
		json_t *j = NULL;
		const char *why = NULL;
		int r;

		CU_ASSERT_FATAL(kw_json_parse(cases[i].json, strlen(cases[i].json), 4096, &j) == 0);
		r = cases[i].v->check(j, &why);
		CHECKF(r == cases[i].want, "case %zu", i);
		CHECKF(cases[i].want == 0 || why != NULL, "case %zu: no reason", i);
		json_decref(j);
	}
	/* not an object */
	{
		json_t *a = json_array();
		const char *why = NULL;

		CU_ASSERT_EQUAL(kw_verifier_tdx.check(a, &why), KW_ERR_INVALID_FORMAT);
		CU_ASSERT_EQUAL(kw_verifier_snp.check(a, &why), KW_ERR_INVALID_FORMAT);
		json_decref(a);
	}
	/* a quote larger than the cap */
	{
		size_t n = kw_b64url_enclen(TDX_MAX_QUOTE + 3);
		char *big = malloc(n + 1);
		json_t *j;
		const char *why = NULL;

		CU_ASSERT_FATAL(big != NULL);
		memset(big, 'A', n);
		big[n] = '\0';
		j = json_pack("{s:s}", "quote", big);
		CU_ASSERT_EQUAL(kw_verifier_tdx.check(j, &why), KW_ERR_INVALID_FORMAT);
		json_decref(j);
		free(big);
	}
}

/* ---- SNP through the seam (a real Milan report) ---- */

static json_t *
b64_member(json_t *o, const char *key, const uint8_t *p, size_t n)
{
	char *s = NULL;

	CU_ASSERT_FATAL(kw_b64url_encode(p, n, &s) == 0);
	json_object_set_new(o, key, json_string(s));
	free(s);
	return o;
}

static void
test_snp_seam(void)
{
	char p1[1024], p2[1024], p3[1024];
	uint8_t *rep = NULL, *vcek = NULL, other[KW_BINDING_LEN];
	size_t rlen = 0, vlen = 0;
	struct kw_trust trust = { .snp = NULL };
	struct kw_appraisal in;
	json_t *ev = json_object(), *claims = NULL;
	const char *why = NULL;
	int64_t at = 0;

	CU_ASSERT_FATAL(test_vectors("sev-snp") != NULL);
	CU_ASSERT_FATAL(kw_file_read(test_vpath(p1, sizeof(p1), "sev-snp", "trustee-milan-v2/report.bin"),
	    8192, &rep, &rlen) == 0 && rlen == 1184);
	CU_ASSERT_FATAL(kw_file_read(test_vpath(p2, sizeof(p2), "sev-snp", "trustee-milan-v2/vcek.der"),
	    16384, &vcek, &vlen) == 0);
	CU_ASSERT_FATAL(snp_trust_new(&trust.snp) == 0);
	CU_ASSERT_FATAL(snp_trust_add_chain_file(trust.snp, test_vpath(p3, sizeof(p3), "sev-snp",
	    "certs/cert_chain_milan_vcek.pem")) == 0);
	CU_ASSERT_FATAL(kw_time_parse_rfc3339("2026-11-28T00:00:00Z", &at) == 0);
	CU_ASSERT(kw_verifier_snp.enabled(&trust) == 1);
	CU_ASSERT(kw_verifier_tdx.enabled(&trust) == 0);
	b64_member(ev, "report", rep, rlen);
	b64_member(ev, "vcek", vcek, vlen);
	memset(&in, 0, sizeof(in));
	in.evidence = ev;
	in.binding = rep + 0x50;      /* REPORT_DATA as reported */
	in.binding_len = KW_BINDING_LEN;
	in.at = at;
	in.trust = &trust;
	in.allow_debug = 1;
	CU_ASSERT_EQUAL_FATAL(kw_verifier_snp.appraise(&in, &claims, &why), 0);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(claims, "tee")), "snp");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(claims, "root")), "amd");
	json_decref(claims);
	claims = NULL;
	/* another binding: the report data does not match */
	memcpy(other, rep + 0x50, sizeof(other));
	other[63] ^= 1;
	in.binding = other;
	CU_ASSERT_EQUAL(kw_verifier_snp.appraise(&in, &claims, &why), KW_ERR_MISMATCH);
	CU_ASSERT_STRING_EQUAL(why, "report data does not match SHA-384(JCS(runtime-data))");
	CU_ASSERT_PTR_NULL(claims);
	in.binding_len = 32;
	CU_ASSERT_EQUAL(kw_verifier_snp.appraise(&in, &claims, &why), KW_ERR_INVALID_ARG);
	/* a flipped signature bit: the verifier's own reason */
	in.binding = NULL;
	rep[0x2A0] ^= 1;
	b64_member(ev, "report", rep, rlen);
	CU_ASSERT_EQUAL(kw_verifier_snp.appraise(&in, &claims, &why), KW_ERR_SIG_INVALID);
	CU_ASSERT_PTR_NULL(claims);
	/* without its trust the member is off */
	in.trust = &(struct kw_trust){ .snp = NULL };
	CU_ASSERT_EQUAL(kw_verifier_snp.appraise(&in, &claims, &why), KW_ERR_INVALID_ARG);
	json_decref(ev);
	snp_trust_free(trust.snp);
	free(rep);
	free(vcek);
}

/* ---- TDX through the seam ---- */

struct tdx_fixture {
	struct att_tdx_emu *e;
	struct att_tdx_emu_opts o;
	char dir[512];
	struct kw_trust trust;
	struct kw_tdx_collateral_source *src;
};

static void
write_file(const char *dir, const char *name, const char *text)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	CU_ASSERT_FATAL((f = fopen(path, "w")) != NULL);
	fputs(text, f);
	fclose(f);
}

/* QuoteCollateralV3 text of e for opts o (issued o->now - 1 hour, valid 30 days). */
static char *
collateral_text(const struct att_tdx_emu *e, const struct att_tdx_emu_opts *o)
{
	char *c = NULL;

	CU_ASSERT_FATAL(att_tdx_emu_collateral(e, o, &c) == 0);
	return c;
}

static json_t *
quote_evidence(const struct tdx_fixture *f, const struct att_tdx_emu_opts *o)
{
	uint8_t *q = NULL;
	size_t qlen = 0;
	json_t *ev = json_object();

	CU_ASSERT_FATAL(att_tdx_emu_quote(f->e, o, &q, &qlen) == 0);
	b64_member(ev, "quote", q, qlen);
	free(q);
	return ev;
}

struct seen {
	size_t n;
	char files[8][32];
};

static void
on_file(void *arg, const char *file, const struct tdx_collateral_info *info, enum kw_pck_ca ca)
{
	struct seen *s = arg;

	CU_ASSERT(ca == KW_PCK_CA_PLATFORM);
	CU_ASSERT(info->is_test_root == 1);
	if (s->n < 8)
		snprintf(s->files[s->n], sizeof(s->files[0]), "%s", file);
	s->n++;
}

static void
fixture(struct tdx_fixture *f, const char *name)
{
	memset(f, 0, sizeof(*f));
	att_tdx_emu_opts_default(&f->o, T0);
	CU_ASSERT_FATAL(att_tdx_emu_new(&f->o, 0, &f->e) == 0);
	snprintf(f->dir, sizeof(f->dir), "%s/%s", test_tmpdir(), name);
	CU_ASSERT_FATAL(mkdir(f->dir, 0700) == 0);
	CU_ASSERT_FATAL(tdx_trust_new(&f->trust.tdx) == 0);
	{
		char *root = NULL;

		CU_ASSERT_FATAL(att_tdx_emu_root_pem(f->e, &root) == 0);
		CU_ASSERT_FATAL(tdx_trust_add_test_root_pem(f->trust.tdx, root, strlen(root)) == 0);
		free(root);
	}
}

static void
fixture_free(struct tdx_fixture *f)
{
	kw_tdx_source_free(f->src);
	tdx_trust_free(f->trust.tdx);
	att_tdx_emu_free(f->e);
}

static void
test_tdx_seam(void)
{
	struct tdx_fixture f;
	struct att_tdx_emu_opts o;
	struct kw_appraisal in;
	struct seen seen = { 0 };
	json_t *ev, *claims = NULL, *diag = json_object();
	const char *why = NULL;
	char *c;
	uint8_t rd[KW_BINDING_LEN];

	fixture(&f, "seam");
	/* the platform's collateral, and one of another FMSPC */
	c = collateral_text(f.e, &f.o);
	write_file(f.dir, "a.json", c);
	free(c);
	o = f.o;
	o.fmspc[5] = 0x42;
	c = collateral_text(f.e, &o);
	write_file(f.dir, "b-other-fmspc.json", c);
	free(c);
	write_file(f.dir, "README", "not collateral: ignored");
	CU_ASSERT_EQUAL_FATAL(kw_tdx_offline_new(f.trust.tdx, f.dir, on_file, &seen, &f.src, NULL, 0), 0);
	CU_ASSERT_EQUAL(seen.n, 2);
	CU_ASSERT_STRING_EQUAL(seen.files[0], "a.json");     /* sorted */
	CU_ASSERT_STRING_EQUAL(kw_tdx_source_mode(f.src), "offline");
	f.trust.tdx_collateral = f.src;
	CU_ASSERT(kw_verifier_tdx.enabled(&f.trust) == 1);

	for (size_t i = 0; i < sizeof(rd); i++)
		rd[i] = (uint8_t)(3 * i);
	o = f.o;
	memcpy(o.report_data, rd, sizeof(rd));
	ev = quote_evidence(&f, &o);
	memset(&in, 0, sizeof(in));
	in.evidence = ev;
	in.binding = rd;
	in.binding_len = sizeof(rd);
	in.at = T0 + DAY;
	in.trust = &f.trust;
	in.allow_debug = 1;
	in.diag = diag;
	CU_ASSERT_EQUAL_FATAL(kw_verifier_tdx.appraise(&in, &claims, &why), 0);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(claims, "tee")), "tdx");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(claims, "root")), "test");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(claims, "tcb_status")), "UpToDate");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(diag, "fmspc")), "00906ed50000");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(diag, "tcb_status")), "UpToDate");
	json_decref(claims);
	claims = NULL;
	/* the binding, as for SNP */
	rd[0] ^= 1;
	CU_ASSERT_EQUAL(kw_verifier_tdx.appraise(&in, &claims, &why), KW_ERR_MISMATCH);
	CU_ASSERT_STRING_EQUAL(why, "report data does not match SHA-384(JCS(runtime-data))");
	rd[0] ^= 1;
	/* outside every window (before and after): unavailable, fail closed */
	in.at = T0 + 31 * DAY;
	CU_ASSERT_EQUAL(kw_verifier_tdx.appraise(&in, &claims, &why), KW_ERR_UNAVAILABLE);
	CU_ASSERT(strstr(why, "no TDX collateral valid") != NULL);
	in.at = T0 - 2 * 3600;
	CU_ASSERT_EQUAL(kw_verifier_tdx.appraise(&in, &claims, &why), KW_ERR_UNAVAILABLE);
	CU_ASSERT_PTR_NULL(claims);
	/* the quote comes first: garbage is the evidence's fault, not unavailable */
	in.at = T0 + DAY;
	json_object_set_new(ev, "quote", json_string("AAAA"));
	CU_ASSERT_EQUAL(kw_verifier_tdx.appraise(&in, &claims, &why), KW_ERR_TRUNCATED);
	/* a quote of the other FMSPC finds its own file */
	json_decref(ev);
	att_tdx_emu_free(f.e);
	o = f.o;
	o.fmspc[5] = 0x42;
	CU_ASSERT_FATAL(att_tdx_emu_new(&o, 0, &f.e) == 0);   /* a new PCK chain, new root: untrusted */
	memcpy(o.report_data, rd, sizeof(rd));
	ev = quote_evidence(&f, &o);
	in.evidence = ev;
	CU_ASSERT_EQUAL(kw_verifier_tdx.appraise(&in, &claims, &why), KW_ERR_UNTRUSTED_ROOT);
	json_decref(ev);
	json_decref(diag);
	fixture_free(&f);
}

/* Several files for one platform: the best valid now is chosen. */
static void
test_offline_choice(void)
{
	struct tdx_fixture f;
	struct att_tdx_emu_opts o;
	struct tdx_collateral *c = NULL;
	struct tdx_collateral_info info;
	const char *why = NULL;
	char *text;

	fixture(&f, "choice");
	/* old: issued at T0 - 5 days, valid until T0 + 25 days; new: issued at T0 - 1 hour */
	o = f.o;
	o.now = T0 - 5 * DAY;
	text = collateral_text(f.e, &o);
	write_file(f.dir, "new.json", text);    /* names do not decide: the windows do */
	free(text);
	text = collateral_text(f.e, &f.o);
	write_file(f.dir, "old.json", text);
	free(text);
	CU_ASSERT_EQUAL_FATAL(kw_tdx_offline_new(f.trust.tdx, f.dir, NULL, NULL, &f.src, NULL, 0), 0);
	{
		static const struct { int64_t at, want_nb; } when[] = {
			{T0 + DAY, T0 - 3600},                 /* both valid: the later issue */
			{T0 - 2 * DAY, T0 - 5 * DAY - 3600},   /* only the earlier one */
			{T0 + 26 * DAY, T0 - 3600},            /* the earlier one has expired */
		};

		for (size_t i = 0; i < KW_ARRAY_SIZE(when); i++) {
			CU_ASSERT_EQUAL_FATAL(kw_tdx_source_get(f.src, f.o.fmspc, KW_PCK_CA_PLATFORM, when[i].at,
			    &c, &why), 0);
			tdx_collateral_get_info(c, &info);
			CHECKF(info.not_before == when[i].want_nb, "case %zu: not_before %lld", i,
			    (long long)info.not_before);
			tdx_collateral_free(c);
			c = NULL;
		}
	}
	CU_ASSERT_EQUAL(kw_tdx_source_get(f.src, f.o.fmspc, KW_PCK_CA_PLATFORM, T0 + 31 * DAY, &c, &why),
	    KW_ERR_UNAVAILABLE);
	CU_ASSERT_EQUAL(kw_tdx_source_get(f.src, f.o.fmspc, KW_PCK_CA_PROCESSOR, T0 + DAY, &c, &why),
	    KW_ERR_UNAVAILABLE);
	o = f.o;
	o.fmspc[0] = 0x11;
	CU_ASSERT_EQUAL(kw_tdx_source_get(f.src, o.fmspc, KW_PCK_CA_PLATFORM, T0 + DAY, &c, &why),
	    KW_ERR_UNAVAILABLE);
	CU_ASSERT_PTR_NULL(c);
	kw_tdx_source_free(f.src);
	f.src = NULL;

	/* a file that does not verify stops the load and is named */
	{
		char why_buf[512];
		struct kw_tdx_collateral_source *s = (struct kw_tdx_collateral_source *)0x1;

		write_file(f.dir, "zz-broken.json", "{\"tcb_info\": 1}");
		CU_ASSERT_EQUAL(kw_tdx_offline_new(f.trust.tdx, f.dir, NULL, NULL, &s, why_buf,
		    sizeof(why_buf)), KW_ERR_INVALID_FORMAT);
		CU_ASSERT(strstr(why_buf, "zz-broken.json") != NULL);
		CU_ASSERT_PTR_EQUAL(s, (struct kw_tdx_collateral_source *)0x1);
		write_file(f.dir, "zz-broken.json", "not json");
		CU_ASSERT_NOT_EQUAL(kw_tdx_offline_new(f.trust.tdx, f.dir, NULL, NULL, &s, why_buf,
		    sizeof(why_buf)), 0);
		CU_ASSERT(strstr(why_buf, "zz-broken.json") != NULL);
		/* collateral that chains to a root the trust does not have */
		{
			struct att_tdx_emu *other = NULL;
			char *t2 = NULL;

			CU_ASSERT_FATAL(att_tdx_emu_new(&f.o, 0, &other) == 0);
			CU_ASSERT_FATAL(att_tdx_emu_collateral(other, &f.o, &t2) == 0);
			write_file(f.dir, "zz-broken.json", t2);
			free(t2);
			att_tdx_emu_free(other);
		}
		CU_ASSERT_EQUAL(kw_tdx_offline_new(f.trust.tdx, f.dir, NULL, NULL, &s, why_buf,
		    sizeof(why_buf)), KW_ERR_UNTRUSTED_ROOT);
		CU_ASSERT_EQUAL(kw_tdx_offline_new(f.trust.tdx, "/nonexistent/kw", NULL, NULL, &s, why_buf,
		    sizeof(why_buf)), KW_ERR_IO);
		CU_ASSERT_EQUAL(kw_tdx_offline_new(NULL, f.dir, NULL, NULL, &s, NULL, 0), KW_ERR_INVALID_ARG);
	}
	/* an empty directory is a source with nothing in it */
	{
		char empty[600];

		snprintf(empty, sizeof(empty), "%s/empty", f.dir);
		CU_ASSERT_FATAL(mkdir(empty, 0700) == 0);
		CU_ASSERT_EQUAL_FATAL(kw_tdx_offline_new(f.trust.tdx, empty, NULL, NULL, &f.src, NULL, 0), 0);
		CU_ASSERT_EQUAL(kw_tdx_source_get(f.src, f.o.fmspc, KW_PCK_CA_PLATFORM, T0, &c, &why),
		    KW_ERR_UNAVAILABLE);
	}
	fixture_free(&f);
}

/* kwctl's source: the one collateral, verified at every get, whatever the FMSPC. */
static void
test_fixed_source(void)
{
	struct tdx_fixture f;
	struct tdx_collateral *c = NULL;
	const char *why = NULL;
	json_t *j = NULL;
	char *text;
	uint8_t fmspc[6] = { 1, 2, 3, 4, 5, 6 };

	fixture(&f, "fixed");
	text = collateral_text(f.e, &f.o);
	CU_ASSERT_FATAL(kw_json_parse(text, strlen(text), TDX_MAX_COLLATERAL, &j) == 0);
	free(text);
	CU_ASSERT_EQUAL_FATAL(kw_tdx_fixed_new(f.trust.tdx, j, &f.src), 0);
	CU_ASSERT_STRING_EQUAL(kw_tdx_source_mode(f.src), "fixed");
	CU_ASSERT_EQUAL(kw_tdx_source_get(f.src, fmspc, KW_PCK_CA_PROCESSOR, 1, &c, &why), 0);
	tdx_collateral_free(c);
	c = NULL;
	json_object_set_new(j, "tcb_info_signature", json_string("00"));
	CU_ASSERT_NOT_EQUAL(kw_tdx_source_get(f.src, fmspc, KW_PCK_CA_PLATFORM, 1, &c, &why), 0);
	CU_ASSERT_PTR_NULL(c);
	CU_ASSERT(why != NULL);
	json_decref(j);
	CU_ASSERT_EQUAL(kw_tdx_source_get(NULL, fmspc, KW_PCK_CA_PLATFORM, 1, &c, &why), KW_ERR_INVALID_ARG);
	fixture_free(&f);
}

int
main(void)
{
	static CU_TestInfo tests[] = {
		{"table", test_table},
		{"check shapes", test_check_shapes},
		{"snp through the seam", test_snp_seam},
		{"tdx through the seam", test_tdx_seam},
		{"offline source: choice, bad files", test_offline_choice},
		{"fixed source", test_fixed_source},
		CU_TEST_INFO_NULL,
	};
	static CU_SuiteInfo suites[] = {
		{"verifier", NULL, NULL, NULL, NULL, tests},
		CU_SUITE_INFO_NULL,
	};

	return test_run_suites(suites);
}
