#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Write the synthesized seed corpus of fuzz_policy_eval into
tests/fuzz/corpus/policy_eval/: "<policy JSON>\\0<claims JSON>" (or a policy
alone). Every value here is made up; nothing comes from shared/vectors."""
import hashlib
import json
import os
import sys

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "corpus", "policy_eval")
os.makedirs(out, exist_ok=True)

A = "a" * 96
B = "b" * 96
fp = sorted(hashlib.sha256(n.encode()).hexdigest() for n in ("root-1", "root-2", "root-3"))
digest = hashlib.sha384("".join(f + "\n" for f in fp).encode()).hexdigest()

claims = {
    "tee": "snp", "product": "genoa", "signing_key": "vcek", "root": "amd", "measurement": A,
    "host_data": "0" * 64, "report_data": "0" * 128, "debug": False, "vmpl": 0, "guest_svn": 3,
    "policy": {"raw": "0x30000", "debug": False, "migrate_ma": False, "smt": True,
               "single_socket": False, "abi_major": 0, "abi_minor": 0},
    "tcb": {k: {"raw": "0x0", "bl": 7, "tee": 0, "snp": 14, "ucode": 55}
            for k in ("reported", "current", "committed", "launch")},
    "platform": {"chip_id": "0" * 128, "version": 3},
    "config": {"root-store": {"fingerprints": fp, "digest": digest},
               "tls": {"min_version": "1.3", "cipher_suites": ["TLS_AES_256_GCM_SHA384"],
                       "groups": ["X25519"], "signature_algorithms": ["ed25519"]},
               "crypto": {"rsa_bits": 3072, "ec_bits": 256, "symmetric_bits": 256}},
}
leaf = {"claim": "tee", "op": "equals", "value": "snp"}
deep9 = leaf
for _ in range(8):
    deep9 = {"allOf": [deep9]}

seeds = {
    "full": ({"version": 1, "rules": {"allOf": [leaf, {"anyOf": [
        {"claim": "vmpl", "op": "lte", "value": 0},
        {"claim": "guest_svn", "op": "gte", "value": 9}]}]},
        "reference_values": {"measurements": [{"value": A, "not-before": "2027-01-01T00:00:00Z",
                                               "not-after": "2027-02-01T00:00:00Z", "name": "v1"}],
                             "tcb_floors": {"bl": 7, "tee": 0, "snp": 14, "ucode": 55}},
        "config": {"root_store": {"digests": [digest]},
                   "tls": {"min_version": "1.3", "cipher_suites": ["TLS_AES_256_GCM_SHA384"]},
                   "crypto": {"min_rsa_bits": 3072}}}, claims),
    "ops": ({"version": 1, "rules": {"anyOf": [
        {"claim": "policy.smt", "op": "exists"},
        {"claim": "x.y", "op": "exists", "value": False},
        {"claim": "product", "op": "in", "value": ["genoa", "milan", 1, None]},
        {"claim": "root", "op": "notEquals", "value": "test"},
        {"claim": "tcb.reported.snp", "op": "gte", "value": -9223372036854775808},
        {"claim": "platform", "op": "equals", "value": {"chip_id": "0" * 128, "version": 3}}]}},
        claims),
    "sets": ({"version": 1, "reference_values": {"sets": ["a", "self", "missing"],
                                                 "tcb_floors": {"fmc": 1}}}, claims),
    "set_err": ({"version": 1, "reference_values": {"sets": ["a", "err"]}}, claims),
    "rootstore_exact": ({"version": 1, "config": {"root_store": {"fingerprints": fp[:2],
                                                                 "exact": True}}}, claims),
    "rootstore_loose": ({"version": 1, "config": {"root_store": {"fingerprints": fp + [B[:64]],
                                                                 "exact": False}}}, claims),
    "tls_weak": ({"version": 1, "config": {"tls": {"min_version": "1.3", "cipher_suites": [
        "TLS_AES_128_GCM_SHA256"], "groups": ["X25519"], "signature_algorithms": ["ed25519"]}}},
        dict(claims, config={"tls": {"min_version": "1.2", "cipher_suites": [
            "ECDHE-RSA-AES128-SHA", 7], "groups": "X25519"}})),
    "debug": ({"version": 1, "allow_debug": True}, dict(claims, debug=True)),
    "lint": ({"version": 1, "reference_values": {"measurements": [
        {"value": A}, {"value": B, "not-before": "2020-01-01T00:00:00+01:00"}],
        "sets": ["a"], "tcb_floors": {"snp": 0}}}, claims),
    "hostile": ({"version": 1, "rules": {"allOf": [
        {"claim": "guest_svn", "op": "gte", "value": 1},
        {"claim": "measurement", "op": "equals", "value": A}]},
        "reference_values": {"measurements": [{"value": A}], "tcb_floors": {"snp": 1}},
        "config": {"crypto": {"min_ec_bits": 256}}},
        {"guest_svn": 9223372036854775807, "measurement": [[[[[[[[[[1]]]]]]]]]],
         "tcb": {"reported": "x"}, "config": {"crypto": {"ec_bits": 1e308}},
         "debug": None}),
    "deep9": ({"version": 1, "rules": deep9}, claims),
    "unknown": ({"version": 1, "rules": leaf, "immutable": True}, claims),
}
for name, (pol, cl) in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(json.dumps(pol, separators=(",", ":")).encode())
        f.write(b"\0")
        f.write(json.dumps(cl, separators=(",", ":")).encode())
# policy alone (the target's fixed claims) and a reference-value set (supersede)
with open(os.path.join(out, "policy_only"), "wb") as f:
    f.write(json.dumps({"version": 1, "rules": {"claim": "config.crypto.rsa_bits", "op": "gte",
                                                "value": 2048}}).encode())
with open(os.path.join(out, "refval_set"), "wb") as f:
    f.write(json.dumps({"measurements": [{"value": A, "not-before": "2026-01-01T00:00:00Z"},
                                         {"value": "c" * 96, "name": "c"}],
                        "tcb_floors": {"bl": 1}}).encode())
