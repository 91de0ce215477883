/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_tpm_quote: the TPM structures tpm_quote reads with tss2-mu. Input:
 * u16be attest length ‖ TPMS_ATTEST ‖ u16be signature length ‖
 * TPMT_SIGNATURE ‖ the AK public area (TPM2B_PUBLIC, and again read as a
 * TPMT_PUBLIC). The quote is verified with the AK against all-zero PCRs
 * of every bank and extraData = the first 32 bytes of the attest.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kw_rd.h"
#include "tpm_quote.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tpm_pcrs zero;
	struct kw_rd rd;
	uint16_t alen, slen;
	const uint8_t *attest, *sig;
	struct tpm_public pub;
	struct tpm_quote_info info;
	json_t *claims = NULL;
	const char *why = NULL;

	for (unsigned int b = 0; b < TPM_BANK_COUNT; b++)
		zero.present[b] = 0xffffff;
	kw_rd_init(&rd, data, size);
	if (kw_rd_u16be(&rd, &alen) != 0 || kw_rd_bytes(&rd, alen, &attest) != 0 ||
	    kw_rd_u16be(&rd, &slen) != 0 || kw_rd_bytes(&rd, slen, &sig) != 0)
		return 0;
	if (tpm_quote_parse(attest, alen, &info, &why) != 0 && why == NULL)
		abort();   /* a refusal always says why */
	if (tpm_public_parse(rd.p, rd.len, 0, &pub, &why) == 0) {
		if (tpm_public_check_ak(&pub, &why) != 0 && why == NULL)
			abort();
		tpm_public_clear(&pub);
	}
	if (tpm_public_parse(rd.p, rd.len, 1, &pub, &why) != 0)
		return 0;
	if (tpm_public_check_ak(&pub, &why) != 0 && why == NULL)
		abort();
	if (tpm_quote_verify(attest, alen, sig, slen, pub.pkey, &zero, attest, alen < 32 ? alen : 32, &claims,
	    &info, &why) == 0)
		json_decref(claims);
	tpm_public_clear(&pub);
	return 0;
}
