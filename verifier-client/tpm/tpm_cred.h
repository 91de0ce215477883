/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_TPM_CRED_H
#define KW_TPM_CRED_H

/*
 * Credential activation for the `tpm` evidence type (docs/verifier-tpm.md,
 * "tpm (credential activation)"): the EK certificate to its manufacturer
 * CAs, and TPM2_MakeCredential run in software
 * (TPM 2.0 Part 1 §24 "Credential Protection") with OpenSSL. TPM structures
 * are (un)marshalled with tss2-mu only. No logging, no state: thread-safe.
 */

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <jansson.h>

#include "kw_err.h"
#include "tpm_ca.h"

#define TPM_CRED_SECRET_LEN 32       /* the credential: the size of a SHA-256 digest (EK nameAlg) */
#define TPM_CRED_MAX_EK_CERT TPM_CA_MAX_CERT     /* DER EK certificate */
#define TPM_CRED_MAX_EK_CHAIN TPM_CA_MAX_CHAIN   /* intermediates a client may send with its EK certificate */
#define TPM_CRED_MAX_NAME 66         /* nameAlg (2) ‖ a SHA-512 digest at most (TPM_NAME_MAX) */
#define TPM_CRED_MAX_BLOB 512        /* a marshalled TPM2B_ID_OBJECT or TPM2B_ENCRYPTED_SECRET */

/*
 * Verify an EK certificate (DER) with optional intermediates (DER, at most
 * TPM_CRED_MAX_EK_CHAIN) to the manufacturer CAs ca (tpm.ek_roots; every
 * certificate there is an anchor: tpm_ca_verify_chain, TPM_CA_EK) at time
 * at (seconds). The EK must be RSA-2048 (the TCG default EK template L-1:
 * nameAlg SHA-256, AES-128-CFB; ECC EKs are not supported). 0, a new
 * reference to the EK's public key in *ret_ek (EVP_PKEY_free) and, when
 * ret_claims is not NULL, a new object {"issuer": RFC 2253, "serial": hex,
 * "sha256": hex of the certificate, "spki_sha256": hex of the EK's
 * SubjectPublicKeyInfo} in *ret_claims; or the codes of tpm_ca_verify_chain,
 * KW_ERR_UNSUPPORTED (key type or size), KW_ERR_NOMEM, with a static
 * reason. Nothing is written on error.
 */
int tpm_ek_cert_verify(const struct tpm_ca *ca, const uint8_t *der, size_t len,
    const uint8_t *const *chain, const size_t *chain_lens, size_t nchain, int64_t at,
    EVP_PKEY **ret_ek, json_t **ret_claims, const char **reterr_reason) KW_WUR;

/*
 * The AK's public area and name come from tpm_quote.h: tpm_public_parse
 * (TPM2B_PUBLIC) and tpm_public_check_ak (fixedTPM, fixedParent,
 * sensitiveDataOrigin, restricted, sign, not decrypt).
 */

/*
 * TPM2_MakeCredential in software: seal cred (1..32 bytes) to the EK ek
 * (RSA-2048, EK template L-1) and the object named name. A fresh random
 * seed is encrypted with RSA-OAEP (SHA-256, label "IDENTITY\0"); from it
 * KDFa(SHA-256, seed, "STORAGE", name) gives the AES-128-CFB key that
 * encrypts the TPM2B_DIGEST credential, and KDFa(SHA-256, seed, "INTEGRITY")
 * the HMAC key of the outer HMAC over encIdentity ‖ name. On 0: the
 * marshalled TPM2B_ID_OBJECT in ret_blob and TPM2B_ENCRYPTED_SECRET in
 * ret_secret (malloc, *_len bytes, each at most TPM_CRED_MAX_BLOB), exactly
 * what TPM2_ActivateCredential takes. KW_ERR_INVALID_ARG, KW_ERR_UNSUPPORTED
 * (not an RSA-2048 key), KW_ERR_CRYPTO, KW_ERR_NOMEM; nothing is written on
 * error. Intermediate keys are wiped.
 */
int tpm_cred_make(EVP_PKEY *ek, const uint8_t *name, size_t name_len, const uint8_t *cred,
    size_t cred_len, uint8_t **ret_blob, size_t *ret_blob_len, uint8_t **ret_secret,
    size_t *ret_secret_len) KW_WUR;

#endif
