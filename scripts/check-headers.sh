#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# check-headers.sh SOURCE_ROOT BUILD_ROOT [CC]: every header of the tree
# compiles on its own (it includes what it uses; dav1d's header_test idea):
# a translation unit that includes only that header, with warnings as errors.
set -eu
top="$1"; build="$2"; cc="${3:-cc}"
cd "$top"
incs=""
for d in common hsm audit verifier-client verifier-client/snp verifier-client/tdx verifier-client/tpm verifier-client/cca verifier-client/nvgpu broker attester tools; do incs="$incs -I$top/$d"; done
flags="$(pkg-config --cflags jansson libcrypto libssl libevent p11-kit-1 libcurl sqlite3 tss2-mu 2>/dev/null || true)"
bad=0; n=0
for h in $(find common hsm audit verifier-client broker attester tools -name '*.h' | sort); do
	n=$((n + 1))
	if ! printf '#include "%s"\n' "$(basename "$h")" |
		$cc -fsyntax-only -std=gnu17 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-function \
			$incs -I"$build" $flags -x c - 2>"$build/check-headers.err"; then
		echo "check-headers: $h does not compile on its own:" >&2
		head -n 5 "$build/check-headers.err" >&2
		bad=1
	fi
done
rm -f "$build/check-headers.err"
[ "$bad" -eq 0 ] || exit 1
echo "check-headers: $n headers compile on their own"
