/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DCAP quote v4/v5 parser (Intel sgx_quote_4.h / sgx_quote_5.h; offsets in
 * shared/vectors/FORMATS.md §4). Every length and offset goes through the
 * bounded reader; lengths come from the structure, never from the buffer
 * size. Bytes after the signature data are accepted only when all zero
 * (quote buffers from the kernel and from collectors are padded).
 */
#include <string.h>

#include "kw_rd.h"
#include "tdx.h"

/* Intel's QE vendor ID (939a7233-f79c-4ca9-940a-0db3957f0607). */
static const uint8_t intel_qe_vendor[16] = {
	0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9, 0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07,
};

#define FAIL(code, text) do { r = (code); why = (text); goto out; } while (0)

/* The 384-byte SGX REPORT_BODY of the quoting enclave (reserved bytes are signed, not checked). */
static int
qe_report_parse(struct kw_rd *rd, struct tdx_qe_report *qe)
{
	int r;

	if ((r = kw_rd_copy(rd, qe->cpusvn, 16)) != 0 ||       /* 0 */
	    (r = kw_rd_u32le(rd, &qe->miscselect)) != 0 ||     /* 16 */
	    (r = kw_rd_skip(rd, 28)) != 0 ||                    /* 20 */
	    (r = kw_rd_copy(rd, qe->attributes, 16)) != 0 ||   /* 48 */
	    (r = kw_rd_copy(rd, qe->mrenclave, 32)) != 0 ||    /* 64 */
	    (r = kw_rd_skip(rd, 32)) != 0 ||                    /* 96 */
	    (r = kw_rd_copy(rd, qe->mrsigner, 32)) != 0 ||     /* 128 */
	    (r = kw_rd_skip(rd, 96)) != 0 ||                    /* 160 */
	    (r = kw_rd_u16le(rd, &qe->isvprodid)) != 0 ||      /* 256 */
	    (r = kw_rd_u16le(rd, &qe->isvsvn)) != 0 ||         /* 258 */
	    (r = kw_rd_skip(rd, 60)) != 0 ||                    /* 260 */
	    (r = kw_rd_copy(rd, qe->report_data, 64)) != 0)    /* 320 */
		return r;
	return kw_rd_end(rd);
}

static int
td_report_parse(struct kw_rd *rd, int v15, struct tdx_td_report *td)
{
	int r;

	if ((r = kw_rd_copy(rd, td->tee_tcb_svn, 16)) != 0 ||
	    (r = kw_rd_copy(rd, td->mrseam, 48)) != 0 ||
	    (r = kw_rd_copy(rd, td->mrsignerseam, 48)) != 0 ||
	    (r = kw_rd_copy(rd, td->seam_attributes, 8)) != 0 ||
	    (r = kw_rd_copy(rd, td->td_attributes, 8)) != 0 ||
	    (r = kw_rd_copy(rd, td->xfam, 8)) != 0 ||
	    (r = kw_rd_copy(rd, td->mrtd, 48)) != 0 ||
	    (r = kw_rd_copy(rd, td->mrconfigid, 48)) != 0 ||
	    (r = kw_rd_copy(rd, td->mrowner, 48)) != 0 ||
	    (r = kw_rd_copy(rd, td->mrownerconfig, 48)) != 0)
		return r;
	for (size_t i = 0; i < 4; i++)
		if ((r = kw_rd_copy(rd, td->rtmr[i], 48)) != 0)
			return r;
	if ((r = kw_rd_copy(rd, td->report_data, 64)) != 0)
		return r;
	if (v15 && ((r = kw_rd_copy(rd, td->tee_tcb_svn2, 16)) != 0 ||
	    (r = kw_rd_copy(rd, td->mrservicetd, 48)) != 0))
		return r;
	return kw_rd_end(rd);
}

int
tdx_quote_parse(const uint8_t *buf, size_t len, struct tdx_quote *ret, const char **reterr_reason)
{
	struct tdx_quote q;
	struct kw_rd rd, body, sd, cd, pem;
	const uint8_t *rest;
	uint32_t body_size = 0, sd_len, cd_len, pem_len;
	uint16_t cd_type, auth_len, pem_type;
	const char *why = "quote malformed";
	int r = KW_ERR_INVALID_ARG;

	if (ret == NULL || (buf == NULL && len != 0)) {
		why = "invalid arguments";
		goto out;
	}
	if (len > TDX_MAX_QUOTE)
		FAIL(KW_ERR_TOO_LARGE, "quote larger than 64 KiB");
	memset(&q, 0, sizeof(q));
	kw_rd_init(&rd, buf, len);

	/* Header: the TEE type first, so that SGX evidence gets its own reason. */
	if ((r = kw_rd_u16le(&rd, &q.version)) != 0 || (r = kw_rd_u16le(&rd, &q.att_key_type)) != 0 ||
	    (r = kw_rd_u32le(&rd, &q.tee_type)) != 0)
		FAIL(r, "quote truncated");
	if (q.tee_type == TDX_TEE_TYPE_SGX)
		FAIL(KW_ERR_UNSUPPORTED, "SGX quote (TEE type 0x00000000), not TDX evidence");
	if (q.tee_type != TDX_TEE_TYPE_TDX)
		FAIL(KW_ERR_UNSUPPORTED, "quote TEE type is not TDX (0x00000081)");
	if (q.version != 4 && q.version != 5)
		FAIL(KW_ERR_UNSUPPORTED, "quote version unsupported (need 4 or 5)");
	if (q.att_key_type != TDX_ATT_KEY_ECDSA_P256)
		FAIL(KW_ERR_UNSUPPORTED, "attestation key type unsupported (need ECDSA-P256)");
	if ((r = kw_rd_skip(&rd, 4)) != 0 ||     /* reserved (signed) */
	    (r = kw_rd_copy(&rd, q.qe_vendor_id, 16)) != 0 || (r = kw_rd_copy(&rd, q.user_data, 20)) != 0)
		FAIL(r, "quote truncated");
	if (memcmp(q.qe_vendor_id, intel_qe_vendor, 16) != 0)
		FAIL(KW_ERR_UNSUPPORTED, "QE vendor is not Intel");

	/* Body */
	if (q.version == 4) {
		q.body_type = 2;
		body_size = TDX_TD10_BODY_SIZE;
	} else {
		if ((r = kw_rd_u16le(&rd, &q.body_type)) != 0 || (r = kw_rd_u32le(&rd, &body_size)) != 0)
			FAIL(r, "quote truncated");
		if (q.body_type == 1)
			FAIL(KW_ERR_UNSUPPORTED, "SGX quote (v5 body type 1), not TDX evidence");
		if (q.body_type != 2 && q.body_type != 3)
			FAIL(KW_ERR_UNSUPPORTED, "quote body type unsupported (need 2 or 3)");
		if (body_size != (q.body_type == 2 ? TDX_TD10_BODY_SIZE : TDX_TD15_BODY_SIZE))
			FAIL(KW_ERR_INVALID_FORMAT, "quote body size does not match its type");
	}
	if ((r = kw_rd_sub(&rd, body_size, &body)) != 0)
		FAIL(r, "quote truncated");
	if ((r = td_report_parse(&body, q.body_type == 3, &q.td)) != 0)
		goto out;   /* cannot happen: the sizes are fixed above */
	q.signed_part = buf;
	q.signed_len = len - rd.len;

	/* Signature data (sgx_ecdsa_sig_data_v4_t) */
	if ((r = kw_rd_u32le(&rd, &sd_len)) != 0 || (r = kw_rd_sub(&rd, sd_len, &sd)) != 0)
		FAIL(r, "quote truncated");
	if ((r = kw_rd_copy(&sd, q.sig, 64)) != 0 || (r = kw_rd_copy(&sd, q.attest_key, 64)) != 0 ||
	    (r = kw_rd_u16le(&sd, &cd_type)) != 0 || (r = kw_rd_u32le(&sd, &cd_len)) != 0)
		FAIL(r, "quote truncated");
	if (cd_type != TDX_CERT_DATA_QE_REPORT)
		FAIL(KW_ERR_UNSUPPORTED, "certification data type unsupported (need 6, QE report)");
	if ((r = kw_rd_sub(&sd, cd_len, &cd)) != 0)
		FAIL(r, "quote truncated");
	if (kw_rd_end(&sd) != 0)
		FAIL(KW_ERR_INVALID_FORMAT, "signature data longer than its certification data");

	/* QE report certification data: report, signature, auth data, nested type 5 */
	{
		struct kw_rd qr;

		if ((r = kw_rd_bytes(&cd, TDX_QE_REPORT_SIZE, &q.qe_report_raw)) != 0)
			FAIL(r, "quote truncated");
		kw_rd_init(&qr, q.qe_report_raw, TDX_QE_REPORT_SIZE);
		if ((r = qe_report_parse(&qr, &q.qe)) != 0)
			goto out;   /* cannot happen: fixed size */
	}
	if ((r = kw_rd_copy(&cd, q.qe_report_sig, 64)) != 0 || (r = kw_rd_u16le(&cd, &auth_len)) != 0 ||
	    (r = kw_rd_bytes(&cd, auth_len, &q.qe_auth_data)) != 0 ||
	    (r = kw_rd_u16le(&cd, &pem_type)) != 0 || (r = kw_rd_u32le(&cd, &pem_len)) != 0)
		FAIL(r, "quote truncated");
	q.qe_auth_len = auth_len;
	if (pem_type != TDX_CERT_DATA_PCK_CHAIN)
		FAIL(KW_ERR_UNSUPPORTED, "nested certification data type unsupported (need 5, PCK chain)");
	if ((r = kw_rd_sub(&cd, pem_len, &pem)) != 0)
		FAIL(r, "quote truncated");
	if (kw_rd_end(&cd) != 0)
		FAIL(KW_ERR_INVALID_FORMAT, "certification data longer than its PCK chain");
	if (pem_len == 0 || pem_len > TDX_MAX_PCK_CHAIN)
		FAIL(KW_ERR_INVALID_FORMAT, "PCK certificate chain empty or too large");
	q.pck_chain = pem.p;
	q.pck_chain_len = pem_len;

	/* Padding: zero bytes only. */
	q.padding = rd.len;
	if ((r = kw_rd_bytes(&rd, rd.len, &rest)) != 0)
		goto out;
	for (size_t i = 0; i < q.padding; i++)
		if (rest[i] != 0)
			FAIL(KW_ERR_TRAILING, "non-zero bytes after the quote");
	*ret = q;
	r = 0;
out:
	if (r != 0 && reterr_reason != NULL)
		*reterr_reason = why;
	return r;
}
