/* A bundle's config.json, as the hook reads it. */
#include "fuzz.h"
#include "oci.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_free_ char *json = fuzz_cstr(data, size);
	struct phpc_error *err = NULL;
	struct phpc_oci_config c;
	if (phpc_oci_config_parse(json, "/run/fuzz/bundle", &c, &err) == 0)
		phpc_oci_config_clear(&c);
	phpc_error_free(err);
	return 0;
}
