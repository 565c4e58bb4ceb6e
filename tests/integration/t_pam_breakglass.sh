#!/bin/bash
# Break-glass with a damaged identity store: root and accounts of other
# sources (outside uidRange) keep logging in through Debian's stock stacks with the shipped
# profile, while an account the store may hold (uid inside uidRange, or
# unknown) is refused rather than guessed.  Both with a valid and with a
# broken configuration.
. "$(dirname "$0")/../pam/pamlib.sh"
pk_begin -n -s
pk_debian_stack || { pk_fail "pam-auth-update"; pk_done; }

cat > /etc/k8s-auth/config.yaml <<EOC
tokenReview:
  kubeconfig: /etc/k8s-auth/kubeconfig
  audiences: ["host-login:%h"]
accounts:
  users:
  - match: '^system:serviceaccount:([a-z0-9-]+):([a-z0-9.-]+)\$'
    local: '\1.\2'
store: /var/lib/k8s-auth
runDir: $T/run
cacheDir: $T/cache
EOC
chmod 644 /etc/k8s-auth/config.yaml
# A local account of the files source, below uidRange.
pk_etc_append /etc/passwd "localcarol:*:4242:4242::/nonexistent:/bin/sh" "sysdave:*:998:998::/nonexistent:/bin/sh"
pk_etc_append /etc/group "localcarol:x:4242:" "sysdave:x:998:"

printf 'this is not a store' > "$PK_STORE/identities.db"
chmod 644 "$PK_STORE/identities.db"

for cfgstate in valid broken; do
	if [ $cfgstate = broken ]; then
		echo "tokenReview: {timout: 5s}" > /etc/k8s-auth/config.yaml
	fi
	pk_pam login root acct_mgmt </dev/null
	if [ "$PK_RC" = 0 ]; then pk_ok "[$cfgstate config] root passes account with a damaged store"
	else pk_fail "[$cfgstate config] root refused with a damaged store: $PK_OUT"; fi
	# With a valid config, accounts of other sources outside uidRange are
	# not claimed; with a broken one (range unknown) only system accounts
	# (uid < 1000) are: the rest fails closed.
	[ $cfgstate = valid ] && who="localcarol sysdave" || who=sysdave
	for u in $who; do
		pk_pam login "$u" acct_mgmt </dev/null
		if [ "$PK_RC" = 0 ]; then pk_ok "[$cfgstate config] $u (files) not claimed by pam_k8s"
		else pk_fail "[$cfgstate config] pam_k8s claimed $u: $PK_OUT"; fi
	done
	pk_mark_log
	pk_pam login ops.alice authenticate <<<"" 
	if [ "$PK_RC" != 0 ]; then pk_ok "[$cfgstate config] unknown user with a damaged store is not let in"
	else pk_fail "[$cfgstate config] unknown user let in: $PK_OUT"; fi
done
pk_done
