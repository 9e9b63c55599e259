#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Interoperability: for each pair of implementations (host A, host B) and
# each case, a fresh tunnel; the initiator's first packet makes the
# handshake (only it knows the other's endpoint), both sides then report
# a handshake, ping works over IPv4 and IPv6 inside the tunnel, the byte
# counts of wg show transfer agree (what one side sent, the other
# received), and a TCP transfer each way arrives with the sender's
# checksum.
#
#   E2E_INTEROP_PAIRS  "a:b ..." from wgpipe, wireguard-go or a path
#                      (default: wgpipe:wgpipe wgpipe:wireguard-go
#                      wireguard-go:wgpipe)
#   E2E_INTEROP_CASES  from ul4-initA ul4-initB ul6-initA ul6-initB
#                      psk-initA psk-initB (default: all six)
#   E2E_BYTES          bytes per direction in the ul4 cases (default
#                      100000000)
#   E2E_VARIANT_BYTES  bytes per direction in the ul6 and psk cases
#                      (default 20000000)

. "$(dirname "$0")/netns.sh"

t_init
: "${E2E_INTEROP_PAIRS:=wgpipe:wgpipe wgpipe:wireguard-go wireguard-go:wgpipe}"
: "${E2E_INTEROP_CASES:=ul4-initA ul4-initB ul6-initA ul6-initB psk-initA psk-initB}"
: "${E2E_BYTES:=100000000}"
: "${E2E_VARIANT_BYTES:=20000000}"

resolve()
{
	case $1 in
	wgpipe) echo "$WGPIPE" ;;
	wireguard-go) echo "$WIREGUARD_GO" ;;
	*) echo "$1" ;;
	esac
}

for p in $E2E_INTEROP_PAIRS; do
	require_impl "$(resolve "${p%%:*}")" "$(resolve "${p##*:}")"
done
t_watchdog 600
make_hosts
make_keys

# run_case N IMPL_A IMPL_B CASE: one tunnel, in a subshell of its own.
run_case()
{
	local ia=$2 ib=$3 case=$4 ul=4 psk=no init up dn bytes=$E2E_VARIANT_BYTES
	subtest_begin "$1"
	case $case in
	ul4-*) bytes=$E2E_BYTES ;;
	ul6-*) ul=6 ;;
	psk-*) psk=yes ;;
	*) fail "unknown case $case" ;;
	esac
	init=${case##*-init}
	pair_up "$ia" "$ib" init="$init" ul="$ul" psk="$psk"
	local resp=B peer
	[ "$init" = B ] && resp=A
	peer=$resp
	# The initiator's first packet: a ping to the responder.
	ping_ok "$init" "${TUN4[$peer]}" ||
		fail "ping $init -> $peer ${TUN4[$peer]} (first packet, handshake)"
	wait_handshake "$init" 5 || fail "no handshake on the initiator $init"
	wait_handshake "$resp" 5 || fail "no handshake on the responder $resp"
	pass "$case: handshake initiated by $init, seen on both"
	local s o
	for s in A B; do
		o=B
		[ $s = B ] && o=A
		ping_ok $s "${TUN4[$o]}" || fail "$case: ping $s -> $o ${TUN4[$o]}"
		ping_ok $s "${TUN6[$o]}" || fail "$case: ping $s -> $o ${TUN6[$o]}"
	done
	pass "$case: ping IPv4 and IPv6 both ways"
	transfer_agrees || fail "$case: wg show transfer disagrees: $COUNTS"
	pass "$case: wg show transfer agrees on both sides ($COUNTS)"
	local ep
	ep=$(wg_ "$resp" show "${WGIF[$resp]}" endpoints | awk '{ print $2 }')
	if [ "$ul" = 6 ]; then
		[ "$ep" = "[${UL6[$init]}]:${PORT[$init]}" ]
	else
		[ "$ep" = "${UL4[$init]}:${PORT[$init]}" ]
	fi || fail "$case: responder $resp learned endpoint '$ep'"
	pass "$case: responder learned the initiator's endpoint $ep"
	xfer_check A B "${TUN4[B]}" "$bytes"
	up=$XFER_MBIT
	xfer_check B A "${TUN6[A]}" "$bytes"
	dn=$XFER_MBIT
	pass "$case: $bytes bytes A->B (IPv4, $up Mbit/s) and B->A" \
		"(IPv6, $dn Mbit/s), checksums equal"
	pair_down
	echo "$case A->B ${up} B->A ${dn}" >>"$T_TMP/rates"
}

status=0
n=0
results=()
for p in $E2E_INTEROP_PAIRS; do
	ia=$(resolve "${p%%:*}")
	ib=$(resolve "${p##*:}")
	line="$(printf '%-13s <-> %-13s' "$(impl_name "$ia")" "$(impl_name "$ib")")"
	for c in $E2E_INTEROP_CASES; do
		n=$((n + 1))
		say "---- A=$(impl_name "$ia") B=$(impl_name "$ib") case $c"
		: >"$T_TMP/rates"
		if (run_case $n "$ia" "$ib" "$c"); then
			line+=" $c:ok($(awk '{ printf "%.0f/%.0f", $3, $5 }' "$T_TMP/rates"))"
		else
			line+=" $c:FAIL"
			status=1
		fi
	done
	results+=("$line")
done
echo "# matrix (A <-> B, case:result(Mbit/s A->B / B->A)):"
for l in "${results[@]}"; do
	echo "matrix: $l"
done
exit $status
