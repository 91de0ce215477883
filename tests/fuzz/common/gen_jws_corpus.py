#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Writes the synthesized seed corpus for fuzz_jws into tests/fuzz/corpus/jws/.
# The signing key is a throw-away test key (its public half is fixed in
# fuzz_jws.c and tests/unit/common/test_jose.c), so valid seeds verify.
import base64, json, os
from jwcrypto import jwk, jws
from jwcrypto.common import json_encode

KEY = {"crv": "P-256", "kty": "EC", "d": "gLCH3l4kMak-gpx6dnvA0izCxSC4EOvVO6j7cZf5Jkk",
       "x": "okSCrY-5R58iWQOzdJ3vhPvGU-BS2quAw6ib_LGRjcg", "y": "7gv3uBQG-Gz9rUcDxe2MCkhoxRNkwLmbJhwTfbcw2IE"}
d = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'corpus', 'jws')
os.makedirs(d, exist_ok=True)
k = jwk.JWK(**KEY)
pub = json.loads(k.export_public())


def e(b):
    return base64.urlsafe_b64encode(b if isinstance(b, bytes) else b.encode()).rstrip(b"=").decode()


def write(name, s):
    with open(os.path.join(d, name), 'wb') as f:
        f.write(s if isinstance(s, bytes) else s.encode())


def sign(hdr, payload):
    t = jws.JWS(json_encode(payload))
    t.add_signature(k, None, json_encode(hdr))
    return t.serialize(compact=True)


ear = {"eat_profile": "tag:github.com,2023:veraison/ear", "iat": 1767225600, "exp": 1767225900,
       "jti": "AAAAAAAAAAAAAAAAAAAAAA", "iss": "keywarden", "ear.verifier-id": {"build": "kw", "developer": "kw"},
       "cnf": {"jkt": "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"},
       "submods": {"cpu0": {"ear.status": "affirming", "ear.trustworthiness-vector": {"executables": 2},
                            "ear.appraisal-policy-id": "kw:release"}}}
dpop = {"htm": "GET", "htu": "https://kw.example/kbs/v0/resource/a/b/c", "iat": 1767225600,
        "jti": "x1", "ath": "dnLc8g6kFTROFCWh3YE91_LVHZrTB9HjqE4yeOuMUPs", "nonce": "n-1"}
good_ear = sign({"alg": "ES256", "typ": "JWT", "kid": "k1"}, ear)
good_dpop = sign({"typ": "dpop+jwt", "alg": "ES256", "jwk": pub}, dpop)
write('ear_valid', good_ear)
write('dpop_valid', good_dpop)
h, p, s = good_ear.split('.')
write('alg_none', e('{"alg":"none"}') + '.' + p + '.')
write('hs256', e('{"alg":"HS256","typ":"JWT"}') + '.' + p + '.' + e(bytes(32)))
write('crit', e('{"alg":"ES256","crit":["exp"],"exp":1}') + '.' + p + '.' + s)
write('sig63', h + '.' + p + '.' + e(base64.urlsafe_b64decode(s + '==')[:63]))
write('sig65', h + '.' + p + '.' + e(base64.urlsafe_b64decode(s + '==') + b'\0'))
write('four_parts', good_ear + '.' + s)
write('two_parts', h + '.' + p)
write('empty_payload', h + '..' + s)
write('padded', good_ear + '==')
write('payload_array', h + '.' + e('[1,2]') + '.' + s)
write('dup_keys', e('{"alg":"ES256","alg":"ES256"}') + '.' + p + '.' + s)
write('big_header', e('{"alg":"ES256","kid":"' + 'a' * 2100 + '"}') + '.' + p + '.' + s)
write('altered_payload', h + '.' + e(json_encode(dict(ear, exp=1767229500))) + '.' + s)
write('zero_sig', h + '.' + p + '.' + e(bytes(64)))
write('dots', '..')
