# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# shellcheck disable=SC2015 # "A && B || fail" is meant
# shellcheck disable=SC2034 # G_* are read by the tests
#
# Sourced after netns.sh by the tests that need the Linux kernel's
# WireGuard module, which this machine's kernel may lack: a QEMU guest
# (plain emulation, no KVM needed) running Debian's kernel from its
# package, with an initramfs made here from the machine's own binaries.
# The guest's eth0 is joined by a tap device to a network namespace of
# the test's (host A); wg(8) in the guest configures the guest kernel's
# module over netlink.
#
#   guest_require     skips (CI=true: fails) without QEMU, busybox, kmod
#   guest_kernel      the kernel package: resolved, downloaded once into
#                     the cache, checked; G_KVER is its release
#   guest_initramfs   the initramfs, built once per set of inputs
#   guest_boot NS TAP boots the guest on a tap device in namespace NS;
#                     G_BOOT_S is how long it took
#   g COMMAND         runs COMMAND in the guest (sh -c); its output, its
#                     status
#
# The cache (E2E_KERNEL_CACHE, default /var/cache/wgpipe-test/kernel)
# keeps the kernel package's .deb (PACKAGE_VERSION_amd64.deb) and, in a
# folder of that name, the kernel image, the modules the guest loads and
# their load order, and the initramfs, keyed by the hash of everything
# in it. A newer package replaces them. CI's stages share it.
#
# Environment (all optional):
#   E2E_KERNEL_CACHE    the cache folder (above)
#   E2E_KERNEL_PACKAGE  the kernel's Debian package (default
#                       linux-image-amd64, Debian 12's kernel, resolved to
#                       the versioned image package it depends on)
#   E2E_KERNEL_DEB      a linux-image .deb to use instead of downloading
#   E2E_GUEST_CPU       QEMU's -cpu (default max: what TCG can emulate)
#   E2E_GUEST_SMP       guest CPUs (default 1)
#   E2E_GUEST_BOOT_S    longest wait for the guest to boot (default 120)

: "${E2E_KERNEL_CACHE:=/var/cache/wgpipe-test/kernel}"
: "${E2E_KERNEL_PACKAGE:=linux-image-amd64}"
: "${E2E_GUEST_CPU:=max}"
: "${E2E_GUEST_SMP:=1}"
: "${E2E_GUEST_BOOT_S:=120}"
G_QEMU=qemu-system-x86_64
G_MODULES="virtio_pci virtio_net wireguard"
G_PID=""
G_IN=""
G_OUT=""
G_SEQ=0
G_PARTIAL=""

guest_require()
{
	require_cmd "$G_QEMU" qemu-system-x86
	require_cmd busybox busybox-static
	require_cmd depmod kmod
	require_cmd modinfo kmod
	require_cmd dpkg-deb dpkg
	require_cmd sha256sum coreutils
	require_cmd gzip gzip
	require_cmd flock util-linux
	[ -x /sbin/ip ] || [ -x /usr/sbin/ip ] || skip_or_fail "no iproute2 ip"
}

# --- the kernel package -------------------------------------------------

# cache_lock: one test at a time fills the cache (different trees on one
# machine share it). Released when the test's shell exits.
cache_lock()
{
	mkdir -p "$E2E_KERNEL_CACHE" || fail "cannot create $E2E_KERNEL_CACHE"
	exec {G_LOCK}>>"$E2E_KERNEL_CACHE/.lock" && flock "$G_LOCK" ||
		fail "cannot lock $E2E_KERNEL_CACHE"
}

# kernel_deb: G_DEB, the kernel package's .deb, downloaded into the
# cache with apt-get download unless it is there already.
kernel_deb()
{
	local pkg ver deb
	if [ -n "${E2E_KERNEL_DEB:-}" ]; then
		[ -f "$E2E_KERNEL_DEB" ] || fail "E2E_KERNEL_DEB: no file $E2E_KERNEL_DEB"
		G_DEB=$E2E_KERNEL_DEB
		return
	fi
	require_cmd apt-cache apt
	# A metapackage (linux-image-amd64) names the image it stands for.
	pkg=$(apt-cache depends "$E2E_KERNEL_PACKAGE" 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }')
	[ -n "$pkg" ] || pkg=$E2E_KERNEL_PACKAGE
	ver=$(apt-cache show --no-all-versions "$pkg" 2>/dev/null |
		awk '$1 == "Version:" { print $2; exit }')
	[ -n "$ver" ] ||
		skip_or_fail "apt knows no package $pkg (from $E2E_KERNEL_PACKAGE):" \
			"apt-get update, or set E2E_KERNEL_DEB"
	deb="$E2E_KERNEL_CACHE/${pkg}_${ver}_amd64.deb"
	if [ ! -s "$deb" ]; then
		say "downloading $pkg $ver into $E2E_KERNEL_CACHE"
		(cd "$E2E_KERNEL_CACHE" && apt-get download "$pkg=$ver") \
			>"$T_TMP/apt.log" 2>&1 && [ -s "$deb" ] ||
			skip_or_fail "apt-get download $pkg=$ver failed:" \
				"$(grep -v '^W:' "$T_TMP/apt.log" | tail -n 3)"
	fi
	G_DEB=$deb
}

# kernel_extract DEB DIR: from the package, into DIR: the kernel image,
# the modules G_MODULES need in the order modprobe would load them
# (depmod's modules.dep, made here: the package ships none), and the
# release. Checks that the image, the modules and the package agree.
kernel_extract()
{
	local deb=$1 dir=$2 x rel pkgver m mods img banner vermagic
	x="$T_TMP/kernel-x"
	rm -rf "$x" "$dir.new"
	mkdir -p "$x" "$dir.new/modules" || fail "mkdir $x"
	dpkg-deb -x "$deb" "$x" || fail "dpkg-deb -x $deb"
	pkgver=$(dpkg-deb -f "$deb" Version)
	rel=$(find "$x/lib/modules" -mindepth 1 -maxdepth 1 -printf '%f\n' | head -n 1)
	img="$x/boot/vmlinuz-$rel"
	[ -n "$rel" ] && [ -f "$img" ] || fail "$deb: no kernel image for modules $rel"
	# The bzImage header points at the version string (offset 0x20e).
	banner=$(kernel_banner "$img")
	case $banner in
	"$rel "*"Debian $pkgver "*) ;;
	*) fail "$deb (version $pkgver, modules $rel): the image says '$banner'" ;;
	esac
	depmod -b "$x" "$rel" || fail "depmod -b $x $rel"
	for m in $G_MODULES; do
		modprobe -d "$x" -S "$rel" --show-depends "$m" ||
			fail "$deb: modprobe cannot resolve $m"
	done >"$x.deps"
	mods=$(awk '$1 == "insmod" && !seen[$2]++ { print $2 }' "$x.deps")
	for m in $mods; do
		vermagic=$(modinfo -F vermagic "$m")
		[ "${vermagic%% *}" = "$rel" ] ||
			fail "$m is for kernel '${vermagic%% *}', not $rel"
		cp "$m" "$dir.new/modules/" && basename "$m" >>"$dir.new/modules.order" ||
			fail "cannot copy $m"
	done
	grep -qx wireguard.ko "$dir.new/modules.order" ||
		fail "$deb has no wireguard module"
	cp "$img" "$dir.new/vmlinuz" || fail "cannot copy $img"
	printf '%s\n%s\n%s\n' "$rel" "$pkgver" "$banner" >"$dir.new/release"
	rm -rf "$x" "$dir"
	mv "$dir.new" "$dir" || fail "cannot fill $dir"
}

# kernel_banner IMAGE: the version string of a bzImage.
kernel_banner()
{
	local off
	off=$(od -An -tu2 -j 526 -N 2 "$1" | tr -d ' ')
	[ -n "$off" ] || return 1
	tail -c +$((off + 512 + 1)) "$1" | head -c 200 | tr '\0' '\n' | head -n 1
}

guest_kernel()
{
	local deb dir t0
	t0=$SECONDS
	cache_lock
	kernel_deb
	deb=$G_DEB
	dir="$E2E_KERNEL_CACHE/$(basename "$deb" .deb)"
	if [ ! -f "$dir/release" ]; then
		say "extracting $(basename "$deb")"
		kernel_extract "$deb" "$dir"
		# Other (older) packages and what came from them go.
		find "$E2E_KERNEL_CACHE" -mindepth 1 -maxdepth 1 ! -name .lock \
			! -name "$(basename "$dir")" ! -name "$(basename "$dir").deb" \
			-exec rm -rf {} +
	fi
	G_KDIR=$dir
	{ read -r G_KVER; read -r G_KPKGVER; read -r G_KBANNER; } <"$dir/release"
	say "kernel: $(basename "$deb") ($((SECONDS - t0)) s): $G_KBANNER"
	say "modules: $(tr '\n' ' ' <"$dir/modules.order")(vermagic $G_KVER)"
}

# --- the initramfs --------------------------------------------------------

# add_binary ROOT PATH [NAME]: PATH into ROOT's /bin (as NAME), with the
# shared libraries ldd lists, at their paths.
add_binary()
{
	local root=$1 bin=$2 name=${3:-$(basename "$2")} lib
	cp "$bin" "$root/bin/$name" || fail "cannot copy $bin"
	for lib in $(ldd "$bin" 2>/dev/null |
		awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
		[ -f "$root$lib" ] && continue
		mkdir -p "$root$(dirname "$lib")" && cp -L "$lib" "$root$lib" ||
			fail "cannot copy $lib"
	done
}

# guest_initramfs: G_INITRD, the initramfs for G_KDIR. Its inputs are
# hashed; a cached one with the same hash is used as it is.
guest_initramfs()
{
	local root="$T_TMP/initramfs" ip wg bb key out t0 m
	t0=$SECONDS
	ip=$(command -v ip)
	wg=$(command -v wg)
	bb=$(command -v busybox)
	# The guest's xfer: built here, plain (the tree's may carry a
	# sanitizer's runtime), from the same source.
	"${CC:-cc}" -std=gnu11 -D_GNU_SOURCE -O2 -o "$T_TMP/xfer-guest" \
		"$T_TOP_SRCDIR/t/tools/xfer.c" || fail "cannot build xfer for the guest"
	rm -rf "$root"
	mkdir -p "$root"/{bin,usr/bin,sbin,etc,lib/modules,proc,sys,dev,tmp} ||
		fail "mkdir $root"
	cp "$T_SRCDIR/guest-init" "$root/init" && chmod 755 "$root/init" ||
		fail "cannot copy guest-init"
	add_binary "$root" "$bb" busybox
	add_binary "$root" "$ip"
	add_binary "$root" "$wg"
	add_binary "$root" "$T_TMP/xfer-guest" xfer
	ln -s ../../bin/wg "$root/usr/bin/wg"
	ln -s ../bin/ip "$root/sbin/ip"
	cp "$G_KDIR/modules.order" "$root/etc/modules" || fail "no modules.order"
	while read -r m; do
		cp "$G_KDIR/modules/$m" "$root/lib/modules/" || fail "no module $m"
	done <"$G_KDIR/modules.order"
	key=$(cd "$root" && find . -type f | LC_ALL=C sort | xargs sha256sum |
		sha256sum | cut -c 1-16)
	out="$G_KDIR/initrd-$key.gz"
	if [ -s "$out" ]; then
		say "initramfs: $out (cached, $(du -k "$out" | cut -f 1) KiB)"
	else
		(cd "$root" && find . | LC_ALL=C sort |
			busybox cpio -o -H newc 2>/dev/null | gzip -1) >"$out.new" &&
			mv "$out.new" "$out" || fail "cannot write $out"
		# Older ones (other binaries) go.
		find "$G_KDIR" -name 'initrd-*.gz' ! -name "initrd-$key.gz" -delete
		say "initramfs: $out (built in $((SECONDS - t0)) s," \
			"$(du -k "$out" | cut -f 1) KiB)"
	fi
	G_INITRD=$out
	exec {G_LOCK}>&-
}

# --- the guest ------------------------------------------------------------

# guest_boot NS TAP: boots the guest with its eth0 on the tap device TAP,
# made here in namespace NS (the namespace keeps it; deleting it deletes
# the tap); returns once the guest serves commands.
guest_boot()
{
	local ns=$1 tap=$2 ctl="$T_TMP/guest-ctl" t0 line
	ip -n "$ns" tuntap add dev "$tap" mode tap && ip -n "$ns" link set "$tap" up ||
		fail "cannot make tap device $tap in $ns"
	rm -f "$ctl.in" "$ctl.out"
	mkfifo "$ctl.in" "$ctl.out" || fail "mkfifo $ctl"
	t0=$(date +%s.%N)
	ip netns exec "$ns" "$G_QEMU" -nodefaults -no-user-config -display none \
		-machine pc -cpu "$E2E_GUEST_CPU" -smp "$E2E_GUEST_SMP" -m 256 \
		-no-reboot -kernel "$G_KDIR/vmlinuz" -initrd "$G_INITRD" \
		-append "console=ttyS0 panic=-1" \
		-serial "file:$T_TMP/guest-console.log" -serial "pipe:$ctl" \
		-netdev "tap,id=n0,ifname=$tap,script=no,downscript=no" \
		-device virtio-net-pci,netdev=n0,mac=52:54:00:00:02:02 \
		>"$T_TMP/qemu.log" 2>&1 &
	G_PID=$!
	track "$G_PID"
	# Read and write ends both opened read-write: neither open waits
	# for QEMU, which opens its ends read-write too.
	exec {G_IN}<>"$ctl.in" {G_OUT}<>"$ctl.out"
	until g_line "$((E2E_GUEST_BOOT_S * 10))"; do
		[ "$G_READ" = dead ] && fail "QEMU exited at boot: $(tail -n 5 "$T_TMP/qemu.log")"
		fail "the guest did not boot in $E2E_GUEST_BOOT_S s; console:" \
			"$(tail -n 20 "$T_TMP/guest-console.log")"
	done
	line=$G_LINE
	case $line in
	"@@ boot 0 "*) ;;
	*) fail "the guest cannot serve the test: ${line#@@ boot } (console:" \
		"$(tail -n 10 "$T_TMP/guest-console.log"))" ;;
	esac
	G_BOOT_S=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
	[ "${line#@@ boot 0 }" = "$G_KVER" ] ||
		fail "the guest runs kernel ${line#@@ boot 0 }, not $G_KVER"
	say "guest booted in $G_BOOT_S s: kernel $G_KVER, QEMU pid $G_PID"
}

# g_line TENTHS: one line from the guest into G_LINE, waiting at most
# TENTHS tenths of a second. False on timeout (G_READ=timeout) or when
# QEMU is gone (G_READ=dead). A line read in parts is put together.
g_line()
{
	local i part
	for ((i = 0; i < $1; i++)); do
		if IFS= read -r -t 0.1 part <&"$G_OUT"; then
			G_LINE=$G_PARTIAL$part
			G_PARTIAL=""
			return 0
		fi
		G_PARTIAL+=$part
		if ((i % 10 == 9)) && ! kill -0 "$G_PID" 2>/dev/null; then
			G_READ=dead
			return 1
		fi
	done
	G_READ=timeout
	return 1
}

# g [-t SECONDS] COMMAND...: runs COMMAND (its words joined by spaces,
# one line) in the guest, prints its output and returns its status; 124
# when no answer came in SECONDS (default 60), 125 when QEMU is gone.
g()
{
	local t=60 id
	if [ "$1" = -t ]; then
		t=$2
		shift 2
	fi
	G_SEQ=$((G_SEQ + 1))
	id="$BASHPID.$G_SEQ"
	printf '%s %s\n' "$id" "$*" >&"$G_IN"
	while g_line $((t * 10)); do
		case $G_LINE in
		"@@ $id "*) return "${G_LINE##* }" ;;
		"@@ "*) ;; # the answer to a command given up on
		*) printf '%s\n' "$G_LINE" ;;
		esac
	done
	[ "$G_READ" = dead ] && return 125
	return 124
}

# guest_dump: the guest's state, for a failure report.
guest_dump()
{
	[ -n "$G_PID" ] || return 0
	echo "---- guest (kernel $G_KVER, QEMU pid $G_PID)"
	if kill -0 "$G_PID" 2>/dev/null; then
		g -t 10 "wg show all; ip -br addr; dmesg | grep -i wireguard | tail -n 20" 2>&1 |
			sed 's/^/    /'
	else
		echo "    QEMU has exited: $(tail -n 3 "$T_TMP/qemu.log")"
	fi
	tail -n 10 "$T_TMP/guest-console.log" 2>/dev/null | sed 's/^/    console: /'
}
