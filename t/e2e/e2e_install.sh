#!/bin/bash
# SPDX-License-Identifier: MIT
#
# `make install DESTDIR=...` from the build tree installs wgpipe and its
# manual page; the page documents exactly the options `wgpipe --help`
# lists, with the same values, ranges and defaults, the same usage, and
# the environment variables it names; its footer carries the version
# `wgpipe --version` prints; and groff formats it without a warning.
# Needs no root.
#
# Environment: abs_top_builddir (default: the current directory, which is
# the build tree under `make check`), MAKE (default make), CI=true to fail
# where this would skip. Exit status: 0 pass, 1 fail, 77 skip.

set -u
export LC_ALL=C
NAME=e2e_install
builddir=${abs_top_builddir:-$(pwd)}
TMP=""

fail()
{
	echo "FAIL $NAME: $*" >&2
	exit 1
}

skip_or_fail()
{
	if [ "${CI:-}" = true ]; then
		echo "FAIL $NAME: $* (CI=true: not skipping)" >&2
		exit 1
	fi
	echo "SKIP $NAME: $*"
	exit 77
}

pass() { echo "ok   $*"; }

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup()
{
	local rc=$?
	[ -n "$TMP" ] && rm -rf "$TMP"
	exit "$rc"
}

command -v groff >/dev/null 2>&1 ||
	skip_or_fail "groff not found (Debian package groff-base)"
[ -f "$builddir/Makefile" ] ||
	fail "no Makefile in $builddir: run from the build tree or set abs_top_builddir"

TMP=$(mktemp -d "/tmp/wgpipe-$NAME.XXXXXX") || exit 1
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# --- install ----------------------------------------------------------

DEST="$TMP/root"
${MAKE:-make} -C "$builddir" install DESTDIR="$DEST" >"$TMP/install.log" 2>&1 ||
	fail "make install DESTDIR=$DEST failed:"$'\n'"$(tail -n 20 "$TMP/install.log")"
mapfile -t bins < <(find "$DEST" -path '*/sbin/wgpipe' -type f)
mapfile -t pages < <(find "$DEST" -path '*/man8/wgpipe.8' -type f)
[ ${#bins[@]} = 1 ] || fail "expected one sbin/wgpipe under $DEST, found ${#bins[@]}"
[ ${#pages[@]} = 1 ] || fail "expected one man8/wgpipe.8 under $DEST, found ${#pages[@]}"
BIN=${bins[0]}
PAGE=${pages[0]}
[ -x "$BIN" ] || fail "$BIN is not executable"
pass "make install: ${BIN#"$DEST"} and ${PAGE#"$DEST"}"

# --- the page formats cleanly ---------------------------------------

warnings=$(groff -ww -z -man "$PAGE" 2>&1)
[ -z "$warnings" ] || fail "groff -ww -z -man ${PAGE##*/}:"$'\n'"$warnings"
pass "groff -ww -z -man: no warning"
if command -v mandoc >/dev/null 2>&1; then
	warnings=$(mandoc -T lint -W warning "$PAGE" 2>&1)
	[ -z "$warnings" ] || fail "mandoc -T lint:"$'\n'"$warnings"
	pass "mandoc -T lint: no warning"
fi

# --- the installed binary -------------------------------------------

"$BIN" --help >"$TMP/help" 2>&1 || fail "wgpipe --help exited $?"
version=$("$BIN" --version) || fail "wgpipe --version exited $?"
[[ $version =~ ^wgpipe\ [0-9] ]] || fail "wgpipe --version printed '$version'"
pass "installed wgpipe runs: $version"

# Plain text, no hyphenation, long lines: one option per tag line.
groff -man -Tascii -P-cbou -rHY=0 -rLL=300n "$PAGE" >"$TMP/page" 2>/dev/null ||
	fail "groff cannot format ${PAGE##*/}"
grep -qF "$version" "$TMP/page" ||
	fail "the page's footer does not say '$version' (update .TH in man/wgpipe.8)"
pass "the page is for $version"

# section NAME: the lines of one section of the formatted page.
section()
{
	awk -v s="$1" '/^[A-Z]/ { on = ($0 == s); next } on' "$TMP/page"
}

# Option names at the start of --help lines: "-f, --foreground", "--batches".
help_flags()
{
	awk '$1 ~ /^-/ { sub(/,$/, "", $1); print $1
		if ($2 ~ /^--/) print $2 }' "$TMP/help" | sort -u
}

# Option names in the OPTIONS section's tags (indented 7, starting "-").
page_flags()
{
	section OPTIONS | awk '/^       -/ {
		for (i = 1; i <= NF; i++) if ($i ~ /^-/) { sub(/,$/, "", $i); print $i } }' |
		sort -u
}

help_flags >"$TMP/help.flags"
page_flags >"$TMP/page.flags"
[ -s "$TMP/help.flags" ] || fail "found no option in wgpipe --help"
missing=$(comm -23 "$TMP/help.flags" "$TMP/page.flags")
extra=$(comm -13 "$TMP/help.flags" "$TMP/page.flags")
[ -z "$missing" ] ||
	fail "options in --help but not in wgpipe(8) OPTIONS: $(echo "$missing" | tr '\n' ' ')"
[ -z "$extra" ] ||
	fail "options in wgpipe(8) OPTIONS but not in --help: $(echo "$extra" | tr '\n' ' ')"
pass "wgpipe(8) OPTIONS lists exactly the $(wc -l <"$TMP/help.flags") options of --help"

# "OPTION VALUE" pairs, "-" for an option without a value: in --help the
# word after an option when it is in capitals ("--batches N"), in the
# page's tags the word after it ("--batches n", set in italics).
help_values()
{
	awk '$1 ~ /^-/ { for (i = 1; i <= NF; i++) {
		t = $i; sub(/,$/, "", t); if (t !~ /^-/) break
		v = $(i + 1) ~ /^[A-Z][A-Z0-9_-]*$/ ? tolower($(i + 1)) : "-"
		print t, v } }' "$TMP/help" | sort -u
}
page_values()
{
	section OPTIONS | awk '/^       -/ { for (i = 1; i <= NF; i++) {
		t = $i; sub(/,$/, "", t); if (t !~ /^-/) break
		v = i < NF && $(i + 1) !~ /^-/ ? $(i + 1) : "-"
		print t, v } }' | sort -u
}
help_values >"$TMP/help.values"
page_values >"$TMP/page.values"
grep -q ' [a-z]' "$TMP/help.values" || fail "no option in --help shows a value"
differ=$(diff "$TMP/help.values" "$TMP/page.values") ||
	fail "option values differ, --help (<) and wgpipe(8) (>):"$'\n'"$differ"
n=$(grep -c ' [a-z]' "$TMP/help.values")
pass "--help and wgpipe(8) name the same value for each option ($n take one)"

# The usage lines of --help are the page's SYNOPSIS, but for case.
usage_lines() { awk 'NF { $1 = $1; print tolower($0) }'; }
sed -n '1,/^$/{s/^Usage://; p}' "$TMP/help" | usage_lines >"$TMP/help.usage"
section SYNOPSIS | usage_lines >"$TMP/page.usage"
[ -s "$TMP/help.usage" ] || fail "no usage lines at the top of --help"
differ=$(diff "$TMP/help.usage" "$TMP/page.usage") ||
	fail "usage differs, --help (<) and wgpipe(8) SYNOPSIS (>):"$'\n'"$differ"
pass "the usage of --help is the SYNOPSIS of wgpipe(8)"

# entry FLAG: the text of FLAG's entry in OPTIONS, on one line.
entry()
{
	section OPTIONS | awk -v f="$1" '
		/^       -/ { on = 0; for (i = 1; i <= NF; i++) { t = $i; sub(/,$/, "", t); if (t == f) on = 1 }; next }
		on' | tr -s ' \n' '  '
}

# check_range FLAG MIN MAX DEFAULT: FLAG's entry in wgpipe(8) gives the
# range --help gives, and its default if it names a number.
check_range()
{
	local text
	text=$(entry "$1")
	[[ $text == *"$2 to $3"* ]] ||
		fail "wgpipe(8) says of $1: '$text'; --help says $2 to $3"
	if [[ $text =~ default:?\ ([0-9]+) ]] && [ "${BASH_REMATCH[1]}" != "$4" ]; then
		fail "wgpipe(8) gives $1 the default ${BASH_REMATCH[1]}; --help says $4"
	fi
}

# --help: "--flag   text" then, on it or a later line,
# "(MIN to MAX, default D)".
n=0
flag=""
range='\(([0-9]+) to ([0-9]+), default ([0-9]+)\)'
while IFS= read -r line; do
	[[ $line =~ ^\ +(--[a-z0-9-]+) ]] && flag=${BASH_REMATCH[1]}
	[[ $line =~ ^\ +- && ! $line =~ ^\ +-- ]] && flag=""
	if [ -n "$flag" ] && [[ $line =~ $range ]]; then
		check_range "$flag" "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}" \
			"${BASH_REMATCH[3]}"
		n=$((n + 1))
		flag=""
	fi
done <"$TMP/help"
[ $n -gt 0 ] || fail "found no '(MIN to MAX, default D)' in wgpipe --help"
pass "wgpipe(8) gives the same ranges (and defaults) as --help for $n options"

# Environment variables named in --help have an ENVIRONMENT entry.
section ENVIRONMENT | awk '/^       [A-Z]/ { print $1 }' | sort -u >"$TMP/page.env"
while read -r var; do
	grep -qx "$var" "$TMP/page.env" ||
		fail "--help names $var, wgpipe(8) ENVIRONMENT does not"
done < <(grep -oE '\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b' "$TMP/help" | sort -u)
pass "every environment variable of --help is in wgpipe(8) ENVIRONMENT"
exit 0
