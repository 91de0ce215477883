#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Integration: tpm-akcert end to end through the real broker, keywarden-hsm
and SoftHSM2 over TLS on loopback.

EMULATION, said plainly: there is no TPM here. tests/integration/tpm_emu.py
marshals a TPMS_ATTEST by hand (independently of the tss2-mu the broker
uses), signs it with a software RSA key, certifies that key with a throwaway
test CA named in the broker's tpm.akcert_roots, and constructs an event log
whose replay gives the quoted PCRs. What this shows is the broker's side:
the member reached through the verifier table, the binding of the quote's
extraData to SHA-384(JCS(runtime-data)), the AK certificate chain, the
event log, PCR and event-log policies, the token claims and the release.
Real TPM quotes are checked by the unit tests on Google's Shielded-VM
vectors (tests/unit/tpm) and by the live swtpm tests of the `tpm` type.
"""
import hashlib
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kwtest  # noqa: E402
import tpm_emu  # noqa: E402
from kwtest import Attester, Broker, b64u, jcs  # noqa: E402

from cryptography.hazmat.primitives.asymmetric import ec, rsa  # noqa: E402

RES = "tpm/key/disk"
secrets_seen = []

CA_KEY, CA_CERT = tpm_emu.test_ca()
OTHER_CA_KEY, OTHER_CA_CERT = tpm_emu.test_ca("another CA (not configured)")
AK = rsa.generate_private_key(public_exponent=65537, key_size=2048)
AK_CERT = tpm_emu.ak_cert(CA_KEY, CA_CERT, AK)


# the machine's boot: Secure Boot on, shim 15.8, grub 2.12, vmlinuz 6.1, "root=/dev/vda1 ro quiet"
boot_log = tpm_emu.sample_boot_log
LOG = boot_log()


def sha256hex(b):
    return hashlib.sha256(b).hexdigest()


class TpmAttester(Attester):
    """runtime-data as ever; tee-evidence a quote of PCRs 0..23 (sha256) bound to it."""

    _keys = None

    def __init__(self, b, ak=AK, cert=AK_CERT, log=LOG, send_log=True):
        # Attester's own __init__ makes an RSA-3072 TEE key each time: make one pair, once
        if TpmAttester._keys is None:
            TpmAttester._keys = (rsa.generate_private_key(public_exponent=65537, key_size=3072),
                                 ec.generate_private_key(ec.SECP256R1()))
        self.b, self.tee, self.send_config = b, "tpm-akcert", True
        self.enc, self.sig = TpmAttester._keys
        self.ak, self.cert, self.log, self.send_log = ak, cert, log, send_log

    def attest_body(self, nonce=None, report_data=None, pcrs=None, quote_key=None, **kw):
        rd = self.runtime_data(nonce if nonce is not None else self.nonce())
        extra = report_data if report_data is not None else hashlib.sha384(jcs(rd)).digest()
        values = pcrs or tpm_emu.bank_values(self.log, "sha256")
        public = tpm_emu.tpmt_public(self.ak)
        attest = tpm_emu.attest_quote(tpm_emu.tpm_name(public), extra, {"sha256": values})
        sig = tpm_emu.sign(quote_key or self.ak, attest)
        ev = {"quote": b64u(attest), "signature": b64u(sig), "ak_cert": b64u(self.cert),
              "pcrs": {"sha256": {str(i): v.hex() for i, v in tpm_emu.bank_values(self.log, "sha256").items()}}}
        if self.send_log:
            ev["event_log"] = b64u(self.log.data)
        return {"runtime-data": rd, "tee-evidence": ev}


def assert_problem(st, ctype, body, status, slug=None):
    assert st == status, "expected %d, got %d: %r" % (status, st, body)
    assert ctype.startswith("application/problem+json"), ctype
    if isinstance(body, (bytes, bytearray)):
        body = json.loads(body)
    if slug is not None:
        assert body["type"] == "urn:keywarden:problem:" + slug, body
    return body


def token_claims(token):
    return json.loads(kwtest.b64u_dec(token.split(".")[1]))["submods"]["cpu0"]


def tpm_policy(pcr7=None, kernel=None, secure_boot=True):
    pcr7 = pcr7 or LOG.pcrs["sha256"][7].hex()
    kernel = kernel or sha256hex(b"vmlinuz 6.1")
    return {"version": 1,
            "rules": {"allOf": [{"claim": "tee", "op": "equals", "value": "tpm-akcert"},
                                {"claim": "eventlog.secure_boot", "op": "equals", "value": secure_boot}]},
            "reference_values": {
                "pcrs": {"sha256": {"7": [{"value": pcr7, "name": "Secure Boot on"}]}},
                "eventlog": {"kernel_sha256": [{"value": kernel, "name": "6.1"}],
                             "boot_loader_sha256": [{"value": sha256hex(b"shim 15.8")},
                                                    {"value": sha256hex(b"grub 2.12")}]}}}


def t_release(b):
    """Quote bound to runtime-data, AK certificate from the configured CA: token, DPoP, JWE."""
    a = TpmAttester(b)
    tok = a.token()
    st, ct, body = a.resource(tok, RES)
    assert st == 200 and ct == "application/jose", (st, body)
    key = a.decrypt(body)
    assert len(key) == 32
    secrets_seen.append(key)
    sub = token_claims(tok)
    c = sub["kw.claims"]
    assert c["tee"] == "tpm-akcert" and c["root"] == "ak-ca" and c["debug"] is False, c
    assert c["pcrs"]["sha256"]["7"] == LOG.pcrs["sha256"][7].hex() and len(c["pcrs"]["sha256"]) == 24, c
    assert c["eventlog"]["secure_boot"] is True, c
    assert c["eventlog"]["kernel_sha256"] == sha256hex(b"vmlinuz 6.1"), c
    assert c["eventlog"]["boot_loader_sha256"] == [sha256hex(b"shim 15.8"), sha256hex(b"grub 2.12")], c
    assert c["eventlog"]["kernel_cmdline"] == "root=/dev/vda1 ro quiet", c
    assert c["tpm"]["clock"] == 123456 and c["tpm"]["firmware_version"] == "2019102300163636", c
    assert c["ak_cert_sha256"] == sha256hex(AK_CERT), c
    assert sub["ear.appraisal-policy-id"] == "urn:keywarden:appraisal:tpm-akcert-evidence:v1", sub
    # the same key for a second workload of the same machine
    a2 = TpmAttester(b)
    tok2 = a2.token()
    st, ct, body = a2.resource(tok2, RES)
    assert st == 200 and a2.decrypt(body) == key


def t_pcr_policy_mismatch(b):
    """Authentic evidence, but PCR 7 (or the kernel) is not what the policy pins: 403, nothing released."""
    a = TpmAttester(b)
    for path in ("tpm/key/other-pcr7", "tpm/key/other-kernel", "tpm/key/sb-off"):
        tok = a.token()
        st, ct, body = a.resource(tok, path)
        assert_problem(st, ct, body, 403, "denied")


def t_no_event_log(b):
    """Without an event log the quote still verifies; event-log claims are absent, so the policy denies."""
    a = TpmAttester(b, send_log=False)
    tok = a.token()
    c = token_claims(tok)["kw.claims"]
    assert "eventlog" not in c and c["pcrs"]["sha256"]["7"] == LOG.pcrs["sha256"][7].hex(), c
    st, ct, body = a.resource(tok, RES)
    assert_problem(st, ct, body, 403, "denied")
    st, ct, body = a.resource(tok, "tpm/key/pcr-only")
    assert st == 200, (st, body)
    secrets_seen.append(a.decrypt(body))


def t_wrong_binding(b):
    a = TpmAttester(b)
    st, ct, r = a.attest(report_data=hashlib.sha384(b"something else").digest())
    assert_problem(st, ct, r, 401, "attestation-failed")
    st, ct, r = a.attest(report_data=hashlib.sha384(b"x").digest() + bytes(16))   # 64 bytes: not the digest
    assert_problem(st, ct, r, 401, "attestation-failed")
    assert "quote nonce (extraData) does not match" in b.log()


def t_ak_cert_from_another_ca(b):
    a = TpmAttester(b, cert=tpm_emu.ak_cert(OTHER_CA_KEY, OTHER_CA_CERT, AK))
    st, ct, r = a.attest()
    assert_problem(st, ct, r, 401, "attestation-failed")
    assert "AK certificate does not chain to a configured AK CA" in b.log()


def t_quote_signed_by_another_key(b):
    """The certificate is genuine, but the quote was signed by a key it does not certify."""
    a = TpmAttester(b)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    st, ct, r = a.attest(quote_key=other)
    assert_problem(st, ct, r, 401, "attestation-failed")
    assert "quote signature does not verify with the AK certificate's key" in b.log()


def t_pcr_values_not_quoted(b):
    """PCR values in tee-evidence that are not the quoted ones (pcrDigest mismatch)."""
    a = TpmAttester(b)
    body = a.attest_body()
    body["tee-evidence"]["pcrs"]["sha256"]["7"] = "00" * 32
    st, ct, r = b.request("POST", "/kbs/v0/attest", body)
    assert_problem(st, ct, r, 401, "attestation-failed")


def t_event_log_does_not_replay(b):
    """A log with one more kernel than the PCRs hold."""
    log = boot_log()
    quoted = tpm_emu.bank_values(log, "sha256")
    log.boot_app(b"vmlinuz evil")
    a = TpmAttester(b, log=log)
    st, ct, r = a.attest(pcrs=quoted)
    assert_problem(st, ct, r, 401, "attestation-failed")


def t_replayed_challenge(b):
    kwtest.assert_single_use(b, TpmAttester(b).attest_body())


def t_challenge_of_another_tee(b):
    a = TpmAttester(b)
    st, ct, r = b.request("POST", "/kbs/v0/attest", a.attest_body(nonce=a.nonce(tee="snp")))
    assert_problem(st, ct, r, 401, "attestation-failed")


def t_malformed_evidence(b):
    a = TpmAttester(b)
    for change in ({"extra": "x"}, {"signature": "!!!"}, {"pcrs": {"sha256": {"0": "00"}}},
                   {"event_log": 5}, {"cc_eventlog": "AA"}):
        body = a.attest_body()
        body["tee-evidence"].update(change)
        st, ct, r = b.request("POST", "/kbs/v0/attest", body)
        assert_problem(st, ct, r, 400)
    body = a.attest_body()
    q = kwtest.b64u_dec(body["tee-evidence"]["quote"])
    for cut in (q[:10], q[:len(q) - 1]):
        body["tee-evidence"]["quote"] = b64u(cut)
        st, ct, r = b.request("POST", "/kbs/v0/attest", body)
        assert_problem(st, ct, r, 401, "attestation-failed")


def t_snp_unchanged(b):
    out = os.path.join(tempfile.mkdtemp(dir=b.dir), "k")
    b.kwget("--resource", "demo/key/disk", "--out", out, check=True)
    secrets_seen.append(open(out, "rb").read())


def t_logs_hold_no_secrets(b):
    log = b.log()
    assert "attested tee=tpm-akcert ak_cert_sha256=%s" % sha256hex(AK_CERT)[:32] in log, log[-2000:]
    assert "tpm.akcert_roots: 1 AK CA certificate(s)" in log
    kwtest.assert_no_secrets(log, secrets_seen)


def t_not_configured(b):
    """A broker without tpm.akcert_roots refuses tpm-akcert at /auth and /attest."""
    st, ct, r = b.request("POST", "/kbs/v0/auth", {"version": "0.1.0", "tee": "tpm-akcert"})
    assert_problem(st, ct, r, 400, "unsupported")
    a = TpmAttester(b)
    st, ct, r = b.request("POST", "/kbs/v0/attest", a.attest_body(nonce=a.nonce(tee="snp")))
    assert_problem(st, ct, r, 400, "unsupported")


TESTS = [t_release, t_pcr_policy_mismatch, t_no_event_log, t_wrong_binding, t_ak_cert_from_another_ca,
         t_quote_signed_by_another_key, t_pcr_values_not_quoted, t_event_log_does_not_replay,
         t_replayed_challenge, t_challenge_of_another_tee, t_malformed_evidence, t_snp_unchanged,
         t_logs_hold_no_secrets]


def main():
    cadir = tempfile.mkdtemp(prefix="kwit-akca-")
    ca_path = os.path.join(cadir, "ak-ca.pem")
    with open(ca_path, "wb") as f:
        f.write(tpm_emu.pem(CA_CERT))

    def with_tpm(cfg):
        cfg["tpm"] = {"akcert_roots": [ca_path]}

    def setup(b):
        b.provision(RES, policy="tpm", document=tpm_policy())
        b.provision("tpm/key/other-pcr7", policy="pcr7", document=tpm_policy(pcr7="11" * 32))
        b.provision("tpm/key/other-kernel", policy="kernel", document=tpm_policy(kernel=sha256hex(b"vmlinuz 6.2")))
        b.provision("tpm/key/sb-off", policy="sboff", document=tpm_policy(secure_boot=False))
        b.provision("tpm/key/pcr-only", policy="pcronly", document={
            "version": 1, "reference_values": {"pcrs": {"sha256": {"7": [{"value": LOG.pcrs["sha256"][7].hex()}]}}}})
        b.provision("demo/key/disk")
    try:
        rc = kwtest.run_tests(Broker(config_edit=with_tpm), TESTS, setup=setup)
        return kwtest.run_tests(Broker(), [t_not_configured]) or rc
    finally:
        import shutil
        shutil.rmtree(cadir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
