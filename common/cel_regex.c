/* cel_regex.c: CEL's matches() -- RE2 syntax, run by a Thompson NFA
 * simulation over code points, so that the time is linear in the subject
 * (times the program size) whatever the pattern, as with RE2; a
 * backtracking or POSIX engine is not (glibc's regexec takes seconds on
 * '(a|aa)*b' against 20 kB of 'a': a token holder would choose the 20 kB).
 * Every step is charged to the evaluation's cost budget.
 *
 * matches() asks only whether some substring matches, which does not
 * depend on leftmost-first against leftmost-longest or on greedy against
 * lazy repetition, so a boolean NFA answers as RE2 does.
 *
 * Supported: literals (UTF-8) and escaped punctuation, '.' (any code point
 * but newline), ^ and $ (text boundaries: RE2 without the m flag), \A \z,
 * groups ( ), (?: ), (?P<name> ), (?<name> ), alternation, * + ? {n} {n,}
 * {n,m} and their lazy forms (bounds at most 1000; the expanded program at
 * most 20000 steps), bracket expressions with ranges over code points,
 * negation, [:class:] (ASCII, as RE2) and the escapes below, \d \D \w \W
 * \s \S (ASCII, as RE2), \t \n \r \f \v \a \xHH \x{HHHH}, and a leading
 * (?i) (ASCII case folding; with non-ASCII letters in the pattern it is
 * refused, as RE2 folds Unicode).  Refused at compile time, by name: other
 * flags, \b \B, \p \P, \Q..\E, back-references and octal, \C, \pN, a
 * repetition with nothing to repeat or of a repetition (a**). */
#include "cel_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PATTERN 4096
#define MAX_REPEAT 1000
#define MAX_PROG 20000
#define MAX_DEPTH 100

/* ---------------------------------------------------------------- syntax */

struct range {
	uint32_t lo, hi;
};

struct cls {
	struct range *r;
	size_t n;
	int neg;
};

enum { A_CLS, A_EMPTY, A_CAT, A_ALT, A_REP, A_BOL, A_EOL };

struct ast {
	int k;
	struct cls c;          /* A_CLS */
	struct ast **kids;     /* A_CAT, A_ALT */
	size_t nk;
	struct ast *sub;       /* A_REP */
	int min, max;          /* A_REP: max -1 = unbounded */
};

struct rp {
	const char *p;
	size_t n, i;
	const char *why;
	int icase;
	int depth;
};

static void ast_free(struct ast *a)
{
	if (a == NULL)
		return;
	for (size_t i = 0; i < a->nk; i++)
		ast_free(a->kids[i]);
	free(a->kids);
	ast_free(a->sub);
	free(a->c.r);
	free(a);
}

static struct ast *mk(struct rp *r, int k)
{
	struct ast *a = calloc(1, sizeof(*a));

	if (a == NULL)
		r->why = "out of memory";
	else
		a->k = k;
	return a;
}

static int add_kid(struct rp *r, struct ast *a, struct ast *k)
{
	struct ast **nk = realloc(a->kids, (a->nk + 1) * sizeof(*nk));

	if (nk == NULL) {
		r->why = "out of memory";
		ast_free(k);
		return -1;
	}
	a->kids = nk;
	a->kids[a->nk++] = k;
	return 0;
}

static int add_range(struct rp *r, struct cls *c, uint32_t lo, uint32_t hi)
{
	struct range *nr = realloc(c->r, (c->n + 1) * sizeof(*nr));

	if (nr == NULL) {
		r->why = "out of memory";
		return -1;
	}
	c->r = nr;
	c->r[c->n].lo = lo;
	c->r[c->n].hi = hi;
	c->n++;
	return 0;
}

/* One code point of valid UTF-8 at s (n > 0); its length in *len. */
static uint32_t decode(const unsigned char *s, size_t n, size_t *len)
{
	if (s[0] < 0x80 || n < 2) {
		*len = 1;
		return s[0];
	}
	if ((s[0] & 0xe0) == 0xc0) {
		*len = 2;
		return ((uint32_t)(s[0] & 0x1f) << 6) | (s[1] & 0x3f);
	}
	if ((s[0] & 0xf0) == 0xe0 && n >= 3) {
		*len = 3;
		return ((uint32_t)(s[0] & 0x0f) << 12) | ((uint32_t)(s[1] & 0x3f) << 6) | (s[2] & 0x3f);
	}
	if (n >= 4) {
		*len = 4;
		return ((uint32_t)(s[0] & 0x07) << 18) | ((uint32_t)(s[1] & 0x3f) << 12) |
		       ((uint32_t)(s[2] & 0x3f) << 6) | (s[3] & 0x3f);
	}
	*len = 1;
	return s[0];
}

static int hexv(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The ASCII classes of RE2 (\d \w \s and [:name:]), added to c. */
static int add_named(struct rp *r, struct cls *c, const char *name)
{
	static const struct {
		const char *name;
		const char *ranges; /* pairs lo,hi */
	} tab[] = {
		{"d", "09"}, {"digit", "09"}, {"w", "09AZaz__"}, {"word", "09AZaz__"},
		{"s", "\t\n\f\f\r\r  "}, {"alnum", "09AZaz"}, {"alpha", "AZaz"},
		{"ascii", "\x01\x7f"}, {"blank", "\t\t  "}, {"cntrl", "\x01\x1f\x7f\x7f"},
		{"graph", "!~"}, {"lower", "az"}, {"print", " ~"}, {"punct", "!/:@[`{~"},
		{"space", "\t\r  "}, {"upper", "AZ"}, {"xdigit", "09AFaf"},
	};

	for (size_t k = 0; k < sizeof(tab) / sizeof(tab[0]); k++) {
		if (strcmp(tab[k].name, name) != 0)
			continue;
		for (const char *q = tab[k].ranges; q[0] != '\0'; q += 2)
			if (add_range(r, c, (unsigned char)q[0], (unsigned char)q[1]) != 0)
				return -1;
		if (strcmp(name, "cntrl") == 0 && add_range(r, c, 0, 0) != 0)
			return -1;
		if (strcmp(name, "ascii") == 0 && add_range(r, c, 0, 0) != 0)
			return -1;
		return 0;
	}
	r->why = "unknown [: :] class";
	return -1;
}

/* An escape after '\\': 1 and *cp, or 0 with *cls_name set (d w s, upper
 * case = negated in *neg), or -1 with why. */
static int escape(struct rp *r, uint32_t *cp, const char **cls_name, int *neg)
{
	char c;

	*cls_name = NULL;
	*neg = 0;
	if (r->i >= r->n) {
		r->why = "trailing backslash";
		return -1;
	}
	c = r->p[r->i++];
	switch (c) {
	case 't': *cp = '\t'; return 1;
	case 'n': *cp = '\n'; return 1;
	case 'r': *cp = '\r'; return 1;
	case 'f': *cp = '\f'; return 1;
	case 'v': *cp = '\v'; return 1;
	case 'a': *cp = '\a'; return 1;
	case 'd': case 'w': case 's':
		*cls_name = c == 'd' ? "d" : c == 'w' ? "w" : "s";
		return 0;
	case 'D': case 'W': case 'S':
		*cls_name = c == 'D' ? "d" : c == 'W' ? "w" : "s";
		*neg = 1;
		return 0;
	case 'x': {
		uint32_t v = 0;
		int h, digits = 0;

		if (r->i < r->n && r->p[r->i] == '{') {
			r->i++;
			while (r->i < r->n && (h = hexv(r->p[r->i])) >= 0 && digits < 8) {
				v = v * 16 + (uint32_t)h;
				r->i++;
				digits++;
			}
			if (digits == 0 || r->i >= r->n || r->p[r->i] != '}' || v > 0x10ffff) {
				r->why = "invalid escape sequence \\x{...}";
				return -1;
			}
			r->i++;
		} else {
			for (; digits < 2; digits++) {
				if (r->i >= r->n || (h = hexv(r->p[r->i])) < 0) {
					r->why = "invalid escape sequence \\x";
					return -1;
				}
				v = v * 16 + (uint32_t)h;
				r->i++;
			}
		}
		*cp = v;
		return 1;
	}
	case 'b': case 'B':
		r->why = "word boundaries (\\b, \\B) are not supported";
		return -1;
	case 'p': case 'P':
		r->why = "Unicode classes (\\p, \\P) are not supported";
		return -1;
	case 'Q': case 'E':
		r->why = "\\Q...\\E is not supported";
		return -1;
	case 'C':
		r->why = "\\C is not supported";
		return -1;
	default:
		if (c >= '0' && c <= '9') {
			r->why = "back-references and octal escapes are not supported";
			return -1;
		}
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (unsigned char)c >= 0x80) {
			r->why = "invalid escape sequence";
			return -1;
		}
		*cp = (unsigned char)c;
		return 1;
	}
}

static int fold_check(struct rp *r, uint32_t cp)
{
	if (r->icase && cp >= 0x80) {
		r->why = "(?i) with non-ASCII characters is not supported (RE2 folds Unicode case)";
		return -1;
	}
	return 0;
}

/* Add ASCII case variants of c's ranges (for (?i)). */
static int fold(struct rp *r, struct cls *c)
{
	size_t n = c->n;

	for (size_t k = 0; k < n; k++) {
		uint32_t lo = c->r[k].lo, hi = c->r[k].hi, a, b;

		a = lo > 'A' ? lo : 'A';
		b = hi < 'Z' ? hi : 'Z';
		if (a <= b && add_range(r, c, a + 32, b + 32) != 0)
			return -1;
		a = lo > 'a' ? lo : 'a';
		b = hi < 'z' ? hi : 'z';
		if (a <= b && add_range(r, c, a - 32, b - 32) != 0)
			return -1;
	}
	return 0;
}

static struct ast *cls_atom(struct rp *r, uint32_t lo, uint32_t hi, int neg)
{
	struct ast *a = mk(r, A_CLS);

	if (a == NULL)
		return NULL;
	a->c.neg = neg;
	if (add_range(r, &a->c, lo, hi) != 0 || (r->icase && fold(r, &a->c) != 0)) {
		ast_free(a);
		return NULL;
	}
	return a;
}

/* A bracket expression, r->i just past '['. */
static struct ast *bracket(struct rp *r)
{
	struct ast *a = mk(r, A_CLS);
	int first = 1;

	if (a == NULL)
		return NULL;
	if (r->i < r->n && r->p[r->i] == '^') {
		a->c.neg = 1;
		r->i++;
	}
	for (;;) {
		uint32_t lo, hi;
		const char *name;
		int e, neg;
		size_t len;

		if (r->i >= r->n) {
			r->why = "missing closing ]";
			goto fail;
		}
		if (r->p[r->i] == ']' && !first) {
			r->i++;
			break;
		}
		first = 0;
		if (r->p[r->i] == '[' && r->i + 1 < r->n && r->p[r->i + 1] == ':') {
			const char *end = memmem(r->p + r->i + 2, r->n - r->i - 2, ":]", 2);
			char nm[16];
			size_t nl;
			int cneg = 0;

			if (end == NULL) {
				r->why = "missing closing :]";
				goto fail;
			}
			nl = (size_t)(end - (r->p + r->i + 2));
			if (nl > 0 && r->p[r->i + 2] == '^') {
				r->why = "negated [:^class:] is not supported";
				goto fail;
			}
			if (nl == 0 || nl >= sizeof(nm)) {
				r->why = "unknown [: :] class";
				goto fail;
			}
			memcpy(nm, r->p + r->i + 2, nl);
			nm[nl] = '\0';
			if (strcmp(nm, "d") == 0 || strcmp(nm, "w") == 0 || strcmp(nm, "s") == 0 ||
			    add_named(r, &a->c, nm) != 0) {
				r->why = "unknown [: :] class";
				goto fail;
			}
			(void)cneg;
			r->i += nl + 4;
			continue;
		}
		if (r->p[r->i] == '\\') {
			r->i++;
			e = escape(r, &lo, &name, &neg);
			if (e < 0)
				goto fail;
			if (e == 0) {
				if (neg) {
					r->why = "negated classes (\\D \\W \\S) inside [ ] are not supported";
					goto fail;
				}
				if (add_named(r, &a->c, name) != 0)
					goto fail;
				continue;
			}
		} else {
			lo = decode((const unsigned char *)r->p + r->i, r->n - r->i, &len);
			r->i += len;
		}
		hi = lo;
		if (r->i + 1 < r->n && r->p[r->i] == '-' && r->p[r->i + 1] != ']') {
			r->i++;
			if (r->p[r->i] == '\\') {
				r->i++;
				e = escape(r, &hi, &name, &neg);
				if (e < 0)
					goto fail;
				if (e == 0) {
					r->why = "a class cannot end a range";
					goto fail;
				}
			} else {
				hi = decode((const unsigned char *)r->p + r->i, r->n - r->i, &len);
				r->i += len;
			}
			if (hi < lo) {
				r->why = "invalid character class range";
				goto fail;
			}
		}
		if (fold_check(r, lo) != 0 || fold_check(r, hi) != 0 || add_range(r, &a->c, lo, hi) != 0)
			goto fail;
	}
	if (r->icase && fold(r, &a->c) != 0)
		goto fail;
	return a;
fail:
	ast_free(a);
	return NULL;
}

static struct ast *alt(struct rp *r);

/* {n}, {n,}, {n,m} at r->i ('{'): 1 and bounds, 0 when it is not a
 * repetition (then '{' is a literal, as in RE2). */
static int bounds(struct rp *r, int *lo, int *hi)
{
	size_t i = r->i + 1;
	long a = 0, b;
	int digits = 0;

	while (i < r->n && r->p[i] >= '0' && r->p[i] <= '9') {
		if (a <= 100000)
			a = a * 10 + (r->p[i] - '0');
		i++;
		digits++;
	}
	if (!digits)
		return 0;
	b = a;
	if (i < r->n && r->p[i] == ',') {
		i++;
		b = -1;
		if (i < r->n && r->p[i] >= '0' && r->p[i] <= '9') {
			b = 0;
			while (i < r->n && r->p[i] >= '0' && r->p[i] <= '9') {
				if (b <= 100000)
					b = b * 10 + (r->p[i] - '0');
				i++;
			}
		}
	}
	if (i >= r->n || r->p[i] != '}')
		return 0;
	r->i = i + 1;
	*lo = (int)a;
	*hi = (int)b;
	return 1;
}

static struct ast *atom(struct rp *r)
{
	char c = r->p[r->i];
	struct ast *a;
	uint32_t cp;
	const char *name;
	int neg, e;
	size_t len;

	switch (c) {
	case '(':
		r->i++;
		if (r->i < r->n && r->p[r->i] == '?') {
			if (r->i + 1 < r->n && r->p[r->i + 1] == ':') {
				r->i += 2;
			} else if (r->i + 2 < r->n && (r->p[r->i + 1] == 'P' || r->p[r->i + 1] == '<')) {
				size_t k = r->i + (r->p[r->i + 1] == 'P' ? 2 : 1);

				if (r->p[k] != '<') {
					r->why = "invalid or unsupported group syntax";
					return NULL;
				}
				k++;
				while (k < r->n && ((r->p[k] >= 'a' && r->p[k] <= 'z') ||
						    (r->p[k] >= 'A' && r->p[k] <= 'Z') ||
						    (r->p[k] >= '0' && r->p[k] <= '9') || r->p[k] == '_'))
					k++;
				if (k >= r->n || r->p[k] != '>' || k == r->i + (r->p[r->i + 1] == 'P' ? 3 : 2)) {
					r->why = "invalid named capture group";
					return NULL;
				}
				r->i = k + 1;
			} else {
				r->why = "flags ((?i) other than at the start, (?s), (?m), (?U)) are not supported";
				return NULL;
			}
		}
		if (++r->depth > MAX_DEPTH) {
			r->why = "groups nested too deeply";
			return NULL;
		}
		a = alt(r);
		r->depth--;
		if (a == NULL)
			return NULL;
		if (r->i >= r->n || r->p[r->i] != ')') {
			ast_free(a);
			r->why = "missing closing )";
			return NULL;
		}
		r->i++;
		return a;
	case '.':
		r->i++;
		a = mk(r, A_CLS);
		if (a == NULL)
			return NULL;
		a->c.neg = 1; /* anything but newline */
		if (add_range(r, &a->c, '\n', '\n') != 0) {
			ast_free(a);
			return NULL;
		}
		return a;
	case '^':
	case '$':
		r->i++;
		return mk(r, c == '^' ? A_BOL : A_EOL);
	case '[':
		r->i++;
		return bracket(r);
	case '\\':
		r->i++;
		if (r->i < r->n && (r->p[r->i] == 'A' || r->p[r->i] == 'z')) {
			return mk(r, r->p[r->i++] == 'A' ? A_BOL : A_EOL);
		}
		e = escape(r, &cp, &name, &neg);
		if (e < 0)
			return NULL;
		if (e == 0) {
			a = mk(r, A_CLS);
			if (a == NULL)
				return NULL;
			a->c.neg = neg;
			if (add_named(r, &a->c, name) != 0) {
				ast_free(a);
				return NULL;
			}
			return a;
		}
		if (fold_check(r, cp) != 0)
			return NULL;
		return cls_atom(r, cp, cp, 0);
	default:
		cp = decode((const unsigned char *)r->p + r->i, r->n - r->i, &len);
		r->i += len;
		if (fold_check(r, cp) != 0)
			return NULL;
		return cls_atom(r, cp, cp, 0);
	}
}

static struct ast *cat(struct rp *r)
{
	struct ast *a = mk(r, A_CAT);
	int quantified = 0; /* the last item is a quantifier's result */

	if (a == NULL)
		return NULL;
	while (r->i < r->n && r->p[r->i] != '|' && r->p[r->i] != ')') {
		char c = r->p[r->i];
		int lo = 0, hi = 0;
		struct ast *item;

		if (c == '*' || c == '+' || c == '?' || (c == '{' && bounds(r, &lo, &hi))) {
			if (c != '{')
				r->i++;
			if (a->nk == 0) {
				r->why = "missing argument to repetition operator";
				goto fail;
			}
			if (quantified) {
				r->why = "bad repetition operator (repeated repetition)";
				goto fail;
			}
			if (c == '*')
				lo = 0, hi = -1;
			else if (c == '+')
				lo = 1, hi = -1;
			else if (c == '?')
				lo = 0, hi = 1;
			else if (lo > MAX_REPEAT || hi > MAX_REPEAT || (hi >= 0 && hi < lo)) {
				r->why = "bad repetition operator (bounds at most 1000, min <= max)";
				goto fail;
			}
			if (r->i < r->n && r->p[r->i] == '?') /* lazy: same answer for matches() */
				r->i++;
			item = mk(r, A_REP);
			if (item == NULL)
				goto fail;
			item->sub = a->kids[a->nk - 1];
			item->min = lo;
			item->max = hi;
			a->kids[a->nk - 1] = item;
			quantified = 1;
			continue;
		}
		item = atom(r);
		if (item == NULL || add_kid(r, a, item) != 0)
			goto fail;
		quantified = 0;
	}
	return a;
fail:
	ast_free(a);
	return NULL;
}

static struct ast *alt(struct rp *r)
{
	struct ast *a = mk(r, A_ALT), *c;

	if (a == NULL)
		return NULL;
	for (;;) {
		c = cat(r);
		if (c == NULL || add_kid(r, a, c) != 0) {
			ast_free(a);
			return NULL;
		}
		if (r->i < r->n && r->p[r->i] == '|') {
			r->i++;
			continue;
		}
		return a;
	}
}

/* --------------------------------------------------------------- program */

enum { I_CLS, I_SPLIT, I_JMP, I_BOL, I_EOL, I_MATCH };

struct inst {
	int op;
	int x, y;                 /* I_SPLIT: both; I_JMP: x */
	const struct cls *c;      /* I_CLS: points into the AST kept alive */
};

struct cel_re {
	struct inst *prog;
	int n, cap;
	struct ast *ast;          /* owns the classes */
	const char *why;
};

static int emit(struct cel_re *re, int op)
{
	if (re->n >= MAX_PROG) {
		re->why = "pattern too large (more than 20000 steps once repetitions are expanded)";
		return -1;
	}
	if (re->n == re->cap) {
		int nc = re->cap ? re->cap * 2 : 64;
		struct inst *np = realloc(re->prog, (size_t)nc * sizeof(*np));

		if (np == NULL) {
			re->why = "out of memory";
			return -1;
		}
		re->prog = np;
		re->cap = nc;
	}
	memset(&re->prog[re->n], 0, sizeof(re->prog[0]));
	re->prog[re->n].op = op;
	return re->n++;
}

static int gen(struct cel_re *re, const struct ast *a)
{
	int s, j, k;

	switch (a->k) {
	case A_CLS:
		if ((s = emit(re, I_CLS)) < 0)
			return -1;
		re->prog[s].c = &a->c;
		return 0;
	case A_EMPTY:
		return 0;
	case A_BOL:
	case A_EOL:
		return emit(re, a->k == A_BOL ? I_BOL : I_EOL) < 0 ? -1 : 0;
	case A_CAT:
		for (size_t i = 0; i < a->nk; i++)
			if (gen(re, a->kids[i]) != 0)
				return -1;
		return 0;
	case A_ALT: {
		int jmps[256], nj = 0;

		if (a->nk == 1)
			return gen(re, a->kids[0]);
		for (size_t i = 0; i < a->nk; i++) {
			if (i + 1 < a->nk) {
				if ((s = emit(re, I_SPLIT)) < 0)
					return -1;
				re->prog[s].x = s + 1;
				if (gen(re, a->kids[i]) != 0)
					return -1;
				if ((j = emit(re, I_JMP)) < 0)
					return -1;
				if (nj < 256)
					jmps[nj++] = j;
				else {
					re->why = "too many alternatives";
					return -1;
				}
				re->prog[s].y = re->n;
			} else if (gen(re, a->kids[i]) != 0) {
				return -1;
			}
		}
		for (k = 0; k < nj; k++)
			re->prog[jmps[k]].x = re->n;
		return 0;
	}
	case A_REP:
		for (k = 0; k < a->min; k++)
			if (gen(re, a->sub) != 0)
				return -1;
		if (a->max < 0) {
			/* L: split body, out; body; jmp L */
			if ((s = emit(re, I_SPLIT)) < 0)
				return -1;
			re->prog[s].x = s + 1;
			if (gen(re, a->sub) != 0 || (j = emit(re, I_JMP)) < 0)
				return -1;
			re->prog[j].x = s;
			re->prog[s].y = re->n;
			return 0;
		}
		for (k = a->min; k < a->max; k++) {
			if ((s = emit(re, I_SPLIT)) < 0)
				return -1;
			re->prog[s].x = s + 1;
			if (gen(re, a->sub) != 0)
				return -1;
			re->prog[s].y = re->n; /* skipping one skips the rest too: harmless for matches() */
		}
		return 0;
	}
	return -1;
}

/* RE2 refuses nested counted repetitions whose bounds multiply past 1000
 * ((a{100}){100}); so do we. */
static int nest_ok(const struct ast *a, long mult)
{
	if (a->k == A_REP) {
		long m = a->max >= 0 ? a->max : a->min;

		if (m > 1 && a->min + a->max != 0 && !(a->min == 0 && a->max <= 1) &&
		    !(a->max < 0 && a->min <= 1))
			mult *= m;
		if (mult > MAX_REPEAT)
			return 0;
		return nest_ok(a->sub, mult);
	}
	for (size_t i = 0; i < a->nk; i++)
		if (!nest_ok(a->kids[i], mult))
			return 0;
	return 1;
}

struct cel_re *cel_re_compile(const char *pat, size_t n, const char **why)
{
	struct rp r = {pat, n, 0, NULL, 0, 0};
	struct cel_re *re;

	*why = NULL;
	if (n > MAX_PATTERN) {
		*why = "pattern longer than 4096 bytes";
		return NULL;
	}
	if (n >= 4 && memcmp(pat, "(?i)", 4) == 0) {
		r.icase = 1;
		r.i = 4;
	}
	re = calloc(1, sizeof(*re));
	if (re == NULL) {
		*why = "out of memory";
		return NULL;
	}
	re->ast = alt(&r);
	if (re->ast != NULL && r.i < r.n) {
		r.why = "unexpected )";
	} else if (re->ast != NULL && !nest_ok(re->ast, 1)) {
		r.why = "bad repetition operator (nested repetition above 1000)";
	} else if (re->ast != NULL) {
		if (gen(re, re->ast) == 0 && emit(re, I_MATCH) >= 0) {
			return re;
		}
		r.why = re->why;
	}
	*why = r.why ? r.why : "invalid pattern";
	cel_re_free(re);
	return NULL;
}

void cel_re_free(struct cel_re *re)
{
	if (re == NULL)
		return;
	ast_free(re->ast);
	free(re->prog);
	free(re);
}

/* ---------------------------------------------------------------- search */

static int cls_has(const struct cls *c, uint32_t cp)
{
	int in = 0;

	for (size_t k = 0; k < c->n && !in; k++)
		in = cp >= c->r[k].lo && cp <= c->r[k].hi;
	return in != c->neg;
}

struct list {
	int *pc;
	int n;
};

/* Add pc and its epsilon closure at position (at_start, at_end); 1 when
 * MATCH is reached. */
static int add(const struct cel_re *re, struct list *l, unsigned *mark, unsigned gen_id, int pc,
	       int at_start, int at_end, int *stack, uint64_t *steps)
{
	int sp = 0;

	stack[sp++] = pc;
	while (sp > 0) {
		pc = stack[--sp];
		if (mark[pc] == gen_id)
			continue;
		mark[pc] = gen_id;
		(*steps)++;
		switch (re->prog[pc].op) {
		case I_MATCH:
			return 1;
		case I_JMP:
			stack[sp++] = re->prog[pc].x;
			break;
		case I_SPLIT:
			stack[sp++] = re->prog[pc].y;
			stack[sp++] = re->prog[pc].x;
			break;
		case I_BOL:
			if (at_start)
				stack[sp++] = pc + 1;
			break;
		case I_EOL:
			if (at_end)
				stack[sp++] = pc + 1;
			break;
		default:
			l->pc[l->n++] = pc;
		}
	}
	return 0;
}

int cel_re_search(const struct cel_re *re, const char *s, size_t n, uint64_t budget, uint64_t *used)
{
	struct list a, b, *cl = &a, *nl = &b;
	unsigned *mark;
	int *stack, rc = 0;
	unsigned g = 0;
	size_t i = 0, len;
	uint64_t steps = 0;

	a.pc = malloc((size_t)re->n * sizeof(int));
	b.pc = malloc((size_t)re->n * sizeof(int));
	/* each pc is pushed at most twice per closure before being marked */
	stack = malloc((size_t)re->n * 2 * sizeof(int) + sizeof(int));
	mark = calloc((size_t)re->n, sizeof(unsigned));
	if (a.pc == NULL || b.pc == NULL || stack == NULL || mark == NULL) {
		rc = -2;
		goto out;
	}
	cl->n = 0;
	if (add(re, cl, mark, ++g, 0, 1, n == 0, stack, &steps)) {
		rc = 1;
		goto out;
	}
	while (i < n) {
		uint32_t cp = decode((const unsigned char *)s + i, n - i, &len);

		i += len;
		nl->n = 0;
		g++;
		for (int k = 0; k < cl->n; k++) {
			int pc = cl->pc[k];

			steps++;
			if (cls_has(re->prog[pc].c, cp) &&
			    add(re, nl, mark, g, pc + 1, 0, i == n, stack, &steps)) {
				rc = 1;
				goto out;
			}
		}
		/* unanchored: a match may start here too */
		if (add(re, nl, mark, g, 0, 0, i == n, stack, &steps)) {
			rc = 1;
			goto out;
		}
		if (steps > budget) {
			rc = -1;
			goto out;
		}
		struct list *t = cl;

		cl = nl;
		nl = t;
	}
out:
	*used = steps;
	free(a.pc);
	free(b.pc);
	free(stack);
	free(mark);
	return rc;
}
