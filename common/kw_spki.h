/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_SPKI_H
#define KW_SPKI_H

/*
 * RSA SubjectPublicKeyInfo (RFC 5280 4.1.2.7 with RFC 8017 A.1.1
 * RSAPublicKey) to and from the modulus and exponent bytes, with OpenSSL's
 * ASN.1 templates only: no EVP_PKEY is built, so OpenSSL 3's key encoders
 * and decoders (each a provider look-up and several allocations) stay off
 * the token path. Used for the EAR token's "akpub" (the TEE's RSA key).
 */

#include <stddef.h>
#include <stdint.h>

#include "kw_err.h"

/*
 * DER of SEQUENCE { SEQUENCE { rsaEncryption, NULL }, BIT STRING {
 * RSAPublicKey { n, e } } } for the unsigned big-endian n and e (no leading
 * zero bytes, both non-zero). 0 and a new buffer (free()); KW_ERR_INVALID_ARG,
 * KW_ERR_NOMEM.
 */
int kw_rsa_spki_encode(const uint8_t *n, size_t nlen, const uint8_t *e, size_t elen, uint8_t **ret,
    size_t *ret_len) KW_WUR;

/*
 * The reverse, strictly: the algorithm must be rsaEncryption with NULL
 * parameters, the bit string without unused bits, n and e positive, and the
 * input must be exactly the DER encoding of what it holds (re-encoded and
 * compared). 0 and new buffers with the minimal big-endian n and e (free());
 * KW_ERR_INVALID_FORMAT, KW_ERR_TOO_LARGE (over 16 KiB), KW_ERR_NOMEM.
 */
int kw_rsa_spki_decode(const uint8_t *der, size_t len, uint8_t **ret_n, size_t *ret_nlen, uint8_t **ret_e,
    size_t *ret_elen) KW_WUR;

#endif
