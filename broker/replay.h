/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_REPLAY_H
#define KW_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "kw_err.h"

/*
 * A bounded set of used single-use values (challenge randoms, DPoP "jti"
 * digests), each remembered until its expiry. Open addressing over 2*cap
 * slots; when cap live entries are present, expired ones are swept, and if
 * none expired the add fails with KW_ERR_UNAVAILABLE (shed load rather than
 * forget a used value). Loop thread only.
 */
struct kw_replay;

#define KW_REPLAY_ID_LEN 16

int kw_replay_new(size_t cap, struct kw_replay **ret) KW_WUR;
void kw_replay_free(struct kw_replay *r);
/* 0 (recorded), KW_ERR_REPLAY (seen and not expired), KW_ERR_UNAVAILABLE (full). */
int kw_replay_add(struct kw_replay *r, const uint8_t id[static KW_REPLAY_ID_LEN], int64_t expiry,
    int64_t now) KW_WUR;

#endif
