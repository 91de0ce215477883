/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_ATTESTER_H
#define KW_ATTESTER_H

/*
 * Workload-side attester library (libkwattester): TEE keys, runtime-data and
 * report-data binding, SEV-SNP and Intel TDX evidence (configfs-tsm or
 * explicit emulation, att_tdx_emu.h for TDX),
 * and decryption of the JWE a broker releases (RSA-OAEP + A256CBC-HS512).
 * All functions return 0 or a negative enum kw_err; ret_* are written only
 * on success.
 */

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "kw_err.h"
#include "kw_jose.h"
#include "kw_secret.h"

#define ATT_SNP_REPORT_LEN 0x4A0      /* 1184 */
#define ATT_SNP_SIGNED_LEN 0x2A0      /* bytes 0x000..0x29F are signed */
#define ATT_REPORT_DATA_LEN 64
#define ATT_MEASUREMENT_LEN 48
#define ATT_CHIP_ID_LEN 64

#define ATT_MAX_AUXBLOB (256 * 1024)  /* configfs-tsm auxblob (certificate table) */
#define ATT_MAX_CERTTABLE_ENTRIES 32
#define ATT_MAX_CERT (16 * 1024)      /* one DER/PEM certificate in the table */
#define ATT_MAX_JWE (64 * 1024)       /* compact JWE text */
#define ATT_MAX_JWE_HEADER 1024       /* protected header, base64url chars */
#define ATT_MAX_PLAINTEXT (16 * 1024) /* released secret */

/* ---- platform RNG and TEE keys ---- */

/*
 * Check that the kernel RNG (getrandom(2)) is ready and mix 32 bytes of it
 * into OpenSSL's DRBG as additional input (RAND_add). OpenSSL 3's default DRBG
 * already seeds itself from getrandom(2); this makes the dependency explicit
 * and fails early (KW_ERR_UNAVAILABLE) when the platform RNG cannot be read.
 */
int att_rng_check(void) KW_WUR;

/* The TEE keys: enc = RSA-3072 (tee-pubkey), sig = EC P-256 (tee-sigkey). */
struct att_keys {
	EVP_PKEY *enc;
	EVP_PKEY *sig;
};

/* Generate fresh keys inside this process; *ret is freed with att_keys_free. */
int att_keys_generate(struct att_keys **ret) KW_WUR;
/* NULL-safe; OpenSSL clears private key material on free. */
void att_keys_free(struct att_keys *k);

/* ---- binding ---- */

/*
 * runtime-data = {"nonce": nonce, "tee-pubkey": JWK(enc), "tee-sigkey":
 * JWK(sig), "config": config or {}}. config is copied (deep), not stolen.
 * *ret is a new reference.
 */
int att_runtime_data_build(const char *nonce, const struct att_keys *keys, const json_t *config,
    json_t **ret) KW_WUR;

/* report_data = SHA-384(JCS(runtime_data)) || 16 zero bytes. */
int att_report_data(const json_t *runtime_data, uint8_t ret[static ATT_REPORT_DATA_LEN]) KW_WUR;

/* ---- SEV-SNP evidence ---- */

/*
 * Evidence for the attest request. report is the 1184-byte report; ek is the
 * VCEK (or VLEK) certificate, DER; chain[0] the ASK/ASVK and chain[1] the ARK
 * (DER) when known, nchain = 0 or 2.
 */
struct att_evidence {
	uint8_t report[ATT_SNP_REPORT_LEN];
	uint8_t *ek;
	size_t ek_len;
	uint8_t *chain[2];
	size_t chain_len[2];
	size_t nchain;
	int ek_is_vlek;
	int emulated;
};

void att_evidence_free(struct att_evidence *ev);

/*
 * tee-evidence JSON: {"report": b64url, "vcek": b64url(DER), "chain": [ask,
 * ark]} ("chain" omitted when nchain = 0). *ret is a new reference.
 */
int att_evidence_to_json(const struct att_evidence *ev, json_t **ret) KW_WUR;

/* SNP extended-report certificate table (GHCB spec, MSG_REPORT_REQ). */
enum att_cert_kind { ATT_CERT_VCEK = 0, ATT_CERT_VLEK, ATT_CERT_ASK, ATT_CERT_ARK, ATT_CERT__N };

struct att_cert_view {
	const uint8_t *p; /* NULL when absent; points into the parsed buffer */
	size_t len;
};

struct att_snp_certs {
	struct att_cert_view c[ATT_CERT__N];
	size_t nentries; /* entries before the terminator, known or not */
};

/*
 * Parse a certificate table: entries {GUID[16], u32le offset, u32le length}
 * until an all-zero entry, then the certificates. GUIDs are compared in the
 * byte order the GUID string is written in (RFC 4122 order, as AMD's
 * sev-tool uuid_parse(), go-sev-guest and virtee/sev produce them). Every
 * entry must lie inside buf after the table and be non-empty; a known GUID
 * may appear once; unknown GUIDs are bounds-checked and skipped. At most
 * ATT_MAX_CERTTABLE_ENTRIES entries and ATT_MAX_AUXBLOB bytes. The views in
 * *ret point into buf.
 */
int att_snp_certtable_parse(const uint8_t *buf, size_t len, struct att_snp_certs *ret) KW_WUR;

/* The 16 wire bytes of the GUID of a known kind. */
const uint8_t *att_snp_cert_guid(enum att_cert_kind kind);

/*
 * Real SEV-SNP evidence through configfs-tsm: create a fresh entry under dir
 * (NULL = ATT_TSM_REPORT_DIR), write inblob, check provider "sev_guest",
 * read outblob (the report) and auxblob (certificate table), check that the
 * generation did not change underneath, remove the entry. Certificates are
 * taken from the table (DER or PEM, normalised to DER); without a VCEK/VLEK
 * in the table the result is KW_ERR_NOT_FOUND. KW_ERR_UNAVAILABLE when the
 * interface is missing.
 */
int att_tsm_snp_evidence(const char *dir, const uint8_t report_data[static ATT_REPORT_DATA_LEN],
    struct att_evidence **ret) KW_WUR;

/* ---- configfs-tsm (att_tsm.c): the kernel's report interface ---- */

#define ATT_TSM_REPORT_DIR "/sys/kernel/config/tsm/report"
#define ATT_TSM_MAX_PROVIDER 32

/* 1 when the configfs-tsm report directory exists under dir (NULL = default). */
int att_tsm_available(const char *dir);

/*
 * The provider of this guest's reports ("sev_guest", "tdx_guest"), read from
 * a fresh entry under dir (NULL = ATT_TSM_REPORT_DIR) that is removed again.
 * KW_ERR_UNAVAILABLE when the interface is missing, KW_ERR_IO,
 * KW_ERR_INVALID_FORMAT (a name longer than ATT_TSM_MAX_PROVIDER).
 */
int att_tsm_provider(const char *dir, char ret[static ATT_TSM_MAX_PROVIDER + 1]) KW_WUR;

struct att_tsm_report {
	uint8_t *out;        /* outblob (free()) */
	size_t out_len;
	uint8_t *aux;        /* auxblob, NULL when not asked for (free()) */
	size_t aux_len;
};

/*
 * One report: a fresh entry under dir (NULL = default), its provider must be
 * provider (else KW_ERR_UNSUPPORTED), inblob written, outblob (at most
 * max_out bytes) and, when max_aux > 0, auxblob read, the generation
 * unchanged in between (else KW_ERR_MISMATCH: someone else wrote to the
 * entry), the entry removed. KW_ERR_UNAVAILABLE when the interface is
 * missing, KW_ERR_IO, KW_ERR_TOO_LARGE. *ret (att_tsm_report_clear) is
 * written only on success.
 */
int att_tsm_report(const char *dir, const char *provider, const uint8_t inblob[static ATT_REPORT_DATA_LEN],
    size_t max_out, size_t max_aux, struct att_tsm_report *ret) KW_WUR;
void att_tsm_report_clear(struct att_tsm_report *rep);

/* ---- Intel TDX evidence (att_tdx.c) ---- */

#define ATT_TDX_MAX_QUOTE (64 * 1024)   /* the broker's cap (TDX_MAX_QUOTE) */

/*
 * A view of the 64-byte REPORT_DATA of a DCAP quote (v4, or v5 with a TD
 * report body), read through the bounded reader: TEE type TDX (0x81), the
 * version's body offset. KW_ERR_TRUNCATED, KW_ERR_UNSUPPORTED (not a TDX
 * quote v4/v5). Checks no signature: the broker does.
 */
int att_tdx_quote_report_data(const uint8_t *quote, size_t len, const uint8_t **ret) KW_WUR;

/*
 * A TD quote through configfs-tsm (provider "tdx_guest"; the kernel has the
 * quoting enclave sign it) whose REPORT_DATA is report_data (checked:
 * KW_ERR_MISMATCH otherwise). *ret (free()) written only on success.
 */
int att_tsm_tdx_quote(const char *dir, const uint8_t report_data[static ATT_REPORT_DATA_LEN],
    uint8_t **ret, size_t *ret_len) KW_WUR;

/* tee-evidence JSON for TDX: {"quote": b64url}. *ret is a new reference. */
int att_tdx_evidence_to_json(const uint8_t *quote, size_t len, json_t **ret) KW_WUR;

/* ---- SEV-SNP emulation (testing only) ---- */

struct att_emu_report_params {
	uint8_t report_data[ATT_REPORT_DATA_LEN];
	uint8_t measurement[ATT_MEASUREMENT_LEN];
	uint8_t chip_id[ATT_CHIP_ID_LEN];
	uint64_t tcb;   /* REPORTED = CURRENT = COMMITTED = LAUNCH TCB */
	int debug;      /* sets POLICY.DEBUG (bit 19) */
};

#define ATT_EMU_POLICY 0x30000ULL     /* SMT allowed (bit 16), reserved bit 17 = 1 */
#define ATT_EMU_POLICY_DEBUG (1ULL << 19)

/*
 * Build a version-3 ATTESTATION_REPORT with the given fields and sign bytes
 * 0x000..0x29F with vcek_key (EC P-384, ECDSA SHA-384; R and S little-endian
 * in 72-byte fields at 0x2A0 and 0x2E8).
 */
int att_emu_report_build(const struct att_emu_report_params *p, EVP_PKEY *vcek_key,
    uint8_t ret[static ATT_SNP_REPORT_LEN]) KW_WUR;

struct att_emu_opts {
	const char *dir;               /* made by scripts/mk-emu-chain.sh */
	const uint8_t *measurement;    /* 48 bytes or NULL (emu.json default) */
	const uint8_t *report_data;    /* 64 bytes or NULL: overrides the binding (negative tests) */
	int debug;
};

/*
 * Emulated evidence: reads emu.json, vcek.key, vcek.pem and cert_chain.pem
 * (ASK then ARK) from o->dir, builds and signs a report. Marks the evidence
 * emulated. Nothing produced here comes from a TEE.
 */
int att_emu_snp_evidence(const struct att_emu_opts *o, const uint8_t report_data[static ATT_REPORT_DATA_LEN],
    struct att_evidence **ret) KW_WUR;

/* ---- release: compact JWE, RSA-OAEP + A256CBC-HS512 ---- */

/*
 * Decrypt a compact JWE (five base64url parts) with the RSA private key.
 * The protected header must hold "alg":"RSA-OAEP" and "enc":"A256CBC-HS512"
 * and may hold a string "kid"; nothing else. The encrypted key must be one
 * RSA block that OAEP(SHA-1) decrypts to a 64-byte CEK; IV 16 bytes; tag 32
 * bytes (checked with CRYPTO_memcmp before any decryption); ciphertext a
 * non-empty multiple of 16. On success *ret_plain is the payload (non-empty)
 * and, when ret_kid is not NULL, *ret_kid a copy of the kid or NULL (free()).
 * KW_ERR_INVALID_FORMAT / KW_ERR_TOO_LARGE / KW_ERR_UNSUPPORTED for bad input,
 * KW_ERR_SIG_INVALID when the CEK or the tag does not check out.
 */
int att_jwe_decrypt(const char *jwe, size_t jwe_len, EVP_PKEY *rsa, struct kw_secret **ret_plain,
    char **ret_kid) KW_WUR;

/* ---- TEE-bound token and DPoP proofs (RFC 9449) ---- */

#define ATT_MAX_TOKEN KW_JWS_MAX  /* EAR token from /attest (compact JWS text): the broker's token cap */
#define ATT_MAX_DPOP_NONCE 512   /* DPoP-Nonce header value */
#define ATT_DPOP_JTI_BYTES 16

/*
 * A DPoP proof for one request: compact JWS signed with sig (the EC P-256
 * tee-sigkey) with protected header {"typ":"dpop+jwt","alg":"ES256",
 * "jwk":{public tee-sigkey: kty, crv, x, y}} and payload {"htm": htm,
 * "htu": htu, "iat": iat, "jti": b64url(16 fresh random bytes),
 * "ath": b64url(SHA-256(token)), "nonce": nonce} ("nonce" omitted when
 * nonce is NULL). htu must be the exact URL requested, without query or
 * fragment (KW_ERR_INVALID_ARG if it holds '?' or '#'). *ret is a new
 * string (free()).
 */
int att_dpop_proof(EVP_PKEY *sig, const char *htm, const char *htu, const char *token,
    const char *nonce, int64_t iat, char **ret) KW_WUR;

/*
 * 1 when s[0..n) is a usable DPoP nonce (RFC 9449: 1*NQCHAR, i.e. visible
 * ASCII except '"' and '\'), at most ATT_MAX_DPOP_NONCE bytes; else 0.
 */
int att_dpop_nonce_valid(const char *s, size_t n);

/*
 * 1 when a WWW-Authenticate header value is a DPoP challenge with
 * error="use_dpop_nonce" (scheme and parameter names case-insensitive,
 * quoted or token value), else 0. Only the first challenge of the value is
 * looked at when it is not DPoP.
 */
int att_www_auth_use_dpop_nonce(const char *value, size_t n);

/*
 * iat and exp (integers, exp > iat) from the payload of the token /attest
 * returned. The signature is NOT verified: the broker verifies its own
 * tokens; the client only reports the lifetime. KW_ERR_INVALID_FORMAT when
 * the token is not a compact JWS with those claims.
 */
int att_token_times(const char *token, size_t len, int64_t *ret_iat, int64_t *ret_exp) KW_WUR;

/* ---- configuration manifest (runtime-data "config") ---- */

/*
 * The workload's security-sensitive configuration, measured by the attester
 * and sent as runtime-data.config, so that it is bound into the evidence's
 * report data (GOVERNANCE rows 11, 12, 14). Format (docs/kwget.md):
 *   {"root-store": {"fingerprints": [hex64...], "digest": hex96},
 *    "tls": {"min_version", "cipher_suites", "groups", "signature_algorithms"},
 *    "crypto": {"rsa_bits", "ec_bits", "symmetric_bits"}}
 */
#define ATT_MAX_ROOT_CERTS 10000              /* certificate blocks read, duplicates included */
#define ATT_MAX_ROOT_BYTES (16 * 1024 * 1024) /* bytes read from the store, all files */
#define ATT_MAX_ROOT_DIRENTS 100000           /* entries looked at in a store directory */
#define ATT_MAX_TLS_CONF (1024 * 1024)        /* the OpenSSL configuration file */
#define ATT_MAX_CRYPTO_CONF 4096              /* the crypto declaration (JSON) */
#define ATT_CRYPTO_MAX_BITS 65536

/*
 * Measure a trust store: path is a PEM bundle file, or a directory whose
 * regular files (symlinks followed, subdirectories skipped) are read like an
 * OpenSSL CApath. In each file every PEM "CERTIFICATE", "X509 CERTIFICATE"
 * or "TRUSTED CERTIFICATE" block counts (other PEM blocks, such as CRLs, are
 * ignored); in a directory, files without any "-----BEGIN" are skipped. A
 * PEM block that does not decode, a "-----BEGIN" OpenSSL cannot read, or a
 * certificate block that is not exactly one DER certificate is
 * KW_ERR_INVALID_FORMAT. The fingerprint is SHA-256 over the certificate's
 * DER (for TRUSTED CERTIFICATE, the certificate without the trust
 * attributes). *ret = {"fingerprints": [64 lower-case hex, sorted ascending,
 * de-duplicated], "digest": 96 lower-case hex SHA-384 over the sorted
 * fingerprints, each as 64 hex characters and "\n"}. KW_ERR_NOT_FOUND when no
 * certificate was found, KW_ERR_TOO_LARGE beyond ATT_MAX_ROOT_CERTS blocks,
 * ATT_MAX_ROOT_BYTES or ATT_MAX_ROOT_DIRENTS, KW_ERR_IO when path (or a
 * regular file in the directory) cannot be read.
 */
int att_manifest_root_store(const char *path, json_t **ret) KW_WUR;

/*
 * Measure the TLS configuration. With file == NULL (section must be NULL),
 * the settings of a fresh SSL_CTX (TLS_client_method) of this process: the
 * library defaults plus whatever the process's own OpenSSL configuration
 * (OPENSSL_CONF, /etc/ssl/openssl.cnf) applies to every SSL_CTX. With a file
 * (an OpenSSL configuration, read with NCONF, at most ATT_MAX_TLS_CONF bytes,
 * no NUL bytes; .include works as in OpenSSL): follow openssl_conf ->
 * ssl_conf -> section (NULL = "system_default"; the name of an entry in the
 * ssl_conf section, as SSL_CTX_config() takes it) and apply its directives
 * with SSL_CONF_cmd (file syntax) to a throw-away SSL_CTX whose protocol
 * range and cipher lists were first reset to the library defaults. Certificate
 * and file directives (Certificate, VerifyCAFile, ...) are skipped; any
 * other directive OpenSSL rejects is KW_ERR_CONFIG, as is a file NCONF
 * cannot parse. A file without the openssl_conf -> ssl_conf ->
 * system_default chain configures nothing: the library defaults are
 * reported; a section named explicitly must exist (KW_ERR_NOT_FOUND).
 * *ret = {"min_version": "1.0"|"1.1"|"1.2"|"1.3" (or "ssl3"): the lowest
 * version enabled, where an unset minimum means the library default (1.2 at
 * security level 1 or more, where OpenSSL 3 refuses the SHA-1/MD5 handshakes
 * of older versions); "cipher_suites": the names of every TLS 1.3 suite and
 * TLS 1.2 cipher the configuration allows within the enabled versions, in
 * OpenSSL's preference order (CipherString expanded to concrete ciphers);
 * "groups" and "signature_algorithms": the names as configured (only when
 * the section sets Groups/Curves or SignatureAlgorithms)}.
 */
int att_manifest_tls(const char *file, const char *section, json_t **ret) KW_WUR;
/* The same for the configuration text buf[0..len) (file != NULL case). */
int att_manifest_tls_parse(const void *buf, size_t len, const char *section, json_t **ret) KW_WUR;

/*
 * The workload's crypto declaration: a JSON object with at least one of
 * "rsa_bits", "ec_bits", "symmetric_bits", each an integer 1..65536, and
 * nothing else (strict: unknown or duplicate members, other types, more than
 * ATT_MAX_CRYPTO_CONF bytes are errors). *ret is a new object with exactly
 * the members given.
 */
int att_manifest_crypto(const char *file, json_t **ret) KW_WUR;
int att_manifest_crypto_parse(const void *buf, size_t len, json_t **ret) KW_WUR;

struct att_manifest_opts {
	const char *root_store;    /* NULL: not measured */
	const char *tls_config;    /* NULL: this process's TLS defaults */
	const char *tls_section;   /* NULL: system_default (needs tls_config) */
	const char *crypto_config; /* NULL: none declared */
};

/*
 * The whole manifest: "tls" always, "root-store" and "crypto" when their
 * paths are given. On failure *reterr_what (when not NULL) names the part
 * that failed ("root-store", "tls" or "crypto"), else it is left alone.
 */
int att_manifest_build(const struct att_manifest_opts *o, json_t **ret,
    const char **reterr_what) KW_WUR;

/* ---- output encodings (att_encode.c) ---- */

enum att_key_format { ATT_KEY_RAW, ATT_KEY_HEX, ATT_KEY_BASE64 };

/*
 * k[0..n) (1 <= n <= ATT_MAX_PLAINTEXT) as raw bytes, lower-case hex, or
 * base64 (RFC 4648, with padding), no trailing newline, in a new secret
 * (*ret, kw_secret_free). Constant time in the key's bytes. 0,
 * KW_ERR_INVALID_ARG or KW_ERR_NOMEM.
 */
int att_key_encode(enum att_key_format fmt, const uint8_t *k, size_t n, struct kw_secret **ret) KW_WUR;

#endif
