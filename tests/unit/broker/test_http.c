/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_http: the problem table (broker/problem.c), the kw_err mapping and
 * http.c's senders, answered by a real evhttp on loopback and read by
 * libevent's HTTP client.
 *
 * "test_http --print-problems" prints the table as tab-separated rows
 * (status, slug, title, Retry-After, planes) for
 * tests/unit/docs/check_problems.py.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <CUnit/Basic.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "broker.h"
#include "test_helper.h"
#include "kw_json.h"

/* ---- the table ---- */

/*
 * What clients have seen since before the table existed (the integration
 * tests match these): the table may grow, these rows may not change.
 */
static const struct {
	enum kw_problem p;
	int status;
	const char *slug, *title;
	const char *retry;      /* Retry-After, NULL: none */
} pinned[] = {
	{KW_PROBLEM_MALFORMED, 400, "malformed", "Bad Request", NULL},
	{KW_PROBLEM_UNSUPPORTED, 400, "unsupported", "Bad Request", NULL},
	{KW_PROBLEM_UNAUTHENTICATED, 401, "unauthenticated", "Unauthorized", NULL},
	{KW_PROBLEM_ATTESTATION_FAILED, 401, "attestation-failed", "Unauthorized", NULL},
	{KW_PROBLEM_DENIED, 403, "denied", "Forbidden", NULL},
	{KW_PROBLEM_FORBIDDEN, 403, "forbidden", "Forbidden", NULL},
	{KW_PROBLEM_NOT_FOUND, 404, "not-found", "Not Found", NULL},
	{KW_PROBLEM_METHOD_NOT_ALLOWED, 405, "method-not-allowed", "Method Not Allowed", NULL},
	{KW_PROBLEM_CONFLICT, 409, "conflict", "Conflict", NULL},
	{KW_PROBLEM_TOO_LARGE, 413, "too-large", "Payload Too Large", NULL},
	{KW_PROBLEM_SHED, 429, "shed", "Too Many Requests", "1"},
	{KW_PROBLEM_INTERNAL, 500, "internal", "Internal Server Error", NULL},
	{KW_PROBLEM_UNAVAILABLE, 503, "unavailable", "Service Unavailable", "1"},
	{KW_PROBLEM_HSM_UNAVAILABLE, 503, "hsm_unavailable", "Service Unavailable", "1"},
	{KW_PROBLEM_COLLATERAL_UNAVAILABLE, 503, "collateral_unavailable", "Service Unavailable", "60"},
};

static void
test_table(void)
{
	int seen[KW_PROBLEM__COUNT] = {0};

	CU_ASSERT_EQUAL(KW_ARRAY_SIZE(pinned), KW_PROBLEM__COUNT);
	for (size_t i = 0; i < KW_ARRAY_SIZE(pinned); i++) {
		const struct kw_problem_info *pi = kw_problem_info(pinned[i].p);

		CU_ASSERT_FATAL(pi != NULL);
		seen[pinned[i].p]++;
		CU_ASSERT_EQUAL(pi->status, pinned[i].status);
		CU_ASSERT_STRING_EQUAL(pi->slug, pinned[i].slug);
		CU_ASSERT_STRING_EQUAL(pi->title, pinned[i].title);
		CU_ASSERT_EQUAL(pi->retry_after != NULL, pinned[i].retry != NULL);
		if (pi->retry_after != NULL && pinned[i].retry != NULL)
			CU_ASSERT_STRING_EQUAL(pi->retry_after, pinned[i].retry);
		CU_ASSERT(pi->planes != 0 && (pi->planes & ~(KW_PLANE_WORKLOAD | KW_PLANE_ADMIN)) == 0);
		/* every 5xx has a generic detail of its own: kw_problem_err_detail hides the context */
		if (pi->status >= 500)
			CU_ASSERT_PTR_NOT_NULL(pi->detail);
	}
	for (int p = 0; p < KW_PROBLEM__COUNT; p++) {
		CU_ASSERT_EQUAL(seen[p], 1);
		for (int q = 0; q < p; q++)    /* slugs are unique */
			CU_ASSERT(strcmp(kw_problem_info((enum kw_problem)p)->slug,
			    kw_problem_info((enum kw_problem)q)->slug) != 0);
	}
	CU_ASSERT_PTR_NULL(kw_problem_info(KW_PROBLEM__COUNT));
	CU_ASSERT_PTR_NULL(kw_problem_info((enum kw_problem)-1));
	CU_ASSERT_PTR_NULL(kw_problem_json(KW_PROBLEM__COUNT, "x"));
}

/* The mapping of every kw_err code; a code added to kw_err.h must be added here. */
static void
test_of_err(void)
{
	static const struct { int r; enum kw_problem p; } want[] = {
		{KW_OK, KW_PROBLEM_INTERNAL},    /* not an error: nothing to answer but 500 */
		{KW_ERR_INTERNAL, KW_PROBLEM_INTERNAL},
		{KW_ERR_NOMEM, KW_PROBLEM_INTERNAL},
		{KW_ERR_INVALID_ARG, KW_PROBLEM_MALFORMED},
		{KW_ERR_INVALID_FORMAT, KW_PROBLEM_MALFORMED},
		{KW_ERR_TOO_LARGE, KW_PROBLEM_TOO_LARGE},
		{KW_ERR_TRUNCATED, KW_PROBLEM_MALFORMED},
		{KW_ERR_TRAILING, KW_PROBLEM_MALFORMED},
		{KW_ERR_UNSUPPORTED, KW_PROBLEM_UNSUPPORTED},
		{KW_ERR_SIG_INVALID, KW_PROBLEM_ATTESTATION_FAILED},
		{KW_ERR_CERT_INVALID, KW_PROBLEM_ATTESTATION_FAILED},
		{KW_ERR_CERT_EXPIRED, KW_PROBLEM_ATTESTATION_FAILED},
		{KW_ERR_UNTRUSTED_ROOT, KW_PROBLEM_ATTESTATION_FAILED},
		{KW_ERR_MISMATCH, KW_PROBLEM_ATTESTATION_FAILED},
		{KW_ERR_NOT_FOUND, KW_PROBLEM_NOT_FOUND},
		{KW_ERR_EXISTS, KW_PROBLEM_CONFLICT},
		{KW_ERR_DENIED, KW_PROBLEM_DENIED},
		{KW_ERR_EXPIRED, KW_PROBLEM_ATTESTATION_FAILED},
		{KW_ERR_REPLAY, KW_PROBLEM_ATTESTATION_FAILED},
		{KW_ERR_HSM, KW_PROBLEM_HSM_UNAVAILABLE},
		{KW_ERR_IO, KW_PROBLEM_INTERNAL},
		{KW_ERR_CONFIG, KW_PROBLEM_INTERNAL},
		{KW_ERR_CRYPTO, KW_PROBLEM_INTERNAL},
		{KW_ERR_UNAVAILABLE, KW_PROBLEM_UNAVAILABLE},
		{KW_ERR_DEBUG_GUEST, KW_PROBLEM_DENIED},
		{KW_ERR_BUSY, KW_PROBLEM_SHED},
		{KW_ERR_TIMEOUT, KW_PROBLEM_UNAVAILABLE},
		{KW_ERR__LAST, KW_PROBLEM_INTERNAL},
		{-1000, KW_PROBLEM_INTERNAL},
		{7, KW_PROBLEM_INTERNAL},
	};

	for (int r = KW_OK; r >= KW_ERR__LAST; r--) {
		size_t i;
		for (i = 0; i < KW_ARRAY_SIZE(want); i++)
			if (want[i].r == r)
				break;
		if (i == KW_ARRAY_SIZE(want))
			fprintf(stderr, "kw_err %d (%s) has no expected problem here\n", r, kw_strerror(r));
		CU_ASSERT_FATAL(i < KW_ARRAY_SIZE(want));
	}
	for (size_t i = 0; i < KW_ARRAY_SIZE(want); i++) {
		enum kw_problem p = kw_problem_of_err(want[i].r);
		if (p != want[i].p)
			fprintf(stderr, "kw_err %d: problem %s, want %s\n", want[i].r,
			    kw_problem_info(p)->slug, kw_problem_info(want[i].p)->slug);
		CU_ASSERT_EQUAL(p, want[i].p);
	}
	/* the context is shown for a 4xx, never for a 5xx */
	CU_ASSERT_STRING_EQUAL(kw_problem_err_detail(KW_PROBLEM_NOT_FOUND, "no such key"),
	    "no such key");
	CU_ASSERT_PTR_NULL(kw_problem_err_detail(KW_PROBLEM_NOT_FOUND, NULL));
	CU_ASSERT_PTR_NULL(kw_problem_err_detail(KW_PROBLEM_UNAVAILABLE, "sqlite: disk I/O"));
	CU_ASSERT_PTR_NULL(kw_problem_err_detail(KW_PROBLEM_INTERNAL, "x"));
	CU_ASSERT_PTR_NULL(kw_problem_err_detail(KW_PROBLEM_HSM_UNAVAILABLE, "x"));
}

static void
test_json(void)
{
	for (int p = 0; p < KW_PROBLEM__COUNT; p++) {
		const struct kw_problem_info *pi = kw_problem_info((enum kw_problem)p);
		json_t *j = kw_problem_json((enum kw_problem)p, NULL), *k;
		char type[96];

		CU_ASSERT_FATAL(j != NULL);
		snprintf(type, sizeof(type), "urn:keywarden:problem:%s", pi->slug);
		CU_ASSERT_EQUAL(json_object_size(j), 4);
		CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "type")), type);
		CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "title")), pi->title);
		CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "status")), pi->status);
		CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "detail")),
		    pi->detail != NULL ? pi->detail : pi->title);
		k = kw_problem_json((enum kw_problem)p, "a detail");
		CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(k, "detail")), "a detail");
		json_decref(j);
		json_decref(k);
	}
}

/* ---- http.c's senders on a real loopback listener ---- */

static struct event_base *base;
static struct evhttp *srv;
static ev_uint16_t port;

/* /p/N: problem N with detail "d" unless N is followed by "x"; /e/R:
 * kw_http_problem_from_err(-R, "ctx"); /json, /created, /nocontent, /jose,
 * /hsm, /attest/R: kw_http_attestation_failed(-R). */
static void
serve(struct evhttp_request *req, void *arg)
{
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	char *end;
	long n;

	(void)arg;
	if (strncmp(path, "/p/", 3) == 0) {
		n = strtol(path + 3, &end, 10);
		kw_http_problem(req, (enum kw_problem)n, *end == 'x' ? NULL : "d");
	} else if (strncmp(path, "/e/", 3) == 0) {
		kw_http_problem_from_err(req, -(int)strtol(path + 3, NULL, 10), "ctx");
	} else if (strncmp(path, "/attest/", 8) == 0) {
		kw_http_attestation_failed(req, -(int)strtol(path + 8, NULL, 10));
	} else if (strcmp(path, "/json") == 0) {
		kw_http_json(req, json_pack("{s:i}", "a", 1));
	} else if (strcmp(path, "/created") == 0) {
		kw_http_json_status(req, 201, json_pack("{s:i}", "b", 2));
	} else if (strcmp(path, "/nocontent") == 0) {
		kw_http_no_content(req);
	} else if (strcmp(path, "/jose") == 0) {
		kw_http_jose(req, "h.k.i.c.t");
	} else if (strcmp(path, "/hsm") == 0) {
		kw_http_hsm_unavailable(req);
	} else {
		kw_http_problem(req, KW_PROBLEM_NOT_FOUND, "no such endpoint");
	}
}

struct resp {
	int done, status;
	char reason[64];
	char ctype[64], cache[32], nosniff[32], retry[16];
	char body[1024];
};

static void
copy_header(struct evkeyvalq *h, const char *name, char *out, size_t outlen)
{
	const char *v = evhttp_find_header(h, name);

	snprintf(out, outlen, "%s", v != NULL ? v : "");
}

static void
got_response(struct evhttp_request *req, void *arg)
{
	struct resp *r = arg;
	struct evkeyvalq *h;
	struct evbuffer *in;
	size_t len;

	r->done = 1;
	event_base_loopbreak(base);
	if (req == NULL)
		return;
	h = evhttp_request_get_input_headers(req);
	in = evhttp_request_get_input_buffer(req);
	r->status = evhttp_request_get_response_code(req);
	snprintf(r->reason, sizeof(r->reason), "%s", evhttp_request_get_response_code_line(req));
	copy_header(h, "Content-Type", r->ctype, sizeof(r->ctype));
	copy_header(h, "Cache-Control", r->cache, sizeof(r->cache));
	copy_header(h, "X-Content-Type-Options", r->nosniff, sizeof(r->nosniff));
	copy_header(h, "Retry-After", r->retry, sizeof(r->retry));
	len = evbuffer_get_length(in);
	if (len >= sizeof(r->body))
		len = sizeof(r->body) - 1;
	evbuffer_remove(in, r->body, len);
	r->body[len] = '\0';
}

static void
fetch(const char *path, struct resp *r)
{
	struct evhttp_connection *con = evhttp_connection_base_new(base, NULL, "127.0.0.1", port);
	struct evhttp_request *req;

	memset(r, 0, sizeof(*r));
	CU_ASSERT_FATAL(con != NULL);
	evhttp_connection_set_timeout(con, 5);
	req = evhttp_request_new(got_response, r);
	CU_ASSERT_FATAL(req != NULL);
	CU_ASSERT_FATAL(evhttp_make_request(con, req, EVHTTP_REQ_GET, path) == 0);
	while (!r->done)
		CU_ASSERT_FATAL(event_base_dispatch(base) >= 0);
	evhttp_connection_free(con);
}

/* fetch(prefix + the code of error r) */
static void
fetch_err(const char *prefix, int r, struct resp *out)
{
	char path[32];

	snprintf(path, sizeof(path), "%s%d", prefix, -r);
	fetch(path, out);
}

static json_t *
problem_of(const struct resp *r, int status, const char *slug)
{
	json_t *j = NULL;
	char type[96];

	CU_ASSERT_EQUAL(r->status, status);
	CU_ASSERT_STRING_EQUAL(r->ctype, "application/problem+json");
	CU_ASSERT_STRING_EQUAL(r->cache, "no-store");
	CU_ASSERT_STRING_EQUAL(r->nosniff, "nosniff");
	CU_ASSERT_FATAL(kw_json_parse((const uint8_t *)r->body, strlen(r->body), 4096, &j) == 0);
	snprintf(type, sizeof(type), "urn:keywarden:problem:%s", slug);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "type")), type);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "status")), status);
	return j;
}

/* Answers of kw_http_problem_from_err ("/e/") and kw_http_attestation_failed ("/attest/"). */
static const struct {
	const char *prefix;
	int r, status;
	const char *slug, *detail, *retry;
} via_err[] = {
	{"/e/", KW_ERR_NOT_FOUND, 404, "not-found", "ctx", ""},
	{"/e/", KW_ERR_BUSY, 429, "shed", "ctx", "1"},
	{"/e/", KW_ERR_TIMEOUT, 503, "unavailable", "the service is temporarily unavailable; retry later",
		"1"},
	{"/e/", KW_ERR_HSM, 503, "hsm_unavailable",
		"the key store is temporarily unavailable; retry later", "1"},
	{"/e/", KW_ERR_IO, 500, "internal", "internal error", ""},
	{"/attest/", KW_ERR_SIG_INVALID, 401, "attestation-failed", "attestation failed", ""},
	{"/attest/", KW_ERR_INVALID_FORMAT, 401, "attestation-failed", "attestation failed", ""},
	{"/attest/", KW_ERR_NOMEM, 503, "unavailable",
		"the service is temporarily unavailable; retry later", "1"},
	{"/attest/", KW_ERR_INTERNAL, 500, "internal", "internal error", ""},
};

static const struct {
	const char *path;
	int status;
	const char *reason, *ctype;
	int nosniff;
	const char *body;
} successes[] = {
	{"/json", 200, "OK", "application/json", 1, "{\"a\":1}"},
	{"/created", 201, "Created", "application/json", 1, "{\"b\":2}"},
	{"/nocontent", 204, "No Content", "", 0, ""},
	{"/jose", 200, "OK", "application/jose", 0, "h.k.i.c.t"},
};

static void
test_senders(void)
{
	struct resp r;
	char path[32];
	json_t *j;

	/* every row as it leaves the listener: status line, headers, document */
	for (int p = 0; p < KW_PROBLEM__COUNT; p++) {
		const struct kw_problem_info *pi = kw_problem_info((enum kw_problem)p);

		snprintf(path, sizeof(path), "/p/%d", p);
		fetch(path, &r);
		j = problem_of(&r, pi->status, pi->slug);
		CU_ASSERT_STRING_EQUAL(r.reason, pi->title);
		CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "title")), pi->title);
		CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "detail")), "d");
		CU_ASSERT_STRING_EQUAL(r.retry, pi->retry_after != NULL ? pi->retry_after : "");
		json_decref(j);
		snprintf(path, sizeof(path), "/p/%dx", p);
		fetch(path, &r);
		j = problem_of(&r, pi->status, pi->slug);
		CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "detail")),
		    pi->detail != NULL ? pi->detail : pi->title);
		json_decref(j);
	}
	/* a value outside the table is a 500, never a crash */
	snprintf(path, sizeof(path), "/p/%d", (int)KW_PROBLEM__COUNT);
	fetch(path, &r);
	j = problem_of(&r, 500, "internal");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "detail")), "internal error");
	json_decref(j);
	/* from_err: the context on a 4xx, the generic detail and Retry-After on a 5xx;
	 * evidence verdicts: one 401, the broker's own trouble: 503 or 500 */
	for (size_t i = 0; i < KW_ARRAY_SIZE(via_err); i++) {
		fetch_err(via_err[i].prefix, via_err[i].r, &r);
		j = problem_of(&r, via_err[i].status, via_err[i].slug);
		CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "detail")),
		    via_err[i].detail);
		CU_ASSERT_STRING_EQUAL(r.retry, via_err[i].retry);
		json_decref(j);
	}
	fetch("/hsm", &r);
	json_decref(problem_of(&r, 503, "hsm_unavailable"));
	CU_ASSERT_STRING_EQUAL(r.retry, "1");
	/* successes */
	for (size_t i = 0; i < KW_ARRAY_SIZE(successes); i++) {
		fetch(successes[i].path, &r);
		CU_ASSERT_EQUAL(r.status, successes[i].status);
		CU_ASSERT_STRING_EQUAL(r.reason, successes[i].reason);
		CU_ASSERT_STRING_EQUAL(r.ctype, successes[i].ctype);
		CU_ASSERT_STRING_EQUAL(r.cache, successes[i].ctype[0] != '\0' ? "no-store" : "");
		CU_ASSERT_STRING_EQUAL(r.nosniff, successes[i].nosniff ? "nosniff" : "");
		CU_ASSERT_STRING_EQUAL(r.body, successes[i].body);
	}
}

static int
setup(void)
{
	struct evhttp_bound_socket *bs;
	evutil_socket_t fd;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if ((base = event_base_new()) == NULL || (srv = evhttp_new(base)) == NULL)
		return -1;
	evhttp_set_gencb(srv, serve, NULL);
	if ((bs = evhttp_bind_socket_with_handle(srv, "127.0.0.1", 0)) == NULL)
		return -1;
	fd = evhttp_bound_socket_get_fd(bs);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0)
		return -1;
	port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return 0;
}

static int
teardown(void)
{
	evhttp_free(srv);
	event_base_free(base);
	return 0;
}

static int
print_problems(void)
{
	for (int p = 0; p < KW_PROBLEM__COUNT; p++) {
		const struct kw_problem_info *pi = kw_problem_info((enum kw_problem)p);
		printf("%d\t%s\t%s\t%s\t%s%s\n", pi->status, pi->slug, pi->title,
		    pi->retry_after != NULL ? pi->retry_after : "",
		    (pi->planes & KW_PLANE_WORKLOAD) != 0 ? "W" : "",
		    (pi->planes & KW_PLANE_ADMIN) != 0 ? "A" : "");
	}
	return fflush(stdout) == 0 ? 0 : 1;
}

static CU_TestInfo problem_tests[] = {
	{"the problem table", test_table},
	{"kw_err to problem, every code", test_of_err},
	{"problem documents", test_json},
	CU_TEST_INFO_NULL,
};
static CU_TestInfo sender_tests[] = {
	{"problems and successes as sent", test_senders},
	CU_TEST_INFO_NULL,
};
static CU_SuiteInfo suites[] = {
	{"problems", NULL, NULL, NULL, NULL, problem_tests},
	{"http senders on loopback", setup, teardown, NULL, NULL, sender_tests},
	CU_SUITE_INFO_NULL,
};

int
main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--print-problems") == 0)
		return print_problems();
	return test_run_suites(suites);
}
