#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""kwctl audit export and kwctl audit verify on a real audit database.

audit_proof_dump --make writes a 24-record log with a stored checkpoint
(software key). Then: an untouched export verifies; for an edited record
(its trigger dropped first, as an attacker with the file would), a deleted
one, two reordered and a truncated tail, the export no longer verifies and
kwctl names the first bad index; a checkpoint under another key, a changed
checkpoint and usage errors give their exit statuses. Segment exports
(export --segment, verify --segment; checkpoints also stored at 10 and 16):
several ranges verify with kwctl and with the independent Python checks of
verify_proofs.py; edits, deletions, reorderings, truncations and extra
records inside a segment (in the database before the export, and in the
exported file) name the first bad index; a changed header hash, another
log's key, a forked newer checkpoint and a plain export are refused.

usage: test_kwctl_audit.py KWCTL AUDIT_PROOF_DUMP
"""
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import verify_proofs  # noqa: E402

N = 24
failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)


def run(args, timeout=60):
    p = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def tampered_copy(db, copy, sql):
    """A copy of the database with its triggers dropped (as an attacker with the file would) and sql run"""
    shutil.copy(db, copy)
    for ext in ("-wal", "-shm"):
        if os.path.exists(db + ext):
            shutil.copy(db + ext, copy + ext)
    c = sqlite3.connect(copy)
    c.executescript("DROP TRIGGER IF EXISTS audit_records_no_update;"
                    "DROP TRIGGER IF EXISTS audit_records_no_delete;" + sql)
    c.commit()
    c.close()
    return copy


def main():
    kwctl, dump = sys.argv[1], sys.argv[2]
    tmp = tempfile.mkdtemp(prefix="kw-kwctl-audit.")
    try:
        db = os.path.join(tmp, "audit.db")
        cp = os.path.join(tmp, "checkpoint.txt")
        vk = os.path.join(tmp, "vkey.txt")
        rc, _, err = run([dump, "--make", db, str(N), cp, vk, "10", "16"])
        if rc != 0:
            sys.exit("test_kwctl_audit: cannot make the log: " + err)

        def export(name, dbfile=db):
            out = os.path.join(tmp, name)
            rc, _, err = run([kwctl, "audit", "export", "--db", dbfile, "--out", out])
            check(rc == 0, "export %s: exit %d %s" % (name, rc, err))
            return out

        def verify(log, checkpoint=cp, key=vk):
            return run([kwctl, "audit", "verify", "--log", log, "--checkpoint", checkpoint,
                        "--key", key])

        # untouched: every record exported, verifies
        log = export("all.jsonl")
        # split at "\n" only: records may hold U+2028, which str.splitlines() also splits at
        lines = open(log, encoding="utf-8", newline="").read().split("\n")[:-1]
        check(len(lines) == N, "export has %d lines, want %d" % (len(lines), N))
        rc, out, err = verify(log)
        check(rc == 0 and out.startswith("ok: %d records" % N), "untouched: %d %r %r" % (rc, out, err))
        # the stored checkpoint is the one written
        cp2 = os.path.join(tmp, "cp2.txt")
        rc, _, err = run([kwctl, "audit", "export", "--db", db, "--from", "3", "--to", "5",
                          "--out", os.path.join(tmp, "part.jsonl"), "--checkpoint-out", cp2])
        check(rc == 0 and open(cp2).read() == open(cp).read(), "checkpoint-out: %d %s" % (rc, err))
        part = open(os.path.join(tmp, "part.jsonl"), encoding="utf-8", newline="").read().split("\n")[:-1]
        check(part == lines[3:5], "export --from 3 --to 5")

        def tampered(name, sql, want):
            copy = tampered_copy(db, os.path.join(tmp, name + ".db"), sql)
            rc, out, err = verify(export(name + ".jsonl", copy))
            m = re.match(r"bad: first bad record (\d+): ", out)
            check(rc == 1 and m is not None and int(m.group(1)) == want,
                  "%s: exit %d, %r, want first bad %d" % (name, rc, out, want))

        # edit one record's content (a release's client, a denial's check, ...)
        tampered("edit", "UPDATE audit_records SET record = replace(record, 'k9', 'k8')"
                 " WHERE idx = 9;", 9)
        tampered("edit-last", "UPDATE audit_records SET record = replace(record, '\"at\":"
                 "1800000023', '\"at\":1800000024') WHERE idx = %d;" % (N - 1), N - 1)
        tampered("delete", "DELETE FROM audit_records WHERE idx = 4;", 4)
        tampered("reorder", "UPDATE audit_records SET record = CASE idx"
                 " WHEN 3 THEN (SELECT record FROM audit_records WHERE idx = 11)"
                 " ELSE (SELECT record FROM audit_records WHERE idx = 3) END"
                 " WHERE idx IN (3, 11);", 3)
        tampered("truncate", "DELETE FROM audit_records WHERE idx >= 17;", 17)

        segments(kwctl, dump, tmp, db, vk, lines)

        # the checkpoint: another key, a changed checkpoint
        other_vk = os.path.join(tmp, "other-vkey.txt")
        rc, _, _ = run([dump, "--make", os.path.join(tmp, "other.db"), "1",
                        os.path.join(tmp, "other-cp.txt"), other_vk])
        check(rc == 0, "second log")
        rc, out, err = verify(log, key=other_vk)
        check(rc == 1 and "does not verify" in err, "other key: %d %r" % (rc, err))
        bad_cp = os.path.join(tmp, "bad-cp.txt")
        text = open(cp, encoding="utf-8").read()
        open(bad_cp, "w", encoding="utf-8").write(text.replace("\n%d\n" % N, "\n%d\n" % (N - 1), 1))
        rc, out, err = verify(log, checkpoint=bad_cp)
        check(rc == 1 and "does not verify" in err, "changed checkpoint: %d %r" % (rc, err))
        # usage
        rc, _, _ = run([kwctl, "audit", "verify", "--log", log])
        check(rc == 2, "missing options: exit %d" % rc)
        rc, _, _ = verify(os.path.join(tmp, "missing.jsonl"))
        check(rc == 2, "missing log file: exit %d" % rc)
        rc, _, _ = run([kwctl, "audit", "export", "--db", os.path.join(tmp, "nope.db")])
        check(rc == 2, "missing database: exit %d" % rc)
        rc, _, _ = run([kwctl, "audit", "export", "--db", db, "--out", log])
        check(rc == 2, "export over an existing file: exit %d" % rc)
        rc, out, _ = run([kwctl, "audit", "--help"])
        check(rc == 0 and "audit verify" in out, "help")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for f in failures:
        print("test_kwctl_audit: " + f)
    print("test_kwctl_audit: %s" % ("FAILED" if failures else "export, verify and every tamper case as expected"))
    sys.exit(1 if failures else 0)


def segments(kwctl, dump, tmp, db, vk, lines):
    """export --segment and verify --segment"""
    def seg_export(name, frm, to=None, dbfile=db):
        out = os.path.join(tmp, name)
        args = [kwctl, "audit", "export", "--db", dbfile, "--segment", "--from", str(frm),
                "--out", out]
        if to is not None:
            args += ["--to", str(to)]
        rc, _, err = run(args)
        check(rc == 0, "segment export %s: exit %d %s" % (name, rc, err))
        return out

    def seg_verify(path, key=vk):
        return run([kwctl, "audit", "verify", "--segment", path, "--key", key])

    def read(path):
        return open(path, encoding="utf-8", newline="").read()

    def write(name, text):
        path = os.path.join(tmp, name)
        open(path, "w", encoding="utf-8", newline="").write(text)
        return path

    # untouched ranges: the covering checkpoint is the smallest stored one >= to
    # (10, 16 or 24), the newer one (24) comes with its consistency proof
    for frm, to, size in ((5, 9, 10), (0, 10, 10), (10, 16, 16), (3, 17, 24), (16, 17, 24),
                          (23, None, 24), (0, None, 24), (7, 8, 10)):
        name = "seg-%d-%s.jsonl" % (frm, to)
        path = seg_export(name, frm, to)
        end = N if to is None else to
        rc, out, err = seg_verify(path)
        check(rc == 0 and out.startswith("ok: records [%d, %d) of 'keywarden.test/audit' are"
                                         " leaves of the tree of size %d" % (frm, end, size)),
              "segment %s: %d %r %r" % (name, rc, out, err))
        check(("newer checkpoint of size %d" % N in out) == (size < N), "segment %s: %r" % (name, out))
        text = read(path)
        check(text.split("\n")[1:-1] == lines[frm:end], "segment %s: records differ from the"
              " whole export" % name)
        before = len(verify_proofs.failures)
        got = verify_proofs.check_segment(text, open(vk).read().strip())
        for f in verify_proofs.failures[before:]:
            check(False, "python, segment %s: %s" % (name, f))
        check(got == (frm, end, size), "python, segment %s: %r" % (name, got))

    def want_bad(name, path, want):
        rc, out, err = seg_verify(path)
        m = re.match(r"bad: first bad record (\d+): ", out)
        check(rc == 1 and m is not None and int(m.group(1)) == want,
              "segment %s: exit %d, %r %r, want first bad %d" % (name, rc, out, err, want))

    # tampered in the database before the export (triggers dropped)
    def tampered(name, sql, want, frm=5, to=14):
        copy = tampered_copy(db, os.path.join(tmp, "seg-" + name + ".db"), sql)
        want_bad("db-" + name, seg_export("seg-" + name + ".jsonl", frm, to, copy), want)

    tampered("edit", "UPDATE audit_records SET record = replace(record, 'k9', 'k8')"
             " WHERE idx = 9;", 9)
    tampered("edit-first", "UPDATE audit_records SET record = replace(record, 'k5', 'k4')"
             " WHERE idx = 5;", 5)
    tampered("edit-last", "UPDATE audit_records SET record = replace(record, 'k13', 'k12')"
             " WHERE idx = 13;", 13)
    tampered("delete", "DELETE FROM audit_records WHERE idx = 8;", 8)
    tampered("reorder", "UPDATE audit_records SET record = CASE idx"
             " WHEN 6 THEN (SELECT record FROM audit_records WHERE idx = 11)"
             " ELSE (SELECT record FROM audit_records WHERE idx = 6) END"
             " WHERE idx IN (6, 11);", 6)

    # tampered in the exported file: header line, then records 5..13
    base = read(seg_export("seg-base.jsonl", 5, 14)).split("\n")
    hdr, recs = base[0], base[1:-1]

    def seg_text(h, rs):
        return "\n".join([h] + rs) + "\n"

    want_bad("file-edit", write("f-edit", seg_text(hdr, recs[:4] + [recs[4].replace("k9", "k8")]
                                                   + recs[5:])), 9)
    want_bad("file-edit-last", write("f-edit-last", seg_text(hdr, recs[:-1] + [
        recs[-1].replace("k13", "k12")])), 13)
    first = json.loads(recs[0])
    edited_prev = recs[0].replace(first["prev"], "0" * 64)
    want_bad("file-edit-prev", write("f-edit-prev", seg_text(hdr, [edited_prev] + recs[1:])), 5)
    want_bad("file-delete", write("f-delete", seg_text(hdr, recs[:3] + recs[4:])), 8)
    want_bad("file-reorder", write("f-reorder", seg_text(hdr, recs[:1] + [recs[5]] + recs[2:5]
                                                         + [recs[1]] + recs[6:])), 6)
    want_bad("file-truncate", write("f-truncate", seg_text(hdr, recs[:6])), 11)
    want_bad("file-truncate-all", write("f-truncate-all", seg_text(hdr, [])), 5)
    want_bad("file-extra", write("f-extra", seg_text(hdr, recs + [lines[14]])), 14)
    # a hash of the header changed: the records no longer make the signed tree
    h = json.loads(hdr)
    h["left"][0] = h["left"][0][:-1] + ("0" if h["left"][0][-1] != "0" else "1")
    want_bad("file-left", write("f-left", seg_text(json.dumps(h), recs)), 13)
    h = json.loads(hdr)
    h["consistency"][-1] = "00" + h["consistency"][-1][2:]
    want_bad("file-consistency", write("f-consistency", seg_text(json.dumps(h), recs)), 13)
    # a range moved: the header claims records 6..14
    h = json.loads(hdr)
    h["from"], h["to"] = 6, 15
    want_bad("file-moved", write("f-moved", seg_text(json.dumps(h), recs)), 6)
    # the newer checkpoint's proof changed: the log looks forked
    h = json.loads(hdr)
    h["latest"]["consistency"][0] = "00" + h["latest"]["consistency"][0][2:]
    rc, out, err = seg_verify(write("f-fork", seg_text(json.dumps(h), recs)))
    check(rc == 1 and "forked" in err, "segment with a forked newer checkpoint: %d %r" % (rc, err))
    # the checkpoint's signature: a changed size, another log's key
    h = json.loads(hdr)
    h["checkpoint"] = h["checkpoint"].replace("\n16\n", "\n15\n", 1)
    rc, out, err = seg_verify(write("f-cp", seg_text(json.dumps(h), recs)))
    check(rc == 1 and "does not verify" in err, "segment with a changed checkpoint: %d %r" % (rc, err))
    other_db, other_vk = os.path.join(tmp, "seg-other.db"), os.path.join(tmp, "seg-other-vk.txt")
    rc, _, _ = run([dump, "--make", other_db, str(N), os.path.join(tmp, "seg-other-cp.txt"),
                    other_vk, "16"])
    check(rc == 0, "another log")
    other = seg_export("seg-other.jsonl", 5, 14, other_db)
    rc, out, err = seg_verify(other)
    check(rc == 1 and "another log" in err, "another log's segment, our key: %d %r" % (rc, err))
    rc, out, _ = seg_verify(other, other_vk)
    check(rc == 0, "another log's segment, its key: %d %r" % (rc, out))
    # a plain export is not a segment, and usage
    rc, _, err = seg_verify(os.path.join(tmp, "all.jsonl"))
    check(rc == 1 and "not a segment" in err, "plain export as a segment: %d %r" % (rc, err))
    rc, _, _ = run([kwctl, "audit", "verify", "--segment", other, "--checkpoint",
                    os.path.join(tmp, "seg-other-cp.txt"), "--key", vk])
    check(rc == 2, "--segment with --checkpoint: exit %d" % rc)
    rc, _, _ = run([kwctl, "audit", "export", "--db", db, "--segment", "--from", str(N),
                    "--out", os.path.join(tmp, "seg-empty.jsonl")])
    check(rc == 2, "an empty segment: exit %d" % rc)


main()
