/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_TPM_CA_H
#define KW_TPM_CA_H

/*
 * A set of configured CA certificates for TPM key certificates (the AK CAs
 * of tpm-akcert; docs/verifier-tpm.md, "tpm-akcert"). Every certificate
 * loaded is a trust anchor, self-signed or not (a configured intermediate
 * such as Google's tpm_ek_intermediate_2 is trusted as listed: OpenSSL's
 * partial-chain mode), so the files must hold each CA that issues the
 * certificates directly. Read-only once built: tpm_ca_verify may run on
 * many threads at once.
 */

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "kw_err.h"

#define TPM_CA_MAX_FILE (256 * 1024)    /* bytes of one CA file */
#define TPM_CA_MAX_CERT (16 * 1024)     /* bytes of one DER certificate from evidence */

struct tpm_ca;

/* An empty set: 0 and *ret (tpm_ca_free), or KW_ERR_NOMEM. */
int tpm_ca_new(struct tpm_ca **ret) KW_WUR;
/* NULL-safe. */
void tpm_ca_free(struct tpm_ca *ca);

/*
 * Add the certificates of path: PEM (one or more CERTIFICATE blocks) or
 * one DER certificate. Each must be a CA certificate (basicConstraints
 * CA:TRUE). 0 and the number added in *ret_count (may be NULL), or
 * KW_ERR_IO / KW_ERR_TOO_LARGE / KW_ERR_INVALID_FORMAT (not certificates,
 * or one is not a CA) / KW_ERR_NOMEM. On failure nothing of the file is
 * added.
 */
int tpm_ca_add_file(struct tpm_ca *ca, const char *path, size_t *ret_count) KW_WUR;

/* Number of certificates in the set. */
size_t tpm_ca_count(const struct tpm_ca *ca);

/*
 * Verify the DER certificate der (len <= TPM_CA_MAX_CERT, nothing after
 * it) at time at (seconds since the epoch) against the set: an end-entity
 * certificate (not a CA) that chains to one of the anchors, valid at at.
 * 0 and its public key in *ret_key (EVP_PKEY_free) and, when ret_info is
 * not NULL, a new object {"issuer": RFC 2253 text, "serial": hex,
 * "sha256": hex of the DER}; or KW_ERR_INVALID_FORMAT (not one DER
 * certificate), KW_ERR_CERT_EXPIRED, KW_ERR_UNTRUSTED_ROOT (no path to an
 * anchor), KW_ERR_CERT_INVALID (bad signature, a CA as leaf, other chain
 * errors), KW_ERR_NOMEM, with a static reason.
 */
int tpm_ca_verify(const struct tpm_ca *ca, const uint8_t *der, size_t len, int64_t at, EVP_PKEY **ret_key,
    json_t **ret_info, const char **reterr_reason) KW_WUR;

#endif
