#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Hostile input while a transfer runs from A to B: garbage, truncated,
# oversized (65507 bytes) and forged WireGuard datagrams (types 1..4,
# initiations with a valid MAC1) at both listen ports over IPv4 and IPv6,
# and malformed requests on both UAPI sockets. The transfer must complete
# with equal checksums, both daemons must still run and answer wg show,
# the tunnel must still work, and every malformed request must be refused
# (errno=N, N != 0, or the connection closed, never errno=0).
#
# For wgpipe only (skipped for wireguard-go, which behaves otherwise):
# a refused UAPI request changes nothing (wireguard-go creates the peer
# before refusing a bad allowed_ip), and bad command-line flags exit 1
# with a message (E2E_BAD_FLAG_NAMES, default "--tun-readers
# --crypto-workers", each given 0 (but for --crypto-workers, where 0 is
# valid), -1, abc, 100000 and no value; plus an
# unknown flag and a missing interface name).

. "$(dirname "$0")/netns.sh"

t_init
require_impl "$WG_IMPL_A" "$WG_IMPL_B"
t_watchdog 180
: "${E2E_BAD_FLAG_NAMES:=--tun-readers --crypto-workers}"
GARBAGE=$(tool udpgarbage) || exit 1
UAPI=$(tool uapiclient) || exit 1
make_hosts
make_keys
say "A=$(impl_name "$WG_IMPL_A") B=$(impl_name "$WG_IMPL_B")"
pair_up "$WG_IMPL_A" "$WG_IMPL_B" init=both
check "ping A -> B before the abuse" ping_ok A "${TUN4[B]}"

norm_conf()
{
	wg_ "$1" showconf "${WGIF[$1]}" | awk '
	/^\[Peer\]/ { p = ""; next }
	/^PublicKey = / { p = $3 }
	/ = / { print p, $0 }' | sort
}
norm_conf A >"$T_TMP/confA.before"
norm_conf B >"$T_TMP/confB.before"

# The transfer that must survive it all.
seed=$RANDOM
port=6000
xfer_recv_start B $port "$T_TMP/recv.out" -i 20 -s $seed
ip netns exec "${NS[A]}" "$XFER" send -r 30000000 -t 12 "${TUN4[B]}" $port 0 \
	$seed >"$T_TMP/send.out" 2>&1 &
spid=$!
track $spid

# Datagrams from each host at the other's listen port, v4 and v6.
gpids=()
for s in A B; do
	o=$(other $s)
	for addr in "${UL4[$o]}" "${UL6[$o]}"; do
		ip netns exec "${NS[$s]}" "$GARBAGE" -k "${PUB[$o]}" "$addr" \
			"${PORT[$o]}" all 20 $RANDOM >>"$T_TMP/garbage.out" 2>&1 &
		gpids+=($!)
		track $!
	done
done

# UAPI requests. refused REQ: the answer must carry errno=N, N != 0.
# not_accepted REQ: the daemon may also just close; never errno=0.
other_hex=$(wg genkey | wg pubkey | base64 -d | od -An -v -tx1 | tr -d ' \n')
uapi_ask()
{
	local side=$1 req=$2
	shift 2
	printf '%b' "$req" | timeout -k 1 10 ip netns exec "${NS[$side]}" \
		"$UAPI" "$@" "$UAPI_DIR/${WGIF[$side]}.sock"
}
refused()
{
	local s ans
	for s in A B; do
		ans=$(uapi_ask $s "$@")
		case $? in
		0) ;;
		2) fail "$(impl_name "${IMPL[$s]}") on $s: no answer to" \
			"$(printf %q "$1")" ;;
		*) fail "uapiclient could not talk to $s" ;;
		esac
		grep -Eq '^errno=-?[1-9][0-9]*$' <<<"$ans" ||
			fail "$(impl_name "${IMPL[$s]}") on $s answered" \
				"'$(tr '\n' '|' <<<"$ans")' to $(printf %q "$1")"
	done
}
not_accepted()
{
	local s ans
	for s in A B; do
		ans=$(uapi_ask $s "$@")
		case $? in
		0) ;;
		2) fail "$(impl_name "${IMPL[$s]}") on $s neither answered" \
			"nor closed after $(printf %q "${1:0:60}")" ;;
		*) fail "uapiclient could not talk to $s" ;;
		esac
		grep -q '^errno=0$' <<<"$ans" &&
			fail "$(impl_name "${IMPL[$s]}") on $s accepted" \
				"$(printf %q "${1:0:60}")"
	done
}

sleep 1
refused 'set=1\nprivate_key=zz\n\n'
refused "set=1\nprivate_key=${other_hex:0:63}\n\n"
refused 'set=1\nlisten_port=99999\n\n'
refused 'set=1\nlisten_port=abc\n\n'
refused 'set=1\nlisten_port\n\n'
refused 'set=1\nfwmark=abc\n\n'
refused 'set=1\nno_such_key=1\n\n'
refused 'set=1\nallowed_ip=10.0.0.0/8\n\n'
refused "set=1\npublic_key=$other_hex\nallowed_ip=10.0.0.0/99\n\n"
refused "set=1\npublic_key=$other_hex\nallowed_ip=10.0.0.300/32\n\n"
refused "set=1\npublic_key=$other_hex\nendpoint=nonsense\n\n"
refused "set=1\npublic_key=$other_hex\npersistent_keepalive_interval=70000\n\n"
refused "set=1\npublic_key=$other_hex\nprotocol_version=2\n\n"
refused "set=1\npublic_key=$other_hex\npreshared_key=xyz\n\n"
refused 'get=1\nextra\n\n'
pass "UAPI: 15 malformed set/get requests refused with errno != 0 by both"
not_accepted 'hello=1\n\n'
not_accepted '\n\n'
not_accepted "$(head -c 100000 /dev/zero | tr '\0' a)\n\n"
not_accepted "set=1\n$(head -c 100000 /dev/zero | tr '\0' a)=1\n\n"
not_accepted "$(head -c 4096 /dev/urandom | od -An -v -tx1 | tr -d ' \n' | sed 's/../\\x&/g')"
not_accepted 'set=1\nprivate_key=' -h
not_accepted 'get=' -h
pass "UAPI: unknown op, empty, 100 kB lines, binary junk, truncated: none accepted"

for p in "${gpids[@]}"; do
	wait_pid "$p" 60 || fail "udpgarbage failed: $(cat "$T_TMP/garbage.out")"
done
say "udpgarbage: $(awk '{ n += $2 } END { print n }' "$T_TMP/garbage.out")" \
	"hostile datagrams sent (random, truncated, 65507-byte, forged)"
wait_pid $spid 60 || fail "xfer send failed: $(cat "$T_TMP/send.out")"
wait_pid "$XFER_RECV_PID" 30 || fail "xfer recv failed: $(cat "$T_TMP/recv.out")"
sent=$(awk '/^sent/ { print $2, $4 }' "$T_TMP/send.out")
got=$(awk '/^received/ { print $2, $4 }' "$T_TMP/recv.out")
[ -n "$sent" ] && [ "$sent" = "$got" ] ||
	fail "sent [$sent] but received [$got] $(grep mismatch "$T_TMP/recv.out" | tr "\n" " ")"
pass "transfer during the abuse complete, checksums equal (${sent%% *} bytes," \
	"longest gap $(awk '/^received/ { print $6 }' "$T_TMP/recv.out") ms)"

for s in A B; do
	kill -0 "${PID[$s]}" 2>/dev/null ||
		fail "$(impl_name "${IMPL[$s]}") on $s died"
	wg_ $s show "${WGIF[$s]}" >/dev/null ||
		fail "$(impl_name "${IMPL[$s]}") on $s no longer answers wg show"
done
pass "both daemons still run and answer wg show"
check "ping A -> B after the abuse" ping_ok A "${TUN4[B]}"
check "ping B -> A after the abuse (IPv6)" ping_ok B "${TUN6[A]}"

for s in A B; do
	if is_wggo "${IMPL[$s]}"; then
		say "not checked on $s: refused requests leave no trace" \
			"(wireguard-go applies a request up to its bad line)"
		continue
	fi
	norm_conf $s >"$T_TMP/conf$s.after"
	diff "$T_TMP/conf$s.before" "$T_TMP/conf$s.after" >"$T_TMP/conf.diff" ||
		fail "refused UAPI requests changed $s's config:" \
			"$(cat "$T_TMP/conf.diff")"
	pass "$s: refused UAPI requests changed nothing"
done

# --- bad flags (wgpipe only) --------------------------------------------

if is_wggo "$WGPIPE"; then
	say "skipped: bad command-line flags (\$WGPIPE is wireguard-go)"
	pair_down
	exit 0
fi
BADIF="wgx$$"
T_IFNAMES+=("$BADIF")
bad_flags()
{
	local out rc
	# -f and a timeout: a daemon that wrongly starts stays in namespace A,
	# in the foreground, and is stopped.
	out=$(timeout -k 1 5 ip netns exec "${NS[A]}" env WG_PROCESS_FOREGROUND=1 \
		"$WGPIPE" -f "$@" 2>&1 </dev/null)
	rc=$?
	[ $rc = 1 ] || fail "wgpipe -f $* exited $rc, not 1: $out"
	[ -n "$out" ] || fail "wgpipe -f $* exited 1 without a message"
	ip -n "${NS[A]}" link show "$BADIF" >/dev/null 2>&1 &&
		fail "wgpipe -f $* left interface $BADIF behind"
	[ -e "$UAPI_DIR/$BADIF.sock" ] &&
		fail "wgpipe -f $* left $UAPI_DIR/$BADIF.sock behind"
	echo "#   wgpipe -f $*: exit 1: $(head -n 1 <<<"$out")"
}
for f in $E2E_BAD_FLAG_NAMES; do
	for v in 0 -1 abc 100000; do
		# --crypto-workers 0 is valid: the readers do the crypto.
		[ "$f$v" = --crypto-workers0 ] && continue
		bad_flags "$f" "$v" "$BADIF"
	done
	bad_flags "$BADIF" "$f"
done
bad_flags --no-such-flag "$BADIF"
bad_flags
pass "bad flags: each exits 1 with a message and creates nothing"
pair_down
exit 0
