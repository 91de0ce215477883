#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Integration: kwbench smoke run (docs/performance.md). 200 emulated SNP
workloads against the real broker, keywarden-hsm and SoftHSM2 over TLS on
loopback, every JWE opened with its workload's TEE key. Asserts what must
hold on any machine — every workload got its key, no errors, one TLS
connection per workload, the counters add up — and prints the CPU per flow
and the ratio to the floor so a regression is visible in the log; the
performance targets themselves are measured by scripts/perf.sh, not
asserted here (machines are noisy)."""
import json
import os
import re
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kwtest  # noqa: E402
from kwtest import Broker  # noqa: E402

KWBENCH = os.path.join(kwtest.BUILD, "tools", "kwbench")
N = 200
TDX_RES = "tdx/key/disk"


def bench(b, *args):
    cmd = [KWBENCH, "--url", b.url, "--cacert", b.ca, "--emu-dir", os.path.join(b.dir, "emu"),
           "--resource", "demo/key/disk", "--broker-pid", str(b.proc.pid), "--quiet"] + list(args)
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)


def t_smoke(b):
    p = bench(b, "--workloads", str(N), "--concurrency", "8", "--key-pool", "8", "--json",
              "--broker-config", b.cfg_path)
    assert p.returncode == 0, (p.returncode, p.stdout[-2000:], p.stderr[-2000:])
    r = json.loads(p.stdout)
    print("kwbench smoke: %.1f flows/s, broker CPU %.3f ms/flow (keywarden %.3f, helper %.3f), "
          "floor %.3f ms, ratio %.2f, attest p99 %.1f ms" % (
              r["flows_per_s"], r["cpu_ms_per_flow"]["broker_total"], r["cpu_ms_per_flow"]["keywarden"],
              r["cpu_ms_per_flow"]["keywarden_hsm"], r["floor_ms"]["total"], r["ratio"],
              r["latency"]["attest"]["p99_ms"]))
    assert r["flows_ok"] == N and r["flows_failed"] == 0 and r["flow"] == "full", r
    assert r["network_errors"] == 0 and r["local_errors"] == 0 and r["http_errors"] == {}, r
    for ep in ("auth", "attest", "resource"):
        assert r["latency"][ep]["n"] >= N, r["latency"]
    assert r["cpu_ms_per_flow"]["keywarden"] > 0 and r["cpu_ms_per_flow"]["keywarden_hsm"] > 0, r
    assert 0 < r["floor_ms"]["total"] < r["cpu_ms_per_flow"]["broker_total"] * 10, r
    # the token's part of the floor measured on the broker's own token (kwhsm-bench --floor)
    fl = r["floor_ms"]
    assert fl["token_ops"] == "hsm" and fl["hsm_release"] > 0 and fl["hsm_sign"] > 0, fl
    assert abs(fl["total"] - (fl["evidence"] + 2 * fl["p256_verify"] + fl["hsm_sign"] +
                              fl["hsm_release"])) < 1e-6, fl
    assert r["rss_kb"]["keywarden_after"] > 0 and r["rss_kb"]["keywarden_hsm_after"] > 0, r
    log = b.log()
    assert log.count("released 'demo/key/disk (v1)'") >= N, log[-2000:]
    # one TLS connection per workload: its three requests share it
    conns = 0
    b.stop()
    m = re.search(r"workload listener: (\d+) connections accepted", b.log())
    assert m, b.log()[-2000:]
    conns = int(m.group(1))
    assert conns <= N + 5, conns
    b.start()


def t_transport_only(b):
    """--transport-only: three GET /healthz per workload on one new TLS connection (the
    transport part of a flow); printed next to the full flow's figure."""
    n = 30
    p = bench(b, "--workloads", str(n), "--concurrency", "4", "--key-pool", "2", "--json",
              "--transport-only")
    assert p.returncode == 0, (p.returncode, p.stdout[-2000:], p.stderr[-2000:])
    r = json.loads(p.stdout)
    print("kwbench transport only: broker CPU %.3f ms/flow (keywarden %.3f, helper %.3f)" % (
        r["cpu_ms_per_flow"]["broker_total"], r["cpu_ms_per_flow"]["keywarden"],
        r["cpu_ms_per_flow"]["keywarden_hsm"]))
    assert r["flow"] == "transport" and r["flows_ok"] == n and r["flows_failed"] == 0, r
    assert r["latency"]["healthz"]["n"] == 3 * n, r["latency"]
    assert all(r["latency"][ep]["n"] == 0 for ep in ("auth", "attest", "resource")), r["latency"]
    assert r["http_errors"] == {} and r["network_errors"] == 0, r
    assert r["cpu_ms_per_flow"]["keywarden"] > 0, r


def t_queue_maxima(b):
    """--metrics-url: the broker's queue gauges sampled during the run, maxima reported."""
    murl = "https://127.0.0.1:%d" % b.metrics_port
    # a TLS connection of our own stays open through the run: every sample sees at least it
    held = b.ssl_context().wrap_socket(socket.create_connection(("127.0.0.1", b.port), timeout=10),
                                       server_hostname="127.0.0.1")
    try:
        p = bench(b, "--workloads", "30", "--concurrency", "8", "--key-pool", "4", "--json",
                  "--metrics-url", murl)
    finally:
        held.close()
    assert p.returncode == 0, (p.returncode, p.stdout[-2000:], p.stderr[-2000:])
    q = json.loads(p.stdout)["queue_max"]
    print("kwbench queue maxima:", q)
    assert q["samples"] >= 1 and q["failed"] == 0, q
    for g in ("appraisal_queue", "admin_queue", "appraisals_in_flight"):
        assert isinstance(q[g], int) and q[g] >= 0, q
    # ours, kwbench's 8, and closed ones the broker has not yet reaped
    assert 1 <= q["workload_connections"] <= 32, q
    # without --metrics-url there is nothing to report
    p = bench(b, "--workloads", "2", "--concurrency", "1", "--key-pool", "1", "--json")
    assert p.returncode == 0 and json.loads(p.stdout)["queue_max"] is None, p.stdout[-500:]
    # a URL that serves no metrics (the workload listener answers 404): refused before the run
    p = bench(b, "--workloads", "2", "--metrics-url", b.url)
    assert p.returncode == 2 and b"cannot read the broker's queue depths" in p.stderr, p.stderr
    p = bench(b, "--workloads", "2", "--metrics-url", "http://127.0.0.1:%d" % b.metrics_port)
    assert p.returncode == 2 and b"--metrics-url must be an https URL" in p.stderr, p.stderr


def t_tdx(b):
    """--tee tdx: emulated TD quotes (one platform, one attestation key) against the
    broker's offline collateral for that platform; the floor's evidence part is two
    P-256 verifications."""
    n = 30
    p = bench(b, "--workloads", str(n), "--concurrency", "4", "--key-pool", "4", "--json", "--tee", "tdx",
              "--emu-dir", os.path.join(b.dir, "tdx-emu"), "--resource", TDX_RES)
    assert p.returncode == 0, (p.returncode, p.stdout[-2000:], p.stderr[-2000:])
    r = json.loads(p.stdout)
    print("kwbench tdx: broker CPU %.3f ms/flow (keywarden %.3f, helper %.3f), floor %.3f ms, ratio %.2f" % (
        r["cpu_ms_per_flow"]["broker_total"], r["cpu_ms_per_flow"]["keywarden"],
        r["cpu_ms_per_flow"]["keywarden_hsm"], r["floor_ms"]["total"], r["ratio"]))
    assert r["tee"] == "tdx" and r["flows_ok"] == n and r["flows_failed"] == 0, r
    assert r["http_errors"] == {} and r["network_errors"] == 0 and r["local_errors"] == 0, r
    fl = r["floor_ms"]
    assert fl["p384_verify"] == 0 and fl["evidence"] > 0, fl
    assert abs(fl["total"] - (fl["evidence"] + 2 * fl["p256_verify"] + fl["p256_sign"] +
                              fl["rsa_oaep_encrypt"])) < 1e-6, fl
    log = b.log()
    assert log.count("released '%s (v1)'" % TDX_RES) >= n, log[-2000:]
    # SNP evidence for the TDX key is refused (the policy wants tee tdx): every flow fails with 403
    p = bench(b, "--workloads", "2", "--concurrency", "1", "--key-pool", "1", "--json",
              "--resource", TDX_RES)
    r = json.loads(p.stdout)
    assert p.returncode == 1 and r["flows_failed"] == 2 and r["http_errors"] == {"403": 2}, (p.returncode, r)
    p = bench(b, "--workloads", "2", "--tee", "sgx")
    assert p.returncode == 2 and b"--tee must be snp or tdx" in p.stderr, p.stderr


def mapped(pid):
    with open("/proc/%d/maps" % pid) as f:
        return {os.path.basename(l.split()[-1]) for l in f if "/" in l}


def t_no_libcurl_by_default(b):
    """Without tdx.collateral pcs/pccs the broker maps neither keywarden-pcs.so nor libcurl."""
    libs = mapped(b.proc.pid)
    assert any(n.startswith("libcrypto.so") for n in libs), libs
    assert not any(n.startswith(("libcurl", "keywarden-pcs")) for n in libs), sorted(libs)


def t_usage(b):
    p = subprocess.run([KWBENCH, "--workloads", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.returncode == 2 and b"--workloads must be" in p.stderr, p.stderr
    p = subprocess.run([KWBENCH, "--url", "http://x", "--emu-dir", "d", "--resource", "r",
                        "--broker-pid", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.returncode == 2 and b"https" in p.stderr, p.stderr
    # kwhsm-bench --floor: a token that is not there is a one-line error, N = 0 a usage error
    hb = os.path.join(kwtest.BUILD, "hsm", "kwhsm-bench")
    hsm = b.cfg["hsm"]
    args = ["--module", hsm["module"], "--pin-file", os.path.join(b.dir, hsm["pin_file"]),
            "--conf", os.path.join(b.dir, hsm["softhsm2_conf"])]
    p = subprocess.run([hb, "--floor", "5", "--token", "no-such-token"] + args,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.returncode == 1 and b"token label not found" in p.stderr and p.stdout == b"", p.stderr
    p = subprocess.run([hb, "--floor", "0", "--token", hsm["token"]] + args,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.returncode == 2 and b"usage" in p.stderr, p.stderr
    pin = open(os.path.join(b.dir, hsm["pin_file"])).read().strip()
    p = subprocess.run([hb, "--floor", "3", "--token", hsm["token"]] + args,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    f = json.loads(p.stdout)
    assert p.returncode == 0 and f["rounds"] == 3 and f["release_ms"] > 0 and f["sign_ms"] > 0, p
    assert pin.encode() not in p.stdout + p.stderr
    # kwbench --broker-config without an hsm section: refused before the run
    bad = os.path.join(b.dir, "nohsm.json")
    with open(bad, "w") as fh:
        json.dump({"listen": "127.0.0.1:1"}, fh)
    p = bench(b, "--workloads", "2", "--broker-config", bad)
    assert p.returncode == 2 and b"no hsm.module, hsm.token and hsm.pin_file" in p.stderr, p.stderr
    p = subprocess.run([KWBENCH, "--help"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.returncode == 0 and b"--concurrency" in p.stdout
    # a resource the workload may not have: every flow fails, exit 1, statuses counted
    p = bench(b, "--workloads", "4", "--concurrency", "2", "--key-pool", "2", "--json",
              "--resource", "demo/key/none")
    r = json.loads(p.stdout)
    assert p.returncode == 1 and r["flows_failed"] == 4 and r["http_errors"] == {"404": 4}, (p.returncode, r)


def main():
    mport = kwtest.free_port()

    def edit(cfg):
        cfg["metrics"] = {"listen": "127.0.0.1:%d" % mport}
    b = Broker(config_edit=edit)
    b.metrics_port = mport
    # the emulated TDX platform's collateral in the broker's offline directory (kwget's)
    p = subprocess.run([kwtest.KWGET, "--emulate", "tdx", "--emu-dir", os.path.join(b.dir, "tdx-emu"),
                        "--emu-collateral-out", os.path.join(b.dir, "tdx-collateral", "emu.json")],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.returncode == 0, p.stderr

    def setup(b):
        b.provision("demo/key/disk")
        with open(os.path.join(b.dir, "tdx-emu", "emu.json")) as f:
            mrtd = json.load(f)["mrtd"]
        b.provision(TDX_RES, policy="tdx", document={
            "version": 1, "allow_test_roots": True,
            "rules": {"allOf": [{"claim": "tee", "op": "equals", "value": "tdx"},
                                {"claim": "tcb_status", "op": "in", "value": ["UpToDate"]}]},
            "reference_values": {"mrtd": [{"value": mrtd, "name": "emulated TD"}]}})
    return kwtest.run_tests(b, [t_smoke, t_transport_only, t_queue_maxima, t_tdx, t_no_libcurl_by_default, t_usage], setup=setup)


if __name__ == "__main__":
    sys.exit(main())
