/* What every command of the podman-hpc program shares: the parsed command
 * line, the site configuration and modules loaded once, the plan of podman's
 * arguments, and the steps that prepare them. Commands call these; these call
 * only the library (no command), so the program's files form no cycle. */
#ifndef PHPC_CTX_H
#define PHPC_CTX_H

#include "cmdline.h"
#include "config.h"
#include "error.h"
#include "modules.h"
#include "safedir.h"

#include <stdbool.h>

/* Our own failures exit with podman's "the tool failed" code. */
#define PHPC_EXIT_FAILURE 125

struct phpc_command;

struct phpc_ctx {
	int argc;
	char **argv;
	char **envp;
	const struct phpc_command *commands; /* the program's table, for help */
	struct phpc_cli cli;
	struct phpc_config *cfg;
	struct phpc_modules mods;
	struct phpc_plan plan; /* podman's arguments for the user's command */
	bool modules_parsed;
	bool modules_applied;
};

/* Frees what the context holds. */
void phpc_ctx_clear(struct phpc_ctx *ctx);

int phpc_ctx_load_config(struct phpc_ctx *ctx, struct phpc_error **err);
/* The same without printing the configuration's warnings: they stay in
 * ctx->cfg->warnings for a caller that reports them itself (doctor). */
int phpc_ctx_load_config_quiet(struct phpc_ctx *ctx, struct phpc_error **err);
int phpc_ctx_load_modules(struct phpc_ctx *ctx, struct phpc_error **err);
/* The podman binary as an executable path. */
int phpc_ctx_podman_path(struct phpc_ctx *ctx, char **out, struct phpc_error **err);
/* How the squash directory is checked (safedir.h): the user's own when it
 * is the default one, an image store others must not write otherwise. */
enum phpc_dir_kind phpc_ctx_squash_dir_kind(const struct phpc_config *cfg);
/* Creates graph_root, run_root and config_home (mode 0700) and refuses
 * them, or an image store, when another user could steer them (safedir.h). */
int phpc_ctx_check_dirs(struct phpc_ctx *ctx, struct phpc_error **err);
/* Writes the generated storage.conf/containers.conf when they changed and
 * initialises the squash store when the command reads it. Before any podman. */
int phpc_ctx_prepare_storage(struct phpc_ctx *ctx, struct phpc_error **err);
/* Loads the modules, takes their flags out of the arguments, resolves
 * dependencies and conflicts into ctx->plan.enabled. */
int phpc_ctx_parse_modules(struct phpc_ctx *ctx, struct phpc_error **err);
/* The same, then what podman needs for them in ctx->plan: the hook's
 * request and annotation, or volumes without the hook. */
int phpc_ctx_apply_modules(struct phpc_ctx *ctx, struct phpc_error **err);
/* podman, the user's global flags and the site's common defaults (podman
 * global flags too), then words: for the podman calls podman-hpc makes itself. */
void phpc_ctx_podman_cmd(struct phpc_ctx *ctx, const char *podman, const char *const *words,
                         struct phpc_strv *out);
/* The environment podman runs with (phpc_podman_env, and the plan's). */
char **phpc_ctx_podman_env(struct phpc_ctx *ctx, bool pmi_fd);
/* PMI_FD in podman-hpc's environment (a PMI-1/PMI-2 launcher's socket): moved
 * to fd 3 and left open across exec, *pmi set; podman then gets
 * --preserve-fds 1 and PMI_FD=3. Nothing to do without it. */
int phpc_ctx_pass_pmi_fd(struct phpc_ctx *ctx, bool *pmi, struct phpc_error **err);
/* "podman-hpc: warning: MSG" on stderr: something the user should fix or
 * know is not done (an ignored key, a missing hook, a fallback). MSG has no
 * "warning: " of its own. */
void phpc_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "podman-hpc: MSG" on stderr: what podman-hpc does besides podman's own
 * output (migrating an image, a module turned on as a dependency). */
void phpc_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
