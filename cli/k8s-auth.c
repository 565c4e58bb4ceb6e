/* k8s-auth: the admin CLI (SPEC.md "The CLI").  This file only finds the
 * configuration and dispatches; each subcommand lives in its own file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "config.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: k8s-auth [--config PATH] COMMAND [ARGS]\n"
		"  check [--user LOCAL]     validate one token read from standard input (JSON out)\n"
		"  users [--json]           accounts in the identity store\n"
		"  groups [--json]          groups in the identity store\n"
		"  forget LOCAL             drop an account's identity binding and login memberships\n"
		"  sync [--dry-run]         bring the store in line with the configuration\n"
		"  version\n"
		"The configuration is --config, else $K8S_AUTH_CONFIG, else %s.\n"
		"Exit codes: 0 accepted/done, 1 refused, 2 usage or configuration error, 3 unavailable.\n",
		K8S_DEFAULT_CONFIG);
}

/* Take --config PATH / --config=PATH out of argv wherever it stands, so
 * both `k8s-auth --config X check` and `k8s-auth check --config X` work. */
static int take_config(int *argc, char **argv, const char **path)
{
	int i, j;

	for (i = 1; i < *argc; i++) {
		int eat = 0;

		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--config") == 0) {
			if (i + 1 >= *argc)
				return -1;
			*path = argv[i + 1];
			eat = 2;
		} else if (strncmp(argv[i], "--config=", 9) == 0) {
			*path = argv[i] + 9;
			eat = 1;
		}
		if (eat) {
			for (j = i; j + eat <= *argc; j++)
				argv[j] = argv[j + eat];
			*argc -= eat;
			i--;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *config = NULL;
	const char *cmd;

	if (take_config(&argc, argv, &config) != 0) {
		fprintf(stderr, "k8s-auth: --config needs a path\n");
		return 2;
	}
	if (config == NULL)
		config = getenv("K8S_AUTH_CONFIG");
	if (config == NULL || *config == '\0')
		config = K8S_DEFAULT_CONFIG;
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	cmd = argv[1];
	argc--;
	argv++;
	if (strcmp(cmd, "check") == 0)
		return cmd_check(argc, argv, config);
	if (strcmp(cmd, "users") == 0)
		return cmd_users(argc, argv, config);
	if (strcmp(cmd, "groups") == 0)
		return cmd_groups(argc, argv, config);
	if (strcmp(cmd, "forget") == 0)
		return cmd_forget(argc, argv, config);
	if (strcmp(cmd, "sync") == 0)
		return cmd_sync(argc, argv, config);
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("k8s-auth %s\n", K8S_VERSION);
		return 0;
	}
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "k8s-auth: unknown command '%s'\n", cmd);
	usage(stderr);
	return 2;
}
