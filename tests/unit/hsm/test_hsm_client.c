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
	struct hsm_client *c = start_client_dl(1000, 3000, 1000);
	struct hsm_client_stats st;
	pid_t pid, pid2;
	int64_t t0, t1;
	uint8_t v[64];

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
	CU_ASSERT_EQUAL_FATAL(wait_all(xs, N), 0);
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
	/* at the deadline, not before it and not much after it */
	CU_ASSERT(t1 - t0 >= 950);
	CU_ASSERT(t1 - t0 < 2500);
	res_clear(xs, N);
	CU_ASSERT_EQUAL(st.hung, 1);
	CU_ASSERT_EQUAL(st.pending, 0);
	CU_ASSERT_EQUAL(hsm_client_pid(c), -1);
	/* ended although stopped (SIGTERM+SIGCONT, SIGKILL after 3 s), and reaped */
	CU_ASSERT_TRUE(wait_gone(pid, 5000));
	/* the next call starts a new helper (the last spawn was long enough ago) */
	CU_ASSERT_EQUAL(release_value(c, "t/aes/one", &kb, v, sizeof(v)), 32);
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

/* A helper that dies right after its start is not started again within a second. */
static void
test_respawn_backoff(void)
{
	static struct res first, never;
	struct hsm_client *c = start_client_dl(2000, 3000, 100);
	struct hsm_client_stats st;
	unsigned long spawns;
	pid_t pid;
	uint8_t v[64];

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	run_for(1100);    /* the first start is now more than a second ago */
	CU_ASSERT_EQUAL_FATAL(kill(hsm_client_pid(c), SIGKILL), 0);
	CU_ASSERT_FATAL(run_until_down(c, 5000));
	hsm_client_get_stats(c, &st);
	spawns = st.spawns;
	/* first call after the death: a new helper at once... */
	CU_ASSERT_EQUAL_FATAL(call_json(c, json_pack("{s:s}", "op", "probe"), res_cb,
	    &first), 0);
	pid = hsm_client_pid(c);
	CU_ASSERT_FATAL(pid > 0);
	/*
	 * ...which dies during its start. SIGTERM, not SIGKILL: a helper killed
	 * inside its C_Login can empty SoftHSM's token.object (docs/hsm.md).
	 */
	CU_ASSERT_EQUAL_FATAL(kill(pid, SIGTERM), 0);
	CU_ASSERT_FATAL(run_until_down(c, 5000));
	CU_ASSERT_EQUAL(first.done, 1);
	CU_ASSERT_EQUAL(first.r, KW_ERR_UNAVAILABLE);
	/* within a second of that start: fail fast, no fork */
	CU_ASSERT_EQUAL(call_json(c, json_pack("{s:s}", "op", "probe"), res_cb, &never),
	    KW_ERR_HSM);
	hsm_client_get_stats(c, &st);
	CU_ASSERT_EQUAL(st.spawns, spawns + 1);
	CU_ASSERT_EQUAL(hsm_client_pid(c), -1);
	run_for(1100);
	CU_ASSERT_EQUAL(never.done, 0);
	CU_ASSERT_EQUAL(release_value(c, "t/aes/one", &ka, v, sizeof(v)), 32);
	hsm_client_get_stats(c, &st);
	CU_ASSERT_EQUAL(st.spawns, spawns + 2);
	res_clear(&first, 1);
	hsm_client_free(c);
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

static int
suite_init(void)
{
	return hsm_test_token_up();
}

int
test_hsm_client_suite(void)
{
	CU_pSuite s = CU_add_suite("hsm_client", suite_init, NULL);

	if (s == NULL)
		return -1;
	if (CU_add_test(s, "pipeline", test_pipeline) == NULL)
		return -1;
	if (CU_add_test(s, "kill_respawn", test_kill_respawn) == NULL)
		return -1;
	if (CU_add_test(s, "deadline_stopped", test_deadline_stopped) == NULL)
		return -1;
	if (CU_add_test(s, "deadline_late_reply", test_deadline_late_reply) == NULL)
		return -1;
	if (CU_add_test(s, "max_pending", test_max_pending) == NULL)
		return -1;
	if (CU_add_test(s, "respawn_backoff", test_respawn_backoff) == NULL)
		return -1;
	if (CU_add_test(s, "start_failures", test_start_failures) == NULL)
		return -1;
	return 0;
}
