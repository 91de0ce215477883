#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Integration: release policies against the real broker (issue: release policy).

The workload's configuration manifest (root store, TLS, crypto) is measured
by kwget, bound into the evidence, and checked by the policy bound to the
key; reference values with validity windows are phased out with supersede
(time injected through KEYWARDEN_TEST_CLOCK_FILE); admins get lint and
explain, workloads only "denied".
"""
import datetime
import hashlib
import json
import os
import random
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kwtest  # noqa: E402
from kwtest import Attester, Broker  # noqa: E402


def make_ca(name):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    subj = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (x509.CertificateBuilder().subject_name(subj).issuer_name(subj).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM), hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def store_digest(fps):
    return hashlib.sha384("".join(f + "\n" for f in sorted(fps)).encode()).hexdigest()


def write_dir(base, certs):
    d = tempfile.mkdtemp(dir=base)
    for i, (pem, _) in enumerate(certs):
        open(os.path.join(d, "ca%02d.pem" % i), "wb").write(pem)
    return d


def write_bundle(base, certs):
    fd, p = tempfile.mkstemp(dir=base, suffix=".pem")
    with os.fdopen(fd, "wb") as f:
        for pem, _ in certs:
            f.write(pem)
    return p


def put_policy(b, repo, name, doc):
    doc = dict(doc)
    doc.setdefault("allow_test_roots", True)    # the evidence here is emulated
    st, _, body = b.admin("PUT", "/admin/v1/policies/%s/%s" % (repo, name), {"document": doc})
    assert st == 201, (st, body)
    return body


def key(b, path, policy):
    repo, typ, tag = path.split("/")
    st, _, body = b.admin("POST", "/admin/v1/keys", {"repository": repo, "type": typ, "tag": tag,
                                                     "algorithm": "aes-256", "policy": policy})
    assert st == 201, (st, body)


def fetch(b, path, *flags):
    out = os.path.join(tempfile.mkdtemp(dir=b.dir), "k")
    p = b.kwget("--resource", path, "--out", out, *flags)
    return p.returncode, p.stderr.decode()


def released(b, path, *flags):
    rc, err = fetch(b, path, *flags)
    assert rc == 0, "expected a release of %s with %s: %s" % (path, flags, err)


def denied(b, path, *flags):
    rc, err = fetch(b, path, *flags)
    assert rc == 3 and "403" in err, "expected 403 for %s with %s: rc %d %s" % (path, flags, rc, err)
    assert "denied by policy" in err, err    # workloads learn only that they were denied


def t_root_store(b):
    m = b.emu["measurement"]
    certs = [make_ca("keywarden test root %d" % i) for i in range(3)]
    extra = make_ca("keywarden test polluter")
    fps = [fp for _, fp in certs]
    base = tempfile.mkdtemp(dir=b.dir)
    exact_doc = kwtest.policy_for(m, config={"root_store": {"fingerprints": sorted(fps), "exact": True}})
    put_policy(b, "rs", "exact", exact_doc)
    put_policy(b, "rs", "subset", kwtest.policy_for(m, config={"root_store": {"fingerprints": sorted(fps), "exact": False}}))
    put_policy(b, "rs", "digest", kwtest.policy_for(m, config={"root_store": {"digests": [store_digest(fps)]}}))
    key(b, "rs/key/exact", "exact")
    key(b, "rs/key/subset", "subset")
    key(b, "rs/key/digest", "digest")
    good = write_dir(base, certs)
    released(b, "rs/key/exact", "--root-store", good)
    released(b, "rs/key/digest", "--root-store", good)
    # the same certificates in another order (a bundle, shuffled): the same digest
    shuffled = list(certs)
    random.shuffle(shuffled)
    shuffled.reverse()
    released(b, "rs/key/digest", "--root-store", write_bundle(base, shuffled))
    # one extra CA: denied by every form of the requirement
    polluted = write_dir(base, certs + [extra])
    denied(b, "rs/key/exact", "--root-store", polluted)
    denied(b, "rs/key/subset", "--root-store", polluted)
    denied(b, "rs/key/digest", "--root-store", polluted)
    # one removed: exact denies, the subset form allows, the digest changes
    fewer = write_dir(base, certs[:2])
    denied(b, "rs/key/exact", "--root-store", fewer)
    released(b, "rs/key/subset", "--root-store", fewer)
    denied(b, "rs/key/digest", "--root-store", fewer)
    # no root store in the manifest at all: a requirement cannot be met
    denied(b, "rs/key/exact")


def t_tls_and_crypto(b):
    m = b.emu["measurement"]
    put_policy(b, "tls", "tls13", kwtest.policy_for(m, config={"tls": {
        "min_version": "1.3",
        "cipher_suites": ["TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256", "TLS_CHACHA20_POLY1305_SHA256"]}}))
    put_policy(b, "tls", "rsa3072", kwtest.policy_for(m, config={"crypto": {"min_rsa_bits": 3072}}))
    key(b, "tls/key/a", "tls13")
    key(b, "tls/key/b", "rsa3072")
    base = tempfile.mkdtemp(dir=b.dir)
    t13 = os.path.join(base, "tls13.cnf")
    open(t13, "w").write("openssl_conf = conf\n[conf]\nssl_conf = ssl\n[ssl]\nsystem_default = sd\n"
                         "[sd]\nMinProtocol = TLSv1.3\nCipherSuites = TLS_AES_256_GCM_SHA384\n")
    t12 = os.path.join(base, "tls12.cnf")
    open(t12, "w").write("openssl_conf = conf\n[conf]\nssl_conf = ssl\n[ssl]\nsystem_default = sd\n"
                         "[sd]\nMinProtocol = TLSv1.2\nCipherString = AES128-SHA\n"
                         "CipherSuites = TLS_AES_256_GCM_SHA384\n")
    released(b, "tls/key/a", "--tls-config", t13)
    denied(b, "tls/key/a", "--tls-config", t12)      # TLS 1.2 and a non-AEAD suite
    c3072 = os.path.join(base, "c3072.json")
    open(c3072, "w").write('{"rsa_bits": 3072, "ec_bits": 256}')
    c2048 = os.path.join(base, "c2048.json")
    open(c2048, "w").write('{"rsa_bits": 2048}')
    released(b, "tls/key/b", "--crypto-config", c3072)
    denied(b, "tls/key/b", "--crypto-config", c2048)  # key length below the floor
    denied(b, "tls/key/b")                            # no declaration at all


def t_windows_and_supersede(b):
    m = b.emu["measurement"]
    now = b.now()
    iso = lambda t: datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    put_policy(b, "hy", "past", {"version": 1, "reference_values": {"measurements": [
        {"value": m, "not-before": iso(now - 86400), "not-after": iso(now - 1)}]}})
    put_policy(b, "hy", "future", {"version": 1, "reference_values": {"measurements": [
        {"value": m, "not-before": iso(now + 3600)}]}})
    key(b, "hy/key/past", "past")
    key(b, "hy/key/future", "future")
    a = Attester(b)
    st, ct, r = a.resource(a.token(), "hy/key/past")
    assert st == 403, (st, r)
    st, ct, r = a.resource(a.token(), "hy/key/future")
    assert st == 403, (st, r)
    # a set with the current build; supersede it by a new build with one hour of grace
    st, _, body = b.admin("PUT", "/admin/v1/refvals/hy/builds", {"document": {"measurements": [
        {"value": m, "not-before": iso(now - 86400), "name": "build 1"}]}})
    assert st == 201, body
    put_policy(b, "hy", "builds", {"version": 1, "reference_values": {"sets": ["builds"]}})
    key(b, "hy/key/app", "builds")
    new = "ab" * 48
    st, _, body = b.admin("POST", "/admin/v1/refvals/hy/builds/supersede", {"old": m, "new": new, "grace": "1h"})
    assert st == 201 and body["version"] == 2, (st, body)
    entries = {e["value"]: e for e in body["document"]["measurements"]}
    assert new in entries and "not-after" in entries[m], entries
    # within the grace the old build still gets its key
    st, ct, jwe_c = a.resource(a.token(), "hy/key/app")
    assert st == 200, (st, jwe_c)
    try:
        b.set_clock(3600 + 60)
        st, ct, r = a.resource(a.token(), "hy/key/app")       # the old build, after the grace
        assert st == 403, (st, r)
        a2 = Attester(b)
        st, ct, jwe_c = a2.resource(a2.token(measurement=new), "hy/key/app")   # the new build
        assert st == 200, (st, jwe_c)
    finally:
        b.set_clock(0)


def t_explain_and_lint(b):
    m = b.emu["measurement"]
    doc = kwtest.policy_for(m)
    body = put_policy(b, "ex", "p", doc)
    assert any(w.startswith("no-not-after") or w.startswith("no-not-before") for w in body.get("warnings", [])), body
    st, _, lint = b.admin("GET", "/admin/v1/policies/ex/p/lint")
    assert st == 200 and lint["warnings"], lint
    claims = {"tee": "snp", "measurement": "cd" * 48, "debug": False}
    st, _, ex = b.admin("POST", "/admin/v1/policies/ex/p/explain", {"claims": claims})
    assert st == 200 and ex["decision"] == "deny" and ex["reason"] == "measurement", ex
    claims["measurement"] = m
    st, _, ex = b.admin("POST", "/admin/v1/policies/ex/p/explain", {"claims": claims})
    assert st == 200 and ex["decision"] == "allow", ex
    claims["debug"] = True
    st, _, ex = b.admin("POST", "/admin/v1/policies/ex/p/explain", {"claims": claims})
    assert ex["decision"] == "deny" and ex["reason"] == "debug", ex
    # malformed, oversized and too deep policies are rejected at registration
    deep = {"claim": "tee", "op": "equals", "value": "snp"}
    for _ in range(9):
        deep = {"allOf": [deep]}
    for bad in ({"version": 1, "rules": deep}, {"version": 1, "reference_values": {}},
                {"version": 1, "rules": {"claim": "tee", "op": "gte", "value": "x"}},
                {"version": 1, "reference_values": {"measurements": [{"value": m} for _ in range(2)]}},
                {"version": 1, "x": 1},
                {"version": 1, "rules": {"anyOf": [{"claim": "a", "op": "exists"}] * 300}}):
        st, ct, r = b.admin("PUT", "/admin/v1/policies/ex/bad", {"document": bad})
        assert st == 400 and ct.startswith("application/problem+json"), (st, r, bad)
    st, _, _ = b.admin("GET", "/admin/v1/policies/ex/bad")
    assert st == 404


def t_test_roots(b):
    """Emulated evidence (chaining to the configured test root) is released keys only
    by a policy that says allow_test_roots; lint warns about such a policy."""
    m = b.emu["measurement"]
    strict = kwtest.policy_for(m)
    del strict["allow_test_roots"]
    st, _, body = b.admin("PUT", "/admin/v1/policies/tr/strict", {"document": strict})
    assert st == 201, (st, body)
    assert not any(w.startswith("allow-test-roots") for w in body.get("warnings", [])), body
    key(b, "tr/key/strict", "strict")
    a = Attester(b)
    tok = a.token()
    claims = json.loads(kwtest.b64u_dec(tok.split(".")[1]))["submods"]["cpu0"]["kw.claims"]
    assert claims["root"] == "test", claims
    st, ct, r = a.resource(tok, "tr/key/strict")
    assert st == 403 and ct.startswith("application/problem+json"), (st, r)
    st, _, ex = b.admin("POST", "/admin/v1/policies/tr/strict/explain", {"claims": claims})
    assert st == 200 and ex["decision"] == "deny" and ex["reason"] == "root", ex
    assert ex["path"] == "allow_test_roots", ex
    # the same claims from a vendor root would pass this check
    st, _, ex = b.admin("POST", "/admin/v1/policies/tr/strict/explain",
                        {"claims": dict(claims, root="amd")})
    assert st == 200 and ex["decision"] == "allow", ex
    # allowing test roots releases, and lint says so
    st, _, body = b.admin("PUT", "/admin/v1/policies/tr/lax", {"document": kwtest.policy_for(m)})
    assert st == 201, (st, body)
    assert any(w.startswith("allow-test-roots:") for w in body["warnings"]), body
    key(b, "tr/key/lax", "lax")
    st, ct, jwe_c = a.resource(tok, "tr/key/lax")
    assert st == 200 and ct == "application/jose", (st, jwe_c)
    assert len(a.decrypt(jwe_c)) == 32
    st, _, lint = b.admin("GET", "/admin/v1/policies/tr/lax/lint")
    assert st == 200 and any(w.startswith("allow-test-roots:") for w in lint["warnings"]), lint
    # a non-boolean is refused at registration
    st, ct, r = b.admin("PUT", "/admin/v1/policies/tr/bad", {"document": dict(strict, allow_test_roots="yes")})
    assert st == 400 and ct.startswith("application/problem+json"), (st, r)


TESTS = [t_root_store, t_tls_and_crypto, t_windows_and_supersede, t_explain_and_lint, t_test_roots]


def main():
    return kwtest.run_tests(Broker(), TESTS)

if __name__ == "__main__":
    sys.exit(main())
