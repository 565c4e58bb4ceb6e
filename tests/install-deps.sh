#!/bin/sh
# Install every Debian package the build, the tests, the demo and the
# benchmarks need.  Run as root on Debian 12 (apt-get); as non-root it only
# checks and says what is missing.  Also enables deb-src entries (derived
# from the existing sources, no mirror hard-coded) for the real
# kube-apiserver tier, which builds Debian's kubernetes source package.
set -eu

PKGS="build-essential pkg-config clang libpam0g-dev libssl-dev nettle-dev libgmp-dev libjansson-dev
libyaml-dev libcmocka-dev openssl python3 python3-jwcrypto
python3-cryptography pamtester libpam-wrapper libpamtest0-dev libnss-wrapper
openssh-server openssh-client sudo golang-go etcd-server rsync
golang-github-modern-go-reflect2-dev valgrind libnss-extrausers hyperfine curl jq
dpkg-dev debhelper lintian fakeroot util-linux procps iproute2 login
scdoc dh-nss debootstrap strace apparmor"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# Node and npm for the CEL oracle tier (tests/cel-oracle): Debian's nodejs and
# npm, unless the machine has a node and an npm already (a nodejs package from
# elsewhere may bundle npm and conflict with Debian's).
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	missing="$missing nodejs npm"
fi

src_ok=1
if [ ! -f /etc/apt/sources.list.d/k8s-auth-src.sources ] && ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && ! grep -qs '^deb-src' /etc/apt/sources.list; then
	src_ok=0
fi

if [ -z "$missing" ] && [ "$src_ok" = 1 ]; then
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing packages:$missing (run as root to install)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if [ "$src_ok" = 0 ]; then
	if [ -f /etc/apt/sources.list.d/debian.sources ]; then
		sed -n '/^Types:/,$p' /etc/apt/sources.list.d/debian.sources |
			sed 's/^Types:.*/Types: deb-src/' > /etc/apt/sources.list.d/k8s-auth-src.sources
	elif [ -f /etc/apt/sources.list ]; then
		grep '^deb ' /etc/apt/sources.list | sed 's/^deb /deb-src /' > /etc/apt/sources.list.d/k8s-auth-src.list
	fi
fi
apt-get update -q
# shellcheck disable=SC2086
[ -z "$missing" ] || apt-get install -y -q --no-install-recommends $missing
