/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Release policy, part 2 of 3: evaluation and explanation (docs/policy.md,
 * Evaluation and Explain). Pure: the caller supplies claims, the time and a
 * set resolver. Evaluation never short-circuits: every check is run and
 * listed; the first failing one decides.
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
	s = kw_json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_ENSURE_ASCII);
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
 * GPUs (composite evidence): each GPU's chain must end at NVIDIA's root too,
 * unless allow_test_roots. Recorded only when the claims hold GPUs.
 */
static void
eval_gpu_roots(struct ev *ev, bool allow)
{
	const json_t *g;
	size_t i;

	json_array_foreach(json_object_get(ev->claims, "gpus"), i, g) {
		const char *root = json_string_value(json_object_get(g, "root"));
		char path[PATH_LEN];

		snprintf(path, sizeof(path), "allow_test_roots (gpus[%zu])", i);
		if (root != NULL && strcmp(root, "test") != 0)
			check(ev, "root", path, true, "GPU %zu chains to a vendor root", i);
		else if (allow)
			check(ev, "root", path, true, "GPU %zu: test roots allowed by allow_test_roots", i);
		else
			check(ev, "root", path, false, "GPU %zu chains to a test (emulation) root and "
			    "allow_test_roots is not true", i);
	}
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
	eval_gpu_roots(ev, allow);
}

/*
 * A TCB Intel revoked (claim tcb_status "Revoked", TDX) is authentic evidence
 * from a platform whose keys must not be trusted: denied whatever the rules
 * say, unless the policy sets allow_revoked_tcb (for forensics, never for
 * production keys). Recorded only when the claim says Revoked.
 */
static void
eval_revoked(struct ev *ev, const json_t *policy)
{
	const json_t *st = json_object_get(ev->claims, "tcb_status");

	if (!json_is_string(st) || strcmp(json_string_value(st), "Revoked") != 0)
		return;
	if (json_is_true(json_object_get(policy, "allow_revoked_tcb")))
		check(ev, "tcb_status", "allow_revoked_tcb", true,
		    "TCB status Revoked allowed by allow_revoked_tcb");
	else
		check(ev, "tcb_status", "allow_revoked_tcb", false,
		    "TCB status Revoked and allow_revoked_tcb is not true");
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
	const json_t *want = json_object_get(rule, "value"), *v = policy_claim_get(ev->claims, claim);
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
	} else if (strcmp(op, "containsNone") == 0) {
		/* the claim is an array holding none of the listed values (advisory IDs) */
		res = json_is_array(v);
		for (size_t i = 0; i < json_array_size(v) && res; i++)
			for (size_t k = 0; k < json_array_size(want) && res; k++)
				res = !json_equal(json_array_get(v, i), json_array_get(want, k));
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
		size_t old = policy_path_push(p, ".%s[%zu]", name, i);
		struct rwhy cw;
		bool c = eval_rule(ev, json_array_get(a, i), p, &cw);

		policy_path_pop(p, old);
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


void
policy_sets_free(struct sets *s)
{
	for (size_t i = 0; i < s->n; i++)
		json_decref(s->doc[i]);
	s->n = 0;
}

/*
 * Resolve every named set. Missing sets stay NULL (and count in *missing);
 * an invalid set or a resolver error is returned (could not evaluate).
 */
int
policy_sets_resolve(const json_t *rv, const struct kw_policy_ctx *ctx, bool need_resolver,
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
int
policy_window(const json_t *e, int64_t now, char *why, size_t whylen)
{
	int64_t nb = 0, na = 0;
	bool has_nb, has_na;

	/* validated documents: the times parse */
	if (policy_entry_time(e, "not-before", &nb, &has_nb) != 0 ||
	    policy_entry_time(e, "not-after", &na, &has_na) != 0)
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

/* The entry's validity window into matched as "not_before"/"not_after" (seconds). */
static int
matched_window(json_t *matched, const json_t *e)
{
	int64_t nb = 0, na = 0;
	bool has_nb = false, has_na = false;

	if (policy_entry_time(e, "not-before", &nb, &has_nb) != 0 ||
	    policy_entry_time(e, "not-after", &na, &has_na) != 0)
		return 0;   /* validated documents: the times parse */
	if ((has_nb && json_object_set_new(matched, "not_before", json_integer((json_int_t)nb)) != 0) ||
	    (has_na && json_object_set_new(matched, "not_after", json_integer((json_int_t)na)) != 0))
		return KW_ERR_NOMEM;
	return 0;
}

/*
 * Look for the claim's value in one list of reference entries; 1 matched in
 * window, 0 not. claim names the claim in details ("measurement", "mrtd",
 * "rtmr0", ...); the first match of an evaluation is recorded for "matched"
 * (with "claim" unless it is the measurement).
 */
static int
match_list(struct ev *ev, const json_t *list, const char *where, const char *set, const char *claim,
    const char *value, bool *seen, struct decision *outside)
{
	for (size_t i = 0; i < json_array_size(list); i++) {
		const json_t *e = json_array_get(list, i);
		char why[128];

		if (strcmp(json_string_value(json_object_get(e, "value")), value) != 0)
			continue;
		if (policy_window(e, ev->ctx->now, why, sizeof(why)) == 0) {
			const json_t *name = json_object_get(e, "name");

			if (ev->matched == NULL) {
				ev->matched = json_pack("{s:s, s:s*, s:I, s:O*}", "source",
				    set != NULL ? "set" : "policy", "set", set, "index", (json_int_t)i,
				    "name", name);
				if (ev->matched == NULL ||
				    (strcmp(claim, "measurement") != 0 &&
				    json_object_set_new(ev->matched, "claim", json_string(claim)) != 0) ||
				    matched_window(ev->matched, e) != 0)
					ev->err = KW_ERR_NOMEM;
			}
			check(ev, strcmp(claim, "measurement") == 0 ? "measurement" :
			    strncmp(claim, "rtmr", 4) == 0 ? "rtmr" : strncmp(claim, "rem", 3) == 0 ? "rem" :
			    strncmp(claim, "pcrs.", 5) == 0 ? "pcr" :
			    strncmp(claim, "eventlog.", 9) == 0 ? "eventlog" : claim, where, true,
			    "%s matched %s[%zu]", claim, where, i);
			return 1;
		}
		if (!*seen) {
			*seen = true;
			snprintf(outside->path, sizeof(outside->path), "%s[%zu]", where, i);
			snprintf(outside->detail, sizeof(outside->detail), "%s %s", claim, why);
		}
	}
	return 0;
}

/*
 * A reference list (TDX: reference_values.mrtd, .rtmr.<i>; TPM:
 * .pcrs.<bank>.<n>, .eventlog.kernel_sha256): the claim at the dotted path
 * claim must be the value of an entry whose window holds now. Category:
 * category ("mrtd", "rtmr", "pcr", "eventlog"), or "window".
 */
static void
eval_ref_list(struct ev *ev, const json_t *list, const char *where, const char *claim, const char *category)
{
	const char *v = json_string_value(policy_claim_get(ev->claims, claim));
	struct decision outside;
	bool seen = false;

	if (v == NULL)
		check(ev, category, where, false, "claim %s missing", claim);
	else if (match_list(ev, list, where, NULL, claim, v, &seen, &outside) == 1)
		return;
	else if (seen)
		check(ev, "window", outside.path, false, "%s", outside.detail);
	else
		check(ev, category, where, false, "%s is not a reference value", claim);
}

static void
eval_tdx_list(struct ev *ev, const json_t *list, const char *where, const char *claim)
{
	eval_ref_list(ev, list, where, claim, strncmp(claim, "rtmr", 4) == 0 ? "rtmr" : claim);
}

/*
 * An array claim whose every element must be the value of an entry in
 * window (reference_values.eventlog.boot_loader_sha256): a missing, empty
 * or non-array claim fails (category "eventlog"), an element outside every
 * window fails with "window".
 */
static void
eval_ref_array(struct ev *ev, const json_t *list, const char *where, const char *claim)
{
	const json_t *a = policy_claim_get(ev->claims, claim);
	bool all = true;

	if (!json_is_array(a) || json_array_size(a) == 0) {
		check(ev, "eventlog", where, false, "claim %s missing or empty", claim);
		return;
	}
	for (size_t i = 0; i < json_array_size(a) && all; i++) {
		const char *v = json_string_value(json_array_get(a, i));
		struct decision outside;
		bool seen = false;

		if (v != NULL && match_list(ev, list, where, NULL, claim, v, &seen, &outside) == 1)
			continue;
		all = false;
		if (seen)
			check(ev, "window", outside.path, false, "%s[%zu] %s", claim, i, outside.detail);
		else
			check(ev, "eventlog", where, false, "%s[%zu] is not a reference value", claim, i);
	}
}

/* reference_values.pcrs and .eventlog (TPM evidence types). */
static void
eval_tpm_lists(struct ev *ev, const json_t *rv)
{
	const json_t *pcrs = json_object_get(rv, "pcrs"), *el = json_object_get(rv, "eventlog"), *l;
	char where[PATH_LEN], claim[64];

	for (size_t b = 0; pcrs != NULL && policy_pcr_banks[b] != NULL; b++) {
		const json_t *bank = json_object_get(pcrs, policy_pcr_banks[b]);

		for (size_t i = 0; bank != NULL && policy_pcr_indexes[i] != NULL; i++) {
			if ((l = json_object_get(bank, policy_pcr_indexes[i])) == NULL)
				continue;
			snprintf(where, sizeof(where), "reference_values.pcrs.%s.%s", policy_pcr_banks[b],
			    policy_pcr_indexes[i]);
			snprintf(claim, sizeof(claim), "pcrs.%s.%s", policy_pcr_banks[b], policy_pcr_indexes[i]);
			eval_ref_list(ev, l, where, claim, "pcr");
		}
	}
	if ((l = json_object_get(el, "kernel_sha256")) != NULL)
		eval_ref_list(ev, l, "reference_values.eventlog.kernel_sha256", "eventlog.kernel_sha256",
		    "eventlog");
	if ((l = json_object_get(el, "boot_loader_sha256")) != NULL)
		eval_ref_array(ev, l, "reference_values.eventlog.boot_loader_sha256", "eventlog.boot_loader_sha256");
}

/* reference_values.rim and .rem.<i> (Arm CCA): claims rim, rem0..rem3; categories "rim", "rem". */
static void
eval_cca_lists(struct ev *ev, const json_t *rv)
{
	if (json_object_get(rv, "rim") != NULL)
		eval_ref_list(ev, json_object_get(rv, "rim"), "reference_values.rim", "rim", "rim");
	for (size_t i = 0; policy_rtmr_indexes[i] != NULL; i++) {
		const json_t *l = json_object_get(json_object_get(rv, "rem"), policy_rtmr_indexes[i]);
		char where[PATH_LEN], claim[8];

		if (l == NULL)
			continue;
		snprintf(where, sizeof(where), "reference_values.rem.%s", policy_rtmr_indexes[i]);
		snprintf(claim, sizeof(claim), "rem%s", policy_rtmr_indexes[i]);
		eval_ref_list(ev, l, where, claim, "rem");
	}
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

/*
 * One GPU's version claim (driver_version, vbios_version) against a list of
 * version entries: in window, or "window" when only outside, or "gpu".
 */
static void
eval_gpu_version(struct ev *ev, const json_t *list, size_t gi, const char *claim, const char *v)
{
	char where[PATH_LEN], why[128], first[PATH_LEN + 160] = "";

	snprintf(where, sizeof(where), "reference_values.gpu.%s", claim);
	if (v == NULL) {
		check(ev, "gpu", where, false, "gpus[%zu].%s missing", gi, claim);
		return;
	}
	for (size_t i = 0; i < json_array_size(list); i++) {
		const json_t *e = json_array_get(list, i);

		if (strcmp(json_string_value(json_object_get(e, "value")), v) != 0)
			continue;
		if (policy_window(e, ev->ctx->now, why, sizeof(why)) == 0) {
			check(ev, "gpu", where, true, "gpus[%zu].%s matched %s[%zu]", gi, claim, where, i);
			return;
		}
		if (first[0] == '\0')
			snprintf(first, sizeof(first), "%s[%zu]", where, i);
	}
	if (first[0] != '\0')
		check(ev, "window", first, false, "gpus[%zu].%s %s", gi, claim, why);
	else
		check(ev, "gpu", where, false, "gpus[%zu].%s is not a reference value", gi, claim);
}

/* A 48-byte measurement block that holds nothing: the claims leave such blocks out. */
static const char GPU_ZERO_BLOCK[] =
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000";

/* 1 when (index, value) is an entry of a resolved set's gpu_measurements in window; -1 only outside. */
static int
gpu_block_match(const struct sets *s, int64_t now, json_int_t index, const char *value)
{
	int outside = 0;

	for (size_t i = 0; i < s->n; i++) {
		const json_t *l = json_object_get(s->doc[i], "gpu_measurements"), *e;
		size_t j;

		json_array_foreach(l, j, e) {
			char why[128];

			if (json_integer_value(json_object_get(e, "index")) != index ||
			    strcmp(json_string_value(json_object_get(e, "value")), value) != 0)
				continue;
			if (policy_window(e, now, why, sizeof(why)) == 0)
				return 1;
			outside = 1;
		}
	}
	return outside ? -1 : 0;
}

/*
 * Every measurement block of one GPU (claim gpus[i].measurements, the
 * non-zero blocks) must be an entry (index and value) of a named set, in
 * window; and every index the sets register must be measured (a block that
 * went to zero, or is gone, fails).
 */
static void
eval_gpu_blocks(struct ev *ev, const struct sets *s, size_t gi, const json_t *m)
{
	const char *k;
	json_t *v;
	bool ok = true;

	if (!json_is_object(m)) {
		check(ev, "gpu", "reference_values.gpu.sets", false, "gpus[%zu].measurements missing", gi);
		return;
	}
	json_object_foreach(UNCONST(m), k, v) {
		json_int_t index = strtoll(k, NULL, 10);
		int r = json_is_string(v) ? gpu_block_match(s, ev->ctx->now, index, json_string_value(v)) : 0;

		if (r == 1)
			continue;
		ok = false;
		if (r == -1)
			check(ev, "window", "reference_values.gpu.sets", false,
			    "gpus[%zu] measurement block %s is outside its window", gi, k);
		else
			check(ev, "gpu", "reference_values.gpu.sets", false,
			    "gpus[%zu] measurement block %s is not a reference value", gi, k);
		break;   /* one failing block per GPU is enough to explain */
	}
	for (size_t i = 0; i < s->n && ok; i++) {
		const json_t *e;
		size_t j;

		json_array_foreach(json_object_get(s->doc[i], "gpu_measurements"), j, e) {
			json_int_t index = json_integer_value(json_object_get(e, "index"));
			char key[8];

			snprintf(key, sizeof(key), "%" JSON_INTEGER_FORMAT, index);
			/* An all-zero entry in window registers "nothing measured" (RIM alternatives). */
			if (json_object_get(m, key) == NULL &&
			    gpu_block_match(s, ev->ctx->now, index, GPU_ZERO_BLOCK) != 1) {
				check(ev, "gpu", "reference_values.gpu.sets", false,
				    "gpus[%zu] measurement block %s is registered but not measured", gi, key);
				ok = false;
				break;
			}
		}
	}
	if (ok)
		check(ev, "gpu", "reference_values.gpu.sets", true,
		    "every measurement block of gpus[%zu] is a reference value", gi);
}

/* reference_values.gpu: every GPU of the claims; none at all fails. */
static int
eval_gpu(struct ev *ev, const json_t *gpu)
{
	const json_t *gpus = json_object_get(ev->claims, "gpus"), *g;
	struct sets s;
	size_t i;
	int r;

	memset(&s, 0, sizeof(s));
	if (!json_is_array(gpus) || json_array_size(gpus) == 0) {
		check(ev, "gpu", "reference_values.gpu", false, "no GPU evidence (claim gpus missing)");
		return 0;
	}
	if (json_object_get(gpu, "sets") != NULL) {
		if ((r = policy_sets_resolve(gpu, ev->ctx, true, &s)) != 0)
			goto out;
		for (i = 0; i < s.n; i++) {
			char path[PATH_LEN];

			snprintf(path, sizeof(path), "reference_values.gpu.sets[%zu]", i);
			if (s.doc[i] == NULL) {
				check(ev, "set", path, false, "reference-value set '%s' does not exist", s.name[i]);
			} else if (kw_refval_validate(s.doc[i], NULL, 0) != 0) {
				r = KW_ERR_INVALID_FORMAT;   /* a stored set that is invalid: cannot evaluate */
				goto out;
			}
		}
	}
	json_array_foreach(gpus, i, g) {
		if (json_object_get(gpu, "driver_version") != NULL)
			eval_gpu_version(ev, json_object_get(gpu, "driver_version"), i, "driver_version",
			    json_string_value(json_object_get(g, "driver_version")));
		if (json_object_get(gpu, "vbios_version") != NULL)
			eval_gpu_version(ev, json_object_get(gpu, "vbios_version"), i, "vbios_version",
			    json_string_value(json_object_get(g, "vbios_version")));
		if (json_object_get(gpu, "sets") != NULL)
			eval_gpu_blocks(ev, &s, i, json_object_get(g, "measurements"));
	}
	r = 0;
out:
	policy_sets_free(&s);
	return r;
}

static int
eval_refvals(struct ev *ev, const json_t *rv)
{
	const char *meas = json_string_value(json_object_get(ev->claims, "measurement"));
	struct decision outside;
	struct sets s;
	bool seen = false, matched = false, missing = false;
	int r;

	if ((r = policy_sets_resolve(rv, ev->ctx, true, &s)) != 0)
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
	if (json_object_get(rv, "measurements") == NULL && json_object_get(rv, "sets") == NULL) {
		/* no measurement list: a TDX policy (mrtd, rtmr below), a TPM one (pcrs, eventlog) or a CCA one */
	} else if (meas == NULL) {
		check(ev, "measurement", "reference_values", false, "claim measurement missing");
	} else {
		matched = match_list(ev, json_object_get(rv, "measurements"),
		    "reference_values.measurements", NULL, "measurement", meas, &seen, &outside) == 1;
		for (size_t i = 0; i < s.n && !matched; i++) {
			char where[PATH_LEN];

			if (s.doc[i] == NULL)
				continue;
			snprintf(where, sizeof(where), "set:%s.measurements", s.name[i]);
			matched = match_list(ev, json_object_get(s.doc[i], "measurements"), where,
			    s.name[i], "measurement", meas, &seen, &outside) == 1;
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
	if (json_object_get(rv, "mrtd") != NULL)
		eval_tdx_list(ev, json_object_get(rv, "mrtd"), "reference_values.mrtd", "mrtd");
	for (size_t i = 0; policy_rtmr_indexes[i] != NULL; i++) {
		const json_t *l = json_object_get(json_object_get(rv, "rtmr"), policy_rtmr_indexes[i]);
		char where[PATH_LEN], claim[8];

		if (l == NULL)
			continue;
		snprintf(where, sizeof(where), "reference_values.rtmr.%s", policy_rtmr_indexes[i]);
		snprintf(claim, sizeof(claim), "rtmr%s", policy_rtmr_indexes[i]);
		eval_tdx_list(ev, l, where, claim);
	}
	eval_tpm_lists(ev, rv);
	eval_cca_lists(ev, rv);
	if (json_object_get(rv, "gpu") != NULL && (r = eval_gpu(ev, json_object_get(rv, "gpu"))) != 0)
		goto out;
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
	policy_sets_free(&s);
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

		if (!policy_is_hex_lower(s, 64) ||
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
	if (json_object_get(rs, "digest") != NULL && !policy_is_hex_lower(cd, 96)) {
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
	for (size_t k = 0; policy_tls_lists[k] != NULL; k++) {
		const json_t *allowed = json_object_get(req, policy_tls_lists[k]), *l;
		char path[64];
		size_t n;
		bool ok = true;

		if (allowed == NULL)
			continue;
		snprintf(path, sizeof(path), "config.tls.%s", policy_tls_lists[k]);
		l = json_object_get(t, policy_tls_lists[k]);
		n = json_array_size(l);
		if (!json_is_array(l) || n == 0 || n > MAX_CLAIM_LIST) {
			check(ev, "tls", path, false, "manifest tls.%s missing, empty or too long",
			    policy_tls_lists[k]);
			continue;
		}
		for (size_t i = 0; i < n && ok; i++) {
			const char *s = json_string_value(json_array_get(l, i));

			if (s == NULL || !policy_valid_tls_name(s) || !list_has(allowed, s)) {
				ok = false;
				check(ev, "tls", path, false, "manifest tls.%s[%zu] %s%s%s",
				    policy_tls_lists[k], i, s != NULL && policy_valid_tls_name(s) ? "'" : "",
				    s != NULL && policy_valid_tls_name(s) ? s : "(invalid)",
				    s != NULL && policy_valid_tls_name(s) ? "' not allowed" : "");
			}
		}
		if (ok)
			check(ev, "tls", path, true, "all %zu manifest tls.%s allowed", n,
			    policy_tls_lists[k]);
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
	/* an explanation that lost a check or a detail to a failed allocation is not returned */
	kw_json_oom_reset();
	if ((ev.checks = json_array()) == NULL)
		return KW_ERR_NOMEM;
	eval_debug(&ev, policy);
	eval_root(&ev, policy);
	eval_revoked(&ev, policy);
	if ((v = json_object_get(policy, "rules")) != NULL)
		eval_rules(&ev, v);
	if ((v = json_object_get(policy, "reference_values")) != NULL &&
	    (r = eval_refvals(&ev, v)) != 0)
		goto out;
	if ((v = json_object_get(policy, "config")) != NULL && (r = eval_config(&ev, v)) != 0)
		goto out;
	if ((r = ev.err) != 0)
		goto out;
	if (kw_json_oom()) {
		r = KW_ERR_NOMEM;
		goto out;
	}
	if (ret_explain != NULL) {
		r = KW_ERR_NOMEM;
		ex = json_pack("{s:s, s:s, s:s, s:s, s:O}", "decision", ev.failed ? "deny" : "allow",
		    "reason", ev.failed ? ev.d.reason : "allowed", "path", ev.failed ? ev.d.path : "",
		    "detail", ev.failed ? ev.d.detail : "every check passed", "checks", ev.checks);
		if (ex == NULL ||
		    (ev.matched != NULL && json_object_set(ex, "matched", ev.matched) != 0) ||
		    kw_json_oom())
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

