/* SPDX-License-Identifier: Apache-2.0 */
/* A software checkpoint signer for tests and tools (audit_soft.h). */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>

#include "audit_soft.h"

EVP_PKEY *
audit_soft_key(void)
{
	return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

int
audit_soft_sign(void *arg, const uint8_t digest[static 32], uint8_t ret_sig[static AUDIT_ECDSA_SIG_LEN])
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(arg, NULL);
	unsigned char der[80];
	const unsigned char *p = der;
	size_t dlen = sizeof(der);
	ECDSA_SIG *s = NULL;
	int r = KW_ERR_CRYPTO;

	if (ctx == NULL || EVP_PKEY_sign_init(ctx) != 1 ||
	    EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) != 1 ||
	    EVP_PKEY_sign(ctx, der, &dlen, digest, 32) != 1)
		goto out;
	if ((s = d2i_ECDSA_SIG(NULL, &p, (long)dlen)) == NULL)
		goto out;
	if (BN_bn2binpad(ECDSA_SIG_get0_r(s), ret_sig, 32) != 32 ||
	    BN_bn2binpad(ECDSA_SIG_get0_s(s), ret_sig + 32, 32) != 32)
		goto out;
	r = 0;
out:
	ECDSA_SIG_free(s);
	EVP_PKEY_CTX_free(ctx);
	return r;
}
