#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Measure keywarden's performance targets (docs/performance.md): a release
# build without test hooks in build-perf/, then scripts/perf.py (kwbench
# closed and open loop, boot storm), results and plots in docs/perf/.
# Arguments go to scripts/perf.py (e.g. --flows 4000 --long 100000).
set -eu
top="$(cd "$(dirname "$0")/.." && pwd)"
sh "$top/scripts/install-deps.sh"
if ! /usr/bin/python3 -c 'import matplotlib' 2>/dev/null; then
	if [ "$(id -u)" -eq 0 ]; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-matplotlib >/dev/null
	else
		echo "perf.sh: python3-matplotlib is missing (plots are skipped)" >&2
		set -- "$@" --no-plots
	fi
fi
if [ ! -f "$top/build-perf/build.ninja" ]; then
	meson setup "$top/build-perf" "$top" --buildtype=release -Dtest_hooks=false -Dintegration=enabled >/dev/null
fi
ninja -C "$top/build-perf" >/dev/null
ulimit -n 65536 2>/dev/null || ulimit -n 20000 2>/dev/null || true
exec /usr/bin/python3 "$top/scripts/perf.py" --build "$top/build-perf" "$@"
