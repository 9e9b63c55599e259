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
#   ring, ring16  tiny pools on both hosts (B without UDP_GRO, so that
#       its socket's drops count datagrams) (--batches 16 --max-inflight
#       64 --batch-size 1, the smallest the flags allow; then
#       --batch-size 16 --max-inflight 256 --crypto-workers 2), flooded
#       first with a numbered UDP stream alone (t/tools/udpseq, 2 Gbit/s of 1200-byte
#       datagrams for E2E_FAULTS_FLOOD_S s): every datagram that did not
#       arrive is counted by one of the drop counters on its way (A's TUN
#       tx_dropped and queueing discipline, the daemons' drop_ counters,
#       the veth's drops, the drops of B's UDP sockets, B's TUN
#       rx_dropped),
#       taken before and after the stream, and hardly more are counted
#       (the probes' pings aside), and every one that arrived has its
#       length and payload; then with UDP (iperf3 -b 2G) and four TCP
#       streams at once for 10 s. Throughout, wgpipe show answers within
#       5 s and at least one of 5 pings within 5 s (times T_SCALE); with
#       --batch-size 16 the pool runs dry and that is counted
#       (pool_empty_events); afterwards the counters come back to idle
#       and a TCP transfer completes with equal checksums. (With
#       --batch-size 1 every batch is sealed inline by the reader, so one
#       batch is in flight and the pool never runs dry: the overload
#       stays in the kernel's queues.)
#
# Environment: E2E_FAULTS_CASES (default all of the above),
# E2E_FAULTS_EXIT_S (default 5), E2E_FAULTS_FLOOD_S (default 10).

. "$(dirname "$0")/netns.sh"

: "${E2E_FAULTS_CASES:=restart-pipe restart-go remove remove-go tundel ring ring16}"
: "${E2E_FAULTS_EXIT_S:=5}"
: "${E2E_FAULTS_FLOOD_S:=10}"

t_init
require_impl "$WGPIPE" "$WIREGUARD_GO"
require_cmd iperf3 iperf3
require_cmd tc iproute2
UDPSEQ=$(tool udpseq) || exit 1
t_watchdog 900
make_hosts
# A's TCP senders retry at least every 3 s where the kernel lets a
# namespace cap the backoff (6.15 on): after B's restart, A's transfer
# then resumes within 3 s of the new handshake instead of waiting out a
# doubled timeout of up to 12.8 s. What is checked stays the same.
ip netns exec "${NS[A]}" sysctl -qw net.ipv4.tcp_rto_max_ms=3000 2>/dev/null ||
	say "this kernel has no net.ipv4.tcp_rto_max_ms: TCP's usual backoff"
make_keys

# --- helpers ------------------------------------------------------------

# show SIDE: wgpipe show into $T_TMP/show-SIDE; fails if it takes more
# than SHOW_LIMIT s (5, times T_SCALE). SHOW_MS is how long it took.
SHOW_LIMIT=$((5 * T_SCALE))
show()
{
	local side=$1 t0
	t0=$(date +%s%N)
	timeout -k 1 "$SHOW_LIMIT" "$WGPIPE" show "${WGIF[$side]}" >"$T_TMP/show-$side" 2>&1 ||
		fail "wgpipe show ${WGIF[$side]} failed or took over $SHOW_LIMIT s:" \
			"$(cat "$T_TMP/show-$side")"
	SHOW_MS=$((($(date +%s%N) - t0) / 1000000))
}

# value SIDE NAME: NAME in SIDE's latest show (the device's table, before
# the peers' paragraphs).
value() { awk -v n="$2" 'NF == 0 { exit } $1 == n { print $2 }' "$T_TMP/show-$1"; }

idle_line()
{
	local s=$1
	echo "inflight_tx=$(value "$s" inflight_tx) inflight_rx=$(value "$s" inflight_rx)" \
		"pool_free=$(value "$s" pool_free)/$(value "$s" pool_batches)" \
		"peers_held=$(value "$s" peers_held)"
}

# wait_idle SIDE PEERS: within 10 s (times T_SCALE), nothing in flight,
# the pool full, PEERS peers held.
wait_idle()
{
	local side=$1 peers=$2 i
	for ((i = 0; i < 100 * T_SCALE; i++)); do
		show "$side"
		[ "$(value "$side" inflight_tx)" = 0 ] &&
			[ "$(value "$side" inflight_rx)" = 0 ] &&
			[ "$(value "$side" pool_free)" = "$(value "$side" pool_batches)" ] &&
			[ "$(value "$side" peers_held)" = "$peers" ] && return 0
		sleep 0.1
	done
	fail "$side not idle $((10 * T_SCALE)) s after the traffic: $(idle_line "$side")" \
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
		fail "sent [$sent] but received [$got] $(grep mismatch "$BG_R" | tr "\n" " ")"
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

# probe_during SECONDS: every 2 s, wgpipe show A (it must answer within
# SHOW_LIMIT s) and 5 pings A -> B, of which at least one must be
# answered within 5 s (times T_SCALE): the overload may drop the others.
# Sets PROBE_MAX_MS (the slowest show), PING_MAX_MS (the slowest ping
# run), PING_MIN (the fewest replies of a run).
probe_during()
{
	local end=$((SECONDS + $1)) t0 ms got w=$((5 * T_SCALE))
	PROBE_MAX_MS=0
	PING_MAX_MS=0
	PING_MIN=5
	PROBES=0
	while [ $SECONDS -lt $end ]; do
		show A
		[ "$SHOW_MS" -gt "$PROBE_MAX_MS" ] && PROBE_MAX_MS=$SHOW_MS
		t0=$(now_ms)
		timeout -k 1 $((w + 2)) ip netns exec "${NS[A]}" ping -n -q -c 5 \
			-i 0.2 -w "$w" "${TUN4[B]}" >"$T_TMP/ping-probe" 2>&1
		ms=$(($(now_ms) - t0))
		got=$(awk '/packets transmitted/ { print $4 }' "$T_TMP/ping-probe")
		[ "${got:-0}" -ge 1 ] ||
			fail "ring: none of 5 pings A -> B answered within $w s" \
				"during the flood: $(tail -n 2 "$T_TMP/ping-probe")"
		[ "$ms" -gt "$PING_MAX_MS" ] && PING_MAX_MS=$ms
		[ "$got" -lt "$PING_MIN" ] && PING_MIN=$got
		PROBES=$((PROBES + 1))
		sleep 1
	done
}

# ifstat SIDE DEV FIELD: the kernel's counter for an interface.
ifstat() { nsx "$1" cat "/sys/class/net/$2/statistics/$3"; }

# qdisc_drops SIDE DEV: what DEV's root queueing discipline dropped.
qdisc_drops()
{
	tc -n "${NS[$1]}" -s qdisc show dev "$2" |
		awk '/dropped/ { sub(/,/, "", $7); print $7 + 0; exit } END { if (!NR) print 0 }'
}

# drops SIDE: the sum of SIDE's drop_* counters (from its latest show).
drops() { awk 'NF == 0 { exit } $1 ~ /^drop_/ { n += $2 } END { print n + 0 }' "$T_TMP/show-$1"; }

# socket_drops SIDE: what the kernel dropped on SIDE's UDP sockets for
# a full receive buffer, per datagram (the drops column of
# /proc/net/udp{,6}, with B's daemon reading without UDP_GRO: on a
# UDP_GRO socket the kernel counts a coalesced run of datagrams as one
# drop, here and in Udp RcvbufErrors).
socket_drops()
{
	nsx "$1" awk 'FNR > 1 { n += $NF } END { print n + 0 }' \
		/proc/net/udp /proc/net/udp6
}

# loss_counters FILE: every place a datagram of A's stream to B can be
# dropped and counted, on the way A (TUN, daemon, underlay) -> B
# (underlay, sockets, daemon, TUN), as "name value" lines.
loss_counters()
{
	show A
	show B
	{
		echo "A.tun_tx_dropped $(ifstat A "${WGIF[A]}" tx_dropped)"
		echo "A.qdisc_dropped $(qdisc_drops A "${WGIF[A]}")"
		echo "A.drop_* $(drops A)"
		echo "A.ul0_tx_dropped $(ifstat A ul0 tx_dropped)"
		echo "B.ul0_rx_dropped $(ifstat B ul0 rx_dropped)"
		echo "B.udp_socket_drops $(socket_drops B)"
		echo "B.drop_* $(drops B)"
		echo "B.tun_rx_dropped $(ifstat B "${WGIF[B]}" rx_dropped)"
	} >"$1"
}

# udp_flood_alone: a numbered stream of 1200-byte datagrams, 2 Gbit/s
# for E2E_FAULTS_FLOOD_S seconds, A -> B, nothing else running but the
# probes; every datagram that did not arrive must be counted by a drop
# counter between A's socket and B's, and not many more counted than
# lost. Sets FLOOD_LINE.
udp_flood_alone()
{
	local port=$((T_XPORT + 50)) n=$((200000 * E2E_FAULTS_FLOOD_S)) rpid spid
	local out="$T_TMP/flood.recv" received lost counted dups malformed
	local name b a diff slack line
	loss_counters "$T_TMP/loss.before"
	udpseq_recv_start B "$out" -4 -l 1200 -w 20 "$port" "$n" $((2000 * T_SCALE))
	rpid=$UDPSEQ_RECV_PID
	ip netns exec "${NS[A]}" "$UDPSEQ" send -r 200000 -b 64 "${TUN4[B]}" \
		"$port" "$n" 1200 >"$T_TMP/flood.send" 2>&1 &
	spid=$!
	track $spid
	sleep 1
	probe_during $((E2E_FAULTS_FLOOD_S - 2))
	wait_pid $spid 120 || fail "udpseq send: $(cat "$T_TMP/flood.send")"
	wait_pid $rpid $((30 * T_SCALE)) || fail "udpseq recv: $(cat "$out")"
	for s in A B; do wait_idle "$s" 1; done
	loss_counters "$T_TMP/loss.after"
	read -r _ received _ _ _ dups _ lost _ malformed < <(grep '^received' "$out")
	# The receiver's own socket is gone by now: it said what it dropped.
	a=$(awk '/^socket_drops/ { print $2 }' "$out")
	counted=${a:-0}
	line=" udpseq_socket_drops +$counted"
	[ -n "$received" ] && [ "$received" -gt 0 ] ||
		fail "ring: the stream alone: nothing arrived: $(cat "$out")"
	[ "$dups" = 0 ] && [ "$malformed" = 0 ] ||
		fail "ring: the stream alone: $(cat "$out")"
	while read -r name b; do
		a=$(awk -v n="$name" '$1 == n { print $2 }' "$T_TMP/loss.after")
		counted=$((counted + a - b))
		line+=" $name +$((a - b))"
	done <"$T_TMP/loss.before"
	say "the stream alone: $(grep '^received' "$out"); counted:$line"
	# Counted beyond what was lost: probe pings (and their replies) the
	# overload dropped, and a tail of the stream dropped after the last
	# datagram that arrived (1 %).
	slack=$((10 * PROBES + lost / 100 + 10))
	diff=$((counted - lost))
	[ "$diff" -ge 0 ] ||
		fail "ring: the stream alone lost $lost of $n datagrams, but only" \
			"$counted drops were counted on the way: $((-diff)) lost" \
			"silently ($line )"
	[ "$diff" -le "$slack" ] ||
		fail "ring: the stream alone lost $lost of $n datagrams, but" \
			"$counted drops were counted, $diff more (at most $slack):" \
			"counted twice? ($line )"
	pass "ring: the UDP flood alone: $lost of $n datagrams lost, $counted" \
		"drops counted (every one, $diff more: probes); every datagram" \
		"that arrived had its length and payload"
	pass "ring: during it wgpipe show answered $PROBES times (slowest" \
		"$PROBE_MAX_MS ms), at least $PING_MIN of 5 pings every time" \
		"(slowest run $PING_MAX_MS ms)"
	FLOOD_LINE="UDP alone $lost/$n lost, $counted counted"
}

run_ring()
{
	local flags=$2 dry=$3
	local pid_u pid_t pe pb fe line port
	subtest_begin "$1"
	say "---- ring: $flags on both hosts, flooded"
	# B reads without UDP_GRO: the kernel counts a drop on a UDP_GRO
	# socket once per coalesced run of datagrams, so the lost datagrams
	# could not be told from the counted ones.
	pair_up "$WGPIPE" "$WGPIPE" init=both flagsA="$flags" \
		flagsB="$flags --no-offload udp-gro"
	ping_ok A "${TUN4[B]}" || fail "ping A -> B before the flood"
	show A
	[ "$(value A pool_batches)" = 16 ] || fail "A's pool is $(value A pool_batches) batches, not 16"
	udp_flood_alone

	# Then UDP and TCP together: the pool must not wedge, the shortage
	# is counted, the probes still get answers.
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
	pass "ring: under UDP and 4 TCP streams, wgpipe show answered $PROBES" \
		"times (slowest $PROBE_MAX_MS ms), at least $PING_MIN of 5 pings" \
		"every time (slowest run $PING_MAX_MS ms)"
	wait_pid $pid_u 30 || fail "iperf3 UDP failed: $(tail -n 5 "$T_TMP/iperf3-udp.log")"
	wait_pid $pid_t 30 || fail "iperf3 TCP failed: $(tail -n 5 "$T_TMP/iperf3-tcp.log")"
	line=$(grep receiver "$T_TMP/iperf3-udp.log" | tail -n 1)
	say "iperf3 UDP: $(echo "$line" | awk '{ print $7, $8 }') received"
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
	echo "ring $flags|UDP 2G alone, then with TCP x4, 10 s each|$FLOOD_LINE|pool_empty_events A $pe B $pb, inflight_full_tx A $fe; show <= $PROBE_MAX_MS ms; ping ok" \
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
	# Two crypto workers, as on two CPUs by default: with none, each
	# reader seals or opens its batch before it reads the next, so
	# the pool cannot run dry either.
	ring16) (run_ring $n "--batches 16 --batch-size 16 --max-inflight 256 --crypto-workers 2" yes) || status=1 ;;
	*) fail "unknown case $c" ;;
	esac
done
say "fault | load | lost | how the daemon answered"
while IFS= read -r line; do say "$line"; done <"$T_TMP/table"
exit $status
