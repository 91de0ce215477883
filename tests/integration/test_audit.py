#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Integration: the broker's audit stream (docs/audit.md).

A full flow and each denial class add exactly one record each with the
expected fields (read from the SQLite file, and the hash chain checked here
from RFC 6962's leaf hash); a release record names the reference value that
matched; an audit log on a full file system refuses releases with 503 and
releases nothing, and recovers when space returns; kill -9 during a burst of
releases: every acknowledged release has its record afterwards. Every audit
route refuses admins without the auditor role (403 problem JSON) and serves
auditors; a segment export of a middle range of the live log verifies on its
own with the published checkpoint key (kwctl and the Python checks).
"""
import base64
import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kwtest  # noqa: E402
from kwtest import Attester, Broker, jcs  # noqa: E402
# MTH and the RFC 9162 verifications, written from the RFCs in Python (the audit unit test's)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "unit", "audit"))
import verify_proofs  # noqa: E402
from verify_proofs import leaf_hash, mth, verify_consistency, verify_inclusion  # noqa: E402


def mth_of(leaves):
    """RFC 6962 MTH of a list of leaf byte strings."""
    return mth([leaf_hash(x) for x in leaves])

RES = "demo/key/disk"
DENY = "demo/key/other"          # bound to a policy admitting another measurement
OTHER_M = "ab" * 48


def records(b):
    """Every record of the audit log, decoded, in index order; the chain checked."""
    con = sqlite3.connect("file:%s?mode=ro" % b.audit_db, uri=True, timeout=10)
    try:
        rows = con.execute("SELECT idx, record, leaf_hash FROM audit_records ORDER BY idx").fetchall()
    finally:
        con.close()
    out, prev = [], bytes(32)
    for i, (idx, rec, leaf) in enumerate(rows):
        raw = rec if isinstance(rec, bytes) else rec.encode()
        assert idx == i, (idx, i)
        r = json.loads(raw)
        assert r["index"] == i and r["v"] == 1, r
        assert bytes.fromhex(r["prev"]) == prev, "record %d: prev is not the leaf hash of %d" % (i, i - 1)
        prev = hashlib.sha256(b"\x00" + raw).digest()
        assert bytes(leaf) == prev, "record %d: stored leaf hash" % i
        out.append(r)
    return out


def settle(b):
    """Wait until no record arrives for 0.2 s (notes are written after the answer)."""
    n, t = len(records(b)), time.time()
    while time.time() - t < 0.2:
        time.sleep(0.05)
        m = len(records(b))
        if m != n:
            n, t = m, time.time()


class Since:
    """The records added since creation (after the earlier ones settled)."""

    def __init__(self, b):
        self.b = b
        settle(b)
        self.n = len(records(b))

    def new(self, wait_for=1, timeout=5.0):
        # appraisal and denial records are written after the answer: wait a moment for them
        deadline = time.time() + timeout
        while True:
            rs = records(self.b)[self.n:]
            if len(rs) >= wait_for or time.time() > deadline:
                return rs
            time.sleep(0.02)


def one(rs, kind):
    got = [r for r in rs if r["kind"] == kind]
    assert len(got) == 1, "expected one %s record, got %r" % (kind, rs)
    return got[0]["data"]


def token_payload(tok):
    p = tok.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))


# ---- checkpoints: C2SP signed notes, checked here from the specifications ----

KWCTL = os.path.join(kwtest.BUILD, "tools", "kwctl")


def verify_checkpoint(note, vkey):
    """c2sp.org/signed-note with an ECDSA (type 0x02) key and c2sp.org/tlog-checkpoint:
    (origin, size, root, time) or an AssertionError."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    name, keyid_hex, key_b64 = vkey.strip().split("+", 2)
    key = base64.b64decode(key_b64)
    assert key[0] == 0x02, "not an ECDSA verifier key"
    spki = key[1:]
    assert hashlib.sha256(spki).digest()[:4] == bytes.fromhex(keyid_hex), "key ID"
    pub = serialization.load_der_public_key(spki)
    text, sep, sigs = note.partition("\n\n")
    assert sep and text, note
    text += "\n"
    ok = False
    for line in sigs.rstrip("\n").split("\n"):
        assert line.startswith("\u2014 "), line
        sname, sig_b64 = line[2:].split(" ")
        sig = base64.b64decode(sig_b64)
        if sname != name or sig[:4] != bytes.fromhex(keyid_hex):
            continue
        pub.verify(sig[4:], text.encode(), ec.ECDSA(hashes.SHA256()))   # raises when bad
        ok = True
    assert ok, "no signature by the log's key"
    lines = text.rstrip("\n").split("\n")
    assert lines[0] == name, (lines[0], name)
    assert lines[3].startswith("time "), lines
    return lines[0], int(lines[1]), base64.b64decode(lines[2]), int(lines[3][5:])


def checkpoint(b, at_least, timeout=10.0):
    """The published checkpoint once it covers at_least records."""
    deadline = time.time() + timeout
    while True:
        st, ct, body = b.request("GET", "/.well-known/keywarden-checkpoint", raw=True)
        if st == 200:
            assert ct.startswith("text/plain"), ct
            note = body.decode()
            if int(note.split("\n")[1]) >= at_least:
                return note
        assert time.time() < deadline, (st, body)
        time.sleep(0.2)


def vkey_of(b):
    st, ct, body = b.request("GET", "/.well-known/keywarden-checkpoint-key", raw=True)
    assert st == 200 and ct.startswith("text/plain"), (st, body)
    return body.decode()


def kwctl_verify(b, tmp):
    """kwctl audit export of the database, then kwctl audit verify against the published checkpoint."""
    log, cpf, keyf = (os.path.join(tmp, n) for n in ("log.jsonl", "cp.txt", "key.txt"))
    p = subprocess.run([KWCTL, "audit", "export", "--db", b.audit_db, "--out", log],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    with open(cpf, "w") as f:
        f.write(checkpoint(b, 1))
    with open(keyf, "w") as f:
        f.write(vkey_of(b))
    return subprocess.run([KWCTL, "audit", "verify", "--log", log, "--checkpoint", cpf, "--key", keyf],
                          capture_output=True, text=True)


def t_checkpoint(b):
    settle(b)
    n = len(records(b))
    note = checkpoint(b, n)
    origin, size, root, at = verify_checkpoint(note, vkey_of(b))
    assert origin == "127.0.0.1:%d/audit" % b.port, origin
    assert size >= n and abs(at - b.now()) < 30, (size, at)
    con = sqlite3.connect("file:%s?mode=ro" % b.audit_db, uri=True)
    leaves = [bytes(r[0]) if isinstance(r[0], bytes) else r[0].encode() for r in
              con.execute("SELECT record FROM audit_records WHERE idx < ? ORDER BY idx", (size,))]
    con.close()
    assert len(leaves) == size and mth_of(leaves) == root, "the checkpoint's root is not the log's"
    # a changed byte of the note does not verify
    bad = note.replace("\n%d\n" % size, "\n%d\n" % (size + 1), 1)
    try:
        verify_checkpoint(bad, vkey_of(b))
    except Exception:
        pass
    else:
        raise AssertionError("an edited checkpoint verified")
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        p = kwctl_verify(b, tmp)
        assert p.returncode == 0 and "ok" in p.stdout, (p.stdout, p.stderr)


def t_admin_audit(b):
    """GET /admin/v1/audit (filters, pages), .../proof and .../consistency, checked in Python."""
    settle(b)
    allrecs = records(b)
    st, _, body = b.admin("GET", "/admin/v1/audit?kind=release&resource=" + RES)
    assert st == 200, (st, body)
    want = [r for r in allrecs if r["kind"] == "release" and r["data"]["resource"] == RES]
    assert body["records"] == want and want, (body, want)
    st, _, body = b.admin("GET", "/admin/v1/audit?decision=deny&limit=2")
    assert st == 200 and len(body["records"]) == 2 and "next_cursor" in body, body
    seen = list(body["records"])
    while "next_cursor" in body:
        st, _, body = b.admin("GET", "/admin/v1/audit?decision=deny&limit=2&cursor=%d" % body["next_cursor"])
        assert st == 200, body
        seen += body["records"]
    assert seen == [r for r in allrecs if r["kind"] == "denial"], seen
    since = allrecs[-1]["at"]
    st, _, body = b.admin("GET", "/admin/v1/audit?since=%d&repository=demo" % since)
    assert st == 200 and all(r["at"] >= since and r["data"]["repository"] == "demo"
                             for r in body["records"]), body
    # an unknown kind is a malformed query
    st, _, body = b.admin("GET", "/admin/v1/audit?kind=bogus")
    assert st == 400, (st, body)
    leaves = [jcs_bytes(r) for r in allrecs]
    n = len(leaves)
    for i in (0, n // 2, n - 1):
        st, _, p = b.admin("GET", "/admin/v1/audit/proof?index=%d&size=%d" % (i, n))
        assert st == 200, (st, p)
        root = bytes.fromhex(p["root"])
        assert root == mth_of(leaves), "root"
        leaf = hashlib.sha256(b"\x00" + leaves[i]).digest()
        assert bytes.fromhex(p["leaf_hash"]) == leaf
        proof = [bytes.fromhex(h) for h in p["proof"]]
        assert verify_inclusion(i, n, leaf, proof, root), (i, n)
        assert not verify_inclusion(i, n, leaf, proof[:-1], root) or not proof
    for m in (1, 3, n // 2, n - 1):
        st, _, c = b.admin("GET", "/admin/v1/audit/consistency?from=%d&to=%d" % (m, n))
        assert st == 200, (st, c)
        r1, r2 = bytes.fromhex(c["from_root"]), bytes.fromhex(c["to_root"])
        assert r1 == mth_of(leaves[:m]) and r2 == mth_of(leaves), m
        proof = [bytes.fromhex(h) for h in c["proof"]]
        assert verify_consistency(m, n, r1, r2, proof), (m, n)
        assert not verify_consistency(m, n, r1, hashlib.sha256(r2).digest(), proof)
    st, _, body = b.admin("GET", "/admin/v1/audit/proof?index=%d" % (n + 1000))
    assert st == 404, (st, body)
    st, _, body = b.admin("GET", "/admin/v1/audit/consistency?from=0&to=3")
    assert st == 400, (st, body)


def t_kwctl_audit(b):
    """kwctl audit tail|show|proof|consistency against the live broker."""
    env = dict(os.environ, KWCTL_PROFILE=os.path.join(b.dir, "kwctl.json"))

    def kwctl(*args):
        p = subprocess.run([KWCTL, "audit"] + list(args), env=env, capture_output=True, text=True)
        assert p.returncode == 0, (args, p.returncode, p.stderr)
        return p.stdout
    settle(b)
    recs = records(b)
    n = len(recs)
    lines = kwctl("tail", "--limit", "3").splitlines()
    assert [int(line.split()[0]) for line in lines] == [n - 3, n - 2, n - 1], lines
    assert lines[-1].split()[2] == recs[-1]["kind"], lines
    assert json.loads(kwctl("show", "2", "--json"))["records"][0] == recs[2]
    out = kwctl("proof", "1", str(n))
    assert "inclusion of record 1 in the tree of size %d" % n in out, out
    assert hashlib.sha256(b"\x00" + jcs_bytes(recs[1])).hexdigest() in out, out
    out = kwctl("consistency", "2", str(n))
    assert mth_of([jcs_bytes(r) for r in recs]).hex() in out, out
    p = subprocess.run([KWCTL, "audit", "show", str(n + 100)], env=env, capture_output=True, text=True)
    assert p.returncode == 1 and "no record" in p.stderr, (p.returncode, p.stderr)


def jcs_bytes(r):
    """The stored record bytes of a decoded record (its canonical form: ASCII here)."""
    return json.dumps(r, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def t_start_record(b):
    rs = records(b)
    assert rs[0]["kind"] == "start", rs[0]
    with open(b.cfg_path, "rb") as f:
        cfg = json.load(f)
    assert rs[0]["data"]["config_digest"] == hashlib.sha256(jcs(cfg)).hexdigest(), rs[0]
    assert rs[0]["data"]["version"]


def jwks_kids(b):
    st, _, body = b.request("GET", "/.well-known/jwks.json")
    assert st == 200, (st, body)
    return [k["kid"] for k in body["keys"]]


def t_token_key_rotation(b):
    """The first key (created at the first start) and a rotation (seen at SIGHUP): one record each."""
    first = [r["data"] for r in records(b) if r["kind"] == "token_key_rotation"]
    assert len(first) == 1 and first[0]["action"] == "new" and [first[0]["kid"]] == jwks_kids(b), first
    s = Since(b)
    env = dict(os.environ, KEYWARDEN_TEST_CLOCK_FILE=b.clock_file)
    p = subprocess.run([kwtest.KEYWARDEN, "--config", b.cfg_path, "--rotate-token-key"],
                       capture_output=True, text=True, env=env)
    assert p.returncode == 0, p.stderr[-2000:]
    assert records(b)[s.n:] == [], "the rotating process wrote the log"
    b.proc.send_signal(signal.SIGHUP)
    rs = s.new()
    new = [k for k in jwks_kids(b) if k != first[0]["kid"]]
    assert len(rs) == 1 and rs[0]["kind"] == "token_key_rotation", rs
    assert rs[0]["data"]["action"] == "new" and [rs[0]["data"]["kid"]] == new, (rs, new)


def t_admin_changes_recorded(b):
    s = Since(b)
    st, _, _ = b.admin("PUT", "/admin/v1/policies/demo/audit-extra", {"document": kwtest.policy_for(OTHER_M)})
    assert st == 201, st
    st, _, _ = b.admin("PUT", "/admin/v1/policies/demo/audit-bad", {"document": {"version": 99}})
    assert st == 400, st
    rs = s.new(wait_for=2)
    assert [r["kind"] for r in rs] == ["admin_change", "admin_change"], rs
    ok, bad = rs[0]["data"], rs[1]["data"]
    assert ok["outcome"] == "ok" and ok["actor"] == "demo-admin" and ok["repository"] == "demo", ok
    assert "audit-extra" in ok["target"] and "detail" not in ok, ok
    assert bad["outcome"] == "error" and "audit-bad" in bad["target"] and bad["detail"], bad


def t_full_flow(b):
    a = Attester(b)
    s = Since(b)
    tok = a.token()
    ap = one(s.new(), "appraisal")
    pl = token_payload(tok)
    assert ap["tee"] == "snp" and ap["measurement"] == b.emu["measurement"], ap
    assert ap["jti"] == pl["jti"] and ap["jkt"] == pl["cnf"]["jkt"], (ap, pl)
    assert ap["result"] == pl["submods"]["cpu0"]["ear.status"] and ap["root"] == "test", ap
    assert len(ap["claims_digest"]) == 64 and ap["client"] == "127.0.0.1", ap
    s = Since(b)
    st, _, body = a.resource(tok, RES)
    assert st == 200, (st, body)
    rs = s.new()
    assert len(rs) == 1, rs
    rel = one(rs, "release")
    assert rel["repository"] == "demo" and rel["resource"] == RES and rel["version"] == 1, rel
    assert rel["policy"] == "demo" and rel["policy_version"] >= 1, rel
    assert rel["refval"] == {"set": "policy", "entry": "measurement[0]"}, rel
    assert rel["jti"] == pl["jti"] and rel["jkt"] == pl["cnf"]["jkt"], rel
    assert rel["tee"] == "snp" and rel["measurement"] == b.emu["measurement"], rel
    assert rel["wrap_jkt"] and rel["client"] == "127.0.0.1", rel
    # nothing secret: the record holds neither the token nor the key
    key = a.decrypt(body)
    text = json.dumps(rs)
    assert tok not in text and key.hex() not in text and base64.b64encode(key).decode() not in text


def t_refval_from_set(b):
    """A policy naming a reference-value set: the record names the set, the entry and its window."""
    nb = "2020-01-01T00:00:00Z"
    st, _, body = b.admin("PUT", "/admin/v1/refvals/demo/builds", {"document": {
        "measurements": [{"value": OTHER_M},
                                       {"value": b.emu["measurement"], "name": "build-7", "not-before": nb}]}})
    assert st == 201, (st, body)
    b.provision("demo/key/set", policy="by-set", document={
        "version": 1, "allow_test_roots": True, "reference_values": {"sets": ["builds"]}})
    a = Attester(b)
    tok = a.token()
    s = Since(b)
    st, _, body = a.resource(tok, "demo/key/set")
    assert st == 200, (st, body)
    rel = one(s.new(), "release")
    assert rel["refval"] == {"set": "builds", "entry": "measurement[1]", "name": "build-7",
                             "not_before": 1577836800}, rel


def denial(b, fn, check, status, n=1):
    s = Since(b)
    st = fn()
    assert st == status, (st, status)
    rs = s.new(wait_for=n)
    time.sleep(0.1)
    rs = records(b)[s.n:]
    assert len(rs) == n, rs
    d = one(rs, "denial")
    assert d["check"] == check and d["client"] == "127.0.0.1", d
    return d


def t_denials(b):
    a = Attester(b)
    tok = a.token()
    d = denial(b, lambda: a.resource(None, RES)[0], "token", 401)
    assert d["resource"] == RES and d["repository"] == "demo", d
    denial(b, lambda: a.resource(tok[:-4] + "AAAA", RES)[0], "token", 401)
    d = denial(b, lambda: a.resource(tok, RES, proof=a.proof(tok, b.url + "/kbs/v0/resource/other"))[0],
               "dpop", 401)
    assert d["jkt"] == token_payload(tok)["cnf"]["jkt"], d
    d = denial(b, lambda: a.resource(tok, "demo/key/nothing-here")[0], "resource", 404)
    assert d["reason"] == "no such enabled key", d
    d = denial(b, lambda: a.resource(tok, DENY)[0], "policy", 403)
    assert d["policy"] == "other" and d["version"] == 1 and d["policy_version"] >= 1, d
    assert "measurement" in d["reason"], d
    # a replayed proof: the first use releases (one release record), the second is denied
    proof = a.proof(tok, b.url + "/kbs/v0/resource/" + RES)
    s = Since(b)
    assert a.resource(tok, RES, proof=proof)[0] == 200
    one(s.new(), "release")
    denial(b, lambda: a.resource(tok, RES, proof=proof)[0], "dpop", 401)


def t_refused_appraisal(b):
    a = Attester(b)
    s = Since(b)
    st, _, _ = a.attest(report_data=bytes(64))      # binds nothing: refused
    assert st == 401, st
    ap = one(s.new(), "appraisal")
    assert ap["result"] == "denied" and ap["tee"] == "snp" and len(ap["evidence_digest"]) == 64, ap
    assert "claims_digest" not in ap and ap["reason"], ap


def setup(b):
    b.audit_db = os.path.join(b.dir, b.cfg["audit"].get("path") or b.cfg.get("store", {}).get("path", "keywarden.db"))
    b.provision(RES)
    b.provision(DENY, policy="other", document=kwtest.policy_for(OTHER_M))


def t_kill9_burst(b):
    """kill -9 during 16 concurrent release loops: every acknowledged release has its record."""
    attesters = [Attester(b) for _ in range(16)]
    toks = [a.token() for a in attesters]
    acked = {token_payload(t)["jti"]: 0 for t in toks}
    stop = threading.Event()
    lock = threading.Lock()

    def loop(a, tok):
        jti = token_payload(tok)["jti"]
        while not stop.is_set():
            try:
                st, _, _ = a.resource(tok, RES)
            except OSError:
                return
            if st == 200:
                with lock:
                    acked[jti] += 1
            elif st != 401:        # a stale DPoP nonce retries; anything else ends the loop
                return

    threads = [threading.Thread(target=loop, args=(a, t)) for a, t in zip(attesters, toks)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    b.proc.send_signal(signal.SIGKILL)
    b.proc.wait()
    stop.set()
    for t in threads:
        t.join(30)
    total = sum(acked.values())
    assert total > 16, acked
    b.logf.close()
    b.start()
    got = {}
    for r in records(b):
        if r["kind"] == "release" and r["data"].get("jti") in acked:
            got[r["data"]["jti"]] = got.get(r["data"]["jti"], 0) + 1
    for jti, n in acked.items():
        assert got.get(jti, 0) >= n, "jti %s: %d acknowledged, %d recorded" % (jti, n, got.get(jti, 0))
    print("     kill -9: %d releases acknowledged, %d recorded" % (total, sum(got.values())))
    assert records(b)[-1]["kind"] == "start"
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        p = kwctl_verify(b, tmp)
        assert p.returncode == 0 and "ok" in p.stdout, (p.stdout, p.stderr)


def t_stop_record(b):
    b.stop()
    rs = records(b)
    assert rs[-1]["kind"] == "stop" and rs[-1]["data"] == {"reason": "shutdown"}, rs[-1]
    b.start()


# ---- disk full: the audit log on a small tmpfs ----

def disk_full():
    mnt = None
    b = None
    try:
        import tempfile
        mnt = tempfile.mkdtemp(prefix="kwit-auditfs-")
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", mnt],
                          stderr=subprocess.DEVNULL).returncode != 0:
            os.rmdir(mnt)
            print("SKIP disk_full: cannot mount a tmpfs here (not counted as passed)")
            return 0
        b = Broker(config_edit=lambda c: c.setdefault("audit", {}).update({"path": mnt + "/audit.db"}))
        b.audit_db = mnt + "/audit.db"
        b.start()
        st, ct, body = b.request("GET", "/.well-known/keywarden-checkpoint")
        assert st == 404 and ct.startswith("application/problem+json"), (st, body)
        assert body["detail"] == "no checkpoint yet", body
        b.provision(RES)
        a = Attester(b)
        tok = a.token()
        assert a.resource(tok, RES)[0] == 200
        n_before = len(records(b))
        released_before = b.log().count("released '")
        # fill the file system
        f = open(mnt + "/filler", "wb", buffering=0)
        try:
            while True:
                f.write(bytes(4096))
        except OSError:
            pass
        finally:
            f.close()
        for _ in range(5):
            st, ct, body = a.resource(tok, RES)
            assert st == 503 and ct.startswith("application/problem+json"), (st, body)
            assert json.loads(body)["detail"] == "the audit log cannot be written", body
        assert b.log().count("released '") == released_before, "a release left the HSM"
        # space returns: the same broker records and releases again
        os.unlink(mnt + "/filler")
        st, _, body = a.resource(tok, RES)
        assert st == 200, (st, body)
        rs = records(b)[n_before:]
        assert [r["kind"] for r in rs if r["kind"] in ("release", "denial")] == ["release"], rs
        rc = b.stop()
        assert rc == 0, rc
        print("ok   disk_full")
        return 0
    except Exception:
        import traceback
        traceback.print_exc()
        if b is not None:
            print("--- broker log (tail) ---\n" + b.log()[-4000:])
        print("FAIL disk_full")
        return 1
    finally:
        if b is not None:
            b.cleanup()
        if mnt is not None and os.path.ismount(mnt):
            subprocess.run(["umount", mnt])
            os.rmdir(mnt)


# admins of the role test (t_audit_roles): subject -> [(role, repositories)]
ROLE_GRANTS = {
    "ops-admin": [("key-admin", ["*"]), ("policy-admin", ["*"])],
    "aud-demo": [("auditor", ["demo"])],
    "aud-other": [("auditor", ["other"])],
}


def config(c):
    c.setdefault("audit", {}).update({"checkpoint_interval": 1})
    if c.get("store", {}).get("kind") == "postgresql":
        # these checks read the log's SQLite file: with KW_TEST_STORE=postgresql the store is the
        # database and the log a file of its own (audit.path); the log in the database, shared
        # by several brokers, is test_pg_audit.py's
        c["audit"]["path"] = "audit.db"
    for subj, grants in ROLE_GRANTS.items():
        for role, repos in grants:
            c["admin"]["grants"].append({"subject": subj, "role": role, "repositories": repos})


def t_audit_roles(b):
    """Every audit route: 403 problem JSON without the auditor role, 200 with it."""
    for subj in list(ROLE_GRANTS) + ["no-grant"]:
        subprocess.run(["sh", os.path.join(kwtest.SRC, "scripts", "mk-admin-cert.sh"), b.tls_dir, subj],
                       check=True, stdout=subprocess.DEVNULL)
    settle(b)
    n = len(records(b))
    assert n > 10 and any(r["kind"] == "release" for r in records(b)), n
    checkpoint(b, 1)
    routes = ["/admin/v1/audit", "/admin/v1/audit?repository=demo", "/admin/v1/audit?last=5",
              "/admin/v1/audit?kind=release", "/admin/v1/audit/proof?index=0",
              "/admin/v1/audit/proof?index=1&size=%d" % n, "/admin/v1/audit/consistency?from=1&to=%d" % n,
              "/admin/v1/audit/checkpoint"]
    for path in routes:
        for who in ("ops-admin", "no-grant"):
            st, ct, body = b.admin("GET", path, who=who)
            assert st == 403 and ct.startswith("application/problem+json"), (path, who, st, ct, body)
            assert body["status"] == 403 and "auditor" in body.get("detail", ""), (path, who, body)
            for leak in ("records", "proof", "root", "note", "leaf_hash"):
                assert leak not in body, (path, who, body)
        for who in ("demo-admin", "aud-demo"):
            st, ct, body = b.admin("GET", path, who=who)
            assert st == 200, (path, who, st, body)
    # the listing as auditors scoped to one repository: only theirs, and records of none
    for who, repo in (("aud-demo", "demo"), ("aud-other", "other")):
        st, _, body = b.admin("GET", "/admin/v1/audit?limit=10000", who=who)
        assert st == 200, (who, st, body)
        repos = {r["data"].get("repository") for r in body["records"]}
        assert repos <= {repo, None}, (who, repos)
        assert any(r["kind"] == "start" for r in body["records"]), who
    st, _, body = b.admin("GET", "/admin/v1/audit?limit=10000", who="aud-demo")
    assert any(r["kind"] == "release" for r in body["records"]), "aud-demo sees no release of demo"
    st, ct, body = b.admin("GET", "/admin/v1/audit?repository=demo", who="aud-other")
    assert st == 403 and ct.startswith("application/problem+json"), (st, body)


def t_segment_export(b):
    """kwctl audit export --segment of a middle range of the live log, verified with the published key."""
    import tempfile
    settle(b)
    n = len(records(b))
    note = checkpoint(b, n)
    size = int(note.split("\n")[1])
    frm, to = size // 3, 2 * size // 3
    assert 0 < frm < to < size, (frm, to, size)
    vkey = vkey_of(b)
    with tempfile.TemporaryDirectory() as tmp:
        seg, keyf = os.path.join(tmp, "seg.jsonl"), os.path.join(tmp, "key.txt")
        with open(keyf, "w") as f:
            f.write(vkey)
        p = subprocess.run([KWCTL, "audit", "export", "--db", b.audit_db, "--segment", "--from", str(frm),
                            "--to", str(to), "--out", seg], capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        p = subprocess.run([KWCTL, "audit", "verify", "--segment", seg, "--key", keyf],
                           capture_output=True, text=True)
        assert p.returncode == 0 and p.stdout.startswith("ok: records [%d, %d) of '127.0.0.1:%d/audit'"
                                                         % (frm, to, b.port)), (p.stdout, p.stderr)
        text = open(seg, encoding="utf-8", newline="").read()
        before = len(verify_proofs.failures)
        got = verify_proofs.check_segment(text, vkey)
        assert got is not None and got[:2] == (frm, to) and got[2] >= to, got
        assert verify_proofs.failures[before:] == [], verify_proofs.failures[before:]
        # the records are the live log's, and the segment's checkpoints reach the published one
        lines = text.split("\n")
        assert [json.loads(x) for x in lines[1:-1]] == records(b)[frm:to]
        hdr = json.loads(lines[0])
        newest = hdr["latest"]["checkpoint"] if "latest" in hdr else hdr["checkpoint"]
        assert int(newest.split("\n")[1]) >= size, (newest, size)
        # an edited record of the archive is named
        k = frm + (to - frm) // 2
        i = k - frm + 1
        lines[i] = lines[i].replace('"at":', '"at":1', 1)
        with open(seg, "w", encoding="utf-8", newline="") as f:
            f.write("\n".join(lines))
        p = subprocess.run([KWCTL, "audit", "verify", "--segment", seg, "--key", keyf],
                           capture_output=True, text=True)
        assert p.returncode == 1 and p.stdout.startswith("bad: first bad record %d: " % k), (p.stdout, p.stderr)


TESTS = [t_start_record, t_token_key_rotation, t_admin_changes_recorded, t_full_flow, t_refval_from_set, t_denials,
         t_refused_appraisal, t_checkpoint, t_admin_audit, t_kwctl_audit, t_audit_roles, t_segment_export,
         t_stop_record, t_kill9_burst]


def main():
    rc = kwtest.run_tests(Broker(config_edit=config), TESTS, setup=setup)
    return rc | disk_full()


if __name__ == "__main__":
    sys.exit(main())
