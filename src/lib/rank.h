/* One container per MPI rank, started by an MPI launcher (Open MPI's mpirun
 * or prterun, MPICH's mpiexec, srun): `mpirun -n 8 podman-hpc rank IMAGE
 * ./app`. What the rank's container needs to reach its launcher and its
 * neighbours is read from the launcher's environment (docs/mpi.md).
 *
 * Ranks of one node share a user namespace (rootless podman's own, as every
 * container of the user without --userns) and the node's IPC namespace, so
 * shared memory and single-copy transfers (CMA) work between them; with
 * --userns=keep-id each container would get a user namespace of its own and
 * lose CMA. The PMIx server authenticates ranks through munge, whose socket
 * is bound in: inside the container the rank's uid is 0, which the "native"
 * method would send as is. */
#ifndef PHPC_RANK_H
#define PHPC_RANK_H

#include "error.h"
#include "strv.h"

#include <stdbool.h>

/* Which launcher started this process, from its environment: "Open MPI"
 * (OMPI_COMM_WORLD_RANK), "PMIx" (PMIX_RANK), "PMI" (PMI_RANK, PMI_FD or
 * PMI_ID), or NULL when none did. */
const char *phpc_rank_launcher(char *const *envp);

/* The podman run options of a rank's container, appended to out: --rm, the
 * host's network, pid and IPC namespaces, /dev/shm, the munge socket when
 * the host has one (exists: a predicate, for tests), the launcher's
 * variables by name patterns, and a bind of each directory its variables
 * name that the rank must reach (the PMIx server's, Open MPI's session
 * directory). An error when no launcher started this process. */
int phpc_rank_options(char *const *envp, bool (*exists)(const char *dir), struct phpc_strv *out,
                      struct phpc_error **err);

#endif
