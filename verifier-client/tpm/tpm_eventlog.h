/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_TPM_EVENTLOG_H
#define KW_TPM_EVENTLOG_H

/*
 * The TCG PC Client crypto-agile event log (docs/verifier-tpm.md, "Event
 * logs"): the SHA-1-format first event TCG_PCClientPCREvent carrying the
 * "Spec ID Event03" structure (algorithms and digest sizes), then
 * TCG_PCR_EVENT2 records. The log is little-endian and not a TPM
 * structure: it is read with kw_rd, bounded. Replayed per bank
 * (SHA-1/256/384) from zero PCRs (PCR 0 from the StartupLocality event
 * when there is one). Thread-safe; no logging above debug.
 */

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "kw_err.h"
#include "tpm_quote.h"

#define TPM_EVENTLOG_MAX (1024 * 1024)     /* bytes of a log (firmware logs are tens of KiB) */
#define TPM_EVENTLOG_MAX_EVENTS 8192       /* records, the first one included */
#define TPM_EVENTLOG_MAX_ALGS 8            /* algorithms of the Spec ID event */
#define TPM_EVENTLOG_MAX_CMDLINE 8192      /* bytes of a kernel command line claim (UTF-8) */

/* Event types keywarden reads (TCG PC Client Platform Firmware Profile, 10.4.1). */
#define TPM_EV_IPL 0x0000000Du
#define TPM_EV_NO_ACTION 0x00000003u
#define TPM_EV_EVENT_TAG 0x00000006u
#define TPM_EV_EFI_VARIABLE_DRIVER_CONFIG 0x80000001u
#define TPM_EV_EFI_BOOT_SERVICES_APPLICATION 0x80000003u

struct tpm_eventlog;

/*
 * Parse len bytes (at most TPM_EVENTLOG_MAX) of a crypto-agile log: the
 * first event must be the Spec ID event (PCR 0, EV_NO_ACTION, zero SHA-1
 * digest, signature "Spec ID Event03", 1..TPM_EVENTLOG_MAX_ALGS algorithms
 * each once, known ones with their proper size, unknown ones 1..64 bytes);
 * every following record must carry exactly one digest per algorithm of
 * the Spec ID event, a PCR index 0..23 (EV_NO_ACTION records may name any
 * index and are never extended) and an event of at most the bytes left.
 * The bytes are copied. 0 and a new log in *ret (tpm_eventlog_free), or
 * KW_ERR_INVALID_FORMAT / KW_ERR_TRUNCATED / KW_ERR_TOO_LARGE /
 * KW_ERR_UNSUPPORTED / KW_ERR_NOMEM with a static client-safe reason.
 */
int tpm_eventlog_parse(const uint8_t *buf, size_t len, struct tpm_eventlog **ret,
    const char **reterr_reason) KW_WUR;

/* NULL-safe. */
void tpm_eventlog_free(struct tpm_eventlog *log);

/* Number of records (the Spec ID event included). */
size_t tpm_eventlog_count(const struct tpm_eventlog *log);

/*
 * The replayed PCR values of the banks the log carries (SHA-1/256/384) in
 * *ret (present bits: the PCRs the log extends at least once), and per bank
 * the PCRs the log extends in ret_touched (may be NULL).
 */
void tpm_eventlog_replay(const struct tpm_eventlog *log, struct tpm_pcrs *ret,
    uint32_t ret_touched[TPM_BANK_COUNT]);

/*
 * Appraise the log against the quote: quoted holds the authenticated PCR
 * values, covered (per bank) the PCRs the quote's selection holds (see
 * tpm_quote_info.selected). For every bank the log carries and every PCR
 * it extends that the quote covers, the replay must equal the quoted value
 * (KW_ERR_MISMATCH "event log does not replay to the quoted PCRs"). At
 * least one PCR must be compared that way (KW_ERR_MISMATCH "event log and
 * quote share no PCR"). Then the claims, each only from records that are
 * authenticated (a PCR whose replay was compared equal in the bank whose
 * digest is used, and event data equal to what the digest covers):
 *   "secure_boot": bool       EV_EFI_VARIABLE_DRIVER_CONFIG of EFI global
 *                             variable SecureBoot in PCR 7, its first byte
 *                             (digest = H(UEFI_VARIABLE_DATA));
 *   "boot_loader_sha256": [hex, ...], "kernel_sha256": hex
 *                             EV_EFI_BOOT_SERVICES_APPLICATION in PCR 4,
 *                             sha256 digests in log order: the last is the
 *                             kernel when there are two or more, the ones
 *                             before it the boot loaders;
 *   "kernel_cmdline": string  the last of: grub's EV_IPL "kernel_cmdline: "
 *                             text in PCR 8 (digest = H(text after the
 *                             prefix, no NUL)); systemd-stub's load options
 *                             in PCR 12 (EV_IPL, or EV_EVENT_TAG with tag
 *                             0x8F3B22ED: UTF-16LE, digest = H(the bytes)),
 *                             as UTF-8;
 *   "events": int             the number of records.
 * Members are absent when the log holds no such authenticated record. A
 * recognized record (SecureBoot, a command line) whose data is not what
 * its verified digest covers fails the appraisal (KW_ERR_MISMATCH "event
 * log: event data does not match its measured digest").
 * 0 and a new object in *ret_claims, or a negative code and a static reason.
 */
int tpm_eventlog_appraise(const struct tpm_eventlog *log, const struct tpm_pcrs *quoted,
    const uint32_t covered[static TPM_BANK_COUNT], json_t **ret_claims,
    const char **reterr_reason) KW_WUR;

#endif
