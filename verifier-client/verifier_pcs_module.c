/* SPDX-License-Identifier: Apache-2.0 */
/* keywarden-pcs.so's entry point (verifier_pcs_module.h). */
#include "kw_build.h"
#include "verifier_pcs.h"
#include "verifier_pcs_module.h"

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
	};

	return &m;
}
