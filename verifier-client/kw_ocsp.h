/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_OCSP_H
#define KW_OCSP_H

/*
 * Certificate status through OCSP (RFC 6960) for the GPU device chains
 * (docs/verifier-nvgpu.md, "Revocation"): libcurl + OpenSSL's OCSP. Built
 * into keywarden-pcs.so with the other fetchers (verifier_pcs_module.h), so
 * the broker maps libcurl only when a fetch is configured. The broker
 * reaches it through struct kw_cert_status (verifier.h).
 *
 * A request per certificate (its CertID with SHA-1, as responders expect,
 * and a fresh 32-byte nonce) is POSTed to the one configured responder; the
 * answer must be "successful", carry the same nonce, be signed by the
 * certificate's issuer or by a responder the issuer delegated to
 * (id-kp-OCSPSigning), verified with the chain's own root as the only anchor,
 * and be current (thisUpdate <= now + 5 min, nextUpdate, if any, >= now - 5
 * min). good and revoked answers with a nextUpdate are cached until then (at
 * most KW_OCSP_MAX_AGE), keyed by SHA-256 of the CertID, in
 * KW_OCSP_CACHE_SLOTS direct-mapped slots under a mutex. Thread-safe.
 */

#include <stddef.h>
#include <stdint.h>

#include "kw_err.h"

#define KW_OCSP_CACHE_SLOTS 1024
#define KW_OCSP_MAX_RESPONSE (64 * 1024)
#define KW_OCSP_MAX_AGE (7 * 86400)       /* a cached answer, whatever its nextUpdate */
#define KW_OCSP_SKEW 300                  /* seconds of clock skew tolerated on the times */

struct kw_ocsp;

/* url: http:// or https:// responder; timeout_s: the whole exchange, per certificate. */
int kw_ocsp_new(const char *url, unsigned int timeout_s, struct kw_ocsp **ret,
    const char **reterr_why) KW_WUR;
void kw_ocsp_free(struct kw_ocsp *o);

/*
 * The status of certs[first .. n - 2] of a verified chain (DER, leaf first,
 * root last; each certificate's issuer is the next one) at time at:
 *   0                    every one is good
 *   KW_ERR_CERT_INVALID  one is revoked or unknown to the responder (*why)
 *   KW_ERR_UNAVAILABLE / KW_ERR_TIMEOUT  the responder did not answer
 *                        usably (unreachable, HTTP error, malformed, bad
 *                        signature, nonce or times) (*why)
 * *why is static. NVIDIA's device leaf is made by the GPU and is not known
 * to its responder: callers pass first = 1 for GPU chains.
 */
int kw_ocsp_check(struct kw_ocsp *o, const uint8_t *const *certs, const size_t *lens, size_t n,
    size_t first, int64_t at, const char **why) KW_WUR;

/* Cache counters (for tests and logs). */
void kw_ocsp_stats(struct kw_ocsp *o, unsigned long *ret_fetches, unsigned long *ret_hits);

#endif
