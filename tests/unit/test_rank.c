/* The options of a rank's container (rank.h), from a launcher's variables. */
#include "testutil.h"

#include "rank.h"

#include <errno.h>

static bool all_exist(const char *dir)
{
	(void)dir;
	return true;
}

static bool none_exist(const char *dir)
{
	(void)dir;
	return false;
}

static void test_no_launcher(void **state)
{
	(void)state;
	char *env[] = {"HOME=/h", NULL};
	struct phpc_strv out = {0};
	struct phpc_error *err = NULL;
	assert_null(phpc_rank_launcher(env));
	assert_int_equal(phpc_rank_options(env, all_exist, &out, &err), -EINVAL);
	assert_non_null(strstr(err->msg, "no MPI launcher started this process"));
	assert_int_equal(out.n, 0);
	phpc_error_freep(&err);
}

/* Open MPI's mpirun: its session directory once (the PMIx server's and the
 * per-process ones lie below it), never /tmp itself; munge when present. */
static void test_open_mpi(void **state)
{
	(void)state;
	char *env[] = {"OMPI_COMM_WORLD_RANK=1",
	               "PMIX_RANK=1",
	               "PMIX_SERVER_TMPDIR=/tmp/ompi.n1.0/jf.1",
	               "OMPI_MCA_orte_top_session_dir=/tmp/ompi.n1.0",
	               "OMPI_MCA_orte_jobfam_session_dir=/tmp/ompi.n1.0/jf.1",
	               "OMPI_FILE_LOCATION=/tmp/ompi.n1.0/jf.1/0/1",
	               "PMIX_SYSTEM_TMPDIR=/tmp",
	               NULL};
	struct phpc_strv out = {0};
	struct phpc_error *err = NULL;
	assert_string_equal(phpc_rank_launcher(env), "Open MPI");
	assert_int_equal(phpc_rank_options(env, all_exist, &out, &err), 0);
	const char *want[] = {"--rm",       "--network=host",
	                      "--pid=host", "--ipc=host",
	                      "-v",         "/dev/shm:/dev/shm",
	                      "-v",         "/run/munge:/run/munge",
	                      "-e",         "UCX_POSIX_USE_PROC_LINK=n",
	                      "-e",         "OMPI_*",
	                      "-e",         "PMIX_*",
	                      "-e",         "PMI_*",
	                      "-e",         "MPI_LOCALRANKID",
	                      "-e",         "MPI_LOCALNRANKS",
	                      "-e",         "MPIR_CVAR_*",
	                      "-e",         "SLURM_*",
	                      "-e",         "PALS_*",
	                      "-v",         "/tmp/ompi.n1.0:/tmp/ompi.n1.0",
	                      NULL};
	assert_argv_equal(out.v, want);
	phpc_strv_clear(&out);
}

/* MPICH's hydra (PMI over a port), srun's PMI-2 (PMI_FD): no directory to
 * bind; missing directories, and paths podman's -v cannot carry, are left
 * out. */
static void test_pmi_and_missing_dirs(void **state)
{
	(void)state;
	char *hydra[] = {"PMI_RANK=0", "PMI_PORT=node1:4242", NULL};
	char *odd[] = {"PMI_FD=3", "PMIX_SERVER_TMPDIR=/var/spool/a:b", NULL};
	struct phpc_strv out = {0};
	struct phpc_error *err = NULL;
	assert_string_equal(phpc_rank_launcher(hydra), "PMI");
	assert_int_equal(phpc_rank_options(hydra, none_exist, &out, &err), 0);
	assert_false(phpc_strv_contains(out.v, "/run/munge:/run/munge"));
	for (size_t i = 0; i < out.n; i++)
		assert_false(streq(out.v[i], "-v") && !streq(out.v[i + 1], "/dev/shm:/dev/shm"));
	phpc_strv_clear(&out);
	assert_int_equal(phpc_rank_options(odd, all_exist, &out, &err), 0);
	assert_false(phpc_strv_contains(out.v, "/var/spool/a:b:/var/spool/a:b"));
	phpc_strv_clear(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_no_launcher),
	    cmocka_unit_test(test_open_mpi),
	    cmocka_unit_test(test_pmi_and_missing_dirs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
