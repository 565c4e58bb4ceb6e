#include "identity.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
