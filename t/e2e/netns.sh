# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# Sourced by the end-to-end tests (bash): two hosts A and B in network
# namespaces of their own, joined by a veth pair, a WireGuard daemon on
# each, the helpers the tests share, and cleanup on exit, failed or not.
#
# Environment (all optional):
#   WGPIPE         the daemon under test; default $abs_top_builddir/src/wgpipe,
#                  else src/wgpipe in the tree this script is in
#   WIREGUARD_GO   the independent reference peer; default wireguard-go
#   WG_IMPL_A/B    the daemons on host A and host B; default $WGPIPE
#   T_BIN          where the helpers xfer, udpseq, udpgarbage, uapiclient
#                  and flood are; default $abs_top_builddir/t/tools, else
#                  t/tools in the tree this script is in; a missing one is
#                  compiled on the spot with ${CC:-cc}
#   E2E_LOG_LEVEL  LOG_LEVEL of the daemons (default verbose)
#   E2E_WGPIPE_FLAGS  flags for every wgpipe daemon (not wireguard-go),
#                  before the test's own, which win
#   E2E_KEEP=1     keep the temporary folder (daemon logs) after the test;
#                  after a failure it is kept unless E2E_KEEP=0
#   E2E_SERIAL=0   do not wait for other end-to-end tests (see t_lock)
#   CI=true        what would be a skip (not root, a tool missing, a part
#                  of a test that cannot run here) fails
#   CK_TIMEOUT_MULTIPLIER  how many times slower the daemons run than a
#                  plain build (contrib/debian-setup sets 5 for the
#                  sanitizer builds, as for Check): the time limits of the
#                  tests (T_SCALE) are multiplied by it, rounded up
#   ASAN_OPTIONS, UBSAN_OPTIONS, TSAN_OPTIONS  for a daemon built with
#                  --enable-asan or --enable-tsan: ours come after these
#                  (see san_init); a report fails the test
#
# Exit status follows automake: 0 pass, 1 fail, 77 skip; a test that
# skipped a part of itself (skip_part) and passed the rest ends as a skip.
#
# Layout inside the namespaces (fixed: each namespace has its own stack):
#   underlay  ul0: A 10.200.0.1/24 fd00:200::1/64, B .2 and ::2
#   tunnel    A 10.201.0.1/24 fd00:201::1/64, B .2 and ::2
# Interface names carry a counter and our PID (wga3p12345), because the
# UAPI sockets in /var/run/wireguard are shared by all namespaces.

T_SRCDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
T_TOP_SRCDIR=$(cd "$T_SRCDIR/../.." && pwd)
T_NAME=$(basename "$0" .sh)
T_MAIN_PID=$$
: "${abs_top_builddir:=$T_TOP_SRCDIR}"
: "${WGPIPE:=$abs_top_builddir/src/wgpipe}"
: "${WIREGUARD_GO:=wireguard-go}"
: "${WG_IMPL_A:=$WGPIPE}"
: "${WG_IMPL_B:=$WGPIPE}"
: "${E2E_LOG_LEVEL:=verbose}"
UAPI_DIR=/var/run/wireguard

declare -A NS=() WGIF=() PID=() IMPL=() PORT=() KEY=() PUB=()
declare -A UL4=([A]=10.200.0.1 [B]=10.200.0.2)
declare -A UL6=([A]=fd00:200::1 [B]=fd00:200::2)
declare -A TUN4=([A]=10.201.0.1 [B]=10.201.0.2)
declare -A TUN6=([A]=fd00:201::1 [B]=fd00:201::2)
T_PIDS=()          # processes we started, killed on exit
T_IFNAMES=()       # interface names we used: their sockets go too
T_SEQ=0            # interface name counter
T_XPORT=5000       # next TCP/UDP port for a test stream
T_TMP=""
E2E_DAEMON_ENV=()  # extra VAR=value for the daemons (e2e_rekey)
T_DUMP_EXTRA=""    # a function dump_state calls too
# T_SCALE: the time limits' multiplier, CK_TIMEOUT_MULTIPLIER rounded up.
T_SCALE=$(awk -v m="${CK_TIMEOUT_MULTIPLIER:-1}" 'BEGIN {
	s = m + 0; if (s < 1) s = 1; if (s > int(s)) s = int(s) + 1; print s }')

# --- reporting --------------------------------------------------------

say() { echo "# $*"; }
pass() { echo "ok   $*"; }

# Prints what failed and the state of both hosts, then exits 1.
fail()
{
	echo "FAIL $T_NAME: $*" >&2
	dump_state >&2
	exit 1
}

skip_or_fail()
{
	if [ "${CI:-}" = true ]; then
		echo "FAIL $T_NAME: $* (CI=true: not skipping)" >&2
		exit 1
	fi
	echo "SKIP $T_NAME: $*"
	exit 77
}

# skip_part WHY: a part of the test cannot run here. With CI=true that
# fails the test; otherwise it is said, the rest runs, and the test ends
# as a skip (t_done), so that the totals do not count it as passed.
skip_part()
{
	if [ "${CI:-}" = true ]; then
		fail "$* (CI=true: not skipping)"
	fi
	echo "SKIP part of $T_NAME: $*"
	echo "$*" >>"$T_TMP/skipped"
}

# t_done: the end of a test that passed what it ran: status 0, or 77
# when a part was skipped (from this shell or a subtest's).
t_done()
{
	if [ -s "$T_TMP/skipped" ]; then
		echo "SKIP $T_NAME: passed, but did not run: $(paste -sd ';' "$T_TMP/skipped")"
		exit 77
	fi
	exit 0
}

# check DESCRIPTION CMD...: runs CMD, passes or fails with DESCRIPTION.
check()
{
	local what=$1
	shift
	if "$@"; then
		pass "$what"
	else
		fail "$what"
	fi
}

# csum_errors SIDE: the host's TCP and UDP InCsumErrors counters.
csum_errors()
{
	ip netns exec "${NS[$1]}" awk '$1 == "Tcp:" || $1 == "Udp:" {
		if (!(($1) in names)) { names[$1] = $0; next }
		n = split(names[$1], k)
		for (i = 2; i <= n; i++)
			if (k[i] == "InCsumErrors")
				printf "%s%s=%s ", tolower(substr($1, 1, 3)), k[i], $i
	}' /proc/net/snmp 2>/dev/null
}

dump_state()
{
	local s
	for s in A B; do
		[ -n "${WGIF[$s]:-}" ] || continue
		echo "---- host $s: ${IMPL[$s]:-?} ${WGIF[$s]} pid ${PID[$s]:-?}"
		timeout 5 ip netns exec "${NS[$s]}" wg show "${WGIF[$s]}" 2>&1 |
			sed 's/^/    /'
		# wgpipe's device counters (the table up to the peers'
		# paragraphs), those not zero; the host's TCP sockets.
		[ "${IMPL[$s]##*/}" != wgpipe ] ||
			timeout 5 ip netns exec "${NS[$s]}" "${IMPL[$s]}" show \
				"${WGIF[$s]}" 2>&1 |
			awk 'NF == 0 { exit } $2 != "0" { print $1 "=" $2 }' |
			paste -sd ' ' | fold -s -w 150 | sed 's/^/    counters: /'
		# Segments the host's stack dropped for a bad checksum: a
		# packet damaged on the way through a daemon shows here when
		# it was not coalesced (a super-packet's checksum is made by
		# the kernel, over whatever bytes it got).
		echo "    stack: $(csum_errors "$s")"
		ip netns exec "${NS[$s]}" ss -tin 2>/dev/null | tail -n +2 |
			head -n 8 | sed 's/^/    tcp: /'
		[ -f "$T_TMP/daemon-${WGIF[$s]}.log" ] &&
			tail -n 15 "$T_TMP/daemon-${WGIF[$s]}.log" | sed 's/^/    log: /'
	done
	# A test's own hosts (e2e_kernel's guest) report through a function.
	[ -z "${T_DUMP_EXTRA:-}" ] || "$T_DUMP_EXTRA"
}

# --- requirements -----------------------------------------------------

require_root()
{
	[ "$(id -u)" = 0 ] ||
		skip_or_fail "needs root for network namespaces and TUN devices"
	[ -c /dev/net/tun ] || skip_or_fail "no /dev/net/tun on this machine"
}

# require_cmd CMD PACKAGE
require_cmd()
{
	command -v "$1" >/dev/null 2>&1 ||
		skip_or_fail "$1 not found (Debian package $2)"
}

require_impl()
{
	local impl
	for impl in "$@"; do
		command -v "$impl" >/dev/null 2>&1 ||
			skip_or_fail "daemon '$impl' not found or not executable" \
				"(build wgpipe with make; wireguard-go is a Debian package)"
	done
}

# is_wggo IMPL: true for wireguard-go, which has no wgpipe-only flags or
# test settings.
is_wggo()
{
	case $(basename -- "$1") in
	wireguard-go*) return 0 ;;
	esac
	return 1
}

impl_name()
{
	if is_wggo "$1"; then echo wireguard-go; else basename -- "$1"; fi
}

# tool NAME: the path of a helper program, compiled here if not built.
tool()
{
	local name=$1 d src=$T_TOP_SRCDIR/t/tools/$1.c
	for d in "${T_BIN:-}" "$abs_top_builddir/t/tools" "$T_TOP_SRCDIR/t/tools"; do
		if [ -n "$d" ] && [ -x "$d/$name" ] && [ -f "$d/$name" ]; then
			echo "$d/$name"
			return
		fi
	done
	if [ ! -x "$T_TMP/$name" ]; then
		local extra=()
		[ "$name" = udpgarbage ] || [ "$name" = flood ] &&
			extra=(-I"$T_TOP_SRCDIR/src" "$T_TOP_SRCDIR/src/crypto/blake2s.c" -lsodium)
		"${CC:-cc}" -std=gnu11 -D_GNU_SOURCE -O2 -o "$T_TMP/$name" \
			"$src" "${extra[@]}" >&2 ||
			fail "cannot build helper $name from $src"
	fi
	echo "$T_TMP/$name"
}

# --- setup and cleanup ------------------------------------------------

# t_lock: one end-to-end test at a time on this machine (they share the
# cores, and stalls and UDP loss are timed), even under make -j. A lock
# still held after its test ended (a leaked child) is not waited for.
t_lock()
{
	local lock=/run/lock/wgpipe-e2e.lock i holder
	[ "${E2E_SERIAL:-1}" = 1 ] && command -v flock >/dev/null || return 0
	[ -d /run/lock ] || lock=/tmp/wgpipe-e2e.lock
	exec 9>>"$lock" || return 0
	for ((i = 0; ; i++)); do
		if flock -n 9; then
			echo "$$ $T_NAME" >"$lock.pid"
			return 0
		fi
		read -r holder _ <"$lock.pid" 2>/dev/null
		if [ -n "$holder" ] && ! kill -0 "$holder" 2>/dev/null; then
			say "lock $lock held by leftovers of ended test $holder: going ahead"
			return 0
		fi
		[ $i = 0 ] && say "waiting for end-to-end test" \
			"$(cat "$lock.pid" 2>/dev/null) to finish" \
			"(E2E_SERIAL=0: do not wait)"
		if [ $i -ge 1800 ]; then
			say "waited 15 minutes for $lock: going ahead"
			return 0
		fi
		sleep 0.5
	done
}

# --- sanitizers -------------------------------------------------------

# san_init: a daemon (or helper) built with a sanitizer writes its
# reports into $T_TMP/san.PID instead of its log, stops at the first
# error, and exits non-zero; t_cleanup fails the test if one appeared.
# Builds without a sanitizer ignore these variables.
san_init()
{
	local common="log_path=$T_TMP/san:halt_on_error=1:print_stacktrace=1"
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}$common:detect_leaks=1"
	export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}$common"
	export TSAN_OPTIONS="${TSAN_OPTIONS:+$TSAN_OPTIONS:}$common:second_deadlock_stack=1"
	[ -f "$T_TOP_SRCDIR/t/tsan.supp" ] &&
		export TSAN_OPTIONS="$TSAN_OPTIONS:suppressions=$T_TOP_SRCDIR/t/tsan.supp"
	return 0
}

# san_reports: prints every sanitizer report of this test (report files,
# and reports in daemon logs, in case a log_path could not be opened);
# false if there was none.
san_reports()
{
	local f found=1
	[ -n "$T_TMP" ] || return 1
	for f in "$T_TMP"/san.*; do
		[ -s "$f" ] || continue
		echo "---- sanitizer report $f"
		head -n 60 "$f"
		found=0
	done
	for f in "$T_TMP"/daemon-*.log; do
		[ -f "$f" ] || continue
		grep -qE 'ERROR: (Address|Leak|Thread)Sanitizer|WARNING: ThreadSanitizer|runtime error:' "$f" ||
			continue
		echo "---- sanitizer report in $f"
		grep -E -A 40 'ERROR: (Address|Leak|Thread)Sanitizer|WARNING: ThreadSanitizer|runtime error:' "$f" |
			head -n 60
		found=0
	done
	return $found
}

# t_init: requirements common to every test, lock, temp folder, trap.
t_init()
{
	require_root
	require_cmd ip iproute2
	require_cmd wg wireguard-tools
	require_cmd timeout coreutils
	require_cmd ping iputils-ping
	t_lock
	T_STARTED=$SECONDS
	T_TMP=$(mktemp -d "/tmp/wgpipe-$T_NAME.XXXXXX") || exit 1
	trap t_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM HUP
	san_init
	XFER=$(tool xfer) || exit 1
}

# t_watchdog SECONDS: ends the test (as a failure) if it runs too long.
t_watchdog()
{
	(
		trap 'kill "$sp" 2>/dev/null; exit 0' TERM
		sleep "$1" &
		sp=$!
		wait "$sp"
		echo "FAIL $T_NAME: still running after $1 s, stopping" >&2
		kill -TERM "$T_MAIN_PID"
	) &
	T_WATCHDOG=$!
}

track() { T_PIDS+=("$@"); }

# on_exit COMMAND: run by the cleanup, last registered first.
T_ON_EXIT=()
on_exit() { T_ON_EXIT+=("$1"); }

# stop_pid PID [SECONDS]: SIGTERM, then SIGKILL if it outlives SECONDS
# (default 5). Returns 1 if it needed SIGKILL. STOP_STATUS holds the
# exit status of a child of ours (empty if it had already ended).
stop_pid()
{
	local pid=$1 i n=$((${2:-5} * 10))
	STOP_STATUS=""
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < n; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		return 1
	fi
	wait "$pid" 2>/dev/null
	STOP_STATUS=$?
	return 0
}

t_cleanup()
{
	local rc=$? i pid s
	trap - EXIT INT TERM HUP
	if [ $rc = 0 ] || [ $rc = 77 ]; then
		daemons_exit_clean || rc=1
	fi
	for ((i = ${#T_PIDS[@]} - 1; i >= 0; i--)); do
		stop_pid "${T_PIDS[$i]}" 3
	done
	# What a test changed outside its namespaces, put back (on_exit).
	if [ "$BASHPID" = "$T_MAIN_PID" ]; then
		for ((i = ${#T_ON_EXIT[@]} - 1; i >= 0; i--)); do
			eval "${T_ON_EXIT[$i]}"
		done
	fi
	# Only the main shell owns the namespaces; a subtest shell owns only
	# what it started.
	if [ "$BASHPID" = "$T_MAIN_PID" ]; then
		[ -n "${T_WATCHDOG:-}" ] && stop_pid "$T_WATCHDOG" 1
		for s in "${!NS[@]}"; do
			[ -n "${NS[$s]:-}" ] || continue
			# Whatever still runs inside our namespace is ours (a daemon
			# that wg-quick started and that forked, say).
			for pid in $(ip netns pids "${NS[$s]}" 2>/dev/null); do
				stop_pid "$pid" 2
			done
			ip netns del "${NS[$s]}" 2>/dev/null
		done
		for s in "${T_IFNAMES[@]}"; do
			rm -f "$UAPI_DIR/$s.sock"
		done
		# Every process we started has ended: their reports are written.
		if san_reports >&2; then
			echo "FAIL $T_NAME: a sanitizer reported an error (above)" >&2
			[ $rc = 0 ] || [ $rc = 77 ] && rc=1
		fi
		if [ -n "$T_TMP" ]; then
			if [ "${E2E_KEEP:-0}" = 1 ] || { [ $rc -ne 0 ] && [ $rc -ne 77 ] && [ "${E2E_KEEP:-}" != 0 ]; }; then
				echo "# logs kept in $T_TMP" >&2
			else
				rm -rf "$T_TMP"
			fi
		fi
		# For contrib/debian-setup's list of the slowest tests.
		[ -n "${T_STARTED:-}" ] &&
			echo "# $T_NAME took $((SECONDS - T_STARTED)) s (status $rc)"
	fi
	exit $rc
}

# subtest_begin N: first thing in a ( subshell ) that runs one case, so
# a failing case cleans up its own daemons and the next case can run.
subtest_begin()
{
	T_PIDS=()
	T_SEQ=$((100 * $1))
	T_XPORT=$((5000 + 100 * $1))
	trap t_cleanup EXIT
}

# nsx SIDE CMD...: runs CMD on host SIDE.
nsx()
{
	local side=$1
	shift
	ip netns exec "${NS[$side]}" "$@"
}

# make_hosts: namespaces A and B, veth ul0 between them, v4 and v6.
make_hosts()
{
	local s
	NS[A]="wgp-$T_NAME-$$-a"
	NS[B]="wgp-$T_NAME-$$-b"
	for s in A B; do
		ip netns add "${NS[$s]}" || fail "ip netns add ${NS[$s]}"
		ip -n "${NS[$s]}" link set lo up
	done
	ip link add ul0 netns "${NS[A]}" type veth peer name ul0 netns "${NS[B]}" ||
		fail "cannot create the veth pair"
	for s in A B; do
		ip -n "${NS[$s]}" addr add "${UL4[$s]}/24" dev ul0 &&
			ip -n "${NS[$s]}" addr add "${UL6[$s]}/64" dev ul0 nodad &&
			ip -n "${NS[$s]}" link set ul0 up ||
			fail "cannot configure ul0 on host $s"
	done
	timeout 10 ip netns exec "${NS[A]}" ping -q -n -c 1 -w 10 "${UL4[B]}" >/dev/null ||
		fail "underlay IPv4 between the namespaces does not work"
	timeout 10 ip netns exec "${NS[A]}" ping -q -n -c 1 -w 10 "${UL6[B]}" >/dev/null ||
		fail "underlay IPv6 between the namespaces does not work"
	say "hosts ${NS[A]} and ${NS[B]} up (10.200.0.0/24, fd00:200::/64)"
}

# make_keys: a key pair per host, and a preshared key.
make_keys()
{
	local s
	for s in A B; do
		KEY[$s]="$T_TMP/$s.key"
		(umask 077 && wg genkey >"${KEY[$s]}") || fail "wg genkey"
		PUB[$s]=$(wg pubkey <"${KEY[$s]}") || fail "wg pubkey"
	done
	PSK="$T_TMP/psk"
	(umask 077 && wg genpsk >"$PSK") || fail "wg genpsk"
}

# daemon_start SIDE IMPL [FLAGS...]: runs IMPL in the foreground (-f) in
# SIDE's namespace, as a child of this shell, and waits for its
# interface and UAPI socket.
daemon_start()
{
	local side=$1 impl=$2 ifname log i rc
	shift 2
	# shellcheck disable=SC2086 # flags are words
	is_wggo "$impl" || set -- ${E2E_WGPIPE_FLAGS:-} "$@"
	T_SEQ=$((T_SEQ + 1))
	# DAEMON_IFNAME=NAME daemon_start ...: that name again (a restart).
	ifname=${DAEMON_IFNAME:-wg${side,,}${T_SEQ}p$$}
	T_IFNAMES+=("$ifname")
	log="$T_TMP/daemon-$ifname.log"
	WGIF[$side]=$ifname
	IMPL[$side]=$impl
	ip netns exec "${NS[$side]}" env WG_PROCESS_FOREGROUND=1 \
		LOG_LEVEL="$E2E_LOG_LEVEL" "${E2E_DAEMON_ENV[@]}" \
		"$impl" -f "$@" "$ifname" >"$log" 2>&1 &
	PID[$side]=$!
	track "${PID[$side]}"
	for ((i = 0; i < 100; i++)); do
		if ! kill -0 "${PID[$side]}" 2>/dev/null; then
			wait "${PID[$side]}"
			rc=$?
			fail "$(impl_name "$impl") on host $side exited at start" \
				"(status $rc): $(tail -n 5 "$log")"
		fi
		if [ -S "$UAPI_DIR/$ifname.sock" ] &&
			ip -n "${NS[$side]}" link show "$ifname" >/dev/null 2>&1; then
			# What the extra flags made of the threads.
			[ -z "${E2E_WGPIPE_FLAGS:-}" ] || is_wggo "$impl" ||
				say "host $side: $(impl_name "$impl")" \
					"$E2E_WGPIPE_FLAGS: $(cat /proc/"${PID[$side]}"/task/*/comm 2>/dev/null |
					grep -c '^wg-crypt') crypto workers"
			return 0
		fi
		sleep 0.1
	done
	fail "$(impl_name "$impl") on host $side: no interface $ifname or" \
		"no socket $UAPI_DIR/$ifname.sock after 10 s"
}

# daemon_stop SIDE: SIGTERM; the daemon must be gone within 5 s.
daemon_stop()
{
	local side=$1
	[ -n "${PID[$side]:-}" ] || return 0
	stop_pid "${PID[$side]}" 5 ||
		fail "$(impl_name "${IMPL[$side]}") on host $side ignored SIGTERM for 5 s"
	PID[$side]=""
	# wgpipe exits 0 on SIGTERM; a batch or a peer its teardown could not
	# account for, or a sanitizer that found an error or a leak at exit,
	# makes it non-zero.
	is_wggo "${IMPL[$side]}" || [ "${STOP_STATUS:-0}" = 0 ] ||
		fail "$(impl_name "${IMPL[$side]}") on host $side exited with" \
			"status $STOP_STATUS on SIGTERM$(exit_why "$side")"
}

# exit_why SIDE: the daemon log's shutdown complaints, if any, after ": ".
exit_why()
{
	local log="$T_TMP/daemon-${WGIF[$1]}.log" why
	[ -f "$log" ] || return 0
	why=$(grep -E 'shutdown: |ERROR' "$log" | tail -n 3 | paste -sd ' ')
	[ -z "$why" ] || echo ": $why"
}

# daemons_exit_clean: at the end of a test that passed, each daemon still
# running on a host is stopped as daemon_stop does, and must exit 0.
daemons_exit_clean()
{
	local s ok=0
	for s in "${!PID[@]}"; do
		[ -n "${PID[$s]:-}" ] && ! is_wggo "${IMPL[$s]}" || continue
		stop_pid "${PID[$s]}" 5
		[ "${STOP_STATUS:-0}" = 0 ] && continue
		echo "FAIL $T_NAME: $(impl_name "${IMPL[$s]}") on host $s exited" \
			"with status ${STOP_STATUS} on SIGTERM$(exit_why "$s")" >&2
		ok=1
	done
	return $ok
}

# wg_ SIDE ARGS...: wg(8) on SIDE's interface, bounded in time.
wg_()
{
	local side=$1
	shift
	timeout -k 2 10 ip netns exec "${NS[$side]}" wg "$@"
}

endpoint_of()
{
	local side=$1 family=$2
	if [ "$family" = 6 ]; then
		echo "[${UL6[$side]}]:${PORT[$side]}"
	else
		echo "${UL4[$side]}:${PORT[$side]}"
	fi
}

# configure SIDE PEER ENDPOINT_FAMILY(4|6|none) PSK(yes|no): keys, the
# peer, tunnel addresses, link up.
configure()
{
	local side=$1 peer=$2 fam=$3 psk=$4 args=()
	args=(peer "${PUB[$peer]}"
		allowed-ips "${TUN4[$peer]}/32,${TUN6[$peer]}/128")
	[ "$fam" != none ] && args+=(endpoint "$(endpoint_of "$peer" "$fam")")
	[ "$psk" = yes ] && args+=(preshared-key "$PSK")
	wg_ "$side" set "${WGIF[$side]}" private-key "${KEY[$side]}" \
		listen-port "${PORT[$side]}" "${args[@]}" ||
		fail "wg set on host $side ($(impl_name "${IMPL[$side]}")) failed"
	ip -n "${NS[$side]}" addr add "${TUN4[$side]}/24" dev "${WGIF[$side]}" &&
		ip -n "${NS[$side]}" addr add "${TUN6[$side]}/64" dev "${WGIF[$side]}" nodad &&
		ip -n "${NS[$side]}" link set "${WGIF[$side]}" up ||
		fail "cannot address or raise ${WGIF[$side]} on host $side"
}

# pair_up IMPL_A IMPL_B [init=A|B|both] [ul=4|6] [psk=yes|no]
#         [flagsA="..."] [flagsB="..."]
# Starts both daemons and configures them. Only the initiator(s) know the
# other's endpoint, so the first packet from the initiator is what makes
# the handshake, and the responder must learn the endpoint from it.
pair_up()
{
	local ia=$1 ib=$2 init=both ul=4 psk=no flagsA="" flagsB="" kv
	shift 2
	for kv in "$@"; do
		case $kv in
		init=*) init=${kv#init=} ;;
		ul=*) ul=${kv#ul=} ;;
		psk=*) psk=${kv#psk=} ;;
		flagsA=*) flagsA=${kv#flagsA=} ;;
		flagsB=*) flagsB=${kv#flagsB=} ;;
		*) fail "pair_up: bad argument $kv" ;;
		esac
	done
	PORT[A]=51820
	PORT[B]=51821
	# shellcheck disable=SC2086 # flags are words
	daemon_start A "$ia" $flagsA
	# shellcheck disable=SC2086
	daemon_start B "$ib" $flagsB
	case $init in
	A) configure A B "$ul" "$psk"; configure B A none "$psk" ;;
	B) configure A B none "$psk"; configure B A "$ul" "$psk" ;;
	*) configure A B "$ul" "$psk"; configure B A "$ul" "$psk" ;;
	esac
}

pair_down()
{
	daemon_stop A
	daemon_stop B
}

other() { if [ "$1" = A ]; then echo B; else echo A; fi; }

# latest_handshake SIDE [PUBKEY]: last handshake with the peer PUBKEY
# (default: the other host) in epoch seconds, 0 = none.
latest_handshake()
{
	local pk=${2:-${PUB[$(other "$1")]}}
	wg_ "$1" show "${WGIF[$1]}" latest-handshakes |
		awk -v pk="$pk" '$1 == pk { print $2 }'
}

# rx_bytes SIDE / tx_bytes SIDE: byte counters for the other host.
rx_bytes()
{
	wg_ "$1" show "${WGIF[$1]}" transfer |
		awk -v pk="${PUB[$(other "$1")]}" '$1 == pk { print $2 }'
}

tx_bytes()
{
	wg_ "$1" show "${WGIF[$1]}" transfer |
		awk -v pk="${PUB[$(other "$1")]}" '$1 == pk { print $3 }'
}

# counters SIDE NAME...: the device counters NAME... of SIDE's wgpipe
# (its table before the first peer's paragraph), all from one wgpipe
# show, on one line in the order asked. Counters compared with each
# other come from one call: two calls can fall on either side of a
# packet.
counters()
{
	timeout -k 2 $((10 * T_SCALE)) ip netns exec "${NS[$1]}" "${IMPL[$1]}" \
		show "${WGIF[$1]}" | awk -v names="${*:2}" '
		BEGIN { n = split(names, want, " ") }
		NF == 0 { exit }
		{ v[$1] = $2 }
		END { for (i = 1; i <= n; i++) printf "%s%s", v[want[i]], (i < n ? " " : "\n") }'
}

# transfer_agrees: A's and B's wg show transfer agree: what one sent,
# the other received. Every implementation counts whole WireGuard
# messages, handshake messages included (as the kernel module does), so
# with nothing lost they are equal to the byte. Tried for two seconds,
# in case a packet was on its way; COUNTS says what was seen.
transfer_agrees()
{
	local i ta ra tb rb
	for ((i = 0; i < 8; i++)); do
		ta=$(tx_bytes A) ra=$(rx_bytes A) tb=$(tx_bytes B) rb=$(rx_bytes B)
		COUNTS="A sent $ta received $ra, B sent $tb received $rb"
		[ -n "$ta" ] && [ "$ta" = "$rb" ] && [ "$ra" = "$tb" ] && return 0
		sleep 0.25
	done
	return 1
}

# wait_handshake SIDE [SECONDS]
wait_handshake()
{
	local side=$1 i n=$((${2:-10} * 10)) t
	for ((i = 0; i < n; i++)); do
		t=$(latest_handshake "$side")
		[ -n "$t" ] && [ "$t" != 0 ] && return 0
		sleep 0.1
	done
	return 1
}

# ping_ok FROM ADDR: three echo replies within 10 s.
ping_ok()
{
	timeout -k 2 15 ip netns exec "${NS[$1]}" \
		ping -n -q -c 3 -i 0.2 -w 10 "$2" >/dev/null 2>&1
}

# ping_fails FROM ADDR: no echo reply within 2 s.
ping_fails()
{
	! timeout -k 2 6 ip netns exec "${NS[$1]}" \
		ping -n -q -c 1 -w 2 "$2" >/dev/null 2>&1
}

# listening PID OUT WHAT: waits (5 s at most) for the receiver PID to
# print "listening" to OUT; fails if it exits or does not get there.
listening()
{
	local pid=$1 out=$2 i
	for ((i = 0; i < 100; i++)); do
		grep -q '^listening' "$out" 2>/dev/null && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	fail "$3 did not start: $(cat "$out")"
}

# xfer_recv_start SIDE PORT OUT [RECV OPTIONS...]: a receiver in the
# background; returns once it listens. Its PID is in XFER_RECV_PID.
xfer_recv_start()
{
	local side=$1 port=$2 out=$3
	shift 3
	ip netns exec "${NS[$side]}" "$XFER" recv "$@" "$port" >"$out" 2>&1 &
	XFER_RECV_PID=$!
	track "$XFER_RECV_PID"
	listening "$XFER_RECV_PID" "$out" "xfer receiver on host $side"
}

# udpseq_recv_start SIDE OUT RECV ARGUMENTS...: udpseq recv in the
# background (the test sets UDPSEQ); returns once it listens. Its PID is
# in UDPSEQ_RECV_PID.
udpseq_recv_start()
{
	local side=$1 out=$2
	shift 2
	ip netns exec "${NS[$side]}" "$UDPSEQ" recv "$@" >"$out" 2>&1 &
	UDPSEQ_RECV_PID=$!
	track "$UDPSEQ_RECV_PID"
	listening "$UDPSEQ_RECV_PID" "$out" "udpseq receiver on host $side"
}

# wait_up SIDE IFNAME PID: waits (30 s at most) for the daemon PID
# started by hand on SIDE (not by daemon_start) to have its interface and
# its UAPI socket; fails if it exits first or does not get there.
wait_up()
{
	local side=$1 ifname=$2 pid=$3 i
	for ((i = 0; ; i++)); do
		[ -S "$UAPI_DIR/$ifname.sock" ] &&
			ip -n "${NS[$side]}" link show "$ifname" >/dev/null 2>&1 && return 0
		kill -0 "$pid" 2>/dev/null ||
			fail "daemon for $ifname on $side exited at start:" \
				"$(tail -n 3 "$T_TMP/daemon-$ifname.log")"
		[ $i -lt 300 ] || fail "no interface $ifname on $side after 30 s"
		sleep 0.1
	done
}

# wait_pid PID SECONDS: waits for a child; its status, or 124 on timeout.
wait_pid()
{
	local pid=$1 i n=$(($2 * 10))
	for ((i = 0; i < n; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		stop_pid "$pid" 1
		return 124
	fi
	wait "$pid"
}

# xfer_check FROM TO ADDR BYTES [SEND OPTIONS...]: a TCP transfer from
# host FROM to ADDR on host TO; both ends must report the same byte count
# and checksum. Prints the rate. XFER_LINE holds the receiver's line.
xfer_check()
{
	local from=$1 to=$2 addr=$3 bytes=$4 port seed out_r out_s rc
	shift 4
	T_XPORT=$((T_XPORT + 1))
	port=$T_XPORT
	seed=$((RANDOM * 32768 + RANDOM))
	out_r="$T_TMP/xfer-$port.recv"
	out_s="$T_TMP/xfer-$port.send"
	xfer_recv_start "$to" "$port" "$out_r" -i "${E2E_IDLE:-15}" -s "$seed"
	timeout -k 2 "${E2E_XFER_TIMEOUT:-180}" ip netns exec "${NS[$from]}" \
		"$XFER" send "$@" "$addr" "$port" "$bytes" "$seed" >"$out_s" 2>&1
	rc=$?
	[ $rc = 0 ] || fail "xfer $from -> $to ($addr) failed (status $rc):" \
		"$(cat "$out_s")"
	wait_pid "$XFER_RECV_PID" 20 ||
		fail "xfer receiver on $to failed: $(cat "$out_r")"
	local sent got
	sent=$(awk '/^sent/ { print $2, $4 }' "$out_s")
	got=$(awk '/^received/ { print $2, $4 }' "$out_r")
	XFER_LINE=$(grep '^received' "$out_r")
	[ -n "$sent" ] && [ "$sent" = "$got" ] ||
		fail "xfer $from -> $to ($addr): sent [$sent] but received [$got]" \
			"$(grep mismatch "$out_r" | tr "\n" " ")"
	XFER_MBIT=$(awk '/^received/ { print $10 }' "$out_r")
	XFER_BYTES=${sent%% *}
}
