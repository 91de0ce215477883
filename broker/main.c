/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "broker.h"
#include "hsm_proto.h"
#include "kw_config.h"
#include "kw_json.h"
#include "kw_log.h"
#include "kw_secret.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: keywarden [--config FILE] [--check-config] [--help] [--version]\n"
	    "\n"
	    "keywarden is a key broker for confidential computing: workloads in a TEE\n"
	    "attest with fresh hardware evidence and receive keys held in an HSM,\n"
	    "encrypted to a key that lives inside the TEE.\n"
	    "\n"
	    "  -c, --config FILE   configuration file (default /etc/keywarden/keywarden.json)\n"
	    "      --check-config  validate the configuration and exit\n"
	    "  -h, --help          show this help\n"
	    "  -V, --version       show the version\n"
	    "\n"
	    "See docs/configuration.md for every configuration key.\n");
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct kw_broker *b = arg;

	(void)what;
	kw_log_info("signal %d: shutting down", (int)sig);
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
load_snp_trust(struct kw_broker *b)
{
	int r;

	if ((r = snp_trust_new(&b->snp)) != 0)
		return r;
	for (size_t i = 0; i < b->cfg->n_snp_test_roots; i++) {
		if ((r = snp_trust_add_test_root_file(b->snp, b->cfg->snp_test_roots[i])) != 0) {
			kw_log_err_r(r, "snp.test_roots: cannot load %s", b->cfg->snp_test_roots[i]);
			return r;
		}
		kw_log_warn("trusting SNP TEST root %s: emulated evidence will be accepted",
		    b->cfg->snp_test_roots[i]);
	}
	for (size_t i = 0; i < b->cfg->n_snp_chains; i++) {
		if ((r = snp_trust_add_chain_file(b->snp, b->cfg->snp_chains[i])) != 0) {
			kw_log_err_r(r, "snp.cert_chains: cannot load %s", b->cfg->snp_chains[i]);
			return r;
		}
	}
	return 0;
}

static int
start_hsm(struct kw_broker *b)
{
	struct hsm_client_config hc;
	const json_t *probe, *profiles, *p;
	char *helper = find_helper(b->cfg);
	size_t i;
	int r;

	if (helper == NULL)
		return KW_ERR_NOMEM;
	memset(&hc, 0, sizeof(hc));
	hc.helper_path = helper;
	hc.module_path = b->cfg->hsm_module;
	hc.token_label = b->cfg->hsm_token;
	hc.pin_file = b->cfg->hsm_pin_file;
	hc.softhsm2_conf = b->cfg->hsm_softhsm2_conf;
	hc.recycle_after = b->cfg->hsm_recycle_after;
	hc.log_level = b->cfg->log_level;
	r = hsm_client_start(b->base, &hc, &b->hsm);
	free(helper);
	if (r != 0) {
		kw_log_err_r(r, "cannot start the HSM helper");
		return r;
	}
	probe = hsm_client_probe(b->hsm);
	profiles = json_object_get(probe, "profiles");
	json_array_foreach(profiles, i, p) {
		if (json_is_string(p) &&
		    strcmp(json_string_value(p), HSM_PROFILE_RSA_OAEP_A256CBC_HS512) == 0)
			b->release_profile = HSM_PROFILE_RSA_OAEP_A256CBC_HS512;
	}
	if (b->release_profile == NULL) {
		kw_log_err("the HSM supports no contained release profile; refusing to start");
		return KW_ERR_HSM;
	}
	kw_log_info("HSM token '%s': release profile %s (contained: the key's plaintext never "
	    "leaves the HSM)", b->cfg->hsm_token, b->release_profile);
	return 0;
}

static int
ensure_keys(struct kw_broker *b)
{
	for (size_t i = 0; i < b->cfg->n_resources; i++) {
		const struct kw_resource_cfg *rc = &b->cfg->resources[i];
		json_t *req, *rep = NULL;
		int r;

		if (rc->generate == NULL)
			continue;
		req = json_pack("{s:s, s:s, s:s, s:i, s:b}", "op", "generate", "label", rc->path,
		    "kind", rc->generate, "length",
		    strcmp(rc->generate, "secret") == 0 ? (int)rc->secret_length :
		    strcmp(rc->generate, "aes-128") == 0 ? 16 : 32,
		    "if_missing", 1);
		if (req == NULL)
			return KW_ERR_NOMEM;
		if ((r = hsm_client_call_sync(b->hsm, req, &rep)) != 0) {
			kw_log_err_r(r, "cannot create key '%s' in the HSM", rc->path);
			return r;
		}
		kw_log_info("key '%s' (%s): %s", rc->path, rc->generate,
		    json_is_true(json_object_get(rep, "created")) ? "created in the HSM" :
		    "present in the HSM");
		json_decref(rep);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"check-config", no_argument, NULL, 'k'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	const char *cfgpath = "/etc/keywarden/keywarden.json";
	struct kw_broker b;
	enum kw_log_level lv = KW_LOG_INFO;
	char errbuf[512];
	int ch, check = 0, r, rc = 1;

	memset(&b, 0, sizeof(b));
	while ((ch = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': cfgpath = optarg; break;
		case 'k': check = 1; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("keywarden %s\n", KW_VERSION); return 0;
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
	signal(SIGPIPE, SIG_IGN);
	if ((r = kw_config_load(cfgpath, &b.cfg, errbuf, sizeof(errbuf))) != 0) {
		fprintf(stderr, "keywarden: %s\n", errbuf);
		return 2;
	}
	if (kw_log_level_parse(b.cfg->log_level, &lv) == 0)
		kw_log_set_level(lv);
	if (check) {
		printf("keywarden: configuration %s is valid (%zu resources)\n", cfgpath,
		    b.cfg->n_resources);
		kw_config_free(b.cfg);
		return 0;
	}
	if (evthread_use_pthreads() != 0 || (b.base = event_base_new()) == NULL) {
		kw_log_err("cannot initialize libevent");
		goto out;
	}
	if (load_snp_trust(&b) != 0 ||
	    kw_challenges_new(b.cfg->nonce_ttl, b.cfg->max_sessions, &b.challenges) != 0 ||
	    kw_sessions_new(b.cfg->max_sessions, &b.sessions) != 0)
		goto out;
	if (start_hsm(&b) != 0 || ensure_keys(&b) != 0)
		goto out;
	if (kw_workers_new(b.base, b.cfg->workers, b.cfg->max_inflight, &b.workers) != 0) {
		kw_log_err("cannot start the appraisal workers");
		goto out;
	}
	if (kw_http_start(&b) != 0)
		goto out;
	b.sig_int = evsignal_new(b.base, SIGINT, on_signal, &b);
	b.sig_term = evsignal_new(b.base, SIGTERM, on_signal, &b);
	if (b.sig_int == NULL || b.sig_term == NULL || event_add(b.sig_int, NULL) != 0 ||
	    event_add(b.sig_term, NULL) != 0)
		goto out;
	kw_log_info("keywarden %s ready (%u appraisal workers, %zu resources)", KW_VERSION,
	    b.cfg->workers, b.cfg->n_resources);
	event_base_dispatch(b.base);
	kw_log_info("stopped: %lu attested, %lu attestations rejected, %lu released, "
	    "%lu releases denied", b.n_attest_ok, b.n_attest_fail, b.n_release_ok,
	    b.n_release_denied);
	rc = 0;
out:
	kw_http_stop(&b);
	kw_workers_free(b.workers);
	hsm_client_free(b.hsm);
	if (b.sig_int != NULL)
		event_free(b.sig_int);
	if (b.sig_term != NULL)
		event_free(b.sig_term);
	kw_sessions_free(b.sessions);
	kw_challenges_free(b.challenges);
	snp_trust_free(b.snp);
	if (b.base != NULL)
		event_base_free(b.base);
	kw_config_free(b.cfg);
	return rc;
}
