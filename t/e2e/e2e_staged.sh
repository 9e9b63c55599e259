#!/bin/bash
# SPDX-License-Identifier: MIT
#
# What a peer keeps while it waits for a session, and what all such
# peers together may hold.
#
# (a) Kept: A sends E2E_STAGED_COUNT numbered datagrams to B, one at a
#     time (each its own TUN read), while B does not know A, so that A's
#     handshake cannot complete. Then B is told A's key; A's next retry
#     (within REKEY_TIMEOUT, 5 s) completes the handshake, and every
#     datagram must arrive, in order: the kernel module keeps the last
#     128 packets of a peer that waits, wireguard-go 128 too. Run with
#     wgpipe as A, and with wireguard-go as A to show that the reference
#     passes the same check.
# (b) Held: A also has E2E_STAGED_DEAD peers whose endpoint answers
#     nothing, and sends to each of them 8 times (a ping sweep over a
#     hub's allowed IPs). Their waiting packets may hold at most a
#     quarter of A's pool (--batches 64: 16 batches), the rest counted in
#     drop_staged, and A's traffic with B goes on.
#
#   E2E_STAGED_COUNT  datagrams in (a) (default 100, at most 128)
#   E2E_STAGED_DEAD   peers without a session in (b) (default 40)

# shellcheck disable=SC2015 # "A && B || fail" is meant
# shellcheck source=t/e2e/netns.sh
. "$(dirname "$0")/netns.sh"

t_init
require_impl "$WGPIPE" "$WIREGUARD_GO"
: "${E2E_STAGED_COUNT:=100}"
: "${E2E_STAGED_DEAD:=40}"
[ "$E2E_STAGED_COUNT" -ge 1 ] && [ "$E2E_STAGED_COUNT" -le 128 ] ||
	fail "E2E_STAGED_COUNT is '$E2E_STAGED_COUNT', not 1 to 128"
UDPSEQ=$(tool udpseq) || exit 1
t_watchdog 180
make_hosts
make_keys
BATCHES=64

# up_without_peer SIDE: the interface keyed, addressed and up, with no
# peer: SIDE drops every handshake message.
up_without_peer()
{
	local s=$1
	wg_ "$s" set "${WGIF[$s]}" private-key "${KEY[$s]}" listen-port "${PORT[$s]}" ||
		fail "wg set on host $s failed"
	ip -n "${NS[$s]}" addr add "${TUN4[$s]}/24" dev "${WGIF[$s]}" &&
		ip -n "${NS[$s]}" link set "${WGIF[$s]}" up ||
		fail "cannot address or raise ${WGIF[$s]} on host $s"
}

# --- (a) kept ----------------------------------------------------------

kept()
{
	local impl=$1 name out="$T_TMP/kept.out" rpid
	local received reordered dups lost malformed
	name=$(impl_name "$impl")
	PORT[A]=51820
	PORT[B]=51821
	daemon_start A "$impl"
	daemon_start B "$WGPIPE"
	configure A B 4 no
	up_without_peer B
	udpseq_recv_start B "$out" -w 30 7000 "$E2E_STAGED_COUNT" 3000
	rpid=$UDPSEQ_RECV_PID
	# One datagram every 5 ms: each is read, routed and staged alone.
	timeout -k 2 30 ip netns exec "${NS[A]}" "$UDPSEQ" send -r 200 -b 1 \
		"${TUN4[B]}" 7000 "$E2E_STAGED_COUNT" 200 >"$T_TMP/kept.send" 2>&1 ||
		fail "$name: udpseq send failed: $(cat "$T_TMP/kept.send")"
	[ "$(latest_handshake A)" = 0 ] ||
		fail "$name: A has a session with B, which does not know A"
	wg_ B set "${WGIF[B]}" peer "${PUB[A]}" allowed-ips "${TUN4[A]}/32" ||
		fail "wg set on host B failed"
	wait_pid "$rpid" 30 || fail "$name: udpseq recv failed: $(cat "$out")"
	read -r _ received _ reordered _ dups _ lost _ malformed < <(grep '^received' "$out")
	say "$name: $(grep '^received' "$out")"
	[ -n "$received" ] || fail "$name: no result from udpseq: $(cat "$out")"
	[ "$received" = "$E2E_STAGED_COUNT" ] ||
		fail "$name: $received of the $E2E_STAGED_COUNT datagrams sent" \
			"before the handshake arrived (the kernel module keeps 128)"
	[ "$reordered" = 0 ] && [ "$dups" = 0 ] && [ "$malformed" = 0 ] ||
		fail "$name: reordered $reordered, duplicates $dups, lost $lost," \
			"malformed $malformed"
	pass "$name: all $received datagrams sent before the handshake" \
		"arrived after it, in order"
	pair_down
}

kept "$WGPIPE"
kept "$WIREGUARD_GO"

# --- (b) held ----------------------------------------------------------

PORT[A]=51820
PORT[B]=51821
daemon_start A "$WGPIPE" --batches "$BATCHES"
daemon_start B "$WGPIPE"
configure A B 4 no
configure B A none no
check "ping A -> B" ping_ok A "${TUN4[B]}"
# The dead peers: 10.203.x.y, their endpoint a port on B where nothing
# listens.
dead_addr() { echo "10.203.$(($1 / 200)).$(($1 % 200 + 1))"; }
for ((i = 0; i < E2E_STAGED_DEAD; i++)); do
	wg_ A set "${WGIF[A]}" peer "$(wg genkey | wg pubkey)" \
		endpoint "${UL4[B]}:9" allowed-ips "$(dead_addr $i)/32" ||
		fail "wg set: dead peer $i"
done
ip -n "${NS[A]}" route add 10.203.0.0/16 dev "${WGIF[A]}" ||
	fail "cannot route 10.203.0.0/16 into ${WGIF[A]}"
d0=$(counters A drop_staged)
addrs=$(for ((i = 0; i < E2E_STAGED_DEAD; i++)); do dead_addr $i; done)
# shellcheck disable=SC2016 # expanded by the inner shell
ip netns exec "${NS[A]}" bash -c 'for r in 1 2 3 4 5 6 7 8; do
	for a in $1; do echo x >/dev/udp/$a/9; done; done' _ "$addrs" ||
	fail "cannot send to the dead peers"
# The most batches free in 5 looks 0.1 s apart: the staged ones stay
# put, a batch that carries a handshake message or a stray packet passes.
free=0
for ((i = 0; i < 5; i++)); do
	sleep 0.1
	f=$(counters A pool_free)
	[ "$f" -gt "$free" ] && free=$f
done
d1=$(counters A drop_staged)
say "after 8 datagrams to each of $E2E_STAGED_DEAD dead peers: pool_free" \
	"$free of $BATCHES, drop_staged +$((d1 - d0))"
[ "$free" -ge $((BATCHES - BATCHES / 4)) ] ||
	fail "held: $((BATCHES - free)) of A's $BATCHES batches held" \
		"(at most $((BATCHES / 4)) may wait for handshakes)"
[ $((d1 - d0)) -gt 0 ] ||
	fail "held: nothing counted in drop_staged, though $E2E_STAGED_DEAD" \
		"peers wanted more than $((BATCHES / 4)) batches"
ping_ok A "${TUN4[B]}" || fail "held: ping A -> B failed with the dead" \
	"peers' packets waiting"
xfer_check A B "${TUN4[B]}" 20000000
pass "held: $((BATCHES - free)) of $BATCHES batches wait for the dead" \
	"peers, $((d1 - d0)) packets counted dropped; ping and $XFER_MBIT" \
	"Mbit/s to B meanwhile"
pair_down
exit 0
