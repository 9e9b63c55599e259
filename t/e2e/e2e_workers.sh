#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The readers doing the crypto. wgpipe runs one crypto worker per CPU by
# default, as every other test takes it; --crypto-workers 0 leaves them
# out: each reader seals and sends, or opens and writes, what it read.
# This runs again, that way, the tests whose subject is a batch's life:
# peer removal with batches in flight (e2e_removal), sessions renewed
# under traffic (e2e_rekey), and the demo's transfer (e2e_throughput).
# Each daemon they start must have the workers asked for (its wg-crypt
# threads, which daemon_start counts). e2e_order and e2e_offload choose
# 4 workers, e2e_scale and e2e_hsworkers 1.
#
#   E2E_WORKERS_TESTS  the tests (default "e2e_removal e2e_rekey
#                      e2e_throughput")
#   E2E_WORKERS        crypto workers (default 0)

: "${E2E_WORKERS_TESTS:=e2e_removal e2e_rekey e2e_throughput}"
: "${E2E_WORKERS:=0}"
dir=$(dirname "$0")
out=$(mktemp /tmp/wgpipe-e2e_workers.XXXXXX) || exit 1
trap 'rc=$?; rm -f "$out"; echo "# e2e_workers took $SECONDS s (status $rc)"' EXIT
for t in $E2E_WORKERS_TESTS; do
	echo "# ---- $t with --crypto-workers $E2E_WORKERS"
	E2E_WGPIPE_FLAGS="${E2E_WGPIPE_FLAGS:-} --crypto-workers $E2E_WORKERS" \
		"$dir/$t.sh" 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	if [ "$rc" != 0 ]; then
		echo "FAIL e2e_workers: $t with --crypto-workers $E2E_WORKERS (status $rc)"
		exit "$rc"
	fi
	counts=$(sed -n 's/.*: \([0-9]*\) crypto workers$/\1/p' "$out" | sort -u)
	if [ "$counts" != "$E2E_WORKERS" ]; then
		echo "FAIL e2e_workers: $t's wgpipe daemons had" \
			"[$(echo $counts)] crypto workers, not $E2E_WORKERS"
		exit 1
	fi
done
echo "ok   e2e_workers: $E2E_WORKERS_TESTS with $E2E_WORKERS crypto workers"
exit 0
