#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Integration: two brokers on one HSM token share their keys (docs/ha.md "Shared keys").

Broker B's helper uses broker A's SoftHSM2 token (its softhsm2.conf and PIN
file); each broker has its own store and its own single-use sets (the
global sets are the PostgreSQL store's, docs/ha.md). hsm.key_poll_interval
is POLL seconds, and both brokers have the same token.issuer.

Checked:
- seal keys: a challenge issued by A is attested at B; a DPoP nonce issued
  by A is accepted at B; a nonce sealed with a key of no version we hold,
  or with a random MAC under a held version, is refused;
- after `keywarden --rotate-seal-key`, both brokers seal with the new
  version once it is active, and a challenge issued before the rotation
  still verifies at B;
- token keys: the JWKS of A and B are equal; a token from A is accepted at
  B; after `keywarden --rotate-token-key` and SIGHUP at A, B publishes the
  new key within the poll interval, and a token A signs with it is
  accepted at B.
"""
import json
import os
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kwtest  # noqa: E402
from kwtest import Attester, Broker, b64u, b64u_dec  # noqa: E402

POLL = 1              # hsm.key_poll_interval of both brokers
ACTIVATE = POLL + 5   # KW_SEAL_ACTIVATE_MARGIN (broker/keysync.h)
ISSUER = "https://keywarden.test"
RES = "demo/key/shared"
JWKS = "/.well-known/jwks.json"


def seal_version(nonce):
    """The seal key version inside a sealed challenge (broker/challenge.h)."""
    raw = b64u_dec(nonce)
    assert len(raw) == 77 and raw[0] == 2, (len(raw), raw[:1])
    return struct.unpack(">I", raw[1:5])[0]


def jwks_kids(b):
    st, _, body = b.request("GET", JWKS)
    assert st == 200, body
    return sorted(k["kid"] for k in body["keys"]), body


def attester(b):
    """One workload per broker (an RSA-3072 key is slow to make on a loaded machine)."""
    if not hasattr(b, "att"):
        b.att = Attester(b)
    return b.att


def nonce_of(b):
    """A fresh challenge from b."""
    return attester(b).nonce()


def attest_at(b, nonce):
    """Evidence for nonce (from any broker) attested at b: (status, body, attester)."""
    a = attester(b)
    st, ct, body = a.attest(nonce=nonce)
    return st, body, a


def wait_for(what, cond, within):
    t0 = time.monotonic()
    while time.monotonic() - t0 < within:
        v = cond()
        if v:
            return time.monotonic() - t0, v
        time.sleep(0.2)
    raise AssertionError("%s: not within %.0f s" % (what, within))


def t_challenge_from_a_attested_at_b(a, b):
    n = nonce_of(a)
    assert seal_version(n) == seal_version(nonce_of(b))
    st, body, _ = attest_at(b, n)
    assert st == 200 and set(body) == {"token"}, (st, body)
    # the single-use set is per broker here: B spent it, B refuses it again
    st, body, _ = attest_at(b, n)
    assert st == 401, (st, body)


def t_forged_seals_refused(a, b):
    n = nonce_of(a)
    raw = bytearray(b64u_dec(n))
    # a held version, the MAC of a random key
    forged = bytes(raw[:45]) + os.urandom(32)
    st, body, _ = attest_at(b, b64u(forged))
    assert st == 401, (st, body)
    # a version nobody holds, its MAC recomputed with a random key
    raw[1:5] = struct.pack(">I", seal_version(n) + 1000)
    st, body, _ = attest_at(b, b64u(bytes(raw)))
    assert st == 401, (st, body)


def t_dpop_nonce_and_token_across(a, b):
    b.provision(RES)
    # a token from B, used at B with the DPoP nonce A handed out
    at_a = attester(a)
    at_a.token()
    nonce_a = at_a.dpop_nonce
    assert nonce_a, "A sent no DPoP-Nonce"
    at_b = attester(b)
    tok_b = at_b.token()
    st, ct, body = at_b.resource(tok_b, RES, nonce=nonce_a)
    assert st == 200, (st, body)
    # a DPoP nonce sealed with a random key is refused with a fresh nonce offered
    raw = b64u_dec(nonce_a)
    st, ct, body = at_b.resource(tok_b, RES, nonce=b64u(raw[:45] + os.urandom(32)))
    assert st == 401, (st, body)
    # a token issued by A, used at B (same signing key, same issuer)
    tok_a = at_a.token()
    at_a.b = b
    try:
        st, ct, body = at_a.resource(tok_a, RES, nonce=nonce_a)
    finally:
        at_a.b = a
    assert st == 200, (st, body)
    assert at_a.decrypt(body) == at_b.decrypt(at_b.resource(tok_b, RES, nonce=nonce_a)[2])


def t_jwks_equal(a, b):
    ka, ja = jwks_kids(a)
    kb, jb = jwks_kids(b)
    assert ka == kb and len(ka) >= 1, (ka, kb)
    assert ja == jb


def t_token_key_rotation_reaches_b(a, b):
    before, _ = jwks_kids(b)
    p = subprocess.run([kwtest.KEYWARDEN, "--config", a.cfg_path, "--rotate-token-key"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    assert p.returncode == 0, p.stderr.decode()
    a.proc.send_signal(1)    # SIGHUP: A signs with the new key now
    took, kids = wait_for("B publishes the new token key",
                          lambda: (lambda k: k if len(set(k) - set(before)) == 1 else None)(jwks_kids(b)[0]),
                          POLL + 5)
    new_kid = (set(kids) - set(before)).pop()
    print("  token key rotated at A: B published %s after %.2f s (poll %d s)" % (new_kid[:8], took, POLL))
    wait_for("A publishes it", lambda: new_kid in jwks_kids(a)[0], 10)
    # a token A signs now carries the new kid and is accepted at B
    def a_signs_new():
        tok = attester(a).token()
        hdr = json.loads(b64u_dec(tok.split(".")[0]))
        return hdr["kid"] == new_kid
    wait_for("A signs with the new key", a_signs_new, 10)
    at = attester(a)
    tok = at.token()
    assert json.loads(b64u_dec(tok.split(".")[0]))["kid"] == new_kid
    nonce = at.dpop_nonce
    at.b = b
    try:
        st, ct, body = at.resource(tok, RES, nonce=nonce)
    finally:
        at.b = a
    assert st == 200, (st, body)
    assert jwks_kids(a)[1] == jwks_kids(b)[1]


def t_seal_rotation(a, b):
    old = nonce_of(a)
    v_old = seal_version(old)
    p = subprocess.run([kwtest.KEYWARDEN, "--config", a.cfg_path, "--rotate-seal-key"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    assert p.returncode == 0, p.stderr.decode()
    out = p.stdout.decode()
    v_new = int(out.split("seal key version ")[1].split(";")[0])
    assert v_new > v_old, (v_new, v_old)
    # not yet active: both still seal with the old version, and accept the new one
    t0 = time.monotonic()
    took_a, _ = wait_for("A seals with the new version",
                         lambda: seal_version(nonce_of(a)) == v_new, ACTIVATE + POLL + 5)
    took_b, _ = wait_for("B seals with the new version",
                         lambda: seal_version(nonce_of(b)) == v_new, ACTIVATE + POLL + 5)
    print("  seal key rotated: A sealed with version %d after %.1f s, B after %.1f s (activation %d s)"
          % (v_new, took_a, time.monotonic() - t0, ACTIVATE))
    # a challenge from before the rotation still opens at B
    st, body, _ = attest_at(b, old)
    assert st == 200, (st, body)
    # and a new one from A, at B
    st, body, _ = attest_at(b, nonce_of(a))
    assert st == 200, (st, body)


def main():
    a = Broker(config_edit=lambda cfg: edit(cfg, None))
    b = Broker(config_edit=lambda cfg: edit(cfg, a))

    def on_both(t):
        """t(a, b) as a test of run_tests (which starts and stops A)."""
        def run(_):
            try:
                t(a, b)
            except Exception:
                print("--- broker B log (tail) ---\n" + b.log()[-3000:])
                raise
        run.__name__ = t.__name__
        return run

    def stop_b(_):
        rc = b.stop()
        assert rc == 0, "broker B exit status %r" % rc

    tests = [t_challenge_from_a_attested_at_b, t_forged_seals_refused, t_dpop_nonce_and_token_across,
             t_jwks_equal, t_token_key_rotation_reaches_b, t_seal_rotation]
    try:
        return kwtest.run_tests(a, [on_both(t) for t in tests] + [stop_b], setup=lambda _: b.start())
    finally:
        b.cleanup()


def edit(cfg, share_with):
    cfg["hsm"]["key_poll_interval"] = POLL
    cfg.setdefault("token", {})["issuer"] = ISSUER
    if share_with is not None:
        cfg["hsm"]["softhsm2_conf"] = os.path.join(share_with.dir, "softhsm2.conf")
        cfg["hsm"]["pin_file"] = os.path.join(share_with.dir, "hsm.pin")


if __name__ == "__main__":
    sys.exit(main())
