/* SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>
#include <string.h>

#include "kw_b64url.h"

static const char b64url_alpha[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t
kw_b64url_enclen(size_t n)
{
	return (n / 3) * 4 + ((n % 3) == 0 ? 0 : (n % 3) + 1);
}

int
kw_b64url_encode(const void *in, size_t n, char **ret)
{
	const uint8_t *p = in;
	char *out, *o;
	size_t i;

	if (n > (SIZE_MAX / 4) - 4)
		return KW_ERR_TOO_LARGE;
	if ((out = malloc(kw_b64url_enclen(n) + 1)) == NULL)
		return KW_ERR_NOMEM;
	o = out;
	for (i = 0; i + 3 <= n; i += 3) {
		uint32_t v = ((uint32_t)p[i] << 16) | ((uint32_t)p[i + 1] << 8) | p[i + 2];
		*o++ = b64url_alpha[(v >> 18) & 63];
		*o++ = b64url_alpha[(v >> 12) & 63];
		*o++ = b64url_alpha[(v >> 6) & 63];
		*o++ = b64url_alpha[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)p[i] << 16;
		*o++ = b64url_alpha[(v >> 18) & 63];
		*o++ = b64url_alpha[(v >> 12) & 63];
	} else if (n - i == 2) {
		uint32_t v = ((uint32_t)p[i] << 16) | ((uint32_t)p[i + 1] << 8);
		*o++ = b64url_alpha[(v >> 18) & 63];
		*o++ = b64url_alpha[(v >> 12) & 63];
		*o++ = b64url_alpha[(v >> 6) & 63];
	}
	*o = '\0';
	*ret = out;
	return 0;
}

/*
 * Constant-time symbol decode (after libsodium's b64_char_to_urlsafe_byte):
 * returns 0..63, or 0xff for a symbol outside the alphabet.
 */
static unsigned int
ct_gt(unsigned int x, unsigned int y)
{
	return ((y - x) >> 8) & 0xffU;
}

static unsigned int
ct_ge(unsigned int x, unsigned int y)
{
	return ct_gt(y, x) ^ 0xffU;
}

static unsigned int
ct_le(unsigned int x, unsigned int y)
{
	return ct_ge(y, x);
}

static unsigned int
ct_eq(unsigned int x, unsigned int y)
{
	return (((0U - (x ^ y)) >> 8) & 0xffU) ^ 0xffU;
}

static unsigned int
sym_val(unsigned int c)
{
	unsigned int x;

	x = (ct_ge(c, 'A') & ct_le(c, 'Z') & (c - 'A')) |
	    (ct_ge(c, 'a') & ct_le(c, 'z') & (c - ('a' - 26))) |
	    (ct_ge(c, '0') & ct_le(c, '9') & (c - ('0' - 52))) |
	    (ct_eq(c, '-') & 62U) | (ct_eq(c, '_') & 63U);
	return x | (ct_eq(x, 0) & (ct_eq(c, 'A') ^ 0xffU));
}

int
kw_b64url_decode(const char *in, size_t inlen, uint8_t *out, size_t max, size_t *ret_len)
{
	size_t outlen, o = 0, i;
	uint32_t acc = 0;
	unsigned int bad = 0, nacc = 0;

	if (inlen % 4 == 1)
		return KW_ERR_INVALID_FORMAT;
	outlen = (inlen / 4) * 3 + ((inlen % 4) == 0 ? 0 : (inlen % 4) - 1);
	if (outlen > max)
		return KW_ERR_TOO_LARGE;
	for (i = 0; i < inlen; i++) {
		unsigned int v = sym_val((unsigned char)in[i]);

		bad |= (v >> 6) & 1U;    /* 0xff has bit 6 set; 0..63 do not */
		acc = (acc << 6) | (v & 63U);
		nacc += 6;
		if (nacc >= 8) {
			nacc -= 8;
			out[o++] = (uint8_t)((acc >> nacc) & 0xffU);
		}
	}
	/* leftover bits must be zero (canonical encoding) */
	if (nacc > 0 && (acc & ((1U << nacc) - 1U)) != 0)
		bad = 1;
	if (bad) {
		memset(out, 0, o);
		return KW_ERR_INVALID_FORMAT;
	}
	*ret_len = o;
	return 0;
}

/*
 * Symbol values for public input: 0..63, or 0xff outside the alphabet.
 * Indexed by the symbol, so the time depends on the data (not for secrets).
 */
#define X 0xff
static const uint8_t pub_val[256] = {
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, 62, X, X,
	52, 53, 54, 55, 56, 57, 58, 59, 60, 61, X, X, X, X, X, X,
	X, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
	15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, X, X, X, X, 63,
	X, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
	41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
};
#undef X

int
kw_b64url_decode_public(const char *in, size_t inlen, uint8_t *out, size_t max, size_t *ret_len)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t outlen, o = 0, i = 0, rest;
	uint32_t v;

	if (inlen % 4 == 1)
		return KW_ERR_INVALID_FORMAT;
	outlen = (inlen / 4) * 3 + ((inlen % 4) == 0 ? 0 : (inlen % 4) - 1);
	if (outlen > max)
		return KW_ERR_TOO_LARGE;
	/* whole quanta: four symbols, three bytes; a bad symbol sets bit 6+ of the OR */
	for (; i + 4 <= inlen; i += 4) {
		uint32_t a = pub_val[p[i]], b = pub_val[p[i + 1]], c = pub_val[p[i + 2]],
		    d = pub_val[p[i + 3]];

		if (((a | b | c | d) & 0xc0U) != 0)
			goto bad;
		v = (a << 18) | (b << 12) | (c << 6) | d;
		out[o++] = (uint8_t)(v >> 16);
		out[o++] = (uint8_t)(v >> 8);
		out[o++] = (uint8_t)v;
	}
	rest = inlen - i;
	if (rest >= 2) {
		uint32_t a = pub_val[p[i]], b = pub_val[p[i + 1]];
		uint32_t c = rest == 3 ? pub_val[p[i + 2]] : 0;

		if (((a | b | c) & 0xc0U) != 0)
			goto bad;
		v = (a << 18) | (b << 12) | (c << 6);
		/* the unused low bits of the last symbol must be zero (canonical) */
		if ((rest == 2 && (v & 0xffffU) != 0) || (rest == 3 && (v & 0xffU) != 0))
			goto bad;
		out[o++] = (uint8_t)(v >> 16);
		if (rest == 3)
			out[o++] = (uint8_t)(v >> 8);
	}
	*ret_len = o;
	return 0;
bad:
	memset(out, 0, o);
	return KW_ERR_INVALID_FORMAT;
}

typedef int (*decode_fn)(const char *, size_t, uint8_t *, size_t, size_t *);

static int
decode_alloc(decode_fn fn, const char *in, size_t inlen, size_t max, uint8_t **ret,
    size_t *ret_len)
{
	uint8_t *buf;
	size_t cap, len;
	int r;

	cap = (inlen / 4) * 3 + 3;
	if (cap > max)
		cap = max;
	if ((buf = malloc(cap == 0 ? 1 : cap)) == NULL)
		return KW_ERR_NOMEM;
	if ((r = fn(in, inlen, buf, cap, &len)) != 0) {
		free(buf);
		return r;
	}
	*ret = buf;
	*ret_len = len;
	return 0;
}

int
kw_b64url_decode_alloc(const char *in, size_t inlen, size_t max, uint8_t **ret, size_t *ret_len)
{
	return decode_alloc(kw_b64url_decode, in, inlen, max, ret, ret_len);
}

int
kw_b64url_decode_public_alloc(const char *in, size_t inlen, size_t max, uint8_t **ret,
    size_t *ret_len)
{
	return decode_alloc(kw_b64url_decode_public, in, inlen, max, ret, ret_len);
}
