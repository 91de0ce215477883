/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_VERIFIER_PCS_H
#define KW_VERIFIER_PCS_H

/*
 * The TDX collateral sources "pcs" (Intel's Provisioning Certification
 * Service) and "pccs" (a caching service at the same API): tdx_pcs
 * (verifier-client/tdx/tdx_pcs.h) as a kw_tdx_collateral_source. The only
 * part of the seam that links libcurl; the broker links it, kwctl does not.
 */

#include "tdx_pcs.h"
#include "verifier.h"

/*
 * A source over a new tdx_pcs (tdx_pcs_new with trust and cfg; pccs selects
 * the mode name only). *ret owns the tdx_pcs: kw_tdx_source_free frees it
 * (stopping its refresher). *ret_pcs is a borrowed pointer to it for
 * tdx_pcs_start, tdx_pcs_kick and tdx_pcs_stats. Errors of tdx_pcs_new with
 * its static reason, or KW_ERR_NOMEM; nothing written on failure.
 */
int kw_tdx_pcs_source_new(const struct tdx_trust *trust, const struct tdx_pcs_config *cfg, int pccs,
    struct kw_tdx_collateral_source **ret, struct tdx_pcs **ret_pcs, const char **reterr_why) KW_WUR;

#endif
