# shellcheck shell=bash
# The operator's guide's own commands, for the tests that run them
# literally.  A code block of docs/guide.md preceded by the line
#   <!-- guide-test: NAME -->
# is block NAME; guide_block NAME prints it (fails when there is none, or
# more than one).  Kubectl 1.20 as Debian 12 ships it (kubernetes-client):
# kubectl120_dir unpacks the suite's .deb, fetched once by the host's apt
# into the archive cache, and prints the directory holding kubectl.

guide_block() {
	local out n
	out=$(awk -v name="$1" '
		$0 == "<!-- guide-test: " name " -->" { want = 1; n++; next }
		want && /^```/ { if (inblock) { want = inblock = 0; next } inblock = 1; next }
		want && inblock { print }
		want && !inblock && !/^[[:space:]]*$/ { want = 0 }
		END { if (n != 1) exit 1 }' "$REPO/docs/guide.md") || { echo "docs/guide.md: block guide-test: $1 missing or repeated" >&2; return 1; }
	[ -n "$out" ] || { echo "docs/guide.md: block guide-test: $1 is empty" >&2; return 1; }
	printf '%s\n' "$out"
}

PK_DEB_CACHE=${PK_DEB_CACHE:-/var/cache/pam-k8s-test}

# deb_fetch PACKAGE: path of the suite's .deb of PACKAGE in the archive
# cache, downloaded once with the host's apt.
deb_fetch() {
	local pkg=$1 arch suite dir tmp f
	arch=$(dpkg --print-architecture)
	suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
	dir=$PK_DEB_CACHE/apt-archives-$suite-$arch
	mkdir -p "$dir" || return 1
	(
		flock 9
		if ! ls "$dir/${pkg}_"*"_$arch.deb" >/dev/null 2>&1; then
			tmp=$(mktemp -d) || exit 1
			(cd "$tmp" && apt-get download "$pkg:$arch") >"$tmp/log" 2>&1 &&
				mv "$tmp/${pkg}_"*"_$arch.deb" "$dir/" || { cat "$tmp/log" >&2; rm -rf "$tmp"; exit 1; }
			rm -rf "$tmp"
		fi
	) 9>"$dir.lock" || return 1
	f=$(ls "$dir/${pkg}_"*"_$arch.deb" | sort -V | tail -n 1)
	printf '%s\n' "$f"
}

kubectl120_dir() {
	local deb d
	deb=$(deb_fetch kubernetes-client) || return 1
	d=$TEST_TMP/kubectl120
	if [ ! -x "$d/usr/bin/kubectl" ]; then
		mkdir -p "$d" && dpkg-deb -x "$deb" "$d" || return 1
	fi
	printf '%s\n' "$d/usr/bin"
}
