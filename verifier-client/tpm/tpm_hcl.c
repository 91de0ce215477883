/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Azure HCL report (tpm_hcl.h): header, hardware report slot, runtime
 * data header, var_data JSON and its HCLAkPub JWK, all through kw_rd.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "kw_json.h"
#include "kw_jwk.h"
#include "kw_rd.h"
#include "kw_util.h"
#include "tpm_hcl.h"

#define HCL_MIN_AK_BITS 2048
#define HCL_MAX_AK_BITS 4096
#define HCL_MAX_USER_DATA 128            /* hex characters: 64 bytes */

const char *
tpm_hcl_type_name(enum tpm_hcl_type t)
{
	return t == TPM_HCL_TDX ? "tdx" : "snp";
}

void
tpm_hcl_free(struct tpm_hcl *h)
{
	if (h == NULL)
		return;
	free(h->hw_report);
	free(h->var_data);
	json_decref(h->runtime);
	EVP_PKEY_free(h->ak);
	free(h);
}

/* 1 when all n bytes of p are zero. */
static int
all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

/* The one "HCLAkPub" JWK of var_data's "keys" as an RSA EVP_PKEY. */
static int
hcl_ak(const json_t *runtime, EVP_PKEY **ret, const char **why)
{
	const json_t *keys = json_object_get(runtime, "keys"), *k, *ak = NULL;
	const char *kty;
	EVP_PKEY *pkey = NULL;
	size_t i;
	int r, bits;

	*why = "HCL var_data.keys must be an array of JWKs";
	if (!json_is_array(keys))
		return KW_ERR_INVALID_FORMAT;
	json_array_foreach(keys, i, k) {
		const char *kid = json_string_value(json_object_get(k, "kid"));

		if (!json_is_object(k))
			return KW_ERR_INVALID_FORMAT;
		if (kid == NULL || strcmp(kid, "HCLAkPub") != 0)
			continue;
		if (ak != NULL) {
			*why = "HCL var_data holds more than one HCLAkPub key";
			return KW_ERR_INVALID_FORMAT;
		}
		ak = k;
	}
	if (ak == NULL) {
		*why = "HCL var_data holds no HCLAkPub key";
		return KW_ERR_INVALID_FORMAT;
	}
	*why = "HCLAkPub must be an RSA public JWK (2048..4096 bits)";
	kty = json_string_value(json_object_get(ak, "kty"));
	if (kty == NULL || strcmp(kty, "RSA") != 0)
		return KW_ERR_UNSUPPORTED;
	if ((r = kw_jwk_import_public(ak, &pkey)) != 0)
		return r == KW_ERR_NOMEM ? r : (r == KW_ERR_UNSUPPORTED ? r : KW_ERR_INVALID_FORMAT);
	bits = EVP_PKEY_get_bits(pkey);
	if (bits < HCL_MIN_AK_BITS || bits > HCL_MAX_AK_BITS) {
		EVP_PKEY_free(pkey);
		return KW_ERR_UNSUPPORTED;
	}
	*ret = pkey;
	return 0;
}

int
tpm_hcl_parse(const uint8_t *buf, size_t len, struct tpm_hcl **ret, const char **why)
{
	struct kw_rd rd, slot, tail;
	struct tpm_hcl *h = NULL;
	uint32_t magic, version, report_size, request_type, status;
	uint32_t data_size, rt_version, report_type, hash_type, var_size;
	const uint8_t *reserved, *hw, *var, *rest;
	int r;

	*why = "invalid arguments";
	if (buf == NULL || ret == NULL)
		return KW_ERR_INVALID_ARG;
	*why = "HCL report too large";
	if (len > TPM_HCL_MAX_REPORT)
		return KW_ERR_TOO_LARGE;
	kw_rd_init(&rd, buf, len);
	*why = "HCL report truncated";
	if ((r = kw_rd_u32le(&rd, &magic)) != 0 || (r = kw_rd_u32le(&rd, &version)) != 0 ||
	    (r = kw_rd_u32le(&rd, &report_size)) != 0 || (r = kw_rd_u32le(&rd, &request_type)) != 0 ||
	    (r = kw_rd_u32le(&rd, &status)) != 0 || (r = kw_rd_bytes(&rd, 12, &reserved)) != 0 ||
	    (r = kw_rd_sub(&rd, TPM_HCL_HW_SLOT, &slot)) != 0 ||
	    (r = kw_rd_u32le(&rd, &data_size)) != 0 || (r = kw_rd_u32le(&rd, &rt_version)) != 0 ||
	    (r = kw_rd_u32le(&rd, &report_type)) != 0 || (r = kw_rd_u32le(&rd, &hash_type)) != 0 ||
	    (r = kw_rd_u32le(&rd, &var_size)) != 0)
		return KW_ERR_TRUNCATED;
	(void)request_type;   /* 2 in every report seen; not part of what is appraised */
	*why = "not an HCL report (magic)";
	if (magic != TPM_HCL_MAGIC)
		return KW_ERR_INVALID_FORMAT;
	*why = "unsupported HCL report version";
	if (version != 1 && version != 2)
		return KW_ERR_UNSUPPORTED;
	*why = "HCL report header: status or reserved bytes not zero";
	if (status != 0 || !all_zero(reserved, 12))
		return KW_ERR_INVALID_FORMAT;
	*why = "unsupported HCL runtime data (version 1, SHA-256, SNP or TDX)";
	if (rt_version != 1 || hash_type != 1 ||
	    (report_type != TPM_HCL_SNP && report_type != TPM_HCL_TDX))
		return KW_ERR_UNSUPPORTED;
	*why = "HCL var_data too large";
	if (var_size > TPM_HCL_MAX_VAR_DATA)
		return KW_ERR_TOO_LARGE;
	*why = "HCL report sizes are inconsistent";
	if (var_size == 0 || data_size != TPM_HCL_RUNTIME_HEADER_LEN + var_size ||
	    report_size != TPM_HCL_VAR_OFFSET + var_size)
		return KW_ERR_INVALID_FORMAT;
	*why = "HCL report truncated";
	if ((r = kw_rd_bytes(&rd, var_size, &var)) != 0)
		return KW_ERR_TRUNCATED;
	*why = "HCL report: bytes after var_data are not zero";
	tail = rd;
	if (kw_rd_bytes(&tail, tail.len, &rest) != 0 || !all_zero(rest, rd.len))
		return KW_ERR_INVALID_FORMAT;

	if ((h = calloc(1, sizeof(*h))) == NULL) {
		*why = "out of memory";
		return KW_ERR_NOMEM;
	}
	h->version = version;
	h->type = report_type == TPM_HCL_TDX ? TPM_HCL_TDX : TPM_HCL_SNP;
	h->hw_report_len = h->type == TPM_HCL_TDX ? TPM_HCL_TDREPORT_LEN : TPM_HCL_HW_SLOT;
	r = KW_ERR_NOMEM;
	*why = "out of memory";
	if ((h->hw_report = malloc(h->hw_report_len)) == NULL ||
	    (h->var_data = malloc(var_size)) == NULL)
		goto fail;
	if ((r = kw_rd_bytes(&slot, h->hw_report_len, &hw)) != 0)
		goto fail;   /* cannot happen: the slot is 1184 bytes */
	memcpy(h->hw_report, hw, h->hw_report_len);
	if (h->type == TPM_HCL_TDX) {
		*why = "HCL report: the TDREPORT is not a TDX report or its slot is not zero-padded";
		r = KW_ERR_INVALID_FORMAT;
		if (hw[0] != 0x81 || !all_zero(slot.p, slot.len))
			goto fail;
		memcpy(h->report_data, hw + TPM_HCL_TDX_REPORT_DATA, sizeof(h->report_data));
	} else {
		memcpy(h->report_data, hw + TPM_HCL_SNP_REPORT_DATA, sizeof(h->report_data));
	}
	memcpy(h->var_data, var, var_size);
	h->var_data_len = var_size;
	if ((r = kw_sha256(h->var_data, h->var_data_len, h->var_data_sha256)) != 0) {
		*why = "internal error";
		goto fail;
	}
	if ((r = kw_json_parse(h->var_data, h->var_data_len, TPM_HCL_MAX_VAR_DATA, &h->runtime)) != 0) {
		*why = "HCL var_data is not one JSON object";
		r = r == KW_ERR_NOMEM ? r : KW_ERR_INVALID_FORMAT;
		goto fail;
	}
	if ((r = hcl_ak(h->runtime, &h->ak, why)) != 0)
		goto fail;
	*ret = h;   /* transferred */
	return 0;
fail:
	tpm_hcl_free(h);
	return r;
}

int
tpm_hcl_check_binding(const struct tpm_hcl *h, const uint8_t report_data[static 64], const char **why)
{
	if (h == NULL) {
		*why = "invalid arguments";
		return KW_ERR_INVALID_ARG;
	}
	/* constant time: REPORT_DATA is compared like any binding */
	if (CRYPTO_memcmp(report_data, h->var_data_sha256, sizeof(h->var_data_sha256)) != 0) {
		*why = "hardware REPORT_DATA does not match SHA-256(HCL var_data)";
		return KW_ERR_MISMATCH;
	}
	return 0;
}

/* Copy member src of from, when it is a boolean (string: 0) or a short string (1), to name of to; 0 or -1. */
static int
copy_member(json_t *to, const char *name, const json_t *from, const char *src, int string)
{
	json_t *v = json_object_get(from, src);

	if (string ? !json_is_string(v) || json_string_length(v) > 256 : !json_is_boolean(v))
		return 0;
	return json_object_set_new(to, name, json_copy(v));
}

json_t *
tpm_hcl_claims(const struct tpm_hcl *h)
{
	const json_t *vmc = json_object_get(h->runtime, "vm-configuration");
	const char *ud = json_string_value(json_object_get(h->runtime, "user-data"));
	json_t *o = json_object(), *c = json_object();
	uint8_t bin[HCL_MAX_USER_DATA / 2];
	char *hex = NULL;
	size_t udlen = ud != NULL ? strlen(ud) : 0;

	if (o == NULL || c == NULL)
		goto fail;
	if (json_is_object(vmc) &&
	    (copy_member(c, "secure_boot", vmc, "secure-boot", 0) != 0 ||
	    copy_member(c, "tpm_enabled", vmc, "tpm-enabled", 0) != 0 ||
	    copy_member(c, "console_enabled", vmc, "console-enabled", 0) != 0 ||
	    copy_member(c, "vm_unique_id", vmc, "vmUniqueId", 1) != 0))
		goto fail;
	if (json_object_set_new(o, "vm_configuration", c) != 0) {
		c = NULL;   /* stolen, also on failure */
		goto fail;
	}
	c = NULL;   /* transferred */
	/* user-data: hex in either case (Azure writes upper case); normalized */
	if (ud != NULL && udlen > 0 && udlen <= HCL_MAX_USER_DATA && udlen % 2 == 0 &&
	    kw_hex_decode(ud, bin, udlen / 2) == 0) {
		if (kw_hex_encode(bin, udlen / 2, &hex) != 0 ||
		    json_object_set_new(o, "user_data", json_string(hex)) != 0)
			goto fail;
	}
	if (json_object_set_new(o, "hcl_version", json_integer(h->version)) != 0)
		goto fail;
	free(hex);
	return o;
fail:
	free(hex);
	json_decref(c);
	json_decref(o);
	return NULL;
}
