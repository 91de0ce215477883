#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The man pages meson generated from docs/man/*.scd render without a
warning and say what the programs do.

    check_man.py SOURCE_ROOT MAN_BUILD_DIR KEYWARDEN KEYWARDEN_HSM KWCTL KWGET

- `man --warnings -l PAGE` and `groff -t -ww -z -man PAGE` (every groff
  warning) print nothing and succeed, for every page; a broken page is
  refused by the same commands (the check is not vacuous);
- each page has the sections a man page of its kind needs (NAME, SYNOPSIS,
  DESCRIPTION, FILES, SEE ALSO; OPTIONS, ENVIRONMENT and EXIT STATUS for the
  programs; SIGNALS for the daemons; EXAMPLES);
- every flag the program's --help names is in its page, and every flag the
  page names is one the program takes (its --help, or for kwctl and kwget
  the flags of the completion script, written from the option tables; the
  hidden --completion is allowed; in examples, only the program's own
  command lines count: not those of systemctl or cryptsetup);
- keywarden.json(5) names every configuration key broker/config.c accepts
  (as SECTION.KEY, or KEY at the top level), and its example configuration
  passes keywarden --check-config.
Exit 1 with the differences."""
import os
import re
import subprocess
import sys
import tempfile

FLAG = re.compile(r"(?<![\w-])--[a-z0-9][a-z0-9-]*")
PAGES = {
    "keywarden.8": ("keywarden", ["SIGNALS", "ENVIRONMENT", "EXIT STATUS", "OPTIONS"]),
    "keywarden-hsm.8": ("keywarden-hsm", ["SIGNALS", "ENVIRONMENT", "EXIT STATUS", "OPTIONS"]),
    "kwctl.1": ("kwctl", ["ENVIRONMENT", "EXIT STATUS", "OPTIONS"]),
    "kwget.1": ("kwget", ["ENVIRONMENT", "EXIT STATUS", "OPTIONS"]),
    "keywarden.json.5": (None, []),
}
COMMON = ["NAME", "SYNOPSIS", "DESCRIPTION", "FILES", "EXAMPLES", "SEE ALSO"]
ENV = dict(os.environ, LC_ALL="C.UTF-8", MANWIDTH="80", MAN_KEEP_FORMATTING="")
errors = []


def fail(msg):
    errors.append(msg)


def render_warnings(page):
    """Warnings (stderr) of man and of groff with every warning on, plus failures."""
    out = []
    m = subprocess.run(["man", "--warnings", "-l", page], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True, env=ENV, timeout=60)
    if m.returncode != 0 or m.stderr.strip():
        out.append("man --warnings: exit %d: %s" % (m.returncode, m.stderr.strip()))
    if len(m.stdout) < 200:
        out.append("man rendered %d characters" % len(m.stdout))
    g = subprocess.run(["groff", "-t", "-ww", "-z", "-man", page], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True, env=ENV, timeout=60)
    if g.returncode != 0 or g.stderr.strip():
        out.append("groff -ww: exit %d: %s" % (g.returncode, g.stderr.strip()))
    return out, m.stdout


def help_flags(exe):
    p = subprocess.run([exe, "--help"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=30)
    if p.returncode != 0 or not p.stdout:
        fail("%s --help: exit %d" % (exe, p.returncode))
    return set(FLAG.findall(p.stdout))


def script_flags(path):
    text = open(path, encoding="utf-8").read()
    return set(re.findall(r'_flags\["[^"]+"\]\+=" (--[a-z0-9-]+)"', text))


def page_flags(src, prog):
    """The flags the page names for prog: in literal blocks (examples), only
    on the lines of prog's own command lines (a command starts at an
    unindented line or after a "|", indented lines continue it)."""
    out, literal, cmd, pipe = set(), False, None, False
    for line in src.splitlines():
        if line.strip() == "```":
            literal, cmd = not literal, None
            continue
        if not literal:
            out |= set(FLAG.findall(line))
            continue
        words = line.split()
        if words and (not line[0].isspace() or pipe):
            cmd = os.path.basename(words[0])
        pipe = line.rstrip().endswith("|")
        if cmd == prog:
            out |= set(FLAG.findall(line))
    return out


def config_keys(top):
    src = open(os.path.join(top, "broker", "config.c"), encoding="utf-8").read()
    keys = {(s or "top", k) for s, k in re.findall(r'^\s*\{"(\w*)", "(\w+)", K_[A-Z]+', src, re.M)}
    m = re.search(r'admin_keys\[\] = \{(.*?)NULL\}', src, re.S)
    if not keys or not m:
        fail("cannot find the key table in broker/config.c")
        return set()
    return keys | {("admin", k) for k in re.findall(r'"(\w+)"', m.group(1))}


def check_example_config(src, keywarden):
    """The page's example configuration passes keywarden --check-config."""
    m = re.search(r"^```\n(\{\n.*?\n\})\n```", src, re.M | re.S)
    if m is None:
        fail("keywarden.json.5 has no example configuration")
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "keywarden.json")
        with open(path, "w", encoding="utf-8") as f:
            f.write(m.group(1))
        p = subprocess.run([keywarden, "--config", path, "--check-config"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True, timeout=30)
        if p.returncode != 0:
            fail("keywarden.json.5: the example configuration is refused: %s" % p.stderr.strip())


def main():
    if len(sys.argv) != 7:
        sys.exit(__doc__)
    top, mandir, keywarden, hsm, kwctl, kwget = sys.argv[1:]
    exes = {"keywarden": keywarden, "keywarden-hsm": hsm, "kwctl": kwctl, "kwget": kwget}

    with tempfile.TemporaryDirectory() as tmp:
        bad = os.path.join(tmp, "bad.1")
        with open(bad, "w") as f:
            f.write('.TH BAD 1\n.SH NAME\nbad \\- page\n.SH DESCRIPTION\n.XY no such macro\n'
                    'text \\fQno such font\\fR\n')
        if not render_warnings(bad)[0]:
            fail("man and groff find nothing wrong with a broken page")

    nflags = 0
    for page, (prog, sections) in sorted(PAGES.items()):
        path = os.path.join(mandir, page)
        src = open(os.path.join(top, "docs", "man", page + ".scd"), encoding="utf-8").read()
        warnings, text = render_warnings(path)
        for w in warnings:
            fail("%s: %s" % (page, w))
        have = set(re.findall(r"^([A-Z][A-Z ]+[A-Z])$", text, re.M))
        for s in COMMON + sections:
            if s not in have:
                fail("%s has no %s section" % (page, s))
        plain = src.replace("*", "").replace("\\", "")
        if prog is None:
            check_example_config(src, keywarden)
            for sec, k in sorted(config_keys(top)):
                name = k if sec == "top" else "%s.%s" % (sec, k)
                if not re.search(r"(?<![\w.])%s(?![\w])" % re.escape(name), plain):
                    fail("%s does not name the configuration key %s" % (page, name))
            continue
        hf = help_flags(exes[prog])
        known = hf | {"--help"}
        if prog in ("kwctl", "kwget"):
            sf = script_flags(os.path.join(mandir, prog))
            if not sf:
                fail("no flags in the %s completion script" % prog)
            known |= sf | {"--completion"}
            hf |= sf
        in_page = page_flags(plain, prog)
        nflags += len(hf)
        for f in sorted(hf - in_page):
            fail("%s: %s takes %s, the page does not name it" % (page, prog, f))
        for f in sorted(in_page - known):
            fail("%s names %s, which %s does not take" % (page, f, prog))
    for e in errors:
        print("check_man: " + e)
    print("check_man: %d pages, %d program flags; %s" % (len(PAGES), nflags,
                                                         "FAILED" if errors else "ok"))
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
