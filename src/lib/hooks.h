/* The hooks.d entry that makes podman run podman-hpc-hook. */
#ifndef PHPC_HOOKS_H
#define PHPC_HOOKS_H

#include "error.h"

#include <stdbool.h>

#define PHPC_HOOK_ANNOTATION "podman_hpc.hook_tool"
#define PHPC_HOOK_FILE       "02-hook_tool.json" /* NERSC's name, so ours replaces theirs */

/* The JSON text of the entry for the hook program at hook_path. */
char *phpc_hook_json(const char *hook_path);

/* Whether some *.json in dir is a hook gated on our annotation. */
bool phpc_hooks_dir_has_hook(const char *dir);

/* The same search: 1 with the first such file's path in *file and its text
 * in *text (each newly allocated; either may be NULL), 0 when none is, or a
 * negative errno when dir cannot be read. */
int phpc_hooks_dir_find_hook(const char *dir, char **file, char **text, struct phpc_error **err);

/* Writes dir/PHPC_HOOK_FILE (creating dir). An existing different file is
 * replaced only with force; *written says whether anything changed. */
int phpc_hook_install(const char *dir, const char *hook_path, bool force, bool *written,
                      struct phpc_error **err);

#endif
