#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Removal on the receiving side: host B sends a TCP stream to host A
# (wgpipe); while the stream's packets arrive, A's peer B is removed and
# set again E2E_REMOVAL_CYCLES (5) times. Once with wgpipe as the sender,
# once with $WIREGUARD_GO (wireguard-go; under CI=true it must be there).
#
# Asserted, for each sender: the daemon on A lives through it; the
# packets that arrived for a removed peer are counted (drop_unknown_index
# and drop_no_peer on A rose); data from B reaches A again after every
# re-add, and the transfer completes with equal checksums; and A's pool
# is full again once the link is idle (no batch was lost with the peer).
#
#   E2E_REMOVAL_CYCLES  removals (default 5)
#   E2E_REMOVAL_RATE    sender's byte rate (default 20000000)

# shellcheck disable=SC2015 # "A && B || fail" is meant
# shellcheck source=t/e2e/netns.sh
. "$(dirname "$0")/netns.sh"

t_init
: "${E2E_REMOVAL_CYCLES:=5}"
: "${E2E_REMOVAL_RATE:=20000000}"
t_watchdog $((60 + 40 * E2E_REMOVAL_CYCLES))
require_impl "$WGPIPE"
make_hosts
make_keys

# run_case N IMPL_B
run_case()
{
	local n=$1 impl=$2 name seed port=$((7000 + $1)) spid c unknown0 nopeer0
	local unknown1 nopeer1 i free total
	name=$(impl_name "$impl")
	subtest_begin "$n"
	say "---- sender: $name"
	pair_up "$WGPIPE" "$impl" init=both
	check "ping B -> A (first handshake)" ping_ok B "${TUN4[A]}"
	read -r unknown0 nopeer0 < <(counters A drop_unknown_index drop_no_peer)

	seed=$RANDOM
	xfer_recv_start A "$port" "$T_TMP/recv-$port.out" -i 20 -s "$seed"
	ip netns exec "${NS[B]}" "$XFER" send -r "$E2E_REMOVAL_RATE" \
		-t $((4 * E2E_REMOVAL_CYCLES + 4)) "${TUN4[A]}" "$port" 0 "$seed" \
		>"$T_TMP/send-$port.out" 2>&1 &
	spid=$!
	track "$spid"
	sleep 2
	for ((c = 1; c <= E2E_REMOVAL_CYCLES; c++)); do
		wg_ A set "${WGIF[A]}" peer "${PUB[B]}" remove ||
			fail "$name: removing peer B on A (cycle $c)"
		[ -z "$(wg_ A show "${WGIF[A]}" peers)" ] ||
			fail "$name: peer B still listed on A after its removal"
		sleep 0.5
		wg_ A set "${WGIF[A]}" peer "${PUB[B]}" \
			allowed-ips "${TUN4[B]}/32,${TUN6[B]}/128" \
			endpoint "$(endpoint_of B 4)" ||
			fail "$name: setting peer B on A again (cycle $c)"
		# B still sends on the session A forgot, and would start a
		# new one only after 15 s of silence (as every WireGuard
		# does); a packet from A starts it now.
		ip netns exec "${NS[A]}" ping -n -q -c 1 -W 1 "${TUN4[B]}" >/dev/null 2>&1 &
		track "$!"
		for ((i = 0; ; i++)); do
			[ "$(rx_bytes A)" -gt 0 ] 2>/dev/null && break
			kill -0 "$spid" 2>/dev/null ||
				fail "$name: the sender ended before cycle $c was over"
			[ $i -lt 150 ] || fail "$name: nothing from B on A 15 s after re-adding it (cycle $c)"
			sleep 0.1
		done
		kill -0 "${PID[A]}" 2>/dev/null || fail "$name: wgpipe on A died (cycle $c)"
		sleep 1
	done
	wait_pid "$spid" 60 || fail "$name: xfer send failed: $(cat "$T_TMP/send-$port.out")"
	wait_pid "$XFER_RECV_PID" 30 ||
		fail "$name: xfer recv failed: $(cat "$T_TMP/recv-$port.out")"
	sent=$(awk '/^sent/ { print $2, $4 }' "$T_TMP/send-$port.out")
	got=$(awk '/^received/ { print $2, $4 }' "$T_TMP/recv-$port.out")
	[ -n "$sent" ] && [ "$sent" = "$got" ] ||
		fail "$name: sent [$sent] but received [$got]" \
			"$(grep mismatch "$T_TMP/recv-$port.out" | tr "\n" " ")"
	pass "$name: ${sent%% *} bytes through $E2E_REMOVAL_CYCLES removals, checksums equal"

	read -r unknown1 nopeer1 < <(counters A drop_unknown_index drop_no_peer)
	[ $((unknown1 - unknown0 + nopeer1 - nopeer0)) -gt 0 ] ||
		fail "$name: nothing counted for the packets of a removed peer" \
			"(drop_unknown_index $unknown0 -> $unknown1, drop_no_peer $nopeer0 -> $nopeer1)"
	pass "$name: counted on A: drop_unknown_index +$((unknown1 - unknown0))," \
		"drop_no_peer +$((nopeer1 - nopeer0))"

	for ((i = 0; ; i++)); do
		read -r free total < <(counters A pool_free pool_batches)
		[ -n "$free" ] && [ "$free" = "$total" ] && break
		[ $i -lt 100 ] || fail "$name: A's pool not full when idle: $free of $total batches free"
		sleep 0.1
	done
	pass "$name: A's pool full again ($free of $total batches)"
	pair_down
}

run_case 1 "$WGPIPE"
if command -v "$WIREGUARD_GO" >/dev/null; then
	run_case 2 "$WIREGUARD_GO"
else
	skip_or_fail "wireguard-go is not installed: the case with it as the sender did not run"
fi
t_done
