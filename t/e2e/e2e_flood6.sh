#!/bin/bash
# SPDX-License-Identifier: MIT
#
# e2e_flood.sh over an IPv6 underlay (E2E_FLOOD_UL=6), with the same
# assertions: garbage at B's IPv6 listen address, initiations from 4096
# spoofed /64s (B's rate limiter and fair lane key IPv6 sources by /64)
# whose cookie replies come back to A's namespace, and data messages
# replayed over IPv6. To keep CI's time in check the legitimate peer A is
# wgpipe alone unless E2E_FLOOD_PEERS says otherwise: e2e_flood.sh
# covers wireguard-go as A, over IPv4. The other E2E_FLOOD_* settings
# are e2e_flood.sh's.

E2E_FLOOD_UL=6
# shellcheck source=t/e2e/e2e_flood.sh
. "$(dirname "$0")/e2e_flood.sh"
