#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# crash-soak.sh [ROUNDS] [BUILD_DIR]: the long crash-safety run (default 1000
# rounds of start / random admin writes / kill -9 / restart / verify). The
# test suite runs the same test with 60 rounds. KW_CRASH_SEED reproduces a run.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
rounds="${1:-1000}"
build="${2:-$top/build}"
KW_SOURCE_ROOT="$top" KW_BUILD_ROOT="$build" exec /usr/bin/python3 \
	"$top/tests/integration/test_crash.py" --rounds "$rounds"
