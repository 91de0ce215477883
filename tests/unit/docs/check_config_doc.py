#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""docs/configuration.md documents exactly the keys broker/config.c accepts:
every row of the key table (and of parse_admin's list) is a row of its
section's table in the document, and every documented key is accepted."""
import os
import re
import sys

top = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "..")
src = open(os.path.join(top, "broker", "config.c"), encoding="utf-8").read()
doc = open(os.path.join(top, "docs", "configuration.md"), encoding="utf-8").read()

code = {(s or "top", k) for s, k in re.findall(r'^\s*\{"(\w*)", "(\w+)", K_[A-Z]+', src, re.M)}
m = re.search(r'admin_keys\[\] = \{(.*?)NULL\}', src, re.S)
if not code or not m:
    sys.exit("check_config_doc: cannot find the key table in broker/config.c")
code |= {("admin", k) for k in re.findall(r'"(\w+)"', m.group(1))}

documented = set()
for sec_m in re.finditer(r'^## (?:`(\w+)`|(Top level))\s*$(.*?)(?=^## |\Z)', doc, re.M | re.S):
    sec = sec_m.group(1) or "top"
    for k in re.findall(r'^\| `(\w+)`', sec_m.group(3), re.M):
        documented.add((sec, k))
    # a row may name several keys: | `certificate`, `private_key` | ...
    for row in re.findall(r'^\| (`\w+`(?:, `\w+`)+) \|', sec_m.group(3), re.M):
        documented |= {(sec, k) for k in re.findall(r'`(\w+)`', row)}

# accepted only to be refused with a clear message; its own "(removed)" section
code.discard(("top", "resources"))
bad = 0
for s, k in sorted(code - documented):
    print("check_config_doc: %s.%s is accepted but not in docs/configuration.md" % (s, k))
    bad = 1
for s, k in sorted(documented - code):
    print("check_config_doc: docs/configuration.md documents %s.%s, which is not accepted" % (s, k))
    bad = 1
print("check_config_doc: %d keys, %s" % (len(code), "differences" if bad else "documented exactly"))
sys.exit(bad)
