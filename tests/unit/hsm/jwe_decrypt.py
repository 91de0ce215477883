#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Independent check of a keywarden-hsm JWE: decrypt it with python3-jwcrypto.
# usage: jwe_decrypt.py JWE_FILE PEM_PRIVATE_KEY_FILE -> prints the payload as hex
import sys

from jwcrypto import jwe, jwk


def main():
    with open(sys.argv[1], "r", encoding="ascii") as f:
        token = f.read().strip()
    with open(sys.argv[2], "rb") as f:
        key = jwk.JWK.from_pem(f.read())
    t = jwe.JWE()
    # Allow exactly the profile the helper produces (jwcrypto 1.1 disables RSA-OAEP by default
    # in newer versions; be explicit either way).
    t.allowed_algs = ["RSA-OAEP", "A256CBC-HS512"]
    t.deserialize(token, key=key)
    hdr = t.jose_header
    if hdr.get("alg") != "RSA-OAEP" or hdr.get("enc") != "A256CBC-HS512":
        print("unexpected header", file=sys.stderr)
        return 1
    print(t.payload.hex())
    return 0


if __name__ == "__main__":
    sys.exit(main())
