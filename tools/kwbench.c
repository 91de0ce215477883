/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kwbench: a load generator for keywarden (docs/performance.md). N emulated
 * workloads, each doing what kwget does on one kept-alive TLS connection:
 * /auth -> /attest with emulated SEV-SNP evidence bound to its own TEE keys
 * -> /resource with a DPoP proof -> the JWE opened with its TEE key. Closed
 * loop (every worker starts its next workload at once) or open loop (--rate
 * or --ramp: workload i arrives at i / rate). It reads the CPU time and RSS
 * of the broker and its HSM helper from /proc before and after, measures the
 * cryptographic floor of a flow in the same run, and prints flows/s, broker
 * CPU per flow, the ratio to the floor, latency percentiles per endpoint and
 * errors by status. 429/503 answers are retried after Retry-After with
 * jitter, as kwget does; they count as retries, not errors.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <libgen.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "att_tdx_emu.h"
#include "attester.h"
#include "kw_build.h"
#include "kw_json.h"
#include "kw_secret.h"
#include "kw_util.h"

#define MAX_URL 1024
#define MAX_RESP (256 * 1024)
#define MAX_WORKLOADS 10000000UL
#define MAX_CONCURRENCY 1024UL
#define MAX_KEY_POOL 4096UL
#define MAX_TRIES 20                  /* per request, 429/503 retries included */
#define FLOOR_ROUNDS 300

enum ep { EP_AUTH, EP_ATTEST, EP_RESOURCE, EP_HEALTHZ, EP__N };
static const char *const ep_name[EP__N] = {"auth", "attest", "resource", "healthz"};
#define TRANSPORT_REQUESTS 3          /* --transport-only: as many requests as a full flow */

struct opts {
	const char *url, *cacert, *emu_dir, *resource, *metrics_url;
	const char *tee;                   /* "snp" (default) or "tdx" */
	const char *broker_config, *kwhsm_bench;   /* the HSM part of the floor */
	unsigned long workloads, concurrency, key_pool;
	double rate, ramp;
	int json, no_decrypt, quiet, transport_only;
	long broker_pid, helper_pid;
};

/* One response. */
struct resp {
	char *buf;
	size_t len, max;
	int too_large;
	char retry_after[16], dpop_nonce[ATT_MAX_DPOP_NONCE + 1];
	int use_dpop_nonce;
};

/* Latencies of one endpoint, in microseconds (appended under the lock). */
struct lat {
	double *v;
	size_t n, cap;
};

struct bench {
	const struct opts *o;
	char base[MAX_URL], res_url[2 * MAX_URL];
	struct att_keys **keys;
	EVP_PKEY *vcek_key;
	struct att_evidence *tmpl;         /* the emulated platform: certificates, measurement */
	struct att_tdx_emu *tdx;           /* --tee tdx: the emulated platform and its attestation key */
	struct att_tdx_emu_opts tdx_opts;  /* its TD, as emu.json describes it */
	double t0;
	atomic_ulong next;
	pthread_mutex_t lock;
	struct lat lat[EP__N];
	unsigned long status[600];         /* final statuses of failed requests */
	unsigned long net_errors, local_errors, retries, flows_ok, flows_failed, nonce_retries;
	double last_done;
	char first_error[256];
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
sleep_s(double s)
{
	struct timespec ts;

	if (s <= 0)
		return;
	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* ---- /proc ---- */

struct proc_sample {
	double cpu_ms;     /* user + system */
	long rss_kb;
};

static int
proc_sample(long pid, struct proc_sample *ret)
{
	char path[64], buf[4096], *p;
	unsigned long ut, st;
	long tck = sysconf(_SC_CLK_TCK);
	FILE *f;
	size_t n;

	ret->cpu_ms = -1;
	ret->rss_kb = -1;
	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* after "pid (comm) ": state is field 3; utime and stime are 14 and 15 */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	ret->cpu_ms = (double)(ut + st) * 1000.0 / (double)tck;
	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(buf, sizeof(buf), f) != NULL)
		if (strncmp(buf, "VmRSS:", 6) == 0)
			ret->rss_kb = strtol(buf + 6, NULL, 10);
	fclose(f);
	return 0;
}

/* The keywarden-hsm child of the broker (spawn mode), or 0. */
static long
find_helper(long broker)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	long found = 0;

	if (d == NULL)
		return 0;
	while (found == 0 && (de = readdir(d)) != NULL) {
		char path[300], buf[512], comm[64];
		long pid = strtol(de->d_name, NULL, 10), ppid;
		FILE *f;
		size_t n;

		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = '\0';
		if (sscanf(buf, "%*d (%63[^)]) %*c %ld", comm, &ppid) == 2 && ppid == broker &&
		    strcmp(comm, "keywarden-hsm") == 0)
			found = pid;
	}
	closedir(d);
	return found;
}

/* ---- the floor: the cryptography one flow needs, timed here ---- */

struct floor {
	double p384_verify, p256_verify, p256_sign, rsa_oaep_enc, total;  /* ms */
	double evidence;   /* SNP: one P-384 verification; TDX: two P-256 (QE report, quote) */
	double hsm_sign, hsm_release;   /* --broker-config: kwhsm-bench --floor on the broker's token */
	int hsm;
};

static double
time_sign_verify(EVP_PKEY *k, const EVP_MD *md, size_t msg_len, int verify)
{
	unsigned char msg[1024], sig[512];
	size_t sl = sizeof(sig);
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	double t;

	memset(msg, 0x5a, sizeof(msg));
	if (c == NULL || EVP_DigestSignInit(c, NULL, md, NULL, k) != 1 ||
	    EVP_DigestSign(c, sig, &sl, msg, msg_len) != 1) {
		EVP_MD_CTX_free(c);
		return -1;
	}
	t = kw_cpu_ms();
	for (int i = 0; i < FLOOR_ROUNDS; i++) {
		size_t l = sizeof(sig);

		EVP_MD_CTX_reset(c);
		if (verify ? EVP_DigestVerifyInit(c, NULL, md, NULL, k) != 1 ||
		    EVP_DigestVerify(c, sig, sl, msg, msg_len) != 1 :
		    EVP_DigestSignInit(c, NULL, md, NULL, k) != 1 ||
		    EVP_DigestSign(c, sig, &l, msg, msg_len) != 1) {
			EVP_MD_CTX_free(c);
			return -1;
		}
	}
	t = (kw_cpu_ms() - t) / FLOOR_ROUNDS;
	EVP_MD_CTX_free(c);
	return t;
}

static double
time_oaep(EVP_PKEY *rsa)
{
	unsigned char in[32], out[512];
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(rsa, NULL);
	double t;

	memset(in, 7, sizeof(in));
	if (c == NULL || EVP_PKEY_encrypt_init(c) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_OAEP_PADDING) != 1) {
		EVP_PKEY_CTX_free(c);
		return -1;
	}
	t = kw_cpu_ms();
	for (int i = 0; i < FLOOR_ROUNDS; i++) {
		size_t ol = sizeof(out);

		if (EVP_PKEY_encrypt(c, out, &ol, in, sizeof(in)) != 1) {
			EVP_PKEY_CTX_free(c);
			return -1;
		}
	}
	t = (kw_cpu_ms() - t) / FLOOR_ROUNDS;
	EVP_PKEY_CTX_free(c);
	return t;
}

/*
 * One flow needs: the evidence's signatures — SNP: the report's ECDSA P-384
 * verification (SHA-384 over the 0x2A0 signed bytes); TDX: two ECDSA P-256
 * verifications (the QE report by the PCK key, the quote by the attestation
 * key, SHA-256 over 384 and 632 bytes); two ECDSA P-256 verifications (the
 * token and the DPoP proof at /resource); one ECDSA P-256 signature (the
 * token, in the HSM); the release's RSA-OAEP encryption of the content key
 * to the TEE's RSA-3072 key (in the HSM). Certificate chains and collateral
 * are the same for every workload of a platform and are not counted.
 * Measured with OpenSSL in this process.
 */
static int
measure_floor(const struct att_keys *k, int tdx, struct floor *ret)
{
	EVP_PKEY *p384 = EVP_EC_gen("P-384");
	int r = -1;

	if (p384 == NULL)
		return -1;
	ret->p384_verify = tdx ? 0 : time_sign_verify(p384, EVP_sha384(), 0x2A0, 1);
	ret->p256_verify = time_sign_verify(k->sig, EVP_sha256(), 600, 1);
	ret->p256_sign = time_sign_verify(k->sig, EVP_sha256(), 600, 0);
	ret->rsa_oaep_enc = time_oaep(k->enc);
	ret->evidence = tdx ? time_sign_verify(k->sig, EVP_sha256(), 384, 1) +
	    time_sign_verify(k->sig, EVP_sha256(), 632, 1) : ret->p384_verify;
	if ((tdx || ret->p384_verify > 0) && ret->evidence > 0 && ret->p256_verify > 0 &&
	    ret->p256_sign > 0 && ret->rsa_oaep_enc > 0) {
		ret->total = ret->evidence + 2 * ret->p256_verify + (ret->hsm ?
		    ret->hsm_sign + ret->hsm_release : ret->p256_sign + ret->rsa_oaep_enc);
		r = 0;
	}
	EVP_PKEY_free(p384);
	return r;
}

/*
 * --broker-config: the token operations measured on the broker's own token
 * (module, token, PIN file and SoftHSM configuration from its configuration
 * file, relative paths from the file's directory) by kwhsm-bench --floor: one
 * contained release and one P-256 signature done the way keywarden-hsm does
 * them, without its protocol. They replace the OpenSSL sign and RSA-OAEP
 * figures in the floor.
 */
#define HSM_FLOOR_ROUNDS "200"
#define HSM_FLOOR_OUT 4096

static int
cfg_path(const json_t *hsm, const char *key, const char *dir, char *out, size_t outsz)
{
	const char *v = json_string_value(json_object_get(hsm, key));

	if (v == NULL)
		return -1;
	if (v[0] == '/' || strncmp(v, "pkcs11:", 7) == 0 || strcmp(key, "token") == 0)
		return snprintf(out, outsz, "%s", v) < (int)outsz ? 0 : -1;
	return snprintf(out, outsz, "%s/%s", dir, v) < (int)outsz ? 0 : -1;
}

static int
measure_hsm_floor(const struct opts *o, struct floor *ret)
{
	char dirbuf[4096], dir[4096], module[4096], token[1024], pin[4096], conf[4096] = "";
	char self[4096], tool[4096], out[HSM_FLOOR_OUT + 1];
	const char *argv[12];
	json_t *cfg = NULL, *hsm, *res = NULL;
	json_error_t jerr;
	posix_spawn_file_actions_t fa;
	size_t n = 0, k = 0;
	int pfd[2], st = 0, r = -1;
	pid_t pid;
	ssize_t got;

	snprintf(dirbuf, sizeof(dirbuf), "%s", o->broker_config);
	snprintf(dir, sizeof(dir), "%s", dirname(dirbuf));
	if ((cfg = json_load_file(o->broker_config, 0, &jerr)) == NULL ||
	    (hsm = json_object_get(cfg, "hsm")) == NULL ||
	    cfg_path(hsm, "module", dir, module, sizeof(module)) != 0 ||
	    cfg_path(hsm, "token", dir, token, sizeof(token)) != 0 ||
	    cfg_path(hsm, "pin_file", dir, pin, sizeof(pin)) != 0) {
		fprintf(stderr, "kwbench: %s: no hsm.module, hsm.token and hsm.pin_file\n", o->broker_config);
		goto out;
	}
	(void)cfg_path(hsm, "softhsm2_conf", dir, conf, sizeof(conf));
	if (o->kwhsm_bench != NULL) {
		snprintf(tool, sizeof(tool), "%s", o->kwhsm_bench);
	} else {
		/* the build tree: tools/kwbench next to hsm/kwhsm-bench */
		ssize_t sl = readlink("/proc/self/exe", self, sizeof(self) - 1);

		if (sl <= 0)
			goto out;
		self[sl] = '\0';
		snprintf(tool, sizeof(tool), "%s/../hsm/kwhsm-bench", dirname(self));
	}
	argv[k++] = tool;
	argv[k++] = "--floor";
	argv[k++] = HSM_FLOOR_ROUNDS;
	argv[k++] = "--module";
	argv[k++] = module;
	argv[k++] = "--token";
	argv[k++] = token;
	argv[k++] = "--pin-file";
	argv[k++] = pin;
	if (conf[0] != '\0') {
		argv[k++] = "--conf";
		argv[k++] = conf;
	}
	argv[k] = NULL;
	if (pipe(pfd) != 0)
		goto out;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], STDOUT_FILENO);
	posix_spawn_file_actions_addclose(&fa, pfd[0]);
	if (posix_spawn(&pid, tool, &fa, NULL, (char *const *)(uintptr_t)argv, environ) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		close(pfd[0]);
		close(pfd[1]);
		fprintf(stderr, "kwbench: cannot run %s (--kwhsm-bench)\n", tool);
		goto out;
	}
	posix_spawn_file_actions_destroy(&fa);
	close(pfd[1]);
	while (n < HSM_FLOOR_OUT && (got = read(pfd[0], out + n, HSM_FLOOR_OUT - n)) > 0)
		n += (size_t)got;
	close(pfd[0]);
	out[n] = '\0';
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0 ||
	    (res = json_loads(out, 0, &jerr)) == NULL ||
	    !json_is_number(json_object_get(res, "release_ms")) ||
	    !json_is_number(json_object_get(res, "sign_ms"))) {
		fprintf(stderr, "kwbench: %s --floor failed\n", tool);
		goto out;
	}
	ret->hsm_release = json_number_value(json_object_get(res, "release_ms"));
	ret->hsm_sign = json_number_value(json_object_get(res, "sign_ms"));
	if (!(ret->hsm_release > 0) || !(ret->hsm_sign > 0))
		goto out;
	ret->hsm = 1;
	r = 0;
out:
	json_decref(cfg);
	json_decref(res);
	return r;
}

/* ---- HTTP ---- */

static size_t
on_data(char *p, size_t size, size_t nmemb, void *arg)
{
	struct resp *rs = arg;
	size_t n = size * nmemb;

	if (n > rs->max - rs->len) {
		rs->too_large = 1;
		return 0;
	}
	memcpy(rs->buf + rs->len, p, n);
	rs->len += n;
	return n;
}

static void
header_value(const char *p, size_t n, size_t skip, char *out, size_t outsz)
{
	const char *v = p + skip;
	size_t l = n - skip;

	while (l > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		l--;
	}
	while (l > 0 && (v[l - 1] == '\r' || v[l - 1] == '\n' || v[l - 1] == ' '))
		l--;
	if (l >= outsz)
		l = outsz - 1;
	memcpy(out, v, l);
	out[l] = '\0';
}

static size_t
on_header(char *p, size_t size, size_t nitems, void *arg)
{
	struct resp *rs = arg;
	size_t n = size * nitems;

	if (n > 12 && strncasecmp(p, "Retry-After:", 12) == 0)
		header_value(p, n, 12, rs->retry_after, sizeof(rs->retry_after));
	else if (n > 11 && strncasecmp(p, "DPoP-Nonce:", 11) == 0)
		header_value(p, n, 11, rs->dpop_nonce, sizeof(rs->dpop_nonce));
	else if (n > 17 && strncasecmp(p, "WWW-Authenticate:", 17) == 0)
		rs->use_dpop_nonce = att_www_auth_use_dpop_nonce(p + 17, n - 17);
	return n;
}

static void
lat_add(struct bench *b, enum ep e, double us)
{
	struct lat *l = &b->lat[e];

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 1024;
		double *v = realloc(l->v, cap * sizeof(*v));

		if (v == NULL)
			return;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = us;
}

static void
note_error(struct bench *b, const char *fmt, ...) KW_PRINTF(2, 3);

static void
note_error(struct bench *b, const char *fmt, ...)
{
	va_list ap;

	if (b->first_error[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(b->first_error, sizeof(b->first_error), fmt, ap);
	va_end(ap);
}

/*
 * One request on the workload's handle: retried after 429/503 (Retry-After,
 * at most 5 s, plus up to 50 % jitter). Returns the final HTTP status, or 0
 * on a network error; rs holds the body.
 */
static long
request(struct bench *b, CURL *c, enum ep e, const char *url, const char *body,
    struct curl_slist *hdr, struct resp *rs)
{
	long status = 0;

	for (int tries = 0; tries < MAX_TRIES; tries++) {
		char errbuf[CURL_ERROR_SIZE] = "";
		double t = now_s(), wait;
		CURLcode cr;

		rs->len = 0;
		rs->too_large = 0;
		rs->retry_after[0] = '\0';
		rs->dpop_nonce[0] = '\0';
		rs->use_dpop_nonce = 0;
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
		curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
		if (body != NULL) {
			curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
			curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
		} else {
			curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
		}
		cr = curl_easy_perform(c);
		if (cr != CURLE_OK) {
			pthread_mutex_lock(&b->lock);
			b->net_errors++;
			note_error(b, "%s: %s", ep_name[e], errbuf[0] ? errbuf : curl_easy_strerror(cr));
			pthread_mutex_unlock(&b->lock);
			return 0;
		}
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		pthread_mutex_lock(&b->lock);
		lat_add(b, e, (now_s() - t) * 1e6);
		if (status == 429 || status == 503)
			b->retries++;
		pthread_mutex_unlock(&b->lock);
		if (status != 429 && status != 503)
			return status;
		wait = rs->retry_after[0] != '\0' ? strtod(rs->retry_after, NULL) : 1;
		if (!(wait >= 0) || wait > 5)
			wait = 5;
		sleep_s(wait * (1 + (double)(rand() % 500) / 1000.0) + 0.01);
	}
	return status;
}

/* ---- one workload ---- */

/* The emulated report for report_data: the template's platform, signed by the emulated VCEK. */
static int
make_evidence(struct bench *b, const uint8_t rd[static ATT_REPORT_DATA_LEN], json_t **ret)
{
	struct att_emu_report_params p;
	struct att_evidence ev;
	const uint8_t *t;
	uint64_t pol = 0, tcb = 0;

	if (b->tdx != NULL) {
		struct att_tdx_emu_opts eo = b->tdx_opts;
		uint8_t *q = NULL;
		size_t ql = 0;
		int r;

		memcpy(eo.report_data, rd, ATT_REPORT_DATA_LEN);
		if (att_tdx_emu_quote(b->tdx, &eo, &q, &ql) != 0)
			return -1;
		r = att_tdx_evidence_to_json(q, ql, ret);
		free(q);
		return r == 0 ? 0 : -1;
	}
	t = b->tmpl->report;
	memset(&p, 0, sizeof(p));
	memcpy(p.report_data, rd, ATT_REPORT_DATA_LEN);
	memcpy(p.measurement, t + 0x90, ATT_MEASUREMENT_LEN);
	memcpy(p.chip_id, t + 0x1A0, ATT_CHIP_ID_LEN);
	for (int i = 7; i >= 0; i--) {
		pol = pol << 8 | t[0x08 + i];
		tcb = tcb << 8 | t[0x180 + i];
	}
	p.tcb = tcb;
	p.debug = (pol & ATT_EMU_POLICY_DEBUG) != 0;
	ev = *b->tmpl;
	if (att_emu_report_build(&p, b->vcek_key, ev.report) != 0)
		return -1;
	return att_evidence_to_json(&ev, ret) == 0 ? 0 : -1;
}

/*
 * One workload's libcurl handle and response buffer (rs, freed by the
 * caller): TLS 1.3 to the broker, one connection kept alive for all its
 * requests. NULL when out of memory.
 */
static CURL *
workload_handle(struct bench *b, struct resp *rs)
{
	CURL *c;

	memset(rs, 0, sizeof(*rs));
	rs->max = MAX_RESP;
	if ((rs->buf = malloc(MAX_RESP + 1)) == NULL || (c = curl_easy_init()) == NULL) {
		free(rs->buf);
		rs->buf = NULL;
		return NULL;
	}
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_3);
	if (b->o->cacert != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, b->o->cacert);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "kwbench/" KW_VERSION);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, rs);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, rs);
	curl_easy_setopt(c, CURLOPT_MAXCONNECTS, 1L);
	return c;
}

/* The end of a workload: its handle and buffer freed, its outcome counted. */
static int
workload_done(struct bench *b, CURL *c, struct resp *rs, int ok)
{
	curl_easy_cleanup(c);
	free(rs->buf);
	pthread_mutex_lock(&b->lock);
	if (ok)
		b->flows_ok++;
	else
		b->flows_failed++;
	b->last_done = now_s();
	pthread_mutex_unlock(&b->lock);
	return ok ? 0 : -1;
}

/*
 * --transport-only: what a workload costs the broker without attestation —
 * one new TLS connection and three GET /healthz on it, as many requests as a
 * full flow makes. The broker's CPU per such flow is the transport part of a
 * full flow (TLS handshake and records, HTTP, the loop, the kernel's TCP).
 */
static int
transport_flow(struct bench *b)
{
	char url[MAX_URL + 32];
	struct resp rs;
	long st = 0;
	int ok = 0;
	CURL *c;

	if ((c = workload_handle(b, &rs)) == NULL)
		return -1;
	snprintf(url, sizeof(url), "%s/healthz", b->base);
	for (int k = 0; k < TRANSPORT_REQUESTS; k++)
		if ((st = request(b, c, EP_HEALTHZ, url, NULL, NULL, &rs)) != 200)
			break;
	if (st == 200) {
		ok = 1;
	} else if (st > 0) {
		pthread_mutex_lock(&b->lock);
		if (st < 600)
			b->status[st]++;
		note_error(b, "healthz: HTTP %ld", st);
		pthread_mutex_unlock(&b->lock);
	}
	return workload_done(b, c, &rs, ok);
}

static int
flow(struct bench *b, unsigned long i)
{
	const struct opts *o = b->o;
	const struct att_keys *k = b->keys[i % o->key_pool];
	char url[MAX_URL + 32], *body = NULL, *proof = NULL, *authz = NULL, *dpop = NULL, *kid = NULL;
	struct curl_slist *hjson = NULL, *hres = NULL;
	struct resp rs;
	struct kw_secret *key = NULL;
	json_t *j = NULL, *rd = NULL, *evj = NULL, *req = NULL;
	uint8_t report_data[ATT_REPORT_DATA_LEN];
	const char *nonce, *tok;
	size_t n;
	long st;
	int ok = 0;
	CURL *c;

	if ((c = workload_handle(b, &rs)) == NULL)
		return -1;
	if ((hjson = curl_slist_append(NULL, "Content-Type: application/json")) == NULL)
		goto out;

	snprintf(url, sizeof(url), "%s/kbs/v0/auth", b->base);
	st = request(b, c, EP_AUTH, url, b->tdx != NULL ?
	    "{\"version\":\"0.1.0\",\"tee\":\"tdx\",\"extra-params\":{}}" :
	    "{\"version\":\"0.1.0\",\"tee\":\"snp\",\"extra-params\":{}}", hjson, &rs);
	if (st != 200)
		goto http_fail;
	rs.buf[rs.len] = '\0';
	if (kw_json_parse(rs.buf, rs.len, MAX_RESP, &j) != 0 || kw_json_get_str(j, "nonce", &nonce, &n) != 0)
		goto local_fail;
	if (att_runtime_data_build(nonce, k, NULL, &rd) != 0 || att_report_data(rd, report_data) != 0 ||
	    make_evidence(b, report_data, &evj) != 0 || (req = json_object()) == NULL ||
	    json_object_set(req, "runtime-data", rd) != 0 || json_object_set(req, "tee-evidence", evj) != 0 ||
	    (body = kw_json_dumps(req, JSON_COMPACT)) == NULL)
		goto local_fail;
	json_decref(j);
	j = NULL;

	snprintf(url, sizeof(url), "%s/kbs/v0/attest", b->base);
	if ((st = request(b, c, EP_ATTEST, url, body, hjson, &rs)) != 200)
		goto http_fail;
	rs.buf[rs.len] = '\0';
	if (kw_json_parse(rs.buf, rs.len, MAX_RESP, &j) != 0 || kw_json_get_str(j, "token", &tok, &n) != 0)
		goto local_fail;
	{
		char nonce_hdr[ATT_MAX_DPOP_NONCE + 1];

		snprintf(nonce_hdr, sizeof(nonce_hdr), "%s", rs.dpop_nonce);
		if ((authz = malloc(n + 32)) == NULL)
			goto local_fail;
		snprintf(authz, n + 32, "Authorization: DPoP %s", tok);
		for (int attempt = 0; attempt < 2; attempt++) {
			curl_slist_free_all(hres);
			hres = NULL;
			free(dpop);
			free(proof);
			dpop = proof = NULL;
			if (att_dpop_proof(k->sig, "GET", b->res_url, tok, nonce_hdr[0] ? nonce_hdr : NULL,
			    kw_time_now(), &proof) != 0 || (dpop = malloc(strlen(proof) + 8)) == NULL)
				goto local_fail;
			snprintf(dpop, strlen(proof) + 8, "DPoP: %s", proof);
			if ((hres = curl_slist_append(NULL, authz)) == NULL ||
			    curl_slist_append(hres, dpop) == NULL)
				goto local_fail;
			st = request(b, c, EP_RESOURCE, b->res_url, NULL, hres, &rs);
			if (st == 401 && attempt == 0 && rs.use_dpop_nonce && rs.dpop_nonce[0] != '\0') {
				snprintf(nonce_hdr, sizeof(nonce_hdr), "%s", rs.dpop_nonce);
				pthread_mutex_lock(&b->lock);
				b->nonce_retries++;
				pthread_mutex_unlock(&b->lock);
				continue;
			}
			break;
		}
	}
	if (st != 200)
		goto http_fail;
	if (!o->no_decrypt) {
		if (att_jwe_decrypt(rs.buf, rs.len, k->enc, &key, &kid) != 0 || kw_secret_len(key) == 0) {
			pthread_mutex_lock(&b->lock);
			note_error(b, "resource: the JWE did not decrypt with the workload's TEE key");
			pthread_mutex_unlock(&b->lock);
			goto local_fail;
		}
	}
	ok = 1;
	goto out;
http_fail:
	if (st > 0) {
		pthread_mutex_lock(&b->lock);
		if (st < 600)
			b->status[st]++;
		rs.buf[rs.len < 200 ? rs.len : 200] = '\0';
		note_error(b, "HTTP %ld: %s", st, rs.buf);
		pthread_mutex_unlock(&b->lock);
	}
	goto out;
local_fail:
	pthread_mutex_lock(&b->lock);
	b->local_errors++;
	note_error(b, "a local step failed (JSON, evidence, DPoP proof or JWE)");
	pthread_mutex_unlock(&b->lock);
out:
	kw_secret_free(key);
	free(kid);
	free(proof);
	if (dpop != NULL)
		kw_free_wipe(dpop);
	if (authz != NULL)
		kw_free_wipe(authz);
	if (body != NULL)
		kw_free_wipe(body);
	curl_slist_free_all(hjson);
	curl_slist_free_all(hres);
	json_decref(j);
	json_decref(rd);
	json_decref(evj);
	json_decref(req);
	return workload_done(b, c, &rs, ok);
}

static void *
worker(void *arg)
{
	struct bench *b = arg;
	double rate = b->o->rate > 0 ? b->o->rate : b->o->ramp > 0 ? (double)b->o->workloads / b->o->ramp : 0;
	unsigned long i;

	while ((i = atomic_fetch_add(&b->next, 1)) < b->o->workloads) {
		if (rate > 0)
			sleep_s(b->t0 + (double)i / rate - now_s());
		(void)(b->o->transport_only ? transport_flow(b) : flow(b, i));
	}
	return NULL;
}

/* ---- results ---- */

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
pct(const struct lat *l, double p)
{
	size_t i;

	if (l->n == 0)
		return 0;
	{
		double x = p / 100.0 * (double)l->n;

		i = (size_t)x;
		if ((double)i < x)
			i++;
	}
	return l->v[i == 0 ? 0 : i - 1] / 1000.0;
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: kwbench --url URL --cacert FILE --emu-dir DIR --resource PATH --broker-pid PID\n"
	    "               [--tee snp|tdx] [--helper-pid PID] [--workloads N] [--concurrency N] [--rate R | --ramp S]\n"
	    "               [--key-pool N] [--no-decrypt] [--transport-only] [--metrics-url URL]\n"
	    "               [--broker-config FILE [--kwhsm-bench PATH]] [--json] [--quiet]\n"
	    "\n"
	    "Load generator for keywarden (docs/performance.md): N emulated SEV-SNP (or TDX)\n"
	    "workloads, each doing /auth, /attest and /resource on one kept-alive TLS\n"
	    "connection, the released JWE opened with its own TEE key.\n"
	    "\n"
	    "  --url URL          the broker's workload URL (https://...)\n"
	    "  --cacert FILE      CA for the broker's TLS certificate\n"
	    "  --emu-dir DIR      the SNP emulation chain (scripts/mk-emu-chain.sh) the broker trusts;\n"
	    "                     with --tee tdx the TDX set (scripts/mk-tdx-emu.sh)\n"
	    "  --tee snp|tdx      the emulated TEE (default snp); tdx needs the broker to hold the\n"
	    "                     emulated platform's collateral (kwget --emu-collateral-out)\n"
	    "  --resource PATH    a key the emulated workload is allowed (e.g. demo/key/disk)\n"
	    "  --broker-pid PID   keywarden's pid: its CPU time and RSS are read from /proc\n"
	    "  --helper-pid PID   keywarden-hsm's pid (default: the broker's keywarden-hsm child)\n"
	    "  --workloads N      workloads (flows), default 1000\n"
	    "  --concurrency N    workloads in flight at once (threads), default 16, at most 1024\n"
	    "  --rate R           open loop: workload i starts at i/R seconds (default: closed loop)\n"
	    "  --ramp S           open loop: all workloads arrive evenly within S seconds\n"
	    "  --key-pool N       TEE key pairs generated before the clock starts, used round\n"
	    "                     robin (default min(workloads, 32))\n"
	    "  --no-decrypt       do not open the JWEs (saves client CPU; the status is still checked)\n"
	    "  --transport-only   no attestation: each workload makes three GET /healthz on one new\n"
	    "                     TLS connection (the broker's transport cost per flow)\n"
	    "  --broker-config FILE  the broker's configuration: the floor's token operations (one\n"
	    "                     contained release, one P-256 signature) are measured on its token\n"
	    "                     with kwhsm-bench --floor instead of OpenSSL (reads the PIN file)\n"
	    "  --kwhsm-bench PATH kwhsm-bench (default: ../hsm/kwhsm-bench from kwbench's directory)\n"
	    "  --metrics-url URL  the broker's metrics listener (https://HOST:PORT, --cacert): its\n"
	    "                     queue depths are sampled every 0.2 s and their maxima reported\n"
	    "  --json             one JSON object on standard output instead of text\n"
	    "  --quiet            no progress on standard error\n"
	    "\n"
	    "Exit status: 0 every workload received its key, 1 some did not, 2 usage or setup.\n");
}

static int
parse_ul(const char *s, unsigned long min, unsigned long max, unsigned long *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < min || v > max)
		return -1;
	*ret = v;
	return 0;
}

static int
parse_args(int argc, char **argv, struct opts *o)
{
	enum { O_URL = 256, O_CA, O_EMU, O_RES, O_BPID, O_HPID, O_N, O_C, O_RATE, O_RAMP, O_POOL,
	    O_NODEC, O_TRANSPORT, O_METRICS, O_TEE, O_BCONF, O_HSMB, O_JSON, O_QUIET, O_HELP };
	static const struct option lo[] = {
		{"url", required_argument, NULL, O_URL}, {"cacert", required_argument, NULL, O_CA},
		{"emu-dir", required_argument, NULL, O_EMU}, {"resource", required_argument, NULL, O_RES},
		{"broker-pid", required_argument, NULL, O_BPID}, {"helper-pid", required_argument, NULL, O_HPID},
		{"workloads", required_argument, NULL, O_N}, {"concurrency", required_argument, NULL, O_C},
		{"rate", required_argument, NULL, O_RATE}, {"ramp", required_argument, NULL, O_RAMP},
		{"key-pool", required_argument, NULL, O_POOL}, {"no-decrypt", no_argument, NULL, O_NODEC},
		{"transport-only", no_argument, NULL, O_TRANSPORT},
		{"metrics-url", required_argument, NULL, O_METRICS},
		{"tee", required_argument, NULL, O_TEE},
		{"broker-config", required_argument, NULL, O_BCONF},
		{"kwhsm-bench", required_argument, NULL, O_HSMB},
		{"json", no_argument, NULL, O_JSON}, {"quiet", no_argument, NULL, O_QUIET},
		{"help", no_argument, NULL, O_HELP}, {NULL, 0, NULL, 0},
	};
	unsigned long v;
	char *end;
	int ch;

	o->workloads = 1000;
	o->concurrency = 16;
	o->tee = "snp";
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case O_URL: o->url = optarg; break;
		case O_CA: o->cacert = optarg; break;
		case O_EMU: o->emu_dir = optarg; break;
		case O_RES: o->resource = optarg; break;
		case O_BPID:
		case O_HPID:
			if (parse_ul(optarg, 1, INT_MAX, &v) != 0) {
				fprintf(stderr, "kwbench: --%s must be a process id\n", ch == O_BPID ? "broker-pid" : "helper-pid");
				return 2;
			}
			*(ch == O_BPID ? &o->broker_pid : &o->helper_pid) = (long)v;
			break;
		case O_N:
			if (parse_ul(optarg, 1, MAX_WORKLOADS, &o->workloads) != 0) {
				fprintf(stderr, "kwbench: --workloads must be 1..%lu\n", MAX_WORKLOADS);
				return 2;
			}
			break;
		case O_C:
			if (parse_ul(optarg, 1, MAX_CONCURRENCY, &o->concurrency) != 0) {
				fprintf(stderr, "kwbench: --concurrency must be 1..%lu\n", MAX_CONCURRENCY);
				return 2;
			}
			break;
		case O_POOL:
			if (parse_ul(optarg, 1, MAX_KEY_POOL, &o->key_pool) != 0) {
				fprintf(stderr, "kwbench: --key-pool must be 1..%lu\n", MAX_KEY_POOL);
				return 2;
			}
			break;
		case O_RATE:
		case O_RAMP:
			errno = 0;
			*(ch == O_RATE ? &o->rate : &o->ramp) = strtod(optarg, &end);
			if (errno != 0 || end == optarg || *end != '\0' ||
			    !(*(ch == O_RATE ? &o->rate : &o->ramp) > 0) ||
			    *(ch == O_RATE ? &o->rate : &o->ramp) > 1e6) {
				fprintf(stderr, "kwbench: --%s must be a positive number\n", ch == O_RATE ? "rate" : "ramp");
				return 2;
			}
			break;
		case O_NODEC: o->no_decrypt = 1; break;
		case O_TRANSPORT: o->transport_only = 1; break;
		case O_METRICS: o->metrics_url = optarg; break;
		case O_TEE: o->tee = optarg; break;
		case O_BCONF: o->broker_config = optarg; break;
		case O_HSMB: o->kwhsm_bench = optarg; break;
		case O_JSON: o->json = 1; break;
		case O_QUIET: o->quiet = 1; break;
		case O_HELP: usage(stdout); return -1;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc || o->url == NULL || o->emu_dir == NULL || o->resource == NULL ||
	    o->broker_pid == 0) {
		fprintf(stderr, "kwbench: --url, --emu-dir, --resource and --broker-pid are required (--help)\n");
		return 2;
	}
	if (strncmp(o->url, "https://", 8) != 0 || strlen(o->url) > MAX_URL - 64 ||
	    strlen(o->resource) > 512) {
		fprintf(stderr, "kwbench: --url must be an https URL; --resource at most 512 characters\n");
		return 2;
	}
	if (o->metrics_url != NULL &&
	    (strncmp(o->metrics_url, "https://", 8) != 0 || strlen(o->metrics_url) > MAX_URL - 16)) {
		fprintf(stderr, "kwbench: --metrics-url must be an https URL (the metrics listener)\n");
		return 2;
	}
	if (strcmp(o->tee, "snp") != 0 && strcmp(o->tee, "tdx") != 0) {
		fprintf(stderr, "kwbench: --tee must be snp or tdx\n");
		return 2;
	}
	if (o->rate > 0 && o->ramp > 0) {
		fprintf(stderr, "kwbench: --rate and --ramp exclude each other\n");
		return 2;
	}
	if (o->key_pool == 0)
		o->key_pool = o->workloads < 32 ? o->workloads : 32;
	if (o->key_pool > o->workloads)
		o->key_pool = o->workloads;
	return 0;
}

static int
setup(struct bench *b)
{
	const struct opts *o = b->o;
	struct att_emu_opts eo = {.dir = o->emu_dir};
	uint8_t rd[ATT_REPORT_DATA_LEN] = {0};
	char path[4096];
	FILE *f;
	size_t blen = strlen(o->url);

	while (blen > 0 && o->url[blen - 1] == '/')
		blen--;
	snprintf(b->base, sizeof(b->base), "%.*s", (int)blen, o->url);
	snprintf(b->res_url, sizeof(b->res_url), "%s/kbs/v0/resource/%s", b->base, o->resource);
	if (strcmp(o->tee, "tdx") == 0) {
		/* one platform: one attestation key (and QE report) for every workload's quote */
		if (att_tdx_emu_load(o->emu_dir, kw_time_now(), &b->tdx, &b->tdx_opts) != 0) {
			fprintf(stderr, "kwbench: cannot load the TDX emulation set in %s "
			    "(scripts/mk-tdx-emu.sh)\n", o->emu_dir);
			return -1;
		}
	} else {
		if (att_emu_snp_evidence(&eo, rd, &b->tmpl) != 0) {
			fprintf(stderr, "kwbench: cannot load the SNP emulation chain in %s\n", o->emu_dir);
			return -1;
		}
		snprintf(path, sizeof(path), "%s/vcek.key", o->emu_dir);
		if ((f = fopen(path, "r")) == NULL ||
		    (b->vcek_key = PEM_read_PrivateKey(f, NULL, NULL, NULL)) == NULL) {
			if (f != NULL)
				fclose(f);
			fprintf(stderr, "kwbench: cannot read %s\n", path);
			return -1;
		}
		fclose(f);
	}
	if ((b->keys = calloc(o->key_pool, sizeof(*b->keys))) == NULL)
		return -1;
	if (!o->quiet)
		fprintf(stderr, "kwbench: generating %lu TEE key pairs (RSA-3072 + P-256)...\n", o->key_pool);
	for (unsigned long i = 0; i < o->key_pool; i++)
		if (att_keys_generate(&b->keys[i]) != 0) {
			fprintf(stderr, "kwbench: key generation failed\n");
			return -1;
		}
	return 0;
}

/*
 * --metrics-url: the broker's queues, sampled from its Prometheus endpoint
 * while the workloads run (every SAMPLE_INTERVAL; a peak between two samples
 * is not seen). The maxima of the gauges below.
 */
enum qgauge { QG_APPRAISAL, QG_ADMIN, QG_INFLIGHT, QG_CONNS, QG__N };
static const struct {
	const char *json, *sample;      /* the sample's name and labels, as the broker writes them */
} qgauges[QG__N] = {
	{"appraisal_queue", "keywarden_worker_queue_depth{pool=\"appraisal\"} "},
	{"admin_queue", "keywarden_worker_queue_depth{pool=\"admin\"} "},
	{"appraisals_in_flight", "keywarden_appraisals_in_flight "},
	{"workload_connections", "keywarden_open_connections{listener=\"workload\"} "},
};
#define SAMPLE_INTERVAL 0.2

struct qmax {
	CURL *c;
	struct resp rs;
	char url[MAX_URL + 16];
	long max[QG__N];
	unsigned long samples, failed;
};

static int
qmax_init(struct qmax *q, const struct opts *o)
{
	size_t n = strlen(o->metrics_url);

	memset(q, 0, sizeof(*q));
	for (int g = 0; g < QG__N; g++)
		q->max[g] = -1;
	while (n > 0 && o->metrics_url[n - 1] == '/')
		n--;
	/* a bare https://host:port gets /metrics */
	if (n > 8 && strchr(o->metrics_url + 8, '/') == NULL)
		snprintf(q->url, sizeof(q->url), "%.*s/metrics", (int)n, o->metrics_url);
	else
		snprintf(q->url, sizeof(q->url), "%.*s", (int)n, o->metrics_url);
	q->rs.max = MAX_RESP;
	if ((q->rs.buf = malloc(MAX_RESP + 1)) == NULL || (q->c = curl_easy_init()) == NULL)
		return -1;
	curl_easy_setopt(q->c, CURLOPT_URL, q->url);
	curl_easy_setopt(q->c, CURLOPT_PROTOCOLS_STR, "https");
	if (o->cacert != NULL)
		curl_easy_setopt(q->c, CURLOPT_CAINFO, o->cacert);
	curl_easy_setopt(q->c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(q->c, CURLOPT_TIMEOUT, 5L);
	curl_easy_setopt(q->c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(q->c, CURLOPT_WRITEDATA, &q->rs);
	return 0;
}

/* One scrape: the gauges' values raise their maxima. 0, or -1 (nothing learnt). */
static int
qmax_sample(struct qmax *q)
{
	long status = 0;
	int seen = 0;

	q->rs.len = 0;
	q->rs.too_large = 0;
	if (curl_easy_perform(q->c) != CURLE_OK ||
	    curl_easy_getinfo(q->c, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK || status != 200) {
		q->failed++;
		return -1;
	}
	q->rs.buf[q->rs.len] = '\0';
	for (const char *line = q->rs.buf; line != NULL && *line != '\0';) {
		const char *nl = strchr(line, '\n');

		for (int g = 0; g < QG__N; g++) {
			size_t k = strlen(qgauges[g].sample);
			char *end;
			long v;

			if (strncmp(line, qgauges[g].sample, k) != 0)
				continue;
			errno = 0;
			v = strtol(line + k, &end, 10);
			if (errno == 0 && end != line + k && (*end == '\n' || *end == '\0') && v >= 0) {
				if (v > q->max[g])
					q->max[g] = v;
				seen = 1;
			}
		}
		line = nl != NULL ? nl + 1 : NULL;
	}
	if (!seen) {
		q->failed++;
		return -1;
	}
	q->samples++;
	return 0;
}

static void
qmax_free(struct qmax *q)
{
	if (q->c != NULL)
		curl_easy_cleanup(q->c);
	free(q->rs.buf);
}

struct results {
	double wall, flows_per_s, broker_ms, helper_ms, client_ms, ratio;
	struct qmax q;
	struct proc_sample b0, b1, h0, h1, bmax, hmax;
	struct floor fl;
};

static void
print_text(const struct bench *b, const struct results *r)
{
	const struct opts *o = b->o;

	printf("kwbench %s: %lu %s workloads, %lu in flight, %s", KW_VERSION, o->workloads, o->tee,
	    o->concurrency,
	    o->rate > 0 ? "open loop" : o->ramp > 0 ? "open loop (ramp)" : "closed loop");
	if (o->rate > 0)
		printf(" at %.1f/s", o->rate);
	if (o->ramp > 0)
		printf(" within %.1f s", o->ramp);
	printf("%s\n", o->transport_only ? "; transport only (3 x GET /healthz per flow)" : "");
	printf("completed: %lu ok, %lu failed in %.2f s = %.1f flows/s; time to the last key %.2f s\n",
	    b->flows_ok, b->flows_failed, r->wall, r->flows_per_s, b->last_done - b->t0);
	printf("retries: %lu after 429/503, %lu DPoP nonce; errors: %lu network, %lu local",
	    b->retries, b->nonce_retries, b->net_errors, b->local_errors);
	for (int s = 0; s < 600; s++)
		if (b->status[s] != 0)
			printf(", HTTP %d x%lu", s, b->status[s]);
	printf("\n");
	if (b->first_error[0] != '\0')
		printf("first error: %s\n", b->first_error);
	printf("broker CPU per flow: %.3f ms (keywarden %.3f + keywarden-hsm %.3f); client %.3f ms\n",
	    r->broker_ms + r->helper_ms, r->broker_ms, r->helper_ms, r->client_ms);
	if (r->fl.hsm)
		printf("floor per flow: %.3f ms (evidence %s %.3f, 2 x P-256 verify %.3f; on the token: "
		    "P-256 sign %.3f, contained release %.3f)\n", r->fl.total,
		    b->tdx != NULL ? "2 x P-256 verify" : "P-384 verify", r->fl.evidence,
		    2 * r->fl.p256_verify, r->fl.hsm_sign, r->fl.hsm_release);
	else
		printf("floor per flow: %.3f ms (evidence %s %.3f, 2 x P-256 verify %.3f, P-256 sign %.3f, "
		    "RSA-3072 OAEP encrypt %.3f)\n", r->fl.total,
		    b->tdx != NULL ? "2 x P-256 verify" : "P-384 verify", r->fl.evidence,
		    2 * r->fl.p256_verify, r->fl.p256_sign, r->fl.rsa_oaep_enc);
	printf("ratio to the floor: %.2f\n", r->ratio);
	for (int e = 0; e < EP__N; e++)
		if (b->lat[e].n > 0)
			printf("%-9s n=%-7zu p50 %7.2f ms  p95 %7.2f ms  p99 %7.2f ms  max %7.2f ms\n",
			    ep_name[e], b->lat[e].n, pct(&b->lat[e], 50), pct(&b->lat[e], 95),
			    pct(&b->lat[e], 99), pct(&b->lat[e], 100));
	if (o->metrics_url != NULL) {
		printf("queue maxima (%lu samples, %lu failed):", r->q.samples, r->q.failed);
		for (int g = 0; g < QG__N; g++)
			printf(" %s %ld", qgauges[g].json, r->q.max[g]);
		printf("\n");
	}
	printf("RSS keywarden: %ld kB before, %ld kB max sampled, %ld kB after; keywarden-hsm: %ld / %ld / %ld kB\n",
	    r->b0.rss_kb, r->bmax.rss_kb, r->b1.rss_kb, r->h0.rss_kb, r->hmax.rss_kb, r->h1.rss_kb);
}

static int
print_json(const struct bench *b, const struct results *r)
{
	json_t *lat = json_object(), *st = json_object(), *q = json_null(), *o;
	char *s;

	if (lat == NULL || st == NULL)
		return -1;
	if (b->o->metrics_url != NULL) {
		if ((q = json_pack("{s:I, s:I}", "samples", (json_int_t)r->q.samples, "failed",
		    (json_int_t)r->q.failed)) == NULL)
			return -1;
		for (int g = 0; g < QG__N; g++)
			json_object_set_new(q, qgauges[g].json,
			    r->q.max[g] >= 0 ? json_integer(r->q.max[g]) : json_null());
	}
	for (int e = 0; e < EP__N; e++)
		json_object_set_new(lat, ep_name[e], json_pack("{s:I, s:f, s:f, s:f, s:f}",
		    "n", (json_int_t)b->lat[e].n, "p50_ms", pct(&b->lat[e], 50), "p95_ms",
		    pct(&b->lat[e], 95), "p99_ms", pct(&b->lat[e], 99), "max_ms", pct(&b->lat[e], 100)));
	for (int i = 0; i < 600; i++)
		if (b->status[i] != 0) {
			char k[8];

			snprintf(k, sizeof(k), "%d", i);
			json_object_set_new(st, k, json_integer((json_int_t)b->status[i]));
		}
	o = json_pack("{s:s, s:I, s:I, s:s, s:f, s:I, s:I, s:f, s:f, s:f, s:I, s:I, s:I, s:I, s:o, "
	    "s:{s:f, s:f, s:f, s:f}, s:{s:f, s:f, s:f, s:f, s:f, s:f, s:o, s:o, s:s}, s:f, s:o, "
	    "s:{s:I, s:I, s:I, s:I, s:I, s:I}, s:s?, s:s, s:o, s:s}",
	    "version", KW_VERSION, "workloads", (json_int_t)b->o->workloads,
	    "concurrency", (json_int_t)b->o->concurrency,
	    "mode", b->o->rate > 0 || b->o->ramp > 0 ? "open" : "closed",
	    "offered_rate", b->o->rate > 0 ? b->o->rate : b->o->ramp > 0 ? (double)b->o->workloads / b->o->ramp : 0.0,
	    "flows_ok", (json_int_t)b->flows_ok, "flows_failed", (json_int_t)b->flows_failed,
	    "wall_s", r->wall, "flows_per_s", r->flows_per_s, "time_to_last_key_s", b->last_done - b->t0,
	    "retries", (json_int_t)b->retries, "dpop_nonce_retries", (json_int_t)b->nonce_retries,
	    "network_errors", (json_int_t)b->net_errors, "local_errors", (json_int_t)b->local_errors,
	    "http_errors", st,
	    "cpu_ms_per_flow", "keywarden", r->broker_ms, "keywarden_hsm", r->helper_ms,
	    "broker_total", r->broker_ms + r->helper_ms, "client", r->client_ms,
	    "floor_ms", "p384_verify", r->fl.p384_verify, "p256_verify", r->fl.p256_verify,
	    "p256_sign", r->fl.p256_sign, "rsa_oaep_encrypt", r->fl.rsa_oaep_enc, "total", r->fl.total,
	    "evidence", r->fl.evidence,
	    "hsm_sign", r->fl.hsm ? json_real(r->fl.hsm_sign) : json_null(),
	    "hsm_release", r->fl.hsm ? json_real(r->fl.hsm_release) : json_null(),
	    "token_ops", r->fl.hsm ? "hsm" : "openssl",
	    "ratio", r->ratio, "latency", lat,
	    "rss_kb", "keywarden_before", (json_int_t)r->b0.rss_kb, "keywarden_max", (json_int_t)r->bmax.rss_kb,
	    "keywarden_after", (json_int_t)r->b1.rss_kb, "keywarden_hsm_before", (json_int_t)r->h0.rss_kb,
	    "keywarden_hsm_max", (json_int_t)r->hmax.rss_kb, "keywarden_hsm_after", (json_int_t)r->h1.rss_kb,
	    "first_error", b->first_error[0] ? b->first_error : NULL,
	    "flow", b->o->transport_only ? "transport" : "full", "queue_max", q, "tee", b->o->tee);
	if (o == NULL || (s = kw_json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS)) == NULL) {
		json_decref(o);
		return -1;
	}
	printf("%s\n", s);
	free(s);
	json_decref(o);
	return 0;
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct bench b;
	struct results r;
	struct rusage ru0, ru1;
	pthread_t *th = NULL;
	unsigned long nth, started = 0;
	int rc;

	memset(&o, 0, sizeof(o));
	if ((rc = parse_args(argc, argv, &o)) != 0)
		return rc < 0 ? 0 : rc;
	memset(&b, 0, sizeof(b));
	memset(&r, 0, sizeof(r));
	b.o = &o;
	pthread_mutex_init(&b.lock, NULL);
	kw_json_init();
	srand((unsigned int)getpid());
	rc = 2;    /* until the run is done: every exit below goes through out */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || setup(&b) != 0)
		goto out;
	if (o.helper_pid == 0)
		o.helper_pid = find_helper(o.broker_pid);
	if (proc_sample(o.broker_pid, &r.b0) != 0) {
		fprintf(stderr, "kwbench: cannot read /proc/%ld: is the broker running?\n", o.broker_pid);
		goto out;
	}
	if (o.broker_config != NULL && measure_hsm_floor(&o, &r.fl) != 0)
		goto out;
	if (measure_floor(b.keys[0], b.tdx != NULL, &r.fl) != 0) {
		fprintf(stderr, "kwbench: cannot measure the cryptographic floor\n");
		goto out;
	}
	if (o.metrics_url != NULL && (qmax_init(&r.q, &o) != 0 || qmax_sample(&r.q) != 0)) {
		fprintf(stderr, "kwbench: cannot read the broker's queue depths from %s\n", r.q.url);
		goto out;
	}
	(void)proc_sample(o.helper_pid, &r.h0);
	r.bmax = r.b0;
	r.hmax = r.h0;
	nth = o.concurrency < o.workloads ? o.concurrency : o.workloads;
	if ((th = calloc(nth, sizeof(*th))) == NULL)
		goto out;
	if (!o.quiet)
		fprintf(stderr, "kwbench: %lu workloads, %lu in flight\n", o.workloads, nth);
	getrusage(RUSAGE_SELF, &ru0);
	b.t0 = now_s();
	atomic_init(&b.next, 0);
	{
		pthread_attr_t at;

		pthread_attr_init(&at);
		pthread_attr_setstacksize(&at, 512 * 1024);
		for (; started < nth; started++)
			if (pthread_create(&th[started], &at, worker, &b) != 0)
				break;
		pthread_attr_destroy(&at);
	}
	if (started == 0)
		goto out;
	/* sample RSS while the workers run */
	for (;;) {
		struct proc_sample s;
		unsigned long done;

		pthread_mutex_lock(&b.lock);
		done = b.flows_ok + b.flows_failed;
		pthread_mutex_unlock(&b.lock);
		if (done >= o.workloads)
			break;
		sleep_s(SAMPLE_INTERVAL);
		if (o.metrics_url != NULL)
			(void)qmax_sample(&r.q);
		if (proc_sample(o.broker_pid, &s) == 0 && s.rss_kb > r.bmax.rss_kb)
			r.bmax.rss_kb = s.rss_kb;
		if (proc_sample(o.helper_pid, &s) == 0 && s.rss_kb > r.hmax.rss_kb)
			r.hmax.rss_kb = s.rss_kb;
	}
	for (unsigned long i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	r.wall = now_s() - b.t0;
	getrusage(RUSAGE_SELF, &ru1);
	(void)proc_sample(o.broker_pid, &r.b1);
	(void)proc_sample(o.helper_pid, &r.h1);
	for (int e = 0; e < EP__N; e++)
		if (b.lat[e].n > 0)    /* an endpoint this mode does not call has no array */
			qsort(b.lat[e].v, b.lat[e].n, sizeof(double), cmp_double);
	{
		double done = (double)(b.flows_ok > 0 ? b.flows_ok : 1);
		double c0 = (double)ru0.ru_utime.tv_sec * 1e3 + (double)ru0.ru_utime.tv_usec / 1e3 +
		    (double)ru0.ru_stime.tv_sec * 1e3 + (double)ru0.ru_stime.tv_usec / 1e3;
		double c1 = (double)ru1.ru_utime.tv_sec * 1e3 + (double)ru1.ru_utime.tv_usec / 1e3 +
		    (double)ru1.ru_stime.tv_sec * 1e3 + (double)ru1.ru_stime.tv_usec / 1e3;

		r.flows_per_s = (double)b.flows_ok / r.wall;
		r.broker_ms = (r.b1.cpu_ms - r.b0.cpu_ms) / done;
		r.helper_ms = r.h0.cpu_ms >= 0 && r.h1.cpu_ms >= 0 ? (r.h1.cpu_ms - r.h0.cpu_ms) / done : 0;
		r.client_ms = (c1 - c0) / done;
		r.ratio = (r.broker_ms + r.helper_ms) / r.fl.total;
	}
	if (r.h0.cpu_ms < 0 && !o.quiet)
		fprintf(stderr, "kwbench: no keywarden-hsm process found (--helper-pid): its CPU is not counted\n");
	if (o.json ? print_json(&b, &r) != 0 : (print_text(&b, &r), 0))
		goto out;
	rc = b.flows_failed == 0 && b.flows_ok == o.workloads ? 0 : 1;
out:
	for (unsigned long i = 0; b.keys != NULL && i < o.key_pool; i++)
		att_keys_free(b.keys[i]);
	free(b.keys);
	for (int e = 0; e < EP__N; e++)
		free(b.lat[e].v);
	EVP_PKEY_free(b.vcek_key);
	att_evidence_free(b.tmpl);
	att_tdx_emu_free(b.tdx);
	qmax_free(&r.q);
	free(th);
	curl_global_cleanup();
	return rc;
}
