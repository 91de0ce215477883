/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KWCTL_H
#define KWCTL_H

/*
 * kwctl internals shared by its source files:
 *   kwctl.c           main, command dispatch, messages
 *   kwctl_evidence.c  evidence verify (offline)
 *   kwctl_audit.c     audit verify, audit export (offline)
 *   kwctl_http.c      profile, connection options, one HTTPS request with mutual TLS
 *   kwctl_wrap.c      import wrapping (RSA-OAEP KEK, AES key wrap with padding)
 *   kwctl_admin.c     admin subcommands and their human output
 *   kwctl_rim.c       NVIDIA RIMs: rim verify, the verification of refval import-rim
 * See docs/kwctl.md.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <getopt.h>
#include <jansson.h>

#include "kw_complete.h"
#include "kw_err.h"
#include "kw_name.h"
#include "kw_secret.h"

/* Exit status (docs/kwctl.md "EXIT STATUS"). */
enum kwctl_exit {
	KWCTL_OK = 0,
	KWCTL_EFAIL = 1,      /* refused (other 4xx), unusable answer, local failure */
	KWCTL_EUSAGE = 2,     /* usage error, unreadable local file, bad profile */
	KWCTL_ENET = 3,       /* connection, TLS handshake (e.g. no client certificate) */
	KWCTL_ENOTFOUND = 4,  /* 404 */
	KWCTL_EDENIED = 5,    /* 403 */
	KWCTL_ECONFLICT = 6,  /* 409 */
	KWCTL_EUNAVAIL = 7,   /* 5xx */
	KWCTL_EWARNINGS = 8,  /* policy lint: the server reported warnings (a result, not an error) */
	KWCTL_EPOLDENY = 9,   /* policy explain: the policy denies the claims (a result) */
};

/* Caps. */
#define KWCTL_MAX_RESPONSE (1024 * 1024)  /* any response body */
#define KWCTL_MAX_PROFILE (64 * 1024)
#define KWCTL_MAX_DOCUMENT (256 * 1024)   /* policy / reference-value / claims file */
#define KWCTL_MAX_NAME KW_NAME_MAX
#define KWCTL_MAX_SECRET 4096             /* generic secret length (broker: 1..4096) */
#define KWCTL_MAX_URL 1024

/* "kwctl: <fmt>\n" on stderr; returns KWCTL_EUSAGE. */
int kwctl_usage_error(const char *fmt, ...) KW_PRINTF(1, 2);
/* "kwctl: <fmt>\n" on stderr; returns code. */
int kwctl_fail(int code, const char *fmt, ...) KW_PRINTF(2, 3);

/* ---- completion (kwctl --completion bash): from the tables that parse ---- */

/* The value name of a long option (the help's, e.g. "FILE", "a|b|c"). */
struct kwctl_optarg {
	const char *name;
	const char *arg;
};
/*
 * The flags of node path (kw_complete.h): every option of the NULL-ended
 * sets (each a getopt_long table ending in a zero row; a name given in two
 * sets once), with the value name from args for each that takes a value
 * (KW_ERR_INVALID_ARG when args lacks one).
 */
int kwctl_complete_opts(struct kw_complete *c, const char *path, const struct option *const *sets,
    const struct kwctl_optarg *args) KW_WUR;
/* The admin commands' nodes and flags, from their table (kwctl_admin.c). */
int kwctl_admin_complete(struct kw_complete *c) KW_WUR;
/* The subcommand words of admin group ("key", "policy", "refval", "audit") joined by sep. */
void kwctl_admin_subs(const char *group, const char *sep, char *buf, size_t len);
/* The option tables of the offline commands and of report. */
extern const struct option kwctl_evidence_opts[], kwctl_azure_opts[], kwctl_cca_opts[];
extern const struct kwctl_optarg kwctl_evidence_args[];
extern const struct option kwctl_audit_verify_opts[], kwctl_audit_export_opts[];
extern const struct kwctl_optarg kwctl_audit_args[];
extern const struct option kwctl_report_opts[];
extern const struct kwctl_optarg kwctl_report_args[];

/* Offline evidence verification (kwctl_evidence.c). argv[0] is "verify". */
int kwctl_cmd_evidence_verify(int argc, char **argv);
void kwctl_usage_evidence_verify(FILE *f);
struct kw_trust;
/*
 * Appraise tee-evidence with the table member for tee (no binding; for the
 * TPM types nonce_set 1 and the quote's expected extraData in nonce) and
 * print the verdict document; returns the exit status.
 */
int kwctl_evidence_appraise(const char *tee, const struct kw_trust *trust, const json_t *evidence,
    int64_t at, int allow_debug, const uint8_t *nonce, size_t nonce_len, int nonce_set);
/* The value of evidence verify's first --tee (before "--"), or NULL (kwctl_evidence.c). */
const char *kwctl_tee_arg(int argc, char **argv);
/* kwctl_azure.c: 1 when argv asks for --tee az-snp-vtpm or az-tdx-vtpm. */
int kwctl_azure_wanted(int argc, char **argv);
/* evidence verify for the Azure vTPM types; returns the exit status. */
int kwctl_evidence_verify_azure(int argc, char **argv);
/* kwctl_cca.c: 1 when argv asks for --tee cca; its evidence verify (exit status). */
int kwctl_cca_wanted(int argc, char **argv);
int kwctl_evidence_verify_cca(int argc, char **argv);

/*
 * kwctl_rim.c: read the RIM file and the root PEM, verify the RIM at at
 * (RFC 3339, NULL: now) and build its reference-value set document (*ret,
 * new). On failure prints one line "kwctl: <what>: <file>: refused: <why>"
 * (or the usage error) and returns the exit status; *ret untouched.
 */
int kwctl_rim_refval(const char *what, const char *file, const char *root, const char *at,
    json_t **ret);
/* kwctl rim verify (offline); argv[0] is "verify". */
int kwctl_cmd_rim(int argc, char **argv);
void kwctl_usage_rim(FILE *f);
extern const struct option kwctl_rim_opts[];
extern const struct kwctl_optarg kwctl_rim_args[];

/* Offline audit log commands (kwctl_audit.c). argv[0] is "verify" or "export". */
int kwctl_cmd_audit(int argc, char **argv);
/* The usage of audit sub ("verify", "export"; NULL: both). */
void kwctl_usage_audit(FILE *f, const char *sub);

/* ---- connection (kwctl_http.c) ---- */

/* Options given on the command line; NULL when absent. */
struct kwctl_conn_flags {
	const char *profile;
	const char *url;
	const char *cacert;
	const char *cert;
	const char *key;
};

/* Resolved connection: url without a trailing '/', absolute or cwd-relative paths. */
struct kwctl_conn {
	char *url;
	char *cacert;   /* NULL: the system CA store */
	char *cert;     /* NULL: no client certificate (the broker will refuse) */
	char *key;      /* NULL: the key is in the cert file */
};

/*
 * Combine the profile (--profile, else $KWCTL_PROFILE, else
 * $XDG_CONFIG_HOME/keywarden/kwctl.json or ~/.config/keywarden/kwctl.json when
 * it exists) with the flags, which win. Prints the reason and returns
 * KWCTL_EUSAGE on a missing/invalid profile or URL; 0 and *ret otherwise.
 */
int kwctl_conn_load(const struct kwctl_conn_flags *f, struct kwctl_conn *ret);
void kwctl_conn_free(struct kwctl_conn *c);

struct kwctl_resp {
	long status;
	char *body;     /* NUL-terminated, len bytes (malloc) */
	size_t len;
};

/*
 * One request: method "GET", "POST", "PUT" or "DELETE"; path starts with
 * "/admin/v1/" and is already validated (no encoding is done); body is
 * JSON text or NULL. TLS 1.3 only, peer and host verified, client
 * certificate from conn, no redirects, responses capped at
 * KWCTL_MAX_RESPONSE. Returns 0 and *ret for a 2xx; otherwise prints one
 * line "kwctl: <what>: ..." (the problem title and detail, escaped) and
 * returns the exit code for it (enum kwctl_exit).
 */
int kwctl_http(const struct kwctl_conn *conn, const char *what, const char *method,
    const char *path, const char *body, struct kwctl_resp *ret);
void kwctl_resp_free(struct kwctl_resp *r);
/* Exit code for an HTTP status >= 300. */
int kwctl_status_exit(long status);

/*
 * Make an untrusted string safe for one terminal line: printable ASCII is
 * kept except '\\', everything else becomes \xNN; at most max input bytes,
 * then "...". Always NUL-terminates out (outsz > 0).
 */
void kwctl_escape(const char *in, size_t max, char *out, size_t outsz);


/* ---- import wrapping (kwctl_wrap.c) ---- */

/*
 * Build the "wrapped" object {"kid","kek","value"} for value under the
 * import key document {"kid","jwk"} (an RSA public JWK of at least 3072
 * bits, else KW_ERR_UNSUPPORTED; a malformed document is
 * KW_ERR_INVALID_FORMAT): a fresh 32-byte KEK from RAND_priv_bytes, kek =
 * RSA-OAEP (SHA-1, MGF1-SHA-1) of it, value = AES-256 key wrap with
 * padding (RFC 5649) of value, PKCS#7-padded to a multiple of 16 first
 * when its length is not one. KEK and padded value live only in
 * kw_secret. *ret is a new object.
 */
int kwctl_wrap(const json_t *import_key, const struct kw_secret *value, json_t **ret) KW_WUR;

/* ---- admin commands (kwctl_admin.c) ---- */

int kwctl_cmd_whoami(int argc, char **argv);
int kwctl_cmd_key(int argc, char **argv);
int kwctl_cmd_policy(int argc, char **argv);   /* argv[0]: "policy" or "refval" */
int kwctl_cmd_changes(int argc, char **argv);
/* kwctl audit tail|show|proof|consistency: argv[0] is "audit". */
int kwctl_cmd_audit_admin(int argc, char **argv);
/* kwctl report (kwctl_report.c): argv[0] is "report". */
int kwctl_cmd_report(int argc, char **argv);

#endif
