/* cel_eval.c: evaluation of a checked CEL tree (cel_parse.c) over the
 * claims and user of one token.
 *
 * Semantics are cel-go's (the apiserver's): errors are values that
 * propagate, except that && and || absorb an error when the other side
 * decides (false && error == false, true || error == true), in either
 * order, and all()/exists() likewise; int and uint arithmetic that
 * overflows is an error; no implicit conversions, except that ==, != and
 * the orderings compare int, uint and double by numeric value
 * (heterogeneous equality), and values of different types are unequal
 * rather than an error.  Every step costs, and an evaluation stops at
 * CEL_COST_LIMIT (the apiserver's per-call limit) or when the values it
 * built pass 16 MiB: a hostile or careless expression cannot hang a
 * login. */
#include "cel_int.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EVAL_MEMORY (16u << 20)
#define MAX_SLOTS (2 + 32)

int cel_utf8_valid(const char *s, size_t n);

struct ctx {
	struct cel_arena ar;
	uint64_t cost, limit;
	int fatal;           /* cost or memory limit: nothing absorbs it */
	const char *fatal_msg;
	struct cel_val *slots[MAX_SLOTS];
};

static __thread uint64_t last_cost;
/* Comparisons done by equal() and the map lookups since the last charge:
 * map equality and lookups are linear in the map, so a comprehension over
 * a large claim could otherwise do quadratic work for linear cost. */
static __thread uint64_t cmp_steps;

uint64_t cel_last_cost(void)
{
	return last_cost;
}

#define OOM_MSG "evaluation stopped (cost or memory limit)"
static struct cel_val err_oom = {V_ERR, {.str = {OOM_MSG, sizeof(OOM_MSG) - 1}}};
static struct cel_val val_true = {V_BOOL, {.b = 1}};
static struct cel_val val_false = {V_BOOL, {.b = 0}};
static struct cel_val val_null = {V_NULL, {.i = 0}};
static struct cel_val val_none = {V_OPT, {.opt = NULL}};

static struct cel_val *fatal(struct ctx *c, const char *msg)
{
	if (!c->fatal) {
		c->fatal = 1;
		c->fatal_msg = msg;
	}
	return &err_oom;
}

static struct cel_val *newval(struct ctx *c, enum cel_vt t)
{
	struct cel_val *v = cel_alloc(&c->ar, sizeof(*v));

	if (v == NULL)
		return NULL;
	v->t = t;
	return v;
}

static struct cel_val *mkerr(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static struct cel_val *mkerr(struct ctx *c, const char *fmt, ...)
{
	struct cel_val *v = newval(c, V_ERR);
	char buf[200], *s;
	va_list ap;
	int n;

	if (v == NULL)
		return fatal(c, "out of memory");
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	s = cel_alloc(&c->ar, (size_t)n + 1);
	if (s == NULL)
		return fatal(c, "out of memory");
	memcpy(s, buf, (size_t)n);
	v->u.str.s = s;
	v->u.str.n = (size_t)n;
	return v;
}

static struct cel_val *mkbool(int b)
{
	return b ? &val_true : &val_false;
}

static struct cel_val *mkint(struct ctx *c, int64_t i)
{
	struct cel_val *v = newval(c, V_INT);

	if (v == NULL)
		return fatal(c, "out of memory");
	v->u.i = i;
	return v;
}

static struct cel_val *mkuint(struct ctx *c, uint64_t u)
{
	struct cel_val *v = newval(c, V_UINT);

	if (v == NULL)
		return fatal(c, "out of memory");
	v->u.u = u;
	return v;
}

static struct cel_val *mkdouble(struct ctx *c, double d)
{
	struct cel_val *v = newval(c, V_DOUBLE);

	if (v == NULL)
		return fatal(c, "out of memory");
	v->u.d = d;
	return v;
}

/* A string (or bytes) value of n bytes; *buf to fill. */
static struct cel_val *mkstrbuf(struct ctx *c, enum cel_vt t, size_t n, char **buf)
{
	struct cel_val *v = newval(c, t);
	char *s;

	if (v == NULL || n + 1 == 0 || (s = cel_alloc(&c->ar, n + 1)) == NULL)
		return fatal(c, "out of memory");
	v->u.str.s = s;
	v->u.str.n = n;
	*buf = s;
	return v;
}

static struct cel_val *mkstr(struct ctx *c, enum cel_vt t, const char *s, size_t n)
{
	char *b = NULL;
	struct cel_val *v = mkstrbuf(c, t, n, &b);

	if (v->t == t && n)
		memcpy(b, s, n);
	return v;
}

static struct cel_val *mklist(struct ctx *c, size_t n)
{
	struct cel_val *v = newval(c, V_LIST);

	if (v == NULL)
		return fatal(c, "out of memory");
	if (n && (v->u.list.v = cel_alloc(&c->ar, n * sizeof(*v->u.list.v))) == NULL)
		return fatal(c, "out of memory");
	return v;
}

static struct cel_val *mkopt(struct ctx *c, struct cel_val *inner)
{
	struct cel_val *v;

	if (inner == NULL)
		return &val_none;
	v = newval(c, V_OPT);
	if (v == NULL)
		return fatal(c, "out of memory");
	v->u.opt = inner;
	return v;
}

static const char *tname(const struct cel_val *v)
{
	static const char *const n[] = {"null_type", "bool", "int", "uint", "double", "string",
					"bytes", "list", "map", "type", "optional_type", "error"};

	return n[v->t];
}

static int charge(struct ctx *c, uint64_t n)
{
	c->cost += n;
	if (c->cost > c->limit) {
		fatal(c, "operation cancelled: actual cost limit exceeded");
		return -1;
	}
	return 0;
}

/* -------------------------------------------------------------- JSON in */

static struct cel_val *from_json(struct ctx *c, json_t *j, int depth)
{
	struct cel_val *v;
	size_t i;

	if (depth > 200)
		return mkerr(c, "value nested too deeply");
	switch (json_typeof(j)) {
	case JSON_NULL: return &val_null;
	case JSON_TRUE: return &val_true;
	case JSON_FALSE: return &val_false;
	case JSON_INTEGER: return mkint(c, (int64_t)json_integer_value(j));
	case JSON_REAL: return mkdouble(c, json_real_value(j));
	case JSON_STRING: return mkstr(c, V_STRING, json_string_value(j), json_string_length(j));
	case JSON_ARRAY:
		v = mklist(c, json_array_size(j));
		if (v->t != V_LIST)
			return v;
		for (i = 0; i < json_array_size(j); i++) {
			v->u.list.v[i] = from_json(c, json_array_get(j, i), depth + 1);
			if (v->u.list.v[i]->t == V_ERR)
				return v->u.list.v[i];
		}
		v->u.list.n = i;
		return v;
	case JSON_OBJECT: {
		const char *k;
		json_t *x;
		size_t n = json_object_size(j);

		v = newval(c, V_MAP);
		if (v == NULL || (n && ((v->u.map.k = cel_alloc(&c->ar, n * sizeof(void *))) == NULL ||
					(v->u.map.v = cel_alloc(&c->ar, n * sizeof(void *))) == NULL)))
			return fatal(c, "out of memory");
		json_object_foreach(j, k, x) {
			struct cel_val *kv = mkstr(c, V_STRING, k, strlen(k));
			struct cel_val *vv = from_json(c, x, depth + 1);

			if (kv->t == V_ERR)
				return kv;
			if (vv->t == V_ERR)
				return vv;
			v->u.map.k[v->u.map.n] = kv;
			v->u.map.v[v->u.map.n++] = vv;
		}
		return v;
	}
	}
	return mkerr(c, "unsupported JSON value");
}

/* ------------------------------------------------------------- JSON out */

static json_t *to_json(const struct cel_val *v, char *errbuf, size_t errlen, int depth)
{
	json_t *j;
	size_t i;

	if (depth > 200) {
		snprintf(errbuf, errlen, "result nested too deeply");
		return NULL;
	}
	switch (v->t) {
	case V_NULL: return json_null();
	case V_BOOL: return json_boolean(v->u.b);
	case V_INT: return json_integer(v->u.i);
	case V_UINT:
		if (v->u.u <= INT64_MAX)
			return json_integer((json_int_t)v->u.u);
		return json_real((double)v->u.u);
	case V_DOUBLE:
		if (!isfinite(v->u.d)) {
			snprintf(errbuf, errlen, "a result that is not a finite number cannot be used");
			return NULL;
		}
		return json_real(v->u.d);
	case V_STRING: return json_stringn(v->u.str.s, v->u.str.n);
	case V_LIST:
		j = json_array();
		for (i = 0; j != NULL && i < v->u.list.n; i++) {
			json_t *e = to_json(v->u.list.v[i], errbuf, errlen, depth + 1);

			if (e == NULL || json_array_append_new(j, e) != 0) {
				json_decref(j);
				return NULL;
			}
		}
		return j;
	case V_MAP:
		j = json_object();
		for (i = 0; j != NULL && i < v->u.map.n; i++) {
			json_t *e;

			if (v->u.map.k[i]->t != V_STRING || memchr(v->u.map.k[i]->u.str.s, '\0',
								    v->u.map.k[i]->u.str.n) != NULL) {
				snprintf(errbuf, errlen, "a map result must have string keys");
				json_decref(j);
				return NULL;
			}
			e = to_json(v->u.map.v[i], errbuf, errlen, depth + 1);
			if (e == NULL || json_object_setn_new(j, v->u.map.k[i]->u.str.s,
							       v->u.map.k[i]->u.str.n, e) != 0) {
				json_decref(j);
				return NULL;
			}
		}
		return j;
	default:
		snprintf(errbuf, errlen, "a result of type %s cannot be used here", tname(v));
		return NULL;
	}
}

/* ------------------------------------------------------ equality, order */

/* -1, 0, 1; 2 when unordered (NaN) or not both numbers.  int and uint
 * against double as cel-go does (common/types/compare.go,
 * compareDoubleInt and compareDoubleUint): the integer is converted to
 * double and the doubles compared, so beyond 2^53 the conversion rounds
 * (cel-spec conformance: `dyn(9223372036854775807) < 9223372036854775808.0`
 * is false, `>=` true). */
static int numcmp(const struct cel_val *a, const struct cel_val *b)
{
	if (a->t == V_INT && b->t == V_INT)
		return (a->u.i > b->u.i) - (a->u.i < b->u.i);
	if (a->t == V_UINT && b->t == V_UINT)
		return (a->u.u > b->u.u) - (a->u.u < b->u.u);
	if (a->t == V_DOUBLE && b->t == V_DOUBLE) {
		if (isnan(a->u.d) || isnan(b->u.d))
			return 2;
		return (a->u.d > b->u.d) - (a->u.d < b->u.d);
	}
	if (a->t == V_INT && b->t == V_UINT)
		return a->u.i < 0 ? -1 : ((uint64_t)a->u.i > b->u.u) - ((uint64_t)a->u.i < b->u.u);
	if (a->t == V_UINT && b->t == V_INT)
		return -numcmp(b, a);
	if ((a->t == V_INT || a->t == V_UINT) && b->t == V_DOUBLE) {
		double x = a->t == V_INT ? (double)a->u.i : (double)a->u.u, d = b->u.d;

		if (isnan(d))
			return 2;
		return (x > d) - (x < d);
	}
	if (a->t == V_DOUBLE && (b->t == V_INT || b->t == V_UINT)) {
		int r = numcmp(b, a);

		return r == 2 ? 2 : -r;
	}
	return 2;
}

static int isnum(const struct cel_val *v)
{
	return v->t == V_INT || v->t == V_UINT || v->t == V_DOUBLE;
}

static struct cel_val *map_get(const struct cel_val *m, const struct cel_val *k);

static int equal(const struct cel_val *a, const struct cel_val *b)
{
	size_t i;

	cmp_steps++;
	if (isnum(a) && isnum(b))
		return numcmp(a, b) == 0;
	if (a->t != b->t)
		return 0;
	switch (a->t) {
	case V_NULL: return 1;
	case V_BOOL: return a->u.b == b->u.b;
	case V_STRING: case V_BYTES: case V_TYPE:
		return a->u.str.n == b->u.str.n && memcmp(a->u.str.s, b->u.str.s, a->u.str.n) == 0;
	case V_LIST:
		if (a->u.list.n != b->u.list.n)
			return 0;
		for (i = 0; i < a->u.list.n; i++)
			if (!equal(a->u.list.v[i], b->u.list.v[i]))
				return 0;
		return 1;
	case V_MAP:
		if (a->u.map.n != b->u.map.n)
			return 0;
		for (i = 0; i < a->u.map.n; i++) {
			struct cel_val *o = map_get(b, a->u.map.k[i]);

			if (o == NULL || !equal(a->u.map.v[i], o))
				return 0;
		}
		return 1;
	case V_OPT:
		if (a->u.opt == NULL || b->u.opt == NULL)
			return a->u.opt == b->u.opt;
		return equal(a->u.opt, b->u.opt);
	default:
		return 0;
	}
}

static struct cel_val *map_get(const struct cel_val *m, const struct cel_val *k)
{
	for (size_t i = 0; i < m->u.map.n; i++)
		if (equal(m->u.map.k[i], k))
			return m->u.map.v[i];
	return NULL;
}

static struct cel_val *map_get_str(const struct cel_val *m, const char *s)
{
	size_t n = strlen(s);

	cmp_steps += m->u.map.n;
	for (size_t i = 0; i < m->u.map.n; i++)
		if (m->u.map.k[i]->t == V_STRING && m->u.map.k[i]->u.str.n == n &&
		    memcmp(m->u.map.k[i]->u.str.s, s, n) == 0)
			return m->u.map.v[i];
	return NULL;
}

static int bytecmp(const struct cel_val *a, const struct cel_val *b)
{
	size_t n = a->u.str.n < b->u.str.n ? a->u.str.n : b->u.str.n;
	int r = n ? memcmp(a->u.str.s, b->u.str.s, n) : 0;

	if (r != 0)
		return r < 0 ? -1 : 1;
	return (a->u.str.n > b->u.str.n) - (a->u.str.n < b->u.str.n);
}

/* Key for a comment in an error: a short, printable excerpt. */
static void excerpt(char *out, size_t size, const struct cel_val *v)
{
	size_t i, o = 0;

	if (v->t == V_STRING) {
		for (i = 0; i < v->u.str.n && o + 4 < size && i < 40; i++)
			out[o++] = (v->u.str.s[i] >= 0x20 && v->u.str.s[i] < 0x7f) ? v->u.str.s[i] : '?';
		if (i < v->u.str.n && o + 4 < size)
			out[o++] = '.', out[o++] = '.', out[o++] = '.';
		out[o] = '\0';
	} else if (v->t == V_INT) {
		snprintf(out, size, "%lld", (long long)v->u.i);
	} else if (v->t == V_UINT) {
		snprintf(out, size, "%lluu", (unsigned long long)v->u.u);
	} else {
		snprintf(out, size, "(%s)", tname(v));
	}
}

/* ------------------------------------------------------------ selection */

static struct cel_val *select_field(struct ctx *c, struct cel_val *v, const char *f, int opt)
{
	struct cel_val *r;

	if (v->t != V_MAP)
		return mkerr(c, "type '%s' does not support field selection", tname(v));
	r = map_get_str(v, f);
	if (r == NULL)
		return opt ? &val_none : mkerr(c, "no such key: %.60s", f);
	return opt ? mkopt(c, r) : r;
}

static int as_index(const struct cel_val *ix, int64_t *out)
{
	if (ix->t == V_INT) {
		*out = ix->u.i;
		return 0;
	}
	if (ix->t == V_UINT) {
		*out = ix->u.u > INT64_MAX ? INT64_MAX : (int64_t)ix->u.u;
		return 0;
	}
	if (ix->t == V_DOUBLE && ix->u.d == trunc(ix->u.d) && fabs(ix->u.d) < 9.2e18) {
		*out = (int64_t)ix->u.d;
		return 0;
	}
	return -1;
}

static struct cel_val *index_val(struct ctx *c, struct cel_val *v, struct cel_val *ix, int opt)
{
	int64_t i;
	struct cel_val *r;
	char ex[64];

	if (v->t == V_LIST) {
		if (as_index(ix, &i) != 0)
			return mkerr(c, "no such overload: list[%s]", tname(ix));
		if (i < 0 || (uint64_t)i >= v->u.list.n)
			return opt ? &val_none : mkerr(c, "index out of range: %lld", (long long)i);
		return opt ? mkopt(c, v->u.list.v[i]) : v->u.list.v[i];
	}
	if (v->t == V_MAP) {
		if (ix->t != V_STRING && ix->t != V_INT && ix->t != V_UINT && ix->t != V_BOOL &&
		    ix->t != V_DOUBLE)
			return mkerr(c, "unsupported key type %s", tname(ix));
		r = map_get(v, ix);
		if (r == NULL) {
			if (opt)
				return &val_none;
			excerpt(ex, sizeof(ex), ix);
			return mkerr(c, "no such key: %s", ex);
		}
		return opt ? mkopt(c, r) : r;
	}
	return mkerr(c, "type '%s' does not support indexing", tname(v));
}

/* ------------------------------------------------------------ arithmetic */

static struct cel_val *concat(struct ctx *c, struct cel_val *a, struct cel_val *b)
{
	if (a->t == V_LIST) {
		struct cel_val *r = mklist(c, a->u.list.n + b->u.list.n);

		if (r->t != V_LIST)
			return r;
		if (charge(c, (a->u.list.n + b->u.list.n) / 10 + 1) != 0)
			return &err_oom;
		if (a->u.list.n) /* an empty list has no array */
			memcpy(r->u.list.v, a->u.list.v, a->u.list.n * sizeof(void *));
		if (b->u.list.n)
			memcpy(r->u.list.v + a->u.list.n, b->u.list.v, b->u.list.n * sizeof(void *));
		r->u.list.n = a->u.list.n + b->u.list.n;
		return r;
	}
	char *buf;
	struct cel_val *r = mkstrbuf(c, a->t, a->u.str.n + b->u.str.n, &buf);

	if (r->t != a->t)
		return r;
	if (charge(c, (a->u.str.n + b->u.str.n) / 10 + 1) != 0)
		return &err_oom;
	memcpy(buf, a->u.str.s, a->u.str.n);
	memcpy(buf + a->u.str.n, b->u.str.s, b->u.str.n);
	return r;
}

static const char *const opname[] = {"+", "-", "*", "/", "%", "==", "!=", "<", "<=", ">", ">=", "in"};

static struct cel_val *arith(struct ctx *c, int op, struct cel_val *a, struct cel_val *b)
{
	if (a->t != b->t)
		goto nooverload;
	if (a->t == V_INT) {
		int64_t x = a->u.i, y = b->u.i, r;

		switch (op) {
		case B_ADD: if (__builtin_add_overflow(x, y, &r)) goto ovf; break;
		case B_SUB: if (__builtin_sub_overflow(x, y, &r)) goto ovf; break;
		case B_MUL: if (__builtin_mul_overflow(x, y, &r)) goto ovf; break;
		case B_DIV:
			if (y == 0)
				return mkerr(c, "division by zero");
			if (x == INT64_MIN && y == -1)
				goto ovf;
			r = x / y;
			break;
		default:
			if (y == 0)
				return mkerr(c, "modulus by zero");
			if (x == INT64_MIN && y == -1)
				goto ovf;
			r = x % y;
		}
		return mkint(c, r);
	}
	if (a->t == V_UINT) {
		uint64_t x = a->u.u, y = b->u.u, r;

		switch (op) {
		case B_ADD: if (__builtin_add_overflow(x, y, &r)) goto uovf; break;
		case B_SUB: if (__builtin_sub_overflow(x, y, &r)) goto uovf; break;
		case B_MUL: if (__builtin_mul_overflow(x, y, &r)) goto uovf; break;
		case B_DIV:
			if (y == 0)
				return mkerr(c, "division by zero");
			r = x / y;
			break;
		default:
			if (y == 0)
				return mkerr(c, "modulus by zero");
			r = x % y;
		}
		return mkuint(c, r);
	}
	if (a->t == V_DOUBLE && op != B_MOD) {
		double x = a->u.d, y = b->u.d;

		return mkdouble(c, op == B_ADD ? x + y : op == B_SUB ? x - y : op == B_MUL ? x * y : x / y);
	}
	if (op == B_ADD && (a->t == V_STRING || a->t == V_BYTES || a->t == V_LIST))
		return concat(c, a, b);
nooverload:
	return mkerr(c, "no such overload: %s %s %s", tname(a), opname[op], tname(b));
ovf:
	return mkerr(c, "integer overflow");
uovf:
	return mkerr(c, "unsigned integer overflow");
}

static struct cel_val *compare(struct ctx *c, int op, struct cel_val *a, struct cel_val *b)
{
	int r;

	if (isnum(a) && isnum(b)) {
		r = numcmp(a, b);
		if (r == 2)
			return &val_false;
	} else if (a->t == b->t && (a->t == V_STRING || a->t == V_BYTES)) {
		r = bytecmp(a, b);
	} else if (a->t == V_BOOL && b->t == V_BOOL) {
		r = (a->u.b > b->u.b) - (a->u.b < b->u.b);
	} else {
		return mkerr(c, "no such overload: %s %s %s", tname(a), opname[op], tname(b));
	}
	switch (op) {
	case B_LT: return mkbool(r < 0);
	case B_LE: return mkbool(r <= 0);
	case B_GT: return mkbool(r > 0);
	default: return mkbool(r >= 0);
	}
}

/* ----------------------------------------------------------- formatting */

/* Go's fmt %g (strconv.FormatFloat(d, 'g', -1, 64): shortest digits that
 * read back, exponent form below 1e-4 and from 1e6), which cel-go's
 * string(double) uses. */
static size_t fmt_double(double d, char *out, size_t size)
{
	char buf[40], mant[32];
	int prec, exp10;

	if (isnan(d))
		return (size_t)snprintf(out, size, "NaN");
	if (isinf(d))
		return (size_t)snprintf(out, size, d > 0 ? "+Inf" : "-Inf");
	if (d == 0)
		return (size_t)snprintf(out, size, signbit(d) ? "-0" : "0");
	for (prec = 1; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*e", prec - 1, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	/* buf: [-]D.DDDe[+-]XX */
	char *e = strchr(buf, 'e');

	exp10 = atoi(e + 1);
	{
		size_t k = 0;

		for (char *p = buf; p < e; p++)
			if (*p >= '0' && *p <= '9')
				mant[k++] = *p;
		mant[k] = '\0';
		while (k > 1 && mant[k - 1] == '0')
			mant[--k] = '\0';
		prec = (int)k;
	}
	if (exp10 < -4 || exp10 >= 6) {
		/* %e: d.ddde±XX with at least two exponent digits */
		size_t o = 0;

		if (d < 0)
			out[o++] = '-';
		out[o++] = mant[0];
		if (prec > 1) {
			out[o++] = '.';
			memcpy(out + o, mant + 1, (size_t)prec - 1);
			o += (size_t)prec - 1;
		}
		return o + (size_t)snprintf(out + o, size - o, "e%c%02d", exp10 < 0 ? '-' : '+',
					    exp10 < 0 ? -exp10 : exp10);
	}
	/* %f with the digits needed */
	{
		int dec = prec - 1 - exp10;

		if (dec < 0)
			dec = 0;
		return (size_t)snprintf(out, size, "%.*f", dec, d);
	}
}

/* ------------------------------------------------------------ strings */

static size_t cp_len(const char *s, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			k++;
	return k;
}

/* Byte offset of code point index cp (cp <= length). */
static size_t cp_off(const char *s, size_t n, size_t cp)
{
	size_t i = 0;

	while (cp > 0 && i < n) {
		i++;
		while (i < n && ((unsigned char)s[i] & 0xc0) == 0x80)
			i++;
		cp--;
	}
	return i;
}

static int is_go_space(const unsigned char *s, size_t n, size_t *len)
{
	uint32_t cp;

	*len = 1;
	if (s[0] == ' ' || (s[0] >= '\t' && s[0] <= '\r'))
		return 1;
	if (s[0] < 0x80)
		return 0;
	if ((s[0] & 0xe0) == 0xc0 && n >= 2) {
		cp = ((uint32_t)(s[0] & 0x1f) << 6) | (s[1] & 0x3f);
		*len = 2;
	} else if ((s[0] & 0xf0) == 0xe0 && n >= 3) {
		cp = ((uint32_t)(s[0] & 0x0f) << 12) | ((uint32_t)(s[1] & 0x3f) << 6) | (s[2] & 0x3f);
		*len = 3;
	} else {
		return 0;
	}
	return cp == 0x85 || cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) ||
	       cp == 0x2028 || cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

static struct cel_val *str_trim(struct ctx *c, struct cel_val *s)
{
	const unsigned char *p = (const unsigned char *)s->u.str.s;
	size_t st = 0, en = s->u.str.n, len;

	while (st < en && is_go_space(p + st, en - st, &len))
		st += len;
	while (en > st) {
		size_t b = en - 1;

		while (b > st && (p[b] & 0xc0) == 0x80)
			b--;
		if (!is_go_space(p + b, en - b, &len) || b + len != en)
			break;
		en = b;
	}
	return mkstr(c, V_STRING, s->u.str.s + st, en - st);
}

static const char *find(const char *h, size_t hn, const char *nd, size_t nn)
{
	if (nn == 0)
		return h;
	return memmem(h, hn, nd, nn);
}

static struct cel_val *str_split(struct ctx *c, struct cel_val *s, struct cel_val *sep, int64_t lim)
{
	size_t cnt = 0, i, pos = 0, max;
	struct cel_val *r;
	const char *p = s->u.str.s;
	size_t n = s->u.str.n, sn = sep->u.str.n;

	if (lim == 0)
		return mklist(c, 0);
	/* count pieces */
	if (sn == 0)
		max = cp_len(p, n);
	else {
		const char *q = p;

		max = 1;
		while ((q = memmem(q, n - (size_t)(q - p), sep->u.str.s, sn)) != NULL) {
			max++;
			q += sn;
		}
	}
	if (lim > 0 && (uint64_t)lim < max)
		max = (size_t)lim;
	if (charge(c, n / 10 + max + 1) != 0)
		return &err_oom;
	r = mklist(c, max);
	if (r->t != V_LIST)
		return r;
	for (i = 0; i < max; i++) {
		size_t end;

		if (i == max - 1) {
			end = n;
		} else if (sn == 0) {
			end = pos + 1;
			while (end < n && ((unsigned char)p[end] & 0xc0) == 0x80)
				end++;
		} else {
			end = (size_t)((const char *)memmem(p + pos, n - pos, sep->u.str.s, sn) - p);
		}
		r->u.list.v[i] = mkstr(c, V_STRING, p + pos, end - pos);
		if (r->u.list.v[i]->t == V_ERR)
			return r->u.list.v[i];
		pos = end + sn;
		cnt++;
	}
	r->u.list.n = cnt;
	return r;
}

static struct cel_val *str_replace(struct ctx *c, struct cel_val *s, struct cel_val *from,
				   struct cel_val *to, int64_t lim)
{
	const char *p = s->u.str.s;
	size_t n = s->u.str.n, fn = from->u.str.n, tn = to->u.str.n, pos = 0, cnt = 0, outn = 0;
	char *buf = NULL;
	struct cel_val *r = NULL;

	/* pass 1: length */
	for (int pass = 0; pass < 2; pass++) {
		pos = 0;
		cnt = 0;
		outn = 0;
		for (;;) {
			const char *q;
			size_t at;

			if (lim >= 0 && cnt >= (uint64_t)lim)
				break;
			if (fn == 0) {
				/* Go: insert before every code point and at the end */
				if (pos > n)
					break;
				at = pos;
			} else {
				q = memmem(p + pos, n - pos, from->u.str.s, fn);
				if (q == NULL)
					break;
				at = (size_t)(q - p);
			}
			if (pass)
				memcpy(buf + outn, p + pos, at - pos);
			outn += at - pos;
			if (pass)
				memcpy(buf + outn, to->u.str.s, tn);
			outn += tn;
			cnt++;
			if (fn == 0) {
				if (at == n) {
					pos = n + 1;
					break;
				}
				size_t e = at + 1;

				while (e < n && ((unsigned char)p[e] & 0xc0) == 0x80)
					e++;
				if (pass)
					memcpy(buf + outn, p + at, e - at);
				outn += e - at;
				pos = e;
			} else {
				pos = at + fn;
			}
		}
		if (pos < n) {
			if (pass)
				memcpy(buf + outn, p + pos, n - pos);
			outn += n - pos;
		}
		if (pass == 0) {
			if (charge(c, (n + outn) / 10 + 1) != 0)
				return &err_oom;
			r = mkstrbuf(c, V_STRING, outn, &buf);
			if (r->t != V_STRING)
				return r;
		}
	}
	return r;
}

static int parse_i64(const char *s, size_t n, int64_t *out)
{
	char buf[32], *end;
	long long v;

	if (n == 0 || n >= sizeof(buf) || memchr(s, '\0', n) != NULL)
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (!(buf[0] == '-' || buf[0] == '+' || (buf[0] >= '0' && buf[0] <= '9')))
		return -1;
	errno = 0;
	v = strtoll(buf, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

static int parse_u64(const char *s, size_t n, uint64_t *out)
{
	char buf[32], *end;
	unsigned long long v;

	if (n == 0 || n >= sizeof(buf) || memchr(s, '\0', n) != NULL)
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (!(buf[0] == '+' || (buf[0] >= '0' && buf[0] <= '9')))
		return -1;
	errno = 0;
	v = strtoull(buf, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

static struct cel_val *conv(struct ctx *c, int fn, struct cel_val *v)
{
	char buf[64];

	switch (fn) {
	case F_STRING:
		switch (v->t) {
		case V_STRING: return v;
		case V_INT: snprintf(buf, sizeof(buf), "%lld", (long long)v->u.i); break;
		case V_UINT: snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v->u.u); break;
		case V_DOUBLE: fmt_double(v->u.d, buf, sizeof(buf)); break;
		case V_BOOL: snprintf(buf, sizeof(buf), "%s", v->u.b ? "true" : "false"); break;
		case V_BYTES:
			if (!cel_utf8_valid(v->u.str.s, v->u.str.n))
				return mkerr(c, "invalid UTF-8 in bytes, cannot convert to string");
			return mkstr(c, V_STRING, v->u.str.s, v->u.str.n);
		default:
			return mkerr(c, "type conversion error from '%s' to 'string'", tname(v));
		}
		return mkstr(c, V_STRING, buf, strlen(buf));
	case F_INT:
		switch (v->t) {
		case V_INT: return v;
		case V_UINT:
			if (v->u.u > INT64_MAX)
				return mkerr(c, "integer overflow");
			return mkint(c, (int64_t)v->u.u);
		case V_DOUBLE:
			if (!(v->u.d > -9223372036854775809.0 && v->u.d < 9223372036854775808.0))
				return mkerr(c, "integer overflow");
			return mkint(c, (int64_t)v->u.d);
		case V_STRING: {
			int64_t i;

			if (parse_i64(v->u.str.s, v->u.str.n, &i) != 0)
				return mkerr(c, "type conversion error from 'string' to 'int'");
			return mkint(c, i);
		}
		default:
			return mkerr(c, "type conversion error from '%s' to 'int'", tname(v));
		}
	case F_UINT:
		switch (v->t) {
		case V_UINT: return v;
		case V_INT:
			if (v->u.i < 0)
				return mkerr(c, "unsigned integer overflow");
			return mkuint(c, (uint64_t)v->u.i);
		case V_DOUBLE:
			if (!(v->u.d > -1.0 && v->u.d < 18446744073709551616.0))
				return mkerr(c, "unsigned integer overflow");
			return mkuint(c, (uint64_t)v->u.d);
		case V_STRING: {
			uint64_t u;

			if (parse_u64(v->u.str.s, v->u.str.n, &u) != 0)
				return mkerr(c, "type conversion error from 'string' to 'uint'");
			return mkuint(c, u);
		}
		default:
			return mkerr(c, "type conversion error from '%s' to 'uint'", tname(v));
		}
	case F_DOUBLE:
		switch (v->t) {
		case V_DOUBLE: return v;
		case V_INT: return mkdouble(c, (double)v->u.i);
		case V_UINT: return mkdouble(c, (double)v->u.u);
		case V_STRING: {
			char *end;
			double d;

			if (v->u.str.n == 0 || v->u.str.n >= sizeof(buf) ||
			    memchr(v->u.str.s, '\0', v->u.str.n) != NULL ||
			    strchr(" \t\n\r\f\v", v->u.str.s[0]) != NULL)
				return mkerr(c, "type conversion error from 'string' to 'double'");
			memcpy(buf, v->u.str.s, v->u.str.n);
			buf[v->u.str.n] = '\0';
			d = strtod(buf, &end);
			if (*end != '\0' || strchr(buf, 'x') != NULL || strchr(buf, 'X') != NULL)
				return mkerr(c, "type conversion error from 'string' to 'double'");
			return mkdouble(c, d);
		}
		default:
			return mkerr(c, "type conversion error from '%s' to 'double'", tname(v));
		}
	case F_BYTES:
		if (v->t == V_BYTES)
			return v;
		if (v->t == V_STRING)
			return mkstr(c, V_BYTES, v->u.str.s, v->u.str.n);
		return mkerr(c, "type conversion error from '%s' to 'bytes'", tname(v));
	case F_BOOL:
		if (v->t == V_BOOL)
			return v;
		if (v->t == V_STRING) {
			static const char *const t[] = {"1", "t", "T", "TRUE", "true", "True", NULL};
			static const char *const f[] = {"0", "f", "F", "FALSE", "false", "False", NULL};

			for (int k = 0; t[k]; k++) {
				if (v->u.str.n == strlen(t[k]) && memcmp(v->u.str.s, t[k], v->u.str.n) == 0)
					return &val_true;
				if (v->u.str.n == strlen(f[k]) && memcmp(v->u.str.s, f[k], v->u.str.n) == 0)
					return &val_false;
			}
		}
		return mkerr(c, "type conversion error from '%s' to 'bool'", tname(v));
	case F_TYPE: {
		struct cel_val *t = newval(c, V_TYPE);
		const char *n = tname(v);

		if (t == NULL)
			return fatal(c, "out of memory");
		t->u.str.s = n;
		t->u.str.n = strlen(n);
		return t;
	}
	}
	return mkerr(c, "internal: unknown conversion");
}

static int is_zero(const struct cel_val *v)
{
	switch (v->t) {
	case V_NULL: return 1;
	case V_BOOL: return !v->u.b;
	case V_INT: return v->u.i == 0;
	case V_UINT: return v->u.u == 0;
	case V_DOUBLE: return v->u.d == 0;
	case V_STRING: case V_BYTES: return v->u.str.n == 0;
	case V_LIST: return v->u.list.n == 0;
	case V_MAP: return v->u.map.n == 0;
	default: return 0;
	}
}

/* --------------------------------------------------------------- eval */

static struct cel_val *eval(struct ctx *c, const struct cel_node *n);

static int want_int(const struct cel_val *v, int64_t *out)
{
	if (v->t != V_INT)
		return -1;
	*out = v->u.i;
	return 0;
}

static struct cel_val *call(struct ctx *c, const struct cel_node *n)
{
	struct cel_val *t = NULL, *a[3] = {NULL, NULL, NULL};
	size_t i;
	int64_t x = 0, y = 0;

	if (n->op == F_OPT_NONE)
		return &val_none;
	if (n->a != NULL) {
		t = eval(c, n->a);
		if (t->t == V_ERR)
			return t;
	}
	for (i = 0; i < n->nargs && i < 3; i++) {
		/* orValue's argument is evaluated only when needed? cel-go
		 * evaluates call arguments eagerly; so do we. */
		a[i] = eval(c, n->args[i]);
		if (a[i]->t == V_ERR)
			return a[i];
	}
	if (t == NULL && n->op != F_OPT_OF && n->op != F_OPT_OFNONZERO) {
		/* global form: first argument is the subject */
		t = a[0];
		a[0] = a[1];
		a[1] = a[2];
	}
	switch ((enum cel_fn)n->op) {
	case F_SIZE:
		if (t->t == V_STRING) {
			if (charge(c, t->u.str.n / 10 + 1) != 0)
				return &err_oom;
			return mkint(c, (int64_t)cp_len(t->u.str.s, t->u.str.n));
		}
		if (t->t == V_BYTES)
			return mkint(c, (int64_t)t->u.str.n);
		if (t->t == V_LIST)
			return mkint(c, (int64_t)t->u.list.n);
		if (t->t == V_MAP)
			return mkint(c, (int64_t)t->u.map.n);
		return mkerr(c, "no such overload: size(%s)", tname(t));
	case F_STARTS: case F_ENDS: case F_CONTAINS: case F_MATCHES:
		if (t->t != V_STRING || a[0]->t != V_STRING)
			return mkerr(c, "no such overload: %s.%s(%s)", tname(t),
				     n->op == F_STARTS ? "startsWith" : n->op == F_ENDS ? "endsWith"
				     : n->op == F_CONTAINS ? "contains" : "matches", tname(a[0]));
		if (charge(c, t->u.str.n / 10 + 1) != 0)
			return &err_oom;
		if (n->op == F_STARTS)
			return mkbool(a[0]->u.str.n <= t->u.str.n &&
				      memcmp(t->u.str.s, a[0]->u.str.s, a[0]->u.str.n) == 0);
		if (n->op == F_ENDS)
			return mkbool(a[0]->u.str.n <= t->u.str.n &&
				      memcmp(t->u.str.s + t->u.str.n - a[0]->u.str.n, a[0]->u.str.s,
					     a[0]->u.str.n) == 0);
		if (n->op == F_CONTAINS)
			return mkbool(find(t->u.str.s, t->u.str.n, a[0]->u.str.s, a[0]->u.str.n) != NULL);
		{
			struct cel_re *re = n->re;
			const char *why = NULL;
			uint64_t used = 0;
			int m;

			if (re == NULL) { /* a pattern computed at run time */
				if (charge(c, a[0]->u.str.n / 10 + 1) != 0)
					return &err_oom;
				re = cel_re_compile(a[0]->u.str.s, a[0]->u.str.n, &why);
				if (re == NULL)
					return mkerr(c, "invalid regular expression: %s", why);
			}
			/* every NFA step is charged: linear, and bounded */
			m = cel_re_search(re, t->u.str.s, t->u.str.n, (c->limit - c->cost) * 10, &used);
			if (re != n->re)
				cel_re_free(re);
			if (m == -2)
				return fatal(c, "out of memory");
			if (charge(c, used / 10 + 1) != 0 || m < 0)
				return fatal(c, "operation cancelled: actual cost limit exceeded");
			return mkbool(m);
		}
	case F_LOWER: case F_UPPER: {
		char *b;
		struct cel_val *r;

		if (t->t != V_STRING)
			return mkerr(c, "no such overload: %s on %s", n->op == F_LOWER ? "lowerAscii" : "upperAscii",
				     tname(t));
		if (charge(c, t->u.str.n / 10 + 1) != 0)
			return &err_oom;
		r = mkstrbuf(c, V_STRING, t->u.str.n, &b);
		if (r->t != V_STRING)
			return r;
		for (i = 0; i < t->u.str.n; i++) {
			char ch = t->u.str.s[i];

			if (n->op == F_LOWER && ch >= 'A' && ch <= 'Z')
				ch = (char)(ch - 'A' + 'a');
			else if (n->op == F_UPPER && ch >= 'a' && ch <= 'z')
				ch = (char)(ch - 'a' + 'A');
			b[i] = ch;
		}
		return r;
	}
	case F_TRIM:
		if (t->t != V_STRING)
			return mkerr(c, "no such overload: trim on %s", tname(t));
		if (charge(c, t->u.str.n / 10 + 1) != 0)
			return &err_oom;
		return str_trim(c, t);
	case F_SPLIT:
		x = -1;
		if (t->t != V_STRING || a[0]->t != V_STRING || (a[1] && want_int(a[1], &x) != 0))
			return mkerr(c, "no such overload: split");
		return str_split(c, t, a[0], x);
	case F_JOIN: {
		size_t len = 0, o = 0;
		char *b;
		struct cel_val *r;
		const struct cel_val *sep = a[0];

		if (t->t != V_LIST || (sep && sep->t != V_STRING))
			return mkerr(c, "no such overload: join");
		for (i = 0; i < t->u.list.n; i++) {
			if (t->u.list.v[i]->t != V_STRING)
				return mkerr(c, "join: list element %zu is %s, not string", i,
					     tname(t->u.list.v[i]));
			len += t->u.list.v[i]->u.str.n + (i && sep ? sep->u.str.n : 0);
		}
		if (charge(c, len / 10 + t->u.list.n + 1) != 0)
			return &err_oom;
		r = mkstrbuf(c, V_STRING, len, &b);
		if (r->t != V_STRING)
			return r;
		for (i = 0; i < t->u.list.n; i++) {
			if (i && sep) {
				memcpy(b + o, sep->u.str.s, sep->u.str.n);
				o += sep->u.str.n;
			}
			memcpy(b + o, t->u.list.v[i]->u.str.s, t->u.list.v[i]->u.str.n);
			o += t->u.list.v[i]->u.str.n;
		}
		return r;
	}
	case F_REPLACE:
		x = -1;
		if (t->t != V_STRING || a[0]->t != V_STRING || a[1]->t != V_STRING ||
		    (a[2] && want_int(a[2], &x) != 0))
			return mkerr(c, "no such overload: replace");
		return str_replace(c, t, a[0], a[1], x);
	case F_SUBSTRING: {
		size_t len, bs, be;

		if (t->t != V_STRING || want_int(a[0], &x) != 0 || (a[1] && want_int(a[1], &y) != 0))
			return mkerr(c, "no such overload: substring");
		if (charge(c, t->u.str.n / 10 + 1) != 0)
			return &err_oom;
		len = cp_len(t->u.str.s, t->u.str.n);
		if (!a[1])
			y = (int64_t)len;
		if (x < 0 || (uint64_t)x > len)
			return mkerr(c, "index out of range: %lld", (long long)x);
		if (y < 0 || (uint64_t)y > len)
			return mkerr(c, "index out of range: %lld", (long long)y);
		if (x > y)
			return mkerr(c, "invalid substring range. start: %lld, end: %lld", (long long)x,
				     (long long)y);
		bs = cp_off(t->u.str.s, t->u.str.n, (size_t)x);
		be = cp_off(t->u.str.s, t->u.str.n, (size_t)y);
		return mkstr(c, V_STRING, t->u.str.s + bs, be - bs);
	}
	case F_CHARAT: {
		size_t len, bs, be;

		if (t->t != V_STRING || want_int(a[0], &x) != 0)
			return mkerr(c, "no such overload: charAt");
		if (charge(c, t->u.str.n / 10 + 1) != 0)
			return &err_oom;
		len = cp_len(t->u.str.s, t->u.str.n);
		if (x < 0 || (uint64_t)x > len)
			return mkerr(c, "index out of range: %lld", (long long)x);
		bs = cp_off(t->u.str.s, t->u.str.n, (size_t)x);
		be = cp_off(t->u.str.s, t->u.str.n, (size_t)x + ((uint64_t)x < len));
		return mkstr(c, V_STRING, t->u.str.s + bs, be - bs);
	}
	case F_INDEXOF: case F_LASTINDEXOF: {
		size_t len, sub_len, k, best = 0;
		int found = 0;

		if (t->t != V_STRING || a[0]->t != V_STRING || (a[1] && want_int(a[1], &x) != 0))
			return mkerr(c, "no such overload: %s", n->op == F_INDEXOF ? "indexOf" : "lastIndexOf");
		len = cp_len(t->u.str.s, t->u.str.n);
		sub_len = cp_len(a[0]->u.str.s, a[0]->u.str.n);
		if (!a[1])
			x = n->op == F_INDEXOF ? 0 : (int64_t)len;
		if (x < 0 || (uint64_t)x > len)
			return mkerr(c, "index out of range: %lld", (long long)x);
		if (charge(c, t->u.str.n / 10 + 1) != 0)
			return &err_oom;
		if (a[0]->u.str.n == 0)
			return mkint(c, x);
		/* one pass over the string, code point by code point (memcmp
		 * at each start: charged by the string's length times the
		 * substring's, over ten) */
		if (charge(c, (uint64_t)t->u.str.n * (a[0]->u.str.n / 10 + 1) / 10) != 0)
			return &err_oom;
		{
			size_t off = cp_off(t->u.str.s, t->u.str.n, n->op == F_INDEXOF ? (size_t)x : 0);

			for (k = n->op == F_INDEXOF ? (size_t)x : 0; k + sub_len <= len; k++) {
				if (n->op == F_LASTINDEXOF && k > (size_t)x)
					break;
				if (t->u.str.n - off >= a[0]->u.str.n &&
				    memcmp(t->u.str.s + off, a[0]->u.str.s, a[0]->u.str.n) == 0) {
					if (n->op == F_INDEXOF)
						return mkint(c, (int64_t)k);
					best = k;
					found = 1;
				}
				off++;
				while (off < t->u.str.n && ((unsigned char)t->u.str.s[off] & 0xc0) == 0x80)
					off++;
			}
		}
		return mkint(c, found ? (int64_t)best : -1);
	}
	case F_STRING: case F_INT: case F_UINT: case F_DOUBLE: case F_BYTES: case F_BOOL: case F_TYPE:
		if ((t->t == V_STRING || t->t == V_BYTES) && charge(c, t->u.str.n / 10 + 1) != 0)
			return &err_oom;
		return conv(c, n->op, t);
	case F_DYN:
		return t;
	case F_ORVALUE: case F_HASVALUE: case F_VALUE: case F_OR:
		if (t->t != V_OPT)
			return mkerr(c, "no such overload: %s on %s",
				     n->op == F_ORVALUE ? "orValue" : n->op == F_HASVALUE ? "hasValue"
				     : n->op == F_VALUE ? "value" : "or", tname(t));
		if (n->op == F_HASVALUE)
			return mkbool(t->u.opt != NULL);
		if (n->op == F_ORVALUE)
			return t->u.opt != NULL ? t->u.opt : a[0];
		if (n->op == F_VALUE)
			return t->u.opt != NULL ? t->u.opt : mkerr(c, "optional.none() dereference");
		if (a[0]->t != V_OPT)
			return mkerr(c, "no such overload: optional.or(%s)", tname(a[0]));
		return t->u.opt != NULL ? t : a[0];
	case F_OPT_OF:
		return mkopt(c, a[0]);
	case F_OPT_OFNONZERO:
		return is_zero(a[0]) ? &val_none : mkopt(c, a[0]);
	case F_OPT_NONE:
		return &val_none;
	}
	return mkerr(c, "internal: unknown function");
}

static struct cel_val *macro(struct ctx *c, const struct cel_node *n)
{
	struct cel_val *range = eval(c, n->a), *first_err = NULL, *r, *out = NULL;
	struct cel_val **items;
	size_t cnt, i, found = 0, on = 0;

	if (range->t == V_ERR)
		return range;
	if (range->t == V_LIST) {
		items = range->u.list.v;
		cnt = range->u.list.n;
	} else if (range->t == V_MAP) {
		items = range->u.map.k;
		cnt = range->u.map.n;
	} else {
		return mkerr(c, "comprehension range must be a list or map, not %s", tname(range));
	}
	if (n->op == M_MAP || n->op == M_FILTER) {
		out = mklist(c, cnt);
		if (out->t != V_LIST)
			return out;
	}
	for (i = 0; i < cnt; i++) {
		if (charge(c, 1) != 0)
			return &err_oom;
		c->slots[n->var] = items[i];
		if (n->b != NULL) {
			r = eval(c, n->b);
			if (c->fatal)
				return &err_oom;
			if (r->t != V_ERR && r->t != V_BOOL)
				r = mkerr(c, "no such overload: predicate returned %s, not bool", tname(r));
			if (r->t == V_ERR) {
				if (n->op == M_ALL || n->op == M_EXISTS) {
					if (first_err == NULL)
						first_err = r;
					continue;
				}
				return r;
			}
			if (n->op == M_ALL && !r->u.b)
				return &val_false;
			if (n->op == M_EXISTS && r->u.b)
				return &val_true;
			if (n->op == M_EXISTS_ONE && r->u.b)
				found++;
			if (n->op == M_FILTER && r->u.b)
				out->u.list.v[on++] = items[i];
			if (n->op == M_MAP && !r->u.b)
				continue;
		}
		if (n->op == M_MAP) {
			r = eval(c, n->c);
			if (r->t == V_ERR)
				return r;
			out->u.list.v[on++] = r;
		}
	}
	switch (n->op) {
	case M_ALL: return first_err ? first_err : &val_true;
	case M_EXISTS: return first_err ? first_err : &val_false;
	case M_EXISTS_ONE: return mkbool(found == 1);
	default:
		out->u.list.n = on;
		return out;
	}
}

static struct cel_val *eval_inner(struct ctx *c, const struct cel_node *n)
{
	struct cel_val *a, *b;

	switch (n->k) {
	case N_LIT:
		return n->lit;
	case N_IDENT:
		a = c->slots[n->var];
		if (a == NULL)
			return mkerr(c, "no such attribute: %s (not available in this expression)", n->name);
		return a;
	case N_SELECT:
		a = eval(c, n->a);
		if (a->t == V_ERR)
			return a;
		if (a->t == V_OPT) { /* optional chaining: x.?y.z */
			if (a->u.opt == NULL)
				return &val_none;
			return select_field(c, a->u.opt, n->name, 1);
		}
		return select_field(c, a, n->name, n->optional);
	case N_INDEX:
		a = eval(c, n->a);
		if (a->t == V_ERR)
			return a;
		b = eval(c, n->b);
		if (b->t == V_ERR)
			return b;
		if (a->t == V_OPT) {
			if (a->u.opt == NULL)
				return &val_none;
			return index_val(c, a->u.opt, b, 1);
		}
		return index_val(c, a, b, n->optional);
	case N_HAS:
		a = eval(c, n->a->a);
		if (a->t == V_ERR)
			return a;
		if (a->t != V_MAP)
			return mkerr(c, "invalid type for field selection: has() on %s", tname(a));
		return mkbool(map_get_str(a, n->a->name) != NULL);
	case N_LIST: {
		struct cel_val *l = mklist(c, n->nargs);

		if (l->t != V_LIST)
			return l;
		for (size_t i = 0; i < n->nargs; i++) {
			a = eval(c, n->args[i]);
			if (a->t == V_ERR)
				return a;
			if (n->optflags[i]) {
				if (a->t != V_OPT)
					return mkerr(c, "optional list element is %s, not optional", tname(a));
				if (a->u.opt == NULL)
					continue;
				a = a->u.opt;
			}
			l->u.list.v[l->u.list.n++] = a;
		}
		return l;
	}
	case N_MAP: {
		struct cel_val *m = newval(c, V_MAP);
		size_t cap = n->nargs / 2;

		if (m == NULL || (cap && ((m->u.map.k = cel_alloc(&c->ar, cap * sizeof(void *))) == NULL ||
					  (m->u.map.v = cel_alloc(&c->ar, cap * sizeof(void *))) == NULL)))
			return fatal(c, "out of memory");
		for (size_t i = 0; i + 1 < n->nargs; i += 2) {
			a = eval(c, n->args[i]);
			if (a->t == V_ERR)
				return a;
			b = eval(c, n->args[i + 1]);
			if (b->t == V_ERR)
				return b;
			if (a->t != V_STRING && a->t != V_INT && a->t != V_UINT && a->t != V_BOOL)
				return mkerr(c, "unsupported key type: %s", tname(a));
			if (n->optflags[i]) {
				if (b->t != V_OPT)
					return mkerr(c, "optional map value is %s, not optional", tname(b));
				if (b->u.opt == NULL)
					continue;
				b = b->u.opt;
			}
			if (map_get(m, a) != NULL)
				return mkerr(c, "Failed with repeated key");
			m->u.map.k[m->u.map.n] = a;
			m->u.map.v[m->u.map.n++] = b;
		}
		return m;
	}
	case N_AND: case N_OR: {
		int is_and = n->k == N_AND;

		a = eval(c, n->a);
		if (c->fatal)
			return &err_oom;
		if (a->t == V_BOOL && a->u.b != is_and)
			return a; /* false && _, true || _ */
		b = eval(c, n->b);
		if (c->fatal)
			return &err_oom;
		if (b->t == V_BOOL && b->u.b != is_and)
			return b;
		if (a->t == V_ERR)
			return a;
		if (b->t == V_ERR)
			return b;
		if (a->t != V_BOOL || b->t != V_BOOL)
			return mkerr(c, "no such overload: %s %s %s", tname(a), is_and ? "&&" : "||", tname(b));
		return mkbool(is_and);
	}
	case N_NOT:
		a = eval(c, n->a);
		if (a->t == V_ERR)
			return a;
		if (a->t != V_BOOL)
			return mkerr(c, "no such overload: !%s", tname(a));
		return mkbool(!a->u.b);
	case N_NEG:
		a = eval(c, n->a);
		if (a->t == V_ERR)
			return a;
		if (a->t == V_INT) {
			if (a->u.i == INT64_MIN)
				return mkerr(c, "integer overflow");
			return mkint(c, -a->u.i);
		}
		if (a->t == V_DOUBLE)
			return mkdouble(c, -a->u.d);
		return mkerr(c, "no such overload: -%s", tname(a));
	case N_COND:
		a = eval(c, n->a);
		if (a->t == V_ERR)
			return a;
		if (a->t != V_BOOL)
			return mkerr(c, "no such overload: %s ? _ : _", tname(a));
		return eval(c, a->u.b ? n->b : n->c);
	case N_BIN:
		a = eval(c, n->a);
		if (a->t == V_ERR)
			return a;
		b = eval(c, n->b);
		if (b->t == V_ERR)
			return b;
		switch (n->op) {
		case B_EQ: return mkbool(equal(a, b));
		case B_NE: return mkbool(!equal(a, b));
		case B_LT: case B_LE: case B_GT: case B_GE: return compare(c, n->op, a, b);
		case B_IN:
			if (b->t == V_LIST) {
				if (charge(c, b->u.list.n / 10 + 1) != 0)
					return &err_oom;
				for (size_t i = 0; i < b->u.list.n; i++)
					if (equal(a, b->u.list.v[i]))
						return &val_true;
				return &val_false;
			}
			if (b->t == V_MAP)
				return mkbool(map_get(b, a) != NULL);
			return mkerr(c, "no such overload: %s in %s", tname(a), tname(b));
		default:
			return arith(c, n->op, a, b);
		}
	case N_CALL:
		return call(c, n);
	case N_MACRO:
		return macro(c, n);
	}
	return mkerr(c, "internal: unknown node");
}

static struct cel_val *eval(struct ctx *c, const struct cel_node *n)
{
	struct cel_val *v;

	if (c->fatal || charge(c, 1) != 0)
		return &err_oom;
	v = eval_inner(c, n);
	if (cmp_steps >= 10) {
		uint64_t k = cmp_steps / 10;

		cmp_steps %= 10;
		if (charge(c, k) != 0)
			return &err_oom;
	}
	return c->fatal ? &err_oom : v;
}

int cel_eval(const struct cel_program *p, json_t *claims, json_t *user, json_t **result,
	     char *errbuf, size_t errlen)
{
	struct ctx c;
	struct cel_val *v;
	int rc = -1;

	*result = NULL;
	if (errbuf != NULL && errlen > 0)
		errbuf[0] = '\0';
	memset(&c, 0, sizeof(c));
	cmp_steps = 0;
	c.limit = CEL_COST_LIMIT;
	c.ar.limit = EVAL_MEMORY;
	if (claims != NULL) {
		c.slots[0] = from_json(&c, claims, 0);
		if (c.slots[0]->t == V_ERR) {
			snprintf(errbuf, errlen, "claims: %.*s", (int)c.slots[0]->u.str.n, c.slots[0]->u.str.s);
			goto out;
		}
	}
	if (user != NULL) {
		c.slots[1] = from_json(&c, user, 0);
		if (c.slots[1]->t == V_ERR) {
			snprintf(errbuf, errlen, "user: %.*s", (int)c.slots[1]->u.str.n, c.slots[1]->u.str.s);
			goto out;
		}
	}
	v = eval(&c, p->root);
	if (c.fatal) {
		snprintf(errbuf, errlen, "%s", c.fatal_msg);
		goto out;
	}
	if (v->t == V_ERR) {
		snprintf(errbuf, errlen, "%.*s", (int)v->u.str.n, v->u.str.s);
		goto out;
	}
	*result = to_json(v, errbuf, errlen, 0);
	if (*result != NULL)
		rc = 0;
	else if (errbuf != NULL && errbuf[0] == '\0')
		snprintf(errbuf, errlen, "out of memory");
out:
	last_cost = c.cost;
	cel_arena_release(&c.ar);
	return rc;
}
