#!/bin/bash
# SPDX-License-Identifier: MIT
#
# No part of a key in a UAPI error or a log line. A daemon logging at
# the verbose level gets set requests whose every key-bearing field
# (private_key, public_key, preshared_key) is malformed in every way the
# parser tells apart: run together with its name, one digit too long or
# too short, a non-hex digit, the value twice over; the key in a number
# field, an endpoint, an allowed IP, a bare line and under an unknown
# name; and a config line sent without "set=1" first. Each must be
# refused (errno=N, N != 0), the log must say so (one error per
# request), and neither the replies nor the log may hold any 8
# consecutive characters of the key. The search is first shown to find
# such a window where one was planted.

. "$(dirname "$0")/netns.sh"

t_init
require_impl "$WGPIPE"
t_watchdog 120
UAPI=$(tool uapiclient) || exit 1
make_hosts
make_keys
PORT[A]=51820
E2E_LOG_LEVEL=verbose daemon_start A "$WGPIPE"
log="$T_TMP/daemon-${WGIF[A]}.log"
sock="$UAPI_DIR/${WGIF[A]}.sock"
key=$(wg genkey | base64 -d | od -An -v -tx1 | tr -d ' \n')
peer=$(wg pubkey <"${KEY[B]}" | base64 -d | od -An -v -tx1 | tr -d ' \n')
[ ${#key} = 64 ] || fail "no hex key"
replies="$T_TMP/replies"
: >"$replies"

# windows FILE: the first 8-character window of the key found in FILE.
windows()
{
	local i
	for ((i = 0; i + 8 <= ${#key}; i++)); do
		if grep -qF "${key:i:8}" "$1"; then
			echo "${key:i:8}"
			return 0
		fi
	done
	return 1
}

printf 'control %s\n' "${key:20:12}" >"$T_TMP/control"
[ "$(windows "$T_TMP/control")" = "${key:20:8}" ] ||
	fail "the search misses a planted window: it proves nothing"
pass "the search finds a planted 8-character window of the key"

# ask REQUEST: sends it raw; the reply must refuse it.
n=0
ask()
{
	local ans
	ans=$(printf '%b' "$1" | timeout -k 1 10 "$UAPI" "$sock")
	printf '%s\n' "$ans" >>"$replies"
	grep -Eq '^errno=-?[1-9][0-9]*$' <<<"$ans" ||
		fail "request $((n + 1)) was not refused: '$(tr '\n' '|' <<<"$ans")'"
	n=$((n + 1))
}

for field in private_key public_key preshared_key; do
	pre=""
	[ $field = private_key ] || pre="public_key=$peer\n"
	for line in "$field$key=1" "$field=${key}0" "$field=${key:0:63}" \
		"$field=g${key:1}" "$field=$key$key" "listen_port=$key" \
		"endpoint=$key:1" "allowed_ip=$key/32" "$key" "x$field=$key"; do
		ask "set=1\n$pre$line\n\n"
	done
done
ask "private_key=$key\n\n"
ask "$key\n\n"
sleep 0.5
errors=$(grep -c "ERROR" "$log")
[ "$errors" -ge $n ] ||
	fail "$n refused requests, but only $errors errors in the log"
pass "$n malformed requests refused, each logged as an error"
if w=$(windows "$log"); then
	fail "the log holds '$w' of the key: $(grep -F "$w" "$log" | head -n 2)"
fi
if w=$(windows "$replies"); then
	fail "a reply holds '$w' of the key"
fi
pass "neither the verbose log ($(wc -l <"$log") lines) nor the replies" \
	"hold 8 consecutive characters of the key"
daemon_stop A
exit 0
