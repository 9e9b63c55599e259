#!/bin/bash
# SPDX-License-Identifier: MIT
#
# `wgpipe show IFACE` on two wgpipe hosts after a ping and a short TCP
# transfer each way through the tunnel (host B with --no-offload all):
#   - it exits 0 and prints exactly the counters wgpipe(8) lists under
#     "Counters", in that order, as an aligned two-column table;
#   - packets and batches moved through every stage on both sides, the
#     batch fills are plausible averages, nothing was dropped as
#     undecryptable or replayed, and nothing is left in flight once the
#     tunnel is idle;
#   - the offload_* values are 0 or 1, consistent with each other, and
#     all 0 where they were turned off; crypto names an implementation;
#   - they agree with each other across the tunnel and with the kernel,
#     once the tunnel is idle (a counter that counted batches, or twice,
#     or not at all, fails here):
#       A's udp_tx_packets = B's udp_rx_packets, and the other way, less
#         what B's kernel dropped (RcvbufErrors, the veth's drops), plus
#         the few handshake messages, which only the receiver counts;
#       tun_rx_reads = the TUN device's tx_packets (one skb per read),
#       tun_tx_writes = its rx_packets + rx_dropped (one skb per write),
#       tun_rx_packets = tun_rx_reads and tun_tx_packets = tun_tx_writes
#         on B, which has no offloads to cut or join packets,
#       udp_tx_sends = the namespace's Udp OutDatagrams, and
#       udp_rx_reads = its InDatagrams (IPv4 and IPv6: the daemon's
#         sockets are the only UDP sockets there);
#   - the counters move between two calls;
#   - for an interface with no daemon it exits 1 with one line saying so,
#     and likewise for wireguard-go, which has no counters (a skip
#     without it, a failure with CI=true).
#
#   E2E_COUNTERS_BYTES   bytes of each transfer (default 4000000)

# shellcheck disable=SC2015 # "A && B || fail" is meant
# shellcheck source=t/e2e/netns.sh
. "$(dirname "$0")/netns.sh"

t_init
require_impl "$WGPIPE"
: "${E2E_COUNTERS_BYTES:=4000000}"
PAGE="$T_TOP_SRCDIR/man/wgpipe.8"
[ -f "$PAGE" ] || fail "no manual page $PAGE"
t_watchdog 180
make_hosts
make_keys

# The counters wgpipe(8) lists under "Counters": ".TP" then ".B name".
mapfile -t DOC_COUNTERS < <(awk '/^\.S[SH]/ { on = ($0 == ".SS Counters"); next }
	on && prev == ".TP" && /^\.B [a-z0-9_]+$/ { print $2 }
	{ prev = $0 }' "$PAGE")
[ ${#DOC_COUNTERS[@]} -gt 0 ] || fail "found no counter in $PAGE, SS Counters"

pair_up "$WGPIPE" "$WGPIPE" init=A flagsB="--no-offload all"
check "ping A -> B over the tunnel" ping_ok A "${TUN4[B]}"
xfer_check A B "${TUN4[B]}" "$E2E_COUNTERS_BYTES"
pass "xfer A -> B: $XFER_BYTES bytes at $XFER_MBIT Mbit/s"
xfer_check B A "${TUN6[A]}" "$E2E_COUNTERS_BYTES"
pass "xfer B -> A: $XFER_BYTES bytes at $XFER_MBIT Mbit/s"

# show SIDE: runs wgpipe show on SIDE's interface into $T_TMP/show-SIDE
# (stdout: the device's table, up to the blank line before the first
# peer's paragraph; the whole output in .full) and .err (stderr); its
# status in SHOW_RC. The peers' paragraphs are e2e_metrics.sh's.
show()
{
	local side=$1
	timeout -k 2 20 ip netns exec "${NS[$side]}" "$WGPIPE" show "${WGIF[$side]}" \
		>"$T_TMP/show-$side.full" 2>"$T_TMP/show-$side.err"
	SHOW_RC=$?
	awk 'NF == 0 { exit } { print }' "$T_TMP/show-$side.full" >"$T_TMP/show-$side"
}

# value SIDE NAME: NAME's value in SIDE's latest show.
value() { awk -v n="$2" '$1 == n { print $2 }' "$T_TMP/show-$1"; }

# check_table SIDE: status 0, nothing on stderr, the documented names in
# order, one value each, the values in one column.
check_table()
{
	local side=$1 f="$T_TMP/show-$1" names
	[ "$SHOW_RC" = 0 ] ||
		fail "wgpipe show ${WGIF[$side]} exited $SHOW_RC: $(cat "$f.err")"
	[ ! -s "$f.err" ] || fail "wgpipe show ${WGIF[$side]} wrote to stderr: $(cat "$f.err")"
	names=$(awk '{ print $1 }' "$f" | tr '\n' ' ')
	[ "$names" = "${DOC_COUNTERS[*]} " ] ||
		fail "wgpipe show on $side printed [$names];" \
			"wgpipe(8) lists [${DOC_COUNTERS[*]}]"
	awk 'NF != 2 { exit 1 }' "$f" ||
		fail "wgpipe show on $side: a line without exactly a name and a value:"$'\n'"$(cat "$f")"
	# Where each value starts (not index($0, $2): "100" is found in the
	# name udp_rx_batch_fill_x100).
	[ "$(awk '{ print length($0) - length($2) }' "$f" | sort -u | wc -l)" = 1 ] ||
		fail "wgpipe show on $side: the values are not in one column:"$'\n'"$(cat "$f")"
	awk '$1 != "crypto" && $2 !~ /^[0-9]+$/ { exit 1 }' "$f" ||
		fail "wgpipe show on $side: a counter that is not a number:"$'\n'"$(cat "$f")"
	pass "$side: wgpipe show lists the ${#DOC_COUNTERS[@]} counters of wgpipe(8), aligned"
}

# check_traffic SIDE: every stage moved packets in batches.
check_traffic()
{
	local side=$1 n fill
	for n in tun_rx_packets tun_rx_batches udp_tx_packets udp_tx_batches \
		udp_rx_packets udp_rx_batches tun_tx_packets tun_tx_batches \
		tun_rx_reads udp_rx_reads udp_tx_sends tun_tx_writes; do
		[ "$(value "$side" "$n")" -gt 0 ] ||
			fail "$side: $n is $(value "$side" "$n") after a transfer each way"
	done
	for n in tun_rx udp_rx; do
		fill=$(value "$side" "${n}_batch_fill_x100")
		# An average over batches of 1 to --batch-size (64) packets.
		[ "$fill" -ge 100 ] && [ "$fill" -le 6400 ] ||
			fail "$side: ${n}_batch_fill_x100 is $fill, not 100 to 6400"
	done
	for n in drop_decrypt drop_replay drop_source; do
		[ "$(value "$side" "$n")" = 0 ] ||
			fail "$side: $n is $(value "$side" "$n") on a clean link"
	done
	pass "$side: tun_rx $(value "$side" tun_rx_packets)" \
		"udp_tx $(value "$side" udp_tx_packets)" \
		"udp_rx $(value "$side" udp_rx_packets)" \
		"tun_tx $(value "$side" tun_tx_packets) packets;" \
		"fill x100: tun_rx $(value "$side" tun_rx_batch_fill_x100)" \
		"udp_rx $(value "$side" udp_rx_batch_fill_x100); no decrypt, replay, source drops"
}

# check_offloads SIDE all-off(yes|no)
check_offloads()
{
	local side=$1 off=$2 n v line=""
	for n in offload_tun_vnet_hdr offload_tun_tso offload_tun_uso \
		offload_tun_gro offload_udp_gso offload_udp_gro; do
		v=$(value "$side" "$n")
		[ "$v" = 0 ] || [ "$v" = 1 ] || fail "$side: $n is '$v', not 0 or 1"
		[ "$off" = no ] || [ "$v" = 0 ] ||
			fail "$side: $n is 1 under --no-offload all"
		line+=" ${n#offload_}=$v"
	done
	if [ "$(value "$side" offload_tun_vnet_hdr)" = 0 ]; then
		for n in offload_tun_tso offload_tun_uso offload_tun_gro; do
			[ "$(value "$side" "$n")" = 0 ] ||
				fail "$side: $n is 1 without virtio-net headers"
		done
	fi
	[[ $(value "$side" crypto) =~ ^(avx512|avx2|libsodium|portable)$ ]] ||
		fail "$side: crypto is '$(value "$side" crypto)'"
	pass "$side:$line crypto=$(value "$side" crypto)"
}

# wait_idle SIDE: inflight_tx and inflight_rx come back to 0.
wait_idle()
{
	local side=$1 i
	for ((i = 0; i < 20; i++)); do
		show "$side"
		[ "$SHOW_RC" = 0 ] && [ "$(value "$side" inflight_tx)" = 0 ] &&
			[ "$(value "$side" inflight_rx)" = 0 ] && return 0
		sleep 0.1
	done
	fail "$side: still in flight when idle: tx $(value "$side" inflight_tx)" \
		"rx $(value "$side" inflight_rx)"
}

for s in A B; do
	show "$s"
	check_table "$s"
	check_traffic "$s"
done
check_offloads A no
check_offloads B yes
for s in A B; do
	wait_idle "$s"
done
pass "A and B: nothing in flight once the tunnel is idle"

# --- the counters against each other and the kernel ----------------------

# ifstat SIDE DEV FIELD: the kernel's counter for an interface.
ifstat() { nsx "$1" cat "/sys/class/net/$2/statistics/$3"; }

# snmp SIDE FIELD: Udp FIELD + Udp6 FIELD in SIDE's namespace.
snmp()
{
	nsx "$1" awk -v f="$2" '/^Udp:/ {
			if (!h++) { for (i = 1; i <= NF; i++) c[$i] = i }
			else n += $c[f] }
		$1 == "Udp6" f { n += $2 }
		END { print n + 0 }' /proc/net/snmp /proc/net/snmp6
}

# snapshot: both daemons' counters and the kernel's, into $T_TMP/snap-*
# (a line NAME VALUE each); taken twice until nothing moved in between,
# so that a keepalive cannot fall between two readings.
snapshot()
{
	local s i f
	for ((i = 0; i < 10; i++)); do
		for f in 1 2; do
			for s in A B; do
				show "$s"
				[ "$SHOW_RC" = 0 ] || fail "wgpipe show on $s failed"
				{
					cat "$T_TMP/show-$s"
					echo "k_tun_tx_packets $(ifstat "$s" "${WGIF[$s]}" tx_packets)"
					echo "k_tun_rx_packets $(ifstat "$s" "${WGIF[$s]}" rx_packets)"
					echo "k_tun_rx_dropped $(ifstat "$s" "${WGIF[$s]}" rx_dropped)"
					echo "k_ul_rx_dropped $(ifstat "$s" ul0 rx_dropped)"
					echo "k_ul_tx_dropped $(ifstat "$s" ul0 tx_dropped)"
					echo "k_udp_out $(snmp "$s" OutDatagrams)"
					echo "k_udp_in $(snmp "$s" InDatagrams)"
					echo "k_udp_rcvbuf $(snmp "$s" RcvbufErrors)"
				} | grep -v '^crypto' >"$T_TMP/snap-$s.$f"
			done
		done
		cmp -s "$T_TMP/snap-A.1" "$T_TMP/snap-A.2" &&
			cmp -s "$T_TMP/snap-B.1" "$T_TMP/snap-B.2" && return 0
		sleep 0.5
	done
	fail "the counters kept moving on an idle tunnel"
}

# v SIDE NAME: NAME in SIDE's snapshot.
v() { awk -v n="$2" '$1 == n { print $2 }' "$T_TMP/snap-$1.2"; }

# equal WHAT A B: fails unless the two numbers are equal.
equal()
{
	[ "$2" = "$3" ] || fail "$1: $2 and $3 differ"
}

# crossed FROM TO: FROM's udp_tx_packets against TO's udp_rx_packets.
crossed()
{
	local from=$1 to=$2 tx rx lost extra
	tx=$(v "$from" udp_tx_packets)
	rx=$(v "$to" udp_rx_packets)
	lost=$(($(v "$to" k_udp_rcvbuf) + $(v "$to" k_ul_rx_dropped) +
		$(v "$from" k_ul_tx_dropped)))
	extra=$((rx - tx))
	# The receiver also counts the handshake messages it read (a few),
	# and misses what its kernel dropped before the daemon read it.
	[ "$extra" -ge $((-lost)) ] && [ "$extra" -le 8 ] ||
		fail "$from sent $tx data datagrams (udp_tx_packets), $to read" \
			"$rx (udp_rx_packets), $lost dropped by the kernel on" \
			"the way: $extra more read than sent, wanted -$lost to 8"
	pass "$from -> $to: $tx datagrams sent, $rx read ($extra handshake" \
		"messages and drops; the kernel dropped $lost)"
}

snapshot
crossed A B
crossed B A
for s in A B; do
	equal "$s: tun_rx_reads against the TUN device's tx_packets" \
		"$(v "$s" tun_rx_reads)" "$(v "$s" k_tun_tx_packets)"
	equal "$s: tun_tx_writes against the TUN device's rx_packets + rx_dropped" \
		"$(v "$s" tun_tx_writes)" \
		"$(($(v "$s" k_tun_rx_packets) + $(v "$s" k_tun_rx_dropped)))"
	equal "$s: udp_tx_sends against the kernel's Udp OutDatagrams" \
		"$(v "$s" udp_tx_sends)" "$(v "$s" k_udp_out)"
	equal "$s: udp_rx_reads against the kernel's Udp InDatagrams" \
		"$(v "$s" udp_rx_reads)" "$(v "$s" k_udp_in)"
	pass "$s: TUN reads $(v "$s" tun_rx_reads) and writes $(v "$s" tun_tx_writes)," \
		"UDP sends $(v "$s" udp_tx_sends) and reads $(v "$s" udp_rx_reads):" \
		"as the kernel counted them"
done
# B has no offloads: every read is one packet, every write one packet.
equal "B (--no-offload all): tun_rx_packets against tun_rx_reads" \
	"$(v B tun_rx_packets)" "$(v B tun_rx_reads)"
equal "B (--no-offload all): tun_tx_packets against tun_tx_writes" \
	"$(v B tun_tx_packets)" "$(v B tun_tx_writes)"
pass "B (--no-offload all): one packet per TUN read and per TUN write"

before=$(value A tun_rx_packets)
check "ping A -> B again" ping_ok A "${TUN4[B]}"
show A
check_table A
[ "$(value A tun_rx_packets)" -ge $((before + 3)) ] ||
	fail "A: tun_rx_packets went from $before to $(value A tun_rx_packets) over 3 pings"
pass "A: the counters move (tun_rx_packets $before -> $(value A tun_rx_packets))"

# --- no daemon -----------------------------------------------------------

# show_fails IFNAME WANT: wgpipe show IFNAME exits 1, prints nothing, and
# says one line on stderr matching the pattern WANT.
show_fails()
{
	local ifname=$1 want=$2 rc
	timeout -k 2 30 "$WGPIPE" show "$ifname" >"$T_TMP/fail.out" 2>"$T_TMP/fail.err"
	rc=$?
	[ "$rc" = 1 ] || fail "wgpipe show $ifname exited $rc, want 1"
	[ ! -s "$T_TMP/fail.out" ] ||
		fail "wgpipe show $ifname printed: $(cat "$T_TMP/fail.out")"
	[ "$(wc -l <"$T_TMP/fail.err")" = 1 ] && grep -qE "$want" "$T_TMP/fail.err" ||
		fail "wgpipe show $ifname said: $(cat "$T_TMP/fail.err")"$'\n'"want one line matching: $want"
	pass "wgpipe show $ifname: status 1, '$(cat "$T_TMP/fail.err")'"
}

missing="wgnone$$"
[ ! -e "$UAPI_DIR/$missing.sock" ] || fail "$UAPI_DIR/$missing.sock exists"
show_fails "$missing" "^wgpipe: no wgpipe running for $missing \($UAPI_DIR/$missing\.sock: No such file or directory\)$"
pair_down

if is_wggo "$WIREGUARD_GO" && command -v "$WIREGUARD_GO" >/dev/null 2>&1; then
	daemon_start A "$WIREGUARD_GO"
	show_fails "${WGIF[A]}" "^wgpipe: .*${WGIF[A]}\.sock.*is it wgpipe\?$"
	daemon_stop A
else
	skip_part "wgpipe show against wireguard-go: no $WIREGUARD_GO" \
		"(Debian package wireguard-go)"
fi
t_done
