/* SPDX-License-Identifier: Apache-2.0 */
/* RFC 8785 canonicalization; expected strings written from RFC 8785 3.2.2, 3.2.3, App. B. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kw_json.h"
#include "test_common.h"

/* Parse in, canonicalize, compare with want; also check idempotence. */
static void
check_jcs(const char *in, const char *want)
{
	json_t *v = NULL, *v2 = NULL;
	char *out = NULL, *out2 = NULL;
	size_t len = 0, len2 = 0;

	CU_ASSERT_EQUAL_FATAL(kw_json_parse(in, strlen(in), 65536, &v), 0);
	CU_ASSERT_EQUAL_FATAL(kw_jcs_serialize(v, &out, &len), 0);
	CU_ASSERT_STRING_EQUAL(out, want);
	CU_ASSERT_EQUAL(len, strlen(want));
	CU_ASSERT_EQUAL_FATAL(kw_json_parse(out, len, 65536, &v2), 0);
	CU_ASSERT_EQUAL_FATAL(kw_jcs_serialize(v2, &out2, &len2), 0);
	CU_ASSERT_STRING_EQUAL(out2, out);
	free(out);
	free(out2);
	json_decref(v);
	json_decref(v2);
}

static void
test_jcs_rfc_example(void)
{
	/* RFC 8785 3.2.2 */
	check_jcs("{\n"
	    "  \"numbers\": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],\n"
	    "  \"string\": \"\\u20ac$\\u000F\\u000aA'\\u0042\\u0022\\u005c\\\\\\\"\\/\",\n"
	    "  \"literals\": [null, true, false]\n"
	    "}",
	    "{\"literals\":[null,true,false],"
	    "\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],"
	    "\"string\":\"\xe2\x82\xac$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}");
}

static void
test_jcs_sort_utf16(void)
{
	/* RFC 8785 3.2.3, plus "</script>"; U+1F600 (surrogates D83D DE00) sorts
	 * before U+FB33 in UTF-16 although it is after it in code points. */
	check_jcs("{\"\\u20ac\":\"Euro Sign\",\"\\r\":\"Carriage Return\","
	    "\"\\ufb33\":\"Hebrew Letter Dalet With Dagesh\",\"1\":\"One\","
	    "\"\\ud83d\\ude00\":\"Emoji: Grinning Face\",\"\\u0080\":\"Control\","
	    "\"\\u00f6\":\"Latin Small Letter O With Diaeresis\",\"</script>\":\"Browser Challenge\"}",
	    "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"</script>\":\"Browser Challenge\","
	    "\"\xc2\x80\":\"Control\",\"\xc3\xb6\":\"Latin Small Letter O With Diaeresis\","
	    "\"\xe2\x82\xac\":\"Euro Sign\",\"\xf0\x9f\x98\x80\":\"Emoji: Grinning Face\","
	    "\"\xef\xac\xb3\":\"Hebrew Letter Dalet With Dagesh\"}");
	/* prefixes sort first; nested objects are sorted too; arrays keep order */
	check_jcs("{\"b\":[{\"z\":1,\"y\":2},3],\"a\":{\"bb\":1,\"b\":2,\"\":3},\"aa\":0}",
	    "{\"a\":{\"\":3,\"b\":2,\"bb\":1},\"aa\":0,\"b\":[{\"y\":2,\"z\":1},3]}");
	check_jcs("{}", "{}");
	check_jcs("{\"a\":[]}", "{\"a\":[]}");
}

static void
test_jcs_strings(void)
{
	static const struct {
		const char *in;
		size_t n;
		const char *want;
	} t[] = {
		{"\x00", 1, "\"\\u0000\""},
		{"\x01\x1f", 2, "\"\\u0001\\u001f\""},
		{"\b\t\n\f\r", 5, "\"\\b\\t\\n\\f\\r\""},
		{"\x0b\x1b", 2, "\"\\u000b\\u001b\""},
		{"\"\\/", 3, "\"\\\"\\\\/\""},
		{"\x7f", 1, "\"\x7f\""},
		{"\xf4\x8f\xbf\xbf", 4, "\"\xf4\x8f\xbf\xbf\""},
		{"<>&'", 4, "\"<>&'\""},
	};

	for (size_t i = 0; i < KW_ARRAY_SIZE(t); i++) {
		json_t *v = json_stringn(t[i].in, t[i].n);
		char *out = NULL;
		size_t len = 0;

		CU_ASSERT_PTR_NOT_NULL_FATAL(v);
		CU_ASSERT_EQUAL(kw_jcs_serialize(v, &out, &len), 0);
		if (out != NULL)
			CU_ASSERT_STRING_EQUAL(out, t[i].want);
		free(out);
		json_decref(v);
	}
}

static void
test_jcs_invalid_utf8(void)
{
	static const char *const bad[] = {
		"\xff", "\xc0\x80", "\xe0\x80\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xc3",
		"a\x80", "\xe2\x82",
	};

	for (size_t i = 0; i < KW_ARRAY_SIZE(bad); i++) {
		json_t *v = json_stringn_nocheck(bad[i], strlen(bad[i]));
		json_t *o = json_object();
		char *out = NULL;
		size_t len = 777;

		CU_ASSERT_EQUAL(kw_jcs_serialize(v, &out, &len), KW_ERR_INVALID_FORMAT);
		CU_ASSERT_PTR_NULL(out);
		CU_ASSERT_EQUAL(len, 777);
		/* as a member name */
		CU_ASSERT_EQUAL(json_object_set_new_nocheck(o, bad[i], json_true()), 0);
		CU_ASSERT_EQUAL(kw_jcs_serialize(o, &out, &len), KW_ERR_INVALID_FORMAT);
		CU_ASSERT_PTR_NULL(out);
		json_decref(o);
		json_decref(v);
	}
}

static void
check_num(json_t *v, const char *want)
{
	char *out = NULL;
	size_t len = 0;
	int r;

	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	r = kw_jcs_serialize(v, &out, &len);
	if (want == NULL) {
		CU_ASSERT_EQUAL(r, KW_ERR_INVALID_FORMAT);
		CU_ASSERT_PTR_NULL(out);
	} else {
		CU_ASSERT_EQUAL(r, 0);
		if (out != NULL && strcmp(out, want) != 0)
			fprintf(stderr, "\n  jcs: got %s want %s\n", out, want);
		CU_ASSERT(out != NULL && strcmp(out, want) == 0);
	}
	free(out);
	json_decref(v);
}

static double
from_bits(uint64_t b)
{
	double d;

	memcpy(&d, &b, sizeof(d));
	return d;
}

static void
test_jcs_numbers(void)
{
	/* RFC 8785 Appendix B (IEEE 754 bit patterns -> ECMAScript strings) */
	static const struct {
		uint64_t bits;
		const char *want;
	} b[] = {
		{0x0000000000000000ULL, "0"},
		{0x8000000000000000ULL, "0"},
		{0x0000000000000001ULL, "5e-324"},
		{0x8000000000000001ULL, "-5e-324"},
		{0x7fefffffffffffffULL, "1.7976931348623157e+308"},
		{0xffefffffffffffffULL, "-1.7976931348623157e+308"},
		{0x4340000000000000ULL, "9007199254740992"},
		{0xc340000000000000ULL, "-9007199254740992"},
		{0x4430000000000000ULL, "295147905179352830000"},
		{0x44b52d02c7e14af5ULL, "9.999999999999997e+22"},
		{0x44b52d02c7e14af6ULL, "1e+23"},
		{0x44b52d02c7e14af7ULL, "1.0000000000000001e+23"},
		{0x444b1ae4d6e2ef4eULL, "999999999999999700000"},
		{0x444b1ae4d6e2ef4fULL, "999999999999999900000"},
		{0x444b1ae4d6e2ef50ULL, "1e+21"},
		{0x3eb0c6f7a0b5ed8cULL, "9.999999999999997e-7"},
		{0x3eb0c6f7a0b5ed8dULL, "0.000001"},
		{0x41b3de4355555553ULL, "333333333.3333332"},
		{0x41b3de4355555554ULL, "333333333.33333325"},
		{0x41b3de4355555555ULL, "333333333.3333333"},
		{0x41b3de4355555556ULL, "333333333.3333334"},
		{0x41b3de4355555557ULL, "333333333.33333343"},
		{0xbecbf647612f3696ULL, "-0.0000033333333333333333"},
		{0x43143ff3c1cb0959ULL, "1424953923781206.2"},
		/* powers of two where the nearest 16-digit value does not round-trip but
		 * its neighbour does (checked against node's JSON.stringify) */
		{0xb730000000000000ULL, "-7.174648137343064e-43"},
		{0x8100000000000000ULL, "-7.291122019556398e-304"},
	};
	static const struct {
		double d;
		const char *want;
	} d[] = {
		{1e30, "1e+30"}, {4.50, "4.5"}, {2e-3, "0.002"}, {1e-27, "1e-27"},
		{1e21, "1e+21"}, {1e20, "100000000000000000000"}, {1e-7, "1e-7"},
		{1e-6, "0.000001"}, {123.456, "123.456"}, {-0.5, "-0.5"}, {4.0, "4"},
		{0.1, "0.1"}, {0.30000000000000004, "0.30000000000000004"}, {1.5e300, "1.5e+300"},
		{-1.25e-10, "-1.25e-10"}, {2.2250738585072014e-308, "2.2250738585072014e-308"},
		{123456789012345680000.0, "123456789012345680000"},
	};

	for (size_t i = 0; i < KW_ARRAY_SIZE(b); i++)
		check_num(json_real(from_bits(b[i].bits)), b[i].want);
	for (size_t i = 0; i < KW_ARRAY_SIZE(d); i++)
		check_num(json_real(d[i].d), d[i].want);
	/* integers: exact up to 2^53, refused beyond */
	check_num(json_integer(0), "0");
	check_num(json_integer(-1), "-1");
	check_num(json_integer(9007199254740992LL), "9007199254740992");
	check_num(json_integer(-9007199254740992LL), "-9007199254740992");
	check_num(json_integer(9007199254740993LL), NULL);
	check_num(json_integer(-9007199254740993LL), NULL);
	check_num(json_integer(INT64_MAX), NULL);
	check_num(json_integer(INT64_MIN), NULL);
	/* jansson itself refuses non-finite reals, so they cannot reach the serializer */
	CU_ASSERT_PTR_NULL(json_real(NAN));
	CU_ASSERT_PTR_NULL(json_real(INFINITY));
}

static void
test_jcs_literals(void)
{
	check_jcs("{\"t\":true,\"f\":false,\"n\":null,\"e\":\"\",\"i\":-0,\"r\":-0.0}",
	    "{\"e\":\"\",\"f\":false,\"i\":0,\"n\":null,\"r\":0,\"t\":true}");
	check_num(json_true(), "true");
	check_num(json_null(), "null");
}

int
test_jcs_register(void)
{
	CU_pSuite s = CU_add_suite("jcs", NULL, NULL);

	if (s == NULL)
		return -1;
	return TEST_ADD(s, test_jcs_rfc_example) | TEST_ADD(s, test_jcs_sort_utf16) |
	    TEST_ADD(s, test_jcs_strings) | TEST_ADD(s, test_jcs_invalid_utf8) |
	    TEST_ADD(s, test_jcs_numbers) | TEST_ADD(s, test_jcs_literals);
}
