# SPDX-License-Identifier: Apache-2.0
"""What the tests of tests/supply share: collected checks and a cached dpkg -S."""
import functools
import subprocess
import sys

failures = []


def check(cond, msg):
    """Record a failed check (the test goes on, and fails at finish())."""
    if not cond:
        failures.append(msg)
        print('FAIL:', msg)


def finish(ok_msg):
    if failures:
        print(f'{len(failures)} failure(s)')
        sys.exit(1)
    print('ok: ' + ok_msg)


@functools.lru_cache(maxsize=None)
def dpkg_s(path):
    """The package owning path, or None (dpkg -S reads its whole database: once per path)."""
    r = subprocess.run(['dpkg', '-S', path], capture_output=True, text=True, timeout=60)
    return r.stdout.split(':')[0] if r.returncode == 0 else None
