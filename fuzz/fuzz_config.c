/* libFuzzer target: config.yaml parsing (yamljson.c + config.c), and the
 * mapping rules a parsed config yields. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "mapping.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *const groups[] = {"oidc:team-web", "system:authenticated", "oidc:platform-admins",
				       "oidc:Team-DB", "Admins"};
	/* capitals, as IdPs write names (the rules' lowercase: true) */
	static const char *const users[] = {"system:serviceaccount:ops:alice", "Alice.Smith@example.com",
					    "ALICE", "caf\xc3\x89@Example.com"};
	size_t u;
	char out[K8S_LOCAL_NAME_MAX + 1];
	struct k8s_mapped_group *mg = NULL;
	struct k8s_config *cfg = NULL;
	struct k8s_err err;
	size_t n = 0, bad = 0;
	int r;

	r = k8s_config_parse((const char *)data, size, "fuzz.yaml", &cfg, &err);
	/* Contract: OK with a config, or ECONFIG naming the file. */
	if ((r == K8S_OK) != (cfg != NULL) || (r != K8S_OK && r != K8S_ECONFIG) ||
	    (r == K8S_ECONFIG && strncmp(err.detail, "fuzz.yaml", 9) != 0))
		abort();
	if (cfg == NULL)
		return 0;
	for (u = 0; u < sizeof(users) / sizeof(users[0]); u++)
		if (k8s_map_user(cfg, users[u], out, &err) == K8S_OK && !k8s_valid_local_name(out))
			abort();
	if (k8s_map_groups(cfg, groups, sizeof(groups) / sizeof(groups[0]), &mg, &n, &bad) == K8S_OK) {
		while (n-- > 0)
			if (!k8s_valid_local_name(mg[n].name))
				abort();
		free(mg);
	}
	k8s_config_free(cfg);
	return 0;
}
