#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Integration: kwget --tee az-snp-vtpm end to end through the real broker,
keywarden-hsm and SoftHSM2 over TLS on loopback, with an Azure-shaped vTPM
made here: a swtpm (software TPM, not Azure's paravisor) holding

  - at persistent handle 0x81000003 an AK made by tpm2_createak (RSA-2048,
    RSASSA/SHA-256), as Azure persists its vTPM AK;
  - in NV index 0x01400001 an HCL report whose hardware slot is an EMULATED
    SEV-SNP report (kwtest.Attester.report, signed by the broker's emulation
    VCEK) with REPORT_DATA[0:32] = SHA-256(var_data), and whose var_data
    holds that AK as the "HCLAkPub" JWK (swtpm caps an NV index at 2048
    bytes, so the report is not zero-padded to 2600 bytes and var_data has no
    HCLEkPub key);

and a loopback stub of Azure's IMDS THIM endpoint serving the emulation
VCEK and its chain. For az-tdx-vtpm a second swtpm holds an HCL report whose
slot is a TDREPORT made here, and the IMDS stub's /acc/tdquote answers the
posted TDREPORT with an EMULATED (NOT INTEL) TD quote of the same
REPORT_DATA (kwtest.TdxPlatform), whose collateral the broker loads from
its offline directory. kwget reads the HCL report and quotes PCR 0..23 through
tss2-esys (swtpm TCTI) exactly as on Azure; only the hardware and the IMDS
are stand-ins. An independent client (tpm2_quote from tpm2-tools, Python)
makes the same evidence without kwget. Negatives: var_data changed after
the report was made, a PCR outside the policy, IMDS down, the wrong --tee,
no HCL report.
"""
import base64
import hashlib
import http.server
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kwtest  # noqa: E402
from kwtest import Attester, Broker, b64u  # noqa: E402

RES = "azure/key/disk"
RES_TDX = "azure/key/tdx"
TDQUOTE = "/acc/tdquote"
NV = "0x01400001"
AK = "0x81000003"
PCR8_EVENT = hashlib.sha256(b"keywarden az-snp-vtpm test kernel").digest()
THIM = "/metadata/THIM/amd/certification"
secrets_seen = []


def two_free_ports():
    """A port P with P+1 free too (the swtpm TCTI puts the control port at P+1)."""
    for _ in range(50):
        p = kwtest.free_port()
        try:
            s = socket.socket()
            s.bind(("127.0.0.1", p + 1))
            s.close()
            return p
        except OSError:
            continue
    raise RuntimeError("no two consecutive free ports")


class Swtpm:
    """swtpm socket --tpm2 on loopback, provisioned with tpm2-tools."""

    def __init__(self, parent):
        self.dir = tempfile.mkdtemp(prefix="swtpm-", dir=parent)
        self.port = two_free_ports()
        self.tcti = "swtpm:host=127.0.0.1,port=%d" % self.port
        self.proc = subprocess.Popen(
            ["swtpm", "socket", "--tpm2", "--tpmstate", "dir=" + self.dir,
             "--server", "type=tcp,bindaddr=127.0.0.1,port=%d" % self.port,
             "--ctrl", "type=tcp,bindaddr=127.0.0.1,port=%d" % (self.port + 1),
             "--flags", "not-need-init,startup-clear"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)

    def run(self, *args, inp=None):
        env = dict(os.environ, TPM2TOOLS_TCTI=self.tcti)
        p = subprocess.run(list(args), cwd=self.dir, env=env, input=inp, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        assert p.returncode == 0, (args, p.stderr.decode())
        # no resource manager: free the transient slots after every command
        subprocess.run(["tpm2_flushcontext", "-t"], cwd=self.dir, env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=30)
        return p.stdout

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Imds(http.server.ThreadingHTTPServer):
    """Azure IMDS THIM on loopback: GET /metadata/THIM/amd/certification with Metadata: true."""

    def __init__(self, vcek_pem, chain_pem, td_quote=None):
        self.answer = json.dumps({"vcekCert": vcek_pem, "certificateChain": chain_pem,
                                  "tcbm": "DB18000000000004", "cacheControl": "86400"}).encode()
        self.td_quote = td_quote      # f(tdreport) -> quote bytes
        self.requests = []
        self.tdreports = []
        self.status = 200
        super().__init__(("127.0.0.1", 0), ImdsHandler)
        self.url = "http://127.0.0.1:%d" % self.server_address[1]
        threading.Thread(target=self.serve_forever, daemon=True).start()


class ImdsHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        srv = self.server
        srv.requests.append((self.command, self.path, self.headers.get("Metadata")))
        if self.path != THIM or self.headers.get("Metadata") != "true" or srv.status != 200:
            self.send_response(srv.status if srv.status != 200 else 400)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(srv.answer)))
        self.end_headers()
        self.wfile.write(srv.answer)

    def do_POST(self):  # noqa: N802
        srv = self.server
        srv.requests.append((self.command, self.path, self.headers.get("Metadata")))
        n = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(n)) if 0 < n < 65536 else {}
        if (self.path != TDQUOTE or self.headers.get("Content-Type") != "application/json" or
                set(body) != {"report"} or srv.td_quote is None or srv.status != 200):
            self.send_response(srv.status if srv.status != 200 else 400)
            self.end_headers()
            return
        rep = kwtest.b64u_dec(body["report"])
        srv.tdreports.append(rep)
        out = json.dumps({"quote": base64.urlsafe_b64encode(srv.td_quote(rep)).decode()}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *a):
        pass


def ak_jwk(pem):
    from cryptography.hazmat.primitives import serialization
    n = serialization.load_pem_public_key(pem).public_numbers()
    return {"kid": "HCLAkPub", "key_ops": ["sign"], "kty": "RSA",
            "e": b64u(n.e.to_bytes((n.e.bit_length() + 7) // 8, "big")),
            "n": b64u(n.n.to_bytes((n.n.bit_length() + 7) // 8, "big"))}


def hcl_report(hw_report, var, tdx=False):
    """The HCL report layout (docs/verifier-tpm.md): header, hardware slot, runtime header, var_data."""
    h = struct.pack("<4sIIII12s", b"HCLA", 2 if tdx else 1, 0x4D4 + len(var), 2, 0, bytes(12))
    rt = struct.pack("<IIIII", 20 + len(var), 1, 4 if tdx else 2, 1, len(var))
    return h + hw_report + bytes(1184 - len(hw_report)) + rt + var


def tdreport(report_data, mrtd):
    """A TDREPORT as the TDX module lays it out: REPORTMACSTRUCT (type 0x81, REPORT_DATA at 128),
    TEE_TCB_INFO, TDINFO (MRTD at 512 + 16). Not MACed: nothing outside the TD can check that MAC."""
    r = bytearray(1024)
    r[0] = 0x81
    r[128:192] = report_data
    r[528:576] = mrtd
    return bytes(r)


class Azure:
    """The stand-in VM: swtpm with AK and HCL report, the IMDS stub."""

    def __init__(self, b, tdx=False):
        self.b = b
        self.tdx = tdx
        self.tpm = Swtpm(b.dir)
        self.tpm.run("tpm2_createek", "-c", "ek.ctx", "-G", "rsa", "-u", "ek.pub")
        self.tpm.run("tpm2_createak", "-C", "ek.ctx", "-c", "ak.ctx", "-G", "rsa", "-g", "sha256",
                     "-s", "rsassa", "-u", "ak.pem", "-f", "pem", "-n", "ak.name")
        self.tpm.run("tpm2_evictcontrol", "-C", "o", "-c", "ak.ctx", AK)
        with open(os.path.join(self.tpm.dir, "ak.pem"), "rb") as f:
            self.ak = ak_jwk(f.read())
        self.var = json.dumps({"keys": [self.ak],
                               "vm-configuration": {"console-enabled": False, "secure-boot": True,
                                                    "tpm-enabled": True, "vmUniqueId": "KW-TEST-VM"},
                               "user-data": "00" * 64}, separators=(",", ":")).encode()
        self.attester = Attester(b)
        bound = hashlib.sha256(self.var).digest() + bytes(32)
        if tdx:
            self.plat = kwtest.TdxPlatform(os.path.join(b.dir, "tdx-emu"))
            self.hcl = hcl_report(tdreport(bound, self.plat.mrtd), self.var, tdx=True)
        else:
            self.hcl = hcl_report(self.attester.report(bound), self.var)
        assert len(self.hcl) <= 2048, len(self.hcl)
        self.tpm.run("tpm2_nvdefine", NV, "-C", "o", "-s", str(len(self.hcl)), "-a", "ownerread|ownerwrite")
        self.write_hcl(self.hcl)
        self.tpm.run("tpm2_pcrextend", "8:sha256=" + PCR8_EVENT.hex())
        self.pcr8 = hashlib.sha256(bytes(32) + PCR8_EVENT).hexdigest()
        emu = os.path.join(b.dir, "emu")
        self.quote_rd = None      # set: the TD quote's REPORT_DATA differs from the TDREPORT's
        self.imds = Imds(open(os.path.join(emu, "vcek.pem")).read(),
                         open(os.path.join(emu, "cert_chain.pem")).read(),
                         td_quote=self.td_quote if tdx else None)

    def td_quote(self, report):
        return self.plat.quote(self.quote_rd or report[128:192])

    def write_hcl(self, data):
        p = os.path.join(self.tpm.dir, "hcl.bin")
        with open(p, "wb") as f:
            f.write(data)
        self.tpm.run("tpm2_nvwrite", NV, "-C", "o", "-i", p)

    def kwget(self, *args, tee="az-snp-vtpm"):
        env = dict(os.environ, KWGET_TCTI=self.tpm.tcti, KWGET_IMDS_URL=self.imds.url)
        env.pop("TPM2TOOLS_TCTI", None)
        cmd = [kwtest.KWGET, "--url", self.b.url, "--cacert", self.b.ca, "--tee", tee] + list(args)
        return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, timeout=120)

    def stop(self):
        self.imds.shutdown()
        self.tpm.stop()


def token_claims(token):
    return json.loads(kwtest.b64u_dec(token.split(".")[1]))["submods"]["cpu0"]


def outdir(b):
    d = tempfile.mkdtemp(dir=b.dir)
    return [os.path.join(d, n) for n in ("key", "jwe", "tee.pem", "token")]


def t_kwget_release_matches_jwcrypto(b):
    """kwget --tee az-snp-vtpm: HCL report + quote from the vTPM, VCEK from IMDS; jwcrypto opens the JWE."""
    az = b.az
    out, jwe_p, pem, tok_p = outdir(b)
    n_imds = len(az.imds.requests)
    p = az.kwget("--resource", RES, "--out", out, "--jwe-out", jwe_p, "--tee-key-out", pem, "--token-out", tok_p)
    assert p.returncode == 0, p.stderr.decode()
    assert b"HCL report" in p.stderr and b"VCEK and chain from IMDS" in p.stderr, p.stderr
    assert az.imds.requests[n_imds:] == [("GET", THIM, "true")], az.imds.requests
    key = open(out, "rb").read()
    assert len(key) == 32
    from jwcrypto import jwe, jwk
    t = jwe.JWE()
    t.deserialize(open(jwe_p).read().strip(), key=jwk.JWK.from_pem(open(pem, "rb").read()))
    assert t.payload == key
    sub = token_claims(open(tok_p).read())
    c = sub["kw.claims"]
    assert c["tee"] == "az-snp-vtpm" and c["root"] == "test", c
    assert c["measurement"] == b.emu["measurement"], c
    assert c["pcrs"]["sha256"]["8"] == az.pcr8 and len(c["pcrs"]["sha256"]) == 24, c["pcrs"]
    assert c["tpm"]["firmware_version"] and c["tpm"]["reset_count"] >= 0, c["tpm"]
    assert c["azure"]["vm_configuration"] == {"console_enabled": False, "secure_boot": True,
                                              "tpm_enabled": True, "vm_unique_id": "KW-TEST-VM"}, c["azure"]
    assert "report_data" not in c and "platform" not in c, sorted(c)
    assert sub["ear.appraisal-policy-id"] == "urn:keywarden:appraisal:az-snp-vtpm-evidence:v1", sub
    assert "attested tee=az-snp-vtpm measurement=" in b.log(), b.log()[-2000:]
    secrets_seen.append(key)
    b.kwget_key = key


def t_auto_detect(b):
    """No --tee: kwget finds the vTPM's HCL report (SNP) and releases the same key; --detect says so."""
    az = b.az
    env = dict(os.environ, KWGET_TCTI=az.tpm.tcti, KWGET_IMDS_URL=az.imds.url,
               KWA_TEST_TSM_DIR="/nonexistent/tsm/report")   # this machine's configfs-tsm does not count
    env.pop("TPM2TOOLS_TCTI", None)
    p = subprocess.run([kwtest.KWGET, "--detect"], env=env, capture_output=True, timeout=60)
    assert p.returncode == 0 and p.stderr == b"", p
    assert p.stdout.decode().splitlines() == [
        "configfs-tsm: absent (/nonexistent/tsm/report)", "tpm: present (%s)" % az.tpm.tcti,
        "azure-vtpm: snp (HCL report in NV 0x01400001)", "tee: az-snp-vtpm"], p.stdout
    out = outdir(b)[0]
    p = subprocess.run([kwtest.KWGET, "--url", b.url, "--cacert", b.ca, "--resource", RES, "--out", out],
                       env=env, capture_output=True, timeout=120)
    assert p.returncode == 0, p.stderr.decode()
    assert ("detected: az-snp-vtpm (TPM at '%s' with an Azure HCL report (SEV-SNP) in NV 0x01400001)"
            % az.tpm.tcti) in p.stderr.decode(), p.stderr
    assert open(out, "rb").read() == b.kwget_key


def python_evidence(b, nonce_tee="az-snp-vtpm", hcl=None):
    """The same evidence without kwget: tpm2_quote (tpm2-tools) over the runtime-data digest."""
    az = b.az
    a = az.attester
    rd = a.runtime_data(a.nonce(tee=nonce_tee))
    digest = hashlib.sha384(kwtest.jcs(rd)).digest()
    d = az.tpm.dir
    az.tpm.run("tpm2_quote", "-c", AK, "-l", "sha256:all", "-q", digest.hex(), "-m", "q.msg", "-s", "q.sig",
               "-o", "q.pcrs", "-g", "sha256", "-F", "values")
    pcrs = {}
    for line in az.tpm.run("tpm2_pcrread", "sha256:all").decode().splitlines():
        line = line.strip()
        if line and line[0].isdigit() and ":" in line:
            i, v = line.split(":", 1)
            pcrs[str(int(i))] = v.strip()[2:].lower()
    ev = {"snp_hcl_report": b64u(hcl or az.hcl), "vtpm_quote": b64u(open(os.path.join(d, "q.msg"), "rb").read()),
          "vtpm_signature": b64u(open(os.path.join(d, "q.sig"), "rb").read()), "pcrs": {"sha256": pcrs},
          "vcek": open(os.path.join(b.dir, "emu", "vcek.pem")).read() +
          open(os.path.join(b.dir, "emu", "cert_chain.pem")).read()}
    return a, {"runtime-data": rd, "tee-evidence": ev}


def t_python_attester_same_key(b):
    """tpm2_quote + the HCL report + the chain, posted by Python: the same key kwget got."""
    a, body = python_evidence(b)
    assert len(body["tee-evidence"]["pcrs"]["sha256"]) == 24, body["tee-evidence"]["pcrs"]
    st, _, resp = b.request("POST", "/kbs/v0/attest", body)
    assert st == 200, (st, resp)
    a.dpop_nonce = b.last_headers.get("dpop-nonce")
    st, _, jwe_c = a.resource(resp["token"], RES)
    assert st == 200, (st, jwe_c)
    key = a.decrypt(jwe_c.decode() if isinstance(jwe_c, bytes) else jwe_c)
    assert key == b.kwget_key


def t_challenge_of_another_tee(b):
    """A challenge issued for tee "snp" does not admit az-snp-vtpm evidence."""
    _, body = python_evidence(b, nonce_tee="snp")
    st, _, resp = b.request("POST", "/kbs/v0/attest", body)
    assert st == 401 and resp["type"] == "urn:keywarden:problem:attestation-failed", (st, resp)


def t_var_data_changed(b):
    """var_data changed by one byte after the report was made: the binding fails, nothing is released."""
    az = b.az
    var = bytearray(az.var)
    i = var.index(b'"user-data":"') + 13
    var[i] = ord("1")
    bad = az.hcl[:0x4D4] + bytes(var)
    _, body = python_evidence(b, hcl=bad)
    st, _, resp = b.request("POST", "/kbs/v0/attest", body)
    assert st == 401 and resp["type"] == "urn:keywarden:problem:attestation-failed", (st, resp)
    assert "SHA-256(HCL var_data)" in b.log(), b.log()[-2000:]
    az.write_hcl(bad)
    try:
        out, *_ = outdir(b)
        p = az.kwget("--resource", RES, "--out", out)
        assert p.returncode == 3 and not os.path.exists(out), (p.returncode, p.stderr)
    finally:
        az.write_hcl(az.hcl)


def t_imds_down(b):
    """IMDS answers 500: kwget stops before /attest with a local error."""
    az = b.az
    az.imds.status = 500
    try:
        out, *_ = outdir(b)
        p = az.kwget("--resource", RES, "--out", out)
        assert p.returncode == 6 and b"VCEK from IMDS" in p.stderr, (p.returncode, p.stderr)
        assert not os.path.exists(out)
    finally:
        az.imds.status = 200


def t_wrong_tee(b):
    """--tee az-tdx-vtpm on an SNP HCL report: a local error naming the right one."""
    p = b.az.kwget("--resource", RES, "--out", outdir(b)[0], tee="az-tdx-vtpm")
    assert p.returncode == 6 and b"use --tee az-snp-vtpm" in p.stderr, (p.returncode, p.stderr)


def t_pcr_outside_policy(b):
    """PCR 8 extended again: the quote is genuine, the policy's PCR value no longer holds."""
    az = b.az
    az.tpm.run("tpm2_pcrextend", "8:sha256=" + PCR8_EVENT.hex())
    out, *_ = outdir(b)
    p = az.kwget("--resource", RES, "--out", out)
    assert p.returncode == 3 and not os.path.exists(out), (p.returncode, p.stderr)
    assert "pcrs.sha256.8" in b.log(), b.log()[-2000:]


def t_no_hcl_report(b):
    """A TPM without the HCL NV index (not an Azure CVM): a local error, nothing sent."""
    az = b.az
    az.tpm.run("tpm2_nvundefine", NV, "-C", "o")
    p = az.kwget("--resource", RES, "--out", outdir(b)[0])
    assert p.returncode == 6 and b"0x01400001" in p.stderr, (p.returncode, p.stderr)


def t_tdx_kwget_release(b):
    """kwget --tee az-tdx-vtpm: the TDREPORT of the HCL report posted to IMDS, the TD quote back."""
    az = b.aztdx
    out, jwe_p, pem, tok_p = outdir(b)
    p = az.kwget("--resource", RES_TDX, "--out", out, "--jwe-out", jwe_p, "--tee-key-out", pem,
                 "--token-out", tok_p, tee="az-tdx-vtpm")
    assert p.returncode == 0, p.stderr.decode()
    assert b"TD quote from IMDS" in p.stderr, p.stderr
    assert az.imds.requests[-1] == ("POST", TDQUOTE, "true"), az.imds.requests
    assert az.imds.tdreports[-1] == az.hcl[0x20:0x20 + 1024]
    key = open(out, "rb").read()
    from jwcrypto import jwe, jwk
    t = jwe.JWE()
    t.deserialize(open(jwe_p).read().strip(), key=jwk.JWK.from_pem(open(pem, "rb").read()))
    assert t.payload == key and len(key) == 32
    sub = token_claims(open(tok_p).read())
    c = sub["kw.claims"]
    assert c["tee"] == "az-tdx-vtpm" and c["root"] == "test" and c["tcb_status"] == "UpToDate", c
    assert c["mrtd"] == az.plat.mrtd.hex() and c["pcrs"]["sha256"]["8"] == az.pcr8, c
    assert c["azure"]["hcl_version"] == 2, c["azure"]
    assert sub["ear.appraisal-policy-id"] == "urn:keywarden:appraisal:az-tdx-vtpm-evidence:v1", sub
    secrets_seen.append(key)


def t_tdx_quote_of_another_report(b):
    """IMDS answers with a TD quote of other REPORT_DATA than the TDREPORT's: refused."""
    az = b.aztdx
    az.quote_rd = hashlib.sha512(b"another TDREPORT").digest()
    try:
        out, *_ = outdir(b)
        p = az.kwget("--resource", RES_TDX, "--out", out, tee="az-tdx-vtpm")
        assert p.returncode == 3 and not os.path.exists(out), (p.returncode, p.stderr)
        assert "TD quote REPORT_DATA does not match the HCL report's TDREPORT" in b.log(), b.log()[-2000:]
    finally:
        az.quote_rd = None


def t_tdx_evidence_for_snp_policy(b):
    """The TDX VM's token does not open the SNP VM's key (policy: tee az-snp-vtpm)."""
    p = b.aztdx.kwget("--resource", RES, "--out", outdir(b)[0], tee="az-tdx-vtpm")
    assert p.returncode == 3, (p.returncode, p.stderr)


def t_logs_hold_no_secrets(b):
    log = b.log().encode()
    for s in secrets_seen:
        assert s not in log and s.hex().encode() not in log and base64.b64encode(s) not in log


TESTS = [t_kwget_release_matches_jwcrypto, t_auto_detect, t_python_attester_same_key, t_challenge_of_another_tee,
         t_var_data_changed, t_imds_down, t_wrong_tee, t_tdx_kwget_release, t_tdx_quote_of_another_report,
         t_tdx_evidence_for_snp_policy, t_pcr_outside_policy, t_no_hcl_report, t_logs_hold_no_secrets]


def main():
    for tool in ("swtpm", "tpm2_createak", "tpm2_quote"):
        if shutil.which(tool) is None:
            print("FAIL: %s not installed (scripts/install-deps.sh installs swtpm and tpm2-tools)" % tool)
            return 1
    b = Broker()
    # the emulated TD platform's collateral, loaded by the broker at start
    plat = kwtest.TdxPlatform(os.path.join(b.dir, "tdx-emu"))
    with open(os.path.join(b.dir, "tdx-collateral", "python.json"), "w") as f:
        f.write(plat.collateral(int(time.time())))

    def setup(b):
        b.az = Azure(b)
        b.aztdx = Azure(b, tdx=True)
        b.provision(RES_TDX, policy="aztdx", document={
            "version": 1, "allow_test_roots": True,
            "rules": {"allOf": [{"claim": "tee", "op": "equals", "value": "az-tdx-vtpm"},
                                {"claim": "tcb_status", "op": "in", "value": ["UpToDate"]},
                                {"claim": "pcrs.sha256.8", "op": "equals", "value": b.aztdx.pcr8}]},
            "reference_values": {"mrtd": [{"value": plat.mrtd.hex(), "name": "emulated TD"}]}})
        doc = kwtest.policy_for(b.emu["measurement"], rules={"allOf": [
            {"claim": "tee", "op": "equals", "value": "az-snp-vtpm"},
            {"claim": "pcrs.sha256.8", "op": "equals", "value": b.az.pcr8},
            {"claim": "azure.vm_configuration.secure_boot", "op": "equals", "value": True}]})
        b.provision(RES, policy="azure", document=doc)

    try:
        return kwtest.run_tests(b, TESTS, setup=setup)
    finally:
        for vm in ("az", "aztdx"):
            if hasattr(b, vm):
                getattr(b, vm).stop()


if __name__ == "__main__":
    sys.exit(main())
