#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Write the synthesized seed corpus of fuzz_hsm_reply into
tests/fuzz/corpus/hsm_reply/: helper reply datagrams as keywarden-hsm sends
them (hsm/hsm_proto.h OPS), error replies, and near misses. Keys are made
fresh with python3-jwcrypto (public halves only), so rerunning changes the
key seeds; nothing comes from shared/vectors."""
import base64
import json
import os
import sys

from jwcrypto import jwk

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "corpus", "hsm_reply")
os.makedirs(out, exist_ok=True)


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def write(name, data):
    if not isinstance(data, (bytes, str)):
        data = json.dumps(data, separators=(",", ":"))
    with open(os.path.join(out, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def ok(i, **members):
    return dict({"id": i, "ok": True}, **members)


def entry(n):
    k = jwk.JWK.generate(kty="EC", crv="P-256")
    pub = {m: v for m, v in json.loads(k.export_public()).items() if m in ("kty", "crv", "x", "y")}
    return {"label": "kw-token/%d" % n, "created": n, "kid": k.thumbprint(), "jwk": pub}


rsa = jwk.JWK.generate(kty="RSA", size=3072)
rsa_pub = {m: v for m, v in json.loads(rsa.export_public()).items() if m in ("kty", "n", "e")}
jwe = ".".join(b64(x) for x in (b'{"alg":"RSA-OAEP","enc":"A256CBC-HS512","kid":"k"}',
                                 bytes(384), bytes(16), bytes(48), bytes(32)))

write("probe", ok(1, token="kwtest", profiles=["RSA-OAEP+A256CBC-HS512"],
                  module="SoftHSM Implementation of PKCS11 2.6"))
write("probe_no_profile", ok(2, token="kwtest", profiles=[], module="m"))
write("generate", ok(3, created=True, kind="aes-256", length=32))
write("generate_secret", ok(4, created=False, kind="secret", length=20))
write("release", ok(5, jwe=jwe))
write("random", ok(6, bytes=b64(bytes(range(32)))))
write("stats", ok(7, releases=201, recycles=4, rss_kb=10240, signs=3))
write("stats_old", ok(8, releases=1, recycles=0, rss_kb=-1))
write("token_keys", ok(9, keys=[entry(5), entry(1700000000), entry(1700000001)]))
write("token_keys_empty", ok(10, keys=[]))
write("token_key_new", dict(ok(11), **entry(1700000002)))
write("sign", ok(12, sig=b64(bytes(range(64)))))
write("token_key_destroy", ok(13))
write("key_list", ok(14, labels=["kw-key/a/b/c/v1", "kw-key/a/b/c/v2", "kw-key/z"], more=False))
write("key_list_more", ok(15, labels=["kw-key/p/%03d/v1" % i for i in range(20)], more=True))
write("destroy", ok(16, destroyed=True))
write("import_key", ok(17, kid=rsa.thumbprint(), jwk=rsa_pub))
write("import", ok(18, created=True, kind="secret", length=20))
write("import_old", ok(19, created=True))
write("error", {"id": 20, "ok": False, "error": -3, "detail": "CKR_KEY_HANDLE_INVALID"})
write("error_id0", {"id": 0, "ok": False, "error": -2, "detail": "malformed request"})
write("error_not_kw_err", {"id": 21, "ok": False, "error": 7})
write("id_max", ok(4294967295, destroyed=False))
write("id_too_big", ok(4294967296, destroyed=False))
write("unknown_member", ok(22, destroyed=True, later="added"))
write("key_list_unsorted", ok(23, labels=["kw-key/b", "kw-key/a"], more=False))
write("token_keys_order", ok(24, keys=[entry(6), entry(5)]))
write("release_four_parts", ok(25, jwe="a.b.c.d"))
write("sign_short", ok(26, sig=b64(bytes(63))))
write("duplicate_member", '{"id":27,"ok":true,"sig":"AA","sig":"BB"}')
write("trailing", '{"id":28,"ok":true} {}')
write("not_json", "garbage")
write("array", "[1,2]")
write("deep", "{\"id\":1,\"ok\":true,\"x\":" + "[" * 40 + "]" * 40 + "}")
