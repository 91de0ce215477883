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

#endif
