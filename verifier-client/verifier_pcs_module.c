/* SPDX-License-Identifier: Apache-2.0 */
/* keywarden-pcs.so's entry point (verifier_pcs_module.h). */
#include "kw_build.h"
#include "verifier_pcs.h"
#include "verifier_pcs_module.h"

static int
ocsp_check(void *ctx, const uint8_t *const *certs, const size_t *lens, size_t n, size_t first, int64_t at,
    const char **why)
{
	return kw_ocsp_check(ctx, certs, lens, n, first, at, why);
}

__attribute__((visibility("default"))) const struct kw_pcs_module *
kw_pcs_module_v1(void)
{
	static const struct kw_pcs_module m = {
		.abi = KW_PCS_MODULE_ABI,
		.version = KW_VERSION,
		.source_new = kw_tdx_pcs_source_new,
		.start = tdx_pcs_start,
		.stats = tdx_pcs_stats,
		.ca_name = tdx_pcs_ca_name,
		.ocsp_new = kw_ocsp_new,
		.ocsp_check = ocsp_check,
		.ocsp_stats = kw_ocsp_stats,
		.ocsp_free = kw_ocsp_free,
	};

	return &m;
}
