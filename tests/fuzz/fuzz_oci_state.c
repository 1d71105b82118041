/* The OCI state a runtime gives a hook on stdin. */
#include "fuzz.h"
#include "oci.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_free_ char *json = fuzz_cstr(data, size);
	struct phpc_error *err = NULL;
	struct phpc_oci_state st;
	if (phpc_oci_state_parse(json, &st, &err) == 0)
		phpc_oci_state_clear(&st);
	phpc_error_free(err);
	return 0;
}
