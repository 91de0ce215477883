/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_PROBLEM_H
#define KW_PROBLEM_H

#include <jansson.h>

/*
 * Every RFC 7807 problem the broker answers, on both listeners. Each has one
 * row in problem.c: HTTP status, type slug (urn:keywarden:problem:<slug>),
 * title, the detail shown when the caller gives none, Retry-After, and the
 * listeners that answer it. Nothing else in broker/ names an HTTP error
 * status: answers go through kw_http_problem(req, KW_PROBLEM_X, detail) or
 * kw_http_problem_from_err (http.c), and scripts/checksrc.sh refuses literal
 * statuses elsewhere. docs/protocol.md and docs/admin.md list the rows
 * (tests/unit/docs/check_problems.py compares them).
 */
enum kw_problem {
	KW_PROBLEM_MALFORMED,           /* 400 malformed */
	KW_PROBLEM_UNSUPPORTED,         /* 400 unsupported */
	KW_PROBLEM_UNAUTHENTICATED,     /* 401 unauthenticated */
	KW_PROBLEM_ATTESTATION_FAILED,  /* 401 attestation-failed */
	KW_PROBLEM_DENIED,              /* 403 denied */
	KW_PROBLEM_FORBIDDEN,           /* 403 forbidden */
	KW_PROBLEM_NOT_FOUND,           /* 404 not-found */
	KW_PROBLEM_METHOD_NOT_ALLOWED,  /* 405 method-not-allowed */
	KW_PROBLEM_CONFLICT,            /* 409 conflict */
	KW_PROBLEM_TOO_LARGE,           /* 413 too-large */
	KW_PROBLEM_SHED,                /* 429 shed */
	KW_PROBLEM_INTERNAL,            /* 500 internal */
	KW_PROBLEM_UNAVAILABLE,         /* 503 unavailable */
	KW_PROBLEM_HSM_UNAVAILABLE,     /* 503 hsm_unavailable */
	KW_PROBLEM_COLLATERAL_UNAVAILABLE,  /* 503 collateral_unavailable */
	KW_PROBLEM__COUNT
};

/* Which listener answers a problem (the documents that list it). */
#define KW_PLANE_WORKLOAD 1u    /* docs/protocol.md */
#define KW_PLANE_ADMIN 2u       /* docs/admin.md */

#define KW_PROBLEM_TYPE_PREFIX "urn:keywarden:problem:"

struct kw_problem_info {
	int status;
	const char *slug;
	const char *title;          /* also the reason phrase of the status line */
	const char *detail;         /* when the caller gives none; NULL: the title */
	const char *retry_after;    /* Retry-After header value; NULL: none */
	unsigned int planes;        /* KW_PLANE_* */
};

/* The row of p; NULL when p is not a problem (out of range). */
const struct kw_problem_info *kw_problem_info(enum kw_problem p);

/*
 * The problem for a kw_err code (the only such mapping): 400 for malformed
 * input, 401 for evidence, signatures and single-use values, 403 for a
 * policy's no, 429 for KW_ERR_BUSY, 503 for KW_ERR_UNAVAILABLE,
 * KW_ERR_TIMEOUT and KW_ERR_HSM, 500 for everything else (including 0 and
 * unknown codes).
 */
enum kw_problem kw_problem_of_err(int r);

/*
 * The detail kw_http_problem_from_err shows for p found for an error with
 * context: the context for a 4xx, NULL (the row's generic detail) for a 5xx,
 * whose context may speak of the broker's insides.
 */
const char *kw_problem_err_detail(enum kw_problem p, const char *context);

/*
 * The problem document {"type","title","status","detail"} for p (new
 * reference; NULL when out of memory or p is out of range). detail NULL:
 * the row's default. detail is shown to the client: never put secrets or
 * echoed input in it.
 */
json_t *kw_problem_json(enum kw_problem p, const char *detail);

#endif
