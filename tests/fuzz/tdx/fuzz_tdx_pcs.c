/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_tdx_pcs: what tdx_pcs does with PCS responses before any signature
 * is checked — the issuer-chain header decoder, the cutting of the signed
 * tcbInfo / enclaveIdentity text out of a body, the content-type and CRL
 * body checks and the assembly of a QuoteCollateralV3 object
 * (fuzz_tdx_pcs.h has the input layout). Invariants: a cut lies inside the
 * body and parses; an assembled object has the nine members and never
 * loads against an empty trust.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_tdx_pcs.h"
#include "kw_json.h"
#include "tdx_pcs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
cut(const uint8_t *data, size_t size, const char *member)
{
	const char *text = NULL, *why = NULL;
	char sig[129];
	size_t len = 0;
	json_t *j = NULL;

	if (tdx_pcs_cut_signed((const char *)data, size, member, &text, &len, sig, &why) != 0)
		return;
	if (text < (const char *)data || len > size || text + len > (const char *)data + size ||
	    strlen(sig) != 128 || kw_json_parse(text, len, size, &j) != 0)
		abort();
	json_decref(j);
}

/* The n-th part (0-based) of data split at FUZZ_PCS_SEP; 0 or -1 when there are not 8. */
static int
split(const uint8_t *data, size_t size, const uint8_t *part[FUZZ_PCS_PARTS], size_t len[FUZZ_PCS_PARTS])
{
	const size_t sl = strlen(FUZZ_PCS_SEP);
	size_t n = 0, start = 0;

	for (size_t i = 0; i + sl <= size; i++) {
		if (memcmp(data + i, FUZZ_PCS_SEP, sl) != 0)
			continue;
		if (n == FUZZ_PCS_PARTS - 1)
			return -1;
		part[n] = data + start;
		len[n++] = i - start;
		start = i + sl;
		i += sl - 1;
	}
	if (n != FUZZ_PCS_PARTS - 1)
		return -1;
	part[n] = data + start;
	len[n] = size - start;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const members[] = {
		"pck_crl_issuer_chain", "root_ca_crl", "pck_crl", "tcb_info_issuer_chain", "tcb_info",
		"tcb_info_signature", "qe_identity_issuer_chain", "qe_identity", "qe_identity_signature",
	};
	const uint8_t *part[FUZZ_PCS_PARTS];
	size_t len[FUZZ_PCS_PARTS];
	char *s = NULL, *ct[4] = { NULL }, *chain[3] = { NULL }, *save = NULL, *tok;
	struct tdx_pcs_resp r[4];
	struct tdx_trust *t = NULL;
	struct tdx_collateral *c = NULL;
	const char *why = NULL;
	size_t dl = 0;
	json_t *doc = NULL;

	if (tdx_pcs_url_decode((const char *)data, size, &s, &dl) == 0) {
		if (dl > size || strlen(s) != dl)
			abort();
		free(s);
		s = NULL;
	}
	cut(data, size, "tcbInfo");
	cut(data, size, "enclaveIdentity");
	if (split(data, size, part, len) != 0)
		return 0;

	/* content types: NUL-terminated copies of the '|'-separated fields */
	if ((s = malloc(len[0] + 1)) == NULL)
		return 0;
	memcpy(s, part[0], len[0]);
	s[len[0]] = '\0';
	tok = strtok_r(s, "|", &save);
	for (size_t i = 0; i < 4 && tok != NULL; i++, tok = strtok_r(NULL, "|", &save))
		ct[i] = tok;
	/* headers: NUL-terminated like libcurl's; empty means absent */
	for (size_t i = 0; i < 3; i++) {
		if (len[2 + 2 * i] == 0 || (chain[i] = malloc(len[2 + 2 * i] + 1)) == NULL)
			continue;
		memcpy(chain[i], part[2 + 2 * i], len[2 + 2 * i]);
		chain[i][len[2 + 2 * i]] = '\0';
	}
	for (size_t i = 0; i < 4; i++) {
		r[i].content_type = ct[i];
		r[i].chain = i < 3 ? chain[i] : NULL;
		r[i].chain_len = i < 3 && chain[i] != NULL ? len[2 + 2 * i] : 0;
		r[i].body = part[1 + 2 * i];
		r[i].len = len[1 + 2 * i];
	}
	if (tdx_pcs_assemble(&r[0], &r[1], &r[2], &r[3], &doc, &why) == 0) {
		if (json_object_size(doc) != KW_ARRAY_SIZE(members))
			abort();
		for (size_t i = 0; i < KW_ARRAY_SIZE(members); i++)
			if (!json_is_string(json_object_get(doc, members[i])))
				abort();
		if (tdx_trust_new(&t) == 0) {
			if (tdx_collateral_new(t, doc, &c, &why) == 0)
				abort();   /* nothing loads against an empty trust */
			tdx_trust_free(t);
		}
		json_decref(doc);
	} else if (why == NULL) {
		abort();
	}
	for (size_t i = 0; i < 3; i++)
		free(chain[i]);
	free(s);
	return 0;
}
