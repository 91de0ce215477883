#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Install the Debian 12 packages keywarden needs to build, run and test.
# Runs apt-get only when something is missing (needs root then).
set -eu
pkgs="build-essential meson ninja-build pkg-config openssl libssl-dev libevent-dev
libjansson-dev libcurl4-openssl-dev libsqlite3-dev libpq-dev postgresql libcunit1-dev libp11-kit-dev p11-kit p11-kit-modules softhsm2 libsofthsm2
opensc gnutls-bin python3 python3-jwcrypto python3-jsonschema python3-prometheus-client python3-yaml curl clang libclang-rt-14-dev
libcbor-dev libtss2-dev libxmlsec1-dev swtpm swtpm-tools tpm2-tools chromium
cryptsetup-bin debhelper initramfs-tools-core
groff-base man-db scdoc
keyutils libkeyutils-dev"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "keywarden: installing Debian packages:$missing"
	if [ "$(id -u)" -ne 0 ]; then
		echo "keywarden: run as root (or install these packages first)" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
