/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_NAME_H
#define KW_NAME_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The one grammar of names: repositories, key types and tags, policy and
 * reference-value set names, admin path segments. A name is 1..KW_NAME_MAX
 * characters of [A-Za-z0-9._-] and never "." or ".." (so a name is always
 * safe as a path segment and never percent-decoded). A resource path is
 * REPOSITORY/TYPE/TAG: exactly three names.
 */
#define KW_NAME_MAX 64
#define KW_RESOURCE_PATH_MAX (3 * KW_NAME_MAX + 2)

/* s[0..n) is a name (s need not be NUL-terminated). */
bool kw_name_valid_n(const char *s, size_t n);
/* The NUL-terminated s is a name; NULL is not. */
bool kw_name_valid(const char *s);
/* p is REPOSITORY/TYPE/TAG of three names; NULL is not. */
bool kw_resource_path_valid(const char *p);

#endif
