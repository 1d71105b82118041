/* A site module file (modules.d/NAME.yaml), and what podman-hpc and the hook
 * do with a module that loaded: its dependencies, its podman arguments and
 * its copy and bind rules. */
#include "fuzz.h"
#include "modules.h"

static void use_module(struct phpc_module *m)
{
	struct phpc_modules mods = {.m = m, .n = 1};
	struct phpc_strv notes = {0}, argv = {0}, vars = {0};
	struct phpc_error *err = NULL;
	bool enabled = true;

	if (m->cli_arg)
		phpc_modules_find_flag(&mods, m->cli_arg, strlen(m->cli_arg));
	phpc_modules_find_name(&mods, m->name);
	phpc_modules_resolve(&mods, &enabled, &notes, &err);
	phpc_error_free(err);
	phpc_modules_args(&mods, &enabled, &argv);
	phpc_modules_rule_vars(&mods, &enabled, &vars);
	phpc_modules_want_shared_run(&mods, &enabled);
	for (char **r = m->copy; r && *r; r++)
		fuzz_rule(*r, NULL);
	for (char **r = m->bind; r && *r; r++)
		fuzz_rule(*r, NULL);
	phpc_strv_clear(&notes);
	phpc_strv_clear(&argv);
	phpc_strv_clear(&vars);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct phpc_strv warnings = {0};
	struct phpc_error *err = NULL;
	struct phpc_module m;
	if (phpc_module_parse("fuzz.yaml", (const char *)data, size, &m, &warnings, &err) == 0) {
		use_module(&m);
		phpc_module_clear(&m);
	}
	phpc_error_free(err);
	phpc_strv_clear(&warnings);
	return 0;
}
