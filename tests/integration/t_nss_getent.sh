#!/bin/bash
# libnss_k8s through the real glibc: getent passwd/group/initgroups, id,
# enumeration, for declared (k8s-auth sync), logged-in and synced accounts;
# uids and gids checked against Python's hashlib (not our code); a name
# and a uid another source (files) already has; K8S_AUTH_STORE ignored by
# setuid programs; k8s-auth users/groups/forget.
. "$(dirname "$0")/nss_lib.bash"

nss_etc_file /etc/passwd
nss_etc_file /etc/group
# Another source already has uid(alice) and the name "collider".
echo "collider:x:$(uid_of alice):$(uid_of alice)::/nonexistent:/usr/sbin/nologin" >>/etc/passwd
nss_install "files k8s"
CFG=$TEST_TMP/config.yaml
nss_config "$CFG" "  declared: [dana, {name: erin, uid: 250000}]"

nss_cli --config "$CFG" sync >/dev/null || fail "k8s-auth sync"
nss_helper login "$CFG" alice tokenreview:uid:a-1 alice@example.com sudo k8s-web:t k8s-shadow:t shadow:t ||
	fail "login alice"
nss_helper synced "$CFG" sam k8s-ops || fail "synced sam"

# ---- passwd
assert_eq "$(getent passwd dana)" "dana:*:$(uid_of dana):$(uid_of dana)::/home/dana:/bin/bash" "declared account"
assert_eq "$(getent passwd erin | cut -d: -f3)" 250000 "declared account with a pinned uid"
assert_eq "$(getent passwd 250000 | cut -d: -f1)" erin "getpwuid"
A=$(( $(uid_of alice) + 1 ))
assert_eq "$(getent passwd alice)" "alice:*:$A:$A:alice@example.com:/home/alice:/bin/bash" \
	"logged-in account; uid(alice) is taken by files, so the next one"
assert_eq "$(getent passwd sam | cut -d: -f3)" "$(uid_of sam)" "synced account"
assert_eq "$(getent passwd root | cut -d: -f3)" 0 "files still answer first"
getent passwd nosuchuser >/dev/null
assert_eq $? 2 "unknown name: not found"

# ---- groups
assert_eq "$(getent group dana)" "dana:*:$(uid_of dana):dana" "private group lists its user"
assert_eq "$(getent group k8s-web)" "k8s-web:*:$(uid_of k8s-web):alice" "templated group, store-defined"
assert_eq "$(getent group "$(uid_of k8s-ops)")" "k8s-ops:*:$(uid_of k8s-ops):sam" \
	"literal group that is no local group: store-defined (declared by sync)"
assert_eq "$(getent group k8s-shadow | cut -d: -f1,4)" "k8s-shadow:alice" "templated k8s-shadow is not shadow"
case " $(id -G alice) " in
*" $(getent group shadow | cut -d: -f3) "*) fail "templated 'shadow' granted the local shadow group" ;;
*) ok "a templated mapping never lands on the local shadow group" ;;
esac
SUDO=$(getent group sudo | cut -d: -f3)
assert_eq "$(getent group sudo | cut -d: -f3)" 27 "sudo stays the local group"

# ---- initgroups / id
IG=$(getent initgroups alice)
assert_contains "$IG" " $SUDO" "initgroups: the local sudo group"
assert_contains "$IG" "$(uid_of k8s-web)" "initgroups: the store's group"
assert_eq "$(id -u alice):$(id -g alice)" "$A:$A" "id: uid and private gid"
ID=$(id alice)
assert_contains "$ID" "groups=$A(alice)" "id: private group first"
assert_contains "$ID" "$SUDO(sudo)" "id: sudo"
assert_contains "$ID" "$(uid_of k8s-web)(k8s-web)" "id: k8s-web"
assert_eq "$(id -Gn sam)" "sam k8s-ops" "id -Gn for a synced account"
assert_eq "$(id -Gn dana)" "dana" "a declared account without memberships"

# ---- enumeration: after the files entries, every store entry once
ENT=$(getent passwd)
assert_eq "$(grep -c -E '^(alice|dana|erin|sam):' <<<"$ENT")" 4 "getent passwd lists the store accounts"
assert_eq "$(tail -n 4 <<<"$ENT" | cut -d: -f1 | sort | tr '\n' ' ')" "alice dana erin sam " \
	"after the files entries"
assert_eq "$(getent group | grep -c -E '^(alice|dana|erin|sam|k8s-web|k8s-ops|k8s-shadow):')" 7 \
	"getent group lists private and store groups"

# ---- other users and setuid programs
assert_eq "$(setpriv --reuid=65534 --regid=65534 --clear-groups getent passwd alice | cut -d: -f3)" "$A" \
	"readable by an unprivileged process"
assert_eq "$(K8S_AUTH_STORE=/nonexistent getent passwd alice)" "" "K8S_AUTH_STORE moves the store"
cp /usr/bin/getent "$TEST_TMP/getent-suid" && chmod 4755 "$TEST_TMP/getent-suid"
assert_eq "$(K8S_AUTH_STORE=/nonexistent setpriv --reuid=65534 --regid=65534 --clear-groups \
	"$TEST_TMP/getent-suid" passwd alice | cut -d: -f1)" alice "setuid programs ignore K8S_AUTH_STORE"

# ---- refusals by the writer
nss_helper login "$CFG" collider tokenreview:uid:c collider@example.com 2>"$TEST_TMP/err"
assert_eq $? 1 "a name another source has is refused"
assert_contains "$(cat "$TEST_TMP/err")" "existing account" "and says why"
nss_helper login "$CFG" alice tokenreview:uid:other alice@example.com 2>"$TEST_TMP/err"
assert_eq $? 1 "another identity cannot take a bound account"

# ---- CLI
U=$(nss_cli --config "$CFG" users --json) || fail "k8s-auth users"
assert_eq "$(jq -r '[.[].name] | join(",")' <<<"$U")" "alice,dana,erin,sam" "users --json"
assert_eq "$(jq -r '.[] | select(.name=="alice") | .binding + " " + (.sources|join(","))' <<<"$U")" \
	"tokenreview:uid:a-1 login" "binding and sources"
assert_eq "$(jq -r '.[] | select(.name=="erin") | .uid_pinned' <<<"$U")" true "pinned uid shown"
G=$(nss_cli --config "$CFG" groups --json) || fail "k8s-auth groups"
assert_eq "$(jq -r '.[] | select(.name=="sudo") | .kind + " " + (.members|join(","))' <<<"$G")" \
	"local alice" "groups --json shows local groups the store put members in"
assert_contains "$(nss_cli --config "$CFG" users)" "tokenreview:uid:a-1" "users table"
nss_cli --config "$CFG" forget nosuch >/dev/null 2>&1
assert_eq $? 1 "forget: unknown account is exit 1"
nss_cli --config "$CFG" forget dana >/dev/null || fail "forget dana"
assert_eq "$(getent passwd dana | cut -d: -f1)" dana "forget keeps a declared account"
nss_cli --config "$CFG" forget alice >/dev/null || fail "forget alice"
getent passwd alice >/dev/null
assert_eq $? 2 "forget removes a login-only account"
nss_helper login "$CFG" alice tokenreview:uid:a-2 alice@example.com || fail "alice again"
assert_eq "$(getent passwd alice | cut -d: -f3)" "$A" "a name reused after forget gets the same uid"
# no configuration file at all (an empty /etc/k8s-auth of this namespace's
# own): the store commands read the compiled-in store
[ ! -d /etc/k8s-auth ] || mount -t tmpfs -o mode=0755 nssetc /etc/k8s-auth || fail "hide /etc/k8s-auth"
assert_eq "$(env -u K8S_AUTH_CONFIG "$NSS_BUILD/k8s-auth" users | grep -c '^alice ')" 1 \
	"without a config file the CLI reads the compiled-in store"
# but a file named by K8S_AUTH_CONFIG or --config must exist: never the defaults
K8S_AUTH_CONFIG=$TEST_TMP/none.yaml nss_cli users >/dev/null 2>&1
assert_eq $? 2 "K8S_AUTH_CONFIG naming a missing file is an error"
nss_cli --config "$TEST_TMP/none.yaml" users >/dev/null 2>&1
assert_eq $? 2 "--config naming a missing file is an error"
echo "t_nss_getent: all passed"
