#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The container pattern (wg(8)'s "network namespace integration"): both
# daemons start in one namespace D, where their UDP sockets stay and
# talk over loopback, and their interfaces are then moved into two
# others, A and B, the containers, with ip link set IF netns NS.
#
# For each underlay (127.0.0.1 and ::1) and each tunnel MTU (1420, and
# E2E_NETNS_BIG_MTU, default 34736, set in the containers after the
# move), checked:
# - both daemons keep running after the move;
# - ping both ways, a checksummed TCP transfer both ways, and UDP
#   datagrams both ways, every one of them back with its length and
#   payload (udpseq);
# - an MTU change made in the container is followed by the daemon
#   (its log says the new MTU, and pings of the new size pass).
# Then, once: interface A is moved back to D and into A again, three
# times, and still carries traffic; and deleting it inside its container
# (ip -n A link del) ends its daemon with status 0 and removes its UAPI
# socket, while B's daemon, whose interface is still there, runs on.
#
# Then the same with wireguard-go as B (IPv4 at MTU 1420, IPv6 at the
# large MTU; E2E_NETNS_WGGO=0 leaves it out). UDP goes in bursts of 4:
# Debian's wireguard-go drops bursts of large datagrams at its socket.

. "$(dirname "$0")/netns.sh"

t_init
require_impl "$WG_IMPL_A" "$WG_IMPL_B"
t_watchdog 400
: "${E2E_NETNS_BIG_MTU:=34736}"
UDPSEQ=$(tool udpseq) || exit 1

NS[D]="wgp-$T_NAME-$$-d"
NS[A]="wgp-$T_NAME-$$-a"
NS[B]="wgp-$T_NAME-$$-b"
for s in D A B; do
	ip netns add "${NS[$s]}" || fail "ip netns add ${NS[$s]}"
	ip -n "${NS[$s]}" link set lo up
done
make_keys
say "daemons in ${NS[D]}, interfaces moved to ${NS[A]} and ${NS[B]};" \
	"A=$(impl_name "$WG_IMPL_A") B=$(impl_name "$WG_IMPL_B")"

# start_moved SIDE IMPL PORT: the daemon in D, its interface moved to
# SIDE's namespace, where it is known as WGIF[SIDE].
start_moved()
{
	local side=$1 impl=$2 port=$3
	NS[tmp]=${NS[$side]}
	NS[$side]=${NS[D]}
	daemon_start "$side" "$impl"
	NS[$side]=${NS[tmp]}
	unset 'NS[tmp]'
	PORT[$side]=$port
	ip -n "${NS[D]}" link set "${WGIF[$side]}" netns "${NS[$side]}" ||
		fail "cannot move ${WGIF[$side]} into ${NS[$side]}"
	sleep 2.5 # the daemon follows its interface every two seconds
	kill -0 "${PID[$side]}" 2>/dev/null ||
		fail "$(impl_name "$impl") on $side exited when its interface" \
			"moved: $(tail -n 5 "$T_TMP/daemon-${WGIF[$side]}.log")"
}

# set_up SIDE PEER LOOPBACK MTU: keys and peer (endpoint on loopback in
# D, where the sockets are), then address, MTU and link in the container.
set_up()
{
	local side=$1 peer=$2 lo=$3 mtu=$4 ep
	if [ "$lo" = ::1 ]; then ep="[::1]:${PORT[$peer]}"; else ep="$lo:${PORT[$peer]}"; fi
	wg_ D set "${WGIF[$side]}" private-key "${KEY[$side]}" \
		listen-port "${PORT[$side]}" peer "${PUB[$peer]}" \
		allowed-ips "${TUN4[$peer]}/32,${TUN6[$peer]}/128" endpoint "$ep" ||
		fail "wg set $side"
	ip -n "${NS[$side]}" link set "${WGIF[$side]}" mtu "$mtu" &&
		ip -n "${NS[$side]}" addr add "${TUN4[$side]}/24" dev "${WGIF[$side]}" &&
		ip -n "${NS[$side]}" addr add "${TUN6[$side]}/64" dev "${WGIF[$side]}" nodad &&
		ip -n "${NS[$side]}" link set "${WGIF[$side]}" up ||
		fail "cannot configure ${WGIF[$side]} in ${NS[$side]}"
}

# ping_size FROM ADDR SIZE: three echo replies of SIZE bytes of payload.
ping_size()
{
	timeout -k 2 15 ip netns exec "${NS[$1]}" \
		ping -n -q -c 3 -i 0.2 -w 10 -s "$3" "$2" >/dev/null 2>&1
}

# udp_check FROM TO ADDR SIZE: datagrams of SIZE bytes, each checked for
# its length and payload by the receiver; none may be lost.
udp_check()
{
	local from=$1 to=$2 addr=$3 size=$4 port out_r out_s
	T_XPORT=$((T_XPORT + 1))
	port=$T_XPORT
	out_r="$T_TMP/udp-$port.recv"
	out_s="$T_TMP/udp-$port.send"
	udpseq_recv_start "$to" "$out_r" -l "$size" "$port" 500 2000
	local rpid=$UDPSEQ_RECV_PID
	timeout -k 2 60 ip netns exec "${NS[$from]}" "$UDPSEQ" send -r 2000 -b 4 \
		"$addr" "$port" 500 "$size" >"$out_s" 2>&1 ||
		fail "udpseq send $from -> $to: $(cat "$out_s")"
	wait_pid $rpid 15 || fail "udpseq recv on $to: $(cat "$out_r")"
	grep -q '^received 500 .* lost 0 malformed 0$' "$out_r" ||
		fail "$from -> $to, $size-byte datagrams: $(cat "$out_r")"
}

# traffic LABEL MTU: ping, TCP and UDP both ways through the tunnel.
traffic()
{
	local label=$1 mtu=$2 big size
	ping_ok A "${TUN4[B]}" && ping_ok B "${TUN6[A]}" ||
		fail "$label: no ping through the tunnel"
	big=$((mtu - 28))
	ping_size A "${TUN4[B]}" "$big" && ping_size B "${TUN4[A]}" "$big" ||
		fail "$label: no ping of $big bytes (the whole MTU)"
	pass "$label: ping both ways, up to the MTU ($big bytes of payload)"
	xfer_check A B "${TUN4[B]}" "${E2E_BYTES:-40000000}"
	xfer_check B A "${TUN6[A]}" "${E2E_BYTES:-40000000}"
	pass "$label: TCP both ways, checksums equal"
	size=$((mtu - 28 < 8000 ? mtu - 28 : 8000))
	udp_check A B "${TUN4[B]}" "$size"
	udp_check B A "${TUN4[A]}" "$size"
	pass "$label: UDP both ways, 500 datagrams of $size bytes each way," \
		"every one checked"
}

# round IMPL_B LOOPBACK MTU
round()
{
	local impl_b=$1 lo=$2 mtu=$3
	say "---- B=$(impl_name "$impl_b"), underlay $lo, tunnel MTU $mtu"
	start_moved A "$WG_IMPL_A" 10000
	start_moved B "$impl_b" 20000
	set_up A B "$lo" "$mtu"
	set_up B A "$lo" "$mtu"
	pass "underlay $lo: both daemons run with their interfaces moved"
	traffic "underlay $lo, MTU $mtu" "$mtu"
	pair_down
}

round "$WG_IMPL_B" 127.0.0.1 1420
round "$WG_IMPL_B" ::1 1420
round "$WG_IMPL_B" 127.0.0.1 "$E2E_NETNS_BIG_MTU"
round "$WG_IMPL_B" ::1 "$E2E_NETNS_BIG_MTU"
if ! is_wggo "$WG_IMPL_B" && [ "${E2E_NETNS_WGGO:-1}" = 1 ]; then
	require_impl "$WIREGUARD_GO"
	round "$WIREGUARD_GO" 127.0.0.1 1420
	round "$WIREGUARD_GO" ::1 "$E2E_NETNS_BIG_MTU"
fi

say "---- moving back and forth, an MTU change in the container, deletion"
start_moved A "$WG_IMPL_A" 10000
start_moved B "$WG_IMPL_B" 20000
set_up A B 127.0.0.1 1420
set_up B A 127.0.0.1 1420
ping_ok A "${TUN4[B]}" || fail "no ping before moving back and forth"
for i in 1 2 3; do
	ip -n "${NS[A]}" link set "${WGIF[A]}" netns "${NS[D]}" ||
		fail "cannot move ${WGIF[A]} back to ${NS[D]}"
	sleep 2.5
	kill -0 "${PID[A]}" 2>/dev/null ||
		fail "A's daemon exited when its interface came back ($i)"
	ip -n "${NS[D]}" link set "${WGIF[A]}" netns "${NS[A]}" &&
		ip -n "${NS[A]}" addr add "${TUN4[A]}/24" dev "${WGIF[A]}" &&
		ip -n "${NS[A]}" link set "${WGIF[A]}" up ||
		fail "cannot move ${WGIF[A]} into ${NS[A]} again ($i)"
	sleep 2.5
	kill -0 "${PID[A]}" 2>/dev/null ||
		fail "A's daemon exited when its interface moved again ($i)"
	ping_ok A "${TUN4[B]}" || fail "no ping after moving back and forth ($i)"
done
pass "interface A moved back to the daemon's namespace and out again 3" \
	"times; the tunnel carries traffic"
if ! is_wggo "$WG_IMPL_A"; then
	ip -n "${NS[A]}" link set "${WGIF[A]}" mtu 4000 &&
		ip -n "${NS[B]}" link set "${WGIF[B]}" mtu 4000 ||
		fail "cannot set MTU 4000 in the containers"
	for ((i = 0; i < 30; i++)); do
		grep -q "MTU 4000" "$T_TMP/daemon-${WGIF[A]}.log" && break
		sleep 0.1
	done
	grep -q "MTU 4000" "$T_TMP/daemon-${WGIF[A]}.log" ||
		fail "A's daemon did not follow the MTU set in its container"
	ping_size A "${TUN4[B]}" 3972 ||
		fail "no 3972-byte ping after the MTU change in the containers"
	pass "an MTU set inside the container is followed (MTU 4000, ping of" \
		"3972 bytes)"
fi
sock="$UAPI_DIR/${WGIF[A]}.sock"
ip -n "${NS[A]}" link del "${WGIF[A]}" || fail "cannot delete ${WGIF[A]} in ${NS[A]}"
wait_pid "${PID[A]}" 10
rc=$?
PID[A]=""
[ $rc = 0 ] || fail "A's daemon ended with status $rc when its interface" \
	"was deleted in its container (124: it did not end)"
[ ! -e "$sock" ] || fail "A's UAPI socket $sock is still there"
pass "deleting the interface in its container ends its daemon (status 0)" \
	"and removes its socket"
sleep 2.5
kill -0 "${PID[B]}" 2>/dev/null || fail "B's daemon ended too"
pass "B's daemon, its interface still there, runs on"
daemon_stop B
exit 0
