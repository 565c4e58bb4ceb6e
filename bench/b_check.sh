#!/bin/bash
# `k8s-auth check` as a whole process against curl posting the same
# TokenReview to the same real kube-apiserver (issue 2's baseline: curl).
# Median of RUNS runs each; ratio = check / curl (goal <= 1.2).
set -u
cd "$(dirname "$0")/.." || exit 2
REPO=$PWD
RUNS=${RUNS:-30}
. tests/kube/kubelib.sh
kube_start >/dev/null 2>&1 || { echo "b_check: no kube-apiserver (tests/kube/build-apiserver.sh)"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"; kube_stop >/dev/null 2>&1' EXIT
kube_create_sa ops alice >/dev/null
tok=$(kube_mint ops alice host-login:bench)
printf '%s' "$tok" > "$work/token"
cat > "$work/config.yaml" <<EOC
tokenReview:
  kubeconfig: $KUBE_DIR/kubeconfig
  audiences: ["host-login:bench"]
  timeout: 5s
  cacheTTL: 0
accounts:
  users:
  - match: '^system:serviceaccount:([a-z0-9-]+):([a-z0-9.-]+)\$'
    local: '\1.\2'
store: $work/store
cacheDir: $work/cache
EOC
/usr/bin/python3 - "$work" "$KUBE_REVIEWER_TOKEN" <<'EOP'
import json, sys
work, reviewer = sys.argv[1], sys.argv[2]
tok = open(work + "/token").read()
open(work + "/body.json", "w").write(json.dumps({"apiVersion": "authentication.k8s.io/v1",
    "kind": "TokenReview", "spec": {"token": tok, "audiences": ["host-login:bench"]}}))
open(work + "/auth.hdr", "w").write("Authorization: Bearer " + reviewer + "\n")
EOP
chmod 600 "$work"/*
build/k8s-auth check --config "$work/config.yaml" < "$work/token" > "$work/out.json" ||
	{ echo "b_check: check refused the token:"; cat "$work/out.json"; exit 1; }
time_ms() { # command... ; prints elapsed ms
	local s e
	s=$(date +%s%N); "$@" > /dev/null 2>&1; e=$(date +%s%N)
	echo $(( (e - s) / 1000 ))
}
run_check() { build/k8s-auth check --config "$work/config.yaml" < "$work/token"; }
run_curl() {
	curl -sS --cacert "$KUBE_CA" -H @"$work/auth.hdr" -H 'Content-Type: application/json' \
		--data-binary @"$work/body.json" "$KUBE_URL/apis/authentication.k8s.io/v1/tokenreviews"
}
for i in 1 2 3; do run_check >/dev/null 2>&1; run_curl >/dev/null 2>&1; done
: > "$work/check.us"; : > "$work/curl.us"
for i in $(seq "$RUNS"); do
	time_ms run_check >> "$work/check.us"
	time_ms run_curl >> "$work/curl.us"
done
/usr/bin/python3 - "$work" "$RUNS" <<'EOP'
import statistics, sys
work, runs = sys.argv[1], sys.argv[2]
c = [int(x) / 1000 for x in open(work + "/check.us")]
u = [int(x) / 1000 for x in open(work + "/curl.us")]
mc, mu = statistics.median(c), statistics.median(u)
print(f"k8s-auth check (TokenReview, real kube-apiserver, cacheTTL 0): median {mc:.1f} ms over {runs} runs")
print(f"curl posting the same TokenReview:                       median {mu:.1f} ms over {runs} runs")
print(f"ratio check/curl: {mc / mu:.2f} (goal <= 1.2)")
EOP
