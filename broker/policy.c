/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Release policy: validation, evaluation, lint and explain of the policy
 * language in docs/policy.md, and reference-value sets. Pure: the caller
 * parses documents, supplies the time and resolves set names.
 *
 * Validation is strict (unknown members anywhere are errors) and bounded
 * (size, rule depth, rule count, list lengths), so evaluation can rely on
 * the shape of the policy and stays bounded whatever the claims hold.
 * Evaluation never short-circuits: every check is run and listed, so the
 * explanation shows all of them; the first failing one decides.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "kw_util.h"
#include "policy.h"

#define UNCONST(v) ((json_t *)(uintptr_t)(v))
#define MAX_CLAIM_FINGERPRINTS 4096 /* a manifest with more fails the check */
#define MAX_CLAIM_LIST 1024         /* TLS name lists in a manifest */
#define MAX_NAME_LEN 128            /* "name" of a measurement entry */
#define MAX_TLS_NAME 64
#define MAX_FLOOR 4294967295LL
#define MAX_KEY_BITS 16384
#define TIME_MAX 253402300799LL     /* 9999-12-31T23:59:59Z */
#define PATH_LEN 320
#define DETAIL_LEN 240

static const char *const tcb_components[] = {"bl", "tee", "snp", "ucode", "fmc", NULL};
static const char *const tls_lists[] = {"cipher_suites", "groups", "signature_algorithms", NULL};

/* ---- small helpers ---- */

static void KW_PRINTF(3, 4)
set_why(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why == NULL || whylen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

/* A path being built while walking a document: push returns the old length. */
struct path {
	char s[PATH_LEN];
	size_t n;
};

static size_t KW_PRINTF(2, 3)
path_push(struct path *p, const char *fmt, ...)
{
	size_t old = p->n;
	va_list ap;
	int k;

	va_start(ap, fmt);
	k = vsnprintf(p->s + p->n, sizeof(p->s) - p->n, fmt, ap);
	va_end(ap);
	if (k > 0)
		p->n += (size_t)k < sizeof(p->s) - p->n ? (size_t)k : sizeof(p->s) - p->n - 1;
	return old;
}

static void
path_pop(struct path *p, size_t old)
{
	p->n = old;
	p->s[old] = '\0';
}

static bool
is_hex_lower(const char *s, size_t n)
{
	if (s == NULL || strlen(s) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static bool
in_set(const char *k, const char *const *allowed)
{
	for (size_t i = 0; allowed[i] != NULL; i++)
		if (strcmp(allowed[i], k) == 0)
			return true;
	return false;
}

/* Unknown members are named by position only: rejected input is never echoed. */
static int
check_members(const json_t *o, const char *const *allowed, const struct path *p, char *why,
    size_t whylen)
{
	const char *k;
	json_t *m;

	if (!json_is_object(o)) {
		set_why(why, whylen, "%s: must be an object", p->s);
		return KW_ERR_INVALID_FORMAT;
	}
	json_object_foreach(UNCONST(o), k, m) {
		if (!in_set(k, allowed)) {
			set_why(why, whylen, "%s: unknown member", p->s);
			return KW_ERR_INVALID_FORMAT;
		}
	}
	return 0;
}

/* Set and reference names, as the admin API allows them. */
static bool
valid_set_name(const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;

	if (n == 0 || n > 64 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '_' || s[i] == '-'))
			return false;
	return true;
}

static bool
valid_tls_name(const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;

	if (n == 0 || n > MAX_TLS_NAME)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || strchr("_.:+-", s[i]) != NULL))
			return false;
	return true;
}

static bool
valid_label(const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;

	if (n == 0 || n > MAX_NAME_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

/* Claim paths: 1..8 segments of [a-z0-9_-]{1,64} joined by '.'. */
static bool
valid_claim_path(const char *s)
{
	size_t seg = 0, len = 0;

	if (s == NULL || *s == '\0')
		return false;
	for (; ; s++) {
		if (*s == '.' || *s == '\0') {
			if (len == 0 || ++seg > KW_POLICY_MAX_SEGMENTS)
				return false;
			if (*s == '\0')
				return true;
			len = 0;
		} else if ((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' ||
		    *s == '-') {
			if (++len > KW_POLICY_MAX_SEGMENT_LEN)
				return false;
		} else {
			return false;
		}
	}
}

/* Resolve a validated claim path in the claims object; NULL when absent. */
static const json_t *
claim_get(const json_t *claims, const char *path)
{
	char seg[KW_POLICY_MAX_SEGMENT_LEN + 1];
	const json_t *v = claims;

	while (v != NULL) {
		size_t n = strcspn(path, ".");

		if (!json_is_object(v) || n >= sizeof(seg))
			return NULL;
		memcpy(seg, path, n);
		seg[n] = '\0';
		v = json_object_get(v, seg);
		if (path[n] == '\0')
			return v;
		path += n + 1;
	}
	return NULL;
}

static size_t
compact_size(const json_t *v)
{
	return json_dumpb(v, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
}

/* A non-empty array of at most max unique strings, each accepted by ok. */
static int
check_string_list(const json_t *a, size_t max, bool (*ok)(const char *, size_t), size_t arg,
    struct path *p, char *why, size_t whylen)
{
	size_t n = json_array_size(a);

	if (!json_is_array(a) || n == 0 || n > max) {
		set_why(why, whylen, "%s: must be an array of 1 to %zu strings", p->s, max);
		return KW_ERR_INVALID_FORMAT;
	}
	for (size_t i = 0; i < n; i++) {
		const char *s = json_string_value(json_array_get(a, i));

		if (s == NULL || !ok(s, arg)) {
			set_why(why, whylen, "%s[%zu]: invalid value", p->s, i);
			return KW_ERR_INVALID_FORMAT;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(s, json_string_value(json_array_get(a, j))) == 0) {
				set_why(why, whylen, "%s[%zu]: duplicate", p->s, i);
				return KW_ERR_INVALID_FORMAT;
			}
	}
	return 0;
}

static bool
ok_hex(const char *s, size_t n)
{
	return is_hex_lower(s, n);
}

static bool
ok_set_name(const char *s, size_t unused)
{
	(void)unused;
	return valid_set_name(s);
}

static bool
ok_tls_name(const char *s, size_t unused)
{
	(void)unused;
	return valid_tls_name(s);
}

/* An integer in lo..hi. */
static int
check_int(const json_t *v, json_int_t lo, json_int_t hi, const struct path *p, char *why,
    size_t whylen)
{
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
		set_why(why, whylen, "%s: must be an integer from %lld to %lld", p->s, (long long)lo,
		    (long long)hi);
		return KW_ERR_INVALID_FORMAT;
	}
	return 0;
}

/* ---- validation: rules ---- */

static const char *const ops[] = {"equals", "notEquals", "in", "gte", "lte", "exists", NULL};

struct vrules {
	unsigned int count;
	char *why;
	size_t whylen;
};

static int
validate_rule(const json_t *rule, unsigned int depth, struct path *p, struct vrules *vr)
{
	static const char *const comb_all[] = {"allOf", NULL}, *const comb_any[] = {"anyOf", NULL};
	static const char *const leaf[] = {"claim", "op", "value", NULL};
	const json_t *a;
	const char *op;
	int r;

	if (depth > KW_POLICY_MAX_DEPTH) {
		set_why(vr->why, vr->whylen, "%s: rules nested deeper than %d", p->s,
		    KW_POLICY_MAX_DEPTH);
		return KW_ERR_INVALID_FORMAT;
	}
	if (++vr->count > KW_POLICY_MAX_RULES) {
		set_why(vr->why, vr->whylen, "%s: more than %d rules", p->s, KW_POLICY_MAX_RULES);
		return KW_ERR_INVALID_FORMAT;
	}
	if (!json_is_object(rule)) {
		set_why(vr->why, vr->whylen, "%s: a rule must be an object", p->s);
		return KW_ERR_INVALID_FORMAT;
	}
	if ((a = json_object_get(rule, "allOf")) != NULL || (a = json_object_get(rule, "anyOf")) != NULL) {
		const char *name = json_object_get(rule, "allOf") != NULL ? "allOf" : "anyOf";

		if ((r = check_members(rule, name[1] == 'l' ? comb_all : comb_any, p, vr->why,
		    vr->whylen)) != 0)
			return r;
		if (!json_is_array(a) || json_array_size(a) == 0) {
			set_why(vr->why, vr->whylen, "%s.%s: must be a non-empty array of rules", p->s,
			    name);
			return KW_ERR_INVALID_FORMAT;
		}
		for (size_t i = 0; i < json_array_size(a); i++) {
			size_t old = path_push(p, ".%s[%zu]", name, i);

			if ((r = validate_rule(json_array_get(a, i), depth + 1, p, vr)) != 0)
				return r;
			path_pop(p, old);
		}
		return 0;
	}
	if ((r = check_members(rule, leaf, p, vr->why, vr->whylen)) != 0)
		return r;
	if (!valid_claim_path(json_string_value(json_object_get(rule, "claim")))) {
		set_why(vr->why, vr->whylen,
		    "%s.claim: required, 1 to 8 segments of [a-z0-9_-] joined by '.'", p->s);
		return KW_ERR_INVALID_FORMAT;
	}
	op = json_string_value(json_object_get(rule, "op"));
	if (op == NULL || !in_set(op, ops)) {
		set_why(vr->why, vr->whylen, "%s.op: required, one of equals, notEquals, in, gte, "
		    "lte, exists", p->s);
		return KW_ERR_INVALID_FORMAT;
	}
	a = json_object_get(rule, "value");
	if (strcmp(op, "exists") == 0) {
		if (a != NULL && !json_is_boolean(a)) {
			set_why(vr->why, vr->whylen, "%s.value: must be a boolean for exists", p->s);
			return KW_ERR_INVALID_FORMAT;
		}
	} else if (a == NULL) {
		set_why(vr->why, vr->whylen, "%s.value: required for %s", p->s, op);
		return KW_ERR_INVALID_FORMAT;
	} else if (strcmp(op, "in") == 0 && (!json_is_array(a) || json_array_size(a) == 0)) {
		set_why(vr->why, vr->whylen, "%s.value: must be a non-empty array for in", p->s);
		return KW_ERR_INVALID_FORMAT;
	} else if ((strcmp(op, "gte") == 0 || strcmp(op, "lte") == 0) && !json_is_integer(a)) {
		set_why(vr->why, vr->whylen, "%s.value: must be an integer for %s", p->s, op);
		return KW_ERR_INVALID_FORMAT;
	}
	return 0;
}

/* ---- validation: reference values ---- */

static int
validate_floors(const json_t *f, struct path *p, char *why, size_t whylen)
{
	const char *k;
	json_t *v;
	int r;

	if ((r = check_members(f, tcb_components, p, why, whylen)) != 0)
		return r;
	if (json_object_size(f) == 0) {
		set_why(why, whylen, "%s: must name at least one component", p->s);
		return KW_ERR_INVALID_FORMAT;
	}
	json_object_foreach(UNCONST(f), k, v) {
		size_t old = path_push(p, ".%s", k);

		if ((r = check_int(v, 0, MAX_FLOOR, p, why, whylen)) != 0)
			return r;
		path_pop(p, old);
	}
	return 0;
}

static int
entry_time(const json_t *e, const char *member, int64_t *ret, bool *present)
{
	const json_t *v = json_object_get(e, member);

	*present = v != NULL;
	if (v == NULL)
		return 0;
	if (!json_is_string(v) || json_string_length(v) > 64)
		return KW_ERR_INVALID_FORMAT;
	return kw_time_parse_rfc3339(json_string_value(v), ret);
}

static int
validate_measurements(const json_t *a, struct path *p, char *why, size_t whylen)
{
	static const char *const entry[] = {"value", "not-before", "not-after", "name", NULL};
	size_t n = json_array_size(a);
	int r;

	if (!json_is_array(a) || n > KW_POLICY_MAX_MEASUREMENTS) {
		set_why(why, whylen, "%s: must be an array of at most %d entries", p->s,
		    KW_POLICY_MAX_MEASUREMENTS);
		return KW_ERR_INVALID_FORMAT;
	}
	for (size_t i = 0; i < n; i++) {
		const json_t *e = json_array_get(a, i), *name;
		size_t old = path_push(p, "[%zu]", i);
		int64_t nb = 0, na = 0;
		bool has_nb, has_na;
		const char *v;

		if ((r = check_members(e, entry, p, why, whylen)) != 0)
			return r;
		v = json_string_value(json_object_get(e, "value"));
		if (!is_hex_lower(v, 96)) {
			set_why(why, whylen, "%s.value: required, 96 lower-case hex digits", p->s);
			return KW_ERR_INVALID_FORMAT;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(v, json_string_value(json_object_get(json_array_get(a, j),
			    "value"))) == 0) {
				set_why(why, whylen, "%s.value: duplicate measurement", p->s);
				return KW_ERR_INVALID_FORMAT;
			}
		if (entry_time(e, "not-before", &nb, &has_nb) != 0) {
			set_why(why, whylen, "%s.not-before: must be an RFC 3339 time", p->s);
			return KW_ERR_INVALID_FORMAT;
		}
		if (entry_time(e, "not-after", &na, &has_na) != 0) {
			set_why(why, whylen, "%s.not-after: must be an RFC 3339 time", p->s);
			return KW_ERR_INVALID_FORMAT;
		}
		if (has_nb && has_na && na < nb) {
			set_why(why, whylen, "%s: not-after before not-before", p->s);
			return KW_ERR_INVALID_FORMAT;
		}
		if ((name = json_object_get(e, "name")) != NULL &&
		    !valid_label(json_string_value(name))) {
			set_why(why, whylen, "%s.name: 1 to %d characters, no control characters",
			    p->s, MAX_NAME_LEN);
			return KW_ERR_INVALID_FORMAT;
		}
		path_pop(p, old);
	}
	return 0;
}

static int
validate_refvals(const json_t *rv, struct path *p, char *why, size_t whylen)
{
	static const char *const members[] = {"measurements", "sets", "tcb_floors", NULL};
	const json_t *m = json_object_get(rv, "measurements"), *s = json_object_get(rv, "sets");
	size_t old;
	int r;

	if ((r = check_members(rv, members, p, why, whylen)) != 0)
		return r;
	if (m != NULL) {
		old = path_push(p, ".measurements");
		if ((r = validate_measurements(m, p, why, whylen)) != 0)
			return r;
		path_pop(p, old);
	}
	if (s != NULL) {
		old = path_push(p, ".sets");
		if ((r = check_string_list(s, KW_POLICY_MAX_SETS, ok_set_name, 0, p, why,
		    whylen)) != 0)
			return r;
		path_pop(p, old);
	}
	if (json_array_size(m) == 0 && json_array_size(s) == 0) {
		set_why(why, whylen, "%s: needs at least one measurement or set", p->s);
		return KW_ERR_INVALID_FORMAT;
	}
	if (json_object_get(rv, "tcb_floors") != NULL) {
		old = path_push(p, ".tcb_floors");
		if ((r = validate_floors(json_object_get(rv, "tcb_floors"), p, why, whylen)) != 0)
			return r;
		path_pop(p, old);
	}
	return 0;
}

/* ---- validation: configuration requirements ---- */

static int
validate_config(const json_t *c, struct path *p, char *why, size_t whylen)
{
	static const char *const members[] = {"root_store", "tls", "crypto", NULL};
	static const char *const rs_members[] = {"digests", "fingerprints", "exact", NULL};
	static const char *const tls_members[] = {"min_version", "cipher_suites", "groups",
		"signature_algorithms", NULL};
	static const char *const crypto_members[] = {"min_rsa_bits", "min_ec_bits",
		"min_symmetric_bits", NULL};
	const json_t *v;
	const char *k;
	size_t old, old2;
	int r;

	if ((r = check_members(c, members, p, why, whylen)) != 0)
		return r;
	if (json_object_size(c) == 0) {
		set_why(why, whylen, "%s: must state at least one requirement", p->s);
		return KW_ERR_INVALID_FORMAT;
	}
	if ((v = json_object_get(c, "root_store")) != NULL) {
		const json_t *d, *f, *e;

		old = path_push(p, ".root_store");
		if ((r = check_members(v, rs_members, p, why, whylen)) != 0)
			return r;
		d = json_object_get(v, "digests");
		f = json_object_get(v, "fingerprints");
		e = json_object_get(v, "exact");
		if ((d == NULL) == (f == NULL)) {
			set_why(why, whylen, "%s: exactly one of digests and fingerprints", p->s);
			return KW_ERR_INVALID_FORMAT;
		}
		if (e != NULL && (d != NULL || !json_is_boolean(e))) {
			set_why(why, whylen, "%s.exact: a boolean, only with fingerprints", p->s);
			return KW_ERR_INVALID_FORMAT;
		}
		path_push(p, d != NULL ? ".digests" : ".fingerprints");
		if (d != NULL && (r = check_string_list(d, KW_POLICY_MAX_LIST, ok_hex, 96, p, why,
		    whylen)) != 0)
			return r;
		if (f != NULL && (r = check_string_list(f, KW_POLICY_MAX_FINGERPRINTS, ok_hex, 64,
		    p, why, whylen)) != 0)
			return r;
		path_pop(p, old);
	}
	if ((v = json_object_get(c, "tls")) != NULL) {
		const char *mv;

		old = path_push(p, ".tls");
		if ((r = check_members(v, tls_members, p, why, whylen)) != 0)
			return r;
		if (json_object_size(v) == 0) {
			set_why(why, whylen, "%s: must state at least one requirement", p->s);
			return KW_ERR_INVALID_FORMAT;
		}
		if (json_object_get(v, "min_version") != NULL) {
			mv = json_string_value(json_object_get(v, "min_version"));
			if (mv == NULL || (strcmp(mv, "1.2") != 0 && strcmp(mv, "1.3") != 0)) {
				set_why(why, whylen, "%s.min_version: \"1.2\" or \"1.3\"", p->s);
				return KW_ERR_INVALID_FORMAT;
			}
		}
		for (size_t i = 0; tls_lists[i] != NULL; i++) {
			const json_t *l = json_object_get(v, tls_lists[i]);

			if (l == NULL)
				continue;
			old2 = path_push(p, ".%s", tls_lists[i]);
			if ((r = check_string_list(l, KW_POLICY_MAX_LIST, ok_tls_name, 0, p, why,
			    whylen)) != 0)
				return r;
			path_pop(p, old2);
		}
		path_pop(p, old);
	}
	if ((v = json_object_get(c, "crypto")) != NULL) {
		json_t *m;

		old = path_push(p, ".crypto");
		if ((r = check_members(v, crypto_members, p, why, whylen)) != 0)
			return r;
		if (json_object_size(v) == 0) {
			set_why(why, whylen, "%s: must state at least one floor", p->s);
			return KW_ERR_INVALID_FORMAT;
		}
		json_object_foreach(UNCONST(v), k, m) {
			old2 = path_push(p, ".%s", k);
			if ((r = check_int(m, 1, MAX_KEY_BITS, p, why, whylen)) != 0)
				return r;
			path_pop(p, old2);
		}
		path_pop(p, old);
	}
	return 0;
}

/* ---- validation: documents ---- */

int
kw_policy_validate(const json_t *doc, char *why, size_t whylen)
{
	static const char *const members[] = {"version", "allow_debug", "allow_test_roots", "rules",
		"reference_values", "config", NULL};
	struct path p = { "", 0 };
	struct vrules vr = { 0, why, whylen };
	const json_t *v;
	size_t old;
	int r;

	set_why(why, whylen, "valid");
	if (!json_is_object(doc)) {
		set_why(why, whylen, "policy: must be an object");
		return KW_ERR_INVALID_FORMAT;
	}
	if (compact_size(doc) > KW_POLICY_MAX_BYTES) {
		set_why(why, whylen, "policy: larger than %d bytes", KW_POLICY_MAX_BYTES);
		return KW_ERR_INVALID_FORMAT;
	}
	path_push(&p, "policy");
	if ((r = check_members(doc, members, &p, why, whylen)) != 0)
		return r;
	path_pop(&p, 0);
	v = json_object_get(doc, "version");
	if (!json_is_integer(v) || json_integer_value(v) != 1) {
		set_why(why, whylen, "version: required, must be 1");
		return KW_ERR_INVALID_FORMAT;
	}
	if ((v = json_object_get(doc, "allow_debug")) != NULL && !json_is_boolean(v)) {
		set_why(why, whylen, "allow_debug: must be a boolean");
		return KW_ERR_INVALID_FORMAT;
	}
	if ((v = json_object_get(doc, "allow_test_roots")) != NULL && !json_is_boolean(v)) {
		set_why(why, whylen, "allow_test_roots: must be a boolean");
		return KW_ERR_INVALID_FORMAT;
	}
	if ((v = json_object_get(doc, "rules")) != NULL) {
		old = path_push(&p, "rules");
		if ((r = validate_rule(v, 1, &p, &vr)) != 0)
			return r;
		path_pop(&p, old);
	}
	if ((v = json_object_get(doc, "reference_values")) != NULL) {
		old = path_push(&p, "reference_values");
		if ((r = validate_refvals(v, &p, why, whylen)) != 0)
			return r;
		path_pop(&p, old);
	}
	if ((v = json_object_get(doc, "config")) != NULL) {
		old = path_push(&p, "config");
		if ((r = validate_config(v, &p, why, whylen)) != 0)
			return r;
		path_pop(&p, old);
	}
	set_why(why, whylen, "valid");
	return 0;
}

int
kw_refval_validate(const json_t *doc, char *why, size_t whylen)
{
	static const char *const members[] = {"measurements", "tcb_floors", NULL};
	struct path p = { "", 0 };
	size_t old;
	int r;

	set_why(why, whylen, "valid");
	if (!json_is_object(doc)) {
		set_why(why, whylen, "refval: must be an object");
		return KW_ERR_INVALID_FORMAT;
	}
	if (compact_size(doc) > KW_REFVAL_MAX_BYTES) {
		set_why(why, whylen, "refval: larger than %d bytes", KW_REFVAL_MAX_BYTES);
		return KW_ERR_INVALID_FORMAT;
	}
	path_push(&p, "refval");
	if ((r = check_members(doc, members, &p, why, whylen)) != 0)
		return r;
	path_pop(&p, 0);
	if (json_object_get(doc, "measurements") == NULL) {
		set_why(why, whylen, "measurements: required");
		return KW_ERR_INVALID_FORMAT;
	}
	old = path_push(&p, "measurements");
	if ((r = validate_measurements(json_object_get(doc, "measurements"), &p, why, whylen)) != 0)
		return r;
	path_pop(&p, old);
	if (json_object_get(doc, "tcb_floors") != NULL) {
		old = path_push(&p, "tcb_floors");
		if ((r = validate_floors(json_object_get(doc, "tcb_floors"), &p, why, whylen)) != 0)
			return r;
		path_pop(&p, old);
	}
	set_why(why, whylen, "valid");
	return 0;
}

/* ---- evaluation ---- */

struct decision {
	char reason[32];
	char path[PATH_LEN];
	char detail[DETAIL_LEN];
};

struct ev {
	const struct kw_policy_ctx *ctx;
	const json_t *claims;
	json_t *checks;        /* array of check objects */
	bool failed;           /* a check failed: the decision is deny */
	struct decision d;     /* the first failing check */
	json_t *matched;       /* the reference value that matched, or NULL */
	int err;               /* KW_ERR_NOMEM while recording */
};

/* Short, ASCII-only rendering of a claim or policy value for details. */
static void
render(const json_t *v, char *out, size_t outlen)
{
	char *s;

	if (v == NULL) {
		snprintf(out, outlen, "(missing)");
		return;
	}
	s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_ENSURE_ASCII);
	if (s == NULL) {
		snprintf(out, outlen, "(unprintable)");
		return;
	}
	if (strlen(s) > 64)
		snprintf(out, outlen, "%.61s...", s);
	else
		snprintf(out, outlen, "%s", s);
	free(s);
}

/* Record one check; when it decides, the first failure becomes the decision. */
static void KW_PRINTF(6, 0)
vrecord(struct ev *ev, bool decides, const char *name, const char *path, bool pass,
    const char *fmt, va_list ap)
{
	char detail[DETAIL_LEN];
	json_t *c;

	vsnprintf(detail, sizeof(detail), fmt, ap);
	c = json_pack("{s:s, s:s, s:s, s:s}", "check", name, "path", path, "result",
	    pass ? "pass" : "fail", "detail", detail);
	if (c == NULL || json_array_append_new(ev->checks, c) != 0)
		ev->err = KW_ERR_NOMEM;
	if (decides && !pass && !ev->failed) {
		ev->failed = true;
		snprintf(ev->d.reason, sizeof(ev->d.reason), "%s", name);
		snprintf(ev->d.path, sizeof(ev->d.path), "%s", path);
		snprintf(ev->d.detail, sizeof(ev->d.detail), "%s", detail);
	}
}

static void KW_PRINTF(5, 6)
check(struct ev *ev, const char *name, const char *path, bool pass, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vrecord(ev, true, name, path, pass, fmt, ap);
	va_end(ap);
}

/* A rule leaf: listed, but only the rules check as a whole decides. */
static void KW_PRINTF(4, 5)
observe(struct ev *ev, const char *path, bool pass, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vrecord(ev, false, "rule", path, pass, fmt, ap);
	va_end(ap);
}

static void
eval_debug(struct ev *ev, const json_t *policy)
{
	const json_t *d = json_object_get(ev->claims, "debug");
	bool allow = json_is_true(json_object_get(policy, "allow_debug"));

	if (json_is_false(d))
		check(ev, "debug", "allow_debug", true, "not a debug guest");
	else if (allow)
		check(ev, "debug", "allow_debug", true, "debug guests allowed by allow_debug");
	else if (json_is_true(d))
		check(ev, "debug", "allow_debug", false, "debug guest and allow_debug is not true");
	else
		check(ev, "debug", "allow_debug", false,
		    "claim debug missing or not a boolean (treated as debug)");
}

/*
 * Evidence that chains to an emulation root (claim root = "test", accepted by
 * the verifier only because the configuration names that root) is not
 * hardware evidence: it is released keys only when the policy says so.
 */
static void
eval_root(struct ev *ev, const json_t *policy)
{
	const json_t *root = json_object_get(ev->claims, "root");
	bool allow = json_is_true(json_object_get(policy, "allow_test_roots"));

	if (json_is_string(root) && strcmp(json_string_value(root), "test") != 0)
		check(ev, "root", "allow_test_roots", true, "evidence chains to a vendor root");
	else if (allow)
		check(ev, "root", "allow_test_roots", true,
		    "test roots allowed by allow_test_roots");
	else if (json_is_string(root))
		check(ev, "root", "allow_test_roots", false,
		    "evidence chains to a test (emulation) root and allow_test_roots is not true");
	else
		check(ev, "root", "allow_test_roots", false,
		    "claim root missing or not a string (treated as a test root)");
}

/* The deciding location of a false rule. */
struct rwhy {
	char path[PATH_LEN];
	char detail[DETAIL_LEN];
};

static bool
eval_leaf(struct ev *ev, const json_t *rule, const char *path, struct rwhy *w)
{
	const char *claim = json_string_value(json_object_get(rule, "claim"));
	const char *op = json_string_value(json_object_get(rule, "op"));
	const json_t *want = json_object_get(rule, "value"), *v = claim_get(ev->claims, claim);
	char got[80], exp[80];
	bool res;

	render(v, got, sizeof(got));
	render(want, exp, sizeof(exp));
	if (strcmp(op, "exists") == 0) {
		res = (v != NULL) == (want == NULL || json_is_true(want));
		snprintf(exp, sizeof(exp), "%s", want == NULL || json_is_true(want) ? "true" : "false");
	} else if (v == NULL) {
		res = false;
	} else if (strcmp(op, "equals") == 0) {
		res = json_equal(v, want);
	} else if (strcmp(op, "notEquals") == 0) {
		res = !json_equal(v, want);
	} else if (strcmp(op, "in") == 0) {
		res = false;
		for (size_t i = 0; i < json_array_size(want) && !res; i++)
			res = json_equal(v, json_array_get(want, i));
	} else if (!json_is_integer(v)) {
		res = false;
	} else if (strcmp(op, "gte") == 0) {
		res = json_integer_value(v) >= json_integer_value(want);
	} else {
		res = json_integer_value(v) <= json_integer_value(want);
	}
	observe(ev, path, res, "%s %s %s: claim is %s", claim, op, exp, got);
	if (!res) {
		snprintf(w->path, sizeof(w->path), "%s", path);
		snprintf(w->detail, sizeof(w->detail), "%s %s %s: claim is %s", claim, op, exp, got);
	}
	return res;
}

/*
 * Every child is evaluated (for the explanation). A false allOf is decided
 * by its first false child, a false anyOf by itself.
 */
static bool
eval_rule(struct ev *ev, const json_t *rule, struct path *p, struct rwhy *w)
{
	const json_t *a;
	const char *name;
	bool all, res, have = false;

	if ((a = json_object_get(rule, "allOf")) != NULL)
		name = "allOf";
	else if ((a = json_object_get(rule, "anyOf")) != NULL)
		name = "anyOf";
	else
		return eval_leaf(ev, rule, p->s, w);
	all = name[1] == 'l';
	res = all;
	for (size_t i = 0; i < json_array_size(a); i++) {
		size_t old = path_push(p, ".%s[%zu]", name, i);
		struct rwhy cw;
		bool c = eval_rule(ev, json_array_get(a, i), p, &cw);

		path_pop(p, old);
		if (!c && !have) {
			*w = cw;
			have = true;
		}
		res = all ? res && c : res || c;
	}
	if (!res && !all) {
		snprintf(w->path, sizeof(w->path), "%s", p->s);
		snprintf(w->detail, sizeof(w->detail), "none of the %zu alternatives of anyOf holds",
		    json_array_size(a));
	}
	return res;
}

static void
eval_rules(struct ev *ev, const json_t *rules)
{
	struct path p = { "rules", 5 };
	struct rwhy w = { "", "" };

	if (eval_rule(ev, rules, &p, &w))
		check(ev, "rules", "rules", true, "rules hold");
	else
		check(ev, "rules", w.path, false, "%s", w.detail);
}

/* Resolved reference-value sets named by the policy. */
struct sets {
	size_t n;
	const char *name[KW_POLICY_MAX_SETS];
	json_t *doc[KW_POLICY_MAX_SETS];   /* NULL: missing */
};

static void
sets_free(struct sets *s)
{
	for (size_t i = 0; i < s->n; i++)
		json_decref(s->doc[i]);
	s->n = 0;
}

/*
 * Resolve every named set. Missing sets stay NULL (and count in *missing);
 * an invalid set or a resolver error is returned (could not evaluate).
 */
static int
sets_resolve(const json_t *rv, const struct kw_policy_ctx *ctx, bool need_resolver,
    struct sets *s)
{
	const json_t *names = json_object_get(rv, "sets");
	int r;

	s->n = 0;
	for (size_t i = 0; i < json_array_size(names); i++) {
		json_t *doc = NULL;

		s->name[s->n] = json_string_value(json_array_get(names, i));
		s->doc[s->n] = NULL;
		s->n++;
		if (ctx->refset == NULL) {
			if (need_resolver)
				return KW_ERR_INVALID_ARG;
			continue;
		}
		r = ctx->refset(ctx->arg, s->name[s->n - 1], &doc);
		if (r == KW_ERR_NOT_FOUND)
			continue;
		if (r != 0)
			return r < 0 ? r : KW_ERR_INTERNAL;
		s->doc[s->n - 1] = doc;   /* owned by s */
		if (doc == NULL)
			return KW_ERR_INTERNAL;
	}
	return 0;
}

/* Window check of an entry: 0 inside, -1 not yet valid, 1 expired. */
static int
window(const json_t *e, int64_t now, char *why, size_t whylen)
{
	int64_t nb = 0, na = 0;
	bool has_nb, has_na;

	/* validated documents: the times parse */
	if (entry_time(e, "not-before", &nb, &has_nb) != 0 ||
	    entry_time(e, "not-after", &na, &has_na) != 0)
		return 1;
	if (has_nb && now < nb) {
		snprintf(why, whylen, "not valid before %s",
		    json_string_value(json_object_get(e, "not-before")));
		return -1;
	}
	if (has_na && now >= na) {
		snprintf(why, whylen, "not valid since %s",
		    json_string_value(json_object_get(e, "not-after")));
		return 1;
	}
	return 0;
}

/* Look for meas in one measurements list; 1 matched in window, 0 not. */
static int
match_list(struct ev *ev, const json_t *list, const char *where, const char *set, const char *meas,
    bool *seen, struct decision *outside)
{
	for (size_t i = 0; i < json_array_size(list); i++) {
		const json_t *e = json_array_get(list, i);
		char why[128];

		if (strcmp(json_string_value(json_object_get(e, "value")), meas) != 0)
			continue;
		if (window(e, ev->ctx->now, why, sizeof(why)) == 0) {
			const json_t *name = json_object_get(e, "name");

			ev->matched = json_pack("{s:s, s:s*, s:I, s:O*}", "source",
			    set != NULL ? "set" : "policy", "set", set, "index", (json_int_t)i,
			    "name", name);
			if (ev->matched == NULL)
				ev->err = KW_ERR_NOMEM;
			check(ev, "measurement", where, true, "measurement matched %s[%zu]", where,
			    i);
			return 1;
		}
		if (!*seen) {
			*seen = true;
			snprintf(outside->path, sizeof(outside->path), "%s[%zu]", where, i);
			snprintf(outside->detail, sizeof(outside->detail), "measurement %s", why);
		}
	}
	return 0;
}

static void
eval_floors(struct ev *ev, const json_t *floors, const char *where)
{
	const json_t *rep = json_object_get(json_object_get(ev->claims, "tcb"), "reported");
	const char *k;
	json_t *f;

	json_object_foreach(UNCONST(floors), k, f) {
		const json_t *v = json_object_get(rep, k);
		char path[PATH_LEN], got[80];
		bool ok = json_is_integer(v) && json_integer_value(v) >= json_integer_value(f);

		snprintf(path, sizeof(path), "%s.%s", where, k);
		render(v, got, sizeof(got));
		check(ev, "tcb_floor", path, ok, "tcb.reported.%s is %s, floor %" JSON_INTEGER_FORMAT,
		    k, got, json_integer_value(f));
	}
}

static int
eval_refvals(struct ev *ev, const json_t *rv)
{
	const char *meas = json_string_value(json_object_get(ev->claims, "measurement"));
	struct decision outside;
	struct sets s;
	bool seen = false, matched = false, missing = false;
	int r;

	if ((r = sets_resolve(rv, ev->ctx, true, &s)) != 0)
		goto out;
	for (size_t i = 0; i < s.n; i++) {
		char path[PATH_LEN];

		snprintf(path, sizeof(path), "reference_values.sets[%zu]", i);
		if (s.doc[i] == NULL) {
			check(ev, "set", path, false, "reference-value set '%s' does not exist",
			    s.name[i]);
			missing = true;
		} else if (kw_refval_validate(s.doc[i], NULL, 0) != 0) {
			r = KW_ERR_INVALID_FORMAT;   /* a stored set that is invalid: cannot evaluate */
			goto out;
		}
	}
	if (meas == NULL) {
		check(ev, "measurement", "reference_values", false, "claim measurement missing");
	} else {
		matched = match_list(ev, json_object_get(rv, "measurements"),
		    "reference_values.measurements", NULL, meas, &seen, &outside) == 1;
		for (size_t i = 0; i < s.n && !matched; i++) {
			char where[PATH_LEN];

			if (s.doc[i] == NULL)
				continue;
			snprintf(where, sizeof(where), "set:%s.measurements", s.name[i]);
			matched = match_list(ev, json_object_get(s.doc[i], "measurements"), where,
			    s.name[i], meas, &seen, &outside) == 1;
		}
		if (!matched && seen)
			check(ev, "window", outside.path, false, "%s", outside.detail);
		else if (!matched && !missing)
			check(ev, "measurement", "reference_values", false,
			    "measurement is not a reference value");
		else if (!matched)
			check(ev, "measurement", "reference_values", false,
			    "measurement is not a reference value of the sets that exist");
	}
	if (json_object_get(rv, "tcb_floors") != NULL)
		eval_floors(ev, json_object_get(rv, "tcb_floors"), "reference_values.tcb_floors");
	for (size_t i = 0; i < s.n; i++) {
		char where[PATH_LEN];

		if (s.doc[i] == NULL || json_object_get(s.doc[i], "tcb_floors") == NULL)
			continue;
		snprintf(where, sizeof(where), "set:%s.tcb_floors", s.name[i]);
		eval_floors(ev, json_object_get(s.doc[i], "tcb_floors"), where);
	}
	r = 0;
out:
	sets_free(&s);
	return r;
}

/*
 * Claimed root-store fingerprints: an array of at most MAX_CLAIM_FINGERPRINTS
 * 64-hex strings in strictly ascending order (so also unique). NULL if not.
 */
static const json_t *
claim_fingerprints(const json_t *rs)
{
	const json_t *f = json_object_get(rs, "fingerprints");
	size_t n = json_array_size(f);

	if (!json_is_array(f) || n > MAX_CLAIM_FINGERPRINTS)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const char *s = json_string_value(json_array_get(f, i));

		if (!is_hex_lower(s, 64) ||
		    (i > 0 && strcmp(json_string_value(json_array_get(f, i - 1)), s) >= 0))
			return NULL;
	}
	return f;
}

/* SHA-384 over each fingerprint followed by '\n', as 96 lower-case hex. */
static int
fingerprints_digest(const json_t *f, char out[static 97])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[48];
	unsigned int mdlen = 0;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	int r = KW_ERR_CRYPTO;

	if (c == NULL || EVP_DigestInit_ex(c, EVP_sha384(), NULL) != 1)
		goto out;
	for (size_t i = 0; i < json_array_size(f); i++)
		if (EVP_DigestUpdate(c, json_string_value(json_array_get(f, i)), 64) != 1 ||
		    EVP_DigestUpdate(c, "\n", 1) != 1)
			goto out;
	if (EVP_DigestFinal_ex(c, md, &mdlen) != 1 || mdlen != sizeof(md))
		goto out;
	for (size_t i = 0; i < sizeof(md); i++) {
		out[2 * i] = digits[md[i] >> 4];
		out[2 * i + 1] = digits[md[i] & 0xf];
	}
	out[96] = '\0';
	r = 0;
out:
	EVP_MD_CTX_free(c);
	return r;
}

static bool
list_has(const json_t *a, const char *s)
{
	for (size_t i = 0; i < json_array_size(a); i++)
		if (strcmp(json_string_value(json_array_get(a, i)), s) == 0)
			return true;
	return false;
}

static int
eval_root_store(struct ev *ev, const json_t *req, const json_t *cfg)
{
	const json_t *rs = json_object_get(cfg, "root-store"), *cf, *d, *f;
	const char *cd = json_string_value(json_object_get(rs, "digest"));
	char digest[97];
	int r;

	if (!json_is_object(rs)) {
		check(ev, "root_store", "config.root_store", false,
		    "the manifest has no root-store");
		return 0;
	}
	cf = claim_fingerprints(rs);
	if (json_object_get(rs, "fingerprints") != NULL && cf == NULL) {
		check(ev, "root_store", "config.root_store", false,
		    "manifest root-store fingerprints malformed or not sorted");
		return 0;
	}
	if (json_object_get(rs, "digest") != NULL && !is_hex_lower(cd, 96)) {
		check(ev, "root_store", "config.root_store", false,
		    "manifest root-store digest malformed");
		return 0;
	}
	if (cf != NULL && cd != NULL) {
		if ((r = fingerprints_digest(cf, digest)) != 0)
			return r;
		if (strcmp(digest, cd) != 0) {
			check(ev, "root_store", "config.root_store", false,
			    "manifest root-store digest does not match its fingerprints");
			return 0;
		}
	}
	if ((d = json_object_get(req, "digests")) != NULL) {
		if (cd == NULL)
			check(ev, "root_store", "config.root_store.digests", false,
			    "the manifest has no root-store digest");
		else
			check(ev, "root_store", "config.root_store.digests", list_has(d, cd),
			    "root-store digest %.16s... %s", cd,
			    list_has(d, cd) ? "allowed" : "not allowed");
		return 0;
	}
	f = json_object_get(req, "fingerprints");
	if (cf == NULL) {
		check(ev, "root_store", "config.root_store.fingerprints", false,
		    "the manifest has no root-store fingerprints");
		return 0;
	}
	for (size_t i = 0; i < json_array_size(cf); i++) {
		const char *s = json_string_value(json_array_get(cf, i));

		if (!list_has(f, s)) {
			check(ev, "root_store", "config.root_store.fingerprints", false,
			    "root store holds a certificate not allowed (sha256 %.16s...)", s);
			return 0;
		}
	}
	/* every claimed one is allowed and both lists are unique: equal sizes mean equal sets */
	if (!json_is_false(json_object_get(req, "exact")) &&
	    json_array_size(cf) != json_array_size(f)) {
		check(ev, "root_store", "config.root_store.fingerprints", false,
		    "root store lacks %zu allowed certificate(s) and exact is true",
		    json_array_size(f) - json_array_size(cf));
		return 0;
	}
	check(ev, "root_store", "config.root_store.fingerprints", true,
	    "root store of %zu certificate(s) allowed", json_array_size(cf));
	return 0;
}

/* "1.0".."1.3" → 0..3; -1 for anything else. */
static int
tls_minor(const char *s)
{
	if (s == NULL || strlen(s) != 3 || s[0] != '1' || s[1] != '.' || s[2] < '0' || s[2] > '3')
		return -1;
	return s[2] - '0';
}

static void
eval_tls(struct ev *ev, const json_t *req, const json_t *cfg)
{
	const json_t *t = json_object_get(cfg, "tls"), *mv = json_object_get(req, "min_version");

	if (mv != NULL) {
		const char *got = json_string_value(json_object_get(t, "min_version"));
		int have = tls_minor(got), want = tls_minor(json_string_value(mv));

		check(ev, "tls", "config.tls.min_version", have >= 0 && have >= want,
		    "manifest tls.min_version %s, policy %s", have >= 0 ? got : "missing or invalid",
		    json_string_value(mv));
	}
	for (size_t k = 0; tls_lists[k] != NULL; k++) {
		const json_t *allowed = json_object_get(req, tls_lists[k]), *l;
		char path[64];
		size_t n;
		bool ok = true;

		if (allowed == NULL)
			continue;
		snprintf(path, sizeof(path), "config.tls.%s", tls_lists[k]);
		l = json_object_get(t, tls_lists[k]);
		n = json_array_size(l);
		if (!json_is_array(l) || n == 0 || n > MAX_CLAIM_LIST) {
			check(ev, "tls", path, false, "manifest tls.%s missing, empty or too long",
			    tls_lists[k]);
			continue;
		}
		for (size_t i = 0; i < n && ok; i++) {
			const char *s = json_string_value(json_array_get(l, i));

			if (s == NULL || !valid_tls_name(s) || !list_has(allowed, s)) {
				ok = false;
				check(ev, "tls", path, false, "manifest tls.%s[%zu] %s%s%s",
				    tls_lists[k], i, s != NULL && valid_tls_name(s) ? "'" : "",
				    s != NULL && valid_tls_name(s) ? s : "(invalid)",
				    s != NULL && valid_tls_name(s) ? "' not allowed" : "");
			}
		}
		if (ok)
			check(ev, "tls", path, true, "all %zu manifest tls.%s allowed", n,
			    tls_lists[k]);
	}
}

static void
eval_crypto(struct ev *ev, const json_t *req, const json_t *cfg)
{
	static const char *const pairs[][2] = {{"min_rsa_bits", "rsa_bits"},
		{"min_ec_bits", "ec_bits"}, {"min_symmetric_bits", "symmetric_bits"}};
	const json_t *c = json_object_get(cfg, "crypto");

	for (size_t i = 0; i < KW_ARRAY_SIZE(pairs); i++) {
		const json_t *floor = json_object_get(req, pairs[i][0]), *v;
		char path[64], got[80];

		if (floor == NULL)
			continue;
		v = json_object_get(c, pairs[i][1]);
		snprintf(path, sizeof(path), "config.crypto.%s", pairs[i][0]);
		render(v, got, sizeof(got));
		check(ev, "crypto", path,
		    json_is_integer(v) && json_integer_value(v) >= json_integer_value(floor),
		    "manifest crypto.%s is %s, floor %" JSON_INTEGER_FORMAT, pairs[i][1], got,
		    json_integer_value(floor));
	}
}

static int
eval_config(struct ev *ev, const json_t *req)
{
	const json_t *cfg = json_object_get(ev->claims, "config"), *v;
	int r;

	if ((v = json_object_get(req, "root_store")) != NULL &&
	    (r = eval_root_store(ev, v, cfg)) != 0)
		return r;
	if ((v = json_object_get(req, "tls")) != NULL)
		eval_tls(ev, v, cfg);
	if ((v = json_object_get(req, "crypto")) != NULL)
		eval_crypto(ev, v, cfg);
	return 0;
}

int
kw_policy_eval(const json_t *policy, const json_t *claims, const struct kw_policy_ctx *ctx,
    json_t **ret_explain)
{
	struct ev ev;
	const json_t *v;
	json_t *ex = NULL;
	int r;

	memset(&ev, 0, sizeof(ev));
	if (policy == NULL || ctx == NULL || !json_is_object(claims))
		return KW_ERR_INVALID_ARG;
	if ((r = kw_policy_validate(policy, NULL, 0)) != 0)
		return r;
	ev.ctx = ctx;
	ev.claims = claims;
	if ((ev.checks = json_array()) == NULL)
		return KW_ERR_NOMEM;
	eval_debug(&ev, policy);
	eval_root(&ev, policy);
	if ((v = json_object_get(policy, "rules")) != NULL)
		eval_rules(&ev, v);
	if ((v = json_object_get(policy, "reference_values")) != NULL &&
	    (r = eval_refvals(&ev, v)) != 0)
		goto out;
	if ((v = json_object_get(policy, "config")) != NULL && (r = eval_config(&ev, v)) != 0)
		goto out;
	if ((r = ev.err) != 0)
		goto out;
	if (ret_explain != NULL) {
		r = KW_ERR_NOMEM;
		ex = json_pack("{s:s, s:s, s:s, s:s, s:O}", "decision", ev.failed ? "deny" : "allow",
		    "reason", ev.failed ? ev.d.reason : "allowed", "path", ev.failed ? ev.d.path : "",
		    "detail", ev.failed ? ev.d.detail : "every check passed", "checks", ev.checks);
		if (ex == NULL ||
		    (ev.matched != NULL && json_object_set(ex, "matched", ev.matched) != 0))
			goto out;
		*ret_explain = ex;
		ex = NULL;   /* transferred */
	}
	r = ev.failed ? KW_ERR_DENIED : 0;
out:
	json_decref(ex);
	json_decref(ev.checks);
	json_decref(ev.matched);
	return r;
}

/* ---- lint ---- */

static int KW_PRINTF(2, 3)
warn(json_t *w, const char *fmt, ...)
{
	char buf[320];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return json_array_append_new(w, json_string(buf)) == 0 ? 0 : KW_ERR_NOMEM;
}

static int
lint_entries(json_t *w, const json_t *list, const char *where, int64_t now, int64_t max_age)
{
	int r;

	for (size_t i = 0; i < json_array_size(list); i++) {
		const json_t *e = json_array_get(list, i);
		const char *name = json_string_value(json_object_get(e, "name"));
		char label[160];
		int64_t nb = 0, na = 0, oldest;
		bool has_nb, has_na;

		if (entry_time(e, "not-before", &nb, &has_nb) != 0 ||
		    entry_time(e, "not-after", &na, &has_na) != 0)
			return KW_ERR_INVALID_FORMAT;
		if (has_na && na <= now)
			continue;   /* its window has ended: it admits nothing */
		if (name != NULL)
			snprintf(label, sizeof(label), "%s[%zu] (%.64s)", where, i, name);
		else
			snprintf(label, sizeof(label), "%s[%zu] (measurement %.16s...)", where, i,
			    json_string_value(json_object_get(e, "value")));
		if (!has_nb && (r = warn(w, "no-not-before: %s has no not-before, its age is "
		    "unknown", label)) != 0)
			return r;
		if (has_nb && max_age > 0 && !__builtin_sub_overflow(now, max_age, &oldest) &&
		    nb < oldest &&
		    (r = warn(w, "stale-measurement: %s valid since %s, older than %" PRId64
		    " seconds", label, json_string_value(json_object_get(e, "not-before")),
		    max_age)) != 0)
			return r;
		if (!has_na && (r = warn(w, "no-not-after: %s has no not-after", label)) != 0)
			return r;
	}
	return 0;
}

static int
lint_floors(json_t *w, const json_t *floors, const char *where, bool seen[static 5])
{
	const char *k;
	json_t *f;
	int r;

	json_object_foreach(UNCONST(floors), k, f) {
		for (size_t i = 0; tcb_components[i] != NULL; i++)
			if (strcmp(k, tcb_components[i]) == 0)
				seen[i] = true;
		if (json_integer_value(f) == 0 &&
		    (r = warn(w, "tcb-floor-zero: %s.%s is 0", where, k)) != 0)
			return r;
	}
	return 0;
}

int
kw_policy_lint(const json_t *policy, const struct kw_policy_ctx *ctx, int64_t max_age_seconds,
    json_t **ret_warnings)
{
	const json_t *rv;
	json_t *w = NULL;
	struct sets s = { 0 };
	bool seen[5] = { false };
	int r;

	if (policy == NULL || ctx == NULL || ret_warnings == NULL)
		return KW_ERR_INVALID_ARG;
	if ((r = kw_policy_validate(policy, NULL, 0)) != 0)
		return r;
	if ((w = json_array()) == NULL)
		return KW_ERR_NOMEM;
	rv = json_object_get(policy, "reference_values");
	if (json_is_true(json_object_get(policy, "allow_debug")) &&
	    (r = warn(w, "allow-debug: debug guests are allowed")) != 0)
		goto out;
	if (json_is_true(json_object_get(policy, "allow_test_roots")) &&
	    (r = warn(w, "allow-test-roots: evidence from emulation (test) roots is released "
	    "keys; never use this policy in production")) != 0)
		goto out;
	if (json_object_get(policy, "rules") == NULL && rv == NULL &&
	    json_object_get(policy, "config") == NULL &&
	    (r = warn(w, "allows-any-guest: no rules, reference values or configuration "
	    "requirements: any %sguest is released keys",
	    json_is_true(json_object_get(policy, "allow_debug")) ? "" : "non-debug ")) != 0)
		goto out;
	if (rv == NULL && (r = warn(w, "no-reference-values: measurements are not pinned")) != 0)
		goto out;
	if (rv != NULL) {
		if ((r = sets_resolve(rv, ctx, false, &s)) != 0)
			goto out;
		if ((r = lint_entries(w, json_object_get(rv, "measurements"),
		    "reference_values.measurements", ctx->now, max_age_seconds)) != 0)
			goto out;
		if (json_object_get(rv, "tcb_floors") != NULL &&
		    (r = lint_floors(w, json_object_get(rv, "tcb_floors"),
		    "reference_values.tcb_floors", seen)) != 0)
			goto out;
		for (size_t i = 0; i < s.n; i++) {
			char where[PATH_LEN];

			if (ctx->refset == NULL) {
				r = warn(w, "set-unresolved: set '%s' not checked (no resolver)",
				    s.name[i]);
			} else if (s.doc[i] == NULL) {
				r = warn(w, "set-missing: set '%s' does not exist: the policy denies "
				    "every release", s.name[i]);
			} else if (kw_refval_validate(s.doc[i], NULL, 0) != 0) {
				r = warn(w, "set-invalid: set '%s' is not a valid reference-value set: "
				    "the policy denies every release", s.name[i]);
			} else {
				snprintf(where, sizeof(where), "set:%s.measurements", s.name[i]);
				r = lint_entries(w, json_object_get(s.doc[i], "measurements"), where,
				    ctx->now, max_age_seconds);
				snprintf(where, sizeof(where), "set:%s.tcb_floors", s.name[i]);
				if (r == 0 && json_object_get(s.doc[i], "tcb_floors") != NULL)
					r = lint_floors(w, json_object_get(s.doc[i], "tcb_floors"), where,
					    seen);
			}
			if (r != 0)
				goto out;
		}
	}
	/* fmc exists on some processors only: its floor is never required */
	for (size_t i = 0; i < 4; i++)
		if (!seen[i] && (r = warn(w, "tcb-floor-missing: no TCB floor for %s",
		    tcb_components[i])) != 0)
			goto out;
	*ret_warnings = w;
	w = NULL;   /* transferred */
	r = 0;
out:
	sets_free(&s);
	json_decref(w);
	return r;
}

/* ---- supersede ---- */

static int
hex96_lower(const char *in, char out[static 97])
{
	if (in == NULL || strlen(in) != 96)
		return KW_ERR_INVALID_ARG;
	for (size_t i = 0; i < 96; i++) {
		char c = in[i];

		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return KW_ERR_INVALID_ARG;
		out[i] = c;
	}
	out[96] = '\0';
	return 0;
}

int
kw_refval_supersede(const json_t *doc, const char *old_hex, const char *new_hex, int64_t now,
    int64_t grace_seconds, json_t **ret_doc)
{
	char oldv[97], newv[97], ts[21];
	json_t *nd = NULL, *list, *olde = NULL, *e;
	int64_t end, nb = 0, na = 0;
	bool has_nb, has_na, have_new = false;
	int r;

	if (ret_doc == NULL || hex96_lower(old_hex, oldv) != 0 || hex96_lower(new_hex, newv) != 0 ||
	    strcmp(oldv, newv) == 0 || grace_seconds < 0 || grace_seconds > KW_DURATION_MAX ||
	    now < 0 || now > TIME_MAX - KW_DURATION_MAX)
		return KW_ERR_INVALID_ARG;
	if ((r = kw_refval_validate(doc, NULL, 0)) != 0)
		return r;
	if ((nd = json_deep_copy(doc)) == NULL)
		return KW_ERR_NOMEM;
	list = json_object_get(nd, "measurements");
	for (size_t i = 0; i < json_array_size(list); i++) {
		const char *v = json_string_value(json_object_get(json_array_get(list, i), "value"));

		if (strcmp(v, oldv) == 0)
			olde = json_array_get(list, i);
		else if (strcmp(v, newv) == 0)
			have_new = true;
	}
	r = KW_ERR_NOT_FOUND;
	if (olde == NULL)
		goto out;
	r = KW_ERR_INVALID_FORMAT;
	if (entry_time(olde, "not-before", &nb, &has_nb) != 0 ||
	    entry_time(olde, "not-after", &na, &has_na) != 0)
		goto out;
	end = now + grace_seconds;
	if (has_nb && end < nb)
		end = nb;   /* an empty window: the old build never becomes valid */
	r = KW_ERR_NOMEM;
	if (!has_na || end < na) {
		kw_time_format_rfc3339(end, ts);
		if (json_object_set_new(olde, "not-after", json_string(ts)) != 0)
			goto out;
	}
	if (!have_new) {
		kw_time_format_rfc3339(now, ts);
		if ((e = json_pack("{s:s, s:s}", "value", newv, "not-before", ts)) == NULL ||
		    json_array_append_new(list, e) != 0)
			goto out;
	}
	r = KW_ERR_INVALID_ARG;   /* e.g. the new entry pushed it over a cap */
	if (kw_refval_validate(nd, NULL, 0) != 0)
		goto out;
	*ret_doc = nd;
	nd = NULL;   /* transferred */
	r = 0;
out:
	json_decref(nd);
	return r;
}

/* ---- durations ---- */

int
kw_duration_parse(const char *s, int64_t *ret)
{
	int64_t v = 0, mul;
	size_t n;

	if (s == NULL || (n = strlen(s)) < 2 || n > 12)
		return KW_ERR_INVALID_FORMAT;
	switch (s[n - 1]) {
	case 'd': mul = 86400; break;
	case 'h': mul = 3600; break;
	case 'm': mul = 60; break;
	case 's': mul = 1; break;
	default: return KW_ERR_INVALID_FORMAT;
	}
	for (size_t i = 0; i + 1 < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return KW_ERR_INVALID_FORMAT;
		v = v * 10 + (s[i] - '0');   /* at most 11 digits: no overflow */
	}
	if (v > KW_DURATION_MAX / mul)
		return KW_ERR_INVALID_FORMAT;
	*ret = v * mul;
	return 0;
}
