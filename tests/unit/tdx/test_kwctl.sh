#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# kwctl evidence verify --tee tdx against the real Intel vectors: exit codes, verdicts, reasons.
# Usage: test_kwctl.sh PATH-TO-KWCTL   (KW_VECTORS set by meson test)
set -u
kwctl="$1"
v="${KW_VECTORS:?KW_VECTORS not set}/tdx"
[ -x "$kwctl" ] || { echo "FAIL: $kwctl is not an executable" >&2; exit 1; }
[ -d "$v" ] || { echo "FAIL: vector directory $v missing" >&2; exit 1; }
tee=tdx
measurement=mrtd
# shellcheck source=../kwctl_expect.sh
. "$(dirname "$0")/../kwctl_expect.sh"

b0=$v/dcapqvl-b0c06f-v4-uptodate
near=$v/dcapqvl-near-20a06f-v4-uptodate
t5=$v/trustee-50806f-v4
coll5=$v/assembled-collateral/collateral-50806f000000-2025-09.json
expect uptodate 0 verified '"tcb_status": "UpToDate"' -- \
	evidence verify --tee tdx --quote "$b0/quote.bin" --collateral "$b0/collateral.json" --at 2025-07-01T00:00:00Z
expect near 0 verified '"mrtd": "f06dfda6dce1cf904d4e2bab1dc370634cf95cefa2ceb2de2eee127c9382698090d7a4a13e14c536ec6c9c3c8fa87077"' -- \
	evidence verify --tee tdx --quote "$near/quote.bin" --collateral "$near/collateral.json" --at 2025-09-15T12:00:00Z
expect debug-rejected 1 rejected 'debug TD not allowed' -- \
	evidence verify --tee tdx --quote "$t5/quote.bin" --collateral "$coll5" --at 2025-09-30T00:00:00Z
expect debug-allowed 0 verified '"tcb_status": "OutOfDate"' -- \
	evidence verify --tee tdx --quote "$t5/quote.bin" --collateral "$coll5" --at 2025-09-30T00:00:00Z --allow-debug
expect no-tcb-level 1 rejected '"tcb_status": "TCB_NOT_SUPPORTED"' -- \
	evidence verify --tee tdx --quote "$v/dcapqvl-90c06f-v5-nomatch/quote.bin" \
	--collateral "$v/dcapqvl-90c06f-v5-nomatch/collateral.json" --at 2026-03-01T00:00:00Z
expect stale 1 rejected 'not valid at the verification time' -- \
	evidence verify --tee tdx --quote "$b0/quote.bin" --collateral "$b0/collateral.json" --at 2025-08-01T00:00:00Z
expect sgx-quote 1 rejected 'SGX quote' -- \
	evidence verify --tee tdx --quote "$v/dcapqvl-sgx-v3/quote.bin" --collateral "$v/dcapqvl-sgx-v3/collateral.json" \
	--at 2025-07-01T00:00:00Z
expect other-fmspc 1 rejected 'FMSPC' -- \
	evidence verify --tee tdx --quote "$b0/quote.bin" --collateral "$near/collateral.json" --at 2025-09-15T12:00:00Z
expect intel-root-as-test-root 0 verified '"root": "intel"' -- \
	evidence verify --tee tdx --quote "$b0/quote.bin" --collateral "$b0/collateral.json" --at 2025-07-01T00:00:00Z \
	--test-root "$v/certs/intel_sgx_root_ca.pem"
expect help-mentions-tdx 0 '' '--collateral' -- evidence verify --help
expect missing-collateral 2 '' 'required for --tee tdx' -- evidence verify --tee tdx --quote "$b0/quote.bin"
expect snp-option-with-tdx 2 '' 'for --tee snp' -- \
	evidence verify --tee tdx --quote "$b0/quote.bin" --collateral "$b0/collateral.json" --report "$b0/quote.bin"
expect tdx-option-with-snp 2 '' 'for --tee tdx' -- evidence verify --tee snp --quote "$b0/quote.bin"
expect collateral-not-json 2 '' 'cannot read collateral' -- \
	evidence verify --tee tdx --quote "$b0/quote.bin" --collateral "$b0/quote.bin"
expect missing-quote 2 '' 'cannot read quote' -- \
	evidence verify --tee tdx --quote /nonexistent --collateral "$b0/collateral.json"
expect bad-test-root 2 '' 'cannot use test root' -- \
	evidence verify --tee tdx --quote "$b0/quote.bin" --collateral "$b0/collateral.json" --test-root "$b0/collateral.json"
expect unknown-tee 2 '' 'supported: snp, tdx' -- evidence verify --tee tpm --quote "$b0/quote.bin"

finish
