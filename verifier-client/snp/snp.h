/* SPDX-License-Identifier: Apache-2.0 */
#ifndef SNP_H
#define SNP_H

/*
 * AMD SEV-SNP evidence: ATTESTATION_REPORT parser and offline verifier
 * (report signature, VCEK/VLEK chain to a pinned AMD ARK or a configured
 * test ARK, hwID and TCB binding) producing one normalized claim set.
 * No network, no wall clock: the verification time is an input.
 * docs/verifier-snp.md lists the checks in order.
 */

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "kw_err.h"

#define SNP_REPORT_SIZE 0x4A0
#define SNP_REPORT_SIGNED_LEN 0x2A0   /* the signature covers bytes 0x000..0x29F */
#define SNP_REPORT_SIG_OFFSET 0x2A0
#define SNP_MAX_CERT_LEN (16 * 1024)  /* cap for one DER certificate in evidence */
#define SNP_MAX_CHAIN_FILE (256 * 1024)

/* POLICY bits (FORMATS.md §3) */
#define SNP_POLICY_SMT (1ULL << 16)
#define SNP_POLICY_RESERVED_1 (1ULL << 17)  /* must be 1 */
#define SNP_POLICY_MIGRATE_MA (1ULL << 18)
#define SNP_POLICY_DEBUG (1ULL << 19)
#define SNP_POLICY_SINGLE_SOCKET (1ULL << 20)

/* SIGNER_INFO bits 4:2 */
#define SNP_SIGNING_KEY(signer_info) (((signer_info) >> 2) & 0x7u)
#define SNP_SIGNING_KEY_VCEK 0u
#define SNP_SIGNING_KEY_VLEK 1u

/* Decoded ATTESTATION_REPORT; integers in host order, byte arrays as stored. */
struct snp_report {
	uint32_t version, guest_svn;
	uint64_t policy;
	uint8_t family_id[16], image_id[16];
	uint32_t vmpl, sig_algo;
	uint64_t current_tcb, platform_info;
	uint32_t signer_info;
	uint8_t report_data[64], measurement[48], host_data[32], id_key_digest[48],
	    author_key_digest[48], report_id[32], report_id_ma[32];
	uint64_t reported_tcb;
	uint8_t cpuid_fam_id, cpuid_mod_id, cpuid_step;
	uint8_t chip_id[64];
	uint64_t committed_tcb;
	uint8_t current_build, current_minor, current_major, committed_build, committed_minor,
	    committed_major;
	uint64_t launch_tcb, launch_mit_vector, current_mit_vector;
	uint8_t sig_r[72], sig_s[72];   /* little-endian, as stored */
};

/*
 * Parse exactly SNP_REPORT_SIZE bytes. Returns 0 and fills *ret, or:
 * KW_ERR_TRUNCATED (len < 1184), KW_ERR_TRAILING (len > 1184),
 * KW_ERR_UNSUPPORTED (VERSION not 2, 3 or 5; SIGNATURE_ALGO not 1),
 * KW_ERR_INVALID_FORMAT (POLICY bit 17 clear, SIGNER_INFO bits 31:5 set,
 * a reserved/MBZ range non-zero, including fields a version does not define
 * and the unused upper bytes of R and S and the tail after the signature).
 * *ret is not written on failure. Does not check the signature.
 */
int snp_report_parse(const uint8_t *buf, size_t len, struct snp_report *ret) KW_WUR;

enum snp_product {
	SNP_PRODUCT_UNKNOWN = 0,
	SNP_PRODUCT_MILAN,
	SNP_PRODUCT_GENOA,
	SNP_PRODUCT_TURIN,
};

/* "Milan", "Genoa", "Turin" or "unknown". */
const char *snp_product_name(enum snp_product p);

/* TCB_VERSION components; fmc is 0 and meaningless before Turin. */
struct snp_tcb {
	uint8_t fmc, bl, tee, snp, ucode;
};

/* Split a raw TCB_VERSION by the product's layout (Turin differs). */
void snp_tcb_decode(uint64_t raw, enum snp_product p, struct snp_tcb *ret);

/*
 * Trust anchors and AMD intermediates (ASK / ASVK). Immutable once built:
 * snp_verify() may be called concurrently from several threads with the
 * same trust, but the snp_trust_add_* calls must not race with anything.
 */
struct snp_trust;

/*
 * New trust holding no certificates yet; the SHA-256 pins of the AMD ARKs
 * (Milan, Genoa, Turin) are compiled in, so an ARK with one of those exact
 * DER encodings is trusted wherever it comes from (chain file or evidence).
 * Returns 0 or KW_ERR_NOMEM; *ret (free with snp_trust_free) not written on failure.
 */
int snp_trust_new(struct snp_trust **ret) KW_WUR;

/*
 * Load an AMD KDS cert_chain bundle (PEM: ASK or ASVK, then ARK). The ARK
 * (last certificate) must be self-signed and either pinned or identical to
 * a root added with snp_trust_add_test_root_file() (else
 * KW_ERR_UNTRUSTED_ROOT); its CN must be ARK-<product>. Every intermediate
 * must be signed by that ARK (KW_ERR_CERT_INVALID) and be named
 * SEV-<product> or SEV-VLEK-<product>. Validity periods are checked at
 * verification time, not here. KW_ERR_IO / KW_ERR_TOO_LARGE /
 * KW_ERR_INVALID_FORMAT for unreadable or malformed files. On failure t is
 * unchanged.
 */
int snp_trust_add_chain_file(struct snp_trust *t, const char *pem_path) KW_WUR;
/* The same from a PEM buffer. */
int snp_trust_add_chain_pem(struct snp_trust *t, const void *pem, size_t len) KW_WUR;

/*
 * Trust a locally generated emulation ARK (PEM, exactly one self-signed
 * certificate, CN ARK-<product>). It is trusted ONLY because the
 * configuration names it; claims from it carry "root": "test".
 */
int snp_trust_add_test_root_file(struct snp_trust *t, const char *pem_path) KW_WUR;
int snp_trust_add_test_root_pem(struct snp_trust *t, const void *pem, size_t len) KW_WUR;

/* NULL-safe. */
void snp_trust_free(struct snp_trust *t);

/*
 * The chain cache. A VCEK/VLEK chain that verified is remembered, keyed by
 * SHA-256 of the evidence's certificate bytes as sent, with the window in
 * which every certificate of its path is valid: a later report with the same
 * certificates, verified at a time inside that window, skips certificate
 * parsing and chain verification (the report signature, hwID, TCB and
 * policy checks run every time). Failed chains are never entered; a time
 * outside the window is a miss and verifies again. Direct-mapped: a new
 * chain replaces the one in its slot. Thread-safe.
 */
#define SNP_CHAIN_CACHE_DEFAULT 1024   /* slots */
#define SNP_CHAIN_CACHE_MAX 65536

/* Resize (n slots, 0 disables) and empty the cache. 0, KW_ERR_INVALID_ARG, KW_ERR_NOMEM. */
int snp_trust_set_cache_slots(struct snp_trust *t, size_t n) KW_WUR;
/* Look-ups answered from the cache, and those that were not, since snp_trust_new. */
void snp_trust_cache_stats(const struct snp_trust *t, unsigned long *ret_hits, unsigned long *ret_misses);

/* certs[0] = VCEK or VLEK (DER); further certs (ASK/ASVK, ARK) optional, DER. */
struct snp_evidence {
	const uint8_t *report;
	size_t report_len;
	const uint8_t *certs[4];
	size_t cert_lens[4];
	size_t ncerts;
};

struct snp_verify_opts {
	int64_t at;       /* verification time, seconds since the epoch (required, > 0) */
	int allow_debug;  /* accept POLICY.DEBUG = 1 (claims still say "debug": true) */
};

/*
 * Verify SNP evidence at o->at. On success returns 0 and stores a new JSON
 * object of normalized claims in *ret_claims (caller json_decref()s).
 * On failure returns a negative KW_ERR_* and, when reterr_reason is not
 * NULL, stores a short static English string naming the failed check;
 * *ret_claims is not written. Main codes: KW_ERR_INVALID_ARG,
 * parse errors (see snp_report_parse), KW_ERR_UNSUPPORTED (signing key),
 * KW_ERR_CERT_INVALID, KW_ERR_CERT_EXPIRED, KW_ERR_UNTRUSTED_ROOT,
 * KW_ERR_SIG_INVALID, KW_ERR_MISMATCH (hwID, TCB, product),
 * KW_ERR_DEBUG_GUEST. Safe to call concurrently with the same trust.
 */
int snp_verify(const struct snp_trust *t, const struct snp_evidence *ev,
    const struct snp_verify_opts *o, json_t **ret_claims, const char **reterr_reason) KW_WUR;

#endif
