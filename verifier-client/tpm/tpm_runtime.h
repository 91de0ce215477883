/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_TPM_RUNTIME_H
#define KW_TPM_RUNTIME_H

/*
 * Runtime events of the `tpm` evidence type (docs/verifier-tpm.md,
 * "Configuration manifest in PCR 23"): kwget resets PCR 23 and extends it
 * with TPM2_PCR_Event(23, SHA-384(JCS(config))) before the quote, and sends
 * the event data as tee-evidence "runtime_events": [{"pcr": 23, "data":
 * base64url}]. The verifier replays it from PCR 23's reset value (zero) in
 * every bank the quote covers. Thread-safe, no state, no logging.
 */

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "kw_err.h"
#include "tpm_quote.h"

#define TPM_RUNTIME_PCR 23u             /* the PC Client application PCR, resettable at locality 0 */
#define TPM_RUNTIME_DATA_LEN 48u        /* SHA-384(JCS(config)) */

/*
 * The "runtime_events" member: an array of exactly one object {"pcr": 23,
 * "data": base64url of TPM_RUNTIME_DATA_LEN bytes} (no other members).
 * 0 and the data in ret_data, or KW_ERR_INVALID_FORMAT with a static
 * client-safe reason (ret_data untouched).
 */
int tpm_runtime_parse(const json_t *events, uint8_t ret_data[static TPM_RUNTIME_DATA_LEN],
    const char **reterr_reason) KW_WUR;

/*
 * Replay TPM2_PCR_Event(23, data) on a reset PCR 23: for every bank whose
 * PCR 23 covered holds, H_b(0…0 ‖ H_b(data)) must equal quoted's value
 * (KW_ERR_MISMATCH "PCR 23 does not replay to the runtime event"). PCR 23
 * must be covered by at least one bank (KW_ERR_MISMATCH "runtime event for a
 * PCR the quote does not cover"). 0, or a negative code and a static reason.
 */
int tpm_runtime_replay(const uint8_t *data, size_t len, const struct tpm_pcrs *quoted,
    const uint32_t covered[static TPM_BANK_COUNT], const char **reterr_reason) KW_WUR;

#endif
