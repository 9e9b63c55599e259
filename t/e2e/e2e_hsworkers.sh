#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Handshake workers: host A runs wgpipe with --handshake-workers 4 (the
# flag's values above 1 must be as correct as 1) and E2E_HSW_PEERS (24)
# peers. Each of them is alive on host B: its own interface and daemon
# ($WG_IMPL_B). Then E2E_HSW_ROUNDS (4) rounds, each with every peer
# handshaking at once:
#
#   round 1: every B daemon pings A; A answers 24 initiations at once.
#   later rounds: every peer is removed on A and set again, and A's peer
#   is removed and set again on every B daemon, so that both ends start
#   from nothing; then A pings every B while every B pings A. Initiations
#   cross: A's timer thread creates an initiation for a peer while a
#   handshake worker answers that peer's own, and the responses come back
#   to whichever worker is free.
#
# In every round: every echo request gets its reply (a keypair paired
# with the wrong index, or a lost session, loses them), every peer shows
# a handshake on A newer than the round's start, and neither A nor any B
# counts a data packet that failed: one for an index it does not know
# (drop_unknown_index: the ends start from nothing, so every index in a
# data packet came from a handshake just made), or that failed to decrypt
# (drop_decrypt, drop_replay).
#
# Environment: E2E_HSW_PEERS (24), E2E_HSW_ROUNDS (4), E2E_HSW_WORKERS (4).

# shellcheck disable=SC2015,SC2153 # "A && B || fail" is meant; PID is netns.sh's
# shellcheck source=t/e2e/netns.sh
. "$(dirname "$0")/netns.sh"

: "${E2E_HSW_PEERS:=24}"
: "${E2E_HSW_ROUNDS:=4}"
: "${E2E_HSW_WORKERS:=4}"
: "${E2E_HSW_B_FLAGS:=--batches 16 --batch-size 16 --crypto-workers 1 --max-inflight 64}"
N=$E2E_HSW_PEERS
[ "$N" -ge 2 ] && [ "$N" -le 250 ] ||
	{ echo "E2E_HSW_PEERS must be 2..250" >&2; exit 1; }
A_ADDR=10.65.0.1

t_init
require_impl "$WGPIPE" "$WG_IMPL_B"
t_watchdog $((120 + 60 * E2E_HSW_ROUNDS))
make_hosts
make_keys

# counter SIDE_NS IFNAME NAME: one of wgpipe's device counters (0 for
# wireguard-go, which has none).
counter()
{
	local ns=$1 ifname=$2 name=$3 impl=$4
	if is_wggo "$impl"; then
		echo 0
		return
	fi
	timeout -k 2 10 ip netns exec "$ns" "$impl" show "$ifname" |
		awk -v n="$name" '$1 == n { print $2; exit }'
}

# --- host A: wgpipe with several handshake workers --------------------

PORT[A]=51820
daemon_start A "$WGPIPE" --handshake-workers "$E2E_HSW_WORKERS"
IFA=${WGIF[A]}
wg_ A set "$IFA" private-key "${KEY[A]}" listen-port "${PORT[A]}" ||
	fail "wg set on A"
ip -n "${NS[A]}" addr add "$A_ADDR/32" dev "$IFA" &&
	ip -n "${NS[A]}" link set "$IFA" up &&
	ip -n "${NS[A]}" route add 10.66.0.0/16 dev "$IFA" ||
	fail "cannot address or raise $IFA on A"

# --- host B: one daemon per peer -------------------------------------

nsx B sysctl -qw net.ipv4.conf.all.rp_filter=0 \
	net.ipv4.conf.default.rp_filter=0 || fail "rp_filter on B"
BFLAGS=()
is_wggo "$WG_IMPL_B" || read -r -a BFLAGS <<<"$E2E_HSW_B_FLAGS"
declare -A BIF=() BPID=() BKEY=() BPUB=() BPORT=()
for ((h = 1; h <= N; h++)); do
	BKEY[$h]="$T_TMP/b$h.key"
	(umask 077 && wg genkey >"${BKEY[$h]}") || fail "wg genkey"
	BPUB[$h]=$(wg pubkey <"${BKEY[$h]}") || fail "wg pubkey"
	BPORT[$h]=$((52000 + h))
	T_SEQ=$((T_SEQ + 1))
	BIF[$h]="wgb${T_SEQ}p$$"
	T_IFNAMES+=("${BIF[$h]}")
	ip netns exec "${NS[B]}" env WG_PROCESS_FOREGROUND=1 \
		LOG_LEVEL="$E2E_LOG_LEVEL" "$WG_IMPL_B" -f "${BFLAGS[@]}" \
		"${BIF[$h]}" >"$T_TMP/daemon-${BIF[$h]}.log" 2>&1 &
	BPID[$h]=$!
	track "${BPID[$h]}"
done
for ((h = 1; h <= N; h++)); do
	wait_up B "${BIF[$h]}" "${BPID[$h]}"
done
for ((h = 1; h <= N; h++)); do
	echo "addr add 10.66.0.$h/32 dev ${BIF[$h]}"
	echo "link set ${BIF[$h]} up"
	echo "route add $A_ADDR/32 dev ${BIF[$h]} metric $h"
	# Replies to A's pings leave by the interface they came in on.
	echo "route add $A_ADDR/32 dev ${BIF[$h]} table $((1000 + h))"
	echo "rule add from 10.66.0.$h table $((1000 + h))"
done >"$T_TMP/B.ipbatch"
ip -n "${NS[B]}" -batch "$T_TMP/B.ipbatch" || fail "cannot address B's interfaces"
pass "$N daemons on B up ($(impl_name "$WG_IMPL_B")); A has $E2E_HSW_WORKERS handshake workers"

# set_peers_A: every peer on A, in one request (their endpoints too, so
# that A can initiate).
set_peers_A()
{
	local args=() h
	for ((h = 1; h <= N; h++)); do
		args+=(peer "${BPUB[$h]}" allowed-ips "10.66.0.$h/32"
			endpoint "${UL4[B]}:${BPORT[$h]}")
	done
	wg_ A set "$IFA" "${args[@]}"
}

remove_peers_A()
{
	local args=() h
	for ((h = 1; h <= N; h++)); do
		args+=(peer "${BPUB[$h]}" remove)
	done
	wg_ A set "$IFA" "${args[@]}"
}

# set_peer_B H: B's daemon H gets its key, its port and A as its peer.
set_peer_B()
{
	wg_ B set "${BIF[$1]}" private-key "${BKEY[$1]}" listen-port "${BPORT[$1]}" \
		peer "${PUB[A]}" allowed-ips "$A_ADDR/32" \
		endpoint "${UL4[A]}:${PORT[A]}"
}

set_peers_A || fail "wg set: $N peers on A"
for ((h = 1; h <= N; h++)); do
	set_peer_B "$h" || fail "wg set ${BIF[$h]} on B"
done

# data_drops: the data packets A and every B refused, summed.
data_drops()
{
	local sum=0 h v n
	for n in drop_unknown_index drop_decrypt drop_replay; do
		v=$(counter "${NS[A]}" "$IFA" "$n" "$WGPIPE")
		sum=$((sum + ${v:-0}))
		for ((h = 1; h <= N; h++)); do
			v=$(counter "${NS[B]}" "${BIF[$h]}" "$n" "$WG_IMPL_B")
			sum=$((sum + ${v:-0}))
		done
	done
	echo "$sum"
}

# round R BOTH: every B pings A (and, with BOTH=yes, A pings every B at
# the same time); every echo request must be answered.
round()
{
	local r=$1 both=$2 start pids=() bad=() h p drops0 drops1 t0
	start=$(date +%s)
	drops0=$(data_drops)
	t0=$EPOCHREALTIME
	for ((h = 1; h <= N; h++)); do
		ip netns exec "${NS[B]}" ping -n -q -c 5 -i 0.2 -w 30 \
			-I "${BIF[$h]}" "$A_ADDR" >"$T_TMP/ping-$r-b$h.out" 2>&1 &
		pids+=($!)
		track "$!"
		if [ "$both" = yes ]; then
			ip netns exec "${NS[A]}" ping -n -q -c 5 -i 0.2 -w 30 \
				"10.66.0.$h" >"$T_TMP/ping-$r-a$h.out" 2>&1 &
			pids+=($!)
			track "$!"
		fi
	done
	for p in "${pids[@]}"; do
		wait_pid "$p" 40 || bad+=("$p")
	done
	[ ${#bad[@]} = 0 ] ||
		fail "round $r: ${#bad[@]} of ${#pids[@]} pings lost replies:" \
			"$(grep -h 'packets transmitted' "$T_TMP"/ping-"$r"-* |
				grep -v ' 0% packet loss' | head -n 3)"
	wg_ A show "$IFA" latest-handshakes >"$T_TMP/hs-$r" ||
		fail "wg show latest-handshakes on A"
	old=$(awk -v s="$start" '$2 < s' "$T_TMP/hs-$r" | wc -l)
	[ "$(wc -l <"$T_TMP/hs-$r")" = "$N" ] && [ "$old" = 0 ] ||
		fail "round $r: $old of $N peers have no handshake on A since the round began"
	drops1=$(data_drops)
	[ "$drops1" = "$drops0" ] ||
		fail "round $r: $((drops1 - drops0)) data packets were refused (unknown index, failed decryption, replays)"
	pass "round $r: $N handshakes, ${#pids[@]} pings of 5 fully answered" \
		"($(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s)"
}

round 1 no
for ((r = 2; r <= E2E_HSW_ROUNDS; r++)); do
	remove_peers_A || fail "round $r: removing $N peers on A"
	[ "$(wg_ A show "$IFA" peers | wc -l)" = 0 ] ||
		fail "round $r: peers left on A after their removal"
	for ((h = 1; h <= N; h++)); do
		wg_ B set "${BIF[$h]}" peer "${PUB[A]}" remove ||
			fail "round $r: removing A on ${BIF[$h]}"
	done
	set_peers_A || fail "round $r: setting $N peers on A again"
	for ((h = 1; h <= N; h++)); do
		set_peer_B "$h" || fail "round $r: setting A on ${BIF[$h]} again"
	done
	round "$r" yes
done

kill -0 "${PID[A]}" 2>/dev/null || fail "the daemon on A died"
for ((h = 1; h <= N; h++)); do kill -TERM "${BPID[$h]}" 2>/dev/null; done
for ((h = 1; h <= N; h++)); do wait_pid "${BPID[$h]}" 10 >/dev/null 2>&1; done
daemon_stop A
t_done
