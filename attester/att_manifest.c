/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The configuration manifest (runtime-data "config"): the workload's trust
 * store, its TLS configuration and its declared key lengths, measured so
 * that policy can check them (GOVERNANCE rows 11, 12, 14). The TLS part is
 * read with OpenSSL's own NCONF reader and SSL_CONF_cmd, so it means exactly
 * what OpenSSL makes of the same file; nothing here parses OpenSSL syntax by
 * hand.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <openssl/bio.h>
#include <openssl/conf.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "attester.h"
#include "kw_json.h"
#include "kw_util.h"

#define FP_LEN SHA256_DIGEST_LENGTH

/* ---- root store ---- */

struct fpset {
	uint8_t (*fp)[FP_LEN];
	size_t n, cap;
	size_t blocks; /* certificate blocks read, duplicates included */
	size_t bytes;  /* bytes read from files */
};

static int
fpset_add(struct fpset *s, const uint8_t fp[static FP_LEN])
{
	if (s->n == s->cap) {
		size_t cap = s->cap == 0 ? 64 : s->cap * 2;
		uint8_t (*p)[FP_LEN];

		if (cap > ATT_MAX_ROOT_CERTS)
			cap = ATT_MAX_ROOT_CERTS;
		if (cap <= s->n)
			return KW_ERR_TOO_LARGE;
		/* public fingerprints: plain realloc is fine here */
		if ((p = realloc(s->fp, cap * sizeof(*p))) == NULL)
			return KW_ERR_NOMEM;
		s->fp = p;
		s->cap = cap;
	}
	memcpy(s->fp[s->n++], fp, FP_LEN);
	return 0;
}

static int
fp_cmp(const void *a, const void *b)
{
	return memcmp(a, b, FP_LEN);
}

/* NUL-safe search for a short needle. */
static int
contains(const char *p, size_t n, const char *needle)
{
	size_t m = strlen(needle);

	for (size_t i = 0; m <= n && i <= n - m; i++)
		if (p[i] == needle[0] && memcmp(p + i, needle, m) == 0)
			return 1;
	return 0;
}

/* One PEM certificate block's DER -> its fingerprint. */
static int
cert_block_fp(const char *name, const uint8_t *der, long dlen, uint8_t ret[static FP_LEN])
{
	const unsigned char *q = der;
	X509 *x = NULL;
	int trusted = strcmp(name, "TRUSTED CERTIFICATE") == 0;
	int r = KW_ERR_INVALID_FORMAT;
	long used;

	if (dlen <= 0 || (x = d2i_X509(NULL, &q, dlen)) == NULL)
		goto out;
	used = (long)(q - der);
	if (trusted) {
		/* certificate DER followed by the X509_CERT_AUX trust attributes */
		X509_free(x);
		q = der;
		if ((x = d2i_X509_AUX(NULL, &q, dlen)) == NULL || q != der + dlen)
			goto out;
	} else if (used != dlen) {
		goto out;
	}
	r = kw_sha256(der, (size_t)used, ret);
out:
	X509_free(x);
	return r;
}

/*
 * Add the certificates of one file's contents to s. *ret_found = 1 when the
 * bytes hold "-----BEGIN" at all (the file claims to be PEM), else 0 and
 * nothing is read.
 */
static int
pem_certs(const char *buf, size_t len, struct fpset *s, int *ret_found)
{
	BIO *b = NULL;
	char *name = NULL, *hdr = NULL;
	unsigned char *data = NULL;
	long dlen;
	uint8_t fp[FP_LEN];
	int r = KW_ERR_INVALID_FORMAT;

	if (!contains(buf, len, "-----BEGIN")) {
		*ret_found = 0;
		return 0;
	}
	if (len > INT_MAX)
		return KW_ERR_TOO_LARGE;
	if ((b = BIO_new_mem_buf(buf, (int)len)) == NULL)
		return KW_ERR_NOMEM;
	ERR_set_mark();
	for (;;) {
		char *rest;
		long nrest = BIO_get_mem_data(b, &rest);
		unsigned long e;

		if (PEM_read_bio_ex(b, &name, &hdr, &data, &dlen, PEM_FLAG_EAY_COMPATIBLE) != 1) {
			e = ERR_peek_last_error();
			/* The end, unless a "-----BEGIN" is left that OpenSSL could not read. */
			if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE &&
			    nrest >= 0 && !contains(rest, (size_t)nrest, "-----BEGIN"))
				break;
			goto out;
		}
		if (strcmp(name, "CERTIFICATE") == 0 || strcmp(name, "X509 CERTIFICATE") == 0 ||
		    strcmp(name, "TRUSTED CERTIFICATE") == 0) {
			if (hdr[0] != '\0' || ++s->blocks > ATT_MAX_ROOT_CERTS) {
				r = hdr[0] != '\0' ? KW_ERR_INVALID_FORMAT : KW_ERR_TOO_LARGE;
				goto out;
			}
			if ((r = cert_block_fp(name, data, dlen, fp)) != 0 || (r = fpset_add(s, fp)) != 0)
				goto out;
			r = KW_ERR_INVALID_FORMAT;
		}
		OPENSSL_free(name);
		OPENSSL_free(hdr);
		OPENSSL_free(data);
		name = hdr = NULL;
		data = NULL;
	}
	*ret_found = 1;
	r = 0;
out:
	ERR_pop_to_mark();
	OPENSSL_free(name);
	OPENSSL_free(hdr);
	OPENSSL_free(data);
	BIO_free(b);
	return r;
}

static int
store_file(const char *path, struct fpset *s, int *ret_found)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	if ((r = kw_file_read(path, ATT_MAX_ROOT_BYTES - s->bytes, &buf, &len)) != 0)
		return r;
	s->bytes += len;
	r = pem_certs((const char *)buf, len, s, ret_found);
	free(buf);
	return r;
}

static int
store_dir(const char *path, struct fpset *s)
{
	DIR *d = NULL;
	struct dirent *de;
	struct stat st;
	char p[PATH_MAX];
	size_t nent = 0;
	int r = KW_ERR_IO, found, n;

	if ((d = opendir(path)) == NULL)
		return KW_ERR_IO;
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL) {
			if (errno != 0)
				goto out;
			break;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (++nent > ATT_MAX_ROOT_DIRENTS) {
			r = KW_ERR_TOO_LARGE;
			goto out;
		}
		n = snprintf(p, sizeof(p), "%s/%s", path, de->d_name);
		if (n < 0 || (size_t)n >= sizeof(p)) {
			r = KW_ERR_TOO_LARGE;
			goto out;
		}
		/* Follow symlinks like CApath; dangling links, directories, devices: skipped. */
		if (stat(p, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		if ((uint64_t)st.st_size > ATT_MAX_ROOT_BYTES - s->bytes) {
			r = KW_ERR_TOO_LARGE;
			goto out;
		}
		if ((r = store_file(p, s, &found)) != 0)
			goto out;
	}
	r = 0;
out:
	closedir(d);
	return r;
}

int
att_manifest_root_store(const char *path, json_t **ret)
{
	static const char hexd[] = "0123456789abcdef";
	struct fpset s = {NULL, 0, 0, 0, 0};
	struct stat st;
	json_t *obj = NULL, *arr = NULL;
	EVP_MD_CTX *md = NULL;
	uint8_t digest[SHA384_DIGEST_LENGTH];
	char line[2 * FP_LEN + 1], *dhex = NULL;
	size_t u = 0;
	int r = KW_ERR_IO, found = 0;

	if (path == NULL || ret == NULL)
		return KW_ERR_INVALID_ARG;
	if (stat(path, &st) != 0)
		return KW_ERR_IO;
	if (S_ISDIR(st.st_mode))
		r = store_dir(path, &s);
	else if (S_ISREG(st.st_mode))
		r = store_file(path, &s, &found);
	if (r != 0)
		goto out;
	if (s.n == 0) {
		r = KW_ERR_NOT_FOUND;
		goto out;
	}
	qsort(s.fp, s.n, FP_LEN, fp_cmp);
	for (size_t i = 0; i < s.n; i++)
		if (u == 0 || memcmp(s.fp[u - 1], s.fp[i], FP_LEN) != 0)
			memmove(s.fp[u++], s.fp[i], FP_LEN);

	r = KW_ERR_NOMEM;
	if ((arr = json_array()) == NULL || (md = EVP_MD_CTX_new()) == NULL)
		goto out;
	if (EVP_DigestInit_ex(md, EVP_sha384(), NULL) != 1) {
		r = KW_ERR_CRYPTO;
		goto out;
	}
	for (size_t i = 0; i < u; i++) {
		for (size_t j = 0; j < FP_LEN; j++) {
			line[2 * j] = hexd[s.fp[i][j] >> 4];
			line[2 * j + 1] = hexd[s.fp[i][j] & 15];
		}
		line[2 * FP_LEN] = '\n';
		if (EVP_DigestUpdate(md, line, sizeof(line)) != 1) {
			r = KW_ERR_CRYPTO;
			goto out;
		}
		if (json_array_append_new(arr, json_stringn(line, 2 * FP_LEN)) != 0)
			goto out;
	}
	if (EVP_DigestFinal_ex(md, digest, NULL) != 1) {
		r = KW_ERR_CRYPTO;
		goto out;
	}
	if ((r = kw_hex_encode(digest, sizeof(digest), &dhex)) != 0)
		goto out;
	r = KW_ERR_NOMEM;
	if ((obj = json_object()) == NULL || json_object_set(obj, "fingerprints", arr) != 0 ||
	    json_object_set_new(obj, "digest", json_string(dhex)) != 0)
		goto out;
	*ret = obj;
	obj = NULL; /* transferred */
	r = 0;
out:
	free(dhex);
	EVP_MD_CTX_free(md);
	json_decref(arr);
	json_decref(obj);
	free(s.fp);
	return r;
}

/* ---- TLS ---- */

/* Directives that load certificates, keys or files: nothing they do is measured. */
static int
skipped_directive(const char *name)
{
	static const char *const skip[] = {
		"Certificate", "PrivateKey", "ServerInfoFile", "ChainCAPath", "ChainCAFile",
		"ChainCAStore", "VerifyCAPath", "VerifyCAFile", "VerifyCAStore", "RequestCAFile",
		"ClientCAFile", "RequestCAPath", "ClientCAPath", "RequestCAStore", "ClientCAStore",
		"DHParameters",
	};

	for (size_t i = 0; i < KW_ARRAY_SIZE(skip); i++)
		if (strcasecmp(name, skip[i]) == 0)
			return 1;
	return 0;
}

/* "a:b : c" -> ["a","b","c"] (blanks around elements dropped, as OpenSSL does). */
static json_t *
split_list(const char *v)
{
	json_t *arr = json_array();

	while (arr != NULL && *v != '\0') {
		const char *end = strchr(v, ':'), *a = v, *z;

		if (end == NULL)
			end = v + strlen(v);
		z = end;
		while (a < z && (*a == ' ' || *a == '\t'))
			a++;
		while (z > a && (z[-1] == ' ' || z[-1] == '\t'))
			z--;
		if (z > a && json_array_append_new(arr, json_stringn(a, (size_t)(z - a))) != 0) {
			json_decref(arr);
			arr = NULL;
		}
		v = *end == ':' ? end + 1 : end;
	}
	return arr;
}

static const char *
version_name(long v)
{
	switch (v) {
	case SSL3_VERSION: return "ssl3";
	case TLS1_VERSION: return "1.0";
	case TLS1_1_VERSION: return "1.1";
	case TLS1_2_VERSION: return "1.2";
	case TLS1_3_VERSION: return "1.3";
	default: return NULL;
	}
}

/* Lowest protocol version a cipher can be used with, from OpenSSL's name for it. */
static long
cipher_min_version(const SSL_CIPHER *c)
{
	const char *v = SSL_CIPHER_get_version(c);

	if (strcmp(v, "TLSv1.3") == 0)
		return TLS1_3_VERSION;
	if (strcmp(v, "TLSv1.2") == 0)
		return TLS1_2_VERSION;
	if (strcmp(v, "TLSv1.1") == 0)
		return TLS1_1_VERSION;
	if (strcmp(v, "TLSv1.0") == 0)
		return TLS1_VERSION;
	return SSL3_VERSION; /* "SSLv3" or unknown: as low as it gets */
}

/* Describe what ctx allows; groups/sigalgs are the configured strings or NULL. */
static int
tls_describe(SSL_CTX *ctx, const char *groups, const char *sigalgs, json_t **ret)
{
	static const struct {
		long v;
		uint64_t no;
	} vers[] = {
		{SSL3_VERSION, SSL_OP_NO_SSLv3},
		{TLS1_VERSION, SSL_OP_NO_TLSv1},
		{TLS1_1_VERSION, SSL_OP_NO_TLSv1_1},
		{TLS1_2_VERSION, SSL_OP_NO_TLSv1_2},
		{TLS1_3_VERSION, SSL_OP_NO_TLSv1_3},
	};
	long min = SSL_CTX_get_min_proto_version(ctx), max = SSL_CTX_get_max_proto_version(ctx);
	long emin = 0, emax = 0;
	uint64_t opts = SSL_CTX_get_options(ctx);
	STACK_OF(SSL_CIPHER) *sk;
	json_t *obj = NULL, *suites = NULL, *l;
	int r = KW_ERR_NOMEM;

	/*
	 * No minimum set: OpenSSL 3 at security level 1 or more cannot complete
	 * the SHA-1/MD5 based handshakes of TLS 1.0/1.1 (or SSL 3), so 1.2 is
	 * the real floor; at level 0 everything compiled in is allowed.
	 */
	if (min == 0)
		min = SSL_CTX_get_security_level(ctx) >= 1 ? TLS1_2_VERSION : SSL3_VERSION;
	for (size_t i = 0; i < KW_ARRAY_SIZE(vers); i++) {
#ifdef OPENSSL_NO_SSL3_METHOD
		if (vers[i].v == SSL3_VERSION)
			continue;
#endif
		if (vers[i].v < min || (max != 0 && vers[i].v > max) || (opts & vers[i].no) != 0)
			continue;
		if (emin == 0)
			emin = vers[i].v;
		emax = vers[i].v;
	}
	if (emin == 0)
		return KW_ERR_CONFIG; /* no protocol version left */

	if ((obj = json_object()) == NULL || (suites = json_array()) == NULL)
		goto out;
	if ((sk = SSL_CTX_get_ciphers(ctx)) != NULL) {
		for (int i = 0; i < sk_SSL_CIPHER_num(sk); i++) {
			const SSL_CIPHER *c = sk_SSL_CIPHER_value(sk, i);
			long cmin = cipher_min_version(c);
			long cmax = cmin == TLS1_3_VERSION ? TLS1_3_VERSION : TLS1_2_VERSION;

			if (cmin > emax || cmax < emin)
				continue;
			if (json_array_append_new(suites, json_string(SSL_CIPHER_get_name(c))) != 0)
				goto out;
		}
	}
	if (json_object_set_new(obj, "min_version", json_string(version_name(emin))) != 0 ||
	    json_object_set(obj, "cipher_suites", suites) != 0)
		goto out;
	if (groups != NULL &&
	    ((l = split_list(groups)) == NULL || json_object_set_new(obj, "groups", l) != 0))
		goto out;
	if (sigalgs != NULL &&
	    ((l = split_list(sigalgs)) == NULL ||
	    json_object_set_new(obj, "signature_algorithms", l) != 0))
		goto out;
	*ret = obj;
	obj = NULL; /* transferred */
	r = 0;
out:
	json_decref(suites);
	json_decref(obj);
	return r;
}

/* NCONF_get_string without leaving an error on the queue when absent. */
static const char *
conf_get(const CONF *conf, const char *section, const char *name)
{
	const char *v;

	ERR_set_mark();
	v = NCONF_get_string(conf, section, name);
	ERR_pop_to_mark();
	return v;
}

int
att_manifest_tls_parse(const void *buf, size_t len, const char *section, json_t **ret)
{
	CONF *conf = NULL;
	BIO *b = NULL;
	SSL_CTX *ctx = NULL;
	SSL_CONF_CTX *cctx = NULL;
	STACK_OF(CONF_VALUE) *vals = NULL;
	const char *init, *ssl, *sect = NULL, *groups = NULL, *sigalgs = NULL;
	long eline = 0;
	int r = KW_ERR_INVALID_ARG;

	if ((buf == NULL && len > 0) || ret == NULL)
		return KW_ERR_INVALID_ARG;
	if (len > ATT_MAX_TLS_CONF)
		return KW_ERR_TOO_LARGE;
	if (len > 0 && memchr(buf, '\0', len) != NULL)
		return KW_ERR_INVALID_FORMAT; /* not a text file */
	ERR_set_mark();
	r = KW_ERR_NOMEM;
	if ((conf = NCONF_new(NULL)) == NULL ||
	    (b = BIO_new_mem_buf(len > 0 ? buf : "", (int)len)) == NULL)
		goto out;
	if (NCONF_load_bio(conf, b, &eline) != 1) {
		r = KW_ERR_CONFIG;
		goto out;
	}
	/* openssl_conf -> ssl_conf -> system_default (or the named entry) */
	if ((init = conf_get(conf, NULL, "openssl_conf")) != NULL &&
	    (ssl = conf_get(conf, init, "ssl_conf")) != NULL)
		sect = conf_get(conf, ssl, section != NULL ? section : "system_default");
	if (sect != NULL)
		vals = NCONF_get_section(conf, sect);
	if (vals == NULL && section != NULL) {
		r = KW_ERR_NOT_FOUND;
		goto out;
	}

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL || (cctx = SSL_CONF_CTX_new()) == NULL)
		goto out;
	/*
	 * Undo what this process's own OpenSSL configuration applied to every
	 * SSL_CTX, so the file is described on top of the library defaults.
	 */
	r = KW_ERR_CRYPTO;
	SSL_CTX_clear_options(ctx, SSL_OP_NO_SSL_MASK);
	if (SSL_CTX_set_min_proto_version(ctx, 0) != 1 || SSL_CTX_set_max_proto_version(ctx, 0) != 1 ||
	    SSL_CTX_set_ciphersuites(ctx, OSSL_default_ciphersuites()) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, OSSL_default_cipher_list()) != 1)
		goto out;
	SSL_CONF_CTX_set_flags(cctx, SSL_CONF_FLAG_FILE | SSL_CONF_FLAG_CLIENT | SSL_CONF_FLAG_SERVER);
	SSL_CONF_CTX_set_ssl_ctx(cctx, ctx);
	r = KW_ERR_CONFIG;
	for (int i = 0; vals != NULL && i < sk_CONF_VALUE_num(vals); i++) {
		const CONF_VALUE *cv = sk_CONF_VALUE_value(vals, i);

		if (cv->name == NULL || cv->value == NULL)
			goto out;
		if (skipped_directive(cv->name))
			continue;
		if (SSL_CONF_cmd(cctx, cv->name, cv->value) <= 0)
			goto out;
		if (strcasecmp(cv->name, "Groups") == 0 || strcasecmp(cv->name, "Curves") == 0)
			groups = cv->value;
		else if (strcasecmp(cv->name, "SignatureAlgorithms") == 0)
			sigalgs = cv->value;
	}
	if (SSL_CONF_CTX_finish(cctx) != 1)
		goto out;
	r = tls_describe(ctx, groups, sigalgs, ret);
out:
	ERR_pop_to_mark();
	SSL_CONF_CTX_free(cctx);
	SSL_CTX_free(ctx);
	BIO_free(b);
	NCONF_free(conf);
	return r;
}

int
att_manifest_tls(const char *file, const char *section, json_t **ret)
{
	SSL_CTX *ctx = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	if (ret == NULL || (file == NULL && section != NULL))
		return KW_ERR_INVALID_ARG;
	if (file != NULL) {
		if ((r = kw_file_read(file, ATT_MAX_TLS_CONF, &buf, &len)) != 0)
			return r;
		r = att_manifest_tls_parse(buf, len, section, ret);
		free(buf);
		return r;
	}
	ERR_set_mark();
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		r = KW_ERR_CRYPTO;
		goto out;
	}
	r = tls_describe(ctx, NULL, NULL, ret);
out:
	ERR_pop_to_mark();
	SSL_CTX_free(ctx);
	return r;
}

/* ---- crypto declaration ---- */

int
att_manifest_crypto_parse(const void *buf, size_t len, json_t **ret)
{
	static const char *const keys[] = {"rsa_bits", "ec_bits", "symmetric_bits", NULL};
	json_t *in = NULL, *out = NULL;
	int r;

	if ((buf == NULL && len > 0) || ret == NULL)
		return KW_ERR_INVALID_ARG;
	if ((r = kw_json_parse(buf, len, ATT_MAX_CRYPTO_CONF, &in)) != 0)
		return r;
	r = KW_ERR_INVALID_FORMAT;
	if (kw_json_check_keys(in, keys) != 0 || json_object_size(in) == 0)
		goto out;
	if ((out = json_object()) == NULL) {
		r = KW_ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; keys[i] != NULL; i++) {
		const json_t *v = json_object_get(in, keys[i]);
		json_int_t n;

		if (v == NULL)
			continue;
		if (!json_is_integer(v))
			goto out;
		n = json_integer_value(v);
		if (n < 1 || n > ATT_CRYPTO_MAX_BITS)
			goto out;
		if (json_object_set_new(out, keys[i], json_integer(n)) != 0) {
			r = KW_ERR_NOMEM;
			goto out;
		}
	}
	*ret = out;
	out = NULL; /* transferred */
	r = 0;
out:
	json_decref(out);
	json_decref(in);
	return r;
}

int
att_manifest_crypto(const char *file, json_t **ret)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	if (file == NULL || ret == NULL)
		return KW_ERR_INVALID_ARG;
	if ((r = kw_file_read(file, ATT_MAX_CRYPTO_CONF, &buf, &len)) != 0)
		return r;
	r = att_manifest_crypto_parse(buf, len, ret);
	free(buf);
	return r;
}

/* ---- the manifest ---- */

int
att_manifest_build(const struct att_manifest_opts *o, json_t **ret, const char **reterr_what)
{
	json_t *cfg = NULL, *part = NULL;
	const char *what = NULL;
	int r = KW_ERR_NOMEM;

	if (o == NULL || ret == NULL)
		return KW_ERR_INVALID_ARG;
	if ((cfg = json_object()) == NULL)
		goto out;
	if (o->root_store != NULL) {
		what = "root-store";
		if ((r = att_manifest_root_store(o->root_store, &part)) != 0)
			goto out;
		if ((r = json_object_set_new(cfg, what, part)) != 0) {
			r = KW_ERR_NOMEM;
			goto out;
		}
	}
	what = "tls";
	if ((r = att_manifest_tls(o->tls_config, o->tls_section, &part)) != 0)
		goto out;
	if (json_object_set_new(cfg, what, part) != 0) {
		r = KW_ERR_NOMEM;
		goto out;
	}
	if (o->crypto_config != NULL) {
		what = "crypto";
		if ((r = att_manifest_crypto(o->crypto_config, &part)) != 0)
			goto out;
		if (json_object_set_new(cfg, what, part) != 0) {
			r = KW_ERR_NOMEM;
			goto out;
		}
	}
	*ret = cfg;
	cfg = NULL; /* transferred */
	r = 0;
out:
	if (r != 0 && reterr_what != NULL)
		*reterr_what = what != NULL ? what : "manifest";
	json_decref(cfg);
	return r;
}
