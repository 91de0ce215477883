/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_RD_H
#define KW_RD_H

#include <stddef.h>
#include <stdint.h>

#include "kw_err.h"

/*
 * Bounded reader over untrusted bytes. Every read checks n against the
 * remaining length; a failed read returns KW_ERR_TRUNCATED and leaves the
 * reader unchanged. The reader never owns the bytes.
 */
struct kw_rd {
	const uint8_t *p;
	size_t len;
};

void kw_rd_init(struct kw_rd *rd, const void *p, size_t len);
int kw_rd_u8(struct kw_rd *rd, uint8_t *ret) KW_WUR;
int kw_rd_u16le(struct kw_rd *rd, uint16_t *ret) KW_WUR;
int kw_rd_u32le(struct kw_rd *rd, uint32_t *ret) KW_WUR;
int kw_rd_u64le(struct kw_rd *rd, uint64_t *ret) KW_WUR;
int kw_rd_u16be(struct kw_rd *rd, uint16_t *ret) KW_WUR;
int kw_rd_u32be(struct kw_rd *rd, uint32_t *ret) KW_WUR;
int kw_rd_u64be(struct kw_rd *rd, uint64_t *ret) KW_WUR;
/* Zero-copy view of the next n bytes; *ret points into the reader's buffer. */
int kw_rd_bytes(struct kw_rd *rd, size_t n, const uint8_t **ret) KW_WUR;
/* Copy the next n bytes into out (which has room for n). */
int kw_rd_copy(struct kw_rd *rd, void *out, size_t n) KW_WUR;
int kw_rd_skip(struct kw_rd *rd, size_t n) KW_WUR;
/* A child reader over the next n bytes; the parent advances past them. */
int kw_rd_sub(struct kw_rd *rd, size_t n, struct kw_rd *ret) KW_WUR;
/* 0 when nothing is left, KW_ERR_TRAILING otherwise. */
int kw_rd_end(const struct kw_rd *rd) KW_WUR;

#endif
