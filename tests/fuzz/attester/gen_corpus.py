#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Synthesize the seed corpora for fuzz_jwe_compact and fuzz_snp_certtable.

Run from anywhere: /usr/bin/python3 tests/fuzz/attester/gen_corpus.py
JWE seeds are encrypted (python3-jwcrypto) to the throw-away fuzzing key in
fuzz_jwe_compact.c; certificate tables are built from the GHCB layout.
Nothing here is derived from shared/vectors.
"""
import json
import os
import re
import struct

from jwcrypto import jwe, jwk

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "..", "corpus")


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def fuzz_key():
    src = open(os.path.join(HERE, "fuzz_jwe_compact.c")).read()
    pem = "".join(re.findall(r'^\t"(.*)\\n"', src, re.M))
    pem = pem.replace("-----BEGIN PRIVATE KEY-----", "-----BEGIN PRIVATE KEY-----\n")
    pem = pem.replace("-----END PRIVATE KEY-----", "\n-----END PRIVATE KEY-----\n")
    return jwk.JWK.from_pem(pem.encode())


def jwe_compact(key, payload, header):
    t = jwe.JWE(payload, protected=json.dumps(header))
    t.add_recipient(key)
    return t.serialize(compact=True).encode()


def jwe_seeds():
    key = fuzz_key()
    ok = {"alg": "RSA-OAEP", "enc": "A256CBC-HS512"}
    good = jwe_compact(key, bytes(range(32)), dict(ok, kid="demo/key/one#1"))
    write("jwe_compact", "good_kid", good)
    write("jwe_compact", "good_nokid_odd", jwe_compact(key, b"a password", ok))
    write("jwe_compact", "good_long", jwe_compact(key, b"x" * 1000, ok))
    write("jwe_compact", "alg_oaep256", jwe_compact(key, b"k" * 16, {"alg": "RSA-OAEP-256", "enc": "A256CBC-HS512"}))
    write("jwe_compact", "enc_gcm", jwe_compact(key, b"k" * 16, {"alg": "RSA-OAEP", "enc": "A256GCM"}))
    write("jwe_compact", "extra_member", jwe_compact(key, b"k" * 16, dict(ok, cty="x")))
    parts = good.split(b".")
    write("jwe_compact", "truncated", good[: len(good) // 2])
    write("jwe_compact", "six_parts", good + b".AAAA")
    write("jwe_compact", "empty_iv", b".".join(parts[:2] + [b""] + parts[3:]))
    flipped = bytearray(good)
    flipped[-5] ^= 1
    write("jwe_compact", "tag_flip", bytes(flipped))
    write("jwe_compact", "dots", b"....")


GUIDS = {
    "vcek": "63da758d-e664-4564-adc5-f4b93be8accd",
    "vlek": "a8074bc2-a25a-483e-aae6-39c045a0b8a1",
    "ask": "4ab7b379-bbac-4fe4-a02f-05aef327c782",
    "ark": "c0b406a4-a803-4952-9743-3fb6014cd0ae",
    "other": "92f81bc3-5811-4d3d-97ff-d19f88dc67ea",
}


def table(entries, pad=0):
    """entries: [(guid string, bytes)]; GUID bytes in written order."""
    off = 24 * (len(entries) + 1)
    head, body = b"", b""
    for g, data in entries:
        head += bytes.fromhex(g.replace("-", "")) + struct.pack("<II", off, len(data))
        body += data
        off += len(data)
    return head + bytes(24) + body + bytes(pad)


def certtable_seeds():
    fake = lambda tag, n: (tag.encode() * n)[:n]
    full = table([(GUIDS["vcek"], fake("vcek", 300)), (GUIDS["ask"], fake("ask", 200)),
                  (GUIDS["ark"], fake("ark", 200))])
    write("snp_certtable", "vcek_ask_ark", full)
    write("snp_certtable", "vlek_padded", table([(GUIDS["vlek"], fake("vlek", 100))], pad=4096 - 148))
    write("snp_certtable", "terminator_only", bytes(24))
    write("snp_certtable", "unknown_guid", table([(GUIDS["other"], b"crl"), (GUIDS["vcek"], b"v")]))
    write("snp_certtable", "truncated", full[:-1])
    write("snp_certtable", "dup_vcek", table([(GUIDS["vcek"], b"a"), (GUIDS["vcek"], b"b")]))
    write("snp_certtable", "no_terminator", b"\xff" * 96)


if __name__ == "__main__":
    jwe_seeds()
    certtable_seeds()
