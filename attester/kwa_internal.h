/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KWA_INTERNAL_H
#define KWA_INTERNAL_H

/*
 * libkwattester's testing knobs, for kwget and the test suite only. They are
 * in the internal static library (kwattester_dep) and NOT exported by
 * libkwattester.so (attester/kwattester.map).
 */

#include <stddef.h>
#include <stdint.h>

#include "kwattester.h"

#define KWA_EMU_MEASUREMENT_LEN 48
#define KWA_EMU_REPORT_DATA_LEN 64

/*
 * Emulated evidence details (with kwa_set_emulation): MEASUREMENT/MRTD
 * (NULL: the set's), REPORT_DATA (NULL: the real binding), POLICY.DEBUG or
 * TD_ATTRIBUTES.DEBUG. Always KWA_OK.
 */
int kwa_test_set_emu(struct kwa_ctx *ctx, const uint8_t *measurement, const uint8_t *report_data,
    int debug);

/*
 * Files written during kwa_fetch (new, 0600, NULL: none): the /attest body,
 * the compact JWE received, the TEE RSA private key (PEM), the token.
 * KWA_ERR_LOCAL (out of memory).
 */
int kwa_test_set_outputs(struct kwa_ctx *ctx, const char *save_attest, const char *jwe_out,
    const char *tee_key_out, const char *token_out);

#endif
