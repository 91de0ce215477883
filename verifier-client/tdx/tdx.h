/* SPDX-License-Identifier: Apache-2.0 */
#ifndef TDX_H
#define TDX_H

/*
 * Intel TDX evidence: DCAP ECDSA-P256 quote (v4, v5) parser and offline
 * verifier, with Intel's collateral (TCB Info v3, TD_QE identity, PCK CRL,
 * Root CA CRL) evaluated as Intel's Quote Verification Library does, into one
 * normalized claim set. No network, no wall clock: the verification time and
 * the collateral are inputs. docs/verifier-tdx.md lists the checks in order.
 */

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "kw_err.h"

#define TDX_QUOTE_HEADER_SIZE 48
#define TDX_TD10_BODY_SIZE 584      /* body type 2, TDX 1.0 */
#define TDX_TD15_BODY_SIZE 648      /* body type 3, TDX 1.5 */
#define TDX_QE_REPORT_SIZE 384      /* SGX REPORT_BODY */
#define TDX_TEE_TYPE_SGX 0x00000000u
#define TDX_TEE_TYPE_TDX 0x00000081u
#define TDX_ATT_KEY_ECDSA_P256 2
#define TDX_CERT_DATA_PCK_CHAIN 5   /* concatenated PEM: PCK leaf, PCK CA, root */
#define TDX_CERT_DATA_QE_REPORT 6   /* QE report certification data, nesting type 5 */

#define TDX_MAX_QUOTE (64 * 1024)           /* evidence cap (real quotes are ~5 KiB) */
#define TDX_MAX_PCK_CHAIN (32 * 1024)       /* PEM chain inside a quote */
#define TDX_MAX_COLLATERAL (1024 * 1024)    /* QuoteCollateralV3 JSON document */

/* TD_ATTRIBUTES (8 bytes little-endian as stored) bits */
#define TDX_TD_ATTR_DEBUG (1ULL << 0)
#define TDX_TD_ATTR_SEPT_VE_DISABLE (1ULL << 28)

/* TD report body (sgx_report2_body_t, v1.5 adds the last two fields). Byte arrays as stored. */
struct tdx_td_report {
	uint8_t tee_tcb_svn[16];
	uint8_t mrseam[48], mrsignerseam[48];
	uint8_t seam_attributes[8], td_attributes[8], xfam[8];
	uint8_t mrtd[48], mrconfigid[48], mrowner[48], mrownerconfig[48];
	uint8_t rtmr[4][48];
	uint8_t report_data[64];
	uint8_t tee_tcb_svn2[16], mrservicetd[48];   /* body type 3 only; zero otherwise */
};

/* The quoting enclave's SGX report body. */
struct tdx_qe_report {
	uint8_t cpusvn[16];
	uint32_t miscselect;
	uint8_t attributes[16], mrenclave[32], mrsigner[32];
	uint16_t isvprodid, isvsvn;
	uint8_t report_data[64];
};

/*
 * A parsed quote. The pointers are views into the buffer given to
 * tdx_quote_parse() and are valid as long as that buffer is.
 */
struct tdx_quote {
	uint16_t version, att_key_type;
	uint32_t tee_type;
	uint8_t qe_vendor_id[16], user_data[20];
	uint16_t body_type;              /* 2 (TDX 1.0) or 3 (TDX 1.5); v4 quotes carry type 2 */
	struct tdx_td_report td;
	const uint8_t *signed_part;      /* header ‖ (v5: type ‖ size ‖) body */
	size_t signed_len;
	uint8_t sig[64];                 /* r ‖ s, big-endian, ECDSA-P256/SHA-256 over signed_part */
	uint8_t attest_key[64];          /* x ‖ y of the attestation key */
	const uint8_t *qe_report_raw;    /* the 384 signed bytes of the QE report */
	struct tdx_qe_report qe;
	uint8_t qe_report_sig[64];       /* r ‖ s by the PCK leaf key */
	const uint8_t *qe_auth_data;
	size_t qe_auth_len;
	const uint8_t *pck_chain;        /* PEM text as in the quote (not NUL-terminated) */
	size_t pck_chain_len;
	size_t padding;                  /* zero bytes after the signature data */
};

/*
 * Parse a DCAP quote through the bounded reader. Returns 0 and fills *ret,
 * or: KW_ERR_TOO_LARGE (len > TDX_MAX_QUOTE), KW_ERR_TRUNCATED (a length or
 * field runs past the end), KW_ERR_TRAILING (bytes after the signature data
 * that are not all zero), KW_ERR_UNSUPPORTED (an SGX quote, another TEE
 * type, version not 4 or 5, attestation key type not ECDSA-P256, QE vendor
 * not Intel, body type not 2 or 3, certification data not type 6 nesting
 * type 5), KW_ERR_INVALID_FORMAT (a body size that does not fit its type,
 * inner lengths that do not add up, an empty PCK chain). When reterr_reason
 * is not NULL it receives a static English string on failure. *ret is not
 * written on failure. Checks no signature.
 */
int tdx_quote_parse(const uint8_t *buf, size_t len, struct tdx_quote *ret,
    const char **reterr_reason) KW_WUR;

/* TCB statuses, Intel's names via tdx_tcb_status_name(). */
enum tdx_tcb_status {
	TDX_TCB_UNKNOWN = 0,                  /* not evaluated (yet) */
	TDX_TCB_UP_TO_DATE,
	TDX_TCB_SW_HARDENING_NEEDED,
	TDX_TCB_CONFIGURATION_NEEDED,
	TDX_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED,
	TDX_TCB_OUT_OF_DATE,
	TDX_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED,
	TDX_TCB_TD_RELAUNCH_ADVISED,
	TDX_TCB_TD_RELAUNCH_ADVISED_CONFIGURATION_NEEDED,
	TDX_TCB_REVOKED,
	TDX_TCB_NOT_SUPPORTED,                /* no TCB level matches */
};

/* "UpToDate", "SWHardeningNeeded", ..., "Revoked", "TCB_NOT_SUPPORTED", "Unknown". */
const char *tdx_tcb_status_name(enum tdx_tcb_status s);

/*
 * Trust anchors: the Intel SGX Root CA is pinned by the SHA-256 of its DER
 * (compiled in), so the copy carried in every quote and collateral chain is
 * trusted because of its bytes, not because it was sent. Test roots are
 * trusted only when added. A trust is read-only after setup except for its
 * internal chain cache, which has its own lock: tdx_verify*() and
 * tdx_collateral_new() may run concurrently with the same trust, the
 * tdx_trust_add_* calls must not race with anything.
 */
struct tdx_trust;

/* Returns 0 or KW_ERR_NOMEM; *ret (free with tdx_trust_free) not written on failure. */
int tdx_trust_new(struct tdx_trust **ret) KW_WUR;
/* NULL-safe. */
void tdx_trust_free(struct tdx_trust *t);

/*
 * Trust a locally generated emulation root (PEM, exactly one self-signed CA
 * certificate whose subject CN starts with "NOT INTEL"). Evidence and
 * collateral chaining to it verify with "root": "test" in the claims. The
 * pinned Intel root given here is accepted and stays "intel".
 * KW_ERR_INVALID_FORMAT (not one PEM certificate), KW_ERR_CERT_INVALID (not a
 * self-signed CA, CN not marked), KW_ERR_TOO_LARGE (too many roots),
 * KW_ERR_IO (file). On failure t is unchanged.
 */
int tdx_trust_add_test_root_pem(struct tdx_trust *t, const void *pem, size_t len) KW_WUR;
int tdx_trust_add_test_root_file(struct tdx_trust *t, const char *pem_path) KW_WUR;

/*
 * Collateral for one FMSPC: a dcap-qvl QuoteCollateralV3 object
 * { "pck_crl_issuer_chain", "root_ca_crl" (hex DER), "pck_crl" (hex DER),
 *   "tcb_info_issuer_chain", "tcb_info" (the exact signed JSON text),
 *   "tcb_info_signature" (hex r‖s), "qe_identity_issuer_chain",
 *   "qe_identity", "qe_identity_signature" } (an optional
 * "pck_certificate_chain" is accepted and ignored; other members are not).
 * tdx_collateral_new() parses it and verifies everything that depends
 * neither on a quote nor on the time: the TCB signing chains and the PCK CRL
 * issuer chain to one trusted root (the same for all), the TCB Info and
 * QE identity signatures over the exact signed bytes, the Root CA CRL
 * signature by that root, the PCK CRL signature by its issuer; TCB Info v3
 * with id "TDX", TD_QE identity v2. The object is immutable and reference
 * counted: share it between threads and appraisals (this is the unit a
 * collateral cache holds). Returns 0, or KW_ERR_INVALID_FORMAT /
 * KW_ERR_TOO_LARGE (malformed), KW_ERR_UNSUPPORTED (not TDX collateral),
 * KW_ERR_CERT_INVALID / KW_ERR_UNTRUSTED_ROOT (chains), KW_ERR_SIG_INVALID
 * (a signature), KW_ERR_MISMATCH (chains ending at different roots), with a
 * static reason. *ret not written on failure.
 */
struct tdx_collateral;

int tdx_collateral_new(const struct tdx_trust *t, const json_t *collateral,
    struct tdx_collateral **ret, const char **reterr_reason) KW_WUR;
/* Take one more reference; returns c. */
struct tdx_collateral *tdx_collateral_ref(struct tdx_collateral *c);
/* Drop one reference (the last one frees); NULL-safe. */
void tdx_collateral_free(struct tdx_collateral *c);

/* What a collateral source needs to index and refresh a collateral object. */
struct tdx_collateral_info {
	uint8_t fmspc[6], pce_id[2];
	int64_t not_before;     /* latest issueDate / thisUpdate / certificate notBefore */
	int64_t not_after;      /* earliest nextUpdate / certificate notAfter */
	int64_t tcb_evaluation_data_number;
	int is_test_root;
};
void tdx_collateral_get_info(const struct tdx_collateral *c, struct tdx_collateral_info *ret);

/* Each check that passed sets its bit in tdx_trace.passed. */
enum tdx_check {
	TDX_CHECK_QUOTE_FORMAT = 1u << 0,     /* parsed, TDX, v4/v5 */
	TDX_CHECK_PCK_CHAIN = 1u << 1,        /* PCK leaf ← CA ← trusted root, valid at `at` */
	TDX_CHECK_QE_REPORT_SIG = 1u << 2,
	TDX_CHECK_QE_REPORT_DATA = 1u << 3,   /* binds attestation key and QE auth data */
	TDX_CHECK_QUOTE_SIG = 1u << 4,
	TDX_CHECK_TCB_SIGNING_CHAIN = 1u << 5,
	TDX_CHECK_TCB_INFO_SIG = 1u << 6,
	TDX_CHECK_QE_IDENTITY_SIG = 1u << 7,
	TDX_CHECK_ROOT_CRL_SIG = 1u << 8,
	TDX_CHECK_PCK_CRL_SIG = 1u << 9,
	TDX_CHECK_SAME_ROOT = 1u << 10,       /* collateral and quote chains end at one root */
	TDX_CHECK_FRESHNESS = 1u << 11,       /* skipped (not set) with skip_freshness */
	TDX_CHECK_NOT_REVOKED = 1u << 12,     /* PCK leaf and PCK CA not on the CRLs */
	TDX_CHECK_FMSPC_PCEID = 1u << 13,
	TDX_CHECK_TDX_MODULE = 1u << 14,      /* MRSIGNERSEAM / SEAM_ATTRIBUTES */
	TDX_CHECK_QE_IDENTITY = 1u << 15,     /* MRSIGNER, ISVPRODID, MISCSELECT, ATTRIBUTES */
	TDX_CHECK_TCB_LEVEL = 1u << 16,       /* a level matched and is not Revoked */
	TDX_CHECK_DEBUG = 1u << 17,
	TDX_CHECK_REPORT_DATA = 1u << 18,     /* only when opts.report_data was given */
};

/*
 * Optional diagnostics, filled as far as verification got, also when it
 * fails (tests, kwctl). Statuses stay TDX_TCB_UNKNOWN when not evaluated.
 */
struct tdx_trace {
	uint32_t passed;
	enum tdx_tcb_status platform;   /* the selected TCB level's own status */
	enum tdx_tcb_status qe;         /* QE identity level */
	enum tdx_tcb_status module;     /* TDX module identity level (UpToDate when module version 0) */
	enum tdx_tcb_status final;      /* converged */
};

struct tdx_verify_opts {
	int64_t at;                  /* verification time, seconds since the epoch (required, > 0) */
	int allow_debug;             /* accept TD_ATTRIBUTES.DEBUG (claims still say "debug": true) */
	/*
	 * 1: do not check the collateral's own times (issueDate/nextUpdate, CRL
	 * thisUpdate/nextUpdate, validity of the collateral signing
	 * certificates). For replaying archived evidence and vectors whose
	 * collateral has no common window; never in the broker. The quote's PCK
	 * chain is always checked at `at`.
	 */
	int skip_freshness;
	const uint8_t *report_data;  /* optional: 64 bytes REPORT_DATA must equal */
	struct tdx_trace *trace;     /* optional */
};

/*
 * Verify a TDX quote with preloaded collateral at o->at. On success returns
 * 0 and stores a new JSON object of normalized claims in *ret_claims
 * (caller json_decref()s): the evidence is authentic and matches a TCB
 * level; its status (UpToDate, OutOfDate, ...) and advisories are claims
 * for the release policy. Rejected (non-zero, *ret_claims untouched,
 * *reterr_reason a static string naming the check): every parse error of
 * tdx_quote_parse; KW_ERR_CERT_INVALID / KW_ERR_UNTRUSTED_ROOT /
 * KW_ERR_CERT_EXPIRED (PCK chain, revoked PCK certificate);
 * KW_ERR_SIG_INVALID (QE report, quote); KW_ERR_MISMATCH (QE report data,
 * FMSPC, PCE-ID, TDX module, QE identity, roots, report data);
 * KW_ERR_CERT_EXPIRED (collateral outside its window at o->at);
 * KW_ERR_DENIED (no TCB level matches: TCB_NOT_SUPPORTED, or the TCB is
 * Revoked — Intel's QVL calls both terminal); KW_ERR_DEBUG_GUEST.
 * Safe to call concurrently with the same trust and collateral.
 */
int tdx_verify_quote(const struct tdx_trust *t, const uint8_t *quote, size_t len,
    const struct tdx_collateral *c, const struct tdx_verify_opts *o, json_t **ret_claims,
    const char **reterr_reason) KW_WUR;

/*
 * What a collateral source needs to find a quote's collateral: the FMSPC
 * and PCE-ID from the SGX extension of its PCK certificate and the CA that
 * issued it (processor_ca 1: PCK Processor CA, 0: PCK Platform CA). The
 * quote is parsed and its PCK chain verified to a trusted root (no time
 * check; the result is cached in t, so the tdx_verify_quote that follows
 * pays a digest for it), so the FMSPC that selects collateral is the one
 * the root certified. Errors and reasons as tdx_verify_quote's steps 1-2;
 * *ret is written only on success.
 */
struct tdx_quote_platform {
	uint8_t fmspc[6], pce_id[2];
	int processor_ca;
};
int tdx_quote_platform(const struct tdx_trust *t, const uint8_t *quote, size_t len,
    struct tdx_quote_platform *ret, const char **reterr_reason) KW_WUR;

/* The same with a QuoteCollateralV3 JSON object (tdx_collateral_new + tdx_verify_quote). */
int tdx_verify(const struct tdx_trust *t, const uint8_t *quote, size_t len, const json_t *collateral,
    const struct tdx_verify_opts *o, json_t **ret_claims, const char **reterr_reason) KW_WUR;

#endif
