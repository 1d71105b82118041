/* podman-hpc version / --version: ours, then podman's (NERSC #48). */
#include "commands.h"
#include "phpc-build.h"
#include "proc.h"
#include "util.h"

int cmd_version(struct phpc_ctx *ctx, struct phpc_error **err)
{
	int r = phpc_ctx_load_config(ctx, err);
	if (r < 0)
		return r;
	/* `version --format ...` output is parsed by scripts: leave it podman's. */
	if (ctx->cli.args.n > 0)
		return cmd_podman(ctx, err);
	_cleanup_free_ char *podman = NULL;
	r = phpc_ctx_podman_path(ctx, &podman, err);
	if (r < 0)
		return r;
	printf("podman-hpc version %s (compatible with NERSC podman-hpc %s)\n", PHPC_VERSION,
	       PHPC_NERSC_VERSION);
	fflush(stdout);
	char *argv[] = {podman, (char *)"--version", NULL};
	_cleanup_strvp_ char **env = phpc_ctx_podman_env(ctx, false);
	return phpc_exec(argv, env, err);
}
