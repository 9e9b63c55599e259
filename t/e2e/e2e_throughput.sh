#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Two hosts (network namespaces joined by a veth pair), a wgpipe on
# each, configured with wg(8): the first ping makes the handshake, and a
# 3-second iperf3 run through the tunnel gives a throughput figure. It
# fails unless data crossed: iperf3's receiver counted bytes at a rate
# above 0, and B's tunnel interface and A's underlay carried at least
# those bytes (the kernel's interface statistics). It is also the
# README's demo (contrib/debian-setup demo), so it says what it does as
# it goes. Everything it creates is removed at the end. Run as root from
# the source tree after make:
#
#   t/e2e/e2e_throughput.sh                          # wgpipe on both hosts
#   WG_IMPL_B=wireguard-go t/e2e/e2e_throughput.sh   # wgpipe to wireguard-go

. "$(dirname "$0")/netns.sh"

t_init
require_cmd iperf3 iperf3
require_impl "$WG_IMPL_A" "$WG_IMPL_B"
t_watchdog 90
echo "== wgpipe demo: two hosts in network namespaces, one WireGuard tunnel"
make_hosts
make_keys
pair_up "$WG_IMPL_A" "$WG_IMPL_B" init=A
echo "== host A runs $(impl_name "$WG_IMPL_A") (pid ${PID[A]}) as ${WGIF[A]}," \
	"host B runs $(impl_name "$WG_IMPL_B") (pid ${PID[B]}) as ${WGIF[B]}"
echo "   tunnel addresses: A ${TUN4[A]} ${TUN6[A]}, B ${TUN4[B]} ${TUN6[B]}"

echo "== ping from A to B (the first packet starts the handshake)"
timeout -k 2 15 ip netns exec "${NS[A]}" ping -n -c 3 -i 0.3 -w 10 "${TUN4[B]}" ||
	fail "ping through the tunnel failed"
wait_handshake A 5 || fail "no handshake"
echo "== wg show on host A"
wg_ A show "${WGIF[A]}"

echo "== iperf3 from A to B through the tunnel, 3 seconds"
ip netns exec "${NS[B]}" iperf3 -s -1 -B "${TUN4[B]}" >"$T_TMP/iperf3-s.log" 2>&1 &
track $!
for ((i = 0; i < 50; i++)); do
	ip netns exec "${NS[B]}" ss -ltn | grep -q ":5201 " && break
	sleep 0.1
done
# ifstat SIDE DEV FIELD: one of the kernel's counters for an interface.
ifstat() { nsx "$1" cat "/sys/class/net/$2/statistics/$3"; }
rx0=$(ifstat B "${WGIF[B]}" rx_bytes)
tx0=$(ifstat A ul0 tx_bytes)
timeout -k 2 30 ip netns exec "${NS[A]}" iperf3 -c "${TUN4[B]}" -t 3 -f m \
	>"$T_TMP/iperf3.log" 2>&1 || fail "iperf3 failed: $(cat "$T_TMP/iperf3.log")"
rx1=$(ifstat B "${WGIF[B]}" rx_bytes)
tx1=$(ifstat A ul0 tx_bytes)
grep -E 'sender|receiver' "$T_TMP/iperf3.log"
# The receiver's line: "... 0.00-3.00 sec 1.55 GBytes 4427 Mbits/sec
# receiver" (the bytes in whichever unit fits: Bytes, KBytes, MBytes...).
read -r got rate < <(awk '/receiver/ { for (i = 1; i < NF; i++) {
		u = index("KMGT", substr($(i + 1), 1, 1))
		if ($(i + 1) ~ /^[KMGT]?Bytes$/) b = $i * 1024 ^ u
		if ($(i + 1) == "Mbits/sec") r = $i }
	printf "%.0f %s\n", b, r }' "$T_TMP/iperf3.log")
[ -n "$rate" ] || fail "no throughput in iperf3's output"
awk -v r="$rate" -v g="$got" 'BEGIN { exit !(r > 0 && g > 0) }' ||
	fail "no data crossed the tunnel: iperf3 received $got bytes at $rate Mbit/s"
# Each byte iperf3 received came through B's tunnel interface, and went
# out on A's underlay with WireGuard's overhead on top (iperf3 rounds
# the figure to three digits: 1 % of slack).
[ $((rx1 - rx0)) -ge $((got * 99 / 100)) ] && [ $((tx1 - tx0)) -ge $((got * 99 / 100)) ] ||
	fail "iperf3 received $got bytes, but B's ${WGIF[B]} took in" \
		"$((rx1 - rx0)) and A's underlay sent $((tx1 - tx0))"
echo "== the kernel agrees: B's tunnel interface received $((rx1 - rx0)) bytes," \
	"A's underlay sent $((tx1 - tx0)), for $got bytes of iperf3 data"
echo "== throughput through the tunnel: $rate Mbit/s" \
	"($(impl_name "$WG_IMPL_A") -> $(impl_name "$WG_IMPL_B"), both hosts" \
	"on this machine's $(nproc) cores)"
pair_down
echo "== done: daemons stopped, namespaces removed on exit"
exit 0
