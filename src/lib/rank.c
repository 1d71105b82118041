#include "rank.h"
#include "env.h"
#include "path.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>

const char *phpc_rank_launcher(char *const *envp)
{
	if (phpc_env_get(envp, "OMPI_COMM_WORLD_RANK"))
		return "Open MPI";
	if (phpc_env_get(envp, "PMIX_RANK"))
		return "PMIx";
	if (phpc_env_get(envp, "PMI_RANK") || phpc_env_get(envp, "PMI_FD") ||
	    phpc_env_get(envp, "PMI_ID"))
		return "PMI";
	return NULL;
}

/* The launchers' variables, by podman's -e name patterns (each rank's own
 * values): Open MPI's and PMIx's, PMI-1/PMI-2's (srun --mpi=pmi2, MPICH's
 * hydra: PMI_PORT, PMI_ID, PMI_RANK, PMI_SIZE), hydra's local rank, MPICH's
 * tuning, and the scheduler's. */
static const char *const env_patterns[] = {
    "OMPI_*",  "PMIX_*", "PMI_*", "MPI_LOCALRANKID", "MPI_LOCALNRANKS", "MPIR_CVAR_*",
    "SLURM_*", "PALS_*", NULL,
};

/* Directories the rank must see at the same path: the PMIx server's (its
 * rendezvous files and shared-memory data store) and Open MPI's session
 * directory (under the node's /tmp, with its shared-memory backing files). */
static const char *const dir_vars[] = {
    "PMIX_SERVER_TMPDIR",
    "OMPI_MCA_orte_top_session_dir",
    "OMPI_MCA_orte_jobfam_session_dir",
    "OMPI_FILE_LOCATION",
    NULL,
};

/* Too wide to bind for a rank: the container would get the node's whole
 * temporary or system directory. */
static bool too_wide(const char *dir)
{
	static const char *const wide[] = {"/",    "/tmp",  "/var", "/var/tmp", "/dev", "/dev/shm",
	                                   "/run", "/home", "/usr", "/etc",     NULL};
	return phpc_strv_contains((char *const *)wide, dir);
}

/* Whether dir is sub itself or below it. */
static bool within(const char *dir, const char *sub)
{
	size_t n = strlen(sub);
	return strncmp(dir, sub, n) == 0 && (dir[n] == '\0' || dir[n] == '/');
}

int phpc_rank_options(char *const *envp, bool (*exists)(const char *dir), struct phpc_strv *out,
                      struct phpc_error **err)
{
	if (!phpc_rank_launcher(envp))
		return phpc_error_set(err, EINVAL,
		                      "rank: no MPI launcher started this process (none of "
		                      "OMPI_COMM_WORLD_RANK, PMIX_RANK, PMI_RANK, PMI_FD is set): "
		                      "run it under one, e.g. 'mpirun -n 4 podman-hpc rank IMAGE "
		                      "COMMAND' (for srun, 'podman-hpc run' with the site's MPI "
		                      "module does the same)");
	static const char *const fixed[] = {"--rm", "--network=host",    "--pid=host", "--ipc=host",
	                                    "-v",   "/dev/shm:/dev/shm", NULL};
	phpc_strv_extend(out, (char *const *)fixed);
	if (exists("/run/munge")) {
		phpc_strv_add(out, "-v");
		phpc_strv_add(out, "/run/munge:/run/munge");
	}
	/* UCX (MPICH's transport) opens a peer's shared memory through
	 * /proc/PID/fd, which another container cannot read: named segments
	 * instead (the user's own -e, coming later, wins) */
	phpc_strv_add(out, "-e");
	phpc_strv_add(out, "UCX_POSIX_USE_PROC_LINK=n");
	for (const char *const *p = env_patterns; *p; p++) {
		phpc_strv_add(out, "-e");
		phpc_strv_add(out, *p);
	}
	struct phpc_strv dirs = {0};
	for (const char *const *v = dir_vars; *v; v++) {
		const char *val = phpc_env_get(envp, *v);
		if (!val || val[0] != '/')
			continue;
		_cleanup_free_ char *d = phpc_path_normalize(val);
		/* ':' and ',' would split podman's -v value */
		if (too_wide(d) || strpbrk(d, ":,") || !exists(d) || phpc_strv_contains(dirs.v, d))
			continue;
		phpc_strv_add(&dirs, d);
	}
	/* one bind for a directory and what lies below it */
	for (size_t i = 0; i < dirs.n; i++) {
		bool covered = false;
		for (size_t j = 0; j < dirs.n && !covered; j++)
			covered = j != i && within(dirs.v[i], dirs.v[j]);
		if (covered)
			continue;
		phpc_strv_add(out, "-v");
		phpc_strv_addf(out, "%s:%s", dirs.v[i], dirs.v[i]);
	}
	phpc_strv_clear(&dirs);
	return 0;
}
