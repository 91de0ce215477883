/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ATT_TDX_EMU_H
#define ATT_TDX_EMU_H

/*
 * Emulated Intel TDX evidence for machines without TDX: a test root, PCK
 * Platform CA, PCK leaf with its SGX extension, TCB Signing certificate
 * (every subject "NOT INTEL ..."), a quoting-enclave report signed by the
 * PCK key binding an attestation key, a v4 or v5 quote signed by that key,
 * and matching collateral (TCB Info v3, TD_QE identity v2, PCK CRL, Root CA
 * CRL) in the dcap-qvl QuoteCollateralV3 layout, signed by the test chain.
 * A verifier trusts all this only when it is configured with the test root.
 */

#include <stddef.h>
#include <stdint.h>

#include "kw_err.h"

#define ATT_TDX_EMU_MAX_LEVELS 4

struct att_tdx_emu_level {                 /* a TCB Info tcbLevels[] entry */
	uint8_t sgx[16];
	uint16_t pcesvn;
	uint8_t tdx[16];
	const char *status;                /* Intel's string, e.g. "UpToDate" */
	const char *advisories;            /* comma-separated IDs or NULL */
};

struct att_tdx_emu_isv_level {             /* QE identity / TDX module tcbLevels[] entry */
	uint16_t isvsvn;
	const char *status;
	const char *advisories;
};

struct att_tdx_emu_module {                /* tdxModuleIdentities[] entry "TDX_<version>" */
	uint8_t version;
	struct att_tdx_emu_isv_level levels[ATT_TDX_EMU_MAX_LEVELS];
	size_t nlevels;
};

struct att_tdx_emu_opts {
	int64_t now;                       /* collateral issued an hour before, valid 30 days after */
	int version;                       /* quote version 4 or 5 (0: 4) */
	int body_type;                     /* 2 or 3 (v5 only; 0: 2) */
	uint8_t tee_tcb_svn[16], tee_tcb_svn2[16];
	uint8_t td_attributes[8], xfam[8];
	uint8_t mrtd[48], rtmr[4][48], mrconfigid[48], mrseam[48];
	uint8_t report_data[64];
	uint8_t fmspc[6];
	uint8_t pck_sgx_svn[16];
	uint16_t pcesvn;
	uint16_t qe_isvsvn;
	/* Collateral; zero counts give one level that the quote meets, UpToDate. */
	struct att_tdx_emu_level levels[ATT_TDX_EMU_MAX_LEVELS];
	size_t nlevels;
	struct att_tdx_emu_module modules[2];
	size_t nmodules;
	int no_module_identities;          /* leave tdxModuleIdentities out */
	struct att_tdx_emu_isv_level qe_levels[ATT_TDX_EMU_MAX_LEVELS];
	size_t nqe_levels;
	int64_t tcb_next, qe_next, pck_crl_next, root_crl_next;   /* non-zero: override nextUpdate */
	int revoke_leaf, revoke_ca;        /* list them on the PCK CRL / Root CA CRL */
};

struct att_tdx_emu;

/* Fill o with a consistent default TD (v4, TDX 1.5 module version 1, not debug) at now. */
void att_tdx_emu_opts_default(struct att_tdx_emu_opts *o, int64_t now);

/*
 * New keys and certificates: root, PCK Platform CA, PCK leaf (SGX extension
 * from o: FMSPC, SGX TCB SVNs, PCESVN), TCB Signing, attestation key. With
 * intel_names the CNs say "Intel SGX ..." instead of "NOT INTEL SGX ..." (a
 * negative test: such a chain must not verify under a test root).
 * KW_ERR_NOMEM / KW_ERR_CRYPTO.
 */
int att_tdx_emu_new(const struct att_tdx_emu_opts *o, int intel_names, struct att_tdx_emu **ret) KW_WUR;
void att_tdx_emu_free(struct att_tdx_emu *e);

/*
 * Keys and certificates from a directory made by scripts/mk-tdx-emu.sh
 * (root, PCK CA, PCK leaf, TCB Signing: *.pem and *.key; emu.json), a new
 * attestation key, and in *ret_opts the defaults at now with what emu.json
 * says the platform reports (FMSPC, SGX TCB SVNs, PCESVN, TEE_TCB_SVN, MRTD,
 * QE ISVSVN), so that quotes and collateral made with them match the PCK
 * certificate. KW_ERR_IO (a file), KW_ERR_INVALID_FORMAT, KW_ERR_CRYPTO.
 */
int att_tdx_emu_load(const char *dir, int64_t now, struct att_tdx_emu **ret, struct att_tdx_emu_opts *ret_opts) KW_WUR;

/* The test root as PEM (new NUL-terminated string, free()). */
int att_tdx_emu_root_pem(const struct att_tdx_emu *e, char **ret) KW_WUR;

/* A quote for o (new buffer, free()). */
int att_tdx_emu_quote(const struct att_tdx_emu *e, const struct att_tdx_emu_opts *o, uint8_t **ret, size_t *ret_len) KW_WUR;

/* QuoteCollateralV3 JSON text for o (new NUL-terminated string, free()). */
int att_tdx_emu_collateral(const struct att_tdx_emu *e, const struct att_tdx_emu_opts *o, char **ret) KW_WUR;

#endif
