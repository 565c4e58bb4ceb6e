#!/bin/sh
# CEL cost per login: microseconds to map one token's claims to the user
# (k8s_claims_map; single thread, median of 5 one-second runs, CPU time)
# with a typical AuthenticationConfiguration of four expressions (the
# issue's: a lifetime rule, a username and a groups expression, a user
# rule) and with the same mapping written as claims only, next to one
# signature verification on this machine (openssl speed, ES256 and RS256).
#
# Builds bench/cel_bench.c with the project's CFLAGS/LDFLAGS against
# $O/libk8scommon.a (O defaults to build).
set -eu
cd "$(dirname "$0")/.."
O=${O:-build}

mkvar() { make -s --no-print-directory O="$O" --eval "print-var: ; @echo \$($1)" print-var; }
make -s --no-print-directory O="$O" "$O/libk8scommon.a"
CFLAGS=$(mkvar CFLAGS)
LDFLAGS=$(mkvar LDFLAGS)
LIBS=$(mkvar PKG_LIBS)
mkdir -p "$O/bench"
# shellcheck disable=SC2086
cc $CFLAGS -o "$O/bench/cel_bench" bench/cel_bench.c "$O/libk8scommon.a" $LDFLAGS $LIBS

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
now=$(date +%s)
cat > "$work/claims.json" <<EOC
{"iss": "https://login.example.com", "sub": "CgVhbGljZRIFbG9jYWw", "aud": "host-login:web-1",
 "exp": $((now + 600)), "iat": $now, "nbf": $now, "email": "alice@example.com",
 "email_verified": true, "name": "Alice Example",
 "groups": ["k8s_admins", "dev", "k8s_ops", "staff", "k8s_oncall"]}
EOC
head='jwt:
- issuer:
    url: https://login.example.com
    audiences: ["host-login:web-1"]'
cat > "$work/cel.yaml" <<EOC
$head
  claimValidationRules:
  - {expression: 'claims.exp - claims.nbf <= 3600', message: too long}
  claimMappings:
    username: {expression: "claims.email_verified == true ? claims.email : ''"}
    groups: {expression: "dyn(claims.?groups.orValue([])).filter(g, g.startsWith('k8s_')).map(g, 'oidc:' + g)"}
  userValidationRules:
  - {expression: "user.groups.all(g, !g.startsWith('system:'))"}
EOC
cat > "$work/claim.yaml" <<EOC
$head
  claimMappings:
    username: {claim: email, prefix: ""}
    groups: {claim: groups, prefix: "oidc:"}
EOC
chmod 600 "$work"/*.yaml
cel=$("$O/bench/cel_bench" "$work/cel.yaml" "$work/claims.json" 5 1 2>/dev/null | awk '/^median/ {print $2}')
claim=$("$O/bench/cel_bench" "$work/claim.yaml" "$work/claims.json" 5 1 2>/dev/null | awk '/^median/ {print $2}')
speed() {
	openssl speed -seconds 3 "$1" 2>/dev/null | awk -v pat="$2" '$0 ~ pat {print $NF}' | tail -n 1
}
es=$(speed ecdsap256 'ecdsa \\(nistp256\\)')
rs=$(speed rsa2048 '^rsa 2048 bits')
us() { awk -v n="$1" 'BEGIN {if (n > 0) printf "%.1f", 1e6 / n; else print "n/a"}'; }
echo "claims -> user per login (us, single thread, CPU time, median of 5 runs):"
printf '  %-44s %8s\n' "4 CEL expressions (rule, username, groups, user rule)" "$cel"
printf '  %-44s %8s\n' "the same mapping as claims (no CEL)" "$claim"
echo "one signature verification on this machine (us, openssl speed):"
printf '  %-44s %8s\n' "ES256 (P-256)" "$(us "$es")"
printf '  %-44s %8s\n' "RS256 (RSA-2048)" "$(us "$rs")"
