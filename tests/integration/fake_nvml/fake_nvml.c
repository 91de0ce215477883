/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A fake libnvidia-ml.so.1 for tests (nvgpu-flow): the six NVML entry points
 * kwget's att_nvml.c uses, declared here again from NVIDIA's public nvml.h
 * documentation (not shared with att_nvml.c, so a disagreement in layout
 * shows), serving emulated "NOT NVIDIA" GPUs: FAKE_NVML_GPUS (0..8, default
 * 1) devices, GPU i's SPDM transcript signed by $FAKE_NVML_DIR/leaf<i>.key
 * (scripts/mk-nvgpu-emu.sh), its chain leaf<i>.pem ica.pem root.pem as PEM
 * text. FAKE_NVML_FAIL=report makes the report call fail (a GPU not in
 * confidential-computing mode). There is no real GPU here: this tests our
 * dlopen and ABI handling against our reading of the documentation.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

typedef int nvmlReturn_t;
typedef struct nvmlDevice_st *nvmlDevice_t;

typedef struct {
	unsigned int isCecAttestationReportPresent;
	unsigned int attestationReportSize;
	unsigned int cecAttestationReportSize;
	unsigned char nonce[0x20];
	unsigned char attestationReport[0x2000];
	unsigned char cecAttestationReport[0x1000];
} nvmlConfComputeGpuAttestationReport_t;

typedef struct {
	unsigned int certChainSize;
	unsigned int attestationCertChainSize;
	unsigned char certChain[0x1000];
	unsigned char attestationCertChain[0x1400];
} nvmlConfComputeGpuCertificate_t;

#define OK 0
#define ERR_UNINITIALIZED 1
#define ERR_INVALID_ARGUMENT 2
#define ERR_NOT_SUPPORTED 3
#define ERR_UNKNOWN 999

nvmlReturn_t nvmlInit_v2(void);
nvmlReturn_t nvmlShutdown(void);
nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *n);
nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int i, nvmlDevice_t *d);
nvmlReturn_t nvmlDeviceGetConfComputeGpuAttestationReport(nvmlDevice_t d, nvmlConfComputeGpuAttestationReport_t *r);
nvmlReturn_t nvmlDeviceGetConfComputeGpuCertificate(nvmlDevice_t d, nvmlConfComputeGpuCertificate_t *c);

static int inited;
static struct nvmlDevice_st { unsigned int index; } devs[8];

static unsigned int
count(void)
{
	const char *s = getenv("FAKE_NVML_GPUS");
	unsigned int n = s != NULL ? (unsigned int)strtoul(s, NULL, 10) : 1;

	return n > 8 ? 8 : n;
}

nvmlReturn_t
nvmlInit_v2(void)
{
	inited = 1;
	return OK;
}

nvmlReturn_t
nvmlShutdown(void)
{
	inited = 0;
	return OK;
}

nvmlReturn_t
nvmlDeviceGetCount_v2(unsigned int *n)
{
	if (!inited)
		return ERR_UNINITIALIZED;
	*n = count();
	return OK;
}

nvmlReturn_t
nvmlDeviceGetHandleByIndex_v2(unsigned int i, nvmlDevice_t *d)
{
	if (!inited)
		return ERR_UNINITIALIZED;
	if (i >= count())
		return ERR_INVALID_ARGUMENT;
	devs[i].index = i;
	*d = &devs[i];
	return OK;
}

static void
put(unsigned char *b, size_t *n, const void *p, size_t len)
{
	memcpy(b + *n, p, len);
	*n += len;
}

static void
put16(unsigned char *b, size_t *n, size_t v)
{
	unsigned char x[2] = { (unsigned char)(v & 0xff), (unsigned char)(v >> 8) };

	put(b, n, x, 2);
}

static void
tlv(unsigned char *b, size_t *n, unsigned int t, const void *v, size_t len)
{
	put16(b, n, t);
	put16(b, n, len);
	put(b, n, v, len);
}

static FILE *
open_in_dir(const char *name)
{
	char path[4096];
	const char *dir = getenv("FAKE_NVML_DIR");

	if (dir == NULL)
		return NULL;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return fopen(path, "rb");
}

nvmlReturn_t
nvmlDeviceGetConfComputeGpuAttestationReport(nvmlDevice_t d, nvmlConfComputeGpuAttestationReport_t *r)
{
	static const unsigned char vbios[8] = { 0x00, 0x9f, 0x00, 0x96, 0x01, 0x00, 0x00, 0x00 };
	static const unsigned char ppcie = 0x55, ver[2] = { 1, 0 }, flag[2] = { 0, 0 };
	unsigned char *b = r->attestationReport, md[48], sigder[128], op[256];
	const unsigned char *sp = sigder;
	size_t n = 0, on = 0, sl = sizeof(sigder);
	EVP_PKEY *k = NULL;
	ECDSA_SIG *sig = NULL;
	char name[32];
	FILE *f;

	if (!inited)
		return ERR_UNINITIALIZED;
	if (d == NULL || r == NULL)
		return ERR_INVALID_ARGUMENT;
	if (getenv("FAKE_NVML_FAIL") != NULL && strcmp(getenv("FAKE_NVML_FAIL"), "report") == 0)
		return ERR_NOT_SUPPORTED;
	put(b, &n, "\x11\xe0\x01\xff", 4);
	put(b, &n, r->nonce, 32);          /* the caller's nonce, as NVML takes it */
	put(b, &n, "\x00\x11\x60\x00\x00\x08", 6);
	put(b, &n, "\xb8\x01\x00", 3);     /* 8 blocks of 4 + 3 + 48 bytes = 440 = 0x1b8 */
	for (unsigned int i = 1; i <= 8; i++) {
		char label[64];
		int ln = snprintf(label, sizeof(label), "NOT NVIDIA emulated GPU block %u", i);
		unsigned char h[2] = { (unsigned char)i, 1 };

		EVP_Digest(label, (size_t)ln, md, NULL, EVP_sha384(), NULL);
		put(b, &n, h, 2);
		put16(b, &n, 3 + 48);
		put(b, &n, "\x01", 1);
		put16(b, &n, 48);
		put(b, &n, md, 48);
	}
	put(b, &n, r->nonce, 32);          /* the responder's nonce: any 32 bytes */
	tlv(op, &on, 3, "550.90.07\0", 10);
	tlv(op, &on, 6, vbios, 8);
	tlv(op, &on, 15, "882\0", 4);
	tlv(op, &on, 17, "1010\0", 5);
	tlv(op, &on, 18, "0200\0", 5);
	tlv(op, &on, 21, &ppcie, 1);
	tlv(op, &on, 34, ver, 2);
	tlv(op, &on, 36, flag, 2);
	put16(b, &n, on);
	put(b, &n, op, on);
	snprintf(name, sizeof(name), "leaf%u.key", d->index);
	if ((f = open_in_dir(name)) == NULL)
		return ERR_UNKNOWN;
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (k == NULL || EVP_Digest(b, n, md, NULL, EVP_sha384(), NULL) != 1) {
		EVP_PKEY_free(k);
		return ERR_UNKNOWN;
	}
	{
		EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(k, NULL);
		int ok = c != NULL && EVP_PKEY_sign_init(c) == 1 && EVP_PKEY_sign(c, sigder, &sl, md, 48) == 1;

		EVP_PKEY_CTX_free(c);
		EVP_PKEY_free(k);
		if (!ok || (sig = d2i_ECDSA_SIG(NULL, &sp, (long)sl)) == NULL)
			return ERR_UNKNOWN;
	}
	BN_bn2binpad(ECDSA_SIG_get0_r(sig), b + n, 48);
	BN_bn2binpad(ECDSA_SIG_get0_s(sig), b + n + 48, 48);
	ECDSA_SIG_free(sig);
	n += 96;
	r->attestationReportSize = (unsigned int)n;
	r->isCecAttestationReportPresent = 0;
	r->cecAttestationReportSize = 0;
	return OK;
}

nvmlReturn_t
nvmlDeviceGetConfComputeGpuCertificate(nvmlDevice_t d, nvmlConfComputeGpuCertificate_t *c)
{
	char leaf[32];
	const char *files[3] = { leaf, "ica.pem", "root.pem" };
	size_t n = 0;

	if (!inited)
		return ERR_UNINITIALIZED;
	if (d == NULL || c == NULL)
		return ERR_INVALID_ARGUMENT;
	snprintf(leaf, sizeof(leaf), "leaf%u.pem", d->index);
	for (int i = 0; i < 3; i++) {
		FILE *f = open_in_dir(files[i]);

		if (f == NULL)
			return ERR_UNKNOWN;
		n += fread(c->attestationCertChain + n, 1, sizeof(c->attestationCertChain) - n, f);
		fclose(f);
	}
	c->attestationCertChainSize = (unsigned int)n;
	c->certChainSize = 0;
	return OK;
}
