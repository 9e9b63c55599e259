#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Soak: a long TCP transfer from A to B with rekeying shortened
# (WGPIPE_TEST_REKEY_AFTER_TIME=3, so a new session every few seconds)
# while both daemons are sampled every E2E_SOAK_EVERY seconds: resident
# memory (VmRSS), open file descriptors, threads. Asserted at the end:
#   - the checksums match and the stream never stalled for E2E_STALL_MS
#     or more (default 2000, times T_SCALE under the sanitizers);
#   - the sessions were renewed (A's latest handshake changed at least
#     once per 10 s of transfer);
#   - neither daemon holds more descriptors or threads at the end than
#     a quarter into the run;
#   - resident memory is flat: what it grew from the sample at a quarter
#     of the run (or the first after the third session, if later) to the
#     end is at most E2E_SOAK_RSS_SLACK_KB (default 1024 KiB; the packet
#     pool is preallocated and populated, so nothing should grow after
#     the first sessions); that window must span at least half the run,
#     or the check would compare a late sample with itself;
#   - no ERROR line in either daemon's log.
#
#   E2E_SOAK_SECONDS  transfer length (default 45; the long soak is 600)
#   E2E_SOAK_RATE     sender's byte rate, 0 = unlimited (default 40000000)
#   E2E_SOAK_EVERY    sampling period in seconds (default 5)
# The samples are printed at the end (and kept in the log).

. "$(dirname "$0")/netns.sh"

t_init
require_impl "$WG_IMPL_A" "$WG_IMPL_B"
: "${E2E_SOAK_SECONDS:=45}"
: "${E2E_SOAK_RATE:=40000000}"
: "${E2E_SOAK_EVERY:=5}"
: "${E2E_SOAK_RSS_SLACK_KB:=1024}"
: "${E2E_STALL_MS:=$((2000 * T_SCALE))}"
is_wggo "$WG_IMPL_A" && fail "host A must be wgpipe (it drives the rekeys)"
t_watchdog $((E2E_SOAK_SECONDS + 120))
make_hosts
make_keys
say "A=$(impl_name "$WG_IMPL_A") B=$(impl_name "$WG_IMPL_B")," \
	"${E2E_SOAK_SECONDS} s at ${E2E_SOAK_RATE} B/s, rekey after 3 s"
E2E_DAEMON_ENV=(WGPIPE_TEST_REKEY_AFTER_TIME=3)
pair_up "$WG_IMPL_A" "$WG_IMPL_B" init=A
check "ping A -> B (first handshake)" ping_ok A "${TUN4[B]}"
wait_handshake A 5 || fail "no handshake on A"

# proc_sample PID: "rss_kb fds threads" of a process.
proc_sample()
{
	local rss thr fds
	rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null)
	thr=$(awk '/^Threads:/ { print $2 }' "/proc/$1/status" 2>/dev/null)
	fds=$(find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
	echo "${rss:-0} $fds ${thr:-0}"
}

seed=$RANDOM
port=6000
xfer_recv_start B $port "$T_TMP/recv.out" -i $((E2E_STALL_MS / 1000 + 10)) -s $seed
ip netns exec "${NS[A]}" "$XFER" send -r "$E2E_SOAK_RATE" \
	-t "$E2E_SOAK_SECONDS" "${TUN4[B]}" $port 0 $seed \
	>"$T_TMP/send.out" 2>&1 &
spid=$!
track $spid

samples="$T_TMP/samples"
echo "t_s rssA_kb fdsA thrA rssB_kb fdsB thrB rekeysA" >"$samples"
changes=0
last=$(latest_handshake A)
start=$SECONDS
while kill -0 $spid 2>/dev/null; do
	now=$(latest_handshake A)
	if [ -n "$now" ] && [ "$now" != "$last" ]; then
		changes=$((changes + 1))
		last=$now
	fi
	if [ $(((SECONDS - start) % E2E_SOAK_EVERY)) = 0 ] &&
		[ "${stamp:-}" != $((SECONDS - start)) ]; then
		stamp=$((SECONDS - start))
		echo "$stamp $(proc_sample "${PID[A]}") $(proc_sample "${PID[B]}")" \
			"$changes" >>"$samples"
		cp "/proc/${PID[A]}/smaps" "$T_TMP/smaps-A-$stamp" 2>/dev/null
		cp "/proc/${PID[B]}/smaps" "$T_TMP/smaps-B-$stamp" 2>/dev/null
	fi
	sleep 0.5
done
wait_pid $spid 30 || fail "xfer send failed: $(cat "$T_TMP/send.out")"
wait_pid "$XFER_RECV_PID" 20 || fail "xfer recv failed: $(cat "$T_TMP/recv.out")"
stamp=$((SECONDS - start))
echo "$stamp $(proc_sample "${PID[A]}") $(proc_sample "${PID[B]}")" \
	"$changes" >>"$samples"
cp "/proc/${PID[A]}/smaps" "$T_TMP/smaps-A-$stamp" 2>/dev/null
cp "/proc/${PID[B]}/smaps" "$T_TMP/smaps-B-$stamp" 2>/dev/null

# smaps_growth SIDE T0 T1: the mappings whose Rss grew between samples.
smaps_growth()
{
	awk 'FNR == 1 { f++ }
		/^[0-9a-f]+-[0-9a-f]+ / { m = $1 " " $6 }
		/^Rss:/ { r[f, m] = $2; seen[m] = 1 }
		END { for (m in seen) if (r[2, m] - r[1, m] > 0)
			printf "%s +%d KiB\n", m, r[2, m] - r[1, m] }' \
		"$T_TMP/smaps-$1-$2" "$T_TMP/smaps-$1-$3" 2>/dev/null |
		sort -t+ -k2 -n -r | head -n 5
}
column -t "$samples" | sed 's/^/# /'

say "sender:   $(cat "$T_TMP/send.out")"
say "receiver: $(grep '^received' "$T_TMP/recv.out")"
sent=$(awk '/^sent/ { print $2, $4 }' "$T_TMP/send.out")
got=$(awk '/^received/ { print $2, $4 }' "$T_TMP/recv.out")
[ -n "$sent" ] && [ "$sent" = "$got" ] ||
	fail "sent [$sent] but received [$got] $(grep mismatch "$T_TMP/recv.out" | tr "\n" " ")"
pass "${sent%% *} bytes in ${E2E_SOAK_SECONDS} s, checksums equal"
gap=$(awk '/^received/ { print $6 }' "$T_TMP/recv.out")
[ "$gap" -lt "$E2E_STALL_MS" ] ||
	fail "the stream stalled: $gap ms without data (limit $E2E_STALL_MS ms)"
pass "no stall: longest gap between reads $gap ms (limit $E2E_STALL_MS ms)"

want=$((E2E_SOAK_SECONDS / 10))
[ "$want" -ge 1 ] || want=1
[ "$changes" -ge "$want" ] ||
	fail "A's latest handshake changed $changes times, expected >= $want"
pass "sessions renewed $changes times"

# Columns: 2-4 host A, 5-7 host B.
for side in A B; do
	if [ $side = A ]; then c=2; else c=5; fi
	# "a quarter in", and not before the third session (the second
	# rekey: rekeysA counts changes after the first handshake): by then
	# the first keypair has been freed, and liburcu's call_rcu thread,
	# started on first use, runs.
	read -r r0 fd0 thr0 t0 r1 fd1 thr1 t1 < <(awk -v c=$c 'NR > 1 { n++
		r[n] = $c; f[n] = $(c + 1); t[n] = $(c + 2); s[n] = $1; k[n] = $8 }
		END { q = int(n / 4); if (q < 1) q = 1
		while (q < n && k[q] < 2) q++
		print r[q], f[q], t[q], s[q], r[n], f[n], t[n], s[n] }' "$samples")
	# The window the growth is measured over: at least half the run.
	[ $((2 * (t1 - t0))) -ge "$t1" ] ||
		fail "host $side: the flat-memory window is ${t0} s to ${t1} s," \
			"less than half the run (the third session came at" \
			"${t0} s; samples every $E2E_SOAK_EVERY s): a longer" \
			"E2E_SOAK_SECONDS or a shorter E2E_SOAK_EVERY"
	[ "$fd1" -le "$fd0" ] ||
		fail "host $side: open descriptors grew from $fd0 to $fd1"
	[ "$thr1" -le "$thr0" ] ||
		fail "host $side: threads grew from $thr0 to $thr1"
	[ $((r1 - r0)) -le "$E2E_SOAK_RSS_SLACK_KB" ] ||
		fail "host $side: resident memory grew from $r0 KiB (a quarter in)" \
			"to $r1 KiB (end), more than $E2E_SOAK_RSS_SLACK_KB KiB;" \
			"grown: $(smaps_growth $side "$t0" "$t1" | tr '\n' ';')"
	pass "host $side: $fd1 descriptors (start $fd0), $thr1 threads," \
		"RSS $r0 -> $r1 KiB from $t0 s to the end ($t1 s)"
done

pair_down
for side in A B; do
	log="$T_TMP/daemon-${WGIF[$side]}.log"
	if grep -q '^ERROR' "$log"; then
		fail "host $side logged errors: $(grep '^ERROR' "$log" | head -n 5)"
	fi
done
pass "no ERROR line in either daemon's log"
exit 0
