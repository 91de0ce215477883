/* SPDX-License-Identifier: Apache-2.0 */
/*
 * RFC 8785 JSON Canonicalization Scheme. Output is built in a growing buffer
 * that is wiped when it grows or on failure (the input may hold key material).
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kw_json.h"
#include "kw_util.h"

#define JCS_MAX_DEPTH 64
#define JCS_MAX_OUT (64U * 1024 * 1024)

struct jcs_buf {
	char *p;
	size_t len, cap;
};

static int
jb_put(struct jcs_buf *b, const void *s, size_t n)
{
	if (n > JCS_MAX_OUT - b->len)
		return KW_ERR_TOO_LARGE;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap == 0 ? 256 : b->cap;
		char *np;

		while (cap < b->len + n + 1)
			cap *= 2;
		/* allocate, copy, wipe old: no realloc on buffers that may hold secrets */
		if ((np = malloc(cap)) == NULL)
			return KW_ERR_NOMEM;
		if (b->len > 0)
			memcpy(np, b->p, b->len);
		kw_free_wipe(b->p);
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

static int
jb_puts(struct jcs_buf *b, const char *s)
{
	return jb_put(b, s, strlen(s));
}

/*
 * Decode one UTF-8 sequence at s[*i..n) (strict: no overlongs, surrogates
 * or values past U+10FFFF). Returns the code point or -1.
 */
static long
utf8_next(const unsigned char *s, size_t n, size_t *i)
{
	unsigned char c = s[*i];
	long cp, min;
	size_t len;

	if (c < 0x80) {
		(*i)++;
		return c;
	} else if ((c & 0xe0) == 0xc0) {
		len = 2, cp = c & 0x1f, min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		len = 3, cp = c & 0x0f, min = 0x800;
	} else if ((c & 0xf8) == 0xf0) {
		len = 4, cp = c & 0x07, min = 0x10000;
	} else {
		return -1;
	}
	if (len > n - *i)
		return -1;
	for (size_t k = 1; k < len; k++) {
		if ((s[*i + k] & 0xc0) != 0x80)
			return -1;
		cp = (cp << 6) | (s[*i + k] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*i += len;
	return cp;
}

/* UTF-16 code units of a UTF-8 string into a new array. */
static int
utf16_of(const char *s, size_t n, uint16_t **ret, size_t *ret_n)
{
	uint16_t *u;
	size_t i = 0, o = 0;

	/* at most one unit per input byte */
	if ((u = malloc((n == 0 ? 1 : n) * sizeof(*u))) == NULL)
		return KW_ERR_NOMEM;
	while (i < n) {
		long cp = utf8_next((const unsigned char *)s, n, &i);

		if (cp < 0) {
			free(u);
			return KW_ERR_INVALID_FORMAT;
		}
		if (cp >= 0x10000) {
			cp -= 0x10000;
			u[o++] = (uint16_t)(0xd800 + (cp >> 10));
			u[o++] = (uint16_t)(0xdc00 + (cp & 0x3ff));
		} else {
			u[o++] = (uint16_t)cp;
		}
	}
	*ret = u;
	*ret_n = o;
	return 0;
}

static int
put_string(struct jcs_buf *b, const char *s, size_t n)
{
	size_t i = 0, run;
	int r;

	if ((r = jb_put(b, "\"", 1)) != 0)
		return r;
	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		char esc[8];
		const char *e = NULL;

		if (c >= 0x80) {
			/* validate, copy the sequence verbatim */
			run = i;
			if (utf8_next((const unsigned char *)s, n, &i) < 0)
				return KW_ERR_INVALID_FORMAT;
			if ((r = jb_put(b, s + run, i - run)) != 0)
				return r;
			continue;
		}
		switch (c) {
		case '\b': e = "\\b"; break;
		case '\t': e = "\\t"; break;
		case '\n': e = "\\n"; break;
		case '\f': e = "\\f"; break;
		case '\r': e = "\\r"; break;
		case '"': e = "\\\""; break;
		case '\\': e = "\\\\"; break;
		default:
			if (c < 0x20) {
				snprintf(esc, sizeof(esc), "\\u%04x", c);
				e = esc;
			}
			break;
		}
		if ((r = (e != NULL ? jb_puts(b, e) : jb_put(b, &s[i], 1))) != 0)
			return r;
		i++;
	}
	return jb_put(b, "\"", 1);
}

/*
 * Shortest digit string d (k digits, no trailing zeros) and decimal point
 * position n such that 0.d * 10^n round-trips to v (v finite, > 0).
 * Tries the correctly rounded p-digit value for p = 1..17, and its two
 * neighbours, because at a power of two the round-trip interval is
 * asymmetric and the nearest p-digit value may fall out of it.
 */
static int
shortest_digits(double v, char digits[static 20], int *ret_n)
{
	for (int p = 1; p <= 17; p++) {
		char s[40], *e;
		uint64_t m = 0;
		int exp10, nd = 0;

		snprintf(s, sizeof(s), "%.*e", p - 1, v);
		/* s is "D[.DDD]e[+-]XX" */
		for (e = s; *e != 'e'; e++) {
			if (*e >= '0' && *e <= '9') {
				m = m * 10 + (uint64_t)(*e - '0');
				nd++;
			}
		}
		exp10 = (int)strtol(e + 1, NULL, 10) - (nd - 1);    /* v ~ m * 10^exp10 */
		for (int delta = 0; delta < 3; delta++) {
			uint64_t c = delta == 0 ? m : delta == 1 ? m - 1 : m + 1;
			char t[48], ds[24];
			int k;

			if (c == 0)
				continue;
			snprintf(t, sizeof(t), "%" PRIu64 "e%d", c, exp10);
			if (strtod(t, NULL) != v)
				continue;
			k = snprintf(ds, sizeof(ds), "%" PRIu64, c);
			if (k <= 0 || k > 18)
				return KW_ERR_INTERNAL;
			/* c * 10^exp10 = 0.ds * 10^(k + exp10) */
			*ret_n = k + exp10;
			while (k > 1 && ds[k - 1] == '0')
				ds[--k] = '\0';
			memcpy(digits, ds, (size_t)k + 1);
			return 0;
		}
	}
	return KW_ERR_INTERNAL;
}

/* ECMAScript Number.prototype.toString (ES2019 7.1.12.1) for finite v. */
static int
put_double(struct jcs_buf *b, double v)
{
	char d[20], out[64];
	int n, k, r, o = 0;

	if (!isfinite(v))
		return KW_ERR_INVALID_FORMAT;
	if (v == 0)
		return jb_put(b, "0", 1);    /* also -0 */
	if (v < 0) {
		out[o++] = '-';
		v = -v;
	}
	if ((r = shortest_digits(v, d, &n)) != 0)
		return r;
	k = (int)strlen(d);
	if (k <= n && n <= 21) {
		memcpy(out + o, d, (size_t)k);
		o += k;
		for (int i = 0; i < n - k; i++)
			out[o++] = '0';
	} else if (0 < n && n <= 21) {
		memcpy(out + o, d, (size_t)n);
		o += n;
		out[o++] = '.';
		memcpy(out + o, d + n, (size_t)(k - n));
		o += k - n;
	} else if (-6 < n && n <= 0) {
		out[o++] = '0';
		out[o++] = '.';
		for (int i = 0; i < -n; i++)
			out[o++] = '0';
		memcpy(out + o, d, (size_t)k);
		o += k;
	} else {
		out[o++] = d[0];
		if (k > 1) {
			out[o++] = '.';
			memcpy(out + o, d + 1, (size_t)(k - 1));
			o += k - 1;
		}
		o += snprintf(out + o, sizeof(out) - (size_t)o, "e%c%d", n - 1 >= 0 ? '+' : '-',
		    n - 1 >= 0 ? n - 1 : 1 - n);
	}
	return jb_put(b, out, (size_t)o);
}

struct jcs_member {
	const char *key;
	size_t klen;
	uint16_t *u16;
	size_t n16;
	json_t *val;
};

static int
member_cmp(const void *a, const void *b)
{
	const struct jcs_member *x = a, *y = b;
	size_t n = x->n16 < y->n16 ? x->n16 : y->n16;

	for (size_t i = 0; i < n; i++) {
		if (x->u16[i] != y->u16[i])
			return x->u16[i] < y->u16[i] ? -1 : 1;
	}
	return x->n16 < y->n16 ? -1 : x->n16 > y->n16 ? 1 : 0;
}

static int put_value(struct jcs_buf *b, const json_t *v, int depth);

static int
put_object(struct jcs_buf *b, const json_t *v, int depth)
{
	struct jcs_member *m = NULL;
	size_t cnt = json_object_size(v), i = 0;
	void *it;
	int r;

	if (cnt == 0)
		return jb_put(b, "{}", 2);
	if ((m = calloc(cnt, sizeof(*m))) == NULL)
		return KW_ERR_NOMEM;
	/* iteration only reads the object */
	for (it = json_object_iter((json_t *)(uintptr_t)v); it != NULL && i < cnt;
	    it = json_object_iter_next((json_t *)(uintptr_t)v, it), i++) {
		m[i].key = json_object_iter_key(it);
		m[i].klen = json_object_iter_key_len(it);
		m[i].val = json_object_iter_value(it);
		if ((r = utf16_of(m[i].key, m[i].klen, &m[i].u16, &m[i].n16)) != 0)
			goto out;
	}
	if (i != cnt) {
		r = KW_ERR_INTERNAL;
		goto out;
	}
	qsort(m, cnt, sizeof(*m), member_cmp);
	if ((r = jb_put(b, "{", 1)) != 0)
		goto out;
	for (i = 0; i < cnt; i++) {
		if (i > 0 && (r = jb_put(b, ",", 1)) != 0)
			goto out;
		if ((r = put_string(b, m[i].key, m[i].klen)) != 0 || (r = jb_put(b, ":", 1)) != 0 ||
		    (r = put_value(b, m[i].val, depth + 1)) != 0)
			goto out;
	}
	r = jb_put(b, "}", 1);
out:
	for (i = 0; i < cnt; i++)
		free(m[i].u16);
	free(m);
	return r;
}

static int
put_value(struct jcs_buf *b, const json_t *v, int depth)
{
	char num[32];
	int r;

	if (depth > JCS_MAX_DEPTH)
		return KW_ERR_TOO_LARGE;
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return put_object(b, v, depth);
	case JSON_ARRAY:
		if ((r = jb_put(b, "[", 1)) != 0)
			return r;
		for (size_t i = 0; i < json_array_size(v); i++) {
			if (i > 0 && (r = jb_put(b, ",", 1)) != 0)
				return r;
			if ((r = put_value(b, json_array_get(v, i), depth + 1)) != 0)
				return r;
		}
		return jb_put(b, "]", 1);
	case JSON_STRING:
		return put_string(b, json_string_value(v), json_string_length(v));
	case JSON_INTEGER: {
		json_int_t x = json_integer_value(v);
		const json_int_t lim = (json_int_t)1 << 53;

		if (x > lim || x < -lim)
			return KW_ERR_INVALID_FORMAT;
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, x);
		return jb_puts(b, num);
	}
	case JSON_REAL:
		return put_double(b, json_real_value(v));
	case JSON_TRUE:
		return jb_put(b, "true", 4);
	case JSON_FALSE:
		return jb_put(b, "false", 5);
	case JSON_NULL:
		return jb_put(b, "null", 4);
	}
	return KW_ERR_INVALID_FORMAT;
}

int
kw_jcs_serialize(const json_t *v, char **ret, size_t *ret_len)
{
	struct jcs_buf b = {NULL, 0, 0};
	int r;

	if (v == NULL || ret == NULL)
		return KW_ERR_INVALID_ARG;
	if ((r = put_value(&b, v, 0)) != 0)
		goto out;
	if (b.p == NULL && (r = jb_put(&b, "", 0)) != 0)
		goto out;
	*ret = b.p;
	if (ret_len != NULL)
		*ret_len = b.len;
	b.p = NULL;    /* transferred */
	r = 0;
out:
	kw_free_wipe(b.p);
	return r;
}
