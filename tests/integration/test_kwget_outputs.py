#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Integration: kwget's outputs for boot, against the real broker (through the
proxy of test_kwget_retry.py, which counts requests):

- --keyring user|session|@NAME read back with keyctl pipe and compared with
  the key the test imported, the key's description and permissions, the
  named keyring found again on second use;
- --format hex|base64;
- --out refuses an existing file (O_EXCL) before any request; --require-tmpfs
  refuses a persistent file system, and without it kwget warns;
- --stdout refused on a terminal (a pty) before any request, unless
  --force-tty.
"""
import base64
import os
import pty
import secrets
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kwtest  # noqa: E402
import test_kwget_retry as retry  # noqa: E402
from kwtest import KWGET  # noqa: E402
from test_kwget_retry import AUTH, RES, VALUE, fresh, kwget, one_line  # noqa: E402

TMPFS = "/dev/shm"
MEMORY_FS = ("1021994", "858458f6")     # statfs f_type of tmpfs and ramfs (stat -f -c %t)


def keyctl(*args, check=True):
    p = subprocess.run(["keyctl"] + list(args), capture_output=True, timeout=30)
    if check:
        assert p.returncode == 0, (args, p.stderr)
    return p


def t_keyring_outputs(b):
    """--keyring: the key never touches a file; keyctl reads back exactly the imported key."""
    b.proxy.plan()
    made = []
    try:
        tag = secrets.token_hex(4)
        # a named keyring under the user keyring, created on first use, found on the second
        ring = "@kwtest-" + tag
        serials = []
        for desc in (None, "disk-" + tag):
            extra = ["--key-description", desc] if desc else []
            p = kwget(b, "--keyring", ring, *extra)
            assert p.returncode == 0, p.stderr.decode()
            serial = p.stdout.decode().strip()
            assert serial.isdigit(), p.stdout
            made.append(serial)
            serials.append(serial)
            assert keyctl("pipe", serial).stdout == VALUE
            typ, uid, gid, perm, d = keyctl("rdescribe", serial).stdout.decode().strip().split(";", 4)
            assert typ == "user" and d == (desc or "keywarden:" + RES), (typ, d)
            assert perm == "3f0b0000", perm      # possessor all; user view, read, search
            assert "added to the keyring %s as key %s" % (ring[1:], serial) in p.stderr.decode(), p.stderr
        ring_id = keyctl("search", "@u", "keyring", ring[1:]).stdout.decode().strip()
        made.append(ring_id)
        listed = keyctl("rlist", ring_id).stdout.decode().split()
        assert sorted(listed) == sorted(serials), (listed, serials)
        # the user keyring
        p = kwget(b, "--keyring", "user", "--key-description", "kwtest-user-" + tag)
        assert p.returncode == 0, p.stderr.decode()
        serial = p.stdout.decode().strip()
        made.append(serial)
        assert keyctl("pipe", serial).stdout == VALUE
        assert serial in keyctl("rlist", "@u").stdout.decode().split()
        # the session keyring: a fresh one for kwget and the reader only
        p = subprocess.run(["keyctl", "session", "-", "sh", "-c", 's=$("$@") && keyctl pipe "$s"', "sh",
                            KWGET, "--url", b.proxy.url, "--cacert", b.ca, "--emulate", "snp", "--emu-dir",
                            os.path.join(b.dir, "emu"), "--resource", RES, "--keyring", "session", "--quiet"],
                           capture_output=True, timeout=90)
        assert p.returncode == 0 and p.stdout.endswith(VALUE), p
        # usage errors
        for args, want in ((["--keyring", "nowhere"], "user, session or @NAME"),
                           (["--keyring", "@"], "user, session or @NAME"),
                           (["--keyring", "user", "--format", "hex"], "--format applies to"),
                           (["--out", fresh(b), "--key-description", "x"], "needs --keyring"),
                           (["--keyring", "user", "--stdout"], "exactly one of")):
            p = kwget(b, *args)
            assert p.returncode == 1 and want in one_line(p), (args, p)
    finally:
        for s in made:
            keyctl("invalidate", s, check=False)


def t_formats(b):
    b.proxy.plan()
    p = kwget(b, "--stdout", "--quiet", "--format", "hex")
    assert p.returncode == 0 and p.stdout == VALUE.hex().encode(), p
    out = fresh(b, where=TMPFS)
    try:
        p = kwget(b, "--out", out, "--format", "base64", "--require-tmpfs")
        assert p.returncode == 0, p.stderr.decode()
        assert open(out, "rb").read() == base64.b64encode(VALUE)
        assert b"not on tmpfs" not in p.stderr and b"(base64)" in p.stderr, p.stderr
    finally:
        shutil.rmtree(os.path.dirname(out), ignore_errors=True)
    p = kwget(b, "--stdout", "--format", "pem")
    assert p.returncode == 1 and "raw, hex or base64" in one_line(p), p


def t_out_exclusive_and_tmpfs(b):
    """O_EXCL: an existing file is refused before any request; tmpfs is checked, or warned about."""
    out = fresh(b)
    with open(out, "wb") as f:
        f.write(b"keep me")
    b.proxy.plan(AUTH)
    p = kwget(b, "--out", out)
    assert p.returncode == 6 and "exists; refusing to overwrite" in one_line(p), p
    assert open(out, "rb").read() == b"keep me" and b.proxy.requests() == [], b.proxy.requests()
    # a directory on a persistent file system (the first of these that is not tmpfs/ramfs)
    persistent = None
    for d in (b.dir, kwtest.BUILD, kwtest.SRC):
        t = subprocess.run(["stat", "-f", "-c", "%t", d], capture_output=True, text=True).stdout.strip()
        if t and t not in MEMORY_FS:
            persistent = d
            break
    assert persistent is not None, "no persistent file system to test --require-tmpfs against"
    d = tempfile.mkdtemp(dir=persistent)
    try:
        out = os.path.join(d, "key")
        p = kwget(b, "--out", out, "--require-tmpfs")
        assert p.returncode == 6 and "is not on tmpfs or ramfs (--require-tmpfs)" in one_line(p), p
        assert not os.path.exists(out) and b.proxy.requests() == []
        p = kwget(b, "--out", out)
        assert p.returncode == 0 and open(out, "rb").read() == VALUE, p
        assert ("warning: %s is not on tmpfs or ramfs" % out) in p.stderr.decode(), p.stderr
        assert (os.stat(out).st_mode & 0o777) == 0o600
    finally:
        shutil.rmtree(d, ignore_errors=True)


def t_stdout_tty(b):
    """--stdout on a terminal is refused (before any request) unless --force-tty."""
    b.proxy.plan(AUTH)
    master, slave = pty.openpty()
    try:
        p = kwget(b, "--stdout", stdout=slave)
        assert p.returncode == 1 and "refusing to write the key to a terminal" in one_line(p), p
        assert b.proxy.requests() == []
        p = kwget(b, "--stdout", "--force-tty", "--format", "hex", "--quiet", stdout=slave)
        assert p.returncode == 0, p
        os.set_blocking(master, False)
        got = b""
        try:
            while True:
                chunk = os.read(master, 4096)
                if not chunk:
                    break
                got += chunk
        except BlockingIOError:
            pass
        assert got == VALUE.hex().encode(), got
    finally:
        os.close(master)
        os.close(slave)
    p = kwget(b, "--out", fresh(b), "--force-tty")
    assert p.returncode == 1 and "--force-tty needs --stdout" in one_line(p), p


def main():
    return retry.main([t_keyring_outputs, t_formats, t_out_exclusive_and_tmpfs, t_stdout_tty])


if __name__ == "__main__":
    sys.exit(main())
