/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_TPM_AZURE_H
#define KW_TPM_AZURE_H

/*
 * Azure vTPM evidence as Azure's guest tools and trustee record it
 * (docs/verifier-tpm.md, "Azure vTPM (HCL report)"), turned into the
 * broker's tee-evidence for az-snp-vtpm / az-tdx-vtpm. Accepted documents:
 *
 *   byte-array form (trustee "v0"):
 *     {"quote" | "tpm_quote": {"message": [u8...], "signature": [u8...],
 *                              "pcrs": [[32 x u8] x 24]},
 *      "report" | "hcl_report": [u8...],
 *      "vcek": "<PEM, one or more certificates>"   (SNP)
 *      | "td_quote": [u8...]}                        (TDX)
 *   versioned form ("version": 1 or 2):
 *     {"version": n, "tpm_quote": {"message": hex, "signature": hex,
 *                                  "pcrs": [hex x 24]},
 *      "hcl_report": base64url, "vcek": base64url DER | PEM   (SNP)
 *                               | "td_quote": base64url}       (TDX)
 *
 * The signature is the bare RSASSA-PKCS1-v1_5/SHA-256 signature of the AK
 * (the tee-evidence carries it as a TPMT_SIGNATURE, marshalled by tss2-mu).
 * base64url here may carry '=' padding (Azure's tools write it). The PCRs
 * are the sha256 bank, PCR 0..23 in order. No other members are accepted.
 * Nothing is authenticated here; the seam member does that.
 */

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "kw_err.h"

#define TPM_AZURE_PCRS 24
#define TPM_AZURE_MAX_DOC (256 * 1024)     /* a recorded evidence file */
#define TPM_AZURE_MAX_BLOB (64 * 1024)     /* one decoded member */
#define TPM_AZURE_MAX_PEM (64 * 1024)

struct tpm_azure_evidence {
	int version;                       /* 0 (byte arrays), 1 or 2 */
	uint8_t *quote, *sig, *hcl, *td_quote;
	size_t quote_len, sig_len, hcl_len, td_quote_len;
	uint8_t pcrs[TPM_AZURE_PCRS][32];  /* sha256 bank */
	char *vcek_pem;                    /* SNP: PEM (converted from DER when needed), or NULL */
};

/*
 * Decode a recorded document. 0 and *ret filled (free its members with
 * tpm_azure_evidence_clear), or KW_ERR_INVALID_FORMAT / KW_ERR_TOO_LARGE /
 * KW_ERR_UNSUPPORTED (an unknown version) / KW_ERR_NOMEM with a static
 * reason; *ret untouched on failure. Exactly one of vcek_pem and td_quote
 * is set on success.
 */
int tpm_azure_evidence_parse(const json_t *doc, struct tpm_azure_evidence *ret,
    const char **reterr_reason) KW_WUR;

/* Free and zero what parse filled in. NULL-safe. */
void tpm_azure_evidence_clear(struct tpm_azure_evidence *e);

/*
 * The broker's tee-evidence for e (docs/protocol.md):
 *   SNP: {"snp_hcl_report": b64url, "vtpm_quote": b64url, "vtpm_signature":
 *         b64url, "pcrs": {"sha256": {"0": hex, ..., "23": hex}},
 *         "vcek": PEM}
 *   TDX: {"tdx_hcl_report": ..., "vtpm_quote", "vtpm_signature", "pcrs",
 *         "td_quote": b64url}
 * tdx says which (the HCL report's own type decides at appraisal). 0 and a
 * new object in *ret, or KW_ERR_NOMEM / KW_ERR_INVALID_ARG (a signature
 * longer than a TPM RSA signature, or the member tdx asks for is missing).
 */
int tpm_azure_tee_evidence(const struct tpm_azure_evidence *e, int tdx, json_t **ret) KW_WUR;

#endif
