/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kwctl report: aggregation and rendering (kwctl_report.h). Pure: input
 * documents in, one report document out; the renderers walk that document
 * only, so the three formats always say the same thing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kw_util.h"
#include "kwctl_report.h"

/* The control objectives (docs/governance.md): id, objective, what enforces it, the section with the evidence. */
static const char *const objectives[][4] = {
	{"13", "Keys released only to authorized TEEs after successful attestation",
	 "deny by default: a key is released only under its bound policy; DPoP-bound tokens",
	 "Keys and policies"},
	{"15", "Verifier policies follow the newest versions; old ones phased out",
	 "reference-value sets with validity windows; refval supersede", "Reference values"},
	{"E7", "Reference values of newly deployed packages are registered",
	 "admin API and kwctl refval put|supersede (recorded as admin changes)", "Reference values"},
	{"E12", "Measurements of newly deployed packages are recognized as valid",
	 "appraisal and release records naming the matched reference value",
	 "Measurements seen versus allowed"},
	{"13b", "Every release is attributable to a key, policy and reference value",
	 "release records written before the key leaves the HSM",
	 "Releases per key and reference value"},
	{"13c", "Refusals are visible and explained", "denial records with the failed check",
	 "Denials by reason"},
	{"11", "Trusted roots curated: no release to emulation roots in production",
	 "policy allow_test_roots (default false)", "Releases to emulation roots"},
	{"11/12", "Trusted root store and cipher configuration curated and attested",
	 "policy config clauses (root_store, tls, crypto) checked against the workload's"
	 " attested configuration manifest", "Configuration requirements"},
	{"1", "Keys securely generated and rotated", "token keys in the HSM; keywarden --rotate-token-key",
	 "Token and checkpoint keys"},
	{"E9/E14/E15", "Evidence of secure practice; the record is tamper-evident",
	 "Merkle-tree audit log with HSM-signed checkpoints", "Checkpoint verification"},
};

void
kwctl_report_in_clear(struct kwctl_report_in *in)
{
	json_decref(in->keys);
	json_decref(in->policies);
	json_decref(in->refvals);
	json_decref(in->records);
	json_decref(in->rotations);
	json_decref(in->checkpoint);
	memset(in, 0, sizeof(*in));
}

static void
bump(json_t *counts, const char *k)
{
	json_int_t v = json_integer_value(json_object_get(counts, k));

	json_object_set_new(counts, k, json_integer(v + 1));
}

static const char *
str(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s != NULL ? s : "";
}

static int64_t
rfc3339_or(const json_t *o, const char *k, int64_t dflt)
{
	const char *s = json_string_value(json_object_get(o, k));
	int64_t t;

	if (s == NULL || kw_time_parse_rfc3339(s, &t) != 0)
		return dflt;
	return t;
}

/* "measurements" lists are named "measurement[i]" in release records. */
static const char *
entry_claim(const char *member)
{
	return strcmp(member, "measurements") == 0 ? "measurement" : member;
}

/* One list of entries, named "<claim>[i]" as release records name them. */
static void
add_list(const struct kwctl_report_in *in, const char *repo, const char *set,
    json_int_t version, const char *claim, const json_t *list, const json_t *rel_by_entry,
    json_t *allowed, json_t *out)
{
	size_t j, n = json_array_size(list);
	json_t *e;

	json_array_foreach(list, j, e) {
		char entry[160], key[400];
		int64_t nb = rfc3339_or(e, "not-before", -1);
		int64_t na = rfc3339_or(e, "not-after", -1);
		const char *status;
		json_int_t rel;

		if (!json_is_object(e) || !json_is_string(json_object_get(e, "value")))
			continue;
		snprintf(entry, sizeof(entry), "%s[%zu]", claim, j);
		snprintf(key, sizeof(key), "%s/%s %s", repo, set, entry);
		rel = json_integer_value(json_object_get(rel_by_entry, key));
		if (na >= 0 && na <= in->now)
			status = "expired";
		else if (nb > in->now)
			status = "not-yet-valid";
		else if (na >= 0 && j + 1 < n)
			status = "superseded";
		else if (na < 0)
			status = "open-ended";
		else
			status = "active";
		/* appraisal records name the SNP measurement or the TDX mrtd as "measurement" */
		if (strcmp(claim, "measurement") == 0 || strcmp(claim, "mrtd") == 0)
			json_object_set_new(allowed, str(e, "value"), json_true());
		json_array_append_new(out, json_pack("{s:s, s:s, s:I, s:s, s:s, s:s,"
		    " s:o, s:o, s:s, s:I, s:b}",
		    "repository", repo, "set", set, "set_version", version,
		    "entry", entry, "value", str(e, "value"), "name", str(e, "name"),
		    "not_before", nb >= 0 ? json_integer(nb) : json_null(),
		    "not_after", na >= 0 ? json_integer(na) : json_null(),
		    "status", status, "releases", rel, "never_matched", rel == 0));
	}
}

/*
 * The entries of one document's lists (doc: a set's document or a policy's
 * reference_values): the arrays ("measurements", "mrtd"), and the lists
 * under "rtmr" ("rtmr<i>"), "pcrs" ("pcrs.<bank>.<n>") and "eventlog"
 * ("eventlog.<claim>"), each named by the claim it pins (docs/policy.md).
 */
static void
add_entries(const struct kwctl_report_in *in, const char *repo, const char *set,
    json_int_t version, json_t *doc, const json_t *rel_by_entry, json_t *allowed, json_t *out)
{
	const char *member, *k, *k2;
	json_t *v, *l, *l2;
	char claim[100];

	json_object_foreach(doc, member, v) {
		if (json_is_array(v)) {
			add_list(in, repo, set, version, entry_claim(member), v, rel_by_entry, allowed,
			    out);
		} else if (strcmp(member, "rtmr") == 0 || strcmp(member, "eventlog") == 0) {
			json_object_foreach(v, k, l) {
				snprintf(claim, sizeof(claim), "%s%s%.64s", member,
				    member[0] == 'r' ? "" : ".", k);
				add_list(in, repo, set, version, claim, l, rel_by_entry, allowed, out);
			}
		} else if (strcmp(member, "pcrs") == 0) {
			json_object_foreach(v, k, l) {
				json_object_foreach(l, k2, l2) {
					snprintf(claim, sizeof(claim), "pcrs.%.16s.%.16s", k, k2);
					add_list(in, repo, set, version, claim, l2, rel_by_entry, allowed,
					    out);
				}
			}
		}
	}
}

/* A list of strings as one "a, b, c" cell (malloc'd; NULL when out of memory). */
static char *
joined(const json_t *a)
{
	char *buf = NULL;
	size_t len = 0, i;
	FILE *f = open_memstream(&buf, &len);
	json_t *x;

	if (f == NULL)
		return NULL;
	json_array_foreach(a, i, x)
		fprintf(f, "%s%s", i > 0 ? ", " : "", json_is_string(x) ? json_string_value(x) : "?");
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

static void
add_requirement(json_t *out, const json_t *pol, const char *clause, const char *text)
{
	json_array_append_new(out, json_pack("{s:s, s:s, s:I, s:s, s:s}", "repository",
	    str(pol, "repository"), "policy", str(pol, "name"), "version",
	    json_integer_value(json_object_get(pol, "version")), "clause", clause, "requirement",
	    text != NULL ? text : "?"));
}

/*
 * What each policy requires of the workload's configuration manifest
 * (docs/policy.md "config"): the trusted root store, the TLS configuration
 * and the key-length floors, one row per clause; a policy without any gets
 * one row saying they are not checked.
 */
static json_t *
build_config(const struct kwctl_report_in *in)
{
	static const char *const lists[] = { "cipher_suites", "groups", "signature_algorithms", NULL };
	static const char *const floors[] = { "min_rsa_bits", "min_ec_bits", "min_symmetric_bits",
		NULL };
	json_t *out = json_array(), *pol;
	size_t i;

	json_array_foreach(json_object_get(in->policies, "policies"), i, pol) {
		const json_t *cfg = json_object_get(json_object_get(pol, "document"), "config");
		const json_t *rs = json_object_get(cfg, "root_store"), *tls = json_object_get(cfg, "tls");
		const json_t *cr = json_object_get(cfg, "crypto");
		size_t before = json_array_size(out);
		char clause[64], text[200], *t;

		if (json_is_array(json_object_get(rs, "digests"))) {
			t = joined(json_object_get(rs, "digests"));
			add_requirement(out, pol, "root_store.digests", t);
			free(t);
		}
		if (json_is_array(json_object_get(rs, "fingerprints"))) {
			const json_t *ex = json_object_get(rs, "exact");
			char *all = joined(json_object_get(rs, "fingerprints"));

			t = NULL;
			if (all != NULL && asprintf(&t, "%s (%s)", all, json_is_false(ex) ?
			    "at most these certificates" : "exactly these certificates") < 0)
				t = NULL;
			add_requirement(out, pol, "root_store.fingerprints", t);
			free(t);
			free(all);
		}
		if (json_is_string(json_object_get(tls, "min_version"))) {
			snprintf(text, sizeof(text), "TLS %s or later",
			    json_string_value(json_object_get(tls, "min_version")));
			add_requirement(out, pol, "tls.min_version", text);
		}
		for (size_t k = 0; lists[k] != NULL; k++) {
			if (!json_is_array(json_object_get(tls, lists[k])))
				continue;
			snprintf(clause, sizeof(clause), "tls.%s", lists[k]);
			t = joined(json_object_get(tls, lists[k]));
			add_requirement(out, pol, clause, t);
			free(t);
		}
		for (size_t k = 0; floors[k] != NULL; k++) {
			if (!json_is_integer(json_object_get(cr, floors[k])))
				continue;
			snprintf(clause, sizeof(clause), "crypto.%s", floors[k]);
			snprintf(text, sizeof(text), "at least %lld bits",
			    (long long)json_integer_value(json_object_get(cr, floors[k])));
			add_requirement(out, pol, clause, text);
		}
		if (json_array_size(out) == before)
			add_requirement(out, pol, "none", "the root store and the TLS configuration are"
			    " not checked");
	}
	return out;
}

/*
 * Every entry of every reference-value set, and of the lists inline in
 * policies (set "policy:<name>"), with its window status and releases.
 */
static json_t *
build_refvals(const struct kwctl_report_in *in, const json_t *rel_by_entry, json_t *allowed)
{
	json_t *out = json_array(), *x;
	size_t i;

	json_array_foreach(json_object_get(in->refvals, "refvals"), i, x)
		add_entries(in, str(x, "repository"), str(x, "name"),
		    json_integer_value(json_object_get(x, "version")),
		    json_object_get(x, "document"), rel_by_entry, allowed, out);
	json_array_foreach(json_object_get(in->policies, "policies"), i, x) {
		char set[100];

		snprintf(set, sizeof(set), "policy:%s", str(x, "name"));
		add_entries(in, str(x, "repository"), set,
		    json_integer_value(json_object_get(x, "version")),
		    json_object_get(json_object_get(x, "document"), "reference_values"),
		    rel_by_entry, allowed, out);
	}
	return out;
}

json_t *
kwctl_report_build(const struct kwctl_report_in *in)
{
	json_t *rep = NULL, *objs = json_array(), *keys = json_array(), *x;
	json_t *rel_by_entry = json_object(), *rel_rows = json_object(), *den = json_object();
	json_t *seen = json_object(), *allowed = json_object(), *root_of = json_object();
	json_t *emu = json_object(), *tkeys = json_object(), *refvals = NULL, *meas = json_array();
	json_t *releases = json_array(), *denials = json_array(), *tk = json_array(), *cfgreq;
	const char *k;
	size_t i;
	json_int_t nrel = 0, nden = 0, napp = 0;
	char when[21];

	for (i = 0; i < sizeof(objectives) / sizeof(objectives[0]); i++)
		json_array_append_new(objs, json_pack("{s:s, s:s, s:s, s:s}", "id", objectives[i][0],
		    "objective", objectives[i][1], "enforced_by", objectives[i][2], "evidence",
		    objectives[i][3]));
	json_array_foreach(json_object_get(in->keys, "keys"), i, x) {
		char res[200];

		snprintf(res, sizeof(res), "%s/%s/%s", str(x, "repository"), str(x, "type"),
		    str(x, "tag"));
		json_array_append_new(keys, json_pack("{s:s, s:o, s:s}", "resource", res, "policy",
		    json_is_string(json_object_get(x, "policy")) ?
		    json_string(str(x, "policy")) : json_null(), "state", str(x, "state")));
	}
	/* appraisals first: the root each token's appraisal chained to */
	json_array_foreach(in->records, i, x) {
		const json_t *d = json_object_get(x, "data");

		if (strcmp(str(x, "kind"), "appraisal") != 0)
			continue;
		napp++;
		if (json_object_get(d, "jti") != NULL)
			json_object_set_new(root_of, str(d, "jti"), json_string(str(d, "root")));
		if (json_object_get(d, "measurement") != NULL) {
			json_t *m = json_object_get(seen, str(d, "measurement"));

			if (m == NULL) {
				m = json_pack("{s:I, s:I}", "appraisals", (json_int_t)0, "releases",
				    (json_int_t)0);
				json_object_set_new(seen, str(d, "measurement"), m);
			}
			json_object_set_new(m, "appraisals", json_integer(
			    json_integer_value(json_object_get(m, "appraisals")) + 1));
		}
	}
	json_array_foreach(in->records, i, x) {
		const json_t *d = json_object_get(x, "data"), *rv = json_object_get(d, "refval");
		char row[600], ent[400];

		if (strcmp(str(x, "kind"), "release") == 0) {
			const char *root = json_string_value(json_object_get(root_of, str(d, "jti")));
			json_t *m = json_object_get(seen, str(d, "measurement"));

			nrel++;
			/* a list inline in the policy is "policy"; its entries are "policy:<name>" */
			if (rv != NULL) {
				int inl = strcmp(str(rv, "set"), "policy") == 0;

				snprintf(ent, sizeof(ent), "%s/%s%s%s %s", str(d, "repository"),
				    str(rv, "set"), inl ? ":" : "", inl ? str(d, "policy") : "",
				    str(rv, "entry"));
				bump(rel_by_entry, ent);
			}
			snprintf(row, sizeof(row), "%s\t%s\t%s", str(d, "resource"),
			    rv != NULL ? str(rv, "set") : "", rv != NULL ? str(rv, "entry") : "");
			bump(rel_rows, row);
			if (m != NULL)
				json_object_set_new(m, "releases", json_integer(
				    json_integer_value(json_object_get(m, "releases")) + 1));
			if (root != NULL && (strcmp(root, "test") == 0 || strstr(root, "emul") != NULL)) {
				snprintf(row, sizeof(row), "%s\t%s", str(d, "resource"), root);
				bump(emu, row);
			}
		} else if (strcmp(str(x, "kind"), "denial") == 0) {
			nden++;
			snprintf(row, sizeof(row), "%s\t%s", str(d, "check"), str(d, "reason"));
			bump(den, row);
		}
	}
	refvals = build_refvals(in, rel_by_entry, allowed);
	cfgreq = build_config(in);
	json_object_foreach(seen, k, x)
		json_array_append_new(meas, json_pack("{s:s, s:O, s:O, s:b}", "value", k,
		    "appraisals", json_object_get(x, "appraisals"), "releases",
		    json_object_get(x, "releases"), "allowed", json_object_get(allowed, k) != NULL));
	json_object_foreach(rel_rows, k, x) {
		char buf[600], *a, *b;

		snprintf(buf, sizeof(buf), "%s", k);
		a = strchr(buf, '\t');
		*a++ = '\0';
		b = strchr(a, '\t');
		*b++ = '\0';
		json_array_append_new(releases, json_pack("{s:s, s:s, s:s, s:O}", "resource", buf,
		    "set", a, "entry", b, "count", x));
	}
	json_object_foreach(den, k, x) {
		char buf[600], *a;

		snprintf(buf, sizeof(buf), "%s", k);
		a = strchr(buf, '\t');
		*a++ = '\0';
		json_array_append_new(denials, json_pack("{s:s, s:s, s:O}", "check", buf, "reason", a,
		    "count", x));
	}
	{
		json_t *emul = json_array();

		json_object_foreach(emu, k, x) {
			char buf[600], *a;

			snprintf(buf, sizeof(buf), "%s", k);
			a = strchr(buf, '\t');
			*a++ = '\0';
			json_array_append_new(emul, json_pack("{s:s, s:s, s:O}", "resource", buf, "root",
			    a, "count", x));
		}
		json_decref(emu);
		emu = emul;
	}
	/* token keys: "new" minus "destroy", age from the record time */
	json_array_foreach(in->rotations, i, x) {
		const json_t *d = json_object_get(x, "data");

		if (strcmp(str(d, "action"), "new") == 0)
			json_object_set_new(tkeys, str(d, "kid"), json_integer(
			    json_integer_value(json_object_get(x, "at"))));
		else
			json_object_del(tkeys, str(d, "kid"));
	}
	json_object_foreach(tkeys, k, x) {
		json_int_t at = json_integer_value(x);

		json_array_append_new(tk, json_pack("{s:s, s:s, s:I, s:I}", "use", "token", "kid", k,
		    "seen_at", at, "age_days", (json_int_t)((in->now - at) / 86400)));
	}
	if (in->checkpoint_first_at >= 0)
		json_array_append_new(tk, json_pack("{s:s, s:s, s:I, s:I}", "use", "checkpoint", "kid",
		    "kw-audit/1", "seen_at", (json_int_t)in->checkpoint_first_at, "age_days",
		    (json_int_t)((in->now - in->checkpoint_first_at) / 86400)));
	kw_time_format_rfc3339(in->now, when);
	rep = json_pack("{s:i, s:s, s:I, s:I, s:{s:I, s:I, s:I, s:I}, s:o, s:o, s:O, s:o, s:o, s:o,"
	    " s:o, s:o, s:o, s:o, s:O}",
	    "report_version", 1, "generated_at", when, "now", (json_int_t)in->now,
	    "window_days", (json_int_t)in->days,
	    "totals", "records", (json_int_t)json_array_size(in->records), "appraisals", napp,
	    "releases", nrel, "denials", nden,
	    "objectives", objs, "keys", keys,
	    "policies", json_object_get(in->policies, "policies") != NULL ?
	    json_object_get(in->policies, "policies") : json_array(),
	    "reference_values", refvals, "measurements", meas, "releases", releases,
	    "denials", denials, "emulation_releases", emu, "config_requirements", cfgreq,
	    "signing_keys", tk,
	    "checkpoint", in->checkpoint);
	emu = NULL;
	json_decref(rel_by_entry);
	json_decref(rel_rows);
	json_decref(den);
	json_decref(seen);
	json_decref(allowed);
	json_decref(root_of);
	json_decref(tkeys);
	return rep;
}

/* ---- rendering ---- */

struct section {
	const char *title;
	const char *member;                  /* array in the report, or "checkpoint" */
	const char *cols[10];                 /* members shown, NULL-terminated */
};

static const struct section sections[] = {
	{"Control objectives", "objectives", {"id", "objective", "enforced_by", "evidence", NULL}},
	{"Keys and policies", "keys", {"resource", "policy", "state", NULL}},
	{"Reference values", "reference_values", {"repository", "set", "entry", "name", "value",
	 "not_before", "not_after", "status", NULL}},
	{"Measurements seen versus allowed", "measurements", {"value", "appraisals", "releases",
	 "allowed", NULL}},
	{"Releases per key and reference value", "releases", {"resource", "set", "entry", "count",
	 NULL}},
	{"Denials by reason", "denials", {"check", "reason", "count", NULL}},
	{"Releases to emulation roots", "emulation_releases", {"resource", "root", "count", NULL}},
	{"Configuration requirements", "config_requirements", {"repository", "policy", "version",
	 "clause", "requirement", NULL}},
	{"Token and checkpoint keys", "signing_keys", {"use", "kid", "seen_at", "age_days", NULL}},
	{"Checkpoint verification", "checkpoint", {"present", "signature", "detail", "size", "time",
	 "origin", "consistency", "log_size", NULL}},
};

/* The text of a cell (malloc'd). */
static char *
cell(const json_t *v, const char *col)
{
	char *s = NULL;

	if (json_is_string(v))
		return strdup(json_string_value(v));
	if (json_is_integer(v)) {
		if ((strcmp(col, "not_before") == 0 || strcmp(col, "not_after") == 0 ||
		    strcmp(col, "seen_at") == 0 || strcmp(col, "time") == 0) && json_integer_value(v) >= 0) {
			char t[21];

			kw_time_format_rfc3339((int64_t)json_integer_value(v), t);
			return strdup(t);
		}
		if (asprintf(&s, "%lld", (long long)json_integer_value(v)) < 0)
			return NULL;
		return s;
	}
	if (json_is_boolean(v))
		return strdup(json_is_true(v) ? "yes" : "no");
	return strdup("—");
}

char *
kwctl_report_html_escape(const char *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (f == NULL)
		return NULL;
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default: fputc(*s, f); break;
		}
	}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* Markdown cell: '|' and newlines would break the table. */
static void
md_put(FILE *f, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '|')
			fputs("\\|", f);
		else if (*s == '\n' || *s == '\r')
			fputc(' ', f);
		else
			fputc(*s, f);
	}
}

static char *
render(const json_t *rep, int html)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	const json_t *tot = json_object_get(rep, "totals");

	if (f == NULL)
		return NULL;
	if (html)
		fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
		    "<title>keywarden governance report</title><style>"
		    "body{font-family:sans-serif;margin:2em;color:#222}"
		    "table{border-collapse:collapse;margin-bottom:1.5em}"
		    "th,td{border:1px solid #999;padding:.25em .5em;text-align:left;"
		    "font-size:.9em;overflow-wrap:anywhere}th{background:#eee}"
		    "</style></head><body>\n<h1>keywarden governance report</h1>\n", f);
	else
		fputs("# keywarden governance report\n\n", f);
	fprintf(f, html ? "<p>Generated %s; audit records of the last %lld days: %lld records,"
	    " %lld appraisals, %lld releases, %lld denials.</p>\n" :
	    "Generated %s; audit records of the last %lld days: %lld records, %lld appraisals,"
	    " %lld releases, %lld denials.\n\n",
	    json_string_value(json_object_get(rep, "generated_at")),
	    (long long)json_integer_value(json_object_get(rep, "window_days")),
	    (long long)json_integer_value(json_object_get(tot, "records")),
	    (long long)json_integer_value(json_object_get(tot, "appraisals")),
	    (long long)json_integer_value(json_object_get(tot, "releases")),
	    (long long)json_integer_value(json_object_get(tot, "denials")));
	for (size_t si = 0; si < sizeof(sections) / sizeof(sections[0]); si++) {
		const struct section *sec = &sections[si];
		json_t *arr = json_object_get(rep, sec->member), *row, *one = NULL;
		size_t i;

		if (json_is_object(arr)) {
			one = json_array();
			json_array_append(one, arr);
			arr = one;
		}
		fprintf(f, html ? "<h2>%s</h2>\n" : "## %s\n\n", sec->title);
		if (json_array_size(arr) == 0) {
			fputs(html ? "<p>None.</p>\n" : "None.\n\n", f);
			json_decref(one);
			continue;
		}
		fputs(html ? "<table><tr>" : "|", f);
		for (size_t c = 0; sec->cols[c] != NULL; c++)
			fprintf(f, html ? "<th>%s</th>" : " %s |", sec->cols[c]);
		fputs(html ? "</tr>\n" : "\n|", f);
		if (!html) {
			for (size_t c = 0; sec->cols[c] != NULL; c++)
				fputs("---|", f);
			fputc('\n', f);
		}
		json_array_foreach(arr, i, row) {
			fputs(html ? "<tr>" : "|", f);
			for (size_t c = 0; sec->cols[c] != NULL; c++) {
				char *t = cell(json_object_get(row, sec->cols[c]), sec->cols[c]);
				char *e = t != NULL && html ? kwctl_report_html_escape(t) : NULL;

				if (html) {
					fprintf(f, "<td>%s</td>", e != NULL ? e : "");
				} else {
					fputc(' ', f);
					md_put(f, t != NULL ? t : "");
					fputs(" |", f);
				}
				free(e);
				free(t);
			}
			fputs(html ? "</tr>\n" : "\n", f);
		}
		fputs(html ? "</table>\n" : "\n", f);
		json_decref(one);
	}
	if (html)
		fputs("</body></html>\n", f);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

char *
kwctl_report_md(const json_t *report)
{
	return render(report, 0);
}

char *
kwctl_report_html(const json_t *report)
{
	return render(report, 1);
}
