#!/bin/bash
# SPDX-License-Identifier: MIT
#
# `wgpipe show --json` and `wgpipe show --prometheus` on a running tunnel,
# read by real parsers: jq for the JSON, and the text parser of Python's
# prometheus_client (Debian's python3-prometheus-client) for the
# exposition. Host A and host B run wgpipe; A has a second peer, C, whose
# endpoint never answers. Checks that
#   - both parsers refuse a damaged copy of the output (so that their
#     verdict on the real one means something), and accept the real one;
#   - the JSON lists exactly the counters wgpipe(8) documents, device
#     (Counters) and per peer (Peer counters), in that order; the
#     exposition has exactly the series wgpipe(8) names for them, each
#     family with HELP and TYPE, counters ending in _total, every series
#     labelled with the interface and each peer's with its public key,
#     and the same values as the JSON (in base units);
#   - each per-peer counter moves when its event happens, and so does
#     the device-wide one beside it: traffic each way (packets, bytes,
#     handshakes initiated and completed, the age of the handshake), a
#     packet from a source the peer may not use (drop_source), replayed
#     data messages (drop_replay), corrupted ones (drop_decrypt), packets
#     for C that never gets a handshake (drop_no_keypair; its age is
#     "never": null and +Inf), and a response under a wrong preshared key
#     (handshakes_refused).
#
# Environment: as netns.sh; PYTHON3 (default /usr/bin/python3, which has
# Debian's python3-prometheus-client).

# shellcheck disable=SC2015 # "A && B || fail" is meant
# shellcheck source=t/e2e/netns.sh
. "$(dirname "$0")/netns.sh"

t_init
require_impl "$WGPIPE"
require_cmd jq jq
: "${PYTHON3:=/usr/bin/python3}"
[ -x "$PYTHON3" ] && "$PYTHON3" -c 'import prometheus_client.parser' 2>/dev/null ||
	skip_or_fail "$PYTHON3 cannot import prometheus_client" \
		"(Debian package python3-prometheus-client)"
PAGE="$T_TOP_SRCDIR/man/wgpipe.8"
[ -f "$PAGE" ] || fail "no manual page $PAGE"
t_watchdog 240
FLOOD=$(tool flood) || exit 1

# --- what wgpipe(8) documents ---------------------------------------------

# doc_counters SECTION: "name series" for each counter of the .SS SECTION
# of wgpipe(8): ".TP", ".B name", its text, "Prometheus:", ".B series".
doc_counters()
{
	awk -v sec=".SS $1" '/^\.S[SH]/ { on = ($0 == sec); next }
		!on { prev = $0; next }
		prev == ".TP" && /^\.B [a-z0-9_]+$/ { name = $2 }
		prev == "Prometheus:" && /^\.B / { s = $2; sub(/^\\%/, "", s); print name, s }
		{ prev = $0 }' "$PAGE"
}
mapfile -t DOC_DEV < <(doc_counters Counters)
mapfile -t DOC_PEER < <(doc_counters "Peer counters")
[ ${#DOC_DEV[@]} -ge 40 ] && [ ${#DOC_PEER[@]} -ge 10 ] ||
	fail "wgpipe(8): ${#DOC_DEV[@]} counters with a Prometheus series" \
		"under Counters, ${#DOC_PEER[@]} under Peer counters"
DEV_NAMES=$(printf '%s\n' "${DOC_DEV[@]%% *}")
PEER_NAMES=$(printf '%s\n' public_key "${DOC_PEER[@]%% *}")

# --- the parsers --------------------------------------------------------------

# prom_flat FILE: the exposition through prometheus_client's parser, one
# line per sample: "name|labels|interface|public_key value", labels
# being the others as k=v (sorted, comma-separated, "-" for none). Fails
# on what the parser refuses, a family without HELP or TYPE, a counter
# not named *_total, a sample without the interface label.
prom_flat()
{
	"$PYTHON3" - "$1" <<'EOF'
import math, sys
from prometheus_client.parser import text_string_to_metric_families

text = open(sys.argv[1]).read()
helps = {l.split()[2] for l in text.splitlines() if l.startswith("# HELP ")}
types = {l.split()[2]: l.split()[3] for l in text.splitlines()
         if l.startswith("# TYPE ")}
for fam in text_string_to_metric_families(text):
    for s in fam.samples:
        if s.name not in helps or s.name not in types:
            sys.exit(f"{s.name}: no HELP or no TYPE line")
        if (types[s.name] == "counter") != s.name.endswith("_total"):
            sys.exit(f"{s.name}: type {types[s.name]} and _total disagree")
        if fam.type != types[s.name]:
            sys.exit(f"{s.name}: parsed as {fam.type}")
        labels = dict(s.labels)
        if "interface" not in labels:
            sys.exit(f"{s.name}: no interface label")
        iface = labels.pop("interface")
        key = labels.pop("public_key", "-")
        other = ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "-"
        v = s.value
        v = "inf" if math.isinf(v) else repr(v)
        print(f"{s.name}|{other}|{iface}|{key} {v}")
EOF
}

# snap SIDE TAG: wgpipe show --json and --prometheus on SIDE into
# $T_TMP/TAG-SIDE.json and .prom; both must exit 0, say nothing on
# stderr and parse. The parsed exposition goes to .flat.
snap()
{
	local side=$1 f="$T_TMP/$2-$1" fmt try out
	# JSON, Prometheus, JSON again: the two formats are compared, so they
	# must be of the same moment. A packet the kernel sends on its own
	# (an IPv6 multicast report, counted in drop_no_peer) or a second
	# ticking in a handshake's age can fall between two reads; then the
	# JSON reads differ and the three are taken again.
	for ((try = 0; try < 5; try++)); do
		for fmt in json prometheus json2; do
			out=$f.${fmt:0:4}
			[ "$fmt" = json2 ] && out=$f.json2
			timeout -k 2 20 ip netns exec "${NS[$side]}" "$WGPIPE" show \
				--"${fmt%2}" "${WGIF[$side]}" >"$out" 2>"$f.err" ||
				fail "wgpipe show --${fmt%2} on $side: $(cat "$f.err")"
			[ ! -s "$f.err" ] || fail "wgpipe show --${fmt%2} on $side wrote: $(cat "$f.err")"
		done
		cmp -s "$f.json" "$f.json2" && break
		say "$side: the counters moved while they were read; reading again"
	done
	jq -e 'type == "object"' "$f.json" >/dev/null 2>"$f.err" ||
		fail "jq refuses wgpipe show --json on $side: $(cat "$f.err")"
	prom_flat "$f.prom" >"$f.flat" 2>"$f.err" ||
		fail "prometheus_client refuses wgpipe show --prometheus on $side:" \
			"$(tail -n 3 "$f.err")"
}

# jv SIDE TAG FILTER: a value from the JSON of a snap.
jv() { jq -r "$3" "$T_TMP/$2-$1.json"; }

# pv SIDE TAG PEER NAME: peer PEER's (a host letter, or C) counter NAME.
pv()
{
	jq -r --arg k "${PUB[$3]}" --arg n "$4" \
		'.peers[] | select(.public_key == $k) | .[$n]' "$T_TMP/$2-$1.json"
}

# dv SIDE TAG NAME: a device counter.
dv() { jv "$1" "$2" ".device.$3"; }

# --- the two formats say the same, in wgpipe(8)'s words --------------------

# prom_key NAME SERIES [IMPL]: wgpipe(8)'s series as prom_flat writes its
# name and labels.
prom_key()
{
	local series=$2 name labels
	name=${series%%\{*}
	labels=-
	if [ "$name" != "$series" ]; then
		labels=${series#*\{}
		labels=${labels%\}}
		labels=${labels//\"/}
		[ "$labels" = implementation=NAME ] && labels="implementation=$3"
	fi
	echo "$name|$labels"
}

# expected VALUE NAME: the exposition's value for a JSON value, as Python
# prints it: a float, base units.
expected()
{
	case $2 in
	*_kib) echo "$(($1 * 1024)).0" ;;
	*_x100) awk -v v="$1" 'BEGIN { s = sprintf("%.2f", v / 100); sub(/0$/, "", s); print s }' ;;
	*) if [ "$1" = null ]; then echo inf; else echo "$1.0"; fi ;;
	esac
}

# consistent SIDE TAG: the JSON's keys are wgpipe(8)'s, in order; each
# value is in the exposition under wgpipe(8)'s series; nothing else is.
consistent()
{
	local side=$1 tag=$2 f="$T_TMP/$2-$1" entry name key want n=0 pk i npeers
	local ifname=${WGIF[$side]} impl
	[ "$(jv "$side" "$tag" .interface)" = "$ifname" ] ||
		fail "$side: JSON interface is $(jv "$side" "$tag" .interface)"
	[ "$(jv "$side" "$tag" '.device | keys_unsorted[]')" = "$DEV_NAMES" ] ||
		fail "$side: the JSON's device keys are not wgpipe(8)'s Counters:" \
			"$(jv "$side" "$tag" '.device | keys_unsorted | join(" ")')"
	impl=$(dv "$side" "$tag" crypto)
	: >"$f.want"
	for entry in "${DOC_DEV[@]}"; do
		name=${entry%% *}
		key=$(prom_key "$name" "${entry#* }" "$impl")
		if [ "$name" = crypto ]; then
			want=1.0
		else
			want=$(expected "$(dv "$side" "$tag" "$name")" "$name")
		fi
		echo "$key|$ifname|- $want" >>"$f.want"
	done
	npeers=$(jv "$side" "$tag" '.peers | length')
	for ((i = 0; i < npeers; i++)); do
		[ "$(jv "$side" "$tag" ".peers[$i] | keys_unsorted[]")" = "$PEER_NAMES" ] ||
			fail "$side: JSON peer $i's keys are not wgpipe(8)'s Peer counters:" \
				"$(jv "$side" "$tag" ".peers[$i] | keys_unsorted | join(\" \")")"
		pk=$(jv "$side" "$tag" ".peers[$i].public_key")
		for entry in "${DOC_PEER[@]}"; do
			name=${entry%% *}
			key=$(prom_key "$name" "${entry#* }")
			want=$(expected "$(jv "$side" "$tag" ".peers[$i].$name")" "$name")
			echo "$key|$ifname|$pk $want" >>"$f.want"
		done
	done
	n=$(wc -l <"$f.want")
	diff <(sort "$f.want") <(sort "$f.flat") >"$f.diff" ||
		fail "$side: JSON (via wgpipe(8)'s names, <) and Prometheus (>) differ:" \
			$'\n'"$(head -n 20 "$f.diff")"
	PASS_LINE="$n series, $npeers peer(s)"
}

# --- the parsers refuse what they should --------------------------------------

make_hosts
make_keys
C_KEY=$(wg genkey) || fail "wg genkey"
PUB[C]=$(wg pubkey <<<"$C_KEY")
pair_up "$WGPIPE" "$WGPIPE" init=A
# C: an endpoint on A's underlay that nobody has; its packets die in A.
wg_ A set "${WGIF[A]}" peer "${PUB[C]}" allowed-ips 10.201.0.3/32 \
	endpoint 10.200.0.77:51830 || fail "wg set: peer C on A"

snap A s0
snap B s0
# A damaged copy of each: both parsers must say no.
sed 's/^\(wgpipe_tun_rx_packets_total{[^}]*\)}/\1/' "$T_TMP/s0-A.prom" >"$T_TMP/bad.prom"
cmp -s "$T_TMP/bad.prom" "$T_TMP/s0-A.prom" && fail "could not damage the exposition"
prom_flat "$T_TMP/bad.prom" >/dev/null 2>&1 &&
	fail "prometheus_client accepted a sample without its closing brace"
head -c -3 "$T_TMP/s0-A.json" >"$T_TMP/bad.json"
jq -e . "$T_TMP/bad.json" >/dev/null 2>&1 && fail "jq accepted truncated JSON"
sed 's/^\(# TYPE wgpipe_peer_tx_bytes_total\) counter/\1 gauge/' \
	"$T_TMP/s0-A.prom" >"$T_TMP/bad2.prom"
prom_flat "$T_TMP/bad2.prom" >/dev/null 2>&1 &&
	fail "the check accepted a gauge named _total"
pass "the parsers refuse a damaged copy: a sample cut short, truncated JSON, a gauge named _total"

for s in A B; do
	consistent "$s" s0
	pass "$s, idle: jq and prometheus_client read the same $PASS_LINE, as wgpipe(8) names them"
done

# wgpipe --version names the implementation "auto" picks on this CPU: the
# one the daemons (started with the default, auto) say they use.
"$WGPIPE" --version >"$T_TMP/version" || fail "wgpipe --version failed"
auto=$(sed -n 's/^--crypto auto chooses on this CPU: //p' "$T_TMP/version")
usable=$(awk '$NF == "here" && $(NF - 1) == "usable" { print $1 }' "$T_TMP/version" | paste -sd ' ')
[ -n "$auto" ] && [ "$auto" = "$(dv A s0 crypto)" ] && [[ " $usable " == *" $auto "* ]] &&
	[[ " $usable " == *" libsodium "* ]] && [[ " $usable " == *" portable "* ]] ||
	fail "wgpipe --version says auto picks [$auto] of [$usable]; the daemon uses $(dv A s0 crypto):"$'\n'"$(cat "$T_TMP/version")"
pass "wgpipe --version: usable here [$usable], auto picks $auto, as the daemon does"
for p in B C; do
	for n in rx_packets tx_packets rx_bytes tx_bytes handshakes_completed \
		latest_handshake_seconds; do
		[ "$(pv A s0 "$p" "$n")" = 0 ] || fail "A, peer $p, before any traffic: $n is $(pv A s0 "$p" "$n")"
	done
	[ "$(pv A s0 "$p" latest_handshake_age_seconds)" = null ] ||
		fail "A, peer $p: age $(pv A s0 "$p" latest_handshake_age_seconds) before any handshake"
	grep -qF "wgpipe_peer_latest_handshake_age_seconds|-|${WGIF[A]}|${PUB[$p]} inf" "$T_TMP/s0-A.flat" ||
		fail "A, peer $p: the exposition's age is not +Inf before any handshake"
done
pass "before traffic: nothing counted for B and C on A, their handshake age null (JSON) and +Inf (Prometheus)"

# delta SIDE PEER NAME: the change of a peer's counter from s_prev to s_cur.
delta() { echo $(($(pv "$1" "$S_CUR" "$2" "$3") - $(pv "$1" "$S_PREV" "$2" "$3"))); }
ddelta() { echo $(($(dv "$1" "$S_CUR" "$2") - $(dv "$1" "$S_PREV" "$2"))); }

# --- traffic --------------------------------------------------------------------

check "ping A -> B" ping_ok A "${TUN4[B]}"
xfer_check A B "${TUN4[B]}" 2000000
xfer_check B A "${TUN4[A]}" 2000000
S_PREV=s0 S_CUR=s1
snap A s1
snap B s1
now=$(date +%s)
for n in tx_packets rx_packets tx_bytes rx_bytes handshakes_initiated handshakes_completed; do
	[ "$(delta A B "$n")" -gt 0 ] || fail "A, peer B: $n did not move with traffic"
done
[ "$(delta B A handshakes_completed)" -gt 0 ] && [ "$(delta B A rx_packets)" -gt 1000 ] &&
	[ "$(delta B A tx_packets)" -gt 1000 ] ||
	fail "B, peer A: handshakes_completed +$(delta B A handshakes_completed)," \
		"rx_packets +$(delta B A rx_packets), tx_packets +$(delta B A tx_packets)"
hs=$(pv A s1 B latest_handshake_seconds)
age=$(pv A s1 B latest_handshake_age_seconds)
[ $((now - hs)) -ge 0 ] && [ $((now - hs)) -le 60 ] && [ "$age" -le 60 ] &&
	[ $((now - hs - age)) -ge -1 ] && [ $((now - hs - age)) -le 2 ] ||
	fail "A, peer B: latest handshake $hs, age $age, now $now"
[ "$(ddelta A tun_rx_packets)" -ge "$(delta A B tx_packets)" ] &&
	[ "$(ddelta A udp_tx_packets)" -ge "$(delta A B tx_packets)" ] ||
	fail "A: device counters below peer B's: tun_rx +$(ddelta A tun_rx_packets)" \
		"udp_tx +$(ddelta A udp_tx_packets), peer tx +$(delta A B tx_packets)"
pass "traffic: A -> B tx_packets +$(delta A B tx_packets) tx_bytes +$(delta A B tx_bytes)," \
	"rx_packets +$(delta A B rx_packets) rx_bytes +$(delta A B rx_bytes);" \
	"handshakes initiated +$(delta A B handshakes_initiated) completed +$(delta A B handshakes_completed)" \
	"(B completed +$(delta B A handshakes_completed)); handshake age $age s"
for s in A B; do
	consistent "$s" s1
	pass "$s, after traffic: jq and prometheus_client agree on $PASS_LINE"
done

# --- a source B may not use -----------------------------------------------------

ip -n "${NS[B]}" addr add 10.201.0.99/32 dev "${WGIF[B]}" ||
	fail "cannot add 10.201.0.99 on B"
ip netns exec "${NS[B]}" ping -n -q -c 3 -i 0.2 -W 1 -I 10.201.0.99 \
	"${TUN4[A]}" >/dev/null 2>&1 && fail "A answered a ping from 10.201.0.99"
S_PREV=s1 S_CUR=s2
snap A s2
[ "$(delta A B drop_source)" = 3 ] && [ "$(ddelta A drop_source)" = 3 ] &&
	[ "$(delta A C drop_source)" = 0 ] ||
	fail "3 pings from 10.201.0.99: A's peer B drop_source +$(delta A B drop_source)," \
		"device +$(ddelta A drop_source), peer C +$(delta A C drop_source)"
pass "3 pings from a source B may not use: A's peer B drop_source +3, device drop_source +3"

# --- replayed and corrupted data messages -----------------------------------------

# inject TAG [-x]: captures 10 data messages A sends B while A pings B,
# and sends each again twice (-x: with a flipped tag byte); then snaps B.
inject()
{
	local tag=$1 rpid
	shift
	ip netns exec "${NS[A]}" "$FLOOD" replay -c 2 -d 50 "$@" ul0 "${UL4[B]}" \
		"${PORT[B]}" 10 >"$T_TMP/replay-$tag.out" 2>&1 &
	rpid=$!
	track $rpid
	sleep 0.3
	timeout -k 2 20 ip netns exec "${NS[A]}" ping -n -q -c 14 -i 0.1 -w 10 \
		"${TUN4[B]}" >/dev/null 2>&1
	wait_pid $rpid 40 || fail "flood replay $*: $(cat "$T_TMP/replay-$tag.out")"
	INJECTED=$(awk '/^replay/ { print $5 }' "$T_TMP/replay-$tag.out")
	[ "$INJECTED" = 20 ] || fail "flood replay $*: $(cat "$T_TMP/replay-$tag.out")"
	sleep 0.3
	snap B "$tag"
}

snap B s2
S_PREV=s2 S_CUR=s3
inject s3
d=$(delta B A drop_replay)
[ "$d" -ge 19 ] && [ "$d" -le 20 ] && [ "$(ddelta B drop_replay)" = "$d" ] &&
	[ "$(delta B A drop_decrypt)" = 0 ] ||
	fail "20 replayed messages: B's peer A drop_replay +$d, device +$(ddelta B drop_replay)," \
		"drop_decrypt +$(delta B A drop_decrypt)"
pass "20 replayed data messages: B's peer A drop_replay +$d (device +$(ddelta B drop_replay)), drop_decrypt +0"
S_PREV=s3 S_CUR=s4
inject s4 -x
d=$(delta B A drop_decrypt)
[ "$d" -ge 19 ] && [ "$d" -le 20 ] && [ "$(ddelta B drop_decrypt)" = "$d" ] &&
	[ "$(delta B A drop_replay)" = 0 ] ||
	fail "20 corrupted messages: B's peer A drop_decrypt +$d, device +$(ddelta B drop_decrypt)," \
		"drop_replay +$(delta B A drop_replay)"
pass "20 corrupted data messages: B's peer A drop_decrypt +$d (device +$(ddelta B drop_decrypt)), drop_replay +0"
consistent B s4
pass "B, after the drops: jq and prometheus_client agree on $PASS_LINE"

# --- a peer that never answers ------------------------------------------------------

# 200 datagrams: A keeps the last 128 (WG_MAX_STAGED_PACKETS) for C and
# drops the first 72.
ip netns exec "${NS[A]}" ping -n -q -c 1 -W 1 10.201.0.3 >/dev/null 2>&1 &&
	fail "10.201.0.3 (peer C) answered"
# shellcheck disable=SC2016 # expanded by the inner shell
ip netns exec "${NS[A]}" bash -c 'for ((i = 0; i < 199; i++)); do
	echo x >/dev/udp/10.201.0.3/9; done' || fail "cannot send to peer C"
S_PREV=s2 S_CUR=s5
for ((i = 0; i < 30; i++)); do # until the TUN reader has staged them all
	snap A s5
	[ "$(delta A C drop_no_keypair)" -ge 72 ] && break
	sleep 0.1
done
[ "$(delta A C drop_no_keypair)" = 72 ] && [ "$(delta A C handshakes_initiated)" -ge 1 ] &&
	[ "$(pv A s5 C handshakes_completed)" = 0 ] &&
	[ "$(pv A s5 C latest_handshake_age_seconds)" = null ] &&
	[ "$(ddelta A drop_staged)" = "$(delta A C drop_no_keypair)" ] &&
	[ "$(delta A B drop_no_keypair)" = 0 ] ||
	fail "200 packets to peer C: drop_no_keypair +$(delta A C drop_no_keypair) (wanted 72)" \
		"(device drop_staged +$(ddelta A drop_staged), peer B +$(delta A B drop_no_keypair))," \
		"handshakes initiated +$(delta A C handshakes_initiated)," \
		"completed $(pv A s5 C handshakes_completed), age $(pv A s5 C latest_handshake_age_seconds)"
pass "200 packets to peer C, which never answers: its drop_no_keypair +$(delta A C drop_no_keypair)" \
	"(device drop_staged alike), handshakes initiated +$(delta A C handshakes_initiated)," \
	"completed 0, age null"

# --- a wrong preshared key -------------------------------------------------------------

# Peer B again on A, now with a preshared key B does not have: B answers
# A's initiation, and A refuses the response.
wg_ A set "${WGIF[A]}" peer "${PUB[B]}" remove &&
	wg_ A set "${WGIF[A]}" peer "${PUB[B]}" preshared-key "$PSK" \
		allowed-ips "${TUN4[B]}/32" endpoint "$(endpoint_of B 4)" ||
	fail "wg set: peer B again on A, with a preshared key"
refused=0
for ((i = 0; i < 40; i++)); do
	ip netns exec "${NS[A]}" ping -n -q -c 1 -w 1 "${TUN4[B]}" >/dev/null 2>&1 &&
		fail "B answered through a handshake under a wrong preshared key"
	snap A s6
	refused=$(pv A s6 B handshakes_refused)
	[ "$refused" -ge 1 ] && break
done
[ "$refused" -ge 1 ] && [ "$(pv A s6 B handshakes_completed)" = 0 ] &&
	[ "$(pv A s6 B latest_handshake_age_seconds)" = null ] &&
	[ "$(pv A s6 B handshakes_initiated)" -ge 1 ] ||
	fail "wrong preshared key: A's peer B refused $refused," \
		"completed $(pv A s6 B handshakes_completed), initiated $(pv A s6 B handshakes_initiated)," \
		"age $(pv A s6 B latest_handshake_age_seconds)"
pass "a wrong preshared key: A's peer B handshakes_refused $refused," \
	"initiated $(pv A s6 B handshakes_initiated), completed 0, age null"
consistent A s6
pass "A, at the end: jq and prometheus_client agree on $PASS_LINE"
pair_down
exit 0
