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
#include "kw_b64url.h"
#include "kw_json.h"
#include "kw_log.h"

struct bench {
	struct event_base *base;
	struct hsm_client *c;
	json_t *tmpl; /* release request, copied per call */
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
stats_cb(int r, json_t *o, void *arg)
{
	struct bench *b = arg;
	double t = now_s();

	b->reports_pending--;
	if (r != 0) {
		fprintf(stderr, "stats failed: %s\n", kw_strerror(r));
		b->failed = 1;
	} else {
		printf("%8lld releases  rss %7lld kB  recycles %4lld  %6.0f releases/s  errors %lu\n",
		    (long long)json_integer_value(json_object_get(o, "releases")),
		    (long long)json_integer_value(json_object_get(o, "rss_kb")),
		    (long long)json_integer_value(json_object_get(o, "recycles")),
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
	if (hsm_client_call(b->c, json_pack("{s:s}", "op", "stats"), stats_cb, b) != 0) {
		b->reports_pending--;
		b->failed = 1;
		event_base_loopbreak(b->base);
	}
}

static void
release_cb(int r, json_t *o, void *arg)
{
	struct bench *b = arg;

	(void)o;
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
		if (hsm_client_call(b->c, json_deep_copy(b->tmpl), release_cb, b) != 0) {
			fprintf(stderr, "cannot queue a release\n");
			b->failed = 1;
			event_base_loopbreak(b->base);
			return;
		}
		b->issued++;
	}
}

static int
rsa_b64(EVP_PKEY *pk, const char *name, char **ret)
{
	BIGNUM *bn = NULL;
	unsigned char buf[1024];
	int n, r = -1;

	if (EVP_PKEY_get_bn_param(pk, name, &bn) == 1 && BN_num_bytes(bn) <= (int)sizeof(buf)) {
		n = BN_bn2bin(bn, buf);
		r = kw_b64url_encode(buf, (size_t)n, ret);
	}
	BN_free(bn);
	return r;
}

static void
usage(void)
{
	fprintf(stderr, "usage: kwhsm-bench --helper PATH --module PATH --token LABEL --pin-file PATH\n"
	    "  [--conf SOFTHSM2_CONF] [--recycle-after N (0 = never)] [--count N] [--inflight N]\n"
	    "  [--every N]\n");
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"helper", required_argument, NULL, 'H'}, {"module", required_argument, NULL, 'm'},
		{"token", required_argument, NULL, 't'}, {"pin-file", required_argument, NULL, 'p'},
		{"conf", required_argument, NULL, 'c'}, {"recycle-after", required_argument, NULL, 'r'},
		{"count", required_argument, NULL, 'n'}, {"inflight", required_argument, NULL, 'i'},
		{"every", required_argument, NULL, 'e'}, {NULL, 0, NULL, 0},
	};
	struct hsm_client_config cfg = {0};
	struct bench b = {.count = 100000, .inflight = 64, .every = 10000};
	EVP_PKEY *pk = NULL;
	char *n = NULL, *e = NULL;
	json_t *o = NULL;
	int c, r;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'H': cfg.helper_path = optarg; break;
		case 'm': cfg.module_path = optarg; break;
		case 't': cfg.token_label = optarg; break;
		case 'p': cfg.pin_file = optarg; break;
		case 'c': cfg.softhsm2_conf = optarg; break;
		case 'r':
			cfg.recycle_after = (unsigned int)strtoul(optarg, NULL, 10);
			if (cfg.recycle_after == 0)
				cfg.recycle_after = HSM_CLIENT_RECYCLE_NEVER;
			break;
		case 'n': b.count = strtoul(optarg, NULL, 10); break;
		case 'i': b.inflight = strtoul(optarg, NULL, 10); break;
		case 'e': b.every = strtoul(optarg, NULL, 10); break;
		default: usage(); return 2;
		}
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
	if ((r = hsm_client_call_sync(b.c, json_pack("{s:s,s:s,s:s,s:b}", "op", "generate", "label",
	    "bench/aes/1", "kind", "aes-256", "if_missing", 1), &o)) != 0) {
		fprintf(stderr, "generate: %s\n", kw_strerror(r));
		return 1;
	}
	json_decref(o);
	if ((pk = EVP_RSA_gen(3072)) == NULL || rsa_b64(pk, OSSL_PKEY_PARAM_RSA_N, &n) != 0 ||
	    rsa_b64(pk, OSSL_PKEY_PARAM_RSA_E, &e) != 0)
		return 1;
	b.tmpl = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "op", "release", "label", "bench/aes/1",
	    "profile", "RSA-OAEP+A256CBC-HS512", "n", n, "e", e, "kid", "bench");
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
	json_decref(b.tmpl);
	EVP_PKEY_free(pk);
	free(n);
	free(e);
	event_base_free(b.base);
	return b.failed || b.errors != 0 ? 1 : 0;
}
