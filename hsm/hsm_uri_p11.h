/* SPDX-License-Identifier: Apache-2.0 */
#ifndef HSM_URI_P11_H
#define HSM_URI_P11_H

/*
 * The part of PKCS#11 URI handling that needs p11-kit (hsm_uri_p11.c):
 * for the helper's PKCS#11 layer (hsm/hsm_p11*.c) only, so that the broker
 * never sees pkcs11.h nor links libp11-kit.
 */
#include <stdbool.h>

#include <p11-kit/pkcs11.h>

#include "hsm_uri.h"

/* A parsed token URI, for matching (opaque). */
struct hsm_uri;

/*
 * Parse a token URI as hsm_uri_token_check does (keywarden's rules), then
 * with p11-kit for matching. 0 and *ret, or KW_ERR_CONFIG with the reason
 * in eb, or KW_ERR_NOMEM.
 */
int hsm_uri_token_new(const char *s, struct hsm_uri **ret, char *eb, size_t el);
void hsm_uri_free(struct hsm_uri *u);

/* Whether the module, slot and token fit u (attributes it leaves out match anything). */
bool hsm_uri_match(const struct hsm_uri *u, const CK_INFO *mi, CK_SLOT_ID slot_id,
    const CK_SLOT_INFO *si, const CK_TOKEN_INFO *ti);

/* *ret (free()): the URI of token ti (token, manufacturer, model, serial). 0 or KW_ERR_NOMEM. */
int hsm_uri_format_token(const CK_TOKEN_INFO *ti, char **ret);

#endif
