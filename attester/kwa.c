/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libkwattester's public interface (kwattester.h): the flow kwget runs.
 * auth (nonce) -> attest (runtime-data + evidence -> TEE-bound token) ->
 * resource (token + DPoP proof signed with tee-sigkey -> JWE encrypted to
 * the TEE key) -> decrypt into the caller's buffer. Transient failures are
 * retried with exponential backoff and full jitter within a deadline.
 * See docs/kwget.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "attester.h"
#include "att_azure.h"
#include "att_detect.h"
#include "att_cca_emu.h"
#include "att_nvgpu_emu.h"
#include "att_nvml.h"
#include "att_tdx_emu.h"
#include "att_tpm.h"
#include "kw_build.h"
#include "kw_json.h"
#include "kw_log.h"
#include "kw_name.h"
#include "kw_secret.h"
#include "kw_util.h"
#include "kwa_internal.h"
#include "kwattester.h"

#define MAX_AUTH_RESP 4096
#define MAX_ATTEST_RESP (ATT_MAX_TOKEN + 1024)   /* {"token": ...} */
#define MAX_RESOURCE_RESP ATT_MAX_JWE
#define MAX_NONCE 1024
#define MAX_URL 2048
#define MAX_BASE_URL (MAX_URL - 256)
#define MAX_ERRMSG 640
#define MAX_LOGLINE 1024
#define MAX_DEADLINE_MS 86400000u           /* one day */
#define MAX_RETRIES 1000u
#define MAX_RETRY_AFTER 86400               /* s; larger values are read as this */
#define HTTP_RETRY_NONCE 100 /* http_do: 401 use_dpop_nonce with a DPoP-Nonce; not a status */

struct kwa_ctx {
	char *base;                        /* --url without trailing slashes */
	char *resource;
	char *cacert;
	char *tee;                         /* "auto" or a name */
	char *emulate;                     /* "snp", "tdx" or NULL */
	char *emu_dir;
	uint32_t tpm_ek_handle, tpm_ak_handle;
	char *tpm_event_log;
	int tpm_no_event_log;
	unsigned int connect_ms, request_ms, retries, deadline_ms, base_ms, cap_ms;
	char *root_store, *tls_config, *tls_section, *crypto_config;
	int no_manifest;
	kwa_log_fn log;
	void *log_arg;
	char err[MAX_ERRMSG];
	/* testing (kwa_internal.h) */
	int have_meas, have_rd, emu_debug;
	unsigned int emu_gpus;             /* kwa_test_set_gpus: emulated GPUs, 0: none */
	int gpus_mode;                     /* kwa_set_gpus (enum kwa_gpus): real GPUs through NVML */
	char *emu_gpu_dir;
	uint8_t emu_meas[ATT_MEASUREMENT_LEN];
	uint8_t emu_rd[ATT_REPORT_DATA_LEN];
	char *save_attest, *jwe_out, *tee_key_out, *token_out;
	/* the current or last run */
	const char *tee_used;
	struct timespec deadline;          /* CLOCK_MONOTONIC */
};

/* ---- messages ---- */

static void KW_PRINTF(3, 4)
say_level(struct kwa_ctx *ctx, int level, const char *fmt, ...)
{
	char line[MAX_LOGLINE];
	va_list ap;

	if (ctx->log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	ctx->log(ctx->log_arg, level, line);
}

#define say(ctx, ...) say_level((ctx), KWA_LOG_INFO, __VA_ARGS__)
#define warn(ctx, ...) say_level((ctx), KWA_LOG_WARN, __VA_ARGS__)

/* Record the failure's one-line message; returns code. */
static int KW_PRINTF(3, 4)
fail(struct kwa_ctx *ctx, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ctx->err, sizeof(ctx->err), fmt, ap);
	va_end(ap);
	return code;
}

/* ---- time ---- */

static int64_t
mono_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t
deadline_ms_of(const struct kwa_ctx *ctx)
{
	return (int64_t)ctx->deadline.tv_sec * 1000 + ctx->deadline.tv_nsec / 1000000;
}

/* Milliseconds left before the deadline, 0 when it has passed. */
static int64_t
remaining_ms(const struct kwa_ctx *ctx)
{
	int64_t left = deadline_ms_of(ctx) - mono_ms();

	return left > 0 ? left : 0;
}

static void
sleep_ms(int64_t ms)
{
	struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* ---- files (testing outputs, and kwget's --out) ---- */

static int
write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n > 0) {
		ssize_t w = write(fd, b, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return KW_ERR_IO;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

int
kwa_write_fd(int fd, const void *p, size_t n)
{
	return write_all(fd, p, n);
}

int
kwa_write_new_file(const char *path, const void *p, size_t n)
{
	int fd, r;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return errno == EEXIST ? KW_ERR_EXISTS : KW_ERR_IO;
	r = write_all(fd, p, n);
	if (r == 0 && fsync(fd) != 0)
		r = KW_ERR_IO;
	if (close(fd) != 0 && r == 0)
		r = KW_ERR_IO;
	if (r != 0)
		(void)unlink(path);
	return r;
}

static int
write_tee_key(const char *path, EVP_PKEY *k)
{
	BIO *b = NULL;
	BUF_MEM *m = NULL;
	int r = KW_ERR_CRYPTO;

	if ((b = BIO_new(BIO_s_mem())) == NULL)
		return KW_ERR_NOMEM;
	if (PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) != 1 ||
	    BIO_get_mem_ptr(b, &m) != 1 || m == NULL)
		goto out;
	r = kwa_write_new_file(path, m->data, m->length);
	OPENSSL_cleanse(m->data, m->length);
out:
	BIO_free(b);
	return r;
}

static int
exists(const char *path)
{
	struct stat st;

	return path != NULL && lstat(path, &st) == 0;
}

/* ---- HTTP ---- */

struct resp {
	uint8_t *buf;
	size_t len, max;
	int too_large;
};

static size_t
on_data(char *p, size_t size, size_t nmemb, void *arg)
{
	struct resp *rs = arg;
	size_t n = size * nmemb;

	if (n > rs->max - rs->len) {
		rs->too_large = 1;
		return 0; /* aborts the transfer */
	}
	memcpy(rs->buf + rs->len, p, n);
	rs->len += n;
	return n;
}

/* Response headers kwget acts on (of the final response; 1xx ones are dropped). */
struct hdrs {
	char nonce[ATT_MAX_DPOP_NONCE + 1]; /* DPoP-Nonce, "" when absent or not a valid nonce */
	int use_dpop_nonce;                 /* WWW-Authenticate: DPoP error="use_dpop_nonce" */
	int64_t retry_after;                /* Retry-After in seconds from now, -1 when absent */
};

int64_t
kwa_retry_after_parse(const char *v, size_t vl, int64_t now)
{
	char s[64];
	struct tm tm;
	const char *end;
	int64_t secs = 0;
	time_t t;

	if (vl == 0 || vl >= sizeof(s))
		return -1;
	memcpy(s, v, vl);
	s[vl] = '\0';
	if (s[0] >= '0' && s[0] <= '9') {
		for (size_t i = 0; i < vl; i++) {
			if (s[i] < '0' || s[i] > '9')
				return -1;
			if (secs < MAX_RETRY_AFTER)
				secs = secs * 10 + (s[i] - '0');
		}
		return secs < MAX_RETRY_AFTER ? secs : MAX_RETRY_AFTER;
	}
	memset(&tm, 0, sizeof(tm));
	if ((end = strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm)) == NULL || *end != '\0')
		return -1;
	if ((t = timegm(&tm)) == (time_t)-1)
		return -1;
	if ((int64_t)t <= now)
		return 0;
	return (int64_t)t - now < MAX_RETRY_AFTER ? (int64_t)t - now : MAX_RETRY_AFTER;
}

static size_t
on_header(char *p, size_t size, size_t nitems, void *arg)
{
	struct hdrs *hd = arg;
	size_t n = size * nitems, l = n, nl, vl;
	const char *colon, *v;

	while (l > 0 && (p[l - 1] == '\r' || p[l - 1] == '\n'))
		l--;
	if (l >= 5 && strncmp(p, "HTTP/", 5) == 0) {
		memset(hd, 0, sizeof(*hd)); /* the status line of a new response */
		hd->retry_after = -1;
		return n;
	}
	if ((colon = memchr(p, ':', l)) == NULL)
		return n;
	nl = (size_t)(colon - p);
	v = colon + 1;
	vl = l - nl - 1;
	while (vl > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		vl--;
	}
	while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
		vl--;
	if (nl == 10 && strncasecmp(p, "DPoP-Nonce", nl) == 0) {
		if (att_dpop_nonce_valid(v, vl)) {
			memcpy(hd->nonce, v, vl);
			hd->nonce[vl] = '\0';
		} else {
			hd->nonce[0] = '\0';
		}
	} else if (nl == 16 && strncasecmp(p, "WWW-Authenticate", nl) == 0) {
		if (att_www_auth_use_dpop_nonce(v, vl))
			hd->use_dpop_nonce = 1;
	} else if (nl == 11 && strncasecmp(p, "Retry-After", nl) == 0) {
		hd->retry_after = kwa_retry_after_parse(v, vl, kw_time_now());
	}
	return n;
}

static void
resp_free(struct resp *rs)
{
	if (rs->buf != NULL) {
		kw_wipe(rs->buf, rs->max + 1);
		free(rs->buf);
	}
	rs->buf = NULL;
}

static int
status_class(long status)
{
	if (status == 401 || status == 403)
		return KWA_ERR_DENIED;
	if (status == 404)
		return KWA_ERR_NOT_FOUND;
	return KWA_ERR_SERVER;
}

/* The RFC 7807 problem (or the bare status) as the message; the status's class. */
static int
http_error(struct kwa_ctx *ctx, const char *step, long status, const struct resp *rs,
    const char *suffix)
{
	char title[160], detail[320];
	const char *t = NULL, *d = NULL;
	size_t l;
	json_t *j = NULL;

	if (kw_json_parse(rs->buf, rs->len, rs->max, &j) == 0) {
		if (kw_json_get_str(j, "title", &t, &l) != 0)
			t = NULL;
		if (kw_json_get_str(j, "detail", &d, &l) != 0)
			d = NULL;
	}
	/* Never echo untrusted bytes raw. */
	kw_log_escape(t != NULL ? t : "(no title)", 100, title, sizeof(title));
	kw_log_escape(d != NULL ? d : "(no detail)", 200, detail, sizeof(detail));
	json_decref(j);
	return fail(ctx, status_class(status), "%s failed: HTTP %ld %s: %s%s", step, status, title,
	    detail, suffix);
}

/* Transport failures worth another attempt: the broker (or the network) is not there yet. */
static int
curl_retryable(CURLcode cr)
{
	switch (cr) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_OPERATION_TIMEDOUT:
		return 1;
	default:
		return 0;
	}
}

static int
status_retryable(long status)
{
	return status == 429 || status == 502 || status == 503 || status == 504;
}

/* Full jitter: a random delay in [0, min(cap, base * 2^attempt)] ms. */
static int64_t
backoff_ms(const struct kwa_ctx *ctx, unsigned int attempt)
{
	uint64_t ceiling = ctx->base_ms, rnd = 0;

	for (unsigned int i = 0; i < attempt && ceiling < ctx->cap_ms; i++)
		ceiling *= 2;
	if (ceiling > ctx->cap_ms)
		ceiling = ctx->cap_ms;
	if (RAND_bytes((unsigned char *)&rnd, (int)sizeof(rnd)) != 1)
		return (int64_t)ceiling; /* no randomness: the ceiling, still bounded */
	return (int64_t)(rnd % (ceiling + 1));
}

/*
 * One attempt of one request; see http_do. ret_retry is set when the failure
 * is transient (connect failure, 429/502/503/504).
 */
static int
http_once(struct kwa_ctx *ctx, const char *step, const char *url, const char *body,
    const char *const *extra, const char *want_ctype, struct resp *rs, struct hdrs *hd,
    int nonce_retry, int *ret_retry, long *ret_status)
{
	char errbuf[CURL_ERROR_SIZE], ebuf[CURL_ERROR_SIZE + 16];
	struct curl_slist *hdr = NULL, *h;
	CURL *c = NULL;
	CURLcode cr;
	long status = 0;
	char *ctype = NULL;
	int64_t left = remaining_ms(ctx), tmo;
	int code = KWA_ERR_UNREACHABLE;

	*ret_retry = 0;
	*ret_status = 0;
	rs->len = 0;
	rs->too_large = 0;
	memset(hd, 0, sizeof(*hd));
	hd->retry_after = -1;
	errbuf[0] = '\0';
	if ((c = curl_easy_init()) == NULL) {
		code = fail(ctx, KWA_ERR_LOCAL, "%s failed: cannot initialise libcurl", step);
		goto out;
	}
	if ((h = curl_slist_append(hdr, "Accept: application/json, application/jose, "
	    "application/problem+json")) == NULL)
		goto nomem;
	hdr = h;
	if (body != NULL) {
		if ((h = curl_slist_append(hdr, "Content-Type: application/json")) == NULL)
			goto nomem;
		hdr = h;
	}
	for (; extra != NULL && *extra != NULL; extra++) {
		if ((h = curl_slist_append(hdr, *extra)) == NULL)
			goto nomem;
		hdr = h;
	}
	/* Each request within what is left of the deadline (at least 1 ms: 0 means none to libcurl). */
	tmo = ctx->request_ms < left ? ctx->request_ms : left;
	if (tmo < 1)
		tmo = 1;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_3);
	if (ctx->cacert != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, ctx->cacert);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)ctx->connect_ms);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)tmo);
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)rs->max);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "libkwattester/" KWA_VERSION);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, rs);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, hd);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	if (body != NULL) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	}
	cr = curl_easy_perform(c);
	if (rs->too_large || cr == CURLE_FILESIZE_EXCEEDED) {
		code = fail(ctx, KWA_ERR_SERVER, "%s failed: response larger than %zu bytes", step,
		    rs->max);
		goto out;
	}
	if (cr != CURLE_OK) {
		kw_log_escape(errbuf[0] != '\0' ? errbuf : curl_easy_strerror(cr), CURL_ERROR_SIZE,
		    ebuf, sizeof(ebuf));
		code = fail(ctx, KWA_ERR_UNREACHABLE, "%s failed: %s", step, ebuf);
		*ret_retry = curl_retryable(cr);
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	*ret_status = status;
	if (status == 401 && nonce_retry && hd->use_dpop_nonce && hd->nonce[0] != '\0') {
		code = HTTP_RETRY_NONCE;
		goto out;
	}
	if (status != 200) {
		code = http_error(ctx, step, status, rs, "");
		*ret_retry = status_retryable(status);
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ctype);
	if (ctype == NULL || strncasecmp(ctype, want_ctype, strlen(want_ctype)) != 0 ||
	    (ctype[strlen(want_ctype)] != '\0' && ctype[strlen(want_ctype)] != ';')) {
		code = fail(ctx, KWA_ERR_SERVER, "%s failed: HTTP 200 with content type other than %s",
		    step, want_ctype);
		goto out;
	}
	rs->buf[rs->len] = '\0';
	code = 0;
	goto out;
nomem:
	code = fail(ctx, KWA_ERR_LOCAL, "%s failed: out of memory", step);
out:
	curl_slist_free_all(hdr);
	if (c != NULL)
		curl_easy_cleanup(c);
	return code;
}

/*
 * One request, retried while the failure is transient, attempts remain and
 * the deadline allows. body == NULL means GET; extra holds more header lines
 * (NULL-terminated, may be NULL). On success (HTTP 200 with the expected
 * content type) *rs holds the body; otherwise the message is recorded and the
 * status returned, except that with nonce_retry a 401 that asks for a DPoP
 * nonce and carries one returns HTTP_RETRY_NONCE silently. *hd receives the
 * response headers acted on.
 */
static int
http_do(struct kwa_ctx *ctx, const char *step, const char *url, const char *body,
    const char *const *extra, const char *want_ctype, size_t max, struct resp *rs,
    struct hdrs *hd, int nonce_retry)
{
	int code = KWA_ERR_LOCAL, retry;
	long status;

	memset(rs, 0, sizeof(*rs));
	rs->max = max;
	if ((rs->buf = malloc(max + 1)) == NULL)
		return fail(ctx, KWA_ERR_LOCAL, "%s failed: out of memory", step);
	for (unsigned int attempt = 0;; attempt++) {
		int64_t delay, left;

		code = http_once(ctx, step, url, body, extra, want_ctype, rs, hd, nonce_retry, &retry,
		    &status);
		if (code == 0 || code == HTTP_RETRY_NONCE || !retry)
			break;
		if (attempt >= ctx->retries) {
			if (ctx->retries > 0) {
				size_t l = strlen(ctx->err);

				snprintf(ctx->err + l, sizeof(ctx->err) - l, " (gave up after %u attempts)",
				    attempt + 1);
			}
			break;
		}
		delay = backoff_ms(ctx, attempt);
		/* Retry-After on 429 and 503 is a lower bound */
		if ((status == 429 || status == 503) && hd->retry_after >= 0 &&
		    hd->retry_after * 1000 > delay)
			delay = hd->retry_after * 1000;
		left = remaining_ms(ctx);
		if (delay >= left) {
			size_t l = strlen(ctx->err);

			if ((status == 429 || status == 503) && hd->retry_after * 1000 >= left)
				snprintf(ctx->err + l, sizeof(ctx->err) - l, " (Retry-After %lld s is past "
				    "the deadline)", (long long)hd->retry_after);
			else
				snprintf(ctx->err + l, sizeof(ctx->err) - l, " (deadline of %u.%03u s "
				    "reached after %u attempt%s)", ctx->deadline_ms / 1000,
				    ctx->deadline_ms % 1000, attempt + 1, attempt == 0 ? "" : "s");
			break;
		}
		say(ctx, "%s; retrying in %lld.%03lld s (attempt %u of %u)", ctx->err,
		    (long long)(delay / 1000), (long long)(delay % 1000), attempt + 2, ctx->retries + 1);
		sleep_ms(delay);
		ctx->err[0] = '\0';
	}
	if (code != 0)
		resp_free(rs);
	return code;
}

/* ---- the flow ---- */

/* base + path (+ resource); the lengths were capped by the setters. */
static int
make_url(struct kwa_ctx *ctx, char out[static MAX_URL], const char *path, const char *res)
{
	int n = snprintf(out, MAX_URL, "%s%s%s", ctx->base, path, res != NULL ? res : "");

	return n > 0 && n < MAX_URL ? 0 : fail(ctx, KWA_ERR_USAGE, "URL too long");
}

/*
 * POST /auth for tee with extra (NULL: {}): the challenge in *ret and, when
 * ret_extra is not NULL, the answer's "extra-params" in *ret_extra.
 */
static int
get_nonce(struct kwa_ctx *ctx, const char *tee, const json_t *extra, char **ret,
    json_t **ret_extra)
{
	static const char *const keys[] = {"nonce", "extra-params", NULL};
	char url[MAX_URL], *body = NULL;
	struct resp rs;
	struct hdrs hd;
	json_t *j = NULL;
	const char *nonce;
	size_t n;
	int code;

	if ((code = make_url(ctx, url, "/kbs/v0/auth", NULL)) != 0)
		return code;
	/* tee is "snp", "tdx", "tpm" or an az-*-vtpm name (phase_prepare) */
	if ((j = json_pack("{s:s, s:s, s:o}", "version", "0.1.0", "tee", tee, "extra-params",
	    extra != NULL ? json_incref((json_t *)(uintptr_t)extra) : json_object())) == NULL ||
	    (body = kw_json_dumps(j, JSON_COMPACT)) == NULL) {
		json_decref(j);
		return fail(ctx, KWA_ERR_LOCAL, "auth failed: out of memory");
	}
	json_decref(j);
	j = NULL;
	code = http_do(ctx, "auth", url, body, NULL, "application/json", MAX_AUTH_RESP, &rs, &hd, 0);
	free(body);
	if (code != 0)
		return code;
	if (kw_json_parse(rs.buf, rs.len, MAX_AUTH_RESP, &j) != 0 || kw_json_check_keys(j, keys) != 0 ||
	    kw_json_get_str(j, "nonce", &nonce, &n) != 0 || n == 0 || n > MAX_NONCE) {
		code = fail(ctx, KWA_ERR_SERVER, "auth failed: malformed response from the broker");
		goto out;
	}
	if ((*ret = strdup(nonce)) == NULL) {
		code = fail(ctx, KWA_ERR_LOCAL, "auth failed: out of memory");
		goto out;
	}
	if (ret_extra != NULL)
		*ret_extra = json_incref(json_object_get(j, "extra-params"));
	code = 0;
out:
	json_decref(j);
	resp_free(&rs);
	return code;
}

/* The token goes into a header: visible ASCII only. */
static int
valid_token(const char *s, size_t n)
{
	if (n == 0 || n > ATT_MAX_TOKEN)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x21 || s[i] > 0x7e)
			return 0;
	return 1;
}

/*
 * POST /attest -> {"token": EAR JWT}. *ret_token is a copy (kw_free_wipe),
 * *ret_lifetime its exp - iat (read, not verified: only the broker can and
 * does verify it), ret_nonce a DPoP-Nonce the broker sent along ("" if none).
 */
static int
attest(struct kwa_ctx *ctx, const char *body, char **ret_token, int64_t *ret_lifetime,
    char ret_nonce[static ATT_MAX_DPOP_NONCE + 1])
{
	static const char *const keys[] = {"token", NULL};
	char url[MAX_URL], *tok = NULL;
	struct resp rs;
	struct hdrs hd;
	json_t *j = NULL;
	const char *t;
	size_t n;
	int64_t iat, exp;
	int code;

	if ((code = make_url(ctx, url, "/kbs/v0/attest", NULL)) != 0)
		return code;
	if ((code = http_do(ctx, "attest", url, body, NULL, "application/json", MAX_ATTEST_RESP, &rs,
	    &hd, 0)) != 0)
		return code;
	if (kw_json_parse(rs.buf, rs.len, MAX_ATTEST_RESP, &j) != 0 || kw_json_check_keys(j, keys) != 0 ||
	    kw_json_get_str(j, "token", &t, &n) != 0 || !valid_token(t, n) ||
	    att_token_times(t, n, &iat, &exp) != 0) {
		code = fail(ctx, KWA_ERR_SERVER, "attest failed: malformed response from the broker");
		goto out;
	}
	if ((tok = strdup(t)) == NULL) {
		code = fail(ctx, KWA_ERR_LOCAL, "attest failed: out of memory");
		goto out;
	}
	*ret_token = tok;    /* transferred */
	*ret_lifetime = exp - iat;
	memcpy(ret_nonce, hd.nonce, sizeof(hd.nonce));
	code = 0;
out:
	json_decref(j); /* the kw_json allocator wipes the token string */
	resp_free(&rs);
	return code;
}

/* "<prefix><value>" as a new string for a header line (kw_free_wipe). */
static char *
header_line(const char *prefix, const char *value)
{
	size_t a = strlen(prefix), b = strlen(value);
	char *s = malloc(a + b + 1);

	if (s != NULL) {
		memcpy(s, prefix, a);
		memcpy(s + a, value, b + 1);
	}
	return s;
}

/*
 * GET the resource with "Authorization: DPoP <token>" and a fresh DPoP
 * proof. When the broker answers 401 use_dpop_nonce with a DPoP-Nonce, one
 * more attempt is made with a new proof (new jti and iat) carrying that
 * nonce; any other 401, or a second one, is final.
 */
static int
get_resource(struct kwa_ctx *ctx, const char *url, EVP_PKEY *sigkey, const char *token,
    const char *first_nonce, struct resp *rs)
{
	char nonce[ATT_MAX_DPOP_NONCE + 1], *proof = NULL;
	const char *extra[3] = {NULL, NULL, NULL};
	struct hdrs hd;
	int code = KWA_ERR_LOCAL, r;

	snprintf(nonce, sizeof(nonce), "%s", first_nonce);
	if ((extra[0] = header_line("Authorization: DPoP ", token)) == NULL)
		return fail(ctx, KWA_ERR_LOCAL, "resource failed: out of memory");
	for (int attempt = 0; attempt < 2; attempt++) {
		if ((r = att_dpop_proof(sigkey, "GET", url, token, nonce[0] != '\0' ? nonce : NULL,
		    kw_time_now(), &proof)) != 0) {
			code = fail(ctx, KWA_ERR_LOCAL, "resource failed: cannot make the DPoP proof: %s",
			    kw_strerror(r));
			break;
		}
		if ((extra[1] = header_line("DPoP: ", proof)) == NULL) {
			code = fail(ctx, KWA_ERR_LOCAL, "resource failed: out of memory");
			break;
		}
		code = http_do(ctx, "resource", url, NULL, extra, "application/jose", MAX_RESOURCE_RESP,
		    rs, &hd, attempt == 0);
		kw_free_wipe((char *)(uintptr_t)extra[1]);
		extra[1] = NULL;
		free(proof);
		proof = NULL;
		if (code != HTTP_RETRY_NONCE)
			break;
		memcpy(nonce, hd.nonce, sizeof(nonce));
		say(ctx, "the broker asked for a DPoP proof with its nonce; retrying once with a fresh proof");
	}
	free(proof);
	kw_free_wipe((char *)(uintptr_t)extra[1]);
	kw_free_wipe((char *)(uintptr_t)extra[0]);
	return code;
}

static const char *
plural(size_t n)
{
	return n == 1 ? "" : "s";
}

/* One line in plain words: what the manifest says (never the whole of it). */
static void
say_manifest(struct kwa_ctx *ctx, const json_t *cfg)
{
	const json_t *rs, *tls, *cr, *v;
	const char *dg = NULL, *minv;
	char root[160], tl[PATH_MAX + 160], cry[128];
	size_t n;

	if (ctx->no_manifest) {
		say(ctx, "manifest: none sent (--no-manifest; \"config\" is {})");
		return;
	}
	rs = json_object_get(cfg, "root-store");
	tls = json_object_get(cfg, "tls");
	cr = json_object_get(cfg, "crypto");
	if (rs != NULL) {
		n = json_array_size(json_object_get(rs, "fingerprints"));
		dg = json_string_value(json_object_get(rs, "digest"));
		snprintf(root, sizeof(root), "root store %zu certificate%s, digest %.16s...", n,
		    plural(n), dg != NULL ? dg : "?");
	} else {
		snprintf(root, sizeof(root), "root store not measured");
	}
	n = json_array_size(json_object_get(tls, "cipher_suites"));
	if ((minv = json_string_value(json_object_get(tls, "min_version"))) == NULL)
		minv = "?";
	snprintf(tl, sizeof(tl), "TLS (%s) min %s, %zu cipher suite%s", ctx->tls_config != NULL ?
	    ctx->tls_config : "this process's OpenSSL defaults", minv, n, plural(n));
	if ((v = json_object_get(tls, "groups")) != NULL) {
		size_t l = strlen(tl);

		snprintf(tl + l, sizeof(tl) - l, ", %zu group%s", json_array_size(v),
		    plural(json_array_size(v)));
	}
	if ((v = json_object_get(tls, "signature_algorithms")) != NULL) {
		size_t l = strlen(tl);

		snprintf(tl + l, sizeof(tl) - l, ", %zu signature algorithm%s", json_array_size(v),
		    plural(json_array_size(v)));
	}
	if (cr != NULL) {
		static const char *const k[][2] = {{"rsa_bits", "RSA"}, {"ec_bits", "EC"},
		    {"symmetric_bits", "symmetric"}};
		size_t l = 0;

		cry[0] = '\0';
		for (size_t i = 0; i < KW_ARRAY_SIZE(k); i++) {
			if ((v = json_object_get(cr, k[i][0])) == NULL)
				continue;
			snprintf(cry + l, sizeof(cry) - l, "%s%s %lld bits", l > 0 ? ", " : "", k[i][1],
			    (long long)json_integer_value(v));
			l = strlen(cry);
		}
	} else {
		snprintf(cry, sizeof(cry), "none declared");
	}
	say(ctx, "manifest: %s; %s; crypto: %s", root, tl, cry);
}

/* The state of one run, built up phase by phase and freed by flow_free(). */
struct flow {
	struct kwa_ctx *ctx;
	json_t *cfg;                       /* configuration manifest, or NULL */
	struct att_keys *keys;             /* TEE keys made in this process */
	char *nonce;                       /* the broker's challenge */
	const char *tee;                   /* "snp", "tdx", "tpm", "az-snp-vtpm", "az-tdx-vtpm" */
	struct att_tpm *tpm;               /* tee "tpm" */
	const char *event_log;             /* tpm: the event log file to send, or NULL */
	json_t *rd;                        /* runtime-data */
	struct att_evidence *ev;           /* SNP */
	uint8_t *quote;                    /* TDX; az-tdx-vtpm: the TD quote from IMDS */
	size_t quote_len;
	struct att_az_tpm az;              /* az-*-vtpm: HCL report, quote, PCRs */
	char *vcek_pem;                    /* az-snp-vtpm: VCEK and chain from IMDS */
	char *body;                        /* the /attest request (wiped) */
	char *token;                       /* the TEE-bound token (wiped) */
	int64_t lifetime;
	char dpop_nonce[ATT_MAX_DPOP_NONCE + 1];
	struct resp rs;                    /* the released JWE */
	struct kw_secret *key;
	char *kid;
};

static void
flow_free(struct flow *f)
{
	kw_secret_free(f->key);
	if (f->token != NULL)
		kw_free_wipe(f->token);
	resp_free(&f->rs);
	free(f->kid);
	free(f->nonce);
	if (f->body != NULL)
		kw_free_wipe(f->body);
	json_decref(f->cfg);
	json_decref(f->rd);
	att_evidence_free(f->ev);
	free(f->quote);
	att_az_tpm_clear(&f->az);
	free(f->vcek_pem);
	att_keys_free(f->keys);
	att_tpm_free(f->tpm);
}

/* tee "tpm": open the TPM (EK and AK ready) and pick the event log. */
static int
prepare_tpm(struct flow *f)
{
	struct kwa_ctx *ctx = f->ctx;
	struct att_tpm_opts to = {
		.tcti = NULL, .ek_handle = ctx->tpm_ek_handle, .ak_handle = ctx->tpm_ak_handle,
	};
	char why[512];
	int r;

	if ((r = att_tpm_open(&to, &f->tpm, why, sizeof(why))) != 0)
		return fail(ctx, r == KW_ERR_UNAVAILABLE ? KWA_ERR_NO_TEE : KWA_ERR_LOCAL,
		    "evidence failed: TPM: %s", why);
	say(ctx, "TPM at '%s': EK %s, AK %s", att_tpm_tcti_from_env(),
	    ctx->tpm_ek_handle != 0 ? "persistent" : "created from the default RSA-2048 template",
	    ctx->tpm_ak_handle != 0 ? "persistent" : "created (restricted RSA-2048 RSASSA/SHA-256)");
	if (ctx->tpm_event_log != NULL)
		f->event_log = ctx->tpm_event_log;
	else if (!ctx->tpm_no_event_log && access(ATT_TPM_EVENTLOG_PATH, R_OK) == 0)
		f->event_log = ATT_TPM_EVENTLOG_PATH;
	return 0;
}

/* configfs-tsm's provider as a TEE name ("snp", "tdx"). */
static int
tsm_tee(struct kwa_ctx *ctx, const char **ret)
{
	char provider[ATT_TSM_MAX_PROVIDER + 1];
	const char *dir = att_detect_tsm_dir();
	int r;

	if (!att_tsm_available(dir))
		return fail(ctx, KWA_ERR_NO_TEE, "no confidential guest interface found (configfs-tsm); "
		    "use --emulate snp or --emulate tdx for testing");
	if ((r = att_tsm_provider(dir, provider)) != 0)
		return fail(ctx, KWA_ERR_NO_TEE, "evidence failed: configfs-tsm: %s", kw_strerror(r));
	if (strcmp(provider, "sev_guest") == 0)
		*ret = "snp";
	else if (strcmp(provider, "tdx_guest") == 0)
		*ret = "tdx";
	else
		return fail(ctx, KWA_ERR_NO_TEE, "evidence failed: configfs-tsm provider is neither "
		    "sev_guest nor tdx_guest");
	return 0;
}

/* Which evidence source: emulation, the configured TEE, or detection. */
static int
choose_tee(struct flow *f)
{
	struct kwa_ctx *ctx = f->ctx;
	struct att_detect d;
	int code;

	if (ctx->emulate != NULL) {
		f->tee = strcmp(ctx->emulate, "tdx") == 0 ? "tdx" :
		    strcmp(ctx->emulate, "cca") == 0 ? "cca" : "snp";
		return 0;
	}
	if (strcmp(ctx->tee, "snp") == 0 || strcmp(ctx->tee, "tdx") == 0) {
		const char *found = NULL;

		if ((code = tsm_tee(ctx, &found)) != 0)
			return code;
		if (strcmp(found, ctx->tee) != 0)
			return fail(ctx, KWA_ERR_NO_TEE, "evidence failed: --tee %s, but configfs-tsm's "
			    "provider is %s", ctx->tee, strcmp(found, "snp") == 0 ? "sev_guest" :
			    "tdx_guest");
		f->tee = found;
		return 0;
	}
	if (strcmp(ctx->tee, "auto") != 0) {
		f->tee = att_detect_tee_name(ctx->tee);
		return 0;
	}
	att_detect_run(&d);
	if (d.tee == NULL) {
		if (!d.tsm_present)
			return fail(ctx, KWA_ERR_NO_TEE, "no TEE found: no configfs-tsm and no TPM "
			    "(kwget --detect); use --emulate snp or --emulate tdx for testing");
		return fail(ctx, KWA_ERR_NO_TEE, "no TEE found: configfs-tsm: %s; no TPM",
		    d.tsm_error[0] != '\0' ? d.tsm_error : "no usable provider");
	}
	f->tee = d.tee;
	say(ctx, "detected: %s (%s)", d.tee, d.why);
	return 0;
}

/* Phase 1, before any network traffic: evidence source, manifest. */
static int
phase_prepare(struct flow *f)
{
	struct kwa_ctx *ctx = f->ctx;
	const struct att_manifest_opts man = {
		.root_store = ctx->root_store, .tls_config = ctx->tls_config,
		.tls_section = ctx->tls_section, .crypto_config = ctx->crypto_config,
	};
	const char *what = NULL;
	int r, code;

	if (ctx->base == NULL || ctx->resource == NULL)
		return fail(ctx, KWA_ERR_USAGE, "no %s configured", ctx->base == NULL ? "broker URL" :
		    "resource");
	if ((code = choose_tee(f)) != 0)
		return code;
	ctx->tee_used = f->tee;
	if (strcmp(f->tee, "tpm") == 0 && (code = prepare_tpm(f)) != 0)
		return code;
	if (exists(ctx->token_out))
		return fail(ctx, KWA_ERR_LOCAL, "output failed: %s exists; refusing to overwrite",
		    ctx->token_out);
	if (!ctx->no_manifest && (r = att_manifest_build(&man, &f->cfg, &what)) != 0) {
		const char *path = strcmp(what, "root-store") == 0 ? man.root_store :
		    strcmp(what, "crypto") == 0 ? man.crypto_config : man.tls_config;

		return fail(ctx, KWA_ERR_LOCAL, "manifest failed: %s%s%s: %s", what,
		    path != NULL ? " " : "", path != NULL ? path : "", kw_strerror(r));
	}
	say_manifest(ctx, f->cfg);
	return 0;
}

/* Phase 2: the TEE keys, from the platform RNG, in this process. */
static int
phase_keys(struct flow *f)
{
	struct kwa_ctx *ctx = f->ctx;
	int r;

	if ((r = att_rng_check()) != 0)
		return fail(ctx, KWA_ERR_LOCAL, "keys failed: platform RNG unavailable: %s",
		    kw_strerror(r));
	if ((r = att_keys_generate(&f->keys)) != 0)
		return fail(ctx, KWA_ERR_LOCAL, "keys failed: %s", kw_strerror(r));
	say(ctx, "generated TEE keys in this process: RSA-3072 (tee-pubkey), EC P-256 (tee-sigkey)");
	if (ctx->tee_key_out != NULL) {
		if ((r = write_tee_key(ctx->tee_key_out, f->keys->enc)) != 0)
			return fail(ctx, KWA_ERR_LOCAL, "output failed: cannot create %s: %s",
			    ctx->tee_key_out, kw_strerror(r));
		warn(ctx, "TESTING: wrote the TEE private key to %s", ctx->tee_key_out);
	}
	return 0;
}

/* SNP evidence (emulated or configfs-tsm) as tee-evidence JSON in *ret. */
static int
evidence_snp(struct flow *f, const uint8_t report_data[static ATT_REPORT_DATA_LEN], json_t **ret)
{
	struct kwa_ctx *ctx = f->ctx;
	int r;

	if (ctx->emulate != NULL) {
		struct att_emu_opts eo = {
			.dir = ctx->emu_dir,
			.measurement = ctx->have_meas ? ctx->emu_meas : NULL,
			.report_data = ctx->have_rd ? ctx->emu_rd : NULL,
			.debug = ctx->emu_debug,
		};

		if ((r = att_emu_snp_evidence(&eo, report_data, &f->ev)) != 0)
			return fail(ctx, KWA_ERR_LOCAL, "evidence failed: emulation chain in %s: %s",
			    ctx->emu_dir, kw_strerror(r));
		warn(ctx, "evidence: EMULATED SEV-SNP report signed by the test chain in %s "
		    "(not a TEE; testing only)%s%s", ctx->emu_dir, ctx->emu_debug ? ", DEBUG policy" : "",
		    ctx->have_rd ? ", REPORT_DATA overridden" : "");
	} else {
		if ((r = att_tsm_snp_evidence(att_detect_tsm_dir(), report_data, &f->ev)) != 0)
			return fail(ctx, KWA_ERR_LOCAL, "evidence failed: configfs-tsm: %s%s",
			    kw_strerror(r), r == KW_ERR_NOT_FOUND ?
			    " (the host supplied no VCEK/VLEK certificate)" : "");
		say(ctx, "evidence: SEV-SNP report from configfs-tsm with the host's %s certificate%s",
		    f->ev->ek_is_vlek ? "VLEK" : "VCEK", f->ev->nchain ? " and chain" : "");
	}
	if ((r = att_evidence_to_json(f->ev, ret)) != 0)
		return fail(ctx, KWA_ERR_LOCAL, "evidence failed: %s", kw_strerror(r));
	return 0;
}

/* The emulated TD's quote: the set in emu_dir, the platform it describes, the overrides. */
static int
emulated_tdx_quote(const struct kwa_ctx *ctx, const uint8_t report_data[static ATT_REPORT_DATA_LEN],
    uint8_t **ret, size_t *ret_len)
{
	struct att_tdx_emu *e = NULL;
	struct att_tdx_emu_opts eo;
	int r;

	if ((r = att_tdx_emu_load(ctx->emu_dir, kw_time_now(), &e, &eo)) != 0)
		return r;
	memcpy(eo.report_data, ctx->have_rd ? ctx->emu_rd : report_data, ATT_REPORT_DATA_LEN);
	if (ctx->have_meas)
		memcpy(eo.mrtd, ctx->emu_meas, sizeof(eo.mrtd));
	if (ctx->emu_debug)
		eo.td_attributes[0] |= 1;    /* TD_ATTRIBUTES.DEBUG */
	r = att_tdx_emu_quote(e, &eo, ret, ret_len);
	att_tdx_emu_free(e);
	return r;
}

/* Emulated Arm CCA evidence (testing only): tee-evidence {"token"} in *ret (att_cca_emu.h). */
static int
evidence_cca(struct flow *f, const uint8_t report_data[static ATT_REPORT_DATA_LEN], json_t **ret)
{
	struct kwa_ctx *ctx = f->ctx;
	int r;

	if ((r = att_cca_emu_evidence(ctx->emu_dir, ctx->have_rd ? ctx->emu_rd : report_data,
	    ctx->have_meas ? ctx->emu_meas : NULL, ctx->emu_debug, ret)) != 0)
		return fail(ctx, KWA_ERR_LOCAL, "evidence failed: CCA emulation in %s: %s", ctx->emu_dir,
		    kw_strerror(r));
	warn(ctx, "evidence: EMULATED Arm CCA token, platform token signed by the test CPAK in %s, "
	    "realm token by a fresh RAK (not a TEE; testing only)%s%s", ctx->emu_dir,
	    ctx->emu_debug ? ", DEBUG lifecycle" : "", ctx->have_rd ? ", challenge overridden" : "");
	return 0;
}

/* TDX evidence (emulated or configfs-tsm) as tee-evidence JSON in *ret. */
static int
evidence_tdx(struct flow *f, const uint8_t report_data[static ATT_REPORT_DATA_LEN], json_t **ret)
{
	struct kwa_ctx *ctx = f->ctx;
	int r;

	if (ctx->emulate != NULL) {
		if ((r = emulated_tdx_quote(ctx, report_data, &f->quote, &f->quote_len)) != 0)
			return fail(ctx, KWA_ERR_LOCAL, "evidence failed: TDX emulation set in %s: %s",
			    ctx->emu_dir, kw_strerror(r));
		warn(ctx, "evidence: EMULATED TDX quote (v4) signed by the NOT INTEL test chain in %s "
		    "(not a TEE; testing only)%s%s", ctx->emu_dir, ctx->emu_debug ? ", DEBUG TD" : "",
		    ctx->have_rd ? ", REPORT_DATA overridden" : "");
	} else {
		if ((r = att_tsm_tdx_quote(att_detect_tsm_dir(), report_data, &f->quote,
		    &f->quote_len)) != 0)
			return fail(ctx, KWA_ERR_LOCAL, "evidence failed: configfs-tsm: %s",
			    kw_strerror(r));
		say(ctx, "evidence: TD quote from configfs-tsm (%zu bytes)", f->quote_len);
	}
	if ((r = att_tdx_evidence_to_json(f->quote, f->quote_len, ret)) != 0)
		return fail(ctx, KWA_ERR_LOCAL, "evidence failed: %s", kw_strerror(r));
	return 0;
}

/*
 * Azure vTPM evidence as tee-evidence JSON in *ret: the quote's qualifyingData
 * is the 48-byte SHA-384(JCS(runtime-data)) (report_data without its zero
 * tail), the hardware's part comes from Azure's IMDS.
 */
static int
evidence_azure(struct flow *f, const uint8_t report_data[static ATT_REPORT_DATA_LEN], json_t **ret)
{
	struct kwa_ctx *ctx = f->ctx;
	int tdx = strcmp(f->tee, "az-tdx-vtpm") == 0, r;
	const uint8_t *tdreport = NULL;
	const char *why = NULL, *base = att_az_imds_base();

	if ((r = att_az_tpm_collect(NULL, report_data, 48, &f->az, &why)) != 0)
		return fail(ctx, r == KW_ERR_UNAVAILABLE ? KWA_ERR_NO_TEE : KWA_ERR_LOCAL,
		    "evidence failed: vTPM: %s (%s)", why, kw_strerror(r));
	if (f->az.tdx != tdx)
		return fail(ctx, KWA_ERR_LOCAL, "evidence failed: the HCL report is %s, not %s",
		    f->az.tdx ? "TDX (use --tee az-tdx-vtpm)" : "SNP (use --tee az-snp-vtpm)", f->tee);
	say(ctx, "evidence: HCL report (%zu bytes) from vTPM NV 0x01400001, quote of PCR 0-23 "
	    "(sha256) by the AK at 0x81000003", f->az.hcl_len);
	if (tdx) {
		if ((r = att_az_hcl_kind(f->az.hcl, f->az.hcl_len, &tdx, &tdreport)) != 0 ||
		    (r = att_az_imds_td_quote(base, tdreport, ATT_AZ_TDREPORT_LEN, &f->quote,
		    &f->quote_len)) != 0)
			return fail(ctx, KWA_ERR_LOCAL, "evidence failed: TD quote from IMDS %s%s: %s",
			    base, ATT_AZ_TDQUOTE_PATH, kw_strerror(r));
		say(ctx, "evidence: TD quote from IMDS (%zu bytes)", f->quote_len);
	} else {
		if ((r = att_az_imds_vcek(base, &f->vcek_pem)) != 0)
			return fail(ctx, KWA_ERR_LOCAL, "evidence failed: VCEK from IMDS %s%s: %s", base,
			    ATT_AZ_THIM_PATH, kw_strerror(r));
		say(ctx, "evidence: VCEK and chain from IMDS (THIM)");
	}
	if ((r = att_az_evidence_to_json(&f->az, f->vcek_pem, f->quote, f->quote_len, ret)) != 0)
		return fail(ctx, KWA_ERR_LOCAL, "evidence failed: %s", kw_strerror(r));
	return 0;
}

/* The /attest body of runtime-data and evj into f->body (and the saved copy). */
static int
attest_body(struct flow *f, json_t *evj)
{
	struct kwa_ctx *ctx = f->ctx;
	json_t *req = NULL;
	int code = KWA_ERR_LOCAL, r;

	if ((req = json_object()) == NULL || json_object_set(req, "runtime-data", f->rd) != 0 ||
	    json_object_set(req, "tee-evidence", evj) != 0) {
		code = fail(ctx, KWA_ERR_LOCAL, "evidence failed: out of memory");
		goto out;
	}
	if (ctx->emu_gpus > 0) {
		/* composite evidence: emulated GPUs bound to the same runtime-data */
		json_t *gpus = NULL;

		if ((r = att_nvgpu_emu_gpus(ctx->emu_gpu_dir, ctx->emu_gpus, f->rd, &gpus)) != 0 ||
		    json_object_set_new(req, "gpus", gpus) != 0) {
			code = fail(ctx, KWA_ERR_LOCAL, "evidence failed: emulated GPUs from %s: %s",
			    ctx->emu_gpu_dir, kw_strerror(r != 0 ? r : KW_ERR_NOMEM));
			goto out;
		}
		warn(ctx, "added %u EMULATED (NOT NVIDIA) GPU report%s", ctx->emu_gpus,
		    ctx->emu_gpus > 1 ? "s" : "");
	} else if (ctx->gpus_mode != KWA_GPUS_NONE) {
		/* composite evidence from the GPUs NVML reports (att_nvml.h) */
		json_t *gpus = NULL;
		char why[256];

		r = att_nvml_gpus(f->rd, &gpus, why, sizeof(why));
		if (r == KW_ERR_NOT_FOUND && ctx->gpus_mode == KWA_GPUS_AUTO) {
			/* no NVML or no GPU: CPU evidence alone, and the output as before */
		} else if (r != 0) {
			code = fail(ctx, r == KW_ERR_NOT_FOUND ? KWA_ERR_NO_TEE : KWA_ERR_LOCAL,
			    "evidence failed: GPUs through NVML: %s", why);
			goto out;
		} else if (json_object_set_new(req, "gpus", gpus) != 0) {
			code = fail(ctx, KWA_ERR_LOCAL, "evidence failed: out of memory");
			goto out;
		} else {
			say(ctx, "evidence: %s through NVML (composite evidence)", why);
		}
	}
	if ((f->body = kw_json_dumps(req, JSON_COMPACT)) == NULL) {
		code = fail(ctx, KWA_ERR_LOCAL, "evidence failed: out of memory");
		goto out;
	}
	if (ctx->save_attest != NULL &&
	    (r = kwa_write_new_file(ctx->save_attest, f->body, strlen(f->body))) != 0) {
		code = fail(ctx, KWA_ERR_LOCAL, "output failed: cannot create %s: %s", ctx->save_attest,
		    kw_strerror(r));
		goto out;
	}
	code = 0;
out:
	json_decref(req);
	return code;
}

/*
 * Phase 3 with a TPM: /auth carries the EK certificate and the AK, its
 * answer the credential; the TPM activates it and quotes with the binding.
 */
static int
phase_evidence_tpm(struct flow *f)
{
	struct kwa_ctx *ctx = f->ctx;
	uint8_t report_data[ATT_REPORT_DATA_LEN], cfg_digest[ATT_REPORT_DATA_LEN];
	json_t *params = NULL, *answer = NULL, *evj = NULL;
	char why[512];
	int code, r;

	if ((r = att_tpm_auth_params(f->tpm, &params, why, sizeof(why))) != 0)
		return fail(ctx, KWA_ERR_LOCAL, "evidence failed: TPM: %s", why);
	code = get_nonce(ctx, f->tee, params, &f->nonce, &answer);
	json_decref(params);
	if (code != 0)
		return code;
	say(ctx, "received a nonce and a credential for this TPM's EK and AK from the broker");
	code = KWA_ERR_LOCAL;
	if ((r = att_runtime_data_build(f->nonce, f->keys, f->cfg, &f->rd)) != 0 ||
	    (r = att_report_data(f->rd, report_data)) != 0) {
		code = fail(ctx, KWA_ERR_LOCAL, "evidence failed: runtime-data: %s", kw_strerror(r));
		goto out;
	}
	/* the manifest also into PCR 23 (docs/kwget.md, "Measurement registers"):
	 * SHA-384(JCS(config)), the first 48 bytes of att_report_data's output */
	if (f->cfg != NULL && (r = att_report_data(f->cfg, cfg_digest)) != 0) {
		code = fail(ctx, KWA_ERR_LOCAL, "evidence failed: manifest: %s", kw_strerror(r));
		goto out;
	}
	/* qualifyingData: the 48 bytes of SHA-384(JCS(runtime-data)) (REPORT_DATA without its padding) */
	if ((r = att_tpm_evidence(f->tpm, answer, report_data, f->cfg != NULL ? cfg_digest : NULL, f->event_log,
	    &evj, why, sizeof(why))) != 0) {
		code = fail(ctx, KWA_ERR_LOCAL, "evidence failed: TPM: %s", why);
		goto out;
	}
	say(ctx, "evidence: credential activated,%s PCRs 0-23 (sha256) quoted%s%s",
	    f->cfg != NULL ? " manifest digest extended into PCR 23," : "", f->event_log != NULL ? ", event log " : "", f->event_log != NULL ? f->event_log : "");
	code = attest_body(f, evj);
out:
	json_decref(evj);
	json_decref(answer);
	return code;
}

/* Phase 3: the challenge, runtime-data and evidence bound to it; the /attest body. */
static int
phase_evidence(struct flow *f)
{
	struct kwa_ctx *ctx = f->ctx;
	uint8_t report_data[ATT_REPORT_DATA_LEN];
	json_t *evj = NULL;
	int code, r;

	if (f->tpm != NULL)
		return phase_evidence_tpm(f);
	if ((code = get_nonce(ctx, f->tee, NULL, &f->nonce, NULL)) != 0)
		return code;
	say(ctx, "received a nonce from the broker (%zu characters)", strlen(f->nonce));
	code = KWA_ERR_LOCAL;
	if ((r = att_runtime_data_build(f->nonce, f->keys, f->cfg, &f->rd)) != 0 ||
	    (r = att_report_data(f->rd, report_data)) != 0) {
		code = fail(ctx, KWA_ERR_LOCAL, "evidence failed: runtime-data: %s", kw_strerror(r));
		goto out;
	}
	if (strcmp(f->tee, "tdx") == 0)
		code = evidence_tdx(f, report_data, &evj);
	else if (strcmp(f->tee, "cca") == 0)
		code = evidence_cca(f, report_data, &evj);
	else if (strncmp(f->tee, "az-", 3) == 0)
		code = evidence_azure(f, report_data, &evj);
	else
		code = evidence_snp(f, report_data, &evj);
	if (code != 0)
		goto out;
	code = attest_body(f, evj);
out:
	json_decref(evj);
	return code;
}

/* Phase 4: /attest, the token. */
static int
phase_attest(struct flow *f)
{
	struct kwa_ctx *ctx = f->ctx;
	int code, r;

	if ((code = attest(ctx, f->body, &f->token, &f->lifetime, f->dpop_nonce)) != 0)
		return code;
	say(ctx, "attested: received a TEE-bound token valid for %lld s", (long long)f->lifetime);
	if (ctx->token_out != NULL) {
		if ((r = kwa_write_new_file(ctx->token_out, f->token, strlen(f->token))) != 0)
			return fail(ctx, KWA_ERR_LOCAL, "output failed: cannot create %s: %s",
			    ctx->token_out, r == KW_ERR_EXISTS ? "file exists" : kw_strerror(r));
		warn(ctx, "TESTING: wrote the token to %s", ctx->token_out);
	}
	return 0;
}

/* Phase 5: the resource with a DPoP proof, the JWE opened with the TEE key. */
static int
phase_release(struct flow *f)
{
	struct kwa_ctx *ctx = f->ctx;
	char url[MAX_URL];
	int code, r;

	if ((code = make_url(ctx, url, "/kbs/v0/resource/", ctx->resource)) != 0)
		return code;
	if ((code = get_resource(ctx, url, f->keys->sig, f->token, f->dpop_nonce, &f->rs)) != 0)
		return code;
	if (ctx->jwe_out != NULL && (r = kwa_write_new_file(ctx->jwe_out, f->rs.buf, f->rs.len)) != 0)
		return fail(ctx, KWA_ERR_LOCAL, "output failed: cannot create %s: %s", ctx->jwe_out,
		    kw_strerror(r));
	if ((r = att_jwe_decrypt((const char *)f->rs.buf, f->rs.len, f->keys->enc, &f->key,
	    &f->kid)) != 0)
		return fail(ctx, KWA_ERR_LOCAL, "decrypt failed: the released JWE did not decrypt: %s",
		    kw_strerror(r));
	return 0;
}

/* ---- the public interface ---- */

unsigned int
kwa_version(void)
{
	return KWA_VERSION_NUMBER;
}

const char *
kwa_version_string(void)
{
	return KWA_VERSION;
}

const char *
kwa_strerror(int status)
{
	switch (status) {
	case KWA_OK: return "success";
	case KWA_ERR_USAGE: return "bad configuration";
	case KWA_ERR_UNREACHABLE: return "broker unreachable (network or TLS error)";
	case KWA_ERR_DENIED: return "attestation denied or not authenticated";
	case KWA_ERR_NOT_FOUND: return "no such resource";
	case KWA_ERR_SERVER: return "server error";
	case KWA_ERR_LOCAL: return "local error";
	case KWA_ERR_NO_TEE: return "evidence unavailable (no TEE found)";
	case KWA_ERR_BUFFER: return "key larger than the buffer";
	default: return "unknown status";
	}
}

/*
 * jansson's allocator: wipe what it frees (JSON carries tokens), but only when
 * the host program has not installed its own functions.
 */
static void
json_alloc_once(void)
{
	json_malloc_t m = NULL;
	json_free_t fr = NULL;

	json_get_alloc_funcs(&m, &fr);
	if (m == malloc && fr == free)
		kw_json_init();
}

int
kwa_new(struct kwa_ctx **ret)
{
	struct kwa_ctx *ctx;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return KWA_ERR_LOCAL;
	if ((ctx = calloc(1, sizeof(*ctx))) == NULL || (ctx->tee = strdup("auto")) == NULL) {
		free(ctx);
		curl_global_cleanup();
		return KWA_ERR_LOCAL;
	}
	json_alloc_once();
	ctx->connect_ms = 10000;
	ctx->request_ms = 60000;
	ctx->retries = 5;
	ctx->deadline_ms = 60000;
	ctx->base_ms = 500;
	ctx->cap_ms = 10000;
	*ret = ctx;
	return KWA_OK;
}

static void
free_str(char **p)
{
	if (*p != NULL)
		kw_free_wipe(*p);
	*p = NULL;
}

void
kwa_free(struct kwa_ctx *ctx)
{
	if (ctx == NULL)
		return;
	free_str(&ctx->base);
	free_str(&ctx->resource);
	free_str(&ctx->cacert);
	free_str(&ctx->tee);
	free_str(&ctx->emulate);
	free_str(&ctx->emu_gpu_dir);
	free_str(&ctx->emu_dir);
	free_str(&ctx->tpm_event_log);
	free_str(&ctx->root_store);
	free_str(&ctx->tls_config);
	free_str(&ctx->tls_section);
	free_str(&ctx->crypto_config);
	free_str(&ctx->save_attest);
	free_str(&ctx->jwe_out);
	free_str(&ctx->tee_key_out);
	free_str(&ctx->token_out);
	kw_wipe(ctx, sizeof(*ctx));
	free(ctx);
	curl_global_cleanup();
}

const char *
kwa_errmsg(const struct kwa_ctx *ctx)
{
	return ctx != NULL ? ctx->err : "no context";
}

void
kwa_set_log(struct kwa_ctx *ctx, kwa_log_fn fn, void *arg)
{
	ctx->log = fn;
	ctx->log_arg = arg;
}

/* *dst = a copy of s (NULL allowed); the old value is kept on failure. */
static int
set_str(struct kwa_ctx *ctx, char **dst, const char *s)
{
	char *c = NULL;

	if (s != NULL && (c = strdup(s)) == NULL)
		return fail(ctx, KWA_ERR_LOCAL, "out of memory");
	free_str(dst);
	*dst = c;
	return KWA_OK;
}

int
kwa_set_url(struct kwa_ctx *ctx, const char *url)
{
	size_t blen;
	char *b;

	if (url == NULL || strncmp(url, "https://", 8) != 0 || strlen(url) > MAX_BASE_URL)
		return fail(ctx, KWA_ERR_USAGE, "--url must be an https:// URL");
	/* The DPoP proof names the exact URL requested, which has no query or fragment. */
	if (strpbrk(url, "?# \t\r\n") != NULL)
		return fail(ctx, KWA_ERR_USAGE, "--url must not contain a query, a fragment or white space");
	blen = strlen(url);
	while (blen > 0 && url[blen - 1] == '/')
		blen--;
	if ((b = strndup(url, blen)) == NULL)
		return fail(ctx, KWA_ERR_LOCAL, "out of memory");
	free_str(&ctx->base);
	ctx->base = b;
	return KWA_OK;
}

int
kwa_set_cacert(struct kwa_ctx *ctx, const char *path)
{
	if (path != NULL && access(path, R_OK) != 0)
		return fail(ctx, KWA_ERR_USAGE, "--cacert %s: %s", path, strerror(errno));
	return set_str(ctx, &ctx->cacert, path);
}

int
kwa_set_resource(struct kwa_ctx *ctx, const char *resource)
{
	if (resource == NULL || !kw_resource_path_valid(resource))
		return fail(ctx, KWA_ERR_USAGE, "--resource must be REPO/TYPE/TAG of [A-Za-z0-9._-], "
		    "at most %d characters each", KW_NAME_MAX);
	return set_str(ctx, &ctx->resource, resource);
}

int
kwa_set_tee(struct kwa_ctx *ctx, const char *tee)
{
	if (tee == NULL || (strcmp(tee, "auto") != 0 && att_detect_tee_name(tee) == NULL))
		return fail(ctx, KWA_ERR_USAGE, "--tee supports auto, snp, tdx, tpm, az-snp-vtpm and "
		    "az-tdx-vtpm");
	return set_str(ctx, &ctx->tee, tee);
}

int
kwa_set_tpm(struct kwa_ctx *ctx, uint32_t ek_handle, uint32_t ak_handle, const char *event_log,
    int no_event_log)
{
	if ((ek_handle != 0 && (ek_handle < 0x81000000u || ek_handle > 0x81ffffffu)) ||
	    (ak_handle != 0 && (ak_handle < 0x81000000u || ak_handle > 0x81ffffffu)))
		return fail(ctx, KWA_ERR_USAGE, "--tpm-ek-handle/--tpm-ak-handle need a persistent "
		    "handle 0x81000000..0x81ffffff");
	if (event_log != NULL && no_event_log)
		return fail(ctx, KWA_ERR_USAGE, "give at most one of --tpm-event-log FILE and "
		    "--tpm-no-event-log");
	if (set_str(ctx, &ctx->tpm_event_log, event_log) != KWA_OK)
		return KWA_ERR_LOCAL;
	ctx->tpm_ek_handle = ek_handle;
	ctx->tpm_ak_handle = ak_handle;
	ctx->tpm_no_event_log = no_event_log != 0;
	return KWA_OK;
}

int
kwa_set_emulation(struct kwa_ctx *ctx, const char *tee, const char *dir)
{
	char *t = NULL;

	if (tee == NULL) {
		free_str(&ctx->emulate);
		free_str(&ctx->emu_dir);
		return KWA_OK;
	}
	if (strcmp(tee, "snp") != 0 && strcmp(tee, "tdx") != 0 && strcmp(tee, "cca") != 0)
		return fail(ctx, KWA_ERR_USAGE, "--emulate supports 'snp', 'tdx' and 'cca'");
	if (dir == NULL)
		return fail(ctx, KWA_ERR_USAGE, "--emulate %s needs --emu-dir DIR", tee);
	if ((t = strdup(tee)) == NULL || set_str(ctx, &ctx->emu_dir, dir) != KWA_OK) {
		free(t);
		return fail(ctx, KWA_ERR_LOCAL, "out of memory");
	}
	free_str(&ctx->emulate);
	ctx->emulate = t;
	return KWA_OK;
}

int
kwa_set_timeouts(struct kwa_ctx *ctx, unsigned int connect_ms, unsigned int request_ms)
{
	if (connect_ms < 1 || request_ms < 1 || connect_ms > MAX_DEADLINE_MS ||
	    request_ms > MAX_DEADLINE_MS)
		return fail(ctx, KWA_ERR_USAGE, "timeouts must be 1 ms to 1 day");
	ctx->connect_ms = connect_ms;
	ctx->request_ms = request_ms;
	return KWA_OK;
}

int
kwa_set_retries(struct kwa_ctx *ctx, unsigned int retries, unsigned int deadline_ms)
{
	if (retries > MAX_RETRIES || deadline_ms < 1 || deadline_ms > MAX_DEADLINE_MS)
		return fail(ctx, KWA_ERR_USAGE, "retries must be 0 to %u and the deadline 1 ms to "
		    "1 day", MAX_RETRIES);
	ctx->retries = retries;
	ctx->deadline_ms = deadline_ms;
	return KWA_OK;
}

int
kwa_set_backoff(struct kwa_ctx *ctx, unsigned int base_ms, unsigned int cap_ms)
{
	if (base_ms < 1 || base_ms > cap_ms || cap_ms > MAX_DEADLINE_MS)
		return fail(ctx, KWA_ERR_USAGE, "the backoff needs 1 <= base <= cap <= 1 day");
	ctx->base_ms = base_ms;
	ctx->cap_ms = cap_ms;
	return KWA_OK;
}

int
kwa_set_manifest(struct kwa_ctx *ctx, const char *root_store, const char *tls_config,
    const char *tls_section, const char *crypto_config)
{
	char *v[4] = {NULL, NULL, NULL, NULL};
	const char *in[4] = {root_store, tls_config, tls_section, crypto_config};
	char **dst[4] = {&ctx->root_store, &ctx->tls_config, &ctx->tls_section, &ctx->crypto_config};

	if (tls_section != NULL && tls_config == NULL)
		return fail(ctx, KWA_ERR_USAGE, "--tls-config-section needs --tls-config FILE");
	for (size_t i = 0; i < 4; i++) {
		if (in[i] != NULL && (v[i] = strdup(in[i])) == NULL) {
			for (size_t k = 0; k < i; k++)
				free(v[k]);
			return fail(ctx, KWA_ERR_LOCAL, "out of memory");
		}
	}
	for (size_t i = 0; i < 4; i++) {
		free_str(dst[i]);
		*dst[i] = v[i];   /* transferred */
	}
	return KWA_OK;
}

int
kwa_set_manifest_enabled(struct kwa_ctx *ctx, int enabled)
{
	ctx->no_manifest = !enabled;
	return KWA_OK;
}

int
kwa_test_set_emu(struct kwa_ctx *ctx, const uint8_t *measurement, const uint8_t *report_data,
    int debug)
{
	ctx->have_meas = measurement != NULL;
	if (measurement != NULL)
		memcpy(ctx->emu_meas, measurement, sizeof(ctx->emu_meas));
	ctx->have_rd = report_data != NULL;
	if (report_data != NULL)
		memcpy(ctx->emu_rd, report_data, sizeof(ctx->emu_rd));
	ctx->emu_debug = debug != 0;
	return KWA_OK;
}

int
kwa_test_set_gpus(struct kwa_ctx *ctx, unsigned int n, const char *dir)
{
	if (n == 0) {
		ctx->emu_gpus = 0;
		free_str(&ctx->emu_gpu_dir);
		return KWA_OK;
	}
	if (n > ATT_NVGPU_EMU_MAX || dir == NULL)
		return fail(ctx, KWA_ERR_USAGE, "--emu-gpus needs 1..%d and --emu-gpu-dir DIR",
		    ATT_NVGPU_EMU_MAX);
	if (set_str(ctx, &ctx->emu_gpu_dir, dir) != KWA_OK)
		return fail(ctx, KWA_ERR_LOCAL, "out of memory");
	ctx->emu_gpus = n;
	return KWA_OK;
}

int
kwa_set_gpus(struct kwa_ctx *ctx, int mode)
{
	if (mode != KWA_GPUS_NONE && mode != KWA_GPUS_AUTO && mode != KWA_GPUS_REQUIRED)
		return fail(ctx, KWA_ERR_USAGE, "--gpus takes auto, none or required");
	ctx->gpus_mode = mode;
	return KWA_OK;
}

int
kwa_test_set_outputs(struct kwa_ctx *ctx, const char *save_attest, const char *jwe_out,
    const char *tee_key_out, const char *token_out)
{
	if (set_str(ctx, &ctx->save_attest, save_attest) != 0 ||
	    set_str(ctx, &ctx->jwe_out, jwe_out) != 0 ||
	    set_str(ctx, &ctx->tee_key_out, tee_key_out) != 0 ||
	    set_str(ctx, &ctx->token_out, token_out) != 0)
		return KWA_ERR_LOCAL;
	return KWA_OK;
}

const char *
kwa_tee(const struct kwa_ctx *ctx)
{
	return ctx->tee_used;
}

int
kwa_fetch(struct kwa_ctx *ctx, uint8_t *buf, size_t cap, size_t *ret_len)
{
	static int (*const phases[])(struct flow *) = {
		phase_prepare, phase_keys, phase_evidence, phase_attest, phase_release,
	};
	struct flow f;
	int64_t end;
	int code = 0;

	ctx->err[0] = '\0';
	ctx->tee_used = NULL;
	end = mono_ms() + ctx->deadline_ms;
	ctx->deadline.tv_sec = (time_t)(end / 1000);
	ctx->deadline.tv_nsec = (long)(end % 1000) * 1000000;
	memset(&f, 0, sizeof(f));
	f.ctx = ctx;
	if (buf == NULL || ret_len == NULL)
		code = fail(ctx, KWA_ERR_USAGE, "no buffer for the key");
	for (size_t i = 0; code == 0 && i < KW_ARRAY_SIZE(phases); i++)
		code = phases[i](&f);
	if (code == 0 && kw_secret_len(f.key) > cap)
		code = fail(ctx, KWA_ERR_BUFFER, "resource failed: the key (%zu bytes) is larger than "
		    "the buffer (%zu bytes)", kw_secret_len(f.key), cap);
	if (code == 0) {
		memcpy(buf, kw_secret_cptr(f.key), kw_secret_len(f.key));
		*ret_len = kw_secret_len(f.key);
	} else if (buf != NULL) {
		kw_wipe(buf, cap);
	}
	flow_free(&f);
	return code;
}

/* Append one line to report (cut short, always NUL-terminated, when it does not fit). */
static void KW_PRINTF(3, 4)
report_line(char *report, size_t cap, const char *fmt, ...)
{
	size_t l;
	va_list ap;

	if (report == NULL || cap == 0)
		return;
	l = strnlen(report, cap);
	if (l >= cap - 1)
		return;
	va_start(ap, fmt);
	vsnprintf(report + l, cap - l, fmt, ap);
	va_end(ap);
}

int
kwa_detect(const char **ret_tee, char *report, size_t report_cap)
{
	struct att_detect d;

	att_detect_run(&d);
	if (report != NULL && report_cap > 0)
		report[0] = '\0';
	if (!d.tsm_present)
		report_line(report, report_cap, "configfs-tsm: absent (%s)\n", d.tsm_dir);
	else if (strcmp(d.tsm_provider, "sev_guest") == 0 || strcmp(d.tsm_provider, "tdx_guest") == 0)
		report_line(report, report_cap, "configfs-tsm: %s (%s)\n", d.tsm_provider, d.tsm_dir);
	else
		report_line(report, report_cap, "configfs-tsm: unusable (%s: %s)\n", d.tsm_dir,
		    d.tsm_error);
	if (d.tpm_present)
		report_line(report, report_cap, "tpm: present (%s)\n", d.tpm_tcti);
	else if (d.tpm_tcti[0] != '\0')
		report_line(report, report_cap, "tpm: absent (%s: %s)\n", d.tpm_tcti, d.tpm_error);
	else
		report_line(report, report_cap, "tpm: absent (%s)\n", d.tpm_error);
	if (!d.tpm_present)
		report_line(report, report_cap, "azure-vtpm: not-checked\n");
	else if (d.az_hcl)
		report_line(report, report_cap, "azure-vtpm: %s (HCL report in NV 0x01400001)\n",
		    d.az_tdx ? "tdx" : "snp");
	else
		report_line(report, report_cap, "azure-vtpm: absent (no HCL report in NV 0x01400001)\n");
	report_line(report, report_cap, "tee: %s\n", d.tee != NULL ? d.tee : "none");
	if (d.tee == NULL)
		return KWA_ERR_NO_TEE;
	if (ret_tee != NULL)
		*ret_tee = d.tee;
	return KWA_OK;
}
