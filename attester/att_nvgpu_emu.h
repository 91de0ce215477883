/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ATT_NVGPU_EMU_H
#define ATT_NVGPU_EMU_H

/*
 * TESTING ONLY: emulated NVIDIA GPU evidence (kwget --emu-gpus N), signed
 * by the leaves of a "NOT NVIDIA" chain made by scripts/mk-nvgpu-emu.sh.
 * Each report is an SPDM 1.1 GET_MEASUREMENTS transcript like a Hopper
 * GPU's (docs/verifier-nvgpu.md, "Emulation"): nonce = SHA-256(JCS(runtime-
 * data))[0:32], 8 measurement blocks SHA-384("NOT NVIDIA emulated GPU block
 * <i>"), driver 550.90.07, VBIOS 96.00.9f.00.01, chip SKU 882, project 1010.
 */

#include <jansson.h>

#include "kw_err.h"

#define ATT_NVGPU_EMU_MAX 8   /* leaf0 .. leaf7 of the emulation directory */

/*
 * The /attest member "gpus" for n (1..ATT_NVGPU_EMU_MAX) emulated GPUs of
 * dir, GPU i signed by dir/leaf<i>.key with chain leaf<i>, ica, root. 0 and
 * a new array in *ret, or KW_ERR_INVALID_ARG, KW_ERR_IO (a file),
 * KW_ERR_INVALID_FORMAT (a PEM), KW_ERR_CRYPTO, KW_ERR_NOMEM.
 */
int att_nvgpu_emu_gpus(const char *dir, unsigned int n, const json_t *runtime_data, json_t **ret) KW_WUR;

#endif
