/* What an OCI prestart hook is given: the container's state on stdin and the
 * bundle's config.json. */
#ifndef PHPC_OCI_H
#define PHPC_OCI_H

#include "error.h"

#include <stdbool.h>
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
	/* what a process joining the container gets (podman exec semantics) */
	char *cwd;
	uid_t uid;
	gid_t gid;
	gid_t *groups; /* additionalGids */
	size_t ngroups;
	char **caps[5]; /* bounding, effective, inheritable, permitted, ambient: CAP_ names */
	bool no_new_privs;
};

int phpc_oci_state_parse(const char *json, struct phpc_oci_state *out, struct phpc_error **err);
void phpc_oci_state_clear(struct phpc_oci_state *s);
int phpc_oci_config_parse(const char *json, const char *bundle, struct phpc_oci_config *out,
                          struct phpc_error **err);
void phpc_oci_config_clear(struct phpc_oci_config *c);

#endif
