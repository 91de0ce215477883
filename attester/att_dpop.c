/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The client half of TEE-bound tokens: DPoP proofs (RFC 9449) signed with
 * tee-sigkey, the use_dpop_nonce challenge, and reading the lifetime of the
 * token /attest returns. The private key is used in place (EVP_PKEY); it is
 * never serialized here.
 */
#include <string.h>
#include <strings.h>

#include <openssl/rand.h>

#include "attester.h"
#include "kw_b64url.h"
#include "kw_jose.h"
#include "kw_json.h"
#include "kw_jwk.h"
#include "kw_util.h"

int
att_dpop_proof(EVP_PKEY *sig, const char *htm, const char *htu, const char *token,
    const char *nonce, int64_t iat, char **ret)
{
	uint8_t jti_raw[ATT_DPOP_JTI_BYTES], s[KW_ES256_SIG_LEN];
	char ath[KW_B64URL_SHA256_SIZE], *jti = NULL, *si = NULL, *out = NULL;
	json_t *jwk = NULL, *hdr = NULL, *pl = NULL;
	size_t silen = 0;
	int r = KW_ERR_NOMEM;

	if (sig == NULL || htm == NULL || htu == NULL || token == NULL || ret == NULL || *htm == '\0' ||
	    *htu == '\0' || strpbrk(htu, "?#") != NULL || iat <= 0)
		return KW_ERR_INVALID_ARG;
	if (nonce != NULL && !att_dpop_nonce_valid(nonce, strlen(nonce)))
		return KW_ERR_INVALID_ARG;
	if ((r = kw_jose_ath(token, strlen(token), ath)) != 0)
		return r;
	if (RAND_bytes(jti_raw, (int)sizeof(jti_raw)) != 1)
		return KW_ERR_CRYPTO;
	if ((r = kw_b64url_encode(jti_raw, sizeof(jti_raw), &jti)) != 0)
		return r;
	if ((r = kw_jwk_export_public(sig, &jwk)) != 0)
		goto out;
	r = KW_ERR_NOMEM;
	/* Member order is the order of insertion (jansson keeps it). */
	if ((hdr = json_object()) == NULL ||
	    json_object_set_new(hdr, "typ", json_string("dpop+jwt")) != 0 ||
	    json_object_set_new(hdr, "alg", json_string("ES256")) != 0 ||
	    json_object_set(hdr, "jwk", jwk) != 0)
		goto out;
	if ((pl = json_object()) == NULL ||
	    json_object_set_new(pl, "htm", json_string(htm)) != 0 ||
	    json_object_set_new(pl, "htu", json_string(htu)) != 0 ||
	    json_object_set_new(pl, "iat", json_integer((json_int_t)iat)) != 0 ||
	    json_object_set_new(pl, "jti", json_string(jti)) != 0 ||
	    json_object_set_new(pl, "ath", json_string(ath)) != 0 ||
	    (nonce != NULL && json_object_set_new(pl, "nonce", json_string(nonce)) != 0))
		goto out;
	if ((r = kw_jws_signing_input(hdr, pl, &si, &silen)) != 0)
		goto out;
	if ((r = kw_es256_sign(sig, si, silen, s)) != 0)
		goto out;
	if ((r = kw_jws_compact(si, s, sizeof(s), &out)) != 0)
		goto out;
	*ret = out;    /* transferred */
	r = 0;
out:
	free(si);
	free(jti);
	json_decref(pl);
	json_decref(hdr);
	json_decref(jwk);
	return r;
}

int
att_dpop_nonce_valid(const char *s, size_t n)
{
	if (s == NULL || n == 0 || n > ATT_MAX_DPOP_NONCE)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x21 || c > 0x7e || c == '"' || c == '\\')
			return 0;
	}
	return 1;
}

/* RFC 9110 tchar */
static int
is_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static size_t
skip_ws(const char *s, size_t n, size_t i)
{
	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	return i;
}

/*
 * Walk the challenges (RFC 9110 11.6.1): a token not followed by '=' starts
 * a new challenge; name=value pairs are parameters of the current one.
 */
int
att_www_auth_use_dpop_nonce(const char *s, size_t n)
{
	static const char want[] = "use_dpop_nonce";
	char val[sizeof(want) + 1];
	size_t i = 0, t, k, vl;
	int dpop = 0;

	if (s == NULL)
		return 0;
	for (;;) {
		while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == ','))
			i++;
		if (i >= n)
			return 0;
		for (t = 0; i + t < n && is_tchar(s[i + t]); t++)
			;
		if (t == 0)
			return 0;
		k = skip_ws(s, n, i + t);
		if (k >= n || s[k] != '=') {
			/* a new challenge: its scheme */
			dpop = t == 4 && strncasecmp(s + i, "DPoP", 4) == 0;
			i += t;
			continue;
		}
		/* a parameter name = value (token or quoted-string) */
		k = skip_ws(s, n, k + 1);
		vl = 0;
		if (k < n && s[k] == '"') {
			for (k++; k < n && s[k] != '"'; k++) {
				if (s[k] == '\\' && k + 1 < n)
					k++;
				if (vl < sizeof(val) - 1)
					val[vl] = s[k];
				vl++;
			}
			if (k >= n)
				return 0; /* unterminated */
			k++;
		} else {
			for (; k < n && is_tchar(s[k]); k++) {
				if (vl < sizeof(val) - 1)
					val[vl] = s[k];
				vl++;
			}
			while (k < n && s[k] == '=')    /* token68 padding ("Basic abc==") */
				k++;
		}
		if (skip_ws(s, n, k) < n && s[skip_ws(s, n, k)] != ',')
			return 0; /* junk after a parameter */
		if (dpop && t == 5 && strncasecmp(s + i, "error", 5) == 0 && vl == sizeof(want) - 1 &&
		    memcmp(val, want, vl) == 0)
			return 1;
		i = skip_ws(s, n, k);
	}
}

int
att_token_times(const char *token, size_t len, int64_t *ret_iat, int64_t *ret_exp)
{
	struct kw_jws *j = NULL;
	int64_t iat, exp;
	int r;

	if (token == NULL || ret_iat == NULL || ret_exp == NULL)
		return KW_ERR_INVALID_ARG;
	if (len > ATT_MAX_TOKEN)
		return KW_ERR_TOO_LARGE;
	if ((r = kw_jws_parse(token, len, ATT_MAX_TOKEN, &j)) != 0)
		return r;
	r = KW_ERR_INVALID_FORMAT;
	if (kw_json_get_int(j->payload, "iat", &iat) != 0 ||
	    kw_json_get_int(j->payload, "exp", &exp) != 0 || iat <= 0 || exp <= iat)
		goto out;
	*ret_iat = iat;
	*ret_exp = exp;
	r = 0;
out:
	kw_jws_free(j);
	return r;
}
