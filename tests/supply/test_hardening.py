# SPDX-License-Identifier: Apache-2.0
"""scripts/hardening.sh refuses binaries that lack one hardening property.

Builds a tiny program with the compiler of this build, once with every flag
meson.build uses and once per variant that drops exactly one, and checks that
the script passes the first and fails each variant on that column only.
Usage: test_hardening.py SCRIPT CC [CC_ARGS...]
"""
import os
import subprocess
import sys
import tempfile

from supplytest import check, finish

SCRIPT = sys.argv[1]
CC = sys.argv[2:]

PROG = r'''
#include <stdio.h>
#include <string.h>
#include <unistd.h>
__attribute__((noinline)) size_t kwt_fill(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
	return n;
}
__attribute__((noinline)) int kwt_twice(int x) { return 2 * x; }
int main(int argc, char **argv)
{
	char buf[64], out[96];
	ssize_t r;
	(void)kwt_fill(buf, sizeof(buf), argv[0]);
	(void)snprintf(out, sizeof(out), "%s:%d", buf, kwt_twice(argc));
	r = read(argc > 5 ? 0 : -1, buf, (size_t)argc);
	puts(out);
	return r < 0 ? 0 : 1;
}
'''

GOOD = ['-O2', '-D_FORTIFY_SOURCE=2', '-fstack-protector-strong', '-fcf-protection=full',
        '-Wl,-z,relro', '-Wl,-z,now', '-Wl,-z,noexecstack']
COLS = ['FILE', 'KIND', 'PIE', 'RELRO', 'NOW', 'SSP', 'FORTIFY', 'CET', 'NXSTACK']
# variant -> (flags replacing or added to GOOD, the column that must fail)
VARIANTS = {
    'nopie': (['-fno-pie', '-no-pie'], 'PIE'),
    'execstack': (['-Wl,-z,execstack'], 'NXSTACK'),
    'norelro': (['-Wl,-z,norelro'], 'RELRO'),
    'lazy': (['-Wl,-z,lazy'], 'NOW'),
    'nossp': (['-fno-stack-protector'], 'SSP'),
    'nofortify': (['-U_FORTIFY_SOURCE'], 'FORTIFY'),
    'nocet': (['-fcf-protection=none'], 'CET'),
}




def build(d, name, extra, shared=False):
    src = os.path.join(d, 't.c')
    with open(src, 'w') as f:
        f.write(PROG)
    out = os.path.join(d, name)
    flags = GOOD + extra
    if shared:
        flags = flags + ['-shared', '-fPIC']
    elif '-no-pie' not in extra:
        flags = flags + ['-fPIE', '-pie']
    subprocess.run(CC + flags + [src, '-o', out], check=True, timeout=60)
    return out


def run(*args):
    p = subprocess.run(['sh', SCRIPT] + list(args), capture_output=True, text=True, timeout=60)
    print(p.stdout + p.stderr)
    return p


def row(stdout, name):
    for line in stdout.splitlines():
        f = line.split()
        if f and f[0] == name and len(f) == len(COLS):
            return dict(zip(COLS, f))
    return None


with tempfile.TemporaryDirectory(prefix='kwharden.') as d:
    good = build(d, 'good', [])
    p = run('--cet', 'yes', good)
    check(p.returncode == 0, 'fully hardened program refused')
    r = row(p.stdout, 'good')
    check(r is not None and r['PIE'] == 'yes' and r['RELRO'] == 'yes' and r['NOW'] == 'yes' and
          r['SSP'] == 'yes' and r['FORTIFY'].startswith('yes(') and r['NXSTACK'] == 'yes' and
          r['CET'] in ('ibt+shstk', 'endbr,note:crt'), f'good row: {r}')

    lib = build(d, 'libgood.so', [], shared=True)
    p = run('--cet', 'yes', lib)
    r = row(p.stdout, 'libgood.so')
    check(p.returncode == 0 and r is not None and r['KIND'] == 'lib' and r['PIE'] == 'n/a',
          f'hardened shared library: rc {p.returncode} row {r}')

    for name, (extra, col) in VARIANTS.items():
        f = build(d, name, extra)
        p = run('--cet', 'yes', f)
        check(p.returncode == 1, f'{name}: exit {p.returncode}, expected 1')
        check('FAIL ' + f in p.stdout, f'{name}: no FAIL line naming the file')
        r = row(p.stdout, name)
        check(r is not None, f'{name}: no table row')
        if r is None:
            continue
        check(not r[col].startswith(('yes', 'ibt', 'endbr', 'n/a')), f'{name}: column {col} is {r[col]}')
        for other in COLS[2:]:
            if other != col:
                check(r[other].startswith(('yes', 'ibt', 'endbr', 'n/a')),
                      f'{name}: column {other} failed too ({r[other]})')

    # one bad file among good ones fails the whole run
    p = run('--cet', 'yes', good, os.path.join(d, 'execstack'))
    check(p.returncode == 1, 'a bad file among good ones passed')
    # not ELF, missing, an empty build directory
    txt = os.path.join(d, 'notelf')
    with open(txt, 'w') as f:
        f.write('#!/bin/sh\n')
    p = run(txt)
    check(p.returncode == 1 and 'not an ELF file' in p.stdout, 'non-ELF file accepted')
    p = run(os.path.join(d, 'absent'))
    check(p.returncode == 1 and 'missing' in p.stderr, 'missing file accepted')
    empty = os.path.join(d, 'emptybuild')
    os.mkdir(empty)
    p = run(empty)
    check(p.returncode == 1 and 'broker/keywarden: missing' in p.stderr, 'empty build dir accepted')
    p = run('--cet', 'maybe', good)
    check(p.returncode == 2, 'bad --cet value accepted')

finish('hardening.sh passes the hardened program and refuses each weakened variant')
