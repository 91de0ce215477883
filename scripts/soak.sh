#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# soak.sh [MINUTES] [BUILD_DIR]: legitimate workloads against a real broker
# under a connection flood, a garbage-evidence flood and a DPoP jti flood for
# MINUTES (default 30); prints legitimate-flow results, RSS growth of
# keywarden and keywarden-hsm, and the flood counters (scripts/soak.py).
# Not part of CI. The figures of a run are in docs/reliability.md (Soak).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
minutes="${1:-30}"
build="${2:-$top/build}"
sh "$top/scripts/install-deps.sh"
if [ ! -f "$build/build.ninja" ]; then
	meson setup "$build" --buildtype=release >/dev/null
fi
ninja -C "$build" >/dev/null
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
KW_BUILD_ROOT="$build" exec /usr/bin/python3 "$top/scripts/soak.py" --minutes "$minutes" \
	--json "${KW_SOAK_JSON:-$build/soak.json}"
