#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Integration: HSM faults against the real broker and its real helper.

The helper is stopped (SIGSTOP), continued and killed behind the broker's
back. Every release must be answered: 503 hsm_unavailable within the call
deadline (hsm.call_timeout) plus a second while the helper cannot answer,
and a success again within 10 s once it can, without restarting the
broker. The pending-call bound (hsm.max_pending) answers the extra calls
at once, and the broker's memory stays flat through a stall under load.

    test_hsm_faults.py [--stall SECONDS]    (default 8; the report used 20)
"""
import argparse
import http.client
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kwtest  # noqa: E402
from kwtest import Attester, Broker  # noqa: E402

RES = "demo/key/faults"
DEADLINE = 2          # hsm.call_timeout for this test
ADMIN_DEADLINE = 4    # hsm.admin_timeout (also a fresh helper's start-up allowance)
MAX_PENDING = 4       # hsm.max_pending
STALL = 8             # seconds of the stall under load (--stall)
MEASURED = {}


def proc_stat(pid):
    """(state, ppid, comm) of pid, or None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
    except OSError:
        return None
    rp = st.rindex(")")
    fields = st[rp + 2:].split()
    return fields[0], int(fields[1]), st[st.index("(") + 1:rp]


def helper_pids(b):
    """Live keywarden-hsm children of the broker (zombies excluded)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        s = proc_stat(int(d))
        if s is not None and s[1] == b.proc.pid and s[2].startswith("keywarden-hsm") and s[0] != "Z":
            out.append(int(d))
    return out


def helper_pid(b, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        p = helper_pids(b)
        if len(p) == 1:
            return p[0]
        time.sleep(0.05)
    raise AssertionError("no single helper child of the broker: %r" % helper_pids(b))


def gone(pid):
    s = proc_stat(pid)
    return s is None or s[0] == "Z"


def sanitized():
    with open(kwtest.KEYWARDEN, "rb") as f:
        return b"__asan_init" in f.read()


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


class Client:
    """A workload with a token, releasing RES with a fresh DPoP proof each time."""

    def __init__(self, b):
        self.a = Attester(b)
        self.tok = self.a.token()

    def release(self):
        t0 = time.monotonic()
        st, ct, body = self.a.resource(self.tok, RES)
        return st, ct, body, time.monotonic() - t0


def problem_type(ct, body):
    import json
    assert ct.startswith("application/problem+json"), (ct, body)
    return json.loads(body)["type"]


def expect_hsm_503(st, ct, body, what):
    assert st == 503, "%s: expected 503, got %d %r" % (what, st, body[:200])
    assert problem_type(ct, body) == "urn:keywarden:problem:hsm_unavailable", (what, body)


def release_ok(b, c, what, within=10.0):
    """Release until it succeeds (at most `within` s); returns the seconds it took."""
    t0 = time.monotonic()
    last = None
    while time.monotonic() - t0 < within:
        st, ct, body, _ = c.release()
        if st == 200:
            assert c.a.decrypt(body) == b.value, what
            return time.monotonic() - t0
        if st == 503:
            expect_hsm_503(st, ct, body, what)
        else:
            raise AssertionError("%s: unexpected %d %r" % (what, st, body[:200]))
        last = st
        time.sleep(0.1)
    raise AssertionError("%s: no success within %.0f s (last %r)" % (what, within, last))


def setup(b):
    # spawn mode says at start that there is no custody boundary
    assert "no custody boundary" in b.log(), b.log()[-3000:]
    b.provision(RES)
    b.c = Client(b)
    st, ct, body, _ = b.c.release()
    assert st == 200, (st, body)
    b.value = b.c.a.decrypt(body)
    assert len(b.value) == 32
    b.broker_pid = b.proc.pid


def t_short_stall_is_harmless(b):
    """Stopped for less than the deadline: the calls wait and succeed, same helper."""
    pid = helper_pid(b)
    clients = [b.c] * 3    # one workload, concurrent releases (each with its own proof)
    res = [None] * len(clients)
    os.kill(pid, signal.SIGSTOP)
    try:
        ts = [threading.Thread(target=lambda i=i: res.__setitem__(i, clients[i].release()))
              for i in range(len(clients))]
        for t in ts:
            t.start()
        time.sleep(0.7)
    finally:
        os.kill(pid, signal.SIGCONT)
    for t in ts:
        t.join(30)
    for st, ct, body, el in res:
        assert st == 200, (st, body[:200])
    assert [c.a.decrypt(r[2]) for c, r in zip(clients, res)] == [b.value] * 3
    assert helper_pid(b) == pid, "a helper stalled for less than a deadline was replaced"


def t_stopped_helper_503_within_deadline(b):
    pid = helper_pid(b)
    os.kill(pid, signal.SIGSTOP)
    t_stop = time.monotonic()
    try:
        st, ct, body, el = b.c.release()
        MEASURED["sigstop_to_first_503_s"] = round(time.monotonic() - t_stop, 3)
        expect_hsm_503(st, ct, body, "release with the helper stopped")
        assert b.last_headers.get("retry-after") == "1", b.last_headers
        # it waited for the deadline, and not much longer
        assert DEADLINE - 0.3 <= el <= DEADLINE + 1.0, el
        # declared hung: killed (SIGKILL works on a stopped process) and reaped
        t0 = time.time()
        while not gone(pid) and time.time() - t0 < 3:
            time.sleep(0.05)
        assert gone(pid), "the hung helper is still there"
        assert "declaring it hung" in b.log(), b.log()[-2000:]
    finally:
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass
    t_cont = time.monotonic()
    release_ok(b, b.c, "after SIGCONT")
    MEASURED["sigcont_to_first_success_s"] = round(time.monotonic() - t_cont, 3)
    assert b.proc.poll() is None and b.proc.pid == b.broker_pid, "the broker restarted"
    assert helper_pid(b) != pid


def t_killed_helper_is_replaced(b):
    pid = helper_pid(b)
    os.kill(pid, signal.SIGKILL)
    t0 = time.monotonic()
    release_ok(b, b.c, "after SIGKILL")
    MEASURED["sigkill_to_first_success_s"] = round(time.monotonic() - t0, 3)
    assert helper_pid(b) != pid
    assert b.proc.poll() is None and b.proc.pid == b.broker_pid


def t_pending_bound(b):
    """With the helper stopped, max_pending calls wait for the deadline; the rest get 503 at once."""
    n = 16
    clients = [b.c] * n
    res = [None] * n
    pid = helper_pid(b)
    os.kill(pid, signal.SIGSTOP)
    try:
        go = threading.Event()

        def one(i):
            go.wait()
            res[i] = clients[i].release()
        ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for t in ts:
            t.start()
        go.set()
        for t in ts:
            t.join(30)
    finally:
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass
    fast = waited = 0
    for st, ct, body, el in res:
        expect_hsm_503(st, ct, body, "release with a full queue")
        assert el <= DEADLINE + 1.0, el
        if el < 1.0:
            fast += 1
        if el >= DEADLINE - 0.3:
            waited += 1
    MEASURED["queue_bound_fast_503s"] = fast
    assert waited <= MAX_PENDING, (waited, [round(r[3], 2) for r in res])
    assert fast >= n - MAX_PENDING, (fast, [round(r[3], 2) for r in res])
    assert "HSM queue full" in b.log()
    release_ok(b, b.c, "after the full queue")


def t_stall_under_load_memory_flat(b):
    """Every new helper is stopped at once for STALL s while clients keep releasing."""
    stop = threading.Event()
    stopped = set()
    lat, statuses, errors = [], [], []
    lock = threading.Lock()

    def staller():
        while not stop.is_set():
            for p in helper_pids(b):
                if p not in stopped:
                    try:
                        os.kill(p, signal.SIGSTOP)
                        stopped.add(p)
                    except ProcessLookupError:
                        pass
            time.sleep(0.02)

    conns = [0]

    def load(c):
        # keep-alive connections: every new TLS connection costs the broker's
        # session cache about 1 KB (bounded by OpenSSL's 20480 sessions, not
        # this test's subject), which would hide what the stall costs
        conn = None
        path = "/kbs/v0/resource/" + RES
        while not stop.is_set():
            try:
                if conn is None:
                    conn = http.client.HTTPSConnection("127.0.0.1", b.port, context=b.ssl_context(),
                                                       timeout=30)
                    with lock:
                        conns[0] += 1
                t0 = time.monotonic()
                conn.request("GET", path, headers={
                    "Authorization": "DPoP " + c.tok, "DPoP": c.a.proof(c.tok, b.url + path)})
                resp = conn.getresponse()
                body = resp.read()
                el = time.monotonic() - t0
                st, ct = resp.status, resp.getheader("Content-Type", "")
                if resp.will_close:
                    conn.close()
                    conn = None
                if st != 200:
                    expect_hsm_503(st, ct, body, "release during the stall")
                with lock:
                    lat.append(el)
                    statuses.append(st)
            except Exception as e:    # noqa: BLE001 (reported below)
                with lock:
                    errors.append(repr(e))
                return
        if conn is not None:
            conn.close()

    clients = [b.c] * 6
    st_thread = threading.Thread(target=staller)
    st_thread.start()
    time.sleep(0.2)
    ts = [threading.Thread(target=load, args=(c,)) for c in clients]
    rss = [rss_kb(b.proc.pid)]
    for t in ts:
        t.start()
    t0 = time.monotonic()
    try:
        while time.monotonic() - t0 < STALL:
            time.sleep(0.5)
            rss.append(rss_kb(b.proc.pid))
    finally:
        stop.set()
        for t in ts:
            t.join(30)
        st_thread.join(10)
        for p in stopped:
            try:
                os.kill(p, signal.SIGCONT)
            except ProcessLookupError:
                pass
    assert not errors, errors[:3]
    n503 = statuses.count(503)
    MEASURED["stall_seconds"] = STALL
    MEASURED["stall_requests"] = len(statuses)
    MEASURED["stall_503"] = n503
    MEASURED["stall_max_latency_s"] = round(max(lat), 3)
    MEASURED["stall_rss_kb_start_max_end"] = (rss[0], max(rss), rss[-1])
    MEASURED["stall_rss_kb_series"] = rss[::2]
    MEASURED["stall_helpers_stopped"] = len(stopped)
    MEASURED["stall_connections"] = conns[0]
    assert len(statuses) >= 20 and n503 >= 0.9 * len(statuses), (len(statuses), n503)
    assert max(lat) <= DEADLINE + 1.0, max(lat)
    # at least two helpers were declared hung and replaced during the stall
    assert len(stopped) >= 2, stopped
    # memory: bounded, and not growing in the second half of the stall. Not
    # under AddressSanitizer: its quarantine (256 MB) keeps freed memory.
    half = len(rss) // 2
    if sanitized():
        print("note: broker built with AddressSanitizer: RSS bound not checked (%r)" % rss)
    else:
        assert max(rss) - rss[0] < 24 * 1024, rss
        assert max(rss[half:]) <= max(rss[:half]) + 4 * 1024, rss
    release_ok(b, b.c, "after the stall")
    assert b.proc.poll() is None and b.proc.pid == b.broker_pid


TESTS = [t_short_stall_is_harmless, t_stopped_helper_503_within_deadline,
         t_killed_helper_is_replaced, t_pending_bound, t_stall_under_load_memory_flat]


def main():
    global STALL
    ap = argparse.ArgumentParser()
    ap.add_argument("--stall", type=int, default=STALL)
    STALL = ap.parse_args().stall

    def edit(cfg):
        cfg["hsm"]["call_timeout"] = DEADLINE
        cfg["hsm"]["admin_timeout"] = ADMIN_DEADLINE
        cfg["hsm"]["max_pending"] = MAX_PENDING
        # the stall load sends thousands of proofs with few token keys: lift the
        # per-key jti quota (its own test is test_sets.py) so every answer is the HSM's
        cfg.setdefault("limits", {})["dpop_jti_per_key"] = 1000000
    t0 = time.monotonic()
    b = Broker(config_edit=edit)
    if os.environ.get("KW_KEEP_LOG"):
        import atexit
        import shutil
        atexit.register(lambda: shutil.copy(b.log_path, os.environ["KW_KEEP_LOG"]))
        b.cleanup = lambda: b.stop()
    rc = kwtest.run_tests(b, TESTS, setup=setup)
    print("measured: %r (%.1f s in all)" % (MEASURED, time.monotonic() - t0))
    return rc


if __name__ == "__main__":
    sys.exit(main())
