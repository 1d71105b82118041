/* podman-hpc infohpc: every setting, its value and where it came from. */
#include "commands.h"
#include "phpc-build.h"
#include "util.h"

#include <errno.h>

const struct phpc_cmd_spec phpc_infohpc_spec = {
    .name = "infohpc",
    .usage = "",
    .summary = "Print the configuration with each value's source, and the modules",
    .description = "Prints every setting of podman-hpc with its value and its source (the\n"
                   "configuration file, an environment variable or the default), the\n"
                   "squash store, and the site's modules with their flags and files.",
    .example = "podman-hpc infohpc",
};

static void print_list(char *const *l)
{
	for (; l && *l; l++)
		printf(" - %s\n", *l);
}

static void print_value(const struct phpc_config *cfg, enum phpc_key k)
{
	const struct phpc_value *v = &cfg->v[k];
	printf("%s (%s):", phpc_key_name(k), v->source);
	switch (phpc_key_type(k)) {
	case PHPC_T_STR:
		printf(" %s\n", v->str);
		break;
	case PHPC_T_LIST:
		printf("%s\n", v->list[0] ? "" : " (empty)");
		print_list(v->list);
		break;
	case PHPC_T_BOOL:
		printf(" %s\n", v->b ? "true" : "false");
		break;
	case PHPC_T_NUM:
		printf(" %g\n", v->num);
		break;
	}
}

int cmd_infohpc(struct phpc_ctx *ctx, struct phpc_error **err)
{
	struct phpc_opt_result o;
	int r = phpc_cmd_parse(ctx, &phpc_infohpc_spec, &o, err);
	if (r == 0 && o.pos.n > 0)
		r = phpc_error_set(
		    err, EINVAL, "infohpc: unknown argument \"%s\" (see podman-hpc infohpc --help)",
		    o.pos.v[0]);
	phpc_opt_result_clear(&o);
	if (r != 0)
		return r == PHPC_OPT_HELP ? 0 : r;
	r = phpc_ctx_load_config(ctx, err);
	if (r < 0)
		return r;
	const struct phpc_config *cfg = ctx->cfg;
	printf("Podman-HPC Version: %s (podman-hpc in C, compatible with NERSC podman-hpc %s)\n",
	       PHPC_VERSION, PHPC_NERSC_VERSION);
	printf("config_file: %s\n", cfg->config_file ? cfg->config_file : "(none)");
	for (int k = 0; k < PHPC_K__COUNT; k++)
		print_value(cfg, (enum phpc_key)k);
	printf("squash_dir (%s): %s\n", cfg->squash_dir_source, cfg->squash_dir);
	/* A module that does not load is the site's most likely mistake: report
	 * it here rather than only when a user's run fails. */
	r = phpc_ctx_load_modules(ctx, err);
	if (r < 0)
		return r;
	printf("modules (%zu):%s\n", ctx->mods.n, ctx->mods.n ? "" : " (none)");
	for (size_t i = 0; i < ctx->mods.n; i++) {
		const struct phpc_module *m = &ctx->mods.m[i];
		printf(" - %s", m->name);
		if (m->cli_arg)
			printf(" (--%s)", m->cli_arg);
		printf(": %s\n", m->file);
	}
	return 0;
}
