#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# pkg-test.sh [DEBDIR]: the package test (docs/packaging.md), run by .ci/run
# after scripts/test.sh. As root:
#   1. builds the packages (scripts/build-deb.sh), unless DEBDIR holds them;
#   2. makes a fresh container-like root: an overlay whose lower layer is this
#      machine's / (read-only) and whose upper layer is a temporary directory,
#      with /proc, /dev, /sys and /tmp bound in; every command in it runs
#      chrooted in a network namespace of its own (loopback only);
#   3. installs the packages there with dpkg -i (their dependencies are this
#      machine's Debian packages), runs systemd-sysusers and systemd-tmpfiles
#      for the package's files and checks the users and directories, checks
#      the installed units with systemd-analyze verify, runs keywarden-setup
#      twice (idempotent: the second run changes nothing), runs the installed
#      initramfs hook, builds attester/examples against libkwattester-dev;
#   4. starts keywarden-hsm and keywarden with the installed units' socket,
#      ExecStartPre= and ExecStart= lines as their User= (scripts/pkg-test-inner.py),
#      registers a key with the installed kwctl, fetches it with the installed
#      kwget (--emulate snp), the example (libkwattester.so.0) and the installed
#      initramfs scripts, and compares each with the registered bytes.
# The only change to the installed files: the test trusts an emulation SNP
# chain (snp.test_roots in /etc/keywarden/keywarden.json of the test root).
# Mounts and processes are cleaned up on every exit path; the whole test is
# bounded by KW_PKG_TEST_TIMEOUT seconds (default 900). Last line:
# "pkg-test: PASS" or "pkg-test: FAIL (...)".
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
limit="${KW_PKG_TEST_TIMEOUT:-900}"
if [ -z "${KW_PKG_TEST_BOUNDED:-}" ]; then
	KW_PKG_TEST_BOUNDED=1 timeout --kill-after=30 "$limit" sh "$0" "$@" && exit 0
	rc=$?
	[ "$rc" -eq 124 ] && echo "pkg-test: FAIL (timed out after $limit s)"
	exit "$rc"
fi
[ "$(id -u)" -eq 0 ] || { echo "pkg-test: FAIL (needs root: overlay mount, chroot)"; exit 1; }

start=$(date +%s)
work=$(mktemp -d /tmp/kwpkg.XXXXXX)
M="$work/root"
mounted=""
result="FAIL (unexpected exit)"

cleanup() {
	rc=$?
	trap - EXIT INT TERM
	# processes whose root is the test root were started by this test
	for p in /proc/[0-9]*; do
		if [ "$(readlink "$p/root" 2>/dev/null)" = "$M" ]; then
			kill -KILL "${p#/proc/}" 2>/dev/null || true
		fi
	done
	for m in $mounted; do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || echo "pkg-test: cannot unmount $m" >&2
	done
	if [ -n "${KW_PKG_TEST_KEEP:-}" ]; then
		echo "pkg-test: kept $work"
	else
		rm -rf "$work"
	fi
	[ "$rc" -eq 0 ] || echo "pkg-test: logs were in $work (see above)"
	echo "pkg-test: $result ($(( $(date +%s) - start )) s)"
	exit "$rc"
}
trap cleanup EXIT
trap 'result="FAIL (interrupted)"; exit 130' INT TERM

fail() { result="FAIL ($*)"; exit 1; }
in_root() { unshare --net chroot "$M" "$@"; }

# --- 1. packages
debs="${1:-}"
if [ -z "$debs" ]; then
	debs="$work/debs"
	echo "pkg-test: building the packages"
	t0=$(date +%s)
	sh "$top/scripts/build-deb.sh" "$debs" >/dev/null || fail "package build"
	echo "pkg-test: packages built in $(( $(date +%s) - t0 )) s"
fi
set -- "$debs"/keywarden_*.deb "$debs"/keywarden-tools_*.deb "$debs"/kwget_*.deb \
	"$debs"/libkwattester0_*.deb "$debs"/libkwattester-dev_*.deb
for d; do [ -f "$d" ] || fail "missing package $d"; done
mkdir -p "$work/pkgs"
cp "$@" "$work/pkgs/"

# --- 2. the test root
mkdir -p "$work/upper" "$work/overlay-work" "$M"
mount -t overlay overlay -o "lowerdir=/,upperdir=$work/upper,workdir=$work/overlay-work" "$M" ||
	fail "overlay mount"
mounted="$M"
for d in proc dev sys tmp; do
	mount --bind "/$d" "$M/$d" || fail "bind /$d"
	mounted="$M/$d $mounted"
done
# /run is a tmpfs of its own, as on a booted system (kwget --require-tmpfs)
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs "$M/run" || fail "tmpfs on /run"
mounted="$M/run $mounted"
# a fresh root: none of what the packages bring may be there already
for f in /usr/bin/keywarden /usr/bin/kwctl /usr/bin/kwget /etc/keywarden /var/lib/keywarden; do
	[ ! -e "$M$f" ] || fail "$f exists on this machine: the test root would not be fresh"
done
for f in passwd group shadow gshadow; do
	[ -f "$M/etc/$f" ] && sed -i '/^keywarden\(-hsm\)\{0,1\}:/d' "$M/etc/$f"
done
# no service starts from maintainer scripts in here
printf '#!/bin/sh\nexit 101\n' > "$M/usr/sbin/policy-rc.d"
chmod 755 "$M/usr/sbin/policy-rc.d"

# --- 3. install, users, directories, units, setup
echo "pkg-test: dpkg -i $(cd "$work/pkgs" && echo *.deb)"
in_root dpkg -i "$work"/pkgs/*.deb > "$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; fail "dpkg -i"; }
for p in keywarden keywarden-tools kwget libkwattester0 libkwattester-dev; do
	[ "$(in_root dpkg-query -W -f='${Status}' "$p")" = "install ok installed" ] || fail "$p not installed"
done
# the man pages render from their packages, the completion scripts are where bash looks
for m in man8/keywarden.8 man8/keywarden-hsm.8 man5/keywarden.json.5 man1/kwctl.1 man1/kwget.1; do
	in_root man -l "/usr/share/man/$m.gz" 2>&1 | grep -q "^NAME" || fail "man page $m"
done
for c in kwctl kwget; do
	[ -s "$M/usr/share/bash-completion/completions/$c" ] || fail "bash completion for $c missing"
done
in_root systemd-sysusers /usr/lib/sysusers.d/keywarden.conf || fail "systemd-sysusers"
in_root systemd-tmpfiles --create /usr/lib/tmpfiles.d/keywarden.conf || fail "systemd-tmpfiles"
check_path() { # PATH MODE OWNER:GROUP
	got=$(in_root stat -c '%a %U:%G' "$1") || fail "$1 missing"
	[ "$got" = "$2 $3" ] || fail "$1 is $got, expected $2 $3"
}
for u in keywarden keywarden-hsm; do
	in_root getent passwd "$u" >/dev/null || fail "user $u missing after systemd-sysusers"
done
in_root id -nG keywarden | grep -qw keywarden-hsm && fail "keywarden is in group keywarden-hsm"
check_path /var/lib/keywarden 700 keywarden:keywarden
check_path /var/lib/keywarden-hsm/tokens 700 keywarden-hsm:keywarden-hsm
check_path /etc/keywarden 750 root:keywarden
check_path /etc/keywarden/keywarden.json 640 root:keywarden
check_path /etc/keywarden-hsm 750 root:keywarden-hsm
echo "pkg-test: users keywarden, keywarden-hsm and their directories as documented"
in_root systemd-analyze verify /lib/systemd/system/keywarden-hsm.socket \
	/lib/systemd/system/keywarden-hsm.service /lib/systemd/system/keywarden.service \
	> "$work/verify.log" 2>&1 || { cat "$work/verify.log"; fail "systemd-analyze verify"; }
echo "pkg-test: systemd-analyze verify: the installed units are clean"

in_root keywarden-setup --help | grep -q '^usage: keywarden-setup' || fail "keywarden-setup --help"
in_root keywarden-setup > "$work/setup.log" 2>&1 || { cat "$work/setup.log"; fail "keywarden-setup"; }
check_path /etc/keywarden-hsm/hsm.pin 400 keywarden-hsm:keywarden-hsm
check_path /etc/keywarden/tls/server.key 640 root:keywarden
check_path /etc/keywarden/admin/keywarden-admin.key 600 root:root
check_path /etc/keywarden/kwctl.json 600 root:root
snap() { (cd "$M" && sha256sum etc/keywarden-hsm/hsm.pin etc/keywarden/tls/* etc/keywarden/admin/* \
	etc/keywarden/kwctl.json && find var/lib/keywarden-hsm/tokens -type f | sort); }
before=$(snap)
in_root keywarden-setup --quiet > "$work/setup2.log" 2>&1 || { cat "$work/setup2.log"; fail "keywarden-setup, second run"; }
[ "$before" = "$(snap)" ] || fail "a second keywarden-setup changed the material"
[ -s "$work/setup2.log" ] && { cat "$work/setup2.log"; fail "keywarden-setup --quiet printed something"; }
echo "pkg-test: keywarden-setup made the token, TLS and admin material; a second run kept them"

# --- the initramfs hook of the installed kwget (initramfs-tools-core's hook-functions)
[ -f "$M/usr/share/initramfs-tools/hook-functions" ] ||
	fail "initramfs-tools-core is not installed (scripts/install-deps.sh)"
run_hook() { # DESTDIR
	in_root env DESTDIR="$1" verbose=n version="$(uname -r)" MODULESDIR="/lib/modules/$(uname -r)" \
		CONFDIR=/etc/initramfs-tools sh /usr/share/initramfs-tools/hooks/kwget >> "$work/hook.log" 2>&1
}
run_hook /var/tmp/initramfs-none || fail "initramfs hook without configuration"
[ -z "$(ls -A "$M/var/tmp/initramfs-none" 2>/dev/null)" ] ||
	fail "the initramfs hook added files without a KWGET_INITRAMFS=yes configuration"
printf '%s\n' "KWGET_URL=https://192.0.2.1:8443" "KWGET_CACERT=/etc/keywarden/tls/ca.pem" \
	"KWGET_RESOURCE=disks/key/root" "KWGET_OPTS=" "KWGET_INITRAMFS=yes" > "$M/etc/keywarden/kwget/root_crypt.conf"
run_hook /var/tmp/initramfs || { cat "$work/hook.log"; fail "initramfs hook"; }
ird="$M/var/tmp/initramfs"
[ -x "$ird/usr/bin/kwget" ] || fail "the initramfs hook did not copy kwget"
[ "$(stat -c %a "$ird/etc/keywarden/kwget/root_crypt.conf" 2>/dev/null)" = 600 ] ||
	fail "the initramfs hook did not copy root_crypt.conf (0600)"
[ ! -e "$ird/etc/keywarden/kwget/example.conf" ] || fail "the initramfs hook copied example.conf"
cmp -s "$ird/etc/keywarden/tls/ca.pem" "$M/etc/keywarden/tls/ca.pem" || fail "the initramfs hook did not copy the CA"
# every shared object kwget needs is in the initramfs (copy_exec follows ldd)
for lib in $(in_root ldd /usr/bin/kwget | sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p'); do
	real=$(in_root readlink -f "$lib")
	[ -e "$ird$lib" ] || [ -e "$ird$real" ] || [ -e "$ird/usr$lib" ] || [ -e "$ird/usr$real" ] ||
		fail "the initramfs lacks $lib for kwget"
done
# mkinitramfs makes the merged-/usr links of the tree itself; the hook runs without them
for d in bin lib lib64 sbin; do [ -e "$ird/$d" ] || ln -s "usr/$d" "$ird/$d"; done
in_root chroot /var/tmp/initramfs /usr/bin/kwget --help > "$work/kwget-initramfs.log" 2>&1 ||
	{ cat "$work/kwget-initramfs.log"; fail "kwget does not run inside the initramfs tree"; }
echo "pkg-test: initramfs hook: kwget, its libraries, root_crypt.conf and the CA copied; kwget --help runs in the tree"

# --- 4. the test's one change: trust an emulation SNP chain, then the flow
sh "$top/scripts/mk-emu-chain.sh" "$M/etc/keywarden/emu" >/dev/null || fail "mk-emu-chain.sh"
chmod -R go+rX "$M/etc/keywarden/emu"
/usr/bin/python3 - "$M/etc/keywarden/keywarden.json" <<'PY' || fail "test configuration"
import json, sys
p = sys.argv[1]
cfg = json.load(open(p))
cfg["snp"] = {"test_roots": ["/etc/keywarden/emu/ark.pem"], "cert_chains": ["/etc/keywarden/emu/cert_chain.pem"]}
json.dump(cfg, open(p, "w"), indent=2)
PY
mkdir -p "$work/flow"
cp "$top/scripts/pkg-test-inner.py" "$top/scripts/kw_unitfile.py" "$work/flow/"
# libkwattester-dev and libkwattester0: the example program built against the
# installed header, pkg-config file and library (pkg-test-inner.py runs it)
cp "$top/attester/examples/kwattester-example.c" "$work/flow/"
in_root sh -c "cc -o '$work/flow/kwattester-example' '$work/flow/kwattester-example.c' \
	\$(pkg-config --cflags --libs kwattester)" > "$work/cc.log" 2>&1 ||
	{ cat "$work/cc.log"; fail "building against libkwattester-dev"; }
so=$(in_root ldd "$work/flow/kwattester-example" | sed -n 's/.*libkwattester\.so\.0 => \([^ ]*\) .*/\1/p')
[ -n "$so" ] && in_root dpkg -S "$(in_root readlink -f "$so")" | grep -q '^libkwattester0:' ||
	fail "kwattester-example does not use the installed libkwattester.so.0 (ldd: '$so')"
in_root /usr/bin/python3 "$work/flow/pkg-test-inner.py" /lib/systemd/system "$work/flow" /etc/keywarden/emu ||
	{ echo "--- keywarden-hsm log"; tail -n 30 "$work/flow/keywarden-hsm.log" 2>/dev/null
	  echo "--- keywarden log"; tail -n 30 "$work/flow/keywarden.log" 2>/dev/null
	  fail "broker from the units and the kwget flow"; }
grep -q "listening on the socket passed by systemd" "$work/flow/keywarden-hsm.log" ||
	fail "keywarden-hsm did not take the socket from LISTEN_FDS"
result="PASS"
