# shellcheck shell=bash
# Helpers for the sync and SubjectAccessReview tests against the real
# apiserver tier (after kubelib.sh's kube_start):
#
#   ks_apply FILE            every object of a YAML manifest, created or
#                            replaced (PUT) as cluster admin
#   ks_apply_json JSON       one object, likewise
#   ks_rolebinding NS NAME KIND ROLE SUBJECT...   create or replace; a
#                            SUBJECT is sa:NS/NAME, user:NAME or group:NAME
#   ks_clusterrolebinding NAME ROLE SUBJECT...
#   ks_delete PATH           DELETE an object (API path)
#   ks_mint_script FILE      a script "FILE NAME AUDIENCE" printing a bound
#                            token for ops/NAME (for K8S_ASKPASS_COMMAND)
#   ks_kill_proxy N PIDVAR   a TCP proxy to the apiserver that forwards N
#                            connections, then SIGKILLs the apiserver at
#                            the next one; sets KS_PROXY_URL

KS_RBAC=/apis/rbac.authorization.k8s.io/v1

# The collection an object goes to.
_ks_path() {
	local kind=$1 ns=$2
	case $kind in
	Namespace) echo /api/v1/namespaces ;;
	ServiceAccount) echo "/api/v1/namespaces/$ns/serviceaccounts" ;;
	Secret) echo "/api/v1/namespaces/$ns/secrets" ;;
	ClusterRole) echo "$KS_RBAC/clusterroles" ;;
	ClusterRoleBinding) echo "$KS_RBAC/clusterrolebindings" ;;
	Role) echo "$KS_RBAC/namespaces/$ns/roles" ;;
	RoleBinding) echo "$KS_RBAC/namespaces/$ns/rolebindings" ;;
	*) return 1 ;;
	esac
}

ks_apply_json() {
	local obj=$1 kind ns name path
	kind=$(jq -r .kind <<<"$obj") && name=$(jq -r .metadata.name <<<"$obj") &&
		ns=$(jq -r '.metadata.namespace // ""' <<<"$obj") && path=$(_ks_path "$kind" "$ns") || {
		echo "ks_apply: cannot place $kind" >&2
		return 1
	}
	kube_api POST "$path" "$obj" >/dev/null 2>&1 ||
		kube_api PUT "$path/$name" "$obj" >/dev/null || {
		echo "ks_apply: $kind $name failed" >&2
		return 1
	}
}

ks_apply() {
	local obj
	python3 -c 'import json, sys, yaml
for d in yaml.safe_load_all(open(sys.argv[1])):
    if d:
        print(json.dumps(d))' "$1" >"$KUBE_DIR/apply.jsonl" || return 1
	while read -r obj; do
		ks_apply_json "$obj" || return 1
	done <"$KUBE_DIR/apply.jsonl"
}

_ks_subjects() {
	local s out=()
	for s in "$@"; do
		case $s in
		sa:*) s=${s#sa:}
			out+=("$(jq -cn --arg ns "${s%%/*}" --arg n "${s#*/}" '{kind: "ServiceAccount", namespace: $ns, name: $n}')") ;;
		user:*) out+=("$(jq -cn --arg n "${s#user:}" '{kind: "User", apiGroup: "rbac.authorization.k8s.io", name: $n}')") ;;
		group:*) out+=("$(jq -cn --arg n "${s#group:}" '{kind: "Group", apiGroup: "rbac.authorization.k8s.io", name: $n}')") ;;
		esac
	done
	printf '%s\n' "${out[@]}" | jq -cs .
}

ks_rolebinding() {
	local ns=$1 name=$2 kind=$3 role=$4
	shift 4
	ks_apply_json "$(jq -cn --arg ns "$ns" --arg n "$name" --arg k "$kind" --arg r "$role" \
		--argjson s "$(_ks_subjects "$@")" \
		'{apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding",
		  metadata: {name: $n, namespace: $ns},
		  roleRef: {apiGroup: "rbac.authorization.k8s.io", kind: $k, name: $r}, subjects: $s}')"
}

ks_clusterrolebinding() {
	local name=$1 role=$2
	shift 2
	ks_apply_json "$(jq -cn --arg n "$name" --arg r "$role" --argjson s "$(_ks_subjects "$@")" \
		'{apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRoleBinding", metadata: {name: $n},
		  roleRef: {apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: $r}, subjects: $s}')"
}

ks_delete() {
	kube_api DELETE "$1" >/dev/null
}

ks_mint_script() {
	cat >"$1" <<EOF
#!/bin/bash
# $1 NAME AUDIENCE: like \`kubectl create token NAME -n ops --audience AUDIENCE\`
curl -sS -m 10 --fail --cacert "$KUBE_DIR/pki/ca.crt" --cert "$KUBE_DIR/pki/admin.crt" \\
	--key "$KUBE_DIR/pki/admin.key" -H 'Content-Type: application/json' \\
	-d "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenRequest\",\"spec\":{\"audiences\":[\"\$2\"],\"expirationSeconds\":600}}" \\
	"$KUBE_URL/api/v1/namespaces/ops/serviceaccounts/\$1/token" | jq -er .status.token
EOF
	chmod 755 "$1"
}

ks_kill_proxy() {
	local n=$1 port_file=$KUBE_DIR/proxy.port i
	rm -f "$port_file"
	python3 - "$port_file" "${KUBE_URL##*:}" "$n" "$KUBE_APISERVER_PID" <<'PY' &
import os, signal, socket, sys, threading
port_file, target, n_ok, victim = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
with open(port_file + ".tmp", "w") as f:
    f.write(str(s.getsockname()[1]))
os.rename(port_file + ".tmp", port_file)

def pump(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    for x in (a, b):
        try:
            x.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

count = 0
while True:
    c, _ = s.accept()
    count += 1
    if count > n_ok:
        try:
            os.kill(victim, signal.SIGKILL)
        except OSError:
            pass
        c.close()
        continue
    u = socket.create_connection(("127.0.0.1", target))
    threading.Thread(target=pump, args=(c, u), daemon=True).start()
    threading.Thread(target=pump, args=(u, c), daemon=True).start()
PY
	KS_PROXY_PID=$!
	for ((i = 0; i < 100; i++)); do
		[ -s "$port_file" ] && break
		sleep 0.05
	done
	KS_PROXY_URL=https://127.0.0.1:$(cat "$port_file")
}
