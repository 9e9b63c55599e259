#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The responder's answer to the first packet of a new session. The
# initiator's first data message confirms the responder's new keys; the
# kernel module confirms them before it hands that packet to its network
# stack, so an answer the stack sends at once (an echo reply) leaves
# under them. wgpipe did it the other way round, and an answer read from
# the TUN device before the confirmation found no keys: wgpipe, the
# responder, started a handshake of its own, and the answer waited for
# it. Against the kernel module under CPU load that happened now and
# then (t/e2e/e2e_kernel.sh); here the interleaving is made every time:
# host B's daemon runs on one CPU with its TUN reader thread at real-time
# priority (SCHED_FIFO), so the reader takes the answer before the
# thread that wrote the packet runs its next line.
#
# For each initiator A (wgpipe, then wireguard-go; CI=true: both), a
# fresh tunnel and one ping A -> B. Asserted: B sent no handshake
# initiation (a wgpipe logs each one at LOG_LEVEL verbose), A sent one
# (the control: the same search finds A's), the ping was answered.

# shellcheck source=t/e2e/netns.sh
. "$(dirname "$0")/netns.sh"

E2E_LOG_LEVEL=verbose # the test reads the daemons' logs
t_init
require_impl "$WGPIPE"
require_cmd taskset util-linux
require_cmd chrt util-linux
t_watchdog 120
make_hosts
make_keys

# initiations LOG PATTERN: how many lines of LOG match PATTERN.
initiations() { grep -c -- "$2" "$1"; }

# rt_reader SIDE: SIDE's daemon on CPU 0, its TUN reader at SCHED_FIFO.
rt_reader()
{
	local pid=${PID[$1]} t n=0
	taskset -a -p -c 0 "$pid" >/dev/null ||
		skip_or_fail "taskset cannot pin the daemon to CPU 0"
	for t in /proc/"$pid"/task/*; do
		[ "$(cat "$t/comm" 2>/dev/null)" = wg-tunrd/0 ] || continue
		chrt -f -p 10 "${t##*/}" ||
			skip_or_fail "chrt cannot give the TUN reader SCHED_FIFO"
		n=$((n + 1))
	done
	[ $n = 1 ] || fail "found $n threads wg-tunrd/0 in host $1's daemon"
}

run_with()
{
	local impl=$1 name logA logB pattern
	subtest_begin "$2"
	name=$(impl_name "$impl")
	pair_up "$impl" "$WGPIPE" init=A
	rt_reader B
	logA="$T_TMP/daemon-${WGIF[A]}.log"
	logB="$T_TMP/daemon-${WGIF[B]}.log"
	ping_ok A "${TUN4[B]}" || fail "$name -> wgpipe: ping A -> B"
	sleep 1 # a handshake B would start is logged by then
	pattern="sending handshake initiation"
	is_wggo "$impl" && pattern="Sending handshake initiation"
	[ "$(initiations "$logA" "$pattern")" -ge 1 ] ||
		fail "$name -> wgpipe: A's log shows no handshake initiation" \
			"('$pattern'): the search finds nothing"
	[ "$(initiations "$logB" "sending handshake initiation")" = 0 ] ||
		fail "$name -> wgpipe: B, the responder, started a handshake" \
			"when its stack answered A's first packet:" \
			"$(grep 'handshake' "$logB" | head -n 5)"
	pass "$name -> wgpipe: B answered the first packet of the session" \
		"under its keys, without a handshake of its own (A sent" \
		"$(initiations "$logA" "$pattern") initiation)"
	pair_down
}

n=0
for impl in "$WGPIPE" "$WIREGUARD_GO"; do
	n=$((n + 1))
	if ! command -v "$impl" >/dev/null 2>&1; then
		[ "${CI:-}" = true ] && fail "initiator $impl not found"
		say "$impl not found: not tested as the initiator"
		continue
	fi
	(run_with "$impl" $n) || exit 1
done
exit 0
