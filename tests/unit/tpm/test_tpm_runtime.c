/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tpm_runtime: the manifest digest kwget extends into PCR 23 with
 * TPM2_PCR_Event replays from the reset value in every quoted bank; other
 * data, a PCR 23 extended once more, an uncovered PCR 23 and malformed
 * "runtime_events" are refused. (The live TPM's side of the same
 * computation: tests/integration/test_tpm.py with swtpm.)
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "kw_b64url.h"
#include "test_tpm.h"
#include "tpm_runtime.h"

/* v := H(v ‖ H(data)) in bank b of p (PCR 23), as TPM2_PCR_Event does. */
static void
extend(struct tpm_pcrs *p, enum tpm_bank b, const uint8_t *data, size_t len)
{
	const EVP_MD *md = tpm_bank_md(b);
	size_t sz = tpm_bank_size(b);
	uint8_t buf[2 * TPM_MAX_DIGEST], out[TPM_MAX_DIGEST];
	unsigned int n = 0;

	memcpy(buf, p->val[b][TPM_RUNTIME_PCR], sz);
	CHECKF(EVP_Digest(data, len, buf + sz, &n, md, NULL) == 1 && n == sz, "digest");
	CHECKF(EVP_Digest(buf, 2 * sz, out, &n, md, NULL) == 1 && n == sz, "digest");
	CHECKF(tpm_pcrs_set(p, b, TPM_RUNTIME_PCR, out, sz) == 0, "set");
}

static void
test_replay(void)
{
	uint8_t data[TPM_RUNTIME_DATA_LEN], other[TPM_RUNTIME_DATA_LEN];
	uint8_t zero[TPM_MAX_DIGEST] = {0};
	struct tpm_pcrs p, q;
	uint32_t covered[TPM_BANK_COUNT] = {0};
	const char *why = NULL;

	for (size_t i = 0; i < sizeof(data); i++) {
		data[i] = (uint8_t)(0x40 + i);
		other[i] = data[i];
	}
	other[47] ^= 1;
	memset(&p, 0, sizeof(p));
	CHECKF(tpm_pcrs_set(&p, TPM_BANK_SHA256, 23, zero, 32) == 0, "set");
	CHECKF(tpm_pcrs_set(&p, TPM_BANK_SHA384, 23, zero, 48) == 0, "set");
	extend(&p, TPM_BANK_SHA256, data, sizeof(data));
	extend(&p, TPM_BANK_SHA384, data, sizeof(data));
	covered[TPM_BANK_SHA256] = covered[TPM_BANK_SHA384] = 1u << 23;
	CHECK_RC(tpm_runtime_replay(data, sizeof(data), &p, covered, &why), 0, "replay: %s", why);
	/* the reset value is zero: a PCR holding anything else first does not replay */
	CHECK_RC(tpm_runtime_replay(other, sizeof(other), &p, covered, &why), KW_ERR_MISMATCH, "other data");
	/* one bank is enough to refuse */
	q = p;
	q.val[TPM_BANK_SHA384][23][0] ^= 0x80;
	CHECK_RC(tpm_runtime_replay(data, sizeof(data), &q, covered, &why), KW_ERR_MISMATCH, "sha384 bank");
	/* PCR 23 extended by something else after the event */
	q = p;
	extend(&q, TPM_BANK_SHA256, other, sizeof(other));
	CHECK_RC(tpm_runtime_replay(data, sizeof(data), &q, covered, &why), KW_ERR_MISMATCH, "extended after");
	/* only the covered banks count; an uncovered PCR 23 proves nothing */
	covered[TPM_BANK_SHA256] = 0;
	CHECK_RC(tpm_runtime_replay(data, sizeof(data), &q, covered, &why), 0, "sha384 only: %s", why);
	covered[TPM_BANK_SHA384] = 0xffffffu & ~(1u << 23);
	CHECK_RC(tpm_runtime_replay(data, sizeof(data), &p, covered, &why), KW_ERR_MISMATCH, "not covered");
	CHECKF(strstr(why, "does not cover") != NULL, "reason: %s", why);
	/* covered but no value supplied */
	covered[TPM_BANK_SHA1] = 1u << 23;
	CHECK_RC(tpm_runtime_replay(data, sizeof(data), &p, covered, &why), KW_ERR_INVALID_FORMAT, "missing");
}

static void
test_parse(void)
{
	uint8_t data[TPM_RUNTIME_DATA_LEN], got[TPM_RUNTIME_DATA_LEN];
	char *b64 = NULL, *b64short = NULL;
	const char *why = NULL;
	json_t *j, *bad[7];

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(0xa0 ^ i);
	CHECK_RC(kw_b64url_encode(data, sizeof(data), &b64), 0, "b64");
	CHECK_RC(kw_b64url_encode(data, 47, &b64short), 0, "b64");
	j = json_pack("[{s:i, s:s}]", "pcr", 23, "data", b64);
	memset(got, 0, sizeof(got));
	CHECK_RC(tpm_runtime_parse(j, got, &why), 0, "parse: %s", why);
	CHECKF(memcmp(got, data, sizeof(data)) == 0, "data");
	json_decref(j);
	/* pcr 22, 47 bytes, two events, another member, pcr as a string, not an array, empty */
	bad[0] = json_pack("[{s:i, s:s}]", "pcr", 22, "data", b64);
	bad[1] = json_pack("[{s:i, s:s}]", "pcr", 23, "data", b64short);
	bad[2] = json_pack("[{s:i, s:s}, {s:i, s:s}]", "pcr", 23, "data", b64, "pcr", 23, "data", b64);
	bad[3] = json_pack("[{s:i, s:s, s:s}]", "pcr", 23, "data", b64, "type", "x");
	bad[4] = json_pack("[{s:s, s:s}]", "pcr", "23", "data", b64);
	bad[5] = json_pack("{s:i, s:s}", "pcr", 23, "data", b64);
	bad[6] = json_array();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECKF(bad[i] != NULL, "case %zu", i);
		CHECK_RC(tpm_runtime_parse(bad[i], got, &why), KW_ERR_INVALID_FORMAT, "case %zu", i);
		json_decref(bad[i]);
	}
	CHECKF(memcmp(got, data, sizeof(data)) == 0, "a refused member left ret_data untouched");
	free(b64);
	free(b64short);
}

int
test_tpm_runtime_register(void)
{
	CU_pSuite s = CU_add_suite("tpm_runtime", NULL, NULL);

	if (s == NULL)
		return -1;
	return TEST_ADD(s, test_replay) | TEST_ADD(s, test_parse);
}
