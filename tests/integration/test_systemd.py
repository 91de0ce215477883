#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Integration: the broker under (emulated) systemd.

A real broker runs with NOTIFY_SOCKET and WATCHDOG_USEC pointing at a
datagram socket bound here, and with JOURNAL_STREAM naming its stderr, so
log.format "auto" picks the journal; the journal's native socket is moved
to a test socket (KEYWARDEN_TEST_JOURNAL_SOCKET, test-hooks builds only).
Checked: READY=1 only once the listeners accept connections, WATCHDOG=1
pings, STATUS=degraded while the HSM helper is down, RELOADING=1 (with
MONOTONIC_USEC) then READY=1 on SIGHUP, STOPPING=1 on SIGTERM; the journal
fields and MESSAGE_IDs (against the table in docs/operations.md);
JSON lines after a SIGHUP switched log.format; log.level applied at SIGHUP;
--log-format overriding the file; and a canary scan: no nonce, token, DPoP
proof, PIN or released key in any format.
"""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kwtest  # noqa: E402
from kwtest import Attester, Broker, b64u, policy_for  # noqa: E402
from test_hsm_faults import helper_pid  # noqa: E402

RES = "demo/key/disk"
DENIED = "demo/key/other"
DOC = os.path.join(kwtest.SRC, "docs", "operations.md")


class Dgram:
    """Every datagram received on an AF_UNIX socket bound at path, with its arrival time."""

    def __init__(self, path, on_msg=None):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.2)
        self.msgs = []          # (time.monotonic(), bytes)
        self.cv = threading.Condition()
        self.on_msg = on_msg
        self.done = False
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        while not self.done:
            try:
                d = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            now = time.monotonic()
            extra = self.on_msg(d) if self.on_msg else None
            with self.cv:
                self.msgs.append((now, d, extra))
                self.cv.notify_all()

    def wait(self, pred, timeout=15, start=0):
        """The first message at index >= start for which pred(bytes) holds: (index, time, bytes, extra)."""
        deadline = time.monotonic() + timeout
        with self.cv:
            while True:
                for i in range(start, len(self.msgs)):
                    t, d, x = self.msgs[i]
                    if pred(d):
                        return i, t, d, x
                left = deadline - time.monotonic()
                assert left > 0, "no matching datagram in %d s; got %r" % (
                    timeout, [m[1] for m in self.msgs[start:]][-20:])
                self.cv.wait(left)

    def count(self):
        with self.cv:
            return len(self.msgs)

    def all(self):
        with self.cv:
            return [m[1] for m in self.msgs]

    def close(self):
        self.done = True
        self.t.join()
        self.sock.close()


def journal_fields(d):
    """Parse one native-protocol datagram (KEY=VALUE lines, or KEY\\n + le64 length + data)."""
    out = {}
    i = 0
    while i < len(d):
        nl = d.index(b"\n", i)
        line = d[i:nl]
        if b"=" in line:
            k, v = line.split(b"=", 1)
            i = nl + 1
        else:
            k = line
            n = int.from_bytes(d[nl + 1:nl + 9], "little")
            v = d[nl + 9:nl + 9 + n]
            assert d[nl + 9 + n:nl + 10 + n] == b"\n"
            i = nl + 10 + n
        assert k not in out, "field %r twice" % k
        out[k.decode()] = v.decode()
    return out


def doc_message_ids():
    """KW_EVENT -> MESSAGE_ID from the table in docs/operations.md."""
    ids = {}
    with open(DOC) as f:
        for line in f:
            m = re.match(r"\| `([a-z_]+)` \| `([0-9a-f]{32})` \|", line)
            if m:
                ids[m.group(1)] = m.group(2)
    assert len(ids) >= 11, ids
    return ids


class State:
    notify = None
    journal = None
    canaries = []         # strings that must appear in no log output
    attester = None       # one for every flow (an RSA-3072 key is slow to make)


S = State()


def thumbprint(a):
    return a.dpop_jwk().thumbprint()


def flow(b):
    """Attest, release RES, be denied DENIED; record every secret-ish value as a canary."""
    a = S.attester
    nonce = a.nonce()
    st, _, body = b.request("POST", "/kbs/v0/attest", a.attest_body(nonce=nonce))
    assert st == 200, (st, body)
    token = body["token"]
    a.dpop_nonce = b.last_headers.get("dpop-nonce")
    proof = a.proof(token, b.url + "/kbs/v0/resource/" + RES)
    st, _, jwe = a.resource(token, RES, proof=proof)
    assert st == 200, (st, jwe)
    key = a.decrypt(jwe)
    proof2 = a.proof(token, b.url + "/kbs/v0/resource/" + DENIED)
    st, _, body = a.resource(token, DENIED, proof=proof2)
    assert st == 403, (st, body)
    S.canaries += [nonce, token, token.split(".")[2], proof, proof2, a.dpop_nonce, key.hex(), b64u(key)]
    return thumbprint(a)


def setup(b):
    S.attester = Attester(b)
    b.provision(RES)
    b.provision(DENIED, policy="other", document=policy_for("00" * 48))
    with open(os.path.join(b.dir, "hsm.pin")) as f:
        pin = f.read().strip()
    assert len(pin) >= 4
    S.canaries.append(pin)


def notify_has(k):
    return lambda d: k.encode() in d.split(b"\n")


def t_ready_after_listeners(b):
    i, _, d, extra = S.notify.wait(notify_has("READY=1"))
    assert d == b"READY=1\nSTATUS=ready: 2 workers", d
    assert extra is True, "READY=1 came before the workload port accepted connections"
    # the start-up STATUS lines came first, in order
    before = [m for m in S.notify.all()[:i]]
    assert before == [b"STATUS=starting: loading trust anchors and the store",
                      b"STATUS=starting: HSM helper self test"], before


def t_watchdog_pings(b):
    n0 = S.notify.count()
    i, t0, _, _ = S.notify.wait(lambda d: d == b"WATCHDOG=1", start=n0)
    j, t1, _, _ = S.notify.wait(lambda d: d == b"WATCHDOG=1", start=i + 1)
    k, t2, _, _ = S.notify.wait(lambda d: d == b"WATCHDOG=1", start=j + 1)
    # WATCHDOG_USEC=400000: one ping per 200 ms (generous bounds: a shared machine)
    for dt in (t1 - t0, t2 - t1):
        assert 0.1 < dt < 2.0, "pings %.3f s apart" % dt


def t_journal_fields(b):
    ids = doc_message_ids()
    n0 = S.journal.count()
    jkt = flow(b)
    want = {"token": None, "release": "demo", "denial": "demo", "attest": None}
    for ev, repo in want.items():
        _, _, d, f = S.journal.wait(lambda d, ev=ev: b"\nKW_EVENT=" + ev.encode() + b"\n" in d,
                                    start=n0)
        assert f["MESSAGE_ID"] == ids[ev], (ev, f)
        assert f["PRIORITY"] == "6" and f["SYSLOG_IDENTIFIER"] == "keywarden", f
        assert f["SYSLOG_PID"] == str(b.proc.pid), f
        assert f["MESSAGE"] and "\n" not in f["MESSAGE"], f
        if repo is not None:
            assert f["KW_REPOSITORY"] == repo, f
        if ev != "attest":
            assert f["KW_JKT"] == jkt, (f, jkt)
    # the start record too, and records without an event have no MESSAGE_ID
    fields = [journal_fields(d) for d in S.journal.all()]
    assert any(f.get("KW_EVENT") == "start" and f["MESSAGE_ID"] == ids["start"] for f in fields)
    assert any("KW_EVENT" not in f for f in fields)
    assert all(("MESSAGE_ID" in f) == ("KW_EVENT" in f) for f in fields)
    # nothing of it went to stderr as a text line
    assert "released '" not in b.log() and "issued token" not in b.log(), b.log()[-2000:]
    # the helper's start-up record went to the journal too, under its own name and pid
    hp = helper_pid(b)
    hsm = [f for f in fields if f["SYSLOG_IDENTIFIER"] == "keywarden-hsm"]
    assert any(f["SYSLOG_PID"] == str(hp) and "self test passed" in f["MESSAGE"] and
               f["PRIORITY"] == "6" for f in hsm), hsm
    assert " keywarden-hsm[" not in b.log(), b.log()[-2000:]


def t_helper_down_degraded(b):
    pid = helper_pid(b)
    with open("/proc/%d/environ" % pid, "rb") as f:
        env = f.read().split(b"\0")
    # only the broker notifies: the helper never sees the socket
    assert not any(e.startswith((b"NOTIFY_SOCKET=", b"WATCHDOG_USEC=")) for e in env), env
    n0 = S.notify.count()
    nj = S.journal.count()
    t0 = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    S.notify.wait(lambda d: d == b"STATUS=degraded: the HSM helper is down", start=n0)
    t1 = time.monotonic()
    _, _, _, f = S.journal.wait(lambda d: b"\nKW_EVENT=hsm\n" in d, start=nj)
    assert f["PRIORITY"] in ("3", "4"), f
    # the next HSM call starts a new helper; STATUS says so
    deadline = time.time() + 20
    while True:
        try:
            S.attester.token()
            print("     degraded after %.1f s, a token after %.1f s" % (t1 - t0, time.monotonic() - t0))
            break
        except AssertionError:
            assert time.time() < deadline, "no token after the helper was killed"
            time.sleep(0.2)
    S.notify.wait(lambda d: d == b"STATUS=ready: 2 workers", start=n0)


def set_log(b, **kw):
    b.cfg.pop("log_level", None)
    b.cfg.setdefault("log", {}).update(kw)
    with open(b.cfg_path, "w") as f:
        json.dump(b.cfg, f, indent=2)


def sighup(b):
    """SIGHUP: RELOADING=1 with MONOTONIC_USEC taken during the reload, then READY=1."""
    n0 = S.notify.count()
    t0 = time.monotonic_ns() // 1000
    os.kill(b.proc.pid, signal.SIGHUP)
    i, _, d, _ = S.notify.wait(notify_has("RELOADING=1"), start=n0)
    t1 = time.monotonic_ns() // 1000
    m = re.fullmatch(rb"RELOADING=1\nMONOTONIC_USEC=(\d+)\nSTATUS=reloading", d)
    assert m, d
    assert t0 <= int(m.group(1)) <= t1, (t0, m.group(1), t1)
    _, _, d, _ = S.notify.wait(notify_has("READY=1"), start=i + 1)
    assert d == b"READY=1\nSTATUS=ready: 2 workers", d




def json_records(text):
    out = []
    for line in text.splitlines():
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


def t_sighup_json_lines(b):
    ids = doc_message_ids()
    set_log(b, format="json", level="info")
    off = len(b.log())
    hp = helper_pid(b)
    sighup(b)
    jkt = flow(b)
    deadline = time.time() + 10
    while True:
        new = b.log()[off:]
        recs = json_records(new)
        if (any(r.get("event") == "denial" for r in recs) and
                any(r["prog"] == "keywarden-hsm" for r in recs)):
            break
        assert time.time() < deadline, new[-2000:]
        time.sleep(0.05)
    # every line written since the switch is a JSON object (no text line), the running
    # helper's too: the broker told it (the "log" call), and it says so
    assert all(line.startswith("{") for line in new.splitlines()), new[-2000:]
    hsm = [r for r in recs if r["prog"] == "keywarden-hsm"]
    assert len(hsm) == 1 and hsm[0]["pid"] == hp and hsm[0]["level"] == "info", hsm
    assert hsm[0]["msg"] == "log level info, format json (from the broker)", hsm
    assert helper_pid(b) == hp, "the helper was restarted"
    recs = [r for r in recs if r["prog"] != "keywarden-hsm"]
    required = {"time", "level", "prog", "pid", "func", "msg"}
    allowed = required | {"error", "event", "message_id", "repository", "jkt", "suppressed"}
    for r in recs:
        assert required <= set(r) <= allowed, r
        assert r["prog"] == "keywarden" and r["pid"] == b.proc.pid, r
        assert ("event" in r) == ("message_id" in r), r
        if "event" in r:
            assert r["message_id"] == ids[r["event"]], r
    reload = [r for r in recs if r.get("event") == "reload"]
    assert reload and "format json" in reload[0]["msg"], recs[:3]
    rel = [r for r in recs if r.get("event") == "release"]
    assert rel and rel[0]["repository"] == "demo" and rel[0]["jkt"] == jkt, rel
    den = [r for r in recs if r.get("event") == "denial"]
    assert den[0]["repository"] == "demo" and den[0]["jkt"] == jkt, den


def t_sighup_level_and_text(b):
    off0 = len(b.log())
    set_log(b, format="text", level="warn")
    sighup(b)
    off = len(b.log())
    nj = S.journal.count()
    flow(b)
    # no wait needed: the broker writes a record before it sends the answer it is about
    new = b.log()[off:]
    assert "released '" not in new and "issued token" not in new, new
    set_log(b, format="text", level="info")
    sighup(b)
    off = len(b.log())
    flow(b)
    deadline = time.time() + 10
    while "denied by policy" not in b.log()[off:]:
        assert time.time() < deadline, b.log()[-2000:]
        time.sleep(0.05)
    new = b.log()[off:]
    assert re.search(r"^\S+Z info keywarden\[%d\] release_done: released 'demo/key/disk" % b.proc.pid,
                     new, re.M), new
    # the helper took level warn, then info, in text
    hsm = re.findall(r"^\S+Z (\w+) keywarden-hsm\[%d\] do_log: (.*)$" % helper_pid(b),
                     b.log()[off0:], re.M)
    assert hsm == [("info", "log level info, format text (from the broker)")], hsm
    assert S.journal.count() == nj, "journal records after the switch to text"


def t_sigterm_stopping(b):
    n0 = S.notify.count()
    b.proc.send_signal(signal.SIGTERM)
    _, _, d, _ = S.notify.wait(notify_has("STOPPING=1"), start=n0)
    assert d == b"STOPPING=1\nSTATUS=stopping", d
    assert b.proc.wait(timeout=30) == 0
    # nothing after STOPPING=1 but (possibly) watchdog pings already sent: no READY=1
    assert not any(m.startswith(b"READY=1") for m in S.notify.all()[n0:]), S.notify.all()[n0:]


def t_log_format_flag(b):
    # an invalid value is refused before anything starts
    p = subprocess.run([kwtest.KEYWARDEN, "--config", b.cfg_path, "--log-format", "yaml"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    assert p.returncode == 2 and b"--log-format must be" in p.stderr, p
    # the flag wins over log.format, also at SIGHUP
    set_log(b, format="text", level="info")
    b.stop()
    off = len(b.log())
    b.args = ["--log-format", "json"]
    b.start()
    flow(b)
    sighup(b)
    deadline = time.time() + 10
    while not any(r.get("event") == "reload" for r in json_records(b.log()[off:])):
        assert time.time() < deadline, b.log()[-2000:]
        time.sleep(0.05)
    new = b.log()[off:]
    # every line, the helper's included (spawned with the broker's format), is JSON
    recs = [json.loads(line) for line in new.splitlines()]
    hp = helper_pid(b)
    assert any(r["prog"] == "keywarden-hsm" and r["pid"] == hp and r["level"] == "info" and
               "self test passed" in r["msg"] for r in recs), recs
    assert {r["prog"] for r in recs} == {"keywarden", "keywarden-hsm"}, recs
    assert any(r.get("event") == "release" for r in recs)
    assert any("(--log-format)" in r["msg"] for r in recs if r.get("event") == "reload"), recs


def t_canaries(b):
    assert len(S.canaries) > 20, S.canaries
    text = b.log()
    journal = b"".join(S.journal.all()).decode("utf-8", "replace")
    for c in S.canaries:
        assert c and len(c) >= 4, c
        assert c not in text, "canary %r in stderr" % c[:12]
        assert c not in journal, "canary %r in the journal" % c[:12]


TESTS = [t_ready_after_listeners, t_watchdog_pings, t_journal_fields, t_helper_down_degraded,
         t_sighup_json_lines, t_sighup_level_and_text, t_log_format_flag, t_canaries,
         t_sigterm_stopping]


def main():
    b = Broker()
    nsock = os.path.join(b.dir, "notify.sock")
    jsock = os.path.join(b.dir, "journal.sock")

    def on_notify(d):
        if d.startswith(b"READY=1"):
            try:
                socket.create_connection(("127.0.0.1", b.port), timeout=2).close()
                return True
            except OSError:
                return False
        return None

    S.notify = Dgram(nsock, on_notify)
    S.journal = Dgram(jsock, journal_fields)
    # JOURNAL_STREAM names the broker's stderr (Broker.start appends to log_path)
    open(b.log_path, "ab").close()
    st = os.stat(b.log_path)
    b.env = {"NOTIFY_SOCKET": nsock, "WATCHDOG_USEC": "400000",
             "KEYWARDEN_TEST_JOURNAL_SOCKET": jsock,
             "JOURNAL_STREAM": "%d:%d" % (st.st_dev, st.st_ino)}
    try:
        return kwtest.run_tests(b, TESTS, setup=setup)
    finally:
        S.notify.close()
        S.journal.close()


if __name__ == "__main__":
    sys.exit(main())
