/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hsm/hsm_client.c with the real helper: pipelining, a killed helper,
 * deadlines, the queue bound, the respawn backoff, start failures.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <event2/event.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <p11-kit/pkcs11.h>

#include "hsm_client.h"
#include "hsm_import.h"
#include "hsm_jwe.h"
#include "hsm_proto.h"
#include "hsm_req.h"
#include "hsm_supervise.h"
#include "hsm_tokkey.h"
#include "kw_b64url.h"
#include "kw_json.h"
#include "kw_jwk.h"
#include "kw_log.h"
#include "kw_secret.h"

#include "test_hsm.h"

static void
test_pipeline(void)
{
	static struct res xs[PIPELINE];
	uint8_t want[64];

	CU_ASSERT_EQUAL_FATAL(release_value(cl, "t/aes/one", &ka, want, sizeof(want)), 32);
	for (size_t i = 0; i < PIPELINE; i++)
		CU_ASSERT_EQUAL_FATAL(call_json(cl, release_req("t/aes/one", &ka, "p"), res_cb,
		    &xs[i]), 0);
	/* nothing completes before the loop runs */
	CU_ASSERT_EQUAL(xs[0].done, 0);
	CU_ASSERT_EQUAL_FATAL(wait_all(xs, PIPELINE), 0);
	check_batch(xs, PIPELINE, &ka, want, 32);
	res_clear(xs, PIPELINE);
}

static void
test_kill_respawn(void)
{
	static struct res xs[20];
	pid_t pid = hsm_client_pid(cl), pid2;
	uint8_t v[64];
	json_t *o = NULL;

	CU_ASSERT_FATAL(pid > 0);
	/* stopped: it can answer nothing, so every pending call must fail */
	CU_ASSERT_EQUAL(kill(pid, SIGSTOP), 0);
	for (size_t i = 0; i < KW_ARRAY_SIZE(xs); i++)
		CU_ASSERT_EQUAL_FATAL(call_json(cl, release_req("t/aes/one", &ka, "k"), res_cb,
		    &xs[i]), 0);
	CU_ASSERT_EQUAL(kill(pid, SIGKILL), 0);
	CU_ASSERT_EQUAL_FATAL(wait_all(xs, KW_ARRAY_SIZE(xs)), 0);
	for (size_t i = 0; i < KW_ARRAY_SIZE(xs); i++) {
		CU_ASSERT_EQUAL(xs[i].done, 1);
		CU_ASSERT_EQUAL(xs[i].r, KW_ERR_UNAVAILABLE);
	}
	res_clear(xs, KW_ARRAY_SIZE(xs));
	CU_ASSERT_EQUAL(hsm_client_pid(cl), -1);
	CU_ASSERT_TRUE(wait_gone(pid, 5000));    /* reaped (by the client's reaper timer) */
	/* the next call respawns */
	CU_ASSERT_EQUAL(call1(cl, json_pack("{s:s}", "op", "probe"), &o), 0);
	json_decref(o);
	pid2 = hsm_client_pid(cl);
	CU_ASSERT_TRUE(pid2 > 0 && pid2 != pid);
	CU_ASSERT_EQUAL(release_value(cl, "t/aes/one", &kb, v, sizeof(v)), 32);
}

/*
 * A stopped helper: every call (sent, and unsent because the socket
 * filled up) completes with KW_ERR_TIMEOUT at its deadline, exactly once;
 * the helper is then declared hung, killed and reaped; the next call
 * starts a new one.
 */
static void
test_deadline_stopped(void)
{
	enum { N = 400 };    /* more than the socket buffer holds: some stay unsent */
	static struct res xs[N];
	/*
	 * The admin deadline (the start probe, and how long a helper that has
	 * not answered yet may stay silent) is long: a helper's start on a
	 * loaded machine can take seconds, and it is not what is tested here.
	 */
	struct hsm_client *c = start_client_dl(1000, 60000, 1000);
	struct hsm_client_stats st;
	pid_t pid, pid2;
	int64_t t0, t1;
	uint8_t v[64];
	int all_by_ref;

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	pid = hsm_client_pid(c);
	CU_ASSERT_FATAL(pid > 0);
	/* one answered call first: the hung check uses the normal deadline */
	CU_ASSERT_EQUAL_FATAL(release_value(c, "t/aes/one", &ka, v, sizeof(v)), 32);
	CU_ASSERT_EQUAL_FATAL(kill(pid, SIGSTOP), 0);
	t0 = now_ms();
	for (size_t i = 0; i < N; i++)
		CU_ASSERT_EQUAL_FATAL(call_json(c, release_req("t/aes/one", &ka, "d"), res_cb,
		    &xs[i]), 0);
	hsm_client_get_stats(c, &st);
	CU_ASSERT_EQUAL(st.pending, N);
	all_by_ref = wait_all_by(xs, N, 1500);
	t1 = now_ms();
	/*
	 * The calls whose deadline passed get KW_ERR_TIMEOUT (at least the
	 * first); in the same moment the helper is declared hung and the rest
	 * fail with KW_ERR_UNAVAILABLE. Each callback runs exactly once.
	 */
	{
		size_t n_to = 0, n_un = 0;

		for (size_t i = 0; i < N; i++) {
			CU_ASSERT_EQUAL(xs[i].done, 1);
			n_to += xs[i].r == KW_ERR_TIMEOUT;
			n_un += xs[i].r == KW_ERR_UNAVAILABLE;
		}
		CU_ASSERT_EQUAL(xs[0].r, KW_ERR_TIMEOUT);
		CU_ASSERT_EQUAL(n_to + n_un, N);
		hsm_client_get_stats(c, &st);
		CU_ASSERT_EQUAL(st.timeouts, n_to);
	}
	/*
	 * At the deadline, not before it (wall clock: load only delays) and not
	 * much after it: all completed before a timer 1.5 s after the calls ran
	 * in the same loop. That holds however late the loop gets the CPU
	 * (expired timers run in deadline order), where a bound on t1 - t0 did
	 * not; it fails if the calls waited for the SIGKILL (3 s) or anything
	 * later than their deadline timer.
	 */
	CU_ASSERT(t1 - t0 >= 950);
	CU_ASSERT_EQUAL(all_by_ref, 1);
	res_clear(xs, N);
	CU_ASSERT_EQUAL(st.hung, 1);
	CU_ASSERT_EQUAL(st.pending, 0);
	CU_ASSERT_EQUAL(hsm_client_pid(c), -1);
	/* ended although stopped (SIGTERM+SIGCONT, SIGKILL after 3 s), and reaped */
	CU_ASSERT_TRUE(wait_gone(pid, 5000));
	/* the next call starts a new helper (the last spawn was long enough ago) */
	CU_ASSERT_EQUAL(release_fresh(c, "t/aes/one", &kb, v, sizeof(v)), 32);
	pid2 = hsm_client_pid(c);
	CU_ASSERT(pid2 > 0 && pid2 != pid);
	hsm_client_free(c);
}

/*
 * A helper stopped for less than the hung limit: the short call behind a
 * slow (admin) call times out, the admin call still succeeds, the late
 * reply to the abandoned call is matched and dropped, and the helper is
 * not replaced.
 */
static void
test_deadline_late_reply(void)
{
	struct hsm_client *c = start_client_dl(500, 4000, 100);
	struct hsm_client_stats st;
	struct res a = {0, 0, NULL}, b = {0, 0, NULL}, d = {0, 0, NULL};
	pid_t pid;
	uint8_t v[64];

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	pid = hsm_client_pid(c);
	CU_ASSERT_EQUAL_FATAL(release_value(c, "t/aes/one", &ka, v, sizeof(v)), 32);
	CU_ASSERT_EQUAL_FATAL(kill(pid, SIGSTOP), 0);
	/* "generate" (if_missing) has the admin deadline, "probe" the short one */
	CU_ASSERT_EQUAL_FATAL(call_json(c, gen_req("t/aes/one", "aes-256", 0, 1), res_cb,
	    &a), 0);
	CU_ASSERT_EQUAL_FATAL(call_json(c, json_pack("{s:s}", "op", "probe"), res_cb, &b), 0);
	run_for(1200);
	CU_ASSERT_EQUAL(a.done, 0);
	CU_ASSERT_EQUAL(b.done, 1);
	CU_ASSERT_EQUAL(b.r, KW_ERR_TIMEOUT);
	CU_ASSERT_EQUAL(hsm_client_pid(c), pid);    /* not hung: the head has 4 s */
	CU_ASSERT_EQUAL(kill(pid, SIGCONT), 0);
	CU_ASSERT_EQUAL_FATAL(wait_all(&a, 1), 0);
	CU_ASSERT_EQUAL(a.r, 0);
	CU_ASSERT_EQUAL(json_is_false(json_object_get(a.o, "created")), 1);
	/* the late probe reply arrives after a's; give it a moment, then check */
	CU_ASSERT_EQUAL(call1(c, json_pack("{s:s}", "op", "probe"), &d.o), 0);
	hsm_client_get_stats(c, &st);
	CU_ASSERT_EQUAL(st.late_replies, 1);
	CU_ASSERT_EQUAL(st.timeouts, 1);
	CU_ASSERT_EQUAL(st.hung, 0);
	CU_ASSERT_EQUAL(st.pending, 0);
	CU_ASSERT_EQUAL(b.done, 1);    /* its callback ran exactly once */
	CU_ASSERT_EQUAL(hsm_client_pid(c), pid);
	res_clear(&a, 1);
	res_clear(&b, 1);
	res_clear(&d, 1);
	hsm_client_free(c);
}

/* max_pending: the extra call fails at once with KW_ERR_HSM and no callback. */
static void
test_max_pending(void)
{
	static struct res xs[4];
	struct res extra = {0, 0, NULL};
	struct hsm_client *c = start_client_dl(3000, 3000, KW_ARRAY_SIZE(xs));
	struct hsm_client_stats st;
	uint8_t want[64];
	pid_t pid;

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	pid = hsm_client_pid(c);
	CU_ASSERT_EQUAL_FATAL(release_value(c, "t/aes/one", &ka, want, sizeof(want)), 32);
	CU_ASSERT_EQUAL_FATAL(kill(pid, SIGSTOP), 0);
	for (size_t i = 0; i < KW_ARRAY_SIZE(xs); i++)
		CU_ASSERT_EQUAL(call_json(c, release_req("t/aes/one", &ka, "m"), res_cb,
		    &xs[i]), 0);
	CU_ASSERT_EQUAL(call_json(c, release_req("t/aes/one", &ka, "m"), res_cb, &extra),
	    KW_ERR_HSM);
	hsm_client_get_stats(c, &st);
	CU_ASSERT_EQUAL(st.rejected, 1);
	CU_ASSERT_EQUAL(st.pending, KW_ARRAY_SIZE(xs));
	run_for(300);
	CU_ASSERT_EQUAL(extra.done, 0);
	CU_ASSERT_EQUAL(kill(pid, SIGCONT), 0);
	CU_ASSERT_EQUAL_FATAL(wait_all(xs, KW_ARRAY_SIZE(xs)), 0);
	check_batch(xs, KW_ARRAY_SIZE(xs), &ka, want, 32);
	res_clear(xs, KW_ARRAY_SIZE(xs));
	CU_ASSERT_EQUAL(extra.done, 0);
	/* room again */
	CU_ASSERT_EQUAL(release_value(c, "t/aes/one", &ka, want, sizeof(want)), 32);
	CU_ASSERT_EQUAL(hsm_client_pid(c), pid);
	hsm_client_free(c);
}

/*
 * A helper that dies right after its start is not started again within the
 * respawn interval; after it, the next call starts one. The dying helper is
 * one whose module cannot be loaded (the module path is a symlink the test
 * points elsewhere): it ends at once, without a login or a self test, so
 * its death comes within the interval however slowly a real start runs on
 * a loaded machine (SIGTERM to a starting helper took effect only after its
 * C_Login and RSA self test, which under load outlasted the 1 s interval).
 */
static void
test_respawn_backoff(void)
{
	enum { RESPAWN_MS = 3000 };
	static struct res first, never;
	char link[160];
	struct hsm_client *c = NULL;
	struct hsm_client_stats st;
	unsigned long spawns;
	int64_t t_spawn, t_fail;
	pid_t pid;
	uint8_t v[64];

	snprintf(link, sizeof(link), "%s/module.so", tmpdir);
	(void)unlink(link);
	CU_ASSERT_EQUAL_FATAL(symlink(MODULE, link), 0);
	c = start_client_respawn(60000, 60000, link, RESPAWN_MS);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	pid = hsm_client_pid(c);
	/* from now on a new helper cannot load its module and exits at start */
	CU_ASSERT_EQUAL_FATAL(unlink(link), 0);
	CU_ASSERT_EQUAL_FATAL(symlink("/nonexistent/libsofthsm2.so", link), 0);
	run_for(RESPAWN_MS + 100);    /* the first start is now longer ago than the interval */
	/* SIGTERM: this helper is idle in recv() (SIGKILL in C_Login can empty the token) */
	CU_ASSERT_EQUAL_FATAL(kill(pid, SIGTERM), 0);
	CU_ASSERT_FATAL(run_until_down(c, 30000));
	hsm_client_get_stats(c, &st);
	spawns = st.spawns;
	/* first call after the death: a new helper at once... */
	t_spawn = now_ms();
	CU_ASSERT_EQUAL_FATAL(call_json(c, json_pack("{s:s}", "op", "probe"), res_cb,
	    &first), 0);
	CU_ASSERT_FATAL(hsm_client_pid(c) > 0);
	/* ...which dies during its start */
	CU_ASSERT_FATAL(run_until_down(c, 30000));
	CU_ASSERT_FATAL(wait_all(&first, 1) == 0);
	CU_ASSERT_EQUAL(first.done, 1);
	CU_ASSERT_EQUAL(first.r, KW_ERR_UNAVAILABLE);
	/* within the interval of that start: fail fast, no fork */
	t_fail = now_ms();
	CU_ASSERT_FATAL(t_fail - t_spawn < RESPAWN_MS);    /* the premise, not the result */
	CU_ASSERT_EQUAL(call_json(c, json_pack("{s:s}", "op", "probe"), res_cb, &never),
	    KW_ERR_HSM);
	hsm_client_get_stats(c, &st);
	CU_ASSERT_EQUAL(st.spawns, spawns + 1);
	CU_ASSERT_EQUAL(hsm_client_pid(c), -1);
	/* the module is back; once the interval has passed the next call starts a helper */
	CU_ASSERT_EQUAL_FATAL(unlink(link), 0);
	CU_ASSERT_EQUAL_FATAL(symlink(MODULE, link), 0);
	{
		int64_t left = t_spawn + RESPAWN_MS + 100 - now_ms();

		run_for(left > 0 ? (int)left : 0);
	}
	CU_ASSERT_EQUAL(never.done, 0);
	CU_ASSERT_EQUAL(release_fresh(c, "t/aes/one", &ka, v, sizeof(v)), 32);
	hsm_client_get_stats(c, &st);
	CU_ASSERT_EQUAL(st.spawns, spawns + 2);
	res_clear(&first, 1);
	hsm_client_free(c);
	(void)unlink(link);
}

static void
test_start_failures(void)
{
	struct hsm_client_config cfg = {0};
	struct hsm_client *c = NULL;

	cfg.helper_path = "/nonexistent/keywarden-hsm";
	cfg.module_path = MODULE;
	cfg.token_label = "kwtest";
	cfg.pin_file = pin_path;
	cfg.softhsm2_conf = conf_path;
	CU_ASSERT_EQUAL(hsm_client_start(base, &cfg, &c), KW_ERR_UNAVAILABLE);
	CU_ASSERT_PTR_NULL(c);
	cfg.helper_path = NULL;
	CU_ASSERT_EQUAL(hsm_client_start(base, &cfg, &c), KW_ERR_INVALID_ARG);
	/* wrong token label: the helper runs, the probe answers with no profile */
	cfg.helper_path = helper_path;
	cfg.token_label = "nosuchtoken";
	cfg.log_level = "error";
	CU_ASSERT_EQUAL_FATAL(hsm_client_start(base, &cfg, &c), 0);
	CU_ASSERT_EQUAL(hsm_client_start_probe(c)->u.probe.n_profiles, 0);
	{
		json_t *o = NULL;

		CU_ASSERT_EQUAL(call1(c, release_req("t/aes/one", &ka, "k"), &o), KW_ERR_HSM);
	}
	hsm_client_free(c);
}

/* ---- the typed calls (hsm_client_<op>, hsm_client_call_sync) against the real helper ---- */

/* One typed call's outcome: a copy of the result. */
struct tres {
	int done, r;
	struct hsm_result *res;
};

static void
tres_cb(int r, const struct hsm_result *res, void *arg)
{
	struct tres *t = arg;

	t->done++;
	t->r = r;
	if (r == 0 && hsm_result_copy(res, &t->res) != 0)
		t->r = -9000;
}

/* Run the loop until t is done (or 60 s); then its r. */
static int
twait(struct tres *t, int queued)
{
	int64_t until = now_ms() + 60000;

	if (queued != 0)
		return queued;
	while (!t->done && now_ms() < until)
		run_for(5);
	return t->done == 1 ? t->r : -9001;
}

static void
tclear(struct tres *t)
{
	hsm_result_free(t->res);
	memset(t, 0, sizeof(*t));
}

/* The raw big-endian numbers of a test key. */
static void
key_bytes(const struct tkey *k, uint8_t *n, size_t *n_len, uint8_t *e, size_t *e_len)
{
	CU_ASSERT_EQUAL_FATAL(kw_b64url_decode(k->n, strlen(k->n), n, 1024, n_len), 0);
	CU_ASSERT_EQUAL_FATAL(kw_b64url_decode(k->e, strlen(k->e), e, 8, e_len), 0);
}

static void
test_typed_calls(void)
{
	static const char *const label = "kw-key/t/typed/v1";
	static uint8_t n[1024], v1[64], v2[64];
	uint8_t e[8], digest[HSM_SIGN_DIGEST_LEN], sig[HSM_SIGN_SIG_LEN], secret[20];
	size_t n_len = 0, e_len = 0, l1 = 0, l2 = 0;
	struct tres t = {0, 0, NULL};
	struct hsm_result *res = NULL;
	char tp[44], newest[HSM_TOKEN_LABEL_MAX + 1], *kek = NULL, *val = NULL;
	bool found = false;
	unsigned long signs;

	CU_ASSERT_EQUAL_FATAL(twait(&t, hsm_client_probe(cl, tres_cb, &t)), 0);
	CU_ASSERT_STRING_EQUAL(t.res->u.probe.token, "kwtest");
	CU_ASSERT_EQUAL(t.res->u.probe.n_profiles, 1);
	tclear(&t);
	/* generate: created, then present */
	CU_ASSERT_EQUAL_FATAL(twait(&t, hsm_client_generate(cl, label, HSM_KIND_AES128, 0, true,
	    tres_cb, &t)), 0);
	CU_ASSERT_TRUE(t.res->u.generate.created);
	CU_ASSERT_EQUAL(t.res->u.generate.kind, HSM_KIND_AES128);
	CU_ASSERT_EQUAL(t.res->u.generate.length, 16);
	tclear(&t);
	CU_ASSERT_EQUAL(twait(&t, hsm_client_generate(cl, label, HSM_KIND_AES128, 0, true,
	    tres_cb, &t)), 0);
	CU_ASSERT_FALSE(t.res->u.generate.created);
	tclear(&t);
	CU_ASSERT_EQUAL(twait(&t, hsm_client_generate(cl, label, HSM_KIND_AES128, 0, false,
	    tres_cb, &t)), KW_ERR_EXISTS);
	CU_ASSERT_PTR_NULL(t.res);
	tclear(&t);
	/* release to two keys: the same 16 bytes */
	key_bytes(&ka, n, &n_len, e, &e_len);
	CU_ASSERT_EQUAL_FATAL(twait(&t, hsm_client_release(cl, label, PROFILE, n, n_len, e, e_len,
	    "typed", tres_cb, &t)), 0);
	CU_ASSERT_EQUAL(strlen(t.res->u.release.jwe), t.res->u.release.jwe_len);
	CU_ASSERT_EQUAL(test_decrypt(t.res->u.release.jwe, ka.pk, v1, sizeof(v1), &l1), 0);
	CU_ASSERT_EQUAL(l1, 16);
	tclear(&t);
	key_bytes(&kb, n, &n_len, e, &e_len);
	CU_ASSERT_EQUAL_FATAL(twait(&t, hsm_client_release(cl, label, PROFILE, n, n_len, e, e_len,
	    "typed", tres_cb, &t)), 0);
	CU_ASSERT_EQUAL(test_decrypt(t.res->u.release.jwe, kb.pk, v2, sizeof(v2), &l2), 0);
	CU_ASSERT_TRUE(l2 == 16 && memcmp(v1, v2, 16) == 0);
	tclear(&t);
	CU_ASSERT_EQUAL(twait(&t, hsm_client_release(cl, "kw-key/t/typed/none", PROFILE, n, n_len,
	    e, e_len, "typed", tres_cb, &t)), KW_ERR_NOT_FOUND);
	tclear(&t);
	/* random */
	CU_ASSERT_EQUAL_FATAL(twait(&t, hsm_client_random(cl, 32, tres_cb, &t)), 0);
	CU_ASSERT_EQUAL(t.res->u.random.len, 32);
	tclear(&t);
	/* token keys: each kid is the thumbprint of its jwk; sign with the newest */
	CU_ASSERT_EQUAL_FATAL(twait(&t, hsm_client_token_keys(cl, tres_cb, &t)), 0);
	CU_ASSERT_FATAL(t.res->u.token_keys.n >= 1);
	for (size_t i = 0; i < t.res->u.token_keys.n; i++) {
		CU_ASSERT_EQUAL(kw_jwk_thumbprint(t.res->u.token_keys.k[i].jwk, tp), 0);
		CU_ASSERT_STRING_EQUAL(t.res->u.token_keys.k[i].kid, tp);
	}
	snprintf(newest, sizeof(newest), "%s", t.res->u.token_keys.k[t.res->u.token_keys.n - 1].label);
	CU_ASSERT_FATAL(hsm_result_copy(t.res, &res) == 0);
	tclear(&t);
	CU_ASSERT_EQUAL(twait(&t, hsm_client_stats(cl, tres_cb, &t)), 0);
	signs = (unsigned long)t.res->u.stats.signs;
	CU_ASSERT_TRUE(t.res->u.stats.releases >= 2);
	tclear(&t);
	memset(digest, 0x42, sizeof(digest));
	CU_ASSERT_EQUAL_FATAL(twait(&t, hsm_client_sign(cl, newest, digest, tres_cb, &t)), 0);
	memcpy(sig, t.res->u.sign.sig, sizeof(sig));
	tclear(&t);
	{
		/* the signature is over the digest as sent: check it with the jwk */
		EVP_PKEY *pk = NULL;
		EVP_PKEY_CTX *pc = NULL;
		ECDSA_SIG *es = ECDSA_SIG_new();
		uint8_t *der = NULL;
		int dl = 0;

		CU_ASSERT_EQUAL_FATAL(kw_jwk_import_public(res->u.token_keys.k[res->u.token_keys.n - 1].jwk,
		    &pk), 0);
		CU_ASSERT_FATAL(es != NULL && ECDSA_SIG_set0(es, BN_bin2bn(sig, 32, NULL),
		    BN_bin2bn(sig + 32, 32, NULL)) == 1 && (dl = i2d_ECDSA_SIG(es, &der)) > 0);
		pc = EVP_PKEY_CTX_new(pk, NULL);
		CU_ASSERT_FATAL(pc != NULL && EVP_PKEY_verify_init(pc) == 1);
		CU_ASSERT_EQUAL(EVP_PKEY_verify(pc, der, (size_t)dl, digest, sizeof(digest)), 1);
		EVP_PKEY_CTX_free(pc);
		OPENSSL_free(der);
		ECDSA_SIG_free(es);
		EVP_PKEY_free(pk);
	}
	hsm_result_free(res);
	res = NULL;
	CU_ASSERT_EQUAL(twait(&t, hsm_client_stats(cl, tres_cb, &t)), 0);
	CU_ASSERT_EQUAL(t.res->u.stats.signs, signs + 1);
	tclear(&t);
	/* the newest token key cannot be destroyed; a new one at the helper's clock */
	CU_ASSERT_EQUAL(twait(&t, hsm_client_token_key_destroy(cl, newest, tres_cb, &t)),
	    KW_ERR_DENIED);
	tclear(&t);
	CU_ASSERT_EQUAL_FATAL(twait(&t, hsm_client_token_key_new(cl, -1, tres_cb, &t)), 0);
	CU_ASSERT_TRUE(t.res->u.token_key_new.created >= now_ms() / 1000 - 100000);
	CU_ASSERT_EQUAL(kw_jwk_thumbprint(t.res->u.token_key_new.jwk, tp), 0);
	CU_ASSERT_STRING_EQUAL(t.res->u.token_key_new.kid, tp);
	tclear(&t);
	CU_ASSERT_EQUAL(twait(&t, hsm_client_token_key_destroy(cl, newest, tres_cb, &t)), 0);
	tclear(&t);
	/* key_list sees the generated key; an import lands next to it */
	CU_ASSERT_EQUAL_FATAL(twait(&t, hsm_client_key_list(cl, NULL, tres_cb, &t)), 0);
	CU_ASSERT_FALSE(t.res->u.key_list.more);
	for (size_t i = 0; i < t.res->u.key_list.n; i++)
		found |= strcmp(t.res->u.key_list.labels[i], label) == 0;
	CU_ASSERT_TRUE(found);
	tclear(&t);
	CU_ASSERT_EQUAL_FATAL(twait(&t, hsm_client_import_key(cl, tres_cb, &t)), 0);
	CU_ASSERT_EQUAL(strlen(t.res->u.import_key.kid), HSM_IMPORT_KID_LEN);
	memset(secret, 0x77, sizeof(secret));
	{
		uint8_t padded[32];

		memcpy(padded, secret, 20);
		memset(padded + 20, 12, 12);
		CU_ASSERT_EQUAL_FATAL(wrap_for_import(t.res->u.import_key.jwk, padded, sizeof(padded),
		    &kek, &val), 0);
	}
	CU_ASSERT_FATAL(hsm_result_copy(t.res, &res) == 0);
	tclear(&t);
	CU_ASSERT_EQUAL_FATAL(twait(&t, hsm_client_import(cl, "kw-key/t/typed/v2", HSM_KIND_SECRET,
	    20, res->u.import_key.kid, kek, val, tres_cb, &t)), 0);
	CU_ASSERT_TRUE(t.res->u.import.created);
	CU_ASSERT_EQUAL(t.res->u.import.kind, HSM_KIND_SECRET);
	CU_ASSERT_EQUAL(t.res->u.import.length, 20);
	tclear(&t);
	CU_ASSERT_EQUAL(release_value(cl, "kw-key/t/typed/v2", &ka, v1, sizeof(v1)), 20);
	CU_ASSERT_EQUAL(memcmp(v1, secret, 20), 0);
	hsm_result_free(res);
	res = NULL;
	free(kek);
	free(val);
	/* destroy: true, then false */
	for (int i = 0; i < 2; i++) {
		CU_ASSERT_EQUAL_FATAL(twait(&t, hsm_client_destroy(cl, label, tres_cb, &t)), 0);
		CU_ASSERT_EQUAL(t.res->u.destroy.destroyed, i == 0);
		tclear(&t);
	}
	CU_ASSERT_EQUAL(twait(&t, hsm_client_destroy(cl, "kw-key/t/typed/v2", tres_cb, &t)), 0);
	tclear(&t);
	/* the blocking form */
	{
		struct hsm_args a = {.op = HSM_OP_KEY_LIST};

		a.u.key_list.after = "kw-key/t/typed/";
		CU_ASSERT_EQUAL_FATAL(hsm_client_call_sync(cl, &a, &res), 0);
		CU_ASSERT_EQUAL(res->op, HSM_OP_KEY_LIST);
		for (size_t i = 0; i < res->u.key_list.n; i++)
			CU_ASSERT_NOT_EQUAL(strncmp(res->u.key_list.labels[i], "kw-key/t/typed/", 15), 0);
		hsm_result_free(res);
		res = NULL;
		a.u.key_list.after = NULL;
		a.op = HSM_OP_DESTROY;    /* no label: refused before it is sent */
		CU_ASSERT_EQUAL(hsm_client_call_sync(cl, &a, &res), KW_ERR_INVALID_ARG);
		CU_ASSERT_PTR_NULL(res);
	}
	/* bad arguments fail at once, and the callback never runs */
	CU_ASSERT_EQUAL(hsm_client_release(cl, label, PROFILE, NULL, 0, e, e_len, "k", tres_cb, &t),
	    KW_ERR_INVALID_ARG);
	CU_ASSERT_EQUAL(hsm_client_generate(cl, label, 0, 0, false, tres_cb, &t), KW_ERR_INVALID_ARG);
	CU_ASSERT_EQUAL(hsm_client_probe(cl, NULL, NULL), KW_ERR_INVALID_ARG);
	run_for(50);
	CU_ASSERT_EQUAL(t.done, 0);
}

/* An ok reply that does not decode for the op it answers fails that call only. */
static void
test_typed_reply_mismatch(void)
{
	struct tres t = {0, 0, NULL};
	pid_t pid = hsm_client_pid(cl);

	/* a probe request, decoded as the reply to a sign */
	CU_ASSERT_EQUAL(twait(&t, hsm_client_call_json(cl, HSM_OP_SIGN,
	    json_pack("{s:s}", "op", "probe"), tres_cb, &t)), KW_ERR_HSM);
	CU_ASSERT_PTR_NULL(t.res);
	tclear(&t);
	/* HSM_OP_NONE: not decoded, the raw reply */
	CU_ASSERT_EQUAL(twait(&t, hsm_client_call_json(cl, HSM_OP_NONE,
	    json_pack("{s:s}", "op", "probe"), tres_cb, &t)), 0);
	CU_ASSERT_EQUAL(t.res->op, HSM_OP_NONE);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(t.res->json, "token")), "kwtest");
	tclear(&t);
	CU_ASSERT_EQUAL(hsm_client_call_json(cl, HSM_OP__COUNT, json_pack("{s:s}", "op", "probe"),
	    tres_cb, &t), KW_ERR_INVALID_ARG);
	/* the helper stays */
	CU_ASSERT_EQUAL(hsm_client_pid(cl), pid);
	CU_ASSERT_EQUAL(twait(&t, hsm_client_stats(cl, tres_cb, &t)), 0);
	tclear(&t);
}

int
test_hsm_client_suite(void)
{
	static const struct hsm_test tests[] = {
		{"typed_calls", test_typed_calls},
		{"typed_reply_mismatch", test_typed_reply_mismatch},
		{"pipeline", test_pipeline},
		{"kill_respawn", test_kill_respawn},
		{"deadline_stopped", test_deadline_stopped},
		{"deadline_late_reply", test_deadline_late_reply},
		{"max_pending", test_max_pending},
		{"respawn_backoff", test_respawn_backoff},
		{"start_failures", test_start_failures},
		{NULL, NULL},
	};

	return hsm_test_add_suite("hsm_client", true, tests);
}
