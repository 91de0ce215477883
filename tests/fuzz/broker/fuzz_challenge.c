/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz the sealed challenge codec (the /attest nonce and the DPoP nonce):
 * base64url decode, the bounded reader over version, expiry, random bytes and
 * MAC, the constant-time MAC check. The input is used as the challenge
 * string; a second pass seals the first 32 bytes as a genuine challenge and
 * flips the byte the input's last byte selects, so valid-looking layouts with
 * one damaged field are reached too.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "challenge.h"

#define NOW 1800000000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct kw_challenges *c;
	char s[KW_CHALLENGE_STR_MAX * 2], good[KW_CHALLENGE_STR_MAX];
	size_t n = size < sizeof(s) - 1 ? size : sizeof(s) - 1;
	int r;

	if (c == NULL && kw_challenges_new(60, 64, &c) != 0)
		abort();
	memcpy(s, data, n);
	s[n] = '\0';
	r = kw_challenge_verify(c, "snp", s, NOW);
	if (r == 0)
		__builtin_trap();    /* nobody can forge a MAC under a random key */
	if (kw_challenge_issue(c, "snp", NOW, good) != 0)
		abort();
	if (kw_challenge_verify(c, "snp", good, NOW) != 0 ||
	    kw_challenge_verify(c, "tdx", good, NOW) == 0)
		__builtin_trap();
	if (size > 0) {
		/* any character but the last (whose low bits are padding) changes the bytes */
		size_t len = strlen(good), i = data[size - 1] % (len - 1);

		good[i] = good[i] == 'A' ? 'B' : 'A';
		if (kw_challenge_verify(c, "snp", good, NOW) == 0)
			__builtin_trap();
	}
	return 0;
}
