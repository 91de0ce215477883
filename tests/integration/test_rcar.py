#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Integration: the real broker, keywarden-hsm and SoftHSM2, TLS on loopback.

Every negative case checks the status, that the body is RFC 7807 problem
JSON, and that nothing was released. At the end the broker's log is searched
for the demo key's bytes (hex, base64, base64url) and the HSM PIN.
"""
import base64
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kwtest  # noqa: E402
from kwtest import Attester, Broker, b64u  # noqa: E402

RES = "demo/key/disk"
secrets_seen = []   # every key value a test obtained, for the log grep


def assert_problem(st, ctype, body, status):
    assert st == status, "expected %d, got %d: %r" % (status, st, body)
    assert ctype.startswith("application/problem+json"), ctype
    if isinstance(body, (bytes, bytearray)):
        body = json.loads(body)
    assert body["status"] == status and body["title"] and body["type"].startswith("urn:keywarden:problem:"), body
    return body


def t_kwget_release_matches_jwcrypto(b):
    """kwget's plaintext equals what python3-jwcrypto decrypts from the same JWE."""
    d = tempfile.mkdtemp(dir=b.dir)
    out, jwe_p, pem = (os.path.join(d, n) for n in ("key", "jwe", "tee.pem"))
    p = b.kwget("--resource", RES, "--out", out, "--jwe-out", jwe_p, "--tee-key-out", pem, check=True)
    key = open(out, "rb").read()
    assert len(key) == 32, len(key)
    assert (os.stat(out).st_mode & 0o777) == 0o600
    from jwcrypto import jwe, jwk
    tok = jwe.JWE()
    tok.deserialize(open(jwe_p).read().strip(), key=jwk.JWK.from_pem(open(pem, "rb").read()))
    assert tok.payload == key
    hdr = json.loads(kwtest.b64u_dec(open(jwe_p).read().split(".")[0]))
    assert hdr["alg"] == "RSA-OAEP" and hdr["enc"] == "A256CBC-HS512", hdr
    assert key.hex() not in p.stderr.decode() + p.stdout.decode()
    secrets_seen.append(key)


def t_two_tee_keys_same_secret(b):
    """Two releases to two different TEE keys decrypt to the same key; the JWEs differ."""
    a1, a2 = Attester(b), Attester(b)
    s1, s2 = a1.token(), a2.token()
    st1, c1, j1 = a1.resource(s1, RES)
    st2, c2, j2 = a2.resource(s2, RES)
    assert st1 == 200 and st2 == 200, (st1, st2, j1, j2)
    assert c1 == "application/jose"
    assert j1 != j2
    k1, k2 = a1.decrypt(j1), a2.decrypt(j2)
    assert k1 == k2 and len(k1) == 32
    # the other TEE's private key cannot open it
    try:
        a2.decrypt(j1)
    except Exception:
        pass
    else:
        raise AssertionError("a JWE for TEE 1 opened with TEE 2's key")
    # and kwget gets the very same key
    out = os.path.join(tempfile.mkdtemp(dir=b.dir), "k")
    b.kwget("--resource", RES, "--out", out, check=True)
    assert open(out, "rb").read() == k1
    secrets_seen.append(k1)


def t_replayed_nonce(b):
    a = Attester(b)
    body = a.attest_body()
    st, _, r = b.request("POST", "/kbs/v0/attest", body)
    assert st == 200, r
    st, ct, r = b.request("POST", "/kbs/v0/attest", body)
    assert_problem(st, ct, r, 401)


def t_kwget_replayed_attest_request(b):
    """kwget's own attest request, sent again, is refused."""
    req = os.path.join(tempfile.mkdtemp(dir=b.dir), "attest.json")
    b.kwget("--resource", RES, "--save-attest-request", req, "--out",
            os.path.join(os.path.dirname(req), "k"), check=True)
    st, ct, r = b.request("POST", "/kbs/v0/attest", open(req, "rb").read(),
                          headers={"Content-Type": "application/json"})
    assert_problem(st, ct, r, 401)


def t_forged_and_foreign_nonce(b):
    a = Attester(b)
    n = a.nonce()
    raw = bytearray(kwtest.b64u_dec(n))
    raw[20] ^= 1
    st, ct, r = a.attest(nonce=b64u(bytes(raw)))
    assert_problem(st, ct, r, 401)
    st, ct, r = a.attest(nonce=b64u(os.urandom(73)))
    assert_problem(st, ct, r, 401)


def t_wrong_report_data(b):
    a = Attester(b)
    st, ct, r = a.attest(report_data=bytes(64))
    assert_problem(st, ct, r, 401)
    # kwget with an overridden report data fails the same way and writes nothing
    out = os.path.join(tempfile.mkdtemp(dir=b.dir), "k")
    p = b.kwget("--resource", RES, "--out", out, "--emu-report-data", "11" * 64)
    assert p.returncode == 3, (p.returncode, p.stderr)
    assert b"401" in p.stderr, p.stderr
    assert not os.path.exists(out)


def t_bad_signature(b):
    a = Attester(b)
    body = a.attest_body()
    rep = bytearray(kwtest.b64u_dec(body["tee-evidence"]["report"]))
    rep[0x90] ^= 0x80    # measurement bit flip after signing
    body["tee-evidence"]["report"] = b64u(bytes(rep))
    st, ct, r = b.request("POST", "/kbs/v0/attest", body)
    assert_problem(st, ct, r, 401)


def t_unsupported_report_version(b):
    """A report version the verifier does not know (9), validly signed, is evidence
    that does not verify: 401 attestation-failed as docs/protocol.md says; the
    challenge is not spent, so the same nonce still works with good evidence."""
    a = Attester(b)
    nonce = a.nonce()
    body = a.attest_body(nonce=nonce, version=9)
    st, ct, r = b.request("POST", "/kbs/v0/attest", body)
    p = assert_problem(st, ct, r, 401)
    assert p["type"] == "urn:keywarden:problem:attestation-failed", p
    st, _, r = b.request("POST", "/kbs/v0/attest", a.attest_body(nonce=nonce))
    assert st == 200, (st, r)


def t_measurement_not_allowed(b):
    a = Attester(b)
    s = a.token(measurement="ab" * 48)
    st, ct, r = a.resource(s, RES)
    assert_problem(st, ct, r, 403)
    p = b.kwget("--resource", RES, "--emu-measurement", "cd" * 48,
                "--out", os.path.join(tempfile.mkdtemp(dir=b.dir), "k"))
    assert p.returncode == 3 and b"403" in p.stderr, (p.returncode, p.stderr)


def t_debug_guest(b):
    a = Attester(b)
    s = a.token(debug=True)
    st, ct, r = a.resource(s, RES)
    assert_problem(st, ct, r, 403)
    p = b.kwget("--resource", RES, "--emu-debug", "--out", os.path.join(tempfile.mkdtemp(dir=b.dir), "k"))
    assert p.returncode == 3 and b"403" in p.stderr, (p.returncode, p.stderr)
    # a resource whose rule allows debug guests releases to the same session
    st, ct, jwe_c = a.resource(s, "demo/key/debug-ok")
    assert st == 200, (st, jwe_c)
    secrets_seen.append(a.decrypt(jwe_c))


def t_unknown_resource(b):
    a = Attester(b)
    s = a.token()
    st, ct, r = a.resource(s, "demo/key/nope")
    assert_problem(st, ct, r, 404)
    p = b.kwget("--resource", "demo/key/nope", "--out", os.path.join(tempfile.mkdtemp(dir=b.dir), "k"))
    assert p.returncode == 4, (p.returncode, p.stderr)


def t_path_tricks(b):
    a = Attester(b)
    s = a.token()
    for path in ("demo/../key/disk", "demo/key/..", "demo/%2e%2e/disk", "demo/key/disk/extra",
                 "demo//disk", "demo/key/di%73k", "demo/key/disk%00"):
        st, ct, r = a.resource(s, path)
        assert_problem(st, ct, r, 400)


def t_no_token(b):
    st, ct, r = b.request("GET", "/kbs/v0/resource/" + RES, raw=True)
    assert_problem(st, ct, r, 401)
    assert b.last_headers.get("www-authenticate", "").startswith("DPoP"), b.last_headers
    a = Attester(b)
    tok = a.token()
    st, ct, r = a.resource(tok, RES, auth_scheme="Bearer")
    assert_problem(st, ct, r, 401)
    st, ct, r = a.resource(b64u(os.urandom(32)), RES)
    assert_problem(st, ct, r, 401)


def t_malformed_json(b):
    for path in ("/kbs/v0/auth", "/kbs/v0/attest"):
        for body in (b"{bad", b"[]", b"", b'{"a":1,"a":2}', b"{" * 40 + b"}" * 40):
            st, ct, r = b.request("POST", path, body, headers={"Content-Type": "application/json"})
            assert_problem(st, ct, r, 400)
    st, ct, r = b.request("POST", "/kbs/v0/auth", {"version": "0.1.0", "tee": "tpm"})
    assert_problem(st, ct, r, 400)
    st, ct, r = b.request("POST", "/kbs/v0/auth", {"version": "0.1.0", "tee": "snp", "x": 1})
    assert_problem(st, ct, r, 400)
    a = Attester(b)
    body = a.attest_body()
    body["runtime-data"]["tee-pubkey"] = {"kty": "RSA", "n": "AQAB", "e": "AQAB"}
    st, ct, r = b.request("POST", "/kbs/v0/attest", body)
    assert_problem(st, ct, r, 400)
    body = a.attest_body()
    body["tee-evidence"]["report"] = "!!!"
    st, ct, r = b.request("POST", "/kbs/v0/attest", body)
    assert_problem(st, ct, r, 400)
    body = a.attest_body()
    body["tee-evidence"]["report"] = b64u(kwtest.b64u_dec(body["tee-evidence"]["report"])[:1000])
    st, ct, r = b.request("POST", "/kbs/v0/attest", body)
    assert st in (400, 401), st


def t_oversized_body(b):
    big = b'{"x":"' + b"A" * (400 * 1024) + b'"}'
    for path in ("/kbs/v0/auth", "/kbs/v0/attest"):
        st, ct, r = b.request("POST", path, big, headers={"Content-Type": "application/json"})
        assert_problem(st, ct, r, 413)


def t_method_and_endpoint(b):
    st, ct, r = b.request("GET", "/kbs/v0/auth", raw=True)
    assert_problem(st, ct, r, 405)
    st, ct, r = b.request("GET", "/nothing-here", raw=True)
    assert_problem(st, ct, r, 404)


def t_tls13_only(b):
    import socket
    import ssl
    ctx = ssl.create_default_context(cafile=b.ca)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    try:
        with socket.create_connection(("127.0.0.1", b.port), timeout=10) as s:
            with ctx.wrap_socket(s, server_hostname="localhost"):
                pass
    except ssl.SSLError:
        return
    raise AssertionError("TLS 1.2 handshake accepted")


def t_logs_hold_no_secrets(b):
    log = b.log()
    assert "released 'demo/key/disk" in log, log[-2000:]
    pin = open(os.path.join(b.dir, "hsm.pin")).read().strip()
    assert pin not in log
    assert secrets_seen, "no secret was obtained to search for"
    for k in secrets_seen:
        for form in (k.hex(), k.hex().upper(), base64.b64encode(k).decode().rstrip("="),
                     b64u(k)):
            assert form not in log, "key material in the broker log"


TESTS = [t_unsupported_report_version, t_kwget_release_matches_jwcrypto, t_two_tee_keys_same_secret, t_replayed_nonce,
         t_kwget_replayed_attest_request, t_forged_and_foreign_nonce, t_wrong_report_data,
         t_bad_signature, t_measurement_not_allowed, t_debug_guest, t_unknown_resource,
         t_path_tricks, t_no_token, t_malformed_json, t_oversized_body,
         t_method_and_endpoint, t_tls13_only]


def main():
    def setup(b):
        b.provision(RES)
        b.provision("demo/key/debug-ok", algorithm="aes-128", policy="debug-ok",
                    document=kwtest.policy_for(b.emu["measurement"], allow_debug=True))
    return kwtest.run_tests(Broker(), TESTS + [t_logs_hold_no_secrets], setup=setup)


if __name__ == "__main__":
    sys.exit(main())
