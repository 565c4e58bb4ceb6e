#!/bin/bash
# k8s-auth check, online path, end to end against the local test cluster:
# every outcome of a TokenReview, the hardening policy before any network
# call, the login checks, and the exit codes of SPEC.md.
. "$(dirname "$0")/../lib.sh"
check_begin

cfg=$TEST_TMP/config.yaml
write_config() { # extra YAML appended to tokenReview, then the rest
	cat > "$cfg" <<EOC
tokenReview:
  kubeconfig: ${KUBECONFIG_FILE:-$FC_DIR/kubeconfig}
  audiences: ["host-login:test", "host-login:%h"]
  timeout: ${TIMEOUT:-3s}
  cacheTTL: 2m
policy:
  maxTokenLifetime: 24h
accounts:
  users:
  - match: '^system:serviceaccount:([a-z0-9-]+):([a-z0-9.-]+)\$'
    local: '\1.\2'
  declared: [ops.alice, ops.bob]
  groups:
  - match: '^system:serviceaccounts:(.*)\$'
    local: 'k8s-ns-\1'
store: $TEST_TMP/store
cacheDir: $TEST_TMP/cache
runDir: $TEST_TMP/run
EOC
	chmod 644 "$cfg"
}
write_config

# check TOKEN WANT_RC [ARGS]: runs check with the token on stdin; OUT/ERR/RC.
check() { check_token "$@"; }
reviews() { fc_requests /apis/authentication.k8s.io/v1/tokenreviews; }

tok=$(fc_mint --sa ops/alice --aud host-login:test --ttl 600 --pod web-1)
check "$tok" 0
assert_eq "$(field .authenticated)" true "good token accepted"
assert_eq "$(field .method)" tokenreview "method"
assert_eq "$(field .issuer)" null "no issuer for tokenreview"
assert_eq "$(field .username)" system:serviceaccount:ops:alice "username"
assert_eq "$(field .uid)" "$(fc sa get ops/alice)" "uid is the service account's"
assert_eq "$(field .local_user)" ops.alice "mapped local user"
assert_contains "$(field '.groups|join(",")')" system:serviceaccounts:ops "groups"
assert_eq "$(field '.local_groups[0].name')" k8s-ns-ops "mapped group"
n=$(field .uid_number); [ "$n" -ge 200000 ] && [ "$n" -le 999999 ] || fail "uid_number $n outside uidRange"
ok "uid_number $n in range"
assert_contains "$(field .expires_at)" "T" "expiry shown"
assert_contains "$(field '.extra|tostring')" "web-1" "extra (pod binding) shown"
[ ! -e "$TEST_TMP/store/identities.db" ] || fail "check wrote the store"
ok "check wrote no store"

check "$tok" 0 --user ops.alice
# check runs the helper's decision: a user pam_k8s does not handle (neither
# declared, synced nor logged in before) is refused, as ssh would refuse her
tok_carol=$(fc_mint --sa ops/carol --aud host-login:test --ttl 600)
check "$tok_carol" 1 --user ops.carol
assert_eq "$(field .reason)" "not a user pam_k8s handles" "an unhandled user is refused, as the module refuses her"
# the same trimming as the module: a leading blank and a CRLF are a paste's
check " $tok"$'\r' 0 --user ops.alice
check "$tok" 1 --user ops.bob
assert_eq "$(field .reason)" "token is for another user" "another user refused"
assert_eq "$(field .username)" system:serviceaccount:ops:alice "refusal still shows the identity"

hosttok=$(fc_mint --sa ops/alice --aud "host-login:$(hostname)" --ttl 600)
check "$hosttok" 0
ok "%h expands to the host name"

check "$(fc_mint --sa ops/alice --aud host-login:other --ttl 600)" 1
assert_eq "$(field .reason)" "token rejected by the apiserver" "wrong audience refused"
check "$(fc_mint --sa ops/alice --ttl 600)" 1
ok "token for the apiserver's own audience refused"
now=$(date +%s)
check "$(fc_mint --sa ops/alice --aud host-login:test --iat $((now - 7200)) --exp $((now - 60)))" 1
ok "expired token refused"
# issue 14: the service-account path says when, as the jwt path does (it
# printed a raw Unix time), and names the host clock when it may be the cause
utc() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
check "$(fc_mint --sa ops/alice --aud host-login:test --iat $((now - 14400)) --exp $((now - 11520)))" 1
assert_eq "$(field .reason)" "token rejected by the apiserver" "expired 3h12m ago: the apiserver refused it"
case "$(field .detail)" in
"status.error: "*"(token expired at $(utc $((now - 11520))), 3h12m ago)") ;;
*) fail "expired 3h12m ago: $(field .detail)" ;; esac
ok "apiserver's refusal of an expired token says when: $(field .detail)"
check "$(fc_mint --sa ops/alice --aud host-login:test --iat $((now - 600)) --exp $((now - 20)))" 1
assert_eq "$(field .reason)" "token expired" "expired 20 s ago: inside the apiserver's leeway, refused here"
case "$(field .detail)" in
"token expired at $(utc $((now - 20))), "*"s ago; the host clock reads "*"k8s-auth status compares it with the apiserver's)") ;;
*) fail "just expired, service-account path: $(field .detail)" ;; esac
ok "just expired (service-account path): when, and the host clock"
check "$(fc_mint --sa ops/alice --aud host-login:test --ttl 172800)" 1
assert_eq "$(field .reason)" "token lifetime exceeds policy" "48h token refused by maxTokenLifetime"
assert_eq "$(field .username)" system:serviceaccount:ops:alice "policy refusal shows the username"

# Refused before any network call.
before=$(reviews)
check "abcdef.0123456789abcdef" 1
assert_eq "$(field .reason)" "bootstrap tokens are not allowed" "bootstrap-shaped token refused"
legacy=$(fc_mint --sa ops/old --legacy)
check "$legacy" 1
assert_eq "$(field .reason)" "legacy service-account tokens are not allowed" "legacy SA token refused"
# The apiserver reads a compact JWS as go-jose does: '=' padding stripped,
# the last character's unused bits ignored, the signature checked over the
# segments re-encoded.  So a legacy token re-spelled that way is the same
# token to it; to the pre-check too (it was opaque to the strict decoder,
# so it went to TokenReview).
respell() { # TOKEN pad|bits
	python3 - "$1" "$2" <<'PY'
import sys
h, p, s = sys.argv[1].split(".")
A = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
if sys.argv[2] == "pad":
    p += "=="
else:
    while len(p) % 4 == 0:            # no unused bits: grow the payload by one byte
        raise SystemExit("payload has no unused bits")
    p = p[:-1] + A[A.index(p[-1]) | 1]   # an unused low bit set
print(h + "." + p + "." + s)
PY
}
check "$(respell "$legacy" pad)" 1
assert_eq "$(field .reason)" "legacy service-account tokens are not allowed" "legacy SA token with a padded payload refused"
if [ $(( $(cut -d. -f2 <<<"$legacy" | tr -d '\n' | wc -c) % 4 )) != 0 ]; then
	check "$(respell "$legacy" bits)" 1
	assert_eq "$(field .reason)" "legacy service-account tokens are not allowed" \
		"legacy SA token with the payload's unused bits set refused"
else
	# the payload is a whole number of groups: pad it to one with unused bits
	check "$(respell "$legacy" pad)" 1
	assert_eq "$(field .reason)" "legacy service-account tokens are not allowed" "legacy (padded again)"
fi
check "$(printf '%s' "$tok" | head -c 100) $(printf '%s' "$tok" | tail -c +101)" 1
assert_eq "$(field .reason)" "malformed token" "token with inner space refused"
check "$(head -c 20000 /dev/zero | tr '\0' 'a')" 1
assert_eq "$(field .reason)" "token too large" "oversize token refused"
check "$(printf 'abc\001def')" 1
assert_eq "$(field .reason)" "malformed token" "control byte refused"
check "" 1
assert_eq "$(reviews)" "$before" "no TokenReview was sent for any of them"

# A deleted service account: the same token is refused.
fc sa delete ops/alice >/dev/null
check "$tok" 1
assert_eq "$(field .reason)" "token rejected by the apiserver" "token of a deleted service account refused"

# Apiserver-side failures are "unavailable" (3), never "refused".
bob=$(fc_mint --sa ops/bob --aud host-login:test --ttl 600)
for mode in '{"mode":"status","code":500}' '{"mode":"status","code":503}' '{"mode":"huge"}' \
	'{"mode":"malformed"}' '{"mode":"wrong-kind"}' '{"mode":"redirect"}' '{"mode":"drop"}'; do
	fc_fault "$mode"
	check "$bob" 3
	ok "fault $mode -> unavailable: $(field .reason)"
done
fc_fault '{"mode":"empty-audiences"}'
check "$bob" 1
assert_eq "$(field .reason)" "wrong audience" "empty status.audiences refused"
fc_fault '{"mode":"delay","seconds":20}'
start=$(date +%s%N)
check "$bob" 3
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$ms" -lt 4000 ] || fail "timeout 3s took ${ms} ms"
ok "timeout honoured: ${ms} ms for timeout 3s"
fc_fault_clear
check "$bob" 0
ok "recovers after faults"

KUBECONFIG_FILE=$FC_DIR/kubeconfig-forbidden write_config
check "$bob" 3
assert_contains "$(field .reason)" "403" "reviewer without permission -> unavailable (403)"
sed 's/token: .*/token: not-the-reviewer-token/' "$FC_DIR/kubeconfig" > "$TEST_TMP/kc-bad"
chmod 600 "$TEST_TMP/kc-bad"
KUBECONFIG_FILE=$TEST_TMP/kc-bad write_config
check "$bob" 3
assert_contains "$(field .reason)" "401" "reviewer credentials rejected -> unavailable (401)"
KUBECONFIG_FILE=$FC_DIR/kubeconfig-cert write_config
check "$bob" 0
ok "client-certificate reviewer"
KUBECONFIG_FILE=$FC_DIR/kubeconfig-tokenfile write_config
check "$bob" 0
ok "tokenFile reviewer"
write_config

# Configuration errors: exit 2, naming the file and the key.
printf 'tokenReview:\n  kubeconfig: %s\n  audiences: ["a"]\n  timout: 5s\n' "$FC_DIR/kubeconfig" > "$cfg"
check "$bob" 2
assert_contains "$ERR" "$cfg" "config error names the file"
assert_contains "$ERR" "timout" "config error names the key"
printf 'tokenReview:\n  kubeconfig: %s\n  audiences: []\n' "$FC_DIR/kubeconfig" > "$cfg"
check "$bob" 2
assert_contains "$ERR" "audiences" "empty audience list refused"
write_config
"$BIN" check --config "$cfg" "$bob" </dev/null >/dev/null 2>&1
assert_eq "$?" 2 "a token on the command line is a usage error"

# Unreachable apiserver.
fc_stop
check "$bob" 3
ok "apiserver down -> unavailable: $(field .reason)"
echo "all passed"
