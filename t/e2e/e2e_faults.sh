#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Faults: what a running wgpipe on host A does when the world around it
# breaks, with real daemons in two namespaces.
#
#   restart-pipe, restart-go  B's daemon (wgpipe, then wireguard-go) is
#       stopped and started again with the same configuration in the
#       middle of a TCP transfer A -> B. A keeps its PID, makes a new
#       handshake by itself (its "no reply to data" timer, about 15 s),
#       and the transfer ends with equal checksums: Linux keeps B's TCP
#       socket while B's tunnel address is gone, and the address is back
#       a moment later. A new transfer follows.
#   remove, remove-go  A's peer B (wgpipe, then wireguard-go) is removed
#       and added again (wg set ... remove, then allowed-ips and
#       endpoint) three times during a TCP transfer A -> B at full speed:
#       the transfer completes with equal checksums, and once idle the
#       pool is full again (pool_free = pool_batches), nothing is in
#       flight and one peer is held (peers_held: the removed ones were
#       freed, their batches given back). Then, three times, A's peer is
#       removed mid-transfer and A stopped at once: its teardown must
#       account for every batch and peer (wgpipe logs any it cannot and
#       exits 1, which daemon_stop fails on, as on every stop).
#   tundel  the TUN device is deleted from outside (ip link del), under
#       a ping: wireguard-go, then wgpipe, then wgpipe --no-offload all
#       (the plain read path) all exit by themselves within
#       E2E_FAULTS_EXIT_S seconds with the same status (0), their UAPI
#       socket gone; wgpipe says why in one log line.
#   ring, ring16  tiny pools on both hosts (--batches 16 --max-inflight
#       64 --batch-size 1, the smallest the flags allow; then
#       --batch-size 16 --max-inflight 256), flooded with UDP (iperf3
#       -b 2G) and four TCP streams at once for 10 s: wgpipe show and
#       ping answer during the flood; every datagram iperf3 lost is
#       counted somewhere (A's TUN tx_dropped, B's UDP RcvbufErrors, the
#       daemons' drop_ counters); with --batch-size 16 the pool runs dry
#       and that is counted (pool_empty_events); afterwards the counters
#       come back to idle and a TCP transfer completes with equal
#       checksums. (With --batch-size 1 every batch is sealed inline by
#       the reader, so one batch is in flight and the pool never runs
#       dry: the overload stays in the kernel's queues.)
#
# Environment: E2E_FAULTS_CASES (default all of the above),
# E2E_FAULTS_EXIT_S (default 5).

. "$(dirname "$0")/netns.sh"

: "${E2E_FAULTS_CASES:=restart-pipe restart-go remove remove-go tundel ring ring16}"
: "${E2E_FAULTS_EXIT_S:=5}"

t_init
require_impl "$WGPIPE" "$WIREGUARD_GO"
require_cmd iperf3 iperf3
t_watchdog 900
make_hosts
make_keys

# --- helpers ------------------------------------------------------------

# show SIDE: wgpipe show into $T_TMP/show-SIDE; fails if it takes more
# than 5 s. SHOW_MS is how long it took.
show()
{
	local side=$1 t0
	t0=$(date +%s%N)
	timeout -k 1 5 "$WGPIPE" show "${WGIF[$side]}" >"$T_TMP/show-$side" 2>&1 ||
		fail "wgpipe show ${WGIF[$side]} failed or took over 5 s:" \
			"$(cat "$T_TMP/show-$side")"
	SHOW_MS=$((($(date +%s%N) - t0) / 1000000))
}

# value SIDE NAME: NAME in SIDE's latest show.
value() { awk -v n="$2" '$1 == n { print $2 }' "$T_TMP/show-$1"; }

idle_line()
{
	local s=$1
	echo "inflight_tx=$(value "$s" inflight_tx) inflight_rx=$(value "$s" inflight_rx)" \
		"pool_free=$(value "$s" pool_free)/$(value "$s" pool_batches)" \
		"peers_held=$(value "$s" peers_held)"
}

# wait_idle SIDE PEERS: within 10 s, nothing in flight, the pool full,
# PEERS peers held.
wait_idle()
{
	local side=$1 peers=$2 i
	for ((i = 0; i < 100; i++)); do
		show "$side"
		[ "$(value "$side" inflight_tx)" = 0 ] &&
			[ "$(value "$side" inflight_rx)" = 0 ] &&
			[ "$(value "$side" pool_free)" = "$(value "$side" pool_batches)" ] &&
			[ "$(value "$side" peers_held)" = "$peers" ] && return 0
		sleep 0.1
	done
	fail "$side not idle 10 s after the traffic: $(idle_line "$side")" \
		"(want $peers peer(s) held)"
}

# same_daemon SIDE PID: PID is still SIDE's daemon, the one we started.
same_daemon()
{
	[ "${PID[$1]}" = "$2" ] && kill -0 "$2" 2>/dev/null &&
		tr '\0' ' ' <"/proc/$2/cmdline" | grep -qF -- "${WGIF[$1]}"
}

# xfer_bg FROM TO ADDR SENDOPTS...: a TCP transfer in the background;
# xfer_end checks it. The receiver tolerates IDLE s without data.
xfer_bg()
{
	local from=$1 to=$2 addr=$3 idle=$4
	shift 4
	T_XPORT=$((T_XPORT + 1))
	BG_SEED=$((RANDOM * 32768 + RANDOM))
	BG_R="$T_TMP/bg-$T_XPORT.recv"
	BG_S="$T_TMP/bg-$T_XPORT.send"
	xfer_recv_start "$to" "$T_XPORT" "$BG_R" -i "$idle" -s "$BG_SEED"
	BG_RPID=$XFER_RECV_PID
	ip netns exec "${NS[$from]}" "$XFER" send "$@" "$addr" "$T_XPORT" 0 \
		"$BG_SEED" >"$BG_S" 2>&1 &
	BG_SPID=$!
	track "$BG_SPID"
}

# xfer_end SECONDS: the background transfer ends within SECONDS with
# equal byte counts and checksums. Sets BG_BYTES, BG_GAP_MS.
xfer_end()
{
	local sent got
	wait_pid "$BG_SPID" "$1" || fail "xfer send failed: $(cat "$BG_S")"
	wait_pid "$BG_RPID" "$1" || fail "xfer recv failed: $(cat "$BG_R")"
	sent=$(awk '/^sent/ { print $2, $4 }' "$BG_S")
	got=$(awk '/^received/ { print $2, $4 }' "$BG_R")
	[ -n "$sent" ] && [ "$sent" = "$got" ] ||
		fail "sent [$sent] but received [$got] $(grep first_mismatch "$BG_R")"
	BG_BYTES=${sent%% *}
	BG_GAP_MS=$(awk '/^received/ { print $6 }' "$BG_R")
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# --- restart ------------------------------------------------------------

# restart B_IMPL
run_restart()
{
	local impl=$2 pid_a hs0 hs1 ifb sock t0 t_up t_hs i name
	subtest_begin "$1"
	name=$(impl_name "$impl")
	say "---- restart: A=wgpipe, B=$name restarts mid-transfer"
	pair_up "$WGPIPE" "$impl" init=both
	ping_ok A "${TUN4[B]}" || fail "ping A -> B before the restart"
	pid_a=${PID[A]}
	hs0=$(latest_handshake A)
	[ -n "$hs0" ] && [ "$hs0" != 0 ] || fail "A has no handshake before the restart"
	xfer_bg A B "${TUN4[B]}" 60 -r 4000000 -t 12
	sleep 3
	kill -0 "$BG_SPID" 2>/dev/null || fail "the transfer ended before the restart"

	ifb=${WGIF[B]}
	sock="$UAPI_DIR/$ifb.sock"
	t0=$(now_ms)
	daemon_stop B
	[ -S "$sock" ] && fail "$name left its UAPI socket $sock after SIGTERM"
	mv "$T_TMP/daemon-$ifb.log" "$T_TMP/daemon-$ifb.log.1"
	DAEMON_IFNAME=$ifb daemon_start B "$impl"
	configure B A 4 no
	t_up=$(now_ms)
	say "B ($name) down and up again as $ifb in $((t_up - t0)) ms," \
		"same keys, port, peer and addresses"

	for ((i = 0; i < 400; i++)); do
		hs1=$(latest_handshake A)
		[ -n "$hs1" ] && [ "$hs1" -gt "$hs0" ] && break
		sleep 0.1
	done
	[ -n "$hs1" ] && [ "$hs1" -gt "$hs0" ] ||
		fail "A made no new handshake within 40 s of B's restart"
	t_hs=$(now_ms)
	pass "restart-$name: A's latest handshake advanced ($hs0 -> $hs1)," \
		"$((t_hs - t_up)) ms after B was back"
	xfer_end 90
	pass "restart-$name: the TCP transfer across the restart completed," \
		"checksums equal ($BG_BYTES bytes, longest pause $BG_GAP_MS ms)"
	same_daemon A "$pid_a" || fail "A's daemon is not pid $pid_a any more"
	pass "restart-$name: A kept running as pid $pid_a"
	ping_ok A "${TUN4[B]}" || fail "ping A -> B after the restart"
	xfer_check A B "${TUN4[B]}" 20000000
	pass "restart-$name: a new transfer after: $XFER_BYTES bytes at" \
		"$XFER_MBIT Mbit/s, checksums equal"
	echo "restart-$name|TCP A->B 4 MB/s; B stopped+started|$((BG_GAP_MS)) ms pause, 0 bytes|new handshake $((t_hs - t_up)) ms after B up; A pid $pid_a kept" \
		>>"$T_TMP/table"
	pair_down
}

# --- remove -------------------------------------------------------------

readd()
{
	wg_ A set "${WGIF[A]}" peer "${PUB[B]}" \
		allowed-ips "${TUN4[B]}/32,${TUN6[B]}/128" \
		endpoint "$(endpoint_of B 4)" ||
		fail "wg set: re-adding peer B failed"
}

# run_remove N B_IMPL
run_remove()
{
	local impl=$2 pid_a i n t0 lost name
	subtest_begin "$1"
	name=$(impl_name "$impl")
	say "---- remove: A's peer B ($name) removed and re-added during a transfer"
	pair_up "$WGPIPE" "$impl" init=both
	ping_ok A "${TUN4[B]}" || fail "ping A -> B before the removal"
	pid_a=${PID[A]}
	xfer_bg A B "${TUN4[B]}" 40 -t 10
	sleep 2
	for i in 1 2 3; do
		t0=$(now_ms)
		wg_ A set "${WGIF[A]}" peer "${PUB[B]}" remove ||
			fail "wg set: removing peer B failed"
		n=$(wg_ A show "${WGIF[A]}" peers | wc -l)
		[ "$n" = 0 ] || fail "A still lists $n peer(s) after the removal"
		sleep 0.3
		readd
		show A
		say "removal $i: re-added after $(($(now_ms) - t0)) ms;" \
			"peers_held=$(value A peers_held) inflight_tx=$(value A inflight_tx)"
		sleep 2
	done
	xfer_end 60
	pass "remove-$name: the transfer across 3 removals completed, checksums" \
		"equal ($BG_BYTES bytes, longest pause $BG_GAP_MS ms)"
	same_daemon A "$pid_a" || fail "A's daemon is not pid $pid_a any more"
	wait_idle A 1
	pass "remove-$name: A idle again: $(idle_line A)"
	lost=$(value A drop_staged)
	ping_ok A "${TUN4[B]}" || fail "ping A -> B after the removals"
	xfer_check A B "${TUN4[B]}" 20000000
	pass "remove-$name: a new transfer after: $XFER_BYTES bytes, checksums equal"

	echo "remove B=$name|TCP A->B full speed; 3x remove+re-add on A|drop_no_peer $(value A drop_no_peer), drop_staged $lost pkts; pause $BG_GAP_MS ms|no crash; idle: $(idle_line A | tr -d '\n')" \
		>>"$T_TMP/table"
	pair_down
	is_wggo "$impl" && return 0

	# Stop A right after a removal while its queues are full: whatever
	# the removed peer still holds must come back at teardown.
	for i in 1 2 3; do
		pair_up "$WGPIPE" "$WGPIPE" init=both
		ping_ok A "${TUN4[B]}" || fail "ping A -> B before removal $i"
		xfer_bg A B "${TUN4[B]}" 10 -t 6
		sleep 2
		wg_ A set "${WGIF[A]}" peer "${PUB[B]}" remove ||
			fail "wg set: removing peer B failed"
		daemon_stop A
		wait_pid "$BG_SPID" 15
		daemon_stop B
	done
	pass "remove: 3 times A stopped just after a removal mid-transfer; its" \
		"teardown took back every batch and freed every peer"
}

# --- TUN deleted --------------------------------------------------------

# tundel IMPL [FLAGS]: sets DEL_RC, DEL_MS.
tundel()
{
	local impl=$1 flags=${2:-} name sock ppid t0
	name=$(impl_name "$impl")
	pair_up "$impl" "$WGPIPE" init=both flagsA="$flags"
	ping_ok A "${TUN4[B]}" || fail "ping A -> B before the deletion"
	ip netns exec "${NS[A]}" ping -n -q -i 0.05 "${TUN4[B]}" >/dev/null 2>&1 &
	ppid=$!
	track "$ppid"
	sleep 1
	sock="$UAPI_DIR/${WGIF[A]}.sock"
	t0=$(now_ms)
	ip -n "${NS[A]}" link del "${WGIF[A]}" || fail "ip link del ${WGIF[A]}"
	wait_pid "${PID[A]}" "$E2E_FAULTS_EXIT_S"
	DEL_RC=$?
	DEL_MS=$(($(now_ms) - t0))
	[ "$DEL_RC" = 124 ] &&
		fail "tundel-$name: still running $E2E_FAULTS_EXIT_S s after ip link del"
	PID[A]=""
	say "$name exited with status $DEL_RC, $DEL_MS ms after ip link del"
	[ -S "$sock" ] && fail "tundel-$name: the UAPI socket $sock is still there"
	stop_pid "$ppid" 1
	DEL_LOG="$T_TMP/daemon-${WGIF[A]}.log"
	daemon_stop B
}

run_tundel()
{
	local go_rc go_ms n line flags
	subtest_begin "$1"
	say "---- tundel: the TUN device deleted under a running daemon"
	tundel "$WIREGUARD_GO"
	go_rc=$DEL_RC
	go_ms=$DEL_MS
	pass "tundel-wireguard-go: exits with status $go_rc after $go_ms ms," \
		"socket gone ($(grep -ciE 'shut|down|clos' "$DEL_LOG") shutdown lines)"
	for flags in "" "--no-offload all"; do
		tundel "$WGPIPE" "$flags"
		[ "$DEL_RC" = "$go_rc" ] ||
			fail "tundel: wgpipe $flags exited $DEL_RC, wireguard-go $go_rc"
		[ "$DEL_RC" = 0 ] || fail "tundel: wgpipe $flags exited $DEL_RC, not 0"
		n=$(grep -cE "interface ${WGIF[A]} was deleted.*; shutting down" "$DEL_LOG")
		[ "$n" = 1 ] || fail "tundel: wgpipe $flags logged $n lines about the" \
			"deleted interface, not 1: $(tail -n 20 "$DEL_LOG")"
		line=$(grep -E "interface ${WGIF[A]} was deleted" "$DEL_LOG")
		n=$(grep -c 'TUN' "$DEL_LOG")
		[ "$n" -le 4 ] || fail "tundel: $n log lines about the TUN device" \
			"(an error loop?): $(grep TUN "$DEL_LOG" | tail -n 5)"
		pass "tundel-wgpipe${flags:+ $flags}: exits with status $DEL_RC after" \
			"$DEL_MS ms, socket gone, one line: $line"
		echo "tundel wgpipe${flags:+ $flags}|ip link del under ping -i 0.05|the ping|rc $DEL_RC in $DEL_MS ms (wireguard-go rc $go_rc in $go_ms ms); log: ${line#*: *: }" \
			>>"$T_TMP/table"
	done
}

# --- full ring ----------------------------------------------------------

# probe_during SECONDS: every 2 s, wgpipe show A and a ping A -> B
# (at least one reply of 5 within 5 s). Sets PROBE_MAX_MS (the slowest
# show) and PING_MAX_MS (the slowest ping run).
probe_during()
{
	local end=$((SECONDS + $1)) t0 ms
	PROBE_MAX_MS=0
	PING_MAX_MS=0
	PROBES=0
	while [ $SECONDS -lt $end ]; do
		show A
		[ "$SHOW_MS" -gt "$PROBE_MAX_MS" ] && PROBE_MAX_MS=$SHOW_MS
		t0=$(now_ms)
		timeout -k 1 7 ip netns exec "${NS[A]}" ping -n -q -c 5 -i 0.2 -w 5 \
			"${TUN4[B]}" >"$T_TMP/ping-probe" 2>&1 ||
			fail "ring: no ping reply A -> B within 5 s during the flood:" \
				"$(tail -n 2 "$T_TMP/ping-probe")"
		ms=$(($(now_ms) - t0))
		[ "$ms" -gt "$PING_MAX_MS" ] && PING_MAX_MS=$ms
		PROBES=$((PROBES + 1))
		PING_LOSS=$(grep -o '[0-9.]*% packet loss' "$T_TMP/ping-probe")
		sleep 1
	done
}

kernel_drops()
{
	ip -n "${NS[$1]}" -s link show "$2" | awk '/TX:/ { getline; print $4 }'
}

# link_drops SIDE IF: packets IF dropped, received and sent.
link_drops()
{
	ip -n "${NS[$1]}" -s link show "$2" |
		awk '/RX:|TX:/ { getline; n += $4 } END { print n + 0 }'
}

# drops SIDE: the sum of SIDE's drop_* counters (from its latest show).
drops() { awk '$1 ~ /^drop_/ { n += $2 } END { print n + 0 }' "$T_TMP/show-$1"; }

udp_rcvbuf_errors()
{
	ip netns exec "${NS[$1]}" awk '/^Udp:/ { n++ } /^Udp:/ && n == 2 { print $6 }' /proc/net/snmp
}

run_ring()
{
	local flags=$2 dry=$3
	local pid_u pid_t pe pb fe dt ld lost total rb line s counted port
	subtest_begin "$1"
	say "---- ring: $flags on both hosts, flooded"
	pair_up "$WGPIPE" "$WGPIPE" init=both flagsA="$flags" flagsB="$flags"
	ping_ok A "${TUN4[B]}" || fail "ping A -> B before the flood"
	show A
	[ "$(value A pool_batches)" = 16 ] || fail "A's pool is $(value A pool_batches) batches, not 16"
	for port in 5301 5302; do
		ip netns exec "${NS[B]}" iperf3 -s -1 -p "$port" -B "${TUN4[B]}" \
			>"$T_TMP/iperf3-s-$port.log" 2>&1 &
		track $!
	done
	sleep 0.5
	ip netns exec "${NS[A]}" iperf3 -c "${TUN4[B]}" -p 5301 -u -b 2G -l 1200 \
		-t 10 -f m >"$T_TMP/iperf3-udp.log" 2>&1 &
	pid_u=$!
	track $pid_u
	ip netns exec "${NS[A]}" iperf3 -c "${TUN4[B]}" -p 5302 -P 4 -t 10 -f m \
		>"$T_TMP/iperf3-tcp.log" 2>&1 &
	pid_t=$!
	track $pid_t
	sleep 1
	probe_during 8
	pass "ring: during the flood wgpipe show answered $PROBES times" \
		"(slowest $PROBE_MAX_MS ms) and ping got replies (5 pings took at" \
		"most $PING_MAX_MS ms; last run: $PING_LOSS)"
	wait_pid $pid_u 30 || fail "iperf3 UDP failed: $(tail -n 5 "$T_TMP/iperf3-udp.log")"
	wait_pid $pid_t 30 || fail "iperf3 TCP failed: $(tail -n 5 "$T_TMP/iperf3-tcp.log")"
	line=$(grep receiver "$T_TMP/iperf3-udp.log" | tail -n 1)
	lost=$(echo "$line" | awk '{ for (i = 1; i < NF; i++) if ($i ~ /^[0-9]+\/[0-9]+$/) { split($i, a, "/"); print a[1], a[2] } }')
	total=${lost#* }
	lost=${lost%% *}
	say "iperf3 UDP: $(echo "$line" | awk '{ print $7, $8 }') received, lost $lost of $total"
	say "iperf3 TCP x4: $(grep 'SUM.*receiver' "$T_TMP/iperf3-tcp.log" | awk '{ print $6, $7 }')"
	for s in A B; do
		wait_idle "$s" 1
		say "$s after the flood: pool_empty_events=$(value "$s" pool_empty_events)" \
			"inflight_full_events_tx=$(value "$s" inflight_full_events_tx)" \
			"inflight_full_events_rx=$(value "$s" inflight_full_events_rx)" \
			"drop_pool_empty=$(value "$s" drop_pool_empty)"
	done
	show A
	pe=$(value A pool_empty_events)
	pb=$(value B pool_empty_events)
	fe=$(value A inflight_full_events_tx)
	dt=$(kernel_drops A "${WGIF[A]}")
	rb=$(udp_rcvbuf_errors B)
	ld=$(($(link_drops A "${WGIF[A]}") - dt + $(link_drops A ul0) +
		$(link_drops B ul0) + $(link_drops B "${WGIF[B]}")))
	counted=$((dt + rb + ld + $(drops A) + $(drops B)))
	say "kernel: TUN tx_dropped on A $dt, UDP RcvbufErrors on B $rb, other" \
		"link drops $ld; drop_* on A $(drops A), on B $(drops B);" \
		"iperf3 UDP lost $lost"
	[ -n "$lost" ] && [ "$lost" -le "$counted" ] ||
		fail "ring: iperf3 lost [$lost] datagrams but only $counted drops" \
			"were counted (kernel and daemon): a silent loss"
	pass "ring: every lost datagram is counted: lost $lost <= counted $counted"
	# With --batch-size 1 every batch is sealed inline by the reader
	# (WG_INLINE_MAX), so one batch is in flight and the pool cannot
	# run dry: the overload stays in the kernel's queues.
	if [ "$dry" = yes ]; then
		[ $((pe + fe + pb)) -gt 0 ] ||
			fail "ring: the 16 batches never ran dry under a 2 Gbit/s" \
				"flood (A pool_empty_events $pe, inflight_full_events_tx" \
				"$fe; B pool_empty_events $pb)"
		pass "ring: the shortage is counted: A pool_empty_events=$pe," \
			"inflight_full_events_tx=$fe; B pool_empty_events=$pb"
	fi
	pass "ring: both idle after the flood: A $(idle_line A)"
	ping_ok A "${TUN4[B]}" || fail "ring: ping A -> B after the flood"
	xfer_check A B "${TUN4[B]}" 20000000
	pass "ring: a transfer after the flood: $XFER_BYTES bytes at $XFER_MBIT" \
		"Mbit/s, checksums equal"
	echo "ring $flags|iperf3 UDP 2G + TCP x4, 10 s|UDP $lost/$total lost; TUN tx_dropped A $dt; RcvbufErrors B $rb|pool_empty_events A $pe B $pb, inflight_full_tx A $fe; show <= $PROBE_MAX_MS ms; ping ok" \
		>>"$T_TMP/table"
	pair_down
}

# --- main ---------------------------------------------------------------

status=0
n=0
: >"$T_TMP/table"
for c in $E2E_FAULTS_CASES; do
	n=$((n + 1))
	case $c in
	restart-pipe) (run_restart $n "$WGPIPE") || status=1 ;;
	restart-go) (run_restart $n "$WIREGUARD_GO") || status=1 ;;
	remove) (run_remove $n "$WGPIPE") || status=1 ;;
	remove-go) (run_remove $n "$WIREGUARD_GO") || status=1 ;;
	tundel) (run_tundel $n) || status=1 ;;
	ring) (run_ring $n "--batches 16 --batch-size 1 --max-inflight 64" no) || status=1 ;;
	ring16) (run_ring $n "--batches 16 --batch-size 16 --max-inflight 256" yes) || status=1 ;;
	*) fail "unknown case $c" ;;
	esac
done
say "fault | load | lost | how the daemon answered"
while IFS= read -r line; do say "$line"; done <"$T_TMP/table"
exit $status
