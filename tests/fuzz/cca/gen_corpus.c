/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cca_gen_corpus DIR: writes files under DIR/cca_token — emulated CCA tokens
 * (attester/att_cca_emu.c, freshly generated keys; no vector bytes) and
 * variants: sha-256 realm, debug lifecycle, broken RAK hash, the RAK as the raw
 * point instead of a COSE_Key, and cuts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/ec.h>
#include <openssl/evp.h>

#include "att_cca_emu.h"
#include "kw_util.h"

static int
put(const char *dir, const char *name, const uint8_t *p, size_t n)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/cca_token/%s", dir, name);
	return kw_file_write_atomic(path, p, n, 0644) == 0 ? 0 : -1;
}

int
main(int argc, char **argv)
{
	struct att_cca_emu_opts o;
	EVP_PKEY *cpak, *rak;
	uint8_t *tok = NULL;
	size_t len = 0;
	char sub[4096];
	int bad = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: cca_gen_corpus DIR\n");
		return 2;
	}
	snprintf(sub, sizeof(sub), "%s/cca_token", argv[1]);
	(void)mkdir(sub, 0755);
	if ((cpak = EVP_EC_gen("P-384")) == NULL || (rak = EVP_EC_gen("P-384")) == NULL)
		return 1;
	att_cca_emu_opts_default(&o);
	for (int v = 0; v < 5; v++) {
		static const char *const names[] = {"emulated", "sha256-realm", "debug-lifecycle", "bad-rak-hash",
			"raw-point-rak"};

		att_cca_emu_opts_default(&o);
		o.realm_hash_alg = v == 1 ? "sha-256" : "sha-512";
		o.lifecycle = v == 2 ? 0x5000 : 0x3000;
		o.break_rak_hash = v == 3;
		o.rak_raw_point = v == 4;
		if (att_cca_emu_token(cpak, rak, &o, &tok, &len) != 0)
			return 1;
		bad |= put(argv[1], names[v], tok, len);
		if (v == 0) {
			bad |= put(argv[1], "cut-collection", tok, 9);
			bad |= put(argv[1], "cut-platform", tok, len / 3);
			bad |= put(argv[1], "cut-realm", tok, len - 40);
		}
		free(tok);
	}
	EVP_PKEY_free(cpak);
	EVP_PKEY_free(rak);
	return bad ? 1 : 0;
}
