#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Measure keywarden with tools/kwbench (docs/performance.md).

Starts a real broker (SoftHSM2, keywarden-hsm, TLS on loopback) the way the
integration tests do, from a release build without test hooks, and runs:

  1. closed loop (--concurrency 8): broker CPU per flow (keywarden and its
     helper), the cryptographic floor measured in the same run, the ratio,
     and the broker-bound rate;
  2. open loop at 25..125 % of that rate: throughput and latency percentiles
     per offered load (the p99 target is read at 50 %);
  3. a boot storm: --workloads N arriving within --ramp seconds;
  4. with --long N: N flows closed loop, RSS sampled before and after.

Writes every kwbench result to OUT/perf.json and draws OUT/load.png
(throughput and p99 against offered load) and OUT/cpu.png (CPU per flow
against the floor) with python3-matplotlib. Targets are reported, never
asserted: the machine's noise is part of the result.

usage: scripts/perf.py [--build DIR] [--out DIR] [--flows N] [--storm N]
                       [--ramp S] [--long N] [--no-plots]
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(SRC, "build-perf"))
    ap.add_argument("--out", default=os.path.join(SRC, "docs", "perf"))
    ap.add_argument("--flows", type=int, default=2000)
    ap.add_argument("--storm", type=int, default=10000)
    ap.add_argument("--ramp", type=float, default=10.0)
    ap.add_argument("--long", type=int, default=0)
    ap.add_argument("--chunk", type=int, default=10000,
                    help="--long runs in chunks of this many flows, RSS sampled after each")
    ap.add_argument("--only-long", action="store_true",
                    help="skip the load curve and the storm; run --long only (no plots)")
    ap.add_argument("--no-plots", action="store_true")
    a = ap.parse_args()
    os.environ["KW_BUILD_ROOT"] = os.path.abspath(a.build)
    sys.path.insert(0, os.path.join(SRC, "tests", "integration"))
    import kwtest

    kwbench = os.path.join(a.build, "tools", "kwbench")
    mport = kwtest.free_port()

    def edit(cfg):
        # the metrics listener: kwbench samples the queue depths of the boot storm from it
        cfg["metrics"] = {"listen": "127.0.0.1:%d" % mport}
    b = kwtest.Broker(config_edit=edit)
    # the emulated TDX platform's collateral (kwget's) for the TDX closed loop
    p = subprocess.run([kwtest.KWGET, "--emulate", "tdx", "--emu-dir", os.path.join(b.dir, "tdx-emu"),
                        "--emu-collateral-out", os.path.join(b.dir, "tdx-collateral", "emu.json")],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0:
        raise RuntimeError("kwget --emu-collateral-out: %s" % p.stderr.decode())
    results = {"machine": machine(), "runs": []}
    b.start()
    try:
        b.provision("demo/key/disk")
        with open(os.path.join(b.dir, "tdx-emu", "emu.json")) as f:
            mrtd = json.load(f)["mrtd"]
        b.provision("tdx/key/disk", policy="tdx", document={
            "version": 1, "allow_test_roots": True,
            "rules": {"allOf": [{"claim": "tee", "op": "equals", "value": "tdx"}]},
            "reference_values": {"mrtd": [{"value": mrtd, "name": "emulated TD"}]}})
        time.sleep(1)
        results["idle_rss_kb"] = idle_rss(b.proc.pid)

        def bench(label, *args):
            cmd = [kwbench, "--url", b.url, "--cacert", b.ca, "--emu-dir", os.path.join(b.dir, "emu"),
                   "--resource", "demo/key/disk", "--broker-pid", str(b.proc.pid), "--json", "--quiet",
                   "--key-pool", "32", "--broker-config", b.cfg_path] + [str(x) for x in args]
            p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=7200)
            if p.returncode == 2:
                raise RuntimeError("kwbench: %s" % p.stderr.decode())
            r = json.loads(p.stdout)
            r["label"] = label
            results["runs"].append(r)
            print("%-22s %7.1f flows/s  CPU %.3f ms/flow (floor %.3f, ratio %.2f)  attest p99 %6.1f ms  "
                  "failed %d, retries %d" % (label, r["flows_per_s"], r["cpu_ms_per_flow"]["broker_total"],
                                             r["floor_ms"]["total"], r["ratio"], r["latency"]["attest"]["p99_ms"],
                                             r["flows_failed"], r["retries"]), flush=True)
            return r

        if not a.only_long:
            closed = bench("closed-8", "--workloads", a.flows, "--concurrency", 8)
            peak = closed["flows_per_s"]
            bench("tdx-closed-8", "--workloads", a.flows, "--concurrency", 8, "--tee", "tdx",
                  "--emu-dir", os.path.join(b.dir, "tdx-emu"), "--resource", "tdx/key/disk")
            # the transport part of a flow: the same connections and requests, no attestation
            tr = bench("transport-8", "--workloads", a.flows, "--concurrency", 8, "--transport-only")
            results["transport_ms_per_flow"] = tr["cpu_ms_per_flow"]["broker_total"]
            print("crypto floor + transport %.3f ms; closed loop / (floor + transport) = %.2f" % (
                closed["floor_ms"]["total"] + tr["cpu_ms_per_flow"]["broker_total"],
                closed["cpu_ms_per_flow"]["broker_total"] /
                (closed["floor_ms"]["total"] + tr["cpu_ms_per_flow"]["broker_total"])), flush=True)
            for frac in (0.25, 0.5, 0.75, 1.0, 1.25):
                rate = max(1.0, peak * frac)
                n = max(100, int(rate * 15))
                bench("open-%d%%" % int(frac * 100), "--workloads", n, "--concurrency", 256, "--rate",
                      "%.2f" % rate)
            storm = bench("storm", "--workloads", a.storm, "--ramp", a.ramp, "--concurrency", 256,
                          "--metrics-url", "https://127.0.0.1:%d" % mport)
            print("boot storm: last key after %.1f s; queue maxima %s" % (
                storm["time_to_last_key_s"], storm["queue_max"]), flush=True)
        if a.long:
            # RSS after every chunk of closed-loop flows: flat means no growth after the
            # first chunk (warm-up: caches, malloc arenas, SQLite's page cache).
            series = [{"flows": 0, "rss_kb": idle_rss(b.proc.pid)}]
            done = 0
            while done < a.long:
                n = min(a.chunk, a.long - done)
                bench("long-%d" % (done + n), "--workloads", n, "--concurrency", 8)
                done += n
                series.append({"flows": done, "rss_kb": idle_rss(b.proc.pid)})
                print("after %d flows: RSS (kB) %s" % (done, series[-1]["rss_kb"]), flush=True)
            results["long_rss"] = series
            if len(series) > 2:
                for proc in series[1]["rss_kb"]:
                    base = series[1]["rss_kb"][proc]
                    vals = [s["rss_kb"][proc] for s in series[1:]]
                    dev = max(abs(v - base) for v in vals) * 100.0 / base
                    results.setdefault("long_rss_max_dev_pct", {})[proc] = round(dev, 2)
                print("RSS deviation after the first chunk (%%): %s" % results["long_rss_max_dev_pct"])
        results["idle_rss_after_kb"] = idle_rss(b.proc.pid)
    finally:
        b.stop()
        b.cleanup()
    os.makedirs(a.out, exist_ok=True)
    if a.only_long:
        a.no_plots = True
    with open(os.path.join(a.out, "perf-long.json" if a.only_long else "perf.json"), "w") as f:
        json.dump(results, f, indent=2, sort_keys=True)
    print("idle RSS (kB): before %s, after %s" % (results["idle_rss_kb"], results["idle_rss_after_kb"]))
    if not a.no_plots:
        plots(results, a.out)
    return 0


def machine():
    out = {"nproc": os.cpu_count()}
    try:
        out["openssl"] = subprocess.run(["openssl", "version"], stdout=subprocess.PIPE).stdout.decode().strip()
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    out["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return out


def idle_rss(broker_pid):
    def rss(pid):
        try:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            return None
    helper = None
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    st = f.read()
                comm = st[st.index("(") + 1:st.rindex(")")]
                ppid = int(st[st.rindex(")") + 2:].split()[1])
                if ppid == broker_pid and comm == "keywarden-hsm":
                    helper = int(d)
            except (OSError, ValueError):
                pass
    return {"keywarden": rss(broker_pid), "keywarden_hsm": rss(helper) if helper else None}


def plots(results, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = [r for r in results["runs"] if r["label"].startswith("open-")]
    x = [r["offered_rate"] for r in runs]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(x, [r["flows_per_s"] for r in runs], "o-", label="completed flows/s")
    ax.plot(x, x, ":", color="grey", label="offered")
    ax.set_xlabel("offered load (workloads/s)")
    ax.set_ylabel("flows/s")
    ax2 = ax.twinx()
    ax2.plot(x, [r["latency"]["attest"]["p99_ms"] for r in runs], "s--", color="C3", label="attest p99")
    ax2.plot(x, [r["latency"]["resource"]["p99_ms"] for r in runs], "^--", color="C2", label="resource p99")
    ax2.set_ylabel("p99 latency (ms)")
    ax2.set_yscale("log")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="upper left", fontsize=8)
    ax.set_title("keywarden: throughput and p99 against offered load")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "load.png"), dpi=100)
    plt.close(fig)

    runs = [r for r in results["runs"] if not r["label"].startswith(("storm", "transport"))]
    fig, ax = plt.subplots(figsize=(7, 4))
    labels = [r["label"] for r in runs]
    kw = [r["cpu_ms_per_flow"]["keywarden"] for r in runs]
    hsm = [r["cpu_ms_per_flow"]["keywarden_hsm"] for r in runs]
    ax.bar(labels, kw, label="keywarden")
    ax.bar(labels, hsm, bottom=kw, label="keywarden-hsm")
    ax.plot(labels, [r["floor_ms"]["total"] for r in runs], "k_", markersize=30, label="cryptographic floor")
    ax.plot(labels, [1.3 * r["floor_ms"]["total"] for r in runs], "r_", markersize=30, label="1.3 x floor")
    if "transport_ms_per_flow" in results:
        t = results["transport_ms_per_flow"]
        ax.plot(labels, [r["floor_ms"]["total"] + t for r in runs], "b_", markersize=30,
                label="floor + transport (TLS, HTTP: %.2f ms)" % t)
    ax.set_ylabel("CPU ms per full flow")
    ax.legend(fontsize=8)
    ax.set_title("keywarden: broker CPU per flow against the floor")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "cpu.png"), dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
