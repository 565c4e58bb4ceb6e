// Differential oracle for the CEL vectors: evaluates each vector of
// tests/data/cel/*.txt (prepared by oracle.py: environment values tagged so
// that JSON integers stay ints) with @bufbuild/cel, an independent CEL
// evaluator, and prints one JSON line per vector: {i, ok, value} or
// {i, ok:false, phase: "parse" or "eval", error}.  Run by
// tests/cel-oracle/run.sh (through oracle.py).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

// The package lives where run.sh installed it (CEL_ORACLE_MODULES).
const require = createRequire((process.env.CEL_ORACLE_MODULES || process.cwd() + "/node_modules") + "/");
const { run, parse, isCelMap, isCelList, isCelUint, isCelError, isCelType } = require("@bufbuild/cel");
const { strings } = require("@bufbuild/cel/ext");

function untag(v) {
	if (v === null || typeof v === "boolean" || typeof v === "string") return v;
	if (Array.isArray(v)) return v.map(untag);
	if ("$int" in v) return BigInt(v.$int);
	if ("$dbl" in v) return Number(v.$dbl);
	const m = new Map();
	for (const [k, x] of Object.entries(v.$map)) m.set(k, untag(x));
	return m;
}

function tag(v) {
	if (v === null || typeof v === "boolean" || typeof v === "string") return v;
	if (typeof v === "bigint") return { $int: v.toString() };
	if (isCelUint(v)) return { $int: v.value.toString() };
	if (typeof v === "number") {
		if (!Number.isFinite(v)) return { $nonfinite: String(v) };
		return { $dbl: v };
	}
	if (v instanceof Uint8Array) return { $bytes: Buffer.from(v).toString("hex") };
	if (isCelType && isCelType(v)) return { $type: String(v) };
	if (isCelList(v)) { const out = []; for (const x of v) out.push(tag(x)); return out; }
	if (Array.isArray(v)) return v.map(tag);
	if (isCelMap(v) || v instanceof Map) {
		const out = {};
		for (const [k, x] of v) out[typeof k === "string" ? k : "$key:" + String(k)] = tag(x);
		return { $map: out };
	}
	return { $other: String(v) };
}

const lines = readFileSync(process.argv[2], "utf8").split("\n").filter((l) => l.length);
for (const line of lines) {
	const t = JSON.parse(line);
	const bindings = {};
	if (t.claims !== undefined) bindings.claims = untag(t.claims);
	if (t.user !== undefined) bindings.user = untag(t.user);
	let out;
	try {
		parse(t.expr);
	} catch (e) {
		out = { i: t.i, ok: false, phase: "parse", error: String(e && e.message ? e.message : e) };
	}
	if (!out) {
		try {
			const r = run(t.expr, bindings, { funcs: strings });
			out = isCelError(r) ? { i: t.i, ok: false, phase: "eval", error: String(r.message ?? r) }
				: { i: t.i, ok: true, value: tag(r) };
		} catch (e) {
			out = { i: t.i, ok: false, phase: "eval", error: String(e && e.message ? e.message : e) };
		}
	}
	console.log(JSON.stringify(out));
}
