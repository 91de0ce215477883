/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_snp_report: snp_report_parse on the input, then snp_verify against an
 * empty trust. Input layout: the first 1184 bytes (or fewer) are the report;
 * any bytes after them are the VCEK/VLEK DER (else the input itself is).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "snp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct snp_report rep;
	struct snp_trust *t = NULL;
	struct snp_evidence ev;
	struct snp_verify_opts o = { .at = 1795824000, .allow_debug = 1 };
	json_t *claims = NULL;
	const char *why = NULL;
	size_t rlen = size < SNP_REPORT_SIZE ? size : SNP_REPORT_SIZE;

	if (snp_report_parse(data, rlen, &rep) == 0) {
		struct snp_tcb tcb;

		snp_tcb_decode(rep.reported_tcb, SNP_PRODUCT_TURIN, &tcb);
		snp_tcb_decode(rep.current_tcb, SNP_PRODUCT_MILAN, &tcb);
	}
	if (snp_trust_new(&t) != 0)
		return 0;
	memset(&ev, 0, sizeof(ev));
	ev.report = data;
	ev.report_len = rlen;
	ev.certs[0] = size > rlen ? data + rlen : data;
	ev.cert_lens[0] = size > rlen ? size - rlen : size;
	ev.ncerts = ev.cert_lens[0] > 0 ? 1 : 0;
	if (ev.report != NULL && snp_verify(t, &ev, &o, &claims, &why) == 0)
		abort();   /* nothing can verify against an empty trust */
	json_decref(claims);
	snp_trust_free(t);
	return 0;
}
