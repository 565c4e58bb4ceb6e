#!/usr/bin/env python3
"""Differential test of the CEL vectors (tests/data/cel/*.txt) against
@bufbuild/cel (oracle.mjs), an independent CEL evaluator.  Every vector is
given to the oracle and its answer classified:

  agree     the same value (ints and doubles kept apart), or an error where
            we expect one: an evaluation error where we expect one
            ("error: ..."), a parse or an evaluation error where we refuse
            the expression at load ("compile: ..."; the oracle has no
            checker: an evaluation error is its refusal);
  known     listed in allow.txt with the reason the oracle is not cel-go
            there, and it does differ (an entry that now agrees, or names
            no vector, is stale: a failure);
  optional  the expression uses the optional syntax or library, which the
            oracle lacks (allow.txt's @optional-syntax entry), and the
            oracle refused it for that reason (a parse error at the '?' or
            an unbound optional function); any other answer is compared;
  differ    anything else: a failure.

Prints each difference and one summary line
  cel-oracle: N vectors compared: A agree, K known (allow.txt), O optional syntax; D differ
and exits 0 only when D is 0, no allow.txt entry is stale, and the oracle
answered every vector exactly once."""
import glob, json, os, re, subprocess, sys

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.environ.get("CEL_ORACLE_DATA", os.path.join(HERE, "..", "data", "cel"))
ALLOW = os.environ.get("CEL_ORACLE_ALLOW", os.path.join(HERE, "allow.txt"))
OPTIONAL = "@optional-syntax"

def uses_optionals(expr):
    return ".?" in expr or "[?" in expr or "{?" in expr or ", ?" in expr or "optional." in expr

# How the oracle refuses what it lacks: its parser fails on .?x, [?x],
# {?k: v} (it reports the position where its grammar gave up, not always the
# '?'); the optional functions are unbound.
OPTIONAL_PARSE = re.compile(r"found .* but expecting")
OPTIONAL_UNBOUND = re.compile(r"^unbound function: (of|none|ofNonZeroValue|hasValue|orValue|value|or|optMap|optFlatMap)$")

def optional_refusal(o):
    if o["ok"]:
        return False
    if o["phase"] == "parse":
        return bool(OPTIONAL_PARSE.search(o["error"]))
    return bool(OPTIONAL_UNBOUND.match(o["error"]))

def load_allow(path):
    allow = {}
    for n, line in enumerate(open(path, encoding="utf-8"), 1):
        line = line.rstrip("\n")
        if not line or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 2 or not parts[1].strip():
            sys.exit("%s:%d: want EXPRESSION<TAB>REASON" % (path, n))
        if parts[0] in allow:
            sys.exit("%s:%d: %s listed twice" % (path, n, parts[0]))
        allow[parts[0]] = parts[1]
    return allow

def tag(v):
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, int):
        return {"$int": str(v)}
    if isinstance(v, float):
        return {"$dbl": v}
    if isinstance(v, list):
        return [tag(x) for x in v]
    return {"$map": {k: tag(x) for k, x in v.items()}}

def default_env():
    return {"claims": {}, "user": {"username": "", "uid": "", "groups": [], "extra": {}}}

def main():
    allow = load_allow(ALLOW)
    vecs, tagged = [], []
    for path in sorted(glob.glob(os.path.join(DATA, "*.txt"))):
        for n, line in enumerate(open(path, encoding="utf-8"), 1):
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            parts = line.split("\t")
            if len(parts) != 3:
                print("%s:%d: not EXPRESSION<TAB>ENV<TAB>EXPECTED" % (path, n), file=sys.stderr)
                return 2
            expr, env, want = parts
            e = default_env() if env == "-" else json.loads(env)
            t = {"i": len(vecs), "expr": expr}
            for k in ("claims", "user"):
                if k in e:
                    t[k] = tag(e[k])
            vecs.append((os.path.basename(path), n, expr, want))
            tagged.append(json.dumps(t))
    if not vecs:
        print("cel-oracle: no vectors in %s" % DATA, file=sys.stderr)
        return 2
    inp = os.path.join(os.environ.get("TMPDIR", "/tmp"), "cel-oracle-in.%d.jsonl" % os.getpid())
    with open(inp, "w", encoding="utf-8") as f:
        f.write("\n".join(tagged) + "\n")
    try:
        res = subprocess.run(["node", os.path.join(HERE, "oracle.mjs"), inp], capture_output=True, text=True)
    finally:
        os.unlink(inp)
    if res.returncode != 0:
        print(res.stderr, file=sys.stderr)
        print("cel-oracle: node exited with %d" % res.returncode, file=sys.stderr)
        return 2
    answers = {}
    for l in res.stdout.splitlines():
        if l.strip():
            o = json.loads(l)
            if o["i"] in answers:
                print("cel-oracle: two answers for vector %d" % o["i"], file=sys.stderr)
                return 2
            answers[o["i"]] = o
    if len(answers) != len(vecs):
        print("cel-oracle: %d answers for %d vectors" % (len(answers), len(vecs)), file=sys.stderr)
        return 2

    agree = known = optional = bad = 0
    used = set()
    for i, (path, n, expr, want) in enumerate(vecs):
        o = answers[i]
        if want.startswith("error: "):
            same = not o["ok"] and o["phase"] == "eval"
            we = want
        elif want.startswith("compile: "):
            same = not o["ok"]
            we = want
        else:
            same = o["ok"] and o["value"] == tag(json.loads(want))
            we = json.dumps(tag(json.loads(want)))
        if o["ok"]:
            theirs = json.dumps(o["value"])
        else:
            theirs = "%s error: %s" % (o["phase"], o["error"].splitlines()[0] if o["error"] else "")
        if expr in allow:
            used.add(expr)
            if same:
                bad += 1
                print("STALE allow.txt: %s:%d: %s: the oracle now agrees (%s)" % (path, n, expr, theirs))
            else:
                known += 1
            continue
        if same:
            agree += 1
        elif OPTIONAL in allow and uses_optionals(expr) and optional_refusal(o):
            used.add(OPTIONAL)
            optional += 1
        else:
            bad += 1
            print("DIFF %s:%d: %s: we: %s, oracle: %s" % (path, n, expr, we, theirs))
    for expr in allow:
        if expr not in used:
            bad += 1
            print("STALE allow.txt: %s: no vector it excuses" % expr)
    print("cel-oracle: %d vectors compared: %d agree, %d known (allow.txt), %d optional syntax; %d differ"
          % (len(vecs), agree, known, optional, bad))
    return 1 if bad else 0

if __name__ == "__main__":
    sys.exit(main())
