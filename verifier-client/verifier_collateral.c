/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TDX collateral sources (verifier.h): "offline", a directory of dcap-qvl
 * QuoteCollateralV3 files loaded and verified once, indexed by FMSPC and PCK
 * CA with their validity windows; and "fixed", the one file kwctl is given.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "kw_json.h"
#include "kw_util.h"
#include "kw_x509.h"
#include "verifier.h"

#define OFFLINE_MAX_NAME 255

/* ---- offline ---- */

struct offline_entry {
	struct tdx_collateral *c;          /* one reference */
	struct tdx_collateral_info info;
	enum kw_pck_ca ca;
};

struct offline {
	size_t n;
	struct offline_entry e[KW_TDX_OFFLINE_MAX_FILES];
};

static void
offline_free(void *ctx)
{
	struct offline *o = ctx;

	if (o == NULL)
		return;
	for (size_t i = 0; i < o->n; i++)
		tdx_collateral_free(o->e[i].c);
	free(o);
}

static int
offline_get(void *ctx, const uint8_t fmspc[static 6], enum kw_pck_ca ca, int64_t now,
    struct tdx_collateral **ret, const char **why)
{
	const struct offline *o = ctx;
	const struct offline_entry *best = NULL;

	for (size_t i = 0; i < o->n; i++) {
		const struct offline_entry *e = &o->e[i];

		if (memcmp(e->info.fmspc, fmspc, 6) != 0 || e->ca != ca ||
		    now < e->info.not_before || now >= e->info.not_after)
			continue;
		if (best == NULL ||
		    e->info.tcb_evaluation_data_number > best->info.tcb_evaluation_data_number ||
		    (e->info.tcb_evaluation_data_number == best->info.tcb_evaluation_data_number &&
		    e->info.not_before > best->info.not_before))
			best = e;
	}
	if (best == NULL) {
		*why = "no TDX collateral valid at the verification time for the quote's FMSPC";
		return KW_ERR_UNAVAILABLE;
	}
	*ret = tdx_collateral_ref(best->c);
	return 0;
}

static const struct kw_tdx_collateral_ops offline_ops = {
	.mode = "offline",
	.get = offline_get,
	.free = offline_free,
};

/* The PCK CA whose CRL the collateral carries: the first certificate of pck_crl_issuer_chain. */
static int
collateral_ca(const json_t *j, enum kw_pck_ca *ret)
{
	const json_t *chain = json_object_get(j, "pck_crl_issuer_chain");
	BIO *bio = NULL;
	X509 *x = NULL;
	char cn[128];
	int r = KW_ERR_INVALID_FORMAT;

	if (!json_is_string(chain) || json_string_length(chain) > TDX_MAX_COLLATERAL)
		return r;
	if ((bio = BIO_new_mem_buf(json_string_value(chain), (int)json_string_length(chain))) == NULL)
		return KW_ERR_NOMEM;
	if ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL &&
	    kw_x509_subject_cn(x, cn, sizeof(cn)) == 0) {
		*ret = strstr(cn, "Processor CA") != NULL ? KW_PCK_CA_PROCESSOR : KW_PCK_CA_PLATFORM;
		r = 0;
	}
	X509_free(x);
	BIO_free(bio);
	ERR_clear_error();
	return r;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.json names of regular files in dir, sorted (freed by the caller). */
static int
list_json(const char *dir, char ***ret, size_t *ret_n, char *why, size_t whylen)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0;
	int r = 0;

	if (d == NULL) {
		snprintf(why, whylen, "%s: cannot open the directory", dir);
		return KW_ERR_IO;
	}
	if ((names = calloc(KW_TDX_OFFLINE_MAX_FILES, sizeof(*names))) == NULL) {
		closedir(d);
		return KW_ERR_NOMEM;
	}
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		char path[4096];
		struct stat st;

		if (len < 6 || len > OFFLINE_MAX_NAME || strcmp(de->d_name + len - 5, ".json") != 0 ||
		    de->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= sizeof(path) ||
		    stat(path, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		if (n == KW_TDX_OFFLINE_MAX_FILES) {
			snprintf(why, whylen, "%s: more than %d collateral files", dir, KW_TDX_OFFLINE_MAX_FILES);
			r = KW_ERR_TOO_LARGE;
			break;
		}
		if ((names[n] = strdup(de->d_name)) == NULL) {
			r = KW_ERR_NOMEM;
			break;
		}
		n++;
	}
	closedir(d);
	if (r != 0) {
		for (size_t i = 0; i < n; i++)
			free(names[i]);
		free(names);
		return r;
	}
	qsort(names, n, sizeof(*names), name_cmp);
	*ret = names;
	*ret_n = n;
	return 0;
}

/* Load one file into e (its own reference); why names the failure. */
static int
offline_load(const struct tdx_trust *t, const char *dir, const char *name, struct offline_entry *e,
    char *why, size_t whylen)
{
	char path[4096];
	uint8_t *buf = NULL;
	size_t len = 0;
	json_t *j = NULL;
	const char *reason = NULL;
	int r;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((r = kw_file_read(path, TDX_MAX_COLLATERAL, &buf, &len)) != 0) {
		snprintf(why, whylen, "%s: %s", path, kw_strerror(r));
		goto out;
	}
	if ((r = kw_json_parse(buf, len, TDX_MAX_COLLATERAL, &j)) != 0) {
		snprintf(why, whylen, "%s: not a JSON object: %s", path, kw_strerror(r));
		goto out;
	}
	if ((r = tdx_collateral_new(t, j, &e->c, &reason)) != 0) {
		snprintf(why, whylen, "%s: %s", path, reason != NULL ? reason : kw_strerror(r));
		goto out;
	}
	if ((r = collateral_ca(j, &e->ca)) != 0) {
		snprintf(why, whylen, "%s: PCK CRL issuer chain without a CA name", path);
		tdx_collateral_free(e->c);
		e->c = NULL;
		goto out;
	}
	tdx_collateral_get_info(e->c, &e->info);
out:
	json_decref(j);
	free(buf);
	return r;
}

int
kw_tdx_offline_new(const struct tdx_trust *t, const char *dir, kw_tdx_offline_fn each, void *arg,
    struct kw_tdx_collateral_source **ret, char *why, size_t whylen)
{
	struct offline *o = NULL;
	char **names = NULL, scratch[8];
	size_t n = 0;
	int r;

	if (why == NULL || whylen == 0) {
		why = scratch;
		whylen = sizeof(scratch);
	}
	snprintf(why, whylen, "invalid arguments");
	if (t == NULL || dir == NULL || ret == NULL)
		return KW_ERR_INVALID_ARG;
	if ((r = list_json(dir, &names, &n, why, whylen)) != 0)
		return r;
	if ((o = calloc(1, sizeof(*o))) == NULL) {
		r = KW_ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if ((r = offline_load(t, dir, names[i], &o->e[o->n], why, whylen)) != 0)
			goto out;
		if (each != NULL)
			each(arg, names[i], &o->e[o->n].info, o->e[o->n].ca);
		o->n++;
	}
	r = kw_tdx_source_new(&offline_ops, o, ret);
	o = NULL;   /* taken by kw_tdx_source_new, also on failure */
out:
	offline_free(o);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return r;
}

/* ---- fixed ---- */

struct fixed {
	const struct tdx_trust *t;
	json_t *collateral;
};

static void
fixed_free(void *ctx)
{
	struct fixed *f = ctx;

	if (f == NULL)
		return;
	json_decref(f->collateral);
	free(f);
}

static int
fixed_get(void *ctx, const uint8_t fmspc[static 6], enum kw_pck_ca ca, int64_t now,
    struct tdx_collateral **ret, const char **why)
{
	const struct fixed *f = ctx;

	(void)fmspc;
	(void)ca;
	(void)now;
	return tdx_collateral_new(f->t, f->collateral, ret, why);
}

static const struct kw_tdx_collateral_ops fixed_ops = {
	.mode = "fixed",
	.get = fixed_get,
	.free = fixed_free,
};

int
kw_tdx_fixed_new(const struct tdx_trust *t, json_t *collateral, struct kw_tdx_collateral_source **ret)
{
	struct fixed *f;

	if (t == NULL || collateral == NULL || ret == NULL)
		return KW_ERR_INVALID_ARG;
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return KW_ERR_NOMEM;
	f->t = t;
	f->collateral = json_incref(collateral);
	return kw_tdx_source_new(&fixed_ops, f, ret);   /* f taken, also on failure */
}
