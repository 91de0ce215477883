#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Integration: Arm CCA end to end through the real broker, keywarden-hsm and
SoftHSM2 over TLS on loopback, with emulated (NOT ARM) tokens.

The broker trusts one test CPAK (cca.test_cpaks), made here with
python3-cryptography. Two independent token makers meet: kwget --emulate cca
(attester/att_cca_emu.c, libcbor) signs with that CPAK from its --emu-dir,
and CcaAttester below encodes CBOR and COSE_Sign1 itself (written from the
token layout in docs/verifier-cca.md). Every denial checks the status, the
problem document and that nothing was released.
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kwtest  # noqa: E402
from kwtest import Attester, Broker, b64u, jcs  # noqa: E402
from test_tdx import assert_problem, released, secrets_seen, token_claims  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature  # noqa: E402

RES = "cca/key/realm"
# att_cca_emu_opts_default's RIM: 0xc0 + (i & 15) for 64 bytes
KWGET_RIM = bytes(0xC0 + (i & 15) for i in range(64)).hex()
PY_RIM = hashlib.sha512(b"python realm").hexdigest()


class Tag:
    def __init__(self, tag, item):
        self.tag, self.item = tag, item


def cbor(v):
    """Definite-length CBOR of ints, bytes, text, lists, dicts and tags (preferred encoding)."""
    def head(major, n):
        if n < 24:
            return bytes([major << 5 | n])
        for ai, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
            if n < 1 << (8 * size):
                return bytes([major << 5 | ai]) + n.to_bytes(size, "big")
        raise ValueError(n)
    if isinstance(v, Tag):
        return head(6, v.tag) + cbor(v.item)
    if isinstance(v, int):
        return head(0, v) if v >= 0 else head(1, -1 - v)
    if isinstance(v, bytes):
        return head(2, len(v)) + v
    if isinstance(v, str):
        return head(3, len(v.encode())) + v.encode()
    if isinstance(v, list):
        return head(4, len(v)) + b"".join(cbor(x) for x in v)
    if isinstance(v, dict):
        return head(5, len(v)) + b"".join(cbor(k) + cbor(x) for k, x in v.items())
    raise TypeError(type(v))


def sign1(key, claims):
    """COSE_Sign1 (tag 18), ES384 over ["Signature1", protected, h'', payload]."""
    prot = cbor({1: -35})
    payload = cbor(claims)
    r, s = decode_dss_signature(key.sign(cbor(["Signature1", prot, b"", payload]), ec.ECDSA(hashes.SHA384())))
    return cbor(Tag(18, [prot, {}, payload, r.to_bytes(48, "big") + s.to_bytes(48, "big")]))


def point(key):
    return key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


class CcaAttester(Attester):
    """The kwtest client with Arm CCA tokens made in Python."""

    def __init__(self, b, cpak):
        super().__init__(b, tee="cca")
        self.cpak = cpak
        self.rim = bytes.fromhex(PY_RIM)
        self.lifecycle = 0x3000

    def token_bytes(self, challenge, rak_hash=None, realm_key=None, cose_key=False, hash_point=False):
        """cose_key: claim 44237 is the RAK as a COSE_Key (RFC 9053 EC2) and the platform challenge its
        bytes' hash (hash_point: the raw point's hash instead)."""
        rak = ec.generate_private_key(ec.SECP384R1())
        pt = point(rak)
        rak_claim = cbor({-1: 2, 1: 2, -2: pt[1:49], -3: pt[49:], 3: -35}) if cose_key else pt
        vouched = pt if hash_point else rak_claim
        realm = sign1(realm_key or rak, {
            10: challenge, 44235: bytes(64), 44236: "sha-512", 44237: rak_claim, 44238: self.rim,
            44239: [bytes(64), hashlib.sha512(b"rem1").digest(), bytes(64), bytes(64)], 44240: "sha-256"})
        plat = sign1(self.cpak, {
            265: "http://arm.com/CCA-SSD/1.0.0", 10: rak_hash or hashlib.sha256(vouched).digest(),
            2396: b"NOT ARM: kwtest CcaAttester".ljust(32, b"\0"),
            256: b"\x01" + hashlib.sha256(point(self.cpak)).digest(), 2401: b"\xcf\xcf", 2395: self.lifecycle,
            2399: [{1: "RMM", 2: hashlib.sha256(b"rmm").digest(), 4: "1.0", 5: bytes(32)}],
            2400: "https://kwtest.invalid", 2402: "sha-256"})
        return cbor(Tag(399, {44234: plat, 44241: realm}))

    def attest_body(self, nonce=None, report_data=None, **kw):
        rd = self.runtime_data(nonce if nonce is not None else self.nonce())
        digest = hashlib.sha384(jcs(rd)).digest() + bytes(16)
        tok = self.token_bytes(report_data if report_data is not None else digest, **kw)
        return {"runtime-data": rd, "tee-evidence": {"token": b64u(tok)}}


def attester(b, cpak=None):
    """The shared Python client (its RSA-3072 key is made once), reset to the broker's CPAK and defaults."""
    if getattr(b, "cca_attester", None) is None:
        b.cca_attester = CcaAttester(b, b.cpak)
    a = b.cca_attester
    a.cpak, a.rim, a.lifecycle = cpak or b.cpak, bytes.fromhex(PY_RIM), 0x3000
    return a


def kwget(b, emu_dir, *args):
    cmd = [kwtest.KWGET, "--url", b.url, "--cacert", b.ca, "--emulate", "cca", "--emu-dir", emu_dir] + list(args)
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)


def cca_policy(rims, allow_test_roots=True, **extra):
    doc = {"version": 1, "allow_test_roots": allow_test_roots,
           "rules": {"allOf": [{"claim": "tee", "op": "equals", "value": "cca"},
                               {"claim": "lifecycle_state", "op": "equals", "value": "secured"}]},
           "reference_values": {"rim": [{"value": r, "name": "realm %d" % i} for i, r in enumerate(rims)]}}
    doc.update(extra)
    return doc


# ---- the full flow ----

def t_kwget_release_matches_jwcrypto(b):
    """kwget --emulate cca: auth, attest, token, DPoP resource; jwcrypto opens the JWE to kwget's key."""
    d = tempfile.mkdtemp(dir=b.dir)
    out, jwe_p, pem, tok_p = (os.path.join(d, n) for n in ("key", "jwe", "tee.pem", "token"))
    p = kwget(b, b.cca_dir, "--resource", RES, "--out", out, "--jwe-out", jwe_p, "--tee-key-out", pem,
              "--token-out", tok_p)
    assert p.returncode == 0, p.stderr
    assert b"EMULATED Arm CCA token" in p.stderr, p.stderr
    key = open(out, "rb").read()
    assert len(key) == 32
    from jwcrypto import jwe, jwk
    t = jwe.JWE()
    t.deserialize(open(jwe_p).read().strip(), key=jwk.JWK.from_pem(open(pem, "rb").read()))
    assert t.payload == key
    sub = token_claims(open(tok_p).read())
    c = sub["kw.claims"]
    assert c["tee"] == "cca" and c["root"] == "test" and c["rim"] == KWGET_RIM, c
    assert c["cpak"] == b.cpak_jkt and c["lifecycle_state"] == "secured" and c["debug"] is False, c
    assert c["realm_profile"] == "tag:arm.com,2023:realm#1.0.0" and c["realm_hash_alg"] == "sha-512", c
    assert [s["type"] for s in c["sw_components"]] == ["RSE_BL1_2", "RMM"], c["sw_components"]
    assert "report_data" not in c and "rak" not in c, sorted(c)
    assert sub["ear.appraisal-policy-id"] == "urn:keywarden:appraisal:cca-evidence:v1", sub
    # a test CPAK is not genuine hardware
    assert sub["ear.trustworthiness-vector"]["hardware"] == 96 and sub["ear.status"] == "contraindicated", sub
    secrets_seen.append(key)
    b.kwget_key = key


def t_python_attester_same_key(b):
    """The independent Python token: token, DPoP proof, JWE; the same key kwget got."""
    a = attester(b)
    tok, key = released(a, RES)
    c = token_claims(tok)["kw.claims"]
    assert c["rim"] == PY_RIM and c["platform_profile"] == "http://arm.com/CCA-SSD/1.0.0", c
    assert c["rem1"] == hashlib.sha512(b"rem1").hexdigest() and c["implementation_id"].startswith(
        b"NOT ARM".hex()), c
    assert key == b.kwget_key


def t_python_cose_key_rak(b):
    """The Python token with the RAK as a COSE_Key: released (the same key); the platform challenge over
    the raw point while the claim carries the COSE_Key: 401."""
    a = attester(b)
    tok = a.token(cose_key=True)
    st, ct, body = a.resource(tok, RES)
    assert st == 200 and ct == "application/jose", (st, body)
    key = a.decrypt(body)
    secrets_seen.append(key)
    assert key == b.kwget_key
    st, ct, r = a.attest(cose_key=True, hash_point=True)
    assert_problem(st, ct, r, 401, "attestation-failed")
    assert "platform challenge is not the hash of the realm's RAK" in b.log()


def t_rim_mismatch(b):
    """A RIM that is not a reference value: 403 and nothing released (Python and kwget)."""
    a = attester(b)
    a.rim = hashlib.sha512(b"another realm").digest()
    tok = a.token()
    st, ct, body = a.resource(tok, RES)
    assert_problem(st, ct, body, 403)
    p = kwget(b, b.cca_dir, "--resource", RES, "--out", os.path.join(tempfile.mkdtemp(dir=b.dir), "k"),
              "--emu-measurement", "ab" * 48)
    assert p.returncode == 3, (p.returncode, p.stderr)
    assert b"403" in p.stderr, p.stderr
    assert "denied by policy 'cca' v1: rim: rim is not a reference value" in b.log(), b.log()[-2000:]


def t_replayed_challenge(b):
    """The same attest request twice: the challenge is single use."""
    d = tempfile.mkdtemp(dir=b.dir)
    saved = os.path.join(d, "attest.json")
    p = kwget(b, b.cca_dir, "--resource", RES, "--out", os.path.join(d, "k"), "--save-attest-request", saved)
    assert p.returncode == 0, p.stderr
    body = json.load(open(saved))
    assert set(body["tee-evidence"]) == {"token"}, body
    st, ct, r = b.request("POST", "/kbs/v0/attest", body)
    assert_problem(st, ct, r, 401, "attestation-failed")
    a = attester(b)
    body = a.attest_body()
    st, _, r = b.request("POST", "/kbs/v0/attest", body)
    assert st == 200, r
    st, ct, r = b.request("POST", "/kbs/v0/attest", body)
    assert_problem(st, ct, r, 401, "attestation-failed")


def t_wrong_challenge(b):
    """A realm challenge that is not SHA-384(JCS(runtime-data)) ‖ zeros: 401."""
    a = attester(b)
    st, ct, r = a.attest(report_data=bytes(64))
    assert_problem(st, ct, r, 401, "attestation-failed")
    p = kwget(b, b.cca_dir, "--resource", RES, "--out", os.path.join(tempfile.mkdtemp(dir=b.dir), "k"),
              "--emu-report-data", "11" * 64)
    assert p.returncode == 3, (p.returncode, p.stderr)
    assert "report data does not match SHA-384(JCS(runtime-data))" in b.log()


def t_rak_not_vouched(b):
    """A platform challenge that is not the RAK's hash, a realm token not signed by its RAK: 401."""
    a = attester(b)
    st, ct, r = a.attest(rak_hash=hashlib.sha256(b"another RAK").digest())
    assert_problem(st, ct, r, 401, "attestation-failed")
    assert "platform challenge is not the hash of the realm's RAK" in b.log()
    st, ct, r = a.attest(realm_key=ec.generate_private_key(ec.SECP384R1()))
    assert_problem(st, ct, r, 401, "attestation-failed")
    assert "realm token signature does not verify with its RAK" in b.log()


def t_other_cpak(b):
    """A platform token signed by a CPAK the broker was not given: 401 (Python and kwget)."""
    a = attester(b, ec.generate_private_key(ec.SECP384R1()))
    st, ct, r = a.attest()
    assert_problem(st, ct, r, 401, "attestation-failed")
    other = tempfile.mkdtemp(dir=b.dir)     # kwget makes a new CPAK there
    p = kwget(b, other, "--resource", RES, "--out", os.path.join(other, "k"))
    assert p.returncode == 3, (p.returncode, p.stderr)
    assert os.path.exists(os.path.join(other, "cpak-pub.json"))
    assert "platform token is not signed by a configured CPAK" in b.log()


def t_lifecycle(b):
    """A debug lifecycle is a debug platform (no allow_debug: 403); decommissioned fails the rule."""
    a = attester(b)
    for lc, state, debug in ((0x5000, "recoverable-cca-platform-rot-debug", True),
                             (0x6000, "decommissioned", False)):
        a.lifecycle = lc
        tok = a.token()
        c = token_claims(tok)["kw.claims"]
        assert c["lifecycle_state"] == state and c["lifecycle"] == lc and c["debug"] is debug, c
        st, ct, body = a.resource(tok, RES)
        assert_problem(st, ct, body, 403)
    assert "denied by policy 'cca' v1: rules" in b.log(), b.log()[-2000:]


def t_test_anchor_denied(b):
    """Emulated tokens are not released by a policy without allow_test_roots."""
    released(attester(b), "cca/key/production", status=403)


def t_malformed_evidence(b):
    a = attester(b)
    body = a.attest_body()
    body["tee-evidence"] = {"token": 5}
    st, ct, r = b.request("POST", "/kbs/v0/attest", body)
    assert_problem(st, ct, r, 400)
    body = a.attest_body()
    body["tee-evidence"] = {"token": b64u(b"\xd9\x01\x8f\xa2")}      # a cut collection
    st, ct, r = b.request("POST", "/kbs/v0/attest", body)
    assert_problem(st, ct, r, 401, "attestation-failed")
    body = a.attest_body()
    body["tee-evidence"]["extra"] = "x"
    st, ct, r = b.request("POST", "/kbs/v0/attest", body)
    assert_problem(st, ct, r, 400)


def t_logs_hold_no_secrets(b):
    log = b.log()
    for k in secrets_seen:
        for form in (k.hex(), b64u(k)):
            assert form not in log
    assert "trusting CCA TEST CPAK" in log


def t_cca_not_configured(b):
    """The same broker restarted without its cca section refuses CCA at /auth and /attest (400)."""
    body = attester(b).attest_body()
    assert b.stop() == 0
    with open(b.cfg_path) as f:
        cfg = json.load(f)
    del cfg["cca"]
    with open(b.cfg_path, "w") as f:
        json.dump(cfg, f, indent=2)
    b.start()
    st, ct, r = b.request("POST", "/kbs/v0/auth", {"version": "0.1.0", "tee": "cca"})
    assert_problem(st, ct, r, 400, "unsupported")
    st, ct, r = b.request("POST", "/kbs/v0/attest", body)
    assert_problem(st, ct, r, 400)
    st, _, r = Attester(b).attest()     # SNP as ever
    assert st == 200, r


TESTS = [t_kwget_release_matches_jwcrypto, t_python_attester_same_key, t_python_cose_key_rak, t_rim_mismatch,
         t_replayed_challenge, t_wrong_challenge, t_rak_not_vouched, t_other_cpak, t_lifecycle, t_test_anchor_denied,
         t_malformed_evidence, t_logs_hold_no_secrets, t_cca_not_configured]


def main():
    cca_dir = tempfile.mkdtemp(prefix="kwit-cca-")
    cpak = ec.generate_private_key(ec.SECP384R1())
    with open(os.path.join(cca_dir, "cpak.key"), "wb") as f:
        f.write(cpak.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()))
    from jwcrypto import jwk
    pub = jwk.JWK.from_pyca(cpak.public_key())
    with open(os.path.join(cca_dir, "cpak-pub.json"), "w") as f:
        f.write(pub.export_public())

    def with_cca(cfg):
        cfg["cca"] = {"test_cpaks": [os.path.join(cca_dir, "cpak-pub.json")]}
    b = Broker(config_edit=with_cca)
    b.cca_dir, b.cpak, b.cpak_jkt = cca_dir, cpak, pub.thumbprint()

    def setup(b):
        b.provision(RES, policy="cca", document=cca_policy([KWGET_RIM, PY_RIM]))
        b.provision("cca/key/production", policy="prod", document=cca_policy([KWGET_RIM, PY_RIM],
                                                                             allow_test_roots=False))
        b.provision("demo/key/disk")
    try:
        rc = kwtest.run_tests(b, TESTS, setup=setup)
    finally:
        shutil.rmtree(cca_dir, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
