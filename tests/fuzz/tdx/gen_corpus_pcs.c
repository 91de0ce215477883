/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tdx_pcs_gen_corpus DIR: write the seed corpus DIR/tdx_pcs for fuzz_tdx_pcs
 * (layout in fuzz_tdx_pcs.h): PCS-shaped responses built from emulated
 * collateral (attester/att_tdx_emu.c, a throwaway "NOT INTEL" test root) —
 * as PCS and PCCS send them, and variants that stop at each check. No vector
 * bytes. Not run by the tests; its output is committed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "att_tdx_emu.h"
#include "fuzz_tdx_pcs.h"
#include "kw_json.h"
#include "kw_util.h"

#define NOW 1767225600LL

static const char *outdir;
static int failed;

/* The parts of one input, each a NUL-terminated string or raw bytes with a length. */
struct in {
	const char *ctypes, *tcb, *tcb_chain, *qe, *qe_chain, *pck_chain;
	const uint8_t *pck, *root;
	size_t pck_len, root_len;
};

static char *
cat3(const char *a, const char *b, const char *c)
{
	size_t n = strlen(a) + strlen(b) + strlen(c) + 1;
	char *s = malloc(n);

	if (s == NULL) {
		failed = 1;
		return NULL;
	}
	snprintf(s, n, "%s%s%s", a, b, c);
	return s;
}

/* Percent-encode every byte but letters, digits and '-', as PCS sends issuer chains. */
static char *
pct(const char *s)
{
	size_t n = strlen(s), o = 0;
	char *e = malloc(3 * n + 1);

	if (e == NULL) {
		failed = 1;
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')
			e[o++] = (char)c;
		else
			o += (size_t)snprintf(e + o, 4, "%%%02X", c);
	}
	e[o] = '\0';
	return e;
}

static uint8_t *
unhex(const char *h, size_t *ret_len)
{
	size_t n = strlen(h) / 2;
	uint8_t *b = malloc(n + 1);

	if (b == NULL || kw_hex_decode(h, b, n) != 0) {
		failed = 1;
		free(b);
		return NULL;
	}
	*ret_len = n;
	return b;
}

static void
put(const char *name, const struct in *in)
{
	const char *sep = FUZZ_PCS_SEP;
	char p[4096];
	FILE *f;
	int ok;

	snprintf(p, sizeof(p), "%s/tdx_pcs/%s", outdir, name);
	if ((f = fopen(p, "wb")) == NULL) {
		failed = 1;
		return;
	}
	ok = fputs(in->ctypes, f) >= 0 && fputs(sep, f) >= 0 && fputs(in->tcb, f) >= 0 && fputs(sep, f) >= 0 &&
	    fputs(in->tcb_chain, f) >= 0 && fputs(sep, f) >= 0 && fputs(in->qe, f) >= 0 && fputs(sep, f) >= 0 &&
	    fputs(in->qe_chain, f) >= 0 && fputs(sep, f) >= 0 &&
	    fwrite(in->pck, 1, in->pck_len, f) == in->pck_len && fputs(sep, f) >= 0 &&
	    fputs(in->pck_chain, f) >= 0 && fputs(sep, f) >= 0 &&
	    fwrite(in->root, 1, in->root_len, f) == in->root_len;
	if (fclose(f) != 0 || !ok) {
		fprintf(stderr, "tdx_pcs_gen_corpus: cannot write %s\n", p);
		failed = 1;
	}
}

static void
put_raw(const char *name, const char *s)
{
	char p[4096];
	FILE *f;

	snprintf(p, sizeof(p), "%s/tdx_pcs/%s", outdir, name);
	if ((f = fopen(p, "wb")) == NULL || fputs(s, f) < 0 || fclose(f) != 0) {
		fprintf(stderr, "tdx_pcs_gen_corpus: cannot write %s\n", p);
		failed = 1;
	}
}

int
main(int argc, char **argv)
{
	static const char *const pccs = "application/json|application/json|application/pkix-crl|application/x-pem-file";
	static const char *const pcs = "application/json;charset=utf-8|application/json|application/pkix-crl|"
	    "application/pkix-crl";
	struct att_tdx_emu_opts o;
	struct att_tdx_emu *e = NULL;
	struct in in, v;
	char *coll = NULL, *tcb_sig_tail = NULL, *qe_sig_tail = NULL, *root_hex = NULL, *ws = NULL;
	char *tcb, *qe, *tcb_chain, *qe_chain, *pck_chain;
	uint8_t *pck, *root_der;
	const char *s;
	char p[4096];
	json_t *j = NULL;

	outdir = argc == 2 ? argv[1] : NULL;
	if (outdir == NULL || snprintf(p, sizeof(p), "%s/tdx_pcs", outdir) >= (int)sizeof(p) ||
	    (mkdir(p, 0755) != 0 && errno != EEXIST)) {
		fprintf(stderr, "usage: tdx_pcs_gen_corpus DIR   (normally tests/fuzz/corpus; writes DIR/tdx_pcs)\n");
		return 2;
	}
	kw_json_init();
	att_tdx_emu_opts_default(&o, NOW);
	if (att_tdx_emu_new(&o, 0, &e) != 0 || att_tdx_emu_collateral(e, &o, &coll) != 0 ||
	    kw_json_parse(coll, strlen(coll), 1 << 20, &j) != 0)
		return 1;
	memset(&in, 0, sizeof(in));
	in.ctypes = pccs;
	tcb_sig_tail = cat3(",\"signature\":\"", json_string_value(json_object_get(j, "tcb_info_signature")), "\"}");
	qe_sig_tail = cat3(",\"signature\":\"", json_string_value(json_object_get(j, "qe_identity_signature")), "\"}");
	in.tcb = tcb = cat3("{\"tcbInfo\":", json_string_value(json_object_get(j, "tcb_info")), tcb_sig_tail);
	in.qe = qe = cat3("{\"enclaveIdentity\":", json_string_value(json_object_get(j, "qe_identity")),
	    qe_sig_tail);
	in.tcb_chain = tcb_chain = pct(json_string_value(json_object_get(j, "tcb_info_issuer_chain")));
	in.qe_chain = qe_chain = pct(json_string_value(json_object_get(j, "qe_identity_issuer_chain")));
	in.pck_chain = pck_chain = pct(json_string_value(json_object_get(j, "pck_crl_issuer_chain")));
	in.pck = pck = unhex(json_string_value(json_object_get(j, "pck_crl")), &in.pck_len);
	root_hex = strdup(json_string_value(json_object_get(j, "root_ca_crl")));
	in.root = (uint8_t *)root_hex;
	in.root_len = root_hex != NULL ? strlen(root_hex) : 0;
	if (failed || root_hex == NULL)
		return 1;

	put("pccs", &in);                       /* as PCCS answers: root CRL in hex */
	v = in;
	v.ctypes = pcs;                         /* as PCS and Intel's CRL server: DER */
	v.root = root_der = unhex(root_hex, &v.root_len);
	put("pcs", &v);
	free(root_der);
	v = in;
	s = json_string_value(json_object_get(j, "tcb_info"));
	ws = cat3("\n { \"signature\" : \"00\" , \"tcbInfo\" : ", s, " }\n");
	v.tcb = ws;                             /* reordered, spaced, short signature */
	put("tcb-reordered", &v);
	v = in;
	v.ctypes = "text/html|application/json|application/pkix-crl|application/x-pem-file";
	put("tcb-ctype", &v);
	v = in;
	v.tcb_chain = "";                       /* header absent */
	put("tcb-nochain", &v);
	v = in;
	v.qe_chain = "-----BEGIN%20CERTIFICATE-----%0AMII%zz";
	put("qe-chain-escape", &v);
	v = in;
	v.pck_len = 16;                         /* cut CRL */
	put("pck-crl-cut", &v);
	v = in;
	v.root_len--;                           /* odd hex */
	put("root-odd-hex", &v);
	put_raw("tcb-body", in.tcb);
	put_raw("qe-body", in.qe);
	put_raw("chain-header", in.tcb_chain);

	free(ws);
	free(tcb);
	free(qe);
	free(tcb_chain);
	free(qe_chain);
	free(pck_chain);
	free(pck);
	free(root_hex);
	free(tcb_sig_tail);
	free(qe_sig_tail);
	free(coll);
	json_decref(j);
	att_tdx_emu_free(e);
	return failed;
}
