#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""bench.py [BUILD_DIR] [N] [THREADS] [TEE]: a load benchmark that prints numbers.

Starts a real broker (scripts/setup-local.sh layout, SoftHSM2, TLS on
loopback), registers a policy and a key, then drives N attest + release round
trips (challenge, emulated SNP evidence — or with TEE "tdx" an emulated TDX
quote appraised with offline collateral —, EAR token, DPoP proof, HSM-built
JWE) from THREADS client threads and prints throughput and latency
percentiles for /attest and /resource. The client (Python) is part of what is
measured; on a 2-core machine it competes with the broker for the CPU.
It also prints the broker process's CPU time (user + system, all threads,
from /proc) per /auth request (TLS handshake and a small request: the
baseline) and per /attest request (the same plus appraisal and the token),
measured in two phases without /resource: their difference is the CPU an
appraisal and its token cost the broker.
"""
import os
import statistics
import sys
import threading
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "tests", "integration"))
os.environ.setdefault("KW_SOURCE_ROOT", os.path.abspath(os.path.join(here, "..")))
if len(sys.argv) > 1:
    os.environ["KW_BUILD_ROOT"] = os.path.abspath(sys.argv[1])
import kwtest  # noqa: E402

N = int(sys.argv[2]) if len(sys.argv) > 2 else 200
THREADS = int(sys.argv[3]) if len(sys.argv) > 3 else 2
TEE = sys.argv[4] if len(sys.argv) > 4 else "snp"


def broker_cpu(b):
    """User + system CPU seconds of the broker process (all its threads)."""
    with open("/proc/%d/stat" % b.proc.pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_phase(b, attesters, n, what):
    """Broker CPU seconds per request over n requests (auth, or attest with its own auth)."""
    per = max(1, n // len(attesters))

    def run(a):
        for _ in range(per):
            if what == "auth":
                a.nonce()
            else:
                body = a.attest_body()
                st, _, r = b.request("POST", "/kbs/v0/attest", body)
                assert st == 200, (st, r)
    ts = [threading.Thread(target=run, args=(a,)) for a in attesters]
    c0 = broker_cpu(b)
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return (broker_cpu(b) - c0) / (per * len(attesters))


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100.0 * len(xs)))] * 1000


def main():
    b = kwtest.Broker()
    lat_a, lat_r, errors = [], [], []
    lock = threading.Lock()
    doc = None
    if TEE == "tdx":
        plat = kwtest.TdxPlatform(os.path.join(b.dir, "tdx-emu"))
        with open(os.path.join(b.dir, "tdx-collateral", "bench.json"), "w") as f:
            f.write(plat.collateral(int(time.time())))
        doc = {"version": 1, "allow_test_roots": True,
               "rules": {"claim": "tcb_status", "op": "in", "value": ["UpToDate"]},
               "reference_values": {"mrtd": [{"value": plat.mrtd.hex()}]}}
    try:
        b.start()
        b.provision("bench/key/k", document=doc)
        attesters = [kwtest.Attester(b, tee=TEE) for _ in range(THREADS)]
        # broker CPU: a request without appraisal, then attests (each with its own /auth)
        cpu_auth = cpu_phase(b, attesters, N, "auth")
        cpu_attest = cpu_phase(b, attesters, N, "attest") - cpu_auth
        per = N // THREADS

        def run(a):
            for _ in range(per):
                t0 = time.perf_counter()
                st, _, body = a.attest()
                t1 = time.perf_counter()
                if st != 200:
                    errors.append(st)
                    continue
                st, _, _ = a.resource(body["token"], "bench/key/k")
                t2 = time.perf_counter()
                with lock:
                    lat_a.append(t1 - t0)
                    if st == 200:
                        lat_r.append(t2 - t1)
                    else:
                        errors.append(st)

        t0 = time.perf_counter()
        ts = [threading.Thread(target=run, args=(a,)) for a in attesters]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        wall = time.perf_counter() - t0
    finally:
        rejected = [l for l in b.log().splitlines() if "rejected" in l or "denied" in l]
        b.cleanup()
    for l in rejected[:5]:
        print("  broker: " + l.split(" ", 4)[-1])
    done = len(lat_r)
    print("keywarden bench (%s): %d round trips (attest + release), %d client threads, %.1f s" %
          (TEE, done, THREADS, wall))
    print("  broker CPU ms      per /auth %.2f, per /attest %.2f: appraisal + token %.2f" %
          (cpu_auth * 1000, cpu_attest * 1000, (cpu_attest - cpu_auth) * 1000))
    print("  round trips/s      %.1f" % (done / wall))
    if lat_a:
        print("  /attest  ms  p50 %.1f  p95 %.1f  mean %.1f" % (pct(lat_a, 50), pct(lat_a, 95), statistics.mean(lat_a) * 1000))
    if lat_r:
        print("  /resource ms p50 %.1f  p95 %.1f  mean %.1f" % (pct(lat_r, 50), pct(lat_r, 95), statistics.mean(lat_r) * 1000))
    print("  errors             %d %s" % (len(errors), sorted(set(errors))))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
