#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Independent check of a JWS signed by the keywarden-hsm token key: verify it with python3-jwcrypto.
# usage: jws_verify.py JWS_FILE PUBLIC_JWK_FILE -> prints "ok", exits 1 otherwise
import sys

from jwcrypto import jwk, jws


def main():
    with open(sys.argv[1], "r", encoding="ascii") as f:
        token = f.read().strip()
    with open(sys.argv[2], "r", encoding="ascii") as f:
        key = jwk.JWK.from_json(f.read())
    t = jws.JWS()
    t.allowed_algs = ["ES256"]
    t.deserialize(token)
    t.verify(key, alg="ES256")
    if t.jose_header.get("kid") != key.thumbprint():
        print("kid is not the RFC 7638 thumbprint", file=sys.stderr)
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
