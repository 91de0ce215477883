/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_BROKER_CONFIG_H
#define KW_BROKER_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "kw_err.h"
#include "kw_name.h"

/*
 * The broker's configuration file: one JSON object, every key documented in
 * docs/configuration.md. Unknown keys are an error, so typos never pass
 * silently. Relative paths are resolved against the file's directory.
 */

#define KW_CONFIG_MAX (256 * 1024)

#define AUDIT_ORIGIN_CFG_MAX 200   /* audit.origin (audit.h allows 256) */

struct kw_config {
	char *listen_addr;            /* "127.0.0.1" */
	uint16_t listen_port;         /* 8443 */
	char *tls_cert;
	char *tls_key;
	int tls_allow_12;             /* tls.min_version "1.2" */

	char *hsm_helper;
	char *hsm_module;
	char *hsm_token;
	char *hsm_pin_file;
	char *hsm_softhsm2_conf;
	unsigned int hsm_recycle_after;
	char *hsm_socket;             /* set: connect to a keywarden-hsm supervisor (own user);
	                               * module, pin_file, softhsm2_conf, helper and
	                               * recycle_after are then refused, token optional */
	unsigned int hsm_call_timeout;  /* seconds, default 5: release, sign, ... */
	unsigned int hsm_admin_timeout; /* seconds, default 30: generate, import, key_list, ... */
	unsigned int hsm_max_pending;   /* HSM calls outstanding, default 1024 */
	char *hsm_release_assembly;     /* "hsm", "helper" or NULL (the helper's default) */
	unsigned int hsm_key_poll_interval; /* seconds, default 30 (0 = off): token and
	                                     * seal keys re-read from the HSM (docs/ha.md) */

	size_t n_snp_chains;
	char **snp_chains;            /* AMD cert_chain bundles */
	size_t n_snp_test_roots;
	char **snp_test_roots;        /* emulation ARKs: trusted only when listed */

	int tdx_enabled;              /* a "tdx" section is present */
	size_t n_tdx_test_roots;
	char **tdx_test_roots;        /* "NOT INTEL" emulation roots: trusted only when listed */
	size_t n_nvgpu_test_roots;
	char **nvgpu_test_roots;      /* "NOT NVIDIA" GPU emulation roots: trusted only when listed */
	char *nvgpu_ocsp_url;         /* OCSP responder for GPU chains; NULL: no status check */
	unsigned int nvgpu_ocsp_timeout;     /* seconds per certificate */
	unsigned int nvgpu_ocsp_fail_open;   /* 1: an unanswered check passes with claim ocsp "unavailable" */
	char *tdx_collateral_mode;    /* "offline", "pcs" or "pccs" */
	char *tdx_collateral_dir;     /* offline: directory of QuoteCollateralV3 files;
	                               * pcs/pccs: the cache directory */
	char *tdx_pcs_url;            /* pcs/pccs: service root (https) */
	char *tdx_pcs_root_crl_url;   /* NULL: the service's default */
	char *tdx_pcs_ca_file;        /* NULL: the system store */
	char *tdx_pcs_proxy;          /* NULL: none */
	unsigned int tdx_pcs_timeout, tdx_pcs_refresh_interval, tdx_pcs_refresh_margin, tdx_pcs_retry;

	size_t n_tpm_ek_roots;
	char **tpm_ek_roots;          /* `tpm`: EK manufacturer CA PEM files; none: tpm disabled */
	size_t n_tpm_akcert_roots;
	char **tpm_akcert_roots;      /* AK CA certificate files (PEM or DER): tpm-akcert; none disables it */

	size_t n_cca_cpaks;
	char **cca_cpaks;             /* Arm CCA platform attestation keys (P-384 JWK files) */
	size_t n_cca_test_cpaks;
	char **cca_test_cpaks;        /* emulation CPAKs: trusted only when listed; none of both: cca disabled */

	char *public_url;             /* "https://host:port" workloads use (DPoP htu) */
	unsigned int nonce_ttl;       /* seconds, default 60 */
	unsigned int token_ttl;       /* seconds, default 300, at most 300 */
	char *token_issuer;           /* default: public_url */
	unsigned int dpop_iat_window; /* seconds, default 60 */
	unsigned int dpop_nonce_ttl;  /* seconds, default 300 */
	unsigned int workers;         /* appraisal threads, default 2 */
	size_t max_body;              /* bytes, default 65536 */
	size_t max_inflight;          /* appraisals queued or running, default 256 */
	size_t max_sessions;          /* each replay set (challenges; DPoP jti), default 100000 */
	size_t dpop_jti_per_key;      /* live DPoP jti values per token key, default 256 */
	size_t max_connections;       /* workload listener; 0 = derived from RLIMIT_NOFILE */
	size_t max_connections_per_address;   /* 0 = derived (IPv6 counted per /64) */
	unsigned int request_timeout; /* seconds for a request head and body, default 10 */
	char *log_level;              /* log.level (or log_level): error, warn, info (default), debug */
	char *log_format;             /* log.format: text, json, journal, auto (default) */


	int64_t policy_max_age;       /* lint: reference values older than this warn (seconds) */
	char *store_path;             /* SQLite database, default "keywarden.db" beside the config */
	enum kw_store_kind {
		KW_STORE_SQLITE = 0,      /* store.kind "sqlite" (default): store_path */
		KW_STORE_POSTGRESQL,      /* store.kind "postgresql": store_conninfo (docs/store.md) */
	} store_kind;
	char *store_conninfo;         /* libpq connection string; may hold a password: never logged */
	unsigned int store_pool;      /* PostgreSQL connections, default 4 */

	/* the audit log (docs/audit.md); origin: at most AUDIT_ORIGIN_CFG_MAX bytes */
	int audit_enabled;            /* default 1 */
	char *audit_path;             /* default: store_path */
	unsigned int audit_checkpoint_every;    /* records, default 1000 */
	unsigned int audit_checkpoint_interval; /* seconds, default 60 */
	char *audit_origin;           /* checkpoint origin, default "<public_url host>/audit" */
	int audit_shared;             /* store.kind postgresql and no audit.path: the log is in the database */
	unsigned int audit_lease;     /* seconds, default 10: the checkpoint lease (audit_shared) */
	uint8_t config_digest[32];    /* SHA-256 of the configuration's JCS (audit "start") */

	/* metrics (docs/operations.md): a listener of its own and/or the admin listener */
	char *metrics_listen_addr;    /* NULL: no metrics listener */
	uint16_t metrics_listen_port;
	int metrics_on_admin;         /* GET /metrics on the admin listener */
	int metrics_key_labels;       /* releases and denials labelled by key, not repository */

	/* admin listener (mutual TLS); disabled when admin_listen_addr is NULL */
	char *admin_listen_addr;
	uint16_t admin_listen_port;
	char *admin_cert;
	char *admin_key;
	char *admin_client_ca;
	enum kw_admin_identity {
		KW_ADMIN_ID_CN = 0,       /* exactly one subject CN (default) */
		KW_ADMIN_ID_SAN_DNS,      /* exactly one subjectAltName dNSName */
		KW_ADMIN_ID_SAN_EMAIL,    /* exactly one subjectAltName rfc822Name */
		KW_ADMIN_ID_SAN_URI,      /* exactly one subjectAltName URI */
	} admin_identity;
	unsigned int admin_max_intermediates;   /* CAs between the leaf and client_ca, default 0 */
	size_t n_admin_issuers;                 /* pinned issuers of the leaf (0: any from client_ca) */
	uint8_t (*admin_issuers)[32];           /* SHA-256 of each pinned issuer's DER */
	size_t admin_max_connections; /* default 32 */
	size_t n_grants;
	struct kw_grant {
		char *subject;            /* the admin identity (admin_identity says which name) */
		char *role;               /* "key-admin", "policy-admin", "auditor" */
		size_t n_repos;
		char **repos;             /* "*" = all */
	} *grants;
};

/*
 * Load and validate path. On failure *reterr_msg (static or in errbuf) says
 * which key is wrong; nothing is returned in *ret.
 */
int kw_config_load(const char *path, struct kw_config **ret, char *errbuf, size_t errlen) KW_WUR;
void kw_config_free(struct kw_config *c);


/* Names and resource paths: kw_name.h (one grammar for the whole tree). */


#endif
