#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""docs/architecture.md's module table matches the tree: for each row whose
first cell names a directory, the `name.c` entries in its files cell are
exactly the .c files in that directory (not below it). Exit 1 with the
differences otherwise."""
import os
import re
import sys

top = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "..")
doc = open(os.path.join(top, "docs", "architecture.md"), encoding="utf-8").read()
rows = re.findall(r"^\| `([a-z/-]+/)` \| (.*?) \| [^|]* \|$", doc, re.M)
if not rows:
    sys.exit("check_architecture: no module table found in docs/architecture.md")
bad = 0
for d, cell in rows:
    listed = set(re.findall(r"`([A-Za-z0-9_-]+\.c)`", cell))
    path = os.path.join(top, d)
    if not os.path.isdir(path):
        print("check_architecture: %s is not a directory" % d)
        bad = 1
        continue
    actual = {f for f in os.listdir(path) if f.endswith(".c")}
    for f in sorted(actual - listed):
        print("check_architecture: %s%s exists but is not in docs/architecture.md" % (d, f))
        bad = 1
    for f in sorted(listed - actual):
        print("check_architecture: docs/architecture.md lists %s%s, which does not exist" % (d, f))
        bad = 1
print("check_architecture: %d modules, %s" % (len(rows), "differences" if bad else "matches the tree"))
sys.exit(bad)
