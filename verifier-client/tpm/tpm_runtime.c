/* SPDX-License-Identifier: Apache-2.0 */
/* Runtime events of the `tpm` evidence type: the manifest digest in PCR 23 (tpm_runtime.h). */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "kw_b64url.h"
#include "kw_json.h"
#include "tpm_runtime.h"

int
tpm_runtime_parse(const json_t *events, uint8_t ret_data[static TPM_RUNTIME_DATA_LEN], const char **why)
{
	static const char *const keys[] = {"pcr", "data", NULL};
	const json_t *e, *pcr, *data;
	uint8_t buf[TPM_RUNTIME_DATA_LEN];
	size_t len = 0;

	*why = "tee-evidence.runtime_events must be [{\"pcr\": 23, \"data\": base64url of 48 bytes}]";
	if (!json_is_array(events) || json_array_size(events) != 1)
		return KW_ERR_INVALID_FORMAT;
	e = json_array_get(events, 0);
	if (!json_is_object(e) || kw_json_check_keys(e, keys) != 0)
		return KW_ERR_INVALID_FORMAT;
	pcr = json_object_get(e, "pcr");
	data = json_object_get(e, "data");
	if (!json_is_integer(pcr) || json_integer_value(pcr) != (json_int_t)TPM_RUNTIME_PCR ||
	    !json_is_string(data) ||
	    kw_b64url_decode(json_string_value(data), json_string_length(data), buf, sizeof(buf), &len) != 0 ||
	    len != sizeof(buf))
		return KW_ERR_INVALID_FORMAT;
	memcpy(ret_data, buf, sizeof(buf));
	return 0;
}

int
tpm_runtime_replay(const uint8_t *data, size_t len, const struct tpm_pcrs *quoted,
    const uint32_t covered[static TPM_BANK_COUNT], const char **why)
{
	uint8_t pcr[2 * TPM_MAX_DIGEST], out[TPM_MAX_DIGEST];
	unsigned int n = 0;
	int compared = 0;

	for (int b = 0; b < TPM_BANK_COUNT; b++) {
		const EVP_MD *md = tpm_bank_md((enum tpm_bank)b);
		size_t sz = tpm_bank_size((enum tpm_bank)b);

		if ((covered[b] & (1u << TPM_RUNTIME_PCR)) == 0)
			continue;
		if (!tpm_pcrs_has(quoted, (enum tpm_bank)b, TPM_RUNTIME_PCR)) {
			*why = "a quoted PCR value is missing";
			return KW_ERR_INVALID_FORMAT;
		}
		/* TPM2_PCR_Event: PCR := H(PCR ‖ H(data)), from the reset value 0 */
		memset(pcr, 0, sz);
		if (EVP_Digest(data, len, pcr + sz, &n, md, NULL) != 1 || n != sz ||
		    EVP_Digest(pcr, 2 * sz, out, &n, md, NULL) != 1 || n != sz) {
			*why = "internal error";
			return KW_ERR_CRYPTO;
		}
		if (CRYPTO_memcmp(out, quoted->val[b][TPM_RUNTIME_PCR], sz) != 0) {
			*why = "PCR 23 does not replay to the runtime event";
			return KW_ERR_MISMATCH;
		}
		compared = 1;
	}
	if (!compared) {
		*why = "runtime event for a PCR the quote does not cover";
		return KW_ERR_MISMATCH;
	}
	return 0;
}
