#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# sbom.sh [-o FILE] BUILD_DIR
#
# A CycloneDX 1.5 JSON SBOM of a keywarden build (docs/build.md):
#   metadata.component  keywarden, the project version, the git commit
#                       (pedigree.commits and property keywarden:git-commit)
#   one component per built ELF file (keywarden, keywarden-hsm, kwctl, kwget,
#                       kwbench, libkwattester.so* when built) with its SHA-256
#   one component per Debian package whose shared objects those files load:
#                       ldd -> shared object -> dpkg -S -> package,
#                       dpkg-query -W -> version, purl
#                       pkg:deb/debian/NAME@VERSION?arch=ARCH&distro=debian-12
#   one component per package in tests/integration/js/package-lock.json
#                       (the test tools: scope "excluded", purl pkg:npm/...)
#   dependencies        keywarden -> its binaries -> the packages each loads
#                       (and libkwattester.so when a binary loads it from the build);
#                       npm packages -> their lockfile dependencies
# The timestamp is SOURCE_DATE_EPOCH when set (else the commit's time) and the
# serial number is derived from the content, so one build gives one SBOM.
# Exits 1 when a file is missing or a shared object belongs to no package.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
out=-
case "${1:-}" in
-o) out="${2:?-o needs a file}"; shift 2 ;;
esac
[ $# -eq 1 ] && [ -d "$1" ] || { echo "usage: sbom.sh [-o FILE] BUILD_DIR" >&2; exit 2; }
for tool in ldd dpkg dpkg-query git; do
	command -v "$tool" >/dev/null 2>&1 || { echo "sbom.sh: $tool not found" >&2; exit 2; }
done
exec /usr/bin/python3 - "$top" "$1" "$out" <<'PY'
import base64
import hashlib
import json
import os
import re
import sys
import urllib.parse
import uuid
from datetime import datetime, timezone

top, bdir, out = sys.argv[1], sys.argv[2], sys.argv[3]
sys.argv[0] = 'sbom.sh'
sys.path.insert(0, os.path.join(top, 'scripts'))
from kw_supply import build_files, die, run, sha256, source_state  # noqa: E402
NPM_LOCK = os.path.join(top, 'tests', 'integration', 'js', 'package-lock.json')


def os_release():
    try:
        with open('/etc/os-release') as f:
            kv = dict(l.rstrip('\n').split('=', 1) for l in f if '=' in l)
    except OSError:
        return 'debian', ''
    return kv.get('ID', 'debian').strip('"'), kv.get('VERSION_ID', '').strip('"')


def ldd(path):
    """Absolute paths of the shared objects the dynamic loader maps for path."""
    p = run(['ldd', path], check=False, timeout=60)
    if p.returncode != 0:
        die(f'ldd {path}: {p.stderr.strip() or p.stdout.strip()}')
    objs = []
    for line in p.stdout.splitlines():
        line = line.strip()
        m = re.match(r'^(\S+) => (/\S+) \(0x[0-9a-f]+\)$', line) or re.match(r'^(/\S+) \(0x[0-9a-f]+\)$', line)
        if m:
            objs.append(m.group(m.lastindex))
        elif '=> not found' in line:
            die(f'{path}: {line}')
    return objs


def candidates(obj):
    """obj, the file it links to, and their /usr-merged twins."""
    out = []
    for p in (obj, os.path.realpath(obj)):
        for c in (p, p[4:] if p.startswith('/usr/') else '/usr' + p):
            if c not in out:
                out.append(c)
    return out


def dpkg_owners(objs):
    """{shared object: package (NAME:ARCH or NAME)}, with one dpkg -S call
    (it is slow: each call reads the whole file database)."""
    cands = sorted({c for o in objs for c in candidates(o)})
    p = run(['dpkg', '-S'] + cands, check=False)   # 1 when some candidate is unowned
    owner = {}
    for line in p.stdout.splitlines():
        pkgs, sep, path = line.partition(': ')
        if sep and not pkgs.startswith('diversion by'):
            owner.setdefault(path.strip(), pkgs.split(',')[0].strip())
    res = {}
    for o in objs:
        hit = next((owner[c] for c in candidates(o) if c in owner), None)
        if hit is None:
            die(f'{o}: no Debian package ships it (dpkg -S)')
        res[o] = hit
    return res


def purl_deb(name, version, arch, distro):
    return (f'pkg:deb/debian/{urllib.parse.quote(name, safe="")}@{urllib.parse.quote(version, safe="")}'
            f'?arch={urllib.parse.quote(arch, safe="")}&distro={distro}')


def purl_npm(name, version):
    if name.startswith('@'):
        ns, _, n = name.partition('/')
        path = urllib.parse.quote(ns, safe='') + '/' + urllib.parse.quote(n, safe='')
    else:
        path = urllib.parse.quote(name, safe='')
    return f'pkg:npm/{path}@{urllib.parse.quote(version, safe="")}'


files = build_files(bdir)

# keywarden itself
proj = json.loads(run(['meson', 'introspect', '--projectinfo', bdir]).stdout)
kw_version = proj['version']
commit, dirty, sde = source_state(top)
stamp = datetime.fromtimestamp(int(sde), tz=timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')
os_id, os_ver = os_release()
distro = f'{os_id}-{os_ver}' if os_ver else os_id

kw_ref = f'pkg:generic/keywarden@{kw_version}'
components = []
dependencies = []
packages = {}          # package (with :arch) -> component
bin_refs = []
loaded = {p: ldd(p) for p in files}
# our own shared library (libkwattester.so*, loaded from the build tree) is a
# component of its own, not a Debian package
own = {os.path.realpath(p): f'keywarden-file:{os.path.basename(p)}' for p in files}
broot = os.path.realpath(bdir) + '/'
for p, objs in loaded.items():
    for o in objs:
        if os.path.realpath(o).startswith(broot) and os.path.realpath(o) not in own:
            die(f'{p} loads {o} from the build tree, which is none of the files this SBOM lists')
owners = dpkg_owners(sorted({o for objs in loaded.values() for o in objs if os.path.realpath(o) not in own}))
for p in files:
    name = os.path.basename(p)
    ref = f'keywarden-file:{name}'
    bin_refs.append(ref)
    pkgs = {}
    internal = []
    for obj in loaded[p]:
        if os.path.realpath(obj) in own:
            internal.append(own[os.path.realpath(obj)])
        else:
            pkgs.setdefault(owners[obj], []).append(obj)
    needed = [l.split('[', 1)[1].rstrip(']') for l in run(['readelf', '-dW', p]).stdout.splitlines()
              if '(NEEDED)' in l]
    components.append({
        'type': 'library' if '.so' in name else 'application',
        'bom-ref': ref,
        'name': name,
        'version': kw_version,
        'hashes': [{'alg': 'SHA-256', 'content': sha256(p)}],
        'properties': [{'name': 'keywarden:build-path', 'value': os.path.relpath(p, bdir)}] +
                      [{'name': 'keywarden:needed', 'value': n} for n in needed],
    })
    deps = list(internal)
    for pkg, objs in sorted(pkgs.items()):
        if pkg not in packages:
            q = run(['dpkg-query', '-W', '-f=${Package}\t${Version}\t${Architecture}\t${source:Package}\t'
                     '${source:Version}\t${Maintainer}', pkg]).stdout.split('\t')
            pname, ver, arch, src, srcver, maint = q
            c = {
                'type': 'library',
                'bom-ref': purl_deb(pname, ver, arch, distro),
                'publisher': maint,
                'name': pname,
                'version': ver,
                'purl': purl_deb(pname, ver, arch, distro),
                'properties': [{'name': 'debian:source', 'value': f'{src} {srcver}'}],
            }
            packages[pkg] = (c, set())
        packages[pkg][1].update(objs)
        deps.append(packages[pkg][0]['bom-ref'])
    dependencies.append({'ref': ref, 'dependsOn': sorted(set(deps))})

for pkg, (c, objs) in sorted(packages.items()):
    c['properties'] += [{'name': 'keywarden:shared-object', 'value': o} for o in sorted(objs)]
    components.append(c)
    dependencies.append({'ref': c['bom-ref'], 'dependsOn': []})

# the npm test tools, pinned by the lockfile: not part of what is shipped
try:
    with open(NPM_LOCK) as f:
        lock = json.load(f)
except (OSError, ValueError) as e:
    die(f'{NPM_LOCK}: {e}')
npm_refs = {}
for key, meta in sorted(lock.get('packages', {}).items()):
    if not key.startswith('node_modules/'):
        continue
    name = key.rsplit('node_modules/', 1)[1]
    ver = meta.get('version')
    if not ver:
        die(f'{NPM_LOCK}: {key} has no version')
    purl = purl_npm(name, ver)
    c = {'type': 'library', 'bom-ref': purl, 'name': name, 'version': ver, 'purl': purl,
         'scope': 'excluded',
         'properties': [{'name': 'keywarden:use', 'value': 'test tool (tests/integration/js)'},
                        {'name': 'npm:development', 'value': 'true' if meta.get('dev') else 'false'}]}
    if '/' in name and name.startswith('@'):
        c['group'], c['name'] = name.split('/', 1)
    integ = meta.get('integrity', '')
    m = re.match(r'^sha(256|384|512)-([A-Za-z0-9+/=]+)$', integ)
    if m:
        c['hashes'] = [{'alg': f'SHA-{m.group(1)}', 'content': base64.b64decode(m.group(2)).hex()}]
    if meta.get('license'):
        c['licenses'] = [{'expression': meta['license']}]
    if meta.get('resolved'):
        c['externalReferences'] = [{'type': 'distribution', 'url': meta['resolved']}]
    components.append(c)
    npm_refs[key] = (purl, meta)
for key, (purl, meta) in sorted(npm_refs.items()):
    deps = []
    for dn in sorted({**meta.get('dependencies', {}), **meta.get('optionalDependencies', {})}):
        # npm's resolution: the nearest node_modules/dn up the tree
        base = key
        while True:
            cand = f'{base}/node_modules/{dn}' if base else f'node_modules/{dn}'
            if cand in npm_refs:
                deps.append(npm_refs[cand][0])
                break
            if '/node_modules/' not in base:
                if base and f'node_modules/{dn}' in npm_refs:
                    deps.append(npm_refs[f'node_modules/{dn}'][0])
                break
            base = base.rsplit('/node_modules/', 1)[0]
    dependencies.append({'ref': purl, 'dependsOn': deps})

dependencies.insert(0, {'ref': kw_ref, 'dependsOn': bin_refs})
kw_props = [{'name': 'keywarden:git-commit', 'value': commit},
            {'name': 'keywarden:git-dirty', 'value': 'true' if dirty else 'false'},
            {'name': 'keywarden:buildtype', 'value': next(
                (o['value'] for o in json.loads(run(['meson', 'introspect', '--buildoptions', bdir]).stdout)
                 if o['name'] == 'buildtype'), 'unknown')}]
bom = {
    'bomFormat': 'CycloneDX',
    'specVersion': '1.5',
    'version': 1,
    'metadata': {
        'timestamp': stamp,
        'tools': {'components': [{'type': 'application', 'name': 'scripts/sbom.sh',
                                  'version': kw_version}]},
        'component': {
            'type': 'application',
            'bom-ref': kw_ref,
            'name': 'keywarden',
            'version': kw_version,
            'description': 'key broker for confidential computing',
            'licenses': [{'license': {'id': 'Apache-2.0'}}],
            'purl': kw_ref,
            'pedigree': {'commits': [{'uid': commit}]},
            'properties': kw_props,
        },
        'properties': [{'name': 'keywarden:distro', 'value': distro}],
    },
    'components': components,
    'dependencies': dependencies,
}
body = json.dumps(bom, sort_keys=True).encode()
bom['serialNumber'] = 'urn:uuid:' + str(uuid.uuid5(uuid.NAMESPACE_URL, 'keywarden-sbom:' + hashlib.sha256(body).hexdigest()))
text = json.dumps(bom, indent=2) + '\n'
if out == '-':
    sys.stdout.write(text)
else:
    with open(out + '.tmp', 'w') as f:
        f.write(text)
    os.replace(out + '.tmp', out)
    print(f'sbom.sh: {out}: {len(files)} files, {len(packages)} Debian packages, {len(npm_refs)} npm packages',
          file=sys.stderr)
PY
