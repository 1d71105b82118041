/* podman-hpc rank [run options] IMAGE COMMAND...: one container per MPI rank,
 * for a launcher that starts one process per rank (mpirun, mpiexec): the
 * options a rank's container needs (rank.h) put before the user's, then
 * podman-hpc run. */
#include "commands.h"
#include "rank.h"
#include "util.h"

#include <errno.h>
#include <sys/stat.h>

static bool dir_exists(const char *dir)
{
	struct stat st;
	return stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
}

int cmd_rank(struct phpc_ctx *ctx, struct phpc_error **err)
{
	int r = phpc_ctx_load_config(ctx, err);
	if (r == 0)
		r = phpc_ctx_parse_modules(ctx, err);
	if (r < 0)
		return r;
	if (ctx->cli.sub_help)
		return phpc_print_rank_help(ctx, err);
	if (ctx->cli.image_idx < 0)
		return phpc_error_set(err, EINVAL,
		                      "rank: which image? (podman-hpc rank [run options] IMAGE "
		                      "COMMAND...)");
	struct phpc_strv args = {0};
	r = phpc_rank_options(ctx->envp, dir_exists, &args, err);
	if (r < 0) {
		phpc_strv_clear(&args);
		return r;
	}
	/* it is a podman-hpc run with these options first: the user's own
	 * come after them and win where podman lets the last one win */
	int shift = (int)args.n;
	phpc_strv_extend(&args, ctx->cli.args.v);
	phpc_strv_clear(&ctx->cli.args);
	ctx->cli.args = args;
	ctx->cli.image_idx += shift;
	phpc_strv_clear(&ctx->cli.cmd);
	phpc_strv_add(&ctx->cli.cmd, "run");
	ctx->plan.args = ctx->cli.args.v;
	ctx->plan.cmd = ctx->cli.cmd.v;
	return cmd_podman(ctx, err);
}
