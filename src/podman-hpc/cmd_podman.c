/* Every podman command: add the site's defaults and modules, then exec podman. */
#include "commands.h"
#include "doctor.h"
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

/* A build by a user without a subuid range fails at the first step that
 * needs another id, with podman's "Invalid argument": say why first
 * (docs/site-tools.md, 3). Only on build: a run needs no range. */
static void warn_no_subuid_range(struct phpc_ctx *ctx)
{
	uid_t uid = getuid();
	_cleanup_free_ char *user = NULL;
	if (ctx->cli.kind != PHPC_KIND_BUILD || uid == 0 ||
	    phpc_user_name(uid, ctx->envp, &user, NULL) < 0)
		return;
	struct phpc_subid_facts f;
	phpc_doctor_gather_subid(false, user, uid, ctx->envp, "/etc/subuid", false, &f);
	if (!f.error && f.n == 0)
		phpc_warn("you have no subordinate uid range: build steps that use other ids "
		          "(apt-get's _apt, chown, USER) fail with \"Invalid argument\"; use "
		          "apt-get -o APT::Sandbox::User=root, or ask your site for a range "
		          "(podman-hpc doctor)");
	phpc_subid_facts_clear(&f);
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
	warn_no_subuid_range(ctx);
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
