#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# kwctl evidence verify against the real SEV-SNP vectors: exit codes and verdicts.
# Usage: test_kwctl.sh PATH-TO-KWCTL   (KW_VECTORS set by meson test)
set -u
kwctl="$1"
v="${KW_VECTORS:?KW_VECTORS not set}/sev-snp"
[ -x "$kwctl" ] || { echo "FAIL: $kwctl is not an executable" >&2; exit 1; }
[ -d "$v" ] || { echo "FAIL: vector directory $v missing" >&2; exit 1; }
at=2026-11-28T00:00:00Z
tee=snp
measurement=measurement
# shellcheck source=../kwctl_expect.sh
. "$(dirname "$0")/../kwctl_expect.sh"

chain="--chain $v/certs/cert_chain_milan_vcek.pem"
# shellcheck disable=SC2086
expect positive 0 verified '"measurement": "a1f3930413247bb38cfc171579ea3c12d5fe4901f0c792f63fd75d98f1ef827c23500644e0e692e6be917f9050d3d38c"' -- \
	evidence verify --tee snp --report "$v/trustee-milan-v2/report.bin" --cert "$v/trustee-milan-v2/vcek.der" $chain --at $at
expect positive-pem-chain-in-cert 0 verified '"product": "Milan"' -- \
	evidence verify --tee snp --report "$v/gcp-milan-v5/report_zero_report_data.bin" --cert "$v/gcp-milan-v5/vcek.pem" \
	--cert "$v/certs/cert_chain_milan_vcek.pem" --at $at
# shellcheck disable=SC2086
expect debug-rejected 1 rejected 'debug guest not allowed' -- \
	evidence verify --tee snp --report "$v/gosevguest-milan-v2/report.bin" --cert "$v/gosevguest-milan-v2/vcek.der" $chain --at $at
# shellcheck disable=SC2086
expect debug-allowed 0 verified '"debug": true' -- \
	evidence verify --tee snp --report "$v/gosevguest-milan-v2/report.bin" --cert "$v/gosevguest-milan-v2/vcek.der" $chain --at $at --allow-debug
# shellcheck disable=SC2086
expect wrong-vcek 1 rejected 'report signature invalid' -- \
	evidence verify --tee snp --report "$v/gcp-milan-v5/report_zero_report_data.bin" --cert "$v/gosevguest-milan-v2/vcek.der" $chain --at $at
expect no-chain 1 rejected 'pinned AMD root' -- \
	evidence verify --tee snp --report "$v/virtee-milan-v2/report.bin" --cert "$v/virtee-milan-v2/vcek.der" --at $at
expect vlek-expired 1 rejected 'validity' -- \
	evidence verify --tee snp --report "$v/trustee-milan-vlek-v3/report.bin" --cert "$v/trustee-milan-vlek-v3/vlek.der" \
	--chain "$v/certs/cert_chain_milan_vlek.pem" --at $at
expect vlek-in-window 0 verified '"signing_key": "vlek"' -- \
	evidence verify --tee snp --report "$v/trustee-milan-vlek-v3/report.bin" --cert "$v/trustee-milan-vlek-v3/vlek.der" \
	--chain "$v/certs/cert_chain_milan_vlek.pem" --at 2024-12-11T22:14:21Z
expect help 0 '' 'usage: kwctl' -- --help
expect verify-help 0 '' '--allow-debug' -- evidence verify --help
expect no-args 2 '' 'usage' --
expect missing-report 2 '' 'required' -- evidence verify --tee snp --cert "$v/virtee-milan-v2/vcek.der"
expect bad-tee 2 '' 'unsupported --tee' -- evidence verify --tee tpm --report "$v/virtee-milan-v2/report.bin" --cert "$v/virtee-milan-v2/vcek.der"
expect bad-time 2 '' 'RFC 3339' -- evidence verify --tee snp --report "$v/virtee-milan-v2/report.bin" --cert "$v/virtee-milan-v2/vcek.der" --at yesterday
expect bad-option 2 '' 'unknown option' -- evidence verify --frobnicate
expect missing-file 2 '' 'cannot read report' -- evidence verify --tee snp --report /nonexistent --cert "$v/virtee-milan-v2/vcek.der"
expect vcek-as-chain 2 '' 'cannot use chain' -- evidence verify --tee snp --report "$v/virtee-milan-v2/report.bin" \
	--cert "$v/virtee-milan-v2/vcek.der" --chain "$v/gcp-milan-v5/vcek.pem"

finish
