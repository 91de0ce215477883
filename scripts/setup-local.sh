#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# setup-local.sh RUNDIR [PORT]: lay out everything a local keywarden needs in
# RUNDIR (idempotent):
#   softhsm2.conf, tokens/   a project-local SoftHSM2 token "keywarden"
#                            (reset_on_fork = true), SO PIN and user PIN random
#   hsm.pin                  the user PIN (0600), read only by keywarden-hsm
#   tls/                     loopback CA + server certificate (scripts/mk-tls.sh)
#   emu/                     emulation ARK/ASK/VCEK chain (scripts/mk-emu-chain.sh)
#   tdx-emu/                 TDX emulation set, NOT INTEL (scripts/mk-tdx-emu.sh)
#   tdx-collateral/          the broker's offline TDX collateral directory (empty here:
#                            `kwget --emulate tdx --emu-dir tdx-emu --emu-collateral-out
#                            tdx-collateral/emu.json` writes the emulated platform's;
#                            scripts/demo.sh does)
#   tls/admin-ca.pem, tls/demo-admin.{pem,key}
#                            the admin CA and a client certificate CN=demo-admin
#                            (all roles on every repository)
#   keywarden.json           broker configuration trusting the emulation roots, with
#                            the workload listener on PORT and the admin listener on
#                            PORT+1, state in keywarden.db
#   kwctl.json               a kwctl profile for demo-admin
#   demo-policy.json, demo-policy-tdx.json
#                            the demo policies: the emulated SNP guest's measurement; the
#                            emulated TD's MRTD with TCB status UpToDate
set -eu
[ $# -ge 1 ] || { echo "usage: setup-local.sh RUNDIR [PORT]" >&2; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
run="$1"
port="${2:-8443}"
mkdir -p "$run"
run=$(cd "$run" && pwd)
umask 077

if [ ! -f "$run/softhsm2.conf" ]; then
	mkdir -p "$run/tokens"
	cat > "$run/softhsm2.conf" <<CONF
# keywarden's own SoftHSM2 configuration (see PKCS11.md pitfalls 3-4)
directories.tokendir = $run/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
library.reset_on_fork = true
CONF
fi
if [ ! -f "$run/hsm.pin" ]; then
	od -An -N12 -tx1 /dev/urandom | tr -d ' \n' > "$run/hsm.pin"
	od -An -N12 -tx1 /dev/urandom | tr -d ' \n' > "$run/hsm.so-pin"
	SOFTHSM2_CONF="$run/softhsm2.conf" softhsm2-util --init-token --free --label keywarden \
		--so-pin "$(cat "$run/hsm.so-pin")" --pin "$(cat "$run/hsm.pin")" >/dev/null
fi
chmod 600 "$run/hsm.pin" "$run/hsm.so-pin"
sh "$here/mk-tls.sh" "$run/tls"
[ -f "$run/tls/demo-admin.pem" ] || sh "$here/mk-admin-cert.sh" "$run/tls" demo-admin
admin_port=$((port + 1))
[ -f "$run/emu/emu.json" ] || sh "$here/mk-emu-chain.sh" "$run/emu" >/dev/null
measurement=$(sed -n 's/.*"measurement"[ ]*:[ ]*"\([0-9a-f]*\)".*/\1/p' "$run/emu/emu.json")
[ -n "$measurement" ] || { echo "setup-local.sh: no measurement in emu.json" >&2; exit 1; }
[ -f "$run/tdx-emu/emu.json" ] || sh "$here/mk-tdx-emu.sh" --force "$run/tdx-emu" 2>/dev/null
mrtd=$(sed -n 's/.*"mrtd"[ ]*:[ ]*"\([0-9a-f]*\)".*/\1/p' "$run/tdx-emu/emu.json")
[ -n "$mrtd" ] || { echo "setup-local.sh: no mrtd in tdx-emu/emu.json" >&2; exit 1; }
mkdir -p "$run/tdx-collateral"
if [ ! -f "$run/keywarden.json" ]; then
	cat > "$run/keywarden.json" <<CONF
{
  "listen": "127.0.0.1:$port",
  "tls": {"certificate": "tls/server.pem", "private_key": "tls/server.key", "min_version": "1.3"},
  "hsm": {
    "module": "/usr/lib/softhsm/libsofthsm2.so",
    "token": "keywarden",
    "pin_file": "hsm.pin",
    "softhsm2_conf": "softhsm2.conf"
  },
  "snp": {
    "test_roots": ["emu/ark.pem"],
    "cert_chains": ["emu/cert_chain.pem"]
  },
  "tdx": {
    "test_roots": ["tdx-emu/root.pem"],
    "collateral": {"mode": "offline", "dir": "tdx-collateral"}
  },
  "nonce_ttl": 60,
  "token": {"ttl": 300},
  "dpop": {"iat_window": 60, "nonce_ttl": 300},
  "workers": 2,
  "log_level": "info",
  "store": {"path": "keywarden.db"},
  "admin": {
    "listen": "127.0.0.1:$admin_port",
    "certificate": "tls/server.pem",
    "private_key": "tls/server.key",
    "client_ca": "tls/admin-ca.pem",
    "grants": [
      {"subject": "demo-admin", "role": "key-admin", "repositories": ["*"]},
      {"subject": "demo-admin", "role": "policy-admin", "repositories": ["*"]},
      {"subject": "demo-admin", "role": "auditor", "repositories": ["*"]}
    ]
  }
}
CONF
fi
chmod 644 "$run/keywarden.json"
if [ ! -f "$run/kwctl.json" ]; then
	cat > "$run/kwctl.json" <<CONF
{"url": "https://127.0.0.1:$admin_port", "cacert": "tls/ca.pem",
 "cert": "tls/demo-admin.pem", "key": "tls/demo-admin.key"}
CONF
fi
# the demo policy: the emulated guest's measurement (written for scripts/demo.sh)
if [ ! -f "$run/demo-policy.json" ]; then
	printf '{"version": 1, "allow_test_roots": true, "reference_values": {"measurements": [{"value": "%s", "name": "emulated demo guest"}]}}\n' "$measurement" \
		> "$run/demo-policy.json"
fi
if [ ! -f "$run/demo-policy-tdx.json" ]; then
	printf '{"version": 1, "allow_test_roots": true,\n "rules": {"allOf": [{"claim": "tee", "op": "equals", "value": "tdx"},\n                    {"claim": "tcb_status", "op": "in", "value": ["UpToDate"]}]},\n "reference_values": {"mrtd": [{"value": "%s", "name": "emulated demo TD"}]}}\n' "$mrtd" \
		> "$run/demo-policy-tdx.json"
fi
