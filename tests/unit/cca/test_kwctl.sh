#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# kwctl evidence verify --tee cca on the example token of $KW_VECTORS/cca: exit codes, verdicts, reasons.
# Usage: test_kwctl.sh PATH-TO-KWCTL   (KW_VECTORS set by meson test)
set -u
kwctl="$1"
v="${KW_VECTORS:?KW_VECTORS not set}/cca"
[ -x "$kwctl" ] || { echo "FAIL: $kwctl is not an executable" >&2; exit 1; }
[ -d "$v" ] || { echo "FAIL: vector directory $v missing" >&2; exit 1; }
tee=cca
measurement=rim
measurement_len=128
# shellcheck source=../kwctl_expect.sh
. "$(dirname "$0")/../kwctl_expect.sh"

tok=$v/cca-example-token.cbor
cpak=$v/cpak-pub.json
chal=$(/usr/bin/python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["realm_challenge"])' "$v/expected.json")
other=$(mktemp "${TMPDIR:-/tmp}/kwctl-cca.XXXXXX")
ev=$(mktemp "${TMPDIR:-/tmp}/kwctl-cca-ev.XXXXXX")
trap 'rm -f "$out" "$out.err" "$other" "$ev"' EXIT INT TERM
/usr/bin/python3 - "$other" "$tok" "$ev" <<'PY'
import base64, json, sys
from jwcrypto import jwk
open(sys.argv[1], "w").write(jwk.JWK.generate(kty="EC", crv="P-384").export_public())
t = base64.urlsafe_b64encode(open(sys.argv[2], "rb").read()).rstrip(b"=").decode()
open(sys.argv[3], "w").write(json.dumps({"token": t}))
PY

expect test-anchor 0 verified '"root": "test"' -- \
	evidence verify --tee cca --token "$tok" --test-cpak "$cpak" --nonce "$chal"
expect production-anchor 0 verified '"root": "cpak"' -- \
	evidence verify --tee cca --evidence "$ev" --cpak "$cpak"
expect rim 0 verified '"rim": "ae87fbf7f105e71a7827cb6f0896889c73d2beaf4830d4f9cb05e3e96c3fc7b4faa04caf36a26bd094cf9c7b738617e4c189aaee184dedda5d7a03c39dbdac7c"' -- \
	evidence verify --tee cca --token "$tok" --test-cpak "$cpak"
expect other-cpak 1 rejected 'not signed by a configured CPAK' -- \
	evidence verify --tee cca --token "$tok" --test-cpak "$other"
expect wrong-nonce 1 rejected 'realm challenge does not match' -- \
	evidence verify --tee cca --token "$tok" --test-cpak "$cpak" --nonce "$(printf '%0128d' 0)"
expect no-anchor 2 '' 'no built-in CCA trust anchor' -- evidence verify --tee cca --token "$tok"
expect short-nonce 2 '' '64 bytes of hex' -- evidence verify --tee cca --token "$tok" --cpak "$cpak" --nonce 00
expect not-a-jwk 2 '' 'P-384 public JWK' -- evidence verify --tee cca --token "$tok" --cpak "$tok"
expect help-mentions-cca 0 '' '--test-cpak' -- evidence verify --help
finish
