#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Seed corpus for fuzz_token_verify (tests/fuzz/corpus/token_verify).

Odd first byte: an EAR payload the target signs itself (valid, expired,
other issuer, bad akpub, missing members); even first byte: raw compact
tokens (malformed, a foreign signature, header variants). Deterministic.
"""
import base64
import json
import os
import sys

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

NOW = 1800000000
ISS = "https://kw.test:8443"
PROFILE = sys.argv[2] if len(sys.argv) > 2 else "tag:github.com,2023:veraison/ear"


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def payload(**over):
    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    spki = key.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    p = {"eat_profile": PROFILE, "iss": ISS, "iat": NOW - 10, "exp": NOW + 290, "jti": "A" * 22,
         "ear.verifier-id": {"developer": "keywarden", "build": "keywarden 0.1.0"},
         "cnf": {"jkt": "x" * 43},
         "submods": {"cpu0": {"ear.status": "affirming",
                              "ear.trustworthiness-vector": {"instance-identity": 2, "hardware": 2, "configuration": 0},
                              "ear.appraisal-policy-id": "urn:keywarden:policy:release",
                              "ear.veraison.key-attestation": {"akpub": b64u(spki)},
                              "kw.claims": {"tee": "snp", "root": "amd", "measurement": "ab" * 48,
                                            "debug": False, "config": {}}}}}
    p.update(over)
    return p


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    cases = {
        "valid": payload(),
        "expired": payload(iat=NOW - 1000, exp=NOW - 700),
        "future": payload(iat=NOW + 100, exp=NOW + 400),
        "long_ttl": payload(exp=NOW + 100000),
        "other_issuer": payload(iss="https://evil.example"),
        "other_profile": payload(eat_profile="urn:other"),
        "no_cnf": {k: v for k, v in payload().items() if k != "cnf"},
        "string_iat": payload(iat="1"),
        "debug": payload(submods={"cpu0": dict(payload()["submods"]["cpu0"],
                                               **{"kw.claims": {"measurement": "cd" * 48, "debug": True}})}),
        "bad_akpub": payload(submods={"cpu0": dict(payload()["submods"]["cpu0"],
                                                   **{"ear.veraison.key-attestation": {"akpub": "AAAA"}})}),
    }
    for name, p in cases.items():
        with open(os.path.join(out, "signed_" + name), "wb") as f:
            f.write(b"\x01" + json.dumps(p, sort_keys=True).encode())
    hdr = b64u(json.dumps({"alg": "ES256", "typ": "JWT", "kid": "k" * 43}).encode())
    body = b64u(json.dumps(payload()).encode())
    raws = {
        "raw_foreign_sig": "%s.%s.%s" % (hdr, body, b64u(b"\x01" * 64)),
        "raw_none": "%s.%s." % (b64u(b'{"alg":"none"}'), body),
        "raw_two_parts": "%s.%s" % (hdr, body),
        "raw_empty": "",
        "raw_dots": "...",
        "raw_hs256": "%s.%s.%s" % (b64u(b'{"alg":"HS256","typ":"JWT"}'), body, b64u(b"\x00" * 32)),
    }
    for name, t in raws.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(b"\x00" + t.encode())


if __name__ == "__main__":
    main()
