/* k8s-auth users | groups | forget: show and manage the identity store.
 * Read-only commands open the store without the lock; forget takes it. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "commands.h"
#include "config.h"
#include "store.h"
#include "util.h"

/* The store directory: the config's `store:`, or the compiled default when
 * there is no config file at all (a host that only runs NSS).  Only the
 * default configuration may be missing: a file named with --config or
 * $K8S_AUTH_CONFIG (config_path not NULL) must load. */
static int store_dir(const char *config_path, struct k8s_config **cfg, const char **dir,
		     struct k8s_err *err)
{
	struct stat sb;
	int rc;

	*cfg = NULL;
	*dir = K8S_STOREDIR;
	if (config_path == NULL && stat(K8S_DEFAULT_CONFIG, &sb) != 0 && errno == ENOENT)
		return K8S_OK;
	rc = k8s_config_load(config_path, cfg, err);
	if (rc == K8S_OK)
		*dir = (*cfg)->store;
	return rc;
}

static int parse_json_flag(int argc, char **argv, int *json, const char *usage)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{NULL, 0, NULL, 0},
	};
	int c;

	*json = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'j') {
			fprintf(stderr, "usage: %s\n", usage);
			return -1;
		}
		*json = 1;
	}
	if (optind != argc) {
		fprintf(stderr, "usage: %s\n", usage);
		return -1;
	}
	return 0;
}

static const struct {
	uint32_t bit;
	const char *name;
} source_names[] = {
	{K8S_SRC_EXISTING, "existing"},
	{K8S_SRC_DECLARED, "declared"},
	{K8S_SRC_SYNCED, "synced"},
	{K8S_SRC_LOGIN, "login"},
};

static void sources_text(uint32_t s, char *buf, size_t len)
{
	size_t i, at = 0;

	buf[0] = '\0';
	for (i = 0; i < sizeof(source_names) / sizeof(source_names[0]); i++)
		if ((s & source_names[i].bit) && at < len)
			at += (size_t)snprintf(buf + at, len - at, "%s%s", at ? "," : "",
					       source_names[i].name);
}

static json_t *sources_json(uint32_t s)
{
	json_t *a = json_array();

	if (s & K8S_SRC_EXISTING)
		json_array_append_new(a, json_string("existing"));
	if (s & K8S_SRC_DECLARED)
		json_array_append_new(a, json_string("declared"));
	if (s & K8S_SRC_SYNCED)
		json_array_append_new(a, json_string("synced"));
	if (s & K8S_SRC_LOGIN)
		json_array_append_new(a, json_string("login"));
	return a;
}

static json_t *str_or_null(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

static json_t *user_json(const struct k8s_store_user *u)
{
	json_t *o = json_object(), *gs = json_array();
	int existing = (u->sources & K8S_SRC_EXISTING) != 0;
	char when[32];
	size_t i;

	for (i = 0; i < u->n_groups; i++)
		json_array_append_new(gs, json_pack("{s:s, s:I, s:o}", "name", u->groups[i].group,
						    "gid", (json_int_t)u->groups[i].gid,
						    "sources", sources_json(u->groups[i].sources)));
	if (u->last_login != 0)
		k8s_format_time(u->last_login, when);
	json_object_set_new(o, "name", json_string(u->name));
	/* an existing account's numbers are its own source's, not the store's */
	json_object_set_new(o, "uid", existing ? json_null() : json_integer((json_int_t)u->uid));
	json_object_set_new(o, "gid", existing ? json_null() : json_integer((json_int_t)u->gid));
	json_object_set_new(o, "gecos", json_string(u->gecos ? u->gecos : ""));
	json_object_set_new(o, "home", json_string(u->home));
	json_object_set_new(o, "shell", json_string(u->shell));
	json_object_set_new(o, "sources", sources_json(u->sources));
	json_object_set_new(o, "uid_pinned", json_boolean(u->uid_pinned));
	json_object_set_new(o, "binding", str_or_null(u->binding));
	json_object_set_new(o, "cluster_user", str_or_null(u->cluster_user));
	json_object_set_new(o, "last_login", u->last_login ? json_string(when) : json_null());
	json_object_set_new(o, "groups", gs);
	return o;
}

static int by_name(const void *a, const void *b)
{
	return strcmp((*(const struct k8s_store_user *const *)a)->name,
		      (*(const struct k8s_store_user *const *)b)->name);
}

static void print_users(struct k8s_store *st, int json)
{
	const struct k8s_store_user **v = calloc(st->n_users + 1, sizeof(*v));
	json_t *arr;
	char src[48], when[32], uid[16], gid[16];
	size_t i, n = v != NULL ? st->n_users : 0;

	for (i = 0; i < n; i++)
		v[i] = st->users[i];
	k8s_qsort(v, n, sizeof(*v), by_name);
	if (json) {
		arr = json_array();
		for (i = 0; i < n; i++)
			json_array_append_new(arr, user_json(v[i]));
		json_dumpf(arr, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
		json_decref(arr);
		free(v);
		return;
	}
	printf("%-24s %10s %10s %-17s %-20s %-20s %-20s %s\n", "NAME", "UID", "GID", "SOURCE",
	       "HOME", "SHELL", "LAST LOGIN", "BINDING");
	for (i = 0; i < n; i++) {
		const struct k8s_store_user *u = v[i];

		sources_text(u->sources, src, sizeof(src));
		if (u->last_login != 0)
			k8s_format_time(u->last_login, when);
		snprintf(uid, sizeof(uid), "%u", (unsigned)u->uid);
		snprintf(gid, sizeof(gid), "%u", (unsigned)u->gid);
		if (u->sources & K8S_SRC_EXISTING) { /* its own source's numbers */
			snprintf(uid, sizeof(uid), "-");
			snprintf(gid, sizeof(gid), "-");
		}
		printf("%-24s %10s %10s %-17s %-20s %-20s %-20s %s\n", u->name, uid, gid, src,
		       u->home, u->shell, u->last_login ? when : "never",
		       u->binding ? u->binding : "-");
	}
	free(v);
}

/* Groups the store defines, and the local groups (sudo) its users were
 * put in, with the store's members of each. */
struct shown_group {
	const char *name;
	gid_t gid;
	const char *kind;
	uint32_t sources;
	json_t *members;
};

static struct shown_group *collect_groups(struct k8s_store *st, size_t *n)
{
	struct shown_group *v = calloc(st->n_groups + 1, sizeof(*v)), *nv;
	size_t cap = st->n_groups + 1, i, j, k;

	*n = 0;
	for (i = 0; v != NULL && i < st->n_groups; i++) {
		v[i].name = st->groups[i]->name;
		v[i].gid = st->groups[i]->gid;
		v[i].kind = st->groups[i]->private_group ? "private" : "store";
		v[i].sources = st->groups[i]->sources;
		v[i].members = json_array();
		if (st->groups[i]->private_group)
			json_array_append_new(v[i].members, json_string(v[i].name));
		*n = i + 1;
	}
	for (i = 0; v != NULL && i < st->n_users; i++)
		for (j = 0; v != NULL && j < st->users[i]->n_groups; j++) {
			const struct k8s_store_membership *m = &st->users[i]->groups[j];

			for (k = 0; k < *n && strcmp(v[k].name, m->group) != 0; k++)
				;
			if (k == *n) {
				if (*n == cap) {
					nv = realloc(v, 2 * cap * sizeof(*v));
					if (nv == NULL)
						break;
					v = nv;
					cap *= 2;
				}
				memset(&v[k], 0, sizeof(v[k]));
				v[k].name = m->group;
				v[k].gid = m->gid;
				v[k].kind = "local";
				v[k].members = json_array();
				(*n)++;
			}
			if (strcmp(v[k].kind, "private") != 0) {
				json_array_append_new(v[k].members, json_string(st->users[i]->name));
				if (strcmp(v[k].kind, "local") == 0)
					v[k].sources |= m->sources;
			}
		}
	return v;
}

static int shown_by_name(const void *a, const void *b)
{
	return strcmp(((const struct shown_group *)a)->name, ((const struct shown_group *)b)->name);
}

static void print_groups(struct k8s_store *st, int json)
{
	struct shown_group *v;
	json_t *arr = json_array(), *m;
	char src[32];
	size_t n, i, k;

	v = collect_groups(st, &n);
	if (v == NULL)
		n = 0;
	k8s_qsort(v, n, sizeof(*v), shown_by_name);
	if (!json)
		printf("%-24s %10s %-8s %-17s %s\n", "NAME", "GID", "KIND", "SOURCE", "MEMBERS");
	for (i = 0; i < n; i++) {
		if (json) {
			json_array_append_new(arr, json_pack("{s:s, s:I, s:s, s:o, s:O}", "name", v[i].name,
							    "gid", (json_int_t)v[i].gid, "kind", v[i].kind,
							    "sources", sources_json(v[i].sources),
							    "members", v[i].members));
			continue;
		}
		sources_text(v[i].sources, src, sizeof(src));
		printf("%-24s %10u %-8s %-17s ", v[i].name, (unsigned)v[i].gid, v[i].kind, src);
		json_array_foreach(v[i].members, k, m)
			printf("%s%s", k ? "," : "", json_string_value(m));
		printf("\n");
	}
	if (json) {
		json_dumpf(arr, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
	}
	for (i = 0; i < n; i++)
		json_decref(v[i].members);
	json_decref(arr);
	free(v);
}

static int show(int argc, char **argv, const char *config_path, int groups)
{
	struct k8s_config *cfg = NULL;
	struct k8s_store *st = NULL;
	struct k8s_err err;
	const char *dir;
	int json, rc;

	k8s_err_clear(&err);
	if (parse_json_flag(argc, argv, &json, groups ? "k8s-auth groups [--config PATH] [--json]" :
			    "k8s-auth users [--config PATH] [--json]") != 0)
		return K8S_ECONFIG;
	rc = store_dir(config_path, &cfg, &dir, &err);
	if (rc == K8S_OK)
		rc = k8s_store_open(dir, 0, &st, &err);
	if (rc == K8S_OK)
		rc = k8s_store_load_all(st, &err);
	if (rc != K8S_OK)
		goto out;
	if (groups)
		print_groups(st, json);
	else
		print_users(st, json);
out:
	if (rc != K8S_OK)
		fprintf(stderr, "k8s-auth %s: %s\n", argv[0], err.detail[0] ? err.detail : err.reason);
	k8s_store_close(st);
	k8s_config_free(cfg);
	return rc;
}

int cmd_users(int argc, char **argv, const char *config_path)
{
	return show(argc, argv, config_path, 0);
}

int cmd_groups(int argc, char **argv, const char *config_path)
{
	return show(argc, argv, config_path, 1);
}

int cmd_forget(int argc, char **argv, const char *config_path)
{
	struct k8s_config *cfg = NULL;
	struct k8s_store *st = NULL;
	struct k8s_store_user *u;
	struct k8s_err err;
	const char *dir;
	int rc;

	k8s_err_clear(&err);
	if (argc != 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: k8s-auth forget [--config PATH] LOCAL\n");
		return K8S_ECONFIG;
	}
	rc = store_dir(config_path, &cfg, &dir, &err);
	if (rc == K8S_OK)
		rc = k8s_store_open(dir, 1, &st, &err);
	if (rc != K8S_OK)
		goto out;
	if (err.reason[0] != '\0')
		fprintf(stderr, "k8s-auth forget: warning: %s\n", err.detail);
	k8s_err_clear(&err);
	rc = k8s_store_forget(st, argv[1], &err);
	if (rc == K8S_OK)
		rc = k8s_store_commit(st, &err);
	if (rc != K8S_OK)
		goto out;
	u = k8s_store_find_user(st, argv[1]);
	if (u != NULL)
		printf("%s: identity binding and login memberships dropped; the account stays (uid %u)\n",
		       argv[1], (unsigned)u->uid);
	else
		printf("%s: removed from the identity store\n", argv[1]);
out:
	if (rc != K8S_OK)
		fprintf(stderr, "k8s-auth forget: %s\n", err.detail[0] ? err.detail : err.reason);
	k8s_store_close(st);
	k8s_config_free(cfg);
	return rc;
}
