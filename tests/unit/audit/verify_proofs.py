#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""An independent check of the audit module's trees, proofs and checkpoint.

Runs audit_proof_dump (argv[1]) and checks its JSON with code written here from
the RFCs, not by calling the C code:
  - leaf hashes SHA-256(0x00 || record) and the chain of "prev" hashes;
  - MTH (RFC 6962 §2.1) for every size, against the C roots;
  - every inclusion proof: equal to PATH (RFC 6962 §2.1.1) and accepted by
    the RFC 9162 §2.1.3.2 verification; a changed proof is refused;
  - every consistency proof: equal to PROOF (RFC 6962 §2.1.2) and accepted by
    RFC 9162 §2.1.4.2; a changed proof is refused;
  - the checkpoint: C2SP signed-note syntax, key ID SHA-256(SPKI)[:4], ECDSA
    P-256 SHA-256 DER signature (python3-cryptography), size and root.
check_segment() checks a segment export (docs/audit.md "Retention") the same
way; test_kwctl_audit.py and tests/integration/test_audit.py import it.
Exit 0 when all hold, 1 with the failures listed otherwise.
"""
import base64
import hashlib
import json
import subprocess
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

failures = []


def fail(msg):
    failures.append(msg)


def sha(b):
    return hashlib.sha256(b).digest()


def leaf_hash(b):
    return sha(b"\x00" + b)


def node_hash(left, right):
    return sha(b"\x01" + left + right)


def k_of(n):
    """the largest power of two smaller than n (n > 1)"""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(d):
    if len(d) == 0:
        return sha(b"")
    if len(d) == 1:
        return d[0]
    k = k_of(len(d))
    return node_hash(mth(d[:k]), mth(d[k:]))


def path(m, d):
    if len(d) <= 1:
        return []
    k = k_of(len(d))
    if m < k:
        return path(m, d[:k]) + [mth(d[k:])]
    return path(m - k, d[k:]) + [mth(d[:k])]


def subproof(m, d, b):
    n = len(d)
    if m == n:
        return [] if b else [mth(d)]
    k = k_of(n)
    if m <= k:
        return subproof(m, d[:k], b) + [mth(d[k:])]
    return subproof(m - k, d[k:], False) + [mth(d[:k])]


def verify_inclusion(index, size, leaf, proof, root):
    """RFC 9162 §2.1.3.2"""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(first, second, first_hash, second_hash, proof):
    """RFC 9162 §2.1.4.2"""
    if first == second:
        return proof == [] and first_hash == second_hash
    if first == 0 or first > second or not proof:
        return False
    proof = list(proof)
    if first & (first - 1) == 0:
        proof.insert(0, first_hash)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_hash and sr == second_hash and sn == 0


def changed(proof):
    """the same proof with one bit of its first hash flipped"""
    p = [bytearray(h) for h in proof]
    p[0][0] ^= 1
    return [bytes(h) for h in p]


def check_checkpoint(note, vkey, size, root):
    name, keyid_hex, keyb64 = vkey.split("+", 2)
    raw = base64.b64decode(keyb64, validate=True)
    if raw[0] != 0x02:
        fail("vkey type byte %#x, want 0x02" % raw[0])
        return
    spki = raw[1:]
    keyid = sha(spki)[:4]
    if keyid.hex() != keyid_hex.lower():
        fail("vkey key ID %s, SHA-256(SPKI)[:4] is %s" % (keyid_hex, keyid.hex()))
    pub = serialization.load_der_public_key(spki)
    if not isinstance(pub, ec.EllipticCurvePublicKey) or pub.curve.name != "secp256r1":
        fail("vkey is not a P-256 key")
        return
    data = note.encode("utf-8")
    cut = data.rfind(b"\n\n")
    if cut < 0 or not data.endswith(b"\n"):
        fail("checkpoint: no blank line before the signatures")
        return
    text, sigs = data[:cut + 1], data[cut + 2:].decode("utf-8").splitlines()
    lines = text.decode("utf-8").split("\n")[:-1]
    if len(lines) < 3 or lines[0] != name:
        fail("checkpoint body %r" % lines)
        return
    if lines[1] != str(size) or base64.b64decode(lines[2], validate=True) != root:
        fail("checkpoint size/root %r %r, want %d %s" % (lines[1], lines[2], size, root.hex()))
    ok = 0
    for s in sigs:
        if not s.startswith("\u2014 "):
            fail("signature line %r" % s)
            continue
        sname, sb64 = s[2:].split(" ", 1)
        blob = base64.b64decode(sb64, validate=True)
        if sname != name or blob[:4] != keyid:
            continue
        try:
            pub.verify(blob[4:], text, ec.ECDSA(hashes.SHA256()))
            ok += 1
        except InvalidSignature:
            fail("checkpoint signature does not verify")
        # and a changed text does not verify
        try:
            pub.verify(blob[4:], text.replace(b"\n%d\n" % size, b"\n%d\n" % (size + 1)),
                       ec.ECDSA(hashes.SHA256()))
            fail("checkpoint signature verifies a changed size")
        except InvalidSignature:
            pass
    if ok != 1:
        fail("%d verified signatures by the log key, want 1" % ok)


def segment_root(frm, to, left, leaves):
    """MTH(D[0:to]) from the compact range of D[0:frm] (the roots of the perfect
    subtrees left of frm, largest first) and the leaf hashes frm..to-1: RFC
    6962's recursion, with the ranges left of frm looked up, never computed"""
    known, off = {}, 0
    for level in range(62, -1, -1):
        if frm >> level & 1:
            if not left:
                raise ValueError("fewer left hashes than bits set in from")
            known[(off, off + (1 << level))] = left.pop(0)
            off += 1 << level
    if left:
        raise ValueError("more left hashes than bits set in from")

    def h(a, b):
        if (a, b) in known:
            return known[(a, b)]
        if b - a == 1:
            if a < frm:
                raise ValueError("the recursion needs a hash left of from that is not given")
            return leaves[a - frm]
        k = k_of(b - a)
        return node_hash(h(a, a + k), h(a + k, b))
    return h(0, to)


def note_size_root(note):
    lines = note.split("\n")
    return int(lines[1]), base64.b64decode(lines[2], validate=True)


def check_segment(text, vkey):
    """Check a segment export (str) with the verifier key text: the header's
    checkpoint signature, the records' indexes and chain, the root of
    D[0:to] from the left hashes and the leaves, the consistency proof from
    to to the checkpoint's size, and the newer checkpoint with its proof.
    Failures go to fail(); returns (from, to, size) or None."""
    lines = text.split("\n")
    if len(lines) < 2 or lines[-1] != "":
        fail("segment: no header or no final newline")
        return None
    hdr, recs = json.loads(lines[0]), [r.encode("utf-8") for r in lines[1:-1]]
    if hdr.get("format") != "keywarden-audit-segment" or hdr.get("v") != 1:
        fail("segment: header %r" % sorted(hdr))
        return None
    frm, to = hdr["from"], hdr["to"]
    size, root = note_size_root(hdr["checkpoint"])
    check_checkpoint(hdr["checkpoint"], vkey, size, root)
    if not 0 <= frm < to <= size or len(recs) != to - frm:
        fail("segment: range [%d, %d), %d records, checkpoint size %d" % (frm, to, len(recs), size))
        return None
    leaves = [leaf_hash(r) for r in recs]
    for i, r in enumerate(recs):
        rec = json.loads(r)
        if rec["index"] != frm + i or (i > 0 and bytes.fromhex(rec["prev"]) != leaves[i - 1]):
            fail("segment: record %d: index %r prev %s" % (frm + i, rec["index"], rec["prev"]))
    try:
        top = segment_root(frm, to, [bytes.fromhex(x) for x in hdr["left"]], leaves)
    except ValueError as e:
        fail("segment: %s" % e)
        return None
    proof = [bytes.fromhex(x) for x in hdr["consistency"]]
    if to == size:
        if proof or top != root:
            fail("segment: the records do not make the checkpoint's root")
    elif not verify_consistency(to, size, top, root, proof):
        fail("segment: the consistency proof %d -> %d does not verify" % (to, size))
    if "latest" in hdr:
        lsize, lroot = note_size_root(hdr["latest"]["checkpoint"])
        check_checkpoint(hdr["latest"]["checkpoint"], vkey, lsize, lroot)
        lproof = [bytes.fromhex(x) for x in hdr["latest"]["consistency"]]
        if lsize <= size or not verify_consistency(size, lsize, root, lroot, lproof):
            fail("segment: the newer checkpoint %d does not extend %d" % (lsize, size))
    return frm, to, size


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: verify_proofs.py AUDIT_PROOF_DUMP")
    out = subprocess.run([sys.argv[1], "40"], check=True, capture_output=True, timeout=60).stdout
    dump = json.loads(out)
    recs = [r.encode("utf-8") for r in dump["records"]]
    n = len(recs)
    if n != 40:
        fail("%d records, want 40" % n)
    leaves = [leaf_hash(r) for r in recs]
    prev = bytes(32)
    for i, r in enumerate(recs):
        rec = json.loads(r)
        if rec["index"] != i or bytes.fromhex(rec["prev"]) != prev:
            fail("record %d: index %r prev %s" % (i, rec["index"], rec["prev"]))
        prev = leaves[i]
    for size in range(1, n + 1):
        if bytes.fromhex(dump["roots"][str(size)]) != mth(leaves[:size]):
            fail("root at size %d" % size)
    ninc = ncon = 0
    for p in dump["inclusion"]:
        i, size = p["index"], p["size"]
        proof = [bytes.fromhex(h) for h in p["path"]]
        root = mth(leaves[:size])
        if proof != path(i, leaves[:size]):
            fail("inclusion %d/%d differs from PATH" % (i, size))
        if not verify_inclusion(i, size, leaves[i], proof, root):
            fail("inclusion %d/%d does not verify" % (i, size))
        if proof and verify_inclusion(i, size, leaves[i], changed(proof), root):
            fail("a changed inclusion proof %d/%d verifies" % (i, size))
        ninc += 1
    for p in dump["consistency"]:
        m, size = p["first"], p["second"]
        proof = [bytes.fromhex(h) for h in p["path"]]
        want = subproof(m, leaves[:size], True) if m < size else []
        if proof != want:
            fail("consistency %d->%d differs from PROOF" % (m, size))
        r1, r2 = mth(leaves[:m]), mth(leaves[:size])
        if not verify_consistency(m, size, r1, r2, proof):
            fail("consistency %d->%d does not verify" % (m, size))
        if proof and verify_consistency(m, size, r1, r2, changed(proof)):
            fail("a changed consistency proof %d->%d verifies" % (m, size))
        ncon += 1
    if ninc != n * (n + 1) // 2 or ncon != n * (n + 1) // 2:
        fail("%d inclusion and %d consistency proofs, want %d each" % (ninc, ncon, n * (n + 1) // 2))
    check_checkpoint(dump["checkpoint"], dump["vkey"], n, mth(leaves))
    for f in failures[:50]:
        print("verify_proofs: " + f)
    print("verify_proofs: %d records, %d inclusion and %d consistency proofs, checkpoint: %s"
          % (n, ninc, ncon, "FAILED" if failures else "all verified independently"))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":   # also imported by tests/integration/test_audit.py
    main()
