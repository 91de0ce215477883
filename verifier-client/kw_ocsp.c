/* SPDX-License-Identifier: Apache-2.0 */
/* OCSP certificate status with a bounded cache; contract in kw_ocsp.h. */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/x509.h>

#include "kw_ocsp.h"
#include "kw_util.h"

enum { ST_GOOD = 1, ST_REVOKED = 2 };

struct slot {
	uint8_t key[32];      /* SHA-256 of the DER CertID; all zero: empty */
	int status;
	int64_t until;
};

struct kw_ocsp {
	char *url;
	unsigned int timeout_s;
	pthread_mutex_t mu;
	unsigned long fetches, hits;
	struct slot slots[KW_OCSP_CACHE_SLOTS];
};

int
kw_ocsp_new(const char *url, unsigned int timeout_s, struct kw_ocsp **ret, const char **why)
{
	struct kw_ocsp *o;

	if (url == NULL || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) ||
	    strlen(url) > 1024) {
		*why = "the OCSP responder URL must be http:// or https:// (at most 1024 bytes)";
		return KW_ERR_CONFIG;
	}
	if (timeout_s == 0 || timeout_s > 120) {
		*why = "the OCSP timeout must be 1..120 s";
		return KW_ERR_CONFIG;
	}
	if ((o = calloc(1, sizeof(*o))) == NULL || (o->url = strdup(url)) == NULL) {
		free(o);
		return KW_ERR_NOMEM;
	}
	o->timeout_s = timeout_s;
	if (pthread_mutex_init(&o->mu, NULL) != 0) {
		free(o->url);
		free(o);
		return KW_ERR_INTERNAL;
	}
	/*
	 * Here, at start and before the appraisal workers ask: curl_easy_init
	 * would otherwise initialise libcurl lazily from whichever worker comes
	 * first (libcurl counts the calls; kw_ocsp_free pairs it).
	 */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		pthread_mutex_destroy(&o->mu);
		free(o->url);
		free(o);
		*why = "libcurl cannot be initialised";
		return KW_ERR_INTERNAL;
	}
	*ret = o;
	return 0;
}

void
kw_ocsp_free(struct kw_ocsp *o)
{
	if (o == NULL)
		return;
	pthread_mutex_destroy(&o->mu);
	free(o->url);
	free(o);
	curl_global_cleanup();
}

void
kw_ocsp_stats(struct kw_ocsp *o, unsigned long *ret_fetches, unsigned long *ret_hits)
{
	pthread_mutex_lock(&o->mu);
	*ret_fetches = o->fetches;
	*ret_hits = o->hits;
	pthread_mutex_unlock(&o->mu);
}

/* ---- cache ---- */

static size_t
slot_of(const uint8_t key[static 32])
{
	return ((size_t)key[0] | (size_t)key[1] << 8) % KW_OCSP_CACHE_SLOTS;
}

static int
cache_get(struct kw_ocsp *o, const uint8_t key[static 32], int64_t at)
{
	struct slot *s = &o->slots[slot_of(key)];
	int st = 0;

	pthread_mutex_lock(&o->mu);
	if (memcmp(s->key, key, 32) == 0 && s->status != 0 && at <= s->until) {
		st = s->status;
		o->hits++;
	}
	pthread_mutex_unlock(&o->mu);
	return st;
}

static void
cache_put(struct kw_ocsp *o, const uint8_t key[static 32], int status, int64_t until)
{
	struct slot *s = &o->slots[slot_of(key)];

	pthread_mutex_lock(&o->mu);
	memcpy(s->key, key, 32);
	s->status = status;
	s->until = until;
	pthread_mutex_unlock(&o->mu);
}

/* ---- one exchange ---- */

struct body {
	unsigned char *p;
	size_t len;
	bool over;
};

static size_t
on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct body *b = arg;
	size_t n = size * nmemb;
	unsigned char *q;

	if (n > KW_OCSP_MAX_RESPONSE - b->len) {
		b->over = true;
		return 0;
	}
	if ((q = realloc(b->p, b->len + n)) == NULL)
		return 0;
	memcpy(q + b->len, data, n);
	b->p = q;
	b->len += n;
	return n;
}

/* POST der to the responder; *ret the answer's bytes (malloc). */
static int
post(struct kw_ocsp *o, const unsigned char *der, size_t len, struct body *ret, const char **why)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	long status = 0;
	CURLcode cr;
	int r = KW_ERR_UNAVAILABLE;

	memset(ret, 0, sizeof(*ret));
	*why = "the OCSP responder did not answer";
	if (c == NULL || (h = curl_slist_append(NULL, "Content-Type: application/ocsp-request")) == NULL) {
		r = KW_ERR_NOMEM;
		goto out;
	}
	if (curl_easy_setopt(c, CURLOPT_URL, o->url) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)o->timeout_s * 1000L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)o->timeout_s * 1000L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_PROXY, "") != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_USERAGENT, "keywarden-ocsp") != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_POSTFIELDS, der) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_WRITEDATA, ret) != CURLE_OK) {
		r = KW_ERR_INTERNAL;
		goto out;
	}
	cr = curl_easy_perform(c);
	if (cr == CURLE_OPERATION_TIMEDOUT) {
		*why = "the OCSP responder did not answer in time";
		r = KW_ERR_TIMEOUT;
		goto out;
	}
	if (cr != CURLE_OK || ret->over) {
		*why = ret->over ? "the OCSP answer is too large" : "the OCSP responder is unreachable";
		goto out;
	}
	if (curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK || status != 200) {
		*why = "the OCSP responder answered with an HTTP error";
		goto out;
	}
	r = 0;
out:
	if (r != 0) {
		free(ret->p);
		memset(ret, 0, sizeof(*ret));
	}
	curl_slist_free_all(h);
	if (c != NULL)
		curl_easy_cleanup(c);
	return r;
}

static int
asn1_secs(const ASN1_GENERALIZEDTIME *t, int64_t *ret)
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return -1;
	*ret = (int64_t)timegm(&tm);
	return 0;
}

/*
 * Ask for cert (issued by issuer) and check the answer; chain (all
 * certificates) helps find a delegated responder, root is the anchor.
 * *ret_status ST_GOOD or ST_REVOKED (unknown is ST_REVOKED with its own why),
 * *ret_until the cache expiry (0: do not cache).
 */
static int
ask(struct kw_ocsp *o, OCSP_CERTID *id, STACK_OF(X509) *chain, X509 *root, int64_t at,
    int *ret_status, int64_t *ret_until, const char **why)
{
	OCSP_REQUEST *req = NULL;
	OCSP_RESPONSE *resp = NULL;
	OCSP_BASICRESP *bs = NULL;
	X509_STORE *store = NULL;
	OCSP_CERTID *dup = NULL;
	ASN1_GENERALIZEDTIME *rev = NULL, *thisupd = NULL, *nextupd = NULL;
	unsigned char *der = NULL;
	const unsigned char *p;
	struct body b = { NULL, 0, false };
	int len, st = 0, reason = 0, r = KW_ERR_UNAVAILABLE;
	int64_t t_this = 0, t_next = 0;

	if ((req = OCSP_REQUEST_new()) == NULL || (dup = OCSP_CERTID_dup(id)) == NULL ||
	    OCSP_request_add0_id(req, dup) == NULL) {
		OCSP_CERTID_free(dup);
		r = KW_ERR_NOMEM;
		goto out;
	}
	/* dup is owned by req now */
	if (OCSP_request_add1_nonce(req, NULL, 32) != 1 || (len = i2d_OCSP_REQUEST(req, &der)) <= 0) {
		r = KW_ERR_CRYPTO;
		goto out;
	}
	pthread_mutex_lock(&o->mu);
	o->fetches++;
	pthread_mutex_unlock(&o->mu);
	if ((r = post(o, der, (size_t)len, &b, why)) != 0)
		goto out;
	r = KW_ERR_UNAVAILABLE;
	p = b.p;
	if (b.len > KW_OCSP_MAX_RESPONSE || (resp = d2i_OCSP_RESPONSE(NULL, &p, (long)b.len)) == NULL ||
	    p != b.p + b.len) {
		*why = "the OCSP answer is not an OCSPResponse";
		goto out;
	}
	if (OCSP_response_status(resp) != OCSP_RESPONSE_STATUS_SUCCESSFUL ||
	    (bs = OCSP_response_get1_basic(resp)) == NULL) {
		*why = "the OCSP responder refused the request";
		goto out;
	}
	if (OCSP_check_nonce(req, bs) != 1) {
		*why = "the OCSP answer does not carry our nonce";
		goto out;
	}
	if ((store = X509_STORE_new()) == NULL || X509_STORE_add_cert(store, root) != 1) {
		r = KW_ERR_NOMEM;
		goto out;
	}
	X509_VERIFY_PARAM_set_time(X509_STORE_get0_param(store), (time_t)at);
	if (OCSP_basic_verify(bs, chain, store, 0) != 1) {
		*why = "the OCSP answer is not signed by the issuer or its delegated responder";
		goto out;
	}
	if (OCSP_resp_find_status(bs, id, &st, &reason, &rev, &thisupd, &nextupd) != 1) {
		*why = "the OCSP answer does not cover the certificate asked about";
		goto out;
	}
	if (asn1_secs(thisupd, &t_this) != 0 || t_this > at + KW_OCSP_SKEW ||
	    (nextupd != NULL && (asn1_secs(nextupd, &t_next) != 0 || t_next < at - KW_OCSP_SKEW))) {
		*why = "the OCSP answer is not current";
		goto out;
	}
	switch (st) {
	case V_OCSP_CERTSTATUS_GOOD:
		*ret_status = ST_GOOD;
		break;
	case V_OCSP_CERTSTATUS_REVOKED:
		*ret_status = ST_REVOKED;
		*why = "a certificate of the chain is revoked (OCSP)";
		break;
	default:
		*ret_status = ST_REVOKED;
		*why = "the OCSP responder does not know a certificate of the chain";
		break;
	}
	*ret_until = nextupd == NULL || st == V_OCSP_CERTSTATUS_UNKNOWN ? 0 :
	    (t_next < at + KW_OCSP_MAX_AGE ? t_next : at + KW_OCSP_MAX_AGE);
	r = 0;
out:
	X509_STORE_free(store);
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
	OCSP_REQUEST_free(req);
	OPENSSL_free(der);
	free(b.p);
	return r;
}

int
kw_ocsp_check(struct kw_ocsp *o, const uint8_t *const *certs, const size_t *lens, size_t n, size_t first,
    int64_t at, const char **why)
{
	STACK_OF(X509) *chain = NULL;
	OCSP_CERTID *id = NULL;
	unsigned char *idder = NULL;
	int r = KW_ERR_NOMEM;

	*why = "cannot check the certificate status";
	if (o == NULL || certs == NULL || lens == NULL || n < 2 || n > 16)
		return KW_ERR_INVALID_ARG;
	if ((chain = sk_X509_new_null()) == NULL)
		goto out;
	for (size_t i = 0; i < n; i++) {
		const unsigned char *p = certs[i];
		X509 *x = d2i_X509(NULL, &p, (long)lens[i]);

		if (x == NULL || sk_X509_push(chain, x) <= 0) {
			X509_free(x);
			r = KW_ERR_INVALID_FORMAT;
			goto out;
		}
	}
	for (size_t i = first; i + 1 < n; i++) {
		uint8_t key[32];
		int len, st = 0;
		int64_t until = 0;

		OCSP_CERTID_free(id);
		OPENSSL_free(idder);
		idder = NULL;
		if ((id = OCSP_cert_to_id(EVP_sha1(), sk_X509_value(chain, (int)i),
		    sk_X509_value(chain, (int)i + 1))) == NULL ||
		    (len = i2d_OCSP_CERTID(id, &idder)) <= 0 || kw_sha256(idder, (size_t)len, key) != 0) {
			r = KW_ERR_CRYPTO;
			goto out;
		}
		if ((st = cache_get(o, key, at)) == 0) {
			if ((r = ask(o, id, chain, sk_X509_value(chain, (int)n - 1), at, &st, &until, why)) != 0)
				goto out;
			if (until > 0)
				cache_put(o, key, st, until);
		} else if (st == ST_REVOKED) {
			*why = "a certificate of the chain is revoked (OCSP)";
		}
		if (st != ST_GOOD) {
			r = KW_ERR_CERT_INVALID;
			goto out;
		}
	}
	r = 0;
out:
	OCSP_CERTID_free(id);
	OPENSSL_free(idder);
	sk_X509_pop_free(chain, X509_free);
	return r;
}
