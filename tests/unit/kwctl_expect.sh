# SPDX-License-Identifier: Apache-2.0
# Sourced by the kwctl evidence tests (tests/unit/snp, tests/unit/tdx):
#   expect NAME WANT-EXIT WANT-VERDICT WANT-SUBSTRING -- kwctl args...
# runs "$kwctl" with the args and checks the exit status, then either the JSON verdict
# (the document's tee is $tee; verified claims carry a 96-hex "$measurement", rejections a
# reason and no claims; WANT-SUBSTRING must occur in the document) or, with an empty
# WANT-VERDICT, that WANT-SUBSTRING occurs in stdout or stderr. finish reports and exits.
# The caller sets kwctl, tee, measurement (and measurement_len when the claim is not 96 hex digits).
fails=0
measurement_len=${measurement_len:-96}
out=$(mktemp "${TMPDIR:-/tmp}/kwctl-test.XXXXXX")
trap 'rm -f "$out" "$out.err"' EXIT INT TERM

expect() {
	name=$1 want=$2 verdict=$3 substr=$4
	shift 5
	"$kwctl" "$@" >"$out" 2>"$out.err"
	rc=$?
	ok=1
	[ "$rc" -eq "$want" ] || ok=0
	if [ -n "$verdict" ]; then
		/usr/bin/python3 - "$out" "$verdict" "$substr" "$tee" "$measurement" "$measurement_len" 2>&1 <<'PY' || ok=0
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc["verdict"] == sys.argv[2], doc["verdict"]
assert doc["tee"] == sys.argv[4], doc["tee"]
if sys.argv[3]:
    assert sys.argv[3] in json.dumps(doc), sys.argv[3]
if doc["verdict"] == "verified":
    assert doc["claims"]["tee"] == sys.argv[4] and len(doc["claims"][sys.argv[5]]) == int(sys.argv[6])
else:
    assert "claims" not in doc and doc["reason"]
PY
	elif [ -n "$substr" ]; then
		grep -q -- "$substr" "$out.err" "$out" || ok=0
	fi
	if [ "$ok" -eq 1 ]; then
		echo "ok   $name (exit $rc)"
	else
		echo "FAIL $name: exit $rc (want $want)"; cat "$out" "$out.err"
		fails=$((fails + 1))
	fi
	rm -f "$out.err"
}

finish() {
	if [ "$fails" -ne 0 ]; then
		echo "$fails kwctl $tee case(s) failed"
		exit 1
	fi
	echo "all kwctl $tee cases passed"
}
