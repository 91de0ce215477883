#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Integration: bounded connections (docs/reliability.md, "Connections").

The broker runs with RLIMIT_NOFILE soft = hard = 1024 (as a default systemd
service would without LimitNOFILE). Floods come from other loopback source
addresses (127.0.0.2 and up) so that "one client" is one address; legitimate
requests come from 127.0.0.1 on fresh connections with a 2 s timeout.

  - a configured cap that RLIMIT_NOFILE cannot hold is refused at start;
  - a connection trickling bytes is closed at the request deadline,
    although it keeps sending (also before TLS, and idle after a response);
  - a client over its per-address cap gets its extra connections reset at
    once, other addresses and its established connections keep working;
  - ~1,000 TLS connections from one address, each trickling one header byte
    every 2 s, reconnecting when dropped (and 100 more against the admin
    listener): /healthz and the admin listener answer within 2 s, the log
    grows by less than 1 MiB; the numbers are printed;
  - many addresses filling the listener cap: the admin listener, which has
    its own descriptor budget and thread, still answers;
  - accept() failing with EMFILE (the broker's soft limit lowered under it
    with prlimit): the listener backs off and logs at most once a second;
  - afterwards the full auth -> attest -> resource flow works.
"""
import http.client
import os
import re
import resource
import select
import socket
import ssl
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kwtest  # noqa: E402
from kwtest import Attester, Broker  # noqa: E402

RES = "flood/key/one"
NOFILE = 1024
DEADLINE = 4           # limits.request_timeout for this broker (seconds)
LEGIT = "127.0.0.1"
TRICKLE = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 4096


def broker_rlimit():
    resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE, NOFILE))


def raise_own_nofile():
    """The floods need ~1,500 descriptors here: soft limit to the hard limit,
    and the hard limit to 8192 where that is allowed (root)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 8192:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (8192, 8192))
        except (ValueError, OSError):
            pass
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


OWN_NOFILE = raise_own_nofile()


def limits(b):
    m = re.search(r"connections: RLIMIT_NOFILE (\d+); workload listener at most (\d+) open, "
                  r"(\d+) per address.*admin listener at most (\d+) open, (\d+) per address; "
                  r"request deadline (\d+) s", b.log())
    assert m, "no connection limits line in the log"
    return dict(zip(["nofile", "max", "per_addr", "admin_max", "admin_per_addr", "deadline"],
                    map(int, m.groups())))


def broker_fds(b):
    return len(os.listdir("/proc/%d/fd" % b.proc.pid))


def broker_rss_kib(b):
    with open("/proc/%d/status" % b.proc.pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def broker_cpu_s(b):
    with open("/proc/%d/stat" % b.proc.pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def settle_fds(b, limit=3.0):
    """The broker's descriptor count once closed test connections are gone."""
    t_end = time.monotonic() + limit
    n = broker_fds(b)
    while time.monotonic() < t_end:
        time.sleep(0.2)
        m = broker_fds(b)
        if m == n:
            break
        n = m
    return n


def log_size(b):
    return os.path.getsize(b.log_path)


def tls_ctx(b, admin=False):
    ctx = ssl.create_default_context(cafile=b.ca)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    if admin:
        ctx.load_cert_chain(os.path.join(b.tls_dir, "demo-admin.pem"),
                            os.path.join(b.tls_dir, "demo-admin.key"))
    return ctx


def fresh_get(b, path, admin=False, src=LEGIT, timeout=2.0):
    """GET on a fresh TLS connection from src; (status, seconds)."""
    t0 = time.monotonic()
    conn = http.client.HTTPSConnection("127.0.0.1", b.admin_port if admin else b.port,
                                       context=tls_ctx(b, admin), timeout=timeout,
                                       source_address=(src, 0))
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        return resp.status, time.monotonic() - t0
    finally:
        conn.close()


def tcp(src, port, timeout=1.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((src, 0))
    s.settimeout(timeout)
    s.connect(("127.0.0.1", port))
    return s


def closed_within(s, limit):
    """Seconds until the peer closed or reset s (None if still open after limit)."""
    t0 = time.monotonic()
    s.settimeout(limit)
    try:
        data = s.recv(1)
        return time.monotonic() - t0 if data == b"" else None
    except (ConnectionResetError, BrokenPipeError):
        return time.monotonic() - t0
    except (socket.timeout, TimeoutError):
        return None


def still_open(s):
    r, _, _ = select.select([s], [], [], 0)
    return not r


class Flood:
    """n connections from src to port, each sending one byte of TRICKLE per
    round (interval seconds); a connection that was closed or refused is
    opened again in the next round. With tls, the TLS handshake is done
    first (a refused connection fails it)."""

    def __init__(self, port, src, n, ctx=None, interval=2.0, threads=4):
        self.port, self.src, self.ctx, self.interval = port, src, ctx, interval
        self.stop_ev = threading.Event()
        self.lock = threading.Lock()
        self.attempts = self.refused = self.dropped = self.established = 0
        per = [n // threads + (1 if i < n % threads else 0) for i in range(threads)]
        self.threads = [threading.Thread(target=self._run, args=(k,), daemon=True) for k in per if k]
        self.live = [0] * len(self.threads)

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        self.stop_ev.set()
        for t in self.threads:
            t.join(30)

    def _open(self):
        with self.lock:
            self.attempts += 1
        s = None
        try:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((self.src, 0))
            s.settimeout(1.0)
            s.connect(("127.0.0.1", self.port))
            if self.ctx is not None:
                s = self.ctx.wrap_socket(s, server_hostname="127.0.0.1")
            s.setblocking(False)
            return [s, 0]
        except (OSError, ssl.SSLError):
            with self.lock:
                self.refused += 1
            if s is not None:
                s.close()
            return None

    def _run(self, n):
        slots = [None] * n
        idx = self.threads.index(threading.current_thread())
        try:
            while not self.stop_ev.is_set():
                t0 = time.monotonic()
                for i in range(n):
                    if self.stop_ev.is_set():
                        break
                    sl = slots[i]
                    if sl is None:
                        slots[i] = self._open()
                        continue
                    try:
                        sl[0].send(TRICKLE[sl[1] % len(TRICKLE):sl[1] % len(TRICKLE) + 1])
                        sl[1] += 1
                        if sl[1] == 1:
                            with self.lock:
                                self.established += 1
                    except (OSError, ssl.SSLError):
                        sl[0].close()
                        slots[i] = None
                        with self.lock:
                            self.dropped += 1
                self.live[idx] = sum(1 for x in slots if x is not None)
                self.stop_ev.wait(max(0.0, self.interval - (time.monotonic() - t0)))
        finally:
            for sl in slots:
                if sl is not None:
                    sl[0].close()

    def summary(self):
        return "%d attempts, %d refused at once, %d dropped later, %d held now" % (
            self.attempts, self.refused, self.dropped, sum(self.live))


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p * (len(xs) - 1))))]


# ---- tests ----

def t_request_deadline(b):
    """Trickling (TLS), silent (before TLS) and idle keep-alive connections
    are all closed at the deadline, not at deadline-per-byte."""
    lim = limits(b)
    assert lim["deadline"] == DEADLINE, lim
    results = {}

    def trickler():
        t0 = time.monotonic()
        s = tls_ctx(b).wrap_socket(tcp(LEGIT, b.port), server_hostname="127.0.0.1")
        s.settimeout(0.25)
        i = 0
        try:
            while time.monotonic() - t0 < DEADLINE + 5:
                try:
                    s.send(TRICKLE[i:i + 1])
                except (OSError, ssl.SSLError):
                    break
                i += 1
                try:
                    s.recv(1)
                    break       # EOF, or a reply that must not come before the head is complete
                except (socket.timeout, TimeoutError):
                    continue    # still open
                except (OSError, ssl.SSLError):
                    break
            results["trickle"] = (time.monotonic() - t0, i)
        finally:
            s.close()

    def silent():
        t0 = time.monotonic()
        s = tcp(LEGIT, b.port)
        try:
            c = closed_within(s, DEADLINE + 5)
            results["silent"] = None if c is None else time.monotonic() - t0
        finally:
            s.close()

    def idle():
        conn = http.client.HTTPSConnection("127.0.0.1", b.port, context=tls_ctx(b), timeout=10)
        try:
            conn.request("GET", "/healthz")
            resp = conn.getresponse()
            resp.read()
            assert resp.status == 200
            t0 = time.monotonic()
            c = closed_within(conn.sock, DEADLINE + 5)
            results["idle"] = None if c is None else time.monotonic() - t0
        finally:
            conn.close()

    ths = [threading.Thread(target=f) for f in (trickler, silent, idle)]
    for t in ths:
        t.start()
    for t in ths:
        t.join(DEADLINE + 10)
    print("     deadline %d s: trickling TLS connection closed after %.2f s (%d bytes sent), "
          "silent TCP after %.2f s, idle keep-alive after %.2f s" % (
              DEADLINE, results["trickle"][0], results["trickle"][1], results["silent"],
              results["idle"]))
    t, sent = results["trickle"]
    assert DEADLINE - 0.5 <= t <= DEADLINE + 1, results
    assert sent >= 3 * DEADLINE, results        # it kept sending all along
    for k in ("silent", "idle"):
        assert results[k] is not None and DEADLINE - 0.5 <= results[k] <= DEADLINE + 1, results


def t_per_address_cap(b):
    lim = limits(b)
    cap = lim["per_addr"]
    held = [tcp("127.0.0.5", b.port) for _ in range(cap)]
    extra = []
    try:
        time.sleep(0.3)
        assert all(still_open(s) for s in held), "a connection within the cap was closed"
        times = []
        for _ in range(10):
            t0 = time.monotonic()
            try:
                extra.append(tcp("127.0.0.5", b.port))
            except OSError:
                times.append(time.monotonic() - t0)    # reset before connect() returned
                continue
            c = closed_within(extra[-1], 2.0)
            times.append(None if c is None else time.monotonic() - t0)
        assert all(t is not None and t < 1.0 for t in times), times
        # other addresses keep working
        for src in (LEGIT, "127.0.0.6"):
            st, dt = fresh_get(b, "/healthz", src=src)
            assert st == 200 and dt < 2.0, (src, st, dt)
        # an established connection of the capped address keeps working
        s = tls_ctx(b).wrap_socket(held.pop(0), server_hostname="127.0.0.1")
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        s.close()
        assert data.startswith(b"HTTP/1.1 200"), data[:40]
        print("     per-address cap %d: 10 extra connections reset after at most %.3f s; "
              "other addresses and established connections served" % (cap, max(times)))
    finally:
        for s in held + extra:
            s.close()


def t_flood_one_address(b):
    lim = limits(b)
    n = min(1000, OWN_NOFILE - 300)
    assert n >= 4 * lim["per_addr"], "the test process needs more descriptors (%d)" % OWN_NOFILE
    fds0, rss0, log0, cpu0 = settle_fds(b), broker_rss_kib(b), log_size(b), broker_cpu_s(b)
    lat_h, lat_a, fds, rss = [], [], [], []
    t_start = time.monotonic()
    with Flood(b.port, "127.0.0.2", n, ctx=tls_ctx(b), interval=2.0, threads=4) as fl, \
            Flood(b.admin_port, "127.0.0.3", 100, interval=2.0, threads=1) as fa:
        time.sleep(2.5)
        t_end = time.monotonic() + 10
        while time.monotonic() < t_end:
            st, dt = fresh_get(b, "/healthz")
            assert st == 200, st
            lat_h.append(dt)
            st, dt = fresh_get(b, "/admin/v1/keys", admin=True)
            assert st == 200, st
            lat_a.append(dt)
            fds.append(broker_fds(b))
            rss.append(broker_rss_kib(b))
            time.sleep(0.3)
        fl_sum, fa_sum = fl.summary(), fa.summary()
        attempts, refused = fl.attempts, fl.refused
    grew = log_size(b) - log0
    cpu, elapsed = broker_cpu_s(b) - cpu0, time.monotonic() - t_start
    time.sleep(0.5)
    rss_after = broker_rss_kib(b)
    print("     flood: %d TLS connections from 127.0.0.2 (%s); 100 TCP to admin from 127.0.0.3 (%s)"
          % (n, fl_sum, fa_sum))
    print("     /healthz from 127.0.0.1: %d requests, p50 %.1f ms, max %.1f ms; admin: %d, "
          "p50 %.1f ms, max %.1f ms" % (len(lat_h), 1000 * statistics.median(lat_h),
                                        1000 * max(lat_h), len(lat_a),
                                        1000 * statistics.median(lat_a), 1000 * max(lat_a)))
    print("     broker descriptors %d before, at most %d during (connections held <= %d); "
          "RSS %d KiB before, at most %d during, %d after; log +%d bytes; broker CPU %.1f s "
          "in %.1f s" % (fds0, max(fds), max(fds) - fds0, rss0, max(rss), rss_after, grew, cpu,
                         elapsed))
    assert max(lat_h) < 2.0 and max(lat_a) < 2.0
    assert attempts >= n and refused >= n - lim["per_addr"], (attempts, refused)
    assert max(fds) - fds0 <= lim["per_addr"] + lim["admin_per_addr"] + 2 * 32 + 8, fds
    assert grew < 1024 * 1024, grew
    assert "Too many open files" not in b.log()


def t_full_flow_after_flood(b):
    a = Attester(b)
    tok = a.token()
    st, _, body = a.resource(tok, RES)
    assert st == 200, (st, body)
    assert len(a.decrypt(body)) == 32


def t_listener_cap_many_addresses(b):
    """Enough addresses to fill the listener cap: new workload connections
    are refused quickly; the admin listener (own budget) still answers."""
    lim = limits(b)
    per = lim["per_addr"] + 5
    naddr = min(12, (OWN_NOFILE - 200) // per)
    assert naddr * lim["per_addr"] > lim["max"], "the test process needs more descriptors"
    log0 = log_size(b)
    floods = [Flood(b.port, "127.0.1.%d" % (i + 1), per, interval=1.0, threads=1)
              for i in range(naddr)]
    lat_a, healthz = [], []
    fds = []
    try:
        for f in floods:
            f.__enter__()
        time.sleep(2.0)
        t_end = time.monotonic() + 3
        while time.monotonic() < t_end:
            st, dt = fresh_get(b, "/admin/v1/keys", admin=True)
            assert st == 200, st
            lat_a.append(dt)
            t0 = time.monotonic()
            try:
                st, dt = fresh_get(b, "/healthz")
                healthz.append(("ok", dt))
            except (OSError, ssl.SSLError, http.client.HTTPException):
                healthz.append(("refused", time.monotonic() - t0))
            fds.append(broker_fds(b))
            time.sleep(0.2)
    finally:
        for f in floods:
            f.stop()
    log = b.log()
    m = [int(x) for x in re.findall(r"workload listener: in the last second refused \d+ "
                                     r"connection\(s\) over the per-address cap of \d+ "
                                     r"\(last from [^)]*\), (\d+) at the listener cap", log)]
    print("     listener cap %d: %d addresses x %d connections; admin max %.1f ms; healthz %s; "
          "broker descriptors at most %d of %d; log +%d bytes" % (
              lim["max"], naddr, per, 1000 * max(lat_a),
              ", ".join("%s %.0f ms" % (k, 1000 * v) for k, v in healthz[:6]), max(fds),
              lim["nofile"], log_size(b) - log0))
    assert sum(m) > 0, "the listener cap was never reached"
    assert all(v < 2.0 for _, v in healthz), healthz     # refused quickly, never hanging
    assert max(lat_a) < 2.0
    assert max(fds) < lim["nofile"], fds
    assert "accept() failed" not in log and "Too many open files" not in log
    # the cap frees as soon as the flood is gone
    deadline = time.monotonic() + 3
    while True:
        try:
            st, _ = fresh_get(b, "/healthz")
            if st == 200:
                break
        except (OSError, ssl.SSLError, http.client.HTTPException):
            pass
        assert time.monotonic() < deadline, "the listener did not recover"
        time.sleep(0.1)


def t_accept_errors_back_off(b):
    """accept() fails with EMFILE: paused with backoff, one log line a second."""
    pid = b.proc.pid
    used = {int(x) for x in os.listdir("/proc/%d/fd" % pid)}
    lowest_free = next(i for i in range(100000) if i not in used)
    log0 = log_size(b)
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (lowest_free, NOFILE))
    try:
        with Flood(b.port, "127.0.0.4", 150, interval=0.5, threads=2):
            time.sleep(3.2)
    finally:
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (NOFILE, NOFILE))
    t_restore = time.monotonic()
    with open(b.log_path, "rb") as f:
        f.seek(log0)
        added = f.read().decode("utf-8", "replace")
    lines = [ln for ln in added.splitlines() if "accept() failed" in ln]
    counts = [int(x) for x in re.findall(r"accept\(\) failed (\d+) time", added)]
    print("     EMFILE for 3.2 s: %d accept() failures in %d log lines, log +%d bytes" % (
        sum(counts), len(lines), len(added)))
    assert lines, "accept() never failed: the test did not exhaust the broker's descriptors"
    assert "Too many open files" in lines[0]
    assert len(lines) <= 5, lines
    assert len(added) < 64 * 1024
    while True:
        try:
            st, dt = fresh_get(b, "/healthz")
            if st == 200:
                break
        except (OSError, ssl.SSLError, http.client.HTTPException):
            pass
        assert time.monotonic() - t_restore < 3, "the listener did not resume"
        time.sleep(0.1)
    print("     listener resumed %.2f s after the limit was restored" % (time.monotonic() - t_restore))


def t_budget_checked_at_start(b):
    """A configured cap the descriptor limit cannot hold is refused with the numbers."""
    import json
    import subprocess
    for limits_edit, want in (({"max_connections": 2000}, "limits.max_connections is 2000, but "
                               "RLIMIT_NOFILE 1024 leaves room for at most 888"),
                              ({"max_connections": 100, "max_connections_per_address": 101},
                               "limits.max_connections_per_address (101) is above")):
        cfg = json.loads(json.dumps(b.cfg))
        cfg.setdefault("limits", {}).update(limits_edit)
        path = os.path.join(b.dir, "too-big.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        p = subprocess.run([kwtest.KEYWARDEN, "--config", path, "--check-config"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=broker_rlimit)
        assert p.returncode == 2, (p.returncode, p.stderr)
        assert want in p.stderr.decode(), p.stderr
    p = subprocess.run([kwtest.KEYWARDEN, "--config", b.cfg_path, "--check-config"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=broker_rlimit)
    assert p.returncode == 0, p.stderr


KEEP = []


def t_open_connections_at_shutdown(b):
    """Leave connections open in every state; run_tests then stops the broker,
    which must exit 0 (under ASan: no leak, no use after free)."""
    KEEP.extend(tcp(LEGIT, b.port) for _ in range(10))
    KEEP.extend(tls_ctx(b).wrap_socket(tcp(LEGIT, b.port), server_hostname="127.0.0.1")
                for _ in range(5))
    s = tls_ctx(b).wrap_socket(tcp(LEGIT, b.port), server_hostname="127.0.0.1")
    s.send(TRICKLE[:30])
    KEEP.append(s)
    KEEP.extend(tcp(LEGIT, b.admin_port) for _ in range(3))
    time.sleep(0.3)
    assert all(still_open(x) for x in KEEP)


TESTS = [t_budget_checked_at_start, t_request_deadline, t_per_address_cap, t_flood_one_address, t_full_flow_after_flood,
         t_listener_cap_many_addresses, t_accept_errors_back_off, t_full_flow_after_flood,
         t_open_connections_at_shutdown]


def main():
    def edit(cfg):
        cfg.setdefault("limits", {})["request_timeout"] = DEADLINE

    b = Broker(config_edit=edit)
    b.preexec_fn = broker_rlimit
    return kwtest.run_tests(b, TESTS, setup=lambda b: b.provision(RES))


if __name__ == "__main__":
    sys.exit(main())
