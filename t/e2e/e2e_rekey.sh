#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Rekeying under load: with WGPIPE_TEST_REKEY_AFTER_TIME=3 (a test-only
# setting of wgpipe: the initiator rekeys after 3 s instead of 120 s) a
# 30-second TCP transfer from A (the initiator) to B crosses several
# rekeys. Asserted: the latest handshake on A, sampled every second,
# changed at least E2E_REKEY_EXPECT times (default 3); the stream never
# stalled (no gap of E2E_STALL_MS or more between reads at the
# receiver); the checksums match.
#
# Then numbered UDP streams (udpseq), A -> B and B -> A, cross more
# rekeys for E2E_REKEY_UDP_SECONDS, in bursts of 40 datagrams, beside a
# TCP stream of 100 kB/s whose segments shift the batch boundaries: a
# receive batch then sometimes holds the old session's last datagrams
# and the new one's first. Asserted: none arrives after a later one,
# twice or damaged; the TCP stream's checksums match; A's latest
# handshake changed at least twice meanwhile.
#
# wireguard-go ignores the setting, so with wireguard-go as host A the
# handshake count is not asserted and the test ends as a skip once the
# transfer has passed (a failure with CI=true; set E2E_REKEY_EXPECT to
# assert anyway).
#
#   E2E_REKEY_SECONDS  transfer length (default 30)
#   E2E_REKEY_RATE     sender's byte rate, 0 = unlimited (default 40000000)
#   E2E_STALL_MS       the longest gap allowed (default 2000, times
#                      T_SCALE under the sanitizers)
#   E2E_REKEY_UDP_SECONDS  the UDP stream's length (default 15; 0: none)
#   E2E_REKEY_PPS      its datagrams/s, 1000 bytes each (default 50000)

. "$(dirname "$0")/netns.sh"

t_init
require_impl "$WG_IMPL_A" "$WG_IMPL_B"
: "${E2E_REKEY_SECONDS:=30}"
: "${E2E_REKEY_RATE:=40000000}"
: "${E2E_STALL_MS:=$((2000 * T_SCALE))}"
: "${E2E_REKEY_UDP_SECONDS:=15}"
: "${E2E_REKEY_PPS:=50000}"
UDPSEQ=$(tool udpseq) || exit 1
if [ -z "${E2E_REKEY_EXPECT:-}" ]; then
	if is_wggo "$WG_IMPL_A"; then E2E_REKEY_EXPECT=0; else E2E_REKEY_EXPECT=3; fi
fi
t_watchdog $((E2E_REKEY_SECONDS + E2E_REKEY_UDP_SECONDS + 120))
make_hosts
make_keys
say "A=$(impl_name "$WG_IMPL_A") (initiator) B=$(impl_name "$WG_IMPL_B")," \
	"WGPIPE_TEST_REKEY_AFTER_TIME=3"
E2E_DAEMON_ENV=(WGPIPE_TEST_REKEY_AFTER_TIME=3)
pair_up "$WG_IMPL_A" "$WG_IMPL_B" init=A
check "ping A -> B (first handshake)" ping_ok A "${TUN4[B]}"
wait_handshake A 5 || fail "no handshake on A"

seed=$RANDOM
port=6000
xfer_recv_start B $port "$T_TMP/recv.out" -i $((E2E_STALL_MS / 1000 + 10)) -s $seed
ip netns exec "${NS[A]}" "$XFER" send -r "$E2E_REKEY_RATE" \
	-t "$E2E_REKEY_SECONDS" "${TUN4[B]}" $port 0 $seed \
	>"$T_TMP/send.out" 2>&1 &
spid=$!
track $spid

# Sample A's and B's latest handshake once a second while data flows.
changes=0
last=$(latest_handshake A)
seen="$last"
for ((i = 0; i < E2E_REKEY_SECONDS + 30; i++)); do
	kill -0 $spid 2>/dev/null || break
	sleep 1
	now=$(latest_handshake A)
	hb=$(latest_handshake B)
	rx=$(rx_bytes B)
	echo "$i A:$now B:$hb rxB:$rx" >>"$T_TMP/samples"
	if [ -n "$now" ] && [ "$now" != "$last" ]; then
		changes=$((changes + 1))
		seen="$seen $now"
		last=$now
	fi
done
wait_pid $spid 30 || fail "xfer send failed: $(cat "$T_TMP/send.out")"
wait_pid "$XFER_RECV_PID" 20 || fail "xfer recv failed: $(cat "$T_TMP/recv.out")"
say "sender:   $(cat "$T_TMP/send.out")"
say "receiver: $(grep '^received' "$T_TMP/recv.out")"
sent=$(awk '/^sent/ { print $2, $4 }' "$T_TMP/send.out")
got=$(awk '/^received/ { print $2, $4 }' "$T_TMP/recv.out")
[ -n "$sent" ] && [ "$sent" = "$got" ] ||
	fail "sent [$sent] but received [$got] $(grep mismatch "$T_TMP/recv.out" | tr "\n" " ")"
pass "${sent%% *} bytes in ${E2E_REKEY_SECONDS} s, checksums equal"
gap=$(awk '/^received/ { print $6 }' "$T_TMP/recv.out")
[ "$gap" -lt "$E2E_STALL_MS" ] ||
	fail "the stream stalled: $gap ms without data, the limit is" \
		"$E2E_STALL_MS ms (samples: $(cat "$T_TMP/samples"))"
pass "no stall: longest gap between reads $gap ms (limit $E2E_STALL_MS ms)"
say "handshake on A changed $changes times during the transfer"
if [ "$E2E_REKEY_EXPECT" -gt 0 ]; then
	[ "$changes" -ge "$E2E_REKEY_EXPECT" ] ||
		fail "A's latest handshake changed $changes times in" \
			"$E2E_REKEY_SECONDS s, expected >= $E2E_REKEY_EXPECT" \
			"(samples: $(tr '\n' ';' <"$T_TMP/samples"))"
	pass "rekeyed $changes times under load (>= $E2E_REKEY_EXPECT)"
fi

# useq_check FROM TO OUT: the numbered stream FROM -> TO arrived in
# order, none twice or damaged.
useq_check()
{
	local from=$1 to=$2 out=$3 received reordered dups lost malformed

	read -r _ received _ reordered _ dups _ lost _ malformed \
		< <(grep '^received' "$out")
	say "UDP $from -> $to: $(grep '^received' "$out")"
	[ -n "$received" ] && [ "$received" -gt 0 ] ||
		fail "no UDP datagram arrived $from -> $to: $(cat "$out")"
	[ "$reordered" = 0 ] ||
		fail "across $uchanges rekeys, $reordered of $received datagrams" \
			"$from -> $to arrived after a later one"
	[ "$dups" = 0 ] || fail "$dups datagrams $from -> $to arrived twice"
	[ "$malformed" = 0 ] || fail "$malformed datagrams $from -> $to arrived damaged"
	USEQ_SUMMARY+=" $from -> $to $received of $count ($lost lost);"
}

udp_streams()
{
	local count=$((E2E_REKEY_PPS * E2E_REKEY_UDP_SECONDS)) i side peer
	local -A rpid spid
	local ulast now

	uchanges=0
	USEQ_SUMMARY=
	# Both receivers listen before either sender starts.
	for side in A B; do
		udpseq_recv_start $side "$T_TMP/useq-recv-$side.out" \
			-w 20 7000 "$count" 3000
		rpid[$side]=$UDPSEQ_RECV_PID
	done
	xfer_recv_start B 6001 "$T_TMP/recv2.out" -i 20 -s $seed
	ip netns exec "${NS[A]}" "$XFER" send -r 100000 \
		-t "$E2E_REKEY_UDP_SECONDS" "${TUN4[B]}" 6001 0 $seed \
		>"$T_TMP/send2.out" 2>&1 &
	spid[tcp]=$!
	track "${spid[tcp]}"
	ulast=$(latest_handshake A)
	for side in A B; do
		if [ $side = A ]; then peer=B; else peer=A; fi
		ip netns exec "${NS[$side]}" "$UDPSEQ" send -r "$E2E_REKEY_PPS" -b 40 \
			"${TUN4[$peer]}" 7000 "$count" 1000 \
			>"$T_TMP/useq-send-$side.out" 2>&1 &
		spid[$side]=$!
		track "${spid[$side]}"
	done
	for ((i = 0; i < E2E_REKEY_UDP_SECONDS + 30; i++)); do
		kill -0 "${spid[A]}" 2>/dev/null || kill -0 "${spid[B]}" 2>/dev/null || break
		sleep 1
		now=$(latest_handshake A)
		if [ -n "$now" ] && [ "$now" != "$ulast" ]; then
			uchanges=$((uchanges + 1))
			ulast=$now
		fi
	done
	for side in A B; do
		wait_pid "${spid[$side]}" 30 ||
			fail "udpseq send on $side failed: $(cat "$T_TMP/useq-send-$side.out")"
		wait_pid "${rpid[$side]}" 30 ||
			fail "udpseq recv on $side failed: $(cat "$T_TMP/useq-recv-$side.out")"
	done
	wait_pid "${spid[tcp]}" 30 || fail "xfer send failed: $(cat "$T_TMP/send2.out")"
	wait_pid "$XFER_RECV_PID" 30 || fail "xfer recv failed: $(cat "$T_TMP/recv2.out")"
	sent=$(awk '/^sent/ { print $2, $4 }' "$T_TMP/send2.out")
	got=$(awk '/^received/ { print $2, $4 }' "$T_TMP/recv2.out")
	[ -n "$sent" ] && [ "$sent" = "$got" ] ||
		fail "beside the UDP streams, TCP sent [$sent] but received [$got]"
	say "A's latest handshake changed $uchanges times during the UDP streams"
	useq_check A B "$T_TMP/useq-recv-B.out"
	useq_check B A "$T_TMP/useq-recv-A.out"
	if [ "$E2E_REKEY_EXPECT" -gt 0 ] && [ "$uchanges" -lt 2 ]; then
		fail "A's latest handshake changed $uchanges times during the" \
			"UDP streams, expected >= 2"
	fi
	pass "UDP streams across $uchanges rekeys, in order, none twice or" \
		"damaged:$USEQ_SUMMARY beside them ${sent%% *} TCP bytes A -> B," \
		"checksums equal"
}
[ "$E2E_REKEY_UDP_SECONDS" = 0 ] || udp_streams
pair_down
[ "$E2E_REKEY_EXPECT" != 0 ] ||
	skip_part "the rekey count: $(impl_name "$WG_IMPL_A") on host A" \
		"ignores WGPIPE_TEST_REKEY_AFTER_TIME"
t_done
