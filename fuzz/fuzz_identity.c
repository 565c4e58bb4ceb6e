/* Fuzz target for the identity's JSON (identity.c), the one reader of the
 * identities the review cache and the login state keep on disk.  Input: a
 * JSON text.  When k8s_identity_from_json accepts it, the identity must
 * satisfy what the reader promises (a method of three, a non-empty username,
 * a 16-hex or empty fingerprint, times >= 0), and writing it and reading
 * it back must give the same JSON: nothing is dropped or misread on the
 * way.  Seeds: fuzz/corpus/fuzz_identity. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "identity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct k8s_identity id, again;
	json_t *in, *out, *out2;

	in = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	if (in == NULL)
		return 0;
	if (k8s_identity_from_json(in, &id) != 0) {
		json_decref(in);
		return 0;
	}
	if ((strcmp(id.method, "tokenreview") != 0 && strcmp(id.method, "jwt") != 0 &&
	     strcmp(id.method, "serviceaccount") != 0) ||
	    id.username == NULL || id.username[0] == '\0' || id.extra == NULL ||
	    id.exp < 0 || id.iat < 0 || id.nbf < 0 ||
	    (id.fingerprint[0] != '\0' && strlen(id.fingerprint) != 16))
		abort();
	out = k8s_identity_to_json(&id);
	if (out == NULL)
		abort();
	if (k8s_identity_from_json(out, &again) != 0)
		abort();
	out2 = k8s_identity_to_json(&again);
	if (out2 == NULL || !json_equal(out, out2))
		abort();
	json_decref(out2);
	json_decref(out);
	k8s_identity_free(&again);
	k8s_identity_free(&id);
	json_decref(in);
	return 0;
}
