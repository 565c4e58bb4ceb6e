/* Unit tests for util.c and err.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "err.h"
#include "util.h"

static void test_durations(void **state)
{
	static const struct { const char *in; int64_t ms; } ok[] = {
		{"0", 0}, {"90s", 90000}, {"5m", 300000}, {"24h", 86400000},
		{"1h30m", 5400000}, {"250ms", 250}, {"2m0s", 120000}, {"1h1m1s1ms", 3661001},
	};
	static const char *bad[] = {
		"", "5", "s", "-5s", "5x", "1.5h", " 5s", "5s ", "5 s", "ms", "99999999999999999999h", "5mm",
	};
	int64_t v;
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(k8s_parse_duration_ms(ok[i].in, &v), 0);
		assert_int_equal(v, ok[i].ms);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(k8s_parse_duration_ms(bad[i], &v), -1);
	assert_int_equal(k8s_parse_duration_ms(NULL, &v), -1);
}

static void test_expand_host(void **state)
{
	char host[256], want[300];
	char *s;

	assert_int_equal(gethostname(host, sizeof(host)), 0);
	snprintf(want, sizeof(want), "host-login:%s", host);
	s = k8s_expand_host("host-login:%h");
	assert_non_null(s);
	assert_string_equal(s, want);
	free(s);
	s = k8s_expand_host("100%% %x");
	assert_string_equal(s, "100% %x");
	free(s);
	s = k8s_expand_host("");
	assert_string_equal(s, "");
	free(s);
}

/* The one expander behind %h, %u (home, SAR names), %a (the prompt). */
static void test_expand(void **state)
{
	const char *vals[] = { "web1", "alice" };
	char *s;

	(void)state;
	s = k8s_expand("/home/%u@%h %%u %x %", "hu", vals);
	assert_non_null(s);
	assert_string_equal(s, "/home/alice@web1 %u %x %");
	free(s);
	s = k8s_expand("%h%h", "h", vals);
	assert_string_equal(s, "web1web1");
	free(s);
	s = k8s_expand("%u", "h", vals);
	assert_string_equal(s, "%u");
	free(s);
}

static void test_buf(void **state)
{
	struct k8s_buf b = {0};
	int i;

	for (i = 0; i < 1000; i++)
		assert_int_equal(k8s_buf_printf(&b, "%d,", i), 0);
	assert_true(b.len > 2000);
	assert_int_equal(b.data[b.len], '\0');
	assert_memory_equal(b.data, "0,1,2,", 6);
	assert_int_equal(k8s_buf_append(&b, "x", 1), 0);
	assert_int_equal(b.data[b.len - 1], 'x');
	k8s_buf_free(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
}

static void test_fingerprint(void **state)
{
	char fp[17], hex[65];

	/* SHA-256("abc"), FIPS 180-2 test vector. */
	k8s_sha256_hex("abc", 3, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	k8s_token_fingerprint("abc", 3, fp);
	assert_string_equal(fp, "ba7816bf8f01cfea");
}

static void test_err(void **state)
{
	struct k8s_err e;
	char longs[2000];

	memset(longs, 'a', sizeof(longs) - 1);
	longs[sizeof(longs) - 1] = '\0';
	assert_int_equal(k8s_err_set(&e, K8S_REFUSED, "token expired", "at %d", 5), K8S_REFUSED);
	assert_int_equal(e.status, K8S_REFUSED);
	assert_string_equal(e.reason, "token expired");
	assert_string_equal(e.detail, "at 5");
	assert_int_equal(k8s_err_set(&e, K8S_UNAVAILABLE, longs, "%s", longs), K8S_UNAVAILABLE);
	assert_int_equal(strlen(e.reason), sizeof(e.reason) - 1);
	assert_int_equal(strlen(e.detail), sizeof(e.detail) - 1);
	assert_int_equal(k8s_err_set(NULL, K8S_ECONFIG, "x", NULL), K8S_ECONFIG);
	assert_string_equal(k8s_status_name(K8S_UNAVAILABLE), "unavailable");
}

static void test_read_file(void **state)
{
	char path[] = "/tmp/k8s-test-XXXXXX";
	char *data = NULL;
	size_t len = 0;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "hello\n", 6), 6);
	close(fd);
	assert_int_equal(k8s_read_file(path, 100, &data, &len), 0);
	assert_int_equal(len, 6);
	assert_string_equal(data, "hello\n");
	free(data);
	assert_int_equal(k8s_read_file(path, 5, &data, &len), -1);
	unlink(path);
	assert_int_equal(k8s_read_file(path, 5, &data, &len), -1);
}

static void test_write_file_at(void **state)
{
	char dir[] = "/tmp/k8s-wfa-XXXXXX";
	const struct timespec mtime = {.tv_sec = 2000000000};
	struct dirent *de;
	struct stat st;
	char *data = NULL, path[64];
	size_t len = 0;
	int dfd, n = 0;
	DIR *d;

	assert_non_null(mkdtemp(dir));
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd >= 0);
	assert_int_equal(k8s_write_file_at(dfd, "f", "old", 3, 0600, NULL), 0);
	assert_int_equal(k8s_write_file_at(dfd, "f", "new!", 4, 0600, &mtime), 0);
	snprintf(path, sizeof(path), "%s/f", dir);
	assert_int_equal(k8s_read_file(path, 100, &data, &len), 0);
	assert_string_equal(data, "new!");
	free(data);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_mtime, 2000000000);
	/* A name that cannot be created leaves nothing behind. */
	assert_int_equal(k8s_write_file_at(dfd, "no/such/dir", "x", 1, 0600, NULL), -1);
	d = fdopendir(dup(dfd));
	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' || k8s_is_temp_name(de->d_name))
			n++;
	closedir(d);
	assert_int_equal(n, 1);
	assert_true(k8s_is_temp_name(".f.12.0.tmp"));
	assert_false(k8s_is_temp_name("f.tmp"));
	assert_false(k8s_is_temp_name(".tmp"));
	unlinkat(dfd, "f", 0);
	close(dfd);
	rmdir(dir);
}

/* The private-directory opener: what it takes and what it refuses. */
static void test_open_private_dir(void **state)
{
	char dir[] = "/tmp/k8s-util-dir.XXXXXX", cmd[80];
	struct stat st;
	int dfd, fd, f;

	assert_non_null(mkdtemp(dir));
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd >= 0);
	assert_int_equal(mkdirat(dfd, "priv", 0700), 0);
	fd = k8s_open_private_dir(dfd, "priv", 077, 0, &st);
	assert_true(fd >= 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_true((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
	close(fd);
	/* group-readable: fine for 022, not for 077 */
	assert_int_equal(fchmodat(dfd, "priv", 0750, 0), 0);
	fd = k8s_open_private_dir(dfd, "priv", 022, 0, NULL);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(k8s_open_private_dir(dfd, "priv", 077, 0, &st), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(st.st_mode & 0777, 0750);
	assert_int_equal(fchmodat(dfd, "priv", 0770, 0), 0);
	assert_int_equal(k8s_open_private_dir(dfd, "priv", 022, 0, NULL), -1);
	assert_int_equal(errno, EPERM);
	/* a symlink to a private directory, a file, nothing */
	assert_int_equal(fchmodat(dfd, "priv", 0700, 0), 0);
	assert_int_equal(symlinkat("priv", dfd, "link"), 0);
	assert_int_equal(k8s_open_private_dir(dfd, "link", 022, 0, NULL), -1);
	assert_true(errno == ENOTDIR || errno == ELOOP); /* Linux: ENOTDIR with O_DIRECTORY */
	f = openat(dfd, "file", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	assert_true(f >= 0);
	close(f);
	assert_int_equal(k8s_open_private_dir(dfd, "file", 022, 0, NULL), -1);
	assert_int_equal(errno, ENOTDIR);
	assert_int_equal(k8s_open_private_dir(dfd, "none", 022, 0, NULL), -1);
	assert_int_equal(errno, ENOENT);
	/* made on demand, 0700 */
	fd = k8s_open_private_dir(dfd, "made", 077, K8S_DIR_CREATE, &st);
	assert_true(fd >= 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	close(fd);
	fd = k8s_open_private_dir(dfd, "made", 077, K8S_DIR_CREATE, NULL);
	assert_true(fd >= 0);
	close(fd);
	close(dfd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_format_time(void **state)
{
	char buf[32];

	k8s_format_time(1795352400, buf);
	assert_string_equal(buf, "2026-11-22T13:00:00Z");
}

static void test_format_when(void **state)
{
	char buf[K8S_WHEN_MAX], sp[32];
	const time_t t = 1795352400; /* 2026-11-22T13:00:00Z */

	k8s_format_span(0, sp);
	assert_string_equal(sp, "0s");
	k8s_format_span(45, sp);
	assert_string_equal(sp, "45s");
	k8s_format_span(200, sp);
	assert_string_equal(sp, "3m20s");
	k8s_format_span(3 * 3600 + 12 * 60 + 7, sp);
	assert_string_equal(sp, "3h12m");
	k8s_format_span(3 * 3600 + 5, sp);
	assert_string_equal(sp, "3h");
	k8s_format_span(-(2 * 86400 + 5 * 3600), sp);
	assert_string_equal(sp, "2d5h");
	k8s_format_span(INT64_MIN, sp);
	assert_string_equal(sp, "106751991167300d15h");
	k8s_format_when(t, t + 3 * 3600 + 12 * 60, buf);
	assert_string_equal(buf, "2026-11-22T13:00:00Z, 3h12m ago");
	k8s_format_when(t, t - 90, buf);
	assert_string_equal(buf, "2026-11-22T13:00:00Z, 1m30s from now");
	k8s_format_when(t, t, buf);
	assert_string_equal(buf, "2026-11-22T13:00:00Z, now");
	/* a claim far outside what gmtime can show: no overflow, still a phrase */
	k8s_format_when((time_t)INT64_MAX, t, buf);
	assert_string_equal(buf, "invalid, far in the future");
	k8s_format_when((time_t)INT64_MIN, t, buf);
	assert_string_equal(buf, "invalid, long ago");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_expand_host),
		cmocka_unit_test(test_expand),
		cmocka_unit_test(test_buf),
		cmocka_unit_test(test_fingerprint),
		cmocka_unit_test(test_err),
		cmocka_unit_test(test_read_file),
		cmocka_unit_test(test_write_file_at),
		cmocka_unit_test(test_open_private_dir),
		cmocka_unit_test(test_format_time),
		cmocka_unit_test(test_format_when),
	};
	return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
