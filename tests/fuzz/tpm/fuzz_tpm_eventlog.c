/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_tpm_eventlog: tpm_eventlog_parse on the input; a log that parses is
 * appraised against its own replay (every PCR of every bank covered), so
 * that the claim code (SecureBoot, boot applications, command lines) runs
 * on every record.
 */
#include <stdint.h>
#include <stdlib.h>

#include "tpm_eventlog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t all[TPM_BANK_COUNT] = {0xffffff, 0xffffff, 0xffffff};
	struct tpm_eventlog *log = NULL;
	struct tpm_pcrs pcrs;
	json_t *claims = NULL;
	const char *why = NULL;

	if (tpm_eventlog_parse(data, size, &log, &why) != 0)
		return 0;
	tpm_eventlog_replay(log, &pcrs, NULL);
	if (tpm_eventlog_appraise(log, &pcrs, all, &claims, &why) == 0)
		json_decref(claims);
	tpm_eventlog_free(log);
	return 0;
}
