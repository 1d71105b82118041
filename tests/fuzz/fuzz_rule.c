/* The module rule language: the first line is a rule, each further line a
 * path its source matched. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_free_ char *text = fuzz_cstr(data, size);
	struct phpc_strv extra = {0};
	char *nl = strchr(text, '\n');
	if (nl) {
		*nl = '\0';
		phpc_strv_split(&extra, nl + 1, '\n');
	}
	fuzz_rule(text, extra.v);
	phpc_strv_clear(&extra);
	return 0;
}
