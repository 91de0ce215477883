/* SPDX-License-Identifier: Apache-2.0 */
/*
 * attester/att_azure: the IMDS requests and answers (THIM VCEK chain, TD
 * quote request and answer), the HCL report's kind and TDREPORT, the
 * tee-evidence, and the IMDS client against a loopback HTTP stub that
 * checks method, path, headers and body. The vTPM half runs against swtpm
 * in tests/integration/test_azure_vtpm.py.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "att_azure.h"
#include "kw_b64url.h"
#include "kw_json.h"
#include "kw_util.h"
#include "test_helper.h"

static const char thim[] = "{\"vcekCert\":\"-----BEGIN CERTIFICATE-----\\nVCEK\\n-----END CERTIFICATE-----\","
	"\"certificateChain\":\"-----BEGIN CERTIFICATE-----\\nASK\\n-----END CERTIFICATE-----\\n\","
	"\"tcbm\":\"DB18000000000004\",\"cacheControl\":\"86400\"}";

static void
test_thim_parse(void)
{
	static const char *const bad[] = {
		"{\"vcekCert\":\"-----BEGIN CERTIFICATE-----\\n\"}",
		"{\"certificateChain\":\"x\"}",
		"{\"vcekCert\":\"no pem\",\"certificateChain\":\"x\"}",
		"{\"vcekCert\":1,\"certificateChain\":\"x\"}",
		"[]",
		"not json",
	};
	char *pem = NULL, sentinel[1];

	CU_ASSERT_FATAL(att_az_thim_parse(thim, strlen(thim), &pem) == 0);
	CU_ASSERT_STRING_EQUAL(pem, "-----BEGIN CERTIFICATE-----\nVCEK\n-----END CERTIFICATE-----\n"
	    "-----BEGIN CERTIFICATE-----\nASK\n-----END CERTIFICATE-----\n");
	free(pem);
	for (size_t i = 0; i < KW_ARRAY_SIZE(bad); i++) {
		pem = sentinel;   /* untouched on failure */
		int r = att_az_thim_parse(bad[i], strlen(bad[i]), &pem);

		CHECKF(r == KW_ERR_INVALID_FORMAT, "case %zu", i);
		CU_ASSERT_PTR_EQUAL(pem, sentinel);
	}
}

static int
tdq_parse(const char *body, uint8_t **ret, size_t *ret_len)
{
	return att_az_tdquote_parse(body, strlen(body), ret, ret_len);
}

static void
test_tdquote_messages(void)
{
	uint8_t rep[ATT_AZ_TDREPORT_LEN], *q = NULL;
	size_t qlen = 0;
	char *req = NULL;
	json_t *j = NULL;
	uint8_t back[ATT_AZ_TDREPORT_LEN];
	size_t blen = 0;

	for (size_t i = 0; i < sizeof(rep); i++)
		rep[i] = (uint8_t)(i * 7);
	CU_ASSERT_FATAL(att_az_tdquote_request(rep, sizeof(rep), &req) == 0);
	CU_ASSERT_FATAL(kw_json_parse(req, strlen(req), 8192, &j) == 0);
	CU_ASSERT_EQUAL(json_object_size(j), 1);
	CU_ASSERT_FATAL(json_is_string(json_object_get(j, "report")));
	CU_ASSERT(kw_b64url_decode(json_string_value(json_object_get(j, "report")),
	    json_string_length(json_object_get(j, "report")), back, sizeof(back), &blen) == 0);
	CU_ASSERT(blen == sizeof(rep) && memcmp(back, rep, sizeof(rep)) == 0);
	json_decref(j);
	free(req);
	/* answers: padded and unpadded base64url */
	CU_ASSERT(tdq_parse("{\"quote\":\"BAACAA==\"}", &q, &qlen) == 0);
	CU_ASSERT(qlen == 4 && q[0] == 4 && q[2] == 2);
	free(q);
	CU_ASSERT(tdq_parse("{\"quote\":\"BAACAA\"}", &q, &qlen) == 0 && qlen == 4);
	free(q);
	q = NULL;
	CU_ASSERT(tdq_parse("{\"quote\":\"BA+CAA\"}", &q, &qlen) == KW_ERR_INVALID_FORMAT);
	CU_ASSERT(tdq_parse("{\"quote\":\"\"}", &q, &qlen) == KW_ERR_INVALID_FORMAT);
	CU_ASSERT(tdq_parse("{\"report\":\"BAACAA\"}", &q, &qlen) == KW_ERR_INVALID_FORMAT);
	CU_ASSERT(tdq_parse("{}", &q, &qlen) == KW_ERR_INVALID_FORMAT);
	CU_ASSERT_PTR_NULL(q);
}

static uint8_t *
hcl(int type, size_t *len)
{
	uint8_t *b = calloc(1, 0x4D4 + 2);

	CU_ASSERT_FATAL(b != NULL);
	memcpy(b, "HCLA", 4);
	b[0x20] = 0x81;
	b[0x20 + 128] = 0x5a;
	b[0x4C8] = (uint8_t)type;
	memcpy(b + 0x4D4, "{}", 2);
	*len = 0x4D4 + 2;
	return b;
}

static void
test_hcl_kind_and_evidence(void)
{
	size_t len = 0;
	uint8_t *b = hcl(4, &len);
	const uint8_t *tdr = NULL;
	struct att_az_tpm t;
	json_t *ev = NULL;
	int tdx = -1;
	uint8_t attest[4] = {0xff, 'T', 'C', 'G'}, sig[2] = {0x00, 0x14}, tdq[2] = {0x04, 0x00};

	CU_ASSERT(att_az_hcl_kind(b, len, &tdx, &tdr) == 0 && tdx == 1);
	CU_ASSERT(tdr == b + 0x20 && tdr[128] == 0x5a);
	b[0x4C8] = 2;
	CU_ASSERT(att_az_hcl_kind(b, len, &tdx, NULL) == 0 && tdx == 0);
	b[0x4C8] = 3;
	CU_ASSERT(att_az_hcl_kind(b, len, &tdx, NULL) == KW_ERR_INVALID_FORMAT);
	b[0x4C8] = 2;
	CU_ASSERT(att_az_hcl_kind(b, 0x4C8, &tdx, NULL) == KW_ERR_INVALID_FORMAT);
	b[0] = 'X';
	CU_ASSERT(att_az_hcl_kind(b, len, &tdx, NULL) == KW_ERR_INVALID_FORMAT);
	b[0] = 'H';

	memset(&t, 0, sizeof(t));
	t.hcl = b;
	t.hcl_len = len;
	t.attest = attest;
	t.attest_len = sizeof(attest);
	t.sig = sig;
	t.sig_len = sizeof(sig);
	memset(t.pcrs[23], 0xee, 32);
	CU_ASSERT(att_az_evidence_to_json(&t, NULL, NULL, 0, &ev) == KW_ERR_INVALID_ARG);   /* SNP needs the VCEK */
	CU_ASSERT_FATAL(att_az_evidence_to_json(&t, "-----BEGIN CERTIFICATE-----\n", NULL, 0, &ev) == 0);
	CU_ASSERT(json_is_string(json_object_get(ev, "snp_hcl_report")));
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(ev, "vtpm_quote")), "_1RDRw");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(ev, "vtpm_signature")), "ABQ");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_object_get(json_object_get(ev, "pcrs"),
	    "sha256"), "23")), "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee");
	CU_ASSERT_EQUAL(json_object_size(json_object_get(json_object_get(ev, "pcrs"), "sha256")), 24);
	CU_ASSERT_EQUAL(json_object_size(ev), 5);
	json_decref(ev);
	t.tdx = 1;
	CU_ASSERT(att_az_evidence_to_json(&t, "pem", NULL, 0, &ev) == KW_ERR_INVALID_ARG);   /* TDX needs the TD quote */
	CU_ASSERT_FATAL(att_az_evidence_to_json(&t, NULL, tdq, sizeof(tdq), &ev) == 0);
	CU_ASSERT(json_is_string(json_object_get(ev, "tdx_hcl_report")) && json_object_get(ev, "vcek") == NULL);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(ev, "td_quote")), "BAA");
	json_decref(ev);
	free(b);
}

/* ---- a loopback IMDS: one request per connection, checked, answered ---- */

struct stub {
	int fd;
	int port;
	int status;
	const char *answer;
	char request[8192];
	size_t request_len;
};

static void *
stub_main(void *arg)
{
	struct stub *s = arg;
	char hdr[256];
	int c = accept(s->fd, NULL, NULL);
	ssize_t n;

	if (c < 0)
		return NULL;
	/* read until the headers end and the body (Content-Length) is in */
	for (;;) {
		char *end, *cl;
		size_t want;

		n = read(c, s->request + s->request_len, sizeof(s->request) - 1 - s->request_len);
		if (n <= 0)
			break;
		s->request_len += (size_t)n;
		s->request[s->request_len] = '\0';
		if ((end = strstr(s->request, "\r\n\r\n")) == NULL)
			continue;
		cl = strcasestr(s->request, "Content-Length: ");
		want = (size_t)(end + 4 - s->request) + (cl != NULL && cl < end ? strtoul(cl + 16, NULL, 10) : 0);
		if (s->request_len >= want)
			break;
	}
	snprintf(hdr, sizeof(hdr), "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
	    "Connection: close\r\n\r\n", s->status, strlen(s->answer));
	if (write(c, hdr, strlen(hdr)) < 0 || write(c, s->answer, strlen(s->answer)) < 0)
		fprintf(stderr, "stub: write failed\n");
	close(c);
	return NULL;
}

static void
stub_start(struct stub *s, pthread_t *th, int status, const char *answer)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);

	memset(s, 0, sizeof(*s));
	s->status = status;
	s->answer = answer;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CU_ASSERT_FATAL((s->fd = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	CU_ASSERT_FATAL(bind(s->fd, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(s->fd, 1) == 0);
	CU_ASSERT_FATAL(getsockname(s->fd, (struct sockaddr *)&a, &al) == 0);
	s->port = ntohs(a.sin_port);
	CU_ASSERT_FATAL(pthread_create(th, NULL, stub_main, s) == 0);
}

static void
test_imds_stub(void)
{
	struct stub s;
	pthread_t th;
	char base[64], *pem = NULL, *p;
	uint8_t rep[ATT_AZ_TDREPORT_LEN], *q = NULL;
	size_t qlen = 0;

	/* THIM: GET, the path, Metadata: true */
	stub_start(&s, &th, 200, thim);
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", s.port);
	CU_ASSERT(att_az_imds_vcek(base, &pem) == 0);
	pthread_join(th, NULL);
	close(s.fd);
	CU_ASSERT(strncmp(s.request, "GET /metadata/THIM/amd/certification HTTP/1.1\r\n", 47) == 0);
	CU_ASSERT(strstr(s.request, "\r\nMetadata: true\r\n") != NULL);
	CU_ASSERT(pem != NULL && strstr(pem, "ASK") != NULL);
	free(pem);
	pem = NULL;

	/* the TD quote: POST JSON {"report": b64url(TDREPORT)} */
	for (size_t i = 0; i < sizeof(rep); i++)
		rep[i] = (uint8_t)i;
	stub_start(&s, &th, 200, "{\"quote\":\"BAACAIEAAAA=\"}");
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", s.port);
	CU_ASSERT(att_az_imds_td_quote(base, rep, sizeof(rep), &q, &qlen) == 0);
	pthread_join(th, NULL);
	close(s.fd);
	CU_ASSERT(strncmp(s.request, "POST /acc/tdquote HTTP/1.1\r\n", 28) == 0);
	CU_ASSERT(strstr(s.request, "\r\nMetadata: true\r\n") != NULL);
	CU_ASSERT(strstr(s.request, "\r\nContent-Type: application/json\r\n") != NULL);
	p = strstr(s.request, "\r\n\r\n");
	CU_ASSERT_FATAL(p != NULL);
	{
		char *want = NULL;

		CU_ASSERT_FATAL(att_az_tdquote_request(rep, sizeof(rep), &want) == 0);
		CU_ASSERT_STRING_EQUAL(p + 4, want);
		free(want);
	}
	CU_ASSERT(qlen == 8 && q != NULL && q[4] == 0x81);
	free(q);
	q = NULL;

	/* an HTTP error, an answer that is not JSON, no listener */
	stub_start(&s, &th, 500, "{}");
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", s.port);
	CU_ASSERT(att_az_imds_vcek(base, &pem) == KW_ERR_UNAVAILABLE);
	pthread_join(th, NULL);
	close(s.fd);
	stub_start(&s, &th, 200, "<html>");
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", s.port);
	CU_ASSERT(att_az_imds_td_quote(base, rep, sizeof(rep), &q, &qlen) == KW_ERR_INVALID_FORMAT);
	pthread_join(th, NULL);
	close(s.fd);
	CU_ASSERT(att_az_imds_vcek(base, &pem) == KW_ERR_UNAVAILABLE);
	CU_ASSERT_PTR_NULL(pem);
	CU_ASSERT_PTR_NULL(q);
}

static void
test_imds_base(void)
{
	CU_ASSERT(unsetenv("KWGET_IMDS_URL") == 0);
	CU_ASSERT_STRING_EQUAL(att_az_imds_base(), "http://169.254.169.254");
	CU_ASSERT(setenv("KWGET_IMDS_URL", "https://example.org", 1) == 0);   /* not http: ignored */
	CU_ASSERT_STRING_EQUAL(att_az_imds_base(), "http://169.254.169.254");
	CU_ASSERT(setenv("KWGET_IMDS_URL", "http://127.0.0.1:1", 1) == 0);
	CU_ASSERT_STRING_EQUAL(att_az_imds_base(), "http://127.0.0.1:1");
	CU_ASSERT(unsetenv("KWGET_IMDS_URL") == 0);
}

static void
test_no_tpm(void)
{
	struct att_az_tpm t;
	const char *why = NULL;
	uint8_t q[48] = {1};

	memset(&t, 0x5a, sizeof(t));
	/* a TCTI that cannot connect: unavailable, nothing written */
	CU_ASSERT(att_az_tpm_collect("swtpm:host=127.0.0.1,port=1", q, sizeof(q), &t, &why) == KW_ERR_UNAVAILABLE);
	CU_ASSERT(why != NULL && t.tdx == 0x5a5a5a5a);
	CU_ASSERT(att_az_tpm_collect(NULL, q, 0, &t, &why) == KW_ERR_INVALID_ARG);
	CU_ASSERT(att_az_tpm_collect(NULL, q, 65, &t, &why) == KW_ERR_INVALID_ARG);
}

int
main(void)
{
	CU_TestInfo tests[] = {
		{"thim_parse", test_thim_parse},
		{"tdquote_messages", test_tdquote_messages},
		{"hcl_kind_and_evidence", test_hcl_kind_and_evidence},
		{"imds_stub", test_imds_stub},
		{"imds_base", test_imds_base},
		{"no_tpm", test_no_tpm},
		CU_TEST_INFO_NULL,
	};
	CU_SuiteInfo suites[] = {
		{"att_azure", NULL, NULL, NULL, NULL, tests},
		CU_SUITE_INFO_NULL,
	};

	return test_run_suites(suites);
}
