/* Modules on `podman-hpc build` leave nothing in the image.
 *
 * On build the modules' files reach RUN steps as podman --volume mounts
 * (buildah runs no OCI hooks of ours, and the hook's annotation or --env
 * would be stored in the image). The OCI runtime creates each mount point it
 * lacks in the step's root file system, and buildah 1.28 commits those empty
 * files and directories into the layer: an empty libcuda.so.1 in an image
 * makes every later run without --gpu fail to load the real one.
 * podman-hpc-build-runtime sits between buildah and the real runtime: at
 * `create` it records, for each module mount, the first component of its
 * destination that the root lacks; after `delete` (before buildah commits)
 * it removes those mount points and the directories made for them, as long
 * as they are empty. See docs/security.md, "Modules on build". */
#ifndef PHPC_BUILDMNT_H
#define PHPC_BUILDMNT_H

#include "error.h"
#include "strv.h"

/* Environment podman-hpc gives the wrapper (through podman and buildah). */
#define PHPC_BUILD_ENV_RUNTIME "PODMANHPC_BUILD_RUNTIME" /* the real runtime */
#define PHPC_BUILD_ENV_STATE   "PODMANHPC_BUILD_STATE"   /* private record directory */
#define PHPC_BUILD_ENV_MOUNTS  "PODMANHPC_BUILD_MOUNTS"  /* destinations, ':'-separated */

/* What a runtime invocation is: its subcommand, and for create and delete
 * the bundle (create only) and the container id. */
struct phpc_runtime_call {
	const char *sub;
	const char *bundle;
	const char *id;
};

/* Parses an OCI runtime command line (runc/crun global options, then the
 * subcommand and its options); out points into argv. Pure. A line without a
 * subcommand (runc --version) is no container's call: 0, out->sub NULL.
 * -EINVAL, with *err saying why, when a create or delete has no container id
 * or one that is not a plain file name (the id names the wrapper's record
 * file); out->sub is set even then. */
int phpc_runtime_call_parse(int argc, char *const *argv, struct phpc_runtime_call *out,
                            struct phpc_error **err);

/* The first component of dest (normalised) that does not exist inside
 * rootfd, or NULL in *out when dest exists. */
int phpc_buildmnt_first_missing(int rootfd, const char *dest, char **out, struct phpc_error **err);

/* Removes, inside rootfd, the mount point dest if it is an empty regular
 * file or an empty directory, then each of its parent directories up to and
 * including first (the first component the root lacked) while they are
 * empty. Nothing else is touched: a directory the RUN step put files in
 * stays, -ENOTEMPTY with *err saying so. */
int phpc_buildmnt_remove(int rootfd, const char *first, const char *dest, struct phpc_error **err);

#endif
