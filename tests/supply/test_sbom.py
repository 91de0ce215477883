# SPDX-License-Identifier: Apache-2.0
"""scripts/sbom.sh: the SBOM of this build validates against the official
CycloneDX 1.5 JSON schema (from npm @cyclonedx/cyclonedx-library, pinned in
tests/integration/js/package-lock.json; resolved locally, no network), and
says what is true: file digests, the Debian packages (and versions) of the
shared objects the binaries load, the npm test tools, the commit.
Usage: test_sbom.py SOURCE_ROOT BUILD_ROOT
"""
import copy
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import urllib.parse

import jsonschema

from supplytest import check, dpkg_s, finish

top, bdir = sys.argv[1], sys.argv[2]
SCHEMA_DIR = os.path.join(top, 'tests', 'integration', 'js', 'node_modules', '@cyclonedx',
                          'cyclonedx-library', 'res', 'schema')




def load(name):
    with open(os.path.join(SCHEMA_DIR, name)) as f:
        return json.load(f)


if not os.path.isdir(SCHEMA_DIR):
    print(f'FAIL: {SCHEMA_DIR} missing: run "npm ci" in tests/integration/js (scripts/test.sh does)')
    sys.exit(1)

bom_schema = load('bom-1.5.SNAPSHOT.schema.json')
store = {}
for fname, sid in (('spdx.SNAPSHOT.schema.json', 'spdx'), ('jsf-0.82.SNAPSHOT.schema.json', 'jsf-0.82'),
                   ('bom-1.5.SNAPSHOT.schema.json', 'bom-1.5')):
    s = load(fname)
    # bom-1.5 refers to "spdx.SNAPSHOT.schema.json" relative to its $id; the
    # published ids drop ".SNAPSHOT": serve both, never the network
    for url in (s['$id'], f'http://cyclonedx.org/schema/{sid}.SNAPSHOT.schema.json'):
        store[url] = s


def no_network(uri):
    raise jsonschema.RefResolutionError(f'refusing to fetch {uri}')


resolver = jsonschema.RefResolver.from_schema(bom_schema, store=store, handlers={'http': no_network,
                                                                                 'https': no_network})
validator_cls = jsonschema.validators.validator_for(bom_schema)
validator_cls.check_schema(bom_schema)
validator = validator_cls(bom_schema, resolver=resolver, format_checker=validator_cls.FORMAT_CHECKER)


def errors(doc):
    return sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))


with tempfile.TemporaryDirectory(prefix='kwsbom.') as d:
    out = os.path.join(d, 'sbom.json')
    p = subprocess.run(['sh', os.path.join(top, 'scripts', 'sbom.sh'), '-o', out, bdir],
                       capture_output=True, text=True, timeout=120)
    print(p.stderr.strip())
    check(p.returncode == 0, f'sbom.sh exit {p.returncode}')
    with open(out) as f:
        bom = json.load(f)
    # reproducible for one build: a second run gives the same bytes
    out2 = os.path.join(d, 'sbom2.json')
    subprocess.run(['sh', os.path.join(top, 'scripts', 'sbom.sh'), '-o', out2, bdir], check=True,
                   capture_output=True, timeout=120)
    check(open(out, 'rb').read() == open(out2, 'rb').read(), 'two runs on one build differ')

    # bad usage is refused
    p = subprocess.run(['sh', os.path.join(top, 'scripts', 'sbom.sh'), os.path.join(d, 'nope')],
                       capture_output=True, text=True, timeout=60)
    check(p.returncode != 0, 'sbom.sh accepted a missing build directory')
    p = subprocess.run(['sh', os.path.join(top, 'scripts', 'sbom.sh'), d],
                       capture_output=True, text=True, timeout=60)
    check(p.returncode != 0 and 'missing' in p.stderr, 'sbom.sh accepted a directory without binaries')

errs = errors(bom)
for e in errs[:10]:
    print('schema:', list(e.absolute_path), e.message[:200])
check(not errs, f'{len(errs)} schema errors')
check(bom['specVersion'] == '1.5' and bom['bomFormat'] == 'CycloneDX', 'not CycloneDX 1.5')

# the validator really validates: broken documents are refused
for what, mutate in (
        ('no bomFormat', lambda b: b.pop('bomFormat')),
        ('bad hash alg', lambda b: b['components'][0]['hashes'][0].update(alg='SHA-257')),
        ('bad scope', lambda b: b['components'][-1].update(scope='test')),
        ('bom version a string', lambda b: b.update(version='1')),
        ('unknown member', lambda b: b['components'][0].update(colour='blue')),
        ('bad SPDX id', lambda b: b['metadata']['component']['licenses'][0]['license'].update(id='Apache-2.1'))):
    bad = copy.deepcopy(bom)
    mutate(bad)
    check(errors(bad), f'schema accepted a BOM with {what}')

# metadata: keywarden, its version, the commit
meta = bom['metadata']['component']
proj = json.loads(subprocess.run(['meson', 'introspect', '--projectinfo', bdir], capture_output=True,
                                 text=True, check=True).stdout)
commit = subprocess.run(['git', '-C', top, 'rev-parse', 'HEAD'], capture_output=True, text=True,
                        check=True).stdout.strip()
check(meta['name'] == 'keywarden' and meta['version'] == proj['version'], f'metadata component {meta["name"]}')
check(meta['pedigree']['commits'][0]['uid'] == commit, 'metadata commit is not HEAD')
check({'name': 'keywarden:git-commit', 'value': commit} in meta['properties'], 'no git-commit property')

comps = {c['bom-ref']: c for c in bom['components']}
check(len(comps) == len(bom['components']), 'duplicate bom-refs')
deps = {d['ref']: d['dependsOn'] for d in bom['dependencies']}
for ref, on in deps.items():
    check(ref == meta['bom-ref'] or ref in comps, f'dependency ref {ref} is no component')
    for o in on:
        check(o in comps, f'{ref} depends on unknown {o}')

# every binary: the right digest, and the packages of what it loads
files = {'keywarden': 'broker/keywarden', 'keywarden-hsm': 'hsm/keywarden-hsm', 'kwctl': 'tools/kwctl',
         'kwget': 'attester/kwget', 'kwbench': 'tools/kwbench',
         'keywarden-pcs.so': 'verifier-client/keywarden-pcs.so',
         'keywarden-pg.so': 'broker/keywarden-pg.so'}
# the shared libkwattester when this build makes it (its real file, not the symlinks)
for n in sorted(os.listdir(os.path.join(bdir, 'attester'))):
    p = os.path.join(bdir, 'attester', n)
    if n.startswith('libkwattester.so') and os.path.isfile(p) and not os.path.islink(p):
        files[n] = os.path.join('attester', n)
check(sorted(deps[meta['bom-ref']]) == sorted(f'keywarden-file:{n}' for n in files),
      f'keywarden depends on {deps[meta["bom-ref"]]}')
for name, rel in files.items():
    c = comps.get(f'keywarden-file:{name}')
    check(c is not None, f'no component for {name}')
    if c is None:
        continue
    digest = hashlib.sha256(open(os.path.join(bdir, rel), 'rb').read()).hexdigest()
    check(c['hashes'] == [{'alg': 'SHA-256', 'content': digest}], f'{name}: wrong digest')
    # independently: the libraries ldd lists, their owners by dpkg -S, versions by dpkg-query
    ldd = subprocess.run(['ldd', os.path.join(bdir, rel)], capture_output=True, text=True, check=True).stdout
    want = set()
    for lib in ('libc.so.6', 'libcrypto.so.3', 'libjansson.so.4'):
        path = next(l.split('=>')[1].split('(')[0].strip() for l in ldd.splitlines() if lib in l)
        real = os.path.realpath(path)
        pkg = dpkg_s(real) or dpkg_s(real.replace('/usr/lib/', '/lib/', 1)) or dpkg_s(path)
        check(pkg is not None, f'{path}: dpkg -S knows no owner')
        ver = subprocess.run(['dpkg-query', '-W', '-f=${Version}', pkg], capture_output=True, text=True,
                             check=True).stdout
        want.add((pkg, ver))
    have = {(comps[r]['name'], comps[r]['version']) for r in deps[c['bom-ref']]}
    check(want <= have, f'{name}: {sorted(want - have)} missing from its dependencies')
debs = [c for c in bom['components'] if c.get('purl', '').startswith('pkg:deb/')]
names = {c['name'] for c in debs}
check({'libc6', 'libssl3', 'libjansson4', 'libevent-core-2.1-7', 'libevent-extra-2.1-7', 'libsqlite3-0',
       'libcurl4'} <= names,
      f'Debian packages: {sorted(names)}')
for c in debs:
    check(c['purl'].startswith(f'pkg:deb/debian/{urllib.parse.quote(c["name"], safe="")}@') and '&distro=debian-12' in c['purl'] and
          ('?arch=amd64' in c['purl'] or '?arch=all' in c['purl']), f'purl {c["purl"]}')
    check(':' not in c['purl'].split('@', 1)[1].split('?')[0], f'purl version not encoded: {c["purl"]}')
libc = next(c for c in debs if c['name'] == 'libc6')
check(any(p['name'] == 'keywarden:shared-object' and p['value'].endswith('libc.so.6') for p in libc['properties']),
      'libc6 does not list libc.so.6')

# the npm test tools: every lockfile package, scoped excluded, with its purl and digest
lock = json.load(open(os.path.join(top, 'tests', 'integration', 'js', 'package-lock.json')))
npm = [c for c in bom['components'] if c.get('purl', '').startswith('pkg:npm/')]
check(len(npm) == sum(1 for k in lock['packages'] if k.startswith('node_modules/')), 'npm component count')
for key, m in lock['packages'].items():
    if not key.startswith('node_modules/'):
        continue
    name = key.rsplit('node_modules/', 1)[1]
    purl = 'pkg:npm/' + name.replace('@', '%40', 1) + '@' + m['version']
    c = comps.get(purl)
    check(c is not None and c.get('scope') == 'excluded', f'{purl}: missing or not scope excluded')
    check(c is not None and c.get('hashes') and c['hashes'][0]['alg'] == 'SHA-512', f'{purl}: no SHA-512')
check('pkg:npm/jose@5.10.0' in comps, 'jose missing')

finish(f'{len(bom["components"])} components, {len(debs)} Debian packages, {len(npm)} npm packages; '
      'valid CycloneDX 1.5')
