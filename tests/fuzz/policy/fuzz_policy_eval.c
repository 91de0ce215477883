/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz the release-policy module: the input is a policy and a claim set
 * separated by the first NUL byte (no NUL: fixed SNP-like claims). Parse
 * both, validate the policy (and the same document as a reference-value
 * set), evaluate it with explain at two times through a resolver that
 * answers with a valid set, the input itself, a store error or "not found",
 * lint it, and supersede in it when it is a valid set. Checks the contracts:
 * eval of an invalid policy is KW_ERR_INVALID_FORMAT, the explanation exists
 * exactly for allow/deny and agrees with the return code.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kw_json.h"
#include "policy.h"

#define T0 1800000000LL

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char default_claims[] =
    "{\"tee\":\"snp\",\"root\":\"amd\",\"debug\":false,\"vmpl\":0,\"guest_svn\":3,"
    "\"measurement\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    "aaaaaaaaaaaaaaaaaaaaaaaa\",\"policy\":{\"migrate_ma\":false},"
    "\"tcb\":{\"reported\":{\"bl\":7,\"tee\":0,\"snp\":14,\"ucode\":55}},"
    "\"config\":{\"tls\":{\"min_version\":\"1.3\",\"cipher_suites\":[\"TLS_AES_256_GCM_SHA384\"]},"
    "\"crypto\":{\"rsa_bits\":3072}}}";

static const char set_a[] =
    "{\"measurements\":[{\"value\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"not-before\":\"2027-01-01T00:00:00Z\","
    "\"not-after\":\"2027-02-01T00:00:00Z\"}],\"tcb_floors\":{\"snp\":14}}";

static int
resolver(void *arg, const char *name, json_t **ret)
{
	json_t *d = NULL;

	if (strcmp(name, "err") == 0)
		return KW_ERR_UNAVAILABLE;
	if (strcmp(name, "a") == 0) {
		if (kw_json_parse(set_a, sizeof(set_a) - 1, sizeof(set_a), &d) != 0)
			__builtin_trap();
		*ret = d;
		return 0;
	}
	if (strcmp(name, "self") == 0) {
		*ret = json_incref(arg);
		return 0;
	}
	return KW_ERR_NOT_FOUND;
}

static void
eval_once(const json_t *pol, const json_t *claims, int64_t now, int valid)
{
	struct kw_policy_ctx ctx = { now, resolver, (void *)(uintptr_t)pol };
	json_t *ex = NULL;
	const char *d;
	char *s;
	int r = kw_policy_eval(pol, claims, &ctx, &ex);

	if (!valid && r != KW_ERR_INVALID_FORMAT)
		__builtin_trap();
	if (r != 0 && r != KW_ERR_DENIED) {
		if (ex != NULL)
			__builtin_trap();
		return;
	}
	d = json_string_value(json_object_get(ex, "decision"));
	if (d == NULL || strcmp(d, r == 0 ? "allow" : "deny") != 0 ||
	    !json_is_array(json_object_get(ex, "checks")))
		__builtin_trap();
	if ((s = json_dumps(ex, JSON_COMPACT)) == NULL)
		__builtin_trap();
	free(s);
	json_decref(ex);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t plen = nul != NULL ? (size_t)(nul - data) : size;
	struct kw_policy_ctx ctx = { T0, resolver, NULL };
	json_t *pol = NULL, *claims = NULL, *w = NULL, *nd = NULL;
	char why[200];
	int valid;

	if (kw_json_parse(data, plen, 2 * KW_POLICY_MAX_BYTES, &pol) != 0)
		return 0;
	if (nul != NULL) {
		if (kw_json_parse(nul + 1, size - plen - 1, 1 << 20, &claims) != 0)
			goto out;
	} else if (kw_json_parse(default_claims, sizeof(default_claims) - 1, 1 << 20,
	    &claims) != 0) {
		__builtin_trap();
	}
	valid = kw_policy_validate(pol, why, sizeof(why)) == 0;
	if (strnlen(why, sizeof(why)) == sizeof(why))
		__builtin_trap();
	eval_once(pol, claims, T0, valid);
	eval_once(pol, claims, T0 + 40 * 86400, valid);
	ctx.arg = pol;
	if (kw_policy_lint(pol, &ctx, 90 * 86400, &w) == 0) {
		if (!valid || !json_is_array(w))
			__builtin_trap();
		json_decref(w);
	}
	if (kw_refval_validate(pol, why, sizeof(why)) == 0) {
		const char *old = json_string_value(json_object_get(json_array_get(
		    json_object_get(pol, "measurements"), 0), "value"));

		if (old != NULL && kw_refval_supersede(pol, old, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
		    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", T0, 86400, &nd) == 0) {
			if (kw_refval_validate(nd, NULL, 0) != 0)
				__builtin_trap();
			json_decref(nd);
		}
	}
out:
	json_decref(pol);
	json_decref(claims);
	return 0;
}
