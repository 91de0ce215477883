#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""kwctl audit export and kwctl audit verify on a real audit database.

audit_proof_dump --make writes a 24-record log with a stored checkpoint
(software key). Then: an untouched export verifies; for an edited record
(its trigger dropped first, as an attacker with the file would), a deleted
one, two reordered and a truncated tail, the export no longer verifies and
kwctl names the first bad index; a checkpoint under another key, a changed
checkpoint and usage errors give their exit statuses.

usage: test_kwctl_audit.py KWCTL AUDIT_PROOF_DUMP
"""
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile

N = 24
failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)


def run(args, timeout=60):
    p = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def main():
    kwctl, dump = sys.argv[1], sys.argv[2]
    tmp = tempfile.mkdtemp(prefix="kw-kwctl-audit.")
    try:
        db = os.path.join(tmp, "audit.db")
        cp = os.path.join(tmp, "checkpoint.txt")
        vk = os.path.join(tmp, "vkey.txt")
        rc, _, err = run([dump, "--make", db, str(N), cp, vk])
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
            copy = os.path.join(tmp, name + ".db")
            shutil.copy(db, copy)
            for ext in ("-wal", "-shm"):
                if os.path.exists(db + ext):
                    shutil.copy(db + ext, copy + ext)
            c = sqlite3.connect(copy)
            c.executescript("DROP TRIGGER IF EXISTS audit_records_no_update;"
                            "DROP TRIGGER IF EXISTS audit_records_no_delete;" + sql)
            c.commit()
            c.close()
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


main()
