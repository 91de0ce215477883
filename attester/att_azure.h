/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ATT_AZURE_H
#define ATT_AZURE_H

/*
 * Azure confidential VMs' vTPM on the workload side (kwget --tee
 * az-snp-vtpm|az-tdx-vtpm; docs/kwget.md): the HCL report from vTPM NV
 * index 0x01400001, a quote of PCR 0..23 (sha256) by the AK Azure persists
 * at 0x81000003 with the binding as qualifyingData (tss2-esys), and from
 * Azure's Instance Metadata Service the VCEK and its chain (SNP, THIM) or
 * the TD quote for the HCL report's TDREPORT (TDX), as Azure's guest
 * attestation tools obtain them. The result is the broker's tee-evidence
 * (docs/protocol.md). No logging; errors are codes and static reasons.
 */

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "kw_err.h"

#define ATT_AZ_HCL_NV_INDEX 0x01400001u
#define ATT_AZ_AK_HANDLE 0x81000003u
#define ATT_AZ_MAX_HCL (20 * 1024)          /* the NV index is about 2.6 KiB */
#define ATT_AZ_PCRS 24
#define ATT_AZ_TDREPORT_LEN 1024
#define ATT_AZ_IMDS_DEFAULT "http://169.254.169.254"
#define ATT_AZ_THIM_PATH "/metadata/THIM/amd/certification"
#define ATT_AZ_TDQUOTE_PATH "/acc/tdquote"
#define ATT_AZ_MAX_IMDS (256 * 1024)        /* an IMDS response body */
#define ATT_AZ_MAX_TDQUOTE (64 * 1024)

/* What the vTPM gave: the HCL report, the quote, its signature and the quoted PCRs. */
struct att_az_tpm {
	uint8_t *hcl;                      /* the NV index's full contents */
	size_t hcl_len;
	uint8_t *attest;                   /* TPMS_ATTEST as the TPM marshalled it */
	size_t attest_len;
	uint8_t *sig;                      /* TPMT_SIGNATURE, marshalled by tss2-mu */
	size_t sig_len;
	uint8_t pcrs[ATT_AZ_PCRS][32];     /* sha256 bank, read right after the quote */
	int tdx;                           /* the HCL report's runtime header says TDX (4) */
};

/*
 * Read the HCL report and quote PCR 0..23 (sha256) with the AK at
 * ATT_AZ_AK_HANDLE (its own signing scheme) and qualifying (1..64 bytes) as
 * qualifyingData. tcti: a TCTI configuration for Tss2_TctiLdr ("device:/dev/
 * tpmrm0", "swtpm:host=127.0.0.1,port=2321"); NULL takes $KWGET_TCTI, then
 * $TPM2TOOLS_TCTI, then "device:/dev/tpmrm0". 0 and *ret (free with
 * att_az_tpm_clear), or KW_ERR_UNAVAILABLE (no TPM), KW_ERR_NOT_FOUND (no
 * HCL report or AK), KW_ERR_INVALID_FORMAT (not an HCL report),
 * KW_ERR_TOO_LARGE, KW_ERR_MISMATCH (the PCRs changed while quoting, twice),
 * KW_ERR_CRYPTO (another TPM error), with a static reason.
 */
int att_az_tpm_collect(const char *tcti, const uint8_t *qualifying, size_t qlen, struct att_az_tpm *ret,
    const char **reterr_reason) KW_WUR;

/*
 * Detection: is there a TPM at tcti (as for att_az_tpm_collect) and does its
 * NV index ATT_AZ_HCL_NV_INDEX hold an HCL report? 0 with *ret_tdx (the
 * report's kind), KW_ERR_UNAVAILABLE (no TPM), KW_ERR_NOT_FOUND (a TPM, no
 * HCL report), or another code (a TPM whose index does not read as an HCL
 * report), with a static reason. Reads only.
 */
int att_az_hcl_probe(const char *tcti, int *ret_tdx, const char **reterr_reason) KW_WUR;

/* Free and zero. NULL-safe. */
void att_az_tpm_clear(struct att_az_tpm *t);

/*
 * The HCL report's report type (runtime header at 0x4C0: 2 SNP, 4 TDX) and,
 * for TDX, a view of its TDREPORT (bytes 0x20..0x41F). 0, or
 * KW_ERR_INVALID_FORMAT (no "HCLA" magic, too short, another type).
 */
int att_az_hcl_kind(const uint8_t *hcl, size_t len, int *ret_tdx, const uint8_t **ret_tdreport) KW_WUR;

/* ---- the Instance Metadata Service (plain HTTP on the link-local address) ---- */

/*
 * The IMDS base URL: $KWGET_IMDS_URL (an http:// URL, for tests against a
 * local stub) or ATT_AZ_IMDS_DEFAULT. Static or from the environment.
 */
const char *att_az_imds_base(void);

/*
 * THIM's answer {"vcekCert": PEM, "certificateChain": PEM (ASK, ARK), ...}
 * → one PEM text, VCEK first (new string, free()). KW_ERR_INVALID_FORMAT
 * when either member is missing or no PEM certificate.
 */
int att_az_thim_parse(const char *body, size_t len, char **ret_pem) KW_WUR;

/* The TD quote request body {"report": "<base64url of the TDREPORT>"} (new string). */
int att_az_tdquote_request(const uint8_t *tdreport, size_t len, char **ret) KW_WUR;

/* The answer {"quote": "<base64url, '=' padding allowed>"} → the quote (new buffer). */
int att_az_tdquote_parse(const char *body, size_t len, uint8_t **ret, size_t *ret_len) KW_WUR;

/*
 * GET base/metadata/THIM/amd/certification with "Metadata: true" → the VCEK
 * PEM chain; POST base/acc/tdquote → the TD quote. Timeouts 5 s (connect),
 * 30 s (total); no proxy, no redirects, http only. KW_ERR_UNAVAILABLE
 * (cannot connect, HTTP status other than 200), KW_ERR_TOO_LARGE, or the
 * parse functions' codes.
 */
int att_az_imds_vcek(const char *base, char **ret_pem) KW_WUR;
int att_az_imds_td_quote(const char *base, const uint8_t *tdreport, size_t len, uint8_t **ret,
    size_t *ret_len) KW_WUR;

/*
 * The tee-evidence: {"snp_hcl_report" | "tdx_hcl_report", "vtpm_quote",
 * "vtpm_signature", "pcrs": {"sha256": {...}}, "vcek" (PEM, SNP) |
 * "td_quote" (TDX)}. 0 and a new object, or KW_ERR_NOMEM / KW_ERR_INVALID_ARG.
 */
int att_az_evidence_to_json(const struct att_az_tpm *t, const char *vcek_pem, const uint8_t *td_quote,
    size_t td_quote_len, json_t **ret) KW_WUR;

#endif
