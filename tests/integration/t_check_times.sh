#!/bin/bash
# k8s-auth check on exp/iat/nbf, on both paths (a JWT from the configured
# issuer verified locally; a service-account token through TokenReview):
# maxTokenLifetime bounds exp - now as well as exp - iat, an iat ahead of
# the clock is refused; non-integral NumericDates are truncated (RFC 7519,
# as go-oidc and go-jose), numbers outside time_t are refused as malformed
# (never converted: undefined behaviour).
. "$(dirname "$0")/../lib.sh"
check_begin

cfg=$TEST_TMP/config.yaml
write_config() { # $1: the policy section's body
	cat > "$cfg" <<EOC
jwt:
- issuer:
    url: $FC_IDP
    audiences: ["k8s-auth"]
    certificateAuthority: |
$(sed 's/^/      /' "$FC_CA")
  claimMappings:
    username: {claim: email, prefix: ""}
    groups: {claim: groups, prefix: "oidc:"}
tokenReview:
  kubeconfig: $FC_DIR/kubeconfig
  audiences: ["host-login:test"]
  cacheTTL: 0s
policy:
  ${1:-maxTokenLifetime: 24h}
accounts:
  users:
  - match: '^([a-z][a-z0-9_-]*)@example\.com\$'
    local: '\1'
  - match: '^system:serviceaccount:([a-z0-9-]+):([a-z0-9.-]+)\$'
    local: '\1.\2'
store: $TEST_TMP/store
cacheDir: $TEST_TMP/cache
EOC
}
write_config

check() { check_token "$@"; }
utc() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
jwt() { fc_idp_mint --alg ES256 --claims "$1"; }
sa() { fc_mint --sa ops/alice --aud host-login:test "$@"; }

now=$(date +%s)
# --- maxTokenLifetime (24h) bounds exp - now too, and iat may not be ahead
# of the host's clock by more than the 60 s leeway (issue 10: iat 300 days
# ahead with exp = iat + 60 has a "lifetime" of 60 s).
ahead=$((now + 300 * 86400))
check "$(jwt "{\"iat\": $ahead, \"exp\": $((ahead + 60))}")" 1
assert_eq "$(field .reason)" "token lifetime exceeds policy" "jwt: iat 300 days ahead, exp = iat + 60 refused"
check "$(sa --iat $ahead --nbf "$now" --exp $((ahead + 60)))" 1
assert_eq "$(field .username)" system:serviceaccount:ops:alice "tokenreview: the apiserver accepted it"
assert_eq "$(field .reason)" "token lifetime exceeds policy" "tokenreview: iat 300 days ahead, exp = iat + 60 refused"
check "$(jwt "{\"iat\": $((now + 180)), \"exp\": $((now + 600))}")" 1
assert_eq "$(field .reason)" "token issued in the future" "jwt: iat 3 min ahead refused"
check "$(sa --iat $((now + 180)) --nbf "$now" --exp $((now + 600)))" 1
assert_eq "$(field .reason)" "token issued in the future" "tokenreview: iat 3 min ahead refused"
check "$(jwt "{\"iat\": $((now + 20)), \"exp\": $((now + 600))}")" 0
ok "jwt: iat 20 s ahead accepted (clock leeway)"
check "$(sa --iat $((now + 20)) --nbf "$now" --exp $((now + 600)))" 0
ok "tokenreview: iat 20 s ahead accepted (clock leeway)"
check "$(jwt "{\"iat\": $((now - 3600)), \"exp\": $((now + 82800))}")" 0
ok "jwt: a 24h token issued an hour ago accepted"
write_config "maxTokenLifetime: 0s"
check "$(jwt "{\"iat\": $ahead, \"exp\": $((ahead + 60))}")" 1
assert_eq "$(field .reason)" "token issued in the future" "jwt: without maxTokenLifetime, iat 300 days ahead still refused"
check "$(sa --iat $ahead --nbf "$now" --exp $((ahead + 60)))" 1
assert_eq "$(field .reason)" "token issued in the future" "tokenreview: without maxTokenLifetime, iat 300 days ahead still refused"
check "$(jwt "{\"iat\": $((now - 10)), \"exp\": $((now + 30 * 86400))}")" 0
ok "without maxTokenLifetime a 30-day token is accepted"
write_config

# --- non-integral times: truncated
check "$(jwt "{\"exp\": $now.0, \"iat\": $((now - 10)).3}")" 1
assert_eq "$(field .reason)" "token expired" "jwt: exp now.0 is now: expired"
check "$(jwt "{\"exp\": $((now + 600)).7, \"iat\": $((now - 10)).3}")" 0
assert_eq "$(field .expires_at)" "$(utc $((now + 600)))" "jwt: exp now+600.7 accepted, truncated to now+600"
check "$(sa --iat "$((now - 10)).3" --exp "$((now + 600)).7")" 0
assert_eq "$(field .method)" tokenreview "through TokenReview"
assert_eq "$(field .expires_at)" "$(utc $((now + 600)))" "tokenreview: exp now+600.7 accepted, truncated to now+600"
check "$(jwt "{\"exp\": $((now + 600)), \"iat\": 1.5e9}")" 1
assert_eq "$(field .reason)" "token lifetime exceeds policy" "jwt: iat 1.5e9 is a time like any other"

# --- outside time_t: refused as malformed, on both paths
for claim in exp iat nbf; do
	for v in 1e300 -1e300 9.3e18; do
		check "$(jwt "{\"$claim\": $v}")" 1
		assert_eq "$(field .reason)" "malformed token" "jwt: $claim $v refused"
	done
done
# (an exp of -1e300 the apiserver refuses itself: long expired)
# (nor nbf 1e300: not yet valid)
for cv in exp=1e300 exp=9.3e18 iat=1e300 iat=-1e300 iat=9.3e18 nbf=-1e300 nbf=-9.3e18; do
	claim=${cv%=*} v=${cv#*=}
	args=(--iat "$now" --nbf "$now" --exp $((now + 600)) "--$claim=$v")
	check "$(sa "${args[@]}")" 1
	assert_eq "$(field .username)" system:serviceaccount:ops:alice "tokenreview: the apiserver accepted $claim $v"
	assert_eq "$(field .reason)" "malformed token" "tokenreview: $claim $v refused"
done

# --- a distributed groups claim (_claim_sources endpoint) sends the helper
# to a URL the token names: only for a token that is valid (times,
# audience), as the apiserver resolves it only after its checks.  A
# listener counts the connections it gets.
"$PY" - "$TEST_TMP/ep" <<'PY' &
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
open(sys.argv[1] + ".port.tmp", "w").write(str(s.getsockname()[1]))
import os
os.rename(sys.argv[1] + ".port.tmp", sys.argv[1] + ".port")
while True:
    c, _ = s.accept()
    with open(sys.argv[1] + ".hits", "a") as f:
        f.write("hit\n")
    c.close()
PY
EP_PID=$!
for _ in $(seq 100); do [ -s "$TEST_TMP/ep.port" ] && break; sleep 0.05; done
[ -s "$TEST_TMP/ep.port" ] || fail "listener did not start"
ep="https://127.0.0.1:$(cat "$TEST_TMP/ep.port")/claims"
dist="\"groups\": null, \"_claim_names\": {\"groups\": \"s1\"}, \"_claim_sources\": {\"s1\": {\"endpoint\": \"$ep\", \"access_token\": \"t\"}}"
hits() { cat "$TEST_TMP/ep.hits" 2>/dev/null | wc -l; }
check "$(jwt "{\"exp\": $((now - 120)), \"iat\": $((now - 600)), $dist}")" 1
assert_eq "$(field .reason)" "token expired" "distributed claim, expired token: refused as expired"
assert_eq "$(hits)" 0 "distributed claim, expired token: no request to the endpoint it names"
check "$(jwt "{\"aud\": \"someone-else\", $dist}")" 1
assert_eq "$(field .reason)" "wrong audience" "distributed claim, another audience: refused as such"
assert_eq "$(hits)" 0 "distributed claim, another audience: no request to the endpoint it names"
check "$(jwt "{$dist}")" 3
assert_eq "$(hits)" 1 "control: a valid token with a distributed claim does go to the endpoint (and fails closed on it)"
kill "$EP_PID" 2>/dev/null
wait "$EP_PID" 2>/dev/null

echo "t_check_times: all passed"
