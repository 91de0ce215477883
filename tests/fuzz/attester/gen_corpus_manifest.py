#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Synthesize the seed corpora for fuzz_tls_conf and fuzz_crypto_conf.

Run from anywhere: /usr/bin/python3 tests/fuzz/attester/gen_corpus_manifest.py
Every seed is written out here by hand (OpenSSL configuration syntax and the
crypto declaration's JSON); nothing is derived from shared/vectors.
"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "..", "corpus")

CHAIN = "openssl_conf = init\n[init]\nssl_conf = ssl\n[ssl]\nsystem_default = sys\nalt = alt_sect\n"

TLS = {
    "tls13_only": CHAIN + "[sys]\nMinProtocol = TLSv1.3\nCipherSuites = TLS_AES_256_GCM_SHA384\n",
    "tls12_non_aead": CHAIN + "[sys]\nMinProtocol = TLSv1.2\nCipherString = AES128-SHA\n"
                      "[alt_sect]\nMinProtocol = TLSv1.3\n",
    "groups_sigalgs": CHAIN + "[alt_sect]\nGroups = X25519:P-256\n"
                      "SignatureAlgorithms = ECDSA+SHA256:RSA-PSS+SHA256\nCurves = P-384\n",
    "protocol_options": CHAIN + "[sys]\nProtocol = -ALL, TLSv1.2\nOptions = ServerPreference,-Compression\n"
                        "MaxProtocol = TLSv1.2\n",
    "seclevel0": CHAIN + "[sys]\nCipherString = DEFAULT@SECLEVEL=0\nMinProtocol = TLSv1\n",
    "no_versions": CHAIN + "[sys]\nProtocol = -ALL\n",
    "bad_value": CHAIN + "[sys]\nMinProtocol = TLSv9\n",
    "unknown_directive": CHAIN + "[sys]\nFrobnicate = yes\n",
    "skipped_files": CHAIN + "[sys]\nVerifyCAFile = /nonexistent\nCertificate = /nonexistent\n"
                     "MinProtocol = TLSv1.2\n",
    "variables": "base = TLSv1\n" + CHAIN + "[sys]\nMinProtocol = ${base}.3\n"
                 "CipherSuites = $ENV::HOME\n",
    "variable_unset": CHAIN + "[sys]\nCipherSuites = $ENV::KW_FUZZ_UNSET_VARIABLE\n",
    "escapes_quotes": CHAIN + "[sys]\nCipherString = \"AES128\\\n-SHA\" # comment\n"
                      "Groups = 'X25519':P-256\n",
    "syntax_error": CHAIN + "[sys\nMinProtocol = TLSv1.3\n",
    "no_chain": "HOME = .\n[ca]\ndefault_ca = CA_default\n",
    "chain_to_nowhere": "openssl_conf = init\n[init]\nssl_conf = missing\n",
    "debian_like": "HOME = .\nopenssl_conf = openssl_init\nconfig_diagnostics = 1\n"
                   "[openssl_init]\nssl_conf = ssl_sect\n[ssl_sect]\nsystem_default = system_default_sect\n"
                   "[system_default_sect]\nMinProtocol = TLSv1.2\nCipherString = DEFAULT:@SECLEVEL=2\n",
    "pragmas": ".pragma dollarid:true\n.pragma abspath:true\n" + CHAIN + "[sys]\nMinProtocol = TLSv1.2\n",
    "empty": "",
}

CRYPTO = {
    "all": b'{"rsa_bits": 3072, "ec_bits": 256, "symmetric_bits": 256}',
    "one": b'{"ec_bits": 384}',
    "bounds": b'{"rsa_bits": 1, "ec_bits": 65536}',
    "zero": b'{"rsa_bits": 0}',
    "too_big": b'{"rsa_bits": 65537}',
    "real": b'{"rsa_bits": 3072.0}',
    "string": b'{"rsa_bits": "3072"}',
    "unknown": b'{"rsa_bits": 3072, "hash": "sha256"}',
    "duplicate": b'{"rsa_bits": 3072, "rsa_bits": 1024}',
    "empty_object": b"{}",
    "array": b"[3072]",
    "nested": b'{"rsa_bits": {"rsa_bits": 3072}}',
    "huge_int": b'{"rsa_bits": 123456789012345678901234567890}',
    "trailing": b'{"rsa_bits": 3072} {}',
}


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def main():
    for name, text in TLS.items():
        write("tls_conf", name, text.encode())
    for name, data in CRYPTO.items():
        write("crypto_conf", name, data)


if __name__ == "__main__":
    main()
