/* SPDX-License-Identifier: Apache-2.0 */
#include "kw_err.h"

const char *
kw_strerror(int r)
{
	switch (r) {
	case KW_OK: return "success";
	case KW_ERR_INTERNAL: return "internal error";
	case KW_ERR_NOMEM: return "out of memory";
	case KW_ERR_INVALID_ARG: return "invalid argument";
	case KW_ERR_INVALID_FORMAT: return "invalid format";
	case KW_ERR_TOO_LARGE: return "input too large";
	case KW_ERR_TRUNCATED: return "input truncated";
	case KW_ERR_TRAILING: return "trailing data";
	case KW_ERR_UNSUPPORTED: return "unsupported";
	case KW_ERR_SIG_INVALID: return "signature invalid";
	case KW_ERR_CERT_INVALID: return "certificate chain invalid";
	case KW_ERR_CERT_EXPIRED: return "certificate expired or not yet valid";
	case KW_ERR_UNTRUSTED_ROOT: return "untrusted root";
	case KW_ERR_MISMATCH: return "value mismatch";
	case KW_ERR_NOT_FOUND: return "not found";
	case KW_ERR_EXISTS: return "already exists";
	case KW_ERR_DENIED: return "denied";
	case KW_ERR_EXPIRED: return "expired";
	case KW_ERR_REPLAY: return "replayed";
	case KW_ERR_HSM: return "HSM failure";
	case KW_ERR_IO: return "I/O error";
	case KW_ERR_CONFIG: return "configuration error";
	case KW_ERR_CRYPTO: return "cryptographic library failure";
	case KW_ERR_UNAVAILABLE: return "service unavailable";
	case KW_ERR_DEBUG_GUEST: return "debug guest";
	case KW_ERR_BUSY: return "quota exhausted";
	case KW_ERR_TIMEOUT: return "timed out";
	default: return "unknown error";
	}
}
