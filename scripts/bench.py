#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""bench.py [BUILD_DIR] [N] [THREADS]: a load benchmark that prints numbers.

Starts a real broker (scripts/setup-local.sh layout, SoftHSM2, TLS on
loopback), registers a policy and a key, then drives N attest + release round
trips (challenge, emulated SNP evidence, EAR token, DPoP proof, HSM-built
JWE) from THREADS client threads and prints throughput and latency
percentiles for /attest and /resource. The client (Python) is part of what is
measured; on a 2-core machine it competes with the broker for the CPU.
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


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100.0 * len(xs)))] * 1000


def main():
    b = kwtest.Broker()
    lat_a, lat_r, errors = [], [], []
    lock = threading.Lock()
    try:
        b.start()
        b.provision("bench/key/k")
        attesters = [kwtest.Attester(b) for _ in range(THREADS)]
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
    print("keywarden bench: %d round trips (attest + release), %d client threads, %.1f s" % (done, THREADS, wall))
    print("  round trips/s      %.1f" % (done / wall))
    if lat_a:
        print("  /attest  ms  p50 %.1f  p95 %.1f  mean %.1f" % (pct(lat_a, 50), pct(lat_a, 95), statistics.mean(lat_a) * 1000))
    if lat_r:
        print("  /resource ms p50 %.1f  p95 %.1f  mean %.1f" % (pct(lat_r, 50), pct(lat_r, 95), statistics.mean(lat_r) * 1000))
    print("  errors             %d %s" % (len(errors), sorted(set(errors))))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
