#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Release throughput with and without audit before release (docs/audit.md).

Runs tools/kwbench closed loop (--concurrency 16 by default, --no-decrypt)
against a fresh broker per run, with `audit.enabled` false and true
alternately (the order swaps every round, so slow drifts of a shared
machine's load hit both modes alike), and prints per run and per mode the
flows per second, the broker's CPU per flow (keywarden and keywarden-hsm)
and the /resource latency, with the median and the spread (min..max) of
each mode. Every kwbench flow is /auth, /attest and /resource: one release.
Nothing is asserted: the machine's noise is part of the result.

usage: scripts/perf_audit.py [--build DIR] [--rounds N] [--flows N]
                             [--concurrency N] [--json FILE]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(SRC, "build-perf"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--flows", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    os.environ["KW_BUILD_ROOT"] = os.path.abspath(a.build)
    sys.path.insert(0, os.path.join(SRC, "tests", "integration"))
    import kwtest

    kwbench = os.path.join(a.build, "tools", "kwbench")
    runs = []
    for rnd in range(a.rounds):
        order = (False, True) if rnd % 2 == 0 else (True, False)
        for enabled in order:
            b = kwtest.Broker(config_edit=lambda c, e=enabled: c.setdefault("audit", {}).update({"enabled": e}))
            b.start()
            try:
                b.provision("demo/key/disk")
                time.sleep(1)
                load = os.getloadavg()[0]
                cmd = [kwbench, "--url", b.url, "--cacert", b.ca, "--emu-dir", os.path.join(b.dir, "emu"),
                       "--resource", "demo/key/disk", "--broker-pid", str(b.proc.pid), "--json", "--quiet",
                       "--key-pool", "32", "--no-decrypt", "--workloads", str(a.flows),
                       "--concurrency", str(a.concurrency)]
                p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=3600)
                if p.returncode == 2:
                    raise RuntimeError("kwbench: %s" % p.stderr.decode())
                r = json.loads(p.stdout)
            finally:
                b.stop()
                b.cleanup()
            run = {"round": rnd, "audit": enabled, "flows_per_s": r["flows_per_s"],
                   "cpu_ms_per_flow": r["cpu_ms_per_flow"]["broker_total"],
                   "resource_p50_ms": r["latency"]["resource"]["p50_ms"],
                   "resource_p95_ms": r["latency"]["resource"]["p95_ms"],
                   "flows_failed": r["flows_failed"], "load_before": load, "kwbench": r}
            runs.append(run)
            print("round %d audit=%-5s %7.1f flows/s  broker CPU %.3f ms/flow  /resource p50 %.1f p95 %.1f ms"
                  "  failed %d  load %.1f" % (rnd, str(enabled).lower(), run["flows_per_s"],
                                              run["cpu_ms_per_flow"], run["resource_p50_ms"],
                                              run["resource_p95_ms"], run["flows_failed"], load), flush=True)
    summary = {}
    for enabled in (False, True):
        rs = [r for r in runs if r["audit"] == enabled]
        fps = [r["flows_per_s"] for r in rs]
        cpu = [r["cpu_ms_per_flow"] for r in rs]
        summary[str(enabled).lower()] = {
            "flows_per_s": {"median": statistics.median(fps), "min": min(fps), "max": max(fps)},
            "cpu_ms_per_flow": {"median": statistics.median(cpu), "min": min(cpu), "max": max(cpu)},
            "resource_p50_ms_median": statistics.median(r["resource_p50_ms"] for r in rs),
            "resource_p95_ms_median": statistics.median(r["resource_p95_ms"] for r in rs),
        }
    for k, s in summary.items():
        print("audit=%-5s flows/s median %.1f (%.1f..%.1f)  CPU ms/flow median %.3f (%.3f..%.3f)"
              "  /resource p50 %.1f p95 %.1f ms" % (
                  k, s["flows_per_s"]["median"], s["flows_per_s"]["min"], s["flows_per_s"]["max"],
                  s["cpu_ms_per_flow"]["median"], s["cpu_ms_per_flow"]["min"], s["cpu_ms_per_flow"]["max"],
                  s["resource_p50_ms_median"], s["resource_p95_ms_median"]))
    off, on = summary["false"]["flows_per_s"]["median"], summary["true"]["flows_per_s"]["median"]
    print("with audit: %.1f %% of the throughput without (medians)" % (100.0 * on / off))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"runs": runs, "summary": summary, "flows": a.flows, "concurrency": a.concurrency},
                      f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
