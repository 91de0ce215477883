#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Integration: TEE-bound EAR tokens and DPoP proofs against the real broker.

The tokens and the JWKS are verified with two independent libraries
(python3-jwcrypto and npm jose); DPoP proofs are made with python3-jwcrypto.
Every negative case must get 401 and release nothing. Time is shifted through
KEYWARDEN_TEST_CLOCK_FILE; no test sleeps for an expiry.
"""
import hashlib
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kwtest  # noqa: E402
from kwtest import Attester, Broker, b64u, b64u_dec  # noqa: E402

RES = "demo/key/disk"
JS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "js")
HERE_JWKS = "/.well-known/jwks.json"


def expect_401(st, ct, body, what):
    assert st == 401, "%s: expected 401, got %d %r" % (what, st, body)
    assert ct.startswith("application/problem+json"), (what, ct)
    assert b"eyJ" not in body, what    # the token is never echoed


def jwks(b):
    st, _, body = b.request("GET", HERE_JWKS)
    assert st == 200, body
    return body


def t_token_shape_and_jwcrypto(b):
    from jwcrypto import jwk, jwt
    a = Attester(b)
    tok = a.token()
    hdr = json.loads(b64u_dec(tok.split(".")[0]))
    assert hdr == {"alg": "ES256", "typ": "JWT", "kid": hdr["kid"]}, hdr
    ks = jwk.JWKSet.from_json(json.dumps(jwks(b)))
    t = jwt.JWT(jwt=tok, key=ks, algs=["ES256"], check_claims={"iss": b.url, "exp": None})
    c = json.loads(t.claims)
    assert c["eat_profile"] == "tag:github.com,2023:veraison/ear"
    assert 0 < c["exp"] - c["iat"] <= 300
    assert len(b64u_dec(c["jti"])) >= 16
    assert c["ear.verifier-id"]["developer"] == "keywarden"
    sub = c["submods"]["cpu0"]
    # an emulation root is honest about not being genuine hardware
    assert sub["ear.status"] == "contraindicated", sub["ear.status"]
    assert sub["ear.trustworthiness-vector"]["hardware"] == 96
    assert sub["ear.trustworthiness-vector"]["instance-identity"] == 2
    assert sub["ear.appraisal-policy-id"].startswith("urn:keywarden:")
    assert sub["kw.claims"]["measurement"] == b.emu["measurement"]
    assert "report_data" not in sub["kw.claims"] and "platform" not in sub["kw.claims"]
    # cnf.jkt is the RFC 7638 thumbprint of tee-sigkey
    assert c["cnf"]["jkt"] == a.dpop_jwk().thumbprint(), (c["cnf"], a.dpop_jwk().thumbprint())
    # nothing secret: the token holds the public tee key only
    from cryptography.hazmat.primitives import serialization
    spki = a.enc.public_key().public_bytes(serialization.Encoding.DER,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    assert b64u_dec(sub["ear.veraison.key-attestation"]["akpub"]) == spki
    assert b.last_headers.get("dpop-nonce") or a.dpop_nonce


def t_token_and_jwks_with_npm_jose(b):
    a = Attester(b)
    tok = a.token()
    d = tempfile.mkdtemp(dir=b.dir)
    jp, tp = os.path.join(d, "jwks.json"), os.path.join(d, "token")
    open(jp, "w").write(json.dumps(jwks(b)))
    open(tp, "w").write(tok)
    p = subprocess.run(["node", os.path.join(JS, "jose_check.mjs"), "token", jp, tp, b.url],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.returncode == 0, p.stderr.decode()
    out = json.loads(p.stdout)
    assert out["payload"]["cnf"]["jkt"] == a.dpop_jwk().thumbprint()
    # a JWE release decrypts with npm jose too
    st, ct, jwe_c = a.resource(tok, RES)
    assert st == 200, (st, jwe_c)
    kp, ep = os.path.join(d, "tee.pem"), os.path.join(d, "jwe")
    open(kp, "wb").write(a.enc_pem())
    open(ep, "wb").write(jwe_c)
    p = subprocess.run(["node", os.path.join(JS, "jose_check.mjs"), "jwe", kp, ep],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.returncode == 0, p.stderr.decode()
    assert bytes.fromhex(json.loads(p.stdout)["hex"]) == a.decrypt(jwe_c)
    # a tampered token fails in npm jose as well
    parts = tok.split(".")
    pl = json.loads(b64u_dec(parts[1]))
    pl["exp"] += 3600
    open(tp, "w").write(".".join([parts[0], b64u(json.dumps(pl).encode()), parts[2]]))
    p = subprocess.run(["node", os.path.join(JS, "jose_check.mjs"), "token", jp, tp, b.url],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.returncode == 1, p.stdout


def t_jwcrypto_proof_accepted_and_nonce_flow(b):
    a = Attester(b)
    tok = a.token()
    # without a nonce: use_dpop_nonce with a fresh DPoP-Nonce, then success
    st, ct, r = a.resource(tok, RES, nonce=None)
    expect_401(st, ct, r, "no nonce")
    assert 'error="use_dpop_nonce"' in b.last_headers.get("www-authenticate", "")
    assert b.last_headers.get("dpop-nonce")
    st, ct, jwe_c = a.resource(tok, RES)
    assert st == 200 and ct == "application/jose", (st, jwe_c)
    assert len(a.decrypt(jwe_c)) == 32
    # the token can be used again with a new proof (new jti) until it expires
    st, ct, jwe2 = a.resource(tok, RES)
    assert st == 200 and a.decrypt(jwe2) == a.decrypt(jwe_c)


def t_negatives(b):
    a = Attester(b)
    tok = a.token()
    url = b.url + "/kbs/v0/resource/" + RES
    released_before = b.log().count("released '")

    # token without proof
    st, ct, r = a.resource(tok, RES, proof="")
    expect_401(st, ct, r, "no proof")
    # proof signed by another key
    from jwcrypto import jwk
    other = jwk.JWK.generate(kty="EC", crv="P-256")
    st, ct, r = a.resource(tok, RES, key=other)
    expect_401(st, ct, r, "other key")
    # replayed proof
    p = a.proof(tok, url)
    st, ct, r = a.resource(tok, RES, proof=p)
    assert st == 200, (st, r)
    released_before += 1
    st, ct, r = a.resource(tok, RES, proof=p)
    expect_401(st, ct, r, "replayed proof")
    # another URL, another method
    st, ct, r = a.resource(tok, RES, proof=a.proof(tok, b.url + "/kbs/v0/resource/demo/key/other"))
    expect_401(st, ct, r, "other URL")
    st, ct, r = a.resource(tok, RES, proof=a.proof(tok, url, htm="POST"))
    expect_401(st, ct, r, "other method")
    st, ct, r = a.resource(tok, RES, proof=a.proof(tok, "https://localhost:%d/kbs/v0/resource/%s" % (b.port, RES)))
    expect_401(st, ct, r, "other host")
    # stale and future iat
    st, ct, r = a.resource(tok, RES, iat=b.now() - 120)
    expect_401(st, ct, r, "stale iat")
    st, ct, r = a.resource(tok, RES, iat=b.now() + 120)
    expect_401(st, ct, r, "future iat")
    # wrong ath
    st, ct, r = a.resource(tok, RES, claims_extra={"ath": b64u(hashlib.sha256(b"x").digest())})
    expect_401(st, ct, r, "wrong ath")
    st, ct, r = a.resource(tok, RES, drop=("ath",))
    expect_401(st, ct, r, "no ath")
    # a forged nonce
    st, ct, r = a.resource(tok, RES, nonce=b64u(os.urandom(73)))
    expect_401(st, ct, r, "forged nonce")
    assert 'use_dpop_nonce' in b.last_headers.get("www-authenticate", "")
    # a proof with a jwk of the right key but extra header members / other typ / HS256
    st, ct, r = a.resource(tok, RES, header_extra={"kid": "x"})
    expect_401(st, ct, r, "proof kid")
    st, ct, r = a.resource(tok, RES, header_extra={"typ": "JWT"})
    expect_401(st, ct, r, "proof typ")
    st, ct, r = a.resource(tok, RES, header_extra={"crit": ["exp"]})
    expect_401(st, ct, r, "proof crit")

    parts = tok.split(".")
    hdr = json.loads(b64u_dec(parts[0]))
    pl = json.loads(b64u_dec(parts[1]))

    def forged(h, p, sig):
        return ".".join([b64u(json.dumps(h).encode()), b64u(json.dumps(p).encode()), sig])

    # alg none
    t = forged(dict(hdr, alg="none"), pl, "")
    st, ct, r = a.resource(t, RES)
    expect_401(st, ct, r, "alg none")
    # HS256 keyed with the published public key (the classic confusion attack)
    from jwcrypto import jws
    from jwcrypto.common import json_encode
    pubjwk = jwks(b)["keys"][-1]
    for secret in (json.dumps(pubjwk).encode(), b64u_dec(pubjwk["x"]) + b64u_dec(pubjwk["y"])):
        k = jwk.JWK(kty="oct", k=b64u(secret))
        s = jws.JWS(json_encode(pl))
        s.add_signature(k, alg="HS256", protected=json_encode(dict(hdr, alg="HS256")))
        t = s.serialize(compact=True)
        st, ct, r = a.resource(t, RES)
        expect_401(st, ct, r, "HS256")
    # altered payload (original signature)
    t = forged(hdr, dict(pl, exp=pl["exp"] + 3600), parts[2])
    st, ct, r = a.resource(t, RES)
    expect_401(st, ct, r, "altered payload")
    t = forged(hdr, dict(pl, cnf={"jkt": jwk.JWK.generate(kty="EC", crv="P-256").thumbprint()}), parts[2])
    st, ct, r = a.resource(t, RES)
    expect_401(st, ct, r, "altered cnf")
    # a jwk in the token header
    t = forged(dict(hdr, jwk=pubjwk), pl, parts[2])
    st, ct, r = a.resource(t, RES)
    expect_401(st, ct, r, "token jwk header")
    # signed by a key not in the JWKS (well-formed ES256 token, our kid)
    ek = jwk.JWK.generate(kty="EC", crv="P-256")
    s = jws.JWS(json_encode(pl))
    s.add_signature(ek, alg="ES256", protected=json_encode(hdr))
    st, ct, r = a.resource(s.serialize(compact=True), RES)
    expect_401(st, ct, r, "foreign signer")
    s = jws.JWS(json_encode(pl))
    s.add_signature(ek, alg="ES256", protected=json_encode(dict(hdr, kid=ek.thumbprint())))
    st, ct, r = a.resource(s.serialize(compact=True), RES)
    expect_401(st, ct, r, "unknown kid")
    # oversized token
    st, ct, r = a.resource(tok + "A" * 20000, RES)
    assert st in (401, 400, 413, 431), st
    # a stolen token used with the thief's own key: proof key != cnf.jkt
    thief = Attester(b)
    st, ct, r = thief.resource(tok, RES)
    expect_401(st, ct, r, "stolen token")
    assert b.log().count("released '") == released_before, "a negative case released a key"


def t_old_nonce_and_expired_token(b):
    a = Attester(b)
    tok = a.token()
    # the configured DPoP nonce lifetime is 60 s: 61 s later it is old
    b.set_clock(61)
    try:
        st, ct, r = a.resource(tok, RES)
        expect_401(st, ct, r, "old nonce")
        assert 'use_dpop_nonce' in b.last_headers.get("www-authenticate", "")
        st, ct, r = a.resource(tok, RES)    # with the new nonce
        assert st == 200, (st, r)
        # past exp: the token is refused even with a fresh proof and nonce
        b.set_clock(301)
        st, ct, r = a.resource(tok, RES)
        expect_401(st, ct, r, "expired token")
        assert 'invalid_token' in b.last_headers.get("www-authenticate", "")
    finally:
        b.set_clock(0)


def t_rotation(b):
    a = Attester(b)
    old_tok = a.token()
    old_kid = json.loads(b64u_dec(old_tok.split(".")[0]))["kid"]
    env = dict(os.environ, KEYWARDEN_TEST_CLOCK_FILE=b.clock_file)
    p = subprocess.run([kwtest.KEYWARDEN, "--config", b.cfg_path, "--rotate-token-key"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert p.returncode == 0, p.stderr.decode()[-2000:]
    assert b"new token-signing key" in p.stdout, p.stdout
    b.proc.send_signal(1)    # SIGHUP: reload the keys
    import time
    for _ in range(100):
        if "SIGHUP: token-signing key is now" in b.log():
            break
        time.sleep(0.05)
    keys = jwks(b)["keys"]
    kids = [k["kid"] for k in keys]
    assert old_kid in kids and len(kids) == 2, kids
    new_tok = a.token()
    new_kid = json.loads(b64u_dec(new_tok.split(".")[0]))["kid"]
    assert new_kid != old_kid and new_kid in kids
    # the old token still works while it lives
    st, ct, r = a.resource(old_tok, RES)
    assert st == 200, (st, r)
    # once every token of the old key has expired it is no longer published
    b.set_clock(300 + 61 + 5)
    try:
        kids_later = [k["kid"] for k in jwks(b)["keys"]]
        assert kids_later == [new_kid], kids_later
    finally:
        b.set_clock(0)


TESTS = [t_token_shape_and_jwcrypto, t_token_and_jwks_with_npm_jose,
         t_jwcrypto_proof_accepted_and_nonce_flow, t_negatives, t_old_nonce_and_expired_token,
         t_rotation]


def main():
    def edit(cfg):
        cfg["dpop"] = {"nonce_ttl": 60, "iat_window": 60}
        cfg["token"] = {"ttl": 300}
    return kwtest.run_tests(Broker(config_edit=edit), TESTS, setup=lambda b: b.provision(RES))

if __name__ == "__main__":
    sys.exit(main())
