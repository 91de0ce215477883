/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_policy: the release-policy language (broker/policy.c): validation,
 * every operator and combinator at its boundaries, debug, reference values
 * with windows, sets and TCB floors, the configuration manifest (root store,
 * TLS, key lengths), supersede with grace, lint, explain, hostile claims,
 * and the examples of docs/policy.md.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_helper.h"
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "kw_json.h"
#include "kw_util.h"
#include "policy.h"

#define T0 1800000000LL   /* 2027-01-15T08:00:00Z */
#define DAY 86400LL
#define MRTD_A "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecf"

static char MA[97], MB[97], MC[97];   /* three measurements */
static const char MZ[] =   /* an all-zero measurement block */
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000";

/* Parse JSON written with ' for " (none of the test strings needs a quote). */
static json_t * KW_PRINTF(1, 2)
jf(const char *fmt, ...)
{
	static char buf[200000];
	json_error_t e;
	va_list ap;
	json_t *v;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	for (char *p = buf; *p; p++)
		if (*p == '\'')
			*p = '"';
	v = json_loads(buf, JSON_REJECT_DUPLICATES, &e);
	if (v == NULL)
		fprintf(stderr, "test JSON: %s: %.200s\n", e.text, buf);
	CU_ASSERT_FATAL(v != NULL);
	return v;
}

static const char *
ts(int64_t t)
{
	static char b[4][21];
	static int i;

	i = (i + 1) % 4;
	kw_time_format_rfc3339(t, b[i]);
	return b[i];
}

/* Claims as the SNP verifier emits them, plus a configuration manifest. */
static json_t *
base_claims(void)
{
	return jf("{'tee':'snp','product':'genoa','signing_key':'vcek','root':'amd',"
	    "'measurement':'%s','host_data':'00','report_data':'00','debug':false,'vmpl':0,"
	    "'guest_svn':3,'policy':{'raw':'0x30000','debug':false,'migrate_ma':false,'smt':true,"
	    "'single_socket':false,'abi_major':0,'abi_minor':0},"
	    "'tcb':{'reported':{'raw':'0x0','bl':7,'tee':0,'snp':14,'ucode':55},"
	    "'current':{'raw':'0x0','bl':7,'tee':0,'snp':14,'ucode':55}},"
	    "'platform':{'chip_id':'00','version':3}}", MA);
}

static int
eval_at(const json_t *pol, const json_t *claims, int64_t now, kw_refset_fn fn, void *arg,
    json_t **ex)
{
	struct kw_policy_ctx ctx = { now, fn, arg };

	return kw_policy_eval(pol, claims, &ctx, ex);
}

static int
eval(const json_t *pol, const json_t *claims)
{
	return eval_at(pol, claims, T0, NULL, NULL, NULL);
}

static int
valid(const json_t *pol)
{
	char why[256];
	int r = kw_policy_validate(pol, why, sizeof(why));

	if (r != 0 && r != KW_ERR_INVALID_FORMAT)
		CU_FAIL("validate returned neither 0 nor KW_ERR_INVALID_FORMAT");
	return r == 0;
}

/* Validation fails and the reason contains want. */
static void
assert_invalid(json_t *pol, const char *want)
{
	char why[256] = "";

	CU_ASSERT_EQUAL(kw_policy_validate(pol, why, sizeof(why)), KW_ERR_INVALID_FORMAT);
	if (want != NULL && strstr(why, want) == NULL) {
		fprintf(stderr, "why '%s' lacks '%s'\n", why, want);
		CU_FAIL("reason does not name the member");
	}
	json_decref(pol);
}

static const char *
explain_str(const json_t *ex, const char *k)
{
	const char *s = json_string_value(json_object_get(ex, k));

	return s != NULL ? s : "";
}

/* Evaluation at T0 denies with this reason and a detail that contains detail (case i in messages). */
static void
assert_denied(const json_t *p, const json_t *c, size_t i, const char *reason, const char *detail)
{
	json_t *ex = NULL;
	int r = eval_at(p, c, T0, NULL, NULL, &ex);

	CHECKF(r == KW_ERR_DENIED, "case %zu", i);
	CHECKF(strcmp(explain_str(ex, "reason"), reason) == 0, "case %zu: reason %s", i, explain_str(ex, "reason"));
	CHECKF(strstr(explain_str(ex, "detail"), detail) != NULL, "case %zu: detail %s", i,
	    explain_str(ex, "detail"));
	json_decref(ex);
}

/* ---- validation ---- */

static void
test_validate_basics(void)
{
	json_t *p = jf("{'version':1}");

	CU_ASSERT(valid(p));
	json_decref(p);
	assert_invalid(jf("{}"), "version");
	assert_invalid(jf("{'version':2}"), "version");
	assert_invalid(jf("{'version':'1'}"), "version");
	assert_invalid(jf("{'version':1.0}"), "version");
	assert_invalid(jf("{'version':1,'allow_debug':1}"), "allow_debug");
	assert_invalid(jf("{'version':1,'immutable':true}"), "policy: unknown member");
	assert_invalid(jf("[1]"), "object");
	CU_ASSERT_EQUAL(kw_policy_validate(NULL, NULL, 0), KW_ERR_INVALID_FORMAT);
	/* why may be NULL; whylen 1 still terminates */
	{
		char w[1] = { 'x' };

		p = jf("{'version':1,'x':1}");
		CU_ASSERT_EQUAL(kw_policy_validate(p, w, sizeof(w)), KW_ERR_INVALID_FORMAT);
		CU_ASSERT_EQUAL(w[0], '\0');
		CU_ASSERT_EQUAL(kw_policy_validate(p, NULL, 0), KW_ERR_INVALID_FORMAT);
		json_decref(p);
	}
}

static void
test_unknown_members(void)
{
	assert_invalid(jf("{'version':1,'rules':{'allOf':[{'claim':'tee','op':'exists'}],'x':1}}"),
	    "rules: unknown member");
	assert_invalid(jf("{'version':1,'rules':{'anyOf':[{'claim':'tee','op':'exists'}],"
	    "'allOf':[]}}"), "rules: unknown member");
	assert_invalid(jf("{'version':1,'rules':{'allOf':[{'claim':'tee','op':'exists','x':1}]}}"),
	    "rules.allOf[0]: unknown member");
	assert_invalid(jf("{'version':1,'reference_values':{'measurements':[{'value':'%s'}],"
	    "'x':[]}}", MA), "reference_values: unknown member");
	assert_invalid(jf("{'version':1,'reference_values':{'measurements':[{'value':'%s',"
	    "'x':1}]}}", MA), "reference_values.measurements[0]: unknown member");
	assert_invalid(jf("{'version':1,'reference_values':{'measurements':[{'value':'%s'}],"
	    "'tcb_floors':{'snp':1,'x':1}}}", MA), "reference_values.tcb_floors: unknown member");
	assert_invalid(jf("{'version':1,'config':{'x':{}}}"), "config: unknown member");
	assert_invalid(jf("{'version':1,'config':{'root_store':{'digests':['%s'],'x':1}}}", MA),
	    "config.root_store: unknown member");
	assert_invalid(jf("{'version':1,'config':{'tls':{'min_version':'1.3','x':1}}}"),
	    "config.tls: unknown member");
	assert_invalid(jf("{'version':1,'config':{'crypto':{'min_rsa_bits':2048,'x':1}}}"),
	    "config.crypto: unknown member");
	/* unknown members in refval sets too */
	{
		json_t *d = jf("{'measurements':[],'x':1}");
		char why[128];

		CU_ASSERT_EQUAL(kw_refval_validate(d, why, sizeof(why)), KW_ERR_INVALID_FORMAT);
		CU_ASSERT_PTR_NOT_NULL(strstr(why, "refval: unknown member"));
		json_decref(d);
		d = jf("{'measurements':[{'value':'%s','y':2}]}", MA);
		CU_ASSERT_EQUAL(kw_refval_validate(d, why, sizeof(why)), KW_ERR_INVALID_FORMAT);
		CU_ASSERT_PTR_NOT_NULL(strstr(why, "measurements[0]: unknown member"));
		json_decref(d);
	}
}

/* A chain of (depth - 1) allOf around one leaf: the leaf is at depth `depth`. */
static json_t *
nested(int depth)
{
	json_t *r = jf("{'claim':'tee','op':'equals','value':'snp'}");

	for (int i = 1; i < depth; i++) {
		json_t *w = json_pack("{s:[o]}", i % 2 ? "allOf" : "anyOf", r);

		CU_ASSERT_FATAL(w != NULL);
		r = w;
	}
	return json_pack("{s:i, s:o}", "version", 1, "rules", r);
}

static void
test_depth(void)
{
	json_t *p = nested(8), *c = base_claims();

	CU_ASSERT(valid(p));
	CU_ASSERT_EQUAL(eval(p, c), 0);
	json_decref(p);
	p = nested(9);
	CU_ASSERT_EQUAL(eval(p, c), KW_ERR_INVALID_FORMAT);
	assert_invalid(p, "deeper than 8");
	json_decref(c);
}

static json_t *
many_rules(size_t leaves)
{
	json_t *a = json_array();

	for (size_t i = 0; i < leaves; i++)
		CU_ASSERT_FATAL(json_array_append_new(a, jf("{'claim':'vmpl','op':'lte',"
		    "'value':%zu}", i)) == 0);
	return json_pack("{s:i, s:{s:o}}", "version", 1, "rules", "anyOf", a);
}

static void
test_rule_count(void)
{
	json_t *p = many_rules(255);   /* 256 rules with the anyOf */

	CU_ASSERT(valid(p));
	json_decref(p);
	assert_invalid(many_rules(256), "more than 256 rules");
}

static void
test_oversized(void)
{
	size_t n = 65536 - 80;
	char *big = malloc(n + 1);
	json_t *p;
	size_t sz;

	CU_ASSERT_FATAL(big != NULL);
	memset(big, 'x', n);
	big[n] = '\0';
	p = json_pack("{s:i, s:{s:s, s:s, s:s}}", "version", 1, "rules", "claim", "tee", "op",
	    "equals", "value", big);
	sz = json_dumpb(p, NULL, 0, JSON_COMPACT);
	/* grow the value until the document is exactly the cap, then one byte over */
	big = realloc(big, n + 200);
	CU_ASSERT_FATAL(big != NULL);
	memset(big, 'x', n + 199);
	big[n + (KW_POLICY_MAX_BYTES - sz)] = '\0';
	json_object_set_new(json_object_get(p, "rules"), "value", json_string(big));
	CU_ASSERT_EQUAL(json_dumpb(p, NULL, 0, JSON_COMPACT), KW_POLICY_MAX_BYTES);
	CU_ASSERT(valid(p));
	big[n + (KW_POLICY_MAX_BYTES - sz)] = 'x';
	big[n + (KW_POLICY_MAX_BYTES - sz) + 1] = '\0';
	json_object_set_new(json_object_get(p, "rules"), "value", json_string(big));
	assert_invalid(p, "larger than 65536");
	free(big);
}

static void
test_rule_validation(void)
{
	static const char *const bad[] = {
		"{'claim':'tee','op':'matches','value':'x'}",
		"{'claim':'tee','op':'equals'}",
		"{'claim':'tee','value':1}",
		"{'op':'exists'}",
		"{'claim':'tee','op':'in','value':'snp'}",
		"{'claim':'tee','op':'in','value':[]}",
		"{'claim':'vmpl','op':'gte','value':'1'}",
		"{'claim':'vmpl','op':'lte','value':1.5}",
		"{'claim':'vmpl','op':'exists','value':1}",
		"{'claim':'Tee','op':'exists'}",
		"{'claim':'tee..x','op':'exists'}",
		"{'claim':'.tee','op':'exists'}",
		"{'claim':'tee.','op':'exists'}",
		"{'claim':'','op':'exists'}",
		"{'claim':'a.b.c.d.e.f.g.h.i','op':'exists'}",
		"{'claim':'tee x','op':'exists'}",
		"{'claim':7,'op':'exists'}",
		"{'allOf':[]}",
		"{'anyOf':{}}",
		"[]",
		"{}",
	};
	json_t *p;
	char seg[80];

	for (size_t i = 0; i < KW_ARRAY_SIZE(bad); i++) {
		json_t *r = jf("%s", bad[i]);

		assert_invalid(json_pack("{s:i, s:o}", "version", 1, "rules", r), "rules");
	}
	p = jf("{'version':1,'rules':{'claim':'a.b.c.d.e.f.g.h','op':'exists','value':false}}");
	CU_ASSERT(valid(p));
	json_decref(p);
	memset(seg, 'a', 64);
	seg[64] = '\0';
	p = jf("{'version':1,'rules':{'claim':'%s','op':'exists'}}", seg);
	CU_ASSERT(valid(p));
	json_decref(p);
	assert_invalid(jf("{'version':1,'rules':{'claim':'%sa','op':'exists'}}", seg), "claim");
	p = jf("{'version':1,'rules':{'claim':'config.root-store.digest','op':'exists'}}");
	CU_ASSERT(valid(p));
	json_decref(p);
}

static void
test_refval_validation(void)
{
	assert_invalid(jf("{'version':1,'reference_values':{}}"), "at least one measurement");
	assert_invalid(jf("{'version':1,'reference_values':{'measurements':[]}}"),
	    "at least one measurement");
	assert_invalid(jf("{'version':1,'reference_values':{'measurements':[{'value':'%.95s'}]}}",
	    MA), "value");
	assert_invalid(jf("{'version':1,'reference_values':{'measurements':[{'value':"
	    "'%.95sA'}]}}", MA), "value");
	assert_invalid(jf("{'version':1,'reference_values':{'measurements':[{'value':'%s'},"
	    "{'value':'%s'}]}}", MA, MA), "duplicate");
	assert_invalid(jf("{'version':1,'reference_values':{'measurements':[{'value':'%s',"
	    "'not-before':'yesterday'}]}}", MA), "not-before");
	assert_invalid(jf("{'version':1,'reference_values':{'measurements':[{'value':'%s',"
	    "'not-before':'%s','not-after':'%s'}]}}", MA, ts(T0), ts(T0 - 1)),
	    "not-after before not-before");
	assert_invalid(jf("{'version':1,'reference_values':{'measurements':[{'value':'%s',"
	    "'name':''}]}}", MA), "name");
	assert_invalid(jf("{'version':1,'reference_values':{'measurements':[{'value':'%s',"
	    "'name':'a\\u0001b'}]}}", MA), "name");
	assert_invalid(jf("{'version':1,'reference_values':{'sets':['..']}}"), "sets[0]");
	assert_invalid(jf("{'version':1,'reference_values':{'sets':['a','a']}}"), "duplicate");
	assert_invalid(jf("{'version':1,'reference_values':{'sets':['a'],'tcb_floors':{}}}"),
	    "tcb_floors");
	assert_invalid(jf("{'version':1,'reference_values':{'sets':['a'],'tcb_floors':"
	    "{'snp':-1}}}"), "tcb_floors.snp");
	assert_invalid(jf("{'version':1,'config':{}}"), "config");
	assert_invalid(jf("{'version':1,'config':{'root_store':{}}}"), "exactly one");
	assert_invalid(jf("{'version':1,'config':{'root_store':{'digests':['%s'],"
	    "'exact':true}}}", MA), "exact");
	assert_invalid(jf("{'version':1,'config':{'root_store':{'fingerprints':['%.64s'],"
	    "'exact':1}}}", MA), "exact");
	assert_invalid(jf("{'version':1,'config':{'root_store':{'fingerprints':['%s']}}}", MA),
	    "fingerprints[0]");
	assert_invalid(jf("{'version':1,'config':{'tls':{'min_version':'1.1'}}}"),
	    "min_version");
	assert_invalid(jf("{'version':1,'config':{'tls':{'cipher_suites':[]}}}"),
	    "cipher_suites");
	assert_invalid(jf("{'version':1,'config':{'tls':{'groups':['a b']}}}"), "groups[0]");
	assert_invalid(jf("{'version':1,'config':{'crypto':{'min_rsa_bits':0}}}"),
	    "min_rsa_bits");
	assert_invalid(jf("{'version':1,'config':{'crypto':{}}}"), "crypto");
	{
		json_t *p = jf("{'version':1,'reference_values':{'measurements':[{'value':'%s',"
		    "'not-before':'%s','not-after':'%s'}],'sets':['a'],'tcb_floors':{'bl':0,"
		    "'fmc':1}},'config':{'root_store':{'fingerprints':['%.64s'],'exact':false},"
		    "'tls':{'min_version':'1.2','groups':['X25519','P-256']},'crypto':"
		    "{'min_ec_bits':256}}}", MA, ts(T0), ts(T0), MA);

		CU_ASSERT(valid(p));
		json_decref(p);
	}
}

/* ---- operators and combinators ---- */

/* Evaluate one leaf rule against claims with claim `path` set to `v` (NULL: absent). */
static int
leaf_with(const char *op, const char *value, const char *path, json_t *v)
{
	json_t *c = base_claims(), *p;
	int r;

	if (v != NULL)
		json_object_set_new(c, path, v);
	else
		json_object_del(c, path);
	if (value != NULL)
		p = jf("{'version':1,'rules':{'claim':'%s','op':'%s','value':%s}}", path, op,
		    value);
	else
		p = jf("{'version':1,'rules':{'claim':'%s','op':'%s'}}", path, op);
	r = eval(p, c);
	json_decref(p);
	json_decref(c);
	return r;
}

static void
test_op_gte_lte(void)
{
	const int D = KW_ERR_DENIED;

	CU_ASSERT_EQUAL(leaf_with("gte", "10", "guest_svn", json_integer(10)), 0);
	CU_ASSERT_EQUAL(leaf_with("gte", "10", "guest_svn", json_integer(9)), D);
	CU_ASSERT_EQUAL(leaf_with("gte", "10", "guest_svn", json_integer(11)), 0);
	CU_ASSERT_EQUAL(leaf_with("gte", "10", "guest_svn", NULL), D);
	CU_ASSERT_EQUAL(leaf_with("gte", "10", "guest_svn", json_string("10")), D);
	CU_ASSERT_EQUAL(leaf_with("gte", "10", "guest_svn", json_real(10.0)), D);
	CU_ASSERT_EQUAL(leaf_with("gte", "10", "guest_svn", json_true()), D);
	CU_ASSERT_EQUAL(leaf_with("gte", "-9223372036854775808", "guest_svn",
	    json_integer(LLONG_MIN)), 0);
	CU_ASSERT_EQUAL(leaf_with("lte", "10", "guest_svn", json_integer(10)), 0);
	CU_ASSERT_EQUAL(leaf_with("lte", "10", "guest_svn", json_integer(9)), 0);
	CU_ASSERT_EQUAL(leaf_with("lte", "10", "guest_svn", json_integer(11)), D);
	CU_ASSERT_EQUAL(leaf_with("lte", "10", "guest_svn", NULL), D);
	CU_ASSERT_EQUAL(leaf_with("lte", "10", "guest_svn", json_null()), D);
	CU_ASSERT_EQUAL(leaf_with("lte", "9223372036854775807", "guest_svn",
	    json_integer(LLONG_MAX)), 0);
	CU_ASSERT_EQUAL(leaf_with("lte", "-1", "guest_svn", json_integer(LLONG_MIN)), 0);
}

static void
test_op_equals(void)
{
	const int D = KW_ERR_DENIED;

	CU_ASSERT_EQUAL(leaf_with("equals", "'snp'", "tee", json_string("snp")), 0);
	CU_ASSERT_EQUAL(leaf_with("equals", "'snp'", "tee", json_string("SNP")), D);
	CU_ASSERT_EQUAL(leaf_with("equals", "'snp'", "tee", json_string("snp ")), D);
	CU_ASSERT_EQUAL(leaf_with("equals", "'snp'", "tee", NULL), D);
	CU_ASSERT_EQUAL(leaf_with("equals", "'snp'", "tee", json_integer(1)), D);
	CU_ASSERT_EQUAL(leaf_with("equals", "1", "vmpl", json_integer(1)), 0);
	CU_ASSERT_EQUAL(leaf_with("equals", "1", "vmpl", json_integer(0)), D);
	CU_ASSERT_EQUAL(leaf_with("equals", "1", "vmpl", json_integer(2)), D);
	CU_ASSERT_EQUAL(leaf_with("equals", "1", "vmpl", json_real(1.0)), D);   /* exact JSON */
	CU_ASSERT_EQUAL(leaf_with("equals", "false", "debug", json_false()), 0);
	CU_ASSERT_EQUAL(leaf_with("equals", "null", "x", json_null()), 0);
	CU_ASSERT_EQUAL(leaf_with("equals", "{'a':[1,2]}", "x", jf("{'a':[1,2]}")), 0);
	CU_ASSERT_EQUAL(leaf_with("equals", "{'a':[1,2]}", "x", jf("{'a':[2,1]}")), D);
	/* notEquals: a missing claim is false too */
	CU_ASSERT_EQUAL(leaf_with("notEquals", "'tdx'", "tee", json_string("snp")), 0);
	CU_ASSERT_EQUAL(leaf_with("notEquals", "'snp'", "tee", json_string("snp")), D);
	CU_ASSERT_EQUAL(leaf_with("notEquals", "'tdx'", "tee", NULL), D);
	CU_ASSERT_EQUAL(leaf_with("notEquals", "1", "vmpl", json_string("1")), 0);
}

static void
test_op_in_exists(void)
{
	const int D = KW_ERR_DENIED;

	CU_ASSERT_EQUAL(leaf_with("in", "[0,1]", "vmpl", json_integer(0)), 0);
	CU_ASSERT_EQUAL(leaf_with("in", "[0,1]", "vmpl", json_integer(1)), 0);
	CU_ASSERT_EQUAL(leaf_with("in", "[0,1]", "vmpl", json_integer(2)), D);
	CU_ASSERT_EQUAL(leaf_with("in", "[0,1]", "vmpl", json_integer(-1)), D);
	CU_ASSERT_EQUAL(leaf_with("in", "[0,1]", "vmpl", NULL), D);
	CU_ASSERT_EQUAL(leaf_with("in", "[0,1]", "vmpl", json_string("0")), D);
	CU_ASSERT_EQUAL(leaf_with("in", "['genoa','milan']", "product", json_string("milan")), 0);
	CU_ASSERT_EQUAL(leaf_with("exists", NULL, "host_data", json_string("")), 0);
	CU_ASSERT_EQUAL(leaf_with("exists", NULL, "host_data", NULL), D);
	CU_ASSERT_EQUAL(leaf_with("exists", "true", "host_data", json_null()), 0);
	CU_ASSERT_EQUAL(leaf_with("exists", "false", "host_data", NULL), 0);
	CU_ASSERT_EQUAL(leaf_with("exists", "false", "host_data", json_string("x")), D);
}

static void
test_claim_paths(void)
{
	json_t *c = base_claims(), *p;

	p = jf("{'version':1,'rules':{'claim':'tcb.reported.snp','op':'gte','value':14}}");
	CU_ASSERT_EQUAL(eval(p, c), 0);
	json_decref(p);
	p = jf("{'version':1,'rules':{'claim':'tcb.reported.snp','op':'gte','value':15}}");
	CU_ASSERT_EQUAL(eval(p, c), KW_ERR_DENIED);
	json_decref(p);
	p = jf("{'version':1,'rules':{'claim':'policy.migrate_ma','op':'equals','value':false}}");
	CU_ASSERT_EQUAL(eval(p, c), 0);
	json_decref(p);
	/* through a non-object: missing, not an error */
	p = jf("{'version':1,'rules':{'claim':'tee.x','op':'exists','value':false}}");
	CU_ASSERT_EQUAL(eval(p, c), 0);
	json_decref(p);
	p = jf("{'version':1,'rules':{'claim':'tcb.reported.snp.x','op':'exists'}}");
	CU_ASSERT_EQUAL(eval(p, c), KW_ERR_DENIED);
	json_decref(p);
	json_decref(c);
}

static void
test_combinators(void)
{
	json_t *c = base_claims(), *p, *ex = NULL;
	const char *T = "{'claim':'tee','op':'equals','value':'snp'}";
	const char *F = "{'claim':'tee','op':'equals','value':'tdx'}";

	p = jf("{'version':1,'rules':{'allOf':[%s,%s]}}", T, T);
	CU_ASSERT_EQUAL(eval(p, c), 0);
	json_decref(p);
	p = jf("{'version':1,'rules':{'allOf':[%s,%s,%s]}}", T, F, F);
	CU_ASSERT_EQUAL(eval_at(p, c, T0, NULL, NULL, &ex), KW_ERR_DENIED);
	CU_ASSERT_STRING_EQUAL(explain_str(ex, "reason"), "rules");
	CU_ASSERT_STRING_EQUAL(explain_str(ex, "path"), "rules.allOf[1]");
	json_decref(ex);
	json_decref(p);
	p = jf("{'version':1,'rules':{'anyOf':[%s,%s]}}", F, T);
	CU_ASSERT_EQUAL(eval(p, c), 0);
	json_decref(p);
	p = jf("{'version':1,'rules':{'anyOf':[%s,%s]}}", F, F);
	CU_ASSERT_EQUAL(eval_at(p, c, T0, NULL, NULL, &ex), KW_ERR_DENIED);
	CU_ASSERT_STRING_EQUAL(explain_str(ex, "path"), "rules");
	CU_ASSERT_PTR_NOT_NULL(strstr(explain_str(ex, "detail"), "none of the 2"));
	json_decref(ex);
	json_decref(p);
	/* allOf[1] is an anyOf whose first alternative is an allOf that fails at [1] */
	p = jf("{'version':1,'rules':{'allOf':[%s,{'anyOf':[{'allOf':[%s,%s]},%s]}]}}", T, T, F, T);
	CU_ASSERT_EQUAL(eval(p, c), 0);
	json_decref(p);
	p = jf("{'version':1,'rules':{'allOf':[%s,{'allOf':[{'anyOf':[%s]},%s]}]}}", T, F, T);
	CU_ASSERT_EQUAL(eval_at(p, c, T0, NULL, NULL, &ex), KW_ERR_DENIED);
	CU_ASSERT_STRING_EQUAL(explain_str(ex, "path"), "rules.allOf[1].allOf[0]");
	json_decref(ex);
	json_decref(p);
	p = jf("{'version':1,'rules':{'allOf':[%s,{'allOf':[{'allOf':[%s]},%s]}]}}", T, F, T);
	CU_ASSERT_EQUAL(eval_at(p, c, T0, NULL, NULL, &ex), KW_ERR_DENIED);
	CU_ASSERT_STRING_EQUAL(explain_str(ex, "path"), "rules.allOf[1].allOf[0].allOf[0]");
	CU_ASSERT_PTR_NOT_NULL(strstr(explain_str(ex, "detail"), "tee equals \"tdx\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(explain_str(ex, "detail"), "claim is \"snp\""));
	json_decref(ex);
	json_decref(p);
	json_decref(c);
}

/* ---- debug ---- */

static void
test_debug(void)
{
	json_t *c = base_claims(), *p = jf("{'version':1}"), *pd = jf("{'version':1,"
	    "'allow_debug':true}"), *pf = jf("{'version':1,'allow_debug':false}"), *ex = NULL;

	CU_ASSERT_EQUAL(eval(p, c), 0);
	json_object_set_new(c, "debug", json_true());
	CU_ASSERT_EQUAL(eval_at(p, c, T0, NULL, NULL, &ex), KW_ERR_DENIED);
	CU_ASSERT_STRING_EQUAL(explain_str(ex, "reason"), "debug");
	json_decref(ex);
	CU_ASSERT_EQUAL(eval(pf, c), KW_ERR_DENIED);
	CU_ASSERT_EQUAL(eval(pd, c), 0);
	json_object_del(c, "debug");
	CU_ASSERT_EQUAL(eval(p, c), KW_ERR_DENIED);
	CU_ASSERT_EQUAL(eval(pd, c), 0);
	json_object_set_new(c, "debug", json_string("false"));
	CU_ASSERT_EQUAL(eval(p, c), KW_ERR_DENIED);
	json_object_set_new(c, "debug", json_integer(0));
	CU_ASSERT_EQUAL(eval(p, c), KW_ERR_DENIED);
	json_decref(p);
	json_decref(pd);
	json_decref(pf);
	json_decref(c);
}

/* ---- reference values ---- */

static void
test_refval_window(void)
{
	json_t *c = base_claims(), *ex = NULL;
	int64_t nb = T0, na = T0 + 30 * DAY;
	json_t *p = jf("{'version':1,'reference_values':{'measurements':[{'value':'%s'},"
	    "{'value':'%s','not-before':'%s','not-after':'%s','name':'build 7'}]}}", MB, MA,
	    ts(nb), ts(na));

	CU_ASSERT_EQUAL(eval_at(p, c, nb - 1, NULL, NULL, &ex), KW_ERR_DENIED);
	CU_ASSERT_STRING_EQUAL(explain_str(ex, "reason"), "window");
	CU_ASSERT_STRING_EQUAL(explain_str(ex, "path"), "reference_values.measurements[1]");
	CU_ASSERT_PTR_NOT_NULL(strstr(explain_str(ex, "detail"), "not valid before"));
	json_decref(ex);
	CU_ASSERT_EQUAL(eval_at(p, c, nb, NULL, NULL, &ex), 0);
	CU_ASSERT_STRING_EQUAL(explain_str(ex, "decision"), "allow");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_object_get(ex, "matched"),
	    "name")), "build 7");
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_object_get(ex, "matched"),
	    "index")), 1);
	json_decref(ex);
	CU_ASSERT_EQUAL(eval_at(p, c, na - 1, NULL, NULL, NULL), 0);
	CU_ASSERT_EQUAL(eval_at(p, c, na, NULL, NULL, &ex), KW_ERR_DENIED);
	CU_ASSERT_PTR_NOT_NULL(strstr(explain_str(ex, "detail"), "not valid since"));
	json_decref(ex);
	CU_ASSERT_EQUAL(eval_at(p, c, na + DAY, NULL, NULL, NULL), KW_ERR_DENIED);
	/* a measurement that is not listed at all */
	json_object_set_new(c, "measurement", json_string(MC));
	CU_ASSERT_EQUAL(eval_at(p, c, nb, NULL, NULL, &ex), KW_ERR_DENIED);
	CU_ASSERT_STRING_EQUAL(explain_str(ex, "reason"), "measurement");
	json_decref(ex);
	json_object_del(c, "measurement");
	CU_ASSERT_EQUAL(eval_at(p, c, nb, NULL, NULL, NULL), KW_ERR_DENIED);
	json_object_set_new(c, "measurement", json_integer(7));
	CU_ASSERT_EQUAL(eval_at(p, c, nb, NULL, NULL, NULL), KW_ERR_DENIED);
	/* unbounded entries: MB has no window at all */
	json_object_set_new(c, "measurement", json_string(MB));
	CU_ASSERT_EQUAL(eval_at(p, c, 0, NULL, NULL, NULL), 0);
	json_decref(p);
	json_decref(c);
}

/* A resolver over a JSON object of name → set document; "boom" fails. */
static int
resolver(void *arg, const char *name, json_t **ret)
{
	json_t *d;

	if (strcmp(name, "boom") == 0)
		return KW_ERR_UNAVAILABLE;
	if ((d = json_object_get(arg, name)) == NULL)
		return KW_ERR_NOT_FOUND;
	*ret = json_incref(d);
	return 0;
}

static void
test_refval_sets(void)
{
	json_t *c = base_claims(), *ex = NULL, *p;
	json_t *sets = jf("{'prod':{'measurements':[{'value':'%s','not-before':'%s'}],"
	    "'tcb_floors':{'snp':14}},'old':{'measurements':[{'value':'%s'}]},"
	    "'strict':{'measurements':[],'tcb_floors':{'snp':15}},"
	    "'bad':{'measurements':[{'value':'xyz'}]}}", MA, ts(T0), MB);

	p = jf("{'version':1,'reference_values':{'sets':['old','prod']}}");
	CU_ASSERT_EQUAL(eval_at(p, c, T0, resolver, sets, &ex), 0);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_object_get(ex, "matched"),
	    "set")), "prod");
	json_decref(ex);
	CU_ASSERT_EQUAL(eval_at(p, c, T0 - 1, resolver, sets, NULL), KW_ERR_DENIED);
	/* the set's floor is enforced */
	json_object_set_new(json_object_get(json_object_get(c, "tcb"), "reported"), "snp",
	    json_integer(13));
	CU_ASSERT_EQUAL(eval_at(p, c, T0, resolver, sets, &ex), KW_ERR_DENIED);
	CU_ASSERT_STRING_EQUAL(explain_str(ex, "reason"), "tcb_floor");
	CU_ASSERT_STRING_EQUAL(explain_str(ex, "path"), "set:prod.tcb_floors.snp");
	json_decref(ex);
	json_object_set_new(json_object_get(json_object_get(c, "tcb"), "reported"), "snp",
	    json_integer(14));
	json_decref(p);
	/* floors of a named set apply even when the match comes from elsewhere */
	p = jf("{'version':1,'reference_values':{'measurements':[{'value':'%s'}],"
	    "'sets':['strict']}}", MA);
	CU_ASSERT_EQUAL(eval_at(p, c, T0, resolver, sets, NULL), KW_ERR_DENIED);
	json_decref(p);
	/* a missing set denies, even though the measurement is listed */
	p = jf("{'version':1,'reference_values':{'measurements':[{'value':'%s'}],"
	    "'sets':['nope']}}", MA);
	CU_ASSERT_EQUAL(eval_at(p, c, T0, resolver, sets, &ex), KW_ERR_DENIED);
	CU_ASSERT_STRING_EQUAL(explain_str(ex, "reason"), "set");
	CU_ASSERT_STRING_EQUAL(explain_str(ex, "path"), "reference_values.sets[0]");
	json_decref(ex);
	json_decref(p);
	/* resolver failure, invalid stored set, no resolver: could not evaluate */
	ex = (json_t *)0x1;
	p = jf("{'version':1,'reference_values':{'sets':['prod','boom']}}");
	CU_ASSERT_EQUAL(eval_at(p, c, T0, resolver, sets, &ex), KW_ERR_UNAVAILABLE);
	CU_ASSERT_PTR_EQUAL(ex, (json_t *)0x1);
	CU_ASSERT_EQUAL(eval_at(p, c, T0, NULL, NULL, &ex), KW_ERR_INVALID_ARG);
	json_decref(p);
	p = jf("{'version':1,'reference_values':{'sets':['bad','prod']}}");
	CU_ASSERT_EQUAL(eval_at(p, c, T0, resolver, sets, &ex), KW_ERR_INVALID_FORMAT);
	CU_ASSERT_PTR_EQUAL(ex, (json_t *)0x1);
	json_decref(p);
	json_decref(sets);
	json_decref(c);
}

static void
test_tcb_floors(void)
{
	json_t *c = base_claims(), *rep = json_object_get(json_object_get(c, "tcb"), "reported");
	json_t *p = jf("{'version':1,'reference_values':{'measurements':[{'value':'%s'}],"
	    "'tcb_floors':{'bl':7,'tee':0,'snp':14,'ucode':55}}}", MA), *ex = NULL;

	CU_ASSERT_EQUAL(eval(p, c), 0);
	json_object_set_new(rep, "ucode", json_integer(54));
	CU_ASSERT_EQUAL(eval_at(p, c, T0, NULL, NULL, &ex), KW_ERR_DENIED);
	CU_ASSERT_STRING_EQUAL(explain_str(ex, "path"), "reference_values.tcb_floors.ucode");
	json_decref(ex);
	json_object_set_new(rep, "ucode", json_integer(56));
	CU_ASSERT_EQUAL(eval(p, c), 0);
	json_object_set_new(rep, "bl", json_integer(6));
	CU_ASSERT_EQUAL(eval(p, c), KW_ERR_DENIED);
	json_object_set_new(rep, "bl", json_string("7"));
	CU_ASSERT_EQUAL(eval(p, c), KW_ERR_DENIED);
	json_object_set_new(rep, "bl", json_integer(7));
	json_object_del(rep, "tee");
	CU_ASSERT_EQUAL(eval(p, c), KW_ERR_DENIED);
	json_object_set_new(rep, "tee", json_integer(0));
	CU_ASSERT_EQUAL(eval(p, c), 0);
	json_decref(p);
	/* fmc floor against a processor without fmc: missing component fails */
	p = jf("{'version':1,'reference_values':{'measurements':[{'value':'%s'}],"
	    "'tcb_floors':{'fmc':0}}}", MA);
	CU_ASSERT_EQUAL(eval(p, c), KW_ERR_DENIED);
	json_object_set_new(rep, "fmc", json_integer(0));
	CU_ASSERT_EQUAL(eval(p, c), 0);
	json_object_del(c, "tcb");
	CU_ASSERT_EQUAL(eval(p, c), KW_ERR_DENIED);
	json_decref(p);
	json_decref(c);
}

/* ---- configuration manifest ---- */

/* SHA-256 of a fresh self-signed certificate, 64 hex. */
static void
cert_fingerprint(const char *cn, char out[65])
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	unsigned char *der = NULL, md[32];
	unsigned int mdlen = 0;
	char *hex = NULL;
	int len;

	CU_ASSERT_FATAL(k != NULL && x != NULL && n != NULL);
	CU_ASSERT_FATAL(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0) == 1);
	CU_ASSERT_FATAL(X509_set_version(x, 2) == 1 && X509_set_subject_name(x, n) == 1 &&
	    X509_set_issuer_name(x, n) == 1 && X509_set_pubkey(x, k) == 1);
	CU_ASSERT_FATAL(ASN1_INTEGER_set(X509_get_serialNumber(x), 1) == 1);
	CU_ASSERT_FATAL(X509_gmtime_adj(X509_getm_notBefore(x), 0) != NULL &&
	    X509_gmtime_adj(X509_getm_notAfter(x), 86400) != NULL);
	CU_ASSERT_FATAL(X509_sign(x, k, EVP_sha256()) > 0);
	CU_ASSERT_FATAL((len = i2d_X509(x, &der)) > 0);
	CU_ASSERT_FATAL(EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(), NULL) == 1);
	CU_ASSERT_FATAL(kw_hex_encode(md, mdlen, &hex) == 0);
	memcpy(out, hex, 65);
	free(hex);
	OPENSSL_free(der);
	X509_NAME_free(n);
	X509_free(x);
	EVP_PKEY_free(k);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * The manifest's root-store member computed independently of policy.c:
 * sort a copy of the list, SHA-384 over each fingerprint + "\n".
 */
static json_t *
root_store(const char *const *fps, size_t n, char digest_out[97])
{
	const char *sorted[16];
	unsigned char md[48];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	json_t *a = json_array(), *o;
	char *hex = NULL;

	CU_ASSERT_FATAL(n <= 16 && ctx != NULL && a != NULL);
	memcpy(sorted, fps, n * sizeof(*fps));
	qsort(sorted, n, sizeof(*sorted), cmp_str);
	CU_ASSERT_FATAL(EVP_DigestInit_ex(ctx, EVP_sha384(), NULL) == 1);
	for (size_t i = 0; i < n; i++) {
		CU_ASSERT_FATAL(EVP_DigestUpdate(ctx, sorted[i], strlen(sorted[i])) == 1);
		CU_ASSERT_FATAL(EVP_DigestUpdate(ctx, "\n", 1) == 1);
		json_array_append_new(a, json_string(sorted[i]));
	}
	CU_ASSERT_FATAL(EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 48);
	CU_ASSERT_FATAL(kw_hex_encode(md, mdlen, &hex) == 0);
	o = json_pack("{s:o, s:s}", "fingerprints", a, "digest", hex);
	if (digest_out != NULL)
		memcpy(digest_out, hex, 97);
	free(hex);
	EVP_MD_CTX_free(ctx);
	return o;
}

static json_t *
claims_with_config(json_t *cfg)
{
	json_t *c = base_claims();

	json_object_set_new(c, "config", cfg);
	return c;
}

static void
test_root_store(void)
{
	char fa[65], fb[65], fc[65], fx[65], d_abc[97], d_cba[97], d_abcx[97];
	const char *abc[] = {fa, fb, fc}, *cba[] = {fc, fb, fa}, *abcx[] = {fa, fx, fb, fc};
	const char *ab[] = {fb, fa};
	json_t *pd, *pe, *pn, *c, *rs, *ex = NULL;

	cert_fingerprint("Root A", fa);
	cert_fingerprint("Root B", fb);
	cert_fingerprint("Root C", fc);
	cert_fingerprint("Evil CA", fx);
	json_decref(root_store(abc, 3, d_abc));
	json_decref(root_store(cba, 3, d_cba));
	json_decref(root_store(abcx, 4, d_abcx));
	CU_ASSERT_STRING_EQUAL(d_abc, d_cba);   /* order does not matter */
	CU_ASSERT_STRING_NOT_EQUAL(d_abc, d_abcx);
	pd = jf("{'version':1,'config':{'root_store':{'digests':['%s','%s']}}}", MA, d_abc);
	pe = jf("{'version':1,'config':{'root_store':{'fingerprints':['%s','%s','%s'],"
	    "'exact':true}}}", fc, fa, fb);
	pn = jf("{'version':1,'config':{'root_store':{'fingerprints':['%s','%s','%s'],"
	    "'exact':false}}}", fa, fb, fc);
	/* the exact store */
	c = claims_with_config(json_pack("{s:o}", "root-store", root_store(cba, 3, NULL)));
	CU_ASSERT_EQUAL(eval(pd, c), 0);
	CU_ASSERT_EQUAL(eval(pe, c), 0);
	CU_ASSERT_EQUAL(eval(pn, c), 0);
	json_decref(c);
	/* one extra CA */
	c = claims_with_config(json_pack("{s:o}", "root-store", root_store(abcx, 4, NULL)));
	CU_ASSERT_EQUAL(eval_at(pd, c, T0, NULL, NULL, &ex), KW_ERR_DENIED);
	CU_ASSERT_STRING_EQUAL(explain_str(ex, "reason"), "root_store");
	json_decref(ex);
	CU_ASSERT_EQUAL(eval(pe, c), KW_ERR_DENIED);
	CU_ASSERT_EQUAL(eval_at(pn, c, T0, NULL, NULL, &ex), KW_ERR_DENIED);
	CU_ASSERT_PTR_NOT_NULL(strstr(explain_str(ex, "detail"), "not allowed"));
	json_decref(ex);
	json_decref(c);
	/* one removed: exact denies, non-exact allows; the digest differs */
	c = claims_with_config(json_pack("{s:o}", "root-store", root_store(ab, 2, NULL)));
	CU_ASSERT_EQUAL(eval(pd, c), KW_ERR_DENIED);
	CU_ASSERT_EQUAL(eval_at(pe, c, T0, NULL, NULL, &ex), KW_ERR_DENIED);
	CU_ASSERT_PTR_NOT_NULL(strstr(explain_str(ex, "detail"), "lacks 1"));
	json_decref(ex);
	CU_ASSERT_EQUAL(eval(pn, c), 0);
	json_decref(c);
	/* a manifest whose digest disagrees with its fingerprints */
	rs = root_store(abc, 3, NULL);
	json_object_set_new(rs, "digest", json_string(d_abcx));
	c = claims_with_config(json_pack("{s:o}", "root-store", rs));
	CU_ASSERT_EQUAL(eval(pe, c), KW_ERR_DENIED);
	json_decref(c);
	/* fingerprints not sorted → malformed manifest */
	c = claims_with_config(jf("{'root-store':{'fingerprints':['%s','%s','%s']}}",
	    strcmp(fa, fb) > 0 ? fa : fb, strcmp(fa, fb) > 0 ? fb : fa, fc));
	CU_ASSERT_EQUAL(eval(pe, c), KW_ERR_DENIED);
	json_decref(c);
	/* digest only, fingerprints only, nothing */
	c = claims_with_config(jf("{'root-store':{'digest':'%s'}}", d_abc));
	CU_ASSERT_EQUAL(eval(pd, c), 0);
	CU_ASSERT_EQUAL(eval(pe, c), KW_ERR_DENIED);
	json_decref(c);
	c = claims_with_config(jf("{'tls':{}}"));
	CU_ASSERT_EQUAL(eval(pd, c), KW_ERR_DENIED);
	json_decref(c);
	c = base_claims();
	CU_ASSERT_EQUAL(eval(pd, c), KW_ERR_DENIED);
	CU_ASSERT_EQUAL(eval(pn, c), KW_ERR_DENIED);
	json_decref(c);
	json_decref(pd);
	json_decref(pe);
	json_decref(pn);
}

#define TLS13_ONLY "{'version':1,'config':{'tls':{'min_version':'1.3','cipher_suites':" \
	"['TLS_AES_256_GCM_SHA384','TLS_AES_128_GCM_SHA256','TLS_CHACHA20_POLY1305_SHA256']," \
	"'groups':['X25519','secp384r1']}}}"

static int
tls_eval(const char *tls)
{
	json_t *p = jf(TLS13_ONLY), *c = claims_with_config(jf("{'tls':%s}", tls));
	int r = eval(p, c);

	json_decref(p);
	json_decref(c);
	return r;
}

static void
test_tls(void)
{
	const int D = KW_ERR_DENIED;

	CU_ASSERT_EQUAL(tls_eval("{'min_version':'1.3','cipher_suites':['TLS_AES_256_GCM_SHA384',"
	    "'TLS_AES_128_GCM_SHA256'],'groups':['X25519']}"), 0);
	CU_ASSERT_EQUAL(tls_eval("{'min_version':'1.2','cipher_suites':['TLS_AES_256_GCM_SHA384'],"
	    "'groups':['X25519']}"), D);
	CU_ASSERT_EQUAL(tls_eval("{'min_version':'1.3','cipher_suites':['TLS_AES_256_GCM_SHA384',"
	    "'ECDHE-RSA-AES128-SHA'],'groups':['X25519']}"), D);
	CU_ASSERT_EQUAL(tls_eval("{'min_version':'1.3','cipher_suites':['TLS_AES_256_GCM_SHA384'],"
	    "'groups':['X25519','ffdhe2048']}"), D);
	CU_ASSERT_EQUAL(tls_eval("{'min_version':'1.3','cipher_suites':[],'groups':['X25519']}"),
	    D);
	CU_ASSERT_EQUAL(tls_eval("{'cipher_suites':['TLS_AES_256_GCM_SHA384'],'groups':"
	    "['X25519']}"), D);
	CU_ASSERT_EQUAL(tls_eval("{'min_version':'TLSv1.3','cipher_suites':"
	    "['TLS_AES_256_GCM_SHA384'],'groups':['X25519']}"), D);
	CU_ASSERT_EQUAL(tls_eval("{'min_version':'1.4','cipher_suites':"
	    "['TLS_AES_256_GCM_SHA384'],'groups':['X25519']}"), D);
	CU_ASSERT_EQUAL(tls_eval("{'min_version':1.3,'cipher_suites':"
	    "['TLS_AES_256_GCM_SHA384'],'groups':['X25519']}"), D);
	CU_ASSERT_EQUAL(tls_eval("{'min_version':'1.3','cipher_suites':'TLS_AES_256_GCM_SHA384',"
	    "'groups':['X25519']}"), D);
	CU_ASSERT_EQUAL(tls_eval("{'min_version':'1.3','cipher_suites':[7],'groups':['X25519']}"),
	    D);
	/* a 1.2 floor accepts 1.2 and 1.3, not 1.1 */
	{
		json_t *p = jf("{'version':1,'config':{'tls':{'min_version':'1.2'}}}"), *c;

		c = claims_with_config(jf("{'tls':{'min_version':'1.2'}}"));
		CU_ASSERT_EQUAL(eval(p, c), 0);
		json_decref(c);
		c = claims_with_config(jf("{'tls':{'min_version':'1.3'}}"));
		CU_ASSERT_EQUAL(eval(p, c), 0);
		json_decref(c);
		c = claims_with_config(jf("{'tls':{'min_version':'1.1'}}"));
		CU_ASSERT_EQUAL(eval(p, c), D);
		json_decref(c);
		json_decref(p);
	}
}

static void
test_crypto(void)
{
	json_t *p = jf("{'version':1,'config':{'crypto':{'min_rsa_bits':3072,'min_ec_bits':256,"
	    "'min_symmetric_bits':128}}}"), *c, *ex = NULL;
	static const struct { const char *cfg; int want; } cases[] = {
		{"{'rsa_bits':3072,'ec_bits':256,'symmetric_bits':128}", 0},
		{"{'rsa_bits':3073,'ec_bits':384,'symmetric_bits':256}", 0},
		{"{'rsa_bits':3071,'ec_bits':256,'symmetric_bits':128}", KW_ERR_DENIED},
		{"{'rsa_bits':2048,'ec_bits':256,'symmetric_bits':128}", KW_ERR_DENIED},
		{"{'rsa_bits':3072,'ec_bits':255,'symmetric_bits':128}", KW_ERR_DENIED},
		{"{'rsa_bits':3072,'ec_bits':256,'symmetric_bits':127}", KW_ERR_DENIED},
		{"{'ec_bits':256,'symmetric_bits':128}", KW_ERR_DENIED},
		{"{'rsa_bits':'4096','ec_bits':256,'symmetric_bits':128}", KW_ERR_DENIED},
		{"{'rsa_bits':4096.0,'ec_bits':256,'symmetric_bits':128}", KW_ERR_DENIED},
	};

	for (size_t i = 0; i < KW_ARRAY_SIZE(cases); i++) {
		c = claims_with_config(jf("{'crypto':%s}", cases[i].cfg));
		CU_ASSERT_EQUAL(eval(p, c), cases[i].want);
		json_decref(c);
	}
	c = claims_with_config(jf("{'crypto':{'rsa_bits':2048,'ec_bits':256,'symmetric_bits':128}}"));
	CU_ASSERT_EQUAL(eval_at(p, c, T0, NULL, NULL, &ex), KW_ERR_DENIED);
	CU_ASSERT_STRING_EQUAL(explain_str(ex, "reason"), "crypto");
	CU_ASSERT_STRING_EQUAL(explain_str(ex, "path"), "config.crypto.min_rsa_bits");
	json_decref(ex);
	json_decref(c);
	json_decref(p);
}

/* ---- supersede, durations ---- */

static void
test_supersede_grace(void)
{
	json_t *set = jf("{'measurements':[{'value':'%s','not-before':'%s','name':'v1'},"
	    "{'value':'%s'}],'tcb_floors':{'snp':1}}", MA, ts(T0 - 100 * DAY), MC);
	json_t *nd = NULL, *sets, *p, *c = base_claims(), *ex = NULL, *e;
	int64_t grace = 0, t1 = T0;
	char upper[97];

	CU_ASSERT_EQUAL(kw_duration_parse("7d", &grace), 0);
	CU_ASSERT_EQUAL(kw_refval_supersede(set, MA, MB, t1, grace, &nd), 0);
	CU_ASSERT_FATAL(nd != NULL);
	CU_ASSERT_EQUAL(kw_refval_validate(nd, NULL, 0), 0);
	e = json_array_get(json_object_get(nd, "measurements"), 0);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(e, "not-after")),
	    ts(t1 + 7 * DAY));
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(e, "name")), "v1");
	e = json_array_get(json_object_get(nd, "measurements"), 2);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(e, "value")), MB);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(e, "not-before")), ts(t1));
	CU_ASSERT_PTR_NOT_NULL(json_object_get(nd, "tcb_floors"));
	/* the input is untouched */
	CU_ASSERT_EQUAL(json_array_size(json_object_get(set, "measurements")), 2);
	sets = json_pack("{s:O}", "app", nd);
	p = jf("{'version':1,'reference_values':{'sets':['app']}}");
	/* the old build until the grace ends, then never */
	CU_ASSERT_EQUAL(eval_at(p, c, t1, resolver, sets, NULL), 0);
	CU_ASSERT_EQUAL(eval_at(p, c, t1 + 7 * DAY - 1, resolver, sets, NULL), 0);
	CU_ASSERT_EQUAL(eval_at(p, c, t1 + 7 * DAY, resolver, sets, &ex), KW_ERR_DENIED);
	CU_ASSERT_STRING_EQUAL(explain_str(ex, "reason"), "window");
	CU_ASSERT_STRING_EQUAL(explain_str(ex, "path"), "set:app.measurements[0]");
	json_decref(ex);
	/* the new build from now on */
	json_object_set_new(c, "measurement", json_string(MB));
	CU_ASSERT_EQUAL(eval_at(p, c, t1 - 1, resolver, sets, NULL), KW_ERR_DENIED);
	CU_ASSERT_EQUAL(eval_at(p, c, t1, resolver, sets, NULL), 0);
	CU_ASSERT_EQUAL(eval_at(p, c, t1 + 365 * DAY, resolver, sets, NULL), 0);
	json_decref(p);
	json_decref(sets);

	/* superseding again later never extends the old window; new already present */
	{
		json_t *nd2 = NULL;

		CU_ASSERT_EQUAL(kw_refval_supersede(nd, MA, MB, t1 + DAY, 30 * DAY, &nd2), 0);
		CU_ASSERT_EQUAL(json_array_size(json_object_get(nd2, "measurements")), 3);
		e = json_array_get(json_object_get(nd2, "measurements"), 0);
		CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(e, "not-after")),
		    ts(t1 + 7 * DAY));
		json_decref(nd2);
		nd2 = NULL;
		CU_ASSERT_EQUAL(kw_refval_supersede(nd, MA, MB, t1 + DAY, 0, &nd2), 0);
		e = json_array_get(json_object_get(nd2, "measurements"), 0);
		CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(e, "not-after")),
		    ts(t1 + DAY));
		json_decref(nd2);
	}
	json_decref(nd);
	/* superseding before the old one began leaves an empty window */
	nd = NULL;
	CU_ASSERT_EQUAL(kw_refval_supersede(set, MA, MB, T0 - 200 * DAY, 0, &nd), 0);
	e = json_array_get(json_object_get(nd, "measurements"), 0);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(e, "not-after")),
	    ts(T0 - 100 * DAY));
	json_decref(nd);
	/* upper-case hex is accepted and stored lower-case */
	for (size_t i = 0; i < 96; i++)
		upper[i] = (char)(MB[i] >= 'a' ? MB[i] - 'a' + 'A' : MB[i]);
	upper[96] = '\0';
	nd = NULL;
	CU_ASSERT_EQUAL(kw_refval_supersede(set, MC, upper, T0, 0, &nd), 0);
	e = json_array_get(json_object_get(nd, "measurements"), 2);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(e, "value")), MB);
	json_decref(nd);
	/* errors leave *ret_doc alone */
	nd = (json_t *)0x1;
	CU_ASSERT_EQUAL(kw_refval_supersede(set, MB, MC, T0, 0, &nd), KW_ERR_NOT_FOUND);
	CU_ASSERT_EQUAL(kw_refval_supersede(set, MA, MA, T0, 0, &nd), KW_ERR_INVALID_ARG);
	CU_ASSERT_EQUAL(kw_refval_supersede(set, MA, "abc", T0, 0, &nd), KW_ERR_INVALID_ARG);
	CU_ASSERT_EQUAL(kw_refval_supersede(set, MA, MB, T0, -1, &nd), KW_ERR_INVALID_ARG);
	CU_ASSERT_EQUAL(kw_refval_supersede(set, MA, MB, T0, KW_DURATION_MAX + 1, &nd),
	    KW_ERR_INVALID_ARG);
	CU_ASSERT_EQUAL(kw_refval_supersede(c, MA, MB, T0, 0, &nd), KW_ERR_INVALID_FORMAT);
	CU_ASSERT_PTR_EQUAL(nd, (json_t *)0x1);
	json_decref(set);
	json_decref(c);
}

static void
test_duration(void)
{
	static const struct { const char *s; int64_t v; } ok[] = {
		{"7d", 7 * DAY}, {"12h", 43200}, {"30m", 1800}, {"45s", 45}, {"0s", 0},
		{"3650d", KW_DURATION_MAX}, {"315360000s", KW_DURATION_MAX},
	};
	static const char *const bad[] = {"", "d", "7", "7w", "-1d", "+1d", " 7d", "7d ", "1d12h",
		"7D", "3651d", "315360001s", "99999999999d", "1.5h", "0x10s"};
	int64_t v;

	for (size_t i = 0; i < KW_ARRAY_SIZE(ok); i++) {
		v = -1;
		CU_ASSERT_EQUAL(kw_duration_parse(ok[i].s, &v), 0);
		CU_ASSERT_EQUAL(v, ok[i].v);
	}
	for (size_t i = 0; i < KW_ARRAY_SIZE(bad); i++) {
		v = -7;
		CU_ASSERT_EQUAL(kw_duration_parse(bad[i], &v), KW_ERR_INVALID_FORMAT);
		CU_ASSERT_EQUAL(v, -7);
	}
	CU_ASSERT_EQUAL(kw_duration_parse(NULL, &v), KW_ERR_INVALID_FORMAT);
}

/* ---- lint ---- */

static json_t *
lint(const json_t *p, int64_t max_age, kw_refset_fn fn, void *arg)
{
	struct kw_policy_ctx ctx = { T0, fn, arg };
	json_t *w = NULL;

	CU_ASSERT_EQUAL_FATAL(kw_policy_lint(p, &ctx, max_age, &w), 0);
	CU_ASSERT_FATAL(json_is_array(w));
	return w;
}

/* Number of warnings whose text starts with code. */
static size_t
count_code(const json_t *w, const char *code)
{
	size_t n = 0;

	for (size_t i = 0; i < json_array_size(w); i++)
		if (strncmp(json_string_value(json_array_get(w, i)), code, strlen(code)) == 0 &&
		    json_string_value(json_array_get(w, i))[strlen(code)] == ':')
			n++;
	return n;
}

static void
test_lint(void)
{
	json_t *sets = jf("{'fresh':{'measurements':[{'value':'%s','not-before':'%s',"
	    "'not-after':'%s'}],'tcb_floors':{'bl':1,'tee':1,'snp':1,'ucode':1}},"
	    "'loose':{'measurements':[{'value':'%s'}],'tcb_floors':{'snp':0}},"
	    "'bad':{'measurements':7}}", MA, ts(T0 - DAY), ts(T0 + 30 * DAY), MB);
	json_t *p, *w;
	struct kw_policy_ctx ctx = { T0, resolver, sets };

	/* a clean policy has no warnings */
	p = jf("{'version':1,'reference_values':{'measurements':[{'value':'%s','not-before':'%s',"
	    "'not-after':'%s'},{'value':'%s','not-before':'%s','not-after':'%s'}],"
	    "'tcb_floors':{'bl':7,'tee':1,'snp':14,'ucode':55}}}", MA, ts(T0 - 10 * DAY),
	    ts(T0 + 10 * DAY), MC, ts(T0 - 400 * DAY), ts(T0 - DAY));
	w = lint(p, 90 * DAY, NULL, NULL);
	CU_ASSERT_EQUAL(json_array_size(w), 0);   /* MC expired long ago: it admits nothing */
	json_decref(w);
	/* stale at a shorter max age; disabled age check */
	w = lint(p, 5 * DAY, NULL, NULL);
	CU_ASSERT_EQUAL(count_code(w, "stale-measurement"), 1);
	CU_ASSERT_EQUAL(json_array_size(w), 1);
	json_decref(w);
	w = lint(p, 0, NULL, NULL);
	CU_ASSERT_EQUAL(json_array_size(w), 0);
	json_decref(w);
	w = lint(p, INT64_MAX, NULL, NULL);   /* no overflow: nothing is that old */
	CU_ASSERT_EQUAL(json_array_size(w), 0);
	json_decref(w);
	{
		struct kw_policy_ctx early = { INT64_MIN, NULL, NULL };

		w = NULL;
		CU_ASSERT_EQUAL(kw_policy_lint(p, &early, INT64_MAX, &w), 0);
		CU_ASSERT_EQUAL(count_code(w, "stale-measurement"), 0);
		json_decref(w);
	}
	json_decref(p);
	/* the policy that admits any non-debug guest */
	p = jf("{'version':1}");
	w = lint(p, DAY, NULL, NULL);
	CU_ASSERT_EQUAL(count_code(w, "allows-any-guest"), 1);
	CU_ASSERT_EQUAL(count_code(w, "no-reference-values"), 1);
	CU_ASSERT_EQUAL(count_code(w, "tcb-floor-missing"), 4);
	CU_ASSERT_EQUAL(count_code(w, "allow-debug"), 0);
	CU_ASSERT_EQUAL(count_code(w, "allow-test-roots"), 0);
	json_decref(w);
	json_decref(p);
	p = jf("{'version':1,'allow_debug':true,'allow_test_roots':true,"
	    "'rules':{'claim':'tee','op':'exists'}}");
	w = lint(p, DAY, NULL, NULL);
	CU_ASSERT_EQUAL(count_code(w, "allow-debug"), 1);
	CU_ASSERT_EQUAL(count_code(w, "allow-test-roots"), 1);
	CU_ASSERT_EQUAL(count_code(w, "allows-any-guest"), 0);
	json_decref(w);
	json_decref(p);
	/* entries without windows, floors zero or missing, sets missing / invalid / loose */
	p = jf("{'version':1,'reference_values':{'measurements':[{'value':'%s','name':'old'}],"
	    "'sets':['fresh','loose','gone','bad'],'tcb_floors':{'tee':0}}}", MC);
	w = lint(p, 90 * DAY, resolver, sets);
	CU_ASSERT_EQUAL(count_code(w, "no-not-before"), 2);   /* MC and loose's MB */
	CU_ASSERT_EQUAL(count_code(w, "no-not-after"), 2);
	CU_ASSERT_EQUAL(count_code(w, "tcb-floor-zero"), 2);  /* tee here, snp in loose */
	CU_ASSERT_EQUAL(count_code(w, "tcb-floor-missing"), 0);   /* fresh has all four */
	CU_ASSERT_EQUAL(count_code(w, "set-missing"), 1);
	CU_ASSERT_EQUAL(count_code(w, "set-invalid"), 1);
	CU_ASSERT_EQUAL(count_code(w, "stale-measurement"), 0);
	CU_ASSERT_EQUAL(count_code(w, "no-reference-values"), 0);
	json_decref(w);
	w = lint(p, 90 * DAY, NULL, NULL);
	CU_ASSERT_EQUAL(count_code(w, "set-unresolved"), 4);
	CU_ASSERT_EQUAL(count_code(w, "tcb-floor-missing"), 3);   /* only tee is set here */
	json_decref(w);
	json_decref(p);
	/* resolver errors, invalid policies, bad arguments */
	p = jf("{'version':1,'reference_values':{'sets':['boom']}}");
	w = (json_t *)0x1;
	CU_ASSERT_EQUAL(kw_policy_lint(p, &ctx, DAY, &w), KW_ERR_UNAVAILABLE);
	json_decref(p);
	p = jf("{'version':1,'bogus':1}");
	CU_ASSERT_EQUAL(kw_policy_lint(p, &ctx, DAY, &w), KW_ERR_INVALID_FORMAT);
	CU_ASSERT_EQUAL(kw_policy_lint(p, NULL, DAY, &w), KW_ERR_INVALID_ARG);
	CU_ASSERT_PTR_EQUAL(w, (json_t *)0x1);
	json_decref(p);
	json_decref(sets);
}

/* ---- test roots ---- */

static void
test_test_roots(void)
{
	json_t *c = base_claims(), *ex = NULL;
	json_t *strict = jf("{'version':1}"), *lax = jf("{'version':1,'allow_test_roots':true}");
	char why[160];

	/* a vendor root passes either way */
	CU_ASSERT_EQUAL(eval(strict, c), 0);
	CU_ASSERT_EQUAL(eval(lax, c), 0);
	/* an emulation root only where the policy allows it */
	json_object_set_new(c, "root", json_string("test"));
	CU_ASSERT_EQUAL(eval_at(strict, c, T0, NULL, NULL, &ex), KW_ERR_DENIED);
	CU_ASSERT_STRING_EQUAL(explain_str(ex, "reason"), "root");
	CU_ASSERT_STRING_EQUAL(explain_str(ex, "path"), "allow_test_roots");
	json_decref(ex);
	ex = NULL;
	CU_ASSERT_EQUAL(eval(lax, c), 0);
	/* a missing or mistyped root claim counts as a test root */
	json_object_del(c, "root");
	CU_ASSERT_EQUAL(eval(strict, c), KW_ERR_DENIED);
	CU_ASSERT_EQUAL(eval(lax, c), 0);
	json_object_set_new(c, "root", json_integer(1));
	CU_ASSERT_EQUAL(eval(strict, c), KW_ERR_DENIED);
	/* the member is a boolean */
	json_decref(lax);
	lax = jf("{'version':1,'allow_test_roots':'yes'}");
	CU_ASSERT_EQUAL(kw_policy_validate(lax, why, sizeof(why)), KW_ERR_INVALID_FORMAT);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "allow_test_roots"));
	CU_ASSERT_EQUAL(eval(lax, c), KW_ERR_INVALID_FORMAT);
	json_decref(lax);
	json_decref(strict);
	json_decref(c);
}

/* ---- explain ---- */

static void
test_explain(void)
{
	json_t *c = base_claims(), *ex = NULL, *checks;
	json_t *p = jf("{'version':1,'rules':{'allOf':[{'claim':'tee','op':'equals','value':'snp'},"
	    "{'claim':'vmpl','op':'equals','value':0}]},'reference_values':{'measurements':"
	    "[{'value':'%s','name':'web 1.4'}],'tcb_floors':{'snp':14}},'config':{'crypto':"
	    "{'min_rsa_bits':2048}}}", MA);
	size_t fails = 0;

	json_object_set_new(c, "config", jf("{'crypto':{'rsa_bits':4096}}"));
	CU_ASSERT_EQUAL(eval_at(p, c, T0, NULL, NULL, &ex), 0);
	CU_ASSERT_STRING_EQUAL(explain_str(ex, "decision"), "allow");
	CU_ASSERT_STRING_EQUAL(explain_str(ex, "reason"), "allowed");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_object_get(ex, "matched"),
	    "source")), "policy");
	checks = json_object_get(ex, "checks");
	/* debug, root, 2 rule leaves, rules, measurement, floor, crypto */
	CU_ASSERT_EQUAL(json_array_size(checks), 8);
	json_decref(ex);
	/* two failures: the first in evaluation order decides, both are listed */
	json_object_set_new(c, "vmpl", json_integer(1));
	json_object_set_new(c, "config", jf("{'crypto':{'rsa_bits':1024}}"));
	CU_ASSERT_EQUAL(eval_at(p, c, T0, NULL, NULL, &ex), KW_ERR_DENIED);
	CU_ASSERT_STRING_EQUAL(explain_str(ex, "decision"), "deny");
	CU_ASSERT_STRING_EQUAL(explain_str(ex, "reason"), "rules");
	CU_ASSERT_STRING_EQUAL(explain_str(ex, "path"), "rules.allOf[1]");
	CU_ASSERT_PTR_NOT_NULL(strstr(explain_str(ex, "detail"), "vmpl equals 0: claim is 1"));
	checks = json_object_get(ex, "checks");
	for (size_t i = 0; i < json_array_size(checks); i++) {
		json_t *k = json_array_get(checks, i);

		CU_ASSERT(json_is_string(json_object_get(k, "check")));
		CU_ASSERT(json_is_string(json_object_get(k, "path")));
		CU_ASSERT(json_is_string(json_object_get(k, "detail")));
		if (strcmp(json_string_value(json_object_get(k, "result")), "fail") == 0)
			fails++;
	}
	CU_ASSERT_EQUAL(fails, 3);   /* the leaf, rules, crypto */
	json_decref(ex);
	/* NULL explain; invalid arguments */
	CU_ASSERT_EQUAL(eval_at(p, c, T0, NULL, NULL, NULL), KW_ERR_DENIED);
	ex = (json_t *)0x1;
	CU_ASSERT_EQUAL(eval_at(p, NULL, T0, NULL, NULL, &ex), KW_ERR_INVALID_ARG);
	CU_ASSERT_EQUAL(kw_policy_eval(p, c, NULL, &ex), KW_ERR_INVALID_ARG);
	{
		json_t *arr = json_array();

		CU_ASSERT_EQUAL(eval_at(p, arr, T0, NULL, NULL, &ex), KW_ERR_INVALID_ARG);
		json_decref(arr);
	}
	CU_ASSERT_PTR_EQUAL(ex, (json_t *)0x1);
	json_decref(p);
	json_decref(c);
}

/* ---- hostile claims ---- */

static json_t *
deep_object(int depth)
{
	json_t *v = json_integer(1);

	for (int i = 0; i < depth; i++)
		v = json_pack("{s:o}", "snp", v);
	return v;
}

static void
test_hostile_claims(void)
{
	json_t *sets = jf("{'s':{'measurements':[{'value':'%s'}],'tcb_floors':{'bl':1}}}", MA);
	json_t *p = jf("{'version':1,'rules':{'anyOf':[{'claim':'tcb.reported.snp','op':'gte',"
	    "'value':0},{'claim':'x.y','op':'equals','value':{'a':[1,{'b':null}]}},"
	    "{'claim':'vmpl','op':'in','value':[0,'0',null,[],{}]},"
	    "{'claim':'tee','op':'lte','value':-9223372036854775808}]},"
	    "'reference_values':{'measurements':[{'value':'%s'}],'sets':['s'],'tcb_floors':"
	    "{'snp':1,'fmc':2}},'config':{'root_store':{'fingerprints':['%.64s']},'tls':"
	    "{'min_version':'1.3','cipher_suites':['A'],'groups':['B'],'signature_algorithms':"
	    "['C']},'crypto':{'min_rsa_bits':1,'min_ec_bits':1,'min_symmetric_bits':1}}}", MA, MA);
	json_t *vals[] = {
		json_integer(LLONG_MAX), json_integer(LLONG_MIN), json_real(1e308), json_real(-0.0),
		json_string(""), json_string("\xc3\xa9\\\"\n"), json_null(), json_true(),
		json_array(), json_object(), deep_object(30), deep_object(200),
		jf("[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]"),
	};
	static const char *const where[] = {"tee", "measurement", "debug", "vmpl", "tcb", "config",
		"x"};
	static const char *const sub[] = {"tcb.reported", "config.root-store", "config.tls",
		"config.crypto", "config.root-store.fingerprints", "config.tls.cipher_suites",
		"config.tls.min_version", "config.root-store.digest", "tcb.reported.fmc",
		"config.crypto.rsa_bits", "x.y"};

	for (size_t i = 0; i < KW_ARRAY_SIZE(vals); i++) {
		CU_ASSERT_FATAL(vals[i] != NULL);
		for (size_t j = 0; j < KW_ARRAY_SIZE(where); j++) {
			json_t *c = base_claims(), *ex = NULL;
			int r;

			json_object_set(c, where[j], vals[i]);
			r = eval_at(p, c, T0, resolver, sets, &ex);
			CU_ASSERT(r == 0 || r == KW_ERR_DENIED);
			CU_ASSERT(json_is_object(ex));
			json_decref(ex);
			json_decref(c);
		}
		for (size_t j = 0; j < KW_ARRAY_SIZE(sub); j++) {
			json_t *c = base_claims(), *ex = NULL, *o = c;
			char buf[64], *s, *dot;
			int r;

			snprintf(buf, sizeof(buf), "%s", sub[j]);
			for (s = buf; (dot = strchr(s, '.')) != NULL; s = dot + 1) {
				json_t *n;

				*dot = '\0';
				if (!json_is_object(n = json_object_get(o, s))) {
					n = json_object();
					json_object_set_new(o, s, n);
				}
				o = n;
			}
			json_object_set(o, s, vals[i]);
			r = eval_at(p, c, T0, resolver, sets, &ex);
			CU_ASSERT(r == 0 || r == KW_ERR_DENIED);
			CU_ASSERT(json_is_object(ex));
			json_decref(ex);
			json_decref(c);
		}
	}
	for (size_t i = 0; i < KW_ARRAY_SIZE(vals); i++)
		json_decref(vals[i]);
	json_decref(p);
	json_decref(sets);
}

/* Flip every bit of a policy and of a claims text: never a crash, only clean outcomes. */
static void
test_bitflip_sweep(void)
{
	char *pt, *ct;
	json_t *p = jf("{'version':1,'allow_debug':false,'rules':{'allOf':[{'claim':'tee','op':"
	    "'in','value':['snp']},{'anyOf':[{'claim':'vmpl','op':'lte','value':0},{'claim':"
	    "'guest_svn','op':'gte','value':2}]}]},'reference_values':{'measurements':[{'value':"
	    "'%s','not-before':'%s','not-after':'%s'}],'tcb_floors':{'snp':3}},'config':{'tls':"
	    "{'min_version':'1.3'}}}", MA, ts(T0 - DAY), ts(T0 + DAY));
	json_t *c = base_claims();
	size_t plen, clen, accepted = 0;

	json_object_set_new(c, "config", jf("{'tls':{'min_version':'1.3'}}"));
	pt = json_dumps(p, JSON_COMPACT);
	ct = json_dumps(c, JSON_COMPACT);
	CU_ASSERT_FATAL(pt != NULL && ct != NULL);
	CU_ASSERT_EQUAL(eval(p, c), 0);
	plen = strlen(pt);
	clen = strlen(ct);
	for (size_t which = 0; which < 2; which++) {
		char *t = which == 0 ? pt : ct;
		size_t n = which == 0 ? plen : clen;

		for (size_t i = 0; i < n * 8; i++) {
			json_t *pp = NULL, *cc = NULL, *ex = NULL;
			int r;

			t[i / 8] = (char)(t[i / 8] ^ (1 << (i % 8)));
			if (kw_json_parse(pt, plen, 65536, &pp) == 0 &&
			    kw_json_parse(ct, clen, 1 << 20, &cc) == 0) {
				r = eval_at(pp, cc, T0, NULL, NULL, &ex);
				CU_ASSERT(r == 0 || r == KW_ERR_DENIED || r == KW_ERR_INVALID_FORMAT);
				CU_ASSERT((r == KW_ERR_INVALID_FORMAT) == (ex == NULL));
				accepted += r == 0;
				json_decref(ex);
			}
			json_decref(pp);
			json_decref(cc);
			t[i / 8] = (char)(t[i / 8] ^ (1 << (i % 8)));
		}
	}
	/* some flips are harmless (e.g. inside the name-free value strings), most are not */
	CU_ASSERT(accepted > 0);
	/* every prefix of the policy text: invalid JSON, never accepted */
	for (size_t i = 0; i < plen; i++) {
		json_t *pp = NULL;

		if (kw_json_parse(pt, i, 65536, &pp) == 0) {
			CU_ASSERT(kw_policy_validate(pp, NULL, 0) == 0 ||
			    kw_policy_validate(pp, NULL, 0) == KW_ERR_INVALID_FORMAT);
			json_decref(pp);
		}
	}
	free(pt);
	free(ct);
	json_decref(p);
	json_decref(c);
}

/* ---- TDX: mrtd, rtmr, tcb_status, advisories, evaluation data number ---- */

/* Claims as the TDX verifier emits them (the parts policies look at). */
static json_t *
tdx_claims(const char *mrtd, const char *status, const char *advisory, int eval_num)
{
	json_t *c = jf("{'tee':'tdx','root':'intel','debug':false,'mrtd':'%s','rtmr0':'%s','rtmr1':'%s',"
	    "'rtmr2':'%s','rtmr3':'%s','tcb_status':'%s','advisory_ids':[],"
	    "'collateral':{'tcb_evaluation_data_number':%d}}", mrtd, MB, MB, MC, MB, status, eval_num);

	if (advisory != NULL)
		json_array_append_new(json_object_get(c, "advisory_ids"), json_string(advisory));
	return c;
}

static void
test_tdx_validation(void)
{
	json_t *p;

	p = jf("{'version':1,'reference_values':{'mrtd':[{'value':'%s','not-before':'%s'}],"
	    "'rtmr':{'0':[{'value':'%s'}],'3':[{'value':'%s'},{'value':'%s'}]}}}", MA, ts(T0), MB, MB, MC);
	CU_ASSERT(valid(p));
	json_decref(p);
	p = jf("{'version':1,'reference_values':{'rtmr':{'2':[{'value':'%s'}]}}}", MC);
	CU_ASSERT(valid(p));
	json_decref(p);
	assert_invalid(jf("{'version':1,'reference_values':{'mrtd':[]}}"), "reference_values.mrtd");
	assert_invalid(jf("{'version':1,'reference_values':{'rtmr':{}}}"), "reference_values.rtmr");
	assert_invalid(jf("{'version':1,'reference_values':{'rtmr':{'4':[{'value':'%s'}]}}}", MA),
	    "reference_values.rtmr: unknown member");
	assert_invalid(jf("{'version':1,'reference_values':{'rtmr':{'0':[]}}}"), "reference_values.rtmr.0");
	assert_invalid(jf("{'version':1,'reference_values':{'rtmr':[{'value':'%s'}]}}", MA),
	    "reference_values.rtmr");
	assert_invalid(jf("{'version':1,'reference_values':{'mrtd':[{'value':'%s'},{'value':'%s'}]}}", MA, MA),
	    "duplicate");
	assert_invalid(jf("{'version':1,'reference_values':{'mrtd':[{'value':'AB'}]}}"), "mrtd[0].value");
	assert_invalid(jf("{'version':1,'reference_values':{'mrtd':[{'value':'%s','not-before':'%s',"
	    "'not-after':'%s'}]}}", MA, ts(T0), ts(T0 - 1)), "not-after before not-before");
	assert_invalid(jf("{'version':1,'reference_values':{'mrtds':[{'value':'%s'}]}}", MA),
	    "reference_values: unknown member");
	/* containsNone takes a non-empty array */
	p = jf("{'version':1,'rules':{'claim':'advisory_ids','op':'containsNone','value':['INTEL-SA-00837']}}");
	CU_ASSERT(valid(p));
	json_decref(p);
	assert_invalid(jf("{'version':1,'rules':{'claim':'advisory_ids','op':'containsNone','value':[]}}"),
	    "non-empty array for containsNone");
	assert_invalid(jf("{'version':1,'rules':{'claim':'advisory_ids','op':'containsNone','value':'x'}}"),
	    "rules.value");
	assert_invalid(jf("{'version':1,'rules':{'claim':'advisory_ids','op':'containsNone'}}"),
	    "required for containsNone");
}

static void
test_tdx_eval(void)
{
	json_t *p, *c, *ex = NULL;

	/* mrtd and one RTMR pinned, UpToDate required, one advisory refused, evaluation number >= 17 */
	p = jf("{'version':1,'rules':{'allOf':[{'claim':'tee','op':'equals','value':'tdx'},"
	    "{'claim':'tcb_status','op':'in','value':['UpToDate']},"
	    "{'claim':'advisory_ids','op':'containsNone','value':['INTEL-SA-00837','INTEL-SA-00960']},"
	    "{'claim':'collateral.tcb_evaluation_data_number','op':'gte','value':17}]},"
	    "'reference_values':{'mrtd':[{'value':'%s','not-before':'%s','not-after':'%s','name':'td 1'}],"
	    "'rtmr':{'2':[{'value':'%s'}]}}}", MA, ts(T0 - DAY), ts(T0 + DAY), MC);
	c = tdx_claims(MA, "UpToDate", NULL, 17);
	CU_ASSERT_EQUAL(eval_at(p, c, T0, NULL, NULL, &ex), 0);
	CU_ASSERT_STRING_EQUAL(explain_str(ex, "decision"), "allow");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_object_get(ex, "matched"), "claim")), "mrtd");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_object_get(ex, "matched"), "name")), "td 1");
	json_decref(ex);
	ex = NULL;
	json_decref(c);
	/* each requirement on its own */
	{
		static const struct { const char *mrtd, *status, *adv; int num; const char *reason, *detail; } no[] = {
			{NULL, "UpToDate", NULL, 17, "mrtd", "mrtd is not a reference value"},
			{"", "OutOfDate", NULL, 17, "rules", "tcb_status in"},
			{"", "UpToDate", "INTEL-SA-00960", 17, "rules", "advisory_ids containsNone"},
			{"", "UpToDate", NULL, 16, "rules", "collateral.tcb_evaluation_data_number gte 17"},
		};

		for (size_t i = 0; i < KW_ARRAY_SIZE(no); i++) {
			c = tdx_claims(no[i].mrtd == NULL ? MB : MA, no[i].status, no[i].adv, no[i].num);
			assert_denied(p, c, i, no[i].reason, no[i].detail);
			json_decref(c);
		}
	}
	/* an advisory the policy does not name is fine */
	c = tdx_claims(MA, "UpToDate", "INTEL-SA-01234", 17);
	CU_ASSERT_EQUAL(eval(p, c), 0);
	json_object_set_new(c, "advisory_ids", json_string("INTEL-SA-01234"));   /* not an array */
	CU_ASSERT_EQUAL(eval(p, c), KW_ERR_DENIED);
	json_object_del(c, "advisory_ids");                                      /* missing */
	CU_ASSERT_EQUAL(eval(p, c), KW_ERR_DENIED);
	json_decref(c);
	/* RTMR 2 differs */
	c = tdx_claims(MA, "UpToDate", NULL, 17);
	json_object_set_new(c, "rtmr2", json_string(MB));
	CU_ASSERT_EQUAL(eval_at(p, c, T0, NULL, NULL, &ex), KW_ERR_DENIED);
	CU_ASSERT_STRING_EQUAL(explain_str(ex, "reason"), "rtmr");
	CU_ASSERT_STRING_EQUAL(explain_str(ex, "path"), "reference_values.rtmr.2");
	CU_ASSERT_STRING_EQUAL(explain_str(ex, "detail"), "rtmr2 is not a reference value");
	json_decref(ex);
	ex = NULL;
	json_object_del(c, "rtmr2");
	CU_ASSERT_EQUAL(eval_at(p, c, T0, NULL, NULL, &ex), KW_ERR_DENIED);
	CU_ASSERT_STRING_EQUAL(explain_str(ex, "detail"), "claim rtmr2 missing");
	json_decref(ex);
	ex = NULL;
	json_decref(c);
	/* the MRTD's window: not yet, and no longer */
	c = tdx_claims(MA, "UpToDate", NULL, 17);
	CU_ASSERT_EQUAL(eval_at(p, c, T0 + DAY, NULL, NULL, &ex), KW_ERR_DENIED);
	CU_ASSERT_STRING_EQUAL(explain_str(ex, "reason"), "window");
	CU_ASSERT_STRING_EQUAL(explain_str(ex, "path"), "reference_values.mrtd[0]");
	CU_ASSERT(strncmp(explain_str(ex, "detail"), "mrtd not valid since", 20) == 0);
	json_decref(ex);
	ex = NULL;
	CU_ASSERT_EQUAL(eval_at(p, c, T0 - DAY - 1, NULL, NULL, NULL), KW_ERR_DENIED);
	CU_ASSERT_EQUAL(eval_at(p, c, T0 + DAY - 1, NULL, NULL, NULL), 0);
	/* SNP claims under a TDX policy, and the TDX claims under an SNP one */
	{
		json_t *snp = base_claims(), *snp_pol = jf("{'version':1,'reference_values':{'measurements':"
		    "[{'value':'%s'}]}}", MA);

		CU_ASSERT_EQUAL(eval(p, snp), KW_ERR_DENIED);
		CU_ASSERT_EQUAL(eval(snp_pol, c), KW_ERR_DENIED);
		CU_ASSERT_EQUAL(eval(snp_pol, snp), 0);
		json_decref(snp_pol);
		json_decref(snp);
	}
	/* emulated (test-root) TDX evidence needs allow_test_roots */
	json_object_set_new(c, "root", json_string("test"));
	CU_ASSERT_EQUAL(eval_at(p, c, T0, NULL, NULL, &ex), KW_ERR_DENIED);
	CU_ASSERT_STRING_EQUAL(explain_str(ex, "reason"), "root");
	json_decref(ex);
	json_object_set_new(p, "allow_test_roots", json_true());
	CU_ASSERT_EQUAL(eval(p, c), 0);
	json_decref(c);
	json_decref(p);
}

/* ---- Arm CCA: rim, rem, lifecycle rules ---- */

#define RIM_A "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfc0c1c2c3c4c5c6c7c8c9cacbcccdcecf" \
	"c0c1c2c3c4c5c6c7c8c9cacbcccdcecfc0c1c2c3c4c5c6c7c8c9cacbcccdcecf"
#define RIM_B "abababababababababababababababababababababababababababababababab" \
	"abababababababababababababababababababababababababababababababab"
#define REM_0 "00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"

/* Claims as the CCA verifier emits them (the parts policies look at). */
static json_t *
cca_claims(const char *rim, const char *lifecycle_state)
{
	return jf("{'tee':'cca','root':'cpak','debug':false,'rim':'%s','rem0':'%s','rem1':'%s','rem2':'%s',"
	    "'rem3':'%s','lifecycle':12288,'lifecycle_state':'%s','realm_hash_alg':'sha-512'}", rim, REM_0, RIM_B,
	    REM_0, REM_0, lifecycle_state);
}

static void
test_cca_validation(void)
{
	json_t *p;

	p = jf("{'version':1,'reference_values':{'rim':[{'value':'%s','not-before':'%s'},{'value':'%s'},"
	    "{'value':'%s'}],'rem':{'1':[{'value':'%s'}]}}}", RIM_A, ts(T0), MA, MRTD_A, RIM_B);
	CU_ASSERT(valid(p));
	json_decref(p);
	p = jf("{'version':1,'reference_values':{'rem':{'3':[{'value':'%s'}]}}}", REM_0);
	CU_ASSERT(valid(p));
	json_decref(p);
	assert_invalid(jf("{'version':1,'reference_values':{'rim':[]}}"), "reference_values.rim");
	assert_invalid(jf("{'version':1,'reference_values':{'rim':[{'value':'abcd'}]}}"),
	    "rim[0].value: required, 64, 96 or 128 lower-case hex digits");
	assert_invalid(jf("{'version':1,'reference_values':{'rim':[{'value':'%s'},{'value':'%s'}]}}", RIM_A,
	    RIM_A), "duplicate");
	assert_invalid(jf("{'version':1,'reference_values':{'rem':{}}}"), "reference_values.rem");
	assert_invalid(jf("{'version':1,'reference_values':{'rem':{'4':[{'value':'%s'}]}}}", RIM_A),
	    "reference_values.rem: unknown member");
	assert_invalid(jf("{'version':1,'reference_values':{'rem':{'0':[]}}}"), "reference_values.rem.0");
}

static void
test_cca_eval(void)
{
	json_t *p, *c, *ex = NULL, *w;

	/* RIM in a window, REM 1 pinned, the platform lifecycle secured */
	p = jf("{'version':1,'rules':{'allOf':[{'claim':'tee','op':'equals','value':'cca'},"
	    "{'claim':'lifecycle_state','op':'equals','value':'secured'}]},"
	    "'reference_values':{'rim':[{'value':'%s','not-before':'%s','not-after':'%s','name':'realm 1'}],"
	    "'rem':{'1':[{'value':'%s'}]}}}", RIM_A, ts(T0 - DAY), ts(T0 + DAY), RIM_B);
	c = cca_claims(RIM_A, "secured");
	CU_ASSERT_EQUAL(eval_at(p, c, T0, NULL, NULL, &ex), 0);
	CU_ASSERT_STRING_EQUAL(explain_str(ex, "decision"), "allow");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_object_get(ex, "matched"), "claim")), "rim");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_object_get(ex, "matched"), "name")), "realm 1");
	json_decref(ex);
	ex = NULL;
	json_decref(c);
	/* another RIM */
	c = cca_claims(RIM_B, "secured");
	CU_ASSERT_EQUAL(eval_at(p, c, T0, NULL, NULL, &ex), KW_ERR_DENIED);
	CU_ASSERT_STRING_EQUAL(explain_str(ex, "reason"), "rim");
	CU_ASSERT_STRING_EQUAL(explain_str(ex, "path"), "reference_values.rim");
	CU_ASSERT_STRING_EQUAL(explain_str(ex, "detail"), "rim is not a reference value");
	json_decref(ex);
	ex = NULL;
	json_decref(c);
	/* the RIM's window: no longer */
	c = cca_claims(RIM_A, "secured");
	CU_ASSERT_EQUAL(eval_at(p, c, T0 + DAY, NULL, NULL, &ex), KW_ERR_DENIED);
	CU_ASSERT_STRING_EQUAL(explain_str(ex, "reason"), "window");
	CU_ASSERT_STRING_EQUAL(explain_str(ex, "path"), "reference_values.rim[0]");
	json_decref(ex);
	ex = NULL;
	CU_ASSERT_EQUAL(eval_at(p, c, T0 + DAY - 1, NULL, NULL, NULL), 0);
	/* REM 1 differs, then is missing */
	json_object_set_new(c, "rem1", json_string(REM_0));
	CU_ASSERT_EQUAL(eval_at(p, c, T0, NULL, NULL, &ex), KW_ERR_DENIED);
	CU_ASSERT_STRING_EQUAL(explain_str(ex, "reason"), "rem");
	CU_ASSERT_STRING_EQUAL(explain_str(ex, "path"), "reference_values.rem.1");
	CU_ASSERT_STRING_EQUAL(explain_str(ex, "detail"), "rem1 is not a reference value");
	json_decref(ex);
	ex = NULL;
	json_object_del(c, "rem1");
	CU_ASSERT_EQUAL(eval_at(p, c, T0, NULL, NULL, &ex), KW_ERR_DENIED);
	CU_ASSERT_STRING_EQUAL(explain_str(ex, "detail"), "claim rem1 missing");
	json_decref(ex);
	ex = NULL;
	json_decref(c);
	/* a platform outside the secured lifecycle */
	c = cca_claims(RIM_A, "decommissioned");
	assert_denied(p, c, 0, "rules", "lifecycle_state equals");
	json_decref(c);
	/* CCA claims under a TDX policy */
	{
		json_t *tdx_pol = jf("{'version':1,'reference_values':{'mrtd':[{'value':'%s'}]}}", MA);

		c = cca_claims(RIM_A, "secured");
		CU_ASSERT_EQUAL(eval(tdx_pol, c), KW_ERR_DENIED);
		json_decref(tdx_pol);
		json_decref(c);
	}
	/* lint: a RIM-pinned policy admits neither SNP nor TDX nor TPM evidence */
	w = lint(p, 90 * DAY, NULL, NULL);
	CU_ASSERT_EQUAL(count_code(w, "tcb-floor-missing"), 0);
	CU_ASSERT_EQUAL(count_code(w, "tdx-tcb-status"), 0);
	CU_ASSERT_EQUAL(count_code(w, "tpm-no-pcrs"), 0);
	json_decref(w);
	json_decref(p);
}

/* TCB status Revoked (TDX): verified evidence, denied unless allow_revoked_tcb, whatever the rules */
static void
test_tdx_revoked(void)
{
	json_t *c = tdx_claims(MA, "Revoked", NULL, 17), *ex = NULL;
	json_t *p = jf("{'version':1,'rules':{'claim':'tee','op':'equals','value':'tdx'},"
	    "'reference_values':{'mrtd':[{'value':'%s'}]}}", MA);
	json_t *loose = jf("{'version':1,'rules':{'claim':'tcb_status','op':'in','value':['UpToDate','Revoked']},"
	    "'reference_values':{'mrtd':[{'value':'%s'}]}}", MA);
	char why[160];

	CU_ASSERT_EQUAL(eval_at(p, c, T0, NULL, NULL, &ex), KW_ERR_DENIED);
	CU_ASSERT_STRING_EQUAL(explain_str(ex, "reason"), "tcb_status");
	CU_ASSERT_STRING_EQUAL(explain_str(ex, "path"), "allow_revoked_tcb");
	json_decref(ex);
	ex = NULL;
	/* a rule that names Revoked does not lift it either */
	CU_ASSERT_EQUAL(eval(loose, c), KW_ERR_DENIED);
	json_object_set_new(loose, "allow_revoked_tcb", json_true());
	CU_ASSERT_EQUAL(eval(loose, c), 0);
	/* other statuses are not affected by the member */
	json_object_set_new(c, "tcb_status", json_string("OutOfDate"));
	CU_ASSERT_EQUAL(eval(p, c), 0);
	json_object_set_new(p, "allow_revoked_tcb", json_string("yes"));
	CU_ASSERT_EQUAL(kw_policy_validate(p, why, sizeof(why)), KW_ERR_INVALID_FORMAT);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "allow_revoked_tcb"));
	json_decref(loose);
	json_decref(p);
	json_decref(c);
}

static void
test_tdx_lint(void)
{
	/* policy (' for "), then how many tdx-tcb-status and tcb-floor-missing warnings */
	static const struct { const char *policy; size_t tdx, floors; } cases[] = {
		/* TDX with a tcb_status rule: neither; without: the TDX one only (SNP cannot match mrtd) */
		{"{'version':1,'rules':{'allOf':[{'claim':'tee','op':'equals','value':'tdx'},"
		    "{'claim':'tcb_status','op':'in','value':['UpToDate']}]},"
		    "'reference_values':{'mrtd':[{'value':'" MRTD_A "'}]}}", 0, 0},
		{"{'version':1,'reference_values':{'mrtd':[{'value':'" MRTD_A "'}]}}", 1, 0},
		/* a tcb_status rule only inside anyOf does not bound the status */
		{"{'version':1,'rules':{'anyOf':[{'claim':'tcb_status','op':'in','value':['UpToDate']},"
		    "{'claim':'debug','op':'equals','value':false}]},"
		    "'reference_values':{'rtmr':{'1':[{'value':'" MRTD_A "'}]}}}", 1, 0},
		/* SNP measurements, or tee snp: no TDX evidence can pass */
		{"{'version':1,'reference_values':{'measurements':[{'value':'" MRTD_A "'}]}}", 0, 4},
		{"{'version':1,'rules':{'claim':'tee','op':'in','value':['snp']}}", 0, 4},
		/* any TEE: both */
		{"{'version':1,'rules':{'claim':'tee','op':'notEquals','value':'tpm'}}", 1, 4},
		/* TDX excluded by notEquals (tdx and az-tdx-vtpm, which carries TDX claims), SNP by equals */
		{"{'version':1,'rules':{'allOf':[{'claim':'tee','op':'notEquals','value':'tdx'},"
		    "{'claim':'tee','op':'notEquals','value':'az-tdx-vtpm'}]}}", 0, 4},
		{"{'version':1,'rules':{'claim':'tee','op':'notEquals','value':'tdx'}}", 1, 4},
		{"{'version':1,'rules':{'claim':'tee','op':'equals','value':'tdx'}}", 1, 0},
		/* the Azure vTPM types are linted as the hardware they carry */
		{"{'version':1,'rules':{'claim':'tee','op':'equals','value':'az-tdx-vtpm'}}", 1, 0},
		{"{'version':1,'rules':{'claim':'tee','op':'in','value':['az-snp-vtpm']},"
		    "'reference_values':{'measurements':[{'value':'" MRTD_A "'}]}}", 0, 4},
		{"{'version':1,'rules':{'claim':'tee','op':'equals','value':'tpm'}}", 0, 0},
	};
	json_t *p, *w;

	for (size_t i = 0; i < KW_ARRAY_SIZE(cases); i++) {
		p = jf("%s", cases[i].policy);
		w = lint(p, 0, NULL, NULL);
		CHECKF(count_code(w, "tdx-tcb-status") == cases[i].tdx, "case %zu", i);
		CHECKF(count_code(w, "tcb-floor-missing") == cases[i].floors, "case %zu", i);
		json_decref(w);
		json_decref(p);
	}
	/* the TDX lists are linted like measurements; a clean TDX policy has no warnings */
	p = jf("{'version':1,'reference_values':{'mrtd':[{'value':'%s'}]}}", MA);
	w = lint(p, 90 * DAY, NULL, NULL);
	CU_ASSERT_EQUAL(count_code(w, "no-not-before"), 1);
	CU_ASSERT_EQUAL(count_code(w, "no-not-after"), 1);
	json_decref(w);
	json_decref(p);
	p = jf("{'version':1,'rules':{'allOf':[{'claim':'tee','op':'equals','value':'tdx'},"
	    "{'claim':'tcb_status','op':'in','value':['UpToDate']}]},"
	    "'reference_values':{'mrtd':[{'value':'%s','not-before':'%s','not-after':'%s'}]}}",
	    MA, ts(T0 - DAY), ts(T0 + DAY));
	w = lint(p, 90 * DAY, NULL, NULL);
	CU_ASSERT_EQUAL(json_array_size(w), 0);
	json_decref(w);
	json_decref(p);
}

/* ---- TPM: PCR and event-log reference values ---- */

#define P7 "d5723af14b55e07b4b0114568c65038079565e12db1f8ac31d372053d4695693"
#define P8 "7e46f5e6fc76a7f92130df8bdb08cad8530fc5429f7958a7b61ec3e9231407a0"
#define S1 "c032c3b51dbb6f96b047421512fd4b4dfde496f3"
#define K1 "6f6afb3caed004e727200a0c310731bd8ab4cd391b2d95cedf67d08e1e8e5e7e"
#define L1 "dba8d69ffb244496ac8ab2950695d3da539d6ac5ec660fc6b4bdde245284cf23"
#define L2 "f7bad83f87940312e4642530a9a6242e88529dc37a497d7d4e7c1c070566d542"

/* Claims as the tpm-akcert member emits them. */
static json_t *
tpm_claims(void)
{
	return jf("{'tee':'tpm-akcert','root':'ak-ca','debug':false,'ak_cert_issuer':'CN=ca',"
	    "'ak_cert_sha256':'00','pcrs':{'sha256':{'7':'%s','8':'%s'},'sha1':{'0':'%s'}},"
	    "'tpm':{'clock':1,'reset_count':2,'restart_count':0,'safe':true,'firmware_version':'00',"
	    "'qualified_signer':'00'},'eventlog':{'events':45,'secure_boot':true,"
	    "'boot_loader_sha256':['%s','%s'],'kernel_sha256':'%s','kernel_cmdline':'ro quiet'}}",
	    P7, P8, S1, L1, L2, K1);
}

static void
test_tpm_validation(void)
{
	json_t *p;

	p = jf("{'version':1,'reference_values':{'pcrs':{'sha256':{'7':[{'value':'%s','not-before':'%s'}],"
	    "'23':[{'value':'%s'},{'value':'%s'}]},'sha1':{'0':[{'value':'%s'}]},'sha384':{'10':[{'value':'%s'}]}},"
	    "'eventlog':{'kernel_sha256':[{'value':'%s'}],'boot_loader_sha256':[{'value':'%s'},{'value':'%s'}]}}}",
	    P7, ts(T0), P7, P8, S1, MA, K1, L1, L2);
	CU_ASSERT(valid(p));
	json_decref(p);
	p = jf("{'version':1,'reference_values':{'eventlog':{'kernel_sha256':[{'value':'%s'}]}}}", K1);
	CU_ASSERT(valid(p));
	json_decref(p);
	{
		/* reference_values (' for "), then what the reason names */
		static const struct { const char *rv, *why; } bad[] = {
			{"{'pcrs':{}}", "reference_values.pcrs: must name"},
			{"{'pcrs':{'sha512':{'0':[{'value':'" P7 "'}]}}}", "reference_values.pcrs: unknown member"},
			{"{'pcrs':{'sha256':{}}}", "reference_values.pcrs.sha256: must name at least one PCR"},
			{"{'pcrs':{'sha256':{'24':[{'value':'" P7 "'}]}}}", "reference_values.pcrs.sha256: unknown member"},
			{"{'pcrs':{'sha256':{'07':[{'value':'" P7 "'}]}}}", "unknown member"},
			{"{'pcrs':{'sha256':{'7':[]}}}", "reference_values.pcrs.sha256.7: must hold at least one entry"},
			/* a value of another bank's size */
			{"{'pcrs':{'sha1':{'0':[{'value':'" P7 "'}]}}}",
			    "reference_values.pcrs.sha1.0[0].value: required, 40 lower-case hex digits"},
			{"{'pcrs':{'sha256':{'7':[{'value':'" S1 "'}]}}}", "64 lower-case hex digits"},
			{"{'pcrs':{'sha256':{'7':[{'value':'" P7 "'},{'value':'" P7 "'}]}}}", "duplicate"},
		};

		for (size_t i = 0; i < KW_ARRAY_SIZE(bad); i++)
			assert_invalid(jf("{'version':1,'reference_values':%s}", bad[i].rv), bad[i].why);
	}
	assert_invalid(jf("{'version':1,'reference_values':{'pcrs':{'sha256':{'7':[{'value':'%s','not-before':'%s',"
	    "'not-after':'%s'}]}}}}", P7, ts(T0), ts(T0 - 1)), "not-after before not-before");
	assert_invalid(jf("{'version':1,'reference_values':{'eventlog':{}}}"), "reference_values.eventlog");
	assert_invalid(jf("{'version':1,'reference_values':{'eventlog':{'kernel_cmdline':[{'value':'%s'}]}}}", K1),
	    "reference_values.eventlog: unknown member");
	assert_invalid(jf("{'version':1,'reference_values':{'eventlog':{'kernel_sha256':[{'value':'%s'}]}}}", MA),
	    "reference_values.eventlog.kernel_sha256[0].value");
	assert_invalid(jf("{'version':1,'reference_values':{'pcrs':{'sha256':{'7':{'value':'%s'}}}}}", P7),
	    "reference_values.pcrs.sha256.7");
}

static void
test_tpm_eval(void)
{
	json_t *p, *c = tpm_claims(), *ex = NULL;

	/* PCR 7 and 8 pinned (8 in a window), the kernel and boot loaders, Secure Boot by a rule */
	p = jf("{'version':1,'rules':{'allOf':[{'claim':'tee','op':'equals','value':'tpm-akcert'},"
	    "{'claim':'eventlog.secure_boot','op':'equals','value':true},"
	    "{'claim':'eventlog.kernel_cmdline','op':'equals','value':'ro quiet'}]},"
	    "'reference_values':{'pcrs':{'sha256':{'7':[{'value':'%s','name':'sb on'}],"
	    "'8':[{'value':'%s','not-before':'%s','not-after':'%s'}]}},"
	    "'eventlog':{'kernel_sha256':[{'value':'%s'}],'boot_loader_sha256':[{'value':'%s'},{'value':'%s'}]}}}",
	    P7, P8, ts(T0 - DAY), ts(T0 + DAY), K1, L2, L1);
	CU_ASSERT_EQUAL(eval_at(p, c, T0, NULL, NULL, &ex), 0);
	CU_ASSERT_STRING_EQUAL(explain_str(ex, "decision"), "allow");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_object_get(ex, "matched"), "claim")),
	    "pcrs.sha256.7");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_object_get(ex, "matched"), "name")), "sb on");
	json_decref(ex);
	ex = NULL;
	/* PCR 8's window has ended */
	CU_ASSERT_EQUAL(eval_at(p, c, T0 + DAY, NULL, NULL, &ex), KW_ERR_DENIED);
	CU_ASSERT_STRING_EQUAL(explain_str(ex, "reason"), "window");
	CU_ASSERT_STRING_EQUAL(explain_str(ex, "path"), "reference_values.pcrs.sha256.8[0]");
	json_decref(ex);
	ex = NULL;
	/* PCR 7 differs; PCR 7 not quoted */
	json_object_set_new(json_object_get(json_object_get(c, "pcrs"), "sha256"), "7", json_string(P8));
	CU_ASSERT_EQUAL(eval_at(p, c, T0, NULL, NULL, &ex), KW_ERR_DENIED);
	CU_ASSERT_STRING_EQUAL(explain_str(ex, "reason"), "pcr");
	CU_ASSERT_STRING_EQUAL(explain_str(ex, "path"), "reference_values.pcrs.sha256.7");
	CU_ASSERT_STRING_EQUAL(explain_str(ex, "detail"), "pcrs.sha256.7 is not a reference value");
	json_decref(ex);
	ex = NULL;
	json_object_del(json_object_get(json_object_get(c, "pcrs"), "sha256"), "7");
	CU_ASSERT_EQUAL(eval_at(p, c, T0, NULL, NULL, &ex), KW_ERR_DENIED);
	CU_ASSERT_STRING_EQUAL(explain_str(ex, "detail"), "claim pcrs.sha256.7 missing");
	json_decref(ex);
	ex = NULL;
	json_decref(c);
	/* the event-log reference values on their own */
	{
		static const struct { const char *path, *set, *reason, *detail; } no[] = {
			{"eventlog.kernel_sha256", L1, "eventlog", "eventlog.kernel_sha256 is not a reference value"},
			{"eventlog.kernel_sha256", NULL, "eventlog", "claim eventlog.kernel_sha256 missing"},
			{"eventlog.boot_loader_sha256", "[]", "eventlog", "missing or empty"},
			{"eventlog.boot_loader_sha256", "['" L1 "','" K1 "']", "eventlog",
			    "eventlog.boot_loader_sha256[1] is not a reference value"},
			{"eventlog.boot_loader_sha256", NULL, "eventlog", "missing or empty"},
			{"eventlog.secure_boot", "false", "rules", "eventlog.secure_boot equals"},
			{"eventlog", NULL, "rules", "missing"},
		};

		for (size_t i = 0; i < KW_ARRAY_SIZE(no); i++) {
			const char *dot = strrchr(no[i].path, '.');
			json_t *parent;

			c = tpm_claims();
			json_object_set_new(json_object_get(json_object_get(c, "pcrs"), "sha256"), "7", json_string(P7));
			parent = dot != NULL ? json_object_get(c, "eventlog") : c;
			if (no[i].set == NULL)
				json_object_del(parent, dot != NULL ? dot + 1 : no[i].path);
			else if (strcmp(no[i].set, "false") == 0)
				json_object_set_new(parent, dot + 1, json_false());
			else if (no[i].set[0] == '[')
				json_object_set_new(parent, dot + 1, jf("%s", no[i].set));
			else
				json_object_set_new(parent, dot + 1, json_string(no[i].set));
			assert_denied(p, c, i, no[i].reason, no[i].detail);
			json_decref(c);
		}
	}
	/* a PCR policy admits no SNP evidence; a TPM claim set passes the root check (ak-ca) */
	c = base_claims();
	CU_ASSERT_EQUAL(eval_at(p, c, T0, NULL, NULL, &ex), KW_ERR_DENIED);
	json_decref(ex);
	ex = NULL;
	json_decref(c);
	json_decref(p);
	p = jf("{'version':1,'reference_values':{'pcrs':{'sha1':{'0':[{'value':'%s'}]}}}}", S1);
	c = tpm_claims();
	CU_ASSERT_EQUAL(eval(p, c), 0);
	json_object_set_new(c, "root", json_string("test"));
	CU_ASSERT_EQUAL(eval(p, c), KW_ERR_DENIED);
	json_decref(c);
	json_decref(p);
}

static void
test_tpm_lint(void)
{
	/* policy (' for "), then how many tpm-no-pcrs, tcb-floor-missing and tdx-tcb-status warnings */
	static const struct { const char *policy; size_t tpm, floors, tdx; } cases[] = {
		/* PCRs alone also admit the Azure vTPM types, which carry SNP/TDX TCB claims */
		{"{'version':1,'reference_values':{'pcrs':{'sha256':{'7':[{'value':'" P7 "'}]}}}}", 0, 4, 1},
		{"{'version':1,'reference_values':{'eventlog':{'kernel_sha256':[{'value':'" K1 "'}]}}}", 0, 4, 1},
		{"{'version':1,'rules':{'claim':'tee','op':'in','value':['tpm-akcert','tpm']},"
		    "'reference_values':{'pcrs':{'sha256':{'7':[{'value':'" P7 "'}]}}}}", 0, 0, 0},
		/* a required rule on a PCR pins it too; one inside anyOf does not */
		{"{'version':1,'rules':{'allOf':[{'claim':'tee','op':'equals','value':'tpm-akcert'},"
		    "{'claim':'pcrs.sha256.7','op':'equals','value':'" P7 "'}]}}", 0, 0, 0},
		{"{'version':1,'rules':{'anyOf':[{'claim':'pcrs.sha256.7','op':'equals','value':'" P7 "'},"
		    "{'claim':'debug','op':'equals','value':false}]}}", 1, 4, 1},
		{"{'version':1,'rules':{'claim':'tee','op':'equals','value':'tpm-akcert'}}", 1, 0, 0},
		{"{'version':1,'rules':{'claim':'tee','op':'in','value':['snp','tdx']}}", 0, 4, 1},
		/* SNP measurements or TDX registers: no TPM-only evidence can match */
		{"{'version':1,'reference_values':{'measurements':[{'value':'" MRTD_A "'}]}}", 0, 4, 0},
		{"{'version':1,'reference_values':{'mrtd':[{'value':'" MRTD_A "'}]}}", 0, 0, 1},
		{"{'version':1}", 1, 4, 1},
	};
	json_t *p, *w;

	for (size_t i = 0; i < KW_ARRAY_SIZE(cases); i++) {
		p = jf("%s", cases[i].policy);
		w = lint(p, 0, NULL, NULL);
		CHECKF(count_code(w, "tpm-no-pcrs") == cases[i].tpm, "case %zu", i);
		CHECKF(count_code(w, "tcb-floor-missing") == cases[i].floors, "case %zu", i);
		CHECKF(count_code(w, "tdx-tcb-status") == cases[i].tdx, "case %zu", i);
		json_decref(w);
		json_decref(p);
	}
	/* the TPM lists are linted like measurements; a clean TPM policy has no warnings */
	p = jf("{'version':1,'reference_values':{'pcrs':{'sha256':{'7':[{'value':'%s'}]}},"
	    "'eventlog':{'boot_loader_sha256':[{'value':'%s'}]}}}", P7, L1);
	w = lint(p, 90 * DAY, NULL, NULL);
	CU_ASSERT_EQUAL(count_code(w, "no-not-before"), 2);
	CU_ASSERT_EQUAL(count_code(w, "no-not-after"), 2);
	json_decref(w);
	json_decref(p);
	p = jf("{'version':1,'rules':{'claim':'tee','op':'equals','value':'tpm-akcert'},"
	    "'reference_values':{'pcrs':{'sha256':{'7':[{'value':'%s','not-before':'%s',"
	    "'not-after':'%s'}]}}}}", P7, ts(T0 - DAY), ts(T0 + DAY));
	w = lint(p, 90 * DAY, NULL, NULL);
	CU_ASSERT_EQUAL(json_array_size(w), 0);
	json_decref(w);
	json_decref(p);
}

/* ---- docs/policy.md examples ---- */

static void
test_docs_examples(void)
{
	const char *root = getenv("KW_SOURCE_ROOT");
	char path[512], why[256];
	uint8_t *md = NULL;
	size_t len = 0, npol = 0, nref = 0, nbad = 0;
	char *s;

	snprintf(path, sizeof(path), "%s/docs/policy.md", root != NULL ? root : ".");
	CU_ASSERT_FATAL(kw_file_read(path, 1 << 20, &md, &len) == 0);
	for (s = (char *)md; (s = strstr(s, "```json ")) != NULL; ) {
		char *kind = s + 8, *body = strchr(kind, '\n'), *end;
		size_t klen;
		json_t *v = NULL;
		int r;

		CU_ASSERT_FATAL(body != NULL);
		klen = (size_t)(body - kind);
		end = strstr(body, "\n```");
		CU_ASSERT_FATAL(end != NULL);
		r = kw_json_parse(body, (size_t)(end - body), 1 << 20, &v);
		if (r != 0)
			fprintf(stderr, "docs/policy.md: unparsable example at offset %zu\n",
			    (size_t)(kind - (char *)md));
		CU_ASSERT_FATAL(r == 0);
		if (klen == 6 && strncmp(kind, "policy", 6) == 0) {
			r = kw_policy_validate(v, why, sizeof(why));
			if (r != 0)
				fprintf(stderr, "docs/policy.md policy example %zu: %s\n", npol, why);
			CU_ASSERT_EQUAL(r, 0);
			npol++;
		} else if (klen == 6 && strncmp(kind, "refval", 6) == 0) {
			r = kw_refval_validate(v, why, sizeof(why));
			if (r != 0)
				fprintf(stderr, "docs/policy.md refval example %zu: %s\n", nref, why);
			CU_ASSERT_EQUAL(r, 0);
			nref++;
		} else if (klen == 14 && strncmp(kind, "invalid-policy", 14) == 0) {
			CU_ASSERT_EQUAL(kw_policy_validate(v, NULL, 0), KW_ERR_INVALID_FORMAT);
			nbad++;
		}
		json_decref(v);
		s = end + 4;
	}
	CU_ASSERT(npol >= 5);
	CU_ASSERT(nref >= 1);
	CU_ASSERT(nbad >= 2);
	free(md);
}

/* ---- GPUs (composite evidence, docs/policy.md "NVIDIA GPUs") ---- */

/* SNP claims plus two GPUs whose blocks 1 and 2 hold MB and MC. */
static json_t *
gpu_claims(void)
{
	json_t *c = base_claims();

	json_object_set_new(c, "gpu_count", json_integer(2));
	json_object_set_new(c, "gpus", jf("[{'root':'nvidia','driver_version':'550.90.07','vbios_version':"
	    "'96.00.9f.00.01','cc_mode':'legacy','measurements':{'1':'%s','2':'%s'}},"
	    "{'root':'nvidia','driver_version':'550.90.07','vbios_version':'96.00.9f.00.01','cc_mode':'spt',"
	    "'measurements':{'1':'%s','2':'%s'}}]", MB, MC, MB, MC));
	return c;
}

static void
test_gpu_validation(void)
{
	json_t *p;
	char why[256];

	p = jf("{'version':1,'reference_values':{'gpu':{'driver_version':[{'value':'550.90.07',"
	    "'not-after':'2027-06-01T00:00:00Z','name':'R550'}],'vbios_version':[{'value':'96.00.9f.00.01'}],"
	    "'sets':['h100']}}}");
	CHECKF(kw_policy_validate(p, why, sizeof(why)) == 0, "%s", why);
	json_decref(p);
	assert_invalid(jf("{'version':1,'reference_values':{'gpu':{}}}"), "reference_values.gpu: must state");
	assert_invalid(jf("{'version':1,'reference_values':{'gpu':{'firmware':[]}}}"),
	    "reference_values.gpu: unknown member");
	assert_invalid(jf("{'version':1,'reference_values':{'gpu':{'driver_version':[]}}}"),
	    "reference_values.gpu.driver_version: must hold at least one entry");
	assert_invalid(jf("{'version':1,'reference_values':{'gpu':{'vbios_version':[{'value':'96 00'}]}}}"),
	    "reference_values.gpu.vbios_version[0].value");
	assert_invalid(jf("{'version':1,'reference_values':{'gpu':{'driver_version':[{'value':'%s'}]}}}",
	    "123456789012345678901234567890123"), "driver_version[0].value");
	assert_invalid(jf("{'version':1,'reference_values':{'gpu':{'sets':[]}}}"), "reference_values.gpu.sets");
	/* sets of GPU measurements: (index, value) unique, the same value at two indexes is fine */
	p = jf("{'measurements':[],'gpu_measurements':[{'index':1,'value':'%s'},{'index':2,'value':'%s',"
	    "'not-before':'2026-01-01T00:00:00Z','name':'vbios'}]}", MA, MA);
	CHECKF(kw_refval_validate(p, why, sizeof(why)) == 0, "%s", why);
	json_decref(p);
	p = jf("{'measurements':[],'gpu_measurements':[{'index':1,'value':'%s'},{'index':1,'value':'%s'}]}", MA, MA);
	CHECKF(kw_refval_validate(p, why, sizeof(why)) == KW_ERR_INVALID_FORMAT && strstr(why, "duplicate") != NULL,
	    "%s", why);
	json_decref(p);
	p = jf("{'measurements':[],'gpu_measurements':[{'index':0,'value':'%s'}]}", MA);
	CHECKF(kw_refval_validate(p, why, sizeof(why)) == KW_ERR_INVALID_FORMAT &&
	    strstr(why, "gpu_measurements[0].index") != NULL, "%s", why);
	json_decref(p);
	p = jf("{'measurements':[],'gpu_measurements':[{'index':256,'value':'%s'}]}", MA);
	CU_ASSERT_EQUAL(kw_refval_validate(p, why, sizeof(why)), KW_ERR_INVALID_FORMAT);
	json_decref(p);
	p = jf("{'measurements':[],'gpu_measurements':[{'index':3,'value':'ab'}]}");
	CHECKF(kw_refval_validate(p, why, sizeof(why)) == KW_ERR_INVALID_FORMAT &&
	    strstr(why, "gpu_measurements[0].value") != NULL, "%s", why);
	json_decref(p);
	p = jf("{'measurements':[],'gpu_measurements':[{'index':3,'value':'%s','not-before':'2027-01-01T00:00:00Z',"
	    "'not-after':'2026-01-01T00:00:00Z'}]}", MA);
	CU_ASSERT_EQUAL(kw_refval_validate(p, why, sizeof(why)), KW_ERR_INVALID_FORMAT);
	json_decref(p);
}

/* Measurement block idx of GPU g in the claims c := value. */
static void
set_gpu_block(json_t *c, size_t g, const char *idx, const char *value)
{
	json_object_set_new(json_object_get(json_array_get(json_object_get(c, "gpus"), g), "measurements"), idx,
	    json_string(value));
}

/* p denies c at T0 with sets, and the deciding check's detail holds text. */
static void
assert_gpu_denied(json_t *p, json_t *c, json_t *sets, const char *text)
{
	json_t *ex = NULL;

	CU_ASSERT_EQUAL(eval_at(p, c, T0, resolver, sets, &ex), KW_ERR_DENIED);
	CHECKF(strstr(explain_str(ex, "detail"), text) != NULL, "%s", explain_str(ex, "detail"));
	json_decref(ex);
}

static void
test_gpu_eval(void)
{
	json_t *c = gpu_claims(), *ex = NULL, *p;
	json_t *sets = jf("{'h100':{'measurements':[],'gpu_measurements':[{'index':1,'value':'%s'},"
	    "{'index':2,'value':'%s','not-after':'%s'}]},'more':{'measurements':[],'gpu_measurements':"
	    "[{'index':3,'value':'%s'}]},'snp':{'measurements':[{'value':'%s'}]}}", MB, MC, ts(T0 + DAY), MA, MA);
	json_t *no_gpus = base_claims();

	/* claim paths reach into arrays by index */
	p = jf("{'version':1,'rules':{'allOf':[{'claim':'gpu_count','op':'equals','value':2},"
	    "{'claim':'gpus.1.cc_mode','op':'equals','value':'spt'},"
	    "{'claim':'gpus.0.measurements.2','op':'equals','value':'%s'}]}}", MC);
	CU_ASSERT_EQUAL(eval(p, c), 0);
	json_decref(p);
	p = jf("{'version':1,'rules':{'anyOf':[{'claim':'gpus.2.cc_mode','op':'exists'},"
	    "{'claim':'gpus.01.cc_mode','op':'exists'},{'claim':'gpus.x.cc_mode','op':'exists'}]}}");
	assert_denied(p, c, 0, "rules", "");
	json_decref(p);
	/* firmware versions: every GPU, windows */
	p = jf("{'version':1,'reference_values':{'gpu':{'driver_version':[{'value':'550.90.07'}],"
	    "'vbios_version':[{'value':'96.00.9f.00.01','not-before':'%s'}]}}}", ts(T0));
	CU_ASSERT_EQUAL(eval(p, c), 0);
	CU_ASSERT_EQUAL(eval_at(p, c, T0 - 1, NULL, NULL, &ex), KW_ERR_DENIED);
	CU_ASSERT_STRING_EQUAL(explain_str(ex, "reason"), "window");
	CU_ASSERT_STRING_EQUAL(explain_str(ex, "path"), "reference_values.gpu.vbios_version[0]");
	json_decref(ex);
	ex = NULL;
	json_object_set_new(json_array_get(json_object_get(c, "gpus"), 1), "driver_version", json_string("535.1"));
	assert_denied(p, c, 1, "gpu", "gpus[1].driver_version is not a reference value");
	json_object_del(json_array_get(json_object_get(c, "gpus"), 1), "driver_version");
	assert_denied(p, c, 2, "gpu", "gpus[1].driver_version missing");
	assert_denied(p, no_gpus, 3, "gpu", "no GPU evidence");
	json_decref(p);
	json_decref(c);
	c = gpu_claims();
	/* measurement blocks against sets */
	p = jf("{'version':1,'reference_values':{'gpu':{'sets':['h100']}}}");
	CU_ASSERT_EQUAL(eval_at(p, c, T0, resolver, sets, NULL), 0);
	CU_ASSERT_EQUAL(eval_at(p, c, T0 + DAY, resolver, sets, &ex), KW_ERR_DENIED);
	CU_ASSERT_STRING_EQUAL(explain_str(ex, "reason"), "window");
	CHECKF(strstr(explain_str(ex, "detail"), "gpus[0] measurement block 2 is outside its window") != NULL, "%s",
	    explain_str(ex, "detail"));
	json_decref(ex);
	ex = NULL;
	/* a block no set registers */
	set_gpu_block(c, 1, "7", MA);
	assert_gpu_denied(p, c, sets, "gpus[1] measurement block 7 is not a reference value");
	json_decref(p);
	json_decref(c);
	c = gpu_claims();
	/* a registered block that is not measured */
	p = jf("{'version':1,'reference_values':{'gpu':{'sets':['h100','more']}}}");
	CU_ASSERT_EQUAL(eval_at(p, c, T0, resolver, sets, &ex), KW_ERR_DENIED);
	CHECKF(strstr(explain_str(ex, "detail"), "gpus[0] measurement block 3 is registered but not measured") !=
	    NULL, "%s", explain_str(ex, "detail"));
	json_decref(ex);
	ex = NULL;
	json_decref(p);
	/* an all-zero entry registers "nothing measured": absent, or one of the alternatives */
	json_object_set_new(sets, "opt", jf("{'measurements':[],'gpu_measurements':[{'index':3,'value':'%s'},"
	    "{'index':3,'value':'%s'}]}", MZ, MA));
	p = jf("{'version':1,'reference_values':{'gpu':{'sets':['h100','opt']}}}");
	CU_ASSERT_EQUAL(eval_at(p, c, T0, resolver, sets, NULL), 0);
	set_gpu_block(c, 0, "3", MA);
	set_gpu_block(c, 1, "3", MA);
	CU_ASSERT_EQUAL(eval_at(p, c, T0, resolver, sets, NULL), 0);
	set_gpu_block(c, 1, "3", MB);
	assert_gpu_denied(p, c, sets, "gpus[1] measurement block 3 is not a reference value");
	json_decref(p);
	json_decref(c);
	c = gpu_claims();
	/* a missing set denies; a resolver failure cannot evaluate */
	p = jf("{'version':1,'reference_values':{'gpu':{'sets':['h100','nope']}}}");
	CU_ASSERT_EQUAL(eval_at(p, c, T0, resolver, sets, &ex), KW_ERR_DENIED);
	CU_ASSERT_STRING_EQUAL(explain_str(ex, "reason"), "set");
	CU_ASSERT_STRING_EQUAL(explain_str(ex, "path"), "reference_values.gpu.sets[1]");
	json_decref(ex);
	ex = NULL;
	json_decref(p);
	p = jf("{'version':1,'reference_values':{'gpu':{'sets':['boom']}}}");
	CU_ASSERT_EQUAL(eval_at(p, c, T0, resolver, sets, NULL), KW_ERR_UNAVAILABLE);
	json_decref(p);
	/* GPU roots: a test root needs allow_test_roots, whatever the CPU's root */
	json_object_set_new(json_array_get(json_object_get(c, "gpus"), 1), "root", json_string("test"));
	p = jf("{'version':1}");
	assert_denied(p, c, 4, "root", "GPU 1 chains to a test (emulation) root");
	json_decref(p);
	p = jf("{'version':1,'allow_test_roots':true}");
	CU_ASSERT_EQUAL(eval(p, c), 0);
	json_decref(p);
	json_object_del(json_array_get(json_object_get(c, "gpus"), 0), "root");
	p = jf("{'version':1,'allow_test_roots':false}");
	assert_denied(p, c, 5, "root", "GPU 0 chains to a test (emulation) root");
	json_decref(p);
	json_decref(no_gpus);
	json_decref(sets);
	json_decref(c);
}

int
main(void)
{
	CU_pSuite s;

	memset(MA, 'a', 96);
	memset(MB, 'b', 96);
	memset(MC, 'c', 96);
	MC[0] = '0';
	if (test_begin() != 0)
		return 2;
	s = CU_add_suite("policy", NULL, NULL);
	CU_add_test(s, "validate basics", test_validate_basics);
	CU_add_test(s, "unknown members at every level", test_unknown_members);
	CU_add_test(s, "nesting depth 8 ok, 9 rejected", test_depth);
	CU_add_test(s, "256 rules ok, 257 rejected", test_rule_count);
	CU_add_test(s, "oversized policy rejected", test_oversized);
	CU_add_test(s, "rule validation", test_rule_validation);
	CU_add_test(s, "reference value and config validation", test_refval_validation);
	CU_add_test(s, "gte and lte boundaries", test_op_gte_lte);
	CU_add_test(s, "equals and notEquals", test_op_equals);
	CU_add_test(s, "in and exists", test_op_in_exists);
	CU_add_test(s, "claim paths", test_claim_paths);
	CU_add_test(s, "allOf and anyOf", test_combinators);
	CU_add_test(s, "debug guests", test_debug);
	CU_add_test(s, "reference value windows", test_refval_window);
	CU_add_test(s, "reference value sets", test_refval_sets);
	CU_add_test(s, "TCB floors", test_tcb_floors);
	CU_add_test(s, "root store", test_root_store);
	CU_add_test(s, "TLS configuration", test_tls);
	CU_add_test(s, "key lengths", test_crypto);
	CU_add_test(s, "supersede with grace", test_supersede_grace);
	CU_add_test(s, "durations", test_duration);
	CU_add_test(s, "lint", test_lint);
	CU_add_test(s, "test roots", test_test_roots);
	CU_add_test(s, "explain", test_explain);
	CU_add_test(s, "hostile claims", test_hostile_claims);
	CU_add_test(s, "bit-flip and truncation sweeps", test_bitflip_sweep);
	CU_add_test(s, "TDX reference values and operators: validation", test_tdx_validation);
	CU_add_test(s, "TDX evaluation", test_tdx_eval);
	CU_add_test(s, "TDX lint", test_tdx_lint);
	CU_add_test(s, "TDX TCB status Revoked", test_tdx_revoked);
	CU_add_test(s, "CCA reference values: validation", test_cca_validation);
	CU_add_test(s, "CCA evaluation and lint", test_cca_eval);
	CU_add_test(s, "TPM PCR and event-log reference values: validation", test_tpm_validation);
	CU_add_test(s, "TPM evaluation", test_tpm_eval);
	CU_add_test(s, "TPM lint", test_tpm_lint);
	CU_add_test(s, "GPU reference values: validation", test_gpu_validation);
	CU_add_test(s, "GPU evaluation", test_gpu_eval);
	CU_add_test(s, "docs/policy.md examples", test_docs_examples);
	return test_end(0);
}
