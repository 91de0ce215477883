/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ATT_CCA_EMU_H
#define ATT_CCA_EMU_H

/*
 * Emulated Arm CCA attestation tokens for machines without CCA (TESTING
 * ONLY): a tag 399 collection whose platform token is signed by a generated
 * CPAK (P-384) and whose realm token is signed by a generated RAK (P-384),
 * laid out as docs/verifier-cca.md describes. The implementation id says
 * "NOT ARM". A verifier trusts such tokens only when it is configured with
 * the CPAK as a test anchor (cca.test_cpaks).
 */

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "kw_err.h"

#define ATT_CCA_EMU_CPAK_KEY "cpak.key"        /* in the emulation directory: PEM private key */
#define ATT_CCA_EMU_CPAK_JWK "cpak-pub.json"   /* its public JWK, for a broker's cca.test_cpaks */

struct att_cca_emu_opts {
	uint8_t challenge[64];           /* realm challenge: the binding */
	uint8_t rim[64];                 /* realm initial measurement (first digest-size bytes used) */
	uint8_t rem[4][64];
	uint8_t personalization[64];
	int64_t lifecycle;               /* PSA security lifecycle (default 0x3000, secured) */
	const char *realm_hash_alg;      /* "sha-256" or "sha-512" (default) */
	const char *rak_hash_alg;        /* "sha-256" (default), "sha-384" or "sha-512" */
	int rak_raw_point;               /* claim 44237 is the uncompressed point (the example token's
	                                    form), not a COSE_Key (the default, the realm#1.0.0 form) */
	/* negative tests */
	int break_rak_hash;              /* the platform challenge is not the RAK's hash */
	EVP_PKEY *realm_signer;          /* sign the realm token with this key, not the RAK */
	const uint8_t *rak_claim;        /* claim 44237 carries these bytes (the challenge hashes them) */
	size_t rak_claim_len;
	int hash_point;                  /* the platform challenge hashes the raw point, not claim 44237 */
};

/* Defaults: secured, sha-512 realm, sha-256 RAK hash, a fixed RIM, zero REMs, challenge zero. */
void att_cca_emu_opts_default(struct att_cca_emu_opts *o);

/*
 * The CPAK of dir: dir/cpak.key, made (P-384, mode 0600, with
 * dir/cpak-pub.json) when it does not exist. 0 and a new key, KW_ERR_IO,
 * KW_ERR_INVALID_FORMAT (not a P-384 key), KW_ERR_CRYPTO.
 */
int att_cca_emu_cpak(const char *dir, EVP_PKEY **ret) KW_WUR;

/*
 * A token for o: the platform token signed with cpak, the realm token with
 * rak (both P-384 private keys). 0 and a new buffer (free()), KW_ERR_NOMEM,
 * KW_ERR_CRYPTO, KW_ERR_INVALID_ARG (an unknown hash name).
 */
int att_cca_emu_token(EVP_PKEY *cpak, EVP_PKEY *rak, const struct att_cca_emu_opts *o, uint8_t **ret,
    size_t *ret_len) KW_WUR;

/*
 * kwget --emulate cca: tee-evidence {"token": base64url} for challenge (the
 * 64-byte binding), the platform token signed by the CPAK of dir
 * (att_cca_emu_cpak), the realm token by a fresh RAK. rim48 (or NULL)
 * replaces the first 48 bytes of the default RIM; debug puts the platform
 * in the non-cca-platform-rot-debug lifecycle state. 0 and a new object, or
 * the codes above.
 */
int att_cca_emu_evidence(const char *dir, const uint8_t challenge[static 64], const uint8_t *rim48, int debug,
    json_t **ret) KW_WUR;

#endif
