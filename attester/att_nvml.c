/* SPDX-License-Identifier: Apache-2.0 */
/* NVIDIA GPU evidence through a run-time loaded NVML; contract in att_nvml.h. */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "att_nvml.h"
#include "kw_b64url.h"
#include "kw_json.h"
#include "kw_util.h"

/*
 * Our declarations of the parts of NVIDIA's nvml.h we use (public
 * documentation, NVML API reference "Confidential Computing Queries"):
 * the return type is an int enum (0 success), a device is an opaque
 * pointer, and the two structures are laid out as below.
 */
typedef int nvml_return;
typedef struct nvml_device *nvml_device;
#define NVML_SUCCESS 0
#define NVML_CC_NONCE_SIZE 0x20
#define NVML_CC_REPORT_SIZE 0x2000
#define NVML_CC_CEC_REPORT_SIZE 0x1000
#define NVML_CERT_CHAIN_SIZE 0x1000
#define NVML_ATTESTATION_CHAIN_SIZE 0x1400

struct nvml_attestation_report {           /* nvmlConfComputeGpuAttestationReport_t */
	unsigned int is_cec_report_present;
	unsigned int report_size;
	unsigned int cec_report_size;
	unsigned char nonce[NVML_CC_NONCE_SIZE];
	unsigned char report[NVML_CC_REPORT_SIZE];
	unsigned char cec_report[NVML_CC_CEC_REPORT_SIZE];
};

struct nvml_certificate {                  /* nvmlConfComputeGpuCertificate_t */
	unsigned int cert_chain_size;
	unsigned int attestation_chain_size;
	unsigned char cert_chain[NVML_CERT_CHAIN_SIZE];
	unsigned char attestation_chain[NVML_ATTESTATION_CHAIN_SIZE];
};

struct nvml {
	nvml_return (*init)(void);
	nvml_return (*shutdown)(void);
	nvml_return (*count)(unsigned int *);
	nvml_return (*handle)(unsigned int, nvml_device *);
	nvml_return (*report)(nvml_device, struct nvml_attestation_report *);
	nvml_return (*certificate)(nvml_device, struct nvml_certificate *);
};

/* dlsym into a function pointer without a cast between object and function pointers. */
static int
sym(void *lib, const char *name, void *fnp, size_t fnsz)
{
	void *p = dlsym(lib, name);

	if (p == NULL || fnsz != sizeof(p))
		return -1;
	memcpy(fnp, &p, sizeof(p));
	return 0;
}

static int
load(struct nvml *n, char *why, size_t whylen)
{
	static void *lib;

	if (lib == NULL && (lib = dlopen(ATT_NVML_LIB, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		snprintf(why, whylen, "no NVML (%s not found)", ATT_NVML_LIB);
		return KW_ERR_NOT_FOUND;
	}
	if (sym(lib, "nvmlInit_v2", &n->init, sizeof(n->init)) != 0 ||
	    sym(lib, "nvmlShutdown", &n->shutdown, sizeof(n->shutdown)) != 0 ||
	    sym(lib, "nvmlDeviceGetCount_v2", &n->count, sizeof(n->count)) != 0 ||
	    sym(lib, "nvmlDeviceGetHandleByIndex_v2", &n->handle, sizeof(n->handle)) != 0 ||
	    sym(lib, "nvmlDeviceGetConfComputeGpuAttestationReport", &n->report, sizeof(n->report)) != 0 ||
	    sym(lib, "nvmlDeviceGetConfComputeGpuCertificate", &n->certificate, sizeof(n->certificate)) != 0) {
		snprintf(why, whylen, "%s lacks the confidential-computing entry points (driver too old)",
		    ATT_NVML_LIB);
		return KW_ERR_NOT_FOUND;
	}
	return 0;
}

/* The PEM certificates of an attestation chain as base64url DER strings, in order (2..8). */
static int
chain_json(const unsigned char *pem, size_t len, json_t **ret)
{
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	json_t *a = json_array();
	X509 *x;
	int r = KW_ERR_NOMEM;

	if (b == NULL || a == NULL)
		goto out;
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
		unsigned char *der = NULL;
		char *s = NULL;
		int dl = i2d_X509(x, &der);

		X509_free(x);
		if (dl <= 0 || json_array_size(a) >= 8) {
			OPENSSL_free(der);
			r = dl <= 0 ? KW_ERR_CRYPTO : KW_ERR_INVALID_FORMAT;
			goto out;
		}
		r = kw_b64url_encode(der, (size_t)dl, &s);
		OPENSSL_free(der);
		if (r != 0 || json_array_append_new(a, json_string(s)) != 0) {
			free(s);
			r = r != 0 ? r : KW_ERR_NOMEM;
			goto out;
		}
		free(s);
	}
	if (json_array_size(a) < 2) {
		r = KW_ERR_INVALID_FORMAT;
		goto out;
	}
	*ret = a;
	a = NULL;   /* transferred */
	r = 0;
out:
	BIO_free(b);
	json_decref(a);
	return r;
}

static int
one(const struct nvml *n, unsigned int i, const uint8_t nonce[static NVML_CC_NONCE_SIZE], json_t **ret,
    char *why, size_t whylen)
{
	struct nvml_attestation_report *rep = calloc(1, sizeof(*rep));
	struct nvml_certificate *cert = calloc(1, sizeof(*cert));
	nvml_device dev = NULL;
	json_t *chain = NULL, *o = NULL;
	char *rb = NULL;
	nvml_return nr;
	int r = KW_ERR_NOMEM;

	if (rep == NULL || cert == NULL)
		goto out;
	r = KW_ERR_UNAVAILABLE;
	if ((nr = n->handle(i, &dev)) != NVML_SUCCESS || dev == NULL) {
		snprintf(why, whylen, "GPU %u: nvmlDeviceGetHandleByIndex_v2 failed (%d)", i, nr);
		goto out;
	}
	memcpy(rep->nonce, nonce, NVML_CC_NONCE_SIZE);
	if ((nr = n->report(dev, rep)) != NVML_SUCCESS) {
		snprintf(why, whylen, "GPU %u: nvmlDeviceGetConfComputeGpuAttestationReport failed (%d); "
		    "is the GPU in confidential-computing mode?", i, nr);
		goto out;
	}
	if ((nr = n->certificate(dev, cert)) != NVML_SUCCESS) {
		snprintf(why, whylen, "GPU %u: nvmlDeviceGetConfComputeGpuCertificate failed (%d)", i, nr);
		goto out;
	}
	r = KW_ERR_INVALID_FORMAT;
	if (rep->report_size == 0 || rep->report_size > NVML_CC_REPORT_SIZE) {
		snprintf(why, whylen, "GPU %u: attestation report size %u out of bounds", i, rep->report_size);
		goto out;
	}
	if (cert->attestation_chain_size == 0 || cert->attestation_chain_size > NVML_ATTESTATION_CHAIN_SIZE) {
		snprintf(why, whylen, "GPU %u: attestation certificate chain size %u out of bounds", i,
		    cert->attestation_chain_size);
		goto out;
	}
	if ((r = chain_json(cert->attestation_chain, cert->attestation_chain_size, &chain)) != 0) {
		snprintf(why, whylen, "GPU %u: the attestation certificate chain is not 2..8 PEM certificates",
		    i);
		goto out;
	}
	if ((r = kw_b64url_encode(rep->report, rep->report_size, &rb)) != 0 ||
	    (o = json_pack("{s:s,s:O}", "report", rb, "chain", chain)) == NULL) {
		r = r != 0 ? r : KW_ERR_NOMEM;
		goto out;
	}
	*ret = o;
	r = 0;
out:
	json_decref(chain);
	free(rb);
	free(rep);
	free(cert);
	return r;
}

int
att_nvml_gpus(const json_t *runtime_data, json_t **ret, char *why, size_t whylen)
{
	struct nvml n;
	uint8_t md[32];
	char *jcs = NULL;
	size_t len = 0;
	unsigned int count = 0;
	json_t *all = NULL;
	nvml_return nr;
	int r, inited = 0;

	snprintf(why, whylen, "out of memory");
	if ((r = load(&n, why, whylen)) != 0)
		return r;
	if ((r = kw_jcs_serialize(runtime_data, &jcs, &len)) != 0 || (r = kw_sha256(jcs, len, md)) != 0) {
		free(jcs);
		snprintf(why, whylen, "cannot compute the GPU nonce: %s", kw_strerror(r));
		return r;
	}
	free(jcs);
	if ((nr = n.init()) != NVML_SUCCESS) {
		snprintf(why, whylen, "nvmlInit_v2 failed (%d): no NVIDIA driver?", nr);
		return KW_ERR_NOT_FOUND;
	}
	inited = 1;
	if ((nr = n.count(&count)) != NVML_SUCCESS || count == 0) {
		snprintf(why, whylen, nr != NVML_SUCCESS ? "nvmlDeviceGetCount_v2 failed" : "no NVIDIA GPU");
		r = KW_ERR_NOT_FOUND;
		goto out;
	}
	if (count > ATT_NVML_MAX_GPUS) {
		snprintf(why, whylen, "%u GPUs: the broker takes at most %d", count, ATT_NVML_MAX_GPUS);
		r = KW_ERR_TOO_LARGE;
		goto out;
	}
	if ((all = json_array()) == NULL) {
		r = KW_ERR_NOMEM;
		goto out;
	}
	for (unsigned int i = 0; i < count; i++) {
		json_t *g = NULL;

		if ((r = one(&n, i, md, &g, why, whylen)) != 0)
			goto out;
		if (json_array_append_new(all, g) != 0) {
			r = KW_ERR_NOMEM;
			goto out;
		}
	}
	snprintf(why, whylen, "%u GPU%s", count, count > 1 ? "s" : "");
	*ret = all;
	all = NULL;   /* transferred */
	r = 0;
out:
	json_decref(all);
	if (inited)
		(void)n.shutdown();
	return r;
}
