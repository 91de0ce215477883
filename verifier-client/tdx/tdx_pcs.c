/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TDX collateral from Intel PCS or a PCCS (API v4): fetch with libcurl,
 * assemble a QuoteCollateralV3 object from the responses (the signed
 * tcbInfo / enclaveIdentity texts cut from the bodies as served, the issuer
 * chains from the headers), verify it with tdx_collateral_new, hold the
 * result per (FMSPC, CA) in memory and on disk, and refresh it from a
 * thread of its own. This is the one file below broker/ that uses libcurl
 * (scripts/checksrc.sh).
 *
 * Locking: one mutex guards the table of entries and the counters. No lock
 * is held during network or disk I/O: an entry being fetched is marked
 * busy (one fetch per entry at a time; others wait on `done`), and entries
 * in use by a caller are pinned so that they are never recycled under it.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/x509.h>

#include "kw_json.h"
#include "kw_log.h"
#include "kw_util.h"
#include "tdx_int.h"
#include "tdx_pcs.h"

#define FAIL(code, text) do { r = (code); w = (text); goto out; } while (0)

#define PCS_WAIT_SLACK 5            /* seconds a waiter allows beyond a fetch's four timeouts */
#define PCS_IDLE_WAIT 60            /* the refresher looks at its schedule at least this often */
#define PCS_BODY_START (16 * 1024)  /* first allocation of a response body */
#define PCS_DETAIL 256

static const char *const ca_names[] = { "platform", "processor" };

const char *
tdx_pcs_ca_name(enum tdx_pcs_ca ca)
{
	return ca == TDX_PCS_CA_PROCESSOR ? ca_names[1] : ca_names[0];
}

/* ---- response handling (no I/O; the fuzz target drives it) ---- */

/* Content-Type equals want (case-insensitive), optionally followed by parameters. */
static int
ctype_is(const char *ct, const char *want)
{
	size_t n = strlen(want);

	if (ct == NULL || strncasecmp(ct, want, n) != 0)
		return 0;
	ct += n;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return *ct == '\0' || *ct == ';';
}

/* One byte from two hex digits (either case): 0 or -1. */
static int
hex_byte(const char *two, uint8_t *ret)
{
	char buf[3] = { two[0], two[1], '\0' };

	return kw_hex_decode(buf, ret, 1) == 0 ? 0 : -1;
}

int
tdx_pcs_url_decode(const char *in, size_t len, char **ret, size_t *ret_len)
{
	char *out;
	size_t o = 0;

	if (in == NULL || ret == NULL || ret_len == NULL)
		return KW_ERR_INVALID_ARG;
	if (len == 0)
		return KW_ERR_INVALID_FORMAT;
	if ((out = malloc((len < TDX_MAX_CHAIN_PEM ? len : TDX_MAX_CHAIN_PEM) + 1)) == NULL)
		return KW_ERR_NOMEM;
	for (size_t i = 0; i < len; i++) {
		int c = (unsigned char)in[i];
		uint8_t b;

		if (c == '%') {
			if (len - i < 3 || hex_byte(in + i + 1, &b) != 0)
				goto bad;
			c = b;
			i += 2;
		} else if (c < 0x21 || c > 0x7e) {
			goto bad;      /* raw space, control or non-ASCII: not as PCS encodes */
		}
		if (c != '\n' && c != '\r' && (c < 0x20 || c > 0x7e))
			goto bad;      /* PEM is printable ASCII lines */
		if (o == TDX_MAX_CHAIN_PEM) {
			free(out);
			return KW_ERR_TOO_LARGE;
		}
		out[o++] = (char)c;
	}
	out[o] = '\0';
	*ret = out;
	*ret_len = o;
	return 0;
bad:
	free(out);
	return KW_ERR_INVALID_FORMAT;
}

/*
 * A byte-span scanner for JSON that kw_json_parse has already accepted: it
 * only has to find where values begin and end, never to judge them, and it
 * stays inside its bounds on any input (the fuzz target feeds it).
 */
struct scan {
	const char *s;
	size_t n, i;
};

static void
sc_ws(struct scan *sc)
{
	while (sc->i < sc->n && (sc->s[sc->i] == ' ' || sc->s[sc->i] == '\t' || sc->s[sc->i] == '\n' ||
	    sc->s[sc->i] == '\r'))
		sc->i++;
}

static int
sc_string(struct scan *sc)
{
	if (sc->i >= sc->n || sc->s[sc->i] != '"')
		return -1;
	for (sc->i++; sc->i < sc->n; sc->i++) {
		unsigned char c = (unsigned char)sc->s[sc->i];

		if (c == '"') {
			sc->i++;
			return 0;
		}
		if (c < 0x20)
			return -1;
		if (c == '\\' && ++sc->i == sc->n)
			return -1;    /* the escaped byte is skipped; \uXXXX's digits are plain bytes */
	}
	return -1;
}

static int
sc_value(struct scan *sc, int depth)
{
	size_t start;
	char open, close;

	if (depth > 64)
		return -1;
	sc_ws(sc);
	if (sc->i >= sc->n)
		return -1;
	open = sc->s[sc->i];
	if (open == '"')
		return sc_string(sc);
	if (open == '{' || open == '[') {
		close = open == '{' ? '}' : ']';
		sc->i++;
		sc_ws(sc);
		if (sc->i < sc->n && sc->s[sc->i] == close) {
			sc->i++;
			return 0;
		}
		for (;;) {
			if (open == '{') {
				if (sc_string(sc) != 0)
					return -1;
				sc_ws(sc);
				if (sc->i >= sc->n || sc->s[sc->i] != ':')
					return -1;
				sc->i++;
			}
			if (sc_value(sc, depth + 1) != 0)
				return -1;
			sc_ws(sc);
			if (sc->i >= sc->n)
				return -1;
			if (sc->s[sc->i] == close) {
				sc->i++;
				return 0;
			}
			if (sc->s[sc->i] != ',')
				return -1;
			sc->i++;
			sc_ws(sc);
		}
	}
	start = sc->i;
	while (sc->i < sc->n && (isalnum((unsigned char)sc->s[sc->i]) || sc->s[sc->i] == '-' ||
	    sc->s[sc->i] == '+' || sc->s[sc->i] == '.'))
		sc->i++;
	return sc->i > start ? 0 : -1;
}

/* The span of the top-level member whose raw (unescaped) name is `member`. */
static int
find_member(const char *s, size_t n, const char *member, size_t *ret_off, size_t *ret_len)
{
	struct scan sc = { s, n, 0 };
	size_t mlen = strlen(member), found = 0, off = 0, vlen = 0;

	sc_ws(&sc);
	if (sc.i >= n || s[sc.i] != '{')
		return -1;
	sc.i++;
	for (;;) {
		size_t k, klen, v;

		sc_ws(&sc);
		k = sc.i + 1;
		if (sc_string(&sc) != 0)
			return -1;
		klen = sc.i - k - 1;
		sc_ws(&sc);
		if (sc.i >= n || s[sc.i] != ':')
			return -1;
		sc.i++;
		sc_ws(&sc);
		v = sc.i;
		if (sc_value(&sc, 1) != 0)
			return -1;
		if (klen == mlen && memcmp(s + k, member, mlen) == 0) {
			found++;
			off = v;
			vlen = sc.i - v;
		}
		sc_ws(&sc);
		if (sc.i >= n)
			return -1;
		if (s[sc.i] == '}')
			break;
		if (s[sc.i] != ',')
			return -1;
		sc.i++;
	}
	sc.i++;
	sc_ws(&sc);
	if (sc.i != n || found != 1)
		return -1;
	*ret_off = off;
	*ret_len = vlen;
	return 0;
}

int
tdx_pcs_cut_signed(const char *body, size_t len, const char *member, const char **ret_text,
    size_t *ret_len, char ret_sig[static 129], const char **reterr_why)
{
	json_t *doc = NULL, *again = NULL;
	const json_t *val, *sig;
	const char *w = "invalid arguments", *sigs;
	uint8_t rs[64];
	size_t off, vlen;
	int r = KW_ERR_INVALID_ARG;

	if (body == NULL || member == NULL || ret_text == NULL || ret_len == NULL)
		goto out;
	if (len > TDX_PCS_MAX_RESPONSE_LIMIT)
		FAIL(KW_ERR_TOO_LARGE, "PCS response body too large");
	if ((r = kw_json_parse(body, len, TDX_PCS_MAX_RESPONSE_LIMIT, &doc)) != 0)
		FAIL(r == KW_ERR_NOMEM ? r : KW_ERR_INVALID_FORMAT, "PCS response body is not a JSON object");
	val = json_object_get(doc, member);
	sig = json_object_get(doc, "signature");
	if (json_object_size(doc) != 2 || !json_is_object(val) || !json_is_string(sig))
		FAIL(KW_ERR_INVALID_FORMAT, "PCS response body is not {signed object, \"signature\"}");
	sigs = json_string_value(sig);
	if (kw_hex_decode(sigs, rs, sizeof(rs)) != 0)    /* r ‖ s: 64 bytes */
		FAIL(KW_ERR_INVALID_FORMAT, "PCS response signature is not 128 hex digits");
	/* The exact bytes: located by the scanner, proven to be that member by reparsing. */
	if (find_member(body, len, member, &off, &vlen) != 0)
		FAIL(KW_ERR_INVALID_FORMAT, "PCS response signed object cannot be located in the body");
	if (vlen > TDX_MAX_SIGNED_JSON)
		FAIL(KW_ERR_TOO_LARGE, "PCS response signed object too large");
	if (kw_json_parse(body + off, vlen, TDX_MAX_SIGNED_JSON, &again) != 0 || !json_equal(again, val))
		FAIL(KW_ERR_INVALID_FORMAT, "PCS response signed object cannot be located in the body");
	*ret_text = body + off;
	*ret_len = vlen;
	memcpy(ret_sig, sigs, 129);
	r = 0;
out:
	json_decref(again);
	json_decref(doc);
	if (r != 0 && reterr_why != NULL)
		*reterr_why = w;
	return r;
}

static int
set_text(json_t *o, const char *key, const char *s, size_t len)
{
	json_t *v = json_stringn(s, len);

	if (v == NULL)
		return KW_ERR_NOMEM;
	return json_object_set_new(o, key, v) == 0 ? 0 : KW_ERR_NOMEM;
}

static int
set_hex(json_t *o, const char *key, const uint8_t *b, size_t len)
{
	char *hex = NULL;
	int r;

	if ((r = kw_hex_encode(b, len, &hex)) != 0)
		return r;
	r = set_text(o, key, hex, 2 * len);
	free(hex);
	return r;
}

/* A response's issuer chain header into o[key] as PEM. */
static int
set_chain(json_t *o, const char *key, const struct tdx_pcs_resp *rs)
{
	char *pem = NULL;
	size_t len = 0;
	int r;

	if (rs->chain == NULL)
		return KW_ERR_INVALID_FORMAT;
	if (rs->chain_len > TDX_PCS_MAX_HEADER)
		return KW_ERR_TOO_LARGE;
	if ((r = tdx_pcs_url_decode(rs->chain, rs->chain_len, &pem, &len)) != 0)
		return r;
	r = set_text(o, key, pem, len);
	free(pem);
	return r;
}

/* A signed document's response into o[text_key], o[sig_key]. */
static int
set_signed(json_t *o, const struct tdx_pcs_resp *rs, const char *member, const char *text_key,
    const char *sig_key, const char **why)
{
	const char *text;
	char sig[129];
	size_t len;
	int r;

	if ((r = tdx_pcs_cut_signed((const char *)rs->body, rs->len, member, &text, &len, sig, why)) != 0)
		return r;
	if ((r = set_text(o, text_key, text, len)) != 0 || (r = set_text(o, sig_key, sig, 128)) != 0)
		*why = "out of memory";
	return r;
}

/* A DER CRL body: not empty, a SEQUENCE, within the verifier's cap. */
static int
crl_der_ok(const uint8_t *b, size_t len)
{
	if (len == 0 || b == NULL || b[0] != 0x30)
		return KW_ERR_INVALID_FORMAT;
	return len > TDX_MAX_CRL_DER ? KW_ERR_TOO_LARGE : 0;
}

/* The root CA CRL: DER as a file server sends it, or hex text as PCCS's rootcacrl does. */
static int
set_root_crl(json_t *o, const struct tdx_pcs_resp *rs, const char **why)
{
	uint8_t *der = NULL;
	char *hex = NULL;
	size_t len = rs->len, n;
	int r;

	if (ctype_is(rs->content_type, "application/pkix-crl") ||
	    ctype_is(rs->content_type, "application/x-pkcs7-crl") ||
	    ctype_is(rs->content_type, "application/octet-stream")) {
		if ((r = crl_der_ok(rs->body, rs->len)) != 0) {
			*why = "Root CA CRL response is not a DER CRL";
			return r;
		}
		return set_hex(o, "root_ca_crl", rs->body, rs->len);
	}
	if (!ctype_is(rs->content_type, "application/x-pem-file")) {
		*why = "Root CA CRL response has an unexpected content type";
		return KW_ERR_INVALID_FORMAT;
	}
	while (len > 0 && (rs->body[len - 1] == '\n' || rs->body[len - 1] == '\r'))
		len--;
	*why = "Root CA CRL response is not hex of a DER CRL";
	if (len == 0 || len % 2 != 0)
		return KW_ERR_INVALID_FORMAT;
	n = len / 2;
	if (n > TDX_MAX_CRL_DER)
		return KW_ERR_TOO_LARGE;
	if ((hex = malloc(len + 1)) == NULL || (der = malloc(n)) == NULL) {
		r = KW_ERR_NOMEM;
		goto out;
	}
	memcpy(hex, rs->body, len);    /* the body is not NUL-terminated */
	hex[len] = '\0';
	if ((r = kw_hex_decode(hex, der, n)) != 0)
		goto out;
	if ((r = crl_der_ok(der, n)) == 0)
		r = set_hex(o, "root_ca_crl", der, n);
out:
	free(hex);
	free(der);
	return r;
}

/* The two signed documents: TCB Info, then QE identity. */
static const struct signed_doc {
	const char *member, *text_key, *sig_key, *chain_key, *ctype_why, *chain_why;
} signed_docs[] = {
	{ "tcbInfo", "tcb_info", "tcb_info_signature", "tcb_info_issuer_chain",
	  "TCB Info response is not application/json",
	  "TCB Info response has no valid TCB-Info-Issuer-Chain header" },
	{ "enclaveIdentity", "qe_identity", "qe_identity_signature", "qe_identity_issuer_chain",
	  "QE identity response is not application/json",
	  "QE identity response has no valid SGX-Enclave-Identity-Issuer-Chain header" },
};

int
tdx_pcs_assemble(const struct tdx_pcs_resp *tcb, const struct tdx_pcs_resp *qe,
    const struct tdx_pcs_resp *pck_crl, const struct tdx_pcs_resp *root_crl, json_t **ret,
    const char **reterr_why)
{
	json_t *o = NULL;
	const char *w = "invalid arguments";
	int r = KW_ERR_INVALID_ARG;

	if (tcb == NULL || qe == NULL || pck_crl == NULL || root_crl == NULL || ret == NULL)
		goto out;
	if ((o = json_object()) == NULL)
		FAIL(KW_ERR_NOMEM, "out of memory");

	for (size_t i = 0; i < KW_ARRAY_SIZE(signed_docs); i++) {
		const struct signed_doc *sd = &signed_docs[i];
		const struct tdx_pcs_resp *rs = i == 0 ? tcb : qe;

		if (!ctype_is(rs->content_type, "application/json"))
			FAIL(KW_ERR_INVALID_FORMAT, sd->ctype_why);
		if ((r = set_signed(o, rs, sd->member, sd->text_key, sd->sig_key, &w)) != 0)
			goto out;
		if ((r = set_chain(o, sd->chain_key, rs)) != 0)
			FAIL(r, sd->chain_why);
	}

	if (!ctype_is(pck_crl->content_type, "application/pkix-crl"))
		FAIL(KW_ERR_INVALID_FORMAT, "PCK CRL response is not application/pkix-crl");
	if ((r = crl_der_ok(pck_crl->body, pck_crl->len)) != 0)
		FAIL(r, "PCK CRL response is not a DER CRL");
	if ((r = set_hex(o, "pck_crl", pck_crl->body, pck_crl->len)) != 0)
		FAIL(r, "out of memory");
	if ((r = set_chain(o, "pck_crl_issuer_chain", pck_crl)) != 0)
		FAIL(r, "PCK CRL response has no valid SGX-PCK-CRL-Issuer-Chain header");

	if ((r = set_root_crl(o, root_crl, &w)) != 0)
		goto out;
	*ret = o;
	o = NULL;    /* transferred */
	r = 0;
out:
	json_decref(o);
	if (r != 0 && reterr_why != NULL)
		*reterr_why = r == KW_ERR_NOMEM ? "out of memory" : w;
	return r;
}

/* ---- the source ---- */

struct pcs_entry {
	int used;
	uint8_t fmspc[6];
	enum tdx_pcs_ca ca;
	struct tdx_collateral *c;           /* the copy served, or NULL */
	struct tdx_collateral_info info;    /* of c */
	int64_t fetched_at;                 /* clock time c was fetched (or its file written) */
	int64_t next_refresh;               /* clock time the refresher fetches again (with c only) */
	int64_t last_fail;                  /* clock time of the last failed or refused fetch, 0: none */
	int last_r;                         /* its code (0 after a success) */
	const char *last_why;               /* its static reason */
	int busy;                           /* a fetch (and its cache write) is under way */
	int pins;                           /* tdx_pcs_get calls using this entry */
	unsigned long gen;                  /* fetches completed */
	unsigned long last_use;             /* LRU stamp */
};

struct tdx_pcs {
	const struct tdx_trust *trust;      /* borrowed */
	char *base, *root_url, *ca_file, *proxy, *cache_dir;
	unsigned int timeout_s, interval_s, margin_s, retry_s;
	size_t max_response;
	int64_t (*clock)(void *arg);
	void *clock_arg;
	void (*on_event)(void *arg, const struct tdx_pcs_event *ev);
	void *event_arg;

	pthread_mutex_t lock;
	pthread_cond_t done;                /* a fetch completed (CLOCK_MONOTONIC) */
	pthread_cond_t wake;                /* the refresher's schedule changed (CLOCK_MONOTONIC) */
	pthread_t thread;
	int started, kicked;
	atomic_int stop;
	atomic_ulong http_requests;
	struct tdx_pcs_stats st;            /* under lock, but http_requests */
	unsigned long tick;
	struct pcs_entry e[TDX_PCS_MAX_ENTRIES];
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static int curl_ok;

static void
curl_init_once(void)
{
	/* Process-wide and never undone: other users in the process may rely on it. */
	curl_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

static int64_t
pcs_now(const struct tdx_pcs *p)
{
	return p->clock != NULL ? p->clock(p->clock_arg) : kw_time_now();
}

static int
valid_at(const struct tdx_collateral_info *i, int64_t at)
{
	return at >= i->not_before && at < i->not_after;
}

static void
emit(const struct tdx_pcs *p, const struct tdx_pcs_event *ev)
{
	if (p->on_event != NULL)
		p->on_event(p->event_arg, ev);
}

static void
event_init(struct tdx_pcs_event *ev, enum tdx_pcs_event_kind kind, const uint8_t fmspc[static 6],
    enum tdx_pcs_ca ca, int background)
{
	memset(ev, 0, sizeof(*ev));
	ev->kind = kind;
	memcpy(ev->fmspc, fmspc, 6);
	ev->ca = ca;
	ev->why = "";
	ev->background = background;
}

static void
deadline_in(struct timespec *ts, unsigned int seconds)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += (time_t)seconds;
}

static int
cond_init_monotonic(pthread_cond_t *c)
{
	pthread_condattr_t a;
	int r;

	if (pthread_condattr_init(&a) != 0)
		return -1;
	r = pthread_condattr_setclock(&a, CLOCK_MONOTONIC) == 0 && pthread_cond_init(c, &a) == 0 ? 0 : -1;
	pthread_condattr_destroy(&a);
	return r;
}

/* ---- HTTP ---- */

struct http_resp {
	uint8_t *body;
	size_t len, cap, max;
	int too_large;
	const char *want;        /* the issuer-chain header to keep, or NULL */
	char *chain;
	size_t chain_len;
	int chain_bad;           /* repeated or too large */
	char ctype[128];
};

static void
http_resp_reset(struct http_resp *rs, const char *want, size_t max)
{
	free(rs->body);
	free(rs->chain);
	memset(rs, 0, sizeof(*rs));
	rs->want = want;
	rs->max = max;
}

/* Room for n more body bytes within max: 0, or -1 (too large, or no memory). */
static int
body_room(struct http_resp *rs, size_t n)
{
	size_t want = rs->len + n, cap = rs->cap != 0 ? rs->cap : PCS_BODY_START;
	uint8_t *b;

	if (n > rs->max || want > rs->max) {
		rs->too_large = 1;
		return -1;
	}
	if (want <= rs->cap)
		return 0;
	while (cap < want)
		cap = cap > rs->max / 2 ? rs->max : 2 * cap;
	if ((b = realloc(rs->body, cap)) == NULL)
		return -1;
	rs->body = b;
	rs->cap = cap;
	return 0;
}

static size_t
on_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct http_resp *rs = arg;

	if (body_room(rs, nmemb) != 0)
		return 0;            /* aborts the transfer */
	memcpy(rs->body + rs->len, ptr, nmemb);    /* size is 1 (libcurl's contract) */
	rs->len += nmemb;
	return size * nmemb;
}

static size_t
on_header(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct http_resp *rs = arg;
	size_t n = size * nmemb, nl;
	const char *v;

	if (n >= 5 && memcmp(ptr, "HTTP/", 5) == 0) {
		/* a new response (after a 1xx): forget what the previous one said */
		free(rs->chain);
		rs->chain = NULL;
		rs->chain_len = 0;
		rs->chain_bad = 0;
		return n;
	}
	if (rs->want == NULL || (nl = strlen(rs->want)) >= n || strncasecmp(ptr, rs->want, nl) != 0 ||
	    ptr[nl] != ':')
		return n;
	v = ptr + nl + 1;
	n -= nl + 1;
	while (n > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		n--;
	}
	while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	if (rs->chain != NULL || n > TDX_PCS_MAX_HEADER) {
		rs->chain_bad = 1;
		return size * nmemb;
	}
	if ((rs->chain = malloc(n + 1)) == NULL)
		return 0;
	memcpy(rs->chain, v, n);
	rs->chain[n] = '\0';
	rs->chain_len = n;
	return size * nmemb;
}

static int
on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	const struct tdx_pcs *p = arg;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return atomic_load(&p->stop) ? 1 : 0;    /* non-zero aborts: tdx_pcs_free is waiting */
}

static CURL *
http_handle(struct tdx_pcs *p, char *errbuf)
{
	CURL *c = curl_easy_init();
	long ms = (long)p->timeout_s * 1000;

	if (c == NULL)
		return NULL;
	if (curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https") != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2) != CURLE_OK ||
	    (p->ca_file != NULL && curl_easy_setopt(c, CURLOPT_CAINFO, p->ca_file) != CURLE_OK) ||
	    curl_easy_setopt(c, CURLOPT_PROXY, p->proxy != NULL ? p->proxy : "") != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, ms) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, ms) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)p->max_response) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_USERAGENT, "keywarden-tdx-pcs") != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_XFERINFODATA, p) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf) != CURLE_OK) {
		curl_easy_cleanup(c);
		return NULL;
	}
	return c;
}

/* One GET: HTTP 200 within the caps, headers and content type collected in rs. */
static int
http_get(struct tdx_pcs *p, CURL *c, char *errbuf, const char *url, struct http_resp *rs, char *detail,
    const char **why)
{
	CURLcode cr;
	long status = 0;
	char *ct = NULL;

	errbuf[0] = '\0';
	if (curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_WRITEDATA, rs) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_HEADERDATA, rs) != CURLE_OK) {
		*why = "cannot set up the request";
		return KW_ERR_INTERNAL;
	}
	atomic_fetch_add(&p->http_requests, 1);
	cr = curl_easy_perform(c);
	if (rs->too_large || cr == CURLE_FILESIZE_EXCEEDED) {
		snprintf(detail, PCS_DETAIL, "GET %.160s: more than %zu bytes", url, rs->max);
		*why = "PCS response larger than max_response";
		return KW_ERR_TOO_LARGE;
	}
	if (cr != CURLE_OK) {
		snprintf(detail, PCS_DETAIL, "GET %.160s: %.80s", url,
		    errbuf[0] != '\0' ? errbuf : curl_easy_strerror(cr));
		if (cr == CURLE_OPERATION_TIMEDOUT) {
			*why = "PCS request timed out";
			return KW_ERR_TIMEOUT;
		}
		*why = cr == CURLE_ABORTED_BY_CALLBACK ? "PCS request aborted (stopping)" : "PCS request failed";
		return KW_ERR_UNAVAILABLE;
	}
	if (curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK || status != 200) {
		snprintf(detail, PCS_DETAIL, "GET %.160s: HTTP %ld", url, status);
		*why = "PCS answered with an HTTP status other than 200";
		return KW_ERR_UNAVAILABLE;
	}
	if (rs->chain_bad) {
		snprintf(detail, PCS_DETAIL, "GET %.160s: %s repeated or longer than %d bytes", url, rs->want,
		    TDX_PCS_MAX_HEADER);
		*why = "PCS issuer chain header repeated or too large";
		return KW_ERR_INVALID_FORMAT;
	}
	if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct != NULL)
		snprintf(rs->ctype, sizeof(rs->ctype), "%s", ct);
	return 0;
}

static void
fmspc_hex(const uint8_t fmspc[static 6], int upper, char out[static 13])
{
	static const char lo[] = "0123456789abcdef", up[] = "0123456789ABCDEF";
	const char *d = upper ? up : lo;

	for (size_t i = 0; i < 6; i++) {
		out[2 * i] = d[fmspc[i] >> 4];
		out[2 * i + 1] = d[fmspc[i] & 15];
	}
	out[12] = '\0';
}

/* The CA type of a verified collateral's PCK CRL, by its issuer's CN. */
static int
collateral_ca(const struct tdx_collateral *c, enum tdx_pcs_ca *ret)
{
	const X509_NAME *nm = X509_CRL_get_issuer(c->pck_crl);
	int i = X509_NAME_get_index_by_NID(nm, NID_commonName, -1);
	const ASN1_STRING *s;
	const char *v;
	size_t n, pl = strlen("PCK Platform CA"), pr = strlen("PCK Processor CA");

	if (i < 0 || (s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(nm, i))) == NULL)
		return -1;
	v = (const char *)ASN1_STRING_get0_data(s);
	n = (size_t)ASN1_STRING_length(s);
	if (n >= pl && memcmp(v + n - pl, "PCK Platform CA", pl) == 0)
		*ret = TDX_PCS_CA_PLATFORM;
	else if (n >= pr && memcmp(v + n - pr, "PCK Processor CA", pr) == 0)
		*ret = TDX_PCS_CA_PROCESSOR;
	else
		return -1;
	return 0;
}

/*
 * Fetch the four documents for (fmspc, ca), assemble and verify them. On
 * success *ret_doc (the QuoteCollateralV3 object) and *ret_c (verified).
 */
static int
fetch(struct tdx_pcs *p, const uint8_t fmspc[static 6], enum tdx_pcs_ca ca, json_t **ret_doc,
    struct tdx_collateral **ret_c, char *detail, const char **why)
{
	static const char *const hdr[] = {
		"TCB-Info-Issuer-Chain", "SGX-Enclave-Identity-Issuer-Chain", "SGX-PCK-CRL-Issuer-Chain", NULL,
	};
	char url[4][TDX_PCS_MAX_URL + 96], hex[13], errbuf[CURL_ERROR_SIZE];
	struct http_resp rs[4];
	struct tdx_pcs_resp in[4];
	struct tdx_collateral_info info;
	struct tdx_collateral *c = NULL;
	json_t *doc = NULL;
	enum tdx_pcs_ca got;
	CURL *h = NULL;
	const char *w = "internal error";
	int r = KW_ERR_INTERNAL;

	memset(rs, 0, sizeof(rs));
	detail[0] = '\0';
	fmspc_hex(fmspc, 1, hex);
	snprintf(url[0], sizeof(url[0]), "%s/tdx/certification/v4/tcb?fmspc=%s", p->base, hex);
	snprintf(url[1], sizeof(url[1]), "%s/tdx/certification/v4/qe/identity", p->base);
	snprintf(url[2], sizeof(url[2]), "%s/sgx/certification/v4/pckcrl?ca=%s&encoding=der", p->base,
	    tdx_pcs_ca_name(ca));
	snprintf(url[3], sizeof(url[3]), "%s", p->root_url);
	if ((h = http_handle(p, errbuf)) == NULL)
		FAIL(KW_ERR_INTERNAL, "cannot set up libcurl");
	/* One handle for the four: the connection is reused. */
	for (size_t i = 0; i < 4; i++) {
		http_resp_reset(&rs[i], hdr[i], p->max_response);
		if ((r = http_get(p, h, errbuf, url[i], &rs[i], detail, &w)) != 0)
			goto out;
		in[i].content_type = rs[i].ctype[0] != '\0' ? rs[i].ctype : NULL;
		in[i].chain = rs[i].chain;
		in[i].chain_len = rs[i].chain_len;
		in[i].body = rs[i].body;
		in[i].len = rs[i].len;
	}
	if ((r = tdx_pcs_assemble(&in[0], &in[1], &in[2], &in[3], &doc, &w)) != 0)
		goto out;
	if ((r = tdx_collateral_new(p->trust, doc, &c, &w)) != 0)
		goto out;
	tdx_collateral_get_info(c, &info);
	if (memcmp(info.fmspc, fmspc, 6) != 0)
		FAIL(KW_ERR_MISMATCH, "fetched TCB Info is for another FMSPC");
	if (collateral_ca(c, &got) != 0 || got != ca)
		FAIL(KW_ERR_MISMATCH, "fetched PCK CRL is not the requested CA's");
	*ret_doc = doc;
	doc = NULL;      /* transferred */
	*ret_c = c;
	c = NULL;        /* transferred */
	r = 0;
out:
	for (size_t i = 0; i < 4; i++)
		http_resp_reset(&rs[i], NULL, 0);
	if (h != NULL)
		curl_easy_cleanup(h);
	json_decref(doc);
	tdx_collateral_free(c);
	*why = w;
	return r;
}

/* ---- entries ---- */

static struct pcs_entry *
entry_find(struct tdx_pcs *p, const uint8_t fmspc[static 6], enum tdx_pcs_ca ca)
{
	for (size_t i = 0; i < TDX_PCS_MAX_ENTRIES; i++)
		if (p->e[i].used && p->e[i].ca == ca && memcmp(p->e[i].fmspc, fmspc, 6) == 0)
			return &p->e[i];
	return NULL;
}

/*
 * A new entry: a free slot, or the least recently used one that holds no
 * copy and nobody uses (a failed lookup); NULL when every slot holds a copy.
 */
static struct pcs_entry *
entry_new(struct tdx_pcs *p, const uint8_t fmspc[static 6], enum tdx_pcs_ca ca)
{
	struct pcs_entry *e = NULL;

	for (size_t i = 0; i < TDX_PCS_MAX_ENTRIES && e == NULL; i++)
		if (!p->e[i].used)
			e = &p->e[i];
	for (size_t i = 0; i < TDX_PCS_MAX_ENTRIES && e == NULL; i++) {
		struct pcs_entry *x = &p->e[i];

		if (x->c == NULL && !x->busy && x->pins == 0)
			e = x;
	}
	for (size_t i = 0; e != NULL && i < TDX_PCS_MAX_ENTRIES; i++) {
		struct pcs_entry *x = &p->e[i];

		if (x->used && x->c == NULL && !x->busy && x->pins == 0 && x->last_use < e->last_use)
			e = x;
	}
	if (e == NULL)
		return NULL;
	if (!e->used)
		p->st.entries++;
	memset(e, 0, sizeof(*e));
	e->used = 1;
	memcpy(e->fmspc, fmspc, 6);
	e->ca = ca;
	return e;
}

/* When the refresher fetches a copy fetched (or written) at `fetched`, as seen at now. */
static int64_t
schedule(const struct tdx_pcs *p, const struct tdx_collateral_info *i, int64_t fetched, int64_t now)
{
	int64_t t = fetched + p->interval_s, m = i->not_after - p->margin_s;

	t = m < t ? m : t;
	return t < now ? now : t;
}

/* NULL when n should replace the copy e holds, else why not. */
static const char *
not_better(const struct pcs_entry *e, const struct tdx_collateral_info *n, int64_t now)
{
	int old_ok, new_ok;

	if (e->c == NULL)
		return NULL;
	if (n->tcb_evaluation_data_number < e->info.tcb_evaluation_data_number)
		return "fetched collateral has an older TCB evaluation data number than the copy held";
	old_ok = valid_at(&e->info, now);
	new_ok = valid_at(n, now);
	if (new_ok && !old_ok)
		return NULL;
	if (!new_ok && old_ok)
		return "fetched collateral is not valid now and the copy held is";
	if (n->not_after < e->info.not_after)
		return "fetched collateral expires before the copy held";
	return NULL;
}

static void
cache_path(const struct tdx_pcs *p, const uint8_t fmspc[static 6], enum tdx_pcs_ca ca, char *out, size_t n)
{
	char hex[13];

	fmspc_hex(fmspc, 0, hex);
	snprintf(out, n, "%s/tdx-%s-%s.json", p->cache_dir, hex, tdx_pcs_ca_name(ca));
}

static int
cache_write(const struct tdx_pcs *p, const uint8_t fmspc[static 6], enum tdx_pcs_ca ca, const json_t *doc)
{
	char path[PATH_MAX];
	char *text;
	int r;

	cache_path(p, fmspc, ca, path, sizeof(path));
	kw_json_oom_reset();
	if ((text = kw_json_dumps(doc, JSON_COMPACT)) == NULL)
		return KW_ERR_NOMEM;
	r = kw_file_write_atomic(path, text, strlen(text), 0600);
	free(text);
	return r;
}

/*
 * Fetch for e (marked busy by the caller) and install the result when it is
 * better than what e holds, judging validity at `at` (the requested
 * verification time, or the clock for the refresher); write it to the
 * cache directory; clear busy; report. Stamps and the schedule use the
 * clock. Called without the lock.
 */
static void
fetch_install(struct tdx_pcs *p, struct pcs_entry *e, int64_t at, int background)
{
	struct tdx_collateral *c = NULL, *old = NULL;
	struct tdx_collateral_info info;
	struct tdx_pcs_event ev;
	char detail[PCS_DETAIL];
	json_t *doc = NULL;
	const char *w = NULL, *refused = NULL;
	int64_t now;
	int r, wr = 0, installed = 0;

	/* e->fmspc and e->ca do not change while e is busy. */
	r = fetch(p, e->fmspc, e->ca, &doc, &c, detail, &w);
	now = pcs_now(p);
	memset(&info, 0, sizeof(info));
	if (r == 0)
		tdx_collateral_get_info(c, &info);

	pthread_mutex_lock(&p->lock);
	if (r == 0 && (refused = not_better(e, &info, at)) == NULL) {
		old = e->c;
		e->c = c;
		c = NULL;    /* transferred */
		e->info = info;
		e->fetched_at = now;
		e->next_refresh = schedule(p, &info, now, now + p->retry_s);
		e->last_fail = 0;
		e->last_r = 0;
		e->last_why = NULL;
		p->st.fetches++;
		installed = 1;
	} else {
		if (r == 0) {
			r = KW_ERR_MISMATCH;
			w = refused;
			p->st.refused++;
		} else {
			p->st.fetch_failures++;
		}
		e->last_fail = now;
		e->last_r = r;
		e->last_why = w;
		e->next_refresh = now + p->retry_s;
	}
	if (r == 0 && !valid_at(&e->info, at)) {
		/* Installed, yet nothing valid at `at`: asking again at once would not help. */
		e->last_fail = now;
		e->last_r = KW_ERR_CERT_EXPIRED;
		e->last_why = "the service has no collateral valid at the verification time";
		e->next_refresh = now + p->retry_s;
	}
	e->gen++;
	pthread_cond_broadcast(&p->done);
	pthread_mutex_unlock(&p->lock);
	tdx_collateral_free(old);
	tdx_collateral_free(c);

	/* The file first, so that a "fetched" report means stored as well. */
	if (installed && p->cache_dir != NULL && (wr = cache_write(p, e->fmspc, e->ca, doc)) != 0) {
		pthread_mutex_lock(&p->lock);
		p->st.disk_write_failures++;
		pthread_mutex_unlock(&p->lock);
	}
	event_init(&ev, installed ? TDX_PCS_EV_FETCHED : refused != NULL ? TDX_PCS_EV_REFUSED :
	    TDX_PCS_EV_FETCH_FAILED, e->fmspc, e->ca, background);
	ev.r = r;
	ev.why = installed ? "collateral fetched and verified" : w;
	ev.detail = detail[0] != '\0' ? detail : NULL;
	ev.not_after = info.not_after;
	{
		char hex[13];

		fmspc_hex(e->fmspc, 0, hex);
		kw_log_debug("tdx collateral %s/%s: %s%s%s", hex, tdx_pcs_ca_name(e->ca), ev.why,
		    ev.detail != NULL ? ": " : "", ev.detail != NULL ? ev.detail : "");
	}
	emit(p, &ev);
	if (wr != 0) {
		event_init(&ev, TDX_PCS_EV_CACHE_WRITE_FAILED, e->fmspc, e->ca, background);
		ev.r = wr;
		ev.why = "cannot write the collateral cache file";
		ev.not_after = info.not_after;
		emit(p, &ev);
	}
	json_decref(doc);

	pthread_mutex_lock(&p->lock);
	e->busy = 0;
	pthread_cond_broadcast(&p->done);
	pthread_cond_signal(&p->wake);     /* its schedule changed */
	pthread_mutex_unlock(&p->lock);
}

int
tdx_pcs_get(struct tdx_pcs *p, const uint8_t fmspc[static 6], enum tdx_pcs_ca ca, int64_t at,
    struct tdx_collateral **ret, const char **reterr_why)
{
	struct pcs_entry *e;
	struct tdx_collateral *c = NULL;
	struct timespec deadline;
	const char *w = "invalid arguments";
	int r = KW_ERR_INVALID_ARG, tried = 0;

	if (p == NULL || fmspc == NULL || ret == NULL || at <= 0 ||
	    (ca != TDX_PCS_CA_PLATFORM && ca != TDX_PCS_CA_PROCESSOR))
		goto out;
	pthread_mutex_lock(&p->lock);
	e = entry_find(p, fmspc, ca);
	if (e != NULL && e->c != NULL && valid_at(&e->info, at)) {
		/* the hot path: no I/O, no waiting */
		c = tdx_collateral_ref(e->c);
		e->last_use = ++p->tick;
		p->st.hits++;
		pthread_mutex_unlock(&p->lock);
		r = 0;
		goto out;
	}
	p->st.misses++;
	if (e == NULL && (e = entry_new(p, fmspc, ca)) == NULL) {
		pthread_mutex_unlock(&p->lock);
		FAIL(KW_ERR_UNAVAILABLE, "collateral cache full");
	}
	e->pins++;
	e->last_use = ++p->tick;
	deadline_in(&deadline, 4 * p->timeout_s + PCS_WAIT_SLACK);
	for (;;) {
		if (e->c != NULL && valid_at(&e->info, at)) {
			c = tdx_collateral_ref(e->c);
			r = 0;
			break;
		}
		if (e->busy) {
			unsigned long gen = e->gen;

			while (e->busy && e->gen == gen)
				if (pthread_cond_timedwait(&p->done, &p->lock, &deadline) == ETIMEDOUT)
					break;
			if (e->busy && e->gen == gen) {
				r = KW_ERR_UNAVAILABLE;
				w = "a collateral fetch under way did not finish in time";
				break;
			}
			tried = 1;
			continue;
		}
		if (tried || (e->last_fail != 0 && pcs_now(p) < e->last_fail + (int64_t)p->retry_s)) {
			r = KW_ERR_UNAVAILABLE;
			w = e->last_r != 0 && e->last_why != NULL ? e->last_why :
			    "no collateral valid at the verification time";
			break;
		}
		/* Nothing usable and no fetch under way: this thread fetches (a cold cache). */
		e->busy = 1;
		pthread_mutex_unlock(&p->lock);
		fetch_install(p, e, at, 0);
		pthread_mutex_lock(&p->lock);
		tried = 1;
	}
	e->pins--;
	pthread_mutex_unlock(&p->lock);
out:
	if (r == 0)
		*ret = c;
	else if (reterr_why != NULL)
		*reterr_why = w;
	return r;
}

/* ---- the refresher ---- */

static void *
refresher(void *arg)
{
	struct tdx_pcs *p = arg;

	pthread_mutex_lock(&p->lock);
	while (!atomic_load(&p->stop)) {
		struct pcs_entry *next = NULL;
		struct timespec ts;
		int64_t now = pcs_now(p), wait;

		p->kicked = 0;
		for (size_t i = 0; i < TDX_PCS_MAX_ENTRIES; i++) {
			struct pcs_entry *x = &p->e[i];

			if (x->used && x->c != NULL && !x->busy &&
			    (next == NULL || x->next_refresh < next->next_refresh))
				next = x;
		}
		if (next != NULL && next->next_refresh <= now) {
			next->busy = 1;
			p->st.refreshes++;
			pthread_mutex_unlock(&p->lock);
			fetch_install(p, next, now, 1);
			pthread_mutex_lock(&p->lock);
			continue;
		}
		wait = next != NULL ? next->next_refresh - now : PCS_IDLE_WAIT;
		deadline_in(&ts, (unsigned int)(wait < PCS_IDLE_WAIT ? wait : PCS_IDLE_WAIT));
		while (!p->kicked && !atomic_load(&p->stop))
			if (pthread_cond_timedwait(&p->wake, &p->lock, &ts) == ETIMEDOUT)
				break;
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int
tdx_pcs_start(struct tdx_pcs *p)
{
	int r;

	if (p == NULL)
		return KW_ERR_INVALID_ARG;
	pthread_mutex_lock(&p->lock);
	if (p->started) {
		pthread_mutex_unlock(&p->lock);
		return KW_ERR_INVALID_ARG;
	}
	r = pthread_create(&p->thread, NULL, refresher, p) == 0 ? 0 : KW_ERR_INTERNAL;
	p->started = r == 0;
	pthread_mutex_unlock(&p->lock);
	return r;
}

void
tdx_pcs_kick(struct tdx_pcs *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	p->kicked = 1;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
}

void
tdx_pcs_stats(struct tdx_pcs *p, struct tdx_pcs_stats *ret)
{
	pthread_mutex_lock(&p->lock);
	*ret = p->st;
	pthread_mutex_unlock(&p->lock);
	ret->http_requests = atomic_load(&p->http_requests);
}

/* ---- the cache directory ---- */

/* "tdx-<12 lower-case hex>-<platform|processor>.json" → fmspc, ca. */
static int
cache_name_parse(const char *name, uint8_t fmspc[static 6], enum tdx_pcs_ca *ret_ca)
{
	size_t n = strlen(name);

	if (n < 4 + 12 + 1 + 5 || strncmp(name, "tdx-", 4) != 0 || name[16] != '-')
		return -1;
	for (size_t i = 4; i < 16; i++)
		if (isupper((unsigned char)name[i]))
			return -1;    /* the names this module writes: lower case */
	for (size_t i = 0; i < 6; i++)
		if (hex_byte(name + 4 + 2 * i, &fmspc[i]) != 0)
			return -1;
	for (int ca = 0; ca < 2; ca++) {
		size_t l = strlen(ca_names[ca]);

		if (n == 17 + l + 5 && strncmp(name + 17, ca_names[ca], l) == 0 &&
		    strcmp(name + 17 + l, ".json") == 0) {
			*ret_ca = (enum tdx_pcs_ca)ca;
			return 0;
		}
	}
	return -1;
}

/*
 * A cache file: a regular file (not a link) that group and others cannot
 * write, at most TDX_PCS_MAX_FILE bytes. Its contents are verified by the
 * caller; the mode check keeps other users out of the cache's reach.
 */
static int
cache_read(const struct tdx_pcs *p, int dfd, const char *name, uint8_t **ret, size_t *ret_len,
    int64_t *ret_mtime, const char **why)
{
	char path[PATH_MAX];
	struct stat st;
	int r;

	*why = "cannot read the collateral cache file";
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return KW_ERR_IO;
	if (!S_ISREG(st.st_mode) || (st.st_mode & 022) != 0) {
		*why = "collateral cache file is not a regular file or is writable by group or others";
		return KW_ERR_IO;
	}
	snprintf(path, sizeof(path), "%s/%s", p->cache_dir, name);
	if ((r = kw_file_read(path, TDX_PCS_MAX_FILE, ret, ret_len)) == KW_ERR_TOO_LARGE)
		*why = "collateral cache file too large";
	if (r == 0)
		*ret_mtime = (int64_t)st.st_mtime;
	return r;
}

/* One cache file: read, re-verify, check it is what its name says, install. */
static void
cache_load_one(struct tdx_pcs *p, int dfd, const char *name, const uint8_t fmspc[static 6],
    enum tdx_pcs_ca ca)
{
	struct tdx_collateral *c = NULL;
	struct tdx_collateral_info info;
	struct tdx_pcs_event ev;
	struct pcs_entry *e;
	enum tdx_pcs_ca got;
	uint8_t *buf = NULL;
	size_t len = 0;
	int64_t mtime = 0, now = pcs_now(p);
	json_t *j = NULL;
	const char *w = NULL;
	int r;

	memset(&info, 0, sizeof(info));
	if ((r = cache_read(p, dfd, name, &buf, &len, &mtime, &w)) != 0)
		goto out;
	if ((r = kw_json_parse(buf, len, TDX_PCS_MAX_FILE, &j)) != 0)
		FAIL(r, "collateral cache file is not JSON");
	if ((r = tdx_collateral_new(p->trust, j, &c, &w)) != 0)
		goto out;
	tdx_collateral_get_info(c, &info);
	if (memcmp(info.fmspc, fmspc, 6) != 0 || collateral_ca(c, &got) != 0 || got != ca)
		FAIL(KW_ERR_MISMATCH, "collateral cache file holds another FMSPC's or CA's collateral");
	pthread_mutex_lock(&p->lock);
	if ((e = entry_find(p, fmspc, ca)) == NULL && (e = entry_new(p, fmspc, ca)) == NULL) {
		pthread_mutex_unlock(&p->lock);
		FAIL(KW_ERR_TOO_LARGE, "more collateral cache files than cache entries");
	}
	e->c = c;
	c = NULL;    /* transferred */
	e->info = info;
	e->fetched_at = mtime < now ? mtime : now;    /* a file from the future counts as fetched now */
	e->next_refresh = schedule(p, &info, e->fetched_at, now);
	p->st.disk_loaded++;
	pthread_mutex_unlock(&p->lock);
	r = 0;
out:
	if (r != 0) {
		pthread_mutex_lock(&p->lock);
		p->st.disk_refused++;
		pthread_mutex_unlock(&p->lock);
	}
	event_init(&ev, r == 0 ? TDX_PCS_EV_CACHE_LOADED : TDX_PCS_EV_CACHE_REFUSED, fmspc, ca, 0);
	ev.r = r;
	ev.why = r == 0 ? "collateral cache file verified" : w != NULL ? w : kw_strerror(r);
	ev.detail = name;
	ev.not_after = info.not_after;
	emit(p, &ev);
	tdx_collateral_free(c);
	json_decref(j);
	free(buf);
}

static int
cache_load_all(struct tdx_pcs *p)
{
	DIR *d;
	struct dirent *de;

	if (mkdir(p->cache_dir, 0700) != 0 && errno != EEXIST)
		return KW_ERR_IO;
	if ((d = opendir(p->cache_dir)) == NULL)
		return KW_ERR_IO;
	while ((de = readdir(d)) != NULL) {
		uint8_t fmspc[6];
		enum tdx_pcs_ca ca;

		if (cache_name_parse(de->d_name, fmspc, &ca) == 0)
			cache_load_one(p, dirfd(d), de->d_name, fmspc, ca);
	}
	closedir(d);
	return 0;
}

/* ---- life cycle ---- */

/* The service root without trailing "/" and without a trailing API prefix. */
static char *
base_url(const char *url)
{
	static const char *const suffix[] = { "/sgx/certification/v4", "/tdx/certification/v4" };
	size_t n = strlen(url);
	char *b;

	while (n > 0 && url[n - 1] == '/')
		n--;
	for (size_t i = 0; i < KW_ARRAY_SIZE(suffix); i++) {
		size_t l = strlen(suffix[i]);

		if (n > l && strncmp(url + n - l, suffix[i], l) == 0) {
			n -= l;
			while (n > 0 && url[n - 1] == '/')
				n--;
		}
	}
	if ((b = malloc(n + 1)) == NULL)
		return NULL;
	memcpy(b, url, n);
	b[n] = '\0';
	return b;
}

static int
https_url_ok(const char *u)
{
	size_t n = strlen(u);

	if (n <= 8 || n > TDX_PCS_MAX_URL || strncasecmp(u, "https://", 8) != 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)u[i] <= 0x20 || (unsigned char)u[i] >= 0x7f)
			return 0;
	return 1;
}

static int
dup_opt(const char *s, char **ret)
{
	*ret = NULL;
	if (s == NULL)
		return 0;
	return (*ret = strdup(s)) == NULL ? KW_ERR_NOMEM : 0;
}

void
tdx_pcs_free(struct tdx_pcs *p)
{
	if (p == NULL)
		return;
	if (p->started) {
		pthread_mutex_lock(&p->lock);
		atomic_store(&p->stop, 1);
		pthread_cond_signal(&p->wake);
		pthread_mutex_unlock(&p->lock);
		pthread_join(p->thread, NULL);
	}
	for (size_t i = 0; i < TDX_PCS_MAX_ENTRIES; i++)
		tdx_collateral_free(p->e[i].c);
	pthread_cond_destroy(&p->wake);
	pthread_cond_destroy(&p->done);
	pthread_mutex_destroy(&p->lock);
	free(p->base);
	free(p->root_url);
	free(p->ca_file);
	free(p->proxy);
	free(p->cache_dir);
	free(p);
}

int
tdx_pcs_new(const struct tdx_trust *trust, const struct tdx_pcs_config *cfg, struct tdx_pcs **ret,
    const char **reterr_why)
{
	struct tdx_pcs *p = NULL;
	char root[TDX_PCS_MAX_URL + 64];
	const char *w = "invalid arguments";
	int r = KW_ERR_INVALID_ARG, locks = 0;

	if (trust == NULL || cfg == NULL || ret == NULL)
		goto out;
	if (cfg->url == NULL || !https_url_ok(cfg->url))
		FAIL(KW_ERR_CONFIG, "PCS URL must be an https:// URL of at most 1024 characters");
	if (cfg->root_crl_url != NULL && !https_url_ok(cfg->root_crl_url))
		FAIL(KW_ERR_CONFIG, "root CRL URL must be an https:// URL of at most 1024 characters");
	if (cfg->max_response > TDX_PCS_MAX_RESPONSE_LIMIT)
		FAIL(KW_ERR_CONFIG, "max_response larger than 4 MiB");
	if (cfg->timeout_s > 600 || cfg->retry_s > 86400 || cfg->refresh_interval_s > 90 * 86400 ||
	    cfg->refresh_margin_s > 90 * 86400)
		FAIL(KW_ERR_CONFIG, "PCS timeout, retry or refresh time out of range");
	if (cfg->cache_dir != NULL && (cfg->cache_dir[0] == '\0' || strlen(cfg->cache_dir) > PATH_MAX - 64))
		FAIL(KW_ERR_CONFIG, "collateral cache directory name empty or too long");
	pthread_once(&curl_once, curl_init_once);
	if (!curl_ok)
		FAIL(KW_ERR_INTERNAL, "cannot initialise libcurl");
	if ((p = calloc(1, sizeof(*p))) == NULL)
		FAIL(KW_ERR_NOMEM, "out of memory");
	if (pthread_mutex_init(&p->lock, NULL) != 0)
		FAIL(KW_ERR_INTERNAL, "cannot create a mutex");
	locks = 1;
	if (cond_init_monotonic(&p->done) != 0)
		FAIL(KW_ERR_INTERNAL, "cannot create a condition variable");
	locks = 2;
	if (cond_init_monotonic(&p->wake) != 0)
		FAIL(KW_ERR_INTERNAL, "cannot create a condition variable");
	locks = 3;
	p->trust = trust;
	p->timeout_s = cfg->timeout_s != 0 ? cfg->timeout_s : TDX_PCS_TIMEOUT_DEFAULT;
	p->interval_s = cfg->refresh_interval_s != 0 ? cfg->refresh_interval_s : TDX_PCS_REFRESH_INTERVAL_DEFAULT;
	p->margin_s = cfg->refresh_margin_s != 0 ? cfg->refresh_margin_s : TDX_PCS_REFRESH_MARGIN_DEFAULT;
	p->retry_s = cfg->retry_s != 0 ? cfg->retry_s : TDX_PCS_RETRY_DEFAULT;
	p->max_response = cfg->max_response != 0 ? cfg->max_response : TDX_PCS_MAX_RESPONSE_DEFAULT;
	p->clock = cfg->clock;
	p->clock_arg = cfg->clock_arg;
	p->on_event = cfg->on_event;
	p->event_arg = cfg->event_arg;
	if ((p->base = base_url(cfg->url)) == NULL)
		FAIL(KW_ERR_NOMEM, "out of memory");
	if (!https_url_ok(p->base))
		FAIL(KW_ERR_CONFIG, "PCS URL must be an https:// URL of at most 1024 characters");
	if (cfg->root_crl_url != NULL)
		snprintf(root, sizeof(root), "%s", cfg->root_crl_url);
	else if (strcasecmp(p->base, TDX_PCS_INTEL_URL) == 0)
		snprintf(root, sizeof(root), "%s", TDX_PCS_INTEL_ROOT_CRL_URL);
	else
		snprintf(root, sizeof(root), "%s/sgx/certification/v4/rootcacrl", p->base);
	if ((r = dup_opt(root, &p->root_url)) != 0 || (r = dup_opt(cfg->ca_file, &p->ca_file)) != 0 ||
	    (r = dup_opt(cfg->proxy, &p->proxy)) != 0 || (r = dup_opt(cfg->cache_dir, &p->cache_dir)) != 0)
		FAIL(r, "out of memory");
	if (p->cache_dir != NULL && (r = cache_load_all(p)) != 0)
		FAIL(r, "collateral cache directory cannot be created or read");
	*ret = p;
	p = NULL;    /* transferred */
	r = 0;
out:
	if (p != NULL) {
		if (locks < 3) {
			/* tdx_pcs_free destroys all three */
			if (locks >= 2)
				pthread_cond_destroy(&p->done);
			if (locks >= 1)
				pthread_mutex_destroy(&p->lock);
			free(p);
		} else {
			tdx_pcs_free(p);
		}
	}
	if (r != 0 && reterr_why != NULL)
		*reterr_why = w;
	return r;
}

/* ---- the key of a quote ---- */

int
tdx_pcs_quote_key(const struct tdx_trust *trust, const uint8_t *quote, size_t len,
    uint8_t ret_fmspc[static 6], enum tdx_pcs_ca *ret_ca, const char **reterr_why)
{
	struct tdx_quote q;
	struct tdx_pck_chain ch;
	const char *w = "invalid arguments";
	int r = KW_ERR_INVALID_ARG;

	if (trust == NULL || quote == NULL || ret_fmspc == NULL || ret_ca == NULL)
		goto out;
	if ((r = tdx_quote_parse(quote, len, &q, &w)) != 0)
		goto out;
	if ((r = tdx_pck_chain_get(trust, q.pck_chain, q.pck_chain_len, &ch, &w)) != 0)
		goto out;
	memcpy(ret_fmspc, ch.pck.fmspc, 6);
	*ret_ca = ch.processor_ca ? TDX_PCS_CA_PROCESSOR : TDX_PCS_CA_PLATFORM;
	tdx_pck_chain_clear(&ch);
out:
	if (r != 0 && reterr_why != NULL)
		*reterr_why = w;
	return r;
}
