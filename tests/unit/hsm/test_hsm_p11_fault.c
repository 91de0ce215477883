/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hsm/hsm_p11*.c against fake_p11.c, a PKCS#11 module that returns chosen
 * CKR_* codes and counts calls (argv[1]: its path). The paths SoftHSM never
 * takes on its own: a cached handle whose object was destroyed elsewhere
 * (exactly one lookup again), a lost session or removed device (the next
 * call opens a new session), a wrong PIN (not offered twice), host memory,
 * and the cleanup of half-made objects. Assertions are on return codes and
 * on the number of calls made.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "fake_p11.h"
#include "hsm_p11.h"
#include "kw_json.h"
#include "kw_log.h"
#include "kw_util.h"

static const char *module;
static const struct fake_p11_api *fake;
static char dir[64], pin_ok[128], pin_bad[128];
static unsigned long snap[FAKE_FN_COUNT];
static struct hsm_p11 *p;
static const char *detail;

/* An RSA-2048 public key for releases (the fake does no cryptography). */
static uint8_t rsa_n[256], rsa_e[3] = {1, 0, 1};

static int
write_pin(const char *path, const char *pin)
{
	FILE *f = fopen(path, "w");
	int ok;

	if (f == NULL)
		return -1;
	ok = fputs(pin, f) >= 0;
	return fclose(f) == 0 && ok ? 0 : -1;
}

/* A fresh module state and a fresh hsm_p11 on it (not started). */
static void
fresh(const char *pin_file)
{
	hsm_p11_close(p);
	p = NULL;
	fake->reset();
	CU_ASSERT_EQUAL_FATAL(hsm_p11_open(module, FAKE_TOKEN_LABEL, pin_file, &p, &detail), 0);
}

/* Started: C_Initialize, a session, logged in. */
static void
fresh_started(void)
{
	fresh(pin_ok);
	CU_ASSERT_EQUAL_FATAL(hsm_p11_start(p, &detail), 0);
}

static void
snapshot(void)
{
	memcpy(snap, fake->calls, sizeof(snap));
}

/* Calls of fn since the last snapshot. */
static unsigned long
delta(enum fake_fn fn)
{
	return fake->calls[fn] - snap[fn];
}

static int
release(const char *label)
{
	char *jwe = NULL;
	int r;

	r = hsm_p11_release(p, label, rsa_n, sizeof(rsa_n), rsa_e, sizeof(rsa_e), "k", &jwe, &detail);
	CU_ASSERT_TRUE(r == 0 ? jwe != NULL && strchr(jwe, '.') != NULL : jwe == NULL);
	free(jwe);
	return r;
}

/* Snapshot, release label, and check its result and its lookups and wraps. */
static void
check_release(const char *label, int want, unsigned long finds, unsigned long wraps)
{
	snapshot();
	CU_ASSERT_EQUAL(release(label), want);
	CU_ASSERT_EQUAL(delta(FAKE_FIND_INIT), finds);
	CU_ASSERT_EQUAL(delta(FAKE_WRAP_KEY), wraps);
}

static int
generate(const char *label)
{
	enum hsm_kind kind = 0;
	size_t len = 0;
	bool created = false;
	int r;

	r = hsm_p11_generate(p, label, HSM_KIND_AES256, 32, false, &created, &kind, &len, &detail);
	CU_ASSERT_TRUE(r != 0 || (created && kind == HSM_KIND_AES256 && len == 32));
	return r;
}

static int
random8(void)
{
	uint8_t b[8];

	return hsm_p11_random(p, b, sizeof(b), &detail);
}

/* Start, no-op when started, recycle. */
static void
test_start(void)
{
	fresh(pin_ok);
	CU_ASSERT_FALSE(hsm_p11_ready(p));
	snapshot();
	CU_ASSERT_EQUAL(hsm_p11_start(p, &detail), 0);
	CU_ASSERT_TRUE(hsm_p11_ready(p));
	CU_ASSERT_EQUAL(delta(FAKE_INITIALIZE), 1);
	CU_ASSERT_EQUAL(delta(FAKE_OPEN_SESSION), 1);
	CU_ASSERT_EQUAL(delta(FAKE_LOGIN), 1);
	CU_ASSERT_STRING_EQUAL(hsm_p11_module_desc(p), "keywarden fake PKCS#11 0.1");
	snapshot();
	CU_ASSERT_EQUAL(hsm_p11_start(p, &detail), 0);
	CU_ASSERT_EQUAL(delta(FAKE_OPEN_SESSION), 0);
	CU_ASSERT_EQUAL(hsm_p11_recycle(p, &detail), 0);
	CU_ASSERT_EQUAL(delta(FAKE_FINALIZE), 1);
	CU_ASSERT_EQUAL(delta(FAKE_INITIALIZE), 1);
	CU_ASSERT_EQUAL(delta(FAKE_OPEN_SESSION), 1);
	CU_ASSERT_EQUAL(delta(FAKE_LOGIN), 1);
	/* a module that will not initialize: the error, and nothing else tried */
	fresh(pin_ok);
	CU_ASSERT_EQUAL(fake->fail(FAKE_INITIALIZE, 1, CKR_GENERAL_ERROR, 1), 0);
	snapshot();
	CU_ASSERT_EQUAL(random8(), KW_ERR_HSM);
	CU_ASSERT_STRING_EQUAL(detail, "CKR_GENERAL_ERROR");
	CU_ASSERT_EQUAL(delta(FAKE_OPEN_SESSION), 0);
	CU_ASSERT_EQUAL(random8(), 0);
	CU_ASSERT_EQUAL(delta(FAKE_INITIALIZE), 2);
}

/* CKR_PIN_INCORRECT at login: the start fails, and the same PIN is not offered again. */
static void
test_pin_incorrect(void)
{
	CU_ASSERT_EQUAL_FATAL(write_pin(pin_bad, "0000\n"), 0);
	fresh(pin_bad);
	snapshot();
	CU_ASSERT_EQUAL(random8(), KW_ERR_HSM);
	CU_ASSERT_STRING_EQUAL(detail, "CKR_PIN_INCORRECT");
	CU_ASSERT_FALSE(hsm_p11_ready(p));
	CU_ASSERT_EQUAL(delta(FAKE_LOGIN), 1);
	CU_ASSERT_EQUAL(delta(FAKE_FINALIZE), 1);    /* started from scratch next time */
	CU_ASSERT_EQUAL(delta(FAKE_GENERATE_RANDOM), 0);
	/* the next request: a new session, but no C_Login with the refused PIN */
	CU_ASSERT_EQUAL(random8(), KW_ERR_HSM);
	CU_ASSERT_PTR_NOT_NULL(strstr(detail, "not tried again"));
	CU_ASSERT_EQUAL(delta(FAKE_LOGIN), 1);
	CU_ASSERT_EQUAL(delta(FAKE_OPEN_SESSION), 2);
	CU_ASSERT_EQUAL(random8(), KW_ERR_HSM);
	CU_ASSERT_EQUAL(delta(FAKE_LOGIN), 1);
	/* a changed PIN file is tried */
	CU_ASSERT_EQUAL_FATAL(write_pin(pin_bad, FAKE_PIN "\n"), 0);
	CU_ASSERT_EQUAL(random8(), 0);
	CU_ASSERT_EQUAL(delta(FAKE_LOGIN), 2);
	CU_ASSERT_TRUE(hsm_p11_ready(p));
	/* and the PIN that works is not remembered as refused */
	CU_ASSERT_EQUAL(hsm_p11_recycle(p, &detail), 0);
	CU_ASSERT_EQUAL(delta(FAKE_LOGIN), 3);
	/* a missing PIN file is a configuration error, and no login */
	fresh("/nonexistent/pin");
	snapshot();
	CU_ASSERT_EQUAL(random8(), KW_ERR_CONFIG);
	CU_ASSERT_EQUAL(delta(FAKE_LOGIN), 0);
}

/* CKR_HOST_MEMORY: KW_ERR_NOMEM, and the session stays. */
static void
test_host_memory(void)
{
	fresh_started();
	CU_ASSERT_EQUAL(fake->fail(FAKE_GENERATE_RANDOM, 1, CKR_HOST_MEMORY, 1), 0);
	snapshot();
	CU_ASSERT_EQUAL(random8(), KW_ERR_NOMEM);
	CU_ASSERT_STRING_EQUAL(detail, "CKR_HOST_MEMORY");
	CU_ASSERT_TRUE(hsm_p11_ready(p));
	CU_ASSERT_EQUAL(random8(), 0);
	CU_ASSERT_EQUAL(delta(FAKE_GENERATE_RANDOM), 2);
	CU_ASSERT_EQUAL(delta(FAKE_OPEN_SESSION), 0);
	CU_ASSERT_EQUAL(delta(FAKE_LOGIN), 0);
}

/*
 * The module says the session (or the device) is gone: the call fails,
 * ready is dropped, and the next call closes the old session and opens
 * and logs in a new one without C_Initialize.
 */
static void
test_session_lost(void)
{
	static const CK_RV lost[] = {CKR_SESSION_HANDLE_INVALID, CKR_SESSION_CLOSED,
		CKR_DEVICE_REMOVED, CKR_DEVICE_ERROR, CKR_TOKEN_NOT_PRESENT, CKR_USER_NOT_LOGGED_IN};
	static const char *const names[] = {"CKR_SESSION_HANDLE_INVALID", "CKR_SESSION_CLOSED",
		"CKR_DEVICE_REMOVED", "CKR_DEVICE_ERROR", "CKR_TOKEN_NOT_PRESENT",
		"CKR_USER_NOT_LOGGED_IN"};

	for (size_t i = 0; i < KW_ARRAY_SIZE(lost); i++) {
		fresh_started();
		CU_ASSERT_EQUAL(fake->fail(FAKE_GENERATE_RANDOM, 1, lost[i], 1), 0);
		snapshot();
		CU_ASSERT_EQUAL(random8(), KW_ERR_HSM);
		CU_ASSERT_STRING_EQUAL(detail, names[i]);
		CU_ASSERT_FALSE(hsm_p11_ready(p));
		CU_ASSERT_EQUAL(random8(), 0);
		CU_ASSERT_TRUE(hsm_p11_ready(p));
		CU_ASSERT_EQUAL(delta(FAKE_INITIALIZE), 0);
		CU_ASSERT_EQUAL(delta(FAKE_CLOSE_SESSION), 1);
		CU_ASSERT_EQUAL(delta(FAKE_OPEN_SESSION), 1);
		CU_ASSERT_EQUAL(delta(FAKE_LOGIN), 1);
		CU_ASSERT_EQUAL(delta(FAKE_GENERATE_RANDOM), 2);
	}
	/* a real loss: every session of the module is gone (a device reset) */
	fresh_started();
	CU_ASSERT_EQUAL(generate("t/lost"), 0);
	CU_ASSERT_EQUAL(release("t/lost"), 0);
	fake->drop_sessions();
	snapshot();
	CU_ASSERT_EQUAL(release("t/lost"), KW_ERR_HSM);
	CU_ASSERT_STRING_EQUAL(detail, "CKR_SESSION_HANDLE_INVALID");
	CU_ASSERT_EQUAL(delta(FAKE_FIND_INIT), 0);    /* not a stale handle: no lookup */
	CU_ASSERT_EQUAL(release("t/lost"), 0);
	CU_ASSERT_EQUAL(delta(FAKE_OPEN_SESSION), 1);
	CU_ASSERT_EQUAL(delta(FAKE_LOGIN), 1);
	CU_ASSERT_EQUAL(fake->session_objects(), 0);
	/* finalized behind our back: the next call initializes again */
	fresh_started();
	CU_ASSERT_EQUAL(fake->fail(FAKE_GENERATE_RANDOM, 1, CKR_CRYPTOKI_NOT_INITIALIZED, 1), 0);
	snapshot();
	CU_ASSERT_EQUAL(random8(), KW_ERR_HSM);
	CU_ASSERT_EQUAL(random8(), 0);
	CU_ASSERT_EQUAL(delta(FAKE_INITIALIZE), 1);
	CU_ASSERT_EQUAL(delta(FAKE_OPEN_SESSION), 1);
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * One attempt while the token is unreachable (every attempt is one failing
 * C_GetSlotList): made when the back-off has passed, else refused at once.
 */
static void
attempt_after(int64_t since, unsigned int backoff_ms, unsigned long *slot_lists)
{
	int64_t t = mono_ms();

	CU_ASSERT_EQUAL(random8(), KW_ERR_HSM);
	if (t - since < backoff_ms) {
		CU_ASSERT_PTR_NOT_NULL(strstr(detail, "unreachable"));
	} else {
		(*slot_lists)++;
		CU_ASSERT_STRING_EQUAL(detail, "CKR_DEVICE_REMOVED");
	}
	CU_ASSERT_EQUAL(delta(FAKE_GET_SLOT_LIST), *slot_lists);
}

/*
 * A remote module whose connection broke (p11-kit's client reconnects only
 * in C_Initialize): when reopening the session fails as well, the same
 * request finalizes and starts from C_Initialize. While the token stays
 * unreachable, attempts are 100 ms, 200 ms, 400 ms ... apart and requests
 * in between fail at once without a module call; success resets it.
 */
static void
test_reconnect_backoff(void)
{
	unsigned long sl = 2;
	int64_t t;

	fresh_started();
	CU_ASSERT_EQUAL(fake->fail(FAKE_GENERATE_RANDOM, 1, CKR_DEVICE_ERROR, 1), 0);
	CU_ASSERT_EQUAL(random8(), KW_ERR_HSM);
	CU_ASSERT_FALSE(hsm_p11_ready(p));
	CU_ASSERT_EQUAL(fake->fail(FAKE_GET_SLOT_LIST, 1, CKR_DEVICE_ERROR, 1), 0);
	snapshot();
	CU_ASSERT_EQUAL(random8(), 0);
	CU_ASSERT_EQUAL(delta(FAKE_FINALIZE), 1);
	CU_ASSERT_EQUAL(delta(FAKE_INITIALIZE), 1);
	CU_ASSERT_EQUAL(delta(FAKE_LOGIN), 1);
	CU_ASSERT_TRUE(hsm_p11_ready(p));
	/* unreachable for four attempts: the reopen and the start of one request, then two more */
	CU_ASSERT_EQUAL(fake->fail(FAKE_GENERATE_RANDOM, 1, CKR_DEVICE_REMOVED, 1), 0);
	CU_ASSERT_EQUAL(random8(), KW_ERR_HSM);
	CU_ASSERT_EQUAL(fake->fail(FAKE_GET_SLOT_LIST, 1, CKR_DEVICE_REMOVED, 4), 0);
	snapshot();
	CU_ASSERT_EQUAL(random8(), KW_ERR_HSM);
	t = mono_ms();
	CU_ASSERT_EQUAL(delta(FAKE_GET_SLOT_LIST), 2);
	/* the reopen failed, so finalize, initialize, fail again, finalize */
	CU_ASSERT_EQUAL(delta(FAKE_INITIALIZE), 1);
	CU_ASSERT_EQUAL(delta(FAKE_FINALIZE), 2);
	attempt_after(t, HSM_P11_BACKOFF_MIN_MS, &sl);
	usleep(150 * 1000);
	attempt_after(t, HSM_P11_BACKOFF_MIN_MS, &sl);    /* the third attempt */
	CU_ASSERT_EQUAL_FATAL(sl, 3);
	t = mono_ms();
	attempt_after(t, 2 * HSM_P11_BACKOFF_MIN_MS, &sl);
	usleep(250 * 1000);
	attempt_after(t, 2 * HSM_P11_BACKOFF_MIN_MS, &sl);    /* the fourth */
	CU_ASSERT_EQUAL_FATAL(sl, 4);
	/* reachable again: after the wait (400 ms) the start succeeds */
	usleep(450 * 1000);
	CU_ASSERT_EQUAL(random8(), 0);
	CU_ASSERT_TRUE(hsm_p11_ready(p));
	/* and the back-off starts again from 100 ms */
	CU_ASSERT_EQUAL(fake->fail(FAKE_GENERATE_RANDOM, 1, CKR_DEVICE_REMOVED, 1), 0);
	CU_ASSERT_EQUAL(random8(), KW_ERR_HSM);
	CU_ASSERT_EQUAL(fake->fail(FAKE_GET_SLOT_LIST, 1, CKR_DEVICE_REMOVED, 2), 0);
	CU_ASSERT_EQUAL(random8(), KW_ERR_HSM);
	usleep(150 * 1000);
	CU_ASSERT_EQUAL(random8(), 0);
}

/*
 * A release from a cached handle whose object was destroyed elsewhere:
 * the module says CKR_KEY_HANDLE_INVALID, the label is looked up exactly
 * once more, and the release succeeds with the new object (or fails
 * KW_ERR_NOT_FOUND when there is none).
 */
static void
test_release_stale_handle(void)
{
	fresh_started();
	CU_ASSERT_EQUAL_FATAL(generate("t/a"), 0);
	/* the first release looks the label up, the second is a cache hit */
	check_release("t/a", 0, 1, 2);
	check_release("t/a", 0, 0, 2);
	/* destroyed behind our back and made again: a new handle */
	CU_ASSERT_EQUAL(fake->kill("t/a", CK_UNAVAILABLE_INFORMATION), 1);
	CU_ASSERT_EQUAL_FATAL(generate("t/a"), 0);
	/* exactly one lookup again; AES_CBC on the stale handle, then AES_CBC, RSA_PKCS_OAEP */
	check_release("t/a", 0, 1, 3);
	CU_ASSERT_EQUAL(delta(FAKE_GENERATE_KEY), 2); /* a base key per attempt */
	CU_ASSERT_EQUAL(fake->session_objects(), 0);  /* both attempts cleaned up */
	CU_ASSERT_TRUE(hsm_p11_ready(p));
	/* destroyed and not made again */
	CU_ASSERT_EQUAL(fake->kill("t/a", CK_UNAVAILABLE_INFORMATION), 1);
	check_release("t/a", KW_ERR_NOT_FOUND, 1, 1);
	CU_ASSERT_EQUAL(fake->session_objects(), 0);
	/* the entry is gone: the next release looks up, and does not try a wrap */
	check_release("t/a", KW_ERR_NOT_FOUND, 1, 0);
}

/* Only a stale cached handle is retried, and only once. */
static void
test_release_no_retry(void)
{
	fresh_started();
	CU_ASSERT_EQUAL_FATAL(generate("t/b"), 0);
	CU_ASSERT_EQUAL(release("t/b"), 0);
	/* another failure on a cached handle: no lookup */
	CU_ASSERT_EQUAL(fake->fail(FAKE_WRAP_KEY, 1, CKR_FUNCTION_FAILED, 1), 0);
	check_release("t/b", KW_ERR_HSM, 0, 1);
	CU_ASSERT_STRING_EQUAL(detail, "CKR_FUNCTION_FAILED");
	CU_ASSERT_TRUE(hsm_p11_ready(p));
	CU_ASSERT_EQUAL(fake->session_objects(), 0);
	/* the handle stays bad after the lookup: one retry, not a loop */
	CU_ASSERT_EQUAL(fake->fail(FAKE_WRAP_KEY, 1, CKR_KEY_HANDLE_INVALID, 2), 0);
	check_release("t/b", KW_ERR_HSM, 1, 2);
	CU_ASSERT_STRING_EQUAL(detail, "CKR_KEY_HANDLE_INVALID");
	CU_ASSERT_EQUAL(fake->session_objects(), 0);
	CU_ASSERT_EQUAL(release("t/b"), 0);
	/* a recycle empties the cache (handles die with C_Finalize) */
	CU_ASSERT_EQUAL(hsm_p11_recycle(p, &detail), 0);
	check_release("t/b", 0, 1, 2);
	/* a handle just looked up is not retried */
	CU_ASSERT_EQUAL(hsm_p11_recycle(p, &detail), 0);
	CU_ASSERT_EQUAL(fake->fail(FAKE_WRAP_KEY, 1, CKR_OBJECT_HANDLE_INVALID, 1), 0);
	check_release("t/b", KW_ERR_HSM, 1, 1);
}

/* The same for a token key's cached private handle (sign). */
static void
test_sign_stale_handle(void)
{
	uint8_t digest[HSM_SIGN_DIGEST_LEN], sig[HSM_SIGN_SIG_LEN];
	struct hsm_token_key k;

	memset(digest, 7, sizeof(digest));
	fresh_started();
	CU_ASSERT_EQUAL_FATAL(hsm_p11_token_key_new(p, 100, &k, &detail), 0);
	CU_ASSERT_STRING_EQUAL(k.label, "kw-token/100");
	CU_ASSERT_EQUAL(hsm_p11_sign(p, k.label, digest, sig, &detail), 0);
	snapshot();
	CU_ASSERT_EQUAL(hsm_p11_sign(p, k.label, digest, sig, &detail), 0);
	CU_ASSERT_EQUAL(delta(FAKE_FIND_INIT), 0);
	CU_ASSERT_EQUAL(sig[0], 0x11);
	/* destroyed elsewhere and made again under the same label */
	CU_ASSERT_EQUAL(fake->kill(k.label, CK_UNAVAILABLE_INFORMATION), 2);
	CU_ASSERT_EQUAL_FATAL(hsm_p11_token_key_new(p, 100, &k, &detail), 0);
	CU_ASSERT_STRING_EQUAL(k.label, "kw-token/100");
	snapshot();
	CU_ASSERT_EQUAL(hsm_p11_sign(p, k.label, digest, sig, &detail), 0);
	CU_ASSERT_EQUAL(delta(FAKE_FIND_INIT), 1);
	CU_ASSERT_EQUAL(delta(FAKE_SIGN_INIT), 2);
	CU_ASSERT_EQUAL(delta(FAKE_SIGN), 1);
	/* and gone for good */
	CU_ASSERT_EQUAL(fake->kill(k.label, CK_UNAVAILABLE_INFORMATION), 2);
	snapshot();
	CU_ASSERT_EQUAL(hsm_p11_sign(p, k.label, digest, sig, &detail), KW_ERR_NOT_FOUND);
	CU_ASSERT_EQUAL(delta(FAKE_FIND_INIT), 1);
	CU_ASSERT_EQUAL(delta(FAKE_SIGN_INIT), 1);
}

/* Half-made key pairs are not left behind; a pair without its public half is skipped. */
static void
test_token_key_cleanup(void)
{
	struct hsm_token_key ks[4], k;
	const char *label = NULL, *why = NULL;
	size_t n = 9;

	fresh_started();
	/* CKA_EC_POINT cannot be read after C_GenerateKeyPair: both halves destroyed */
	CU_ASSERT_EQUAL(fake->fail(FAKE_GET_ATTR, 1, CKR_FUNCTION_FAILED, 1), 0);
	snapshot();
	CU_ASSERT_EQUAL(hsm_p11_token_key_new(p, 200, &k, &detail), KW_ERR_HSM);
	CU_ASSERT_EQUAL(delta(FAKE_GENERATE_KEY_PAIR), 1);
	CU_ASSERT_EQUAL(delta(FAKE_DESTROY_OBJECT), 2);
	CU_ASSERT_EQUAL(fake->count("kw-token/200", CK_UNAVAILABLE_INFORMATION), 0);
	CU_ASSERT_EQUAL(fake->fail(FAKE_GENERATE_KEY_PAIR, 1, CKR_DEVICE_MEMORY, 1), 0);
	CU_ASSERT_EQUAL(hsm_p11_token_key_new(p, 200, &k, &detail), KW_ERR_HSM);
	CU_ASSERT_STRING_EQUAL(detail, "CKR_DEVICE_MEMORY");
	CU_ASSERT_EQUAL(fake->count("kw-token/200", CK_UNAVAILABLE_INFORMATION), 0);
	/* a private key with our prefix but no public half is not ours */
	CU_ASSERT_EQUAL_FATAL(hsm_p11_token_key_new(p, 3, &k, &detail), 0);
	CU_ASSERT_EQUAL(fake->kill("kw-token/3", CKO_PUBLIC_KEY), 1);
	CU_ASSERT_EQUAL(hsm_p11_token_keys(p, ks, KW_ARRAY_SIZE(ks), &n, &detail), 0);
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_EQUAL(hsm_p11_token_keys_skipped(p, &label, &why), 1);
	CU_ASSERT_STRING_EQUAL(label, "kw-token/3");
	CU_ASSERT_STRING_EQUAL(why, "token key without its public half");
	/* its label is taken, though */
	CU_ASSERT_EQUAL_FATAL(hsm_p11_token_key_new(p, 3, &k, &detail), 0);
	CU_ASSERT_STRING_EQUAL(k.label, "kw-token/4");
	CU_ASSERT_EQUAL(hsm_p11_token_keys(p, ks, KW_ARRAY_SIZE(ks), &n, &detail), 0);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_EQUAL(hsm_p11_token_keys_skipped(p, &label, &why), 1);
}

/* Import: the session KEK is destroyed on every path; nothing is left on failure. */
static void
test_import_cleanup(void)
{
	static const char *const label = "kw-key/r/t/x/v1";
	uint8_t kek[HSM_IMPORT_KEK_LEN], value[40];
	struct hsm_import_pub pub;
	bool generated = false;

	memset(kek, 1, sizeof(kek));
	memset(value, 2, sizeof(value));
	fresh_started();
	CU_ASSERT_EQUAL_FATAL(hsm_p11_import_key(p, &pub, &generated, &detail), 0);
	CU_ASSERT_TRUE(generated);
	CU_ASSERT_EQUAL(strlen(pub.kid), HSM_IMPORT_KID_LEN);
	CU_ASSERT_EQUAL(hsm_p11_import_key(p, &pub, &generated, &detail), 0);
	CU_ASSERT_FALSE(generated);
	/* another kid: refused before any unwrap */
	snapshot();
	CU_ASSERT_EQUAL(hsm_p11_import(p, label, HSM_KIND_AES256, 32, "x", kek, sizeof(kek), value,
	    sizeof(value), &detail), KW_ERR_MISMATCH);
	CU_ASSERT_EQUAL(delta(FAKE_UNWRAP_KEY), 0);
	/* the value does not unwrap: the KEK goes, no token object stays */
	CU_ASSERT_EQUAL(fake->fail(FAKE_UNWRAP_KEY, 2, CKR_WRAPPED_KEY_INVALID, 1), 0);
	snapshot();
	CU_ASSERT_EQUAL(hsm_p11_import(p, label, HSM_KIND_AES256, 32, pub.kid, kek, sizeof(kek),
	    value, sizeof(value), &detail), KW_ERR_INVALID_FORMAT);
	CU_ASSERT_STRING_EQUAL(detail, "CKR_WRAPPED_KEY_INVALID");
	CU_ASSERT_EQUAL(delta(FAKE_UNWRAP_KEY), 2);
	CU_ASSERT_EQUAL(delta(FAKE_DESTROY_OBJECT), 1);
	CU_ASSERT_EQUAL(fake->count(label, CK_UNAVAILABLE_INFORMATION), 0);
	CU_ASSERT_EQUAL(fake->session_objects(), 0);
	/* the length check fails inside the module: the unwrapped object goes too */
	CU_ASSERT_EQUAL(fake->fail(FAKE_DIGEST_KEY, 1, CKR_FUNCTION_FAILED, 1), 0);
	CU_ASSERT_EQUAL(hsm_p11_import(p, label, HSM_KIND_AES256, 32, pub.kid, kek, sizeof(kek),
	    value, sizeof(value), &detail), KW_ERR_HSM);
	CU_ASSERT_EQUAL(fake->count(label, CK_UNAVAILABLE_INFORMATION), 0);
	CU_ASSERT_EQUAL(fake->session_objects(), 0);
	/* and the import itself */
	snapshot();
	CU_ASSERT_EQUAL(hsm_p11_import(p, label, HSM_KIND_AES256, 32, pub.kid, kek, sizeof(kek),
	    value, sizeof(value), &detail), 0);
	CU_ASSERT_EQUAL(fake->count(label, CKO_SECRET_KEY), 1);
	CU_ASSERT_EQUAL(fake->session_objects(), 0);
	CU_ASSERT_EQUAL(delta(FAKE_UNWRAP_KEY), 3);    /* KEK, value, the length check's copy */
	CU_ASSERT_EQUAL(release(label), 0);
	/* the import key destroyed behind our back: the cached handle fails once, then it is made anew */
	CU_ASSERT_EQUAL(fake->kill(HSM_IMPORT_LABEL, CK_UNAVAILABLE_INFORMATION), 2);
	CU_ASSERT_EQUAL(hsm_p11_import(p, "kw-key/r/t/x/v2", HSM_KIND_AES256, 32, pub.kid, kek,
	    sizeof(kek), value, sizeof(value), &detail), KW_ERR_INVALID_FORMAT);
	CU_ASSERT_STRING_EQUAL(detail, "CKR_UNWRAPPING_KEY_HANDLE_INVALID");
	CU_ASSERT_EQUAL(hsm_p11_import_key(p, &pub, &generated, &detail), 0);
	CU_ASSERT_TRUE(generated);
}

int
main(int argc, char **argv)
{
	CU_pSuite s;
	fake_p11_api_fn api;
	unsigned int fails;
	void *dl;

	if (argc < 2) {
		fprintf(stderr, "usage: test_hsm_p11_fault FAKE_P11_MODULE\n");
		return 2;
	}
	module = argv[1];
	kw_json_init();
	kw_log_init("test_hsm_p11_fault", KW_LOG_WARN);
	/* the instance hsm_p11_open will get too (dlopen of the same path) */
	if ((dl = dlopen(module, RTLD_NOW | RTLD_LOCAL)) == NULL ||
	    (api = (fake_p11_api_fn)dlsym(dl, "fake_p11_api")) == NULL) {
		fprintf(stderr, "%s: %s\n", module, dlerror());
		return 1;
	}
	fake = api();
	memset(rsa_n, 0xc1, sizeof(rsa_n));
	snprintf(dir, sizeof(dir), "/tmp/kwfake-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(pin_ok, sizeof(pin_ok), "%s/pin", dir);
	snprintf(pin_bad, sizeof(pin_bad), "%s/pin-bad", dir);
	if (write_pin(pin_ok, FAKE_PIN "\n") != 0)
		return 1;
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("hsm_p11_fault", NULL, NULL);
	if (s == NULL || CU_add_test(s, "start", test_start) == NULL ||
	    CU_add_test(s, "pin_incorrect", test_pin_incorrect) == NULL ||
	    CU_add_test(s, "host_memory", test_host_memory) == NULL ||
	    CU_add_test(s, "session_lost", test_session_lost) == NULL ||
	    CU_add_test(s, "reconnect_backoff", test_reconnect_backoff) == NULL ||
	    CU_add_test(s, "release_stale_handle", test_release_stale_handle) == NULL ||
	    CU_add_test(s, "release_no_retry", test_release_no_retry) == NULL ||
	    CU_add_test(s, "sign_stale_handle", test_sign_stale_handle) == NULL ||
	    CU_add_test(s, "token_key_cleanup", test_token_key_cleanup) == NULL ||
	    CU_add_test(s, "import_cleanup", test_import_cleanup) == NULL)
		return 1;
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures() + CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	hsm_p11_close(p);
	unlink(pin_ok);
	unlink(pin_bad);
	rmdir(dir);
	dlclose(dl);
	return fails == 0 ? 0 : 1;
}
