/* Parsing podman-hpc's command line and assembling podman's (docs/compat.md, "Command line").
 * Everything here is pure: no I/O, so unit tests pin the exact argv. */
#ifndef PHPC_CMDLINE_H
#define PHPC_CMDLINE_H

#include "config.h"
#include "error.h"
#include "modules.h"
#include "strv.h"

#include <stdbool.h>

/* Which default-argument group a podman command gets. */
enum phpc_cmd_kind {
	PHPC_KIND_OTHER,  /* only the common defaults */
	PHPC_KIND_RUN,    /* run, create */
	PHPC_KIND_BUILD,  /* build */
	PHPC_KIND_PULL,   /* pull, import, load: they unpack layers */
	PHPC_KIND_IMAGES, /* commands that list or read images */
	PHPC_KIND_EXEC,   /* exec */
	PHPC_KIND_START,  /* start, restart: the hook runs again */
};

/* The command line as the user typed it, parsed. */
struct phpc_cli {
	struct phpc_strv globals; /* podman's global flags given before the command */
	char *squash_dir;         /* --squash-dir */
	char *additional_stores;  /* --additional-stores */
	bool help;                /* podman-hpc --help */
	bool version;             /* podman-hpc --version */
	struct phpc_strv cmd;     /* the command path: "run", or "image" "ls" */
	struct phpc_strv args;    /* what follows the command path, module flags removed */
	enum phpc_cmd_kind kind;
	bool sub_help;      /* --help among run/build options (not the container's) */
	int image_idx;      /* run/create: index of the image in args, -1 if none */
	bool *module_flags; /* per module: its flag was given (phpc_cli_parse_modules) */
};

/* What podman-hpc gives podman for one command: the command (borrowed,
 * usually from the parsed command line: phpc_plan_init) and what podman-hpc
 * decided to add (owned: phpc_plan_clear). phpc_podman_argv reads nothing
 * else, so a caller can plan another command (shared-run's container) by
 * pointing a copy at other arguments. */
struct phpc_plan {
	char *const *globals; /* the user's podman global flags */
	char *const *cmd;     /* the command path */
	enum phpc_cmd_kind kind;
	char *const *args;

	bool *enabled;            /* per module, with dependencies; NULL: no modules */
	struct phpc_strv volumes; /* --volume arguments of the modules' bind rules, and
	                           * build's --runtime */
	bool hook_installed;      /* the hooks dir has our hook */
	char *hook_request;       /* the token of the hook's request (request.h), or NULL */
	bool pmi_fd;              /* podman gets PMI_FD as fd 3 (--preserve-fds 1) */
	struct phpc_strv env;     /* NAME=VALUE added to podman's environment */
	char *squash_view;        /* run: the node-local view of the image in the squash
	                           * store (storeview.h), podman's store instead of
	                           * squash_dir; NULL: squash_dir */
};

/* Splits argv into global flags, command path and the rest. */
int phpc_cli_parse(int argc, char *const *argv, struct phpc_cli *cli, struct phpc_error **err);

/* The value of a podman global flag the user gave ("--root X" or
 * "--root=X"; the last one wins, as in podman), or NULL. */
const char *phpc_cli_global(const struct phpc_cli *cli, const char *flag);

/* Whether the command takes module flags (run, create, build, shared-run). */
bool phpc_cli_takes_modules(const struct phpc_cli *cli);

/* For commands that take module flags: removes the module flags (whole words
 * only, and only among the options: never after the image or "--"), marks
 * them in module_flags, and finds --help and the image. */
void phpc_cli_parse_modules(struct phpc_cli *cli, const struct phpc_modules *mods);

void phpc_cli_clear(struct phpc_cli *cli);

/* A variable as the container will see it: the user's -e/--env NAME=VALUE
 * among the options first, then the caller's environment (envp). */
const char *phpc_cli_container_env(const struct phpc_cli *cli, char *const *envp, const char *name);

/* A plan for the command line as typed: its globals, command and arguments,
 * nothing added yet. */
void phpc_plan_init(struct phpc_plan *plan, const struct phpc_cli *cli);
void phpc_plan_clear(struct phpc_plan *plan);

/* The full podman argv: podman (a path), the user's global flags, the command
 * path, the default arguments of its kind, module arguments, the modules'
 * volumes, "--preserve-fds 1" when pmi_fd is set (run, exec), then the
 * command's arguments. A pure function of its inputs. */
char **phpc_podman_argv(const struct phpc_config *cfg, const struct phpc_modules *mods,
                        const struct phpc_plan *plan, const char *podman);

/* Appends the default arguments of a kind (nothing if use_default_args is off);
 * the plan's global flags win over ours. */
void phpc_default_args(const struct phpc_config *cfg, const struct phpc_plan *plan,
                       enum phpc_cmd_kind kind, struct phpc_strv *out);

/* The environment podman gets: the caller's, XDG_CONFIG_HOME=config_home,
 * no XDG_RUNTIME_DIR, and PMI_FD=3 when pmi_fd is set. */
char **phpc_podman_env(char *const *envp, const char *config_home, bool pmi_fd);

#endif
