/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_admin: the admin plane's route table (broker/admin.c) and routing
 * (broker/admin_route.c), and every route run in-process through
 * kw_admin_call against a real SQLite store, for five subjects with
 * different grants. The HSM is unreachable (a bridge that was shut down):
 * routes that need it answer 503, which is what an admin sees when the
 * helper is down; the integration tests (test_admin.py) cover them with
 * SoftHSM2.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <event2/event.h>

#include "admin.h"
#include "broker.h"
#include "test_helper.h"
#include "kw_json.h"

#define LISTENER_METHODS (EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT | \
	EVHTTP_REQ_DELETE | EVHTTP_REQ_PATCH | EVHTTP_REQ_HEAD)
#define M1 "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f"
#define M2 "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"


/* ---- the table ---- */

static int
param(const char *seg)
{
	return strcmp(seg, "{repo}") == 0 || strcmp(seg, "{name}") == 0 ||
	    strcmp(seg, "{version}") == 0;
}

/* Split a pattern into segments (in buf); the count. */
static size_t
pattern_segs(const char *pattern, char *buf, size_t buflen, char **segs, size_t max)
{
	char *save = NULL, *tok, *s;
	size_t n = 0;

	snprintf(buf, buflen, "%s", pattern);
	for (s = buf; (tok = strtok_r(s, "/", &save)) != NULL; s = NULL) {
		CU_ASSERT_FATAL(n < max);
		segs[n++] = tok;
	}
	return n;
}

/* A path that pattern matches: parameters become names (a version "1"). */
static size_t
sample(const char *pattern, char *buf, size_t buflen, char **segs)
{
	static char names[KW_ADMIN_MAX_SEGS][24];
	size_t n = pattern_segs(pattern, buf, buflen, segs, KW_ADMIN_MAX_SEGS);

	for (size_t i = 0; i < n; i++) {
		if (strcmp(segs[i], "{version}") == 0)
			snprintf(names[i], sizeof(names[i]), "1");
		else if (param(segs[i]))
			snprintf(names[i], sizeof(names[i]), "p%zu", i);
		else
			continue;
		segs[i] = names[i];
	}
	return n;
}

/* Can one path match both patterns? */
static int
overlap(const char *p, const char *q)
{
	char bp[256], bq[256], *sp[16], *sq[16];
	size_t np = pattern_segs(p, bp, sizeof(bp), sp, 16), nq = pattern_segs(q, bq, sizeof(bq), sq, 16);

	if (np != nq)
		return 0;
	for (size_t i = 0; i < np; i++)
		if (!param(sp[i]) && !param(sq[i]) && strcmp(sp[i], sq[i]) != 0)
			return 0;
	return 1;
}

static void
test_route_table(void)
{
	CU_ASSERT_FATAL(kw_admin_nroutes > 0);
	for (size_t i = 0; i < kw_admin_nroutes; i++) {
		const struct kw_admin_route *rt = &kw_admin_routes[i];
		char buf[256], *segs[16];
		size_t n = pattern_segs(rt->pattern, buf, sizeof(buf), segs, 16), nrepo = 0, nname = 0;

		CU_ASSERT_PTR_NOT_NULL(rt->handler);
		/* methods the listener takes, at least one */
		CU_ASSERT(rt->methods != 0 && (rt->methods & ~(unsigned int)LISTENER_METHODS) == 0);
		/* a role, or explicitly public to every authenticated admin */
		if (rt->scope == KW_ADMIN_PUBLIC) {
			CU_ASSERT_EQUAL(rt->roles, 0);
			CU_ASSERT_PTR_NULL(rt->action);    /* nothing public changes state */
		} else {
			CU_ASSERT(rt->roles != 0 && (rt->roles & ~KW_ROLE_ANY) == 0);
			CU_ASSERT(rt->denied != NULL && rt->denied[0] != '\0');
		}
		/* writes are recorded, reads are not: an action never goes with GET */
		if (rt->action != NULL)
			CU_ASSERT((rt->methods & EVHTTP_REQ_GET) == 0);
		/* segments are names or parameters; {repo} first, exactly for KW_ADMIN_PATH */
		CU_ASSERT(n >= 1 && n <= KW_ADMIN_MAX_SEGS);
		for (size_t k = 0; k < n; k++) {
			CU_ASSERT(param(segs[k]) || kw_name_valid(segs[k]));
			if (strcmp(segs[k], "{repo}") == 0) {
				CU_ASSERT_EQUAL(nname, 0);
				nrepo++;
			}
			nname += strcmp(segs[k], "{repo}") == 0 || strcmp(segs[k], "{name}") == 0;
		}
		CU_ASSERT(nname <= 3);
		CU_ASSERT_EQUAL(nrepo, rt->scope == KW_ADMIN_PATH ? 1 : 0);
		if (nrepo != (rt->scope == KW_ADMIN_PATH ? 1u : 0u))
			fprintf(stderr, "route %s: {repo} does not fit its scope\n", rt->pattern);
		/* reachable: a path it matches finds it, with every method it takes */
		for (unsigned int m = 1; m <= LISTENER_METHODS; m <<= 1) {
			char sb[256], *ss[KW_ADMIN_MAX_SEGS];
			size_t sn;

			if ((rt->methods & m) == 0)
				continue;
			sn = sample(rt->pattern, sb, sizeof(sb), ss);
			CU_ASSERT_PTR_EQUAL(kw_admin_route_find(kw_admin_routes, kw_admin_nroutes,
			    (enum evhttp_cmd_type)m, ss, sn), rt);
		}
		/* no two rows share a method and a path */
		for (size_t k = 0; k < i; k++) {
			const struct kw_admin_route *o = &kw_admin_routes[k];
			int both = (o->methods & rt->methods) != 0 && overlap(o->pattern, rt->pattern);

			if (both)
				fprintf(stderr, "routes %s and %s overlap\n", o->pattern, rt->pattern);
			CU_ASSERT_FALSE(both);
		}
	}
	/* the overlap check itself */
	CU_ASSERT_TRUE(overlap("keys/{repo}/{name}/{name}", "keys/import/{name}/x"));
	CU_ASSERT_FALSE(overlap("keys/{repo}/{name}/{name}", "keys/import"));
	CU_ASSERT_FALSE(overlap("policies/{repo}/{name}", "refvals/{repo}/{name}"));
}

static void
test_path_split(void)
{
	static const struct {
		const char *path;
		int status;          /* 0: split */
		size_t n;
		const char *first, *last;
	} cases[] = {
		{"/admin/v1/keys", 0, 1, "keys", "keys"},
		{"/admin/v1/keys/demo/k/x", 0, 4, "keys", "x"},
		{"/admin/v1/a/b/c/d/e/f/g/h", 0, 8, "a", "h"},
		{"/admin/v1/a/b/c/d/e/f/g/h/i", 400, 0, NULL, NULL},
		{"/admin/v1/keys/demo/../x", 400, 0, NULL, NULL},
		{"/admin/v1/keys/./x", 400, 0, NULL, NULL},
		{"/admin/v1/keys/demo/%2e%2e/x", 400, 0, NULL, NULL},
		{"/other%20path", 400, 0, NULL, NULL},
		{"/admin/v1/", 400, 0, NULL, NULL},
		{"/admin/v1//keys", 400, 0, NULL, NULL},
		{"/admin/v1/keys//x", 400, 0, NULL, NULL},
		{"/admin/v1/keys/", 400, 0, NULL, NULL},
		{"/admin/v1/ke ys", 400, 0, NULL, NULL},
		{"/admin/v1/k\xc3\xa9ys", 400, 0, NULL, NULL},
		{"/admin/v1/xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 400, 0, NULL,
			NULL},    /* 65 characters */
		{"/admin/v1", 404, 0, NULL, NULL},
		{"/admin/v2/keys", 404, 0, NULL, NULL},
		{"/kbs/v0/auth", 404, 0, NULL, NULL},
		{"", 404, 0, NULL, NULL},
		{NULL, 404, 0, NULL, NULL},
	};

	for (size_t i = 0; i < KW_ARRAY_SIZE(cases); i++) {
		struct kw_admin_path p, before;
		enum kw_problem prob = KW_PROBLEM__COUNT;
		const char *detail = NULL;
		int r;

		memset(&p, 0xa5, sizeof(p));
		before = p;
		r = kw_admin_path_split(cases[i].path, &p, &prob, &detail);
		if (cases[i].status == 0) {
			CU_ASSERT_EQUAL_FATAL(r, 0);
			CU_ASSERT_EQUAL(p.n, cases[i].n);
			CU_ASSERT_STRING_EQUAL(p.segs[0], cases[i].first);
			CU_ASSERT_STRING_EQUAL(p.segs[p.n - 1], cases[i].last);
			kw_admin_path_clear(&p);
			CU_ASSERT_PTR_NULL(p.buf);
		} else {
			if (r == 0 || kw_problem_info(prob) == NULL ||
			    kw_problem_info(prob)->status != cases[i].status)
				fprintf(stderr, "path case %zu: r %d problem %d\n", i, r, (int)prob);
			CU_ASSERT_NOT_EQUAL(r, 0);
			CU_ASSERT_FATAL(kw_problem_info(prob) != NULL);
			CU_ASSERT_EQUAL(kw_problem_info(prob)->status, cases[i].status);
			CU_ASSERT(detail != NULL && detail[0] != '\0');
			CU_ASSERT_EQUAL(memcmp(&p, &before, sizeof(p)), 0);    /* untouched */
		}
	}
}

static void
test_route_args(void)
{
	static const struct { const char *v; int want; } cases[] = {
		{"1", 1}, {"7", 7}, {"1000000", 1000000}, {"0", -1}, {"01", -1}, {"1000001", -1},
		{"-1", -1}, {"1a", -1}, {"x", -1}, {"99999999999999999999", -1},
	};
	const char *pattern = "keys/{repo}/{name}/{name}/versions/{version}/enable";

	for (size_t i = 0; i < KW_ARRAY_SIZE(cases); i++) {
		struct kw_admin_path p;
		struct kw_admin_args a;
		enum kw_problem prob;
		const char *detail;
		char path[128];
		int r;

		snprintf(path, sizeof(path), "/admin/v1/keys/demo/key/disk/versions/%s/enable",
		    cases[i].v);
		CU_ASSERT_FATAL(kw_admin_path_split(path, &p, &prob, &detail) == 0);
		memset(&a, 0, sizeof(a));
		CU_ASSERT_TRUE(kw_admin_pattern_match(pattern, p.segs, p.n));
		r = kw_admin_route_args(pattern, p.segs, p.n, &a);
		if (cases[i].want < 0) {
			CU_ASSERT_EQUAL(r, -1);
			CU_ASSERT_EQUAL(a.n, 0);
		} else {
			CU_ASSERT_EQUAL_FATAL(r, 0);
			CU_ASSERT_EQUAL(a.version, cases[i].want);
			CU_ASSERT_EQUAL(a.n, 3);
			CU_ASSERT_STRING_EQUAL(a.arg[0], "demo");
			CU_ASSERT_STRING_EQUAL(a.arg[2], "disk");
		}
		kw_admin_path_clear(&p);
	}
	{
		struct kw_admin_path p;
		enum kw_problem prob;
		const char *detail;

		CU_ASSERT_FATAL(kw_admin_path_split("/admin/v1/keys/demo", &p, &prob, &detail) == 0);
		CU_ASSERT_FALSE(kw_admin_pattern_match("keys", p.segs, p.n));
		CU_ASSERT_FALSE(kw_admin_pattern_match("keys/{repo}/x", p.segs, p.n));
		CU_ASSERT_TRUE(kw_admin_pattern_match("keys/{repo}", p.segs, p.n));
		CU_ASSERT_FALSE(kw_admin_pattern_match("policies/{repo}", p.segs, p.n));
		kw_admin_path_clear(&p);
	}
}

/* ---- every route, in-process, with a real store ---- */

enum { KA = 1, PA = 2, AUD = 4, KO = 8, NB = 16, ALL = 31 };
static const char *const subjects[] = {"ka-demo", "pa-demo", "aud-all", "ka-other", "nobody"};

static struct kw_broker broker;
static struct kw_config cfg;
static int nkeys;

static int
admin_setup(void)
{
	static const struct { const char *subject, *role, *repo; } g[] = {
		{"ka-demo", "key-admin", "demo"},
		{"pa-demo", "policy-admin", "demo"},
		{"aud-all", "auditor", "*"},
		{"ka-other", "key-admin", "other"},
		{"root", "key-admin", "*"},
		{"root", "policy-admin", "*"},
		{"root", "auditor", "*"},
	};
	static struct kw_grant grants[KW_ARRAY_SIZE(g)];
	static char *repos[KW_ARRAY_SIZE(g)];
	char path[128];

	for (size_t i = 0; i < KW_ARRAY_SIZE(g); i++) {
		grants[i].subject = strdup(g[i].subject);
		grants[i].role = strdup(g[i].role);
		repos[i] = strdup(g[i].repo);
		grants[i].repos = &repos[i];
		grants[i].n_repos = 1;
		if (grants[i].subject == NULL || grants[i].role == NULL || repos[i] == NULL)
			return -1;
	}
	cfg.grants = grants;
	cfg.n_grants = KW_ARRAY_SIZE(grants);
	cfg.policy_max_age = 365 * 86400;
	cfg.hsm_call_timeout = 1;
	cfg.hsm_admin_timeout = 1;
	broker.cfg = &cfg;
	snprintf(path, sizeof(path), "%s/kw.db", test_tmpdir());
	if (kw_store_open(path, &broker.store) != 0 || (broker.base = event_base_new()) == NULL ||
	    kw_hsm_bridge_new(&broker, &broker.bridge) != 0)
		return -1;
	kw_hsm_bridge_shutdown(broker.bridge);    /* every HSM call fails: the helper is down */
	return 0;
}

static int
admin_teardown(void)
{
	for (size_t i = 0; i < cfg.n_grants; i++) {
		free(cfg.grants[i].subject);
		free(cfg.grants[i].role);
		free(cfg.grants[i].repos[0]);
	}
	kw_hsm_bridge_free(broker.bridge);
	event_base_free(broker.base);
	kw_store_close(broker.store);
	return 0;
}

/* kw_admin_call with a formatted path; *ret_body is the answer. */
static int call(const char *who, enum evhttp_cmd_type m, const char *query, const char *body,
    json_t **ret_body, const char *fmt, ...) KW_PRINTF(6, 7);

static int
call(const char *who, enum evhttp_cmd_type m, const char *query, const char *body,
    json_t **ret_body, const char *fmt, ...)
{
	char path[512];
	json_t *j = NULL;
	va_list ap;
	int status = 0;

	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	CU_ASSERT_FATAL(kw_admin_call(&broker, who, m, path, query, body, &status, &j) == 0);
	if (ret_body != NULL)
		*ret_body = j;
	else
		json_decref(j);
	return status;
}

/* A committed key demo/mx/m<N> (as if created and materialized); its path. */
static const char *
fresh_key(void)
{
	static char p[64];
	struct kw_key_spec spec = {"demo", "mx", NULL, "aes-128", 16, NULL};
	char tag[16], *label = NULL;

	snprintf(tag, sizeof(tag), "m%d", ++nkeys);
	spec.tag = tag;
	CU_ASSERT_FATAL(kw_store_key_create(broker.store, &spec, "generated", kw_broker_now(),
	    &label) == 0);
	CU_ASSERT_FATAL(kw_store_version_commit(broker.store, label) == 0);
	free(label);
	snprintf(p, sizeof(p), "demo/mx/%s", tag);
	return p;
}

static const char *
slug_of(const json_t *j)
{
	const char *t = json_string_value(json_object_get(j, "type"));

	return t != NULL && strncmp(t, KW_PROBLEM_TYPE_PREFIX, strlen(KW_PROBLEM_TYPE_PREFIX)) == 0 ?
	    t + strlen(KW_PROBLEM_TYPE_PREFIX) : "";
}

#define POLICY_DOC "{\"document\":{\"version\":1,\"allow_test_roots\":true," \
	"\"reference_values\":{\"measurements\":[{\"value\":\"" M1 "\"}]}}}"
#define REFVAL_DOC "{\"document\":{\"measurements\":[{\"value\":\"" M1 "\"}]}}"
#define KEY_BODY "{\"repository\":\"demo\",\"type\":\"mx\",\"tag\":\"new-%s\",\"algorithm\":\"aes-128\""
#define WRAPPED ",\"wrapped\":{\"kid\":\"k\",\"kek\":\"AAAA\",\"value\":\"AAAA\"}"

/*
 * Who may call what (docs/admin.md's table): the subjects that get past the
 * role check and the status they then get. "%s" in a path is a fresh key.
 */
static const struct matrix_case {
	enum evhttp_cmd_type m;
	const char *path, *query, *body;
	int allowed, status;
} matrix[] = {
	{EVHTTP_REQ_GET, "whoami", NULL, NULL, ALL, 200},
	{EVHTTP_REQ_GET, "import-key", NULL, NULL, KA | KO, 503},
	{EVHTTP_REQ_GET, "changes", "repository=demo", NULL, AUD, 200},
	{EVHTTP_REQ_GET, "changes", NULL, NULL, AUD, 200},
	/* the audit log is not open in this test: 404 once past the role check */
	{EVHTTP_REQ_GET, "audit", NULL, NULL, AUD, 404},
	{EVHTTP_REQ_GET, "audit", "kind=release&limit=5", NULL, AUD, 404},
	{EVHTTP_REQ_GET, "audit/proof", "index=0", NULL, AUD, 404},
	{EVHTTP_REQ_GET, "audit/consistency", "from=1&to=2", NULL, AUD, 404},
	{EVHTTP_REQ_GET, "audit/checkpoint", NULL, NULL, AUD, 404},
	{EVHTTP_REQ_GET, "keys", "repository=demo", NULL, KA | PA | AUD, 200},
	{EVHTTP_REQ_GET, "keys", "repository=other", NULL, KO | AUD, 200},
	{EVHTTP_REQ_GET, "keys", NULL, NULL, ALL, 200},
	{EVHTTP_REQ_POST, "keys", NULL, KEY_BODY "}", KA, 503},
	/* binding a policy at creation needs policy-admin too: nobody here has both */
	{EVHTTP_REQ_POST, "keys", NULL, KEY_BODY ",\"policy\":\"p\"}", 0, 0},
	{EVHTTP_REQ_PUT, "keys", NULL, "{}", ALL, 405},
	{EVHTTP_REQ_DELETE, "keys", NULL, NULL, ALL, 405},
	{EVHTTP_REQ_PATCH, "keys", NULL, "{}", ALL, 405},
	{EVHTTP_REQ_HEAD, "keys", NULL, NULL, ALL, 405},
	{EVHTTP_REQ_POST, "keys/import", NULL, KEY_BODY WRAPPED "}", KA, 503},
	{EVHTTP_REQ_GET, "keys/%s", NULL, NULL, KA | PA | AUD, 200},
	{EVHTTP_REQ_DELETE, "keys/%s", NULL, NULL, KA, 503},
	{EVHTTP_REQ_POST, "keys/%s/versions", NULL, "{}", KA, 503},
	{EVHTTP_REQ_POST, "keys/%s/disable", NULL, "{}", KA, 200},
	{EVHTTP_REQ_POST, "keys/%s/enable", NULL, "{}", KA, 200},
	{EVHTTP_REQ_POST, "keys/%s/versions/1/disable", NULL, "{}", KA, 200},
	{EVHTTP_REQ_POST, "keys/%s/versions/1/enable", NULL, "{}", KA, 200},
	{EVHTTP_REQ_PUT, "keys/%s/policy", NULL, "{\"policy\":\"p\"}", PA, 200},
	{EVHTTP_REQ_GET, "policies", "repository=demo", NULL, KA | PA | AUD, 200},
	{EVHTTP_REQ_GET, "policies", NULL, NULL, ALL, 200},
	{EVHTTP_REQ_PUT, "policies/demo/p", NULL, POLICY_DOC, PA, 201},
	{EVHTTP_REQ_GET, "policies/demo/p", NULL, NULL, KA | PA | AUD, 200},
	{EVHTTP_REQ_GET, "policies/demo/p/history", NULL, NULL, KA | PA | AUD, 200},
	{EVHTTP_REQ_GET, "policies/demo/p/lint", NULL, NULL, PA | AUD, 200},
	{EVHTTP_REQ_POST, "policies/demo/p/explain", NULL, "{\"claims\":{}}", PA | AUD, 200},
	{EVHTTP_REQ_GET, "refvals", "repository=demo", NULL, KA | PA | AUD, 200},
	{EVHTTP_REQ_GET, "refvals", NULL, NULL, ALL, 200},
	{EVHTTP_REQ_PUT, "refvals/demo/r", NULL, REFVAL_DOC, PA, 201},
	{EVHTTP_REQ_GET, "refvals/demo/r", NULL, NULL, KA | PA | AUD, 200},
	{EVHTTP_REQ_GET, "refvals/demo/r/history", NULL, NULL, KA | PA | AUD, 200},
	{EVHTTP_REQ_POST, "refvals/demo/r/supersede", NULL,
		"{\"old\":\"" M1 "\",\"new\":\"" M2 "\",\"grace\":\"1d\"}", PA, 201},
};

/* tmpl with its first "%s" replaced by val. */
static void
subst(const char *tmpl, const char *val, char *out, size_t outlen)
{
	const char *at = strstr(tmpl, "%s");

	if (at == NULL)
		snprintf(out, outlen, "%s", tmpl);
	else
		snprintf(out, outlen, "%.*s%s%s", (int)(at - tmpl), tmpl, val, at + 2);
}

static void
test_matrix(void)
{
	int covered[64] = {0};

	CU_ASSERT_FATAL(kw_admin_nroutes <= KW_ARRAY_SIZE(covered));
	CU_ASSERT_EQUAL(call("pa-demo", EVHTTP_REQ_PUT, NULL, POLICY_DOC, NULL,
	    "/admin/v1/policies/demo/p"), 201);
	CU_ASSERT_EQUAL(call("pa-demo", EVHTTP_REQ_PUT, NULL, REFVAL_DOC, NULL,
	    "/admin/v1/refvals/demo/r"), 201);
	for (size_t i = 0; i < KW_ARRAY_SIZE(matrix); i++) {
		const struct matrix_case *c = &matrix[i];

		for (size_t s = 0; s < KW_ARRAY_SIZE(subjects); s++) {
			char path[160], tail[128], body[512];
			struct kw_admin_path kp;
			enum kw_problem prob;
			const char *detail;
			json_t *j = NULL;
			int status;

			subst(c->path, strstr(c->path, "%s") != NULL ? fresh_key() : "", tail,
			    sizeof(tail));
			snprintf(path, sizeof(path), "/admin/v1/%s", tail);
			subst(c->body != NULL ? c->body : "", subjects[s], body, sizeof(body));
			status = call(subjects[s], c->m, c->query, c->body != NULL ? body : NULL, &j,
			    "%s", path);
			if ((c->allowed & (1 << s)) != 0) {
				if (status != c->status)
					fprintf(stderr, "%s %s as %s: %d, want %d\n", c->body != NULL ?
					    "write" : "read", path, subjects[s], status, c->status);
				CU_ASSERT_EQUAL(status, c->status);
			} else {
				if (status != 403)
					fprintf(stderr, "%s as %s: %d, want 403\n", path, subjects[s], status);
				CU_ASSERT_EQUAL(status, 403);
				CU_ASSERT_STRING_EQUAL(slug_of(j), "forbidden");
			}
			json_decref(j);
			/* which row answered */
			CU_ASSERT_FATAL(kw_admin_path_split(path, &kp, &prob, &detail) == 0);
			for (size_t k = 0; k < kw_admin_nroutes; k++)
				if (kw_admin_route_find(kw_admin_routes, kw_admin_nroutes, c->m, kp.segs,
				    kp.n) == &kw_admin_routes[k])
					covered[k]++;
			kw_admin_path_clear(&kp);
		}
	}
	/* every row of the table has a case above */
	for (size_t k = 0; k < kw_admin_nroutes; k++) {
		if (covered[k] == 0)
			fprintf(stderr, "route %s has no case in test_matrix\n",
			    kw_admin_routes[k].pattern);
		CU_ASSERT(covered[k] > 0);
	}
}

/* What each subject sees in listings: only rows of its repositories. */
static void
test_listings(void)
{
	json_t *j = NULL;

	CU_ASSERT_EQUAL(call("root", EVHTTP_REQ_PUT, NULL, POLICY_DOC, NULL,
	    "/admin/v1/policies/other/po"), 201);
	CU_ASSERT_EQUAL(call("nobody", EVHTTP_REQ_GET, NULL, NULL, &j, "/admin/v1/keys"), 200);
	CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "keys")), 0);
	json_decref(j);
	CU_ASSERT_EQUAL(call("ka-other", EVHTTP_REQ_GET, NULL, NULL, &j, "/admin/v1/keys"), 200);
	CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "keys")), 0);
	json_decref(j);
	CU_ASSERT_EQUAL(call("ka-demo", EVHTTP_REQ_GET, NULL, NULL, &j, "/admin/v1/keys"), 200);
	CU_ASSERT(json_array_size(json_object_get(j, "keys")) > 0);
	json_decref(j);
	CU_ASSERT_EQUAL(call("pa-demo", EVHTTP_REQ_GET, NULL, NULL, &j, "/admin/v1/policies"), 200);
	CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "policies")), 1);
	json_decref(j);
	CU_ASSERT_EQUAL(call("ka-other", EVHTTP_REQ_GET, NULL, NULL, &j, "/admin/v1/policies"), 200);
	CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "policies")), 1);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(
	    json_object_get(j, "policies"), 0), "repository")), "other");
	json_decref(j);
	CU_ASSERT_EQUAL(call("aud-all", EVHTTP_REQ_GET, NULL, NULL, &j, "/admin/v1/policies"), 200);
	CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "policies")), 2);
	json_decref(j);
	CU_ASSERT_EQUAL(call("nobody", EVHTTP_REQ_GET, NULL, NULL, &j, "/admin/v1/whoami"), 200);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "subject")), "nobody");
	CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "grants")), 0);
	json_decref(j);
}

/* Refusals are recorded with who and what; requests refused before routing are not. */
static void
test_change_record(void)
{
	json_t *j = NULL, *c;
	size_t i;
	int denied_create = 0, ok_enable = 0, denied_put = 0, version0 = 0, hsm_error = 0;

	CU_ASSERT_EQUAL(call("root", EVHTTP_REQ_POST, NULL, "{}", NULL,
	    "/admin/v1/keys/demo/mx/m1/versions/0/disable"), 400);
	CU_ASSERT_EQUAL(call("aud-all", EVHTTP_REQ_GET, "repository=demo&limit=10000", NULL, &j,
	    "/admin/v1/changes"), 200);
	json_array_foreach(json_object_get(j, "changes"), i, c) {
		const char *actor = json_string_value(json_object_get(c, "actor"));
		const char *action = json_string_value(json_object_get(c, "action"));
		const char *outcome = json_string_value(json_object_get(c, "outcome"));
		const char *target = json_string_value(json_object_get(c, "target"));

		CU_ASSERT_FATAL(actor != NULL && action != NULL && outcome != NULL && target != NULL);
		denied_create += strcmp(actor, "pa-demo") == 0 && strcmp(action, "key.create") == 0 &&
		    strcmp(outcome, "denied") == 0 && strcmp(target, "demo/mx/new-pa-demo") == 0;
		ok_enable += strcmp(actor, "ka-demo") == 0 && strcmp(action, "key.enable") == 0 &&
		    strcmp(outcome, "ok") == 0;
		denied_put += strcmp(actor, "aud-all") == 0 && strcmp(action, "policy.put") == 0 &&
		    strcmp(outcome, "denied") == 0 && strcmp(target, "demo/p") == 0;
		hsm_error += strcmp(actor, "ka-demo") == 0 && strcmp(action, "key.create") == 0 &&
		    strcmp(outcome, "error") == 0;
		version0 += strcmp(actor, "root") == 0;
	}
	CU_ASSERT_EQUAL(denied_create, 2);    /* without and with "policy" */
	CU_ASSERT_EQUAL(ok_enable, 2);        /* the key and its version 1 */
	CU_ASSERT_EQUAL(denied_put, 1);
	CU_ASSERT_EQUAL(hsm_error, 1);
	CU_ASSERT_EQUAL(version0, 0);
	json_decref(j);
	/* the other subjects' refusals without a repository in the record */
	CU_ASSERT_EQUAL(call("ka-demo", EVHTTP_REQ_GET, NULL, NULL, &j, "/admin/v1/changes"), 403);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "detail")),
	    "auditor role required");
	json_decref(j);
}

/* The answers before and around routing (tests/integration/test_admin.py t_bad_input). */
static void
test_bad_requests(void)
{
	static const struct {
		enum evhttp_cmd_type m;
		const char *path, *query, *body;
		int status;
		const char *slug;
	} cases[] = {
		{EVHTTP_REQ_POST, "/admin/v1/keys", NULL, "{bad", 400, "malformed"},
		{EVHTTP_REQ_POST, "/admin/v1/keys", NULL, "[]", 400, "malformed"},
		{EVHTTP_REQ_POST, "/admin/v1/keys", NULL, "{\"repository\":\"demo\",\"type\":\"k\","
			"\"tag\":\"x\",\"algorithm\":\"aes-256\",\"extra\":1}", 400, "malformed"},
		{EVHTTP_REQ_POST, "/admin/v1/keys", NULL, "{\"repository\":\"..\",\"type\":\"k\","
			"\"tag\":\"x\",\"algorithm\":\"aes-256\"}", 400, "malformed"},
		{EVHTTP_REQ_GET, "/admin/v1/keys/demo/../x", NULL, NULL, 400, "malformed"},
		{EVHTTP_REQ_GET, "/admin/v1/keys/demo/%2e%2e/x", NULL, NULL, 400, "malformed"},
		{EVHTTP_REQ_GET, "/admin/v1/keys/demo/k/x/extra/path", NULL, NULL, 404, "not-found"},
		{EVHTTP_REQ_GET, "/admin/v1/keys", "repository=../x", NULL, 400, "malformed"},
		{EVHTTP_REQ_GET, "/admin/v1/keys", "bogus=1", NULL, 400, "malformed"},
		{EVHTTP_REQ_GET, "/admin/v1/policies/demo/p", "version=abc", NULL, 400, "malformed"},
		{EVHTTP_REQ_GET, "/admin/v1/policies/demo/p", "version=99", NULL, 404, "not-found"},
		{EVHTTP_REQ_DELETE, "/admin/v1/keys/demo/k/never", NULL, NULL, 404, "not-found"},
		{EVHTTP_REQ_POST, "/admin/v1/keys/demo/k/never/versions", NULL, "{}", 404, "not-found"},
		{EVHTTP_REQ_POST, "/admin/v1/keys/demo/k/never/versions/0/disable", NULL, "{}", 400,
			"malformed"},
		{EVHTTP_REQ_PUT, "/admin/v1/keys/demo/k/never/policy", NULL, "{\"policy\":5}", 400,
			"malformed"},
		{EVHTTP_REQ_PATCH, "/admin/v1/keys", NULL, "{}", 405, "method-not-allowed"},
		/* a known path with another method is 404 but for /keys, as it always was */
		{EVHTTP_REQ_POST, "/admin/v1/whoami", NULL, "{}", 404, "not-found"},
		{EVHTTP_REQ_PUT, "/admin/v1/keys/demo/k/x", NULL, "{}", 404, "not-found"},
		{EVHTTP_REQ_GET, "/admin/v1/keys/import", NULL, NULL, 404, "not-found"},
		{EVHTTP_REQ_GET, "/admin/v1/nothing", NULL, NULL, 404, "not-found"},
		{EVHTTP_REQ_GET, "/admin/v2/keys", NULL, NULL, 404, "not-found"},
		{EVHTTP_REQ_GET, "/admin/v1/", NULL, NULL, 400, "malformed"},
		{EVHTTP_REQ_GET, "/admin/v1//keys", NULL, NULL, 400, "malformed"},
		{EVHTTP_REQ_GET, "/admin/v1/keys/", NULL, NULL, 400, "malformed"},
		{EVHTTP_REQ_GET, NULL, NULL, NULL, 404, "not-found"},
	};
	char *big = malloc(300000);
	json_t *j = NULL;

	for (size_t i = 0; i < KW_ARRAY_SIZE(cases); i++) {
		int status = 0;

		j = NULL;
		CU_ASSERT_FATAL(kw_admin_call(&broker, "root", cases[i].m, cases[i].path,
		    cases[i].query, cases[i].body, &status, &j) == 0);
		if (status != cases[i].status || strcmp(slug_of(j), cases[i].slug) != 0)
			fprintf(stderr, "bad request %zu (%s): %d %s\n", i, cases[i].path != NULL ?
			    cases[i].path : "NULL", status, slug_of(j));
		CU_ASSERT_EQUAL(status, cases[i].status);
		CU_ASSERT_STRING_EQUAL(slug_of(j), cases[i].slug);
		json_decref(j);
	}
	CU_ASSERT_FATAL(big != NULL);
	memset(big, 'A', 299999);
	big[299999] = '\0';
	memcpy(big, "{\"x\":\"", 6);
	CU_ASSERT_EQUAL(call("root", EVHTTP_REQ_POST, NULL, big, &j, "/admin/v1/keys"), 413);
	CU_ASSERT_STRING_EQUAL(slug_of(j), "too-large");
	json_decref(j);
	free(big);
	/* an existing key is a conflict; a key being created while the HSM is down is not left behind */
	CU_ASSERT_EQUAL(call("root", EVHTTP_REQ_POST, NULL, "{\"repository\":\"demo\",\"type\":\"mx\","
	    "\"tag\":\"m1\",\"algorithm\":\"aes-128\"}", &j, "/admin/v1/keys"), 409);
	CU_ASSERT_STRING_EQUAL(slug_of(j), "conflict");
	json_decref(j);
	CU_ASSERT_EQUAL(call("root", EVHTTP_REQ_GET, NULL, NULL, &j,
	    "/admin/v1/keys/demo/mx/new-ka-demo"), 404);
	json_decref(j);
	/* the HSM being down is a 503 with the generic detail, not the internal one */
	CU_ASSERT_EQUAL(call("root", EVHTTP_REQ_GET, NULL, NULL, &j, "/admin/v1/import-key"), 503);
	CU_ASSERT_STRING_EQUAL(slug_of(j), "unavailable");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "detail")),
	    kw_problem_info(KW_PROBLEM_UNAVAILABLE)->detail);
	json_decref(j);
}

static CU_TestInfo routing_tests[] = {
	{"the route table", test_route_table},
	{"request paths", test_path_split},
	{"route parameters", test_route_args},
	CU_TEST_INFO_NULL,
};
static CU_TestInfo request_tests[] = {
	{"every route x five subjects", test_matrix},
	{"listings show only granted repositories", test_listings},
	{"the change record", test_change_record},
	{"bad requests", test_bad_requests},
	CU_TEST_INFO_NULL,
};
static CU_SuiteInfo suites[] = {
	{"admin routing", NULL, NULL, NULL, NULL, routing_tests},
	{"admin requests in-process", admin_setup, admin_teardown, NULL, NULL, request_tests},
	CU_SUITE_INFO_NULL,
};

int
main(void)
{
	return test_run_suites(suites);
}
