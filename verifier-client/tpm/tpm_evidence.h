/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_TPM_EVIDENCE_H
#define KW_TPM_EVIDENCE_H

/*
 * The tee-evidence members every TPM evidence type shares
 * (docs/verifier-tpm.md): "quote" (base64url TPMS_ATTEST), "signature"
 * (base64url TPMT_SIGNATURE), "pcrs" ({"sha256": {"0": hex, ...}, ...}) and
 * the optional "event_log" (base64url TCG crypto-agile log); the members a
 * type adds (tpm-akcert: "ak_cert") are its own. One shared appraisal:
 * the quote with the AK, the binding, the event log against the quote.
 */

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "kw_err.h"
#include "tpm_eventlog.h"
#include "tpm_quote.h"

#define TPM_EVIDENCE_MAX_EVENTLOG (512 * 1024)   /* decoded bytes of "event_log" (limits.max_body caps first) */
#define TPM_BINDING_LEN 48                       /* SHA-384(JCS(runtime-data)): the quote's extraData */

struct tpm_evidence {
	uint8_t *quote, *sig, *event_log;   /* event_log NULL when absent */
	size_t quote_len, sig_len, event_log_len;
	struct tpm_pcrs pcrs;
};

/*
 * Parse the shared members of ev, an object whose members must all be in
 * allowed (NULL-terminated; it names the shared ones plus the type's own):
 * "quote" (≤ TPM_MAX_ATTEST bytes), "signature" (≤ TPM_MAX_SIGNATURE),
 * "pcrs" (tpm_pcrs_from_json) required, "event_log" (≤
 * TPM_EVIDENCE_MAX_EVENTLOG) optional. Shape and sizes only, no
 * cryptography. 0 and *ret filled (tpm_evidence_clear), or
 * KW_ERR_INVALID_FORMAT / KW_ERR_TOO_LARGE / KW_ERR_NOMEM with a static
 * client-safe reason (*ret untouched). ret may be NULL: check only.
 */
int tpm_evidence_parse(const json_t *ev, const char *const *allowed, struct tpm_evidence *ret,
    const char **reterr_reason) KW_WUR;

/* Free and zero. NULL-safe. */
void tpm_evidence_clear(struct tpm_evidence *e);

/*
 * The extraData a quote must hold for an appraisal: with a binding (the
 * broker's REPORT_DATA, binding_len 64 = SHA-384(JCS(runtime-data)) ‖ 16
 * zero bytes) its first TPM_BINDING_LEN bytes (the 16 padding bytes must be
 * zero: a TPM's extraData holds the 48-byte digest only); without one, the
 * exact nonce bytes (kwctl --nonce, 0..64 bytes). 0 and a view in
 * *ret / *ret_len, or KW_ERR_INVALID_ARG with a static reason (neither or
 * both given, wrong sizes).
 */
int tpm_evidence_expected(const uint8_t *binding, size_t binding_len, const uint8_t *nonce, size_t nonce_len,
    int nonce_set, const uint8_t **ret, size_t *ret_len, const char **reterr_reason) KW_WUR;

/*
 * Appraise the shared part with the AK's key: tpm_quote_verify(quote,
 * signature, ak, pcrs, expected) and, when the evidence has an event log,
 * tpm_eventlog_parse + tpm_eventlog_appraise against the quoted PCRs.
 * 0 and a new claims object {"pcrs": ..., "tpm": ..., "eventlog": ...
 * (only with a log)} in *ret_claims (and the parsed quote in *ret_info
 * when not NULL), or the code and static reason of the failing step.
 */
int tpm_evidence_verify(const struct tpm_evidence *e, EVP_PKEY *ak, const uint8_t *expected, size_t expected_len,
    json_t **ret_claims, struct tpm_quote_info *ret_info, const char **reterr_reason) KW_WUR;

#endif
