#!/bin/bash
# The documentation the packages ship, checked against the code: the man
# pages build with scdoc and render without groff warnings; every config
# key config.c knows is in k8s-auth.conf(5), every module argument pamargs.c
# parses in pam_k8s(8), every k8s-auth command in k8s-auth(8), every
# K8S_ASKPASS_* variable in k8s-ssh-askpass(1); the example configuration
# the package installs loads as shipped and with every section
# uncommented, and so does every configuration example in
# k8s-auth.conf(5) and docs/guide.md.
set -u
cd "$(dirname "$0")/../.." || exit 2
. tests/lib.sh

command -v scdoc >/dev/null || skip "scdoc not installed (tests/install-deps.sh)"
CLI=$REPO/build/k8s-auth
[ -x "$CLI" ] || skip "build/k8s-auth not built (make)"

make --no-print-directory -s O="$TEST_TMP/b" man >"$TEST_TMP/man.log" 2>&1 || { cat "$TEST_TMP/man.log"; fail "make man"; }
n=0
for src in docs/man/*.scd; do
	page=$TEST_TMP/b/man/$(basename "$src" .scd)
	[ -s "$page" ] || fail "make man did not build $page"
	warn=$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$page" 2>&1 >/dev/null)
	[ -z "$warn" ] || fail "$(basename "$page"): groff warnings: $warn"
	n=$((n + 1))
done
ok "make man: $n pages, no groff warnings"

# Names in the code -> a man page must mention each: *name*, *--name*,
# *section.name* or a "# name" heading.
"$PY" - "$REPO" <<'EOF' || fail "a man page misses something the code accepts"
import re, sys
repo = sys.argv[1]
def src(p): return open(f"{repo}/{p}").read()
missing = []
def need(page, names, what):
    text = src(f"docs/man/{page}.scd")
    for n in sorted(set(names)):
        if not re.search(r'(\*|\*--|\.|^# )' + re.escape(n) + r'\b', text, re.M):
            missing.append(f"{page}: {what} {n}")
config = src("common/config.c")
keys = []
for lst in re.findall(r'known\w*\[\]\s*=\s*\{(.*?)\};', config, re.S):
    keys += re.findall(r'"([A-Za-z]+)"', lst)
if len(keys) < 40:
    missing.append(f"only {len(keys)} config keys found in config.c: parser out of date?")
need("k8s-auth.conf.5", keys, "config key")
args = src("common/pamargs.c")
pam = re.findall(r'strcmp\(arg, "([a-z_]+)"\)', args) + re.findall(r'arg_value\(arg, "([a-z_]+)"\)', args)
if len(pam) < 6:
    missing.append("common/pamargs.c: arguments not found")
need("pam_k8s.8", pam, "module argument")
cli = re.findall(r'strcmp\(cmd, "([a-z-]+)"\)', src("cli/k8s-auth.c"))
need("k8s-auth.8", [c for c in cli if not c.startswith("-")], "command")
# subcommands of a command (k8s-auth cache clear): "*cache clear*" in the page
man8 = src("docs/man/k8s-auth.8.scd")
for f, cmd in (("cli/k8s-auth-cache.c", "cache"),):
    for sub in re.findall(r'strcmp\(argv\[1\], "([a-z-]+)"\)', src(f)):
        cli.append(cmd + " " + sub)
        if "*" + cmd + " " + sub + "*" not in man8:
            missing.append(f"k8s-auth.8: command {cmd} {sub}")
opts = []
import glob
for f in sorted(glob.glob(f"{repo}/cli/k8s-auth-*.c")):
    f = f[len(repo) + 1:]
    opts += re.findall(r'\{"([a-z-]+)", (?:no|required)_argument', src(f))
need("k8s-auth.8", [o for o in opts if o != "help"], "option --")
env = re.findall(r'getenv\("(K8S_ASKPASS_[A-Z_]+)"\)', src("askpass/askpass.c"))
need("k8s-ssh-askpass.1", env, "variable")
for m in missing:
    print("missing:", m)
print(f"checked {len(keys)} config keys, {len(pam)} module arguments, {len(cli)} commands, "
      f"{len(opts)} options, {len(env)} askpass variables")
sys.exit(1 if missing else 0)
EOF
ok "every config key, module argument, command, option and askpass variable is in its man page"

# Configuration examples must load (sync --dry-run parses the whole file and
# reads the store; point the store at an empty temp dir).
check_config() {
	local name=$1 file=$2 out
	mkdir -p "$TEST_TMP/store"
	sed -i '/^store:/d' "$file"
	printf 'store: %s\n' "$TEST_TMP/store" >>"$file"
	out=$("$CLI" --config "$file" sync --dry-run 2>&1) || fail "$name does not load: $out"
	ok "$name loads ($out)"
}
cp debian/config.yaml "$TEST_TMP/shipped.yaml"
check_config "debian/config.yaml as shipped" "$TEST_TMP/shipped.yaml"
# Uncomment the sections: "#key:", "#  key:" and "#- item" lines after the header.
awk 'NR > 10 && /^#(  |[^ ])/ { sub(/^#/, "") } { print }' debian/config.yaml >"$TEST_TMP/uncommented.yaml"
grep -q '^tokenReview:' "$TEST_TMP/uncommented.yaml" && grep -q '^accounts:' "$TEST_TMP/uncommented.yaml" ||
	fail "uncommenting debian/config.yaml found no sections"
check_config "debian/config.yaml with every section uncommented" "$TEST_TMP/uncommented.yaml"

# Literal blocks of the man page and ```yaml blocks of the guide that are
# configurations (start with a top-level config section).
"$PY" - "$REPO" "$TEST_TMP/ex" <<'EOF' || fail "extracting examples"
import os, re, sys
repo, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
top = re.compile(r'^(tokenReview|jwt|accounts|policy|login|sync|jwtOptions):')
n = 0
scd = open(f"{repo}/docs/man/k8s-auth.conf.5.scd").read()
for block in re.findall(r'^```\n(.*?)^```', scd, re.S | re.M):
    if top.match(block):
        n += 1
        open(f"{out}/conf5-{n}.yaml", "w").write(block.replace("\\\\", "\\"))
guide = open(f"{repo}/docs/guide.md").read()
for block in re.findall(r'^```yaml\n(.*?)^```', guide, re.S | re.M):
    if top.match(block):
        n += 1
        open(f"{out}/guide-{n}.yaml", "w").write(block)
print(f"{n} examples", file=sys.stderr)
EOF
nex=$(ls "$TEST_TMP/ex" | wc -l)
[ "$nex" -ge 4 ] || fail "only $nex configuration examples found in k8s-auth.conf(5) and docs/guide.md"
for f in "$TEST_TMP"/ex/*.yaml; do
	check_config "example $(basename "$f" .yaml)" "$f"
done
