/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The SPDM 1.1 GET_MEASUREMENTS transcript of an NVIDIA GPU (nvgpu.h):
 * bounded parsing with kw_rd and the opaque fields as claims.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kw_rd.h"
#include "kw_util.h"
#include "nvgpu.h"

#define SPDM_VERSION_11 0x11
#define SPDM_GET_MEASUREMENTS 0xE0
#define SPDM_MEASUREMENTS 0x60
#define SPDM_DMTF_SPEC 0x01
#define SPDM_ALL_BLOCKS 0xFF
#define SPDM_MAX_SLOT 7

static int
parse_request(struct kw_rd *rd, struct nvgpu_report *r)
{
	uint8_t code;
	int e;

	if ((e = kw_rd_u8(rd, &r->version)) != 0 || (e = kw_rd_u8(rd, &code)) != 0 ||
	    (e = kw_rd_u8(rd, &r->req_param1)) != 0 || (e = kw_rd_u8(rd, &r->req_param2)) != 0 ||
	    (e = kw_rd_bytes(rd, NVGPU_NONCE_LEN, &r->nonce)) != 0 || (e = kw_rd_u8(rd, &r->slot)) != 0)
		return e;
	if (r->version != SPDM_VERSION_11)
		return KW_ERR_UNSUPPORTED;
	if (code != SPDM_GET_MEASUREMENTS || (r->req_param1 & 0x01) == 0 ||
	    r->req_param2 != SPDM_ALL_BLOCKS || r->slot > SPDM_MAX_SLOT)
		return KW_ERR_INVALID_FORMAT;
	return 0;
}

/* One DMTF measurement block (DSP0274 1.1, table "Measurement block format"). */
static int
parse_block(struct kw_rd *rd, struct nvgpu_block *b)
{
	struct kw_rd sub;
	uint8_t spec;
	uint16_t size, vsize;
	int e;

	if ((e = kw_rd_u8(rd, &b->index)) != 0 || (e = kw_rd_u8(rd, &spec)) != 0 ||
	    (e = kw_rd_u16le(rd, &size)) != 0 || (e = kw_rd_sub(rd, size, &sub)) != 0)
		return e;
	if (b->index == 0 || spec != SPDM_DMTF_SPEC)
		return KW_ERR_INVALID_FORMAT;
	if ((e = kw_rd_u8(&sub, &b->value_type)) != 0 || (e = kw_rd_u16le(&sub, &vsize)) != 0)
		return e == KW_ERR_TRUNCATED ? KW_ERR_INVALID_FORMAT : e;
	if (vsize == 0 || vsize > NVGPU_MAX_VALUE)
		return KW_ERR_INVALID_FORMAT;
	if (kw_rd_bytes(&sub, vsize, &b->value) != 0 || kw_rd_end(&sub) != 0)
		return KW_ERR_INVALID_FORMAT;   /* the DMTF size must be exactly the block size */
	b->value_len = vsize;
	return 0;
}

static int
parse_opaque(struct kw_rd *od, struct nvgpu_report *r)
{
	while (od->len > 0) {
		struct nvgpu_tlv *t;
		uint16_t type, size;
		int e;

		if (r->ntlvs == NVGPU_MAX_TLVS)
			return KW_ERR_TOO_LARGE;
		t = &r->tlvs[r->ntlvs];
		if ((e = kw_rd_u16le(od, &type)) != 0 || (e = kw_rd_u16le(od, &size)) != 0 ||
		    (e = kw_rd_bytes(od, size, &t->value)) != 0)
			return KW_ERR_INVALID_FORMAT;   /* a field that overruns OpaqueLength */
		for (size_t i = 0; i < r->ntlvs; i++)
			if (r->tlvs[i].type == type)
				return KW_ERR_INVALID_FORMAT;
		t->type = type;
		t->len = size;
		r->ntlvs++;
	}
	return 0;
}

int
nvgpu_report_parse(const uint8_t *p, size_t len, struct nvgpu_report *ret)
{
	static struct nvgpu_report zero;
	struct nvgpu_report r = zero;
	struct kw_rd rd, rec, od;
	uint8_t version, code, nblocks;
	uint16_t olen;
	uint32_t reclen;
	const uint8_t *rl;
	int e;

	if (p == NULL || ret == NULL)
		return KW_ERR_INVALID_ARG;
	if (len > NVGPU_MAX_REPORT)
		return KW_ERR_TOO_LARGE;
	kw_rd_init(&rd, p, len);
	if ((e = parse_request(&rd, &r)) != 0)
		return e;
	if ((e = kw_rd_u8(&rd, &version)) != 0 || (e = kw_rd_u8(&rd, &code)) != 0 ||
	    (e = kw_rd_u8(&rd, &r.rsp_param1)) != 0 || (e = kw_rd_u8(&rd, &r.rsp_param2)) != 0 ||
	    (e = kw_rd_u8(&rd, &nblocks)) != 0 || (e = kw_rd_bytes(&rd, 3, &rl)) != 0)
		return e;
	if (version != r.version)
		return KW_ERR_INVALID_FORMAT;
	if (code != SPDM_MEASUREMENTS || (r.rsp_param2 & 0x0F) != r.slot)
		return KW_ERR_INVALID_FORMAT;
	reclen = (uint32_t)rl[0] | (uint32_t)rl[1] << 8 | (uint32_t)rl[2] << 16;
	if ((e = kw_rd_sub(&rd, reclen, &rec)) != 0)
		return e;
	for (size_t i = 0; i < nblocks; i++) {
		if ((e = parse_block(&rec, &r.blocks[i])) != 0)
			return e == KW_ERR_TRUNCATED ? KW_ERR_INVALID_FORMAT : e;
		if (i > 0 && r.blocks[i].index <= r.blocks[i - 1].index)
			return KW_ERR_INVALID_FORMAT;
	}
	if (kw_rd_end(&rec) != 0)
		return KW_ERR_INVALID_FORMAT;   /* record longer than its blocks */
	r.nblocks = nblocks;
	if ((e = kw_rd_bytes(&rd, NVGPU_NONCE_LEN, &r.rsp_nonce)) != 0 ||
	    (e = kw_rd_u16le(&rd, &olen)) != 0 || (e = kw_rd_sub(&rd, olen, &od)) != 0)
		return e;
	if ((e = parse_opaque(&od, &r)) != 0)
		return e;
	r.signed_bytes = p;
	r.signed_len = len - rd.len;
	if ((e = kw_rd_bytes(&rd, NVGPU_SIG_LEN, &r.sig)) != 0)
		return e;
	/* real reports may carry a zero byte after the signature: not signed, not used */
	if (rd.len > NVGPU_MAX_TRAILING || !kw_all_zero(rd.p, rd.len))
		return KW_ERR_TRAILING;
	r.trailing = rd.len;
	*ret = r;
	return 0;
}

const struct nvgpu_tlv *
nvgpu_report_tlv(const struct nvgpu_report *r, uint16_t type)
{
	for (size_t i = 0; i < r->ntlvs; i++)
		if (r->tlvs[i].type == type)
			return &r->tlvs[i];
	return NULL;
}

/*
 * A NUL-padded ASCII field as a string (at most 63 characters): trailing
 * NULs removed, the rest printable. 0, or KW_ERR_INVALID_FORMAT.
 */
static int
ascii_field(const struct nvgpu_tlv *t, char out[static 64])
{
	size_t n = t->len;

	while (n > 0 && t->value[n - 1] == 0)
		n--;
	if (n >= 64)
		return KW_ERR_INVALID_FORMAT;
	for (size_t i = 0; i < n; i++)
		if (t->value[i] < 0x20 || t->value[i] > 0x7e)
			return KW_ERR_INVALID_FORMAT;
	memcpy(out, t->value, n);
	out[n] = '\0';
	return 0;
}

static int
set_str(json_t *o, const char *k, const char *v)
{
	return json_object_set_new(o, k, json_string(v)) != 0 ? KW_ERR_NOMEM : 0;
}

static int
set_hex(json_t *o, const char *k, const uint8_t *v, size_t n)
{
	char *hex = NULL;
	int e;

	if ((e = kw_hex_encode(v, n, &hex)) != 0)
		return e;
	e = json_object_set_new(o, k, json_string(hex)) != 0 ? KW_ERR_NOMEM : 0;
	free(hex);
	return e;
}

/* The ASCII fields: claim name, TLV type; absent fields give no claim. */
static const struct {
	const char *claim;
	uint16_t type;
} ascii_fields[] = {
	{"driver_version", NVGPU_TLV_DRIVER_VERSION},
	{"chip_sku", NVGPU_TLV_CHIP_SKU},
	{"chip_sku_mod", NVGPU_TLV_CHIP_SKU_MOD},
	{"project", NVGPU_TLV_PROJECT},
	{"project_sku", NVGPU_TLV_PROJECT_SKU},
	{"project_sku_mod", NVGPU_TLV_PROJECT_SKU_MOD},
};

/* A one-byte status (0xAA enabled, 0x55 disabled in NVIDIA's encoding). */
static const char *
status_name(uint8_t v)
{
	return v == 0xAA ? "enabled" : v == 0x55 ? "disabled" : "unknown";
}

static int
opaque_claims(const struct nvgpu_report *r, json_t *o)
{
	const struct nvgpu_tlv *t;
	char s[64];
	int e;

	for (size_t i = 0; i < sizeof(ascii_fields) / sizeof(ascii_fields[0]); i++) {
		if ((t = nvgpu_report_tlv(r, ascii_fields[i].type)) == NULL)
			continue;
		if ((e = ascii_field(t, s)) != 0)
			return e;
		if (s[0] != '\0' && (e = set_str(o, ascii_fields[i].claim, s)) != 0)
			return e;
	}
	if ((t = nvgpu_report_tlv(r, NVGPU_TLV_VBIOS_VERSION)) != NULL) {
		/* 8 bytes, printed as NVIDIA does: bytes 3.2.1.0.4 in hex (96.00.9f.00.01) */
		if (t->len != 8)
			return KW_ERR_INVALID_FORMAT;
		snprintf(s, sizeof(s), "%02x.%02x.%02x.%02x.%02x", t->value[3], t->value[2], t->value[1],
		    t->value[0], t->value[4]);
		if ((e = set_str(o, "vbios_version", s)) != 0)
			return e;
	}
	if ((t = nvgpu_report_tlv(r, NVGPU_TLV_BOARD_ID)) != NULL) {
		if (t->len != 4)
			return KW_ERR_INVALID_FORMAT;
		if (json_object_set_new(o, "board_id", json_integer((json_int_t)t->value[0] |
		    (json_int_t)t->value[1] << 8 | (json_int_t)t->value[2] << 16 |
		    (json_int_t)t->value[3] << 24)) != 0)
			return KW_ERR_NOMEM;
	}
	/*
	 * cc_mode: the signed FEATURE_FLAG (36) of drivers that report one
	 * (0 single-GPU passthrough "spt", 1 multi-GPU "mpt", 2 protected PCIe
	 * "ppcie"); reports without it (drivers before the field existed) are
	 * single-GPU confidential computing: "legacy".
	 */
	if ((t = nvgpu_report_tlv(r, NVGPU_TLV_FEATURE_FLAG)) != NULL) {
		if (t->len < 1 || t->len > 4)
			return KW_ERR_INVALID_FORMAT;
		e = set_str(o, "cc_mode", t->value[0] == 0 ? "spt" : t->value[0] == 1 ? "mpt" :
		    t->value[0] == 2 ? "ppcie" : "unknown");
	} else {
		e = set_str(o, "cc_mode", "legacy");
	}
	if (e != 0)
		return e;
	if ((t = nvgpu_report_tlv(r, NVGPU_TLV_PROTECTED_PCIE_STATUS)) != NULL) {
		if (t->len != 1)
			return KW_ERR_INVALID_FORMAT;
		if ((e = set_str(o, "protected_pcie", status_name(t->value[0]))) != 0)
			return e;
	}
	if ((t = nvgpu_report_tlv(r, NVGPU_TLV_NVDEC0_STATUS)) != NULL) {
		if (t->len != 1)
			return KW_ERR_INVALID_FORMAT;
		if ((e = set_str(o, "nvdec0_status", status_name(t->value[0]))) != 0)
			return e;
	}
	if ((t = nvgpu_report_tlv(r, NVGPU_TLV_OPAQUE_DATA_VERSION)) != NULL) {
		if (t->len != 2)
			return KW_ERR_INVALID_FORMAT;
		if (json_object_set_new(o, "opaque_data_version",
		    json_integer((json_int_t)t->value[0] | (json_int_t)t->value[1] << 8)) != 0)
			return KW_ERR_NOMEM;
	}
	if ((t = nvgpu_report_tlv(r, NVGPU_TLV_FWID)) != NULL) {
		if (t->len == 0 || t->len > 64)
			return KW_ERR_INVALID_FORMAT;
		if ((e = set_hex(o, "fwid", t->value, t->len)) != 0)
			return e;
	}
	return 0;
}

int
nvgpu_report_claims(const struct nvgpu_report *r, json_t **ret)
{
	json_t *o = NULL, *m = NULL;
	char k[4];
	int e = KW_ERR_NOMEM;

	if (r == NULL || ret == NULL)
		return KW_ERR_INVALID_ARG;
	if ((o = json_object()) == NULL || (m = json_object()) == NULL)
		goto out;
	if ((e = opaque_claims(r, o)) != 0)
		goto out;
	/* all-zero blocks are indexes nothing was measured into (docs/verifier-nvgpu.md) */
	for (size_t i = 0; i < r->nblocks; i++) {
		const struct nvgpu_block *b = &r->blocks[i];

		if (kw_all_zero(b->value, b->value_len))
			continue;
		snprintf(k, sizeof(k), "%u", (unsigned int)b->index);
		if ((e = set_hex(m, k, b->value, b->value_len)) != 0)
			goto out;
	}
	e = KW_ERR_NOMEM;
	if (json_object_set_new(o, "measurement_blocks", json_integer((json_int_t)r->nblocks)) != 0 ||
	    json_object_set(o, "measurements", m) != 0)
		goto out;
	*ret = o;
	o = NULL;   /* transferred */
	e = 0;
out:
	json_decref(m);
	json_decref(o);
	return e;
}
