/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The problem table (problem.h): the one place that pairs an HTTP error
 * status with a type slug and a title, and the one mapping from kw_err.
 * Pure: http.c sends what this builds.
 */
#include <stdio.h>

#include "kw_err.h"
#include "problem.h"

#define W KW_PLANE_WORKLOAD
#define A KW_PLANE_ADMIN

/* The slugs and statuses are the API: clients and tests match them. */
static const struct kw_problem_info problems[KW_PROBLEM__COUNT] = {
	[KW_PROBLEM_MALFORMED] = {400, "malformed", "Bad Request", NULL, NULL, W | A},
	[KW_PROBLEM_UNSUPPORTED] = {400, "unsupported", "Bad Request", NULL, NULL, W},
	[KW_PROBLEM_UNAUTHENTICATED] = {401, "unauthenticated", "Unauthorized", NULL, NULL, W | A},
	[KW_PROBLEM_ATTESTATION_FAILED] = {401, "attestation-failed", "Unauthorized", NULL, NULL, W},
	[KW_PROBLEM_DENIED] = {403, "denied", "Forbidden", NULL, NULL, W | A},
	[KW_PROBLEM_FORBIDDEN] = {403, "forbidden", "Forbidden", NULL, NULL, A},
	[KW_PROBLEM_NOT_FOUND] = {404, "not-found", "Not Found", NULL, NULL, W | A},
	[KW_PROBLEM_METHOD_NOT_ALLOWED] = {405, "method-not-allowed", "Method Not Allowed",
		"method not allowed on this endpoint", NULL, W | A},
	[KW_PROBLEM_CONFLICT] = {409, "conflict", "Conflict", NULL, NULL, A},
	[KW_PROBLEM_TOO_LARGE] = {413, "too-large", "Payload Too Large", NULL, NULL, W | A},
	[KW_PROBLEM_SHED] = {429, "shed", "Too Many Requests", "too many requests; retry later",
		"1", W | A},
	[KW_PROBLEM_INTERNAL] = {500, "internal", "Internal Server Error", "internal error", NULL,
		W | A},
	[KW_PROBLEM_UNAVAILABLE] = {503, "unavailable", "Service Unavailable",
		"the service is temporarily unavailable; retry later", "1", W | A},
	/* slugs with an underscore: clients have matched hsm_unavailable since the start */
	[KW_PROBLEM_HSM_UNAVAILABLE] = {503, "hsm_unavailable", "Service Unavailable",
		"the key store is temporarily unavailable; retry later", "1", W},
	/* no valid vendor collateral (TDX: Intel's TCB Info, QE identity, CRLs) for the
	 * platform: refreshing it takes minutes, not seconds */
	[KW_PROBLEM_COLLATERAL_UNAVAILABLE] = {503, "collateral_unavailable", "Service Unavailable",
		"the verification collateral for this platform is not available; retry later", "60", W},
};

#undef W
#undef A

const struct kw_problem_info *
kw_problem_info(enum kw_problem p)
{
	if ((unsigned int)p >= KW_PROBLEM__COUNT)
		return NULL;
	return &problems[p];
}

enum kw_problem
kw_problem_of_err(int r)
{
	switch (r) {
	case KW_ERR_INVALID_FORMAT:
	case KW_ERR_INVALID_ARG:
	case KW_ERR_TRUNCATED:
	case KW_ERR_TRAILING:
		return KW_PROBLEM_MALFORMED;
	case KW_ERR_UNSUPPORTED:
		return KW_PROBLEM_UNSUPPORTED;
	case KW_ERR_TOO_LARGE:
		return KW_PROBLEM_TOO_LARGE;
	case KW_ERR_SIG_INVALID:
	case KW_ERR_CERT_INVALID:
	case KW_ERR_CERT_EXPIRED:
	case KW_ERR_UNTRUSTED_ROOT:
	case KW_ERR_MISMATCH:
	case KW_ERR_EXPIRED:
	case KW_ERR_REPLAY:
		return KW_PROBLEM_ATTESTATION_FAILED;
	case KW_ERR_DENIED:
	case KW_ERR_DEBUG_GUEST:
		return KW_PROBLEM_DENIED;
	case KW_ERR_NOT_FOUND:
		return KW_PROBLEM_NOT_FOUND;
	case KW_ERR_EXISTS:
		return KW_PROBLEM_CONFLICT;
	case KW_ERR_BUSY:
		return KW_PROBLEM_SHED;
	case KW_ERR_UNAVAILABLE:
	case KW_ERR_TIMEOUT:
		return KW_PROBLEM_UNAVAILABLE;
	case KW_ERR_HSM:
		return KW_PROBLEM_HSM_UNAVAILABLE;
	default:
		return KW_PROBLEM_INTERNAL;
	}
}

const char *
kw_problem_err_detail(enum kw_problem p, const char *context)
{
	const struct kw_problem_info *pi = kw_problem_info(p);

	return pi != NULL && pi->status < 500 ? context : NULL;
}

json_t *
kw_problem_json(enum kw_problem p, const char *detail)
{
	const struct kw_problem_info *pi = kw_problem_info(p);
	char type[96];

	if (pi == NULL)
		return NULL;
	snprintf(type, sizeof(type), KW_PROBLEM_TYPE_PREFIX "%s", pi->slug);
	if (detail == NULL)
		detail = pi->detail != NULL ? pi->detail : pi->title;
	return json_pack("{s:s, s:s, s:i, s:s}", "type", type, "title", pi->title, "status",
	    pi->status, "detail", detail);
}
