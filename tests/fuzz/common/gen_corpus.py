#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Writes the synthesized seed corpora for the common/ fuzz targets into
# tests/fuzz/corpus/{b64url,json_parse,jwk}/. Run from anywhere; keys are
# generated fresh with python3-jwcrypto (public halves only), so rerunning
# changes the generated-key seeds.
import json, os, sys
from jwcrypto import jwk

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'corpus')

def write(target, name, data):
    d = os.path.join(root, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), 'wb') as f:
        f.write(data if isinstance(data, bytes) else data.encode())

b64 = {
    'empty': '', 'f': 'Zg', 'fo': 'Zm8', 'foo': 'Zm9v', 'foobar': 'Zm9vYmFy', 'url': '-_8',
    'padded': 'Zm8=', 'space': 'Zm9v Zm9v', 'bits': 'Zh', 'mod1': 'Zm9vY', 'std': 'ab+/',
    'long': 'QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0NTY3ODktXw',
    'hash': 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs', 'highbyte': 'Zm\xff9v',
}
for k, v in b64.items():
    write('b64url', k, v.encode('latin-1'))

rsa = {'kty': 'RSA', 'e': 'AQAB', 'alg': 'RS256', 'kid': '2011-04-29',
       'n': '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPeb'
            'WKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368'
            'QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd'
            '2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw'}
p256 = {'kty': 'EC', 'crv': 'P-256', 'x': 'MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4',
        'y': '4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM', 'use': 'enc', 'kid': '1'}

def pub(kty, **kw):
    return json.loads(jwk.JWK.generate(kty=kty, **kw).export_public())

jwks = {
    'rsa2048_rfc7638': rsa, 'p256_rfc7517': p256,
    'p384_gen': pub('EC', crv='P-384'), 'p256_gen': pub('EC', crv='P-256'),
    'rsa3072_gen': pub('RSA', size=3072),
    'p256_offcurve': dict(p256, y='4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyN'),
    'p256_private': dict(p256, d='870MB6gfuTJ4HtUnUvYMyJpr5eUZNP4Bk43bVdj3eAE'),
    'rsa_leading_zero': dict(rsa, n='AA' + rsa['n']),
    'rsa_e_even': dict(rsa, e='BA'),
    'p521': {'kty': 'EC', 'crv': 'P-521', 'x': 'AA', 'y': 'AA'},
    'oct': {'kty': 'oct', 'k': 'AAAA'},
    'empty': {},
}
for k, v in jwks.items():
    write('jwk', k, json.dumps(v))
write('jwk', 'ec_spaces', json.dumps(p256, indent=2))

docs = {
    'rfc8785': '{\n  "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],\n'
               '  "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",\n'
               '  "literals": [null, true, false]\n}',
    'sort_utf16': '{"\\u20ac":"Euro Sign","\\r":"Carriage Return","\\ufb33":"Hebrew","1":"One",'
                  '"\\ud83d\\ude00":"Emoji","\\u0080":"Control","\\u00f6":"o","</script>":"x"}',
    'numbers': '{"a":[0,-0,-0.0,1e21,1e-7,5e-324,1.7976931348623157e308,9007199254740993,'
               '100000000000000000000.0,123.456,-1.5E+300]}',
    'nested32': '{"a":' * 32 + '1' + '}' * 32,
    'nested33': '{"a":' * 33 + '1' + '}' * 33,
    'duplicate': '{"a":1,"a":2}',
    'nul': '{"a":"\\u0000"}',
    'array_top': '[1,2,3]',
    'redact': '{"d":"x","list":[{"pin":"1234"}],"token":{"a":1},"kty":"RSA","exp":5,"debug":true}',
    'controls': '{"s":"\\u0001\\u001f\\b\\t\\n\\f\\r\\"\\\\\\u007f"}',
    'trailing': '{"a":1} x',
}
for k, v in docs.items():
    write('json_parse', k, v)
write('json_parse', 'badutf8', b'{"a":"\xc0\x80"}')

# fuzz_jcs: first byte odd -> raw doubles (little-endian), even -> NUL-separated name/value pairs
import struct
dbl = [0.0, -0.0, 5e-324, 1.7976931348623157e308, 1e21, 1e-7, 333333333.3333333, 0.1, 2.0**-1022,
       9007199254740993.0, 1e23, 123.456]
write('jcs', 'doubles', b'\x01' + b''.join(struct.pack('<d', d) for d in dbl))
write('jcs', 'powers2', b'\x01' + b''.join(struct.pack('<d', 2.0 ** e) for e in range(-1074, 1024, 7)))
write('jcs', 'keys_utf16', b'\x00' + b'\x00'.join(
    x.encode() for x in ['\u20ac', 'a', '\r', 'b', '\ufb33', 'c', '1', 'd', '\U0001F600', 'e',
                         '\u0080', 'f', '\u00f6', 'g', '</script>', 'h']))
write('jcs', 'controls', b'\x00k\x00\x01\x02\x1f\x7f"\\/\x00k2\x00\b\t\n\f\r')
write('jcs', 'bad_utf8', b'\x00\xc0\x80\x00v\x00k\x00\xed\xa0\x80')
