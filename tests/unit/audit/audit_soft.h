/* SPDX-License-Identifier: Apache-2.0 */
#ifndef AUDIT_SOFT_H
#define AUDIT_SOFT_H

/*
 * A software ECDSA P-256 checkpoint signer for tests and tools only. The
 * broker signs checkpoints in the HSM (docs/audit.md); nothing outside
 * tests/ links this.
 */
#include <openssl/evp.h>

#include "audit.h"

/* A new P-256 key, or NULL. */
EVP_PKEY *audit_soft_key(void);
/* audit_sign_fn over an EVP_PKEY * given as arg: R || S. */
int audit_soft_sign(void *arg, const uint8_t digest[static 32],
    uint8_t ret_sig[static AUDIT_ECDSA_SIG_LEN]);

#endif
