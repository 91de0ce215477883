/* SPDX-License-Identifier: Apache-2.0 */
/* Configured CAs for TPM key certificates (tpm_ca.h). */
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "kw_util.h"
#include "tpm_ca.h"

struct tpm_ca {
	X509_STORE *store;
	size_t n;
};

int
tpm_ca_new(struct tpm_ca **ret)
{
	struct tpm_ca *ca = calloc(1, sizeof(*ca));

	if (ca == NULL || (ca->store = X509_STORE_new()) == NULL) {
		free(ca);
		return KW_ERR_NOMEM;
	}
	*ret = ca;
	return 0;
}

void
tpm_ca_free(struct tpm_ca *ca)
{
	if (ca == NULL)
		return;
	X509_STORE_free(ca->store);
	free(ca);
}

size_t
tpm_ca_count(const struct tpm_ca *ca)
{
	return ca != NULL ? ca->n : 0;
}

int
tpm_ca_add_file(struct tpm_ca *ca, const char *path, size_t *ret_count)
{
	STACK_OF(X509) *certs = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;
	BIO *bio = NULL;
	X509 *x = NULL;
	int r;

	if ((r = kw_file_read(path, TPM_CA_MAX_FILE, &buf, &len)) != 0)
		return r;
	r = KW_ERR_NOMEM;
	if ((certs = sk_X509_new_null()) == NULL)
		goto out;
	if (memmem(buf, len, "-----BEGIN", 10) == NULL) {
		const unsigned char *p = buf;

		r = KW_ERR_INVALID_FORMAT;
		if ((x = d2i_X509(NULL, &p, (long)len)) == NULL || p != buf + len)
			goto out;
		if (sk_X509_push(certs, x) <= 0) {
			r = KW_ERR_NOMEM;
			goto out;
		}
		x = NULL;   /* owned by certs */
	} else {
		if ((bio = BIO_new_mem_buf(buf, (int)len)) == NULL)   /* len <= TPM_CA_MAX_FILE */
			goto out;
		while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
			if (sk_X509_push(certs, x) <= 0)
				goto out;
			x = NULL;
		}
		r = KW_ERR_INVALID_FORMAT;
		if (ERR_GET_REASON(ERR_peek_last_error()) != PEM_R_NO_START_LINE || sk_X509_num(certs) == 0)
			goto out;
	}
	r = KW_ERR_INVALID_FORMAT;
	for (int i = 0; i < sk_X509_num(certs); i++)
		if (X509_check_ca(sk_X509_value(certs, i)) != 1)
			goto out;
	r = KW_ERR_NOMEM;
	for (int i = 0; i < sk_X509_num(certs); i++)
		if (X509_STORE_add_cert(ca->store, sk_X509_value(certs, i)) != 1)
			goto out;   /* XXX: a partial add stays in the store; the caller stops on any failure */
	ca->n += (size_t)sk_X509_num(certs);
	if (ret_count != NULL)
		*ret_count = (size_t)sk_X509_num(certs);
	r = 0;
out:
	ERR_clear_error();
	X509_free(x);
	sk_X509_pop_free(certs, X509_free);
	BIO_free(bio);
	free(buf);
	return r;
}

static json_t *
cert_info(X509 *x, const uint8_t *der, size_t len)
{
	char *issuer = NULL, *serial = NULL, *fp = NULL;
	uint8_t md[32];
	BIO *b = BIO_new(BIO_s_mem());
	const ASN1_INTEGER *sn = X509_get0_serialNumber(x);
	BIGNUM *bn = NULL;
	json_t *o = NULL;
	long n;

	if (b == NULL || X509_NAME_print_ex(b, X509_get_issuer_name(x), 0, XN_FLAG_RFC2253) < 0 ||
	    (n = BIO_get_mem_data(b, &issuer)) < 0 || (bn = ASN1_INTEGER_to_BN(sn, NULL)) == NULL ||
	    (serial = BN_bn2hex(bn)) == NULL || kw_sha256(der, len, md) != 0 ||
	    kw_hex_encode(md, sizeof(md), &fp) != 0)
		goto out;
	for (char *s = serial; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'F')
			*s = (char)(*s - 'A' + 'a');
	o = json_pack("{s:s%, s:s, s:s}", "issuer", issuer, (size_t)n, "serial", serial, "sha256", fp);
out:
	free(fp);
	OPENSSL_free(serial);
	BN_free(bn);
	BIO_free(b);
	return o;
}

int
tpm_ca_verify(const struct tpm_ca *ca, const uint8_t *der, size_t len, int64_t at, EVP_PKEY **ret_key,
    json_t **ret_info, const char **why)
{
	X509 *x = NULL;
	X509_STORE_CTX *ctx = NULL;
	EVP_PKEY *key = NULL;
	json_t *info = NULL;
	const unsigned char *p = der;
	int r = KW_ERR_INVALID_FORMAT, err;

	*why = "AK certificate is not one DER certificate";
	if (ca == NULL || der == NULL || len == 0 || len > TPM_CA_MAX_CERT ||
	    (x = d2i_X509(NULL, &p, (long)len)) == NULL || p != der + len)
		goto out;
	if (X509_check_ca(x) != 0) {
		*why = "AK certificate is a CA certificate";
		r = KW_ERR_CERT_INVALID;
		goto out;
	}
	r = KW_ERR_NOMEM;
	*why = "out of memory";
	if ((ctx = X509_STORE_CTX_new()) == NULL || X509_STORE_CTX_init(ctx, ca->store, x, NULL) != 1)
		goto out;
	X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_PARTIAL_CHAIN);
	X509_STORE_CTX_set_time(ctx, 0, (time_t)at);
	if (X509_verify_cert(ctx) != 1) {
		err = X509_STORE_CTX_get_error(ctx);
		switch (err) {
		case X509_V_ERR_CERT_HAS_EXPIRED:
		case X509_V_ERR_CERT_NOT_YET_VALID:
			*why = "AK certificate chain is not valid at the verification time";
			r = KW_ERR_CERT_EXPIRED;
			break;
		case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
		case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
		case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
		case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
		case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
			*why = "AK certificate does not chain to a configured AK CA";
			r = KW_ERR_UNTRUSTED_ROOT;
			break;
		default:
			*why = "AK certificate chain does not verify";
			r = KW_ERR_CERT_INVALID;
			break;
		}
		goto out;
	}
	if ((key = X509_get_pubkey(x)) == NULL) {
		*why = "AK certificate holds no usable public key";
		r = KW_ERR_UNSUPPORTED;
		goto out;
	}
	if (ret_info != NULL && (info = cert_info(x, der, len)) == NULL) {
		*why = "out of memory";
		r = KW_ERR_NOMEM;
		goto out;
	}
	*ret_key = key;
	key = NULL;   /* transferred */
	if (ret_info != NULL) {
		*ret_info = info;
		info = NULL;
	}
	r = 0;
out:
	ERR_clear_error();
	json_decref(info);
	EVP_PKEY_free(key);
	X509_STORE_CTX_free(ctx);
	X509_free(x);
	return r;
}
