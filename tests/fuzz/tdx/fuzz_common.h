/* SPDX-License-Identifier: Apache-2.0 */
#ifndef TDX_FUZZ_COMMON_H
#define TDX_FUZZ_COMMON_H

/*
 * A fixed, synthetic (unsigned) TDX collateral for the fuzz targets: parsed
 * with the verifier's own TCB Info / QE identity parsers, so that fuzzed
 * quotes reach the identity checks and the TCB evaluation, and fuzzed
 * collateral can be evaluated against a fixed quote. No vector bytes.
 */
#include "tdx_int.h"

/* The collateral (once per process); NULL when it does not parse (a bug: abort). */
struct tdx_collateral *fuzz_tdx_fixed_collateral(void);
/* A fixed quote and PCK extension that meet fuzz_tdx_fixed_collateral's first level. */
void fuzz_tdx_fixed_quote(struct tdx_quote *q, struct tdx_pck *pck);
/* Identity checks and TCB evaluation; the outcome must be one of the statuses. */
void fuzz_tdx_evaluate(const struct tdx_collateral *c, const struct tdx_quote *q, const struct tdx_pck *pck);

#endif
