/* fuzz_tokenreview: the TokenReview answer parser.  Input: one selector
 * byte (which audiences we asked for), then the answer body.  Checks the
 * parser's promises, not just that it does not crash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tokenreview.h"

#define FUZZ_TOKEN "fuzz-token-5c1e9b"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int rc, const struct k8s_identity *id, const struct k8s_err *err)
{
	if (rc == K8S_OK) {
		if (id->username == NULL || id->username[0] == '\0' || !json_is_object(id->extra) ||
		    id->method == NULL || strcmp(id->method, "tokenreview") != 0)
			abort();
		return;
	}
	if (rc != K8S_REFUSED && rc != K8S_UNAVAILABLE)
		abort();
	if (id->username != NULL || id->groups != NULL || id->extra != NULL)
		abort();
	if (err->status != rc || memchr(err->detail, '\0', sizeof(err->detail)) == NULL ||
	    strstr(err->detail, FUZZ_TOKEN) != NULL || strstr(err->reason, FUZZ_TOKEN) != NULL)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *aud_v[] = {"host-login:web-1", "api"};
	struct k8s_strv auds = {.v = aud_v};
	struct k8s_identity id;
	struct k8s_err err;
	int rc;

	if (size < 1)
		return 0;
	auds.n = data[0] % 3;
	k8s_err_clear(&err);
	rc = k8s_tokenreview_parse_response((const char *)data + 1, size - 1, FUZZ_TOKEN, &auds,
					    &id, &err);
	check(rc, &id, &err);
	k8s_identity_free(&id);
	return 0;
}
