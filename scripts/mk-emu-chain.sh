#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# mk-emu-chain.sh: create an EMULATION certificate chain shaped like AMD's
# SEV-SNP chain (ARK -> ASK -> VCEK), for kwget --emulate snp and for broker
# tests. Nothing here is AMD's: every subject says O=keywarden emulation
# (NOT AMD), and a broker accepts this root only when its configuration names
# it explicitly.
#
# Usage: mk-emu-chain.sh [--force] [--spl BL:TEE:SNP:UCODE] DIR
#
# Writes into DIR:
#   ark.pem         RSA-3072 self-signed root, RSASSA-PSS SHA-384 salt 48, CN=ARK-Milan
#   ask.pem         RSA-3072 intermediate signed by the ARK (PSS), CN=SEV-Milan
#   cert_chain.pem  ASK then ARK (the order AMD KDS serves cert_chain in)
#   vcek.pem        EC P-384 leaf signed by the ASK (PSS), CN=SEV-VCEK, serial 0,
#                   AMD VCEK extensions (1.3.6.1.4.1.3704.1.*) with the SPLs and hwID
#   vcek.key        the VCEK private key (PKCS#8 PEM, mode 0600)
#   emu.json        {"product","chip_id","reported_tcb","measurement"} for kwget
# The ARK and ASK private keys are discarded. Certificates are valid from one
# day ago for 10 years. An existing DIR is refused unless --force is given;
# with --force only the files above are replaced.
# Environment (the test suite's, tests/integration/kwtest.py): KW_EMU_ARK_KEY and
# KW_EMU_ASK_KEY name RSA-3072 private keys (PEM) to certify instead of new ones.
set -eu

force=0
spl="3:0:8:115"
usage() {
	echo "usage: mk-emu-chain.sh [--force] [--spl BL:TEE:SNP:UCODE] DIR" >&2
	exit 1
}
while [ $# -gt 0 ]; do
	case "$1" in
	--force) force=1; shift ;;
	--spl) [ $# -ge 2 ] || usage; spl="$2"; shift 2 ;;
	-h|--help) usage ;;
	--) shift; break ;;
	-*) usage ;;
	*) break ;;
	esac
done
[ $# -eq 1 ] || usage
dir="$1"

# SPLs: four decimal numbers 0..255 (Milan TCB_VERSION bytes 0, 1, 6, 7).
old_ifs=$IFS; IFS=:; set -- $spl; IFS=$old_ifs
[ $# -eq 4 ] || { echo "mk-emu-chain.sh: --spl needs BL:TEE:SNP:UCODE" >&2; exit 1; }
for v in "$@"; do
	case "$v" in ''|*[!0-9]*) echo "mk-emu-chain.sh: bad SPL '$v'" >&2; exit 1 ;; esac
	[ "$v" -le 255 ] || { echo "mk-emu-chain.sh: SPL $v > 255" >&2; exit 1; }
done
bl=$1 tee=$2 snp=$3 ucode=$4

if [ -e "$dir" ] && [ "$force" -ne 1 ]; then
	echo "mk-emu-chain.sh: $dir exists; use --force to replace the chain in it" >&2
	exit 1
fi
command -v openssl >/dev/null || { echo "mk-emu-chain.sh: openssl not found" >&2; exit 1; }

umask 077
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kw-emu-chain.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

start=$(date -u -d '1 day ago' +%Y%m%d%H%M%SZ)
end=$(date -u -d '10 years' +%Y%m%d%H%M%SZ)
org="O=keywarden emulation (NOT AMD)"
dn="/OU=Engineering/C=US/L=Santa Clara/ST=CA/$org"
hwid=$(openssl rand -hex 64)

mkdir "$tmp/newcerts"
: > "$tmp/index.txt"
cat > "$tmp/ca.cnf" <<EOF
[ca]
default_ca = emu
[emu]
database = $tmp/index.txt
new_certs_dir = $tmp/newcerts
serial = $tmp/serial
default_md = sha384
policy = policy_any
unique_subject = no
copy_extensions = none
preserve = yes
email_in_dn = no
[policy_any]
organizationalUnitName = optional
countryName = optional
localityName = optional
stateOrProvinceName = optional
organizationName = optional
commonName = supplied
[req]
distinguished_name = req_dn
prompt = no
[req_dn]
CN = unused
[ext_ark]
subjectKeyIdentifier = hash
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
[ext_ask]
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign
[ext_vcek]
1.3.6.1.4.1.3704.1.1 = ASN1:INTEGER:0
1.3.6.1.4.1.3704.1.2 = ASN1:IA5STRING:Milan-B0
1.3.6.1.4.1.3704.1.3.1 = ASN1:INTEGER:$bl
1.3.6.1.4.1.3704.1.3.2 = ASN1:INTEGER:$tee
1.3.6.1.4.1.3704.1.3.4 = ASN1:INTEGER:0
1.3.6.1.4.1.3704.1.3.5 = ASN1:INTEGER:0
1.3.6.1.4.1.3704.1.3.6 = ASN1:INTEGER:0
1.3.6.1.4.1.3704.1.3.7 = ASN1:INTEGER:0
1.3.6.1.4.1.3704.1.3.3 = ASN1:INTEGER:$snp
1.3.6.1.4.1.3704.1.3.8 = ASN1:INTEGER:$ucode
1.3.6.1.4.1.3704.1.4 = DER:$hwid
EOF

# sign CSR KEY EXT SERIALHEX OUT [selfsign]
sign() {
	echo "$4" > "$tmp/serial"
	self=""
	[ $# -ge 6 ] && self="-selfsign"
	openssl ca -batch -config "$tmp/ca.cnf" $self -notext \
		-keyfile "$2" ${cacert:+-cert "$cacert"} -in "$1" -out "$5" \
		-startdate "$start" -enddate "$end" -extensions "$3" -md sha384 \
		-sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:48 \
		-sigopt rsa_mgf1_md:sha384 >"$tmp/ca.log" 2>&1 ||
		{ cat "$tmp/ca.log" >&2; echo "mk-emu-chain.sh: signing $5 failed" >&2; exit 1; }
}

q() { "$@" >"$tmp/cmd.log" 2>&1 || { cat "$tmp/cmd.log" >&2; exit 1; }; }

# KW_EMU_ARK_KEY, KW_EMU_ASK_KEY: RSA-3072 keys (PEM) to certify instead of new ones
# (the test suite's key cache, tests/integration/kwtest.py: ~0.7 s of CPU per key saved)
for k in ark ask; do
	eval "given=\${KW_EMU_$(echo $k | tr a-z A-Z)_KEY:-}"
	if [ -n "$given" ]; then
		q openssl pkey -in "$given" -out "$tmp/$k.key"
		openssl pkey -in "$tmp/$k.key" -noout -text 2>/dev/null | grep -q '^Private-Key: (3072 bit' ||
			{ echo "mk-emu-chain.sh: $given is not an RSA-3072 key" >&2; exit 1; }
	else
		q openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out "$tmp/$k.key"
	fi
done
q openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 \
	-pkeyopt ec_param_enc:named_curve -out "$tmp/vcek.key"
q openssl req -config "$tmp/ca.cnf" -new -key "$tmp/ark.key" -subj "$dn/CN=ARK-Milan" -out "$tmp/ark.csr"
q openssl req -config "$tmp/ca.cnf" -new -key "$tmp/ask.key" -subj "$dn/CN=SEV-Milan" -out "$tmp/ask.csr"
q openssl req -config "$tmp/ca.cnf" -new -key "$tmp/vcek.key" -subj "$dn/CN=SEV-VCEK" -out "$tmp/vcek.csr"

cacert=""
sign "$tmp/ark.csr" "$tmp/ark.key" ext_ark 010000 "$tmp/ark.pem" selfsign
cacert="$tmp/ark.pem"
sign "$tmp/ask.csr" "$tmp/ark.key" ext_ask 010001 "$tmp/ask.pem"
cacert="$tmp/ask.pem"
sign "$tmp/vcek.csr" "$tmp/ask.key" ext_vcek 00 "$tmp/vcek.pem"

cat "$tmp/ask.pem" "$tmp/ark.pem" > "$tmp/cert_chain.pem"
q openssl verify -x509_strict -CAfile "$tmp/ark.pem" -untrusted "$tmp/ask.pem" "$tmp/vcek.pem"

chip_id=$(echo "$hwid" | tr 'A-F' 'a-f')
measurement=$(printf 'keywarden emulated guest' | openssl dgst -sha384 -r | cut -d' ' -f1)
tcb=$(printf '0x%02x%02x00000000%02x%02x' "$ucode" "$snp" "$tee" "$bl")
cat > "$tmp/emu.json" <<EOF
{
  "product": "Milan",
  "chip_id": "$chip_id",
  "reported_tcb": "$tcb",
  "measurement": "$measurement"
}
EOF

mkdir -p "$dir"
for f in ark.pem ask.pem cert_chain.pem vcek.pem emu.json; do
	chmod 0644 "$tmp/$f"
	mv -f "$tmp/$f" "$dir/$f"
done
chmod 0600 "$tmp/vcek.key"
mv -f "$tmp/vcek.key" "$dir/vcek.key"
echo "mk-emu-chain.sh: emulation chain (NOT AMD) written to $dir" >&2
