#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Integration: Prometheus metrics, /healthz and /readyz on a real broker.

/metrics is scraped from the metrics listener (metrics.listen, TLS with the
workload certificate) and from the admin listener (metrics.on_admin), during
and after workload flows made by kwtest's Attester, and parsed with
python3-prometheus-client's parser (independent of the broker's formatter).
Counters must move by exactly what the flows did; histograms must be
cumulative with _count equal to the requests counted; nothing secret may
appear. /readyz must turn 503 (problem JSON naming the HSM) while the HSM
helper is stopped or killed, and 200 again once it answers.
"""
import http.client
import os
import signal
import ssl
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kwtest import Attester, Broker, assert_problem, free_port, policy_for, run_tests  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402
from test_hsm_faults import helper_pid, helper_pids  # noqa: E402

CTYPE = "text/plain; version=0.0.4; charset=utf-8"
MPORT = None          # the metrics listener's port (edit)
OK_RES = "demo/key/metrics-ok"
DENY_RES = "demo/key/metrics-deny"
CANARIES = []          # strings that must never appear in a scrape


def edit(cfg):
    global MPORT
    taken = int(cfg.get("listen", "127.0.0.1:8443").rsplit(":", 1)[1])
    MPORT = free_port()
    while MPORT in (taken, taken + 1):    # the workload and admin listeners
        MPORT = free_port()
    cfg["metrics"] = {"listen": "127.0.0.1:%d" % MPORT, "on_admin": True}
    # SNP only: setup-local's offline TDX collateral directory is empty, which
    # keeps /readyz at 503 (the rule: tests/unit/broker/test_metrics.c)
    cfg.pop("tdx", None)


def mget(b, path, port=None):
    """GET path on the metrics listener (TLS, the workload CA)."""
    conn = http.client.HTTPSConnection("127.0.0.1", port or MPORT, context=b.ssl_context(), timeout=30)
    conn.request("GET", path)
    resp = conn.getresponse()
    data = resp.read()
    ctype = resp.getheader("Content-Type", "")
    conn.close()
    return resp.status, ctype, data


def scrape(b):
    """{(name, frozenset(labels)): value} of one scrape, parsed by prometheus_client."""
    st, ctype, data = mget(b, "/metrics")
    assert st == 200, (st, data[:300])
    assert ctype == CTYPE, ctype
    text = data.decode("utf-8")
    for c in CANARIES:
        assert c not in text, "a secret-bearing value appears in /metrics"
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            key = (s.name, frozenset(s.labels.items()))
            assert key not in out, "duplicate series %r" % (key,)
            out[key] = s.value
    return out, text


def val(m, name, **labels):
    return m.get((name, frozenset(labels.items())), 0.0)


def total(m, name, **labels):
    """Sum over the series of name whose labels include labels."""
    want = set(labels.items())
    return sum(v for (n, ls), v in m.items() if n == name and want <= set(ls))


def delta(before, after, name, **labels):
    return val(after, name, **labels) - val(before, name, **labels)


def check_histograms(m, prefix, label):
    """Every series of a histogram: cumulative buckets, +Inf == _count."""
    series = {}
    for (n, ls), v in m.items():
        if n == prefix + "_bucket":
            d = dict(ls)
            le = d.pop("le")
            series.setdefault(d[label], []).append((float("inf") if le == "+Inf" else float(le), v))
    assert series, "no %s series" % prefix
    for key, buckets in series.items():
        buckets.sort()
        counts = [v for _, v in buckets]
        assert counts == sorted(counts), (prefix, key, buckets)
        assert buckets[-1][0] == float("inf")
        assert counts[-1] == val(m, prefix + "_count", **{label: key}), (prefix, key)
    return series


def setup(b):
    b.provision(OK_RES)
    b.provision(DENY_RES, policy="nomatch", document=policy_for("ab" * 48))
    with open(os.path.join(b.dir, "hsm.pin")) as f:
        CANARIES.append(f.read().strip())


def test_flow_counters(b):
    a = Attester(b)
    m0, _ = scrape(b)
    nonce = a.nonce()
    CANARIES.append(nonce)
    st, _, body = b.request("POST", "/kbs/v0/attest", a.attest_body(nonce=nonce))
    assert st == 200, body
    token = body["token"]
    a.dpop_nonce = b.last_headers.get("dpop-nonce")
    CANARIES.append(token)
    CANARIES.append(token.split(".")[2])     # the signature alone
    st, _, jwe = a.resource(token, OK_RES)
    assert st == 200, jwe
    CANARIES.append(jwe.decode().split(".")[3])
    st, ct, body = a.resource(token, DENY_RES)
    assert_problem(st, ct, body, 403, "denied")
    st, ct, body = a.resource(None, OK_RES)          # no token at all
    assert_problem(st, ct, body, 401)
    # evidence over other report data: appraised and rejected
    st, ct, body = b.request("POST", "/kbs/v0/attest", a.attest_body(report_data=bytes(64)))
    assert_problem(st, ct, body, 401, "attestation-failed")
    m1, text = scrape(b)

    ep = "/kbs/v0/auth"
    assert delta(m0, m1, "keywarden_requests_total", endpoint=ep, status="200") == 2
    assert delta(m0, m1, "keywarden_requests_total", endpoint="/kbs/v0/attest", status="200") == 1
    assert delta(m0, m1, "keywarden_requests_total", endpoint="/kbs/v0/attest", status="401") == 1
    res = "/kbs/v0/resource/{repository}/{type}/{tag}"
    for status, n in (("200", 1), ("403", 1), ("401", 1)):
        assert delta(m0, m1, "keywarden_requests_total", endpoint=res, status=status) == n, status
    assert delta(m0, m1, "keywarden_appraisals_total", tee="snp", verdict="verified") == 1
    assert delta(m0, m1, "keywarden_appraisals_total", tee="snp", verdict="rejected") == 1
    assert delta(m0, m1, "keywarden_releases_total", repository="demo") == 1
    assert delta(m0, m1, "keywarden_denials_total", repository="demo", reason="policy") == 1
    assert delta(m0, m1, "keywarden_denials_total", repository="demo", reason="token") == 1
    assert delta(m0, m1, "keywarden_hsm_calls_total", op="release", result="ok") == 1
    assert delta(m0, m1, "keywarden_hsm_calls_total", op="sign", result="ok") == 1
    assert delta(m0, m1, "keywarden_hsm_call_duration_seconds_count", op="release") == 1
    # the raw path and key names never become labels (metrics.key_labels is off)
    assert "metrics-ok" not in text and "metrics-deny" not in text
    assert val(m1, "keywarden_appraisals_in_flight") == 0
    assert val(m1, "keywarden_worker_queue_depth", pool="appraisal") == 0
    assert val(m1, "keywarden_single_use_entries", set="challenge") >= 1
    assert val(m1, "keywarden_single_use_capacity", set="challenge") == 100000
    assert val(m1, "keywarden_single_use_entries", set="dpop_jti") >= 1
    assert val(m1, "keywarden_open_connections", listener="metrics") >= 1
    assert 0 <= val(m1, "keywarden_token_key_age_seconds") < 3600
    assert val(m1, "keywarden_hsm_helper_restarts_total") == 0
    bi = [dict(ls) for (n, ls), v in m1.items() if n == "keywarden_build_info" and v == 1]
    assert len(bi) == 1 and bi[0]["version"], bi


def test_histograms_match_requests(b):
    m, _ = scrape(b)
    series = check_histograms(m, "keywarden_request_duration_seconds", "endpoint")
    for ep in series:
        assert total(m, "keywarden_requests_total", endpoint=ep) == \
            val(m, "keywarden_request_duration_seconds_count", endpoint=ep), ep
    check_histograms(m, "keywarden_hsm_call_duration_seconds", "op")
    for (n, ls), v in m.items():
        if n == "keywarden_hsm_call_duration_seconds_count":
            assert total(m, "keywarden_hsm_calls_total", op=dict(ls)["op"]) == v, dict(ls)


def test_scrape_during_flows(b):
    """Scrapes while appraisals run parse, and the counters never go back."""
    errors = []
    n_flows = 4

    def flows():
        try:
            a = Attester(b)
            for _ in range(n_flows):
                a.token()
        except Exception as e:    # reported below
            errors.append(e)

    m0, _ = scrape(b)
    t = threading.Thread(target=flows)
    t.start()
    prev, scrapes = m0, 0
    while t.is_alive() or scrapes < 3:
        m, _ = scrape(b)
        scrapes += 1
        for (n, ls), v in prev.items():
            if n.endswith("_total") or n.endswith("_count") or n.endswith("_bucket"):
                assert m.get((n, ls), 0) >= v, (n, ls)
        prev = m
    t.join()
    assert not errors, errors
    m1, _ = scrape(b)
    assert delta(m0, m1, "keywarden_appraisals_total", tee="snp", verdict="verified") == n_flows
    assert delta(m0, m1, "keywarden_requests_total", endpoint="/kbs/v0/attest", status="200") == n_flows
    assert val(m1, "keywarden_appraisals_in_flight") == 0


def test_listeners(b):
    # never on the workload port
    st, ct, body = b.request("GET", "/metrics")
    assert_problem(st, ct, body, 404)
    # the admin listener (metrics.on_admin) serves the same exposition to an admin identity
    st, ct, data = b.admin("GET", "/metrics", raw=True)
    assert st == 200 and ct == CTYPE, (st, ct)
    fams = {f.name for f in text_string_to_metric_families(data.decode())}
    assert "keywarden_appraisals" in fams and "keywarden_build_info" in fams, fams
    try:
        st, ct, body = b.admin("GET", "/metrics", who=None)
        assert st == 401, st
    except (ssl.SSLError, ConnectionError, OSError):
        pass    # refused in the handshake: no client certificate
    # only GET; unknown paths are problems
    st, ct, body = mget(b, "/kbs/v0/auth")
    assert st == 404 and ct.startswith("application/problem+json"), (st, ct)
    st, ct, body = b.request("GET", "/healthz")
    assert st == 200 and body == {"status": "alive"}, body
    st, ct, body = mget(b, "/healthz")
    assert st == 200, st


def ready(b, port=None):
    if port is None:
        st, ct, body = b.request("GET", "/readyz")
    else:
        st, ct, raw = mget(b, "/readyz", port)
        import json
        body = json.loads(raw)
    return st, ct, body


def wait_ready(b, want, timeout=15):
    deadline = time.time() + timeout
    while True:
        st, ct, body = ready(b)
        if st == want:
            return st, ct, body
        assert time.time() < deadline, "readyz stayed %d: %r" % (st, body)
        time.sleep(0.1)


def test_readiness(b):
    st, ct, body = ready(b)
    assert st == 200, body
    assert body == {"status": "ready", "checks": {"hsm": "ok", "store": "ok", "token_key": "ok",
                                                  "collateral": "not configured"}}, body
    st, _, body = ready(b, MPORT)
    assert st == 200 and body["status"] == "ready", body
    pid = helper_pid(b)
    os.kill(pid, signal.SIGSTOP)
    try:
        time.sleep(1.1)    # past the cached answer
        t0 = time.time()
        st, ct, body = ready(b)
        took = time.time() - t0
        body = assert_problem(st, ct, body, 503, "unavailable")
        assert body["checks"]["hsm"] == "fail" and body["checks"]["store"] == "ok", body
        assert "hsm" in body["detail"], body
        assert took < 3, took    # the probe's own short deadline, not hsm.call_timeout
        # probes are cached or answered without a second probe: no flood
        for _ in range(20):
            st, _, _ = ready(b)
            assert st == 503
    finally:
        os.kill(pid, signal.SIGCONT)
    wait_ready(b, 200)
    # killed: /readyz's own probe starts a new helper (no workload traffic needed)
    m0, _ = scrape(b)
    pid = helper_pid(b)
    os.kill(pid, signal.SIGKILL)
    time.sleep(1.1)    # past the cached answer
    deadline = time.time() + 15
    while ready(b)[0] != 200 or helper_pids(b) in ([], [pid]):
        assert time.time() < deadline, "no ready helper after the kill"
        time.sleep(0.1)
    m1, _ = scrape(b)
    assert delta(m0, m1, "keywarden_hsm_helper_restarts_total") == 1
    assert delta(m0, m1, "keywarden_hsm_calls_total", op="probe", result="ok") >= 1


def main():
    rc = run_tests(Broker(config_edit=edit), [test_flow_counters, test_histograms_match_requests,
                                              test_scrape_during_flows, test_listeners,
                                              test_readiness], setup=setup)
    return rc


if __name__ == "__main__":
    sys.exit(main())
