/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Allocation-failure torture over the parsers (curl's "torture" idea): run a
 * parser once to count its allocations (N), then N more times failing the
 * 1st, 2nd, ... Nth allocation. Every run must either fail cleanly with an
 * error code or succeed with exactly the output of the undisturbed run;
 * under ASan/LSan the suite also proves that no failure path leaks or
 * touches freed memory.
 *
 * Allocations are counted and failed in our static libraries (malloc,
 * calloc, realloc, strdup, strndup wrapped with -Wl,--wrap), in jansson
 * (which allocates through kw_json's functions) and in OpenSSL
 * (CRYPTO_set_mem_functions).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "broker.h"
#include "hsm_req.h"
#include "kw_b64url.h"
#include "kw_jose.h"
#include "kw_json.h"
#include "kw_jwk.h"
#include "policy.h"

/* ---- the allocator hooks ---- */

static long alloc_count;      /* allocations seen since torture_arm() */
static long fail_at = -1;     /* fail the allocation with this number (1-based), -1: none */
static bool failed_one;

static void
torture_arm(long n)
{
	alloc_count = 0;
	fail_at = n;
	failed_one = false;
}

static bool
should_fail(void)
{
	alloc_count++;
	if (alloc_count == fail_at) {
		failed_one = true;
		return true;
	}
	return false;
}

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);

void *
__wrap_malloc(size_t n)
{
	return should_fail() ? NULL : __real_malloc(n);
}

void *
__wrap_calloc(size_t n, size_t m)
{
	return should_fail() ? NULL : __real_calloc(n, m);
}

void *
__wrap_realloc(void *p, size_t n)
{
	return should_fail() ? NULL : __real_realloc(p, n);
}

char *
__wrap_strdup(const char *s)
{
	return should_fail() ? NULL : __real_strdup(s);
}

char *
__wrap_strndup(const char *s, size_t n)
{
	return should_fail() ? NULL : __real_strndup(s, n);
}

static void *
ossl_malloc(size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	return should_fail() ? NULL : __real_malloc(n);
}

static void *
ossl_realloc(void *p, size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	return should_fail() ? NULL : __real_realloc(p, n);
}

static void
ossl_free(void *p, const char *file, int line)
{
	(void)file;
	(void)line;
	free(p);
}

/* ---- the targets: each returns 0 and a canonical rendering of its result, or an error ---- */

typedef int (*target_fn)(char **ret_out);

static char *
dump(const json_t *v)
{
	return v != NULL ? kw_json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
}

static int
t_json(char **ret)
{
	static const char in[] = "{\"a\":[1,2,{\"b\":\"x\\u00e9\"}],\"c\":null,\"d\":1.5e3,"
	    "\"e\":{\"f\":{\"g\":[true,false]}}}";
	json_t *v = NULL;
	int r;

	if ((r = kw_json_parse(in, strlen(in), 4096, &v)) != 0)
		return r;
	*ret = dump(v);
	json_decref(v);
	return *ret != NULL ? 0 : KW_ERR_NOMEM;
}

static int
t_jcs(char **ret)
{
	static const char in[] = "{\"z\":1,\"a\":[\"\\u20ac\",2.5,-0],\"m\":{\"y\":true,\"b\":null}}";
	json_t *v = NULL;
	size_t len;
	int r;

	if ((r = kw_json_parse(in, strlen(in), 4096, &v)) != 0)
		return r;
	r = kw_jcs_serialize(v, ret, &len);
	json_decref(v);
	return r;
}

/* A syntactically valid ES256 JWS with a jwk header (the signature is not checked here). */
static const char jws_in[] =
    "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwiY3J2IjoiUC0yNTYiLCJ4Ijoi"
    "ZjgzT0o1RDl6NXZGQVg4QUJhbmdBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQSIsInkiOiJ4X0ZFenpjUW9yWEFYT3pJNHdB"
    "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUEifX0.eyJodG0iOiJHRVQiLCJodHUiOiJodHRwczovL3guZXhhbXBsZS9hIiwi"
    "aWF0IjoxNzAwMDAwMDAwLCJqdGkiOiIwMTIzNDU2Nzg5YWJjZGVmIn0."
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

static int
t_jws(char **ret)
{
	struct kw_jws *j = NULL;
	json_t *both;
	int r;

	if ((r = kw_jws_parse(jws_in, strlen(jws_in), KW_JWS_MAX, &j)) != 0)
		return r;
	both = json_pack("{s:O, s:O}", "h", j->header, "p", j->payload);
	*ret = dump(both);
	json_decref(both);
	kw_jws_free(j);
	return *ret != NULL ? 0 : KW_ERR_NOMEM;
}

static int
t_jwk(char **ret)
{
	/* the P-256 generator point: a valid public key */
	json_t *jwk = json_pack("{s:s, s:s, s:s, s:s}", "kty", "EC", "crv", "P-256",
	    "x", "axfR8uEsQkf4vOblY6RA8ncDfYEt6zOg9KE5RdiYwpY",
	    "y", "T-NC4v4af5uO5-tKfA-eFivOM1drMV7Oy7ZAaDe_UfU");
	EVP_PKEY *pk = NULL;
	char tp[44];
	int r;

	if (jwk == NULL)
		return KW_ERR_NOMEM;
	if ((r = kw_jwk_import_public(jwk, &pk)) == 0 && (r = kw_jwk_thumbprint(jwk, tp)) == 0)
		*ret = __real_strdup(tp);
	EVP_PKEY_free(pk);
	json_decref(jwk);
	return r != 0 ? r : *ret != NULL ? 0 : KW_ERR_NOMEM;
}

static int
t_policy(char **ret)
{
	static const char pol_s[] = "{\"version\":1,\"allow_test_roots\":true,\"rules\":{\"allOf\":["
	    "{\"claim\":\"tee\",\"op\":\"equals\",\"value\":\"snp\"},"
	    "{\"claim\":\"vmpl\",\"op\":\"in\",\"value\":[0,1]}]},"
	    "\"reference_values\":{\"measurements\":[{\"value\":\"" "%096d" "\","
	    "\"not-before\":\"2020-01-01T00:00:00Z\",\"name\":\"m\"}],\"tcb_floors\":{\"snp\":1}}}";
	static const char claims_s[] = "{\"tee\":\"snp\",\"vmpl\":0,\"debug\":false,\"root\":\"test\","
	    "\"measurement\":\"%096d\",\"tcb\":{\"reported\":{\"snp\":3}}}";
	char pbuf[1024], cbuf[512], why[128];
	struct kw_policy_ctx ctx = { .now = 1800000000 };
	json_t *pol = NULL, *claims = NULL, *ex = NULL, *w = NULL, *out = NULL;
	int r;

	snprintf(pbuf, sizeof(pbuf), pol_s, 0);
	snprintf(cbuf, sizeof(cbuf), claims_s, 0);
	if ((r = kw_json_parse(pbuf, strlen(pbuf), 65536, &pol)) != 0 ||
	    (r = kw_json_parse(cbuf, strlen(cbuf), 65536, &claims)) != 0)
		goto out;
	if ((r = kw_policy_validate(pol, why, sizeof(why))) != 0)
		goto out;
	r = kw_policy_eval(pol, claims, &ctx, &ex);
	if (r != 0)
		goto out;
	if ((r = kw_policy_lint(pol, &ctx, 86400, &w)) != 0)
		goto out;
	if ((out = json_pack("{s:O, s:O}", "explain", ex, "lint", w)) == NULL) {
		r = KW_ERR_NOMEM;
		goto out;
	}
	*ret = dump(out);
	r = *ret != NULL ? 0 : KW_ERR_NOMEM;
out:
	json_decref(out);
	json_decref(w);
	json_decref(ex);
	json_decref(claims);
	json_decref(pol);
	return r;
}

static int
t_hsm_req(char **ret)
{
	static const char in[] = "{\"id\":7,\"op\":\"generate\",\"label\":\"demo/key/disk\","
	    "\"kind\":\"secret\",\"length\":48,\"if_missing\":true}";
	struct hsm_req *req = malloc(sizeof(*req));
	char buf[HSM_LABEL_MAX + 64];
	uint32_t id = 0;
	int r;

	if (req == NULL)
		return KW_ERR_NOMEM;
	if ((r = hsm_req_parse(in, strlen(in), req, &id)) == 0) {
		snprintf(buf, sizeof(buf), "%u %d %s %zu", id, (int)req->op, req->label, req->length);
		if ((*ret = __real_strdup(buf)) == NULL)
			r = KW_ERR_NOMEM;
	}
	free(req);
	return r;
}

/* A public RSA-3072 JWK (made once, before the torture starts counting). */
static char *
rsa_jwk(void)
{
	EVP_PKEY *k = EVP_RSA_gen(3072);
	BIGNUM *n = NULL, *e = NULL;
	uint8_t nb[384], eb[8];
	char *n64 = NULL, *e64 = NULL, *out = NULL;
	int nl, el;

	if (k == NULL || !EVP_PKEY_get_bn_param(k, "n", &n) || !EVP_PKEY_get_bn_param(k, "e", &e) ||
	    (nl = BN_bn2bin(n, nb)) <= 0 || (el = BN_bn2bin(e, eb)) <= 0 ||
	    kw_b64url_encode(nb, (size_t)nl, &n64) != 0 || kw_b64url_encode(eb, (size_t)el, &e64) != 0 ||
	    asprintf(&out, "{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"%s\"}", n64, e64) < 0)
		out = NULL;
	free(n64);
	free(e64);
	BN_free(n);
	BN_free(e);
	EVP_PKEY_free(k);
	return out;
}

static int
t_attest(char **ret)
{
	static const char fmt[] = "{\"runtime-data\":{\"nonce\":\"abc\","
	    "\"tee-pubkey\":%s,"
	    "\"tee-sigkey\":{\"kty\":\"EC\",\"crv\":\"P-256\","
	    "\"x\":\"axfR8uEsQkf4vOblY6RA8ncDfYEt6zOg9KE5RdiYwpY\","
	    "\"y\":\"T-NC4v4af5uO5-tKfA-eFivOM1drMV7Oy7ZAaDe_UfU\"}},"
	    "\"tee-evidence\":{\"report\":\"%s\",\"vcek\":\"AAAA\"}}";
	static char in[sizeof(fmt) + 1600 + 1024];
	struct kw_attest_req a;
	const char *why = NULL;
	json_t *body = NULL;
	uint8_t rd[64];
	char hex[129];
	int r;

	memset(&a, 0, sizeof(a));
	if (in[0] == '\0') {
		/* an all-zero 1184-byte report in base64url: 1579 'A's */
		char rep[1580], *jwk = rsa_jwk();

		if (jwk == NULL)
			return KW_ERR_NOMEM;
		memset(rep, 'A', 1579);
		rep[1579] = '\0';
		snprintf(in, sizeof(in), fmt, jwk, rep);
		free(jwk);
	}
	if ((r = kw_json_parse(in, strlen(in), 65536, &body)) != 0)
		return r;
	if ((r = kw_parse_attest(body, &a, &why)) != 0 && getenv("TORTURE_DEBUG") != NULL)
		fprintf(stderr, "attest: %s\n", why);
	if (r == 0 &&
	    (r = kw_expected_report_data(a.runtime_data, rd)) == 0) {
		for (size_t i = 0; i < sizeof(rd); i++)
			snprintf(hex + 2 * i, 3, "%02x", rd[i]);
		if ((*ret = __real_strdup(hex)) == NULL)
			r = KW_ERR_NOMEM;
	}
	kw_attest_req_clear(&a);
	json_decref(body);
	return r;
}

static const struct {
	const char *name;
	target_fn fn;
} targets[] = {
	{"kw_json_parse", t_json},
	{"kw_jcs_serialize", t_jcs},
	{"kw_jws_parse", t_jws},
	{"kw_jwk_import_public+thumbprint", t_jwk},
	{"kw_policy_validate+eval+lint", t_policy},
	{"hsm_req_parse", t_hsm_req},
	{"kw_parse_attest+report_data", t_attest},
};

int
main(void)
{
	int failures = 0;

	if (!CRYPTO_set_mem_functions(ossl_malloc, ossl_realloc, ossl_free)) {
		fprintf(stderr, "torture: cannot hook OpenSSL's allocator\n");
		return 1;
	}
	kw_json_init();
	for (size_t t = 0; t < sizeof(targets) / sizeof(targets[0]); t++) {
		char *want = NULL, *got;
		long n, clean = 0, survived = 0;
		int r;

		torture_arm(-1);
		r = targets[t].fn(&want);
		n = alloc_count;
		if (r != 0 || want == NULL || n == 0) {
			fprintf(stderr, "FAIL %s: the undisturbed run gave %d with %ld allocations\n",
			    targets[t].name, r, n);
			failures++;
			free(want);
			continue;
		}
		for (long k = 1; k <= n; k++) {
			got = NULL;
			bool hit;

			torture_arm(k);
			r = targets[t].fn(&got);
			hit = failed_one;
			torture_arm(-1);
			if (!hit) {
				/* fewer allocations on this path (caches warmed): nothing to fail */
				free(got);
				continue;
			}
			if (r == 0) {
				/* a failure that was recovered from must not change the result */
				if (got == NULL || strcmp(got, want) != 0) {
					fprintf(stderr, "FAIL %s: allocation %ld failed, the call succeeded "
					    "with another result:\n  want %.300s\n  got  %.300s\n",
					    targets[t].name, k, want, got != NULL ? got : "(null)");
					failures++;
				}
				survived++;
			} else if (r > 0 || r <= KW_ERR__LAST || got != NULL) {
				fprintf(stderr, "FAIL %s: allocation %ld failed: returned %d%s\n",
				    targets[t].name, k, r, got != NULL ? " and wrote its output" : "");
				failures++;
			} else {
				clean++;
			}
			free(got);
		}
		printf("%-34s %4ld allocations: %4ld clean failures, %4ld recovered\n",
		    targets[t].name, n, clean, survived);
		free(want);
	}
	printf("torture: %s\n", failures == 0 ? "ok" : "FAILED");
	return failures == 0 ? 0 : 1;
}
