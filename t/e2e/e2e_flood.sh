#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Floods at host B (wgpipe, the victim) while a TCP transfer runs from A
# to B through the tunnel; the attacker's tool (t/tools/flood) runs in A's
# namespace, on A's side of the underlay. In turn, each for a while:
#   (a) garbage: random datagrams at B's listen port, as fast as one
#       core sends them (sendmmsg);
#   (b) handshake initiations with a valid MAC1 for B's public key from
#       4096 spoofed sources (raw socket: over IPv4 4096 addresses, over
#       IPv6 4096 different /64s, since B's rate limiter and fair lane
#       key IPv6 sources by /64), half of them, once B has
#       answered some with cookies, with a valid MAC2 from 16 sources
#       holding a cookie. Ten seconds in, A forgets B (peer removed and
#       added again), so A must make a new handshake through the flood.
#       wgpipe as A also rekeys every 5 s (WGPIPE_TEST_REKEY_AFTER_TIME);
#       the handshakes that brings before A forgets B are counted, not
#       asserted (each waits for a cookie round and may be dropped);
#   (c) replays: data messages A sends (a numbered UDP stream,
#       t/tools/udpseq) are captured on A's underlay and sent again, 4
#       times each.
# After the initiation flood, the test waits until the transfer's data
# reaches B again (at most E2E_FLOOD_RECOVER_SECONDS): TCP, which lost
# packets to the flood and while A made its new handshake, retransmits
# with exponential backoff, so that can take tens of seconds; the time is
# printed. Asserted: the transfer's checksums match at the end; (a) every garbage
# datagram is accounted as dropped, by the daemon (drop_bad_packet) or by
# the kernel (UDP receive buffer errors): at least 99 % of those sent,
# counted once B's drop_bad_packet has stopped rising (what the flood
# left queued is read by then); (b) B sent cookie replies (and
# they came back to the spoofed sources), refused initiations with a
# cookie above the per-source rate (handshake_ratelimited), and B's latest
# handshake with A advanced during the flood; (c) no datagram of the
# stream arrived twice and drop_replay rose by about the number injected.
# Data moved during each flood; the throughput of each phase (from B's
# received bytes) is printed next to the quiet phases of the same run.
# The legitimate peer A is wgpipe, then Debian's wireguard-go if
# installed (without it the test ends as a skip; CI=true: a failure).
# The underlay (the tunnel's outer packets, the floods, the cookie
# replies) is IPv4, or IPv6 with E2E_FLOOD_UL=6 (t/e2e/e2e_flood6.sh);
# the tunnel carries IPv4 either way.
#
#   E2E_FLOOD_SECONDS       length of the garbage flood (default 8)
#   E2E_FLOOD_INIT_SECONDS  length of the initiation flood (default 40)
#   E2E_FLOOD_RECOVER_SECONDS  longest wait for data after it (default 100)
#   E2E_FLOOD_UL            the underlay's IP version, 4 or 6 (default 4)
#   E2E_FLOOD_PEERS         legitimate peers A (default "$WGPIPE wireguard-go";
#                           over IPv6 "$WGPIPE", see e2e_flood6.sh)

# shellcheck disable=SC2015 # "A && B || fail" is meant
# shellcheck disable=SC2154 # D_* are set by printf -v in phase_end
# shellcheck source=t/e2e/netns.sh
. "$(dirname "$0")/netns.sh"

t_init
require_impl "$WGPIPE"
FLOOD=$(tool flood) || exit 1
UDPSEQ=$(tool udpseq) || exit 1
: "${E2E_FLOOD_SECONDS:=8}"
: "${E2E_FLOOD_INIT_SECONDS:=40}"
: "${E2E_FLOOD_RECOVER_SECONDS:=100}"
: "${E2E_FLOOD_UL:=4}"
if [ "$E2E_FLOOD_UL" = 6 ]; then
	: "${E2E_FLOOD_PEERS:=$WGPIPE}"
else
	: "${E2E_FLOOD_PEERS:=$WGPIPE $WIREGUARD_GO}"
fi
QUIET=4
# Of the initiation flood, before A forgets B. The 30 s left give A six
# tries (REKEY_TIMEOUT 5 s) to get the cookie and then in with it: each
# try can be dropped with thousands of others while the ring is full.
INIT_DATA_SECONDS=10
REKEY_AFTER=5       # WGPIPE_TEST_REKEY_AFTER_TIME of the daemons
SPOOF_N=4096
case $E2E_FLOOD_UL in
4)
	UL_B=${UL4[B]} UL_A=${UL4[A]}
	SPOOF_NET=10.77.0.0 # sources 10.77.0.1 .. 10.77.16.0
	SPOOF_ROUTE=$SPOOF_NET/16
	SPOOF_WHAT="$SPOOF_N addresses"
	;;
6)
	UL_B=${UL6[B]} UL_A=${UL6[A]}
	SPOOF_NET=fd00:77:: # sources in fd00:77:0:1::/64 .. fd00:77:0:1000::/64
	SPOOF_ROUTE=$SPOOF_NET/48
	SPOOF_WHAT="$SPOOF_N /64s"
	;;
*) fail "E2E_FLOOD_UL is 4 or 6, not '$E2E_FLOOD_UL'" ;;
esac
SEQ_COUNT=20000     # the numbered stream of (c): 20000 x 100 bytes
SEQ_SIZE=100
SEQ_RATE=4000
REPLAY_COUNT=300
REPLAY_COPIES=4
# Its data messages: 16-byte header, IPv4+UDP+payload padded to 16, tag.
SEQ_WGLEN=$((16 + (28 + SEQ_SIZE + 15) / 16 * 16 + 16))
t_watchdog $((400 + 2 * E2E_FLOOD_RECOVER_SECONDS))
make_hosts
make_keys
# B answers the spoofed sources through A, which does not forward: the
# answers end on A's underlay, where the flood tool counts them. Over
# IPv4 A drops them without a word; over IPv6 a packet A has no route
# for is answered with an ICMPv6 error, so A gets a blackhole route for
# the spoofed prefix, which drops them silently too.
ip -n "${NS[B]}" route add "$SPOOF_ROUTE" via "$UL_A" ||
	fail "cannot route $SPOOF_ROUTE on B"
if [ "$E2E_FLOOD_UL" = 6 ]; then
	ip -n "${NS[A]}" route add blackhole "$SPOOF_ROUTE" ||
		fail "cannot add a blackhole route for $SPOOF_ROUTE on A"
fi
say "underlay IPv$E2E_FLOOD_UL: B at $UL_B, spoofed sources in $SPOOF_ROUTE"

# --- measurements on B ------------------------------------------------

show_b() { timeout -k 2 10 ip netns exec "${NS[B]}" "$WGPIPE" show "${WGIF[B]}" >"$1"; }
# ctr FILE NAME: a device counter's value in a saved `wgpipe show` (the
# table before the peers' paragraphs, where some names come again).
ctr() { awk -v n="$2" 'NF == 0 { exit } $1 == n { print $2 }' "$1"; }
# kernel_rcvbuf_errors: UDP datagrams of the underlay's family B's
# kernel dropped, queue full (B's daemon has a socket for each family).
kernel_rcvbuf_errors()
{
	# shellcheck disable=SC2016 # awk's own $
	if [ "$E2E_FLOOD_UL" = 6 ]; then
		ip netns exec "${NS[B]}" awk '$1 == "Udp6RcvbufErrors" { print $2 }' \
			/proc/net/snmp6
	else
		ip netns exec "${NS[B]}" awk '$1 == "Udp:" {
			if (!h) { for (i = 2; i <= NF; i++) col[$i] = i; h = 1 }
			else print $col["RcvbufErrors"] }' /proc/net/snmp
	fi
}
now() { date +%s.%N; }
# tun_rx_bytes: bytes B's daemon wrote into its interface (data only).
tun_rx_bytes() { ip netns exec "${NS[B]}" cat "/sys/class/net/${WGIF[B]}/statistics/rx_bytes"; }

# settle NAME COUNTER: waits until B's COUNTER has stopped rising (the
# same in two readings 0.5 s apart), at most 10 s (times T_SCALE).
settle()
{
	local i a b=-1 n=$((20 * T_SCALE))
	for ((i = 0; i < n; i++)); do
		show_b "$T_TMP/settle" || fail "$1: wgpipe show on B failed"
		a=$(ctr "$T_TMP/settle" "$2")
		[ "$a" = "$b" ] && return 0
		b=$a
		sleep 0.5
	done
	fail "$1: B's $2 still rising $((n / 2)) s after the flood ($a)"
}

# data_again NAME: waits until the transfer's data reaches B again.
data_again()
{
	local t0 rx0 i
	t0=$(now)
	rx0=$(tun_rx_bytes)
	for ((i = 0; i < 10 * E2E_FLOOD_RECOVER_SECONDS; i++)); do
		[ "$(tun_rx_bytes)" -gt "$rx0" ] && break
		sleep 0.1
	done
	[ "$(tun_rx_bytes)" -gt "$rx0" ] ||
		fail "$1: no data reached B for $E2E_FLOOD_RECOVER_SECONDS s after the flood"
	RECOVERED=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')
	say "$1: data reached B again $RECOVERED s after the flood ended"
}

# phase_begin / phase_end NAME: B's counters and received bytes around a
# phase; D_<counter> then holds the phase's deltas, MBIT[NAME] the
# tunnel's throughput into B.
declare -A MBIT=()
phase_begin()
{
	P_T0=$(now)
	P_RX0=$(rx_bytes B)
	P_KERN0=$(kernel_rcvbuf_errors)
	show_b "$T_TMP/pre" || fail "wgpipe show on B failed"
}
phase_end()
{
	local name=$1 c t1 rx1
	t1=$(now)
	rx1=$(rx_bytes B)
	show_b "$T_TMP/post" || fail "wgpipe show on B failed after $name"
	MBIT[$name]=$(awk -v a="$P_RX0" -v b="$rx1" -v t0="$P_T0" -v t1="$t1" \
		'BEGIN { printf "%.0f", (b - a) * 8 / (t1 - t0) / 1e6 }')
	P_SECONDS=$(awk -v t0="$P_T0" -v t1="$t1" 'BEGIN { printf "%.1f", t1 - t0 }')
	for c in udp_rx_packets drop_bad_packet drop_handshake \
		handshake_cookies_sent handshake_ratelimited \
		handshake_fair_queued drop_replay \
		drop_unknown_index drop_decrypt drop_pool_empty \
		pool_empty_events; do
		printf -v "D_$c" %s $(($(ctr "$T_TMP/post" $c) - $(ctr "$T_TMP/pre" $c)))
	done
	D_kernel=$(($(kernel_rcvbuf_errors) - P_KERN0))
	[ "$rx1" -gt "$P_RX0" ] ||
		fail "$name: no data from A reached B for $P_SECONDS s"
	say "$name: ${MBIT[$name]} Mbit/s through the tunnel over $P_SECONDS s"
}

# --- the three floods -------------------------------------------------

flood_garbage()
{
	phase_begin
	timeout -k 2 $((E2E_FLOOD_SECONDS + 20)) ip netns exec "${NS[A]}" \
		"$FLOOD" garbage "$UL_B" "${PORT[B]}" "$E2E_FLOOD_SECONDS" \
		>"$T_TMP/garbage.out" 2>&1 ||
		fail "flood garbage: $(cat "$T_TMP/garbage.out")"
	settle garbage drop_bad_packet # what is still queued at B
	phase_end garbage
	local sent pps
	sent=$(awk '/^garbage/ { print $3 }' "$T_TMP/garbage.out")
	pps=$(awk '/^garbage/ { print $7 }' "$T_TMP/garbage.out")
	say "garbage: $sent datagrams at $pps/s; B: udp_rx_packets +$D_udp_rx_packets" \
		"drop_bad_packet +$D_drop_bad_packet, kernel RcvbufErrors +$D_kernel," \
		"pool_empty_events +$D_pool_empty_events drop_pool_empty +$D_drop_pool_empty"
	[ "$sent" -gt 0 ] && [ "$D_drop_bad_packet" -gt 0 ] ||
		fail "garbage: sent $sent, daemon counted $D_drop_bad_packet as bad"
	# Each is dropped once: by the daemon, or before it by a full queue.
	[ $((D_drop_bad_packet + D_kernel)) -ge $((sent * 99 / 100)) ] ||
		fail "garbage: $sent sent, only $D_drop_bad_packet + $D_kernel" \
			"counted dropped, fewer than 99 %"
	pass "garbage: $sent datagrams ($pps/s), all counted dropped" \
		"(daemon $D_drop_bad_packet, kernel queue $D_kernel), tunnel at" \
		"${MBIT[garbage]} Mbit/s"
	ROW_GARBAGE="garbage | $pps pps, $P_SECONDS s | drop_bad_packet +$D_drop_bad_packet, RcvbufErrors +$D_kernel | ${MBIT[garbage]}"
}

# rehandshake: A forgets B and learns it again, so the next packet A
# sends starts a new handshake; the same for wgpipe and wireguard-go.
rehandshake()
{
	wg_ A set "${WGIF[A]}" peer "${PUB[B]}" remove &&
		wg_ A set "${WGIF[A]}" peer "${PUB[B]}" \
			allowed-ips "${TUN4[B]}/32,${TUN6[B]}/128" \
			endpoint "$(endpoint_of B "$E2E_FLOOD_UL")"
}

flood_init()
{
	local fpid t_force hs0 hs took="" i sent pps cookies mac2 mbit
	REKEYS=0
	hs0=$(latest_handshake B)
	phase_begin
	ip netns exec "${NS[A]}" "$FLOOD" init -k "${PUB[B]}" -n "$SPOOF_N" \
		-c ul0 -m "$SPOOF_NET" "$UL_B" "${PORT[B]}" \
		"$E2E_FLOOD_INIT_SECONDS" >"$T_TMP/init.out" 2>&1 &
	fpid=$!
	track $fpid
	# Throughput under the flood while A's session stands (and
	# handshakes A's rekey timer makes); then A forgets B and the data
	# waits for the new handshake.
	for ((i = 0; i < 2 * INIT_DATA_SECONDS; i++)); do
		sleep 0.5
		hs=$(latest_handshake B)
		[ -n "$hs" ] && [ "$hs" -gt "$hs0" ] && REKEYS=$((REKEYS + 1))
		hs0=${hs:-$hs0}
	done
	kill -0 $fpid 2>/dev/null || fail "flood init: $(cat "$T_TMP/init.out")"
	t_force=$(now)
	mbit=$(awk -v a="$P_RX0" -v b="$(rx_bytes B)" -v t0="$P_T0" -v t1="$t_force" \
		'BEGIN { printf "%.0f", (b - a) * 8 / (t1 - t0) / 1e6 }')
	[ "$(rx_bytes B)" -gt "$P_RX0" ] ||
		fail "init: no data reached B in the flood's first $INIT_DATA_SECONDS s"
	rehandshake || fail "cannot remove and add B again on A"
	for ((i = 0; i < 10 * (E2E_FLOOD_INIT_SECONDS - INIT_DATA_SECONDS); i++)); do
		kill -0 $fpid 2>/dev/null || break
		hs=$(latest_handshake B)
		if [ -n "$hs" ] && [ "$hs" -gt "$hs0" ]; then
			took=$(awk -v a="$t_force" -v b="$(now)" \
				'BEGIN { printf "%.1f", b - a }')
			break
		fi
		sleep 0.1
	done
	wait_pid $fpid $((E2E_FLOOD_INIT_SECONDS + 10)) ||
		fail "flood init: $(cat "$T_TMP/init.out")"
	phase_end init
	MBIT[init]=$mbit
	say "init: $mbit Mbit/s through the tunnel in the first $INIT_DATA_SECONDS s;" \
		"$REKEYS handshakes by A's rekey timer completed in that time"
	read -r sent pps cookies mac2 < <(awk '/^init/ { print $3, $7, $11, $13 }' \
		"$T_TMP/init.out")
	say "init: $(cat "$T_TMP/init.out")"
	say "init: B: udp_rx_packets +$D_udp_rx_packets cookies_sent" \
		"+$D_handshake_cookies_sent ratelimited +$D_handshake_ratelimited" \
		"fair_queued +$D_handshake_fair_queued" \
		"drop_handshake +$D_drop_handshake, kernel RcvbufErrors +$D_kernel," \
		"pool_empty_events +$D_pool_empty_events drop_pool_empty +$D_drop_pool_empty"
	[ -n "$took" ] ||
		fail "init: B's latest handshake with A did not advance during" \
			"the flood ($hs0 -> $(latest_handshake B))"
	pass "init: A made a new handshake with B ${took} s after forgetting it"
	[ "$D_handshake_cookies_sent" -gt 0 ] && [ "$cookies" -gt 0 ] ||
		fail "init: B sent $D_handshake_cookies_sent cookie replies," \
			"$cookies came back to the spoofed sources"
	pass "init: B under load: $D_handshake_cookies_sent cookie replies sent," \
		"$cookies seen at the spoofed sources"
	[ "$mac2" -gt 0 ] && [ "$D_handshake_ratelimited" -gt 0 ] ||
		fail "init: $mac2 initiations with a cookie sent, B rate-limited" \
			"$D_handshake_ratelimited"
	pass "init: $D_handshake_ratelimited initiations with a valid cookie" \
		"refused by the per-source rate limit"
	data_again init
	ROW_INIT="init | $pps pps, $P_SECONDS s, $SPOOF_WHAT, 16 of them with cookies | cookies_sent +$D_handshake_cookies_sent, ratelimited +$D_handshake_ratelimited, fair_queued +$D_handshake_fair_queued, drop_handshake +$D_drop_handshake, forced handshake in $took s, $REKEYS by rekey timer in first $INIT_DATA_SECONDS s, data again $RECOVERED s after | ${MBIT[init]}"
}

flood_replay()
{
	local rpid port out captured injected line dups lost
	T_XPORT=$((T_XPORT + 1))
	port=$T_XPORT
	out="$T_TMP/seq.recv"
	phase_begin
	udpseq_recv_start B "$out" -4 -w 20 "$port" "$SEQ_COUNT" 3000
	SEQ_RECV_PID=$UDPSEQ_RECV_PID
	ip netns exec "${NS[A]}" "$FLOOD" replay -l "$SEQ_WGLEN" \
		-c "$REPLAY_COPIES" -d 50 ul0 "$UL_B" "${PORT[B]}" \
		"$REPLAY_COUNT" >"$T_TMP/replay.out" 2>&1 &
	rpid=$!
	track $rpid
	sleep 0.3 # capturing
	timeout -k 2 60 ip netns exec "${NS[A]}" "$UDPSEQ" send -r "$SEQ_RATE" \
		"${TUN4[B]}" "$port" "$SEQ_COUNT" "$SEQ_SIZE" >"$T_TMP/seq.send" 2>&1 ||
		fail "udpseq send: $(cat "$T_TMP/seq.send")"
	wait_pid $rpid 40 || fail "flood replay: $(cat "$T_TMP/replay.out")"
	wait_pid $SEQ_RECV_PID 40 || fail "udpseq recv: $(cat "$out")"
	phase_end replay
	read -r captured injected < <(awk '/^replay/ { print $3, $5 }' "$T_TMP/replay.out")
	line=$(grep '^received' "$out")
	dups=$(awk '{ print $6 }' <<<"$line")
	lost=$(awk '{ print $8 }' <<<"$line")
	say "replay: captured $captured, injected $injected; stream: $line;" \
		"B: drop_replay +$D_drop_replay drop_unknown_index" \
		"+$D_drop_unknown_index drop_decrypt +$D_drop_decrypt"
	[ -n "$dups" ] && [ "$dups" = 0 ] ||
		fail "replay: the stream saw [$line]: duplicates delivered"
	pass "replay: no duplicate among the stream's datagrams ($line)"
	[ "$injected" = $((REPLAY_COUNT * REPLAY_COPIES)) ] ||
		fail "replay: injected $injected, wanted $((REPLAY_COUNT * REPLAY_COPIES))"
	[ "$D_drop_replay" -ge $((injected * 95 / 100)) ] &&
		[ "$D_drop_replay" -le $((injected + 16)) ] ||
		fail "replay: $injected copies injected, drop_replay rose by $D_drop_replay"
	pass "replay: $injected copies injected, drop_replay +$D_drop_replay"
	ROW_REPLAY="replay | $injected copies of $captured msgs, $P_SECONDS s | drop_replay +$D_drop_replay, duplicates $dups, stream lost $lost | ${MBIT[replay]}"
}

quiet()
{
	phase_begin
	sleep "$QUIET"
	phase_end "$1"
}

# --- one legitimate peer ----------------------------------------------

run_with()
{
	local impl=$1 seed total spid sent got
	subtest_begin "$2"
	say "== legitimate peer A: $(impl_name "$impl"), victim B: wgpipe," \
		"IPv$E2E_FLOOD_UL underlay"
	# wgpipe as A also rekeys by its timer through the floods;
	# wireguard-go ignores the setting.
	E2E_DAEMON_ENV=(WGPIPE_TEST_REKEY_AFTER_TIME="$REKEY_AFTER")
	pair_up "$impl" "$WGPIPE" init=A ul="$E2E_FLOOD_UL"
	check "ping A -> B" ping_ok A "${TUN4[B]}"
	seed=$RANDOM
	# The sender stops when told (SIGUSR1) after the last phase; -t is
	# only its bound. The receiver waits out TCP's backoff after a flood.
	total=$((5 * QUIET + E2E_FLOOD_SECONDS + E2E_FLOOD_INIT_SECONDS + 20 +
		E2E_FLOOD_RECOVER_SECONDS))
	T_XPORT=$((T_XPORT + 1))
	xfer_recv_start B $T_XPORT "$T_TMP/recv.out" \
		-i $((E2E_FLOOD_RECOVER_SECONDS + 10)) -s $seed
	ip netns exec "${NS[A]}" "$XFER" send -t "$total" "${TUN4[B]}" \
		$T_XPORT 0 $seed >"$T_TMP/send.out" 2>&1 &
	spid=$!
	track $spid
	quiet quiet1
	flood_garbage
	quiet quiet2
	flood_init
	quiet quiet3
	flood_replay
	quiet quiet4
	kill -USR1 $spid 2>/dev/null
	wait_pid $spid $((total + 30)) || fail "xfer send failed: $(cat "$T_TMP/send.out")"
	wait_pid "$XFER_RECV_PID" 40 || fail "xfer recv failed: $(cat "$T_TMP/recv.out")"
	sent=$(awk '/^sent/ { print $2, $4 }' "$T_TMP/send.out")
	got=$(awk '/^received/ { print $2, $4 }' "$T_TMP/recv.out")
	[ -n "$sent" ] && [ "$sent" = "$got" ] ||
		fail "TCP: sent [$sent] but received [$got]" \
			"$(grep mismatch "$T_TMP/recv.out" | tr "\n" " ")"
	pass "TCP A -> B through all floods: ${sent%% *} bytes, checksums equal" \
		"($(awk '/^received/ { print "maxgap_ms", $6 }' "$T_TMP/recv.out"))"
	kill -0 "${PID[B]}" || fail "wgpipe on B died"
	echo "# table ($(impl_name "$impl") -> wgpipe, IPv$E2E_FLOOD_UL underlay): attack | load | B's counters | Mbit/s in tunnel"
	echo "#   none | quiet before/between/after | - | ${MBIT[quiet1]} / ${MBIT[quiet2]} / ${MBIT[quiet3]} / ${MBIT[quiet4]}"
	echo "#   $ROW_GARBAGE"
	echo "#   $ROW_INIT"
	echo "#   $ROW_REPLAY"
	echo "#   TCP checksum equal: yes, ${sent%% *} bytes"
	pair_down
}

n=0
for impl in $E2E_FLOOD_PEERS; do
	n=$((n + 1))
	if ! command -v "$impl" >/dev/null 2>&1; then
		skip_part "$impl as the legitimate peer: not found"
		continue
	fi
	(run_with "$impl" $n) || exit 1
done
t_done
