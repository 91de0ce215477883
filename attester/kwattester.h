/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KWATTESTER_H
#define KWATTESTER_H

/*
 * libkwattester: fetch a key from a keywarden broker with fresh evidence from
 * this machine's TEE (SEV-SNP or Intel TDX through configfs-tsm, a TPM 2.0,
 * an Azure confidential VM's vTPM). The stable public interface; see
 * docs/kwget.md, "LIBRARY".
 *
 *   struct kwa_ctx *c;
 *   uint8_t key[KWA_MAX_KEY];
 *   size_t n;
 *   if (kwa_new(&c) != KWA_OK) ...
 *   kwa_set_url(c, "https://kbs.example:8443");
 *   kwa_set_cacert(c, "/etc/keywarden/ca.pem");
 *   kwa_set_resource(c, "prod/disk/root");
 *   if (kwa_fetch(c, key, sizeof(key), &n) != KWA_OK)
 *           fprintf(stderr, "%s\n", kwa_errmsg(c));
 *   ... use key[0..n) ...; explicit_bzero(key, sizeof(key));
 *   kwa_free(c);
 *
 * Every function that can fail returns enum kwa_status (KWA_OK = 0). A setter
 * that fails leaves the previous value in place and sets the message
 * kwa_errmsg() returns. A context is used by one thread at a time; different
 * contexts may be used from different threads. Strings passed in are copied.
 * The library writes nothing to standard output or standard error; progress
 * goes to the callback given to kwa_set_log().
 */

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KWA_VERSION_MAJOR 0
#define KWA_VERSION_MINOR 1
#define KWA_VERSION_PATCH 0
#define KWA_VERSION "0.1.0"
/* (major << 16) | (minor << 8) | patch, compare with kwa_version() */
#define KWA_VERSION_NUMBER ((KWA_VERSION_MAJOR << 16) | (KWA_VERSION_MINOR << 8) | KWA_VERSION_PATCH)

#define KWA_MAX_KEY 16384   /* the largest key a broker releases, in bytes */

/*
 * Outcomes, one per failure class. The values are kwget's exit codes and will
 * not change; new classes get new numbers.
 */
enum kwa_status {
	KWA_OK = 0,
	KWA_ERR_USAGE = 1,       /* bad configuration: an argument or setting is invalid */
	KWA_ERR_UNREACHABLE = 2, /* network or TLS: connect, certificate, protocol version */
	KWA_ERR_DENIED = 3,      /* attestation denied or not authenticated (HTTP 401, 403) */
	KWA_ERR_NOT_FOUND = 4,   /* no such resource (HTTP 404) */
	KWA_ERR_SERVER = 5,      /* any other HTTP error, a malformed answer (also 429/502/503/504
	                          * when retries or the deadline are exhausted) */
	KWA_ERR_LOCAL = 6,       /* local failure: manifest, keys, evidence, decryption, memory */
	KWA_ERR_NO_TEE = 7,      /* evidence unavailable: no TEE found, or the one asked for is absent */
	KWA_ERR_BUFFER = 8,      /* kwa_fetch: the key is larger than the caller's buffer */
};

/* Log levels of the progress callback. */
enum kwa_log_level {
	KWA_LOG_WARN = 1,        /* something the operator should know (e.g. EMULATED evidence) */
	KWA_LOG_INFO = 2,        /* one line per step: nonce, evidence, token lifetime, retries */
};

struct kwa_ctx;              /* opaque */

/* The library's version as KWA_VERSION_NUMBER, and as a string ("0.1.0"). */
unsigned int kwa_version(void);
const char *kwa_version_string(void);

/* A short constant text for a status ("network or TLS error", ...); never NULL. */
const char *kwa_strerror(int status);

/*
 * A new context with defaults: TEE "auto", the system CA store, the
 * configuration manifest measured from this process's OpenSSL defaults,
 * 10 s to connect, 60 s per request, 5 retries within a 60 s deadline.
 * KWA_OK, or KWA_ERR_LOCAL (out of memory, libcurl cannot be initialised);
 * *ret is written only on success and freed with kwa_free().
 */
int kwa_new(struct kwa_ctx **ret);
/* Frees and wipes the context; NULL-safe. */
void kwa_free(struct kwa_ctx *ctx);

/*
 * The message of the last failure: one line of plain text without a trailing
 * newline, e.g. "resource failed: HTTP 404 Not Found: no such resource". ""
 * when nothing failed. Valid until the next call on ctx. Never holds a key,
 * token or proof; bytes from the broker are escaped (\xNN).
 */
const char *kwa_errmsg(const struct kwa_ctx *ctx);

/*
 * Progress: fn(arg, level, line) is called with one line of plain text (no
 * newline) per step, from the thread that runs kwa_fetch(). NULL turns it off
 * (the default). Lines never hold a key, token or proof.
 */
typedef void (*kwa_log_fn)(void *arg, int level, const char *line);
void kwa_set_log(struct kwa_ctx *ctx, kwa_log_fn fn, void *arg);

/*
 * The broker's base URL: https:// only, no query, fragment or white space, at
 * most 1792 characters; a trailing "/" is ignored. KWA_ERR_USAGE otherwise.
 */
int kwa_set_url(struct kwa_ctx *ctx, const char *url);
/* PEM CA certificate(s) to verify the broker; NULL: the system store. KWA_ERR_USAGE if unreadable. */
int kwa_set_cacert(struct kwa_ctx *ctx, const char *path);
/* The key: REPO/TYPE/TAG, each part 1-64 of [A-Za-z0-9._-], not "." or "..". KWA_ERR_USAGE otherwise. */
int kwa_set_resource(struct kwa_ctx *ctx, const char *resource);
/*
 * The evidence source: "auto" (the default: kwa_detect()), "snp", "tdx"
 * (configfs-tsm), "tpm", "az-snp-vtpm", "az-tdx-vtpm". KWA_ERR_USAGE for other names.
 */
int kwa_set_tee(struct kwa_ctx *ctx, const char *tee);
/*
 * TPM options (tee "tpm"): persistent EK and AK handles (0x81000000..0x81ffffff,
 * 0: create transient keys, the default) and the TCG event log to send
 * (NULL: the kernel's binary_bios_measurements when readable; no_event_log:
 * none).
 */
int kwa_set_tpm(struct kwa_ctx *ctx, uint32_t ek_handle, uint32_t ak_handle, const char *event_log,
    int no_event_log);
/*
 * TESTING ONLY: emulated evidence ("snp" or "tdx") signed by the test chain
 * in dir (scripts/mk-emu-chain.sh, scripts/mk-tdx-emu.sh); NULL turns it off.
 * A broker accepts it only when configured to trust that chain.
 */
int kwa_set_emulation(struct kwa_ctx *ctx, const char *tee, const char *dir);

/* Timeouts in milliseconds: connect (default 10000) and each whole request (default 60000), >= 1. */
int kwa_set_timeouts(struct kwa_ctx *ctx, unsigned int connect_ms, unsigned int request_ms);
/*
 * Retries of the steps that failed with a transient error (connect failure,
 * HTTP 429, 502, 503, 504): at most retries more attempts per request
 * (0 disables them; default 5), all within deadline_ms from the start of
 * kwa_fetch() (default 60000, at most 86400000). Delays are exponential with
 * full jitter (random in [0, min(cap, base * 2^attempt)]) and at least the
 * broker's Retry-After; when that would pass the deadline, the error is final.
 */
int kwa_set_retries(struct kwa_ctx *ctx, unsigned int retries, unsigned int deadline_ms);
/* The backoff: base (default 500) and cap (default 10000) in ms, 1 <= base <= cap. */
int kwa_set_backoff(struct kwa_ctx *ctx, unsigned int base_ms, unsigned int cap_ms);

/*
 * The configuration manifest bound into the evidence (docs/kwget.md,
 * CONFIGURATION MANIFEST): the root store (PEM bundle or CApath directory),
 * an OpenSSL configuration file and its ssl_conf section (NULL:
 * "system_default"), a crypto declaration (JSON). NULL leaves an item out
 * (the TLS item then describes this process's OpenSSL defaults).
 * kwa_set_manifest_enabled(ctx, 0) sends an empty manifest ("config": {}).
 */
int kwa_set_manifest(struct kwa_ctx *ctx, const char *root_store, const char *tls_config,
    const char *tls_section, const char *crypto_config);
int kwa_set_manifest_enabled(struct kwa_ctx *ctx, int enabled);

/*
 * Run the flow: measure the manifest, make TEE keys, get a nonce, send
 * evidence, get a token, fetch and decrypt the key into buf[0..cap). On
 * KWA_OK *ret_len is the key's length. On any failure buf[0..cap) is wiped
 * (zeroed), *ret_len is not written and kwa_errmsg() says why. May be called
 * again on the same context (a fresh run).
 */
int kwa_fetch(struct kwa_ctx *ctx, uint8_t *buf, size_t cap, size_t *ret_len);

/* The TEE kwa_fetch() used in its last run ("snp", "tdx", "tpm", ...), or NULL. */
const char *kwa_tee(const struct kwa_ctx *ctx);

/*
 * Auto-detection, as "auto" does it: configfs-tsm providers (sev_guest:
 * "snp", tdx_guest: "tdx") first, then a TPM: an Azure vTPM ("az-snp-vtpm",
 * "az-tdx-vtpm") when its NV index 0x01400001 holds an HCL report, else "tpm".
 * KWA_OK with *ret_tee a static string, or KWA_ERR_NO_TEE (nothing found).
 * report, when not NULL, receives one line per thing found (see kwget
 * --detect), at most report_cap bytes with a terminating NUL.
 */
int kwa_detect(const char **ret_tee, char *report, size_t report_cap);

#ifdef __cplusplus
}
#endif

#endif /* KWATTESTER_H */
