#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""docs/policy.schema.json is a valid JSON Schema (draft 2020-12); every
```json policy example of docs/policy.md validates against it, every
```json refval example against its $defs/refval_set, and every
```json invalid-policy example is rejected by it. Exit 77 (skip) without
python3-jsonschema."""
import json
import re
import sys

try:
    import jsonschema
except ImportError:
    print("python3-jsonschema not installed: skipped")
    sys.exit(77)

docs = sys.argv[1]
with open(docs + "/policy.schema.json", encoding="utf-8") as f:
    schema = json.load(f)
jsonschema.Draft202012Validator.check_schema(schema)
assert schema.get("$schema") == "https://json-schema.org/draft/2020-12/schema"
policy = jsonschema.Draft202012Validator(schema)
refval = jsonschema.Draft202012Validator(
    {"$schema": schema["$schema"], "$defs": schema["$defs"], "$ref": "#/$defs/refval_set"})

with open(docs + "/policy.md", encoding="utf-8") as f:
    md = f.read()
counts = {"policy": 0, "refval": 0, "invalid-policy": 0}
failed = 0
for m in re.finditer(r"^```json ([a-z-]+)\n(.*?)^```$", md, re.S | re.M):
    kind, body = m.group(1), m.group(2)
    doc = json.loads(body)
    line = md.count("\n", 0, m.start()) + 1
    if kind == "policy":
        errs = list(policy.iter_errors(doc))
    elif kind == "refval":
        errs = list(refval.iter_errors(doc))
    elif kind == "invalid-policy":
        errs = [] if list(policy.iter_errors(doc)) else ["accepted by the schema"]
    else:
        continue
    counts[kind] += 1
    for e in errs:
        failed += 1
        print("docs/policy.md:%d (%s): %s" % (line, kind, getattr(e, "message", e)))
print("examples checked:", counts)
if failed or counts["policy"] < 5 or counts["refval"] < 1 or counts["invalid-policy"] < 2:
    sys.exit(1)
