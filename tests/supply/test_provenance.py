# SPDX-License-Identifier: Apache-2.0
"""scripts/provenance.sh: an in-toto Statement v1 with an SLSA Provenance v1
predicate. The schema below is written here from the two spec texts
(in-toto attestation framework v1: Statement and ResourceDescriptor;
slsa.dev/provenance/v1: BuildDefinition, RunDetails, BuildMetadata); the
values are checked against the files, the git commit and the SBOM.
Usage: test_provenance.py SOURCE_ROOT BUILD_ROOT
"""
import copy
import hashlib
import json
import os
import subprocess
import sys
import tempfile

import jsonschema

from supplytest import check, finish

top, bdir = sys.argv[1], sys.argv[2]
SCRIPT = os.path.join(top, 'scripts', 'provenance.sh')



TIME = r'^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$'
URI = r'^[A-Za-z][A-Za-z0-9+.-]*:[^\s]+$'
# DigestSet: algorithm -> lowercase hex (sha256, sha512, ...) or gitCommit
DIGEST = {'type': 'object', 'minProperties': 1,
          'properties': {'sha256': {'type': 'string', 'pattern': '^[0-9a-f]{64}$'},
                         'gitCommit': {'type': 'string', 'pattern': '^[0-9a-f]{40}([0-9a-f]{24})?$'}},
          'additionalProperties': {'type': 'string', 'pattern': '^[0-9a-f]+$'}}
# ResourceDescriptor: at least one of uri, digest, content
RESOURCE = {'type': 'object',
            'properties': {'uri': {'type': 'string', 'pattern': URI}, 'digest': DIGEST,
                           'content': {'type': 'string'}, 'name': {'type': 'string'},
                           'downloadLocation': {'type': 'string', 'pattern': URI},
                           'mediaType': {'type': 'string'}, 'annotations': {'type': 'object'}},
            'anyOf': [{'required': ['uri']}, {'required': ['digest']}, {'required': ['content']}],
            'additionalProperties': False}
SCHEMA = {
    '$schema': 'http://json-schema.org/draft-07/schema#',
    'type': 'object',
    'required': ['_type', 'subject', 'predicateType', 'predicate'],
    'additionalProperties': False,
    'properties': {
        '_type': {'const': 'https://in-toto.io/Statement/v1'},
        # subjects need a digest (the Statement spec); names are unique here
        'subject': {'type': 'array', 'minItems': 1,
                    'items': {'allOf': [RESOURCE, {'required': ['name', 'digest']}]}},
        'predicateType': {'const': 'https://slsa.dev/provenance/v1'},
        'predicate': {
            'type': 'object', 'required': ['buildDefinition', 'runDetails'], 'additionalProperties': False,
            'properties': {
                'buildDefinition': {
                    'type': 'object', 'required': ['buildType', 'externalParameters'],
                    'additionalProperties': False,
                    'properties': {
                        'buildType': {'type': 'string', 'pattern': URI},
                        'externalParameters': {'type': 'object', 'minProperties': 1},
                        'internalParameters': {'type': 'object'},
                        'resolvedDependencies': {'type': 'array', 'items': RESOURCE},
                    }},
                'runDetails': {
                    'type': 'object', 'required': ['builder'], 'additionalProperties': False,
                    'properties': {
                        'builder': {'type': 'object', 'required': ['id'],
                                    'properties': {'id': {'type': 'string', 'pattern': URI},
                                                   'version': {'type': 'object'},
                                                   'builderDependencies': {'type': 'array', 'items': RESOURCE}},
                                    'additionalProperties': False},
                        'metadata': {'type': 'object', 'additionalProperties': False,
                                     'properties': {'invocationId': {'type': 'string'},
                                                    'startedOn': {'type': 'string', 'pattern': TIME},
                                                    'finishedOn': {'type': 'string', 'pattern': TIME}}},
                        'byproducts': {'type': 'array', 'items': RESOURCE},
                    }},
            }},
    },
}
jsonschema.Draft7Validator.check_schema(SCHEMA)
validator = jsonschema.Draft7Validator(SCHEMA)


def run(*args):
    return subprocess.run(['sh', SCRIPT] + list(args), capture_output=True, text=True, timeout=180)


def sha256(p):
    return hashlib.sha256(open(p, 'rb').read()).hexdigest()


with tempfile.TemporaryDirectory(prefix='kwprov.') as d:
    sbom = os.path.join(d, 'sbom.json')
    subprocess.run(['sh', os.path.join(top, 'scripts', 'sbom.sh'), '-o', sbom, bdir], check=True,
                   capture_output=True, timeout=180)
    out = os.path.join(d, 'prov.json')
    p = run('-o', out, '--build-dir', bdir, '--sbom', sbom, '--builder-id', 'urn:keywarden:builder:test',
            '--started', '2026-12-01T10:00:00Z', '--command', 'sh scripts/test.sh')
    print(p.stderr.strip())
    check(p.returncode == 0, f'provenance.sh exit {p.returncode}')
    st = json.load(open(out))
    errs = list(validator.iter_errors(st))
    for e in errs[:10]:
        print('schema:', list(e.absolute_path), e.message[:200])
    check(not errs, f'{len(errs)} schema errors')
    check('unsigned' in p.stderr, 'provenance.sh does not say the statement is unsigned')

    # subjects: the build's binaries, with their digests
    want = {'keywarden': 'broker/keywarden', 'keywarden-hsm': 'hsm/keywarden-hsm', 'kwctl': 'tools/kwctl',
            'kwget': 'attester/kwget', 'kwbench': 'tools/kwbench'}
    got = {s['name']: s['digest']['sha256'] for s in st['subject']}
    for name, rel in want.items():
        check(got.get(name) == sha256(os.path.join(bdir, rel)), f'subject {name}: wrong or missing digest')
    pred = st['predicate']
    bd = pred['buildDefinition']
    check(bd['externalParameters']['command'] == 'sh scripts/test.sh', 'build command not recorded')
    commit = subprocess.run(['git', '-C', top, 'rev-parse', 'HEAD'], capture_output=True, text=True,
                            check=True).stdout.strip()
    src = bd['resolvedDependencies'][0]
    check(src['digest'] == {'gitCommit': commit} and src['uri'].startswith('git+') and
          src['uri'].endswith('@' + commit), f'source dependency {src}')
    check(bd['externalParameters']['source']['revision'] == commit, 'externalParameters.source.revision')
    bom = json.load(open(sbom))
    sbom_debs = {c['purl'] for c in bom['components'] if c.get('purl', '').startswith('pkg:deb/')}
    prov_debs = {r['uri'] for r in bd['resolvedDependencies'][1:]}
    check(sbom_debs and sbom_debs == prov_debs, 'Debian packages differ from the SBOM')
    check(pred['runDetails']['builder']['id'] == 'urn:keywarden:builder:test', 'builder id')
    md = pred['runDetails']['metadata']
    check(md['startedOn'] == '2026-12-01T10:00:00Z' and md['finishedOn'] >= md['startedOn'], f'metadata {md}')
    check(pred['runDetails']['byproducts'][0]['digest']['sha256'] == sha256(sbom), 'SBOM byproduct digest')
    check(bd['externalParameters']['mesonOptions'].get('buildtype') is not None, 'meson options missing')

    # explicit subjects: a .deb-like file and a binary
    deb = os.path.join(d, 'keywarden_0.1.0_amd64.deb')
    with open(deb, 'wb') as f:
        f.write(b'!<arch>\n' + os.urandom(64))
    p = run('-o', out, '--sbom', sbom, deb, os.path.join(bdir, 'tools', 'kwctl'))
    check(p.returncode == 0, f'explicit subjects: exit {p.returncode} {p.stderr}')
    st2 = json.load(open(out))
    check([s['name'] for s in st2['subject']] == ['keywarden_0.1.0_amd64.deb', 'kwctl'] and
          st2['subject'][0]['digest']['sha256'] == sha256(deb), 'explicit subjects and digests')
    check(not list(validator.iter_errors(st2)), 'explicit-subject statement fails the schema')

    # refusals
    for args, what in (([os.path.join(d, 'absent.deb')], 'missing subject'),
                       ([], 'no subject and no build dir'),
                       (['--finished', 'tomorrow', deb], 'bad --finished'),
                       (['--started', '2026-12-02T00:00:00Z', '--finished', '2026-12-01T00:00:00Z', deb],
                        'started after finished'),
                       ([deb, deb], 'duplicate subject names')):
        p = run(*args)
        check(p.returncode != 0 and p.stdout == '', f'{what}: accepted')

# the schema is not a rubber stamp
for what, mutate in (
        ('statement v0.1 type', lambda s: s.update(_type='https://in-toto.io/Statement/v0.1')),
        ('no subject digest', lambda s: s['subject'][0].pop('digest')),
        ('short sha256', lambda s: s['subject'][0]['digest'].update(sha256='abc')),
        ('no builder id', lambda s: s['predicate']['runDetails']['builder'].pop('id')),
        ('no buildType', lambda s: s['predicate']['buildDefinition'].pop('buildType')),
        ('empty resource', lambda s: s['predicate']['buildDefinition']['resolvedDependencies'].append({})),
        ('bad time', lambda s: s['predicate']['runDetails']['metadata'].update(finishedOn='12/07/2026'))):
    bad = copy.deepcopy(st)
    mutate(bad)
    check(list(validator.iter_errors(bad)), f'schema accepted a statement with {what}')

finish(f'{len(st["subject"])} subjects, {len(st["predicate"]["buildDefinition"]["resolvedDependencies"])} '
      'resolved dependencies; in-toto Statement v1 / SLSA Provenance v1 shape')
