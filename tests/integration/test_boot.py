#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Integration: a LUKS2 volume key released by keywarden (docs/boot.md).

A LUKS2 file container is formatted with a key that the independent Python
client (kwtest.Attester) received from a real broker; then kwget, with the
emulated SEV-SNP TEE, fetches the same key the way the boot integration
does, and cryptsetup checks it against the container's key slot
(`cryptsetup open --test-passphrase --key-file -`: no device mapper is needed
for that, and this machine has none, so the mapping itself is not tested).

* the kwget@.service template is checked with systemd-analyze verify, and its
  ExecStartPre/ExecStart/ExecStop lines are run with an instance
  configuration written from deploy/etc/keywarden/kwget/example.conf (paths
  moved into a temporary directory, the build's kwget);
* kwget --stdout piped into cryptsetup, as a keyscript does;
* a wrong key and another resource's key are refused by cryptsetup;
* KWGET_OUTPUT=--keyring user ... in the instance configuration and a LUKS2
  keyring token: no key file at all.
"""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
import kwtest  # noqa: E402
import kw_unitfile  # noqa: E402
from kwtest import Attester, Broker  # noqa: E402

RES = "boot/key/data"
OTHER = "boot/key/other"
CRYPTSETUP = shutil.which("cryptsetup") or "/sbin/cryptsetup"
state = {}


def cryptsetup_accepts(container, key):
    p = subprocess.run([CRYPTSETUP, "open", "--test-passphrase", "--key-file", "-", container],
                       input=key, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    return p.returncode


def setup(b):
    b.provision(RES)
    b.provision(OTHER)
    a = Attester(b)
    st, ctype, jwe = a.resource(a.token(), RES)
    assert st == 200 and ctype == "application/jose", (st, ctype, jwe)
    key = a.decrypt(jwe)
    assert len(key) == 32
    d = tempfile.mkdtemp(prefix="boot-", dir=b.dir)
    keyfile = os.path.join(d, "enrol.key")
    fd = os.open(keyfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, key)
    os.close(fd)
    container = os.path.join(d, "volume.luks")
    with open(container, "wb") as f:
        f.truncate(20 * 1024 * 1024)
    p = subprocess.run([CRYPTSETUP, "luksFormat", "--type", "luks2", "--pbkdf", "pbkdf2",
                        "--pbkdf-force-iterations", "1000", "--batch-mode", "--key-file", keyfile,
                        container], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    assert p.returncode == 0, p.stderr.decode()
    os.unlink(keyfile)
    state.update(dir=d, container=container, key=key)


def t_container_checks_keys():
    """The container accepts the enrolled key and refuses a wrong one (the check can fail)."""
    assert cryptsetup_accepts(state["container"], state["key"]) == 0
    wrong = bytes([state["key"][0] ^ 1]) + state["key"][1:]
    assert cryptsetup_accepts(state["container"], wrong) == 2


def unit_copy(d, run=None):
    """deploy/kwget@.service with the paths moved under d (/run/keywarden to run)
    and the build's kwget, saved as kwget@data.service; returns (path, unit)."""
    with open(os.path.join(kwtest.SRC, "deploy", "kwget@.service")) as f:
        text = f.read()
    for a, b in (("/usr/bin/kwget", kwtest.KWGET), ("/run/keywarden", run or os.path.join(d, "run")),
                 ("/etc/keywarden/kwget", os.path.join(d, "etc"))):
        assert a in text, a
        text = text.replace(a, b)
    path = os.path.join(d, "kwget@data.service")
    with open(path, "w") as f:
        f.write(text)
    return path, kw_unitfile.parse(path)


def t_unit_verifies(b):
    """systemd-analyze verify accepts the template (as instance data) without warnings."""
    d = tempfile.mkdtemp(dir=state["dir"])
    path, unit = unit_copy(d)
    u = unit["Unit"]
    assert u["DefaultDependencies"] == ["no"]
    assert "cryptsetup-pre.target" in " ".join(u["Before"]).split()
    assert "network-online.target" in u["Wants"] and "network-online.target" in u["After"]
    p = subprocess.run(["systemd-analyze", "verify", path], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=60)
    out = p.stdout.decode()
    assert p.returncode == 0, out
    # systemd-analyze verify also reports problems of other units it loads; none may be ours
    assert "kwget@" not in out, out


def t_unit_command_lines_unlock(b):
    """ExecStartPre/ExecStart/ExecStop of kwget@data with data.conf made from
    example.conf: the key lands in RUN/data.key (0600, tmpfs) and opens the container."""
    d = tempfile.mkdtemp(dir=state["dir"])
    # the unit says --require-tmpfs: its run directory is on tmpfs here too
    run = tempfile.mkdtemp(prefix="kwtest-boot-", dir="/dev/shm")
    try:
        unit_command_lines(b, d, run)
    finally:
        shutil.rmtree(run, ignore_errors=True)


def unit_command_lines(b, d, run):
    _, unit = unit_copy(d, run)
    svc = unit["Service"]
    os.makedirs(os.path.join(d, "etc"))
    with open(os.path.join(kwtest.SRC, "deploy", "etc", "keywarden", "kwget", "example.conf")) as f:
        conf = f.read()
    values = {"KWGET_URL": b.url, "KWGET_CACERT": b.ca, "KWGET_RESOURCE": RES,
              "KWGET_OPTS": "--emulate snp --emu-dir " + os.path.join(b.dir, "emu")}
    lines = []
    for line in conf.splitlines():
        k = line.partition("=")[0]
        lines.append("%s=%s" % (k, values.pop(k)) if k in values else line)
    assert not values, "example.conf lacks %r" % values
    conf_path = os.path.join(d, "etc", "data.conf")
    with open(conf_path, "w") as f:
        f.write("\n".join(lines) + "\n")
    assert [v.replace("%i", "data") for v in svc["EnvironmentFile"]] == [conf_path]
    env = kw_unitfile.service_env(unit, "data")
    assert env["KWGET_OUTPUT"] == "--out %s/data.key --require-tmpfs" % run, env
    assert svc["UMask"] == ["0077"]
    old = os.umask(0o077)
    try:
        for key in ("ExecStartPre", "ExecStart"):
            argv = kw_unitfile.command(svc[key][0], "data", env)
            p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
            assert p.returncode == 0, (key, argv, p.stderr.decode())
    finally:
        os.umask(old)
    keyfile = os.path.join(run, "data.key")
    assert (os.stat(keyfile).st_mode & 0o777) == 0o600
    with open(keyfile, "rb") as f:
        got = f.read()
    assert got == state["key"], "kwget@data wrote another key"
    with open(keyfile, "rb") as f:
        p = subprocess.run([CRYPTSETUP, "open", "--test-passphrase", "--key-file", "-",
                            state["container"]], stdin=f, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
    assert p.returncode == 0, p.stderr.decode()
    # a restart starts afresh: kwget --out refuses an existing file (O_EXCL), and
    # ExecStartPre removes it first
    argv = kw_unitfile.command(svc["ExecStart"][0], "data", env)
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    assert p.returncode != 0 and open(keyfile, "rb").read() == got, "kwget overwrote a key file"
    argv = kw_unitfile.command(svc["ExecStartPre"][0], "data", env)
    assert subprocess.run(argv, timeout=10).returncode == 0
    assert not os.path.exists(keyfile)
    open(keyfile, "wb").close()
    argv = kw_unitfile.command(svc["ExecStop"][0], "data", env)
    assert subprocess.run(argv, timeout=10).returncode == 0
    assert not os.path.exists(keyfile)


def t_kwget_stdout_pipe_unlocks(b):
    """kwget --stdout | cryptsetup open --test-passphrase --key-file - (a keyscript's pipe)."""
    kw = subprocess.Popen([kwtest.KWGET, "--url", b.url, "--cacert", b.ca, "--emulate", "snp",
                           "--emu-dir", os.path.join(b.dir, "emu"), "--resource", RES, "--stdout"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    cs = subprocess.run([CRYPTSETUP, "open", "--test-passphrase", "--key-file", "-",
                         state["container"]], stdin=kw.stdout, stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE, timeout=60)
    kw.stdout.close()
    err = kw.stderr.read().decode()
    assert kw.wait(timeout=60) == 0, err
    assert cs.returncode == 0, cs.stderr.decode()


def t_other_key_refused(b):
    """The key of another resource, released by kwget just as well, does not open the volume."""
    p = b.kwget("--resource", OTHER, "--stdout", check=True)
    assert len(p.stdout) == 32 and p.stdout != state["key"]
    assert cryptsetup_accepts(state["container"], p.stdout) == 2


def t_unit_keyring_output(b):
    """KWGET_OUTPUT=--keyring user ... in NAME.conf replaces the unit's key file:
    kwget@data's ExecStart puts the key into root's user keyring only, and a
    LUKS2 keyring token naming it opens the volume (--token-only)."""
    d = tempfile.mkdtemp(dir=state["dir"])
    _, unit = unit_copy(d)
    os.makedirs(os.path.join(d, "etc"))
    container = os.path.join(d, "volume.luks")
    shutil.copyfile(state["container"], container)
    desc = "kwtest-boot:%d:%s" % (os.getpid(), os.urandom(4).hex())
    conf = ["KWGET_URL=" + b.url, "KWGET_CACERT=" + b.ca, "KWGET_RESOURCE=" + RES,
            "KWGET_OUTPUT=--keyring user --key-description " + desc,
            "KWGET_OPTS=--emulate snp --emu-dir " + os.path.join(b.dir, "emu")]
    with open(os.path.join(d, "etc", "data.conf"), "w") as f:
        f.write("\n".join(conf) + "\n")
    p = subprocess.run([CRYPTSETUP, "token", "add", "--key-description", desc, container],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    assert p.returncode == 0, p.stderr.decode()

    def token_only():
        return subprocess.run([CRYPTSETUP, "open", "--test-passphrase", "--token-only", container],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60).returncode
    assert token_only() != 0, "the token opened the volume before kwget ran"
    argv = kw_unitfile.command(unit["Service"]["ExecStart"][0], "data",
                               kw_unitfile.service_env(unit, "data"))
    assert "--out" not in argv, argv
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    assert p.returncode == 0, p.stderr.decode()
    serial = p.stdout.decode().strip()
    assert serial.isdigit(), p.stdout
    try:
        assert token_only() == 0
    finally:
        subprocess.run(["keyctl", "unlink", serial, "@u"], stdout=subprocess.DEVNULL, timeout=10)
    assert token_only() != 0, "the volume still opens after the key was unlinked"
    assert not os.path.exists(os.path.join(d, "run")), "a key file was written"


def main():
    if not os.path.exists(CRYPTSETUP):
        print("cryptsetup is not installed (scripts/install-deps.sh installs cryptsetup-bin)")
        return 1
    b = Broker()
    tests = [lambda b: t_container_checks_keys(), t_unit_verifies, t_unit_command_lines_unlock,
             t_kwget_stdout_pipe_unlocks, t_other_key_refused, t_unit_keyring_output]
    tests[0].__name__ = "t_container_checks_keys"
    return kwtest.run_tests(b, tests, setup=setup)


if __name__ == "__main__":
    sys.exit(main())
