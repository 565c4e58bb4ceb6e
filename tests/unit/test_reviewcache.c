/* test_reviewcache: the on-disk review cache, on a scratch cache dir. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cachedir.h"
#include "config.h"
#include "identity.h"
#include "kubeconfig.h"
#include "reviewcache.h"
#include "util.h"

/* A real service-account-shaped token: what must never reach the disk. */
#define TOKEN "eyJhbGciOiJSUzI1NiIsImtpZCI6InRlc3QifQ.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6bnMxOnNhMSJ9.c2lnbmF0dXJlLWJ5dGVzLWZvci10ZXN0aW5nLW9ubHk"

struct fx {
	char base[64];
	char cache[96];
	char reviews[128];
	char *aud[2];
	struct k8s_config cfg;
	struct k8s_kubeconfig kc;  /* cluster A, reviewer token */
	char tokfile[128];
};

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	return remove(p);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->base, sizeof(f->base), "/tmp/k8s-rc-XXXXXX");
	if (mkdtemp(f->base) == NULL)
		return -1;
	snprintf(f->cache, sizeof(f->cache), "%s/cache", f->base);
	snprintf(f->reviews, sizeof(f->reviews), "%s/reviews", f->cache);
	f->aud[0] = "host-login:web-1";
	f->aud[1] = "other";
	f->cfg.cache_dir = f->cache;
	f->cfg.tokenreview.audiences.v = f->aud;
	f->cfg.tokenreview.audiences.n = 1;
	f->cfg.tokenreview.cache_ttl_ms = 120000;
	f->kc.path = "kubeconfig-a";
	f->kc.server = "https://cluster-a.example:6443";
	f->kc.ca_pem = "-----BEGIN CERTIFICATE-----\nCA of cluster A\n-----END CERTIFICATE-----\n";
	f->kc.ca_pem_len = strlen(f->kc.ca_pem);
	f->kc.token = "reviewer-token-of-cluster-a";
	snprintf(f->tokfile, sizeof(f->tokfile), "%s/reviewer-token", f->base);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	nftw(f->base, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static void make_identity(struct k8s_identity *id, time_t exp)
{
	json_t *vals = json_array();

	memset(id, 0, sizeof(*id));
	id->method = "tokenreview";
	id->username = strdup("system:serviceaccount:ns1:sa1");
	id->uid = strdup("uid-1");
	assert_int_equal(k8s_identity_add_group(id, "system:serviceaccounts"), 0);
	assert_int_equal(k8s_identity_add_group(id, "system:authenticated"), 0);
	id->extra = json_object();
	json_array_append_new(vals, json_string("pod-1"));
	json_object_set_new(id->extra, "authentication.kubernetes.io/pod-name", vals);
	id->exp = exp;
	id->iat = exp ? exp - 3600 : 0;
	id->namespace_ = strdup("ns1");
	id->sa_name = strdup("sa1");
	id->pod_name = strdup("pod-1");
	id->legacy_sa = 0;
}

/* Number of regular files in reviews/, and the last one's path. */
static int count_files(const struct fx *f, char *last, size_t n)
{
	DIR *d = opendir(f->reviews);
	struct dirent *de;
	int c = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		c++;
		if (last != NULL && snprintf(last, n, "%s/%s", f->reviews, de->d_name) >= (int)n)
			last[0] = '\0';
	}
	closedir(d);
	return c;
}

static void test_roundtrip(void **state)
{
	struct fx *f = *state;
	struct k8s_identity id, got;
	time_t exp = time(NULL) + 3600;
	char fp[17];

	make_identity(&id, exp);
	k8s_reviewcache_put(&f->cfg, &f->kc, TOKEN, &id);
	assert_int_equal(k8s_reviewcache_get(&f->cfg, &f->kc, TOKEN, &got), 1);
	assert_string_equal(got.method, "tokenreview");
	assert_string_equal(got.username, id.username);
	assert_string_equal(got.uid, "uid-1");
	assert_int_equal(got.n_groups, 2);
	assert_string_equal(got.groups[0], "system:serviceaccounts");
	assert_string_equal(got.groups[1], "system:authenticated");
	assert_true(json_equal(got.extra, id.extra));
	assert_int_equal(got.exp, exp);
	assert_int_equal(got.iat, exp - 3600);
	assert_string_equal(got.namespace_, "ns1");
	assert_string_equal(got.sa_name, "sa1");
	assert_string_equal(got.pod_name, "pod-1");
	assert_null(got.node_name);
	k8s_token_fingerprint(TOKEN, strlen(TOKEN), fp);
	assert_string_equal(got.fingerprint, fp);
	k8s_identity_free(&got);
	/* Another token is a miss. */
	assert_int_equal(k8s_reviewcache_get(&f->cfg, &f->kc, TOKEN "x", &got), 0);
	assert_null(got.username);
	k8s_identity_free(&id);
}

static void test_modes_and_no_token_on_disk(void **state)
{
	struct fx *f = *state;
	struct k8s_identity id;
	struct stat st;
	char path[256], *data = NULL;
	size_t len = 0;
	const char *payload = strchr(TOKEN, '.') + 1;

	make_identity(&id, 0);
	k8s_reviewcache_put(&f->cfg, &f->kc, TOKEN, &id);
	k8s_identity_free(&id);
	assert_int_equal(stat(f->cache, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(stat(f->reviews, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(count_files(f, path, sizeof(path)), 1);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_uid, geteuid());
	assert_int_equal(k8s_read_file(path, 1 << 20, &data, &len), 0);
	assert_null(memmem(data, len, TOKEN, strlen(TOKEN)));
	/* Not even a piece of it (the payload segment, or the signature). */
	assert_null(memmem(data, len, payload, 40));
	assert_null(memmem(data, len, strrchr(TOKEN, '.') + 1, 20));
	assert_null(strstr(data, "eyJ"));
	assert_non_null(strstr(data, "system:serviceaccount:ns1:sa1"));
	free(data);
}

static void test_ttl_expiry(void **state)
{
	struct fx *f = *state;
	struct k8s_identity id, got;

	f->cfg.tokenreview.cache_ttl_ms = 2000;
	make_identity(&id, 0);
	k8s_reviewcache_put(&f->cfg, &f->kc, TOKEN, &id);
	assert_int_equal(k8s_reviewcache_get(&f->cfg, &f->kc, TOKEN, &got), 1);
	k8s_identity_free(&got);
	sleep(2);
	usleep(200000);
	assert_int_equal(k8s_reviewcache_get(&f->cfg, &f->kc, TOKEN, &got), 0);
	assert_null(got.username);
	/* An expired entry is removed. */
	assert_int_equal(count_files(f, NULL, 0), 0);
	k8s_identity_free(&id);
}

static void test_token_exp(void **state)
{
	struct fx *f = *state;
	struct k8s_identity id, got;

	/* Already expired: nothing written. */
	make_identity(&id, time(NULL) - 1);
	k8s_reviewcache_put(&f->cfg, &f->kc, TOKEN, &id);
	k8s_identity_free(&id);
	assert_true(count_files(f, NULL, 0) <= 0);
	assert_int_equal(k8s_reviewcache_get(&f->cfg, &f->kc, TOKEN, &got), 0);

	/* Expires in 1 s while the TTL is 2 min: the token's exp wins. */
	make_identity(&id, time(NULL) + 1);
	k8s_reviewcache_put(&f->cfg, &f->kc, TOKEN, &id);
	k8s_identity_free(&id);
	assert_int_equal(count_files(f, NULL, 0), 1);
	sleep(2);
	assert_int_equal(k8s_reviewcache_get(&f->cfg, &f->kc, TOKEN, &got), 0);
	assert_int_equal(count_files(f, NULL, 0), 0);
}

/* Rewrite one member of the (single) entry, as an older process might have. */
static void edit_entry(struct fx *f, const char *key, json_t *val)
{
	char path[256];
	json_t *e;

	assert_int_equal(count_files(f, path, sizeof(path)), 1);
	e = json_load_file(path, 0, NULL);
	assert_non_null(e);
	json_object_set_new(e, key, val);
	assert_int_equal(json_dump_file(e, path, JSON_COMPACT), 0);
	json_decref(e);
	chmod(path, 0600);
}

static void test_lowered_ttl_and_no_extension(void **state)
{
	struct fx *f = *state;
	struct k8s_identity id, got;
	char path[256];
	json_t *e;

	make_identity(&id, 0);
	k8s_reviewcache_put(&f->cfg, &f->kc, TOKEN, &id);
	edit_entry(f, "created", json_integer(time(NULL) - 100));
	/* Re-putting (as after a hit) keeps the old creation time. */
	k8s_reviewcache_put(&f->cfg, &f->kc, TOKEN, &id);
	assert_int_equal(count_files(f, path, sizeof(path)), 1);
	e = json_load_file(path, 0, NULL);
	assert_true(json_integer_value(json_object_get(e, "created")) <= time(NULL) - 100);
	json_decref(e);
	assert_int_equal(k8s_reviewcache_get(&f->cfg, &f->kc, TOKEN, &got), 1);
	k8s_identity_free(&got);
	/* The TTL is now 1 min: a 100 s old entry is dead. */
	f->cfg.tokenreview.cache_ttl_ms = 60000;
	assert_int_equal(k8s_reviewcache_get(&f->cfg, &f->kc, TOKEN, &got), 0);
	assert_int_equal(count_files(f, NULL, 0), 0);
	k8s_identity_free(&id);
}

static void test_audiences_differ(void **state)
{
	struct fx *f = *state;
	struct k8s_identity id, got;

	make_identity(&id, 0);
	k8s_reviewcache_put(&f->cfg, &f->kc, TOKEN, &id);
	k8s_identity_free(&id);
	f->aud[0] = "host-login:web-2";
	assert_int_equal(k8s_reviewcache_get(&f->cfg, &f->kc, TOKEN, &got), 0);
	f->aud[0] = "host-login:web-1";
	f->cfg.tokenreview.audiences.n = 2;
	assert_int_equal(k8s_reviewcache_get(&f->cfg, &f->kc, TOKEN, &got), 0);
	f->cfg.tokenreview.audiences.n = 0;
	assert_int_equal(k8s_reviewcache_get(&f->cfg, &f->kc, TOKEN, &got), 0);
	f->cfg.tokenreview.audiences.n = 1;
	assert_int_equal(k8s_reviewcache_get(&f->cfg, &f->kc, TOKEN, &got), 1);
	k8s_identity_free(&got);
}

static void corrupt_case(struct fx *f, const char *content, mode_t mode)
{
	struct k8s_identity id, got;
	char path[256];
	FILE *fp;

	make_identity(&id, 0);
	k8s_reviewcache_put(&f->cfg, &f->kc, TOKEN, &id);
	k8s_identity_free(&id);
	assert_int_equal(count_files(f, path, sizeof(path)), 1);
	if (content != NULL) {
		fp = fopen(path, "w");
		assert_non_null(fp);
		fputs(content, fp);
		fclose(fp);
	}
	chmod(path, mode);
	assert_int_equal(k8s_reviewcache_get(&f->cfg, &f->kc, TOKEN, &got), 0);
	assert_null(got.username);
	assert_int_equal(count_files(f, NULL, 0), 0);
}

static void test_corrupt_is_miss_and_removed(void **state)
{
	struct fx *f = *state;
	char future[512], head[128], fp[65];

	/* Entries as this version writes them, but for the member under test. */
	assert_int_equal(k8s_kubeconfig_fingerprint(&f->kc, fp), 0);
	snprintf(head, sizeof(head), "\"version\":3,\"apiserver\":\"%s\"", fp);

	corrupt_case(f, "{not json", 0600);
	corrupt_case(f, "", 0600);
	corrupt_case(f, "[]", 0600);
	corrupt_case(f, "{\"version\":4,\"created\":1,\"expires\":99999999999,\"audiences\":[\"host-login:web-1\"],"
		     "\"identity\":{\"method\":\"tokenreview\",\"username\":\"u\",\"groups\":[],\"extra\":{},\"exp\":0,\"iat\":0,\"nbf\":0,\"legacy_sa\":false}}",
		     0600);
	snprintf(future, sizeof(future),
		 "{%s,\"created\":%lld,\"expires\":%lld,\"audiences\":[\"host-login:web-1\"],"
		 "\"identity\":{\"method\":\"tokenreview\",\"username\":\"\",\"groups\":[],\"extra\":{},\"exp\":0,\"iat\":0,\"nbf\":0,\"legacy_sa\":false}}",
		 head, (long long)time(NULL), (long long)time(NULL) + 60);
	corrupt_case(f, future, 0600); /* empty username */
	snprintf(future, sizeof(future),
		 "{%s,\"created\":%lld,\"expires\":%lld,\"audiences\":[\"host-login:web-1\"],"
		 "\"identity\":{\"method\":\"tokenreview\",\"username\":\"u\",\"groups\":[1],\"extra\":{},\"exp\":0,\"iat\":0,\"nbf\":0,\"legacy_sa\":false}}",
		 head, (long long)time(NULL), (long long)time(NULL) + 60);
	corrupt_case(f, future, 0600); /* group not a string */
	snprintf(future, sizeof(future),
		 "{%s,\"created\":%lld,\"expires\":%lld,\"audiences\":[\"host-login:web-1\"],"
		 "\"identity\":{\"method\":\"tokenreview\",\"username\":\"u\",\"groups\":[],\"extra\":{\"k\":\"v\"},\"exp\":0,\"iat\":0,\"nbf\":0,\"legacy_sa\":false}}",
		 head, (long long)time(NULL), (long long)time(NULL) + 60);
	corrupt_case(f, future, 0600); /* extra value not an array */
	snprintf(future, sizeof(future),
		 "{%s,\"created\":%lld,\"expires\":%lld,\"audiences\":[\"host-login:web-1\"],"
		 "\"identity\":{\"method\":\"tokenreview\",\"username\":\"u\",\"groups\":[],\"extra\":{},\"exp\":0,\"iat\":0,\"nbf\":0,\"legacy_sa\":false}}",
		 head, (long long)time(NULL) + 3600, (long long)time(NULL) + 3700);
	corrupt_case(f, future, 0600); /* created in the future */
	corrupt_case(f, NULL, 0644);    /* readable by others: not ours */
	/* An entry of format 2 (the identity under the cache's old spellings):
	 * never misread as this format's, even under this format's name. */
	snprintf(future, sizeof(future),
		 "{\"version\":2,\"apiserver\":\"%s\",\"created\":%lld,\"expires\":%lld,"
		 "\"audiences\":[\"host-login:web-1\"],"
		 "\"identity\":{\"username\":\"u\",\"groups\":[],\"extra\":{},\"exp\":0,\"iat\":0,\"nbf\":0,"
		 "\"saName\":\"sa1\",\"legacySA\":false}}",
		 fp, (long long)time(NULL), (long long)time(NULL) + 60);
	corrupt_case(f, future, 0600);
	{
		/* Identities the review cache never holds, or members of the
		 * wrong type or shape. */
		static const char *const bad[] = {
			"\"method\":\"jwt\",\"username\":\"u\",\"groups\":[],\"extra\":{},\"exp\":0,\"iat\":0,\"nbf\":0,\"legacy_sa\":false",
			"\"method\":\"tokenreview\",\"username\":\"u\",\"groups\":[],\"extra\":{},\"exp\":0,\"iat\":0,\"nbf\":0",
			"\"method\":\"tokenreview\",\"username\":\"u\",\"groups\":[],\"extra\":{},\"exp\":0,\"iat\":0,\"nbf\":0,\"legacy_sa\":false,\"fingerprint\":\"XYZ\"",
			"\"method\":\"tokenreview\",\"username\":\"u\",\"groups\":[],\"extra\":{},\"exp\":-1,\"iat\":0,\"nbf\":0,\"legacy_sa\":false",
			"\"method\":\"tokenreview\",\"username\":\"u\",\"uid\":null,\"groups\":[],\"extra\":{},\"exp\":0,\"iat\":0,\"nbf\":0,\"legacy_sa\":false",
			"\"method\":\"tokenreview\",\"username\":\"u\",\"sa_name\":7,\"groups\":[],\"extra\":{},\"exp\":0,\"iat\":0,\"nbf\":0,\"legacy_sa\":false",
		};
		size_t i;

		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			snprintf(future, sizeof(future),
				 "{%s,\"created\":%lld,\"expires\":%lld,\"audiences\":[\"host-login:web-1\"],"
				 "\"identity\":{%s}}",
				 head, (long long)time(NULL), (long long)time(NULL) + 60, bad[i]);
			corrupt_case(f, future, 0600);
		}
	}
	/* The control: the same hand-written entry, well-formed, is a hit. */
	{
		struct k8s_identity id, got;
		char path[256];
		FILE *fp2;

		make_identity(&id, 0);
		k8s_reviewcache_put(&f->cfg, &f->kc, TOKEN, &id);
		k8s_identity_free(&id);
		assert_int_equal(count_files(f, path, sizeof(path)), 1);
		snprintf(future, sizeof(future),
			 "{%s,\"created\":%lld,\"expires\":%lld,\"audiences\":[\"host-login:web-1\"],"
			 "\"identity\":{\"method\":\"tokenreview\",\"username\":\"u\",\"groups\":[],\"extra\":{},\"exp\":0,\"iat\":0,\"nbf\":0,\"legacy_sa\":false}}",
			 head, (long long)time(NULL), (long long)time(NULL) + 60);
		fp2 = fopen(path, "w");
		assert_non_null(fp2);
		fputs(future, fp2);
		fclose(fp2);
		assert_int_equal(k8s_reviewcache_get(&f->cfg, &f->kc, TOKEN, &got), 1);
		assert_string_equal(got.username, "u");
		k8s_identity_free(&got);
	}
}

static void test_bound(void **state)
{
	struct fx *f = *state;
	struct k8s_identity id, got;
	char tok[64];
	int i, n = K8S_REVIEWCACHE_MAX_ENTRIES + 5;

	f->cfg.tokenreview.cache_ttl_ms = 86400000;
	make_identity(&id, 0);
	for (i = 0; i < n; i++) {
		/* The first ones expire soonest: they must be the ones evicted. */
		id.exp = time(NULL) + 1000 + i;
		snprintf(tok, sizeof(tok), "token-%d", i);
		k8s_reviewcache_put(&f->cfg, &f->kc, tok, &id);
	}
	assert_true(count_files(f, NULL, 0) <= K8S_REVIEWCACHE_MAX_ENTRIES);
	assert_true(count_files(f, NULL, 0) >= K8S_REVIEWCACHE_MAX_ENTRIES - 1);
	snprintf(tok, sizeof(tok), "token-%d", n - 1);
	assert_int_equal(k8s_reviewcache_get(&f->cfg, &f->kc, tok, &got), 1);
	k8s_identity_free(&got);
	assert_int_equal(k8s_reviewcache_get(&f->cfg, &f->kc, "token-0", &got), 0);
	k8s_identity_free(&id);
}

static void test_zero_ttl_writes_nothing(void **state)
{
	struct fx *f = *state;
	struct k8s_identity id, got;
	struct stat st;

	f->cfg.tokenreview.cache_ttl_ms = 0;
	make_identity(&id, 0);
	k8s_reviewcache_put(&f->cfg, &f->kc, TOKEN, &id);
	assert_int_equal(stat(f->cache, &st), -1);
	assert_int_equal(k8s_reviewcache_get(&f->cfg, &f->kc, TOKEN, &got), 0);
	k8s_identity_free(&id);
}

static void test_put_refuses_incomplete(void **state)
{
	struct fx *f = *state;
	struct k8s_identity id;
	char *u;

	make_identity(&id, 0);
	u = id.username;
	id.username = NULL;
	k8s_reviewcache_put(&f->cfg, &f->kc, TOKEN, &id);
	id.username = "";
	k8s_reviewcache_put(&f->cfg, &f->kc, TOKEN, &id);
	id.username = u;
	id.method = "jwt";
	k8s_reviewcache_put(&f->cfg, &f->kc, TOKEN, &id);
	id.method = NULL;
	k8s_reviewcache_put(&f->cfg, &f->kc, TOKEN, &id);
	assert_true(count_files(f, NULL, 0) <= 0);
	k8s_reviewcache_put(&f->cfg, &f->kc, "", &id);
	assert_true(count_files(f, NULL, 0) <= 0);
	k8s_identity_free(&id);
}

static void test_unsafe_dirs_refused(void **state)
{
	struct fx *f = *state;
	struct k8s_identity id, got;
	char target[128];

	make_identity(&id, 0);
	k8s_reviewcache_put(&f->cfg, &f->kc, TOKEN, &id);
	assert_int_equal(count_files(f, NULL, 0), 1);
	/* Group/world-writable cache dir: not used. */
	assert_int_equal(chmod(f->cache, 0777), 0);
	assert_int_equal(k8s_reviewcache_get(&f->cfg, &f->kc, TOKEN, &got), 0);
	assert_int_equal(chmod(f->cache, 0700), 0);
	assert_int_equal(chmod(f->reviews, 0770), 0);
	assert_int_equal(k8s_reviewcache_get(&f->cfg, &f->kc, TOKEN, &got), 0);
	assert_int_equal(chmod(f->reviews, 0700), 0);
	assert_int_equal(k8s_reviewcache_get(&f->cfg, &f->kc, TOKEN, &got), 1);
	k8s_identity_free(&got);
	/* Owned by someone else (only testable as root). */
	if (geteuid() == 0) {
		assert_int_equal(chown(f->reviews, 65534, 65534), 0);
		assert_int_equal(k8s_reviewcache_get(&f->cfg, &f->kc, TOKEN, &got), 0);
		k8s_reviewcache_put(&f->cfg, &f->kc, TOKEN "2", &id);
		assert_int_equal(chown(f->reviews, 0, 0), 0);
		assert_int_equal(count_files(f, NULL, 0), 1);
	}
	/* reviews/ as a symlink to a directory elsewhere: not followed. */
	snprintf(target, sizeof(target), "%s/elsewhere", f->base);
	assert_int_equal(rename(f->reviews, target), 0);
	assert_int_equal(symlink(target, f->reviews), 0);
	assert_int_equal(k8s_reviewcache_get(&f->cfg, &f->kc, TOKEN, &got), 0);
	k8s_reviewcache_put(&f->cfg, &f->kc, TOKEN "3", &id);
	assert_int_equal(count_files(f, NULL, 0), 1);
	/* Relative cache dirs are not used either. */
	f->cfg.cache_dir = "relative/cache";
	assert_int_equal(k8s_reviewcache_get(&f->cfg, &f->kc, TOKEN, &got), 0);
	k8s_identity_free(&id);
}

/* Issue 10.1: an entry answers only for the apiserver connection it was
 * made under.  Each change of what decides the answer is a miss. */
static void expect_hit(struct fx *f, int want)
{
	struct k8s_identity got;

	assert_int_equal(k8s_reviewcache_get(&f->cfg, &f->kc, TOKEN, &got), want);
	if (!want)
		assert_null(got.username);
	k8s_identity_free(&got);
}

/* Put under the fixture's cluster A, change one thing, expect a miss,
 * restore (the get removed the entry: put again). */
static void test_keyed_on_apiserver(void **state)
{
	struct fx *f = *state;
	struct k8s_kubeconfig a = f->kc;
	struct k8s_identity id;
	char pem_b[] = "-----BEGIN CERTIFICATE-----\nCA of cluster B\n-----END CERTIFICATE-----\n";
	char cert[] = "-----BEGIN CERTIFICATE-----\nreviewer cert\n-----END CERTIFICATE-----\n";
	FILE *fp;
	int i;

	make_identity(&id, 0);
	for (i = 0; i < 9; i++) {
		f->kc = a;
		k8s_reviewcache_put(&f->cfg, &f->kc, TOKEN, &id);
		expect_hit(f, 1);
		switch (i) {
		case 0: /* another cluster: same audiences, same cacheDir */
			f->kc.server = "https://cluster-b.example:6443";
			break;
		case 1: /* the same URL through another path prefix */
			f->kc.server = "https://cluster-a.example:6443/b";
			break;
		case 2: /* another CA (or the CA removed: the system store) */
			f->kc.ca_pem = pem_b;
			f->kc.ca_pem_len = strlen(pem_b);
			break;
		case 3:
			f->kc.ca_pem = NULL;
			f->kc.ca_pem_len = 0;
			break;
		case 4:
			f->kc.tls_server_name = "other-name.example";
			break;
		case 5:
			f->kc.insecure_skip_verify = 1;
			break;
		case 6: /* another reviewer */
			f->kc.token = "reviewer-token-of-cluster-b";
			break;
		case 7: /* a client certificate instead of the token */
			f->kc.token = NULL;
			f->kc.client_cert_pem = cert;
			f->kc.client_cert_len = strlen(cert);
			break;
		case 8: /* a tokenFile that cannot be read now: a miss, not a hit */
			f->kc.token = NULL;
			f->kc.token_file = f->tokfile;
			break;
		}
		expect_hit(f, 0);
		f->kc = a;
		expect_hit(f, 1);
	}
	/* A tokenFile: its content is the reviewer; a rotated token is another. */
	fp = fopen(f->tokfile, "w");
	assert_non_null(fp);
	fputs("projected-token-1\n", fp);
	fclose(fp);
	assert_int_equal(chmod(f->tokfile, 0600), 0);
	f->kc.token = NULL;
	f->kc.token_file = f->tokfile;
	k8s_reviewcache_put(&f->cfg, &f->kc, TOKEN, &id);
	expect_hit(f, 1);
	fp = fopen(f->tokfile, "w");
	assert_non_null(fp);
	fputs("projected-token-2\n", fp);
	fclose(fp);
	expect_hit(f, 0);
	f->kc = a;
	k8s_identity_free(&id);
}

/* Two configurations sharing the cacheDir and the audience: each keeps its
 * own entry, and neither answers for the other. */
static void test_two_clusters_share_cache_dir(void **state)
{
	struct fx *f = *state;
	struct k8s_kubeconfig a = f->kc, b = f->kc;
	struct k8s_identity id, got;

	b.server = "https://cluster-b.example:6443";
	b.token = "reviewer-token-of-cluster-b";
	make_identity(&id, 0);
	k8s_reviewcache_put(&f->cfg, &a, TOKEN, &id);
	assert_int_equal(k8s_reviewcache_get(&f->cfg, &b, TOKEN, &got), 0);
	k8s_identity_free(&got);
	assert_int_equal(k8s_reviewcache_get(&f->cfg, &a, TOKEN, &got), 1);
	k8s_identity_free(&got);
	k8s_reviewcache_put(&f->cfg, &b, TOKEN, &id);
	assert_int_equal(count_files(f, NULL, 0), 2);
	assert_int_equal(k8s_reviewcache_get(&f->cfg, &b, TOKEN, &got), 1);
	k8s_identity_free(&got);
	assert_int_equal(k8s_reviewcache_get(&f->cfg, &a, TOKEN, &got), 1);
	k8s_identity_free(&got);
	k8s_identity_free(&id);
}

/* The apiserver's fingerprint is in the entry and checked, and neither it
 * nor the file name shows the reviewer's credential. */
static void test_entry_names_apiserver_not_reviewer(void **state)
{
	struct fx *f = *state;
	struct k8s_identity id;
	char path[256], fp[65], *data = NULL;
	size_t len = 0;

	make_identity(&id, 0);
	k8s_reviewcache_put(&f->cfg, &f->kc, TOKEN, &id);
	k8s_identity_free(&id);
	assert_int_equal(count_files(f, path, sizeof(path)), 1);
	assert_int_equal(k8s_read_file(path, 1 << 20, &data, &len), 0);
	assert_int_equal(k8s_kubeconfig_fingerprint(&f->kc, fp), 0);
	assert_non_null(strstr(data, fp));
	assert_null(strstr(data, f->kc.token));
	assert_null(strstr(data, "cluster-a"));
	free(data);
	/* An entry whose recorded apiserver differs is a miss (and removed). */
	edit_entry(f, "apiserver", json_string("0000"));
	expect_hit(f, 0);
	assert_int_equal(count_files(f, NULL, 0), 0);
}

/* A format-1 entry (named from audiences and token only) is never found,
 * and the sweep removes it once its mtime (its expiry) has passed. */
static void test_old_format_entries_ignored_and_swept(void **state)
{
	struct fx *f = *state;
	struct k8s_identity id;
	struct k8s_buf b = {0};
	struct timespec ts[2];
	char hex[65], path[256];
	FILE *fp;

	make_identity(&id, 0);
	k8s_reviewcache_put(&f->cfg, &f->kc, "another-token", &id); /* makes the dirs */
	assert_int_equal(k8s_buf_printf(&b, "pam-k8s review v1"), 0);
	assert_int_equal(k8s_buf_append(&b, "", 1), 0);
	assert_int_equal(k8s_buf_printf(&b, "1"), 0);
	assert_int_equal(k8s_buf_append(&b, "", 1), 0);
	assert_int_equal(k8s_buf_append(&b, "host-login:web-1", strlen("host-login:web-1") + 1), 0);
	assert_int_equal(k8s_buf_append(&b, TOKEN, strlen(TOKEN)), 0);
	k8s_sha256_hex(b.data, b.len, hex);
	k8s_buf_free(&b);
	snprintf(path, sizeof(path), "%s/%s.json", f->reviews, hex);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fprintf(fp, "{\"version\":1,\"created\":%lld,\"expires\":%lld,\"audiences\":[\"host-login:web-1\"],"
		"\"identity\":{\"method\":\"tokenreview\",\"username\":\"u\",\"groups\":[],\"extra\":{},\"exp\":0,\"iat\":0,"
		"\"nbf\":0,\"legacy_sa\":false}}", (long long)time(NULL), (long long)time(NULL) + 60);
	fclose(fp);
	assert_int_equal(chmod(path, 0600), 0);
	expect_hit(f, 0);
	assert_int_equal(access(path, F_OK), 0); /* not ours to look at: left to the sweep */
	ts[0].tv_sec = ts[1].tv_sec = time(NULL) - 1;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
	k8s_reviewcache_put(&f->cfg, &f->kc, TOKEN, &id);
	assert_int_equal(access(path, F_OK), -1);
	expect_hit(f, 1);
	k8s_identity_free(&id);
}

static void touch_file(const char *dir, const char *name)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	close(fd);
}

static int exists_in(const char *dir, const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return access(path, F_OK) == 0;
}

/* `k8s-auth status` counts and `k8s-auth cache clear` removes exactly the
 * files the cache writes: entries and their temp files, nothing else. */
static void test_cachedir_sweep(void **state)
{
	struct fx *f = *state;
	struct k8s_cachedir_scan sc;
	struct k8s_identity id;
	struct k8s_err err;
	const char *hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	char name[128], temp[160], other[160];
	int dfd;
	mode_t mode;
	uid_t uid;

	/* nothing cached yet: no directory, no error */
	k8s_err_clear(&err);
	assert_int_equal(k8s_cachedir_open(&f->cfg, K8S_CACHEDIR_REVIEWS, &dfd, NULL, NULL, &err), K8S_OK);
	assert_int_equal(dfd, -1);
	make_identity(&id, 0);
	k8s_reviewcache_put(&f->cfg, &f->kc, TOKEN, &id);
	k8s_reviewcache_put(&f->cfg, &f->kc, TOKEN "2", &id);
	k8s_identity_free(&id);
	snprintf(name, sizeof(name), "%s.json", hex);
	snprintf(temp, sizeof(temp), ".%s.1234.7.tmp", name);
	touch_file(f->reviews, temp);
	touch_file(f->reviews, "README");                 /* not ours */
	touch_file(f->reviews, "0123.json");               /* not ours: not 64 hex digits */
	snprintf(other, sizeof(other), "%.63sA.json", hex); /* uppercase: not ours */
	touch_file(f->reviews, other);
	touch_file(f->reviews, ".x.1.2.tmp");              /* not one of our temp names */
	assert_true(k8s_cachedir_is_entry(name));
	assert_true(k8s_cachedir_is_temp(temp));
	assert_false(k8s_cachedir_is_temp(name));
	assert_false(k8s_cachedir_is_entry(other));

	assert_int_equal(k8s_cachedir_open(&f->cfg, K8S_CACHEDIR_REVIEWS, &dfd, &mode, &uid, &err), K8S_OK);
	assert_true(dfd >= 0);
	assert_int_equal(mode, 0700);
	assert_int_equal(uid, geteuid());
	assert_int_equal(k8s_cachedir_sweep(dfd, 0, NULL, NULL, &sc), 0);
	assert_int_equal(sc.entries, 2);
	assert_int_equal(sc.temps, 1);
	assert_int_equal(sc.removed, 0);
	assert_int_equal(count_files(f, NULL, 0), 5);
	assert_int_equal(k8s_cachedir_sweep(dfd, 1, NULL, NULL, &sc), 0);
	assert_int_equal(sc.entries, 2);
	assert_int_equal(sc.removed, 3);
	assert_false(exists_in(f->reviews, temp));
	assert_true(exists_in(f->reviews, "README"));
	assert_true(exists_in(f->reviews, "0123.json"));
	assert_true(exists_in(f->reviews, other));
	assert_true(exists_in(f->reviews, ".x.1.2.tmp"));
	assert_int_equal(count_files(f, NULL, 0), 3);
	expect_hit(f, 0);
	close(dfd);

	/* a directory others may write to is left alone */
	assert_int_equal(chmod(f->reviews, 0777), 0);
	assert_int_equal(k8s_cachedir_open(&f->cfg, K8S_CACHEDIR_REVIEWS, &dfd, &mode, NULL, &err), K8S_REFUSED);
	assert_int_equal(dfd, -1);
	assert_int_equal(mode, 0777);
	assert_non_null(strstr(err.detail, "mode 0777"));
	/* cacheDir itself */
	assert_int_equal(k8s_cachedir_open(&f->cfg, NULL, &dfd, &mode, NULL, &err), K8S_OK);
	assert_true(dfd >= 0);
	assert_int_equal(mode, 0700);
	close(dfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_modes_and_no_token_on_disk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ttl_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_token_exp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lowered_ttl_and_no_extension, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audiences_differ, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_is_miss_and_removed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zero_ttl_writes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_put_refuses_incomplete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsafe_dirs_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keyed_on_apiserver, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_clusters_share_cache_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_entry_names_apiserver_not_reviewer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_old_format_entries_ignored_and_swept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cachedir_sweep, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
