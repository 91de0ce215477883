/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TEE auto-detection (att_detect.h): configfs-tsm's provider, a TPM, the
 * Azure vTPM's HCL report. Each probe is cheap and has no side effect beyond
 * configfs-tsm's temporary entry.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "att_azure.h"
#include "att_detect.h"
#include "attester.h"

const char *
att_detect_tsm_dir(void)
{
	const char *s = getenv(ATT_DETECT_TSM_ENV);

	return s != NULL && *s != '\0' ? s : ATT_TSM_REPORT_DIR;
}

const char *
att_detect_tee_name(const char *name)
{
	static const char *const names[] = {"snp", "tdx", "tpm", "az-snp-vtpm", "az-tdx-vtpm"};

	for (size_t i = 0; name != NULL && i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(name, names[i]) == 0)
			return names[i];
	return NULL;
}

static void
detect_tsm(struct att_detect *d)
{
	int r;

	d->tsm_dir = att_detect_tsm_dir();
	if (!(d->tsm_present = att_tsm_available(d->tsm_dir))) {
		snprintf(d->tsm_error, sizeof(d->tsm_error), "no such directory");
		return;
	}
	if ((r = att_tsm_provider(d->tsm_dir, d->tsm_provider)) != 0) {
		d->tsm_provider[0] = '\0';
		snprintf(d->tsm_error, sizeof(d->tsm_error), "cannot read the provider: %s",
		    kw_strerror(r));
		return;
	}
	if (strcmp(d->tsm_provider, "sev_guest") == 0) {
		d->tee = "snp";
		snprintf(d->why, sizeof(d->why), "configfs-tsm provider sev_guest");
	} else if (strcmp(d->tsm_provider, "tdx_guest") == 0) {
		d->tee = "tdx";
		snprintf(d->why, sizeof(d->why), "configfs-tsm provider tdx_guest");
	} else {
		snprintf(d->tsm_error, sizeof(d->tsm_error), "provider is neither sev_guest nor tdx_guest");
	}
}

/* The TCTI to probe: the environment's, else the device when it exists; "" for none. */
static void
detect_tcti(struct att_detect *d)
{
	static const char *const envs[] = {"KWGET_TCTI", "TPM2TOOLS_TCTI", "TCTI"};
	const char *s, *dev;
	struct stat st;

	for (size_t i = 0; i < sizeof(envs) / sizeof(envs[0]); i++) {
		if ((s = getenv(envs[i])) != NULL && *s != '\0') {
			snprintf(d->tpm_tcti, sizeof(d->tpm_tcti), "%s", s);
			return;
		}
	}
	if ((dev = getenv(ATT_DETECT_TPM_ENV)) == NULL || *dev == '\0')
		dev = ATT_DETECT_TPM_DEVICE;
	if (stat(dev, &st) != 0) {
		snprintf(d->tpm_error, sizeof(d->tpm_error), "no %s", dev);
		return;
	}
	snprintf(d->tpm_tcti, sizeof(d->tpm_tcti), "device:%s", dev);
}

static void
detect_tpm(struct att_detect *d)
{
	const char *why = NULL;
	int r;

	detect_tcti(d);
	if (d->tpm_tcti[0] == '\0')
		return;
	r = att_az_hcl_probe(d->tpm_tcti, &d->az_tdx, &why);
	if (r == KW_ERR_UNAVAILABLE) {
		snprintf(d->tpm_error, sizeof(d->tpm_error), "%s", why);
		return;
	}
	d->tpm_present = 1;
	d->az_hcl = r == 0;
	if (d->tee != NULL)
		return;    /* configfs-tsm wins */
	if (d->az_hcl) {
		d->tee = d->az_tdx ? "az-tdx-vtpm" : "az-snp-vtpm";
		snprintf(d->why, sizeof(d->why), "TPM at '%s' with an Azure HCL report (%s) in NV "
		    "0x01400001", d->tpm_tcti, d->az_tdx ? "TDX" : "SEV-SNP");
	} else {
		d->tee = "tpm";
		snprintf(d->why, sizeof(d->why), "TPM at '%s'", d->tpm_tcti);
	}
}

void
att_detect_run(struct att_detect *ret)
{
	memset(ret, 0, sizeof(*ret));
	detect_tsm(ret);
	detect_tpm(ret);
}
