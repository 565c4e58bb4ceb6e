/* libFuzzer target: the CA shape check (pem.c) on any bytes.  Contract:
 * 0 or 1, never a crash or a leak; and the answer does not depend on bytes
 * past the length given (a copy without a terminator). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size ? size : 1);
	int r;

	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	r = k8s_pem_has_cert(copy, size);
	if (r != 0 && r != 1)
		abort();
	free(copy);
	return 0;
}
