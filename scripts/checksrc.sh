#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# checksrc.sh [SOURCE_ROOT]: curl-style source checks (STYLE.md): no sprintf,
# strcpy, strcat, atoi or gets anywhere; no realloc in hsm/ (buffers there may
# hold secrets); an SPDX line at the top of every C file.
set -eu
top="${1:-$(cd "$(dirname "$0")/.." && pwd)}"
cd "$top"
files=$(find common hsm broker attester tools verifier-client tests -name '*.[ch]' | sort)
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
