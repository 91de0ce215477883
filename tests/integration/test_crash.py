#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Crash safety of the admin plane: kill -9 at random moments.

Each round: start the broker on the same state, fire a random mix of admin
writes for a random 50-500 ms while recording every acknowledged one, kill -9
the broker, restart it, and check that every acknowledged write reads back
identical, nothing is half-written (no pending versions, no key without an
enabled-or-disabled version), and the HSM's key objects and the store's rows
agree exactly (listed independently with pkcs11-tool). Prints the totals.

    test_crash.py [--rounds N]     (the suite runs 100; scripts/crash-soak.sh runs 1000)
"""
import os
import random
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kwtest  # noqa: E402
from kwtest import Broker  # noqa: E402


def hsm_labels(b):
    env = dict(os.environ, SOFTHSM2_CONF=os.path.join(b.dir, "softhsm2.conf"))
    pin = open(os.path.join(b.dir, "hsm.pin")).read().strip()
    p = subprocess.run(["pkcs11-tool", "--module", "/usr/lib/softhsm/libsofthsm2.so", "--token-label",
                        "keywarden", "--login", "--pin", pin, "--list-objects", "--type", "secrkey"],
                       env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.returncode == 0, p.stderr.decode()
    labels = set()
    for line in p.stdout.decode().splitlines():
        line = line.strip()
        if line.startswith("label:"):
            lab = line[len("label:"):].strip()
            if lab.startswith("kw-key/"):
                labels.add(lab)
    return labels


class Model:
    """What acknowledged writes say the state must be."""

    def __init__(self):
        self.keys = {}       # path -> {"state", "versions": {n: state}, "policy"}
        self.docs = {}       # (kind, repo, name) -> {version: canonical document}

    def apply(self, op, resp):
        kind = op[0]
        if kind == "create":
            path = op[1]
            self.keys[path] = {"state": "enabled", "versions": {1: "enabled"}, "policy": op[2]}
        elif kind == "rotate":
            v = max(x["version"] for x in resp["versions"])
            self.keys[op[1]]["versions"][v] = "enabled"
        elif kind == "disable":
            self.keys[op[1]]["state"] = "disabled"
        elif kind == "enable":
            self.keys[op[1]]["state"] = "enabled"
        elif kind == "delete":
            del self.keys[op[1]]
        elif kind == "doc":
            self.docs.setdefault((op[1], op[2], op[3]), {})[resp["version"]] = op[4]


def random_op(rng, model, m):
    paths = list(model.keys)
    c = rng.random()
    if c < 0.3 or not paths:
        tag = "k%08x" % rng.getrandbits(32)
        return ("create", "crash/key/" + tag, rng.choice([None, "p1", "p2"]))
    if c < 0.5:
        kind = rng.choice(["policies", "refvals"])
        name = rng.choice(["p1", "p2", "r1"])
        doc = kwtest.policy_for(m) if kind == "policies" else {"measurements": [{"value": m}]}
        if kind == "policies" and rng.random() < 0.5:
            doc["allow_debug"] = rng.random() < 0.5
        return ("doc", kind, "crash", name, doc)
    path = rng.choice(paths)
    return (rng.choice(["rotate", "rotate", "disable", "enable", "delete"]), path)


def send(b, op):
    if op[0] == "create":
        repo, typ, tag = op[1].split("/")
        body = {"repository": repo, "type": typ, "tag": tag, "algorithm": "aes-128"}
        if op[2]:
            body["policy"] = op[2]
        return b.admin("POST", "/admin/v1/keys", body)
    if op[0] == "doc":
        return b.admin("PUT", "/admin/v1/%s/%s/%s" % (op[1], op[2], op[3]), {"document": op[4]})
    if op[0] == "rotate":
        return b.admin("POST", "/admin/v1/keys/%s/versions" % op[1], {})
    if op[0] in ("disable", "enable"):
        return b.admin("POST", "/admin/v1/keys/%s/%s" % (op[1], op[0]), {})
    if op[0] == "delete":
        return b.admin("DELETE", "/admin/v1/keys/%s" % op[1])
    raise ValueError(op)


def writer(b, model, rng, m, stop, stats):
    while not stop.is_set():
        op = random_op(rng, model, m)
        stats["inflight"] = op
        try:
            st, _, resp = send(b, op)
        except Exception:
            stats["inflight_died"] = op
            return
        stats["inflight"] = None
        if st in (200, 201, 204):
            model.apply(op, resp)
            stats["acked"] += 1
        else:
            stats["refused"] += 1


def check(b, model, maybe_op):
    """Compare the broker's state with the model; the op in flight at kill time may or may not have landed."""
    st, _, body = b.admin("GET", "/admin/v1/keys?repository=crash")
    assert st == 200, body
    actual = {"%s/%s/%s" % (k["repository"], k["type"], k["tag"]): k for k in body["keys"]}
    for k in actual.values():
        states = [v["state"] for v in k["versions"]]
        assert "pending" not in states and "deleting" not in states, ("half-written version", k)
        assert k["state"] in ("enabled", "disabled"), ("half-written key", k)
    expected_paths = set(model.keys)
    ambiguous = set()
    if maybe_op is not None and maybe_op[0] in ("create", "delete"):
        ambiguous.add(maybe_op[1])
    assert set(actual) - ambiguous == expected_paths - ambiguous, (set(actual) ^ expected_paths)
    for path, exp in model.keys.items():
        if path not in actual:
            assert path in ambiguous, ("acknowledged key lost", path)
            continue
        a = actual[path]
        flight = maybe_op is not None and len(maybe_op) > 1 and maybe_op[1] == path
        if not flight:
            assert a["state"] == exp["state"], (path, a, exp)
            assert a["policy"] == exp["policy"], (path, a, exp)
        have = {v["version"]: v["state"] for v in a["versions"]}
        for v, s in exp["versions"].items():
            assert have.get(v) == s, ("acknowledged version lost or changed", path, v, have)
        extra = set(have) - set(exp["versions"])
        assert not extra or (flight and maybe_op[0] == "rotate" and len(extra) == 1), ("unacknowledged version", path, extra)
    for (kind, repo, name), versions in model.docs.items():
        st, _, h = b.admin("GET", "/admin/v1/%s/%s/%s/history" % (kind, repo, name))
        assert st == 200, h
        have = {x["version"]: x["document"] for x in h["history"]}
        for v, doc in versions.items():
            assert have.get(v) == doc, ("acknowledged document lost or changed", kind, name, v)
    # HSM objects and rows agree exactly
    labels = hsm_labels(b)
    rows = set()
    for path, k in actual.items():
        for v in k["versions"]:
            rows.add("kw-key/%s/v%d" % (path, v["version"]))
    assert labels == rows, ("HSM and store disagree", sorted(labels ^ rows)[:10])
    return len(rows)


def main():
    rounds = 100
    if "--rounds" in sys.argv:
        rounds = int(sys.argv[sys.argv.index("--rounds") + 1])
    if os.environ.get("KW_CRASH_ROUNDS"):
        rounds = int(os.environ["KW_CRASH_ROUNDS"])    # scripts/test.sh: fewer under ASan
    seed = int(os.environ.get("KW_CRASH_SEED", str(int(time.time()))))
    rng = random.Random(seed)
    b = Broker()
    model = Model()
    totals = {"rounds": 0, "acked": 0, "refused": 0, "kills_mid_request": 0, "objects": 0}
    ok = False
    t0 = time.time()
    try:
        b.start()
        m = b.emu["measurement"]
        for rnd in range(rounds):
            stats = {"acked": 0, "refused": 0, "inflight": None}
            stop = threading.Event()
            th = threading.Thread(target=writer, args=(b, model, rng, m, stop, stats), daemon=True)
            th.start()
            time.sleep(rng.uniform(0.05, 0.5))
            b.proc.send_signal(signal.SIGKILL)
            b.proc.wait()
            stop.set()
            th.join(timeout=30)
            inflight = stats.get("inflight_died") or stats.get("inflight")
            if inflight is not None:
                totals["kills_mid_request"] += 1
            b.start()
            n = check(b, model, inflight)
            # settle the in-flight op into the model from what the broker now says
            if inflight is not None and inflight[0] in ("create", "delete", "rotate", "disable", "enable"):
                st, _, k = b.admin("GET", "/admin/v1/keys/%s" % inflight[1])
                if st == 200:
                    model.keys[inflight[1]] = {"state": k["state"], "policy": k["policy"],
                                               "versions": {v["version"]: v["state"] for v in k["versions"]}}
                else:
                    model.keys.pop(inflight[1], None)
            elif inflight is not None and inflight[0] == "doc":
                st, _, h = b.admin("GET", "/admin/v1/%s/%s/%s/history" % inflight[1:4])
                if st == 200:
                    model.docs[(inflight[1], inflight[2], inflight[3])] = {x["version"]: x["document"] for x in h["history"]}
            totals["rounds"] += 1
            totals["acked"] += stats["acked"]
            totals["refused"] += stats["refused"]
            totals["objects"] = n
        ok = True
    except Exception:
        import traceback
        traceback.print_exc()
        print("--- broker log (tail) ---\n" + b.log()[-4000:])
    finally:
        b.cleanup()
    print("crash rounds: %d, acknowledged writes: %d, refused: %d, kills during a request: %d, "
          "HSM objects at the end: %d, seed %d, %.1f s" % (totals["rounds"], totals["acked"], totals["refused"],
                                                         totals["kills_mid_request"], totals["objects"], seed,
                                                         time.time() - t0))
    print("%d passed, %d failed" % (1 if ok else 0, 0 if ok else 1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
