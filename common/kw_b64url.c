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

int
kw_b64url_decode_alloc(const char *in, size_t inlen, size_t max, uint8_t **ret, size_t *ret_len)
{
	uint8_t *buf;
	size_t cap, len;
	int r;

	cap = (inlen / 4) * 3 + 3;
	if (cap > max)
		cap = max;
	if ((buf = malloc(cap == 0 ? 1 : cap)) == NULL)
		return KW_ERR_NOMEM;
	if ((r = kw_b64url_decode(in, inlen, buf, cap, &len)) != 0) {
		free(buf);
		return r;
	}
	*ret = buf;
	*ret_len = len;
	return 0;
}
