/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_X509_H
#define KW_X509_H

/* Small X.509 accessors shared by the verifiers (verifier-client). */

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "kw_err.h"

/*
 * The single subject CN of x as a C string in out (n bytes): 0, or -1 when
 * it is absent, repeated, empty, does not fit (with its NUL) or contains a
 * NUL byte. out is not written on failure.
 */
int kw_x509_subject_cn(const X509 *x, char *out, size_t n) KW_WUR;

/*
 * The value bytes of the single extension of x with this OID (dotted text):
 * 0 and a view into x's memory, KW_ERR_NOT_FOUND when absent,
 * KW_ERR_INVALID_FORMAT when repeated or empty, KW_ERR_NOMEM.
 */
int kw_x509_ext_value(const X509 *x, const char *oid, const uint8_t **ret, size_t *ret_len) KW_WUR;

/* An ASN1_TIME as seconds since the epoch: 0, or KW_ERR_INVALID_FORMAT (*ret not written). */
int kw_asn1_time(const ASN1_TIME *t, int64_t *ret) KW_WUR;

/* x's notBefore and notAfter as seconds since the epoch: 0 or KW_ERR_INVALID_FORMAT. */
int kw_x509_window(const X509 *x, int64_t *ret_nb, int64_t *ret_na) KW_WUR;

/*
 * X509_verify_cert over exactly the path c[0] (leaf) .. c[n-1] (the only
 * anchor), n >= 2: the path OpenSSL builds must be these certificates, in
 * this order. at >= 0: every certificate must be valid at that time (seconds
 * since the epoch); at < 0: no time check. flags: extra
 * X509_VERIFY_PARAM flags (e.g. X509_V_FLAG_X509_STRICT). 0,
 * KW_ERR_CERT_EXPIRED (a certificate outside its validity at at),
 * KW_ERR_CERT_INVALID, KW_ERR_NOMEM, KW_ERR_INTERNAL. Clears OpenSSL's error queue.
 */
int kw_x509_verify_path(X509 *const *c, size_t n, int64_t at, unsigned long flags) KW_WUR;

#endif
