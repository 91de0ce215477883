/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TEE keys and the runtime-data / report-data binding.
 *
 * RNG: inside a SEV-SNP guest the kernel RNG is seeded from RDRAND/RDSEED,
 * which the hypervisor cannot intercept, so getrandom(2) is the platform RNG.
 * OpenSSL 3's default DRBG seeds itself from getrandom(2); att_rng_check()
 * makes that dependency explicit, fails early when the kernel RNG is not
 * readable and mixes 32 extra bytes into the DRBG with RAND_add().
 */
#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>

#include "attester.h"
#include "kw_json.h"
#include "kw_jwk.h"
#include "kw_util.h"

#define ATT_RSA_BITS 3072
#define ATT_MAX_NONCE 1024

int
att_rng_check(void)
{
	uint8_t buf[32];
	size_t got = 0;
	int r = KW_ERR_UNAVAILABLE;

	while (got < sizeof(buf)) {
		ssize_t n = getrandom(buf + got, sizeof(buf) - got, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			goto out;
		}
		got += (size_t)n;
	}
	RAND_add(buf, (int)sizeof(buf), (double)sizeof(buf));
	if (RAND_status() != 1)
		goto out;
	r = 0;
out:
	kw_wipe(buf, sizeof(buf));
	return r;
}

int
att_keys_generate(struct att_keys **ret)
{
	struct att_keys *k = NULL;
	int r = KW_ERR_CRYPTO;

	if (ret == NULL)
		return KW_ERR_INVALID_ARG;
	if ((k = calloc(1, sizeof(*k))) == NULL)
		return KW_ERR_NOMEM;
	/* EVP_RSA_gen / EVP_EC_gen use the default DRBG checked above. */
	if ((k->enc = EVP_RSA_gen(ATT_RSA_BITS)) == NULL)
		goto out;
	if ((k->sig = EVP_EC_gen("P-256")) == NULL)
		goto out;
	*ret = k;
	k = NULL; /* transferred */
	r = 0;
out:
	att_keys_free(k);
	return r;
}

void
att_keys_free(struct att_keys *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->enc);
	EVP_PKEY_free(k->sig);
	free(k);
}

int
att_runtime_data_build(const char *nonce, const struct att_keys *keys, const json_t *config,
    json_t **ret)
{
	json_t *rd = NULL, *pub = NULL, *sig = NULL, *cfg = NULL;
	int r = KW_ERR_INVALID_ARG;

	if (nonce == NULL || keys == NULL || keys->enc == NULL || keys->sig == NULL || ret == NULL)
		return KW_ERR_INVALID_ARG;
	if (nonce[0] == '\0' || strlen(nonce) > ATT_MAX_NONCE)
		return KW_ERR_INVALID_ARG;
	if (config != NULL && !json_is_object(config))
		return KW_ERR_INVALID_ARG;
	if ((r = kw_jwk_export_public(keys->enc, &pub)) != 0)
		goto out;
	if ((r = kw_jwk_export_public(keys->sig, &sig)) != 0)
		goto out;
	cfg = config != NULL ? json_deep_copy(config) : json_object();
	rd = json_object();
	if (cfg == NULL || rd == NULL) {
		r = KW_ERR_NOMEM;
		goto out;
	}
	/* json_object_set_new steals the reference even on failure. */
	if (json_object_set_new(rd, "nonce", json_string(nonce)) != 0 ||
	    json_object_set_new(rd, "tee-pubkey", pub) != 0 ||
	    json_object_set_new(rd, "tee-sigkey", sig) != 0 ||
	    json_object_set_new(rd, "config", cfg) != 0) {
		pub = sig = cfg = NULL;
		r = KW_ERR_NOMEM;
		goto out;
	}
	pub = sig = cfg = NULL; /* owned by rd */
	*ret = rd;
	rd = NULL; /* transferred */
	r = 0;
out:
	json_decref(pub);
	json_decref(sig);
	json_decref(cfg);
	json_decref(rd);
	return r;
}

int
att_report_data(const json_t *runtime_data, uint8_t ret[static ATT_REPORT_DATA_LEN])
{
	char *jcs = NULL;
	size_t len = 0;
	int r;

	if (runtime_data == NULL || !json_is_object(runtime_data))
		return KW_ERR_INVALID_ARG;
	if ((r = kw_jcs_serialize(runtime_data, &jcs, &len)) != 0)
		return r;
	memset(ret, 0, ATT_REPORT_DATA_LEN);
	r = kw_sha384(jcs, len, ret);
	free(jcs);
	return r;
}
