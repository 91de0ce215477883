#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# hardening.sh [--cet yes|no|auto] BUILD_DIR | FILE...
#
# Checks the ELF executables and shared libraries keywarden builds for the
# hardening meson.build asks for (docs/build.md), with readelf and objdump only:
#   PIE      ET_DYN; an executable (it has PT_INTERP) also carries DF_1_PIE
#   RELRO    a PT_GNU_RELRO segment
#   NOW      DT_FLAGS BIND_NOW or DT_FLAGS_1 NOW (with RELRO: full RELRO)
#   SSP      __stack_chk_fail imported (-fstack-protector-strong)
#   FORTIFY  at least one __*_chk import besides __stack_chk_fail (_FORTIFY_SOURCE)
#   CET      (-fcf-protection) at least 90% of the global functions in .text
#            start with endbr64 (the C runtime's _start aside), and the GNU property note says IBT and SHSTK
#            unless the C runtime's own start files (Scrt1.o crti.o crtn.o)
#            lack that note: ld ANDs the note over every object it links, so
#            then no program can carry it (Debian 12's glibc 2.36: "crt")
#   NXSTACK  a PT_GNU_STACK segment without the X flag
# With BUILD_DIR: keywarden, keywarden-hsm, kwctl, kwget, kwbench and keywarden-pcs.so must all
# be there, and libkwattester.so* is checked when the build has one. CET is
# expected when the build's compile_commands.json uses -fcf-protection (auto),
# for FILEs when the file is x86-64. Prints one table row per file; exits 1
# when a check fails or a file is missing, 2 on usage errors.
set -eu

cet=auto
case "${1:-}" in
--cet) cet="${2:-}"; shift 2 || { echo "hardening.sh: --cet needs yes|no|auto" >&2; exit 2; } ;;
--cet=*) cet="${1#--cet=}"; shift ;;
-h|--help) sed -n '3,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
case "$cet" in yes|no|auto) ;; *) echo "hardening.sh: --cet yes|no|auto" >&2; exit 2 ;; esac
[ $# -ge 1 ] || { echo "usage: hardening.sh [--cet yes|no|auto] BUILD_DIR | FILE..." >&2; exit 2; }
for tool in readelf objdump awk; do
	command -v "$tool" >/dev/null 2>&1 || { echo "hardening.sh: $tool not found" >&2; exit 2; }
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
fail=0
files=""
if [ $# -eq 1 ] && [ -d "$1" ]; then
	b=$1
	for rel in broker/keywarden hsm/keywarden-hsm tools/kwctl attester/kwget tools/kwbench \
	    verifier-client/keywarden-pcs.so broker/keywarden-pg.so; do
		if [ -f "$b/$rel" ]; then
			files="$files $b/$rel"
		else
			echo "hardening.sh: $b/$rel: missing" >&2
			fail=1
		fi
	done
	for lib in "$b"/attester/libkwattester.so*; do
		[ -f "$lib" ] && [ ! -L "$lib" ] && files="$files $lib"
	done
	if [ "$cet" = auto ]; then
		if [ -f "$b/compile_commands.json" ] && grep -q -- '-fcf-protection' "$b/compile_commands.json" &&
			! grep -q -- '-fcf-protection=none' "$b/compile_commands.json"; then
			cet=yes
		else
			cet=no
		fi
	fi
else
	for f in "$@"; do
		if [ -f "$f" ]; then files="$files $f"; else echo "hardening.sh: $f: missing" >&2; fail=1; fi
	done
fi

# Does every C runtime start file carry the IBT+SHSTK property? If not, ld
# cannot put the note on any program (and the absence is not our objects').
crt_cet=yes
cc_prog="${CC:-cc}"
command -v "$cc_prog" >/dev/null 2>&1 || cc_prog=gcc
for o in Scrt1.o crti.o crtn.o; do
	p=$("$cc_prog" -print-file-name="$o" 2>/dev/null || echo "$o")
	if [ ! -f "$p" ] || ! readelf -nW "$p" 2>/dev/null | grep -q 'x86 feature:.*IBT.*SHSTK'; then
		crt_cet=no
	fi
done

printf '%-22s %-4s %-4s %-5s %-4s %-4s %-8s %-14s %s\n' FILE KIND PIE RELRO NOW SSP FORTIFY CET NXSTACK
for f in $files; do
	name=$(basename "$f")
	why=""
	if ! readelf -hW "$f" >"$tmp/h" 2>/dev/null; then
		printf '%-22s not an ELF file\n' "$name"
		fail=1
		continue
	fi
	readelf -lW "$f" >"$tmp/l" 2>/dev/null || :
	readelf -dW "$f" >"$tmp/d" 2>/dev/null || :
	readelf --dyn-syms -W "$f" >"$tmp/ds" 2>/dev/null || :
	readelf -nW "$f" >"$tmp/n" 2>/dev/null || :
	type=$(awk '/^ *Type:/ {print $2; exit}' "$tmp/h")
	machine=$(awk -F: '/^ *Machine:/ {gsub(/^ +/, "", $2); print $2; exit}' "$tmp/h")
	if grep -q '^ *INTERP ' "$tmp/l"; then kind=exe; else kind=lib; fi

	# PIE
	if [ "$type" != DYN ]; then
		pie=no; why="$why type $type, not ET_DYN (-no-pie?);"
	elif [ "$kind" = lib ]; then
		pie=n/a
	elif grep -q 'FLAGS_1).*PIE' "$tmp/d"; then
		pie=yes
	else
		pie=no; why="$why ET_DYN executable without DF_1_PIE;"
	fi
	# RELRO, BIND_NOW
	if grep -q '^ *GNU_RELRO ' "$tmp/l"; then relro=yes; else relro=no; why="$why no PT_GNU_RELRO;"; fi
	if grep -qE '\(FLAGS\).*BIND_NOW|\(FLAGS_1\).*NOW' "$tmp/d" || grep -q '(BIND_NOW)' "$tmp/d"; then
		now=yes
	else
		now=no; why="$why no BIND_NOW (lazy binding: partial RELRO only);"
	fi
	# stack protector, fortify: the imports the checks call
	if awk '$7 == "UND" && $8 ~ /^__stack_chk_fail(@|$)/ {found=1} END {exit !found}' "$tmp/ds"; then
		ssp=yes
	else
		ssp=no; why="$why no __stack_chk_fail import;"
	fi
	nchk=$(awk '$7 == "UND" && $8 ~ /^__[a-z0-9_]+_chk(@|$)/ && $8 !~ /^__stack_chk_fail/ {n++} END {print n+0}' "$tmp/ds")
	if [ "$nchk" -gt 0 ]; then fortify="yes($nchk)"; else fortify=no; why="$why no __*_chk import (_FORTIFY_SOURCE);"; fi
	# CET
	if [ "$cet" = no ] || { [ "$cet" = auto ] && [ "$machine" != "Advanced Micro Devices X86-64" ]; }; then
		cetcol=n/a
	else
		# global functions defined in the file: the symbol table, else the dynamic one
		readelf -sW "$f" 2>/dev/null | awk '
			/^Symbol table / { tab = ($0 ~ /\.symtab/) ? "s" : "d"; next }
			$4 == "FUNC" && $5 == "GLOBAL" && $7 != "UND" && $3 + 0 > 0 {
				n = $8; sub(/@.*/, "", n)
				# the C runtime start code (crt1.o) is not ours
				if (n != "_start" && n !~ /^_dl_/) print tab, n }' >"$tmp/g"
		if grep -q '^s ' "$tmp/g"; then grep '^s ' "$tmp/g"; else grep '^d ' "$tmp/g" || :; fi |
			awk '{print $2}' | sort -u >"$tmp/gn"
		objdump -d --no-show-raw-insn -j .text "$f" 2>/dev/null | awk -v gfile="$tmp/gn" '
			BEGIN { while ((getline l < gfile) > 0) g[l] = 1 }
			/^[0-9a-f]+ <.*>:$/ {
				s = $2; sub(/^</, "", s); sub(/>:$/, "", s)
				if (!(s in g)) next
				if ((getline line) <= 0) exit
				n++; if (line ~ /endbr64/) e++ }
			END { printf "%d %d\n", e + 0, n + 0 }' >"$tmp/e"
		read -r ne ng <"$tmp/e"
		if [ "$ng" -eq 0 ]; then
			cetcol=unknown; why="$why no global function symbols to check for endbr64 (stripped?);"
		elif [ $((ne * 100)) -lt $((ng * 90)) ]; then
			cetcol="no($ne/$ng)"; why="$why only $ne of $ng global functions start with endbr64 (-fcf-protection);"
		elif grep -q 'x86 feature:.*IBT.*SHSTK' "$tmp/n"; then
			cetcol="ibt+shstk"
		elif [ "$crt_cet" = no ]; then
			cetcol="endbr,note:crt"
		else
			cetcol="no-note"; why="$why no IBT/SHSTK property note although the C runtime objects have it;"
		fi
	fi
	# non-executable stack
	stk=$(awk '$1 == "GNU_STACK" {print $(NF-1); found=1} END {if (!found) print "none"}' "$tmp/l")
	case "$stk" in
	none) nx=no; why="$why no PT_GNU_STACK (the kernel gives an executable stack);" ;;
	*E*) nx=no; why="$why PT_GNU_STACK is $stk (executable);" ;;
	*) nx=yes ;;
	esac

	printf '%-22s %-4s %-4s %-5s %-4s %-4s %-8s %-14s %s\n' "$name" "$kind" "$pie" "$relro" "$now" "$ssp" \
		"$fortify" "$cetcol" "$nx"
	if [ -n "$why" ]; then
		echo "  FAIL $f:$why" | sed 's/;$//'
		fail=1
	fi
done
if [ "$fail" -ne 0 ]; then
	echo "hardening: FAILED" >&2
	exit 1
fi
echo "hardening: all checks passed (CET expected: $cet)"
