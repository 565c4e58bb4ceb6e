/* k8s-auth check: "why can't this person log in?"  Runs exactly the
 * checks pam_k8s's auth runs (engine, policy, mapping, login policy, the
 * identity binding read-only), writes nothing, and always prints one JSON
 * object.  The token comes on standard input only: argv shows in ps. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "authz.h"
#include "commands.h"
#include "config.h"
#include "jwt.h"
#include "mapping.h"
#include "util.h"
#include "validate.h"

/* Read one token: at most K8S_TOKEN_MAX bytes plus one line ending.
 * Returns 0, or -1 with *why set; the caller wipes *out. */
static int read_token(char **out, const char **why)
{
	size_t cap = K8S_TOKEN_MAX + 3, len = 0;
	char *buf = malloc(cap + 1);
	ssize_t n;

	*why = NULL;
	if (buf == NULL) {
		*why = "out of memory";
		return -1;
	}
	while (len < cap) {
		n = read(STDIN_FILENO, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	if (len == cap) {
		k8s_freezero(buf, cap + 1);
		*why = "token too large";
		return -1;
	}
	/* One trailing line ending is how every shell and file ends a line;
	 * anything else (inner whitespace) is left for the precheck to refuse. */
	if (len > 0 && buf[len - 1] == '\n')
		buf[--len] = '\0';
	if (len > 0 && buf[len - 1] == '\r')
		buf[--len] = '\0';
	if (len == 0 || memchr(buf, '\0', len) != NULL) {
		k8s_freezero(buf, cap + 1);
		*why = len == 0 ? "no token on standard input" : "malformed token";
		return -1;
	}
	*out = buf;
	return 0;
}

static json_t *strv_json(char *const *v, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static void put_identity(json_t *o, const struct k8s_identity *id)
{
	char when[32];

	if (id->method != NULL)
		json_object_set_new(o, "method", json_string(id->method));
	json_object_set_new(o, "issuer", id->issuer ? json_string(id->issuer) : json_null());
	if (id->username == NULL)
		return;
	json_object_set_new(o, "username", json_string(id->username));
	json_object_set_new(o, "uid", id->uid ? json_string(id->uid) : json_null());
	json_object_set_new(o, "groups", strv_json(id->groups, id->n_groups));
	json_object_set_new(o, "extra", id->extra ? json_incref(id->extra) : json_object());
	if (id->exp != 0) {
		k8s_format_time(id->exp, when);
		json_object_set_new(o, "expires_at", json_string(when));
	} else {
		json_object_set_new(o, "expires_at", json_null());
	}
	if (id->fingerprint[0] != '\0')
		json_object_set_new(o, "token_fingerprint", json_string(id->fingerprint));
}

/* What the administrator must hear even when the answer is yes (stale
 * issuer keys, policy.allowClusterAudiences): stderr, and "warning" in
 * the JSON. */
static void put_warning(json_t *o, const struct k8s_identity *id)
{
	if (id->warning == NULL)
		return;
	json_object_set_new(o, "warning", json_string(id->warning));
	fprintf(stderr, "k8s-auth: warning: %s\n", id->warning);
}

static void put_login(json_t *o, const struct k8s_login *l)
{
	json_t *groups;
	size_t i;

	if (l->local[0] == '\0')
		return;
	json_object_set_new(o, "local_user", json_string(l->local));
	json_object_set_new(o, "uid_number",
			    l->uid_number >= 0 ? json_integer(l->uid_number) : json_null());
	groups = json_array();
	for (i = 0; i < l->n_groups; i++) {
		json_t *g = json_object();

		json_object_set_new(g, "name", json_string(l->groups[i].name));
		json_object_set_new(g, "gid", l->gid_numbers && l->gid_numbers[i] >= 0
					      ? json_integer(l->gid_numbers[i]) : json_null());
		json_array_append_new(groups, g);
	}
	json_object_set_new(o, "local_groups", groups);
	if (l->existing)
		json_object_set_new(o, "existing_account", json_true());
}

static void emit(json_t *o)
{
	char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

	if (s != NULL) {
		puts(s);
		free(s);
	}
	fflush(stdout);
}

int cmd_check(int argc, char **argv, const char *config_path)
{
	static const struct option opts[] = {
		{"user", required_argument, NULL, 'u'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct k8s_config *cfg = NULL;
	struct k8s_identity id;
	struct k8s_login login;
	struct k8s_err err;
	const char *user = NULL, *why;
	char *token = NULL;
	json_t *o = json_object();
	int c, rc;

	memset(&id, 0, sizeof(id));
	memset(&login, 0, sizeof(login));
	k8s_err_clear(&err);
	optind = 1;
	while ((c = getopt_long(argc, argv, "u:h", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			user = optarg;
			break;
		case 'h':
			printf("usage: k8s-auth check [--config PATH] [--user LOCAL] < token\n");
			rc = 0;
			goto out_nojson;
		default:
			rc = k8s_err_set(&err, K8S_ECONFIG, "usage error", "usage: k8s-auth check [--config PATH] [--user LOCAL] < token");
			goto out;
		}
	}
	if (optind != argc) {
		rc = k8s_err_set(&err, K8S_ECONFIG, "usage error",
				 "the token is read from standard input, never from the command line");
		goto out;
	}
	rc = k8s_config_load(config_path, &cfg, &err);
	if (rc != K8S_OK)
		goto out;
	if (read_token(&token, &why) != 0) {
		rc = k8s_err_set(&err, K8S_REFUSED, why, "%s", why);
		goto out;
	}
	/* Ask the apiserver now: an admin asking "why" wants today's answer,
	 * and check must leave no review-cache entry behind. */
	rc = k8s_validate_token(cfg, token, K8S_VALIDATE_NO_CACHE, &id, &err);
	k8s_freezero_str(token);
	token = NULL;
	if (rc != K8S_OK)
		goto out;
	rc = k8s_authorize_login(cfg, &id, user, &login, &err);
out:
	json_object_set_new(o, "authenticated", json_boolean(rc == K8S_OK));
	put_identity(o, &id);
	put_login(o, &login);
	put_warning(o, &id);
	if (rc != K8S_OK) {
		json_object_set_new(o, "reason", json_string(err.reason));
		if (err.detail[0] != '\0')
			json_object_set_new(o, "detail", json_string(err.detail));
		if (rc == K8S_ECONFIG || rc == K8S_UNAVAILABLE)
			fprintf(stderr, "k8s-auth: %s\n", err.detail[0] ? err.detail : err.reason);
	}
	emit(o);
out_nojson:
	json_decref(o);
	k8s_freezero_str(token);
	k8s_identity_free(&id);
	k8s_login_free(&login);
	k8s_config_free(cfg);
	return rc;
}
