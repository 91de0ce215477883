/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_tpm [N]: CPU time per TPM appraisal step on Google's real
 * Shielded-VM vector (gce-vtpm/nonce9009, sha256 quote) from $KW_VECTORS,
 * single thread, N rounds (default 2000). Prints numbers; not a test (times
 * depend on the machine), built and not run by the suite.
 * docs/verifier-tpm.md has the figures.
 *
 *   quote       tpm_quote_verify (tss2-mu unmarshal, RSA-2048 verify, pcrDigest, claims)
 *   eventlog    tpm_eventlog_parse + tpm_eventlog_appraise (45 records, 3 banks replayed)
 *   akcert      tpm-akcert appraisal through the seam: AK certificate chain, quote, event log
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kw_b64url.h"
#include "kw_json.h"
#include "kw_util.h"
#include "tpm_evidence.h"
#include "verifier.h"

static uint8_t *
slurp(const char *vec, const char *rel, size_t *len)
{
	char p[4096];
	uint8_t *b = NULL;

	snprintf(p, sizeof(p), "%s/tpm/gce-vtpm/%s", vec, rel);
	if (kw_file_read(p, 1024 * 1024, &b, len) != 0) {
		fprintf(stderr, "bench_tpm: cannot read %s\n", p);
		exit(2);
	}
	return b;
}

static void
put(json_t *ev, const char *k, const uint8_t *b, size_t n)
{
	char *s = NULL;

	if (kw_b64url_encode(b, n, &s) != 0 || json_object_set_new(ev, k, json_string(s)) != 0)
		exit(2);
	free(s);
}

int
main(int argc, char **argv)
{
	const char *vec = getenv("KW_VECTORS"), *why = NULL;
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 2000;
	size_t ml, sl, pl, ll, cl, tl;
	uint8_t *msg, *sig, *pub, *log, *cert, *txt, nonce[2] = {0x90, 0x09};
	struct tpm_public ak;
	struct tpm_pcrs pcrs;
	struct tpm_quote_info info;
	struct tpm_ca *ca = NULL;
	struct kw_trust trust = { .snp = NULL };
	struct kw_appraisal in;
	json_t *claims, *ev;
	char p[4096];
	double t0;

	if (vec == NULL || n <= 0) {
		fprintf(stderr, "usage: KW_VECTORS=DIR bench_tpm [N]\n");
		return 2;
	}
	kw_json_init();
	msg = slurp(vec, "nonce9009/quote_sha256.msg", &ml);
	sig = slurp(vec, "nonce9009/quote_sha256.sig", &sl);
	pub = slurp(vec, "nonce9009/ak_pub.tpmt_public", &pl);
	log = slurp(vec, "nonce9009/event_log.bin", &ll);
	cert = slurp(vec, "nonce9009/ak_cert.der", &cl);
	txt = slurp(vec, "nonce9009/pcrs_sha256.txt", &tl);
	memset(&pcrs, 0, sizeof(pcrs));
	if (tpm_public_parse(pub, pl, 0, &ak, &why) != 0 ||
	    tpm_pcrs_from_text((const char *)txt, tl, TPM_BANK_SHA256, &pcrs, &why) != 0 || tpm_ca_new(&ca) != 0)
		return 2;
	snprintf(p, sizeof(p), "%s/tpm/gce-vtpm/certs/tpm_ek_intermediate_2.crt", vec);
	if (tpm_ca_add_file(ca, p, NULL) != 0)
		return 2;

	t0 = (kw_cpu_ms() / 1e3);
	for (long i = 0; i < n; i++) {
		if (tpm_quote_verify(msg, ml, sig, sl, ak.pkey, &pcrs, nonce, 2, &claims, &info, &why) != 0)
			return 1;
		json_decref(claims);
	}
	printf("quote     %8.1f us\n", ((kw_cpu_ms() / 1e3) - t0) / (double)n * 1e6);

	t0 = (kw_cpu_ms() / 1e3);
	for (long i = 0; i < n; i++) {
		struct tpm_eventlog *el = NULL;

		if (tpm_eventlog_parse(log, ll, &el, &why) != 0 ||
		    tpm_eventlog_appraise(el, &pcrs, info.selected, &claims, &why) != 0)
			return 1;
		json_decref(claims);
		tpm_eventlog_free(el);
	}
	printf("eventlog  %8.1f us  (%zu bytes)\n", ((kw_cpu_ms() / 1e3) - t0) / (double)n * 1e6, ll);

	ev = json_object();
	put(ev, "quote", msg, ml);
	put(ev, "signature", sig, sl);
	put(ev, "ak_cert", cert, cl);
	put(ev, "event_log", log, ll);
	json_object_set_new(ev, "pcrs", tpm_pcrs_claims(&pcrs, pcrs.present));
	trust.tpm_akcert = ca;
	memset(&in, 0, sizeof(in));
	in.evidence = ev;
	in.at = 1767225600;
	in.trust = &trust;
	in.nonce = nonce;
	in.nonce_len = 2;
	in.nonce_set = 1;
	t0 = (kw_cpu_ms() / 1e3);
	for (long i = 0; i < n; i++) {
		if (kw_verifier_tpm_akcert.appraise(&in, &claims, &why) != 0) {
			fprintf(stderr, "bench_tpm: %s\n", why);
			return 1;
		}
		json_decref(claims);
	}
	printf("akcert    %8.1f us  (chain + quote + event log + base64url)\n", ((kw_cpu_ms() / 1e3) - t0) / (double)n * 1e6);
	json_decref(ev);
	tpm_ca_free(ca);
	tpm_public_clear(&ak);
	free(msg);
	free(sig);
	free(pub);
	free(log);
	free(cert);
	free(txt);
	return 0;
}
