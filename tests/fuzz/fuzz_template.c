/* The {{ uid }} / {{ user }} / {{ env.NAME }} templates of the site
 * configuration. */
#include "config.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_free_ char *tmpl = fuzz_cstr(data, size);
	struct phpc_error *err = NULL;
	char *out = NULL;
	/* user given: {{ user }} never consults the password database */
	if (phpc_template_expand(tmpl, fuzz_envp, 1000, "fuzz", &out, &err) == 0)
		free(out);
	phpc_error_free(err);
	return 0;
}
