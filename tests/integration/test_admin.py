#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Integration: the admin plane over mutual TLS against the real broker.

Authorization matrix (no certificate, another CA, an expired certificate,
each endpoint x each role, repositories outside a role's scope), the import
round trip through kwctl and kwget with the value checked by jwcrypto and
searched for in the log and the database, and bad input on every endpoint.
"""
import base64
import datetime
import json
import os
import ssl
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kwtest  # noqa: E402
from kwtest import Broker, b64u  # noqa: E402

KWCTL = os.path.join(kwtest.BUILD, "tools", "kwctl")
SUBJECTS = {
    "ka-demo": ("key-admin", ["demo"]),
    "pa-demo": ("policy-admin", ["demo"]),
    "aud-all": ("auditor", ["*"]),
    "ka-other": ("key-admin", ["other"]),
}


def edit(cfg):
    for subj, (role, repos) in SUBJECTS.items():
        cfg["admin"]["grants"].append({"subject": subj, "role": role, "repositories": repos})


def problem(st, ct, body, status, what=""):
    assert st == status, "%s: expected %d, got %d %r" % (what, status, st, body)
    assert ct.startswith("application/problem+json"), (what, ct, body)
    if isinstance(body, (bytes, bytearray)):
        body = json.loads(body)
    assert body["status"] == status, body


def snapshot(b):
    """Everything the admin API can read, as demo-admin."""
    out = {}
    for path in ("/admin/v1/keys", "/admin/v1/policies", "/admin/v1/refvals"):
        st, _, body = b.admin("GET", path)
        assert st == 200, (path, st, body)
        out[path] = body
    st, _, body = b.admin("GET", "/admin/v1/changes?limit=10000")
    out["ok-changes"] = [c for c in body["changes"] if c["outcome"] == "ok"]
    return out


def make_expired_cert(b):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    tls = b.tls_dir
    ca_key = serialization.load_pem_private_key(open(os.path.join(tls, "admin-ca.key"), "rb").read(), None)
    ca = x509.load_pem_x509_certificate(open(os.path.join(tls, "admin-ca.pem"), "rb").read())
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ka-demo")]))
            .issuer_name(ca.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=30)).not_valid_after(now - datetime.timedelta(days=1))
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    d = tempfile.mkdtemp(dir=b.dir)
    cp, kp = os.path.join(d, "expired.pem"), os.path.join(d, "expired.key")
    open(cp, "wb").write(cert.public_bytes(serialization.Encoding.PEM))
    open(kp, "wb").write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cp, kp


def handshake_refused(b, cert):
    try:
        st, _, body = b.admin("GET", "/admin/v1/whoami", who=None, cert=cert)
    except (ssl.SSLError, ConnectionError, OSError):
        return True
    return False


def t_transport(b):
    assert handshake_refused(b, None), "no client certificate was accepted"
    other = tempfile.mkdtemp(dir=b.dir)
    subprocess.run(["sh", os.path.join(kwtest.SRC, "scripts", "mk-admin-cert.sh"), other, "ka-demo"],
                   check=True, stdout=subprocess.DEVNULL)
    assert handshake_refused(b, (os.path.join(other, "ka-demo.pem"), os.path.join(other, "ka-demo.key"))), \
        "a certificate from another CA was accepted"
    assert handshake_refused(b, make_expired_cert(b)), "an expired certificate was accepted"
    st, _, body = b.admin("GET", "/admin/v1/whoami", who="ka-demo")
    assert st == 200 and body["subject"] == "ka-demo", body
    assert body["grants"] == [{"role": "key-admin", "repositories": ["demo"]}], body
    # a certificate from the right CA but without any grant
    subprocess.run(["sh", os.path.join(kwtest.SRC, "scripts", "mk-admin-cert.sh"), b.tls_dir, "nobody"],
                   check=True, stdout=subprocess.DEVNULL)
    st, ct, body = b.admin("GET", "/admin/v1/keys?repository=demo", who="nobody")
    problem(st, ct, body, 403, "no grant")


def t_matrix(b):
    """Every endpoint x every role: allowed ones succeed, the rest get 403 and change nothing."""
    m = b.emu["measurement"]
    assert b.admin("PUT", "/admin/v1/policies/demo/p", {"document": kwtest.policy_for(m)})[0] == 201
    assert b.admin("PUT", "/admin/v1/refvals/demo/r", {"document": {"measurements": [{"value": m}]}})[0] == 201
    n = [0]

    def fresh_key():
        n[0] += 1
        tag = "m%d" % n[0]
        st, _, body = b.admin("POST", "/admin/v1/keys", {"repository": "demo", "type": "mx", "tag": tag,
                                                         "algorithm": "aes-128"})
        assert st == 201, body
        return "/admin/v1/keys/demo/mx/" + tag

    # (name, method, path-maker, body-maker, roles allowed, success statuses)
    E = [
        ("list keys", "GET", lambda: "/admin/v1/keys?repository=demo", None, {"ka-demo", "pa-demo", "aud-all"}, {200}),
        ("create key", "POST", lambda: "/admin/v1/keys",
         lambda s: {"repository": "demo", "type": "mx", "tag": "c-" + s, "algorithm": "aes-256"}, {"ka-demo"}, {201}),
        ("show key", "GET", fresh_key, None, {"ka-demo", "pa-demo", "aud-all"}, {200}),
        ("rotate key", "POST", lambda: fresh_key() + "/versions", lambda s: {}, {"ka-demo"}, {201}),
        ("disable key", "POST", lambda: fresh_key() + "/disable", lambda s: {}, {"ka-demo"}, {200}),
        ("enable key", "POST", lambda: fresh_key() + "/enable", lambda s: {}, {"ka-demo"}, {200}),
        ("disable version", "POST", lambda: fresh_key() + "/versions/1/disable", lambda s: {}, {"ka-demo"}, {200}),
        ("bind policy", "PUT", lambda: fresh_key() + "/policy", lambda s: {"policy": "p"}, {"pa-demo"}, {200}),
        ("delete key", "DELETE", fresh_key, None, {"ka-demo"}, {204}),
        ("import key", "GET", lambda: "/admin/v1/import-key", None, {"ka-demo", "ka-other"}, {200}),
        ("list policies", "GET", lambda: "/admin/v1/policies?repository=demo", None, {"ka-demo", "pa-demo", "aud-all"}, {200}),
        ("put policy", "PUT", lambda: "/admin/v1/policies/demo/p",
         lambda s: {"document": kwtest.policy_for(m)}, {"pa-demo"}, {201}),
        ("show policy", "GET", lambda: "/admin/v1/policies/demo/p", None, {"ka-demo", "pa-demo", "aud-all"}, {200}),
        ("policy history", "GET", lambda: "/admin/v1/policies/demo/p/history", None, {"ka-demo", "pa-demo", "aud-all"}, {200}),
        ("put refval", "PUT", lambda: "/admin/v1/refvals/demo/r",
         lambda s: {"document": {"measurements": [{"value": m}]}}, {"pa-demo"}, {201}),
        ("show refval", "GET", lambda: "/admin/v1/refvals/demo/r", None, {"ka-demo", "pa-demo", "aud-all"}, {200}),
        ("changes", "GET", lambda: "/admin/v1/changes?repository=demo", None, {"aud-all"}, {200}),
    ]
    for name, method, pathf, bodyf, allowed, okst in E:
        for subj in SUBJECTS:
            path = pathf()
            body = bodyf(subj) if bodyf else None
            before = snapshot(b)
            st, ct, resp = b.admin(method, path, body, who=subj)
            if subj in allowed:
                assert st in okst, "%s as %s: expected %s, got %d %r" % (name, subj, okst, st, resp)
            else:
                problem(st, ct, resp, 403, "%s as %s" % (name, subj))
                after = snapshot(b)
                assert before == after, "%s as %s: a refused request changed state" % (name, subj)
    # refusals are recorded too (who, what, outcome)
    st, _, body = b.admin("GET", "/admin/v1/changes?repository=demo&limit=10000", who="aud-all")
    outcomes = {(c["actor"], c["action"], c["outcome"]) for c in body["changes"]}
    assert ("pa-demo", "key.create", "denied") in outcomes, outcomes
    assert ("ka-demo", "key.create", "ok") in outcomes, outcomes
    # an auditor scoped to one repository cannot read another's records
    st, ct, resp = b.admin("GET", "/admin/v1/changes?repository=demo", who="ka-demo")
    problem(st, ct, resp, 403, "changes as key-admin")


def t_import_roundtrip(b):
    value = os.urandom(32)
    env = dict(os.environ, KWCTL_PROFILE=os.path.join(b.dir, "kwctl.json"))
    assert b.admin("PUT", "/admin/v1/policies/demo/imp", {"document": kwtest.policy_for(b.emu["measurement"])})[0] == 201
    p = subprocess.run([KWCTL, "key", "import", "demo/key/imported", "--algorithm", "aes-256",
                        "--policy", "imp", "--value-hex", value.hex()], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.returncode == 0, p.stderr.decode()
    assert value.hex() not in (p.stdout + p.stderr).decode()
    st, _, meta = b.admin("GET", "/admin/v1/keys/demo/key/imported")
    assert meta["versions"][0]["origin"] == "imported", meta
    d = tempfile.mkdtemp(dir=b.dir)
    out, jwe_p, pem = (os.path.join(d, x) for x in ("k", "jwe", "tee.pem"))
    b.kwget("--resource", "demo/key/imported", "--out", out, "--jwe-out", jwe_p, "--tee-key-out", pem, check=True)
    assert open(out, "rb").read() == value
    from jwcrypto import jwe, jwk
    t = jwe.JWE()
    t.deserialize(open(jwe_p).read().strip(), key=jwk.JWK.from_pem(open(pem, "rb").read()))
    assert t.payload == value
    # a 20-byte secret, padded by kwctl, released at its own length
    secret = os.urandom(20)
    p = subprocess.run([KWCTL, "key", "import", "demo/secret/api", "--algorithm", "secret", "--length", "20",
                        "--policy", "imp", "--value-hex", secret.hex()], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.returncode == 0, p.stderr.decode()
    out2 = os.path.join(d, "s")
    b.kwget("--resource", "demo/secret/api", "--out", out2, check=True)
    assert open(out2, "rb").read() == secret
    # rotation: a new imported version is what workloads get; the old one by name
    v2 = os.urandom(32)
    p = subprocess.run([KWCTL, "key", "rotate", "demo/key/imported", "--value-hex", v2.hex()], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.returncode == 0, p.stderr.decode()
    out3 = os.path.join(d, "k2")
    b.kwget("--resource", "demo/key/imported", "--out", out3, check=True)
    assert open(out3, "rb").read() == v2
    # the values are nowhere in the broker's log or database files
    blobs = b.log().encode()
    for f in os.listdir(b.dir):
        if f.startswith("keywarden.db"):
            blobs += open(os.path.join(b.dir, f), "rb").read()
    for v in (value, secret, v2):
        for form in (v, v.hex().encode(), v.hex().upper().encode(), base64.b64encode(v).rstrip(b"="),
                     b64u(v).encode()):
            assert form not in blobs, "a key value appears in the log or the database"


def t_bad_input(b):
    before = snapshot(b)
    cases = [
        ("POST", "/admin/v1/keys", b"{bad", 400),
        ("POST", "/admin/v1/keys", b"[]", 400),
        ("POST", "/admin/v1/keys", {"repository": "demo", "type": "k", "tag": "x", "algorithm": "aes-256", "extra": 1}, 400),
        ("POST", "/admin/v1/keys", {"repository": "demo", "type": "k", "tag": "x", "algorithm": 256}, 400),
        ("POST", "/admin/v1/keys", {"repository": "demo", "type": "k", "tag": "x", "algorithm": "aes-256", "length": "32"}, 400),
        ("POST", "/admin/v1/keys", {"repository": "demo", "type": "k", "tag": "x", "algorithm": "aes-256", "length": 16}, 400),
        ("POST", "/admin/v1/keys", {"repository": "demo", "type": "k", "tag": "x", "algorithm": "secret"}, 400),
        ("POST", "/admin/v1/keys", {"repository": "..", "type": "k", "tag": "x", "algorithm": "aes-256"}, 400),
        ("POST", "/admin/v1/keys", {"repository": "demo", "type": "a/b", "tag": "x", "algorithm": "aes-256"}, 400),
        ("POST", "/admin/v1/keys", {"repository": "demo", "type": "k", "tag": "%2e%2e", "algorithm": "aes-256"}, 400),
        ("POST", "/admin/v1/keys", {"repository": "demo", "type": "k", "tag": "x" * 65, "algorithm": "aes-256"}, 400),
        ("POST", "/admin/v1/keys", b'{"x":"' + b"A" * 300000 + b'"}', 413),
        ("POST", "/admin/v1/keys/import", {"repository": "demo", "type": "k", "tag": "x", "algorithm": "aes-256",
                                           "wrapped": {"kid": "x", "kek": "AAAA", "value": "AAAA"}}, 400),
        ("POST", "/admin/v1/keys/import", {"repository": "demo", "type": "k", "tag": "x", "algorithm": "aes-256"}, 400),
        ("PUT", "/admin/v1/policies/demo/p2", {"document": {"version": 1, "reference_values": {"measurements": [{"value": "zz"}]}}}, 400),
        ("PUT", "/admin/v1/policies/demo/p2", {"document": {"version": 2}}, 400),
        ("PUT", "/admin/v1/policies/demo/p2", {"document": {"version": 1, "rules": {"claim": "tee", "op": "matches", "value": "x"}}}, 400),
        ("PUT", "/admin/v1/policies/demo/p2", {"document": {"unknown": 1}}, 400),
        ("PUT", "/admin/v1/policies/demo/p2", {"document": [1]}, 400),
        ("PUT", "/admin/v1/policies/demo/p2", {"document": {"version": 1}, "immutable": "yes"}, 400),
        ("PUT", "/admin/v1/policies/demo/p2", {"doc": {}}, 400),
        ("PUT", "/admin/v1/refvals/demo/r2", {"document": {"measurements": "ab"}}, 400),
        ("PUT", "/admin/v1/policies/demo/..", {"document": {"version": 1}}, 400),
        ("PUT", "/admin/v1/policies/demo/%2e%2e", {"document": {"version": 1}}, 400),
        ("GET", "/admin/v1/keys/demo/../x", None, 400),
        ("GET", "/admin/v1/keys/demo/%2e%2e/x", None, 400),
        ("GET", "/admin/v1/keys/demo/k/x/extra/path", None, 404),
        ("GET", "/admin/v1/keys?repository=../x", None, 400),
        ("GET", "/admin/v1/keys?bogus=1", None, 400),
        ("GET", "/admin/v1/policies/demo/p?version=abc", None, 400),
        ("DELETE", "/admin/v1/keys/demo/k/never", None, 404),
        ("POST", "/admin/v1/keys/demo/k/never/versions", {}, 404),
        ("POST", "/admin/v1/keys/demo/k/never/versions/0/disable", {}, 400),
        ("PUT", "/admin/v1/keys/demo/k/never/policy", {"policy": 5}, 400),
        ("PATCH", "/admin/v1/keys", {}, 405),
        ("GET", "/admin/v1/nothing", None, 404),
        ("GET", "/admin/v2/keys", None, 404),
    ]
    for method, path, body, want in cases:
        st, ct, resp = b.admin(method, path, body)
        problem(st, ct, resp, want, "%s %s" % (method, path))
    after = snapshot(b)
    assert before == after, "bad input changed state"


def t_lifecycle(b):
    m = b.emu["measurement"]
    assert b.admin("PUT", "/admin/v1/policies/demo/life", {"document": kwtest.policy_for(m)})[0] == 201
    st, _, k = b.admin("POST", "/admin/v1/keys", {"repository": "demo", "type": "key", "tag": "life",
                                                  "algorithm": "aes-256", "policy": "life"})
    assert st == 201 and k["state"] == "enabled" and k["versions"][0]["state"] == "enabled", k
    assert "value" not in json.dumps(k)
    d = tempfile.mkdtemp(dir=b.dir)
    b.kwget("--resource", "demo/key/life", "--out", os.path.join(d, "1"), check=True)
    v1 = open(os.path.join(d, "1"), "rb").read()
    assert b.admin("POST", "/admin/v1/keys/demo/key/life/versions", {})[0] == 201
    b.kwget("--resource", "demo/key/life", "--out", os.path.join(d, "2"), check=True)
    v2 = open(os.path.join(d, "2"), "rb").read()
    assert v1 != v2 and len(v2) == 32
    # disabling the newest version falls back to the previous one
    assert b.admin("POST", "/admin/v1/keys/demo/key/life/versions/2/disable", {})[0] == 200
    b.kwget("--resource", "demo/key/life", "--out", os.path.join(d, "3"), check=True)
    assert open(os.path.join(d, "3"), "rb").read() == v1
    # a disabled key is not released
    assert b.admin("POST", "/admin/v1/keys/demo/key/life/disable", {})[0] == 200
    p = b.kwget("--resource", "demo/key/life", "--out", os.path.join(d, "4"))
    assert p.returncode == 4, (p.returncode, p.stderr)
    assert b.admin("POST", "/admin/v1/keys/demo/key/life/enable", {})[0] == 200
    # unbinding the policy denies
    assert b.admin("PUT", "/admin/v1/keys/demo/key/life/policy", {"policy": None})[0] == 200
    p = b.kwget("--resource", "demo/key/life", "--out", os.path.join(d, "5"))
    assert p.returncode == 3 and b"403" in p.stderr, (p.returncode, p.stderr)
    # delete destroys it; a second delete is 404; a name clash is 409
    assert b.admin("DELETE", "/admin/v1/keys/demo/key/life")[0] == 204
    assert b.admin("DELETE", "/admin/v1/keys/demo/key/life")[0] == 404
    st, _, _ = b.admin("POST", "/admin/v1/keys", {"repository": "demo", "type": "key", "tag": "dup", "algorithm": "aes-128"})
    st, ct, body = b.admin("POST", "/admin/v1/keys", {"repository": "demo", "type": "key", "tag": "dup", "algorithm": "aes-128"})
    problem(st, ct, body, 409, "duplicate key")
    # immutable policies cannot change
    st, _, _ = b.admin("PUT", "/admin/v1/policies/demo/frozen", {"document": {"version": 1}, "immutable": True})
    assert st == 201
    st, ct, body = b.admin("PUT", "/admin/v1/policies/demo/frozen", {"document": {"version": 1, "allow_debug": True}})
    problem(st, ct, body, 409, "immutable policy")
    st, _, h = b.admin("GET", "/admin/v1/policies/demo/life/history")
    assert [x["version"] for x in h["history"]] == [1], h


TESTS = [t_transport, t_matrix, t_import_roundtrip, t_bad_input, t_lifecycle]


def main():
    b = Broker(config_edit=edit)
    for subj in SUBJECTS:
        subprocess.run(["sh", os.path.join(kwtest.SRC, "scripts", "mk-admin-cert.sh"), b.tls_dir, subj],
                       check=True, stdout=subprocess.DEVNULL)
    return kwtest.run_tests(b, TESTS)

if __name__ == "__main__":
    sys.exit(main())
