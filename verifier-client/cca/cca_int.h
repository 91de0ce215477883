/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CCA_INT_H
#define CCA_INT_H

/* Internal to verifier-client/cca: the CBOR accessors over libcbor items. */

#include <stddef.h>
#include <stdint.h>

#include <cbor.h>

#include "kw_err.h"

/* cca_cbor_scan, then libcbor's loader: 0 and a new item (cbor_decref) or the scan's codes. */
int cca_cbor_load(const uint8_t *buf, size_t len, cbor_item_t **ret) KW_WUR;

/*
 * m is a definite map of at most max pairs whose keys are integers or text
 * and all distinct. 0, KW_ERR_INVALID_FORMAT, KW_ERR_TOO_LARGE.
 */
int cca_map_check(const cbor_item_t *m, size_t max) KW_WUR;
/* The value of integer key in a checked map, or NULL. */
const cbor_item_t *cca_map_get(const cbor_item_t *m, int64_t key);
/* Every key of the checked map m is one of known: 0 or KW_ERR_INVALID_FORMAT. */
int cca_map_only(const cbor_item_t *m, const int64_t *known, size_t nknown) KW_WUR;

/* A definite byte string of min..max bytes: a view into it. KW_ERR_INVALID_FORMAT otherwise. */
int cca_bstr(const cbor_item_t *it, size_t min, size_t max, const uint8_t **ret, size_t *ret_len) KW_WUR;
/* A definite text string of 1..max printable ASCII characters, copied NUL-terminated into out. */
int cca_tstr(const cbor_item_t *it, size_t max, char *out, size_t outlen) KW_WUR;
/* An integer that fits int64_t. */
int cca_int(const cbor_item_t *it, int64_t *ret) KW_WUR;

/*
 * The COSE_Sign1 Sig_structure ["Signature1", protected, h'', payload]
 * encoded by libcbor: 0 and a new buffer (free()), or KW_ERR_NOMEM.
 */
int cca_sig_structure(const uint8_t *prot, size_t prot_len, const uint8_t *payload, size_t payload_len,
    uint8_t **ret, size_t *ret_len) KW_WUR;

#endif
