/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Intel TDX evidence on the workload side: a TD quote through configfs-tsm
 * (provider "tdx_guest"), the check that it carries our REPORT_DATA, and the
 * tee-evidence JSON. Emulated quotes: att_tdx_emu.c.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "attester.h"
#include "kw_b64url.h"
#include "kw_rd.h"

#define TDX_HEADER_LEN 48
#define TDX_TEE_TYPE 0x81u
#define TDX_REPORT_DATA_OFFSET 520   /* in the TD report body (TDX 1.0 and 1.5 alike) */

int
att_tdx_quote_report_data(const uint8_t *quote, size_t len, const uint8_t **ret)
{
	struct kw_rd rd, body;
	uint16_t version, body_type;
	uint32_t tee_type, body_size;
	const uint8_t *p;

	if (quote == NULL || ret == NULL)
		return KW_ERR_INVALID_ARG;
	kw_rd_init(&rd, quote, len);
	if (kw_rd_u16le(&rd, &version) != 0 || kw_rd_skip(&rd, 2) != 0 || kw_rd_u32le(&rd, &tee_type) != 0 ||
	    kw_rd_skip(&rd, TDX_HEADER_LEN - 8) != 0)
		return KW_ERR_TRUNCATED;
	if (tee_type != TDX_TEE_TYPE || (version != 4 && version != 5))
		return KW_ERR_UNSUPPORTED;
	if (version == 5) {
		if (kw_rd_u16le(&rd, &body_type) != 0 || kw_rd_u32le(&rd, &body_size) != 0)
			return KW_ERR_TRUNCATED;
		if (body_type != 2 && body_type != 3)
			return KW_ERR_UNSUPPORTED;
	}
	if (kw_rd_sub(&rd, TDX_REPORT_DATA_OFFSET + ATT_REPORT_DATA_LEN, &body) != 0 ||
	    kw_rd_skip(&body, TDX_REPORT_DATA_OFFSET) != 0 ||
	    kw_rd_bytes(&body, ATT_REPORT_DATA_LEN, &p) != 0)
		return KW_ERR_TRUNCATED;
	*ret = p;
	return 0;
}

int
att_tsm_tdx_quote(const char *dir, const uint8_t report_data[static ATT_REPORT_DATA_LEN], uint8_t **ret,
    size_t *ret_len)
{
	struct att_tsm_report rep;
	const uint8_t *rd;
	int r;

	if (ret == NULL || ret_len == NULL)
		return KW_ERR_INVALID_ARG;
	if ((r = att_tsm_report(dir, "tdx_guest", report_data, ATT_TDX_MAX_QUOTE, 0, &rep)) != 0)
		return r;
	if ((r = att_tdx_quote_report_data(rep.out, rep.out_len, &rd)) != 0)
		goto out;
	/* The quote must carry exactly our binding. */
	if (CRYPTO_memcmp(rd, report_data, ATT_REPORT_DATA_LEN) != 0) {
		r = KW_ERR_MISMATCH;
		goto out;
	}
	*ret = rep.out;
	*ret_len = rep.out_len;
	rep.out = NULL;   /* transferred */
	r = 0;
out:
	att_tsm_report_clear(&rep);
	return r;
}

int
att_tdx_evidence_to_json(const uint8_t *quote, size_t len, json_t **ret)
{
	json_t *o;
	char *s = NULL;
	int r;

	if (quote == NULL || ret == NULL || len == 0)
		return KW_ERR_INVALID_ARG;
	if ((r = kw_b64url_encode(quote, len, &s)) != 0)
		return r;
	o = json_pack("{s:s}", "quote", s);
	free(s);
	if (o == NULL)
		return KW_ERR_NOMEM;
	*ret = o;
	return 0;
}
