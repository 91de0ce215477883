/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kwctl report [--format md|json|html] [--out FILE] [--days N] [--checkpoint-key FILE]
 * The governance report (docs/governance.md): live state from the admin API
 * (keys, policies, reference-value sets, the newest checkpoint) and the audit
 * stream of the last N days (GET /admin/v1/audit, paged), aggregated into one
 * JSON document (docs/report.schema.json) that is printed as JSON, Markdown or
 * one self-contained HTML page (no JavaScript). Auditor role.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "kw_json.h"
#include "kw_util.h"
#include "kwctl.h"
#include "kwctl_report.h"

#define REPORT_MAX_PAGES 1000      /* 1000 pages of 1000 records */
#define REPORT_MAX_DAYS 3650

static void
usage(FILE *f)
{
	fputs("usage: kwctl report [--format md|json|html] [--out FILE] [--days N]\n"
	    "                    [--checkpoint-key FILE] [--profile FILE] [--url URL]\n"
	    "                    [--cacert FILE] [--cert FILE] [--key FILE]\n"
	    "\n"
	    "  the governance report (docs/governance.md) from live state and the audit\n"
	    "  records of the last N days (default 30); auditor role\n"
	    "  --checkpoint-key: the log's verifier key (pinned out of band) to verify the\n"
	    "                    newest checkpoint's signature with\n", f);
}

static int
get_json(const struct kwctl_conn *conn, const char *what, const char *path, json_t **ret)
{
	struct kwctl_resp resp;
	json_error_t e;
	json_t *j;
	int rc;

	if ((rc = kwctl_http(conn, what, "GET", path, NULL, &resp)) != 0)
		return rc;
	j = json_loadb(resp.body, resp.len, 0, &e);
	kwctl_resp_free(&resp);
	if (!json_is_object(j)) {
		json_decref(j);
		return kwctl_fail(KWCTL_EFAIL, "%s: the answer is not a JSON object", what);
	}
	*ret = j;
	return 0;
}

/* Every record at >= since (kind: NULL for all), all pages, appended to arr. */
static int
get_records(const struct kwctl_conn *conn, int64_t since, const char *kind, json_t *arr)
{
	char path[256];
	int64_t cursor = 0;
	int rc;

	for (int page = 0; page < REPORT_MAX_PAGES; page++) {
		json_t *j = NULL, *next;

		if (since >= 0)
			snprintf(path, sizeof(path), "/admin/v1/audit?limit=1000&cursor=%lld&since=%lld",
			    (long long)cursor, (long long)since);
		else
			snprintf(path, sizeof(path), "/admin/v1/audit?limit=1000&cursor=%lld&kind=%s",
			    (long long)cursor, kind != NULL ? kind : "start");
		if ((rc = get_json(conn, "report: audit", path, &j)) != 0)
			return rc;
		if (json_array_extend(arr, json_object_get(j, "records")) != 0) {
			json_decref(j);
			return kwctl_fail(KWCTL_EFAIL, "report: audit: no records array");
		}
		next = json_object_get(j, "next_cursor");
		if (!json_is_integer(next)) {
			json_decref(j);
			return 0;
		}
		cursor = json_integer_value(next);
		json_decref(j);
	}
	return kwctl_fail(KWCTL_EFAIL, "report: audit: too many records");
}

static int
read_small(const char *path, char **ret, size_t *ret_len)
{
	uint8_t *buf = NULL;
	size_t len = 0;

	if (kw_file_read(path, 1024, &buf, &len) != 0)
		return -1;
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		buf[--len] = '\0';
	*ret = (char *)buf;
	*ret_len = len;
	return 0;
}

/* {"present","size","time","origin","signature":"verified"|"bad"|"unchecked","detail"} */
static json_t *
checkpoint_status(const json_t *cpdoc, const char *keyfile)
{
	const char *note = json_string_value(json_object_get(cpdoc, "note"));
	struct audit_vkey *key = NULL;
	struct audit_checkpoint cp;
	char *vtext = NULL;
	size_t vlen = 0;
	json_t *o;
	int r;

	if (note == NULL)
		return json_pack("{s:b, s:s, s:s}", "present", 0, "signature", "unchecked",
		    "detail", "no checkpoint has been signed yet");
	if (keyfile == NULL)
		return json_pack("{s:b, s:s, s:s}", "present", 1, "signature", "unchecked",
		    "detail", "no --checkpoint-key given");
	if (read_small(keyfile, &vtext, &vlen) != 0 || audit_vkey_parse(vtext, vlen, &key) != 0) {
		free(vtext);
		return json_pack("{s:b, s:s, s:s}", "present", 1, "signature", "unchecked",
		    "detail", "the checkpoint key file is unreadable or not a verifier key");
	}
	r = audit_checkpoint_verify(note, strlen(note), key, &cp);
	if (r != 0)
		o = json_pack("{s:b, s:s, s:s}", "present", 1, "signature", "bad", "detail",
		    kw_strerror(r));
	else
		o = json_pack("{s:b, s:s, s:s, s:I, s:I, s:s, s:s}", "present", 1, "signature",
		    "verified", "detail", "signature verified with the given key", "size",
		    (json_int_t)cp.size, "time", (json_int_t)cp.time, "origin", cp.origin,
		    "note", note);
	audit_vkey_free(key);
	free(vtext);
	return o;
}

/* 32 bytes from 64 hex in member k of o; -1 when absent or malformed. */
static int
hash_of(const json_t *o, const char *k, uint8_t out[static AUDIT_HASH_LEN])
{
	const char *s = json_string_value(json_object_get(o, k));

	if (s == NULL || strlen(s) != 2 * AUDIT_HASH_LEN ||
	    kw_hex_decode(s, out, AUDIT_HASH_LEN) != 0)
		return -1;
	return 0;
}

/*
 * With a verified checkpoint of size m and the log now at n >= m records: the
 * consistency proof between them (GET /admin/v1/audit/consistency), checked
 * against the checkpoint's signed root (RFC 9162 section 2.1.4.2). Sets
 * "consistency" ("verified", "bad" or "unchecked") and "log_size" in cp.
 * Returns 0, or the exit status of a failed request.
 */
static int
consistency(const struct kwctl_conn *conn, json_t *cp)
{
	int64_t n = -1;
	const char *note = NULL;
	struct audit_checkpoint c;
	struct audit_proof p;
	uint8_t from_root[AUDIT_HASH_LEN], to_root[AUDIT_HASH_LEN];
	char path[128];
	json_t *j = NULL, *h;
	const char *what = "unchecked";
	size_t i;
	int rc;

	json_object_set_new(cp, "consistency", json_string(what));
	if (strcmp(json_string_value(json_object_get(cp, "signature")), "verified") != 0)
		return 0;
	/* the log's size now (after the checkpoint was read: never below its size) */
	if ((rc = get_json(conn, "report: audit", "/admin/v1/audit?last=1", &j)) != 0)
		return rc;
	if (json_is_integer(json_object_get(j, "size")))
		n = json_integer_value(json_object_get(j, "size"));
	json_decref(j);
	j = NULL;
	if (n < 1)
		goto out;
	json_object_set_new(cp, "log_size", json_integer(n));
	note = json_string_value(json_object_get(cp, "note"));
	if (note == NULL || audit_checkpoint_parse(note, strlen(note), &c) != 0 || c.size < 1 ||
	    c.size > (uint64_t)n) {
		json_object_set_new(cp, "consistency", json_string("bad"));
		goto out;
	}
	snprintf(path, sizeof(path), "/admin/v1/audit/consistency?from=%llu&to=%lld",
	    (unsigned long long)c.size, (long long)n);
	if ((rc = get_json(conn, "report: consistency", path, &j)) != 0)
		return rc;
	what = "bad";
	memset(&p, 0, sizeof(p));
	h = json_object_get(j, "proof");
	if (hash_of(j, "from_root", from_root) != 0 || hash_of(j, "to_root", to_root) != 0 ||
	    !json_is_array(h) || json_array_size(h) > AUDIT_PROOF_MAX)
		goto done;
	for (i = 0; i < json_array_size(h); i++) {
		json_t *e = json_array_get(h, i);
		const char *s = json_string_value(e);

		if (s == NULL || strlen(s) != 2 * AUDIT_HASH_LEN ||
		    kw_hex_decode(s, p.hash[i], AUDIT_HASH_LEN) != 0)
			goto done;
	}
	p.n = i;
	if (memcmp(from_root, c.root, AUDIT_HASH_LEN) == 0 &&
	    audit_verify_consistency(c.size, (uint64_t)n, c.root, to_root, &p) == 0)
		what = "verified";
done:
	json_object_set_new(cp, "consistency", json_string(what));
	json_decref(j);
out:
	return 0;
}

const struct option kwctl_report_opts[] = {
	{"format", required_argument, NULL, 'f'},
	{"out", required_argument, NULL, 'o'},
	{"days", required_argument, NULL, 'd'},
	{"checkpoint-key", required_argument, NULL, 'k'},
	{"profile", required_argument, NULL, 'P'},
	{"url", required_argument, NULL, 'U'},
	{"cacert", required_argument, NULL, 'C'},
	{"cert", required_argument, NULL, 'E'},
	{"key", required_argument, NULL, 'K'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

const struct kwctl_optarg kwctl_report_args[] = {
	{"format", "md|json|html"}, {"out", "FILE"}, {"days", "N"}, {"checkpoint-key", "FILE"},
	{"profile", "FILE"}, {"url", "URL"}, {"cacert", "FILE"}, {"cert", "FILE"}, {"key", "FILE"},
	{NULL, NULL},
};

int
kwctl_cmd_report(int argc, char **argv)
{
	struct kwctl_conn_flags cf = {0};
	struct kwctl_conn conn = {0};
	struct kwctl_report_in in = {0};
	const char *format = "md", *out = NULL, *keyfile = NULL;
	long days = 30;
	json_t *report = NULL, *cpdoc = NULL;
	char *text = NULL;
	int c, rc = KWCTL_EFAIL, conn_ok = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", kwctl_report_opts, NULL)) != -1) {
		char *end = NULL;

		switch (c) {
		case 'f': format = optarg; break;
		case 'o': out = optarg; break;
		case 'k': keyfile = optarg; break;
		case 'P': cf.profile = optarg; break;
		case 'U': cf.url = optarg; break;
		case 'C': cf.cacert = optarg; break;
		case 'E': cf.cert = optarg; break;
		case 'K': cf.key = optarg; break;
		case 'd':
			days = strtol(optarg, &end, 10);
			if (optarg[0] < '0' || optarg[0] > '9' || *end != '\0' || days < 1 ||
			    days > REPORT_MAX_DAYS)
				return kwctl_usage_error("report: --days wants 1..%d", REPORT_MAX_DAYS);
			break;
		case 'h': usage(stdout); return KWCTL_OK;
		default: return kwctl_usage_error("report: unknown option (try --help)");
		}
	}
	if (optind != argc)
		return kwctl_usage_error("report: unexpected argument (try --help)");
	if (strcmp(format, "md") != 0 && strcmp(format, "json") != 0 && strcmp(format, "html") != 0)
		return kwctl_usage_error("report: --format is md, json or html");
	if ((rc = kwctl_conn_load(&cf, &conn)) != 0)
		return rc;
	conn_ok = 1;
	in.now = kw_time_now();
	in.days = days;
	in.records = json_array();
	in.rotations = json_array();
	if ((rc = get_json(&conn, "report: keys", "/admin/v1/keys", &in.keys)) != 0 ||
	    (rc = get_json(&conn, "report: policies", "/admin/v1/policies", &in.policies)) != 0 ||
	    (rc = get_json(&conn, "report: refvals", "/admin/v1/refvals", &in.refvals)) != 0 ||
	    (rc = get_records(&conn, in.now - days * 86400, NULL, in.records)) != 0 ||
	    (rc = get_records(&conn, -1, "token_key_rotation", in.rotations)) != 0)
		goto out;
	{
		struct kwctl_resp resp;

		rc = kwctl_http(&conn, "report: checkpoint", "GET", "/admin/v1/audit/checkpoint", NULL,
		    &resp);
		if (rc == KWCTL_ENOTFOUND) {
			cpdoc = json_object();
		} else if (rc != 0) {
			goto out;
		} else {
			cpdoc = json_loadb(resp.body, resp.len, 0, NULL);
			kwctl_resp_free(&resp);
		}
		if (cpdoc == NULL) {
			rc = kwctl_fail(KWCTL_EFAIL, "report: checkpoint: not JSON");
			goto out;
		}
	}
	in.checkpoint = checkpoint_status(cpdoc, keyfile);
	in.checkpoint_first_at = json_is_integer(json_object_get(cpdoc, "first_at")) ?
	    json_integer_value(json_object_get(cpdoc, "first_at")) : -1;
	if (in.checkpoint != NULL && (rc = consistency(&conn, in.checkpoint)) != 0)
		goto out;
	json_object_del(in.checkpoint, "note");
	kw_json_oom_reset();
	report = kwctl_report_build(&in);
	if (report == NULL || kw_json_oom()) {
		rc = kwctl_fail(KWCTL_EFAIL, "report: cannot build the report");
		goto out;
	}
	if (strcmp(format, "json") == 0)
		text = kw_json_dumps(report, JSON_INDENT(2) | JSON_SORT_KEYS);
	else if (strcmp(format, "md") == 0)
		text = kwctl_report_md(report);
	else
		text = kwctl_report_html(report);
	if (text == NULL) {
		rc = kwctl_fail(KWCTL_EFAIL, "report: cannot render the report");
		goto out;
	}
	if (out != NULL ? kw_file_write_atomic(out, text, strlen(text), 0644) != 0 :
	    (fputs(text, stdout) == EOF || fputc('\n', stdout) == EOF || fflush(stdout) != 0)) {
		rc = kwctl_fail(KWCTL_EFAIL, "report: cannot write the output");
		goto out;
	}
	rc = KWCTL_OK;
out:
	free(text);
	json_decref(report);
	json_decref(cpdoc);
	kwctl_report_in_clear(&in);
	if (conn_ok)
		kwctl_conn_free(&conn);
	return rc;
}
