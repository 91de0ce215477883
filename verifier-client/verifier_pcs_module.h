/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_VERIFIER_PCS_MODULE_H
#define KW_VERIFIER_PCS_MODULE_H

/*
 * The fetched TDX collateral sources as a loadable module.
 *
 * tdx_pcs needs libcurl, and libcurl on Debian pulls in some twenty shared
 * objects (GnuTLS, Kerberos, LDAP, libssh2, nghttp2, ...): about 3.3 MB of
 * resident memory in every broker, although only tdx.collateral modes "pcs"
 * and "pccs" fetch anything. So verifier_pcs.c and tdx_pcs.c are built into
 * keywarden-pcs.so, which the broker loads (dlopen, RTLD_NOW) only in those
 * modes. The module resolves the rest of keywarden (the TDX verifier, common/)
 * from the executable, which exports its symbols for it; it links its own copy
 * only of what the executable lacks.
 *
 * The module is found next to the executable (the build tree) or in
 * KW_MODULE_DIR (installed; common/kw_module.h). It is refused unless it is a regular file
 * owned by root or by the broker's user and writable by no one else, and
 * unless it was built from the same version with the same interface.
 */

#include "kw_ocsp.h"
#include "tdx_pcs.h"
#include "verifier.h"

#define KW_PCS_MODULE_FILE "keywarden-pcs.so"
#define KW_PCS_MODULE_ENTRY "kw_pcs_module_v1"
#define KW_PCS_MODULE_ABI 2u   /* 2: the OCSP client (kw_ocsp.h) for nvgpu.ocsp_url */

/* What the broker calls; the members are verifier_pcs.h's and tdx_pcs.h's functions. */
struct kw_pcs_module {
	unsigned int abi;        /* KW_PCS_MODULE_ABI */
	const char *version;     /* KW_VERSION of the module's build */
	int (*source_new)(const struct tdx_trust *trust, const struct tdx_pcs_config *cfg, int pccs,
	    struct kw_tdx_collateral_source **ret, struct tdx_pcs **ret_pcs, const char **reterr_why);
	int (*start)(struct tdx_pcs *p);
	void (*stats)(struct tdx_pcs *p, struct tdx_pcs_stats *ret);
	const char *(*ca_name)(enum tdx_pcs_ca ca);
	/* kw_ocsp.h; ocsp_check has kw_cert_status's check() signature (ctx: the kw_ocsp) */
	int (*ocsp_new)(const char *url, unsigned int timeout_s, struct kw_ocsp **ret, const char **why);
	int (*ocsp_check)(void *ctx, const uint8_t *const *certs, const size_t *lens, size_t n, size_t first,
	    int64_t at, const char **why);
	void (*ocsp_stats)(struct kw_ocsp *o, unsigned long *ret_fetches, unsigned long *ret_hits);
	void (*ocsp_free)(struct kw_ocsp *o);
};

/* The module's one exported symbol. */
const struct kw_pcs_module *kw_pcs_module_v1(void);

#endif
