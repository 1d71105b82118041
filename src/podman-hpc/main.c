/* podman-hpc: podman for HPC sites. Parses the command line, loads the site
 * configuration, and replaces itself with podman (no process of ours stays). */
#include "commands.h"
#include "phpc-build.h"
#include "fsutil.h"
#include "util.h"

#include <errno.h>
#include <stdarg.h>

const struct phpc_command phpc_commands[] = {
    {"infohpc", cmd_infohpc, "print the site configuration and where each value comes from"},
    {"version", cmd_version, "print the versions of podman-hpc and podman"},
    {"help", cmd_help, "print this help"},
    {"configure-hooks", cmd_configure_hooks,
     "install the hooks.d entry of podman-hpc's OCI hook [--hooksd DIR] [--force]"},
    {"migrate", cmd_migrate, "squash an image into the squash store [--compress ALG] IMAGE..."},
    {"rmsqi", cmd_rmsqi, "remove a squashed image (or one of its names) [--force] IMAGE..."},
    {"pull", cmd_pull, "pull an image, then migrate it"},
    {"shared-run", cmd_shared_run,
     "run the tasks of a job step in one container per node [options] IMAGE COMMAND..."},
    {NULL, NULL, NULL},
};

void phpc_warn(const char *fmt, ...)
{
	va_list ap;
	fputs("podman-hpc: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int phpc_ctx_load_config(struct phpc_ctx *ctx, struct phpc_error **err)
{
	static const char *const files[] = {
	    "/etc/podman_hpc/podman_hpc.yaml",
	    PHPC_SYSCONFDIR "/podman_hpc/podman_hpc.yaml",
	    NULL,
	};
	if (ctx->cfg)
		return 0;
	struct phpc_config_input in = {
	    .envp = ctx->envp,
	    .uid = getuid(),
	    .squash_dir_opt = ctx->cli.squash_dir,
	    .additional_stores_opt = ctx->cli.additional_stores,
	    .search_files = files,
	    .default_mount_program = PHPC_BINDIR "/podman-hpc-mount",
	    .default_modules_dir = PHPC_SYSCONFDIR "/podman_hpc/modules.d",
	    .default_hooks_dir = PHPC_DATADIR "/containers/oci/hooks.d",
	};
	int r = phpc_config_load(&in, &ctx->cfg, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < ctx->cfg->warnings.n; i++)
		phpc_warn("warning: %s", ctx->cfg->warnings.v[i]);
	return 0;
}

int phpc_ctx_load_modules(struct phpc_ctx *ctx, struct phpc_error **err)
{
	if (ctx->mods.m)
		return 0;
	int r = phpc_modules_load(phpc_cfg_str(ctx->cfg, PHPC_K_MODULES_DIR), &ctx->mods, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < ctx->mods.warnings.n; i++)
		phpc_warn("warning: %s", ctx->mods.warnings.v[i]);
	return 0;
}

void phpc_ctx_podman_cmd(struct phpc_ctx *ctx, const char *podman, const char *const *words,
                         struct phpc_strv *out)
{
	phpc_strv_add(out, podman);
	phpc_strv_extend(out, ctx->cli.globals.v);
	phpc_default_args(ctx->cfg, &ctx->cli, PHPC_KIND_OTHER, out);
	phpc_strv_extend(out, (char *const *)words);
}

char **phpc_ctx_podman_env(struct phpc_ctx *ctx, bool pmi_fd)
{
	char **env = phpc_podman_env(ctx->envp, phpc_cfg_str(ctx->cfg, PHPC_K_CONFIG_HOME), pmi_fd);
	if (!ctx->podman_env.n)
		return env;
	struct phpc_strv all = {0};
	phpc_strv_extend(&all, env);
	phpc_strv_extend(&all, ctx->podman_env.v);
	phpc_strv_free(env);
	return phpc_strv_steal(&all);
}

int phpc_ctx_podman_path(struct phpc_ctx *ctx, char **out, struct phpc_error **err)
{
	const char *bin = phpc_cfg_str(ctx->cfg, PHPC_K_PODMAN_BIN);
	*out = phpc_find_executable(bin, phpc_env_get(ctx->envp, "PATH"));
	if (!*out)
		return phpc_error_set(
		    err, ENOENT, "podman binary \"%s\" not found%s (podman_bin, set by %s)", bin,
		    strchr(bin, '/') ? "" : " on PATH", ctx->cfg->v[PHPC_K_PODMAN_BIN].source);
	return 0;
}

static phpc_cmd_fn dispatch(const struct phpc_cli *cli)
{
	if (cli->cmd.n == 0)
		return cli->version ? cmd_version : cmd_help;
	if (cli->help)
		return cmd_help;
	for (const struct phpc_command *c = phpc_commands; c->name; c++)
		if (streq(c->name, cli->cmd.v[0]))
			return c->fn;
	return cmd_podman;
}

int main(int argc, char **argv, char **envp)
{
	struct phpc_ctx ctx = {.argc = argc, .argv = argv, .envp = envp};
	_cleanup_error_ struct phpc_error *err = NULL;
	int rc;

	/* podman-hpc gives podman the caller's identity; it must never carry more. */
	if (getuid() != geteuid() || getgid() != getegid()) {
		fputs("Error: podman-hpc must not be installed setuid or setgid\n", stderr);
		return PHPC_EXIT_FAILURE;
	}
	rc = phpc_cli_parse(argc, argv, &ctx.cli, &err);
	if (rc >= 0)
		rc = dispatch(&ctx.cli)(&ctx, &err);
	if (rc < 0) {
		fflush(stdout);
		fprintf(stderr, "Error: %s\n", err ? err->msg : strerror(-rc));
		rc = PHPC_EXIT_FAILURE;
	}
	phpc_modules_clear(&ctx.mods);
	phpc_strv_clear(&ctx.podman_env);
	phpc_config_free(ctx.cfg);
	phpc_cli_clear(&ctx.cli);
	return rc;
}
