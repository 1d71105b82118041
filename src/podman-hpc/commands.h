/* The podman-hpc program: one cmd_<name>.c per subcommand, dispatched by main.c. */
#ifndef PHPC_COMMANDS_H
#define PHPC_COMMANDS_H

#include "cmdline.h"
#include "config.h"
#include "error.h"
#include "modules.h"

#include <stdbool.h>

/* Our own failures exit with podman's "the tool failed" code. */
#define PHPC_EXIT_FAILURE 125

struct phpc_ctx {
	int argc;
	char **argv;
	char **envp;
	struct phpc_cli cli;
	struct phpc_config *cfg;
	struct phpc_modules mods;
	bool modules_parsed;
	bool modules_applied;
	struct phpc_strv podman_env; /* NAME=VALUE podman-hpc adds to podman's environment */
};

/* A command returns the exit code, or a negative errno with *err set. */
typedef int (*phpc_cmd_fn)(struct phpc_ctx *ctx, struct phpc_error **err);

struct phpc_command {
	const char *name;
	phpc_cmd_fn fn;
	const char *summary; /* for --help; NULL: not listed */
};

extern const struct phpc_command phpc_commands[];

int phpc_ctx_load_config(struct phpc_ctx *ctx, struct phpc_error **err);
int phpc_ctx_load_modules(struct phpc_ctx *ctx, struct phpc_error **err);
/* The podman binary as an executable path. */
int phpc_ctx_podman_path(struct phpc_ctx *ctx, char **out, struct phpc_error **err);
/* Creates graph_root, run_root and config_home (mode 0700) and refuses
 * them, or an image store, when another user could steer them (safedir.h). */
int phpc_ctx_check_dirs(struct phpc_ctx *ctx, struct phpc_error **err);
/* Writes the generated storage.conf/containers.conf when they changed and
 * initialises the squash store when the command reads it. Before any podman. */
int phpc_ctx_prepare_storage(struct phpc_ctx *ctx, struct phpc_error **err);
/* Loads the modules, takes their flags out of the arguments, resolves
 * dependencies and conflicts. */
int phpc_ctx_parse_modules(struct phpc_ctx *ctx, struct phpc_error **err);
/* The same, then what podman needs for them: the hook's annotation and the
 * user's values of rule variables, or volumes without the hook. */
int phpc_ctx_apply_modules(struct phpc_ctx *ctx, struct phpc_error **err);
/* podman, the user's global flags and the site's common defaults (podman
 * global flags too), then words: for the podman calls podman-hpc makes itself. */
void phpc_ctx_podman_cmd(struct phpc_ctx *ctx, const char *podman, const char *const *words,
                         struct phpc_strv *out);
/* The environment podman runs with (see phpc_podman_env). */
char **phpc_ctx_podman_env(struct phpc_ctx *ctx, bool pmi_fd);
void phpc_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

int cmd_podman(struct phpc_ctx *ctx, struct phpc_error **err);
int cmd_infohpc(struct phpc_ctx *ctx, struct phpc_error **err);
int cmd_version(struct phpc_ctx *ctx, struct phpc_error **err);
int cmd_help(struct phpc_ctx *ctx, struct phpc_error **err);
int cmd_configure_hooks(struct phpc_ctx *ctx, struct phpc_error **err);
int cmd_migrate(struct phpc_ctx *ctx, struct phpc_error **err);
int cmd_rmsqi(struct phpc_ctx *ctx, struct phpc_error **err);
int cmd_pull(struct phpc_ctx *ctx, struct phpc_error **err);
int cmd_shared_run(struct phpc_ctx *ctx, struct phpc_error **err);
/* `podman-hpc run --help`: podman's help with the site's module flags added. */
int phpc_print_sub_help(struct phpc_ctx *ctx, struct phpc_error **err);

#endif
