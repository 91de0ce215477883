/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kwctl report's pure part (tools/kwctl_report_build.c): aggregation of admin
 * documents and audit records into the report document, window statuses,
 * and the escaping of the Markdown and HTML renderings.
 */
#include <stdlib.h>
#include <string.h>

#include "kwctl_report.h"
#include "test_helper.h"

#define NOW 1800000000
#define M1 "111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111"
#define M2 "222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222"
#define M3 "333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333"
#define M4 "444444444444444444444444444444444444444444444444444444444444444444444444444444444444444444444444"
#define M9 "999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999"

/* kw_json_parse takes objects only: the record arrays are parsed here. */
static json_t *
arr(const char *text)
{
	json_t *j = json_loads(text, 0, NULL);

	CHECKF(json_is_array(j), "not a JSON array: %.60s", text);
	return j;
}

static void
fill(struct kwctl_report_in *in)
{
	memset(in, 0, sizeof(*in));
	in->now = NOW;
	in->days = 30;
	in->keys = test_json_text("{\"keys\":[{\"repository\":\"r\",\"type\":\"key\",\"tag\":\"a\","
	    "\"policy\":\"p\",\"state\":\"enabled\"},{\"repository\":\"r\",\"type\":\"key\",\"tag\":\"b\","
	    "\"state\":\"enabled\"}]}");
	in->policies = test_json_text("{\"policies\":[{\"repository\":\"r\",\"name\":\"p\","
	    "\"version\":2,\"document\":{\"reference_values\":{\"sets\":[\"s\"],"
	    "\"measurements\":[{\"value\":\"" M4 "\"}]}}}]}");
	/* entry 0 expired, 1 superseded (has not-after, a later entry follows), 2 open-ended,
	 * 3 not yet valid */
	in->refvals = test_json_text("{\"refvals\":[{\"repository\":\"r\",\"name\":\"s\",\"version\":3,"
	    "\"document\":{\"measurements\":["
	    "{\"value\":\"" M1 "\",\"not-after\":\"2020-01-01T00:00:00Z\"},"
	    "{\"value\":\"" M2 "\",\"name\":\"v2\",\"not-after\":\"2030-01-01T00:00:00Z\"},"
	    "{\"value\":\"" M3 "\",\"name\":\"v3\"},"
	    "{\"value\":\"" M9 "\",\"not-before\":\"2030-01-01T00:00:00Z\"}]}}]}");
	in->records = arr("["
	    "{\"kind\":\"appraisal\",\"at\":1,\"data\":{\"tee\":\"snp\",\"result\":\"affirming\","
	    "\"jti\":\"t1\",\"root\":\"test\",\"measurement\":\"" M2 "\"}},"
	    "{\"kind\":\"appraisal\",\"at\":1,\"data\":{\"tee\":\"snp\",\"result\":\"affirming\","
	    "\"jti\":\"t2\",\"root\":\"amd-milan\",\"measurement\":\"" M9 "\"}},"
	    "{\"kind\":\"release\",\"at\":2,\"data\":{\"repository\":\"r\",\"resource\":\"r/key/a\","
	    "\"jti\":\"t1\",\"measurement\":\"" M2 "\",\"refval\":{\"set\":\"s\",\"entry\":\"measurement[1]\"}}},"
	    "{\"kind\":\"release\",\"at\":3,\"data\":{\"repository\":\"r\",\"resource\":\"r/key/a\","
	    "\"jti\":\"t1\",\"measurement\":\"" M2 "\",\"refval\":{\"set\":\"s\",\"entry\":\"measurement[1]\"}}},"
	    "{\"kind\":\"release\",\"at\":3,\"data\":{\"repository\":\"r\",\"resource\":\"r/key/b\",\"policy\":\"p\","
	    "\"jti\":\"t2\",\"measurement\":\"" M9 "\",\"refval\":{\"set\":\"policy\",\"entry\":\"measurement[0]\"}}},"
	    "{\"kind\":\"denial\",\"at\":4,\"data\":{\"check\":\"token\",\"reason\":\"x|<y>\"}},"
	    "{\"kind\":\"denial\",\"at\":4,\"data\":{\"check\":\"token\",\"reason\":\"x|<y>\"}},"
	    "{\"kind\":\"denial\",\"at\":5,\"data\":{\"check\":\"policy\"}}]");
	in->rotations = arr("["
	    "{\"kind\":\"token_key_rotation\",\"at\":1799000000,\"data\":{\"kid\":\"k1\",\"action\":\"new\"}},"
	    "{\"kind\":\"token_key_rotation\",\"at\":1799500000,\"data\":{\"kid\":\"k2\",\"action\":\"new\"}},"
	    "{\"kind\":\"token_key_rotation\",\"at\":1799600000,\"data\":{\"kid\":\"k1\",\"action\":\"destroy\"}}]");
	in->checkpoint_first_at = 1799900000;
	in->checkpoint = test_json_text("{\"present\":true,\"signature\":\"unchecked\",\"detail\":\"d\"}");
}

static json_t *
find(json_t *arr, const char *k1, const char *v1, const char *k2, const char *v2)
{
	json_t *x;
	size_t i;

	json_array_foreach(arr, i, x) {
		const char *a = json_string_value(json_object_get(x, k1));
		const char *b = k2 != NULL ? json_string_value(json_object_get(x, k2)) : NULL;

		if (a != NULL && strcmp(a, v1) == 0 && (k2 == NULL || (b != NULL && strcmp(b, v2) == 0)))
			return x;
	}
	return NULL;
}

static json_int_t
ival(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

static void
t_aggregate(void)
{
	struct kwctl_report_in in;
	json_t *rep, *x;

	fill(&in);
	rep = kwctl_report_build(&in);
	CU_ASSERT_FATAL(rep != NULL);
	x = json_object_get(rep, "totals");
	CU_ASSERT(ival(x, "releases") == 3 && ival(x, "denials") == 3 && ival(x, "appraisals") == 2);
	CU_ASSERT(ival(x, "records") == 8);
	/* releases per key per reference value */
	x = find(json_object_get(rep, "releases"), "resource", "r/key/a", "entry", "measurement[1]");
	CU_ASSERT(x != NULL && ival(x, "count") == 2 && strcmp(json_string_value(
	    json_object_get(x, "set")), "s") == 0);
	x = find(json_object_get(rep, "releases"), "resource", "r/key/b", "set", "policy");
	CU_ASSERT(x != NULL && ival(x, "count") == 1);
	CU_ASSERT(json_array_size(json_object_get(rep, "releases")) == 2);
	/* denials by check and reason */
	x = find(json_object_get(rep, "denials"), "check", "token", NULL, NULL);
	CU_ASSERT(x != NULL && ival(x, "count") == 2);
	x = find(json_object_get(rep, "denials"), "check", "policy", NULL, NULL);
	CU_ASSERT(x != NULL && ival(x, "count") == 1 &&
	    strcmp(json_string_value(json_object_get(x, "reason")), "") == 0);
	/* windows */
	x = find(json_object_get(rep, "reference_values"), "value", M1, NULL, NULL);
	CU_ASSERT(x != NULL && strcmp(json_string_value(json_object_get(x, "status")), "expired") == 0);
	CU_ASSERT(x != NULL && json_is_true(json_object_get(x, "never_matched")));
	CU_ASSERT(x != NULL && ival(x, "not_after") == 1577836800);
	x = find(json_object_get(rep, "reference_values"), "value", M2, NULL, NULL);
	CU_ASSERT(x != NULL && strcmp(json_string_value(json_object_get(x, "status")), "superseded") == 0);
	CU_ASSERT(x != NULL && ival(x, "releases") == 2 && json_is_false(json_object_get(x, "never_matched")));
	CU_ASSERT(x != NULL && strcmp(json_string_value(json_object_get(x, "entry")), "measurement[1]") == 0);
	x = find(json_object_get(rep, "reference_values"), "value", M3, NULL, NULL);
	CU_ASSERT(x != NULL && strcmp(json_string_value(json_object_get(x, "status")), "open-ended") == 0);
	CU_ASSERT(x != NULL && json_is_null(json_object_get(x, "not_after")));
	x = find(json_object_get(rep, "reference_values"), "value", M9, NULL, NULL);
	CU_ASSERT(x != NULL && strcmp(json_string_value(json_object_get(x, "status")),
	    "not-yet-valid") == 0);
	/* a list inline in policy p: its entry names the policy */
	x = find(json_object_get(rep, "reference_values"), "value", M4, NULL, NULL);
	CU_ASSERT(x != NULL && strcmp(json_string_value(json_object_get(x, "set")), "policy:p") == 0);
	CU_ASSERT(x != NULL && ival(x, "releases") == 1 && ival(x, "set_version") == 2);
	CU_ASSERT(x != NULL && strcmp(json_string_value(json_object_get(x, "status")), "open-ended") == 0);
	CU_ASSERT(json_array_size(json_object_get(rep, "reference_values")) == 5);
	/* measurements seen versus allowed */
	x = find(json_object_get(rep, "measurements"), "value", M2, NULL, NULL);
	CU_ASSERT(x != NULL && json_is_true(json_object_get(x, "allowed")) && ival(x, "releases") == 2 &&
	    ival(x, "appraisals") == 1);
	CU_ASSERT(json_array_size(json_object_get(rep, "measurements")) == 2);
	/* releases to emulation roots: only t1's chain ends at "test" */
	x = json_object_get(rep, "emulation_releases");
	CU_ASSERT(json_array_size(x) == 1);
	x = find(x, "resource", "r/key/a", "root", "test");
	CU_ASSERT(x != NULL && ival(x, "count") == 2);
	/* token keys: k1 destroyed, k2 about 5 days old; the checkpoint key 1 day */
	x = json_object_get(rep, "signing_keys");
	CU_ASSERT(json_array_size(x) == 2);
	x = find(json_object_get(rep, "signing_keys"), "use", "token", "kid", "k2");
	CU_ASSERT(x != NULL && ival(x, "age_days") == 5 && ival(x, "seen_at") == 1799500000);
	x = find(json_object_get(rep, "signing_keys"), "use", "checkpoint", NULL, NULL);
	CU_ASSERT(x != NULL && ival(x, "age_days") == 1 && ival(x, "seen_at") == 1799900000);
	/* keys: one without a policy */
	x = find(json_object_get(rep, "keys"), "resource", "r/key/b", NULL, NULL);
	CU_ASSERT(x != NULL && json_is_null(json_object_get(x, "policy")));
	CU_ASSERT(strcmp(json_string_value(json_object_get(rep, "generated_at")),
	    "2027-01-15T08:00:00Z") == 0);
	json_decref(rep);
	kwctl_report_in_clear(&in);
}

#define H64A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define H64B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define H64C "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
#define H64D "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"

/* Reference values nested under rtmr, pcrs and eventlog, TDX mrtd, and config clauses. */
static void
t_nested_and_config(void)
{
	struct kwctl_report_in in;
	json_t *rep, *x, *rv, *cr;
	size_t i;

	fill(&in);
	json_decref(in.policies);
	in.policies = test_json_text("{\"policies\":["
	    "{\"repository\":\"r\",\"name\":\"tdx\",\"version\":1,\"document\":{"
	    "\"reference_values\":{\"mrtd\":[{\"value\":\"" M1 "\",\"name\":\"fw 1\"}],"
	    "\"rtmr\":{\"1\":[{\"value\":\"" M2 "\",\"not-after\":\"2020-01-01T00:00:00Z\"},"
	    "{\"value\":\"" M3 "\"}]}},"
	    "\"config\":{\"root_store\":{\"fingerprints\":[\"" H64A "\",\"" H64B "\"],\"exact\":false},"
	    "\"tls\":{\"min_version\":\"1.3\",\"cipher_suites\":[\"TLS_AES_256_GCM_SHA384\","
	    "\"TLS_CHACHA20_POLY1305_SHA256\"]},\"crypto\":{\"min_rsa_bits\":3072}}}},"
	    "{\"repository\":\"r\",\"name\":\"tpm\",\"version\":4,\"document\":{"
	    "\"reference_values\":{\"pcrs\":{\"sha256\":{\"7\":[{\"value\":\"" H64A "\","
	    "\"not-after\":\"2030-01-01T00:00:00Z\"},{\"value\":\"" H64B "\"}],"
	    "\"11\":[{\"value\":\"" H64C "\"}]}},"
	    "\"eventlog\":{\"kernel_sha256\":[{\"value\":\"" H64D "\",\"name\":\"cos-85\"}],"
	    "\"boot_loader_sha256\":[{\"value\":\"" H64C "\",\"not-before\":\"2030-01-01T00:00:00Z\"}]}},"
	    "\"config\":{\"root_store\":{\"digests\":[\"" M9 "\"]},\"tls\":{\"groups\":[\"X25519\"],"
	    "\"signature_algorithms\":[\"ed25519\"]}}}},"
	    "{\"repository\":\"r\",\"name\":\"p\",\"version\":2,\"document\":{"
	    "\"reference_values\":{\"sets\":[\"s\"]}}}]}");
	json_decref(in.records);
	in.records = arr("["
	    "{\"kind\":\"appraisal\",\"at\":1,\"data\":{\"tee\":\"tdx\",\"result\":\"affirming\","
	    "\"jti\":\"t1\",\"root\":\"intel\",\"measurement\":\"" M1 "\"}},"
	    "{\"kind\":\"release\",\"at\":2,\"data\":{\"repository\":\"r\",\"resource\":\"r/key/a\","
	    "\"policy\":\"tdx\",\"jti\":\"t1\",\"measurement\":\"" M1 "\","
	    "\"refval\":{\"set\":\"policy\",\"entry\":\"mrtd[0]\"}}},"
	    "{\"kind\":\"release\",\"at\":2,\"data\":{\"repository\":\"r\",\"resource\":\"r/key/a\","
	    "\"policy\":\"tdx\",\"refval\":{\"set\":\"policy\",\"entry\":\"rtmr1[1]\"}}},"
	    "{\"kind\":\"release\",\"at\":3,\"data\":{\"repository\":\"r\",\"resource\":\"r/key/b\","
	    "\"policy\":\"tpm\",\"refval\":{\"set\":\"policy\",\"entry\":\"pcrs.sha256.7[1]\"}}},"
	    "{\"kind\":\"release\",\"at\":3,\"data\":{\"repository\":\"r\",\"resource\":\"r/key/b\","
	    "\"policy\":\"tpm\",\"refval\":{\"set\":\"policy\",\"entry\":\"pcrs.sha256.7[1]\"}}}]");
	rep = kwctl_report_build(&in);
	CU_ASSERT_FATAL(rep != NULL);
	rv = json_object_get(rep, "reference_values");
	/* 4 of set s, mrtd 1, rtmr1 2, pcrs.sha256.7 2, pcrs.sha256.11 1, eventlog 2 */
	CHECKF(json_array_size(rv) == 12, "%zu reference-value rows", json_array_size(rv));
	x = find(rv, "set", "policy:tdx", "entry", "mrtd[0]");
	CU_ASSERT(x != NULL && ival(x, "releases") == 1 && strcmp(json_string_value(
	    json_object_get(x, "status")), "open-ended") == 0 && strcmp(json_string_value(
	    json_object_get(x, "name")), "fw 1") == 0);
	x = find(rv, "set", "policy:tdx", "entry", "rtmr1[0]");
	CU_ASSERT(x != NULL && strcmp(json_string_value(json_object_get(x, "status")), "expired") == 0 &&
	    json_is_true(json_object_get(x, "never_matched")) && ival(x, "not_after") == 1577836800);
	x = find(rv, "set", "policy:tdx", "entry", "rtmr1[1]");
	CU_ASSERT(x != NULL && ival(x, "releases") == 1 && strcmp(json_string_value(
	    json_object_get(x, "value")), M3) == 0);
	x = find(rv, "set", "policy:tpm", "entry", "pcrs.sha256.7[0]");
	CU_ASSERT(x != NULL && strcmp(json_string_value(json_object_get(x, "status")),
	    "superseded") == 0 && ival(x, "releases") == 0 && ival(x, "set_version") == 4);
	x = find(rv, "set", "policy:tpm", "entry", "pcrs.sha256.7[1]");
	CU_ASSERT(x != NULL && ival(x, "releases") == 2 && strcmp(json_string_value(
	    json_object_get(x, "value")), H64B) == 0);
	x = find(rv, "set", "policy:tpm", "entry", "pcrs.sha256.11[0]");
	CU_ASSERT(x != NULL && json_is_true(json_object_get(x, "never_matched")));
	x = find(rv, "set", "policy:tpm", "entry", "eventlog.kernel_sha256[0]");
	CU_ASSERT(x != NULL && strcmp(json_string_value(json_object_get(x, "name")), "cos-85") == 0);
	x = find(rv, "set", "policy:tpm", "entry", "eventlog.boot_loader_sha256[0]");
	CU_ASSERT(x != NULL && strcmp(json_string_value(json_object_get(x, "status")),
	    "not-yet-valid") == 0);
	/* the TDX appraisal's measurement is its mrtd: allowed */
	x = find(json_object_get(rep, "measurements"), "value", M1, NULL, NULL);
	CU_ASSERT(x != NULL && json_is_true(json_object_get(x, "allowed")) && ival(x, "releases") == 1);
	/* PCR values are not measurements: a PCR value seen as a measurement is not "allowed" */
	CU_ASSERT(find(json_object_get(rep, "measurements"), "value", H64B, NULL, NULL) == NULL);
	/* configuration requirements: one row per clause, "none" for policy p */
	cr = json_object_get(rep, "config_requirements");
	CHECKF(json_array_size(cr) == 8, "%zu config rows", json_array_size(cr));
	x = find(cr, "policy", "tdx", "clause", "root_store.fingerprints");
	CU_ASSERT(x != NULL && strcmp(json_string_value(json_object_get(x, "requirement")),
	    H64A ", " H64B " (at most these certificates)") == 0);
	x = find(cr, "policy", "tdx", "clause", "tls.min_version");
	CU_ASSERT(x != NULL && strcmp(json_string_value(json_object_get(x, "requirement")),
	    "TLS 1.3 or later") == 0);
	x = find(cr, "policy", "tdx", "clause", "tls.cipher_suites");
	CU_ASSERT(x != NULL && strcmp(json_string_value(json_object_get(x, "requirement")),
	    "TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256") == 0);
	x = find(cr, "policy", "tdx", "clause", "crypto.min_rsa_bits");
	CU_ASSERT(x != NULL && strcmp(json_string_value(json_object_get(x, "requirement")),
	    "at least 3072 bits") == 0);
	x = find(cr, "policy", "tpm", "clause", "root_store.digests");
	CU_ASSERT(x != NULL && strcmp(json_string_value(json_object_get(x, "requirement")), M9) == 0 &&
	    ival(x, "version") == 4);
	CU_ASSERT(find(cr, "policy", "tpm", "clause", "tls.groups") != NULL);
	CU_ASSERT(find(cr, "policy", "tpm", "clause", "tls.signature_algorithms") != NULL);
	x = find(cr, "policy", "p", "clause", "none");
	CU_ASSERT(x != NULL && strstr(json_string_value(json_object_get(x, "requirement")),
	    "not checked") != NULL);
	json_array_foreach(cr, i, x)
		CU_ASSERT(strcmp(json_string_value(json_object_get(x, "repository")), "r") == 0);
	/* the objective row names the section, and the section renders */
	CU_ASSERT(find(json_object_get(rep, "objectives"), "evidence", "Configuration requirements",
	    NULL, NULL) != NULL);
	{
		char *md = kwctl_report_md(rep);

		CU_ASSERT_FATAL(md != NULL);
		CHECKF(strstr(md, "\n## Configuration requirements\n") != NULL &&
		    strstr(md, "| r | tdx | 1 | tls.min_version | TLS 1.3 or later |") != NULL, "%s", md);
		free(md);
	}
	json_decref(rep);
	kwctl_report_in_clear(&in);
}

static void
t_render(void)
{
	struct kwctl_report_in in;
	json_t *rep;
	char *md, *html;

	fill(&in);
	rep = kwctl_report_build(&in);
	CU_ASSERT_FATAL(rep != NULL);
	md = kwctl_report_md(rep);
	html = kwctl_report_html(rep);
	CU_ASSERT_FATAL(md != NULL && html != NULL);
	/* a '|' in an untrusted reason cannot add a Markdown column */
	CHECKF(strstr(md, "| token | x\\|<y> | 2 |") != NULL, "%s", md);
	CU_ASSERT(strstr(md, "\n## Denials by reason\n") != NULL);
	CU_ASSERT(strstr(md, "| 2020-01-01T00:00:00Z | expired |") != NULL);
	/* markup in a reason is escaped in HTML */
	CHECKF(strstr(html, "<td>token</td><td>x|&lt;y&gt;</td><td>2</td>") != NULL, "%s", html);
	CU_ASSERT(strstr(html, "<y>") == NULL);
	CU_ASSERT(strstr(html, "<script") == NULL);
	CU_ASSERT(strstr(html, "<h2>Checkpoint verification</h2>") != NULL);
	free(md);
	free(html);
	json_decref(rep);
	kwctl_report_in_clear(&in);
}

static void
t_escape(void)
{
	char *e = kwctl_report_html_escape("a<b>&\"c'");

	CU_ASSERT_FATAL(e != NULL);
	CU_ASSERT_STRING_EQUAL(e, "a&lt;b&gt;&amp;&quot;c&#39;");
	free(e);
}

static CU_TestInfo tests[] = {
	{"aggregation, windows, joins", t_aggregate},
	{"reference values under rtmr, pcrs, eventlog; configuration requirements",
	    t_nested_and_config},
	{"Markdown and HTML renderings", t_render},
	{"HTML escaping", t_escape},
	CU_TEST_INFO_NULL,
};
static CU_SuiteInfo suites[] = {
	{"kwctl report", NULL, NULL, NULL, NULL, tests},
	CU_SUITE_INFO_NULL,
};

int
main(void)
{
	return test_run_suites(suites);
}
