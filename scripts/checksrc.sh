#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# checksrc.sh [SOURCE_ROOT]: curl-style source checks (STYLE.md): no sprintf,
# strcpy, strcat, atoi or gets anywhere; no one-shot digests and no raw
# json_dumps; the layering of docs/architecture.md (libevent, PKCS#11,
# libcurl each in their place); HTTP statuses only in the broker's problem
# table and its one sender; no realloc in hsm/ (buffers there may hold
# secrets); an SPDX line at the top of every C file.
set -eu
top="${1:-$(cd "$(dirname "$0")/.." && pwd)}"
cd "$top"
files=$(find common hsm audit broker attester tools verifier-client tests -name '*.[ch]' | sort)
bad=0
for f in $files; do
	if grep -nE '(^|[^a-z_])(sprintf|strcpy|strcat|atoi|gets)[[:space:]]*\(' "$f" |
		grep -vE '(snprintf|vsnprintf)' ; then
		echo "checksrc: $f: banned function" >&2
		bad=1
	fi
	head -n 2 "$f" | grep -q 'SPDX-License-Identifier' ||
		{ echo "checksrc: $f: no SPDX line" >&2; bad=1; }
done
# One-shot digests return NULL on failure and leave their output unwritten:
# kw_sha256/kw_sha384 (common/kw_util.h) report it.
src=$(echo "$files" | grep -v '^tests/')
for f in $src; do
	if grep -nE '(^|[^a-z_A-Z])(SHA1|SHA224|SHA256|SHA384|SHA512|MD5)[[:space:]]*\(' "$f" |
		grep -vE '^[0-9]+:[[:space:]]*(/?\*)'; then
		echo "checksrc: $f: one-shot digest (use kw_sha256/kw_sha384)" >&2
		bad=1
	fi
done
# jansson may return a damaged serialization when an allocation fails.
for f in $(echo "$src" | grep -v '^common/kw_json.c$'); do
	if grep -nE '(^|[^a-z_])json_dumps[[:space:]]*\(' "$f"; then
		echo "checksrc: $f: json_dumps (use kw_json_dumps)" >&2
		bad=1
	fi
done
# Layering (docs/architecture.md): libevent only in broker/ and the HSM
# client; PKCS#11 only in the helper's hsm_p11* and in hsm_uri* (p11-kit's URI
# API takes PKCS#11 structs; it loads no module and holds no handle); libcurl only in attester/
# and tools/ (clients of the broker) and in verifier-client/tdx/tdx_pcs.c,
# the one collateral fetcher (Intel PCS / PCCS), which the broker calls as a
# library from its own thread and worker threads: the broker's event loop
# never waits on it, and no other verifier file may reach the network.
for f in $files; do
	case "$f" in
	broker/*|hsm/hsm_client.[ch]|hsm/kwhsm-bench.c|tests/*) ;;
	*) if grep -nE '#include <event2/' "$f"; then
		echo "checksrc: $f: libevent outside broker/ and the HSM client" >&2; bad=1; fi ;;
	esac
	case "$f" in
	hsm/hsm_p11*|hsm/hsm_uri*|tests/*) ;;
	*) if grep -nE '#include <(p11-kit/)?pkcs11' "$f"; then
		echo "checksrc: $f: PKCS#11 outside hsm/hsm_p11*" >&2; bad=1; fi ;;
	esac
	case "$f" in
	attester/*|tools/*|verifier-client/tdx/tdx_pcs.c|verifier-client/kw_ocsp.c|tests/*) ;;
	*) if grep -nE '#include <curl/' "$f"; then
		echo "checksrc: $f: libcurl outside attester/, tools/, verifier-client/tdx/tdx_pcs.c and verifier-client/kw_ocsp.c (keywarden-pcs.so)" >&2; bad=1; fi ;;
	esac
done
# HTTP answers (docs/architecture.md, "Errors"): every error status, type
# slug and Retry-After is a row of broker/problem.c, and every response
# leaves through send_body() in broker/http.c. Elsewhere in broker/: no
# evhttp_send_reply/evhttp_send_error, no literal status given to
# kw_http_problem or as an error to kw_http_json_status, no problem type
# URN and no Retry-After header.
for f in $(echo "$src" | grep '^broker/.*\.c$'); do
	hits=$(grep -nE 'evhttp_send_(reply|error)|kw_http_problem(_from_err)?[[:space:]]*\([^,]*,[[:space:]]*[0-9]|kw_http_json_status[[:space:]]*\([^,]*,[[:space:]]*[45][0-9][0-9]|"urn:keywarden:problem:|"Retry-After"' "$f" |
		grep -vE '^[0-9]+:[[:space:]]*(/?\*|//)' || true)
	case "$f" in
	broker/http.c)
		# sending only in send_body(), Retry-After only in kw_http_problem_ext()
		# (a function starts at a line "name(")
		hits=$(awk '/^[a-z_][a-z0-9_]*\(/ { fn = $0; sub(/\(.*/, "", fn) }
			/evhttp_send_(reply|error)/ && fn != "send_body" { print FNR ":" $0 }
			/"Retry-After"/ && fn != "kw_http_problem_ext" { print FNR ":" $0 }
			/"urn:keywarden:problem:/ { print FNR ":" $0 }' "$f") ;;
	broker/problem.c) hits=$(echo "$hits" | grep -v '"urn:keywarden:problem:' || true) ;;
	esac
	if [ -n "$hits" ]; then
		echo "$hits"
		echo "checksrc: $f: an HTTP status or response outside the problem table (broker/problem.c) and http.c's send_body" >&2
		bad=1
	fi
done
# Magic sizes: a base64url SHA-256 (kid, jkt, ath) is KW_B64URL_SHA256_SIZE.
for f in $src; do
	if grep -nE '\[(static )?4[34]\]' "$f"; then
		echo "checksrc: $f: magic size 43/44 (use KW_B64URL_SHA256_LEN/_SIZE)" >&2
		bad=1
	fi
done
for f in $(find hsm -name '*.c'); do
	if grep -nE '(^|[^a-z_])realloc[[:space:]]*\(' "$f"; then
		echo "checksrc: $f: realloc in hsm/" >&2
		bad=1
	fi
done
n=$(echo "$files" | wc -l)
if [ "$bad" -ne 0 ]; then
	echo "checksrc: problems found in $n files" >&2
	exit 1
fi
echo "checksrc: $n files clean"
