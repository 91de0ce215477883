#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# repro.sh [--keep] [--commit REV] [-- MESON_ARGS...]
#
# Reproducibility check (docs/build.md): builds one commit (default HEAD) twice
# from two source copies (git archive) in directories of different names and
# path lengths, with different build directory names, time zones, locales,
# umasks and job counts, both with SOURCE_DATE_EPOCH = the commit's time and
# the release options (--buildtype=release -Ddebug=true -Dwerror=true, no tests
# and no test hooks: what a package build ships, debug info included). Installs
# each into a DESTDIR and compares every installed file by SHA-256. Prints the
# table; on a difference shows where (ELF sections that differ, cmp's first
# differing bytes, diffoscope's report when it is installed) and exits 1.
# Work directory: $KW_REPRO_DIR or a fresh mktemp -d, removed unless --keep.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
keep=0
rev=HEAD
while [ $# -gt 0 ]; do
	case "$1" in
	--keep) keep=1; shift ;;
	--commit) rev="${2:?--commit needs a revision}"; shift 2 ;;
	--) shift; break ;;
	-h|--help) sed -n '3,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "usage: repro.sh [--keep] [--commit REV] [-- MESON_ARGS...]" >&2; exit 2 ;;
	esac
done

commit=$(git -C "$top" rev-parse --verify "$rev^{commit}")
SOURCE_DATE_EPOCH=$(git -C "$top" log -1 --format=%ct "$commit")
export SOURCE_DATE_EPOCH
work="${KW_REPRO_DIR:-$(mktemp -d /tmp/kwrepro.XXXXXX)}"
mkdir -p "$work"
cleanup() { [ "$keep" -eq 1 ] || rm -rf "$work"; }
trap cleanup EXIT INT TERM

# Two source trees: different lengths and depths, so any absolute path that
# reaches a binary changes its bytes (and, through them, the build id).
src_a="$work/a"
src_b="$work/b/a-much-longer-directory-name/keywarden-src"
echo "repro: commit $commit, SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH"
echo "repro: sources in $src_a and $src_b"

build_one() {
	src="$1"; bdir="$2"; tz="$3"; loc="$4"; um="$5"; jobs="$6"; shift 6
	mkdir -p "$src"
	git -C "$top" archive --format=tar "$commit" | tar -x -C "$src"
	(
		cd "$src"
		umask "$um"
		export TZ="$tz" LC_ALL="$loc"
		meson setup "$bdir" --prefix=/usr --buildtype=release -Ddebug=true -Dwerror=true \
			-Dtests=false -Dtest_hooks=false "$@" >"$src/setup.log" 2>&1 ||
			{ cat "$src/setup.log"; exit 1; }
		ninja -C "$bdir" -j "$jobs" >"$src/build.log" 2>&1 || { tail -n 40 "$src/build.log"; exit 1; }
		DESTDIR="$src/inst" meson install -C "$bdir" --no-rebuild --quiet >"$src/install.log" 2>&1 ||
			{ cat "$src/install.log"; exit 1; }
	)
}

t0=$(date +%s)
# the locale must exist for gcc not to fall back silently: C.UTF-8 always does
build_one "$src_a" build UTC C.UTF-8 022 2 "$@"
t1=$(date +%s)
build_one "$src_b" _build-repro-b Pacific/Chatham C 027 1 "$@"
t2=$(date +%s)
echo "repro: build a $((t1 - t0)) s, build b $((t2 - t1)) s"

(cd "$src_a/inst" && find . -type f -o -type l | sort) >"$work/files.a"
(cd "$src_b/inst" && find . -type f -o -type l | sort) >"$work/files.b"
status=0
if ! cmp -s "$work/files.a" "$work/files.b"; then
	echo "repro: the two installs hold different file lists:"
	diff "$work/files.a" "$work/files.b" || :
	status=1
fi
if [ ! -s "$work/files.a" ]; then
	echo "repro: nothing was installed" >&2
	exit 1
fi

printf '%-40s %-18s %-18s %s\n' FILE "SHA256 (a)" "SHA256 (b)" RESULT
diffs=""
while read -r f; do
	[ -e "$src_b/inst/$f" ] || [ -L "$src_b/inst/$f" ] || continue
	if [ -L "$src_a/inst/$f" ]; then
		ha=$(readlink "$src_a/inst/$f" | sha256sum | cut -c1-16)
		hb=$(readlink "$src_b/inst/$f" | sha256sum | cut -c1-16)
	else
		ha=$(sha256sum <"$src_a/inst/$f" | cut -c1-16)
		hb=$(sha256sum <"$src_b/inst/$f" | cut -c1-16)
	fi
	if [ "$ha" = "$hb" ]; then res=same; else res=DIFFERENT; diffs="$diffs $f"; status=1; fi
	printf '%-40s %-18s %-18s %s\n' "${f#./}" "$ha" "$hb" "$res"
done <"$work/files.a"

for f in $diffs; do
	a="$src_a/inst/$f"; b="$src_b/inst/$f"
	echo "== $f differs"
	cmp "$a" "$b" 2>&1 | head -n 1 || :
	cmp -l "$a" "$b" 2>/dev/null | wc -l | sed 's/^/   bytes differing: /'
	if readelf -hW "$a" >/dev/null 2>&1; then
		# which sections differ: dump each one from both files (readelf -x) and compare
		readelf -SW "$a" | sed -n 's/^ *\[ *[0-9]*\] //p' | awk '$1 != "NULL" && $2 != "NOBITS" {print $1}' |
			while read -r sec; do
				readelf -W -x "$sec" "$a" >"$work/sa" 2>/dev/null || continue
				readelf -W -x "$sec" "$b" >"$work/sb" 2>/dev/null || continue
				cmp -s "$work/sa" "$work/sb" || echo "   section $sec differs"
			done
		# the usual culprit: a build path in the bytes
		strings -a "$a" | grep -F "$work" | sort -u | head -n 5 | sed 's/^/   path in a: /' || :
	fi
	if command -v diffoscope >/dev/null 2>&1; then
		diffoscope --text - "$a" "$b" 2>/dev/null | head -n 60 || :
	fi
done

echo "repro: $(wc -l <"$work/files.a") files compared, total $((t2 - t0)) s of builds"
if [ "$status" -ne 0 ]; then
	[ "$keep" -eq 1 ] || echo "repro: run with --keep to look at $work"
	echo "repro: NOT reproducible" >&2
	exit 1
fi
echo "repro: reproducible: every installed file is bit-for-bit identical"
