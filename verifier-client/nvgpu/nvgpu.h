/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_NVGPU_H
#define KW_NVGPU_H

/*
 * NVIDIA Hopper confidential-computing GPU evidence (docs/verifier-nvgpu.md):
 * the SPDM 1.1 GET_MEASUREMENTS transcript (request ‖ response, the
 * response ending in an ECDSA P-384 signature over everything before it),
 * signed by the leaf of the GPU's device certificate chain, which chains to
 * the pinned NVIDIA Device Identity CA (or a configured emulation root).
 * Parsing is bounded (kw_rd) and yields views into the caller's bytes.
 */

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "kw_err.h"

#define NVGPU_NONCE_LEN 32
#define NVGPU_REQUEST_LEN 37          /* 11 E0 p1 p2 nonce[32] slot */
#define NVGPU_SIG_LEN 96              /* ECDSA P-384 r‖s, big-endian */
#define NVGPU_MAX_REPORT 16384        /* real reports are ~4.1 KiB */
#define NVGPU_MAX_BLOCKS 255          /* NumberOfBlocks is one byte */
#define NVGPU_MAX_VALUE 64            /* a measurement value (Hopper: 48, SHA-384) */
#define NVGPU_MAX_TLVS 64             /* opaque-data fields (real: 14..16) */
#define NVGPU_MAX_TRAILING 16         /* zero bytes tolerated after the signature */
#define NVGPU_MAX_CHAIN 8             /* certificates of one device chain */
#define NVGPU_MAX_CERT 4096           /* DER bytes of one certificate */
#define NVGPU_MAX_TEST_ROOTS 8
#define NVGPU_CHAIN_CACHE_SLOTS 256   /* direct-mapped, by the chain's digest */

/* Opaque TLV type ids (NVIDIA nvtrust). */
enum nvgpu_tlv_type {
	NVGPU_TLV_DRIVER_VERSION = 3,
	NVGPU_TLV_GPU_INFO = 4,
	NVGPU_TLV_VBIOS_VERSION = 6,
	NVGPU_TLV_NVDEC0_STATUS = 11,
	NVGPU_TLV_MSRSCNT = 12,
	NVGPU_TLV_CPRINFO = 13,
	NVGPU_TLV_BOARD_ID = 14,
	NVGPU_TLV_CHIP_SKU = 15,
	NVGPU_TLV_CHIP_SKU_MOD = 16,
	NVGPU_TLV_PROJECT = 17,
	NVGPU_TLV_PROJECT_SKU = 18,
	NVGPU_TLV_PROJECT_SKU_MOD = 19,
	NVGPU_TLV_FWID = 20,
	NVGPU_TLV_PROTECTED_PCIE_STATUS = 21,
	NVGPU_TLV_OPAQUE_DATA_VERSION = 34,
	NVGPU_TLV_FEATURE_FLAG = 36,
};

struct nvgpu_block {
	uint8_t index;                /* 1..255, strictly ascending in a report */
	uint8_t value_type;           /* DMTFSpecMeasurementValueType */
	const uint8_t *value;         /* view, value_len bytes (1..NVGPU_MAX_VALUE) */
	size_t value_len;
};

struct nvgpu_tlv {
	uint16_t type;
	const uint8_t *value;         /* view, len bytes */
	size_t len;
};

/* A parsed transcript: every pointer is a view into the bytes given to nvgpu_report_parse. */
struct nvgpu_report {
	uint8_t version;              /* 0x11 (SPDM 1.1) in request and response */
	uint8_t req_param1, req_param2, slot;
	const uint8_t *nonce;         /* the request's nonce: the binding (NVGPU_NONCE_LEN) */
	uint8_t rsp_param1, rsp_param2;
	size_t nblocks;
	struct nvgpu_block blocks[NVGPU_MAX_BLOCKS];
	const uint8_t *rsp_nonce;     /* the responder's nonce (NVGPU_NONCE_LEN) */
	size_t ntlvs;
	struct nvgpu_tlv tlvs[NVGPU_MAX_TLVS];
	const uint8_t *signed_bytes;  /* request ‖ response up to the signature */
	size_t signed_len;
	const uint8_t *sig;           /* NVGPU_SIG_LEN bytes */
	size_t trailing;              /* zero bytes after the signature (tolerated) */
};

/*
 * Parse a transcript of len bytes (at most NVGPU_MAX_REPORT). Request:
 * version 0x11, code 0xE0, param1 bit 0 (signature requested), param2 0xFF
 * (all blocks), nonce, slot 0..7. Response: the same version, code 0x60,
 * slot equal to the request's, NumberOfBlocks DMTF blocks (measurement
 * specification 1; value type, size 1..NVGPU_MAX_VALUE; indexes strictly
 * ascending) filling MeasurementRecordLength exactly, nonce, opaque data of
 * TLVs filling OpaqueLength exactly (no type twice, at most NVGPU_MAX_TLVS),
 * the signature, then at most NVGPU_MAX_TRAILING zero bytes. 0 and *ret
 * filled; KW_ERR_TRUNCATED, KW_ERR_TRAILING, KW_ERR_INVALID_FORMAT,
 * KW_ERR_UNSUPPORTED, KW_ERR_TOO_LARGE (*ret untouched). No cryptography.
 */
int nvgpu_report_parse(const uint8_t *p, size_t len, struct nvgpu_report *ret) KW_WUR;

/* The TLV of this type, or NULL. */
const struct nvgpu_tlv *nvgpu_report_tlv(const struct nvgpu_report *r, uint16_t type);

/*
 * The opaque fields as claims (docs/claims.md, GPU claims):
 * driver_version, vbios_version, chip_sku, chip_sku_mod, project,
 * project_sku, board_id, cc_mode, protected_pcie, nvdec0_status,
 * opaque_data_version, fwid, and "measurements" {"<index>": hex} for every
 * block whose value is not all zero. String fields must be printable ASCII
 * once trailing NUL bytes are removed. 0 and a new object, or
 * KW_ERR_INVALID_FORMAT (a field of the wrong size or bytes) / KW_ERR_NOMEM.
 */
int nvgpu_report_claims(const struct nvgpu_report *r, json_t **ret) KW_WUR;

/* ---- trust and verification ---- */

/* SHA-256 of the DER of the NVIDIA Device Identity CA (NVIDIA's verifier_device_root.pem). */
extern const uint8_t nvgpu_nvidia_root_sha256[32];

/*
 * Roots: the pinned NVIDIA root, plus emulation roots the configuration
 * names (add them before sharing the trust). The trust also holds the chain
 * cache: a chain that verified is remembered by the SHA-256 of its
 * certificates as sent, with the window in which all of them are valid; a
 * later report with the same certificates verified at a time inside that
 * window skips the chain (the root pin, the transcript signature and the
 * nonce are checked every time). Failed chains are never entered. Thread-safe.
 */
struct nvgpu_trust;

int nvgpu_trust_new(struct nvgpu_trust **ret) KW_WUR;
/*
 * Trust an emulation root (PEM, exactly one self-signed certificate), ONLY
 * because the configuration names it: claims from it carry "root": "test".
 * KW_ERR_IO, KW_ERR_INVALID_FORMAT, KW_ERR_TOO_LARGE (more than
 * NVGPU_MAX_TEST_ROOTS), KW_ERR_NOMEM.
 */
int nvgpu_trust_add_test_root_pem(struct nvgpu_trust *t, const void *pem, size_t len) KW_WUR;
int nvgpu_trust_add_test_root_file(struct nvgpu_trust *t, const char *path) KW_WUR;
void nvgpu_trust_free(struct nvgpu_trust *t);   /* NULL-safe */
/* Chain look-ups answered from the cache, and those that were not. */
void nvgpu_trust_cache_stats(struct nvgpu_trust *t, unsigned long *ret_hits, unsigned long *ret_misses);

/*
 * Verify one GPU's evidence at time at (seconds since the epoch): parse the
 * transcript; the chain certs[0..n-1] (DER, leaf first, root last, 2 ..
 * NVGPU_MAX_CHAIN certificates) must end at the pinned NVIDIA root or a
 * test root; the leaf's P-384 key must verify the signature over SHA-384 of
 * the signed bytes; the chain must verify as exactly that path, every
 * certificate valid at at; when nonce is not NULL the request's nonce must equal it
 * (constant time). 0 and new claims (nvgpu_report_claims plus "root":
 * "nvidia" or "test"), or a code and a static reason (*ret_claims
 * untouched): KW_ERR_SIG_INVALID, KW_ERR_CERT_INVALID, KW_ERR_CERT_EXPIRED,
 * KW_ERR_UNTRUSTED_ROOT, KW_ERR_MISMATCH (nonce), parse codes,
 * KW_ERR_NOMEM. Thread-safe.
 */
int nvgpu_verify(struct nvgpu_trust *t, const uint8_t *report, size_t report_len,
    const uint8_t *const *certs, const size_t *cert_lens, size_t ncerts, int64_t at,
    const uint8_t *nonce, json_t **ret_claims, const char **reterr_reason) KW_WUR;

#endif
