#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Every ChaCha20-Poly1305 implementation this CPU runs carries real
# traffic with Debian's wireguard-go, each side initiating once: wgpipe
# on A with --crypto NAME, wireguard-go on B; the handshake, a ping both
# ways, and a TCP transfer each way with matching checksums. The daemon
# must log the implementation it was told to use. An implementation the
# CPU lacks must be refused at start with exit status 1.

. "$(dirname "$0")/netns.sh"

t_init
require_impl "$WGPIPE" "$WIREGUARD_GO"
t_watchdog 400
make_hosts
make_keys
BYTES=${E2E_CRYPTO_BYTES:-10000000}

flags=$(grep -o 'flags[^:]*:.*' /proc/cpuinfo | head -n 1)
has() { [[ " $flags " == *" $1 "* ]]; }
impls=(libsodium portable)
has avx2 && impls+=(avx2)
has avx512f && has avx512vl && impls+=(avx512)

for impl in avx2 avx512; do
	want=avx2
	[ $impl = avx512 ] && want=avx512f
	has $want && continue
	timeout 10 "$WGPIPE" -f --crypto $impl wgcrypto$$ >/dev/null 2>&1
	[ $? = 1 ] || fail "--crypto $impl on a CPU without $want was not refused"
	pass "--crypto $impl refused: this CPU lacks $want"
done

for impl in "${impls[@]}"; do
	for init in A B; do
		( pair_up "$WGPIPE" "$WIREGUARD_GO" init=$init flagsA="--crypto $impl"
		grep -q "ChaCha20-Poly1305: $impl\$" "$T_TMP/daemon-${WGIF[A]}.log" ||
			fail "$impl: the daemon does not say it uses $impl"
		ping_ok "$init" "${TUN4[$(other "$init")]}" || fail "$impl: ping from $init"
		ping_ok "$(other "$init")" "${TUN4[$init]}" || fail "$impl: ping back"
		xfer_check A B "${TUN4[B]}" "$BYTES"
		a2b=$XFER_MBIT
		xfer_check B A "${TUN4[A]}" "$BYTES"
		pair_down
		pass "--crypto $impl, $init initiates: ping, $BYTES bytes each way" \
			"($a2b / $XFER_MBIT Mbit/s)" ) || exit 1
	done
done
pass "e2e_crypto"
