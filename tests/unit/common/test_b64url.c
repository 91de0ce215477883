/* SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>
#include <string.h>

#include "kw_b64url.h"
#include "test_common.h"

static const struct {
	const char *raw, *enc;
} rfc4648[] = {
	/* RFC 4648 section 10, padding removed */
	{"", ""}, {"f", "Zg"}, {"fo", "Zm8"}, {"foo", "Zm9v"}, {"foob", "Zm9vYg"},
	{"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"},
};

static void
test_b64url_vectors(void)
{
	for (size_t i = 0; i < KW_ARRAY_SIZE(rfc4648); i++) {
		size_t n = strlen(rfc4648[i].raw), len = 999;
		uint8_t out[16];
		char *enc = NULL;

		CU_ASSERT_EQUAL(kw_b64url_enclen(n), strlen(rfc4648[i].enc));
		CU_ASSERT_EQUAL_FATAL(kw_b64url_encode(rfc4648[i].raw, n, &enc), 0);
		CU_ASSERT_STRING_EQUAL(enc, rfc4648[i].enc);
		free(enc);
		CU_ASSERT_EQUAL(kw_b64url_decode(rfc4648[i].enc, strlen(rfc4648[i].enc), out,
		    sizeof(out), &len), 0);
		CU_ASSERT_EQUAL(len, n);
		CU_ASSERT(memcmp(out, rfc4648[i].raw, n) == 0);
	}
}

static void
test_b64url_url_alphabet(void)
{
	/* standard base64 "+/8=" becomes "-_8" */
	static const uint8_t raw[] = {0xfb, 0xff};
	uint8_t out[4];
	size_t len = 0;
	char *enc = NULL;

	CU_ASSERT_EQUAL_FATAL(kw_b64url_encode(raw, sizeof(raw), &enc), 0);
	CU_ASSERT_STRING_EQUAL(enc, "-_8");
	free(enc);
	CU_ASSERT_EQUAL(kw_b64url_decode("-_8", 3, out, sizeof(out), &len), 0);
	CU_ASSERT_EQUAL(len, 2);
	CU_ASSERT(memcmp(out, raw, 2) == 0);
	CU_ASSERT_EQUAL(kw_b64url_decode("+/8", 3, out, sizeof(out), &len), KW_ERR_INVALID_FORMAT);
}

static void
test_b64url_rejects(void)
{
	static const char *const bad[] = {
		"Zg==", "Zm8=", "Zg=", "Zm9v\n", " Zm9v", "Zm 9v", "Zm9v\r\n", "Zm\t9v",
		"Z", "Zm9vY", "Zm9vYmFyZ",    /* length mod 4 == 1 */
		"Zh", "Zm9", "Zm9vYh", "Zm9vYmF",    /* nonzero unused bits */
		"Zm9v+", "Zm9/", "Zm.v", "Zm9\x80",
	};
	uint8_t out[16];

	for (size_t i = 0; i < KW_ARRAY_SIZE(bad); i++) {
		size_t len = 777;

		CU_ASSERT_EQUAL(kw_b64url_decode(bad[i], strlen(bad[i]), out, sizeof(out), &len),
		    KW_ERR_INVALID_FORMAT);
		CU_ASSERT_EQUAL(len, 777);    /* ret_len untouched on failure */
	}
	/* embedded NUL counted by length */
	{
		size_t len = 777;
		CU_ASSERT_EQUAL(kw_b64url_decode("Zm\0v", 4, out, sizeof(out), &len),
		    KW_ERR_INVALID_FORMAT);
	}
}

static void
test_b64url_every_symbol(void)
{
	/* each byte value at each position of a 4-symbol group */
	for (int c = 0; c < 256; c++) {
		int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_';
		for (int pos = 0; pos < 4; pos++) {
			char in[4] = {'A', 'A', 'A', 'A'};
			uint8_t out[3];
			size_t len = 0;

			in[pos] = (char)c;
			CU_ASSERT_EQUAL(kw_b64url_decode(in, 4, out, sizeof(out), &len),
			    ok ? 0 : KW_ERR_INVALID_FORMAT);
		}
	}
}

static void
test_b64url_max(void)
{
	uint8_t out[8], *p = NULL;
	size_t len = 777;

	CU_ASSERT_EQUAL(kw_b64url_decode("Zm9vYmFy", 8, out, 5, &len), KW_ERR_TOO_LARGE);
	CU_ASSERT_EQUAL(len, 777);
	CU_ASSERT_EQUAL(kw_b64url_decode("Zm9vYmFy", 8, out, 6, &len), 0);
	CU_ASSERT_EQUAL(len, 6);
	CU_ASSERT_EQUAL(kw_b64url_decode("Zm9vYmE", 7, out, 4, &len), KW_ERR_TOO_LARGE);
	CU_ASSERT_EQUAL(kw_b64url_decode("Zm9vYmE", 7, out, 5, &len), 0);
	CU_ASSERT_EQUAL(len, 5);
	CU_ASSERT_EQUAL(kw_b64url_decode_alloc("Zm9vYmFy", 8, 5, &p, &len), KW_ERR_TOO_LARGE);
	CU_ASSERT_PTR_NULL(p);
	CU_ASSERT_EQUAL(kw_b64url_decode_alloc("Zm9vYmFy", 8, 6, &p, &len), 0);
	CU_ASSERT_EQUAL(len, 6);
	CU_ASSERT(p != NULL && memcmp(p, "foobar", 6) == 0);
	free(p);
	p = NULL;
	CU_ASSERT_EQUAL(kw_b64url_decode_alloc("", 0, 0, &p, &len), 0);
	CU_ASSERT_EQUAL(len, 0);
	free(p);
}

static void
test_b64url_roundtrip(void)
{
	uint8_t all[256], out[256];

	for (int i = 0; i < 256; i++)
		all[i] = (uint8_t)i;
	/* every length, and every byte value at every offset modulo 3 */
	for (size_t off = 0; off < 3; off++) {
		for (size_t n = 0; n + off <= sizeof(all); n++) {
			char *enc = NULL;
			size_t len = 0;

			if (kw_b64url_encode(all + off, n, &enc) != 0) {
				CU_FAIL("encode");
				continue;
			}
			CU_ASSERT_EQUAL(strlen(enc), kw_b64url_enclen(n));
			CU_ASSERT_EQUAL(kw_b64url_decode(enc, strlen(enc), out, sizeof(out), &len), 0);
			CU_ASSERT_EQUAL(len, n);
			CU_ASSERT(memcmp(out, all + off, n) == 0);
			free(enc);
		}
	}
	for (int b = 0; b < 256; b++) {
		uint8_t one = (uint8_t)b, got = 0;
		char *enc = NULL;
		size_t len = 0;

		CU_ASSERT_EQUAL_FATAL(kw_b64url_encode(&one, 1, &enc), 0);
		CU_ASSERT_EQUAL(kw_b64url_decode(enc, 2, &got, 1, &len), 0);
		CU_ASSERT_EQUAL(got, one);
		free(enc);
	}
}

int
test_b64url_register(void)
{
	CU_pSuite s = CU_add_suite("b64url", NULL, NULL);

	if (s == NULL)
		return -1;
	return TEST_ADD(s, test_b64url_vectors) | TEST_ADD(s, test_b64url_url_alphabet) |
	    TEST_ADD(s, test_b64url_rejects) | TEST_ADD(s, test_b64url_every_symbol) |
	    TEST_ADD(s, test_b64url_max) | TEST_ADD(s, test_b64url_roundtrip);
}
