#!/bin/bash
# k8s-auth sync's checks of new names and ids against the other account
# sources, with and without reading them once (k8s_store_nss_snapshot):
# nsswitch.conf "files k8s" and "files systemd k8s" (enumerable: one read),
# and "files [NOTFOUND=continue] systemd k8s" (a point lookup per check).
# Every setup must give the same accounts: a uid taken in /etc/passwd, a
# gid taken in /etc/group and a uid taken by a systemd userdb drop-in are
# stepped past; a declared name /etc/passwd or a drop-in has is refused.
. "$(dirname "$0")/nss_lib.bash"

nss_etc_file /etc/passwd
nss_etc_file /etc/group
# A systemd userdb drop-in (nss-systemd reads /usr/local/lib/userdb).
mount -t tmpfs userdb /usr/local/lib || fail "tmpfs /usr/local/lib"
mkdir /usr/local/lib/userdb
D=$(uid_of dana) E=$(uid_of erin) F=$(uid_of frank)
echo "collider:x:$D:$D::/nonexistent:/usr/sbin/nologin" >>/etc/passwd
echo "gclash:x:$E:" >>/etc/group
printf '{"userName":"dropin","uid":%s,"gid":%s}\n' "$F" "$F" >/usr/local/lib/userdb/dropin.user
ln -s dropin.user "/usr/local/lib/userdb/$F.user"
nss_install "files systemd k8s"
[ "$(getent passwd "$F" | cut -d: -f1)" = dropin ] || skip "nss-systemd does not serve userdb drop-ins here"

CFG=$TEST_TMP/config.yaml
for services in "files k8s" "files systemd k8s" "files [NOTFOUND=continue] systemd k8s"; do
	sed -E "s/^(passwd|group):.*/\1: $services/" "$TEST_TMP/nsswitch.new" >/etc/nsswitch.conf
	rm -rf "${NSS_STORE:?}"/*
	nss_config "$CFG" "  declared: [dana, erin, frank, gina]"
	nss_cli --config "$CFG" sync >"$TEST_TMP/out" 2>&1 || fail "$services: sync: $(cat "$TEST_TMP/out")"
	assert_eq "$(getent passwd dana | cut -d: -f3,4)" "$((D + 1)):$((D + 1))" \
		"$services: a uid /etc/passwd has is stepped past"
	assert_eq "$(getent passwd erin | cut -d: -f3,4)" "$E:$((E + 1))" \
		"$services: a gid /etc/group has is stepped past"
	assert_eq "$(getent passwd gina | cut -d: -f3,4)" "$(uid_of gina):$(uid_of gina)" "$services: a free uid"
	if [ "$services" = "files k8s" ]; then
		assert_eq "$(getent passwd frank | cut -d: -f3)" "$F" "$services: the drop-in is not a source"
	else
		assert_eq "$(getent passwd frank | cut -d: -f3,4)" "$((F + 1)):$((F + 1))" \
			"$services: a uid a userdb drop-in has is stepped past"
		nss_config "$CFG" "  declared: [gina, dropin]"
		nss_cli --config "$CFG" sync >"$TEST_TMP/out" 2>&1
		assert_eq $? 1 "$services: a name a drop-in has is refused"
		assert_contains "$(cat "$TEST_TMP/out")" "dropin is an existing account" "$services: and says why"
	fi
	nss_config "$CFG" "  declared: [gina, collider]"
	nss_cli --config "$CFG" sync >"$TEST_TMP/out" 2>&1
	assert_eq $? 1 "$services: a name /etc/passwd has is refused"
	assert_contains "$(cat "$TEST_TMP/out")" "collider is an existing account" "$services: and says why"
done
echo "t_sync_nss_sources: all passed"
