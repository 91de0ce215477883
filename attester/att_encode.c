/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The released key as kwget writes it (--format raw|hex|base64): hex and
 * base64 without tables indexed by, or branches on, the key's bytes, into
 * kw_secret memory.
 */
#include <stdint.h>
#include <string.h>

#include "attester.h"

/* Constant-time hex digit (lower case) of a nibble: no table, no branch on the value. */
static char
hex_digit(unsigned int v)
{
	/* v < 10: '0' + v; else 'a' + v - 10; the mask is all ones when v > 9 */
	unsigned int gt9 = (9u - v) >> 8 & 0xffu;

	return (char)('0' + v + (gt9 & 39u));
}

/* Constant-time base64 (RFC 4648 alphabet) character of a 6-bit value. */
static char
b64_char(unsigned int v)
{
	unsigned int c = v + 'A';

	c += ((25u - v) >> 8) & 6u;           /* v >= 26: 'a' - 'A' - 26 = 6 */
	c -= ((51u - v) >> 8) & 75u;          /* v >= 52: '0' - 'a' - 26 = -75 */
	c -= ((61u - v) >> 8) & 15u;          /* v == 62: '+' - '0' - 10 = -15 */
	c += ((62u - v) >> 8) & 3u;           /* v == 63: '/' - '+' - 1 = 3 */
	return (char)c;
}

int
att_key_encode(enum att_key_format fmt, const uint8_t *k, size_t n, struct kw_secret **ret)
{
	struct kw_secret *s = NULL;
	uint8_t *o;
	size_t len, j = 0;
	int r;

	if (k == NULL || n == 0 || n > ATT_MAX_PLAINTEXT || ret == NULL)
		return KW_ERR_INVALID_ARG;
	if (fmt == ATT_KEY_RAW)
		return kw_secret_from(k, n, ret);
	len = fmt == ATT_KEY_HEX ? 2 * n : 4 * ((n + 2) / 3);
	if ((r = kw_secret_new(len, &s)) != 0)
		return r;
	o = kw_secret_ptr(s);
	if (fmt == ATT_KEY_HEX) {
		for (size_t i = 0; i < n; i++) {
			o[j++] = (uint8_t)hex_digit(k[i] >> 4);
			o[j++] = (uint8_t)hex_digit(k[i] & 0xfu);
		}
	} else {
		for (size_t i = 0; i < n; i += 3) {
			unsigned int b0 = k[i], b1 = i + 1 < n ? k[i + 1] : 0, b2 = i + 2 < n ? k[i + 2] : 0;
			unsigned int w = b0 << 16 | b1 << 8 | b2;

			o[j++] = (uint8_t)b64_char(w >> 18 & 63u);
			o[j++] = (uint8_t)b64_char(w >> 12 & 63u);
			o[j++] = i + 1 < n ? (uint8_t)b64_char(w >> 6 & 63u) : '=';
			o[j++] = i + 2 < n ? (uint8_t)b64_char(w & 63u) : '=';
		}
	}
	*ret = s;   /* transferred */
	return 0;
}
