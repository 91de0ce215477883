/* SPDX-License-Identifier: Apache-2.0 */
/* kw_name: the one grammar of names and resource paths. */
#include <string.h>

#include "kw_name.h"
#include "test_common.h"

static void
test_names(void)
{
	static const char *good[] = {"a", "repo", "A-z_0.9", "...", ".hidden", "x..y", "-", "_"};
	static const char *bad[] = {"", ".", "..", "a/b", "a b", "a%2e", "\xc3\xa9", "a\\b", "a\n",
		"a\"b", "a'b"};
	char n64[KW_NAME_MAX + 1], n65[KW_NAME_MAX + 2];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		CU_ASSERT_TRUE(kw_name_valid(good[i]));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CU_ASSERT_FALSE(kw_name_valid(bad[i]));
	CU_ASSERT_FALSE(kw_name_valid(NULL));
	memset(n64, 'n', KW_NAME_MAX);
	n64[KW_NAME_MAX] = '\0';
	memset(n65, 'n', KW_NAME_MAX + 1);
	n65[KW_NAME_MAX + 1] = '\0';
	CU_ASSERT_TRUE(kw_name_valid(n64));
	CU_ASSERT_FALSE(kw_name_valid(n65));
	/* the length form looks at exactly n bytes */
	CU_ASSERT_TRUE(kw_name_valid_n("abc/def", 3));
	CU_ASSERT_FALSE(kw_name_valid_n("abc/def", 4));
	CU_ASSERT_FALSE(kw_name_valid_n("..x", 2));
	CU_ASSERT_FALSE(kw_name_valid_n("abc", 0));
}

static void
test_resource_paths(void)
{
	static const char *good[] = {"a/b/c", "repo-1/key_type/v1.2", "A/B/C", ".x/..y/...z"};
	static const char *bad[] = {"", "a", "a/b", "a/b/c/d", "a//c", "/a/b", "a/b/", "a/../c",
		"a/./c", "../b/c", "a/b/..", "a/b/c%2e", "a/b/c d", "a/b/\xc3\xa9", "a\\b/c/d", "//"};
	char p[3 * KW_NAME_MAX + 8];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		CU_ASSERT_TRUE(kw_resource_path_valid(good[i]));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CU_ASSERT_FALSE(kw_resource_path_valid(bad[i]));
	CU_ASSERT_FALSE(kw_resource_path_valid(NULL));
	/* each segment is a name: 64 characters fit, 65 do not (the old check allowed any
	 * segment length up to a 200-character path) */
	memset(p, 'a', KW_NAME_MAX);
	memcpy(p + KW_NAME_MAX, "/b/c", 5);
	CU_ASSERT_TRUE(kw_resource_path_valid(p));
	memset(p, 'a', KW_NAME_MAX + 1);
	memcpy(p + KW_NAME_MAX + 1, "/b/c", 5);
	CU_ASSERT_FALSE(kw_resource_path_valid(p));
	/* three maximal names make the longest path */
	for (int i = 0; i < 3; i++) {
		memset(p + i * (KW_NAME_MAX + 1), 'x', KW_NAME_MAX);
		p[i * (KW_NAME_MAX + 1) + KW_NAME_MAX] = i < 2 ? '/' : '\0';
	}
	CU_ASSERT_EQUAL(strlen(p), KW_RESOURCE_PATH_MAX);
	CU_ASSERT_TRUE(kw_resource_path_valid(p));
}

int
test_name_register(void)
{
	CU_pSuite s = CU_add_suite("name", NULL, NULL);

	if (s == NULL)
		return -1;
	return TEST_ADD(s, test_names) | TEST_ADD(s, test_resource_paths);
}
