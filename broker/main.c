/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <libgen.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <sqlite3.h>

#include "broker.h"
#include "health.h"
#include "keysync.h"
#include "hsm_proto.h"
#include "hsm_uri.h"
#include "listener.h"
#include "sdnotify.h"
#include "kw_build.h"
#include "admin.h"
#include "kw_json.h"
#include "kw_log.h"
#include "kw_module.h"
#include "kw_secret.h"
#include "kw_util.h"
#include "verifier_pcs_module.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: keywarden [--config FILE] [--log-format FORMAT] [--check-config]\n"
	    "                 [--rotate-token-key] [--rotate-seal-key] [--list-routes]\n"
	    "                 [--help] [--version]\n"
	    "\n"
	    "keywarden is a key broker for confidential computing: workloads in a TEE\n"
	    "attest with fresh hardware evidence and receive keys held in an HSM,\n"
	    "encrypted to a key that lives inside the TEE.\n"
	    "\n"
	    "  -c, --config FILE   configuration file (default /etc/keywarden/keywarden.json)\n"
	    "      --check-config  validate the configuration and exit\n"
	    "      --log-format FORMAT\n"
	    "                      text, json (one JSON object per line), journal\n"
	    "                      (journald's native protocol with KW_* fields and\n"
	    "                      MESSAGE_ID) or auto: journal when stderr is the journal\n"
	    "                      ($JOURNAL_STREAM), else text; overrides log.format\n"
	    "      --rotate-token-key\n"
	    "                      generate a new token-signing key in the HSM, retire keys\n"
	    "                      whose tokens have all expired, and exit; then send SIGHUP\n"
	    "                      to the running broker so it signs with the new key\n"
	    "                      (brokers also pick it up within hsm.key_poll_interval)\n"
	    "      --rotate-seal-key\n"
	    "                      generate a new seal key version in the HSM (challenges and\n"
	    "                      DPoP nonces) and exit; brokers seal with it after\n"
	    "                      hsm.key_poll_interval + 5 s and accept the 3 newest versions\n"
	    "      --list-routes   print every HTTP route of both listeners and exit\n"
	    "  -h, --help          show this help\n"
	    "  -V, --version       show the version\n"
	    "\n"
	    "Signals: SIGHUP re-reads log.level and log.format and the token and seal keys\n"
	    "(systemd: RELOADING=1, then READY=1); SIGTERM and SIGINT stop (STOPPING=1).\n"
	    "Under systemd (Type=notify) READY=1 follows the bound listeners and the HSM\n"
	    "helper's self test; WATCHDOG=1 comes from the event loop at half WatchdogSec.\n"
	    "\n"
	    "See docs/configuration.md for every configuration key and\n"
	    "docs/operations.md for log formats, fields and signals.\n");
}

/* A new token-signing key in the HSM, created now (blocking); *ret: its entry. */
static int
token_key_new_sync(struct kw_broker *b, int64_t now, struct hsm_result **ret)
{
	struct hsm_args a = {.op = HSM_OP_TOKEN_KEY_NEW};

	a.u.token_key_new.now_set = true;
	a.u.token_key_new.now = now;
	return hsm_client_call_sync(b->hsm, &a, ret);
}

/* Load the token keys from the HSM (blocking: start-up and rotation only). */
static int
load_token_keys_sync(struct kw_broker *b, int create_if_none)
{
	struct hsm_result *res = NULL;
	struct kw_token_keys *ks = NULL;
	char *uri;
	int r;

	if ((r = hsm_client_call_sync(b->hsm, &(struct hsm_args){.op = HSM_OP_TOKEN_KEYS},
	    &res)) != 0)
		return r;
	r = kw_token_keys_from_hsm(res->u.token_keys.k, res->u.token_keys.n, &ks);
	hsm_result_free(res);
	if (r != 0)
		return r;
	if (ks->n == 0 && create_if_none) {
		kw_token_keys_free(ks);
		if ((r = token_key_new_sync(b, kw_broker_now(), &res)) != 0)
			return r;
		kw_audit_note(b, AUDIT_KIND_TOKEN_KEY_ROTATION, json_pack("{s:s, s:s, s:s, s:I}",
		    "kid", res->u.token_key_new.kid, "action", "new", "label", res->u.token_key_new.label,
		    "created", (json_int_t)res->u.token_key_new.created));
		hsm_result_free(res);
		kw_log_info("created the first token-signing key in the HSM");
		return load_token_keys_sync(b, 0);
	}
	kw_token_keys_free(b->token_keys);
	b->token_keys = ks;
	if (kw_token_keys_active(ks) == NULL)
		return KW_ERR_NOT_FOUND;
	/* the HSM object by its PKCS#11 URI (the private half; docs/hsm.md), when known */
	uri = NULL;
	if (b->hsm_token_uri != NULL)
		(void)hsm_uri_object(b->hsm_token_uri, kw_token_keys_active(ks)->label, NULL, 0,
		    HSM_URI_PRIVATE, &uri);
	kw_log_info("token-signing key %s (%zu key(s) in the HSM)%s%s", kw_token_keys_active(ks)->kid,
	    ks->n, uri != NULL ? ", HSM object " : "", uri != NULL ? uri : "");
	free(uri);
	return 0;
}

/*
 * systemd notification (sdnotify.h) and what SIGHUP re-reads; loop thread.
 * The watchdog timer runs on the event loop, so a loop that is stuck (or
 * busy for longer than WatchdogSec) sends no WATCHDOG=1 and systemd
 * restarts the service.
 */
static struct {
	struct kw_sdnotify *n;
	struct event *watchdog, *health;
	const char *cfgpath;
	int format_from_cli;      /* --log-format given: SIGHUP keeps it */
	int degraded;             /* the last STATUS= said the HSM helper is down */
	int stopping;
} sd;

static void
sd_ready_status(const struct kw_broker *b, char *buf, size_t n)
{
	snprintf(buf, n, "ready: %u workers", b->cfg->workers);
}

/* Every WATCHDOG_USEC/2 on the loop. */
static void
on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	(void)kw_sdnotify_watchdog(sd.n);
}

/* Every 2 s: STATUS= says when the HSM helper goes down and comes back. */
static void
on_health(evutil_socket_t fd, short what, void *arg)
{
	struct kw_broker *b = arg;
	int down = !hsm_client_connected(b->hsm);
	char st[80];

	(void)fd;
	(void)what;
	if (down == sd.degraded || sd.stopping)
		return;
	sd.degraded = down;
	if (down)
		snprintf(st, sizeof(st), "degraded: the HSM helper is down");
	else
		sd_ready_status(b, st, sizeof(st));
	(void)kw_sdnotify_status(sd.n, st);
}

/* Apply log.level and log.format (unless --log-format) of c. */
static void
apply_log_config(const struct kw_config *c)
{
	enum kw_log_level lv;
	enum kw_log_format f;

	if (kw_log_level_parse(c->log_level, &lv) == 0)
		kw_log_set_level(lv);
	if (!sd.format_from_cli && kw_log_format_parse(c->log_format, &f) == 0)
		kw_log_set_format(f);
}

static const char *const log_fmt_names[] = {"text", "json", "journal"};
static const char *const log_lvl_names[] = {"error", "warn", "info", "debug"};

/* SIGHUP: re-read the configuration's log keys (the rest needs a restart). */
static void
reload_log_config(struct kw_broker *b)
{
	struct kw_config *c = NULL;
	const char *const *fmts = log_fmt_names, *const *lvls = log_lvl_names;
	char eb[512];
	int r;

	if ((r = kw_config_load(sd.cfgpath, &c, eb, sizeof(eb))) != 0) {
		kw_log_err_ev(KW_LOG_CTX(KW_EV_RELOAD, NULL, NULL), "SIGHUP: the configuration is not "
		    "valid, logging unchanged: %s", eb);
		return;
	}
	apply_log_config(c);
	kw_config_free(c);
	/* a spawned helper shares our stderr: it takes the same level and format */
	if (b->hsm != NULL && (r = hsm_client_set_log(b->hsm, lvls[kw_log_get_level()],
	    fmts[kw_log_get_format()])) != 0)
		kw_log_warn_r(r, "SIGHUP: the running HSM helper keeps its log settings");
	kw_log_info_ev(KW_LOG_CTX(KW_EV_RELOAD, NULL, NULL), "SIGHUP: log level %s, format %s%s; "
	    "other keys take effect at restart", lvls[kw_log_get_level()], fmts[kw_log_get_format()],
	    sd.format_from_cli ? " (--log-format)" : "");
}

static void
reload_done(void *arg)
{
	struct kw_broker *b = arg;
	char st[80];

	if (sd.stopping)
		return;
	sd_ready_status(b, st, sizeof(st));
	(void)kw_sdnotify_ready(sd.n, st);
}

static void
on_sighup(evutil_socket_t sig, short what, void *arg)
{
	struct kw_broker *b = arg;

	(void)sig;
	(void)what;
	(void)kw_sdnotify_reloading(sd.n, "reloading");
	reload_log_config(b);
	kw_keysync_reload_then(b, "SIGHUP", reload_done, b);
}

/* --rotate-token-key: a new signing key; retire keys no longer published. */
static int
rotate_token_key(struct kw_broker *b)
{
	const int64_t now = kw_broker_now();
	struct hsm_result *res = NULL;
	int r;

	if ((r = load_token_keys_sync(b, 0)) != 0 && r != KW_ERR_NOT_FOUND)
		return r;
	if ((r = token_key_new_sync(b, now, &res)) != 0)
		return r;
	printf("keywarden: new token-signing key %s\n", res->u.token_key_new.kid);
	hsm_result_free(res);
	if ((r = load_token_keys_sync(b, 0)) != 0)
		return r;
	for (size_t i = 0; i + 1 < b->token_keys->n; i++) {
		if (kw_token_key_published(b->token_keys, i, now, KW_TOKEN_TTL_MAX)) {
			printf("keywarden: key %s stays published until its tokens expire\n",
			    b->token_keys->k[i].kid);
			continue;
		}
		struct hsm_args a = {.op = HSM_OP_TOKEN_KEY_DESTROY};

		a.u.token_key_destroy.label = b->token_keys->k[i].label;
		if ((r = hsm_client_call_sync(b->hsm, &a, &res)) != 0)
			return r;
		hsm_result_free(res);
		printf("keywarden: retired key %s (all its tokens have expired)\n",
		    b->token_keys->k[i].kid);
	}
	printf("keywarden: send SIGHUP to the running broker to sign with the new key\n");
	return 0;
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct kw_broker *b = arg;

	(void)what;
	if (!sd.stopping)
		(void)kw_sdnotify_stopping(sd.n, "stopping");
	sd.stopping = 1;
	kw_log_info_ev(KW_LOG_CTX(KW_EV_STOP, NULL, NULL), "signal %d: shutting down", (int)sig);
	event_base_loopexit(b->base, NULL);
}

/* The helper lives next to us in the build tree, or in libexecdir when installed. */
static char *
find_helper(const struct kw_config *c)
{
	char self[PATH_MAX], cand[PATH_MAX + 32], *dir;
	ssize_t n;

	if (c->hsm_helper != NULL)
		return strdup(c->hsm_helper);
	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) > 0) {
		self[n] = '\0';
		dir = dirname(self);
		snprintf(cand, sizeof(cand), "%s/keywarden-hsm", dir);
		if (access(cand, X_OK) == 0)
			return strdup(cand);
		snprintf(cand, sizeof(cand), "%s/../hsm/keywarden-hsm", dir);
		if (access(cand, X_OK) == 0)
			return strdup(cand);
	}
	snprintf(cand, sizeof(cand), "%s/keywarden-hsm", KW_LIBEXECDIR);
	return strdup(cand);
}

static int
add_snp_test_root(void *t, const char *path)
{
	return snp_trust_add_test_root_file(t, path);
}

static int
add_tdx_test_root(void *t, const char *path)
{
	return tdx_trust_add_test_root_file(t, path);
}

static int
add_nvgpu_test_root(void *t, const char *path)
{
	return nvgpu_trust_add_test_root_file(t, path);
}

/* The configuration's test roots of one TEE (tee: "snp", "tdx", "nvgpu"), each with a warning. */
static int
load_test_roots(const char *tee, char *const *files, size_t n, int (*add)(void *, const char *),
    void *trust)
{
	int r;

	for (size_t i = 0; i < n; i++) {
		if ((r = add(trust, files[i])) != 0) {
			kw_log_err_r(r, "%s.test_roots: cannot load %s", tee, files[i]);
			return r;
		}
		kw_log_warn("trusting %s TEST root %s: emulated evidence will be accepted",
		    strcmp(tee, "snp") == 0 ? "SNP" : strcmp(tee, "nvgpu") == 0 ? "NVIDIA GPU" : "TDX",
		    files[i]);
	}
	return 0;
}

static int
load_snp_trust(struct kw_broker *b)
{
	int r;

	if ((r = snp_trust_new(&b->trust.snp)) != 0 ||
	    (r = load_test_roots("snp", b->cfg->snp_test_roots, b->cfg->n_snp_test_roots,
	    add_snp_test_root, b->trust.snp)) != 0)
		return r;
	for (size_t i = 0; i < b->cfg->n_snp_chains; i++) {
		if ((r = snp_trust_add_chain_file(b->trust.snp, b->cfg->snp_chains[i])) != 0) {
			kw_log_err_r(r, "snp.cert_chains: cannot load %s", b->cfg->snp_chains[i]);
			return r;
		}
	}
	return 0;
}

/* GPUs ("gpus" of /attest): the pinned NVIDIA root is compiled in; test roots by configuration. */
static int
load_nvgpu_trust(struct kw_broker *b)
{
	int r;

	if ((r = nvgpu_trust_new(&b->trust.nvgpu)) != 0)
		return r;
	return load_test_roots("nvgpu", b->cfg->nvgpu_test_roots, b->cfg->n_nvgpu_test_roots,
	    add_nvgpu_test_root, b->trust.nvgpu);
}

/* An FMSPC as 12 lower-case hex digits. */
static void
fmspc_hex(const uint8_t fmspc[6], char out[13])
{
	for (size_t i = 0; i < 6; i++)
		snprintf(out + 2 * i, 3, "%02x", fmspc[i]);
}

struct tdx_load_log {
	int64_t now;
	size_t n, valid;
};

/* One line per collateral file the offline source loaded. */
static void
log_tdx_collateral(void *arg, const char *file, const struct tdx_collateral_info *info, enum kw_pck_ca ca)
{
	struct tdx_load_log *l = arg;
	char fmspc[13], from[21], until[21];
	int valid = info->not_before <= l->now && l->now < info->not_after;

	fmspc_hex(info->fmspc, fmspc);
	kw_time_format_rfc3339(info->not_before, from);
	kw_time_format_rfc3339(info->not_after, until);
	kw_log_info("tdx.collateral: %s: FMSPC %s (PCK %s CA), TCB evaluation data number %lld, "
	    "valid %s to %s%s%s", file, fmspc, ca == KW_PCK_CA_PROCESSOR ? "Processor" : "Platform",
	    (long long)info->tcb_evaluation_data_number, from, until, valid ? "" : " (not valid now)",
	    info->is_test_root ? ", TEST root" : "");
	l->n++;
	l->valid += (size_t)valid;
}

/*
 * What the PCS/PCCS source did (any thread, outside its locks). detail may
 * hold text a peer chose: kw_log escapes it.
 */
/* keywarden-pcs.so, once loaded (never unloaded: its sources and thread live until exit). */
static const struct kw_pcs_module *pcs_mod;

/* keywarden-pcs.so (kw_module.h): built from the same version with the same interface. */
static int
load_pcs_module(char *why, size_t whylen)
{
	const struct kw_pcs_module *m;
	const void *p;
	char path[PATH_MAX];
	int r;

	if (pcs_mod != NULL)
		return 0;
	if ((r = kw_module_load(KW_PCS_MODULE_FILE, NULL, "verifier-client", KW_MODULE_DIR,
	    KW_PCS_MODULE_ENTRY, &p, path, sizeof(path), why, whylen)) != 0)
		return r;
	m = p;
	if (m->abi != KW_PCS_MODULE_ABI || m->version == NULL || strcmp(m->version, KW_VERSION) != 0) {
		snprintf(why, whylen, "%.1024s is not a keywarden %s PCS module of interface %u", path,
		    KW_VERSION, KW_PCS_MODULE_ABI);
		return KW_ERR_UNSUPPORTED;
	}
	pcs_mod = m;
	kw_log_info("tdx.collateral: loaded %s", path);
	return 0;
}

static void
log_tdx_pcs_event(void *arg, const struct tdx_pcs_event *ev)
{
	char fmspc[13], until[21] = "-";
	const char *ca = pcs_mod->ca_name(ev->ca), *d = ev->detail != NULL ? ev->detail : "";
	const char *sep = ev->detail != NULL ? ": " : "";

	(void)arg;
	fmspc_hex(ev->fmspc, fmspc);
	if (ev->not_after > 0)
		kw_time_format_rfc3339(ev->not_after, until);
	switch (ev->kind) {
	case TDX_PCS_EV_FETCHED:
		kw_metrics_collateral_fresh(kw_broker_now());
		kw_log_info("tdx.collateral: fetched FMSPC %s (PCK %s CA)%s, valid until %s", fmspc, ca,
		    ev->background ? " (refresh)" : "", until);
		break;
	case TDX_PCS_EV_CACHE_LOADED:
		kw_metrics_collateral_fresh(kw_broker_now());
		kw_log_info("tdx.collateral: cache file for FMSPC %s (PCK %s CA) verified, valid until %s",
		    fmspc, ca, until);
		break;
	case TDX_PCS_EV_FETCH_FAILED:
		kw_metrics_collateral_failure();
		kw_log_warn_r_rl(ev->r, "tdx.collateral: fetch for FMSPC %s (PCK %s CA) failed: %s%s%.200s",
		    fmspc, ca, ev->why, sep, d);
		break;
	case TDX_PCS_EV_REFUSED:
		kw_log_warn_rl("tdx.collateral: fetched collateral for FMSPC %s (PCK %s CA) not taken: %s",
		    fmspc, ca, ev->why);
		break;
	case TDX_PCS_EV_CACHE_REFUSED:
		kw_log_warn("tdx.collateral: cache file for FMSPC %s (PCK %s CA) ignored: %s%s%.200s",
		    fmspc, ca, ev->why, sep, d);
		break;
	case TDX_PCS_EV_CACHE_WRITE_FAILED:
		kw_log_warn_rl("tdx.collateral: cache file for FMSPC %s (PCK %s CA) not written: %s%s%.200s",
		    fmspc, ca, ev->why, sep, d);
		break;
	}
}

static int64_t
pcs_clock(void *arg)
{
	(void)arg;
	return kw_broker_now();
}

/* tdx.collateral mode "pcs" or "pccs": fetched, cached on disk, refreshed by a thread. */
static int
load_tdx_pcs(struct kw_broker *b)
{
	const struct kw_config *c = b->cfg;
	struct tdx_pcs_config pc = {
		.url = c->tdx_pcs_url,
		.root_crl_url = c->tdx_pcs_root_crl_url,
		.ca_file = c->tdx_pcs_ca_file,
		.proxy = c->tdx_pcs_proxy,
		.cache_dir = c->tdx_collateral_dir,
		.timeout_s = c->tdx_pcs_timeout,
		.refresh_interval_s = c->tdx_pcs_refresh_interval,
		.refresh_margin_s = c->tdx_pcs_refresh_margin,
		.retry_s = c->tdx_pcs_retry,
		.clock = pcs_clock,
		.on_event = log_tdx_pcs_event,
	};
	struct tdx_pcs_stats st;
	const char *why = "";
	char mwhy[2400];
	int r;

	if ((r = load_pcs_module(mwhy, sizeof(mwhy))) != 0) {
		kw_log_err_r(r, "tdx.collateral: mode %s needs %s: %s", c->tdx_collateral_mode,
		    KW_PCS_MODULE_FILE, mwhy);
		return r;
	}
	if ((r = pcs_mod->source_new(b->trust.tdx, &pc, strcmp(c->tdx_collateral_mode, "pccs") == 0,
	    &b->tdx_collateral, &b->tdx_pcs, &why)) != 0) {
		kw_log_err_r(r, "tdx.collateral: %s", why);
		return r;
	}
	if ((r = pcs_mod->start(b->tdx_pcs)) != 0) {
		kw_log_err_r(r, "tdx.collateral: cannot start the refresher");
		return r;
	}
	pcs_mod->stats(b->tdx_pcs, &st);
	kw_log_info("tdx.collateral: %s %s, cache %s (%lu file(s) loaded, %lu ignored); refresh "
	    "every %u s or %u s before expiry", c->tdx_collateral_mode, c->tdx_pcs_url,
	    c->tdx_collateral_dir, st.disk_loaded, st.disk_refused, c->tdx_pcs_refresh_interval,
	    c->tdx_pcs_refresh_margin);
	return 0;
}

/*
 * nvgpu.ocsp_url: the GPU chains' certificate status through OCSP, by the
 * client in keywarden-pcs.so (libcurl stays out of brokers that fetch
 * nothing). The check runs on the appraisal workers, never on the loop.
 */
static int
load_gpu_ocsp(struct kw_broker *b)
{
	const struct kw_config *c = b->cfg;
	const char *why = "";
	char mwhy[2400];
	int r;

	if (c->nvgpu_ocsp_url == NULL)
		return 0;
	if ((r = load_pcs_module(mwhy, sizeof(mwhy))) != 0) {
		kw_log_err_r(r, "nvgpu.ocsp_url needs %s: %s", KW_PCS_MODULE_FILE, mwhy);
		return r;
	}
	if ((r = pcs_mod->ocsp_new(c->nvgpu_ocsp_url, c->nvgpu_ocsp_timeout, &b->gpu_ocsp, &why)) != 0) {
		kw_log_err_r(r, "nvgpu.ocsp_url: %s", why);
		return r;
	}
	b->gpu_status.check = pcs_mod->ocsp_check;
	b->gpu_status.ctx = b->gpu_ocsp;
	b->gpu_status.fail_open = c->nvgpu_ocsp_fail_open != 0;
	b->trust.gpu_status = &b->gpu_status;
	if (b->gpu_status.fail_open)
		kw_log_warn("nvgpu.ocsp_fail_open: GPUs whose certificate status cannot be fetched are "
		    "admitted (claim gpus[].ocsp \"unavailable\")");
	kw_log_info("nvgpu: certificate status through OCSP at %s (fail %s, %u s per certificate)",
	    c->nvgpu_ocsp_url, b->gpu_status.fail_open ? "open" : "closed", c->nvgpu_ocsp_timeout);
	return 0;
}

/* TDX: the pinned Intel root, configured test roots, the collateral source. */
static int
load_tdx_trust(struct kw_broker *b)
{
	struct tdx_load_log l = { kw_broker_now(), 0, 0 };
	char why[512];
	int r;

	if (!b->cfg->tdx_enabled)
		return 0;
	if ((r = tdx_trust_new(&b->trust.tdx)) != 0 ||
	    (r = load_test_roots("tdx", b->cfg->tdx_test_roots, b->cfg->n_tdx_test_roots,
	    add_tdx_test_root, b->trust.tdx)) != 0)
		return r;
	if (strcmp(b->cfg->tdx_collateral_mode, "offline") != 0) {
		if ((r = load_tdx_pcs(b)) != 0)
			return r;
		b->trust.tdx_collateral = b->tdx_collateral;
		return 0;
	}
	if ((r = kw_tdx_offline_new(b->trust.tdx, b->cfg->tdx_collateral_dir, log_tdx_collateral, &l,
	    &b->tdx_collateral, why, sizeof(why))) != 0) {
		kw_log_err_r(r, "tdx.collateral: %s", why);
		return r;
	}
	b->trust.tdx_collateral = b->tdx_collateral;
	if (l.valid == 0)
		kw_log_warn("tdx.collateral: none of the %zu file(s) in %s is valid now: TDX "
		    "attestations are answered 503 collateral_unavailable", l.n,
		    b->cfg->tdx_collateral_dir);
	else
		kw_log_info("tdx.collateral: offline, %zu file(s) from %s, %zu valid now", l.n,
		    b->cfg->tdx_collateral_dir, l.valid);
	if (l.valid > 0)
		kw_metrics_collateral_fresh(kw_broker_now());
	return 0;
}

/* tpm-akcert: the AK CAs of tpm.akcert_roots; none: the type stays disabled. */
/*
 * Arm CCA: the CPAKs of cca.cpaks and cca.test_cpaks (P-384 JWK files, each
 * with a line in the log; test anchors with a warning); none: cca disabled.
 */
static int
load_cca_trust(struct kw_broker *b)
{
	const struct kw_config *c = b->cfg;
	int r;

	if (c->n_cca_cpaks + c->n_cca_test_cpaks == 0)
		return 0;
	if ((r = cca_trust_new(&b->cca)) != 0)
		return r;
	for (size_t i = 0; i < c->n_cca_cpaks + c->n_cca_test_cpaks; i++) {
		int test = i >= c->n_cca_cpaks;
		const char *f = test ? c->cca_test_cpaks[i - c->n_cca_cpaks] : c->cca_cpaks[i];

		if ((r = cca_trust_add_cpak_file(b->cca, f, test)) != 0) {
			kw_log_err_r(r, "cca.%s: cannot load %s (a P-384 public JWK)", test ? "test_cpaks" : "cpaks",
			    f);
			return r;
		}
		if (test)
			kw_log_warn("trusting CCA TEST CPAK %s: emulated tokens will be accepted", f);
		else
			kw_log_info("cca.cpaks: trusting the CPAK in %s", f);
	}
	b->trust.cca = b->cca;
	return 0;
}

/*
 * One tpm section's CA files (tpm.akcert_roots: AK CAs; tpm.ek_roots: EK
 * manufacturer CAs) into a new set in *ret; none listed: *ret stays NULL and
 * the evidence type that needs it is disabled.
 */
static int
load_tpm_ca(const char *key, const char *what, char *const *files, size_t nfiles, struct tpm_ca **ret)
{
	size_t n = 0;
	int r;

	if (nfiles == 0)
		return 0;
	if ((r = tpm_ca_new(ret)) != 0) {
		kw_log_err_r(r, "%s", key);
		return r;
	}
	for (size_t i = 0; i < nfiles; i++) {
		if ((r = tpm_ca_add_file(*ret, files[i], &n)) != 0) {
			kw_log_err_r(r, "%s: cannot load %s (PEM or DER CA certificates)", key, files[i]);
			return r;
		}
		kw_log_info("%s: %zu %s certificate(s) from %s", key, n, what, files[i]);
	}
	return 0;
}

static int
load_tpm_trust(struct kw_broker *b)
{
	int r;

	if ((r = load_tpm_ca("tpm.akcert_roots", "AK CA", b->cfg->tpm_akcert_roots, b->cfg->n_tpm_akcert_roots,
	    &b->tpm_akcert)) != 0 ||
	    (r = load_tpm_ca("tpm.ek_roots", "EK CA", b->cfg->tpm_ek_roots, b->cfg->n_tpm_ek_roots,
	    &b->tpm_ek)) != 0)
		return r;
	b->trust.tpm_akcert = b->tpm_akcert;
	b->trust.tpm_ek = b->tpm_ek;
	return 0;
}

/*
 * hsm.token against the helper's probe: a label must be the helper's
 * --token or the label of the token it found; a URI must fit the token the
 * helper found (its token_uri, which it reports only once it has found
 * one). One line on failure.
 */
static int
check_token(const char *want, const struct hsm_result *probe)
{
	const char *have = probe->u.probe.token_uri;
	char why[300];
	int r;

	if (!hsm_uri_is_uri(want)) {
		/* the helper's --token, or the label of the token its --token URI found */
		if (strcmp(probe->u.probe.token, want) == 0 || hsm_uri_token_label_is(have, want))
			return 0;
		kw_log_err("the HSM helper serves token '%s', not hsm.token '%s'; refusing to start",
		    probe->u.probe.token, want);
		return KW_ERR_MISMATCH;
	}
	if (have == NULL) {
		kw_log_err("no token matching hsm.token %s is available through the HSM helper "
		    "(p11tool --list-tokens shows the module's tokens; docs/hsm.md); refusing to start",
		    want);
		return KW_ERR_MISMATCH;
	}
	if ((r = hsm_uri_token_fits(want, have, why, sizeof(why))) == 0)
		return 0;
	if (r == KW_ERR_MISMATCH)
		kw_log_err("the HSM helper serves token %s, which does not match hsm.token %s; "
		    "refusing to start", have, want);
	else
		kw_log_err_r(r, "hsm.token %s: %s", want, why);
	return r;
}

/*
 * Start the HSM client. Socket mode (hsm.socket): connect to keywarden-hsm's
 * supervisor, which runs as its own user (the custody boundary,
 * docs/deploy.md). Spawn mode: fork+exec the helper as our own user, for
 * development and the demo only.
 */
static int
start_hsm(struct kw_broker *b)
{
	struct hsm_client_config hc;
	const struct hsm_result *probe;
	const char *token;
	char *helper = NULL;
	int r;

	memset(&hc, 0, sizeof(hc));
	hc.call_timeout_ms = b->cfg->hsm_call_timeout * 1000U;
	hc.admin_timeout_ms = b->cfg->hsm_admin_timeout * 1000U;
	hc.max_pending = b->cfg->hsm_max_pending;
	if (b->cfg->hsm_socket != NULL) {
		hc.socket_path = b->cfg->hsm_socket;
	} else {
		if ((helper = find_helper(b->cfg)) == NULL)
			return KW_ERR_NOMEM;
		kw_log_warn("hsm.socket is not set: the HSM helper runs as the broker's own user, "
		    "so there is no custody boundary between them (development only; "
		    "docs/deploy.md)");
		hc.helper_path = helper;
		hc.module_path = b->cfg->hsm_module;
		hc.token_label = b->cfg->hsm_token;
		hc.pin_file = b->cfg->hsm_pin_file;
		hc.softhsm2_conf = b->cfg->hsm_softhsm2_conf;
		hc.recycle_after = b->cfg->hsm_recycle_after;
		hc.log_level = log_lvl_names[kw_log_get_level()];
		hc.log_format = log_fmt_names[kw_log_get_format()];    /* "auto" resolved */
		if (kw_broker_test_hooks())
			hc.journal_socket = getenv("KEYWARDEN_TEST_JOURNAL_SOCKET");
		hc.release_assembly = b->cfg->hsm_release_assembly;
	}
	r = hsm_client_start(b->base, &hc, &b->hsm);
	free(helper);
	if (r != 0) {
		if (b->cfg->hsm_socket != NULL)
			kw_log_err_r(r, "no answer from the HSM helper at %s (is keywarden-hsm running, "
			    "and does it allow our uid %u?)", b->cfg->hsm_socket, (unsigned)getuid());
		else
			kw_log_err_r(r, "cannot start the HSM helper");
		return r;
	}
	probe = hsm_client_start_probe(b->hsm);
	token = probe->u.probe.token;
	if (b->cfg->hsm_token != NULL && (r = check_token(b->cfg->hsm_token, probe)) != 0)
		return r;
	if (probe->u.probe.token_uri != NULL &&
	    (b->hsm_token_uri = strdup(probe->u.probe.token_uri)) == NULL)
		return KW_ERR_NOMEM;
	for (size_t i = 0; i < probe->u.probe.n_profiles; i++) {
		if (strcmp(probe->u.probe.profiles[i], HSM_PROFILE_RSA_OAEP_A256CBC_HS512) == 0)
			b->release_profile = HSM_PROFILE_RSA_OAEP_A256CBC_HS512;
	}
	if (b->release_profile == NULL) {
		kw_log_err("the HSM supports no contained release profile; refusing to start");
		return KW_ERR_HSM;
	}
	kw_log_info("HSM token '%s': release profile %s (contained: the key's plaintext never "
	    "leaves the HSM); HSM call deadline %u s (admin %u s), at most %u calls outstanding",
	    token, b->release_profile, b->cfg->hsm_call_timeout, b->cfg->hsm_admin_timeout,
	    b->cfg->hsm_max_pending);
	return 0;
}

/*
 * Raise RLIMIT_NOFILE to its hard limit and derive the connection caps from
 * it (conntab.h); a configuration that does not fit is refused here, also by
 * --check-config (systemd runs it under the same LimitNOFILE).
 */
static int
conn_limits(struct kw_broker *b)
{
	const struct kw_config *c = b->cfg;
	struct kw_conn_limits want;
	size_t nofile;
	char eb[400];

	if (kw_nofile_raise(&nofile) != 0) {
		fprintf(stderr, "keywarden: cannot read RLIMIT_NOFILE\n");
		return KW_ERR_IO;
	}
	memset(&want, 0, sizeof(want));
	want.max_connections = c->max_connections;
	want.max_per_address = c->max_connections_per_address;
	want.admin_max_connections = c->admin_listen_addr != NULL ? c->admin_max_connections : 0;
	want.request_timeout = c->request_timeout;
	if (kw_conn_limits_derive(nofile, &want, &b->limits, eb, sizeof(eb)) != 0) {
		fprintf(stderr, "keywarden: %s\n", eb);
		return KW_ERR_CONFIG;
	}
	kw_log_info("connections: RLIMIT_NOFILE %zu; workload listener at most %zu open, %zu per "
	    "address%s; admin listener at most %zu open, %zu per address; request deadline %u s",
	    nofile, b->limits.max_connections, b->limits.max_per_address,
	    c->max_connections == 0 ? " (derived)" : "", b->limits.admin_max_connections,
	    b->limits.admin_max_per_address, b->limits.request_timeout);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"check-config", no_argument, NULL, 'k'},
		{"log-format", required_argument, NULL, 'L'},
		{"rotate-token-key", no_argument, NULL, 'R'},
		{"rotate-seal-key", no_argument, NULL, 'S'},
		{"list-routes", no_argument, NULL, 'P'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	const char *cfgpath = "/etc/keywarden/keywarden.json", *logfmt = NULL;
	enum kw_log_format lf;
	struct kw_broker b;
	char errbuf[512];
	int ch, check = 0, rotate = 0, r, rc = 1;

	memset(&b, 0, sizeof(b));
	/*
	 * One malloc arena for all threads (workers, admin, audit writer)
	 * instead of one per thread: 0.3 MB less idle RSS, and no measurable
	 * CPU per flow on 2 cores (docs/performance.md). MALLOC_ARENA_MAX in
	 * the environment (or GLIBC_TUNABLES) still decides, e.g. on many cores.
	 */
	if (getenv("MALLOC_ARENA_MAX") == NULL && getenv("GLIBC_TUNABLES") == NULL)
		(void)mallopt(M_ARENA_MAX, 1);
	while ((ch = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': cfgpath = optarg; break;
		case 'k': check = 1; break;
		case 'L': logfmt = optarg; break;
		case 'R': rotate = 1; break;
		case 'S': rotate = 2; break;
		case 'P':
			kw_http_routes_list(stdout);
			kw_admin_routes_list(stdout);
			kw_health_routes_list(stdout);
			return fflush(stdout) == 0 ? 0 : 1;
		case 'h': usage(stdout); return 0;
		case 'V':
			printf("keywarden %s%s\n", KW_VERSION,
			    kw_broker_test_hooks() ? " (test hooks: not for production)" : "");
			return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "keywarden: unexpected argument '%s' (see --help)\n", argv[optind]);
		return 2;
	}
	kw_secret_harden_process();
	kw_json_init();
	kw_log_init("keywarden", KW_LOG_INFO);
	/*
	 * Before any connection opens (the store, the audit log): no bulk page
	 * cache of 20 pages per SQLite connection; pages are allocated as the
	 * connection uses them (idle RSS, docs/performance.md).
	 */
	(void)sqlite3_config(SQLITE_CONFIG_PAGECACHE, NULL, 0, 0);
	signal(SIGPIPE, SIG_IGN);
	if ((r = kw_config_load(cfgpath, &b.cfg, errbuf, sizeof(errbuf))) != 0) {
		fprintf(stderr, "keywarden: %s\n", errbuf);
		return 2;
	}
	if (logfmt != NULL && kw_log_format_parse(logfmt, &lf) != 0) {
		fprintf(stderr, "keywarden: --log-format must be text, json, journal or auto\n");
		kw_config_free(b.cfg);
		return 2;
	}
	sd.cfgpath = cfgpath;
	sd.format_from_cli = logfmt != NULL;
	if (kw_broker_test_hooks() && getenv("KEYWARDEN_TEST_JOURNAL_SOCKET") != NULL &&
	    kw_log_set_journal_socket(getenv("KEYWARDEN_TEST_JOURNAL_SOCKET")) != 0) {
		fprintf(stderr, "keywarden: KEYWARDEN_TEST_JOURNAL_SOCKET is too long\n");
		kw_config_free(b.cfg);
		return 2;
	}
	apply_log_config(b.cfg);
	if (logfmt != NULL)
		kw_log_set_format(lf);
	if (conn_limits(&b) != 0) {
		kw_config_free(b.cfg);
		return 2;
	}
	if (check) {
		printf("keywarden: configuration %s is valid\n", cfgpath);
		kw_config_free(b.cfg);
		return 0;
	}
	kw_listener_libevent_log();
	kw_metrics_init(b.cfg->metrics_key_labels);    /* before any thread starts */
	if (evthread_use_pthreads() != 0 || (b.base = event_base_new()) == NULL) {
		kw_log_err("cannot initialize libevent");
		goto out;
	}
	if (kw_broker_test_hooks())
		kw_log_warn("this build has test hooks (-Dtest_hooks=true): not for production");
	if (kw_broker_clock_is_test())
		kw_log_warn("KEYWARDEN_TEST_CLOCK_FILE is set: the clock is shifted for testing");
	if (kw_broker_clock_ignored())
		kw_log_warn("KEYWARDEN_TEST_CLOCK_FILE is set but ignored: this build has no test hooks");
	if (rotate) {
		if (start_hsm(&b) != 0)
			goto out;
		if ((r = rotate == 2 ? kw_keysync_rotate_seal(&b) : rotate_token_key(&b)) != 0) {
			kw_log_err_r(r, "%s key rotation failed", rotate == 2 ? "seal" : "token");
			goto out;
		}
		rc = 0;
		goto out;
	}
	/* before the HSM helper starts (it must not inherit NOTIFY_SOCKET) and before any thread */
	if ((r = kw_sdnotify_open(&sd.n)) != 0)
		kw_log_warn_r(r, "NOTIFY_SOCKET is not usable: no readiness notification to systemd");
	(void)kw_sdnotify_status(sd.n, "starting: loading trust anchors and the store");
	if (load_snp_trust(&b) != 0 || load_tdx_trust(&b) != 0 || load_tpm_trust(&b) != 0 ||
	    load_cca_trust(&b) != 0 ||
	    load_nvgpu_trust(&b) != 0 || load_gpu_ocsp(&b) != 0 ||
	    kw_challenges_new(b.cfg->nonce_ttl, b.cfg->max_sessions, &b.challenges) != 0 ||
	    kw_dpop_new(b.cfg->dpop_nonce_ttl, b.cfg->dpop_iat_window, b.cfg->token_ttl,
	    b.cfg->max_sessions, b.cfg->dpop_jti_per_key, &b.dpop) != 0)
		goto out;
	if (b.cfg->store_kind == KW_STORE_POSTGRESQL) {
		/* one pool for the admin thread and the release reads (on the workers) */
		if ((r = kw_store_open_pg(b.cfg->store_conninfo, b.cfg->store_pool, &b.store)) != 0) {
			kw_log_err_r(r, "cannot open the PostgreSQL store (store.conninfo)");
			goto out;
		}
		b.store_ro = b.store;
	} else if ((r = kw_store_open(b.cfg->store_path, &b.store)) != 0 ||
	    (r = kw_store_open_readonly(b.cfg->store_path, &b.store_ro)) != 0) {
		kw_log_err_r(r, "cannot open the store %s", b.cfg->store_path);
		goto out;
	}
	if (kw_audit_open(&b) != 0)
		goto out;
	(void)kw_sdnotify_status(sd.n, "starting: HSM helper self test");
	if (start_hsm(&b) != 0)
		goto out;
	if ((r = kw_admin_reconcile(&b)) != 0) {
		kw_log_err_r(r, "cannot reconcile the store with the HSM");
		goto out;
	}
	if ((r = load_token_keys_sync(&b, 1)) != 0) {
		kw_log_err_r(r, "no token-signing key in the HSM");
		goto out;
	}
	if ((r = kw_keysync_load_seal(&b)) != 0 || (r = kw_keysync_start(&b)) != 0) {
		kw_log_err_r(r, "no seal key from the HSM");
		goto out;
	}
	if (kw_workers_new(b.base, b.cfg->workers, b.cfg->max_inflight, &b.workers) != 0) {
		kw_log_err("cannot start the appraisal workers");
		goto out;
	}
	if (kw_audit_start_checkpoints(&b) != 0)
		goto out;
	kw_challenges_set_metrics(b.challenges, KW_MET_SET_CHALLENGE);
	kw_workers_set_metrics(b.workers, KW_MET_POOL_APPRAISAL);
	if (kw_http_start(&b) != 0 || kw_admin_start(&b) != 0 || kw_health_start(&b) != 0)
		goto out;
	b.sig_int = evsignal_new(b.base, SIGINT, on_signal, &b);
	b.sig_term = evsignal_new(b.base, SIGTERM, on_signal, &b);
	b.sig_hup = evsignal_new(b.base, SIGHUP, on_sighup, &b);
	if (b.sig_int == NULL || b.sig_term == NULL || b.sig_hup == NULL ||
	    event_add(b.sig_int, NULL) != 0 || event_add(b.sig_term, NULL) != 0 ||
	    event_add(b.sig_hup, NULL) != 0)
		goto out;
	if (sd.n != NULL) {
		/* the listeners are bound and the helper passed its probe (start_hsm): ready */
		uint64_t wd = kw_sdnotify_watchdog_usec(sd.n);
		/* half the interval, as sd_watchdog_enabled(3) advises; never a busy timer */
		uint64_t half = wd / 2 < 10000U ? 10000U : wd / 2;
		struct timeval wtv = {.tv_sec = (time_t)(half / 1000000U),
			.tv_usec = (suseconds_t)(half % 1000000U)};
		struct timeval htv = {.tv_sec = 2};
		char st[80];

		if ((sd.health = event_new(b.base, -1, EV_PERSIST, on_health, &b)) == NULL ||
		    event_add(sd.health, &htv) != 0)
			goto out;
		if (wd != 0 && ((sd.watchdog = event_new(b.base, -1, EV_PERSIST, on_watchdog, NULL)) ==
		    NULL || event_add(sd.watchdog, &wtv) != 0))
			goto out;
		sd_ready_status(&b, st, sizeof(st));
		(void)kw_sdnotify_ready(sd.n, st);
		if (wd != 0)
			kw_log_info("systemd watchdog: WATCHDOG=1 every %llu ms from the event loop",
			    (unsigned long long)(half / 1000U));
	}
	/* what start-up allocated and freed goes back to the kernel (idle RSS) */
	(void)malloc_trim(0);
	kw_log_info_ev(KW_LOG_CTX(KW_EV_START, NULL, NULL), "keywarden %s ready (%u appraisal "
	    "workers, store %s)", KW_VERSION, b.cfg->workers,
	    b.cfg->store_kind == KW_STORE_POSTGRESQL ? "postgresql" : b.cfg->store_path);
	event_base_dispatch(b.base);
	if (!sd.stopping)
		(void)kw_sdnotify_stopping(sd.n, "stopping");
	sd.stopping = 1;
	kw_log_info_ev(KW_LOG_CTX(KW_EV_STOP, NULL, NULL), "stopped: %lu tokens issued, %lu "
	    "attestations rejected, %lu released, %lu releases denied", b.n_attest_ok,
	    b.n_attest_fail, b.n_release_ok, b.n_release_denied);
	rc = 0;
out:
	/* order: stop the admin thread and the appraisal threads, then the HSM
	 * client (its failed callbacks still answer live HTTP requests), then
	 * the listeners, and only then the bridge calls may have completed into */
	sd.stopping = 1;
	if (sd.watchdog != NULL)
		event_free(sd.watchdog);
	if (sd.health != NULL)
		event_free(sd.health);
	kw_health_stop(&b);
	kw_keysync_stop(&b);
	kw_admin_stop(&b);
	kw_audit_begin_close(&b);   /* releases whose record completes now are refused (503) */
	kw_workers_free(b.workers);
	hsm_client_free(b.hsm);
	free(b.hsm_token_uri);
	kw_health_free(&b);        /* after the HSM client: a probe's callback may run until then */
	kw_audit_close(&b, rc == 0 ? "shutdown" : "start-up failed");   /* the "stop" record */
	kw_http_stop(&b);
	kw_hsm_bridge_free(b.bridge);
	if (b.sig_int != NULL)
		event_free(b.sig_int);
	if (b.sig_term != NULL)
		event_free(b.sig_term);
	if (b.sig_hup != NULL)
		event_free(b.sig_hup);
	/* nothing of ours is left on the loop: finish connections that were closing */
	kw_listener_drain(b.base);
	kw_dpop_free(b.dpop);
	kw_token_keys_free(b.token_keys);
	if (b.store_ro != b.store)
		kw_store_close(b.store_ro);
	kw_store_close(b.store);
	kw_challenges_free(b.challenges);
	kw_tdx_source_free(b.tdx_collateral);
	tdx_trust_free(b.trust.tdx);
	tpm_ca_free(b.tpm_ek);
	cca_trust_free(b.cca);
	snp_trust_free(b.trust.snp);
	nvgpu_trust_free(b.trust.nvgpu);
	if (b.gpu_ocsp != NULL)
		pcs_mod->ocsp_free(b.gpu_ocsp);
	tpm_ca_free(b.tpm_akcert);
	if (b.base != NULL)
		event_base_free(b.base);
	kw_config_free(b.cfg);
	kw_sdnotify_free(sd.n);
	return rc;
}
