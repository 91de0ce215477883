# SPDX-License-Identifier: Apache-2.0
"""A reader for the subset of systemd unit files that keywarden's tests need
(scripts/pkg-test-inner.py, tests/integration/test_boot.py): sections,
repeated keys, continuation lines, comments; Exec*= command lines with the
instance specifier and EnvironmentFile= variables expanded the way systemd
does (${VAR} one word, $VAR split at white space). Anything else in a command
line (prefixes, other specifiers) is refused rather than guessed."""
import re
import shlex


def parse(path):
    """{section: {key: [values]}}"""
    sections, cur, pending = {}, None, ""
    with open(path) as f:
        for raw in f:
            line = raw.rstrip("\n")
            if pending:
                line = pending + " " + line.strip()
                pending = ""
            s = line.strip()
            if not s or s[0] in "#;":
                continue
            if s.endswith("\\"):
                pending = s[:-1].rstrip()
                continue
            if s.startswith("[") and s.endswith("]"):
                cur = sections.setdefault(s[1:-1], {})
                continue
            k, _, v = s.partition("=")
            cur.setdefault(k.strip(), []).append(v.strip())
    return sections


def one(unit, section, key, default=None):
    vals = unit.get(section, {}).get(key)
    return vals[-1] if vals else default


def read_env(path):
    """An EnvironmentFile= (VAR=value lines, # comments) as a dict."""
    env = {}
    with open(path) as f:
        for line in f:
            s = line.strip()
            if not s or s[0] in "#;":
                continue
            k, sep, v = s.partition("=")
            if sep:
                env[k.strip()] = v.strip()
    return env


def service_env(unit, instance=None):
    """The [Service] environment: Environment= assignments, then the
    EnvironmentFile= files (which override them; a leading - makes a file
    optional)."""
    env = {}
    for value in unit.get("Service", {}).get("Environment", []):
        if instance is not None:
            value = value.replace("%i", instance).replace("%I", instance)
        for word in shlex.split(value):
            k, sep, v = word.partition("=")
            if sep:
                env[k] = v
    for value in unit.get("Service", {}).get("EnvironmentFile", []):
        if instance is not None:
            value = value.replace("%i", instance).replace("%I", instance)
        optional = value.startswith("-")
        path = value[1:] if optional else value
        try:
            env.update(read_env(path))
        except FileNotFoundError:
            if not optional:
                raise
    return env


def command(value, instance=None, env=None):
    """An Exec*= value as argv."""
    if value[:1] in "-@+!:":
        raise ValueError("command line prefix not emulated: " + value)
    if instance is not None:
        value = value.replace("%i", instance).replace("%I", instance)
    if "%" in value:
        raise ValueError("specifier not emulated: " + value)
    env = env or {}
    argv = []
    for word in shlex.split(value):
        m = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)", word)
        if m:
            argv.extend(env.get(m.group(1), "").split())
            continue
        word = re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", lambda mm: env.get(mm.group(1), ""), word)
        if "$" in word:
            raise ValueError("variable form not emulated: " + value)
        argv.append(word)
    return argv
