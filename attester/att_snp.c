/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SEV-SNP evidence: the tee-evidence JSON, the configfs-tsm provider
 * "sev_guest" (real guests, through att_tsm.c) and the emulation provider
 * (testing only, explicit opt-in).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "attester.h"
#include "kw_b64url.h"
#include "kw_json.h"
#include "kw_util.h"

#define EMU_MAX_JSON 4096
#define EMU_MAX_PEM (64 * 1024)

void
att_evidence_free(struct att_evidence *ev)
{
	if (ev == NULL)
		return;
	/* allocated by i2d_X509 */
	OPENSSL_free(ev->ek);
	OPENSSL_free(ev->chain[0]);
	OPENSSL_free(ev->chain[1]);
	kw_wipe(ev, sizeof(*ev));
	free(ev);
}

static int
json_set_b64(json_t *obj, const char *key, const uint8_t *p, size_t n)
{
	char *s = NULL;
	int r;

	if ((r = kw_b64url_encode(p, n, &s)) != 0)
		return r;
	r = json_object_set_new(obj, key, json_string(s)) == 0 ? 0 : KW_ERR_NOMEM;
	free(s);
	return r;
}

int
att_evidence_to_json(const struct att_evidence *ev, json_t **ret)
{
	json_t *o = NULL, *chain = NULL;
	int r = KW_ERR_NOMEM;

	if (ev == NULL || ret == NULL || ev->ek == NULL || (ev->nchain != 0 && ev->nchain != 2))
		return KW_ERR_INVALID_ARG;
	if ((o = json_object()) == NULL)
		goto out;
	if ((r = json_set_b64(o, "report", ev->report, sizeof(ev->report))) != 0 ||
	    (r = json_set_b64(o, "vcek", ev->ek, ev->ek_len)) != 0)
		goto out;
	if (ev->nchain == 2) {
		r = KW_ERR_NOMEM;
		if ((chain = json_array()) == NULL)
			goto out;
		for (size_t i = 0; i < 2; i++) {
			char *s = NULL;

			if ((r = kw_b64url_encode(ev->chain[i], ev->chain_len[i], &s)) != 0)
				goto out;
			r = json_array_append_new(chain, json_string(s)) == 0 ? 0 : KW_ERR_NOMEM;
			free(s);
			if (r != 0)
				goto out;
		}
		r = json_object_set_new(o, "chain", chain) == 0 ? 0 : KW_ERR_NOMEM;
		chain = NULL; /* stolen even on failure */
		if (r != 0)
			goto out;
	}
	*ret = o;
	o = NULL; /* transferred */
	r = 0;
out:
	json_decref(chain);
	json_decref(o);
	return r;
}

/* DER of one certificate given as DER (trailing padding allowed) or PEM. */
static int
cert_to_der(const uint8_t *p, size_t len, uint8_t **ret, size_t *ret_len)
{
	static const char pem_tag[] = "-----BEGIN";
	X509 *x = NULL;
	uint8_t *der = NULL;
	int n, r = KW_ERR_INVALID_FORMAT;

	if (len > ATT_MAX_CERT || len == 0)
		return KW_ERR_INVALID_FORMAT;
	if (len >= sizeof(pem_tag) - 1 && memcmp(p, pem_tag, sizeof(pem_tag) - 1) == 0) {
		BIO *b = BIO_new_mem_buf(p, (int)len);

		if (b == NULL)
			return KW_ERR_NOMEM;
		x = PEM_read_bio_X509(b, NULL, NULL, NULL);
		BIO_free(b);
	} else {
		const unsigned char *q = p;

		x = d2i_X509(NULL, &q, (long)len);
	}
	if (x == NULL)
		goto out;
	if ((n = i2d_X509(x, &der)) <= 0)
		goto out;
	*ret = der;
	*ret_len = (size_t)n;
	der = NULL; /* transferred */
	r = 0;
out:
	OPENSSL_free(der);
	X509_free(x);
	return r;
}

/* ---- configfs-tsm (att_tsm.c) ---- */

static int
certs_from_table(const uint8_t *aux, size_t auxlen, struct att_evidence *ev)
{
	struct att_snp_certs certs;
	enum att_cert_kind ek_kind;
	int r;

	if (auxlen == 0)
		return KW_ERR_NOT_FOUND;
	if ((r = att_snp_certtable_parse(aux, auxlen, &certs)) != 0)
		return r;
	ek_kind = certs.c[ATT_CERT_VCEK].p != NULL ? ATT_CERT_VCEK : ATT_CERT_VLEK;
	if (certs.c[ek_kind].p == NULL)
		return KW_ERR_NOT_FOUND;
	if ((r = cert_to_der(certs.c[ek_kind].p, certs.c[ek_kind].len, &ev->ek, &ev->ek_len)) != 0)
		return r;
	ev->ek_is_vlek = ek_kind == ATT_CERT_VLEK;
	if (certs.c[ATT_CERT_ASK].p != NULL && certs.c[ATT_CERT_ARK].p != NULL) {
		if ((r = cert_to_der(certs.c[ATT_CERT_ASK].p, certs.c[ATT_CERT_ASK].len, &ev->chain[0],
		    &ev->chain_len[0])) != 0 ||
		    (r = cert_to_der(certs.c[ATT_CERT_ARK].p, certs.c[ATT_CERT_ARK].len, &ev->chain[1],
		    &ev->chain_len[1])) != 0)
			return r;
		ev->nchain = 2;
	}
	return 0;
}

int
att_tsm_snp_evidence(const char *dir, const uint8_t report_data[static ATT_REPORT_DATA_LEN],
    struct att_evidence **ret)
{
	struct att_evidence *ev = NULL;
	struct att_tsm_report rep;
	int r;

	if (ret == NULL)
		return KW_ERR_INVALID_ARG;
	memset(&rep, 0, sizeof(rep));
	if ((r = att_tsm_report(dir, "sev_guest", report_data, 2 * ATT_SNP_REPORT_LEN, ATT_MAX_AUXBLOB,
	    &rep)) != 0)
		return r;
	if ((ev = calloc(1, sizeof(*ev))) == NULL) {
		r = KW_ERR_NOMEM;
		goto out;
	}
	if (rep.out_len != ATT_SNP_REPORT_LEN) {
		r = KW_ERR_INVALID_FORMAT;
		goto out;
	}
	memcpy(ev->report, rep.out, ATT_SNP_REPORT_LEN);
	/* The report must carry exactly our binding. */
	if (memcmp(ev->report + 0x50, report_data, ATT_REPORT_DATA_LEN) != 0) {
		r = KW_ERR_MISMATCH;
		goto out;
	}
	if ((r = certs_from_table(rep.aux, rep.aux_len, ev)) != 0)
		goto out;
	*ret = ev;
	ev = NULL; /* transferred */
	r = 0;
out:
	att_tsm_report_clear(&rep);
	att_evidence_free(ev);
	return r;
}

/* ---- emulation ---- */

static void
put_le(uint8_t *p, uint64_t v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

int
att_emu_report_build(const struct att_emu_report_params *p, EVP_PKEY *vcek_key,
    uint8_t ret[static ATT_SNP_REPORT_LEN])
{
	uint8_t rep[ATT_SNP_REPORT_LEN];
	EVP_MD_CTX *md = NULL;
	ECDSA_SIG *sig = NULL;
	uint8_t *der = NULL;
	const unsigned char *q;
	size_t der_len = 0;
	char group[32];
	int r = KW_ERR_CRYPTO;

	if (p == NULL || vcek_key == NULL)
		return KW_ERR_INVALID_ARG;
	if (!EVP_PKEY_is_a(vcek_key, "EC") ||
	    EVP_PKEY_get_group_name(vcek_key, group, sizeof(group), NULL) != 1 ||
	    strcmp(group, "secp384r1") != 0)
		return KW_ERR_UNSUPPORTED;
	memset(rep, 0, sizeof(rep));
	put_le(rep + 0x000, 3, 4);                                     /* VERSION */
	put_le(rep + 0x008, ATT_EMU_POLICY | (p->debug ? ATT_EMU_POLICY_DEBUG : 0), 8);
	put_le(rep + 0x034, 1, 4);                                     /* ECDSA P-384 SHA-384 */
	put_le(rep + 0x038, p->tcb, 8);                                /* CURRENT_TCB */
	/* 0x048 signer info 0: VCEK, chip key not masked */
	memcpy(rep + 0x050, p->report_data, ATT_REPORT_DATA_LEN);
	memcpy(rep + 0x090, p->measurement, ATT_MEASUREMENT_LEN);
	if (RAND_bytes(rep + 0x140, 32) != 1)                         /* REPORT_ID */
		goto out;
	memset(rep + 0x160, 0xff, 32);                                 /* REPORT_ID_MA: none */
	put_le(rep + 0x180, p->tcb, 8);                                /* REPORTED_TCB */
	rep[0x188] = 0x19;                                             /* Milan: family 19h */
	rep[0x189] = 0x01;                                             /* model 01h */
	rep[0x18A] = 0x01;                                             /* stepping 1 */
	memcpy(rep + 0x1A0, p->chip_id, ATT_CHIP_ID_LEN);
	put_le(rep + 0x1E0, p->tcb, 8);                                /* COMMITTED_TCB */
	rep[0x1E8] = 21, rep[0x1E9] = 55, rep[0x1EA] = 1;              /* firmware 1.55 build 21 */
	rep[0x1EC] = 21, rep[0x1ED] = 55, rep[0x1EE] = 1;
	put_le(rep + 0x1F0, p->tcb, 8);                                /* LAUNCH_TCB */

	if ((md = EVP_MD_CTX_new()) == NULL) {
		r = KW_ERR_NOMEM;
		goto out;
	}
	if (EVP_DigestSignInit_ex(md, NULL, "SHA384", NULL, NULL, vcek_key, NULL) != 1 ||
	    EVP_DigestSign(md, NULL, &der_len, rep, ATT_SNP_SIGNED_LEN) != 1)
		goto out;
	if ((der = OPENSSL_malloc(der_len)) == NULL) {
		r = KW_ERR_NOMEM;
		goto out;
	}
	if (EVP_DigestSign(md, der, &der_len, rep, ATT_SNP_SIGNED_LEN) != 1)
		goto out;
	q = der;
	if ((sig = d2i_ECDSA_SIG(NULL, &q, (long)der_len)) == NULL)
		goto out;
	if (BN_bn2lebinpad(ECDSA_SIG_get0_r(sig), rep + 0x2A0, 72) != 72 ||
	    BN_bn2lebinpad(ECDSA_SIG_get0_s(sig), rep + 0x2E8, 72) != 72)
		goto out;
	memcpy(ret, rep, sizeof(rep));
	r = 0;
out:
	ECDSA_SIG_free(sig);
	OPENSSL_free(der);
	EVP_MD_CTX_free(md);
	return r;
}

static int
path_join(char *out, size_t outsz, const char *dir, const char *name)
{
	if ((size_t)snprintf(out, outsz, "%s/%s", dir, name) >= outsz)
		return KW_ERR_INVALID_ARG;
	return 0;
}

static int
emu_read_json(const char *dir, struct att_emu_report_params *p)
{
	static const char *const keys[] = {"product", "chip_id", "reported_tcb", "measurement", NULL};
	char path[4096];
	uint8_t *buf = NULL, tcb[8];
	size_t len = 0, slen;
	json_t *j = NULL;
	const char *s;
	int r;

	if ((r = path_join(path, sizeof(path), dir, "emu.json")) != 0)
		return r;
	if ((r = kw_file_read(path, EMU_MAX_JSON, &buf, &len)) != 0)
		return r;
	if ((r = kw_json_parse(buf, len, EMU_MAX_JSON, &j)) != 0 ||
	    (r = kw_json_check_keys(j, keys)) != 0)
		goto out;
	if ((r = kw_json_get_str(j, "product", &s, &slen)) != 0)
		goto out;
	if (strcmp(s, "Milan") != 0) {
		r = KW_ERR_UNSUPPORTED;
		goto out;
	}
	if ((r = kw_json_get_str(j, "chip_id", &s, &slen)) != 0 ||
	    (r = kw_hex_decode(s, p->chip_id, sizeof(p->chip_id))) != 0)
		goto out;
	if ((r = kw_json_get_str(j, "measurement", &s, &slen)) != 0 ||
	    (r = kw_hex_decode(s, p->measurement, sizeof(p->measurement))) != 0)
		goto out;
	if ((r = kw_json_get_str(j, "reported_tcb", &s, &slen)) != 0)
		goto out;
	if (slen != 18 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X') ||
	    kw_hex_decode(s + 2, tcb, sizeof(tcb)) != 0) {
		r = KW_ERR_INVALID_FORMAT;
		goto out;
	}
	p->tcb = 0;
	for (size_t i = 0; i < 8; i++)
		p->tcb = (p->tcb << 8) | tcb[i];
	r = 0;
out:
	json_decref(j);
	free(buf);
	return r;
}

static int
x509_der(X509 *x, uint8_t **ret, size_t *ret_len)
{
	uint8_t *der = NULL;
	int n;

	if ((n = i2d_X509(x, &der)) <= 0)
		return KW_ERR_CRYPTO;
	*ret = der;
	*ret_len = (size_t)n;
	return 0;
}

int
att_emu_snp_evidence(const struct att_emu_opts *o, const uint8_t report_data[static ATT_REPORT_DATA_LEN],
    struct att_evidence **ret)
{
	struct att_emu_report_params p;
	struct att_evidence *ev = NULL;
	char path[4096];
	EVP_PKEY *key = NULL;
	X509 *vcek = NULL, *chain[3] = {NULL, NULL, NULL};
	BIO *b = NULL;
	size_t n = 0;
	int r;

	if (o == NULL || o->dir == NULL || ret == NULL)
		return KW_ERR_INVALID_ARG;
	memset(&p, 0, sizeof(p));
	if ((r = emu_read_json(o->dir, &p)) != 0)
		goto out;
	if (o->measurement != NULL)
		memcpy(p.measurement, o->measurement, ATT_MEASUREMENT_LEN);
	memcpy(p.report_data, o->report_data != NULL ? o->report_data : report_data,
	    ATT_REPORT_DATA_LEN);
	p.debug = o->debug;

	if ((r = path_join(path, sizeof(path), o->dir, "vcek.key")) != 0)
		goto out;
	r = KW_ERR_IO;
	if ((b = BIO_new_file(path, "r")) == NULL)
		goto out;
	r = KW_ERR_INVALID_FORMAT;
	if ((key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL)) == NULL)
		goto out;
	BIO_free(b);
	b = NULL;
	if ((r = path_join(path, sizeof(path), o->dir, "vcek.pem")) != 0)
		goto out;
	r = KW_ERR_IO;
	if ((b = BIO_new_file(path, "r")) == NULL)
		goto out;
	r = KW_ERR_INVALID_FORMAT;
	if ((vcek = PEM_read_bio_X509(b, NULL, NULL, NULL)) == NULL)
		goto out;
	BIO_free(b);
	b = NULL;
	r = KW_ERR_MISMATCH;
	if (EVP_PKEY_eq(X509_get0_pubkey(vcek), key) != 1)
		goto out;
	if ((r = path_join(path, sizeof(path), o->dir, "cert_chain.pem")) != 0)
		goto out;
	r = KW_ERR_IO;
	if ((b = BIO_new_file(path, "r")) == NULL)
		goto out;
	while (n < 3 && (chain[n] = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
		n++;
	r = KW_ERR_INVALID_FORMAT;
	if (n != 2) /* ASK then ARK */
		goto out;

	r = KW_ERR_NOMEM;
	if ((ev = calloc(1, sizeof(*ev))) == NULL)
		goto out;
	ev->emulated = 1;
	if ((r = att_emu_report_build(&p, key, ev->report)) != 0)
		goto out;
	if ((r = x509_der(vcek, &ev->ek, &ev->ek_len)) != 0 ||
	    (r = x509_der(chain[0], &ev->chain[0], &ev->chain_len[0])) != 0 ||
	    (r = x509_der(chain[1], &ev->chain[1], &ev->chain_len[1])) != 0)
		goto out;
	ev->nchain = 2;
	*ret = ev;
	ev = NULL; /* transferred */
	r = 0;
out:
	BIO_free(b);
	EVP_PKEY_free(key);
	X509_free(vcek);
	for (size_t i = 0; i < 3; i++)
		X509_free(chain[i]);
	att_evidence_free(ev);
	kw_wipe(&p, sizeof(p));
	return r;
}
