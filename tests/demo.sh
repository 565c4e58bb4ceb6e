#!/bin/bash
# make demo: the whole story on a self-contained local default.
#
# A local test cluster (tests/fakecluster: a real TLS server speaking the
# TokenReview, TokenRequest and OIDC discovery contracts) mints a bound
# service-account token; `k8s-auth check` accepts it; a real PAM stack
# (pamtester) logs ops.alice in with it; the store pam_k8s wrote is served
# by libnss_k8s to getent and id; a wrong token is refused with its reason.
# Everything happens in a private mount namespace and a temp dir: the
# host's PAM, NSS, /etc/k8s-auth and store are never touched.
set -u
REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO" || exit 2
if [ "$(id -u)" != 0 ]; then
	echo "make demo needs root (private mount namespace; apt-get for its packages)" >&2
	exit 2
fi
if [ "${PK_IN_NS:-}" != 1 ]; then
	PK_IN_NS=1 exec unshare --mount --propagation private bash "$0" "$@"
fi
. tests/pam/pamlib.sh
. tests/lib.sh
BIN=$REPO/build/k8s-auth
if [ -t 1 ]; then B=$'\033[1m'; N=$'\033[0m'; else B=; N=; fi
step() { printf '\n%s== %s%s\n' "$B" "$*" "$N"; }
show() { printf '$ %s\n' "$*"; }

pk_setup
pk_system_install
fc_start
AUD="host-login:$(hostname)"

step "1. The cluster side: a workload's service account, and a token minted for this host"
show "POST $FC_URL/api/v1/namespaces/ops/serviceaccounts   (alice)"
curl -sS --cacert "$FC_CA" -H @"$FC_HDR_ADMIN" -H 'Content-Type: application/json' \
	-d '{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"alice","namespace":"ops"}}' \
	"$FC_URL/api/v1/namespaces/ops/serviceaccounts" | jq -c '{name: .metadata.name, uid: .metadata.uid}'
show "POST .../serviceaccounts/alice/token   {audiences: [\"$AUD\"], expirationSeconds: 600}"
curl -sS --cacert "$FC_CA" -H @"$FC_HDR_ADMIN" -H 'Content-Type: application/json' \
	-d "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenRequest\",\"spec\":{\"audiences\":[\"$AUD\"],\"expirationSeconds\":600}}" \
	"$FC_URL/api/v1/namespaces/ops/serviceaccounts/alice/token" | jq -r .status.token > "$T/token"
chmod 600 "$T/token"
echo "token: $(wc -c < "$T/token") bytes (not shown); its claims:"
cut -d. -f2 "$T/token" | tr '_-' '/+' | base64 -d 2>/dev/null | jq -c '{iss, sub, aud, exp, "kubernetes.io"}' || true

step "2. The host's configuration (/etc/k8s-auth/config.yaml, here in a temp dir)"
cat > /etc/k8s-auth/config.yaml <<EOC
tokenReview:
  kubeconfig: $FC_DIR/kubeconfig
  audiences: ["host-login:%h"]
  timeout: 5s
  cacheTTL: 0
accounts:
  users:
  - match: '^system:serviceaccount:([a-z0-9-]+):([a-z0-9.-]+)\$'
    local: '\1.\2'
  declared: [ops.alice]
  groups:
  - match: '^system:serviceaccounts:ops\$'
    local: k8s-ops
store: /var/lib/k8s-auth
cacheDir: $T/cache
runDir: $T/run
EOC
chmod 644 /etc/k8s-auth/config.yaml
sed 's/^/    /' /etc/k8s-auth/config.yaml | grep -v '^    *$'
export K8S_AUTH_CONFIG=/etc/k8s-auth/config.yaml

step "3. k8s-auth check: what the PAM module would decide (writes nothing)"
show "k8s-auth check --user ops.alice < token"
"$BIN" check --user ops.alice < "$T/token"; echo "exit $?"

step "4. Declared accounts resolve before the first login (sshd needs that)"
show "k8s-auth sync"; "$BIN" sync
show "getent passwd ops.alice"; getent passwd ops.alice

step "5. A real PAM stack logs ops.alice in with the token"
pk_stack k8s-demo "auth required $PK_MOD config=/etc/k8s-auth/config.yaml" \
	"account required $PK_MOD config=/etc/k8s-auth/config.yaml" \
	"session required $PK_MOD config=/etc/k8s-auth/config.yaml"
cat /etc/pam.d/k8s-demo | sed 's/^/    /'
show "pamtester k8s-demo ops.alice authenticate acct_mgmt open_session close_session < token"
pamtester -v k8s-demo ops.alice authenticate acct_mgmt open_session close_session < "$T/token" 2>&1 | sed 's/^/    /'
pk_log_sync
echo "syslog:"; grep -a pam_k8s "$T/syslog" | sed 's/^/    /' | cut -c1-400

step "6. NSS: every process now sees the account and its mapped groups"
show "getent passwd ops.alice"; getent passwd ops.alice
show "id ops.alice"; id ops.alice
show "getent group k8s-ops"; getent group k8s-ops
show "k8s-auth users"; "$BIN" users

step "7. Refusals, with the reason"
bad=$(fc_mint --sa ops/alice --aud host-login:some-other-host --ttl 600)
show "k8s-auth check --user ops.alice < token-for-another-host"
"$BIN" check --user ops.alice <<<"$bad" | jq -c '{authenticated, reason, username}'; echo "exit ${PIPESTATUS[0]}"
show "pamtester k8s-demo ops.alice authenticate < token-for-another-host"
pamtester k8s-demo ops.alice authenticate <<<"$bad" 2>&1 | sed 's/^/    /'
show "k8s-auth check < bootstrap-shaped token"
"$BIN" check <<<"abcdef.0123456789abcdef" | jq -c '{authenticated, reason}'
pk_log_sync
echo "syslog (the refusal):"; grep -a 'pam_k8s' "$T/syslog" | tail -n 2 | sed 's/^/    /' | cut -c1-400
step "Done: nothing on this host was changed (private mount namespace, temp dirs)."
