/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SEV-SNP extended-report certificate table (GHCB spec 56421, MSG_REPORT_REQ;
 * Linux configfs-tsm "auxblob" for provider sev_guest).
 *
 * GUID byte order: the table holds the GUID bytes in the order the string is
 * written (63 da 75 8d e6 64 ...). AMD's own sev-tool builds tables with
 * libuuid uuid_parse(), go-sev-guest with uuid.Parse() and virtee/sev with
 * Uuid::as_bytes(), all of which give this order; none uses the mixed-endian
 * Microsoft GUID layout.
 */
#include <string.h>

#include "attester.h"
#include "kw_rd.h"

#define ENTRY_LEN 24

static const uint8_t guids[ATT_CERT__N][16] = {
	/* VCEK 63da758d-e664-4564-adc5-f4b93be8accd */
	[ATT_CERT_VCEK] = {0x63, 0xda, 0x75, 0x8d, 0xe6, 0x64, 0x45, 0x64,
	    0xad, 0xc5, 0xf4, 0xb9, 0x3b, 0xe8, 0xac, 0xcd},
	/* VLEK a8074bc2-a25a-483e-aae6-39c045a0b8a1 */
	[ATT_CERT_VLEK] = {0xa8, 0x07, 0x4b, 0xc2, 0xa2, 0x5a, 0x48, 0x3e,
	    0xaa, 0xe6, 0x39, 0xc0, 0x45, 0xa0, 0xb8, 0xa1},
	/* ASK 4ab7b379-bbac-4fe4-a02f-05aef327c782 */
	[ATT_CERT_ASK] = {0x4a, 0xb7, 0xb3, 0x79, 0xbb, 0xac, 0x4f, 0xe4,
	    0xa0, 0x2f, 0x05, 0xae, 0xf3, 0x27, 0xc7, 0x82},
	/* ARK c0b406a4-a803-4952-9743-3fb6014cd0ae */
	[ATT_CERT_ARK] = {0xc0, 0xb4, 0x06, 0xa4, 0xa8, 0x03, 0x49, 0x52,
	    0x97, 0x43, 0x3f, 0xb6, 0x01, 0x4c, 0xd0, 0xae},
};

const uint8_t *
att_snp_cert_guid(enum att_cert_kind kind)
{
	if ((unsigned)kind >= ATT_CERT__N)
		return NULL;
	return guids[kind];
}

static int
all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

int
att_snp_certtable_parse(const uint8_t *buf, size_t len, struct att_snp_certs *ret)
{
	struct att_snp_certs out;
	struct kw_rd rd, all, cert;
	size_t n = 0, table_end;
	int r;

	if (buf == NULL || ret == NULL)
		return KW_ERR_INVALID_ARG;
	if (len > ATT_MAX_AUXBLOB)
		return KW_ERR_TOO_LARGE;
	memset(&out, 0, sizeof(out));
	kw_rd_init(&rd, buf, len);

	/* Pass 1: find the terminator, so offsets can be checked against the table end. */
	for (;;) {
		const uint8_t *e;

		if ((r = kw_rd_bytes(&rd, ENTRY_LEN, &e)) != 0)
			return r; /* no terminator: truncated */
		if (all_zero(e, 16)) {
			if (!all_zero(e + 16, 8))
				return KW_ERR_INVALID_FORMAT;
			break;
		}
		if (++n > ATT_MAX_CERTTABLE_ENTRIES)
			return KW_ERR_TOO_LARGE;
	}
	table_end = (n + 1) * ENTRY_LEN;

	/* Pass 2: each entry's certificate lies after the table, inside buf. */
	kw_rd_init(&rd, buf, len);
	for (size_t i = 0; i < n; i++) {
		const uint8_t *guid;
		uint32_t off, clen;
		int kind = -1;

		if ((r = kw_rd_bytes(&rd, 16, &guid)) != 0 || (r = kw_rd_u32le(&rd, &off)) != 0 ||
		    (r = kw_rd_u32le(&rd, &clen)) != 0)
			return r;
		if (clen == 0 || off < table_end)
			return KW_ERR_INVALID_FORMAT;
		if (clen > ATT_MAX_CERT)
			return KW_ERR_TOO_LARGE;
		kw_rd_init(&all, buf, len);
		if ((r = kw_rd_skip(&all, off)) != 0 || (r = kw_rd_sub(&all, clen, &cert)) != 0)
			return r;
		for (int k = 0; k < ATT_CERT__N; k++)
			if (memcmp(guid, guids[k], 16) == 0)
				kind = k;
		if (kind < 0)
			continue; /* unknown GUID: checked, skipped */
		if (out.c[kind].p != NULL)
			return KW_ERR_INVALID_FORMAT; /* duplicate */
		out.c[kind].p = cert.p;
		out.c[kind].len = cert.len;
	}
	out.nentries = n;
	*ret = out;
	return 0;
}
