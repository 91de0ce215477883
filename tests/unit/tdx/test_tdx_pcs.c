/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_tdx_pcs: verifier-client/tdx/tdx_pcs against a loopback HTTPS PCS
 * stub (pcs_stub.py, TLS with a CA made by scripts/mk-tls.sh for this run).
 * The stub serves files this program writes into its scratch directory: the
 * recorded Intel PCS responses of $KW_VECTORS/tdx (never copied into the
 * tree) and PCS-shaped responses built from emulated collateral
 * (attester/att_tdx_emu.c, a NOT INTEL test root), whose dates the tests
 * choose. The refresher's clock is a variable here; requests are counted by
 * the stub (requests.log), events by the callback.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "att_tdx_emu.h"
#include "kw_json.h"
#include "kw_util.h"
#include "tdx_int.h"
#include "tdx_pcs.h"
#include "test_helper.h"

#define T2023 1687219200LL   /* 2023-06-20T00:00:00Z: inside gotdx-spr-e4-v4's collateral window */
#define T2025 1759276800LL   /* 2025-10-01T00:00:00Z: inside the 2025-09 collateral's common window */
#define EV_MAX 512
#define WAIT_MS 8000

static const uint8_t fmspc_50806f[6] = { 0x50, 0x80, 0x6f, 0x00, 0x00, 0x00 };

/* ---- fixtures: paths, stub, clock, events ---- */

static char g_stubdir[PATH_MAX], g_tls[PATH_MAX], g_stubpy[PATH_MAX];
static pid_t g_pid = -1;
static int g_port;
static _Atomic int64_t g_clock;

static int64_t
test_clock(void *arg)
{
	(void)arg;
	return atomic_load(&g_clock);
}

struct rec {
	struct tdx_pcs_event ev;
	char why[160], detail[256];
};
static pthread_mutex_t ev_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ev_cond = PTHREAD_COND_INITIALIZER;
static struct rec g_ev[EV_MAX];
static size_t g_nev;

static void
on_event(void *arg, const struct tdx_pcs_event *ev)
{
	(void)arg;
	pthread_mutex_lock(&ev_lock);
	if (g_nev < EV_MAX) {
		struct rec *r = &g_ev[g_nev++];

		r->ev = *ev;
		snprintf(r->why, sizeof(r->why), "%s", ev->why);
		snprintf(r->detail, sizeof(r->detail), "%s", ev->detail != NULL ? ev->detail : "");
		r->ev.why = r->why;
		r->ev.detail = r->detail;
	}
	pthread_cond_broadcast(&ev_cond);
	pthread_mutex_unlock(&ev_lock);
}

static size_t
ev_mark(void)
{
	size_t n;

	pthread_mutex_lock(&ev_lock);
	n = g_nev;
	pthread_mutex_unlock(&ev_lock);
	return n;
}

/* The first event of this kind at index >= *from (bounded wait); *from moves past it. */
static const struct rec *
ev_wait(size_t *from, enum tdx_pcs_event_kind kind)
{
	struct timespec ts;
	const struct rec *found = NULL;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += WAIT_MS / 1000;
	pthread_mutex_lock(&ev_lock);
	for (;;) {
		for (size_t i = *from; i < g_nev && found == NULL; i++)
			if (g_ev[i].ev.kind == kind) {
				found = &g_ev[i];
				*from = i + 1;
			}
		if (found != NULL || pthread_cond_timedwait(&ev_cond, &ev_lock, &ts) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&ev_lock);
	CHECKF(found != NULL, "no event of kind %d within %d ms", (int)kind, WAIT_MS);
	return found;
}

static void
path_in(char *buf, size_t n, const char *dir, const char *name)
{
	int k = snprintf(buf, n, "%s/%s", dir, name);

	if (k < 0 || (size_t)k >= n) {    /* also used outside tests (suite_init): no CUnit here */
		fprintf(stderr, "path too long: %s/%s\n", dir, name);
		abort();
	}
}

static void
stub_put(const char *name, const void *buf, size_t len)
{
	char p[PATH_MAX];

	path_in(p, sizeof(p), g_stubdir, name);
	CU_ASSERT_FATAL(kw_file_write_atomic(p, buf, len, 0644) == 0);
}

static void
stub_fault(const char *line)
{
	char p[PATH_MAX];

	path_in(p, sizeof(p), g_stubdir, "fault");
	if (line == NULL)
		(void)unlink(p);
	else
		stub_put("fault", line, strlen(line));
}

/* Requests the stub has seen, and the last one's path into last (may be NULL). */
static unsigned long
stub_requests(char *last, size_t n)
{
	char p[PATH_MAX], line[512];
	unsigned long count = 0;
	FILE *f;

	path_in(p, sizeof(p), g_stubdir, "requests.log");
	if ((f = fopen(p, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		count++;
		if (last != NULL)
			snprintf(last, n, "%.*s", (int)strcspn(line, "\n"), line);
	}
	fclose(f);
	return count;
}

/* The i-th request path (0-based) into out; 0 or -1. */
static int
stub_request_at(unsigned long i, char *out, size_t n)
{
	char p[PATH_MAX], line[512];
	unsigned long k = 0;
	FILE *f;
	int r = -1;

	path_in(p, sizeof(p), g_stubdir, "requests.log");
	if ((f = fopen(p, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (k++ == i) {
			snprintf(out, n, "%.*s", (int)strcspn(line, "\n"), line);
			r = 0;
			break;
		}
	fclose(f);
	return r;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Start the stub (port 0: any); waits until it listens. */
static int
stub_start(int port)
{
	static char py[] = "python3";
	char portfile[PATH_MAX], cert[PATH_MAX], key[PATH_MAX], portstr[16];
	char *argv[8];
	pid_t pid;

	path_in(portfile, sizeof(portfile), g_stubdir, "port");
	path_in(cert, sizeof(cert), g_tls, "server.pem");
	path_in(key, sizeof(key), g_tls, "server.key");
	(void)unlink(portfile);
	snprintf(portstr, sizeof(portstr), "%d", port);
	argv[0] = py;
	argv[1] = g_stubpy;
	argv[2] = g_stubdir;
	argv[3] = cert;
	argv[4] = key;
	argv[5] = portfile;
	argv[6] = portstr;
	argv[7] = NULL;
	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		execv("/usr/bin/python3", argv);
		_exit(127);
	}
	g_pid = pid;
	for (int i = 0; i < 200; i++) {
		uint8_t *buf = NULL;
		size_t len = 0;

		if (kw_file_read(portfile, 64, &buf, &len) == 0) {
			g_port = (int)strtol((const char *)buf, NULL, 10);
			free(buf);
			return g_port > 0 ? 0 : -1;
		}
		sleep_ms(50);
	}
	fprintf(stderr, "pcs_stub.py did not start\n");
	return -1;
}

static void
stub_stop(void)
{
	if (g_pid > 0) {
		kill(g_pid, SIGTERM);
		(void)waitpid(g_pid, NULL, 0);
		g_pid = -1;
	}
}

static int
suite_init(void)
{
	const char *src = getenv("KW_SOURCE_ROOT");
	char cmd[PATH_MAX * 2 + 64];

	if (src == NULL || test_vectors("tdx") == NULL)
		return -1;
	path_in(g_stubdir, sizeof(g_stubdir), test_tmpdir(), "stub");
	path_in(g_tls, sizeof(g_tls), test_tmpdir(), "tls");
	snprintf(g_stubpy, sizeof(g_stubpy), "%s/tests/unit/tdx/pcs_stub.py", src);
	if (mkdir(g_stubdir, 0700) != 0)
		return -1;
	snprintf(cmd, sizeof(cmd), "sh '%s/scripts/mk-tls.sh' '%s'", src, g_tls);
	if (system(cmd) != 0)
		return -1;
	return stub_start(0);
}

static int
suite_clean(void)
{
	stub_stop();
	return 0;
}

/* ---- files ---- */

static json_t *
json_load(const char *path)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	json_t *j = NULL;
	int r = kw_file_read(path, 8 * 1024 * 1024, &buf, &len);

	CHECKF(r == 0, "cannot read %s: %s", path, kw_strerror(r));
	if (r == 0) {
		r = kw_json_parse(buf, len, 8 * 1024 * 1024, &j);
		CHECKF(r == 0, "%s is not JSON: %s", path, kw_strerror(r));
	}
	free(buf);
	return j;
}

static const char *
str(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	CHECKF(s != NULL, "no string member %s", k);
	return s != NULL ? s : "";
}

/* Copy a vector file to the stub's directory under another name. */
static void
stub_copy(const char *vector_rel, const char *name)
{
	char p[PATH_MAX];
	uint8_t *buf = NULL;
	size_t len = 0;

	test_vpath(p, sizeof(p), "tdx", "%s", vector_rel);
	CU_ASSERT_FATAL(kw_file_read(p, 1024 * 1024, &buf, &len) == 0);
	stub_put(name, buf, len);
	free(buf);
}

static void
stub_put_hex(const char *name, const char *hex)
{
	size_t n = strlen(hex) / 2;
	uint8_t *b = malloc(n + 1);

	CU_ASSERT_FATAL(b != NULL);
	CU_ASSERT_FATAL(kw_hex_decode(hex, b, n) == 0);
	stub_put(name, b, n);
	free(b);
}

/* A signed document's PCS body: {"<member>":<text>,"signature":"<hex>"}. */
static void
stub_put_signed(const char *name, const char *member, const char *text, const char *sig)
{
	size_t n = strlen(member) + strlen(text) + strlen(sig) + 32;
	char *b = malloc(n);

	CU_ASSERT_FATAL(b != NULL);
	snprintf(b, n, "{\"%s\":%s,\"signature\":\"%s\"}", member, text, sig);
	stub_put(name, b, strlen(b));
	free(b);
}

/*
 * Serve a QuoteCollateralV3 document the way PCS would (the TCB Info under
 * fmspc_hex unless tcb_too is 0; the PCK CRL as the platform CA's).
 */
static void
serve_doc(const json_t *d, const char *fmspc_hex, int tcb_too)
{
	char name[64];

	if (tcb_too) {
		snprintf(name, sizeof(name), "tcb-%s.json", fmspc_hex);
		stub_put_signed(name, "tcbInfo", str(d, "tcb_info"), str(d, "tcb_info_signature"));
	}
	stub_put("tcb-chain.pem", str(d, "tcb_info_issuer_chain"), strlen(str(d, "tcb_info_issuer_chain")));
	stub_put_signed("qe.json", "enclaveIdentity", str(d, "qe_identity"), str(d, "qe_identity_signature"));
	stub_put("qe-chain.pem", str(d, "qe_identity_issuer_chain"), strlen(str(d, "qe_identity_issuer_chain")));
	stub_put_hex("pckcrl-platform.der", str(d, "pck_crl"));
	stub_put("pckcrl-chain-platform.pem", str(d, "pck_crl_issuer_chain"),
	    strlen(str(d, "pck_crl_issuer_chain")));
	stub_put_hex("rootcrl.der", str(d, "root_ca_crl"));
}

/* The 2023 recorded set: go-tdx-guest's PCS responses for FMSPC 50806f000000. */
static void
serve_2023(void)
{
	char p[PATH_MAX];
	json_t *d;

	test_vpath(p, sizeof(p), "tdx", "gotdx-spr-e4-v4/collateral.json");
	CU_ASSERT_FATAL((d = json_load(p)) != NULL);
	serve_doc(d, "50806f000000", 0);     /* the chains (PCS sends them as headers) */
	stub_copy("gotdx-spr-e4-v4/pcs/tcbinfo_response.json", "tcb-50806f000000.json");
	stub_copy("gotdx-spr-e4-v4/pcs/qe_identity_response.json", "qe.json");
	stub_copy("gotdx-spr-e4-v4/pcs/pck_crl_platform.der", "pckcrl-platform.der");
	stub_copy("gotdx-spr-e4-v4/pcs/root_ca_crl.der", "rootcrl.der");
	json_decref(d);
}

static const char *const fmspcs_2025[] = { "00806f050000", "50806f000000", "90c06f000000", "b0c06f000000" };

/* The 2025-09 set: the recorded TCB Info responses, the rest from dcap-qvl's near collateral. */
static void
serve_2025(void)
{
	char p[PATH_MAX], rel[128], name[64];
	json_t *d;

	test_vpath(p, sizeof(p), "tdx", "dcapqvl-near-20a06f-v4-uptodate/collateral.json");
	CU_ASSERT_FATAL((d = json_load(p)) != NULL);
	serve_doc(d, "", 0);
	json_decref(d);
	for (size_t i = 0; i < KW_ARRAY_SIZE(fmspcs_2025); i++) {
		snprintf(rel, sizeof(rel), "pcs-tcbinfo/tcbInfo-tdx-%s.json", fmspcs_2025[i]);
		snprintf(name, sizeof(name), "tcb-%s.json", fmspcs_2025[i]);
		stub_copy(rel, name);
	}
}

/* The stub's URL (with path, may be ""), its CA, the test's clock and event recorder. */
static void
cfg_stub(struct tdx_pcs_config *cfg, const char *path, char url[static 128], char ca[static PATH_MAX])
{
	snprintf(url, 128, "https://127.0.0.1:%d%s", g_port, path);
	path_in(ca, PATH_MAX, g_tls, "ca.pem");
	memset(cfg, 0, sizeof(*cfg));
	cfg->url = url;
	cfg->ca_file = ca;
	cfg->clock = test_clock;
	cfg->on_event = on_event;
}

static struct tdx_pcs *
pcs_open(const struct tdx_trust *t, const char *cache_dir, unsigned int timeout_s, unsigned int margin_s,
    size_t max_response)
{
	char url[128], ca[PATH_MAX];
	struct tdx_pcs_config cfg;
	struct tdx_pcs *p = NULL;
	const char *why = NULL;
	int r;

	cfg_stub(&cfg, "", url, ca);
	cfg.cache_dir = cache_dir;
	cfg.timeout_s = timeout_s;
	cfg.refresh_interval_s = 86400;
	cfg.refresh_margin_s = margin_s;
	cfg.retry_s = 5;
	cfg.max_response = max_response;
	r = tdx_pcs_new(t, &cfg, &p, &why);
	CHECKF(r == 0, "tdx_pcs_new: %s (%s)", kw_strerror(r), r != 0 ? why : "");
	return p;
}

static void
scratch(char *buf, size_t n, const char *name)
{
	path_in(buf, n, test_tmpdir(), name);
}

static void
cache_file(char *buf, size_t n, const char *dir, const char *fmspc_hex)
{
	int k = snprintf(buf, n, "%s/tdx-%s-platform.json", dir, fmspc_hex);

	CU_ASSERT_FATAL(k > 0 && (size_t)k < n);
}

/* ---- parsers ---- */

static void
test_pcs_url_decode(void)
{
	static const char *const bad[] = { "%", "%4", "%zz", "a b", "a\tb", "%00", "%7F", "%C3%A9", "\xc3\xa9" };
	char p[PATH_MAX], *enc, *dec = NULL;
	const char *chain;
	size_t n, len = 0;
	json_t *d;

	test_vpath(p, sizeof(p), "tdx", "gotdx-spr-e4-v4/collateral.json");
	CU_ASSERT_FATAL((d = json_load(p)) != NULL);
	chain = str(d, "tcb_info_issuer_chain");
	/* encode as PCS does: every byte but unreserved ones */
	n = strlen(chain);
	CU_ASSERT_FATAL((enc = malloc(3 * n + 1)) != NULL);
	for (size_t i = 0, o = 0; i <= n; i++) {
		unsigned char c = (unsigned char)chain[i];

		if (c == '\0')
			enc[o] = '\0';
		else if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')
			enc[o++] = (char)c;
		else
			o += (size_t)snprintf(enc + o, 4, "%%%02X", c);
	}
	CU_ASSERT_FATAL(tdx_pcs_url_decode(enc, strlen(enc), &dec, &len) == 0);
	CU_ASSERT(len == n && memcmp(dec, chain, n) == 0);
	free(dec);
	/* lower-case escapes and literal '/', '+', '=' (some servers leave them) decode too */
	CU_ASSERT_FATAL(tdx_pcs_url_decode("a%2fb/c+d%3d=%0a", 16, &dec, &len) == 0);
	CU_ASSERT(len == 10 && memcmp(dec, "a/b/c+d==\n", 10) == 0);
	free(dec);
	for (size_t i = 0; i < KW_ARRAY_SIZE(bad); i++) {
		dec = NULL;
		CHECKF(tdx_pcs_url_decode(bad[i], strlen(bad[i]), &dec, &len) == KW_ERR_INVALID_FORMAT,
		    "'%s' decoded", bad[i]);
		CU_ASSERT(dec == NULL);
	}
	CU_ASSERT(tdx_pcs_url_decode("", 0, &dec, &len) == KW_ERR_INVALID_FORMAT);
	{
		size_t big = TDX_MAX_CHAIN_PEM + 1;
		char *b = malloc(big);

		CU_ASSERT_FATAL(b != NULL);
		memset(b, 'A', big);
		CU_ASSERT(tdx_pcs_url_decode(b, big, &dec, &len) == KW_ERR_TOO_LARGE);
		free(b);
	}
	free(enc);
	json_decref(d);
}

/* Cut every recorded TCB Info / QE identity response; the texts are the vectors' signed texts. */
static void
test_pcs_cut_recorded(void)
{
	static const struct {
		const char *resp, *member, *coll, *text_key, *sig_key;
	} v[] = {
		{ "gotdx-spr-e4-v4/pcs/tcbinfo_response.json", "tcbInfo", "gotdx-spr-e4-v4/collateral.json",
		  "tcb_info", "tcb_info_signature" },
		{ "gotdx-spr-e4-v4/pcs/qe_identity_response.json", "enclaveIdentity",
		  "gotdx-spr-e4-v4/collateral.json", "qe_identity", "qe_identity_signature" },
		{ "gotdx-v5-90c06f/pcs/tcbinfo_response.json", "tcbInfo", "gotdx-v5-90c06f/collateral.json",
		  "tcb_info", "tcb_info_signature" },
		{ "trustee-00a06d08-v4/pcs/tcbinfo_response.json", "tcbInfo", "trustee-00a06d08-v4/collateral.json",
		  "tcb_info", "tcb_info_signature" },
		{ "trustee-00a06d08-v4/pcs/qe_identity_response.json", "enclaveIdentity",
		  "trustee-00a06d08-v4/collateral.json", "qe_identity", "qe_identity_signature" },
		{ "pcs-tcbinfo/tcbInfo-tdx-00806f050000.json", "tcbInfo",
		  "assembled-collateral/collateral-00806f050000-2025-09.json", "tcb_info", "tcb_info_signature" },
		{ "pcs-tcbinfo/tcbInfo-tdx-50806f000000.json", "tcbInfo",
		  "assembled-collateral/collateral-50806f000000-2025-09.json", "tcb_info", "tcb_info_signature" },
		{ "pcs-tcbinfo/tcbInfo-tdx-90c06f000000.json", "tcbInfo",
		  "assembled-collateral/collateral-90c06f000000-2025-09.json", "tcb_info", "tcb_info_signature" },
		{ "pcs-tcbinfo/tcbInfo-tdx-b0c06f000000.json", "tcbInfo",
		  "assembled-collateral/collateral-b0c06f000000-2025-09.json", "tcb_info", "tcb_info_signature" },
	};

	for (size_t i = 0; i < KW_ARRAY_SIZE(v); i++) {
		char p[PATH_MAX], sig[129];
		uint8_t *body = NULL;
		size_t len = 0, tl = 0;
		const char *text = NULL, *why = NULL, *want;
		json_t *c;
		int r;

		test_vpath(p, sizeof(p), "tdx", "%s", v[i].resp);
		CU_ASSERT_FATAL(kw_file_read(p, 1024 * 1024, &body, &len) == 0);
		r = tdx_pcs_cut_signed((const char *)body, len, v[i].member, &text, &tl, sig, &why);
		CHECKF(r == 0, "%s: %s", v[i].resp, r != 0 ? why : "");
		test_vpath(p, sizeof(p), "tdx", "%s", v[i].coll);
		if (r == 0 && (c = json_load(p)) != NULL) {
			want = str(c, v[i].text_key);
			CHECKF(tl == strlen(want) && memcmp(text, want, tl) == 0, "%s: cut text differs", v[i].resp);
			CHECKF(strcmp(sig, str(c, v[i].sig_key)) == 0, "%s: signature differs", v[i].resp);
			/* the text is a view into the body, as served */
			CU_ASSERT(text > (const char *)body && text + tl < (const char *)body + len);
			json_decref(c);
		}
		free(body);
	}
}

static void
test_pcs_cut_negative(void)
{
	static const char *const S =
	    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
	    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
	/* body = pre ‖ the first siglen characters of S ‖ post */
	static const struct {
		const char *pre;
		int siglen;
		const char *post;
	} v[] = {
		{ "{\"tcbInfo\":{\"a\":1},\"signature\":\"", 128, "\",\"x\":1}" },       /* extra member */
		{ "{\"tcbInfo\":{\"a\":1}}", 0, "" },                                   /* no signature */
		{ "{\"tcbInfo\":[1],\"signature\":\"", 128, "\"}" },                     /* not an object */
		{ "{\"tcbInfo\":{\"a\":1},\"tcbInfo\":{\"a\":1},\"signature\":\"", 128, "\"}" },  /* twice */
		{ "{\"tcb\\u0049nfo\":{\"a\":1},\"signature\":\"", 128, "\"}" },       /* escaped name */
		{ "{\"tcbInfo\":{\"a\":1},\"signature\":\"", 126, "\"}" },             /* short */
		{ "{\"tcbInfo\":{\"a\":1},\"signature\":\"", 127, "g\"}" },            /* not hex */
		{ "{\"tcbInfo\":{\"a\":1},\"signature\":\"", 128, "\"} x" },           /* trailing */
		{ "[{\"tcbInfo\":{\"a\":1},\"signature\":\"", 128, "\"}]" },
		{ "{\"enclaveIdentity\":{\"a\":1},\"signature\":\"", 128, "\"}" },     /* other member */
	};
	char body[512], sig[129];
	const char *text, *why;
	size_t tl;

	for (size_t i = 0; i < KW_ARRAY_SIZE(v); i++) {
		int n = snprintf(body, sizeof(body), "%s%.*s%s", v[i].pre, v[i].siglen, S, v[i].post);

		CU_ASSERT_FATAL(n > 0 && (size_t)n < sizeof(body));
		why = NULL;
		CHECKF(tdx_pcs_cut_signed(body, strlen(body), "tcbInfo", &text, &tl, sig, &why) == KW_ERR_INVALID_FORMAT,
		    "case %zu accepted", i);
		CU_ASSERT(why != NULL);
	}
	/* whitespace and member order as a server may send them; the cut is exact */
	snprintf(body, sizeof(body), " {\n \"signature\" : \"%s\" ,\n \"tcbInfo\" :  {\"a\": [1, {\"b\":\"}\\\"\"}]}\n}\n", S);
	CU_ASSERT_FATAL(tdx_pcs_cut_signed(body, strlen(body), "tcbInfo", &text, &tl, sig, &why) == 0);
	CU_ASSERT(tl == strlen("{\"a\": [1, {\"b\":\"}\\\"\"}]}") &&
	    memcmp(text, "{\"a\": [1, {\"b\":\"}\\\"\"}]}", tl) == 0);
	CU_ASSERT(strcmp(sig, S) == 0);
}

/* A PCS response for tdx_pcs_assemble. */
static struct tdx_pcs_resp
resp(const char *ctype, const char *chain, const void *body, size_t len)
{
	struct tdx_pcs_resp r = { ctype, chain, chain != NULL ? strlen(chain) : 0, body, len };

	return r;
}

static void
test_pcs_assemble(void)
{
	char p[PATH_MAX];
	uint8_t *tb = NULL, *qb = NULL, *pck = NULL, *root = NULL;
	size_t tl = 0, ql = 0, pl = 0, rl = 0;
	char *rhex = NULL;
	const char *chain = "-----BEGIN%20CERTIFICATE-----%0A";
	struct tdx_pcs_resp t, q, c, rt, x;
	const char *why = NULL;
	json_t *d = NULL, *want;

	test_vpath(p, sizeof(p), "tdx", "gotdx-spr-e4-v4/collateral.json");
	CU_ASSERT_FATAL((want = json_load(p)) != NULL);
	test_vpath(p, sizeof(p), "tdx", "gotdx-spr-e4-v4/pcs/tcbinfo_response.json");
	CU_ASSERT_FATAL(kw_file_read(p, 1 << 20, &tb, &tl) == 0);
	test_vpath(p, sizeof(p), "tdx", "gotdx-spr-e4-v4/pcs/qe_identity_response.json");
	CU_ASSERT_FATAL(kw_file_read(p, 1 << 20, &qb, &ql) == 0);
	test_vpath(p, sizeof(p), "tdx", "gotdx-spr-e4-v4/pcs/pck_crl_platform.der");
	CU_ASSERT_FATAL(kw_file_read(p, 1 << 20, &pck, &pl) == 0);
	test_vpath(p, sizeof(p), "tdx", "gotdx-spr-e4-v4/pcs/root_ca_crl.der");
	CU_ASSERT_FATAL(kw_file_read(p, 1 << 20, &root, &rl) == 0);
	CU_ASSERT_FATAL(kw_hex_encode(root, rl, &rhex) == 0);

	/* the chain headers: the vector's PEM, percent-encoded as in test_pcs_url_decode's loop */
	{
		static const char *const keys[] = { "tcb_info_issuer_chain", "qe_identity_issuer_chain",
			"pck_crl_issuer_chain" };
		char *enc[3];

		for (size_t k = 0; k < 3; k++) {
			const char *s = str(want, keys[k]);
			size_t o = 0;

			CU_ASSERT_FATAL((enc[k] = malloc(3 * strlen(s) + 1)) != NULL);
			for (; *s != '\0'; s++)
				o += (size_t)snprintf(enc[k] + o, 4, isalnum((unsigned char)*s) ? "%c" : "%%%02X",
				    (unsigned char)*s);
			enc[k][o] = '\0';
		}
		t = resp("application/json;charset=UTF-8", enc[0], tb, tl);
		q = resp("Application/JSON", enc[1], qb, ql);
		c = resp("application/pkix-crl", enc[2], pck, pl);
		rt = resp("application/x-pem-file", NULL, rhex, strlen(rhex));
		CU_ASSERT_FATAL(tdx_pcs_assemble(&t, &q, &c, &rt, &d, &why) == 0);
		CHECKF(json_equal(d, want), "assembled collateral differs from the vector's");
		json_decref(d);
		d = NULL;
		/* the root CRL as DER from Intel's server */
		rt = resp("application/pkix-crl", NULL, root, rl);
		CU_ASSERT(tdx_pcs_assemble(&t, &q, &c, &rt, &d, &why) == 0 && json_equal(d, want));
		json_decref(d);
		d = NULL;

		/* each response wrong on its own */
		x = t;
		x.content_type = "text/html";
		CU_ASSERT(tdx_pcs_assemble(&x, &q, &c, &rt, &d, &why) == KW_ERR_INVALID_FORMAT &&
		    strstr(why, "TCB Info") != NULL);
		x = t;
		x.content_type = "application/jsonx";
		CU_ASSERT(tdx_pcs_assemble(&x, &q, &c, &rt, &d, &why) == KW_ERR_INVALID_FORMAT);
		x = t;
		x.content_type = NULL;
		CU_ASSERT(tdx_pcs_assemble(&x, &q, &c, &rt, &d, &why) == KW_ERR_INVALID_FORMAT);
		x = t;
		x.chain = NULL;
		CU_ASSERT(tdx_pcs_assemble(&x, &q, &c, &rt, &d, &why) == KW_ERR_INVALID_FORMAT &&
		    strstr(why, "TCB-Info-Issuer-Chain") != NULL);
		x = q;
		x.chain = chain;
		x.chain_len = strlen(chain) - 1;        /* "%0" cut: a broken escape */
		CU_ASSERT(tdx_pcs_assemble(&t, &x, &c, &rt, &d, &why) == KW_ERR_INVALID_FORMAT &&
		    strstr(why, "SGX-Enclave-Identity-Issuer-Chain") != NULL);
		x = q;
		x.len = ql - 3;                          /* truncated body */
		CU_ASSERT(tdx_pcs_assemble(&t, &x, &c, &rt, &d, &why) == KW_ERR_INVALID_FORMAT);
		x = c;
		x.content_type = "application/x-pem-file";
		CU_ASSERT(tdx_pcs_assemble(&t, &q, &x, &rt, &d, &why) == KW_ERR_INVALID_FORMAT &&
		    strstr(why, "PCK CRL") != NULL);
		x = c;
		x.body = (const uint8_t *)"-----BEGIN X509 CRL-----";
		x.len = 24;
		CU_ASSERT(tdx_pcs_assemble(&t, &q, &x, &rt, &d, &why) == KW_ERR_INVALID_FORMAT);
		x = c;
		x.chain = NULL;
		CU_ASSERT(tdx_pcs_assemble(&t, &q, &x, &rt, &d, &why) == KW_ERR_INVALID_FORMAT &&
		    strstr(why, "SGX-PCK-CRL-Issuer-Chain") != NULL);
		x = resp("application/x-pem-file", NULL, rhex, strlen(rhex) - 1);   /* odd hex */
		CU_ASSERT(tdx_pcs_assemble(&t, &q, &c, &x, &d, &why) == KW_ERR_INVALID_FORMAT);
		x = resp("text/plain", NULL, rhex, strlen(rhex));
		CU_ASSERT(tdx_pcs_assemble(&t, &q, &c, &x, &d, &why) == KW_ERR_INVALID_FORMAT &&
		    strstr(why, "content type") != NULL);
		x = resp("application/pkix-crl", NULL, rhex, strlen(rhex));      /* hex where DER belongs */
		CU_ASSERT(tdx_pcs_assemble(&t, &q, &c, &x, &d, &why) == KW_ERR_INVALID_FORMAT);
		CU_ASSERT(d == NULL);
		for (size_t k = 0; k < 3; k++)
			free(enc[k]);
	}
	free(rhex);
	free(tb);
	free(qb);
	free(pck);
	free(root);
	json_decref(want);
}

/* ---- recorded Intel responses over HTTPS ---- */

/* The stub serving a recorded set, the clock at `at`, a source with a new cache directory. */
static struct tdx_pcs *
vector_source(void (*serve)(void), int64_t at, const char *cache, char dir[static PATH_MAX],
    struct tdx_trust **ret_trust)
{
	struct tdx_pcs *pcs;

	serve();
	stub_fault(NULL);
	atomic_store(&g_clock, at);
	scratch(dir, PATH_MAX, cache);
	CU_ASSERT_FATAL(tdx_trust_new(ret_trust) == 0);
	CU_ASSERT_FATAL((pcs = pcs_open(*ret_trust, dir, 5, 3600, 0)) != NULL);
	return pcs;
}

static void
test_pcs_cold_and_hit_2023(void)
{
	static const char *const paths[] = {
		"/tdx/certification/v4/tcb?fmspc=50806F000000", "/tdx/certification/v4/qe/identity",
		"/sgx/certification/v4/pckcrl?ca=platform&encoding=der", "/sgx/certification/v4/rootcacrl",
	};
	char dir[PATH_MAX], file[PATH_MAX], p[PATH_MAX], got[512];
	struct tdx_collateral *c = NULL, *c2 = NULL;
	struct tdx_collateral_info info;
	struct tdx_pcs_stats st;
	struct tdx_trust *t = NULL;
	struct tdx_pcs *pcs;
	struct tdx_trace tr;
	struct stat sb;
	const char *why = NULL;
	unsigned long n0;
	uint8_t *quote = NULL;
	size_t qlen = 0;
	json_t *d, *want, *claims = NULL;
	int r;

	pcs = vector_source(serve_2023, T2023, "cache-2023", dir, &t);

	n0 = stub_requests(NULL, 0);
	r = tdx_pcs_get(pcs, fmspc_50806f, TDX_PCS_CA_PLATFORM, T2023, &c, &why);
	CHECKF(r == 0, "cold get: %s (%s)", kw_strerror(r), r != 0 ? why : "");
	CU_ASSERT_FATAL(r == 0);
	/* exactly the four PCS v4 requests, in order */
	CU_ASSERT(stub_requests(NULL, 0) == n0 + 4);
	for (size_t i = 0; i < 4; i++) {
		CU_ASSERT(stub_request_at(n0 + i, got, sizeof(got)) == 0);
		CHECKF(strcmp(got, paths[i]) == 0, "request %zu was '%s'", i, got);
	}
	tdx_collateral_get_info(c, &info);
	CU_ASSERT(memcmp(info.fmspc, fmspc_50806f, 6) == 0 && info.is_test_root == 0);
	CU_ASSERT(info.not_before <= T2023 && T2023 < info.not_after);
	/* the assembled document on disk is the vector's collateral, member for member */
	cache_file(file, sizeof(file), dir, "50806f000000");
	CU_ASSERT_FATAL(stat(file, &sb) == 0);
	CU_ASSERT((sb.st_mode & 0777) == 0600);
	test_vpath(p, sizeof(p), "tdx", "gotdx-spr-e4-v4/collateral.json");
	want = json_load(p);
	d = json_load(file);
	CHECKF(d != NULL && want != NULL && json_equal(d, want), "cached collateral differs from the vector's");
	json_decref(d);
	json_decref(want);

	/* hit: no request, the same object */
	r = tdx_pcs_get(pcs, fmspc_50806f, TDX_PCS_CA_PLATFORM, T2023 + 3600, &c2, &why);
	CU_ASSERT(r == 0 && c2 == c);
	CU_ASSERT(stub_requests(NULL, 0) == n0 + 4);
	tdx_pcs_stats(pcs, &st);
	CU_ASSERT(st.hits == 1 && st.misses == 1 && st.fetches == 1 && st.http_requests == 4 && st.entries == 1);
	tdx_collateral_free(c2);
	c2 = NULL;
	/* the processor CA is another key: PCS has no such CRL here (404), so unavailable */
	r = tdx_pcs_get(pcs, fmspc_50806f, TDX_PCS_CA_PROCESSOR, T2023, &c2, &why);
	CU_ASSERT(r == KW_ERR_UNAVAILABLE && c2 == NULL);

	/* the fetched collateral verifies the platform's quote: every collateral check passes */
	test_vpath(p, sizeof(p), "tdx", "gotdx-spr-e4-v4/quote.bin");
	CU_ASSERT_FATAL(kw_file_read(p, 1 << 20, &quote, &qlen) == 0);
	/* this file carries non-zero bytes after the quote (expected.json counts them) */
	test_vpath(p, sizeof(p), "tdx", "gotdx-spr-e4-v4/expected.json");
	CU_ASSERT_FATAL((want = json_load(p)) != NULL);
	{
		json_int_t trail = json_integer_value(json_object_get(json_object_get(want, "parsed"),
		    "trailing_bytes"));

		CU_ASSERT_FATAL(trail > 0 && (size_t)trail < qlen);
		qlen -= (size_t)trail;
	}
	json_decref(want);
	{
		struct tdx_verify_opts o = { .at = T2023, .trace = &tr };
		uint32_t need = TDX_CHECK_TCB_SIGNING_CHAIN | TDX_CHECK_TCB_INFO_SIG | TDX_CHECK_QE_IDENTITY_SIG |
		    TDX_CHECK_ROOT_CRL_SIG | TDX_CHECK_PCK_CRL_SIG | TDX_CHECK_FRESHNESS | TDX_CHECK_NOT_REVOKED |
		    TDX_CHECK_FMSPC_PCEID | TDX_CHECK_SAME_ROOT;

		r = tdx_verify_quote(t, quote, qlen, c, &o, &claims, &why);
		/* this platform matches no TCB level (README): rejected after all collateral checks */
		CU_ASSERT(r == KW_ERR_DENIED && tr.final == TDX_TCB_NOT_SUPPORTED);
		CHECKF((tr.passed & need) == need, "checks passed %#x", tr.passed);
	}

	/* a time after the window: the fetch brings nothing valid then, and is not repeated at once */
	n0 = stub_requests(NULL, 0);
	r = tdx_pcs_get(pcs, fmspc_50806f, TDX_PCS_CA_PLATFORM, T2023 + 90 * 86400, &c2, &why);
	CU_ASSERT(r == KW_ERR_UNAVAILABLE && stub_requests(NULL, 0) == n0 + 4);
	r = tdx_pcs_get(pcs, fmspc_50806f, TDX_PCS_CA_PLATFORM, T2023 + 90 * 86400, &c2, &why);
	CU_ASSERT(r == KW_ERR_UNAVAILABLE && stub_requests(NULL, 0) == n0 + 4);
	/* still served inside its window */
	r = tdx_pcs_get(pcs, fmspc_50806f, TDX_PCS_CA_PLATFORM, T2023, &c2, &why);
	CU_ASSERT(r == 0 && c2 != NULL);
	tdx_collateral_free(c2);
	CU_ASSERT(tdx_pcs_get(pcs, fmspc_50806f, TDX_PCS_CA_PLATFORM, 0, &c2, &why) == KW_ERR_INVALID_ARG);
	CU_ASSERT(tdx_pcs_get(pcs, fmspc_50806f, (enum tdx_pcs_ca)7, T2023, &c2, &why) == KW_ERR_INVALID_ARG);

	json_decref(claims);
	free(quote);
	tdx_collateral_free(c);
	tdx_pcs_free(pcs);
	tdx_trust_free(t);
}

static void
hex6(const char *hex, uint8_t out[6])
{
	CU_ASSERT_FATAL(kw_hex_decode(hex, out, 6) == 0);
}

static void
test_pcs_vectors_2025_and_rollback(void)
{
	char dir[PATH_MAX], file[PATH_MAX], p[PATH_MAX];
	struct tdx_collateral *c[4] = { NULL }, *again = NULL;
	struct tdx_trust *t = NULL;
	struct tdx_pcs *pcs;
	const struct rec *ev;
	uint8_t fmspc[6], *quote = NULL, *before = NULL, *after = NULL;
	size_t qlen = 0, bl = 0, al = 0, mark;
	enum tdx_pcs_ca ca;
	const char *why = NULL;
	unsigned long n0;
	json_t *claims = NULL, *exp;
	int r;

	pcs = vector_source(serve_2025, T2025, "cache-2025", dir, &t);
	for (size_t i = 0; i < KW_ARRAY_SIZE(fmspcs_2025); i++) {
		json_t *d, *want;

		hex6(fmspcs_2025[i], fmspc);
		n0 = stub_requests(NULL, 0);
		r = tdx_pcs_get(pcs, fmspc, TDX_PCS_CA_PLATFORM, T2025, &c[i], &why);
		CHECKF(r == 0, "%s: %s (%s)", fmspcs_2025[i], kw_strerror(r), r != 0 ? why : "");
		CU_ASSERT(stub_requests(NULL, 0) == n0 + 4);
		cache_file(file, sizeof(file), dir, fmspcs_2025[i]);
		test_vpath(p, sizeof(p), "tdx", "assembled-collateral/collateral-%s-2025-09.json", fmspcs_2025[i]);
		d = json_load(file);
		want = json_load(p);
		CHECKF(d != NULL && want != NULL && json_equal(d, want), "%s: cached collateral differs",
		    fmspcs_2025[i]);
		json_decref(d);
		json_decref(want);
	}
	/* a real quote of FMSPC 50806f: its key, and the verdict of expected.json */
	test_vpath(p, sizeof(p), "tdx", "trustee-50806f-v4/quote.bin");
	CU_ASSERT_FATAL(kw_file_read(p, 1 << 20, &quote, &qlen) == 0);
	CU_ASSERT_FATAL(tdx_pcs_quote_key(t, quote, qlen, fmspc, &ca, &why) == 0);
	CU_ASSERT(memcmp(fmspc, fmspc_50806f, 6) == 0 && ca == TDX_PCS_CA_PLATFORM);
	CU_ASSERT_FATAL(tdx_pcs_get(pcs, fmspc, ca, T2025, &again, &why) == 0);
	CU_ASSERT(again == c[1]);
	{
		struct tdx_verify_opts o = { .at = T2025, .allow_debug = 1 };   /* a debug TD */

		test_vpath(p, sizeof(p), "tdx", "trustee-50806f-v4/expected.json");
		CU_ASSERT_FATAL((exp = json_load(p)) != NULL);
		r = tdx_verify_quote(t, quote, qlen, again, &o, &claims, &why);
		CHECKF(r == 0, "verify: %s (%s)", kw_strerror(r), r != 0 ? why : "");
		if (r == 0)
			CU_ASSERT(strcmp(str(claims, "tcb_status"), json_string_value(json_object_get(json_object_get(
			    json_object_get(exp, "verify"), "collateral"), "final_tcb_status"))) == 0);
		json_decref(exp);
	}
	tdx_collateral_free(again);
	again = NULL;
	for (size_t i = 0; i < 4; i++)
		tdx_collateral_free(c[i]);
	tdx_pcs_free(pcs);

	/*
	 * Rollback: a copy with TCB evaluation data number 17 is held; PCS now
	 * serves genuine Intel collateral with number 15 (the 2023 set of the
	 * same FMSPC). The refresher fetches it, refuses it, keeps the copy.
	 */
	scratch(dir, sizeof(dir), "cache-rollback");
	CU_ASSERT_FATAL((pcs = pcs_open(t, dir, 5, 3600, 0)) != NULL);
	CU_ASSERT_FATAL(tdx_pcs_get(pcs, fmspc_50806f, TDX_PCS_CA_PLATFORM, T2025, &c[0], &why) == 0);
	cache_file(file, sizeof(file), dir, "50806f000000");
	CU_ASSERT_FATAL(kw_file_read(file, 8 << 20, &before, &bl) == 0);
	serve_2023();
	mark = ev_mark();
	n0 = stub_requests(NULL, 0);
	CU_ASSERT_FATAL(tdx_pcs_start(pcs) == 0);
	CU_ASSERT(tdx_pcs_start(pcs) == KW_ERR_INVALID_ARG);
	atomic_store(&g_clock, T2025 + 86400);      /* the refresh interval has passed */
	tdx_pcs_kick(pcs);
	ev = ev_wait(&mark, TDX_PCS_EV_REFUSED);
	CHECKF(ev != NULL && ev->ev.background && strstr(ev->ev.why, "older TCB evaluation data number") != NULL,
	    "refusal: %s", ev != NULL ? ev->ev.why : "none");
	CU_ASSERT(stub_requests(NULL, 0) == n0 + 4);
	CU_ASSERT(tdx_pcs_get(pcs, fmspc_50806f, TDX_PCS_CA_PLATFORM, T2025 + 86400, &again, &why) == 0);
	CU_ASSERT(again == c[0]);
	CU_ASSERT(kw_file_read(file, 8 << 20, &after, &al) == 0 && al == bl && memcmp(before, after, al) == 0);
	tdx_collateral_free(again);
	tdx_collateral_free(c[0]);
	tdx_pcs_free(pcs);
	json_decref(claims);
	free(before);
	free(after);
	free(quote);
	tdx_trust_free(t);
}

/* ---- emulated collateral: dates under the test's control ---- */

static struct {
	struct att_tdx_emu *emu;
	struct att_tdx_emu_opts o;
	struct tdx_trust *trust;
	struct tdx_pcs *pcs;
	struct tdx_collateral *held;   /* what the source serves now (one reference) */
	char dir[PATH_MAX], file[PATH_MAX], fmspc_hex[13];
	int64_t t0;
} E;

/* Serve emulated collateral issued at `now` whose every nextUpdate is `next`. */
static void
serve_emu(int64_t now, int64_t next, const uint8_t *fmspc_override)
{
	struct att_tdx_emu_opts o = E.o;
	char *text = NULL;
	json_t *d = NULL;

	o.now = now;
	o.tcb_next = o.qe_next = o.pck_crl_next = o.root_crl_next = next;
	if (fmspc_override != NULL)
		memcpy(o.fmspc, fmspc_override, 6);
	CU_ASSERT_FATAL(att_tdx_emu_collateral(E.emu, &o, &text) == 0);
	CU_ASSERT_FATAL(kw_json_parse(text, strlen(text), 8 << 20, &d) == 0);
	serve_doc(d, E.fmspc_hex, 1);
	json_decref(d);
	free(text);
}

static struct tdx_collateral *
emu_get(int64_t at, int expect)
{
	struct tdx_collateral *c = NULL;
	const char *why = NULL;
	int r = tdx_pcs_get(E.pcs, E.o.fmspc, TDX_PCS_CA_PLATFORM, at, &c, &why);

	CHECKF(r == expect, "get at t0%+lld: %s (%s)", (long long)(at - E.t0), kw_strerror(r), r != 0 ? why : "");
	return c;
}

static void
test_pcs_emu_refresh(void)
{
	struct tdx_collateral *c;
	struct tdx_collateral_info info;
	const struct rec *ev;
	char *pem = NULL;
	size_t mark;
	unsigned long n0;
	json_t *d;

	E.t0 = kw_time_now();
	atomic_store(&g_clock, E.t0);
	att_tdx_emu_opts_default(&E.o, E.t0);
	CU_ASSERT_FATAL(att_tdx_emu_new(&E.o, 0, &E.emu) == 0);
	CU_ASSERT_FATAL(tdx_trust_new(&E.trust) == 0);
	CU_ASSERT_FATAL(att_tdx_emu_root_pem(E.emu, &pem) == 0);
	CU_ASSERT_FATAL(tdx_trust_add_test_root_pem(E.trust, pem, strlen(pem)) == 0);
	free(pem);
	snprintf(E.fmspc_hex, sizeof(E.fmspc_hex), "%02x%02x%02x%02x%02x%02x", E.o.fmspc[0], E.o.fmspc[1],
	    E.o.fmspc[2], E.o.fmspc[3], E.o.fmspc[4], E.o.fmspc[5]);
	scratch(E.dir, sizeof(E.dir), "cache-emu");
	cache_file(E.file, sizeof(E.file), E.dir, E.fmspc_hex);
	stub_fault(NULL);
	serve_emu(E.t0, E.t0 + 1000, NULL);
	/* refresh 600 s before expiry; 1 s timeouts; responses up to 128 KiB */
	CU_ASSERT_FATAL((E.pcs = pcs_open(E.trust, E.dir, 1, 600, 128 * 1024)) != NULL);
	CU_ASSERT_FATAL((E.held = emu_get(E.t0, 0)) != NULL);
	tdx_collateral_get_info(E.held, &info);
	CU_ASSERT(info.is_test_root == 1 && info.not_after == E.t0 + 1000);
	CU_ASSERT_FATAL(tdx_pcs_start(E.pcs) == 0);

	/* not yet due (t0 + 400): nothing is fetched */
	n0 = stub_requests(NULL, 0);
	mark = ev_mark();
	atomic_store(&g_clock, E.t0 + 399);
	tdx_pcs_kick(E.pcs);
	sleep_ms(300);
	CU_ASSERT(stub_requests(NULL, 0) == n0 && ev_mark() == mark);

	/* due: the refresher fetches newer collateral before the held copy expires */
	serve_emu(E.t0 + 390, E.t0 + 2000, NULL);
	atomic_store(&g_clock, E.t0 + 400);
	tdx_pcs_kick(E.pcs);
	ev = ev_wait(&mark, TDX_PCS_EV_FETCHED);
	CU_ASSERT(ev != NULL && ev->ev.background == 1 && ev->ev.r == 0 && ev->ev.not_after == E.t0 + 2000);
	CU_ASSERT(stub_requests(NULL, 0) == n0 + 4);
	/* served without a request, valid where the first copy had expired */
	c = emu_get(E.t0 + 1500, 0);
	CU_ASSERT(c != NULL && c != E.held);
	CU_ASSERT(stub_requests(NULL, 0) == n0 + 4);
	tdx_collateral_free(E.held);
	E.held = c;
	/* and on disk */
	CU_ASSERT_FATAL((d = json_load(E.file)) != NULL);
	{
		struct tdx_collateral *fc = NULL;
		const char *why = NULL;
		struct tdx_collateral_info fi;

		CU_ASSERT_FATAL(tdx_collateral_new(E.trust, d, &fc, &why) == 0);
		tdx_collateral_get_info(fc, &fi);
		CU_ASSERT(fi.not_after == E.t0 + 2000);
		tdx_collateral_free(fc);
	}
	json_decref(d);
}

/*
 * Every way a refresh can go wrong, each with newer collateral behind it
 * (so that a success would replace the copy): refused, reported, and the
 * copy in memory and on disk unchanged.
 */
static void
test_pcs_emu_failures_keep_cache(void)
{
	static const uint8_t other[6] = { 0x00, 0x90, 0x6e, 0xd5, 0x00, 0x01 };
	static const struct {
		const char *fault;
		int kind, r;
		const char *why;
		int other_fmspc, older;
	} v[] = {
		{ "garbage /tcb", TDX_PCS_EV_FETCH_FAILED, KW_ERR_INVALID_FORMAT, "not a JSON object", 0, 0 },
		{ "ctype /qe/identity", TDX_PCS_EV_FETCH_FAILED, KW_ERR_INVALID_FORMAT,
		  "QE identity response is not application/json", 0, 0 },
		{ "big /tcb 200000", TDX_PCS_EV_FETCH_FAILED, KW_ERR_TOO_LARGE, "larger than max_response", 0, 0 },
		{ "chunked /pckcrl 200000", TDX_PCS_EV_FETCH_FAILED, KW_ERR_TOO_LARGE, "larger than max_response",
		  0, 0 },
		{ "slow /tcb 2.5", TDX_PCS_EV_FETCH_FAILED, KW_ERR_TIMEOUT, "timed out", 0, 0 },
		{ "badsig /tcb", TDX_PCS_EV_FETCH_FAILED, KW_ERR_SIG_INVALID, "TCB Info signature invalid", 0, 0 },
		{ "badsig /qe/identity", TDX_PCS_EV_FETCH_FAILED, KW_ERR_SIG_INVALID,
		  "QE identity signature invalid", 0, 0 },
		{ "nochain /pckcrl", TDX_PCS_EV_FETCH_FAILED, KW_ERR_INVALID_FORMAT, "SGX-PCK-CRL-Issuer-Chain", 0, 0 },
		{ "dupchain /tcb", TDX_PCS_EV_FETCH_FAILED, KW_ERR_INVALID_FORMAT, "repeated", 0, 0 },
		{ "status /rootcacrl 503", TDX_PCS_EV_FETCH_FAILED, KW_ERR_UNAVAILABLE, "other than 200", 0, 0 },
		{ "status /tcb 404", TDX_PCS_EV_FETCH_FAILED, KW_ERR_UNAVAILABLE, "other than 200", 0, 0 },
		{ NULL, TDX_PCS_EV_FETCH_FAILED, KW_ERR_MISMATCH, "another FMSPC", 1, 0 },
		{ NULL, TDX_PCS_EV_REFUSED, KW_ERR_MISMATCH, "expires before the copy held", 0, 1 },
	};
	struct tdx_collateral *c;
	struct timespec t1, t2;
	uint8_t *before = NULL, *after = NULL;
	size_t bl = 0, al = 0, mark;
	int64_t now = E.t0 + 1390;    /* the held copy (nextUpdate t0 + 2000) is due at t0 + 1400 */

	CU_ASSERT_FATAL(E.pcs != NULL && E.held != NULL);
	CU_ASSERT_FATAL(kw_file_read(E.file, 8 << 20, &before, &bl) == 0);
	for (size_t i = 0; i < KW_ARRAY_SIZE(v); i++) {
		const struct rec *ev;
		unsigned long n0 = stub_requests(NULL, 0);

		/* newer collateral (later nextUpdate) unless the case is about an older one */
		/* (other_fmspc: another FMSPC's TCB Info under this FMSPC's URL) */
		serve_emu(now, v[i].older ? E.t0 + 1900 : E.t0 + 3000 + (int64_t)i, v[i].other_fmspc ? other : NULL);
		stub_fault(v[i].fault);
		now += 10;    /* past the retry time of the previous failure */
		atomic_store(&g_clock, now);
		mark = ev_mark();
		clock_gettime(CLOCK_MONOTONIC, &t1);
		tdx_pcs_kick(E.pcs);
		ev = ev_wait(&mark, (enum tdx_pcs_event_kind)v[i].kind);
		clock_gettime(CLOCK_MONOTONIC, &t2);
		CHECKF(ev != NULL && ev->ev.r == v[i].r && strstr(ev->ev.why, v[i].why) != NULL,
		    "case %zu (%s): r %d why '%s' detail '%s'", i, v[i].fault != NULL ? v[i].fault : "-",
		    ev != NULL ? ev->ev.r : 0, ev != NULL ? ev->ev.why : "", ev != NULL ? ev->ev.detail : "");
		CU_ASSERT(ev == NULL || ev->ev.background == 1);
		if (v[i].r == KW_ERR_TIMEOUT)    /* the 1 s timeout, not the 2.5 s the server takes */
			CU_ASSERT(t2.tv_sec - t1.tv_sec < 2 || (t2.tv_sec - t1.tv_sec == 2 && t2.tv_nsec < t1.tv_nsec));
		if (v[i].r == KW_ERR_UNAVAILABLE)
			CU_ASSERT(ev == NULL || strstr(ev->ev.detail, "HTTP") != NULL);
		CU_ASSERT(stub_requests(NULL, 0) > n0);
		/* the copy held is still what is served, in memory and on disk */
		c = emu_get(now, 0);
		CHECKF(c == E.held, "case %zu replaced the copy", i);
		tdx_collateral_free(c);
		CU_ASSERT(kw_file_read(E.file, 8 << 20, &after, &al) == 0 && al == bl && memcmp(before, after, al) == 0);
		free(after);
		after = NULL;
	}
	/* the same source, faults gone: the newer copy replaces the held one (the cases above could have) */
	stub_fault(NULL);
	serve_emu(now, E.t0 + 4000, NULL);
	now += 10;
	atomic_store(&g_clock, now);
	mark = ev_mark();
	tdx_pcs_kick(E.pcs);
	CU_ASSERT(ev_wait(&mark, TDX_PCS_EV_FETCHED) != NULL);
	c = emu_get(now, 0);
	CU_ASSERT(c != NULL && c != E.held);
	tdx_collateral_free(E.held);
	E.held = c;
	CU_ASSERT(kw_file_read(E.file, 8 << 20, &after, &al) == 0 && (al != bl || memcmp(before, after, al) != 0));
	free(after);
	free(before);
	{
		struct tdx_pcs_stats st;

		tdx_pcs_stats(E.pcs, &st);
		CU_ASSERT(st.fetch_failures == 12 && st.refused == 1 && st.fetches == 3);
	}
}

/* PCS down: a valid copy is still served; an expired one is not (and costs no wait). */
static void
test_pcs_emu_down(void)
{
	struct tdx_collateral *c, *none = NULL;
	struct tdx_collateral_info info;
	struct timespec t1, t2;
	const struct rec *ev;
	const char *why = NULL;
	int64_t now;
	size_t mark;
	int r;

	CU_ASSERT_FATAL(E.pcs != NULL && E.held != NULL);
	tdx_collateral_get_info(E.held, &info);
	now = info.not_after - 600;     /* due for its refresh (margin 600 s), still valid */
	stub_stop();
	mark = ev_mark();
	atomic_store(&g_clock, now);
	tdx_pcs_kick(E.pcs);
	ev = ev_wait(&mark, TDX_PCS_EV_FETCH_FAILED);
	CHECKF(ev != NULL && ev->ev.r == KW_ERR_UNAVAILABLE && ev->ev.background,
	    "down: r %d why '%s' detail '%s'", ev != NULL ? ev->ev.r : 0, ev != NULL ? ev->ev.why : "",
	    ev != NULL ? ev->ev.detail : "");
	/* still valid: still served */
	c = emu_get(now, 0);
	CU_ASSERT(c == E.held);
	tdx_collateral_free(c);
	/* expired: unavailable at once (the failure is recent), with its reason */
	clock_gettime(CLOCK_MONOTONIC, &t1);
	r = tdx_pcs_get(E.pcs, E.o.fmspc, TDX_PCS_CA_PLATFORM, info.not_after, &none, &why);
	clock_gettime(CLOCK_MONOTONIC, &t2);
	CU_ASSERT(r == KW_ERR_UNAVAILABLE && none == NULL && strstr(why, "PCS request failed") != NULL);
	CU_ASSERT(t2.tv_sec - t1.tv_sec <= 1);
	/* after the retry time the request tries once itself: refused connection, still unavailable */
	atomic_store(&g_clock, now + 10);
	r = tdx_pcs_get(E.pcs, E.o.fmspc, TDX_PCS_CA_PLATFORM, info.not_after + 1, &none, &why);
	CU_ASSERT(r == KW_ERR_UNAVAILABLE && none == NULL);
	CU_ASSERT_FATAL(stub_start(g_port) == 0);
}

/* The cache directory across restarts: verified on load, tampering refused. */
static void
test_pcs_emu_disk(void)
{
	struct tdx_collateral *c = NULL;
	struct tdx_pcs_stats st;
	const struct rec *ev;
	char other[PATH_MAX], *text = NULL, *at;
	uint8_t *buf = NULL;
	size_t len = 0, mark;
	const char *why = NULL;
	int64_t now = atomic_load(&g_clock);
	unsigned long n0;
	int r;

	CU_ASSERT_FATAL(E.pcs != NULL);
	tdx_pcs_free(E.pcs);          /* the refresher stops */
	E.pcs = NULL;

	/* restart with PCS down: served from the file, verified again */
	stub_stop();
	mark = ev_mark();
	CU_ASSERT_FATAL((E.pcs = pcs_open(E.trust, E.dir, 1, 600, 128 * 1024)) != NULL);
	ev = ev_wait(&mark, TDX_PCS_EV_CACHE_LOADED);
	CU_ASSERT(ev != NULL && ev->ev.r == 0 && memcmp(ev->ev.fmspc, E.o.fmspc, 6) == 0);
	c = emu_get(now, 0);
	CU_ASSERT(c != NULL && c != E.held);    /* a new object from the file */
	tdx_collateral_free(c);
	tdx_pcs_stats(E.pcs, &st);
	CU_ASSERT(st.disk_loaded == 1 && st.disk_refused == 0 && st.http_requests == 0 && st.hits == 1);
	tdx_pcs_free(E.pcs);

	/* one character of the signed TCB Info changed on disk: refused, nothing served */
	CU_ASSERT_FATAL(kw_file_read(E.file, 8 << 20, &buf, &len) == 0);
	text = (char *)buf;
	CU_ASSERT_FATAL((at = strstr(text, "tcbEvaluationDataNumber\\\":17")) != NULL);
	at[strlen("tcbEvaluationDataNumber\\\":1")] = '8';
	CU_ASSERT_FATAL(kw_file_write_atomic(E.file, buf, len, 0600) == 0);
	mark = ev_mark();
	CU_ASSERT_FATAL((E.pcs = pcs_open(E.trust, E.dir, 1, 600, 128 * 1024)) != NULL);
	ev = ev_wait(&mark, TDX_PCS_EV_CACHE_REFUSED);
	CHECKF(ev != NULL && ev->ev.r == KW_ERR_SIG_INVALID && strstr(ev->ev.why, "TCB Info signature") != NULL,
	    "tampered file: %s", ev != NULL ? ev->ev.why : "no event");
	r = tdx_pcs_get(E.pcs, E.o.fmspc, TDX_PCS_CA_PLATFORM, now, &c, &why);
	CU_ASSERT(r == KW_ERR_UNAVAILABLE);
	tdx_pcs_stats(E.pcs, &st);
	CU_ASSERT(st.disk_loaded == 0 && st.disk_refused == 1);
	tdx_pcs_free(E.pcs);

	/* a file others may write: refused */
	at[strlen("tcbEvaluationDataNumber\\\":1")] = '7';    /* the genuine bytes again */
	CU_ASSERT_FATAL(kw_file_write_atomic(E.file, buf, len, 0666) == 0);
	mark = ev_mark();
	CU_ASSERT_FATAL((E.pcs = pcs_open(E.trust, E.dir, 1, 600, 128 * 1024)) != NULL);
	ev = ev_wait(&mark, TDX_PCS_EV_CACHE_REFUSED);
	CU_ASSERT(ev != NULL && strstr(ev->ev.why, "writable by group or others") != NULL);
	tdx_pcs_free(E.pcs);

	/* the genuine file under another FMSPC's name: refused; under its own: loaded */
	CU_ASSERT_FATAL(chmod(E.file, 0600) == 0);
	cache_file(other, sizeof(other), E.dir, "00906ed50002");
	CU_ASSERT_FATAL(kw_file_write_atomic(other, buf, len, 0600) == 0);
	mark = ev_mark();
	CU_ASSERT_FATAL((E.pcs = pcs_open(E.trust, E.dir, 1, 600, 128 * 1024)) != NULL);
	ev = ev_wait(&mark, TDX_PCS_EV_CACHE_REFUSED);
	CU_ASSERT(ev != NULL && ev->ev.r == KW_ERR_MISMATCH && ev->ev.fmspc[5] == 0x02);
	tdx_pcs_stats(E.pcs, &st);
	CU_ASSERT(st.disk_loaded == 1 && st.disk_refused == 1 && st.entries == 1);
	tdx_pcs_free(E.pcs);
	CU_ASSERT(unlink(other) == 0);

	/* PCS back: a tampered file is replaced by a fetched, verified copy */
	at[strlen("tcbEvaluationDataNumber\\\":1")] = '8';
	CU_ASSERT_FATAL(kw_file_write_atomic(E.file, buf, len, 0600) == 0);
	CU_ASSERT_FATAL(stub_start(g_port) == 0);
	n0 = stub_requests(NULL, 0);
	CU_ASSERT_FATAL((E.pcs = pcs_open(E.trust, E.dir, 1, 600, 128 * 1024)) != NULL);
	c = emu_get(now, 0);
	CU_ASSERT(c != NULL && stub_requests(NULL, 0) == n0 + 4);
	tdx_collateral_free(c);
	free(buf);
	buf = NULL;
	CU_ASSERT_FATAL(kw_file_read(E.file, 8 << 20, &buf, &len) == 0);
	CU_ASSERT(strstr((char *)buf, "tcbEvaluationDataNumber\\\":17") != NULL);
	free(buf);

	/* a cache directory that is a file */
	{
		struct tdx_pcs *p2 = NULL;
		struct tdx_pcs_config cfg = { .url = "https://127.0.0.1:1", .cache_dir = E.file };

		CU_ASSERT(tdx_pcs_new(E.trust, &cfg, &p2, &why) == KW_ERR_IO && p2 == NULL);
	}
}

struct worker {
	struct tdx_pcs *pcs;
	pthread_barrier_t *start;
	int rounds, fails;
	struct tdx_collateral *first;
	int64_t at;
};

static void *
worker(void *arg)
{
	struct worker *w = arg;

	pthread_barrier_wait(w->start);
	for (int i = 0; i < w->rounds; i++) {
		struct tdx_collateral *c = NULL;
		const char *why;

		if (tdx_pcs_get(w->pcs, E.o.fmspc, TDX_PCS_CA_PLATFORM, w->at + (i % 50), &c, &why) != 0) {
			w->fails++;
			continue;
		}
		if (w->first == NULL)
			w->first = tdx_collateral_ref(c);
		tdx_collateral_free(c);
	}
	return NULL;
}

static void
test_pcs_concurrent(void)
{
	enum { N = 8 };
	pthread_t th[N];
	pthread_barrier_t bar;
	struct worker w[N];
	struct tdx_pcs_stats st;
	struct tdx_pcs *pcs;
	unsigned long n0;
	int64_t now = atomic_load(&g_clock);
	size_t mark;

	CU_ASSERT_FATAL(E.pcs != NULL);
	tdx_pcs_free(E.pcs);
	E.pcs = NULL;
	/* a cold cache hit by eight threads at once: one fetch, one object for all */
	stub_fault("slow /tcb 0.3");    /* so that the others arrive while it is under way */
	CU_ASSERT_FATAL((pcs = pcs_open(E.trust, NULL, 2, 600, 0)) != NULL);
	n0 = stub_requests(NULL, 0);
	CU_ASSERT_FATAL(pthread_barrier_init(&bar, NULL, N) == 0);
	for (int i = 0; i < N; i++) {
		w[i] = (struct worker){ .pcs = pcs, .start = &bar, .rounds = 1, .at = now };
		CU_ASSERT_FATAL(pthread_create(&th[i], NULL, worker, &w[i]) == 0);
	}
	for (int i = 0; i < N; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&bar);
	for (int i = 0; i < N; i++) {
		CU_ASSERT(w[i].fails == 0 && w[i].first == w[0].first && w[i].first != NULL);
		tdx_collateral_free(w[i].first);
	}
	CU_ASSERT(stub_requests(NULL, 0) == n0 + 4);
	tdx_pcs_stats(pcs, &st);
	CU_ASSERT(st.fetches == 1 && st.hits + st.misses == N);
	stub_fault(NULL);

	/* warm: eight threads of gets while the refresher replaces the copy three times */
	CU_ASSERT_FATAL(tdx_pcs_start(pcs) == 0);
	CU_ASSERT_FATAL(pthread_barrier_init(&bar, NULL, N + 1) == 0);
	for (int i = 0; i < N; i++) {
		w[i] = (struct worker){ .pcs = pcs, .start = &bar, .rounds = 3000, .at = now };
		CU_ASSERT_FATAL(pthread_create(&th[i], NULL, worker, &w[i]) == 0);
	}
	pthread_barrier_wait(&bar);
	for (int k = 1; k <= 3; k++) {
		mark = ev_mark();
		serve_emu(now - 60, now + 86400 * k + 100000, NULL);
		atomic_store(&g_clock, now + 86400 * k);    /* the refresh interval has passed */
		tdx_pcs_kick(pcs);
		CU_ASSERT(ev_wait(&mark, TDX_PCS_EV_FETCHED) != NULL);
	}
	for (int i = 0; i < N; i++) {
		pthread_join(th[i], NULL);
		CU_ASSERT(w[i].fails == 0);
		tdx_collateral_free(w[i].first);
	}
	pthread_barrier_destroy(&bar);
	tdx_pcs_stats(pcs, &st);
	CU_ASSERT(st.fetches == 4 && st.refreshes >= 3 && st.hits >= (unsigned long)N * 3000 - N);
	tdx_pcs_free(pcs);
	atomic_store(&g_clock, now);
}

/* Configuration: URLs, the root CRL from Intel's location, TLS verification, proxies. */
static void
test_pcs_config(void)
{
	struct tdx_pcs_config cfg;
	struct tdx_pcs *p = NULL;
	struct tdx_collateral *c = NULL;
	const struct rec *ev;
	char url[128], root[128], ca[PATH_MAX], last[512];
	const char *why = NULL;
	int64_t now = atomic_load(&g_clock);
	size_t mark;
	int r;

	memset(&cfg, 0, sizeof(cfg));
	CU_ASSERT(tdx_pcs_new(E.trust, &cfg, &p, &why) == KW_ERR_CONFIG);
	cfg.url = "http://127.0.0.1:1";
	CU_ASSERT(tdx_pcs_new(E.trust, &cfg, &p, &why) == KW_ERR_CONFIG && strstr(why, "https") != NULL);
	cfg.url = "https://";
	CU_ASSERT(tdx_pcs_new(E.trust, &cfg, &p, &why) == KW_ERR_CONFIG);
	cfg.url = "https://127.0.0.1:1";
	cfg.root_crl_url = "file:///etc/passwd";
	CU_ASSERT(tdx_pcs_new(E.trust, &cfg, &p, &why) == KW_ERR_CONFIG);
	cfg.root_crl_url = NULL;
	cfg.max_response = TDX_PCS_MAX_RESPONSE_LIMIT + 1;
	CU_ASSERT(tdx_pcs_new(E.trust, &cfg, &p, &why) == KW_ERR_CONFIG);
	CU_ASSERT(p == NULL);

	/* a PCCS-style URL with the API prefix, the root CRL at Intel's path (DER) */
	cfg_stub(&cfg, "/sgx/certification/v4/", url, ca);
	snprintf(root, sizeof(root), "https://127.0.0.1:%d/IntelSGXRootCA.der", g_port);
	cfg.root_crl_url = root;
	CU_ASSERT_FATAL(tdx_pcs_new(E.trust, &cfg, &p, &why) == 0);
	/* a proxy in the environment is not used */
	setenv("https_proxy", "http://127.0.0.1:9", 1);
	setenv("HTTPS_PROXY", "http://127.0.0.1:9", 1);
	r = tdx_pcs_get(p, E.o.fmspc, TDX_PCS_CA_PLATFORM, now, &c, &why);
	unsetenv("https_proxy");
	unsetenv("HTTPS_PROXY");
	CHECKF(r == 0, "get: %s (%s)", kw_strerror(r), r != 0 ? why : "");
	CU_ASSERT(stub_requests(last, sizeof(last)) > 0 && strcmp(last, "/IntelSGXRootCA.der") == 0);
	tdx_collateral_free(c);
	c = NULL;
	tdx_pcs_free(p);
	p = NULL;

	/* the system's CAs do not know the stub's: TLS fails, nothing is served */
	cfg.ca_file = NULL;
	CU_ASSERT_FATAL(tdx_pcs_new(E.trust, &cfg, &p, &why) == 0);
	mark = ev_mark();
	r = tdx_pcs_get(p, E.o.fmspc, TDX_PCS_CA_PLATFORM, now, &c, &why);
	CU_ASSERT(r == KW_ERR_UNAVAILABLE && c == NULL);
	ev = ev_wait(&mark, TDX_PCS_EV_FETCH_FAILED);
	CHECKF(ev != NULL && ev->ev.background == 0 && (strstr(ev->ev.detail, "SSL") != NULL ||
	    strstr(ev->ev.detail, "certificate") != NULL), "TLS failure: '%s'", ev != NULL ? ev->ev.detail : "");
	tdx_pcs_free(p);
	p = NULL;

	/* an explicit proxy is used (here one that refuses) */
	cfg.ca_file = ca;
	cfg.proxy = "http://127.0.0.1:9";
	CU_ASSERT_FATAL(tdx_pcs_new(E.trust, &cfg, &p, &why) == 0);
	CU_ASSERT(tdx_pcs_get(p, E.o.fmspc, TDX_PCS_CA_PLATFORM, now, &c, &why) == KW_ERR_UNAVAILABLE);
	tdx_pcs_free(p);
}

static void
test_pcs_quote_key(void)
{
	struct tdx_trust *empty = NULL;
	uint8_t fmspc[6] = { 0 }, *q = NULL;
	size_t qlen = 0;
	enum tdx_pcs_ca ca = TDX_PCS_CA_PROCESSOR;
	const char *why = NULL;
	char p[PATH_MAX];

	CU_ASSERT_FATAL(att_tdx_emu_quote(E.emu, &E.o, &q, &qlen) == 0);
	CU_ASSERT(tdx_pcs_quote_key(E.trust, q, qlen, fmspc, &ca, &why) == 0);
	CU_ASSERT(memcmp(fmspc, E.o.fmspc, 6) == 0 && ca == TDX_PCS_CA_PLATFORM);
	CU_ASSERT_FATAL(tdx_trust_new(&empty) == 0);
	memset(fmspc, 0, 6);
	CU_ASSERT(tdx_pcs_quote_key(empty, q, qlen, fmspc, &ca, &why) == KW_ERR_UNTRUSTED_ROOT);
	CU_ASSERT(fmspc[0] == 0 && fmspc[1] == 0);
	CU_ASSERT(tdx_pcs_quote_key(E.trust, q, 100, fmspc, &ca, &why) == KW_ERR_TRUNCATED);
	free(q);
	q = NULL;
	test_vpath(p, sizeof(p), "tdx", "dcapqvl-sgx-v3/quote.bin");
	CU_ASSERT_FATAL(kw_file_read(p, 1 << 20, &q, &qlen) == 0);
	CU_ASSERT(tdx_pcs_quote_key(empty, q, qlen, fmspc, &ca, &why) == KW_ERR_UNSUPPORTED);
	free(q);
	tdx_trust_free(empty);
}

static void
test_pcs_teardown(void)
{
	tdx_pcs_free(E.pcs);
	tdx_collateral_free(E.held);
	att_tdx_emu_free(E.emu);
	tdx_trust_free(E.trust);
	memset(&E, 0, sizeof(E));
}

int
main(void)
{
	CU_pSuite s;
	int reg = 0;

	if (test_vectors("tdx") == NULL)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	if (test_begin() != 0)
		return 2;
	if ((s = CU_add_suite("tdx_pcs", suite_init, suite_clean)) == NULL)
		return test_end(-1);
	reg |= TEST_ADD(s, test_pcs_url_decode);
	reg |= TEST_ADD(s, test_pcs_cut_recorded);
	reg |= TEST_ADD(s, test_pcs_cut_negative);
	reg |= TEST_ADD(s, test_pcs_assemble);
	reg |= TEST_ADD(s, test_pcs_cold_and_hit_2023);
	reg |= TEST_ADD(s, test_pcs_vectors_2025_and_rollback);
	reg |= TEST_ADD(s, test_pcs_emu_refresh);
	reg |= TEST_ADD(s, test_pcs_emu_failures_keep_cache);
	reg |= TEST_ADD(s, test_pcs_emu_down);
	reg |= TEST_ADD(s, test_pcs_emu_disk);
	reg |= TEST_ADD(s, test_pcs_concurrent);
	reg |= TEST_ADD(s, test_pcs_config);
	reg |= TEST_ADD(s, test_pcs_quote_key);
	reg |= TEST_ADD(s, test_pcs_teardown);
	return test_end(reg);
}
