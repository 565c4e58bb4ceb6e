#!/bin/bash
# Build a real kube-apiserver from Debian's kubernetes source package, once,
# and print the path of the cached binary on stdout.
#
#   tests/kube/build-apiserver.sh            build if needed, print path
#   tests/kube/build-apiserver.sh --version  print the source version it uses
#
# The binary is cached outside the clone, under
#   $K8S_APISERVER_CACHE (default /var/cache/pam-k8s-test)/kube-apiserver-<ver>/
# so every later run is instant.  Nothing fetched is ever written into the
# repository: the source is downloaded and built in a temporary directory
# that is removed afterwards.  A cold build takes about five minutes on two
# cores; concurrent callers serialise on a lock and the loser reuses the
# winner's binary.  Needs deb-src entries (tests/install-deps.sh adds them),
# golang-go, rsync and golang-github-modern-go-reflect2-dev.
#
# Environment:
#   K8S_APISERVER_CACHE    cache root (default /var/cache/pam-k8s-test)
#   K8S_APISERVER_VERSION  Debian source version to use (default: the newest
#                          that apt knows, else the newest already cached)
#   K8S_SOURCE_DIR         directory that already holds the downloaded
#                          kubernetes_<ver>.dsc/.orig.tar.gz (skips download)
set -euo pipefail

CACHE=${K8S_APISERVER_CACHE:-/var/cache/pam-k8s-test}
REFLECT2_SRC=/usr/share/gocode/src/github.com/modern-go/reflect2
PROG=build-apiserver

die() {
	echo "$PROG: $*" >&2
	exit 1
}

# Newest source version apt can download, or nothing.
apt_version() {
	local v best=""
	while read -r v; do
		if [ -z "$best" ] || dpkg --compare-versions "$v" gt "$best"; then
			best=$v
		fi
	done < <(apt-cache showsrc --only-source kubernetes 2>/dev/null |
		sed -n 's/^Version: //p')
	printf '%s' "$best"
}

# Newest version that already has a cached binary, or nothing.
cached_version() {
	local d v best=""
	for d in "$CACHE"/kube-apiserver-*/kube-apiserver; do
		[ -x "$d" ] || continue
		v=${d%/kube-apiserver}
		v=${v##*/kube-apiserver-}
		if [ -z "$best" ] || dpkg --compare-versions "$v" gt "$best"; then
			best=$v
		fi
	done
	printf '%s' "$best"
}

pick_version() {
	local v=${K8S_APISERVER_VERSION:-}
	[ -n "$v" ] || v=$(apt_version)
	if [ -z "$v" ] && [ "$(id -u)" = 0 ] && [ -z "$(cached_version)" ]; then
		# deb-src may have been enabled without an update since.
		apt-get update -q >&2 || true
		v=$(apt_version)
	fi
	[ -n "$v" ] || v=$(cached_version)
	[ -n "$v" ] || die "no kubernetes source package known to apt and nothing cached in $CACHE; run tests/install-deps.sh as root (enables deb-src)"
	case $v in
	*/* | *..*) die "refusing odd version string '$v'" ;;
	esac
	printf '%s' "$v"
}

# Fetch the source into $1 (or copy it from $K8S_SOURCE_DIR) and print the
# path of the .orig tarball.
fetch_source() {
	local dir=$1 ver=$2 upstream=${2%-*} orig
	orig=kubernetes_${upstream}.orig.tar.gz
	if [ -n "${K8S_SOURCE_DIR:-}" ] && [ -f "$K8S_SOURCE_DIR/$orig" ]; then
		cp "$K8S_SOURCE_DIR/$orig" "$dir/"
	else
		# _apt must be able to write here, or apt warns and runs unsandboxed.
		chmod 0755 "$dir"
		(cd "$dir" && apt-get source -q --download-only "kubernetes=$ver") >&2 ||
			die "apt-get source kubernetes=$ver failed (deb-src enabled? apt-get update?)"
	fi
	[ -f "$dir/$orig" ] || die "expected $orig after download, not found"
	printf '%s' "$dir/$orig"
}

# Go >= 1.18 changed the runtime internals reflect2 1.0.1 relies on: the
# apiserver then panics on the first request.  Debian ships 1.0.2.
patch_reflect2() {
	local tree=$1
	[ -f "$REFLECT2_SRC/reflect2.go" ] ||
		die "$REFLECT2_SRC missing: apt-get install golang-github-modern-go-reflect2-dev"
	rm -rf "$tree/vendor/github.com/modern-go/reflect2"
	cp -r "$REFLECT2_SRC" "$tree/vendor/github.com/modern-go/reflect2"
	rm -f "$tree/vendor/github.com/modern-go/reflect2/go.mod"
	sed -i 's|github.com/modern-go/reflect2 v1\.0\.1|github.com/modern-go/reflect2 v1.0.2|g' \
		"$tree/go.mod" "$tree/vendor/modules.txt"
	grep -q 'modern-go/reflect2 v1.0.2' "$tree/go.mod" ||
		die "could not repoint reflect2 in go.mod (source layout changed?)"
}

build() {
	local ver=$1 dest=$2 tmp orig tree bin start
	command -v go >/dev/null || die "go not found: apt-get install golang-go"
	command -v rsync >/dev/null || die "rsync not found (the kubernetes Makefile needs it)"
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/k8s-apiserver-build.XXXXXX")
	# shellcheck disable=SC2064
	trap "rm -rf '$tmp'" EXIT
	start=$(date +%s)
	echo "$PROG: building kube-apiserver from kubernetes $ver in $tmp (about 5 min)" >&2
	orig=$(fetch_source "$tmp" "$ver")
	tar -C "$tmp" -xzf "$orig"
	rm -f "$orig"
	tree=$(find "$tmp" -mindepth 1 -maxdepth 1 -type d -name 'kubernetes-*' | head -n 1)
	[ -n "$tree" ] && [ -f "$tree/go.mod" ] || die "unexpected layout of $orig"
	patch_reflect2 "$tree"
	mkdir -p "$tmp/.go/src/k8s.io"
	ln -s "$tree" "$tmp/.go/src/k8s.io/kubernetes"
	(
		cd "$tmp/.go/src/k8s.io/kubernetes"
		export GOPATH=$tmp/.go GOCACHE=$tmp/.gocache
		export CGO_ENABLED=0 KUBE_VERBOSE=1
		make WHAT=cmd/kube-apiserver
	) >&2 || die "make WHAT=cmd/kube-apiserver failed"
	bin=$(find "$tree/_output" -type f -name kube-apiserver -perm -u+x | head -n 1)
	[ -n "$bin" ] || die "build finished but no kube-apiserver binary found"
	"$bin" --version >&2 || die "built binary does not run"
	mkdir -p "$dest"
	# Install atomically: a reader never sees a half-copied binary.
	install -m 0755 "$bin" "$dest/kube-apiserver.tmp"
	mv -f "$dest/kube-apiserver.tmp" "$dest/kube-apiserver"
	echo "$PROG: built in $(($(date +%s) - start))s -> $dest/kube-apiserver" >&2
	rm -rf "$tmp"
	trap - EXIT
}

main() {
	local ver dest log rc
	ver=$(pick_version)
	if [ "${1:-}" = --version ]; then
		printf '%s\n' "$ver"
		return 0
	fi
	dest=$CACHE/kube-apiserver-$ver
	if [ -x "$dest/kube-apiserver" ]; then
		printf '%s\n' "$dest/kube-apiserver"
		return 0
	fi
	mkdir -p "$CACHE" 2>/dev/null || die "cannot create $CACHE (set K8S_APISERVER_CACHE or run as root)"
	[ -w "$CACHE" ] || die "$CACHE is not writable (set K8S_APISERVER_CACHE or run as root)"
	exec 9>"$CACHE/.build.lock"
	flock 9
	# Someone else may have built it while we waited for the lock.
	if [ ! -x "$dest/kube-apiserver" ]; then
		log=$CACHE/build-$ver.log
		echo "$PROG: log in $log" >&2
		# Not under `if`: that would switch errexit off inside build.
		set +e
		(
			set -e
			build "$ver" "$dest"
		) >"$log" 2>&1
		rc=$?
		set -e
		if [ $rc != 0 ] || [ ! -x "$dest/kube-apiserver" ]; then
			tail -n 25 "$log" >&2
			die "build failed; full log in $log"
		fi
	fi
	flock -u 9
	printf '%s\n' "$dest/kube-apiserver"
}

main "$@"
