#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The Debian package under a real systemd. A Debian 12 root made by
# debootstrap from this machine's own archive (kept between runs in
# WGPIPE_SYSTEM_CACHE), copied afresh for each run, then:
#   1. clean root, in a chroot: `apt-get install ./wgpipe_*.deb` pulls the
#      runtime libraries and wireguard-tools from the archive and no -dev
#      package; the binary runs; `apt-get remove` takes it away;
#   2. the same root booted with systemd-nspawn --boot in network
#      namespace A of netns.sh (host B, outside the container, runs the
#      tree's wgpipe): systemd reaches "running" with no failed unit; the
#      package installs (offline: its dependencies are there from 1);
#   3. `systemctl start wgpipe@wg0`, configured with wg(8), carries a ping
#      and a TCP transfer each way to B; every thread of the daemon holds
#      exactly the unit's capabilities, with no_new_privs, a seccomp
#      filter, a read-only root but for /run/wireguard, a private /tmp,
#      /home hidden, and systemd-analyze security rates it;
#   4. wgpipe-metrics@wg0.timer writes wgpipe-wg0.prom into the folder of
#      node_exporter's textfile collector (Debian's prometheus-node-exporter
#      runs in the container), and node_exporter's /metrics, read with
#      prometheus_client, has the traffic in it and the file's mtime under
#      the name the example alerts use; those alerts pass promtool's
#      check and its unit test (t/system/wgpipe-alerts.test.yml; promtool
#      taken from Debian's prometheus package, not installed);
#   5. `systemctl stop wgpipe@wg0`: status 0, no interface, socket or
#      process left;
#   6. `systemctl start wg-quick@wg0` with a wg-quick configuration: the
#      package's drop-in makes it start wgpipe, which carries a ping to
#      B; `systemctl stop` leaves nothing;
#   7. with wgpipe@wg0 running and a second daemon started by hand,
#      `apt-get remove wgpipe` leaves no daemon, interface or socket, and
#      no failed unit.
#
# Environment:
#   WGPIPE_DEB            the package (contrib/debian-setup system builds it)
#   WGPIPE_SYSTEM_CACHE   where the debootstrap root is kept (default
#                         /var/cache/wgpipe-ci); its name carries a hash
#                         of the suite, the archive and the package list,
#                         and a root of another hash is removed
#   WGPIPE_SYSTEM_MIRROR  the archive (default: the bookworm URI of this
#                         machine's apt sources)
#   and netns.sh's: WGPIPE (host B's daemon), CI=true, E2E_KEEP.

# shellcheck disable=SC2015 # "A && B || fail" is meant
# shellcheck source=t/e2e/netns.sh
. "$(dirname "$0")/../e2e/netns.sh"

t_init
require_impl "$WGPIPE"
require_cmd debootstrap debootstrap
require_cmd systemd-nspawn systemd-container
require_cmd nsenter util-linux
require_cmd unshare util-linux
require_cmd jq jq
require_cmd capsh libcap2-bin
: "${PYTHON3:=/usr/bin/python3}"
"$PYTHON3" -c 'import prometheus_client.parser' 2>/dev/null ||
	skip_or_fail "$PYTHON3 cannot import prometheus_client (python3-prometheus-client)"
[ -n "${WGPIPE_DEB:-}" ] && [ -f "$WGPIPE_DEB" ] ||
	skip_or_fail "no package: set WGPIPE_DEB (contrib/debian-setup system builds it)"
t_watchdog 900

SUITE=bookworm
# The minimal system of the issue, and node_exporter (the textfile
# collector of step 4): none of wgpipe's dependencies.
INCLUDE=systemd,systemd-sysv,dbus,iproute2,prometheus-node-exporter
CACHE=${WGPIPE_SYSTEM_CACHE:-/var/cache/wgpipe-ci}
ROOT=""
NSPAWN_PID=""
LEADER=""

# --- cleanup: the container, then the root's copy, then netns.sh's -----

system_cleanup()
{
	local rc=$? i
	if [ -n "$NSPAWN_PID" ] && kill -0 "$NSPAWN_PID" 2>/dev/null; then
		# SIGTERM: nspawn asks the container's systemd to power off.
		kill -TERM "$NSPAWN_PID" 2>/dev/null
		for ((i = 0; i < 150; i++)); do
			kill -0 "$NSPAWN_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$NSPAWN_PID" 2>/dev/null
		wait "$NSPAWN_PID" 2>/dev/null
	fi
	if [ -n "$ROOT" ] && [ -d "$ROOT" ]; then
		if ! grep -qF " ${ROOT%/root}/" /proc/self/mountinfo; then
			rm -rf --one-file-system "${ROOT%/root}"
		else
			echo "# ${ROOT%/root} still has mounts: left in place" >&2
		fi
	fi
	(exit $rc)
	t_cleanup
}
trap system_cleanup EXIT

# --- the root: made once, copied each time ---------------------------------

# mirror: the URI of this machine's apt sources that serves $SUITE.
mirror()
{
	local f
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk -v suite="$SUITE" '
			/^$/ { if (ok && uri) { print uri; exit } uri = ""; ok = 0 }
			/^URIs:/ { uri = $2 }
			/^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite) ok = 1 }
			END { if (ok && uri) print uri }' "$f"
	done
	cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
		sed 's/\[[^]]*\]//' |
		awk -v suite="$SUITE" '$1 == "deb" && $3 == suite { print $2 }'
}
MIRROR=${WGPIPE_SYSTEM_MIRROR:-$(mirror | head -n 1)}
[ -n "$MIRROR" ] || fail "no apt source serves $SUITE on this machine (set WGPIPE_SYSTEM_MIRROR)"

key=$(printf '%s\n' "$SUITE" "$MIRROR" minbase "$INCLUDE" | sha256sum | cut -c 1-12)
CACHED="$CACHE/root-$key"
mkdir -p "$CACHE" || fail "cannot make $CACHE"
if [ ! -d "$CACHED" ]; then
	say "debootstrap --variant=minbase --include=$INCLUDE $SUITE ($MIRROR) into $CACHED"
	start=$SECONDS
	rm -rf --one-file-system "$CACHED.tmp"
	timeout 600 debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" \
		"$CACHED.tmp" "$MIRROR" >"$T_TMP/debootstrap.log" 2>&1 ||
		fail "debootstrap failed: $(tail -n 5 "$T_TMP/debootstrap.log")"
	# The archive changes: lists are fetched again on each run.
	mv "$CACHED.tmp" "$CACHED" || fail "cannot move the root into $CACHED"
	pass "debootstrap: $((SECONDS - start)) s, $(du -sh "$CACHED" | cut -f 1)"
	for old in "$CACHE"/root-*; do
		[ "$old" = "$CACHED" ] || rm -rf --one-file-system "$old"
	done
else
	say "reusing $CACHED ($(du -sh "$CACHED" | cut -f 1))"
fi
ROOT=$(mktemp -d /var/tmp/wgpipe-system.XXXXXX)/root || fail "mktemp"
cp -a "$CACHED" "$ROOT" || fail "cannot copy $CACHED"
cp /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null
DEB_NAME=$(basename "$WGPIPE_DEB")
cp "$WGPIPE_DEB" "$ROOT/root/$DEB_NAME" || fail "cannot copy the package"

# --- the example alerts: promtool, from the prometheus package ---------------

# promtool: Debian's, from its package (kept in $CACHE by version), not
# installed: the package would start a Prometheus server.
promtool()
{
	local ver dir
	candidate() { apt-cache policy prometheus 2>/dev/null | awk '$1 == "Candidate:" { print $2 }'; }
	ver=$(candidate)
	# A machine with every package already installed may have no lists.
	if [ -z "$ver" ] || [ "$ver" = "(none)" ]; then
		apt-get update -qq >"$T_TMP/apt-update.log" 2>&1
		ver=$(candidate)
	fi
	[ -n "$ver" ] && [ "$ver" != "(none)" ] ||
		fail "apt-cache knows no prometheus package: $(tail -n 3 "$T_TMP/apt-update.log" 2>/dev/null)"
	dir="$CACHE/promtool-${ver//[^A-Za-z0-9.+-]/_}"
	if [ ! -x "$dir/promtool" ]; then
		rm -rf "$CACHE"/promtool-* "$T_TMP/promtool"
		mkdir -p "$T_TMP/promtool" "$dir"
		(cd "$T_TMP/promtool" && apt-get download "prometheus=$ver") \
			>"$T_TMP/promtool.log" 2>&1 ||
			fail "apt-get download prometheus=$ver: $(tail -n 3 "$T_TMP/promtool.log")"
		dpkg-deb --fsys-tarfile "$T_TMP"/promtool/prometheus_*.deb |
			tar -xO ./usr/bin/promtool >"$dir/promtool.tmp" &&
			chmod 755 "$dir/promtool.tmp" && mv "$dir/promtool.tmp" "$dir/promtool" ||
			fail "cannot take promtool out of the prometheus package"
		rm -rf "$T_TMP/promtool"
	fi
	PROMTOOL="$dir/promtool"
}
promtool
ALERTS="$T_TOP_SRCDIR/contrib/prometheus/wgpipe-alerts.yml"
"$PROMTOOL" check rules "$ALERTS" >"$T_TMP/promtool-check.log" 2>&1 ||
	fail "promtool check rules $ALERTS:"$'\n'"$(cat "$T_TMP/promtool-check.log")"
"$PROMTOOL" test rules "$T_TOP_SRCDIR/t/system/wgpipe-alerts.test.yml" \
	>"$T_TMP/promtool-test.log" 2>&1 ||
	fail "promtool test rules:"$'\n'"$(head -n 30 "$T_TMP/promtool-test.log")"
pass "example alerts: promtool $("$PROMTOOL" --version 2>&1 | head -n 1 | cut -d ' ' -f 3)" \
	"check rules: $(grep -o '[0-9]* rules found' "$T_TMP/promtool-check.log");" \
	"test rules: each alert fires where it should, with its labels and text, and nowhere else"

# --- 1: a clean root, in a chroot --------------------------------------------

# inroot CMD...: CMD in a chroot of the copy, with a /proc of its own (a
# PID namespace: the package's scripts see only the chroot's processes).
inroot()
{
	unshare --mount --pid --fork --mount-proc="$ROOT/proc" \
		chroot "$ROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		DEBIAN_FRONTEND=noninteractive LC_ALL=C "$@"
}

# transcript NAME CMD...: runs CMD, keeps its output in $T_TMP/NAME.log
# and prints it indented; the status is CMD's.
transcript()
{
	local name=$1 rc
	shift
	echo "# \$ $*"
	"$@" >"$T_TMP/$name.log" 2>&1
	rc=$?
	sed 's/^/#   /' "$T_TMP/$name.log"
	return $rc
}

# installed PATTERN...: the installed packages matching the patterns.
installed()
{
	inroot dpkg-query -W -f '${db:Status-Abbrev} ${Package}\n' "$@" 2>/dev/null |
		awk '$1 == "ii" { print $2 }'
}

[ -z "$(installed wgpipe libsodium23 liburcu8 wireguard-tools '*-dev')" ] ||
	fail "the root is not clean: $(installed wgpipe libsodium23 liburcu8 wireguard-tools '*-dev')"
inroot apt-get update -q >"$T_TMP/update.log" 2>&1 ||
	fail "apt-get update in the root: $(tail -n 5 "$T_TMP/update.log")"
transcript install inroot apt-get install -y --no-install-recommends "/root/$DEB_NAME" ||
	fail "apt-get install ./$DEB_NAME on a clean root failed"
[ "$(installed wgpipe libsodium23 liburcu8 wireguard-tools | sort | paste -sd ' ')" = \
	"libsodium23 liburcu8 wgpipe wireguard-tools" ] ||
	fail "after apt-get install: installed only $(installed wgpipe libsodium23 liburcu8 wireguard-tools)"
devs=$(installed '*-dev')
[ -z "$devs" ] || fail "apt-get install pulled development packages: $devs"
version=$(inroot wgpipe --version) || fail "wgpipe --version in the root failed"
pass "clean root: apt-get install ./$DEB_NAME pulled libsodium23, liburcu8," \
	"wireguard-tools and no -dev package; wgpipe --version: $(head -n 1 <<<"$version")"
transcript remove1 inroot apt-get remove -y wgpipe || fail "apt-get remove wgpipe failed"
[ ! -e "$ROOT/usr/sbin/wgpipe" ] && [ -z "$(installed wgpipe)" ] ||
	fail "after apt-get remove: wgpipe still installed"
pass "clean root: apt-get remove wgpipe removed it"

# --- 2: boot --------------------------------------------------------------------

make_hosts
make_keys
echo wgpipe-system >"$ROOT/etc/hostname"
# --register=no --keep-unit: there is no host systemd to register with.
# A container in a network namespace of its own gets neither CAP_NET_ADMIN
# (nspawn grants it only with --private-network) nor CAP_IPC_LOCK by
# default; a real machine's services have both to give, and wgpipe needs
# both (TUNSETIFF; key memory locked).
systemd-nspawn -D "$ROOT" --boot --register=no --keep-unit -q \
	--capability=CAP_NET_ADMIN,CAP_IPC_LOCK \
	--network-namespace-path="/run/netns/${NS[A]}" \
	</dev/null >"$T_TMP/console.log" 2>&1 &
NSPAWN_PID=$!
boot_start=$SECONDS
for ((i = 0; i < 600; i++)); do
	LEADER=$(pgrep -P "$NSPAWN_PID" -x systemd | head -n 1)
	[ -n "$LEADER" ] && break
	kill -0 "$NSPAWN_PID" 2>/dev/null ||
		fail "systemd-nspawn --boot exited: $(tail -n 20 "$T_TMP/console.log")"
	sleep 0.1
done
[ -n "$LEADER" ] || fail "no systemd inside the container after 60 s"

# cx CMD...: CMD inside the container (all its namespaces).
cx() { nsenter -t "$LEADER" -a env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C "$@"; }

state=""
for ((i = 0; i < 120; i++)); do
	state=$(cx systemctl is-system-running 2>/dev/null)
	case $state in running|degraded) break ;; esac
	sleep 0.5
done
[ "$state" = running ] ||
	fail "is-system-running says '$state' after $((SECONDS - boot_start)) s;" \
		"failed: $(cx systemctl --failed --no-legend 2>&1)"
pass "booted: systemd $(cx systemctl --version | head -n 1 | cut -d ' ' -f 2)" \
	"is-system-running: running after $((SECONDS - boot_start)) s," \
	"$(cx systemctl --failed --no-legend | wc -l) failed units"

transcript install2 cx apt-get install -y --no-install-recommends "/root/$DEB_NAME" ||
	fail "apt-get install inside the booted container failed"
pass "installed in the booted container"

# --- 3: wgpipe@wg0 ----------------------------------------------------------------

# procs: the container's wgpipe processes, "PID COMMAND LINE" each.
procs()
{
	cx sh -c 'for p in /proc/[0-9]*; do
		[ "$(readlink "$p/exe" 2>/dev/null)" = /usr/sbin/wgpipe ] &&
			echo "${p#/proc/} $(tr "\0" " " <"$p/cmdline")"
	done; true'
}

# nothing_left IFNAME WHAT: no interface, socket or wgpipe process.
nothing_left()
{
	local ifname=$1 what=$2 i
	for ((i = 0; i < 50; i++)); do
		[ -z "$(procs)" ] && break
		sleep 0.1
	done
	[ -z "$(procs)" ] || fail "$what: wgpipe still runs: $(procs)"
	! ip -n "${NS[A]}" link show "$ifname" >/dev/null 2>&1 ||
		fail "$what: interface $ifname still exists"
	! cx test -e "/run/wireguard/$ifname.sock" ||
		fail "$what: /run/wireguard/$ifname.sock still exists"
}

(umask 077 && wg genkey >"$ROOT/etc/wireguard/wg0.key") ||
	fail "cannot write the container's key"
PUB[A]=$(wg pubkey <"$ROOT/etc/wireguard/wg0.key")
PORT[A]=51820
PORT[B]=51821

journal() { cx journalctl -b -u "$1" --no-pager | tail -n 20; }
cx systemctl start wgpipe@wg0 || fail "systemctl start wgpipe@wg0: $(journal wgpipe@wg0)"
MAIN=$(cx systemctl show -P MainPID wgpipe@wg0)
[ -n "$MAIN" ] && [ "$MAIN" != 0 ] ||
	fail "wgpipe@wg0 has no main process:"$'\n'"$(journal wgpipe@wg0)"
for ((i = 0; i < 50; i++)); do
	cx test -S /run/wireguard/wg0.sock && break
	sleep 0.1
done
cx test -S /run/wireguard/wg0.sock || fail "no /run/wireguard/wg0.sock"
pass "systemctl start wgpipe@wg0: active, pid $MAIN (container), socket up"

# Capabilities and sandbox as systemd applied them.
say "systemctl show wgpipe@wg0:"
cx systemctl show wgpipe@wg0 -p CapabilityBoundingSet -p AmbientCapabilities \
	-p NoNewPrivileges -p ProtectSystem -p ProtectHome -p PrivateTmp \
	-p RestrictAddressFamilies -p DevicePolicy -p DeviceAllow \
	-p SystemCallFilter -p LimitMEMLOCK | cut -c 1-140 | sed 's/^/#   /'
caps=$(cx systemctl show -P CapabilityBoundingSet wgpipe@wg0)
[ "$(tr ' ' '\n' <<<"$caps" | sort | paste -sd ' ')" = "cap_ipc_lock cap_net_admin cap_net_bind_service" ] ||
	fail "systemd's bounding set for wgpipe@wg0 is [$caps]"
want=$(printf '%016x' $(((1 << 10) | (1 << 12) | (1 << 14))))
threads=0
# In the order of /proc/PID/status: CapInh CapPrm CapEff CapBnd CapAmb
# NoNewPrivs Seccomp. A thread that ended meanwhile has no line.
while read -r tid inh prm eff bnd amb nnp sec; do
	[ -n "$sec" ] || continue
	threads=$((threads + 1))
	[ "$eff $prm $bnd $inh $amb $nnp $sec" = "$want $want $want 0000000000000000 0000000000000000 1 2" ] ||
		fail "thread $tid: CapEff $eff CapPrm $prm CapBnd $bnd CapInh $inh CapAmb $amb" \
			"NoNewPrivs $nnp Seccomp $sec; want $want for the first three, 0, 0, 1, 2"
done < <(cx sh -c "for t in /proc/$MAIN/task/*; do
	printf '%s ' \"\${t##*/}\"
	awk '\$1 ~ /^(CapEff|CapPrm|CapBnd|CapInh|CapAmb|NoNewPrivs|Seccomp):\$/ { printf \"%s \", \$2 }' \"\$t/status\" 2>/dev/null
	echo
done")
[ "$threads" -ge 3 ] || fail "only $threads threads in wgpipe@wg0"
say "capabilities of wgpipe@wg0 (/proc/$MAIN/task/*/status), each of $threads threads:"
cx grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp):' "/proc/$MAIN/status" | sed 's/^/#   /'
say "  $want = $(capsh --decode="$want" 2>/dev/null | cut -d = -f 2)"
pass "each of the $threads threads: CapEff = CapPrm = CapBnd = $want" \
	"(net_bind_service, net_admin, ipc_lock), none inheritable or ambient, no_new_privs, seccomp filter"

# The daemon's mounts: / read-only, /run/wireguard writable, /tmp its own,
# /home inaccessible.
mounts=$(cx cat "/proc/$MAIN/mountinfo")
opts() { awk -v m="$1" '$5 == m { o = $6 } END { print o }' <<<"$mounts"; }
[[ $(opts /) == ro* ]] && [[ $(opts /run/wireguard) == rw* ]] &&
	[ -n "$(opts /tmp)" ] && [ -n "$(opts /home)" ] ||
	fail "wgpipe@wg0's mounts: / $(opts /), /run/wireguard $(opts /run/wireguard)," \
		"/tmp [$(opts /tmp)], /home [$(opts /home)]"
[ "$(cx stat -c %a "/proc/$MAIN/root/home")" = 0 ] ||
	fail "/home is not hidden from wgpipe@wg0 (mode $(cx stat -c %a "/proc/$MAIN/root/home"))"
! cx nsenter -t "$MAIN" -m touch /usr/.wgpipe-probe 2>/dev/null ||
	fail "a process in wgpipe@wg0's mount namespace could write /usr"
pass "sandbox: / read-only ($(opts /)), /run/wireguard writable, a private /tmp, /home mode 000"
score=$(cx systemd-analyze security --no-pager wgpipe@wg0.service 2>/dev/null | tail -n 1)
say "systemd-analyze security wgpipe@wg0.service: ${score:-?}"

# Configure with wg(8) inside the container; host B outside it.
cx wg set wg0 private-key /etc/wireguard/wg0.key listen-port "${PORT[A]}" \
	peer "${PUB[B]}" allowed-ips "${TUN4[B]}/32" endpoint "${UL4[B]}:${PORT[B]}" &&
	cx ip addr add "${TUN4[A]}/24" dev wg0 && cx ip link set wg0 up ||
	fail "configuring wg0 in the container"
WGIF[A]=wg0
daemon_start B "$WGPIPE"
wg_ B set "${WGIF[B]}" private-key "${KEY[B]}" listen-port "${PORT[B]}" \
	peer "${PUB[A]}" allowed-ips "${TUN4[A]}/32" &&
	ip -n "${NS[B]}" addr add "${TUN4[B]}/24" dev "${WGIF[B]}" &&
	ip -n "${NS[B]}" link set "${WGIF[B]}" up || fail "configuring host B"
check "ping from the container's namespace to B over wgpipe@wg0" ping_ok A "${TUN4[B]}"
xfer_check A B "${TUN4[B]}" 20000000
up="$XFER_BYTES bytes at $XFER_MBIT Mbit/s"
xfer_check B A "${TUN4[A]}" 20000000
down="$XFER_BYTES bytes at $XFER_MBIT Mbit/s"
cx wgpipe show --json wg0 >"$T_TMP/show.json" || fail "wgpipe show --json wg0 in the container"
tx=$(jq -r --arg k "${PUB[B]}" '.peers[] | select(.public_key == $k) | .tx_bytes' "$T_TMP/show.json")
rx=$(jq -r --arg k "${PUB[B]}" '.peers[] | select(.public_key == $k) | .rx_bytes' "$T_TMP/show.json")
[ "$tx" -gt 20000000 ] && [ "$rx" -gt 20000000 ] ||
	fail "wgpipe show in the container: peer B tx_bytes $tx, rx_bytes $rx after 20 MB each way"
pass "traffic through wgpipe@wg0: container -> B $up; B -> container $down;" \
	"wgpipe show: peer B tx_bytes $tx rx_bytes $rx"

# --- 4: the metrics timer -----------------------------------------------------------

TEXTFILE=/var/lib/prometheus/node-exporter
PROM="$ROOT$TEXTFILE/wgpipe-wg0.prom"
# The folder comes with Debian's package (owned by root there); that
# node_exporter reads it shows below in its /metrics.
[ "$(cx dpkg-query -S "$TEXTFILE" 2>/dev/null | cut -d : -f 1)" = prometheus-node-exporter ] ||
	fail "$TEXTFILE in the container is not prometheus-node-exporter's: $(cx dpkg-query -S "$TEXTFILE" 2>&1)"
cx systemctl is-active -q prometheus-node-exporter ||
	fail "node_exporter does not run in the container: $(journal prometheus-node-exporter)"
cx systemctl start wgpipe-metrics@wg0.timer || fail "systemctl start wgpipe-metrics@wg0.timer"
for ((i = 0; i < 100; i++)); do
	[ -s "$PROM" ] && break
	sleep 0.1
done
[ -s "$PROM" ] || fail "wgpipe-metrics@wg0 wrote no $PROM: $(cx journalctl -u wgpipe-metrics@wg0 --no-pager | tail -n 5)"
got=$("$PYTHON3" - "$PROM" "${PUB[B]}" <<'EOF'
import sys
from prometheus_client.parser import text_string_to_metric_families
for fam in text_string_to_metric_families(open(sys.argv[1]).read()):
    for s in fam.samples:
        if s.name == "wgpipe_peer_tx_bytes_total" and s.labels.get("public_key") == sys.argv[2]:
            print(int(s.value))
EOF
) || fail "prometheus_client refuses $PROM"
[ -n "$got" ] && [ "$got" -gt 20000000 ] || fail "$PROM: peer B's tx bytes are [$got]"
[ -z "$(find "${PROM%/*}" -name '.wgpipe-*')" ] || fail "temporary files left in ${PROM%/*}"
[ "$(cx systemctl show -P Result wgpipe-metrics@wg0.service)" = success ] ||
	fail "wgpipe-metrics@wg0.service: $(cx systemctl show -P Result wgpipe-metrics@wg0.service)"
pass "wgpipe-metrics@wg0.timer: wgpipe-wg0.prom written into node_exporter's folder," \
	"prometheus_client reads peer B's tx bytes $got"
# What node_exporter serves (port 9100 in the container's namespace).
got=$(ip netns exec "${NS[A]}" "$PYTHON3" - "${PUB[B]}" <<'EOF'
import sys, urllib.request
from prometheus_client.parser import text_string_to_metric_families
text = urllib.request.urlopen("http://127.0.0.1:9100/metrics", timeout=10).read().decode()
tx = mtime = None
for fam in text_string_to_metric_families(text):
    for s in fam.samples:
        if s.name == "wgpipe_peer_tx_bytes_total" and s.labels.get("public_key") == sys.argv[1]:
            tx = int(s.value)
        if s.name == "node_textfile_mtime_seconds" and s.labels.get("file", "").split("/")[-1] == "wgpipe-wg0.prom":
            mtime = s.labels["file"]
print(tx, mtime)
EOF
) || fail "node_exporter's /metrics in the container: $got"
read -r tx file <<<"$got"
[ "$tx" != None ] && [ "$tx" -gt 20000000 ] && [[ $file == *wgpipe-wg0.prom ]] ||
	fail "node_exporter's /metrics: peer B's tx bytes [$tx], the file's mtime series [$file]"
pass "node_exporter's /metrics: wgpipe_peer_tx_bytes_total of peer B $tx," \
	"node_textfile_mtime_seconds{file=\"$file\"} (what WgpipeMetricsStale matches)"
cx systemctl stop wgpipe-metrics@wg0.timer

# --- 5: systemctl stop --------------------------------------------------------------

cx systemctl stop wgpipe@wg0 || fail "systemctl stop wgpipe@wg0"
nothing_left wg0 "systemctl stop wgpipe@wg0"
[ "$(cx systemctl show -P ExecMainStatus wgpipe@wg0)" = 0 ] &&
	[ "$(cx systemctl show -P Result wgpipe@wg0)" = success ] ||
	fail "wgpipe@wg0 stopped with status $(cx systemctl show -P ExecMainStatus wgpipe@wg0)," \
		"result $(cx systemctl show -P Result wgpipe@wg0)"
pass "systemctl stop wgpipe@wg0: status 0, no interface, no socket, no process"

# --- 6: wg-quick@wg0 with the drop-in --------------------------------------------------

{
	echo "[Interface]"
	echo "PrivateKey = $(cat "$ROOT/etc/wireguard/wg0.key")"
	echo "Address = ${TUN4[A]}/24"
	echo "ListenPort = ${PORT[A]}"
	echo "[Peer]"
	echo "PublicKey = ${PUB[B]}"
	echo "AllowedIPs = ${TUN4[B]}/32"
	echo "Endpoint = ${UL4[B]}:${PORT[B]}"
} >"$ROOT/etc/wireguard/wg0.conf" && chmod 600 "$ROOT/etc/wireguard/wg0.conf" ||
	fail "cannot write wg0.conf"
dropins=$(cx systemctl show -P DropInPaths wg-quick@wg0)
[[ $dropins == */wg-quick@.service.d/wgpipe.conf* ]] ||
	fail "wg-quick@wg0 does not have the package's drop-in: [$dropins]"
cx systemctl start wg-quick@wg0 ||
	fail "systemctl start wg-quick@wg0: $(journal wg-quick@wg0)"
[ "$(procs | wc -l)" = 1 ] && [[ $(procs) == *"wgpipe wg0"* ]] ||
	fail "wg-quick@wg0 did not start wgpipe: [$(procs)]"
cx wgpipe show wg0 >/dev/null || fail "wgpipe show wg0 under wg-quick@wg0"
check "ping to B over wg-quick@wg0 (wgpipe)" ping_ok A "${TUN4[B]}"
pass "systemctl start wg-quick@wg0: the drop-in ($dropins) made it start '$(procs | cut -d ' ' -f 2-)'"
cx systemctl stop wg-quick@wg0 || fail "systemctl stop wg-quick@wg0"
nothing_left wg0 "systemctl stop wg-quick@wg0"
pass "systemctl stop wg-quick@wg0: no interface, no socket, no process"

# --- 7: apt-get remove with daemons running ------------------------------------------------

cx systemctl start wgpipe@wg0 || fail "systemctl start wgpipe@wg0 (again)"
cx wgpipe wg1 >/dev/null 2>&1 || fail "wgpipe wg1 by hand in the container"
[ "$(procs | wc -l)" = 2 ] || fail "want two daemons before apt-get remove, have: $(procs)"
transcript remove2 cx apt-get remove -y wgpipe || fail "apt-get remove wgpipe in the container failed"
nothing_left wg0 "apt-get remove wgpipe"
nothing_left wg1 "apt-get remove wgpipe"
failed=$(cx systemctl --failed --no-legend)
[ -z "$failed" ] || fail "failed units after apt-get remove: $failed"
pass "apt-get remove wgpipe, with wgpipe@wg0 and a daemon by hand running:" \
	"no daemon, interface or socket left, no failed unit"
exit 0
