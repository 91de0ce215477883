#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The OpenAPI documents describe what a real broker answers: one broker, a
flow over both listeners (challenge, attestation, release, key and policy
administration, the audit log, errors), and every request body sent and
every answer received is checked against docs/openapi/workload.yaml or
admin.yaml: the response object for that path, method and status must
exist, its media type must be the one received, the body must validate
against its schema (JSON Schema 2020-12, python3-jsonschema) and the
headers it marks required must be present. The bodies of accepted
requests must validate against the operation's requestBody schema. Run by meson with
the other integration tests (tests/unit/docs/check_openapi.py checks the
documents themselves)."""
import json
import os
import re
import sys

import jsonschema
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kwtest import SRC, Attester, Broker, run_tests  # noqa: E402

DOCS = {}
for _name in ("workload", "admin"):
    with open(os.path.join(SRC, "docs", "openapi", _name + ".yaml"), encoding="utf-8") as _f:
        DOCS[_name] = yaml.safe_load(_f)
checked = {"responses": 0, "requests": 0}


def node_ref(ref):
    return [p.replace("~1", "/").replace("~0", "~") for p in ref[2:].split("/")]


def resolve(doc, node):
    while isinstance(node, dict) and "$ref" in node:
        target = doc
        for part in node_ref(node["$ref"]):
            target = target[part]
        node = target
    return node


def template_rx(tmpl):
    """A path template as a regular expression ({param}: one segment)."""
    return "^" + re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(tmpl)) + "$"


def operation(doc, path, method):
    """The operation and the template of path (exact segments or {param})."""
    for tmpl, item in doc["paths"].items():
        if re.match(template_rx(tmpl), path.split("?")[0]) and method.lower() in item:
            return tmpl, item[method.lower()]
    return None, None


def path_known(doc, path):
    return any(re.match(template_rx(t), path.split("?")[0]) for t in doc["paths"])


def validate(doc, schema, value, what):
    v = jsonschema.Draft202012Validator(schema, resolver=jsonschema.RefResolver("", doc))
    errs = sorted(e.message for e in v.iter_errors(value))
    assert not errs, "%s does not match the document: %s\n%r" % (what, errs[:3], value)


def media(content, ctype):
    base = ctype.split(";")[0].strip()
    for k, v in content.items():
        if k.split(";")[0].strip() == base:
            return v
    raise AssertionError("media type %s not documented (have %s)" % (ctype, list(content)))


def check(name, method, path, st, ctype, body, headers, req_body=None):
    """One exchange against document name; unknown paths: the not-found response."""
    doc = DOCS[name]
    tmpl, op = operation(doc, path, method)
    what = "%s %s -> %d" % (method, path, st)
    if req_body is not None and 200 <= st < 300:
        assert op is not None, what + ": no such operation in the document"
        rb = resolve(doc, op["requestBody"])
        validate(doc, media(rb["content"], "application/json")["schema"], req_body, what + " request")
        checked["requests"] += 1
    if op is None and st == 405:
        # a documented path with another method (workload: with Allow)
        assert path_known(doc, path), what + ": 405 for a path the document does not have"
        resp = resolve(doc, doc["components"]["responses"]["method-not-allowed"])
    elif op is None:
        resp = resolve(doc, doc["components"]["responses"]["not-found"])
        assert st == 404, what + ": not a documented operation, so it must be 404 (or 405)"
    else:
        assert str(st) in op["responses"], "%s: status %d is not documented for %s %s" % (
            what, st, method, tmpl)
        resp = resolve(doc, op["responses"][str(st)])
    for h, spec in resp.get("headers", {}).items():
        spec = resolve(doc, spec)
        if spec.get("required"):
            assert h.lower() in headers, "%s: required header %s missing" % (what, h)
    if "content" not in resp:
        assert not body, what + ": documented without a body"
    else:
        m = media(resp["content"], ctype)
        value = body
        if isinstance(value, (bytes, bytearray)):
            value = value.decode()
            if ctype.startswith("application/") and "json" in ctype:
                value = json.loads(value)
        validate(doc, m["schema"], value, what)
    checked["responses"] += 1


def w(b, method, path, body=None, headers=None, raw=False):
    st, ct, r = b.request(method, path, body, headers=headers, raw=raw)
    check("workload", method, path, st, ct, r, b.last_headers,
          req_body=body if method in ("POST", "PUT") and isinstance(body, dict) else None)
    return st, r


def a(b, method, path, body=None, expect=None):
    st, ct, r = b.admin(method, path, body)
    # kwtest.admin does not keep headers; the admin document marks none required but
    # Retry-After (429, 503), which this flow does not meet
    check("admin", method, path, st, ct, r, {},
          req_body=body if method in ("POST", "PUT") and isinstance(body, dict) else None)
    if expect is not None:
        assert st == expect, (method, path, st, r)
    return st, r


def t_workload(b):
    for p in ("/healthz", "/readyz", "/.well-known/jwks.json", "/.well-known/keywarden-checkpoint",
              "/.well-known/keywarden-checkpoint-key"):
        w(b, "GET", p)
    st, r = w(b, "POST", "/kbs/v0/auth", {"version": "0.1.0", "tee": "snp", "extra-params": {}})
    assert st == 200
    st, r = w(b, "POST", "/kbs/v0/auth", {"version": "0.1.0", "tee": "nosuch"})
    assert st == 400 and r["type"] == "urn:keywarden:problem:unsupported", r
    st, _ = w(b, "POST", "/kbs/v0/auth", b'{"version": 1}')
    assert st == 400
    st, _ = w(b, "PUT", "/kbs/v0/auth", b"{}")
    assert st == 405 and b.last_headers.get("allow") == "POST"
    st, _ = w(b, "DELETE", "/kbs/v0/resource/demo/key/x")
    assert st == 405 and b.last_headers.get("allow") == "GET"
    st, _ = w(b, "GET", "/no/such/path")
    assert st == 404

    at = Attester(b)
    body = at.attest_body()
    st, r = w(b, "POST", "/kbs/v0/attest", body)
    assert st == 200 and "dpop-nonce" in b.last_headers
    token = r["token"]
    at.dpop_nonce = b.last_headers["dpop-nonce"]
    st, _ = w(b, "POST", "/kbs/v0/attest", body)     # the challenge is spent
    assert st == 401
    b.provision("demo/key/live")
    st, ct, r = at.resource(token, "demo/key/live")
    check("workload", "GET", "/kbs/v0/resource/demo/key/live", st, ct, r, b.last_headers)
    assert st == 200 and len(at.decrypt(r)) == 32, (st, r)
    st, ct, r = at.resource(token, "demo/key/nope")
    check("workload", "GET", "/kbs/v0/resource/demo/key/nope", st, ct, r, b.last_headers)
    assert st == 404
    st, ct, r = at.resource(None, "demo/key/live")
    check("workload", "GET", "/kbs/v0/resource/demo/key/live", st, ct, r, b.last_headers)
    assert st == 401


def t_admin(b):
    a(b, "GET", "/admin/v1/whoami", expect=200)
    a(b, "GET", "/admin/v1/import-key", expect=200)
    a(b, "PUT", "/admin/v1/policies/demo/p-live", {"document": b_policy(b)}, expect=201)
    a(b, "GET", "/admin/v1/policies/demo/p-live", expect=200)
    a(b, "GET", "/admin/v1/policies/demo/p-live?version=1", expect=200)
    a(b, "GET", "/admin/v1/policies/demo/p-live/history", expect=200)
    a(b, "GET", "/admin/v1/policies/demo/p-live/lint", expect=200)
    a(b, "GET", "/admin/v1/policies?repository=demo", expect=200)
    a(b, "POST", "/admin/v1/keys", {"repository": "demo", "type": "key", "tag": "adm",
                                    "algorithm": "secret", "length": 20, "policy": "p-live"},
      expect=201)
    a(b, "POST", "/admin/v1/keys", {"repository": "demo", "type": "key", "tag": "adm",
                                    "algorithm": "aes-128"}, expect=409)
    a(b, "GET", "/admin/v1/keys", expect=200)
    a(b, "GET", "/admin/v1/keys/demo/key/adm", expect=200)
    a(b, "POST", "/admin/v1/keys/demo/key/adm/versions", {}, expect=201)
    a(b, "POST", "/admin/v1/keys/demo/key/adm/versions/1/disable", {}, expect=200)
    a(b, "POST", "/admin/v1/keys/demo/key/adm/disable", {}, expect=200)
    a(b, "POST", "/admin/v1/keys/demo/key/adm/enable", {}, expect=200)
    a(b, "PUT", "/admin/v1/keys/demo/key/adm/policy", {"policy": None}, expect=200)
    a(b, "GET", "/admin/v1/refvals", expect=200)
    a(b, "GET", "/admin/v1/changes?limit=5", expect=200)
    a(b, "GET", "/admin/v1/audit?limit=3", expect=200)
    a(b, "GET", "/admin/v1/audit/proof?index=0", expect=200)
    a(b, "GET", "/admin/v1/audit/consistency?from=1&to=2", expect=200)
    a(b, "GET", "/admin/v1/audit/checkpoint")
    a(b, "DELETE", "/admin/v1/keys/demo/key/adm", expect=204)
    a(b, "GET", "/admin/v1/keys/demo/key/adm", expect=404)
    a(b, "GET", "/admin/v1/keys/demo/key/..", expect=400)
    a(b, "PUT", "/admin/v1/keys", {"x": 1}, expect=405)
    a(b, "GET", "/admin/v1/nosuch", expect=404)


def b_policy(b):
    from kwtest import policy_for
    return policy_for(b.emu["measurement"])


def t_counted(b):
    # what the flow met is counted (a floor a regression cannot pass), and the
    # checks refuse answers that do not match (not vacuous)
    print("checked %d responses and %d request bodies against the documents" %
          (checked["responses"], checked["requests"]))
    assert checked["responses"] >= 44 and checked["requests"] >= 9, checked
    for name, method, path, st, ct, body in (
            ("workload", "POST", "/kbs/v0/auth", 200, "application/json", {"nonce": "x", "extra": 1}),
            ("workload", "GET", "/healthz", 200, "text/plain", b"ok"),
            ("workload", "GET", "/kbs/v0/resource/a/b/c", 403, "application/problem+json",
             {"type": "urn:keywarden:problem:not-found", "title": "t", "status": 404}),
            ("admin", "GET", "/admin/v1/keys", 200, "application/json", {"keys": [{"repository": "a"}]}),
            ("admin", "GET", "/admin/v1/whoami", 418, "application/json", {})):
        try:
            check(name, method, path, st, ct, body, {})
        except AssertionError:
            continue
        raise AssertionError("%s %s -> %d %r passed the check" % (method, path, st, body))


if __name__ == "__main__":
    sys.exit(run_tests(Broker(), [t_workload, t_admin, t_counted]))
