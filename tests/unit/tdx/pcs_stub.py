#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""pcs_stub.py DIR CERT KEY PORTFILE [PORT]

A loopback HTTPS server that answers Intel's PCS v4 API (as PCS and PCCS do)
from the files in DIR, for tests/unit/tdx/test_tdx_pcs.c. Nothing is
recorded here: the test writes the files (recorded PCS responses read from
$KW_VECTORS, or emulated collateral) into its scratch directory.

  GET /tdx/certification/v4/tcb?fmspc=F    tcb-<f lower>.json, header TCB-Info-Issuer-Chain (tcb-chain.pem)
  GET /tdx/certification/v4/qe/identity    qe.json, header SGX-Enclave-Identity-Issuer-Chain (qe-chain.pem)
  GET /sgx/certification/v4/pckcrl?ca=C&encoding=der
                                           pckcrl-<c>.der, header SGX-PCK-CRL-Issuer-Chain (pckcrl-chain-<c>.pem)
  GET /sgx/certification/v4/rootcacrl      rootcrl.der as hex, application/x-pem-file (as PCCS serves it)
  GET /IntelSGXRootCA.der                  rootcrl.der, application/pkix-crl (as Intel's CRL server)

Chains go out URL-encoded like PCS sends them (every byte but A-Z a-z 0-9 - . _ ~
percent-encoded). Each request appends its path to DIR/requests.log before it
is answered. DIR/fault, read per request, holds "<fault> <path part> [arg]":
the fault applies to requests whose path contains <path part>:
  garbage       a body that is not JSON
  ctype         Content-Type text/html
  big N         a body of N bytes (with Content-Length)
  chunked N     a body of N bytes sent chunked (no length known in advance)
  slow N        answer after N seconds
  badsig        one hex digit of the "signature" member changed
  nochain       no issuer-chain header
  status N      HTTP status N, empty body
  dupchain      the issuer-chain header twice
The port is written to PORTFILE (atomically) once the server listens.
"""
import http.server
import os
import ssl
import sys
import time
import urllib.parse

DIR = sys.argv[1]


def read(name):
    with open(os.path.join(DIR, name), "rb") as f:
        return f.read()


def fault_for(path):
    try:
        words = read("fault").decode().split()
    except FileNotFoundError:
        return None, None
    if len(words) >= 2 and words[1] in path:
        return words[0], (words[2] if len(words) > 2 else None)
    return None, None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def route(self, url):
        q = urllib.parse.parse_qs(url.query)
        p = url.path
        if p == "/tdx/certification/v4/tcb" and "fmspc" in q:
            f = q["fmspc"][0].lower()
            return read("tcb-%s.json" % f), "application/json", "TCB-Info-Issuer-Chain", "tcb-chain.pem"
        if p == "/tdx/certification/v4/qe/identity":
            return read("qe.json"), "application/json", "SGX-Enclave-Identity-Issuer-Chain", "qe-chain.pem"
        if p == "/sgx/certification/v4/pckcrl" and q.get("encoding") == ["der"] and \
                q.get("ca", [""])[0] in ("platform", "processor"):
            ca = q["ca"][0]
            return read("pckcrl-%s.der" % ca), "application/pkix-crl", "SGX-PCK-CRL-Issuer-Chain", \
                "pckcrl-chain-%s.pem" % ca
        if p == "/sgx/certification/v4/rootcacrl":
            return read("rootcrl.der").hex().encode(), "application/x-pem-file", None, None
        if p == "/IntelSGXRootCA.der":
            return read("rootcrl.der"), "application/pkix-crl", None, None
        raise FileNotFoundError(p)

    def do_GET(self):
        with open(os.path.join(DIR, "requests.log"), "a") as log:
            log.write(self.path + "\n")
        url = urllib.parse.urlsplit(self.path)
        try:
            body, ctype, hname, hfile = self.route(url)
        except FileNotFoundError:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        fault, arg = fault_for(self.path)
        headers = [("Request-ID", "0123456789abcdef0123456789abcdef")]
        if hname is not None and fault != "nochain":
            value = urllib.parse.quote(read(hfile).decode(), safe="")
            headers.append((hname, value))
            if fault == "dupchain":
                headers.append((hname, value))
        status = 200
        if fault == "garbage":
            body = b"<html><body>upstream error</body></html>"
        elif fault == "ctype":
            ctype = "text/html; charset=utf-8"
        elif fault in ("big", "chunked"):
            body = b" " * int(arg)
        elif fault == "slow":
            time.sleep(float(arg))
        elif fault == "badsig":
            i = body.index(b'"signature":"') + len(b'"signature":"')
            body = body[:i] + (b"1" if body[i:i + 1] != b"1" else b"2") + body[i + 1:]
        elif fault == "status":
            status, body = int(arg), b""
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        for k, v in headers:
            self.send_header(k, v)
        if fault == "chunked":
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            try:
                for i in range(0, len(body), 8192):
                    part = body[i:i + 8192]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                self.wfile.write(b"0\r\n\r\n")
            except OSError:
                self.close_connection = True   # the client gave up (the point of the test)
            return
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:
            self.close_connection = True


class Server(http.server.ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True


def main():
    cert, key, portfile = sys.argv[2], sys.argv[3], sys.argv[4]
    port = int(sys.argv[5]) if len(sys.argv) > 5 else 0
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    srv = Server(("127.0.0.1", port), Handler)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True, do_handshake_on_connect=False)
    tmp = portfile + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, portfile)
    srv.serve_forever()


if __name__ == "__main__":
    main()
