/* podman-hpc version / --version: ours, then podman's (NERSC #48). */
#include "commands.h"
#include "phpc-build.h"
#include "proc.h"
#include "util.h"

#include <errno.h>

static const struct phpc_opt opts[] = {
    {"format", 'f', "FORMAT",
     "podman's version --format (a Go template, or json): only podman's\n"
     "version, as podman prints it",
     false, false},
    {NULL, '\0', NULL, NULL, false, false},
};

const struct phpc_cmd_spec phpc_version_spec = {
    .name = "version",
    .usage = "[options]",
    .summary = "Print the versions of podman-hpc and podman",
    .description = "Prints podman-hpc's version, then podman's (podman --version).\n"
                   "podman-hpc --version does the same.",
    .example = "podman-hpc version\npodman-hpc version --format '{{.Client.Version}}'",
    .opts = opts,
};

int cmd_version(struct phpc_ctx *ctx, struct phpc_error **err)
{
	struct phpc_opt_result o;
	int r = phpc_cmd_parse(ctx, &phpc_version_spec, &o, err);
	if (r == 0 && o.pos.n > 0)
		r = phpc_error_set(
		    err, EINVAL, "version: unknown argument \"%s\" (see podman-hpc version --help)",
		    o.pos.v[0]);
	phpc_opt_result_clear(&o);
	if (r != 0)
		return r == PHPC_OPT_HELP ? 0 : r;
	r = phpc_ctx_load_config(ctx, err);
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
