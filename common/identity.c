#include "identity.h"

#include <math.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storefmt.h" /* K8S_SF_STR_MAX */
#include "util.h"

void k8s_identity_free(struct k8s_identity *id)
{
	size_t i;

	if (id == NULL)
		return;
	free(id->issuer);
	free(id->subject);
	free(id->username);
	free(id->uid);
	for (i = 0; i < id->n_groups; i++)
		free(id->groups[i]);
	free(id->groups);
	json_decref(id->extra);
	free(id->namespace_);
	free(id->sa_name);
	free(id->sa_uid);
	free(id->pod_name);
	free(id->pod_uid);
	free(id->node_name);
	free(id->node_uid);
	free(id->warning);
	memset(id, 0, sizeof(*id));
}

void k8s_identity_warn(struct k8s_identity *id, const char *fmt, ...)
{
	char *msg = NULL, *all = NULL;
	va_list ap;
	int n;

	if (id == NULL || fmt == NULL)
		return;
	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	/* The same sentence twice (config and use both noticed) says nothing new. */
	if (id->warning != NULL && strstr(id->warning, msg) != NULL) {
		free(msg);
		return;
	}
	if (id->warning == NULL) {
		id->warning = msg;
		return;
	}
	if (asprintf(&all, "%s; %s", id->warning, msg) >= 0) {
		free(id->warning);
		id->warning = all;
	}
	free(msg);
}

int k8s_identity_add_group(struct k8s_identity *id, const char *group)
{
	char **n;
	char *g;

	g = strdup(group);
	if (g == NULL)
		return -1;
	n = realloc(id->groups, (id->n_groups + 1) * sizeof(*n));
	if (n == NULL) {
		free(g);
		return -1;
	}
	id->groups = n;
	id->groups[id->n_groups++] = g;
	return 0;
}

int k8s_identity_has_group(const struct k8s_identity *id, const char *group)
{
	size_t i;

	for (i = 0; i < id->n_groups; i++)
		if (strcmp(id->groups[i], group) == 0)
			return 1;
	return 0;
}

int k8s_identity_add_authenticated(struct k8s_identity *id)
{
	if (id->username != NULL && strcmp(id->username, "system:anonymous") == 0)
		return 0;
	if (k8s_identity_has_group(id, "system:authenticated") ||
	    k8s_identity_has_group(id, "system:unauthenticated"))
		return 0;
	return k8s_identity_add_group(id, "system:authenticated");
}

int k8s_identity_set_credential_id(struct k8s_identity *id, const json_t *jti)
{
	const char *s = json_string_value(jti);
	size_t n = json_string_length(jti);
	char *v = NULL;
	int r;

	if (s == NULL || n == 0)
		return 0;
	if (memchr(s, '\0', n) != NULL || !json_is_object(id->extra))
		return -1;
	if (asprintf(&v, "JTI=%s", s) < 0)
		return -1;
	r = json_object_set_new(id->extra, K8S_EXTRA_CREDENTIAL_ID, json_pack("[s]", v));
	free(v);
	return r == 0 ? 0 : -1;
}

const char *k8s_identity_credential_id(const struct k8s_identity *id)
{
	json_t *v = id->extra != NULL ? json_object_get(id->extra, K8S_EXTRA_CREDENTIAL_ID) : NULL;

	return json_string_value(json_array_get(v, 0));
}

_Static_assert(sizeof(time_t) == 8 && sizeof(json_int_t) == 8, "time_t or json_int_t is not 64 bits");

int k8s_json_is_number(const char *s, size_t n)
{
	const char *e = s + n;

	if (s < e && *s == '-')
		s++;
	if (s < e && *s == '0')
		s++;
	else if (s < e && *s >= '1' && *s <= '9')
		while (s < e && *s >= '0' && *s <= '9')
			s++;
	else
		return 0;
	if (s < e && *s == '.') {
		if (++s == e || *s < '0' || *s > '9')
			return 0;
		while (s < e && *s >= '0' && *s <= '9')
			s++;
	}
	if (s < e && (*s == 'e' || *s == 'E')) {
		if (++s < e && (*s == '+' || *s == '-'))
			s++;
		if (s == e || *s < '0' || *s > '9')
			return 0;
		while (s < e && *s >= '0' && *s <= '9')
			s++;
	}
	return s == e;
}

int k8s_numeric_date(const json_t *v, time_t *out)
{
	double d;

	*out = 0;
	if (v == NULL)
		return 0;
	if (json_is_integer(v)) {
		*out = (time_t)json_integer_value(v);
		return 1;
	}
	/* go-oidc decodes NumericDates through json.Number, which takes a
	 * string holding a JSON number ("1700000000") as that number. */
	if (json_is_string(v)) {
		if (!k8s_json_is_number(json_string_value(v), json_string_length(v)))
			return -1;
		d = strtod(json_string_value(v), NULL);
	} else if (json_is_real(v)) {
		d = json_real_value(v);
	} else {
		return -1;
	}
	/* [-2^63, 2^63): both bounds are exact doubles, and C's conversion
	 * truncates every double between them toward zero into time_t.
	 * Outside (or NaN), the conversion is undefined: refused.  jansson
	 * itself refuses to parse 1e400 or an integer beyond 64 bits. */
	if (!isfinite(d) || d < -0x1p63 || d >= 0x1p63)
		return -1;
	*out = (time_t)d;
	return 1;
}

static void take_str(char **dst, json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));

	if (s != NULL && *dst == NULL)
		*dst = strdup(s);
}

int k8s_identity_take_jwt_claims(struct k8s_identity *id, json_t *payload, struct k8s_err *err)
{
	static const char *const names[] = {"exp", "iat", "nbf"};
	time_t *dst[] = {&id->exp, &id->iat, &id->nbf}, t;
	json_t *k8s, *sa, *pod, *node;
	size_t i;
	int r;

	for (i = 0; i < 3; i++) {
		if (dst[i] == &id->nbf && json_is_null(json_object_get(payload, names[i])))
			continue;
		r = k8s_numeric_date(json_object_get(payload, names[i]), &t);
		if (r < 0)
			return k8s_err_set(err, K8S_REFUSED, "malformed token",
					   "claim %s is not a number of seconds within time_t's range",
					   names[i]);
		if (r > 0 && t <= 0 && dst[i] == &id->exp)
			return k8s_err_set(err, K8S_REFUSED, "token expired",
					   "claim exp is at or before 1970-01-01");
		if (r > 0 && t > 0)
			*dst[i] = t;
	}
	k8s = json_object_get(payload, "kubernetes.io");
	if (json_is_object(k8s)) {
		take_str(&id->namespace_, k8s, "namespace");
		sa = json_object_get(k8s, "serviceaccount");
		take_str(&id->sa_name, sa, "name");
		take_str(&id->sa_uid, sa, "uid");
		pod = json_object_get(k8s, "pod");
		take_str(&id->pod_name, pod, "name");
		take_str(&id->pod_uid, pod, "uid");
		node = json_object_get(k8s, "node");
		take_str(&id->node_name, node, "name");
		take_str(&id->node_uid, node, "uid");
	}
	/* Secret-based tokens: issuer "kubernetes/serviceaccount" and the
	 * secret.name claim, no expiry. */
	if (json_object_get(payload, "kubernetes.io/serviceaccount/secret.name") != NULL) {
		id->legacy_sa = 1;
		take_str(&id->namespace_, payload, "kubernetes.io/serviceaccount/namespace");
		take_str(&id->sa_name, payload, "kubernetes.io/serviceaccount/service-account.name");
		take_str(&id->sa_uid, payload, "kubernetes.io/serviceaccount/service-account.uid");
	}
	return K8S_OK;
}

/* ------------------------------------------------------------ binding */

static int nonempty(const char *s)
{
	return s != NULL && s[0] != '\0';
}

int k8s_identity_binding(const struct k8s_identity *id, char **out, struct k8s_err *err)
{
	struct k8s_buf b = {0};
	int bad, rc;

	*out = NULL;
	if (id == NULL || id->method == NULL)
		goto none;
	/* A service-account token validated offline names the user TokenReview
	 * names for it (the same uid, the service account's): one binding, so an
	 * account survives a switch between the two (docs/design.md). */
	if (strcmp(id->method, "serviceaccount") == 0) {
		if (!nonempty(id->uid))
			goto none;
		bad = k8s_buf_append(&b, "tokenreview:uid:", 16) || k8s_buf_percent_encode(&b, id->uid);
	} else if (strcmp(id->method, "tokenreview") == 0) {
		if (nonempty(id->uid))
			bad = k8s_buf_append(&b, "tokenreview:uid:", 16) || k8s_buf_percent_encode(&b, id->uid);
		else if (nonempty(id->username))
			bad = k8s_buf_append(&b, "tokenreview:user:", 17) || k8s_buf_percent_encode(&b, id->username);
		else
			goto none;
	} else if (strcmp(id->method, "jwt") == 0 && nonempty(id->issuer)) {
		bad = k8s_buf_append(&b, "jwt:", 4) || k8s_buf_percent_encode(&b, id->issuer);
		if (nonempty(id->uid) || nonempty(id->subject))
			bad = bad || k8s_buf_append(&b, "#", 1) ||
			      k8s_buf_percent_encode(&b, nonempty(id->uid) ? id->uid : id->subject);
		else if (nonempty(id->username))
			bad = bad || k8s_buf_append(&b, "#user#", 6) || k8s_buf_percent_encode(&b, id->username);
		else
			goto none;
	} else {
		goto none;
	}
	if (bad) {
		rc = k8s_err_oom(err, "identity binding");
	} else if (b.len > K8S_SF_STR_MAX) {
		rc = k8s_err_set(err, K8S_REFUSED, "identity too long to record",
				 "the identity binding (%s) would be %zu bytes; the store holds at most %u",
				 strcmp(id->method, "jwt") == 0 ? "issuer and uid, sub or username"
								 : "uid or username",
				 b.len, K8S_SF_STR_MAX);
	} else if (k8s_buf_append(&b, "", 1) != 0 || (*out = strdup(b.data)) == NULL) {
		rc = k8s_err_oom(err, "identity binding");
	} else {
		rc = K8S_OK;
	}
	k8s_buf_free(&b);
	return rc;
none:
	k8s_buf_free(&b);
	return k8s_err_set(err, K8S_REFUSED, "no identity to bind",
			   "the identity has no uid, subject or username to bind the account to");
}

/* ------------------------------------------------------------- JSON */

/* The optional string members and their one spelling. */
static const struct {
	const char *key;
	size_t off;
} id_strings[] = {
	{"issuer", offsetof(struct k8s_identity, issuer)},
	{"subject", offsetof(struct k8s_identity, subject)},
	{"uid", offsetof(struct k8s_identity, uid)},
	{"namespace", offsetof(struct k8s_identity, namespace_)},
	{"sa_name", offsetof(struct k8s_identity, sa_name)},
	{"sa_uid", offsetof(struct k8s_identity, sa_uid)},
	{"pod_name", offsetof(struct k8s_identity, pod_name)},
	{"pod_uid", offsetof(struct k8s_identity, pod_uid)},
	{"node_name", offsetof(struct k8s_identity, node_name)},
	{"node_uid", offsetof(struct k8s_identity, node_uid)},
};

#define N_ID_STRINGS (sizeof(id_strings) / sizeof(id_strings[0]))

static char **id_string(struct k8s_identity *id, size_t i)
{
	return (char **)((char *)id + id_strings[i].off);
}

json_t *k8s_json_strv(char *const *v, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a != NULL && i < n; i++)
		if (json_array_append_new(a, json_string(v[i])) != 0) {
			json_decref(a);
			a = NULL;
		}
	return a;
}

json_t *k8s_identity_to_json(const struct k8s_identity *id)
{
	json_t *o;
	size_t i;
	int rc;

	if (id->method == NULL || id->username == NULL || (o = json_object()) == NULL)
		return NULL;
	rc = json_object_set_new(o, "method", json_string(id->method));
	rc |= json_object_set_new(o, "username", json_string(id->username));
	for (i = 0; i < N_ID_STRINGS; i++) {
		const char *s = *id_string((struct k8s_identity *)id, i);

		if (s != NULL)
			rc |= json_object_set_new(o, id_strings[i].key, json_string(s));
	}
	rc |= json_object_set_new(o, "groups", k8s_json_strv(id->groups, id->n_groups));
	rc |= json_object_set_new(o, "extra", id->extra != NULL ? json_deep_copy(id->extra) : json_object());
	rc |= json_object_set_new(o, "exp", json_integer((json_int_t)id->exp));
	rc |= json_object_set_new(o, "iat", json_integer((json_int_t)id->iat));
	rc |= json_object_set_new(o, "nbf", json_integer((json_int_t)id->nbf));
	rc |= json_object_set_new(o, "legacy_sa", json_boolean(id->legacy_sa));
	if (id->fingerprint[0] != '\0')
		rc |= json_object_set_new(o, "fingerprint", json_string(id->fingerprint));
	if (rc != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static int extra_ok(const json_t *extra)
{
	const char *k;
	json_t *vals, *v;
	size_t i;

	if (!json_is_object(extra))
		return 0;
	json_object_foreach((json_t *)extra, k, vals) {
		if (!json_is_array(vals))
			return 0;
		json_array_foreach(vals, i, v)
			if (!json_is_string(v))
				return 0;
	}
	return 1;
}

static int get_time(const json_t *o, const char *key, time_t *dst)
{
	const json_t *v = json_object_get(o, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -1;
	*dst = (time_t)json_integer_value(v);
	return 0;
}

static int fingerprint_ok(const char *fp)
{
	size_t i;

	for (i = 0; i < 16; i++)
		if (!((fp[i] >= '0' && fp[i] <= '9') || (fp[i] >= 'a' && fp[i] <= 'f')))
			return 0;
	return fp[16] == '\0';
}

static int from_json(const json_t *o, struct k8s_identity *id)
{
	const char *m = json_string_value(json_object_get(o, "method"));
	const char *user = json_string_value(json_object_get(o, "username"));
	const json_t *groups = json_object_get(o, "groups"), *fp = json_object_get(o, "fingerprint");
	const json_t *v;
	size_t i;

	if (!json_is_object(o) || m == NULL || user == NULL || user[0] == '\0' ||
	    !json_is_array(groups) || !extra_ok(json_object_get(o, "extra")) ||
	    !json_is_boolean(json_object_get(o, "legacy_sa")))
		return -1;
	if (strcmp(m, "tokenreview") == 0)
		id->method = "tokenreview";
	else if (strcmp(m, "jwt") == 0)
		id->method = "jwt";
	else if (strcmp(m, "serviceaccount") == 0)
		id->method = "serviceaccount";
	else
		return -1;
	if ((id->username = strdup(user)) == NULL)
		return -1;
	for (i = 0; i < N_ID_STRINGS; i++) {
		v = json_object_get(o, id_strings[i].key);
		if (v != NULL && (!json_is_string(v) ||
				  (*id_string(id, i) = strdup(json_string_value(v))) == NULL))
			return -1;
	}
	json_array_foreach(groups, i, v)
		if (!json_is_string(v) || k8s_identity_add_group(id, json_string_value(v)) != 0)
			return -1;
	if ((id->extra = json_deep_copy(json_object_get(o, "extra"))) == NULL ||
	    get_time(o, "exp", &id->exp) != 0 || get_time(o, "iat", &id->iat) != 0 ||
	    get_time(o, "nbf", &id->nbf) != 0)
		return -1;
	id->legacy_sa = json_is_true(json_object_get(o, "legacy_sa"));
	if (fp != NULL) {
		if (!json_is_string(fp) || !fingerprint_ok(json_string_value(fp)))
			return -1;
		memcpy(id->fingerprint, json_string_value(fp), sizeof(id->fingerprint));
	}
	return 0;
}

int k8s_identity_from_json(const json_t *o, struct k8s_identity *id)
{
	memset(id, 0, sizeof(*id));
	if (from_json(o, id) == 0)
		return 0;
	k8s_identity_free(id);
	return -1;
}
