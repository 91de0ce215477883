#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""kwget-cli: kwget's command line, exit codes and messages, and full flows
against a small fake broker (TLS 1.3 on 127.0.0.1) that checks the binding and
the emulated report itself, issues TEE-bound tokens (ES256 JWTs with
cnf.jkt), verifies kwget's DPoP proofs with python3-jwcrypto (signature with
the embedded jwk, jkt, htm, htu, iat, jti, ath, nonce), plays the RFC 9449
use_dpop_nonce game and releases JWEs made by python3-jwcrypto.

Usage: test_kwget_cli.py PATH/TO/kwget     (KW_SOURCE_ROOT locates scripts/)
"""
import base64
import hashlib
import http.server
import json
import os
import re
import secrets
import shutil
import ssl
import stat
import subprocess
import sys
import tempfile
import threading
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from jwcrypto import jwe, jwk, jws
from jwcrypto.common import json_encode

KWGET = os.path.abspath(sys.argv[1])
SRC = os.environ.get("KW_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", "..", ".."))
TMP = tempfile.mkdtemp(prefix="kw-kwget-cli.")
SECRET = bytes(range(100, 132))
NO_TSM = ("kwget: no TEE found: no configfs-tsm and no TPM (kwget --detect); use --emulate snp or "
          "--emulate tdx for testing\n")
# auto-detection looks here instead of /sys/kernel/config/tsm/report and /dev/tpmrm0 (test-only
# variables), with no TCTI in the environment: this machine's own TEE cannot change the outcome
NO_TEE_ENV = dict((k, v) for k, v in os.environ.items() if k not in ("KWGET_TCTI", "TPM2TOOLS_TCTI", "TCTI"))
NO_TEE_ENV.update(KWA_TEST_TSM_DIR="/nonexistent/tsm/report", KWA_TEST_TPM_DEVICE="/nonexistent/tpmrm0")


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def b64u_dec(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def run(*args, stdin=None, env=None):
    return subprocess.run([KWGET] + list(args), capture_output=True, timeout=60, stdin=stdin, env=env)


def one_line(p):
    err = p.stderr.decode()
    assert err.startswith("kwget: ") and err.count("\n") == 1 and err.endswith("\n"), err
    return err


# ------------------------------------------------------------ fake broker

class Broker:
    """DPoP nonce behaviour (self.mode):
    none       no nonce anywhere; a proof carrying one is refused
    attest     /attest announces DPoP-Nonce; the resource requires it
    challenge  no nonce from /attest; the first GET gets 401 use_dpop_nonce + a nonce
    rotate     /attest announces one nonce, the resource wants another (one challenge)
    always     every GET gets 401 use_dpop_nonce with a fresh nonce
    other401   401 invalid_dpop_proof (with a DPoP-Nonce header): final
    nononce    401 use_dpop_nonce without a DPoP-Nonce header: final
    """

    def __init__(self, emu, tls_max=None):
        self.emu = emu
        self.nonces = set()
        self.tokens = {}
        self.requests = []
        self.configs = []    # runtime-data.config of each attest whose report data bound it
        self.gets = []       # (path, claims of the proof or None, status)
        self.jtis = set()
        self.mode = "none"
        self.dpop_nonce = None
        self.key = jwk.JWK.generate(kty="EC", crv="P-256")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(TMP, "server.pem"), os.path.join(TMP, "server.key"))
        if tls_max is not None:
            ctx.maximum_version = tls_max
        broker = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def reply(self, status, obj=None, ctype="application/json", raw=None, headers=()):
                body = raw if raw is not None else json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def problem(self, status, title, detail, headers=()):
                self.reply(status, {"type": "about:blank", "title": title, "status": status,
                                    "detail": detail}, "application/problem+json", headers=headers)

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
        assert set(rd) == {"nonce", "tee-pubkey", "tee-sigkey", "config"} and isinstance(rd["config"], dict)
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
        self.configs.append(rd["config"])   # bound: the report data covers it
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
        now = int(time.time())
        claims = {"eat_profile": "tag:github.com,2023:veraison/ear", "iat": now, "exp": now + 300,
                  "jti": b64u(secrets.token_bytes(16)), "iss": "fake-broker",
                  "cnf": {"jkt": jwk.JWK(**rd["tee-sigkey"]).thumbprint()},
                  "submods": {"cpu0": {"ear.status": "affirming"}}}
        t = jws.JWS(json_encode(claims))
        t.add_signature(self.key, None, json_encode({"alg": "ES256", "typ": "JWT",
                                                     "kid": self.key.thumbprint()}))
        tok = t.serialize(compact=True)
        self.tokens[tok] = (rd["tee-pubkey"], claims)
        hdrs = []
        if self.mode in ("attest", "rotate"):
            self.dpop_nonce = "att-" + b64u(secrets.token_bytes(12))
            hdrs.append(("DPoP-Nonce", self.dpop_nonce))
        h.reply(200, {"token": tok}, headers=hdrs)

    def check_proof(self, h, tok):
        """RFC 9449 section 4.3 checks with jwcrypto; returns the claims or raises."""
        proof = h.headers.get_all("DPoP") or []
        assert len(proof) == 1, "exactly one DPoP header"
        p = jws.JWS()
        p.deserialize(proof[0])
        hdr = json.loads(p.objects["protected"])
        assert list(hdr) == ["typ", "alg", "jwk"] and hdr["typ"] == "dpop+jwt" and hdr["alg"] == "ES256", hdr
        assert set(hdr["jwk"]) == {"kty", "crv", "x", "y"}, hdr["jwk"]
        emb = jwk.JWK(**hdr["jwk"])
        p.verify(emb, alg="ES256")
        assert emb.thumbprint() == self.tokens[tok][1]["cnf"]["jkt"], "proof key is not the token's key"
        c = json.loads(p.payload)
        assert set(c) <= {"htm", "htu", "iat", "jti", "ath", "nonce"}, c
        assert c["htm"] == "GET" and c["htu"] == self.url + h.path, (c["htu"], h.path)
        assert abs(c["iat"] - time.time()) < 60, c["iat"]
        assert len(b64u_dec(c["jti"])) >= 16 and c["jti"] not in self.jtis, "jti"
        self.jtis.add(c["jti"])
        assert c["ath"] == b64u(hashlib.sha256(tok.encode()).digest()), "ath"
        return c

    def resource(self, h):
        auth = h.headers.get("Authorization", "")
        if not auth.startswith("DPoP ") or auth[5:] not in self.tokens:
            self.gets.append((h.path, None, 401))
            return h.problem(401, "Unauthorized", "no token")
        tok = auth[5:]
        try:
            c = self.check_proof(h, tok)
        except Exception as e:  # the test asserts on self.gets
            self.gets.append((h.path, repr(e), 401))
            return h.problem(401, "Unauthorized", "bad proof",
                             [("WWW-Authenticate", 'DPoP error="invalid_dpop_proof"')])
        fresh_nonce = "srv-" + b64u(secrets.token_bytes(12))
        challenge = [("WWW-Authenticate", 'DPoP error="use_dpop_nonce", '
                      'error_description="Resource server requires nonce in DPoP proof"'),
                     ("DPoP-Nonce", fresh_nonce)]
        mode = self.mode
        if mode == "none" and "nonce" in c:
            self.gets.append((h.path, c, 401))
            return h.problem(401, "Unauthorized", "unexpected nonce")
        if mode == "rotate" and self.dpop_nonce.startswith("att-"):
            self.dpop_nonce = None
        if mode in ("challenge", "rotate") and (self.dpop_nonce is None or c.get("nonce") != self.dpop_nonce):
            self.dpop_nonce = fresh_nonce
            self.gets.append((h.path, c, 401))
            return h.problem(401, "Unauthorized", "nonce required", challenge)
        if mode == "attest" and c.get("nonce") != self.dpop_nonce:
            self.gets.append((h.path, c, 401))
            return h.problem(401, "Unauthorized", "wrong nonce")
        if mode == "always":
            self.gets.append((h.path, c, 401))
            return h.problem(401, "Unauthorized", "nonce required again", challenge)
        if mode == "other401":
            self.gets.append((h.path, c, 401))
            return h.problem(401, "Unauthorized", "proof refused",
                             [("WWW-Authenticate", 'DPoP error="invalid_dpop_proof"'),
                              ("DPoP-Nonce", fresh_nonce)])
        if mode == "nononce":
            self.gets.append((h.path, c, 401))
            return h.problem(401, "Unauthorized", "nonce required, none given", challenge[:1])
        self.gets.append((h.path, c, 200))
        pub = jwk.JWK(**self.tokens[tok][0])
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
        (base + ["--emulate", "tpm", "--emu-dir", TMP], "supports 'snp', 'tdx' and 'cca'"),
        (base + ["--emulate", "tdx"], "--emulate tdx needs --emu-dir"),
        (["--emu-collateral-out", os.path.join(TMP, "c.json")], "needs --emulate tdx --emu-dir"),
        (["--emulate", "snp", "--emu-dir", TMP, "--emu-collateral-out", os.path.join(TMP, "c.json")],
         "needs --emulate tdx --emu-dir"),
        (base + ["--emulate", "tdx", "--emu-dir", TMP, "--emu-collateral-out", os.path.join(TMP, "c.json")],
         "takes only --emulate tdx and --emu-dir"),
        (base + ["--emulate", "snp"], "needs --emu-dir"),
        (base + ["--emulate", "snp", "--emu-dir", TMP, "--emu-measurement", "abc"], "96 hex"),
        (base + ["--emulate", "snp", "--emu-dir", TMP, "--emu-report-data", "00" * 63], "128 hex"),
        (base + ["--bogus"], "unknown"),
        (base + ["extra"], "unexpected argument"),
        (["--url", "https://x/?a=1", "--resource", "a/b/c", "--stdout"], "query"),
        (["--url", "https://x/#f", "--resource", "a/b/c", "--stdout"], "fragment"),
        (base + ["--no-manifest", "--root-store", TMP], "--no-manifest excludes"),
        (base + ["--no-manifest", "--crypto-config", TMP], "--no-manifest excludes"),
        (base + ["--tls-config-section", "x"], "needs --tls-config"),
    ]
    for args, want in cases:
        p = run(*args)
        err = one_line(p)
        assert p.returncode == 1 and want in err, (args, p.returncode, err)


def t_no_configfs_tsm():
    """No TEE at all (auto-detection): exit 7, one line, nothing written, no network."""
    p = run("--url", "https://127.0.0.1:1", "--resource", "a/b/c", "--out", os.path.join(TMP, "x"),
            env=NO_TEE_ENV)
    assert p.returncode == 7 and p.stderr.decode() == NO_TSM, p
    assert not os.path.exists(os.path.join(TMP, "x"))
    # --detect says so in its documented format, exit 7
    p = run("--detect", env=NO_TEE_ENV)
    assert p.returncode == 7 and p.stderr == b"", p
    assert p.stdout.decode().splitlines() == [
        "configfs-tsm: absent (/nonexistent/tsm/report)", "tpm: absent (no /nonexistent/tpmrm0)",
        "azure-vtpm: not-checked", "tee: none"], p.stdout


def t_emu_collateral_out():
    """--emu-collateral-out: the emulated TDX platform's collateral, a new 0600 file, nothing else."""
    d = tempfile.mkdtemp(dir=TMP)
    emu = os.path.join(d, "tdx-emu")
    subprocess.run(["sh", os.path.join(SRC, "scripts", "mk-tdx-emu.sh"), emu], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    out = os.path.join(d, "coll.json")
    p = run("--emulate", "tdx", "--emu-dir", emu, "--emu-collateral-out", out)
    assert p.returncode == 0, p
    assert (os.stat(out).st_mode & 0o777) == 0o600
    doc = json.load(open(out))
    assert set(doc) == {"pck_crl_issuer_chain", "root_ca_crl", "pck_crl", "tcb_info_issuer_chain", "tcb_info",
                        "tcb_info_signature", "qe_identity_issuer_chain", "qe_identity",
                        "qe_identity_signature"}, sorted(doc)
    tcb = json.loads(doc["tcb_info"])
    assert tcb["fmspc"].lower() == json.load(open(os.path.join(emu, "emu.json")))["fmspc"], tcb["fmspc"]
    signer = x509.load_pem_x509_certificate(doc["tcb_info_issuer_chain"].encode())
    assert "NOT INTEL" in signer.subject.rfc4514_string(), signer.subject
    p = run("--emulate", "tdx", "--emu-dir", emu, "--emu-collateral-out", out)
    assert p.returncode == 6 and "exists" in one_line(p), p
    p = run("--emulate", "tdx", "--emu-dir", os.path.join(d, "nothing"), "--emu-collateral-out",
            os.path.join(d, "c2.json"))
    assert p.returncode == 6 and not os.path.exists(os.path.join(d, "c2.json")), p


def kw(b, *args, env=None):
    return run("--url", b.url, "--cacert", os.path.join(TMP, "ca.pem"), "--emulate", "snp",
               "--emu-dir", os.path.join(TMP, "emu"), *args, env=env)


def fresh(name):
    d = tempfile.mkdtemp(dir=TMP)
    return os.path.join(d, name)


def t_release(b):
    b.mode = "none"
    out, jwe_p, pem, req, tokf = (fresh("key"), fresh("jwe"), fresh("tee.pem"), fresh("req.json"),
                                  fresh("token"))
    ngets = len(b.gets)
    p = kw(b, "--resource", "demo/key/one", "--out", out, "--jwe-out", jwe_p, "--tee-key-out", pem,
           "--save-attest-request", req, "--token-out", tokf)
    err = p.stderr.decode()
    assert p.returncode == 0, err
    with open(out, "rb") as f:
        assert f.read() == SECRET
    for path in (out, jwe_p, pem, req, tokf):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
    for word in ("nonce", "EMULATED", "released", "32 bytes", "fingerprint",
                 "attested: received a TEE-bound token valid for 300 s",
                 hashlib.sha256(SECRET).hexdigest()[:16]):
        assert word in err, (word, err)
    assert SECRET.hex() not in err and b64u(SECRET) not in err and "retrying" not in err
    # one GET with a proof that passed every check, no nonce in it
    gets = b.gets[ngets:]
    assert len(gets) == 1 and gets[0][2] == 200 and "nonce" not in gets[0][1], gets
    assert gets[0][0] == "/kbs/v0/resource/demo/key/one"
    # --token-out holds exactly the token the broker issued, bound to the tee-sigkey sent
    with open(tokf) as f:
        tok = f.read()
    assert tok in b.tokens and tok not in err
    t = jws.JWS()
    t.deserialize(tok, key=b.key)
    with open(req) as f:
        sigkey = json.load(f)["runtime-data"]["tee-sigkey"]
    assert json.loads(t.payload)["cnf"]["jkt"] == jwk.JWK(**sigkey).thumbprint()
    # --token-out refuses an existing file before any network traffic
    n = len(b.requests)
    p = kw(b, "--resource", "demo/key/one", "--stdout", "--token-out", tokf)
    assert p.returncode == 6 and "exists" in one_line(p) and len(b.requests) == n, p
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


def t_dpop_nonce(b):
    """The nonce from /attest is used; one use_dpop_nonce challenge is answered once."""
    def go(mode, res="demo/key/one"):
        b.mode = mode
        n = len(b.gets)
        p = kw(b, "--resource", res, "--stdout")
        return p, b.gets[n:]

    # nonce announced by /attest goes into the first proof
    p, gets = go("attest")
    assert p.returncode == 0 and p.stdout == SECRET, p
    assert len(gets) == 1 and gets[0][2] == 200 and gets[0][1]["nonce"].startswith("att-"), gets
    # challenge: 401 use_dpop_nonce, then a fresh proof (new jti, the server's nonce) succeeds
    p, gets = go("challenge")
    err = p.stderr.decode()
    assert p.returncode == 0 and p.stdout == SECRET, p
    assert [g[2] for g in gets] == [401, 200], gets
    assert "nonce" not in gets[0][1] and gets[1][1]["nonce"].startswith("srv-"), gets
    assert gets[0][1]["jti"] != gets[1][1]["jti"] and gets[1][1]["iat"] >= gets[0][1]["iat"]
    assert "retrying once" in err and "attested: received a TEE-bound token" in err, err
    # the /attest nonce went stale: one challenge, then success
    p, gets = go("rotate")
    assert p.returncode == 0 and [g[2] for g in gets] == [401, 200], (p, gets)
    assert gets[0][1]["nonce"].startswith("att-") and gets[1][1]["nonce"].startswith("srv-"), gets
    # a broker that keeps asking: exactly one retry, then the 401 is final (exit 3)
    p, gets = go("always")
    assert p.returncode == 3 and p.stdout == b"", p
    assert [g[2] for g in gets] == [401, 401] and gets[1][1]["nonce"].startswith("srv-"), gets
    assert "resource failed: HTTP 401 Unauthorized: nonce required again" in p.stderr.decode(), p
    # any other 401 is final at once, even with a DPoP-Nonce header
    p, gets = go("other401")
    assert p.returncode == 3 and len(gets) == 1, (p, gets)
    assert p.stderr.decode().endswith("kwget: resource failed: HTTP 401 Unauthorized: proof refused\n"), p
    # use_dpop_nonce without a DPoP-Nonce header: nothing to retry with
    p, gets = go("nononce")
    assert p.returncode == 3 and len(gets) == 1 and "none given" in p.stderr.decode(), (p, gets)
    # every proof so far passed the signature/jkt/htu/ath/jti checks
    assert all(not isinstance(g[1], str) for g in b.gets), [g for g in b.gets if isinstance(g[1], str)]
    b.mode = "none"


# ------------------------------------------------------ config manifest

TLS13_CNF = """openssl_conf = init
[init]
ssl_conf = ssl
[ssl]
system_default = sys
legacy = old
[sys]
MinProtocol = TLSv1.3
CipherSuites = TLS_AES_256_GCM_SHA384
[old]
MinProtocol = TLSv1.2
CipherString = AES128-SHA
Groups = X25519:P-256
SignatureAlgorithms = ECDSA+SHA256:RSA-PSS+SHA256
"""


def write(path, data):
    with open(path, "w") as f:
        f.write(data)
    return path


def store_expect(pems):
    """Fingerprints and digest of a store, computed here with python-cryptography."""
    from cryptography.hazmat.primitives.serialization import Encoding
    fps = set()
    for p in pems:
        with open(p, "rb") as f:
            data = f.read()
        for blk in re.findall(rb"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----\n", data, re.S):
            c = x509.load_pem_x509_certificate(blk)
            fps.add(hashlib.sha256(c.public_bytes(Encoding.DER)).hexdigest())
    fps = sorted(fps)
    return {"fingerprints": fps, "digest": hashlib.sha384("".join(f + "\n" for f in fps).encode()).hexdigest()}


def openssl_ciphers(*args):
    p = subprocess.run(["openssl", "ciphers"] + list(args), capture_output=True, check=True)
    return p.stdout.decode().strip().split(":")


def t_manifest(b):
    b.mode = "none"
    store = tempfile.mkdtemp(dir=TMP)
    cas = []
    for i in range(3):
        k, c = os.path.join(store, "k%d" % i), os.path.join(store, "ca%d.pem" % i)
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                        "-nodes", "-keyout", k, "-out", c, "-subj", "/CN=manifest root %d" % i, "-days", "2"],
                       check=True, capture_output=True)
        os.unlink(k)   # a directory of certificates only (plus what is added below)
        cas.append(c)
    os.symlink("ca1.pem", os.path.join(store, "dup.0"))   # the same certificate twice
    write(os.path.join(store, "README"), "not a certificate\n")
    cnf = write(fresh("tls.cnf"), TLS13_CNF)
    crypto = write(fresh("crypto.json"), '{"rsa_bits": 3072, "ec_bits": 256, "symmetric_bits": 256}')

    # 1. default: the TLS defaults of the process, nothing else
    n = len(b.configs)
    p = kw(b, "--resource", "demo/key/one", "--stdout")
    err = p.stderr.decode()
    assert p.returncode == 0 and p.stdout == SECRET, err
    cfg = b.configs[n]
    assert len(b.configs) == n + 1 and set(cfg) == {"tls"}, cfg
    assert cfg["tls"] == {"min_version": "1.2", "cipher_suites": openssl_ciphers()}, cfg
    assert ("manifest: root store not measured; TLS (this process's OpenSSL defaults) min 1.2, %d cipher "
            "suites; crypto: none declared" % len(cfg["tls"]["cipher_suites"])) in err, err

    # 2. all three, as the flags describe them (computed independently here)
    req = fresh("req.json")
    p = kw(b, "--resource", "demo/key/one", "--stdout", "--root-store", store, "--tls-config", cnf,
           "--crypto-config", crypto, "--save-attest-request", req)
    err = p.stderr.decode()
    assert p.returncode == 0 and p.stdout == SECRET, err
    want = {"root-store": store_expect(cas),
            "tls": {"min_version": "1.3", "cipher_suites": ["TLS_AES_256_GCM_SHA384"]},
            "crypto": {"rsa_bits": 3072, "ec_bits": 256, "symmetric_bits": 256}}
    assert b.configs[-1] == want, (b.configs[-1], want)
    with open(req) as f:
        rd = json.load(f)["runtime-data"]
    assert rd["config"] == want
    assert ("manifest: root store 3 certificates, digest %s...; TLS (%s) min 1.3, 1 cipher suite; "
            "crypto: RSA 3072 bits, EC 256 bits, symmetric 256 bits"
            % (want["root-store"]["digest"][:16], cnf)) in err, err
    # the same certificates as one bundle, in another order: the same digest
    bundle = write(fresh("bundle.pem"), "".join(open(c).read() for c in reversed(cas)))
    p = kw(b, "--resource", "demo/key/one", "--stdout", "--root-store", bundle)
    assert p.returncode == 0 and b.configs[-1]["root-store"] == want["root-store"], p
    # one more CA: another digest
    shutil.copy(os.path.join(TMP, "other-ca.pem"), os.path.join(store, "extra.pem"))
    p = kw(b, "--resource", "demo/key/one", "--stdout", "--root-store", store)
    got = b.configs[-1]["root-store"]
    assert p.returncode == 0 and got == store_expect(cas + [os.path.join(TMP, "other-ca.pem")]), got
    assert got["digest"] != want["root-store"]["digest"] and len(got["fingerprints"]) == 4
    os.unlink(os.path.join(store, "extra.pem"))

    # 3. another ssl_conf entry: TLS 1.2 with a non-AEAD cipher, groups, signature algorithms
    p = kw(b, "--resource", "demo/key/one", "--stdout", "--tls-config", cnf, "--tls-config-section", "legacy")
    t = b.configs[-1]["tls"]
    assert p.returncode == 0, p
    assert t == {"min_version": "1.2", "cipher_suites": openssl_ciphers("-ciphersuites", "", "AES128-SHA") and
                 ["TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256", "AES128-SHA"],
                 "groups": ["X25519", "P-256"], "signature_algorithms": ["ECDSA+SHA256", "RSA-PSS+SHA256"]}, t
    assert "2 groups, 2 signature algorithms" in p.stderr.decode()

    # 4. the process's own OpenSSL configuration is what "defaults" means
    env = dict(os.environ, OPENSSL_CONF=cnf)
    p = kw(b, "--resource", "demo/key/one", "--stdout", env=env)
    assert p.returncode == 0 and b.configs[-1]["tls"] == {"min_version": "1.3",
                                                           "cipher_suites": ["TLS_AES_256_GCM_SHA384"]}, p

    # 5. --no-manifest: config is {} again
    p = kw(b, "--resource", "demo/key/one", "--stdout", "--no-manifest")
    assert p.returncode == 0 and b.configs[-1] == {}, p
    assert 'manifest: none sent (--no-manifest; "config" is {})' in p.stderr.decode()

    # 6. anything unmeasurable stops kwget before any network traffic (exit 6)
    bad = fresh("bad.pem")
    with open(cas[0]) as f:
        lines = f.read().splitlines(True)
    lines[3] = "!!!!" + lines[3][4:]
    write(bad, "".join(lines))
    baddir = tempfile.mkdtemp(dir=TMP)
    shutil.copy(cas[0], baddir)
    shutil.copy(bad, baddir)
    cases = [
        (["--root-store", bad], "manifest failed: root-store %s: " % bad),
        (["--root-store", baddir], "manifest failed: root-store %s: " % baddir),
        (["--root-store", os.path.join(TMP, "nowhere")], "manifest failed: root-store"),
        (["--root-store", tempfile.mkdtemp(dir=TMP)], "manifest failed: root-store"),
        (["--tls-config", write(fresh("x.cnf"), TLS13_CNF.replace("TLSv1.3", "TLSv9"))], "manifest failed: tls"),
        (["--tls-config", cnf, "--tls-config-section", "nope"], "manifest failed: tls"),
        (["--crypto-config", write(fresh("c.json"), '{"rsa_bits": 3072, "sha": 1}')], "manifest failed: crypto"),
        (["--crypto-config", write(fresh("c.json"), '{"rsa_bits": 0}')], "manifest failed: crypto"),
    ]
    for extra, want_err in cases:
        n = len(b.requests)
        p = kw(b, "--resource", "demo/key/one", "--stdout", *extra)
        assert p.returncode == 6 and want_err in one_line(p) and len(b.requests) == n, (extra, p)


def t_tls(b, b12):
    # a CA that did not sign the broker's certificate
    p = run("--url", b.url, "--cacert", os.path.join(TMP, "other-ca.pem"), "--emulate", "snp",
            "--emu-dir", os.path.join(TMP, "emu"), "--resource", "demo/key/one", "--stdout", "--quiet")
    assert p.returncode == 2 and "auth failed" in one_line(p) and p.stdout == b"", p
    # a broker that cannot speak TLS 1.3
    p = kw(b12, "--resource", "demo/key/one", "--stdout", "--quiet")
    assert p.returncode == 2 and "auth failed" in one_line(p), p
    # nothing listening (no retries: those are tested in tests/integration/test_kwget_retry.py)
    p = run("--url", "https://127.0.0.1:1", "--cacert", os.path.join(TMP, "ca.pem"), "--emulate",
            "snp", "--emu-dir", os.path.join(TMP, "emu"), "--resource", "a/b/c", "--stdout", "--quiet",
            "--retries", "0")
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
        tests = [t_help_version, t_usage_errors, t_no_configfs_tsm, t_emu_collateral_out, lambda: t_release(b),
                 lambda: t_refuses_existing_output(b), lambda: t_errors(b), lambda: t_dpop_nonce(b),
                 lambda: t_tls(b, b12), lambda: t_manifest(b)]
        names = ["help_version", "usage_errors", "no_configfs_tsm", "release", "refuses_existing_output",
                 "errors", "dpop_nonce", "tls", "manifest"]
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
