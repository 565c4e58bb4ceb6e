/* kubeconfig.c: the reviewer's way to the apiserver, from a kubeconfig as
 * kubectl writes it.
 *
 * Whoever can change this file chooses which "apiserver" vouches for
 * tokens, so it is checked like sshd checks authorized_keys:
 *   - owned by root or by the effective user, not writable by group or
 *     others (refused otherwise);
 *   - not world-readable when any users[] entry holds an inline secret
 *     (token, client-key-data, password);
 *   - files it names (certificate-authority, client-certificate,
 *     client-key, tokenFile) are owned by root or the effective user and
 *     not writable by group or others; client-key and tokenFile must not be
 *     world-readable (give a projected token volume defaultMode 0600).
 * Semantics where kubectl differs or is silent:
 *   - no current-context but exactly one context: that context is used;
 *   - only the chosen context, cluster and user are read, and unknown or
 *     unsupported keys in them are refused (exec, auth-provider,
 *     username/password, impersonation, proxy-url); other entries and
 *     top-level keys are ignored, as kubectl ignores them;
 *   - certificate-authority together with -data, or with
 *     insecure-skip-tls-verify, is refused (client-go refuses both too);
 *   - the server must be https://. */
#include "kubeconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "b64.h"
#include "pem.h"
#include "util.h"
#include "yamljson.h"

#define KUBECONFIG_MAX_BYTES (1u << 20)
#define REFFILE_MAX_BYTES    (1u << 20)
#define TOKENFILE_MAX_BYTES  (64u << 10)

struct kctx {
	const char *path;   /* the kubeconfig, for messages */
	char *dir;          /* where relative paths resolve; NULL = cwd */
	struct k8s_err *err;
};

static int kfail(struct kctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int kfail(struct kctx *c, const char *fmt, ...)
{
	char msg[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return k8s_err_set(c->err, K8S_ECONFIG, "configuration error", "%s: %s", c->path, msg);
}

static int in_list(const char *s, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcmp(s, *list) == 0)
			return 1;
	return 0;
}

/* Every byte printable ASCII without spaces: it goes into an HTTP header. */
static int header_safe(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return 0;
	return n > 0;
}

/* The parsed tree holds the reviewer's secrets in jansson strings, which
 * jansson frees without wiping. */
static void wipe_tree(json_t *j)
{
	const char *k;
	json_t *v;
	size_t i;

	if (json_is_string(j)) {
		k8s_wipe((void *)json_string_value(j), json_string_length(j));
	} else if (json_is_object(j)) {
		json_object_foreach(j, k, v)
			wipe_tree(v);
	} else if (json_is_array(j)) {
		json_array_foreach(j, i, v)
			wipe_tree(v);
	}
}

/* list[] entry named name: its `field` object ({} when null). */
static json_t *named_entry(struct kctx *c, json_t *root, const char *list, const char *field,
			   const char *name)
{
	json_t *arr = json_object_get(root, list), *e, *found = NULL, *n;
	size_t i;

	if (arr != NULL && !json_is_array(arr) && !json_is_null(arr))
		return kfail(c, "%s: expected a list", list), NULL;
	json_array_foreach(arr, i, e) {
		n = json_object_get(e, "name");
		if (!json_is_object(e) || !json_is_string(n))
			return kfail(c, "%s[%zu]: expected {name, %s}", list, i, field), NULL;
		if (strcmp(json_string_value(n), name) != 0)
			continue;
		if (found != NULL)
			return kfail(c, "%s: \"%.64s\" is defined twice", list, name), NULL;
		found = e;
	}
	if (found == NULL)
		return kfail(c, "%s: no entry named \"%.64s\"", list, name), NULL;
	e = json_object_get(found, field);
	if (e == NULL || json_is_null(e))
		return kfail(c, "%s \"%.64s\": no %s", list, name, field), NULL;
	if (!json_is_object(e))
		return kfail(c, "%s \"%.64s\": %s: expected a mapping", list, name, field), NULL;
	return e;
}

/* ------------------------------------------------------------ files */

static char *resolve(const struct kctx *c, const char *p)
{
	char *out = NULL;

	if (p[0] == '/')
		return strdup(p);
	if (c->dir == NULL || asprintf(&out, "%s/%s", c->dir, p) < 0)
		return NULL;
	return out;
}

/* Whoever could write a file the reviewer trusts could redirect it. */
static const char *file_problem(const struct stat *st, int secret)
{
	if (!S_ISREG(st->st_mode))
		return "not a regular file";
	if (st->st_uid != 0 && st->st_uid != geteuid())
		return "owned by neither root nor the current user";
	if (st->st_mode & (S_IWGRP | S_IWOTH))
		return "writable by group or others";
	if (secret && (st->st_mode & S_IROTH))
		return "readable by others";
	return NULL;
}

/* Read a file the kubeconfig names, after checking the opened file's
 * owner and mode.  *problem names what is wrong on failure. */
static int read_checked(const char *file, int secret, size_t max, struct k8s_buf *b,
			const char **problem)
{
	struct stat st;
	int fd, ret = -1;

	*problem = NULL;
	fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		*problem = strerror(errno);
		return -1;
	}
	if (fstat(fd, &st) != 0)
		*problem = strerror(errno);
	else
		*problem = file_problem(&st, secret);
	if (*problem == NULL && k8s_buf_read_fd(b, fd, max) != 0)
		*problem = errno == EFBIG ? "too large" : strerror(errno);
	if (*problem == NULL)
		ret = 0;
	else
		k8s_buf_free(b);
	close(fd);
	return ret;
}

static int pem_has_key(const char *pem)
{
	return strstr(pem, "-----BEGIN ") != NULL && strstr(pem, "PRIVATE KEY-----") != NULL;
}

/* `key` (a file) or `key`-data (base64) of obj, exactly one or none.
 * is_cert: must hold a certificate; otherwise a private key (secret). */
static int load_pem(struct kctx *c, json_t *obj, const char *what, const char *key,
		    int is_cert, char **out, size_t *out_len)
{
	char dkey[64];
	json_t *f = json_object_get(obj, key), *d;
	struct k8s_buf b = {0};
	const char *problem = NULL;
	char *file = NULL;
	int ret = K8S_ECONFIG;

	snprintf(dkey, sizeof(dkey), "%s-data", key);
	d = json_object_get(obj, dkey);
	if (f != NULL && d != NULL) {
		kfail(c, "%s: set only one of %s and %s", what, key, dkey);
		goto out;
	}
	if (f == NULL && d == NULL) {
		ret = K8S_OK;
		goto out;
	}
	if (!json_is_string(f ? f : d) || json_string_length(f ? f : d) == 0) {
		kfail(c, "%s: %s: expected a non-empty string", what, f ? key : dkey);
		goto out;
	}
	if (d != NULL) {
		*out = (char *)k8s_b64_decode(json_string_value(d), json_string_length(d), out_len);
		if (*out == NULL) {
			kfail(c, "%s: %s: not valid base64", what, dkey);
			goto out;
		}
	} else {
		file = resolve(c, json_string_value(f));
		if (file == NULL) {
			kfail(c, "%s: %s: relative path without a kubeconfig directory", what, key);
			goto out;
		}
		if (read_checked(file, !is_cert, REFFILE_MAX_BYTES, &b, &problem) != 0) {
			kfail(c, "%s: %s %s: %s", what, key, file, problem);
			goto out;
		}
		*out = b.data;
		*out_len = b.len;
		b.data = NULL;
	}
	if (memchr(*out, '\0', *out_len) != NULL ||
	    (is_cert ? !(*out_len <= REFFILE_MAX_BYTES && k8s_pem_has_cert(*out, *out_len)) : !pem_has_key(*out))) {
		kfail(c, "%s: %s: no PEM %s found", what, d ? dkey : key,
		      is_cert ? "certificate" : "private key");
		goto out;
	}
	ret = K8S_OK;
out:
	if (ret != K8S_OK && *out != NULL) {
		k8s_freezero(*out, *out_len);
		*out = NULL;
		*out_len = 0;
	}
	k8s_buf_free(&b);
	free(file);
	return ret;
}

/* --------------------------------------------------- cluster and user */

static int refuse_keys(struct kctx *c, json_t *obj, const char *what,
		       const char *const *refused, const char *why)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v)
		if (in_list(key, refused))
			return kfail(c, "%s: %s: %s", what, key, why);
	return K8S_OK;
}

static int check_keys(struct kctx *c, json_t *obj, const char *what, const char *const *known)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v)
		if (!in_list(key, known))
			return kfail(c, "%s: %s: unknown or unsupported key", what, key);
	return K8S_OK;
}

static int get_string(struct kctx *c, json_t *obj, const char *what, const char *key, char **out)
{
	json_t *v = json_object_get(obj, key);

	if (v == NULL)
		return K8S_OK;
	if (!json_is_string(v))
		return kfail(c, "%s: %s: expected a string", what, key);
	*out = strdup(json_string_value(v));
	return *out != NULL ? K8S_OK : k8s_err_oom(c->err, "%s", c->path);
}

static int parse_cluster(struct kctx *c, json_t *cl, const char *what, struct k8s_kubeconfig *kc)
{
	static const char *const known[] = {"server", "certificate-authority",
		"certificate-authority-data", "insecure-skip-tls-verify", "tls-server-name",
		"disable-compression", "extensions", NULL};
	static const char *const refused[] = {"proxy-url", NULL};
	json_t *insecure = json_object_get(cl, "insecure-skip-tls-verify");
	const char *problem;
	size_t n;

	if (refuse_keys(c, cl, what, refused, "proxies are not supported") ||
	    check_keys(c, cl, what, known) ||
	    get_string(c, cl, what, "server", &kc->server) ||
	    get_string(c, cl, what, "tls-server-name", &kc->tls_server_name) ||
	    load_pem(c, cl, what, "certificate-authority", 1, &kc->ca_pem, &kc->ca_pem_len))
		return K8S_ECONFIG;
	if (kc->server == NULL)
		return kfail(c, "%s: server: required", what);
	if ((problem = k8s_https_url_problem(kc->server)) != NULL)
		return kfail(c, "%s: server: %s", what, problem);
	n = strlen(kc->server);
	while (n > 8 && kc->server[n - 1] == '/')
		kc->server[--n] = '\0';
	if (insecure != NULL && !json_is_boolean(insecure))
		return kfail(c, "%s: insecure-skip-tls-verify: expected true or false", what);
	kc->insecure_skip_verify = json_is_true(insecure);
	if (kc->insecure_skip_verify && kc->ca_pem != NULL)
		return kfail(c, "%s: certificate-authority and insecure-skip-tls-verify are both set",
			     what);
	return K8S_OK;
}

/* A file that holds the reviewer's credential is root's alone (0600):
 * a non-root user who cannot read it is told why. */
#define NEEDS_ROOT ": only root can read the reviewer's credentials; run this as root (sudo)"

static int needs_root(const char *file)
{
	return geteuid() != 0 && faccessat(AT_FDCWD, file, R_OK, AT_EACCESS) != 0 && errno == EACCES;
}

/* The bytes of a token file: trailing whitespace trimmed (editors and
 * `echo` add a newline), then one header-safe word.  Secret. */
static char *read_token_file(const char *file, const char *kcpath, struct k8s_err *err)
{
	struct k8s_buf b = {0};
	const char *problem;

	if (read_checked(file, 1, TOKENFILE_MAX_BYTES, &b, &problem) != 0) {
		k8s_err_set(err, K8S_ECONFIG, "configuration error", "%s: tokenFile %s: %s%s", kcpath,
			    file, problem, needs_root(file) ? NEEDS_ROOT : "");
		return NULL;
	}
	while (b.len > 0 && strchr(" \t\r\n", b.data[b.len - 1]) != NULL)
		b.data[--b.len] = '\0';
	if (b.len == 0 || !header_safe(b.data, b.len)) {
		k8s_err_set(err, K8S_ECONFIG, "configuration error", "%s: tokenFile %s: %s", kcpath,
			    file, b.len == 0 ? "empty" : "contains whitespace or control characters");
		k8s_buf_free(&b);
		return NULL;
	}
	return b.data;
}

static int parse_user_token(struct kctx *c, json_t *us, const char *what, struct k8s_kubeconfig *kc)
{
	json_t *tf = json_object_get(us, "tokenFile");
	char *probe;

	if (get_string(c, us, what, "token", &kc->token) != K8S_OK)
		return K8S_ECONFIG;
	if (kc->token != NULL && kc->token[0] == '\0') {
		free(kc->token);
		kc->token = NULL;
	}
	if (kc->token != NULL && !header_safe(kc->token, strlen(kc->token)))
		return kfail(c, "%s: token: contains whitespace or control characters", what);
	if (tf == NULL)
		return K8S_OK;
	if (!json_is_string(tf) || json_string_length(tf) == 0)
		return kfail(c, "%s: tokenFile: expected a non-empty string", what);
	if (kc->token != NULL)
		return kfail(c, "%s: set only one of token and tokenFile", what);
	kc->token_file = resolve(c, json_string_value(tf));
	if (kc->token_file == NULL)
		return kfail(c, "%s: tokenFile: relative path without a kubeconfig directory", what);
	/* Read once now so a wrong path fails at load, not at the first login. */
	probe = read_token_file(kc->token_file, c->path, c->err);
	if (probe == NULL)
		return K8S_ECONFIG;
	k8s_freezero_str(probe);
	return K8S_OK;
}

static int parse_user(struct kctx *c, json_t *us, const char *what, struct k8s_kubeconfig *kc)
{
	static const char *const known[] = {"token", "tokenFile", "client-certificate",
		"client-certificate-data", "client-key", "client-key-data", "extensions", NULL};
	static const char *const exec[] = {"exec", "auth-provider", NULL};
	static const char *const basic[] = {"username", "password", NULL};
	static const char *const imp[] = {"as", "as-uid", "as-groups", "as-user-extra", NULL};

	if (refuse_keys(c, us, what, exec, "exec and auth-provider plugins are not supported; "
			"use token, tokenFile or client-certificate/client-key") ||
	    refuse_keys(c, us, what, basic, "basic authentication is not supported") ||
	    refuse_keys(c, us, what, imp, "impersonation is not supported") ||
	    check_keys(c, us, what, known) ||
	    parse_user_token(c, us, what, kc) ||
	    load_pem(c, us, what, "client-certificate", 1, &kc->client_cert_pem,
		     &kc->client_cert_len) ||
	    load_pem(c, us, what, "client-key", 0, &kc->client_key_pem, &kc->client_key_len))
		return K8S_ECONFIG;
	if ((kc->client_cert_pem == NULL) != (kc->client_key_pem == NULL))
		return kfail(c, "%s: client-certificate and client-key must be set together", what);
	if (kc->token == NULL && kc->token_file == NULL && kc->client_cert_pem == NULL)
		return kfail(c, "%s: no credentials (token, tokenFile or client-certificate and "
			     "client-key)", what);
	return K8S_OK;
}

/* ------------------------------------------------------------ top level */

static int current_context(struct kctx *c, json_t *root, const char **name)
{
	json_t *cur = json_object_get(root, "current-context"), *ctxs, *only;

	if (cur != NULL && !json_is_string(cur) && !json_is_null(cur))
		return kfail(c, "current-context: expected a string");
	if (json_is_string(cur) && json_string_length(cur) > 0) {
		*name = json_string_value(cur);
		return K8S_OK;
	}
	/* Unambiguous without it: the only context there is. */
	ctxs = json_object_get(root, "contexts");
	only = json_array_get(ctxs, 0);
	if (json_array_size(ctxs) != 1 || !json_is_string(json_object_get(only, "name")))
		return kfail(c, "no current-context, and not exactly one context to default to");
	*name = json_string_value(json_object_get(only, "name"));
	return K8S_OK;
}

static int kc_from_json(struct kctx *c, json_t *root, struct k8s_kubeconfig *kc)
{
	static const char *const ctx_known[] = {"cluster", "user", "namespace", "extensions", NULL};
	json_t *kind = json_object_get(root, "kind"), *ctx, *cl, *us;
	const char *ctxname = NULL, *clname, *usname;
	char what[128];

	if (!json_is_object(root))
		return kfail(c, "expected a kubeconfig mapping");
	if (kind != NULL && !(json_is_string(kind) && strcmp(json_string_value(kind), "Config") == 0))
		return kfail(c, "kind: expected \"Config\"");
	if (current_context(c, root, &ctxname) != K8S_OK)
		return K8S_ECONFIG;
	snprintf(what, sizeof(what), "context \"%.64s\"", ctxname);
	ctx = named_entry(c, root, "contexts", "context", ctxname);
	if (ctx == NULL || check_keys(c, ctx, what, ctx_known) != K8S_OK)
		return K8S_ECONFIG;
	clname = json_string_value(json_object_get(ctx, "cluster"));
	usname = json_string_value(json_object_get(ctx, "user"));
	if (clname == NULL || usname == NULL)
		return kfail(c, "%s: needs a cluster and a user", what);
	snprintf(what, sizeof(what), "cluster \"%.64s\"", clname);
	cl = named_entry(c, root, "clusters", "cluster", clname);
	if (cl == NULL || parse_cluster(c, cl, what, kc) != K8S_OK)
		return K8S_ECONFIG;
	snprintf(what, sizeof(what), "user \"%.64s\"", usname);
	us = named_entry(c, root, "users", "user", usname);
	if (us == NULL || parse_user(c, us, what, kc) != K8S_OK)
		return K8S_ECONFIG;
	return K8S_OK;
}

static int kc_build(json_t *root, const char *path, struct k8s_kubeconfig **out,
		    struct k8s_err *err)
{
	struct k8s_kubeconfig *kc = calloc(1, sizeof(*kc));
	struct kctx c = {path ? path : "<kubeconfig>", NULL, err};
	char *tmp = NULL;
	int ret = K8S_ECONFIG;

	*out = NULL;
	if (kc == NULL || (kc->path = strdup(c.path)) == NULL) {
		k8s_err_oom(err, "%s", c.path);
		goto out;
	}
	if (path != NULL) {
		tmp = strdup(path);
		if (tmp == NULL || (c.dir = strdup(dirname(tmp))) == NULL) {
			k8s_err_oom(err, "%s", c.path);
			goto out;
		}
	}
	if (kc_from_json(&c, root, kc) != K8S_OK)
		goto out;
	*out = kc;
	kc = NULL;
	ret = K8S_OK;
out:
	k8s_kubeconfig_free(kc);
	free(tmp);
	free(c.dir);
	return ret;
}

int k8s_kubeconfig_parse(const char *text, size_t len, const char *path,
			 struct k8s_kubeconfig **out, struct k8s_err *err)
{
	json_t *root;
	int ret;

	*out = NULL;
	root = k8s_yaml_parse(text, len, path ? path : "<kubeconfig>", err);
	if (root == NULL)
		return K8S_ECONFIG;
	ret = kc_build(root, path, out, err);
	wipe_tree(root);
	json_decref(root);
	return ret;
}

static int holds_inline_secret(json_t *root)
{
	static const char *const secret_keys[] = {"token", "client-key-data", "password",
		"auth-provider", "exec", NULL};
	const char *const *k;
	json_t *e, *user;
	size_t i;

	json_array_foreach(json_object_get(root, "users"), i, e) {
		user = json_object_get(e, "user");
		for (k = secret_keys; *k != NULL; k++)
			if (json_object_get(user, *k) != NULL)
				return 1;
	}
	return 0;
}

int k8s_kubeconfig_load(const char *path, struct k8s_kubeconfig **out, struct k8s_err *err)
{
	struct stat st;
	const char *problem;
	json_t *root;
	int ret = K8S_ECONFIG;

	*out = NULL;
	root = k8s_yaml_load_file_stat(path, KUBECONFIG_MAX_BYTES, &st, err);
	if (root == NULL) {
		if (needs_root(path))
			k8s_err_set(err, K8S_ECONFIG, "configuration error", "%s: permission denied%s",
				    path, NEEDS_ROOT);
		return K8S_ECONFIG;
	}
	problem = file_problem(&st, holds_inline_secret(root));
	if (problem != NULL)
		k8s_err_set(err, K8S_ECONFIG, "configuration error", "%s: %s%s", path, problem,
			    strcmp(problem, "readable by others") == 0 ?
			    " while it holds a credential (chmod 600)" : "");
	else
		ret = kc_build(root, path, out, err);
	wipe_tree(root);
	json_decref(root);
	return ret;
}

void k8s_kubeconfig_free(struct k8s_kubeconfig *kc)
{
	if (kc == NULL)
		return;
	free(kc->path);
	free(kc->server);
	free(kc->ca_pem);
	free(kc->tls_server_name);
	k8s_freezero_str(kc->token);
	free(kc->token_file);
	free(kc->client_cert_pem);
	k8s_freezero(kc->client_key_pem, kc->client_key_len);
	k8s_wipe(kc, sizeof(*kc));
	free(kc);
}

char *k8s_kubeconfig_bearer(const struct k8s_kubeconfig *kc, struct k8s_err *err)
{
	char *t;

	k8s_err_clear(err);
	if (kc->token != NULL) {
		t = strdup(kc->token);
		if (t == NULL)
			k8s_err_oom(err, "%s", kc->path);
		return t;
	}
	/* Projected service-account tokens rotate: read the file every time. */
	if (kc->token_file != NULL)
		return read_token_file(kc->token_file, kc->path, err);
	return NULL;
}

/* "name" NUL value NUL: C strings hold no NUL, so the encoding is
 * unambiguous. */
static int fp_field(struct k8s_buf *b, const char *name, const char *value)
{
	return k8s_buf_append(b, name, strlen(name) + 1) != 0 ||
	       k8s_buf_append(b, value, strlen(value) + 1) != 0 ? -1 : 0;
}

/* SHA-256 hex of len bytes, or "-" for none. */
static void fp_hash(const char *p, size_t len, char hex[65])
{
	if (p == NULL)
		snprintf(hex, 65, "-");
	else
		k8s_sha256_hex(p, len, hex);
}

int k8s_kubeconfig_fingerprint(const struct k8s_kubeconfig *kc, char hex[65])
{
	struct k8s_buf b = {0};
	struct k8s_err berr;
	char ca[65], bearer_h[65], cert[65];
	char *bearer;
	int ret = -1;

	if (kc == NULL || kc->server == NULL)
		return -1;
	bearer = k8s_kubeconfig_bearer(kc, &berr);
	if (bearer == NULL && berr.status != K8S_OK)
		return -1;
	fp_hash(bearer, bearer != NULL ? strlen(bearer) : 0, bearer_h);
	k8s_freezero_str(bearer);
	fp_hash(kc->ca_pem, kc->ca_pem_len, ca);
	fp_hash(kc->client_cert_pem, kc->client_cert_len, cert);
	if (fp_field(&b, "pam-k8s apiserver", "v1") == 0 && fp_field(&b, "server", kc->server) == 0 &&
	    fp_field(&b, "ca", ca) == 0 &&
	    fp_field(&b, "tls-server-name", kc->tls_server_name ? kc->tls_server_name : "") == 0 &&
	    fp_field(&b, "insecure", kc->insecure_skip_verify ? "1" : "0") == 0 &&
	    fp_field(&b, "bearer", bearer_h) == 0 && fp_field(&b, "client-certificate", cert) == 0) {
		k8s_sha256_hex(b.data, b.len, hex);
		ret = 0;
	}
	k8s_buf_free(&b);
	return ret;
}
