#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Integration: PKCS#11 URIs (RFC 7512) in the configuration and in kwctl (docs/hsm.md).

One broker is configured only by a token URI: hsm.token carries the module
(module-path) and the PIN file (pin-source, a file: URI); hsm.module and
hsm.pin_file are gone. It must start and release a key. Then:

* `kwctl key show` prints one object URI per version, and p11tool (GnuTLS,
  an independent PKCS#11 consumer) finds exactly that object with the same
  module, by the URI alone; so do the token-signing key's URI in the
  broker's log and the seal key's in the helper's;
* configurations that must not start, each checked with a one-line error:
  a URI whose token does not exist (a real start: the helper runs, finds no
  token, and the broker refuses), pin-value, a URI and hsm.module /
  hsm.pin_file naming the same thing twice, an unknown attribute
  (--check-config).

The old separate keys are what every other integration test uses
(scripts/setup-local.sh).
"""
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kwtest  # noqa: E402
from kwtest import Attester, Broker  # noqa: E402

KWCTL = os.path.join(kwtest.BUILD, "tools", "kwctl")
MODULE = "/usr/lib/softhsm/libsofthsm2.so"
RES = "demo/key/uri"
TOKEN = "pkcs11:token=keywarden;manufacturer=SoftHSM%20project"


def uri_config(b):
    """b's configuration (as setup-local.sh wrote it) with the module and the PIN file
    inside hsm.token."""
    cfg = json.loads(json.dumps(state["orig"]))
    hsm = cfg["hsm"]
    pin = os.path.join(b.dir, hsm.pop("pin_file"))
    hsm.pop("module")
    hsm["token"] = "%s?module-path=%s&pin-source=file:%s" % (TOKEN, MODULE, pin)
    return cfg


def write_config(b, cfg, name):
    path = os.path.join(b.dir, name)
    with open(path, "w") as f:
        json.dump(cfg, f)
    return path


def key_show(b, path):
    env = dict(os.environ, KWCTL_PROFILE=os.path.join(b.dir, "kwctl.json"))
    p = subprocess.run([KWCTL, "key", "show", path], env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    assert p.returncode == 0, p.stderr.decode()
    return p.stdout.decode()


def p11tool_objects(b, uri):
    """(label, type) of every object p11tool lists for uri, logged in with the user PIN."""
    with open(os.path.join(b.dir, "hsm.pin")) as f:
        pin = f.read().strip()
    env = dict(os.environ, SOFTHSM2_CONF=os.path.join(b.dir, "softhsm2.conf"), GNUTLS_PIN=pin)
    p = subprocess.run(["p11tool", "--provider", MODULE, "--login", "--list-all", uri], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    assert p.returncode == 0, p.stderr.decode()
    objs, cur = [], None
    for line in p.stdout.decode().splitlines():
        line = line.strip()
        if line.startswith("Object "):
            cur = {}
            objs.append(cur)
        elif cur is not None and ":" in line:
            k, v = line.split(":", 1)
            cur[k.strip()] = v.strip()
    return objs


def t_starts_by_uri_and_releases(b):
    assert "hsm.socket is not set" in b.log()
    b.provision(RES)
    a = Attester(b)
    st, ctype, jwe = a.resource(a.token(), RES)
    assert st == 200 and ctype == "application/jose", (st, ctype, jwe)
    assert len(a.decrypt(jwe)) == 32
    state["key"] = a.decrypt(jwe)


def t_key_show_uris_found_by_p11tool(b):
    st, _, body = b.admin("POST", "/admin/v1/keys/%s/versions" % RES, {})
    assert st == 201, (st, body)
    st, _, meta = b.admin("GET", "/admin/v1/keys/" + RES)
    assert st == 200
    uris = [v["uri"] for v in meta["versions"]]
    assert len(uris) == 2 and uris[0] != uris[1], uris
    out = key_show(b, RES)
    shown = [line.split(None, 1)[1] for line in out.splitlines() if line.startswith("    uri ")]
    assert shown == uris, (out, uris)
    for i, uri in enumerate(uris, 1):
        assert uri.startswith("pkcs11:") and "type=secret-key" in uri, uri
        assert "object=kw-key%%2Fdemo%%2Fkey%%2Furi%%2Fv%d" % i in uri, uri
        objs = p11tool_objects(b, uri)
        assert len(objs) == 1, (uri, objs)
        assert objs[0].get("Label") == "kw-key/demo/key/uri/v%d" % i, objs
        assert objs[0].get("Type") == "Secret key", objs
    # the token part alone lists more (the versions, token keys, ...): the URI is what selects
    assert len(p11tool_objects(b, TOKEN)) > 2


def t_logged_uris_found_by_p11tool(b):
    """The token-signing key (broker log) and the seal key (helper log) named by URI."""
    log = b.log()
    tok = re.search(r"token-signing key \S+ \(1 key\(s\) in the HSM\), HSM object (pkcs11:\S+)", log)
    seal = re.search(r"seal key version (\d+) generated \((pkcs11:\S+)\)", log)
    assert tok and seal, log[-3000:]
    assert "type=private" in tok.group(1) and "type=secret-key" in seal.group(2)
    objs = p11tool_objects(b, tok.group(1))
    assert len(objs) == 1 and objs[0].get("Label", "").startswith("kw-token/"), objs
    objs = p11tool_objects(b, seal.group(2))
    assert len(objs) == 1 and objs[0].get("Label") == "kw-seal/" + seal.group(1), objs


def refused_at_check(b, cfg, name, want):
    path = write_config(b, cfg, name)
    p = subprocess.run([kwtest.KEYWARDEN, "--config", path, "--check-config"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    err = (p.stdout + p.stderr).decode()
    assert p.returncode != 0, err
    lines = [ln for ln in err.splitlines() if want in ln]
    assert len(lines) == 1, (want, err)
    return lines[0]


def t_bad_configs_refused(b):
    base = uri_config(b)
    # the URI form passes --check-config (the running broker shows it starts)
    path = write_config(b, base, "uri-ok.json")
    p = subprocess.run([kwtest.KEYWARDEN, "--config", path, "--check-config"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    assert p.returncode == 0, (p.stdout + p.stderr).decode()

    cfg = json.loads(json.dumps(base))
    cfg["hsm"]["token"] = TOKEN + "?pin-value=1234&module-path=" + MODULE
    line = refused_at_check(b, cfg, "pv.json", "pin-value would put the PIN in the configuration")
    assert "1234" not in line

    cfg = json.loads(json.dumps(base))
    cfg["hsm"]["module"] = MODULE
    line = refused_at_check(b, cfg, "mod.json", "both name the PKCS#11 module")
    assert '"module"' in line and '"module-path"' in line, line

    cfg = json.loads(json.dumps(base))
    cfg["hsm"]["pin_file"] = "hsm.pin"
    line = refused_at_check(b, cfg, "pin.json", "both name the PIN file")
    assert '"pin_file"' in line and '"pin-source"' in line, line

    cfg = json.loads(json.dumps(base))
    cfg["hsm"]["token"] = cfg["hsm"]["token"].replace("token=keywarden", "tokne=keywarden")
    refused_at_check(b, cfg, "unknown.json", "unknown path attribute 'tokne'")


def t_no_matching_token(b):
    """A URI no token fits: the broker exits with one clear line (a real start)."""
    cfg = uri_config(b)
    cfg["hsm"]["token"] = cfg["hsm"]["token"].replace(
        "manufacturer=SoftHSM%20project", "serial=0000000000000000")
    # its own ports and store: the running broker keeps everything else
    cfg["listen"] = "127.0.0.1:%d" % kwtest.free_port()
    cfg["admin"]["listen"] = "127.0.0.1:%d" % kwtest.free_port()
    cfg["store"] = {"path": "nomatch.db"}
    path = write_config(b, cfg, "nomatch.json")
    t0 = time.time()
    p = subprocess.run([kwtest.KEYWARDEN, "--config", path], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=120,
                       env=dict(os.environ, KEYWARDEN_TEST_CLOCK_FILE=b.clock_file))
    out = p.stdout.decode()
    assert p.returncode != 0, out
    lines = [ln for ln in out.splitlines() if "no token matching hsm.token" in ln]
    assert len(lines) == 1, out
    assert "serial=0000000000000000" in lines[0] and "refusing to start" in lines[0], lines
    state["nomatch_s"] = time.time() - t0


state = {}


def main():
    b = Broker()
    state["orig"] = json.loads(json.dumps(b.cfg))
    cfg = uri_config(b)
    b.cfg = cfg
    write_config(b, cfg, "keywarden.json")
    assert "module" not in cfg["hsm"] and "pin_file" not in cfg["hsm"]
    rc = kwtest.run_tests(b, [t_starts_by_uri_and_releases, t_key_show_uris_found_by_p11tool,
                              t_logged_uris_found_by_p11tool, t_bad_configs_refused,
                              t_no_matching_token])
    if "nomatch_s" in state:
        print("no-match start refused after %.2f s" % state["nomatch_s"])
    return rc


if __name__ == "__main__":
    sys.exit(main())
