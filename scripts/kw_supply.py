# SPDX-License-Identifier: Apache-2.0
"""Helpers shared by scripts/sbom.sh and scripts/provenance.sh (docs/build.md):
the files a build makes, running a tool, file digests, the source commit."""
import hashlib
import os
import subprocess
import sys

# the ELF files keywarden builds (scripts/hardening.sh checks the same list)
BINARIES = ['broker/keywarden', 'hsm/keywarden-hsm', 'tools/kwctl', 'attester/kwget', 'tools/kwbench',
            'verifier-client/keywarden-pcs.so', 'broker/keywarden-pg.so']
PROG = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] not in ('', '-') else 'keywarden'


def die(msg):
    print(f'{PROG}: {msg}', file=sys.stderr)
    sys.exit(1)


def run(args, check=True, timeout=120):
    """Run args; with check, a failure ends the program with its stderr."""
    p = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        die(f"{' '.join(args)}: {p.stderr.strip()}")
    return p


def sha256(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 16), b''):
            h.update(chunk)
    return h.hexdigest()


def build_files(bdir):
    """The built ELF files of bdir (all of BINARIES must be there), plus
    attester/libkwattester.so* when the build makes the shared library."""
    files = []
    for rel in BINARIES:
        p = os.path.join(bdir, rel)
        if not os.path.isfile(p):
            die(f'{p}: missing (build first)')
        files.append(p)
    adir = os.path.join(bdir, 'attester')
    for n in sorted(os.listdir(adir)) if os.path.isdir(adir) else []:
        p = os.path.join(adir, n)
        if n.startswith('libkwattester.so') and os.path.isfile(p) and not os.path.islink(p):
            files.append(p)
    return files


def source_state(top):
    """(commit, dirty, SOURCE_DATE_EPOCH) of the source tree: SOURCE_DATE_EPOCH
    from the environment, else the commit's time."""
    commit = run(['git', '-C', top, 'rev-parse', 'HEAD']).stdout.strip()
    dirty = run(['git', '-C', top, 'status', '--porcelain', '--untracked-files=no'],
                check=False).stdout.strip() != ''
    sde = os.environ.get('SOURCE_DATE_EPOCH') or run(['git', '-C', top, 'log', '-1', '--format=%ct']).stdout.strip()
    return commit, dirty, sde
