/* Every podman command: add the site's defaults and modules, then exec podman. */
#include "commands.h"
#include "env.h"
#include "proc.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>

/* Without our hook, tell the user once (a marker in config_home), not on
 * every task of every job. */
static void warn_missing_hook(struct phpc_ctx *ctx)
{
	const struct phpc_config *cfg = ctx->cfg;
	if (!cfg->v[PHPC_K_USE_DEFAULT_ARGS].b || ctx->plan.hook_installed)
		return;
	const char *dir = phpc_cfg_str(cfg, PHPC_K_HOOKS_DIR);
	_cleanup_free_ char *marker =
	    phpc_xasprintf("%s/.hook-missing-warned", phpc_cfg_str(cfg, PHPC_K_CONFIG_HOME));
	int fd = open(marker, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return;
	close(fd);
	phpc_warn("the podman-hpc hook is not installed in %s: site modules' copy "
	          "rules and ldconfig will not be applied (an admin can run 'podman-hpc "
	          "configure-hooks'; this warning is shown once)",
	          dir);
}

int cmd_podman(struct phpc_ctx *ctx, struct phpc_error **err)
{
	int r = phpc_ctx_load_config(ctx, err);
	if (r < 0)
		return r;
	if (phpc_cli_takes_modules(&ctx->cli)) {
		r = phpc_ctx_parse_modules(ctx, err);
		if (r < 0)
			return r;
		if (ctx->cli.sub_help)
			return phpc_print_sub_help(ctx, err);
		/* a module that needs one container per node makes run a shared-run */
		if (streq(ctx->cli.cmd.v[ctx->cli.cmd.n - 1], "run") &&
		    phpc_modules_want_shared_run(&ctx->mods, ctx->plan.enabled))
			return cmd_shared_run(ctx, err);
		r = phpc_ctx_apply_modules(ctx, err);
		if (r < 0)
			return r;
	}
	_cleanup_free_ char *podman = NULL;
	r = phpc_ctx_podman_path(ctx, &podman, err);
	if (r < 0)
		return r;
	r = phpc_ctx_prepare_storage(ctx, err);
	if (r < 0)
		return r;
	if (phpc_cli_takes_modules(&ctx->cli))
		warn_missing_hook(ctx);
	if (!ctx->modules_parsed)
		phpc_plan_init(&ctx->plan, &ctx->cli);
	r = phpc_ctx_pass_pmi_fd(ctx, &ctx->plan.pmi_fd, err);
	if (r < 0)
		return r;
	_cleanup_strvp_ char **argv = phpc_podman_argv(ctx->cfg, &ctx->mods, &ctx->plan, podman);
	_cleanup_strvp_ char **env = phpc_ctx_podman_env(ctx, ctx->plan.pmi_fd);
	fflush(NULL);
	return phpc_exec(argv, env, err);
}
