#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# test-pg.sh: the integration tests again against PostgreSQL (suite
# integration-pg: each broker on a fresh database of a throwaway cluster,
# KW_TEST_STORE=postgresql, docs/store.md), in the gcc build of
# scripts/test.sh (build-test; configured and built here when missing).
# .ci/run runs it after scripts/test.sh. Not under ASan (time).
# Ends with one line "tests-pg: N passed, N failed".
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
dir="$top/build-test"
vectors="${KW_VECTORS:-$top/../shared/vectors}"
if [ ! -f "$dir/build.ninja" ]; then
	sh scripts/install-deps.sh
	vectors=$(cd "$vectors" && pwd)
	meson setup "$dir" -Dvectors="$vectors" -Dtest_hooks=true --buildtype=release \
		-Dwerror=true -Dintegration=enabled >"$dir.setup.log" 2>&1 ||
		{ cat "$dir.setup.log"; exit 1; }
fi
ninja -C "$dir" >"$dir.build.log" 2>&1 || { tail -n 60 "$dir.build.log"; exit 1; }
status=0
meson test -C "$dir" --no-rebuild --print-errorlogs --setup pg --suite integration-pg \
	--timeout-multiplier "${KW_TIMEOUT_MULTIPLIER:-1}" || status=1
/usr/bin/python3 - "$dir/meson-logs/testlog-pg.json" <<'PY'
import json, sys
p = f = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("result") in ("OK", "EXPECTEDFAIL"):
        p += 1
    else:
        f += 1
print("tests-pg: %d passed, %d failed" % (p, f))
sys.exit(1 if f or not p else 0)
PY
[ "$status" -eq 0 ]
