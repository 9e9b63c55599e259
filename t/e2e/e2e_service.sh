#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The daemon as contrib/systemd/wgpipe@.service runs it: the unit's
# ExecStart= line (the build's src/wgpipe in place of the installed one,
# %i the interface), a clean environment plus its Environment= lines, and
# its CapabilityBoundingSet= and NoNewPrivileges= applied with setpriv(1),
# in a network namespace of its own. Checks that
#   - the interface and the UAPI socket come up, and every thread of the
#     daemon holds exactly the unit's capabilities, which are the ones
#     wgpipe(8) (PRIVILEGES) says the daemon keeps;
#   - with only those, wg(8) can still move it to a port below 1024 and
#     set a fwmark;
#   - SIGHUP and SIGUSR1 each log every counter that wgpipe(8) lists, as
#     "counter NAME VALUE" on standard error, and the counters move;
#   - SIGTERM ends it with status 0, leaving no interface, no socket and
#     no process; so do removing the socket and deleting the interface;
#   - started as plain root, with every capability, every thread of the
#     daemon keeps only those (effective, permitted and bounding sets; no
#     inheritable or ambient one; no_new_privs), also after wg(8) has
#     changed the port and the fwmark and added and removed a peer (which
#     start threads), and it still exits cleanly on SIGTERM.
#
# Environment: WGPIPE (default $abs_top_builddir/src/wgpipe, else
# src/wgpipe in the current directory), CI=true to fail where this would
# skip, E2E_KEEP=1 to keep the daemon logs. Exit status: 0 pass, 1 fail,
# 77 skip.

# shellcheck disable=SC2015 # "A && B || fail" is meant
set -u
export LC_ALL=C
NAME=e2e_service
TOP_SRCDIR=$(cd "$(dirname "$0")/../.." && pwd)
: "${WGPIPE:=${abs_top_builddir:-$(pwd)}/src/wgpipe}"
UNIT="$TOP_SRCDIR/contrib/systemd/wgpipe@.service"
PAGE="$TOP_SRCDIR/man/wgpipe.8"
UAPI_DIR=/var/run/wireguard
# What systemd gives a service, before the unit's Environment= lines.
SERVICE_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

NS=""
TMP=""
PIDS=()    # daemons we started
IFNAMES=() # interface names we used: their sockets are ours to remove

fail()
{
	echo "FAIL $NAME: $*" >&2
	local f
	for f in "$TMP"/*.log; do
		[ -f "$f" ] && tail -n 15 "$f" | sed "s|^|    ${f##*/}: |" >&2
	done
	exit 1
}

skip_or_fail()
{
	if [ "${CI:-}" = true ]; then
		echo "FAIL $NAME: $* (CI=true: not skipping)" >&2
		exit 1
	fi
	echo "SKIP $NAME: $*"
	exit 77
}

pass() { echo "ok   $*"; }

# shellcheck disable=SC2317 # stop_pid and cleanup run from the EXIT trap
# stop_pid PID: SIGTERM, SIGKILL after 3 s.
stop_pid()
{
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 30; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}

# shellcheck disable=SC2317
cleanup()
{
	local rc=$? pid name
	trap - EXIT INT TERM HUP
	for pid in "${PIDS[@]}"; do
		stop_pid "$pid"
	done
	if [ -n "$NS" ]; then
		# Anything left in our namespace is a daemon we started.
		for pid in $(ip netns pids "$NS" 2>/dev/null); do
			stop_pid "$pid"
		done
		ip netns del "$NS" 2>/dev/null
	fi
	for name in "${IFNAMES[@]}"; do
		rm -f "$UAPI_DIR/$name.sock"
	done
	if [ -n "$TMP" ]; then
		if [ "${E2E_KEEP:-0}" = 1 ] || { [ "$rc" != 0 ] && [ "$rc" != 77 ]; }; then
			echo "# logs kept in $TMP" >&2
		else
			rm -rf "$TMP"
		fi
	fi
	exit "$rc"
}

# --- requirements -----------------------------------------------------

[ "$(id -u)" = 0 ] ||
	skip_or_fail "needs root for a network namespace and a TUN device"
[ -c /dev/net/tun ] || skip_or_fail "no /dev/net/tun on this machine"
for tool in ip:iproute2 wg:wireguard-tools setpriv:util-linux \
	timeout:coreutils; do
	command -v "${tool%%:*}" >/dev/null 2>&1 ||
		skip_or_fail "${tool%%:*} not found (Debian package ${tool#*:})"
done
[ -x "$WGPIPE" ] || skip_or_fail "$WGPIPE not built (run make)"
[ -f "$UNIT" ] || fail "no unit file $UNIT"
[ -f "$PAGE" ] || fail "no manual page $PAGE"

TMP=$(mktemp -d "/tmp/wgpipe-$NAME.XXXXXX") || exit 1
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# --- what the unit runs -----------------------------------------------

# unit_value KEY: the values of KEY= lines in [Service], one per line.
unit_value()
{
	awk -v k="$1" '/^\[/ { svc = ($0 == "[Service]"); next }
		svc && index($0, k "=") == 1 { print substr($0, length(k) + 2) }' "$UNIT"
}

exec_start=$(unit_value ExecStart)
[ "$(wc -l <<<"$exec_start")" = 1 ] && [ -n "$exec_start" ] ||
	fail "the unit needs exactly one ExecStart= line, has: $exec_start"
read -r -a UNIT_ARGV <<<"$exec_start"
[ "$(basename -- "${UNIT_ARGV[0]}")" = wgpipe ] ||
	fail "the unit's ExecStart= runs '${UNIT_ARGV[0]}', not wgpipe"
for arg in "${UNIT_ARGV[@]:1}"; do
	[[ $arg == *%* && $arg != %i ]] &&
		fail "ExecStart= argument '$arg': this test knows only %i"
done

UNIT_ENV=()
while IFS= read -r kv; do
	[ -n "$kv" ] || continue
	[[ $kv == *[\"\'\ ]* ]] && fail "Environment=$kv: this test takes plain VAR=value only"
	UNIT_ENV+=("$kv")
done < <(unit_value Environment)

# Capabilities: names for setpriv, and the mask the daemon must end up with.
declare -A CAP_BIT=([CAP_NET_BIND_SERVICE]=10 [CAP_NET_ADMIN]=12
	[CAP_NET_RAW]=13 [CAP_SYS_NICE]=23 [CAP_IPC_LOCK]=14)
caps=$(unit_value CapabilityBoundingSet)
[ -n "$caps" ] || fail "the unit sets no CapabilityBoundingSet="
setpriv_caps="-all"
cap_mask=0
for cap in $caps; do
	[ -n "${CAP_BIT[$cap]:-}" ] || fail "unknown capability $cap (teach this test its bit)"
	lower=${cap#CAP_}
	setpriv_caps+=",+${lower,,}"
	cap_mask=$((cap_mask | 1 << ${CAP_BIT[$cap]}))
done
SETPRIV=(setpriv "--bounding-set=$setpriv_caps" --inh-caps=-all)
[ "$(unit_value NoNewPrivileges)" = yes ] && SETPRIV+=(--no-new-privs)
LAUNCH=("${SETPRIV[@]}" --) # what start_unit runs the daemon under
say_unit="ExecStart=$exec_start${UNIT_ENV[*]:+ Environment=${UNIT_ENV[*]}} caps: $caps"
echo "# unit: $say_unit"

# The counters wgpipe(8) lists under "Counters": ".TP" then ".B name".
mapfile -t DOC_COUNTERS < <(awk '/^\.S[SH]/ { on = ($0 == ".SS Counters"); next }
	on && prev == ".TP" && /^\.B [a-z0-9_]+$/ { print $2 }
	{ prev = $0 }' "$PAGE" | sort)
[ ${#DOC_COUNTERS[@]} -gt 0 ] || fail "found no counter in $PAGE, SS Counters"

# The capabilities the daemon keeps after set-up: under PRIVILEGES, each
# a ".TP" then ".B CAP_NAME". The unit must grant exactly these.
mapfile -t DOC_KEPT < <(awk '/^\.SH/ { on = ($0 == ".SH PRIVILEGES"); next }
	on && prev == ".TP" && /^\.B CAP_[A-Z_]+$/ { print $2 }
	{ prev = $0 }' "$PAGE" | sort)
[ ${#DOC_KEPT[@]} -gt 0 ] || fail "found no capability in $PAGE, SH PRIVILEGES"
kept_mask=0
for cap in "${DOC_KEPT[@]}"; do
	[ -n "${CAP_BIT[$cap]:-}" ] || fail "unknown capability $cap (teach this test its bit)"
	kept_mask=$((kept_mask | 1 << ${CAP_BIT[$cap]}))
done
[ "$kept_mask" = "$cap_mask" ] ||
	fail "the unit allows $caps; wgpipe(8) says the daemon keeps ${DOC_KEPT[*]}"

NS="wgp-svc-$$"
ip netns add "$NS" || fail "ip netns add $NS"
ip -n "$NS" link set lo up || fail "cannot raise lo in $NS"

# start_unit IFNAME: runs the unit's command for IFNAME in our namespace
# (as a child of this shell: PID), waits for the interface and the socket.
start_unit()
{
	local ifname=$1 i args=()
	IFNAMES+=("$ifname")
	LOG="$TMP/$ifname.log"
	for arg in "${UNIT_ARGV[@]:1}"; do
		args+=("${arg//%i/$ifname}")
	done
	ip netns exec "$NS" "${LAUNCH[@]}" \
		env -i PATH="$SERVICE_PATH" "${UNIT_ENV[@]}" \
		"$WGPIPE" "${args[@]}" </dev/null >"$LOG" 2>&1 &
	PID=$!
	PIDS+=("$PID")
	for ((i = 0; i < 100; i++)); do
		if ! kill -0 "$PID" 2>/dev/null; then
			wait "$PID"
			fail "wgpipe ${args[*]} exited at start (status $?)"
		fi
		[ -S "$UAPI_DIR/$ifname.sock" ] &&
			ip -n "$NS" link show "$ifname" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	fail "wgpipe ${args[*]}: no interface $ifname or no socket" \
		"$UAPI_DIR/$ifname.sock after 10 s"
}

# wait_exit SECONDS: waits for the daemon PID; its status in RC, 124 if
# it is still running.
wait_exit()
{
	local i
	for ((i = 0; i < $1 * 10; i++)); do
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$PID" 2>/dev/null; then
		RC=124
		return
	fi
	wait "$PID"
	RC=$?
}

# gone IFNAME WHAT: the daemon exited 0 and left nothing behind.
gone()
{
	local ifname=$1 what=$2
	[ "$RC" != 124 ] || fail "$what: still running after 10 s"
	[ "$RC" = 0 ] || fail "$what: exit status $RC, want 0"
	! ip -n "$NS" link show "$ifname" >/dev/null 2>&1 ||
		fail "$what: interface $ifname still exists"
	[ ! -e "$UAPI_DIR/$ifname.sock" ] ||
		fail "$what: $UAPI_DIR/$ifname.sock still exists"
	[ -z "$(ip netns pids "$NS")" ] ||
		fail "$what: processes left in the namespace: $(ip netns pids "$NS")"
	pass "$what: status 0, no interface, no socket, no process"
}

# check_threads PID MASK WHAT: every thread of PID has MASK as its
# effective, permitted and bounding sets, no inheritable or ambient
# capability, and no_new_privs; NTHREADS is how many it has.
check_threads()
{
	local pid=$1 want zero=0000000000000000 what=$3 task have field
	want=$(printf '%016x' "$2")
	NTHREADS=0
	for task in /proc/"$pid"/task/*; do
		[ -r "$task/status" ] || continue
		NTHREADS=$((NTHREADS + 1))
		for field in CapEff:$want CapPrm:$want CapBnd:$want CapInh:$zero \
			CapAmb:$zero NoNewPrivs:1; do
			have=$(awk -v f="${field%%:*}:" '$1 == f { print $2 }' \
				"$task/status" 2>/dev/null)
			[ "$have" = "${field#*:}" ] || [ ! -e "$task" ] ||
				fail "$what: thread $(cat "$task/comm" 2>/dev/null)" \
					"(${task##*/}) has ${field%%:*} $have, want ${field#*:}"
		done
	done
	# The UAPI server and the pipeline run on threads of their own.
	[ "$NTHREADS" -ge 3 ] ||
		fail "$what: only $NTHREADS thread(s) in /proc/$pid/task"
}

# counter_lines: the "counter NAME VALUE" lines logged so far. VALUE is
# a number, but for crypto, the name of the AEAD implementation.
counter_lines()
{
	grep -E '(^|: )counter ([a-z0-9_]+ [0-9]+|crypto [a-z0-9]+)$' "$LOG"
}

# counter NAME: its value in the latest dump.
counter()
{
	counter_lines | awk -v n="$1" '$(NF - 1) == n { v = $NF } END { print v }'
}

# wait_dumps N: waits until N dumps (N x the documented count) are logged.
wait_dumps()
{
	local want=$(($1 * ${#DOC_COUNTERS[@]})) i got=0
	for ((i = 0; i < 50; i++)); do
		got=$(counter_lines | wc -l)
		[ "$got" -ge "$want" ] && break
		sleep 0.1
	done
	[ "$got" = "$want" ] ||
		fail "after $1 dump(s): $got counter lines, want $want"
}

# --- 1: up, capabilities, counters, SIGTERM ---------------------------

IF1="wgsvc$$"
start_unit "$IF1"
pass "the unit's command brings up $IF1 and $UAPI_DIR/$IF1.sock"

check_threads "$PID" "$cap_mask" "under the unit's limits"
pass "each of the daemon's $NTHREADS threads holds exactly $caps"

wgx() { timeout -k 2 10 ip netns exec "$NS" wg "$@"; }
wgx set "$IF1" listen-port 443 fwmark 0x51 ||
	fail "wg set $IF1 listen-port 443 fwmark 0x51 failed with the unit's capabilities"
[ "$(wgx show "$IF1" listen-port)" = 443 ] && [ "$(wgx show "$IF1" fwmark)" = 0x51 ] ||
	fail "wg show $IF1: port $(wgx show "$IF1" listen-port), fwmark $(wgx show "$IF1" fwmark)"
pass "with only those: listen port 443 and fwmark 0x51 set through wg(8)"

# One datagram into the tunnel: no peer has 10.77.0.2, so it is read from
# the TUN device and dropped for want of a peer.
ip -n "$NS" addr add 10.77.0.1/24 dev "$IF1" && ip -n "$NS" link set "$IF1" up ||
	fail "cannot address or raise $IF1"
ip netns exec "$NS" bash -c 'echo probe >/dev/udp/10.77.0.2/9' ||
	fail "cannot send a datagram into $IF1"

kill -HUP "$PID"
wait_dumps 1
mapfile -t logged < <(counter_lines | awk '{ print $(NF - 1) }' | sort)
[ "${logged[*]}" = "${DOC_COUNTERS[*]}" ] ||
	fail "SIGHUP logged the counters [${logged[*]}]; wgpipe(8) lists [${DOC_COUNTERS[*]}]"
pass "SIGHUP: one 'counter NAME VALUE' line for each of the ${#DOC_COUNTERS[@]} counters of wgpipe(8)"
[ "$(counter tun_rx_packets)" -ge 1 ] && [ "$(counter drop_no_peer)" -ge 1 ] ||
	fail "after one packet with no peer: tun_rx_packets=$(counter tun_rx_packets)" \
		"drop_no_peer=$(counter drop_no_peer)"
pass "the counters move: tun_rx_packets=$(counter tun_rx_packets) drop_no_peer=$(counter drop_no_peer)"

kill -USR1 "$PID"
wait_dumps 2
pass "SIGUSR1: a second dump"

kill -TERM "$PID"
wait_exit 10
gone "$IF1" "SIGTERM"

# --- 2: removing the socket --------------------------------------------

IF2="wgsvs$$"
start_unit "$IF2"
rm -f "$UAPI_DIR/$IF2.sock"
wait_exit 10
gone "$IF2" "removing $UAPI_DIR/$IF2.sock"

# --- 3: deleting the interface -----------------------------------------

IF3="wgsvl$$"
start_unit "$IF3"
ip -n "$NS" link del "$IF3" || fail "ip link del $IF3"
wait_exit 10
gone "$IF3" "ip link del $IF3"

# --- 4: started as plain root ------------------------------------------

LAUNCH=()
IF4="wgsvr$$"
start_unit "$IF4"
check_threads "$PID" "$kept_mask" "started as root"
pass "started as root: each of its $NTHREADS threads keeps only ${DOC_KEPT[*]}," \
	"no inheritable or ambient capability, no_new_privs"
kept_line=$(grep -E '(^|: )privileges: keeping ' "$LOG")
mapfile -t logged < <(grep -oE 'CAP_[A-Z_]+' <<<"${kept_line%%(*}" | sort)
[ "${logged[*]}" = "${DOC_KEPT[*]}" ] ||
	fail "started as root, the daemon logged '$kept_line'; want ${DOC_KEPT[*]}"
pass "its log says so: ${kept_line##*: privileges: }"

peer=$(wg genkey | wg pubkey) || fail "wg genkey | wg pubkey"
wgx set "$IF4" listen-port 443 fwmark 0x51 private-key <(wg genkey) \
	peer "$peer" allowed-ips 10.78.0.2/32 endpoint 127.0.0.1:9 ||
	fail "as root, after the drop: wg set $IF4 listen-port 443 fwmark 0x51 peer ... failed"
[ "$(wgx show "$IF4" listen-port)" = 443 ] && [ "$(wgx show "$IF4" fwmark)" = 0x51 ] &&
	[ "$(wgx show "$IF4" peers)" = "$peer" ] ||
	fail "wg show $IF4: port $(wgx show "$IF4" listen-port)," \
		"fwmark $(wgx show "$IF4" fwmark), peers $(wgx show "$IF4" peers)"
wgx set "$IF4" listen-port 80 peer "$peer" remove ||
	fail "as root, after the drop: wg set $IF4 listen-port 80 peer ... remove failed"
[ "$(wgx show "$IF4" listen-port)" = 80 ] && [ -z "$(wgx show "$IF4" peers)" ] ||
	fail "wg show $IF4: port $(wgx show "$IF4" listen-port), peers $(wgx show "$IF4" peers)"
check_threads "$PID" "$kept_mask" "started as root, after wg set"
pass "after ports 443 and 80, fwmark 0x51 and a peer added and removed:" \
	"each of its $NTHREADS threads still keeps only ${DOC_KEPT[*]}"

kill -TERM "$PID"
wait_exit 10
gone "$IF4" "as root, SIGTERM"
exit 0
