#!/bin/bash
# k8s-auth status and k8s-auth cache clear against the local test cluster
# (tests/fakecluster), in a private mount namespace (tests/pam/pamlib.sh):
# our own /etc/pam.d, /etc/nsswitch.conf, helper at its compiled-in path,
# libnss_k8s.so.2 in the library directory, store at /var/lib/k8s-auth.
# Every exit status of SPEC.md: all ok (0), the reviewer forbidden and other
# failed checks (1), a configuration error (2), the apiserver or an issuer
# unreachable (3).  Then cache clear: only our files go, and the next login
# or check asks the cluster again (counted by the fake).  Also: --help on
# every command, --config naming a missing file, a non-root check.
. "$(dirname "$0")/../pam/pamlib.sh"
pk_begin -s jq pamtester
export PK_CACHE_TTL=2m
pk_write_config
CFG=$T/config.yaml
CLI=$PK_CLI
# the stacks of this namespace's /etc/pam.d that use pam_k8s: none but ours
grep -l pam_k8s /etc/pam.d/* 2>/dev/null | xargs -r rm -f
pk_stack k8s-login "auth [success=done ignore=ignore default=die] MOD CFG" "auth required pam_deny.so" \
	"account required MOD CFG"
"$CLI" sync --config "$CFG" >/dev/null || { echo "k8s-auth sync failed" >&2; exit 1; }

# st [ARGS]: k8s-auth status; OUT, ERR, RC.  No token ever appears.
st() {
	OUT=$("$CLI" status "$@" 2>"$T/status.err")
	RC=$?
	ERR=$(cat "$T/status.err")
}
line() { grep -E "^(ok|warn|fail) +$1: " <<<"$OUT"; }
has() { # RESULT CHECK [TEXT]: a line for CHECK with RESULT (and TEXT)
	local l
	l=$(line "$2") || return 1
	grep -qE "^$1 " <<<"$l" || return 1
	[ $# -lt 3 ] || grep -qF -- "$3" <<<"$l"
}
show() { echo "--- status (exit $RC):"; echo "$OUT"; echo "$ERR"; }
expect_rc() { # DESC WANT
	if [ "$RC" = "$2" ]; then pk_ok "$1 (exit $RC)"; else pk_fail "$1: exit $RC, want $2"; show; fi
}

# ---- all ok
st --config "$CFG"
expect_rc "status: everything set up" 0
pk_check "every line is ok (no warning, no failure)" test -z "$(grep -vE '^ok  ' <<<"$OUT")" || show
for c in config config.tokenReview config.jwt config.accounts kubeconfig apiserver clock \
	reviewer.tokenreviews 'jwt\[0\]' store cache cache.jwks cache.reviews helper pam.k8s-login \
	nsswitch.passwd nsswitch.group nss.module; do
	pk_check "ok line for $c" has ok "$c" || show
done
pk_check "the apiserver is named" has ok apiserver "$PK_URL"
pk_check "the issuer's keys were fetched now" has ok 'jwt\[0\]' "$PK_ISS: discovery and JWKS fetched now"
pk_check "the stack's lines are shown" has ok pam.k8s-login "account required $PK_MOD config=$CFG"
pk_check "the declared accounts are in the store" has ok store "5 accounts"
pk_check "status made no TokenReview" test "$(pk_reviews)" = 0
n_ssar=$("$PK_PY" -c 'import json,sys; print(json.load(open(sys.argv[1])).get("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", 0))' "$T/idp/requests.json")
pk_check "one SelfSubjectAccessReview asked ($n_ssar)" test "$n_ssar" = 1
pk_check "nothing on stderr" test -z "$ERR"

# --json: an array of {check, result, message, fix}, the same checks
st --config "$CFG" --json
expect_rc "status --json" 0
pk_check "--json parses: an array of {check, result, message, fix}" jq -e '
	type == "array" and length >= 18 and
	all(.[]; (keys == ["check", "fix", "message", "result"]) and (.result | IN("ok", "warn", "fail")))
	and ([.[] | select(.result != "ok")] | length == 0)
	and (map(.check) | index("reviewer.tokenreviews") != null)' <<<"$OUT" >/dev/null || show

# ---- login.subjectAccessReview: the reviewer must create subjectaccessreviews too
cp "$CFG" "$T/sar.yaml"
cat >>"$T/sar.yaml" <<'EOF'
login:
  subjectAccessReview: {verb: login, group: hosts.example.com, resource: hosts, name: "%h"}
EOF
st --config "$T/sar.yaml"
expect_rc "status with login.subjectAccessReview" 0
pk_check "the reviewer may create subjectaccessreviews" has ok reviewer.subjectaccessreviews || show

# ---- a sync: section: the reviewer must list what k8s-auth sync reads
cp "$CFG" "$T/sync.yaml"
printf 'sync:\n  namespaces: [ops]\n  serviceAccounts: true\n' >>"$T/sync.yaml"
st --config "$T/sync.yaml"
expect_rc "status with sync: the fake's reviewer may not list" 1
pk_check "fail line names what it may not list" \
	has fail reviewer.sync "list clusterrolebindings, list rolebindings in ops, list serviceaccounts in ops" || show
sed "s#kubeconfig: $T/idp/kubeconfig\$#kubeconfig: $T/idp/kubeconfig-admin#" "$T/sync.yaml" >"$T/sync-admin.yaml"
st --config "$T/sync-admin.yaml"
expect_rc "status with sync, system:masters as the reviewer" 0
pk_check "ok line: all three" has ok reviewer.sync "may list all 3" || show

# ---- the reviewer forbidden (exit 1, the check names tokenreviews and the fix)
sed "s#kubeconfig: $T/idp/kubeconfig\$#kubeconfig: $T/idp/kubeconfig-forbidden#" "$T/sar.yaml" >"$T/forbidden.yaml"
st --config "$T/forbidden.yaml"
expect_rc "status: the reviewer may not create tokenreviews" 1
pk_check "fail line names tokenreviews and what to do" \
	has fail reviewer.tokenreviews "may not create tokenreviews.authentication.k8s.io (permission denied)" || show
pk_check "...and the fix (rbac-reviewer.yaml)" has fail reviewer.tokenreviews "rbac-reviewer.yaml"
pk_check "...and subjectaccessreviews" has fail reviewer.subjectaccessreviews "may not create subjectaccessreviews"
pk_check "the apiserver itself answered" has ok apiserver

# ---- credentials the apiserver refuses (401): reachable, a check failed
sed 's/^\( *token:\).*/\1 not-a-valid-token/' "$T/idp/kubeconfig" >"$T/kubeconfig-bad"
chmod 600 "$T/kubeconfig-bad"
sed "s#kubeconfig: $T/idp/kubeconfig\$#kubeconfig: $T/kubeconfig-bad#" "$CFG" >"$T/bad.yaml"
st --config "$T/bad.yaml"
expect_rc "status: reviewer credentials refused (401)" 1
pk_check "the reviewer line says 401" has fail reviewer "(401)" || show

# ---- the apiserver down (exit 3)
port=$(pk_free_port)
sed "s#server: $PK_URL#server: https://127.0.0.1:$port#" "$T/idp/kubeconfig" >"$T/kubeconfig-down"
chmod 600 "$T/kubeconfig-down"
sed "s#kubeconfig: $T/idp/kubeconfig\$#kubeconfig: $T/kubeconfig-down#" "$CFG" >"$T/down.yaml"
st --config "$T/down.yaml"
expect_rc "status: the apiserver unreachable" 3
pk_check "fail line for the apiserver, naming it" has fail apiserver "https://127.0.0.1:$port" || show
pk_check "no reviewer line when nothing answered" test -z "$(line reviewer.tokenreviews)"
pk_check "the issuer, still up, is ok" has ok 'jwt\[0\]'

# ---- the issuer's JWKS unreachable (exit 3)
"$PK_PY" - "$T/idp/fault.json" <<'EOF'
import json, sys
json.dump({"mode": "status", "code": 503, "paths": ["/idp/keys"]}, open(sys.argv[1], "w"))
EOF
st --config "$CFG"
rm -f "$T/idp/fault.json"
expect_rc "status: the issuer's JWKS unreachable" 3
pk_check "fail line for jwt[0] names the issuer and the JWKS" has fail 'jwt\[0\]' "$PK_ISS: issuer $PK_ISS: JWKS" || show
pk_check "...and the HTTP status" has fail 'jwt\[0\]' "HTTP 503"

# ---- the host clock against the apiserver's Date
clock() { # OFFSET: the apiserver's Date header OFFSET seconds from now
	"$PK_PY" - "$T/idp/fault.json" "$1" <<'EOF'
import json, sys
json.dump({"mode": "clock", "offset": int(sys.argv[2]), "paths": ["/apis/"]}, open(sys.argv[1], "w"))
EOF
}
clock 300
st --config "$CFG"
expect_rc "status: the host clock 300 s behind" 1
pk_check "fail line for the clock" has fail clock "s behind the apiserver's" || show
clock -120
st --config "$CFG"
expect_rc "status: the host clock 120 s ahead" 1
pk_check "fail line: ahead" has fail clock "s ahead of the apiserver's" || show
clock 30
st --config "$CFG"
expect_rc "status: 30 s off is a warning only" 0
pk_check "warn line for the clock" has warn clock "behind" || show
rm -f "$T/idp/fault.json"
# no tokenReview: the issuer's Date
sed '/^tokenReview:/,/^jwt:/{/^jwt:/!d}' "$CFG" >"$T/jwtonly.yaml"
st --config "$T/jwtonly.yaml"
expect_rc "status: jwt only" 0
pk_check "the clock against the issuer's" has ok clock "of the issuer's Date" || show
pk_check "no apiserver asked" has ok apiserver "not used"
"$PK_PY" - "$T/idp/fault.json" <<'EOF'
import json, sys
json.dump({"mode": "clock", "offset": -400, "paths": ["/idp/"]}, open(sys.argv[1], "w"))
EOF
st --config "$T/jwtonly.yaml"
rm -f "$T/idp/fault.json"
expect_rc "status: jwt only, the host 400 s ahead of the issuer" 1
pk_check "fail line for the clock names the issuer's" has fail clock "ahead of the issuer's" || show

# ---- configuration errors (exit 2)
cp "$CFG" "$T/typo.yaml"
printf 'alowRoot: true\n' >>"$T/typo.yaml"
st --config "$T/typo.yaml"
expect_rc "status: an unknown key" 2
pk_check "fail line for the config names the key" has fail config "alowRoot" || show
pk_check "the stacks are still checked" has ok pam.k8s-login
st --config /nonexistent/config.yaml
expect_rc "status --config /nonexistent" 2
pk_check "...names the file" has fail config "/nonexistent/config.yaml: No such file" || show
cp "$CFG" "$T/writable.yaml"
chmod 666 "$T/writable.yaml"
st --config "$T/writable.yaml"
expect_rc "status: a configuration others may write" 2
pk_check "...says so, and what to do" has fail config "chmod go-w" || show
printf 'accounts:\n  users: []\nstore: /var/lib/k8s-auth\n' >"$T/nothing.yaml"
st --config "$T/nothing.yaml"
expect_rc "status: neither tokenReview nor jwt, no user rules" 2
pk_check "fail line: no token can be validated" has fail config.tokenReview "no token can be validated" || show
pk_check "fail line: nobody can log in" has fail config.accounts "nobody can log in"
sed 's/^\( *\)token: .*/\1exec: {command: kubectl-token, apiVersion: client.authentication.k8s.io\/v1}/' \
	"$T/idp/kubeconfig" >"$T/kubeconfig-exec"
chmod 600 "$T/kubeconfig-exec"
sed "s#kubeconfig: $T/idp/kubeconfig\$#kubeconfig: $T/kubeconfig-exec#" "$CFG" >"$T/exec.yaml"
st --config "$T/exec.yaml"
expect_rc "status: a kubeconfig with an exec plugin" 2
pk_check "fail line for the kubeconfig" has fail kubeconfig "exec" || show

# ---- a stack with a misspelt pam_k8s argument
pk_stack k8s-typo "auth [success=done default=die] MOD CFG revalidte" \
	"account required MOD CFG [prompt=Kubernetes token: ]"
st --config "$CFG"
expect_rc "status: a misspelt module argument" 1
pk_check "fail line names the file, the line and the argument" \
	has fail pam.k8s-typo 'line 1: unknown or malformed argument "revalidte"' || show
pk_check "...says what the module does and knows" has fail pam.k8s-typo "refuses every user it handles"
pk_check "a bracketed argument with spaces is a known one" \
	test "$(line pam.k8s-typo | grep -c '^fail')" = 1
pk_check "...and shown as written" has ok pam.k8s-typo "[prompt=Kubernetes token: ]" || show
# the services that reach a file through @include are named
pk_stack k8s-typo "auth required MOD CFG timeout=99"
pk_stack k8s-svc "@include k8s-typo" "account required pam_permit.so"
st --config "$CFG"
expect_rc "status: timeout=99 (out of range) in an included file" 1
pk_check "fail line names the service that includes it" has fail pam.k8s-typo "(used by k8s-svc)" || show
rm -f /etc/pam.d/k8s-typo /etc/pam.d/k8s-svc
# another configuration on the stack line: a warning
pk_stack k8s-other "auth required MOD config=/etc/k8s-auth/other.yaml" "account required MOD CFG"
st --config "$CFG"
expect_rc "status: a stack with another config= (a warning)" 0
pk_check "warn line names the other configuration" has warn pam.k8s-other "config=/etc/k8s-auth/other.yaml" || show
rm -f /etc/pam.d/k8s-other
# no stack at all
mv /etc/pam.d/k8s-login "$T/k8s-login.saved"
st --config "$CFG"
expect_rc "status: no stack uses pam_k8s" 1
pk_check "fail line: no stack" has fail pam "no file in /etc/pam.d uses pam_k8s.so" || show
mv "$T/k8s-login.saved" /etc/pam.d/k8s-login

# ---- nsswitch.conf without k8s
cp /etc/nsswitch.conf "$T/nsswitch.saved"
sed -E 's/^(passwd:.*) k8s/\1/' "$T/nsswitch.saved" >/etc/nsswitch.conf
st --config "$CFG"
expect_rc "status: nsswitch.conf's passwd line without k8s" 1
pk_check "fail line for passwd" has fail nsswitch.passwd "the line has no k8s" || show
pk_check "the group line is still ok" has ok nsswitch.group
printf 'initgroups: files\n' >>/etc/nsswitch.conf
cat "$T/nsswitch.saved" >/etc/nsswitch.conf
printf 'initgroups: files\n' >>/etc/nsswitch.conf
st --config "$CFG"
expect_rc "status: an initgroups line without k8s" 1
pk_check "fail line for initgroups" has fail nsswitch.initgroups "the line has no k8s" || show
cat "$T/nsswitch.saved" >/etc/nsswitch.conf

# ---- the helper writable by others
chmod 0775 "$T/helper.bin"
st --config "$CFG"
chmod 0755 "$T/helper.bin"
expect_rc "status: the helper group-writable" 1
pk_check "fail line for the helper" has fail helper "mode 0775" || show

# ---- a damaged store
cp /var/lib/k8s-auth/identities.db "$T/db.saved"
size=$(stat -c %s /var/lib/k8s-auth/identities.db)
printf '\377' | dd of=/var/lib/k8s-auth/identities.db bs=1 seek=$((size - 9)) conv=notrunc 2>/dev/null
st --config "$CFG"
expect_rc "status: a damaged store" 1
pk_check "fail line for the store, and the fix" has fail store "k8s-auth sync" || show
cat "$T/db.saved" >/var/lib/k8s-auth/identities.db

# ---- cache clear: only our files go; the next login and check ask again
tok=$(pk_sa_token alice 7c2e0e52-8a7b-4c1d-9e2f-0000000000a1)
pk_pam k8s-login ops.alice authenticate <<<"$tok"
pk_check "a token login (fills the review cache)" test "$PK_RC" = 0
r1=$(pk_reviews)
pk_pam k8s-login ops.alice authenticate <<<"$tok"
pk_check "again: from the review cache (no TokenReview)" test "$PK_RC" = 0 -a "$(pk_reviews)" = "$r1"
# a store file libnss_k8s will not serve (group-writable): status says so,
# and the next login rewrites it though nothing in it changes
chmod 0664 /var/lib/k8s-auth/identities.delta
st --config "$CFG"
expect_rc "status: a group-writable delta" 1
pk_check "fail line naming the file NSS refuses" has fail store "identities.delta is not root's" || show
ino=$(stat -c %i /var/lib/k8s-auth/identities.delta)
pk_pam k8s-login ops.alice authenticate <<<"$tok"
pk_check "the same login again succeeds" test "$PK_RC" = 0
pk_check "and rewrote the delta 0644" test "$(stat -c %a /var/lib/k8s-auth/identities.delta)" = 644 \
	-a "$(stat -c %i /var/lib/k8s-auth/identities.delta)" != "$ino"
ino=$(stat -c %i /var/lib/k8s-auth/identities.delta)
pk_pam k8s-login ops.alice authenticate <<<"$tok"
pk_check "a login that changes nothing writes nothing" test "$PK_RC" = 0 \
	-a "$(stat -c %i /var/lib/k8s-auth/identities.delta)" = "$ino"
st --config "$CFG"
pk_check "status: the store is fine again" has ok store "every record verifies" || show
# one that non-root lookups cannot read: status says so, and the sync its
# hint names rewrites it with nothing else to change
chmod 0600 /var/lib/k8s-auth/identities.db
st --config "$CFG"
expect_rc "status: a base only root can read" 1
pk_check "fail line naming the base" has fail store "identities.db is not root's" || show
"$CLI" sync --config "$CFG" >"$T/sync.out" 2>&1
pk_check "k8s-auth sync rewrites it" test "$?" = 0 -a "$(stat -c %a /var/lib/k8s-auth/identities.db)" = 644 || cat "$T/sync.out"
st --config "$CFG"
pk_check "status: fine after the sync" has ok store "every record verifies" || show
otok=$(pk_oidc_token carol)
keys() { "$PK_PY" -c 'import json,sys; print(json.load(open(sys.argv[1])).get("/idp/keys", 0))' "$T/idp/requests.json"; }
"$CLI" check --config "$CFG" <<<"$otok" >/dev/null
k1=$(keys)
"$CLI" check --config "$CFG" <<<"$otok" >/dev/null
pk_check "a second check uses the cached keys (no JWKS request)" test "$(keys)" = "$k1"
st --config "$CFG"
pk_check "status counts the cached review" has ok cache.reviews "1 TokenReview answers" || show
pk_check "status counts the cached key set" has ok cache.jwks "1 issuer key sets" || show
: >"$T/cache/reviews/README"
: >"$T/cache/jwks/keep.json"
OUT=$("$CLI" cache clear --config "$CFG" --reviews 2>&1)
RC=$?
pk_check "cache clear --reviews: exit 0" test "$RC" = 0
pk_check "...prints what it removed" grep -qF "$T/cache/reviews: removed 1 TokenReview answers" <<<"$OUT" || echo "$OUT"
pk_check "...no review entry left" test -z "$(ls "$T/cache/reviews" | grep -v '^README$')"
pk_check "...a file not ours stays" test -e "$T/cache/reviews/README"
pk_check "...the keys stay" test "$(ls "$T/cache/jwks" | grep -c '\.json$')" = 2
pk_pam k8s-login ops.alice authenticate <<<"$tok"
pk_check "the next login asks the apiserver again" test "$PK_RC" = 0 -a "$(pk_reviews)" = $((r1 + 1))
OUT=$("$CLI" cache clear --config "$CFG" --jwks 2>&1)
RC=$?
pk_check "cache clear --jwks: exit 0" test "$RC" = 0
pk_check "...names the issuer whose keys it removed" grep -qF "removed 1 issuer key sets: $PK_ISS" <<<"$OUT" || echo "$OUT"
pk_check "...a file not ours stays" test -e "$T/cache/jwks/keep.json"
k2=$(keys)  # status fetched them too, fresh, past the cache
"$CLI" check --config "$CFG" <<<"$otok" >/dev/null
pk_check "the next check fetches the keys again" test "$(keys)" = $((k2 + 1))
OUT=$("$CLI" cache clear --config "$CFG" 2>&1)
RC=$?
pk_check "cache clear (both): exit 0, both named" \
	test "$RC" = 0 -a "$(grep -c 'removed' <<<"$OUT")" = 2
pk_check "...the review cache was already empty, the keys go" grep -qF "removed 1 issuer key sets" <<<"$OUT"
"$CLI" cache clear --config "$T/typo.yaml" >/dev/null 2>"$T/err"
pk_check "cache clear with a configuration error: exit 2 naming the key" \
	test $? = 2 -a -n "$(grep alowRoot "$T/err")"
"$CLI" cache clear --config "$CFG" --bogus >/dev/null 2>&1
pk_check "cache clear --bogus: usage error (exit 2)" test $? = 2
"$CLI" cache --config "$CFG" >/dev/null 2>&1
pk_check "cache without clear: usage error (exit 2)" test $? = 2
pk_check "no token in any output or cache file" pk_no_leak "$tok"

# ---- --help on every command; --config naming a missing file
for c in check users groups forget sync status cache version; do
	h=$("$CLI" "$c" --help 2>/dev/null)
	rc=$?
	pk_check "$c --help: exit 0, usage on stdout" test "$rc" = 0 -a -n "$(grep "^usage: k8s-auth $c" <<<"$h")"
done
h=$("$CLI" --help)
pk_check "k8s-auth --help lists status and cache" test $? = 0 -a -n "$(grep -E '^  status' <<<"$h")" \
	-a -n "$(grep -E '^  cache clear' <<<"$h")"
for c in users groups "forget ops.alice" sync status "cache clear"; do
	# shellcheck disable=SC2086 # the command and its argument
	"$CLI" --config /nonexistent/k8s.yaml $c >"$T/out" 2>"$T/err" </dev/null
	rc=$?
	pk_check "$c --config /nonexistent: exit 2 naming the file" \
		test "$rc" = 2 -a -n "$(cat "$T/out" "$T/err" | grep /nonexistent/k8s.yaml)"
done
K8S_AUTH_CONFIG=/nonexistent/env.yaml "$CLI" users >/dev/null 2>"$T/err"
pk_check "K8S_AUTH_CONFIG naming a missing file: exit 2 naming it" \
	test $? = 2 -a -n "$(grep /nonexistent/env.yaml "$T/err")"

# ---- not root: check says it needs root for the kubeconfig; status warns
OUT=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$CLI" check --config "$CFG" <<<"$tok" 2>"$T/err")
RC=$?
pk_check "non-root check with an unreadable kubeconfig: exit 2" test "$RC" = 2
pk_check "...says only root can read it" grep -q "only root can read the reviewer's credentials" "$T/err" ||
	cat "$T/err"
pk_check "...in the JSON too" jq -e '.authenticated == false and (.detail | test("only root"))' <<<"$OUT" >/dev/null
OUT=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$CLI" status --config "$CFG" 2>/dev/null)
RC=$?
pk_check "non-root status: warns, and the kubeconfig check says why" \
	test "$RC" = 1 -a -n "$(grep '^warn  privileges' <<<"$OUT")" -a \
	-n "$(grep '^fail  kubeconfig: .*only root' <<<"$OUT")"
pk_check "no token in any output or log" pk_no_leak "$tok"

# ---- audiences (issue 10.4): a URL audience is named; the service-account
# issuer the apiserver reports (its discovery document) as an audience fails
st --config "$CFG"
pk_check "the apiserver's service-account issuer is read from its discovery" has ok cluster.issuer "$PK_URL" || show
sed "0,/audiences: \[\"$PK_AUD\"\]/s##audiences: [\"$PK_AUD\", \"https://vault.example.com/aud\"]#" "$CFG" >"$T/urlaud.yaml"
st --config "$T/urlaud.yaml"
pk_check "an https:// audience is warned about" has warn config.audiences "https://vault.example.com/aud" || show
sed -e "0,/audiences: \[\"$PK_AUD\"\]/s##audiences: [\"$PK_AUD\", \"$PK_URL\"]#" \
	-e 's/^policy:$/policy:\n  allowClusterAudiences: true/' "$CFG" >"$T/saaud.yaml"
st --config "$T/saaud.yaml"
pk_check "the cluster's service-account issuer as an audience fails" has fail config.audiences "service-account issuer the apiserver reports" || show
pk_check "...exit 1" test "$RC" = 1 || show

pk_done
