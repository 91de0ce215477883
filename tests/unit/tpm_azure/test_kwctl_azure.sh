#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# kwctl evidence verify --tee az-snp-vtpm on the recorded Azure vTPM vectors
# ($KW_VECTORS/tpm/azure-snp-vtpm): every vector reaches the values of its
# expected.json (measurement, REPORT_DATA, reported TCB, extraData, vTPM
# firmware, product), then negatives built from them in a scratch directory.
# Usage: test_kwctl_azure.sh PATH-TO-KWCTL
set -u
kwctl="$1"
v="${KW_VECTORS:?KW_VECTORS not set}/tpm/azure-snp-vtpm"
certs="${KW_VECTORS}/sev-snp/certs"
[ -x "$kwctl" ] || { echo "FAIL: $kwctl is not an executable" >&2; exit 1; }
[ -d "$v" ] || { echo "FAIL: vector directory $v missing" >&2; exit 1; }
at=2026-11-28T00:00:00Z
tee=az-snp-vtpm
measurement=measurement
# shellcheck source=../kwctl_expect.sh
. "$(dirname "$0")/../kwctl_expect.sh"
scratch=$(mktemp -d "${TMPDIR:-/tmp}/kwctl-azure.XXXXXX")
trap 'rm -rf "$scratch" "$out" "$out.err"' EXIT INT TERM
challenge=6368616c6c656e6765

# The verdict document against expected.json's entry: verified, and the values it lists.
check_expected() {
	name=$1 key=$2
	shift 2
	if "$kwctl" "$@" >"$scratch/doc.json" 2>"$scratch/err" &&
	    /usr/bin/python3 - "$scratch/doc.json" "$v/expected.json" "$key" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
exp = json.load(open(sys.argv[2]))[sys.argv[3]]
c = doc["claims"]
assert doc["verdict"] == "verified" and c["tee"] == "az-snp-vtpm" and c["root"] == "amd"
assert c["measurement"] == exp["measurement"], "measurement"
assert c["report_data"] == exp["report_data"], "report_data"
assert c["platform"]["version"] == exp["snp_version"], "version"
assert c["tcb"]["reported"]["raw"] == exp["reported_tcb"], "reported_tcb"
assert c["platform"]["chip_id"].startswith(exp["chip_id"].rstrip(".")), "chip_id"
assert ("Genoa" in exp["snp_verify"]["vcek_productName"]) == (c["product"] == "Genoa")
fw = int(exp["tpm_attest"]["firmwareVersion"], 16)
assert int(c["tpm"]["firmware_version"], 16) == fw, "firmware"
assert sorted(int(k) for k in c["pcrs"]["sha256"]) == list(range(24)), "pcrs"
assert all(len(x) == 64 for x in c["pcrs"]["sha256"].values())
assert c["azure"]["vm_configuration"]["secure_boot"] is True
PY
	then
		echo "ok   $name"
	else
		echo "FAIL $name"; cat "$scratch/doc.json" "$scratch/err"
		fails=$((fails + 1))
	fi
}

nonce_of() {
	/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]]["tpm_attest"]["extraData"])' \
	    "$v/expected.json" "$1"
}

milan="--chain $certs/cert_chain_milan_vcek.pem"
genoa="--chain $certs/cert_chain_genoa_vcek.pem"
# shellcheck disable=SC2086
check_expected v0 evidence-v0.json evidence verify --tee az-snp-vtpm --evidence "$v/evidence-v0.json" \
	--nonce "$(nonce_of evidence-v0.json)" $milan --at $at
# shellcheck disable=SC2086
check_expected v1 evidence-v1.json evidence verify --tee az-snp-vtpm --evidence "$v/evidence-v1.json" \
	--nonce "$(nonce_of evidence-v1.json)" $milan --at $at
# shellcheck disable=SC2086
check_expected v2 evidence-v2.json evidence verify --tee az-snp-vtpm --evidence "$v/evidence-v2.json" \
	--nonce "$(nonce_of evidence-v2.json)" $milan --at $at
# shellcheck disable=SC2086
check_expected genoa evidence-genoa.json evidence verify --tee az-snp-vtpm --evidence "$v/evidence-genoa.json" \
	--nonce "$(nonce_of evidence-genoa.json)" $genoa --at $at

# hcl-report.bin + tpm-quote-v1.json + vcek.pem (VCEK, ASK, ARK) as one versioned document
/usr/bin/python3 - "$v" "$scratch" <<'PY'
import base64, json, sys
v, s = sys.argv[1], sys.argv[2]
doc = {"version": 1, "tpm_quote": json.load(open(v + "/tpm-quote-v1.json")),
       "hcl_report": base64.urlsafe_b64encode(open(v + "/hcl-report.bin", "rb").read()).decode(),
       "vcek": open(v + "/vcek.pem").read()}
json.dump(doc, open(s + "/bin.json", "w"))
# negatives, each from a vector
ev = json.load(open(v + "/evidence-v1.json"))
def b64d(x): return base64.urlsafe_b64decode(x + "=" * (-len(x) % 4))
def b64e(b): return base64.urlsafe_b64encode(b).decode()
hcl = bytearray(b64d(ev["hcl_report"]))
i = hcl.index(b'"user-data":"') + 13
hcl[i] = ord("1") if hcl[i] == ord("0") else ord("0")        # var_data changed by one byte
bad = dict(ev, hcl_report=b64e(bytes(hcl)))
json.dump(bad, open(s + "/vardata.json", "w"))
bad = json.loads(json.dumps(ev))
p = bad["tpm_quote"]["pcrs"]
p[7] = ("0" if p[7][0] != "0" else "1") + p[7][1:]            # a PCR value changed
json.dump(bad, open(s + "/pcr.json", "w"))
v2 = json.load(open(v + "/evidence-v2.json"))
bad = dict(ev, tpm_quote=v2["tpm_quote"])                     # another VM's quote: another AK
json.dump(bad, open(s + "/ak.json", "w"))
sig = bytearray(bytes.fromhex(ev["tpm_quote"]["signature"]))
sig[100] ^= 1
bad = json.loads(json.dumps(ev)); bad["tpm_quote"]["signature"] = sig.hex()
json.dump(bad, open(s + "/sig.json", "w"))
rep = bytearray(hcl); rep[i] = b64d(ev["hcl_report"])[i]      # restore, then flip the hardware report
rep[0x20 + 0x90] ^= 1                                         # MEASUREMENT: the SNP signature fails
json.dump(dict(ev, hcl_report=b64e(bytes(rep))), open(s + "/hw.json", "w"))
json.dump(dict(ev, extra=1), open(s + "/member.json", "w"))
PY
check_expected hcl-bin+quote-v1+vcek-bundle "hcl-report.bin+tpm-quote-v1.json+vcek.pem" \
	evidence verify --tee az-snp-vtpm --evidence "$scratch/bin.json" --nonce $challenge --at $at

v2nonce=$(nonce_of evidence-v2.json)
# shellcheck disable=SC2086
expect nonce-with-padding 1 rejected 'extraData' -- evidence verify --tee az-snp-vtpm \
	--evidence "$v/evidence-v2.json" --nonce "${v2nonce}00000000000000000000000000000000" $milan --at $at
# shellcheck disable=SC2086
expect wrong-nonce 1 rejected 'extraData' -- evidence verify --tee az-snp-vtpm \
	--evidence "$v/evidence-v1.json" --nonce 6368616c6c656e6766 $milan --at $at
# shellcheck disable=SC2086
expect nonce-prefix 1 rejected 'extraData' -- evidence verify --tee az-snp-vtpm \
	--evidence "$v/evidence-v1.json" --nonce 6368616c6c656e67 $milan --at $at
# shellcheck disable=SC2086
expect var-data-byte 1 rejected 'SHA-256(HCL var_data)' -- evidence verify --tee az-snp-vtpm \
	--evidence "$scratch/vardata.json" --nonce $challenge $milan --at $at
# shellcheck disable=SC2086
expect pcr-changed 1 rejected 'pcrDigest' -- evidence verify --tee az-snp-vtpm \
	--evidence "$scratch/pcr.json" --nonce $challenge $milan --at $at
# shellcheck disable=SC2086
expect other-ak 1 rejected 'signature' -- evidence verify --tee az-snp-vtpm \
	--evidence "$scratch/ak.json" --nonce "$v2nonce" $milan --at $at
# shellcheck disable=SC2086
expect sig-flip 1 rejected 'signature' -- evidence verify --tee az-snp-vtpm \
	--evidence "$scratch/sig.json" --nonce $challenge $milan --at $at
# shellcheck disable=SC2086
expect hw-report-flip 1 rejected 'report signature invalid' -- evidence verify --tee az-snp-vtpm \
	--evidence "$scratch/hw.json" --nonce $challenge $milan --at $at
expect no-chain 1 rejected 'pinned AMD root' -- evidence verify --tee az-snp-vtpm \
	--evidence "$v/evidence-v1.json" --nonce $challenge --at $at
# shellcheck disable=SC2086
expect genoa-with-milan-chain 1 rejected '' -- evidence verify --tee az-snp-vtpm \
	--evidence "$v/evidence-genoa.json" --nonce "$(nonce_of evidence-genoa.json)" $milan --at $at
expect unknown-member 2 '' 'unknown member' -- evidence verify --tee az-snp-vtpm \
	--evidence "$scratch/member.json" --nonce $challenge --at $at
expect snp-as-tdx 2 '' 'is SNP' -- evidence verify --tee az-tdx-vtpm --evidence "$v/evidence-v1.json" \
	--nonce $challenge --collateral "$v/expected.json" --at $at
expect missing-nonce 2 '' 'required' -- evidence verify --tee az-snp-vtpm --evidence "$v/evidence-v1.json"
expect odd-nonce 2 '' 'nonce' -- evidence verify --tee az-snp-vtpm --evidence "$v/evidence-v1.json" --nonce abc
expect tdx-needs-collateral 2 '' 'collateral' -- evidence verify --tee az-tdx-vtpm --evidence "$v/evidence-v1.json" \
	--nonce $challenge
expect report-option 2 '' 'unknown option' -- evidence verify --tee az-snp-vtpm --evidence "$v/evidence-v1.json" \
	--nonce $challenge --report "$v/hcl-report.bin"
expect help-lists-azure 0 '' 'az-snp-vtpm' -- evidence verify --help
finish
