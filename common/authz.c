/* authz.c: the login checks after validation.  The store is opened
 * read-only; allocation of a first-login account is computed on the
 * in-memory model (never committed) so `k8s-auth check` can show the uid
 * and gids a login would get.  login.subjectAccessReview, when set, is
 * asked last (sar.h). */
#include "authz.h"

#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

#include "sar.h"
#include "store.h"
#include "util.h"

void k8s_login_free(struct k8s_login *l)
{
	if (l == NULL)
		return;
	free(l->groups);
	free(l->binding);
	free(l->gid_numbers);
	memset(l, 0, sizeof(*l));
	l->uid_number = -1;
}

static int check_allowed_groups(const struct k8s_config *cfg, const struct k8s_identity *id,
				struct k8s_err *err)
{
	size_t i;

	if (cfg->login.allowed_groups.n == 0)
		return K8S_OK;
	for (i = 0; i < id->n_groups; i++)
		if (k8s_strv_contains(&cfg->login.allowed_groups, id->groups[i]))
			return K8S_OK;
	return k8s_err_set(err, K8S_REFUSED, "not in an allowed group",
			   "%s is in none of login.allowedGroups", id->username);
}

/* An account some other NSS source serves (files, LDAP...). */
static int lookup_existing(const char *name, long *uid)
{
	struct k8s_pw p;

	if (k8s_pw_by_name(name, &p) != 1)
		return 0;
	*uid = (long)p.pw.pw_uid;
	k8s_pw_free(&p);
	return 1;
}

/* An account another NSS source serves: allowed only when listed in
 * accounts.allowExisting; its store record (binding, memberships) is
 * found or added to the model.  0 with *u NULL: not an existing account. */
static int existing_account(struct k8s_store *st, const struct k8s_config *cfg,
			    struct k8s_login *out, struct k8s_store_user **u, struct k8s_err *err)
{
	long uid;

	if (!lookup_existing(out->local, &uid)) {
		if (*u == NULL)
			return K8S_OK;
		return k8s_err_set(err, K8S_REFUSED, "local account not found",
				   "%s is recorded as an existing local account, which no NSS source has now",
				   out->local);
	}
	if (!k8s_strv_contains(&cfg->accounts.allow_existing, out->local))
		return k8s_err_set(err, K8S_REFUSED, "local account not managed",
				   "%s is an existing local account not listed in accounts.allowExisting",
				   out->local);
	out->existing = 1;
	out->uid_number = uid;
	return k8s_store_ensure_existing(st, out->local, u, err);
}

/* uid/gids from the store, or what a first login would allocate. */
static int resolve_numbers(const struct k8s_config *cfg, struct k8s_login *out, struct k8s_err *err)
{
	struct k8s_store *st = NULL;
	struct k8s_store_user *u;
	size_t i, j;
	int rc;

	rc = k8s_store_open(cfg->store, 0, &st, err);
	if (rc != K8S_OK)
		goto out;
	u = k8s_store_find_user(st, out->local);
	if (u != NULL && u->binding != NULL && strcmp(u->binding, out->binding) != 0) {
		rc = k8s_err_set(err, K8S_REFUSED, "identity binding mismatch",
				 "%s is bound to %s, the token is %s; run `k8s-auth forget %s` if the identity was replaced on purpose",
				 out->local, u->binding, out->binding, out->local);
		goto out;
	}
	if (u == NULL || (u->sources & K8S_SRC_EXISTING)) {
		rc = existing_account(st, cfg, out, &u, err);
		if (rc == K8S_OK && u == NULL)
			rc = k8s_store_ensure_user(st, cfg, out->local, K8S_SRC_LOGIN, -1, &u, err);
		if (rc != K8S_OK)
			goto out;
	}
	rc = k8s_store_set_memberships(st, cfg, u, K8S_SRC_LOGIN, out->groups, out->n_groups, err);
	if (rc != K8S_OK)
		goto out;
	if (!out->existing)
		out->uid_number = (long)u->uid;
	for (i = 0; i < out->n_groups; i++)
		for (j = 0; j < u->n_groups; j++)
			if (strcmp(u->groups[j].group, out->groups[i].name) == 0)
				out->gid_numbers[i] = (long)u->groups[j].gid;
out:
	k8s_store_close(st);
	return rc;
}

int k8s_authorize_login(const struct k8s_config *cfg, const struct k8s_identity *id,
			const char *requested, struct k8s_login *out, struct k8s_err *err)
{
	size_t i;
	int rc;

	memset(out, 0, sizeof(*out));
	out->uid_number = -1;
	rc = k8s_map_user(cfg, id->username, out->local, err);
	if (rc != K8S_OK)
		goto out;
	if (requested != NULL && strcmp(requested, out->local) != 0) {
		rc = k8s_err_set(err, K8S_REFUSED, "token is for another user",
				 "%s maps to %s, not to %s", id->username, out->local, requested);
		goto out;
	}
	if (strcmp(out->local, "root") == 0 && !cfg->login.allow_root) {
		rc = k8s_err_set(err, K8S_REFUSED, "root login not allowed",
				 "%s maps to root and login.allowRoot is false", id->username);
		goto out;
	}
	rc = check_allowed_groups(cfg, id, err);
	if (rc != K8S_OK)
		goto out;
	if (k8s_map_groups(cfg, id->groups, id->n_groups, &out->groups, &out->n_groups,
			   &out->n_invalid_groups) != 0) {
		rc = k8s_err_oom(err, "mapping groups");
		goto out;
	}
	out->gid_numbers = calloc(out->n_groups ? out->n_groups : 1, sizeof(long));
	if (out->gid_numbers == NULL) {
		rc = k8s_err_oom(err, "authorizing the login");
		goto out;
	}
	rc = k8s_identity_binding(id, &out->binding, err);
	if (rc != K8S_OK)
		goto out;
	for (i = 0; i < out->n_groups; i++)
		out->gid_numbers[i] = -1;
	rc = resolve_numbers(cfg, out, err);
	if (rc != K8S_OK)
		goto out;
	if (out->uid_number == 0 && !cfg->login.allow_root) {
		rc = k8s_err_set(err, K8S_REFUSED, "root login not allowed",
				 "%s is UID 0 and login.allowRoot is false", out->local);
		goto out;
	}
	/* Last: the one check that costs a round trip, asked only for an
	 * identity every local rule already admits. */
	rc = k8s_sar_check(cfg, id, out->local, K8S_SAR_LOGIN, err);
out:
	if (rc != K8S_OK && out->local[0] == '\0')
		k8s_login_free(out);
	return rc;
}
