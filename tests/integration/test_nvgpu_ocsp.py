#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Integration: certificate status of GPU device chains through OCSP
(nvgpu.ocsp_url, docs/verifier-nvgpu.md "Revocation") against a real local
responder (`openssl ocsp`), with emulated (NOT NVIDIA) GPUs from the test's
own CA: one root whose key signs the OCSP answers, three intermediates (A
good, B revoked, C good but asked only once the responder is down), each
with its device leaves.

Broker 1 (fail closed): A releases and its token says ocsp "good"; B is
refused as revoked; with the responder stopped, A still releases from the
cache (the answers carry a nextUpdate) and C is refused (503, responder
unreachable). Broker 2 (fail open, a responder that is down): A releases with
the warning claim ocsp "unavailable", and a policy that requires "good"
refuses it.
"""
import datetime
import os
import shutil
import subprocess
import sys
import tempfile
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kwtest  # noqa: E402
from kwtest import Attester, Broker, assert_problem  # noqa: E402
from test_nvgpu import GpuPlatform, claims_of, composite_body, gpu_policy, log_has, release, token_of  # noqa: E402

NOW = datetime.datetime.now(datetime.timezone.utc)


def name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "keywarden emulation (NOT NVIDIA)")])


def cert(subject, key, issuer, ikey, ca, serial):
    b = (x509.CertificateBuilder().subject_name(name(subject)).issuer_name(name(issuer))
         .public_key(key.public_key()).serial_number(serial)
         .not_valid_before(NOW - datetime.timedelta(days=1)).not_valid_after(NOW + datetime.timedelta(days=3650))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        b = b.add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
    return b.sign(ikey, hashes.SHA384())


def pem(path, obj, key=False):
    with open(path, "wb") as f:
        f.write(obj.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()) if key else obj.public_bytes(serialization.Encoding.PEM))


def make_ca(top):
    """root (key kept for the responder) and three chain directories in mk-nvgpu-emu.sh's layout."""
    rk = ec.generate_private_key(ec.SECP384R1())
    root = cert("NOT NVIDIA OCSP test root", rk, "NOT NVIDIA OCSP test root", rk, True, 1)
    pem(os.path.join(top, "root.pem"), root)
    pem(os.path.join(top, "root.key"), rk, key=True)
    icas = {}
    for n, serial in (("A", 0x1A), ("B", 0x1B), ("C", 0x1C)):
        d = os.path.join(top, n)
        os.makedirs(d)
        ik = ec.generate_private_key(ec.SECP384R1())
        ica = cert("NOT NVIDIA GH100 Identity " + n, ik, "NOT NVIDIA OCSP test root", rk, True, serial)
        pem(os.path.join(d, "root.pem"), root)
        pem(os.path.join(d, "ica.pem"), ica)
        for i in range(8):
            lk = ec.generate_private_key(ec.SECP384R1())
            pem(os.path.join(d, "leaf%d.pem" % i), cert("NOT NVIDIA GH100 GSP FMC LF %s%d" % (n, i), lk,
                                                         "NOT NVIDIA GH100 Identity " + n, ik, False, 0x100 + i))
            pem(os.path.join(d, "leaf%d.key" % i), lk, key=True)
        icas[n] = ica
    # the responder's database: A and C valid, B revoked
    exp = (NOW + datetime.timedelta(days=3650)).strftime("%y%m%d%H%M%SZ")
    rev = (NOW - datetime.timedelta(hours=1)).strftime("%y%m%d%H%M%SZ")
    with open(os.path.join(top, "index.txt"), "w") as f:
        for n, ica in icas.items():
            dn = "/CN=NOT NVIDIA GH100 Identity %s/O=keywarden emulation (NOT NVIDIA)" % n
            f.write("%s\t%s\t%s\t%X\tunknown\t%s\n" % ("R" if n == "B" else "V", exp, rev if n == "B" else "",
                                                        ica.serial_number, dn))
    return {n: GpuPlatform(os.path.join(top, n)) for n in icas}


class Responder:
    """`openssl ocsp` (OpenSSL 3.0 binds -port on every interface; only loopback talks to it),
    answers signed by the root, nextUpdate 60 minutes on."""

    def __init__(self, top):
        self.port = kwtest.free_port()
        self.p = subprocess.Popen(
            ["openssl", "ocsp", "-index", os.path.join(top, "index.txt"), "-port", str(self.port),
             "-rsigner", os.path.join(top, "root.pem"), "-rkey", os.path.join(top, "root.key"),
             "-CA", os.path.join(top, "root.pem"), "-nmin", "60", "-ignore_err"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # wait for its listening socket without connecting: a connection that
        # sends nothing wedges the single-threaded responder
        deadline = time.monotonic() + 15
        while not self.listening():
            assert self.p.poll() is None, "openssl ocsp exited"
            assert time.monotonic() < deadline, "openssl ocsp did not listen"
            time.sleep(0.05)

    def listening(self):
        for t in ("/proc/net/tcp", "/proc/net/tcp6"):
            try:
                with open(t) as f:
                    for line in f.read().splitlines()[1:]:
                        local, state = line.split()[1], line.split()[3]
                        if state == "0A" and int(local.rsplit(":", 1)[1], 16) == self.port:
                            return True
            except OSError:
                pass
        return False

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            self.p.wait(timeout=10)


def one_gpu(plat):
    from test_nvgpu import gpu_nonce
    return lambda rd: [plat.evidence(gpu_nonce(rd))]


RULES = {"claim": "gpu_count", "op": "equals", "value": 1}
RES = "gpu/key/ocsp"


def setup(b):
    b.provision(RES, policy="ocsp", document=gpu_policy(b, rules=RULES, gpu={"driver_version": [{"value": "550.90.07"}]}))
    b.provision("gpu/key/ocsp-good", policy="ocsp-good", document=gpu_policy(
        b, rules={"allOf": [RULES, {"claim": "gpus.0.ocsp", "op": "equals", "value": "good"}]},
        gpu={"driver_version": [{"value": "550.90.07"}]}))
    b.a = Attester(b)


# ---- broker 1: fail closed ----

def t_good_releases(b):
    tok = token_of(b.a, composite_body(b, b.a, gpus=one_gpu(b.plat["A"])))
    assert claims_of(tok)["kw.claims"]["gpus"][0]["ocsp"] == "good"
    assert len(release(b.a, tok, "gpu/key/ocsp-good")) == 32


def t_revoked_refused(b):
    st, ct, body = b.request("POST", "/kbs/v0/attest", composite_body(b, b.a, gpus=one_gpu(b.plat["B"])))
    assert_problem(st, ct, body, 401, "attestation-failed")
    log_has(b, "attestation rejected: gpus[0]: a certificate of the chain is revoked (OCSP)")


def t_responder_down_cache_and_closed(b):
    b.responder.stop()
    # A's answer is cached until its nextUpdate: no request needed
    tok = token_of(b.a, composite_body(b, b.a, gpus=one_gpu(b.plat["A"])))
    assert len(release(b.a, tok, RES)) == 32
    # C was never asked: fail closed
    st, ct, body = b.request("POST", "/kbs/v0/attest", composite_body(b, b.a, gpus=one_gpu(b.plat["C"])))
    assert_problem(st, ct, body, 503, "collateral_unavailable")
    log_has(b, "attestation refused (tee=snp): gpus[0]: the OCSP responder is unreachable")


# ---- broker 2: fail open ----

def t_open_warns(b):
    tok = token_of(b.a, composite_body(b, b.a, gpus=one_gpu(b.plat["A"])))
    assert claims_of(tok)["kw.claims"]["gpus"][0]["ocsp"] == "unavailable"
    assert len(release(b.a, tok, RES)) == 32
    release(b.a, tok, "gpu/key/ocsp-good", status=403)
    log_has(b, "nvgpu.ocsp_fail_open")


def main():
    top = tempfile.mkdtemp(prefix="kwit-ocsp-")
    rc = 0
    try:
        plat = make_ca(top)
        responder = Responder(top)
        dead = kwtest.free_port()   # nothing listens there

        def closed(cfg):
            cfg["nvgpu"] = {"test_roots": [os.path.join(top, "root.pem")],
                            "ocsp_url": "http://127.0.0.1:%d/" % responder.port, "ocsp_timeout": 3}

        def opened(cfg):
            cfg["nvgpu"] = {"test_roots": [os.path.join(top, "root.pem")],
                            "ocsp_url": "http://127.0.0.1:%d/" % dead, "ocsp_timeout": 3, "ocsp_fail_open": 1}

        try:
            b = Broker(config_edit=closed)
            b.plat, b.responder = plat, responder
            rc |= kwtest.run_tests(b, [t_good_releases, t_revoked_refused, t_responder_down_cache_and_closed],
                                   setup=setup)
        finally:
            responder.stop()
        b = Broker(config_edit=opened)
        b.plat = plat
        rc |= kwtest.run_tests(b, [t_open_warns], setup=setup)
    finally:
        shutil.rmtree(top, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
