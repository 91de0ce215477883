/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pure parts of admin routing (admin.h): splitting a request path into
 * name segments and finding its row in the route table. No I/O, no state.
 */
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "config.h"

int
kw_admin_path_split(const char *path, struct kw_admin_path *ret, enum kw_problem *reterr_problem,
    const char **reterr_detail)
{
	const size_t plen = strlen(KW_ADMIN_PREFIX);
	struct kw_admin_path p;
	char *save = NULL, *tok, *s;

	memset(&p, 0, sizeof(p));
	if (path != NULL && strchr(path, '%') != NULL) {
		*reterr_problem = KW_PROBLEM_MALFORMED;
		*reterr_detail = "no such endpoint (names are never percent-decoded)";
		return -1;
	}
	if (path == NULL || strncmp(path, KW_ADMIN_PREFIX, plen) != 0) {
		*reterr_problem = KW_PROBLEM_NOT_FOUND;
		*reterr_detail = "no such endpoint (names are never percent-decoded)";
		return -1;
	}
	/* "/admin/v1//keys", "a//b" and a trailing "/" would vanish in strtok: refuse them */
	if (path[plen] == '\0' || strstr(path + plen - 1, "//") != NULL ||
	    path[strlen(path) - 1] == '/') {
		*reterr_problem = KW_PROBLEM_MALFORMED;
		*reterr_detail = "empty path segment (no \"//\" and no trailing \"/\")";
		return -1;
	}
	if ((p.buf = strdup(path + plen)) == NULL) {
		*reterr_problem = KW_PROBLEM_UNAVAILABLE;
		*reterr_detail = NULL;
		return -1;
	}
	for (s = p.buf; (tok = strtok_r(s, "/", &save)) != NULL; s = NULL) {
		if (p.n == KW_ADMIN_MAX_SEGS || !kw_name_valid(tok)) {
			free(p.buf);
			*reterr_problem = KW_PROBLEM_MALFORMED;
			*reterr_detail = "path segments are names of [A-Za-z0-9._-]{1,64} (no . or ..)";
			return -1;
		}
		p.segs[p.n++] = tok;
	}
	*ret = p;
	return 0;
}

void
kw_admin_path_clear(struct kw_admin_path *p)
{
	free(p->buf);
	memset(p, 0, sizeof(*p));
}

/* The next segment of pattern at *pp (advanced past it and its "/"), in seg. */
static int
next_seg(const char **pp, char *seg, size_t seglen)
{
	const char *p = *pp, *e = strchr(p, '/');
	size_t len = e != NULL ? (size_t)(e - p) : strlen(p);

	if (*p == '\0' || len >= seglen)
		return 0;
	memcpy(seg, p, len);
	seg[len] = '\0';
	*pp = e != NULL ? e + 1 : p + len;
	return 1;
}

static int
is_param(const char *seg)
{
	return seg[0] == '{';
}

int
kw_admin_pattern_match(const char *pattern, char *const *segs, size_t n)
{
	const char *p = pattern;
	char seg[72];
	size_t i;

	for (i = 0; next_seg(&p, seg, sizeof(seg)); i++)
		if (i == n || (!is_param(seg) && strcmp(seg, segs[i]) != 0))
			return 0;
	return i == n;
}

/* The version number in s (1..1000000, no leading zero), or -1. */
static int
parse_version(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*end != '\0' || v < 1 || v > 1000000 || s[0] == '0')
		return -1;
	return (int)v;
}

const struct kw_admin_route *
kw_admin_route_find(const struct kw_admin_route *routes, size_t nroutes,
    enum evhttp_cmd_type method, char *const *segs, size_t n)
{
	for (size_t i = 0; i < nroutes; i++)
		if ((routes[i].methods & (unsigned int)method) != 0 &&
		    kw_admin_pattern_match(routes[i].pattern, segs, n))
			return &routes[i];
	return NULL;
}

int
kw_admin_route_args(const char *pattern, char *const *segs, size_t n, struct kw_admin_args *ret)
{
	struct kw_admin_args args;
	const char *p = pattern;
	char seg[72];

	memset(&args, 0, sizeof(args));
	for (size_t i = 0; i < n && next_seg(&p, seg, sizeof(seg)); i++) {
		if (strcmp(seg, "{version}") == 0) {
			if ((args.version = parse_version(segs[i])) < 0)
				return -1;
		} else if (strcmp(seg, "{repo}") == 0 || strcmp(seg, "{name}") == 0) {
			if (args.n == KW_ARRAY_SIZE(args.arg))
				return -1;
			args.arg[args.n++] = segs[i];
		}
	}
	*ret = args;
	return 0;
}
