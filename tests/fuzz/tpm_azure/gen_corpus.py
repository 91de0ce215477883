#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Write the synthesized seed corpora for fuzz_tpm_hcl and fuzz_tpm_azure (no vector bytes).

Usage: gen_corpus.py CORPUS-DIR   (normally tests/fuzz/corpus; writes tpm_hcl/ and tpm_azure/)
"""
import base64
import hashlib
import json
import os
import struct
import sys


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


# an odd 2048-bit number: imports as an RSA public key (never used to verify)
N = (1 << 2047) | int.from_bytes(hashlib.sha512(b"keywarden-fuzz").digest() * 4, "big") % (1 << 2047) | 1


def jwk(kid):
    return {"kid": kid, "key_ops": ["sign"], "kty": "RSA", "e": "AQAB",
            "n": b64u(N.to_bytes(256, "big"))}


def var_data(keys=None, extra=None):
    d = {"keys": keys if keys is not None else [jwk("HCLAkPub"), jwk("HCLEkPub")],
         "vm-configuration": {"console-enabled": True, "secure-boot": True, "tpm-enabled": True,
                              "vmUniqueId": "00000000-0000-0000-0000-000000000000"},
         "user-data": "00" * 64}
    if extra:
        d.update(extra)
    return json.dumps(d, separators=(",", ":")).encode()


def hcl(var, rtype=2, version=1, total=2600, bind=True, tail=b""):
    b = bytearray(max(total, 0x4D4 + len(var)))
    struct.pack_into("<4sIIII", b, 0, b"HCLA", version, 0x4D4 + len(var), 2, 0)
    rd = hashlib.sha256(var).digest() if bind else b"\x00" * 32
    if rtype == 4:
        b[0x20] = 0x81
        b[0x20 + 128:0x20 + 160] = rd
    else:
        struct.pack_into("<I", b, 0x20, 3)
        b[0x20 + 0x50:0x20 + 0x70] = rd
    struct.pack_into("<IIIII", b, 0x4C0, 20 + len(var), 1, rtype, 1, len(var))
    b[0x4D4:0x4D4 + len(var)] = var
    return bytes(b) + tail


def write(d, name, data):
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def main():
    out = sys.argv[1]
    h, a = os.path.join(out, "tpm_hcl"), os.path.join(out, "tpm_azure")
    os.makedirs(h, exist_ok=True)
    os.makedirs(a, exist_ok=True)
    v = var_data()
    good = hcl(v)
    write(h, "snp", good)
    write(h, "tdx", hcl(v, rtype=4, version=2))
    write(h, "exact-length", hcl(v, total=0))
    write(h, "unbound", hcl(v, bind=False))
    write(h, "truncated", good[:0x4D4 + 10])
    write(h, "empty", b"")
    write(h, "no-ak", hcl(var_data(keys=[jwk("HCLEkPub")])))
    write(h, "two-aks", hcl(var_data(keys=[jwk("HCLAkPub"), jwk("HCLAkPub")])))
    write(h, "ec-ak", hcl(var_data(keys=[{"kid": "HCLAkPub", "kty": "EC", "crv": "P-256",
                                          "x": b64u(b"\x01" * 32), "y": b64u(b"\x02" * 32)}])))
    write(h, "not-json", hcl(b"{\"keys\":[}"))
    write(h, "nonzero-tail", good[:-1] + b"\x01")
    write(h, "bad-magic", b"XCLA" + good[4:])
    write(h, "report-type-3", hcl(v, rtype=3))
    write(h, "version-3", hcl(v, version=3))

    hr = hcl(v)
    quote = b"\xffTCG\x80\x18" + b"\x00" * 60
    sig = b"\x5a" * 256
    pcrs = [bytes([i]) * 32 for i in range(24)]
    v0 = {"quote": {"message": list(quote), "signature": list(sig), "pcrs": [list(p) for p in pcrs]},
          "report": list(hr),
          "vcek": "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n"}
    write(a, "v0-snp", json.dumps(v0).encode())
    v1 = {"version": 1, "tpm_quote": {"message": quote.hex(), "signature": sig.hex(),
                                      "pcrs": [p.hex() for p in pcrs]},
          "hcl_report": base64.urlsafe_b64encode(hr).decode(),
          "vcek": base64.urlsafe_b64encode(b"\x30\x03\x02\x01\x00").decode()}
    write(a, "v1-snp", json.dumps(v1).encode())
    t1 = dict(v1, hcl_report=base64.urlsafe_b64encode(hcl(v, rtype=4)).decode(),
              td_quote=b64u(b"\x04\x00\x02\x00\x81" + b"\x00" * 60))
    del t1["vcek"]
    write(a, "v1-tdx", json.dumps(t1).encode())
    t0 = {"tpm_quote": v0["quote"], "hcl_report": list(hcl(v, rtype=4)), "td_quote": [4, 0, 2, 0]}
    write(a, "v0-tdx", json.dumps(t0).encode())
    write(a, "v2-both", json.dumps(dict(v1, version=2, td_quote="AAAA")).encode())
    write(a, "empty-object", b"{}")


if __name__ == "__main__":
    main()
