/* The job service's record of jobs (src/jobd/jobdb.h): what a POST commits
 * is there after the process dies without closing the database. */
#include "testutil.h"

#include "jobdb.h"

#include <errno.h>
#include <sys/wait.h>

static char *db_path(void)
{
	char tmpl[] = "/tmp/phpc-unit-XXXXXX";
	char *dir = mkdtemp(tmpl);
	assert_non_null(dir);
	return phpc_xasprintf("%s/jobs.db", dir);
}

static struct jobd_job job(const char *jid)
{
	return (struct jobd_job){.jid = (char *)jid,
	                         .spec = (char *)"{}",
	                         .image = (char *)"img",
	                         .cmd = (char *)"true /share/outgoing"};
}

static void test_lifecycle(void **state)
{
	(void)state;
	_cleanup_free_ char *path = db_path();
	struct jobdb *db = NULL;
	assert_int_equal(jobdb_open(path, &db, NULL), 0);
	struct jobd_job a = job("a"), b = job("b");
	assert_int_equal(jobdb_insert(db, &a, NULL), 0);
	assert_int_equal(jobdb_insert(db, &b, NULL), 0);
	assert_int_equal(jobdb_insert(db, &a, NULL), -EEXIST);
	assert_int_equal(jobdb_count(db), 2);
	struct jobd_job got = {0};
	assert_int_equal(jobdb_get(db, "a", &got, NULL), 0);
	assert_int_equal(got.phase, JOBD_ACCEPTED);
	assert_string_equal(got.cmd, "true /share/outgoing");
	assert_null(got.backend_id);
	jobd_job_clear(&got);
	assert_int_equal(jobdb_get(db, "zz", &got, NULL), -ENOENT);
	char **acc = NULL;
	assert_int_equal(jobdb_list_phase(db, JOBD_ACCEPTED, &acc, NULL), 0);
	const char *want[] = {"a", "b", NULL};
	assert_argv_equal(acc, want);
	phpc_strv_free(acc);
	/* started once: a second start of the same job is refused */
	assert_int_equal(jobdb_set_submitted(db, "a", "cid", NULL), 0);
	assert_int_equal(jobdb_set_submitted(db, "a", "cid2", NULL), -ENOENT);
	assert_int_equal(jobdb_set_submitted(db, "gone", "x", NULL), -ENOENT);
	assert_int_equal(
	    jobdb_set_final(db, "a", "finishedSuccessfully", "exited", "t", "logs\n", NULL), 0);
	assert_int_equal(jobdb_get(db, "a", &got, NULL), 0);
	assert_int_equal(got.phase, JOBD_FINAL);
	assert_string_equal(got.backend_id, "cid");
	assert_string_equal(got.logs, "logs\n");
	jobd_job_clear(&got);
	assert_int_equal(jobdb_delete(db, "a", NULL), 0);
	assert_int_equal(jobdb_delete(db, "a", NULL), -ENOENT);
	assert_int_equal(jobdb_count(db), 1);
	jobdb_close(db);
}

static void test_survives_a_killed_writer(void **state)
{
	(void)state;
	_cleanup_free_ char *path = db_path();
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct jobdb *db = NULL;
		if (jobdb_open(path, &db, NULL) < 0)
			_exit(1);
		for (int i = 0; i < 50; i++) {
			_cleanup_free_ char *jid = phpc_xasprintf("j%d", i);
			struct jobd_job j = job(jid);
			if (jobdb_insert(db, &j, NULL) < 0)
				_exit(2);
		}
		/* as kill -9 would: no close, no checkpoint */
		raise(SIGKILL);
		_exit(3);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	assert_true(WIFSIGNALED(st));
	struct jobdb *db = NULL;
	assert_int_equal(jobdb_open(path, &db, NULL), 0);
	assert_int_equal(jobdb_count(db), 50);
	struct jobd_job got = {0};
	assert_int_equal(jobdb_get(db, "j49", &got, NULL), 0);
	jobd_job_clear(&got);
	jobdb_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lifecycle),
	    cmocka_unit_test(test_survives_a_killed_writer),
	};
	return cmocka_run_group_tests_name("jobdb", tests, NULL, NULL);
}
