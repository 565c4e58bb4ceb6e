#!/bin/bash
# pam_k8s through pamtester (Linux-PAM's misc_conv, the conversation
# login and su use) against the fake cluster's TokenReview endpoint and
# OIDC issuer (tests/fakecluster, which signs the tokens): a 1.2 KB service-account
# token and a 3 KB OIDC token log in; another user's, expired, wrong
# audience and rebound tokens are refused; users pam_k8s does not handle
# are ignored without a prompt; boundary token sizes through misc_conv;
# use_first_pass never sends a password anywhere; account without a
# token; apiserver down and black-holed within the timeout.  Runs in a
# private mount namespace (tests/pam/pamlib.sh).
. "$(dirname "$0")/../pam/pamlib.sh"
pk_begin pamtester
pk_write_config
pk_stack k8s-test "auth required MOD CFG" "account required MOD CFG" "session required MOD CFG"
ALL=(authenticate acct_mgmt open_session close_session)
UID_A=3f1c0e52-8a7b-4c1d-9e2f-000000000001
UID_A2=3f1c0e52-8a7b-4c1d-9e2f-000000000002
UID_B=3f1c0e52-8a7b-4c1d-9e2f-00000000000b

fp() { printf '%s' "$1" | sha256sum | cut -c1-16; }
users_json() { "$PK_CLI" --config "$T/config.yaml" users --json; }

# ---- a realistic service-account token (pod-bound, ~1.2 KB), TokenReview
tok=$(pk_sa_token alice "$UID_A" --pod payments-api-7d9f8b6c5-x2x4z \
	--node ip-10-0-12-34.eu-west-1.compute.internal)
pk_check "service-account token is 1.0-1.3 KB (${#tok} bytes)" test "${#tok}" -ge 1000 -a "${#tok}" -le 1300
pk_mark_log
pk_pam k8s-test ops.alice "${ALL[@]}" <<<"$tok"
pk_check "SA token: auth, account, session open/close" test "$PK_RC" = 0
pk_check "prompt names the audience" grep -qF "Kubernetes token (audience $PK_AUD): " <<<"$PK_OUT"
line=$(pk_new_log | grep 'session): login user="ops.alice"')
pk_check "one audit line" test "$(grep -c . <<<"$line")" = 1
for want in 'cluster_user="system:serviceaccount:ops:alice"' "cluster_uid=\"$UID_A\"" \
	'method="tokenreview"' "token=\"$(fp "$tok")\"" 'local_groups="k8s-ops"' \
	'pod="ops/payments-api-7d9f8b6c5-x2x4z' 'node="ip-10-0-12-34.eu-west-1.compute.internal' \
	'expires="20' 'credential_id="JTI='; do
	pk_check "audit line has $want" grep -qF -- "$want" <<<"$line"
done
pk_check "token never logged or stored" pk_no_leak "$tok"
pk_check "store: ops.alice bound to the SA uid" \
	jq -e --arg u "$UID_A" '.[] | select(.name == "ops.alice") | .binding == ("tokenreview:uid:" + $u)' <<<"$(users_json)"
pk_check "store: ops.alice in k8s-ops" \
	jq -e '.[] | select(.name == "ops.alice") | [.groups[] | (.name? // .)] | index("k8s-ops") != null' <<<"$(users_json)"
pk_check "run dir empty after close_session" test -z "$(pk_state_files "$T/run")"

# ---- the same token validated offline (serviceAccounts:): the same
# audit line but for method and issuer, the same account (the binding is
# TokenReview's), and no TokenReview sent
pk_write_config "serviceAccounts:
  issuer: $PK_URL
  audiences: [\"$PK_AUD\"]
  certificateAuthority: |
$(sed 's/^/    /' "$T/idp/ca.crt")"
reviews=$(pk_reviews)
pk_mark_log
pk_pam k8s-test ops.alice "${ALL[@]}" <<<"$tok"
pk_check "SA token offline: auth, account, session open/close" test "$PK_RC" = 0
oline=$(pk_new_log | grep 'session): login user="ops.alice"')
pk_check "offline: no TokenReview sent" test "$(pk_reviews)" = "$reviews"
pk_check "offline: method serviceaccount, the cluster's issuer" \
	grep -qF "method=\"serviceaccount\" issuer=\"$PK_URL\"" <<<"$oline"
strip() { sed -E 's/^.*session\): //; s/ method="[^"]*" issuer="[^"]*"//' <<<"$1"; }
pk_check "offline audit line equals TokenReview's but for method and issuer" \
	test "$(strip "$oline")" = "$(strip "$line")"
pk_write_config

# ---- a 3 KB OIDC token (JWT path, offline against the issuer's JWKS)
groups=platform-admins,team-db
for i in $(seq 1 85); do groups="$groups,org-unit-$i-readers"; done
# its jti is the minter's choice of bytes: the credential id reaches the
# audit line escaped, one line, no forged field
otok=$(pk_oidc_token carol --groups "$groups" --jti $'j-1" token="forged\nfake line')
pk_check "OIDC token is 2.8-3.5 KB (${#otok} bytes)" test "${#otok}" -ge 2800 -a "${#otok}" -le 3500
pk_mark_log
pk_pam k8s-test carol "${ALL[@]}" <<<"$otok"
pk_check "OIDC token: auth, account, session" test "$PK_RC" = 0
line=$(pk_new_log | grep 'session): login user="carol"')
pk_check "audit: method jwt, issuer, cluster user" \
	grep -qF "method=\"jwt\" issuer=\"$PK_ISS\"" <<<"$line"
pk_check "audit: mapped groups sudo and k8s-db" grep -qE 'local_groups="(sudo,k8s-db|k8s-db,sudo)"' <<<"$line"
pk_check "audit: one line for the OIDC login" test "$(grep -c . <<<"$line")" = 1
pk_check "audit: groups end with system:authenticated, as TokenReview's do" \
	grep -qE 'groups="[^"]*,system:authenticated"' <<<"$line"
pk_check "audit: the jti as credential id, escaped" \
	grep -qF 'credential_id="JTI=j-1\x22 token=\x22forged\x0afake line"' <<<"$line"
pk_check "audit: no forged token field" test "$(grep -o ' token="' <<<"$line" | wc -l)" = 1
pk_check "OIDC token never logged" pk_no_leak "$otok"

# ---- refusals
refused() { # DESC USER TOKEN REASON
	pk_mark_log
	pk_pam k8s-test "$2" authenticate <<<"$3"
	if [ "$PK_RC" != 0 ] && grep -qF "Kubernetes token refused." <<<"$PK_OUT" &&
		pk_new_log | grep -F 'auth refused' | grep -qF "reason=\"$4"; then
		pk_ok "$1 refused ($4)"
	else
		pk_fail "$1 refused ($4): rc=$PK_RC; $PK_OUT; $(pk_new_log | tail -n 2)"
	fi
}
refused "alice's token for ops.bob" ops.bob "$tok" "token is for another user"
refused "carol's OIDC token for erin" erin "$otok" "token is for another user"
refused "expired token" ops.alice "$(pk_sa_token alice "$UID_A" --iat-offset -1200 --lifetime 600)" ""
refused "token for another audience" ops.alice \
	"$(pk_mint --sub system:serviceaccount:ops:alice --aud host-login:other --sa-uid "$UID_A")" ""
refused "OIDC token for another audience" carol "$(pk_oidc_token carol --aud host-login:other)" ""
refused "garbage" ops.alice "not-a-token" ""
# a recreated service account: same name, new uid
refused "ops.alice after the SA was recreated" ops.alice "$(pk_sa_token alice "$UID_A2")" "identity binding mismatch"
"$PK_CLI" --config "$T/config.yaml" forget ops.alice >/dev/null
pk_pam k8s-test ops.alice authenticate <<<"$(pk_sa_token alice "$UID_A2")"
pk_check "after k8s-auth forget, the new identity binds" test "$PK_RC" = 0
pk_check "store: ops.alice now bound to the new uid" \
	jq -e --arg u "$UID_A2" '.[] | select(.name == "ops.alice") | .binding == ("tokenreview:uid:" + $u)' <<<"$(users_json)"
refused "the old identity after rebinding" ops.alice "$(pk_sa_token alice "$UID_A")" "identity binding mismatch"

# ---- users pam_k8s does not handle: PAM_IGNORE, no prompt
pk_stack k8s-ignore "auth [success=done ignore=ignore default=die] MOD CFG" "auth required pam_permit.so" \
	"account [success=ok ignore=ignore default=bad] MOD CFG" "account required pam_permit.so"
for u in root nobody not-in-store; do
	pk_pam k8s-ignore "$u" authenticate acct_mgmt </dev/null
	pk_check "$u: ignored (stack falls through to pam_permit)" test "$PK_RC" = 0
	pk_check "$u: never prompted for a token" eval '! grep -q "Kubernetes token" <<<"$PK_OUT"'
done
pk_pam k8s-test ops.bob authenticate <<<""
pk_check "ops.bob (declared): prompted; an empty answer does not authenticate" \
	eval '[ "$PK_RC" != 0 ] && grep -q "Kubernetes token" <<<"$PK_OUT"'
pk_pam k8s-ignore ops.bob authenticate <<<""
pk_check "ops.bob: an empty answer steps aside (PAM_IGNORE: the stack goes on)" test "$PK_RC" = 0

# ---- boundary sizes through misc_conv.  Unframed answers at the lengths
# clients cut at are refused; framed (k8s-ssh-askpass --frame) they pass.
# misc_conv itself cuts at 4095, so an unframed 4096-byte token arrives cut.
for n in 511 512 1023 1024 4095 4096; do
	t=$(pk_oidc_token erin --alg ES256 --size "$n")
	if [ "${#t}" != "$n" ]; then
		pk_fail "minting a $n-byte token (got ${#t})"
		continue
	fi
	case $n in 511 | 1023 | 4095 | 4096) want=fail ;; *) want=ok ;; esac
	pk_mark_log
	pk_pam k8s-test erin authenticate <<<"$t"
	if { [ $want = ok ] && [ "$PK_RC" = 0 ]; } ||
		{ [ $want = fail ] && [ "$PK_RC" != 0 ] && pk_new_log | grep -qF 'may have been cut by the client'; }; then
		pk_ok "$n bytes unframed: $want"
	else
		pk_fail "$n bytes unframed: want $want, rc=$PK_RC $(pk_new_log | tail -n 1)"
	fi
	for chunk in 480 4000; do
		pk_pam k8s-test erin authenticate < <("$PK_ASKPASS" --frame $chunk <<<"$t")
		pk_check "$n bytes framed in chunks of $chunk: ok" test "$PK_RC" = 0
		[ "$PK_RC" = 0 ] || echo "$PK_OUT" | tail -n 20
	done
done
# framed chunks from two tokens of the same size never assemble
t1=$(pk_oidc_token erin --alg ES256 --size 1500)
t2=$(pk_oidc_token erin --alg ES256 --size 1500)
pk_mark_log
pk_pam k8s-test erin authenticate < <(
	"$PK_ASKPASS" --frame 500 <<<"$t1" | head -n 2
	"$PK_ASKPASS" --frame 500 <<<"$t2" | tail -n 1
)
pk_check "chunks of two tokens: refused (digest mismatch)" \
	eval '[ "$PK_RC" != 0 ] && pk_new_log | grep -qF "token digest mismatch"'
# a chunk cut by the client: the next one does not continue where the server is
pk_pam k8s-test erin authenticate < <("$PK_ASKPASS" --frame 500 <<<"$t1" | sed '1s/.\{20\}$//')
pk_check "a cut chunk: refused" test "$PK_RC" != 0

# ---- use_first_pass: PAM_AUTHTOK from an earlier module.  pam_unix asks
# "Password:" and keeps the answer; pam_k8s only ever sends a JWT-shaped one.
pk_stack k8s-first "auth optional pam_unix.so" "auth required MOD CFG use_first_pass"
pk_pam k8s-first ops.bob authenticate <<<"$(pk_sa_token bob "$UID_B")"
pk_check "use_first_pass: token typed at pam_unix's prompt logs in" test "$PK_RC" = 0
pk_check "use_first_pass: no second prompt" eval '! grep -q "Kubernetes token" <<<"$PK_OUT"'
pw="correct horse battery staple $RANDOM"
reviews=$(pk_reviews)
pk_pam k8s-first ops.bob authenticate <<<"$pw"
pk_check "use_first_pass: a password fails" test "$PK_RC" != 0
pk_check "use_first_pass: the password never reached the TokenReview endpoint (no review)" \
	test "$(pk_reviews)" = "$reviews"
pk_stack k8s-try "auth optional pam_unix.so" "auth required MOD CFG try_first_pass"
tokb=$(pk_sa_token bob "$UID_B")
reviews=$(pk_reviews)
pk_pam k8s-try ops.bob authenticate < <(printf '%s\n%s\n' "$pw" "$tokb")
pk_check "try_first_pass: a password, then the token at pam_k8s's prompt" test "$PK_RC" = 0
pk_check "try_first_pass: the password was not sent either (one review: the token's)" \
	test "$(pk_reviews)" = $((reviews + 1))
# passwords that happen to be three dot-separated base64url runs (shaped like
# a JWT) are not tokens either: nothing decodes to a JWS from a configured
# issuer or with the service-account shape, so nothing goes to the network
for pw3 in "Correct.Horse-Battery_Staple.2024" "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.x" \
	"$(printf '{"alg":"RS256"}' | base64 -w0 | tr -d = | tr '/+' '_-').$(printf '{"sub":"x","iss":"https://elsewhere.example"}' | base64 -w0 | tr -d = | tr '/+' '_-').c2ln"; do
	reviews=$(pk_reviews)
	pk_pam k8s-first ops.bob authenticate <<<"$pw3"
	pk_check "use_first_pass: a JWT-shaped password ($pw3) fails" test "$PK_RC" != 0
	pk_check "use_first_pass: ...and never reached the TokenReview endpoint" test "$(pk_reviews)" = "$reviews"
	pk_pam k8s-try ops.bob authenticate < <(printf '%s\n%s\n' "$pw3" "$tokb")
	pk_check "try_first_pass: a JWT-shaped password, then the token: in, one review" \
		test "$PK_RC" = 0 -a "$(pk_reviews)" = $((reviews + 1))
done

# ---- a typo in a module argument never turns a check off (issue 10.5):
# the users pam_k8s handles are refused, everyone else is untouched
pk_stack k8s-typo "auth required MOD CFG" "account required MOD CFG revalidte"
pk_mark_log
pk_pam k8s-typo ops.bob authenticate acct_mgmt <<<"$tokb"
pk_check "typo revalidte: a handled user is refused" test "$PK_RC" != 0
pk_check "typo revalidte: logged, naming the argument" \
	eval 'pk_new_log | grep -qF "unknown or malformed argument \"revalidte\": refusing the users pam_k8s handles"'
pk_stack k8s-typo-root "auth [success=done ignore=ignore default=die] MOD CFG revalidte" "auth required pam_permit.so" \
	"account required MOD CFG revalidte" "account required pam_permit.so"
pk_pam k8s-typo-root root authenticate acct_mgmt </dev/null
pk_check "typo revalidte: root is untouched" test "$PK_RC" = 0
pk_stack k8s-spelt "auth required MOD CFG" "account required MOD CFG revalidate"
pk_pam k8s-spelt ops.bob authenticate acct_mgmt <<<"$(pk_sa_token bob "$UID_B")"
pk_check "revalidate spelt right: the same login passes" test "$PK_RC" = 0
pk_stack k8s-badtimeout "auth required MOD CFG timeout=99"
pk_pam k8s-badtimeout ops.bob authenticate <<<"$(pk_sa_token bob "$UID_B")"
pk_check "a malformed value (timeout=99) refuses too" test "$PK_RC" != 0

# ---- account without a token (an ssh key): the store's login policy
"$PK_CLI" --config "$T/config.yaml" sync >/dev/null
pk_pam k8s-test ops.dave acct_mgmt </dev/null
pk_check "account, declared user, no token: allowed" test "$PK_RC" = 0
PK_CONFIG_FILE=$T/allowed.yaml pk_write_config "login:
  allowedGroups: [\"oidc:platform-admins\"]"
pk_stack k8s-allowed "auth required MOD config=$T/allowed.yaml" "account required MOD config=$T/allowed.yaml"
pk_pam k8s-allowed ops.dave acct_mgmt </dev/null
pk_check "account, no token, allowedGroups set: denied (cannot be proven)" test "$PK_RC" != 0
pk_pam k8s-allowed carol authenticate acct_mgmt <<<"$otok"
pk_check "allowedGroups: carol (platform-admins) logs in" test "$PK_RC" = 0
pk_pam k8s-allowed ops.bob authenticate <<<"$(pk_sa_token bob "$UID_B")"
pk_check "allowedGroups: ops.bob (no such group) refused" test "$PK_RC" != 0

# ---- root through a mapping rule is refused unless login.allowRoot
PK_CONFIG_FILE=$T/root.yaml pk_write_config "" && sed -i 's/^  declared: \[/  allowExisting: [root]\n  declared: [/' "$T/root.yaml"
pk_stack k8s-root "auth required MOD config=$T/root.yaml"
pk_mark_log
pk_pam k8s-root root authenticate <<<"$(pk_oidc_token root)"
pk_check "root@example.com -> root: refused without allowRoot" \
	eval '[ "$PK_RC" != 0 ] && pk_new_log | grep -qF "root login not allowed"'

# ---- broken configuration: root and local users untouched
pk_stack k8s-broken "auth [success=done ignore=ignore default=die] MOD config=$T/missing.yaml" \
	"auth required pam_permit.so"
pk_pam k8s-broken root authenticate </dev/null
pk_check "broken config: root ignored, not locked out" test "$PK_RC" = 0

# ---- the apiserver black-holed (accepts, never answers): refused within timeout + 1 s
hole_port=$("$PK_PY" - <<'EOF'
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])
EOF
)
pk_bg "$T/hole.out" "$PK_PY" -c "
import socket, sys, threading, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $hole_port)); s.listen(16); print('READY', flush=True)
conns = []
threading.Thread(target=lambda: (sys.stdin.read(), __import__('os')._exit(0)), daemon=True).start()
while True:
    c, _ = s.accept(); conns.append(c)
"
sed "s#server: .*#server: https://127.0.0.1:$hole_port#" "$T/idp/kubeconfig" >"$T/hole.kubeconfig"
chmod 600 "$T/hole.kubeconfig"
PK_CONFIG_FILE=$T/hole.yaml pk_write_config && sed -i "s#kubeconfig: .*#kubeconfig: $T/hole.kubeconfig#" "$T/hole.yaml"
pk_stack k8s-hole "auth required MOD config=$T/hole.yaml"
tok=$(pk_sa_token bob "$UID_B")
pk_mark_log
start=$(date +%s%N)
pk_pam k8s-hole ops.bob authenticate <<<"$tok"
ms=$((($(date +%s%N) - start) / 1000000))
pk_check "black-holed apiserver: refused" test "$PK_RC" != 0
pk_new_log | tail -n 2
pk_check "black-holed apiserver: within timeout (2 s) + 1 s (took ${ms} ms)" test "$ms" -lt 3000
pk_check "black-holed apiserver: logged as unavailable" eval 'pk_new_log | grep -qF "status=\"unavailable\""'
pk_check "black-holed apiserver: user told it could not be verified" \
	grep -qF "could not be verified now" <<<"$PK_OUT"

# ---- the apiserver down (connection refused), the store's local users fine
kill "${PK_BG_PIDS[1]}"
wait "${PK_BG_PIDS[1]}" 2>/dev/null
start=$(date +%s%N)
pk_pam k8s-test ops.bob authenticate <<<"$(pk_sa_token bob "$UID_B" 2>/dev/null || echo x)"
ms=$((($(date +%s%N) - start) / 1000000))
pk_check "apiserver down: refused within 3 s (took ${ms} ms)" test "$PK_RC" != 0 -a "$ms" -lt 3000
pk_pam k8s-ignore root authenticate </dev/null
pk_check "apiserver down: root still passes the stack" test "$PK_RC" = 0

pk_done
