/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Checkpoints as C2SP signed notes (c2sp.org/tlog-checkpoint,
 * c2sp.org/signed-note) with signature type 0x02: ECDSA P-256 over SHA-256
 * of the note text, the signature ASN.1 DER, the key ID the first four bytes
 * of SHA-256 of the DER SubjectPublicKeyInfo (as transparency-dev's witness
 * and sigstore's Rekor do). Ed25519 (type 0x01) is what the specification
 * prefers, but SoftHSM 2.6 has no Ed25519 (docs/audit.md).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "audit.h"
#include "kw_util.h"

#define NOTE_SIGS_MAX 16
#define DER_SIG_MAX 72
#define SPKI_MAX 128
static const char em_dash[] = "\xe2\x80\x94";   /* U+2014 */

/* ---- standard base64 (RFC 4648 §4, padded), strict ---- */

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

#define B64_ENCLEN(n) (((n) + 2) / 3 * 4)

static size_t
b64_enclen(size_t n)
{
	return B64_ENCLEN(n);
}

/* out holds b64_enclen(n) + 1 bytes. */
static void
b64_encode(const uint8_t *in, size_t n, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = b64chars[(v >> 18) & 63];
		out[o++] = b64chars[(v >> 12) & 63];
		out[o++] = i + 1 < n ? b64chars[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? b64chars[v & 63] : '=';
	}
	out[o] = '\0';
}

static int
b64_val(char c)
{
	const char *p = c != '\0' ? strchr(b64chars, c) : NULL;

	return p == NULL ? -1 : (int)(p - b64chars);
}

/* Strict: length a multiple of 4, padding only at the end, zero unused bits. */
static int
b64_decode(const char *in, size_t len, uint8_t *out, size_t max, size_t *ret_len)
{
	size_t o = 0, pad = 0;

	if (len == 0 || len % 4 != 0)
		return KW_ERR_INVALID_FORMAT;
	if (in[len - 1] == '=')
		pad = in[len - 2] == '=' ? 2 : 1;
	if ((len / 4) * 3 - pad > max)
		return KW_ERR_TOO_LARGE;
	for (size_t i = 0; i < len; i += 4) {
		int v[4];
		bool last = i + 4 == len;

		for (int k = 0; k < 4; k++) {
			if (last && k >= 4 - (int)pad) {
				if (in[i + (size_t)k] != '=')
					return KW_ERR_INVALID_FORMAT;
				v[k] = 0;
			} else if ((v[k] = b64_val(in[i + (size_t)k])) < 0) {
				return KW_ERR_INVALID_FORMAT;
			}
		}
		if (last && pad == 2 && (v[1] & 0x0f) != 0)
			return KW_ERR_INVALID_FORMAT;
		if (last && pad == 1 && (v[2] & 0x03) != 0)
			return KW_ERR_INVALID_FORMAT;
		out[o++] = (uint8_t)((v[0] << 2) | (v[1] >> 4));
		if (!(last && pad == 2))
			out[o++] = (uint8_t)(((v[1] & 0x0f) << 4) | (v[2] >> 2));
		if (!(last && pad >= 1))
			out[o++] = (uint8_t)(((v[2] & 0x03) << 6) | v[3]);
	}
	*ret_len = o;
	return 0;
}

/* ---- the verifier key ---- */

struct audit_vkey {
	char name[AUDIT_ORIGIN_MAX + 1];
	uint32_t id;
	uint8_t spki[SPKI_MAX];
	size_t spki_len;
	EVP_PKEY *pk;    /* public only */
};

/* Key names and origins: non-empty, no space, '+' or control byte (signed-note). */
static bool
name_valid(const char *s, size_t len)
{
	if (len == 0 || len > AUDIT_ORIGIN_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= 0x20 || c == '+' || c == 0x7f)
			return false;
	}
	return true;
}

static bool
is_p256(EVP_PKEY *pk)
{
	char group[32];
	size_t glen = 0;

	if (EVP_PKEY_get_base_id(pk) != EVP_PKEY_EC)
		return false;
	if (EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
	    &glen) != 1)
		return false;
	return strcmp(group, "prime256v1") == 0;
}

/* A vkey from a DER SPKI; the caller checked name. */
static int
vkey_from_spki(const char *name, size_t name_len, const uint8_t *spki, size_t len,
    struct audit_vkey **ret)
{
	struct audit_vkey *k = NULL;
	const uint8_t *p = spki;
	uint8_t h[32];
	int r;

	if (len == 0 || len > SPKI_MAX)
		return KW_ERR_UNSUPPORTED;
	if ((k = calloc(1, sizeof(*k))) == NULL)
		return KW_ERR_NOMEM;
	memcpy(k->name, name, name_len);
	k->name[name_len] = '\0';
	memcpy(k->spki, spki, len);
	k->spki_len = len;
	if ((k->pk = d2i_PUBKEY(NULL, &p, (long)len)) == NULL || p != spki + len) {
		r = KW_ERR_INVALID_FORMAT;
		goto fail;
	}
	if (!is_p256(k->pk)) {
		r = KW_ERR_UNSUPPORTED;
		goto fail;
	}
	if ((r = kw_sha256(spki, len, h)) != 0)
		goto fail;
	k->id = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
	*ret = k;
	return 0;
fail:
	audit_vkey_free(k);
	return r;
}

int
audit_vkey_from_pkey(const char *name, void *evp_pkey, struct audit_vkey **ret)
{
	uint8_t *der = NULL;
	int len, r;

	if (name == NULL || evp_pkey == NULL || ret == NULL || !name_valid(name, strlen(name)))
		return KW_ERR_INVALID_ARG;
	if (!is_p256(evp_pkey))
		return KW_ERR_UNSUPPORTED;
	if ((len = i2d_PUBKEY(evp_pkey, &der)) <= 0)
		return KW_ERR_CRYPTO;
	r = vkey_from_spki(name, strlen(name), der, (size_t)len, ret);
	OPENSSL_free(der);
	return r;
}

int
audit_vkey_parse(const char *text, size_t len, struct audit_vkey **ret)
{
	const char *p1, *p2;
	uint8_t raw[1 + SPKI_MAX], idb[4];
	size_t rawlen = 0;
	struct audit_vkey *k = NULL;
	uint32_t id;
	int r;

	if (text == NULL || ret == NULL)
		return KW_ERR_INVALID_ARG;
	if (len > 1024 || memchr(text, '\0', len) != NULL)
		return KW_ERR_INVALID_FORMAT;
	if ((p1 = memchr(text, '+', len)) == NULL ||
	    (p2 = memchr(p1 + 1, '+', len - (size_t)(p1 + 1 - text))) == NULL)
		return KW_ERR_INVALID_FORMAT;
	if (!name_valid(text, (size_t)(p1 - text)) || p2 - p1 - 1 != 8)
		return KW_ERR_INVALID_FORMAT;
	{
		char hex[9];

		memcpy(hex, p1 + 1, 8);
		hex[8] = '\0';
		for (int i = 0; i < 8; i++)
			if (hex[i] >= 'A' && hex[i] <= 'F')
				hex[i] = (char)(hex[i] - 'A' + 'a');
		if (kw_hex_decode(hex, idb, sizeof(idb)) != 0)
			return KW_ERR_INVALID_FORMAT;
	}
	id = (uint32_t)idb[0] << 24 | (uint32_t)idb[1] << 16 | (uint32_t)idb[2] << 8 | idb[3];
	if ((r = b64_decode(p2 + 1, len - (size_t)(p2 + 1 - text), raw, sizeof(raw), &rawlen)) != 0)
		return r == KW_ERR_TOO_LARGE ? KW_ERR_UNSUPPORTED : r;
	if (rawlen < 2)
		return KW_ERR_INVALID_FORMAT;
	if (raw[0] != AUDIT_NOTE_TYPE_ECDSA)
		return KW_ERR_UNSUPPORTED;
	if ((r = vkey_from_spki(text, (size_t)(p1 - text), raw + 1, rawlen - 1, &k)) != 0)
		return r;
	if (k->id != id) {
		audit_vkey_free(k);
		return KW_ERR_MISMATCH;
	}
	*ret = k;
	return 0;
}

int
audit_vkey_format(const struct audit_vkey *k, char **ret)
{
	uint8_t raw[1 + SPKI_MAX];
	size_t nlen, blen, total;
	char *out;
	int n;

	if (k == NULL || ret == NULL)
		return KW_ERR_INVALID_ARG;
	raw[0] = AUDIT_NOTE_TYPE_ECDSA;
	memcpy(raw + 1, k->spki, k->spki_len);
	nlen = strlen(k->name);
	blen = b64_enclen(k->spki_len + 1);
	total = nlen + 1 + 8 + 1 + blen + 1;
	if ((out = malloc(total)) == NULL)
		return KW_ERR_NOMEM;
	n = snprintf(out, total, "%s+%08x+", k->name, (unsigned int)k->id);
	if (n < 0 || (size_t)n != nlen + 10) {
		free(out);
		return KW_ERR_INTERNAL;
	}
	b64_encode(raw, k->spki_len + 1, out + n);
	*ret = out;
	return 0;
}

const char *
audit_vkey_name(const struct audit_vkey *k)
{
	return k->name;
}

uint32_t
audit_vkey_id(const struct audit_vkey *k)
{
	return k->id;
}

void
audit_vkey_free(struct audit_vkey *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pk);
	free(k);
}

/* ---- the note text ---- */

int
audit_checkpoint_text(const struct audit_checkpoint *cp, char **ret, size_t *ret_len)
{
	char root[B64_ENCLEN(AUDIT_HASH_LEN) + 1], *out;
	size_t cap;
	int n;

	if (cp == NULL || ret == NULL || ret_len == NULL ||
	    !name_valid(cp->origin, strnlen(cp->origin, sizeof(cp->origin))) ||
	    cp->size > (uint64_t)INT64_MAX)
		return KW_ERR_INVALID_ARG;
	b64_encode(cp->root, AUDIT_HASH_LEN, root);
	cap = strlen(cp->origin) + 128;
	if ((out = malloc(cap)) == NULL)
		return KW_ERR_NOMEM;
	if (cp->time >= 0)
		n = snprintf(out, cap, "%s\n%llu\n%s\ntime %lld\n", cp->origin,
		    (unsigned long long)cp->size, root, (long long)cp->time);
	else
		n = snprintf(out, cap, "%s\n%llu\n%s\n", cp->origin, (unsigned long long)cp->size,
		    root);
	if (n < 0 || (size_t)n >= cap) {
		free(out);
		return KW_ERR_INTERNAL;
	}
	*ret = out;
	*ret_len = (size_t)n;
	return 0;
}

/* R || S to DER; 0 and der[0..*ret_len), else KW_ERR_CRYPTO. */
static int
sig_to_der(const uint8_t sig[static AUDIT_ECDSA_SIG_LEN], uint8_t der[static DER_SIG_MAX],
    size_t *ret_len)
{
	ECDSA_SIG *s = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(sig, 32, NULL), *ss = BN_bin2bn(sig + 32, 32, NULL);
	unsigned char *p = der;
	int len = -1;

	if (s == NULL || r == NULL || ss == NULL || ECDSA_SIG_set0(s, r, ss) != 1) {
		BN_free(r);
		BN_free(ss);
		ECDSA_SIG_free(s);
		return KW_ERR_CRYPTO;
	}
	/* r and ss belong to s now */
	if (i2d_ECDSA_SIG(s, NULL) <= DER_SIG_MAX)
		len = i2d_ECDSA_SIG(s, &p);
	ECDSA_SIG_free(s);
	if (len <= 0)
		return KW_ERR_CRYPTO;
	*ret_len = (size_t)len;
	return 0;
}

int
audit_checkpoint_sign(const struct audit_checkpoint *cp, const struct audit_vkey *key,
    audit_sign_fn sign, void *sign_arg, char **ret, size_t *ret_len)
{
	uint8_t digest[32], sig[AUDIT_ECDSA_SIG_LEN], blob[4 + DER_SIG_MAX];
	char *text = NULL, *out = NULL, b64[B64_ENCLEN(4 + DER_SIG_MAX) + 1];
	size_t tlen = 0, dlen = 0, cap;
	int r, n;

	if (cp == NULL || key == NULL || sign == NULL || ret == NULL || ret_len == NULL)
		return KW_ERR_INVALID_ARG;
	if ((r = audit_checkpoint_text(cp, &text, &tlen)) != 0)
		return r;
	if ((r = kw_sha256(text, tlen, digest)) != 0 || (r = sign(sign_arg, digest, sig)) != 0 ||
	    (r = sig_to_der(sig, blob + 4, &dlen)) != 0)
		goto out;
	blob[0] = (uint8_t)(key->id >> 24);
	blob[1] = (uint8_t)(key->id >> 16);
	blob[2] = (uint8_t)(key->id >> 8);
	blob[3] = (uint8_t)key->id;
	b64_encode(blob, 4 + dlen, b64);
	cap = tlen + 1 + strlen(em_dash) + 1 + strlen(key->name) + 1 + strlen(b64) + 2;
	if ((out = malloc(cap)) == NULL) {
		r = KW_ERR_NOMEM;
		goto out;
	}
	n = snprintf(out, cap, "%s\n%s %s %s\n", text, em_dash, key->name, b64);
	if (n < 0 || (size_t)n >= cap) {
		r = KW_ERR_INTERNAL;
		goto out;
	}
	*ret = out;    /* transferred */
	out = NULL;
	*ret_len = (size_t)n;
	r = 0;
out:
	free(out);
	free(text);
	return r;
}

/* ---- parsing ---- */

/* Valid UTF-8 without control bytes other than newline (signed-note). */
static bool
note_bytes_valid(const uint8_t *s, size_t len)
{
	for (size_t i = 0; i < len;) {
		uint8_t c = s[i];
		size_t n;
		uint32_t cp;

		if (c < 0x80) {
			if ((c < 0x20 && c != '\n') || c == 0x7f)
				return false;
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) {
			n = 2;
			cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			n = 3;
			cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			n = 4;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (n > len - i)
			return false;
		for (size_t k = 1; k < n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp < 0xa0))
			return false;
		i += n;
	}
	return true;
}

/* Decimal without sign or leading zeros ("0" alone), at most max. */
static int
parse_dec(const char *s, size_t len, uint64_t max, uint64_t *ret)
{
	uint64_t v = 0;

	if (len == 0 || len > 20 || (len > 1 && s[0] == '0'))
		return KW_ERR_INVALID_FORMAT;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return KW_ERR_INVALID_FORMAT;
		if (v > (max - (uint64_t)(s[i] - '0')) / 10)
			return KW_ERR_INVALID_FORMAT;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*ret = v;
	return 0;
}

/* The body (text[0..len), ending in '\n') into cp. */
static int
parse_body(const char *text, size_t len, struct audit_checkpoint *cp)
{
	const char *p = text, *end = text + len;
	struct audit_checkpoint c;
	int line = 0;

	memset(&c, 0, sizeof(c));
	c.time = -1;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l;

		if (nl == NULL)
			return KW_ERR_INVALID_FORMAT;
		l = (size_t)(nl - p);
		if (l == 0)
			return KW_ERR_INVALID_FORMAT;    /* every line is non-empty */
		switch (line) {
		case 0:
			if (l > AUDIT_ORIGIN_MAX)
				return KW_ERR_INVALID_FORMAT;
			memcpy(c.origin, p, l);
			c.origin[l] = '\0';
			break;
		case 1:
			if (parse_dec(p, l, (uint64_t)INT64_MAX, &c.size) != 0)
				return KW_ERR_INVALID_FORMAT;
			break;
		case 2: {
			uint8_t root[AUDIT_HASH_LEN + 3];
			size_t rl = 0;

			if (b64_decode(p, l, root, sizeof(root), &rl) != 0 || rl != AUDIT_HASH_LEN)
				return KW_ERR_INVALID_FORMAT;
			memcpy(c.root, root, AUDIT_HASH_LEN);
			break;
		}
		default: {
			uint64_t t;

			/* extension lines are opaque; ours is "time <seconds>" */
			if (c.time < 0 && l > 5 && memcmp(p, "time ", 5) == 0) {
				if (parse_dec(p + 5, l - 5, (uint64_t)INT64_MAX, &t) != 0)
					return KW_ERR_INVALID_FORMAT;
				c.time = (int64_t)t;
			}
			break;
		}
		}
		line++;
		p = nl + 1;
	}
	if (line < 3)
		return KW_ERR_INVALID_FORMAT;
	*cp = c;
	return 0;
}

struct sigline {
	const char *name;
	size_t name_len;
	const char *b64;
	size_t b64_len;
};

/*
 * Split a note into its text and signature lines: the text ends before the
 * last blank line. 0 and the parts, else KW_ERR_INVALID_FORMAT / TOO_LARGE.
 */
static int
note_split(const char *note, size_t len, size_t *ret_text_len, struct sigline *sigs,
    size_t *ret_nsigs)
{
	size_t text_len = 0, n = 0;
	const char *p, *end = note + len;
	bool found = false;

	if (len > AUDIT_NOTE_MAX)
		return KW_ERR_TOO_LARGE;
	if (len < 2 || note[len - 1] != '\n' || !note_bytes_valid((const uint8_t *)note, len))
		return KW_ERR_INVALID_FORMAT;
	/* the last "\n\n": the text is up to and including its first newline */
	for (size_t i = len - 1; i > 0; i--)
		if (note[i] == '\n' && note[i - 1] == '\n') {
			text_len = i;
			found = true;
			break;
		}
	if (!found || text_len == 0)
		return KW_ERR_INVALID_FORMAT;
	for (p = note + text_len + 1; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *sp;
		size_t l = (size_t)(nl - p), dl = strlen(em_dash);

		if (n == NOTE_SIGS_MAX)
			return KW_ERR_TOO_LARGE;
		if (l < dl + 1 || memcmp(p, em_dash, dl) != 0 || p[dl] != ' ')
			return KW_ERR_INVALID_FORMAT;
		sigs[n].name = p + dl + 1;
		if ((sp = memchr(sigs[n].name, ' ', (size_t)(nl - sigs[n].name))) == NULL)
			return KW_ERR_INVALID_FORMAT;
		sigs[n].name_len = (size_t)(sp - sigs[n].name);
		sigs[n].b64 = sp + 1;
		sigs[n].b64_len = (size_t)(nl - sp - 1);
		if (!name_valid(sigs[n].name, sigs[n].name_len) || sigs[n].b64_len < 8)
			return KW_ERR_INVALID_FORMAT;
		n++;
		p = nl + 1;
	}
	if (n == 0)
		return KW_ERR_INVALID_FORMAT;
	*ret_text_len = text_len;
	*ret_nsigs = n;
	return 0;
}

int
audit_checkpoint_parse(const char *note, size_t len, struct audit_checkpoint *ret)
{
	struct sigline sigs[NOTE_SIGS_MAX];
	size_t text_len = 0, nsigs = 0;
	int r;

	if (note == NULL || ret == NULL)
		return KW_ERR_INVALID_ARG;
	if ((r = note_split(note, len, &text_len, sigs, &nsigs)) != 0)
		return r;
	return parse_body(note, text_len, ret);
}

static int
verify_der(EVP_PKEY *pk, const char *text, size_t len, const uint8_t *der, size_t dlen)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok;

	if (ctx == NULL)
		return KW_ERR_CRYPTO;
	ok = EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pk) == 1 &&
	    EVP_DigestVerify(ctx, der, dlen, (const unsigned char *)text, len) == 1;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : KW_ERR_SIG_INVALID;
}

int
audit_checkpoint_verify(const char *note, size_t len, const struct audit_vkey *key,
    struct audit_checkpoint *ret)
{
	struct sigline sigs[NOTE_SIGS_MAX];
	struct audit_checkpoint cp;
	size_t text_len = 0, nsigs = 0;
	bool verified = false;
	int r;

	if (note == NULL || key == NULL || ret == NULL)
		return KW_ERR_INVALID_ARG;
	if ((r = note_split(note, len, &text_len, sigs, &nsigs)) != 0)
		return r;
	if ((r = parse_body(note, text_len, &cp)) != 0)
		return r;
	for (size_t i = 0; i < nsigs; i++) {
		uint8_t blob[4 + DER_SIG_MAX];
		size_t blen = 0;
		uint32_t id;

		if (sigs[i].name_len != strlen(key->name) ||
		    memcmp(sigs[i].name, key->name, sigs[i].name_len) != 0)
			continue;
		/* another key's signature may be anything (and long): decode ours only */
		if (b64_decode(sigs[i].b64, sigs[i].b64_len, blob, sizeof(blob), &blen) != 0 ||
		    blen < 4 + 8)
			continue;
		id = (uint32_t)blob[0] << 24 | (uint32_t)blob[1] << 16 | (uint32_t)blob[2] << 8 |
		    blob[3];
		if (id != key->id)
			continue;
		/* a known key: its signature must verify, else the whole note is refused */
		if ((r = verify_der(key->pk, note, text_len, blob + 4, blen - 4)) != 0)
			return r;
		verified = true;
	}
	if (!verified)
		return KW_ERR_NOT_FOUND;
	*ret = cp;
	return 0;
}
