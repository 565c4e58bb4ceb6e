/* Fuzz target for first login's files (preauth.c): the policy file that
 * libnss_k8s reads inside root's sshd, and the served records the helper
 * reads as root.  Input: one byte choosing the parser, then the file.
 * Whatever parses must be consistent (strings NUL-terminated, printable,
 * absolute paths, ids in range), must format back to exactly the input,
 * and a parsed policy must predict without overrunning anything.  Every
 * input is also a directory entry's name for the sweeps' record-name
 * parser: what it accepts must be exactly "p.PID" or ".p.PID.tmp"; and
 * nsswitch.conf text for k8s_preauth_k8s_last (which must not read past
 * its bytes, and says yes only when "k8s" is in them).
 * Seeds: fuzz/corpus/fuzz_preauth. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "preauth.h"
#include "storefmt.h"

static void check_str(const char *s, size_t cap)
{
	size_t n = strnlen(s, cap), i;

	if (n == 0 || n >= cap || s[0] != '/')
		abort();
	for (i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] > '~')
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[K8S_PREAUTH_FILE + 1];
	const char *buf;
	int n;

	if (size < 1)
		return 0;
	if (size < 256) { /* NAME_MAX */
		char name[256], back[64];
		pid_t pid;
		int tmp;

		memcpy(name, data, size);
		name[size] = '\0';
		pid = k8s_preauth_name_pid(name, &tmp);
		if (pid != 0) {
			snprintf(back, sizeof(back), tmp ? ".p.%ld.tmp" : "p.%ld", (long)pid);
			if (pid <= 1 || strcmp(back, name) != 0)
				abort();
		}
	}
	if (k8s_preauth_k8s_last((const char *)data, size) &&
	    (size < 10 || memmem(data, size, "passwd", 6) == NULL || memmem(data, size, "k8s", 3) == NULL))
		abort();
	buf = (const char *)data + 1;
	size--;
	if (data[0] & 1) {
		struct k8s_preauth_entry e;

		if (k8s_preauth_entry_parse(buf, size, &e) != 0)
			return 0;
		if (!k8s_sf_valid_name(e.name, strnlen(e.name, sizeof(e.name))) ||
		    e.uid < K8S_SF_MIN_ID || e.gid < K8S_SF_MIN_ID)
			abort();
		check_str(e.home, sizeof(e.home));
		check_str(e.shell, sizeof(e.shell));
		n = k8s_preauth_entry_format(&e, out, sizeof(out));
		if (n < 0 || (size_t)n != size || memcmp(out, buf, size) != 0)
			abort();
	} else {
		struct k8s_preauth_policy p;
		struct k8s_preauth_entry e;
		static const char *const names[] = { "alice", "a", "_x.y-z", "dana",
			"abcdefghijklmnopqrstuvwxyz012345" };
		size_t i;

		if (k8s_preauth_policy_parse(buf, size, &p) != 0)
			return 0;
		if (p.uid_min > p.uid_max || p.gid_min > p.gid_max || p.uid_min < K8S_SF_MIN_ID)
			abort();
		check_str(p.sshd, sizeof(p.sshd));
		check_str(p.shell, sizeof(p.shell));
		check_str(p.home, sizeof(p.home));
		n = k8s_preauth_policy_format(&p, out, sizeof(out));
		if (n < 0 || (size_t)n != size || memcmp(out, buf, size) != 0)
			abort();
		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			if (k8s_preauth_predict(&p, names[i], &e) != 0)
				continue;
			if (e.uid < p.uid_min || e.uid > p.uid_max || e.gid != e.uid ||
			    strcmp(e.name, names[i]) != 0)
				abort();
			check_str(e.home, sizeof(e.home));
			n = k8s_preauth_entry_format(&e, out, sizeof(out));
			if (n < 0)
				abort();
		}
	}
	return 0;
}
