/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_jwe_compact: att_jwe_decrypt over arbitrary bytes. The RSA key below
 * is a throw-away FUZZING key (generated for this file, protects nothing), so
 * that seeds encrypted to it (gen_corpus.py) reach the OAEP, HMAC and CBC
 * stages instead of stopping at the first check.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/pem.h>

#include "attester.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char fuzz_key_pem[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQC39PUZkQ5DRxfo\n"
	"f5E7vIa+pEOLLxQ/xvsJbF6nGgro3h1EXePZeA3Noqc2/9BEhwA5KH7+AO3jCrqk\n"
	"BT7n7BIAzag4NTK1IAYzPFY+IvC2HTfq07LbaNpC8w5+PbZdUPAL+ida0WgrPFuW\n"
	"PVKZvzBi8cnlNUQggkUpNx/Gn8tTiY38nt4+1vBs+T9dRU6DIcUybgWnUuJcP7sG\n"
	"dOuN3w5iv15rGtw5qt8nzyVuEXvZwWdVSSfV9gJUwPmXbP4Rz/oOR1U5qEYpw6qd\n"
	"NfidkJvxiu/9pi5UuEE7fGO098pRdd19d+vO9ZbPh+AcfODL40UjKNO0baPlUSrE\n"
	"ZyYRrvQvAgMBAAECggEAF1sbDsVw2FA7nrHU/eQi/tZ6mukoetZ9LgZGgunWuRfm\n"
	"WF/2sLhCQbm6iExKJEE4YTQdN4u6UwlxhqdXLs61ackIEtGHoCEyQv67URqnkZUR\n"
	"HJgHTT3j+acZenlvC4GzZe87YEJWev19VWHGIy4ilcAZgFKsf9d6XNAaZoyy8zvm\n"
	"/hXIvRiy+h1buTWqT1BK/iJJCzIMVX2Fnba3ZHGYUC9NIWqo4i4bv07SKAARhHTK\n"
	"eGpio5NDo6lwF7d3V76l3nwBIiCFWnXU9ey+jjsNvOZXy4w1nV485fCGtRI4Ca4n\n"
	"JvByDIfHrcg14Jqb3P0pa8bTTT7IDNsXepsMxbgR2QKBgQDpH7s9KXZk362jWSQE\n"
	"jltLDc8+u7yOSD2v8ZRZqFlKu4QMRHuktDiEbveAtenq/vje0rCWr9Xd/13KkpsS\n"
	"+0RwXSx6zyzGT4SwDq2KrydCIctED6Jlfmo1Fm+OYdt67OJC9co9F0KVfi8TeeNL\n"
	"F3ka6IlfcVbksBRFw3NQGY3UeQKBgQDKAhuSmKh/8DVdiHqrSReGt+jkcOOU0bdr\n"
	"/igNQj84R3QDYgB+zmYLhwUE/KySjmbqHVF4STUCmcnY/J53GSu1Q0tNFmyvpff3\n"
	"v8iBcrPeDl2X54NCUewz8L6wGYi0x9uy8fpFIk8oTTuU/XKa5rYibTHgyuiZThJx\n"
	"PXFmvxlT5wKBgQDc4kP236JeUdGkRIHsDzZRFvSW7CrsZWaNnsiBaxGvzZyAQyMk\n"
	"G96xHLNGMRdCofQMrHTFUjXB8oRbvC1S/uEJ1j6e3k3+WLnQVxf3n54C+yItiuLE\n"
	"Z9MaGff5YJ8lCe4Yo+rLl45vNvBD8+l47PTCmjIPTMSYSn3q3BYWfx/zgQKBgQCf\n"
	"gKiKyPULB/zrHI9XXcAwxFgkwCpCYJEGuUigp3VJl8m3vhMMDSav5W2GMYiFs+D4\n"
	"7Cte4db0db/WECmDeqFzX24+sP0id9bijVDhPVNee1NVVRzkKdFqdaXrYE38CG6l\n"
	"zcDCA8Qi21C3ZKOwQYkAh93BVBXyrp2LQmufKDb0cwKBgDQmkdhhPLKB+5FjmsWj\n"
	"vYBDttyklY+QtL/JgmubsNl78XSjyGDe4sg4W/ybejbCetxjxooecaNU9xAXeSml\n"
	"Ujt05hcnqWGoy+mUHCIUcfzkkl29FRu0uQHMnTrL1YJIbAhBmCG4YfxuC+NqSn3r\n"
	"aNq72lG2r94ef1dqfHSRZPu3\n"
	"-----END PRIVATE KEY-----\n";

static EVP_PKEY *
fuzz_key(void)
{
	static EVP_PKEY *k;

	if (k == NULL) {
		BIO *b = BIO_new_mem_buf(fuzz_key_pem, -1);

		if (b == NULL || (k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL)) == NULL)
			abort();
		BIO_free(b);
	}
	return k;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kw_secret *pt = NULL;
	char *kid = NULL;
	int r;

	r = att_jwe_decrypt((const char *)data, size, fuzz_key(), &pt, &kid);
	if (r == 0) {
		/* contract: a non-empty payload, never larger than the input */
		if (pt == NULL || kw_secret_len(pt) == 0 || kw_secret_len(pt) > size)
			abort();
	} else if (pt != NULL || kid != NULL || r > 0) {
		abort(); /* ret_* written on failure */
	}
	kw_secret_free(pt);
	free(kid);
	return 0;
}
