#!/bin/bash
# The guide's two ways of minting a token, run literally (the code blocks
# marked guide-test: mint-create-token and mint-raw in docs/guide.md)
# against tests/fakecluster: `kubectl create --raw .../token -f req.json`
# with the kubectl 1.20 Debian 12 ships (kubernetes-client; it sends the
# JSON with no Content-Type) and with a current kubectl, and `kubectl
# create token` with a current kubectl (its clientset sends the
# TokenRequest as protobuf).  Each token must be what the guide promises:
# sub system:serviceaccount:ops:alice, aud [host-login:web-1], 10 minutes,
# and accepted by the fake cluster's TokenReview for that audience.
set -u
cd "$(dirname "$0")/../.." || exit 2
. tests/lib.sh
. tests/guidelib.sh
command -v jq >/dev/null || skip "jq not installed (tests/install-deps.sh)"

K120=$(kubectl120_dir) || skip "kubernetes-client (kubectl 1.20) could not be fetched with apt-get download"
assert_contains "$("$K120/kubectl" version --client 2>&1)" 'GitVersion:"v1.20.' "kubectl from kubernetes-client is 1.20"
fc_start
fc sa create ops/alice >/dev/null || fail "fc sa create ops/alice"
export KUBECONFIG=$FC_DIR/kubeconfig-admin

# claims TOKEN: "sub aud exp-iat" of a JWT
claims() {
	local p=${1#*.}
	p=${p%%.*}
	"$PY" -c 'import base64, json, sys; s = sys.argv[1]; c = json.loads(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))
print(c["sub"], ",".join(c["aud"]), c["exp"] - c["iat"])' "$p"
}
# run_block NAME PATH-DIR: the guide's block in a fresh directory, with
# PATH-DIR's kubectl first; prints its stdout.
run_block() {
	local d
	d=$(mktemp -d "$TEST_TMP/run.XXXXXX")
	(cd "$d" && PATH=$2:$PATH bash -euo pipefail -c "$(guide_block "$1")") 2>"$d/err" || {
		cat "$d/err" >&2
		return 1
	}
}
check_minted() {  # WHAT TOKEN
	[ "$(printf '%s' "$2" | wc -l)" = 0 ] && [[ $2 =~ ^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$ ]] ||
		fail "$1: not a single JWT line: $(printf '%.200s' "$2")"
	assert_eq "$(claims "$2")" "system:serviceaccount:ops:alice host-login:web-1 600" "$1: sub, aud, lifetime as the guide says"
	assert_eq "$(fc_review "$2" host-login:web-1 | jq -r '.status.authenticated, .status.user.username' | tr '\n' ' ')" \
		"true system:serviceaccount:ops:alice " "$1: TokenReview for host-login:web-1 accepts it"
}

out=$(run_block mint-raw "$K120") || fail "guide block mint-raw with kubectl 1.20 failed"
check_minted "kubectl 1.20 create --raw -f req.json" "$out"
mkdir -p "$TEST_TMP/nokubectl"
if command -v kubectl >/dev/null && [ "$(kubectl version --client -o json 2>/dev/null | jq -r '(.clientVersion.minor | capture("^(?<n>[0-9]+)").n | tonumber) // 0')" -ge 24 ]; then
	host=$(command -v kubectl)
	out=$(run_block mint-raw "${host%/*}") || fail "guide block mint-raw with $host failed"
	check_minted "$host ($(kubectl version --client -o json | jq -r .clientVersion.gitVersion)) create --raw" "$out"
	out=$(run_block mint-create-token "${host%/*}") || fail "guide block mint-create-token with $host failed"
	check_minted "$host create token (protobuf TokenRequest)" "$out"
else
	echo "note: no kubectl >= 1.24 on this host: the create-token form was not run (kubectl 1.20 has no create token)"
fi
out=$(run_block mint-create-token "$K120" 2>&1) && fail "kubectl 1.20 has a create token command? $out"
ok "kubectl 1.20 has no create token (why the guide gives the --raw form)"
