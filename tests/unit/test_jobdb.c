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
	/* each job its own directories, as pfcon makes them */
	static char in[64], out[64];
	snprintf(in, sizeof(in), "key-%s/incoming", jid);
	snprintf(out, sizeof(out), "key-%s/outgoing", jid);
	return (struct jobd_job){.jid = (char *)jid,
	                         .spec = (char *)"{}",
	                         .image = (char *)"img",
	                         .cmd = (char *)"true /share/outgoing",
	                         .input_dir = phpc_xstrdup(in),
	                         .output_dir = phpc_xstrdup(out)};
}

static void job_free_dirs(struct jobd_job *j)
{
	free(j->input_dir);
	free(j->output_dir);
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
	assert_true(b.id > a.id);
	struct jobd_job a2 = job("a");
	assert_int_equal(jobdb_insert(db, &a2, NULL), -EEXIST);
	job_free_dirs(&a2);
	assert_int_equal(jobdb_count(db), 2);
	struct jobd_job got = {0};
	assert_int_equal(jobdb_get(db, "a", &got, NULL), 0);
	assert_int_equal(got.phase, JOBD_ACCEPTED);
	assert_int_equal(got.id, a.id);
	assert_string_equal(got.cmd, "true /share/outgoing");
	assert_string_equal(got.output_dir, "key-a/outgoing");
	assert_null(got.backend_id);
	jobd_job_clear(&got);
	assert_int_equal(jobdb_get(db, "zz", &got, NULL), -ENOENT);
	long long *ids = NULL;
	size_t n = 0;
	assert_int_equal(jobdb_list_phase(db, JOBD_ACCEPTED, &ids, &n, NULL), 0);
	assert_int_equal(n, 2);
	assert_int_equal(ids[0], a.id);
	assert_int_equal(ids[1], b.id);
	free(ids);
	/* started once: a second start of the same job is refused */
	assert_int_equal(jobdb_set_submitted(db, a.id, "cid", NULL), 0);
	assert_int_equal(jobdb_set_submitted(db, a.id, "cid2", NULL), -EALREADY);
	assert_int_equal(jobdb_set_submitted(db, 999, "x", NULL), -ENOENT);
	assert_int_equal(
	    jobdb_set_final(db, a.id, "finishedSuccessfully", "exited", "t", "logs\n", NULL), 0);
	assert_int_equal(jobdb_get_id(db, a.id, &got, NULL), 0);
	assert_int_equal(got.phase, JOBD_FINAL);
	assert_string_equal(got.backend_id, "cid");
	assert_string_equal(got.logs, "logs\n");
	jobd_job_clear(&got);
	/* deleted only in the phase the caller saw */
	assert_int_equal(jobdb_delete(db, a.id, JOBD_ACCEPTED, NULL), -EAGAIN);
	assert_int_equal(jobdb_delete(db, a.id, JOBD_FINAL, NULL), 0);
	assert_int_equal(jobdb_delete(db, a.id, JOBD_FINAL, NULL), -ENOENT);
	assert_int_equal(jobdb_count(db), 1);
	/* a jid used again gets a new id: nothing of the old job is its */
	struct jobd_job a3 = job("a");
	assert_int_equal(jobdb_insert(db, &a3, NULL), 0);
	assert_true(a3.id > b.id);
	assert_int_equal(jobdb_set_submitted(db, a.id, "old", NULL), -ENOENT);
	job_free_dirs(&a3);
	job_free_dirs(&a);
	job_free_dirs(&b);
	jobdb_close(db);
}

static void test_output_dirs_do_not_nest(void **state)
{
	(void)state;
	_cleanup_free_ char *path = db_path();
	struct jobdb *db = NULL;
	assert_int_equal(jobdb_open(path, &db, NULL), 0);
	struct jobd_job a = {.jid = (char *)"a",
	                     .spec = (char *)"{}",
	                     .image = (char *)"i",
	                     .cmd = (char *)"c",
	                     .input_dir = (char *)"d/in",
	                     .output_dir = (char *)"e"};
	assert_int_equal(jobdb_insert(db, &a, NULL), 0);
	struct {
		const char *in, *out;
		int want;
	} cases[] = {
	    {"e/x", "o1", -EBUSY}, /* input inside a's output */
	    {"i2", "e/x", -EBUSY}, /* output inside a's output */
	    {"i3", "ex", 0},       /* a name that only starts alike */
	    {"e", "o4", 0},        /* reading a's output directory itself */
	    {"i5", "d", -EBUSY},   /* a's input inside the new output */
	    {"i6", "d/in", 0},     /* writing where a reads: a's path is not below it */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		_cleanup_free_ char *jid = phpc_xasprintf("n%zu", i);
		struct jobd_job j = {.jid = jid,
		                     .spec = (char *)"{}",
		                     .image = (char *)"i",
		                     .cmd = (char *)"c",
		                     .input_dir = (char *)cases[i].in,
		                     .output_dir = (char *)cases[i].out};
		struct phpc_error *err = NULL;
		int r = jobdb_insert(db, &j, &err);
		if (r != cases[i].want)
			fail_msg("%s -> %s: got %d", cases[i].in, cases[i].out, r);
		if (r == -EBUSY)
			assert_non_null(strstr(err->msg, "\"a\""));
		phpc_error_free(err);
	}
	/* once a has finished, its output directory is anyone's to read */
	assert_int_equal(jobdb_set_final(db, a.id, "finishedSuccessfully", "", "", "", NULL), 0);
	struct jobd_job late = {.jid = (char *)"late",
	                        .spec = (char *)"{}",
	                        .image = (char *)"i",
	                        .cmd = (char *)"c",
	                        .input_dir = (char *)"e/x",
	                        .output_dir = (char *)"o9"};
	assert_int_equal(jobdb_insert(db, &late, NULL), 0);
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
			job_free_dirs(&j);
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
	    cmocka_unit_test(test_output_dirs_do_not_nest),
	    cmocka_unit_test(test_survives_a_killed_writer),
	};
	return cmocka_run_group_tests_name("jobdb", tests, NULL, NULL);
}
