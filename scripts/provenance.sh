#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# provenance.sh [-o FILE] [--build-dir DIR] [--sbom SBOM.json] [--command CMD]
#               [--builder-id URI] [--started TIME] [--finished TIME] [SUBJECT...]
#
# An in-toto Statement v1 with an SLSA Provenance v1 predicate (docs/build.md)
# for the built packages or binaries:
#   subject                 each SUBJECT (.deb files, binaries) with its SHA-256;
#                           none given: the binaries of --build-dir
#   buildDefinition         buildType urn:keywarden:build:meson:v1 (docs/build.md)
#     externalParameters    the build command (--command, default the meson
#                           setup + ninja a release build runs), the source
#                           repository and revision, the meson options
#     internalParameters    SOURCE_DATE_EPOCH, compiler version
#     resolvedDependencies  the source commit (git+file URI, gitCommit digest)
#                           and the Debian packages of the SBOM (purl; the .deb's
#                           SHA-256 from apt's lists when apt knows it)
#   runDetails              builder id (--builder-id, default
#                           urn:keywarden:builder:local), invocation id, startedOn
#                           (--started; left out without it), finishedOn
#                           (--finished, default the newest subject's mtime)
# The statement is NOT signed: no signing key exists here. Wrap it in a DSSE
# envelope and sign it where the key is (docs/build.md). With --build-dir and
# no --sbom, scripts/sbom.sh makes the SBOM first.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
exec /usr/bin/python3 - "$top" "$@" <<'PY'
import argparse
import hashlib
import json
import os
import platform
import sys
import tempfile
import uuid
from datetime import datetime, timezone

top = sys.argv[1]
ap = argparse.ArgumentParser(prog='provenance.sh')
ap.add_argument('-o', dest='out', default='-')
ap.add_argument('--build-dir')
ap.add_argument('--sbom')
ap.add_argument('--command')
ap.add_argument('--builder-id', default='urn:keywarden:builder:local')
ap.add_argument('--started')
ap.add_argument('--finished')
ap.add_argument('subjects', nargs='*')
a = ap.parse_args(sys.argv[2:])
sys.argv[0] = 'provenance.sh'
sys.path.insert(0, os.path.join(top, 'scripts'))
from kw_supply import build_files, die, run, sha256, source_state  # noqa: E402


def rfc3339(t):
    return datetime.fromtimestamp(t, tz=timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def check_time(s, what):
    try:
        datetime.strptime(s, '%Y-%m-%dT%H:%M:%SZ')
    except ValueError:
        die(f'{what}: {s!r} is not an RFC 3339 UTC time (YYYY-MM-DDTHH:MM:SSZ)')
    return s


subjects = list(a.subjects)
if not subjects:
    if not a.build_dir:
        die('no SUBJECT and no --build-dir')
    subjects = build_files(a.build_dir)
for s in subjects:
    if not os.path.isfile(s):
        die(f'{s}: missing')
names = [os.path.basename(s) for s in subjects]
if len(set(names)) != len(names):
    die('two subjects have the same file name')

commit, dirty, sde = source_state(top)
origin = run(['git', '-C', top, 'remote', 'get-url', 'origin'], check=False).stdout.strip()
src_uri = (('git+' + origin) if origin and '://' in origin else f'git+file://{top}') + f'@{commit}'

options = {}
if a.build_dir:
    for o in json.loads(run(['meson', 'introspect', '--buildoptions', a.build_dir]).stdout):
        if o['section'] in ('core', 'base', 'user') and o['name'] in (
                'buildtype', 'debug', 'optimization', 'b_pie', 'b_ndebug', 'b_sanitize', 'b_lto', 'werror',
                'prefix', 'tests', 'test_hooks', 'fuzzing', 'c_args', 'c_link_args'):
            options[o['name']] = o['value']
command = a.command or ('meson setup build --buildtype=release -Dwerror=true -Dtests=false '
                        '-Dtest_hooks=false && ninja -C build')

# Debian packages: from the SBOM (made now when only a build directory is given)
sbom_path = a.sbom
tmp = None
if not sbom_path and a.build_dir:
    tmp = tempfile.TemporaryDirectory(prefix='kwprov.')
    sbom_path = os.path.join(tmp.name, 'sbom.json')
    run(['sh', os.path.join(top, 'scripts', 'sbom.sh'), '-o', sbom_path, a.build_dir])
debs = []
sbom_digest = None
if sbom_path:
    try:
        with open(sbom_path, 'rb') as f:
            raw = f.read()
        bom = json.loads(raw)
    except (OSError, ValueError) as e:
        die(f'{sbom_path}: {e}')
    sbom_digest = hashlib.sha256(raw).hexdigest()
    debs = sorted((c for c in bom.get('components', []) if c.get('purl', '').startswith('pkg:deb/')),
                  key=lambda c: c['name'])
# the .deb files' SHA-256 as apt's (signed) lists give them, when they are there
deb_sha = {}
if debs:
    p = run(['apt-cache', 'show', '--no-all-versions'] + [f"{c['name']}={c['version']}" for c in debs],
            check=False)
    pkg = ver = None
    for line in p.stdout.splitlines():
        if line.startswith('Package: '):
            pkg = line.split(': ', 1)[1]
        elif line.startswith('Version: '):
            ver = line.split(': ', 1)[1]
        elif line.startswith('SHA256: ') and pkg:
            deb_sha.setdefault((pkg, ver), line.split(': ', 1)[1].strip())
resolved = [{'uri': src_uri, 'digest': {'gitCommit': commit}, 'name': 'keywarden source',
             'annotations': {'dirty': dirty}}]
for c in debs:
    d = {'uri': c['purl'], 'name': c['name'], 'annotations': {'version': c['version']}}
    if (c['name'], c['version']) in deb_sha:
        d['digest'] = {'sha256': deb_sha[(c['name'], c['version'])]}
    resolved.append(d)

cc = run([os.environ.get('CC', 'cc'), '--version'], check=False).stdout.splitlines()
started = check_time(a.started, '--started') if a.started else None   # unknown: left out
finished = check_time(a.finished, '--finished') if a.finished else rfc3339(
    int(max(os.path.getmtime(s) for s in subjects)))
if started is not None and started > finished:
    die(f'startedOn {started} is after finishedOn {finished}')

subject = [{'name': os.path.basename(s), 'digest': {'sha256': sha256(s)}} for s in subjects]
metadata = {'invocationId': str(uuid.uuid4()), 'finishedOn': finished}
if started is not None:
    metadata['startedOn'] = started
statement = {
    '_type': 'https://in-toto.io/Statement/v1',
    'subject': subject,
    'predicateType': 'https://slsa.dev/provenance/v1',
    'predicate': {
        'buildDefinition': {
            'buildType': 'urn:keywarden:build:meson:v1',
            'externalParameters': {
                'command': command,
                'source': {'uri': src_uri, 'revision': commit},
                'mesonOptions': options,
            },
            'internalParameters': {
                'SOURCE_DATE_EPOCH': sde,
                'compiler': cc[0] if cc else 'unknown',
                'platform': f'{platform.system()} {platform.machine()}',
            },
            'resolvedDependencies': resolved,
        },
        'runDetails': {
            'builder': {'id': a.builder_id},
            'metadata': metadata,
            'byproducts': ([{'name': 'sbom.cdx.json', 'digest': {'sha256': sbom_digest},
                             'mediaType': 'application/vnd.cyclonedx+json'}] if sbom_digest else []),
        },
    },
}
text = json.dumps(statement, indent=2) + '\n'
if a.out == '-':
    sys.stdout.write(text)
else:
    with open(a.out + '.tmp', 'w') as f:
        f.write(text)
    os.replace(a.out + '.tmp', a.out)
    print(f'provenance.sh: {a.out}: {len(subject)} subjects, {len(resolved)} resolved dependencies '
          f'({len(deb_sha)} .deb digests from apt); unsigned', file=sys.stderr)
PY
