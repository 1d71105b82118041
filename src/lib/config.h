/* Site configuration (docs/compat.md, "Site configuration"): built-in defaults < file template <
 * env template < file value < env value, with typed values and sources. */
#ifndef PHPC_CONFIG_H
#define PHPC_CONFIG_H

#include "error.h"
#include "strv.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum phpc_key {
	PHPC_K_PODMAN_BIN,
	PHPC_K_MOUNT_PROGRAM,
	PHPC_K_MODULES_DIR,
	PHPC_K_SHARED_RUN_EXEC_ARGS,
	PHPC_K_SHARED_RUN_COMMAND,
	PHPC_K_GRAPH_ROOT,
	PHPC_K_RUN_ROOT,
	PHPC_K_ADDITIONAL_STORES,
	PHPC_K_HOOKS_DIR,
	PHPC_K_LOCALID_VAR,
	PHPC_K_TASKS_PER_NODE_VAR,
	PHPC_K_NTASKS_PATTERN,
	PHPC_K_CONFIG_HOME,
	PHPC_K_MKSQUASHFS_BIN,
	PHPC_K_WAIT_TIMEOUT,
	PHPC_K_WAIT_POLL_INTERVAL,
	PHPC_K_USE_DEFAULT_ARGS,
	PHPC_K_SQUASH_COMPRESSION,
	PHPC_K_UPLOAD_REGISTRY,
	PHPC_K__COUNT
};

enum phpc_ktype {
	PHPC_T_STR,
	PHPC_T_LIST,
	PHPC_T_BOOL,
	PHPC_T_NUM,
};

struct phpc_value {
	char *str;    /* PHPC_T_STR */
	char **list;  /* PHPC_T_LIST, NULL-terminated, never NULL after loading */
	bool b;       /* PHPC_T_BOOL */
	double num;   /* PHPC_T_NUM */
	char *source; /* "default", "file: KEY", "env: NAME" */
};

struct phpc_config {
	struct phpc_value v[PHPC_K__COUNT];
	char *config_file; /* the file that was read, or NULL */
	char *squash_dir;
	char *squash_dir_source;
	/* additional_stores plus the global --additional-stores option */
	char **all_additional_stores;
	struct phpc_strv warnings; /* things worth telling the user once */
};

struct phpc_config_input {
	char *const *envp; /* the caller's environment */
	uid_t uid;
	const char *user;                  /* optional: looked up only when a template needs it */
	const char *squash_dir_opt;        /* --squash-dir, or NULL */
	const char *additional_stores_opt; /* --additional-stores, or NULL */
	/* config files tried in order when PODMANHPC_CONFIG_FILE is unset */
	const char *const *search_files;
	const char *default_mount_program;
	const char *default_modules_dir;
	const char *default_hooks_dir;
};

const char *phpc_key_name(enum phpc_key k);
enum phpc_ktype phpc_key_type(enum phpc_key k);
/* How messages name a setting, with where its value came from:
 * "run_root (env: PODMANHPC_RUN_ROOT)" (newly allocated). */
char *phpc_config_setting(const struct phpc_config *c, enum phpc_key k);
/* The name of uid: from NSS, else USER or LOGNAME in envp (a compute node
 * without the user in NSS, as NERSC does). Newly allocated in *out. */
int phpc_user_name(uid_t uid, char *const *envp, char **out, struct phpc_error **err);

/* Loads the configuration. On error nothing is returned and *err names the
 * file and line, or the environment variable, and the key. */
int phpc_config_load(const struct phpc_config_input *in, struct phpc_config **out,
                     struct phpc_error **err);
/* What phpc_config_load does once it has found and read the file: builds the
 * configuration from the text of the file called name (used in messages),
 * the environment and the options, without touching the file system (unless
 * a template uses {{ user }} and in->user is NULL). name NULL: there is no
 * file, and buf is ignored. */
int phpc_config_parse(const struct phpc_config_input *in, const char *name, const char *buf,
                      size_t len, struct phpc_config **out, struct phpc_error **err);
void phpc_config_free(struct phpc_config *c);

static inline const char *phpc_cfg_str(const struct phpc_config *c, enum phpc_key k)
{
	return c->v[k].str;
}
static inline char **phpc_cfg_list(const struct phpc_config *c, enum phpc_key k)
{
	return c->v[k].list;
}

/* Expands {{ uid }}, {{ user }} and {{ env.NAME }} in tmpl. user may be NULL:
 * it is then looked up from uid only if the template uses it. */
int phpc_template_expand(const char *tmpl, char *const *envp, uid_t uid, const char *user,
                         char **out, struct phpc_error **err);

#endif
