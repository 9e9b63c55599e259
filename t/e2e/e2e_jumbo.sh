#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Jumbo frames and every MTU up to WireGuard's largest tunnel packet.
#
# 1. Underlay MTU 9000, tunnel MTU 8920, raised from the default while
#    the daemons run: a ping of the whole new MTU gets through at its
#    first try. TCP both ways (the kernel hands over TSO super-packets
#    cut at an MSS near 8.9 KB; the receiver's TUN writes coalesce
#    them), and UDP both ways in UDP_SEGMENT runs of jumbo datagrams,
#    every datagram checked for length and payload. The counters must
#    show what carried it: more than one packet per TUN read on the
#    sender, more than one per TUN write on the receiver, more than one
#    datagram per UDP send and per UDP receive (UDP_SEGMENT and UDP_GRO
#    runs of jumbo datagrams).
# 2. The tunnel MTU lowered to 1420 and raised to 65475 (the largest whose
#    packets a UDP datagram over IPv4 carries) over the same underlay:
#    pings of the whole MTU, at once, and TCP. Then 65503 (wireguard-go's
#    limit): packets that still fit a datagram pass; larger ones are
#    counted in drop_too_big, and the log said why when the MTU changed.
# 3. Underlay MTU 1500 under a tunnel MTU of 8920: the datagrams are
#    fragmented by the kernel, as the kernel module's and wireguard-go's
#    are; ping, TCP and UDP both ways.
# 4. wgpipe and wireguard-go at 8920 over 9000 (when B is wgpipe): ping
#    and TCP both ways.
# 5. What cannot be carried: with --batch-size 8 a batch holds 16 KiB,
#    so a 30,000-byte tunnel packet is dropped, counted in drop_too_big
#    and said once in the log, however often it comes.

. "$(dirname "$0")/netns.sh"

t_init
require_impl "$WG_IMPL_A" "$WG_IMPL_B"
t_watchdog 400
UDPSEQ=$(tool udpseq) || exit 1
: "${E2E_JUMBO_BYTES:=100000000}"
make_hosts
make_keys

# set_mtu WHAT MTU: WHAT is ul (the veth) or tun (the tunnel), both sides.
set_mtu()
{
	local s dev
	for s in A B; do
		if [ "$1" = ul ]; then dev=ul0; else dev=${WGIF[$s]}; fi
		ip -n "${NS[$s]}" link set "$dev" mtu "$2" ||
			fail "cannot set the MTU of $dev on $s to $2"
	done
}

# ping_size FROM ADDR SIZE [COUNT]: COUNT (3) echo replies of SIZE bytes.
ping_size()
{
	local n=${4:-3}
	timeout -k 2 15 ip netns exec "${NS[$1]}" \
		ping -n -q -c "$n" -i 0.2 -w 10 -s "$3" "$2" >/dev/null 2>&1
}

# ratio SIDE NUM DEN: counter NUM / counter DEN (one wgpipe show), two
# decimals; "unreadable" when show did not give both.
ratio()
{
	counters "$1" "$2" "$3" | awk '
		NR == 1 && NF == 2 { printf "%.2f", $2 ? $1 / $2 : 0; ok = 1 }
		END { if (!ok) printf "unreadable" }'
}

# at_least LABEL VALUE MIN: VALUE a number, at least MIN.
at_least()
{
	awk -v v="$2" -v m="$3" \
		'BEGIN { exit !(v ~ /^[0-9]+(\.[0-9]+)?$/ && v + 0 >= m + 0) }' ||
		fail "$1 is '$2', not at least $3"
}

# udp_check FROM TO ADDR SIZE SEGS: 1000 datagrams of SIZE bytes, SEGS
# per UDP_SEGMENT send; every one arrives, with its length and payload.
udp_check()
{
	local from=$1 to=$2 addr=$3 size=$4 segs=$5 port out_r out_s rpid
	T_XPORT=$((T_XPORT + 1))
	port=$T_XPORT
	out_r="$T_TMP/udp-$port.recv"
	out_s="$T_TMP/udp-$port.send"
	udpseq_recv_start "$to" "$out_r" -l "$size" "$port" 1000 3000
	rpid=$UDPSEQ_RECV_PID
	timeout -k 2 60 ip netns exec "${NS[$from]}" "$UDPSEQ" send -r 2000 \
		-b 8 -g "$segs" "$addr" "$port" 1000 "$size" >"$out_s" 2>&1 ||
		fail "udpseq send $from -> $to: $(cat "$out_s")"
	wait_pid $rpid 20 || fail "udpseq recv on $to: $(cat "$out_r")"
	grep -q '^received 1000 .* lost 0 malformed 0$' "$out_r" ||
		fail "$from -> $to, $size-byte datagrams: $(cat "$out_r")"
}

# tcp_both LABEL BYTES
tcp_both()
{
	xfer_check A B "${TUN4[B]}" "$2"
	xfer_check B A "${TUN6[A]}" "$2"
	pass "$1: TCP both ways, $2 bytes each, checksums equal"
}

say "---- 1. underlay MTU 9000, tunnel MTU 8920, raised while running"
pair_up "$WG_IMPL_A" "$WG_IMPL_B"
set_mtu ul 9000
ping_ok A "${TUN4[B]}" || fail "no ping at the default MTU"
set_mtu tun 8920
ping_size A "${TUN4[B]}" 8892 1 ||
	fail "the first ping of 8892 bytes after raising the MTU to 8920 failed"
ping_size B "${TUN6[A]}" 8872 ||
	fail "no ping of 8872 bytes (IPv6, the whole MTU) B -> A"
pass "MTU raised to 8920: a ping of the whole MTU passes at its first try," \
	"both ways"
tcp_both "MTU 8920" "$E2E_JUMBO_BYTES"
udp_check A B "${TUN4[B]}" 8892 4
udp_check B A "${TUN4[A]}" 8892 4
pass "MTU 8920: UDP both ways, 1000 datagrams of 8892 bytes each way" \
	"(UDP_SEGMENT runs of 4), every one checked"
if ! is_wggo "$WG_IMPL_B"; then
	r_cut=$(ratio A tun_rx_packets tun_rx_reads)
	r_gro=$(ratio B tun_tx_packets tun_tx_writes)
	r_gso=$(ratio A udp_tx_packets udp_tx_sends)
	r_udpgro=$(ratio B udp_rx_packets udp_rx_reads)
	say "packets per TUN read on A $r_cut, per TUN write on B $r_gro;" \
		"datagrams per UDP send on A $r_gso, per UDP receive on B $r_udpgro"
	at_least "A's packets per TUN read (super-packets cut)" "$r_cut" 1.5
	at_least "B's packets per TUN write (GRO)" "$r_gro" 1.5
	at_least "A's datagrams per UDP send (UDP_SEGMENT runs)" "$r_gso" 1.2
	at_least "B's datagrams per UDP receive (UDP_GRO runs)" "$r_udpgro" 1.2
	pass "MTU 8920: super-packets cut, TUN writes coalesced, UDP_SEGMENT and" \
		"UDP_GRO runs of jumbo datagrams"
fi

say "---- 2. lowered to 1420, raised to 65475 and to 65503, while running"
set_mtu tun 1420
ping_size A "${TUN4[B]}" 1392 1 || fail "no ping of 1392 bytes at MTU 1420"
set_mtu tun 65475
ping_size A "${TUN4[B]}" 65447 1 ||
	fail "the first ping of 65447 bytes after raising the MTU to 65475 failed"
ping_size B "${TUN4[A]}" 65447 || fail "no ping of 65447 bytes B -> A"
pass "MTU lowered to 1420, then raised to 65475 (the largest an IPv4" \
	"underlay carries): pings of the whole MTU at once"
tcp_both "MTU 65475" $((E2E_JUMBO_BYTES / 4))
if ! is_wggo "$WG_IMPL_A"; then
	# 65503 is wireguard-go's limit; over IPv4 a UDP datagram carries
	# WireGuard messages of 65507 bytes, tunnel packets of 65475.
	set_mtu tun 65503
	ping_size A "${TUN4[B]}" 65444 1 ||
		fail "no ping of 65444 bytes (65472, padded to 65472) at MTU 65503"
	before=$(counters A drop_too_big)
	ping_size A "${TUN4[B]}" 65475 2 &&
		fail "a 65503-byte tunnel packet passed an IPv4 underlay"
	after=$(counters A drop_too_big)
	[ $((after - before)) -ge 2 ] ||
		fail "2 pings too large for a UDP datagram: drop_too_big" \
			"went from $before to $after"
	grep -q "UDP datagram carries tunnel packets of at most 65475 bytes" \
		"$T_TMP/daemon-${WGIF[A]}.log" ||
		fail "A did not say that MTU 65503 exceeds what UDP carries"
	pass "MTU 65503: packets up to 65472 bytes pass; larger ones are" \
		"counted in drop_too_big, and the log says why"
fi
pair_down

say "---- 3. underlay MTU 1500 under a tunnel MTU of 8920 (fragmented)"
pair_up "$WG_IMPL_A" "$WG_IMPL_B"
set_mtu ul 1500
set_mtu tun 8920
ping_size A "${TUN4[B]}" 8892 && ping_size B "${TUN6[A]}" 8872 ||
	fail "no ping of the whole MTU over the smaller underlay"
tcp_both "MTU 8920 over 1500" $((E2E_JUMBO_BYTES / 4))
udp_check A B "${TUN4[B]}" 8000 1
udp_check B A "${TUN4[A]}" 8000 1
pass "MTU 8920 over 1500: ping, and UDP both ways, 1000 datagrams of 8000" \
	"bytes each way, every one checked"
pair_down

if ! is_wggo "$WG_IMPL_B" && [ "${E2E_JUMBO_WGGO:-1}" = 1 ]; then
	require_impl "$WIREGUARD_GO"
	say "---- 4. wgpipe and $(impl_name "$WIREGUARD_GO") at 8920 over 9000"
	pair_up "$WG_IMPL_A" "$WIREGUARD_GO"
	set_mtu ul 9000
	set_mtu tun 8920
	ping_size A "${TUN4[B]}" 8892 && ping_size B "${TUN4[A]}" 8892 ||
		fail "no ping of the whole MTU with wireguard-go"
	tcp_both "MTU 8920 with wireguard-go" $((E2E_JUMBO_BYTES / 4))
	pair_down
fi

if ! is_wggo "$WG_IMPL_A"; then
	say "---- 5. a tunnel packet larger than a batch holds"
	pair_up "$WG_IMPL_A" "$WG_IMPL_B" flagsA="--batch-size 8"
	set_mtu ul 9000
	set_mtu tun 34736
	ping_ok A "${TUN4[B]}" || fail "no ping with --batch-size 8"
	ping_size A "${TUN4[B]}" 30000 3 && fail "a 30,000-byte ping passed A's 16 KiB batches"
	drops=$(counters A drop_too_big)
	[ "${drops:-0}" -ge 3 ] ||
		fail "3 pings too big for a batch, drop_too_big is ${drops:-none}"
	said=$(grep -c "drop_too_big" "$T_TMP/daemon-${WGIF[A]}.log")
	[ "$said" = 1 ] || fail "the drop was said $said times in the log, not once"
	pass "packets larger than a batch: counted ($drops in drop_too_big)" \
		"and said once in the log"
	ping_size A "${TUN4[B]}" 8000 || fail "no ping of 8000 bytes with --batch-size 8"
	pair_down
fi
exit 0
