#!/bin/bash
# Files and directories pam_k8s.so and k8s-auth create under the store,
# the cache and the run directory are root:root, whatever the process's
# effective gid (sudo -g, sg/newgrp, su and sudo running the module with a
# user's group) or a setgid parent directory would give them.  Everything
# runs as root with egid 1234 (setpriv --regid 1234 --clear-groups); the
# store is in a setgid directory of group 4321: k8s-auth sync, the real module in one
# process (pam_drive: a TokenReview login with the review cache, an OIDC
# login with the JWKS cache, account and session with the run state),
# forget, and k8s-auth check; then every entry must be uid 0 gid 0.
. "$(dirname "$0")/../pam/pamlib.sh"
pk_begin -s setpriv
mkdir -m 2755 "$T/sg"
chgrp 4321 "$T/sg"
mkdir -m 0755 "$T/eg"
export PK_HOME=/tmp PK_DECLARED="ops.alice, carol" PK_CACHE_TTL=2m
export PK_STORE=$T/sg/store PK_RUNDIR=$T/eg/run
pk_write_config
sed -i "s|^cacheDir: .*|cacheDir: $T/eg/cache|" "$T/config.yaml"
gcc -std=gnu11 -g -O1 -Wall -Wextra -Werror -o "$T/pam_drive" tests/pam/pam_drive.c \
	-lpam -ldl -Wl,--no-as-needed -lcrypt || exit 1
pk_stack drive "auth required MOD CFG" "account required MOD CFG" "session required MOD CFG"
asgrp() { setpriv --regid 1234 --clear-groups "$@"; }
pk_check "setpriv gives euid 0, egid 1234" test "$(asgrp id -u):$(asgrp id -g)" = 0:1234

asgrp "$PK_CLI" --config "$T/config.yaml" sync >/dev/null
pk_check "k8s-auth sync as root with egid 1234" test $? = 0
UID_A=6e1d2e52-8a7b-4c1d-9e2f-00000000000a
tok=$(pk_sa_token alice "$UID_A" --pod p --node n)
otok=$(pk_oidc_token carol --groups team-db)
printf '%s\n' "$tok" >"$T/answers"
out=$(asgrp "$T/pam_drive" /etc/pam.d drive ops.alice "$T/answers" auth,acct,open 1 "$PK_MOD" 2>&1)
pk_check "SA login (review cache, store, run state) with egid 1234" \
	test "$(tr '\n' '|' <<<"$out")" = "auth Success|acct Success|open Success|"
printf '%s\n' "$otok" >"$T/answers"
out=$(asgrp "$T/pam_drive" /etc/pam.d drive carol "$T/answers" auth,acct,open 1 "$PK_MOD" 2>&1)
pk_check "OIDC login (JWKS cache) with egid 1234" \
	test "$(tr '\n' '|' <<<"$out")" = "auth Success|acct Success|open Success|"
asgrp "$PK_CLI" --config "$T/config.yaml" forget carol >/dev/null
pk_check "k8s-auth forget with egid 1234" test $? = 0
rm -rf "$T/eg/cache/jwks"
asgrp "$PK_CLI" --config "$T/config.yaml" check <<<"$otok" >/dev/null
pk_check "k8s-auth check (JWKS fetched again) with egid 1234" test $? = 0

for d in sg/store eg/cache eg/cache/reviews eg/cache/jwks eg/run; do
	pk_check "$d exists and has entries" eval '[ -d "$T/$d" ] && [ -n "$(ls -A "$T/$d")" ]'
done
wrong=$(find "$T/sg" "$T/eg" -mindepth 1 \( ! -uid 0 -o ! -gid 0 \) -printf '%p %u:%g\n')
pk_check "every file and directory created is root:root" test -z "$wrong"
[ -z "$wrong" ] || echo "$wrong" | sed "s|$T/||" | head -n 20
pk_done
