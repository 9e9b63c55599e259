#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Offloads: the interop and order checks with every offload on, and with
# each one forced off by --no-offload NAME (NAME: tun, tso, uso, gro,
# udp-gso, udp-gro, all). For each configuration, three tunnels:
#
#   wgpipe <-> wgpipe        both with the flag and --crypto-workers 4:
#                            handshake, ping IPv4 and IPv6 both ways, a
#                            TCP transfer each way with equal checksums,
#                            then a numbered UDP stream A -> B
#                            (t/tools/udpseq) that must arrive with
#                            nothing reordered or twice and little lost
#                            (a second stream when the first lost more
#                            than the limit, see order_check), every
#                            datagram of its length and payload, sent in
#                            UDP_SEGMENT runs of 16;
#   wgpipe <-> wireguard-go  wgpipe (with the flag) on A, wireguard-go on
#                            B, A initiating, then B initiating: the same
#                            handshake, ping and transfer checks.
#
# And that the flag took effect, on the wgpipe <-> wgpipe tunnel:
#   - each daemon's log (LOG_LEVEL=verbose) has "TUN IF: offloads on:"
#     with exactly the TUN offloads left on (none with tun or all off);
#   - ethtool -k on the TUN device agrees (checksum, TSO, USO) (without
#     ethtool that check is skipped and the test ends as a skip; with
#     CI=true it fails);
#   - the kernel's own packet counts during the A -> B transfer, against
#     the TCP segments the bytes need at least (S = bytes / 1420):
#       TSO on A      A's TUN device transmits fewer than S/4 packets
#       udp-gso on A  A's underlay sends fewer than S/4 packets
#       udp-gro on B  B's UDP receives fewer than S/4 datagrams (Udp
#                     InDatagrams; only with udp-gso on A, since the
#                     veth hands whole GSO packets over as they are)
#       gro on B      B's TUN device receives fewer than S/2 packets
#                     (gro needs TSO: it is off when tso is)
#     and at least S packets each when off;
#     (not checked below E2E_OFFLOAD_BYTES=2000000);
#   - the daemon's counters on SIGUSR1 ("counter offload_tun_tso 1", ...)
#     agree, when the build logs them;
#   - A's counters during the UDP stream show what carried its
#     UDP_SEGMENT runs: with USO on A, the kernel handed them to the TUN
#     device whole and wgpipe cut them (tun_rx_packets at least 4 times
#     tun_rx_reads); with USO off, the kernel cut them first (exactly one
#     packet per read).
# With wireguard-go, only wgpipe's "offloads on" log line is checked.
# A kernel that refuses an offload (logged by wgpipe) turns the
# expectation for it to off; with CI=true that is a failure where the
# kernel is one that has the offload (TUN TSO, UDP_SEGMENT 4.18,
# UDP_GRO 5.0, TUN USO 6.2).
#
# One matrix line per configuration; exit status 1 if any cell failed.
#
#   E2E_OFFLOAD_CONFIGS      configurations, from default tun tso uso gro
#                            udp-gso udp-gro all (default: all eight)
#   E2E_OFFLOAD_BYTES        TCP bytes per direction (default 20000000)
#   E2E_OFFLOAD_ORDER_COUNT  datagrams in the UDP stream (default 40000)
#   E2E_OFFLOAD_ORDER_SIZE   bytes each (default 1000)
#   E2E_OFFLOAD_ORDER_PPS    datagrams/s, in bursts of 64 (default 20000)
#   E2E_OFFLOAD_MAX_LOST_PCT loss allowed in the UDP stream (default 5)
#   E2E_OFFLOAD_GO_INIT      both: wireguard-go's cells, initiated by A and
#                            by B, in every configuration (default);
#                            alternate: by A in the first, third, ...
#                            configuration and by B in the others

. "$(dirname "$0")/netns.sh"

# The flag checks read the daemons' "offloads on" lines.
# shellcheck disable=SC2034 # read by netns.sh
E2E_LOG_LEVEL=verbose
: "${E2E_OFFLOAD_CONFIGS:=default tun tso uso gro udp-gso udp-gro all}"
for cfg in $E2E_OFFLOAD_CONFIGS; do
	case $cfg in
	default | tun | tso | uso | gro | udp-gso | udp-gro | all) ;;
	*) fail "unknown configuration '$cfg' in E2E_OFFLOAD_CONFIGS" \
		"(default tun tso uso gro udp-gso udp-gro all)" ;;
	esac
done
t_init
require_impl "$WGPIPE" "$WIREGUARD_GO"
: "${E2E_OFFLOAD_BYTES:=20000000}"
: "${E2E_OFFLOAD_ORDER_COUNT:=40000}"
: "${E2E_OFFLOAD_ORDER_SIZE:=1000}"
: "${E2E_OFFLOAD_ORDER_PPS:=20000}"
: "${E2E_OFFLOAD_MAX_LOST_PCT:=5}"
: "${E2E_OFFLOAD_GO_INIT:=both}"
case $E2E_OFFLOAD_GO_INIT in
both | alternate) ;;
*) fail "E2E_OFFLOAD_GO_INIT is '$E2E_OFFLOAD_GO_INIT', not both or alternate" ;;
esac
# A stalled transfer fails its cell, not the whole run (the watchdog).
: "${E2E_XFER_TIMEOUT:=60}"
UDPSEQ=$(tool udpseq) || exit 1
HAVE_ETHTOOL=0
if command -v ethtool >/dev/null 2>&1; then
	HAVE_ETHTOOL=1
else
	skip_part "ethtool -k on the TUN devices: no ethtool (Debian package ethtool)"
fi
t_watchdog 600
make_hosts
make_keys

OFFLOADS="tun tso uso gro udp-gso udp-gro"

# config_flags CONFIG: wgpipe's flags for it.
config_flags()
{
	case $1 in
	default) ;;
	tun | tso | uso | gro | udp-gso | udp-gro | all) echo "--no-offload $1" ;;
	*) return 1 ;;
	esac
}

# want CONFIG NAME: 1 if offload NAME is asked for under CONFIG, else 0.
want()
{
	case $1 in
	all) echo 0 ;;
	"$2") echo 0 ;;
	*) echo 1 ;;
	esac
}

# --- the flag took effect ---------------------------------------------

declare -A EFF=()   # EFF[SIDE.NAME]: 1 if the offload is in effect
FLAG_ERR=""         # what did not match, joined by "; "
FLAG_NOTE=""

flag_err() { FLAG_ERR+="${FLAG_ERR:+; }$*"; say "flags: $*"; }

# kernel_has OFFLOAD: true if the running kernel is one that has it (the
# version it came in), so that refusing it means something is wrong.
kernel_has()
{
	local need
	case $1 in
	TSO) need=2.6 ;;
	udp-gso) need=4.18 ;;
	udp-gro) need=5.0 ;;
	USO) need=6.2 ;;
	*) return 1 ;;
	esac
	printf '%s\n%s\n' "$need" "$(uname -r | cut -d- -f1)" | sort -V -C
}

# refused SIDE OFFLOAD: the kernel refused it. A note; with CI=true, on a
# kernel that has it, a failure.
refused()
{
	if [ "${CI:-}" = true ] && kernel_has "$2"; then
		flag_err "$1: the kernel ($(uname -r)) refused $2, which it has" \
			"(CI=true: a refusal fails)"
	else
		FLAG_NOTE+=" $1:kernel-refused($2)"
		say "$1: the kernel refused $2"
	fi
}

# effective SIDE CONFIG: from the daemon's log, the offloads in effect on
# SIDE (EFF), checking the TUN line against what CONFIG asks for.
effective()
{
	local side=$1 cfg=$2 log="$T_TMP/daemon-${WGIF[$1]}.log" line set expect
	local tun tso uso
	tun=$(want "$cfg" tun)
	tso=$(( tun && $(want "$cfg" tso) ))
	uso=$(( tun && $(want "$cfg" uso) ))
	expect="checksum"
	[ $tso = 1 ] && expect+=" TSO"
	[ $uso = 1 ] && expect+=" USO"
	line=$(grep -E "TUN ${WGIF[$side]}: (offloads on:|the kernel refused)" "$log")
	if [ $tun = 0 ]; then
		[ -z "$line" ] || flag_err "$side: TUN offloads with the" \
			"virtio-net header off: '$line'"
		set=""
	elif [[ $line == *"offloads on: "* ]]; then
		set=${line##*offloads on: }
		[ "$set" = "$expect" ] ||
			flag_err "$side: TUN offloads on '$set', wanted '$expect'"
	elif [[ $line == *"refused some offloads; using "* ]]; then
		set=${line##*; using }
		say "$side: the kernel refused some TUN offloads: using $set"
		[ $tso = 1 ] && [[ " $set " != *" TSO "* ]] && refused "$side" TSO
		[ $uso = 1 ] && [[ " $set " != *" USO "* ]] && refused "$side" USO
	else
		flag_err "$side: no 'TUN ${WGIF[$side]}: offloads on' line in" \
			"the log (wanted '$expect')"
		set=""
	fi
	EFF[$side.tun]=$tun
	EFF[$side.tso]=0
	EFF[$side.uso]=0
	[[ " $set " == *" TSO "* ]] && EFF[$side.tso]=1
	[[ " $set " == *" USO "* ]] && EFF[$side.uso]=1
	[ "${EFF[$side.tso]}" -le "$tso" ] && [ "${EFF[$side.uso]}" -le "$uso" ] ||
		flag_err "$side: an offload turned off is on: '$set'"
	# gro writes super-packets only to a TUN device that takes TSO.
	EFF[$side.gro]=$(( ${EFF[$side.tso]} && $(want "$cfg" gro) ))
	EFF[$side.udp-gso]=$(want "$cfg" udp-gso)
	EFF[$side.udp-gro]=$(want "$cfg" udp-gro)
	if grep -qE "UDP: (the kernel refuses UDP_SEGMENT|UDP_SEGMENT failed)" "$log"; then
		[ "${EFF[$side.udp-gso]}" = 1 ] && refused "$side" udp-gso
		EFF[$side.udp-gso]=0
	fi
	if grep -q "UDP: the kernel refuses UDP_GRO" "$log"; then
		[ "${EFF[$side.udp-gro]}" = 1 ] && refused "$side" udp-gro
		EFF[$side.udp-gro]=0
	fi
}

# ethtool_check SIDE: the TUN device's features match EFF.
ethtool_check()
{
	local side=$1 k csum tso uso
	[ $HAVE_ETHTOOL = 1 ] || return 0
	k=$(timeout 5 ip netns exec "${NS[$side]}" ethtool -k "${WGIF[$side]}") ||
		{ flag_err "$side: ethtool -k ${WGIF[$side]} failed"; return; }
	csum=$(awk '$1 == "tx-checksumming:" { print $2 }' <<<"$k")
	tso=$(awk '$1 == "tx-tcp-segmentation:" { print $2 }' <<<"$k")
	uso=$(awk '$1 == "tx-udp-segmentation:" { print $2 }' <<<"$k")
	onoff() { if [ "$1" = 1 ]; then echo on; else echo off; fi; }
	[ "$csum" = "$(onoff "${EFF[$side.tun]}")" ] &&
		[ "$tso" = "$(onoff "${EFF[$side.tso]}")" ] &&
		[ "$uso" = "$(onoff "${EFF[$side.uso]}")" ] ||
		flag_err "$side: ethtool -k says tx-checksumming $csum," \
			"tx-tcp-segmentation $tso, tx-udp-segmentation $uso;" \
			"wanted checksum ${EFF[$side.tun]} tso ${EFF[$side.tso]}" \
			"uso ${EFF[$side.uso]}"
}

# counters_check SIDE: on SIGUSR1 the daemon logs its counters; where
# they include the offloads, they must match EFF.
counters_check()
{
	local side=$1 log="$T_TMP/daemon-${WGIF[$1]}.log" i n got want name
	local -A key=([tun]=offload_tun_vnet_hdr [tso]=offload_tun_tso
		[uso]=offload_tun_uso [gro]=offload_tun_gro
		[udp-gso]=offload_udp_gso [udp-gro]=offload_udp_gro)
	n=$(grep -c "counter pool_empty_events" "$log")
	kill -USR1 "${PID[$side]}" 2>/dev/null || return 0
	for ((i = 0; i < 30; i++)); do
		[ "$(grep -c "counter pool_empty_events" "$log")" -gt "$n" ] && break
		sleep 0.1
	done
	sleep 0.1
	if ! grep -q "counter offload_" "$log"; then
		COUNTERS_SEEN=0
		return 0
	fi
	COUNTERS_SEEN=1
	for name in $OFFLOADS; do
		got=$(grep "counter ${key[$name]} " "$log" | tail -n 1 | awk '{ print $NF }')
		want=${EFF[$side.$name]}
		[ "$got" = "$want" ] ||
			flag_err "$side: counter ${key[$name]} is '$got', wanted $want"
	done
}

sysstat() { nsx "$1" cat "/sys/class/net/$2/statistics/$3"; }

udp_in()
{
	nsx "$1" awk '/^Udp:/ {
		if (!n++) { for (i = 1; i <= NF; i++) h[i] = $i }
		else for (i = 1; i <= NF; i++) if (h[i] == "InDatagrams") print $i
	}' /proc/net/snmp
}

# kernel_snapshot: the packet counts that show the offloads at work
# during an A -> B transfer.
kernel_snapshot()
{
	echo "$(sysstat A "${WGIF[A]}" tx_packets) $(sysstat A ul0 tx_packets)" \
		"$(udp_in B) $(sysstat B "${WGIF[B]}" rx_packets)"
}

# kernel_check BEFORE AFTER BYTES
kernel_check()
{
	local -a b a
	read -ra b <<<"$1"
	read -ra a <<<"$2"
	local segs=$(($3 / 1420)) d on what i
	local -a names=("TSO on A: A's TUN tx packets"
		"udp-gso on A: A's underlay tx packets"
		"udp-gro on B: B's Udp InDatagrams"
		"gro on B: B's TUN rx packets")
	local -a ons=("${EFF[A.tso]}" "${EFF[A.udp-gso]}"
		"$(( ${EFF[A.udp-gso]} && ${EFF[B.udp-gro]} ))" "${EFF[B.gro]}")
	local -a most=($((segs / 4)) $((segs / 4)) $((segs / 4)) $((segs / 2)))
	KERNEL_SEEN=""
	for i in 0 1 2 3; do
		d=$((a[i] - b[i]))
		on=${ons[$i]}
		what=${names[$i]}
		KERNEL_SEEN+=" $d"
		if [ "$on" = 1 ]; then
			[ $d -lt "${most[$i]}" ] || flag_err "${what%%:*} should be" \
				"in effect, but ${what#*: } $d for $segs segments" \
				"(wanted < ${most[$i]})"
		else
			[ $d -ge $segs ] || flag_err "${what%%:*} should be off," \
				"but ${what#*: } $d for $segs segments (wanted >= $segs)"
		fi
	done
	say "packets during A -> B (TUN tx A, underlay tx A, UDP in B," \
		"TUN rx B):$KERNEL_SEEN, segments >= $segs"
}

# --- the checks ---------------------------------------------------------

# tunnel_checks INIT: handshake from INIT, seen on both; ping v4 and v6
# both ways; the responder learned the endpoint. Then the transfers, the
# A -> B one between kernel_snapshot's if KERNEL=1.
tunnel_checks()
{
	local init=$1 resp s o ep
	resp=$(other "$init")
	ping_ok "$init" "${TUN4[$resp]}" ||
		fail "ping $init -> $resp ${TUN4[$resp]} (first packet, handshake)"
	wait_handshake "$init" 5 || fail "no handshake on the initiator $init"
	wait_handshake "$resp" 5 || fail "no handshake on the responder $resp"
	for s in A B; do
		o=$(other $s)
		ping_ok $s "${TUN4[$o]}" || fail "ping $s -> $o ${TUN4[$o]}"
		ping_ok $s "${TUN6[$o]}" || fail "ping $s -> $o ${TUN6[$o]}"
	done
	ep=$(wg_ "$resp" show "${WGIF[$resp]}" endpoints | awk '{ print $2 }')
	[ "$ep" = "${UL4[$init]}:${PORT[$init]}" ] ||
		fail "responder $resp learned endpoint '$ep'"
	pass "handshake by $init, ping IPv4 and IPv6 both ways, endpoint $ep"
	local k0 k1
	[ "${KERNEL:-0}" = 1 ] && k0=$(kernel_snapshot)
	xfer_check A B "${TUN4[B]}" "$E2E_OFFLOAD_BYTES"
	[ "${KERNEL:-0}" = 1 ] && k1=$(kernel_snapshot)
	UP=$XFER_MBIT
	local gap_up gap_dn
	gap_up=$(awk '{ print $6 }' <<<"$XFER_LINE")
	xfer_check B A "${TUN6[A]}" "$E2E_OFFLOAD_BYTES"
	DN=$XFER_MBIT
	gap_dn=$(awk '{ print $6 }' <<<"$XFER_LINE")
	pass "$E2E_OFFLOAD_BYTES bytes A->B (IPv4, $UP Mbit/s, longest gap" \
		"$gap_up ms) and B->A (IPv6, $DN Mbit/s, $gap_dn ms), checksums equal"
	K_BEFORE=$k0
	K_AFTER=$k1
}

# uso_check READS PACKETS: A's TUN reads and the packets they held
# during the UDP stream (before and after, "r0 p0 r1 p1"), against USO's
# state on A: in effect, the kernel handed the UDP_SEGMENT runs over
# whole and wgpipe cut them; off, the kernel cut them first. Off, the
# two counts may differ by USO_SLACK: a read is counted when it is made,
# its packets when their batch is handed on, so a snapshot taken while
# a stray packet (a keepalive's answer, neighbour discovery) is between
# the two sees one read more; the runs cut by wgpipe would show 16
# packets a read.
USO_SLACK=2
uso_check()
{
	local r0 p0 r1 p1 reads packets
	read -r r0 p0 r1 p1 <<<"$1"
	reads=$((r1 - r0))
	packets=$((p1 - p0))
	USO_SEEN="$packets packets in $reads TUN reads on A"
	if [ "${EFF[A.uso]}" = 1 ]; then
		[ "$packets" -ge $((4 * reads)) ] && [ "$reads" -gt 0 ] ||
			fail "USO should be in effect on A, but its UDP_SEGMENT" \
				"runs of $ORDER_SEGS came as $USO_SEEN (wanted at" \
				"least 4 packets a read)"
	else
		[ "$reads" -gt 0 ] && [ "$packets" -le $((reads + USO_SLACK)) ] &&
			[ "$packets" -ge $((reads - USO_SLACK)) ] ||
			fail "USO should be off on A, but its UDP_SEGMENT runs" \
				"came as $USO_SEEN (wanted one packet a read," \
				"give or take $USO_SLACK)"
	fi
	USO_CELL="$(awk -v p="$packets" -v r="$reads" \
		'BEGIN { printf "%.1f", p / r }') pkts/read"
	pass "USO $(if [ "${EFF[A.uso]}" = 1 ]; then echo "in effect: wgpipe cut"; \
		else echo "off: the kernel cut"; fi) the UDP_SEGMENT runs of" \
		"$ORDER_SEGS: $USO_SEEN"
}

# order_check: the numbered stream A -> B, in UDP_SEGMENT runs. A
# datagram arriving after a later one, twice or damaged fails at once.
# Loss fails only when it passes the limit twice running: a loss is the
# kernel's queues overflowing (the TUN device's before wgpipe reads, the
# receiver's socket) while the machine is busy with other tests, which
# the first try can meet; a second try is a fresh stream, so a wgpipe
# that loses datagrams by itself fails both.
ORDER_SEGS=16
order_check()
{
	local try
	for try in 1 2; do
		order_try "$try" && return 0
	done
	fail "order: $ORDER_LOST_MSG, in both tries"
}

# order_try N: one numbered stream; false (ORDER_LOST_MSG set) when only
# the loss limit was passed.
order_try()
{
	local out="$T_TMP/udpseq-$T_XPORT.recv" port=$((T_XPORT + 50)) rpid
	local received reordered dups lost malformed c0 c1 sdrops
	c0=$(counters A tun_rx_reads tun_rx_packets)
	udpseq_recv_start B "$out" -w 20 -l "$E2E_OFFLOAD_ORDER_SIZE" "$port" \
		"$E2E_OFFLOAD_ORDER_COUNT" 2000
	rpid=$UDPSEQ_RECV_PID
	timeout -k 2 $((E2E_OFFLOAD_ORDER_COUNT / E2E_OFFLOAD_ORDER_PPS + 30)) \
		ip netns exec "${NS[A]}" "$UDPSEQ" send -r "$E2E_OFFLOAD_ORDER_PPS" \
		-b 64 -g "$ORDER_SEGS" "${TUN4[B]}" "$port" \
		"$E2E_OFFLOAD_ORDER_COUNT" "$E2E_OFFLOAD_ORDER_SIZE" \
		>"$out.send" 2>&1 ||
		fail "udpseq send failed: $(cat "$out.send")"
	wait_pid $rpid 30 || fail "udpseq recv failed: $(cat "$out")"
	c1=$(counters A tun_rx_reads tun_rx_packets)
	read -r _ received _ reordered _ dups _ lost _ malformed < <(grep '^received' "$out")
	sdrops=$(awk '$1 == "socket_drops" { print $2 }' "$out")
	say "udpseq (try $1): $(grep '^received' "$out"), receiver socket drops ${sdrops:-?}"
	[ -n "$received" ] && [ "$received" -gt 0 ] ||
		fail "order: nothing arrived: $(cat "$out")"
	[ "$reordered" = 0 ] ||
		fail "order: $reordered of $received datagrams arrived after a later one"
	[ "$dups" = 0 ] || fail "order: $dups datagrams arrived twice"
	[ "$malformed" = 0 ] || fail "order: $malformed datagrams arrived damaged" \
		"(a length other than $E2E_OFFLOAD_ORDER_SIZE, or a payload not" \
		"their own)"
	if [ $((lost * 100)) -ge $((E2E_OFFLOAD_ORDER_COUNT * E2E_OFFLOAD_MAX_LOST_PCT)) ]; then
		ORDER_LOST_MSG="$lost of $E2E_OFFLOAD_ORDER_COUNT datagrams lost"
		ORDER_LOST_MSG+=" (limit $E2E_OFFLOAD_MAX_LOST_PCT %)"
		say "order: $ORDER_LOST_MSG on try $1"
		return 1
	fi
	pass "order: $received of $E2E_OFFLOAD_ORDER_COUNT datagrams in order," \
		"no duplicates ($lost lost), each $E2E_OFFLOAD_ORDER_SIZE bytes" \
		"of its own payload, sent in UDP_SEGMENT runs of $ORDER_SEGS"
	uso_check "$c0 $c1"
	ORDER_LOST="$lost lost; $USO_CELL"
}

# run_pipe N CONFIG RES: wgpipe <-> wgpipe; writes "interop UP/DN",
# "flags ..." and "order LOST" lines to RES as each part passes.
run_pipe()
{
	local cfg=$2 res=$3 flags name on=""
	subtest_begin "$1"
	COUNTERS_SEEN=0
	flags="--crypto-workers 4 $(config_flags "$cfg")"
	pair_up "$WGPIPE" "$WGPIPE" init=A flagsA="$flags" flagsB="$flags"
	effective A "$cfg"
	effective B "$cfg"
	KERNEL=0
	[ "$E2E_OFFLOAD_BYTES" -ge 2000000 ] && KERNEL=1
	tunnel_checks A
	echo "interop $UP/$DN" >>"$res"
	ethtool_check A
	ethtool_check B
	[ $KERNEL = 1 ] && kernel_check "$K_BEFORE" "$K_AFTER" "$E2E_OFFLOAD_BYTES"
	counters_check A
	counters_check B
	for name in $OFFLOADS; do
		[ "${EFF[A.$name]}" = 1 ] && [ "${EFF[B.$name]}" = 1 ] && on+="${on:++}$name"
	done
	local how="log"
	[ $HAVE_ETHTOOL = 1 ] && how+=",ethtool"
	[ $KERNEL = 1 ] && how+=",packets"
	[ "$COUNTERS_SEEN" = 1 ] && how+=",counters"
	if [ -z "$FLAG_ERR" ]; then
		pass "flags: in effect ${on:-none} (checked by $how)$FLAG_NOTE"
		echo "flags ok(${on:-none}; $how)$FLAG_NOTE" >>"$res"
	else
		echo "flags FAIL" >>"$res"
	fi
	order_check
	echo "order $ORDER_LOST" >>"$res"
	[ -z "$FLAG_ERR" ] || fail "the flag did not take effect as wanted: $FLAG_ERR"
	pair_down
}

# run_go N CONFIG INIT RES: wgpipe (A, with the flag) <-> wireguard-go (B).
run_go()
{
	local cfg=$2 init=$3 res=$4
	subtest_begin "$1"
	pair_up "$WGPIPE" "$WIREGUARD_GO" init="$init" flagsA="$(config_flags "$cfg")"
	effective A "$cfg"
	tunnel_checks "$init"
	if [ -n "$FLAG_ERR" ]; then
		echo "interop $UP/$DN flags-FAIL" >>"$res"
		fail "the flag did not take effect as wanted: $FLAG_ERR"
	fi
	echo "interop $UP/$DN" >>"$res"
	pair_down
}

# field RES KEY: the rest of RES's line KEY, or empty.
field() { awk -v k="$2" '$1 == k { $1 = ""; sub(/^ /, ""); print; exit }' "$1"; }

# rates RES: "ok(UP/DN)" in whole Mbit/s, or FAIL.
rates()
{
	local v
	v=$(field "$1" interop)
	if [ -n "$v" ]; then
		awk -v v="$v" 'BEGIN { split(v, w, " "); split(w[1], r, "/")
			printf "ok(%.0f/%.0f)%s", r[1], r[2], w[2] ? "," w[2] : "" }'
	else
		echo FAIL
	fi
}

status=0
n=0
c_index=0
results=()
t_start=$SECONDS
for cfg in $E2E_OFFLOAD_CONFIGS; do
	c_start=$SECONDS
	ok=1

	n=$((n + 1))
	res="$T_TMP/res-$n"
	: >"$res"
	say "---- $cfg: wgpipe <-> wgpipe (--crypto-workers 4 $(config_flags "$cfg"))"
	(run_pipe $n "$cfg" "$res") || ok=0
	cells="pipe<->pipe $(rates "$res")"
	v=$(field "$res" order)
	if [ -n "$v" ]; then
		cells+=" order ok($v)"
	elif [ -n "$(field "$res" interop)" ] && [ -n "$(field "$res" flags)" ]; then
		cells+=" order FAIL"
	else
		cells+=" order not-run"
	fi
	v=$(field "$res" flags)
	flags_cell="flags ${v:-not-run}"

	cells+=" | pipe<->go"
	inits="A B"
	if [ "$E2E_OFFLOAD_GO_INIT" = alternate ]; then
		inits=A
		[ $((c_index % 2)) = 0 ] || inits=B
	fi
	c_index=$((c_index + 1))
	for init in $inits; do
		n=$((n + 1))
		res="$T_TMP/res-$n"
		: >"$res"
		say "---- $cfg: wgpipe ($(config_flags "$cfg")) <-> wireguard-go," \
			"initiated by $init"
		(run_go $n "$cfg" "$init" "$res") || ok=0
		cells+=" init$init $(rates "$res")"
	done
	[ $ok = 1 ] || status=1
	line="$(if [ $ok = 1 ]; then echo "ok  "; else echo FAIL; fi)"
	line+=" $(printf '%-8s' "$cfg") $cells | $flags_cell $((SECONDS - c_start)) s"
	say "result: $line"
	results+=("$line")
done
echo "# matrix: configuration; wgpipe <-> wgpipe (--crypto-workers 4) and"
echo "# wgpipe (A) <-> wireguard-go (B) initiated by A and by B" \
	"($E2E_OFFLOAD_GO_INIT): ok(Mbit/s"
echo "# A->B/B->A, $E2E_OFFLOAD_BYTES bytes each way); order: datagrams lost of"
echo "# $E2E_OFFLOAD_ORDER_COUNT, and packets per TUN read on A while it ran"
echo "# (UDP_SEGMENT runs of $ORDER_SEGS: cut by wgpipe with USO, by the kernel"
echo "# without); flags: the offloads in effect on both wgpipes; the evidence"
echo "# that agreed with the flag (log, ethtool, packets, counters)"
for l in "${results[@]}"; do
	echo "matrix: $l"
done
echo "# $((SECONDS - t_start)) s for $n tunnels"
exit $status
