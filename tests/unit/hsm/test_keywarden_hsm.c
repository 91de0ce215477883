/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hsm/keywarden-hsm.c, the helper's request loop: malformed requests,
 * raw datagrams, recycling.
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
test_errors(void)
{
	struct tkey k1024;
	json_t *o = NULL, *req;
	pid_t pid = hsm_client_pid(cl);

	CU_ASSERT_EQUAL(call1(cl, release_req("t/no/such", &ka, "k"), &o), KW_ERR_NOT_FOUND);
	CU_ASSERT_PTR_NULL(o);
	CU_ASSERT_FATAL(tkey_gen(1024, &k1024) == 0);
	CU_ASSERT_EQUAL(call1(cl, release_req("t/aes/one", &k1024, "k"), &o), KW_ERR_INVALID_FORMAT);
	tkey_free(&k1024);
	/* unknown field, wrong type, bad label: rejected, helper stays */
	req = release_req("t/aes/one", &ka, "k");
	json_object_set_new(req, "extra", json_true());
	CU_ASSERT_EQUAL(call1(cl, req, &o), KW_ERR_INVALID_FORMAT);
	CU_ASSERT_EQUAL(call1(cl, json_pack("{s:s,s:s}", "op", "random", "length", "8"), &o),
	    KW_ERR_INVALID_FORMAT);
	CU_ASSERT_EQUAL(call1(cl, release_req("t/../aes", &ka, "k"), &o), KW_ERR_INVALID_FORMAT);
	CU_ASSERT_EQUAL(call1(cl, json_pack("{s:s}", "op", "nuke"), &o), KW_ERR_UNSUPPORTED);
	CU_ASSERT_EQUAL(hsm_client_pid(cl), pid);
	CU_ASSERT_EQUAL(call1(cl, json_pack("{s:s,s:i}", "op", "random", "length", 32), &o), 0);
	{
		uint8_t b[64];
		size_t bl = 0;
		const char *s = json_string_value(json_object_get(o, "bytes"));

		CU_ASSERT_EQUAL(kw_b64url_decode(s, strlen(s), b, sizeof(b), &bl), 0);
		CU_ASSERT_EQUAL(bl, 32);
	}
	json_decref(o);
	CU_ASSERT_EQUAL(hsm_client_pid(cl), pid);
}

/* Raw datagrams straight to a helper: garbage must not kill it. */
static void
test_raw_garbage(void)
{
	static char big[HSM_PROTO_MAX + 100];
	char buf[4096];
	const char *msgs[] = {"garbage", "{", "[]", "{\"id\":1,\"op\":\"probe\"} trailing",
	    "{\"id\":2,\"op\":\"probe\",\"op\":\"probe\"}", "{\"id\":3,\"op\":\"probe\",\"x\":1}"};
	const uint32_t want_id[] = {0, 0, 0, 0, 0, 3};
	int sv[2], st;
	pid_t pid;
	ssize_t n;
	json_t *o;

	CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
	if ((pid = fork()) == 0) {
		if (dup2(sv[1], HSM_PROTO_FD) != HSM_PROTO_FD)
			_exit(127);
		execl(helper_path, helper_path, "--module", MODULE, "--token", "kwtest", "--pin-file",
		    pin_path, "--log-level", "error", (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	CU_ASSERT_FATAL(pid > 0);
	for (size_t i = 0; i < KW_ARRAY_SIZE(msgs); i++) {
		CU_ASSERT_EQUAL(send(sv[0], msgs[i], strlen(msgs[i]), 0), (ssize_t)strlen(msgs[i]));
		n = recv(sv[0], buf, sizeof(buf) - 1, 0);
		CU_ASSERT_FATAL(n > 0);
		o = json_loadb(buf, (size_t)n, 0, NULL);
		CU_ASSERT_TRUE(json_is_false(json_object_get(o, "ok")));
		CU_ASSERT_EQUAL(json_integer_value(json_object_get(o, "id")), want_id[i]);
		CU_ASSERT_EQUAL(json_integer_value(json_object_get(o, "error")), KW_ERR_INVALID_FORMAT);
		json_decref(o);
	}
	memset(big, ' ', sizeof(big));
	big[0] = '{';
	big[sizeof(big) - 1] = '}';
	CU_ASSERT_EQUAL(send(sv[0], big, sizeof(big), 0), (ssize_t)sizeof(big));
	n = recv(sv[0], buf, sizeof(buf) - 1, 0);
	CU_ASSERT_FATAL(n > 0);
	o = json_loadb(buf, (size_t)n, 0, NULL);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(o, "error")), KW_ERR_TOO_LARGE);
	json_decref(o);
	/* still alive and correct */
	CU_ASSERT_EQUAL(send(sv[0], "{\"id\":9,\"op\":\"probe\"}", 21, 0), 21);
	n = recv(sv[0], buf, sizeof(buf) - 1, 0);
	CU_ASSERT_FATAL(n > 0);
	o = json_loadb(buf, (size_t)n, 0, NULL);
	CU_ASSERT_TRUE(json_is_true(json_object_get(o, "ok")));
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(o, "id")), 9);
	json_decref(o);
	/* closing the socket ends the helper with status 0 */
	close(sv[0]);
	CU_ASSERT_EQUAL(waitpid(pid, &st, 0), pid);
	CU_ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void
run_recycle(unsigned int recycle_after, int64_t min_rec, int64_t max_rec)
{
	static struct res xs[PIPELINE];
	struct hsm_client *c = start_client(recycle_after);
	uint8_t want[64];
	json_t *o = NULL;

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL_FATAL(release_value(c, "t/secret/20", &kb, want, sizeof(want)), 20);
	for (size_t i = 0; i < PIPELINE; i++)
		CU_ASSERT_EQUAL_FATAL(call_json(c, release_req("t/secret/20", &kb, "r"), res_cb,
		    &xs[i]), 0);
	CU_ASSERT_EQUAL_FATAL(wait_all(xs, PIPELINE), 0);
	check_batch(xs, PIPELINE, &kb, want, 20);
	res_clear(xs, PIPELINE);
	CU_ASSERT_EQUAL_FATAL(call1(c, json_pack("{s:s}", "op", "stats"), &o), 0);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(o, "releases")), PIPELINE + 1);
	CU_ASSERT_TRUE(json_integer_value(json_object_get(o, "recycles")) >= min_rec);
	CU_ASSERT_TRUE(json_integer_value(json_object_get(o, "recycles")) <= max_rec);
	CU_ASSERT_TRUE(json_integer_value(json_object_get(o, "rss_kb")) > 0);
	json_decref(o);
	/* still works after the last recycle */
	CU_ASSERT_EQUAL(release_value(c, "t/aes/one", &ka, want, sizeof(want)), 32);
	hsm_client_free(c);
}

static void
test_recycle(void)
{
	run_recycle(50, 4, 4);    /* 201 releases / 50 */
}

static void
test_recycle_never(void)
{
	run_recycle(HSM_CLIENT_RECYCLE_NEVER, 0, 0);
}

/*
 * The op table's self-test rule, with a module whose release profile does
 * not work (fake_p11.c does no cryptography, so the self test's JWE does
 * not decrypt): the probe lists no profile, a release is refused before
 * its handler runs (stats count no release), and the ops without the rule
 * still work.
 */
static void
test_selftest_gate(void)
{
	struct hsm_client_config cfg = {0};
	struct hsm_client *c = NULL;
	struct res x = {0, 0, NULL};
	json_t *o = NULL;

	cfg.helper_path = helper_path;
	cfg.module_path = fake_module;
	cfg.token_label = "fake";
	cfg.pin_file = pin_path;
	cfg.log_level = "error";
	CU_ASSERT_EQUAL_FATAL(hsm_client_start(base, &cfg, &c), 0);
	CU_ASSERT_EQUAL(hsm_client_start_probe(c)->u.probe.n_profiles, 0);
	CU_ASSERT_STRING_EQUAL(hsm_client_start_probe(c)->u.probe.module,
	    "keywarden fake PKCS#11 0.1");
	CU_ASSERT_EQUAL(call1(c, gen_req("t/gate", "aes-256", 0, 0), &o), 0);
	json_decref(o);
	o = NULL;
	for (int i = 0; i < 2; i++) {
		CU_ASSERT_EQUAL(call1(c, release_req("t/gate", &ka, "k"), &o), KW_ERR_HSM);
		CU_ASSERT_PTR_NULL(o);
	}
	CU_ASSERT_EQUAL(call1(c, json_pack("{s:s,s:i}", "op", "random", "length", 16), &o), 0);
	json_decref(o);
	o = NULL;
	CU_ASSERT_EQUAL_FATAL(call1(c, json_pack("{s:s}", "op", "stats"), &o), 0);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(o, "releases")), 0);
	json_decref(o);
	/* the self test is tried again with every gated call, and by the probe */
	CU_ASSERT_EQUAL_FATAL(call_json(c, json_pack("{s:s}", "op", "probe"), res_cb, &x), 0);
	CU_ASSERT_EQUAL_FATAL(wait_all(&x, 1), 0);
	CU_ASSERT_EQUAL(x.r, 0);
	CU_ASSERT_EQUAL(json_array_size(json_object_get(x.o, "profiles")), 0);
	res_clear(&x, 1);
	hsm_client_free(c);
}

int
test_keywarden_hsm_suite(void)
{
	static const struct hsm_test tests[] = {
		{"errors", test_errors},
		{"raw_garbage", test_raw_garbage},
		{"recycle", test_recycle},
		{"recycle_never", test_recycle_never},
		{"selftest_gate", test_selftest_gate},
		{NULL, NULL},
	};

	return hsm_test_add_suite("keywarden_hsm", true, tests);
}
