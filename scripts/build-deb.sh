#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# build-deb.sh [OUTDIR]: build keywarden's Debian packages (docs/packaging.md)
# from this source tree, offline: the tracked and untracked-but-not-ignored
# files (git ls-files; without git: the tree minus build directories and
# node_modules) are copied to a temporary directory, deploy/debian becomes
# debian/, and `dpkg-buildpackage -us -uc -b` runs there with
# DEB_BUILD_OPTIONS=nocheck (the suite runs from the tree: scripts/test.sh).
# The .deb, .buildinfo and .changes files land in OUTDIR (default
# build-deb/). Needs the Build-Depends of deploy/debian/control
# (scripts/install-deps.sh installs them).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
out="${1:-$top/build-deb}"
mkdir -p "$out"
out=$(cd "$out" && pwd)
version=$(sed -n '1s/^keywarden (\([^)]*\)).*/\1/p' "$top/deploy/debian/changelog")
[ -n "$version" ] || { echo "build-deb.sh: no version in deploy/debian/changelog" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kwdeb.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
src="$tmp/keywarden-$version"
mkdir -p "$src"

cd "$top"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	# files deleted in the work tree but not yet in the index are skipped
	git ls-files -z --cached --others --exclude-standard |
		xargs -0 sh -c 'for f; do [ -e "$f" ] && [ ! -d "$f" ] && printf "%s\0" "$f"; done; :' sh |
		tar --null -T - -cf - | tar -xf - -C "$src"
else
	tar --exclude='./build*' --exclude=node_modules --exclude=./run --exclude=.git \
		-cf - . | tar -xf - -C "$src"
fi
rm -rf "$src/debian"
cp -a "$src/deploy/debian" "$src/debian"

cd "$src"
jobs=$(nproc 2>/dev/null || echo 1)
echo "build-deb.sh: dpkg-buildpackage in $src"
if DEB_BUILD_OPTIONS="nocheck parallel=$jobs${DEB_BUILD_OPTIONS:+ $DEB_BUILD_OPTIONS}" \
	dpkg-buildpackage -us -uc -b >"$tmp/build.log" 2>&1; then :; else
	tail -n 80 "$tmp/build.log" >&2
	echo "build-deb.sh: dpkg-buildpackage failed (full log above, last 80 lines)" >&2
	exit 1
fi
cp "$tmp/build.log" "$out/build.log"
for f in "$tmp"/*.deb "$tmp"/*.buildinfo "$tmp"/*.changes; do
	[ -f "$f" ] && cp "$f" "$out/"
done
ls "$out"/*.deb
