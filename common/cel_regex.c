/* cel_regex.c: CEL's matches() -- RE2 syntax, a subset translated to a
 * POSIX extended regex and run by glibc's regexec in the C.UTF-8 locale
 * (so '.' and bracket expressions see code points, as RE2 does).
 *
 * matches() asks only whether some substring matches, and that answer does
 * not depend on RE2's leftmost-first against POSIX's leftmost-longest
 * choice of match, nor on greedy against lazy repetition; so a lazy
 * quantifier (*? +? ?? {n,m}?) is translated to its greedy form.
 *
 * Supported: literals and escaped punctuation, '.', ^ and $ (text
 * boundaries: RE2 without the m flag), \A \z, groups ( ), (?: ),
 * (?P<name> ) and (?<name> ), alternation, * + ? {n} {n,} {n,m} (bounds at
 * most 1000, and nested bounds multiply to at most 1000 as in RE2),
 * bracket expressions with ranges, negation, [:class:] and the escapes
 * below, \d \D \w \W \s \S (ASCII, as in RE2), \t \n \r \f \v \a \xHH, and
 * a leading (?i).  Refused when the configuration loads, as RE2 would
 * refuse them or because they have no translation here: other flags
 * ((?s) (?m) (?U), flags after the start), \b \B, \p{..} \P{..}, \Q..\E,
 * \pN, back-references, \C, \x{...}, a repetition with nothing to repeat
 * or a repeated repetition (a**). */

#include "cel_int.h"

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PATTERN 4096
#define MAX_REPEAT 1000

static locale_t utf8_locale(void)
{
	static locale_t loc = (locale_t)0;
	static int tried;

	if (!tried) {
		tried = 1;
		loc = newlocale(LC_CTYPE_MASK | LC_COLLATE_MASK, "C.UTF-8", (locale_t)0);
	}
	return loc;
}

struct out {
	char *s;
	size_t n, cap;
	int fail;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->fail)
		return;
	if (o->n + n + 1 > o->cap) {
		size_t nc = (o->n + n + 1) * 2;
		char *ns = realloc(o->s, nc);

		if (ns == NULL) {
			o->fail = 1;
			return;
		}
		o->s = ns;
		o->cap = nc;
	}
	memcpy(o->s + o->n, s, n);
	o->n += n;
	o->s[o->n] = '\0';
}

static void putc1(struct out *o, char c)
{
	put(o, &c, 1);
}

/* One literal byte outside brackets. */
static void lit(struct out *o, char c)
{
	if (strchr(".[]()*+?{}|^$\\", c) != NULL && c != '\0')
		putc1(o, '\\');
	if (c == '\0') {
		o->fail = 2; /* NUL: no POSIX spelling */
		return;
	}
	putc1(o, c);
}

struct rx {
	const char *p;
	size_t n, i;
	const char *why;
};

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

/* An escape's single byte (\t \n \r \f \v \a \xHH, escaped punctuation),
 * 0 with *cls set for \d \D \w \W \s \S, or -1 with why. */
static int escape(struct rx *r, char *byte, char *cls)
{
	char c;

	*cls = 0;
	if (r->i >= r->n) {
		r->why = "trailing backslash";
		return -1;
	}
	c = r->p[r->i++];
	switch (c) {
	case 't': *byte = '\t'; return 1;
	case 'n': *byte = '\n'; return 1;
	case 'r': *byte = '\r'; return 1;
	case 'f': *byte = '\f'; return 1;
	case 'v': *byte = '\v'; return 1;
	case 'a': *byte = '\a'; return 1;
	case 'd': case 'D': case 'w': case 'W': case 's': case 'S':
		*cls = c;
		return 0;
	case 'x': {
		int h1, h2;

		if (r->i + 1 < r->n && (h1 = hexv(r->p[r->i])) >= 0 && (h2 = hexv(r->p[r->i + 1])) >= 0 &&
		    h1 < 8) {
			r->i += 2;
			*byte = (char)(h1 * 16 + h2);
			if (*byte == '\0') {
				r->why = "\\x00 is not supported";
				return -1;
			}
			return 1;
		}
		r->why = "\\x escapes other than \\x01..\\x7F are not supported";
		return -1;
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
	default:
		if ((c >= '0' && c <= '9')) {
			r->why = "back-references and octal escapes are not supported";
			return -1;
		}
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (unsigned char)c >= 0x80) {
			r->why = "unknown escape sequence";
			return -1;
		}
		*byte = c;
		return 1;
	}
}

static const char *cls_body(char cls)
{
	switch (cls) {
	case 'd': case 'D': return "0-9";
	case 'w': case 'W': return "0-9A-Za-z_";
	default: return "\t\n\f\r ";
	}
}

/* A bracket expression, r->i just past '['. */
static int bracket(struct rx *r, struct out *o)
{
	int neg = 0, has_rb = 0, has_dash = 0, has_caret = 0, has_lb = 0, first = 1;
	struct out body = {NULL, 0, 0, 0};

	if (r->i < r->n && r->p[r->i] == '^') {
		neg = 1;
		r->i++;
	}
	for (;;) {
		char lo, hi, cls;
		int e;

		if (r->i >= r->n) {
			free(body.s);
			r->why = "missing closing ]";
			return -1;
		}
		if (r->p[r->i] == ']' && !first) {
			r->i++;
			break;
		}
		first = 0;
		if (r->p[r->i] == '[' && r->i + 1 < r->n && r->p[r->i + 1] == ':') {
			const char *end = memmem(r->p + r->i + 2, r->n - r->i - 2, ":]", 2);
			static const char *const names[] = {"alnum", "alpha", "ascii", "blank", "cntrl",
							    "digit", "graph", "lower", "print", "punct",
							    "space", "upper", "word", "xdigit", NULL};
			size_t len;
			int ok = 0;

			if (end == NULL) {
				free(body.s);
				r->why = "malformed [: :] class";
				return -1;
			}
			len = (size_t)(end - (r->p + r->i + 2));
			for (size_t k = 0; names[k] != NULL; k++)
				if (strlen(names[k]) == len && memcmp(names[k], r->p + r->i + 2, len) == 0)
					ok = 1;
			if (!ok || (len == 4 && memcmp(r->p + r->i + 2, "word", 4) == 0) ||
			    (len == 5 && memcmp(r->p + r->i + 2, "ascii", 5) == 0)) {
				if (ok && memcmp(r->p + r->i + 2, "word", 4) == 0)
					put(&body, "0-9A-Za-z_", 10);
				else if (ok)
					put(&body, "\x01-\x7f", 3);
				else {
					free(body.s);
					r->why = "unknown [: :] class";
					return -1;
				}
			} else {
				put(&body, r->p + r->i, len + 4);
			}
			r->i += len + 4;
			continue;
		}
		if (r->p[r->i] == '\\') {
			r->i++;
			e = escape(r, &lo, &cls);
			if (e < 0) {
				free(body.s);
				return -1;
			}
			if (e == 0) {
				if (cls == 'D' || cls == 'W' || cls == 'S') {
					free(body.s);
					r->why = "negated classes (\\D \\W \\S) inside [ ] are not supported";
					return -1;
				}
				put(&body, cls_body(cls), strlen(cls_body(cls)));
				continue;
			}
		} else {
			/* a whole UTF-8 sequence is one item */
			size_t st = r->i, len = 1;

			if ((unsigned char)r->p[st] >= 0x80)
				while (st + len < r->n && ((unsigned char)r->p[st + len] & 0xc0) == 0x80)
					len++;
			if (len > 1) {
				r->i += len;
				if (r->i < r->n && r->p[r->i] == '-' && r->i + 1 < r->n && r->p[r->i + 1] != ']') {
					/* glibc orders such ranges by collation,
					 * not code point: refused */
					free(body.s);
					r->why = "non-ASCII ranges in [ ] are not supported";
					return -1;
				}
				put(&body, r->p + st, len);
				continue;
			}
			lo = r->p[r->i++];
		}
		hi = lo;
		if (r->i + 1 < r->n && r->p[r->i] == '-' && r->p[r->i + 1] != ']') {
			r->i++;
			if (r->p[r->i] == '\\') {
				r->i++;
				e = escape(r, &hi, &cls);
				if (e <= 0) {
					free(body.s);
					if (e == 0)
						r->why = "a class cannot end a range";
					return -1;
				}
			} else if ((unsigned char)r->p[r->i] >= 0x80) {
				free(body.s);
				r->why = "non-ASCII ranges in [ ] are not supported";
				return -1;
			} else {
				hi = r->p[r->i++];
			}
			if ((unsigned char)hi < (unsigned char)lo) {
				free(body.s);
				r->why = "invalid character class range";
				return -1;
			}
		}
		if (lo == hi) {
			if (lo == ']')
				has_rb = 1;
			else if (lo == '-')
				has_dash = 1;
			else if (lo == '^')
				has_caret = 1;
			else if (lo == '[')
				has_lb = 1;
			else
				putc1(&body, lo);
			continue;
		}
		/* A range whose ends are special: spell it with safe ends. */
		if (lo == ']' || lo == '-' || lo == '^' || lo == '[' || hi == ']' || hi == '-' ||
		    hi == '^' || hi == '[') {
			for (int ch = (unsigned char)lo; ch <= (unsigned char)hi; ch++) {
				if (ch == ']')
					has_rb = 1;
				else if (ch == '-')
					has_dash = 1;
				else if (ch == '^')
					has_caret = 1;
				else if (ch == '[')
					has_lb = 1;
				else
					putc1(&body, (char)ch);
			}
			continue;
		}
		putc1(&body, lo);
		putc1(&body, '-');
		putc1(&body, hi);
	}
	if (body.fail) {
		free(body.s);
		r->why = "out of memory";
		return -1;
	}
	if (!neg && has_caret && !has_rb && body.n == 0 && !has_lb) {
		if (has_dash)
			put(o, "[-^]", 4);
		else
			put(o, "\\^", 2);
		free(body.s);
		return 0;
	}
	putc1(o, '[');
	if (neg)
		putc1(o, '^');
	if (has_rb)
		putc1(o, ']');
	if (body.n)
		put(o, body.s, body.n);
	if (has_lb)
		putc1(o, '[');
	if (has_caret) /* never first: something precedes it, or it is negated */
		putc1(o, '^');
	if (has_dash)
		putc1(o, '-');
	putc1(o, ']');
	free(body.s);
	return 0;
}

/* {n}, {n,}, {n,m} at r->i ('{'): 1 and bounds, 0 when it is not a
 * repetition (then '{' is a literal, as in RE2). */
static int bounds(struct rx *r, long *lo, long *hi)
{
	size_t i = r->i + 1;
	long a = 0, b;
	int digits = 0;

	while (i < r->n && r->p[i] >= '0' && r->p[i] <= '9' && a <= 100000) {
		a = a * 10 + (r->p[i++] - '0');
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
			while (i < r->n && r->p[i] >= '0' && r->p[i] <= '9' && b <= 100000)
				b = b * 10 + (r->p[i++] - '0');
		}
	}
	if (i >= r->n || r->p[i] != '}')
		return 0;
	r->i = i + 1;
	*lo = a;
	*hi = b;
	return 1;
}

/* An alternation sequence up to ')' or the end; mult = product of the
 * enclosing bounds (RE2's limit of 1000 on nested repetition). */
static int seq(struct rx *r, struct out *o, int depth, long mult)
{
	int have_atom = 0, last_rep = 0;
	size_t atom_start = o->n;

	if (depth > 50) {
		r->why = "groups nested too deeply";
		return -1;
	}
	while (r->i < r->n) {
		char c = r->p[r->i];
		long lo, hi;

		if (c == ')')
			return 0;
		if (c == '|') {
			putc1(o, '|');
			r->i++;
			have_atom = last_rep = 0;
			continue;
		}
		if (c == '*' || c == '+' || c == '?' || (c == '{' && (lo = 0, 1))) {
			size_t save = r->i;

			if (c == '{') {
				if (!bounds(r, &lo, &hi)) {
					r->i = save + 1;
					lit(o, '{');
					have_atom = 1;
					last_rep = 0;
					atom_start = o->n - 2;
					continue;
				}
				if (lo > MAX_REPEAT || hi > MAX_REPEAT || (hi >= 0 && hi < lo)) {
					r->why = "bad repetition operator (bounds at most 1000, min <= max)";
					return -1;
				}
			} else {
				r->i++;
			}
			if (!have_atom) {
				r->why = "missing argument to repetition operator";
				return -1;
			}
			if (last_rep) {
				r->why = "bad repetition operator (repeated repetition)";
				return -1;
			}
			if (c == '{') {
				long m = hi >= 0 ? hi : lo;
				char b[32];

				if (m > 0 && mult * m > MAX_REPEAT) {
					r->why = "bad repetition operator (nested repetition above 1000)";
					return -1;
				}
				if (hi < 0)
					snprintf(b, sizeof(b), "{%ld,}", lo);
				else if (hi == lo)
					snprintf(b, sizeof(b), "{%ld}", lo);
				else
					snprintf(b, sizeof(b), "{%ld,%ld}", lo, hi);
				put(o, b, strlen(b));
			} else {
				putc1(o, c);
			}
			if (r->i < r->n && r->p[r->i] == '?') /* lazy: same answer for matches() */
				r->i++;
			last_rep = 1;
			(void)atom_start;
			continue;
		}
		last_rep = 0;
		have_atom = 1;
		atom_start = o->n;
		r->i++;
		switch (c) {
		case '.':
			put(o, "[^\n]", 4);
			break;
		case '^': case '$':
			putc1(o, c);
			break;
		case '[':
			if (bracket(r, o) != 0)
				return -1;
			break;
		case '(': {
			long inner = mult;

			if (r->i < r->n && r->p[r->i] == '?') {
				if (r->i + 1 < r->n && r->p[r->i + 1] == ':') {
					r->i += 2;
				} else if (r->i + 2 < r->n && (r->p[r->i + 1] == 'P' || r->p[r->i + 1] == '<')) {
					size_t k = r->i + (r->p[r->i + 1] == 'P' ? 2 : 1);

					if (r->p[k] != '<') {
						r->why = "unsupported group syntax";
						return -1;
					}
					k++;
					while (k < r->n && r->p[k] != '>' &&
					       ((r->p[k] >= 'a' && r->p[k] <= 'z') || (r->p[k] >= 'A' && r->p[k] <= 'Z') ||
						(r->p[k] >= '0' && r->p[k] <= '9') || r->p[k] == '_'))
						k++;
					if (k >= r->n || r->p[k] != '>') {
						r->why = "invalid named capture group";
						return -1;
					}
					r->i = k + 1;
				} else {
					r->why = "flags ((?i) other than at the start, (?s), (?m), (?U)) are not supported";
					return -1;
				}
			}
			/* The multiplier applies when the group is repeated: look
			 * for the bound after the matching ')' cheaply by
			 * charging every nested bound against the whole product
			 * seen so far (RE2 counts the same way). */
			putc1(o, '(');
			if (seq(r, o, depth + 1, inner) != 0)
				return -1;
			if (r->i >= r->n || r->p[r->i] != ')') {
				r->why = "missing closing )";
				return -1;
			}
			r->i++;
			putc1(o, ')');
			/* A bound on this group multiplies the bounds inside it:
			 * checked by rescanning the group's text is costly; the
			 * nested check is done by nest_product() below. */
			break;
		}
		case '\\': {
			char b, cls;
			int e;

			if (r->i < r->n && r->p[r->i] == 'A') {
				r->i++;
				putc1(o, '^');
				break;
			}
			if (r->i < r->n && r->p[r->i] == 'z') {
				r->i++;
				putc1(o, '$');
				break;
			}
			e = escape(r, &b, &cls);
			if (e < 0)
				return -1;
			if (e == 0) {
				putc1(o, '[');
				if (cls == 'D' || cls == 'W' || cls == 'S')
					putc1(o, '^');
				put(o, cls_body(cls), strlen(cls_body(cls)));
				putc1(o, ']');
			} else {
				lit(o, b);
			}
			break;
		}
		default:
			if ((unsigned char)c >= 0x80) {
				/* the rest of the UTF-8 sequence: one atom */
				size_t st = r->i - 1;

				while (r->i < r->n && ((unsigned char)r->p[r->i] & 0xc0) == 0x80)
					r->i++;
				putc1(o, '(');
				put(o, r->p + st, r->i - st);
				putc1(o, ')');
			} else {
				lit(o, c);
			}
		}
	}
	return 0;
}

/* RE2 refuses a pattern whose nested counted repetitions multiply above
 * 1000 ((a{100}){100}); so do we, by walking the pattern's parentheses. */
static int nest_product(const char *p, size_t n)
{
	long stack[64];
	int sp = 0;
	long cur = 1;

	stack[0] = 1;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\\') {
			i++;
			continue;
		}
		if (p[i] == '[') { /* skip a bracket */
			i++;
			if (i < n && p[i] == '^')
				i++;
			if (i < n && p[i] == ']')
				i++;
			while (i < n && p[i] != ']') {
				if (p[i] == '\\')
					i++;
				i++;
			}
			continue;
		}
		if (p[i] == '(') {
			if (sp >= 62)
				return -1;
			stack[++sp] = 1;
			continue;
		}
		if (p[i] == ')' && sp > 0) {
			long inner = stack[sp--];
			long m = 1;

			if (i + 1 < n && p[i + 1] == '{') {
				size_t j = i + 2;
				long a = 0, b = -2;

				while (j < n && p[j] >= '0' && p[j] <= '9' && a <= MAX_REPEAT)
					a = a * 10 + (p[j++] - '0');
				if (j < n && p[j] == ',') {
					j++;
					b = -1;
					if (j < n && p[j] >= '0' && p[j] <= '9') {
						b = 0;
						while (j < n && p[j] >= '0' && p[j] <= '9' && b <= MAX_REPEAT)
							b = b * 10 + (p[j++] - '0');
					}
				}
				if (j < n && p[j] == '}')
					m = b >= 0 ? b : a;
				if (m < 1)
					m = 1;
			}
			if (inner * m > stack[sp])
				stack[sp] = inner * m;
			if (stack[sp] > MAX_REPEAT)
				return -1;
			continue;
		}
		if (p[i] == '{' && i > 0) {
			size_t j = i + 1;
			long a = 0, b = -2;

			while (j < n && p[j] >= '0' && p[j] <= '9' && a <= MAX_REPEAT)
				a = a * 10 + (p[j++] - '0');
			if (j < n && p[j] == ',') {
				j++;
				b = -1;
				if (j < n && p[j] >= '0' && p[j] <= '9') {
					b = 0;
					while (j < n && p[j] >= '0' && p[j] <= '9' && b <= MAX_REPEAT)
						b = b * 10 + (p[j++] - '0');
				}
			}
			if (j < n && p[j] == '}') {
				long m = b >= 0 ? b : a;

				if (m > stack[sp])
					stack[sp] = m;
				if (stack[sp] > MAX_REPEAT)
					return -1;
			}
		}
	}
	(void)cur;
	return 0;
}

int cel_regex_compile(const char *pat, size_t n, regex_t *out, const char **why)
{
	struct rx r = {pat, n, 0, NULL};
	struct out o = {NULL, 0, 0, 0};
	int flags = REG_EXTENDED | REG_NOSUB, rc;
	locale_t loc = utf8_locale(), old;

	if (n > MAX_PATTERN) {
		*why = "pattern longer than 4096 bytes";
		return -1;
	}
	if (memchr(pat, '\0', n) != NULL) {
		*why = "NUL in the pattern is not supported";
		return -1;
	}
	if (loc == (locale_t)0) {
		*why = "the C.UTF-8 locale is not available";
		return -1;
	}
	if (n >= 4 && memcmp(pat, "(?i)", 4) == 0) {
		flags |= REG_ICASE;
		r.i = 4;
	}
	if (nest_product(pat, n) != 0) {
		*why = "bad repetition operator (nested repetition above 1000)";
		return -1;
	}
	put(&o, "", 0);
	if (seq(&r, &o, 0, 1) != 0) {
		free(o.s);
		*why = r.why;
		return -1;
	}
	if (r.i < r.n) {
		free(o.s);
		*why = "unexpected )";
		return -1;
	}
	if (o.fail) {
		free(o.s);
		*why = o.fail == 2 ? "NUL in the pattern is not supported" : "out of memory";
		return -1;
	}
	if (o.n == 0)
		put(&o, "()", 2);
	old = uselocale(loc);
	rc = regcomp(out, o.s, flags);
	uselocale(old);
	free(o.s);
	if (rc != 0) {
		*why = "the pattern has no POSIX translation (report it)";
		return -1;
	}
	return 0;
}

int cel_regex_search(const regex_t *re, const char *s, size_t n)
{
	regmatch_t m[1];
	locale_t old;
	int rc;

	m[0].rm_so = 0;
	m[0].rm_eo = (regoff_t)n;
	old = uselocale(utf8_locale());
	rc = regexec(re, s, 1, m, REG_STARTEND);
	uselocale(old);
	return rc == 0;
}
