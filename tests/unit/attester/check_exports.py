#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""libkwattester.so exports exactly the functions kwattester.h declares, all
at version KWATTESTER_0, and its SONAME is libkwattester.so.0.

Usage: check_exports.py PATH/TO/kwattester.h PATH/TO/libkwattester.so"""
import re
import subprocess
import sys

header, lib = sys.argv[1], sys.argv[2]
text = re.sub(r"/\*.*?\*/", "", open(header).read(), flags=re.S)
declared = set(re.findall(r"\b(kwa_[a-z_]+)\s*\(", text)) - {"kwa_log_fn"}
out = subprocess.run(["nm", "-D", "--defined-only", lib], capture_output=True, text=True, check=True).stdout
exported, bad = set(), []
for line in out.splitlines():
    parts = line.split()
    if len(parts) != 3 or parts[1] == "A":
        continue      # the version node itself
    name, _, version = parts[2].partition("@@")
    exported.add(name)
    if version != "KWATTESTER_0":
        bad.append("%s has version '%s'" % (name, version))
for n in sorted(declared - exported):
    bad.append("%s is declared in kwattester.h but not exported" % n)
for n in sorted(exported - declared):
    bad.append("%s is exported but not in kwattester.h" % n)
dyn = subprocess.run(["readelf", "-d", lib], capture_output=True, text=True, check=True).stdout
if "Library soname: [libkwattester.so.0]" not in dyn:
    bad.append("SONAME is not libkwattester.so.0")
for b in bad:
    print("check_exports: " + b)
print("check_exports: %d functions declared, %d exported%s" % (len(declared), len(exported),
                                                                ", differences" if bad else ""))
sys.exit(1 if bad or not declared else 0)
