/* Unit tests for pam_k8s's multi-prompt token protocol (common/frame.c)
 * and its audit-line escaping (common/auditlog.c), both linked from
 * libk8scommon like every other test's code under test.  Digests are computed with OpenSSL's one-shot SHA256(), not with
 * the code under test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/sha.h>

#include "frame.h"
#include "decide.h"

/* A token-shaped string of n bytes (base64url alphabet plus dots). */
static char *make_token(size_t n, unsigned seed)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";
	char *t = malloc(n + 1);
	size_t i;

	assert_non_null(t);
	for (i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		t[i] = abc[(seed >> 16) % (sizeof(abc) - 1)];
	}
	t[n] = '\0';
	return t;
}

static void digest16(const char *t, size_t n, char out[17])
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	int i;

	SHA256((const unsigned char *)t, n, md);
	for (i = 0; i < 8; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static char *first_answer(const char *t, size_t n, size_t chunk)
{
	char d[17], *a;

	digest16(t, n, d);
	assert_int_not_equal(asprintf(&a, "k8s1:%zu:%s:%.*s", n, d, (int)(chunk < n ? chunk : n), t), -1);
	return a;
}

static char *next_answer(const char *t, size_t n, size_t off, size_t chunk)
{
	char *a;

	assert_int_not_equal(asprintf(&a, "%zu:%.*s", off,
				      (int)(chunk < n - off ? chunk : n - off), t + off), -1);
	return a;
}

/* Run the whole protocol with `chunk` data bytes per answer, continuing
 * where the server asks (as k8s-ssh-askpass does). */
static int run_framed(const char *t, size_t n, size_t chunk, struct k8s_frame *f, struct k8s_err *err)
{
	char *a = first_answer(t, n, chunk);
	int r = k8s_frame_first(f, a, strlen(a), err);

	free(a);
	while (r == K8S_FRAME_MORE) {
		a = next_answer(t, n, f->tok.len, chunk);
		r = k8s_frame_next(f, a, strlen(a), err);
		free(a);
	}
	return r;
}

static void test_cut_lengths(void **state)
{
	static const size_t cut[] = { 255, 511, 1023, 2047, 4095, 8191, 16383 };
	static const size_t whole[] = { 1, 254, 256, 510, 512, 1022, 1024, 4094, 4096, 16384 };
	size_t i;

	for (i = 0; i < sizeof(cut) / sizeof(cut[0]); i++)
		assert_true(k8s_cut_length(cut[i]));
	for (i = 0; i < sizeof(whole) / sizeof(whole[0]); i++)
		assert_false(k8s_cut_length(whole[i]));
}

/* Unframed answers are the token, except at the cut lengths. */
static void test_unframed_boundaries(void **state)
{
	static const struct { size_t n; int ok; } cases[] = {
		{ 510, 1 }, { 511, 0 }, { 512, 1 }, { 1022, 1 }, { 1023, 0 }, { 1024, 1 },
		{ 4094, 1 }, { 4095, 0 }, { 4096, 1 }, { 16383, 0 }, { 16384, 1 }, { 16385, 0 },
	};
	struct k8s_frame f;
	struct k8s_err err;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *t = make_token(cases[i].n, (unsigned)i);
		int r = k8s_frame_first(&f, t, cases[i].n, &err);

		if (cases[i].ok) {
			assert_int_equal(r, K8S_FRAME_DONE);
			assert_int_equal(f.tok.len, cases[i].n);
			assert_memory_equal(f.tok.data, t, cases[i].n);
			assert_int_equal(f.tok.data[cases[i].n], '\0');
		} else {
			assert_int_equal(r, K8S_FRAME_BAD);
			assert_int_equal(err.status, K8S_REFUSED);
			assert_null(f.tok.data);
		}
		k8s_frame_free(&f);
		free(t);
	}
}

static void test_unframed_trim_and_empty(void **state)
{
	struct k8s_frame f;
	struct k8s_err err;

	assert_int_equal(k8s_frame_first(&f, "  abc.def.ghi\r\n", 15, &err), K8S_FRAME_DONE);
	assert_string_equal(f.tok.data, "abc.def.ghi");
	k8s_frame_free(&f);
	assert_int_equal(k8s_frame_first(&f, " \r\n", 3, &err), K8S_FRAME_BAD);
	assert_string_equal(err.reason, K8S_REASON_NO_TOKEN);
	assert_int_equal(k8s_frame_first(&f, "", 0, &err), K8S_FRAME_BAD);
	assert_string_equal(err.reason, K8S_REASON_NO_TOKEN);
}

/* Every size a client might face, in chunks each client can carry. */
static void test_framed_roundtrip(void **state)
{
	static const size_t sizes[] = { 1, 511, 512, 1023, 1024, 1200, 3000, 4095, 4096, 16384 };
	static const size_t chunks[] = { 400, 480, 990, 4000, 20000 };
	struct k8s_frame f;
	struct k8s_err err;
	size_t i, j;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		for (j = 0; j < sizeof(chunks) / sizeof(chunks[0]); j++) {
			char *t = make_token(sizes[i], (unsigned)(i * 7 + j));

			assert_int_equal(run_framed(t, sizes[i], chunks[j], &f, &err), K8S_FRAME_DONE);
			assert_int_equal(f.tok.len, sizes[i]);
			assert_memory_equal(f.tok.data, t, sizes[i]);
			assert_int_equal(f.tok.data[sizes[i]], '\0');
			k8s_frame_free(&f);
			free(t);
		}
}

/* A client that cut an answer at 1023 bytes: the server's next prompt
 * names the offset it really reached; a client that follows it recovers,
 * one that blindly sends its next chunk is refused. */
static void test_cut_chunk(void **state)
{
	struct k8s_frame f;
	struct k8s_err err;
	char *t = make_token(3000, 42), *a, *cut;
	size_t got;

	a = first_answer(t, 3000, 1500);
	cut = strndup(a, 1023);
	assert_int_equal(k8s_frame_first(&f, cut, strlen(cut), &err), K8S_FRAME_MORE);
	got = f.tok.len;
	assert_true(got < 1500);
	free(cut);
	/* blind client: continues at 1500 */
	free(a);
	a = next_answer(t, 3000, 1500, 1500);
	assert_int_equal(k8s_frame_next(&f, a, strlen(a), &err), K8S_FRAME_BAD);
	assert_string_equal(err.reason, "token chunk out of place");
	assert_null(f.tok.data);
	free(a);
	k8s_frame_free(&f);
	/* following client: continues where asked */
	a = first_answer(t, 3000, 1500);
	cut = strndup(a, 1023);
	assert_int_equal(k8s_frame_first(&f, cut, strlen(cut), &err), K8S_FRAME_MORE);
	while (f.tok.len < 3000) {
		free(a);
		a = next_answer(t, 3000, f.tok.len, 900);
		assert_int_not_equal(k8s_frame_next(&f, a, strlen(a), &err), K8S_FRAME_BAD);
	}
	assert_memory_equal(f.tok.data, t, 3000);
	k8s_frame_free(&f);
	free(a);
	free(cut);
	free(t);
}

/* Chunks of two different tokens of the same length never assemble. */
static void test_digest_mismatch(void **state)
{
	struct k8s_frame f;
	struct k8s_err err;
	char *t1 = make_token(1200, 1), *t2 = make_token(1200, 2), *a;

	a = first_answer(t1, 1200, 600);
	assert_int_equal(k8s_frame_first(&f, a, strlen(a), &err), K8S_FRAME_MORE);
	free(a);
	a = next_answer(t2, 1200, 600, 600);
	assert_int_equal(k8s_frame_next(&f, a, strlen(a), &err), K8S_FRAME_BAD);
	assert_string_equal(err.reason, "token digest mismatch");
	assert_null(f.tok.data);
	free(a);
	k8s_frame_free(&f);
	free(t1);
	free(t2);
}

static void test_bad_headers(void **state)
{
	static const char *bad[] = {
		"k8s1:", "k8s1:12", "k8s1:12:", "k8s1:012:0123456789abcdef:abc",
		"k8s1:0:0123456789abcdef:", "k8s1:16385:0123456789abcdef:abc",
		"k8s1:123456:0123456789abcdef:abc", "k8s1:3:0123456789ABCDEF:abc",
		"k8s1:3:0123456789abcde:abc", "k8s1:3:0123456789abcdef0:abc",
		"k8s1:3:0123456789abcdef:", "k8s1:3:0123456789abcdef:abcd",
		"k8s1:3:0123456789abcdef:a c", "k8s1:-3:0123456789abcdef:abc",
		"k8s1:+3:0123456789abcdef:abc",
	};
	struct k8s_frame f;
	struct k8s_err err;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(k8s_frame_first(&f, bad[i], strlen(bad[i]), &err), K8S_FRAME_BAD);
		assert_int_equal(err.status, K8S_REFUSED);
		assert_null(f.tok.data);
	}
	/* a right-length, wrong-digest single answer */
	assert_int_equal(k8s_frame_first(&f, "k8s1:3:0123456789abcdef:abc", 27, &err), K8S_FRAME_BAD);
	assert_string_equal(err.reason, "token digest mismatch");
}

static void test_bad_continuations(void **state)
{
	static const char *bad[] = { "", ":abc", "abc", "05:abc", "5abc", "5:", "5:a b", "999999:abc" };
	struct k8s_frame f;
	struct k8s_err err;
	char *t = make_token(100, 9), *a;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		a = first_answer(t, 100, 5);
		assert_int_equal(k8s_frame_first(&f, a, strlen(a), &err), K8S_FRAME_MORE);
		assert_int_equal(k8s_frame_next(&f, bad[i], strlen(bad[i]), &err), K8S_FRAME_BAD);
		assert_null(f.tok.data);
		k8s_frame_free(&f);
		free(a);
	}
	/* running past the announced length */
	a = first_answer(t, 100, 50);
	assert_int_equal(k8s_frame_first(&f, a, strlen(a), &err), K8S_FRAME_MORE);
	free(a);
	a = make_token(51, 3);
	{
		char *b;

		assert_int_not_equal(asprintf(&b, "50:%s", a), -1);
		assert_int_equal(k8s_frame_next(&f, b, strlen(b), &err), K8S_FRAME_BAD);
		free(b);
	}
	k8s_frame_free(&f);
	free(a);
	free(t);
}

/* A client dribbling one byte per answer runs out of rounds. */
static void test_round_limit(void **state)
{
	struct k8s_frame f;
	struct k8s_err err;
	char *t = make_token(200, 5);
	int r;

	assert_int_equal(run_framed(t, K8S_FRAME_MAX_ROUNDS, 1, &f, &err), K8S_FRAME_DONE);
	k8s_frame_free(&f);
	r = run_framed(t, K8S_FRAME_MAX_ROUNDS + 1, 1, &f, &err);
	assert_int_equal(r, K8S_FRAME_BAD);
	assert_string_equal(err.reason, "too many token chunks");
	k8s_frame_free(&f);
	free(t);
}

/* Cluster-chosen strings cannot add fields or lines to an audit line. */
static void test_log_escaping(void **state)
{
	struct k8s_buf b = { 0 };

	assert_int_equal(k8s_log_kv(&b, "user", "ops.alice"), 0);
	assert_int_equal(k8s_log_kv(&b, "cluster_user", "evil\" token=\"x\nfake line\\"), 0);
	assert_int_equal(k8s_log_kv(&b, "groups", "caf\xc3\xa9 team"), 0);
	assert_int_equal(k8s_log_kv(&b, "rhost", NULL), 0);
	assert_string_equal(b.data,
			    "user=\"ops.alice\" cluster_user=\"evil\\x22 token=\\x22x\\x0afake line\\x5c\" "
			    "groups=\"caf\\xc3\\xa9 team\" rhost=\"-\"");
	k8s_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cut_lengths),
		cmocka_unit_test(test_unframed_boundaries),
		cmocka_unit_test(test_unframed_trim_and_empty),
		cmocka_unit_test(test_framed_roundtrip),
		cmocka_unit_test(test_cut_chunk),
		cmocka_unit_test(test_digest_mismatch),
		cmocka_unit_test(test_bad_headers),
		cmocka_unit_test(test_bad_continuations),
		cmocka_unit_test(test_round_limit),
		cmocka_unit_test(test_log_escaping),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
