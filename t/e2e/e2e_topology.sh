#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Topologies real deployments use, each with wgpipe on both sides and
# again with wireguard-go on the other side where it supports the case:
#
# 1. Roaming by port: B's listen port changes in the middle of a TCP
#    transfer B -> A; the transfer completes with equal checksums, A's
#    endpoint for B shows the new port, and ping works both ways. (A new
#    underlay address is e2e_roaming's; the sticky source address that
#    lets go of a deleted address is e2e_sticky's and e2e_roaming's.)
# 2. Cryptokey routing: A routes B's whole /24 to B, and B also sends from
#    a second tunnel address. A new peer C on A with that address as a
#    more specific allowed IP takes it away from B: B's packets from it
#    fail A's source check (counted in drop_source on wgpipe) while B's
#    first address still works; once C is removed, they pass again.
# 3. NAT: B sits behind a router that masquerades it, whose conntrack UDP
#    timeouts are 2 s. B has persistent keepalive 1; A knows no endpoint
#    for B and learns the translated one. After 3 s of silence A can
#    still reach B. With the keepalive off, the same silence closes the
#    mapping and A cannot (the control that shows the keepalive is what
#    kept it open); a packet from B opens it again.
# 4. UAPI answers larger than one read: one peer with 120,000 allowed IPs
#    (60,000 IPv4 /32 and 60,000 IPv6 /128) set by one wg setconf and
#    listed whole, and equal, by wg show allowed-ips; then 40 peers with
#    50 prefixes each, likewise.

. "$(dirname "$0")/netns.sh"

t_init
require_impl "$WG_IMPL_A" "$WG_IMPL_B"
t_watchdog 600
require_cmd nft nftables
WGGO=${E2E_TOPOLOGY_WGGO:-1}
is_wggo "$WG_IMPL_A" || is_wggo "$WG_IMPL_B" && WGGO=0
[ "$WGGO" = 0 ] || require_impl "$WIREGUARD_GO"
make_hosts
make_keys

# ---------------------------------------------------------------- 1.
roam_port()
{
	local impl_b=$1 port seed spid ep gap
	say "---- 1. B ($(impl_name "$impl_b")) changes its listen port mid-transfer"
	pair_up "$WG_IMPL_A" "$impl_b" init=B
	ping_ok B "${TUN4[A]}" || fail "no ping B -> A"
	T_XPORT=$((T_XPORT + 1))
	port=$T_XPORT
	seed=$RANDOM
	xfer_recv_start A "$port" "$T_TMP/port.recv" -i 20 -s "$seed"
	ip netns exec "${NS[B]}" "$XFER" send -r 20000000 -t 6 \
		"${TUN4[A]}" "$port" 0 "$seed" >"$T_TMP/port.send" 2>&1 &
	spid=$!
	track $spid
	sleep 2
	wg_ B set "${WGIF[B]}" listen-port 51899 || fail "wg set listen-port on B"
	wait_pid $spid 60 || fail "xfer send: $(cat "$T_TMP/port.send")"
	wait_pid "$XFER_RECV_PID" 30 || fail "xfer recv: $(cat "$T_TMP/port.recv")"
	[ "$(awk '/^sent/ { print $2, $4 }' "$T_TMP/port.send")" = \
		"$(awk '/^received/ { print $2, $4 }' "$T_TMP/port.recv")" ] ||
		fail "transfer across the port change: $(cat "$T_TMP/port.send" "$T_TMP/port.recv")"
	gap=$(awk '/^received/ { print $6 }' "$T_TMP/port.recv")
	ep=$(wg_ A show "${WGIF[A]}" endpoints | awk '{ print $2 }')
	[ "$ep" = "${UL4[B]}:51899" ] || fail "A's endpoint for B is $ep, not ${UL4[B]}:51899"
	ping_ok A "${TUN4[B]}" && ping_ok B "${TUN6[A]}" ||
		fail "no ping after B's port change"
	pass "B=$(impl_name "$impl_b"): transfer across B's port change complete" \
		"(longest pause $gap ms); A follows to $ep; ping both ways"
	pair_down
}
roam_port "$WG_IMPL_B"
[ "$WGGO" = 0 ] || roam_port "$WIREGUARD_GO"

# ---------------------------------------------------------------- 2.
SECOND=10.201.0.99
ping_from() { ping_ok_src B "$1" "${TUN4[A]}"; }
ping_ok_src()
{
	timeout -k 2 15 ip netns exec "${NS[$1]}" \
		ping -n -q -c 3 -i 0.2 -w 5 -I "$2" "$3" >/dev/null 2>&1
}

cryptokey()
{
	local impl_a=$1 keyc pubc before after
	say "---- 2. cryptokey routing, A=$(impl_name "$impl_a")"
	pair_up "$impl_a" "$WG_IMPL_B"
	wg_ A set "${WGIF[A]}" peer "${PUB[B]}" allowed-ips "10.201.0.0/24,${TUN6[B]}/128" ||
		fail "cannot give B the whole /24 on A"
	ip -n "${NS[B]}" addr add "$SECOND/32" dev "${WGIF[B]}" &&
		wg_ B set "${WGIF[B]}" peer "${PUB[A]}" allowed-ips "${TUN4[A]}/32,${TUN6[A]}/128" ||
		fail "cannot add $SECOND on B"
	ping_from "$SECOND" || fail "no ping from B's $SECOND before C exists"
	keyc=$(wg genkey)
	pubc=$(wg pubkey <<<"$keyc")
	is_wggo "$impl_a" || before=$(counters A drop_source)
	wg_ A set "${WGIF[A]}" peer "$pubc" allowed-ips "$SECOND/32" ||
		fail "cannot add peer C on A"
	ping_from "$SECOND" && fail "B's $SECOND still reaches A after C took it"
	ping_from "${TUN4[B]}" || fail "B's ${TUN4[B]} no longer reaches A"
	if ! is_wggo "$impl_a"; then
		after=$(counters A drop_source)
		[ $((after - before)) -ge 1 ] ||
			fail "A's drop_source went from $before to $after"
	fi
	wg_ A set "${WGIF[A]}" peer "$pubc" remove || fail "cannot remove peer C"
	ping_from "$SECOND" || fail "B's $SECOND does not reach A again after C left"
	pass "A=$(impl_name "$impl_a"): a more specific allowed IP on a new peer" \
		"takes $SECOND from B (source check${after:+, drop_source +$((after - before))})," \
		"B's other address unharmed; back once the peer is removed"
	pair_down
}
cryptokey "$WG_IMPL_A"
[ "$WGGO" = 0 ] || cryptokey "$WIREGUARD_GO"

# ---------------------------------------------------------------- 3.
# A stays on its underlay (10.200.0.1); B moves behind router R:
# B ul0 10.202.0.2 -- R 10.202.0.254 | R 10.200.0.254 -- A's veth side.
nat_hosts()
{
	NS[R]="wgp-$T_NAME-$$-r"
	ip netns add "${NS[R]}" || fail "ip netns add ${NS[R]}"
	ip -n "${NS[R]}" link set lo up
	# B's link to A becomes R's link to A; B gets a new link to R.
	ip -n "${NS[B]}" link set ul0 netns "${NS[R]}" &&
		ip -n "${NS[R]}" addr flush dev ul0 &&
		ip -n "${NS[R]}" addr add 10.200.0.254/24 dev ul0 &&
		ip -n "${NS[R]}" link set ul0 up &&
		ip link add nat0 netns "${NS[R]}" type veth peer name ul0 netns "${NS[B]}" &&
		ip -n "${NS[R]}" addr add 10.202.0.254/24 dev nat0 &&
		ip -n "${NS[R]}" link set nat0 up &&
		ip -n "${NS[B]}" addr add 10.202.0.2/24 dev ul0 &&
		ip -n "${NS[B]}" link set ul0 up &&
		ip -n "${NS[B]}" route add default via 10.202.0.254 ||
		fail "cannot build the NAT topology"
	ip netns exec "${NS[R]}" sysctl -q -w net.ipv4.ip_forward=1 \
		net.netfilter.nf_conntrack_udp_timeout=2 \
		net.netfilter.nf_conntrack_udp_timeout_stream=2 ||
		fail "cannot set R's forwarding and conntrack timeouts"
	ip netns exec "${NS[R]}" nft -f - <<-'EOF' || fail "cannot set up masquerading on R"
		table ip nat {
			chain post {
				type nat hook postrouting priority srcnat;
				oifname "ul0" masquerade
			}
		}
	EOF
	timeout 10 ip netns exec "${NS[B]}" ping -q -n -c 1 -w 10 "${UL4[A]}" >/dev/null ||
		fail "B cannot reach A through R"
}

nat()
{
	local impl_b=$1 ep
	say "---- 3. B ($(impl_name "$impl_b")) behind NAT, conntrack UDP timeouts 2 s"
	PORT[A]=51820
	PORT[B]=51821
	daemon_start A "$WG_IMPL_A"
	daemon_start B "$impl_b"
	configure A B none no
	wg_ B set "${WGIF[B]}" private-key "${KEY[B]}" listen-port 51821 \
		peer "${PUB[A]}" allowed-ips "${TUN4[A]}/32,${TUN6[A]}/128" \
		endpoint "${UL4[A]}:51820" persistent-keepalive 1 ||
		fail "wg set on B"
	ip -n "${NS[B]}" addr add "${TUN4[B]}/24" dev "${WGIF[B]}" &&
		ip -n "${NS[B]}" link set "${WGIF[B]}" up || fail "cannot raise B's tunnel"
	ping_ok B "${TUN4[A]}" || fail "no ping B -> A through the NAT"
	ep=$(wg_ A show "${WGIF[A]}" endpoints | awk '{ print $2 }')
	[[ $ep == 10.200.0.254:* ]] || fail "A's endpoint for B is $ep, not R's address"
	sleep 3
	ping_ok A "${TUN4[B]}" ||
		fail "A cannot reach B after 3 s of silence with keepalive 1"
	pass "B=$(impl_name "$impl_b"): A learns B's translated endpoint ($ep)" \
		"and reaches B after 3 s of silence: the keepalive holds the mapping"
	wg_ B set "${WGIF[B]}" peer "${PUB[A]}" persistent-keepalive off ||
		fail "cannot turn B's keepalive off"
	sleep 3.5
	ping_fails A "${TUN4[B]}" ||
		fail "A reached B after 3.5 s of silence without the keepalive:" \
			"the NAT mapping did not expire, so the test above proves nothing"
	ping_ok B "${TUN4[A]}" && ping_ok A "${TUN4[B]}" ||
		fail "no ping once B opened the mapping again"
	pass "without the keepalive the mapping expires (A cannot reach B), and" \
		"B's next packet opens it again"
	pair_down
}
nat_hosts
nat "$WG_IMPL_B"
[ "$WGGO" = 0 ] || nat "$WIREGUARD_GO"

# ---------------------------------------------------------------- 4.
say "---- 4. UAPI answers larger than one read"
PORT[A]=51820
daemon_start A "$WG_IMPL_A"
conf="$T_TMP/big.conf"
want="$T_TMP/big.want"
{
	echo "[Interface]"
	echo "PrivateKey = $(cat "${KEY[A]}")"
	echo "[Peer]"
	echo "PublicKey = ${PUB[B]}"
	awk 'BEGIN {
		for (i = 0; i < 60000; i++)
			printf "AllowedIPs = 10.%d.%d.%d/32\n", 64 + int(i / 65536),
				int(i / 256) % 256, i % 256
		for (i = 0; i < 60000; i++)
			printf "AllowedIPs = fd00:64::%x:%x/128\n", int(i / 65536) + 1, i % 65536
	}'
} >"$conf"
grep '^AllowedIPs' "$conf" | awk '{ print $3 }' | sort >"$want"
t0=$(date +%s%N)
timeout 120 ip netns exec "${NS[A]}" wg setconf "${WGIF[A]}" "$conf" ||
	fail "wg setconf of one peer with 120,000 allowed IPs failed"
t1=$(date +%s%N)
timeout 120 ip netns exec "${NS[A]}" wg show "${WGIF[A]}" allowed-ips |
	awk '{ for (i = 2; i <= NF; i++) print $i }' | sort >"$T_TMP/big.got" ||
	fail "wg show allowed-ips failed"
n=$(wc -l <"$T_TMP/big.got")
cmp -s "$want" "$T_TMP/big.got" ||
	fail "wg show allowed-ips lists $n prefixes, not the 120,000 set" \
		"($(diff "$want" "$T_TMP/big.got" | head -n 4 | tr '\n' ' '))"
pass "one peer, 120,000 allowed IPs: set in $(((t1 - t0) / 1000000)) ms by one" \
	"setconf, listed whole and equal by wg show allowed-ips"

conf="$T_TMP/many.conf"
{
	echo "[Interface]"
	echo "PrivateKey = $(cat "${KEY[A]}")"
	for ((p = 0; p < 40; p++)); do
		echo "[Peer]"
		echo "PublicKey = $(wg genkey | wg pubkey)"
		for ((k = 0; k < 25; k++)); do
			echo "AllowedIPs = 10.$((100 + p)).$k.0/24"
			# As wg(8) prints it: hex, and no :0: group.
			if [ $k = 0 ]; then
				printf 'AllowedIPs = fd00:%x::/48\n' $((100 + p))
			else
				printf 'AllowedIPs = fd00:%x:%x::/48\n' $((100 + p)) $k
			fi
		done
	done
} >"$conf"
awk '/^PublicKey/ { pk = $3 } /^AllowedIPs/ { print pk, $3 }' "$conf" |
	sort >"$want"
timeout 60 ip netns exec "${NS[A]}" wg setconf "${WGIF[A]}" "$conf" ||
	fail "wg setconf of 40 peers with 50 prefixes each failed"
timeout 60 ip netns exec "${NS[A]}" wg show "${WGIF[A]}" allowed-ips |
	awk '{ for (i = 2; i <= NF; i++) print $1, $i }' | sort >"$T_TMP/many.got"
cmp -s "$want" "$T_TMP/many.got" ||
	fail "40 peers x 50 prefixes: wg show lists $(wc -l <"$T_TMP/many.got")" \
		"pairs, not the 2,000 set"
pass "40 peers with 50 prefixes each: listed whole and equal, each under" \
	"its peer"
daemon_stop A
exit 0
