#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Integration: Intel TDX end to end through the real broker, keywarden-hsm
and SoftHSM2 over TLS on loopback, with emulated (NOT INTEL) evidence.

Two independent TDX emulations meet here: kwget's (attester/att_tdx_emu.c)
and kwtest.TdxPlatform's (Python, written from the quote and collateral
formats). The broker's offline collateral directory holds the Python-made
collateral (TCB evaluation data number 18: two TCB levels, UpToDate for the
emulated TD and OutOfDate with an advisory one TDX component lower) and
kwget's own (number 17): the broker must pick 18, so kwget's quotes are
verified against collateral kwget did not make. Every denial checks the
status, the problem document and that nothing was released.
"""
import hashlib
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kwtest  # noqa: E402
from kwtest import Attester, Broker, assert_problem, b64u  # noqa: E402

RES = "tdx/key/disk"          # MRTD of the emulated TD, UpToDate only
ADV = "INTEL-SA-00837"
secrets_seen = []


def tdx_policy(b, rules=None, allow_test_roots=True, **refvals):
    doc = {"version": 1, "allow_test_roots": allow_test_roots,
           "rules": rules or {"allOf": [{"claim": "tee", "op": "equals", "value": "tdx"},
                                        {"claim": "tcb_status", "op": "in", "value": ["UpToDate"]}]},
           "reference_values": refvals or {"mrtd": [{"value": b.tdx_emu["mrtd"], "name": "emulated TD"}]}}
    return doc


def token_claims(token):
    pl = json.loads(kwtest.b64u_dec(token.split(".")[1]))
    return pl["submods"]["cpu0"]


def svn(third):
    """TEE_TCB_SVN of the emulated TD (05 01 02 ...) with TDX component 2 set to third."""
    return bytes([5, 1, third]) + bytes(13)


def released(a, path, status=200):
    tok = a.token()
    st, ct, body = a.resource(tok, path)
    if status != 200:
        assert_problem(st, ct, body, status)
        return tok, None
    assert st == 200 and ct == "application/jose", (st, body)
    key = a.decrypt(body)
    secrets_seen.append(key)
    return tok, key


# ---- the full flow ----

def t_kwget_release_matches_jwcrypto(b):
    """kwget --emulate tdx: auth, attest, token, DPoP resource; jwcrypto opens the JWE to kwget's key."""
    d = tempfile.mkdtemp(dir=b.dir)
    out, jwe_p, pem, tok_p = (os.path.join(d, n) for n in ("key", "jwe", "tee.pem", "token"))
    p = b.kwget("--resource", RES, "--out", out, "--jwe-out", jwe_p, "--tee-key-out", pem,
                "--token-out", tok_p, check=True, tee="tdx")
    assert b"EMULATED TDX quote" in p.stderr, p.stderr
    key = open(out, "rb").read()
    assert len(key) == 32
    from jwcrypto import jwe, jwk
    t = jwe.JWE()
    t.deserialize(open(jwe_p).read().strip(), key=jwk.JWK.from_pem(open(pem, "rb").read()))
    assert t.payload == key
    sub = token_claims(open(tok_p).read())
    c = sub["kw.claims"]
    assert c["tee"] == "tdx" and c["root"] == "test" and c["mrtd"] == b.tdx_emu["mrtd"], c
    assert c["tcb_status"] == "UpToDate" and c["advisory_ids"] == [] and c["debug"] is False, c
    assert c["fmspc"] == b.tdx_emu["fmspc"] and c["tee_tcb_svn"] == b.tdx_emu["tee_tcb_svn"], c
    # the Python-made collateral (18) was chosen over kwget's own (17)
    assert c["collateral"]["tcb_evaluation_data_number"] == 18, c["collateral"]
    assert "report_data" not in c and "platform" not in c, sorted(c)
    assert sub["ear.appraisal-policy-id"] == "urn:keywarden:appraisal:tdx-evidence:v1", sub
    # an emulation root is not genuine hardware
    assert sub["ear.trustworthiness-vector"]["hardware"] == 96 and sub["ear.status"] == "contraindicated", sub
    secrets_seen.append(key)
    b.kwget_key = key


def t_python_attester_same_key(b):
    """The independent Python quote: token, DPoP proof, JWE; the same key kwget got."""
    a = Attester(b, tee="tdx")
    tok, key = released(a, RES)
    c = token_claims(tok)["kw.claims"]
    assert c["rtmr2"] == bytes(range(32, 80)).hex() and c["tdx_version"] == "1.0", c
    assert key == b.kwget_key
    # cc_eventlog is accepted and not used
    body = a.attest_body()
    body["tee-evidence"]["cc_eventlog"] = b64u(b"event log, not replayed")
    st, _, r = b.request("POST", "/kbs/v0/attest", body)
    assert st == 200, r


def t_wrong_report_data(b):
    a = Attester(b, tee="tdx")
    st, ct, r = a.attest(report_data=bytes(64))
    assert_problem(st, ct, r, 401, "attestation-failed")
    p = b.kwget("--resource", RES, "--out", os.path.join(tempfile.mkdtemp(dir=b.dir), "k"),
                "--emu-report-data", "11" * 64, tee="tdx")
    assert p.returncode == 3, (p.returncode, p.stderr)
    assert "report data does not match SHA-384(JCS(runtime-data))" in b.log()


def t_replayed_challenge(b):
    a = Attester(b, tee="tdx")
    body = a.attest_body()
    st, _, r = b.request("POST", "/kbs/v0/attest", body)
    assert st == 200, r
    st, ct, r = b.request("POST", "/kbs/v0/attest", body)
    assert_problem(st, ct, r, 401, "attestation-failed")


def t_challenge_of_another_tee(b):
    """A challenge sealed for snp does not open for TDX evidence (and vice versa)."""
    a = Attester(b, tee="tdx")
    st, ct, r = b.request("POST", "/kbs/v0/attest", a.attest_body(nonce=a.nonce(tee="snp")))
    assert_problem(st, ct, r, 401, "attestation-failed")
    s = Attester(b)
    st, ct, r = b.request("POST", "/kbs/v0/attest", s.attest_body(nonce=s.nonce(tee="tdx")))
    assert_problem(st, ct, r, 401, "attestation-failed")


def t_mrtd_not_allowed(b):
    a = Attester(b, tee="tdx")
    released(a, RES)
    a.tdx.mrtd = hashlib.sha384(b"another TD").digest()
    released(a, RES, status=403)
    p = b.kwget("--resource", RES, "--out", os.path.join(tempfile.mkdtemp(dir=b.dir), "k"),
                "--emu-measurement", "ab" * 48, tee="tdx")
    assert p.returncode == 3, (p.returncode, p.stderr)
    assert "denied by policy 'tdx' v1: mrtd: mrtd is not a reference value" in b.log(), b.log()[-2000:]


def t_rtmr_mismatch(b):
    a = Attester(b, tee="tdx")
    released(a, "tdx/key/rtmr")
    a.tdx.rtmr = list(a.tdx.rtmr)
    a.tdx.rtmr[2] = hashlib.sha384(b"other application").digest()
    released(a, "tdx/key/rtmr", status=403)
    assert "rtmr2 is not a reference value" in b.log()


def t_tcb_status_not_allowed(b):
    """One TDX component lower: the collateral's OutOfDate level, with an advisory."""
    a = Attester(b, tee="tdx")
    tok = a.token(tee_tcb_svn=svn(1))
    c = token_claims(tok)["kw.claims"]
    assert c["tcb_status"] == "OutOfDate" and c["advisory_ids"] == [ADV], c
    st, ct, body = a.resource(tok, RES)
    assert_problem(st, ct, body, 403, "denied")
    # a policy that tolerates OutOfDate but not this advisory
    st, ct, body = a.resource(a.token(tee_tcb_svn=svn(1)), "tdx/key/no-advisory")
    assert_problem(st, ct, body, 403, "denied")
    # ... and one that tolerates both
    st, _, body = a.resource(a.token(tee_tcb_svn=svn(1)), "tdx/key/out-of-date-ok")
    assert st == 200, body
    secrets_seen.append(a.decrypt(body))
    # the UpToDate TD passes the advisory rule
    released(a, "tdx/key/no-advisory")
    # a platform below every level is not a TDX platform Intel supports: rejected at attest
    st, ct, r = a.attest(tee_tcb_svn=svn(0))
    assert_problem(st, ct, r, 401, "attestation-failed")


def t_evaluation_number_floor(b):
    a = Attester(b, tee="tdx")
    released(a, "tdx/key/eval-19", status=403)
    assert "collateral.tcb_evaluation_data_number gte 19: claim is 18" in b.log()


def t_test_root_denied(b):
    """Emulated evidence is not released by a policy without allow_test_roots."""
    a = Attester(b, tee="tdx")
    released(a, "tdx/key/production", status=403)
    p = b.kwget("--resource", "tdx/key/production", "--out",
                os.path.join(tempfile.mkdtemp(dir=b.dir), "k"), tee="tdx")
    assert p.returncode == 3, (p.returncode, p.stderr)


def t_debug_td(b):
    p = b.kwget("--resource", RES, "--out", os.path.join(tempfile.mkdtemp(dir=b.dir), "k"),
                "--emu-debug", tee="tdx")
    assert p.returncode == 3, (p.returncode, p.stderr)
    assert "allow_debug" in b.log()


def t_collateral_unavailable(b):
    """No collateral valid at the broker's time: 503 collateral_unavailable, nothing spent."""
    a = Attester(b, tee="tdx")
    b.set_clock(31 * 86400)        # past the nextUpdate of every collateral file
    try:
        body = a.attest_body()
        st, ct, r = b.request("POST", "/kbs/v0/attest", body)
        assert_problem(st, ct, r, 503, "collateral_unavailable")
        assert b.last_headers.get("retry-after") == "60", b.last_headers
        log = b.log()
        assert "attestation refused (tee=tdx): no TDX collateral valid at the verification time " \
               "for the quote's FMSPC: FMSPC %s" % b.tdx_emu["fmspc"] in log, log[-2000:]
        p = b.kwget("--resource", RES, "--out", os.path.join(tempfile.mkdtemp(dir=b.dir), "k"), tee="tdx")
        assert p.returncode == 5 and b"collateral" in p.stderr, (p.returncode, p.stderr)
        # SNP does not depend on it
        s = Attester(b)
        st, _, r = s.attest()
        assert st == 200, r
    finally:
        b.set_clock(0)
    # the challenge was not spent: the same body works once collateral is valid again
    st, _, r = b.request("POST", "/kbs/v0/attest", body)
    assert st == 200, r


def t_malformed_evidence(b):
    a = Attester(b, tee="tdx")
    for change in ({"extra": "x"}, {"quote": "!!!"}, {"quote": ""}, {"cc_eventlog": 5},
                   {"vcek": b64u(b"x")}):
        body = a.attest_body()
        body["tee-evidence"].update(change)
        st, ct, r = b.request("POST", "/kbs/v0/attest", body)
        assert_problem(st, ct, r, 400, "malformed")
    body = a.attest_body()
    q = kwtest.b64u_dec(body["tee-evidence"]["quote"])
    for cut in (q[:47], q[:700], q[:len(q) - 200]):
        body["tee-evidence"]["quote"] = b64u(cut)
        st, ct, r = b.request("POST", "/kbs/v0/attest", body)
        assert_problem(st, ct, r, 401, "attestation-failed")
    st, ct, r = b.request("POST", "/kbs/v0/auth", {"version": "0.1.0", "tee": "tpm"})
    assert_problem(st, ct, r, 400, "unsupported")


def t_snp_unchanged(b):
    """The SNP workload on the same broker."""
    out = os.path.join(tempfile.mkdtemp(dir=b.dir), "k")
    b.kwget("--resource", "demo/key/disk", "--out", out, check=True)
    assert "attested tee=snp measurement=" in b.log()
    secrets_seen.append(open(out, "rb").read())


def t_logs_hold_no_secrets(b):
    log = b.log()
    assert "attested tee=tdx mrtd=%s" % b.tdx_emu["mrtd"][:32] in log, log[-2000:]
    assert secrets_seen
    for k in secrets_seen:
        for form in (k.hex(), b64u(k)):
            assert form not in log


def t_tdx_not_configured(b):
    """A broker without a tdx section refuses TDX at /auth and /attest (400 unsupported)."""
    st, ct, r = b.request("POST", "/kbs/v0/auth", {"version": "0.1.0", "tee": "tdx"})
    assert_problem(st, ct, r, 400, "unsupported")
    a = Attester(b, tee="tdx")
    st, ct, r = b.request("POST", "/kbs/v0/attest", a.attest_body(nonce=a.nonce(tee="snp")))
    assert_problem(st, ct, r, 400, "unsupported")
    st, _, r = Attester(b).attest()     # SNP as ever
    assert st == 200, r


TESTS = [t_kwget_release_matches_jwcrypto, t_python_attester_same_key, t_wrong_report_data,
         t_replayed_challenge, t_challenge_of_another_tee, t_mrtd_not_allowed, t_rtmr_mismatch,
         t_tcb_status_not_allowed, t_evaluation_number_floor, t_test_root_denied, t_debug_td,
         t_collateral_unavailable, t_malformed_evidence, t_snp_unchanged, t_logs_hold_no_secrets]


def main():
    b = Broker()
    with open(os.path.join(b.dir, "tdx-emu", "emu.json")) as f:
        b.tdx_emu = json.load(f)
    coll = os.path.join(b.dir, "tdx-collateral")
    plat = kwtest.TdxPlatform(os.path.join(b.dir, "tdx-emu"))
    now = int(time.time())
    with open(os.path.join(coll, "python.json"), "w") as f:
        f.write(plat.collateral(now, levels=[(list(svn(2)), "UpToDate", []),
                                             (list(svn(1)), "OutOfDate", [ADV])], eval_number=18))
    p = kwtest.subprocess.run([kwtest.KWGET, "--emulate", "tdx", "--emu-dir", plat.dir,
                               "--emu-collateral-out", os.path.join(coll, "kwget.json")],
                              stdout=kwtest.subprocess.PIPE, stderr=kwtest.subprocess.PIPE)
    assert p.returncode == 0, p.stderr

    def setup(b):
        mrtd = [{"value": b.tdx_emu["mrtd"], "name": "emulated TD"}]
        b.provision(RES, policy="tdx", document=tdx_policy(b))
        b.provision("tdx/key/rtmr", policy="rtmr", document=tdx_policy(
            b, mrtd=mrtd, rtmr={"2": [{"value": bytes(range(32, 80)).hex(), "name": "app"}]}))
        out_of_date = {"allOf": [{"claim": "tee", "op": "equals", "value": "tdx"},
                                 {"claim": "tcb_status", "op": "in", "value": ["UpToDate", "OutOfDate"]}]}
        b.provision("tdx/key/out-of-date-ok", policy="ood", document=tdx_policy(b, rules=out_of_date))
        b.provision("tdx/key/no-advisory", policy="noadv", document=tdx_policy(b, rules={"allOf": [
            out_of_date, {"claim": "advisory_ids", "op": "containsNone", "value": [ADV]}]}))
        b.provision("tdx/key/eval-19", policy="eval19", document=tdx_policy(b, rules={"allOf": [
            out_of_date, {"claim": "collateral.tcb_evaluation_data_number", "op": "gte", "value": 19}]}))
        b.provision("tdx/key/production", policy="prod", document=tdx_policy(b, allow_test_roots=False))
        b.provision("demo/key/disk")
    rc = kwtest.run_tests(b, TESTS, setup=setup)

    def no_tdx(cfg):
        del cfg["tdx"]
    return kwtest.run_tests(Broker(config_edit=no_tdx), [t_tdx_not_configured]) or rc


if __name__ == "__main__":
    sys.exit(main())
