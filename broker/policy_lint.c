/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Release policy, part 3 of 3: lint (warnings for admins), supersede of
 * reference values with a grace period, and durations.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "kw_json.h"
#include "kw_util.h"
#include "policy.h"
#include "policy_int.h"

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

		if (policy_entry_time(e, "not-before", &nb, &has_nb) != 0 ||
		    policy_entry_time(e, "not-after", &na, &has_na) != 0)
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
		for (size_t i = 0; policy_tcb_components[i] != NULL; i++)
			if (strcmp(k, policy_tcb_components[i]) == 0)
				seen[i] = true;
		if (json_integer_value(f) == 0 &&
		    (r = warn(w, "tcb-floor-zero: %s.%s is 0", where, k)) != 0)
			return r;
	}
	return 0;
}

/* Does the JSON string array a hold s? */
static bool
array_has_string(const json_t *a, const char *s)
{
	for (size_t i = 0; i < json_array_size(a); i++)
		if (json_is_string(json_array_get(a, i)) &&
		    strcmp(json_string_value(json_array_get(a, i)), s) == 0)
			return true;
	return false;
}

/*
 * What a policy can admit, judged from the rules that must hold (the
 * comparisons reachable from "rules" through allOf alone) and the reference
 * values: a required rule on "tee" narrows the TEEs; SNP measurements
 * (measurements, sets) cannot match TDX claims and mrtd/rtmr cannot match
 * SNP claims; a required rule on "tcb_status" (equals, in) bounds the TDX
 * TCB status. The TPM types with a TPM-only trust anchor (tpm-akcert, tpm)
 * have no measurement, mrtd or rtmr claims; PCR and event-log reference
 * values (or a required equals/in rule on a pcrs.* or eventlog.* claim) pin
 * what they booted, and admit neither SNP nor TDX evidence. The Azure vTPM
 * types (az-snp-vtpm, az-tdx-vtpm) carry their hardware's claims and PCRs:
 * each is linted with its hardware's family.
 */
struct admits {
	unsigned int snp, tdx;    /* the family members still admitted: bit 0 snp/tdx, bit 1 az-*-vtpm */
	bool tpm_akcert, tpm, tcb_status, tpm_pinned;
};

static void
admits_rule(const json_t *rule, struct admits *a)
{
	const json_t *all = json_object_get(rule, "allOf"), *v = json_object_get(rule, "value");
	const char *claim = json_string_value(json_object_get(rule, "claim"));
	const char *op = json_string_value(json_object_get(rule, "op"));

	if (all != NULL) {
		for (size_t i = 0; i < json_array_size(all); i++)
			admits_rule(json_array_get(all, i), a);
		return;
	}
	if (claim == NULL || op == NULL)
		return;    /* anyOf: no single alternative must hold */
	if (strcmp(claim, "tee") == 0) {
		/* each family: the TEE and the Azure vTPM type that carries its claims (bit 0, 1) */
		static const char *const fam[][2] = {{"snp", "az-snp-vtpm"}, {"tdx", "az-tdx-vtpm"}};
		unsigned int *mask[] = {&a->snp, &a->tdx};
		const char *tees[] = {"tpm-akcert", "tpm"};
		bool *flag[] = {&a->tpm_akcert, &a->tpm};

		for (size_t i = 0; i < KW_ARRAY_SIZE(fam); i++) {
			for (unsigned int k = 0; k < 2; k++) {
				bool eq = json_is_string(v) && strcmp(json_string_value(v), fam[i][k]) == 0;

				if ((strcmp(op, "equals") == 0 && !eq) ||
				    (strcmp(op, "in") == 0 && !array_has_string(v, fam[i][k])) ||
				    (strcmp(op, "notEquals") == 0 && eq))
					*mask[i] &= ~(1u << k);
			}
		}
		for (size_t i = 0; i < KW_ARRAY_SIZE(tees); i++) {
			if (strcmp(op, "equals") == 0)
				*flag[i] = *flag[i] && json_is_string(v) &&
				    strcmp(json_string_value(v), tees[i]) == 0;
			else if (strcmp(op, "in") == 0)
				*flag[i] = *flag[i] && array_has_string(v, tees[i]);
			else if (strcmp(op, "notEquals") == 0)
				*flag[i] = *flag[i] && !(json_is_string(v) &&
				    strcmp(json_string_value(v), tees[i]) == 0);
		}
	} else if (strcmp(claim, "tcb_status") == 0 &&
	    (strcmp(op, "equals") == 0 || strcmp(op, "in") == 0)) {
		a->tcb_status = true;
	} else if ((strncmp(claim, "pcrs.", 5) == 0 || strncmp(claim, "eventlog.", 9) == 0) &&
	    (strcmp(op, "equals") == 0 || strcmp(op, "in") == 0)) {
		a->tpm_pinned = true;
	}
}

static struct admits
policy_admits(const json_t *policy)
{
	const json_t *rv = json_object_get(policy, "reference_values");
	struct admits a = { 3, 3, true, true, false, false };

	if (json_object_get(policy, "rules") != NULL)
		admits_rule(json_object_get(policy, "rules"), &a);
	if (json_object_get(rv, "measurements") != NULL || json_object_get(rv, "sets") != NULL) {
		a.tdx = 0;
		a.tpm_akcert = a.tpm = false;
	}
	if (json_object_get(rv, "mrtd") != NULL || json_object_get(rv, "rtmr") != NULL) {
		a.snp = 0;
		a.tpm_akcert = a.tpm = false;
	}
	if (json_object_get(rv, "rim") != NULL || json_object_get(rv, "rem") != NULL) {
		a.snp = a.tdx = 0;   /* Arm CCA realm measurements only */
		a.tpm_akcert = a.tpm = false;
	}
	if (json_object_get(rv, "pcrs") != NULL || json_object_get(rv, "eventlog") != NULL) {
		a.snp &= ~1u;    /* the Azure vTPM types have PCRs as well as their hardware's claims */
		a.tdx &= ~1u;
		a.tpm_pinned = true;
	}
	return a;
}

/* Lint the entries of the TPM reference lists (pcrs.<bank>.<n>, eventlog.<claim>). */
static int
lint_tpm_lists(json_t *w, const json_t *rv, int64_t now, int64_t max_age)
{
	const json_t *pcrs = json_object_get(rv, "pcrs"), *el = json_object_get(rv, "eventlog"), *l;
	char where[64];
	int r;

	for (size_t b = 0; pcrs != NULL && policy_pcr_banks[b] != NULL; b++) {
		for (size_t i = 0; policy_pcr_indexes[i] != NULL; i++) {
			l = json_object_get(json_object_get(pcrs, policy_pcr_banks[b]), policy_pcr_indexes[i]);
			snprintf(where, sizeof(where), "reference_values.pcrs.%s.%s", policy_pcr_banks[b],
			    policy_pcr_indexes[i]);
			if (l != NULL && (r = lint_entries(w, l, where, now, max_age)) != 0)
				return r;
		}
	}
	for (size_t i = 0; el != NULL && policy_eventlog_lists[i] != NULL; i++) {
		l = json_object_get(el, policy_eventlog_lists[i]);
		snprintf(where, sizeof(where), "reference_values.eventlog.%s", policy_eventlog_lists[i]);
		if (l != NULL && (r = lint_entries(w, l, where, now, max_age)) != 0)
			return r;
	}
	return 0;
}

/* Lint the entries of the Arm CCA reference lists (rim, rem.<i>). */
static int
lint_cca_lists(json_t *w, const json_t *rv, int64_t now, int64_t max_age)
{
	int r;

	if (json_object_get(rv, "rim") != NULL &&
	    (r = lint_entries(w, json_object_get(rv, "rim"), "reference_values.rim", now, max_age)) != 0)
		return r;
	for (size_t i = 0; policy_rtmr_indexes[i] != NULL; i++) {
		const json_t *l = json_object_get(json_object_get(rv, "rem"), policy_rtmr_indexes[i]);
		char where[40];

		snprintf(where, sizeof(where), "reference_values.rem.%s", policy_rtmr_indexes[i]);
		if (l != NULL && (r = lint_entries(w, l, where, now, max_age)) != 0)
			return r;
	}
	return 0;
}

/* Lint the entries of the TDX reference lists (mrtd, rtmr.<i>). */
static int
lint_tdx_lists(json_t *w, const json_t *rv, int64_t now, int64_t max_age)
{
	int r;

	if (json_object_get(rv, "mrtd") != NULL &&
	    (r = lint_entries(w, json_object_get(rv, "mrtd"), "reference_values.mrtd", now,
	    max_age)) != 0)
		return r;
	for (size_t i = 0; policy_rtmr_indexes[i] != NULL; i++) {
		const json_t *l = json_object_get(json_object_get(rv, "rtmr"), policy_rtmr_indexes[i]);
		char where[40];

		snprintf(where, sizeof(where), "reference_values.rtmr.%s", policy_rtmr_indexes[i]);
		if (l != NULL && (r = lint_entries(w, l, where, now, max_age)) != 0)
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
	struct admits adm;
	bool seen[5] = { false };
	int r;

	if (policy == NULL || ctx == NULL || ret_warnings == NULL)
		return KW_ERR_INVALID_ARG;
	if ((r = kw_policy_validate(policy, NULL, 0)) != 0)
		return r;
	adm = policy_admits(policy);
	kw_json_oom_reset();
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
		if ((r = policy_sets_resolve(rv, ctx, false, &s)) != 0)
			goto out;
		if ((r = lint_entries(w, json_object_get(rv, "measurements"),
		    "reference_values.measurements", ctx->now, max_age_seconds)) != 0)
			goto out;
		if ((r = lint_tdx_lists(w, rv, ctx->now, max_age_seconds)) != 0 ||
		    (r = lint_tpm_lists(w, rv, ctx->now, max_age_seconds)) != 0 ||
		    (r = lint_cca_lists(w, rv, ctx->now, max_age_seconds)) != 0)
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
	/* SNP: fmc exists on some processors only: its floor is never required */
	for (size_t i = 0; adm.snp && i < 4; i++)
		if (!seen[i] && (r = warn(w, "tcb-floor-missing: no TCB floor for %s",
		    policy_tcb_components[i])) != 0)
			goto out;
	/* TDX: authentic evidence verifies whatever its TCB status; the policy must decide */
	if (adm.tdx && !adm.tcb_status &&
	    (r = warn(w, "tdx-tcb-status: TDX evidence is released whatever its TCB status "
	    "(OutOfDate, ConfigurationNeeded, ...): require {\"claim\": \"tcb_status\", \"op\": "
	    "\"in\", \"value\": [\"UpToDate\"]} in rules, or narrow tee")) != 0)
		goto out;
	/* TPM: a genuine TPM proves what it measured, not that it is what the policy wants */
	if ((adm.tpm_akcert || adm.tpm) && !adm.tpm_pinned &&
	    (r = warn(w, "tpm-no-pcrs: TPM evidence (%s) is released whatever the machine booted: "
	    "pin PCRs (reference_values.pcrs) or event-log values (reference_values.eventlog), or "
	    "narrow tee", adm.tpm_akcert && adm.tpm ? "tpm-akcert, tpm" : adm.tpm ? "tpm" : "tpm-akcert")) != 0)
		goto out;
	if (kw_json_oom()) {
		r = KW_ERR_NOMEM;    /* a warning may be missing or cut */
		goto out;
	}
	*ret_warnings = w;
	w = NULL;   /* transferred */
	r = 0;
out:
	policy_sets_free(&s);
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
	if (policy_entry_time(olde, "not-before", &nb, &has_nb) != 0 ||
	    policy_entry_time(olde, "not-after", &na, &has_na) != 0)
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
