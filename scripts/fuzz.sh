#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# fuzz.sh [SECONDS]: build every fuzz target with clang + libFuzzer +
# ASan/UBSan (build-fuzz/) and run each for SECONDS (default 60), starting
# from its committed corpus (copied, so the repository corpus only grows when
# you copy a crash or an interesting input back on purpose). Not part of the
# default suite (scripts/test.sh replays the corpora instead).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
secs="${1:-60}"
sh scripts/install-deps.sh
[ -f build-fuzz/build.ninja ] || CC=clang meson setup build-fuzz -Dfuzzing=libfuzzer \
	-Db_sanitize=address,undefined -Db_lundef=false --buildtype=debugoptimized >/dev/null
ninja -C build-fuzz >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0
for exe in $(find build-fuzz/tests/fuzz -type f -name 'fuzz_*' -perm -u+x | sort); do
	name=$(basename "$exe" | sed 's/^fuzz_//')
	mkdir -p "$work/$name"
	[ -d "tests/fuzz/corpus/$name" ] && cp -r "tests/fuzz/corpus/$name/." "$work/$name/"
	echo "==> fuzz_$name for ${secs}s"
	if ! "$exe" -max_total_time="$secs" -print_final_stats=1 -artifact_prefix="$work/crash-$name-" \
		"$work/$name" >"$work/$name.log" 2>&1; then
		echo "fuzz_$name FAILED; artifacts:"; ls "$work" | grep "crash-$name" || true
		tail -n 40 "$work/$name.log"
		fail=1
	else
		grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$work/$name.log" | sed 's/^/    /'
	fi
done
exit $fail
