#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Sticky source addresses: B has two addresses on its underlay link and A
# knows B by the second one. B must answer from the address A wrote to,
# not from the one the kernel would pick (its first): A's endpoint for B
# must stay B's second address after the handshake and traffic both
# ways, for IPv4 and IPv6 underlays. And when that address goes away, B
# must fall back to one that works (the kernel's choice) and the tunnel
# must keep working.

. "$(dirname "$0")/netns.sh"

t_init
require_impl "$WGPIPE"
t_watchdog 120
make_hosts
make_keys

UL4_2=10.200.0.22
UL6_2=fd00:200::22
ip -n "${NS[B]}" addr add "$UL4_2/24" dev ul0 || fail "cannot add $UL4_2 on B"
ip -n "${NS[B]}" addr add "$UL6_2/64" dev ul0 nodad || fail "cannot add $UL6_2 on B"

# Both sides know each other (init=both), then A is pointed at B's second
# address.
pair_up "$WGPIPE" "$WGPIPE" init=both ul=4
wg_ A set "${WGIF[A]}" peer "${PUB[B]}" endpoint "$UL4_2:${PORT[B]}" ||
	fail "cannot set A's endpoint for B"
ping_ok A "${TUN4[B]}" || fail "ping A -> B through $UL4_2"
ping_ok B "${TUN4[A]}" || fail "ping B -> A"
ep=$(wg_ A show "${WGIF[A]}" endpoints | awk '{print $2}')
[ "$ep" = "$UL4_2:${PORT[B]}" ] ||
	fail "A sees B at $ep: B answered from another address than $UL4_2"
pass "IPv4: B answers from the address A wrote to ($ep)"

wg_ A set "${WGIF[A]}" peer "${PUB[B]}" endpoint "[$UL6_2]:${PORT[B]}" ||
	fail "cannot set A's IPv6 endpoint for B"
ping_ok A "${TUN4[B]}" || fail "ping A -> B through $UL6_2"
ping_ok B "${TUN4[A]}" || fail "ping B -> A over IPv6"
ep=$(wg_ A show "${WGIF[A]}" endpoints | awk '{print $2}')
[ "$ep" = "[$UL6_2]:${PORT[B]}" ] ||
	fail "A sees B at $ep: B answered from another address than $UL6_2"
pass "IPv6: B answers from the address A wrote to ($ep)"

# The remembered source disappears: B must still get through.
ip -n "${NS[B]}" addr del "$UL6_2/64" dev ul0 || fail "cannot delete $UL6_2"
wg_ A set "${WGIF[A]}" peer "${PUB[B]}" endpoint "[${UL6[B]}]:${PORT[B]}" ||
	fail "cannot point A back at B's first address"
ping_ok B "${TUN4[A]}" || fail "ping B -> A after B's source address went away"
ping_ok A "${TUN4[B]}" || fail "ping A -> B after B's source address went away"
pass "source address gone: B falls back and the tunnel works"
pair_down
pass "e2e_sticky"
