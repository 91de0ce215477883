/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TDX collateral sources "pcs" and "pccs" (verifier.h): tdx_pcs behind the
 * collateral-source interface. A library of its own (libkwverifierpcs) so
 * that only the broker links libcurl; kwctl keeps the offline sources.
 */
#include <stdlib.h>

#include "tdx_pcs.h"
#include "verifier.h"
#include "verifier_pcs.h"

static int
pcs_get(void *ctx, const uint8_t fmspc[static 6], enum kw_pck_ca ca, int64_t now,
    struct tdx_collateral **ret, const char **why)
{
	enum tdx_pcs_ca pca = ca == KW_PCK_CA_PROCESSOR ? TDX_PCS_CA_PROCESSOR : TDX_PCS_CA_PLATFORM;

	return tdx_pcs_get(ctx, fmspc, pca, now, ret, why);
}

static void
pcs_free(void *ctx)
{
	tdx_pcs_free(ctx);
}

static const struct kw_tdx_collateral_ops pcs_ops = {
	.mode = "pcs",
	.get = pcs_get,
	.free = pcs_free,
};

static const struct kw_tdx_collateral_ops pccs_ops = {
	.mode = "pccs",
	.get = pcs_get,
	.free = pcs_free,
};

int
kw_tdx_pcs_source_new(const struct tdx_trust *trust, const struct tdx_pcs_config *cfg, int pccs,
    struct kw_tdx_collateral_source **ret, struct tdx_pcs **ret_pcs, const char **reterr_why)
{
	struct tdx_pcs *p = NULL;
	struct kw_tdx_collateral_source *s = NULL;
	int r;

	if ((r = tdx_pcs_new(trust, cfg, &p, reterr_why)) != 0)
		return r;
	/* p is taken by kw_tdx_source_new, also on failure */
	if ((r = kw_tdx_source_new(pccs ? &pccs_ops : &pcs_ops, p, &s)) != 0) {
		*reterr_why = "out of memory";
		return r;
	}
	*ret = s;
	*ret_pcs = p;
	return 0;
}
