#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# mk-tdx-emu.sh: create an EMULATION certificate set shaped like Intel's for
# TDX DCAP quotes (SGX Root CA -> PCK Platform CA -> PCK certificate, and the
# TCB Signing certificate that signs TCB Info and QE identity), for
# emulated TDX evidence (attester/att_tdx_emu.c: att_tdx_emu_load) and broker
# tests. Nothing here is Intel's: every subject says NOT INTEL, and a
# verifier accepts this root only when its configuration names it.
#
# Usage: mk-tdx-emu.sh [--force] [--fmspc HEX12] DIR
#
# Writes into DIR:
#   root.pem          EC P-256 self-signed root, CN=NOT INTEL SGX Root CA
#   pck-ca.pem        PCK Platform CA signed by the root
#   pck.pem           PCK leaf signed by the CA with the SGX extension
#                     (1.2.840.113741.1.13.1: PPID, TCB SVNs, PCESVN, CPUSVN, PCE-ID, FMSPC, SGX type)
#   tcb-signing.pem   TCB Signing certificate signed by the root
#   root.key pck-ca.key pck.key tcb-signing.key   their private keys (PKCS#8 PEM, mode 0600):
#                     the emulation signs quotes (PCK key: the QE report), collateral (TCB
#                     Signing key) and CRLs (root and CA keys) with them
#   emu.json          {"fmspc","pcesvn","sgx_tcb_components","tee_tcb_svn","mrtd","qe_isvsvn"}:
#                     what the emulated platform reports, matching pck.pem
# Certificates are valid from now for 10 years. An existing DIR is
# refused unless --force is given; with --force only the files above are replaced.
set -eu

force=0
fmspc=00906ed50000
usage() {
	echo "usage: mk-tdx-emu.sh [--force] [--fmspc HEX12] DIR" >&2
	exit 1
}
while [ $# -gt 0 ]; do
	case "$1" in
	--force) force=1; shift ;;
	--fmspc) [ $# -ge 2 ] || usage; fmspc="$2"; shift 2 ;;
	-h|--help) usage ;;
	--) shift; break ;;
	-*) usage ;;
	*) break ;;
	esac
done
[ $# -eq 1 ] || usage
dir="$1"
case "$fmspc" in
[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]) ;;
*) echo "mk-tdx-emu.sh: --fmspc needs 12 lower-case hex digits" >&2; exit 1 ;;
esac
if [ -e "$dir" ] && [ "$force" -ne 1 ]; then
	echo "mk-tdx-emu.sh: $dir exists; use --force to replace the set in it" >&2
	exit 1
fi
command -v openssl >/dev/null || { echo "mk-tdx-emu.sh: openssl not found" >&2; exit 1; }

umask 077
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kw-tdx-emu.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
q() { "$@" >"$tmp/cmd.log" 2>&1 || { cat "$tmp/cmd.log" >&2; exit 1; }; }

# The emulated platform: SGX TCB component SVNs 2..9 then zeros, PCESVN 13,
# TEE_TCB_SVN 05 01 02 (module minor SVN 5, module TDX_01), QE ISVSVN 8.
svns="2 3 4 5 6 7 8 9 0 0 0 0 0 0 0 0"
pcesvn=13
cpusvn=$(printf '%02x' $svns)
ppid=$(openssl rand -hex 16)
org="O=NOT INTEL - keywarden emulation"

{
	cat <<CNF
[req]
distinguished_name = req_dn
prompt = no
[req_dn]
CN = unused
[ext_root]
subjectKeyIdentifier = hash
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
[ext_ca]
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
[ext_signing]
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,nonRepudiation
[ext_pck]
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,nonRepudiation
1.2.840.113741.1.13.1 = ASN1:SEQUENCE:sgx_ext
[sgx_ext]
ppid = SEQUENCE:sgx_ppid
tcb = SEQUENCE:sgx_tcb
pceid = SEQUENCE:sgx_pceid
fmspc = SEQUENCE:sgx_fmspc
type = SEQUENCE:sgx_type
[sgx_ppid]
oid = OID:1.2.840.113741.1.13.1.1
val = FORMAT:HEX,OCTETSTRING:$ppid
[sgx_tcb]
oid = OID:1.2.840.113741.1.13.1.2
val = SEQUENCE:sgx_tcb_list
[sgx_pceid]
oid = OID:1.2.840.113741.1.13.1.3
val = FORMAT:HEX,OCTETSTRING:0000
[sgx_fmspc]
oid = OID:1.2.840.113741.1.13.1.4
val = FORMAT:HEX,OCTETSTRING:$fmspc
[sgx_type]
oid = OID:1.2.840.113741.1.13.1.5
val = ENUMERATED:0
[sgx_tcb_list]
CNF
	i=1
	for s in $svns; do echo "c$i = SEQUENCE:sgx_c$i"; i=$((i + 1)); done
	echo "c17 = SEQUENCE:sgx_c17"
	echo "c18 = SEQUENCE:sgx_c18"
	i=1
	for s in $svns; do
		printf '[sgx_c%d]\noid = OID:1.2.840.113741.1.13.1.2.%d\nval = INTEGER:%d\n' "$i" "$i" "$s"
		i=$((i + 1))
	done
	printf '[sgx_c17]\noid = OID:1.2.840.113741.1.13.1.2.17\nval = INTEGER:%d\n' "$pcesvn"
	printf '[sgx_c18]\noid = OID:1.2.840.113741.1.13.1.2.18\nval = FORMAT:HEX,OCTETSTRING:%s\n' "$cpusvn"
} > "$tmp/emu.cnf"

for k in root pck-ca pck tcb-signing; do
	q openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -pkeyopt ec_param_enc:named_curve \
		-out "$tmp/$k.key"
done
q openssl req -config "$tmp/emu.cnf" -new -x509 -key "$tmp/root.key" -sha256 -days 3650 \
	-subj "/$org/CN=NOT INTEL SGX Root CA" -extensions ext_root -set_serial 1 -out "$tmp/root.pem"
# issue KEY CN EXT SERIAL ISSUER
issue() {
	q openssl req -config "$tmp/emu.cnf" -new -key "$tmp/$1.key" -subj "/$org/CN=$2" -out "$tmp/$1.csr"
	q openssl x509 -req -in "$tmp/$1.csr" -CA "$tmp/$5.pem" -CAkey "$tmp/$5.key" -sha256 -days 3650 \
		-extfile "$tmp/emu.cnf" -extensions "$3" -set_serial "$4" -out "$tmp/$1.pem"
}
issue pck-ca "NOT INTEL SGX PCK Platform CA" ext_ca 2 root
issue tcb-signing "NOT INTEL SGX TCB Signing" ext_signing 3 root
issue pck "NOT INTEL SGX PCK Certificate" ext_pck 4 pck-ca
q openssl verify -x509_strict -CAfile "$tmp/root.pem" -untrusted "$tmp/pck-ca.pem" "$tmp/pck.pem"
q openssl verify -x509_strict -CAfile "$tmp/root.pem" "$tmp/tcb-signing.pem"

comps=$(echo $svns | sed 's/ /, /g')
mrtd=$(printf 'keywarden emulated TD' | openssl dgst -sha384 -r | cut -d' ' -f1)
cat > "$tmp/emu.json" <<JSON
{
  "fmspc": "$fmspc",
  "pcesvn": $pcesvn,
  "sgx_tcb_components": [$comps],
  "tee_tcb_svn": "05010200000000000000000000000000",
  "mrtd": "$mrtd",
  "qe_isvsvn": 8
}
JSON

mkdir -p "$dir"
for f in root.pem pck-ca.pem pck.pem tcb-signing.pem emu.json; do
	chmod 0644 "$tmp/$f"
	mv -f "$tmp/$f" "$dir/$f"
done
for f in root.key pck-ca.key pck.key tcb-signing.key; do
	chmod 0600 "$tmp/$f"
	mv -f "$tmp/$f" "$dir/$f"
done
echo "mk-tdx-emu.sh: TDX emulation set (NOT INTEL) written to $dir" >&2
