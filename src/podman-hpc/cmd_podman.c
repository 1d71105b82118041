/* Every podman command: add the site's defaults and modules, then exec podman. */
#include "commands.h"
#include "fsutil.h"
#include "hooks.h"
#include "podconf.h"
#include "proc.h"
#include "store.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>

/* PMI_FD: the process manager's socket must reach the container as fd 3
 * (podman --preserve-fds passes fds 3..3+N-1). */
static int setup_pmi_fd(struct phpc_ctx *ctx, bool *pmi, struct phpc_error **err)
{
	const char *v = phpc_env_get(ctx->envp, "PMI_FD");
	*pmi = false;
	if (!v)
		return 0;
	char *end = NULL;
	errno = 0;
	long fd = strtol(v, &end, 10);
	if (!*v || *end || errno || fd < 0 || fd > INT_MAX || fcntl((int)fd, F_GETFD) < 0)
		return phpc_error_set(err, EBADF, "PMI_FD=%s is not an open file descriptor", v);
	if (fd != 3 && dup2((int)fd, 3) < 0)
		return phpc_error_errno(err, errno, "cannot move PMI_FD %ld to fd 3", fd);
	int fl = fcntl(3, F_GETFD);
	if (fl < 0 || fcntl(3, F_SETFD, fl & ~FD_CLOEXEC) < 0)
		return phpc_error_errno(err, errno, "cannot pass PMI_FD to podman");
	*pmi = true;
	return 0;
}

/* Files podman reads must be current before it starts. */
int phpc_ctx_prepare_storage(struct phpc_ctx *ctx, struct phpc_error **err)
{
	const struct phpc_config *cfg = ctx->cfg;
	if (!cfg->v[PHPC_K_USE_DEFAULT_ARGS].b)
		return 0;
	int r = phpc_podconf_update(cfg, NULL, err);
	if (r < 0)
		return r;
	enum phpc_cmd_kind k = ctx->cli.kind;
	if (k != PHPC_KIND_RUN && k != PHPC_KIND_IMAGES)
		return 0;
	/* one stat per call: every task of a job does this on shared storage */
	_cleanup_free_ char *index =
	    phpc_xasprintf("%s/overlay-images/images.json", cfg->squash_dir);
	struct stat st;
	if (stat(index, &st) < 0)
		return phpc_store_init(cfg->squash_dir, err);
	return 0;
}

static const char *container_env(const char *name, void *data)
{
	struct phpc_ctx *ctx = data;
	return phpc_cli_container_env(&ctx->cli, ctx->envp, name);
}

/* Modules the user enabled by their variable (-e ENABLE_GPU=1) are applied
 * by the hook as well: their rules' variables are needed too. */
static void hook_env(struct phpc_ctx *ctx)
{
	struct phpc_strv names = {0};
	_cleanup_free_ bool *on = phpc_xcalloc(ctx->mods.n ? ctx->mods.n : 1, sizeof(bool));
	for (size_t i = 0; i < ctx->mods.n; i++) {
		const char *e = ctx->mods.m[i].env;
		on[i] = ctx->cli.enabled[i] ||
		        (e && phpc_str_is_truthy(phpc_cli_container_env(&ctx->cli, NULL, e)));
	}
	phpc_modules_rule_vars(&ctx->mods, on, &names);
	for (size_t i = 0; i < names.n; i++) {
		const char *v = phpc_cli_container_env(&ctx->cli, ctx->envp, names.v[i]);
		if (v)
			phpc_strv_addf(&ctx->cli.hook_env, "%s=%s", names.v[i], v);
	}
	phpc_strv_clear(&names);
}

static void warn_notes(struct phpc_strv *notes)
{
	for (size_t i = 0; i < notes->n; i++)
		phpc_warn("%s", notes->v[i]);
	phpc_strv_clear(notes);
}

int phpc_ctx_parse_modules(struct phpc_ctx *ctx, struct phpc_error **err)
{
	if (ctx->modules_parsed)
		return 0;
	ctx->modules_parsed = true;
	int r = phpc_ctx_load_modules(ctx, err);
	if (r == 0)
		r = phpc_cli_parse_modules(&ctx->cli, &ctx->mods, err);
	if (r < 0)
		return r;
	struct phpc_strv notes = {0};
	r = phpc_modules_resolve(&ctx->mods, ctx->cli.enabled, &notes, err);
	warn_notes(&notes);
	return r;
}

int phpc_ctx_apply_modules(struct phpc_ctx *ctx, struct phpc_error **err)
{
	int r = phpc_ctx_parse_modules(ctx, err);
	if (r < 0 || ctx->modules_applied)
		return r;
	ctx->modules_applied = true;
	if (ctx->cfg->v[PHPC_K_USE_DEFAULT_ARGS].b)
		ctx->cli.hook_installed =
		    phpc_hooks_dir_has_hook(phpc_cfg_str(ctx->cfg, PHPC_K_HOOKS_DIR));
	/* The hook binds faster than podman handles --volume (measured:
	 * bench/module-startup), and keeps NERSC's behaviour of keying modules
	 * on their variable; without the hook, and on build (buildah runs no
	 * hooks), podman mounts them. Copies become read-only mounts on build. */
	bool is_build = ctx->cli.kind == PHPC_KIND_BUILD;
	if (!is_build && ctx->cli.hook_installed)
		hook_env(ctx);
	struct phpc_strv notes = {0};
	if (is_build || !ctx->cli.hook_installed)
		r = phpc_modules_bind_volumes(&ctx->mods, ctx->cli.enabled, is_build,
		                              phpc_cfg_str(ctx->cfg, PHPC_K_MODULES_DIR),
		                              container_env, ctx, &ctx->cli.module_volumes, &notes,
		                              err);
	warn_notes(&notes);
	return r;
}

/* Without our hook, tell the user once (a marker in config_home), not on
 * every task of every job. */
static void warn_missing_hook(struct phpc_ctx *ctx)
{
	const struct phpc_config *cfg = ctx->cfg;
	if (!cfg->v[PHPC_K_USE_DEFAULT_ARGS].b || ctx->cli.hook_installed)
		return;
	const char *dir = phpc_cfg_str(cfg, PHPC_K_HOOKS_DIR);
	_cleanup_free_ char *marker =
	    phpc_xasprintf("%s/.hook-missing-warned", phpc_cfg_str(cfg, PHPC_K_CONFIG_HOME));
	int fd = open(marker, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return;
	close(fd);
	phpc_warn("warning: the podman-hpc hook is not installed in %s: site modules' copy "
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
		    phpc_modules_want_shared_run(&ctx->mods, ctx->cli.enabled))
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
	bool pmi = false;
	r = setup_pmi_fd(ctx, &pmi, err);
	if (r < 0)
		return r;
	_cleanup_strvp_ char **argv = phpc_podman_argv(ctx->cfg, &ctx->cli, &ctx->mods, pmi);
	_cleanup_strvp_ char **env = phpc_ctx_podman_env(ctx, pmi);
	free(argv[0]);
	argv[0] = steal_pointer(&podman);
	fflush(NULL);
	return phpc_exec(argv, env, err);
}
