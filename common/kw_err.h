/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_ERR_H
#define KW_ERR_H

/*
 * Error codes shared by every module. Functions return 0 on success or one
 * of these (negative) values. Only broker/ maps them to HTTP statuses.
 */
enum kw_err {
	KW_OK = 0,
	KW_ERR_INTERNAL = -1,        /* broken invariant, unexpected library failure */
	KW_ERR_NOMEM = -2,
	KW_ERR_INVALID_ARG = -3,     /* caller error */
	KW_ERR_INVALID_FORMAT = -4,  /* malformed input bytes */
	KW_ERR_TOO_LARGE = -5,       /* input exceeds a named cap */
	KW_ERR_TRUNCATED = -6,       /* input ends early */
	KW_ERR_TRAILING = -7,        /* bytes left after a complete structure */
	KW_ERR_UNSUPPORTED = -8,     /* valid but not supported (version, algorithm) */
	KW_ERR_SIG_INVALID = -9,     /* signature does not verify */
	KW_ERR_CERT_INVALID = -10,   /* certificate chain does not verify */
	KW_ERR_CERT_EXPIRED = -11,   /* certificate outside its validity window */
	KW_ERR_UNTRUSTED_ROOT = -12, /* chain ends at a root we do not pin */
	KW_ERR_MISMATCH = -13,       /* two values that must agree do not */
	KW_ERR_NOT_FOUND = -14,
	KW_ERR_EXISTS = -15,
	KW_ERR_DENIED = -16,         /* appraisal or policy says no */
	KW_ERR_EXPIRED = -17,        /* nonce, token or session expired */
	KW_ERR_REPLAY = -18,         /* single-use value used twice */
	KW_ERR_HSM = -19,            /* the HSM helper or the PKCS#11 module failed */
	KW_ERR_IO = -20,             /* file or socket I/O */
	KW_ERR_CONFIG = -21,         /* configuration file invalid */
	KW_ERR_CRYPTO = -22,         /* OpenSSL failure that is not a verification result */
	KW_ERR_UNAVAILABLE = -23,    /* a dependency is down (HSM, store) */
	KW_ERR_DEBUG_GUEST = -24,    /* evidence from a debug-enabled guest */
	KW_ERR_BUSY = -25,           /* a per-client quota or rate is exhausted: retry later */
	KW_ERR_TIMEOUT = -26,        /* a dependency did not answer within its deadline */
	KW_ERR__LAST = -27,
};

/* Returns a static, non-NULL English description of r. Never fails. */
const char *kw_strerror(int r);

#define KW_WUR __attribute__((warn_unused_result))
#define KW_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define KW_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
