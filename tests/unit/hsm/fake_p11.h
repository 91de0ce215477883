/* SPDX-License-Identifier: Apache-2.0 */
#ifndef FAKE_P11_H
#define FAKE_P11_H

/*
 * A fake PKCS#11 module for tests (fake_p11.c, built as a shared module
 * with a dlopen-able C_GetFunctionList). One slot with the token "fake",
 * user PIN "5678". It keeps objects with the attributes hsm/hsm_p11*.c
 * reads, does no cryptography (outputs are patterns of the right length),
 * counts every call per function, and returns chosen CKR_* codes on chosen
 * calls. A test dlopens the same path as hsm_p11_open (so both see one
 * instance) and drives it through fake_p11_api().
 */
#include <stddef.h>

#include <p11-kit/pkcs11.h>

enum fake_fn {
	FAKE_INITIALIZE, FAKE_FINALIZE, FAKE_GET_INFO, FAKE_GET_SLOT_LIST, FAKE_GET_TOKEN_INFO,
	FAKE_OPEN_SESSION, FAKE_CLOSE_SESSION, FAKE_LOGIN, FAKE_FIND_INIT, FAKE_FIND,
	FAKE_FIND_FINAL, FAKE_GET_ATTR, FAKE_CREATE_OBJECT, FAKE_DESTROY_OBJECT, FAKE_GENERATE_KEY,
	FAKE_GENERATE_KEY_PAIR, FAKE_GENERATE_RANDOM, FAKE_DERIVE_KEY, FAKE_WRAP_KEY,
	FAKE_UNWRAP_KEY, FAKE_ENCRYPT_INIT, FAKE_ENCRYPT, FAKE_SIGN_INIT, FAKE_SIGN,
	FAKE_DIGEST_INIT, FAKE_DIGEST_UPDATE, FAKE_DIGEST_KEY, FAKE_DIGEST_FINAL,
	FAKE_FN_COUNT
};

#define FAKE_TOKEN_LABEL "fake"
#define FAKE_PIN "5678"
#define FAKE_RULES 8

struct fake_p11_api {
	/* Calls per enum fake_fn since the last reset (also the failed ones). */
	const unsigned long *calls;
	/* Forget every object, session, count and rule; the module is uninitialized. */
	void (*reset)(void);
	/*
	 * Make call number calls[fn] + nth (nth >= 1: the nth from now) of fn
	 * return rv, and the times - 1 calls after it too. Up to FAKE_RULES rules.
	 */
	int (*fail)(enum fake_fn fn, unsigned long nth, CK_RV rv, unsigned long times);
	/*
	 * Delete the objects labelled label (class cls; CK_UNAVAILABLE_INFORMATION:
	 * any) behind the caller's back; how many.
	 */
	size_t (*kill)(const char *label, CK_OBJECT_CLASS cls);
	/* Live objects labelled label (class cls; CK_UNAVAILABLE_INFORMATION: any). */
	size_t (*count)(const char *label, CK_OBJECT_CLASS cls);
	/* Live session objects. */
	size_t (*session_objects)(void);
	/* Invalidate every open session and its objects (as a device reset would). */
	void (*drop_sessions)(void);
};

typedef const struct fake_p11_api *(*fake_p11_api_fn)(void);
const struct fake_p11_api *fake_p11_api(void);

#endif
