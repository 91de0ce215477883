#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Integration: who is an admin. Leaf certificates only (CA:FALSE, EKU
clientAuth), the path-length limit, a pinned issuer, identity from the CN or
from one subjectAltName, policy binding reserved to policy-admins also when a
key is created, and empty path segments.

Every certificate here is issued by the broker's real admin CA (made by
scripts/mk-admin-cert.sh) with python3-cryptography; the broker is restarted
with each configuration.
"""
import datetime
import hashlib
import json
import os
import ssl
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kwtest  # noqa: E402
from kwtest import Broker  # noqa: E402

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # noqa: E402


def edit(cfg):
    g = cfg["admin"]["grants"]
    g.append({"subject": "ka-only", "role": "key-admin", "repositories": ["demo"]})
    g.append({"subject": "alice@example.com", "role": "auditor", "repositories": ["*"]})


class Issuer:
    def __init__(self, b):
        tls = b.tls_dir
        self.key = serialization.load_pem_private_key(open(os.path.join(tls, "admin-ca.key"), "rb").read(), None)
        self.cert = x509.load_pem_x509_certificate(open(os.path.join(tls, "admin-ca.pem"), "rb").read())
        self.dir = tempfile.mkdtemp(dir=b.dir)
        self.n = 0

    def issue(self, cn="demo-admin", ca=False, eku=(ExtendedKeyUsageOID.CLIENT_AUTH,), sans=(),
              issuer=None, chain=()):
        """A certificate (and its key) written to PEM files; chain: extra certs sent after it."""
        iss_key, iss_cert = issuer if issuer is not None else (self.key, self.cert)
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        bld = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)] if cn else []))
               .issuer_name(iss_cert.subject).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if ca:
            bld = bld.add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False),
                                    critical=True)
        else:
            bld = bld.add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False),
                                    critical=True)
        if eku:
            bld = bld.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
        if sans:
            bld = bld.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
        cert = bld.sign(iss_key, hashes.SHA256())
        self.n += 1
        cp = os.path.join(self.dir, "c%d.pem" % self.n)
        kp = os.path.join(self.dir, "c%d.key" % self.n)
        with open(cp, "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
            for c in chain:
                f.write(c.public_bytes(serialization.Encoding.PEM))
        with open(kp, "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
        return (cp, kp), key, cert


def whoami(b, cert):
    """(status, body) of GET /admin/v1/whoami with cert, or (None, reason) when the handshake fails."""
    try:
        st, ct, body = b.admin("GET", "/admin/v1/whoami", who=None, cert=cert)
    except (ssl.SSLError, ConnectionError, OSError) as e:
        return None, str(e)
    return st, body


def unauthenticated(st, body, fragment):
    assert st == 401, (st, body)
    assert body["type"] == "urn:keywarden:problem:unauthenticated", body
    assert fragment in body["detail"], body


def restart(b, **admin):
    b.stop()
    b.cfg["admin"].update(admin)
    for k in [k for k, v in admin.items() if v is None]:
        del b.cfg["admin"][k]
    with open(b.cfg_path, "w") as f:
        json.dump(b.cfg, f, indent=2)
    b.start()


def t_leaf_only(b):
    iss = Issuer(b)
    good, _, _ = iss.issue()
    st, body = whoami(b, good)
    assert st == 200 and body["subject"] == "demo-admin", (st, body)
    # a CA certificate issued by the admin CA cannot act as an admin, whatever its CN
    ca_cert, _, _ = iss.issue(ca=True)
    st, body = whoami(b, ca_cert)
    unauthenticated(st, body, "leaf")
    # EKU clientAuth is required (absent, or only serverAuth)
    st, body = whoami(b, iss.issue(eku=())[0])
    unauthenticated(st, body, "clientAuth")
    st, body = whoami(b, iss.issue(eku=(ExtendedKeyUsageOID.SERVER_AUTH,))[0])
    if st is not None:
        unauthenticated(st, body, "clientAuth")
    # no CN, or two CNs
    st, body = whoami(b, iss.issue(cn=None)[0])
    unauthenticated(st, body, "CN")


def rogue_ca(iss):
    """A CA:TRUE certificate under the admin CA and a demo-admin leaf it issued (chain: leaf, rogue)."""
    _, rkey, rcert = iss.issue(cn="rogue CA", ca=True, eku=())
    files, _, _ = iss.issue(issuer=(rkey, rcert), chain=(rcert,))
    return files


def t_path_length(b):
    iss = Issuer(b)
    leaf = rogue_ca(iss)
    st, body = whoami(b, leaf)
    assert st is None, "a leaf under an intermediate was accepted with max_intermediates 0: %r" % (body,)
    # allowing one intermediate admits it: this is why issuers can be pinned
    restart(b, max_intermediates=1)
    try:
        st, body = whoami(b, leaf)
        assert st == 200 and body["subject"] == "demo-admin", (st, body)
        ca_fp = hashlib.sha256(iss.cert.public_bytes(serialization.Encoding.DER)).hexdigest()
        restart(b, issuer_sha256=[":".join(ca_fp[i:i + 2] for i in range(0, 64, 2)).upper()])
        st, body = whoami(b, leaf)
        unauthenticated(st, body, "pinned")
        st, body = whoami(b, iss.issue()[0])      # issued directly by the pinned CA
        assert st == 200 and body["subject"] == "demo-admin", (st, body)
    finally:
        restart(b, max_intermediates=None, issuer_sha256=None)


def t_san_identity(b):
    iss = Issuer(b)
    email = x509.RFC822Name("alice@example.com")
    restart(b, identity="san-email")
    try:
        st, body = whoami(b, iss.issue(cn="demo-admin", sans=(email,))[0])
        assert st == 200 and body["subject"] == "alice@example.com", (st, body)
        assert body["grants"] == [{"role": "auditor", "repositories": ["*"]}], body
        # the CN no longer counts
        st, body = whoami(b, iss.issue(cn="demo-admin")[0])
        unauthenticated(st, body, "email subjectAltName")
        two = (email, x509.RFC822Name("mallory@example.com"))
        st, body = whoami(b, iss.issue(sans=two)[0])
        unauthenticated(st, body, "exactly one")
        st, body = whoami(b, iss.issue(sans=(x509.DNSName("alice.example.com"),))[0])
        unauthenticated(st, body, "email")
    finally:
        restart(b, identity=None)


def t_policy_binding_at_creation(b):
    m = b.emu["measurement"]
    assert b.admin("PUT", "/admin/v1/policies/demo/pb", {"document": kwtest.policy_for(m)})[0] == 201
    iss = Issuer(b)
    ka = iss.issue(cn="ka-only")[0]
    body = {"repository": "demo", "type": "key", "tag": "pb1", "algorithm": "aes-256", "policy": "pb"}
    st, ct, r = b.admin("POST", "/admin/v1/keys", body, who=None, cert=ka)
    assert st == 403 and "policy-admin" in r["detail"], (st, r)
    assert b.admin("GET", "/admin/v1/keys/demo/key/pb1")[0] == 404, "a refused create made a key"
    # without a policy a key-admin may create it; demo-admin (both roles) may bind at creation
    body.pop("policy")
    st, _, r = b.admin("POST", "/admin/v1/keys", body, who=None, cert=ka)
    assert st == 201 and r["policy"] in (None, ""), (st, r)
    st, _, r = b.admin("POST", "/admin/v1/keys", dict(body, tag="pb2", policy="pb"))
    assert st == 201 and r["policy"] == "pb", (st, r)
    st, _, ch = b.admin("GET", "/admin/v1/changes?repository=demo&limit=1000")
    assert any(c["actor"] == "ka-only" and c["action"] == "key.create" and c["outcome"] == "denied"
               for c in ch["changes"]), ch


def t_empty_segments(b):
    for path in ("/admin/v1//keys", "/admin/v1/keys//demo", "/admin/v1/keys/", "/admin/v1/",
                 "/admin/v1//whoami"):
        st, ct, r = b.admin("GET", path)
        assert st == 400 and ct.startswith("application/problem+json"), (path, st, r)
    assert b.admin("GET", "/admin/v1/whoami")[0] == 200


TESTS = [t_leaf_only, t_path_length, t_san_identity, t_policy_binding_at_creation, t_empty_segments]


if __name__ == "__main__":
    sys.exit(kwtest.run_tests(Broker(config_edit=edit), TESTS))
