#!/bin/sh
# Offline JWT validation speed: in-process validations/s (parse + verify +
# claim checks, single thread, median of 5 one-second runs) for RS256
# (RSA-2048) and ES256 (P-256), next to `openssl speed` verify/s for the same
# key on this machine (both in CPU time), and the ratio (goal >= 0.8: the JOSE layer should cost
# little next to the public-key operation).
#
# Builds bench/jwt_bench.c with the project's CFLAGS/LDFLAGS against
# $O/libk8scommon.a (O defaults to build).  Tokens and keys: python3 jwcrypto.
set -eu
cd "$(dirname "$0")/.."
O=${O:-build}
PY=${K8S_PYTHON:-/usr/bin/python3}
[ -x "$PY" ] || PY=python3

mkvar() { make -s --no-print-directory O="$O" --eval "print-var: ; @echo \$($1)" print-var; }
make -s --no-print-directory O="$O" "$O/libk8scommon.a"
CFLAGS=$(mkvar CFLAGS)
LDFLAGS=$(mkvar LDFLAGS)
LIBS=$(mkvar PKG_LIBS)
mkdir -p "$O/bench"
# shellcheck disable=SC2086
cc $CFLAGS -o "$O/bench/jwt_bench" bench/jwt_bench.c "$O/libk8scommon.a" $LDFLAGS $LIBS

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$PY" - "$work" <<'EOF'
import json, os, sys, time
from jwcrypto import jwk, jws
d = sys.argv[1]
keys = {"RS256": jwk.JWK.generate(kty="RSA", size=2048, kid="r"),
        "ES256": jwk.JWK.generate(kty="EC", crv="P-256", kid="e")}
now = int(time.time())
claims = {"iss": "https://bench.test", "aud": "bench", "sub": "bench-user",
          "iat": now, "exp": now + 86400}
with open(os.path.join(d, "jwks.json"), "w") as f:
    json.dump({"keys": [k.export_public(as_dict=True) for k in keys.values()]}, f)
for alg, k in keys.items():
    s = jws.JWS(json.dumps(claims).encode())
    s.add_signature(k, alg=alg, protected=json.dumps({"alg": alg, "kid": k["kid"], "typ": "JWT"}))
    with open(os.path.join(d, alg + ".jwt"), "w") as f:
        f.write(s.serialize(compact=True))
EOF

ours() {
	"$O/bench/jwt_bench" "$work/$1.jwt" "$work/jwks.json" https://bench.test bench 5 1 2>/dev/null |
		awk '/^median/ {print $2}'
}
speed() {
	openssl speed -seconds 3 "$1" 2>/dev/null | awk -v pat="$2" '$0 ~ pat {print $NF}' | tail -n 1
}

rs=$(ours RS256)
es=$(ours ES256)
rs_ssl=$(speed rsa2048 '^rsa 2048 bits')
es_ssl=$(speed ecdsap256 'ecdsa \\(nistp256\\)')
echo "JWT validations/s, single thread (parse + verify + claims), vs openssl speed verify/s:"
printf '%-6s %12s %18s %8s\n' alg jwt/s openssl-verify/s ratio
for row in "RS256 $rs $rs_ssl" "ES256 $es $es_ssl"; do
	# shellcheck disable=SC2086
	set -- $row
	printf '%-6s %12s %18s %8s\n' "$1" "$2" "$3" "$(awk -v a="$2" -v b="$3" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "n/a"}')"
done
echo "(round 1's goal, ratio >= 0.80, was set for the in-process engine with OpenSSL in a long-lived"
echo " caller; signatures are Nettle's since k8s-auth-helper verifies once per process, where"
echo " OpenSSL's first-use setup cost 0.7 ms: what a login costs is bench/b_pam.sh's figure)"
