/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/objects.h>
#include <openssl/err.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "kw_x509.h"

int
kw_x509_subject_cn(const X509 *x, char *out, size_t n)
{
	const X509_NAME *nm = X509_get_subject_name(x);
	const X509_NAME_ENTRY *e;
	const ASN1_STRING *s;
	int i, len;

	if (nm == NULL || (i = X509_NAME_get_index_by_NID(nm, NID_commonName, -1)) < 0 ||
	    X509_NAME_get_index_by_NID(nm, NID_commonName, i) >= 0)
		return -1;
	if ((e = X509_NAME_get_entry(nm, i)) == NULL || (s = X509_NAME_ENTRY_get_data(e)) == NULL)
		return -1;
	len = ASN1_STRING_length(s);
	if (len <= 0 || (size_t)len >= n || memchr(ASN1_STRING_get0_data(s), 0, (size_t)len) != NULL)
		return -1;
	memcpy(out, ASN1_STRING_get0_data(s), (size_t)len);
	out[len] = '\0';
	return 0;
}

int
kw_x509_ext_value(const X509 *x, const char *oid, const uint8_t **ret, size_t *ret_len)
{
	ASN1_OBJECT *obj = NULL;
	const ASN1_OCTET_STRING *os;
	int i, r = KW_ERR_INVALID_FORMAT;

	if ((obj = OBJ_txt2obj(oid, 1)) == NULL)
		return KW_ERR_NOMEM;
	if ((i = X509_get_ext_by_OBJ(x, obj, -1)) < 0) {
		r = KW_ERR_NOT_FOUND;
		goto out;
	}
	if (X509_get_ext_by_OBJ(x, obj, i) >= 0)
		goto out;   /* duplicate */
	if ((os = X509_EXTENSION_get_data(X509_get_ext(x, i))) == NULL || ASN1_STRING_length(os) <= 0)
		goto out;
	*ret = ASN1_STRING_get0_data(os);
	*ret_len = (size_t)ASN1_STRING_length(os);
	r = 0;
out:
	ASN1_OBJECT_free(obj);
	return r;
}

int
kw_asn1_time(const ASN1_TIME *t, int64_t *ret)
{
	struct tm tm;
	time_t v;

	memset(&tm, 0, sizeof(tm));
	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return KW_ERR_INVALID_FORMAT;
	if ((v = timegm(&tm)) == (time_t)-1)
		return KW_ERR_INVALID_FORMAT;
	*ret = (int64_t)v;
	return 0;
}

int
kw_x509_window(const X509 *x, int64_t *ret_nb, int64_t *ret_na)
{
	int64_t nb, na;

	if (kw_asn1_time(X509_get0_notBefore(x), &nb) != 0 || kw_asn1_time(X509_get0_notAfter(x), &na) != 0)
		return KW_ERR_INVALID_FORMAT;
	*ret_nb = nb;
	*ret_na = na;
	return 0;
}

int
kw_x509_verify_path(X509 *const *c, size_t n, int64_t at, unsigned long flags)
{
	X509_STORE *store = NULL;
	X509_STORE_CTX *ctx = NULL;
	STACK_OF(X509) *untrusted = NULL, *built;
	X509_VERIFY_PARAM *vp;
	int r = KW_ERR_NOMEM, err;

	if (c == NULL || n < 2 || n > 64)
		return KW_ERR_INVALID_ARG;
	if ((store = X509_STORE_new()) == NULL || (untrusted = sk_X509_new_null()) == NULL ||
	    (ctx = X509_STORE_CTX_new()) == NULL)
		goto out;
	if (X509_STORE_add_cert(store, c[n - 1]) != 1)
		goto out;
	for (size_t i = 1; i + 1 < n; i++)
		if (sk_X509_push(untrusted, c[i]) <= 0)   /* borrowed */
			goto out;
	r = KW_ERR_INTERNAL;
	if (X509_STORE_CTX_init(ctx, store, c[0], untrusted) != 1)
		goto out;
	vp = X509_STORE_CTX_get0_param(ctx);
	if (at >= 0)
		X509_VERIFY_PARAM_set_time(vp, (time_t)at);
	else
		flags |= X509_V_FLAG_NO_CHECK_TIME;
	X509_VERIFY_PARAM_set_flags(vp, flags);
	X509_VERIFY_PARAM_set_depth(vp, (int)n - 2);
	r = KW_ERR_CERT_INVALID;
	if (X509_verify_cert(ctx) != 1) {
		err = X509_STORE_CTX_get_error(ctx);
		if (err == X509_V_ERR_CERT_HAS_EXPIRED || err == X509_V_ERR_CERT_NOT_YET_VALID)
			r = KW_ERR_CERT_EXPIRED;
		goto out;
	}
	if ((built = X509_STORE_CTX_get0_chain(ctx)) == NULL || (size_t)sk_X509_num(built) != n)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (X509_cmp(sk_X509_value(built, (int)i), c[i]) != 0)
			goto out;
	r = 0;
out:
	X509_STORE_CTX_free(ctx);
	sk_X509_free(untrusted);
	X509_STORE_free(store);
	ERR_clear_error();
	return r;
}
