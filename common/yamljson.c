/* yamljson.c: libyaml events -> jansson tree, strictly (see yamljson.h).
 *
 * Strictness is the point: a configuration that means something different
 * to the reader than to us (a duplicate key, where "last one wins" hides
 * the first; an alias that shares one node in two places; YAML 1.1's
 * yes/no booleans) is refused rather than guessed at. */
#include "yamljson.h"

#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <yaml.h>

#include "util.h"

#define TAG_PREFIX "tag:yaml.org,2002:"

struct yctx {
	yaml_parser_t parser;
	const char *name;
	struct k8s_err *err;
};

static int yfail(struct yctx *c, const yaml_mark_t *m, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int yfail(struct yctx *c, const yaml_mark_t *m, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return k8s_err_set(c->err, K8S_ECONFIG, "configuration error", "%s:%zu:%zu: %s",
			   c->name, m->line + 1, m->column + 1, msg);
}

/* Scalars may be reviewer tokens or keys (kubeconfig): wipe before free. */
static void event_free(yaml_event_t *ev)
{
	if (ev->type == YAML_SCALAR_EVENT && ev->data.scalar.value != NULL)
		k8s_wipe(ev->data.scalar.value, ev->data.scalar.length);
	yaml_event_delete(ev);
}

static int next_event(struct yctx *c, yaml_event_t *ev)
{
	if (yaml_parser_parse(&c->parser, ev))
		return 0;
	memset(ev, 0, sizeof(*ev));
	if (c->parser.error == YAML_MEMORY_ERROR)
		return k8s_err_set(c->err, K8S_ECONFIG, "configuration error",
				   "%s: out of memory", c->name), -1;
	yfail(c, &c->parser.problem_mark, "%s%s%s",
	      c->parser.context ? c->parser.context : "",
	      c->parser.context ? ": " : "",
	      c->parser.problem ? c->parser.problem : "syntax error");
	return -1;
}

static int str_in(const char *s, size_t n, const char *const *set)
{
	for (; *set != NULL; set++)
		if (strlen(*set) == n && memcmp(s, *set, n) == 0)
			return 1;
	return 0;
}

static int all_of(const char *s, size_t n, const char *chars)
{
	size_t i;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++)
		if (strchr(chars, s[i]) == NULL)
			return 0;
	return 1;
}

#define DIGITS "0123456789"

/* [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )? */
static int is_core_float(const char *s, size_t n)
{
	size_t i = 0, lead = 0, frac = 0;

	if (i < n && (s[i] == '-' || s[i] == '+'))
		i++;
	while (i < n && s[i] >= '0' && s[i] <= '9')
		i++, lead++;
	if (i < n && s[i] == '.') {
		i++;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++, frac++;
	}
	if (lead == 0 && frac == 0)
		return 0;
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		size_t exp = 0;

		i++;
		if (i < n && (s[i] == '-' || s[i] == '+'))
			i++;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++, exp++;
		if (exp == 0)
			return 0;
	}
	return i == n;
}

/* libyaml NUL-terminates every scalar and we refuse embedded NULs, so the
 * strto* family sees exactly the scalar. */
static int parse_int(const char *s, size_t n, json_int_t *out)
{
	const char *digits = s;
	int base = 10;
	long long v;
	char *end;

	if (n > 2 && s[0] == '0' && s[1] == 'o' && all_of(s + 2, n - 2, "01234567")) {
		base = 8;
		digits = s + 2;
	} else if (n > 2 && s[0] == '0' && s[1] == 'x' &&
		   all_of(s + 2, n - 2, DIGITS "abcdefABCDEF")) {
		base = 16;
		digits = s + 2;
	} else if (!(n > 0 && all_of(s + (s[0] == '-' || s[0] == '+'),
				     n - (s[0] == '-' || s[0] == '+'), DIGITS))) {
		return 1; /* not an int */
	}
	errno = 0;
	v = strtoll(digits, &end, base);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = (json_int_t)v;
	return 0;
}

/* strtod obeys LC_NUMERIC, which the host application (sshd, login) may
 * have set to a locale with a decimal comma. */
static int parse_float(const char *s, double *out)
{
	locale_t c_loc = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
	char *end;
	double v;

	if (c_loc == (locale_t)0)
		return -1;
	errno = 0;
	v = strtod_l(s, &end, c_loc);
	freelocale(c_loc);
	if (errno != 0 || *end != '\0' || !isfinite(v))
		return -1;
	*out = v;
	return 0;
}

enum core_kind { CORE_NULL, CORE_BOOL, CORE_INT, CORE_FLOAT, CORE_STR };

/* YAML 1.2 core schema resolution of a plain scalar. */
static enum core_kind core_kind(const char *s, size_t n)
{
	static const char *const nulls[] = {"~", "null", "Null", "NULL", NULL};
	static const char *const bools[] = {"true", "True", "TRUE", "false", "False", "FALSE", NULL};
	static const char *const specials[] = {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF",
		"-.inf", "-.Inf", "-.INF", ".nan", ".NaN", ".NAN", NULL};
	json_int_t dummy;

	if (n == 0 || str_in(s, n, nulls))
		return CORE_NULL;
	if (str_in(s, n, bools))
		return CORE_BOOL;
	if (parse_int(s, n, &dummy) != 1)
		return CORE_INT;
	if (is_core_float(s, n) || str_in(s, n, specials))
		return CORE_FLOAT;
	return CORE_STR;
}

static json_t *make_core(struct yctx *c, const yaml_event_t *ev, enum core_kind k)
{
	const char *s = (const char *)ev->data.scalar.value;
	size_t n = ev->data.scalar.length;
	json_int_t iv;
	double dv;

	switch (k) {
	case CORE_NULL:
		return json_null();
	case CORE_BOOL:
		return json_boolean(s[0] == 't' || s[0] == 'T');
	case CORE_INT:
		if (parse_int(s, n, &iv) != 0)
			return yfail(c, &ev->start_mark, "integer out of range"), NULL;
		return json_integer(iv);
	case CORE_FLOAT:
		if (parse_float(s, &dv) != 0)
			return yfail(c, &ev->start_mark,
				     "number out of range (infinity and NaN are not supported)"), NULL;
		return json_real(dv);
	case CORE_STR:
	default:
		return json_stringn(s, n);
	}
}

static json_t *scalar_to_json(struct yctx *c, const yaml_event_t *ev)
{
	static const struct { const char *tag; enum core_kind kind; } tags[] = {
		{TAG_PREFIX "str", CORE_STR}, {"!", CORE_STR}, {TAG_PREFIX "null", CORE_NULL},
		{TAG_PREFIX "bool", CORE_BOOL}, {TAG_PREFIX "int", CORE_INT},
		{TAG_PREFIX "float", CORE_FLOAT},
	};
	const char *s = (const char *)ev->data.scalar.value;
	const char *tag = (const char *)ev->data.scalar.tag;
	size_t n = ev->data.scalar.length, i;
	enum core_kind k;

	if (memchr(s, '\0', n) != NULL)
		return yfail(c, &ev->start_mark, "NUL character in a scalar"), NULL;
	if (tag == NULL) {
		if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
			return make_core(c, ev, CORE_STR);
		return make_core(c, ev, core_kind(s, n));
	}
	for (i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
		if (strcmp(tag, tags[i].tag) != 0)
			continue;
		k = tags[i].kind == CORE_STR ? CORE_STR : core_kind(s, n);
		/* An explicit !!float may hold an integer literal ("!!float 1"). */
		if (tags[i].kind == CORE_FLOAT && k == CORE_INT && is_core_float(s, n))
			k = CORE_FLOAT;
		if (k != tags[i].kind)
			return yfail(c, &ev->start_mark, "value does not match its tag %.64s", tag), NULL;
		return make_core(c, ev, k);
	}
	return yfail(c, &ev->start_mark, "tag %.64s is not allowed", tag), NULL;
}

static json_t *parse_node(struct yctx *c, yaml_event_t *ev, int depth);

static int check_collection(struct yctx *c, const yaml_event_t *ev, const yaml_char_t *anchor,
			    const yaml_char_t *tag, const char *want, int depth)
{
	if (anchor != NULL)
		return yfail(c, &ev->start_mark, "anchors are not allowed");
	if (tag != NULL && strcmp((const char *)tag, want) != 0 && strcmp((const char *)tag, "!") != 0)
		return yfail(c, &ev->start_mark, "tag %.64s is not allowed here", (const char *)tag);
	if (depth > K8S_YAML_MAX_DEPTH)
		return yfail(c, &ev->start_mark, "nesting deeper than %d levels", K8S_YAML_MAX_DEPTH);
	return 0;
}

/* A mapping key: a plain or quoted scalar, taken as written (so `true:`
 * is the key "true", as JSON needs string keys). */
static char *mapping_key(struct yctx *c, const yaml_event_t *kev)
{
	const char *tag = (const char *)kev->data.scalar.tag;

	if (kev->type == YAML_ALIAS_EVENT)
		return yfail(c, &kev->start_mark, "aliases are not allowed"), NULL;
	if (kev->type != YAML_SCALAR_EVENT)
		return yfail(c, &kev->start_mark, "mapping keys must be scalars"), NULL;
	if (kev->data.scalar.anchor != NULL)
		return yfail(c, &kev->start_mark, "anchors are not allowed"), NULL;
	if (tag != NULL && strcmp(tag, "!") != 0 && strcmp(tag, TAG_PREFIX "str") != 0)
		return yfail(c, &kev->start_mark, "tag %.64s is not allowed on a key", tag), NULL;
	if (memchr(kev->data.scalar.value, '\0', kev->data.scalar.length) != NULL)
		return yfail(c, &kev->start_mark, "NUL character in a key"), NULL;
	return strdup((const char *)kev->data.scalar.value);
}

static json_t *parse_mapping(struct yctx *c, int depth)
{
	json_t *obj = json_object(), *val;
	yaml_event_t kev, vev;
	char *key = NULL;
	int ok = 0;

	if (obj == NULL)
		return NULL;
	for (;;) {
		if (next_event(c, &kev) != 0)
			goto out;
		if (kev.type == YAML_MAPPING_END_EVENT) {
			event_free(&kev);
			break;
		}
		key = mapping_key(c, &kev);
		if (key == NULL) {
			event_free(&kev);
			goto out;
		}
		if (json_object_get(obj, key) != NULL) {
			yfail(c, &kev.start_mark, "duplicate key \"%.64s\"", key);
			event_free(&kev);
			goto out;
		}
		event_free(&kev);
		if (next_event(c, &vev) != 0)
			goto out;
		val = parse_node(c, &vev, depth + 1);
		if (val == NULL || json_object_set_new(obj, key, val) != 0)
			goto out;
		free(key);
		key = NULL;
	}
	ok = 1;
out:
	free(key);
	if (!ok) {
		json_decref(obj);
		obj = NULL;
	}
	return obj;
}

static json_t *parse_sequence(struct yctx *c, int depth)
{
	json_t *arr = json_array(), *val;
	yaml_event_t ev;

	if (arr == NULL)
		return NULL;
	for (;;) {
		if (next_event(c, &ev) != 0)
			goto fail;
		if (ev.type == YAML_SEQUENCE_END_EVENT) {
			event_free(&ev);
			return arr;
		}
		val = parse_node(c, &ev, depth + 1);
		if (val == NULL || json_array_append_new(arr, val) != 0)
			goto fail;
	}
fail:
	json_decref(arr);
	return NULL;
}

/* Takes ownership of *ev (the node's first event). */
static json_t *parse_node(struct yctx *c, yaml_event_t *ev, int depth)
{
	json_t *res = NULL;

	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		if (ev->data.scalar.anchor != NULL)
			yfail(c, &ev->start_mark, "anchors are not allowed");
		else
			res = scalar_to_json(c, ev);
		break;
	case YAML_ALIAS_EVENT:
		yfail(c, &ev->start_mark, "aliases are not allowed");
		break;
	case YAML_MAPPING_START_EVENT:
		if (check_collection(c, ev, ev->data.mapping_start.anchor, ev->data.mapping_start.tag,
				     TAG_PREFIX "map", depth) == 0)
			res = parse_mapping(c, depth);
		break;
	case YAML_SEQUENCE_START_EVENT:
		if (check_collection(c, ev, ev->data.sequence_start.anchor, ev->data.sequence_start.tag,
				     TAG_PREFIX "seq", depth) == 0)
			res = parse_sequence(c, depth);
		break;
	default:
		yfail(c, &ev->start_mark, "unexpected YAML event");
		break;
	}
	event_free(ev);
	if (res == NULL && (c->err == NULL || c->err->status == K8S_OK))
		k8s_err_set(c->err, K8S_ECONFIG, "configuration error", "%s: out of memory", c->name);
	return res;
}

static int expect(struct yctx *c, yaml_event_type_t type, const char *what)
{
	yaml_event_t ev;
	int r = 0;

	if (next_event(c, &ev) != 0)
		return -1;
	if (ev.type != type)
		r = yfail(c, &ev.start_mark, "%s", what);
	event_free(&ev);
	return r ? -1 : 0;
}

/* Stream -> at most one document -> one node. */
static json_t *parse_stream(struct yctx *c)
{
	const yaml_version_directive_t *vd;
	json_t *root = NULL;
	yaml_event_t ev;

	if (expect(c, YAML_STREAM_START_EVENT, "expected the start of a stream") != 0)
		return NULL;
	if (next_event(c, &ev) != 0)
		return NULL;
	if (ev.type == YAML_STREAM_END_EVENT) {
		event_free(&ev);
		return json_null();
	}
	vd = ev.data.document_start.version_directive;
	if (ev.type != YAML_DOCUMENT_START_EVENT || (vd != NULL && (vd->major != 1 || vd->minor != 2))) {
		yfail(c, &ev.start_mark, "only YAML 1.2 documents are supported");
		event_free(&ev);
		return NULL;
	}
	event_free(&ev);
	if (next_event(c, &ev) != 0)
		return NULL;
	root = parse_node(c, &ev, 1);
	if (root == NULL)
		return NULL;
	if (expect(c, YAML_DOCUMENT_END_EVENT, "expected the end of the document") != 0 ||
	    expect(c, YAML_STREAM_END_EVENT, "more than one document") != 0) {
		json_decref(root);
		return NULL;
	}
	return root;
}

static int json_depth_ok(json_t *j, int depth)
{
	const char *k;
	json_t *v;
	size_t i;

	if (depth > K8S_YAML_MAX_DEPTH)
		return 0;
	if (json_is_object(j)) {
		json_object_foreach(j, k, v)
			if (!json_depth_ok(v, depth + 1))
				return 0;
	} else if (json_is_array(j)) {
		json_array_foreach(j, i, v)
			if (!json_depth_ok(v, depth + 1))
				return 0;
	}
	return 1;
}

/* Strict JSON first for JSON-looking text: exact JSON semantics and no
 * dependence on libyaml's flow-style corner cases.  NULL = not JSON. */
static json_t *try_json(const char *text, size_t len)
{
	json_error_t jerr;
	json_t *j;
	size_t i = 0;

	while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n'))
		i++;
	if (i == len || (text[i] != '{' && text[i] != '['))
		return NULL;
	j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (j != NULL && !json_depth_ok(j, 1)) {
		json_decref(j);
		j = NULL;
	}
	return j;
}

json_t *k8s_yaml_parse(const char *text, size_t len, const char *name, struct k8s_err *err)
{
	struct yctx c;
	json_t *root;

	k8s_err_clear(err);
	if (name == NULL)
		name = "<input>";
	if (text == NULL && len == 0)
		return json_null();
	if (text == NULL || len > K8S_YAML_MAX_BYTES)
		return k8s_err_set(err, K8S_ECONFIG, "configuration error",
				   "%s: larger than %u bytes", name, K8S_YAML_MAX_BYTES), NULL;
	root = try_json(text, len);
	if (root != NULL)
		return root;
	memset(&c, 0, sizeof(c));
	c.name = name;
	c.err = err;
	if (!yaml_parser_initialize(&c.parser))
		return k8s_err_set(err, K8S_ECONFIG, "configuration error", "%s: out of memory", name), NULL;
	yaml_parser_set_input_string(&c.parser, (const unsigned char *)text, len);
	root = parse_stream(&c);
	/* The decoded copies of the text may hold secrets. */
	if (c.parser.buffer.start != NULL)
		k8s_wipe(c.parser.buffer.start, (size_t)(c.parser.buffer.end - c.parser.buffer.start));
	if (c.parser.raw_buffer.start != NULL)
		k8s_wipe(c.parser.raw_buffer.start,
			 (size_t)(c.parser.raw_buffer.end - c.parser.raw_buffer.start));
	yaml_parser_delete(&c.parser);
	return root;
}

static int read_fd(int fd, size_t max, char **out, size_t *out_len)
{
	struct k8s_buf b = {0};

	if (k8s_buf_read_fd(&b, fd, max) != 0) {
		k8s_buf_free(&b);
		return -1;
	}
	*out = b.data;
	*out_len = b.len;
	return 0;
}

json_t *k8s_yaml_load_file_stat(const char *path, size_t max_bytes, struct stat *st,
				struct k8s_err *err)
{
	struct stat sb;
	char *text = NULL;
	size_t len = 0;
	json_t *root = NULL;
	int fd = -1;

	k8s_err_clear(err);
	if (max_bytes > K8S_YAML_MAX_BYTES)
		max_bytes = K8S_YAML_MAX_BYTES;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &sb) != 0) {
		k8s_err_set(err, K8S_ECONFIG, "configuration error", "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		k8s_err_set(err, K8S_ECONFIG, "configuration error", "%s: not a regular file", path);
		goto out;
	}
	if (read_fd(fd, max_bytes, &text, &len) != 0) {
		if (errno == EFBIG)
			k8s_err_set(err, K8S_ECONFIG, "configuration error",
				    "%s: larger than %zu bytes", path, max_bytes);
		else
			k8s_err_set(err, K8S_ECONFIG, "configuration error", "%s: %s", path,
				    strerror(errno));
		goto out;
	}
	root = k8s_yaml_parse(text, len, path, err);
	if (root != NULL && st != NULL)
		*st = sb;
out:
	if (text != NULL)
		k8s_freezero(text, len);
	if (fd >= 0)
		close(fd);
	return root;
}

json_t *k8s_yaml_load_file(const char *path, size_t max_bytes, struct k8s_err *err)
{
	return k8s_yaml_load_file_stat(path, max_bytes, NULL, err);
}
