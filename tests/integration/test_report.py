# SPDX-License-Identifier: Apache-2.0
"""kwctl report (docs/governance.md): on a broker with a few releases,
denials and reference-value sets, the report renders as Markdown, JSON and
HTML; the JSON validates against docs/report.schema.json and holds the counts
the test produced (releases per key per reference value, denials by reason,
an expired window, a never-matched entry, releases to the emulation root,
the verified checkpoint); the HTML is loaded in headless chromium and its DOM
holds every section title."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kwtest  # noqa: E402
from kwtest import Attester, Broker  # noqa: E402

KWCTL = os.path.join(kwtest.BUILD, "tools", "kwctl")
SCHEMA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "report.schema.json")
OLD_M = "ab" * 48        # expired window
NEVER_M = "cd" * 48      # valid, never matched
SECTIONS = ["Control objectives", "Keys and policies", "Reference values", "Measurements seen versus allowed",
            "Releases per key and reference value", "Denials by reason", "Releases to emulation roots",
            "Configuration requirements", "Token and checkpoint keys", "Checkpoint verification"]
# policies with reference values nested under pcrs, eventlog and rtmr, and configuration clauses
PCR_A, PCR_B, KERNEL = "a1" * 32, "b2" * 32, "c3" * 32
ROOTS = "d4" * 48
TPM_POLICY = {"version": 1, "reference_values": {
    "pcrs": {"sha256": {"7": [{"value": PCR_A, "not-after": "2099-01-01T00:00:00Z"}, {"value": PCR_B}]}},
    "eventlog": {"kernel_sha256": [{"value": KERNEL, "name": "kernel 6.1"}]}},
    "config": {"root_store": {"digests": [ROOTS]},
               "tls": {"min_version": "1.3", "cipher_suites": ["TLS_AES_256_GCM_SHA384"]},
               "crypto": {"min_ec_bits": 256}}}
MRTD, RTMR0 = "e5" * 48, "f6" * 48
TDX_POLICY = {"version": 1, "reference_values": {
    "mrtd": [{"value": MRTD, "name": "td fw"}],
    "rtmr": {"0": [{"value": RTMR0, "not-after": "2021-01-01T00:00:00Z"}]}}}


def audit(b, kind):
    st, _, body = b.admin("GET", "/admin/v1/audit?limit=10000&kind=" + kind)
    assert st == 200, (st, body)
    return body["records"]


def wait_for(b, kind, n, timeout=10.0):
    deadline = time.time() + timeout
    while len(audit(b, kind)) < n:
        assert time.time() < deadline, (kind, n, len(audit(b, kind)))
        time.sleep(0.1)


def checkpoint_covering(b, n, timeout=15.0):
    deadline = time.time() + timeout
    while True:
        st, _, body = b.request("GET", "/.well-known/keywarden-checkpoint", raw=True)
        if st == 200 and int(body.decode().split("\n")[1]) >= n:
            return
        assert time.time() < deadline, (st, body)
        time.sleep(0.2)


def kwctl(b, *args, rc=0):
    env = dict(os.environ, KWCTL_PROFILE=os.path.join(b.dir, "kwctl.json"))
    p = subprocess.run([KWCTL, "report"] + list(args), env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == rc, (args, p.returncode, p.stderr)
    return p


def main():
    b = Broker(config_edit=lambda c: c.setdefault("audit", {}).update({"checkpoint_interval": 1}))
    tmp = tempfile.mkdtemp(prefix="kwreport-")
    t0 = time.time()
    try:
        b.start()
        m = b.emu["measurement"]
        b.provision("demo/key/disk")                                  # inline list in policy "demo"
        st, _, body = b.admin("PUT", "/admin/v1/refvals/demo/builds", {"document": {"measurements": [
            {"value": OLD_M, "name": "build-6", "not-after": "2021-01-01T00:00:00Z"},
            {"value": m, "name": "build-7", "not-before": "2020-01-01T00:00:00Z"},
            {"value": NEVER_M, "name": "build-8", "not-before": "2020-01-01T00:00:00Z",
             "not-after": "2099-01-01T00:00:00Z"}]}})
        assert st == 201, (st, body)
        # a build phased out with a grace period: superseded (still valid), its successor open-ended
        st, _, body = b.admin("PUT", "/admin/v1/refvals/demo/phase", {"document": {"measurements": [
            {"value": "ee" * 48, "name": "old"}]}})
        assert st == 201, (st, body)
        st, _, body = b.admin("POST", "/admin/v1/refvals/demo/phase/supersede",
                              {"old": "ee" * 48, "new": "ff" * 48, "grace": "7d"})
        assert st == 201, (st, body)
        b.provision("demo/key/set", policy="by-set", document={
            "version": 1, "allow_test_roots": True, "reference_values": {"sets": ["builds"]}})
        b.provision("demo/key/other", policy="other", document=kwtest.policy_for(OLD_M))
        for name, doc in (("tpm-pol", TPM_POLICY), ("tdx-pol", TDX_POLICY)):
            st, _, body = b.admin("PUT", "/admin/v1/policies/demo/" + name, {"document": doc})
            assert st == 201, (name, st, body)
        a = Attester(b)
        tok = a.token()
        for res, n in (("demo/key/disk", 1), ("demo/key/set", 2)):
            for _ in range(n):
                st, _, body = a.resource(tok, res)
                assert st == 200, (res, st, body)
        assert a.resource(None, "demo/key/disk")[0] == 401
        assert a.resource(None, "demo/key/set")[0] == 401
        assert a.resource(tok, "demo/key/nothing-here")[0] == 404
        assert a.resource(tok, "demo/key/other")[0] == 403
        wait_for(b, "release", 3)
        wait_for(b, "denial", 4)
        st, _, body = b.admin("GET", "/admin/v1/audit?last=1")
        checkpoint_covering(b, body["size"])
        st, _, vkey = b.request("GET", "/.well-known/keywarden-checkpoint-key", raw=True)
        assert st == 200, st
        keyf = os.path.join(tmp, "key.txt")
        with open(keyf, "wb") as f:
            f.write(vkey)

        # JSON: valid against the schema, and the counts this test produced
        import jsonschema
        with open(SCHEMA) as f:
            schema = json.load(f)
        jsonschema.Draft202012Validator.check_schema(schema)
        rep = json.loads(kwctl(b, "--format", "json", "--days", "7", "--checkpoint-key", keyf).stdout)
        jsonschema.validate(rep, schema, cls=jsonschema.Draft202012Validator)
        assert rep["totals"]["releases"] == 3 and rep["totals"]["denials"] == 4, rep["totals"]
        rel = {(r["resource"], r["set"], r["entry"]): r["count"] for r in rep["releases"]}
        assert rel == {("demo/key/disk", "policy", "measurement[0]"): 1,
                       ("demo/key/set", "builds", "measurement[1]"): 2}, rel
        den = {}
        for d in rep["denials"]:
            den[d["check"]] = den.get(d["check"], 0) + d["count"]
        assert den == {"token": 2, "resource": 1, "policy": 1}, rep["denials"]
        assert any(d["check"] == "resource" and d["reason"] == "no such enabled key" for d in rep["denials"])
        rv = {r["name"]: r for r in rep["reference_values"] if r["set"] == "builds"}
        assert rv["build-6"]["status"] == "expired" and rv["build-6"]["not_after"] == 1609459200, rv
        assert rv["build-6"]["never_matched"] and rv["build-6"]["releases"] == 0, rv
        assert rv["build-7"]["status"] == "open-ended" and rv["build-7"]["releases"] == 2, rv
        assert not rv["build-7"]["never_matched"], rv
        assert rv["build-8"]["status"] == "active" and rv["build-8"]["never_matched"], rv
        inline = [r for r in rep["reference_values"] if r["set"] == "policy:demo"]
        assert len(inline) == 1 and inline[0]["value"] == m and inline[0]["releases"] == 1, inline
        ph = {r["value"]: r for r in rep["reference_values"] if r["set"] == "phase"}
        assert ph["ee" * 48]["status"] == "superseded" and ph["ff" * 48]["status"] == "open-ended", ph
        assert 6 * 86400 < ph["ee" * 48]["not_after"] - time.time() <= 7 * 86400, ph
        # lists nested under pcrs, eventlog, rtmr, and mrtd, with their windows
        nest = {(r["set"], r["entry"]): r for r in rep["reference_values"] if r["set"] in
                ("policy:tpm-pol", "policy:tdx-pol")}
        assert sorted(nest) == [("policy:tdx-pol", "mrtd[0]"), ("policy:tdx-pol", "rtmr0[0]"),
                                ("policy:tpm-pol", "eventlog.kernel_sha256[0]"),
                                ("policy:tpm-pol", "pcrs.sha256.7[0]"), ("policy:tpm-pol", "pcrs.sha256.7[1]")], nest
        assert nest[("policy:tpm-pol", "pcrs.sha256.7[0]")]["status"] == "superseded", nest
        assert nest[("policy:tpm-pol", "pcrs.sha256.7[0]")]["value"] == PCR_A, nest
        assert nest[("policy:tpm-pol", "pcrs.sha256.7[1]")]["status"] == "open-ended", nest
        assert nest[("policy:tpm-pol", "eventlog.kernel_sha256[0]")]["name"] == "kernel 6.1", nest
        assert nest[("policy:tdx-pol", "rtmr0[0]")]["status"] == "expired", nest
        assert nest[("policy:tdx-pol", "rtmr0[0]")]["not_after"] == 1609459200, nest
        assert nest[("policy:tdx-pol", "mrtd[0]")]["value"] == MRTD and \
            all(r["never_matched"] for r in nest.values()), nest
        # what each policy requires of the workload's root store and TLS configuration
        req = {(r["policy"], r["clause"]): r["requirement"] for r in rep["config_requirements"]}
        assert req[("tpm-pol", "root_store.digests")] == ROOTS, req
        assert req[("tpm-pol", "tls.min_version")] == "TLS 1.3 or later", req
        assert req[("tpm-pol", "tls.cipher_suites")] == "TLS_AES_256_GCM_SHA384", req
        assert req[("tpm-pol", "crypto.min_ec_bits")] == "at least 256 bits", req
        assert len([k for k in req if k[0] == "tpm-pol"]) == 4, req
        for pol in ("demo", "by-set", "other", "tdx-pol"):
            assert "not checked" in req[(pol, "none")], (pol, req)
        meas = {x["value"]: x for x in rep["measurements"]}
        assert meas[m]["allowed"] and meas[m]["releases"] == 3 and meas[m]["appraisals"] >= 1, meas
        emu = sum(x["count"] for x in rep["emulation_releases"] if x["root"] == "test")
        assert emu == 3, rep["emulation_releases"]
        keys = {k["resource"]: k["policy"] for k in rep["keys"]}
        assert keys == {"demo/key/disk": "demo", "demo/key/set": "by-set", "demo/key/other": "other"}, keys
        uses = sorted(k["use"] for k in rep["signing_keys"])
        assert uses == ["checkpoint", "token"], rep["signing_keys"]
        assert all(k["age_days"] == 0 and abs(k["seen_at"] - t0) < 60 for k in rep["signing_keys"]), rep
        cp = rep["checkpoint"]
        assert cp["present"] and cp["signature"] == "verified" and cp["size"] >= 1, cp
        assert cp["consistency"] == "verified" and cp["log_size"] >= cp["size"], cp
        assert [o["evidence"] for o in rep["objectives"]] and \
            set(o["evidence"] for o in rep["objectives"]) <= set(SECTIONS), rep["objectives"]
        # a wrong key: the signature is reported bad, not verified
        bad = os.path.join(tmp, "bad.txt")
        name, kid, k64 = vkey.decode().strip().split("+", 2)
        with open(bad, "w") as f:
            f.write("%s+%s+%s\n" % (name, "00000000", k64))
        cp = json.loads(kwctl(b, "--format", "json", "--checkpoint-key", bad).stdout)["checkpoint"]
        assert cp["signature"] != "verified" and cp["consistency"] == "unchecked", cp
        cp = json.loads(kwctl(b, "--format", "json").stdout)["checkpoint"]
        assert cp["signature"] == "unchecked", cp

        # Markdown: every section, the counts in the tables
        md = kwctl(b, "--format", "md", "--days", "7", "--checkpoint-key", keyf).stdout
        for s in SECTIONS:
            assert "\n## %s\n" % s in md, s
        assert "| demo/key/set | builds | measurement[1] | 2 |" in md, md
        assert "| expired |" in md and "| verified |" in md, md
        assert "| demo | tpm-pol | 1 | tls.min_version | TLS 1.3 or later |" in md, md
        assert "| policy:tpm-pol | pcrs.sha256.7[0] |" in md, md

        # HTML: --out, then the DOM of a real headless browser
        page = os.path.join(tmp, "report.html")
        kwctl(b, "--format", "html", "--out", page, "--checkpoint-key", keyf)
        with open(page) as f:
            html = f.read()
        assert "<script" not in html.lower() and "<link" not in html.lower(), "not self-contained"
        chromium = shutil.which("chromium")
        assert chromium is not None, "chromium is not installed (scripts/install-deps.sh)"
        p = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                            "--user-data-dir=" + os.path.join(tmp, "chromium"), "--dump-dom", "file://" + page],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr[-2000:]
        dom = p.stdout
        for s in SECTIONS:
            assert "<h2>%s</h2>" % s in dom, (s, dom[:2000])
        assert "<td>demo/key/set</td><td>builds</td><td>measurement[1]</td><td>2</td>" in dom, dom

        # usage errors
        assert "--format" in kwctl(b, "--format", "pdf", rc=2).stderr
        kwctl(b, "--days", "0", rc=2)
        rc = b.stop()
        assert rc == 0, rc
        print("ok   test_report (%.1f s)" % (time.time() - t0))
        return 0
    except Exception:
        import traceback
        traceback.print_exc()
        print(b.log()[-3000:] if hasattr(b, "log") else "")
        try:
            b.stop()
        except Exception:
            pass
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
