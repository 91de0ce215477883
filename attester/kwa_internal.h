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
 * Emulated NVIDIA GPUs (testing only): n (1..ATT_NVGPU_EMU_MAX; 0: none)
 * reports signed by the NOT NVIDIA chain in dir (scripts/mk-nvgpu-emu.sh),
 * sent as the /attest member "gpus" beside the CPU evidence.
 * KWA_ERR_USAGE (n out of range, dir missing), KWA_ERR_LOCAL (out of memory).
 */
int kwa_test_set_gpus(struct kwa_ctx *ctx, unsigned int n, const char *dir);

/*
 * Real NVIDIA GPUs through NVML (att_nvml.h; kwget --gpus): KWA_GPUS_NONE
 * (the default of a context: never), KWA_GPUS_AUTO (every GPU NVML reports;
 * no library or no GPU: CPU evidence alone), KWA_GPUS_REQUIRED (no library
 * or no GPU fails with KWA_ERR_NO_TEE). A GPU that is present but does not
 * give its evidence fails the fetch (KWA_ERR_LOCAL) in both. Not part of
 * libkwattester.so's interface yet (kwattester.map). KWA_ERR_USAGE for
 * another mode.
 */
enum kwa_gpus { KWA_GPUS_NONE = 0, KWA_GPUS_AUTO = 1, KWA_GPUS_REQUIRED = 2 };
int kwa_set_gpus(struct kwa_ctx *ctx, int mode);

/*
 * Files written during kwa_fetch (new, 0600, NULL: none): the /attest body,
 * the compact JWE received, the TEE RSA private key (PEM), the token.
 * KWA_ERR_LOCAL (out of memory).
 */
int kwa_test_set_outputs(struct kwa_ctx *ctx, const char *save_attest, const char *jwe_out,
    const char *tee_key_out, const char *token_out);

/*
 * Write p[0..n) to a new file (O_CREAT|O_EXCL|O_NOFOLLOW, 0600), fsync it;
 * a partly written file is removed. 0, KW_ERR_EXISTS or KW_ERR_IO.
 */
int kwa_write_new_file(const char *path, const void *p, size_t n);
/* All of p[0..n) to fd, across short writes and EINTR. 0 or KW_ERR_IO. */
int kwa_write_fd(int fd, const void *p, size_t n);

/*
 * Retry-After (RFC 9110 10.2.3): delay-seconds or an HTTP-date (IMF-fixdate)
 * in v[0..vl), now in seconds since the epoch. Seconds to wait (0 for a date
 * in the past, at most one day), or -1 when v is neither.
 */
int64_t kwa_retry_after_parse(const char *v, size_t vl, int64_t now);

#endif
