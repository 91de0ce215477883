#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Show keywarden-hsm memory with and without PKCS#11 recycling.
#
# usage: scripts/hsm-rss.sh [BUILD_DIR] [COUNT]
#   BUILD_DIR  a configured and built meson build directory (default ./build);
#              this script builds nothing.
#   COUNT      releases per run (default 100000)
#
# Sets up a throw-away SoftHSM2 token in a temp dir and drives COUNT
# RSA-3072 releases (64 in flight) through hsm/kwhsm-bench twice: with the
# default recycling (every 5000 releases) and with --recycle-after 0 (never).
# SoftHSM 2.6.1 never frees destroyed session objects before C_Finalize
# (docs/shared PKCS11.md 6.1), so the second run grows.
set -eu

build=${1:-./build}
count=${2:-100000}
module=${KW_PKCS11_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
helper=$build/hsm/keywarden-hsm
bench=$build/hsm/kwhsm-bench

for f in "$helper" "$bench"; do
	if [ ! -x "$f" ]; then
		echo "hsm-rss: $f not found; build first (ninja -C $build)" >&2
		exit 1
	fi
done
command -v softhsm2-util >/dev/null || { echo "hsm-rss: softhsm2-util missing" >&2; exit 1; }

tmp=$(mktemp -d /tmp/kwhsm-rss.XXXXXX)
trap 'rm -rf "$tmp"' EXIT INT TERM
mkdir "$tmp/tokens"
cat >"$tmp/softhsm2.conf" <<CONF
directories.tokendir = $tmp/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
library.reset_on_fork = true
CONF
umask 077
printf '5678\n' >"$tmp/pin"
SOFTHSM2_CONF=$tmp/softhsm2.conf softhsm2-util --init-token --free --label kwrss \
	--so-pin 1234 --pin 5678 >/dev/null

run() {
	echo "== recycle-after $1 =="
	"$bench" --helper "$helper" --module "$module" --token kwrss --pin-file "$tmp/pin" \
		--conf "$tmp/softhsm2.conf" --recycle-after "$1" --count "$count" \
		--inflight 64 --every 10000
}

run 5000
run 0
