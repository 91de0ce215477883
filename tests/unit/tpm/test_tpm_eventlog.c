/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tpm_eventlog: Google's real Shielded-VM log (gce-vtpm/event_log.bin)
 * replays to the PCR values of every bank and, appraised against the
 * verified sha256 quote, gives the claims that tpm2-tools' independent
 * parser (tpm2_eventlog 5.4) shows for that log; every truncation and
 * every flipped digest bit is refused, flipped event data never changes a
 * claim. Constructed logs exercise what Google's log lacks (StartupLocality,
 * SecureBoot off, systemd-stub load options, EV_EVENT_TAG, digests that do
 * not cover their data) and the parser's refusals.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "kw_util.h"
#include "test_tpm.h"
#include "tpm_eventlog.h"

/*
 * From `tpm2_eventlog gce-vtpm/nonce9009/event_log.bin` (tpm2-tools 5.4): the
 * sha256 digests of the three EV_EFI_BOOT_SERVICES_APPLICATION events in
 * PCR 4, SecureBoot's variable data 01, and the text of the grub EV_IPL
 * event "kernel_cmdline: ..." in PCR 8 (its start and end).
 */
static const char *const gce_apps[] = {
	"dba8d69ffb244496ac8ab2950695d3da539d6ac5ec660fc6b4bdde245284cf23",
	"f7bad83f87940312e4642530a9a6242e88529dc37a497d7d4e7c1c070566d542",
	"6f6afb3caed004e727200a0c310731bd8ab4cd391b2d95cedf67d08e1e8e5e7e",
};
#define GCE_EVENTS 45
#define GCE_CMDLINE_START "/syslinux/vmlinuz.A init=/usr/lib/systemd/systemd boot=local rootwait ro "
#define GCE_CMDLINE_END "salt=40eb77fb9093cbff56a6f9c2214c4f7554817d079513b7c77de4953d6b8ffc16\""

struct gce {
	uint8_t *log;
	size_t len;
	struct tpm_pcrs pcrs;          /* the text files of all three banks */
	uint32_t all[TPM_BANK_COUNT];
};

static void
gce_load(struct gce *g)
{
	char p[4096];

	memset(g, 0, sizeof(*g));
	CU_ASSERT_FATAL(test_slurp(vpath(p, sizeof(p), "gce-vtpm/nonce9009/event_log.bin"), &g->log, &g->len) == 0);
	for (unsigned int b = 0; b < TPM_BANK_COUNT; b++) {
		CU_ASSERT_FATAL(test_pcrs_file(vpath(p, sizeof(p), "gce-vtpm/nonce9009/pcrs_%s.txt",
		    tpm_bank_name((enum tpm_bank)b)), (enum tpm_bank)b, &g->pcrs) == 0);
		g->all[b] = 0xffffff;
	}
}

static void
test_gce_replay(void)
{
	struct gce g;
	struct tpm_eventlog *log = NULL;
	struct tpm_pcrs rp;
	uint32_t touched[TPM_BANK_COUNT];
	const char *why = NULL;
	unsigned int equal = 0;

	gce_load(&g);
	CHECK_RC(tpm_eventlog_parse(g.log, g.len, &log, &why), 0, "%s", why);
	CU_ASSERT_FATAL(log != NULL);
	CU_ASSERT(tpm_eventlog_count(log) == GCE_EVENTS);
	tpm_eventlog_replay(log, &rp, touched);
	for (unsigned int b = 0; b < TPM_BANK_COUNT; b++) {
		CU_ASSERT(touched[b] == 0x3ff);   /* PCR 0..9 */
		for (unsigned int n = 0; n < 10; n++) {
			equal += memcmp(rp.val[b][n], g.pcrs.val[b][n], tpm_bank_size((enum tpm_bank)b)) == 0;
		}
	}
	CU_ASSERT(equal == 30);
	tpm_eventlog_free(log);
	/* the other tag's file is the same log */
	free(g.log);
}

/* The sha256 quote verified, then the log against it: Google's claims. */
static void
test_gce_appraise(void)
{
	char p[4096];
	struct gce g;
	struct tpm_eventlog *log = NULL;
	struct tpm_public ak;
	struct tpm_quote_info info;
	struct tpm_pcrs pcrs;
	uint8_t *msg = NULL, *sig = NULL, *pub = NULL, nonce[2] = {0x90, 0x09};
	size_t msg_len = 0, sig_len = 0, pub_len = 0;
	json_t *qc = NULL, *claims = NULL, *apps;
	const char *why = NULL, *cl;

	gce_load(&g);
	memset(&pcrs, 0, sizeof(pcrs));
	CU_ASSERT_FATAL(test_slurp(vpath(p, sizeof(p), "gce-vtpm/nonce9009/ak_pub.tpmt_public"), &pub, &pub_len) == 0);
	CU_ASSERT_FATAL(tpm_public_parse(pub, pub_len, 0, &ak, &why) == 0);
	CU_ASSERT_FATAL(test_slurp(vpath(p, sizeof(p), "gce-vtpm/nonce9009/quote_sha256.msg"), &msg, &msg_len) == 0);
	CU_ASSERT_FATAL(test_slurp(vpath(p, sizeof(p), "gce-vtpm/nonce9009/quote_sha256.sig"), &sig, &sig_len) == 0);
	CU_ASSERT_FATAL(test_pcrs_file(vpath(p, sizeof(p), "gce-vtpm/nonce9009/pcrs_sha256.txt"), TPM_BANK_SHA256,
	    &pcrs) == 0);
	CU_ASSERT_FATAL(tpm_quote_verify(msg, msg_len, sig, sig_len, ak.pkey, &pcrs, nonce, 2, &qc, &info, &why) == 0);
	CU_ASSERT_FATAL(tpm_eventlog_parse(g.log, g.len, &log, &why) == 0);
	CHECK_RC(tpm_eventlog_appraise(log, &pcrs, info.selected, &claims, &why), 0, "%s", why);
	CU_ASSERT_FATAL(claims != NULL);
	CU_ASSERT(json_integer_value(json_object_get(claims, "events")) == GCE_EVENTS);
	CU_ASSERT(json_is_true(json_object_get(claims, "secure_boot")));
	apps = json_object_get(claims, "boot_loader_sha256");
	CU_ASSERT_FATAL(json_array_size(apps) == 2);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(apps, 0)), gce_apps[0]);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(apps, 1)), gce_apps[1]);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(claims, "kernel_sha256")), gce_apps[2]);
	cl = json_string_value(json_object_get(claims, "kernel_cmdline"));
	CU_ASSERT_FATAL(cl != NULL);
	CU_ASSERT(strncmp(cl, GCE_CMDLINE_START, strlen(GCE_CMDLINE_START)) == 0);
	CU_ASSERT(strlen(cl) > strlen(GCE_CMDLINE_END) &&
	    strcmp(cl + strlen(cl) - strlen(GCE_CMDLINE_END), GCE_CMDLINE_END) == 0);
	json_decref(claims);
	claims = NULL;
	/* a PCR the log touches changed in the quoted set: refused */
	pcrs.val[TPM_BANK_SHA256][4][0] ^= 1;
	CU_ASSERT(tpm_eventlog_appraise(log, &pcrs, info.selected, &claims, &why) == KW_ERR_MISMATCH);
	CU_ASSERT_STRING_EQUAL(why, "event log does not replay to the quoted PCRs");
	pcrs.val[TPM_BANK_SHA256][4][0] ^= 1;
	/* a PCR the log does not touch may differ */
	pcrs.val[TPM_BANK_SHA256][15][0] ^= 1;
	CU_ASSERT(tpm_eventlog_appraise(log, &pcrs, info.selected, &claims, &why) == 0);
	json_decref(claims);
	claims = NULL;
	/* a quote covering only PCR 10..23: nothing shared */
	uint32_t high[TPM_BANK_COUNT] = {0, 0xfffc00, 0};

	CU_ASSERT(tpm_eventlog_appraise(log, &pcrs, high, &claims, &why) == KW_ERR_MISMATCH);
	CU_ASSERT_STRING_EQUAL(why, "event log and quote share no PCR");
	/* a quote covering PCR 7 only: SecureBoot, but no boot application or command line */
	uint32_t seven[TPM_BANK_COUNT] = {0, 0x80, 0};

	CU_ASSERT_FATAL(tpm_eventlog_appraise(log, &pcrs, seven, &claims, &why) == 0);
	CU_ASSERT(json_is_true(json_object_get(claims, "secure_boot")));
	CU_ASSERT(json_object_get(claims, "boot_loader_sha256") == NULL);
	CU_ASSERT(json_object_get(claims, "kernel_sha256") == NULL);
	CU_ASSERT(json_object_get(claims, "kernel_cmdline") == NULL);
	json_decref(claims);
	json_decref(qc);
	tpm_eventlog_free(log);
	tpm_public_clear(&ak);
	free(msg);
	free(sig);
	free(pub);
	free(g.log);
}

/* 0 and the claims, or the error of parse or appraise. */
static int
run(const uint8_t *buf, size_t len, const struct tpm_pcrs *pcrs, const uint32_t *covered, json_t **claims)
{
	struct tpm_eventlog *log = NULL;
	const char *why = NULL;
	int r;

	if ((r = tpm_eventlog_parse(buf, len, &log, &why)) != 0)
		return r;
	r = tpm_eventlog_appraise(log, pcrs, covered, claims, &why);
	tpm_eventlog_free(log);
	return r;
}

/* Byte classes of a crypto-agile log, by an independent walk: 'h' header, 'd' digest, 'e' event data. */
static char *
classify(const uint8_t *b, size_t len)
{
	char *c = malloc(len);
	size_t o = 0, n;
	uint32_t esize;

	CU_ASSERT_FATAL(c != NULL);
	memset(c, 'h', len);
	/* first event: pcr, type, sha1[20], size, Spec ID data */
	memcpy(&esize, b + 28, 4);
	memset(c + 32, 'e', esize);
	o = 32 + esize;
	while (o < len) {
		uint32_t count;

		memcpy(&count, b + o + 8, 4);
		o += 12;
		for (uint32_t i = 0; i < count; i++) {
			uint16_t alg;

			memcpy(&alg, b + o, 2);
			n = alg == 0x0004 ? 20 : alg == 0x000b ? 32 : 48;
			memset(c + o + 2, 'd', n);
			o += 2 + n;
		}
		memcpy(&esize, b + o, 4);
		memset(c + o + 4, 'e', esize);
		o += 4 + esize;
	}
	CU_ASSERT(o == len);
	return c;
}

static void
test_gce_sweeps(void)
{
	struct gce g;
	json_t *good = NULL, *claims = NULL;
	char *cls;
	size_t bad = 0, n = 0, dflip = 0, drej = 0, eflip = 0, esame = 0, prefix, unrecognized = 0;
	json_t *nocmd;
	const uint8_t *pp;

	gce_load(&g);
	CU_ASSERT_FATAL(run(g.log, g.len, &g.pcrs, g.all, &good) == 0);
	nocmd = json_deep_copy(good);
	CU_ASSERT_FATAL(json_object_del(nocmd, "kernel_cmdline") == 0);
	pp = memmem(g.log, g.len, "kernel_cmdline: ", 16);
	CU_ASSERT_FATAL(pp != NULL);
	prefix = (size_t)(pp - g.log);
	/* every truncation: a parse error, or a shorter log that no longer replays */
	for (size_t len = 0; len < g.len; len++, n++) {
		bad += run(g.log, len, &g.pcrs, g.all, &claims) != 0;
		json_decref(claims);
		claims = NULL;
	}
	CU_ASSERT(bad == n);
	cls = classify(g.log, g.len);
	/* one bit per byte (bit i % 8): every byte of the log, every bit position */
	for (size_t i = 0; i < g.len; i++) {
		for (unsigned int bit = (unsigned int)(i % 8); bit == i % 8; bit++) {
			int r;

			g.log[i] ^= (uint8_t)(1u << bit);
			r = run(g.log, g.len, &g.pcrs, g.all, &claims);
			g.log[i] ^= (uint8_t)(1u << bit);
			if (cls[i] == 'd') {
				dflip++;
				drej += r != 0;
			} else if (cls[i] == 'e') {
				eflip++;
				if (r != 0 || json_equal(claims, good)) {
					esame++;
				} else if (i >= prefix && i < prefix + 16 && json_equal(claims, nocmd)) {
					/* grub's "kernel_cmdline: " prefix is not measured: changed, the record is not recognized */
					esame++;
					unrecognized++;
				}
			}
			json_decref(claims);
			claims = NULL;
		}
	}
	CU_ASSERT(dflip > 0 && drej == dflip);
	CU_ASSERT(eflip > 0 && esame == eflip);
	CU_ASSERT(unrecognized > 0 && unrecognized <= 16);
	free(cls);
	json_decref(nocmd);
	json_decref(good);
	free(g.log);
}

/* ---- constructed logs ---- */

struct lb {
	uint8_t b[8192];
	size_t n;
	struct tpm_pcrs pcrs;   /* an independent replay: sha1 and sha256 */
};

static void
put(struct lb *l, const void *p, size_t n)
{
	CU_ASSERT_FATAL(l->n + n <= sizeof(l->b));
	memcpy(l->b + l->n, p, n);
	l->n += n;
}

static void
u32(struct lb *l, uint32_t v)
{
	uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};

	put(l, x, 4);
}

static void
u16(struct lb *l, uint16_t v)
{
	uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};

	put(l, x, 2);
}

/* Spec ID event with sha1 and sha256. */
static void
lb_start(struct lb *l)
{
	static const uint8_t zero[20];

	memset(l, 0, sizeof(*l));
	u32(l, 0);
	u32(l, TPM_EV_NO_ACTION);
	put(l, zero, 20);
	u32(l, 16 + 4 + 4 + 4 + 2 * 4 + 1);
	put(l, "Spec ID Event03", 16);
	u32(l, 0);
	put(l, "\0\2\0\2", 4);   /* minor, major 2, errata, uintnSize 2 */
	u32(l, 2);
	u16(l, 0x0004);
	u16(l, 20);
	u16(l, 0x000b);
	u16(l, 32);
	put(l, "", 1);             /* vendorInfoSize 0 */
	l->pcrs.present[TPM_BANK_SHA1] = l->pcrs.present[TPM_BANK_SHA256] = 0xffffff;
}

/* An event whose digests are H(measured) (or of wrong when non-NULL), data as given. */
static void
lb_event(struct lb *l, uint32_t pcr, uint32_t type, const void *measured, size_t mlen, const void *data,
    size_t dlen, int extend)
{
	uint8_t d1[20], d256[32], buf[64];

	CU_ASSERT_FATAL(EVP_Digest(measured, mlen, d1, NULL, EVP_sha1(), NULL) == 1);
	CU_ASSERT_FATAL(EVP_Digest(measured, mlen, d256, NULL, EVP_sha256(), NULL) == 1);
	u32(l, pcr);
	u32(l, type);
	u32(l, 2);
	u16(l, 0x0004);
	put(l, d1, 20);
	u16(l, 0x000b);
	put(l, d256, 32);
	u32(l, (uint32_t)dlen);
	put(l, data, dlen);
	if (!extend)
		return;
	memcpy(buf, l->pcrs.val[TPM_BANK_SHA1][pcr], 20);
	memcpy(buf + 20, d1, 20);
	CU_ASSERT_FATAL(EVP_Digest(buf, 40, l->pcrs.val[TPM_BANK_SHA1][pcr], NULL, EVP_sha1(), NULL) == 1);
	memcpy(buf, l->pcrs.val[TPM_BANK_SHA256][pcr], 32);
	memcpy(buf + 32, d256, 32);
	CU_ASSERT_FATAL(EVP_Digest(buf, 64, l->pcrs.val[TPM_BANK_SHA256][pcr], NULL, EVP_sha256(), NULL) == 1);
}

/* UEFI_VARIABLE_DATA of EFI global variable SecureBoot = v. */
static size_t
sb_var(uint8_t *out, uint8_t v)
{
	static const uint8_t guid[16] = {0x61, 0xdf, 0xe4, 0x8b, 0xca, 0x93, 0xd2, 0x11, 0xaa, 0x0d, 0x00, 0xe0,
		0x98, 0x03, 0x2b, 0x8c};
	static const char name[] = "SecureBoot";
	size_t o = 0;

	memcpy(out, guid, 16);
	o = 16;
	memset(out + o, 0, 16);
	out[o] = 10;
	out[o + 8] = 1;
	o += 16;
	for (size_t i = 0; i < 10; i++) {
		out[o++] = (uint8_t)name[i];
		out[o++] = 0;
	}
	out[o++] = v;
	return o;
}

static size_t
utf16(uint8_t *out, const char *s)
{
	size_t o = 0;

	for (; *s != '\0'; s++) {
		out[o++] = (uint8_t)*s;
		out[o++] = 0;
	}
	out[o++] = 0;
	out[o++] = 0;
	return o;
}

static void
test_constructed(void)
{
	struct lb l;
	uint8_t var[64], opt[256], tag[300], loc[17] = "StartupLocality";
	size_t vl, ol;
	json_t *claims = NULL;
	uint32_t all[TPM_BANK_COUNT] = {0xffffff, 0xffffff, 0};
	const char *grub = "kernel_cmdline: root=/dev/evil";

	lb_start(&l);
	/* StartupLocality 3: PCR 0 starts at 00..03 */
	loc[16] = 3;
	lb_event(&l, 0, TPM_EV_NO_ACTION, "", 0, loc, sizeof(loc), 0);
	l.pcrs.val[TPM_BANK_SHA1][0][19] = 3;
	l.pcrs.val[TPM_BANK_SHA256][0][31] = 3;
	lb_event(&l, 0, 0x00000008 /* EV_S_CRTM_VERSION */, "v1", 2, "v1", 2, 1);
	vl = sb_var(var, 0);
	lb_event(&l, 7, TPM_EV_EFI_VARIABLE_DRIVER_CONFIG, var, vl, var, vl, 1);
	lb_event(&l, 4, TPM_EV_EFI_BOOT_SERVICES_APPLICATION, "shim", 4, "devpath", 7, 1);
	/* grub's command line, in PCR 8 (systemd-stub's in PCR 12 comes later and wins) */
	lb_event(&l, 8, TPM_EV_IPL, grub + 16, strlen(grub) - 16, grub, strlen(grub) + 1, 1);
	ol = utf16(opt, "console=ttyS0 quiet");
	lb_event(&l, 12, TPM_EV_IPL, opt, ol, opt, ol, 1);
	CU_ASSERT_FATAL(run(l.b, l.n, &l.pcrs, all, &claims) == 0);
	CU_ASSERT(json_is_false(json_object_get(claims, "secure_boot")));
	CU_ASSERT(json_array_size(json_object_get(claims, "boot_loader_sha256")) == 1);
	CU_ASSERT(json_object_get(claims, "kernel_sha256") == NULL);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(claims, "kernel_cmdline")), "console=ttyS0 quiet");
	CU_ASSERT(json_integer_value(json_object_get(claims, "events")) == 7);
	json_decref(claims);
	claims = NULL;
	/* systemd-stub's tagged form, later: it wins; and the kernel after shim */
	ol = utf16(opt, "ro rootwait");
	memset(tag, 0, sizeof(tag));
	tag[0] = 0xed;
	tag[1] = 0x22;
	tag[2] = 0x3b;
	tag[3] = 0x8f;
	tag[4] = (uint8_t)ol;
	memcpy(tag + 8, opt, ol);
	lb_event(&l, 12, TPM_EV_EVENT_TAG, opt, ol, tag, 8 + ol, 1);
	lb_event(&l, 4, TPM_EV_EFI_BOOT_SERVICES_APPLICATION, "linux", 5, "devpath", 7, 1);
	CU_ASSERT_FATAL(run(l.b, l.n, &l.pcrs, all, &claims) == 0);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(claims, "kernel_cmdline")), "ro rootwait");
	CU_ASSERT(json_array_size(json_object_get(claims, "boot_loader_sha256")) == 1);
	CU_ASSERT(json_is_string(json_object_get(claims, "kernel_sha256")));
	json_decref(claims);
	claims = NULL;
	/* only the sha1 bank quoted: SecureBoot still authentic (sha1 digest of its data), sha256 digests not */
	uint32_t sha1only[TPM_BANK_COUNT] = {0xffffff, 0, 0};

	CU_ASSERT_FATAL(run(l.b, l.n, &l.pcrs, sha1only, &claims) == 0);
	CU_ASSERT(json_is_false(json_object_get(claims, "secure_boot")));
	CU_ASSERT(json_object_get(claims, "boot_loader_sha256") == NULL);
	CU_ASSERT(json_object_get(claims, "kernel_sha256") == NULL);
	json_decref(claims);
	claims = NULL;
	/* grub's text changed after measurement (same digest): refused */
	struct lb l2;

	lb_start(&l2);
	lb_event(&l2, 8, TPM_EV_IPL, "root=/dev/sda", 13, grub, strlen(grub) + 1, 1);
	CU_ASSERT(run(l2.b, l2.n, &l2.pcrs, all, &claims) == KW_ERR_MISMATCH);
	lb_start(&l2);
	lb_event(&l2, 8, TPM_EV_IPL, grub + 16, strlen(grub) - 16, grub, strlen(grub) + 1, 1);
	CU_ASSERT_FATAL(run(l2.b, l2.n, &l2.pcrs, all, &claims) == 0);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(claims, "kernel_cmdline")), "root=/dev/evil");
	json_decref(claims);
	claims = NULL;
	/* SecureBoot's data changed after measurement: refused */
	lb_start(&l2);
	vl = sb_var(var, 1);
	lb_event(&l2, 7, TPM_EV_EFI_VARIABLE_DRIVER_CONFIG, var, vl, var, vl, 1);
	l2.b[l2.n - 1] = 0;
	CU_ASSERT(run(l2.b, l2.n, &l2.pcrs, all, &claims) == KW_ERR_MISMATCH);
	CU_ASSERT(claims == NULL);
	/* PCR 0 without the locality is wrong */
	struct tpm_pcrs wrong = l.pcrs;

	wrong.val[TPM_BANK_SHA256][0][31] ^= 3;
	CU_ASSERT(run(l.b, l.n, &wrong, all, &claims) == KW_ERR_MISMATCH);
	CU_ASSERT(claims == NULL);
}

/* The kernel digest claim is the last application's sha256 digest, computed here independently. */
static void
test_constructed_kernel(void)
{
	struct lb l;
	uint8_t d[32];
	char *hex = NULL;
	json_t *claims = NULL;
	uint32_t all[TPM_BANK_COUNT] = {0xffffff, 0xffffff, 0};

	lb_start(&l);
	lb_event(&l, 4, TPM_EV_EFI_BOOT_SERVICES_APPLICATION, "shim", 4, "a", 1, 1);
	lb_event(&l, 4, TPM_EV_EFI_BOOT_SERVICES_APPLICATION, "grub", 4, "b", 1, 1);
	lb_event(&l, 4, TPM_EV_EFI_BOOT_SERVICES_APPLICATION, "vmlinuz", 7, "c", 1, 1);
	CU_ASSERT_FATAL(run(l.b, l.n, &l.pcrs, all, &claims) == 0);
	CU_ASSERT_FATAL(EVP_Digest("vmlinuz", 7, d, NULL, EVP_sha256(), NULL) == 1);
	CU_ASSERT_FATAL(kw_hex_encode(d, 32, &hex) == 0);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(claims, "kernel_sha256")), hex);
	free(hex);
	CU_ASSERT_FATAL(EVP_Digest("grub", 4, d, NULL, EVP_sha256(), NULL) == 1);
	CU_ASSERT_FATAL(kw_hex_encode(d, 32, &hex) == 0);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(json_object_get(claims, "boot_loader_sha256"), 1)),
	    hex);
	free(hex);
	CU_ASSERT(json_object_get(claims, "secure_boot") == NULL);
	CU_ASSERT(json_object_get(claims, "kernel_cmdline") == NULL);
	json_decref(claims);
}

static void
test_constructed_bad(void)
{
	struct lb l;
	struct tpm_eventlog *log = NULL;
	const char *why = NULL;
	size_t base;

	/* an event with one digest where the Spec ID names two */
	lb_start(&l);
	base = l.n;
	u32(&l, 4);
	u32(&l, TPM_EV_IPL);
	u32(&l, 1);
	u16(&l, 0x000b);
	put(&l, "0123456789abcdef0123456789abcdef", 32);
	u32(&l, 0);
	CU_ASSERT(tpm_eventlog_parse(l.b, l.n, &log, &why) == KW_ERR_INVALID_FORMAT);
	/* the same algorithm twice */
	l.n = base;
	u32(&l, 4);
	u32(&l, TPM_EV_IPL);
	u32(&l, 2);
	u16(&l, 0x000b);
	put(&l, "0123456789abcdef0123456789abcdef", 32);
	u16(&l, 0x000b);
	put(&l, "0123456789abcdef0123456789abcdef", 32);
	u32(&l, 0);
	CU_ASSERT(tpm_eventlog_parse(l.b, l.n, &log, &why) == KW_ERR_INVALID_FORMAT);
	/* PCR 24 */
	l.n = base;
	lb_event(&l, 4, TPM_EV_IPL, "x", 1, "x", 1, 0);
	l.b[base] = 24;
	CU_ASSERT(tpm_eventlog_parse(l.b, l.n, &log, &why) == KW_ERR_UNSUPPORTED);
	l.b[base] = 4;
	CU_ASSERT(tpm_eventlog_parse(l.b, l.n, &log, &why) == 0);
	tpm_eventlog_free(log);
	log = NULL;
	/* an event size beyond the end */
	l.b[l.n - 5] = 0xff;
	CU_ASSERT(tpm_eventlog_parse(l.b, l.n, &log, &why) == KW_ERR_TRUNCATED);
	/* the Spec ID signature, version and sizes */
	lb_start(&l);
	l.b[32] = 'X';
	CU_ASSERT(tpm_eventlog_parse(l.b, l.n, &log, &why) == KW_ERR_INVALID_FORMAT);
	lb_start(&l);
	l.b[32 + 16 + 5] = 1;   /* specVersionMajor */
	CU_ASSERT(tpm_eventlog_parse(l.b, l.n, &log, &why) == KW_ERR_UNSUPPORTED);
	lb_start(&l);
	l.b[32 + 16 + 8 + 4 + 2] = 21;   /* sha1's size */
	CU_ASSERT(tpm_eventlog_parse(l.b, l.n, &log, &why) == KW_ERR_INVALID_FORMAT);
	lb_start(&l);
	l.b[32 + 16 + 8] = 9;   /* numberOfAlgorithms */
	CU_ASSERT(tpm_eventlog_parse(l.b, l.n, &log, &why) == KW_ERR_INVALID_FORMAT);
	lb_start(&l);
	l.b[0] = 1;   /* the Spec ID event in PCR 1 */
	CU_ASSERT(tpm_eventlog_parse(l.b, l.n, &log, &why) == KW_ERR_INVALID_FORMAT);
	/* just the Spec ID event: parses, extends nothing, shares no PCR with any quote */
	lb_start(&l);
	CU_ASSERT_FATAL(tpm_eventlog_parse(l.b, l.n, &log, &why) == 0);
	CU_ASSERT(tpm_eventlog_count(log) == 1);
	uint32_t all[TPM_BANK_COUNT] = {0xffffff, 0xffffff, 0xffffff};
	json_t *claims = NULL;

	CU_ASSERT(tpm_eventlog_appraise(log, &l.pcrs, all, &claims, &why) == KW_ERR_MISMATCH);
	tpm_eventlog_free(log);
	CU_ASSERT(tpm_eventlog_parse(l.b, 0, &log, &why) == KW_ERR_INVALID_FORMAT);
	CU_ASSERT(tpm_eventlog_parse(l.b, TPM_EVENTLOG_MAX + 1, &log, &why) == KW_ERR_TOO_LARGE);
}

int
test_tpm_eventlog_register(void)
{
	CU_pSuite s = CU_add_suite("tpm_eventlog", NULL, NULL);

	if (s == NULL)
		return -1;
	return TEST_ADD(s, test_gce_replay) | TEST_ADD(s, test_gce_appraise) | TEST_ADD(s, test_gce_sweeps) |
	    TEST_ADD(s, test_constructed) | TEST_ADD(s, test_constructed_kernel) | TEST_ADD(s, test_constructed_bad);
}
