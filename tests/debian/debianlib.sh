# shellcheck shell=bash
# Shared by the tests that build and install the Debian packages
# (t_debian_packages.sh, t_guide.sh).  Source after tests/lib.sh, as root,
# inside a private mount namespace.
#
#   deb_build           the three packages of this tree, built once per tree
#                       state: dpkg-buildpackage -b (unit tests included) on a
#                       copy of the tree; the result is cached under
#                       $DEB_CACHE/debs/<hash of the tree's files>/ (the last
#                       few kept), so a `make check` builds them once however
#                       many tests install them.  Sets DEB_DIR (the .debs,
#                       .changes, build.log).  K8S_DEBS=DIR uses the packages
#                       in DIR instead (while editing a test).
#   deb_root_unpack ROOT [FLAVOUR]
#                       a throwaway Debian root of the host's suite: the cached
#                       `debootstrap --variant=minbase` root (bootstrapped
#                       once from the host's mirror), or with FLAVOUR=guide
#                       that root with sudo, openssh-server, kubernetes-client
#                       and jq installed and the packages' run-time
#                       dependencies downloaded (built once, cached).  proc is
#                       mounted, resolv.conf and the host's apt settings
#                       copied, services kept from starting (policy-rc.d).
#   in_root CMD...      run in the root, clean environment.
#   deb_root_cleanup    unmount everything under DEB_WORK, remove it.
# DEB_WORK: a scratch directory under /var/tmp (set by deb_init).

DEB_CACHE=${DEB_CACHE:-/var/cache/pam-k8s-test}
DEB_ARCH=$(dpkg --print-architecture)
DEB_SUITE=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
DEB_PKGS="libpam-k8s libnss-k8s k8s-auth"

# The host's Debian mirror: the first "deb" URI of the main suite, from
# deb822 sources or the one-line format.
deb_host_mirror() {
	local f
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk -v suite="$DEB_SUITE" '
			function flush() { if (deb && hit && uri != "") { print uri; found = 1; exit } deb = hit = 0; uri = "" }
			/^[[:space:]]*$/ { flush(); next }
			/^Types:/ { for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1 }
			/^URIs:/ { uri = $2 }
			/^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite) hit = 1 }
			END { if (!found) flush() }' "$f"
	done | head -n 1
	[ -f /etc/apt/sources.list ] &&
		awk -v suite="$DEB_SUITE" '$1 == "deb" { i = 2; if ($2 ~ /^\[/) while ($i !~ /\]$/) i++; if ($2 ~ /^\[/) i++; if ($(i + 1) == suite) print $i }' \
			/etc/apt/sources.list | head -n 1
}

deb_init() {
	local tool
	for tool in dpkg-buildpackage debootstrap dh_installnss scdoc; do
		command -v "$tool" >/dev/null || skip "$tool not installed (tests/install-deps.sh)"
	done
	dpkg-checkbuilddeps >/dev/null 2>&1 || skip "build dependencies missing: $(dpkg-checkbuilddeps 2>&1 | tail -n 1)"
	[ -n "$DEB_SUITE" ] || skip "no VERSION_CODENAME in /etc/os-release"
	DEB_MIRROR=$(deb_host_mirror | head -n 1)
	[ -n "$DEB_MIRROR" ] || skip "no Debian mirror for $DEB_SUITE in the apt sources"
	DEB_WORK=$(mktemp -d /var/tmp/t_debian.XXXXXX) || fail "mktemp"
	on_exit deb_root_cleanup
	mkdir -p "$DEB_CACHE"
}

# rm --one-file-system never follows a mount left behind; the namespace is
# private anyway, so a kill -9 leaves no mount on the host.
deb_root_cleanup() {
	local m
	[ -n "${DEB_WORK:-}" ] && [ -d "$DEB_WORK" ] || return 0
	for m in $(awk -v r="$DEB_WORK/" 'index($5, r) == 1 { print $5 }' /proc/self/mountinfo | sort -r); do
		umount -l "$m" 2>/dev/null
	done
	if awk -v r="$DEB_WORK/" 'index($5, r) == 1 { found = 1 } END { exit !found }' /proc/self/mountinfo; then
		echo "debianlib: mounts left under $DEB_WORK, not removing it" >&2
	else
		rm -rf --one-file-system "$DEB_WORK"
	fi
}

deb_tree_hash() {
	(cd "$REPO" && git ls-files -co --exclude-standard -z | sort -z |
		xargs -0 -r sha256sum 2>/dev/null | sha256sum | cut -c1-16)
}

deb_build() {
	local key dir tmp p
	if [ -n "${K8S_DEBS:-}" ]; then  # a developer's shortcut: packages built earlier
		DEB_DIR=$K8S_DEBS
		echo "packages from K8S_DEBS=$DEB_DIR (not built from this tree)"
		return 0
	fi
	git -C "$REPO" rev-parse --git-dir >/dev/null 2>&1 || fail "deb_build needs the git tree (its files are what is built)"
	key=$(deb_tree_hash) || fail "hashing the tree"
	mkdir -p "$DEB_CACHE/debs"
	dir=$DEB_CACHE/debs/$key
	exec 8>"$DEB_CACHE/debs.lock"
	flock 8
	if [ ! -f "$dir/done" ]; then
		echo "building the packages of tree $key (once per tree state)"
		tmp=$DEB_CACHE/debs/.build.$$
		rm -rf "$DEB_CACHE"/debs/.build.*  # an interrupted build (we hold the lock)
		mkdir -p "$tmp/src"
		(cd "$REPO" && git ls-files -co --exclude-standard -z | tar --null -T - -cf -) | tar -C "$tmp/src" -xf - ||
			{ flock -u 8; fail "copying the tree"; }
		if ! (cd "$tmp/src" && DEB_BUILD_OPTIONS="parallel=$(nproc)" dpkg-buildpackage -us -uc -b) >"$tmp/build.log" 2>&1; then
			tail -n 40 "$tmp/build.log"
			flock -u 8
			fail "dpkg-buildpackage -b failed"
		fi
		rm -rf "$tmp/src"
		rm -rf "$dir" && mv "$tmp" "$dir" && touch "$dir/done" || { flock -u 8; fail "caching the build"; }
		# keep the three newest builds
		ls -dt "$DEB_CACHE"/debs/*/ | tail -n +4 | xargs -r rm -rf
	else
		echo "packages of tree $key: cached ($dir)"
	fi
	flock -u 8
	exec 8>&-
	for p in $DEB_PKGS; do
		[ -f "$(echo "$dir"/${p}_*_"$DEB_ARCH".deb)" ] || fail "no $p package in $dir"
	done
	DEB_DIR=$dir
}

# The cached minbase root, bootstrapped once.
_deb_minbase() {
	local tarball=$DEB_CACHE/debootstrap-$DEB_SUITE-$DEB_ARCH-minbase.tar.gz boot
	exec 9>"$DEB_CACHE/debootstrap-$DEB_SUITE.lock"
	flock 9
	if [ ! -s "$tarball" ]; then
		echo "bootstrapping $DEB_SUITE ($DEB_ARCH) from $DEB_MIRROR into the cache (once)" >&2
		boot=$DEB_WORK/boot
		debootstrap --variant=minbase --arch="$DEB_ARCH" "$DEB_SUITE" "$boot" "$DEB_MIRROR" >"$DEB_WORK/debootstrap.log" 2>&1 ||
			{ tail -n 20 "$DEB_WORK/debootstrap.log" >&2; flock -u 9; skip "debootstrap from $DEB_MIRROR failed"; }
		umount -R "$boot/proc" "$boot/sys" 2>/dev/null
		rm -f "$boot"/var/cache/apt/archives/*.deb
		tar -C "$boot" -czf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball" || { flock -u 9; fail "caching the root"; }
		rm -rf --one-file-system "$boot"
	fi
	flock -u 9
	exec 9>&-
	printf '%s\n' "$tarball"
}

_deb_root_prepare() {  # ROOT: mounts and settings of a freshly unpacked root
	local root=$1 f
	mount -t proc proc "$root/proc" || fail "mount proc"
	cp /etc/resolv.conf "$root/etc/resolv.conf"
	# The host's view of its mirror (a snapshot may have an old Valid-Until).
	for f in $(grep -l '^Acquire::' /etc/apt/apt.conf.d/* 2>/dev/null); do cp "$f" "$root/etc/apt/apt.conf.d/"; done
	printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d" && chmod 755 "$root/usr/sbin/policy-rc.d"
	rm -f "$root/var/lib/man-db/auto-update"  # no man-db index rebuild at every dpkg run
}

# The guide's root: minbase plus what an operator's host has (sudo,
# openssh-server), Debian 12's kubectl and jq for the guide's commands, and
# the packages' dependencies in apt's archive cache, so that the guide's
# `apt install ./*.deb` needs no network.  Built once per suite; rebuilt
# when the packages need a dependency it does not have.
_deb_guide_root() {
	local tarball=$DEB_CACHE/guide-root-$DEB_SUITE-$DEB_ARCH.tar.gz base r
	base=$(_deb_minbase) || exit 1
	exec 9>"$DEB_CACHE/guide-root-$DEB_SUITE.lock"
	flock 9
	if [ ! -s "$tarball" ] || ! _deb_guide_root_has_deps "$tarball"; then
		echo "preparing the guide's root (sudo, openssh-server, kubernetes-client, jq; once)" >&2
		r=$DEB_WORK/groot
		mkdir -p "$r" && tar -C "$r" -xzf "$base" || { flock -u 9; fail "unpacking $base"; }
		_deb_root_prepare "$r"
		mkdir -p "$r/tmp/debs" && cp "$DEB_DIR"/*.deb "$r/tmp/debs/"
		if ! chroot "$r" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 sh -c '
			apt-get update -q &&
			apt-get install -y -q --no-install-recommends sudo openssh-server kubernetes-client jq &&
			cd /tmp/debs && apt-get install -y -q --no-install-recommends --download-only ./*.deb' >"$DEB_WORK/groot.log" 2>&1; then
			tail -n 30 "$DEB_WORK/groot.log" >&2
			flock -u 9
			skip "preparing the guide's root with apt-get failed (network?)"
		fi
		rm -rf "$r/tmp/debs" "$r"/var/cache/apt/archives/partial/*
		rm -f "$r"/var/cache/apt/archives/libpam-k8s_* "$r"/var/cache/apt/archives/libnss-k8s_* "$r"/var/cache/apt/archives/k8s-auth_*
		umount "$r/proc"
		tar -C "$r" -czf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball" || { flock -u 9; fail "caching the guide's root"; }
		rm -rf --one-file-system "$r"
	fi
	flock -u 9
	exec 9>&-
	printf '%s\n' "$tarball"
}

# Does the cached guide root hold every dependency of the packages just
# built (installed, or as a .deb in apt's archive cache)?
_deb_guide_root_has_deps() {
	local tarball=$1 have dep
	have=$(tar -tzf "$tarball" ./var/cache/apt/archives/ 2>/dev/null | sed -n 's#^\./var/cache/apt/archives/\([^_]*\)_.*#\1#p'
		tar -xzOf "$tarball" ./var/lib/dpkg/status 2>/dev/null | sed -n 's/^Package: //p')
	for dep in $(for p in $DEB_PKGS; do dpkg-deb -f "$DEB_DIR/${p}"_*.deb Depends; echo ,; done |
		sed 's/([^)]*)//g; s/|/,/g; s/:[a-z0-9]*//g' | tr ', ' '\n\n' | sort -u); do
		case " $DEB_PKGS " in *" $dep "*) continue ;; esac
		grep -qx -- "$dep" <<<"$have" || { echo "guide root lacks $dep: rebuilding it" >&2; return 1; }
	done
	return 0
}

deb_root_unpack() {
	local root=$1 flavour=${2:-minbase} tarball
	case $flavour in
	minbase) tarball=$(_deb_minbase) || exit 1 ;;
	guide) tarball=$(_deb_guide_root) || exit 1 ;;
	*) fail "deb_root_unpack: flavour $flavour" ;;
	esac
	mkdir -p "$root" && tar -C "$root" -xzf "$tarball" || fail "unpacking $tarball"
	_deb_root_prepare "$root"
	DEB_ROOT=$root
}

in_root() { chroot "$DEB_ROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 "$@"; }
