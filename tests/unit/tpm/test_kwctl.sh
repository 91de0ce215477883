#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# kwctl evidence verify --tee tpm-akcert against Google's real Shielded-VM vectors (gce-vtpm):
# exit codes, verdicts, claims, reasons. Usage: test_kwctl.sh PATH-TO-KWCTL (KW_VECTORS set by meson test)
set -u
kwctl="$1"
v="${KW_VECTORS:?KW_VECTORS not set}/tpm/gce-vtpm"
[ -x "$kwctl" ] || { echo "FAIL: $kwctl is not an executable" >&2; exit 1; }
[ -d "$v" ] || { echo "FAIL: vector directory $v missing" >&2; exit 1; }
tee=tpm-akcert
measurement=ak_cert_sha256
measurement_len=64
# shellcheck source=../kwctl_expect.sh
. "$(dirname "$0")/../kwctl_expect.sh"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kwctl-tpm.XXXXXX")
trap 'rm -rf "$tmp" "$out" "$out.err"' EXIT INT TERM

n=$v/nonce9009
z=$v/nononce
ca="--ca $v/certs/tpm_ek_intermediate_2.crt --ca $v/certs/tpm_ek_root_1.cer"
# a PCR changed: PCR 0 of the sha256 file
sed '1s/^0 0/0 1/' "$n/pcrs_sha256.txt" >"$tmp/pcrs_changed.txt"
head -c 20000 "$n/event_log.bin" >"$tmp/log_cut.bin"

# shellcheck disable=SC2086
{
expect good-sha256-eventlog 0 verified '"secure_boot": true' -- evidence verify --tee tpm-akcert \
	--quote "$n/quote_sha256.msg" --sig "$n/quote_sha256.sig" --pcrs "$n/pcrs_sha256.txt" \
	--ak-cert "$n/ak_cert.der" $ca --event-log "$n/event_log.bin" --nonce 9009
expect good-kernel 0 verified '"kernel_sha256": "6f6afb3caed004e727200a0c310731bd8ab4cd391b2d95cedf67d08e1e8e5e7e"' -- \
	evidence verify --tee tpm-akcert --quote "$n/quote_sha256.msg" --sig "$n/quote_sha256.sig" \
	--pcrs "$n/pcrs_sha256.txt" --ak-cert "$n/ak_cert.der" $ca --event-log "$n/event_log.bin" --nonce 9009
expect good-sha1-all-banks 0 verified '"root": "ak-ca"' -- evidence verify --tee tpm-akcert \
	--quote "$n/quote_sha1.msg" --sig "$n/quote_sha1.sig" --pcrs "$n/pcrs_sha1.txt" --pcrs "$n/pcrs_sha256.txt" \
	--pcrs "$n/pcrs_sha384.txt" --ak-cert "$n/ak_cert.der" $ca --event-log "$n/event_log.bin" --nonce 9009
expect good-sha384-intermediate-only 0 verified '"ak_cert_issuer": "CN=tpm_ek_v1_cloud_host-signer-0-2020-10-22T14:02:08-07:00' -- \
	evidence verify --tee tpm-akcert --quote "$n/quote_sha384.msg" --sig "$n/quote_sha384.sig" \
	--pcrs "$n/pcrs_sha384.txt" --ak-cert "$n/ak_cert.der" --ca "$v/certs/tpm_ek_intermediate_2.crt" --nonce 9009
expect good-no-nonce 0 verified '"pcrs": {' -- evidence verify --tee tpm-akcert \
	--quote "$z/quote_sha256.msg" --sig "$z/quote_sha256.sig" --pcrs "$z/pcrs_sha256.txt" \
	--ak-cert "$z/ak_cert.der" $ca --nonce ''
expect another-ca 1 rejected 'does not chain to a configured AK CA' -- evidence verify --tee tpm-akcert \
	--quote "$n/quote_sha256.msg" --sig "$n/quote_sha256.sig" --pcrs "$n/pcrs_sha256.txt" \
	--ak-cert "$n/ak_cert.der" --ca "$v/certs/gcp_ek_ak_ca_intermediate_v3.crt" --ca "$v/certs/gcp_ek_ak_ca_root.crt" \
	--nonce 9009
expect sibling-intermediate 1 rejected 'does not chain to a configured AK CA' -- evidence verify --tee tpm-akcert \
	--quote "$n/quote_sha256.msg" --sig "$n/quote_sha256.sig" --pcrs "$n/pcrs_sha256.txt" \
	--ak-cert "$n/ak_cert.der" --ca "$v/certs/tpm_ek_intermediate_3.crt" --nonce 9009
expect wrong-nonce 1 rejected 'quote nonce (extraData) does not match' -- evidence verify --tee tpm-akcert \
	--quote "$n/quote_sha256.msg" --sig "$n/quote_sha256.sig" --pcrs "$n/pcrs_sha256.txt" \
	--ak-cert "$n/ak_cert.der" $ca --nonce 9008
expect nonce-expected-none-given 1 rejected 'quote nonce (extraData) does not match' -- evidence verify \
	--tee tpm-akcert --quote "$z/quote_sha256.msg" --sig "$z/quote_sha256.sig" --pcrs "$z/pcrs_sha256.txt" \
	--ak-cert "$z/ak_cert.der" $ca --nonce 9009
expect pcr-changed 1 rejected 'do not match the quote' -- evidence verify --tee tpm-akcert \
	--quote "$n/quote_sha256.msg" --sig "$n/quote_sha256.sig" --pcrs "$tmp/pcrs_changed.txt" \
	--ak-cert "$n/ak_cert.der" $ca --nonce 9009
expect pcrs-of-another-bank 1 rejected 'a quoted PCR value is missing' -- evidence verify --tee tpm-akcert \
	--quote "$n/quote_sha256.msg" --sig "$n/quote_sha256.sig" --pcrs "$n/pcrs_sha1.txt" \
	--ak-cert "$n/ak_cert.der" $ca --nonce 9009
expect sig-of-another-quote 1 rejected 'does not verify with the AK' -- evidence verify --tee tpm-akcert \
	--quote "$n/quote_sha256.msg" --sig "$n/quote_sha1.sig" --pcrs "$n/pcrs_sha256.txt" \
	--ak-cert "$n/ak_cert.der" $ca --nonce 9009
expect eventlog-cut 1 rejected 'event log' -- evidence verify --tee tpm-akcert \
	--quote "$n/quote_sha256.msg" --sig "$n/quote_sha256.sig" --pcrs "$n/pcrs_sha256.txt" \
	--ak-cert "$n/ak_cert.der" $ca --event-log "$tmp/log_cut.bin" --nonce 9009
expect missing-nonce 2 '' 'required for --tee tpm-akcert' -- evidence verify --tee tpm-akcert \
	--quote "$n/quote_sha256.msg" --sig "$n/quote_sha256.sig" --pcrs "$n/pcrs_sha256.txt" \
	--ak-cert "$n/ak_cert.der" $ca
expect bad-nonce 2 '' '0 to 64 bytes of hex' -- evidence verify --tee tpm-akcert \
	--quote "$n/quote_sha256.msg" --sig "$n/quote_sha256.sig" --pcrs "$n/pcrs_sha256.txt" \
	--ak-cert "$n/ak_cert.der" $ca --nonce 900
expect leaf-as-ca 2 '' 'cannot use --ca' -- evidence verify --tee tpm-akcert \
	--quote "$n/quote_sha256.msg" --sig "$n/quote_sha256.sig" --pcrs "$n/pcrs_sha256.txt" \
	--ak-cert "$n/ak_cert.der" --ca "$n/ak_cert.der" --nonce 9009
expect pcrs-not-text 2 '' '--pcrs' -- evidence verify --tee tpm-akcert \
	--quote "$n/quote_sha256.msg" --sig "$n/quote_sha256.sig" --pcrs "$n/quote_sha256.msg" \
	--ak-cert "$n/ak_cert.der" $ca --nonce 9009
expect tpm-option-with-snp 2 '' 'for --tee tpm-akcert' -- evidence verify --tee snp --report "$n/quote_sha256.msg" \
	--nonce 9009
expect help-mentions-tpm 0 '' '--ak-cert' -- evidence verify --help
}

finish
