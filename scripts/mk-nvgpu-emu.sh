#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# mk-nvgpu-emu.sh: create an EMULATION device certificate chain shaped like
# NVIDIA's GPU chain (Device Identity CA -> GH100 Identity -> GSP FMC leaf),
# for kwget --emu-gpus and for broker tests. Nothing here is NVIDIA's: every
# subject says "NOT NVIDIA" and O=keywarden emulation (NOT NVIDIA), and a
# broker accepts this root only when its configuration names it
# (nvgpu.test_roots).
#
# Usage: mk-nvgpu-emu.sh [--force] DIR
#
# Writes into DIR (all EC P-384, ECDSA-SHA384, valid from now for 10 years):
#   root.pem            self-signed root, CN=NOT NVIDIA Device Identity CA
#   ica.pem             intermediate signed by the root, CN=NOT NVIDIA GH100 Identity
#   leaf0.pem .. leaf7.pem  one device leaf per emulated GPU, signed by the ICA,
#                       CN=NOT NVIDIA GH100 GSP FMC LF <i>
#   leaf0.key .. leaf7.key  their private keys (PKCS#8 PEM, mode 0600)
# The root and ICA private keys are discarded.
set -eu

force=0
usage() {
	echo "usage: mk-nvgpu-emu.sh [--force] DIR" >&2
	exit 1
}
while [ $# -gt 0 ]; do
	case "$1" in
	--force) force=1; shift ;;
	-h|--help) usage ;;
	--) shift; break ;;
	-*) usage ;;
	*) break ;;
	esac
done
[ $# -eq 1 ] || usage
dir="$1"
if [ -e "$dir" ] && [ "$force" -ne 1 ]; then
	echo "mk-nvgpu-emu.sh: $dir exists; use --force to replace the chain in it" >&2
	exit 1
fi
command -v openssl >/dev/null || { echo "mk-nvgpu-emu.sh: openssl not found" >&2; exit 1; }

umask 077
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kw-nvgpu-emu.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
org="/O=keywarden emulation (NOT NVIDIA)/C=US"

cat > "$tmp/ext.cnf" <<EOF
[ca]
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
[leaf]
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
EOF

q() { "$@" >"$tmp/cmd.log" 2>&1 || { cat "$tmp/cmd.log" >&2; exit 1; }; }
key() { q openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -pkeyopt ec_param_enc:named_curve -out "$1"; }

key "$tmp/root.key"
q openssl req -x509 -new -key "$tmp/root.key" -subj "$org/CN=NOT NVIDIA Device Identity CA" -days 3650 \
	-sha384 -set_serial 1 -addext "basicConstraints=critical,CA:TRUE" \
	-addext "keyUsage=critical,keyCertSign,cRLSign" -addext "subjectKeyIdentifier=hash" -out "$tmp/root.pem"
key "$tmp/ica.key"
q openssl req -new -key "$tmp/ica.key" -subj "$org/CN=NOT NVIDIA GH100 Identity" -out "$tmp/ica.csr"
q openssl x509 -req -in "$tmp/ica.csr" -CA "$tmp/root.pem" -CAkey "$tmp/root.key" -set_serial 2 \
	-days 3650 -sha384 -extfile "$tmp/ext.cnf" -extensions ca -out "$tmp/ica.pem"
i=0
while [ $i -lt 8 ]; do
	key "$tmp/leaf$i.key"
	q openssl req -new -key "$tmp/leaf$i.key" -subj "$org/CN=NOT NVIDIA GH100 GSP FMC LF $i" \
		-out "$tmp/leaf$i.csr"
	q openssl x509 -req -in "$tmp/leaf$i.csr" -CA "$tmp/ica.pem" -CAkey "$tmp/ica.key" \
		-set_serial $((100 + i)) -days 3650 -sha384 -extfile "$tmp/ext.cnf" -extensions leaf \
		-out "$tmp/leaf$i.pem"
	i=$((i + 1))
done
mkdir -p "$dir"
for f in root.pem ica.pem; do cp "$tmp/$f" "$dir/$f"; done
i=0
while [ $i -lt 8 ]; do
	cp "$tmp/leaf$i.pem" "$dir/leaf$i.pem"
	cp "$tmp/leaf$i.key" "$dir/leaf$i.key"
	chmod 600 "$dir/leaf$i.key"
	i=$((i + 1))
done
chmod 644 "$dir/root.pem" "$dir/ica.pem" "$dir"/leaf?.pem
