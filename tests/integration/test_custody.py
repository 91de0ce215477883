#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Integration: the custody boundary between keywarden and keywarden-hsm.

keywarden-hsm runs as its own user (kwtest-hsm) in supervisor mode, with
the SoftHSM2 token directory (0700) and the PIN file (0400) owned by that
user; the broker runs as kwtest-broker and reaches it through hsm.socket.
Checked: the full flow (auth, attest, resource; the JWE decrypted with
jwcrypto); the broker's user cannot read the PIN file, the token
directory, or the serving helper's /proc environ and mem; peers of any
other uid are refused (root, a third user, and a keywarden binary run as
that user) without disturbing the session, and the log says why; the
serving helper checks its peer itself; kill -9 of the serving helper is
repaired by the broker's reconnect.

Needs root (it creates three system users with useradd and switches uids
with setpriv). Not root: prints SKIP and exits 77, which meson counts as
a skipped test. As root, any failure to set up is a failure.
"""
import grp
import json
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kwtest  # noqa: E402
from kwtest import Attester, Broker  # noqa: E402

BROKER_USER, HSM_USER, OTHER_USER = "kwtest-broker", "kwtest-hsm", "kwtest-other"
MODULE = "/usr/lib/softhsm/libsofthsm2.so"
RES = "demo/key/custody"
HSM_BIN = os.path.join(kwtest.BUILD, "hsm", "keywarden-hsm")
MEASURED = {}


def ensure_user(name):
    """A system user with its own group (idempotent); fails loudly."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    subprocess.run(["useradd", "--system", "--user-group", "--no-create-home",
                    "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", name], check=True)
    return pwd.getpwnam(name)


def as_user(user, argv, group=None):
    """argv run as user (and group, default the user's own), no supplementary groups."""
    return ["setpriv", "--reuid", user, "--regid", group or user, "--clear-groups", "--"] + argv


def py_as(user, code, args=(), group=None):
    """Run python code as user; returns its stdout (stripped)."""
    p = subprocess.run(as_user(user, ["/usr/bin/python3", "-c", code] + list(args), group),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    assert p.returncode == 0, (p.returncode, p.stderr.decode())
    return p.stdout.decode().strip()


OPEN_ERRNO = """
import errno, os, sys
try:
    if os.path.isdir(sys.argv[1]):
        os.listdir(sys.argv[1])
    else:
        open(sys.argv[1], "rb").read(1)
    print("OK")
except OSError as e:
    print(errno.errorcode[e.errno])
"""


def open_as(user, path, group=None):
    p = subprocess.run(as_user(user, ["/usr/bin/python3", "-c", OPEN_ERRNO, path], group),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    assert p.returncode == 0, p.stderr.decode()
    return p.stdout.decode().strip()


def proc_uid(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Uid:"):
                return int(line.split()[1])
    raise AssertionError("no Uid line")


def children(pid, comm="keywarden-hsm"):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        rp = st.rindex(")")
        fields = st[rp + 2:].split()
        if int(fields[1]) == pid and st[st.index("(") + 1:rp].startswith(comm) and fields[0] != "Z":
            out.append(int(d))
    return out


class CustodyBroker(Broker):
    """The broker as BROKER_USER against a supervisor running as HSM_USER."""

    def __init__(self):
        def edit(cfg):
            cfg["hsm"] = {"socket": "run/hsm.sock", "token": "keywarden", "call_timeout": 3}
            cfg["store"] = {"path": "state/keywarden.db"}
        super().__init__(config_edit=edit)
        self.bu, self.hu, self.ou = ensure_user(BROKER_USER), ensure_user(HSM_USER), ensure_user(OTHER_USER)
        d = self.dir
        os.chmod(d, 0o755)
        # the binaries: the build directory may be unreadable to these users
        self.bin = os.path.join(d, "bin")
        os.mkdir(self.bin, 0o755)
        for src in (kwtest.KEYWARDEN, HSM_BIN):
            shutil.copy2(src, self.bin)
            os.chmod(os.path.join(self.bin, os.path.basename(src)), 0o755)
        # HSM side: token directory 0700, PIN file 0400, all owned by HSM_USER
        self.hsm = os.path.join(d, "hsm")
        os.mkdir(self.hsm, 0o700)
        for f in ("tokens", "hsm.pin", "softhsm2.conf"):
            shutil.move(os.path.join(d, f), os.path.join(self.hsm, f))
        os.remove(os.path.join(d, "hsm.so-pin"))
        self.pin = os.path.join(self.hsm, "hsm.pin")
        self.tokens = os.path.join(self.hsm, "tokens")
        self.conf = os.path.join(self.hsm, "softhsm2.conf")
        with open(self.conf) as f:
            conf = f.read().replace(os.path.join(d, "tokens"), self.tokens)
        with open(self.conf, "w") as f:
            f.write(conf)
        for root, dirs, files in os.walk(self.hsm):
            for n in [root] + [os.path.join(root, x) for x in files]:
                os.chown(n, self.hu.pw_uid, self.hu.pw_gid)
        os.chmod(self.tokens, 0o700)
        os.chmod(self.pin, 0o400)
        os.chmod(self.conf, 0o400)
        # the socket directory: setgid, group of the broker, so the socket
        # (0660) is HSM_USER:BROKER_USER
        self.run = os.path.join(d, "run")
        os.mkdir(self.run)
        os.chown(self.run, self.hu.pw_uid, self.bu.pw_gid)
        os.chmod(self.run, 0o2750)
        self.sock = os.path.join(self.run, "hsm.sock")
        # broker side: its TLS key, the SNP and TDX emulation sets and collateral, its state
        for sub in ("tls", "emu", "tdx-emu", "tdx-collateral"):
            for root, dirs, files in os.walk(os.path.join(d, sub)):
                for n in [root] + [os.path.join(root, x) for x in files]:
                    os.chown(n, self.bu.pw_uid, self.bu.pw_gid)
        state = os.path.join(d, "state")
        os.mkdir(state, 0o700)
        os.chown(state, self.bu.pw_uid, self.bu.pw_gid)
        os.chmod(self.clock_file, 0o644)
        self.sv = None
        self.sv_log_path = os.path.join(d, "keywarden-hsm.log")

    def start_supervisor(self, allow=BROKER_USER):
        self.sv_logf = open(self.sv_log_path, "ab")
        self.sv = subprocess.Popen(as_user(HSM_USER, [
            os.path.join(self.bin, "keywarden-hsm"), "--listen", self.sock, "--allow-user", allow,
            "--module", MODULE, "--token", "keywarden", "--pin-file", self.pin,
            "--softhsm2-conf", self.conf]), stdout=self.sv_logf, stderr=subprocess.STDOUT)
        t0 = time.time()
        while not os.path.exists(self.sock):
            if self.sv.poll() is not None or time.time() - t0 > 10:
                raise RuntimeError("keywarden-hsm did not listen:\n" + self.sv_log())
            time.sleep(0.05)

    def sv_log(self):
        with open(self.sv_log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def start(self):
        self.start_supervisor()
        self.logf = open(self.log_path, "ab")
        env = dict(os.environ, KEYWARDEN_TEST_CLOCK_FILE=self.clock_file)
        self.proc = subprocess.Popen(as_user(BROKER_USER, [os.path.join(self.bin, "keywarden"),
                                                         "--config", self.cfg_path]),
                                     stdout=self.logf, stderr=subprocess.STDOUT, env=env)
        t0 = time.time()
        while time.time() - t0 < 30:
            if self.proc.poll() is not None:
                raise RuntimeError("keywarden exited with %d:\n%s\n--- keywarden-hsm ---\n%s" %
                                   (self.proc.returncode, self.log(), self.sv_log()))
            try:
                if self.request("GET", "/healthz")[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("keywarden did not become ready:\n" + self.log())

    def stop(self):
        rc = super().stop()
        if self.sv is not None and self.sv.poll() is None:
            self.sv.terminate()
            try:
                self.sv.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.sv.kill()
                self.sv.wait()
            assert self.sv.returncode == 0, ("keywarden-hsm exit status", self.sv.returncode)
            self.sv_logf.close()
        return rc

    def log(self):
        # failures print this: both sides
        out = super().log()
        if os.path.exists(self.sv_log_path):
            out += "\n--- keywarden-hsm ---\n" + self.sv_log()
        return out

    def serving_helper(self, timeout=10):
        t0 = time.time()
        while time.time() - t0 < timeout:
            c = children(self.sv.pid)
            if len(c) == 1:
                return c[0]
            time.sleep(0.05)
        raise AssertionError("no single serving helper: %r" % children(self.sv.pid))


def setup(b):
    b.provision(RES)
    b.a = Attester(b)
    b.tok = b.a.token()


def release(b):
    st, ct, body = b.a.resource(b.tok, RES)
    assert st == 200, (st, body[:300])
    return b.a.decrypt(body)


def t_users_and_full_flow(b):
    helper = b.serving_helper()
    assert proc_uid(b.proc.pid) == b.bu.pw_uid
    assert proc_uid(b.sv.pid) == b.hu.pw_uid
    assert proc_uid(helper) == b.hu.pw_uid
    v1 = release(b)
    a2 = Attester(b)
    st, ct, body = a2.resource(a2.token(), RES)
    assert st == 200, (st, body[:300])
    assert len(v1) == 32 and a2.decrypt(body) == v1
    b.value = v1
    log = b.log()
    assert "no custody boundary" not in log.split("--- keywarden-hsm ---")[0], log
    assert "session for uid %d" % b.bu.pw_uid in b.sv_log()
    # the socket: HSM_USER:BROKER_USER 0660 in a 2750 directory
    st_ = os.stat(b.sock)
    assert stat.S_ISSOCK(st_.st_mode) and stat.S_IMODE(st_.st_mode) == 0o660, oct(st_.st_mode)
    assert (st_.st_uid, st_.st_gid) == (b.hu.pw_uid, b.bu.pw_gid)


def t_pin_and_token_closed_to_broker(b):
    for path in (b.pin, b.tokens, b.conf):
        assert open_as(BROKER_USER, path) == "EACCES", path
    st_ = os.stat(b.pin)
    assert stat.S_IMODE(st_.st_mode) == 0o400 and st_.st_uid == b.hu.pw_uid
    assert stat.S_IMODE(os.stat(b.tokens).st_mode) == 0o700
    # the check can succeed: the helper's user reads both
    assert open_as(HSM_USER, b.pin) == "OK"
    assert open_as(HSM_USER, b.tokens) == "OK"


def t_helper_proc_closed_to_broker(b):
    helper = b.serving_helper()
    for what in ("environ", "mem"):
        got = open_as(BROKER_USER, "/proc/%d/%s" % (helper, what))
        assert got in ("EACCES", "EPERM"), (what, got)
    # ptrace is refused too (another uid, no CAP_SYS_PTRACE)
    code = ("import ctypes, sys; libc = ctypes.CDLL(None, use_errno=True); "
            "r = libc.ptrace(16, int(sys.argv[1]), 0, 0); print(r, ctypes.get_errno())")
    p = subprocess.run(as_user(BROKER_USER, ["/usr/bin/python3", "-c", code, str(helper)]),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    r, err = p.stdout.decode().split()
    assert r == "-1" and int(err) in (1, 13), (r, err)    # EPERM / EACCES
    # the check can succeed: a world-readable file of the same process
    assert open_as(BROKER_USER, "/proc/%d/status" % helper) == "OK"


PROBE_AS_PEER = """
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.settimeout(10)
s.connect(sys.argv[1])
try:
    s.send(json.dumps({"id": 1, "op": "probe"}).encode())
    d = s.recv(65536)
    print("EOF" if d == b"" else "REPLY " + d.decode())
except (ConnectionResetError, BrokenPipeError):
    print("EOF")
"""


def t_foreign_peers_refused(b):
    helper = b.serving_helper()
    # root: passes the directory's permissions, not the uid check
    out = subprocess.run(["/usr/bin/python3", "-c", PROBE_AS_PEER, b.sock], stdout=subprocess.PIPE,
                         timeout=30).stdout.decode().strip()
    assert out == "EOF", out
    # a third user: the directory and socket modes keep it out...
    out = subprocess.run(as_user(OTHER_USER, ["/usr/bin/python3", "-c", PROBE_AS_PEER, b.sock]),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    assert out.returncode != 0 and b"PermissionError" in out.stderr, out
    # ...and with the broker's group it still fails the SO_PEERCRED check (a
    # second apart: refusals are logged at most once a second)
    time.sleep(1.1)
    out = py_as(OTHER_USER, PROBE_AS_PEER, [b.sock], group=BROKER_USER)
    assert out == "EOF", out
    t0 = time.time()
    while time.time() - t0 < 5 and "refused peer uid %d" % b.ou.pw_uid not in b.sv_log():
        time.sleep(0.05)
    log = b.sv_log()
    assert "refused peer uid 0 " in log, log
    assert "refused peer uid %d gid %d" % (b.ou.pw_uid, b.bu.pw_gid) in log, log
    assert "uid not allowed" in log
    # the active session was not disturbed
    assert b.serving_helper() == helper
    assert release(b) == b.value


def t_unallowed_broker_refused(b):
    helper = b.serving_helper()
    p = subprocess.run(as_user(OTHER_USER, [os.path.join(b.bin, "keywarden"), "--config", b.cfg_path,
                                            "--rotate-token-key"], group=BROKER_USER),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    out = p.stdout.decode()
    assert p.returncode != 0, out
    assert "no answer from the HSM helper" in out and "does it allow our uid %d" % b.ou.pw_uid in out, out
    assert "new token-signing key" not in out
    assert b.sv_log().count("refused peer uid %d" % b.ou.pw_uid) >= 1
    assert b.serving_helper() == helper
    assert release(b) == b.value


def t_serving_helper_checks_its_peer(b):
    """fd 3 mode checks SO_PEERCRED itself: a socketpair made by root is refused."""
    def run(extra):
        a, h = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)    # made by root
        rd, wr = os.pipe()
        cmd = as_user(HSM_USER, [os.path.join(b.bin, "keywarden-hsm"), "--module", MODULE, "--token",
                                 "keywarden", "--pin-file", b.pin, "--softhsm2-conf", b.conf] + extra)
        pid = os.posix_spawn("/usr/bin/setpriv", cmd, dict(os.environ), file_actions=[
            (os.POSIX_SPAWN_DUP2, h.fileno(), 3), (os.POSIX_SPAWN_DUP2, wr, 1),
            (os.POSIX_SPAWN_DUP2, wr, 2)])
        h.close()
        os.close(wr)
        a.settimeout(30)
        try:
            a.send(json.dumps({"id": 7, "op": "probe"}).encode())
            reply = a.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            reply = b""
        a.close()
        with os.fdopen(rd, "rb") as f:
            out = f.read().decode("utf-8", "replace")
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status), reply, out
    rc, reply, out = run([])
    assert rc == 1 and reply == b"", (rc, reply, out)
    assert "peer uid 0" in out and "not allowed; refusing to serve" in out, out
    assert "token 'keywarden'" not in out    # refused before the module was loaded
    rc, reply, out = run(["--allow-uid", "0"])
    assert rc == 0, (rc, out)
    assert json.loads(reply)["id"] == 7 and json.loads(reply)["ok"] is True, reply


def t_socket_activation(b):
    """The supervisor takes a listening socket the systemd way (LISTEN_PID, LISTEN_FDS, fd 3)."""
    d = os.path.join(b.dir, "act")
    os.mkdir(d, 0o755)
    path = os.path.join(d, "hsm.sock")
    ls = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    ls.bind(path)                       # as systemd would: SocketUser/SocketGroup/SocketMode
    os.chown(path, b.hu.pw_uid, b.bu.pw_gid)
    os.chmod(path, 0o660)
    ls.listen(8)
    logp = os.path.join(b.dir, "act.log")
    hsm = os.path.join(b.bin, "keywarden-hsm")
    # sh's pid is the supervisor's pid after exec: LISTEN_PID=$$
    script = ('export LISTEN_PID=$$ LISTEN_FDS=1 LISTEN_FDNAMES=hsm; exec "$0" --listen /nonexistent/unused '
              '--allow-user %s --module %s --token keywarden --pin-file %s --softhsm2-conf %s'
              % (BROKER_USER, MODULE, b.pin, b.conf))
    with open(logp, "wb") as logf:
        pid = os.posix_spawn("/usr/bin/setpriv", as_user(HSM_USER, ["/bin/sh", "-c", script, hsm]),
                             dict(os.environ), file_actions=[
                                 (os.POSIX_SPAWN_DUP2, ls.fileno(), 3),
                                 (os.POSIX_SPAWN_DUP2, logf.fileno(), 1),
                                 (os.POSIX_SPAWN_DUP2, logf.fileno(), 2)])
    ls.close()
    try:
        # the broker's user gets a session (kept open for 3 s after the reply)
        cl = subprocess.Popen(as_user(BROKER_USER, ["/usr/bin/python3", "-c", PROBE_AS_PEER.replace(
            "s.recv(65536)", "s.recv(65536); sys.stdout.write('x'); sys.stdout.flush(); "
            "__import__('time').sleep(3)"), path]), stdout=subprocess.PIPE)
        assert cl.stdout.read(1) == b"x", open(logp).read()
        srv = children(pid)
        assert len(srv) == 1, srv
        with open("/proc/%d/environ" % srv[0], "rb") as f:    # root may read it
            env = f.read()
        assert b"LISTEN_" not in env, env    # sd_listen_fds(unset_environment=1)
        out = cl.communicate(timeout=30)[0].decode().strip()
        assert out.startswith("REPLY ") and json.loads(out[6:])["ok"] is True, (out, open(logp).read())
        # root: refused
        out = subprocess.run(["/usr/bin/python3", "-c", PROBE_AS_PEER, path], stdout=subprocess.PIPE,
                             timeout=30).stdout.decode().strip()
        assert out == "EOF", out
    finally:
        os.kill(pid, signal.SIGTERM)
        _, status = os.waitpid(pid, 0)
    with open(logp) as f:
        log = f.read()
    assert os.waitstatus_to_exitcode(status) == 0, log
    assert "listening on the socket passed by systemd (fd 3)" in log, log
    assert "session for uid %d" % b.bu.pw_uid in log and "refused peer uid 0 " in log, log
    assert os.path.exists(path), "the supervisor removed a socket it did not create"


def t_serving_helper_environment(b):
    """--softhsm2-conf reaches the serving helper as SOFTHSM2_CONF."""
    helper = b.serving_helper()
    with open("/proc/%d/environ" % helper, "rb") as f:    # root may read it
        env = dict(x.split(b"=", 1) for x in f.read().split(b"\0") if b"=" in x)
    assert env.get(b"SOFTHSM2_CONF") == b.conf.encode(), env.get(b"SOFTHSM2_CONF")


def t_kill9_serving_helper(b):
    helper = b.serving_helper()
    os.kill(helper, signal.SIGKILL)
    t0 = time.monotonic()
    while True:
        st, ct, body = b.a.resource(b.tok, RES)
        if st == 200:
            break
        assert st == 503 and json.loads(body)["type"] == "urn:keywarden:problem:hsm_unavailable", (st, body)
        assert time.monotonic() - t0 < 10, "no success within 10 s after kill -9"
        time.sleep(0.1)
    MEASURED["kill9_to_first_success_s"] = round(time.monotonic() - t0, 3)
    assert b.a.decrypt(body) == b.value
    new = b.serving_helper()
    assert new != helper and proc_uid(new) == b.hu.pw_uid
    assert b.proc.poll() is None


TESTS = [t_users_and_full_flow, t_pin_and_token_closed_to_broker, t_helper_proc_closed_to_broker,
         t_foreign_peers_refused, t_unallowed_broker_refused, t_serving_helper_checks_its_peer,
         t_socket_activation, t_serving_helper_environment, t_kill9_serving_helper]


def main():
    if os.geteuid() != 0:
        print("SKIP: test_custody needs root (it creates users and switches uids); exit 77")
        return 77
    for tool in ("useradd", "setpriv"):
        if shutil.which(tool) is None:
            print("FAIL: %s is missing" % tool)
            return 1
    t0 = time.monotonic()
    rc = kwtest.run_tests(CustodyBroker(), TESTS, setup=setup)
    print("measured: %r (%.1f s in all)" % (MEASURED, time.monotonic() - t0))
    return rc


if __name__ == "__main__":
    sys.exit(main())
