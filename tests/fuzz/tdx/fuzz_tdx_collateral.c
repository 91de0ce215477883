/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_tdx_collateral: the collateral parsers. The input is taken three
 * ways: as the TCB Info text, as the QE identity text (both evaluated
 * against a fixed quote when they parse), and as a QuoteCollateralV3
 * envelope (hex CRLs, strict PEM chains, both texts), which must never load
 * against an empty trust.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "kw_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
evaluate(struct tdx_collateral *c)
{
	struct tdx_quote q;
	struct tdx_pck pck;

	fuzz_tdx_fixed_quote(&q, &pck);
	fuzz_tdx_evaluate(c, &q, &pck);
	q.td.tee_tcb_svn[1] = 0;
	fuzz_tdx_evaluate(c, &q, &pck);
	q.version = 5;
	q.body_type = 3;
	q.td.tee_tcb_svn2[0] = 7;
	q.td.tee_tcb_svn2[1] = 1;
	q.td.tee_tcb_svn2[2] = 3;
	fuzz_tdx_evaluate(c, &q, &pck);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tdx_collateral *c = NULL, *fixed = fuzz_tdx_fixed_collateral(), *loaded = NULL;
	struct tdx_collateral_raw raw;
	struct tdx_trust *t = NULL;
	json_t *j = NULL;
	const char *why = NULL;

	if (fixed == NULL)
		return 0;
	/* The signed texts on their own, with the fixed collateral's other half. */
	if ((c = tdx_collateral_alloc()) != NULL) {
		if (tdx_tcb_info_parse((const char *)data, size, c, &why) == 0) {
			c->qe = fixed->qe;
			evaluate(c);
		}
		tdx_collateral_free(c);
	}
	if ((c = tdx_collateral_alloc()) != NULL) {
		if (tdx_qe_identity_parse((const char *)data, size, c, &why) == 0) {
			c->tcb = fixed->tcb;
			memcpy(c->adv, fixed->adv, fixed->nadv * sizeof(*c->adv));
			c->nadv = fixed->nadv;
			evaluate(c);
		}
		tdx_collateral_free(c);
	}
	/* The envelope. */
	if (kw_json_parse(data, size, TDX_MAX_COLLATERAL, &j) != 0)
		return 0;
	memset(&raw, 0, sizeof(raw));
	if ((c = tdx_collateral_alloc()) != NULL) {
		if (tdx_collateral_parse(j, c, &raw, &why) == 0) {
			evaluate(c);
			tdx_collateral_raw_clear(&raw);
		}
		tdx_collateral_free(c);
	}
	if (tdx_trust_new(&t) == 0) {
		if (tdx_collateral_new(t, j, &loaded, &why) == 0)
			abort();   /* nothing loads against an empty trust */
		tdx_trust_free(t);
	}
	json_decref(j);
	return 0;
}
