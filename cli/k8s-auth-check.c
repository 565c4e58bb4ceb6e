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
#include "decide.h"
#include "frame.h"
#include "commands.h"
#include "config.h"
#include "jwt.h"
#include "mapping.h"
#include "util.h"
#include "validate.h"

/* Read one token the way the module takes an answer: trimmed, refused
 * at the lengths clients cut at, framed or not (common/frame.c), so check
 * and the module never disagree on a token's bytes.  0, or -1 with err. */
static int read_token(char **out, size_t *out_len, struct k8s_err *err)
{
	struct k8s_buf in = { 0 };
	struct k8s_frame f;
	int r;

	*out = NULL;
	if (k8s_buf_read_fd(&in, STDIN_FILENO, K8S_TOKEN_MAX + 64) != 0) {
		k8s_buf_free(&in);
		return k8s_err_set(err, K8S_REFUSED, errno == EFBIG ? "token too large" : "no token on standard input",
				   "reading standard input failed");
	}
	if (in.len == 0 || memchr(in.data, '\0', in.len) != NULL) {
		r = in.len == 0;
		k8s_buf_free(&in);
		return k8s_err_set(err, K8S_REFUSED, r ? "no token on standard input" : "malformed token",
				   r ? "standard input was empty" : "standard input holds a NUL byte");
	}
	r = k8s_frame_first(&f, in.data, in.len, err);
	k8s_buf_free(&in);
	if (r == K8S_FRAME_MORE) {
		k8s_frame_free(&f);
		return k8s_err_set(err, K8S_REFUSED, "malformed token", "standard input holds a partial frame");
	}
	if (r != K8S_FRAME_DONE)
		return -1;
	*out = f.tok.data;
	*out_len = f.tok.len;
	return 0;
}

/* The identity as `k8s-auth check --json` shows it (SPEC.md: times as
 * text, the fingerprint as token_fingerprint, absent values null): a view
 * for people and scripts, never read back; what is kept on disk is
 * k8s_identity_to_json's, whose key spellings these share. */
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
	json_object_set_new(o, "groups", k8s_json_strv(id->groups, id->n_groups));
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

static int exit_code(const struct k8s_answer *an)
{
	switch (an->verdict) {
	case K8S_HV_OK:
		return K8S_OK;
	case K8S_HV_UNAVAILABLE:
		return an->err.status == K8S_ECONFIG ? K8S_ECONFIG : K8S_UNAVAILABLE;
	default:
		return K8S_REFUSED;
	}
}

int cmd_check(int argc, char **argv, const char *config_path)
{
	static const struct option opts[] = {
		{"user", required_argument, NULL, 'u'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct k8s_config *cfg = NULL;
	struct k8s_request rq;
	struct k8s_answer an;
	struct k8s_err *err = &an.err;
	const char *user = NULL;
	json_t *o = json_object();
	int c, rc;

	memset(&rq, 0, sizeof(rq));
	k8s_answer_init(&an);
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
			rc = k8s_err_set(err, K8S_ECONFIG, "usage error", "usage: k8s-auth check [--config PATH] [--user LOCAL] < token");
			goto out;
		}
	}
	if (optind != argc) {
		rc = k8s_err_set(err, K8S_ECONFIG, "usage error",
				 "the token is read from standard input, never from the command line");
		goto out;
	}
	if (user != NULL && strlen(user) >= sizeof(rq.user)) {
		rc = k8s_err_set(err, K8S_REFUSED, "not a user pam_k8s handles", "%.64s... is too long for a local name", user);
		goto out;
	}
	rc = k8s_config_load(config_path, &cfg, err);
	if (rc != K8S_OK)
		goto out;
	rc = read_token(&rq.token, &rq.token_len, err);
	if (rc != K8S_OK) {
		rc = K8S_REFUSED;
		goto out;
	}
	if (user == NULL) {
		/* no account asked for: validate and map only.  The apiserver
		 * is asked now (an admin asking "why" wants today's answer) and
		 * no review-cache entry is left behind. */
		rc = k8s_validate_token(cfg, rq.token, K8S_VALIDATE_NO_CACHE, &an.id, err);
		if (rc == K8S_OK)
			rc = k8s_authorize_login(cfg, &an.id, NULL, &an.login, err);
		goto out;
	}
	/* exactly the helper's decision for pam_k8s's auth, writing nothing */
	rq.type = K8S_HP_AUTH;
	rq.dry_run = 1;
	rq.ruid = (long long)getuid();
	rq.caller = getpid();
	snprintf(rq.user, sizeof(rq.user), "%s", user);
	snprintf(rq.service, sizeof(rq.service), "k8s-auth-check");
	k8s_decide(cfg, err, &rq, &an);
	rc = exit_code(&an);
	if (rc != K8S_OK && err->reason[0] == '\0')
		k8s_err_set(err, K8S_REFUSED, "refused", "pam_k8s would refuse this login");
out:
	json_object_set_new(o, "authenticated", json_boolean(rc == K8S_OK));
	put_identity(o, &an.id);
	put_login(o, &an.login);
	put_warning(o, &an.id);
	if (rc != K8S_OK) {
		json_object_set_new(o, "reason", json_string(err->reason));
		if (err->detail[0] != '\0')
			json_object_set_new(o, "detail", json_string(err->detail));
		if (rc == K8S_ECONFIG || rc == K8S_UNAVAILABLE)
			fprintf(stderr, "k8s-auth: %s\n", err->detail[0] ? err->detail : err->reason);
	}
	emit(o);
out_nojson:
	json_decref(o);
	k8s_request_free(&rq);
	k8s_answer_free(&an);
	k8s_config_free(cfg);
	return rc;
}
