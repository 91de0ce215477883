/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The CBOR layer of the CCA verifier: a bounded pre-scan with libcbor's
 * streaming decoder before libcbor builds any tree, and the accessors the
 * token code uses on that tree. libcbor's loader allocates a definite
 * array or map for the count its header declares before the items arrive,
 * so the pre-scan refuses counts larger than the bytes left (every item
 * takes at least one byte), indefinite lengths (the CCA token is
 * definite-length CBOR) and nesting deeper than CCA_MAX_DEPTH; it also finds
 * the end of the one top-level item, so truncation and trailing bytes are
 * told apart.
 */
#include <string.h>

#include <cbor.h>

#include "cca.h"
#include "cca_int.h"

struct scan {
	size_t left;                        /* bytes from the current item's header to the end */
	uint64_t need[CCA_MAX_DEPTH];       /* items still to come in each open container */
	size_t depth;
	int err;
	int done;
};

/* One item is complete: close every container it completes. */
static void
scan_item(struct scan *s)
{
	while (s->depth > 0) {
		if (--s->need[s->depth - 1] > 0)
			return;
		s->depth--;
	}
	s->done = 1;
}

static void
scan_open(struct scan *s, uint64_t n)
{
	if (n == 0) {
		scan_item(s);
		return;
	}
	if (s->depth == CCA_MAX_DEPTH) {
		s->err = KW_ERR_INVALID_FORMAT;
		return;
	}
	s->need[s->depth++] = n;
}

static void
scan_bad(void *ctx)
{
	((struct scan *)ctx)->err = KW_ERR_INVALID_FORMAT;
}

static void
scan_leaf(void *ctx)
{
	scan_item(ctx);
}

static void scan_u8(void *ctx, uint8_t v) { (void)v; scan_item(ctx); }
static void scan_u16(void *ctx, uint16_t v) { (void)v; scan_item(ctx); }
static void scan_u32(void *ctx, uint32_t v) { (void)v; scan_item(ctx); }
static void scan_u64(void *ctx, uint64_t v) { (void)v; scan_item(ctx); }
static void scan_str(void *ctx, cbor_data d, size_t n) { (void)d; (void)n; scan_item(ctx); }
static void scan_f(void *ctx, float v) { (void)v; scan_item(ctx); }
static void scan_d(void *ctx, double v) { (void)v; scan_item(ctx); }
static void scan_b(void *ctx, bool v) { (void)v; scan_item(ctx); }

static void
scan_array(void *ctx, size_t n)
{
	struct scan *s = ctx;

	if (n > s->left)
		s->err = KW_ERR_INVALID_FORMAT;
	else
		scan_open(s, n);
}

static void
scan_map(void *ctx, size_t n)
{
	struct scan *s = ctx;

	if (n > s->left / 2)
		s->err = KW_ERR_INVALID_FORMAT;
	else
		scan_open(s, 2 * (uint64_t)n);
}

static void
scan_tag(void *ctx, uint64_t v)
{
	(void)v;
	scan_open(ctx, 1);
}

static const struct cbor_callbacks scan_cb = {
	.uint8 = scan_u8, .uint16 = scan_u16, .uint32 = scan_u32, .uint64 = scan_u64,
	.negint8 = scan_u8, .negint16 = scan_u16, .negint32 = scan_u32, .negint64 = scan_u64,
	.byte_string_start = scan_bad, .byte_string = scan_str,
	.string_start = scan_bad, .string = scan_str,
	.indef_array_start = scan_bad, .array_start = scan_array,
	.indef_map_start = scan_bad, .map_start = scan_map,
	.tag = scan_tag,
	.float2 = scan_f, .float4 = scan_f, .float8 = scan_d,
	.undefined = scan_leaf, .null = scan_leaf, .boolean = scan_b,
	.indef_break = scan_bad,
};

int
cca_cbor_scan(const uint8_t *buf, size_t len)
{
	struct scan s;
	size_t off = 0;

	if (buf == NULL && len > 0)
		return KW_ERR_INVALID_ARG;
	if (len > CCA_MAX_TOKEN)
		return KW_ERR_TOO_LARGE;
	memset(&s, 0, sizeof(s));
	while (!s.done) {
		struct cbor_decoder_result res;

		if (off == len)
			return KW_ERR_TRUNCATED;
		s.left = len - off;
		res = cbor_stream_decode(buf + off, len - off, &scan_cb, &s);
		if (res.status == CBOR_DECODER_NEDATA)
			return KW_ERR_TRUNCATED;
		if (res.status != CBOR_DECODER_FINISHED || res.read == 0 || res.read > len - off)
			return KW_ERR_INVALID_FORMAT;
		if (s.err != 0)
			return s.err;
		off += res.read;
	}
	return off == len ? 0 : KW_ERR_TRAILING;
}

int
cca_cbor_load(const uint8_t *buf, size_t len, cbor_item_t **ret)
{
	struct cbor_load_result res;
	cbor_item_t *it;
	int r;

	if ((r = cca_cbor_scan(buf, len)) != 0)
		return r;
	it = cbor_load(buf, len, &res);
	if (it == NULL)
		return res.error.code == CBOR_ERR_MEMERROR ? KW_ERR_NOMEM : KW_ERR_INVALID_FORMAT;
	if (res.read != len) {   /* the scan said otherwise: never trust a disagreement */
		cbor_decref(&it);
		return KW_ERR_INVALID_FORMAT;
	}
	*ret = it;
	return 0;
}

/* Key identity for the duplicate check: unsigned, negative and text keys only. */
static int
key_eq(const cbor_item_t *a, const cbor_item_t *b)
{
	if (cbor_typeof(a) != cbor_typeof(b))
		return 0;
	if (cbor_isa_uint(a) || cbor_isa_negint(a))
		return cbor_get_int(a) == cbor_get_int(b);
	return cbor_string_length(a) == cbor_string_length(b) &&
	    memcmp(cbor_string_handle(a), cbor_string_handle(b), cbor_string_length(a)) == 0;
}

int
cca_map_check(const cbor_item_t *m, size_t max)
{
	struct cbor_pair *p;
	size_t n;

	if (m == NULL || !cbor_isa_map(m) || !cbor_map_is_definite(m))
		return KW_ERR_INVALID_FORMAT;
	if ((n = cbor_map_size(m)) > max)
		return KW_ERR_TOO_LARGE;
	p = cbor_map_handle(m);
	for (size_t i = 0; i < n; i++) {
		if (!cbor_isa_uint(p[i].key) && !cbor_isa_negint(p[i].key) &&
		    !(cbor_isa_string(p[i].key) && cbor_string_is_definite(p[i].key)))
			return KW_ERR_INVALID_FORMAT;
		for (size_t j = 0; j < i; j++)
			if (key_eq(p[i].key, p[j].key))
				return KW_ERR_INVALID_FORMAT;
	}
	return 0;
}

const cbor_item_t *
cca_map_get(const cbor_item_t *m, int64_t key)
{
	struct cbor_pair *p = cbor_map_handle(m);
	size_t n = cbor_map_size(m);

	for (size_t i = 0; i < n; i++) {
		uint64_t v;

		if (!cbor_isa_uint(p[i].key) && !cbor_isa_negint(p[i].key))
			continue;
		v = cbor_get_int(p[i].key);
		if (cbor_isa_uint(p[i].key) && key >= 0 && v == (uint64_t)key)
			return p[i].value;
		if (cbor_isa_negint(p[i].key) && key < 0 && v == (uint64_t)(-(key + 1)))
			return p[i].value;
	}
	return NULL;
}

int
cca_map_only(const cbor_item_t *m, const int64_t *known, size_t nknown)
{
	struct cbor_pair *p = cbor_map_handle(m);
	size_t n = cbor_map_size(m);

	for (size_t i = 0; i < n; i++) {
		int ok = 0;

		for (size_t k = 0; k < nknown && !ok; k++)
			ok = cca_map_get(m, known[k]) == p[i].value;
		if (!ok)
			return KW_ERR_INVALID_FORMAT;
	}
	return 0;
}

int
cca_bstr(const cbor_item_t *it, size_t min, size_t max, const uint8_t **ret, size_t *ret_len)
{
	size_t n;

	if (it == NULL || !cbor_isa_bytestring(it) || !cbor_bytestring_is_definite(it))
		return KW_ERR_INVALID_FORMAT;
	n = cbor_bytestring_length(it);
	if (n < min || n > max)
		return KW_ERR_INVALID_FORMAT;
	*ret = n > 0 ? cbor_bytestring_handle(it) : (const uint8_t *)"";
	*ret_len = n;
	return 0;
}

int
cca_tstr(const cbor_item_t *it, size_t max, char *out, size_t outlen)
{
	const uint8_t *s;
	size_t n;

	if (it == NULL || !cbor_isa_string(it) || !cbor_string_is_definite(it))
		return KW_ERR_INVALID_FORMAT;
	n = cbor_string_length(it);
	if (n == 0 || n > max || n >= outlen)
		return KW_ERR_INVALID_FORMAT;
	s = cbor_string_handle(it);
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)   /* printable ASCII: claims become JSON and logs */
			return KW_ERR_INVALID_FORMAT;
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}

int
cca_int(const cbor_item_t *it, int64_t *ret)
{
	uint64_t v;

	if (it == NULL || (!cbor_isa_uint(it) && !cbor_isa_negint(it)))
		return KW_ERR_INVALID_FORMAT;
	v = cbor_get_int(it);
	if (v > (uint64_t)INT64_MAX)
		return KW_ERR_INVALID_FORMAT;
	*ret = cbor_isa_uint(it) ? (int64_t)v : -(int64_t)v - 1;
	return 0;
}

int
cca_sig_structure(const uint8_t *prot, size_t prot_len, const uint8_t *payload, size_t payload_len,
    uint8_t **ret, size_t *ret_len)
{
	cbor_item_t *a = NULL, *items[4] = {NULL, NULL, NULL, NULL};
	unsigned char *buf = NULL;
	size_t bufsize = 0, n;
	int r = KW_ERR_NOMEM;

	/* COSE (RFC 9052 §4.4): ["Signature1", body_protected, external_aad = h'', payload] */
	if ((a = cbor_new_definite_array(4)) == NULL ||
	    (items[0] = cbor_build_string("Signature1")) == NULL ||
	    (items[1] = cbor_build_bytestring(prot, prot_len)) == NULL ||
	    (items[2] = cbor_new_definite_bytestring()) == NULL ||
	    (items[3] = cbor_build_bytestring(payload, payload_len)) == NULL)
		goto out;
	for (size_t i = 0; i < 4; i++)
		if (!cbor_array_push(a, items[i]))
			goto out;
	if ((n = cbor_serialize_alloc(a, &buf, &bufsize)) == 0)
		goto out;
	*ret = buf;
	*ret_len = n;
	buf = NULL;   /* transferred */
	r = 0;
out:
	for (size_t i = 0; i < 4; i++)
		if (items[i] != NULL)
			cbor_decref(&items[i]);
	if (a != NULL)
		cbor_decref(&a);
	free(buf);
	return r;
}
