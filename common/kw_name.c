/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "kw_name.h"

bool
kw_name_valid_n(const char *s, size_t n)
{
	if (s == NULL || n == 0 || n > KW_NAME_MAX)
		return false;
	if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

bool
kw_name_valid(const char *s)
{
	return s != NULL && kw_name_valid_n(s, strnlen(s, KW_NAME_MAX + 1));
}

bool
kw_resource_path_valid(const char *p)
{
	const char *seg = p, *slash;

	if (p == NULL || strnlen(p, KW_RESOURCE_PATH_MAX + 1) > KW_RESOURCE_PATH_MAX)
		return false;
	for (int i = 0; i < 3; i++) {
		slash = strchr(seg, '/');
		if ((i < 2) != (slash != NULL))
			return false;    /* exactly two slashes */
		if (!kw_name_valid_n(seg, slash != NULL ? (size_t)(slash - seg) : strlen(seg)))
			return false;
		if (slash != NULL)
			seg = slash + 1;
	}
	return true;
}
