/* SPDX-License-Identifier: Apache-2.0 */
#ifndef HSM_URI_P11_H
#define HSM_URI_P11_H

/*
 * The part of hsm_uri.h that takes PKCS#11 structs: for the helper's
 * PKCS#11 layer (hsm/hsm_p11*.c) only, so that the broker never sees
 * pkcs11.h.
 */
#include <stdbool.h>

#include <p11-kit/pkcs11.h>

#include "hsm_uri.h"

/* Whether the module, slot and token fit u (attributes it leaves out match anything). */
bool hsm_uri_match(const struct hsm_uri *u, const CK_INFO *mi, CK_SLOT_ID slot_id,
    const CK_SLOT_INFO *si, const CK_TOKEN_INFO *ti);

/* *ret (free()): the URI of token ti (token, manufacturer, model, serial). 0 or KW_ERR_NOMEM. */
int hsm_uri_format_token(const CK_TOKEN_INFO *ti, char **ret);

#endif
