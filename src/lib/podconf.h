/* The storage.conf and containers.conf podman-hpc writes into
 * config_home/containers/, so that podman run by other tools with
 * XDG_CONFIG_HOME=config_home (podman unshare, buildah) sees the same stores. */
#ifndef PHPC_PODCONF_H
#define PHPC_PODCONF_H

#include "config.h"
#include "error.h"

#include <stdbool.h>

/* Appends s as a TOML basic string (quoted, escaped) to a malloc'd buffer. */
void phpc_toml_append_string(char **buf, size_t *len, const char *s);

/* The files' text, a pure function of the configuration. */
char *phpc_storage_conf_text(const struct phpc_config *cfg);
char *phpc_containers_conf_text(const struct phpc_config *cfg);

/* Writes both files into config_home/containers when their content changed
 * (a read and compare otherwise: no write on the hot path). The directory
 * must belong to the caller. */
int phpc_podconf_update(const struct phpc_config *cfg, bool *changed, struct phpc_error **err);

#endif
