/* k8s-auth sync: bring the store in line with the configuration (declared
 * accounts).  Syncing from the cluster (a `sync:` section) is added by the
 * sync issue. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "config.h"
#include "store.h"

int cmd_sync(int argc, char **argv, const char *config_path)
{
	static const struct option opts[] = {
		{"dry-run", no_argument, NULL, 'n'},
		{NULL, 0, NULL, 0},
	};
	struct k8s_config *cfg = NULL;
	struct k8s_store *st = NULL;
	struct k8s_err err;
	int c, dry = 0, rc;

	k8s_err_clear(&err);
	optind = 1;
	while ((c = getopt_long(argc, argv, "n", opts, NULL)) != -1) {
		if (c != 'n') {
			fprintf(stderr, "usage: k8s-auth sync [--config PATH] [--dry-run]\n");
			return K8S_ECONFIG;
		}
		dry = 1;
	}
	rc = k8s_config_load(config_path, &cfg, &err);
	if (rc != K8S_OK)
		goto out;
	if (json_object_get(cfg->raw, "sync") != NULL) {
		rc = k8s_err_set(&err, K8S_ECONFIG, "sync from the cluster is not implemented",
				 "%s: sync: syncing from the cluster is not implemented yet", cfg->path);
		goto out;
	}
	rc = k8s_store_open(cfg->store, !dry, &st, &err);
	if (rc != K8S_OK)
		goto out;
	rc = k8s_store_apply_declared(st, cfg, &err);
	if (rc != K8S_OK)
		goto out;
	if (dry) {
		printf("dry run: %zu accounts, %zu groups after sync (nothing written)\n",
		       st->n_users, st->n_groups);
		goto out;
	}
	rc = k8s_store_commit(st, &err);
	if (rc == K8S_OK)
		printf("store %s: %zu accounts, %zu groups\n", cfg->store, st->n_users, st->n_groups);
out:
	if (rc != K8S_OK)
		fprintf(stderr, "k8s-auth sync: %s\n", err.detail[0] ? err.detail : err.reason);
	k8s_store_close(st);
	k8s_config_free(cfg);
	return rc;
}
