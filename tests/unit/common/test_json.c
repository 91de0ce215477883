/* SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>
#include <string.h>

#include "kw_json.h"
#include "test_common.h"

static int
parse(const char *s, json_t **ret)
{
	return kw_json_parse(s, strlen(s), 4096, ret);
}

static void
test_json_parse_ok(void)
{
	json_t *v = NULL;
	const char *s;
	size_t n;
	int64_t i;
	int b;

	CU_ASSERT_EQUAL_FATAL(parse("{\"a\":\"x\\u00e9\",\"n\":-42,\"t\":true,\"o\":{}}", &v), 0);
	CU_ASSERT_EQUAL(kw_json_get_str(v, "a", &s, &n), 0);
	CU_ASSERT_STRING_EQUAL(s, "x\xc3\xa9");
	CU_ASSERT_EQUAL(n, 3);
	CU_ASSERT_EQUAL(kw_json_get_int(v, "n", &i), 0);
	CU_ASSERT_EQUAL(i, -42);
	CU_ASSERT_EQUAL(kw_json_get_bool(v, "t", &b), 0);
	CU_ASSERT_EQUAL(b, 1);
	json_decref(v);
	/* whitespace around the object is fine */
	v = NULL;
	CU_ASSERT_EQUAL(parse(" \n{}\t ", &v), 0);
	CU_ASSERT(json_is_object(v));
	json_decref(v);
}

static void
test_json_parse_rejects(void)
{
	static const char *const bad[] = {
		"", " ", "[]", "[{}]", "\"str\"", "1", "null", "true",
		"{\"a\":1,\"a\":2}", "{\"a\":{\"b\":1,\"b\":1}}",    /* duplicates */
		"{\"a\":\"\\u0000\"}",                              /* NUL in a string */
		"{\"a\\u0000\":1}",
		"{\"a\":1}x", "{\"a\":1}{}", "{\"a\":1,}", "{'a':1}", "{\"a\":01}", "{\"a\":NaN}",
		"{\"a\":\"\xff\"}",                                   /* invalid UTF-8 */
		"{\"a\":\"\\ud800\"}",                                /* lone surrogate */
		"{\"a\":99999999999999999999999}",                    /* integer overflow */
	};
	json_t *v = NULL;

	for (size_t i = 0; i < KW_ARRAY_SIZE(bad); i++) {
		CU_ASSERT_EQUAL(parse(bad[i], &v), KW_ERR_INVALID_FORMAT);
		CU_ASSERT_PTR_NULL(v);
	}
	/* raw NUL byte inside the buffer */
	CU_ASSERT_EQUAL(kw_json_parse("{\"a\":\"\0\"}", 8, 100, &v), KW_ERR_INVALID_FORMAT);
	CU_ASSERT_EQUAL(kw_json_parse("{}\0", 3, 100, &v), KW_ERR_INVALID_FORMAT);
	CU_ASSERT_PTR_NULL(v);
}

static void
test_json_parse_size(void)
{
	json_t *v = NULL;

	CU_ASSERT_EQUAL(kw_json_parse("{\"a\":1}", 7, 6, &v), KW_ERR_TOO_LARGE);
	CU_ASSERT_PTR_NULL(v);
	CU_ASSERT_EQUAL(kw_json_parse("{\"a\":1}", 7, 7, &v), 0);
	json_decref(v);
	v = NULL;
	/* the cap applies before parsing: invalid bytes past the cap still give TOO_LARGE */
	CU_ASSERT_EQUAL(kw_json_parse("{\"a\":1}garbage", 14, 7, &v), KW_ERR_TOO_LARGE);
	CU_ASSERT_EQUAL(kw_json_parse(NULL, 0, 7, &v), KW_ERR_INVALID_FORMAT);
	CU_ASSERT_PTR_NULL(v);
}

/* {"a":[{"a":[...]}]}: depth containers in total, alternating objects and arrays */
static char *
nested(int depth)
{
	char *s = malloc((size_t)depth * 8 + 16), *o = s;

	if (s == NULL)
		abort();
	for (int i = 0; i < depth; i++)
		o = stpcpy(o, i % 2 == 0 ? "{\"a\":" : "[");
	o = stpcpy(o, "1");
	for (int i = depth - 1; i >= 0; i--)
		o = stpcpy(o, i % 2 == 0 ? "}" : "]");
	return s;
}

static void
test_json_parse_depth(void)
{
	json_t *v = NULL;
	char *s;

	s = nested(32);
	CU_ASSERT_EQUAL(kw_json_parse(s, strlen(s), 1 << 20, &v), 0);
	json_decref(v);
	v = NULL;
	free(s);
	s = nested(33);
	CU_ASSERT_EQUAL(kw_json_parse(s, strlen(s), 1 << 20, &v), KW_ERR_INVALID_FORMAT);
	CU_ASSERT_PTR_NULL(v);
	free(s);
	s = nested(3000);    /* past jansson's own limit too */
	CU_ASSERT_EQUAL(kw_json_parse(s, strlen(s), 1 << 20, &v), KW_ERR_INVALID_FORMAT);
	free(s);
	/* depth counts in a later sibling too */
	s = nested(32);
	{
		char *t = malloc(strlen(s) + 32);
		CU_ASSERT_PTR_NOT_NULL_FATAL(t);
		snprintf(t, strlen(s) + 32, "{\"x\":1,\"y\":%s}", s);
		CU_ASSERT_EQUAL(kw_json_parse(t, strlen(t), 1 << 20, &v), KW_ERR_INVALID_FORMAT);
		free(t);
	}
	free(s);
}

static void
test_json_parse_truncation(void)
{
	const char *good = "{\"kty\":\"EC\",\"n\":[1,2.5,{\"x\":null}],\"t\":false}";
	size_t n = strlen(good);
	json_t *v = NULL;

	for (size_t i = 0; i < n; i++) {
		CU_ASSERT_EQUAL(kw_json_parse(good, i, n, &v), KW_ERR_INVALID_FORMAT);
		CU_ASSERT_PTR_NULL(v);
	}
	CU_ASSERT_EQUAL(kw_json_parse(good, n, n, &v), 0);
	json_decref(v);
	/* bit flips: either a clean error or an object */
	for (size_t i = 0; i < n * 8; i++) {
		char buf[128];
		int r;

		memcpy(buf, good, n);
		buf[i / 8] = (char)(buf[i / 8] ^ (1 << (i % 8)));
		v = NULL;
		r = kw_json_parse(buf, n, n, &v);
		CU_ASSERT(r == KW_ERR_INVALID_FORMAT || (r == 0 && json_is_object(v)));
		json_decref(v);
	}
}

static void
test_json_getters(void)
{
	json_t *v = NULL;
	const char *s = "unchanged";
	size_t n = 99;
	int64_t i = 99;
	int b = 99;

	CU_ASSERT_EQUAL_FATAL(parse("{\"s\":\"x\",\"i\":9007199254740993,\"r\":1.0,\"b\":false,"
	    "\"z\":null}", &v), 0);
	CU_ASSERT_EQUAL(kw_json_get_int(v, "i", &i), 0);
	CU_ASSERT_EQUAL(i, 9007199254740993LL);
	CU_ASSERT_EQUAL(kw_json_get_bool(v, "b", &b), 0);
	CU_ASSERT_EQUAL(b, 0);
	/* wrong types and absent members leave outputs alone */
	i = 99;
	b = 99;
	CU_ASSERT_EQUAL(kw_json_get_int(v, "r", &i), KW_ERR_INVALID_FORMAT);
	CU_ASSERT_EQUAL(kw_json_get_int(v, "s", &i), KW_ERR_INVALID_FORMAT);
	CU_ASSERT_EQUAL(kw_json_get_int(v, "missing", &i), KW_ERR_NOT_FOUND);
	CU_ASSERT_EQUAL(i, 99);
	CU_ASSERT_EQUAL(kw_json_get_str(v, "i", &s, &n), KW_ERR_INVALID_FORMAT);
	CU_ASSERT_EQUAL(kw_json_get_str(v, "z", &s, &n), KW_ERR_INVALID_FORMAT);
	CU_ASSERT_EQUAL(kw_json_get_str(v, "missing", &s, &n), KW_ERR_NOT_FOUND);
	CU_ASSERT_STRING_EQUAL(s, "unchanged");
	CU_ASSERT_EQUAL(n, 99);
	CU_ASSERT_EQUAL(kw_json_get_bool(v, "z", &b), KW_ERR_INVALID_FORMAT);
	CU_ASSERT_EQUAL(kw_json_get_bool(v, "missing", &b), KW_ERR_NOT_FOUND);
	CU_ASSERT_EQUAL(b, 99);
	CU_ASSERT_EQUAL(kw_json_get_str(v, "s", &s, NULL), 0);
	CU_ASSERT_STRING_EQUAL(s, "x");
	json_decref(v);
}

static void
test_json_check_keys(void)
{
	static const char *const allowed[] = {"a", "b", "c", NULL};
	static const char *const none[] = {NULL};
	json_t *v = NULL;

	CU_ASSERT_EQUAL_FATAL(parse("{\"a\":1,\"c\":2}", &v), 0);
	CU_ASSERT_EQUAL(kw_json_check_keys(v, allowed), 0);
	CU_ASSERT_EQUAL(kw_json_check_keys(v, none), KW_ERR_INVALID_FORMAT);
	json_decref(v);
	CU_ASSERT_EQUAL_FATAL(parse("{\"a\":1,\"ab\":2}", &v), 0);
	CU_ASSERT_EQUAL(kw_json_check_keys(v, allowed), KW_ERR_INVALID_FORMAT);
	json_decref(v);
	CU_ASSERT_EQUAL_FATAL(parse("{}", &v), 0);
	CU_ASSERT_EQUAL(kw_json_check_keys(v, none), 0);
	json_decref(v);
}

static void
test_json_redacted(void)
{
	json_t *v = NULL;
	char *s;

	CU_ASSERT_EQUAL_FATAL(parse("{\"kty\":\"RSA\",\"d\":\"SECRET1\",\"list\":[{\"pin\":\"1234\","
	    "\"ok\":1},{\"token\":{\"nested\":\"SECRET2\"}}],\"nonce\":5,\"keys\":\"visible\"}", &v),
	    0);
	s = kw_json_dump_redacted(v);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_PTR_NULL(strstr(s, "SECRET"));
	CU_ASSERT_PTR_NULL(strstr(s, "1234"));
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "\"d\":\"<redacted>\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "\"pin\":\"<redacted>\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "\"token\":\"<redacted>\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "\"nonce\":\"<redacted>\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "\"keys\":\"visible\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "\"ok\":1"));
	free(s);
	/* the original is not modified */
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(v, "d")), "SECRET1");
	json_decref(v);
	CU_ASSERT_PTR_NULL(kw_json_dump_redacted(NULL));
}

int
test_json_register(void)
{
	CU_pSuite s = CU_add_suite("json", NULL, NULL);

	if (s == NULL)
		return -1;
	return TEST_ADD(s, test_json_parse_ok) | TEST_ADD(s, test_json_parse_rejects) |
	    TEST_ADD(s, test_json_parse_size) | TEST_ADD(s, test_json_parse_depth) |
	    TEST_ADD(s, test_json_parse_truncation) | TEST_ADD(s, test_json_getters) |
	    TEST_ADD(s, test_json_check_keys) | TEST_ADD(s, test_json_redacted);
}
