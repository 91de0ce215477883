/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kwctl connection: profile file, flag overrides, and one HTTPS request with
 * mutual TLS over libcurl. Errors become one line on stderr and an exit code.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <curl/curl.h>

#include "kw_build.h"
#include "kw_json.h"
#include "kw_util.h"
#include "kwctl.h"

void
kwctl_escape(const char *in, size_t max, char *out, size_t outsz)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0, i;

	for (i = 0; in[i] != '\0' && i < max; i++) {
		unsigned char c = (unsigned char)in[i];
		int plain = c >= 0x20 && c < 0x7f && c != '\\';

		if (o + (plain ? 1 : 4) + 4 > outsz)
			break;
		if (plain) {
			out[o++] = (char)c;
		} else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	if (in[i] != '\0' && o + 4 <= outsz) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

/* ---- profile ---- */

void
kwctl_conn_free(struct kwctl_conn *c)
{
	free(c->url);
	free(c->cacert);
	free(c->cert);
	free(c->key);
	memset(c, 0, sizeof(*c));
}

/* dir followed by p unless p is absolute (dir is "" or ends in '/'); new string or NULL. */
static char *
resolve(const char *dir, const char *p)
{
	char *s;
	size_t n;

	if (p[0] == '/')
		return strdup(p);
	n = strlen(dir) + strlen(p) + 1;
	if ((s = malloc(n)) == NULL)
		return NULL;
	snprintf(s, n, "%s%s", dir, p);
	return s;
}

/* Load the members of a profile file into c (absent members stay NULL). */
static int
profile_load(const char *path, struct kwctl_conn *c)
{
	static const char *const allowed[] = { "url", "cacert", "cert", "key", NULL };
	static const char *const names[] = { "url", "cacert", "cert", "key" };
	char **dst[] = { &c->url, &c->cacert, &c->cert, &c->key };
	uint8_t *buf = NULL;
	size_t len = 0;
	json_t *j = NULL;
	char *dir = NULL, *slash;
	int r, rc = KWCTL_EUSAGE;

	if ((r = kw_file_read(path, KWCTL_MAX_PROFILE, &buf, &len)) != 0) {
		kwctl_usage_error("cannot read profile %s: %s", path, kw_strerror(r));
		goto out;
	}
	if ((r = kw_json_parse(buf, len, KWCTL_MAX_PROFILE, &j)) != 0) {
		kwctl_usage_error("profile %s: not a JSON object: %s", path, kw_strerror(r));
		goto out;
	}
	if (kw_json_check_keys(j, allowed) != 0) {
		kwctl_usage_error("profile %s: unknown member (allowed: url, cacert, cert, key)", path);
		goto out;
	}
	if ((dir = strdup(path)) == NULL)
		goto nomem;
	/* Relative paths in the profile are relative to its directory. */
	if ((slash = strrchr(dir, '/')) == NULL)
		dir[0] = '\0';
	else
		slash[1] = '\0';
	for (size_t i = 0; i < KW_ARRAY_SIZE(names); i++) {
		const char *v;
		size_t vl;

		r = kw_json_get_str(j, names[i], &v, &vl);
		if (r == KW_ERR_NOT_FOUND)
			continue;
		if (r != 0 || vl == 0 || strlen(v) != vl) {
			kwctl_usage_error("profile %s: \"%s\" must be a non-empty string", path, names[i]);
			goto out;
		}
		free(*dst[i]);
		*dst[i] = i == 0 ? strdup(v) : resolve(dir, v);
		if (*dst[i] == NULL)
			goto nomem;
	}
	rc = 0;
	goto out;
nomem:
	rc = kwctl_fail(KWCTL_EFAIL, "out of memory");
out:
	free(dir);
	json_decref(j);
	free(buf);
	return rc;
}

static int
set_flag(char **dst, const char *v)
{
	if (v == NULL)
		return 0;
	free(*dst);
	return (*dst = strdup(v)) == NULL ? -1 : 0;
}

int
kwctl_conn_load(const struct kwctl_conn_flags *f, struct kwctl_conn *ret)
{
	struct kwctl_conn c = { NULL, NULL, NULL, NULL };
	const char *profile = f->profile, *home, *xdg;
	char def[4096];
	struct stat st;
	size_t n;
	int rc = KWCTL_EUSAGE;

	if (profile == NULL && (profile = getenv("KWCTL_PROFILE")) != NULL && profile[0] == '\0')
		profile = NULL;
	if (profile == NULL) {
		/* The default profile is optional: flags alone may suffice. */
		xdg = getenv("XDG_CONFIG_HOME");
		home = getenv("HOME");
		def[0] = '\0';
		if (xdg != NULL && xdg[0] == '/')
			snprintf(def, sizeof(def), "%s/keywarden/kwctl.json", xdg);
		else if (home != NULL && home[0] == '/')
			snprintf(def, sizeof(def), "%s/.config/keywarden/kwctl.json", home);
		if (def[0] != '\0' && stat(def, &st) == 0)
			profile = def;
	}
	if (profile != NULL && (rc = profile_load(profile, &c)) != 0)
		goto out;
	rc = KWCTL_EFAIL;
	if (set_flag(&c.url, f->url) != 0 || set_flag(&c.cacert, f->cacert) != 0 ||
	    set_flag(&c.cert, f->cert) != 0 || set_flag(&c.key, f->key) != 0) {
		kwctl_fail(rc, "out of memory");
		goto out;
	}
	rc = KWCTL_EUSAGE;
	if (c.url == NULL) {
		kwctl_usage_error("no broker URL: give --url or a profile (see 'kwctl --help')");
		goto out;
	}
	while ((n = strlen(c.url)) > 0 && c.url[n - 1] == '/')
		c.url[n - 1] = '\0';
	if (strncasecmp(c.url, "https://", 8) != 0 || n <= 8 || n > KWCTL_MAX_URL ||
	    strpbrk(c.url, "?#") != NULL) {
		kwctl_usage_error("the broker URL must be https://HOST[:PORT] without query");
		goto out;
	}
	if (c.key != NULL && c.cert == NULL) {
		kwctl_usage_error("a client key without a client certificate (--cert)");
		goto out;
	}
	*ret = c;
	memset(&c, 0, sizeof(c));   /* transferred */
	rc = 0;
out:
	kwctl_conn_free(&c);
	return rc;
}

/* ---- request ---- */

struct sink {
	char *buf;
	size_t len;
	int too_large;
};

static size_t
on_data(char *p, size_t size, size_t nmemb, void *arg)
{
	struct sink *s = arg;
	size_t n = size * nmemb;

	if (n > KWCTL_MAX_RESPONSE - s->len) {
		s->too_large = 1;
		return 0;   /* aborts the transfer */
	}
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	return n;
}

void
kwctl_resp_free(struct kwctl_resp *r)
{
	kw_free_wipe(r->body);
	memset(r, 0, sizeof(*r));
}

int
kwctl_status_exit(long status)
{
	if (status == 404)
		return KWCTL_ENOTFOUND;
	if (status == 403)
		return KWCTL_EDENIED;
	if (status == 409)
		return KWCTL_ECONFLICT;
	if (status >= 500)
		return KWCTL_EUNAVAIL;
	return KWCTL_EFAIL;
}

static const char *
reason_phrase(long status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Content Too Large";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	default: return "";
	}
}

/* One line from a non-2xx answer: the problem's title and detail when present. */
static int
http_error(const char *what, long status, const struct sink *s)
{
	char title[128], detail[256];
	const char *t = NULL, *d = NULL;
	size_t l;
	json_t *j = NULL;

	if (kw_json_parse(s->buf, s->len, KWCTL_MAX_RESPONSE, &j) == 0) {
		if (kw_json_get_str(j, "title", &t, &l) != 0)
			t = NULL;
		if (kw_json_get_str(j, "detail", &d, &l) != 0)
			d = NULL;
	}
	if (t == NULL)
		t = reason_phrase(status);
	/* Never print the server's bytes raw. */
	kwctl_escape(t, 100, title, sizeof(title));
	kwctl_escape(d != NULL ? d : "", 200, detail, sizeof(detail));
	json_decref(j);
	if (status >= 300 && status < 400)
		return kwctl_fail(KWCTL_EFAIL, "%s: HTTP %ld %s: redirects are not followed", what,
		    status, title);
	return kwctl_fail(kwctl_status_exit(status), "%s: HTTP %ld%s%s%s%s", what, status,
	    title[0] != '\0' ? " " : "", title, detail[0] != '\0' ? ": " : "", detail);
}

int
kwctl_http(const struct kwctl_conn *conn, const char *what, const char *method,
    const char *path, const char *body, struct kwctl_resp *ret)
{
	char errbuf[CURL_ERROR_SIZE], ebuf[CURL_ERROR_SIZE + 16], *url = NULL, *ctype = NULL;
	struct curl_slist *hdr = NULL, *h;
	struct sink s = { NULL, 0, 0 };
	CURL *c = NULL;
	CURLcode cr;
	long status = 0;
	size_t ulen;
	int rc = KWCTL_EFAIL;

	errbuf[0] = '\0';
	ulen = strlen(conn->url) + strlen(path) + 1;
	if ((url = malloc(ulen)) == NULL || (s.buf = malloc(KWCTL_MAX_RESPONSE + 1)) == NULL)
		goto nomem;
	snprintf(url, ulen, "%s%s", conn->url, path);
	if ((c = curl_easy_init()) == NULL) {
		rc = kwctl_fail(KWCTL_EFAIL, "%s: cannot initialise libcurl", what);
		goto out;
	}
	if ((h = curl_slist_append(hdr, "Accept: application/json, application/problem+json")) == NULL)
		goto nomem;
	hdr = h;
	if (body != NULL) {
		if ((h = curl_slist_append(hdr, "Content-Type: application/json")) == NULL)
			goto nomem;
		hdr = h;
	}
	if ((h = curl_slist_append(hdr, "Expect:")) == NULL)
		goto nomem;
	hdr = h;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_3);
	if (conn->cacert != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, conn->cacert);
	if (conn->cert != NULL) {
		curl_easy_setopt(c, CURLOPT_SSLCERT, conn->cert);
		curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
	}
	if (conn->key != NULL) {
		curl_easy_setopt(c, CURLOPT_SSLKEY, conn->key);
		curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
	}
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)KWCTL_MAX_RESPONSE);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "kwctl/" KW_VERSION);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	if (strcmp(method, "GET") != 0)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (body != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	}
	cr = curl_easy_perform(c);
	if (s.too_large || cr == CURLE_FILESIZE_EXCEEDED) {
		rc = kwctl_fail(KWCTL_EFAIL, "%s: response larger than %d bytes", what,
		    KWCTL_MAX_RESPONSE);
		goto out;
	}
	if (cr != CURLE_OK) {
		kwctl_escape(errbuf[0] != '\0' ? errbuf : curl_easy_strerror(cr), CURL_ERROR_SIZE,
		    ebuf, sizeof(ebuf));
		rc = kwctl_fail(KWCTL_ENET, "%s: %s", what, ebuf);
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	s.buf[s.len] = '\0';
	if (status < 200 || status >= 300) {
		rc = http_error(what, status, &s);
		goto out;
	}
	if (status != 204) {
		curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ctype);
		if (ctype == NULL || strncasecmp(ctype, "application/json", 16) != 0 ||
		    (ctype[16] != '\0' && ctype[16] != ';')) {
			rc = kwctl_fail(KWCTL_EFAIL, "%s: HTTP %ld with a content type other than "
			    "application/json", what, status);
			goto out;
		}
	}
	ret->status = status;
	ret->body = s.buf;
	ret->len = s.len;
	s.buf = NULL;   /* transferred */
	rc = 0;
	goto out;
nomem:
	rc = kwctl_fail(KWCTL_EFAIL, "%s: out of memory", what);
out:
	curl_slist_free_all(hdr);
	if (c != NULL)
		curl_easy_cleanup(c);
	kw_free_wipe(s.buf);
	free(url);
	return rc;
}
