#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# demo.sh [start|stop|status]: README command one. Installs what is missing,
# builds, sets up a project-local SoftHSM2 token, TLS and the emulation sets
# (SNP chain, TDX NOT INTEL set and its collateral) in ./run, starts keywarden
# (which starts keywarden-hsm), and runs kwget as an emulated workload that
# attests and receives the demo key: SEV-SNP by default, Intel TDX with
# KW_TEE=tdx.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
run="$top/run"
build="$top/build"
port="${KW_PORT:-8443}"
tee="${KW_TEE:-snp}"
cmd="${1:-start}"
case "$tee" in
snp) tee_name="SEV-SNP"; policy=demo-policy; resource=demo/key/disk; emu="$run/emu" ;;
tdx) tee_name="Intel TDX"; policy=demo-policy-tdx; resource=demo/key/tdx-disk; emu="$run/tdx-emu" ;;
*) echo "demo.sh: KW_TEE must be snp or tdx" >&2; exit 1 ;;
esac

stop() {
	if [ -f "$run/keywarden.pid" ] && kill -0 "$(cat "$run/keywarden.pid")" 2>/dev/null; then
		kill "$(cat "$run/keywarden.pid")"
		echo "keywarden stopped."
	else
		echo "keywarden is not running."
	fi
	rm -f "$run/keywarden.pid"
}

case "$cmd" in
stop) stop; exit 0 ;;
status)
	if [ -f "$run/keywarden.pid" ] && kill -0 "$(cat "$run/keywarden.pid")" 2>/dev/null; then
		echo "keywarden is running (pid $(cat "$run/keywarden.pid")); log: $run/keywarden.log"
	else
		echo "keywarden is not running."
	fi
	exit 0 ;;
start) ;;
*) echo "usage: scripts/demo.sh [start|stop|status]" >&2; exit 1 ;;
esac

echo "==> 1/5 Debian packages"
sh scripts/install-deps.sh
echo "==> 2/5 build (meson + ninja) in $build"
[ -f "$build/build.ninja" ] || meson setup "$build" --buildtype=debugoptimized -Dtests=true >/dev/null
ninja -C "$build" >/dev/null
echo "==> 3/5 SoftHSM2 token, TLS certificates, emulation SNP chain and TDX set in $run"
sh scripts/setup-local.sh "$run" "$port"
if ! grep -q '"tdx"' "$run/keywarden.json"; then
	echo "demo.sh: $run/keywarden.json predates TDX; remove it (scripts/demo.sh stop && rm $run/keywarden.json) and run again" >&2
	exit 1
fi
# the emulated TD's collateral (NOT INTEL), valid 30 days: renewed when older than 20
if [ -z "$(find "$run/tdx-collateral" -name emu.json -mtime -20 2>/dev/null)" ]; then
	rm -f "$run/tdx-collateral/emu.json"
	"$build/attester/kwget" --quiet --emulate tdx --emu-dir "$run/tdx-emu" \
		--emu-collateral-out "$run/tdx-collateral/emu.json"
fi

echo "==> 4/5 starting keywarden on https://127.0.0.1:$port (admin: https://127.0.0.1:$((port + 1)))"
[ -f "$run/keywarden.pid" ] && stop >/dev/null
"$build/broker/keywarden" --config "$run/keywarden.json" >>"$run/keywarden.log" 2>&1 &
echo $! > "$run/keywarden.pid"
i=0
until curl -sf --cacert "$run/tls/ca.pem" "https://127.0.0.1:$port/healthz" >/dev/null 2>&1; do
	i=$((i + 1))
	if [ $i -gt 100 ] || ! kill -0 "$(cat "$run/keywarden.pid")" 2>/dev/null; then
		echo "keywarden did not start; last log lines:" >&2
		tail -n 20 "$run/keywarden.log" >&2
		exit 1
	fi
	sleep 0.1
done
grep -E "release profile|admin listener" "$run/keywarden.log" | tail -n 2 | sed 's/^/    broker: /'

echo "==> admin (kwctl, mutual TLS as demo-admin): a policy and a key generated inside the HSM"
export KWCTL_PROFILE="$run/kwctl.json"
"$build/tools/kwctl" policy put "demo/$policy" --file "$run/$policy.json" >/dev/null
if "$build/tools/kwctl" key show "$resource" >/dev/null 2>&1; then
	echo "    key $resource exists already"
else
	"$build/tools/kwctl" key create "$resource" --algorithm aes-256 --policy "$policy" |
		sed 's/^/    /'
fi

echo "==> 5/5 kwget: an emulated $tee_name workload attests and asks for $resource"
rm -f "$run/demo-disk.key"
"$build/attester/kwget" --url "https://127.0.0.1:$port" --cacert "$run/tls/ca.pem" \
	--emulate "$tee" --emu-dir "$emu" --resource "$resource" --out "$run/demo-disk.key"
echo
echo "The workload received the key: $run/demo-disk.key ($(wc -c < "$run/demo-disk.key") bytes, mode $(stat -c %a "$run/demo-disk.key"))."
echo "It travelled as a JWE encrypted to the workload's own RSA key; the broker never held it in the clear."
echo
echo "keywarden keeps running (pid $(cat "$run/keywarden.pid")); its log is $run/keywarden.log."
echo "Administer it with:  KWCTL_PROFILE=$run/kwctl.json build/tools/kwctl --help"
echo "Stop it with:   scripts/demo.sh stop"
echo "Clean up with:  scripts/demo.sh stop && rm -rf run build"
