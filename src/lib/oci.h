/* What an OCI prestart hook is given: the container's state on stdin and the
 * bundle's config.json. */
#ifndef PHPC_OCI_H
#define PHPC_OCI_H

#include "error.h"

#include <sys/types.h>

struct phpc_oci_state {
	pid_t pid;
	char *id;
	char *bundle;
};

struct phpc_oci_config {
	char *root_path;    /* absolute (a relative root.path is resolved against the bundle) */
	char **env;         /* process.env, NAME=VALUE */
	char **annotations; /* KEY=VALUE */
};

int phpc_oci_state_parse(const char *json, struct phpc_oci_state *out, struct phpc_error **err);
void phpc_oci_state_clear(struct phpc_oci_state *s);
int phpc_oci_config_parse(const char *json, const char *bundle, struct phpc_oci_config *out,
                          struct phpc_error **err);
void phpc_oci_config_clear(struct phpc_oci_config *c);

#endif
