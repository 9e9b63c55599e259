#!/bin/bash
# SPDX-License-Identifier: MIT
#
# wg-quick(8) on host A with WG_QUICK_USERSPACE_IMPLEMENTATION=$WG_IMPL_A
# (default $WGPIPE): `wg-quick up FILE` must start the daemon (which
# forks and returns once the interface and socket exist), apply the
# config (addresses, routes, MTU, peer) and carry traffic to host B;
# `wg-quick down FILE` deletes the interface and the daemon must go away.

. "$(dirname "$0")/netns.sh"

t_init
require_cmd wg-quick wireguard-tools
require_impl "$WG_IMPL_A" "$WG_IMPL_B"
t_watchdog 120
make_hosts
make_keys
say "A=$(impl_name "$WG_IMPL_A") via wg-quick, B=$(impl_name "$WG_IMPL_B")"

# wg-quick names the interface after the file.
QIF="wq$$"
T_IFNAMES+=("$QIF")
CONF="$T_TMP/$QIF.conf"
(
	umask 077
	cat >"$CONF" <<EOF
[Interface]
PrivateKey = $(cat "${KEY[A]}")
ListenPort = 51820
Address = ${TUN4[A]}/24, ${TUN6[A]}/64
MTU = 1380

[Peer]
PublicKey = ${PUB[B]}
AllowedIPs = ${TUN4[B]}/32, ${TUN6[B]}/128, 10.77.0.0/16
Endpoint = ${UL4[B]}:51821
EOF
)

PORT[A]=51820
PORT[B]=51821
daemon_start B "$WG_IMPL_B"
configure B A none no

# For dump_state and the helpers: host A's interface is wg-quick's.
WGIF[A]=$QIF
IMPL[A]=$WG_IMPL_A

# The daemon must fork: no WG_PROCESS_FOREGROUND here.
timeout -k 2 30 ip netns exec "${NS[A]}" env -u WG_PROCESS_FOREGROUND \
	LOG_LEVEL="$E2E_LOG_LEVEL" \
	WG_QUICK_USERSPACE_IMPLEMENTATION="$WG_IMPL_A" \
	wg-quick up "$CONF" >"$T_TMP/up.log" 2>&1 ||
	fail "wg-quick up $CONF failed (status $?): $(cat "$T_TMP/up.log")"
grep '^\[#\]' "$T_TMP/up.log" | sed 's/^/#   /'
pass "wg-quick up returned"

ip -n "${NS[A]}" link show "$QIF" | grep -q "mtu 1380" ||
	fail "interface $QIF missing or MTU not 1380: $(ip -n "${NS[A]}" link show "$QIF")"
ip -n "${NS[A]}" addr show dev "$QIF" | grep -qF "inet ${TUN4[A]}/24" &&
	ip -n "${NS[A]}" addr show dev "$QIF" | grep -qF "inet6 ${TUN6[A]}/64" ||
	fail "addresses not set on $QIF"
ip -n "${NS[A]}" route show dev "$QIF" | grep -q "^10.77.0.0/16" ||
	fail "no route for the peer's allowed ips 10.77.0.0/16"
[ -S "$UAPI_DIR/$QIF.sock" ] || fail "no socket $UAPI_DIR/$QIF.sock"
pass "interface up with MTU 1380, addresses, route for allowed ips, socket"

# The daemon that wg-quick started: the process in A's namespace that
# holds the socket's interface name on its command line.
DPID=""
for p in $(ip netns pids "${NS[A]}"); do
	tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -qw -- "$QIF" &&
		DPID=$p
done
[ -n "$DPID" ] || fail "cannot find the daemon for $QIF in namespace A"
track "$DPID"
say "daemon for $QIF runs as pid $DPID (forked, detached from wg-quick)"

wg_ A show "$QIF" | grep -qF "peer: ${PUB[B]}" ||
	fail "wg show $QIF does not list the peer from the config"
check "ping A -> B (IPv4) through the wg-quick interface" ping_ok A "${TUN4[B]}"
check "ping A -> B (IPv6) through the wg-quick interface" ping_ok A "${TUN6[B]}"
check "ping B -> A (IPv4)" ping_ok B "${TUN4[A]}"
xfer_check A B "${TUN4[B]}" 20000000
pass "20 MB A -> B through the wg-quick interface ($XFER_MBIT Mbit/s)"

timeout -k 2 30 ip netns exec "${NS[A]}" wg-quick down "$CONF" \
	>"$T_TMP/down.log" 2>&1 ||
	fail "wg-quick down failed (status $?): $(cat "$T_TMP/down.log")"
grep '^\[#\]' "$T_TMP/down.log" | sed 's/^/#   /'
ip -n "${NS[A]}" link show "$QIF" >/dev/null 2>&1 &&
	fail "interface $QIF still there after wg-quick down"
for ((i = 0; i < 50; i++)); do
	kill -0 "$DPID" 2>/dev/null || break
	sleep 0.1
done
kill -0 "$DPID" 2>/dev/null &&
	fail "daemon $DPID still running 5 s after wg-quick down deleted $QIF"
for ((i = 0; i < 20; i++)); do
	[ -e "$UAPI_DIR/$QIF.sock" ] || break
	sleep 0.1
done
[ -e "$UAPI_DIR/$QIF.sock" ] &&
	fail "socket $UAPI_DIR/$QIF.sock left after wg-quick down"
pass "wg-quick down: interface deleted, daemon exited, socket removed"
check "no traffic after wg-quick down" ping_fails A "${TUN4[B]}"
daemon_stop B
exit 0
