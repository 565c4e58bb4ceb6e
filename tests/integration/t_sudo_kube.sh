#!/bin/bash
# The sudo story against a real kube-apiserver (tests/kube/kubelib.sh):
# k8s-ssh-askpass mints a bound service-account token for exactly the
# audience pam_k8s's prompt names (TokenRequest, like `kubectl create
# token`), ssh logs in through a real sshd, `sudo -n id -u` is allowed by
# a %k8s-ops rule (system:serviceaccounts:ops -> k8s-ops); then the
# cluster deletes the ServiceAccount and, in the same open session, the
# next sudo is refused: pam_k8s's account step re-validates the session's
# token with a fresh TokenReview.
set -u
cd "$(dirname "$0")/../.." || exit 2
. tests/pam/pamlib.sh
pk_enter_ns "$@"
[ -x /usr/sbin/sshd ] && [ -u /usr/bin/sudo ] || pk_skip "openssh-server or sudo not installed"
[ -x "$PK_ASKPASS" ] || pk_skip "$PK_ASKPASS not built"
ldd "$PK_MOD" | grep -q libasan && pk_skip "sudo is setuid: it cannot preload a sanitizer runtime"
pk_setup
. tests/kube/kubelib.sh
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
cat >/etc/k8s-auth/config.yaml <<EOF
tokenReview:
  kubeconfig: $KUBE_DIR/kubeconfig
  audiences: ["$AUD"]
  timeout: 3s
  cacheTTL: 2m
accounts:
  users:
  - match: '^system:serviceaccount:([a-z0-9-]+):([a-z0-9.-]+)\$'
    local: '\1.\2'
  declared: [ops.alice]
  home: /tmp
  groups:
  - match: '^system:serviceaccounts:ops\$'
    local: k8s-ops
store: /var/lib/k8s-auth
EOF
pk_debian_stack || exit 1
"$PK_CLI" sync >/dev/null || exit 1
awk '/^@include common-account/ { print "account required pam_k8s.so revalidate" } { print }' \
	/etc/pam.d/sudo >"$T/sudo.pam" && cat "$T/sudo.pam" >/etc/pam.d/sudo
mkdir -p "$T/sudoers.d"
printf '%s\n' 'Defaults lecture=never' '%k8s-ops ALL=(ALL:ALL) NOPASSWD: ALL' >"$T/sudoers.d/k8s"
chmod 440 "$T/sudoers.d/k8s"
mount --bind "$T/sudoers.d" /etc/sudoers.d
pk_sshd_start || exit 1
mkdir -m 1777 "$T/shared"

# The client's token source: a TokenRequest for the audience in the prompt.
cat >"$T/mint" <<EOF
#!/bin/bash
# mint AUDIENCE: like \`kubectl create token alice -n ops --audience AUDIENCE --duration 10m\`
curl -sS -m 10 --fail --cacert "$KUBE_DIR/pki/ca.crt" --cert "$KUBE_DIR/pki/admin.crt" \\
	--key "$KUBE_DIR/pki/admin.key" -H 'Content-Type: application/json' \\
	-d "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenRequest\",\"spec\":{\"audiences\":[\"\$1\"],\"expirationSeconds\":600}}" \\
	"$KUBE_URL/api/v1/namespaces/ops/serviceaccounts/alice/token" | jq -er .status.token
EOF
chmod 755 "$T/mint"
export K8S_ASKPASS_COMMAND="$T/mint %a"
uid=$(kube_create_sa ops alice) || exit 1

pk_ssh ops.alice 'id; sudo -n id -u'
pk_check "ssh with a token minted for the prompt's audience by TokenRequest" test "$PK_RC" = 0 ||
	echo "$PK_OUT"
pk_check "id shows k8s-ops" grep -q "(k8s-ops)" <<<"$PK_OUT"
pk_check "sudo -n id -u prints 0" test "$(tail -n 1 <<<"$PK_OUT")" = 0
pk_check "store: ops.alice bound to the ServiceAccount's uid" \
	jq -e --arg u "$uid" '.[] | select(.name == "ops.alice") | .binding == ("tokenreview:uid:" + $u)' \
	<<<"$("$PK_CLI" users --json)"

# One session: sudo, then (after the test deletes the SA) sudo until refused.
rm -f "$T/shared/go" "$T/shared/first"
{
	pk_ssh ops.alice "sudo -n id -u; touch $T/shared/first
		i=0; while [ ! -e $T/shared/go ] && [ \$i -lt 300 ]; do sleep 0.1; i=\$((i + 1)); done
		for i in \$(seq 1 40); do
			sudo -n true 2>/dev/null || { echo REFUSED-after-\$i-tries; exit 0; }
			sleep 1
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
kube_delete_sa ops alice || exit 1
touch "$T/shared/go"
wait "$bg"
pk_check "in the open session, sudo works before the deletion" test "$(head -n 1 "$T/session.out")" = 0
pk_check "after the ServiceAccount is deleted, the same session's next sudo is refused" \
	grep -q REFUSED "$T/session.out" || cat "$T/session.out"
echo "info: $(grep -o 'REFUSED-after-[0-9]*-tries' "$T/session.out") (the apiserver caches authentications ~10 s)"
pk_check "logged: revalidation refused" eval 'pk_new_log | grep -F "revalidation refused" | grep -qF "user=\"ops.alice\""'

# A recreated account of the same name is another identity: no login.
uid2=$(kube_create_sa ops alice) || exit 1
pk_mark_log
pk_ssh ops.alice 'id -u'
pk_check "recreated ServiceAccount (uid $uid2): login refused" test "$PK_RC" != 0
pk_check "logged: identity binding mismatch" eval 'pk_new_log | grep -qF "identity binding mismatch"'
pk_done
