/* cel_parse.c: CEL source -> checked syntax tree (cel_int.h).
 *
 * The grammar of cel-spec (langdef.md), the macros has, all, exists,
 * exists_one, map (2 and 3 arguments) and filter, optional syntax (.?f,
 * [?i], [?e] and {?k: v} in literals), and the function set of
 * docs/design.md ("CEL").  Everything else -- unknown identifiers and
 * functions, wrong arities, reserved words, message construction,
 * regexes outside the supported subset -- fails here, with its position,
 * so that a configuration either loads with expressions that mean what
 * the apiserver makes of them or does not load at all. */
#include "cel_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ arena */

void *cel_alloc(struct cel_arena *a, size_t n)
{
	struct cel_chunk *c = a->head;
	size_t need = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);

	if (need < n)
		return NULL;
	if (a->limit != 0 && (need > a->limit || a->total > a->limit - need))
		return NULL;
	if (c == NULL || c->size - c->used < need) {
		size_t sz = need > 16384 ? need : 16384;

		c = malloc(sizeof(*c) + sz);
		if (c == NULL)
			return NULL;
		c->size = sz;
		c->used = 0;
		c->next = a->head;
		a->head = c;
	}
	void *p = (char *)c->data + c->used;
	c->used += need;
	a->total += need;
	memset(p, 0, need);
	return p;
}

void cel_arena_release(struct cel_arena *a)
{
	while (a->head != NULL) {
		struct cel_chunk *n = a->head->next;

		free(a->head);
		a->head = n;
	}
	a->total = 0;
}

/* ------------------------------------------------------------------ lexer */

enum tk { TK_EOF, TK_INT, TK_UINT, TK_DOUBLE, TK_STRING, TK_BYTES, TK_IDENT, TK_PUNCT };

struct tok {
	enum tk t;
	int pos;
	char p[3];          /* TK_PUNCT */
	const char *id;     /* TK_IDENT: arena copy */
	uint64_t u;         /* TK_INT (magnitude), TK_UINT */
	double d;
	char *s;            /* TK_STRING/TK_BYTES (arena) */
	size_t n;
};

#define MAX_VARS 32

struct ps {
	const char *s;
	size_t n, i;
	struct cel_program *prog;
	struct cel_arena *ar;
	char *err;
	size_t errlen;
	int failed;
	int depth;
	struct tok cur;
	const char *vars[MAX_VARS]; /* comprehension variables in scope */
	int nvars;
	int next_slot;
	unsigned declared; /* CEL_VAR_* */
};

static void perr(struct ps *ps, int pos, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void perr(struct ps *ps, int pos, const char *fmt, ...)
{
	char msg[200];
	int line = 1, col = 1, multi = 0;
	va_list ap;
	size_t i;

	if (ps->failed)
		return;
	ps->failed = 1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	for (i = 0; i < ps->n; i++)
		if (ps->s[i] == '\n')
			multi = 1;
	for (i = 0; i < (size_t)pos && i < ps->n; i++) {
		if (ps->s[i] == '\n') {
			line++;
			col = 1;
		} else if (((unsigned char)ps->s[i] & 0xc0) != 0x80) {
			col++;
		}
	}
	if (ps->err == NULL || ps->errlen == 0)
		return;
	if (multi)
		snprintf(ps->err, ps->errlen, "line %d column %d: %s", line, col, msg);
	else
		snprintf(ps->err, ps->errlen, "column %d: %s", col, msg);
}

static int is_id0(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_dig(int c)
{
	return c >= '0' && c <= '9';
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static size_t put_utf8(char *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* UTF-8 validity (no surrogates, no overlongs). */
int cel_utf8_valid(const char *s, size_t n);
int cel_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		unsigned c = p[i];
		size_t k;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			k = 1, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			k = 2, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			k = 3, cp = c & 0x07;
		else
			return 0;
		if (n - i <= k)
			return 0;
		for (size_t j = 1; j <= k; j++) {
			if ((p[i + j] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (p[i + j] & 0x3f);
		}
		if ((k == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (k == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			return 0;
		i += k + 1;
	}
	return 1;
}

/* A quoted literal starting at ps->i (at the quote). */
static int lex_string(struct ps *ps, int raw, int bytes, struct tok *t)
{
	char q = ps->s[ps->i];
	int triple = ps->i + 2 < ps->n && ps->s[ps->i + 1] == q && ps->s[ps->i + 2] == q;
	size_t i = ps->i + (triple ? 3 : 1);
	char *o = cel_alloc(ps->ar, ps->n * 4 + 1);
	size_t on = 0;

	if (o == NULL) {
		perr(ps, t->pos, "out of memory");
		return -1;
	}
	for (;;) {
		if (i >= ps->n) {
			perr(ps, t->pos, "unterminated string literal");
			return -1;
		}
		if (triple ? (i + 2 < ps->n && ps->s[i] == q && ps->s[i + 1] == q && ps->s[i + 2] == q)
			   : ps->s[i] == q) {
			i += triple ? 3 : 1;
			break;
		}
		if (!triple && (ps->s[i] == '\n' || ps->s[i] == '\r')) {
			perr(ps, (int)i, "newline in a string literal");
			return -1;
		}
		if (ps->s[i] != '\\' || raw) {
			o[on++] = ps->s[i++];
			continue;
		}
		i++;
		if (i >= ps->n) {
			perr(ps, t->pos, "unterminated string literal");
			return -1;
		}
		char c = ps->s[i];
		uint32_t cp = 0;
		int nd = 0, base = 16;

		switch (c) {
		case 'a': o[on++] = '\a'; i++; continue;
		case 'b': o[on++] = '\b'; i++; continue;
		case 'f': o[on++] = '\f'; i++; continue;
		case 'n': o[on++] = '\n'; i++; continue;
		case 'r': o[on++] = '\r'; i++; continue;
		case 't': o[on++] = '\t'; i++; continue;
		case 'v': o[on++] = '\v'; i++; continue;
		case '\\': case '\'': case '"': case '`': case '?':
			o[on++] = c;
			i++;
			continue;
		case 'x': case 'X': nd = 2; i++; break;
		case 'u': nd = 4; i++; break;
		case 'U': nd = 8; i++; break;
		default:
			if (c >= '0' && c <= '3') {
				nd = 3;
				base = 8;
				break;
			}
			perr(ps, (int)i - 1, "invalid escape sequence '\\%c'", c >= 0x20 && c < 0x7f ? c : '?');
			return -1;
		}
		if ((c == 'u' || c == 'U') && bytes) {
			perr(ps, (int)i - 2, "\\%c escape in a bytes literal", c);
			return -1;
		}
		for (int k = 0; k < nd; k++) {
			int h = i < ps->n ? hexval(ps->s[i]) : -1;

			if (h < 0 || h >= base) {
				perr(ps, (int)i, "malformed escape sequence");
				return -1;
			}
			cp = cp * (uint32_t)base + (uint32_t)h;
			i++;
		}
		if (bytes) {
			o[on++] = (char)cp;
		} else {
			if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
				perr(ps, t->pos, "escape names an invalid code point");
				return -1;
			}
			on += put_utf8(o + on, cp);
		}
	}
	if (!bytes && !cel_utf8_valid(o, on)) {
		perr(ps, t->pos, "string literal is not valid UTF-8");
		return -1;
	}
	o[on] = '\0';
	t->t = bytes ? TK_BYTES : TK_STRING;
	t->s = o;
	t->n = on;
	ps->i = i;
	return 0;
}

static const char *const reserved[] = {
	"as", "break", "const", "continue", "else", "for", "function", "if", "import", "let",
	"loop", "package", "namespace", "return", "var", "void", "while", NULL
};

static int lex_number(struct ps *ps, struct tok *t)
{
	size_t i = ps->i, st = i;
	int is_double = 0;

	if (ps->s[i] == '0' && i + 1 < ps->n && (ps->s[i + 1] == 'x' || ps->s[i + 1] == 'X')) {
		uint64_t v = 0;

		i += 2;
		if (i >= ps->n || hexval(ps->s[i]) < 0) {
			perr(ps, t->pos, "malformed hexadecimal literal");
			return -1;
		}
		while (i < ps->n && hexval(ps->s[i]) >= 0) {
			if (v > (UINT64_MAX >> 4)) {
				perr(ps, t->pos, "integer literal out of range");
				return -1;
			}
			v = (v << 4) | (uint64_t)hexval(ps->s[i++]);
		}
		t->u = v;
		goto suffix;
	}
	while (i < ps->n && is_dig(ps->s[i]))
		i++;
	if (i + 1 < ps->n && ps->s[i] == '.' && is_dig(ps->s[i + 1])) {
		is_double = 1;
		i++;
		while (i < ps->n && is_dig(ps->s[i]))
			i++;
	}
	if (i < ps->n && (ps->s[i] == 'e' || ps->s[i] == 'E')) {
		size_t j = i + 1;

		if (j < ps->n && (ps->s[j] == '+' || ps->s[j] == '-'))
			j++;
		if (j < ps->n && is_dig(ps->s[j])) {
			is_double = 1;
			i = j;
			while (i < ps->n && is_dig(ps->s[i]))
				i++;
		}
	}
	if (is_double) {
		char buf[64];

		if (i - st >= sizeof(buf)) {
			perr(ps, t->pos, "floating-point literal too long");
			return -1;
		}
		memcpy(buf, ps->s + st, i - st);
		buf[i - st] = '\0';
		t->t = TK_DOUBLE;
		t->d = strtod(buf, NULL);
		ps->i = i;
		return 0;
	}
	{
		uint64_t v = 0;

		for (size_t k = st; k < i; k++) {
			uint64_t d = (uint64_t)(ps->s[k] - '0');

			if (v > (UINT64_MAX - d) / 10) {
				perr(ps, t->pos, "integer literal out of range");
				return -1;
			}
			v = v * 10 + d;
		}
		t->u = v;
	}
suffix:
	if (i < ps->n && (ps->s[i] == 'u' || ps->s[i] == 'U')) {
		t->t = TK_UINT;
		i++;
	} else {
		t->t = TK_INT;
	}
	if (i < ps->n && (is_id0(ps->s[i]) || is_dig(ps->s[i]) || ps->s[i] == '.')) {
		if (!(ps->s[i] == '.' && t->t != TK_DOUBLE)) {
			perr(ps, t->pos, "malformed number");
			return -1;
		}
	}
	ps->i = i;
	return 0;
}

static void lex(struct ps *ps)
{
	struct tok *t = &ps->cur;
	static const char *const two[] = {"==", "!=", "<=", ">=", "&&", "||", NULL};

	memset(t, 0, sizeof(*t));
	if (ps->failed) {
		t->t = TK_EOF;
		return;
	}
	for (;;) {
		while (ps->i < ps->n && (ps->s[ps->i] == ' ' || ps->s[ps->i] == '\t' ||
					 ps->s[ps->i] == '\n' || ps->s[ps->i] == '\r' ||
					 ps->s[ps->i] == '\f'))
			ps->i++;
		if (ps->i + 1 < ps->n && ps->s[ps->i] == '/' && ps->s[ps->i + 1] == '/') {
			while (ps->i < ps->n && ps->s[ps->i] != '\n')
				ps->i++;
			continue;
		}
		break;
	}
	t->pos = (int)ps->i;
	if (ps->i >= ps->n) {
		t->t = TK_EOF;
		return;
	}
	char c = ps->s[ps->i];

	if (is_id0(c)) {
		size_t st = ps->i, len;
		int raw = 0, bytes = 0;

		while (ps->i < ps->n && (is_id0(ps->s[ps->i]) || is_dig(ps->s[ps->i])))
			ps->i++;
		len = ps->i - st;
		/* String prefixes: r, b, rb, br (any case), directly before a quote. */
		if (len <= 2 && ps->i < ps->n && (ps->s[ps->i] == '\'' || ps->s[ps->i] == '"')) {
			int ok = 1;

			for (size_t k = st; k < ps->i; k++) {
				if (ps->s[k] == 'r' || ps->s[k] == 'R')
					ok = ok && !raw, raw = 1;
				else if (ps->s[k] == 'b' || ps->s[k] == 'B')
					ok = ok && !bytes, bytes = 1;
				else
					ok = 0;
			}
			if (ok) {
				lex_string(ps, raw, bytes, t);
				return;
			}
		}
		char *id = cel_alloc(ps->ar, len + 1);

		if (id == NULL) {
			perr(ps, t->pos, "out of memory");
			return;
		}
		memcpy(id, ps->s + st, len);
		for (size_t k = 0; reserved[k] != NULL; k++)
			if (strcmp(id, reserved[k]) == 0) {
				perr(ps, t->pos, "reserved identifier '%s'", id);
				return;
			}
		t->t = TK_IDENT;
		t->id = id;
		return;
	}
	/* A float may start with its point (cel-spec FLOAT_LIT, cel-go's
	 * NUM_FLOAT: '.' DIGIT+ EXPONENT?): `.5`; as in cel-go's lexer the
	 * longest token wins, so `a.5` is a name and a number, an error. */
	if (is_dig(c) || (c == '.' && ps->i + 1 < ps->n && is_dig(ps->s[ps->i + 1]))) {
		lex_number(ps, t);
		return;
	}
	if (c == '\'' || c == '"') {
		lex_string(ps, 0, 0, t);
		return;
	}
	t->t = TK_PUNCT;
	for (size_t k = 0; two[k] != NULL; k++)
		if (ps->i + 1 < ps->n && ps->s[ps->i] == two[k][0] && ps->s[ps->i + 1] == two[k][1]) {
			memcpy(t->p, two[k], 2);
			ps->i += 2;
			return;
		}
	if (strchr("+-*/%<>!?:.,[](){}", c) == NULL || c == '\0') {
		if ((unsigned char)c >= 0x20 && (unsigned char)c < 0x7f)
			perr(ps, t->pos, "unexpected character '%c'", c);
		else
			perr(ps, t->pos, "unexpected byte 0x%02x", (unsigned char)c);
		t->t = TK_EOF;
		return;
	}
	t->p[0] = c;
	ps->i++;
}

static int is_p(const struct ps *ps, const char *p)
{
	return ps->cur.t == TK_PUNCT && strcmp(ps->cur.p, p) == 0;
}

static int expect(struct ps *ps, const char *p)
{
	if (!is_p(ps, p)) {
		if (ps->cur.t == TK_EOF)
			perr(ps, ps->cur.pos, "expected '%s' at the end of the expression", p);
		else
			perr(ps, ps->cur.pos, "expected '%s'", p);
		return -1;
	}
	lex(ps);
	return 0;
}

/* ----------------------------------------------------------------- parser */

static struct cel_node *node(struct ps *ps, enum cel_nk k, int pos)
{
	struct cel_node *n = cel_alloc(ps->ar, sizeof(*n));

	if (n == NULL) {
		perr(ps, pos, "out of memory");
		return NULL;
	}
	n->k = k;
	n->pos = pos;
	return n;
}

static struct cel_val *litval(struct ps *ps, enum cel_vt t)
{
	struct cel_val *v = cel_alloc(ps->ar, sizeof(*v));

	if (v == NULL)
		perr(ps, ps->cur.pos, "out of memory");
	else
		v->t = t;
	return v;
}

static struct cel_node *expr(struct ps *ps);

struct fndef {
	const char *name;
	enum cel_fn fn;
	int member;   /* 1 receiver style, 0 global */
	int min, max; /* argument counts besides the receiver */
};

static const struct fndef fns[] = {
	{"size", F_SIZE, 0, 1, 1}, {"size", F_SIZE, 1, 0, 0},
	{"startsWith", F_STARTS, 1, 1, 1}, {"endsWith", F_ENDS, 1, 1, 1},
	{"contains", F_CONTAINS, 1, 1, 1},
	{"matches", F_MATCHES, 1, 1, 1}, {"matches", F_MATCHES, 0, 2, 2},
	{"lowerAscii", F_LOWER, 1, 0, 0}, {"upperAscii", F_UPPER, 1, 0, 0},
	{"split", F_SPLIT, 1, 1, 2}, {"join", F_JOIN, 1, 0, 1}, {"replace", F_REPLACE, 1, 2, 3},
	{"trim", F_TRIM, 1, 0, 0}, {"substring", F_SUBSTRING, 1, 1, 2},
	{"indexOf", F_INDEXOF, 1, 1, 2}, {"lastIndexOf", F_LASTINDEXOF, 1, 1, 2},
	{"charAt", F_CHARAT, 1, 1, 1},
	{"string", F_STRING, 0, 1, 1}, {"int", F_INT, 0, 1, 1}, {"uint", F_UINT, 0, 1, 1},
	{"double", F_DOUBLE, 0, 1, 1}, {"bytes", F_BYTES, 0, 1, 1}, {"bool", F_BOOL, 0, 1, 1},
	{"dyn", F_DYN, 0, 1, 1}, {"type", F_TYPE, 0, 1, 1},
	{"orValue", F_ORVALUE, 1, 1, 1}, {"hasValue", F_HASVALUE, 1, 0, 0},
	{"value", F_VALUE, 1, 0, 0}, {"or", F_OR, 1, 1, 1},
	{NULL, 0, 0, 0, 0}
};

static const char *const type_names[] = {
	"null_type", "bool", "int", "uint", "double", "string", "bytes", "list", "map", "type", NULL
};

/* Arguments after '(' up to and including ')'. */
static int args(struct ps *ps, struct cel_node ***out, size_t *n)
{
	struct cel_node **v = NULL;
	size_t cap = 0;

	*n = 0;
	if (is_p(ps, ")")) {
		lex(ps);
		*out = NULL;
		return 0;
	}
	for (;;) {
		struct cel_node *e = expr(ps);

		if (e == NULL)
			return -1;
		if (*n == cap) {
			struct cel_node **nv;

			cap = cap ? cap * 2 : 4;
			nv = cel_alloc(ps->ar, cap * sizeof(*nv));
			if (nv == NULL) {
				perr(ps, ps->cur.pos, "out of memory");
				return -1;
			}
			if (*n)
				memcpy(nv, v, *n * sizeof(*nv));
			v = nv;
		}
		v[(*n)++] = e;
		if (is_p(ps, ",")) {
			lex(ps);
			continue;
		}
		if (expect(ps, ")") != 0)
			return -1;
		break;
	}
	*out = v;
	return 0;
}

static int declared_slot(struct ps *ps, const char *name)
{
	for (int k = ps->nvars - 1; k >= 0; k--)
		if (strcmp(ps->vars[k], name) == 0)
			return k;
	return -1;
}

/* Resolve identifier references once the comprehension scopes are known:
 * done while parsing macro bodies, so a macro's variable is pushed before
 * its body is parsed.  Macros: we need the variable name before the body,
 * so macro arguments are parsed specially (see member_call). */
static struct cel_node *ident_ref(struct ps *ps, const char *name, int pos)
{
	struct cel_node *n;
	int slot = declared_slot(ps, name);

	if (slot >= 0) {
		n = node(ps, N_IDENT, pos);
		if (n != NULL) {
			n->name = name;
			n->var = 2 + slot;
		}
		return n;
	}
	if ((strcmp(name, "claims") == 0 && (ps->declared & CEL_VAR_CLAIMS)) ||
	    (strcmp(name, "user") == 0 && (ps->declared & CEL_VAR_USER))) {
		n = node(ps, N_IDENT, pos);
		if (n != NULL) {
			n->name = name;
			n->var = name[0] == 'c' ? 0 : 1;
		}
		return n;
	}
	for (size_t k = 0; type_names[k] != NULL; k++)
		if (strcmp(name, type_names[k]) == 0) {
			n = node(ps, N_LIT, pos);
			if (n == NULL || (n->lit = litval(ps, V_TYPE)) == NULL)
				return NULL;
			n->lit->u.str.s = type_names[k];
			n->lit->u.str.n = strlen(type_names[k]);
			return n;
		}
	perr(ps, pos, "undeclared reference to '%s' (%s)", name,
	     ps->declared == CEL_VAR_CLAIMS ? "this expression has only claims"
	     : ps->declared == CEL_VAR_USER ? "this expression has only user"
	     : "the variables are claims and user");
	return NULL;
}

static struct cel_node *call_node(struct ps *ps, const char *name, int member,
				  struct cel_node *target, struct cel_node **av, size_t ac, int pos)
{
	struct cel_node *n;
	int known = 0;

	for (size_t k = 0; fns[k].name != NULL; k++) {
		if (strcmp(fns[k].name, name) != 0)
			continue;
		known = 1;
		if (fns[k].member != member || (int)ac < fns[k].min || (int)ac > fns[k].max)
			continue;
		n = node(ps, N_CALL, pos);
		if (n == NULL)
			return NULL;
		n->op = fns[k].fn;
		n->a = target;
		n->args = av;
		n->nargs = ac;
		return n;
	}
	if (known)
		perr(ps, pos, "no overload of '%s' takes %zu argument%s%s", name, ac, ac == 1 ? "" : "s",
		     member ? " as a method" : " as a function");
	else
		perr(ps, pos, "unsupported function '%s'", name);
	return NULL;
}

/* The variable argument of a macro: a simple identifier. */
static const char *macro_var(struct ps *ps)
{
	const char *v;

	if (ps->cur.t != TK_IDENT) {
		perr(ps, ps->cur.pos, "the first argument of a macro must be a simple name");
		return NULL;
	}
	v = ps->cur.id;
	if (strcmp(v, "true") == 0 || strcmp(v, "false") == 0 || strcmp(v, "null") == 0 ||
	    strcmp(v, "in") == 0) {
		perr(ps, ps->cur.pos, "the first argument of a macro must be a simple name");
		return NULL;
	}
	lex(ps);
	if (!is_p(ps, ",")) {
		perr(ps, ps->cur.pos, "the first argument of a macro must be a simple name");
		return NULL;
	}
	return v;
}

static struct cel_node *macro(struct ps *ps, const char *name, struct cel_node *target, int pos)
{
	struct cel_node *n = node(ps, N_MACRO, pos), *e;
	struct cel_node *parts[2] = {NULL, NULL};
	size_t np = 0;
	const char *v;

	if (n == NULL)
		return NULL;
	n->a = target;
	n->op = strcmp(name, "all") == 0 ? M_ALL : strcmp(name, "exists") == 0 ? M_EXISTS
		: strcmp(name, "exists_one") == 0 ? M_EXISTS_ONE : strcmp(name, "map") == 0 ? M_MAP
		: M_FILTER;
	v = macro_var(ps);
	if (v == NULL)
		return NULL;
	if (expect(ps, ",") != 0)
		return NULL;
	/* x.all(i, v, p): the two-variable comprehensions of cel-go's ext
	 * library, which the apiserver's authentication environment lacks. */
	if (ps->cur.t == TK_IDENT && declared_slot(ps, ps->cur.id) < 0 &&
	    strcmp(ps->cur.id, "claims") != 0 && strcmp(ps->cur.id, "user") != 0) {
		size_t k = ps->i;

		while (k < ps->n && (ps->s[k] == ' ' || ps->s[k] == '\t' || ps->s[k] == '\n'))
			k++;
		if (k < ps->n && ps->s[k] == ',') {
			perr(ps, pos, "%s() takes a name and one expression (the two-variable form is not supported)",
			     name);
			return NULL;
		}
	}
	if (ps->nvars >= MAX_VARS) {
		perr(ps, pos, "comprehensions nested too deeply");
		return NULL;
	}
	n->name = v;
	n->var = 2 + ps->nvars;
	ps->vars[ps->nvars++] = v;
	for (;;) {
		e = expr(ps);
		if (e == NULL)
			return NULL;
		if (np == 2) {
			perr(ps, e->pos, "too many arguments to %s()", name);
			return NULL;
		}
		parts[np++] = e;
		if (is_p(ps, ",")) {
			lex(ps);
			continue;
		}
		if (expect(ps, ")") != 0)
			return NULL;
		break;
	}
	ps->nvars--;
	if (np == 2 && n->op != M_MAP) {
		perr(ps, pos, "%s() takes a name and one expression (the two-variable form is not supported)",
		     name);
		return NULL;
	}
	if (np == 2) {
		n->b = parts[0]; /* filter */
		n->c = parts[1]; /* transform */
	} else if (n->op == M_MAP) {
		n->c = parts[0];
	} else {
		n->b = parts[0];
	}
	return n;
}

static int is_macro_name(const char *s)
{
	return strcmp(s, "all") == 0 || strcmp(s, "exists") == 0 || strcmp(s, "exists_one") == 0 ||
	       strcmp(s, "map") == 0 || strcmp(s, "filter") == 0;
}

static struct cel_node *primary(struct ps *ps)
{
	struct tok t = ps->cur;
	struct cel_node *n;

	if (is_p(ps, ".")) { /* leading dot: root-scoped name */
		lex(ps);
		if (ps->cur.t != TK_IDENT) {
			perr(ps, t.pos, "expected a name after '.'");
			return NULL;
		}
		t = ps->cur;
		if (is_p(ps, "(")) {
			perr(ps, t.pos, "unsupported function call");
			return NULL;
		}
	}
	switch (t.t) {
	case TK_INT:
		if (t.u > INT64_MAX) {
			perr(ps, t.pos, "integer literal out of range");
			return NULL;
		}
		/* fallthrough */
	case TK_UINT: case TK_DOUBLE: case TK_STRING: case TK_BYTES:
		n = node(ps, N_LIT, t.pos);
		if (n == NULL)
			return NULL;
		n->lit = litval(ps, t.t == TK_INT ? V_INT : t.t == TK_UINT ? V_UINT
				: t.t == TK_DOUBLE ? V_DOUBLE : t.t == TK_STRING ? V_STRING : V_BYTES);
		if (n->lit == NULL)
			return NULL;
		if (t.t == TK_INT)
			n->lit->u.i = (int64_t)t.u;
		else if (t.t == TK_UINT)
			n->lit->u.u = t.u;
		else if (t.t == TK_DOUBLE)
			n->lit->u.d = t.d;
		else {
			n->lit->u.str.s = t.s;
			n->lit->u.str.n = t.n;
		}
		lex(ps);
		return n;
	case TK_IDENT:
		lex(ps);
		if (strcmp(t.id, "true") == 0 || strcmp(t.id, "false") == 0 || strcmp(t.id, "null") == 0) {
			n = node(ps, N_LIT, t.pos);
			if (n == NULL || (n->lit = litval(ps, t.id[0] == 'n' ? V_NULL : V_BOOL)) == NULL)
				return NULL;
			n->lit->u.b = t.id[0] == 't';
			return n;
		}
		if (strcmp(t.id, "in") == 0) {
			perr(ps, t.pos, "unexpected 'in'");
			return NULL;
		}
		if (is_p(ps, "(")) {
			struct cel_node **av;
			size_t ac;

			lex(ps);
			if (strcmp(t.id, "has") == 0) {
				struct cel_node *e = expr(ps);

				if (e == NULL || expect(ps, ")") != 0)
					return NULL;
				if (e->k != N_SELECT || e->optional) {
					perr(ps, t.pos, "invalid argument to has() macro (a field selection such as claims.name)");
					return NULL;
				}
				n = node(ps, N_HAS, t.pos);
				if (n != NULL)
					n->a = e;
				return n;
			}
			if (args(ps, &av, &ac) != 0)
				return NULL;
			return call_node(ps, t.id, 0, NULL, av, ac, t.pos);
		}
		return ident_ref(ps, t.id, t.pos);
	case TK_PUNCT:
		if (is_p(ps, "(")) {
			lex(ps);
			n = expr(ps);
			if (n == NULL || expect(ps, ")") != 0)
				return NULL;
			return n;
		}
		if (is_p(ps, "[") || is_p(ps, "{")) {
			int is_map = is_p(ps, "{");
			const char *close = is_map ? "}" : "]";
			size_t cap = 0;

			lex(ps);
			n = node(ps, is_map ? N_MAP : N_LIST, t.pos);
			if (n == NULL)
				return NULL;
			while (!is_p(ps, close)) {
				int opt = 0;
				struct cel_node *k, *v = NULL;

				if (is_p(ps, "?")) {
					opt = 1;
					lex(ps);
				}
				k = expr(ps);
				if (k == NULL)
					return NULL;
				if (is_map) {
					if (expect(ps, ":") != 0)
						return NULL;
					v = expr(ps);
					if (v == NULL)
						return NULL;
				}
				if (n->nargs + 2 > cap) {
					struct cel_node **na;
					int *nf;

					cap = cap ? cap * 2 : 8;
					na = cel_alloc(ps->ar, cap * sizeof(*na));
					nf = cel_alloc(ps->ar, cap * sizeof(*nf));
					if (na == NULL || nf == NULL) {
						perr(ps, t.pos, "out of memory");
						return NULL;
					}
					if (n->nargs) {
						memcpy(na, n->args, n->nargs * sizeof(*na));
						memcpy(nf, n->optflags, n->nargs * sizeof(*nf));
					}
					n->args = na;
					n->optflags = nf;
				}
				n->optflags[n->nargs] = opt;
				n->args[n->nargs++] = k;
				if (is_map) {
					n->optflags[n->nargs] = opt;
					n->args[n->nargs++] = v;
				}
				if (is_p(ps, ",")) {
					lex(ps);
					continue;
				}
				if (!is_p(ps, close)) {
					expect(ps, close);
					return NULL;
				}
			}
			lex(ps);
			return n;
		}
		perr(ps, t.pos, "unexpected '%s'", t.p);
		return NULL;
	default:
		if (!ps->failed)
			perr(ps, t.pos, "unexpected end of expression");
		return NULL;
	}
}

static struct cel_node *member(struct ps *ps)
{
	int depth0 = ps->depth;
	struct cel_node *n = primary(ps);

	while (n != NULL) {
		int pos = ps->cur.pos;

		if (ps->depth - depth0 > CEL_MAX_DEPTH / 2) {
			perr(ps, pos, "expression nested too deeply (more than %d selections)", CEL_MAX_DEPTH / 2);
			return NULL;
		}
		ps->depth++;

		if (is_p(ps, ".")) {
			int opt = 0;
			const char *f;

			lex(ps);
			if (is_p(ps, "?")) {
				opt = 1;
				lex(ps);
			}
			if (ps->cur.t != TK_IDENT) {
				perr(ps, ps->cur.pos, "expected a field name after '.'");
				return NULL;
			}
			f = ps->cur.id;
			lex(ps);
			if (!opt && is_p(ps, "(")) {
				struct cel_node **av;
				size_t ac;

				lex(ps);
				if (is_macro_name(f)) {
					n = macro(ps, f, n, pos);
					continue;
				}
				if (args(ps, &av, &ac) != 0)
					return NULL;
				n = call_node(ps, f, 1, n, av, ac, pos);
				continue;
			}
			struct cel_node *s = node(ps, N_SELECT, pos);

			if (s == NULL)
				return NULL;
			s->a = n;
			s->name = f;
			s->optional = opt;
			n = s;
		} else if (is_p(ps, "[")) {
			int opt = 0;
			struct cel_node *ix, *s;

			lex(ps);
			if (is_p(ps, "?")) {
				opt = 1;
				lex(ps);
			}
			ix = expr(ps);
			if (ix == NULL || expect(ps, "]") != 0)
				return NULL;
			s = node(ps, N_INDEX, pos);
			if (s == NULL)
				return NULL;
			s->a = n;
			s->b = ix;
			s->optional = opt;
			n = s;
		} else {
			break;
		}
	}
	ps->depth = depth0;
	return n;
}

/* `optional.of(x)`, `optional.none()`, `optional.ofNonZeroValue(x)`:
 * parsed before member() sees `optional` as an undeclared name. */
static struct cel_node *optional_ns(struct ps *ps)
{
	struct cel_node **av, *n;
	size_t ac;
	int pos = ps->cur.pos;
	const char *f;

	lex(ps); /* optional */
	if (expect(ps, ".") != 0)
		return NULL;
	if (ps->cur.t != TK_IDENT) {
		perr(ps, ps->cur.pos, "expected a function name after 'optional.'");
		return NULL;
	}
	f = ps->cur.id;
	lex(ps);
	if (expect(ps, "(") != 0 || args(ps, &av, &ac) != 0)
		return NULL;
	n = node(ps, N_CALL, pos);
	if (n == NULL)
		return NULL;
	n->args = av;
	n->nargs = ac;
	if (strcmp(f, "of") == 0 && ac == 1)
		n->op = F_OPT_OF;
	else if (strcmp(f, "none") == 0 && ac == 0)
		n->op = F_OPT_NONE;
	else if (strcmp(f, "ofNonZeroValue") == 0 && ac == 1)
		n->op = F_OPT_OFNONZERO;
	else {
		perr(ps, pos, "unsupported function 'optional.%s' with %zu arguments", f, ac);
		return NULL;
	}
	return n;
}

static struct cel_node *member_or_optional(struct ps *ps)
{
	if (ps->cur.t == TK_IDENT && strcmp(ps->cur.id, "optional") == 0 &&
	    declared_slot(ps, "optional") < 0) {
		struct cel_node *n = optional_ns(ps);

		/* allow member access on the result: optional.of(x).orValue(y) */
		while (n != NULL && is_p(ps, ".")) {
			int pos = ps->cur.pos;
			struct cel_node **av;
			size_t ac;
			const char *f;

			lex(ps);
			if (ps->cur.t != TK_IDENT) {
				perr(ps, ps->cur.pos, "expected a name after '.'");
				return NULL;
			}
			f = ps->cur.id;
			lex(ps);
			if (expect(ps, "(") != 0 || args(ps, &av, &ac) != 0)
				return NULL;
			n = call_node(ps, f, 1, n, av, ac, pos);
		}
		return n;
	}
	return member(ps);
}

static struct cel_node *unary(struct ps *ps)
{
	int pos = ps->cur.pos;
	struct cel_node *n;

	/* Only an operator is a level: a parenthesis or a list is one level
	 * (expr), as in cel-go, whose limit of 250 counts each grammar rule's
	 * nesting and skips plain parentheses. */
	if (!is_p(ps, "!") && !is_p(ps, "-"))
		return member_or_optional(ps);
	if (++ps->depth > CEL_MAX_DEPTH) {
		perr(ps, pos, "expression nested too deeply (more than %d levels)", CEL_MAX_DEPTH);
		return NULL;
	}
	if (is_p(ps, "!")) {
		lex(ps);
		n = node(ps, N_NOT, pos);
		if (n != NULL && (n->a = unary(ps)) == NULL)
			n = NULL;
	} else if (is_p(ps, "-")) {
		lex(ps);
		/* -9223372036854775808 is a literal, not the negation of one. */
		if ((ps->cur.t == TK_INT || ps->cur.t == TK_DOUBLE) && ps->cur.t != TK_EOF) {
			struct tok t = ps->cur;
			size_t save = ps->i;

			lex(ps);
			if (!is_p(ps, ".") && !is_p(ps, "[")) {
				if (t.t == TK_INT && t.u > (uint64_t)INT64_MAX + 1) {
					perr(ps, t.pos, "integer literal out of range");
					ps->depth--;
					return NULL;
				}
				n = node(ps, N_LIT, pos);
				if (n != NULL && (n->lit = litval(ps, t.t == TK_INT ? V_INT : V_DOUBLE)) != NULL) {
					if (t.t == TK_INT)
						n->lit->u.i = (int64_t)(0 - t.u);
					else
						n->lit->u.d = -t.d;
				}
				ps->depth--;
				return n;
			}
			ps->i = save;
			ps->cur = t;
		}
		n = node(ps, N_NEG, pos);
		if (n != NULL && (n->a = unary(ps)) == NULL)
			n = NULL;
	} else {
		n = member_or_optional(ps);
	}
	ps->depth--;
	return n;
}

static struct cel_node *binary(struct ps *ps, int level);

static int binop_at(struct ps *ps, int level, int *op)
{
	static const struct {
		const char *p;
		int level, op;
	} ops[] = {
		{"*", 2, B_MUL}, {"/", 2, B_DIV}, {"%", 2, B_MOD},
		{"+", 1, B_ADD}, {"-", 1, B_SUB},
		{"==", 0, B_EQ}, {"!=", 0, B_NE}, {"<", 0, B_LT}, {"<=", 0, B_LE},
		{">", 0, B_GT}, {">=", 0, B_GE},
	};

	if (level == 0 && ps->cur.t == TK_IDENT && strcmp(ps->cur.id, "in") == 0) {
		*op = B_IN;
		return 1;
	}
	for (size_t k = 0; k < sizeof(ops) / sizeof(ops[0]); k++)
		if (ops[k].level == level && is_p(ps, ops[k].p)) {
			*op = ops[k].op;
			return 1;
		}
	return 0;
}

static struct cel_node *binary(struct ps *ps, int level)
{
	int depth0 = ps->depth;
	struct cel_node *l = level == 2 ? unary(ps) : binary(ps, level + 1);
	int op;

	while (l != NULL && binop_at(ps, level, &op)) {
		struct cel_node *n = node(ps, N_BIN, ps->cur.pos);

		lex(ps);
		if (n == NULL)
			return NULL;
		if (++ps->depth > CEL_MAX_DEPTH) {
			perr(ps, n->pos, "expression nested too deeply (more than %d levels)", CEL_MAX_DEPTH);
			return NULL;
		}
		n->op = op;
		n->a = l;
		n->b = level == 2 ? unary(ps) : binary(ps, level + 1);
		if (n->b == NULL)
			return NULL;
		l = n;
	}
	/* A chain a+b+c.. nests to the left: each operator counts once
	 * (evaluation recurses down the chain), and the count ends here. */
	ps->depth = depth0;
	return l;
}

static struct cel_node *logic(struct ps *ps, int is_or)
{
	int depth0 = ps->depth;
	struct cel_node *l = is_or ? logic(ps, 0) : binary(ps, 0);

	while (l != NULL && is_p(ps, is_or ? "||" : "&&")) {
		struct cel_node *n = node(ps, is_or ? N_OR : N_AND, ps->cur.pos);

		lex(ps);
		if (n == NULL)
			return NULL;
		if (++ps->depth > CEL_MAX_DEPTH) {
			perr(ps, n->pos, "expression nested too deeply (more than %d levels)", CEL_MAX_DEPTH);
			return NULL;
		}
		n->a = l;
		n->b = is_or ? logic(ps, 0) : binary(ps, 0);
		if (n->b == NULL)
			return NULL;
		l = n;
	}
	ps->depth = depth0;
	return l;
}

static struct cel_node *expr(struct ps *ps)
{
	struct cel_node *c, *n;

	if (++ps->depth > CEL_MAX_DEPTH) {
		perr(ps, ps->cur.pos, "expression nested too deeply (more than %d levels)", CEL_MAX_DEPTH);
		return NULL;
	}
	c = logic(ps, 1);
	if (c != NULL && is_p(ps, "?")) {
		n = node(ps, N_COND, ps->cur.pos);
		lex(ps);
		if (n == NULL)
			return NULL;
		n->a = c;
		n->b = logic(ps, 1);
		if (n->b == NULL || expect(ps, ":") != 0)
			return NULL;
		n->c = expr(ps);
		if (n->c == NULL)
			return NULL;
		c = n;
	}
	ps->depth--;
	return c;
}

/* ---------------------------------------------------------------- checks */

static enum cel_static_type lit_type(const struct cel_val *v)
{
	switch (v->t) {
	case V_NULL: return CEL_T_NULL;
	case V_BOOL: return CEL_T_BOOL;
	case V_INT: return CEL_T_INT;
	case V_UINT: return CEL_T_UINT;
	case V_DOUBLE: return CEL_T_DOUBLE;
	case V_STRING: return CEL_T_STRING;
	case V_BYTES: return CEL_T_BYTES;
	case V_TYPE: return CEL_T_TYPE;
	default: return CEL_T_DYN;
	}
}

static const char *stype_name(enum cel_static_type t)
{
	static const char *const names[] = {"dyn", "null_type", "bool", "int", "uint", "double",
					    "string", "bytes", "list", "map", "optional", "type"};

	return names[t];
}

/* Static types, and the overload errors cel-go's checker reports when
 * both sides are known (e.g. 1 + 'a', !1, 'a'.startsWith(1)). */
static enum cel_static_type check(struct ps *ps, struct cel_node *n)
{
	enum cel_static_type a, b, c;

	if (n == NULL || ps->failed)
		return CEL_T_DYN;
	switch (n->k) {
	case N_LIT:
		return lit_type(n->lit);
	case N_IDENT:
		return n->var == 0 || n->var == 1 ? CEL_T_MAP : CEL_T_DYN;
	case N_SELECT:
		a = check(ps, n->a);
		if (a != CEL_T_DYN && a != CEL_T_MAP && a != CEL_T_OPTIONAL) {
			perr(ps, n->pos, "type '%s' does not support field selection", stype_name(a));
			return CEL_T_DYN;
		}
		if (n->optional || a == CEL_T_OPTIONAL)
			return CEL_T_OPTIONAL;
		if (n->a->k == N_IDENT && n->a->var == 1) {
			if (strcmp(n->name, "username") == 0 || strcmp(n->name, "uid") == 0)
				return CEL_T_STRING;
			if (strcmp(n->name, "groups") == 0)
				return CEL_T_LIST;
			if (strcmp(n->name, "extra") == 0)
				return CEL_T_MAP;
			perr(ps, n->pos, "undefined field '%s' of user (username, uid, groups, extra)", n->name);
		}
		return CEL_T_DYN;
	case N_INDEX:
		a = check(ps, n->a);
		check(ps, n->b);
		if (a != CEL_T_DYN && a != CEL_T_MAP && a != CEL_T_LIST && a != CEL_T_OPTIONAL) {
			perr(ps, n->pos, "type '%s' does not support indexing", stype_name(a));
			return CEL_T_DYN;
		}
		return n->optional || a == CEL_T_OPTIONAL ? CEL_T_OPTIONAL : CEL_T_DYN;
	case N_HAS:
		check(ps, n->a->a);
		return CEL_T_BOOL;
	case N_LIST:
	case N_MAP:
		for (size_t i = 0; i < n->nargs; i++) {
			c = check(ps, n->args[i]);
			if (n->optflags[i] && (n->k == N_LIST || i % 2 == 1) && c != CEL_T_DYN &&
			    c != CEL_T_OPTIONAL) {
				perr(ps, n->args[i]->pos, "an optional entry must be an optional value, not %s",
				     stype_name(c));
				return CEL_T_DYN;
			}
			if (n->k == N_MAP && i % 2 == 0 && c != CEL_T_DYN && c != CEL_T_STRING &&
			    c != CEL_T_INT && c != CEL_T_UINT && c != CEL_T_BOOL) {
				perr(ps, n->args[i]->pos, "unsupported map key type %s", stype_name(c));
				return CEL_T_DYN;
			}
		}
		return n->k == N_LIST ? CEL_T_LIST : CEL_T_MAP;
	case N_NOT:
		a = check(ps, n->a);
		if (a != CEL_T_DYN && a != CEL_T_BOOL)
			perr(ps, n->pos, "no such overload: !%s", stype_name(a));
		return CEL_T_BOOL;
	case N_NEG:
		a = check(ps, n->a);
		if (a != CEL_T_DYN && a != CEL_T_INT && a != CEL_T_DOUBLE)
			perr(ps, n->pos, "no such overload: -%s", stype_name(a));
		return a;
	case N_AND:
	case N_OR:
		a = check(ps, n->a);
		b = check(ps, n->b);
		if ((a != CEL_T_DYN && a != CEL_T_BOOL) || (b != CEL_T_DYN && b != CEL_T_BOOL))
			perr(ps, n->pos, "no such overload: %s %s %s", stype_name(a),
			     n->k == N_AND ? "&&" : "||", stype_name(b));
		return CEL_T_BOOL;
	case N_COND:
		a = check(ps, n->a);
		b = check(ps, n->b);
		c = check(ps, n->c);
		if (a != CEL_T_DYN && a != CEL_T_BOOL)
			perr(ps, n->pos, "the condition of ?: must be a bool, not %s", stype_name(a));
		return b == c ? b : CEL_T_DYN;
	case N_BIN:
		a = check(ps, n->a);
		b = check(ps, n->b);
		if (n->op == B_EQ || n->op == B_NE)
			return CEL_T_BOOL;
		if (n->op == B_IN) {
			if (b != CEL_T_DYN && b != CEL_T_LIST && b != CEL_T_MAP)
				perr(ps, n->pos, "no such overload: %s in %s", stype_name(a), stype_name(b));
			return CEL_T_BOOL;
		}
		if (a != CEL_T_DYN && b != CEL_T_DYN) {
			int num_a = a == CEL_T_INT || a == CEL_T_UINT || a == CEL_T_DOUBLE;
			int num_b = b == CEL_T_INT || b == CEL_T_UINT || b == CEL_T_DOUBLE;
			int ok;

			if (n->op >= B_LT)
				ok = (num_a && num_b) || (a == b && (a == CEL_T_STRING || a == CEL_T_BYTES ||
								   a == CEL_T_BOOL));
			else if (n->op == B_ADD)
				ok = a == b && (num_a || a == CEL_T_STRING || a == CEL_T_BYTES || a == CEL_T_LIST);
			else if (n->op == B_MOD)
				ok = a == b && (a == CEL_T_INT || a == CEL_T_UINT);
			else
				ok = a == b && num_a;
			if (!ok) {
				static const char *const opname[] = {"+", "-", "*", "/", "%", "==", "!=", "<",
								     "<=", ">", ">=", "in"};

				perr(ps, n->pos, "no such overload: %s %s %s", stype_name(a), opname[n->op],
				     stype_name(b));
			}
		}
		if (n->op >= B_LT)
			return CEL_T_BOOL;
		return a == b ? a : CEL_T_DYN;
	case N_MACRO:
		a = check(ps, n->a);
		if (a != CEL_T_DYN && a != CEL_T_LIST && a != CEL_T_MAP) {
			perr(ps, n->pos, "comprehensions range over lists and maps, not %s", stype_name(a));
			return CEL_T_DYN;
		}
		b = n->b ? check(ps, n->b) : CEL_T_BOOL;
		if (b != CEL_T_DYN && b != CEL_T_BOOL)
			perr(ps, n->b->pos, "a predicate must be a bool, not %s", stype_name(b));
		if (n->c)
			check(ps, n->c);
		return n->op == M_MAP || n->op == M_FILTER ? CEL_T_LIST : CEL_T_BOOL;
	case N_CALL: {
		enum cel_static_type t = n->a ? check(ps, n->a) : CEL_T_DYN;
		enum cel_static_type at[3] = {CEL_T_DYN, CEL_T_DYN, CEL_T_DYN};

		for (size_t i = 0; i < n->nargs; i++)
			at[i < 3 ? i : 2] = check(ps, n->args[i]);
		if (ps->failed)
			return CEL_T_DYN;
		switch ((enum cel_fn)n->op) {
		case F_STARTS: case F_ENDS: case F_CONTAINS: case F_MATCHES:
			if ((t != CEL_T_DYN && t != CEL_T_STRING) ||
			    (at[0] != CEL_T_DYN && at[0] != CEL_T_STRING) ||
			    (n->nargs > 1 && at[1] != CEL_T_DYN && at[1] != CEL_T_STRING))
				perr(ps, n->pos, "no such overload: this function takes strings");
			if (n->op == F_MATCHES) {
				struct cel_node *pat = n->nargs == 2 ? n->args[1] : n->args[0];

				if (pat->k == N_LIT && pat->lit->t == V_STRING) {
					struct cel_re **nres;
					const char *why = NULL;

					nres = realloc(ps->prog->res, (ps->prog->n_res + 1) * sizeof(*nres));
					if (nres == NULL) {
						perr(ps, n->pos, "out of memory");
						return CEL_T_BOOL;
					}
					ps->prog->res = nres;
					n->re = cel_re_compile(pat->lit->u.str.s, pat->lit->u.str.n, &why);
					if (n->re == NULL) {
						perr(ps, pat->pos, "regular expression: %s", why);
						return CEL_T_BOOL;
					}
					nres[ps->prog->n_res++] = n->re;
				}
			}
			return CEL_T_BOOL;
		case F_SIZE:
			t = n->a ? t : at[0];
			if (t != CEL_T_DYN && t != CEL_T_STRING && t != CEL_T_BYTES && t != CEL_T_LIST &&
			    t != CEL_T_MAP)
				perr(ps, n->pos, "no such overload: size(%s)", stype_name(t));
			return CEL_T_INT;
		case F_LOWER: case F_UPPER: case F_TRIM: case F_REPLACE: case F_SUBSTRING:
		case F_CHARAT:
			if (t != CEL_T_DYN && t != CEL_T_STRING)
				perr(ps, n->pos, "no such overload: this function applies to strings");
			return CEL_T_STRING;
		case F_SPLIT:
			if (t != CEL_T_DYN && t != CEL_T_STRING)
				perr(ps, n->pos, "no such overload: split applies to strings");
			return CEL_T_LIST;
		case F_INDEXOF: case F_LASTINDEXOF:
			if (t != CEL_T_DYN && t != CEL_T_STRING)
				perr(ps, n->pos, "no such overload: this function applies to strings");
			return CEL_T_INT;
		case F_JOIN:
			if (t != CEL_T_DYN && t != CEL_T_LIST)
				perr(ps, n->pos, "no such overload: join applies to lists of strings");
			return CEL_T_STRING;
		case F_STRING: return CEL_T_STRING;
		case F_INT: return CEL_T_INT;
		case F_UINT: return CEL_T_UINT;
		case F_DOUBLE: return CEL_T_DOUBLE;
		case F_BYTES: return CEL_T_BYTES;
		case F_BOOL: return CEL_T_BOOL;
		case F_DYN: return CEL_T_DYN;
		case F_TYPE: return CEL_T_TYPE;
		case F_HASVALUE:
			if (t != CEL_T_DYN && t != CEL_T_OPTIONAL)
				perr(ps, n->pos, "no such overload: hasValue applies to optionals");
			return CEL_T_BOOL;
		case F_ORVALUE: case F_VALUE:
			if (t != CEL_T_DYN && t != CEL_T_OPTIONAL)
				perr(ps, n->pos, "no such overload: %s applies to optionals",
				     n->op == F_VALUE ? "value" : "orValue");
			return CEL_T_DYN;
		case F_OR:
			if (t != CEL_T_DYN && t != CEL_T_OPTIONAL)
				perr(ps, n->pos, "no such overload: or applies to optionals");
			return CEL_T_OPTIONAL;
		case F_OPT_OF: case F_OPT_NONE: case F_OPT_OFNONZERO:
			return CEL_T_OPTIONAL;
		}
		return CEL_T_DYN;
	}
	}
	return CEL_T_DYN;
}

struct cel_program *cel_compile(const char *src, unsigned vars, char *errbuf, size_t errlen)
{
	struct cel_program *p;
	struct ps ps;

	if (errbuf != NULL && errlen > 0)
		errbuf[0] = '\0';
	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		if (errbuf != NULL)
			snprintf(errbuf, errlen, "out of memory");
		return NULL;
	}
	memset(&ps, 0, sizeof(ps));
	ps.s = src;
	ps.n = strlen(src);
	ps.prog = p;
	ps.ar = &p->arena;
	ps.err = errbuf;
	ps.errlen = errlen;
	ps.declared = vars;
	if (ps.n > CEL_MAX_SOURCE) {
		perr(&ps, 0, "expression longer than %d characters", CEL_MAX_SOURCE);
	} else if (ps.n == 0 || strspn(src, " \t\r\n") == ps.n) {
		perr(&ps, 0, "empty expression");
	} else if (!cel_utf8_valid(src, ps.n)) {
		perr(&ps, 0, "expression is not valid UTF-8");
	} else {
		lex(&ps);
		p->root = expr(&ps);
		if (p->root != NULL && ps.cur.t != TK_EOF)
			perr(&ps, ps.cur.pos, "unexpected text after the expression");
		if (!ps.failed)
			p->type = check(&ps, p->root);
	}
	if (ps.failed) {
		cel_program_free(p);
		return NULL;
	}
	p->src = strdup(src);
	if (p->src == NULL) {
		cel_program_free(p);
		if (errbuf != NULL)
			snprintf(errbuf, errlen, "out of memory");
		return NULL;
	}
	return p;
}

void cel_program_free(struct cel_program *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->n_res; i++)
		cel_re_free(p->res[i]);
	free(p->res);
	cel_arena_release(&p->arena);
	free(p->src);
	free(p);
}

enum cel_static_type cel_program_type(const struct cel_program *p)
{
	return p->type;
}

static int uses(const struct cel_node *n, int var, const char *field)
{
	if (n == NULL)
		return 0;
	if (field != NULL && n->k == N_SELECT && n->a->k == N_IDENT && n->a->var == var &&
	    strcmp(n->name, field) == 0)
		return 1;
	if (field == NULL && n->k == N_IDENT && n->var == var)
		return 1;
	if (uses(n->a, var, field) || uses(n->b, var, field) || uses(n->c, var, field))
		return 1;
	for (size_t i = 0; i < n->nargs; i++)
		if (uses(n->args[i], var, field))
			return 1;
	return 0;
}

int cel_program_uses(const struct cel_program *p, const char *var, const char *field)
{
	return uses(p->root, strcmp(var, "claims") == 0 ? 0 : 1, field);
}

int cel_program_uses_var(const struct cel_program *p, const char *var)
{
	return uses(p->root, strcmp(var, "claims") == 0 ? 0 : 1, NULL);
}
