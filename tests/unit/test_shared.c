#include "testutil.h"

#include "shared.h"

#include <errno.h>

static void test_ntasks(void **state)
{
	(void)state;
	struct {
		const char *v;
		int want;
	} c[] = {{NULL, 1}, {"", 1}, {"4", 4}, {"4(x2)", 4}, {"16,2(x3)", 16}, {"64", 64}};
	for (size_t i = 0; i < ARRAY_SIZE(c); i++) {
		int n = 0;
		assert_int_equal(phpc_shared_ntasks(c[i].v, "[0-9]+", &n, NULL), 0);
		assert_int_equal(n, c[i].want);
	}
	int n;
	struct phpc_error *err = NULL;
	assert_true(phpc_shared_ntasks("x", "[0-9]+", &n, &err) < 0);
	phpc_error_free(err);
	err = NULL;
	assert_true(phpc_shared_ntasks("4", "[", &n, &err) < 0);
	assert_non_null(strstr(err->msg, "ntasks_pattern"));
	phpc_error_free(err);
}

static void test_scale(void **state)
{
	(void)state;
	/* NERSC's scaling (NERSC #118): round(p(1+log2 n)/p)p */
	assert_true(phpc_shared_scale(10, 1) == 10);
	assert_true(phpc_shared_scale(10, 2) == 20);
	assert_true(phpc_shared_scale(10, 64) == 70);
	assert_true(phpc_shared_scale(0.2, 8) > 0.79 && phpc_shared_scale(0.2, 8) < 0.81);
	assert_true(phpc_shared_scale(10, 3) == 30); /* 1 + 1.58 rounds to 3 */
}

static void test_key(void **state)
{
	(void)state;
	char *slurm[] = {"SLURM_JOB_ID=42", "SLURM_STEP_ID=3", NULL};
	char *none[] = {NULL};
	_cleanup_free_ char *a = phpc_shared_key(slurm, 1000, 77);
	_cleanup_free_ char *b = phpc_shared_key(none, 1000, 77);
	assert_string_equal(a, "shared-1000-42.3");
	assert_string_equal(b, "shared-1000-p77");
}

static void test_split(void **state)
{
	(void)state;
	char *args[] = {"-it",   "--rm",       "-e",    "A=1",          "--env=B",   "-v",
	                "/a:/b", "-w",         "/work", "--entrypoint", "/bin/sh",   "--name",
	                "mine",  "--ipc=host", "-u",    "1000",         "--cap-add", "SYS_PTRACE",
	                "img",   "cmd",        NULL};
	struct phpc_shared_opts o;
	phpc_shared_split(args, 18, &o);
	const char *run[] = {"-e",         "A=1",       "--env=B",    "-v", "/a:/b",
	                     "--ipc=host", "--cap-add", "SYS_PTRACE", NULL};
	assert_argv_equal(o.run.v, run);
	const char *env[] = {"A=1", "B", NULL};
	assert_argv_equal(o.env.v, env);
	assert_string_equal(o.workdir, "/work");
	assert_string_equal(o.user, "1000");
	assert_string_equal(o.entrypoint, "/bin/sh");
	assert_true(o.tty);
	phpc_shared_opts_clear(&o);
}

static void test_task_env(void **state)
{
	(void)state;
	char *container[] = {"PATH=/usr/bin", "HOME=/root", "SLURM_PROCID=stale", NULL};
	char *exec_args[] = {"-e", "SLURM_*", "-e", "PMI_*", "--env=X=1", NULL};
	char *user[] = {" HOME=/home/me", "NOPE_UNSET", "Y", NULL};
	char *host[] = {"SLURM_PROCID=5", "SLURM_LOCALID=1", "PMI_FD=7", "Y=why", "OTHER=no", NULL};
	char **e = phpc_shared_task_env(container, exec_args, user, host);
	const char *want[] = {"PATH=/usr/bin", "HOME=/home/me", "SLURM_PROCID=5", "SLURM_LOCALID=1",
	                      "PMI_FD=7",      "X=1",           "Y=why",          NULL};
	assert_argv_equal(e, want);
	phpc_strv_free(e);
	assert_true(phpc_env_pattern_match("SLURM_*", "SLURM_X"));
	assert_false(phpc_env_pattern_match("SLURM_*", "XSLURM_"));
	assert_true(phpc_env_pattern_match("A", "A"));
	assert_false(phpc_env_pattern_match("A", "AB"));
}

static void test_wait_verdict(void **state)
{
	(void)state;
	enum phpc_shared_leader U = PHPC_LEADER_UNKNOWN, S = PHPC_LEADER_STARTING,
	                        G = PHPC_LEADER_GONE;
	struct {
		bool ready, failed;
		enum phpc_shared_leader leader;
		bool timed_out;
		enum phpc_shared_verdict want;
	} c[] = {
	    /* task 0 not there yet, or still starting: wait, up to the timeout */
	    {false, false, U, false, PHPC_WAIT_MORE},
	    {false, false, S, false, PHPC_WAIT_MORE},
	    {false, false, U, true, PHPC_WAIT_TIMEOUT},
	    {false, false, S, true, PHPC_WAIT_TIMEOUT},
	    /* its lock free and no file: it died (killed) without a word */
	    {false, false, G, false, PHPC_WAIT_LEADER_GONE},
	    {false, false, G, true, PHPC_WAIT_LEADER_GONE},
	    /* what it wrote wins over its lock, whatever the time */
	    {true, false, G, false, PHPC_WAIT_READY},
	    {true, false, S, true, PHPC_WAIT_READY},
	    {true, false, U, false, PHPC_WAIT_READY},
	    {false, true, G, false, PHPC_WAIT_FAILED},
	    {false, true, S, true, PHPC_WAIT_FAILED},
	    {true, true, G, false, PHPC_WAIT_FAILED},
	};
	for (size_t i = 0; i < ARRAY_SIZE(c); i++)
		assert_int_equal(
		    phpc_shared_wait_verdict(c[i].ready, c[i].failed, c[i].leader, c[i].timed_out),
		    c[i].want);
}

static void test_poll_wait(void **state)
{
	(void)state;
	/* before task 0's lock file exists: the scaled poll interval */
	assert_true(phpc_shared_poll_wait(10, 0.8, 0.05, PHPC_LEADER_UNKNOWN) == 0.8);
	/* once it does: often enough to see a killed task 0 at once */
	assert_true(phpc_shared_poll_wait(10, 0.8, 0.05, PHPC_LEADER_STARTING) == 0.05);
	assert_true(phpc_shared_poll_wait(10, 0.01, 0.05, PHPC_LEADER_STARTING) == 0.01);
	/* never past the deadline, never negative */
	assert_true(phpc_shared_poll_wait(0.3, 0.8, 0.05, PHPC_LEADER_UNKNOWN) == 0.3);
	assert_true(phpc_shared_poll_wait(0.01, 0.8, 0.05, PHPC_LEADER_STARTING) == 0.01);
	assert_true(phpc_shared_poll_wait(-1, 0.8, 0.05, PHPC_LEADER_UNKNOWN) == 0);
}

static void test_remove_on_leave(void **state)
{
	(void)state;
	/* all tasks came and went */
	assert_true(phpc_shared_remove_on_leave(4, 4, true));
	assert_true(phpc_shared_remove_on_leave(5, 4, true));
	/* the container is up and a task is still on its way: it joins */
	assert_false(phpc_shared_remove_on_leave(3, 4, true));
	/* no container (failed, task 0 died or never came): nothing to join */
	assert_true(phpc_shared_remove_on_leave(3, 4, false));
	assert_true(phpc_shared_remove_on_leave(1, 64, false));
	assert_true(phpc_shared_remove_on_leave(0, 1, false));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ntasks),    cmocka_unit_test(test_scale),
	    cmocka_unit_test(test_key),       cmocka_unit_test(test_split),
	    cmocka_unit_test(test_task_env),  cmocka_unit_test(test_wait_verdict),
	    cmocka_unit_test(test_poll_wait), cmocka_unit_test(test_remove_on_leave),
	};
	return cmocka_run_group_tests_name("shared", tests, NULL, NULL);
}
