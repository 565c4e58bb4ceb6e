/* Unit tests for k8s-ssh-askpass's parsers (cli/askpass_parse.c): its
 * libc-only SHA-256 against OpenSSL's, pam_k8s's prompt grammar (and the
 * lookalikes a hostile server could send), the JWT "aud" check, and what
 * decides whom a token is minted for: ssh -G output, /proc status, the
 * host names %h stands for, audience patterns, askpass.conf.
 * Payloads are encoded with OpenSSL's EVP_EncodeBlock, not with the
 * helper's decoder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "../../cli/askpass_parse.c"

static void test_sha256(void **state)
{
	static const size_t lens[] = { 0, 1, 3, 55, 56, 63, 64, 65, 119, 120, 128, 1000, 16384 };
	unsigned char *buf = malloc(16384), a[32], b[32];
	size_t i;

	assert_non_null(buf);
	for (i = 0; i < 16384; i++)
		buf[i] = (unsigned char)(i * 31 + 7);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		k8s_sha256(buf, lens[i], a);
		SHA256(buf, lens[i], b);
		assert_memory_equal(a, b, 32);
	}
	free(buf);
}

static void test_prompts_accepted(void **state)
{
	struct ap_prompt p;

	assert_int_equal(ap_parse_prompt("Kubernetes token (audience host-login:web-1): ", &p), 0);
	assert_int_equal(p.kind, 1);
	assert_string_equal(p.audience, "host-login:web-1");
	assert_string_equal(p.host, "");

	assert_int_equal(ap_parse_prompt("(alice@web-1) Kubernetes token (audience host-login:web-1): ", &p), 0);
	assert_int_equal(p.kind, 1);
	assert_string_equal(p.user, "alice");
	assert_string_equal(p.host, "web-1");

	assert_int_equal(ap_parse_prompt("(a@b.c@10.0.0.1) Kubernetes token (audience https://x.example/y): ", &p), 0);
	assert_string_equal(p.user, "a@b.c");
	assert_string_equal(p.host, "10.0.0.1");
	assert_string_equal(p.audience, "https://x.example/y");

	assert_int_equal(ap_parse_prompt("(ops.alice@127.0.0.1) Kubernetes token (audience host-login:t) continued at byte 960 of 3001: ", &p), 0);
	assert_int_equal(p.kind, 2);
	assert_int_equal(p.offset, 960);
	assert_int_equal(p.total, 3001);
}

/* Anything else is refused: other prompts, lookalikes, trailing text. */
static void test_prompts_refused(void **state)
{
	static const char *bad[] = {
		"", "Password: ", "(alice@web-1) Password: ",
		"Enter passphrase for key '/root/.ssh/id_ed25519': ",
		"Are you sure you want to continue connecting (yes/no/[fingerprint])? ",
		"Kubernetes token (audience ): ",
		"Kubernetes token (audience a b): ",
		"Kubernetes token (audience x):",
		"Kubernetes token (audience x):  ",
		"Kubernetes token (audience x): Password: ",
		"kubernetes token (audience x): ",
		"Kubernetes token (audience x(y)): ",
		"Kubernetes token (audience x)\n: ",
		"Kubernetes token (audience x\t): ",
		"Password: Kubernetes token (audience x): ",
		"(alice@web-1)Kubernetes token (audience x): ",
		"(@web-1) Kubernetes token (audience x): ",
		"(alice@) Kubernetes token (audience x): ",
		"(aliceweb-1) Kubernetes token (audience x): ",
		"Kubernetes token (audience x) continued at byte 0 of 10: ",
		"Kubernetes token (audience x) continued at byte 10 of 10: ",
		"Kubernetes token (audience x) continued at byte 11 of 10: ",
		"Kubernetes token (audience x) continued at byte 01 of 10: ",
		"Kubernetes token (audience x) continued at byte 1 of 16385: ",
		"Kubernetes token (audience x) continued at byte 1 of 123456: ",
		"Kubernetes token (audience x) continued at byte -1 of 10: ",
		"Kubernetes token (audience x) continued at byte 1 of 10 : ",
	};
	char longaud[400];
	struct ap_prompt p;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(ap_parse_prompt(bad[i], &p), -1);
	memset(longaud, 'a', sizeof(longaud));
	memcpy(longaud, "Kubernetes token (audience ", 27);
	snprintf(longaud + 27 + 257, sizeof(longaud) - 27 - 257, "): ");
	assert_int_equal(ap_parse_prompt(longaud, &p), -1);
}

/* header.payload.sig with the payload base64url-encoded by OpenSSL. */
static char *jwt_with(const char *payload)
{
	size_t n = strlen(payload), i, o = 0;
	unsigned char *enc = malloc(4 * n / 3 + 8);
	char *out;

	assert_non_null(enc);
	EVP_EncodeBlock(enc, (const unsigned char *)payload, (int)n);
	out = malloc(strlen((char *)enc) + 64);
	assert_non_null(out);
	strcpy(out, "eyJhbGciOiJSUzI1NiJ9.");
	o = strlen(out);
	for (i = 0; enc[i] != '\0'; i++) {
		if (enc[i] == '=')
			break;
		out[o++] = enc[i] == '+' ? '-' : enc[i] == '/' ? '_' : (char)enc[i];
	}
	strcpy(out + o, ".c2lnbmF0dXJl");
	free(enc);
	return out;
}

static void test_jwt_audience(void **state)
{
	static const struct { const char *payload; int ok; } cases[] = {
		{ "{\"aud\":\"host-login:web-1\",\"sub\":\"x\"}", 1 },
		{ "{\"sub\":\"x\",\"aud\":[\"other\",\"host-login:web-1\"]}", 1 },
		{ " { \"iss\" : \"https:\\/\\/k\" , \"aud\" : [ \"host-login:web-1\" ] } ", 1 },
		{ "{\"aud\":\"host-login\\u003aweb-1\"}", 1 },
		{ "{\"nested\":{\"aud\":\"host-login:web-1\"},\"aud\":\"host-login:web-1\",\"n\":[1,2.5e3,true,null]}", 1 },
		{ "{\"aud\":\"host-login:web-2\"}", 0 },
		{ "{\"aud\":[\"host-login:web-10\",\"https://kubernetes.default.svc\"]}", 0 },
		{ "{\"aud\":[]}", 0 },
		{ "{\"sub\":\"host-login:web-1\"}", 0 },
		{ "{\"nested\":{\"aud\":\"host-login:web-1\"}}", 0 },
		{ "{\"aud\":\"host-login:web-1\",\"aud\":\"x\"}", 0 },
		{ "{\"aud\":\"host-login:web-1\"", 0 },
		{ "{\"aud\":\"host-login:web-1\"} x", 0 },
		{ "{\"aud\":\"host-login:web-1\\u0000\"}", 0 },
		{ "{\"aud\":\"host-login:web-1\\u00e9\"}", 0 },
		{ "{\"aud\":1}", 0 },
		{ "[\"host-login:web-1\"]", 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *t = jwt_with(cases[i].payload);

		assert_int_equal(ap_jwt_has_audience(t, strlen(t), "host-login:web-1"), cases[i].ok);
		free(t);
	}
	assert_int_equal(ap_jwt_has_audience("opaque-token", 12, "host-login:web-1"), 0);
	assert_int_equal(ap_jwt_has_audience("a.b.c.d", 7, "host-login:web-1"), 0);
	assert_int_equal(ap_jwt_has_audience("a.!!!.c", 7, "host-login:web-1"), 0);
}

static void test_ssh_g(void **state)
{
	static const char out[] = "host Web-1\nuser bob\nhostname 127.0.0.1\nport 2222\n"
				  "hostbasedauthentication no\nhostkeyalias x\n";
	struct ap_target t;

	memset(&t, 0, sizeof(t));
	assert_int_equal(ap_parse_ssh_g(out, strlen(out), &t), 0);
	assert_string_equal(t.host, "Web-1");
	assert_string_equal(t.hostname, "127.0.0.1");
	assert_string_equal(t.user, "bob");
	/* no hostname line, or one with a NUL: nothing to go on */
	memset(&t, 0, sizeof(t));
	assert_int_equal(ap_parse_ssh_g("host a\nuser b\n", 14, &t), -1);
	assert_int_equal(ap_parse_ssh_g("hostname a\0b\n", 13, &t), -1);
	assert_int_equal(ap_parse_ssh_g("hostname \n", 10, &t), -1);
	/* an older ssh without the host line */
	memset(&t, 0, sizeof(t));
	assert_int_equal(ap_parse_ssh_g("user u\nhostname h.example\n", 26, &t), 0);
	assert_string_equal(t.host, "");
	assert_string_equal(t.hostname, "h.example");
}

static void test_status(void **state)
{
	static const char st[] = "Name:\tsudo\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t5\n"
				 "Uid:\t1000\t0\t0\t0\nGid:\t1000\t1000\t1000\t1000\n";
	char name[64];
	long uid[4];

	assert_int_equal(ap_parse_status(st, name, sizeof(name), uid), 0);
	assert_string_equal(name, "sudo");
	assert_int_equal(uid[0], 1000);
	assert_int_equal(uid[1], 0);
	assert_int_equal(uid[3], 0);
	assert_int_equal(ap_parse_status("Name:\tssh\n", name, sizeof(name), uid), -1);
	assert_int_equal(ap_parse_status("Name:\tssh\nUid:\t1\t2\n", name, sizeof(name), uid), -1);
	assert_int_equal(ap_parse_status("Name:\t\nUid:\t1\t1\t1\t1\n", name, sizeof(name), uid), -1);
}

static void names(struct ap_target *t, const char *host, const char *hostname, int lower, int sn)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->host, sizeof(t->host), "%s", host);
	snprintf(t->hostname, sizeof(t->hostname), "%s", hostname);
	snprintf(t->user, sizeof(t->user), "alice");
	ap_target_names(t, lower, sn);
}

static void test_names(void **state)
{
	struct ap_target t;

	names(&t, "web-1", "127.0.0.1", 1, 1);
	assert_int_equal(t.n_names, 2);
	assert_string_equal(t.names[0], "web-1");
	assert_string_equal(t.names[1], "127.0.0.1");
	names(&t, "Web-1.Example.COM", "web-1.example.com", 1, 1);
	assert_int_equal(t.n_names, 2);
	assert_string_equal(t.names[0], "web-1.example.com");
	assert_string_equal(t.names[1], "web-1");
	names(&t, "db", "db-7.int.example", 1, 1);
	assert_int_equal(t.n_names, 3);
	assert_string_equal(t.names[2], "db-7");
	names(&t, "web-1.example.com", "", 1, 0);
	assert_int_equal(t.n_names, 1);
	names(&t, "10.1", "::1", 1, 1);      /* addresses: no short forms */
	assert_int_equal(t.n_names, 2);
	names(&t, "web-*", "-oProxyCommand=x", 1, 1);   /* not host names */
	assert_int_equal(t.n_names, 0);
	names(&t, "Web-1", "", 0, 0);        /* sudo: gethostname() as it is */
	assert_int_equal(t.n_names, 1);
	assert_string_equal(t.names[0], "Web-1");
	assert_int_equal(ap_name_ok("a b"), 0);
	assert_int_equal(ap_name_ok(".x"), 0);
	assert_int_equal(ap_name_ok(""), 0);
	assert_int_equal(ap_name_ok("fe80::1"), 1);
}

static void test_audience_patterns(void **state)
{
	struct ap_target t;
	char shown[512], out[64];

	names(&t, "web-1.example.com", "10.0.0.5", 1, 1);
	assert_int_equal(ap_audience_allowed("host-login:%h", &t, "host-login:web-1", shown, sizeof(shown)), 1);
	assert_string_equal(shown, "host-login:web-1.example.com, host-login:web-1, host-login:10.0.0.5");
	assert_int_equal(ap_audience_allowed("host-login:%h", &t, "host-login:10.0.0.5", NULL, 0), 1);
	/* what a hostile server asks for instead */
	assert_int_equal(ap_audience_allowed("host-login:%h", &t, "host-login:prod-db", NULL, 0), 0);
	assert_int_equal(ap_audience_allowed("host-login:%h", &t, "https://kubernetes.default.svc", NULL, 0), 0);
	assert_int_equal(ap_audience_allowed("host-login:%h", &t, "host-login:web-1.example.com.evil", NULL, 0), 0);
	assert_int_equal(ap_audience_allowed("host-login:%h", &t, "host-login:web", NULL, 0), 0);
	/* several patterns, blanks, %u, %%, fixed audiences */
	assert_int_equal(ap_audience_allowed(" other , host-login:%u@%h ", &t, "host-login:alice@web-1", NULL, 0), 1);
	assert_int_equal(ap_audience_allowed("100%%h", &t, "100%h", shown, sizeof(shown)), 1);
	assert_string_equal(shown, "100%h");
	assert_int_equal(ap_audience_allowed("host-login:web-*", &t, "host-login:web-9", NULL, 0), 1);
	/* %h with no usable names allows nothing */
	names(&t, "web-*", "", 1, 1);
	assert_int_equal(ap_audience_allowed("host-login:%h", &t, "host-login:web-*", shown, sizeof(shown)), 0);
	assert_string_equal(shown, "");
	/* a user name with glob characters is matched literally */
	names(&t, "h", "", 1, 1);
	snprintf(t.user, sizeof(t.user), "*");
	assert_int_equal(ap_audience_allowed("a:%u", &t, "a:bob", NULL, 0), 0);
	assert_int_equal(ap_audience_allowed("a:%u", &t, "a:*", NULL, 0), 1);
	/* a pattern that expands to nothing (found by fuzz_askpass: it looped) */
	t.user[0] = '\0';
	assert_int_equal(ap_audience_allowed("%u, ,%u", &t, "a", shown, sizeof(shown)), 0);
	assert_string_equal(shown, "");
	/* expansion for commands: no escaping, unknown escapes kept */
	assert_int_equal(ap_expand("--aud=%a/%h/%u/%x/%%", "A", "H", "U", 0, out, sizeof(out)), 0);
	assert_string_equal(out, "--aud=A/H/U/%x/%");
	assert_int_equal(ap_expand("%a%a%a", "0123456789012345678901", "", "", 0, out, sizeof(out)), -1);
}

static void test_conf(void **state)
{
	static const char conf[] =
		"# askpass.conf\n"
		"Host web-* db-?.example.com   # comment\n"
		"    Audience host-login:%h, host-login:shared\n"
		"    ShortNames no\n"
		"\n"
		"Host legacy\n"
		"\tAUDIENCE host-login:legacy-box\n"
		"Host *\n"
		"    Audience host-login:%h\n"
		"    shortnames yes\n";
	struct ap_conf c;
	char err[160];

	assert_int_equal(ap_conf_parse(conf, strlen(conf), "web-1", "10.0.0.1", &c, err, sizeof(err)), 0);
	assert_string_equal(c.audience, "host-login:%h, host-login:shared");
	assert_int_equal(c.short_names, 0);
	assert_int_equal(ap_conf_parse(conf, strlen(conf), "x", "DB-7.example.com", &c, err, sizeof(err)), 0);
	assert_string_equal(c.audience, "host-login:%h, host-login:shared");
	assert_int_equal(ap_conf_parse(conf, strlen(conf), "legacy", "10.0.0.2", &c, err, sizeof(err)), 0);
	assert_string_equal(c.audience, "host-login:legacy-box");
	assert_int_equal(c.short_names, 1);
	assert_int_equal(ap_conf_parse(conf, strlen(conf), "other", "", &c, err, sizeof(err)), 0);
	assert_string_equal(c.audience, "host-login:%h");
	/* lines before the first Host apply everywhere; first value wins */
	assert_int_equal(ap_conf_parse("Audience a\nHost x\nAudience b\n", 29, "x", "", &c, err, sizeof(err)), 0);
	assert_string_equal(c.audience, "a");
	assert_int_equal(ap_conf_parse("", 0, "x", "", &c, err, sizeof(err)), 0);
	assert_string_equal(c.audience, "");
	assert_int_equal(c.short_names, -1);
	/* malformed: refused, with the line */
	assert_int_equal(ap_conf_parse("Host x\nAudiences a\n", 19, "x", "", &c, err, sizeof(err)), -1);
	assert_string_equal(err, "line 2: unknown keyword Audiences");
	assert_int_equal(ap_conf_parse("Audience\n", 9, "x", "", &c, err, sizeof(err)), -1);
	assert_int_equal(ap_conf_parse("ShortNames maybe\n", 17, "x", "", &c, err, sizeof(err)), -1);
	assert_int_equal(ap_conf_parse("Host !x\n", 8, "x", "", &c, err, sizeof(err)), -1);
	assert_int_equal(ap_conf_parse("Host x\0\n", 8, "x", "", &c, err, sizeof(err)), -1);
}

static void test_describe_wait(void **state)
{
	char b[96];

	(void)state;
	ap_describe_wait(1 << 8, b, sizeof(b));
	assert_string_equal(b, "exited with status 1");
	ap_describe_wait(127 << 8, b, sizeof(b));
	assert_string_equal(b, "exited with status 127 (not found, or could not be run)");
	ap_describe_wait(9, b, sizeof(b));
	assert_string_equal(b, "killed by signal 9 (Killed)");
	ap_describe_wait(11 | 0x80, b, sizeof(b));
	assert_string_equal(b, "killed by signal 11 (Segmentation fault), core dumped");
	ap_describe_wait(0x137f, b, sizeof(b)); /* stopped by SIGSTOP */
	assert_string_equal(b, "ended with wait status 0x137f");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256),
		cmocka_unit_test(test_prompts_accepted),
		cmocka_unit_test(test_prompts_refused),
		cmocka_unit_test(test_jwt_audience),
		cmocka_unit_test(test_ssh_g),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_audience_patterns),
		cmocka_unit_test(test_conf),
		cmocka_unit_test(test_describe_wait),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
