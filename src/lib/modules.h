/* Site modules (docs/modules.md): modules_dir/NAME.yaml, each a flag of run/build
 * that adds podman arguments and tells the hook what to inject. */
#ifndef PHPC_MODULES_H
#define PHPC_MODULES_H

#include "error.h"
#include "rules.h"
#include "strv.h"

#include <stdbool.h>
#include <stddef.h>

struct phpc_module {
	char *file; /* path it was read from */
	char *name;
	char *cli_arg; /* the flag without "--"; NULL: the module has no flag */
	char *help;
	char *env; /* the variable set to 1 in the container; the hook keys on it */
	bool hidden;
	bool shared_run;
	char **additional_args; /* each item stays one argv element */
	char **bind;
	char **copy;
	char **depends_on;
	char **conflicts;
	char **requires; /* host paths (or globs) the module cannot work without */
};

struct phpc_modules {
	struct phpc_module *m;
	size_t n;
	struct phpc_strv warnings;
};

/* Parses one module file's text (file is used in messages and kept). */
int phpc_module_parse(const char *file, const char *buf, size_t len, struct phpc_module *out,
                      struct phpc_strv *warnings, struct phpc_error **err);
void phpc_module_clear(struct phpc_module *m);

/* Loads every *.yaml in dir, sorted by file name. A missing dir is no modules.
 * A malformed file, or two modules with the same name or flag, is an error. */
int phpc_modules_load(const char *dir, struct phpc_modules *out, struct phpc_error **err);
void phpc_modules_clear(struct phpc_modules *mods);

/* Index of the module whose flag is --flag (flag given without dashes), or -1. */
int phpc_modules_find_flag(const struct phpc_modules *mods, const char *flag, size_t len);
int phpc_modules_find_name(const struct phpc_modules *mods, const char *name);

/* Closes the enabled set over depends_on (adding a note per module it turns on)
 * and refuses conflicting modules with an error naming both flags. */
int phpc_modules_resolve(const struct phpc_modules *mods, bool *enabled, struct phpc_strv *notes,
                         struct phpc_error **err);

/* Appends the podman arguments of the enabled modules, in file order. */
void phpc_modules_args(const struct phpc_modules *mods, const bool *enabled,
                       struct phpc_strv *argv);

/* Turns the bind rules of the enabled modules into podman "--volume SRC:DST"
 * arguments (globs expanded on this host, where podman runs). Sources that
 * match nothing and rules that cannot apply are skipped with a note.  With copies_too, copy rules
 * become read-only volumes as well (for build, where no hook runs). */
int phpc_modules_bind_volumes(const struct phpc_modules *mods, const bool *enabled, bool copies_too,
                              const char *modules_dir, phpc_env_lookup_fn lookup, void *data,
                              struct phpc_strv *argv, struct phpc_strv *notes,
                              struct phpc_error **err);

/* The variables the copy and bind rules of the enabled modules refer to. */
void phpc_modules_rule_vars(const struct phpc_modules *mods, const bool *enabled,
                            struct phpc_strv *names);

/* What the enabled modules need of this node: each path of "requires" (a
 * glob: one match is enough), and a message queue file system at mqueue
 * (normally /dev/mqueue) for a module that runs with --ipc=host, which
 * podman cannot do without one. A missing piece is an error naming the
 * module, the piece and what to do. */
int phpc_modules_check_host(const struct phpc_modules *mods, const bool *enabled,
                            const char *mqueue, struct phpc_error **err);

/* Whether any enabled module asks for shared-run. */
bool phpc_modules_want_shared_run(const struct phpc_modules *mods, const bool *enabled);

#endif
