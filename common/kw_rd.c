/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "kw_rd.h"

void
kw_rd_init(struct kw_rd *rd, const void *p, size_t len)
{
	rd->p = p;
	rd->len = p == NULL ? 0 : len;
}

int
kw_rd_bytes(struct kw_rd *rd, size_t n, const uint8_t **ret)
{
	if (n > rd->len)
		return KW_ERR_TRUNCATED;
	*ret = rd->p;
	if (n > 0) {    /* NULL + 0 is undefined behaviour (empty reader over NULL) */
		rd->p += n;
		rd->len -= n;
	}
	return 0;
}

int
kw_rd_copy(struct kw_rd *rd, void *out, size_t n)
{
	const uint8_t *b;
	int r;

	if ((r = kw_rd_bytes(rd, n, &b)) != 0)
		return r;
	if (n > 0)
		memcpy(out, b, n);
	return 0;
}

int
kw_rd_skip(struct kw_rd *rd, size_t n)
{
	const uint8_t *b;

	return kw_rd_bytes(rd, n, &b);
}

int
kw_rd_sub(struct kw_rd *rd, size_t n, struct kw_rd *ret)
{
	const uint8_t *b;
	int r;

	if ((r = kw_rd_bytes(rd, n, &b)) != 0)
		return r;
	ret->p = b;
	ret->len = n;
	return 0;
}

int
kw_rd_end(const struct kw_rd *rd)
{
	return rd->len == 0 ? 0 : KW_ERR_TRAILING;
}

int
kw_rd_u8(struct kw_rd *rd, uint8_t *ret)
{
	const uint8_t *b;
	int r;

	if ((r = kw_rd_bytes(rd, 1, &b)) != 0)
		return r;
	*ret = b[0];
	return 0;
}

static uint64_t
get_le(const uint8_t *b, size_t n)
{
	uint64_t v = 0;

	for (size_t i = n; i > 0; i--)
		v = (v << 8) | b[i - 1];
	return v;
}

static uint64_t
get_be(const uint8_t *b, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v = (v << 8) | b[i];
	return v;
}

#define KW_RD_INT(name, type, n, get)                                   \
	int name(struct kw_rd *rd, type *ret)                           \
	{                                                               \
		const uint8_t *b;                                       \
		int r;                                                  \
		if ((r = kw_rd_bytes(rd, n, &b)) != 0)                  \
			return r;                                       \
		*ret = (type)get(b, n);                                 \
		return 0;                                               \
	}

KW_RD_INT(kw_rd_u16le, uint16_t, 2, get_le)
KW_RD_INT(kw_rd_u32le, uint32_t, 4, get_le)
KW_RD_INT(kw_rd_u64le, uint64_t, 8, get_le)
KW_RD_INT(kw_rd_u16be, uint16_t, 2, get_be)
KW_RD_INT(kw_rd_u32be, uint32_t, 4, get_be)
KW_RD_INT(kw_rd_u64be, uint64_t, 8, get_be)
