/* podman-hpc configure-hooks [--hooksd DIR] [--force]: writes the hooks.d
 * entry that makes podman run podman-hpc-hook for containers that carry
 * podman-hpc's annotation (NERSC: python -m podman_hpc.configure_hooks). */
#include "commands.h"
#include "hooks.h"
#include "phpc-build.h"
#include "util.h"

#include <errno.h>

static const struct phpc_opt opts[] = {
    {"hooksd", '\0', "DIR", "the hooks.d directory to write to (default: the site's hooks_dir)",
     false, false},
    {"force", 'f', NULL, "replace an existing entry that differs", false, false},
    {NULL, '\0', NULL, NULL, false, false},
};

const struct phpc_cmd_spec phpc_configure_hooks_spec = {
    .name = "configure-hooks",
    .usage = "[options]",
    .summary = "Install the hooks.d entry of podman-hpc's OCI hook",
    .description = "Writes " PHPC_HOOK_FILE ", which makes podman run podman-hpc-hook for\n"
                   "the containers that podman-hpc starts with site modules. An existing\n"
                   "entry that differs is replaced only with --force. For site admins.",
    .example = "podman-hpc configure-hooks\n"
               "podman-hpc configure-hooks --hooksd /etc/containers/oci/hooks.d --force",
    .opts = opts,
};

int cmd_configure_hooks(struct phpc_ctx *ctx, struct phpc_error **err)
{
	const struct phpc_cmd_spec *spec = &phpc_configure_hooks_spec;
	struct phpc_opt_result o;
	int r = phpc_cmd_parse(ctx, spec, &o, err);
	if (r == 0 && o.pos.n > 0)
		r = phpc_error_set(err, EINVAL,
		                   "configure-hooks: unknown argument \"%s\" (see podman-hpc "
		                   "configure-hooks --help)",
		                   o.pos.v[0]);
	if (r == 0)
		r = phpc_ctx_load_config(ctx, err);
	if (r != 0) {
		phpc_opt_result_clear(&o);
		return r == PHPC_OPT_HELP ? 0 : r;
	}
	const char *dir = phpc_opt_get(spec, &o, "hooksd");
	if (!dir)
		dir = phpc_cfg_str(ctx->cfg, PHPC_K_HOOKS_DIR);
	bool written = false;
	r = phpc_hook_install(dir, PHPC_BINDIR "/podman-hpc-hook",
	                      phpc_opt_given(spec, &o, "force"), &written, err);
	if (r == 0)
		printf("%s %s/%s\n", written ? "wrote" : "already configured:", dir,
		       PHPC_HOOK_FILE);
	phpc_opt_result_clear(&o);
	return r;
}
