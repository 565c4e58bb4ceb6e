#!/usr/bin/env python3
"""Differential test of the CEL vectors (tests/data/cel/*.txt) against
@bufbuild/cel (oracle.mjs).  For every vector whose expected result is a
value or an evaluation error, the oracle must agree: same value (ints and
doubles kept apart), or an error too.  Vectors expecting a compile-time
refusal are ours alone (the oracle has no checker environment) and are
skipped, as are the ones listed in KNOWN with the reason they differ.
Exit 0 when every compared vector agrees."""
import glob, json, os, subprocess, sys

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data", "cel")

# expression -> why the oracle's answer is not the apiserver's (cel-go's);
# our expected value is cel-go's (its source: strconv and strings calls).
KNOWN = {
    "1 // trailing comment": "the oracle's parser does not take comments (cel-spec allows them)",
    "int(' 1')": "cel-go parses with strconv.ParseInt: no spaces",
    "int('')": "cel-go: strconv.ParseInt(\"\") is an error",
    "int('0x10')": "cel-go: strconv.ParseInt base 10",
    "double('abc')": "cel-go: strconv.ParseFloat error, not NaN",
    "double(' 1')": "cel-go: strconv.ParseFloat: no spaces",
    "string(1e6)": "cel-go formats doubles with Go's %g (1e+06); the oracle with JavaScript's",
    "string(0.00001)": "cel-go: Go's %g gives 1e-05",
    "string(1.0/0.0)": "cel-go: Go's %g gives +Inf",
    "string(-1.0/0.0)": "cel-go: Go's %g gives -Inf",
    "has(claims.x)": "cel-go: a key whose value is null is present (map has())",
    "has(dyn(1).a)": "cel-go: has() on a non-map is an error",
    "-9223372036854775808 % -1": "cel-go: modulo of MinInt64 by -1 is an overflow error",
    "1.0 / 0.0": "the result, +Inf, has no JSON form (our test harness), both evaluate to +Inf",
    "9223372036854775807 < 9223372036854775808.0": "cel-go compares int and double exactly (math/big)",
    "matches('hubba', 'ubb')": "cel-go declares the global matches(string, string) too",
    "'a,b,c'.split(',', 2)": "cel-go: strings.SplitN keeps the rest in the last piece",
    "'hello hello'.replace('he', 'we', -1)": "cel-go: strings.Replace with n < 0 replaces all",
    "'hello'.replace('', '_')": "cel-go: strings.Replace inserts at each rune boundary",
    "'hello'.replace('', '_', 2)": "cel-go: strings.Replace inserts at each rune boundary",
    "'\u00e9\u00e9'.replace('', '.')": "cel-go: strings.Replace inserts at each rune boundary",
}

# The oracle has neither the optional syntax (.? [? {?k:} [?e]) nor the
# optional library: such vectors are ours alone.
def uses_optionals(expr):
    return ".?" in expr or "[?" in expr or "{?" in expr or ", ?" in expr or "optional." in expr

def tag(v, is_int):
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, int):
        return {"$int": str(v)}
    if isinstance(v, float):
        return {"$dbl": v}
    if isinstance(v, list):
        return [tag(x, is_int) for x in v]
    return {"$map": {k: tag(x, is_int) for k, x in v.items()}}

def default_env():
    return {"claims": {}, "user": {"username": "", "uid": "", "groups": [], "extra": {}}}

def main():
    vecs, tagged, skipped = [], [], 0
    for path in sorted(glob.glob(os.path.join(DATA, "*.txt"))):
        for n, line in enumerate(open(path, encoding="utf-8"), 1):
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            expr, env, want = line.split("\t")
            if want.startswith("compile: ") or expr in KNOWN or uses_optionals(expr):
                skipped += 1
                continue
            e = default_env() if env == "-" else json.loads(env)
            t = {"i": len(vecs), "expr": expr}
            for k in ("claims", "user"):
                if k in e:
                    t[k] = tag(e[k], True)
            vecs.append((path, n, expr, want))
            tagged.append(json.dumps(t))
    inp = os.path.join(os.environ.get("TMPDIR", "/tmp"), "cel-oracle-in.jsonl")
    with open(inp, "w", encoding="utf-8") as f:
        f.write("\n".join(tagged) + "\n")
    res = subprocess.run(["node", os.path.join(HERE, "oracle.mjs"), inp], capture_output=True, text=True,
                         env=dict(os.environ, NODE_PATH=os.environ.get("NODE_PATH", "")))
    if res.returncode != 0:
        print(res.stderr, file=sys.stderr)
        return 2
    outs = [json.loads(l) for l in res.stdout.splitlines() if l.strip()]
    bad = 0
    for o in outs:
        path, n, expr, want = vecs[o["i"]]
        if want.startswith("error: "):
            if o["ok"]:
                bad += 1
                print("DIFF %s:%d: %s: we: error (%s), oracle: %s" % (os.path.basename(path), n, expr, want[7:], json.dumps(o["value"])))
            continue
        w = tag(json.loads(want), True)
        if not o["ok"]:
            bad += 1
            print("DIFF %s:%d: %s: we: %s, oracle: error %s" % (os.path.basename(path), n, expr, want, o["error"]))
        elif o["value"] != w:
            bad += 1
            print("DIFF %s:%d: %s: we: %s, oracle: %s" % (os.path.basename(path), n, expr, json.dumps(w), json.dumps(o["value"])))
    print("cel-oracle: %d vectors compared, %d differ; %d not compared (compile-time refusals, optionals, "
          "%d known differences of the oracle from cel-go)" % (len(outs), bad, skipped, len(KNOWN)))
    return 1 if bad else 0

if __name__ == "__main__":
    sys.exit(main())
