#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The part of scripts/pkg-test.sh that runs inside the test root (chroot, own
network namespace): starts keywarden-hsm and keywarden from the installed unit
files, the way systemd would for the parts that matter here, registers a key
with the installed kwctl and fetches it with the installed kwget.

What is taken from the units, not from this script: the socket of
keywarden-hsm.socket (ListenSequentialPacket=, SocketUser=, SocketGroup=,
SocketMode=, DirectoryMode=), passed as fd 3 with LISTEN_FDS/LISTEN_PID;
every service's ExecStartPre= and ExecStart= command lines, User=, Group=
(with the user's supplementary groups), UMask=, StateDirectory= (+Mode),
LimitNOFILE=, LimitCORE=, LimitMEMLOCK=. Not emulated: the sandboxing
directives (namespaces, seccomp, capability bounding), Restart=, journald.

usage: pkg-test-inner.py UNITDIR WORKDIR EMUDIR
"""
import grp
import json
import os
import pwd
import resource
import shlex
import signal
import socket
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kw_unitfile import command, one, parse as parse_unit  # noqa: E402

UNITDIR, WORK, EMU = sys.argv[1:4]
CONFIG = "/etc/keywarden/keywarden.json"
PROFILE = "/etc/keywarden/kwctl.json"
CA = "/etc/keywarden/tls/ca.pem"


def log(msg):
    print("pkg-test: " + msg, flush=True)


def limit(name, value):
    res = {"LimitNOFILE": resource.RLIMIT_NOFILE, "LimitCORE": resource.RLIMIT_CORE,
           "LimitMEMLOCK": resource.RLIMIT_MEMLOCK}[name]
    v = value.strip().upper()
    mult = {"K": 1024, "M": 1024 ** 2, "G": 1024 ** 3}.get(v[-1:], 1)
    n = int(v[:-1] if mult > 1 else v) * mult
    try:
        resource.setrlimit(res, (n, n))
    except (ValueError, OSError):
        # this machine's hard limit is lower (no CAP_SYS_RESOURCE here);
        # systemd, as PID 1, would have the unit's value
        hard = resource.getrlimit(res)[1]
        resource.setrlimit(res, (min(n, hard), min(n, hard)))


def service_child(unit, argv, extra_env, pass_fd):
    """In a forked child: become the unit's user and exec argv."""
    svc = unit["Service"]
    user = one(unit, "Service", "User")
    pw = pwd.getpwnam(user)
    gid = grp.getgrnam(one(unit, "Service", "Group", user)).gr_gid
    for name in ("LimitNOFILE", "LimitCORE", "LimitMEMLOCK"):
        if name in svc:
            limit(name, svc[name][-1])
    if pass_fd is not None:
        os.dup2(pass_fd, 3)
        os.set_inheritable(3, True)
    os.initgroups(user, gid)
    os.setgid(gid)
    os.setuid(pw.pw_uid)
    os.umask(int(one(unit, "Service", "UMask", "0022"), 8))
    os.chdir("/")
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": pw.pw_dir,
           "USER": user, "LOGNAME": user}
    env.update(extra_env)
    if pass_fd is not None:
        env.update(LISTEN_FDS="1", LISTEN_PID=str(os.getpid()))
    os.execve(argv[0], argv, env)


def run_as(unit, argv, logf, pass_fd=None, wait=False):
    pid = os.fork()
    if pid == 0:
        try:
            os.dup2(logf.fileno(), 1)
            os.dup2(logf.fileno(), 2)
            service_child(unit, argv, {}, pass_fd)
        except BaseException:
            import traceback
            traceback.print_exc()
        finally:
            os._exit(127)
    if wait:
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status)
    return pid


def state_dirs(unit):
    user = one(unit, "Service", "User")
    pw = pwd.getpwnam(user)
    gid = grp.getgrnam(one(unit, "Service", "Group", user)).gr_gid
    mode = int(one(unit, "Service", "StateDirectoryMode", "0755"), 8)
    for name in " ".join(unit["Service"].get("StateDirectory", [])).split():
        d = os.path.join("/var/lib", name)
        os.makedirs(d, exist_ok=True)
        os.chown(d, pw.pw_uid, gid)
        os.chmod(d, mode)


def listen_socket(sock_unit):
    path = one(sock_unit, "Socket", "ListenSequentialPacket")
    os.makedirs(os.path.dirname(path), mode=int(one(sock_unit, "Socket", "DirectoryMode", "0755"), 8),
                exist_ok=True)
    if os.path.exists(path):
        os.unlink(path)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.bind(path)
    os.chown(path, pwd.getpwnam(one(sock_unit, "Socket", "SocketUser", "root")).pw_uid,
             grp.getgrnam(one(sock_unit, "Socket", "SocketGroup", "root")).gr_gid)
    os.chmod(path, int(one(sock_unit, "Socket", "SocketMode", "0666"), 8))
    s.listen(16)
    return s, path


def healthz(host, port):
    ctx = ssl.create_default_context(cafile=CA)
    with socket.create_connection((host, port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname=host) as t:
            t.sendall(b"GET /healthz HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % host.encode())
            return t.recv(64)


def kwctl(*args):
    p = subprocess.run(["/usr/bin/kwctl"] + list(args), env=dict(os.environ, KWCTL_PROFILE=PROFILE),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if p.returncode != 0:
        raise AssertionError("kwctl %s: exit %d: %s" % (" ".join(args), p.returncode, p.stdout.decode()))
    return p.stdout.decode()


def kwget(url, resource_name, out):
    return subprocess.run(["/usr/bin/kwget", "--url", url, "--cacert", CA, "--emulate", "snp",
                           "--emu-dir", EMU, "--resource", resource_name, "--out", out],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


FUNCTIONS_STUB = """# initramfs-tools' /scripts/functions, the parts local-top/kwget uses:
# this test root has only loopback, which is up already
configure_networking() { :; }
log_begin_msg() { echo "begin: $*"; }
log_end_msg() { echo "end: $*"; }
log_failure_msg() { echo "failure: $*"; }
"""


def initramfs_scripts(url, want):
    """The installed local-top script fetches the key of each configuration into
    /run/keywarden/NAME.key, the keyscript prints it for cryptroot, local-bottom
    removes it. Run here in the test root (with a stub of /scripts/functions),
    not in an initramfs: there is no busybox on this machine."""
    os.makedirs("/scripts", exist_ok=True)
    with open("/scripts/functions", "w") as f:
        f.write(FUNCTIONS_STUB)
    confdir = "/etc/keywarden/kwget"
    for name in os.listdir(confdir):
        if name.endswith(".conf"):
            os.unlink(os.path.join(confdir, name))
    with open(os.path.join(confdir, "root_crypt.conf"), "w") as f:
        f.write("KWGET_URL=%s\nKWGET_CACERT=%s\nKWGET_RESOURCE=pkg/key/disk\n"
                "KWGET_OPTS=--emulate snp --emu-dir %s\nKWGET_INITRAMFS=yes\n" % (url, CA, EMU))
    # and one whose key this guest may not have (policy "other")
    with open(os.path.join(confdir, "data_crypt.conf"), "w") as f:
        f.write("KWGET_URL=%s\nKWGET_CACERT=%s\nKWGET_RESOURCE=pkg/key/other\n"
                "KWGET_OPTS=--emulate snp --emu-dir %s\nKWGET_INITRAMFS=yes\n" % (url, CA, EMU))
    share = "/usr/share/initramfs-tools/scripts"
    p = subprocess.run(["sh", share + "/local-top/kwget"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    out = p.stdout.decode()
    assert p.returncode == 0 and "end: 0" in out, "local-top/kwget: %d: %s" % (p.returncode, out)
    assert "failure: kwget: no key for data_crypt" in out, out
    assert not os.path.exists("/run/keywarden/data_crypt.key")
    env = dict(os.environ, CRYPTTAB_NAME="data_crypt", CRYPTTAB_TRIED="0")
    p = subprocess.run(["/usr/lib/kwget/keyscript", "/run/keywarden/data_crypt.key"], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert p.returncode != 0 and p.stdout == b"", "keyscript printed something without a key"
    key = "/run/keywarden/root_crypt.key"
    st = os.stat(key)
    assert st.st_mode & 0o777 == 0o600 and os.stat("/run/keywarden").st_mode & 0o777 == 0o700
    env = dict(os.environ, CRYPTTAB_NAME="root_crypt", CRYPTTAB_TRIED="0")
    p = subprocess.run(["/usr/lib/kwget/keyscript", key], env=env, stdout=subprocess.PIPE)
    assert p.returncode == 0 and p.stdout == want, "keyscript did not print the registered key"
    p = subprocess.run(["sh", share + "/local-bottom/kwget"])
    assert p.returncode == 0 and not os.path.exists(key), "local-bottom/kwget left the key"
    log("initramfs scripts: local-top fetched root_crypt.key (0600, tmpfs) and none for "
        "data_crypt (policy not met), the keyscript printed the registered key (and nothing "
        "for data_crypt: no askpass here), local-bottom removed it")


def main():
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    sock_unit = parse_unit(os.path.join(UNITDIR, "keywarden-hsm.socket"))
    hsm_unit = parse_unit(os.path.join(UNITDIR, "keywarden-hsm.service"))
    kw_unit = parse_unit(os.path.join(UNITDIR, "keywarden.service"))
    for u, name in ((hsm_unit, "keywarden-hsm"), (kw_unit, "keywarden")):
        assert one(u, "Service", "User") == name, "%s.service: User= is not %s" % (name, name)
    pids = []
    hsm_log = open(os.path.join(WORK, "keywarden-hsm.log"), "ab")
    kw_log = open(os.path.join(WORK, "keywarden.log"), "ab")
    try:
        s, path = listen_socket(sock_unit)
        st = os.stat(path)
        log("socket %s %s:%s %o (from keywarden-hsm.socket)" % (
            path, pwd.getpwuid(st.st_uid).pw_name, grp.getgrgid(st.st_gid).gr_name, st.st_mode & 0o777))
        state_dirs(hsm_unit)
        argv = command(one(hsm_unit, "Service", "ExecStart"))
        log("keywarden-hsm as %s: %s" % (one(hsm_unit, "Service", "User"), " ".join(argv)))
        pids.append(run_as(hsm_unit, argv, hsm_log, pass_fd=s.fileno()))
        s.close()

        state_dirs(kw_unit)
        for pre in kw_unit["Service"].get("ExecStartPre", []):
            rc = run_as(kw_unit, command(pre), kw_log, wait=True)
            assert rc == 0, "ExecStartPre %s: exit %d" % (pre, rc)
        argv = command(one(kw_unit, "Service", "ExecStart"))
        log("keywarden as %s: %s" % (one(kw_unit, "Service", "User"), " ".join(argv)))
        pids.append(run_as(kw_unit, argv, kw_log))

        with open(CONFIG) as f:
            cfg = json.load(f)
        host, _, port = cfg["listen"].rpartition(":")
        url = "https://%s:%s" % (host, port)
        deadline = time.time() + 30
        while True:
            pid, _ = os.waitpid(pids[-1], os.WNOHANG)
            assert pid == 0, "keywarden exited at start"
            try:
                if healthz(host, int(port)).startswith(b"HTTP/1.1 200"):
                    break
            except OSError:
                pass
            assert time.time() < deadline, "keywarden not ready in 30 s"
            time.sleep(0.2)
        log("broker ready at %s" % url)

        with open(os.path.join(EMU, "emu.json")) as f:
            measurement = json.load(f)["measurement"]
        docs = {"pkgtest": [measurement], "other": ["00" * 48]}
        for name, vals in docs.items():
            p = os.path.join(WORK, "policy-%s.json" % name)
            with open(p, "w") as f:
                json.dump({"version": 1, "allow_test_roots": True, "reference_values": {
                    "measurements": [{"value": v} for v in vals]}}, f)
            kwctl("policy", "put", "pkg/" + name, "--file", p)
        want = os.urandom(32)
        kf = os.path.join(WORK, "registered.key")
        fd = os.open(kf, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, want)
        os.close(fd)
        kwctl("key", "import", "pkg/key/disk", "--algorithm", "aes-256", "--policy", "pkgtest",
              "--value-file", kf)
        kwctl("key", "create", "pkg/key/other", "--algorithm", "aes-256", "--policy", "other")
        log("registered pkg/key/disk (imported, policy pkgtest) and pkg/key/other (policy other)")

        out = os.path.join(WORK, "released.key")
        p = kwget(url, "pkg/key/disk", out)
        assert p.returncode == 0, "kwget: exit %d: %s" % (p.returncode, p.stdout.decode())
        with open(out, "rb") as f:
            got = f.read()
        assert got == want, "kwget received %d bytes that differ from the registered key" % len(got)
        assert (os.stat(out).st_mode & 0o777) == 0o600
        log("kwget received pkg/key/disk: the registered 32 bytes")
        example = os.path.join(WORK, "kwattester-example")
        if os.path.exists(example):
            p = subprocess.run([example, url, CA, "pkg/key/disk", "snp", EMU],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            assert p.returncode == 0, "kwattester-example: exit %d: %s" % (
                p.returncode, p.stderr.decode())
            assert ("key %s" % want.hex()) in p.stdout.decode().splitlines(), \
                "kwattester-example (libkwattester0) printed another key"
            log("kwattester-example, built against the installed libkwattester-dev, "
                "received the same key through libkwattester.so.0")
        initramfs_scripts(url, want)
        p = kwget(url, "pkg/key/other", os.path.join(WORK, "other.key"))
        assert p.returncode == 3 and not os.path.exists(os.path.join(WORK, "other.key")), \
            "kwget for a key whose policy the guest does not meet: exit %d: %s" % (
                p.returncode, p.stdout.decode())
        log("kwget refused pkg/key/other (policy not met, exit 3)")
    finally:
        for pid in reversed(pids):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        codes = []
        for pid in reversed(pids):
            end = time.time() + 20
            while True:
                r, status = os.waitpid(pid, os.WNOHANG)
                if r:
                    codes.append(os.waitstatus_to_exitcode(status))
                    break
                if time.time() > end:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                    codes.append("killed")
                    break
                time.sleep(0.1)
    assert codes == [0, 0], "exit status of keywarden, keywarden-hsm after SIGTERM: %r" % (codes,)
    log("keywarden and keywarden-hsm ended with status 0 on SIGTERM")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print("pkg-test: FAIL: %s" % e, flush=True)
        sys.exit(1)
