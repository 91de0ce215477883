/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_tdx [N]: CPU time per TDX appraisal (verifier-client/tdx) on the
 * real dcap-qvl b0c06f vector from $KW_VECTORS, single thread, N rounds
 * (default 2000). Prints numbers; not a test (times depend on the machine),
 * built and not run by the suite. docs/verifier-tdx.md has the figures next
 * to `openssl speed ecdsap256`.
 *
 *   ecdsa       one ECDSA-P256 verification (the QE report signature) alone
 *   hot         tdx_verify_quote with loaded collateral and a warm chain cache
 *               (what a broker with cached collateral pays per quote)
 *   json        tdx_verify with the collateral JSON each time, warm chain cache
 *   cold        tdx_verify with a new trust each time: no cache at all
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kw_json.h"
#include "kw_util.h"
#include "tdx_int.h"

int
main(int argc, char **argv)
{
	const char *vec = getenv("KW_VECTORS");
	const char *dir = "tdx/dcapqvl-b0c06f-v4-uptodate";
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 2000;
	char p[4096];
	uint8_t *q = NULL, *cbuf = NULL;
	size_t qlen = 0, clen = 0;
	json_t *cj = NULL;
	struct tdx_trust *t = NULL;
	struct tdx_collateral *c = NULL;
	struct tdx_quote pq;
	X509 *certs[3] = { NULL, NULL, NULL };
	struct tdx_verify_opts o = { .at = 1751328000 };   /* 2025-07-01, inside the collateral window */
	const char *why = NULL;
	double t0;
	int bad = 0;

	kw_json_init();
	if (vec == NULL || n <= 0) {
		fprintf(stderr, "usage: KW_VECTORS=DIR bench_tdx [N]\n");
		return 2;
	}
	snprintf(p, sizeof(p), "%s/%s/quote.bin", vec, dir);
	if (kw_file_read(p, 1 << 20, &q, &qlen) != 0)
		return 2;
	snprintf(p, sizeof(p), "%s/%s/collateral.json", vec, dir);
	if (kw_file_read(p, 1 << 20, &cbuf, &clen) != 0 || kw_json_parse(cbuf, clen, 1 << 20, &cj) != 0)
		return 2;
	if (tdx_trust_new(&t) != 0 || tdx_collateral_new(t, cj, &c, &why) != 0 ||
	    tdx_quote_parse(q, qlen, &pq, &why) != 0 || tdx_pem_certs(pq.pck_chain, pq.pck_chain_len, certs, 3) != 0)
		return 1;

	t0 = (kw_cpu_ms() / 1e3);
	for (long i = 0; i < n; i++)
		bad |= tdx_ecdsa_verify(X509_get0_pubkey(certs[0]), pq.qe_report_sig, pq.qe_report_raw,
		    TDX_QE_REPORT_SIZE);
	printf("ecdsa  %8.1f us per ECDSA-P256 verification\n", ((kw_cpu_ms() / 1e3) - t0) / (double)n * 1e6);

	t0 = (kw_cpu_ms() / 1e3);
	for (long i = 0; i < n; i++) {
		json_t *claims = NULL;

		bad |= tdx_verify_quote(t, q, qlen, c, &o, &claims, &why);
		json_decref(claims);
	}
	printf("hot    %8.1f us per appraisal (loaded collateral, warm chain cache)\n",
	    ((kw_cpu_ms() / 1e3) - t0) / (double)n * 1e6);

	t0 = (kw_cpu_ms() / 1e3);
	for (long i = 0; i < n; i++) {
		json_t *claims = NULL;

		bad |= tdx_verify(t, q, qlen, cj, &o, &claims, &why);
		json_decref(claims);
	}
	printf("json   %8.1f us per appraisal (collateral JSON each time, warm chain cache)\n",
	    ((kw_cpu_ms() / 1e3) - t0) / (double)n * 1e6);

	t0 = (kw_cpu_ms() / 1e3);
	for (long i = 0; i < n / 4; i++) {
		struct tdx_trust *fresh = NULL;
		json_t *claims = NULL;

		bad |= tdx_trust_new(&fresh);
		bad |= tdx_verify(fresh, q, qlen, cj, &o, &claims, &why);
		json_decref(claims);
		tdx_trust_free(fresh);
	}
	printf("cold   %8.1f us per appraisal (no cache: every chain verified)\n",
	    ((kw_cpu_ms() / 1e3) - t0) / (double)(n / 4) * 1e6);

	for (size_t i = 0; i < 3; i++)
		X509_free(certs[i]);
	tdx_collateral_free(c);
	tdx_trust_free(t);
	json_decref(cj);
	free(cbuf);
	free(q);
	if (bad) {
		fprintf(stderr, "bench_tdx: a verification failed (%s)\n", why ? why : "-");
		return 1;
	}
	return 0;
}
