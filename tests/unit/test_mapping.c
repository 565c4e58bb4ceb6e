/* Unit tests for mapping.c: local names, user and group mapping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "mapping.h"

#define SPEC_ACCOUNTS \
	"accounts:\n" \
	"  users:\n" \
	"  - match: '^system:serviceaccount:([a-z0-9-]+):([a-z0-9.-]+)$'\n" \
	"    local: '\\1.\\2'\n" \
	"  - match: '^([a-z][a-z0-9_-]*)@example\\.com$'\n" \
	"    local: '\\1'\n" \
	"  groups:\n" \
	"  - match: '^oidc:platform-admins$'\n" \
	"    local: sudo\n" \
	"  - match: '^oidc:team-(.*)$'\n" \
	"    local: 'k8s-\\1'\n"

static struct k8s_config *cfg_of(const char *yaml)
{
	struct k8s_config *cfg = NULL;
	struct k8s_err err;

	if (k8s_config_parse(yaml, strlen(yaml), "map.yaml", &cfg, &err) != K8S_OK)
		fail_msg("config refused: %s", err.detail);
	return cfg;
}

static void map_ok(const struct k8s_config *cfg, const char *user, const char *want)
{
	char out[K8S_LOCAL_NAME_MAX + 1];
	struct k8s_err err;

	if (k8s_map_user(cfg, user, out, &err) != K8S_OK)
		fail_msg("%s: refused: %s (%s)", user, err.reason, err.detail);
	assert_string_equal(out, want);
}

static void map_refused(const struct k8s_config *cfg, const char *user, const char *reason)
{
	char out[K8S_LOCAL_NAME_MAX + 1];
	struct k8s_err err;
	int r = k8s_map_user(cfg, user, out, &err);

	if (r == K8S_OK)
		fail_msg("%s: mapped to %s", user, out);
	assert_int_equal(r, K8S_REFUSED);
	assert_string_equal(err.reason, reason);
	assert_string_equal(out, "");
}

static void test_valid_local_name(void **state)
{
	static const char *good[] = {"a", "_", "alice", "ops.alice", "a-b_c.d", "_1", "a1",
		"abcdefghijklmnopqrstuvwxyz012345", "a.", "x--"};
	static const char *bad[] = {"", "A", "Alice", "1abc", "123", "0", "-a", ".", "..", ".a",
		"a:b", "a b", "a/b", "abcdefghijklmnopqrstuvwxyz0123456", "\xc3\xa9", "a\n", "a$",
		"a@b", "a\\b", "a\t"};
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!k8s_valid_local_name(good[i]))
			fail_msg("\"%s\" refused", good[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (k8s_valid_local_name(bad[i]))
			fail_msg("\"%s\" accepted", bad[i]);
	assert_false(k8s_valid_local_name(NULL));
}

static void test_spec_users(void **state)
{
	struct k8s_config *cfg = cfg_of(SPEC_ACCOUNTS);

	map_ok(cfg, "system:serviceaccount:ops:alice", "ops.alice");
	map_ok(cfg, "system:serviceaccount:kube-system:deploy.bot", "kube-system.deploy.bot");
	map_ok(cfg, "alice@example.com", "alice");
	map_ok(cfg, "bob_1@example.com", "bob_1");
	map_refused(cfg, "Alice@example.com", "no mapping rule matches");
	map_refused(cfg, "alice@example.com.evil.org", "no mapping rule matches");
	map_refused(cfg, "alice@exampleXcom", "no mapping rule matches");
	map_refused(cfg, "system:serviceaccount:ops:alice:x", "no mapping rule matches");
	map_refused(cfg, "system:node:web-1", "no mapping rule matches");
	map_refused(cfg, "", "no mapping rule matches");
	/* 10 + 1 + 22 = 33 characters: too long for a local name. */
	map_refused(cfg, "system:serviceaccount:namespace1:abcdefghijklmnopqrstuv",
		    "mapped name is not a valid local name");
	map_ok(cfg, "system:serviceaccount:namespace1:abcdefghijklmnopqrstu",
	       "namespace1.abcdefghijklmnopqrstu");
	k8s_config_free(cfg);
}

/* Rules apply to the whole username even without ^ and $. */
static void test_anchoring(void **state)
{
	struct k8s_config *cfg = cfg_of("accounts:\n  users:\n"
					"  - {match: alice, local: alice}\n"
					"  - {match: 'a|ab', local: ab}\n"
					"  - {match: '([a-z]+)@corp', local: '\\1'}\n");
	char out[K8S_LOCAL_NAME_MAX + 1];
	struct k8s_err err;

	map_ok(cfg, "alice", "alice");
	map_refused(cfg, "malice", "no mapping rule matches");
	map_refused(cfg, "alice2", "no mapping rule matches");
	map_refused(cfg, "x\nalice", "no mapping rule matches");
	map_ok(cfg, "ab", "ab");
	map_ok(cfg, "a", "ab");
	map_ok(cfg, "bob@corp", "bob");
	map_refused(cfg, "bob@corp.evil", "no mapping rule matches");
	map_refused(cfg, "evil bob@corp", "no mapping rule matches");
	/* The detail shows the username, control bytes masked. */
	assert_int_equal(k8s_map_user(cfg, "x\ny\x01", out, &err), K8S_REFUSED);
	assert_string_equal(err.detail, "no accounts.users rule matches \"x?y?\"");
	k8s_config_free(cfg);
}

static void test_backrefs_and_invalid(void **state)
{
	struct k8s_config *cfg = cfg_of("accounts:\n  users:\n"
					"  - {match: '^(x)?y-(.*)$', local: 'p\\1\\2'}\n"
					"  - {match: '^bs-(.*)$', local: '\\\\\\1'}\n"
					"  - {match: '^(.*)@id$', local: '\\1'}\n"
					"  - {match: '^(.*)$', local: fallback}\n");
	char out[K8S_LOCAL_NAME_MAX + 1];
	struct k8s_err err;

	map_ok(cfg, "xy-z", "pxz");
	map_ok(cfg, "y-z", "pz");       /* a group that did not take part is empty */
	map_refused(cfg, "bs-a", "mapped name is not a valid local name"); /* "\a" */
	map_ok(cfg, "carol@id", "carol");
	/* Invalid results are refused, never repaired, and the first matching
	 * rule decides: the catch-all after it is not tried. */
	map_refused(cfg, "has:colon@id", "mapped name is not a valid local name");
	map_refused(cfg, "Upper@id", "mapped name is not a valid local name");
	map_refused(cfg, "12345@id", "mapped name is not a valid local name");
	map_refused(cfg, "@id", "mapped name is not a valid local name");
	map_refused(cfg, "-rf@id", "mapped name is not a valid local name");
	map_refused(cfg, "..@id", "mapped name is not a valid local name");
	map_refused(cfg, "abcdefghijklmnopqrstuvwxyz0123456@id", "mapped name is not a valid local name");
	map_ok(cfg, "abcdefghijklmnopqrstuvwxyz012345@id", "abcdefghijklmnopqrstuvwxyz012345");
	/* Expansion longer than the output buffer is refused, not truncated. */
	map_refused(cfg, "y-abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz",
		    "mapped name is not a valid local name");
	map_ok(cfg, "Anything", "fallback");
	assert_int_equal(k8s_map_user(cfg, "Upper@id", out, &err), K8S_REFUSED);
	assert_string_equal(err.detail, "accounts.users[2] maps \"Upper@id\" to an invalid local name");
	k8s_config_free(cfg);

	cfg = cfg_of("store: /x\n");
	map_refused(cfg, "alice", "no mapping rule matches");
	k8s_config_free(cfg);
}

static void test_groups(void **state)
{
	struct k8s_config *cfg = cfg_of(SPEC_ACCOUNTS);
	char *groups[] = {"oidc:platform-admins", "oidc:team-web", "oidc:team-Web",
		"system:authenticated", "oidc:team-web", "oidc:team-a:b", "xoidc:platform-admins",
		"oidc:team-db"};
	struct k8s_mapped_group *out;
	size_t n, bad;

	assert_int_equal(k8s_map_groups(cfg, groups, 8, &out, &n, &bad), K8S_OK);
	assert_int_equal(n, 3);
	assert_int_equal(bad, 2); /* k8s-Web, k8s-a:b */
	assert_string_equal(out[0].name, "sudo");
	assert_false(out[0].templated);
	assert_string_equal(out[1].name, "k8s-web");
	assert_true(out[1].templated);
	assert_string_equal(out[2].name, "k8s-db");
	assert_true(out[2].templated);
	free(out);

	assert_int_equal(k8s_map_groups(cfg, groups, 0, &out, &n, &bad), K8S_OK);
	assert_null(out);
	assert_int_equal(n, 0);
	assert_int_equal(k8s_map_groups(cfg, groups + 3, 1, &out, &n, NULL), K8S_OK);
	assert_null(out);
	assert_int_equal(n, 0);
	k8s_config_free(cfg);
}

/* A name a literal rule produced stays literal when a template yields it too. */
static void test_groups_merge(void **state)
{
	struct k8s_config *cfg = cfg_of("accounts:\n  groups:\n"
					"  - {match: '^t-(.*)$', local: 'k8s-\\1'}\n"
					"  - {match: '^admins$', local: k8s-x}\n");
	char *groups[] = {"t-x", "admins", "t-y", "t-y"};
	struct k8s_mapped_group *out;
	size_t n, bad;

	assert_int_equal(k8s_map_groups(cfg, groups, 4, &out, &n, &bad), K8S_OK);
	assert_int_equal(n, 2);
	assert_int_equal(bad, 0);
	assert_string_equal(out[0].name, "k8s-x");
	assert_false(out[0].templated);
	assert_string_equal(out[1].name, "k8s-y");
	assert_true(out[1].templated);
	free(out);
	k8s_config_free(cfg);

	cfg = cfg_of("store: /x\n");
	assert_int_equal(k8s_map_groups(cfg, groups, 4, &out, &n, &bad), K8S_OK);
	assert_int_equal(n, 0);
	assert_null(out);
	k8s_config_free(cfg);
}

/* lowercase: true (issue 14): what \1..\9 insert, ASCII A-Z only, and
 * only on the rules that ask; the rest of the name rules still hold. */
static void test_lowercase(void **state)
{
	struct k8s_config *cfg = cfg_of("accounts:\n  users:\n"
					"  - match: '^([A-Za-z][A-Za-z0-9._-]*)@example\\.com$'\n"
					"    local: '\\1'\n"
					"    lowercase: true\n"
					"  - match: '^([A-Za-z]+)@corp\\.example$'\n"
					"    local: 'c-\\1'\n"
					"  - match: '^(.*)@other\\.example$'\n"
					"    local: 'o_\\1'\n"
					"    lowercase: true\n"
					"  groups:\n"
					"  - {match: '^oidc:(.*)$', local: 'k8s-\\1', lowercase: true}\n");
	char *groups[] = {"oidc:Team-Web", "oidc:team-web", "oidc:DB", "oidc:caf\xc3\x89"};
	struct k8s_mapped_group *out;
	size_t n, bad;

	(void)state;
	map_ok(cfg, "Alice.Smith@example.com", "alice.smith");
	map_ok(cfg, "alice.smith@example.com", "alice.smith");
	map_ok(cfg, "ALICE@example.com", "alice");
	/* the domain is matched as written: the regex says what is accepted */
	map_refused(cfg, "alice@Example.com", "no mapping rule matches");
	/* a rule without lowercase: nothing rewritten, the name refused */
	map_refused(cfg, "Bob@corp.example", "mapped name is not a valid local name");
	map_ok(cfg, "bob@corp.example", "c-bob");
	/* lowercase is not a repair: non-ASCII stays and refuses, and so does
	 * what lowercasing cannot make valid */
	map_refused(cfg, "\xc3\x89mile@other.example", "mapped name is not a valid local name");
	map_refused(cfg, "A B@other.example", "mapped name is not a valid local name");
	map_refused(cfg, "AB:C@other.example", "mapped name is not a valid local name");
	map_ok(cfg, "MiXeD_9@other.example", "o_mixed_9");

	assert_int_equal(k8s_map_groups(cfg, groups, 4, &out, &n, &bad), K8S_OK);
	assert_int_equal(n, 2);
	assert_int_equal(bad, 1); /* k8s-caf\xc3\xa9 */
	assert_string_equal(out[0].name, "k8s-team-web");
	assert_true(out[0].templated);
	assert_string_equal(out[1].name, "k8s-db");
	free(out);
	k8s_config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_local_name),
		cmocka_unit_test(test_spec_users),
		cmocka_unit_test(test_anchoring),
		cmocka_unit_test(test_backrefs_and_invalid),
		cmocka_unit_test(test_groups),
		cmocka_unit_test(test_groups_merge),
		cmocka_unit_test(test_lowercase),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
