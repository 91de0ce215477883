#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Integration: kwget's and libkwattester's retries, against the real broker
behind a small TLS proxy on loopback (the proxy is also used by
test_kwget_outputs.py).

The proxy (TLS 1.3 with the broker's own certificate; the broker's public_url
names the proxy, so DPoP proofs made for the proxy's URL are the broker's)
forwards every request unless a test queued answers for a path: 503 with
Retry-After (seconds or an HTTP date), 429, 502, 403, 400. It records the
time of every request. Checked:

- retries: two 503 + Retry-After: 1 on /auth, then success with the key the
  test imported; the gaps respect Retry-After; 429/502 on later steps; an
  HTTP-date Retry-After; no retry on 400/403; --retries 0; a Retry-After past
  the deadline ends at once; deadline exhaustion (503s, connection refused)
  ends with the documented exit code within the deadline;
- the example program, linked against libkwattester.so.0, gets the same key.
"""
import email.utils
import http.client
import http.server
import json
import os
import secrets
import ssl
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kwtest  # noqa: E402
from kwtest import KWGET, Broker  # noqa: E402

KWCTL = os.path.join(kwtest.BUILD, "tools", "kwctl")
EXAMPLE = os.path.join(kwtest.BUILD, "attester", "examples", "kwattester-example")
LIBDIR = os.path.join(kwtest.BUILD, "attester")
RES = "demo/key/boot"
VALUE = secrets.token_bytes(32)


class Proxy:
    """TLS front of the broker with queued canned answers per path."""

    def __init__(self, b, port):
        self.b = b
        self.port = port
        self.url = "https://127.0.0.1:%d" % port
        self.queue = {}      # path -> [(status, headers)]
        self.seen = []       # (monotonic time, method, path, status answered)
        self.lock = threading.Lock()
        proxy = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def handle_one(self, method):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else None
                with proxy.lock:
                    q = proxy.queue.get(self.path)
                    canned = q.pop(0) if q else None
                if canned is not None:
                    status, hdrs = canned
                    out = json.dumps({"type": "urn:keywarden:problem:test", "title": "canned",
                                      "status": status, "detail": "proxy answer %d" % status}).encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/problem+json")
                    for k, v in hdrs.items():
                        self.send_header(k, v() if callable(v) else v)
                else:
                    c = http.client.HTTPSConnection("127.0.0.1", proxy.b.port, context=proxy.b.ssl_context(),
                                                    timeout=30)
                    fwd = {k: v for k, v in self.headers.items()
                           if k.lower() in ("content-type", "authorization", "dpop", "accept")}
                    c.request(method, self.path, body=body, headers=fwd)
                    r = c.getresponse()
                    out = r.read()
                    status = r.status
                    self.send_response(status)
                    for k, v in r.getheaders():
                        if k.lower() in ("content-type", "dpop-nonce", "www-authenticate", "retry-after"):
                            self.send_header(k, v)
                    c.close()
                with proxy.lock:
                    proxy.seen.append((time.monotonic(), method, self.path, status))
                self.send_header("Content-Length", str(len(out)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(out)
                self.close_connection = True

            def do_GET(self):
                self.handle_one("GET")

            def do_POST(self):
                self.handle_one("POST")

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        ctx.load_cert_chain(os.path.join(b.tls_dir, "server.pem"), os.path.join(b.tls_dir, "server.key"))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), H)
        self.httpd.daemon_threads = True
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def plan(self, path=None, *answers):
        """Forget earlier plans and requests; queue answers for path."""
        with self.lock:
            self.queue = {path: list(answers)} if path else {}
            self.seen = []

    def requests(self, path=None):
        with self.lock:
            return [s for s in self.seen if path is None or s[2] == path]

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


AUTH, ATTEST = "/kbs/v0/auth", "/kbs/v0/attest"
RESOURCE = "/kbs/v0/resource/" + RES


def kwget(b, *args, url=None, env=None, stdout=subprocess.PIPE, timeout=90):
    cmd = [KWGET, "--url", url or b.proxy.url, "--cacert", b.ca, "--emulate", "snp",
           "--emu-dir", os.path.join(b.dir, "emu"), "--resource", RES] + list(args)
    t0 = time.monotonic()
    p = subprocess.run(cmd, stdout=stdout, stderr=subprocess.PIPE, env=env, timeout=timeout)
    p.ended = time.monotonic()
    p.elapsed = p.ended - t0
    return p


def fresh(b, name="key", where=None):
    return os.path.join(tempfile.mkdtemp(dir=where or b.dir), name)


def one_line(p):
    err = p.stderr.decode()
    assert err.count("\n") == 1 and err.startswith("kwget: "), err
    return err


def setup(b):
    b.proxy = Proxy(b, b.proxy_port)
    env = dict(os.environ, KWCTL_PROFILE=os.path.join(b.dir, "kwctl.json"))
    st, _, r = b.admin("PUT", "/admin/v1/policies/demo/boot", {"document": kwtest.policy_for(b.emu["measurement"])})
    assert st == 201, (st, r)
    p = subprocess.run([KWCTL, "key", "import", RES, "--algorithm", "aes-256", "--policy", "boot",
                        "--value-hex", VALUE.hex()], env=env, capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr.decode()


# ---------------------------------------------------------------- retries

def t_retry_after_503_twice(b):
    """Two 503 + Retry-After: 1 on /auth, then the broker: the key, after at least 1 s each."""
    b.proxy.plan(AUTH, (503, {"Retry-After": "1"}), (503, {"Retry-After": "1"}))
    out = fresh(b)
    p = kwget(b, "--out", out)
    err = p.stderr.decode()
    assert p.returncode == 0, err
    assert open(out, "rb").read() == VALUE
    auth = b.proxy.requests(AUTH)
    assert [s[3] for s in auth] == [503, 503, 200], auth
    gaps = [auth[i + 1][0] - auth[i][0] for i in range(2)]
    assert all(g >= 0.95 for g in gaps), gaps          # Retry-After is a lower bound
    assert all(g < 3.0 for g in gaps), gaps             # and the delay is not much more
    assert err.count("retrying in 1.000 s") == 2, err
    assert "attempt 2 of 6" in err and "attempt 3 of 6" in err, err


def t_retry_429_502_and_http_date(b):
    """429 (Retry-After as an HTTP date) on /attest, 502 on the resource: retried, released."""
    def when():     # 2 s after the answer, in whole seconds: a wait of 1 to 2 s
        return email.utils.formatdate(time.time() + 2, usegmt=True)
    b.proxy.plan(ATTEST, (429, {"Retry-After": when}))
    b.proxy.queue[RESOURCE] = [(502, {})]
    p = kwget(b, "--stdout", "--quiet")
    assert p.returncode == 0 and p.stdout == VALUE, p
    att, res = b.proxy.requests(ATTEST), b.proxy.requests(RESOURCE)
    assert [s[3] for s in att] == [429, 200] and [s[3] for s in res] == [502, 200], (att, res)
    assert att[1][0] - att[0][0] >= 0.95, att


def t_no_retry_on_client_errors(b):
    """400 and 403 are final: one request, their exit codes."""
    for status, code in ((403, 3), (400, 5)):
        b.proxy.plan(AUTH, (status, {"Retry-After": "1"}))
        p = kwget(b, "--stdout", "--quiet")
        assert p.returncode == code and "auth failed: HTTP %d canned" % status in one_line(p), (status, p)
        assert len(b.proxy.requests(AUTH)) == 1 and p.stdout == b"", b.proxy.requests()


def t_retries_zero(b):
    b.proxy.plan(AUTH, (503, {"Retry-After": "1"}))
    p = kwget(b, "--stdout", "--quiet", "--retries", "0")
    assert p.returncode == 5 and "HTTP 503 canned: proxy answer 503" in one_line(p), p
    assert len(b.proxy.requests(AUTH)) == 1 and p.elapsed < 5, p.elapsed


def t_retry_after_past_deadline(b):
    """Retry-After: 60 with 10 s left: give up at once (exit 5), no sleeping."""
    b.proxy.plan(AUTH, *[(503, {"Retry-After": "60"})] * 5)
    p = kwget(b, "--stdout", "--quiet", "--deadline", "10")
    err = one_line(p)
    assert p.returncode == 5 and "(Retry-After 60 s is past the deadline)" in err, p
    auth = b.proxy.requests(AUTH)
    assert len(auth) == 1 and p.ended - auth[0][0] < 2, (p.ended, auth)


def t_deadline_exhausted(b):
    """Transient failures until the deadline: exit 5 (503) or 2 (nothing listening), in time."""
    b.proxy.plan(AUTH, *[(503, {})] * 1000)
    p = kwget(b, "--stdout", "--quiet", "--deadline", "5", "--retries", "1000")
    err = one_line(p)
    assert p.returncode == 5 and "deadline of 5.000 s reached after" in err, p
    auth = b.proxy.requests(AUTH)
    assert p.elapsed < 5 + 1, p.elapsed           # the deadline counts from the start (keys included)
    # key generation (RSA-3072) takes a variable part of the 5 s; with more than 1.5 s left at
    # the first 503 there is room for a retry (first backoff at most 0.5 s), and it was made
    left = p.ended - p.elapsed + 5 - auth[0][0]
    assert len(auth) >= (2 if left > 1.5 else 1), (left, auth)
    port = kwtest.free_port()
    p = kwget(b, "--stdout", "--quiet", "--deadline", "3", "--retries", "1000", url="https://127.0.0.1:%d" % port)
    err = one_line(p)
    assert p.returncode == 2 and "auth failed" in err and "deadline of 3.000 s reached" in err, p
    assert p.elapsed < 3 + 1, p.elapsed


# ---------------------------------------------------------------- the library

def t_example_program(b):
    """kwattester-example (public header, libkwattester.so.0) gets the same key through retries."""
    need = subprocess.run(["readelf", "-d", EXAMPLE], capture_output=True, text=True).stdout
    assert "libkwattester.so.0" in need, need
    b.proxy.plan(AUTH, (503, {"Retry-After": "1"}))
    env = dict(os.environ, LD_LIBRARY_PATH=LIBDIR)
    p = subprocess.run([EXAMPLE, b.proxy.url, b.ca, RES, "snp", os.path.join(b.dir, "emu")],
                       capture_output=True, timeout=90, env=env)
    assert p.returncode == 0, p.stderr.decode()
    lines = p.stdout.decode().splitlines()
    assert lines == ["tee snp", "length 32", "key " + VALUE.hex()], lines
    err = p.stderr.decode()
    assert "warning: evidence: EMULATED" in err and "retrying in 1.000 s" in err, err
    assert [s[3] for s in b.proxy.requests(AUTH)] == [503, 200]
    # a failure: the library's status and message
    p = subprocess.run([EXAMPLE, b.proxy.url, b.ca, "demo/key/nope", "snp", os.path.join(b.dir, "emu")],
                       capture_output=True, timeout=90, env=env)
    assert p.returncode == 4 and "resource failed: HTTP 404" in p.stderr.decode(), p


def main(tests=None):
    proxy_port = kwtest.free_port()
    b = Broker(config_edit=lambda c: c.update(public_url="https://127.0.0.1:%d" % proxy_port))
    b.proxy_port = proxy_port
    tests = tests or [t_retry_after_503_twice, t_retry_429_502_and_http_date, t_no_retry_on_client_errors,
             t_retries_zero, t_retry_after_past_deadline, t_deadline_exhausted, t_example_program]
    try:
        return kwtest.run_tests(b, tests, setup=setup)
    finally:
        if hasattr(b, "proxy"):
            b.proxy.stop()


if __name__ == "__main__":
    sys.exit(main())
