/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_NVGPU_RIM_H
#define KW_NVGPU_RIM_H

/*
 * NVIDIA reference integrity manifests (RIMs, docs/verifier-nvgpu.md "RIM
 * import"): a signed SWID tag (ISO/IEC 19770-2 XML) whose Payload lists the
 * golden measurement blocks of one driver or VBIOS, enveloped-signed with
 * XML-DSig (ECDSA P-384, C14N 1.1) by a certificate whose chain is carried
 * in KeyInfo/X509Data and must end at the configured RIM root.
 *
 * This is libkwnvgpu_rim: libxml2 and xmlsec1 (OpenSSL). It is linked into
 * kwctl (and its tests and fuzz target) only; the broker never parses XML,
 * it receives the extracted values as an ordinary reference-value set
 * through the admin API.
 *
 * Not thread-safe: libxml2's and xmlsec's global state (error callbacks,
 * I/O callbacks) is set up once per process by the first call.
 */

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "kw_err.h"

#define NVGPU_RIM_MAX_XML (512 * 1024)   /* bytes of one RIM (real: ~20 KiB) */
#define NVGPU_RIM_MAX_ROOT (64 * 1024)   /* bytes of the root PEM file */
#define NVGPU_RIM_MAX_RESOURCES 256      /* Payload/Resource elements (real: 64) */
#define NVGPU_RIM_MAX_ALTERNATIVES 16    /* alternatives of one measurement (real: 1..4) */
#define NVGPU_RIM_MAX_INDEX 254          /* RIM index; the SPDM block index is index + 1 */
#define NVGPU_RIM_MAX_VALUE 64           /* bytes of one value (Hopper: 48, SHA-384) */
#define NVGPU_RIM_MAX_DEPTH 32           /* element nesting (libxml2 also caps it) */

/*
 * Verify the RIM in xml (xml_len bytes, at most NVGPU_RIM_MAX_XML) against
 * root_pem (one PEM certificate, the only trust anchor) at time at (seconds
 * since the epoch: every certificate of the chain must be valid then), then
 * extract its measurements. Returns 0 and *ret (a new object:
 *   {"tag_id", "product", "version", "signer", "measurements":
 *    [{"index": RIM index 0.., "name", "active": bool, "size": bytes,
 *      "values": [hex, ...]  one per alternative, lower case}]})
 * or a KW_ERR_* code with *reterr_why set to a static one-line reason:
 * KW_ERR_TOO_LARGE, KW_ERR_INVALID_FORMAT (not XML, a DTD, not a RIM,
 * a measurement malformed), KW_ERR_UNSUPPORTED (another signature layout
 * or algorithm), KW_ERR_CERT_INVALID / KW_ERR_CERT_EXPIRED (the signing
 * certificate does not chain to the root at that time),
 * KW_ERR_SIG_INVALID (the signed content or the signature value changed),
 * KW_ERR_CONFIG (root_pem is not one certificate).
 * XML hardening: no DTD at all (a DOCTYPE is refused, so no entity is ever
 * declared), no network, no external files, exactly one Signature, a
 * child of the root element, with one Reference URI="" (the whole
 * document, enveloped); only C14N 1.1 / enveloped-signature / SHA-384 /
 * ECDSA-SHA384; keys only from X509Data certificates verified to the root.
 */
int nvgpu_rim_verify(const uint8_t *xml, size_t xml_len, const uint8_t *root_pem,
    size_t root_len, int64_t at, json_t **ret, const char **reterr_why) KW_WUR;

/*
 * The reference-value set for a verified RIM (nvgpu_rim_verify's *ret):
 *   {"measurements": [], "gpu_measurements": [{"index": SPDM index (RIM
 *    index + 1), "value": hex, "name": "<name> (<product> <version>)"}...]}
 * one entry per alternative of every active measurement, in RIM order. An
 * all-zero value is kept: it registers "nothing measured here" (docs/policy.md).
 * Measurements not 48 bytes long are KW_ERR_UNSUPPORTED (the GPU claims are
 * SHA-384). Returns 0 and *ret (new), or KW_ERR_* with *ret untouched.
 */
int nvgpu_rim_refval(const json_t *rim, json_t **ret) KW_WUR;

#endif
