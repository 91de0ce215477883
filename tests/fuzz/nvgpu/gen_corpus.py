#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Write the synthesized seed corpus for fuzz_nvgpu_report (no vector bytes).

Usage: gen_corpus.py OUTDIR   (normally tests/fuzz/corpus/nvgpu_report)
"""
import hashlib
import os
import struct
import sys


def tlv(t, v):
    return struct.pack("<HH", t, len(v)) + v


def block(index, value, spec=1, vtype=1):
    body = struct.pack("<BH", vtype, len(value)) + value
    return struct.pack("<BBH", index, spec, len(body)) + body


def transcript(nblocks=4, opaque=None, tail=b"", version=0x11, param2=0xFF, spec=1):
    nonce = bytes(range(32))
    req = bytes([version, 0xE0, 0x01, param2]) + nonce + b"\x00"
    rec = b"".join(block(i + 1, hashlib.sha384(bytes([i])).digest(), spec) for i in range(nblocks))
    if opaque is None:
        opaque = (tlv(3, b"550.90.07\x00") + tlv(6, bytes([0, 0x9f, 0, 0x96, 1, 0, 0, 0])) +
                  tlv(14, b"\xb1\x03\x00\x00") + tlv(15, b"882\x00") + tlv(17, b"1010\x00") +
                  tlv(18, b"0200\x00") + tlv(21, b"\x55") + tlv(34, b"\x01\x00") + tlv(36, b"\x00\x00") +
                  tlv(20, b"\xab" * 48))
    rsp = bytes([version, 0x60, 0x00, 0x00, nblocks]) + struct.pack("<I", len(rec))[:3] + rec
    rsp += bytes(range(32, 64)) + struct.pack("<H", len(opaque)) + opaque
    return req + rsp + b"\x11" * 96 + tail


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    seeds = {
        "good": transcript(),
        "trailing-zero": transcript(tail=b"\x00"),
        "trailing-junk": transcript(tail=b"\x01"),
        "no-blocks": transcript(nblocks=0),
        "many-blocks": transcript(nblocks=64),
        "no-opaque": transcript(opaque=b""),
        "dup-tlv": transcript(opaque=tlv(3, b"1\x00") + tlv(3, b"2\x00")),
        "bad-ascii": transcript(opaque=tlv(3, b"\x01\x02")),
        "bad-vbios": transcript(opaque=tlv(6, b"\x01")),
        "overrun-tlv": transcript(opaque=b"\x03\x00\xff\x00abc"),
        "spdm12": transcript(version=0x12),
        "one-block-param": transcript(param2=0x01),
        "not-dmtf": transcript(spec=2),
        "request-only": transcript()[:37],
        "empty": b"",
    }
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
