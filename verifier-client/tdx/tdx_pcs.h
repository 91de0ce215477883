/* SPDX-License-Identifier: Apache-2.0 */
#ifndef TDX_PCS_H
#define TDX_PCS_H

/*
 * Intel TDX collateral fetched from Intel's Provisioning Certification
 * Service (PCS, API v4) or a local caching service (PCCS) at the same API,
 * verified with tdx_collateral_new(), cached in memory and on disk per
 * (FMSPC, PCK CA type), refreshed in the background before it expires.
 * docs/verifier-tdx.md "Collateral from Intel PCS or a PCCS" describes the
 * requests, the cache and the failure behaviour.
 *
 * This layer logs nothing above debug: results are return codes with a
 * static reason, and what happens in the background (fetches, refusals,
 * cache files) is reported through the on_event callback for the caller
 * to log. No libevent; one thread of its own (tdx_pcs_start).
 */

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "kw_err.h"
#include "tdx.h"

#define TDX_PCS_MAX_ENTRIES 64                       /* (FMSPC, CA) pairs held */
#define TDX_PCS_MAX_RESPONSE_DEFAULT (512 * 1024)    /* one response body */
#define TDX_PCS_MAX_RESPONSE_LIMIT (4 * 1024 * 1024) /* the most max_response may be */
#define TDX_PCS_MAX_HEADER (64 * 1024)               /* one issuer-chain header as sent (URL-encoded) */
#define TDX_PCS_MAX_URL 1024
#define TDX_PCS_MAX_FILE (4 * 1024 * 1024)           /* one cache file */
#define TDX_PCS_TIMEOUT_DEFAULT 10                   /* seconds per request */
#define TDX_PCS_REFRESH_INTERVAL_DEFAULT 86400       /* fetch again after a day */
#define TDX_PCS_REFRESH_MARGIN_DEFAULT (7 * 86400)   /* or a week before nextUpdate */
#define TDX_PCS_RETRY_DEFAULT 300                    /* after a failed fetch */

/* Intel's PCS and the root CRL location its certificates name. */
#define TDX_PCS_INTEL_URL "https://api.trustedservices.intel.com"
#define TDX_PCS_INTEL_ROOT_CRL_URL "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der"

/* The PCK CA that issued a platform's PCK certificate: which PCK CRL applies. */
enum tdx_pcs_ca {
	TDX_PCS_CA_PLATFORM = 0,
	TDX_PCS_CA_PROCESSOR = 1,
};
/* "platform" / "processor" (the PCS `ca` parameter). */
const char *tdx_pcs_ca_name(enum tdx_pcs_ca ca);

enum tdx_pcs_event_kind {
	TDX_PCS_EV_FETCHED = 1,        /* a fetched copy verified and is now served */
	TDX_PCS_EV_FETCH_FAILED,       /* network, HTTP, content type, size, format, signature, chain */
	TDX_PCS_EV_REFUSED,            /* verified, but not better than the copy kept (older, not valid now) */
	TDX_PCS_EV_CACHE_LOADED,       /* a cache file verified at start */
	TDX_PCS_EV_CACHE_REFUSED,      /* a cache file did not verify (or is unsafe): ignored */
	TDX_PCS_EV_CACHE_WRITE_FAILED, /* the copy is served from memory but not on disk */
};

/*
 * What the caller logs. Everything but detail is safe to log as is; detail
 * (e.g. "GET /tdx/certification/v4/tcb: HTTP 503", a libcurl error) may
 * contain peer-influenced text: log it escaped (kw_log does). Pointers are
 * valid during the callback only.
 */
struct tdx_pcs_event {
	enum tdx_pcs_event_kind kind;
	uint8_t fmspc[6];
	enum tdx_pcs_ca ca;
	int r;                 /* 0 or KW_ERR_* */
	const char *why;       /* static English sentence, never NULL */
	const char *detail;    /* may be NULL */
	int64_t not_after;     /* of the copy concerned; 0 when there is none */
	int background;        /* 1: the refresher thread; 0: a tdx_pcs_get caller or tdx_pcs_new */
};

struct tdx_pcs_config {
	/*
	 * Service root, https only: TDX_PCS_INTEL_URL or a PCCS such as
	 * "https://pccs.example:8081" (a trailing "/sgx/certification/v4" or
	 * "/tdx/certification/v4" is dropped). Requests go to
	 * /tdx/certification/v4/tcb?fmspc=, /tdx/certification/v4/qe/identity,
	 * /sgx/certification/v4/pckcrl?ca=&encoding=der below it.
	 */
	const char *url;
	/*
	 * Root CA CRL; NULL: TDX_PCS_INTEL_ROOT_CRL_URL for Intel's PCS, else
	 * <url>/sgx/certification/v4/rootcacrl (PCCS, hex in the body).
	 */
	const char *root_crl_url;
	const char *ca_file;            /* PEM CAs for the services' TLS; NULL: the system store */
	const char *proxy;              /* NULL or "": none (the environment is ignored) */
	const char *cache_dir;          /* NULL: memory only; created 0700 when missing */
	unsigned int timeout_s;         /* whole request, connect included; 0: default */
	unsigned int refresh_interval_s; /* 0: default */
	unsigned int refresh_margin_s;  /* 0: default */
	unsigned int retry_s;           /* 0: default */
	size_t max_response;            /* 0: default; at most TDX_PCS_MAX_RESPONSE_LIMIT */
	/* The refresher's clock (seconds since the epoch); NULL: the wall clock. Tests move it. */
	int64_t (*clock)(void *arg);
	void *clock_arg;
	/*
	 * Called outside every lock of this module, from any thread; NULL:
	 * nothing reported. It must return promptly and must not call
	 * tdx_pcs_get or tdx_pcs_free (the fetch it reports is still under way).
	 */
	void (*on_event)(void *arg, const struct tdx_pcs_event *ev);
	void *event_arg;
};

struct tdx_pcs;

/*
 * A collateral source. The trust is borrowed and must outlive *ret; the
 * configuration's strings are copied. With a cache_dir, every file
 * tdx-<fmspc>-<ca>.json in it is read and re-verified with
 * tdx_collateral_new (one event each); a file that does not verify, does not
 * match its name, is not a regular file or is writable by group or others is
 * ignored. Nothing is fetched here. Returns 0, KW_ERR_CONFIG (URL not https,
 * too long, bad sizes; *reterr_why says which), KW_ERR_IO (cache_dir not
 * usable), KW_ERR_NOMEM, KW_ERR_INTERNAL (libcurl or thread setup). *ret is
 * not written on failure.
 */
int tdx_pcs_new(const struct tdx_trust *trust, const struct tdx_pcs_config *cfg, struct tdx_pcs **ret,
    const char **reterr_why) KW_WUR;

/*
 * Start the background refresher: every held copy is fetched again when
 * refresh_interval_s has passed since it was fetched or refresh_margin_s
 * before it expires, whichever comes first; a failure keeps the copy and is
 * retried after retry_s. 0, KW_ERR_INVALID_ARG (started already),
 * KW_ERR_INTERNAL (no thread).
 */
int tdx_pcs_start(struct tdx_pcs *p) KW_WUR;

/* Make the refresher look at its schedule now (after the clock moved). NULL-safe. */
void tdx_pcs_kick(struct tdx_pcs *p);

/*
 * Collateral for (fmspc, ca) valid at `at` (issue dates / thisUpdate ≤ at <
 * every nextUpdate / notAfter): 0 and a new reference in *ret (release it
 * with tdx_collateral_free). A copy valid at `at` is returned without any
 * network wait. Otherwise — a cold cache, or a held copy not valid at `at`
 * — the caller's thread fetches synchronously (at most one fetch per pair
 * at a time: others wait for it; at most one attempt per retry_s: a recent
 * failure answers at once). KW_ERR_UNAVAILABLE when no copy valid at `at`
 * can be had (*reterr_why: why the last fetch failed, or that no copy is
 * valid then), KW_ERR_INVALID_ARG. Thread-safe.
 */
int tdx_pcs_get(struct tdx_pcs *p, const uint8_t fmspc[static 6], enum tdx_pcs_ca ca, int64_t at,
    struct tdx_collateral **ret, const char **reterr_why) KW_WUR;

/* Counters since tdx_pcs_new. */
struct tdx_pcs_stats {
	unsigned long hits, misses;        /* tdx_pcs_get answered from memory / not */
	unsigned long http_requests;       /* requests sent (4 per fetch when all succeed) */
	unsigned long fetches;             /* fetched copies installed */
	unsigned long fetch_failures;      /* fetches that failed */
	unsigned long refused;             /* verified copies not installed (older) */
	unsigned long refreshes;           /* fetches started by the refresher (any result) */
	unsigned long disk_loaded, disk_refused, disk_write_failures;
	size_t entries;                    /* (FMSPC, CA) pairs held */
};
void tdx_pcs_stats(struct tdx_pcs *p, struct tdx_pcs_stats *ret);

/* Stop the refresher (an ongoing request is aborted), drop every copy. NULL-safe. */
void tdx_pcs_free(struct tdx_pcs *p);

/*
 * The key a quote's collateral is held under: the quote is parsed and its
 * PCK chain verified to a trusted root (signatures only, cached in the
 * trust; the times are the verifier's business), then FMSPC and CA type are
 * read from it — so only a platform certified by a trusted root can make
 * this module fetch. Errors of tdx_quote_parse and the PCK chain, with a
 * static reason; outputs not written on failure.
 */
int tdx_pcs_quote_key(const struct tdx_trust *trust, const uint8_t *quote, size_t len,
    uint8_t ret_fmspc[static 6], enum tdx_pcs_ca *ret_ca, const char **reterr_why) KW_WUR;

/* ---- response handling, exposed for the tests and the fuzz target ---- */

/*
 * Percent-decode an issuer-chain header value as PCS sends it (PEM with
 * %0A, %20, %2B, ...): %HH sequences decode, other printable ASCII passes,
 * anything else is refused, and the result must be printable ASCII lines.
 * 0 and a new NUL-terminated string (free()) with its length;
 * KW_ERR_INVALID_FORMAT, KW_ERR_TOO_LARGE (decoded > 32 KiB), KW_ERR_NOMEM.
 */
int tdx_pcs_url_decode(const char *in, size_t len, char **ret, size_t *ret_len) KW_WUR;

/*
 * Cut the signed object out of a PCS body {"<member>": {...}, "signature":
 * "<128 hex>"} (member "tcbInfo" or "enclaveIdentity"): the body must be a
 * JSON object with exactly these two members; *ret_text / *ret_len is a view
 * into body of the member's value exactly as served (the bytes Intel
 * signed), shown to parse to the same value; the signature is copied with
 * its NUL. KW_ERR_INVALID_FORMAT / KW_ERR_TOO_LARGE with a reason.
 */
int tdx_pcs_cut_signed(const char *body, size_t len, const char *member, const char **ret_text,
    size_t *ret_len, char ret_sig[static 129], const char **reterr_why) KW_WUR;

/* One response: Content-Type (NULL: none), the issuer-chain header as sent (NULL: none), body. */
struct tdx_pcs_resp {
	const char *content_type;
	const char *chain;
	size_t chain_len;
	const uint8_t *body;
	size_t len;
};

/*
 * Build a QuoteCollateralV3 JSON object from the four responses (TCB Info,
 * QE identity, PCK CRL, Root CA CRL): content types checked (JSON for the
 * signed documents, application/pkix-crl for the PCK CRL, a DER CRL type —
 * or application/x-pem-file with hex, as PCCS serves it — for the root
 * CRL), chains URL-decoded, the signed texts cut as tdx_pcs_cut_signed,
 * CRLs hex-encoded. Verifies nothing cryptographic (tdx_collateral_new
 * does). 0 and a new object in *ret; KW_ERR_INVALID_FORMAT,
 * KW_ERR_TOO_LARGE, KW_ERR_NOMEM with a static reason.
 */
int tdx_pcs_assemble(const struct tdx_pcs_resp *tcb, const struct tdx_pcs_resp *qe,
    const struct tdx_pcs_resp *pck_crl, const struct tdx_pcs_resp *root_crl, json_t **ret,
    const char **reterr_why) KW_WUR;

#endif
