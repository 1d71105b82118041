/* The podman-hpc program: one cmd_<name>.c per subcommand, dispatched by
 * main.c from its table; the steps they share are in ctx.c. */
#ifndef PHPC_COMMANDS_H
#define PHPC_COMMANDS_H

#include "ctx.h"
#include "opttable.h"

/* A command returns the exit code, or a negative errno with *err set. */
typedef int (*phpc_cmd_fn)(struct phpc_ctx *ctx, struct phpc_error **err);

struct phpc_command {
	const char *name;
	phpc_cmd_fn fn;
	/* Its options and help (the summary is listed by podman-hpc --help);
	 * NULL: not listed. */
	const struct phpc_cmd_spec *spec;
	/* Prints its help when that is not the spec's alone (podman's options,
	 * the site's module flags); NULL: phpc_cmd_help(spec). */
	phpc_cmd_fn help;
};

/* The option tables of podman-hpc's own commands (opttable.h). */
extern const struct phpc_cmd_spec phpc_infohpc_spec;
extern const struct phpc_cmd_spec phpc_version_spec;
extern const struct phpc_cmd_spec phpc_help_spec;
extern const struct phpc_cmd_spec phpc_configure_hooks_spec;
extern const struct phpc_cmd_spec phpc_doctor_spec;
extern const struct phpc_cmd_spec phpc_migrate_spec;
extern const struct phpc_cmd_spec phpc_rmsqi_spec;
extern const struct phpc_cmd_spec phpc_pull_spec;
extern const struct phpc_cmd_spec phpc_shared_run_spec;
extern const struct phpc_cmd_spec phpc_rank_spec;
extern const struct phpc_cmd_spec phpc_upload_spec;

int cmd_podman(struct phpc_ctx *ctx, struct phpc_error **err);
int cmd_infohpc(struct phpc_ctx *ctx, struct phpc_error **err);
int cmd_version(struct phpc_ctx *ctx, struct phpc_error **err);
int cmd_help(struct phpc_ctx *ctx, struct phpc_error **err);
int cmd_configure_hooks(struct phpc_ctx *ctx, struct phpc_error **err);
int cmd_doctor(struct phpc_ctx *ctx, struct phpc_error **err);
int cmd_migrate(struct phpc_ctx *ctx, struct phpc_error **err);
int cmd_rmsqi(struct phpc_ctx *ctx, struct phpc_error **err);
int cmd_pull(struct phpc_ctx *ctx, struct phpc_error **err);
int cmd_shared_run(struct phpc_ctx *ctx, struct phpc_error **err);
int cmd_rank(struct phpc_ctx *ctx, struct phpc_error **err);
int cmd_upload(struct phpc_ctx *ctx, struct phpc_error **err);
/* `podman-hpc run --help`: podman's help with the site's module flags added. */
int phpc_print_sub_help(struct phpc_ctx *ctx, struct phpc_error **err);
/* `podman-hpc pull --help`: podman's, and that podman-hpc then migrates. */
int phpc_print_pull_help(struct phpc_ctx *ctx, struct phpc_error **err);
/* `podman-hpc shared-run --help`: what it does, which run options apply to
 * the container and which to each task, and the site's module flags. */
int phpc_print_shared_run_help(struct phpc_ctx *ctx, struct phpc_error **err);
/* `podman-hpc rank --help`: what a rank's container gets, and the site's
 * module flags. */
int phpc_print_rank_help(struct phpc_ctx *ctx, struct phpc_error **err);
/* Prints a command's help, or parses its arguments by the spec's table:
 * returns PHPC_OPT_HELP after printing the help to stdout, 0, or -EINVAL. */
int phpc_cmd_parse(struct phpc_ctx *ctx, const struct phpc_cmd_spec *spec,
                   struct phpc_opt_result *res, struct phpc_error **err);

#endif
