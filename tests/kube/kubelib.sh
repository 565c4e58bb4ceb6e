# shellcheck shell=bash
# A real, throw-away Kubernetes control plane for tests: etcd plus Debian's
# kube-apiserver (built once by build-apiserver.sh), both on 127.0.0.1 with
# random free ports, a private test CA and service-account signing key.
#
#   . tests/kube/kubelib.sh
#   kube_start || exit 77   # 77 = skip: no apiserver could be built/started
#   tok=$(kube_mint ops alice host-login:test)
#
# Source it from the test's main shell (not from a $(...) subshell): the
# servers die with the shell that started them (PR_SET_PDEATHSIG), and an
# EXIT trap stops them and removes $KUBE_DIR.
#
# After kube_start:
#   KUBE_URL        https://127.0.0.1:PORT, also the service-account issuer
#   KUBE_CA         PEM file of the test CA (serving and client certs)
#   KUBE_DIR        private temp dir: keys, logs, kubeconfig
#   KUBE_DIR/kubeconfig  reviewer kubeconfig (kubectl layout, token user)
#   KUBE_REVIEWER_TOKEN  the reviewer's token (in the kubeconfig too)
#   KUBE_APISERVER_PID, KUBE_ETCD_PID
#   KUBE_START_SECONDS   wall time from launching the apiserver to /readyz ok
# Cluster contents: namespace `ops`; ServiceAccount kube-system/k8s-auth-reviewer
# allowed to create tokenreviews and subjectaccessreviews; OIDC discovery and
# JWKS readable anonymously.
#
# Environment: KUBE_APISERVER (binary to use instead of the cached build),
# KUBE_KEEP=1 (keep $KUBE_DIR after stop, for post-mortems),
# KUBE_SA_KEY=rsa|ec (service-account signing key type, default rsa),
# KUBE_APISERVER_EXTRA (bash array: more apiserver flags, e.g. --oidc-*).

KUBE_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KUBE_REVIEWER_NS=kube-system
KUBE_REVIEWER_SA=k8s-auth-reviewer

_kube_log() {
	echo "kubelib: $*" >&2
}

# A TCP port nobody listens on right now.  Racy by nature; kube_start
# retries a launch that fails to bind.
_kube_free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# Test PKI: CA, apiserver serving cert for 127.0.0.1, an admin client cert
# in system:masters, and the service-account signing key.
_kube_make_pki() {
	local d=$KUBE_DIR/pki
	mkdir -p "$d"
	(
		set -e
		cd "$d"
		openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt \
			-days 2 -subj "/CN=pam-k8s-test-ca" \
			-addext "basicConstraints=critical,CA:TRUE" \
			-addext "keyUsage=critical,keyCertSign,cRLSign"
		openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr \
			-subj "/CN=kube-apiserver"
		printf '%s\n' "basicConstraints=CA:FALSE" \
			"keyUsage=critical,digitalSignature,keyEncipherment" \
			"extendedKeyUsage=serverAuth" \
			"subjectAltName=IP:127.0.0.1,DNS:localhost" >server.ext
		openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
			-days 2 -extfile server.ext -out server.crt
		openssl req -newkey rsa:2048 -nodes -keyout admin.key -out admin.csr \
			-subj "/O=system:masters/CN=kubelib-admin"
		printf '%s\n' "basicConstraints=CA:FALSE" \
			"keyUsage=critical,digitalSignature,keyEncipherment" \
			"extendedKeyUsage=clientAuth" >client.ext
		openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
			-days 2 -extfile client.ext -out admin.crt
		if [ "${KUBE_SA_KEY:-rsa}" = ec ]; then
			openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out sa.key
		else
			openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out sa.key
		fi
		openssl pkey -in sa.key -pubout -out sa.pub
		chmod 0600 ./*.key
	) >"$KUBE_DIR/pki.log" 2>&1 || {
		cat "$KUBE_DIR/pki.log" >&2
		_kube_log "making the test PKI failed"
		return 1
	}
	KUBE_CA=$d/ca.crt
}

_kube_apiserver_binary() {
	if [ -n "${KUBE_APISERVER:-}" ]; then
		printf '%s\n' "$KUBE_APISERVER"
		return 0
	fi
	"$KUBE_LIB_DIR/build-apiserver.sh"
}

# Start etcd; sets KUBE_ETCD_URL and KUBE_ETCD_PID.
_kube_start_etcd() {
	local cport pport i
	cport=$(_kube_free_port) && pport=$(_kube_free_port) || return 1
	KUBE_ETCD_URL=http://127.0.0.1:$cport
	setpriv --pdeathsig TERM -- etcd --name kubelib \
		--data-dir "$KUBE_DIR/etcd" \
		--listen-client-urls "$KUBE_ETCD_URL" \
		--advertise-client-urls "$KUBE_ETCD_URL" \
		--listen-peer-urls "http://127.0.0.1:$pport" \
		--initial-advertise-peer-urls "http://127.0.0.1:$pport" \
		--initial-cluster "kubelib=http://127.0.0.1:$pport" \
		--log-level warn >"$KUBE_DIR/etcd.log" 2>&1 &
	KUBE_ETCD_PID=$!
	for ((i = 0; i < 200; i++)); do
		if curl -sf -m 2 "$KUBE_ETCD_URL/health" 2>/dev/null | grep -q '"health":"true"'; then
			return 0
		fi
		kill -0 "$KUBE_ETCD_PID" 2>/dev/null || break
		sleep 0.1
	done
	_kube_log "etcd did not become healthy; last lines of $KUBE_DIR/etcd.log:"
	tail -n 20 "$KUBE_DIR/etcd.log" >&2
	return 1
}

# Start the apiserver on a fresh port; sets KUBE_URL, KUBE_APISERVER_PID.
# Returns 2 if it died early (port race: worth retrying), 1 otherwise.
_kube_start_apiserver() {
	local bin=$1 port pki=$KUBE_DIR/pki i t0 t1
	port=$(_kube_free_port) || return 1
	KUBE_URL=https://127.0.0.1:$port
	t0=$(date +%s.%N)
	setpriv --pdeathsig TERM -- "$bin" \
		--etcd-servers="$KUBE_ETCD_URL" \
		--bind-address=127.0.0.1 --advertise-address=127.0.0.1 \
		--secure-port="$port" --insecure-port=0 \
		--cert-dir="$KUBE_DIR/certs" \
		--tls-cert-file="$pki/server.crt" --tls-private-key-file="$pki/server.key" \
		--client-ca-file="$pki/ca.crt" \
		--service-account-issuer="$KUBE_URL" \
		--service-account-key-file="$pki/sa.pub" \
		--service-account-signing-key-file="$pki/sa.key" \
		--api-audiences="$KUBE_URL" \
		--authorization-mode=RBAC --anonymous-auth=true \
		--service-cluster-ip-range=10.96.0.0/16 \
		--profiling=false --logtostderr=true --v=1 \
		${KUBE_APISERVER_EXTRA[@]+"${KUBE_APISERVER_EXTRA[@]}"} \
		>"$KUBE_DIR/apiserver${KUBE_APISERVER_LOG_SUFFIX:-}.log" 2>&1 &
	KUBE_APISERVER_PID=$!
	for ((i = 0; i < 600; i++)); do
		if [ "$(curl -s -m 2 --cacert "$pki/ca.crt" "$KUBE_URL/readyz" 2>/dev/null)" = ok ]; then
			t1=$(date +%s.%N)
			KUBE_START_SECONDS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
			return 0
		fi
		if ! kill -0 "$KUBE_APISERVER_PID" 2>/dev/null; then
			_kube_log "kube-apiserver exited; last lines of $KUBE_DIR/apiserver${KUBE_APISERVER_LOG_SUFFIX:-}.log:"
			tail -n 20 "$KUBE_DIR/apiserver${KUBE_APISERVER_LOG_SUFFIX:-}.log" >&2
			return 2
		fi
		sleep 0.1
	done
	_kube_log "kube-apiserver not ready after 60s; last lines of $KUBE_DIR/apiserver${KUBE_APISERVER_LOG_SUFFIX:-}.log:"
	tail -n 20 "$KUBE_DIR/apiserver${KUBE_APISERVER_LOG_SUFFIX:-}.log" >&2
	return 1
}

# kube_api METHOD PATH [JSON]: the apiserver as cluster admin (client cert).
# Prints the response body; fails on any HTTP status >= 400.
kube_api() {
	local method=$1 path=$2 body=${3-}
	local args=(-sS -m 20 --fail-with-body --cacert "$KUBE_DIR/pki/ca.crt"
		--cert "$KUBE_DIR/pki/admin.crt" --key "$KUBE_DIR/pki/admin.key"
		-X "$method" -H 'Accept: application/json')
	if [ -n "$body" ]; then
		args+=(-H 'Content-Type: application/json' --data-binary @-)
	fi
	printf '%s' "$body" | curl "${args[@]}" "$KUBE_URL$path"
}

# kube_create_sa NS NAME: create a ServiceAccount; prints its metadata.uid.
kube_create_sa() {
	local ns=$1 name=$2 out
	out=$(kube_api POST "/api/v1/namespaces/$ns/serviceaccounts" \
		"$(jq -cn --arg n "$name" '{apiVersion: "v1", kind: "ServiceAccount", metadata: {name: $n}}')") || {
		_kube_log "creating serviceaccount $ns/$name failed: $out"
		return 1
	}
	jq -er .metadata.uid <<<"$out"
}

# kube_sa_uid NS NAME: prints the ServiceAccount's metadata.uid.
kube_sa_uid() {
	kube_api GET "/api/v1/namespaces/$1/serviceaccounts/$2" | jq -er .metadata.uid
}

# kube_delete_sa NS NAME
kube_delete_sa() {
	local out
	out=$(kube_api DELETE "/api/v1/namespaces/$1/serviceaccounts/$2") || {
		_kube_log "deleting serviceaccount $1/$2 failed: $out"
		return 1
	}
}

# kube_mint NS NAME AUD [SECONDS]: a bound token from the TokenRequest API,
# printed on stdout.  AUD may be a comma-separated list; an empty AUD means
# the apiserver's own audience.  SECONDS defaults to 600, the API minimum.
kube_mint() {
	local ns=$1 name=$2 aud=$3 secs=${4:-600} spec out
	spec=$(jq -cn --arg a "$aud" --argjson s "$secs" \
		'{expirationSeconds: $s} + (if $a == "" then {} else {audiences: ($a | split(","))} end)')
	out=$(kube_api POST "/api/v1/namespaces/$ns/serviceaccounts/$name/token" \
		"{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenRequest\",\"spec\":$spec}") || {
		_kube_log "TokenRequest for $ns/$name failed: $(jq -c '.message // .' <<<"$out" 2>/dev/null)"
		return 1
	}
	jq -er .status.token <<<"$out"
}

# kube_write_kubeconfig FILE TOKEN [SERVER [CAFILE]]: a kubeconfig laid
# out as kubectl writes it, token user, the CA inline (default: the test
# CA).  Mode 0600.
kube_write_kubeconfig() {
	local file=$1 token=$2 server=${3:-$KUBE_URL} cafile=${4:-$KUBE_DIR/pki/ca.crt} ca
	ca=$(base64 -w0 <"$cafile") || return 1
	(
		umask 077
		cat >"$file" <<EOF
apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: $ca
    server: $server
  name: kubelib
contexts:
- context:
    cluster: kubelib
    user: $KUBE_REVIEWER_SA
  name: kubelib
current-context: kubelib
kind: Config
preferences: {}
users:
- name: $KUBE_REVIEWER_SA
  user:
    token: $token
EOF
	)
}

# Objects every test relies on; see the header.
_kube_bootstrap() {
	local i
	# kube-system is made by a post-start hook that /readyz does not wait for.
	for ((i = 0; i < 100; i++)); do
		kube_api GET /api/v1/namespaces/kube-system >/dev/null 2>&1 && break
		sleep 0.1
	done
	kube_api POST /api/v1/namespaces \
		'{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"ops"}}' >/dev/null &&
		kube_create_sa "$KUBE_REVIEWER_NS" "$KUBE_REVIEWER_SA" >/dev/null &&
		kube_api POST /apis/rbac.authorization.k8s.io/v1/clusterroles '{
		"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
		"metadata": {"name": "k8s-auth-reviewer"},
		"rules": [
		 {"apiGroups": ["authentication.k8s.io"], "resources": ["tokenreviews"], "verbs": ["create"]},
		 {"apiGroups": ["authorization.k8s.io"], "resources": ["subjectaccessreviews"], "verbs": ["create"]}]}' >/dev/null &&
		kube_api POST /apis/rbac.authorization.k8s.io/v1/clusterrolebindings '{
		"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
		"metadata": {"name": "k8s-auth-reviewer"},
		"roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "k8s-auth-reviewer"},
		"subjects": [{"kind": "ServiceAccount", "namespace": "'"$KUBE_REVIEWER_NS"'", "name": "'"$KUBE_REVIEWER_SA"'"}]}' >/dev/null &&
		kube_api POST /apis/rbac.authorization.k8s.io/v1/clusterrolebindings '{
		"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
		"metadata": {"name": "kubelib-anonymous-issuer-discovery"},
		"roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:service-account-issuer-discovery"},
		"subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:unauthenticated"}]}' >/dev/null || {
		_kube_log "bootstrapping cluster objects failed"
		return 1
	}
	KUBE_REVIEWER_TOKEN=$(kube_mint "$KUBE_REVIEWER_NS" "$KUBE_REVIEWER_SA" "" 604800) || return 1
	kube_write_kubeconfig "$KUBE_DIR/kubeconfig" "$KUBE_REVIEWER_TOKEN"
}

_kube_kill() {
	local pid=$1 i
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

# kube_stop_apiserver: stop only the apiserver (to test "unreachable").
kube_stop_apiserver() {
	_kube_kill "${KUBE_APISERVER_PID:-}"
	KUBE_APISERVER_PID=
}

# kube_start_another_apiserver NAME [FLAGS...]: one more apiserver on the
# same etcd and PKI (HA-style), with extra flags; its URL goes to
# KUBE_URL_<NAME>, its log to $KUBE_DIR/apiserver-NAME.log.  kube_stop
# stops it.  KUBE_URL and KUBE_APISERVER_PID stay the first apiserver's.
kube_start_another_apiserver() {
	local name=$1 url=$KUBE_URL pid=$KUBE_APISERVER_PID bin tries rc
	shift
	bin=$(_kube_apiserver_binary) || return 1
	local KUBE_APISERVER_EXTRA=("$@") KUBE_APISERVER_LOG_SUFFIX=-$name
	for ((tries = 1; ; tries++)); do
		_kube_start_apiserver "$bin"
		rc=$?
		[ $rc = 2 ] && [ $tries -lt 3 ] || break
	done
	[ $rc = 0 ] && KUBE_MORE_PIDS="${KUBE_MORE_PIDS:-} $KUBE_APISERVER_PID"
	printf -v "KUBE_URL_$name" '%s' "$KUBE_URL"
	KUBE_URL=$url KUBE_APISERVER_PID=$pid
	return $rc
}

# kube_stop: stop everything kube_start started and remove KUBE_DIR.
# Safe to call more than once.
kube_stop() {
	local p
	for p in ${KUBE_MORE_PIDS:-}; do
		_kube_kill "$p"
	done
	KUBE_MORE_PIDS=
	kube_stop_apiserver
	_kube_kill "${KUBE_ETCD_PID:-}"
	KUBE_ETCD_PID=
	if [ -n "${KUBE_DIR:-}" ] && [ -d "$KUBE_DIR" ]; then
		if [ "${KUBE_KEEP:-0}" = 1 ]; then
			_kube_log "kept $KUBE_DIR"
		else
			rm -rf "$KUBE_DIR"
		fi
	fi
	return 0
}

# Run kube_stop on exit, after whatever EXIT trap the test already has.
_kube_install_trap() {
	local prev
	prev=$(trap -p EXIT | sed -e "s/^trap -- '//" -e "s/' EXIT\$//")
	if [ -z "$prev" ]; then
		trap kube_stop EXIT
	elif [[ $prev != *kube_stop* ]]; then
		# shellcheck disable=SC2064 # the old handler is fixed text by now
		trap "$prev; kube_stop" EXIT
	fi
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# kube_start: the whole cluster, see the header.  Returns non-zero (after
# saying why on stderr) if it could not be had.
kube_start() {
	local bin tries rc
	local need
	for need in etcd openssl curl jq python3 setpriv; do
		command -v "$need" >/dev/null || {
			_kube_log "$need not found (tests/install-deps.sh)"
			return 1
		}
	done
	bin=$(_kube_apiserver_binary) && [ -x "$bin" ] || {
		_kube_log "no kube-apiserver binary"
		return 1
	}
	KUBE_DIR=$(mktemp -d "${TMPDIR:-/tmp}/kubelib.XXXXXX") || return 1
	export KUBE_DIR
	_kube_install_trap
	_kube_make_pki || return 1
	_kube_start_etcd || return 1
	for ((tries = 1; ; tries++)); do
		_kube_start_apiserver "$bin"
		rc=$?
		[ $rc = 2 ] && [ $tries -lt 3 ] || break
		_kube_log "retrying apiserver start on another port"
	done
	[ $rc = 0 ] || return 1
	_kube_bootstrap || return 1
	export KUBE_URL KUBE_CA KUBE_REVIEWER_TOKEN KUBE_APISERVER_PID KUBE_ETCD_PID KUBE_START_SECONDS
	_kube_log "apiserver ready at $KUBE_URL in ${KUBE_START_SECONDS}s (dir $KUBE_DIR)"
}
