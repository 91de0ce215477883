/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_TPM_HCL_H
#define KW_TPM_HCL_H

/*
 * The HCL report of Azure confidential VMs (docs/verifier-tpm.md, "Azure
 * vTPM (HCL report)"): what Azure's paravisor writes to vTPM NV index
 * 0x01400001. Layout (all integers little-endian):
 *
 *   0x000  header: "HCLA" | u32 version | u32 report size | u32 request type
 *          | u32 status | 12 reserved bytes
 *   0x020  the hardware report slot, 1184 bytes: the SNP ATTESTATION_REPORT,
 *          or the 1024-byte TDREPORT followed by 160 zero bytes
 *   0x4C0  runtime data header: u32 data size (20 + var_data size) | u32
 *          version (1) | u32 report type (2 SNP, 4 TDX) | u32 hash type
 *          (1 SHA-256) | u32 var_data size
 *   0x4D4  var_data: JSON {"keys": [{"kid": "HCLAkPub", RSA JWK}, ...],
 *          "vm-configuration": {...}, "user-data": "<hex>"}
 *   then zero bytes up to the end of the buffer (the NV index is larger).
 *
 * Nothing here is authenticated by itself: the hardware report is
 * appraised by the SNP verifier (or, for TDX, the TD quote by the TDX
 * verifier), and that report's REPORT_DATA[0:32] must equal SHA-256 of the
 * exact var_data bytes (tpm_hcl_check_binding) before the AK key from
 * var_data may be trusted. Every length is read with the bounded reader
 * kw_rd; var_data is parsed with kw_json_parse (size cap, duplicates
 * rejected). No logging. Thread-safe (no state).
 */

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "kw_err.h"

#define TPM_HCL_MAGIC 0x414c4348u       /* "HCLA" read little-endian */
#define TPM_HCL_HEADER_LEN 32
#define TPM_HCL_HW_OFFSET 0x20
#define TPM_HCL_HW_SLOT 1184            /* an SNP ATTESTATION_REPORT */
#define TPM_HCL_TDREPORT_LEN 1024
#define TPM_HCL_RUNTIME_OFFSET 0x4C0
#define TPM_HCL_RUNTIME_HEADER_LEN 20
#define TPM_HCL_VAR_OFFSET 0x4D4
#define TPM_HCL_MAX_VAR_DATA (16 * 1024) /* Azure's var_data is about 1.2 KiB */
#define TPM_HCL_MAX_REPORT (TPM_HCL_VAR_OFFSET + TPM_HCL_MAX_VAR_DATA + 4096)
#define TPM_HCL_SNP_REPORT_DATA 0x50     /* REPORT_DATA in an SNP ATTESTATION_REPORT */
#define TPM_HCL_TDX_REPORT_DATA 128      /* REPORT_DATA in a TDREPORT (REPORTMACSTRUCT) */
#define TPM_HCL_TDX_MRTD 528             /* TDINFO (at 512) + ATTRIBUTES + XFAM */

enum tpm_hcl_type {
	TPM_HCL_SNP = 2,
	TPM_HCL_TDX = 4,
};

/* A parsed HCL report. Owns copies of everything it points to. */
struct tpm_hcl {
	uint32_t version;                 /* header version: 1 or 2 */
	enum tpm_hcl_type type;
	uint8_t *hw_report;               /* SNP: 1184 bytes; TDX: the 1024-byte TDREPORT */
	size_t hw_report_len;
	uint8_t report_data[64];          /* REPORT_DATA as found in hw_report (not authenticated) */
	uint8_t *var_data;                /* the exact bytes SHA-256 covers */
	size_t var_data_len;
	uint8_t var_data_sha256[32];
	json_t *runtime;                  /* var_data parsed */
	EVP_PKEY *ak;                     /* the HCLAkPub JWK (RSA) */
};

/*
 * Parse an HCL report of len bytes (TPM_HCL_VAR_OFFSET + var_data size <=
 * len <= TPM_HCL_MAX_REPORT). Checks: magic, header version 1 or 2, status
 * 0, reserved bytes zero, report size == 0x4D4 + var_data size; runtime
 * header version 1, report type 2 (SNP) or 4 (TDX), hash type 1 (SHA-256),
 * data size == 20 + var_data size; for TDX, the TDREPORT's type byte is
 * 0x81 and the rest of the slot is zero; every byte after var_data is zero;
 * var_data is one JSON object (kw_json_parse, at most
 * TPM_HCL_MAX_VAR_DATA) with a "keys" array holding exactly one JWK with
 * "kid": "HCLAkPub", an RSA public key of 2048..4096 bits. 0 and *ret (free
 * with tpm_hcl_free), or KW_ERR_TRUNCATED / KW_ERR_TOO_LARGE /
 * KW_ERR_INVALID_FORMAT / KW_ERR_UNSUPPORTED / KW_ERR_NOMEM with a static
 * client-safe reason; *ret untouched on failure.
 */
int tpm_hcl_parse(const uint8_t *buf, size_t len, struct tpm_hcl **ret,
    const char **reterr_reason) KW_WUR;

/* NULL-safe. */
void tpm_hcl_free(struct tpm_hcl *h);

/*
 * The binding: report_data (the authenticated hardware REPORT_DATA, 64
 * bytes) starts with SHA-256(var_data) (constant time). 0, or
 * KW_ERR_MISMATCH with the reason "hardware REPORT_DATA does not match
 * SHA-256(HCL var_data)".
 */
int tpm_hcl_check_binding(const struct tpm_hcl *h, const uint8_t report_data[static 64],
    const char **reterr_reason) KW_WUR;

/* "snp" or "tdx". */
const char *tpm_hcl_type_name(enum tpm_hcl_type t);

/*
 * The runtime claims of var_data Azure documents, as a new object (NULL when
 * memory is short): {"vm_configuration": {"secure_boot": bool,
 * "tpm_enabled": bool, "console_enabled": bool, "vm_unique_id": str} (the
 * members present with these types), "user_data": "<hex, lower case>"
 * (when it is a hex string), "hcl_version": int}. Only meaningful after
 * tpm_hcl_check_binding succeeded.
 */
json_t *tpm_hcl_claims(const struct tpm_hcl *h);

#endif
