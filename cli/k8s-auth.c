/* k8s-auth: the admin CLI (SPEC.md "The CLI").  This file only finds the
 * configuration, answers --help, and dispatches; each subcommand lives in
 * its own file. */
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
		"  sync [--dry-run|--watch] bring the store in line with the configuration\n"
		"  status [--json]          check the whole setup, without a token\n"
		"  cache clear [--jwks] [--reviews]   empty the issuer-key and review caches\n"
		"  version\n"
		"COMMAND --help shows a command's usage.\n"
		"The configuration is --config, else $K8S_AUTH_CONFIG, else %s.\n"
		"Exit codes: 0 accepted/done, 1 refused, 2 usage or configuration error, 3 unavailable.\n",
		K8S_DEFAULT_CONFIG);
}

/* `k8s-auth COMMAND --help`: usage on stdout, exit 0. */
static const struct {
	const char *cmd;
	const char *text;
} helps[] = {
	{"check", "usage: k8s-auth check [--config PATH] [--user LOCAL] < TOKEN\n"
		  "Runs every check pam_k8s's auth runs on ONE token read from standard input\n"
		  "(never from the command line), writes nothing, prints one JSON object.\n"
		  "  --user LOCAL   also check that the token may log in as LOCAL\n"},
	{"users", "usage: k8s-auth users [--config PATH] [--json]\n"
		  "The identity store's accounts (a table, or JSON with --json).\n"},
	{"groups", "usage: k8s-auth groups [--config PATH] [--json]\n"
		   "The identity store's groups and the local groups its accounts are in.\n"},
	{"forget", "usage: k8s-auth forget [--config PATH] LOCAL\n"
		   "Drops LOCAL's identity binding and login-learned group memberships; exit 1\n"
		   "for an account the store does not know.\n"},
	{"sync", "usage: k8s-auth sync [--config PATH] [--dry-run | --watch]\n"
		 "Brings the store in line with the configuration (declared accounts and\n"
		 "groups) and, with a sync: section, with the cluster.\n"
		 "  --dry-run   report what would change, write nothing\n"
		 "  --watch     keep running: watch the cluster, apply each batch of changes\n"},
	{"status", "usage: k8s-auth status [--config PATH] [--json]\n"
		   "Checks the whole setup without a token: the configuration, the kubeconfig,\n"
		   "the apiserver and the reviewer's permissions, the host clock, each issuer's\n"
		   "discovery and keys (fetched now), the store, the caches, the helper, the\n"
		   "PAM stacks and nsswitch.conf.  One line per check: ok, warn or fail, what\n"
		   "was found, and what to do (a JSON array with --json).\n"
		   "Exit 0 all ok or only warnings, 1 a check failed, 2 configuration error,\n"
		   "3 something unreachable.  Run it as root.\n"},
	{"cache", "usage: k8s-auth cache clear [--config PATH] [--jwks] [--reviews]\n"
		  "Removes the cached issuer keys (--jwks) and TokenReview answers (--reviews),\n"
		  "both without an option, from the configuration's cacheDir; prints what it\n"
		  "removed.  The next login fetches again.\n"},
	{"version", "usage: k8s-auth version\nPrints the version.\n"},
};

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

static int wants_help(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	const char *config = NULL;
	const char *cmd;
	size_t i;

	if (take_config(&argc, argv, &config) != 0 || (config != NULL && *config == '\0')) {
		fprintf(stderr, "k8s-auth: --config needs a path\n");
		return 2;
	}
	if (config == NULL) {
		config = getenv("K8S_AUTH_CONFIG");
		if (config != NULL && *config == '\0')
			config = NULL;
	}
	/* config stays NULL when neither --config nor $K8S_AUTH_CONFIG names
	 * a file: commands then use K8S_DEFAULT_CONFIG, and only its absence
	 * may fall back to defaults (users, groups, forget).  A file named
	 * explicitly must exist. */
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	cmd = argv[1];
	argc--;
	argv++;
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		usage(stdout);
		return 0;
	}
	if (wants_help(argc, argv)) {
		for (i = 0; i < sizeof(helps) / sizeof(helps[0]); i++)
			if (strcmp(cmd, helps[i].cmd) == 0) {
				fputs(helps[i].text, stdout);
				return 0;
			}
	}
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
	if (strcmp(cmd, "status") == 0)
		return cmd_status(argc, argv, config);
	if (strcmp(cmd, "cache") == 0)
		return cmd_cache(argc, argv, config);
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		if (argc > 1) {
			fprintf(stderr, "usage: k8s-auth version\n");
			return 2;
		}
		printf("k8s-auth %s\n", K8S_VERSION);
		return 0;
	}
	fprintf(stderr, "k8s-auth: unknown command '%s'\n", cmd);
	usage(stderr);
	return 2;
}
