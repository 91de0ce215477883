/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bytes -> kw_rsa_spki_decode. Properties: what decodes re-encodes to the
 * same bytes, and OpenSSL's generic decoder reads the same key from them.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "kw_jwk.h"
#include "kw_spki.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *n = NULL, *e = NULL, *der = NULL, *n2 = NULL, *e2 = NULL;
	size_t nlen = 0, elen = 0, dlen = 0, n2len = 0, e2len = 0;
	const unsigned char *p = data;
	EVP_PKEY *k;

	if (kw_rsa_spki_decode(data, size, &n, &nlen, &e, &elen) != 0)
		return 0;
	if (kw_rsa_spki_encode(n, nlen, e, elen, &der, &dlen) != 0 || dlen != size ||
	    memcmp(der, data, size) != 0)
		abort();
	/* OpenSSL may refuse keys it finds unusable (e.g. an even modulus); when it reads one, it is ours */
	if ((k = d2i_PUBKEY(NULL, &p, (long)size)) != NULL) {
		if (kw_jwk_rsa_components(k, &n2, &n2len, &e2, &e2len) != 0 || n2len != nlen ||
		    memcmp(n2, n, nlen) != 0 || e2len != elen || memcmp(e2, e, elen) != 0)
			abort();
		EVP_PKEY_free(k);
	}
	free(n);
	free(e);
	free(der);
	free(n2);
	free(e2);
	return 0;
}
