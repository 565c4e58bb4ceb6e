#!/bin/bash
# SubjectAccessReview at login and at sudo re-validation, against a real
# kube-apiserver whose RBAC authorizer answers (tests/kube/kubelib.sh),
# with real sshd and real sudo in a private mount namespace
# (tests/pam/pamlib.sh).  login.subjectAccessReview asks "may this
# identity log into THIS host" (verb login on hosts.pam-k8s.io named %h, in
# namespace ops); login.sudoSubjectAccessReview asks the same with verb
# sudo.  A valid token whose identity the cluster does not allow is
# refused; revoking the RoleBinding ends sudo in an open session at the
# next attempt, and new logins; a reviewer that may not ask is "unavailable"
# (exit 3), still a refusal.
set -u
cd "$(dirname "$0")/../.." || exit 2
. tests/pam/pamlib.sh
pk_enter_ns "$@"
[ -x /usr/sbin/sshd ] && [ -u /usr/bin/sudo ] || pk_skip "openssh-server or sudo not installed"
[ -x "$PK_ASKPASS" ] || pk_skip "$PK_ASKPASS not built"
# sudo is setuid: it cannot preload a sanitizer runtime, so an ASan build
# runs everything but the sudo steps.
SUDO=1
ldd "$PK_MOD" | grep -q libasan && SUDO=0
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
HOST=$(hostname)
CFG=/etc/k8s-auth/config.yaml

ks_apply docs/rbac-reviewer.yaml || exit 1
for n in alice bob carol; do kube_create_sa ops "$n" >/dev/null || exit 1; done
role() { # NAME VERB [RESOURCE NAME]
	ks_apply_json "$(jq -cn --arg n "$1" --arg v "$2" --arg r "${3:-}" '{apiVersion: "rbac.authorization.k8s.io/v1",
		kind: "Role", metadata: {name: $n, namespace: "ops"},
		rules: [{apiGroups: ["pam-k8s.io"], resources: ["hosts"], verbs: [$v]}
			+ (if $r == "" then {} else {resourceNames: [$r]} end)]}')"
}
role host-login login "$HOST" && role host-sudo sudo && role other-host-login login some-other-host || exit 1
ks_rolebinding ops login Role host-login sa:ops/alice sa:ops/bob || exit 1
ks_rolebinding ops sudo-alice Role host-sudo sa:ops/alice || exit 1
ks_rolebinding ops login-elsewhere Role other-host-login sa:ops/carol || exit 1

cp "$KUBE_DIR/kubeconfig" /etc/k8s-auth/kubeconfig
chmod 600 /etc/k8s-auth/kubeconfig
write_config() { # FILE KUBECONFIG
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
  declared: [ops.alice, ops.bob, ops.carol]
  home: /tmp
  groups:
  - match: '^system:serviceaccounts:ops\$'
    local: k8s-ops
login:
  subjectAccessReview: {namespace: ops, group: pam-k8s.io, resource: hosts, verb: login, name: "%h"}
  sudoSubjectAccessReview: {namespace: ops, group: pam-k8s.io, resource: hosts, verb: sudo, name: "%h"}
store: /var/lib/k8s-auth
runDir: /run/k8s-auth
cacheDir: $T/cache
EOF
	chmod 644 "$1"
}
write_config "$CFG" /etc/k8s-auth/kubeconfig
"$PK_CLI" sync >/dev/null || exit 1

check() { # WANT_RC NAME [CONFIG]: k8s-auth check with NAME's token
	local tok
	tok=$(kube_mint ops "$2" "$AUD") || return 1
	CHECK_OUT=$("$PK_CLI" check --config "${3:-$CFG}" <<<"$tok" 2>"$T/check.err")
	CHECK_RC=$?
	[ "$CHECK_RC" = "$1" ] || { echo "    rc $CHECK_RC: $CHECK_OUT $(cat "$T/check.err")"; return 1; }
}

jqt() { jq -e "$1" <<<"$CHECK_OUT" >/dev/null; }

# ---- k8s-auth check shows the cluster's verdict
pk_check "check: ops.alice (RoleBinding login -> Role host-login for $HOST): accepted" check 0 alice
pk_check "check: ops.carol (allowed on some-other-host only): refused, exit 1" check 1 carol
pk_check "  reason: not allowed by the cluster" jqt '.authenticated == false and
	.reason == "not allowed by the cluster" and .username == "system:serviceaccount:ops:carol"'

# A reviewer that may review tokens but not ask SubjectAccessReviews.
ks_apply_json '{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
  "metadata": {"name": "tokenreviews-only"},
  "rules": [{"apiGroups": ["authentication.k8s.io"], "resources": ["tokenreviews"], "verbs": ["create"]}]}' || exit 1
kube_create_sa kube-system tronly >/dev/null || exit 1
ks_clusterrolebinding tokenreviews-only tokenreviews-only sa:kube-system/tronly || exit 1
kube_write_kubeconfig "$T/tronly.kubeconfig" "$(kube_mint kube-system tronly "" 3600)"
write_config "$T/tronly.yaml" "$T/tronly.kubeconfig"
pk_check "check: reviewer without create subjectaccessreviews: exit 3 (unavailable, refused)" \
	check 3 alice "$T/tronly.yaml"
pk_check "  reason names the missing permission" \
	jqt '.reason == "reviewer may not create subjectaccessreviews (403)"'

# ---- real sshd and sudo
pk_debian_stack || exit 1
awk '/^@include common-account/ { print "account required pam_k8s.so revalidate" } { print }' \
	/etc/pam.d/sudo >"$T/sudo.pam" && cat "$T/sudo.pam" >/etc/pam.d/sudo
mkdir -p "$T/sudoers.d"
printf '%s\n' 'Defaults lecture=never' '%k8s-ops ALL=(ALL:ALL) NOPASSWD: ALL' >"$T/sudoers.d/k8s"
chmod 440 "$T/sudoers.d/k8s"
mount --bind "$T/sudoers.d" /etc/sudoers.d
pk_sshd_start || exit 1
ks_mint_script "$T/mint"
printf '#!/bin/bash\nexec %s "$(cat %s)" "$1"\n' "$T/mint" "$T/who" >"$T/mint-who"
chmod 755 "$T/mint-who"
export K8S_ASKPASS_COMMAND="$T/mint-who %a"
ssh_as() { # NAME CMD
	echo "$1" >"$T/who"
	pk_ssh "ops.$1" "$2"
}

ssh_as alice 'id -un'
pk_check "ssh ops.alice (allowed to log in): in" test "$PK_RC" = 0 -a "$PK_OUT" = ops.alice || echo "$PK_OUT"
pk_mark_log
ssh_as carol 'id -un'
pk_check "ssh ops.carol (valid token, not allowed on this host): refused" test "$PK_RC" != 0
pk_check "  logged: not allowed by the cluster" eval 'pk_new_log | grep -q "reason=\"not allowed by the cluster\""'
if [ "$SUDO" = 0 ]; then
	echo "info: sanitizer build: the sudo steps are skipped (sudo is setuid)"
	pk_done
fi

ssh_as alice 'id -un; sudo -n id -u'
pk_check "ops.alice (allowed to sudo): sudo -n id -u prints 0" test "$(tail -n 1 <<<"$PK_OUT")" = 0
pk_mark_log
ssh_as bob 'id -un; sudo -n id -u'
pk_check "ssh ops.bob (may log in, no sudo binding): in" test "$(head -n 1 <<<"$PK_OUT")" = ops.bob
pk_check "  but sudo is refused though k8s-ops would allow it" test "$(tail -n 1 <<<"$PK_OUT")" != 0
pk_check "  by the cluster's answer" eval 'pk_new_log | grep "revalidation refused" |
	grep "user=\"ops.bob\"" | grep -q "not allowed by the cluster"'

# ---- the RoleBinding is revoked while alice's session is open
mkdir -m 1777 -p "$T/shared"
rm -f "$T/shared/go" "$T/shared/first"
{
	ssh_as alice "sudo -n id -u; touch $T/shared/first
		i=0; while [ ! -e $T/shared/go ] && [ \$i -lt 300 ]; do sleep 0.1; i=\$((i + 1)); done
		for i in \$(seq 1 20); do
			sudo -n true 2>/dev/null || { echo REFUSED-after-\$i-tries; exit 0; }
			sleep 0.5
		done
		echo STILL-ALLOWED"
	printf '%s\n' "$PK_OUT" >"$T/session.out"
} &
bg=$!
for ((i = 0; i < 200; i++)); do
	[ -e "$T/shared/first" ] && break
	sleep 0.1
done
pk_mark_log
ks_delete "$KS_RBAC/namespaces/ops/rolebindings/sudo-alice" || exit 1
touch "$T/shared/go"
wait "$bg"
pk_check "open session: sudo works before the revocation" test "$(head -n 1 "$T/session.out")" = 0
pk_check "open session: after the RoleBinding is deleted, the next sudo is refused" \
	grep -q REFUSED "$T/session.out" || cat "$T/session.out"
echo "info: $(grep -o 'REFUSED-after-[0-9]*-tries' "$T/session.out") (0.5 s apart; RBAC's informer lags a moment)"
pk_check "  logged: revalidation refused, not allowed by the cluster" \
	eval 'pk_new_log | grep "revalidation refused" | grep -q "not allowed by the cluster"'

# ---- the login binding is revoked: no new logins
ks_delete "$KS_RBAC/namespaces/ops/rolebindings/login" || exit 1
for ((i = 0; i < 20; i++)); do
	check 1 alice >/dev/null 2>&1 && break
	sleep 0.5
done
ssh_as alice 'id -un'
pk_check "login RoleBinding deleted: ssh ops.alice refused" test "$PK_RC" != 0

pk_done
