#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Scale: host A ($WG_IMPL_A, default $WGPIPE) gets 10,000 peers in ONE
# wg setconf, each with its own public key and allowed IPs (a /32 from
# 10.64.0.0/10 and a /128 from fd00:64::/64). wg show, its dump and
# showconf must list every one of them with the right allowed IPs. Then
# 100 of those peers come alive on host B: 100 interfaces, each its own
# daemon ($E2E_SCALE_IMPL_B, default $WG_IMPL_B) with the private key of
# one of A's peers, each pinging A through its own tunnel (ping -I IF).
# Exactly those 100 must show a handshake on A, and each must ping. A
# request replacing all 10,000 peers that fails on its last line must
# change nothing (all or nothing).
#
# Prints the seconds for setconf, show dump, showconf and the 100
# handshakes, and A's resident memory per peer.
#
# With E2E_SCALE_PEERS at the limit (1048576, the kernel module's), one
# wg addconf of a single new peer must be refused and change nothing.
#
# Environment: E2E_SCALE_PEERS (10000), E2E_SCALE_LIVE (100, at most
# E2E_SCALE_PEERS), E2E_SCALE_IMPL_B, E2E_SCALE_B_FLAGS (the small pools
# given to each wgpipe on B), E2E_SCALE_MAX_SETCONF (seconds a setconf
# may take before the test fails, default 30). Over 50 live daemons need
# more inotify instances than the default 128 a user may have: the test
# raises fs.inotify.max_user_instances for its run and puts it back.

# shellcheck disable=SC2015,SC2153 # "A && B || fail" is meant; PID is netns.sh's
# shellcheck source=t/e2e/netns.sh
. "$(dirname "$0")/netns.sh"

: "${E2E_SCALE_PEERS:=10000}"
: "${E2E_SCALE_LIVE:=100}"
: "${E2E_SCALE_IMPL_B:=$WG_IMPL_B}"
: "${E2E_SCALE_B_FLAGS:=--batches 16 --batch-size 16 --crypto-workers 1 --max-inflight 64}"
: "${E2E_SCALE_MAX_SETCONF:=30}"
N=$E2E_SCALE_PEERS
LIVE=$E2E_SCALE_LIVE
[ "$LIVE" -ge 1 ] && [ "$LIVE" -le "$N" ] && [ "$N" -le 4000000 ] ||
	{ echo "E2E_SCALE_LIVE must be 1..E2E_SCALE_PEERS (<= 4000000)" >&2; exit 1; }
A_ADDR4=10.63.0.1
A_ADDR6=fd00:63::1

t_init
require_impl "$WG_IMPL_A" "$E2E_SCALE_IMPL_B"
require_cmd od coreutils
t_watchdog "${E2E_SCALE_WATCHDOG:-300}"
UAPI=$(tool uapiclient) || exit 1
make_hosts
make_keys

# seconds_since T0: wall time since $EPOCHREALTIME was T0.
seconds_since()
{
	awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }'
}

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# --- the peers ------------------------------------------------------

# Peer h (1..N) has 10.64.0.0 + h and fd00:64::h. The live ones are
# spread over the whole list, the first and the last among them; their
# keys come from wg genkey. The others get random 32-byte public keys
# (any 32 bytes are a Curve25519 public key), base64-encoded here
# because N runs of wg genkey would take longer than the test.
declare -A LIVE_KEY=()
for ((k = 0; k < LIVE; k++)); do
	h=$((LIVE > 1 ? 1 + k * (N - 1) / (LIVE - 1) : 1))
	LIVE_KEY[$h]="$T_TMP/live-$h.key"
	(umask 077 && wg genkey >"${LIVE_KEY[$h]}") || fail "wg genkey"
	wg pubkey <"${LIVE_KEY[$h]}" >"$T_TMP/live-$h.pub" || fail "wg pubkey"
done
head -c $((32 * N)) /dev/urandom | od -An -v -tx1 -w32 | awk '
BEGIN {
	B = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	H = "0123456789abcdef"
}
NF == 32 {
	for (i = 1; i <= 32; i++)
		b[i] = (index(H, substr($i, 1, 1)) - 1) * 16 + index(H, substr($i, 2, 1)) - 1
	b[33] = 0
	out = ""
	for (i = 1; i <= 31; i += 3) {
		v = b[i] * 65536 + b[i + 1] * 256 + b[i + 2]
		out = out substr(B, int(v / 262144) + 1, 1) substr(B, int(v / 4096) % 64 + 1, 1)
		out = out substr(B, int(v / 64) % 64 + 1, 1) substr(B, v % 64 + 1, 1)
	}
	print substr(out, 1, 43) "="
}' >"$T_TMP/random.pub" || fail "cannot make $N random keys"
[ "$(wc -l <"$T_TMP/random.pub")" = "$N" ] || fail "not $N random keys"
# The encoder must agree with wg: a key it wrote goes through wg pubkey's
# own decoder only if it is valid base64 of 32 bytes.
[ "$(head -n 1 "$T_TMP/random.pub" | base64 -d | wc -c)" = 32 ] ||
	fail "random key $(head -n 1 "$T_TMP/random.pub") is not 32 bytes"

# expected: "h pubkey v4/32 v6/128" for every peer, in setconf order.
for h in "${!LIVE_KEY[@]}"; do
	echo "$h $(cat "$T_TMP/live-$h.pub")"
done | sort -n >"$T_TMP/live.list"
awk 'NR == FNR { live[$1] = $2; next }
{
	h = FNR
	k = (h in live) ? live[h] : $1
	# fd00:64::h, written as wg writes it (16 bits a group).
	v6 = h < 65536 ? sprintf("%x", h) : sprintf("%x:%x", int(h / 65536), h % 65536)
	printf "%d %s 10.%d.%d.%d/32 fd00:64::%s/128\n", h, k,
		64 + int(h / 65536), int(h / 256) % 256, h % 256, v6
}' "$T_TMP/live.list" "$T_TMP/random.pub" >"$T_TMP/expected"
[ "$(awk '{ print $2 }' "$T_TMP/expected" | sort -u | wc -l)" = "$N" ] ||
	fail "the $N public keys are not distinct"

{
	echo "[Interface]"
	echo "PrivateKey = $(cat "${KEY[A]}")"
	echo "ListenPort = 51820"
	awk '{ printf "\n[Peer]\nPublicKey = %s\nAllowedIPs = %s, %s\n", $2, $3, $4 }' \
		"$T_TMP/expected"
} >"$T_TMP/A.conf"
say "$N peers, $LIVE of them live; config $(wc -c <"$T_TMP/A.conf") bytes"

# --- host A: one setconf ----------------------------------------------

PORT[A]=51820
daemon_start A "$WG_IMPL_A"
IFA=${WGIF[A]}
sleep 0.5
RSS0=$(rss_kib "${PID[A]}")
t0=$EPOCHREALTIME
timeout -k 2 "$E2E_SCALE_MAX_SETCONF" ip netns exec "${NS[A]}" \
	wg setconf "$IFA" "$T_TMP/A.conf" ||
	fail "wg setconf with $N peers failed or took over $E2E_SCALE_MAX_SETCONF s"
T_SETCONF=$(seconds_since "$t0")
RSS1=$(rss_kib "${PID[A]}")
pass "wg setconf: $N peers in $T_SETCONF s"
ip -n "${NS[A]}" addr add "$A_ADDR4/32" dev "$IFA" &&
	ip -n "${NS[A]}" addr add "$A_ADDR6/128" dev "$IFA" nodad &&
	ip -n "${NS[A]}" link set "$IFA" up &&
	ip -n "${NS[A]}" route add 10.64.0.0/10 dev "$IFA" &&
	ip -n "${NS[A]}" route add fd00:64::/64 dev "$IFA" ||
	fail "cannot address or raise $IFA on host A"

# norm_ips: the allowed IPs of a line, sorted, comma-separated.
norm_ips()
{
	awk '{ for (f = 2; f <= NF; f++) { n = split($f, a, ",")
		for (i = 1; i <= n; i++) if (a[i] != "") print $1, a[i] } }' | sort
}

expected_ips() { awk '{ print $2 "\t" $3 "," $4 }' "$T_TMP/expected" | norm_ips; }

t0=$EPOCHREALTIME
timeout -k 2 60 ip netns exec "${NS[A]}" wg show "$IFA" dump >"$T_TMP/dump" ||
	fail "wg show $IFA dump"
T_DUMP=$(seconds_since "$t0")
[ "$(wc -l <"$T_TMP/dump")" = $((N + 1)) ] ||
	fail "wg show dump: $(wc -l <"$T_TMP/dump") lines, not $((N + 1))"
tail -n +2 "$T_TMP/dump" | awk -F'\t' '{ print $1 "\t" $4 }' | norm_ips \
	>"$T_TMP/dump.ips"
expected_ips >"$T_TMP/expected.ips"
cmp -s "$T_TMP/dump.ips" "$T_TMP/expected.ips" ||
	fail "wg show dump: allowed IPs differ from the config:" \
		"$(diff "$T_TMP/expected.ips" "$T_TMP/dump.ips" | head -n 6)"
pass "wg show dump: $N peers with their allowed IPs in $T_DUMP s"

timeout -k 2 60 ip netns exec "${NS[A]}" wg show "$IFA" allowed-ips |
	norm_ips >"$T_TMP/show.ips" || fail "wg show $IFA allowed-ips"
cmp -s "$T_TMP/show.ips" "$T_TMP/expected.ips" ||
	fail "wg show allowed-ips differs from the config:" \
		"$(diff "$T_TMP/expected.ips" "$T_TMP/show.ips" | head -n 6)"
timeout -k 2 60 ip netns exec "${NS[A]}" wg show "$IFA" >"$T_TMP/show" ||
	fail "wg show $IFA"
[ "$(grep -c '^peer: ' "$T_TMP/show")" = "$N" ] ||
	fail "wg show lists $(grep -c '^peer: ' "$T_TMP/show") peers, not $N"
pass "wg show: $N peers, allowed-ips as configured"

t0=$EPOCHREALTIME
timeout -k 2 60 ip netns exec "${NS[A]}" wg showconf "$IFA" >"$T_TMP/showconf" ||
	fail "wg showconf $IFA"
T_SHOWCONF=$(seconds_since "$t0")
[ "$(grep -c '^\[Peer\]' "$T_TMP/showconf")" = "$N" ] ||
	fail "wg showconf: $(grep -c '^\[Peer\]' "$T_TMP/showconf") peers, not $N"
pass "wg showconf: $N peers in $T_SHOWCONF s"

# --- all or nothing at this size --------------------------------------

# A raw request replacing every peer with N new ones (at most 12,000:
# uapiclient sends up to 1 MiB), refused on its very last line, must
# leave all N old peers as they were.
M=$((N < 12000 ? N : 12000))
{
	printf 'set=1\nreplace_peers=true\n'
	head -c $((32 * M)) /dev/urandom | od -An -v -tx1 -w32 |
		tr -d ' ' | sed 's/^/public_key=/'
	printf 'allowed_ip=10.64.0.1/33\n\n'
} >"$T_TMP/bad.req"
answer=$("$UAPI" -t 30000 "$UAPI_DIR/$IFA.sock" <"$T_TMP/bad.req")
grep -Eq '^errno=-?[1-9]' <<<"$answer" ||
	fail "a $M-peer request with a bad last line was not refused: $answer"
timeout -k 2 60 ip netns exec "${NS[A]}" wg show "$IFA" dump >"$T_TMP/dump2" ||
	fail "wg show $IFA dump after the refused request"
cmp -s "$T_TMP/dump" "$T_TMP/dump2" ||
	fail "a refused request changed the config: $(diff "$T_TMP/dump" "$T_TMP/dump2" | head -n 4)"
pass "a refused $M-peer replace_peers request changed nothing"

# --- past the limit ----------------------------------------------------

if [ "$N" -ge 1048576 ]; then
	wg genkey | wg pubkey >"$T_TMP/extra.pub" || fail "wg genkey"
	printf '[Peer]\nPublicKey = %s\nAllowedIPs = 10.127.255.254/32\n' \
		"$(cat "$T_TMP/extra.pub")" >"$T_TMP/extra.conf"
	if out=$(ip netns exec "${NS[A]}" wg addconf "$IFA" "$T_TMP/extra.conf" 2>&1); then
		fail "peer $((N + 1)) was accepted past the limit of 1048576"
	fi
	timeout -k 2 120 ip netns exec "${NS[A]}" wg show "$IFA" dump >"$T_TMP/dump3" ||
		fail "wg show $IFA dump after the refused addconf"
	cmp -s "$T_TMP/dump" "$T_TMP/dump3" ||
		fail "a refused addconf changed the config"
	pass "peer $((N + 1)) refused past the limit ($out), nothing changed"
fi

# --- host B: the live peers -------------------------------------------

# Each live peer is its own interface and daemon. A ping bound to the
# interface (-I) finds the route to A through it: the routes differ in
# metric only, and a device-bound lookup skips the others. Replies come
# back on the interface the ping was bound to, not the first route's, so
# no reverse-path filter.
if [ "$LIVE" -gt 50 ]; then
	inotify_max=$(cat /proc/sys/fs/inotify/max_user_instances)
	if [ "$inotify_max" -lt $((3 * LIVE + 128)) ]; then
		on_exit "sysctl -qw fs.inotify.max_user_instances=$inotify_max"
		sysctl -qw fs.inotify.max_user_instances=$((3 * LIVE + 128)) ||
			fail "cannot raise fs.inotify.max_user_instances"
	fi
fi
nsx B sysctl -qw net.ipv4.conf.all.rp_filter=0 \
	net.ipv4.conf.default.rp_filter=0 || fail "rp_filter on B"
BFLAGS=()
is_wggo "$E2E_SCALE_IMPL_B" || read -r -a BFLAGS <<<"$E2E_SCALE_B_FLAGS"
declare -A BIF=() BPID=()
HS=()
while read -r h _; do HS+=("$h"); done <"$T_TMP/live.list"
t0=$EPOCHREALTIME
for h in "${HS[@]}"; do
	T_SEQ=$((T_SEQ + 1))
	BIF[$h]="wgb${T_SEQ}p$$"
	T_IFNAMES+=("${BIF[$h]}")
	ip netns exec "${NS[B]}" env WG_PROCESS_FOREGROUND=1 \
		LOG_LEVEL="$E2E_LOG_LEVEL" "$E2E_SCALE_IMPL_B" -f "${BFLAGS[@]}" \
		"${BIF[$h]}" >"$T_TMP/daemon-${BIF[$h]}.log" 2>&1 &
	BPID[$h]=$!
	track "${BPID[$h]}"
done
for h in "${HS[@]}"; do
	wait_up B "${BIF[$h]}" "${BPID[$h]}"
done
pass "$LIVE daemons on B up in $(seconds_since "$t0") s ($(impl_name "$E2E_SCALE_IMPL_B"))"

k=0
for h in "${HS[@]}"; do
	k=$((k + 1))
	read -r _ _ ip4 ip6 < <(awk -v h="$h" '$1 == h' "$T_TMP/expected")
	# Each keeps the random port it started with: a fixed one could be
	# one another daemon here drew at random.
	wg_ B set "${BIF[$h]}" private-key "${LIVE_KEY[$h]}" \
		peer "${PUB[A]}" \
		allowed-ips "$A_ADDR4/32,$A_ADDR6/128" \
		endpoint "${UL4[A]}:${PORT[A]}" || fail "wg set ${BIF[$h]} on B"
	echo "addr add $ip4 dev ${BIF[$h]}"
	echo "addr add $ip6 dev ${BIF[$h]} nodad"
	echo "link set ${BIF[$h]} up"
	echo "route add $A_ADDR4/32 dev ${BIF[$h]} metric $k"
done >"$T_TMP/B.ipbatch"
# Every daemon on B hears the netlink events of all 100 interfaces;
# wireguard-go exits when its netlink socket overflows (ENOBUFS), so the
# changes go in slices of ten interfaces, with time to read between.
split -l 40 "$T_TMP/B.ipbatch" "$T_TMP/B.ipbatch."
for f in "$T_TMP"/B.ipbatch.*; do
	ip -n "${NS[B]}" -batch "$f" ||
		fail "cannot address the $LIVE interfaces on B"
	sleep 0.2
done

# All pings at once: 100 first packets, 100 handshakes.
declare -A PING_PID=()
t0=$EPOCHREALTIME
start_s=${t0%.*}
for h in "${HS[@]}"; do
	ip netns exec "${NS[B]}" ping -n -q -c 3 -i 0.2 -w 40 -I "${BIF[$h]}" \
		"$A_ADDR4" >"$T_TMP/ping-$h.out" 2>&1 &
	PING_PID[$h]=$!
	track "${PING_PID[$h]}"
done
bad=()
for h in "${HS[@]}"; do
	wait_pid "${PING_PID[$h]}" 50 || bad+=("$h")
done
T_PINGS=$(seconds_since "$t0")
[ ${#bad[@]} = 0 ] ||
	fail "${#bad[@]} of $LIVE live peers did not ping A (peers ${bad[*]:0:10}):" \
		"$(tail -n 2 "$T_TMP/ping-${bad[0]}.out")"
pass "all $LIVE live peers pinged A through their tunnels ($T_PINGS s)"

wg_ A show "$IFA" latest-handshakes >"$T_TMP/hs" || fail "wg show latest-handshakes"
awk '$2 != 0 { print $1 }' "$T_TMP/hs" | sort >"$T_TMP/hs.live"
awk '{ print $2 }' "$T_TMP/live.list" | sort >"$T_TMP/live.keys"
[ "$(wc -l <"$T_TMP/hs")" = "$N" ] ||
	fail "latest-handshakes lists $(wc -l <"$T_TMP/hs") peers, not $N"
cmp -s "$T_TMP/hs.live" "$T_TMP/live.keys" ||
	fail "peers with a handshake on A are not the $LIVE live ones:" \
		"$(diff "$T_TMP/live.keys" "$T_TMP/hs.live" | head -n 6)"
last_hs=$(awk -v s="$start_s" '$2 != 0 && $2 > m { m = $2 } END { print m - s }' "$T_TMP/hs")
pass "A: exactly the $LIVE live peers have a handshake (the last <= ${last_hs} s after the first ping)"
RSS2=$(rss_kib "${PID[A]}")

kill -0 "${PID[A]}" 2>/dev/null || fail "the daemon on A died"

# Stop B's daemons all at once rather than one by one at exit.
for h in "${HS[@]}"; do kill -TERM "${BPID[$h]}" 2>/dev/null; done
for h in "${HS[@]}"; do
	wait_pid "${BPID[$h]}" 10 >/dev/null 2>&1
done

per_peer() { awk -v a="$1" -v b="$2" -v n="$N" 'BEGIN { printf "%.0f", (b - a) * 1024 / n }'; }
say "figures: peers=$N setconf=${T_SETCONF}s dump=${T_DUMP}s showconf=${T_SHOWCONF}s" \
	"live=$LIVE pings=${T_PINGS}s"
say "A VmRSS: ${RSS0} KiB at start, ${RSS1} KiB after setconf" \
	"($(per_peer "$RSS0" "$RSS1") bytes/peer), ${RSS2} KiB after the" \
	"handshakes ($(per_peer "$RSS0" "$RSS2") bytes/peer)"
exit 0
