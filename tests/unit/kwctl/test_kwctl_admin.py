#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""kwctl-admin: kwctl's admin subcommands against a fake admin API (TLS 1.3 on
127.0.0.1, client certificate required, throw-away CA made with openssl). The
fake records every request and serves canned JSON or problem responses; for
imports it unwraps the KEK (RSA-OAEP SHA-1 with its import key's private half)
and the value (RFC 5649) itself with python3-cryptography.

Checks: exact method, path and body of every subcommand; the imported value
arrives exactly (PKCS#7 padding for a 20-byte secret); the value never appears
in kwctl's output; exit codes per status; --json prints the body exactly;
handshake failures; profile loading and flag overrides; usage errors.

Usage: test_kwctl_admin.py PATH/TO/kwctl
"""
import base64
import http.server
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap_with_padding

KWCTL = os.path.abspath(sys.argv[1])
TMP = tempfile.mkdtemp(prefix="kw-kwctl-admin.")
HOME = os.path.join(TMP, "home")


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def b64u_dec(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def p(name):
    return os.path.join(TMP, name)


# ------------------------------------------------------------ certificates

def make_certs():
    def ossl(*a):
        subprocess.run(["openssl"] + list(a), check=True, capture_output=True)

    def ext(name, text):
        with open(p(name), "w") as f:
            f.write(text)
        return p(name)

    for name in ("ca", "other-ca"):
        ossl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", p(name + ".key"), "-out", p(name + ".pem"),
             "-subj", "/CN=kwctl test " + name, "-days", "2")
    certs = [("server", "ca", "/CN=127.0.0.1", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"),
             ("alice", "ca", "/CN=alice", "extendedKeyUsage=clientAuth\n"),
             ("mallory", "other-ca", "/CN=alice", "extendedKeyUsage=clientAuth\n")]
    for name, ca, subj, extra in certs:
        ossl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", p(name + ".key"), "-out", p(name + ".csr"), "-subj", subj)
        ossl("x509", "-req", "-in", p(name + ".csr"), "-CA", p(ca + ".pem"), "-CAkey", p(ca + ".key"),
             "-CAcreateserial", "-days", "2", "-extfile", ext(name + ".ext", extra),
             "-out", p(name + ".pem"))
    # alice's certificate and key in one file (no --key needed)
    with open(p("alice-both.pem"), "w") as f:
        f.write(open(p("alice.pem")).read() + open(p("alice.key")).read())


# ------------------------------------------------------------ fake admin API

PROBLEM = "application/problem+json"


class Fake:
    """routes[(method, path)] = (status, body bytes, content type) or a function
    (fake, request) -> that triple. Unknown routes get a 404 problem."""

    def __init__(self):
        self.requests = []
        self.routes = {}
        self.unwrapped = []          # values unwrapped from import bodies
        self.import_key = rsa.generate_private_key(65537, 3072)
        self.weak_key = rsa.generate_private_key(65537, 2048)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        ctx.load_cert_chain(p("server.pem"), p("server.key"))
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(p("ca.pem"))
        fake = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def handle_any(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n) if n else None
                cn = dict(x[0] for x in self.connection.getpeercert()["subject"]).get("commonName")
                rec = {"method": self.command, "path": self.path, "body": body,
                       "ctype": self.headers.get("Content-Type"), "cn": cn}
                fake.requests.append(rec)
                r = fake.routes.get((self.command, self.path))
                if r is None:
                    r = (404, json.dumps({"type": "about:blank", "title": "Not Found", "status": 404,
                                          "detail": "no such route in the fake"}).encode(), PROBLEM)
                elif callable(r):
                    r = r(fake, rec)
                status, data, ctype = r
                self.send_response(status)
                if ctype:
                    self.send_header("Content-Type", ctype)
                if status == 302:
                    self.send_header("Location", "/admin/v1/elsewhere")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except OSError:      # kwctl hung up (the response cap test)
                    pass

            do_GET = do_POST = do_PUT = do_DELETE = handle_any

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.srv.socket = ctx.wrap_socket(self.srv.socket, server_side=True)
        self.url = "https://127.0.0.1:%d" % self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def stop(self):
        self.srv.shutdown()

    def reset(self):
        self.requests = []
        self.routes = {}
        self.unwrapped = []

    def serve_import_key(self, weak=False):
        k = (self.weak_key if weak else self.import_key).public_key().public_numbers()
        n = k.n.to_bytes((k.n.bit_length() + 7) // 8, "big")
        jwk = {"kty": "RSA", "n": b64u(n), "e": b64u(k.e.to_bytes(3, "big"))}
        self.routes[("GET", "/admin/v1/import-key")] = ok({"kid": "import-1", "jwk": jwk})

    def unwrap(self, wrapped):
        """What the HSM helper does: OAEP-SHA1 for the KEK, RFC 5649 for the value."""
        assert set(wrapped) == {"kid", "kek", "value"}, wrapped
        assert wrapped["kid"] == "import-1"
        kek = self.import_key.decrypt(b64u_dec(wrapped["kek"]), padding.OAEP(
            mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None))
        assert len(kek) == 32, len(kek)
        return aes_key_unwrap_with_padding(kek, b64u_dec(wrapped["value"]))


def ok(obj, status=200):
    return (status, json.dumps(obj).encode(), "application/json")


def problem(status, title, detail=None):
    d = {"type": "about:blank", "title": title, "status": status}
    if detail is not None:
        d["detail"] = detail
    return (status, json.dumps(d).encode(), PROBLEM)


KEY = {"repository": "demo", "type": "key", "tag": "disk", "algorithm": "aes-256", "length": 32,
       "policy": "demo-policy", "state": "enabled", "created": 1795000000,
       "versions": [{"version": 1, "state": "enabled", "origin": "generated", "created": 1795000000},
                    {"version": 2, "state": "disabled", "origin": "imported", "created": 1795000100}]}
POLICY = {"repository": "demo", "name": "p1", "version": 3, "created": 1795000000, "immutable": False,
          "document": {"version": 1, "reference_values": {
              "measurements": [{"value": "ab" * 48, "not-before": "2026-06-01T00:00:00Z"}],
              "sets": ["web-prod"], "tcb_floors": {"snp": 14}}}}


# ------------------------------------------------------------ running kwctl

def write_profile(path, **members):
    with open(path, "w") as f:
        json.dump(members, f)
    return path


def run(*args, profile=None, env_extra=None, cwd=None):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": HOME}
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
        if k in os.environ:
            env[k] = os.environ[k]
    if profile is not None:
        env["KWCTL_PROFILE"] = profile
    env.update(env_extra or {})
    return subprocess.run([KWCTL] + list(args), capture_output=True, timeout=60, env=env,
                          cwd=cwd or TMP)


def one_line(r):
    err = r.stderr.decode()
    assert err.startswith("kwctl: ") and err.count("\n") == 1 and err.endswith("\n"), err
    return err


def expect(r, code, out=None):
    assert r.returncode == code, (r.returncode, code, r.stdout, r.stderr)
    if code != 0:
        one_line(r)
    if out is not None:
        assert out in r.stdout.decode(), (out, r.stdout)
    return r


def last(f, n=1):
    assert len(f.requests) == n, [(q["method"], q["path"]) for q in f.requests]
    return f.requests[-1]


def req(q, method, path, body="absent"):
    assert (q["method"], q["path"]) == (method, path), (q["method"], q["path"])
    assert q["cn"] == "alice"
    if body == "absent":
        assert q["body"] is None, q["body"]
    else:
        assert q["ctype"] == "application/json", q["ctype"]
        assert json.loads(q["body"]) == body, q["body"]


# ------------------------------------------------------------------ tests

SUBS = ["whoami", "changes", "key list", "key show", "key create", "key import", "key rotate",
        "key disable", "key enable", "key delete", "key set-policy"] + \
       ["%s %s" % (g, s) for g in ("policy", "refval") for s in ("put", "show", "history", "list")] + \
       ["policy lint", "policy explain", "refval supersede"]


def t_help():
    for top in (["--help"], ["key", "--help"], ["policy", "--help"], ["refval", "--help"]):
        r = expect(run(*top), 0)
        assert r.stdout.startswith(b"usage: kwctl") and r.stderr == b"", r
    for s in SUBS:
        r = expect(run(*s.split(), "--help"), 0)
        assert r.stdout.decode().startswith("usage: kwctl " + s), (s, r.stdout)
        assert b"--profile FILE" in r.stdout and r.stderr == b""
    assert b"refval put R/NAME" in run("refval", "put", "--help").stdout
    # lint and explain are policy commands, supersede a refval command
    assert b"policy lint" in run("policy", "--help").stdout
    assert b"supersede" not in run("policy", "--help").stdout
    assert b"refval supersede" in run("refval", "--help").stdout
    assert b"lint" not in run("refval", "--help").stdout
    for args in (["refval", "lint", "demo/p1"], ["refval", "explain", "demo/p1"],
                 ["policy", "supersede", "demo/p1"]):
        expect(run(*args), 2)
    assert run("key", "show", "-h").stdout.startswith(b"usage: kwctl key show R/T/G")
    expect(run("key"), 2)
    expect(run("frobnicate"), 2)
    expect(run("key", "frobnicate"), 2)
    # evidence verify is still there
    expect(run("evidence", "verify", "--help"), 0, "--tee snp")


def t_requests(f, prof):
    cases = [
        (["whoami"], "GET", "/admin/v1/whoami", "absent"),
        (["key", "list"], "GET", "/admin/v1/keys", "absent"),
        (["key", "list", "--repository", "demo"], "GET", "/admin/v1/keys?repository=demo", "absent"),
        (["key", "show", "demo/key/disk"], "GET", "/admin/v1/keys/demo/key/disk", "absent"),
        (["key", "create", "demo/key/disk", "--algorithm", "aes-256", "--policy", "demo-policy"],
         "POST", "/admin/v1/keys", {"repository": "demo", "type": "key", "tag": "disk",
                                    "algorithm": "aes-256", "policy": "demo-policy"}),
        (["key", "create", "demo/key/k16", "--algorithm", "aes-128", "--length", "16"],
         "POST", "/admin/v1/keys", {"repository": "demo", "type": "key", "tag": "k16",
                                    "algorithm": "aes-128", "length": 16}),
        (["key", "create", "a.b/c_d/e-f", "--algorithm", "secret", "--length", "20"],
         "POST", "/admin/v1/keys", {"repository": "a.b", "type": "c_d", "tag": "e-f",
                                    "algorithm": "secret", "length": 20}),
        (["key", "rotate", "demo/key/disk"], "POST", "/admin/v1/keys/demo/key/disk/versions", {}),
        (["key", "disable", "demo/key/disk"], "POST", "/admin/v1/keys/demo/key/disk/disable", {}),
        (["key", "enable", "demo/key/disk"], "POST", "/admin/v1/keys/demo/key/disk/enable", {}),
        (["key", "disable", "demo/key/disk", "--version", "2"], "POST",
         "/admin/v1/keys/demo/key/disk/versions/2/disable", {}),
        (["key", "enable", "--version", "7", "demo/key/disk"], "POST",
         "/admin/v1/keys/demo/key/disk/versions/7/enable", {}),
        (["key", "set-policy", "demo/key/disk", "p2"], "PUT", "/admin/v1/keys/demo/key/disk/policy",
         {"policy": "p2"}),
        (["key", "set-policy", "demo/key/disk", "--none"], "PUT",
         "/admin/v1/keys/demo/key/disk/policy", {"policy": None}),
        (["changes"], "GET", "/admin/v1/changes", "absent"),
        (["changes", "--repository", "demo", "--after", "5", "--limit", "10"], "GET",
         "/admin/v1/changes?repository=demo&after=5&limit=10", "absent"),
        (["changes", "--limit", "3"], "GET", "/admin/v1/changes?limit=3", "absent"),
        (["changes", "--after", "0"], "GET", "/admin/v1/changes?after=0", "absent"),
    ]
    doc = {"version": 1, "reference_values": {"sets": ["r1"]}, "rules": {
        "claim": "tee", "op": "equals", "value": "snp"}}
    with open(p("doc.json"), "w") as fh:
        json.dump(doc, fh)
    for g, base in (("policy", "/admin/v1/policies"), ("refval", "/admin/v1/refvals")):
        cases += [
            ([g, "put", "demo/p1", "--file", p("doc.json")], "PUT", base + "/demo/p1", {"document": doc}),
            ([g, "put", "demo/p1", "--file", p("doc.json"), "--immutable"], "PUT", base + "/demo/p1",
             {"document": doc, "immutable": True}),
            ([g, "show", "demo/p1"], "GET", base + "/demo/p1", "absent"),
            ([g, "show", "demo/p1", "--version", "2"], "GET", base + "/demo/p1?version=2", "absent"),
            ([g, "history", "demo/p1"], "GET", base + "/demo/p1/history", "absent"),
            ([g, "list"], "GET", base, "absent"),
            ([g, "list", "--repository", "demo"], "GET", base + "?repository=demo", "absent"),
        ]
    for args, method, path, body in cases:
        f.reset()
        canned = {"whoami": {"subject": "alice", "grants": []}, "changes": {"changes": []},
                  "list": {"keys": [KEY], "policies": [POLICY], "refvals": [POLICY]},
                  "history": {"history": [POLICY]}}
        resp = canned.get(args[0], canned.get((args + [""])[1], KEY if args[0] == "key" else POLICY))
        f.routes[(method, path)] = ok(resp, 201 if method in ("PUT",) or args[1:2] == ["create"] else 200)
        r = run(*args, profile=prof)
        assert r.returncode == 0, (args, r.stderr)
        req(last(f), method, path, body)
        # --json: the body exactly (kwctl adds the final newline json.dumps leaves out)
        f.reset()
        f.routes[(method, path)] = ok(resp)
        r = run(*args, "--json", profile=prof)
        assert r.returncode == 0 and r.stdout == json.dumps(resp).encode() + b"\n", (args, r.stdout)
    # delete: needs --yes, 204 without a body
    f.reset()
    expect(run("key", "delete", "demo/key/disk", profile=prof), 2)
    assert f.requests == []
    f.routes[("DELETE", "/admin/v1/keys/demo/key/disk")] = (204, b"", None)
    r = expect(run("key", "delete", "demo/key/disk", "--yes", profile=prof), 0)
    assert r.stdout == b"deleted demo/key/disk\n", r.stdout
    req(last(f), "DELETE", "/admin/v1/keys/demo/key/disk")
    r = expect(run("key", "delete", "demo/key/disk", "--yes", "--json", profile=prof), 0)
    assert r.stdout == b""


def t_human(f, prof):
    f.reset()
    f.routes[("GET", "/admin/v1/keys/demo/key/disk")] = ok(KEY)
    out = expect(run("key", "show", "demo/key/disk", profile=prof), 0).stdout.decode()
    assert out.startswith("key demo/key/disk\n"), out
    for s in ("algorithm  aes-256, 32 bytes", "state      enabled", "policy     demo-policy",
              "created    2026-11-18T", "version 2    disabled  imported"):
        assert s in out, (s, out)
    nopol = dict(KEY, policy=None)
    f.routes[("GET", "/admin/v1/keys")] = ok({"keys": [KEY, nopol]})
    out = expect(run("key", "list", profile=prof), 0).stdout.decode()
    assert out.count("\n") == 2 and "demo/key/disk  aes-256  32  enabled  versions 2  policy demo-policy" in out
    assert "policy (none)" in out, out
    # untrusted strings from the server are escaped, never raw control bytes
    f.routes[("GET", "/admin/v1/whoami")] = ok({"subject": "al\x1b[31mice", "grants": [
        {"role": "key-admin", "repositories": ["demo", "other"]}, {"role": "auditor", "repositories": ["*"]}]})
    out = expect(run("whoami", profile=prof), 0).stdout.decode()
    assert "\x1b" not in out and "al\\x1b[31mice" in out, out
    assert "key-admin     demo, other" in out and "auditor       *" in out, out
    f.routes[("GET", "/admin/v1/policies/demo/p1")] = ok(POLICY)
    out = expect(run("policy", "show", "demo/p1", profile=prof), 0).stdout.decode()
    assert out.startswith("policy demo/p1  version 3  created 2026-"), out
    assert json.loads(out[out.index("{"):]) == POLICY["document"], out
    f.routes[("GET", "/admin/v1/changes")] = ok({"changes": [
        {"seq": 9, "at": 1795000000, "actor": "alice", "action": "key.create", "repository": "demo",
         "target": "demo/key/disk", "outcome": "ok", "detail": ""}]})
    out = expect(run("changes", profile=prof), 0).stdout.decode()
    assert out.startswith("9  2026-11-18T") and "alice  key.create  demo  demo/key/disk  ok" in out, out


def check_secret_absent(r, value):
    both = r.stdout + r.stderr
    for form in (value, value.hex().encode(), value.hex().upper().encode(), b64u(value).encode(),
                 base64.b64encode(value)):
        assert form not in both, "the value appears in kwctl's output"


def import_route(f, path, status=201):
    def h(fake, rec):
        body = json.loads(rec["body"])
        fake.unwrapped.append((body, fake.unwrap(body["wrapped"])))
        return ok(KEY, status)
    f.routes[("POST", path)] = h


def t_import(f, prof):
    v32 = bytes(range(200, 232))
    v16 = bytes(range(16))
    v20 = bytes(range(1, 20)) + b"\n"       # a final newline must be kept
    with open(p("v20.bin"), "wb") as fh:
        fh.write(v20)
    for weak_first in (False,):
        f.reset()
        f.serve_import_key(weak_first)
        import_route(f, "/admin/v1/keys/import")
        r = expect(run("key", "import", "demo/key/disk", "--algorithm", "aes-256", "--policy", "pol",
                       "--value-hex", v32.hex(), profile=prof), 0, "key demo/key/disk")
        check_secret_absent(r, v32)
        assert [(q["method"], q["path"]) for q in f.requests] == [
            ("GET", "/admin/v1/import-key"), ("POST", "/admin/v1/keys/import")]
        body, value = f.unwrapped[0]
        assert value == v32, value.hex()
        assert {k: v for k, v in body.items() if k != "wrapped"} == {
            "repository": "demo", "type": "key", "tag": "disk", "algorithm": "aes-256", "length": 32,
            "policy": "pol"}, body
        assert v32.hex() not in f.requests[1]["body"].decode()
    # aes-128 (upper-case hex), --json prints the POST's answer
    f.reset()
    f.serve_import_key()
    import_route(f, "/admin/v1/keys/import")
    r = expect(run("key", "import", "demo/key/k", "--algorithm", "aes-128", "--value-hex",
                   v16.hex().upper(), "--json", profile=prof), 0)
    assert r.stdout == json.dumps(KEY).encode() + b"\n"
    assert f.unwrapped[0][1] == v16 and f.unwrapped[0][0]["length"] == 16
    assert "policy" not in f.unwrapped[0][0]
    # a 20-byte secret from a file: PKCS#7 to 32, length 20
    f.reset()
    f.serve_import_key()
    import_route(f, "/admin/v1/keys/import")
    r = expect(run("key", "import", "demo/secret/s", "--algorithm", "secret", "--value-file", p("v20.bin"),
                   profile=prof), 0)
    check_secret_absent(r, v20)
    body, value = f.unwrapped[0]
    assert value == v20 + bytes([12]) * 12, value.hex()
    assert body["length"] == 20 and body["algorithm"] == "secret" and body["type"] == "secret"
    # a 48-byte secret is a multiple of 16: no padding
    f.reset()
    f.serve_import_key()
    import_route(f, "/admin/v1/keys/import")
    v48 = bytes(range(48))
    expect(run("key", "import", "demo/secret/s", "--algorithm", "secret", "--length", "48",
               "--value-hex", v48.hex(), profile=prof), 0)
    assert f.unwrapped[0][1] == v48
    # rotate with a value: import into a new version
    f.reset()
    f.serve_import_key()
    import_route(f, "/admin/v1/keys/demo/secret/s/versions")
    r = expect(run("key", "rotate", "demo/secret/s", "--value-file", p("v20.bin"), profile=prof), 0)
    check_secret_absent(r, v20)
    body, value = f.unwrapped[0]
    assert set(body) == {"wrapped"} and value == v20 + bytes([12]) * 12
    # each import uses a fresh KEK
    f.reset()
    f.serve_import_key()
    import_route(f, "/admin/v1/keys/import")
    for _ in range(2):
        expect(run("key", "import", "demo/key/disk", "--algorithm", "aes-256", "--value-hex", v32.hex(),
                   profile=prof), 0)
    w = [b["wrapped"] for b, _ in f.unwrapped]
    assert w[0]["kek"] != w[1]["kek"] and w[0]["value"] != w[1]["value"]
    # a weak (RSA-2048) import key is refused before anything is sent
    f.reset()
    f.serve_import_key(weak=True)
    import_route(f, "/admin/v1/keys/import")
    r = expect(run("key", "import", "demo/key/disk", "--algorithm", "aes-256", "--value-hex", v32.hex(),
                   profile=prof), 1)
    assert "3072" in r.stderr.decode(), r.stderr
    assert len(f.requests) == 1
    # a malformed import-key answer
    f.reset()
    f.routes[("GET", "/admin/v1/import-key")] = ok({"kid": "x", "jwk": {"kty": "oct", "k": "AAAA"}})
    r = expect(run("key", "import", "demo/key/disk", "--algorithm", "aes-256", "--value-hex", v32.hex(),
                   profile=prof), 1)
    check_secret_absent(r, v32)
    assert len(f.requests) == 1
    # the import key endpoint refusing: its status decides
    f.reset()
    f.routes[("GET", "/admin/v1/import-key")] = problem(403, "Forbidden", "alice is not a key-admin of demo")
    r = expect(run("key", "import", "demo/key/disk", "--algorithm", "aes-256", "--value-hex", v32.hex(),
                   profile=prof), 5)
    assert r.stderr == b"kwctl: key import: HTTP 403 Forbidden: alice is not a key-admin of demo\n"
    # local checks: wrong lengths, missing or doubled values; nothing is sent, nothing echoed
    f.reset()
    for args in (["--algorithm", "aes-128", "--value-hex", v32.hex()],
                 ["--algorithm", "aes-256", "--value-hex", v16.hex()],
                 ["--algorithm", "secret", "--length", "21", "--value-file", p("v20.bin")],
                 ["--algorithm", "aes-256"],
                 ["--algorithm", "aes-256", "--value-hex", v32.hex(), "--value-file", p("v20.bin")],
                 ["--algorithm", "aes-256", "--value-hex", v32.hex()[:-1]],
                 ["--algorithm", "aes-256", "--value-hex", v32.hex()[:-2] + "zz"],
                 ["--algorithm", "aes-512", "--value-hex", v32.hex()],
                 ["--value-hex", v32.hex()],
                 ["--algorithm", "secret", "--value-file", p("missing.bin")]):
        r = expect(run("key", "import", "demo/key/disk", *args, profile=prof), 2)
        check_secret_absent(r, v32)
        assert v32.hex()[:16].encode() not in r.stderr
    assert f.requests == []


def t_status(f, prof):
    cases = [(400, "Bad Request", "unknown member 'x'", 1), (401, "Unauthorized", None, 1),
             (403, "Forbidden", "no key-admin grant for demo", 5), (404, "Not Found", "no such key", 4),
             (405, "Method Not Allowed", None, 1), (409, "Conflict", "exists", 6),
             (413, "Content Too Large", None, 1), (500, "Internal Server Error", None, 7),
             (503, "Service Unavailable", "HSM unavailable", 7)]
    for status, title, detail, code in cases:
        f.reset()
        f.routes[("POST", "/admin/v1/keys")] = problem(status, title, detail)
        r = expect(run("key", "create", "demo/key/disk", "--algorithm", "aes-256", profile=prof), code)
        want = "kwctl: key create: HTTP %d %s%s\n" % (status, title, ": " + detail if detail else "")
        assert r.stderr.decode() == want, (r.stderr, want)
        assert r.stdout == b""
    # problem strings are escaped; a non-JSON error body still gives the status
    f.reset()
    f.routes[("GET", "/admin/v1/whoami")] = problem(403, "Forbidden", "bad\x1b[2Jthing\n")
    r = expect(run("whoami", profile=prof), 5)
    assert b"\x1b" not in r.stderr and b"bad\\x1b[2Jthing\\x0a" in r.stderr, r.stderr
    f.routes[("GET", "/admin/v1/whoami")] = (502, b"<html>oops</html>", "text/html")
    r = expect(run("whoami", profile=prof), 7)
    assert r.stderr == b"kwctl: whoami: HTTP 502 Bad Gateway\n", r.stderr
    # redirects are not followed
    f.routes[("GET", "/admin/v1/whoami")] = (302, b"", "text/plain")
    expect(run("whoami", profile=prof), 1)
    assert len(f.requests) == 3
    # 200 that is not JSON, or not application/json
    f.routes[("GET", "/admin/v1/whoami")] = (200, b"not json", "application/json")
    expect(run("whoami", "--json", profile=prof), 1)
    f.routes[("GET", "/admin/v1/whoami")] = (200, b"{}", "text/plain")
    expect(run("whoami", profile=prof), 1)
    # the 1 MiB response cap
    big = b'{"x":"' + b"a" * (1024 * 1024) + b'"}'
    f.routes[("GET", "/admin/v1/whoami")] = (200, big, "application/json")
    r = expect(run("whoami", profile=prof), 1)
    assert b"larger than" in r.stderr
    almost = b'{"x":"' + b"a" * (1024 * 1024 - 8) + b'"}'
    f.routes[("GET", "/admin/v1/whoami")] = (200, almost, "application/json")
    r = expect(run("whoami", "--json", profile=prof), 0)
    assert r.stdout == almost + b"\n"


def t_tls(f, prof):
    f.reset()
    f.routes[("GET", "/admin/v1/whoami")] = ok({"subject": "alice", "grants": []})
    # no client certificate: the server aborts the handshake
    noc = write_profile(p("nocert.json"), url=f.url, cacert="ca.pem")
    r = expect(run("whoami", profile=noc), 3)
    # a certificate from another CA
    r = expect(run("whoami", "--cert", p("mallory.pem"), "--key", p("mallory.key"), profile=noc), 3)
    # a server kwctl cannot verify (wrong CA file), or a wrong host name
    expect(run("whoami", "--cacert", p("other-ca.pem"), profile=prof), 3)
    expect(run("whoami", "--url", f.url.replace("127.0.0.1", "localhost"), profile=prof), 3)
    # nothing listening
    s = __import__("socket").socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    expect(run("whoami", "--url", "https://127.0.0.1:%d" % port, profile=prof), 3)
    assert f.requests == []
    # cert and key in one file
    expect(run("whoami", "--cert", p("alice-both.pem"), profile=noc), 0)
    assert last(f)["cn"] == "alice"


def t_profile(f, prof):
    f.reset()
    f.routes[("GET", "/admin/v1/whoami")] = ok({"subject": "alice", "grants": []})
    # relative paths resolve against the profile's directory, not the cwd
    os.makedirs(p("sub"), exist_ok=True)
    for n in ("ca.pem", "alice.pem", "alice.key"):
        shutil.copy(p(n), p("sub/" + n))
    rel = write_profile(p("sub/rel.json"), url=f.url + "/", cacert="ca.pem", cert="alice.pem", key="alice.key")
    expect(run("whoami", profile=rel, cwd="/"), 0, "subject alice")
    expect(run("whoami", "--profile", rel, cwd="/"), 0)
    # --profile beats $KWCTL_PROFILE
    bad = write_profile(p("bad-url.json"), url="https://127.0.0.1:1", cacert=p("ca.pem"))
    expect(run("whoami", "--profile", rel, profile=bad), 0)
    # flags beat the profile: --url, --cert/--key
    expect(run("whoami", profile=bad), 3)
    expect(run("whoami", "--url", f.url, "--cert", p("alice.pem"), "--key", p("alice.key"),
               profile=bad), 0)
    # flags alone, no profile at all
    expect(run("whoami", "--url", f.url, "--cacert", p("ca.pem"), "--cert", p("alice.pem"),
               "--key", p("alice.key")), 0)
    # the default profile in ~/.config/keywarden/kwctl.json, and $XDG_CONFIG_HOME
    os.makedirs(os.path.join(HOME, ".config", "keywarden"), exist_ok=True)
    write_profile(os.path.join(HOME, ".config", "keywarden", "kwctl.json"), url=f.url,
                  cacert=p("ca.pem"), cert=p("alice.pem"), key=p("alice.key"))
    expect(run("whoami"), 0)
    expect(run("whoami", env_extra={"XDG_CONFIG_HOME": p("nowhere")}), 2)   # no URL then
    os.unlink(os.path.join(HOME, ".config", "keywarden", "kwctl.json"))
    expect(run("whoami"), 2)
    # broken profiles: unknown member, wrong type, not JSON, missing file, no URL, http://
    n = len(f.requests)
    for name, text in (("unknown.json", json.dumps({"url": f.url, "token": "x"})),
                       ("type.json", json.dumps({"url": f.url, "cert": 5})),
                       ("empty.json", json.dumps({"url": f.url, "cacert": ""})),
                       ("notjson.json", "url = x"),
                       ("array.json", "[]"),
                       ("dup.json", '{"url":"%s","url":"%s"}' % (f.url, f.url)),
                       ("nourl.json", json.dumps({"cacert": "ca.pem"})),
                       ("http.json", json.dumps({"url": "http://127.0.0.1:1"})),
                       ("query.json", json.dumps({"url": f.url + "/?x=1"})),
                       ("keyonly.json", json.dumps({"url": f.url, "key": "alice.key"}))):
        with open(p(name), "w") as fh:
            fh.write(text)
        expect(run("whoami", profile=p(name)), 2)
    expect(run("whoami", profile=p("does-not-exist.json")), 2)
    expect(run("whoami", "--url", "ftp://x", profile=prof), 2)
    assert len(f.requests) == n


def t_usage(f, prof):
    f.reset()
    bad_names = ["demo/key", "demo/key/disk/x", "../key/disk", "demo/./disk", "demo/key/..",
                 "%2e%2e/key/disk", "demo//disk", "/key/disk", "demo/key/", "demo/ke y/disk",
                 "a" * 65 + "/key/disk", "demo/key/dísk"]
    for n in bad_names:
        r = expect(run("key", "show", n, profile=prof), 2)
        assert n.encode() not in r.stderr or n == "demo/key", r.stderr
    expect(run("key", "show", "a" * 64 + "/key/disk", profile=prof), 4)   # 64 is fine (fake: 404)
    f.reset()
    for args in (["key", "show"], ["key", "show", "demo/key/disk", "extra"],
                 ["key", "list", "--repository", ".."], ["key", "list", "--repository", "a/b"],
                 ["key", "list", "demo"], ["key", "create", "demo/key/disk"],
                 ["key", "create", "demo/key/disk", "--algorithm", "des"],
                 ["key", "create", "demo/key/disk", "--algorithm", "secret"],
                 ["key", "create", "demo/key/disk", "--algorithm", "secret", "--length", "0"],
                 ["key", "create", "demo/key/disk", "--algorithm", "secret", "--length", "4097"],
                 ["key", "create", "demo/key/disk", "--algorithm", "aes-256", "--length", "16"],
                 ["key", "create", "demo/key/disk", "--algorithm", "aes-256", "--policy", ".."],
                 ["key", "create", "demo/key/disk", "--algorithm"],
                 ["key", "disable", "demo/key/disk", "--version", "0"],
                 ["key", "disable", "demo/key/disk", "--version", "-1"],
                 ["key", "disable", "demo/key/disk", "--version", "1x"],
                 ["key", "disable", "demo/key/disk", "--yes"],
                 ["key", "show", "demo/key/disk", "--frobnicate"],
                 ["key", "show", "demo/key/disk", "-zq"],
                 ["key", "set-policy", "demo/key/disk"], ["key", "set-policy", "demo/key/disk", "p", "--none"],
                 ["key", "set-policy", "demo/key/disk", ".."],
                 ["policy", "put", "demo/p1"], ["policy", "put", "demo/p1", "--file", p("missing.json")],
                 ["policy", "put", "demo/key/p1", "--file", p("doc.json")],
                 ["policy", "show", "demo"], ["policy", "show", "demo/.."],
                 ["refval", "history", "demo/p1", "--version", "1"],
                 ["changes", "--after", "-1"], ["changes", "--limit", "0"], ["changes", "x"],
                 ["whoami", "--repository", "demo"]):
        r = expect(run(*args, profile=prof), 2)
        assert r.stdout == b"", (args, r.stdout)
    # a file that is not a JSON object
    with open(p("list.json"), "w") as fh:
        fh.write("[1]")
    expect(run("refval", "put", "demo/r1", "--file", p("list.json"), profile=prof), 2)
    # an option value is never echoed
    r = expect(run("key", "import", "demo/key/disk", "--algorithm", "aes-256", "--vaule-hex=00112233",
                   profile=prof), 2)
    assert b"00112233" not in r.stderr and b"--vaule-hex" in r.stderr, r.stderr
    r = expect(run("key", "import", "demo/key/disk", "--value-file", p("secret-path"), "-xy", profile=prof), 2)
    assert b"secret-path" not in r.stderr and b"unknown option -x" in r.stderr, r.stderr
    assert f.requests == []

OLD = "c0b278aa06a8a64fb1d2dea2a226faf67d4b0ecf14d5ec54a2a9b6963b0a5d382af56bf6a7a19a31df72b8c29efd457b"
NEW = "d2a644c617edc47fe9ece60c653a14b67d5707cbcbcb96b6e4a4a91174f74a3b4b5a1d1af555e6d2cffe9b6dd5a46c0f"
CLAIMS = {"tee": "snp", "measurement": OLD, "debug": False, "vmpl": 0,
          "tcb": {"reported": {"bl": 7, "tee": 0, "snp": 14, "ucode": 55}}, "config": {}}
EXPLAIN_DENY = {
    "decision": "deny", "reason": "window", "path": "set:web-prod.measurements[0]",
    "detail": "measurement not valid since 2026-12-08T00:00:00Z",
    "checks": [
        {"check": "debug", "path": "allow_debug", "result": "pass", "detail": "not a debug guest"},
        {"check": "rule", "path": "rules.allOf[0]", "result": "pass",
         "detail": "tee equals \"snp\": claim is \"snp\""},
        {"check": "window", "path": "set:web-prod.measurements[0]", "result": "fail",
         "detail": "measurement not valid since 2026-12-08T00:00:00Z"},
        {"check": "tcb_floor", "path": "set:web-prod.tcb_floors.snp", "result": "pass",
         "detail": "tcb.reported.snp is 14, floor 14\x1b[2J"}],
    "policy": {"repository": "demo", "name": "p1", "version": 3}}
EXPLAIN_DENY_TEXT = (
    "decision  deny\n"
    "reason    window\n"
    "path      set:web-prod.measurements[0]\n"
    "detail    measurement not valid since 2026-12-08T00:00:00Z\n"
    "policy    demo/p1 version 3\n"
    "\n"
    "CHECK      RESULT  PATH                          DETAIL\n"
    "debug      pass    allow_debug                   not a debug guest\n"
    "rule       pass    rules.allOf[0]                tee equals \"snp\": claim is \"snp\"\n"
    "window     fail    set:web-prod.measurements[0]  measurement not valid since 2026-12-08T00:00:00Z\n"
    "tcb_floor  pass    set:web-prod.tcb_floors.snp   tcb.reported.snp is 14, floor 14\\x1b[2J\n")
EXPLAIN_ALLOW = {
    "decision": "allow", "reason": "allowed", "path": "", "detail": "every check passed",
    "matched": {"source": "set", "set": "web-prod", "index": 1, "name": "web 1.4"},
    "checks": [{"check": "debug", "path": "allow_debug", "result": "pass", "detail": "not a debug guest"}],
    "policy": {"repository": "demo", "name": "p1", "version": 2}}


def silent_result(r, code):
    """lint warnings (8) and explain denials (9) are results: nothing on stderr."""
    assert r.returncode == code and r.stderr == b"", (r.returncode, code, r.stdout, r.stderr)
    return r


def t_lint(f, prof):
    lint = "/admin/v1/policies/demo/p1/lint"
    pol = {"repository": "demo", "name": "p1", "version": 3}
    # no warnings: exit 0, nothing printed
    f.reset()
    f.routes[("GET", lint)] = ok({"warnings": [], "policy": pol})
    r = expect(run("policy", "lint", "demo/p1", profile=prof), 0)
    assert r.stdout == b"" and r.stderr == b"", r
    req(last(f), "GET", lint)
    # warnings: one per line (escaped), exit 8
    ws = ["allow-debug: allow_debug is true", "no-not-after: reference_values.measurements[0] never expires",
          "stale-measurement: set:web-prod.measurements[1] \x1b[31mred"]
    f.reset()
    f.routes[("GET", lint + "?version=2")] = ok({"warnings": ws, "policy": dict(pol, version=2)})
    r = silent_result(run("policy", "lint", "demo/p1", "--version", "2", profile=prof), 8)
    assert r.stdout.decode() == "".join(w.replace("\x1b", "\\x1b") + "\n" for w in ws), r.stdout
    req(last(f), "GET", lint + "?version=2")
    # --json: the body exactly, still exit 8 (and 0 without warnings)
    body = json.dumps({"warnings": ws, "policy": pol})
    f.routes[("GET", lint)] = (200, body.encode(), "application/json")
    r = silent_result(run("policy", "lint", "demo/p1", "--json", profile=prof), 8)
    assert r.stdout == body.encode() + b"\n"
    f.routes[("GET", lint)] = ok({"warnings": [], "policy": pol})
    r = expect(run("policy", "lint", "demo/p1", "--json", profile=prof), 0)
    assert json.loads(r.stdout) == {"warnings": [], "policy": pol}
    # unusable answers: exit 1, nothing on stdout
    for bad in ({"policy": pol}, {"warnings": "allow-debug: x"}, {"warnings": ["ok", 5]}):
        f.routes[("GET", lint)] = ok(bad)
        for extra in ([], ["--json"]):
            r = expect(run("policy", "lint", "demo/p1", *extra, profile=prof), 1)
            assert r.stdout == b"", r.stdout
    # the server's refusals keep their codes
    f.routes[("GET", lint)] = problem(403, "Forbidden", "policy-admin or auditor role required")
    expect(run("policy", "lint", "demo/p1", profile=prof), 5)
    f.routes[("GET", lint)] = problem(404, "Not Found", "no such policy or version")
    r = expect(run("policy", "lint", "demo/p1", profile=prof), 4)
    assert r.stderr == b"kwctl: policy lint: HTTP 404 Not Found: no such policy or version\n", r.stderr
    # usage
    f.reset()
    for args in (["demo"], ["demo/p1", "x"], ["demo/p1", "--version", "0"], ["demo/p1", "--at", "2026-01-01T00:00:00Z"],
                 ["demo/p1", "--claims", p("claims.json")], ["demo/p1", "--file", p("doc.json")]):
        r = expect(run("policy", "lint", *args, profile=prof), 2)
        assert r.stdout == b""
    assert f.requests == []


def t_explain(f, prof):
    path = "/admin/v1/policies/demo/p1/explain"
    with open(p("claims.json"), "w") as fh:
        json.dump(CLAIMS, fh)
    # deny: exit 9, the decision, then the checks as a table
    f.reset()
    f.routes[("POST", path)] = ok(EXPLAIN_DENY)
    r = silent_result(run("policy", "explain", "demo/p1", "--claims", p("claims.json"), profile=prof), 9)
    assert r.stdout.decode() == EXPLAIN_DENY_TEXT, r.stdout.decode()
    req(last(f), "POST", path, {"claims": CLAIMS})
    # --version and --at go into the body; allow: exit 0, matched entry, empty path as "-"
    f.reset()
    f.routes[("POST", path)] = ok(EXPLAIN_ALLOW)
    r = expect(run("policy", "explain", "demo/p1", "--claims", p("claims.json"), "--version", "2",
                   "--at", "2026-12-07T23:59:59Z", profile=prof), 0)
    assert r.stdout.decode() == (
        "decision  allow\nreason    allowed\npath      -\ndetail    every check passed\n"
        "policy    demo/p1 version 2\nmatched   set:web-prod.measurements[1] (web 1.4)\n\n"
        "CHECK  RESULT  PATH         DETAIL\ndebug  pass    allow_debug  not a debug guest\n"), r.stdout
    req(last(f), "POST", path, {"claims": CLAIMS, "version": 2, "at": "2026-12-07T23:59:59Z"})
    # an inline match; offsets are accepted as the broker accepts them
    f.reset()
    f.routes[("POST", path)] = ok(dict(EXPLAIN_ALLOW, matched={"source": "policy", "index": 0}, checks=[]))
    r = expect(run("policy", "explain", "demo/p1", "--claims", p("claims.json"), "--at",
                   "2026-12-08T01:00:00+01:00", profile=prof), 0)
    assert r.stdout.decode().endswith("matched   reference_values.measurements[0]\n"), r.stdout
    req(last(f), "POST", path, {"claims": CLAIMS, "at": "2026-12-08T01:00:00+01:00"})
    # --json: the body exactly, the exit status from the decision
    f.reset()
    body = json.dumps(EXPLAIN_DENY)
    f.routes[("POST", path)] = (200, body.encode(), "application/json")
    r = silent_result(run("policy", "explain", "demo/p1", "--claims", p("claims.json"), "--json",
                          profile=prof), 9)
    assert r.stdout == body.encode() + b"\n"
    f.routes[("POST", path)] = ok(EXPLAIN_ALLOW)
    r = expect(run("policy", "explain", "demo/p1", "--claims", p("claims.json"), "--json", profile=prof), 0)
    assert json.loads(r.stdout) == EXPLAIN_ALLOW
    # the output of kwctl evidence verify: its claims are sent
    with open(p("evidence.json"), "w") as fh:
        json.dump({"verdict": "verified", "tee": "snp", "at": "2026-11-28T00:00:00Z", "claims": CLAIMS}, fh)
    f.reset()
    f.routes[("POST", path)] = ok(EXPLAIN_DENY)
    silent_result(run("policy", "explain", "demo/p1", "--claims", p("evidence.json"), profile=prof), 9)
    req(last(f), "POST", path, {"claims": CLAIMS})
    # unusable answers: no or an unknown decision
    for bad in ({"reason": "window"}, {"decision": "maybe"}, {"decision": 1}):
        f.routes[("POST", path)] = ok(bad)
        r = expect(run("policy", "explain", "demo/p1", "--claims", p("claims.json"), profile=prof), 1)
        assert r.stdout == b""
    f.routes[("POST", path)] = problem(400, "Bad Request", "the policy could not be evaluated")
    expect(run("policy", "explain", "demo/p1", "--claims", p("claims.json"), profile=prof), 1)
    f.routes[("POST", path)] = problem(403, "Forbidden", None)
    expect(run("policy", "explain", "demo/p1", "--claims", p("claims.json"), profile=prof), 5)
    # usage: nothing sent
    with open(p("rejected.json"), "w") as fh:
        json.dump({"verdict": "rejected", "tee": "snp", "reason": "x", "claims": CLAIMS}, fh)
    with open(p("claims-list.json"), "w") as fh:
        fh.write("[{}]")
    with open(p("claims-dup.json"), "w") as fh:
        fh.write('{"tee": "snp", "tee": "tdx"}')
    f.reset()
    c = ["--claims", p("claims.json")]
    for args in ([], ["--claims", p("missing.json")], ["--claims", p("claims-list.json")],
                 ["--claims", p("claims-dup.json")], ["--claims", p("rejected.json")],
                 c + ["--at", "yesterday"], c + ["--at", "2026-13-01T00:00:00Z"], c + ["--at"],
                 c + ["--version", "x"], c + ["--grace", "7d"], c + ["--by", NEW]):
        r = expect(run("policy", "explain", "demo/p1", *args, profile=prof), 2)
        assert r.stdout == b"", (args, r.stdout)
    expect(run("policy", "explain", "demo", *c, profile=prof), 2)
    assert f.requests == []


def refval_row(version, measurements):
    return {"repository": "demo", "name": "web-prod", "version": version, "created": 1795000000,
            "immutable": False, "document": {"measurements": measurements, "tcb_floors": {"snp": 14}}}


def t_supersede(f, prof):
    path = "/admin/v1/refvals/demo/web-prod/supersede"
    row = refval_row(5, [
        {"value": OLD, "not-before": "2026-06-01T00:00:00Z", "not-after": "2026-12-08T00:00:00Z", "name": "web 1.3"},
        {"value": NEW, "not-before": "2026-12-01T00:00:00Z"}])
    f.reset()
    f.routes[("POST", path)] = ok(row, 201)
    # upper-case hex is accepted and sent lower-case
    r = expect(run("refval", "supersede", "demo/web-prod", OLD.upper(), "--by", NEW, "--grace", "7d",
                   profile=prof), 0)
    assert r.stdout.decode() == (
        "refval demo/web-prod  version 5  created 2026-11-18T11:06:40Z\n"
        "  old  %s\n       from 2026-06-01T00:00:00Z until 2026-12-08T00:00:00Z  web 1.3\n"
        "  new  %s\n       from 2026-12-01T00:00:00Z until (no end)\n" % (OLD, NEW)), r.stdout.decode()
    assert r.stderr == b""
    req(last(f), "POST", path, {"old": OLD, "new": NEW, "grace": "7d"})
    # options first; other units; 3650d is the most
    for grace in ("12h", "30m", "45s", "0s", "3650d", "87600h"):
        f.reset()
        f.routes[("POST", path)] = ok(row, 201)
        expect(run("refval", "supersede", "--grace", grace, "--by", NEW.upper(), "demo/web-prod", OLD,
                   profile=prof), 0)
        req(last(f), "POST", path, {"old": OLD, "new": NEW, "grace": grace})
    # windows the server returns: an open start, an entry it does not show
    f.reset()
    f.routes[("POST", path)] = ok(refval_row(6, [{"value": OLD, "not-after": "2026-12-08T00:00:00Z"}]), 201)
    r = expect(run("refval", "supersede", "demo/web-prod", OLD, "--by", NEW, "--grace", "7d", profile=prof), 0)
    assert ("  old  %s\n       from (no start) until 2026-12-08T00:00:00Z\n"
            "  new  %s\n       (not in the returned set)\n" % (OLD, NEW)) in r.stdout.decode(), r.stdout
    # --json: the body exactly
    f.reset()
    body = json.dumps(row)
    f.routes[("POST", path)] = (201, body.encode(), "application/json")
    r = expect(run("refval", "supersede", "demo/web-prod", OLD, "--by", NEW, "--grace", "7d", "--json",
                   profile=prof), 0)
    assert r.stdout == body.encode() + b"\n"
    # refusals
    for st, title, detail, code in ((404, "Not Found", "the old measurement is not in the set", 4),
                                    (409, "Conflict", "the set is immutable", 6),
                                    (403, "Forbidden", "policy-admin role required for this repository", 5)):
        f.routes[("POST", path)] = problem(st, title, detail)
        r = expect(run("refval", "supersede", "demo/web-prod", OLD, "--by", NEW, "--grace", "7d",
                       profile=prof), code)
        assert r.stderr.decode() == "kwctl: refval supersede: HTTP %d %s: %s\n" % (st, title, detail)
    # local validation: nothing sent, the rejected value never echoed
    f.reset()
    g = ["--grace", "7d"]
    bads = [[OLD, "--by", NEW[:-1]] + g, [OLD, "--by", NEW + "0"] + g, [OLD[:-1] + "g", "--by", NEW] + g,
            [OLD, "--by", "0x" + NEW[2:]] + g, [OLD, "--by", OLD.upper()] + g, [OLD, "--by", NEW],
            [OLD] + g, ["--by", NEW] + g, [OLD, NEW, "--by", NEW] + g, [OLD, "--by", ""] + g]
    for grace in ("7", "d", "7w", "-1d", "+7d", " 7d", "7d ", "1d2h", "3651d", "87601h", "7D", "",
                  "0000000000007d", "1.5d"):
        bads.append([OLD, "--by", NEW, "--grace", grace])
    for args in bads:
        r = expect(run("refval", "supersede", "demo/web-prod", *args, profile=prof), 2)
        assert r.stdout == b"" and NEW[:20].encode() not in r.stderr, (args, r.stderr)
    for args in (["demo", OLD, "--by", NEW] + g, ["demo/web-prod/x", OLD, "--by", NEW] + g,
                 ["demo/web-prod", OLD, "--by", NEW, "--version", "1"] + g):
        expect(run("refval", "supersede", *args, profile=prof), 2)
    assert f.requests == []


def t_put_warnings(f, prof):
    with open(p("pol.json"), "w") as fh:
        json.dump(POLICY["document"], fh)
    ws = ["no-not-after: reference_values.measurements[0] never expires",
          "tcb-floor-missing: no floor for bl\x07"]
    resp = dict(POLICY, warnings=ws)
    for extra in ([], ["--json"]):
        f.reset()
        f.routes[("PUT", "/admin/v1/policies/demo/p1")] = ok(resp, 201)
        r = expect(run("policy", "put", "demo/p1", "--file", p("pol.json"), *extra, profile=prof), 0)
        assert r.stderr.decode() == ("kwctl: warning: no-not-after: reference_values.measurements[0] never expires\n"
                                     "kwctl: warning: tcb-floor-missing: no floor for bl\\x07\n"), r.stderr
        if extra:
            assert json.loads(r.stdout) == resp
        else:
            assert r.stdout.startswith(b"policy demo/p1  version 3  created 2026-"), r.stdout
            assert b"warning" not in r.stdout
        req(last(f), "PUT", "/admin/v1/policies/demo/p1", {"document": POLICY["document"]})
    # no warnings, or an empty list: nothing on stderr
    for resp in (POLICY, dict(POLICY, warnings=[])):
        f.routes[("PUT", "/admin/v1/policies/demo/p1")] = ok(resp, 201)
        r = expect(run("policy", "put", "demo/p1", "--file", p("pol.json"), profile=prof), 0)
        assert r.stderr == b"", r.stderr


def main():
    failed = 0
    os.makedirs(HOME)
    try:
        make_certs()
        f = Fake()
        prof = write_profile(p("kwctl.json"), url=f.url, cacert="ca.pem", cert="alice.pem", key="alice.key")
        tests = [("help", t_help), ("requests", lambda: t_requests(f, prof)),
                 ("human", lambda: t_human(f, prof)), ("import", lambda: t_import(f, prof)),
                 ("status", lambda: t_status(f, prof)), ("tls", lambda: t_tls(f, prof)),
                 ("profile", lambda: t_profile(f, prof)), ("usage", lambda: t_usage(f, prof)),
                 ("explain", lambda: t_explain(f, prof)), ("lint", lambda: t_lint(f, prof)),
                 ("supersede", lambda: t_supersede(f, prof)),
                 ("put-warnings", lambda: t_put_warnings(f, prof))]
        for name, t in tests:
            try:
                t()
                print("ok   %s" % name)
            except Exception as e:  # report every failing case, then fail
                failed += 1
                import traceback
                traceback.print_exc()
                print("FAIL %s: %r" % (name, e))
        f.stop()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
