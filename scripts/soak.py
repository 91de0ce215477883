#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""soak.py: legitimate workloads under hostile load, for a long time.

Starts a real broker (scripts/setup-local.sh layout, SoftHSM2, TLS on
loopback) and runs, for the given number of minutes:

  legit      2 workloads doing auth -> attest -> resource in a loop, each
             key decrypted (python3-jwcrypto) and compared with the first;
  slowloris  up to 600 TLS connections from 127.0.0.2 trickling one byte of
             a request head every 2 s (reopened when the broker closes them);
  garbage    /auth + /attest with garbage evidence from 127.0.0.3;
  jti        one token holder sending fresh DPoP proofs to paths that do not
             exist and to its own key beyond the per-key quota (127.0.0.4).

Every 10 s it samples the RSS of keywarden and keywarden-hsm, the broker
log size and the counters. At the end it prints the figures (and --json
FILE writes them): legitimate flows ok/failed with latency percentiles, the
RSS of both processes after the warm-up (default 15 minutes: one module
recycle of the helper) and at the end (growth in %), and what each flood
achieved. Exit status 0 when no legitimate flow failed and
both processes grew by less than 5 % after the warm-up.

Not part of CI (it runs for 30 minutes by default): scripts/soak.sh.
"""
import argparse
import http.client
import json
import os
import socket
import ssl
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
import kwtest  # noqa: E402
from kwtest import Attester, Broker, b64u  # noqa: E402

RES = "soak/key/disk"


def rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def helper_pid(broker_pid):
    """The keywarden-hsm child of the broker (spawn mode), or None."""
    try:
        with open("/proc/%d/task/%d/children" % (broker_pid, broker_pid)) as f:
            kids = [int(x) for x in f.read().split()]
    except OSError:
        return None
    for k in kids:
        try:
            with open("/proc/%d/comm" % k) as f:
                if f.read().strip().startswith("keywarden-hsm"):
                    return k
        except OSError:
            continue
    return None


def pct(values, p):
    if not values:
        return None
    v = sorted(values)
    return v[min(len(v) - 1, int(len(v) * p / 100.0))]


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.c = {}
        self.lat = []
        self.errors = []

    def add(self, k, n=1):
        with self.lock:
            self.c[k] = self.c.get(k, 0) + n


def conn(b, source, timeout=10):
    ctx = ssl.create_default_context(cafile=b.ca)
    return http.client.HTTPSConnection("127.0.0.1", b.port, context=ctx, timeout=timeout,
                                       source_address=(source, 0))


def post(b, source, path, body):
    c = conn(b, source)
    try:
        c.request("POST", path, body=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
        r = c.getresponse()
        data = r.read()
        return r.status, data
    finally:
        c.close()


def legit(b, st, stop, expect):
    a = Attester(b)
    while not stop.is_set():
        t0 = time.time()
        try:
            tok = a.token()
            code, ctype, jwe_c = a.resource(tok, RES)
            if code != 200:
                raise AssertionError("resource %d %r" % (code, jwe_c[:200]))
            key = a.decrypt(jwe_c)
            if key != expect:
                raise AssertionError("released key differs")
            with st.lock:
                st.lat.append(time.time() - t0)
            st.add("legit_ok")
        except Exception as e:      # every failure of a legitimate flow is a finding
            st.add("legit_failed")
            with st.lock:
                if len(st.errors) < 20:
                    st.errors.append("%.0f %s" % (time.time(), e))
        time.sleep(0.2)


def slowloris(b, st, stop, n=600):
    socks = []
    hdr = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-a: " + b"a" * 4096
    ctx = ssl.create_default_context(cafile=b.ca)
    while not stop.is_set():
        while len(socks) < n and not stop.is_set():
            try:
                raw = socket.create_connection(("127.0.0.1", b.port), timeout=2, source_address=("127.0.0.2", 0))
                s = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
                s.settimeout(0.5)
                socks.append([s, 0])
                st.add("slow_opened")
            except OSError:
                st.add("slow_refused")
                break
        alive = []
        for s, i in socks:
            try:
                s.send(hdr[i:i + 1])
                alive.append([s, i + 1])
            except OSError:
                st.add("slow_closed_by_broker")
                s.close()
        socks = alive
        stop.wait(2)
    for s, _ in socks:
        s.close()


def garbage(b, st, stop):
    """Valid-looking requests (fresh challenge, well-formed runtime-data and keys)
    whose evidence does not verify: random report bytes, or a genuine emulated
    report bound to other runtime-data. Each must cost nothing but a 401."""
    a = Attester(b)
    n = 0
    while not stop.is_set():
        n += 1
        try:
            code, body = post(b, "127.0.0.3", "/kbs/v0/auth", {"version": "0.1.0", "tee": "snp", "extra-params": {}})
            if code != 200:
                st.add("garbage_auth_%d" % code)
                continue
            nonce = json.loads(body)["nonce"]
            if n % 2:
                ev = a.attest_body(nonce=nonce, report_data=os.urandom(64))
            else:
                ev = a.attest_body(nonce=nonce)
                ev["tee-evidence"]["report"] = b64u(os.urandom(1184))
            code, _ = post(b, "127.0.0.3", "/kbs/v0/attest", ev)
            st.add("garbage_attest_%d" % code)
        except OSError:
            st.add("garbage_oserror")
            stop.wait(0.1)


def garbage_unparsable(b, st, stop):
    while not stop.is_set():
        try:
            code, body = post(b, "127.0.0.3", "/kbs/v0/auth", {"version": "0.1.0", "tee": "snp", "extra-params": {}})
            if code != 200:
                st.add("garbage_auth_%d" % code)
                continue
            nonce = json.loads(body)["nonce"]
            ev = {"runtime-data": {"nonce": nonce, "tee-pubkey": {"kty": "RSA", "n": "AQAB", "e": "AQAB"}},
                  "tee-evidence": {"report": b64u(os.urandom(1184)), "vcek": b64u(os.urandom(64))}}
            code, _ = post(b, "127.0.0.3", "/kbs/v0/attest", ev)
            st.add("garbage_attest_%d" % code)
        except OSError:
            st.add("garbage_oserror")
            stop.wait(0.1)


def jti_flood(b, st, stop):
    a = Attester(b)
    tok = None
    issued = 0
    while not stop.is_set():
        try:
            if tok is None or time.time() - issued > 200:
                tok = a.token()
                issued = time.time()
            path = RES if (st.c.get("jti_sent", 0) % 2) else "soak/key/nothing-%d" % st.c.get("jti_sent", 0)
            code, _, _ = a.resource(tok, path)
            st.add("jti_sent")
            st.add("jti_%d" % code)
        except Exception:
            st.add("jti_error")
            stop.wait(0.1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=30.0)
    # The helper's RSS grows until its first module recycle (SoftHSM 2.6 frees destroyed
    # session objects only at C_Finalize; keywarden-hsm recycles every 5,000 releases,
    # about 13 minutes at this load) and is flat afterwards: the baseline follows that.
    ap.add_argument("--warmup", type=float, default=900.0, help="seconds before the RSS baseline")
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args()

    b = Broker()
    b.start()
    b.provision(RES)
    a0 = Attester(b)
    expect = a0.decrypt(a0.resource(a0.token(), RES)[2])
    st = Stats()
    stop = threading.Event()
    threads = [threading.Thread(target=legit, args=(b, st, stop, expect)) for _ in range(2)]
    threads += [threading.Thread(target=f, args=(b, st, stop)) for f in (slowloris, garbage, jti_flood)]
    for t in threads:
        t.daemon = True
        t.start()
    t_start = time.time()
    end = t_start + args.minutes * 60
    samples = []
    hpid = helper_pid(b.proc.pid)
    base = None
    try:
        while time.time() < end:
            time.sleep(10)
            if b.proc.poll() is not None:
                raise SystemExit("keywarden exited with %s" % b.proc.returncode)
            hp = helper_pid(b.proc.pid) or hpid
            s = {"t": round(time.time() - t_start), "rss_broker_kb": rss_kb(b.proc.pid),
                 "rss_helper_kb": rss_kb(hp) if hp else None, "helper_pid": hp,
                 "log_bytes": os.path.getsize(b.log_path), "counts": dict(st.c)}
            samples.append(s)
            if base is None and s["t"] >= args.warmup:
                base = s
            print("t=%5ds broker %s kB helper %s kB log %d B legit ok %d failed %d" % (
                s["t"], s["rss_broker_kb"], s["rss_helper_kb"], s["log_bytes"],
                st.c.get("legit_ok", 0), st.c.get("legit_failed", 0)), flush=True)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=15)
    last = samples[-1] if samples else None
    base = base or (samples[0] if samples else None)

    def growth(k):
        if not base or not last or not base[k] or not last[k]:
            return None
        return round(100.0 * (last[k] - base[k]) / base[k], 2)

    out = {
        "minutes": args.minutes,
        "legit_ok": st.c.get("legit_ok", 0), "legit_failed": st.c.get("legit_failed", 0),
        "legit_latency_ms": {p: round(1000 * pct(st.lat, p), 1) if st.lat else None for p in (50, 95, 99)},
        "rss_broker_kb": {"after_warmup": base and base["rss_broker_kb"], "end": last and last["rss_broker_kb"],
                          "growth_pct": growth("rss_broker_kb")},
        "rss_helper_kb": {"after_warmup": base and base["rss_helper_kb"], "end": last and last["rss_helper_kb"],
                          "growth_pct": growth("rss_helper_kb")},
        "log_bytes": last and last["log_bytes"],
        "counts": dict(st.c), "errors": st.errors, "samples": samples,
    }
    rc = b.stop()
    b.cleanup()
    print(json.dumps({k: v for k, v in out.items() if k != "samples"}, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
    ok = (out["legit_failed"] == 0 and out["legit_ok"] > 0 and rc == 0 and
          all(g is not None and g < 5.0 for g in (out["rss_broker_kb"]["growth_pct"],
                                                  out["rss_helper_kb"]["growth_pct"])))
    print("soak: %s" % ("PASS" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
