/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_ATT_TPM_H
#define KW_ATT_TPM_H

/*
 * The workload side of the `tpm` evidence type (docs/kwget.md, `--tee tpm`;
 * docs/verifier-tpm.md, "tpm (credential activation)") through tss2-esys:
 * the EK (created from the TCG default RSA-2048 template, or a persistent
 * handle) and its certificate from NV 0x01c00002, an AK (a restricted
 * RSA-2048 RSASSA/SHA-256 signing key created as a primary in the
 * endorsement hierarchy, or a persistent handle), TPM2_ActivateCredential
 * with the EK's policy (PolicySecret on TPM_RH_ENDORSEMENT), and a quote of
 * PCRs 0..23 (sha256). Functions return 0 or a negative enum kw_err; ret_*
 * are written only on success; why (whylen bytes; NULL with whylen 0) says
 * what failed.
 */

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "kw_err.h"
#include "kw_secret.h"

#define ATT_TPM_DEFAULT_TCTI "device:/dev/tpmrm0"
#define ATT_TPM_EK_CERT_NV 0x01c00002u      /* RSA-2048 EK certificate (TCG EK Credential Profile) */
#define ATT_TPM_MAX_EK_CERT 8192
#define ATT_TPM_MAX_EVENTLOG (512 * 1024)   /* the broker's cap (TPM_EVIDENCE_MAX_EVENTLOG) */
#define ATT_TPM_EVENTLOG_PATH "/sys/kernel/security/tpm0/binary_bios_measurements"

struct att_tpm;

struct att_tpm_opts {
	const char *tcti;       /* NULL: att_tpm_tcti_from_env() */
	uint32_t ek_handle;     /* persistent EK (0x81xxxxxx), or 0: create from the default template */
	uint32_t ak_handle;     /* persistent AK, or 0: create a primary AK */
};

/*
 * The TCTI configuration kwget uses: $TPM2TOOLS_TCTI, else $TCTI, else
 * ATT_TPM_DEFAULT_TCTI (the kernel resource manager). Static or the
 * environment's string.
 */
const char *att_tpm_tcti_from_env(void);

/*
 * Connect (tss2-tctildr), then load or create the EK and the AK. The EK must
 * be a decryption key; the AK a restricted signing key (both as read back
 * from the TPM). *ret is freed with att_tpm_free (which flushes transient
 * objects). KW_ERR_UNAVAILABLE (no TPM at the TCTI), KW_ERR_IO (a TPM
 * command failed), KW_ERR_UNSUPPORTED, KW_ERR_NOMEM.
 */
int att_tpm_open(const struct att_tpm_opts *o, struct att_tpm **ret, char *why, size_t whylen) KW_WUR;
/* NULL-safe. */
void att_tpm_free(struct att_tpm *t);

/*
 * The EK certificate (DER, trailing NV padding removed) from NV 0x01c00002,
 * checked to certify the loaded EK's public key (else KW_ERR_MISMATCH).
 * *ret is malloc'd.
 */
int att_tpm_ek_cert(struct att_tpm *t, uint8_t **ret, size_t *ret_len, char *why, size_t whylen) KW_WUR;

/* The AK's public area as a marshalled TPM2B_PUBLIC (malloc'd). */
int att_tpm_ak_public(struct att_tpm *t, uint8_t **ret, size_t *ret_len) KW_WUR;

/*
 * TPM2_ActivateCredential(AK, EK) of a marshalled TPM2B_ID_OBJECT and
 * TPM2B_ENCRYPTED_SECRET (as the broker sends them): 0 and the credential
 * in a new secret, or KW_ERR_INVALID_FORMAT (not those structures),
 * KW_ERR_DENIED (the TPM refuses: sealed to another TPM or another AK),
 * KW_ERR_IO.
 */
int att_tpm_activate(struct att_tpm *t, const uint8_t *blob, size_t blob_len, const uint8_t *secret,
    size_t secret_len, struct kw_secret **ret, char *why, size_t whylen) KW_WUR;

/*
 * Quote PCRs 0..23 of the sha256 bank with the AK and qualifyingData
 * (1..64 bytes), then read those PCRs: the marshalled TPMS_ATTEST (malloc),
 * the marshalled TPMT_SIGNATURE (malloc) and the evidence's PCR object
 * {"sha256": {"0": hex, ..., "23": hex}} (a new reference).
 */
int att_tpm_quote(struct att_tpm *t, const uint8_t *qualifying, size_t qualifying_len, uint8_t **ret_attest,
    size_t *ret_attest_len, uint8_t **ret_sig, size_t *ret_sig_len, json_t **ret_pcrs, char *why,
    size_t whylen) KW_WUR;

/* ---- the `tpm` protocol (docs/protocol.md) ---- */

/*
 * The /auth "extra-params" for tee tpm: {"ek_cert": b64url DER, "ak_public":
 * b64url TPM2B_PUBLIC} (a new reference).
 */
int att_tpm_auth_params(struct att_tpm *t, json_t **ret, char *why, size_t whylen) KW_WUR;

/*
 * The tee-evidence for /attest from the /auth answer's "extra-params"
 * ({"credential_blob", "encrypted_secret"}, strictly): activate the
 * credential, quote PCRs 0..23 (sha256) with qualifyingData = binding (the
 * 48 bytes SHA-384(JCS(runtime-data))), and build {"credential",
 * "ek_cert", "ak_public", "quote", "signature", "pcrs", "event_log"?} —
 * event_log: the file event_log (NULL: none; at most ATT_TPM_MAX_EVENTLOG
 * bytes) base64url. With config_sha384 (SHA-384(JCS(config)), NULL: no
 * manifest), before the quote PCR 23 is reset (TPM2_PCR_Reset) and extended
 * with TPM2_PCR_Event(23, the 48 bytes) in every active bank, and the
 * evidence carries "runtime_events": [{"pcr": 23, "data": b64url}]. A new
 * reference in *ret; the credential is wiped from everything but *ret (whose
 * strings kw_json's allocator wipes on free).
 */
int att_tpm_evidence(struct att_tpm *t, const json_t *auth_extra, const uint8_t binding[static 48],
    const uint8_t *config_sha384, const char *event_log, json_t **ret, char *why, size_t whylen) KW_WUR;

#endif
