#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Seed corpus for fuzz_dpop_verify (tests/fuzz/corpus/dpop_verify).

First byte 0x01 (key A) or 0x03 (key B): {"h": header members, "p": claims}
that the target signs itself, valid and mutated one check at a time ("$nonce",
"$nonce_old" and "$ath" are filled in by the target). First byte 0x00: compact
proofs signed here with key A (the same fixed scalar as the target), valid up
to the server nonce, which a stored proof cannot carry, and mutated.
Deterministic but for the ECDSA signatures of the raw proofs.

    gen_dpop_corpus.py OUT_DIR
"""
import base64
import hashlib
import json
import os
import sys

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

NOW = 1800000000
HTU = "https://kw.test:8443/kbs/v0/resource/demo/key/disk"
TOKEN = "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9.eyJmdXp6IjoiZHBvcCJ9.ZnV6eg"
KEY_A = b"keywarden fuzz dpop key A 000001"


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def claims(**over):
    c = {"htm": "GET", "htu": HTU, "iat": NOW, "jti": "J" * 22, "ath": "$ath", "nonce": "$nonce"}
    for k, v in over.items():
        if v is None:
            c.pop(k, None)
        else:
            c[k] = v
    return c


def signed_cases():
    other_ath = b64u(hashlib.sha256(b"another.token.x").digest())
    p = {
        "valid": claims(),
        "valid_iat_low": claims(iat=NOW - 60),
        "valid_iat_high": claims(iat=NOW + 60),
        "valid_jti_256": claims(jti="j" * 256),
        "iat_old": claims(iat=NOW - 61),
        "iat_future": claims(iat=NOW + 61),
        "iat_string": claims(iat=str(NOW)),
        "iat_float": claims(iat=NOW + 0.5),
        "no_iat": claims(iat=None),
        "htm_post": claims(htm="POST"),
        "htm_lower": claims(htm="get"),
        "htu_other": claims(htu="https://kw.test:8443/kbs/v0/resource/demo/key/other"),
        "htu_slash": claims(htu=HTU + "/"),
        "htu_query": claims(htu=HTU + "?version=1"),
        "no_jti": claims(jti=None),
        "jti_short": claims(jti="j" * 15),
        "jti_long": claims(jti="j" * 257),
        "jti_int": claims(jti=12345678901234567),
        "extra_claim": claims(exp=NOW + 60),
        "no_nonce": claims(nonce=None),
        "nonce_old": claims(nonce="$nonce_old"),
        "nonce_garbage": claims(nonce="bm90IGEgbm9uY2U"),
        "nonce_int": claims(nonce=1),
        "no_ath": claims(ath=None),
        "ath_other": claims(ath=other_ath),
        "ath_null": claims(ath=[]),
    }
    out = {"s_" + k: (1, {"p": v}) for k, v in p.items()}
    h = {
        "typ_jwt": {"typ": "JWT"},
        "typ_missing": {"typ": None},
        "alg_es384": {"alg": "ES384"},
        "alg_none": {"alg": "none"},
        "alg_missing": {"alg": None},
        "kid": {"kid": "k1"},
        "jwk_missing": {"jwk": None},
        "jwk_rsa": {"jwk": {"kty": "RSA", "n": "AQAB", "e": "AQAB"}},
        "jwk_p384": {"jwk": {"kty": "EC", "crv": "P-384", "x": "AAAA", "y": "AAAA"}},
        "jwk_string": {"jwk": "A"},
        "crit": {"crit": ["exp"]},
    }
    out.update({"h_" + k: (1, {"h": v, "p": claims()}) for k, v in h.items()})
    out["key_b"] = (3, {"p": claims()})
    out["not_object"] = (1, {"p": []})
    return out


def raw_proof(key, header, payload):
    si = (b64u(json.dumps(header, separators=(",", ":")).encode()) + "." +
          b64u(json.dumps(payload, separators=(",", ":")).encode()))
    r, s = decode_dss_signature(key.sign(si.encode(), ec.ECDSA(hashes.SHA256())))
    return si + "." + b64u(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def raw_cases():
    key = ec.derive_private_key(int.from_bytes(KEY_A, "big"), ec.SECP256R1())
    n = key.public_key().public_numbers()
    jwk = {"kty": "EC", "crv": "P-256", "x": b64u(n.x.to_bytes(32, "big")), "y": b64u(n.y.to_bytes(32, "big"))}
    hdr = {"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk}
    ath = b64u(hashlib.sha256(TOKEN.encode()).digest())
    good = raw_proof(key, hdr, claims(ath=ath, nonce="bm9uY2U"))
    h, p, s = good.split(".")
    flipped = s[:10] + ("A" if s[10] != "A" else "B") + s[11:]
    return {
        "raw_until_nonce": good,
        "raw_no_nonce": raw_proof(key, hdr, claims(ath=ath, nonce=None)),
        "raw_other_htu": raw_proof(key, hdr, claims(ath=ath, htu="https://evil.example/x")),
        "raw_bad_sig": "%s.%s.%s" % (h, p, flipped),
        "raw_short_sig": "%s.%s.%s" % (h, p, s[:-2]),
        "raw_truncated": good[:-1],
        "raw_two_parts": "%s.%s" % (h, p),
        "raw_padding": "%s=.%s.%s" % (h, p, s),
        "raw_none": "%s.%s." % (b64u(b'{"typ":"dpop+jwt","alg":"none"}'), p),
        "raw_empty": "",
        "raw_dots": "..",
        "raw_not_json": "%s.%s.%s" % (b64u(b"not json"), p, s),
    }


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, (flag, doc) in signed_cases().items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(bytes([flag]) + json.dumps(doc, sort_keys=True).encode())
    for name, proof in raw_cases().items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(b"\x00" + proof.encode())


if __name__ == "__main__":
    main()
