/* podman-hpc configure-hooks [--hooksd DIR] [--force]: writes the hooks.d
 * entry that makes podman run podman-hpc-hook for containers that carry
 * podman-hpc's annotation (NERSC: python -m podman_hpc.configure_hooks). */
#include "commands.h"
#include "hooks.h"
#include "phpc-build.h"
#include "util.h"

#include <errno.h>

struct opts {
	char *hooksd;
	bool force;
};

static int parse(struct phpc_ctx *ctx, struct opts *o, struct phpc_error **err)
{
	char **a = ctx->cli.args.v;
	for (size_t i = 0; i < ctx->cli.args.n; i++) {
		if (streq(a[i], "--force") || streq(a[i], "-f")) {
			o->force = true;
		} else if (streq(a[i], "--hooksd") && i + 1 < ctx->cli.args.n) {
			free(o->hooksd);
			o->hooksd = phpc_xstrdup(a[++i]);
		} else if (str_has_prefix(a[i], "--hooksd=")) {
			free(o->hooksd);
			o->hooksd = phpc_xstrdup(a[i] + 9);
		} else {
			return phpc_error_set(
			    err, EINVAL,
			    "configure-hooks: unknown argument \"%s\" (usage: "
			    "podman-hpc configure-hooks [--hooksd DIR] [--force])",
			    a[i]);
		}
	}
	return 0;
}

int cmd_configure_hooks(struct phpc_ctx *ctx, struct phpc_error **err)
{
	struct opts o = {0};
	int r = parse(ctx, &o, err);
	if (r == 0)
		r = phpc_ctx_load_config(ctx, err);
	if (r < 0) {
		free(o.hooksd);
		return r;
	}
	const char *dir = o.hooksd ? o.hooksd : phpc_cfg_str(ctx->cfg, PHPC_K_HOOKS_DIR);
	bool written = false;
	r = phpc_hook_install(dir, PHPC_BINDIR "/podman-hpc-hook", o.force, &written, err);
	if (r == 0)
		printf("%s %s/%s\n", written ? "wrote" : "already configured:", dir,
		       PHPC_HOOK_FILE);
	free(o.hooksd);
	return r;
}
