#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The bash completion scripts that meson wrote with `kwctl --completion
bash` and `kwget --completion bash` complete what the programs accept, and
agree with their --help.

    check_completion.py KWCTL KWCTL_SCRIPT KWGET KWGET_SCRIPT

A real bash sources each script, sets COMP_WORDS and COMP_CWORD and calls
the completion function, as bash does on <TAB>:
- spot checks: commands, subcommands, flags, flag values, file names;
- every command path the completion reaches (walked from the program name
  through its subcommand words) is compared with that command's --help:
  where the path has no subcommands, the flags completed after "--" are
  exactly the flags its --help names; where it has some, every flag its
  --help names is completed somewhere below it. --help itself is left out
  of the comparison (every command takes it; not every usage names it).
Exit 1 with the differences."""
import os
import re
import subprocess
import sys
import tempfile

FLAG = re.compile(r"(?<![\w-])--[a-z0-9][a-z0-9-]*")
errors = []


def fail(msg):
    errors.append(msg)


def complete(script, func, queries):
    """The candidates for each query (a list of words, the last being typed)."""
    lines = ["set -u", "source %s" % shq(script)]
    for q in queries:
        lines.append("COMP_WORDS=(%s); COMP_CWORD=%d; COMPREPLY=(); %s; "
                     "printf '%%s\\n' \"${#COMPREPLY[@]}\" ${COMPREPLY[@]+\"${COMPREPLY[@]}\"}" %
                     (" ".join(shq(w) for w in q), len(q) - 1, func))
    out = subprocess.run(["bash", "--norc", "--noprofile", "-c", "\n".join(lines)], check=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                         timeout=60)
    if out.stderr:
        fail("bash said: %s" % out.stderr.strip())
    words = out.stdout.split("\n")
    res, i = [], 0
    for _q in queries:
        n = int(words[i])
        res.append(words[i + 1:i + 1 + n])
        i += 1 + n
    return res


def shq(s):
    return "'" + s.replace("'", "'\\''") + "'"


def help_flags(exe, args):
    p = subprocess.run([exe] + args + ["--help"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=30)
    if p.returncode != 0:
        fail("%s %s --help: exit %d" % (os.path.basename(exe), " ".join(args), p.returncode))
    return set(FLAG.findall(p.stdout)) - {"--help"}


def expect(what, got, want=None, has=(), prefix=None):
    if want is not None and sorted(got) != sorted(want):
        fail("%s: completed %s, want %s" % (what, sorted(got), sorted(want)))
    for w in has:
        if w not in got:
            fail("%s: %s is not among %s" % (what, w, sorted(got)))
    if prefix is not None and (not got or any(not g.startswith(prefix) for g in got)):
        fail("%s: %s are not all %s..." % (what, sorted(got), prefix))


def walk(script, func, prog):
    """{path tuple: (children, flags)} for every node reached from prog."""
    nodes, todo = {}, [(prog,)]
    while todo:
        batch, todo = todo, []
        kids = complete(script, func, [list(p) + [""] for p in batch])
        flags = complete(script, func, [list(p) + ["--"] for p in batch])
        for p, k, f in zip(batch, kids, flags):
            children = [w for w in k if not w.startswith("-")]
            nodes[p] = (children, set(f))
            todo += [p + (c,) for c in children]
    return nodes


def check_against_help(exe, script, func, prog):
    nodes = walk(script, func, prog)
    if len(nodes) < 2 and prog == "kwctl":
        fail("kwctl: the completion reaches %d command paths" % len(nodes))
    for p, (children, flags) in sorted(nodes.items()):
        words = list(p[1:])
        hf = help_flags(exe, words)
        cf = flags - {"--help"}
        name = " ".join(p)
        if not children:
            for f in sorted(hf - cf):
                fail("%s --help names %s, which is not completed" % (name, f))
            for f in sorted(cf - hf):
                fail("%s completes %s, which --help does not name" % (name, f))
        else:
            below = set().union(*(n[1] for q, n in nodes.items() if q[:len(p)] == p))
            for f in sorted(hf - below - {"--version"}):
                fail("%s --help names %s, which is completed nowhere below it" % (name, f))
            for f in sorted(cf - hf):
                fail("%s completes %s, which --help does not name" % (name, f))
    return nodes


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    kwctl, kwctl_sh, kwget, kwget_sh = sys.argv[1:]

    with tempfile.TemporaryDirectory() as tmp:
        for n in ("claims.json", "claims-old.json", "other.txt"):
            open(os.path.join(tmp, n), "w").close()
        os.mkdir(os.path.join(tmp, "chain-dir"))
        c = complete(kwctl_sh, "_kwctl", [
            ["kwctl", "au"], ["kwctl", "audit", ""], ["kwctl", ""], ["kwctl", "key", "cr"],
            ["kwctl", "key", "create", "--al"], ["kwctl", "key", "create", "--algorithm", ""],
            ["kwctl", "refval", ""], ["kwctl", "policy", "explain", "demo/p", "--claims",
                                      os.path.join(tmp, "cl")],
            ["kwctl", "evidence", "verify", "--tee", ""], ["kwctl", "whoami", "--"],
            ["kwctl", "key", "show", "demo/k/x", "--j"], ["kwctl", "nosuch", ""],
        ])
        expect("kwctl au<TAB>", c[0], ["audit"])
        expect("kwctl audit <TAB>", c[1], has=["export", "verify", "tail", "show", "proof",
                                               "consistency"])
        expect("kwctl <TAB>", c[2], has=["key", "policy", "refval", "audit", "evidence", "report"])
        expect("kwctl key cr<TAB>", c[3], ["create"])
        expect("kwctl key create --al<TAB>", c[4], ["--algorithm"])
        expect("kwctl key create --algorithm <TAB>", c[5], ["aes-128", "aes-256", "secret"])
        expect("kwctl refval <TAB>", c[6], ["put", "show", "history", "list", "supersede", "import-rim"])
        expect("kwctl policy explain ... --claims DIR/cl<TAB>", c[7],
               [os.path.join(tmp, "claims.json"), os.path.join(tmp, "claims-old.json")])
        expect("kwctl evidence verify --tee <TAB>", c[8], has=["snp", "tdx", "tpm-akcert", "cca"])
        expect("kwctl whoami --<TAB>", c[9], ["--profile", "--url", "--cacert", "--cert", "--key",
                                             "--json", "--help"])
        expect("kwctl key show R/T/G --j<TAB>", c[10], ["--json"])
        expect("kwctl nosuch <TAB>", c[11], [])

        g = complete(kwget_sh, "_kwget", [
            ["kwget", "--te"], ["kwget", "--tee", ""], ["kwget", "--format", ""],
            ["kwget", "--keyring", ""], ["kwget", "--emu-dir", os.path.join(tmp, "ch")],
            ["kwget", "--url", "https://x", "--out", os.path.join(tmp, "o")],
            ["kwget", "--retries", ""], ["kwget", "--no-m"],
        ])
        expect("kwget --te<TAB>", g[0], has=["--tee"], prefix="--te")
        expect("kwget --tee <TAB>", g[1], ["auto", "snp", "tdx", "tpm", "az-snp-vtpm", "az-tdx-vtpm"])
        expect("kwget --format <TAB>", g[2], ["raw", "hex", "base64"])
        expect("kwget --keyring <TAB>", g[3], ["user", "session"])
        expect("kwget --emu-dir DIR/ch<TAB>", g[4], [os.path.join(tmp, "chain-dir")])
        expect("kwget --out DIR/o<TAB>", g[5], [os.path.join(tmp, "other.txt")])
        expect("kwget --retries <TAB>", g[6], [])
        expect("kwget --no-m<TAB>", g[7], ["--no-manifest"])

    kn = check_against_help(kwctl, kwctl_sh, "_kwctl", "kwctl")
    gn = check_against_help(kwget, kwget_sh, "_kwget", "kwget")
    nflags = len(set().union(*(n[1] for n in kn.values())))
    for e in errors:
        print("check_completion: " + e)
    print("check_completion: kwctl %d command paths, %d distinct flags; kwget %d flags; %s" %
          (len(kn), nflags, len(gn[("kwget",)][1]), "FAILED" if errors else "ok"))
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
