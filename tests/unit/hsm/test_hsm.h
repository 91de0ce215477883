/* SPDX-License-Identifier: Apache-2.0 */
#ifndef TEST_HSM_H
#define TEST_HSM_H

/*
 * Shared parts of the hsm/ unit tests (the "hsm" meson test). One file per
 * source file under test registers one CUnit suite (test_hsm_main.c runs
 * them in order): test_hsm_proto.c, test_hsm_req.c, test_hsm_jwe.c,
 * test_hsm_tokkey.c, test_hsm_supervise.c and test_hsm_msg.c need no token;
 * test_hsm_p11.c, test_hsm_p11_tokkey.c, test_hsm_p11_admin.c,
 * test_keywarden_hsm.c and test_hsm_client.c run the real keywarden-hsm
 * against one throw-away SoftHSM2 token (hsm_test_token_up) through
 * hsm_client, and decrypt every release with code written here (and once
 * with python3-jwcrypto). test_hsm_util.c holds the helpers below.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <CUnit/Basic.h>
#include <event2/event.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <p11-kit/pkcs11.h>

#include "hsm_client.h"
#include "hsm_proto.h"

#define MODULE "/usr/lib/softhsm/libsofthsm2.so"
#define PROFILE HSM_PROFILE_RSA_OAEP_A256CBC_HS512
#define KID43 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
#define PIPELINE 200

/* From the command line (test_hsm_main.c). */
extern const char *helper_path, *py_script, *jws_script, *fake_module;
/* The token (hsm_test_token_up): its directory, SOFTHSM2_CONF and PIN file. */
extern char tmpdir[64], conf_path[128], pin_path[128];
extern struct event_base *base;
extern struct hsm_client *cl; /* the suites' shared client */

/* An OpenSSL RSA key and its public numbers in base64url. */
struct tkey {
	EVP_PKEY *pk;
	char *n, *e;
};
extern struct tkey key2048; /* made in main */
extern struct tkey ka, kb;  /* RSA-3072, made with the token */

void tkey_free(struct tkey *k);
int tkey_gen(unsigned int bits, struct tkey *k);
/* The test's own JWE decryptor (independent of hsm_jwe.c): 0 and out[0..*ret_len). */
int test_decrypt(const char *jwe, EVP_PKEY *pk, uint8_t *out, size_t max, size_t *ret_len);
int write_file(const char *path, const void *buf, size_t len, mode_t mode);
/*
 * /usr/bin/python3 script a1 a2 (a cross-check with python3-jwcrypto): its
 * first output line without the newline in line[0..max). 0 when it ran and
 * exited 0.
 */
int run_python(const char *script, const char *a1, const char *a2, char *line, size_t max);
/* The RFC 7638 thumbprint computed here from an EC JWK's members. */
int my_thumbprint(const json_t *jwk, char out[44]);

/*
 * The token and the shared client: made on the first call (a suite's
 * init), removed by hsm_test_token_down at the end. 0 or -1.
 */
int hsm_test_token_up(void);
void hsm_test_token_down(void);

/* One call's outcome, filled by res_cb: the raw reply object in o. */
struct res {
	int done;
	int r;
	json_t *o;
};
void res_cb(int r, const struct hsm_result *res, void *arg);
void timeout_cb(evutil_socket_t fd, short what, void *arg);
/* Run the loop until all n results are done (or 120 s); -1 on timeout. */
int wait_all(struct res *xs, size_t n);
/*
 * wait_all, and whether all n were done when a timer of ms (armed now, on
 * the same loop) ran: 1 yes, 0 no, -1 wait_all timed out. Expired timers
 * run in deadline order however late the loop runs, so this bounds "how
 * long after its deadline" without a wall-clock bound.
 */
int wait_all_by(struct res *xs, size_t n, int ms);
/* Run the loop until pid no longer exists (reaped), at most ms; true when gone. */
int wait_gone(pid_t pid, int ms);
void res_clear(struct res *xs, size_t n);
/*
 * Queue a hand-made request (stolen) with hsm_client_call_json; the reply
 * is decoded by the op its "op" member names, so every call also checks
 * the decoder against the real helper.
 */
int call_json(struct hsm_client *c, json_t *req, hsm_client_cb cb, void *arg);
/* One asynchronous call; returns r and the raw reply in *ret (NULL on error). */
int call1(struct hsm_client *c, json_t *req, json_t **ret);
json_t *release_req(const char *label, const struct tkey *k, const char *kid);
json_t *gen_req(const char *label, const char *kind, int length, int if_missing);
/* Release label to k and decrypt; returns the plaintext length or < 0. */
int release_value(struct hsm_client *c, const char *label, const struct tkey *k, uint8_t *out,
    size_t max);
/* Each of n results is a release of want to k. */
void check_batch(struct res *xs, size_t n, const struct tkey *k, const uint8_t *want,
    size_t want_len);
/* Another client of the token (recycle_after as in hsm_client_config). */
struct hsm_client *start_client(unsigned int recycle_after);
struct hsm_client *start_client_dl(unsigned int call_ms, unsigned int admin_ms,
    unsigned int max_pending);
/* A client of the token through module (a path or symlink) with a respawn interval. */
struct hsm_client *start_client_respawn(unsigned int call_ms, unsigned int admin_ms,
    const char *module, unsigned int respawn_ms);
/*
 * release_value as the first call to a helper that is starting (or about to
 * be spawned): its start (module load, C_Login, an RSA-2048 self test) can
 * outlast the call deadline on a loaded machine, and then the call rightly
 * times out. Repeats while that happens (up to 60 s) as long as the helper
 * that answers is the same one (a timeout must not replace it): -3000 if it
 * was replaced, else release_value's result.
 */
int release_fresh(struct hsm_client *c, const char *label, const struct tkey *k, uint8_t *out,
    size_t max);
int64_t now_ms(void);
/* Run the loop for ms milliseconds. */
void run_for(int ms);
/* Run the loop until c has no helper or ms pass; returns whether it went down. */
int run_until_down(struct hsm_client *c, int ms);

/* token keys: sign and verify */
json_t *sign_req(const char *label, const uint8_t *digest, size_t len);
/* Verify a 64-byte R||S over msg (ES256) with the public JWK. 1: valid, 0: not, < 0: error. */
int es256_verify(const json_t *jwk, const uint8_t *msg, size_t msg_len, const uint8_t sig[64]);
/* The helper's signature over SHA-256(msg) with label; 0 and sig on success. */
int hsm_sign_msg(struct hsm_client *c, const char *label, const uint8_t *msg, size_t len,
    uint8_t sig[64]);

/*
 * What kwctl does for an import: a fresh AES-256 KEK, RSA-OAEP (SHA-1) of it
 * under the import public key jwk, AES-KWP (RFC 5649) of value under the KEK;
 * both base64url (free()). 0 or -1.
 */
int wrap_for_import(const json_t *jwk, const uint8_t *value, size_t len, char **ret_kek,
    char **ret_val);

/* Direct PKCS#11 in the test process, to read the stored attributes. */
struct tp11 {
	void *dl;
	CK_FUNCTION_LIST_PTR f;
	CK_SESSION_HANDLE s;
};
extern CK_BBOOL ck_true_t;
int tp11_open(struct tp11 *t);
void tp11_close(struct tp11 *t);
/* Objects of class cls labelled label: count, and the first handle in *h. */
size_t tp11_find(struct tp11 *t, CK_OBJECT_CLASS cls, const char *label, CK_OBJECT_HANDLE *h);

/* One test of a suite table (the table ends with {NULL, NULL}). */
struct hsm_test {
	const char *name;
	CU_TestFunc fn;
};
/*
 * Register the suite name with tests; token: its init brings up the token
 * and the shared client (hsm_test_token_up). 0 or -1.
 */
int hsm_test_add_suite(const char *name, bool token, const struct hsm_test *tests);

/* The suites, in the order test_hsm_main.c runs them; each returns 0 or -1. */
int test_hsm_proto_suite(void);
int test_hsm_req_suite(void);
int test_hsm_jwe_suite(void);
int test_hsm_tokkey_suite(void);
int test_hsm_supervise_suite(void);
int test_hsm_msg_suite(void);
int test_hsm_p11_suite(void);
int test_hsm_p11_tokkey_suite(void);
int test_hsm_p11_admin_suite(void);
int test_keywarden_hsm_suite(void);
int test_hsm_client_suite(void);
int test_hsm_uri_suite(void);
/* Freed at the end of main. */
void test_hsm_p11_tokkey_cleanup(void);
void test_hsm_p11_admin_cleanup(void);

#endif
