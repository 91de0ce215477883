/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TCB evaluation of a TDX quote against verified collateral, following
 * Intel's Quote Verification Library (QuoteVerifier.cpp 4.1.2.4.11 and
 * 4.1.2.4.14-17, EnclaveReportVerifier.cpp 4.1.2.9.5-10, TcbLevelCheck.cpp,
 * TdxModuleCheck.cpp, TDRelaunchCheck.cpp): QE identity, TDX module
 * identity, TCB level selection (SGX components + PCESVN from the PCK
 * certificate, then the TDX components of TEE_TCB_SVN), the module's TCB
 * level, the TD relaunch advice for TDX 1.5 bodies, and status convergence.
 */
#include <string.h>

#include "tdx_int.h"

static const struct {
	enum tdx_tcb_status s;
	const char *name;
	unsigned int sets;   /* bit 0: TCB Info levels, bit 1: module levels, bit 2: QE levels */
} statuses[] = {
	{ TDX_TCB_UP_TO_DATE, "UpToDate", 7 },
	{ TDX_TCB_SW_HARDENING_NEEDED, "SWHardeningNeeded", 1 },
	{ TDX_TCB_CONFIGURATION_NEEDED, "ConfigurationNeeded", 5 },
	{ TDX_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED, "ConfigurationAndSWHardeningNeeded", 1 },
	{ TDX_TCB_OUT_OF_DATE, "OutOfDate", 7 },
	{ TDX_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED, "OutOfDateConfigurationNeeded", 5 },
	{ TDX_TCB_TD_RELAUNCH_ADVISED, "TDRelaunchAdvised", 0 },
	{ TDX_TCB_TD_RELAUNCH_ADVISED_CONFIGURATION_NEEDED, "TDRelaunchAdvisedConfigurationNeeded", 0 },
	{ TDX_TCB_REVOKED, "Revoked", 7 },
	{ TDX_TCB_NOT_SUPPORTED, "TCB_NOT_SUPPORTED", 0 },
};

const char *
tdx_tcb_status_name(enum tdx_tcb_status s)
{
	for (size_t i = 0; i < KW_ARRAY_SIZE(statuses); i++)
		if (statuses[i].s == s)
			return statuses[i].name;
	return "Unknown";
}

enum tdx_tcb_status
tdx_tcb_status_parse(const char *s, int set)
{
	for (size_t i = 0; s != NULL && i < KW_ARRAY_SIZE(statuses); i++)
		if ((statuses[i].sets & (1u << set)) != 0 && strcmp(statuses[i].name, s) == 0)
			return statuses[i].s;
	return TDX_TCB_UNKNOWN;
}

/* The level with the highest ISVSVN not above svn (QVL walks levels sorted that way). */
static const struct tdx_isv_level *
isv_level(const struct tdx_isv_level *levels, size_t n, unsigned int svn)
{
	const struct tdx_isv_level *best = NULL;

	for (size_t i = 0; i < n; i++)
		if (levels[i].isvsvn <= svn && (best == NULL || levels[i].isvsvn > best->isvsvn))
			best = &levels[i];
	return best;
}

static const struct tdx_isv_level *
latest_level(const struct tdx_isv_level *levels, size_t n)
{
	const struct tdx_isv_level *best = NULL;

	for (size_t i = 0; i < n; i++)
		if (best == NULL || levels[i].isvsvn > best->isvsvn)
			best = &levels[i];
	return best;
}

static const struct tdx_module_id *
find_module(const struct tdx_collateral *c, uint8_t version)
{
	for (size_t i = 0; i < c->tcb.nmods; i++)
		if (c->tcb.mods[i].version == version)
			return &c->tcb.mods[i];
	return NULL;
}

int
tdx_tcb_check_identities(const struct tdx_collateral *c, const struct tdx_quote *q,
    struct tdx_tcb_result *ret, const char **why)
{
	const struct tdx_qe_identity *qe = &c->qe;
	const struct tdx_isv_level *ql;
	const uint8_t *mrsigner = c->tcb.mod_mrsigner, *attributes = c->tcb.mod_attributes;
	uint8_t version = q->td.tee_tcb_svn[1];

	memset(ret, 0, sizeof(*ret));

	/* 4.1.2.4.11: the TDX module; version > 0 uses its identity TDX_<version>. */
	if (version > 0) {
		if (!c->tcb.has_mods) {
			*why = "TCB Info has no TDX module identities for a TDX 1.5+ module";
			return KW_ERR_MISMATCH;
		}
		if ((ret->module_id = find_module(c, version)) == NULL) {
			*why = "no TDX module identity TDX_<tee_tcb_svn[1]> in the TCB Info";
			return KW_ERR_MISMATCH;
		}
		mrsigner = ret->module_id->mrsigner;
		attributes = ret->module_id->attributes;
	}
	if (memcmp(q->td.mrsignerseam, mrsigner, 48) != 0) {
		*why = "MRSIGNERSEAM does not match the TDX module identity";
		return KW_ERR_MISMATCH;
	}
	/* 4.1.2.4.11.2: SEAM_ATTRIBUTES zero and equal to the module's attributes. */
	for (size_t i = 0; i < 8; i++) {
		if (q->td.seam_attributes[i] != 0 || attributes[i] != 0) {
			*why = "SEAM_ATTRIBUTES do not match the TDX module identity";
			return KW_ERR_MISMATCH;
		}
	}

	/* 4.1.2.9.5-8: the quoting enclave is Intel's TD QE. */
	if ((q->qe.miscselect & qe->miscselect_mask) != qe->miscselect) {
		*why = "QE MISCSELECT does not match the QE identity";
		return KW_ERR_MISMATCH;
	}
	for (size_t i = 0; i < 16; i++) {
		if ((q->qe.attributes[i] & qe->attributes_mask[i]) != qe->attributes[i]) {
			*why = "QE ATTRIBUTES do not match the QE identity";
			return KW_ERR_MISMATCH;
		}
	}
	if (memcmp(q->qe.mrsigner, qe->mrsigner, 32) != 0) {
		*why = "QE MRSIGNER does not match the QE identity";
		return KW_ERR_MISMATCH;
	}
	if (q->qe.isvprodid != qe->isvprodid) {
		*why = "QE ISVPRODID does not match the QE identity";
		return KW_ERR_MISMATCH;
	}
	/* 4.1.2.9.9-10: ISVSVN level; anything but UpToDate and Revoked counts as OutOfDate. */
	if ((ql = isv_level(qe->levels, qe->nlevels, q->qe.isvsvn)) == NULL) {
		ret->qe = TDX_TCB_NOT_SUPPORTED;
	} else {
		ret->qe_level = ql;
		ret->qe = ql->status == TDX_TCB_UP_TO_DATE || ql->status == TDX_TCB_REVOKED ? ql->status :
		    TDX_TCB_OUT_OF_DATE;
	}
	return 0;
}

static int
config_needed(enum tdx_tcb_status s)
{
	return s == TDX_TCB_CONFIGURATION_NEEDED || s == TDX_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED ||
	    s == TDX_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED ||
	    s == TDX_TCB_TD_RELAUNCH_ADVISED_CONFIGURATION_NEEDED;
}

/* convergeTcbStatusWithTdxModuleStatus / convergeTcbStatusWithQeTcbStatus. */
static enum tdx_tcb_status
converge(enum tdx_tcb_status tcb, enum tdx_tcb_status component)
{
	if (component == TDX_TCB_OUT_OF_DATE) {
		if (tcb == TDX_TCB_UP_TO_DATE || tcb == TDX_TCB_SW_HARDENING_NEEDED)
			return TDX_TCB_OUT_OF_DATE;
		if (tcb == TDX_TCB_CONFIGURATION_NEEDED || tcb == TDX_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED)
			return TDX_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED;
	}
	if (component == TDX_TCB_REVOKED)
		return TDX_TCB_REVOKED;
	if (component == TDX_TCB_NOT_SUPPORTED)
		return TDX_TCB_NOT_SUPPORTED;
	return tcb;
}

/* 4.1.2.4.17.4.3 (TDRelaunchCheck): a TDX 1.5 TD whose module can be updated in place. */
static int
relaunch(const struct tdx_collateral *c, const struct tdx_quote *q, const struct tdx_tcb_result *res,
    enum tdx_tcb_status *tdx, const char **why)
{
	const uint8_t *svn2 = q->td.tee_tcb_svn2;
	const struct tdx_level *latest = &c->tcb.levels[0];
	unsigned int need0;

	if (res->qe == TDX_TCB_OUT_OF_DATE || res->qe == TDX_TCB_REVOKED || res->qe == TDX_TCB_NOT_SUPPORTED)
		return 0;
	if (res->sgx != TDX_TCB_UP_TO_DATE && res->sgx != TDX_TCB_SW_HARDENING_NEEDED &&
	    res->sgx != TDX_TCB_CONFIGURATION_NEEDED && res->sgx != TDX_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED)
		return 0;
	if ((*tdx != TDX_TCB_OUT_OF_DATE && *tdx != TDX_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED) ||
	    res->module != TDX_TCB_OUT_OF_DATE)
		return 0;
	if (svn2[1] == 0) {
		need0 = latest->tdx[0];
	} else {
		const struct tdx_module_id *m2 = find_module(c, svn2[1]);
		const struct tdx_isv_level *l2;

		if (m2 == NULL || (l2 = latest_level(m2->levels, m2->nlevels)) == NULL) {
			*why = "no TDX module identity for TEE_TCB_SVN2 in the TCB Info";
			return KW_ERR_MISMATCH;
		}
		need0 = l2->isvsvn;
	}
	if (svn2[0] >= need0 && svn2[2] >= latest->tdx[2])
		*tdx = config_needed(res->sgx) || config_needed(*tdx) ?
		    TDX_TCB_TD_RELAUNCH_ADVISED_CONFIGURATION_NEEDED : TDX_TCB_TD_RELAUNCH_ADVISED;
	return 0;
}

int
tdx_tcb_evaluate(const struct tdx_collateral *c, const struct tdx_pck *pck, const struct tdx_quote *q,
    struct tdx_tcb_result *ret, const char **why)
{
	const uint8_t *svn = q->td.tee_tcb_svn;
	const struct tdx_level *sgx_level = NULL, *tdx_level = NULL;
	size_t start = svn[1] > 0 ? 2 : 0;   /* module version > 0: its SVNs are checked by identity */
	enum tdx_tcb_status tdx;
	int r;

	ret->platform = ret->sgx = ret->module = ret->final = TDX_TCB_UNKNOWN;
	ret->level = NULL;
	ret->module_level = NULL;

	/* 4.1.2.4.17.1-3: the first level the PCK's SGX TCB and then the TD's TDX TCB reach. */
	for (size_t i = 0; i < c->tcb.nlevels && tdx_level == NULL; i++) {
		const struct tdx_level *l = &c->tcb.levels[i];
		size_t k;

		for (k = 0; k < 16 && pck->sgx_svn[k] >= l->sgx[k]; k++)
			;
		if (k < 16 || pck->pcesvn < l->pcesvn)
			continue;
		if (sgx_level == NULL)
			sgx_level = l;
		for (k = start; k < 16 && svn[k] >= l->tdx[k]; k++)
			;
		if (k == 16)
			tdx_level = l;
	}
	if (sgx_level == NULL || tdx_level == NULL) {
		ret->final = TDX_TCB_NOT_SUPPORTED;
		return 0;
	}
	ret->sgx = sgx_level->status;
	ret->level = tdx_level;
	ret->platform = tdx_level->status;

	/* 4.1.2.4.17.4.1: the module's own TCB level (UpToDate for module version 0). */
	if (svn[1] == 0) {
		ret->module = TDX_TCB_UP_TO_DATE;
	} else if (ret->module_id == NULL ||
	    (ret->module_level = isv_level(ret->module_id->levels, ret->module_id->nlevels, svn[0])) == NULL) {
		ret->module = TDX_TCB_NOT_SUPPORTED;
		ret->final = TDX_TCB_NOT_SUPPORTED;
		return 0;
	} else {
		ret->module = ret->module_level->status;
	}
	tdx = converge(ret->platform, ret->module);
	if (tdx == TDX_TCB_REVOKED) {
		ret->final = tdx;
		return 0;
	}
	if (q->body_type == 3 && (r = relaunch(c, q, ret, &tdx, why)) != 0)
		return r;
	ret->final = converge(tdx, ret->qe);
	return 0;
}
