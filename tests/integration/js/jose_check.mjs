// SPDX-License-Identifier: Apache-2.0
// Independent verification of keywarden's JOSE output with npm jose.
//   node jose_check.mjs token JWKS_FILE TOKEN_FILE ISSUER   -> prints the payload JSON
//   node jose_check.mjs jwe PKCS8_PEM_FILE JWE_FILE         -> prints the plaintext as hex
import { readFileSync } from 'node:fs';
import { compactDecrypt, createLocalJWKSet, importPKCS8, jwtVerify } from 'jose';

const [mode, a, b, c] = process.argv.slice(2);
try {
  if (mode === 'token') {
    const jwks = createLocalJWKSet(JSON.parse(readFileSync(a, 'utf8')));
    const token = readFileSync(b, 'utf8').trim();
    const { payload, protectedHeader } = await jwtVerify(token, jwks, {
      issuer: c, algorithms: ['ES256'],
    });
    console.log(JSON.stringify({ header: protectedHeader, payload }));
  } else if (mode === 'jwe') {
    const key = await importPKCS8(readFileSync(a, 'utf8'), 'RSA-OAEP');
    const jwe = readFileSync(b, 'utf8').trim();
    const { plaintext, protectedHeader } = await compactDecrypt(jwe, key, {
      keyManagementAlgorithms: ['RSA-OAEP'], contentEncryptionAlgorithms: ['A256CBC-HS512'],
    });
    console.log(JSON.stringify({ header: protectedHeader, hex: Buffer.from(plaintext).toString('hex') }));
  } else {
    console.error('usage: jose_check.mjs token JWKS TOKEN ISSUER | jwe PKCS8 JWE');
    process.exit(2);
  }
} catch (e) {
  console.error(`jose: ${e.code || ''} ${e.message}`);
  process.exit(1);
}
