#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The problem tables of docs/protocol.md (workload listener) and
docs/admin.md (admin listener) match the broker's problem table
(broker/problem.c), as printed by `test_http --print-problems`.

    check_problems.py TEST_HTTP SOURCE_ROOT [--write]

Each document has one table between the lines
`<!-- problems: generated ... -->` and `<!-- /problems -->` with the columns
status, type, title, Retry-After, when. The first four are the table's; the
last is prose the document keeps (--write rewrites the first four and keeps
each slug's prose). Exit 1 with the differences otherwise."""
import os
import re
import subprocess
import sys

DOCS = [("docs/protocol.md", "W"), ("docs/admin.md", "A")]
BEGIN = "<!-- problems: generated from broker/problem.c; check or --write with tests/unit/docs/check_problems.py -->"
END = "<!-- /problems -->"
HEAD = ["| status | type | title | Retry-After | when |", "|---|---|---|---|---|"]
ROW = re.compile(r"^\|(.*)\|$")
SLUG = re.compile(r"^`([a-z_-]+)`$")


def parse_row(line):
    """(status, slug, title, retry-after, when) of a table row, or None."""
    m = ROW.match(line.strip())
    cells = [c.strip() for c in m.group(1).split("|", 4)] if m else []
    if len(cells) != 5 or not cells[0].isdigit() or not SLUG.match(cells[1]):
        return None
    return cells[0], SLUG.match(cells[1]).group(1), cells[2], cells[3], cells[4]


def format_row(status, slug, title, retry, when):
    line = "| %s | `%s` | %s | %s | %s |" % (status, slug, title, retry, when)
    return line.replace("|  |", "| |")


def table(exe):
    out = subprocess.run([exe, "--print-problems"], check=True, stdout=subprocess.PIPE,
                         universal_newlines=True).stdout
    rows = []
    for line in out.splitlines():
        status, slug, title, retry, planes = line.split("\t")
        rows.append((status, slug, title, retry, planes))
    if not rows:
        sys.exit("check_problems: %s printed no problems" % exe)
    return rows


def block(text, path):
    if text.count(BEGIN) != 1 or text.count(END) != 1 or text.index(BEGIN) > text.index(END):
        sys.exit("check_problems: %s has no single problems block (%s ... %s)" % (path, BEGIN, END))
    a = text.index(BEGIN) + len(BEGIN)
    return a, text.index(END)


def main():
    if len(sys.argv) not in (3, 4) or (len(sys.argv) == 4 and sys.argv[3] != "--write"):
        sys.exit(__doc__)
    rows = table(sys.argv[1])
    top = sys.argv[2]
    bad = 0
    for doc, plane in DOCS:
        path = os.path.join(top, doc)
        text = open(path, encoding="utf-8").read()
        a, b = block(text, path)
        have = []
        when = {}
        lines = text[a:b].strip().splitlines()
        if lines[:2] != HEAD:
            print("check_problems: %s: the problems table does not start with %s" % (doc, HEAD[0]))
            bad = 1
        for line in lines[2:]:
            row = parse_row(line)
            if row is None:
                print("check_problems: %s: not a problem row: %s" % (doc, line))
                bad = 1
                continue
            have.append(row[:4])
            when[row[1]] = row[4]
        want = [r[:4] for r in rows if plane in r[4]]
        if sys.argv[3:] == ["--write"]:
            lines = HEAD + [format_row(s, g, t, ra, when.get(g, "")) for s, g, t, ra in want]
            text = text[:a] + "\n" + "\n".join(lines) + "\n" + text[b:]
            open(path, "w", encoding="utf-8").write(text)
            continue
        for r in want:
            if r not in have:
                print("check_problems: %s lacks %s %s (%s, Retry-After %r)" % (doc, r[0], r[1], r[2], r[3]))
                bad = 1
        for r in have:
            if r not in want:
                print("check_problems: %s lists %s %s (%s, Retry-After %r), which the broker does "
                      "not answer there" % (doc, r[0], r[1], r[2], r[3]))
                bad = 1
        if not bad and have != want:
            print("check_problems: %s lists the problems in another order than broker/problem.c" % doc)
            bad = 1
        for g, w in when.items():
            if not w.strip():
                print("check_problems: %s: `%s` has no \"when\"" % (doc, g))
                bad = 1
    print("check_problems: %d problems, %s" % (len(rows), "differences" if bad else "the documents match"))
    sys.exit(bad)


if __name__ == "__main__":
    main()
