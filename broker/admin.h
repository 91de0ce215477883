/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_ADMIN_H
#define KW_ADMIN_H

#include <stddef.h>
#include <stdio.h>

#include <event2/http.h>
#include <jansson.h>

#include "kw_err.h"
#include "problem.h"

struct kw_broker;

/*
 * The admin plane's routes (admin.c) and the pure parts of routing
 * (admin_route.c). Every endpoint is one row of kw_admin_routes: method,
 * path pattern, the roles it needs and where the repository they are
 * checked for comes from, the change-record action and the handler. The
 * dispatcher checks the roles before the handler runs (except for
 * KW_ADMIN_BODY, below), so an endpoint cannot be added without saying who
 * may call it; tests/unit/broker/test_admin.c walks the table.
 */

#define KW_ROLE_KEY 1u       /* key-admin */
#define KW_ROLE_POLICY 2u    /* policy-admin */
#define KW_ROLE_AUDIT 4u     /* auditor */
#define KW_ROLE_ANY (KW_ROLE_KEY | KW_ROLE_POLICY | KW_ROLE_AUDIT)

/* Where the repository of the role check comes from. */
enum kw_admin_scope {
	KW_ADMIN_PUBLIC,        /* no role: any authenticated admin (roles is 0) */
	KW_ADMIN_PATH,          /* the {repo} segment of the path */
	KW_ADMIN_SOME,          /* a role in at least one repository */
	KW_ADMIN_QUERY,         /* ?repository= when given; without it the handler
	                           lists only rows of repositories the caller holds
	                           a role in (kw_admin_visible) */
	KW_ADMIN_QUERY_OR_SOME, /* ?repository= when given, else at least one */
	KW_ADMIN_BODY,          /* the body's "repository": the handler calls
	                           kw_admin_authorize once it has parsed it; a
	                           handler that succeeds without is answered 500 */
};

#define KW_ADMIN_MAX_SEGS 8
#define KW_ADMIN_PREFIX "/admin/v1/"

struct admin_req;

/*
 * Pattern: segments below /admin/v1/ separated by "/"; a literal, or a
 * parameter: "{repo}" (a name, and the repository of KW_ADMIN_PATH),
 * "{name}" (a name), "{version}" (a version number 1..1000000 without
 * leading zeros; anything else is 400 before the role check).
 */
struct kw_admin_route {
	unsigned int methods;         /* EVHTTP_REQ_* bits */
	const char *pattern;
	enum kw_admin_scope scope;
	unsigned int roles;           /* KW_ROLE_* bits held in the scope's repository */
	const char *denied;           /* the 403's detail */
	const char *action;           /* change-record action; NULL: not recorded */
	int (*handler)(struct admin_req *a);
	const char *variant;          /* for the handler: which of its kinds (document
	                                 kind, target state, import, explain) */
};

extern const struct kw_admin_route kw_admin_routes[];
extern const size_t kw_admin_nroutes;
/* "admin <METHOD> /admin/v1/<pattern>" per endpoint (keywarden --list-routes);
 * the rows that only answer 405 are not endpoints and are left out. */
void kw_admin_routes_list(FILE *f);

/* The segments of a request path below /admin/v1/ (kw_admin_path_split). */
struct kw_admin_path {
	char *buf;                    /* owned: the segments point into it */
	char *segs[KW_ADMIN_MAX_SEGS];
	size_t n;
};

/*
 * Split path ("/admin/v1/keys/demo/k/x", not percent-decoded) into segments
 * that are each a name ([A-Za-z0-9._-]{1,64}, not "." or ".."). 0 with
 * ret->n >= 1 (free with kw_admin_path_clear), or -1 with the answer in
 * *reterr_problem and a static client-safe *reterr_detail (ret untouched):
 * 404 outside /admin/v1/, 400 for "%", an empty segment, a bad name or more
 * than KW_ADMIN_MAX_SEGS segments, 503 when out of memory.
 */
int kw_admin_path_split(const char *path, struct kw_admin_path *ret,
    enum kw_problem *reterr_problem, const char **reterr_detail) KW_WUR;
void kw_admin_path_clear(struct kw_admin_path *p);

/* Does the parameter-free segment list segs match pattern? */
int kw_admin_pattern_match(const char *pattern, char *const *segs, size_t n);

/* The route for method and segs (a kw_admin_path_split result), or NULL. */
const struct kw_admin_route *kw_admin_route_find(const struct kw_admin_route *routes,
    size_t nroutes, enum evhttp_cmd_type method, char *const *segs, size_t n);

/* The parameters of a path matched by pattern. */
struct kw_admin_args {
	const char *arg[3];     /* {repo} and {name} segments in order (borrowed from segs) */
	size_t n;
	int version;            /* {version}; 0: none */
};
/* 0, or -1 when the {version} segment is not a version number (400) or
 * pattern has more than 3 name parameters; ret untouched then. */
int kw_admin_route_args(const char *pattern, char *const *segs, size_t n,
    struct kw_admin_args *ret) KW_WUR;

/* For a route's handler: the role check of a KW_ADMIN_BODY route. 0 or
 * KW_ERR_DENIED (the answer is then set). */
int kw_admin_authorize(struct admin_req *a, const char *repo) KW_WUR;

/*
 * One admin request without HTTP, as the admin listener runs it (path and
 * query parsing, routing, role checks, the handler, the change record) on
 * the calling thread, for tests: subject is the authenticated identity,
 * query may be NULL, body (NULL: none) the request body. *ret_status and
 * *ret_body (new reference; NULL for 204) are what a client would get.
 * Routes that call the HSM need b->bridge.
 */
int kw_admin_call(struct kw_broker *b, const char *subject, enum evhttp_cmd_type method,
    const char *path, const char *query, const char *body, int *ret_status,
    json_t **ret_body) KW_WUR;

#endif
