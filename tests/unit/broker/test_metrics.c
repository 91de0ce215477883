/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_metrics: the Prometheus text formatter (label and help escaping,
 * cumulative histogram buckets), the counter table as a scrape shows it
 * (route templates, the repository table and its bounds, key_labels), and
 * the TDX collateral readiness rule.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_helper.h"

#include "health.h"
#include "hsm_proto.h"
#include "metrics.h"

/* out's text as a NUL-terminated copy (freed by the caller). */
static char *
text_of(const struct kw_prom_out *out)
{
	char *s = malloc(out->len + 1);

	CU_ASSERT_FATAL(s != NULL);
	memcpy(s, out->p, out->len);
	s[out->len] = '\0';
	return s;
}

static void
test_escape(void)
{
	struct kw_prom_out out = { 0 };
	struct kw_prom_label l[2] = { { "a", "back\\slash \"quoted\"\nnext" }, { "b", "" } };
	char *s;

	kw_prom_header(&out, "m", "counter", "help with \\ and\nnewline \"kept\"");
	kw_prom_sample_u64(&out, "m", l, 2, 18446744073709551615ULL);
	kw_prom_sample_i64(&out, "g", NULL, 0, -3);
	CU_ASSERT_EQUAL(out.err, 0);
	s = text_of(&out);
	CHECKF(strcmp(s, "# HELP m help with \\\\ and\\nnewline \"kept\"\n"
	    "# TYPE m counter\n"
	    "m{a=\"back\\\\slash \\\"quoted\\\"\\nnext\",b=\"\"} 18446744073709551615\n"
	    "g -3\n") == 0, "got:\n%s", s);
	free(s);
	kw_prom_out_free(&out);
	CU_ASSERT(out.p == NULL && out.len == 0);
}

static void
test_histogram(void)
{
	static const uint64_t bounds[] = { 500, 1000, 2500000 };
	uint64_t counts[] = { 2, 0, 3, 1 };    /* not cumulative; the last: above 2.5 s */
	struct kw_prom_out out = { 0 };
	struct kw_prom_label l = { "op", "sign" };
	char *s;

	kw_prom_histogram(&out, "h", &l, 1, bounds, 3, counts, 3500001);
	s = text_of(&out);
	CHECKF(strcmp(s, "h_bucket{op=\"sign\",le=\"0.0005\"} 2\n"
	    "h_bucket{op=\"sign\",le=\"0.001\"} 2\n"
	    "h_bucket{op=\"sign\",le=\"2.5\"} 5\n"
	    "h_bucket{op=\"sign\",le=\"+Inf\"} 6\n"
	    "h_sum{op=\"sign\"} 3.500001\n"
	    "h_count{op=\"sign\"} 6\n") == 0, "got:\n%s", s);
	free(s);
	kw_prom_out_free(&out);
	/* whole seconds print without a fraction; no labels: only le */
	kw_prom_histogram(&out, "z", NULL, 0, (const uint64_t[]){ 1000000 }, 1,
	    (uint64_t[]){ 0, 0 }, 0);
	s = text_of(&out);
	CHECKF(strcmp(s, "z_bucket{le=\"1\"} 0\nz_bucket{le=\"+Inf\"} 0\nz_sum 0\nz_count 0\n") == 0,
	    "got:\n%s", s);
	free(s);
	kw_prom_out_free(&out);
}

static void
test_cap(void)
{
	struct kw_prom_out out = { 0 };
	char big[65536];

	memset(big, 'x', sizeof(big));
	for (size_t i = 0; i < KW_PROM_OUT_MAX / sizeof(big) + 1; i++)
		kw_prom_put(&out, big, sizeof(big));
	CU_ASSERT_EQUAL(out.err, KW_ERR_TOO_LARGE);
	CU_ASSERT(out.len <= KW_PROM_OUT_MAX);
	kw_prom_out_free(&out);
}

/* A scrape of the table as text. */
static char *
scrape(void)
{
	struct kw_prom_out out = { 0 };
	char *s;

	CU_ASSERT_FATAL(kw_metrics_format(1000, &out) == 0);
	s = text_of(&out);
	kw_prom_out_free(&out);
	return s;
}

static void
test_table(void)
{
	char *s, line[256];

	kw_metrics_init(0);
	kw_metrics_request(KW_MET_EP_RESOURCE, 403, 700);
	kw_metrics_request(KW_MET_EP_RESOURCE, 403, 30000000);    /* above every bound */
	kw_metrics_request(KW_MET_EP_AUTH, 299, 10);                /* a status not kept apart */
	kw_metrics_appraisal("snp", KW_MET_V_VERIFIED);
	kw_metrics_appraisal("no-such-tee", KW_MET_V_REJECTED);
	kw_metrics_release("prod/key/disk (v3)");
	kw_metrics_denial("prod/key/disk", KW_MET_D_POLICY);
	kw_metrics_denial("made-up/key/x", KW_MET_D_TOKEN);          /* not added: _unverified */
	kw_metrics_hsm_call(HSM_OP_RELEASE, KW_ERR_TIMEOUT, 5000000);
	kw_metrics_token_key(400);
	s = scrape();
	CHECKF(strstr(s, "keywarden_requests_total{endpoint=\"/kbs/v0/resource/{repository}/{type}/{tag}\","
	    "status=\"403\"} 2\n") != NULL, "%s", s);
	CHECKF(strstr(s, "keywarden_requests_total{endpoint=\"/kbs/v0/auth\",status=\"other\"} 1\n") != NULL,
	    "%s", s);
	CHECKF(strstr(s, "keywarden_request_duration_seconds_bucket{endpoint=\"/kbs/v0/resource/"
	    "{repository}/{type}/{tag}\",le=\"0.001\"} 1\n") != NULL, "%s", s);
	CHECKF(strstr(s, "keywarden_request_duration_seconds_bucket{endpoint=\"/kbs/v0/resource/"
	    "{repository}/{type}/{tag}\",le=\"+Inf\"} 2\n") != NULL, "%s", s);
	CHECKF(strstr(s, "keywarden_request_duration_seconds_sum{endpoint=\"/kbs/v0/resource/"
	    "{repository}/{type}/{tag}\"} 30.0007\n") != NULL, "%s", s);
	CHECKF(strstr(s, "keywarden_appraisals_total{tee=\"snp\",verdict=\"verified\"} 1\n") != NULL, "%s", s);
	CHECKF(strstr(s, "keywarden_appraisals_total{tee=\"other\",verdict=\"rejected\"} 1\n") != NULL, "%s", s);
	CHECKF(strstr(s, "keywarden_releases_total{repository=\"prod\"} 1\n") != NULL, "%s", s);
	CHECKF(strstr(s, "keywarden_denials_total{repository=\"prod\",reason=\"policy\"} 1\n") != NULL, "%s", s);
	CHECKF(strstr(s, "keywarden_denials_total{repository=\"_unverified\",reason=\"token\"} 1\n") != NULL,
	    "%s", s);
	CHECKF(strstr(s, "keywarden_hsm_calls_total{op=\"release\",result=\"timeout\"} 1\n") != NULL, "%s", s);
	CHECKF(strstr(s, "keywarden_token_key_age_seconds 600\n") != NULL, "%s", s);
	CHECKF(strstr(s, "disk") == NULL && strstr(s, "made-up") == NULL, "%s", s);
	/* counters never seen are not series; gauges are always there */
	CU_ASSERT(strstr(s, "verdict=\"unavailable\"") == NULL);
	CU_ASSERT(strstr(s, "keywarden_appraisals_in_flight 0\n") != NULL);
	snprintf(line, sizeof(line), "# TYPE keywarden_request_duration_seconds histogram\n");
	CU_ASSERT(strstr(s, line) != NULL);
	free(s);

	/* key_labels: the key (repository/type/tag) without the version */
	kw_metrics_init(1);
	kw_metrics_release("prod/key/disk (v3)");
	s = scrape();
	CHECKF(strstr(s, "keywarden_releases_total{key=\"prod/key/disk\"} 1\n") != NULL, "%s", s);
	CU_ASSERT(strstr(s, "keywarden_requests_total{") == NULL);    /* reset by init */
	free(s);
}

static void
test_repo_bound(void)
{
	char path[64], *s;

	kw_metrics_init(0);
	for (int i = 0; i < KW_MET_REPOS_MAX + 10; i++) {
		snprintf(path, sizeof(path), "r%d/key/k", i);
		kw_metrics_release(path);
	}
	kw_metrics_release("r0/key/k");    /* an early name keeps its own series */
	s = scrape();
	CU_ASSERT(strstr(s, "keywarden_releases_total{repository=\"r0\"} 2\n") != NULL);
	snprintf(path, sizeof(path), "repository=\"r%d\"} 1\n", KW_MET_REPOS_MAX - 1);
	CU_ASSERT(strstr(s, path) != NULL);
	snprintf(path, sizeof(path), "repository=\"r%d\"", KW_MET_REPOS_MAX);
	CU_ASSERT(strstr(s, path) == NULL);
	CU_ASSERT(strstr(s, "keywarden_releases_total{repository=\"_other\"} 10\n") != NULL);
	free(s);
}

static void
test_collateral_rule(void)
{
	CU_ASSERT(kw_health_collateral_ok(0, NULL, 0, 5));
	CU_ASSERT(!kw_health_collateral_ok(1, "offline", 0, 0));
	CU_ASSERT(kw_health_collateral_ok(1, "offline", 1, 0));
	CU_ASSERT(kw_health_collateral_ok(1, "pcs", 0, 0));      /* nothing asked for yet */
	CU_ASSERT(!kw_health_collateral_ok(1, "pccs", 1, 2));    /* failing since the last copy */
	CU_ASSERT(kw_health_collateral_ok(1, "pcs", 1, 0));
	/* through the table: a fetch clears the failures, a failure counts */
	kw_metrics_init(0);
	kw_metrics_collateral_failure();
	{
		int fresh;
		uint64_t f;

		kw_metrics_collateral_state(&fresh, &f);
		CU_ASSERT(fresh == 0 && f == 1);
		kw_metrics_collateral_fresh(900);
		kw_metrics_collateral_state(&fresh, &f);
		CU_ASSERT(fresh == 1 && f == 0);
	}
}

int
main(void)
{
	CU_pSuite s;

	if (test_begin() != 0)
		return 2;
	s = CU_add_suite("metrics", NULL, NULL);
	TEST_ADD(s, test_escape);
	TEST_ADD(s, test_histogram);
	TEST_ADD(s, test_cap);
	TEST_ADD(s, test_table);
	TEST_ADD(s, test_repo_bound);
	TEST_ADD(s, test_collateral_rule);
	return test_end(0);
}
