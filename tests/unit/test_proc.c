/* phpc_spawn_run (src/lib/proc.h): separate and merged output, the cut at
 * max bytes, the time limit. */
#include "testutil.h"

#include "proc.h"

#include <signal.h>
#include <sys/wait.h>

extern char **environ;

static void test_capture(void **state)
{
	(void)state;
	char *argv[] = {"/bin/sh", "-c", "echo out; echo err >&2; exit 3", NULL};
	char *out = NULL, *err = NULL;
	int st = 0;
	assert_int_equal(phpc_spawn_run(argv, environ, 10000, 1024, &out, &err, &st, NULL), 0);
	assert_string_equal(out, "out\n");
	assert_string_equal(err, "err\n");
	assert_int_equal(phpc_exit_code(st), 3);
	free(out);
	free(err);
	/* merged, in the order written */
	char *argv2[] = {"/bin/sh", "-c", "echo a; echo b >&2; echo c", NULL};
	assert_int_equal(phpc_spawn_run(argv2, environ, 10000, 1024, &out, NULL, &st, NULL), 0);
	assert_string_equal(out, "a\nb\nc\n");
	free(out);
	/* cut at max, the rest read (the child is not blocked on a full pipe) */
	char *argv3[] = {"/bin/sh", "-c", "yes | head -c 1000000; echo done >&2", NULL};
	assert_int_equal(phpc_spawn_run(argv3, environ, 10000, 10, &out, &err, &st, NULL), 0);
	assert_string_equal(out, "y\ny\ny\ny\ny\n");
	assert_string_equal(err, "done\n");
	assert_int_equal(phpc_exit_code(st), 0);
	free(out);
	free(err);
}

static void test_timeout_and_missing(void **state)
{
	(void)state;
	char *argv[] = {"/bin/sleep", "10", NULL};
	char *out = NULL;
	int st = 0;
	assert_int_equal(phpc_spawn_run(argv, environ, 200, 1024, &out, NULL, &st, NULL), 0);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGKILL);
	free(out);
	char *argv2[] = {"/nonexistent/program", NULL};
	struct phpc_error *err = NULL;
	int r = phpc_spawn_run(argv2, environ, 200, 1024, &out, NULL, &st, &err);
	/* posix_spawn reports the failed exec, or the child exits 127 */
	if (r == 0) {
		assert_int_equal(phpc_exit_code(st), 127);
		free(out);
	} else {
		assert_non_null(err);
		phpc_error_free(err);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_capture),
	    cmocka_unit_test(test_timeout_and_missing),
	};
	return cmocka_run_group_tests_name("proc", tests, NULL, NULL);
}
