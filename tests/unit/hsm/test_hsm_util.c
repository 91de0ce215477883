/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the hsm/ unit tests (test_hsm.h). */
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

const char *helper_path, *py_script, *jws_script, *fake_module;
char tmpdir[64], conf_path[128], pin_path[128];
struct event_base *base;
struct hsm_client *cl;
struct tkey key2048, ka, kb;
CK_BBOOL ck_true_t = CK_TRUE;
static int token_state; /* 0: not made yet, 1: up, -1: failed */

static struct hsm_client *client_of_token(unsigned int recycle_after, unsigned int call_ms,
    unsigned int admin_ms, unsigned int max_pending, const char *module, unsigned int respawn_ms);

void
tkey_free(struct tkey *k)
{
	EVP_PKEY_free(k->pk);
	free(k->n);
	free(k->e);
	memset(k, 0, sizeof(*k));
}

int
tkey_gen(unsigned int bits, struct tkey *k)
{
	BIGNUM *n = NULL, *e = NULL;
	uint8_t nb[1024], eb[16];
	int r = -1, nl, el;

	memset(k, 0, sizeof(*k));
	if ((k->pk = EVP_RSA_gen(bits)) == NULL ||
	    EVP_PKEY_get_bn_param(k->pk, OSSL_PKEY_PARAM_RSA_N, &n) != 1 ||
	    EVP_PKEY_get_bn_param(k->pk, OSSL_PKEY_PARAM_RSA_E, &e) != 1)
		goto out;
	nl = BN_bn2bin(n, nb);
	el = BN_bn2bin(e, eb);
	if (kw_b64url_encode(nb, (size_t)nl, &k->n) != 0 || kw_b64url_encode(eb, (size_t)el, &k->e) != 0)
		goto out;
	r = 0;
out:
	BN_free(n);
	BN_free(e);
	return r;
}

static int
b64part(const char *s, size_t len, uint8_t *out, size_t max, size_t *ret_len)
{
	return kw_b64url_decode(s, len, out, max, ret_len);
}

/* 0 and out[0..*ret_len) on success. */
int
test_decrypt(const char *jwe, EVP_PKEY *pk, uint8_t *out, size_t max, size_t *ret_len)
{
	const char *d[4], *p = jwe;
	static uint8_t ek[1024], iv[64], ct[8192], tag[64], hdr[512], mac[64], rsa_out[1024];
	uint8_t *pt = NULL;
	size_t ekl, ivl, ctl, tagl, hdrl, cekl = sizeof(rsa_out);
	uint8_t al[8];
	uint64_t aadbits;
	unsigned int macl = 0;
	EVP_PKEY_CTX *pc = NULL;
	EVP_CIPHER_CTX *cc = NULL;
	uint8_t *macin = NULL;
	size_t aadl;
	int r = -1, o1 = 0, o2 = 0;

	for (int i = 0; i < 4; i++) {
		if ((d[i] = strchr(p, '.')) == NULL)
			return -1;
		p = d[i] + 1;
	}
	if (b64part(jwe, (size_t)(d[0] - jwe), hdr, sizeof(hdr) - 1, &hdrl) != 0 ||
	    b64part(d[0] + 1, (size_t)(d[1] - d[0] - 1), ek, sizeof(ek), &ekl) != 0 ||
	    b64part(d[1] + 1, (size_t)(d[2] - d[1] - 1), iv, sizeof(iv), &ivl) != 0 ||
	    b64part(d[2] + 1, (size_t)(d[3] - d[2] - 1), ct, sizeof(ct), &ctl) != 0 ||
	    b64part(d[3] + 1, strlen(d[3] + 1), tag, sizeof(tag), &tagl) != 0)
		return -1;
	hdr[hdrl] = 0;
	if (ivl != 16 || tagl != 32)
		return -1;
	if ((pc = EVP_PKEY_CTX_new(pk, NULL)) == NULL || EVP_PKEY_decrypt_init(pc) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_OAEP_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md(pc, EVP_sha1()) != 1 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(pc, EVP_sha1()) != 1 ||
	    EVP_PKEY_decrypt(pc, rsa_out, &cekl, ek, ekl) != 1 || cekl != 64)
		goto out;
	aadbits = (uint64_t)(d[0] - jwe) * 8;
	for (int i = 0; i < 8; i++)
		al[i] = (uint8_t)(aadbits >> (56 - 8 * i));
	/* one-shot HMAC over AAD || IV || CT || AL (hsm_jwe.c streams it with EVP_MAC) */
	aadl = (size_t)(d[0] - jwe);
	if ((macin = malloc(aadl + 16 + ctl + 8)) == NULL)
		goto out;
	memcpy(macin, jwe, aadl);
	memcpy(macin + aadl, iv, 16);
	memcpy(macin + aadl + 16, ct, ctl);
	memcpy(macin + aadl + 16 + ctl, al, 8);
	if (HMAC(EVP_sha512(), rsa_out, 32, macin, aadl + 16 + ctl + 8, mac, &macl) == NULL ||
	    macl != 64)
		goto out;
	if (CRYPTO_memcmp(mac, tag, 32) != 0)
		goto out;
	if ((pt = malloc(ctl + 16)) == NULL || (cc = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_DecryptInit_ex(cc, EVP_aes_256_cbc(), NULL, rsa_out + 32, iv) != 1 ||
	    EVP_DecryptUpdate(cc, pt, &o1, ct, (int)ctl) != 1 ||
	    EVP_DecryptFinal_ex(cc, pt + o1, &o2) != 1 || (size_t)(o1 + o2) > max)
		goto out;
	memcpy(out, pt, (size_t)(o1 + o2));
	*ret_len = (size_t)(o1 + o2);
	r = 0;
out:
	free(pt);
	EVP_PKEY_CTX_free(pc);
	EVP_CIPHER_CTX_free(cc);
	free(macin);
	return r;
}

/* The RFC 7638 thumbprint computed here from the JWK members. */
int
my_thumbprint(const json_t *jwk, char out[44])
{
	char ser[256], *b64 = NULL;
	uint8_t md[32];
	int n = snprintf(ser, sizeof(ser), "{\"crv\":\"%s\",\"kty\":\"%s\",\"x\":\"%s\",\"y\":\"%s\"}",
	    json_string_value(json_object_get(jwk, "crv")), json_string_value(json_object_get(jwk, "kty")),
	    json_string_value(json_object_get(jwk, "x")), json_string_value(json_object_get(jwk, "y")));

	if (n <= 0 || (size_t)n >= sizeof(ser) || json_object_size(jwk) != 4)
		return -1;
	SHA256((const uint8_t *)ser, (size_t)n, md);
	if (kw_b64url_encode(md, 32, &b64) != 0 || strlen(b64) != 43) {
		free(b64);
		return -1;
	}
	memcpy(out, b64, 44);
	free(b64);
	return 0;
}

void
res_cb(int r, const struct hsm_result *res, void *arg)
{
	struct res *x = arg;

	x->done++;
	x->r = r;
	x->o = res != NULL ? json_incref(res->json) : NULL;
}

int
call_json(struct hsm_client *c, json_t *req, hsm_client_cb cb, void *arg)
{
	enum hsm_op op = hsm_op_from_name(json_string_value(json_object_get(req, "op")));

	return hsm_client_call_json(c, op, req, cb, arg);
}

void
timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	*(int *)arg = 1;
}

/* Run the loop until all n results are done (or 120 s). */
int
wait_all(struct res *xs, size_t n)
{
	int timed_out = 0;
	struct timeval tv = {120, 0};
	struct event *t = evtimer_new(base, timeout_cb, &timed_out);

	evtimer_add(t, &tv);
	for (;;) {
		size_t done = 0;

		for (size_t i = 0; i < n; i++)
			done += xs[i].done != 0;
		if (done == n || timed_out)
			break;
		event_base_loop(base, EVLOOP_ONCE);
	}
	event_free(t);
	return timed_out ? -1 : 0;
}

struct by_ref {
	struct res *xs;
	size_t n;
	int fired, all_done;
};

static void
by_ref_cb(evutil_socket_t fd, short what, void *arg)
{
	struct by_ref *b = arg;
	size_t done = 0;

	(void)fd;
	(void)what;
	for (size_t i = 0; i < b->n; i++)
		done += b->xs[i].done != 0;
	b->all_done = done == b->n;
	b->fired = 1;
}

int
wait_all_by(struct res *xs, size_t n, int ms)
{
	struct by_ref b = {xs, n, 0, 0};
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	struct event *t = evtimer_new(base, by_ref_cb, &b);

	if (t == NULL || evtimer_add(t, &tv) != 0) {
		event_free(t);
		return -1;
	}
	if (wait_all(xs, n) != 0) {
		event_free(t);
		return -1;
	}
	/* all done; if the reference timer has not run yet, they were done before it */
	if (!b.fired)
		b.all_done = 1;
	event_free(t);
	return b.all_done;
}

/* Run the loop until pid no longer exists (reaped), at most ms; true when gone. */
int
wait_gone(pid_t pid, int ms)
{
	for (int waited = 0; waited < ms; waited += 20) {
		struct timeval tv = {0, 20 * 1000};
		int fired = 0;
		struct event *t;

		if (kill(pid, 0) != 0 && errno == ESRCH)
			return 1;
		t = evtimer_new(base, timeout_cb, &fired);
		evtimer_add(t, &tv);
		while (!fired)
			event_base_loop(base, EVLOOP_ONCE);
		event_free(t);
	}
	return kill(pid, 0) != 0 && errno == ESRCH;
}

void
res_clear(struct res *xs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		json_decref(xs[i].o);
		memset(&xs[i], 0, sizeof(xs[i]));
	}
}

/* One asynchronous call; returns r and the reply in *ret (NULL on error). */
int
call1(struct hsm_client *c, json_t *req, json_t **ret)
{
	struct res x = {0, 0, NULL};
	int r = call_json(c, req, res_cb, &x);

	if (r != 0)
		return r;
	if (wait_all(&x, 1) != 0)
		return -1000;
	if (x.done != 1)
		return -1001;
	*ret = x.o;
	return x.r;
}

json_t *
release_req(const char *label, const struct tkey *k, const char *kid)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "op", "release", "label", label, "profile",
	    PROFILE, "n", k->n, "e", k->e, "kid", kid);
}

json_t *
gen_req(const char *label, const char *kind, int length, int if_missing)
{
	json_t *o = json_pack("{s:s,s:s,s:s,s:b}", "op", "generate", "label", label, "kind", kind,
	    "if_missing", if_missing);

	if (length > 0)
		json_object_set_new(o, "length", json_integer(length));
	return o;
}

/* Release label to k and decrypt; returns the plaintext length or < 0. */
int
release_value(struct hsm_client *c, const char *label, const struct tkey *k, uint8_t *out,
    size_t max)
{
	json_t *o = NULL;
	size_t len = 0;
	int r = call1(c, release_req(label, k, "kid-test"), &o);

	if (r != 0)
		return r;
	r = test_decrypt(json_string_value(json_object_get(o, "jwe")), k->pk, out, max, &len);
	json_decref(o);
	return r == 0 ? (int)len : -2000;
}

int
write_file(const char *path, const void *buf, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	int ok;

	if (fd < 0)
		return -1;
	ok = write(fd, buf, len) == (ssize_t)len;
	close(fd);
	return ok ? 0 : -1;
}

int
hsm_test_token_up(void)
{
	char conf[512], cmd[512];
	int n;

	if (token_state != 0)
		return token_state > 0 ? 0 : -1;
	token_state = -1;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/kwhsm-test-XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(conf_path, sizeof(conf_path), "%s/softhsm2.conf", tmpdir);
	snprintf(pin_path, sizeof(pin_path), "%s/pin", tmpdir);
	snprintf(cmd, sizeof(cmd), "%s/tokens", tmpdir);
	if (mkdir(cmd, 0700) != 0)
		return -1;
	n = snprintf(conf, sizeof(conf),
	    "directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n"
	    "slots.removable = false\nlibrary.reset_on_fork = true\n", tmpdir);
	if (write_file(conf_path, conf, (size_t)n, 0600) != 0 || write_file(pin_path, "5678\n", 5, 0600) != 0)
		return -1;
	setenv("SOFTHSM2_CONF", conf_path, 1);
	if (system("softhsm2-util --init-token --free --label kwtest --so-pin 1234 --pin 5678 "
	    ">/dev/null") != 0)
		return -1;
	if ((base = event_base_new()) == NULL)
		return -1;
	if (tkey_gen(3072, &ka) != 0 || tkey_gen(3072, &kb) != 0)
		return -1;
	/*
	 * key_list_pages queues 300 generates at once; on a loaded machine the
	 * last ones waited longer than the default 30 s admin deadline. The
	 * deadline tests use clients of their own (start_client_dl).
	 */
	if ((cl = client_of_token(0, 0, 120000, 0, MODULE, 0)) == NULL)
		return -1;
	token_state = 1;
	return 0;
}

void
hsm_test_token_down(void)
{
	char cmd[128];

	hsm_client_free(cl);
	cl = NULL;
	tkey_free(&ka);
	tkey_free(&kb);
	if (base != NULL)
		event_base_free(base);
	base = NULL;
	if (tmpdir[0] != '\0') {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", tmpdir);
	}
	token_state = 0;
}

void
check_batch(struct res *xs, size_t n, const struct tkey *k, const uint8_t *want, size_t want_len)
{
	uint8_t v[64];
	size_t vl;
	size_t ok = 0;

	for (size_t i = 0; i < n; i++) {
		CU_ASSERT_EQUAL(xs[i].done, 1);
		if (xs[i].r != 0 || xs[i].o == NULL)
			continue;
		vl = 0;
		if (test_decrypt(json_string_value(json_object_get(xs[i].o, "jwe")), k->pk, v, sizeof(v),
		    &vl) == 0 && vl == want_len && memcmp(v, want, want_len) == 0)
			ok++;
	}
	CU_ASSERT_EQUAL(ok, n);
}

/* A client of the test token; 0 in a deadline, the bound or the interval: the default. */
static struct hsm_client *
client_of_token(unsigned int recycle_after, unsigned int call_ms, unsigned int admin_ms,
    unsigned int max_pending, const char *module, unsigned int respawn_ms)
{
	struct hsm_client_config cfg = {0};
	struct hsm_client *c = NULL;

	cfg.helper_path = helper_path;
	cfg.module_path = module;
	cfg.token_label = "kwtest";
	cfg.pin_file = pin_path;
	cfg.softhsm2_conf = conf_path;
	cfg.recycle_after = recycle_after;
	cfg.log_level = "warn";
	cfg.call_timeout_ms = call_ms;
	cfg.admin_timeout_ms = admin_ms;
	cfg.max_pending = max_pending;
	cfg.respawn_interval_ms = respawn_ms;
	return hsm_client_start(base, &cfg, &c) == 0 ? c : NULL;
}

struct hsm_client *
start_client(unsigned int recycle_after)
{
	return client_of_token(recycle_after, 0, 0, 0, MODULE, 0);
}

int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Run the loop for ms milliseconds. */
void
run_for(int ms)
{
	int fired = 0;
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	struct event *t = evtimer_new(base, timeout_cb, &fired);

	evtimer_add(t, &tv);
	while (!fired)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(t);
}

/* Run the loop until pred(c) holds or ms pass; returns whether it held. */
int
run_until_down(struct hsm_client *c, int ms)
{
	int64_t until = now_ms() + ms;

	while (hsm_client_connected(c) && now_ms() < until)
		run_for(20);
	return !hsm_client_connected(c);
}

struct hsm_client *
start_client_dl(unsigned int call_ms, unsigned int admin_ms, unsigned int max_pending)
{
	return client_of_token(0, call_ms, admin_ms, max_pending, MODULE, 0);
}

struct hsm_client *
start_client_respawn(unsigned int call_ms, unsigned int admin_ms, const char *module,
    unsigned int respawn_ms)
{
	return client_of_token(0, call_ms, admin_ms, 0, module, respawn_ms);
}

int
release_fresh(struct hsm_client *c, const char *label, const struct tkey *k, uint8_t *out,
    size_t max)
{
	int64_t until = now_ms() + 60000;
	pid_t pid = hsm_client_pid(c);
	int r;

	while ((r = release_value(c, label, k, out, max)) == KW_ERR_TIMEOUT && now_ms() < until) {
		/* a slow start is not a hang: the same helper must answer the next call */
		if (pid == -1)
			pid = hsm_client_pid(c);
		if (hsm_client_pid(c) != pid)
			return -3000;
	}
	return r;
}

json_t *
sign_req(const char *label, const uint8_t *digest, size_t len)
{
	char *d = NULL;
	json_t *o;

	if (kw_b64url_encode(digest, len, &d) != 0)
		return NULL;
	o = json_pack("{s:s,s:s,s:s}", "op", "sign", "label", label, "digest", d);
	free(d);
	return o;
}

/* Verify a 64-byte R||S over msg (ES256) with the public JWK. 1: valid, 0: not, < 0: error. */
int
es256_verify(const json_t *jwk, const uint8_t *msg, size_t msg_len, const uint8_t sig[64])
{
	EVP_PKEY *pk = NULL;
	EVP_MD_CTX *mc = NULL;
	ECDSA_SIG *es = NULL;
	BIGNUM *r = NULL, *s = NULL;
	uint8_t *der = NULL;
	int dl, ret = -1;

	if (kw_jwk_import_public(jwk, &pk) != 0 || (es = ECDSA_SIG_new()) == NULL ||
	    (r = BN_bin2bn(sig, 32, NULL)) == NULL || (s = BN_bin2bn(sig + 32, 32, NULL)) == NULL ||
	    ECDSA_SIG_set0(es, r, s) != 1)
		goto out;
	r = s = NULL;
	if ((dl = i2d_ECDSA_SIG(es, &der)) <= 0 || (mc = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestVerifyInit(mc, NULL, EVP_sha256(), NULL, pk) != 1)
		goto out;
	ret = EVP_DigestVerify(mc, der, (size_t)dl, msg, msg_len) == 1;
out:
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(es);
	OPENSSL_free(der);
	EVP_MD_CTX_free(mc);
	EVP_PKEY_free(pk);
	return ret;
}

/* The helper's signature over SHA-256(msg) with label; 0 and sig on success. */
int
hsm_sign_msg(struct hsm_client *c, const char *label, const uint8_t *msg, size_t len, uint8_t sig[64])
{
	uint8_t md[32];
	size_t sl = 0;
	json_t *o = NULL;
	const char *s;
	int r;

	SHA256(msg, len, md);
	if ((r = call1(c, sign_req(label, md, sizeof(md)), &o)) != 0)
		return r;
	s = json_string_value(json_object_get(o, "sig"));
	r = s != NULL && strlen(s) == 86 && kw_b64url_decode(s, strlen(s), sig, 64, &sl) == 0 &&
	    sl == 64 && json_object_size(o) == 3 ? 0 : -3000;
	json_decref(o);
	return r;
}

int
tp11_open(struct tp11 *t)
{
	static CK_UTF8CHAR pin[] = "5678";
	CK_C_GetFunctionList gfl;
	CK_SLOT_ID slots[16];
	CK_ULONG n = KW_ARRAY_SIZE(slots);
	CK_TOKEN_INFO ti;

	memset(t, 0, sizeof(*t));
	if ((t->dl = dlopen(MODULE, RTLD_NOW | RTLD_LOCAL)) == NULL ||
	    (gfl = (CK_C_GetFunctionList)dlsym(t->dl, "C_GetFunctionList")) == NULL ||
	    gfl(&t->f) != CKR_OK || t->f->C_Initialize(NULL) != CKR_OK ||
	    t->f->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK)
		return -1;
	for (CK_ULONG i = 0; i < n; i++) {
		if (t->f->C_GetTokenInfo(slots[i], &ti) == CKR_OK && memcmp(ti.label, "kwtest ", 7) == 0)
			return t->f->C_OpenSession(slots[i], CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &t->s) ==
			    CKR_OK && t->f->C_Login(t->s, CKU_USER, pin, 4) == CKR_OK ?
			    0 : -1;
	}
	return -1;
}

void
tp11_close(struct tp11 *t)
{
	if (t->f != NULL)
		(void)t->f->C_Finalize(NULL);
	if (t->dl != NULL)
		dlclose(t->dl);
}

/* Objects of class cls labelled label: count, and the first handle in *h. */
size_t
tp11_find(struct tp11 *t, CK_OBJECT_CLASS cls, const char *label, CK_OBJECT_HANDLE *h)
{
	CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof(cls)},
	    {CKA_LABEL, (void *)(uintptr_t)label, strlen(label)}};
	CK_OBJECT_HANDLE hs[4];
	CK_ULONG n = 0;

	if (t->f->C_FindObjectsInit(t->s, tmpl, 2) != CKR_OK)
		return 99;
	if (t->f->C_FindObjects(t->s, hs, 4, &n) != CKR_OK)
		n = 99;
	(void)t->f->C_FindObjectsFinal(t->s);
	if (n > 0 && n < 99)
		*h = hs[0];
	return n;
}

static int
token_init(void)
{
	return hsm_test_token_up();
}

int
hsm_test_add_suite(const char *name, bool token, const struct hsm_test *tests)
{
	CU_pSuite s = CU_add_suite(name, token ? token_init : NULL, NULL);

	if (s == NULL)
		return -1;
	for (const struct hsm_test *t = tests; t->name != NULL; t++) {
		if (CU_add_test(s, t->name, t->fn) == NULL)
			return -1;
	}
	return 0;
}

int
run_python(const char *script, const char *a1, const char *a2, char *line, size_t max)
{
	char cmd[640];
	FILE *f;
	int got;

	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 '%s' '%s' '%s'", script, a1, a2);
	if ((f = popen(cmd, "r")) == NULL)
		return -1;
	memset(line, 0, max);
	got = fgets(line, (int)max, f) != NULL;
	line[strcspn(line, "\n")] = '\0';
	return pclose(f) == 0 && got ? 0 : -1;
}
