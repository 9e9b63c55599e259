#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Interoperability with the Linux kernel's WireGuard module, the
# reference implementation. wgpipe runs on host A, a network namespace;
# the module runs on host B, a QEMU guest booted from Debian 12's kernel
# package with an initramfs made from this machine's binaries
# (t/e2e/guest.sh says how, and where the package is cached). A tap
# device in A's namespace is the guest's eth0; wg(8) in the guest
# configures the module. Each case has a fresh wgpipe and a fresh wg0 in
# the guest (E2E_KERNEL_CASES, default all):
#
#   ul4-initB ul4-initA ul6-initB ul6-initA
#     Over an IPv4 or an IPv6 underlay, the guest (B) or wgpipe (A)
#     initiating, with a preshared key. The initiator's first ping makes
#     the handshake (only it knows the other's endpoint; the time to the
#     first echo reply is printed). Both sides see the handshake; ping
#     over IPv4 and IPv6 both ways; wg show on the two sides agrees on
#     the handshake's age (within 2 s) and, to the byte, on what each
#     sent and received. A TCP transfer each way for E2E_KERNEL_XFER_S
#     seconds, checksums equal, size and rate printed.
#     A rekey: wgpipe runs with WGPIPE_TEST_REKEY_AFTER_TIME=2, so when
#     it initiated, both sides see new handshakes during the transfers
#     (one each REKEY_TIMEOUT, 5 s, at most: at least 2 asserted).
#     As the responder wgpipe does not rekey by time (nor does the
#     module), so when the guest initiated, the guest starts a new
#     session while the old one stands (wg0 down and up: the module drops
#     its keys and keeps the peer) and wgpipe, the responder, moves to it.
#     Roaming: the guest moves to another port (wg set listen-port: a new
#     socket), then to another address; wgpipe follows each (wg show
#     endpoints) and reaches the guest there. Then wg show agrees again,
#     wgpipe counted no undecryptable or malformed packet and sent no
#     cookie reply, and the guest's wg0 counted no receive error.
#
#   cookie-initB cookie-initA
#     wgpipe under load: started with its smallest batch pool (16) and
#     flooded from its own namespace with handshake initiations whose
#     MAC1 is for another key. They fill its handshake queue past the
#     eighth that means "under load" (wgpipe checks MAC1 in its handshake
#     worker, as the kernel does) and are dropped unanswered, so every
#     cookie reply wgpipe sends (handshake_cookies_sent) goes to the
#     guest. cookie-initB: the guest's initiation gets a cookie reply,
#     the module's retry 5 s later carries MAC2 and gets through.
#     cookie-initA: wgpipe initiates, the module's response gets the
#     cookie reply, and its response to wgpipe's retry carries MAC2. The
#     guest's kernel log (the module's debug messages) shows the cookie
#     arriving and the retry; wgpipe counts the cookie replies; the byte
#     counts differ by exactly the handshake messages refused for a
#     cookie or lost in the flood (counted from both sides' logs).
#
#   badpsk
#     The control: the guest holds another preshared key. wgpipe answers
#     the guest's initiation, the module refuses the answer: no handshake
#     on either side and no ping, so the checks above can fail.
#
# E2E_KERNEL_FULL=1 is the full run (about 12 minutes; the default, CI's,
# takes about 3): transfers of 60 s, and in ul4-initB the transfer from
# the guest lasts 130 s, past the module's own REKEY_AFTER_TIME (120 s),
# so the module rekeys under load and wgpipe follows.
#
#   E2E_KERNEL_CASES   the cases to run (default: all of the above)
#   E2E_KERNEL_XFER_S  seconds of each transfer (default 6; full: 60)
#   E2E_KERNEL_FULL=1  the full run
# and those of t/e2e/guest.sh (kernel package, cache, QEMU).

# shellcheck disable=SC2015 # "A && B || fail" is meant
# shellcheck source=t/e2e/netns.sh
. "$(dirname "$0")/netns.sh"
# shellcheck source=t/e2e/guest.sh
. "$(dirname "$0")/guest.sh"

E2E_LOG_LEVEL=verbose # the daemon's log is part of the report
t_init
T_BEGIN=$SECONDS # after the wait for other end-to-end tests
require_impl "$WGPIPE"
guest_require
FLOOD=$(tool flood) || exit 1
: "${E2E_KERNEL_CASES:=ul4-initB ul4-initA ul6-initB ul6-initA cookie-initB cookie-initA badpsk}"
if [ "${E2E_KERNEL_FULL:-0}" = 1 ]; then
	: "${E2E_KERNEL_XFER_S:=60}"
	KREKEY_S=130
else
	: "${E2E_KERNEL_XFER_S:=6}"
	KREKEY_S=0
fi
REKEY_AFTER=2 # WGPIPE_TEST_REKEY_AFTER_TIME
t_watchdog $((300 + 8 * (2 * E2E_KERNEL_XFER_S + 40) + KREKEY_S))
T_DUMP_EXTRA=guest_dump
make_keys
guest_kernel
guest_initramfs

# Host A: a namespace; its end of the tap carries the underlay.
NS[A]="wgp-$T_NAME-$$-a"
TAP="tap$$"
ip netns add "${NS[A]}" && ip -n "${NS[A]}" link set lo up ||
	fail "ip netns add ${NS[A]}"
guest_boot "${NS[A]}" "$TAP"
ip -n "${NS[A]}" addr add "${UL4[A]}/24" dev "$TAP" &&
	ip -n "${NS[A]}" addr add "${UL6[A]}/64" dev "$TAP" nodad ||
	fail "cannot address $TAP"
g "echo 1 >/proc/sys/net/ipv4/conf/eth0/promote_secondaries" >/dev/null ||
	fail "guest: cannot set promote_secondaries"
# Keys into the guest (files, as wg wants them).
g "umask 077; echo $(cat "${KEY[B]}") >/tmp/key; echo $(cat "$PSK") >/tmp/psk;" \
	"wg genpsk >/tmp/otherpsk" >/dev/null || fail "guest: cannot write keys"
say "guest: $(g "uname -sr; uname -v; echo wireguard module \$(cat /sys/module/wireguard/version)," \
	"srcversion \$(cat /sys/module/wireguard/srcversion)" | paste -sd ' ')"

# --- the guest's side -------------------------------------------------

# gq COMMAND...: g, failing the test when COMMAND fails.
gq()
{
	g "$@" || fail "guest: '$*' failed (status $?)"
}

# guest_reset: eth0 at its first addresses, no wg0, a fresh kernel log.
guest_reset()
{
	g -t 30 true >/dev/null # whatever a failed case left unread
	gq "ip link del wg0 2>/dev/null; ip -4 addr flush dev eth0;" \
		"ip -6 addr flush dev eth0 scope global;" \
		"ip addr add ${UL4[B]}/24 dev eth0 &&" \
		"ip addr add ${UL6[B]}/64 dev eth0 nodad && dmesg -c >/dev/null" >/dev/null
}

# guest_wg PSKFILE ENDPOINT|none: wg0 in the guest, A its peer.
guest_wg()
{
	local psk=$1 ep=$2 args
	args="peer ${PUB[A]} allowed-ips ${TUN4[A]}/32,${TUN6[A]}/128"
	[ "$psk" != none ] && args+=" preshared-key $psk"
	[ "$ep" != none ] && args+=" endpoint $ep"
	gq "ip link add wg0 type wireguard &&" \
		"wg set wg0 private-key /tmp/key listen-port ${PORT[B]} $args &&" \
		"ip addr add ${TUN4[B]}/24 dev wg0 &&" \
		"ip addr add ${TUN6[B]}/64 dev wg0 nodad && ip link set wg0 up" >/dev/null
}

# peer_state: each side's view of the other, from wg show dump, with
# each side's clock: A_EP A_HS A_RX A_TX A_AGE, and B_HS B_RX B_TX B_AGE.
peer_state()
{
	local now
	now=$(date +%s)
	read -r A_EP A_HS A_RX A_TX < <(wg_ A show "${WGIF[A]}" dump |
		awk -v k="${PUB[B]}" '$1 == k { print $3, $5, $6, $7 }')
	A_AGE=$((now - ${A_HS:-0}))
	read -r now B_HS B_RX B_TX < <(g "date +%s; wg show wg0 dump" |
		awk -v k="${PUB[A]}" 'NR == 1 { now = $1 }
			$1 == k { print now, $5, $6, $7 }')
	B_AGE=$((now - ${B_HS:-0}))
}

# agree [B_EXTRA A_EXTRA [B_KEEPALIVES]]: wg show on both sides agrees:
# a handshake on both, of the same age within 2 s; what one sent the
# other received, but for B_EXTRA (A_EXTRA) bytes that B (A) sent and
# the other refused by design, and up to B_KEEPALIVES of B's 32-byte
# keepalives (sent while A's socket was flooded: lost there, or not).
# Tried for two seconds, for a packet on its way. AGREE says what was
# seen.
agree()
{
	local bx=${1:-0} ax=${2:-0} bk=${3:-0} i d k
	AGREE_KA=0
	for ((i = 0; i < 8; i++)); do
		peer_state
		AGREE="A: handshake ${A_AGE} s ago, sent $A_TX received $A_RX;"
		AGREE+=" B: handshake ${B_AGE} s ago, sent $B_TX received $B_RX"
		d=$((A_AGE - B_AGE))
		k=$((B_TX - bx - ${A_RX:-0}))
		[ "${A_HS:-0}" != 0 ] && [ "${B_HS:-0}" != 0 ] &&
			[ "${d#-}" -le 2 ] &&
			[ "$((A_TX - ax))" = "${B_RX:-x}" ] &&
			[ -n "${A_RX:-}" ] && [ "$k" -ge 0 ] && [ $((k % 32)) = 0 ] &&
			[ $((k / 32)) -le "$bk" ] && AGREE_KA=$((k / 32)) && return 0
		sleep 0.25
	done
	return 1
}

# g_hs: the guest's latest handshake with A (epoch seconds, 0: none).
g_hs()
{
	g "wg show wg0 latest-handshakes" | awk -v k="${PUB[A]}" '$1 == k { print $2 }'
}

# g_ping ADDR [COUNT [WAIT]]: ping from the guest, waiting at most WAIT
# seconds (default 30) for the replies; G_RTT is the first reply's round
# trip in ms.
g_ping()
{
	local out
	out=$(g -t 40 "ping -c ${2:-3} -W ${3:-30} $1") || return 1
	G_RTT=$(sed -n 's/.* time=\([0-9.]*\) ms.*/\1/p' <<<"$out" | head -n 1)
	[ -n "$G_RTT" ]
}

# a_ping ADDR: one ping from A; A_RTT as G_RTT.
a_ping()
{
	local out
	out=$(timeout -k 2 40 ip netns exec "${NS[A]}" ping -n -c 1 -W 30 "$1") ||
		return 1
	A_RTT=$(sed -n 's/.* time=\([0-9.]*\) ms.*/\1/p' <<<"$out" | head -n 1)
}

# flood_ping FROM ADDR: 8 pings a second apart, from the guest (FROM B)
# or from A, while A's socket is flooded, for FLOOD_PING_S seconds at
# most from the guest; A's waits that long for a first reply after its
# eighth request. The flood overflows A's socket buffer, so a packet on its way to
# A is a lottery: one ping would fail the test for a loss no
# implementation could prevent (the kernel module drops in the same
# place). The first pings wait in the initiator's queue for the
# handshake. Sets FP_TOOK, ms from the first ping to the first reply
# (its sequence number times the interval plus its round trip), and
# FP_LOST, the pings without a reply: each a 128-byte message from B
# that A never counted (the request on its way to A, or the reply).
# Fails without any reply. (ping's status says whether all 8 came back
# before the deadline: not asked.)
FLOOD_PING_S=14
flood_ping()
{
	local out sent got
	if [ "$1" = B ]; then
		out=$(g -t 50 "ping -c 8 -w $FLOOD_PING_S $2")
	else
		# -W, not -w: iputils with a deadline sends on past 8 until 8
		# replies came, and the replies to those extra requests, which
		# A counts, come after ping has gone; with -W it sends 8 and
		# waits for their replies.
		out=$(timeout -k 2 50 ip netns exec "${NS[A]}" \
			ping -n -c 8 -W "$FLOOD_PING_S" "$2")
	fi
	# busybox numbers from seq=0, iputils from icmp_seq=1.
	FP_TOOK=$(sed -n 's/.* \(icmp_\)\{0,1\}seq=\([0-9]*\) .* time=\([0-9.]*\) ms.*/\1 \2 \3/p' <<<"$out" |
		head -n 1 | awk 'NF == 2 { print $1 * 1000 + $2 } NF == 3 { print ($2 - 1) * 1000 + $3 }')
	sent=$(sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p' <<<"$out")
	got=$(sed -n 's/^[0-9]* packets transmitted, \([0-9]*\) \(packets \)\{0,1\}received.*/\1/p' <<<"$out")
	[ -n "$FP_TOOK" ] && [ -n "$sent" ] && [ -n "$got" ] || {
		say "flood_ping: cannot read ping's output: $out"
		return 1
	}
	FP_LOST=$((sent - got))
}

# show_a FILE: wgpipe's counters on A; ctr FILE NAME: one of them.
show_a() { timeout -k 2 10 ip netns exec "${NS[A]}" "$WGPIPE" show "${WGIF[A]}" >"$1"; }
ctr() { awk -v n="$2" 'NF == 0 { exit } $1 == n { print $2 }' "$1"; }

# guest_ifstats: the guest's wg0 counters (ip -s link), one line.
guest_ifstats()
{
	g "cat /sys/class/net/wg0/statistics/rx_packets /sys/class/net/wg0/statistics/rx_errors" \
		"/sys/class/net/wg0/statistics/rx_dropped /sys/class/net/wg0/statistics/tx_packets" \
		"/sys/class/net/wg0/statistics/tx_errors /sys/class/net/wg0/statistics/tx_dropped" |
		paste -sd ' ' | awk '{ printf "rx_packets %s rx_errors %s rx_dropped %s tx_packets %s tx_errors %s tx_dropped %s\n", $1, $2, $3, $4, $5, $6 }'
}

# --- transfers --------------------------------------------------------

# xfer_timed FROM SECONDS: a TCP transfer from FROM to the other host for
# SECONDS (A -> B to B's tunnel IPv4 address, B -> A to A's IPv6 one),
# each side's latest handshake sampled once a second. Fails unless both
# ends report the same bytes and checksum. Sets X_BYTES, X_MBIT, X_GAP
# (longest pause at the receiver, ms) and adds to HS_CHANGES_A and
# HS_CHANGES_B how often each side's latest handshake changed.
xfer_timed()
{
	local from=$1 secs=$2 port seed lastA lastB a b i sent got rline spid=""
	T_XPORT=$((T_XPORT + 1))
	port=$T_XPORT
	seed=$((RANDOM * 32768 + RANDOM))
	lastA=$(latest_handshake A)
	lastB=$(g_hs)
	if [ "$from" = A ]; then
		g "xfer recv -i 20 -s $seed $port >/tmp/recv.$port 2>&1 &" \
			"for i in 1 2 3 4 5 6 7 8 9 10; do" \
			"grep -q ^listening /tmp/recv.$port && break; sleep 0.3; done;" \
			"cat /tmp/recv.$port" | grep -q '^listening' ||
			fail "xfer receiver in the guest did not start"
		ip netns exec "${NS[A]}" "$XFER" send -t "$secs" "${TUN4[B]}" \
			"$port" 0 "$seed" >"$T_TMP/send.$port" 2>&1 &
		spid=$!
		track "$spid"
	else
		xfer_recv_start A "$port" "$T_TMP/recv.$port" -i 20 -s "$seed"
		gq "xfer send -t $secs ${TUN6[A]} $port 0 $seed >/tmp/send.$port 2>&1 &"
	fi
	for ((i = 0; i < secs + 40; i++)); do
		sleep 1
		a=$(latest_handshake A)
		b=$(g_hs)
		[ -n "$a" ] && [ "$a" != "$lastA" ] && HS_CHANGES_A=$((HS_CHANGES_A + 1)) lastA=$a
		[ -n "$b" ] && [ "$b" != "$lastB" ] && HS_CHANGES_B=$((HS_CHANGES_B + 1)) lastB=$b
		if [ "$from" = A ]; then
			kill -0 "$spid" 2>/dev/null || break
		else
			g "grep -q -e ^sent -e ^xfer /tmp/send.$port" && break
		fi
	done
	if [ "$from" = A ]; then
		wait_pid "$spid" 10 || fail "xfer send on A failed: $(cat "$T_TMP/send.$port")"
		sent=$(cat "$T_TMP/send.$port")
		for ((i = 0; i < 60; i++)); do
			rline=$(g "cat /tmp/recv.$port" | grep -e '^received' -e '^xfer')
			[ -n "$rline" ] && break
			sleep 0.5
		done
	else
		sent=$(g "cat /tmp/send.$port")
		wait_pid "$XFER_RECV_PID" 30 ||
			fail "xfer receiver on A failed: $(cat "$T_TMP/recv.$port")"
		rline=$(grep -e '^received' -e '^xfer' "$T_TMP/recv.$port")
	fi
	got=$(awk '/^received/ { print $2, $4 }' <<<"$rline")
	X_GAP=$(awk '/^received/ { print $6 }' <<<"$rline")
	X_MBIT=$(awk '/^received/ { print $10 }' <<<"$rline")
	sent=$(awk '/^sent/ { print $2, $4 }' <<<"$sent")
	[ -n "$sent" ] && [ "$sent" = "$got" ] ||
		fail "xfer $from -> $(other "$from"): sent [$sent], received [$got] ($rline)"
	X_BYTES=${sent%% *}
}

# mb BYTES: in MB, one decimal.
mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1e6 }'; }

# --- the cases ----------------------------------------------------------

# start_a [FLAGS...]: wgpipe on A, knowing B's endpoint when A initiates.
start_a()
{
	local ep=none
	daemon_start A "$WGPIPE" "$@"
	[ "$INIT" = A ] && ep=$(endpoint_of B "$UL")
	local args=(peer "${PUB[B]}" allowed-ips "${TUN4[B]}/32,${TUN6[B]}/128")
	[ "$ep" != none ] && args+=(endpoint "$ep")
	[ "$CASE_PSK" = yes ] && args+=(preshared-key "$PSK")
	wg_ A set "${WGIF[A]}" private-key "${KEY[A]}" listen-port "${PORT[A]}" \
		"${args[@]}" || fail "wg set on A failed"
	ip -n "${NS[A]}" addr add "${TUN4[A]}/24" dev "${WGIF[A]}" &&
		ip -n "${NS[A]}" addr add "${TUN6[A]}/64" dev "${WGIF[A]}" nodad &&
		ip -n "${NS[A]}" link set "${WGIF[A]}" up ||
		fail "cannot address or raise ${WGIF[A]}"
}

# first_contact: the initiator's first ping makes the handshake.
first_contact()
{
	if [ "$INIT" = B ]; then
		g_ping "${TUN4[A]}" 3 || fail "$CASE: ping B -> A (first packet, handshake)"
		HS_MS=$G_RTT
	else
		a_ping "${TUN4[B]}" || fail "$CASE: ping A -> B (first packet, handshake)"
		HS_MS=$A_RTT
	fi
	wait_handshake A 5 || fail "$CASE: no handshake on wgpipe (A)"
	[ "$(g_hs)" -gt 0 ] || fail "$CASE: no handshake in the guest's module (B)"
	pass "$CASE: handshake initiated by $INIT, seen on both;" \
		"first echo reply after $HS_MS ms"
}

pings_both_ways()
{
	g_ping "${TUN4[A]}" && g_ping "${TUN6[A]}" ||
		fail "$CASE: ping B -> A in the tunnel"
	ping_ok A "${TUN4[B]}" && ping_ok A "${TUN6[B]}" ||
		fail "$CASE: ping A -> B in the tunnel"
	PING_MS=$(timeout 10 ip netns exec "${NS[A]}" ping -n -q -c 5 -i 0.2 "${TUN4[B]}" |
		awk -F / '/^rtt/ { print $5 }')
	pass "$CASE: ping over IPv4 and IPv6 both ways (A -> B average $PING_MS ms)"
}

# rekey: wgpipe initiating rekeyed during the transfers (both sides
# saw new handshakes); with the guest initiating, the guest starts a new
# session and wgpipe follows.
rekey()
{
	if [ "$INIT" = A ]; then
		[ "$HS_CHANGES_A" -ge 2 ] && [ "$HS_CHANGES_B" -ge 2 ] ||
			fail "$CASE: with WGPIPE_TEST_REKEY_AFTER_TIME=$REKEY_AFTER," \
				"the latest handshake changed $HS_CHANGES_A times on A and" \
				"$HS_CHANGES_B times on B during the transfers (want >= 2)"
		pass "$CASE: wgpipe rekeyed under load: the latest handshake changed" \
			"$HS_CHANGES_A times on A, $HS_CHANGES_B on B"
		return
	fi
	if [ "$KREKEY_S" -gt 0 ] && [ "$CASE" = ul4-initB ]; then
		[ "$HS_CHANGES_A" -ge 1 ] && [ "$HS_CHANGES_B" -ge 1 ] ||
			fail "$CASE: no rekey by the module's own timer in the" \
				"transfers (changes A $HS_CHANGES_A, B $HS_CHANGES_B)"
		pass "$CASE: the module rekeyed by its own timer (120 s) under load:" \
			"the latest handshake changed $HS_CHANGES_A times on A," \
			"$HS_CHANGES_B on B"
	fi
	local a0 b0 answered0 answered
	a0=$(latest_handshake A)
	b0=$(g_hs)
	answered0=$(grep -c 'handshake initiation answered' "$T_TMP/daemon-${WGIF[A]}.log")
	sleep 1 # a new handshake must fall in a later second
	gq "ip link set wg0 down && ip link set wg0 up &&" \
		"ip addr replace ${TUN6[B]}/64 dev wg0 nodad" >/dev/null
	g_ping "${TUN4[A]}" 3 || fail "$CASE: ping B -> A after the guest's wg0 restarted"
	answered=$(grep -c 'handshake initiation answered' "$T_TMP/daemon-${WGIF[A]}.log")
	[ "$(latest_handshake A)" -gt "$a0" ] && [ "$(g_hs)" -gt "$b0" ] ||
		fail "$CASE: no new handshake after the guest's wg0 restarted"
	[ "$answered" -gt "$answered0" ] ||
		fail "$CASE: wgpipe answered no new initiation"
	ping_ok A "${TUN6[B]}" || fail "$CASE: ping A -> B on the new session"
	pass "$CASE: the guest started a new session over the standing one;" \
		"wgpipe answered and moved to it (ping both ways)"
}

# roam: the guest moves to another port, then another address; A
# follows each time.
roam()
{
	local new=10.200.0.3 want port=$((PORT[B] + 1)) plen=24
	gq "wg set wg0 listen-port $port" >/dev/null
	g_ping "${TUN4[A]}" 2 || fail "$CASE: ping B -> A from the guest's new port"
	want="${UL4[B]}:$port"
	[ "$UL" = 6 ] && want="[${UL6[B]}]:$port"
	peer_state
	[ "$A_EP" = "$want" ] || fail "$CASE: A's endpoint for B is $A_EP, not $want"
	ping_ok A "${TUN4[B]}" || fail "$CASE: ping A -> B at the guest's new port"
	pass "$CASE: the guest's new socket: A follows to $A_EP"
	if [ "$UL" = 6 ]; then
		new=fd00:200::3 plen=64
		gq "ip addr add $new/$plen dev eth0 nodad && ip addr del ${UL6[B]}/$plen dev eth0" >/dev/null
		want="[$new]:$port"
	else
		gq "ip addr add $new/$plen dev eth0 && ip addr del ${UL4[B]}/$plen dev eth0" >/dev/null
		want="$new:$port"
	fi
	g_ping "${TUN6[A]}" 2 || fail "$CASE: ping B -> A from the guest's new address"
	peer_state
	[ "$A_EP" = "$want" ] || fail "$CASE: A's endpoint for B is $A_EP, not $want"
	ping_ok A "${TUN6[B]}" || fail "$CASE: ping A -> B at the guest's new address"
	pass "$CASE: the guest's new address: A follows to $A_EP"
}

# counters: wgpipe's and the guest's, printed; nothing undecryptable,
# malformed or refused on either side, no cookie without load.
counters()
{
	local f="$T_TMP/show.$CASE" gs
	show_a "$f" || fail "wgpipe show failed"
	A_COUNTERS=$(awk 'NF == 0 { exit } $2 != "0" && $1 ~ /^(udp_|tun_|drop_|handshake_)/ &&
		$1 !~ /fill/ { printf "%s %s ", $1, $2 }' "$f")
	gs=$(guest_ifstats)
	say "$CASE: A (wgpipe show): $A_COUNTERS"
	say "$CASE: B (guest wg0): $gs"
	[ "$(ctr "$f" drop_decrypt)" = 0 ] && [ "$(ctr "$f" drop_bad_packet)" = 0 ] &&
		[ "$(ctr "$f" drop_source)" = 0 ] ||
		fail "$CASE: wgpipe dropped packets from the module as bad"
	[ "$(ctr "$f" handshake_cookies_sent)" = 0 ] ||
		fail "$CASE: wgpipe sent cookie replies without load"
	awk '{ exit !($4 == 0) }' <<<"$gs" ||
		fail "$CASE: the guest's wg0 counted receive errors: $gs"
	pass "$CASE: no bad packet on either side, no cookie reply without load"
}

run_case()
{
	local up dn upb dnb secs_b
	subtest_begin "$1"
	CASE=$2
	UL=4
	[ "${CASE#ul6}" != "$CASE" ] && UL=6
	INIT=${CASE##*-init}
	CASE_PSK=yes
	PORT[A]=51820
	PORT[B]=51821
	HS_CHANGES_A=0
	HS_CHANGES_B=0
	guest_reset
	E2E_DAEMON_ENV=("WGPIPE_TEST_REKEY_AFTER_TIME=$REKEY_AFTER")
	start_a
	if [ "$INIT" = B ]; then
		guest_wg /tmp/psk "$(endpoint_of A "$UL")"
	else
		guest_wg /tmp/psk none
	fi
	first_contact
	pings_both_ways
	agree || fail "$CASE: wg show disagrees: $AGREE"
	pass "$CASE: wg show agrees: $AGREE"
	xfer_timed A "$E2E_KERNEL_XFER_S"
	up=$X_MBIT upb=$X_BYTES
	pass "$CASE: A -> B $(mb "$X_BYTES") MB in $E2E_KERNEL_XFER_S s," \
		"$X_MBIT Mbit/s, checksums equal (longest pause $X_GAP ms)"
	secs_b=$E2E_KERNEL_XFER_S
	[ "$CASE" = ul4-initB ] && [ "$KREKEY_S" -gt "$secs_b" ] && secs_b=$KREKEY_S
	xfer_timed B "$secs_b"
	dn=$X_MBIT dnb=$X_BYTES
	pass "$CASE: B -> A $(mb "$X_BYTES") MB in $secs_b s," \
		"$X_MBIT Mbit/s, checksums equal (longest pause $X_GAP ms)"
	rekey
	roam
	agree || fail "$CASE: wg show disagrees at the end: $AGREE"
	pass "$CASE: wg show agrees at the end: $AGREE"
	counters
	daemon_stop A
	echo "$CASE | $HS_MS | $(mb "$upb") MB $up | $(mb "$dnb") MB $dn" \
		"| $HS_CHANGES_A/$HS_CHANGES_B | $AGREE" >"$T_TMP/row.$CASE"
}

# cookie_case N initB|initA: wgpipe under load (above).
cookie_case()
{
	local f0="$T_TMP/show.cookie0" f1="$T_TMP/show.cookie1" fpid took i staged
	local cookies bx=0 ax=0 bk log lines hs_sent_b hs_got_b init_a
	local -A HS_WHAT=([B]=initiation [A]=response)
	local -A HS_TOOK=([B]="handshake initiation answered" [A]="handshake complete")
	subtest_begin "$1"
	CASE=cookie-$2
	INIT=${2#init}
	UL=4
	CASE_PSK=no
	PORT[A]=51820
	PORT[B]=51821
	guest_reset
	E2E_DAEMON_ENV=()
	start_a --batches 16
	if [ "$INIT" = B ]; then
		guest_wg none "$(endpoint_of A 4)"
	else
		guest_wg none none
	fi
	# From one source: past the queue's cap each source still gets one
	# message a second in (the fair lane, src/handshake.c), and the
	# guest's would be a lottery among thousands of flood sources. It
	# outlasts the wait for the queue to fill (5 s at most) and the pings.
	ip netns exec "${NS[A]}" "$FLOOD" init -k "$(wg genkey | wg pubkey)" -n 1 \
		10.77.0.0 "${UL4[A]}" "${PORT[A]}" $((FLOOD_PING_S + 6)) \
		>"$T_TMP/flood.out" 2>&1 &
	fpid=$!
	track "$fpid"
	# Under load for sure once the queue has been at its cap (a quarter
	# of the pool, twice the eighth that means load): a message then
	# goes to the fair lane.
	for ((i = 0; i < 50; i++)); do
		sleep 0.1
		show_a "$f0" || fail "wgpipe show failed"
		[ "$(ctr "$f0" handshake_fair_queued)" -gt 0 ] && break
	done
	[ "$(ctr "$f0" handshake_fair_queued)" -gt 0 ] ||
		fail "$CASE: the flood did not fill wgpipe's handshake queue in 5 s:" \
			"$(awk '$1 ~ /^(udp_rx|drop_handshake)/' "$f0" | paste -sd ' ')"
	if [ "$INIT" = B ]; then
		flood_ping B "${TUN4[A]}" || fail "$CASE: the guest got no answer under load"
	else
		flood_ping A "${TUN4[B]}" || fail "$CASE: wgpipe got no answer under load"
	fi
	took=$FP_TOOK
	show_a "$f1" || fail "wgpipe show failed"
	kill -0 "$fpid" 2>/dev/null || fail "the flood ended early: $(cat "$T_TMP/flood.out")"
	wait_pid "$fpid" 15 || fail "the flood failed: $(cat "$T_TMP/flood.out")"
	cookies=$(($(ctr "$f1" handshake_cookies_sent) - $(ctr "$f0" handshake_cookies_sent)))
	# wgpipe keeps the last 128 packets for a peer without a session
	# (WG_MAX_STAGED_PACKETS): pings from A past those never left it.
	staged=$(($(ctr "$f1" drop_staged) - $(ctr "$f0" drop_staged)))
	say "$CASE: $FP_LOST of 8 pings got no reply; wgpipe dropped $staged from its staging queue"
	say "$CASE: flood: $(cat "$T_TMP/flood.out")"
	say "$CASE: A while flooded: drop_handshake +$(($(ctr "$f1" drop_handshake) -
		$(ctr "$f0" drop_handshake))), handshake_fair_queued" \
		"+$(($(ctr "$f1" handshake_fair_queued) - $(ctr "$f0" handshake_fair_queued)))," \
		"handshake_cookies_sent +$cookies"
	log=$(g "dmesg | grep 'wireguard: wg0:' | sed 's/^\[ *\([0-9.]*\)\] wireguard: wg0:/\1/'")
	say "$CASE: the guest's kernel log:"
	mapfile -t lines <<<"$log"
	printf '#     %s\n' "${lines[@]}"
	[ "$cookies" -ge 1 ] ||
		fail "$CASE: wgpipe sent no cookie reply: it was not under load"
	grep -q "Receiving cookie response from ${UL4[A]}:${PORT[A]}" <<<"$log" ||
		fail "$CASE: the guest's module logged no cookie reply from wgpipe"
	pass "$CASE: wgpipe under load answered with $cookies cookie" \
		"repl$([ "$cookies" = 1 ] && echo y || echo ies), the module took it"
	# The initiator waits REKEY_TIMEOUT (5 s) to send again, with MAC2;
	# without the retry the first reply would come within a second. The
	# bound leaves a second for the drift of the pings' clock (FP_TOOK
	# counts their sends as exactly a second apart).
	awk -v t="$took" 'BEGIN { exit !(t >= 4000) }' ||
		fail "$CASE: the first reply came after $took ms: no retry?"
	wait_handshake A 5 && [ "$(g_hs)" -gt 0 ] ||
		fail "$CASE: no handshake after the cookie"
	pass "$CASE: the retried $([ "$INIT" = B ] && echo initiation ||
		echo response) with MAC2 got through: first echo reply after $took ms"
	g_ping "${TUN4[A]}" && ping_ok A "${TUN6[B]}" || fail "$CASE: ping after the handshake"
	# Each side counts what it sent; what the other refused for a cookie,
	# or lost in the flood (a full socket buffer), it never counted. The
	# logs say how many of each: the module's own, and wgpipe's.
	log=$(g "dmesg | grep 'wireguard: wg0:'")
	hs_sent_b=$(grep -c "Sending handshake ${HS_WHAT[$INIT]} to" <<<"$log")
	hs_got_b=$(grep -c "Receiving handshake initiation from" <<<"$log")
	init_a=$(grep -c "sending handshake initiation" "$T_TMP/daemon-${WGIF[A]}.log")
	if [ "$INIT" = B ]; then
		bx=$((148 * (hs_sent_b - 1) + 128 * FP_LOST))
		say "$CASE: the module sent $hs_sent_b initiations, wgpipe answered" \
			"the last; $cookies got a cookie, $((hs_sent_b - 1 - cookies)) lost in the flood"
	else
		bx=$((92 * (hs_sent_b - 1) + 128 * (FP_LOST - staged)))
		ax=$((148 * (init_a - hs_got_b)))
		say "$CASE: wgpipe sent $init_a initiations, the module got $hs_got_b" \
			"and answered each; $cookies answer(s) got a cookie," \
			"$((hs_sent_b - 1 - cookies)) lost in the flood, the last one taken"
	fi
	[ $((hs_sent_b - 1)) -ge "$cookies" ] ||
		fail "$CASE: $cookies cookie replies for $hs_sent_b messages from the module"
	[ "$(grep -c "${HS_TOOK[$INIT]}" "$T_TMP/daemon-${WGIF[A]}.log")" = 1 ] ||
		fail "$CASE: wgpipe did not take exactly one message from the module" \
			"($(grep -c "${HS_TOOK[$INIT]}" "$T_TMP/daemon-${WGIF[A]}.log") '${HS_TOOK[$INIT]}')"
	# The module's keepalives, sent while the flood may still run.
	bk=$(grep -c "Sending keepalive packet" <<<"$log")
	agree "$bx" "$ax" "$bk" ||
		fail "$CASE: wg show disagrees: $AGREE (refused or lost: B $bx" \
			"bytes and up to $bk keepalives, A $ax)"
	pass "$CASE: wg show agrees, what the other refused or lost aside" \
		"(B $bx bytes and $AGREE_KA of its $bk keepalives, A $ax): $AGREE"
	daemon_stop A
	echo "$CASE | $took | cookies $cookies | | | $AGREE" >"$T_TMP/row.$CASE"
}

# badpsk N: the control.
badpsk_case()
{
	local log
	subtest_begin "$1"
	CASE=badpsk
	INIT=B
	UL=4
	CASE_PSK=yes
	PORT[A]=51820
	PORT[B]=51821
	guest_reset
	E2E_DAEMON_ENV=()
	start_a
	guest_wg /tmp/otherpsk "$(endpoint_of A 4)"
	# Long enough for the module's first try and its retry 5 s later.
	! g_ping "${TUN4[A]}" 1 7 || fail "$CASE: a ping got through with another preshared key"
	peer_state
	[ "${A_HS:-0}" = 0 ] && [ "${B_HS:-0}" = 0 ] ||
		fail "$CASE: a handshake with another preshared key ($A_HS, $B_HS)"
	log=$(g "dmesg | grep -c 'Invalid handshake response'")
	[ "${log:-0}" -ge 1 ] ||
		fail "$CASE: the module did not refuse wgpipe's response"
	pass "$CASE: with another preshared key no handshake on either side, no" \
		"ping; the module refused wgpipe's response $log time(s)"
	daemon_stop A
	echo "$CASE | - | no handshake (control) | | | " >"$T_TMP/row.$CASE"
}

status=0
n=0
for c in $E2E_KERNEL_CASES; do
	n=$((n + 1))
	say "---- case $c"
	case $c in
	ul[46]-init[AB]) (run_case $n "$c") ;;
	cookie-init[AB]) (cookie_case $n "${c#cookie-}") ;;
	badpsk) (badpsk_case $n) ;;
	*) fail "unknown case $c" ;;
	esac || status=1
done
echo "# kernel $G_KVER (package $G_KPKGVER) in QEMU (TCG, $E2E_GUEST_SMP CPU)," \
	"booted in $G_BOOT_S s; the test took $((SECONDS - T_BEGIN)) s"
echo "# case | first echo reply ms (handshake) | A->B MB Mbit/s | B->A MB Mbit/s | handshake changes A/B in transfers | wg show at the end"
for c in $E2E_KERNEL_CASES; do
	if [ -f "$T_TMP/row.$c" ]; then
		echo "#   $(cat "$T_TMP/row.$c")"
	else
		echo "#   $c | FAIL"
	fi
done
exit $status
