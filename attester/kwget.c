/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kwget: fetch a key from a keywarden broker with fresh SEV-SNP or Intel TDX
 * evidence.
 * auth (nonce) -> attest (runtime-data + evidence -> TEE-bound token) ->
 * resource (token + DPoP proof signed with tee-sigkey -> JWE encrypted to
 * the TEE key) -> decrypt -> write. See docs/kwget.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>

#include "attester.h"
#include "att_nvgpu_emu.h"
#include "att_tdx_emu.h"
#include "att_tpm.h"
#include "att_azure.h"
#include "kw_build.h"
#include "kw_json.h"
#include "kw_name.h"
#include "kw_log.h"
#include "kw_secret.h"
#include "kw_util.h"

enum {
	EXIT_USAGE = 1,
	EXIT_NET = 2,
	EXIT_DENIED = 3,
	EXIT_NOTFOUND = 4,
	EXIT_SERVER = 5,
	EXIT_LOCAL = 6,
};

#define MAX_AUTH_RESP 4096
#define MAX_ATTEST_RESP (ATT_MAX_TOKEN + 1024)   /* {"token": ...} */
#define MAX_RESOURCE_RESP ATT_MAX_JWE
#define MAX_NONCE 1024
#define MAX_URL 2048
#define HTTP_RETRY_NONCE 100 /* http_do: 401 use_dpop_nonce with a DPoP-Nonce; not an exit code */

struct opts {
	const char *url;
	const char *resource;
	const char *cacert;
	const char *out;
	int to_stdout;
	const char *emulate;           /* "snp" or "tdx" */
	const char *emu_dir;
	const char *emu_collateral_out;   /* write the emulated platform's TDX collateral, exit */
	int emu_debug;
	int have_meas, have_rd;
	uint8_t emu_meas[ATT_MEASUREMENT_LEN];
	uint8_t emu_rd[ATT_REPORT_DATA_LEN];
	const char *save_attest;
	const char *jwe_out;
	const char *tee_key_out;
	const char *token_out;
	int quiet;
	struct att_manifest_opts man;
	int no_manifest;
	const char *tee;               /* --tee: "tpm", "az-snp-vtpm", "az-tdx-vtpm" (otherwise configfs-tsm or --emulate) */
	uint32_t tpm_ek_handle, tpm_ak_handle;   /* persistent handles, 0: create */
	const char *tpm_event_log;     /* --tpm-event-log FILE */
	int tpm_no_event_log;
	unsigned int emu_gpus;         /* --emu-gpus N: emulated GPUs beside the CPU evidence */
	const char *emu_gpu_dir;       /* --emu-gpu-dir DIR: scripts/mk-nvgpu-emu.sh */
};

static int quiet;

static void KW_PRINTF(1, 2)
say(const char *fmt, ...)
{
	va_list ap;

	if (quiet)
		return;
	fputs("kwget: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Errors are always printed, as one line. */
static int KW_PRINTF(2, 3)
fail(int code, const char *fmt, ...)
{
	va_list ap;

	fputs("kwget: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

static void
usage(FILE *f)
{
	fputs("usage: kwget --url URL --resource REPO/TYPE/TAG (--out FILE | --stdout)\n"
	      "             [--cacert FILE] [--quiet]\n"
	      "             [--emulate snp|tdx --emu-dir DIR [--emu-measurement HEX] [--emu-debug]\n"
	      "              [--emu-report-data HEX]]\n"
	      "             [--save-attest-request FILE] [--jwe-out FILE] [--tee-key-out FILE]\n"
	      "             [--token-out FILE]\n"
	      "             [--root-store PATH] [--tls-config FILE [--tls-config-section NAME]]\n"
	      "             [--crypto-config FILE] | [--no-manifest]\n"
	      "             [--tee tpm [--tpm-ek-handle HEX] [--tpm-ak-handle HEX]\n"
	      "              [--tpm-event-log FILE | --tpm-no-event-log]]\n"
	      "             [--tee az-snp-vtpm|az-tdx-vtpm]\n"
	      "       kwget --emulate tdx --emu-dir DIR --emu-collateral-out FILE\n"
	      "       kwget --help | --version\n"
	      "\n"
	      "Proves this guest with fresh SEV-SNP or TDX evidence (configfs-tsm) to the keywarden\n"
	      "broker at URL (https only, TLS 1.3) and writes the released key to FILE\n"
	      "(created new, mode 0600) or raw to standard output.\n"
	      "\n"
	      "  --url URL              broker base URL, https://host[:port][/prefix]\n"
	      "  --resource R/T/G       key to fetch: repository/type/tag\n"
	      "  --cacert FILE          CA certificate(s) to verify the broker (default: system store)\n"
	      "  --out FILE             write the key here (must not exist)\n"
	      "  --stdout               write the raw key bytes to standard output\n"
	      "  --emulate snp|tdx      TESTING ONLY: emulated SEV-SNP report or TDX quote signed by\n"
	      "                         a test chain (every certificate says it is not AMD's/Intel's)\n"
	      "  --emu-dir DIR          the test chain: scripts/mk-emu-chain.sh (snp),\n"
	      "                         scripts/mk-tdx-emu.sh (tdx)\n"
	      "  --emu-measurement HEX  emulated MEASUREMENT (snp) or MRTD (tdx), 48 bytes\n"
	      "  --emu-debug            emulated guest with debugging on (POLICY.DEBUG, TD_ATTRIBUTES.DEBUG)\n"
	      "  --emu-report-data HEX  emulated REPORT_DATA (64 bytes), breaking the binding\n"
	      "  --emu-collateral-out FILE\n"
	      "                         write Intel-format collateral (QuoteCollateralV3) matching\n"
	      "                         the emulated TDX platform, valid 30 days, for a broker's\n"
	      "                         offline tdx.collateral directory, and exit\n"
	      "  --emu-gpus N           TESTING ONLY: add N (1..8) emulated NVIDIA GPU reports\n"
	      "                         (composite evidence, \"gpus\") signed by the NOT NVIDIA\n"
	      "                         chain in --emu-gpu-dir (scripts/mk-nvgpu-emu.sh)\n"
	      "  --emu-gpu-dir DIR      the GPU emulation chain for --emu-gpus\n"
	      "  --save-attest-request F  write the exact attest request body to F\n"
	      "  --jwe-out FILE         write the compact JWE received to FILE\n"
	      "  --tee-key-out FILE     write the TEE RSA private key (PEM, 0600) to FILE\n"
	      "  --token-out FILE       write the TEE-bound token from attest (0600) to FILE\n"
	      "  --root-store PATH      measure this trust store (PEM bundle or CApath directory)\n"
	      "  --tls-config FILE      measure the TLS settings of this OpenSSL configuration\n"
	      "                         (default: this process's OpenSSL TLS defaults)\n"
	      "  --tls-config-section NAME\n"
	      "                         the ssl_conf entry to read (default: system_default)\n"
	      "  --crypto-config FILE   the workload's declared key lengths (JSON)\n"
	      "  --no-manifest          send an empty configuration manifest (\"config\": {})\n"
	      "  --tee tpm              attest with this machine's TPM 2.0 (credential activation;\n"
	      "                         TCTI from $TPM2TOOLS_TCTI, else $TCTI, else device:/dev/tpmrm0)\n"
	      "  --tpm-ek-handle HEX    use the persistent EK at HEX (default: create it from the\n"
	      "                         TCG default RSA-2048 template)\n"
	      "  --tpm-ak-handle HEX    use the persistent AK at HEX (default: create a primary\n"
	      "                         restricted RSA-2048 RSASSA/SHA-256 signing key)\n"
	      "  --tpm-event-log FILE   send this TCG event log (default: the kernel's\n"
	      "                         binary_bios_measurements when readable)\n"
	      "  --tpm-no-event-log     send no event log\n"
	      "  --tee az-snp-vtpm|az-tdx-vtpm\n"
	      "                         attest through an Azure confidential VM's vTPM: the HCL\n"
	      "                         report (NV 0x01400001), a quote by the AK at 0x81000003\n"
	      "                         (TCTI from $KWGET_TCTI, else $TPM2TOOLS_TCTI, else\n"
	      "                         device:/dev/tpmrm0), and from Azure IMDS the VCEK (SNP)\n"
	      "                         or the TD quote (TDX)\n"
	      "  --quiet                print errors only\n"
	      "\n"
	      "Exit: 0 ok, 1 usage, 2 network/TLS, 3 attestation denied (401/403), 4 not found,\n"
	      "      5 other server error, 6 local evidence/crypto/output error.\n",
	    f);
}

/* ---- files ---- */

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

/* New file, never an existing one or a symlink, mode 0600. */
static int
write_new_file(const char *path, const void *p, size_t n)
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
	r = write_new_file(path, m->data, m->length);
	OPENSSL_cleanse(m->data, m->length);
out:
	BIO_free(b);
	return r;
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
};

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

/* Print the RFC 7807 problem (or the bare status) and map the status to an exit code. */
static int
http_error(const char *step, long status, const struct resp *rs)
{
	char title[160], detail[320];
	const char *t = NULL, *d = NULL;
	size_t l;
	json_t *j = NULL;
	int code;

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
	if (status == 401 || status == 403)
		code = EXIT_DENIED;
	else if (status == 404)
		code = EXIT_NOTFOUND;
	else
		code = EXIT_SERVER;
	return fail(code, "%s failed: HTTP %ld %s: %s", step, status, title, detail);
}

/*
 * One request. body == NULL means GET; extra holds more header lines
 * (NULL-terminated, may be NULL). On success (HTTP 200 with the expected
 * content type) *rs holds the body; otherwise the error is printed and the
 * exit code returned, except that with nonce_retry a 401 that asks for a
 * DPoP nonce and carries one returns HTTP_RETRY_NONCE silently. *hd receives
 * the response headers kwget acts on.
 */
static int
http_do(const struct opts *o, const char *step, const char *url, const char *body,
    const char *const *extra, const char *want_ctype, size_t max, struct resp *rs,
    struct hdrs *hd, int nonce_retry)
{
	char errbuf[CURL_ERROR_SIZE], ebuf[CURL_ERROR_SIZE + 16];
	struct curl_slist *hdr = NULL, *h;
	CURL *c = NULL;
	CURLcode cr;
	long status = 0;
	char *ctype = NULL;
	int code = EXIT_NET;

	memset(rs, 0, sizeof(*rs));
	memset(hd, 0, sizeof(*hd));
	rs->max = max;
	if ((rs->buf = malloc(max + 1)) == NULL)
		return fail(EXIT_LOCAL, "%s failed: out of memory", step);
	errbuf[0] = '\0';
	if ((c = curl_easy_init()) == NULL) {
		code = fail(EXIT_LOCAL, "%s failed: cannot initialise libcurl", step);
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
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_3);
	if (o->cacert != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, o->cacert);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "kwget/" KW_VERSION);
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
		code = fail(EXIT_SERVER, "%s failed: response larger than %zu bytes", step, max);
		goto out;
	}
	if (cr != CURLE_OK) {
		kw_log_escape(errbuf[0] != '\0' ? errbuf : curl_easy_strerror(cr), CURL_ERROR_SIZE,
		    ebuf, sizeof(ebuf));
		code = fail(EXIT_NET, "%s failed: %s", step, ebuf);
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (status == 401 && nonce_retry && hd->use_dpop_nonce && hd->nonce[0] != '\0') {
		code = HTTP_RETRY_NONCE;
		goto out;
	}
	if (status != 200) {
		code = http_error(step, status, rs);
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ctype);
	if (ctype == NULL || strncasecmp(ctype, want_ctype, strlen(want_ctype)) != 0 ||
	    (ctype[strlen(want_ctype)] != '\0' && ctype[strlen(want_ctype)] != ';')) {
		code = fail(EXIT_SERVER, "%s failed: HTTP 200 with content type other than %s", step,
		    want_ctype);
		goto out;
	}
	rs->buf[rs->len] = '\0';
	code = 0;
	goto out;
nomem:
	code = fail(EXIT_LOCAL, "%s failed: out of memory", step);
out:
	curl_slist_free_all(hdr);
	if (c != NULL)
		curl_easy_cleanup(c);
	if (code != 0)
		resp_free(rs);
	return code;
}

/* ---- arguments ---- */

enum {
	OPT_URL = 256, OPT_RESOURCE, OPT_CACERT, OPT_OUT, OPT_STDOUT, OPT_EMULATE, OPT_EMU_DIR,
	OPT_EMU_MEAS, OPT_EMU_DEBUG, OPT_EMU_RD, OPT_SAVE_ATTEST, OPT_JWE_OUT, OPT_TEE_KEY_OUT,
	OPT_TOKEN_OUT, OPT_QUIET, OPT_HELP, OPT_VERSION, OPT_ROOT_STORE, OPT_TLS_CONFIG,
	OPT_TLS_SECTION, OPT_CRYPTO_CONFIG, OPT_NO_MANIFEST, OPT_EMU_COLLATERAL_OUT,
	OPT_TEE, OPT_TPM_EK_HANDLE, OPT_TPM_AK_HANDLE, OPT_TPM_EVENT_LOG, OPT_TPM_NO_EVENT_LOG,
	OPT_EMU_GPUS, OPT_EMU_GPU_DIR,
};

static const struct option longopts[] = {
	{"url", required_argument, NULL, OPT_URL},
	{"resource", required_argument, NULL, OPT_RESOURCE},
	{"cacert", required_argument, NULL, OPT_CACERT},
	{"out", required_argument, NULL, OPT_OUT},
	{"stdout", no_argument, NULL, OPT_STDOUT},
	{"emulate", required_argument, NULL, OPT_EMULATE},
	{"emu-dir", required_argument, NULL, OPT_EMU_DIR},
	{"emu-measurement", required_argument, NULL, OPT_EMU_MEAS},
	{"emu-debug", no_argument, NULL, OPT_EMU_DEBUG},
	{"emu-report-data", required_argument, NULL, OPT_EMU_RD},
	{"emu-collateral-out", required_argument, NULL, OPT_EMU_COLLATERAL_OUT},
	{"save-attest-request", required_argument, NULL, OPT_SAVE_ATTEST},
	{"jwe-out", required_argument, NULL, OPT_JWE_OUT},
	{"tee-key-out", required_argument, NULL, OPT_TEE_KEY_OUT},
	{"token-out", required_argument, NULL, OPT_TOKEN_OUT},
	{"quiet", no_argument, NULL, OPT_QUIET},
	{"root-store", required_argument, NULL, OPT_ROOT_STORE},
	{"tls-config", required_argument, NULL, OPT_TLS_CONFIG},
	{"tls-config-section", required_argument, NULL, OPT_TLS_SECTION},
	{"crypto-config", required_argument, NULL, OPT_CRYPTO_CONFIG},
	{"no-manifest", no_argument, NULL, OPT_NO_MANIFEST},
	{"tee", required_argument, NULL, OPT_TEE},
	{"tpm-ek-handle", required_argument, NULL, OPT_TPM_EK_HANDLE},
	{"tpm-ak-handle", required_argument, NULL, OPT_TPM_AK_HANDLE},
	{"tpm-event-log", required_argument, NULL, OPT_TPM_EVENT_LOG},
	{"tpm-no-event-log", no_argument, NULL, OPT_TPM_NO_EVENT_LOG},
	{"emu-gpus", required_argument, NULL, OPT_EMU_GPUS},
	{"emu-gpu-dir", required_argument, NULL, OPT_EMU_GPU_DIR},
	{"help", no_argument, NULL, OPT_HELP},
	{"version", no_argument, NULL, OPT_VERSION},
	{NULL, 0, NULL, 0},
};

/* A persistent handle: 0x81000000..0x81ffffff in hex. */
static int
parse_handle(const char *s, uint32_t *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 16);
	if (errno != 0 || end == s || *end != '\0' || v < 0x81000000ul || v > 0x81fffffful)
		return -1;
	*ret = (uint32_t)v;
	return 0;
}

/* 0 to run, -1 to exit 0 (help/version), or an exit code. */
static int
parse_args(int argc, char **argv, struct opts *o)
{
	int c;

	memset(o, 0, sizeof(*o));
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_URL: o->url = optarg; break;
		case OPT_RESOURCE: o->resource = optarg; break;
		case OPT_CACERT: o->cacert = optarg; break;
		case OPT_OUT: o->out = optarg; break;
		case OPT_STDOUT: o->to_stdout = 1; break;
		case OPT_EMULATE: o->emulate = optarg; break;
		case OPT_EMU_DIR: o->emu_dir = optarg; break;
		case OPT_EMU_DEBUG: o->emu_debug = 1; break;
		case OPT_EMU_COLLATERAL_OUT: o->emu_collateral_out = optarg; break;
		case OPT_EMU_MEAS:
			if (kw_hex_decode(optarg, o->emu_meas, sizeof(o->emu_meas)) != 0)
				return fail(EXIT_USAGE, "--emu-measurement needs 96 hex digits (48 bytes)");
			o->have_meas = 1;
			break;
		case OPT_EMU_RD:
			if (kw_hex_decode(optarg, o->emu_rd, sizeof(o->emu_rd)) != 0)
				return fail(EXIT_USAGE, "--emu-report-data needs 128 hex digits (64 bytes)");
			o->have_rd = 1;
			break;
		case OPT_SAVE_ATTEST: o->save_attest = optarg; break;
		case OPT_JWE_OUT: o->jwe_out = optarg; break;
		case OPT_TEE_KEY_OUT: o->tee_key_out = optarg; break;
		case OPT_TOKEN_OUT: o->token_out = optarg; break;
		case OPT_QUIET: o->quiet = 1; break;
		case OPT_ROOT_STORE: o->man.root_store = optarg; break;
		case OPT_TLS_CONFIG: o->man.tls_config = optarg; break;
		case OPT_TLS_SECTION: o->man.tls_section = optarg; break;
		case OPT_CRYPTO_CONFIG: o->man.crypto_config = optarg; break;
		case OPT_NO_MANIFEST: o->no_manifest = 1; break;
		case OPT_TEE: o->tee = optarg; break;
		case OPT_TPM_EK_HANDLE:
		case OPT_TPM_AK_HANDLE:
			if (parse_handle(optarg, c == OPT_TPM_EK_HANDLE ? &o->tpm_ek_handle : &o->tpm_ak_handle) != 0)
				return fail(EXIT_USAGE, "--tpm-ek-handle/--tpm-ak-handle need a persistent "
				    "handle 0x81000000..0x81ffffff");
			break;
		case OPT_TPM_EVENT_LOG: o->tpm_event_log = optarg; break;
		case OPT_TPM_NO_EVENT_LOG: o->tpm_no_event_log = 1; break;
		case OPT_EMU_GPUS:
			if (strlen(optarg) != 1 || optarg[0] < '1' || optarg[0] > '0' + ATT_NVGPU_EMU_MAX)
				return fail(EXIT_USAGE, "--emu-gpus needs a number 1..%d", ATT_NVGPU_EMU_MAX);
			o->emu_gpus = (unsigned int)(optarg[0] - '0');
			break;
		case OPT_EMU_GPU_DIR: o->emu_gpu_dir = optarg; break;
		case OPT_HELP: usage(stdout); return -1;
		case OPT_VERSION: printf("kwget %s\n", KW_VERSION); return -1;
		default:
			return fail(EXIT_USAGE, "unknown or incomplete option (see kwget --help)");
		}
	}
	if (optind != argc)
		return fail(EXIT_USAGE, "unexpected argument (see kwget --help)");
	if ((o->emu_gpus != 0) != (o->emu_gpu_dir != NULL))
		return fail(EXIT_USAGE, "--emu-gpus N and --emu-gpu-dir DIR go together");
	if (o->emu_collateral_out != NULL) {
		if (o->emulate == NULL || strcmp(o->emulate, "tdx") != 0 || o->emu_dir == NULL)
			return fail(EXIT_USAGE, "--emu-collateral-out needs --emulate tdx --emu-dir DIR");
		if (o->url != NULL || o->resource != NULL || o->out != NULL || o->to_stdout ||
		    o->have_meas || o->have_rd || o->emu_debug)
			return fail(EXIT_USAGE, "--emu-collateral-out takes only --emulate tdx and --emu-dir");
		return 0;
	}
	if (o->url == NULL)
		return fail(EXIT_USAGE, "missing --url (see kwget --help)");
	if (strncmp(o->url, "https://", 8) != 0 || strlen(o->url) > MAX_URL - 256)
		return fail(EXIT_USAGE, "--url must be an https:// URL");
	/* The DPoP proof names the exact URL requested, which has no query or fragment. */
	if (strpbrk(o->url, "?# \t\r\n") != NULL)
		return fail(EXIT_USAGE, "--url must not contain a query, a fragment or white space");
	if (o->resource == NULL)
		return fail(EXIT_USAGE, "missing --resource REPO/TYPE/TAG (see kwget --help)");
	if (!kw_resource_path_valid(o->resource))
		return fail(EXIT_USAGE, "--resource must be REPO/TYPE/TAG of [A-Za-z0-9._-], "
		    "at most %d characters each", KW_NAME_MAX);
	if ((o->out != NULL) == (o->to_stdout != 0))
		return fail(EXIT_USAGE, "give exactly one of --out FILE or --stdout");
	if (o->no_manifest && (o->man.root_store != NULL || o->man.tls_config != NULL ||
	    o->man.tls_section != NULL || o->man.crypto_config != NULL))
		return fail(EXIT_USAGE, "--no-manifest excludes --root-store, --tls-config, "
		    "--tls-config-section and --crypto-config");
	if (o->man.tls_section != NULL && o->man.tls_config == NULL)
		return fail(EXIT_USAGE, "--tls-config-section needs --tls-config FILE");
	if (o->tee != NULL && strcmp(o->tee, "tpm") != 0 && strcmp(o->tee, "az-snp-vtpm") != 0 &&
	    strcmp(o->tee, "az-tdx-vtpm") != 0)
		return fail(EXIT_USAGE, "--tee supports 'tpm', 'az-snp-vtpm' and 'az-tdx-vtpm' (SNP and TDX "
		    "guests are found through configfs-tsm)");
	if (o->tee != NULL && (o->emulate != NULL || o->emu_dir != NULL || o->have_meas || o->have_rd ||
	    o->emu_debug))
		return fail(EXIT_USAGE, "--tee %s excludes --emulate and the --emu-* options", o->tee);
	if ((o->tee == NULL || strcmp(o->tee, "tpm") != 0) && (o->tpm_ek_handle != 0 ||
	    o->tpm_ak_handle != 0 || o->tpm_event_log != NULL || o->tpm_no_event_log))
		return fail(EXIT_USAGE, "--tpm-* options need --tee tpm");
	if (o->tpm_event_log != NULL && o->tpm_no_event_log)
		return fail(EXIT_USAGE, "give at most one of --tpm-event-log FILE and --tpm-no-event-log");
	if (o->emulate != NULL) {
		if (strcmp(o->emulate, "snp") != 0 && strcmp(o->emulate, "tdx") != 0)
			return fail(EXIT_USAGE, "--emulate supports 'snp' and 'tdx'");
		if (o->emu_dir == NULL)
			return fail(EXIT_USAGE, "--emulate %s needs --emu-dir DIR", o->emulate);
	} else if (o->emu_dir != NULL || o->have_meas || o->have_rd || o->emu_debug) {
		return fail(EXIT_USAGE, "--emu-* options need --emulate snp or --emulate tdx");
	}
	return 0;
}

/* ---- the flow ---- */

/* base + path (+ resource); the lengths were capped in parse_args. */
static int
make_url(char out[static MAX_URL], const char *base, const char *path, const char *res)
{
	int n = snprintf(out, MAX_URL, "%s%s%s", base, path, res != NULL ? res : "");

	return n > 0 && n < MAX_URL ? 0 : fail(EXIT_USAGE, "URL too long");
}

static int
exists(const char *path)
{
	struct stat st;

	return path != NULL && lstat(path, &st) == 0;
}

/*
 * POST /auth for tee with extra (NULL: {}): the challenge in *ret and, when
 * ret_extra is not NULL, the answer's "extra-params" in *ret_extra.
 */
static int
get_nonce(const struct opts *o, const char *base, const char *tee, const json_t *extra, char **ret,
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

	if ((code = make_url(url, base, "/kbs/v0/auth", NULL)) != 0)
		return code;
	/* tee is "snp", "tdx", "tpm" or an az-*-vtpm name (phase_prepare) */
	if ((j = json_pack("{s:s, s:s, s:o}", "version", "0.1.0", "tee", tee, "extra-params",
	    extra != NULL ? json_incref((json_t *)(uintptr_t)extra) : json_object())) == NULL || (body = kw_json_dumps(j, JSON_COMPACT)) == NULL) {
		json_decref(j);
		return fail(EXIT_LOCAL, "auth failed: out of memory");
	}
	json_decref(j);
	j = NULL;
	code = http_do(o, "auth", url, body, NULL, "application/json", MAX_AUTH_RESP, &rs, &hd, 0);
	free(body);
	if (code != 0)
		return code;
	if (kw_json_parse(rs.buf, rs.len, MAX_AUTH_RESP, &j) != 0 || kw_json_check_keys(j, keys) != 0 ||
	    kw_json_get_str(j, "nonce", &nonce, &n) != 0 || n == 0 || n > MAX_NONCE) {
		code = fail(EXIT_SERVER, "auth failed: malformed response from the broker");
		goto out;
	}
	if ((*ret = strdup(nonce)) == NULL) {
		code = fail(EXIT_LOCAL, "auth failed: out of memory");
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
attest(const struct opts *o, const char *base, const char *body, char **ret_token,
    int64_t *ret_lifetime, char ret_nonce[static ATT_MAX_DPOP_NONCE + 1])
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

	if ((code = make_url(url, base, "/kbs/v0/attest", NULL)) != 0)
		return code;
	if ((code = http_do(o, "attest", url, body, NULL, "application/json", MAX_ATTEST_RESP, &rs,
	    &hd, 0)) != 0)
		return code;
	if (kw_json_parse(rs.buf, rs.len, MAX_ATTEST_RESP, &j) != 0 || kw_json_check_keys(j, keys) != 0 ||
	    kw_json_get_str(j, "token", &t, &n) != 0 || !valid_token(t, n) ||
	    att_token_times(t, n, &iat, &exp) != 0) {
		code = fail(EXIT_SERVER, "attest failed: malformed response from the broker");
		goto out;
	}
	if ((tok = strdup(t)) == NULL) {
		code = fail(EXIT_LOCAL, "attest failed: out of memory");
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
get_resource(const struct opts *o, const char *url, EVP_PKEY *sigkey, const char *token,
    const char *first_nonce, struct resp *rs)
{
	char nonce[ATT_MAX_DPOP_NONCE + 1], *proof = NULL;
	const char *extra[3] = {NULL, NULL, NULL};
	struct hdrs hd;
	int code = EXIT_LOCAL, r;

	snprintf(nonce, sizeof(nonce), "%s", first_nonce);
	if ((extra[0] = header_line("Authorization: DPoP ", token)) == NULL)
		return fail(EXIT_LOCAL, "resource failed: out of memory");
	for (int attempt = 0; attempt < 2; attempt++) {
		if ((r = att_dpop_proof(sigkey, "GET", url, token, nonce[0] != '\0' ? nonce : NULL,
		    kw_time_now(), &proof)) != 0) {
			code = fail(EXIT_LOCAL, "resource failed: cannot make the DPoP proof: %s",
			    kw_strerror(r));
			break;
		}
		if ((extra[1] = header_line("DPoP: ", proof)) == NULL) {
			code = fail(EXIT_LOCAL, "resource failed: out of memory");
			break;
		}
		code = http_do(o, "resource", url, NULL, extra, "application/jose", MAX_RESOURCE_RESP, rs,
		    &hd, attempt == 0);
		kw_free_wipe((char *)(uintptr_t)extra[1]);
		extra[1] = NULL;
		free(proof);
		proof = NULL;
		if (code != HTTP_RETRY_NONCE)
			break;
		memcpy(nonce, hd.nonce, sizeof(nonce));
		say("the broker asked for a DPoP proof with its nonce; retrying once with a fresh proof");
	}
	free(proof);
	kw_free_wipe((char *)(uintptr_t)extra[1]);
	kw_free_wipe((char *)(uintptr_t)extra[0]);
	return code;
}

static int
emit_key(const struct opts *o, const struct kw_secret *key)
{
	int r;

	if (o->to_stdout) {
		if (write_all(STDOUT_FILENO, kw_secret_cptr(key), kw_secret_len(key)) != 0)
			return fail(EXIT_LOCAL, "output failed: cannot write to standard output");
		return 0;
	}
	if ((r = write_new_file(o->out, kw_secret_cptr(key), kw_secret_len(key))) != 0)
		return fail(EXIT_LOCAL, "output failed: cannot create %s: %s", o->out,
		    r == KW_ERR_EXISTS ? "file exists" : kw_strerror(r));
	return 0;
}

static const char *
plural(size_t n)
{
	return n == 1 ? "" : "s";
}

/* One line in plain words: what the manifest says (never the whole of it). */
static void
say_manifest(const struct opts *o, const json_t *cfg)
{
	const json_t *rs, *tls, *cr, *v;
	const char *dg = NULL, *minv;
	char root[160], tl[PATH_MAX + 160], cry[128];
	size_t n;

	if (o->no_manifest) {
		say("manifest: none sent (--no-manifest; \"config\" is {})");
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
	snprintf(tl, sizeof(tl), "TLS (%s) min %s, %zu cipher suite%s", o->man.tls_config != NULL ?
	    o->man.tls_config : "this process's OpenSSL defaults", minv, n, plural(n));
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
	say("manifest: %s; %s; crypto: %s", root, tl, cry);
}

/* The state of one run, built up phase by phase and freed by flow_free(). */
struct flow {
	const struct opts *o;
	char base[MAX_URL];                /* --url without trailing slashes */
	json_t *cfg;                       /* configuration manifest, or NULL */
	struct att_keys *keys;             /* TEE keys made in this process */
	char *nonce;                       /* the broker's challenge */
	const char *tee;                   /* "snp", "tdx" or "tpm" */
	struct att_tpm *tpm;               /* --tee tpm */
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

/* --tee tpm: open the TPM (EK and AK ready) and pick the event log. */
static int
prepare_tpm(struct flow *f)
{
	const struct opts *o = f->o;
	struct att_tpm_opts to = {
		.tcti = NULL, .ek_handle = o->tpm_ek_handle, .ak_handle = o->tpm_ak_handle,
	};
	char why[512];
	int r;

	f->tee = "tpm";
	if ((r = att_tpm_open(&to, &f->tpm, why, sizeof(why))) != 0)
		return fail(EXIT_LOCAL, "evidence failed: TPM: %s", why);
	say("TPM at '%s': EK %s, AK %s", att_tpm_tcti_from_env(),
	    o->tpm_ek_handle != 0 ? "persistent" : "created from the default RSA-2048 template",
	    o->tpm_ak_handle != 0 ? "persistent" : "created (restricted RSA-2048 RSASSA/SHA-256)");
	if (o->tpm_event_log != NULL)
		f->event_log = o->tpm_event_log;
	else if (!o->tpm_no_event_log && access(ATT_TPM_EVENTLOG_PATH, R_OK) == 0)
		f->event_log = ATT_TPM_EVENTLOG_PATH;
	return 0;
}

/* Phase 1, before any network traffic: evidence source, outputs, URL, manifest. */
static int
phase_prepare(struct flow *f)
{
	const struct opts *o = f->o;
	const char *what = NULL;
	size_t blen;
	int r, code_tpm;

	if (o->tee != NULL) {
		if (strcmp(o->tee, "tpm") == 0) {
			if ((code_tpm = prepare_tpm(f)) != 0)
				return code_tpm;
		} else {
			f->tee = o->tee;
		}
	} else if (o->emulate != NULL) {
		f->tee = o->emulate;
	} else {
		char provider[ATT_TSM_MAX_PROVIDER + 1];

		if (!att_tsm_available(NULL))
			return fail(EXIT_LOCAL, "no confidential guest interface found (configfs-tsm); "
			    "use --emulate snp or --emulate tdx for testing");
		if ((r = att_tsm_provider(NULL, provider)) != 0)
			return fail(EXIT_LOCAL, "evidence failed: configfs-tsm: %s", kw_strerror(r));
		if (strcmp(provider, "sev_guest") == 0)
			f->tee = "snp";
		else if (strcmp(provider, "tdx_guest") == 0)
			f->tee = "tdx";
		else
			return fail(EXIT_LOCAL, "evidence failed: configfs-tsm provider is neither "
			    "sev_guest nor tdx_guest");
	}
	if (exists(o->out))
		return fail(EXIT_LOCAL, "output failed: %s exists; refusing to overwrite", o->out);
	if (exists(o->token_out))
		return fail(EXIT_LOCAL, "output failed: %s exists; refusing to overwrite", o->token_out);
	blen = strlen(o->url);
	while (blen > 0 && o->url[blen - 1] == '/')
		blen--;
	snprintf(f->base, sizeof(f->base), "%.*s", (int)blen, o->url);
	if (!o->no_manifest && (r = att_manifest_build(&o->man, &f->cfg, &what)) != 0) {
		const char *path = strcmp(what, "root-store") == 0 ? o->man.root_store :
		    strcmp(what, "crypto") == 0 ? o->man.crypto_config : o->man.tls_config;

		return fail(EXIT_LOCAL, "manifest failed: %s%s%s: %s", what, path != NULL ? " " : "",
		    path != NULL ? path : "", kw_strerror(r));
	}
	say_manifest(o, f->cfg);
	return 0;
}

/* Phase 2: the TEE keys, from the platform RNG, in this process. */
static int
phase_keys(struct flow *f)
{
	int r;

	if ((r = att_rng_check()) != 0)
		return fail(EXIT_LOCAL, "keys failed: platform RNG unavailable: %s", kw_strerror(r));
	if ((r = att_keys_generate(&f->keys)) != 0)
		return fail(EXIT_LOCAL, "keys failed: %s", kw_strerror(r));
	say("generated TEE keys in this process: RSA-3072 (tee-pubkey), EC P-256 (tee-sigkey)");
	if (f->o->tee_key_out != NULL) {
		if ((r = write_tee_key(f->o->tee_key_out, f->keys->enc)) != 0)
			return fail(EXIT_LOCAL, "output failed: cannot create %s: %s",
			    f->o->tee_key_out, kw_strerror(r));
		say("TESTING: wrote the TEE private key to %s", f->o->tee_key_out);
	}
	return 0;
}

/* SNP evidence (emulated or configfs-tsm) as tee-evidence JSON in *ret. */
static int
evidence_snp(struct flow *f, const uint8_t report_data[static ATT_REPORT_DATA_LEN], json_t **ret)
{
	const struct opts *o = f->o;
	int r;

	if (o->emulate != NULL) {
		struct att_emu_opts eo = {
			.dir = o->emu_dir,
			.measurement = o->have_meas ? o->emu_meas : NULL,
			.report_data = o->have_rd ? o->emu_rd : NULL,
			.debug = o->emu_debug,
		};

		if ((r = att_emu_snp_evidence(&eo, report_data, &f->ev)) != 0)
			return fail(EXIT_LOCAL, "evidence failed: emulation chain in %s: %s", o->emu_dir,
			    kw_strerror(r));
		say("evidence: EMULATED SEV-SNP report signed by the test chain in %s "
		    "(not a TEE; testing only)%s%s", o->emu_dir, o->emu_debug ? ", DEBUG policy" : "",
		    o->have_rd ? ", REPORT_DATA overridden" : "");
	} else {
		if ((r = att_tsm_snp_evidence(NULL, report_data, &f->ev)) != 0)
			return fail(EXIT_LOCAL, "evidence failed: configfs-tsm: %s%s", kw_strerror(r),
			    r == KW_ERR_NOT_FOUND ? " (the host supplied no VCEK/VLEK certificate)" : "");
		say("evidence: SEV-SNP report from configfs-tsm with the host's %s certificate%s",
		    f->ev->ek_is_vlek ? "VLEK" : "VCEK", f->ev->nchain ? " and chain" : "");
	}
	if ((r = att_evidence_to_json(f->ev, ret)) != 0)
		return fail(EXIT_LOCAL, "evidence failed: %s", kw_strerror(r));
	return 0;
}

/* The emulated TD's quote: the set in --emu-dir, the platform it describes, our overrides. */
static int
emulated_tdx_quote(const struct opts *o, const uint8_t report_data[static ATT_REPORT_DATA_LEN],
    uint8_t **ret, size_t *ret_len)
{
	struct att_tdx_emu *e = NULL;
	struct att_tdx_emu_opts eo;
	int r;

	if ((r = att_tdx_emu_load(o->emu_dir, kw_time_now(), &e, &eo)) != 0)
		return r;
	memcpy(eo.report_data, o->have_rd ? o->emu_rd : report_data, ATT_REPORT_DATA_LEN);
	if (o->have_meas)
		memcpy(eo.mrtd, o->emu_meas, sizeof(eo.mrtd));
	if (o->emu_debug)
		eo.td_attributes[0] |= 1;    /* TD_ATTRIBUTES.DEBUG */
	r = att_tdx_emu_quote(e, &eo, ret, ret_len);
	att_tdx_emu_free(e);
	return r;
}

/* TDX evidence (emulated or configfs-tsm) as tee-evidence JSON in *ret. */
static int
evidence_tdx(struct flow *f, const uint8_t report_data[static ATT_REPORT_DATA_LEN], json_t **ret)
{
	const struct opts *o = f->o;
	int r;

	if (o->emulate != NULL) {
		if ((r = emulated_tdx_quote(o, report_data, &f->quote, &f->quote_len)) != 0)
			return fail(EXIT_LOCAL, "evidence failed: TDX emulation set in %s: %s", o->emu_dir,
			    kw_strerror(r));
		say("evidence: EMULATED TDX quote (v4) signed by the NOT INTEL test chain in %s "
		    "(not a TEE; testing only)%s%s", o->emu_dir, o->emu_debug ? ", DEBUG TD" : "",
		    o->have_rd ? ", REPORT_DATA overridden" : "");
	} else {
		if ((r = att_tsm_tdx_quote(NULL, report_data, &f->quote, &f->quote_len)) != 0)
			return fail(EXIT_LOCAL, "evidence failed: configfs-tsm: %s", kw_strerror(r));
		say("evidence: TD quote from configfs-tsm (%zu bytes)", f->quote_len);
	}
	if ((r = att_tdx_evidence_to_json(f->quote, f->quote_len, ret)) != 0)
		return fail(EXIT_LOCAL, "evidence failed: %s", kw_strerror(r));
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
	int tdx = strcmp(f->tee, "az-tdx-vtpm") == 0, r;
	const uint8_t *tdreport = NULL;
	const char *why = NULL, *base = att_az_imds_base();

	if ((r = att_az_tpm_collect(NULL, report_data, 48, &f->az, &why)) != 0)
		return fail(EXIT_LOCAL, "evidence failed: vTPM: %s (%s)", why, kw_strerror(r));
	if (f->az.tdx != tdx)
		return fail(EXIT_LOCAL, "evidence failed: the HCL report is %s, not %s", f->az.tdx ?
		    "TDX (use --tee az-tdx-vtpm)" : "SNP (use --tee az-snp-vtpm)", f->tee);
	say("evidence: HCL report (%zu bytes) from vTPM NV 0x01400001, quote of PCR 0-23 (sha256) "
	    "by the AK at 0x81000003", f->az.hcl_len);
	if (tdx) {
		if ((r = att_az_hcl_kind(f->az.hcl, f->az.hcl_len, &tdx, &tdreport)) != 0 ||
		    (r = att_az_imds_td_quote(base, tdreport, ATT_AZ_TDREPORT_LEN, &f->quote,
		    &f->quote_len)) != 0)
			return fail(EXIT_LOCAL, "evidence failed: TD quote from IMDS %s%s: %s", base,
			    ATT_AZ_TDQUOTE_PATH, kw_strerror(r));
		say("evidence: TD quote from IMDS (%zu bytes)", f->quote_len);
	} else {
		if ((r = att_az_imds_vcek(base, &f->vcek_pem)) != 0)
			return fail(EXIT_LOCAL, "evidence failed: VCEK from IMDS %s%s: %s", base,
			    ATT_AZ_THIM_PATH, kw_strerror(r));
		say("evidence: VCEK and chain from IMDS (THIM)");
	}
	if ((r = att_az_evidence_to_json(&f->az, f->vcek_pem, f->quote, f->quote_len, ret)) != 0)
		return fail(EXIT_LOCAL, "evidence failed: %s", kw_strerror(r));
	return 0;
}

/*
 * --emu-collateral-out: the collateral a broker needs for the emulated
 * platform (the set's FMSPC, TCB, QE), signed by the set's NOT INTEL TCB
 * Signing key and CAs, written as a new file.
 */
static int
write_emu_collateral(const struct opts *o)
{
	struct att_tdx_emu *e = NULL;
	struct att_tdx_emu_opts eo;
	char *coll = NULL;
	int r;

	if ((r = att_tdx_emu_load(o->emu_dir, kw_time_now(), &e, &eo)) != 0)
		return fail(EXIT_LOCAL, "collateral failed: TDX emulation set in %s: %s", o->emu_dir,
		    kw_strerror(r));
	r = att_tdx_emu_collateral(e, &eo, &coll);
	att_tdx_emu_free(e);
	if (r != 0)
		return fail(EXIT_LOCAL, "collateral failed: %s", kw_strerror(r));
	r = write_new_file(o->emu_collateral_out, coll, strlen(coll));
	free(coll);
	if (r != 0)
		return fail(EXIT_LOCAL, "output failed: cannot create %s: %s", o->emu_collateral_out,
		    r == KW_ERR_EXISTS ? "file exists" : kw_strerror(r));
	say("wrote EMULATED (NOT INTEL) TDX collateral for the platform in %s to %s", o->emu_dir,
	    o->emu_collateral_out);
	return 0;
}

/* The /attest body of runtime-data and evj into f->body (and --save-attest-request). */
static int
attest_body(struct flow *f, json_t *evj)
{
	json_t *req = NULL;
	int code = EXIT_LOCAL, r;

	if ((req = json_object()) == NULL || json_object_set(req, "runtime-data", f->rd) != 0 ||
	    json_object_set(req, "tee-evidence", evj) != 0) {
		code = fail(EXIT_LOCAL, "evidence failed: out of memory");
		goto out;
	}
	if (f->o->emu_gpus > 0) {
		/* composite evidence: emulated GPUs bound to the same runtime-data */
		json_t *gpus = NULL;

		if ((r = att_nvgpu_emu_gpus(f->o->emu_gpu_dir, f->o->emu_gpus, f->rd, &gpus)) != 0 ||
		    json_object_set_new(req, "gpus", gpus) != 0) {
			code = fail(EXIT_LOCAL, "evidence failed: emulated GPUs from %s: %s", f->o->emu_gpu_dir,
			    kw_strerror(r != 0 ? r : KW_ERR_NOMEM));
			goto out;
		}
		say("added %u EMULATED (NOT NVIDIA) GPU report%s", f->o->emu_gpus, f->o->emu_gpus > 1 ? "s" : "");
	}
	if ((f->body = kw_json_dumps(req, JSON_COMPACT)) == NULL) {
		code = fail(EXIT_LOCAL, "evidence failed: out of memory");
		goto out;
	}
	if (f->o->save_attest != NULL &&
	    (r = write_new_file(f->o->save_attest, f->body, strlen(f->body))) != 0) {
		code = fail(EXIT_LOCAL, "output failed: cannot create %s: %s", f->o->save_attest,
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
	uint8_t report_data[ATT_REPORT_DATA_LEN];
	json_t *params = NULL, *answer = NULL, *evj = NULL;
	char why[512];
	int code, r;

	if ((r = att_tpm_auth_params(f->tpm, &params, why, sizeof(why))) != 0)
		return fail(EXIT_LOCAL, "evidence failed: TPM: %s", why);
	code = get_nonce(f->o, f->base, f->tee, params, &f->nonce, &answer);
	json_decref(params);
	if (code != 0)
		return code;
	say("received a nonce and a credential for this TPM's EK and AK from the broker");
	code = EXIT_LOCAL;
	if ((r = att_runtime_data_build(f->nonce, f->keys, f->cfg, &f->rd)) != 0 ||
	    (r = att_report_data(f->rd, report_data)) != 0) {
		code = fail(EXIT_LOCAL, "evidence failed: runtime-data: %s", kw_strerror(r));
		goto out;
	}
	/* qualifyingData: the 48 bytes of SHA-384(JCS(runtime-data)) (REPORT_DATA without its padding) */
	if ((r = att_tpm_evidence(f->tpm, answer, report_data, f->event_log, &evj, why, sizeof(why))) != 0) {
		code = fail(EXIT_LOCAL, "evidence failed: TPM: %s", why);
		goto out;
	}
	say("evidence: credential activated, PCRs 0-23 (sha256) quoted%s%s",
	    f->event_log != NULL ? ", event log " : "", f->event_log != NULL ? f->event_log : "");
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
	const struct opts *o = f->o;
	uint8_t report_data[ATT_REPORT_DATA_LEN];
	json_t *evj = NULL;
	int code, r;

	if (f->tpm != NULL)
		return phase_evidence_tpm(f);
	if ((code = get_nonce(o, f->base, f->tee, NULL, &f->nonce, NULL)) != 0)
		return code;
	say("received a nonce from the broker (%zu characters)", strlen(f->nonce));
	code = EXIT_LOCAL;
	if ((r = att_runtime_data_build(f->nonce, f->keys, f->cfg, &f->rd)) != 0 ||
	    (r = att_report_data(f->rd, report_data)) != 0) {
		code = fail(EXIT_LOCAL, "evidence failed: runtime-data: %s", kw_strerror(r));
		goto out;
	}
	if (strcmp(f->tee, "tdx") == 0)
		code = evidence_tdx(f, report_data, &evj);
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
	int code, r;

	if ((code = attest(f->o, f->base, f->body, &f->token, &f->lifetime, f->dpop_nonce)) != 0)
		return code;
	say("attested: received a TEE-bound token valid for %lld s", (long long)f->lifetime);
	if (f->o->token_out != NULL) {
		if ((r = write_new_file(f->o->token_out, f->token, strlen(f->token))) != 0)
			return fail(EXIT_LOCAL, "output failed: cannot create %s: %s", f->o->token_out,
			    r == KW_ERR_EXISTS ? "file exists" : kw_strerror(r));
		say("TESTING: wrote the token to %s", f->o->token_out);
	}
	return 0;
}

/* Phase 5: the resource with a DPoP proof, the JWE opened with the TEE key, the key out. */
static int
phase_release(struct flow *f)
{
	const struct opts *o = f->o;
	char url[MAX_URL], fp[17];
	int code, r;

	if ((code = make_url(url, f->base, "/kbs/v0/resource/", o->resource)) != 0)
		return code;
	if ((code = get_resource(o, url, f->keys->sig, f->token, f->dpop_nonce, &f->rs)) != 0)
		return code;
	if (o->jwe_out != NULL && (r = write_new_file(o->jwe_out, f->rs.buf, f->rs.len)) != 0)
		return fail(EXIT_LOCAL, "output failed: cannot create %s: %s", o->jwe_out,
		    kw_strerror(r));
	if ((r = att_jwe_decrypt((const char *)f->rs.buf, f->rs.len, f->keys->enc, &f->key,
	    &f->kid)) != 0)
		return fail(EXIT_LOCAL, "decrypt failed: the released JWE did not decrypt: %s",
		    kw_strerror(r));
	if ((code = emit_key(o, f->key)) != 0)
		return code;
	kw_fp(kw_secret_cptr(f->key), kw_secret_len(f->key), fp);
	say("released: key '%s' (%zu bytes, fingerprint %s) written to %s", o->resource,
	    kw_secret_len(f->key), fp, o->to_stdout ? "standard output" : o->out);
	return 0;
}

static int
run(const struct opts *o)
{
	static int (*const phases[])(struct flow *) = {
		phase_prepare, phase_keys, phase_evidence, phase_attest, phase_release,
	};
	struct flow f;
	int code = 0;

	memset(&f, 0, sizeof(f));
	f.o = o;
	for (size_t i = 0; code == 0 && i < KW_ARRAY_SIZE(phases); i++)
		code = phases[i](&f);
	flow_free(&f);
	return code;
}

int
main(int argc, char **argv)
{
	struct opts o;
	int code;

	if ((code = parse_args(argc, argv, &o)) != 0)
		return code < 0 ? 0 : code;
	quiet = o.quiet;
	kw_secret_harden_process();
	kw_json_init();
	if (o.emu_collateral_out != NULL)
		return write_emu_collateral(&o);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return fail(EXIT_LOCAL, "cannot initialise libcurl");
	code = run(&o);
	curl_global_cleanup();
	return code;
}
