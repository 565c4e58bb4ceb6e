/* k8s-auth cache clear [--jwks] [--reviews]: empties the issuer-key cache
 * (cacheDir/jwks) and the review cache (cacheDir/reviews), both without an
 * option.  Only the files those caches write are removed (cachedir.h);
 * anything else in the directories stays.  The next login fetches the
 * issuer's keys again and asks the apiserver again.  Exit 0 done (an
 * empty or missing cache included), 1 a cache directory that is not ours
 * or cannot be read or emptied, 2 usage or configuration error. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cachedir.h"
#include "commands.h"
#include "config.h"
#include "oidc.h"

#define USAGE "usage: k8s-auth cache clear [--config PATH] [--jwks] [--reviews]\n"

struct issuers {
	char text[2048];
	size_t at;
};

static void note_issuer(int dfd, const char *name, void *ctx)
{
	struct issuers *is = ctx;
	char *iss = k8s_oidc_cache_file_issuer(dfd, name);
	size_t i;

	for (i = 0; iss != NULL && iss[i] != '\0'; i++)
		if ((unsigned char)iss[i] < 0x20 || (unsigned char)iss[i] == 0x7f)
			iss[i] = '?';
	if (is->at < sizeof(is->text))
		is->at += (size_t)snprintf(is->text + is->at, sizeof(is->text) - is->at, "%s%s",
					   is->at ? ", " : "", iss != NULL ? iss : "(unreadable)");
	free(iss);
}

static int clear_one(const struct k8s_config *cfg, const char *sub, const char *what)
{
	struct k8s_cachedir_scan sc;
	struct issuers is = {"", 0};
	struct k8s_err err;
	int dfd, jwks = strcmp(sub, K8S_CACHEDIR_JWKS) == 0, r;

	k8s_err_clear(&err);
	if (k8s_cachedir_open(cfg, sub, &dfd, NULL, NULL, &err) != K8S_OK) {
		fprintf(stderr, "k8s-auth cache clear: %s; left alone\n", err.detail);
		return K8S_REFUSED;
	}
	if (dfd < 0) {
		printf("%s/%s: no %s cached\n", cfg->cache_dir, sub, what);
		return K8S_OK;
	}
	r = k8s_cachedir_sweep(dfd, 1, jwks ? note_issuer : NULL, &is, &sc);
	if (r != 0)
		fprintf(stderr, "k8s-auth cache clear: %s/%s: %s\n", cfg->cache_dir, sub, strerror(errno));
	printf("%s/%s: removed %zu %s%s%s", cfg->cache_dir, sub, sc.entries, what, is.at ? ": " : "", is.text);
	if (sc.temps > 0)
		printf(" (and %zu unfinished temp file%s)", sc.temps, sc.temps == 1 ? "" : "s");
	printf("\n");
	close(dfd);
	return r == 0 ? K8S_OK : K8S_REFUSED;
}

int cmd_cache(int argc, char **argv, const char *config_path)
{
	static const struct option opts[] = {
		{"jwks", no_argument, NULL, 'j'},
		{"reviews", no_argument, NULL, 'r'},
		{NULL, 0, NULL, 0},
	};
	struct k8s_config *cfg = NULL;
	struct k8s_err err;
	int c, jwks = 0, reviews = 0, rc = K8S_OK, r;

	if (argc < 2 || strcmp(argv[1], "clear") != 0) {
		fputs(USAGE, stderr);
		return K8S_ECONFIG;
	}
	argc--;
	argv++;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'j')
			jwks = 1;
		else if (c == 'r')
			reviews = 1;
		else {
			fputs(USAGE, stderr);
			return K8S_ECONFIG;
		}
	}
	if (optind != argc) {
		fputs(USAGE, stderr);
		return K8S_ECONFIG;
	}
	if (!jwks && !reviews)
		jwks = reviews = 1;
	k8s_err_clear(&err);
	if (k8s_config_load(config_path, &cfg, &err) != K8S_OK) {
		fprintf(stderr, "k8s-auth cache clear: %s\n", err.detail[0] ? err.detail : err.reason);
		return K8S_ECONFIG;
	}
	if (jwks && (r = clear_one(cfg, K8S_CACHEDIR_JWKS, "issuer key sets")) != K8S_OK)
		rc = r;
	if (reviews && (r = clear_one(cfg, K8S_CACHEDIR_REVIEWS, "TokenReview answers")) != K8S_OK)
		rc = r;
	k8s_config_free(cfg);
	return rc;
}
