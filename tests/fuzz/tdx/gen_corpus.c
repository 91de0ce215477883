/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tdx_gen_corpus DIR: write the seed corpora DIR/tdx_quote and
 * DIR/tdx_collateral for the fuzz targets from emulated evidence
 * (attester/att_tdx_emu.c, a throwaway "NOT INTEL" test root): valid
 * quotes and collateral, and variants that stop at each parser check. No
 * vector bytes. Not run by the tests; its output is committed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "kw_json.h"
#include "kw_util.h"
#include "att_tdx_emu.h"

#define NOW 1767225600LL

static const char *outdir;
static int failed;

static void
put(const char *sub, const char *name, const void *buf, size_t len)
{
	char p[4096];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s/%s", outdir, sub, name);
	if ((f = fopen(p, "wb")) == NULL || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, "tdx_gen_corpus: cannot write %s\n", p);
		failed = 1;
	}
}

static void
quote(struct att_tdx_emu *e, const struct att_tdx_emu_opts *o, const char *name, size_t pad, size_t cut)
{
	uint8_t *q = NULL, *buf;
	size_t len = 0;

	if (att_tdx_emu_quote(e, o, &q, &len) != 0) {
		failed = 1;
		return;
	}
	if ((buf = calloc(1, len + pad)) != NULL) {
		memcpy(buf, q, len);
		put("tdx_quote", name, buf, cut != 0 && cut < len ? cut : len + pad);
	}
	free(buf);
	free(q);
}

/* A default v4 quote with bytes at off replaced. */
static void
quote_patched(struct att_tdx_emu *e, const struct att_tdx_emu_opts *o, const char *name, size_t off, const void *b, size_t n)
{
	uint8_t *q = NULL;
	size_t len = 0;

	if (att_tdx_emu_quote(e, o, &q, &len) != 0 || off + n > len) {
		failed = 1;
		free(q);
		return;
	}
	memcpy(q + off, b, n);
	put("tdx_quote", name, q, len);
	free(q);
}

static void
collateral(struct att_tdx_emu *e, const struct att_tdx_emu_opts *o, const char *name)
{
	char *c = NULL;

	if (att_tdx_emu_collateral(e, o, &c) != 0) {
		failed = 1;
		return;
	}
	put("tdx_collateral", name, c, strlen(c));
	free(c);
}

/* The default collateral changed by edit(json), serialized again. */
static void
collateral_edit(struct att_tdx_emu *e, const struct att_tdx_emu_opts *o, const char *name, const char *key, json_t *value,
    int text_only)
{
	char *c = NULL, *s = NULL;
	json_t *j = NULL;

	if (att_tdx_emu_collateral(e, o, &c) != 0 || kw_json_parse(c, strlen(c), 1 << 20, &j) != 0) {
		failed = 1;
		goto out;
	}
	if (text_only) {
		/* The signed text of member key on its own. */
		const char *t = json_string_value(json_object_get(j, key));

		put("tdx_collateral", name, t, strlen(t));
		goto out;
	}
	if (value != NULL)
		json_object_set(j, key, value);
	else
		json_object_del(j, key);
	if ((s = kw_json_dumps(j, JSON_COMPACT)) == NULL) {
		failed = 1;
		goto out;
	}
	put("tdx_collateral", name, s, strlen(s));
out:
	free(s);
	free(c);
	json_decref(j);
	json_decref(value);
}

int
main(int argc, char **argv)
{
	struct att_tdx_emu_opts o, v;
	struct att_tdx_emu *e = NULL;
	char p[4096];

	if (argc != 2) {
		fprintf(stderr, "usage: tdx_gen_corpus DIR   (normally tests/fuzz/corpus)\n");
		return 2;
	}
	outdir = argv[1];
	kw_json_init();
	snprintf(p, sizeof(p), "%s/tdx_quote", outdir);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/tdx_collateral", outdir);
	mkdir(p, 0755);
	att_tdx_emu_opts_default(&o, NOW);
	if (att_tdx_emu_new(&o, 0, &e) != 0)
		return 1;

	/* quotes */
	quote(e, &o, "v4", 0, 0);
	quote(e, &o, "v4-padded", 70, 0);
	v = o;
	v.version = 5;
	v.body_type = 3;
	quote(e, &v, "v5-td15", 0, 0);
	v.body_type = 2;
	quote(e, &v, "v5-td10", 0, 0);
	v = o;
	v.td_attributes[0] |= 1;
	quote(e, &v, "v4-debug", 0, 0);
	v = o;
	v.tee_tcb_svn[1] = 0;
	quote(e, &v, "v4-module0", 0, 0);
	quote(e, &o, "cut-header", 0, 47);
	quote(e, &o, "cut-body", 0, 631);
	quote(e, &o, "cut-sigdata", 0, 700);
	quote(e, &o, "cut-qe-report", 0, 1000);
	quote(e, &o, "cut-pem", 0, 2000);
	quote_patched(e, &o, "sgx-tee-type", 4, "\0\0\0\0", 4);
	quote_patched(e, &o, "version3", 0, "\x03\x00", 2);
	quote_patched(e, &o, "key-type3", 2, "\x03\x00", 2);
	quote_patched(e, &o, "qe-vendor", 12, "\x00", 1);
	quote_patched(e, &o, "cert-type5", 764, "\x05\x00", 2);
	quote_patched(e, &o, "nested-type4", 1252, "\x04\x00", 2);
	quote_patched(e, &o, "auth-len-big", 1218, "\xff\xff", 2);
	quote_patched(e, &o, "pem-crlf", 1258 + 27, "\r", 1);
	v = o;
	v.version = 5;
	quote_patched(e, &v, "v5-body-sgx", 48, "\x01\x00", 2);
	quote_patched(e, &v, "v5-size", 50, "\x49\x02\x00\x00", 4);
	{
		uint8_t *q = NULL, *buf;
		size_t len = 0;

		if (att_tdx_emu_quote(e, &o, &q, &len) == 0 && (buf = calloc(1, len + 8)) != NULL) {
			memcpy(buf, q, len);
			buf[len + 3] = 1;
			put("tdx_quote", "tail-nonzero", buf, len + 8);
			free(buf);
		}
		free(q);
	}

	/* collateral */
	collateral(e, &o, "default");
	v = o;
	v.revoke_leaf = 1;
	v.revoke_ca = 1;
	collateral(e, &v, "revoked");
	v = o;
	v.no_module_identities = 1;
	collateral(e, &v, "no-module-identities");
	v = o;
	v.nlevels = 3;
	for (size_t i = 0; i < 3; i++) {
		memcpy(v.levels[i].sgx, o.pck_sgx_svn, 16);
		v.levels[i].sgx[i]++;
		v.levels[i].pcesvn = (uint16_t)(o.pcesvn - i);
		memcpy(v.levels[i].tdx, o.tee_tcb_svn, 16);
	}
	v.levels[0].status = "UpToDate";
	v.levels[1].status = "ConfigurationAndSWHardeningNeeded";
	v.levels[1].advisories = "INTEL-SA-00001,INTEL-SA-00002";
	v.levels[2].status = "OutOfDateConfigurationNeeded";
	v.nqe_levels = 2;
	v.qe_levels[0] = (struct att_tdx_emu_isv_level){ 9, "UpToDate", NULL };
	v.qe_levels[1] = (struct att_tdx_emu_isv_level){ 0, "Revoked", "INTEL-SA-00003" };
	v.nmodules = 2;
	v.modules[0] = (struct att_tdx_emu_module){ 1, { { 6, "UpToDate", NULL }, { 0, "OutOfDate", NULL } }, 2 };
	v.modules[1] = (struct att_tdx_emu_module){ 3, { { 2, "Revoked", NULL } }, 1 };
	collateral(e, &v, "levels");
	collateral_edit(e, &v, "tcb-info-text", "tcb_info", NULL, 1);
	collateral_edit(e, &v, "qe-identity-text", "qe_identity", NULL, 1);
	v = o;
	v.tcb_next = NOW - 1;
	collateral(e, &v, "stale");
	collateral_edit(e, &o, "unknown-member", "extra", json_string("x"), 0);
	collateral_edit(e, &o, "missing-crl", "pck_crl", NULL, 0);
	collateral_edit(e, &o, "bad-crl-hex", "root_ca_crl", json_string("30zz"), 0);
	collateral_edit(e, &o, "short-signature", "tcb_info_signature", json_string("00"), 0);
	collateral_edit(e, &o, "sgx-tcb-info", "tcb_info", json_string("{\"id\":\"SGX\",\"version\":3}"), 0);
	collateral_edit(e, &o, "optional-member", "pck_certificate_chain", json_string(""), 0);
	att_tdx_emu_free(e);
	return failed;
}
