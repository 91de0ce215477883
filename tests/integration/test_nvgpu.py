#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Integration: composite evidence (an SNP guest with NVIDIA GPUs) end to end
through the real broker, keywarden-hsm and SoftHSM2 over TLS on loopback,
with emulated (NOT NVIDIA) GPUs.

Two independent GPU emulations meet here: kwget's (attester/att_nvgpu_emu.c,
--emu-gpus) and GpuPlatform below (Python, written from the SPDM transcript
layout). Both sign with the leaves of a chain scripts/mk-nvgpu-emu.sh made,
whose root the broker trusts only because nvgpu.test_roots names it; a
second chain made the same way is not configured. The reference set of GPU
measurements is computed here, so kwget's blocks must match Python's
derivation. Every denial checks the status, the problem document, the
reason the broker logged, and that nothing was released.
"""
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kwtest  # noqa: E402
from kwtest import Attester, Broker, assert_problem, b64u, jcs  # noqa: E402

RES = "gpu/key/model"           # SNP guest + exactly two GPUs, firmware and measurements registered
DRIVER, VBIOS = "550.90.07", "96.00.9f.00.01"
VBIOS_BYTES = bytes([0x00, 0x9f, 0x00, 0x96, 0x01, 0x00, 0x00, 0x00])
secrets_seen = []


def block_value(i, variant=""):
    """The emulated GPUs' measurement block i (docs/verifier-nvgpu.md, Emulation)."""
    return hashlib.sha384(("NOT NVIDIA emulated GPU block %d%s" % (i, variant)).encode()).digest()


class GpuPlatform:
    """Emulated NVIDIA GPUs from a mk-nvgpu-emu.sh directory, written from the
    SPDM 1.1 GET_MEASUREMENTS layout (request 37 bytes, response with DMTF
    blocks, nonce, opaque TLVs, ECDSA P-384 r||s over all that precedes it)."""

    def __init__(self, emu_dir):
        def der(name):
            with open(os.path.join(emu_dir, name), "rb") as f:
                return x509.load_pem_x509_certificate(f.read()).public_bytes(serialization.Encoding.DER)
        self.dir = emu_dir
        self.ica, self.root = der("ica.pem"), der("root.pem")
        self.leaves = [der("leaf%d.pem" % i) for i in range(8)]
        self.keys = []
        for i in range(8):
            with open(os.path.join(emu_dir, "leaf%d.key" % i), "rb") as f:
                self.keys.append(serialization.load_pem_private_key(f.read(), None))

    @staticmethod
    def tlv(t, v):
        return struct.pack("<HH", t, len(v)) + v

    def report(self, nonce, leaf=0, blocks=None, driver=DRIVER, feature=0, bad_sig=False, trailing=b""):
        blocks = blocks or {i: block_value(i) for i in range(1, 9)}
        req = bytes([0x11, 0xE0, 0x01, 0xFF]) + nonce + b"\x00"
        rec = b"".join(struct.pack("<BBH", i, 1, 3 + len(v)) + struct.pack("<BH", 1, len(v)) + v
                       for i, v in sorted(blocks.items()))
        op = (self.tlv(3, driver.encode() + b"\x00") + self.tlv(6, VBIOS_BYTES) + self.tlv(15, b"882\x00") +
              self.tlv(17, b"1010\x00") + self.tlv(18, b"0200\x00") + self.tlv(21, b"\x55") +
              self.tlv(34, b"\x01\x00") + self.tlv(36, bytes([feature, 0])))
        rsp = (bytes([0x11, 0x60, 0, 0, len(blocks)]) + struct.pack("<I", len(rec))[:3] + rec + os.urandom(32) +
               struct.pack("<H", len(op)) + op)
        signed = req + rsp
        r, s = decode_dss_signature(self.keys[leaf].sign(signed, ec.ECDSA(hashes.SHA384())))
        sig = bytearray(r.to_bytes(48, "big") + s.to_bytes(48, "big"))
        if bad_sig:
            sig[10] ^= 0x01
        return signed + bytes(sig) + trailing

    def evidence(self, nonce, leaf=0, **kw):
        return {"report": b64u(self.report(nonce, leaf=leaf, **kw)),
                "chain": [b64u(self.leaves[leaf]), b64u(self.ica), b64u(self.root)]}


def gpu_nonce(rd):
    """The binding of every GPU: SHA-256(JCS(runtime-data))[0:32]."""
    return hashlib.sha256(jcs(rd)).digest()[:32]


def composite_body(b, a, gpus=None, n=2, **kw):
    """An /attest body: the Python SNP guest plus n GPUs of b.gpu (or gpus(rd) for custom ones)."""
    body = a.attest_body()
    rd = body["runtime-data"]
    body["gpus"] = gpus(rd) if gpus else [b.gpu.evidence(gpu_nonce(rd), leaf=i, **kw) for i in range(n)]
    return body


def attest(b, body):
    return b.request("POST", "/kbs/v0/attest", body)


def token_of(a, body):
    st, _, r = attest(a.b, body)
    assert st == 200, (st, r)
    a.dpop_nonce = a.b.last_headers.get("dpop-nonce")
    return r["token"]


def claims_of(token):
    return json.loads(kwtest.b64u_dec(token.split(".")[1]))["submods"]["cpu0"]


def release(a, token, path, status=200):
    st, ct, body = a.resource(token, path)
    if status != 200:
        assert_problem(st, ct, body, status, "denied" if status == 403 else None)
        return None
    assert st == 200 and ct == "application/jose", (st, body)
    key = a.decrypt(body)
    secrets_seen.append(key)
    return key


def gpu_policy(b, rules=None, gpu=None, allow_test_roots=True):
    doc = {"version": 1, "allow_test_roots": allow_test_roots,
           "rules": rules or {"allOf": [{"claim": "gpu_count", "op": "equals", "value": 2},
                                        {"claim": "gpus.0.cc_mode", "op": "in", "value": ["spt", "legacy"]},
                                        {"claim": "gpus.1.cc_mode", "op": "in", "value": ["spt", "legacy"]}]},
           "reference_values": {"measurements": [{"value": b.emu["measurement"]}],
                                "gpu": gpu or {"driver_version": [{"value": DRIVER, "name": "R550"}],
                                               "vbios_version": [{"value": VBIOS}],
                                               "sets": ["h100-emu"]}}}
    return doc


def log_has(b, text):
    log = b.log()
    assert text in log, "%r not in the log: %s" % (text, log[-2500:])


# ---- the full flow ----

def t_kwget_two_gpus_release_matches_jwcrypto(b):
    """kwget --emulate snp --emu-gpus 2: one challenge binds CPU and GPUs; jwcrypto opens kwget's JWE."""
    d = tempfile.mkdtemp(dir=b.dir)
    out, jwe_p, pem, tok_p = (os.path.join(d, n) for n in ("key", "jwe", "tee.pem", "token"))
    p = b.kwget("--resource", RES, "--out", out, "--jwe-out", jwe_p, "--tee-key-out", pem, "--token-out", tok_p,
                "--emu-gpus", "2", "--emu-gpu-dir", b.gpu_dir, check=True)
    assert b"2 EMULATED (NOT NVIDIA) GPU reports" in p.stderr, p.stderr
    key = open(out, "rb").read()
    assert len(key) == 32
    from jwcrypto import jwe, jwk
    t = jwe.JWE()
    t.deserialize(open(jwe_p).read().strip(), key=jwk.JWK.from_pem(open(pem, "rb").read()))
    assert t.payload == key
    sub = claims_of(open(tok_p).read())
    c = sub["kw.claims"]
    assert c["tee"] == "snp" and c["gpu_count"] == 2 and len(c["gpus"]) == 2, c
    want = {str(i): block_value(i).hex() for i in range(1, 9)}
    for g in c["gpus"]:
        assert g["root"] == "test" and g["driver_version"] == DRIVER and g["vbios_version"] == VBIOS, g
        assert g["chip_sku"] == "882" and g["project"] == "1010" and g["cc_mode"] == "spt", g
        assert g["measurements"] == want, g["measurements"]
    assert sub["ear.trustworthiness-vector"]["hardware"] == 96, sub
    secrets_seen.append(key)
    b.kwget_key = key


def t_python_two_gpus_same_key(b):
    """The independent Python SNP guest and GPUs: token, DPoP proof, JWE; the same key kwget got."""
    a = b.a
    tok = token_of(a, composite_body(b, a))
    c = claims_of(tok)["kw.claims"]
    assert c["gpu_count"] == 2 and [g["root"] for g in c["gpus"]] == ["test", "test"], c
    assert release(a, tok, RES) == b.kwget_key
    # the trailing zero byte real reports carry is tolerated
    tok = token_of(a, composite_body(b, a, trailing=b"\x00"))
    assert release(a, tok, RES) == b.kwget_key


def t_no_gpus_unchanged(b):
    """Without "gpus": today's flow and token (no GPU claims); a GPU policy denies such a guest."""
    a = b.a
    tok = a.token()
    c = claims_of(tok)["kw.claims"]
    assert "gpus" not in c and "gpu_count" not in c, sorted(c)
    assert len(release(a, tok, "demo/key/disk")) == 32
    release(a, tok, RES, status=403)
    log_has(b, "gpu_count equals 2: claim is (missing)")
    release(a, tok, "gpu/key/any-gpu", status=403)
    log_has(b, "no GPU evidence (claim gpus missing)")


# ---- denials at /attest: the evidence does not verify ----

def t_gpu_nonce_mismatch(b):
    """A GPU report bound to other runtime-data: 401, and the challenge is not spent."""
    a = b.a
    body = composite_body(b, a, gpus=lambda rd: [b.gpu.evidence(gpu_nonce(rd)),
                                                 b.gpu.evidence(hashlib.sha256(b"other").digest(), leaf=1)])
    st, ct, r = attest(b, body)
    assert_problem(st, ct, r, 401, "attestation-failed")
    log_has(b, "gpus[1]: GPU report nonce does not match SHA-256(JCS(runtime-data))[0:32]")
    # the SHA-384 binding of the CPU (first 32 bytes) is not the GPUs' binding
    body = composite_body(b, a, gpus=lambda rd: [b.gpu.evidence(hashlib.sha384(jcs(rd)).digest()[:32])])
    assert_problem(*attest(b, body), 401, "attestation-failed")


def t_gpu_from_another_chain(b):
    """A GPU whose chain ends at a root the broker does not trust: 401."""
    a = b.a
    body = composite_body(b, a, gpus=lambda rd: [b.gpu.evidence(gpu_nonce(rd)),
                                                 b.other.evidence(gpu_nonce(rd), leaf=1)])
    assert_problem(*attest(b, body), 401, "attestation-failed")
    log_has(b, "gpus[1]: GPU certificate chain does not end at the NVIDIA Device Identity CA")
    # our leaf presented under the other root: the path does not verify
    body = composite_body(b, a, gpus=lambda rd: [dict(b.gpu.evidence(gpu_nonce(rd)),
                                                      chain=[b64u(b.gpu.leaves[0]), b64u(b.other.ica),
                                                             b64u(b.other.root)])])
    assert_problem(*attest(b, body), 401, "attestation-failed")


def t_one_gpu_of_two_fails(b):
    """GPU 0 verifies, GPU 1's signature does not: the whole composite is refused."""
    a = b.a
    body = composite_body(b, a, gpus=lambda rd: [b.gpu.evidence(gpu_nonce(rd)),
                                                 b.gpu.evidence(gpu_nonce(rd), leaf=1, bad_sig=True)])
    assert_problem(*attest(b, body), 401, "attestation-failed")
    log_has(b, "gpus[1]: GPU report signature does not verify with the chain's leaf key")
    # GPU 1 signed by GPU 0's key but presented with its own leaf
    body = composite_body(b, a, gpus=lambda rd: [b.gpu.evidence(gpu_nonce(rd)),
                                                 dict(b.gpu.evidence(gpu_nonce(rd), leaf=0),
                                                      chain=[b64u(b.gpu.leaves[1]), b64u(b.gpu.ica),
                                                             b64u(b.gpu.root)])])
    assert_problem(*attest(b, body), 401, "attestation-failed")


def t_malformed_gpus(b):
    """The shape of "gpus" is checked before any work: 400."""
    a = b.a
    for gpus in ([], [{}] * 9, "x", [{"report": "AA"}], [{"report": "AA", "chain": ["AA"]}],
                 [{"report": "A*", "chain": ["AA", "AA"]}], [{"report": "AA", "chain": ["AA", "AA"], "x": 1}]):
        body = a.attest_body()
        body["gpus"] = gpus
        st, ct, r = attest(b, body)
        assert_problem(st, ct, r, 400)
    body = composite_body(b, a, gpus=lambda rd: [b.gpu.evidence(gpu_nonce(rd))] * 9)
    assert_problem(*attest(b, body), 400)


# ---- denials at release: authentic GPUs the policy does not admit ----

def t_cc_mode_off(b):
    """A GPU not in CC mode (emulated: its CC measurement block differs) is not released to."""
    a = b.a
    blocks = {i: block_value(i) for i in range(1, 9)}
    blocks[1] = block_value(1, " cc-off")
    tok = token_of(a, composite_body(b, a, gpus=lambda rd: [b.gpu.evidence(gpu_nonce(rd)),
                                                            b.gpu.evidence(gpu_nonce(rd), leaf=1, blocks=blocks)]))
    release(a, tok, RES, status=403)
    log_has(b, "gpus[1] measurement block 1 is not a reference value")
    # a block that went to zero (not measured) while the set registers it
    blocks = {i: block_value(i) for i in range(1, 9)}
    blocks[5] = bytes(48)
    tok = token_of(a, composite_body(b, a, gpus=lambda rd: [b.gpu.evidence(gpu_nonce(rd), blocks=blocks),
                                                            b.gpu.evidence(gpu_nonce(rd), leaf=1)]))
    release(a, tok, RES, status=403)
    log_has(b, "gpus[0] measurement block 5 is registered but not measured")
    # the multi-GPU mode of the FEATURE_FLAG is a claim the rules test
    tok = token_of(a, composite_body(b, a, feature=2))
    assert claims_of(tok)["kw.claims"]["gpus"][0]["cc_mode"] == "ppcie"
    release(a, tok, RES, status=403)
    log_has(b, "gpus.0.cc_mode in")


def t_firmware_not_allowed(b):
    """A driver that is not a reference value, or one past its window: denied."""
    a = b.a
    tok = token_of(a, composite_body(b, a, driver="535.104.05"))
    release(a, tok, RES, status=403)
    log_has(b, "gpus[0].driver_version is not a reference value")
    tok = token_of(a, composite_body(b, a))
    release(a, tok, "gpu/key/old-vbios", status=403)
    log_has(b, "gpus[0].vbios_version not valid since 2026-01-01T00:00:00Z")


def t_gpu_count(b):
    """One GPU where the policy needs two: denied; a policy on one GPU admits it."""
    a = b.a
    tok = token_of(a, composite_body(b, a, n=1))
    assert claims_of(tok)["kw.claims"]["gpu_count"] == 1
    release(a, tok, RES, status=403)
    log_has(b, "gpu_count equals 2: claim is 1")
    assert release(a, tok, "gpu/key/one") is not None


def t_test_root_gpus_need_allow(b):
    """GPUs from an emulation root are denied unless the policy allows test roots, even
    when the CPU's root is a vendor's (admin dry run on the token's claims)."""
    a = b.a
    tok = token_of(a, composite_body(b, a))
    release(a, tok, "gpu/key/production", status=403)
    claims = claims_of(tok)["kw.claims"]
    claims["root"] = "amd"    # as if the CPU were genuine: only the GPUs' root is left to deny
    st, _, ex = b.admin("POST", "/admin/v1/policies/gpu/production/explain", {"claims": claims})
    assert st == 200 and ex["decision"] == "deny" and ex["reason"] == "root", (st, ex)
    assert ex["detail"] == "GPU 0 chains to a test (emulation) root and allow_test_roots is not true", ex
    claims["gpus"] = [dict(g, root="nvidia") for g in claims["gpus"]]
    st, _, ex = b.admin("POST", "/admin/v1/policies/gpu/production/explain", {"claims": claims})
    assert st == 200 and ex["decision"] == "allow", (st, ex)


# ---- kwget --gpus: NVML loaded at run time (here a fake libnvidia-ml.so.1; no real GPU) ----

FAKE_NVML = os.path.join(kwtest.BUILD, "tests", "integration", "fake_nvml")


def t_kwget_nvml(b):
    """kwget collects GPU evidence through a dlopen()ed libnvidia-ml.so.1: our fake
    (tests/integration/fake_nvml), which serves emulated GPUs through the NVML entry points and
    structures as kwget declares them. The composite flow releases the same key as before;
    without the library --gpus auto (the default) runs CPU-only as before and --gpus required
    exits 7; a GPU that does not give its report fails the fetch."""
    d = tempfile.mkdtemp(dir=b.dir)
    base = dict(os.environ)
    # meson test puts the directories of a test's shared-library dependencies on LD_LIBRARY_PATH
    base["LD_LIBRARY_PATH"] = ":".join(x for x in base.get("LD_LIBRARY_PATH", "").split(":")
                                       if x and os.path.realpath(x) != os.path.realpath(FAKE_NVML))
    env = dict(base, LD_LIBRARY_PATH=FAKE_NVML + ":" + base.get("LD_LIBRARY_PATH", ""),
               FAKE_NVML_DIR=b.gpu_dir, FAKE_NVML_GPUS="2")
    out, tok_p, req_p = (os.path.join(d, n) for n in ("key", "token", "req"))
    p = b.kwget("--resource", RES, "--out", out, "--token-out", tok_p, "--save-attest-request", req_p,
                "--gpus", "required", env=env)
    assert p.returncode == 0, p.stderr.decode()
    assert b"2 GPUs through NVML" in p.stderr and b"EMULATED (NOT NVIDIA) GPU" not in p.stderr, p.stderr
    assert open(out, "rb").read() == b.kwget_key
    body = json.load(open(req_p))
    assert len(body["gpus"]) == 2, body.get("gpus")
    for i, g in enumerate(body["gpus"]):
        assert g["chain"] == [b64u(b.gpu.leaves[i]), b64u(b.gpu.ica), b64u(b.gpu.root)], i
        rep = kwtest.b64u_dec(g["report"])
        assert rep[4:36] == gpu_nonce(body["runtime-data"]), i   # our nonce went in through the struct
    c = claims_of(open(tok_p).read())["kw.claims"]
    assert c["gpu_count"] == 2 and all(g["measurements"] == {str(i): block_value(i).hex() for i in range(1, 9)}
                                       for g in c["gpus"]), c
    # no library: auto (the default) is CPU-only as before; required refuses
    p = b.kwget("--resource", "demo/key/disk", "--out", os.path.join(d, "k2"), "--save-attest-request",
                os.path.join(d, "r2"), env=base)
    assert p.returncode == 0 and "gpus" not in json.load(open(os.path.join(d, "r2"))), p.stderr
    assert b"NVML" not in p.stderr, p.stderr
    p = b.kwget("--resource", RES, "--out", os.path.join(d, "k3"), "--gpus", "required", env=base)
    assert p.returncode == 7 and b"no NVML (libnvidia-ml.so.1 not found)" in p.stderr, (p.returncode, p.stderr)
    # present but failing: a fetch error, not a silent CPU-only fetch
    env["FAKE_NVML_FAIL"] = "report"
    p = b.kwget("--resource", RES, "--out", os.path.join(d, "k4"), env=env)
    assert p.returncode == 6 and b"nvmlDeviceGetConfComputeGpuAttestationReport failed" in p.stderr, \
        (p.returncode, p.stderr)
    # no GPU at all: auto is CPU-only
    env.pop("FAKE_NVML_FAIL")
    env["FAKE_NVML_GPUS"] = "0"
    p = b.kwget("--resource", "demo/key/disk", "--out", os.path.join(d, "k5"), env=env)
    assert p.returncode == 0, p.stderr


# ---- NVIDIA RIMs: kwctl rim verify (offline), kwctl refval import-rim (admin API) ----

KWCTL = os.path.join(kwtest.BUILD, "tools", "kwctl")
RIM = os.path.join(os.environ.get("KW_VECTORS", ""), "nvidia", "rim-samples", "1010_0200_882_96005E0001_PROD.swidtag")
RIM_ROOT = os.path.join(os.environ.get("KW_VECTORS", ""), "nvidia", "certs", "nvidia_rim_root.pem")
RIM_AT = "2024-06-01T00:00:00Z"     # the sample's signing certificate expired on 2025-06-22
SWID = "{http://standards.iso.org/iso/19770/-2/2015/schema.xsd}"
HASH = "{http://www.w3.org/2001/04/xmlenc#sha384}Hash%d"


def rim_expected():
    """The RIM's measurements read here with xml.etree (independently of libxml2/xmlsec):
    (version, [(SPDM index, [alternatives])] of the active ones, gpu_measurements entries)."""
    import xml.etree.ElementTree as ET
    root = ET.parse(RIM).getroot()
    version = root.find(SWID + "Meta").get("colloquialVersion")
    active, entries = [], []
    for r in root.find(SWID + "Payload").findall(SWID + "Resource"):
        if r.get("active") != "True":
            continue
        alts = [r.get(HASH % k).lower() for k in range(int(r.get("alternatives")))]
        active.append((int(r.get("index")) + 1, alts))
        for v in alts:
            entries.append({"index": int(r.get("index")) + 1, "value": v})
    return version, active, entries


def kwctl(b, *args):
    env = dict(os.environ, KWCTL_PROFILE=os.path.join(b.dir, "kwctl.json"))
    return subprocess.run([KWCTL] + list(args), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=60)


def rim_refused(b, data, why, root=RIM_ROOT, at=RIM_AT):
    """kwctl rim verify on data: exit 1 and exactly one line naming why."""
    path = os.path.join(b.dir, "rim-tampered.xml")
    with open(path, "wb") as f:
        f.write(data)
    p = kwctl(b, "rim", "verify", "--file", path, "--root", root, "--at", at)
    err = p.stderr.decode()
    assert p.returncode == 1 and p.stdout == b"", (p.returncode, err)
    assert err.count("\n") == 1 and err.startswith("kwctl: rim verify: ") and ("refused: " + why) in err, err


def t_rim_verify_good_and_tampered(b):
    """The real RIM verifies to NVIDIA's RIM root and yields exactly its active measurements;
    a changed value, a changed signature, a swapped certificate, another root, an expired chain
    and a DTD are refused with a one-line reason."""
    version, active, entries = rim_expected()
    assert version == "96.00.5E.00.01" and len(active) == 12, (version, active)
    # two values checked by eye against the file: block 2 (RIM index 1) and block 13's four alternatives
    assert (2, ["c3f65ef79a19c029868cd7ce54b10e44f192444edb3506dde29cef2aac4e916c90a4f438e55aa7581a9e384c74d82db6"]) \
        in active
    assert [len(a) for i, a in active if i == 13] == [4], active
    p = kwctl(b, "rim", "verify", "--file", RIM, "--root", RIM_ROOT, "--at", RIM_AT)
    assert p.returncode == 0, p.stderr.decode()
    out = json.loads(p.stdout)
    assert out["rim"]["version"] == version and out["rim"]["product"] == "GH100", out["rim"]
    assert out["rim"]["signer"] == "HCC RIM L4 Signer", out["rim"]["signer"]
    assert len(out["rim"]["measurements"]) == 64, len(out["rim"]["measurements"])
    got = [{"index": e["index"], "value": e["value"]} for e in out["refval"]["gpu_measurements"]]
    assert got == entries, (got, entries)
    assert out["refval"]["measurements"] == [], out["refval"]

    data = open(RIM, "rb").read()
    v = b"c3f65ef79a19c029868cd7ce54b10e44f192444edb3506dde29cef2aac4e916c90a4f438e55aa7581a9e384c74d82db6"
    assert data.count(v) == 1
    rim_refused(b, data.replace(v, b"d" + v[1:]), "the signed content was changed")
    import base64
    import re
    m = re.search(rb"<ds:SignatureValue>([^<]+)</ds:SignatureValue>", data)
    sig = bytearray(base64.b64decode(m.group(1)))
    sig[20] ^= 0x01
    rim_refused(b, data[:m.start(1)] + base64.b64encode(bytes(sig)) + data[m.end(1):],
                "the signature value does not verify")
    # the signing certificate swapped for one of the same name and key type, not issued by NVIDIA
    m = re.search(rb"<ds:X509Certificate>([^<]+)</ds:X509Certificate>", data)
    leaf = x509.load_der_x509_certificate(base64.b64decode(m.group(1)))
    k = ec.generate_private_key(ec.SECP384R1())
    import datetime
    fake = (x509.CertificateBuilder().subject_name(leaf.subject).issuer_name(leaf.issuer)
            .public_key(k.public_key()).serial_number(leaf.serial_number)
            .not_valid_before(datetime.datetime(2023, 1, 1)).not_valid_after(datetime.datetime(2030, 1, 1))
            .sign(k, hashes.SHA384()))
    swapped = data[:m.start(1)] + base64.b64encode(fake.public_bytes(serialization.Encoding.DER)) + data[m.end(1):]
    rim_refused(b, swapped, "the RIM's signing certificate does not chain to the RIM root")
    rim_refused(b, data, "the RIM's signing certificate does not chain to the RIM root",
                root=os.path.join(b.gpu_dir, "root.pem"))
    rim_refused(b, data, "a certificate of the RIM's chain is not valid at the verification time",
                at="2026-01-01T00:00:00Z")
    dtd = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
    rim_refused(b, dtd + data, "the RIM carries a DOCTYPE")
    rim_refused(b, data[:len(data) // 2], "the RIM is not well-formed XML")


def t_rim_import_and_release(b):
    """kwctl refval import-rim stores the RIM's values; a GPU measuring exactly those gets the key,
    one measuring another value in one block does not."""
    version, active, entries = rim_expected()
    p = kwctl(b, "refval", "import-rim", "gpu/rim-vbios", "--file", RIM, "--root", RIM_ROOT, "--at", RIM_AT)
    assert p.returncode == 0, p.stderr.decode()
    p = kwctl(b, "refval", "import-rim", "gpu/rim-bad", "--file", RIM, "--root", RIM_ROOT)
    assert p.returncode == 1 and b"not valid at the verification time" in p.stderr, p.stderr
    st, _, r = b.admin("GET", "/admin/v1/refvals/gpu/rim-bad")
    assert st == 404, (st, r)
    st, _, r = b.admin("GET", "/admin/v1/refvals/gpu/rim-vbios")
    assert st == 200, (st, r)
    gm = r["document"]["gpu_measurements"]
    assert [{"index": e["index"], "value": e["value"]} for e in gm] == entries, gm
    assert all(version in e["name"] for e in gm), gm
    # a GPU whose blocks are the RIM's (first non-zero alternative; every other block unmeasured)
    blocks = {i: bytes(48) for i in range(1, 65)}
    for i, alts in active:
        nz = [a for a in alts if int(a, 16) != 0]
        if nz:
            blocks[i] = bytes.fromhex(nz[0])
    b.provision("gpu/key/rim", policy="rim", document=gpu_policy(
        b, rules={"claim": "gpu_count", "op": "equals", "value": 1}, gpu={"sets": ["rim-vbios"]}))
    a = b.a
    tok = token_of(a, composite_body(b, a, gpus=lambda rd: [b.gpu.evidence(gpu_nonce(rd), blocks=blocks)]))
    assert len(release(a, tok, "gpu/key/rim")) == 32
    blocks[2] = block_value(2)
    tok = token_of(a, composite_body(b, a, gpus=lambda rd: [b.gpu.evidence(gpu_nonce(rd), blocks=blocks)]))
    release(a, tok, "gpu/key/rim", status=403)
    log_has(b, "gpus[0] measurement block 2 is not a reference value")


def t_no_secrets_in_log(b):
    kwtest.assert_no_secrets(b.log(), secrets_seen)


TESTS = [t_kwget_two_gpus_release_matches_jwcrypto, t_python_two_gpus_same_key, t_no_gpus_unchanged,
         t_gpu_nonce_mismatch, t_gpu_from_another_chain, t_one_gpu_of_two_fails, t_malformed_gpus,
         t_cc_mode_off, t_firmware_not_allowed, t_gpu_count, t_test_root_gpus_need_allow,
         t_kwget_nvml, t_rim_verify_good_and_tampered, t_rim_import_and_release, t_no_secrets_in_log]


def main():
    emu = tempfile.mkdtemp(prefix="kwit-nvgpu-")
    gpu_dir, other_dir = os.path.join(emu, "gpu"), os.path.join(emu, "other")
    for d in (gpu_dir, other_dir):
        subprocess.run(["sh", os.path.join(kwtest.SRC, "scripts", "mk-nvgpu-emu.sh"), d], check=True)

    def trust_gpu_root(cfg):
        cfg["nvgpu"] = {"test_roots": [os.path.join(gpu_dir, "root.pem")]}

    b = Broker(config_edit=trust_gpu_root)
    b.gpu_dir = gpu_dir
    b.gpu, b.other = GpuPlatform(gpu_dir), GpuPlatform(other_dir)

    def setup(b):
        refset = {"measurements": [],
                  "gpu_measurements": [{"index": i, "value": block_value(i).hex(), "name": "emulated block %d" % i}
                                       for i in range(1, 9)]}
        st, _, r = b.admin("PUT", "/admin/v1/refvals/gpu/h100-emu", {"document": refset})
        assert st == 201, (st, r)
        b.provision(RES, policy="model", document=gpu_policy(b))
        b.provision("gpu/key/old-vbios", policy="old-vbios", document=gpu_policy(b, gpu={
            "vbios_version": [{"value": VBIOS, "not-after": "2026-01-01T00:00:00Z"}]}))
        b.provision("gpu/key/one", policy="one", document=gpu_policy(
            b, rules={"claim": "gpu_count", "op": "equals", "value": 1}))
        b.provision("gpu/key/any-gpu", policy="any-gpu", document=gpu_policy(
            b, rules={"claim": "tee", "op": "equals", "value": "snp"}))
        b.provision("gpu/key/production", policy="production", document=gpu_policy(b, allow_test_roots=False))
        b.provision("demo/key/disk")
        b.a = Attester(b)    # one TEE key pair for all tests: each attest still has its own challenge
    try:
        return kwtest.run_tests(b, TESTS, setup=setup)
    finally:
        shutil.rmtree(emu, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
