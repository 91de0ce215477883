/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ATTESTATION_REPORT parser (AMD SEV-SNP ABI spec 56860, table
 * "ATTESTATION_REPORT Structure"; offsets in shared/vectors/FORMATS.md §3).
 * Everything goes through the bounded reader; reserved ranges are checked
 * to be zero, including the unsigned tail after the signature, so no byte of
 * an accepted report can change without the verification failing.
 */
#include <string.h>

#include "kw_rd.h"
#include "snp.h"

/* Consume n bytes that must be zero. */
static int
rd_mbz(struct kw_rd *rd, size_t n)
{
	const uint8_t *b;
	int r;

	if ((r = kw_rd_bytes(rd, n, &b)) != 0)
		return r;
	for (size_t i = 0; i < n; i++)
		if (b[i] != 0)
			return KW_ERR_INVALID_FORMAT;
	return 0;
}

static int
all_zero(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i] != 0)
			return 0;
	return 1;
}

int
snp_report_parse(const uint8_t *buf, size_t len, struct snp_report *ret)
{
	struct snp_report rep;
	struct kw_rd rd;
	int r;

	if (ret == NULL || (buf == NULL && len != 0))
		return KW_ERR_INVALID_ARG;
	if (len < SNP_REPORT_SIZE)
		return KW_ERR_TRUNCATED;
	if (len > SNP_REPORT_SIZE)
		return KW_ERR_TRAILING;
	memset(&rep, 0, sizeof(rep));
	kw_rd_init(&rd, buf, len);

	if ((r = kw_rd_u32le(&rd, &rep.version)) != 0)              /* 0x000 */
		return r;
	if (rep.version != 2 && rep.version != 3 && rep.version != 5)
		return KW_ERR_UNSUPPORTED;
	if ((r = kw_rd_u32le(&rd, &rep.guest_svn)) != 0 ||          /* 0x004 */
	    (r = kw_rd_u64le(&rd, &rep.policy)) != 0 ||             /* 0x008 */
	    (r = kw_rd_copy(&rd, rep.family_id, 16)) != 0 ||        /* 0x010 */
	    (r = kw_rd_copy(&rd, rep.image_id, 16)) != 0 ||         /* 0x020 */
	    (r = kw_rd_u32le(&rd, &rep.vmpl)) != 0 ||               /* 0x030 */
	    (r = kw_rd_u32le(&rd, &rep.sig_algo)) != 0 ||           /* 0x034 */
	    (r = kw_rd_u64le(&rd, &rep.current_tcb)) != 0 ||        /* 0x038 */
	    (r = kw_rd_u64le(&rd, &rep.platform_info)) != 0 ||      /* 0x040 */
	    (r = kw_rd_u32le(&rd, &rep.signer_info)) != 0 ||        /* 0x048 */
	    (r = rd_mbz(&rd, 4)) != 0 ||                            /* 0x04C */
	    (r = kw_rd_copy(&rd, rep.report_data, 64)) != 0 ||      /* 0x050 */
	    (r = kw_rd_copy(&rd, rep.measurement, 48)) != 0 ||      /* 0x090 */
	    (r = kw_rd_copy(&rd, rep.host_data, 32)) != 0 ||        /* 0x0C0 */
	    (r = kw_rd_copy(&rd, rep.id_key_digest, 48)) != 0 ||    /* 0x0E0 */
	    (r = kw_rd_copy(&rd, rep.author_key_digest, 48)) != 0 ||/* 0x110 */
	    (r = kw_rd_copy(&rd, rep.report_id, 32)) != 0 ||        /* 0x140 */
	    (r = kw_rd_copy(&rd, rep.report_id_ma, 32)) != 0 ||     /* 0x160 */
	    (r = kw_rd_u64le(&rd, &rep.reported_tcb)) != 0 ||       /* 0x180 */
	    (r = kw_rd_u8(&rd, &rep.cpuid_fam_id)) != 0 ||          /* 0x188 */
	    (r = kw_rd_u8(&rd, &rep.cpuid_mod_id)) != 0 ||
	    (r = kw_rd_u8(&rd, &rep.cpuid_step)) != 0 ||
	    (r = rd_mbz(&rd, 21)) != 0 ||                           /* 0x18B */
	    (r = kw_rd_copy(&rd, rep.chip_id, 64)) != 0 ||          /* 0x1A0 */
	    (r = kw_rd_u64le(&rd, &rep.committed_tcb)) != 0 ||      /* 0x1E0 */
	    (r = kw_rd_u8(&rd, &rep.current_build)) != 0 ||         /* 0x1E8 */
	    (r = kw_rd_u8(&rd, &rep.current_minor)) != 0 ||
	    (r = kw_rd_u8(&rd, &rep.current_major)) != 0 ||
	    (r = rd_mbz(&rd, 1)) != 0 ||                            /* 0x1EB */
	    (r = kw_rd_u8(&rd, &rep.committed_build)) != 0 ||       /* 0x1EC */
	    (r = kw_rd_u8(&rd, &rep.committed_minor)) != 0 ||
	    (r = kw_rd_u8(&rd, &rep.committed_major)) != 0 ||
	    (r = rd_mbz(&rd, 1)) != 0 ||                            /* 0x1EF */
	    (r = kw_rd_u64le(&rd, &rep.launch_tcb)) != 0 ||         /* 0x1F0 */
	    (r = kw_rd_u64le(&rd, &rep.launch_mit_vector)) != 0 ||  /* 0x1F8 */
	    (r = kw_rd_u64le(&rd, &rep.current_mit_vector)) != 0 || /* 0x200 */
	    (r = rd_mbz(&rd, 0x2A0 - 0x208)) != 0 ||                /* 0x208 */
	    (r = kw_rd_copy(&rd, rep.sig_r, 72)) != 0 ||            /* 0x2A0 */
	    (r = kw_rd_copy(&rd, rep.sig_s, 72)) != 0 ||            /* 0x2E8 */
	    (r = rd_mbz(&rd, SNP_REPORT_SIZE - 0x330)) != 0)        /* 0x330 */
		return r;
	if ((r = kw_rd_end(&rd)) != 0)
		return r;

	if (rep.sig_algo != 1)
		return KW_ERR_UNSUPPORTED;
	if ((rep.policy & SNP_POLICY_RESERVED_1) == 0)
		return KW_ERR_INVALID_FORMAT;
	if ((rep.signer_info & ~0x1FU) != 0)
		return KW_ERR_INVALID_FORMAT;
	/* Version 2 reserves the CPUID bytes, versions before 5 the mitigation vectors. */
	if (rep.version < 3 && (rep.cpuid_fam_id | rep.cpuid_mod_id | rep.cpuid_step) != 0)
		return KW_ERR_INVALID_FORMAT;
	if (rep.version < 5 && (rep.launch_mit_vector | rep.current_mit_vector) != 0)
		return KW_ERR_INVALID_FORMAT;
	/* P-384 R and S use the low 48 bytes of their 72-byte fields. */
	if (!all_zero(rep.sig_r + 48, 24) || !all_zero(rep.sig_s + 48, 24))
		return KW_ERR_INVALID_FORMAT;

	*ret = rep;
	return 0;
}

const char *
snp_product_name(enum snp_product p)
{
	switch (p) {
	case SNP_PRODUCT_MILAN: return "Milan";
	case SNP_PRODUCT_GENOA: return "Genoa";
	case SNP_PRODUCT_TURIN: return "Turin";
	case SNP_PRODUCT_UNKNOWN: break;
	}
	return "unknown";
}

void
snp_tcb_decode(uint64_t raw, enum snp_product p, struct snp_tcb *ret)
{
	struct snp_tcb t;

	memset(&t, 0, sizeof(t));
	if (p == SNP_PRODUCT_TURIN) {
		/* [0] FMC [1] BOOT_LOADER [2] TEE [3] SNP [4..6] reserved [7] MICROCODE */
		t.fmc = (uint8_t)(raw & 0xff);
		t.bl = (uint8_t)((raw >> 8) & 0xff);
		t.tee = (uint8_t)((raw >> 16) & 0xff);
		t.snp = (uint8_t)((raw >> 24) & 0xff);
	} else {
		/* [0] BOOT_LOADER [1] TEE [2..5] reserved [6] SNP [7] MICROCODE */
		t.bl = (uint8_t)(raw & 0xff);
		t.tee = (uint8_t)((raw >> 8) & 0xff);
		t.snp = (uint8_t)((raw >> 48) & 0xff);
	}
	t.ucode = (uint8_t)((raw >> 56) & 0xff);
	*ret = t;
}
