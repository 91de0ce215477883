#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""kwget-cli: kwget's command line, exit codes and messages, and full flows
against a small fake broker (TLS 1.3 on 127.0.0.1) that checks the binding and
the emulated report itself and releases JWEs made by python3-jwcrypto.

Usage: test_kwget_cli.py PATH/TO/kwget     (KW_SOURCE_ROOT locates scripts/)
"""
import base64
import hashlib
import http.server
import json
import os
import secrets
import shutil
import ssl
import stat
import subprocess
import sys
import tempfile
import threading

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from jwcrypto import jwe, jwk

KWGET = os.path.abspath(sys.argv[1])
SRC = os.environ.get("KW_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", "..", ".."))
TMP = tempfile.mkdtemp(prefix="kw-kwget-cli.")
SECRET = bytes(range(100, 132))
NO_TSM = "kwget: no SEV-SNP guest interface found (configfs-tsm); use --emulate snp for testing\n"


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def b64u_dec(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def run(*args, stdin=None):
    return subprocess.run([KWGET] + list(args), capture_output=True, timeout=60, stdin=stdin)


def one_line(p):
    err = p.stderr.decode()
    assert err.startswith("kwget: ") and err.count("\n") == 1 and err.endswith("\n"), err
    return err


# ------------------------------------------------------------ fake broker

class Broker:
    def __init__(self, emu, tls_max=None):
        self.emu = emu
        self.nonces = set()
        self.sessions = {}
        self.requests = []
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(TMP, "server.pem"), os.path.join(TMP, "server.key"))
        if tls_max is not None:
            ctx.maximum_version = tls_max
        broker = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def reply(self, status, obj=None, ctype="application/json", raw=None):
                body = raw if raw is not None else json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def problem(self, status, title, detail):
                self.reply(status, {"type": "about:blank", "title": title, "status": status,
                                    "detail": detail}, "application/problem+json")

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                broker.requests.append((self.path, body))
                if self.path == "/kbs/v0/auth":
                    assert body == {"version": "0.1.0", "tee": "snp", "extra-params": {}}, body
                    n = b64u(secrets.token_bytes(48))
                    broker.nonces.add(n)
                    return self.reply(200, {"nonce": n, "extra-params": {}})
                if self.path == "/kbs/v0/attest":
                    return broker.attest(self, body)
                self.problem(404, "Not Found", "no such endpoint")

            def do_GET(self):
                return broker.resource(self)

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.srv.socket = ctx.wrap_socket(self.srv.socket, server_side=True)
        self.url = "https://127.0.0.1:%d" % self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def stop(self):
        self.srv.shutdown()

    def attest(self, h, body):
        assert set(body) == {"runtime-data", "tee-evidence"}, body.keys()
        rd, ev = body["runtime-data"], body["tee-evidence"]
        assert set(rd) == {"nonce", "tee-pubkey", "tee-sigkey", "config"} and rd["config"] == {}
        assert rd["tee-pubkey"]["kty"] == "RSA" and set(rd["tee-pubkey"]) == {"kty", "n", "e"}
        assert len(b64u_dec(rd["tee-pubkey"]["n"])) == 384
        assert rd["tee-sigkey"]["kty"] == "EC" and rd["tee-sigkey"]["crv"] == "P-256"
        if rd["nonce"] not in self.nonces:
            return h.problem(401, "Unauthorized", "unknown nonce")
        self.nonces.discard(rd["nonce"])
        # JCS equals sorted compact JSON for these ASCII-only objects
        jcs = json.dumps(rd, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        rep = b64u_dec(ev["report"])
        assert len(rep) == 1184
        if rep[0x50:0x90] != hashlib.sha384(jcs).digest() + bytes(16):
            return h.problem(401, "Unauthorized", "report data does not bind the runtime data")
        vcek = x509.load_der_x509_certificate(b64u_dec(ev["vcek"]))
        ask = x509.load_der_x509_certificate(b64u_dec(ev["chain"][0]))
        ask.public_key().verify(vcek.signature, vcek.tbs_certificate_bytes,
                                padding.PSS(padding.MGF1(hashes.SHA384()), 48), hashes.SHA384())
        r = int.from_bytes(rep[0x2A0:0x2E8], "little")
        s = int.from_bytes(rep[0x2E8:0x330], "little")
        vcek.public_key().verify(encode_dss_signature(r, s), rep[:0x2A0], ec.ECDSA(hashes.SHA384()))
        policy = int.from_bytes(rep[8:16], "little")
        if policy & (1 << 19):
            return h.problem(403, "Forbidden", "debug guest")
        if rep[0x90:0xC0].hex() != self.emu["measurement"]:
            return h.problem(403, "Forbidden", "measurement not allowed")
        tok = b64u(secrets.token_bytes(32))
        self.sessions[tok] = rd["tee-pubkey"]
        h.reply(200, {"session": tok, "expires_in": 300})

    def resource(self, h):
        auth = h.headers.get("Authorization", "")
        if not auth.startswith("KW-Session ") or auth[11:] not in self.sessions:
            return h.problem(401, "Unauthorized", "no session")
        pub = jwk.JWK(**self.sessions[auth[11:]])
        name = h.path[len("/kbs/v0/resource/"):]
        if name == "demo/key/boom":
            return h.problem(500, "Internal Server Error", "HSM on fire\nsecond line")
        if name == "demo/key/huge":
            return h.reply(200, raw=b"A" * 200000, ctype="application/jose")
        if name not in ("demo/key/one", "demo/key/tampered", "demo/key/wrongtype"):
            return h.problem(404, "Not Found", "no such resource")
        t = jwe.JWE(SECRET, protected=json.dumps({"alg": "RSA-OAEP", "enc": "A256CBC-HS512",
                                                  "kid": name + "#1"}))
        t.add_recipient(pub)
        c = t.serialize(compact=True)
        if name == "demo/key/tampered":
            parts = c.split(".")
            parts[3] = ("B" if parts[3][0] == "A" else "A") + parts[3][1:]
            c = ".".join(parts)
        h.reply(200, raw=c.encode(),
                ctype="application/json" if name == "demo/key/wrongtype" else "application/jose")


def make_certs():
    def ossl(*a):
        subprocess.run(["openssl"] + list(a), check=True, capture_output=True)
    for name in ("ca", "other-ca"):
        ossl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", os.path.join(TMP, name + ".key"), "-out", os.path.join(TMP, name + ".pem"),
             "-subj", "/CN=kwget test " + name, "-days", "2")
    ossl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", os.path.join(TMP, "server.key"), "-out", os.path.join(TMP, "server.csr"),
         "-subj", "/CN=127.0.0.1")
    ext = os.path.join(TMP, "ext.cnf")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    ossl("x509", "-req", "-in", os.path.join(TMP, "server.csr"), "-CA", os.path.join(TMP, "ca.pem"),
         "-CAkey", os.path.join(TMP, "ca.key"), "-CAcreateserial", "-days", "2",
         "-extfile", ext, "-out", os.path.join(TMP, "server.pem"))


# ------------------------------------------------------------------ tests

def t_help_version():
    p = run("--help")
    assert p.returncode == 0 and b"usage: kwget" in p.stdout and b"Exit:" in p.stdout, p
    p = run("--version")
    assert p.returncode == 0 and p.stdout.startswith(b"kwget "), p


def t_usage_errors():
    base = ["--url", "https://127.0.0.1:1", "--resource", "a/b/c", "--out", os.path.join(TMP, "u")]
    cases = [
        ([], "missing --url"),
        (["--url", "https://x"], "missing --resource"),
        (["--url", "http://127.0.0.1:1", "--resource", "a/b/c", "--stdout"], "https://"),
        (["--url", "https://x", "--resource", "a/b", "--stdout"], "REPO/TYPE/TAG"),
        (["--url", "https://x", "--resource", "a/../b/c", "--stdout"], "REPO/TYPE/TAG"),
        (["--url", "https://x", "--resource", "a/b/c/d", "--stdout"], "REPO/TYPE/TAG"),
        (["--url", "https://x", "--resource", "a/b/c"], "exactly one of"),
        (base + ["--stdout"], "exactly one of"),
        (base + ["--emu-dir", TMP], "need --emulate snp"),
        (base + ["--emulate", "tdx", "--emu-dir", TMP], "only 'snp'"),
        (base + ["--emulate", "snp"], "needs --emu-dir"),
        (base + ["--emulate", "snp", "--emu-dir", TMP, "--emu-measurement", "abc"], "96 hex"),
        (base + ["--emulate", "snp", "--emu-dir", TMP, "--emu-report-data", "00" * 63], "128 hex"),
        (base + ["--bogus"], "unknown"),
        (base + ["extra"], "unexpected argument"),
    ]
    for args, want in cases:
        p = run(*args)
        err = one_line(p)
        assert p.returncode == 1 and want in err, (args, p.returncode, err)


def t_no_configfs_tsm():
    if os.path.isdir("/sys/kernel/config/tsm/report"):
        print("  (skipped: this machine has configfs-tsm)")
        return
    p = run("--url", "https://127.0.0.1:1", "--resource", "a/b/c", "--out", os.path.join(TMP, "x"))
    assert p.returncode == 6 and p.stderr.decode() == NO_TSM, p
    assert not os.path.exists(os.path.join(TMP, "x"))


def kw(b, *args):
    return run("--url", b.url, "--cacert", os.path.join(TMP, "ca.pem"), "--emulate", "snp",
               "--emu-dir", os.path.join(TMP, "emu"), *args)


def fresh(name):
    d = tempfile.mkdtemp(dir=TMP)
    return os.path.join(d, name)


def t_release(b):
    out, jwe_p, pem, req = fresh("key"), fresh("jwe"), fresh("tee.pem"), fresh("req.json")
    p = kw(b, "--resource", "demo/key/one", "--out", out, "--jwe-out", jwe_p, "--tee-key-out", pem,
           "--save-attest-request", req)
    err = p.stderr.decode()
    assert p.returncode == 0, err
    with open(out, "rb") as f:
        assert f.read() == SECRET
    for path in (out, jwe_p, pem, req):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
    for word in ("nonce", "EMULATED", "attested", "released", "32 bytes", "fingerprint",
                 hashlib.sha256(SECRET).hexdigest()[:16]):
        assert word in err, (word, err)
    assert SECRET.hex() not in err and b64u(SECRET) not in err
    # the JWE decrypts with jwcrypto and the TEE key kwget wrote
    with open(pem, "rb") as f:
        key = jwk.JWK.from_pem(f.read())
    t = jwe.JWE()
    with open(jwe_p) as f:
        t.deserialize(f.read(), key=key)
    assert t.payload == SECRET
    # the saved request is exactly what the broker received
    with open(req) as f:
        saved = json.load(f)
    assert saved == b.requests[-1][1] and b.requests[-1][0] == "/kbs/v0/attest"
    # --quiet: nothing on stderr; --stdout: raw bytes
    p = kw(b, "--resource", "demo/key/one", "--stdout", "--quiet")
    assert p.returncode == 0 and p.stdout == SECRET and p.stderr == b"", p


def t_refuses_existing_output(b):
    out = fresh("key")
    with open(out, "wb") as f:
        f.write(b"keep me")
    n = len(b.requests)
    p = kw(b, "--resource", "demo/key/one", "--out", out)
    assert p.returncode == 6 and "exists" in one_line(p), p
    assert open(out, "rb").read() == b"keep me" and len(b.requests) == n
    link = fresh("link")
    os.symlink(os.path.join(TMP, "nowhere"), link)
    p = kw(b, "--resource", "demo/key/one", "--out", link)
    assert p.returncode == 6 and not os.path.exists(os.path.join(TMP, "nowhere")), p


def t_errors(b):
    cases = [
        (["--emu-report-data", "11" * 64], 3,
         "kwget: attest failed: HTTP 401 Unauthorized: report data does not bind the runtime data\n"),
        (["--emu-debug"], 3, "kwget: attest failed: HTTP 403 Forbidden: debug guest\n"),
        (["--emu-measurement", "cd" * 48], 3,
         "kwget: attest failed: HTTP 403 Forbidden: measurement not allowed\n"),
    ]
    for extra, code, msg in cases:
        out = fresh("k")
        p = kw(b, "--resource", "demo/key/one", "--out", out, "--quiet", *extra)
        assert p.returncode == code and p.stderr.decode() == msg, (extra, p)
        assert not os.path.exists(out)
    for res, code, want in [
        ("demo/key/nope", 4, "resource failed: HTTP 404 Not Found: no such resource"),
        ("demo/key/boom", 5, "resource failed: HTTP 500 Internal Server Error: HSM on fire\\x0asecond"),
        ("demo/key/huge", 5, "resource failed: response larger than"),
        ("demo/key/wrongtype", 5, "content type other than application/jose"),
        ("demo/key/tampered", 6, "decrypt failed"),
    ]:
        out = fresh("k")
        p = kw(b, "--resource", res, "--out", out, "--quiet")
        err = one_line(p)
        assert p.returncode == code and want in err, (res, p.returncode, err)
        assert not os.path.exists(out)


def t_tls(b, b12):
    # a CA that did not sign the broker's certificate
    p = run("--url", b.url, "--cacert", os.path.join(TMP, "other-ca.pem"), "--emulate", "snp",
            "--emu-dir", os.path.join(TMP, "emu"), "--resource", "demo/key/one", "--stdout", "--quiet")
    assert p.returncode == 2 and "auth failed" in one_line(p) and p.stdout == b"", p
    # a broker that cannot speak TLS 1.3
    p = kw(b12, "--resource", "demo/key/one", "--stdout", "--quiet")
    assert p.returncode == 2 and "auth failed" in one_line(p), p
    # nothing listening
    p = run("--url", "https://127.0.0.1:1", "--cacert", os.path.join(TMP, "ca.pem"), "--emulate",
            "snp", "--emu-dir", os.path.join(TMP, "emu"), "--resource", "a/b/c", "--stdout", "--quiet")
    assert p.returncode == 2 and "auth failed" in one_line(p), p
    # a broken emulation directory is a local error, after the nonce
    p = run("--url", b.url, "--cacert", os.path.join(TMP, "ca.pem"), "--emulate", "snp",
            "--emu-dir", os.path.join(TMP, "missing"), "--resource", "a/b/c", "--stdout", "--quiet")
    assert p.returncode == 6 and "evidence failed" in one_line(p), p


def main():
    failed = 0
    try:
        make_certs()
        subprocess.run(["sh", os.path.join(SRC, "scripts", "mk-emu-chain.sh"), os.path.join(TMP, "emu")],
                       check=True, capture_output=True)
        with open(os.path.join(TMP, "emu", "emu.json")) as f:
            emu = json.load(f)
        b = Broker(emu)
        b12 = Broker(emu, tls_max=ssl.TLSVersion.TLSv1_2)
        tests = [t_help_version, t_usage_errors, t_no_configfs_tsm, lambda: t_release(b),
                 lambda: t_refuses_existing_output(b), lambda: t_errors(b), lambda: t_tls(b, b12)]
        names = ["help_version", "usage_errors", "no_configfs_tsm", "release", "refuses_existing_output",
                 "errors", "tls"]
        for name, t in zip(names, tests):
            try:
                t()
                print("ok   %s" % name)
            except Exception as e:  # report every failing case, then fail
                failed += 1
                print("FAIL %s: %r" % (name, e))
        b.stop()
        b12.stop()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
