/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "kw_rd.h"
#include "test_common.h"

static const uint8_t data[16] = {
	0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
	0x89, 0x9a, 0xab, 0xbc, 0xcd, 0xde, 0xef, 0xf0,
};

enum rd_op { OP_U8, OP_U16LE, OP_U32LE, OP_U64LE, OP_U16BE, OP_U32BE, OP_U64BE, OP_BYTES,
	OP_COPY, OP_SKIP, OP_SUB, OP__N };

static const size_t op_width[OP__N] = {1, 2, 4, 8, 2, 4, 8, 5, 5, 5, 5};

/* Run op at offset off with avail bytes left; check value or unchanged reader. */
static void
check_op(enum rd_op op, size_t off, size_t avail)
{
	struct kw_rd rd, before, sub = {NULL, 777};
	const uint8_t *view = NULL;
	uint8_t u8 = 0x5a, copy[8] = {0};
	uint16_t u16 = 0x5a5a;
	uint32_t u32 = 0x5a5a5a5a;
	uint64_t u64 = 0x5a5a5a5a5a5a5a5aULL, want = 0;
	size_t w = op_width[op];
	int r = 0;

	kw_rd_init(&rd, data + off, avail);
	before = rd;
	switch (op) {
	case OP_U8: r = kw_rd_u8(&rd, &u8); u64 = u8; break;
	case OP_U16LE: r = kw_rd_u16le(&rd, &u16); u64 = u16; break;
	case OP_U32LE: r = kw_rd_u32le(&rd, &u32); u64 = u32; break;
	case OP_U64LE: r = kw_rd_u64le(&rd, &u64); break;
	case OP_U16BE: r = kw_rd_u16be(&rd, &u16); u64 = u16; break;
	case OP_U32BE: r = kw_rd_u32be(&rd, &u32); u64 = u32; break;
	case OP_U64BE: r = kw_rd_u64be(&rd, &u64); break;
	case OP_BYTES: r = kw_rd_bytes(&rd, w, &view); break;
	case OP_COPY: r = kw_rd_copy(&rd, copy, w); break;
	case OP_SKIP: r = kw_rd_skip(&rd, w); break;
	case OP_SUB: r = kw_rd_sub(&rd, w, &sub); break;
	case OP__N: break;
	}
	if (avail < w) {
		CU_ASSERT_EQUAL(r, KW_ERR_TRUNCATED);
		CU_ASSERT_PTR_EQUAL(rd.p, before.p);
		CU_ASSERT_EQUAL(rd.len, before.len);
		/* outputs untouched */
		CU_ASSERT_EQUAL(u8, 0x5a);
		CU_ASSERT_EQUAL(u16, 0x5a5a);
		CU_ASSERT_EQUAL(u32, 0x5a5a5a5a);
		if (op == OP_U64LE || op == OP_U64BE)
			CU_ASSERT_EQUAL(u64, 0x5a5a5a5a5a5a5a5aULL);
		CU_ASSERT_PTR_NULL(view);
		CU_ASSERT_EQUAL(copy[0], 0);
		CU_ASSERT_EQUAL(sub.len, 777);
		return;
	}
	CU_ASSERT_EQUAL(r, 0);
	CU_ASSERT_PTR_EQUAL(rd.p, data + off + w);
	CU_ASSERT_EQUAL(rd.len, avail - w);
	switch (op) {
	case OP_U8: case OP_U16LE: case OP_U32LE: case OP_U64LE:
		for (size_t i = w; i > 0; i--)
			want = (want << 8) | data[off + i - 1];
		CU_ASSERT_EQUAL(u64, want);
		break;
	case OP_U16BE: case OP_U32BE: case OP_U64BE:
		for (size_t i = 0; i < w; i++)
			want = (want << 8) | data[off + i];
		CU_ASSERT_EQUAL(u64, want);
		break;
	case OP_BYTES:
		CU_ASSERT_PTR_EQUAL(view, data + off);
		break;
	case OP_COPY:
		CU_ASSERT(memcmp(copy, data + off, w) == 0);
		break;
	case OP_SUB:
		CU_ASSERT_PTR_EQUAL(sub.p, data + off);
		CU_ASSERT_EQUAL(sub.len, w);
		break;
	case OP_SKIP: case OP__N:
		break;
	}
}

static void
test_rd_every_truncation(void)
{
	for (int op = 0; op < OP__N; op++) {
		for (size_t off = 0; off < sizeof(data); off++) {
			for (size_t avail = 0; off + avail <= sizeof(data); avail++)
				check_op((enum rd_op)op, off, avail);
		}
	}
}

static void
test_rd_values(void)
{
	struct kw_rd rd;
	uint16_t a;
	uint32_t b;
	uint64_t c;

	kw_rd_init(&rd, data, sizeof(data));
	CU_ASSERT_EQUAL(kw_rd_u16le(&rd, &a), 0);
	CU_ASSERT_EQUAL(a, 0x0201);
	CU_ASSERT_EQUAL(kw_rd_u32be(&rd, &b), 0);
	CU_ASSERT_EQUAL(b, 0x03040506);
	CU_ASSERT_EQUAL(kw_rd_skip(&rd, 2), 0);
	CU_ASSERT_EQUAL(kw_rd_u64le(&rd, &c), 0);
	CU_ASSERT_EQUAL(c, 0xf0efdecdbcab9a89ULL);
	CU_ASSERT_EQUAL(kw_rd_end(&rd), 0);
	kw_rd_init(&rd, data + 8, 8);
	CU_ASSERT_EQUAL(kw_rd_u64be(&rd, &c), 0);
	CU_ASSERT_EQUAL(c, 0x899aabbccddeeff0ULL);
}

static void
test_rd_sub_end(void)
{
	struct kw_rd rd, sub;
	uint8_t v;

	kw_rd_init(&rd, data, sizeof(data));
	CU_ASSERT_EQUAL(kw_rd_end(&rd), KW_ERR_TRAILING);
	CU_ASSERT_EQUAL(kw_rd_sub(&rd, 3, &sub), 0);
	CU_ASSERT_EQUAL(rd.len, 13);
	/* the child cannot read past its own bound */
	CU_ASSERT_EQUAL(kw_rd_skip(&sub, 4), KW_ERR_TRUNCATED);
	CU_ASSERT_EQUAL(kw_rd_skip(&sub, 2), 0);
	CU_ASSERT_EQUAL(kw_rd_u8(&sub, &v), 0);
	CU_ASSERT_EQUAL(v, 0x03);
	CU_ASSERT_EQUAL(kw_rd_u8(&sub, &v), KW_ERR_TRUNCATED);
	CU_ASSERT_EQUAL(kw_rd_end(&sub), 0);
	CU_ASSERT_EQUAL(kw_rd_u8(&rd, &v), 0);
	CU_ASSERT_EQUAL(v, 0x04);
	/* huge lengths never wrap */
	CU_ASSERT_EQUAL(kw_rd_skip(&rd, SIZE_MAX), KW_ERR_TRUNCATED);
	CU_ASSERT_EQUAL(kw_rd_sub(&rd, SIZE_MAX - 1, &sub), KW_ERR_TRUNCATED);
	CU_ASSERT_EQUAL(rd.len, 12);
	/* zero-length reads succeed, also on an empty or NULL reader */
	CU_ASSERT_EQUAL(kw_rd_skip(&rd, 0), 0);
	kw_rd_init(&rd, NULL, 10);
	CU_ASSERT_EQUAL(rd.len, 0);
	CU_ASSERT_EQUAL(kw_rd_skip(&rd, 0), 0);
	CU_ASSERT_EQUAL(kw_rd_u8(&rd, &v), KW_ERR_TRUNCATED);
	CU_ASSERT_EQUAL(kw_rd_end(&rd), 0);
}

int
test_rd_register(void)
{
	CU_pSuite s = CU_add_suite("rd", NULL, NULL);

	if (s == NULL)
		return -1;
	return TEST_ADD(s, test_rd_every_truncation) | TEST_ADD(s, test_rd_values) |
	    TEST_ADD(s, test_rd_sub_end);
}
