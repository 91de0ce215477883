#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Write the synthesized seed corpora for fuzz_tpm_quote and fuzz_tpm_eventlog
(software keys and constructed logs from tests/integration/tpm_emu.py; no vector bytes).

Usage: gen_corpus.py OUTDIR   (normally tests/fuzz/corpus; writes tpm_quote/ and tpm_eventlog/)
"""
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "integration"))
import tpm_emu  # noqa: E402

from cryptography.hazmat.primitives.asymmetric import ec, rsa  # noqa: E402


def quote_input(key, scheme, hash_name="sha256", banks=("sha256",), extra=None):
    public = tpm_emu.tpmt_public(key)
    # all-zero PCRs, as the fuzz target supplies them
    pcrs = {b: {i: b"\0" * tpm_emu.SIZE[b] for i in range(24)} for b in banks}
    # extraData is the first 32 bytes of the attest in the target: unreachable on purpose for a
    # good quote; these seeds reach the signature and digest code, then fail the nonce
    attest = tpm_emu.attest_quote(tpm_emu.tpm_name(public), extra or b"\x5a" * 32, pcrs, hash_name)
    sig = tpm_emu.sign(key, attest, scheme, hash_name)
    return struct.pack(">H", len(attest)) + attest + struct.pack(">H", len(sig)) + sig + tpm_emu.b2(public)


def main():
    out = sys.argv[1]
    qdir = os.path.join(out, "tpm_quote")
    ldir = os.path.join(out, "tpm_eventlog")
    os.makedirs(qdir, exist_ok=True)
    os.makedirs(ldir, exist_ok=True)
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    p256 = ec.generate_private_key(ec.SECP256R1())
    p384 = ec.generate_private_key(ec.SECP384R1())
    seeds = {
        "rsassa-sha256": quote_input(rsa_key, "rsassa"),
        "rsapss-sha384": quote_input(rsa_key, "rsapss", "sha384", ("sha1", "sha384")),
        "ecdsa-p256": quote_input(p256, "ecdsa"),
        "ecdsa-p384-3banks": quote_input(p384, "ecdsa", "sha384", ("sha1", "sha256", "sha384")),
    }
    good = seeds["rsassa-sha256"]
    seeds["cut-attest"] = good[:40]
    seeds["cut-sig"] = good[:200]
    seeds["empty"] = b""
    for name, data in seeds.items():
        with open(os.path.join(qdir, name), "wb") as f:
            f.write(data)

    log = tpm_emu.sample_boot_log()
    opts = "console=ttyS0".encode("utf-16-le") + b"\0\0"
    log.event(12, 0x0000000D, opts, opts)
    tagged = struct.pack("<II", 0x8F3B22ED, len(opts)) + opts
    log.event(12, 0x00000006, opts, tagged)
    logs = {
        "full": log.data,
        "spec-only": tpm_emu.EventLog().data,
        "cut": log.data[:len(log.data) // 2],
    }
    loc = tpm_emu.EventLog()
    loc.event(0, 3, b"", b"StartupLocality\0\3", extend=False)
    loc.secure_boot(False)
    logs["locality"] = loc.data
    for name, data in logs.items():
        with open(os.path.join(ldir, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
