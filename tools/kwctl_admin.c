/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kwctl admin subcommands: whoami, key ..., policy ..., refval ..., changes.
 * Each is one table row (options allowed, positional names, a run function);
 * parsing, connection and output are shared. docs/admin.md is the API,
 * docs/policy.md the policy language (lint, explain, supersede).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kw_json.h"
#include "kw_util.h"
#include "kwctl.h"

#define KWCTL_MAX_PATH 512
#define KWCTL_NUM_MAX 9007199254740991LL   /* 2^53 - 1: exact in JSON everywhere */

/* Options a subcommand accepts besides the connection options. */
enum {
	O_REPO = 1 << 0, O_ALG = 1 << 1, O_LEN = 1 << 2, O_POLICY = 1 << 3, O_VALUE = 1 << 4,
	O_VERSION = 1 << 5, O_YES = 1 << 6, O_NONE = 1 << 7, O_FILE = 1 << 8,
	O_IMMUTABLE = 1 << 9, O_AFTER = 1 << 10, O_LIMIT = 1 << 11, O_CLAIMS = 1 << 12,
	O_AT = 1 << 13, O_BY = 1 << 14, O_GRACE = 1 << 15, O_ROOT = 1 << 16,
};

/* Positional argument kinds (P_DOC_ARG: R/NAME and one more word). */
enum { P_NONE, P_KEY, P_DOC, P_KEY_NAME, P_DOC_ARG, P_NUM1, P_NUM2, P_NUM12 };

#define KWCTL_HEX96 96   /* a measurement: SHA-384 in hex */

struct cmd;

struct sub {
	const char *group;      /* "key", "policy" (also refval), "whoami", "changes" */
	const char *name;       /* NULL for whoami / changes */
	const char *synopsis;
	const char *help;
	unsigned int opts;
	int pos;
	int (*run)(struct cmd *);
	const char *only;       /* "policy" or "refval": only under that word; NULL: both */
};

struct cmd {
	const struct sub *sub;
	const char *group;      /* as typed: "policy" or "refval" */
	char what[32];          /* "key create": prefix of messages */
	struct kwctl_conn_flags cf;
	struct kwctl_conn conn;
	int json, yes, none, immutable;
	const char *repo, *alg, *policy, *value_file, *file, *claims, *at, *by, *grace, *root;
	int64_t length, version, after, limit;   /* -1: not given */
	int64_t n1, n2;                          /* P_NUM*: the numbers, -1: not given */
	struct kw_secret *value_hex;             /* --value-hex, parsed */
	/* positional names, validated */
	const char *r, *t, *g, *name, *arg;
	char pbuf[3 * (KWCTL_MAX_NAME + 1)];
	/*
	 * Called with every parsed 2xx answer before it is printed (also with
	 * --json). Returns the exit status; KWCTL_EFAIL means the answer is
	 * unusable (the hook has said why) and nothing is printed.
	 */
	int (*post)(const json_t *, struct cmd *);
	char old_hex[KWCTL_HEX96 + 1], new_hex[KWCTL_HEX96 + 1];   /* supersede, lower-case */
};

/* ---- small helpers ---- */

/* Option name as typed, without any "=value" (never echo values). */
static void
opt_name(const char *arg, char *out, size_t n)
{
	char tmp[40];
	size_t l = strcspn(arg, "=");

	if (l >= sizeof(tmp))
		l = sizeof(tmp) - 1;
	memcpy(tmp, arg, l);
	tmp[l] = '\0';
	kwctl_escape(tmp, sizeof(tmp), out, n);
}

static int
parse_num(const char *s, int64_t min, int64_t max, int64_t *ret)
{
	char *end;
	long long v;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*ret = v;
	return 0;
}

/* Split "R/T/G" (n == 3) or "R/NAME" (n == 2) into cmd->pbuf and check each part. */
static int
split_names(struct cmd *c, const char *s, int n)
{
	const char *parts[3];
	size_t len = strlen(s);
	int k = 0;
	char *p;

	if (len >= sizeof(c->pbuf))
		return -1;
	memcpy(c->pbuf, s, len + 1);
	p = c->pbuf;
	for (;;) {
		char *slash = strchr(p, '/');

		if (k == n)
			return -1;
		parts[k++] = p;
		if (slash == NULL)
			break;
		*slash = '\0';
		p = slash + 1;
	}
	if (k != n)
		return -1;
	for (int i = 0; i < n; i++)
		if (!kw_name_valid(parts[i]))
			return -1;
	c->r = parts[0];
	if (n == 3) {
		c->t = parts[1];
		c->g = parts[2];
	} else {
		c->name = parts[1];
	}
	return 0;
}

/* --value-hex into a secret; the argument is wiped from argv afterwards by the caller. */
static int
hex_secret(const char *hex, struct kw_secret **ret)
{
	struct kw_secret *s = NULL;
	size_t n = strlen(hex);

	if (n == 0 || n % 2 != 0 || n / 2 > KWCTL_MAX_SECRET)
		return -1;
	if (kw_secret_new(n / 2, &s) != 0)
		return -1;
	if (kw_hex_decode(hex, kw_secret_ptr(s), n / 2) != 0) {
		kw_secret_free(s);
		return -1;
	}
	*ret = s;
	return 0;
}


/* ---- output ---- */

/* Escaped string member, or "-" when absent or not a string. */
static const char *
str_of(const json_t *o, const char *k, char *buf, size_t n)
{
	const char *v;
	size_t l;

	if (kw_json_get_str(o, k, &v, &l) != 0)
		return "-";
	kwctl_escape(v, 120, buf, n);
	return buf;
}

/* Integer member as decimal, or "-". */
static const char *
int_of(const json_t *o, const char *k, char *buf, size_t n)
{
	int64_t v;

	if (kw_json_get_int(o, k, &v) != 0)
		return "-";
	snprintf(buf, n, "%" PRId64, v);
	return buf;
}

/* Seconds since the epoch as RFC 3339, or "-". */
static const char *
time_of(const json_t *o, const char *k, char *buf)
{
	int64_t v;

	if (kw_json_get_int(o, k, &v) != 0 || v < 0 || v > 253402300799LL)
		return "-";
	kw_time_format_rfc3339(v, buf);
	return buf;
}

static void
print_key(const json_t *k, int brief)
{
	char a[3][200], n[24], t[21], pol[200], ubuf[8192];
	const json_t *vs = json_object_get(k, "versions"), *v;
	size_t i;

	if (json_is_string(json_object_get(k, "policy")))
		str_of(k, "policy", pol, sizeof(pol));
	else
		snprintf(pol, sizeof(pol), "(none)");
	printf(brief ? "%s/" : "key %s/", str_of(k, "repository", a[0], sizeof(a[0])));
	printf("%s/%s", str_of(k, "type", a[1], sizeof(a[1])), str_of(k, "tag", a[2], sizeof(a[2])));
	if (brief) {
		printf("  %s  %s  %s  versions %zu  policy %s\n",
		    str_of(k, "algorithm", a[0], sizeof(a[0])), int_of(k, "length", n, sizeof(n)),
		    str_of(k, "state", a[1], sizeof(a[1])), json_array_size(vs), pol);
		return;
	}
	printf("\n  algorithm  %s, %s bytes\n", str_of(k, "algorithm", a[0], sizeof(a[0])),
	    int_of(k, "length", n, sizeof(n)));
	printf("  state      %s\n", str_of(k, "state", a[0], sizeof(a[0])));
	printf("  policy     %s\n", pol);
	printf("  created    %s\n", time_of(k, "created", t));
	json_array_foreach(vs, i, v) {
		const char *uri;
		size_t ul;

		printf("  version %-4s %-9s %-10s %s\n", int_of(v, "version", n, sizeof(n)),
		    str_of(v, "state", a[0], sizeof(a[0])), str_of(v, "origin", a[1], sizeof(a[1])),
		    time_of(v, "created", t));
		/* the HSM object (RFC 7512): p11tool --list-all '<uri>' finds it (docs/hsm.md) */
		if (kw_json_get_str(v, "uri", &uri, &ul) == 0) {
			kwctl_escape(uri, sizeof(ubuf) / 4 - 4, ubuf, sizeof(ubuf));
			printf("    uri %s\n", ubuf);
		}
	}
}

/* A policy or reference-value version; kind is "policy" or "refval". */
static void
print_doc(const json_t *d, const char *kind, int brief)
{
	char a[2][200], n[24], t[21], *txt;
	const json_t *doc = json_object_get(d, "document");
	int imm = json_is_true(json_object_get(d, "immutable"));

	if (!brief)
		printf("%s ", kind);
	printf("%s/%s  version %s", str_of(d, "repository", a[0], sizeof(a[0])),
	    str_of(d, "name", a[1], sizeof(a[1])), int_of(d, "version", n, sizeof(n)));
	if (json_object_get(d, "created") != NULL)
		printf("  created %s", time_of(d, "created", t));
	printf("%s\n", imm ? "  immutable" : "");
	if (brief || doc == NULL)
		return;
	/* JSON_ENSURE_ASCII: the server's strings cannot carry terminal controls. */
	if ((txt = kw_json_dumps(doc, JSON_INDENT(2) | JSON_ENSURE_ASCII)) == NULL)
		return;
	printf("%s\n", txt);
	free(txt);
}

static void
print_whoami(const json_t *w)
{
	char a[200];
	const json_t *gs = json_object_get(w, "grants"), *g, *rs, *r;
	size_t i, j;

	printf("subject %s\n", str_of(w, "subject", a, sizeof(a)));
	json_array_foreach(gs, i, g) {
		printf("  %-13s", str_of(g, "role", a, sizeof(a)));
		rs = json_object_get(g, "repositories");
		json_array_foreach(rs, j, r) {
			kwctl_escape(json_is_string(r) ? json_string_value(r) : "?", 80, a, sizeof(a));
			printf("%s%s", j == 0 ? " " : ", ", a);
		}
		printf("\n");
	}
}

static void
print_change(const json_t *ch)
{
	char a[8][200], t[21];

	printf("%s  %s  %s  %s  %s  %s  %s  %s\n", int_of(ch, "seq", a[0], sizeof(a[0])),
	    time_of(ch, "at", t), str_of(ch, "actor", a[1], sizeof(a[1])),
	    str_of(ch, "action", a[2], sizeof(a[2])), str_of(ch, "repository", a[3], sizeof(a[3])),
	    str_of(ch, "target", a[4], sizeof(a[4])), str_of(ch, "outcome", a[5], sizeof(a[5])),
	    str_of(ch, "detail", a[6], sizeof(a[6])));
}

/* ---- request + output ---- */

/*
 * Send, then print: --json writes the body exactly (and a newline if it has
 * none); otherwise print(doc) formats it. A 2xx body that is not a JSON
 * object is refused (exit 1). 204 prints done (if not NULL). c->post, when
 * set, checks the answer first and decides the exit status.
 */
static int
exchange(struct cmd *c, const char *method, const char *path, const char *body,
    void (*print)(const json_t *, struct cmd *), const char *done)
{
	struct kwctl_resp rs = { 0, NULL, 0 };
	json_t *j = NULL;
	int rc;

	if ((rc = kwctl_http(&c->conn, c->what, method, path, body, &rs)) != 0)
		return rc;
	if (rs.status == 204) {
		if (!c->json && done != NULL)
			printf("%s\n", done);
		goto out;
	}
	if (kw_json_parse(rs.body, rs.len, KWCTL_MAX_RESPONSE, &j) != 0) {
		rc = kwctl_fail(KWCTL_EFAIL, "%s: HTTP %ld with a body that is not a JSON object",
		    c->what, rs.status);
		goto out;
	}
	if (c->post != NULL && (rc = c->post(j, c)) == KWCTL_EFAIL)
		goto out;
	if (c->json) {
		if (fwrite(rs.body, 1, rs.len, stdout) != rs.len ||
		    (rs.len > 0 && rs.body[rs.len - 1] != '\n' && fputc('\n', stdout) == EOF))
			rc = kwctl_fail(KWCTL_EFAIL, "cannot write output");
	} else {
		print(j, c);
	}
out:
	if ((rc == 0 || rc == KWCTL_EWARNINGS || rc == KWCTL_EPOLDENY) && fflush(stdout) != 0)
		rc = kwctl_fail(KWCTL_EFAIL, "cannot write output");
	json_decref(j);
	kwctl_resp_free(&rs);
	return rc;
}

static void
out_key(const json_t *j, struct cmd *c)
{
	(void)c;
	print_key(j, 0);
}

static void
out_keys(const json_t *j, struct cmd *c)
{
	const json_t *k;
	size_t i;

	(void)c;
	json_array_foreach(json_object_get(j, "keys"), i, k)
		print_key(k, 1);
}

static void
out_whoami(const json_t *j, struct cmd *c)
{
	(void)c;
	print_whoami(j);
}

static void
out_doc(const json_t *j, struct cmd *c)
{
	print_doc(j, c->group, 0);
}

static void
out_docs(const json_t *j, struct cmd *c)
{
	const json_t *arr = json_object_get(j, "history"), *d;
	size_t i;

	if (arr == NULL)
		arr = json_object_get(j, strcmp(c->group, "policy") == 0 ? "policies" : "refvals");
	json_array_foreach(arr, i, d)
		print_doc(d, c->group, 1);
}

/* print(e) for every element of the array j[member]. */
static void
print_each(const json_t *j, const char *member, void (*print)(const json_t *))
{
	const json_t *e;
	size_t i;

	json_array_foreach(json_object_get(j, member), i, e)
		print(e);
}

static void
out_changes(const json_t *j, struct cmd *c)
{
	(void)c;
	print_each(j, "changes", print_change);
}

/* One audit record on one line: index, time, kind, its data (compact JSON, escaped). */
static void
print_audit_record(const json_t *rec)
{
	char idx[24], t[21], kind[40], *d = kw_json_dumps(json_object_get(rec, "data"), JSON_COMPACT |
	    JSON_SORT_KEYS);
	char esc[4096];

	kwctl_escape(d != NULL ? d : "-", 1000, esc, sizeof(esc));
	printf("%s  %s  %s  %s\n", int_of(rec, "index", idx, sizeof(idx)), time_of(rec, "at", t),
	    str_of(rec, "kind", kind, sizeof(kind)), esc);
	free(d);
}

static void
out_audit(const json_t *j, struct cmd *c)
{
	(void)c;
	print_each(j, "records", print_audit_record);
}

/* show: the record whose index was asked for (the page starts there). */
static int
post_audit_show(const json_t *j, struct cmd *c)
{
	const json_t *rec = json_array_get(json_object_get(j, "records"), 0);
	int64_t idx = -1;

	if (rec == NULL || kw_json_get_int(rec, "index", &idx) != 0 || idx != c->n1)
		return kwctl_fail(KWCTL_EFAIL, "%s: no record %" PRId64 " (the log holds %" PRId64
		    ")", c->what, c->n1, (int64_t)json_integer_value(json_object_get(j, "size")));
	return KWCTL_OK;
}

static void
out_audit_proof(const json_t *j, struct cmd *c)
{
	const json_t *h;
	char a[4][200];
	size_t i;

	(void)c;
	if (json_object_get(j, "index") != NULL)
		printf("inclusion of record %s in the tree of size %s\nleaf hash %s\nroot      %s\n",
		    int_of(j, "index", a[0], sizeof(a[0])), int_of(j, "size", a[1], sizeof(a[1])),
		    str_of(j, "leaf_hash", a[2], sizeof(a[2])), str_of(j, "root", a[3], sizeof(a[3])));
	else
		printf("consistency of size %s with size %s\nroot %s  %s\nroot %s  %s\n",
		    int_of(j, "from", a[0], sizeof(a[0])), int_of(j, "to", a[1], sizeof(a[1])),
		    a[0], str_of(j, "from_root", a[2], sizeof(a[2])), a[1],
		    str_of(j, "to_root", a[3], sizeof(a[3])));
	json_array_foreach(json_object_get(j, "proof"), i, h) {
		kwctl_escape(json_is_string(h) ? json_string_value(h) : "-", 100, a[2], sizeof(a[2]));
		printf("proof[%zu] %s\n", i, a[2]);
	}
}

/* Serialize a request body (compact); NULL on failure. */
static char *
body_of(json_t *j)
{
	return j == NULL ? NULL : kw_json_dumps(j, JSON_COMPACT);
}

static int
body_fail(struct cmd *c)
{
	return kwctl_fail(KWCTL_EFAIL, "%s: out of memory", c->what);
}

/* ---- commands ---- */

static int
run_whoami(struct cmd *c)
{
	return exchange(c, "GET", "/admin/v1/whoami", NULL, out_whoami, NULL);
}

static int
run_changes(struct cmd *c)
{
	char path[KWCTL_MAX_PATH];
	int n = snprintf(path, sizeof(path), "/admin/v1/changes");
	char sep = '?';

	if (c->repo != NULL) {
		n += snprintf(path + n, sizeof(path) - (size_t)n, "%crepository=%s", sep, c->repo);
		sep = '&';
	}
	if (c->after >= 0) {
		n += snprintf(path + n, sizeof(path) - (size_t)n, "%cafter=%" PRId64, sep, c->after);
		sep = '&';
	}
	if (c->limit >= 0)
		snprintf(path + n, sizeof(path) - (size_t)n, "%climit=%" PRId64, sep, c->limit);
	return exchange(c, "GET", path, NULL, out_changes, NULL);
}

static int
run_audit_tail(struct cmd *c)
{
	char path[KWCTL_MAX_PATH];
	int n = snprintf(path, sizeof(path), "/admin/v1/audit?last=%" PRId64,
	    c->limit >= 0 ? (c->limit > 10000 ? 10000 : c->limit) : 20);

	if (c->repo != NULL)
		snprintf(path + n, sizeof(path) - (size_t)n, "&repository=%s", c->repo);
	return exchange(c, "GET", path, NULL, out_audit, NULL);
}

static int
run_audit_show(struct cmd *c)
{
	char path[KWCTL_MAX_PATH];

	snprintf(path, sizeof(path), "/admin/v1/audit?cursor=%" PRId64 "&limit=1", c->n1);
	c->post = post_audit_show;
	return exchange(c, "GET", path, NULL, out_audit, NULL);
}

static int
run_audit_proof(struct cmd *c)
{
	char path[KWCTL_MAX_PATH];
	int n = snprintf(path, sizeof(path), "/admin/v1/audit/proof?index=%" PRId64, c->n1);

	if (c->n2 >= 0)
		snprintf(path + n, sizeof(path) - (size_t)n, "&size=%" PRId64, c->n2);
	return exchange(c, "GET", path, NULL, out_audit_proof, NULL);
}

static int
run_audit_consistency(struct cmd *c)
{
	char path[KWCTL_MAX_PATH];

	snprintf(path, sizeof(path), "/admin/v1/audit/consistency?from=%" PRId64 "&to=%" PRId64,
	    c->n1, c->n2);
	return exchange(c, "GET", path, NULL, out_audit_proof, NULL);
}

static int
run_key_list(struct cmd *c)
{
	char path[KWCTL_MAX_PATH];

	snprintf(path, sizeof(path), "/admin/v1/keys%s%s", c->repo != NULL ? "?repository=" : "",
	    c->repo != NULL ? c->repo : "");
	return exchange(c, "GET", path, NULL, out_keys, NULL);
}

static void
key_path(const struct cmd *c, char *path, size_t n, const char *suffix)
{
	snprintf(path, n, "/admin/v1/keys/%s/%s/%s%s", c->r, c->t, c->g, suffix);
}

static int
run_key_show(struct cmd *c)
{
	char path[KWCTL_MAX_PATH];

	key_path(c, path, sizeof(path), "");
	return exchange(c, "GET", path, NULL, out_key, NULL);
}

/* Length implied by the algorithm: 16, 32, or 0 for "secret"; -1 if unknown. */
static int
alg_length(const char *alg)
{
	if (strcmp(alg, "aes-128") == 0)
		return 16;
	if (strcmp(alg, "aes-256") == 0)
		return 32;
	if (strcmp(alg, "secret") == 0)
		return 0;
	return -1;
}

static int
check_alg(struct cmd *c)
{
	int want;

	if (c->alg == NULL)
		return kwctl_usage_error("%s: --algorithm aes-128|aes-256|secret is required", c->what);
	if ((want = alg_length(c->alg)) < 0)
		return kwctl_usage_error("%s: --algorithm must be aes-128, aes-256 or secret", c->what);
	if (want > 0 && c->length >= 0 && c->length != want)
		return kwctl_usage_error("%s: %s keys are %d bytes long", c->what, c->alg, want);
	return 0;
}

static int
run_key_create(struct cmd *c)
{
	json_t *j = NULL;
	char *body = NULL;
	int rc;

	if ((rc = check_alg(c)) != 0)
		return rc;
	if (alg_length(c->alg) == 0 && c->length < 0)
		return kwctl_usage_error("%s: --length 1..%d is required for secret keys", c->what,
		    KWCTL_MAX_SECRET);
	if ((j = json_pack("{s:s,s:s,s:s,s:s}", "repository", c->r, "type", c->t, "tag", c->g,
	    "algorithm", c->alg)) == NULL ||
	    (c->length >= 0 && json_object_set_new(j, "length", json_integer(c->length)) != 0) ||
	    (c->policy != NULL && json_object_set_new(j, "policy", json_string(c->policy)) != 0) ||
	    (body = body_of(j)) == NULL) {
		rc = body_fail(c);
		goto out;
	}
	rc = exchange(c, "POST", "/admin/v1/keys", body, out_key, NULL);
out:
	free(body);
	json_decref(j);
	return rc;
}

/* The value to import from --value-file or --value-hex (*ret NULL when neither). */
static int
load_value(struct cmd *c, struct kw_secret **ret)
{
	int r;

	*ret = NULL;
	if (c->value_file != NULL && c->value_hex != NULL)
		return kwctl_usage_error("%s: give --value-file or --value-hex, not both", c->what);
	if (c->value_hex != NULL) {
		*ret = c->value_hex;
		c->value_hex = NULL;   /* transferred */
		return 0;
	}
	if (c->value_file != NULL && (r = kw_secret_read_file(c->value_file, KWCTL_MAX_SECRET, 0, ret)) != 0)
		return kwctl_usage_error("%s: cannot read value file %s: %s (1..%d bytes, used "
		    "as is)", c->what, c->value_file, kw_strerror(r), KWCTL_MAX_SECRET);
	return 0;
}

/*
 * GET the import key and wrap value under it; *ret is the "wrapped" object.
 * Import keys that are not RSA of at least 3072 bits are refused (exit 1).
 */
static int
wrap_for_import(struct cmd *c, const struct kw_secret *value, json_t **ret)
{
	struct kwctl_resp rs = { 0, NULL, 0 };
	json_t *ik = NULL;
	int r, rc;

	if ((rc = kwctl_http(&c->conn, c->what, "GET", "/admin/v1/import-key", NULL, &rs)) != 0)
		return rc;
	rc = KWCTL_EFAIL;
	if (rs.status != 200 || kw_json_parse(rs.body, rs.len, KWCTL_MAX_RESPONSE, &ik) != 0) {
		kwctl_fail(rc, "%s: the import key is not a JSON object", c->what);
		goto out;
	}
	if ((r = kwctl_wrap(ik, value, ret)) != 0) {
		kwctl_fail(rc, "%s: cannot wrap for the import key: %s", c->what,
		    r == KW_ERR_UNSUPPORTED ? "not an RSA key of at least 3072 bits" :
		    r == KW_ERR_INVALID_FORMAT ? "malformed {\"kid\",\"jwk\"}" : kw_strerror(r));
		goto out;
	}
	rc = 0;
out:
	json_decref(ik);
	kwctl_resp_free(&rs);
	return rc;
}

static int
run_key_import(struct cmd *c)
{
	struct kw_secret *v = NULL;
	json_t *j = NULL, *w = NULL;
	char *body = NULL;
	size_t vlen;
	int want, rc;

	if ((rc = check_alg(c)) != 0 || (rc = load_value(c, &v)) != 0)
		goto out;
	if (v == NULL) {
		rc = kwctl_usage_error("%s: --value-file FILE (or --value-hex HEX) is required", c->what);
		goto out;
	}
	vlen = kw_secret_len(v);
	want = alg_length(c->alg);
	if ((want > 0 && vlen != (size_t)want) || (c->length >= 0 && (size_t)c->length != vlen)) {
		rc = kwctl_usage_error("%s: the value has %zu bytes, %s needs %" PRId64, c->what, vlen,
		    c->alg, c->length >= 0 ? c->length : (int64_t)want);
		goto out;
	}
	if ((rc = wrap_for_import(c, v, &w)) != 0)
		goto out;
	if ((j = json_pack("{s:s,s:s,s:s,s:s,s:I}", "repository", c->r, "type", c->t, "tag", c->g,
	    "algorithm", c->alg, "length", (json_int_t)vlen)) == NULL ||
	    (c->policy != NULL && json_object_set_new(j, "policy", json_string(c->policy)) != 0) ||
	    json_object_set(j, "wrapped", w) != 0 || (body = body_of(j)) == NULL) {
		rc = body_fail(c);
		goto out;
	}
	rc = exchange(c, "POST", "/admin/v1/keys/import", body, out_key, NULL);
out:
	kw_free_wipe(body);
	json_decref(j);
	json_decref(w);
	kw_secret_free(v);
	return rc;
}

static int
run_key_rotate(struct cmd *c)
{
	struct kw_secret *v = NULL;
	char path[KWCTL_MAX_PATH], *body = NULL;
	json_t *j = NULL, *w = NULL;
	int rc;

	if ((rc = load_value(c, &v)) != 0)
		goto out;
	if (v != NULL && (rc = wrap_for_import(c, v, &w)) != 0)
		goto out;
	if ((j = json_object()) == NULL || (w != NULL && json_object_set(j, "wrapped", w) != 0) ||
	    (body = body_of(j)) == NULL) {
		rc = body_fail(c);
		goto out;
	}
	key_path(c, path, sizeof(path), "/versions");
	rc = exchange(c, "POST", path, body, out_key, NULL);
out:
	kw_free_wipe(body);
	json_decref(j);
	json_decref(w);
	kw_secret_free(v);
	return rc;
}

static int
run_key_state(struct cmd *c)
{
	char path[KWCTL_MAX_PATH], suffix[64];

	if (c->version >= 0)
		snprintf(suffix, sizeof(suffix), "/versions/%" PRId64 "/%s", c->version,
		    c->sub->name);
	else
		snprintf(suffix, sizeof(suffix), "/%s", c->sub->name);
	key_path(c, path, sizeof(path), suffix);
	return exchange(c, "POST", path, "{}", out_key, NULL);
}

static int
run_key_delete(struct cmd *c)
{
	char path[KWCTL_MAX_PATH], done[KWCTL_MAX_PATH];

	if (!c->yes)
		return kwctl_usage_error("%s: deleting destroys every version of the key in the HSM; "
		    "add --yes", c->what);
	key_path(c, path, sizeof(path), "");
	snprintf(done, sizeof(done), "deleted %s/%s/%s", c->r, c->t, c->g);
	return exchange(c, "DELETE", path, NULL, out_key, done);
}

static int
run_key_set_policy(struct cmd *c)
{
	char path[KWCTL_MAX_PATH], *body = NULL;
	json_t *j;
	int rc;

	if ((c->name == NULL) == (c->none == 0))
		return kwctl_usage_error("%s: give a policy NAME or --none", c->what);
	j = json_pack("{s:o}", "policy", c->none ? json_null() : json_string(c->name));
	if ((body = body_of(j)) == NULL) {
		rc = body_fail(c);
		goto out;
	}
	key_path(c, path, sizeof(path), "/policy");
	rc = exchange(c, "PUT", path, body, out_key, NULL);
out:
	free(body);
	json_decref(j);
	return rc;
}

static int post_put(const json_t *j, struct cmd *c);

/* "/admin/v1/policies" or "/admin/v1/refvals" */
static const char *
doc_base(const struct cmd *c)
{
	return strcmp(c->group, "policy") == 0 ? "/admin/v1/policies" : "/admin/v1/refvals";
}

/* PUT doc (borrowed) as the next version of c's policy or reference-value set. */
static int
put_doc(struct cmd *c, json_t *doc)
{
	char path[KWCTL_MAX_PATH], *body = NULL;
	json_t *j = NULL;
	int rc;

	if ((j = json_pack("{s:O}", "document", doc)) == NULL ||
	    (c->immutable && json_object_set_new(j, "immutable", json_true()) != 0) ||
	    (body = body_of(j)) == NULL) {
		rc = body_fail(c);
		goto out;
	}
	snprintf(path, sizeof(path), "%s/%s/%s", doc_base(c), c->r, c->name);
	c->post = post_put;
	rc = exchange(c, "PUT", path, body, out_doc, NULL);
out:
	free(body);
	json_decref(j);
	return rc;
}

static int
run_doc_put(struct cmd *c)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	json_t *doc = NULL;
	int r, rc;

	if (c->file == NULL)
		return kwctl_usage_error("%s: --file FILE (the JSON document) is required", c->what);
	if ((r = kw_file_read(c->file, KWCTL_MAX_DOCUMENT, &buf, &len)) != 0 ||
	    (r = kw_json_parse(buf, len, KWCTL_MAX_DOCUMENT, &doc)) != 0) {
		rc = kwctl_usage_error("%s: %s: %s (want one JSON object)", c->what, c->file,
		    kw_strerror(r));
		goto out;
	}
	rc = put_doc(c, doc);
out:
	json_decref(doc);
	free(buf);
	return rc;
}

/* refval import-rim: verify the RIM offline (kwctl_rim.c), store its measurements as the set. */
static int
run_refval_import_rim(struct cmd *c)
{
	json_t *doc = NULL;
	int rc;

	if (c->file == NULL || c->root == NULL)
		return kwctl_usage_error("%s: --file RIM and --root PEM are required", c->what);
	if ((rc = kwctl_rim_refval(c->what, c->file, c->root, c->at, &doc)) != 0)
		return rc;
	rc = put_doc(c, doc);
	json_decref(doc);
	return rc;
}

static int
run_doc_show(struct cmd *c)
{
	char path[KWCTL_MAX_PATH];
	int n = snprintf(path, sizeof(path), "%s/%s/%s", doc_base(c), c->r, c->name);

	if (c->version >= 0)
		snprintf(path + n, sizeof(path) - (size_t)n, "?version=%" PRId64, c->version);
	return exchange(c, "GET", path, NULL, out_doc, NULL);
}

static int
run_doc_history(struct cmd *c)
{
	char path[KWCTL_MAX_PATH];

	snprintf(path, sizeof(path), "%s/%s/%s/history", doc_base(c), c->r, c->name);
	return exchange(c, "GET", path, NULL, out_docs, NULL);
}

static int
run_doc_list(struct cmd *c)
{
	char path[KWCTL_MAX_PATH];

	snprintf(path, sizeof(path), "%s%s%s", doc_base(c), c->repo != NULL ? "?repository=" : "",
	    c->repo != NULL ? c->repo : "");
	return exchange(c, "GET", path, NULL, out_docs, NULL);
}

/* ---- policy lint, policy explain, refval supersede ---- */

/* Escaped string member, up to (n - 4) / 4 input bytes, or "-" when absent or empty. */
static const char *
text_of(const json_t *o, const char *k, char *buf, size_t n)
{
	const char *v;
	size_t l;

	if (kw_json_get_str(o, k, &v, &l) != 0 || l == 0)
		return "-";
	kwctl_escape(v, (n - 4) / 4, buf, n);
	return buf;
}

/* put: the broker's lint warnings of a policy, one "kwctl: warning: ..." line each. */
static int
post_put(const json_t *j, struct cmd *c)
{
	char buf[1024];
	const json_t *w;
	size_t i;

	(void)c;
	json_array_foreach(json_object_get(j, "warnings"), i, w) {
		if (!json_is_string(w))
			continue;
		kwctl_escape(json_string_value(w), (sizeof(buf) - 4) / 4, buf, sizeof(buf));
		fprintf(stderr, "kwctl: warning: %s\n", buf);
	}
	return 0;
}

static int
post_lint(const json_t *j, struct cmd *c)
{
	const json_t *w = json_object_get(j, "warnings"), *x;
	size_t i;

	if (!json_is_array(w))
		return kwctl_fail(KWCTL_EFAIL, "%s: the answer has no \"warnings\" list", c->what);
	json_array_foreach(w, i, x)
		if (!json_is_string(x))
			return kwctl_fail(KWCTL_EFAIL, "%s: a warning is not a string", c->what);
	return json_array_size(w) > 0 ? KWCTL_EWARNINGS : KWCTL_OK;
}

static void
out_lint(const json_t *j, struct cmd *c)
{
	char buf[1024];
	const json_t *x;
	size_t i;

	(void)c;
	json_array_foreach(json_object_get(j, "warnings"), i, x) {
		kwctl_escape(json_string_value(x), (sizeof(buf) - 4) / 4, buf, sizeof(buf));
		printf("%s\n", buf);
	}
}

static int
run_policy_lint(struct cmd *c)
{
	char path[KWCTL_MAX_PATH];
	int n = snprintf(path, sizeof(path), "/admin/v1/policies/%s/%s/lint", c->r, c->name);

	if (c->version >= 0)
		snprintf(path + n, sizeof(path) - (size_t)n, "?version=%" PRId64, c->version);
	c->post = post_lint;
	return exchange(c, "GET", path, NULL, out_lint, NULL);
}

static int
post_explain(const json_t *j, struct cmd *c)
{
	const char *d;
	size_t l;

	if (kw_json_get_str(j, "decision", &d, &l) == 0) {
		if (strcmp(d, "allow") == 0)
			return KWCTL_OK;
		if (strcmp(d, "deny") == 0)
			return KWCTL_EPOLDENY;
	}
	return kwctl_fail(KWCTL_EFAIL, "%s: the answer has no decision \"allow\" or \"deny\"",
	    c->what);
}

#define KWCTL_PATH_COL 48   /* the PATH column is padded to at most this width */

static void
out_explain(const json_t *j, struct cmd *c)
{
	char a[3][1024], n[24];
	const json_t *pol = json_object_get(j, "policy"), *m = json_object_get(j, "matched");
	const json_t *checks = json_object_get(j, "checks"), *ch;
	int wc = 5, wr = 6, wp = 4;   /* CHECK, RESULT, PATH */
	size_t i;

	(void)c;
	printf("decision  %s\n", text_of(j, "decision", a[0], sizeof(a[0])));
	printf("reason    %s\n", text_of(j, "reason", a[0], sizeof(a[0])));
	printf("path      %s\n", text_of(j, "path", a[0], sizeof(a[0])));
	printf("detail    %s\n", text_of(j, "detail", a[0], sizeof(a[0])));
	if (json_is_object(pol))
		printf("policy    %s/%s version %s\n",
		    text_of(pol, "repository", a[0], sizeof(a[0])),
		    text_of(pol, "name", a[1], sizeof(a[1])), int_of(pol, "version", n, sizeof(n)));
	if (json_is_object(m)) {
		if (json_is_string(json_object_get(m, "set")))
			printf("matched   set:%s.measurements[%s]",
			    text_of(m, "set", a[0], sizeof(a[0])), int_of(m, "index", n, sizeof(n)));
		else
			printf("matched   reference_values.measurements[%s]",
			    int_of(m, "index", n, sizeof(n)));
		if (json_is_string(json_object_get(m, "name")))
			printf(" (%s)", text_of(m, "name", a[0], sizeof(a[0])));
		printf("\n");
	}
	if (json_array_size(checks) == 0)
		return;
	json_array_foreach(checks, i, ch) {
		int l0 = (int)strlen(text_of(ch, "check", a[0], sizeof(a[0])));
		int l1 = (int)strlen(text_of(ch, "result", a[1], sizeof(a[1])));
		int l2 = (int)strlen(text_of(ch, "path", a[2], sizeof(a[2])));

		wc = l0 > wc ? l0 : wc;
		wr = l1 > wr ? l1 : wr;
		wp = l2 > wp ? (l2 > KWCTL_PATH_COL ? KWCTL_PATH_COL : l2) : wp;
	}
	printf("\n%-*s  %-*s  %-*s  DETAIL\n", wc, "CHECK", wr, "RESULT", wp, "PATH");
	json_array_foreach(checks, i, ch) {
		printf("%-*s  %-*s  %-*s  ", wc, text_of(ch, "check", a[0], sizeof(a[0])), wr,
		    text_of(ch, "result", a[1], sizeof(a[1])), wp, text_of(ch, "path", a[2],
		    sizeof(a[2])));
		printf("%s\n", text_of(ch, "detail", a[0], sizeof(a[0])));
	}
}

/* The claims to send: the file's object, or its "claims" if it is 'evidence verify' output. */
static int
explain_claims(struct cmd *c, const json_t *file, const json_t **ret)
{
	const json_t *v = json_object_get(file, "verdict"), *cl = json_object_get(file, "claims");

	if (v == NULL || cl == NULL) {
		*ret = file;
		return 0;
	}
	if (!json_is_string(v) || strcmp(json_string_value(v), "verified") != 0 ||
	    !json_is_object(cl))
		return kwctl_usage_error("%s: %s: the evidence was not verified, it has no claims",
		    c->what, c->claims);
	*ret = cl;
	return 0;
}

static int
run_policy_explain(struct cmd *c)
{
	char path[KWCTL_MAX_PATH], *body = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;
	json_t *file = NULL, *j = NULL;
	const json_t *claims = NULL;
	int64_t t;
	int r, rc;

	if (c->claims == NULL)
		return kwctl_usage_error("%s: --claims FILE (the normalized claims) is required",
		    c->what);
	if (c->at != NULL && kw_time_parse_rfc3339(c->at, &t) != 0)
		return kwctl_usage_error("%s: --at must be an RFC 3339 time such as "
		    "2026-12-01T00:00:00Z", c->what);
	if ((r = kw_file_read(c->claims, KWCTL_MAX_DOCUMENT, &buf, &len)) != 0 ||
	    (r = kw_json_parse(buf, len, KWCTL_MAX_DOCUMENT, &file)) != 0) {
		rc = kwctl_usage_error("%s: %s: %s (want one JSON object)", c->what, c->claims,
		    kw_strerror(r));
		goto out;
	}
	if ((rc = explain_claims(c, file, &claims)) != 0)
		goto out;
	if ((j = json_pack("{s:O}", "claims", claims)) == NULL ||
	    (c->version >= 0 && json_object_set_new(j, "version", json_integer(c->version)) != 0) ||
	    (c->at != NULL && json_object_set_new(j, "at", json_string(c->at)) != 0) ||
	    (body = body_of(j)) == NULL) {
		rc = body_fail(c);
		goto out;
	}
	snprintf(path, sizeof(path), "/admin/v1/policies/%s/%s/explain", c->r, c->name);
	c->post = post_explain;
	rc = exchange(c, "POST", path, body, out_explain, NULL);
out:
	free(body);
	json_decref(j);
	json_decref(file);
	free(buf);
	return rc;
}

/* 96 hex digits in either case into out, lower-case. */
static int
hex96(const char *s, char out[static KWCTL_HEX96 + 1])
{
	size_t i;

	for (i = 0; i < KWCTL_HEX96 && s[i] != '\0'; i++) {
		char ch = s[i];

		if (ch >= 'A' && ch <= 'F')
			ch = (char)(ch - 'A' + 'a');
		else if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
			return -1;
		out[i] = ch;
	}
	if (i != KWCTL_HEX96 || s[i] != '\0')
		return -1;
	out[i] = '\0';
	return 0;
}

/* One entry of the returned set: its value and window [not-before, not-after). */
static void
print_entry(const json_t *doc, const char *label, const char *hex)
{
	char a[3][200];
	const json_t *e;
	size_t i;

	printf("  %-4s %s\n", label, hex);
	json_array_foreach(json_object_get(doc, "measurements"), i, e) {
		if (!json_is_string(json_object_get(e, "value")) ||
		    strcmp(json_string_value(json_object_get(e, "value")), hex) != 0)
			continue;
		printf("       from %s until %s", json_is_string(json_object_get(e, "not-before")) ?
		    text_of(e, "not-before", a[0], sizeof(a[0])) : "(no start)",
		    json_is_string(json_object_get(e, "not-after")) ?
		    text_of(e, "not-after", a[1], sizeof(a[1])) : "(no end)");
		if (json_is_string(json_object_get(e, "name")))
			printf("  %s", text_of(e, "name", a[2], sizeof(a[2])));
		printf("\n");
		return;
	}
	printf("       (not in the returned set)\n");
}

static void
out_supersede(const json_t *j, struct cmd *c)
{
	const json_t *doc = json_object_get(j, "document");

	printf("refval ");
	print_doc(j, c->group, 1);
	print_entry(doc, "old", c->old_hex);
	print_entry(doc, "new", c->new_hex);
}

static int
run_refval_supersede(struct cmd *c)
{
	char path[KWCTL_MAX_PATH], *body = NULL;
	json_t *j;
	int64_t secs;
	int rc;

	if (c->by == NULL || c->grace == NULL)
		return kwctl_usage_error("%s: --by NEW and --grace DURATION are required", c->what);
	if (hex96(c->arg, c->old_hex) != 0 || hex96(c->by, c->new_hex) != 0)
		return kwctl_usage_error("%s: OLD and NEW must be measurements of %d hex digits",
		    c->what, KWCTL_HEX96);
	if (strcmp(c->old_hex, c->new_hex) == 0)
		return kwctl_usage_error("%s: OLD and NEW are the same measurement", c->what);
	if (kw_duration_parse(c->grace, &secs) != 0)
		return kwctl_usage_error("%s: --grace must be <digits><d|h|m|s> (7d, 12h, 30m, "
		    "45s), at most 3650 days", c->what);
	j = json_pack("{s:s,s:s,s:s}", "old", c->old_hex, "new", c->new_hex, "grace", c->grace);
	if ((body = body_of(j)) == NULL) {
		rc = body_fail(c);
		goto out;
	}
	snprintf(path, sizeof(path), "/admin/v1/refvals/%s/%s/supersede", c->r, c->name);
	rc = exchange(c, "POST", path, body, out_supersede, NULL);
out:
	free(body);
	json_decref(j);
	return rc;
}

/* ---- table, parsing, help ---- */

#define CONN_HELP \
	"connection (override the profile; see 'kwctl --help'):\n" \
	"  --profile FILE  --url https://HOST:PORT  --cacert FILE  --cert FILE  --key FILE\n" \
	"  --json          print the server's JSON response exactly\n"

static const struct sub subs[] = {
	{ "whoami", NULL, "kwctl whoami",
	  "The certificate subject the broker sees and its role grants.\n", 0, P_NONE, run_whoami,
	  NULL },
	{ "changes", NULL, "kwctl changes [--repository R] [--after SEQ] [--limit N]",
	  "The admin change record (auditor role), oldest first; --after SEQ pages on.\n",
	  O_REPO | O_AFTER | O_LIMIT, P_NONE, run_changes, NULL },
	{ "audit", "tail", "kwctl audit tail [--limit N] [--repository R]",
	  "The newest N (default 20) audit records (auditor role), one per line: index, time,\n"
	  "kind and the record's data.\n", O_REPO | O_LIMIT, P_NONE, run_audit_tail, NULL },
	{ "audit", "show", "kwctl audit show INDEX",
	  "One audit record (auditor role); with --json the record exactly.\n", 0, P_NUM1,
	  run_audit_show, NULL },
	{ "audit", "proof", "kwctl audit proof INDEX [SIZE]",
	  "The RFC 9162 inclusion proof of record INDEX in the tree of SIZE records\n"
	  "(default: the whole log), with the leaf hash and the root.\n", 0, P_NUM12,
	  run_audit_proof, NULL },
	{ "audit", "consistency", "kwctl audit consistency FROM TO",
	  "The RFC 9162 consistency proof between the trees of FROM and TO records.\n", 0, P_NUM2,
	  run_audit_consistency, NULL },
	{ "key", "list", "kwctl key list [--repository R]",
	  "Metadata of the keys the caller may read (never values).\n", O_REPO, P_NONE,
	  run_key_list, NULL },
	{ "key", "show", "kwctl key show R/T/G", "Metadata of one key and its versions.\n", 0,
	  P_KEY, run_key_show, NULL },
	{ "key", "create",
	  "kwctl key create R/T/G --algorithm aes-128|aes-256|secret [--length N] [--policy NAME]",
	  "Generate a key inside the HSM. secret keys need --length 1..4096 (bytes).\n",
	  O_ALG | O_LEN | O_POLICY, P_KEY, run_key_create, NULL },
	{ "key", "import",
	  "kwctl key import R/T/G --algorithm A [--length N] [--policy NAME]\n"
	  "                       (--value-file FILE | --value-hex HEX)",
	  "Import an existing value without it ever entering keywarden: it is wrapped\n"
	  "for the HSM's import key (RSA-OAEP of a fresh AES-256 KEK, RFC 5649 key wrap).\n"
	  "--value-file uses the file's exact bytes (no newline stripping); aes-128 needs\n"
	  "16 bytes, aes-256 32, secret 1..4096. --value-hex is visible to other local\n"
	  "users in the process list: for tests only.\n",
	  O_ALG | O_LEN | O_POLICY | O_VALUE, P_KEY, run_key_import, NULL },
	{ "key", "rotate", "kwctl key rotate R/T/G [--value-file FILE | --value-hex HEX]",
	  "Add a new version: generated in the HSM, or imported (wrapped) when a value is\n"
	  "given. Workloads get the newest enabled version.\n", O_VALUE, P_KEY, run_key_rotate,
	  NULL },
	{ "key", "disable", "kwctl key disable R/T/G [--version N]",
	  "Disable the key, or one version of it.\n", O_VERSION, P_KEY, run_key_state, NULL },
	{ "key", "enable", "kwctl key enable R/T/G [--version N]",
	  "Enable the key, or one version of it.\n", O_VERSION, P_KEY, run_key_state, NULL },
	{ "key", "delete", "kwctl key delete R/T/G --yes",
	  "Delete the key and destroy every HSM object of it. Cannot be undone.\n", O_YES, P_KEY,
	  run_key_delete, NULL },
	{ "key", "set-policy", "kwctl key set-policy R/T/G (NAME | --none)",
	  "Bind a policy of the key's repository to the key, or unbind it (--none: the key\n"
	  "is then never released).\n", O_NONE, P_KEY_NAME, run_key_set_policy, NULL },
	{ "policy", "put", "kwctl %s put R/NAME --file FILE [--immutable]",
	  "Store a new version of the document in FILE (one JSON object; docs/policy.md).\n"
	  "--immutable: no later version may replace it. The broker's lint warnings about a\n"
	  "policy are printed on standard error as \"kwctl: warning: ...\" (exit status 0).\n",
	  O_FILE | O_IMMUTABLE, P_DOC, run_doc_put, NULL },
	{ "policy", "show", "kwctl %s show R/NAME [--version N]",
	  "One version (default: the latest) with its document.\n", O_VERSION, P_DOC,
	  run_doc_show, NULL },
	{ "policy", "history", "kwctl %s history R/NAME", "Every version, oldest first.\n", 0,
	  P_DOC, run_doc_history, NULL },
	{ "policy", "list", "kwctl %s list [--repository R]", "The latest version of each.\n",
	  O_REPO, P_NONE, run_doc_list, NULL },
	{ "policy", "lint", "kwctl policy lint R/NAME [--version N]",
	  "The broker's hygiene warnings about a stored policy (default: the latest version),\n"
	  "one \"code: text\" per line. Exit status 0 when there are none, 8 when there are.\n",
	  O_VERSION, P_DOC, run_policy_lint, "policy" },
	{ "policy", "explain",
	  "kwctl policy explain R/NAME --claims FILE [--version N] [--at TIME]",
	  "Dry-run a stored policy against the normalized claims in FILE (a JSON object, or\n"
	  "the output of 'kwctl evidence verify'): the decision, the deciding check and every\n"
	  "check. --at evaluates at an RFC 3339 time instead of now. Nothing is released.\n"
	  "Exit status 0 when the policy allows, 9 when it denies.\n",
	  O_CLAIMS | O_VERSION | O_AT, P_DOC, run_policy_explain, "policy" },
	{ "policy", "supersede", "kwctl refval supersede R/NAME OLD --by NEW --grace DURATION",
	  "Phase out measurement OLD of the set: it stays valid for DURATION more (7d, 12h,\n"
	  "30m, 45s; at most 3650d) at most, and NEW is added, valid from now. OLD and NEW\n"
	  "are 96 hex digits. Prints the new version and both entries' windows.\n",
	  O_BY | O_GRACE, P_DOC_ARG, run_refval_supersede, "refval" },
	{ "policy", "import-rim",
	  "kwctl refval import-rim R/NAME --file RIM --root PEM [--at TIME] [--immutable]",
	  "Verify an NVIDIA RIM (signed SWID tag XML) here, offline: its XML signature and\n"
	  "the certificate chain in it to the RIM root PEM (the only trust anchor; every\n"
	  "certificate valid at --at, an RFC 3339 time, default now). Then store its active\n"
	  "measurements as the set's gpu_measurements (RIM index i is GPU measurement block\n"
	  "i + 1; every alternative is an entry; an all-zero value registers \"nothing\n"
	  "measured\"). The broker receives only the extracted values. 'kwctl rim verify'\n"
	  "shows them without storing anything (docs/verifier-nvgpu.md, RIM import).\n",
	  O_FILE | O_ROOT | O_AT | O_IMMUTABLE, P_DOC, run_refval_import_rim, "refval" },
};

/* Does row s belong under group as typed (refval shares the policy rows)? */
static int
sub_in(const struct sub *s, const char *group)
{
	const char *g = strcmp(group, "refval") == 0 ? "policy" : group;

	return strcmp(s->group, g) == 0 && (s->only == NULL || strcmp(s->only, group) == 0);
}

/* A synopsis with its "%s" replaced by the group as typed (policy or refval). */
static void
print_synopsis(FILE *f, const char *syn, const char *group)
{
	const char *m = strstr(syn, "%s");

	if (m == NULL) {
		fputs(syn, f);
		return;
	}
	fprintf(f, "%.*s%s%s", (int)(m - syn), syn, group, m + 2);
}

static void
usage_sub(FILE *f, const struct sub *s, const char *group)
{
	fputs("usage: ", f);
	print_synopsis(f, s->synopsis, group);
	fprintf(f, "\n\n%s\n" CONN_HELP, s->help);
}

static void
usage_group(FILE *f, const char *group)
{
	fprintf(f, "usage: kwctl %s <command> [<args>]\n\ncommands:\n", group);
	for (size_t i = 0; i < KW_ARRAY_SIZE(subs); i++) {
		if (!sub_in(&subs[i], group))
			continue;
		fputs("  ", f);
		print_synopsis(f, subs[i].synopsis, group);
		fputc('\n', f);
	}
	fprintf(f, "\nRun 'kwctl %s <command> --help' for details.\n", group);
}

enum {
	OPT_PROFILE = 1000, OPT_URL, OPT_CACERT, OPT_CERT, OPT_KEY, OPT_JSON, OPT_HELP,
	OPT_REPO, OPT_ALG, OPT_LEN, OPT_POLICY, OPT_VFILE, OPT_VHEX, OPT_VERSION, OPT_YES,
	OPT_NONE, OPT_FILE, OPT_IMMUTABLE, OPT_AFTER, OPT_LIMIT, OPT_CLAIMS, OPT_AT, OPT_BY,
	OPT_GRACE, OPT_ROOT,
};

static const struct option longopts[] = {
	{ "profile", required_argument, NULL, OPT_PROFILE },
	{ "url", required_argument, NULL, OPT_URL },
	{ "cacert", required_argument, NULL, OPT_CACERT },
	{ "cert", required_argument, NULL, OPT_CERT },
	{ "key", required_argument, NULL, OPT_KEY },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "repository", required_argument, NULL, OPT_REPO },
	{ "algorithm", required_argument, NULL, OPT_ALG },
	{ "length", required_argument, NULL, OPT_LEN },
	{ "policy", required_argument, NULL, OPT_POLICY },
	{ "value-file", required_argument, NULL, OPT_VFILE },
	{ "value-hex", required_argument, NULL, OPT_VHEX },
	{ "version", required_argument, NULL, OPT_VERSION },
	{ "yes", no_argument, NULL, OPT_YES },
	{ "none", no_argument, NULL, OPT_NONE },
	{ "file", required_argument, NULL, OPT_FILE },
	{ "immutable", no_argument, NULL, OPT_IMMUTABLE },
	{ "after", required_argument, NULL, OPT_AFTER },
	{ "limit", required_argument, NULL, OPT_LIMIT },
	{ "claims", required_argument, NULL, OPT_CLAIMS },
	{ "at", required_argument, NULL, OPT_AT },
	{ "by", required_argument, NULL, OPT_BY },
	{ "grace", required_argument, NULL, OPT_GRACE },
	{ "root", required_argument, NULL, OPT_ROOT },
	{ NULL, 0, NULL, 0 },
};

/* Which O_* bit an option needs (0: always allowed). */
static unsigned int
opt_bit(int o)
{
	switch (o) {
	case OPT_REPO: return O_REPO;
	case OPT_ALG: return O_ALG;
	case OPT_LEN: return O_LEN;
	case OPT_POLICY: return O_POLICY;
	case OPT_VFILE: case OPT_VHEX: return O_VALUE;
	case OPT_VERSION: return O_VERSION;
	case OPT_YES: return O_YES;
	case OPT_NONE: return O_NONE;
	case OPT_FILE: return O_FILE;
	case OPT_IMMUTABLE: return O_IMMUTABLE;
	case OPT_AFTER: return O_AFTER;
	case OPT_LIMIT: return O_LIMIT;
	case OPT_CLAIMS: return O_CLAIMS;
	case OPT_AT: return O_AT;
	case OPT_BY: return O_BY;
	case OPT_GRACE: return O_GRACE;
	case OPT_ROOT: return O_ROOT;
	default: return 0;
	}
}

/* "kwctl GROUP[ NAME]" in buf. */
static const char *
path_of(char *buf, size_t len, const char *group, const char *name)
{
	snprintf(buf, len, "kwctl %s%s%s", group, name != NULL ? " " : "", name != NULL ? name : "");
	return buf;
}

/* The value name of option o (help and completion); NULL: none known. */
static const char *
opt_arg(int o)
{
	switch (o) {
	case OPT_PROFILE: case OPT_CACERT: case OPT_CERT: case OPT_KEY: case OPT_VFILE:
	case OPT_FILE: case OPT_CLAIMS: case OPT_ROOT:
		return "FILE";
	case OPT_URL: return "URL";
	case OPT_REPO: case OPT_POLICY: return "NAME";
	case OPT_ALG: return "aes-128|aes-256|secret";
	case OPT_LEN: case OPT_VERSION: case OPT_LIMIT: return "N";
	case OPT_VHEX: case OPT_BY: return "HEX";
	case OPT_AFTER: return "SEQ";
	case OPT_AT: return "TIME";
	case OPT_GRACE: return "DURATION";
	default: return NULL;
	}
}

void
kwctl_admin_subs(const char *group, const char *sep, char *buf, size_t len)
{
	size_t n = 0;

	if (len > 0)
		buf[0] = '\0';
	for (size_t i = 0; i < KW_ARRAY_SIZE(subs); i++) {
		int w;

		if (subs[i].name == NULL || !sub_in(&subs[i], group) || n >= len)
			continue;
		w = snprintf(buf + n, len - n, "%s%s", n > 0 ? sep : "", subs[i].name);
		n = w > 0 ? n + (size_t)w : len;
	}
}

/* The flags of row s at node path: the connection options and the row's own. */
static int
complete_sub(struct kw_complete *c, const char *path, const struct sub *s)
{
	char flag[40];
	int r;

	for (size_t i = 0; longopts[i].name != NULL; i++) {
		unsigned int bit = opt_bit(longopts[i].val);
		const char *arg = longopts[i].has_arg == no_argument ? NULL : opt_arg(longopts[i].val);

		if (bit != 0 && (bit & s->opts) == 0)
			continue;
		if (longopts[i].has_arg != no_argument && arg == NULL)
			return KW_ERR_INVALID_ARG;    /* every value needs a name */
		snprintf(flag, sizeof(flag), "--%s", longopts[i].name);
		if ((r = kw_complete_flag(c, path, flag, arg)) != 0)
			return r;
	}
	return 0;
}

int
kwctl_admin_complete(struct kw_complete *c)
{
	static const char *const groups[] = {"whoami", "changes", "key", "policy", "refval", "audit"};
	char path[64], words[256];
	int r;

	for (size_t g = 0; g < KW_ARRAY_SIZE(groups); g++) {
		kwctl_admin_subs(groups[g], " ", words, sizeof(words));
		/* audit's words also name offline commands: kwctl.c lists them */
		if (words[0] != '\0' && strcmp(groups[g], "audit") != 0 &&
		    (r = kw_complete_children(c, path_of(path, sizeof(path), groups[g], NULL),
		    words)) != 0)
			return r;
		for (size_t i = 0; i < KW_ARRAY_SIZE(subs); i++)
			if (sub_in(&subs[i], groups[g]) && (r = complete_sub(c,
			    path_of(path, sizeof(path), groups[g], subs[i].name), &subs[i])) != 0)
				return r;
	}
	return 0;
}

static const char NAME_RULE[] = "[A-Za-z0-9._-]{1,64}, not . or ..";

/*
 * Parse argv (argv[0] is the subcommand word) into c. Returns -1 to go on,
 * 0 after --help, or KWCTL_EUSAGE.
 */
static int
parse(struct cmd *c, int argc, char **argv)
{
	const struct sub *s = c->sub;
	const char *pos[2];
	char on[48];
	int o, npos = 0;

	optind = 1;
	opterr = 0;
	while ((o = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		if (o == '?' || o == ':' || (opt_bit(o) & ~s->opts) != 0) {
			/* A short option may sit inside a cluster: name it by optopt. */
			if (o != ':' && optopt > 0 && optopt < 128)
				snprintf(on, sizeof(on), "-%c", optopt >= 0x20 && optopt < 0x7f ?
				    optopt : '?');
			else
				opt_name(argv[optind - 1], on, sizeof(on));
			return kwctl_usage_error("%s: %s option %s (see --help)", c->what,
			    o == ':' ? "missing value for" : "unknown", on);
		}
		switch (o) {
		case OPT_PROFILE: c->cf.profile = optarg; break;
		case OPT_URL: c->cf.url = optarg; break;
		case OPT_CACERT: c->cf.cacert = optarg; break;
		case OPT_CERT: c->cf.cert = optarg; break;
		case OPT_KEY: c->cf.key = optarg; break;
		case OPT_JSON: c->json = 1; break;
		case OPT_HELP:
		case 'h':
			usage_sub(stdout, s, c->group);
			return 0;
		case OPT_REPO:
			if (!kw_name_valid(optarg))
				return kwctl_usage_error("%s: --repository must be %s", c->what, NAME_RULE);
			c->repo = optarg;
			break;
		case OPT_ALG: c->alg = optarg; break;
		case OPT_LEN:
			if (parse_num(optarg, 1, KWCTL_MAX_SECRET, &c->length) != 0)
				return kwctl_usage_error("%s: --length must be 1..%d", c->what,
				    KWCTL_MAX_SECRET);
			break;
		case OPT_POLICY:
			if (!kw_name_valid(optarg))
				return kwctl_usage_error("%s: --policy must be %s", c->what, NAME_RULE);
			c->policy = optarg;
			break;
		case OPT_VFILE: c->value_file = optarg; break;
		case OPT_VHEX:
			if (c->value_hex != NULL)
				return kwctl_usage_error("%s: --value-hex given twice", c->what);
			if (hex_secret(optarg, &c->value_hex) != 0) {
				kw_wipe(optarg, strlen(optarg));
				return kwctl_usage_error("%s: --value-hex needs 1..%d bytes as an even "
				    "number of hex digits", c->what, KWCTL_MAX_SECRET);
			}
			/* Out of /proc/PID/cmdline as soon as we can. */
			kw_wipe(optarg, strlen(optarg));
			break;
		case OPT_VERSION:
			if (parse_num(optarg, 1, KWCTL_NUM_MAX, &c->version) != 0)
				return kwctl_usage_error("%s: --version must be a positive integer",
				    c->what);
			break;
		case OPT_YES: c->yes = 1; break;
		case OPT_NONE: c->none = 1; break;
		case OPT_FILE: c->file = optarg; break;
		case OPT_IMMUTABLE: c->immutable = 1; break;
		case OPT_AFTER:
			if (parse_num(optarg, 0, KWCTL_NUM_MAX, &c->after) != 0)
				return kwctl_usage_error("%s: --after must be a sequence number >= 0",
				    c->what);
			break;
		case OPT_LIMIT:
			if (parse_num(optarg, 1, KWCTL_NUM_MAX, &c->limit) != 0)
				return kwctl_usage_error("%s: --limit must be a positive integer", c->what);
			break;
		case OPT_CLAIMS: c->claims = optarg; break;
		case OPT_AT: c->at = optarg; break;
		case OPT_BY: c->by = optarg; break;
		case OPT_GRACE: c->grace = optarg; break;
		case OPT_ROOT: c->root = optarg; break;
		default:
			return kwctl_usage_error("%s: internal option error", c->what);
		}
	}
	for (; optind < argc; optind++) {
		if (npos == 2)
			return kwctl_usage_error("%s: too many arguments (see --help)", c->what);
		pos[npos++] = argv[optind];
	}
	switch (s->pos) {
	case P_NONE:
		if (npos != 0)
			return kwctl_usage_error("%s: unexpected argument (see --help)", c->what);
		break;
	case P_KEY:
	case P_KEY_NAME:
		if (npos < 1 || split_names(c, pos[0], 3) != 0)
			return kwctl_usage_error("%s: want a key REPOSITORY/TYPE/TAG, each %s",
			    c->what, NAME_RULE);
		if (s->pos == P_KEY && npos != 1)
			return kwctl_usage_error("%s: unexpected argument (see --help)", c->what);
		if (npos == 2) {
			if (!kw_name_valid(pos[1]))
				return kwctl_usage_error("%s: a policy name is %s", c->what, NAME_RULE);
			c->name = pos[1];
		}
		break;
	case P_NUM1:
	case P_NUM2:
	case P_NUM12:
		if (npos < 1 || (s->pos == P_NUM1 && npos != 1) || (s->pos == P_NUM2 && npos != 2))
			return kwctl_usage_error("%s: want %s (see --help)", c->what,
			    s->pos == P_NUM2 ? "two record counts" : "a record index");
		if (parse_num(pos[0], 0, KWCTL_NUM_MAX, &c->n1) != 0 ||
		    (npos == 2 && parse_num(pos[1], 0, KWCTL_NUM_MAX, &c->n2) != 0))
			return kwctl_usage_error("%s: indexes and sizes are integers >= 0", c->what);
		break;
	case P_DOC:
	case P_DOC_ARG:
		if (npos < 1 || split_names(c, pos[0], 2) != 0)
			return kwctl_usage_error("%s: want REPOSITORY/NAME, each %s", c->what,
			    NAME_RULE);
		if (npos != (s->pos == P_DOC ? 1 : 2))
			return kwctl_usage_error("%s: %s (see --help)", c->what, s->pos == P_DOC ?
			    "unexpected argument" : "want REPOSITORY/NAME OLD");
		c->arg = npos == 2 ? pos[1] : NULL;
		break;
	}
	return -1;
}

/* Find the table row, parse, connect, run. argv[0] is the group word. */
static int
dispatch(const char *group, const char *name, int argc, char **argv)
{
	const char *g = strcmp(group, "refval") == 0 ? "policy" : group;
	struct cmd c;
	int rc;

	memset(&c, 0, sizeof(c));
	c.length = c.version = c.after = c.limit = c.n1 = c.n2 = -1;
	c.group = group;
	for (size_t i = 0; i < KW_ARRAY_SIZE(subs) && c.sub == NULL; i++)
		if (strcmp(subs[i].group, g) == 0 &&
		    (subs[i].only == NULL || strcmp(subs[i].only, group) == 0) &&
		    (subs[i].name == NULL || (name != NULL && strcmp(subs[i].name, name) == 0)))
			c.sub = &subs[i];
	if (c.sub == NULL)
		return kwctl_usage_error("unknown %s command (try 'kwctl %s --help')", group, group);
	snprintf(c.what, sizeof(c.what), "%s%s%s", group, name != NULL ? " " : "",
	    name != NULL ? name : "");
	if ((rc = parse(&c, argc, argv)) >= 0)
		goto out;
	if ((rc = kwctl_conn_load(&c.cf, &c.conn)) != 0)
		goto out;
	rc = c.sub->run(&c);
out:
	kw_secret_free(c.value_hex);
	kwctl_conn_free(&c.conn);
	return rc;
}

static int
is_help(const char *s)
{
	return strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0 || strcmp(s, "help") == 0;
}

/* "kwctl key <sub> ..." and "kwctl policy|refval <sub> ...": argv[0] is the group. */
static int
group_cmd(int argc, char **argv)
{
	if (argc < 2)
		return kwctl_usage_error("%s: missing command (try 'kwctl %s --help')", argv[0],
		    argv[0]);
	if (is_help(argv[1])) {
		usage_group(stdout, argv[0]);
		return 0;
	}
	return dispatch(argv[0], argv[1], argc - 1, argv + 1);
}

int
kwctl_cmd_whoami(int argc, char **argv)
{
	return dispatch("whoami", NULL, argc, argv);
}

int
kwctl_cmd_changes(int argc, char **argv)
{
	return dispatch("changes", NULL, argc, argv);
}

int
kwctl_cmd_audit_admin(int argc, char **argv)
{
	return group_cmd(argc, argv);
}

int
kwctl_cmd_key(int argc, char **argv)
{
	return group_cmd(argc, argv);
}

int
kwctl_cmd_policy(int argc, char **argv)
{
	return group_cmd(argc, argv);
}
