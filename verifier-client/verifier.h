/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_VERIFIER_H
#define KW_VERIFIER_H

/*
 * The TEE-neutral verifier seam (docs/architecture.md, "The verifier seam").
 * One table, kw_verifiers[], names every evidence type the broker and
 * `kwctl evidence verify` accept. Each member turns its own "tee-evidence"
 * JSON plus the expected binding (REPORT_DATA), the verification time and
 * the trust configuration into one normalized claim set (docs/claims.md) or
 * a reason. A member parses strictly, authenticates, checks the binding and
 * builds claims; it never sees HTTP, policy or the HSM, and logs nothing
 * above debug. Adding a TEE is a member here, a table entry, its trust in
 * struct kw_trust and its configuration section.
 */

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "cca.h"
#include "kw_err.h"
#include "nvgpu.h"
#include "snp.h"
#include "tdx.h"
#include "tpm_ca.h"

#define KW_BINDING_LEN 64   /* REPORT_DATA: SHA-384(JCS(runtime-data)) ‖ 16 zero bytes */
#define KW_CHALLENGE_KEY_LEN 32   /* the per-challenge secret of members with an /auth step */


/* ---- TDX collateral sources ---- */

/* The CA that issued a PCK certificate, and so which PCK CRL its collateral carries. */
enum kw_pck_ca {
	KW_PCK_CA_PLATFORM = 0,
	KW_PCK_CA_PROCESSOR = 1,
};

/*
 * Where Intel's collateral for a platform comes from. A source is shared by
 * the appraisal threads: get() must be safe to call concurrently. Modes:
 * "offline" (a directory of QuoteCollateralV3 files, kw_tdx_offline_new),
 * "fixed" (one collateral for any quote: kwctl), "pcs" and "pccs"
 * (fetched and cached: verifier-client/tdx/tdx_pcs).
 */
struct kw_tdx_collateral_source;

struct kw_tdx_collateral_ops {
	const char *mode;
	/*
	 * The collateral to appraise a quote of this FMSPC and PCK CA with at
	 * time now: 0 and a new reference in *ret (tdx_collateral_free), or
	 * KW_ERR_UNAVAILABLE when none is valid at now (the appraisal fails
	 * closed: 503 collateral_unavailable), or another code with a static
	 * reason (collateral that does not verify). Never blocks on the network
	 * when a valid copy is at hand.
	 */
	int (*get)(void *ctx, const uint8_t fmspc[static 6], enum kw_pck_ca ca, int64_t now,
	    struct tdx_collateral **ret, const char **reterr_reason);
	void (*free)(void *ctx);     /* NULL-safe on ctx */
};

/* Wrap ctx (taken: freed with ops->free by kw_tdx_source_free) in a source. */
int kw_tdx_source_new(const struct kw_tdx_collateral_ops *ops, void *ctx,
    struct kw_tdx_collateral_source **ret) KW_WUR;
/* NULL-safe. */
void kw_tdx_source_free(struct kw_tdx_collateral_source *s);
/* "offline", "fixed", ... */
const char *kw_tdx_source_mode(const struct kw_tdx_collateral_source *s);
/* Dispatch to the source's get(); KW_ERR_INVALID_ARG without a source. */
int kw_tdx_source_get(const struct kw_tdx_collateral_source *s, const uint8_t fmspc[static 6],
    enum kw_pck_ca ca, int64_t now, struct tdx_collateral **ret, const char **reterr_reason) KW_WUR;

#define KW_TDX_OFFLINE_MAX_FILES 256

/* Called once per file kw_tdx_offline_new loaded (for the broker's log). */
typedef void (*kw_tdx_offline_fn)(void *arg, const char *file, const struct tdx_collateral_info *info,
    enum kw_pck_ca ca);

/*
 * The offline source: every regular file named *.json in dir (at most
 * KW_TDX_OFFLINE_MAX_FILES, each at most TDX_MAX_COLLATERAL bytes) must be
 * a dcap-qvl QuoteCollateralV3 object that tdx_collateral_new verifies
 * under t (signatures, chains to a trusted root); other files are ignored.
 * They are indexed by FMSPC and PCK CA (the CA of the PCK CRL issuer chain)
 * with the validity window of tdx_collateral_get_info. get() returns, of the
 * files for the quote's FMSPC and CA valid at now (not_before <= now <
 * not_after), the one with the highest TCB evaluation data number, then the
 * latest not_before; none: KW_ERR_UNAVAILABLE. An empty directory is not an
 * error (every TDX appraisal is then unavailable). Loaded once: the source
 * is read-only afterwards. On failure nothing is returned and why (when
 * whylen > 0) names the file and the reason: KW_ERR_IO (the directory or a
 * file), KW_ERR_TOO_LARGE (too many files), or the code of
 * kw_json_parse / tdx_collateral_new.
 */
int kw_tdx_offline_new(const struct tdx_trust *t, const char *dir, kw_tdx_offline_fn each, void *arg,
    struct kw_tdx_collateral_source **ret, char *why, size_t whylen) KW_WUR;

/*
 * The fixed source (kwctl --collateral FILE): the one QuoteCollateralV3
 * object (a reference is taken) is verified by tdx_collateral_new at every
 * get() and returned whatever the FMSPC, CA and time: the verifier's own
 * FMSPC and freshness checks then say why it does not fit.
 */
int kw_tdx_fixed_new(const struct tdx_trust *t, json_t *collateral,
    struct kw_tdx_collateral_source **ret) KW_WUR;

/* ---- the seam ---- */

/*
 * A certificate-status check (OCSP, verifier-client/kw_ocsp.h, in
 * keywarden-pcs.so) for verified chains: check() returns 0 (every
 * certificate of certs[first .. n - 2] good), KW_ERR_CERT_INVALID (one
 * revoked or unknown) or another code (the responder did not answer
 * usably), with a static *why. fail_open: an unanswered check lets the
 * evidence through with a warning claim instead of refusing it.
 */
struct kw_cert_status {
	int (*check)(void *ctx, const uint8_t *const *certs, const size_t *lens, size_t n, size_t first,
	    int64_t at, const char **why);
	void *ctx;
	int fail_open;
};

/*
 * Every verifier's trust, owned by the caller and read-only once built
 * (appraisals run concurrently with it). A NULL member disables its TEE.
 */
struct kw_trust {
	struct snp_trust *snp;                           /* pinned AMD ARKs, chains, test roots */
	struct tdx_trust *tdx;                           /* pinned Intel SGX Root CA, test roots, caches */
	const struct kw_tdx_collateral_source *tdx_collateral;   /* TDX needs it too */
	const struct tpm_ca *tpm_ek;                     /* EK manufacturer CAs (tpm.ek_roots): tpm */
	const struct tpm_ca *tpm_akcert;                 /* AK CAs (tpm.akcert_roots): tpm-akcert */
	const struct cca_trust *cca;                     /* configured CPAKs (cca.cpaks, cca.test_cpaks) */
	struct nvgpu_trust *nvgpu;                       /* pinned NVIDIA root, test roots: "gpus" */
	const struct kw_cert_status *gpu_status;         /* nvgpu.ocsp_url: GPU chains' OCSP, or NULL */
};

/* One appraisal's input, owned by the caller. */
struct kw_appraisal {
	const json_t *evidence;        /* the "tee-evidence" object (the request body is size-capped) */
	const uint8_t *binding;        /* expected REPORT_DATA, or NULL: not checked (kwctl) */
	size_t binding_len;            /* KW_BINDING_LEN when binding is given */
	int64_t at;                    /* verification time, seconds since the epoch (> 0) */
	const struct kw_trust *trust;
	int allow_debug;               /* 1: debug guests verify (the claim says so; policy decides) */
	/*
	 * Optional: an object the member adds diagnostics to, also on
	 * rejection, for logs and kwctl: "tcb_status" (TDX, how far the TCB
	 * evaluation got), "fmspc" (TDX, the platform whose collateral was
	 * looked up). Never secrets; hex and Intel's strings only.
	 */
	json_t *diag;
	/*
	 * Optional, TPM evidence types and cca, for kwctl --nonce: without a
	 * binding, the exact bytes the quote's extraData must hold
	 * (nonce_set 1; 0..64 bytes). The TPM members compare the first 48
	 * bytes of binding (SHA-384(JCS(runtime-data))) when it is given,
	 * and refuse when neither is given. cca: the realm challenge must be
	 * exactly nonce (64 bytes); neither given: not checked.
	 */
	const uint8_t *nonce;
	size_t nonce_len;
	int nonce_set;
	/*
	 * The challenge's secret (KW_CHALLENGE_KEY_LEN bytes, see struct
	 * kw_auth_step), or NULL (kwctl): members with an auth step need it
	 * and refuse without.
	 */
	const uint8_t *challenge_key;
};

/*
 * The /auth step of an evidence type that needs one round trip more (the
 * `tpm` member's credential activation). Instead of storing state per
 * challenge, the broker gives the member a secret only it can recompute
 * for this one challenge (challenge.h, kw_challenge_key): the same bytes
 * reach appraise() through kw_appraisal.challenge_key when the workload
 * attests with that challenge. So whatever a member derives from it lives
 * and dies with its challenge (single use, expiry, broker restart), and
 * /auth still stores nothing. Owned by the caller.
 */
struct kw_auth_step {
	const json_t *params;          /* the /auth request's "extra-params" object (NULL: none) */
	const uint8_t *challenge_key;  /* KW_CHALLENGE_KEY_LEN secret bytes: never log or send them */
	int64_t at;                    /* seconds since the epoch */
	const struct kw_trust *trust;
};

struct kw_verifier {
	const char *tee;               /* "tee" of /auth and of the claims: "snp", "tdx" */
	const char *vendor_root;       /* the "root" claim of genuine evidence: "amd", "intel" */
	const char *appraisal_policy_id;   /* EAR ear.appraisal-policy-id */
	const char *log_claim;         /* the claim the broker names in its "attested" log line */
	/* tee-evidence members; the first is required and identifies this evidence type */
	const char *const *members;
	/* the claims copied into the attestation token (docs/claims.md, "in token") */
	const char *const *token_claims;
	/* 1 when trust holds what this member needs */
	int (*enabled)(const struct kw_trust *trust);
	/*
	 * The shape of tee-evidence only: members, types, base64url and sizes
	 * (cheap, no cryptography: the broker runs it on its loop thread to
	 * answer 400). 0, or KW_ERR_INVALID_FORMAT / KW_ERR_TOO_LARGE with a
	 * static client-safe reason.
	 */
	int (*check)(const json_t *evidence, const char **reterr_reason);
	/*
	 * Parse, authenticate, check the binding and normalize: 0 and a new
	 * claims object in *ret_claims (with "tee" and "root"), or a negative
	 * code and a static reason (*ret_claims untouched). KW_ERR_UNAVAILABLE
	 * only when input from outside the evidence (collateral) is not
	 * available; KW_ERR_NOMEM when memory is short; any other code is the
	 * evidence's fault. Thread-safe.
	 */
	int (*appraise)(const struct kw_appraisal *in, json_t **ret_claims, const char **reterr_reason);
	/*
	 * Optional (NULL: /auth takes no parameters for this tee): the /auth
	 * step. 0 and a new object for the response's "extra-params" in
	 * *ret_extra, or a negative code and a static client-safe reason
	 * (KW_ERR_INVALID_FORMAT / KW_ERR_TOO_LARGE: 400; KW_ERR_NOMEM; any
	 * other: the parameters do not verify, 401). Runs on a worker thread:
	 * may do public-key cryptography. Thread-safe.
	 */
	int (*auth)(const struct kw_auth_step *in, json_t **ret_extra, const char **reterr_reason);
};

/* The table, NULL-terminated: SNP first, TDX second, then the TPM types, then CCA. */
extern const struct kw_verifier *const kw_verifiers[];

extern const struct kw_verifier kw_verifier_snp;
extern const struct kw_verifier kw_verifier_tdx;
extern const struct kw_verifier kw_verifier_tpm_akcert;
extern const struct kw_verifier kw_verifier_tpm;      /* credential activation (verifier_tpmcred.c) */
extern const struct kw_verifier kw_verifier_az_snp_vtpm;   /* verifier_azure.c */
extern const struct kw_verifier kw_verifier_az_tdx_vtpm;
extern const struct kw_verifier kw_verifier_cca;       /* verifier_cca.c */

/* The member for tee, or NULL. */
const struct kw_verifier *kw_verifier_find(const char *tee);

/*
 * The member whose identifying member (members[0]) tee-evidence holds:
 * exactly one must match. When several do (TDX's "quote" is a member of
 * the TPM types too), the one whose members list holds every member of
 * tee-evidence is taken, if exactly one does. NULL (with a static reason)
 * when evidence is not an object, matches no member or more than one.
 */
const struct kw_verifier *kw_verifier_for_evidence(const json_t *evidence, const char **reterr_reason);

/* "snp, tdx, ...": the tees of the table, for messages (static, built once). */
const char *kw_verifier_names(void);
/* "unsupported \"tee\" (supported: snp, tdx, ...)" (static, built once). */
const char *kw_verifier_unsupported_reason(void);

/* ---- helpers for members ---- */

/*
 * Decode the base64url string member `name` of evidence (1..max bytes) into
 * a new buffer. KW_ERR_INVALID_FORMAT (missing, not a string, not strict
 * base64url), KW_ERR_TOO_LARGE, KW_ERR_NOMEM. Evidence is public: decoded
 * with kw_b64url_decode_public (not constant-time).
 */
int kw_evidence_b64(const json_t *evidence, const char *name, size_t max, uint8_t **ret,
    size_t *ret_len) KW_WUR;

/*
 * The binding check shared by the members: claims' "report_data" (lower-case
 * hex) equals binding (constant time). 0; KW_ERR_MISMATCH with the reason
 * "report data does not match SHA-384(JCS(runtime-data))"; KW_ERR_INTERNAL
 * when the claim is missing. binding NULL: 0.
 */
int kw_binding_check(const json_t *claims, const uint8_t *binding, size_t binding_len,
    const char **reterr_reason) KW_WUR;

/*
 * The TDX member's appraisal of one DCAP quote without the binding: the
 * collateral for its FMSPC from in->trust->tdx_collateral, tdx_verify_quote
 * at in->at, diagnostics "fmspc" and "tcb_status" in in->diag. For members
 * whose evidence carries a TD quote bound otherwise (az-tdx-vtpm). 0 and
 * new claims (the "tdx" member's), or a code and a static reason as for
 * appraise().
 */
int kw_tdx_appraise_quote(const struct kw_appraisal *in, const uint8_t *quote, size_t qlen,
    json_t **ret_claims, const char **reterr_reason) KW_WUR;

/* ---- GPUs: composite evidence (verifier_nvgpu.c, docs/verifier-nvgpu.md) ---- */

#define KW_GPUS_MAX 8   /* elements of the /attest member "gpus" */

/*
 * The shape of the /attest member "gpus" only: an array of 1..KW_GPUS_MAX
 * objects {"report": base64url (at most NVGPU_MAX_REPORT bytes), "chain":
 * [2..NVGPU_MAX_CHAIN base64url DER certificates]}, nothing else. Cheap (the
 * loop thread runs it). 0, or KW_ERR_INVALID_FORMAT / KW_ERR_NOMEM with a
 * static client-safe reason.
 */
int kw_gpus_check(const json_t *gpus, const char **reterr_reason) KW_WUR;

/*
 * The GPUs' binding: the first 32 bytes of SHA-256(JCS(runtime-data)), the
 * nonce every GPU's GET_MEASUREMENTS request must carry. 0, or the code of
 * kw_jcs_serialize / kw_sha256 (out not written).
 */
int kw_gpu_binding(const json_t *runtime_data, uint8_t out[static NVGPU_NONCE_LEN]) KW_WUR;

/*
 * Verify every GPU of gpus (nvgpu_verify at at, with trust->nvgpu and
 * nonce; then, with trust->gpu_status, the chain's certificate status
 * without the device leaf and the root: claim "ocsp" "good", or
 * "unavailable" when the responder did not answer and fail_open is set):
 * 0 and a new array of their claims in order, or the first failure's code
 * and static reason with its index in *reterr_index (*ret untouched).
 * Thread-safe; the status check may block for its timeout (worker threads).
 */
int kw_gpus_appraise(const json_t *gpus, const struct kw_trust *trust, int64_t at,
    const uint8_t nonce[static NVGPU_NONCE_LEN], json_t **ret, size_t *reterr_index,
    const char **reterr_reason) KW_WUR;

#endif
