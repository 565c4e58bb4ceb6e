/* mod_mem.c: what loading a PAM module costs the process that loads it
 * (sshd, sudo): resident memory and mapped shared objects before and
 * after dlopen(MODULE, RTLD_NOW), as PAM loads it.
 *   mod_mem MODULE
 * Prints: rss_kb_added, libraries_added. */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

static long rss_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static int n_libs(void)
{
	char line[512], last[512] = "";
	int n = 0;
	FILE *f = fopen("/proc/self/maps", "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *p = strchr(line, '/');

		if (p == NULL || strstr(p, ".so") == NULL || strcmp(p, last) == 0)
			continue;
		snprintf(last, sizeof(last), "%s", p);
		n++;
	}
	fclose(f);
	return n;
}

int main(int argc, char **argv)
{
	long r0, r1;
	int l0, l1;
	void *h;

	if (argc != 2)
		return 2;
	r0 = rss_kb();
	l0 = n_libs();
	h = dlopen(argv[1], RTLD_NOW | RTLD_GLOBAL);
	if (h == NULL) {
		fprintf(stderr, "%s\n", dlerror());
		return 1;
	}
	r1 = rss_kb();
	l1 = n_libs();
	printf("rss +%ld kB, shared objects +%d\n", r1 - r0, l1 - l0);
	return 0;
}
