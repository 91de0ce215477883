#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""One audit log for two brokers on one PostgreSQL database (docs/ha.md "Audit across replicas").

Broker A and broker B share a throwaway database (kwpg.py, Unix socket) and
one SoftHSM token (hence one checkpoint key); neither sets audit.path, so
the log lives in the database. Checks: releases through both brokers at
once land in one dense, chained log with A's and B's records interleaved;
the log read through A and through B is the same, the published checkpoint
and verifier key are the same at both, and `kwctl audit verify` passes on
the whole log read through each; kill -9 of the lease holder under release
load: no release it acknowledged lacks its record, the other broker takes
the lease once it expired and signs a checkpoint that is consistent with
the older one (RFC 9162 consistency proof, checked in Python).
"""
import os
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kwtest  # noqa: E402
from kwtest import Attester, Broker, jcs  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "unit", "audit"))
from verify_proofs import leaf_hash, mth, verify_consistency  # noqa: E402

KWCTL = os.path.join(kwtest.BUILD, "tools", "kwctl")
LEASE = 3        # audit.lease (seconds)


def edit(cfg):
    # the same origin at both (behind a load balancer both have the same public_url)
    cfg["audit"] = {"checkpoint_interval": 1, "checkpoint_every": 1000000, "lease": LEASE,
                    "origin": "kw-ha.test/audit"}


def wait_for(cond, what, timeout=60):
    deadline = time.time() + timeout
    while True:
        v = cond()
        if v:
            return v
        assert time.time() < deadline, "timed out waiting for " + what
        time.sleep(0.1)


def log_of(b):
    """The whole log through b's admin API, in pages: a list of records (dicts)."""
    out, cursor = [], 0
    while True:
        st, _, body = b.admin("GET", "/admin/v1/audit?limit=500&cursor=%d" % cursor, who="demo-admin")
        assert st == 200, (st, body)
        out.extend(body["records"])
        if "next_cursor" not in body:
            return out
        cursor = body["next_cursor"]


def published(b):
    """(checkpoint note, verifier key) published by b, or (None, key)."""
    st, ct, key = b.request("GET", "/.well-known/keywarden-checkpoint-key", raw=True)
    assert st == 200, (st, key)
    st, ct, note = b.request("GET", "/.well-known/keywarden-checkpoint", raw=True)
    return (note.decode() if st == 200 else None), key.decode()


def jti_of(token):
    import json
    return json.loads(kwtest.b64u_dec(token.split(".")[1]))["jti"]


def size_of(note):
    return int(note.split("\n")[1])


def root_of(note):
    import base64
    return base64.b64decode(note.split("\n")[2])


def holder_pid(p):
    h = p.pg.sql("SELECT holder FROM audit_lease WHERE expiry > clock_timestamp()", p.db)
    return int(h.split("/")[1]) if h else None


def kwctl_verify(b, recs, note, key):
    """kwctl audit verify of recs (as read through b) against note and key: its output."""
    with tempfile.TemporaryDirectory() as tmp:
        log, cpf, keyf = (os.path.join(tmp, n) for n in ("log.jsonl", "cp.txt", "key.txt"))
        with open(log, "wb") as f:
            for r in recs:
                f.write(jcs(r) + b"\n")
        with open(cpf, "w") as f:
            f.write(note)
        with open(keyf, "w") as f:
            f.write(key)
        p = subprocess.run([KWCTL, "audit", "verify", "--log", log, "--checkpoint", cpf, "--key", keyf],
                           capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


def check_log(recs):
    """Dense indexes and the prev chain, in Python."""
    prev = bytes(32)
    for i, r in enumerate(recs):
        assert r["index"] == i, (i, r["index"])
        assert r["prev"] == prev.hex(), "record %d: prev is not the leaf hash of %d" % (i, i - 1)
        prev = leaf_hash(jcs(r))


class Pair:
    def __init__(self):
        self.pg = kwtest.pg_cluster()
        self.db = self.pg.createdb()
        self.conninfo = self.pg.conninfo(self.db)
        self.a = Broker(pg_conninfo=self.conninfo, config_edit=edit)
        self.b = None
        self.note1 = None
        self.killed = None

    def start(self):
        self.a.start()
        self.b = Broker(pg_conninfo=self.conninfo, share_with=self.a, config_edit=edit)
        self.b.start()

    def by_pid(self, pid):
        return {x.proc.pid: x for x in (self.a, self.b) if x.proc is not None}.get(pid)


def releases(b, at, tok, path, n, out):
    for _ in range(n):
        st, _, _ = at.resource(tok, path)
        out.append(st)


def t_one_log_two_brokers(p):
    """Releases through A and B at once: one log, the same through both, verified by kwctl."""
    p.a.provision("ha/audit/k")
    atts = {}
    for name, x in (("a", p.a), ("b", p.b)):
        at = Attester(x)
        atts[name] = (at, at.token())
    sts = {"a": [], "b": []}
    ts = [threading.Thread(target=releases, args=(x, atts[n][0], atts[n][1], "ha/audit/k", 6, sts[n]))
          for n, x in (("a", p.a), ("b", p.b))]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    assert sts["a"] == [200] * 6 and sts["b"] == [200] * 6, sts
    recs = log_of(p.a)
    check_log(recs)
    assert log_of(p.b)[:len(recs)] == recs, "the log read through B differs from A's"
    kinds = [r["kind"] for r in recs]
    assert kinds.count("start") == 2, kinds
    # each broker's releases carry its own token's jti: both are there, interleaved
    jti = {n: jti_of(atts[n][1]) for n in atts}
    idx = {n: [r["index"] for r in recs if r["kind"] == "release"
               and r["data"].get("jti") == jti[n]] for n in atts}
    assert len(idx["a"]) == 6 and len(idx["b"]) == 6, idx
    assert min(idx["a"]) < max(idx["b"]) and min(idx["b"]) < max(idx["a"]), \
        "A's and B's releases are not interleaved: %r" % idx
    # the published checkpoint: the same note and key at both, covering the releases
    n = len(recs)
    note_a, key_a = wait_for(lambda: (lambda nk: nk if nk[0] and size_of(nk[0]) >= n else None)(
        published(p.a)), "a checkpoint of %d records at A" % n)
    note_b, key_b = wait_for(lambda: (lambda nk: nk if nk[0] and size_of(nk[0]) >= size_of(note_a)
                                      else None)(published(p.b)), "the same checkpoint at B")
    assert key_a == key_b, (key_a, key_b)
    if size_of(note_b) == size_of(note_a):
        assert note_a == note_b, "A and B publish different notes of one size"
    for x, note in ((p.a, note_a), (p.b, note_b)):
        recs_x = log_of(x)
        assert mth([leaf_hash(jcs(r)) for r in recs_x[:size_of(note)]]) == root_of(note), "root"
        rc, out = kwctl_verify(x, recs_x, note, key_a)
        assert rc == 0 and out.startswith("ok"), out
    # an edited record is named by kwctl
    bad = [dict(r) for r in recs[:size_of(note_a)]]
    bad[3] = dict(bad[3], at=bad[3]["at"] + 1)
    rc, out = kwctl_verify(p.a, bad, note_a, key_a)
    assert rc == 1 and "3" in out, out
    p.note1 = note_a
    # the tables refuse edits whoever asks
    for sql in ("UPDATE audit_records SET at = 0 WHERE idx = 0", "DELETE FROM audit_checkpoints",
                "TRUNCATE audit_nodes"):
        try:
            p.pg.sql(sql, p.db)
        except Exception:
            continue
        raise AssertionError("the database accepted: " + sql)


def t_kill9_lease_holder(p):
    """kill -9 of the lease holder under release load: no acknowledged release lacks its record;
    the other broker takes the lease after it expired and signs a consistent checkpoint."""
    pid = wait_for(lambda: holder_pid(p), "a lease holder")
    victim = p.by_pid(pid)
    other = p.b if victim is p.a else p.a
    assert victim is not None, pid
    at_v, at_o = Attester(victim), Attester(other)
    tok_v, tok_o = at_v.token(), at_o.token()
    jti_v = jti_of(tok_v)
    acked, stop = [], threading.Event()

    def load(at, tok, out):
        while not stop.is_set():
            try:
                st, _, _ = at.resource(tok, "ha/audit/k")
            except OSError:
                return
            if st == 200:
                out.append(1)
    served_other = []
    ts = [threading.Thread(target=load, args=(at_v, tok_v, acked)) for _ in range(4)]
    ts.append(threading.Thread(target=load, args=(at_o, tok_o, served_other)))
    for t in ts:
        t.start()
    wait_for(lambda: len(acked) >= 10, "releases at the lease holder")
    victim.proc.kill()
    t_kill = time.time()
    victim.proc.wait()
    p.killed = victim
    n_acked = len(acked)
    time.sleep(0.5)
    stop.set()
    for t in ts:
        t.join(60)
    assert served_other, "the other broker served nothing"
    # the other one takes the lease once it expired, and signs a newer checkpoint
    wait_for(lambda: holder_pid(p) == other.proc.pid, "the lease at the other broker", 30)
    t_take = time.time() - t_kill
    n_before = size_of(p.note1)
    other.provision("ha/audit/after")     # new records (admin changes) after the take-over
    note2 = wait_for(lambda: (lambda nk: nk[0] if nk[0] and size_of(nk[0]) > n_before and
                              nk[0] != p.note1 else None)(published(other)),
                     "a checkpoint by the new lease holder", 30)
    recs = log_of(other)
    check_log(recs)
    n_rec = sum(1 for r in recs if r["kind"] == "release" and r["data"].get("jti") == jti_v)
    assert n_rec >= n_acked, "%d releases acknowledged by the killed broker, %d records" % (n_acked, n_rec)
    _, key = published(other)
    rc, out = kwctl_verify(other, recs, note2, key)
    assert rc == 0 and out.startswith("ok"), out
    # consistency of the old holder's checkpoint with the new holder's, RFC 9162
    s1, s2 = size_of(p.note1), size_of(note2)
    st, _, body = other.admin("GET", "/admin/v1/audit/consistency?from=%d&to=%d" % (s1, s2))
    assert st == 200, (st, body)
    proof = [bytes.fromhex(h) for h in body["proof"]]
    assert verify_consistency(s1, s2, root_of(p.note1), root_of(note2), proof), "not consistent"
    print("     %d releases acknowledged by the killed holder, %d recorded; lease taken %.1f s after"
          " the kill (lease %d s); checkpoints %d -> %d consistent" % (n_acked, n_rec, t_take, LEASE,
                                                                    s1, s2))


def main():
    p = Pair()
    return kwtest.run_group(p, [t_one_log_two_brokers, t_kill9_lease_holder],
                            lambda: (("A", p.a), ("B", p.b)), p.start,
                            killed=lambda x: x is p.killed)


if __name__ == "__main__":
    sys.exit(main())
