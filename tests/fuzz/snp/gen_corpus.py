#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Write the synthesized seed corpus for fuzz_snp_report (no vector bytes).

Usage: gen_corpus.py OUTDIR   (normally tests/fuzz/corpus/snp_report)
"""
import os
import struct
import subprocess
import sys
import tempfile

SIZE = 0x4A0


def report(version, policy=0x30000, signer_info=0, sig_algo=1, cpuid=b"", mit=0, tail=b""):
    b = bytearray(SIZE)
    struct.pack_into("<IIQ", b, 0, version, 1, policy)
    struct.pack_into("<I", b, 0x34, sig_algo)
    struct.pack_into("<Q", b, 0x38, 0xD118000000000004)   # CURRENT_TCB
    struct.pack_into("<I", b, 0x48, signer_info)
    b[0x50:0x90] = bytes(range(64))                        # REPORT_DATA
    b[0x90:0xC0] = b"\x5a" * 48                            # MEASUREMENT
    struct.pack_into("<Q", b, 0x180, 0xD118000000000004)  # REPORTED_TCB
    b[0x188:0x188 + len(cpuid)] = cpuid
    b[0x1A0:0x1E0] = bytes((0xC0 + i) & 0xFF for i in range(64))
    struct.pack_into("<QQQ", b, 0x1F0, 0xD118000000000004, mit, mit)
    b[0x2A0:0x2D0] = b"\x11" * 48                          # R (not a valid signature)
    b[0x2E8:0x318] = b"\x22" * 48                          # S
    return bytes(b) + tail


def der_len(n):
    if n < 0x80:
        return bytes([n])
    enc = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(enc)]) + enc


def seq(*items):
    body = b"".join(items)
    return b"\x30" + der_len(len(body)) + body


def selfsigned_vcek():
    """A throwaway self-signed P-384 certificate named like a VCEK (DER), made with openssl."""
    with tempfile.TemporaryDirectory() as d:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384",
                        "-nodes", "-keyout", os.path.join(d, "k.pem"), "-subj", "/CN=SEV-VCEK",
                        "-days", "1", "-outform", "DER", "-out", os.path.join(d, "c.der"),
                        "-addext", "1.3.6.1.4.1.3704.1.2=DER:16084D696C616E2D4230",
                        "-addext", "1.3.6.1.4.1.3704.1.3.1=DER:020103"],
                       check=True, capture_output=True)
        with open(os.path.join(d, "c.der"), "rb") as f:
            return f.read()


seeds = {
    "empty": b"",
    "one-byte": b"\x02",
    "version-only": struct.pack("<I", 2),
    "half": report(2)[: SIZE // 2],
    "signed-region-only": report(3)[:0x2A0],
    "zero": bytes(SIZE),
    "v2": report(2),
    "v3": report(3, cpuid=b"\x19\x01\x01"),
    "v5": report(5, cpuid=b"\x19\x11\x01", mit=0xB),
    "v4": report(4),
    "v6": report(6),
    "v3-vlek": report(3, signer_info=1 << 2, cpuid=b"\x19\x01\x01"),
    "v3-debug": report(3, policy=0xB0000, cpuid=b"\x19\x01\x01"),
    "v3-signer-none": report(3, signer_info=7 << 2),
    "v2-no-bit17": report(2, policy=0x10000),
    "v2-sigalgo2": report(2, sig_algo=2),
    "v2-cpuid-set": report(2, cpuid=b"\x19\x01\x01"),
    "v3-mit-set": report(3, mit=1),
    "v3-tail-garbage-cert": report(3, tail=b"\x30\x82\x01\x00" + b"\x00" * 16),
    "v3-tail-empty-seq": report(3, tail=seq()),
    "v3-tail-nested-seq": report(3, tail=seq(seq(b"\xa0\x03\x02\x01\x02", b"\x02\x01\x00"))),
    "oversize": report(2) + b"\x00",
    "v3-tail-selfsigned-vcek": report(3, cpuid=b"\x19\x01\x01", tail=selfsigned_vcek()),
}

out = sys.argv[1] if len(sys.argv) > 1 else "."
os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
print(f"wrote {len(seeds)} seeds to {out}")
