/* cel_int.h: internals shared by cel_parse.c and cel_eval.c. */
#ifndef K8S_CEL_INT_H
#define K8S_CEL_INT_H

#include <stddef.h>
#include <stdint.h>

#include "cel.h"

enum cel_vt {
	V_NULL, V_BOOL, V_INT, V_UINT, V_DOUBLE, V_STRING, V_BYTES, V_LIST, V_MAP, V_TYPE,
	V_OPT, V_ERR
};

struct cel_val {
	enum cel_vt t;
	union {
		int b;
		int64_t i;
		uint64_t u;
		double d;
		struct {
			const char *s;
			size_t n;
		} str; /* V_STRING, V_BYTES, V_TYPE (type name), V_ERR (message) */
		struct {
			struct cel_val **v;
			size_t n;
		} list;
		struct {
			struct cel_val **k, **v;
			size_t n;
		} map;
		struct cel_val *opt; /* V_OPT: NULL = optional.none() */
	} u;
};

enum cel_nk {
	N_LIT, N_IDENT, N_SELECT, N_INDEX, N_CALL, N_LIST, N_MAP, N_AND, N_OR, N_NOT, N_NEG,
	N_COND, N_BIN, N_HAS, N_MACRO
};

enum cel_binop { B_ADD, B_SUB, B_MUL, B_DIV, B_MOD, B_EQ, B_NE, B_LT, B_LE, B_GT, B_GE, B_IN };

enum cel_macro { M_ALL, M_EXISTS, M_EXISTS_ONE, M_MAP, M_FILTER };

/* Functions (N_CALL fn). */
enum cel_fn {
	F_SIZE, F_STARTS, F_ENDS, F_CONTAINS, F_MATCHES, F_LOWER, F_UPPER, F_SPLIT, F_JOIN,
	F_REPLACE, F_TRIM, F_SUBSTRING, F_INDEXOF, F_LASTINDEXOF, F_STRING, F_INT, F_UINT,
	F_DOUBLE, F_BYTES, F_BOOL, F_DYN, F_TYPE, F_ORVALUE, F_HASVALUE, F_VALUE, F_OR,
	F_OPT_OF, F_OPT_NONE, F_OPT_OFNONZERO, F_CHARAT
};

struct cel_node {
	enum cel_nk k;
	int pos;               /* byte offset in the source */
	int op;                /* N_BIN: cel_binop; N_CALL: cel_fn; N_MACRO: cel_macro */
	int optional;          /* N_SELECT/N_INDEX: .? / [? */
	const char *name;      /* N_IDENT, N_SELECT field, N_MACRO variable */
	struct cel_val *lit;   /* N_LIT */
	struct cel_node *a, *b, *c; /* operands: target/left, index/right, third */
	struct cel_node **args;/* N_CALL args (target in a), N_LIST elems, N_MAP k0,v0,k1,v1.. */
	int *optflags;         /* N_LIST/N_MAP: element/entry is ?-optional */
	size_t nargs;
	struct cel_re *re;     /* F_MATCHES with a literal pattern: compiled at load */
	int var;               /* N_IDENT: 0 claims, 1 user, 2+ comprehension slot */
};

/* Bump allocator: everything of one compile or one evaluation, freed at once. */
struct cel_chunk {
	struct cel_chunk *next;
	size_t used, size;
	max_align_t data[];
};

struct cel_arena {
	struct cel_chunk *head;
	size_t total, limit;   /* bytes handed out; limit 0 = none */
};

void *cel_alloc(struct cel_arena *a, size_t n); /* zeroed; NULL past the limit */
void cel_arena_release(struct cel_arena *a);

struct cel_program {
	struct cel_node *root;
	char *src;
	struct cel_arena arena;
	enum cel_static_type type;
	struct cel_re **res;   /* every compiled regex, to free */
	size_t n_res;
};

/* matches(): the RE2 subset of cel_regex.c.  compile: NULL with why.
 * search: 1 match, 0 none, -1 more than budget steps, -2 out of memory;
 * *used the steps taken. */
struct cel_re;
struct cel_re *cel_re_compile(const char *pat, size_t n, const char **why);
int cel_re_search(const struct cel_re *re, const char *s, size_t n, uint64_t budget, uint64_t *used);
void cel_re_free(struct cel_re *re);

#endif
