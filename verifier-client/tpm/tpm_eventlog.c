/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TCG PC Client crypto-agile event log: bounded parse (kw_rd), replay per
 * bank, appraisal against quoted PCRs, claims (tpm_eventlog.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "kw_rd.h"
#include "kw_util.h"
#include "tpm_eventlog.h"

#define SPEC_ID_SIG "Spec ID Event03"            /* 15 chars + NUL = 16 bytes */
#define STARTUP_LOCALITY_SIG "StartupLocality"    /* 15 chars + NUL = 16 bytes */
#define GRUB_CMDLINE_PREFIX "kernel_cmdline: "
#define SYSTEMD_LOAD_OPTIONS_TAG 0x8F3B22EDu
#define TPM_ALG_MAX_DIGEST 64

/* EFI_GLOBAL_VARIABLE 8be4df61-93ca-11d2-aa0d-00e098032b8c as stored (mixed endian GUID). */
static const uint8_t efi_global_guid[16] = {
	0x61, 0xdf, 0xe4, 0x8b, 0xca, 0x93, 0xd2, 0x11, 0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c,
};
/* L"SecureBoot" without NUL */
static const uint8_t secureboot_name[20] = {
	'S', 0, 'e', 0, 'c', 0, 'u', 0, 'r', 0, 'e', 0, 'B', 0, 'o', 0, 'o', 0, 't', 0,
};

struct tpm_ev {
	uint32_t pcr, type;
	const uint8_t *digest[TPM_BANK_COUNT];   /* NULL: the log does not carry the bank */
	const uint8_t *data;
	size_t data_len;
};

struct tpm_eventlog {
	uint8_t *buf;                  /* owned copy of the log; events point into it */
	size_t len;
	struct tpm_ev *ev;             /* records after the Spec ID event */
	size_t n;
	uint32_t banks;                /* bit b: the log carries bank b */
	struct tpm_pcrs replay;
	uint32_t touched[TPM_BANK_COUNT];
};

struct spec_alg {
	uint16_t alg;
	uint16_t size;
};

static int
known_size(uint16_t alg, size_t *ret)
{
	enum tpm_bank b;

	if (tpm_bank_from_alg(alg, &b) == 0) {
		*ret = tpm_bank_size(b);
		return 1;
	}
	switch (alg) {
	case 0x000d:   /* SHA-512 */
		*ret = 64;
		return 1;
	case 0x0012:   /* SM3-256 */
	case 0x0027:   /* SHA3-256 */
		*ret = 32;
		return 1;
	case 0x0028:   /* SHA3-384 */
		*ret = 48;
		return 1;
	case 0x0029:   /* SHA3-512 */
		*ret = 64;
		return 1;
	default:
		return 0;
	}
}

/* The Spec ID event (TCG_EfiSpecIDEventStruct) of the first record. */
static int
parse_spec_id(struct kw_rd *rd, struct spec_alg algs[static TPM_EVENTLOG_MAX_ALGS], size_t *ret_n,
    const char **why)
{
	const uint8_t *sig, *digest;
	uint32_t pcr, type, size, platform, nalgs;
	uint8_t minor, major, errata, uintn, vendor;
	struct kw_rd ev;
	size_t want;

	*why = "event log: the first event is not the Spec ID event";
	if (kw_rd_u32le(rd, &pcr) != 0 || kw_rd_u32le(rd, &type) != 0 || kw_rd_bytes(rd, 20, &digest) != 0 ||
	    kw_rd_u32le(rd, &size) != 0 || kw_rd_sub(rd, size, &ev) != 0) {
		*why = "event log: truncated Spec ID event";
		return KW_ERR_TRUNCATED;
	}
	if (pcr != 0 || type != TPM_EV_NO_ACTION)
		return KW_ERR_INVALID_FORMAT;
	for (size_t i = 0; i < 20; i++)
		if (digest[i] != 0)
			return KW_ERR_INVALID_FORMAT;
	if (kw_rd_bytes(&ev, 16, &sig) != 0 || memcmp(sig, SPEC_ID_SIG, sizeof(SPEC_ID_SIG)) != 0)
		return KW_ERR_INVALID_FORMAT;
	*why = "event log: malformed Spec ID event";
	if (kw_rd_u32le(&ev, &platform) != 0 || kw_rd_u8(&ev, &minor) != 0 || kw_rd_u8(&ev, &major) != 0 ||
	    kw_rd_u8(&ev, &errata) != 0 || kw_rd_u8(&ev, &uintn) != 0 || kw_rd_u32le(&ev, &nalgs) != 0)
		return KW_ERR_INVALID_FORMAT;
	if (major != 2 || (uintn != 1 && uintn != 2)) {
		*why = "event log: Spec ID version is not 2 (crypto agile)";
		return KW_ERR_UNSUPPORTED;
	}
	if (nalgs == 0 || nalgs > TPM_EVENTLOG_MAX_ALGS) {
		*why = "event log: Spec ID event names 1 to 8 algorithms";
		return KW_ERR_INVALID_FORMAT;
	}
	for (uint32_t i = 0; i < nalgs; i++) {
		if (kw_rd_u16le(&ev, &algs[i].alg) != 0 || kw_rd_u16le(&ev, &algs[i].size) != 0)
			return KW_ERR_INVALID_FORMAT;
		if (algs[i].size == 0 || algs[i].size > TPM_ALG_MAX_DIGEST ||
		    (known_size(algs[i].alg, &want) && want != algs[i].size)) {
			*why = "event log: Spec ID event gives a wrong digest size";
			return KW_ERR_INVALID_FORMAT;
		}
		for (uint32_t j = 0; j < i; j++) {
			if (algs[j].alg == algs[i].alg) {
				*why = "event log: Spec ID event names an algorithm twice";
				return KW_ERR_INVALID_FORMAT;
			}
		}
	}
	if (kw_rd_u8(&ev, &vendor) != 0 || kw_rd_skip(&ev, vendor) != 0 || kw_rd_end(&ev) != 0)
		return KW_ERR_INVALID_FORMAT;
	*ret_n = nalgs;
	return 0;
}

/* One TCG_PCR_EVENT2 into *e (views into rd's bytes). */
static int
parse_event2(struct kw_rd *rd, const struct spec_alg *algs, size_t nalgs, struct tpm_ev *e, const char **why)
{
	uint32_t count, size;
	uint16_t alg;
	uint32_t seen = 0;
	const uint8_t *d;
	enum tpm_bank b;
	struct kw_rd save = *rd;

	memset(e, 0, sizeof(*e));
	*why = "event log: truncated event";
	if (kw_rd_u32le(rd, &e->pcr) != 0 || kw_rd_u32le(rd, &e->type) != 0 || kw_rd_u32le(rd, &count) != 0)
		goto trunc;
	if (count != nalgs) {
		*why = "event log: an event does not carry one digest per algorithm";
		*rd = save;
		return KW_ERR_INVALID_FORMAT;
	}
	for (uint32_t i = 0; i < count; i++) {
		size_t k;

		if (kw_rd_u16le(rd, &alg) != 0)
			goto trunc;
		for (k = 0; k < nalgs && algs[k].alg != alg; k++)
			;
		if (k == nalgs || (seen >> k & 1) != 0) {
			*why = "event log: an event carries an unknown or repeated digest algorithm";
			*rd = save;
			return KW_ERR_INVALID_FORMAT;
		}
		seen |= UINT32_C(1) << k;
		if (kw_rd_bytes(rd, algs[k].size, &d) != 0)
			goto trunc;
		if (tpm_bank_from_alg(alg, &b) == 0)
			e->digest[b] = d;
	}
	if (kw_rd_u32le(rd, &size) != 0 || kw_rd_bytes(rd, size, &e->data) != 0)
		goto trunc;
	e->data_len = size;
	if (e->type != TPM_EV_NO_ACTION && e->pcr >= TPM_PCR_COUNT) {
		*why = "event log: an event extends a PCR above 23";
		*rd = save;
		return KW_ERR_UNSUPPORTED;
	}
	return 0;
trunc:
	*rd = save;
	return KW_ERR_TRUNCATED;
}

static int
extend(uint8_t *pcr, enum tpm_bank b, const uint8_t *digest)
{
	uint8_t buf[2 * TPM_MAX_DIGEST];
	size_t n = tpm_bank_size(b);

	memcpy(buf, pcr, n);
	memcpy(buf + n, digest, n);
	return EVP_Digest(buf, 2 * n, pcr, NULL, tpm_bank_md(b), NULL) == 1 ? 0 : KW_ERR_CRYPTO;
}

static int
replay(struct tpm_eventlog *log)
{
	int locality = -1, r;

	memset(&log->replay, 0, sizeof(log->replay));
	memset(log->touched, 0, sizeof(log->touched));
	for (size_t i = 0; i < log->n; i++) {
		const struct tpm_ev *e = &log->ev[i];

		if (e->type == TPM_EV_NO_ACTION) {
			/* H-CRTM: the StartupLocality event sets PCR 0's initial value (before any extend of it) */
			if (e->pcr == 0 && e->data_len == 17 &&
			    memcmp(e->data, STARTUP_LOCALITY_SIG, sizeof(STARTUP_LOCALITY_SIG)) == 0 &&
			    (log->touched[TPM_BANK_SHA1] | log->touched[TPM_BANK_SHA256] |
			    log->touched[TPM_BANK_SHA384]) == 0 && locality < 0) {
				locality = e->data[16];
				for (unsigned int b = 0; b < TPM_BANK_COUNT; b++)
					log->replay.val[b][0][tpm_bank_size((enum tpm_bank)b) - 1] = (uint8_t)locality;
			}
			continue;
		}
		for (unsigned int b = 0; b < TPM_BANK_COUNT; b++) {
			if (e->digest[b] == NULL)
				continue;
			if ((r = extend(log->replay.val[b][e->pcr], (enum tpm_bank)b, e->digest[b])) != 0)
				return r;
			log->touched[b] |= UINT32_C(1) << e->pcr;
		}
	}
	for (unsigned int b = 0; b < TPM_BANK_COUNT; b++)
		log->replay.present[b] = log->touched[b];
	return 0;
}

int
tpm_eventlog_parse(const uint8_t *buf, size_t len, struct tpm_eventlog **ret, const char **why)
{
	struct tpm_eventlog *log = NULL;
	struct spec_alg algs[TPM_EVENTLOG_MAX_ALGS];
	struct kw_rd rd;
	size_t nalgs = 0, cap = 64;
	enum tpm_bank b;
	int r = KW_ERR_NOMEM;

	*why = "event log is empty";
	if (buf == NULL || len == 0)
		return KW_ERR_INVALID_FORMAT;
	if (len > TPM_EVENTLOG_MAX) {
		*why = "event log is too large";
		return KW_ERR_TOO_LARGE;
	}
	if ((log = calloc(1, sizeof(*log))) == NULL || (log->buf = malloc(len)) == NULL ||
	    (log->ev = calloc(cap, sizeof(*log->ev))) == NULL) {
		*why = "out of memory";
		goto out;
	}
	memcpy(log->buf, buf, len);
	log->len = len;
	kw_rd_init(&rd, log->buf, len);
	if ((r = parse_spec_id(&rd, algs, &nalgs, why)) != 0)
		goto out;
	for (size_t i = 0; i < nalgs; i++)
		if (tpm_bank_from_alg(algs[i].alg, &b) == 0)
			log->banks |= UINT32_C(1) << b;
	while (rd.len > 0) {
		if (log->n + 1 >= TPM_EVENTLOG_MAX_EVENTS) {
			*why = "event log holds too many events";
			r = KW_ERR_TOO_LARGE;
			goto out;
		}
		if (log->n == cap) {
			struct tpm_ev *grown = reallocarray(log->ev, cap * 2, sizeof(*grown));

			if (grown == NULL) {
				*why = "out of memory";
				r = KW_ERR_NOMEM;
				goto out;
			}
			log->ev = grown;
			cap *= 2;
		}
		if ((r = parse_event2(&rd, algs, nalgs, &log->ev[log->n], why)) != 0)
			goto out;
		log->n++;
	}
	if ((r = replay(log)) != 0) {
		*why = "event log replay failed";
		goto out;
	}
	*ret = log;
	log = NULL;   /* transferred */
	r = 0;
out:
	tpm_eventlog_free(log);
	return r;
}

void
tpm_eventlog_free(struct tpm_eventlog *log)
{
	if (log == NULL)
		return;
	free(log->buf);
	free(log->ev);
	free(log);
}

size_t
tpm_eventlog_count(const struct tpm_eventlog *log)
{
	return log != NULL ? log->n + 1 : 0;
}

void
tpm_eventlog_replay(const struct tpm_eventlog *log, struct tpm_pcrs *ret, uint32_t ret_touched[TPM_BANK_COUNT])
{
	memcpy(ret, &log->replay, sizeof(*ret));
	if (ret_touched != NULL)
		memcpy(ret_touched, log->touched, sizeof(log->touched));
}

/*
 * Whether e's data msg is what its digest covers: 1 when, in a bank whose
 * replay of e's PCR was verified, the digest is H(msg); 0 when no bank of
 * e's PCR was verified (nothing to say); KW_ERR_MISMATCH when a verified
 * digest is not H(msg) (the data was changed after measurement).
 */
static int
authentic(const struct tpm_ev *e, const uint32_t verified[TPM_BANK_COUNT], const uint8_t *msg, size_t len)
{
	uint8_t h[TPM_MAX_DIGEST];
	int any = 0;

	for (unsigned int b = 0; b < TPM_BANK_COUNT; b++) {
		if (e->digest[b] == NULL || (verified[b] >> e->pcr & 1) == 0)
			continue;
		any = 1;
		if (EVP_Digest(msg, len, h, NULL, tpm_bank_md((enum tpm_bank)b), NULL) != 1)
			return KW_ERR_CRYPTO;
		if (CRYPTO_memcmp(h, e->digest[b], tpm_bank_size((enum tpm_bank)b)) != 0)
			return KW_ERR_MISMATCH;
	}
	return any;
}

/*
 * An EV_EFI_VARIABLE_DRIVER_CONFIG record in PCR 7: its data (the whole
 * UEFI_VARIABLE_DATA) must be what the verified digest covers, whatever
 * the variable (else KW_ERR_MISMATCH: a changed name must not hide
 * SecureBoot). 1 and *ret (0/1) when it is SecureBoot, authentic; 0 when
 * another variable or its PCR was not verified.
 */
static int
secure_boot(const struct tpm_ev *e, const uint32_t verified[TPM_BANK_COUNT], int *ret)
{
	struct kw_rd rd;
	const uint8_t *guid, *name, *data;
	uint64_t name_len, data_len;
	int r;

	if ((r = authentic(e, verified, e->data, e->data_len)) <= 0)
		return r;
	kw_rd_init(&rd, e->data, e->data_len);
	if (kw_rd_bytes(&rd, 16, &guid) != 0 || kw_rd_u64le(&rd, &name_len) != 0 ||
	    kw_rd_u64le(&rd, &data_len) != 0 || name_len != sizeof(secureboot_name) / 2 ||
	    kw_rd_bytes(&rd, sizeof(secureboot_name), &name) != 0 || data_len == 0 || data_len > rd.len ||
	    kw_rd_bytes(&rd, (size_t)data_len, &data) != 0 || kw_rd_end(&rd) != 0)
		return 0;
	if (memcmp(guid, efi_global_guid, sizeof(efi_global_guid)) != 0 ||
	    memcmp(name, secureboot_name, sizeof(secureboot_name)) != 0)
		return 0;
	*ret = data[0] != 0;
	return 1;
}

/* UTF-16LE (BMP and surrogate pairs) to a new NUL-terminated UTF-8 string; NULL when invalid. */
static char *
utf16_to_utf8(const uint8_t *in, size_t len)
{
	char *out;
	size_t o = 0;

	if (len % 2 != 0 || len / 2 > TPM_EVENTLOG_MAX_CMDLINE || (out = malloc(len / 2 * 4 + 1)) == NULL)
		return NULL;
	for (size_t i = 0; i < len; i += 2) {
		uint32_t c = (uint32_t)in[i] | (uint32_t)in[i + 1] << 8;

		if (c >= 0xd800 && c < 0xdc00) {
			uint32_t lo;

			if (i + 3 >= len)
				goto bad;
			lo = (uint32_t)in[i + 2] | (uint32_t)in[i + 3] << 8;
			if (lo < 0xdc00 || lo >= 0xe000)
				goto bad;
			c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
			i += 2;
		} else if ((c >= 0xdc00 && c < 0xe000) || c == 0) {
			goto bad;
		}
		if (c < 0x80) {
			out[o++] = (char)c;
		} else if (c < 0x800) {
			out[o++] = (char)(0xc0 | c >> 6);
			out[o++] = (char)(0x80 | (c & 0x3f));
		} else if (c < 0x10000) {
			out[o++] = (char)(0xe0 | c >> 12);
			out[o++] = (char)(0x80 | (c >> 6 & 0x3f));
			out[o++] = (char)(0x80 | (c & 0x3f));
		} else {
			out[o++] = (char)(0xf0 | c >> 18);
			out[o++] = (char)(0x80 | (c >> 12 & 0x3f));
			out[o++] = (char)(0x80 | (c >> 6 & 0x3f));
			out[o++] = (char)(0x80 | (c & 0x3f));
		}
	}
	out[o] = '\0';
	return out;
bad:
	free(out);
	return NULL;
}

/*
 * A kernel command line from e: 1 and a new string in *ret; 0 when e is not
 * one, its PCR was not verified, or it is not valid text; KW_ERR_MISMATCH
 * when the data is not what the verified digest covers; KW_ERR_NOMEM.
 */
static int
cmdline(const struct tpm_ev *e, const uint32_t verified[TPM_BANK_COUNT], char **ret)
{
	const size_t plen = sizeof(GRUB_CMDLINE_PREFIX) - 1;
	const uint8_t *t = e->data;
	size_t n = e->data_len;
	int r;

	if (e->pcr == 8 && e->type == TPM_EV_IPL && n > plen && memcmp(t, GRUB_CMDLINE_PREFIX, plen) == 0) {
		/* grub: the text after the prefix, without its NUL, is what the digest covers */
		t += plen;
		n -= plen;
		if (t[n - 1] == '\0')
			n--;
		if ((r = authentic(e, verified, t, n)) <= 0)
			return r;
		if (n == 0 || n > TPM_EVENTLOG_MAX_CMDLINE || memchr(t, '\0', n) != NULL)
			return 0;
		if ((*ret = malloc(n + 1)) == NULL)
			return KW_ERR_NOMEM;
		memcpy(*ret, t, n);
		(*ret)[n] = '\0';
		return 1;
	}
	if (e->pcr == 12 && (e->type == TPM_EV_IPL || e->type == TPM_EV_EVENT_TAG)) {
		/* systemd-stub: the UTF-16LE load options, NUL-terminated; the digest covers the bytes */
		if (e->type == TPM_EV_EVENT_TAG) {
			struct kw_rd rd;
			uint32_t id, size;

			kw_rd_init(&rd, e->data, e->data_len);
			if (kw_rd_u32le(&rd, &id) != 0 || kw_rd_u32le(&rd, &size) != 0 ||
			    id != SYSTEMD_LOAD_OPTIONS_TAG || kw_rd_bytes(&rd, size, &t) != 0 || kw_rd_end(&rd) != 0)
				return 0;
			n = size;
		}
		if ((r = authentic(e, verified, t, n)) <= 0)
			return r;
		if (n < 4 || n % 2 != 0 || t[n - 1] != 0 || t[n - 2] != 0 || (*ret = utf16_to_utf8(t, n - 2)) == NULL)
			return 0;
		return 1;
	}
	return 0;
}

int
tpm_eventlog_appraise(const struct tpm_eventlog *log, const struct tpm_pcrs *quoted,
    const uint32_t covered[static TPM_BANK_COUNT], json_t **ret_claims, const char **why)
{
	uint32_t verified[TPM_BANK_COUNT] = {0};
	unsigned int compared = 0;
	json_t *claims = NULL, *apps = NULL;
	char *cl = NULL, *hex = NULL;
	int sb = -1, r = KW_ERR_NOMEM;

	*why = "invalid arguments";
	if (log == NULL || quoted == NULL || ret_claims == NULL)
		return KW_ERR_INVALID_ARG;
	for (unsigned int b = 0; b < TPM_BANK_COUNT; b++) {
		uint32_t both = log->touched[b] & covered[b];

		if ((log->banks >> b & 1) == 0)
			continue;
		for (unsigned int n = 0; n < TPM_PCR_COUNT; n++) {
			if ((both >> n & 1) == 0)
				continue;
			if (!tpm_pcrs_has(quoted, (enum tpm_bank)b, n) ||
			    CRYPTO_memcmp(quoted->val[b][n], log->replay.val[b][n], tpm_bank_size((enum tpm_bank)b)) != 0) {
				*why = "event log does not replay to the quoted PCRs";
				return KW_ERR_MISMATCH;
			}
			verified[b] |= UINT32_C(1) << n;
			compared++;
		}
	}
	if (compared == 0) {
		*why = "event log and quote share no PCR";
		return KW_ERR_MISMATCH;
	}
	*why = "out of memory";
	if ((claims = json_object()) == NULL || (apps = json_array()) == NULL)
		goto out;
	for (size_t i = 0; i < log->n; i++) {
		const struct tpm_ev *e = &log->ev[i];
		int v;
		char *c;

		if (e->type == TPM_EV_NO_ACTION)
			continue;
		if (e->type == TPM_EV_EFI_VARIABLE_DRIVER_CONFIG && e->pcr == 7 &&
		    (r = secure_boot(e, verified, &v)) != 0) {
			if (r < 0)
				goto data;
			sb = v;
		}
		if (e->type == TPM_EV_EFI_BOOT_SERVICES_APPLICATION && e->pcr == 4 &&
		    e->digest[TPM_BANK_SHA256] != NULL && (verified[TPM_BANK_SHA256] >> 4 & 1) != 0) {
			r = KW_ERR_NOMEM;
			if (kw_hex_encode(e->digest[TPM_BANK_SHA256], 32, &hex) != 0 ||
			    json_array_append_new(apps, json_string(hex)) != 0)
				goto out;
			free(hex);
			hex = NULL;
		}
		c = NULL;
		if ((r = cmdline(e, verified, &c)) < 0)
			goto data;
		if (r == 1) {
			free(cl);
			cl = c;
		}
	}
	r = KW_ERR_NOMEM;
	if (json_object_set_new(claims, "events", json_integer((json_int_t)tpm_eventlog_count(log))) != 0)
		goto out;
	if (sb >= 0 && json_object_set_new(claims, "secure_boot", json_boolean(sb)) != 0)
		goto out;
	if (json_array_size(apps) >= 2) {
		json_t *k = json_array_get(apps, json_array_size(apps) - 1);

		if (json_object_set(claims, "kernel_sha256", k) != 0 ||
		    json_array_remove(apps, json_array_size(apps) - 1) != 0)
			goto out;
	}
	if (json_array_size(apps) > 0) {
		if (json_object_set_new(claims, "boot_loader_sha256", apps) != 0) {
			apps = NULL;   /* consumed */
			goto out;
		}
		apps = NULL;   /* owned by claims */
	}
	/* json_string rejects invalid UTF-8: such a command line is left out */
	if (cl != NULL) {
		json_t *s = json_string(cl);

		if (s != NULL && json_object_set_new(claims, "kernel_cmdline", s) != 0)
			goto out;
	}
	*ret_claims = claims;
	claims = NULL;   /* transferred */
	r = 0;
	goto out;
data:
	if (r == KW_ERR_MISMATCH)
		*why = "event log: event data does not match its measured digest";
out:
	free(hex);
	free(cl);
	json_decref(apps);
	json_decref(claims);
	return r;
}
