/* Environment vectors (NULL-terminated arrays of "NAME=VALUE"). */
#ifndef PHPC_ENV_H
#define PHPC_ENV_H

/* Value of NAME in a NULL-terminated environment vector (which may be
 * NULL), or NULL. */
const char *phpc_env_get(char *const *envp, const char *name);

#endif
