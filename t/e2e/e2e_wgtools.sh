#!/bin/bash
# SPDX-License-Identifier: MIT
#
# wg(8) against the daemon on host A ($WG_IMPL_A, default $WGPIPE), with
# a peer on host B ($WG_IMPL_B): wg show and its dump, showconf/setconf
# round trip, syncconf keeping the live session, peer removal,
# allowed-ips changes taking effect on live traffic in both directions,
# endpoint port 0 and v4-mapped endpoints, fwmark, a private key
# change, persistent keepalive, and a clean exit on SIGTERM.

. "$(dirname "$0")/netns.sh"

t_init
require_impl "$WG_IMPL_A" "$WG_IMPL_B"
t_watchdog 240
make_hosts
make_keys
say "A=$(impl_name "$WG_IMPL_A") B=$(impl_name "$WG_IMPL_B")"
pair_up "$WG_IMPL_A" "$WG_IMPL_B" init=both
IFA=${WGIF[A]}
check "ping A -> B over the tunnel" ping_ok A "${TUN4[B]}"

# --- wg show --------------------------------------------------------

show=$(wg_ A show "$IFA") || fail "wg show $IFA"
for want in "interface: $IFA" "public key: ${PUB[A]}" \
	"listening port: ${PORT[A]}" "peer: ${PUB[B]}" \
	"endpoint: ${UL4[B]}:${PORT[B]}" \
	"allowed ips: ${TUN4[B]}/32, ${TUN6[B]}/128" "latest handshake: " \
	"transfer: "; do
	grep -qF "$want" <<<"$show" ||
		fail "wg show $IFA lacks '$want':"$'\n'"$show"
done
pass "wg show: interface, keys, port, peer, endpoint, allowed ips, handshake, transfer"

dump=$(wg_ A show "$IFA" dump) || fail "wg show $IFA dump"
read -r d_priv d_pub d_port d_fwmark < <(head -n 1 <<<"$dump")
[ "$d_priv" = "$(cat "${KEY[A]}")" ] && [ "$d_pub" = "${PUB[A]}" ] &&
	[ "$d_port" = "${PORT[A]}" ] && [ "$d_fwmark" = off ] ||
	fail "wg show dump, interface line: $(head -n 1 <<<"$dump")"
read -r p_pub p_psk p_ep p_ips p_hs p_rx p_tx p_ka < <(sed -n 2p <<<"$dump")
[ "$p_pub" = "${PUB[B]}" ] && [ "$p_psk" = "(none)" ] &&
	[ "$p_ep" = "${UL4[B]}:${PORT[B]}" ] &&
	[ "$p_ips" = "${TUN4[B]}/32,${TUN6[B]}/128" ] && [ "$p_hs" -gt 0 ] &&
	[ "$p_rx" -gt 0 ] && [ "$p_tx" -gt 0 ] && [ "$p_ka" = off ] ||
	fail "wg show dump, peer line: $(sed -n 2p <<<"$dump")"
[ "$(wc -l <<<"$dump")" = 2 ] || fail "wg show dump: not 2 lines: $dump"
pass "wg show dump: private key, port, fwmark, peer, handshake, counters"

# --- showconf / setconf ---------------------------------------------

# Canonical form of a config: one sorted line per key, allowed IPs one
# per line, so that order within the daemon's answer does not matter.
norm_conf()
{
	awk '
	/^\[Interface\]/ { p = "interface"; next }
	/^\[Peer\]/ { p = ""; next }
	/^PublicKey = / { p = $3 }
	/ = / {
		k = $1; v = substr($0, index($0, " = ") + 3)
		if (k == "AllowedIPs") {
			n = split(v, a, ", *")
			for (i = 1; i <= n; i++) print p, k, a[i]
		} else print p, k, v
	}' "$1" | sort
}

# same_conf FILE: the daemon's showconf equals FILE, canonically.
same_conf()
{
	wg_ A showconf "$IFA" >"$T_TMP/now.conf" || fail "wg showconf $IFA"
	if ! diff <(norm_conf "$1") <(norm_conf "$T_TMP/now.conf") \
		>"$T_TMP/conf.diff"; then
		echo "# showconf differs from $(basename "$1"):" >&2
		sed 's/^/#   /' "$T_TMP/conf.diff" >&2
		return 1
	fi
}

C1=$T_TMP/c1.conf
wg_ A showconf "$IFA" >"$C1" || fail "wg showconf $IFA"
grep -q "^PrivateKey = $(cat "${KEY[A]}")\$" "$C1" &&
	grep -q "^ListenPort = ${PORT[A]}\$" "$C1" &&
	grep -q "^PublicKey = ${PUB[B]}\$" "$C1" ||
	fail "wg showconf lacks the key, port or peer: $(cat "$C1")"
wg_ A setconf "$IFA" "$C1" || fail "wg setconf $IFA with its own showconf"
check "showconf -> setconf -> showconf gives the same config" same_conf "$C1"
check "the tunnel works after setconf" ping_ok A "${TUN4[B]}"

# Change things, then setconf the saved config: it must all come back.
PUB_C=$(wg genkey | wg pubkey)
wg_ A set "$IFA" listen-port 51830 \
	peer "$PUB_C" allowed-ips 10.201.0.50/32 persistent-keepalive 25 \
	peer "${PUB[B]}" allowed-ips "${TUN4[B]}/32,${TUN6[B]}/128,10.9.0.0/16" ||
	fail "wg set (listen port, new peer, more allowed ips)"
! same_conf "$C1" 2>/dev/null ||
	fail "wg set changed nothing that showconf reports"
wg_ A show "$IFA" listen-port | grep -qx 51830 ||
	fail "listen port not changed to 51830"
wg_ A setconf "$IFA" "$C1" || fail "wg setconf $IFA $C1"
check "setconf restores port, peers and allowed ips" same_conf "$C1"
check "the tunnel works after restoring the config" ping_ok A "${TUN4[B]}"

# --- syncconf -------------------------------------------------------

hs0=$(latest_handshake A)
rx0=$(rx_bytes A)
C3=$T_TMP/c3.conf
sed "s|^AllowedIPs = .*|&, 10.9.0.0/16|" "$C1" >"$C3"
cat >>"$C3" <<EOF

[Peer]
PublicKey = $PUB_C
AllowedIPs = 10.201.0.60/32, fd00:201::60/128
EOF
wg_ A syncconf "$IFA" "$C3" || fail "wg syncconf $IFA (adding a peer)"
check "syncconf adds a peer and an allowed ip" same_conf "$C3"
check "the tunnel works right after syncconf" ping_ok A "${TUN4[B]}"
hs1=$(latest_handshake A)
rx1=$(rx_bytes A)
[ "$hs1" = "$hs0" ] && [ "$rx1" -gt "$rx0" ] ||
	fail "syncconf disturbed the live peer: handshake $hs0 -> $hs1," \
		"received bytes $rx0 -> $rx1"
pass "syncconf kept the live session (same handshake, counters kept)"
wg_ A syncconf "$IFA" "$C1" || fail "wg syncconf $IFA (removing a peer)"
check "syncconf removes the peer and the allowed ip again" same_conf "$C1"

# --- peer remove ----------------------------------------------------

wg_ A set "$IFA" peer "${PUB[B]}" remove || fail "wg set peer remove"
wg_ A show "$IFA" peers | grep -qF "${PUB[B]}" &&
	fail "peer B still listed after remove"
check "no traffic to a removed peer" ping_fails A "${TUN4[B]}"
wg_ A set "$IFA" peer "${PUB[B]}" endpoint "${UL4[B]}:${PORT[B]}" \
	allowed-ips "${TUN4[B]}/32,${TUN6[B]}/128" || fail "wg set: re-add peer"
check "peer removed and added back: ping works" ping_ok A "${TUN4[B]}"

# --- allowed ips on live traffic ------------------------------------

wg_ A set "$IFA" peer "${PUB[B]}" allowed-ips "${TUN6[B]}/128" ||
	fail "wg set allowed-ips (v6 only)"
check "without B's IPv4 in allowed ips, A cannot send to it" \
	ping_fails A "${TUN4[B]}"
check "without B's IPv4 in allowed ips, A drops B's packets from it" \
	ping_fails B "${TUN4[A]}"
check "IPv6 to B still works" ping_ok A "${TUN6[B]}"
wg_ A set "$IFA" peer "${PUB[B]}" allowed-ips "${TUN4[B]}/32,${TUN6[B]}/128" ||
	fail "wg set allowed-ips (back)"
check "allowed ip added back: A -> B works" ping_ok A "${TUN4[B]}"
check "allowed ip added back: B -> A works" ping_ok B "${TUN4[A]}"

# Removing one prefix with allowed_ip=-PREFIX on the UAPI socket: newer
# than the wireguard-go in Debian 12, so asked of the daemon under test
# only.
if is_wggo "$WG_IMPL_A"; then
	say "skipped: allowed_ip=-prefix (wireguard-go 0.0.20220316 lacks it)"
else
	UAPI=$(tool uapiclient) || exit 1
	hexpub=$(base64 -d <<<"${PUB[B]}" | od -An -v -tx1 | tr -d ' \n')
	uapi_set()
	{
		printf 'set=1\npublic_key=%s\nupdate_only=true\nallowed_ip=%s\n\n' \
			"$hexpub" "$1" | timeout 10 "$UAPI" "$UAPI_DIR/$IFA.sock"
	}
	ans=$(uapi_set "-${TUN4[B]}/32")
	grep -qx errno=0 <<<"$ans" || fail "allowed_ip=-prefix refused: $ans"
	wg_ A show "$IFA" allowed-ips | grep -qF "${TUN4[B]}/32" &&
		fail "allowed_ip=-${TUN4[B]}/32 did not remove it"
	check "allowed_ip=-prefix: A cannot send to B's IPv4" \
		ping_fails A "${TUN4[B]}"
	check "allowed_ip=-prefix: IPv6 still works" ping_ok A "${TUN6[B]}"
	ans=$(uapi_set "${TUN4[B]}/32")
	grep -qx errno=0 <<<"$ans" || fail "allowed_ip= (add back) refused: $ans"
	check "allowed_ip added back on the socket: A -> B works" \
		ping_ok A "${TUN4[B]}"
fi

# --- endpoint text --------------------------------------------------

# Port 0 is taken, as the kernel module and wireguard-go take it (nothing
# can be sent to it); a v4-mapped endpoint is kept and shown as given,
# as there, and wgpipe sends to it over IPv4.
endpoint_reads()
{
	local got
	got=$(wg_ A show "$IFA" endpoints |
		awk -v p="${PUB[B]}" '$1 == p { print $2 }')
	[ "$got" = "$1" ] || fail "endpoint set as $1 reads '$got'"
}
wg_ A set "$IFA" peer "${PUB[B]}" endpoint "${UL4[B]}:0" ||
	fail "wg set endpoint ${UL4[B]}:0"
endpoint_reads "${UL4[B]}:0"
check "endpoint port 0: no traffic, and the daemon lives on" \
	ping_fails A "${TUN4[B]}"
mapped="[::ffff:${UL4[B]}]:${PORT[B]}"
wg_ A set "$IFA" peer "${PUB[B]}" endpoint "$mapped" ||
	fail "wg set endpoint $mapped"
endpoint_reads "$mapped"
pass "endpoints with port 0 and v4-mapped read back as set"
if is_wggo "$WG_IMPL_A"; then
	say "skipped: traffic to $mapped (wireguard-go sends it from an" \
		"IPv6-only socket)"
else
	check "v4-mapped endpoint: A -> B works" ping_ok A "${TUN4[B]}"
fi
wg_ A set "$IFA" peer "${PUB[B]}" endpoint "${UL4[B]}:${PORT[B]}" ||
	fail "wg set endpoint ${UL4[B]}:${PORT[B]} (back)"
check "endpoint set back: A -> B works" ping_ok A "${TUN4[B]}"

# --- fwmark, private key, keepalive ----------------------------------

wg_ A set "$IFA" fwmark 0x1234 || fail "wg set fwmark"
[ "$(wg_ A show "$IFA" fwmark)" = 0x1234 ] ||
	fail "fwmark reads '$(wg_ A show "$IFA" fwmark)', not 0x1234"
wg_ A set "$IFA" fwmark 0 || fail "wg set fwmark 0"
[ "$(wg_ A show "$IFA" fwmark)" = off ] || fail "fwmark 0 does not read off"
pass "fwmark set, read back, cleared"

(umask 077 && wg genkey >"$T_TMP/other.key")
wg_ A set "$IFA" private-key "$T_TMP/other.key" || fail "wg set private-key"
[ "$(wg_ A show "$IFA" public-key)" = "$(wg pubkey <"$T_TMP/other.key")" ] ||
	fail "public key does not follow a new private key"
check "with a key B does not know, A cannot reach B" ping_fails A "${TUN4[B]}"
wg_ A set "$IFA" private-key "${KEY[A]}" || fail "wg set private-key (back)"
[ "$(wg_ A show "$IFA" public-key)" = "${PUB[A]}" ] ||
	fail "public key not restored"
check "private key changed and restored: ping works" ping_ok A "${TUN4[B]}"

wg_ A set "$IFA" peer "${PUB[B]}" persistent-keepalive 1 ||
	fail "wg set persistent-keepalive"
wg_ A show "$IFA" | grep -q "persistent keepalive: every 1 second" ||
	fail "wg show does not report the keepalive"
# Three keepalives (32 bytes each, nothing else flows) must reach B; at
# one a second they take 3 s (4 at most), but a busy machine may delay
# them: polled up to twice that (times T_SCALE); the time is reported.
r0=$(rx_bytes B)
t0=$(date +%s%N)
limit=$((8 * T_SCALE))
while :; do
	r1=$(rx_bytes B)
	took=$((($(date +%s%N) - t0) / 1000000))
	[ $((r1 - r0)) -lt 96 ] && [ $took -lt $((limit * 1000)) ] || break
	sleep 0.1
done
[ $((r1 - r0)) -ge 96 ] ||
	fail "persistent keepalive 1 s: B received $((r1 - r0)) bytes in" \
		"$limit s, not the 96 of three keepalives"
wg_ A set "$IFA" peer "${PUB[B]}" persistent-keepalive off ||
	fail "wg set persistent-keepalive off"
pass "persistent keepalive: B received $((r1 - r0)) bytes of keepalives" \
	"in $took ms"

# --- shutdown -------------------------------------------------------

daemon_stop A
ip -n "${NS[A]}" link show "$IFA" >/dev/null 2>&1 &&
	fail "interface $IFA still exists after SIGTERM"
[ -e "$UAPI_DIR/$IFA.sock" ] &&
	fail "socket $UAPI_DIR/$IFA.sock left behind after SIGTERM"
pass "SIGTERM: daemon gone within 5 s, interface and socket removed"
daemon_stop B
exit 0
