/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Release policy, part 1 of 3: validation of policies and reference-value
 * sets (docs/policy.md), and the helpers the other parts share. Pure: the caller
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
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "kw_json.h"
#include "kw_name.h"
#include "kw_util.h"
#include "policy.h"
#include "policy_int.h"

const char *const policy_tcb_components[] = {"bl", "tee", "snp", "ucode", "fmc", NULL};
const char *const policy_tls_lists[] = {"cipher_suites", "groups", "signature_algorithms", NULL};
const char *const policy_rtmr_indexes[] = {"0", "1", "2", "3", NULL};
const char *const policy_pcr_banks[] = {"sha1", "sha256", "sha384", NULL};
const char *const policy_pcr_indexes[] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12",
	"13", "14", "15", "16", "17", "18", "19", "20", "21", "22", "23", NULL};
const char *const policy_eventlog_lists[] = {"kernel_sha256", "boot_loader_sha256", NULL};

/* ---- small helpers ---- */

void KW_PRINTF(3, 4)
policy_set_why(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why == NULL || whylen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}


size_t KW_PRINTF(2, 3)
policy_path_push(struct path *p, const char *fmt, ...)
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

void
policy_path_pop(struct path *p, size_t old)
{
	p->n = old;
	p->s[old] = '\0';
}

bool
policy_is_hex_lower(const char *s, size_t n)
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
	if (!json_is_object(o)) {
		policy_set_why(why, whylen, "%s: must be an object", p->s);
		return KW_ERR_INVALID_FORMAT;
	}
	if (kw_json_unknown_key(o, allowed) != NULL) {
		policy_set_why(why, whylen, "%s: unknown member", p->s);
		return KW_ERR_INVALID_FORMAT;
	}
	return 0;
}

/* Set and reference names, as the admin API allows them. */
bool
policy_valid_tls_name(const char *s)
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
const json_t *
policy_claim_get(const json_t *claims, const char *path)
{
	char seg[KW_POLICY_MAX_SEGMENT_LEN + 1];
	const json_t *v = claims;

	while (v != NULL) {
		size_t n = strcspn(path, ".");

		if ((!json_is_object(v) && !json_is_array(v)) || n >= sizeof(seg))
			return NULL;
		memcpy(seg, path, n);
		seg[n] = '\0';
		if (json_is_array(v)) {
			/* into an array by a decimal index ("gpus.0.cc_mode") */
			size_t idx = 0;

			if (n == 0 || n > 4 || strspn(seg, "0123456789") != n || (n > 1 && seg[0] == '0'))
				return NULL;
			for (size_t i = 0; i < n; i++)
				idx = idx * 10 + (size_t)(seg[i] - '0');
			v = json_array_get(v, idx);
		} else {
			v = json_object_get(v, seg);
		}
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
		policy_set_why(why, whylen, "%s: must be an array of 1 to %zu strings", p->s, max);
		return KW_ERR_INVALID_FORMAT;
	}
	for (size_t i = 0; i < n; i++) {
		const char *s = json_string_value(json_array_get(a, i));

		if (s == NULL || !ok(s, arg)) {
			policy_set_why(why, whylen, "%s[%zu]: invalid value", p->s, i);
			return KW_ERR_INVALID_FORMAT;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(s, json_string_value(json_array_get(a, j))) == 0) {
				policy_set_why(why, whylen, "%s[%zu]: duplicate", p->s, i);
				return KW_ERR_INVALID_FORMAT;
			}
	}
	return 0;
}

static bool
ok_hex(const char *s, size_t n)
{
	return policy_is_hex_lower(s, n);
}

static bool
ok_set_name(const char *s, size_t unused)
{
	(void)unused;
	return kw_name_valid(s);
}

static bool
ok_tls_name(const char *s, size_t unused)
{
	(void)unused;
	return policy_valid_tls_name(s);
}

/* An integer in lo..hi. */
static int
check_int(const json_t *v, json_int_t lo, json_int_t hi, const struct path *p, char *why,
    size_t whylen)
{
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
		policy_set_why(why, whylen, "%s: must be an integer from %lld to %lld", p->s, (long long)lo,
		    (long long)hi);
		return KW_ERR_INVALID_FORMAT;
	}
	return 0;
}

/* ---- validation: rules ---- */

static const char *const ops[] = {"equals", "notEquals", "in", "gte", "lte", "exists", "containsNone",
	NULL};

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
		policy_set_why(vr->why, vr->whylen, "%s: rules nested deeper than %d", p->s,
		    KW_POLICY_MAX_DEPTH);
		return KW_ERR_INVALID_FORMAT;
	}
	if (++vr->count > KW_POLICY_MAX_RULES) {
		policy_set_why(vr->why, vr->whylen, "%s: more than %d rules", p->s, KW_POLICY_MAX_RULES);
		return KW_ERR_INVALID_FORMAT;
	}
	if (!json_is_object(rule)) {
		policy_set_why(vr->why, vr->whylen, "%s: a rule must be an object", p->s);
		return KW_ERR_INVALID_FORMAT;
	}
	if ((a = json_object_get(rule, "allOf")) != NULL || (a = json_object_get(rule, "anyOf")) != NULL) {
		const char *name = json_object_get(rule, "allOf") != NULL ? "allOf" : "anyOf";

		if ((r = check_members(rule, name[1] == 'l' ? comb_all : comb_any, p, vr->why,
		    vr->whylen)) != 0)
			return r;
		if (!json_is_array(a) || json_array_size(a) == 0) {
			policy_set_why(vr->why, vr->whylen, "%s.%s: must be a non-empty array of rules", p->s,
			    name);
			return KW_ERR_INVALID_FORMAT;
		}
		for (size_t i = 0; i < json_array_size(a); i++) {
			size_t old = policy_path_push(p, ".%s[%zu]", name, i);

			if ((r = validate_rule(json_array_get(a, i), depth + 1, p, vr)) != 0)
				return r;
			policy_path_pop(p, old);
		}
		return 0;
	}
	if ((r = check_members(rule, leaf, p, vr->why, vr->whylen)) != 0)
		return r;
	if (!valid_claim_path(json_string_value(json_object_get(rule, "claim")))) {
		policy_set_why(vr->why, vr->whylen,
		    "%s.claim: required, 1 to 8 segments of [a-z0-9_-] joined by '.'", p->s);
		return KW_ERR_INVALID_FORMAT;
	}
	op = json_string_value(json_object_get(rule, "op"));
	if (op == NULL || !in_set(op, ops)) {
		policy_set_why(vr->why, vr->whylen, "%s.op: required, one of equals, notEquals, in, gte, "
		    "lte, exists, containsNone", p->s);
		return KW_ERR_INVALID_FORMAT;
	}
	a = json_object_get(rule, "value");
	if (strcmp(op, "exists") == 0) {
		if (a != NULL && !json_is_boolean(a)) {
			policy_set_why(vr->why, vr->whylen, "%s.value: must be a boolean for exists", p->s);
			return KW_ERR_INVALID_FORMAT;
		}
	} else if (a == NULL) {
		policy_set_why(vr->why, vr->whylen, "%s.value: required for %s", p->s, op);
		return KW_ERR_INVALID_FORMAT;
	} else if ((strcmp(op, "in") == 0 || strcmp(op, "containsNone") == 0) &&
	    (!json_is_array(a) || json_array_size(a) == 0)) {
		policy_set_why(vr->why, vr->whylen, "%s.value: must be a non-empty array for %s", p->s, op);
		return KW_ERR_INVALID_FORMAT;
	} else if ((strcmp(op, "gte") == 0 || strcmp(op, "lte") == 0) && !json_is_integer(a)) {
		policy_set_why(vr->why, vr->whylen, "%s.value: must be an integer for %s", p->s, op);
		return KW_ERR_INVALID_FORMAT;
	}
	return 0;
}

/* ---- validation: reference values ---- */

typedef int (*member_fn)(const json_t *v, struct path *p, char *why, size_t whylen);

/*
 * An object of only the allowed members, at least one (what names them in
 * the reason), each checked by fn at its own path.
 */
static int
validate_each_member(const json_t *o, const char *const *allowed, const char *what, member_fn fn,
    struct path *p, char *why, size_t whylen)
{
	const char *k;
	json_t *v;
	int r;

	if ((r = check_members(o, allowed, p, why, whylen)) != 0)
		return r;
	if (json_object_size(o) == 0) {
		policy_set_why(why, whylen, "%s: must name at least one %s", p->s, what);
		return KW_ERR_INVALID_FORMAT;
	}
	json_object_foreach(UNCONST(o), k, v) {
		size_t old = policy_path_push(p, ".%s", k);

		if ((r = fn(v, p, why, whylen)) != 0)
			return r;
		policy_path_pop(p, old);
	}
	return 0;
}

static int
floor_value(const json_t *v, struct path *p, char *why, size_t whylen)
{
	return check_int(v, 0, MAX_FLOOR, p, why, whylen);
}

static int
validate_floors(const json_t *f, struct path *p, char *why, size_t whylen)
{
	return validate_each_member(f, policy_tcb_components, "component", floor_value, p, why, whylen);
}

int
policy_entry_time(const json_t *e, const char *member, int64_t *ret, bool *present)
{
	const json_t *v = json_object_get(e, member);

	*present = v != NULL;
	if (v == NULL)
		return 0;
	if (!json_is_string(v) || json_string_length(v) > 64)
		return KW_ERR_INVALID_FORMAT;
	return kw_time_parse_rfc3339(json_string_value(v), ret);
}

/* A list of reference entries: an array of at most KW_POLICY_MAX_MEASUREMENTS. */
static bool
entry_array(const json_t *a, const struct path *p, char *why, size_t whylen)
{
	if (json_is_array(a) && json_array_size(a) <= KW_POLICY_MAX_MEASUREMENTS)
		return true;
	policy_set_why(why, whylen, "%s: must be an array of at most %d entries", p->s,
	    KW_POLICY_MAX_MEASUREMENTS);
	return false;
}

/* An entry's optional window (RFC 3339, not-after not before not-before) and name. */
static int
validate_window_name(const json_t *e, const struct path *p, char *why, size_t whylen)
{
	const json_t *name;
	int64_t nb = 0, na = 0;
	bool has_nb, has_na;

	if (policy_entry_time(e, "not-before", &nb, &has_nb) != 0) {
		policy_set_why(why, whylen, "%s.not-before: must be an RFC 3339 time", p->s);
		return KW_ERR_INVALID_FORMAT;
	}
	if (policy_entry_time(e, "not-after", &na, &has_na) != 0) {
		policy_set_why(why, whylen, "%s.not-after: must be an RFC 3339 time", p->s);
		return KW_ERR_INVALID_FORMAT;
	}
	if (has_nb && has_na && na < nb) {
		policy_set_why(why, whylen, "%s: not-after before not-before", p->s);
		return KW_ERR_INVALID_FORMAT;
	}
	if ((name = json_object_get(e, "name")) != NULL && !valid_label(json_string_value(name))) {
		policy_set_why(why, whylen, "%s.name: 1 to %d characters, no control characters",
		    p->s, MAX_NAME_LEN);
		return KW_ERR_INVALID_FORMAT;
	}
	return 0;
}

/* A firmware version as a reference value: 1..32 of [0-9A-Za-z._-] ("550.90.07", "96.00.9f.00.01"). */
static bool
valid_version(const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;

	if (n == 0 || n > 32)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || strchr("._-", s[i]) != NULL))
			return false;
	return true;
}

/* validate_entries' hexlen for values that are not one fixed hex length */
#define ENTRY_HEX_CCA ((size_t)0)        /* 64, 96 or 128 hex digits (CCA rim, rem) */
#define ENTRY_VERSION ((size_t)-1)       /* a firmware version (valid_version) */

/*
 * Reference entries whose value is hexlen lower-case hex digits
 * (measurements: 96), ENTRY_HEX_CCA or ENTRY_VERSION.
 */
static int
validate_entries(const json_t *a, size_t hexlen, struct path *p, char *why, size_t whylen)
{
	static const char *const entry[] = {"value", "not-before", "not-after", "name", NULL};
	size_t n = json_array_size(a);
	int r;

	if (!entry_array(a, p, why, whylen))
		return KW_ERR_INVALID_FORMAT;
	for (size_t i = 0; i < n; i++) {
		const json_t *e = json_array_get(a, i);
		size_t old = policy_path_push(p, "[%zu]", i);
		const char *v;

		if ((r = check_members(e, entry, p, why, whylen)) != 0)
			return r;
		v = json_string_value(json_object_get(e, "value"));
		if (hexlen == ENTRY_HEX_CCA && !policy_is_hex_lower(v, 64) && !policy_is_hex_lower(v, 96) &&
		    !policy_is_hex_lower(v, 128)) {
			policy_set_why(why, whylen, "%s.value: required, 64, 96 or 128 lower-case hex digits", p->s);
			return KW_ERR_INVALID_FORMAT;
		}
		if (hexlen == ENTRY_VERSION && !valid_version(v)) {
			policy_set_why(why, whylen, "%s.value: required, a version of 1 to 32 characters "
			    "[0-9A-Za-z._-]", p->s);
			return KW_ERR_INVALID_FORMAT;
		}
		if (hexlen != ENTRY_HEX_CCA && hexlen != ENTRY_VERSION && !policy_is_hex_lower(v, hexlen)) {
			policy_set_why(why, whylen, "%s.value: required, %zu lower-case hex digits", p->s, hexlen);
			return KW_ERR_INVALID_FORMAT;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(v, json_string_value(json_object_get(json_array_get(a, j),
			    "value"))) == 0) {
				policy_set_why(why, whylen, "%s.value: duplicate measurement", p->s);
				return KW_ERR_INVALID_FORMAT;
			}
		if ((r = validate_window_name(e, p, why, whylen)) != 0)
			return r;
		policy_path_pop(p, old);
	}
	return 0;
}

static int
validate_measurements(const json_t *a, struct path *p, char *why, size_t whylen)
{
	return validate_entries(a, 96, p, why, whylen);
}

/* A reference list that must hold at least one entry of hexlen hex digits. */
static int
validate_ref_list(const json_t *a, size_t hexlen, struct path *p, char *why, size_t whylen)
{
	int r;

	if ((r = validate_entries(a, hexlen, p, why, whylen)) != 0)
		return r;
	if (json_array_size(a) == 0) {
		policy_set_why(why, whylen, "%s: must hold at least one entry (an empty list denies "
		    "everything; leave it out instead)", p->s);
		return KW_ERR_INVALID_FORMAT;
	}
	return 0;
}

/* A TDX reference list (mrtd, rtmr.<i>): entries as measurements, at least one. */
static int
validate_tdx_list(const json_t *a, struct path *p, char *why, size_t whylen)
{
	return validate_ref_list(a, 96, p, why, whylen);
}

static int
pcr_list_sha1(const json_t *a, struct path *p, char *why, size_t whylen)
{
	return validate_ref_list(a, 40, p, why, whylen);
}

static int
pcr_list_sha256(const json_t *a, struct path *p, char *why, size_t whylen)
{
	return validate_ref_list(a, 64, p, why, whylen);
}

static int
pcr_list_sha384(const json_t *a, struct path *p, char *why, size_t whylen)
{
	return validate_ref_list(a, 96, p, why, whylen);
}

/*
 * reference_values.pcrs: {"sha1"|"sha256"|"sha384": {"0".."23": [entries]}},
 * at least one bank and one PCR each; values of the bank's digest size.
 */
static int
validate_pcrs(const json_t *o, struct path *p, char *why, size_t whylen)
{
	static const member_fn lists[] = {pcr_list_sha1, pcr_list_sha256, pcr_list_sha384};
	int r;

	if ((r = check_members(o, policy_pcr_banks, p, why, whylen)) != 0)
		return r;
	if (json_object_size(o) == 0) {
		policy_set_why(why, whylen, "%s: must name at least one bank (sha1, sha256, sha384)", p->s);
		return KW_ERR_INVALID_FORMAT;
	}
	for (size_t b = 0; policy_pcr_banks[b] != NULL; b++) {
		const json_t *bank = json_object_get(o, policy_pcr_banks[b]);
		size_t old;

		if (bank == NULL)
			continue;
		old = policy_path_push(p, ".%s", policy_pcr_banks[b]);
		if ((r = validate_each_member(bank, policy_pcr_indexes, "PCR (\"0\" to \"23\")", lists[b], p, why,
		    whylen)) != 0)
			return r;
		policy_path_pop(p, old);
	}
	return 0;
}

/* reference_values.eventlog: {"kernel_sha256"|"boot_loader_sha256": [entries of 64 hex]}. */
static int
validate_eventlog(const json_t *o, struct path *p, char *why, size_t whylen)
{
	return validate_each_member(o, policy_eventlog_lists, "event-log claim (kernel_sha256, boot_loader_sha256)",
	    pcr_list_sha256, p, why, whylen);
}

/* An Arm CCA reference list (rim, rem.<i>): SHA-256, SHA-384 or SHA-512 digests, at least one. */
static int
validate_cca_list(const json_t *a, struct path *p, char *why, size_t whylen)
{
	return validate_ref_list(a, ENTRY_HEX_CCA, p, why, whylen);
}

/* reference_values.rem: {"0".."3": [entries]}, at least one register. */
static int
validate_rem(const json_t *o, struct path *p, char *why, size_t whylen)
{
	return validate_each_member(o, policy_rtmr_indexes, "realm extensible measurement (\"0\" to \"3\")",
	    validate_cca_list, p, why, whylen);
}

/* reference_values.rtmr: {"0".."3": [entries]}, at least one register. */
static int
validate_rtmr(const json_t *o, struct path *p, char *why, size_t whylen)
{
	return validate_each_member(o, policy_rtmr_indexes, "register (\"0\" to \"3\")", validate_tdx_list, p,
	    why, whylen);
}

static int
version_list(const json_t *a, struct path *p, char *why, size_t whylen)
{
	return validate_ref_list(a, ENTRY_VERSION, p, why, whylen);
}

/*
 * reference_values.gpu: {"driver_version"?, "vbios_version"?: [version
 * entries, at least one], "sets"?: [names of sets with gpu_measurements]},
 * at least one member.
 */
static int
validate_gpu(const json_t *o, struct path *p, char *why, size_t whylen)
{
	static const char *const members[] = {"driver_version", "vbios_version", "sets", NULL};
	size_t old;
	int r;

	if ((r = check_members(o, members, p, why, whylen)) != 0)
		return r;
	if (json_object_size(o) == 0) {
		policy_set_why(why, whylen, "%s: must state driver_version, vbios_version or sets", p->s);
		return KW_ERR_INVALID_FORMAT;
	}
	for (size_t i = 0; i < 2; i++) {
		const json_t *l = json_object_get(o, members[i]);

		if (l == NULL)
			continue;
		old = policy_path_push(p, ".%s", members[i]);
		if ((r = version_list(l, p, why, whylen)) != 0)
			return r;
		policy_path_pop(p, old);
	}
	if (json_object_get(o, "sets") != NULL) {
		old = policy_path_push(p, ".sets");
		if ((r = check_string_list(json_object_get(o, "sets"), KW_POLICY_MAX_SETS, ok_set_name, 0, p,
		    why, whylen)) != 0)
			return r;
		policy_path_pop(p, old);
	}
	return 0;
}

/*
 * A set's gpu_measurements: [{"index": 1..255, "value": 96 hex, window,
 * name}], at most KW_POLICY_MAX_MEASUREMENTS, no (index, value) twice (the
 * same value at several indexes is common: unused blocks).
 */
static int
validate_gpu_measurements(const json_t *a, struct path *p, char *why, size_t whylen)
{
	static const char *const entry[] = {"index", "value", "not-before", "not-after", "name", NULL};
	size_t n = json_array_size(a);
	int r;

	if (!entry_array(a, p, why, whylen))
		return KW_ERR_INVALID_FORMAT;
	for (size_t i = 0; i < n; i++) {
		const json_t *e = json_array_get(a, i), *ix = json_object_get(e, "index");
		const char *v = json_string_value(json_object_get(e, "value"));
		size_t old = policy_path_push(p, "[%zu]", i);

		if ((r = check_members(e, entry, p, why, whylen)) != 0)
			return r;
		if (!json_is_integer(ix) || json_integer_value(ix) < 1 || json_integer_value(ix) > 255) {
			policy_set_why(why, whylen, "%s.index: required, an integer 1..255", p->s);
			return KW_ERR_INVALID_FORMAT;
		}
		if (!policy_is_hex_lower(v, 96)) {
			policy_set_why(why, whylen, "%s.value: required, 96 lower-case hex digits", p->s);
			return KW_ERR_INVALID_FORMAT;
		}
		for (size_t j = 0; j < i; j++) {
			const json_t *f = json_array_get(a, j);

			if (json_integer_value(json_object_get(f, "index")) == json_integer_value(ix) &&
			    strcmp(json_string_value(json_object_get(f, "value")), v) == 0) {
				policy_set_why(why, whylen, "%s: duplicate index and value", p->s);
				return KW_ERR_INVALID_FORMAT;
			}
		}
		if ((r = validate_window_name(e, p, why, whylen)) != 0)
			return r;
		policy_path_pop(p, old);
	}
	return 0;
}

static int
validate_refvals(const json_t *rv, struct path *p, char *why, size_t whylen)
{
	static const char *const members[] = {"measurements", "sets", "tcb_floors", "mrtd", "rtmr", "pcrs",
		"eventlog", "rim", "rem", "gpu", NULL};
	const json_t *rim = json_object_get(rv, "rim"), *rem = json_object_get(rv, "rem");
	const json_t *m = json_object_get(rv, "measurements"), *s = json_object_get(rv, "sets");
	const json_t *mrtd = json_object_get(rv, "mrtd"), *rtmr = json_object_get(rv, "rtmr");
	const json_t *pcrs = json_object_get(rv, "pcrs"), *el = json_object_get(rv, "eventlog");
	size_t old;
	int r;

	if ((r = check_members(rv, members, p, why, whylen)) != 0)
		return r;
	if (m != NULL) {
		old = policy_path_push(p, ".measurements");
		if ((r = validate_measurements(m, p, why, whylen)) != 0)
			return r;
		policy_path_pop(p, old);
	}
	if (s != NULL) {
		old = policy_path_push(p, ".sets");
		if ((r = check_string_list(s, KW_POLICY_MAX_SETS, ok_set_name, 0, p, why,
		    whylen)) != 0)
			return r;
		policy_path_pop(p, old);
	}
	if (mrtd != NULL) {
		old = policy_path_push(p, ".mrtd");
		if ((r = validate_tdx_list(mrtd, p, why, whylen)) != 0)
			return r;
		policy_path_pop(p, old);
	}
	if (rtmr != NULL) {
		old = policy_path_push(p, ".rtmr");
		if ((r = validate_rtmr(rtmr, p, why, whylen)) != 0)
			return r;
		policy_path_pop(p, old);
	}
	if (pcrs != NULL) {
		old = policy_path_push(p, ".pcrs");
		if ((r = validate_pcrs(pcrs, p, why, whylen)) != 0)
			return r;
		policy_path_pop(p, old);
	}
	if (el != NULL) {
		old = policy_path_push(p, ".eventlog");
		if ((r = validate_eventlog(el, p, why, whylen)) != 0)
			return r;
		policy_path_pop(p, old);
	}
	if (rim != NULL) {
		old = policy_path_push(p, ".rim");
		if ((r = validate_cca_list(rim, p, why, whylen)) != 0)
			return r;
		policy_path_pop(p, old);
	}
	if (rem != NULL) {
		old = policy_path_push(p, ".rem");
		if ((r = validate_rem(rem, p, why, whylen)) != 0)
			return r;
		policy_path_pop(p, old);
	}
	if (json_object_get(rv, "gpu") != NULL) {
		old = policy_path_push(p, ".gpu");
		if ((r = validate_gpu(json_object_get(rv, "gpu"), p, why, whylen)) != 0)
			return r;
		policy_path_pop(p, old);
	}
	if (json_array_size(m) == 0 && json_array_size(s) == 0 && mrtd == NULL && rtmr == NULL && pcrs == NULL &&
	    el == NULL && rim == NULL && rem == NULL && json_object_get(rv, "gpu") == NULL) {
		policy_set_why(why, whylen, "%s: needs at least one measurement, set, mrtd, rtmr, pcrs, "
		    "eventlog, rim, rem or gpu entry", p->s);
		return KW_ERR_INVALID_FORMAT;
	}
	if (json_object_get(rv, "tcb_floors") != NULL) {
		old = policy_path_push(p, ".tcb_floors");
		if ((r = validate_floors(json_object_get(rv, "tcb_floors"), p, why, whylen)) != 0)
			return r;
		policy_path_pop(p, old);
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
		policy_set_why(why, whylen, "%s: must state at least one requirement", p->s);
		return KW_ERR_INVALID_FORMAT;
	}
	if ((v = json_object_get(c, "root_store")) != NULL) {
		const json_t *d, *f, *e;

		old = policy_path_push(p, ".root_store");
		if ((r = check_members(v, rs_members, p, why, whylen)) != 0)
			return r;
		d = json_object_get(v, "digests");
		f = json_object_get(v, "fingerprints");
		e = json_object_get(v, "exact");
		if ((d == NULL) == (f == NULL)) {
			policy_set_why(why, whylen, "%s: exactly one of digests and fingerprints", p->s);
			return KW_ERR_INVALID_FORMAT;
		}
		if (e != NULL && (d != NULL || !json_is_boolean(e))) {
			policy_set_why(why, whylen, "%s.exact: a boolean, only with fingerprints", p->s);
			return KW_ERR_INVALID_FORMAT;
		}
		policy_path_push(p, d != NULL ? ".digests" : ".fingerprints");
		if (d != NULL && (r = check_string_list(d, KW_POLICY_MAX_LIST, ok_hex, 96, p, why,
		    whylen)) != 0)
			return r;
		if (f != NULL && (r = check_string_list(f, KW_POLICY_MAX_FINGERPRINTS, ok_hex, 64,
		    p, why, whylen)) != 0)
			return r;
		policy_path_pop(p, old);
	}
	if ((v = json_object_get(c, "tls")) != NULL) {
		const char *mv;

		old = policy_path_push(p, ".tls");
		if ((r = check_members(v, tls_members, p, why, whylen)) != 0)
			return r;
		if (json_object_size(v) == 0) {
			policy_set_why(why, whylen, "%s: must state at least one requirement", p->s);
			return KW_ERR_INVALID_FORMAT;
		}
		if (json_object_get(v, "min_version") != NULL) {
			mv = json_string_value(json_object_get(v, "min_version"));
			if (mv == NULL || (strcmp(mv, "1.2") != 0 && strcmp(mv, "1.3") != 0)) {
				policy_set_why(why, whylen, "%s.min_version: \"1.2\" or \"1.3\"", p->s);
				return KW_ERR_INVALID_FORMAT;
			}
		}
		for (size_t i = 0; policy_tls_lists[i] != NULL; i++) {
			const json_t *l = json_object_get(v, policy_tls_lists[i]);

			if (l == NULL)
				continue;
			old2 = policy_path_push(p, ".%s", policy_tls_lists[i]);
			if ((r = check_string_list(l, KW_POLICY_MAX_LIST, ok_tls_name, 0, p, why,
			    whylen)) != 0)
				return r;
			policy_path_pop(p, old2);
		}
		policy_path_pop(p, old);
	}
	if ((v = json_object_get(c, "crypto")) != NULL) {
		json_t *m;

		old = policy_path_push(p, ".crypto");
		if ((r = check_members(v, crypto_members, p, why, whylen)) != 0)
			return r;
		if (json_object_size(v) == 0) {
			policy_set_why(why, whylen, "%s: must state at least one floor", p->s);
			return KW_ERR_INVALID_FORMAT;
		}
		json_object_foreach(UNCONST(v), k, m) {
			old2 = policy_path_push(p, ".%s", k);
			if ((r = check_int(m, 1, MAX_KEY_BITS, p, why, whylen)) != 0)
				return r;
			policy_path_pop(p, old2);
		}
		policy_path_pop(p, old);
	}
	return 0;
}

/* ---- validation: documents ---- */

int
kw_policy_validate(const json_t *doc, char *why, size_t whylen)
{
	static const char *const members[] = {"version", "allow_debug", "allow_test_roots",
		"allow_revoked_tcb", "rules", "reference_values", "config", NULL};
	struct path p = { "", 0 };
	struct vrules vr = { 0, why, whylen };
	const json_t *v;
	size_t old;
	int r;

	policy_set_why(why, whylen, "valid");
	if (!json_is_object(doc)) {
		policy_set_why(why, whylen, "policy: must be an object");
		return KW_ERR_INVALID_FORMAT;
	}
	if (compact_size(doc) > KW_POLICY_MAX_BYTES) {
		policy_set_why(why, whylen, "policy: larger than %d bytes", KW_POLICY_MAX_BYTES);
		return KW_ERR_INVALID_FORMAT;
	}
	policy_path_push(&p, "policy");
	if ((r = check_members(doc, members, &p, why, whylen)) != 0)
		return r;
	policy_path_pop(&p, 0);
	v = json_object_get(doc, "version");
	if (!json_is_integer(v) || json_integer_value(v) != 1) {
		policy_set_why(why, whylen, "version: required, must be 1");
		return KW_ERR_INVALID_FORMAT;
	}
	if ((v = json_object_get(doc, "allow_debug")) != NULL && !json_is_boolean(v)) {
		policy_set_why(why, whylen, "allow_debug: must be a boolean");
		return KW_ERR_INVALID_FORMAT;
	}
	if ((v = json_object_get(doc, "allow_test_roots")) != NULL && !json_is_boolean(v)) {
		policy_set_why(why, whylen, "allow_test_roots: must be a boolean");
		return KW_ERR_INVALID_FORMAT;
	}
	if ((v = json_object_get(doc, "allow_revoked_tcb")) != NULL && !json_is_boolean(v)) {
		policy_set_why(why, whylen, "allow_revoked_tcb: must be a boolean");
		return KW_ERR_INVALID_FORMAT;
	}
	if ((v = json_object_get(doc, "rules")) != NULL) {
		old = policy_path_push(&p, "rules");
		if ((r = validate_rule(v, 1, &p, &vr)) != 0)
			return r;
		policy_path_pop(&p, old);
	}
	if ((v = json_object_get(doc, "reference_values")) != NULL) {
		old = policy_path_push(&p, "reference_values");
		if ((r = validate_refvals(v, &p, why, whylen)) != 0)
			return r;
		policy_path_pop(&p, old);
	}
	if ((v = json_object_get(doc, "config")) != NULL) {
		old = policy_path_push(&p, "config");
		if ((r = validate_config(v, &p, why, whylen)) != 0)
			return r;
		policy_path_pop(&p, old);
	}
	policy_set_why(why, whylen, "valid");
	return 0;
}

int
kw_refval_validate(const json_t *doc, char *why, size_t whylen)
{
	static const char *const members[] = {"measurements", "tcb_floors", "gpu_measurements", NULL};
	struct path p = { "", 0 };
	size_t old;
	int r;

	policy_set_why(why, whylen, "valid");
	if (!json_is_object(doc)) {
		policy_set_why(why, whylen, "refval: must be an object");
		return KW_ERR_INVALID_FORMAT;
	}
	if (compact_size(doc) > KW_REFVAL_MAX_BYTES) {
		policy_set_why(why, whylen, "refval: larger than %d bytes", KW_REFVAL_MAX_BYTES);
		return KW_ERR_INVALID_FORMAT;
	}
	policy_path_push(&p, "refval");
	if ((r = check_members(doc, members, &p, why, whylen)) != 0)
		return r;
	policy_path_pop(&p, 0);
	if (json_object_get(doc, "measurements") == NULL) {
		policy_set_why(why, whylen, "measurements: required");
		return KW_ERR_INVALID_FORMAT;
	}
	old = policy_path_push(&p, "measurements");
	if ((r = validate_measurements(json_object_get(doc, "measurements"), &p, why, whylen)) != 0)
		return r;
	policy_path_pop(&p, old);
	if (json_object_get(doc, "tcb_floors") != NULL) {
		old = policy_path_push(&p, "tcb_floors");
		if ((r = validate_floors(json_object_get(doc, "tcb_floors"), &p, why, whylen)) != 0)
			return r;
		policy_path_pop(&p, old);
	}
	if (json_object_get(doc, "gpu_measurements") != NULL) {
		old = policy_path_push(&p, "gpu_measurements");
		if ((r = validate_gpu_measurements(json_object_get(doc, "gpu_measurements"), &p, why,
		    whylen)) != 0)
			return r;
		policy_path_pop(&p, old);
	}
	policy_set_why(why, whylen, "valid");
	return 0;
}

