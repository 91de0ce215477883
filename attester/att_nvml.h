/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ATT_NVML_H
#define ATT_NVML_H

/*
 * NVIDIA GPU evidence through NVML (kwget --gpus, docs/kwget.md): the
 * library is dlopen()ed at run time ("libnvidia-ml.so.1", found the usual
 * way: ld.so.cache, LD_LIBRARY_PATH); nothing of NVIDIA's is needed to
 * build. The entry points and struct layouts used are declared in
 * att_nvml.c from NVIDIA's public nvml.h documentation:
 * nvmlInit_v2, nvmlShutdown, nvmlDeviceGetCount_v2,
 * nvmlDeviceGetHandleByIndex_v2, nvmlDeviceGetConfComputeGpuAttestationReport
 * (the SPDM transcript, our nonce in the request) and
 * nvmlDeviceGetConfComputeGpuCertificate (attestationCertChain, PEM).
 */

#include <stddef.h>

#include <jansson.h>

#include "kw_err.h"

#define ATT_NVML_LIB "libnvidia-ml.so.1"
#define ATT_NVML_MAX_GPUS 8        /* the broker takes at most 8 (KW_GPUS_MAX) */

/*
 * The /attest member "gpus" for every GPU NVML reports, each report's nonce
 * SHA-256(JCS(runtime_data)) (docs/verifier-nvgpu.md, "Binding"):
 *   0 and a new array of 1..ATT_NVML_MAX_GPUS {"report", "chain"} in *ret;
 *   KW_ERR_NOT_FOUND: no NVML (library absent, no driver) or no GPU; *why says which;
 *   KW_ERR_TOO_LARGE: more GPUs than the broker takes;
 *   KW_ERR_UNAVAILABLE: a GPU did not give its report or certificates
 *                       (e.g. not in confidential-computing mode), *why names the call;
 *   KW_ERR_INVALID_FORMAT: an answer out of its bounds or a chain not PEM;
 *   KW_ERR_NOMEM / KW_ERR_CRYPTO.
 * why (whylen bytes) is always written. NVML is initialised and shut down
 * within the call; the library stays mapped (dlclose is not safe for it).
 */
int att_nvml_gpus(const json_t *runtime_data, json_t **ret, char *why, size_t whylen) KW_WUR;

#endif
