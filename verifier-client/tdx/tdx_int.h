/* SPDX-License-Identifier: Apache-2.0 */
#ifndef TDX_INT_H
#define TDX_INT_H

/*
 * Internals shared by the files of verifier-client/tdx and by its unit and
 * fuzz tests. Not an API for other modules.
 */

#include <pthread.h>
#include <stdatomic.h>

#include <openssl/x509.h>

#include "kw_rd.h"
#include "tdx.h"

#define TDX_MAX_TEST_ROOTS 8
#define TDX_CHAIN_CACHE_SLOTS 256     /* direct-mapped, by chain digest */
#define TDX_PCK_CACHE_SLOTS 1024      /* direct-mapped, by the digest of a quote's PEM chain */
#define TDX_MAX_SERIAL 32             /* certificate serial number bytes */
#define TDX_MAX_CHAIN_CERTS 3
#define TDX_MAX_CERT_DER (8 * 1024)   /* one certificate in a chain */
#define TDX_MAX_CHAIN_PEM (32 * 1024) /* one issuer chain in collateral */
#define TDX_MAX_SIGNED_JSON (256 * 1024)  /* tcb_info / qe_identity text */
#define TDX_MAX_CRL_DER (512 * 1024)
#define TDX_MAX_TCB_LEVELS 128
#define TDX_MAX_MODULE_IDS 16
#define TDX_MAX_ISV_LEVELS 64         /* QE identity and module identity levels */
#define TDX_MAX_ADVISORIES 1024       /* over all levels of one collateral */
#define TDX_ADVISORY_LEN 32           /* "INTEL-SA-00000" with room to spare, NUL included */

/* Intel SGX Root CA, SHA-256 of its DER (certs/intel_sgx_root_ca.der in the vectors). */
extern const uint8_t tdx_intel_root_sha256[32];

struct tdx_root {
	X509 *cert;            /* owned */
	uint8_t sha256[32];
};

struct tdx_cache_slot {
	uint8_t key[32];       /* SHA-256(kind ‖ DER ‖ DER ...) */
	uint8_t root_sha256[32];
	int64_t not_before, not_after;
	uint8_t used, is_test;
};

/* SGX extension (1.2.840.113741.1.13.1) of a PCK leaf certificate. */
struct tdx_pck {
	uint8_t sgx_svn[16];   /* SGX TCB component SVNs .2.1 … .2.16 */
	uint16_t pcesvn;       /* .2.17 */
	uint8_t cpusvn[16];    /* .2.18 */
	uint8_t pce_id[2];     /* .3 */
	uint8_t fmspc[6];      /* .4 */
	uint8_t sgx_type;      /* .5: 0 standard, 1 scalable, 2 scalable with integrity */
};

/*
 * What a quote's verified PCK chain yields for the per-quote checks, so that
 * a chain seen before costs a digest instead of three certificate decodes
 * (OpenSSL 3.0 decodes each public key through its provider decoders).
 */
struct tdx_pck_chain {
	EVP_PKEY *leaf_key;                  /* one reference, owned by the holder */
	struct tdx_pck pck;
	uint8_t leaf_serial[TDX_MAX_SERIAL], ca_serial[TDX_MAX_SERIAL];   /* positive INTEGER contents */
	size_t leaf_serial_len, ca_serial_len;
	uint8_t issuer_name_sha256[32];      /* of the leaf's issuer name (DER) */
	uint8_t ca_spki_sha256[32];          /* of the PCK CA's SubjectPublicKeyInfo (DER) */
	uint8_t root_sha256[32];
	int64_t not_before, not_after;       /* intersection of the three validity periods */
	int is_test, processor_ca;
};

struct tdx_pck_slot {
	uint8_t key[32];                     /* SHA-256 of the PEM text */
	uint8_t used;
	struct tdx_pck_chain v;              /* v.leaf_key: the cache's own reference */
};

/* Verified chains by digest; mutable behind a const trust, hence its own allocation and lock. */
struct tdx_chain_cache {
	pthread_mutex_t lock;
	struct tdx_cache_slot slot[TDX_CHAIN_CACHE_SLOTS];
	struct tdx_pck_slot pck[TDX_PCK_CACHE_SLOTS];
	unsigned long hits, misses, pck_hits, pck_misses;
	uint8_t written;           /* a slot or pck entry was stored since the last clear */
};

struct tdx_trust {
	struct tdx_root roots[TDX_MAX_TEST_ROOTS];   /* configured test roots */
	size_t nroots;
	struct tdx_chain_cache *cache;               /* owned */
};

/* Cache statistics (tests): chain results by DER digest, PCK chains by PEM digest. */
void tdx_trust_cache_stats(const struct tdx_trust *t, unsigned long *ret_hits, unsigned long *ret_misses);
void tdx_trust_pck_cache_stats(const struct tdx_trust *t, unsigned long *ret_hits, unsigned long *ret_misses);
/* Drop every cached chain result (tests, and whenever trust changes). */
void tdx_trust_cache_clear(const struct tdx_trust *t);
/* Free the cache's references and the cache itself (NULL-safe). */
void tdx_chain_cache_destroy(struct tdx_chain_cache *c);

/* ---- certificate chains (tdx_pck.c) ---- */

enum tdx_chain_kind {
	TDX_CHAIN_PCK = 1,          /* PCK leaf, PCK Platform/Processor CA, root */
	TDX_CHAIN_TCB_SIGNING = 2,  /* TCB Signing, root */
	TDX_CHAIN_PCK_CRL = 3,      /* PCK Platform/Processor CA, root */
};

struct tdx_chain {
	X509 *cert[TDX_MAX_CHAIN_CERTS];   /* owned, leaf first, root last */
	size_t n;
	uint8_t root_sha256[32];
	int64_t not_before, not_after;     /* intersection of the validity periods */
	int is_test;
};

/*
 * Strict PEM: one or more "-----BEGIN CERTIFICATE-----" blocks of canonical
 * base64 lines (at most 76 characters, LF or CRLF), nothing between blocks,
 * then optionally one NUL byte (Intel's QE appends it). Every certificate
 * must be one DER X.509 whose canonical base64 is exactly the text, so no
 * byte of the text can change without the certificates changing. Fills
 * out[0..n) (owned by the caller) with n == want. KW_ERR_INVALID_FORMAT or
 * KW_ERR_TOO_LARGE; nothing returned on failure.
 */
int tdx_pem_certs(const uint8_t *pem, size_t len, X509 **out, size_t want) KW_WUR;

/*
 * Verify a chain of exactly the certificates of its kind, root last: the root
 * pinned (Intel) or a configured test root, names and keys of the kind's
 * roles, signatures and X.509 rules (OpenSSL, no time check: the
 * intersection of the validity periods is returned for the caller to check
 * at its time). Results are cached in t by the digest of the DER chain.
 * Takes ownership of certs[0..n) into ret on success (the caller frees them
 * with tdx_chain_clear); on failure the caller still owns them.
 */
int tdx_chain_verify(const struct tdx_trust *t, enum tdx_chain_kind kind, X509 **certs, size_t n,
    struct tdx_chain *ret, const char **why) KW_WUR;
void tdx_chain_clear(struct tdx_chain *c);

/* SHA-256 of the DER of x. */
int tdx_cert_sha256(const X509 *x, uint8_t out[static 32]) KW_WUR;
/*
 * A quote's PEM PCK chain, verified (tdx_pem_certs + tdx_chain_verify of
 * kind PCK + tdx_pck_from_cert), from the trust's cache when this exact
 * text was verified before. The caller frees ret with tdx_pck_chain_clear.
 * Errors as those functions, with a reason.
 */
int tdx_pck_chain_get(const struct tdx_trust *t, const uint8_t *pem, size_t len, struct tdx_pck_chain *ret,
    const char **why) KW_WUR;
void tdx_pck_chain_clear(struct tdx_pck_chain *c);
/* SHA-256 of a name's / a public key's DER. */
int tdx_name_sha256(const X509_NAME *n, uint8_t out[static 32]) KW_WUR;
int tdx_spki_sha256(const X509 *x, uint8_t out[static 32]) KW_WUR;

/* notBefore/notAfter of x in seconds; -1 on a malformed time. */
int tdx_x509_window(const X509 *x, int64_t *ret_nb, int64_t *ret_na) KW_WUR;
/* ASN1_TIME → seconds since the epoch. */
int tdx_asn1_time(const ASN1_TIME *t, int64_t *ret) KW_WUR;

/* ECDSA-P256/SHA-256 signature r ‖ s (big-endian, 64 bytes) over msg with key. */
int tdx_ecdsa_verify(EVP_PKEY *key, const uint8_t sig[static 64], const uint8_t *msg, size_t len) KW_WUR;
/* EVP_PKEY from an uncompressed P-256 point x ‖ y (64 bytes). */
int tdx_p256_key(const uint8_t xy[static 64], EVP_PKEY **ret) KW_WUR;
/* 1 when key is an EC P-256 key. */
int tdx_is_p256(EVP_PKEY *key);

/* Parse the extension's value (DER, through kw_rd). KW_ERR_INVALID_FORMAT. */
int tdx_pck_ext_parse(const uint8_t *der, size_t len, struct tdx_pck *ret) KW_WUR;
/* Find the extension in x and parse it. KW_ERR_NOT_FOUND / KW_ERR_INVALID_FORMAT. */
int tdx_pck_from_cert(const X509 *x, struct tdx_pck *ret) KW_WUR;

/* ---- collateral (tdx_collateral.c) ---- */

struct tdx_adv_ids {
	size_t first, n;       /* into tdx_collateral.adv */
};

struct tdx_level {         /* TCB Info tcbLevels[] */
	uint8_t sgx[16];
	uint16_t pcesvn;
	uint8_t tdx[16];
	enum tdx_tcb_status status;
	int64_t date;
	struct tdx_adv_ids adv;
};

struct tdx_isv_level {     /* QE identity and TDX module identity tcbLevels[] */
	uint16_t isvsvn;
	enum tdx_tcb_status status;
	int64_t date;
	struct tdx_adv_ids adv;
};

struct tdx_module_id {     /* tdxModuleIdentities[] */
	char id[8];            /* "TDX_01" as written */
	uint8_t version;       /* the hex number after "TDX_" */
	uint8_t mrsigner[48], attributes[8], attributes_mask[8];
	struct tdx_isv_level levels[TDX_MAX_ISV_LEVELS];
	size_t nlevels;
};

struct tdx_tcb_info {
	int64_t issue, next, eval_num;
	uint8_t fmspc[6], pce_id[2];
	uint8_t mod_mrsigner[48], mod_attributes[8], mod_attributes_mask[8];
	struct tdx_module_id mods[TDX_MAX_MODULE_IDS];
	size_t nmods;
	int has_mods;          /* tdxModuleIdentities present */
	struct tdx_level levels[TDX_MAX_TCB_LEVELS];
	size_t nlevels;
};

struct tdx_qe_identity {
	int64_t issue, next, eval_num;
	uint32_t miscselect, miscselect_mask;
	uint8_t attributes[16], attributes_mask[16], mrsigner[32];
	uint16_t isvprodid;
	struct tdx_isv_level levels[TDX_MAX_ISV_LEVELS];
	size_t nlevels;
};

struct tdx_collateral {
	atomic_int refs;
	struct tdx_tcb_info tcb;
	struct tdx_qe_identity qe;
	char (*adv)[TDX_ADVISORY_LEN];   /* advisory IDs of all levels */
	size_t nadv;
	uint8_t root_sha256[32];
	int is_test;
	X509_CRL *pck_crl, *root_crl;    /* owned; signatures verified */
	uint8_t pck_crl_issuer_name_sha256[32];   /* the CA that signed the PCK CRL: its subject */
	uint8_t pck_crl_issuer_spki_sha256[32];   /* and its public key */
	int64_t pck_crl_this, pck_crl_next, root_crl_this, root_crl_next;
	int64_t certs_not_before, certs_not_after;   /* collateral signing chains */
	uint32_t checks;                 /* TDX_CHECK_* established at load */
};

/*
 * Parse without verifying anything (tests and fuzzing use it directly):
 * envelope, hex, CRL DER, PEM chains (into chains[3]: TCB Info, QE identity,
 * PCK CRL issuer; owned by the caller on success), the two signed JSON texts.
 * tdx_collateral_new = this + signature and chain verification.
 */
struct tdx_collateral_raw {
	X509 *chain[3][2];
	const char *tcb_text, *qe_text;   /* views into the json_t */
	size_t tcb_len, qe_len;
	uint8_t tcb_sig[64], qe_sig[64];
};
int tdx_collateral_parse(const json_t *j, struct tdx_collateral *c, struct tdx_collateral_raw *raw,
    const char **why) KW_WUR;
void tdx_collateral_raw_clear(struct tdx_collateral_raw *raw);
/* Allocate an empty collateral with one reference. */
struct tdx_collateral *tdx_collateral_alloc(void);

/* TCB Info / QE identity JSON text → struct (part of tdx_collateral_parse). */
int tdx_tcb_info_parse(const char *text, size_t len, struct tdx_collateral *c, const char **why) KW_WUR;
int tdx_qe_identity_parse(const char *text, size_t len, struct tdx_collateral *c, const char **why) KW_WUR;

/* ---- TCB evaluation (tdx_tcb.c) ---- */

struct tdx_tcb_result {
	enum tdx_tcb_status platform, sgx, module, qe, final;
	const struct tdx_level *level;          /* selected TDX level, NULL if none */
	const struct tdx_isv_level *qe_level;   /* NULL if none */
	const struct tdx_module_id *module_id;  /* NULL when the module version is 0 */
	const struct tdx_isv_level *module_level;
};

/*
 * QE identity (MISCSELECT, ATTRIBUTES, MRSIGNER, ISVPRODID; then the ISVSVN
 * level) and TDX module identity (MRSIGNERSEAM, SEAM_ATTRIBUTES) checks:
 * KW_ERR_MISMATCH with a reason, else 0 and the QE status in ret->qe.
 */
int tdx_tcb_check_identities(const struct tdx_collateral *c, const struct tdx_quote *q,
    struct tdx_tcb_result *ret, const char **why) KW_WUR;
/*
 * TCB level selection, TDX module level, TD relaunch and convergence (Intel
 * QVL TcbLevelCheck). Fills ret->final (TDX_TCB_NOT_SUPPORTED when no level
 * matches). Fails only with KW_ERR_MISMATCH when the relaunch check needs a
 * module identity for TEE_TCB_SVN2 that the TCB Info does not have.
 */
int tdx_tcb_evaluate(const struct tdx_collateral *c, const struct tdx_pck *pck, const struct tdx_quote *q,
    struct tdx_tcb_result *ret, const char **why) KW_WUR;
/* Parse one of Intel's status strings (valid set per kind); TDX_TCB_UNKNOWN if not valid. */
/* set: 0 TCB Info levels, 1 TDX module levels, 2 QE identity levels. */
enum tdx_tcb_status tdx_tcb_status_parse(const char *s, int set);

#endif
