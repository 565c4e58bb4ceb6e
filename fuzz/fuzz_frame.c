/* Fuzz target for the conversation frames (frame.c), which pam_k8s.so
 * parses inside sshd, su and sudo from whatever the client answers.
 * Input: answers separated by '\n' (the first, then continuations).  A
 * token the parser calls whole must be exactly `total` bytes without NUL
 * or surrounding blanks; when framed, token characters only, matching its
 * digest (an unframed answer's characters are the engine's precheck's).
 * Seeds: fuzz/corpus/fuzz_frame. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "sha256.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size, *nl;
	struct k8s_frame f;
	struct k8s_err err;
	char fp[17];
	int r, first = 1;
	size_t i;

	memset(&f, 0, sizeof(f));
	do {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		r = first ? k8s_frame_first(&f, p, (size_t)(nl - p), &err)
			  : k8s_frame_next(&f, p, (size_t)(nl - p), &err);
		first = 0;
		p = nl < end ? nl + 1 : end;
	} while (r == K8S_FRAME_MORE && p < end);
	if (r == K8S_FRAME_DONE) {
		if (f.tok.len == 0 || f.tok.len > K8S_TOKEN_MAX || f.tok.data[f.tok.len] != '\0' ||
		    strlen(f.tok.data) != f.tok.len || f.tok.len != f.total)
			abort();
		if (f.tok.data[0] == ' ' || f.tok.data[f.tok.len - 1] == ' ' ||
		    f.tok.data[0] == '\n' || f.tok.data[f.tok.len - 1] == '\t')
			abort();
		if (f.digest[0] != '\0') {
			for (i = 0; i < f.tok.len; i++)
				if ((unsigned char)f.tok.data[i] < 0x21 || (unsigned char)f.tok.data[i] > 0x7e)
					abort();
			k8s_token_fingerprint(f.tok.data, f.tok.len, fp);
			if (strcmp(fp, f.digest) != 0)
				abort();
		}
	}
	k8s_frame_free(&f);
	return 0;
}
