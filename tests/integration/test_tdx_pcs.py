#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Integration: TDX collateral fetched by the broker from a PCCS (mode
"pccs"), cached on disk and in memory, refreshed in the background.

The PCCS is a loopback HTTPS server written here from Intel's PCS API v4
(the four requests, issuer chains percent-encoded in response headers, the
signed TCB Info and QE identity texts inside JSON bodies, a DER PCK CRL, the
Root CA CRL as hex), serving collateral that kwtest.TdxPlatform signs with
the NOT INTEL emulation keys. The broker, keywarden-hsm and SoftHSM2 are the
real ones; the workload is kwtest.Attester's emulated TDX quote.
"""
import http.server
import json
import shutil
import os
import socketserver
import ssl
import stat
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kwtest  # noqa: E402
from kwtest import Attester, Broker  # noqa: E402

RES = "tdx/key/disk"


class Pccs:
    """A PCCS on loopback. mode: "ok", "down" (503 to everything), "garbage"
    (200 with a body that is not collateral), "badsig" (a TCB Info signature
    that does not verify)."""

    def __init__(self, b, plat):
        self.plat = plat
        self.mode = "ok"
        self.eval_number = 18
        self.requests = []
        self.lock = threading.Lock()
        pccs = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                pccs.serve(self)

        class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

        self.httpd = S(("127.0.0.1", 0), H)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(b.tls_dir, "server.pem"), os.path.join(b.tls_dir, "server.key"))
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.url = "https://127.0.0.1:%d" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()

    def count(self):
        with self.lock:
            return len(self.requests)

    def serve(self, h):
        with self.lock:
            self.requests.append(h.path)
            mode, number = self.mode, self.eval_number
        if mode == "down":
            h.send_response(503)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        doc = json.loads(self.plat.collateral(int(time.time()), eval_number=number))
        u = urllib.parse.urlsplit(h.path)
        q = urllib.parse.parse_qs(u.query)
        enc = lambda pem: urllib.parse.quote(pem, safe="")  # noqa: E731  as PCS sends chains
        if u.path == "/tdx/certification/v4/tcb":
            assert q == {"fmspc": [self.plat.emu["fmspc"].upper()]}, q
            sig = doc["tcb_info_signature"]
            if mode == "badsig":
                sig = ("0" if sig[0] != "0" else "1") + sig[1:]
            body = ('{"tcbInfo":%s,"signature":"%s"}' % (doc["tcb_info"], sig)).encode()
            if mode == "garbage":
                body = b'{"tcbInfo": "not collateral"}'
            self.reply(h, "application/json", body, "TCB-Info-Issuer-Chain", enc(doc["tcb_info_issuer_chain"]))
        elif u.path == "/tdx/certification/v4/qe/identity":
            body = ('{"enclaveIdentity":%s,"signature":"%s"}' % (doc["qe_identity"],
                                                               doc["qe_identity_signature"])).encode()
            self.reply(h, "application/json", body, "SGX-Enclave-Identity-Issuer-Chain",
                       enc(doc["qe_identity_issuer_chain"]))
        elif u.path == "/sgx/certification/v4/pckcrl":
            assert q == {"ca": ["platform"], "encoding": ["der"]}, q
            self.reply(h, "application/pkix-crl", bytes.fromhex(doc["pck_crl"]), "SGX-PCK-CRL-Issuer-Chain",
                       enc(doc["pck_crl_issuer_chain"]))
        elif u.path == "/sgx/certification/v4/rootcacrl":
            self.reply(h, "application/x-pem-file", doc["root_ca_crl"].encode())
        else:
            h.send_response(404)
            h.send_header("Content-Length", "0")
            h.end_headers()

    @staticmethod
    def reply(h, ctype, body, hname=None, hval=None):
        h.send_response(200)
        h.send_header("Content-Type", ctype)
        if hname:
            h.send_header(hname, hval)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)


def claims_of(token):
    return json.loads(kwtest.b64u_dec(token.split(".")[1]))["submods"]["cpu0"]["kw.claims"]


def cache_file(b, d="pcs-cache"):
    return os.path.join(b.dir, d, "tdx-%s-platform.json" % b.tdx_emu["fmspc"].lower())


def wait_for(pred, what, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


def restart(b, **coll):
    b.stop()
    b.cfg["tdx"]["collateral"].update(coll)
    with open(b.cfg_path, "w") as f:
        json.dump(b.cfg, f, indent=2)
    b.start()


def released(b):
    a = Attester(b, tee="tdx")
    tok = a.token()
    st, ct, body = a.resource(tok, RES)
    assert st == 200 and ct == "application/jose", (st, body)
    assert len(a.decrypt(body)) == 32
    return claims_of(tok)


# ---- tests ----

def t_cold_fetch(b):
    """Empty cache: the first TDX attestation fetches the four documents, verifies and stores them."""
    assert not os.path.exists(cache_file(b))
    n = b.pccs.count()
    c = released(b)
    reqs = b.pccs.requests[n:]
    assert sorted(urllib.parse.urlsplit(r).path for r in reqs) == [
        "/sgx/certification/v4/pckcrl", "/sgx/certification/v4/rootcacrl",
        "/tdx/certification/v4/qe/identity", "/tdx/certification/v4/tcb"], reqs
    assert c["tee"] == "tdx" and c["tcb_status"] == "UpToDate", c
    assert c["collateral"]["tcb_evaluation_data_number"] == 18, c["collateral"]
    st = os.stat(cache_file(b))
    assert stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode)
    with open(cache_file(b)) as f:
        doc = json.load(f)
    assert json.loads(doc["tcb_info"])["tcbEvaluationDataNumber"] == 18
    assert "tdx.collateral: fetched FMSPC %s (PCK platform CA), valid until" % b.tdx_emu["fmspc"].lower() \
        in b.log(), b.log()[-2000:]


def t_cache_hit(b):
    """Further attestations are answered from memory: no request reaches the PCCS."""
    n = b.pccs.count()
    for _ in range(3):
        released(b)
    assert b.pccs.count() == n, b.pccs.requests[n:]


def t_restart_pccs_down(b):
    """The PCCS is down; a restarted broker serves from its verified cache file."""
    b.pccs.mode = "down"
    try:
        restart(b)
        n = b.pccs.count()
        c = released(b)
        assert b.pccs.count() == n
        assert c["collateral"]["tcb_evaluation_data_number"] == 18
        assert "tdx.collateral: cache file for FMSPC %s (PCK platform CA) verified" % \
            b.tdx_emu["fmspc"].lower() in b.log()
        # the cached copy expired and the PCCS still down: 503, nothing released
        b.set_clock(31 * 86400)
        a = Attester(b, tee="tdx")
        st, ct, r = a.attest()
        assert st == 503 and r["type"] == "urn:keywarden:problem:collateral_unavailable", (st, r)
    finally:
        b.set_clock(0)
        b.pccs.mode = "ok"


def t_tampered_cache_file_ignored(b):
    """A cache file changed on disk does not verify at start: ignored, fetched again."""
    b.stop()
    with open(cache_file(b)) as f:
        doc = json.load(f)
    doc["tcb_info"] = doc["tcb_info"].replace('"UpToDate"', '"OutOfDate"', 1)
    with open(cache_file(b), "w") as f:
        json.dump(doc, f)
    os.chmod(cache_file(b), 0o600)
    b.start()
    assert "tdx.collateral: cache file for FMSPC %s (PCK platform CA) ignored" % \
        b.tdx_emu["fmspc"].lower() in b.log()
    n = b.pccs.count()
    c = released(b)
    assert b.pccs.count() == n + 4 and c["tcb_status"] == "UpToDate"


def t_refresh(b):
    """The refresher fetches again after refresh_interval; new collateral is used, the file replaced."""
    b.pccs.eval_number = 19
    restart(b, refresh_interval=2, retry=1)
    try:
        wait_for(lambda: "(refresh)" in b.log(), "a background refresh")
        c = released(b)
        assert c["collateral"]["tcb_evaluation_data_number"] == 19, c["collateral"]
        with open(cache_file(b)) as f:
            assert json.loads(json.load(f)["tcb_info"])["tcbEvaluationDataNumber"] == 19
        # an older generation served later is refused, the newer copy kept
        b.pccs.eval_number = 17
        wait_for(lambda: "not taken" in b.log(), "an older copy refused")
        c = released(b)
        assert c["collateral"]["tcb_evaluation_data_number"] == 19, c["collateral"]
        # garbage in a refresh: the failure is logged, the held copy and the file stay
        b.pccs.mode = "garbage"
        fails = b.log().count("tdx.collateral: fetch for FMSPC")
        wait_for(lambda: b.log().count("tdx.collateral: fetch for FMSPC") > fails, "a failed refresh")
        c = released(b)
        assert c["collateral"]["tcb_evaluation_data_number"] == 19, c["collateral"]
        with open(cache_file(b)) as f:
            assert json.loads(json.load(f)["tcb_info"])["tcbEvaluationDataNumber"] == 19
    finally:
        b.pccs.mode = "ok"
        b.pccs.eval_number = 18
        restart(b, refresh_interval=3600, retry=300)


def t_cold_failures(b):
    """No cache and the PCCS down, serving garbage or a bad signature: 503
    collateral_unavailable each time, the challenge not spent; it recovers."""
    restart(b, cache_dir="pcs-cache-2", retry=1)
    a = Attester(b, tee="tdx")
    body = a.attest_body()
    for mode, detail in (("down", "HTTP 503"), ("garbage", None), ("badsig", None)):
        b.pccs.mode = mode
        time.sleep(1.1)                      # past retry: a new attempt
        st, ct, r = b.request("POST", "/kbs/v0/attest", body)
        assert st == 503 and ct.startswith("application/problem+json"), (mode, st, r)
        assert r["type"] == "urn:keywarden:problem:collateral_unavailable", r
        assert b.last_headers.get("retry-after") == "60", b.last_headers
        if detail:
            assert detail in b.log()
    assert not os.path.exists(cache_file(b, "pcs-cache-2"))
    log = b.log()
    assert log.count("tdx.collateral: fetch for FMSPC") >= 3, log[-3000:]
    b.pccs.mode = "ok"
    time.sleep(1.1)
    st, _, r = b.request("POST", "/kbs/v0/attest", body)      # the same challenge
    assert st == 200, r
    assert os.path.exists(cache_file(b, "pcs-cache-2"))


def t_module(b):
    """pccs mode loads keywarden-pcs.so (and with it libcurl); a module others may write is refused."""
    with open("/proc/%d/maps" % b.proc.pid) as f:
        libs = {os.path.basename(l.split()[-1]) for l in f if "/" in l}
    assert "keywarden-pcs.so" in libs and any(n.startswith("libcurl") for n in libs), sorted(libs)
    assert "tdx.collateral: loaded " in b.log()
    b.stop()
    d = os.path.join(b.dir, "modtest")
    os.makedirs(d, exist_ok=True)
    exe = os.path.join(d, "keywarden")
    shutil.copy(kwtest.KEYWARDEN, exe)
    mod = os.path.join(d, "keywarden-pcs.so")
    shutil.copy(os.path.join(kwtest.BUILD, "verifier-client", "keywarden-pcs.so"), mod)
    os.chmod(mod, 0o666)
    cfg = json.loads(json.dumps(b.cfg))
    cfg.setdefault("hsm", {})["helper"] = os.path.join(kwtest.BUILD, "hsm", "keywarden-hsm")
    cpath = os.path.join(b.dir, "modtest-config.json")   # relative paths as in b.cfg_path
    with open(cpath, "w") as f:
        json.dump(cfg, f)
    p = kwtest.subprocess.run([exe, "--config", cpath], stdout=kwtest.subprocess.PIPE,
                              stderr=kwtest.subprocess.PIPE, timeout=30)
    assert p.returncode != 0 and b"writable by its owner only: not loaded" in p.stderr, \
        (p.returncode, p.stderr[-1500:])
    b.start()


def t_config_refused(b):
    """pccs without url, http URLs and unknown keys stop the start with a clear line."""
    b.stop()
    good = dict(b.cfg["tdx"]["collateral"])
    for coll, msg in (({"mode": "pccs"}, 'missing "url"'),
                      ({"mode": "pccs", "url": "http://127.0.0.1:1"}, "must be https URLs"),
                      ({"mode": "pcs", "dir": "x"}, "unknown key 'dir'"),
                      ({"mode": "pcs", "timeout": 0}, '"timeout" must be an integer in 1..120'),
                      ({"mode": "intel"}, '"mode" must be "offline", "pcs" or "pccs"')):
        b.cfg["tdx"]["collateral"] = coll
        with open(b.cfg_path, "w") as f:
            json.dump(b.cfg, f)
        p = kwtest.subprocess.run([kwtest.KEYWARDEN, "--config", b.cfg_path, "--check-config"],
                                  stdout=kwtest.subprocess.PIPE, stderr=kwtest.subprocess.PIPE)
        assert p.returncode != 0 and msg.encode() in p.stderr, (coll, p.returncode, p.stderr)
    b.cfg["tdx"]["collateral"] = good
    with open(b.cfg_path, "w") as f:
        json.dump(b.cfg, f, indent=2)
    b.start()


TESTS = [t_cold_fetch, t_cache_hit, t_restart_pccs_down, t_tampered_cache_file_ignored, t_refresh,
         t_cold_failures, t_module, t_config_refused]


def main():
    holder = {}

    def pccs_mode(cfg):
        cfg["tdx"]["collateral"] = {"mode": "pccs", "url": "https://127.0.0.1:1",
                                    "ca_file": "tls/ca.pem", "cache_dir": "pcs-cache",
                                    "refresh_interval": 3600}
        holder["cfg"] = cfg

    b = Broker(config_edit=pccs_mode)
    with open(os.path.join(b.dir, "tdx-emu", "emu.json")) as f:
        b.tdx_emu = json.load(f)
    plat = kwtest.TdxPlatform(os.path.join(b.dir, "tdx-emu"))
    b.pccs = Pccs(b, plat)
    b.cfg["tdx"]["collateral"]["url"] = b.pccs.url
    with open(b.cfg_path, "w") as f:
        json.dump(b.cfg, f, indent=2)

    def setup(b):
        b.provision(RES, policy="tdx", document={
            "version": 1, "allow_test_roots": True,
            "rules": {"allOf": [{"claim": "tee", "op": "equals", "value": "tdx"},
                                {"claim": "tcb_status", "op": "in", "value": ["UpToDate"]}]},
            "reference_values": {"mrtd": [{"value": b.tdx_emu["mrtd"], "name": "emulated TD"}]}})
    try:
        return kwtest.run_tests(b, TESTS, setup=setup)
    finally:
        b.pccs.close()


if __name__ == "__main__":
    sys.exit(main())
