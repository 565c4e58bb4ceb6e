#!/bin/bash
# One long-running reader (a Python process: glibc keeps libnss_k8s and
# its mappings loaded between calls) while the store changes under it:
# commits (delta, compaction), files replaced by damaged ones (a miss,
# never a crash or a wrong answer), good ones put back, a store without
# its stamp page.
. "$(dirname "$0")/nss_lib.bash"

nss_install "files k8s"
CFG=$TEST_TMP/config.yaml
nss_config "$CFG"
S=$NSS_STORE
nss_helper login "$CFG" alice tokenreview:uid:a alice@example.com k8s-dev:t || fail "login alice"

mkfifo "$TEST_TMP/to" "$TEST_TMP/from"
"$PY" -u -c '
import grp, pwd, sys
for line in sys.stdin:
    kind, key = line.split()
    try:
        if kind == "u":
            e = pwd.getpwnam(key); print(e.pw_name, e.pw_uid, e.pw_dir)
        elif kind == "uid":
            e = pwd.getpwuid(int(key)); print(e.pw_name, e.pw_uid, e.pw_dir)
        elif kind == "g":
            e = grp.getgrnam(key); print(e.gr_name, e.gr_gid, ",".join(e.gr_mem))
        else:
            print(sorted(p.pw_name for p in pwd.getpwall() if p.pw_uid >= 200000))
    except KeyError:
        print("missing")
' <"$TEST_TMP/to" >"$TEST_TMP/from" &
READER=$!
exec 7>"$TEST_TMP/to" 8<"$TEST_TMP/from"
on_exit "kill $READER 2>/dev/null"
ask() {
	local line
	echo "$1 $2" >&7 || fail "reader gone"
	read -r -t 10 line <&8 || fail "reader died or hung (asking $1 $2)"
	echo "$line"
}
alive() {
	kill -0 "$READER" 2>/dev/null || fail "the reader process died"
}
# What the writer does after a commit, for files we replace by hand.
bump() {
	"$PY" -c 'import struct, sys
with open(sys.argv[1], "r+b") as f:
    v = struct.unpack("=Q", f.read(8))[0]; f.seek(0); f.write(struct.pack("=Q", v + 1))' "$S/identities.stamp"
}
# Replace a store file by rename, as the writer would.
put() {
	cp "$2" "$S/.t.$1" && mv -f "$S/.t.$1" "$S/$1"
}

AU=$(uid_of alice)
assert_eq "$(ask u alice)" "alice $AU /home/alice" "the reader sees alice"

nss_cli --config "$CFG" forget alice >/dev/null || fail forget
nss_helper login "$CFG" bob tokenreview:uid:b bob@example.com k8s-dev:t || fail "login bob"
assert_eq "$(ask u alice)" missing "a delta commit: alice is gone for the running reader"
assert_eq "$(ask uid "$AU")" missing "also by uid"
assert_eq "$(ask u bob | cut -d' ' -f1)" bob "and bob is there"
assert_eq "$(ask g k8s-dev)" "k8s-dev $(uid_of k8s-dev) bob" "group members follow"

nss_cli --config "$CFG" sync >/dev/null || fail sync
INO1=$(stat -c %i "$S/identities.db")
nss_helper login "$CFG" carol tokenreview:uid:c carol@example.com || fail "login carol"
assert_eq "$(ask list x)" "['bob', 'carol']" "after a compaction and another commit"
cp "$S/identities.db" "$TEST_TMP/good.db"
cp "$S/identities.delta" "$TEST_TMP/good.delta"

# Damaged files, each put in place by rename: misses, no crash.
printf 'garbage' >"$TEST_TMP/bad"
put identities.delta "$TEST_TMP/bad"; bump
assert_eq "$(ask u bob)" missing "a garbage delta: the store is unusable, not half-used"
alive
put identities.delta "$TEST_TMP/good.delta"; bump
assert_eq "$(ask u carol | cut -d' ' -f1)" carol "the good delta back"
head -c $(( $(stat -c %s "$TEST_TMP/good.db") - 8 )) "$TEST_TMP/good.db" >"$TEST_TMP/trunc.db"
put identities.db "$TEST_TMP/trunc.db"; bump
assert_eq "$(ask u bob)" missing "a truncated base: miss"
assert_eq "$(ask list x)" "[]" "and an empty enumeration"
alive
"$PY" - "$TEST_TMP/good.db" "$TEST_TMP/flip.db" <<'EOF'
import sys
data = bytearray(open(sys.argv[1], "rb").read())
i = data.index(b"/home/bob\0")
data[i + 7] ^= 0x20          # /home/Bob: bob's record no longer matches its checksum
open(sys.argv[2], "wb").write(data)
EOF
put identities.db "$TEST_TMP/flip.db"; bump
assert_eq "$(ask u bob)" missing "a damaged record: a miss, never /home/Bob"
assert_eq "$(ask u carol | cut -d' ' -f1)" carol "the other accounts still answer"
put identities.db "$TEST_TMP/good.db"; bump
assert_eq "$(ask u bob)" "bob $(uid_of bob) /home/bob" "the good base back"

# Without the stamp: changes are seen at once (a stat per call).
rm -f "$S/identities.stamp"
sleep 1.1
nss_cli --config "$CFG" forget carol >/dev/null || fail "forget carol"
rm -f "$S/identities.stamp"
assert_eq "$(ask u carol)" missing "no stamp page: the delta's stat sees the commit"
# A file replaced by hand with no stamp bump: seen within a second.
nss_helper login "$CFG" dave tokenreview:uid:d dave@example.com || fail "login dave"
assert_eq "$(ask u dave | cut -d' ' -f1)" dave "the stamp page is back"
cp "$S/identities.delta" "$TEST_TMP/with-dave"
nss_cli --config "$CFG" forget dave >/dev/null || fail "forget dave"
assert_eq "$(ask u dave)" missing "dave gone"
put identities.delta "$TEST_TMP/with-dave"
sleep 1.1
assert_eq "$(ask u dave | cut -d' ' -f1)" dave "a replacement without a stamp bump, after a second"
alive
exec 7>&-
wait "$READER"
assert_eq $? 0 "the reader exits cleanly"
echo "t_nss_replace: all passed"
