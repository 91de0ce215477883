/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kwhsm-bench: drive many releases through keywarden-hsm via hsm_client with
 * a fixed number in flight, and print the helper's RSS every N releases.
 * Used by scripts/hsm-rss.sh; built, not installed.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "hsm_client.h"
#include "hsm_p11.h"
#include "kw_b64url.h"
#include "kw_json.h"
#include "kw_log.h"

struct bench {
	struct event_base *base;
	struct hsm_client *c;
	uint8_t n[1024], e[8]; /* the RSA key every release goes to */
	size_t n_len, e_len;
	unsigned long count, inflight, every;
	unsigned long issued, done, errors, reports_pending;
	double t_start, t_last;
	unsigned long done_last;
	int failed;
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void issue(struct bench *b);

static void
stats_cb(int r, const struct hsm_result *res, void *arg)
{
	struct bench *b = arg;
	double t = now_s();

	b->reports_pending--;
	if (r != 0) {
		fprintf(stderr, "stats failed: %s\n", kw_strerror(r));
		b->failed = 1;
	} else {
		printf("%8llu releases  rss %7lld kB  recycles %4llu  %6.0f releases/s  errors %lu\n",
		    (unsigned long long)res->u.stats.releases, (long long)res->u.stats.rss_kb,
		    (unsigned long long)res->u.stats.recycles,
		    (double)(b->done - b->done_last) / (t - b->t_last), b->errors);
		fflush(stdout);
	}
	b->t_last = t;
	b->done_last = b->done;
	if (b->done == b->count && b->reports_pending == 0)
		event_base_loopbreak(b->base);
}

static void
stats(struct bench *b)
{
	b->reports_pending++;
	if (hsm_client_stats(b->c, stats_cb, b) != 0) {
		b->reports_pending--;
		b->failed = 1;
		event_base_loopbreak(b->base);
	}
}

static void
release_cb(int r, const struct hsm_result *res, void *arg)
{
	struct bench *b = arg;

	(void)res;
	b->done++;
	if (r != 0 && b->errors++ == 0)
		fprintf(stderr, "release failed: %s\n", kw_strerror(r));
	if (b->done % b->every == 0 || b->done == b->count)
		stats(b);
	issue(b);
}

static void
issue(struct bench *b)
{
	while (b->issued < b->count && b->issued - b->done < b->inflight) {
		if (hsm_client_release(b->c, "bench/aes/1", HSM_PROFILE_RSA_OAEP_A256CBC_HS512, b->n,
		    b->n_len, b->e, b->e_len, "bench", release_cb, b) != 0) {
			fprintf(stderr, "cannot queue a release\n");
			b->failed = 1;
			event_base_loopbreak(b->base);
			return;
		}
		b->issued++;
	}
}

/* One RSA public number, big-endian without leading zeros, into buf[0..max). */
static int
rsa_num(EVP_PKEY *pk, const char *name, uint8_t *buf, size_t max, size_t *ret_len)
{
	BIGNUM *bn = NULL;
	int r = -1;

	if (EVP_PKEY_get_bn_param(pk, name, &bn) == 1 && BN_num_bytes(bn) > 0 &&
	    (size_t)BN_num_bytes(bn) <= max) {
		*ret_len = (size_t)BN_bn2bin(bn, buf);
		r = 0;
	}
	BN_free(bn);
	return r;
}

static void
usage(void)
{
	fprintf(stderr, "usage: kwhsm-bench --helper PATH --module PATH --token LABEL --pin-file PATH\n"
	    "  [--conf SOFTHSM2_CONF] [--recycle-after N (0 = never)] [--count N] [--inflight N]\n"
	    "  [--release-assembly hsm|helper]\n"
	    "  [--every N]\n"
	    "       kwhsm-bench --floor N --module PATH --token LABEL|URI --pin-file PATH\n"
	    "  [--conf SOFTHSM2_CONF]\n"
	    "--floor: no helper; N contained releases and N P-256 signatures in this process with\n"
	    "session objects, CPU ms of each printed as JSON {\"rounds\", \"release_ms\", \"sign_ms\"}\n"
	    "(the HSM part of kwbench's floor, docs/performance.md).\n");
}

/* --floor N: the HSM part of the cryptographic floor, in this process (hsm_p11_floor). */
static int
floor_main(const struct hsm_client_config *cfg, unsigned long rounds)
{
	struct hsm_p11 *p = NULL;
	struct hsm_floor f;
	const char *detail = "";
	int r;

	if (rounds == 0 || rounds > 100000 || cfg->module_path == NULL || cfg->token_label == NULL ||
	    cfg->pin_file == NULL) {
		usage();
		return 2;
	}
	if (cfg->softhsm2_conf != NULL && setenv("SOFTHSM2_CONF", cfg->softhsm2_conf, 1) != 0)
		return 1;
	if ((r = hsm_p11_open(cfg->module_path, cfg->token_label, cfg->pin_file, &p, &detail)) != 0 ||
	    (r = hsm_p11_floor(p, (unsigned int)rounds, &f, &detail)) != 0) {
		fprintf(stderr, "kwhsm-bench: floor: %s (%s)\n", kw_strerror(r), detail);
		hsm_p11_close(p);
		return 1;
	}
	printf("{\"rounds\": %lu, \"release_ms\": %.6f, \"sign_ms\": %.6f}\n", rounds, f.release_ms,
	    f.sign_ms);
	hsm_p11_close(p);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"helper", required_argument, NULL, 'H'}, {"module", required_argument, NULL, 'm'},
		{"token", required_argument, NULL, 't'}, {"pin-file", required_argument, NULL, 'p'},
		{"conf", required_argument, NULL, 'c'}, {"recycle-after", required_argument, NULL, 'r'},
		{"count", required_argument, NULL, 'n'}, {"inflight", required_argument, NULL, 'i'},
		{"every", required_argument, NULL, 'e'},
		{"release-assembly", required_argument, NULL, 'A'}, {"floor", required_argument, NULL, 'F'},
		{NULL, 0, NULL, 0},
	};
	struct hsm_client_config cfg = {0};
	struct bench b = {.count = 100000, .inflight = 64, .every = 10000};
	struct hsm_args gen = {.op = HSM_OP_GENERATE};
	struct hsm_result *res = NULL;
	EVP_PKEY *pk = NULL;
	unsigned long floor_rounds = 0;
	int c, r;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'H': cfg.helper_path = optarg; break;
		case 'm': cfg.module_path = optarg; break;
		case 't': cfg.token_label = optarg; break;
		case 'p': cfg.pin_file = optarg; break;
		case 'c': cfg.softhsm2_conf = optarg; break;
		case 'A': cfg.release_assembly = optarg; break;
		case 'r':
			cfg.recycle_after = (unsigned int)strtoul(optarg, NULL, 10);
			if (cfg.recycle_after == 0)
				cfg.recycle_after = HSM_CLIENT_RECYCLE_NEVER;
			break;
		case 'n': b.count = strtoul(optarg, NULL, 10); break;
		case 'i': b.inflight = strtoul(optarg, NULL, 10); break;
		case 'e': b.every = strtoul(optarg, NULL, 10); break;
		case 'F':
			floor_rounds = strtoul(optarg, NULL, 10);
			if (floor_rounds == 0) {
				usage();
				return 2;
			}
			break;
		default: usage(); return 2;
		}
	}
	if (floor_rounds > 0) {
		kw_log_init("kwhsm-bench", KW_LOG_WARN);
		return floor_main(&cfg, floor_rounds);
	}
	if (cfg.helper_path == NULL || cfg.module_path == NULL || cfg.token_label == NULL ||
	    cfg.pin_file == NULL || b.count == 0 || b.inflight == 0 || b.every == 0) {
		usage();
		return 2;
	}
	kw_json_init();
	kw_log_init("kwhsm-bench", KW_LOG_WARN);
	cfg.log_level = "warn";
	if ((b.base = event_base_new()) == NULL)
		return 1;
	if ((r = hsm_client_start(b.base, &cfg, &b.c)) != 0) {
		fprintf(stderr, "hsm_client_start: %s\n", kw_strerror(r));
		return 1;
	}
	gen.u.generate.label = "bench/aes/1";
	gen.u.generate.kind = HSM_KIND_AES256;
	gen.u.generate.if_missing = true;
	if ((r = hsm_client_call_sync(b.c, &gen, &res)) != 0) {
		fprintf(stderr, "generate: %s\n", kw_strerror(r));
		return 1;
	}
	hsm_result_free(res);
	if ((pk = EVP_RSA_gen(3072)) == NULL ||
	    rsa_num(pk, OSSL_PKEY_PARAM_RSA_N, b.n, sizeof(b.n), &b.n_len) != 0 ||
	    rsa_num(pk, OSSL_PKEY_PARAM_RSA_E, b.e, sizeof(b.e), &b.e_len) != 0)
		return 1;
	printf("helper pid %ld, %lu releases, %lu in flight, RSA-3072, recycle-after %s\n",
	    (long)hsm_client_pid(b.c), b.count, b.inflight,
	    cfg.recycle_after == 0 ? "default (5000)" :
	    cfg.recycle_after == HSM_CLIENT_RECYCLE_NEVER ? "never" : "as given");
	b.t_start = b.t_last = now_s();
	stats(&b);    /* baseline RSS */
	issue(&b);
	event_base_dispatch(b.base);
	printf("total: %lu releases in %.1f s = %.0f releases/s, %lu errors\n", b.done,
	    now_s() - b.t_start, (double)b.done / (now_s() - b.t_start), b.errors);
	hsm_client_free(b.c);
	EVP_PKEY_free(pk);
	event_base_free(b.base);
	return b.failed || b.errors != 0 ? 1 : 0;
}
