#!/bin/bash
# JWS signature checks, differential against Go's crypto (tests/sigdiff):
# oracle.go generates ~2400 (key set, token) tuples -- valid RS/PS/ES
# signatures on RSA keys of 2048, 2049, 2052, 2055 (emBits % 8 = 7, 0,
# 3, 6), 3072 (e = 3) and 4096 bits and on P-256/384/521, plus malformed
# PKCS#1 v1.5 and PSS encodings made with the private key (no NULL, other
# OIDs, trailing garbage, every PSS salt length, other MGF hashes,
# trailers, top bits), signature values 0, 1, n-1, n, s+n, n-s, wrong
# lengths, ECDSA r/s of 0, n, r+n, r+p, high S, DER, JWK points off the
# curve or outside the field, duplicate kids -- each with the verdict of
# go-jose v2's verifier on Go's crypto/rsa and crypto/ecdsa, with the
# differences docs/design.md lists applied (diff:rsa-min, diff:rsa-shape,
# diff:ec-curve, diff:jwk-metadata; and s >= n refused, as by Go >= 1.20).  sigdiff.c
# decides the same tuples through k8s_jwks_parse, k8s_jwt_parse and
# k8s_jwt_verify (libk8scommon.a); every disagreement fails the test.
. "$(dirname "$0")/../lib.sh"

B=$REPO/${K8S_BUILD:-build}
[ -f "$B/libk8scommon.a" ] || fail "$B/libk8scommon.a is not built (make)"
command -v go >/dev/null || fail "go is not installed (tests/install-deps.sh installs golang-go)"

# Go offline, its caches in the test's directory
export GOCACHE=$TEST_TMP/gocache GOPATH=$TEST_TMP/gopath GOPROXY=off GOFLAGS='' GO111MODULE=on
(cd "$REPO/tests/sigdiff" && go build -o "$TEST_TMP/oracle" oracle.go) || fail "go build oracle.go"
# K8S_BUILD=build-asan (make O=build-asan SAN=1): the driver with the sanitizers too
san=
if nm "$B/libk8scommon.a" 2>/dev/null | grep -q __asan_init; then
	san="-fsanitize=address,undefined,float-cast-overflow -fno-sanitize-recover=all"
fi
# shellcheck disable=SC2046,SC2086
${CC:-gcc} -std=gnu11 -O2 -Wall -Wextra -Werror -D_GNU_SOURCE $san -I"$REPO/common" \
	$(pkg-config --cflags jansson nettle) -o "$TEST_TMP/sigdiff" "$REPO/tests/sigdiff/sigdiff.c" \
	"$B/libk8scommon.a" $(pkg-config --libs jansson nettle hogweed yaml-0.1 libcrypto) \
	-lgmp -ldl -lpthread || fail "cc sigdiff.c"

seed=${SIGDIFF_SEED:-$(date +%s)}
echo "seed $seed (SIGDIFF_SEED=$seed reproduces the tuples, not the keys)"
"$TEST_TMP/oracle" -seed "$seed" > "$TEST_TMP/tuples" 2> "$TEST_TMP/oracle.err" ||
	fail "oracle.go: $(tail -n 3 "$TEST_TMP/oracle.err")"
total=$(wc -l < "$TEST_TMP/tuples")
[ "$total" -ge 2000 ] || fail "oracle.go made $total tuples, expected at least 2000"

# The comparator itself: a flipped verdict must be reported.
head -n 1 "$TEST_TMP/tuples" | awk -F'\t' -v OFS='\t' '{ $2 = ($2 == "A" ? "R" : "A"); print }' \
	> "$TEST_TMP/flipped"
"$TEST_TMP/sigdiff" < "$TEST_TMP/flipped" > /dev/null
assert_eq "$?" 1 "sigdiff reports a disagreement"

"$TEST_TMP/sigdiff" < "$TEST_TMP/tuples" > "$TEST_TMP/out"
rc=$?
cat "$TEST_TMP/out"
assert_eq "$rc" 0 "C and Go agree on every tuple"
# the same from 3 threads racing Nettle's first load, then sharing key sets
"$TEST_TMP/sigdiff" -t 3 < "$TEST_TMP/tuples"
assert_eq "$?" 0 "C and Go agree on every tuple from 3 threads"

# Both verdicts occur in the classes that must have them (the test is not
# vacuous), and each family is there.
for class in rs-valid rs-valid-raw ps-valid-go ps-salt ps-salt-rand es-valid es-high-s es-lead-zero \
	jwk-ec-ok kid-dup-rsa-rsa kid-dup-ec-rsa val-lead-zero rsa-valid; do
	n=$(awk -v c="$class" '$1 == c { print $4 }' "$TEST_TMP/out")
	[ "${n:-0}" -gt 0 ] || fail "class $class: nothing accepted"
done
for class in rs-no-null rs-wrong-oid rs-trailing-garbage ps-mgf-hash ps-trailer val-n val-s+n \
	es-rn es-r+n es-der es-curve-alg jwk-ec-off-curve jwk-ec-x-short mutate; do
	n=$(awk -v c="$class" '$1 == c { print $2 }' "$TEST_TMP/out")
	[ "${n:-0}" -gt 0 ] || fail "class $class: no tuples"
done
# Where a documented rule decided, go-jose alone would have accepted: the
# rule is exercised, not vacuous (oracle.err: class, tuples, accepted,
# raw-differs)
for class in es-curve-alg/P-256 val-s+n/2049 jwk-rsa-e1; do
	n=$(awk -F'\t' -v c="class $class" '$1 == c { print $4 + 0 }' "$TEST_TMP/oracle.err")
	[ "${n:-0}" -gt 0 ] || fail "class $class: go-jose alone accepts none (the documented rule is not exercised)"
done
ok "$total tuples, C and Go agree"
