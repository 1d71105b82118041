/* The hook's request: written by podman-hpc, but read by the hook from a
 * directory whose file the hook must not trust blindly. */
#include "fuzz.h"
#include "request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct phpc_error *err = NULL;
	struct phpc_request r;
	if (phpc_request_parse((const char *)data, size, &r, &err) == 0) {
		/* what the hook does with one: look variables up, write it back */
		(void)phpc_request_env(&r, "HOME");
		free(phpc_request_to_json(&r));
		phpc_request_clear(&r);
	}
	phpc_error_free(err);
	return 0;
}
