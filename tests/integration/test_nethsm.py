#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Integration: the HSM reached over the network, through p11-kit's remote module.

`p11-kit server` exposes the broker's SoftHSM2 token on a Unix socket in a
temporary directory; keywarden-hsm loads p11-kit-client.so
(P11_KIT_SERVER_ADDRESS in the broker's environment, which the helper
inherits) with hsm.release_assembly "helper" (p11-kit 0.24 cannot forward
CKM_AES_CBC, docs/hsm.md "Release through a network HSM").

Checked: releases work through it and decrypt to the same value; the
server killed (its whole process group) -> every release is answered 503
hsm_unavailable within the call deadline, the broker and the helper stay;
the server restarted -> releases work again without restarting either
(the helper reconnects from C_Initialize); the server stopped (SIGSTOP) ->
503 within the deadline (the hung helper is replaced), continued -> works.
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kwtest import Broker, run_tests  # noqa: E402
from test_hsm_faults import (Client, expect_hsm_503 as expect_503, helper_pids,  # noqa: E402
                             release_ok, setup)

CLIENT_MODULE = "/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so"
SOFTHSM = "/usr/lib/softhsm/libsofthsm2.so"
DEADLINE = 2          # hsm.call_timeout
ADMIN_DEADLINE = 6    # hsm.admin_timeout (a fresh helper's start-up allowance)
SLACK = 1.5           # scheduling on a shared 2-vCPU machine


class Server:
    """`p11-kit server` for the broker's token, in its own process group."""

    def __init__(self, b):
        self.b = b
        self.tmp = tempfile.mkdtemp(prefix="kwp11-")
        self.sock = os.path.join(self.tmp, "p11.sock")
        self.proc = None

    @property
    def address(self):
        return "unix:path=" + self.sock

    def start(self):
        if os.path.exists(self.sock):
            os.unlink(self.sock)
        env = dict(os.environ, SOFTHSM2_CONF=os.path.join(self.b.dir, "softhsm2.conf"))
        self.log = open(os.path.join(self.tmp, "server.log"), "ab")
        self.proc = subprocess.Popen(["p11-kit", "server", "-f", "-n", self.sock, "--provider", SOFTHSM,
                                      "pkcs11:token=keywarden"], env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 10
        while not os.path.exists(self.sock):
            assert self.proc.poll() is None, "p11-kit server exited with %r" % self.proc.returncode
            assert time.time() < deadline, "p11-kit server made no socket"
            time.sleep(0.05)

    def signal(self, sig):
        """sig to the server and the children serving connections."""
        assert self.proc is not None, "the server is not running"
        os.killpg(self.proc.pid, sig)

    def kill(self):
        if self.proc is None:
            return
        try:
            self.signal(signal.SIGCONT)
            self.signal(signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=10)
        self.proc = None
        self.log.close()

    def cleanup(self):
        self.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)


def test_release_through_p11_kit(b):
    log = b.log()
    assert "assembled in the helper" in log, log[-2000:]
    # the module the helper loaded is the remote one: its library description is p11-kit's
    # or the server's token's; either way the release works and is the same value twice
    st, ct, body, _ = b.c.release()
    assert st == 200 and b.c.a.decrypt(body) == b.value
    # a second workload key (another TEE key) gets the same secret
    other = Client(b)
    st, ct, body, _ = other.release()
    assert st == 200, (st, body)
    assert other.a.decrypt(body) == b.value
    # the transport step's value never appears in the broker's log
    assert b.value.hex() not in b.log()


def test_secret_sizes(b):
    """Helper assembly carries one RSA-2048 OAEP block: secrets up to 208 bytes."""
    for tag, length, ok in (("s208", 208, True), ("s209", 209, False)):
        st, _, body = b.admin("POST", "/admin/v1/keys", {"repository": "demo", "type": "key", "tag": tag,
                                                         "algorithm": "secret", "length": length,
                                                         "policy": "demo"})
        assert st == 201, (st, body)
        st, ct, body = b.c.a.resource(b.c.tok, "demo/key/" + tag)
        if ok:
            assert st == 200, (tag, st, body)
            assert len(b.c.a.decrypt(body)) == length
        else:
            expect_503(st, ct, body, tag)


def test_server_killed_then_restarted(b):
    helpers = helper_pids(b)
    assert len(helpers) == 1, helpers
    b.server.kill()
    times = []
    for i in range(6):
        st, ct, body, el = b.c.release()
        expect_503(st, ct, body, "server down, release %d" % i)
        times.append(el)
    assert max(times) <= DEADLINE + SLACK, times
    assert b.proc.poll() is None, "the broker died"
    # the same helper answered (it reported the failure, it did not hang)
    assert helper_pids(b) == helpers, (helper_pids(b), helpers)
    print("  server down: 6 releases answered 503 in %.3f..%.3f s" % (min(times), max(times)))
    b.server.start()
    took = release_ok(b, b.c, "server restarted", within=15.0)
    print("  server restarted: first success after %.2f s" % took)
    assert helper_pids(b) == helpers, "the helper was replaced instead of reconnecting"
    assert b.proc.poll() is None


def test_server_stopped_then_continued(b):
    b.server.signal(signal.SIGSTOP)
    try:
        st, ct, body, el = b.c.release()
        expect_503(st, ct, body, "server stopped")
        assert DEADLINE - 0.2 <= el <= DEADLINE + SLACK, el
        print("  server stopped: 503 after %.2f s (deadline %d s)" % (el, DEADLINE))
    finally:
        b.server.signal(signal.SIGCONT)
    took = release_ok(b, b.c, "server continued", within=15.0)
    print("  server continued: first success after %.2f s" % took)
    assert b.proc.poll() is None


def main():
    def edit(cfg):
        cfg["hsm"]["module"] = CLIENT_MODULE
        cfg["hsm"]["release_assembly"] = "helper"
        cfg["hsm"]["call_timeout"] = DEADLINE
        cfg["hsm"]["admin_timeout"] = ADMIN_DEADLINE

    b = Broker(config_edit=edit)
    server = Server(b)
    b.server = server
    server.start()
    b.env["P11_KIT_SERVER_ADDRESS"] = server.address
    try:
        return run_tests(b, [test_release_through_p11_kit, test_secret_sizes, test_server_killed_then_restarted,
                             test_server_stopped_then_continued], setup=setup)
    finally:
        server.cleanup()


if __name__ == "__main__":
    sys.exit(main())
