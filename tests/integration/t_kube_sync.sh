#!/bin/bash
# `k8s-auth sync` against a real kube-apiserver (tests/kube/kubelib.sh) and
# a real system in a private mount namespace (tests/pam/pamlib.sh:
# libnss_k8s in nsswitch.conf, the Debian PAM stacks with pam_k8s, a real
# sshd).  A ServiceAccount or user bound to the host-login ClusterRole
# becomes resolvable after sync and can ssh in with a bound token; one
# that is not bound cannot; removed from the binding, it disappears and is
# refused; group subjects become store groups; an idle sync writes
# nothing; the reviewer without list rights, a sync whose apiserver is
# killed halfway, and a stopped apiserver all exit 3 and leave the store
# byte for byte as it was.
set -u
cd "$(dirname "$0")/../.." || exit 2
. tests/pam/pamlib.sh
pk_enter_ns "$@"
[ -x /usr/sbin/sshd ] || pk_skip "openssh-server not installed"
[ -x "$PK_ASKPASS" ] || pk_skip "$PK_ASKPASS not built"
pk_setup
. tests/kube/kubelib.sh
. tests/kube/synclib.sh
if [ -z "${KUBE_APISERVER:-}" ]; then
	KUBE_APISERVER=$(tests/kube/build-apiserver.sh 2>/dev/null) || pk_skip "no kube-apiserver binary"
	export KUBE_APISERVER
fi
kube_start || {
	pk_fail "kube_start"
	pk_done
}
pk_system_install
AUD=host-login:kube
PK_SSH_HOST=kube  # pk_ssh connects by the name the audience uses
CFG=/etc/k8s-auth/config.yaml
STORE=/var/lib/k8s-auth

# The reviewer as docs/rbac-reviewer.yaml says; the permission hosts grant.
ks_apply docs/rbac-reviewer.yaml || exit 1
ks_apply_json '{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
  "metadata": {"name": "host-login"},
  "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["login"]}]}' || exit 1
for n in alice bob carol; do kube_create_sa ops "$n" >/dev/null || exit 1; done
cp "$KUBE_DIR/kubeconfig" /etc/k8s-auth/kubeconfig
chmod 600 /etc/k8s-auth/kubeconfig

write_config() { # FILE KUBECONFIG [SYNC EXTRA]
	cat >"$1" <<EOF
tokenReview:
  kubeconfig: $2
  audiences: ["$AUD"]
  timeout: 3s
  cacheTTL: 0
accounts:
  users:
  - match: '^system:serviceaccount:([a-z0-9-]+):([a-z0-9.-]+)\$'
    local: '\1.\2'
  - match: '^([a-z][a-z0-9_-]*)@example\.com\$'
    local: '\1'
  home: /tmp
  groups:
  - match: '^system:serviceaccounts:ops\$'
    local: k8s-ops
  - match: '^oidc:team-(.*)\$'
    local: 'k8s-\1'
sync:
  namespaces: [ops]
  clusterRoles: [host-login]
  timeout: 5s
${3:-}
store: $STORE
runDir: /run/k8s-auth
cacheDir: $T/cache
EOF
	chmod 644 "$1"
}
write_config "$CFG" /etc/k8s-auth/kubeconfig
pk_debian_stack || exit 1
pk_sshd_start || exit 1
ks_mint_script "$T/mint"
# The askpass command mints for whoever $T/who names.
printf '#!/bin/bash\nexec %s "$(cat %s)" "$1"\n' "$T/mint" "$T/who" >"$T/mint-who"
chmod 755 "$T/mint-who"
export K8S_ASKPASS_COMMAND="$T/mint-who %a"

ssh_as() { # NAME: ssh in as ops.NAME with NAME's token; PK_RC, PK_OUT
	echo "$1" >"$T/who"
	pk_ssh "ops.$1" 'id -un; id -Gn'
}
sync_run() { # [ARGS...]: SYNC_OUT, SYNC_ERR, SYNC_RC
	SYNC_OUT=$("$PK_CLI" sync "$@" 2>"$T/sync.err")
	SYNC_RC=$?
	SYNC_ERR=$(cat "$T/sync.err")
}
store_sum() {
	(cd "$STORE" && sha256sum -- * 2>/dev/null) | sha256sum | cut -c1-16
}
resolves() { getent passwd "$1" >/dev/null; }

ks_rolebinding ops host-login ClusterRole host-login sa:ops/alice user:dave@example.com \
	group:oidc:team-db || exit 1
ks_clusterrolebinding host-login-erin host-login user:erin@example.com || exit 1
ks_clusterrolebinding view-frank view user:frank@example.com || exit 1

# ---- before any sync: nobody
pk_check "before sync: ops.alice does not resolve" eval '! resolves ops.alice'
ssh_as alice
pk_check "before sync: ops.alice cannot ssh in (sshd: no such user)" test "$PK_RC" != 0

# ---- dry run
sync_run --dry-run
pk_check "dry run: exit 0" test "$SYNC_RC" = 0 || echo "$SYNC_ERR"
pk_check "dry run: prints the accounts it would add" \
	eval 'grep -q "^+ account ops.alice uid" <<<"$SYNC_OUT" && grep -q "^+ account dave uid" <<<"$SYNC_OUT"'
pk_check "dry run: and the group" grep -q "^+ group k8s-db gid" <<<"$SYNC_OUT"
pk_check "dry run: writes nothing" eval '[ -z "$(ls -A $STORE)" ] || [ ! -e $STORE/identities.db ]'
pk_check "dry run: still unresolvable" eval '! resolves ops.alice'

# ---- sync: the bound identities become resolvable at once
sync_run
pk_check "sync: exit 0" test "$SYNC_RC" = 0 || echo "$SYNC_ERR"
echo "$SYNC_OUT" | sed 's/^/    /'
for u in ops.alice dave erin; do
	pk_check "after sync: $u resolves (getent passwd through libnss_k8s)" resolves "$u"
done
pk_check "after sync: the RoleBinding's Group subject is a store group (k8s-db)" \
	eval 'getent group k8s-db >/dev/null'
pk_check "ops.alice is in k8s-ops before her first login (a ServiceAccount's groups are known)" \
	eval 'id -Gn ops.alice | grep -qw k8s-ops'
pk_check "ops.bob (not bound) does not resolve" eval '! resolves ops.bob'
pk_check "frank (bound to another role) does not resolve" eval '! resolves frank'
pk_check "k8s-auth users shows ops.alice as synced" eval \
	'"$PK_CLI" users --json | jq -e ".[] | select(.name == \"ops.alice\") | .sources | index(\"synced\") != null" >/dev/null'

# ---- ssh in with a bound token
ssh_as alice
pk_check "ops.alice: ssh in with a TokenRequest token" test "$PK_RC" = 0 || echo "$PK_OUT"
pk_check "ops.alice: the session runs as ops.alice, in k8s-ops" \
	eval '[ "$(head -n 1 <<<"$PK_OUT")" = ops.alice ] && grep -qw k8s-ops <<<"$PK_OUT"'
ssh_as bob
pk_check "ops.bob: a valid token, but not bound: no ssh" test "$PK_RC" != 0

# ---- idempotent: a second run changes nothing, not even the generation
sum=$(store_sum)
sync_run
pk_check "second sync: exit 0, nothing to change" \
	eval '[ "$SYNC_RC" = 0 ] && grep -q "accounts +0 -0 ~0, groups +0 -0 ~0" <<<"$SYNC_OUT" && grep -q unchanged <<<"$SYNC_OUT"'
pk_check "second sync: store files byte-identical" test "$(store_sum)" = "$sum"

# ---- bob added to the binding
ks_rolebinding ops host-login ClusterRole host-login sa:ops/alice sa:ops/bob user:dave@example.com \
	group:oidc:team-db || exit 1
sync_run
pk_check "bob added: sync reports + ops.bob" grep -q "^+ account ops.bob" <<<"$SYNC_OUT"
pk_check "bob added: ops.bob resolves" resolves ops.bob
ssh_as bob
pk_check "bob added: ops.bob can ssh in" test "$PK_RC" = 0 || echo "$PK_OUT"

# ---- alice removed from the binding (she has logged in: that keeps nothing)
ks_rolebinding ops host-login ClusterRole host-login sa:ops/bob user:dave@example.com || exit 1
sync_run
pk_check "alice removed: sync reports - ops.alice" grep -q "^- account ops.alice" <<<"$SYNC_OUT"
pk_check "alice removed: the group subject gone, k8s-db goes" grep -q "^- group k8s-db" <<<"$SYNC_OUT"
pk_check "alice removed: ops.alice no longer resolves" eval '! resolves ops.alice'
pk_check "alice removed: k8s-db no longer resolves" eval '! getent group k8s-db >/dev/null'
ssh_as alice
pk_check "alice removed: her valid token no longer gets her in" test "$PK_RC" != 0
pk_check "bob stays" resolves ops.bob

# ---- more than one page's worth: 1234 ServiceAccounts (limit=500), another store
kube_api POST /api/v1/namespaces '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"bulk"}}' \
	>/dev/null || exit 1
python3 tests/kube/bulk.py "$KUBE_DIR" "$KUBE_URL" sas bulk sa 1234 >/dev/null || exit 1
mkdir -p "$T/bulkstore"
write_config "$T/bulk.yaml" /etc/k8s-auth/kubeconfig "  serviceAccounts: true"
sed -i -e 's/namespaces: \[ops\]/namespaces: [bulk]/' -e "s#^store: .*#store: $T/bulkstore#" "$T/bulk.yaml"
SYNC_OUT=$("$PK_CLI" --config "$T/bulk.yaml" sync 2>"$T/sync.err")
SYNC_RC=$?
pk_check "1234 ServiceAccounts: exit 0" test "$SYNC_RC" = 0 || cat "$T/sync.err"
# resourceVersion=0: the watch cache answers each list whole (limit= is
# not applied to it), so 1234 ServiceAccounts are one request, not 3 pages
pk_check "  3 requests: bindings, rolebindings, serviceaccounts (resourceVersion=0, one answer each)" \
	grep -q "accounts granted; 3 requests" <<<"$SYNC_OUT" || echo "$SYNC_OUT" | tail -n 2
pk_check "  every one of them is an account" \
	test "$("$PK_CLI" --config "$T/bulk.yaml" users --json | jq '[.[] | select(.name | startswith("bulk.sa-"))] | length')" = 1234
pk_check "  the first and the last" eval '"$PK_CLI" --config "$T/bulk.yaml" users --json |
	jq -e "[.[].name] | index(\"bulk.sa-00000\") != null and index(\"bulk.sa-01233\") != null" >/dev/null'

# ---- a reviewer that may not list: exit 3, nothing written
kube_create_sa kube-system powerless >/dev/null || exit 1
kube_write_kubeconfig "$T/powerless.kubeconfig" "$(kube_mint kube-system powerless "" 3600)"
write_config "$T/powerless.yaml" "$T/powerless.kubeconfig"
ks_delete "$KS_RBAC/namespaces/ops/rolebindings/host-login" || exit 1 # a full sync would remove bob
sum=$(store_sum)
SYNC_OUT=$("$PK_CLI" --config "$T/powerless.yaml" sync 2>"$T/sync.err")
SYNC_RC=$?
pk_check "reviewer without list rights: exit 3" test "$SYNC_RC" = 3 || cat "$T/sync.err"
pk_check "  says which list was refused" grep -q "reviewer may not list .*clusterrolebindings (403)" "$T/sync.err"
pk_check "  store unchanged" test "$(store_sum)" = "$sum"

# ---- the apiserver is killed halfway: after the roles, at the bindings
write_config "$T/proxied.yaml" "$T/proxied.kubeconfig" "  rules: [{verb: login, resource: nodes}]"
ks_kill_proxy 2
kube_write_kubeconfig "$T/proxied.kubeconfig" "$KUBE_REVIEWER_TOKEN" "$KS_PROXY_URL"
SYNC_OUT=$("$PK_CLI" --config "$T/proxied.yaml" sync 2>"$T/sync.err")
SYNC_RC=$?
pk_check "apiserver killed mid-sync (2 lists read, then gone): exit 3" test "$SYNC_RC" = 3 ||
	cat "$T/sync.err"
pk_check "  it failed at the third list (clusterrolebindings)" grep -q clusterrolebindings "$T/sync.err"
pk_check "  the apiserver really is gone" eval '! curl -s -m 2 --cacert "$KUBE_CA" "$KUBE_URL/readyz" >/dev/null'
pk_check "  store byte-identical" test "$(store_sum)" = "$sum"
pk_check "  ops.bob, whom a full sync would have removed, still resolves" resolves ops.bob
kill "$KS_PROXY_PID" 2>/dev/null
wait "$KS_PROXY_PID" 2>/dev/null

# ---- the apiserver stays down
sync_run
pk_check "apiserver down: exit 3" test "$SYNC_RC" = 3
pk_check "  store byte-identical" test "$(store_sum)" = "$sum"
sync_run --dry-run
pk_check "apiserver down, dry run: exit 3" test "$SYNC_RC" = 3
pk_done
