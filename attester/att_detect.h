/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ATT_DETECT_H
#define ATT_DETECT_H

/*
 * Which TEE this machine offers (kwget --detect, --tee auto): configfs-tsm's
 * provider (sev_guest, tdx_guest), a TPM 2.0 behind a TCTI, and on a TPM
 * Azure's HCL report in vTPM NV index 0x01400001. Nothing is written except
 * the short-lived configfs-tsm entry att_tsm_provider() makes to read the
 * provider. No logging.
 */

#include <stddef.h>

#include "attester.h"

/*
 * TEST ONLY: $KWA_TEST_TSM_DIR replaces /sys/kernel/config/tsm/report and
 * $KWA_TEST_TPM_DEVICE replaces /dev/tpmrm0 (docs/kwget.md, ENVIRONMENT).
 */
#define ATT_DETECT_TSM_ENV "KWA_TEST_TSM_DIR"
#define ATT_DETECT_TPM_ENV "KWA_TEST_TPM_DEVICE"
#define ATT_DETECT_TPM_DEVICE "/dev/tpmrm0"

struct att_detect {
	const char *tsm_dir;                          /* the directory looked at */
	int tsm_present;                              /* it exists */
	char tsm_provider[ATT_TSM_MAX_PROVIDER + 1];  /* "" when none was read */
	char tsm_error[96];                           /* why no provider was read, or "" */
	char tpm_tcti[256];                           /* the TCTI tried, "" when none */
	int tpm_present;                              /* a TPM answered there */
	char tpm_error[96];
	int az_hcl;                                   /* NV 0x01400001 holds an HCL report */
	int az_tdx;                                   /* ... of a TD (else SNP) */
	const char *tee;                              /* the choice (static), or NULL */
	char why[384];                                /* the reason for the choice */
};

/* The configfs-tsm report directory in use (static or from the environment). */
const char *att_detect_tsm_dir(void);

/* The canonical static name of a TEE name kwget accepts, or NULL. */
const char *att_detect_tee_name(const char *name);

/*
 * Look: configfs-tsm first (sev_guest: "snp", tdx_guest: "tdx"), then a TPM
 * at $KWGET_TCTI, $TPM2TOOLS_TCTI or $TCTI, else at device:/dev/tpmrm0 when
 * that device exists; a TPM whose NV index 0x01400001 holds an HCL report is
 * an Azure vTPM ("az-snp-vtpm", "az-tdx-vtpm"), any other "tpm". Fills *ret;
 * ret->tee == NULL when nothing was found.
 */
void att_detect_run(struct att_detect *ret);

#endif
