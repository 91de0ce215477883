#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Two brokers, one PostgreSQL database, one SoftHSM token (docs/ha.md).

A throwaway cluster (kwpg.py), reached over TCP with TLS (sslmode=verify-full)
and a password; broker A and broker B (kwtest.Broker(share_with=A): A's
token and SNP emulation roots). Checks: a key generated through A's admin is
released by B; the release reads run off B's event loop (a locked table
delays a release, not /healthz); concurrent conflicting admin writes through
A and B: one wins, the other gets 409 conflict, nothing is lost; the database
restarted under load: 503 while it is down, then service again without a
broker restart; /readyz: store "fail" (503) within a bounded time of the
database stopping and 200 again once it is back, /healthz and the other
endpoints answering throughout; kill -9 of A under admin load: B keeps serving and every
write A acknowledged reads back at B.
"""
import json
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kwtest  # noqa: E402
from kwtest import Attester, Broker  # noqa: E402


def problem(st, ct, body, status, slug=None):
    assert st == status, "expected %d, got %d: %r" % (status, st, body)
    assert ct.startswith("application/problem+json"), (ct, body)
    if isinstance(body, (bytes, bytearray)):
        body = json.loads(body)
    assert body["status"] == status, body
    if slug is not None:
        assert body["type"] == "urn:keywarden:problem:" + slug, body
    return body


def release(b, a, token, path):
    """One release at b with a fresh DPoP proof: (status, plaintext or body)."""
    st, ct, body = a.resource(token, path)
    if st == 200:
        return st, a.decrypt(body if isinstance(body, str) else body.decode())
    return st, body


def both(fa, fb):
    """Run fa and fb at the same moment on two threads; their results."""
    go = threading.Barrier(2)
    out = [None, None]

    def run(i, f):
        go.wait()
        out[i] = f()
    ts = [threading.Thread(target=run, args=(i, f)) for i, f in enumerate((fa, fb))]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    return out


class Pair:
    def __init__(self):
        self.pg = kwtest.pg_cluster()
        self.db = self.pg.createdb()
        self.conninfo = self.pg.conninfo(self.db, tls=True)
        # SNP only: setup-local's offline TDX collateral directory is empty, which would
        # keep /readyz at 503 (t_readyz_database_down needs it at 200)
        self.a = Broker(pg_conninfo=self.conninfo, config_edit=lambda c: c.pop("tdx", None))
        self.b = None
        self._att = {}

    def att(self, x):
        """(attester, token) for broker x, made once: an attester's RSA key takes seconds."""
        if x not in self._att:
            at = Attester(x)
            self._att[x] = (at, at.token())
        return self._att[x]

    def forget(self, x):
        self._att.pop(x, None)

    def start(self):
        self.a.start()
        self.b = Broker(pg_conninfo=self.conninfo, share_with=self.a)
        self.b.start()


def t_tls_and_schema(p):
    """The brokers talk to PostgreSQL over TLS; one schema, migrated once."""
    rows = p.pg.sql("SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)"
                    " WHERE a.application_name = 'keywarden' AND s.ssl", p.db)
    assert int(rows) >= 2, rows
    assert p.pg.sql("SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)"
                    " WHERE a.application_name = 'keywarden' AND NOT s.ssl", p.db) == "0"
    assert p.pg.sql("SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_migrations",
                    p.db) == "1,2,3"


def t_generated_at_a_released_at_b(p):
    p.a.provision("ha/key/one")
    ab, tb = p.att(p.b)
    st, key_b = release(p.b, ab, tb, "ha/key/one")
    assert st == 200, (st, key_b)
    aa, ta = p.att(p.a)
    st, key_a = release(p.a, aa, ta, "ha/key/one")
    assert st == 200, (st, key_a)
    assert len(key_b) == 32 and key_a == key_b
    # a key disabled through B is refused at A at once (no cache between them)
    st, _, body = p.b.admin("POST", "/admin/v1/keys/ha/key/one/disable", {})
    assert st == 200, (st, body)
    st, body = release(p.a, aa, ta, "ha/key/one")
    problem(st, "application/problem+json", body, 404)
    st, _, body = p.a.admin("POST", "/admin/v1/keys/ha/key/one/enable", {})
    assert st == 200, (st, body)
    st, again = release(p.b, ab, tb, "ha/key/one")
    assert st == 200 and again == key_b


def t_release_reads_off_the_loop(p):
    """A table lock delays B's release (on a worker) but not B's /healthz."""
    p.a.provision("ha/key/slow")
    ab, tok = p.att(p.b)
    locker = subprocess.Popen(
        ["runuser", "-u", "postgres", "--", os.path.join(kwtest_pg_bin(), "psql"), "-X", "-q",
         "-h", p.pg.sock, "-p", str(p.pg.port), "-d", p.db, "-c",
         "BEGIN; LOCK TABLE keys IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(2.5); COMMIT;"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 10
        while p.pg.sql("SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
                       " WHERE c.relname = 'keys' AND l.mode = 'AccessExclusiveLock'"
                       " AND l.granted", p.db) != "1":
            assert time.time() < deadline, "the lock was not taken"
            time.sleep(0.05)
        res = {}
        t = threading.Thread(target=lambda: res.update(r=release(p.b, ab, tok, "ha/key/slow"),
                                                       t=time.time()))
        t0 = time.time()
        t.start()
        time.sleep(0.3)
        health = []
        for _ in range(5):
            h0 = time.time()
            st, _, _ = p.b.request("GET", "/healthz")
            health.append((st, time.time() - h0))
        assert t.is_alive(), "the release did not wait for the lock"
        t.join(30)
        assert all(st == 200 for st, _ in health), health
        assert max(d for _, d in health) < 1.0, health
        assert res["r"][0] == 200, res
        assert res["t"] - t0 >= 1.0, res["t"] - t0      # it did wait for the lock
    finally:
        locker.wait(30)


def kwtest_pg_bin():
    import kwpg
    return kwpg.PGBIN


def t_conflicting_admin_writes(p):
    # documents: both brokers write "based on version 1" at the same moment
    doc = kwtest.policy_for(p.a.emu["measurement"])
    st, _, body = p.a.admin("PUT", "/admin/v1/policies/ha/race", {"document": doc})
    assert st == 201 and body["version"] == 1, (st, body)
    da = dict(doc, allow_debug=False)
    db = dict(doc, allow_debug=True)
    ra, rb = both(lambda: p.a.admin("PUT", "/admin/v1/policies/ha/race",
                                    {"document": da, "base_version": 1}),
                  lambda: p.b.admin("PUT", "/admin/v1/policies/ha/race",
                                    {"document": db, "base_version": 1}))
    sts = sorted([ra[0], rb[0]])
    assert sts == [201, 409], (ra, rb)
    win, lose, wdoc, ldoc, lb = (ra, rb, da, db, p.b) if ra[0] == 201 else (rb, ra, db, da, p.a)
    problem(lose[0], lose[1], lose[2], 409, "conflict")
    assert win[2]["version"] == 2
    for x in (p.a, p.b):
        st, _, cur = x.admin("GET", "/admin/v1/policies/ha/race")
        assert st == 200 and cur["version"] == 2 and cur["document"] == wdoc, (st, cur)
    # the loser reads again and retries on the new version: nothing is lost
    st, _, body = lb.admin("PUT", "/admin/v1/policies/ha/race", {"document": ldoc, "base_version": 2})
    assert st == 201 and body["version"] == 3, (st, body)
    st, _, h = p.a.admin("GET", "/admin/v1/policies/ha/race/history")
    assert st == 200 and [d["document"] for d in h["history"]] == [doc, wdoc, ldoc], h
    # a stale base is refused even without a race
    st, ct, body = p.b.admin("PUT", "/admin/v1/policies/ha/race", {"document": doc, "base_version": 2})
    problem(st, ct, body, 409, "conflict")

    # keys: the same key created through both at once
    req = {"repository": "ha", "type": "key", "tag": "twice", "algorithm": "aes-256", "policy": "race"}
    ra, rb = both(lambda: p.a.admin("POST", "/admin/v1/keys", req),
                  lambda: p.b.admin("POST", "/admin/v1/keys", req))
    assert sorted([ra[0], rb[0]]) == [201, 409], (ra, rb)
    lose = ra if ra[0] == 409 else rb
    problem(lose[0], lose[1], lose[2], 409, "conflict")
    for x in (p.a, p.b):
        st, _, k = x.admin("GET", "/admin/v1/keys/ha/key/twice")
        assert st == 200 and [v["version"] for v in k["versions"]] == [1], (st, k)
        assert k["versions"][0]["state"] == "enabled", k

    # supersede (read-modify-write inside the broker) through both at once, a few rounds:
    # every 201's new measurement is in the set, every refusal is a 409
    rounds = 6
    old = ["%02x" % i * 48 for i in range(1, 2 * rounds + 1)]
    new = ["%02x" % (0x80 + i) * 48 for i in range(1, 2 * rounds + 1)]
    st, _, body = p.a.admin("PUT", "/admin/v1/refvals/ha/set",
                            {"document": {"measurements": [{"value": v} for v in old]}})
    assert st == 201, (st, body)
    acked, conflicts = [], 0
    for rnd in range(rounds):
        oa, ob, na, nb = old[2 * rnd], old[2 * rnd + 1], new[2 * rnd], new[2 * rnd + 1]
        ra, rb = both(lambda: p.a.admin("POST", "/admin/v1/refvals/ha/set/supersede",
                                        {"old": oa, "new": na, "grace": "1h"}),
                      lambda: p.b.admin("POST", "/admin/v1/refvals/ha/set/supersede",
                                        {"old": ob, "new": nb, "grace": "1h"}))
        for r, n in ((ra, na), (rb, nb)):
            if r[0] == 201:
                acked.append(n)
            else:
                problem(r[0], r[1], r[2], 409, "conflict")
                conflicts += 1
    st, _, cur = p.b.admin("GET", "/admin/v1/refvals/ha/set")
    values = {e["value"] for e in cur["document"]["measurements"]}
    assert set(acked) <= values, (acked, values)
    print("     supersede rounds: %d acknowledged, %d conflicts (409)" % (len(acked), conflicts))


def t_shared_single_use_sets(p):
    """Spent challenges and DPoP jti go to the shared set; B refuses what is in it.

    Here "spent at A" is written into the table exactly as A's worker writes
    it, and B must refuse it; t_cross_broker_challenge does it with a real
    challenge (a DPoP proof names its broker's URL, so only the row tests
    the jti set with two URLs)."""
    import hashlib
    counts = dict(tuple(map(int, r.split("|"))) for r in
                  p.pg.sql("SELECT kind, count(*) FROM used_once GROUP BY kind", p.db).splitlines())
    assert counts.get(1, 0) >= 2 and counts.get(2, 0) >= 3, counts    # attests, releases so far
    ab, tb = p.att(p.b)
    p.a.provision("ha/key/once")
    path = "ha/key/once"
    htu = p.b.url + "/kbs/v0/resource/" + path
    jkt = ab.dpop_jwk().thumbprint()
    jti = kwtest.b64u(os.urandom(16))
    ident = hashlib.sha256(jti.encode()).digest()[:16] + hashlib.sha256(jkt.encode()).digest()[:16]
    p.pg.sql("INSERT INTO used_once VALUES (2, '\\x%s', %d)" % (ident.hex(), int(time.time()) + 600),
             p.db)
    st, ct, body = ab.resource(tb, path, proof=ab.proof(tb, htu, jti=jti))
    problem(st, ct, body, 401)
    assert "invalid_dpop_proof" in p.b.last_headers.get("www-authenticate", ""), p.b.last_headers
    st, _, _ = ab.resource(tb, path, proof=ab.proof(tb, htu))
    assert st == 200, st
    # the challenge (ver 1, key version 4, expiry 8 bytes, then rand): its id is the first
    # 16 bytes of rand (broker/challenge.h)
    nonce = ab.nonce()
    raw = kwtest.b64u_dec(nonce)
    p.pg.sql("INSERT INTO used_once VALUES (1, '\\x%s', %d)" % (raw[13:29].hex(), int(time.time()) + 600),
             p.db)
    st, ct, body = ab.attest(nonce=nonce)
    problem(st, ct, body, 401)
    st, _, body = ab.attest()
    assert st == 200, (st, body)
    # and what B spends is there for A to see
    n = ab.nonce()
    st, _, body = ab.attest(nonce=n)
    assert st == 200, (st, body)
    rid = kwtest.b64u_dec(n)[13:29].hex()
    assert p.pg.sql("SELECT count(*) FROM used_once WHERE kind = 1 AND id = '\\x%s'" % rid,
                    p.db) == "1"


def wait_for(cond, what, timeout=90):
    deadline = time.time() + timeout
    while not cond():
        assert time.time() < deadline, "timed out waiting for " + what
        time.sleep(0.1)


def t_database_restart_under_load(p):
    p.a.provision("ha/key/load")
    stop = threading.Event()
    seen = {"a": [], "b": []}

    def load(name, x):
        at, tok = p.att(x)
        while not stop.is_set():
            try:
                st, _, _ = at.resource(tok, "ha/key/load")
            except OSError as e:
                st = "error %s" % e
            seen[name].append((time.time(), st))
            time.sleep(0.02)
    ts = [threading.Thread(target=load, args=(n, x)) for n, x in (("a", p.a), ("b", p.b))]
    for t in ts:
        t.start()
    try:
        # attesting (RSA key generation in the attester) takes seconds on a busy machine
        wait_for(lambda: all(sum(1 for _, s in seen[n] if s == 200) >= 5 for n in seen), "load")
        t_down = time.time()
        p.pg.stop("fast")
        time.sleep(1.5)
        # the admin plane says 503 too
        st, ct, body = p.a.admin("GET", "/admin/v1/keys")
        problem(st, ct, body, 503)
        t_up = time.time()
        p.pg.start()
        deadline = time.time() + 30
        while time.time() < deadline:
            if all(any(t > t_up and s == 200 for t, s in seen[n]) for n in seen):
                break
            time.sleep(0.2)
        time.sleep(0.5)
    finally:
        stop.set()
        for t in ts:
            t.join(60)
    for n in seen:
        before = [s for t, s in seen[n] if t < t_down]
        # a request that started before the stop may end during it: count from 0.2 s after
        during = [s for t, s in seen[n] if t_down + 0.2 < t < t_up]
        after = [s for t, s in seen[n] if t > t_up]
        assert before and all(s == 200 for s in before), (n, before)
        assert during and all(s == 503 for s in during), (n, sorted(set(map(str, during))))
        assert 200 in after, (n, after[-10:])
        # once back, it stays back
        first_ok = after.index(200)
        assert all(s == 200 for s in after[first_ok:]), (n, after[first_ok:][:20])
        print("     broker %s: %d ok before, %d x 503 while down, recovered %.1f s after start"
              % (n.upper(), len(before), len(during),
                 [t for t, s in seen[n] if t > t_up and s == 200][0] - t_up))
    st, _, _ = p.a.admin("GET", "/admin/v1/keys")
    assert st == 200


def t_readyz_database_down(p):
    """/readyz follows the database (a probe through the pool); the loop never waits for it."""
    x = p.a

    def poll():
        t = time.time()
        st, ct, body = x.request("GET", "/readyz")
        hst, _, hb = x.request("GET", "/healthz")
        jst, _, _ = x.request("GET", "/.well-known/jwks.json")
        dt = time.time() - t
        assert hst == 200 and hb == {"status": "alive"}, (hst, hb)
        assert jst == 200, jst
        # three requests; a loop blocked on the database would stall them (connect_timeout 5 s)
        assert dt < 2.0, "requests took %.1f s" % dt
        return st, ct, body

    def until(want, what, timeout):
        t0 = time.time()
        while True:
            st, ct, body = poll()
            if st == want:
                return time.time() - t0, ct, body
            assert time.time() - t0 < timeout, "%s: /readyz stayed %d after %d s: %r" % (
                what, st, timeout, body)
            time.sleep(0.1)

    st, _, body = poll()
    assert st == 200 and body["checks"]["store"] == "ok", body
    p.pg.stop("fast")
    try:
        # a result is reused for 1 s and a probe out for 1 s counts as failed: ~2 s at most
        dt, ct, body = until(503, "database stopped", 6)
        problem(503, ct, body, 503, "unavailable")
        assert body["checks"] == {"hsm": "ok", "store": "fail", "token_key": "ok",
                                  "collateral": "not configured"}, body
        assert "store (" in body["detail"] and "database" in body["detail"], body
        t_fail = dt
        # and it stays so while the database is down
        t_end = time.time() + 2
        while time.time() < t_end:
            st, _, body = poll()
            assert st == 503 and body["checks"]["store"] == "fail", (st, body)
            time.sleep(0.2)
    finally:
        p.pg.start()
    dt, _, body = until(200, "database back", 10)
    assert body == {"status": "ready", "checks": {"hsm": "ok", "store": "ok", "token_key": "ok",
                                                  "collateral": "not configured"}}, body
    print("     /readyz 503 %.1f s after the database stopped, 200 %.1f s after it started"
          % (t_fail, dt))


def t_kill9_under_admin_load(p):
    """kill -9 A while it acknowledges admin writes; B serves on and has them all."""
    p.b.provision("ha/key/steady")
    acked_docs, acked_keys = {}, []
    stop = threading.Event()
    served = []

    def admin_load():
        i = 0
        while not stop.is_set():
            i += 1
            try:
                if i % 2:
                    doc = {"measurements": [{"value": "%096x" % i}]}
                    st, _, body = p.a.admin("PUT", "/admin/v1/refvals/ha/k9-%d" % (i % 5), {"document": doc})
                    if st == 201:
                        acked_docs[("ha/k9-%d" % (i % 5), body["version"])] = doc
                else:
                    req = {"repository": "ha", "type": "k9", "tag": "t%d" % i, "algorithm": "aes-128"}
                    st, _, body = p.a.admin("POST", "/admin/v1/keys", req)
                    if st == 201:
                        acked_keys.append("ha/k9/t%d" % i)
            except OSError:
                if p.a.proc is None or p.a.proc.poll() is not None:
                    return

    def release_load():
        at, tok = p.att(p.b)
        while not stop.is_set():
            st, _ = release(p.b, at, tok, "ha/key/steady")
            served.append((time.time(), st))
            time.sleep(0.02)
    ts = [threading.Thread(target=admin_load), threading.Thread(target=release_load)]
    for t in ts:
        t.start()
    try:
        wait_for(lambda: len(served) >= 5 and len(acked_docs) + len(acked_keys) >= 6, "load")
        t_kill = time.time()
        p.a.proc.kill()          # SIGKILL
        p.a.proc.wait(10)
        time.sleep(1.5)
    finally:
        stop.set()
        for t in ts:
            t.join(60)
    assert len(acked_docs) + len(acked_keys) >= 5, (len(acked_docs), len(acked_keys))
    for (name, v), doc in acked_docs.items():
        st, _, body = p.b.admin("GET", "/admin/v1/refvals/%s?version=%d" % (name, v))
        assert st == 200 and body["document"] == doc, (name, v, st, body)
    for path in acked_keys:
        st, _, k = p.b.admin("GET", "/admin/v1/keys/" + path)
        assert st == 200 and k["versions"][0]["state"] == "enabled", (path, st, k)
    after = [s for t, s in served if t > t_kill]
    assert after and all(s == 200 for s in after), after[:20]
    print("     kill -9: %d documents and %d keys acknowledged by A, all read back at B; "
          "B served %d releases after the kill" % (len(acked_docs), len(acked_keys), len(after)))
    # A comes back on the same database and token: its start-up reconciliation agrees
    p.a.stop()
    p.a.start()
    sa = p.a.admin("GET", "/admin/v1/keys")[2]["keys"]
    sb = p.b.admin("GET", "/admin/v1/keys")[2]["keys"]
    assert sa == sb
    p.forget(p.a)
    at, tok = p.att(p.a)
    for path in acked_keys[:3]:
        st, ct, body = at.resource(tok, path)
        problem(st, ct, body, 403)      # no policy bound: denied, but the key exists (not 404)


def t_cross_broker_challenge(p):
    """Both brokers derive the sealing key from the shared HSM token (docs/ha.md, "Shared
    keys") and spend challenges in the shared set: a challenge A issued is attested at B
    once, and the same attestation is then refused at A and at B."""
    aa, _ = p.att(p.a)
    body = aa.attest_body(nonce=aa.nonce())          # the challenge comes from A
    st, _, b1 = p.b.request("POST", "/kbs/v0/attest", body)
    assert st == 200 and set(b1) == {"token"}, (st, b1)
    st, ct, b2 = p.a.request("POST", "/kbs/v0/attest", body)
    problem(st, ct, b2, 401)
    st, ct, b3 = p.b.request("POST", "/kbs/v0/attest", body)
    problem(st, ct, b3, 401)
    # a fresh challenge from B, spent at A: refused at B afterwards
    ab, _ = p.att(p.b)
    body = ab.attest_body(nonce=ab.nonce())
    st, _, b4 = p.a.request("POST", "/kbs/v0/attest", body)
    assert st == 200, (st, b4)
    st, ct, b5 = p.b.request("POST", "/kbs/v0/attest", body)
    problem(st, ct, b5, 401)


def main():
    p = Pair()
    tests = [t_tls_and_schema, t_generated_at_a_released_at_b, t_release_reads_off_the_loop,
             t_conflicting_admin_writes, t_shared_single_use_sets, t_cross_broker_challenge,
             t_readyz_database_down, t_database_restart_under_load,
             t_kill9_under_admin_load]
    return kwtest.run_group(p, tests, lambda: (("A", p.a), ("B", p.b)), p.start,
                            extra_log=lambda: "--- postgres log ---\n" + p.pg.log())


if __name__ == "__main__":
    sys.exit(main())
