/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_TPM_QUOTE_H
#define KW_TPM_QUOTE_H

/*
 * TPM 2.0 quotes (docs/verifier-tpm.md, "Quotes"): the AK's public area, the
 * PCR values a quote covers, and the quote itself (TPMS_ATTEST signed into a
 * TPMT_SIGNATURE). Every TPM structure is unmarshalled by tss2-mu; nothing
 * here indexes TPM bytes by hand. Shared by every TPM member of the seam
 * (tpm-akcert, tpm, az-snp-vtpm, az-tdx-vtpm). No logging above debug.
 *
 * Functions are thread-safe; they keep no state.
 */

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "kw_err.h"

#define TPM_PCR_COUNT 24              /* PCR 0..23 (PC Client) */
#define TPM_MAX_DIGEST 48             /* the largest bank here: SHA-384 */
#define TPM_NAME_MAX (2 + 64)         /* nameAlg ‖ digest (up to SHA-512) */
#define TPM_MAX_ATTEST 1024           /* a marshalled TPMS_ATTEST (TPM2B_ATTEST holds < 1 KiB) */
#define TPM_MAX_SIGNATURE 1024        /* a marshalled TPMT_SIGNATURE (RSA-4096 + header fits) */
#define TPM_MAX_PUBLIC 1024           /* a marshalled TPM2B_PUBLIC / TPMT_PUBLIC */

/* The PCR banks keywarden knows, in claim order. */
enum tpm_bank {
	TPM_BANK_SHA1 = 0,
	TPM_BANK_SHA256 = 1,
	TPM_BANK_SHA384 = 2,
	TPM_BANK_COUNT = 3,
};

/* "sha1", "sha256", "sha384"; NULL for anything else. */
const char *tpm_bank_name(enum tpm_bank b);
/* The bank named s: 0 and *ret, or KW_ERR_NOT_FOUND. */
int tpm_bank_from_name(const char *s, enum tpm_bank *ret) KW_WUR;
/* The bank of TPM_ALG_ID alg (0x0004, 0x000b, 0x000c): 0 and *ret, or KW_ERR_UNSUPPORTED. */
int tpm_bank_from_alg(uint16_t alg, enum tpm_bank *ret) KW_WUR;
/* TPM_ALG_ID of b. */
uint16_t tpm_bank_alg(enum tpm_bank b);
/* Digest size of b: 20, 32, 48. */
size_t tpm_bank_size(enum tpm_bank b);
/* OpenSSL's digest for b (static, never NULL for a valid b). */
const EVP_MD *tpm_bank_md(enum tpm_bank b);

/*
 * A set of PCR values: per bank, a bit per supplied PCR and its value
 * (tpm_bank_size(b) bytes of val[b][n]). Plain data: zero it to start,
 * copy freely, nothing to free.
 */
struct tpm_pcrs {
	uint32_t present[TPM_BANK_COUNT];                       /* bit n: PCR n supplied */
	uint8_t val[TPM_BANK_COUNT][TPM_PCR_COUNT][TPM_MAX_DIGEST];
};

/* Set PCR n of bank b to value (len must be tpm_bank_size(b)): 0 or KW_ERR_INVALID_ARG. */
int tpm_pcrs_set(struct tpm_pcrs *p, enum tpm_bank b, unsigned int n, const uint8_t *value,
    size_t len) KW_WUR;
/* 1 when PCR n of bank b is present. */
int tpm_pcrs_has(const struct tpm_pcrs *p, enum tpm_bank b, unsigned int n);

/*
 * The evidence JSON form {"sha256": {"0": "<hex>", ..., "23": "<hex>"},
 * "sha1": {...}, "sha384": {...}}: at least one bank, each an object of 1..24
 * members named by a decimal PCR index 0..23 (no leading zeros, no sign)
 * whose values are hex of exactly the bank's digest size (either case).
 * Unknown banks, other members, duplicate or out-of-range indices fail.
 * 0 and *ret filled (untouched on failure), or KW_ERR_INVALID_FORMAT with a
 * static client-safe reason.
 */
int tpm_pcrs_from_json(const json_t *o, struct tpm_pcrs *ret, const char **reterr_reason) KW_WUR;

/*
 * The text form of the vectors (pcrs_sha256.txt) for bank b: lines
 * "<index> <hex>" (index 0..23 decimal, one space, hex of the bank's size),
 * blank lines ignored, each index at most once, at least one line. 0 and
 * bank b of *ret replaced by these values (other banks untouched), or
 * KW_ERR_INVALID_FORMAT with a static reason (*ret untouched).
 */
int tpm_pcrs_from_text(const char *text, size_t len, enum tpm_bank b, struct tpm_pcrs *ret,
    const char **reterr_reason) KW_WUR;

/*
 * A TPM object's public area, decoded.
 */
struct tpm_public {
	EVP_PKEY *pkey;                /* owned: RSA or EC (NIST P-256/P-384/P-521) */
	uint16_t type;                 /* TPM_ALG_RSA (0x0001) or TPM_ALG_ECC (0x0023) */
	uint16_t name_alg;             /* TPM_ALG_ID of nameAlg */
	uint32_t attributes;           /* TPMA_OBJECT */
	uint8_t name[TPM_NAME_MAX];    /* nameAlg (big-endian) ‖ H_nameAlg(marshalled TPMT_PUBLIC) */
	size_t name_len;
};

/*
 * Decode a marshalled TPM2B_PUBLIC (tpm2b = 1: u16 size ‖ TPMT_PUBLIC, as
 * tpm2_createak -u writes) or a bare TPMT_PUBLIC (tpm2b = 0, as go-tpm's
 * ak_pub) of exactly len bytes (nothing may follow). The key is RSA (the
 * exponent 0 means 65537) or ECC on P-256/P-384/P-521; nameAlg SHA-1,
 * SHA-256, SHA-384 or SHA-512. The name is computed over the TPMT_PUBLIC
 * bytes as given. 0 and *ret filled (free with tpm_public_clear), or
 * KW_ERR_INVALID_FORMAT / KW_ERR_TRUNCATED / KW_ERR_TRAILING /
 * KW_ERR_UNSUPPORTED / KW_ERR_NOMEM with a static reason (*ret untouched).
 */
int tpm_public_parse(const uint8_t *buf, size_t len, int tpm2b, struct tpm_public *ret,
    const char **reterr_reason) KW_WUR;

/*
 * 0 when the public area is an attestation key as a TPM makes one: a
 * restricted signing key (restricted, sign), not a decryption key, with
 * fixedTPM, fixedParent and sensitiveDataOrigin; else KW_ERR_UNSUPPORTED
 * and a static reason.
 */
int tpm_public_check_ak(const struct tpm_public *p, const char **reterr_reason) KW_WUR;

/* Free what tpm_public_parse allocated and zero *p. NULL-safe. */
void tpm_public_clear(struct tpm_public *p);

/*
 * A quote as tss2-mu reads it (the fields keywarden uses).
 */
struct tpm_quote_info {
	uint8_t qualified_signer[TPM_NAME_MAX];
	size_t qualified_signer_len;
	uint8_t extra[64];             /* extraData (TPM2B_DATA: at most 64 bytes) */
	size_t extra_len;
	uint64_t clock;
	uint32_t reset_count, restart_count;
	int safe;
	uint64_t firmware_version;
	uint32_t selected[TPM_BANK_COUNT];   /* bit n: PCR n of the bank is in pcrSelect */
	uint8_t bank_order[TPM_BANK_COUNT];  /* enum tpm_bank of each selection, in quote order */
	size_t nbanks;                       /* entries of bank_order */
	uint8_t pcr_digest[64];
	size_t pcr_digest_len;
};

/*
 * Unmarshal a TPMS_ATTEST of exactly len bytes: magic TPM_GENERATED_VALUE,
 * type TPM_ST_ATTEST_QUOTE, a PCR selection of known banks (each at most
 * once) and PCRs 0..23 only, at least one PCR. Nothing is authenticated.
 * 0 and *ret, or KW_ERR_INVALID_FORMAT / KW_ERR_TRUNCATED / KW_ERR_TRAILING /
 * KW_ERR_UNSUPPORTED with a static reason (*ret untouched).
 */
int tpm_quote_parse(const uint8_t *attest, size_t len, struct tpm_quote_info *ret,
    const char **reterr_reason) KW_WUR;

/*
 * Verify a quote, in this order:
 *   1. attest parses (tpm_quote_parse);
 *   2. sig is a TPMT_SIGNATURE of exactly sig_len bytes: RSASSA-PKCS1-v1_5 or
 *      RSA-PSS (RSA AK) or ECDSA (EC AK), hash SHA-256 or SHA-384, and it
 *      verifies with ak over the attest bytes as given (KW_ERR_SIG_INVALID);
 *   3. extraData equals expected (expected_len bytes, 0..64; constant time;
 *      KW_ERR_MISMATCH "quote nonce (extraData) does not match");
 *   4. every selected PCR is in pcrs (KW_ERR_INVALID_FORMAT "a quoted PCR
 *      value is missing");
 *   5. pcrDigest equals H(selected values in selection order, each bank's
 *      PCRs ascending), H the signature's hash (KW_ERR_MISMATCH "PCR values
 *      do not match the quote's pcrDigest").
 * On success 0 and a new claims object in *ret_claims:
 *   {"pcrs": {"<bank>": {"<n>": "<hex>"}} (the quoted PCRs only),
 *    "tpm": {"clock": int, "reset_count": int, "restart_count": int,
 *            "safe": bool, "firmware_version": "<16 hex>",
 *            "qualified_signer": "<hex>"}}
 * and, when ret_info is not NULL, the parsed quote in *ret_info. On failure
 * a negative code and a static reason; nothing is written to the ret_
 * parameters.
 */
int tpm_quote_verify(const uint8_t *attest, size_t attest_len, const uint8_t *sig, size_t sig_len,
    EVP_PKEY *ak, const struct tpm_pcrs *pcrs, const uint8_t *expected, size_t expected_len,
    json_t **ret_claims, struct tpm_quote_info *ret_info, const char **reterr_reason) KW_WUR;

/*
 * The PCR claims of p for the PCRs marked in sel (per bank), as tpm_quote_verify
 * builds them: {"<bank>": {"<n>": "<hex>"}}. NULL when memory is short.
 */
json_t *tpm_pcrs_claims(const struct tpm_pcrs *p, const uint32_t sel[static TPM_BANK_COUNT]);

#endif
