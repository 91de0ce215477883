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

/* One input through both decoders: same result, same length, same bytes (or both fail alike). */
static int
same_decode(const char *in, size_t n, size_t max)
{
	uint8_t a[64], b[64];
	size_t la = 9999, lb = 9999;
	int ra, rb;

	memset(a, 0xa5, sizeof(a));
	memset(b, 0xa5, sizeof(b));
	ra = kw_b64url_decode(in, n, a, max, &la);
	rb = kw_b64url_decode_public(in, n, b, max, &lb);
	if (ra != rb || la != lb)
		return 0;
	return ra != 0 || memcmp(a, b, la) == 0;
}

/*
 * The public (table-driven) decoder accepts exactly what the constant-time
 * one accepts: every 1..3-symbol tail over all 256 byte values in each
 * position behind a valid quantum (so every length class, every trailing
 * bit pattern and every non-alphabet byte), every cap, and random strings.
 */
static void
test_b64url_public_same(void)
{
	char in[48];
	unsigned long bad = 0, ok = 0;
	uint32_t x = 12345;

	memcpy(in, "Zm9v", 4);
	for (unsigned int c0 = 0; c0 < 256; c0++) {
		for (unsigned int c1 = 0; c1 < 256; c1++) {
			in[4] = (char)c0;
			in[5] = (char)c1;
			bad += !same_decode(in, 5, 16) + !same_decode(in, 6, 16) +
			    !same_decode(in, 6, 3) + !same_decode(in, 6, 4);
			in[6] = 'A';
			bad += !same_decode(in, 7, 16);
			in[6] = 'B';
			bad += !same_decode(in, 7, 16);
			in[6] = (char)(c0 ^ c1);
			bad += !same_decode(in, 7, 16) + !same_decode(in, 7, 5);
			in[7] = (char)c1;
			in[4] = 'Q';
			bad += !same_decode(in, 8, 16) + !same_decode(in, 8, 6);
			ok += kw_b64url_decode_public(in, 6, (uint8_t[16]){0}, 16,
			    &(size_t){0}) == 0;
		}
	}
	CHECKF(bad == 0, "%lu inputs decoded differently", bad);
	CU_ASSERT(ok > 0);    /* some of them were valid */
	for (int round = 0; round < 20000; round++) {
		size_t n;

		x = x * 1103515245U + 12345U;
		n = (x >> 16) % sizeof(in);
		for (size_t i = 0; i < n; i++) {
			x = x * 1103515245U + 12345U;
			/* mostly alphabet, sometimes anything */
			in[i] = (x >> 24) % 16 == 0 ? (char)(x >> 16) :
			    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[(x >> 16) % 64];
		}
		bad += !same_decode(in, n, sizeof(in)) + !same_decode(in, n, n / 2);
	}
	CHECKF(bad == 0, "%lu random inputs decoded differently", bad);
	{
		uint8_t *p = NULL;
		size_t len = 0;

		CU_ASSERT_EQUAL_FATAL(kw_b64url_decode_public_alloc("Zm9vYmE", 7, 8, &p, &len), 0);
		CU_ASSERT(len == 5 && memcmp(p, "fooba", 5) == 0);
		free(p);
		CU_ASSERT_EQUAL(kw_b64url_decode_public_alloc("Zm9vYmF", 7, 8, &p, &len),
		    KW_ERR_INVALID_FORMAT);
		CU_ASSERT_EQUAL(kw_b64url_decode_public_alloc("Zm9vYmE", 7, 4, &p, &len),
		    KW_ERR_TOO_LARGE);
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
	    TEST_ADD(s, test_b64url_max) | TEST_ADD(s, test_b64url_roundtrip) |
	    TEST_ADD(s, test_b64url_public_same);
}
