/* fixture.h: run a fixture generator from tests/unit/gen/ (python3 with
 * jwcrypto) into a fresh temporary directory and read what it wrote.
 * Header-only so that only the tests that need python pay for it.
 *
 * The interpreter is $K8S_PYTHON, else /usr/bin/python3 (Debian's, which
 * has python3-jwcrypto; a python3 earlier on PATH, e.g. pyenv's, may not). */
#ifndef K8S_TEST_FIXTURE_H
#define K8S_TEST_FIXTURE_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define FX_UNUSED __attribute__((unused))

static FX_UNUSED const char *fx_python(void)
{
	const char *p = getenv("K8S_PYTHON");

	if (p != NULL && *p != '\0')
		return p;
	return access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
}

/* Path of tests/unit/gen/<name>, found from $K8S_TEST_DATA (tests/data). */
static FX_UNUSED char *fx_script(const char *name)
{
	const char *data = getenv("K8S_TEST_DATA");
	char *path = NULL;

	if (data != NULL && asprintf(&path, "%s/../unit/gen/%s", data, name) >= 0 &&
	    access(path, R_OK) == 0)
		return path;
	free(path);
	if (asprintf(&path, "tests/unit/gen/%s", name) < 0)
		return NULL;
	return path;
}

/* Run `python script dir [arg]`; 0 when it exited 0. */
static FX_UNUSED int fx_run(const char *script, const char *dir, const char *arg)
{
	char *path = fx_script(script);
	pid_t pid;
	int st = -1;

	if (path == NULL)
		return -1;
	pid = fork();
	if (pid == 0) {
		execl(fx_python(), fx_python(), path, dir, arg, (char *)NULL);
		_exit(127);
	}
	free(path);
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* mkdtemp + generator; returns the malloc'd directory or NULL. */
static FX_UNUSED char *fx_generate(const char *script)
{
	char *dir = strdup("/tmp/k8s-fx-XXXXXX");

	if (dir == NULL || mkdtemp(dir) == NULL || fx_run(script, dir, NULL) != 0) {
		fprintf(stderr, "fixture generator %s failed (python: %s)\n", script, fx_python());
		free(dir);
		return NULL;
	}
	return dir;
}

/* dir/name, whole, NUL-terminated; trailing newlines dropped. */
static FX_UNUSED char *fx_read(const char *dir, const char *name, size_t *len)
{
	char *path = NULL, *buf = NULL;
	size_t n = 0;
	FILE *f;
	long sz;

	if (asprintf(&path, "%s/%s", dir, name) < 0)
		return NULL;
	f = fopen(path, "rb");
	free(path);
	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (sz = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)sz + 1)) != NULL) {
		n = fread(buf, 1, (size_t)sz, f);
		while (n > 0 && buf[n - 1] == '\n')
			n--;
		buf[n] = '\0';
	}
	fclose(f);
	if (len != NULL)
		*len = n;
	return buf;
}

static FX_UNUSED int fx_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static FX_UNUSED void fx_rmrf(const char *dir)
{
	if (dir != NULL && strncmp(dir, "/tmp/k8s-", 9) == 0)
		nftw(dir, fx_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
