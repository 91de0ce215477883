# SPDX-License-Identifier: Apache-2.0
"""The `tpm` evidence type live: kwget --tee tpm <-> swtpm <-> the real broker
(TLS on loopback, keywarden-hsm, SoftHSM2), with credential activation.

Three swtpms are manufactured (kwswtpm.py): A and B with EK certificates from
the CA the broker trusts (tpm.ek_roots), C from another CA. The test extends
PCRs 8 and 9 of A and writes the matching TCG event log; kwget attests with
TPM A and the release, decrypted independently with python3-jwcrypto, equals
kwget's key. An independent client (tpm2-tools, not kwget's code) then shows
that a credential activated by TPM B does not pass for A's challenge, that
TPM B cannot activate A's credential, that a replayed /attest is refused,
that an EK from another CA and an AK that is not a restricted signing key
are refused at /auth, and that a PCR policy mismatch denies the release.
The configuration manifest in PCR 23: kwget's TPM2_PCR_Event(23,
SHA-384(JCS(config))) is in the quoted PCR 23 and becomes tpm.config_sha384;
a tampered event, a PCR 23 extended after it, and an event whose digest is
not that of runtime-data.config are refused (tpm2-tools as the client).
"""
import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kwtest import KWGET, Attester, Broker, b64u, b64u_dec, jcs, run_tests  # noqa: E402
from kwswtpm import EkCA, Swtpm  # noqa: E402

WORK = tempfile.mkdtemp(prefix="kwit-tpm-")
CA = EkCA(WORK)
OTHER_CA = EkCA(WORK, "keywarden other CA")
TPM_A = Swtpm(WORK, CA, "tpm-a")
TPM_B = Swtpm(WORK, CA, "tpm-b")
TPM_C = Swtpm(WORK, OTHER_CA, "tpm-c")
KEYS = {}     # resource -> the key kwget got

EV_IPL = 0x0000000D
EV_NO_ACTION = 0x00000003
CMDLINE = b"console=ttyS0 root=/dev/vda1 keywarden.test=1"
PCR8_EVENTS = [b"kernel_cmdline: " + CMDLINE]
PCR9_EVENTS = [b"(hd0,gpt2)/vmlinuz-test", b"(hd0,gpt2)/initrd-test"]
EXPECTED = {}   # PCR index -> hex after the test's extends


def event_log_and_extend(tpm, path):
    """Extend PCRs 8 and 9 of tpm with the test's events and write the matching
    TCG crypto-agile log (Spec ID event, then TCG_PCR_EVENT2 records, sha256 only)."""
    spec = (b"Spec ID Event03\0" + struct.pack("<IBBBBI", 0, 0, 2, 0, 2, 1) +
            struct.pack("<HH", 0x000B, 32) + b"\0")
    log = struct.pack("<II", 0, EV_NO_ACTION) + bytes(20) + struct.pack("<I", len(spec)) + spec
    pcr = {8: bytes(32), 9: bytes(32)}
    records = [(8, ev, hashlib.sha256(ev[len(b"kernel_cmdline: "):]).digest()) for ev in PCR8_EVENTS]
    records += [(9, ev, hashlib.sha256(ev).digest()) for ev in PCR9_EVENTS]
    for idx, data, digest in records:
        tpm.tools("tpm2_pcrextend", "%d:sha256=%s" % (idx, digest.hex()))
        pcr[idx] = hashlib.sha256(pcr[idx] + digest).digest()
        log += struct.pack("<IIIH", idx, EV_IPL, 1, 0x000B) + digest + struct.pack("<I", len(data)) + data
    with open(path, "wb") as f:
        f.write(log)
    for idx in (8, 9):
        EXPECTED[idx] = pcr[idx].hex()


class ToolsTpm:
    """An independent TPM client with tpm2-tools: EK, AK (a child of the EK, as
    tpm2_createak makes it), ActivateCredential, quotes."""

    def __init__(self, tpm, name):
        self.tpm = tpm
        self.dir = os.path.join(WORK, "tools-" + name)
        os.makedirs(self.dir)
        self.p = lambda f: os.path.join(self.dir, f)
        self.t = self.run
        self.t("tpm2_createek", "-c", self.p("ek.ctx"), "-G", "rsa", "-u", self.p("ek.pub"))
        self.t("tpm2_createak", "-C", self.p("ek.ctx"), "-c", self.p("ak.ctx"), "-G", "rsa", "-g", "sha256",
                  "-s", "rsassa", "-u", self.p("ak.pub"), "-n", self.p("ak.name"))
        self.t("tpm2_nvread", "0x01c00002", "-o", self.p("ek.der"))
        self.ek_cert = open(self.p("ek.der"), "rb").read()
        self.ak_public = open(self.p("ak.pub"), "rb").read()

    @staticmethod
    def ek_cert_of(tpm):
        path = os.path.join(tpm.dir, "ek-cert.der")
        tpm.tools("tpm2_nvread", "0x01c00002", "-o", path)
        return open(path, "rb").read()

    def run(self, *args):
        """One tpm2-tools command; without a resource manager the tools leave their
        transient objects loaded, and swtpm has room for three: flush them."""
        try:
            return self.tpm.tools(*args)
        finally:
            self.tpm.tools("tpm2_flushcontext", "-t")

    def auth_params(self):
        return {"ek_cert": b64u(self.ek_cert), "ak_public": b64u(self.ak_public)}

    def activate(self, extra, ak_ctx=None):
        """ActivateCredential of the broker's answer with our AK (or the object of ak_ctx);
        the secret, or None when the TPM refuses."""
        blob, sec = b64u_dec(extra["credential_blob"]), b64u_dec(extra["encrypted_secret"])
        with open(self.p("cred.in"), "wb") as f:
            f.write(struct.pack(">II", 0xBADCC0DE, 1) + blob + sec)   # tpm2-tools' credential file
        out = self.p("cred.out")
        if os.path.exists(out):
            os.unlink(out)
        self.run("tpm2_startauthsession", "--policy-session", "-S", self.p("s.ctx"))
        try:
            self.run("tpm2_policysecret", "-S", self.p("s.ctx"), "-c", "e")
            try:
                self.run("tpm2_activatecredential", "-c", ak_ctx or self.p("ak.ctx"), "-C", self.p("ek.ctx"),
                               "-i", self.p("cred.in"), "-o", out, "-P", "session:" + self.p("s.ctx"))
            except RuntimeError:
                return None
        finally:
            self.tpm.tools("tpm2_flushcontext", self.p("s.ctx"))
        return open(out, "rb").read()

    def quote(self, qualifying):
        for f in ("q.msg", "q.sig"):
            if os.path.exists(self.p(f)):
                os.unlink(self.p(f))
        self.run("tpm2_quote", "-c", self.p("ak.ctx"), "-l", "sha256:all", "-q", qualifying.hex(),
                       "-m", self.p("q.msg"), "-s", self.p("q.sig"), "-g", "sha256")
        text = self.tpm.tools("tpm2_pcrread", "sha256:all").decode()
        pcrs = {m.group(1): m.group(2).lower() for m in re.finditer(r"^\s+(\d+)\s*:\s*0x([0-9A-Fa-f]{64})", text, re.M)}
        assert len(pcrs) == 24, text
        return open(self.p("q.msg"), "rb").read(), open(self.p("q.sig"), "rb").read(), {"sha256": pcrs}

    def evidence(self, rd, credential):
        q, s, pcrs = self.quote(hashlib.sha384(jcs(rd)).digest())
        ev = self.auth_params()
        ev.update({"credential": b64u(credential), "quote": b64u(q), "signature": b64u(s), "pcrs": pcrs})
        return ev


_TOOLS = {}


def tools(tpm):
    """The tpm2-tools client of tpm, made once (each makes an EK and an AK: RSA key generation)."""
    if tpm.dir not in _TOOLS:
        _TOOLS[tpm.dir] = ToolsTpm(tpm, os.path.basename(tpm.dir))
    return _TOOLS[tpm.dir]


def auth(b, params, tee="tpm"):
    return b.request("POST", "/kbs/v0/auth", {"version": "0.1.0", "tee": tee, "extra-params": params})


def kwget(b, tpm, *args):
    cmd = [KWGET, "--url", b.url, "--cacert", b.ca, "--tee", "tpm"] + list(args)
    return subprocess.run(cmd, env=tpm.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)


def policy(pcr8=None):
    rules = [{"claim": "tee", "op": "equals", "value": "tpm"},
             {"claim": "root", "op": "equals", "value": "ek-ca"},
             {"claim": "pcrs.sha256.8", "op": "equals", "value": pcr8 or EXPECTED[8]},
             {"claim": "pcrs.sha256.9", "op": "equals", "value": EXPECTED[9]}]
    return {"version": 1, "rules": {"allOf": rules}}


def setup(b):
    event_log_and_extend(TPM_A, os.path.join(WORK, "event.log"))
    b.provision("tpm/key/good", policy="pcrs", document=policy())
    b.provision("tpm/key/other", policy="otherpcrs", document=policy(pcr8=hashlib.sha256(b"x").hexdigest()))


def test_kwget_release(b):
    d = tempfile.mkdtemp(dir=WORK)
    out, jwe, key, body, token = (os.path.join(d, f) for f in ("key", "jwe", "tee.pem", "attest.json", "token"))
    p = kwget(b, TPM_A, "--resource", "tpm/key/good", "--out", out, "--jwe-out", jwe, "--tee-key-out", key,
              "--save-attest-request", body, "--token-out", token,
              "--tpm-event-log", os.path.join(WORK, "event.log"))
    assert p.returncode == 0, p.stderr.decode()
    from jwcrypto import jwe as jwe_mod, jwk
    tok = jwe_mod.JWE()
    tok.deserialize(open(jwe).read(), key=jwk.JWK.from_pem(open(key, "rb").read()))
    got = open(out, "rb").read()
    assert len(got) == 32 and tok.payload == got
    KEYS["tpm/key/good"] = got
    req = json.load(open(body))
    ev = req["tee-evidence"]
    assert set(ev) == {"credential", "ek_cert", "ak_public", "quote", "signature", "pcrs", "event_log",
                       "runtime_events"}, set(ev)
    # the manifest's digest went into PCR 23 (reset, then TPM2_PCR_Event) and the quote holds it
    cfg_md = hashlib.sha384(jcs(req["runtime-data"]["config"])).digest()
    assert req["runtime-data"]["config"] != {} and ev["runtime_events"] == [{"pcr": 23, "data": b64u(cfg_md)}]
    assert ev["pcrs"]["sha256"]["23"] == pcr23_after(cfg_md), ev["pcrs"]["sha256"]["23"]
    assert pcr23_now(TPM_A) == pcr23_after(cfg_md)
    assert ev["pcrs"]["sha256"]["8"] == EXPECTED[8] and ev["pcrs"]["sha256"]["9"] == EXPECTED[9]
    assert len(b64u_dec(ev["credential"])) == 32
    # the token's claims: the EK's CA, the AK, the quoted PCRs and the replayed event log
    claims = json.loads(b64u_dec(open(token).read().split(".")[1]))["submods"]["cpu0"]["kw.claims"]
    assert claims["tee"] == "tpm" and claims["root"] == "ek-ca" and claims["debug"] is False, claims
    assert claims["ek"]["issuer"] == "CN=keywarden test EK CA", claims["ek"]
    assert claims["ek"]["sha256"] == hashlib.sha256(ToolsTpm.ek_cert_of(TPM_A)).hexdigest()
    assert claims["pcrs"]["sha256"]["8"] == EXPECTED[8] and len(claims["pcrs"]["sha256"]) == 24
    assert claims["eventlog"]["kernel_cmdline"] == CMDLINE.decode(), claims["eventlog"]
    assert claims["ak_name"].startswith("000b") and len(claims["ak_name"]) == 68
    assert claims["tpm"]["config_sha384"] == cfg_md.hex(), claims["tpm"]
    assert claims["config"] == req["runtime-data"]["config"]
    log = b.log()
    assert "attested tee=tpm" in log and ev["credential"] not in log
    # the same /attest again: the challenge was spent
    st, _, resp = b.request("POST", "/kbs/v0/attest", json.load(open(body)))
    assert st == 401 and resp["type"].endswith("attestation-failed"), (st, resp)


def pcr23_after(data):
    """PCR 23 (sha256) after TPM2_PCR_Reset(23) and TPM2_PCR_Event(23, data)."""
    return hashlib.sha256(bytes(32) + hashlib.sha256(data).digest()).hexdigest()


def pcr23_now(tpm):
    text = tpm.tools("tpm2_pcrread", "sha256:23").decode()
    return re.search(r"23\s*:\s*0x([0-9A-Fa-f]{64})", text).group(1).lower()


def test_kwget_no_manifest(b):
    """--no-manifest: no runtime event, PCR 23 untouched, no claim; the key as before."""
    TPM_A.tools("tpm2_pcrreset", "23")
    TPM_A.tools("tpm2_pcrextend", "23:sha256=" + "ab" * 32)
    before = pcr23_now(TPM_A)
    d = tempfile.mkdtemp(dir=WORK)
    out, body, token = (os.path.join(d, f) for f in ("key", "attest.json", "token"))
    p = kwget(b, TPM_A, "--resource", "tpm/key/good", "--out", out, "--no-manifest", "--tpm-no-event-log",
              "--save-attest-request", body, "--token-out", token)
    assert p.returncode == 0, p.stderr.decode()
    assert open(out, "rb").read() == KEYS["tpm/key/good"]
    assert "runtime_events" not in json.load(open(body))["tee-evidence"]
    assert pcr23_now(TPM_A) == before
    claims = json.loads(b64u_dec(open(token).read().split(".")[1]))["submods"]["cpu0"]["kw.claims"]
    assert "config_sha384" not in claims["tpm"] and claims["config"] == {}, claims


def test_pcr23_replay(b):
    """tpm2-tools on TPM B: PCR 23 = reset + TPM2_PCR_Event(23, digest), sent as runtime_events."""
    tb = tools(TPM_B)
    att = Attester(b, tee="tpm")
    st, _, ans = auth(b, tb.auth_params())
    assert st == 200, (st, ans)
    cred = tb.activate(ans["extra-params"])
    rd = att.runtime_data(ans["nonce"])
    rd["config"] = {"crypto": {"rsa_bits": 3072, "ec_bits": 384, "symmetric_bits": 256}}
    good = hashlib.sha384(jcs(rd["config"])).digest()
    other = hashlib.sha384(jcs({"crypto": {"rsa_bits": 2048}})).digest()

    def event(data):
        path = tb.p("event.bin")
        with open(path, "wb") as f:
            f.write(data)
        tb.run("tpm2_pcrreset", "23")
        tb.run("tpm2_pcrevent", "23", path)
        assert pcr23_now(TPM_B) == pcr23_after(data)

    def attest(data):
        ev = tb.evidence(rd, cred)
        ev["runtime_events"] = [{"pcr": 23, "data": b64u(data)}]
        return b.request("POST", "/kbs/v0/attest", {"runtime-data": rd, "tee-evidence": ev})

    # PCR 23 and the event agree, but the digest is not that of runtime-data.config: the broker refuses
    event(other)
    st, _, resp = attest(other)
    assert st == 401 and "tpm.config_sha384 (PCR 23) is not SHA-384(JCS(runtime-data.config))" in \
        resp.get("detail", ""), (st, resp)
    # the event's data tampered with (PCR 23 holds other): the replay fails
    st, _, resp = attest(good)
    assert st == 401, (st, resp)
    assert "PCR 23 does not replay to the runtime event" in b.log()
    # kwget's event, then PCR 23 extended by something else
    event(good)
    tb.run("tpm2_pcrextend", "23:sha256=" + hashlib.sha256(b"later").hexdigest())
    st, _, resp = attest(good)
    assert st == 401, (st, resp)
    # the positive control with the same challenge (nothing was spent by the refusals)
    event(good)
    st, _, resp = attest(good)
    assert st == 200 and "token" in resp, (st, resp)
    claims = json.loads(b64u_dec(resp["token"].split(".")[1]))["submods"]["cpu0"]["kw.claims"]
    assert claims["tpm"]["config_sha384"] == good.hex() and claims["pcrs"]["sha256"]["23"] == pcr23_after(good)
    # a malformed runtime event is refused before any cryptography
    st, _, ans = auth(b, tb.auth_params())
    cred = tb.activate(ans["extra-params"])
    rd = att.runtime_data(ans["nonce"])
    ev = tb.evidence(rd, cred)
    ev["runtime_events"] = [{"pcr": 22, "data": b64u(good)}]
    st, _, resp = b.request("POST", "/kbs/v0/attest", {"runtime-data": rd, "tee-evidence": ev})
    assert st == 400 and resp["type"].endswith("malformed"), (st, resp)


def test_auto_detect(b):
    """No --tee: kwget finds the TPM (swtpm through TPM2TOOLS_TCTI) and releases the key; --detect says so."""
    env = TPM_A.env()
    env.pop("KWGET_TCTI", None)
    env["KWA_TEST_TSM_DIR"] = "/nonexistent/tsm/report"   # this machine's configfs-tsm does not count
    p = subprocess.run([KWGET, "--detect"], env=env, capture_output=True, timeout=60)
    assert p.returncode == 0 and p.stderr == b"", p
    assert p.stdout.decode().splitlines() == [
        "configfs-tsm: absent (/nonexistent/tsm/report)", "tpm: present (%s)" % TPM_A.tcti,
        "azure-vtpm: absent (no HCL report in NV 0x01400001)", "tee: tpm"], p.stdout
    out = os.path.join(tempfile.mkdtemp(dir=WORK), "key")
    p = subprocess.run([KWGET, "--url", b.url, "--cacert", b.ca, "--resource", "tpm/key/good", "--out", out],
                       env=env, capture_output=True, timeout=120)
    assert p.returncode == 0, p.stderr.decode()
    assert "detected: tpm (TPM at '%s')" % TPM_A.tcti in p.stderr.decode(), p.stderr
    assert open(out, "rb").read() == KEYS["tpm/key/good"]
    # an explicit --tee overrides detection: snp without configfs-tsm is evidence unavailable (7)
    p = subprocess.run([KWGET, "--url", b.url, "--cacert", b.ca, "--resource", "tpm/key/good", "--out",
                        out + ".2", "--tee", "snp"], env=env, capture_output=True, timeout=120)
    assert p.returncode == 7 and b"configfs-tsm" in p.stderr and not os.path.exists(out + ".2"), p


def test_pcr_policy_mismatch(b):
    d = tempfile.mkdtemp(dir=WORK)
    p = kwget(b, TPM_A, "--resource", "tpm/key/other", "--out", os.path.join(d, "key"), "--tpm-no-event-log")
    assert p.returncode == 3, (p.returncode, p.stderr.decode())
    assert b"403" in p.stderr or b"denied" in p.stderr, p.stderr
    assert "denied by policy 'otherpcrs'" in b.log()
    assert not os.path.exists(os.path.join(d, "key"))


def test_independent_client(b):
    """tpm2-tools on TPM B through the whole protocol: the positive control for the negatives below."""
    tb = tools(TPM_B)
    att = Attester(b, tee="tpm")
    st, _, ans = auth(b, tb.auth_params())
    assert st == 200 and set(ans["extra-params"]) == {"credential_blob", "encrypted_secret"}, (st, ans)
    cred = tb.activate(ans["extra-params"])
    assert cred is not None and len(cred) == 32
    rd = att.runtime_data(ans["nonce"])
    body = {"runtime-data": rd, "tee-evidence": tb.evidence(rd, cred)}
    st, _, resp = b.request("POST", "/kbs/v0/attest", body)
    assert st == 200 and "token" in resp, (st, resp)
    st, _, resp = b.request("POST", "/kbs/v0/attest", body)    # replayed
    assert st == 401, (st, resp)


def test_credential_from_another_tpm(b):
    ta, tb = tools(TPM_A), tools(TPM_B)
    att = Attester(b, tee="tpm")
    st, _, ans_a = auth(b, ta.auth_params())
    assert st == 200, (st, ans_a)
    st, _, ans_b = auth(b, tb.auth_params())
    assert st == 200, (st, ans_b)
    # TPM B cannot activate what was sealed to A's EK
    assert tb.activate(ans_a["extra-params"]) is None
    cred_b = tb.activate(ans_b["extra-params"])
    assert cred_b is not None
    rd = att.runtime_data(ans_a["nonce"])
    # A's challenge with B's activated credential: as B (B's EK, AK and quote) and as A
    for who in (tb, ta):
        body = {"runtime-data": rd, "tee-evidence": who.evidence(rd, cred_b)}
        st, _, resp = b.request("POST", "/kbs/v0/attest", body)
        assert st == 401, (st, resp)
    assert "the credential was not activated by the TPM holding this EK and AK" in b.log()
    # B's AK public area loaded into TPM A without its private part (the name matches, the
    # attributes say fixedTPM and restricted): the TPM will not activate with it
    st, _, ans = auth(b, dict(ta.auth_params(), ak_public=tb.auth_params()["ak_public"]))
    assert st == 200, (st, ans)
    ext = ta.p("ext.ctx")
    ta.run("tpm2_loadexternal", "-C", "n", "-u", tb.p("ak.pub"), "-c", ext)
    assert ta.activate(ans["extra-params"], ak_ctx=ext) is None
    # A's own credential still works for A's challenge (nothing was spent by the failures)
    cred_a = ta.activate(ans_a["extra-params"])
    st, _, resp = b.request("POST", "/kbs/v0/attest", {"runtime-data": rd, "tee-evidence": ta.evidence(rd, cred_a)})
    assert st == 200, (st, resp)
    # ... but a quote from B with A's credential names B's AK: refused
    st2, _, ans = auth(b, ta.auth_params())
    cred_a2 = ta.activate(ans["extra-params"])
    rd2 = att.runtime_data(ans["nonce"])
    ev = ta.evidence(rd2, cred_a2)
    evb = tb.evidence(rd2, cred_a2)
    ev.update({"quote": evb["quote"], "signature": evb["signature"]})
    st, _, resp = b.request("POST", "/kbs/v0/attest", {"runtime-data": rd2, "tee-evidence": ev})
    assert st2 == 200 and st == 401, (st2, st, resp)


def test_auth_refusals(b):
    tc = tools(TPM_C)
    st, _, resp = auth(b, tc.auth_params())        # EK certificate from another CA
    assert st == 401 and resp["type"].endswith("attestation-failed"), (st, resp)
    assert "EK certificate does not chain to a configured manufacturer CA" in b.log()
    ta = tools(TPM_A)
    p = ta.auth_params()
    st, _, resp = auth(b, dict(p, ak_public=b64u(open(ta.p("ek.pub"), "rb").read())))   # the EK as "AK"
    assert st == 401, (st, resp)
    st, _, resp = auth(b, {"ek_cert": p["ek_cert"]})                 # no AK
    assert st == 400 and resp["type"].endswith("malformed"), (st, resp)
    st, _, resp = auth(b, dict(p, extra="x"))                          # unknown member
    assert st == 400, (st, resp)
    st, _, resp = auth(b, dict(p, ak_public=p["ak_public"][:-8]))     # truncated TPM2B_PUBLIC
    assert st == 400, (st, resp)
    st, _, resp = auth(b, {})
    assert st == 400, (st, resp)


def main():
    for t in (TPM_A, TPM_B, TPM_C):
        t.start()
    b = Broker(config_edit=lambda c: c.update({"tpm": {"ek_roots": [CA.pem]}}))
    try:
        return run_tests(b, [test_kwget_release, test_kwget_no_manifest, test_auto_detect, test_pcr_policy_mismatch,
                             test_independent_client, test_pcr23_replay,
                             test_credential_from_another_tpm, test_auth_refusals], setup=setup)
    finally:
        for t in (TPM_A, TPM_B, TPM_C):
            t.stop()
        shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
