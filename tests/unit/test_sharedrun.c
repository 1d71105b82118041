/* shared-run's mechanism (sharedrun.h) without podman: the "container" is
 * this test process (its namespaces are ours, so joining changes nothing),
 * described by a pidfile and an OCI config laid out as podman keeps them. */
#include "testutil.h"

#include "sharedrun.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

struct fixture {
	char dir[64];
	char *state_root, *run_root, *graph_root;
};

static void mkdirs(const char *path)
{
	char *p = phpc_xstrdup(path);
	for (char *s = p + 1; *s; s++)
		if (*s == '/') {
			*s = '\0';
			mkdir(p, 0700);
			*s = '/';
		}
	mkdir(p, 0700);
	free(p);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* A container "ID" whose first process is this one. */
static void fake_container(struct fixture *f, const char *id)
{
	char *d = phpc_xasprintf("%s/overlay-containers/%s/userdata", f->run_root, id);
	mkdirs(d);
	char *p = phpc_xasprintf("%s/pidfile", d);
	char *pid = phpc_xasprintf("%d", (int)getpid());
	write_file(p, pid);
	free(p);
	free(pid);
	free(d);
	d = phpc_xasprintf("%s/overlay-containers/%s/userdata", f->graph_root, id);
	mkdirs(d);
	p = phpc_xasprintf("%s/config.json", d);
	char *cfg = phpc_xasprintf(
	    "{\"root\":{\"path\":\"/\"},\"process\":{\"cwd\":\"/tmp\",\"env\":"
	    "[\"PATH=/usr/bin:/bin\",\"FROM_IMAGE=1\",\"PMI_FD=9\"],\"user\":{\"uid\":%u,"
	    "\"gid\":%u}}}",
	    (unsigned)getuid(), (unsigned)getgid());
	write_file(p, cfg);
	free(cfg);
	free(p);
	free(d);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/phpc-sr-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->state_root = phpc_xasprintf("%s/run/shared-run", f->dir);
	f->run_root = phpc_xasprintf("%s/run", f->dir);
	f->graph_root = phpc_xasprintf("%s/graph", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char *cmd = phpc_xasprintf("rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(f->state_root);
	free(f->run_root);
	free(f->graph_root);
	free(f);
	return 0;
}

static struct phpc_sr_params params(struct fixture *f, bool leader, int ntasks)
{
	return (struct phpc_sr_params){
	    .state_root = f->state_root,
	    .what = "run_root (test)",
	    .key = "shared-test-1.0",
	    .uid = getuid(),
	    .ntasks = ntasks,
	    .leader = leader,
	    .poll_s = 0.05,
	    .timeout_s = 5,
	};
}

static bool exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

/* Task 0 publishes; a second task (another process) waits and runs its
 * command in the container with the container's environment, the user's
 * -e values, and PMI_FD from its own environment only; both get the
 * command's exit code; the last to leave removes the state directory. */
static void test_publish_wait_run(void **state)
{
	struct fixture *f = *state;
	struct phpc_error *err = NULL;
	fake_container(f, "c0ffee");
	struct phpc_sr_params p0 = params(f, true, 2);
	struct phpc_sr_step *leader = NULL;
	assert_int_equal(phpc_sr_enter(&p0, &leader, &err), 0);
	assert_true(phpc_sr_is_leader(leader));
	assert_int_equal(phpc_sr_publish(leader, f->run_root, f->graph_root, "c0ffee", &err), 0);

	char *const argv[] = {"sh", "-c",
	                      "test \"$FROM_IMAGE\" = 1 && test \"$X\" = y && "
	                      "test \"$(pwd)\" = /tmp && test -z \"$PMI_FD\" && exit 7",
	                      NULL};
	char *const user_env[] = {"X=y", NULL};
	char *const host_env[] = {"HOME=/nowhere", NULL};
	struct phpc_sr_task t = {.argv = argv, .user_env = user_env, .host_env = host_env};
	fflush(NULL);
	pid_t other = fork();
	if (other == 0) {
		struct phpc_sr_params p1 = params(f, false, 2);
		struct phpc_sr_step *s = NULL;
		struct phpc_sr_container c = {0};
		int st = 0;
		char *failure = NULL;
		bool started = false;
		if (phpc_sr_enter(&p1, &s, &err) < 0 || phpc_sr_wait(s, &c, &err) < 0 ||
		    phpc_sr_run_task(&c, &t, &st, &failure, &started, &err) < 0)
			_exit(100);
		phpc_sr_container_clear(&c);
		phpc_sr_leave(s);
		_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 101);
	}
	struct phpc_sr_container c = {0};
	int st = 0;
	char *failure = NULL;
	bool started = false;
	assert_int_equal(phpc_sr_wait(leader, &c, &err), 0);
	assert_int_equal(c.pid, getpid());
	assert_non_null(strstr(c.config, "/graph/overlay-containers/c0ffee/userdata/config.json"));
	assert_int_equal(phpc_sr_run_task(&c, &t, &st, &failure, &started, &err), 0);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 7);
	assert_null(failure);
	int ost = 0;
	assert_int_equal(waitpid(other, &ost, 0), other);
	assert_true(WIFEXITED(ost));
	assert_int_equal(WEXITSTATUS(ost), 7);
	phpc_sr_container_clear(&c);
	char *dir = phpc_xasprintf("%s/shared-test-1.0", f->state_root);
	assert_true(exists(dir));
	phpc_sr_leave(leader);
	assert_false(exists(dir));
	free(dir);
}

/* A command that cannot run is the task's failure (127, and why), not an
 * error of the mechanism. */
static void test_command_not_found(void **state)
{
	struct fixture *f = *state;
	struct phpc_error *err = NULL;
	fake_container(f, "c1");
	struct phpc_sr_params p0 = params(f, true, 1);
	struct phpc_sr_step *s = NULL;
	assert_int_equal(phpc_sr_enter(&p0, &s, &err), 0);
	assert_int_equal(phpc_sr_publish(s, f->run_root, f->graph_root, "c1", &err), 0);
	struct phpc_sr_container c = {0};
	assert_int_equal(phpc_sr_wait(s, &c, &err), 0);
	char *const argv[] = {"no-such-command-here", NULL};
	struct phpc_sr_task t = {.argv = argv};
	int st = 0;
	char *failure = NULL;
	bool started = false;
	assert_int_equal(phpc_sr_run_task(&c, &t, &st, &failure, &started, &err), 0);
	assert_int_equal(WEXITSTATUS(st), 127);
	assert_non_null(failure);
	assert_non_null(strstr(failure, "no-such-command-here"));
	free(failure);
	phpc_sr_container_clear(&c);
	phpc_sr_leave(s);
}

static void usr1_handler(int sig)
{
	(void)sig;
}

/* A signal the task process gets goes to the command; afterwards the
 * caller's handler and subreaper flag are as they were (a long-lived host
 * keeps its own). */
static void test_signal_forwarded_and_restored(void **state)
{
	struct fixture *f = *state;
	struct phpc_error *err = NULL;
	fake_container(f, "c2");
	struct sigaction mine = {.sa_handler = usr1_handler}, now = {0};
	sigemptyset(&mine.sa_mask);
	assert_int_equal(sigaction(SIGUSR1, &mine, NULL), 0);
	struct phpc_sr_params p0 = params(f, true, 1);
	struct phpc_sr_step *s = NULL;
	assert_int_equal(phpc_sr_enter(&p0, &s, &err), 0);
	assert_int_equal(phpc_sr_publish(s, f->run_root, f->graph_root, "c2", &err), 0);
	struct phpc_sr_container c = {0};
	assert_int_equal(phpc_sr_wait(s, &c, &err), 0);
	char *script = phpc_xasprintf("kill -USR1 %d; exec sleep 20", (int)getpid());
	char *const argv[] = {"sh", "-c", script, NULL};
	struct phpc_sr_task t = {.argv = argv};
	int st = 0;
	char *failure = NULL;
	bool started = false;
	assert_int_equal(phpc_sr_run_task(&c, &t, &st, &failure, &started, &err), 0);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGUSR1);
	assert_int_equal(sigaction(SIGUSR1, NULL, &now), 0);
	assert_ptr_equal(now.sa_handler, usr1_handler);
	int reaper = -1;
	assert_int_equal(prctl(PR_GET_CHILD_SUBREAPER, &reaper, 0, 0, 0), 0);
	assert_int_equal(reaper, 0);
	signal(SIGUSR1, SIG_DFL);
	free(script);
	phpc_sr_container_clear(&c);
	phpc_sr_leave(s);
}

/* Task 0 says why it could not start the container: every task fails with
 * that reason. */
static void test_leader_failed(void **state)
{
	struct fixture *f = *state;
	struct phpc_error *err = NULL;
	struct phpc_sr_params p0 = params(f, true, 2), p1 = params(f, false, 2);
	struct phpc_sr_step *leader = NULL, *other = NULL;
	assert_int_equal(phpc_sr_enter(&p0, &leader, &err), 0);
	phpc_sr_fail(leader, "no such image: x");
	assert_int_equal(phpc_sr_enter(&p1, &other, &err), 0);
	struct phpc_sr_container c = {0};
	assert_int_equal(phpc_sr_wait(other, &c, &err), -EIO);
	assert_string_equal(err->msg, "the shared container of this step did not start: no such "
	                              "image: x");
	phpc_error_freep(&err);
	phpc_sr_leave(other);
	phpc_sr_leave(leader);
}

/* Task 0 killed before it published anything: the others know at once
 * (its lock is free), not at the timeout. */
static void test_leader_killed(void **state)
{
	struct fixture *f = *state;
	struct phpc_error *err = NULL;
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		struct phpc_sr_params p0 = params(f, true, 2);
		struct phpc_sr_step *s = NULL;
		if (phpc_sr_enter(&p0, &s, &err) < 0)
			_exit(1);
		raise(SIGKILL);
	}
	int st = 0;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st));
	struct phpc_sr_params p1 = params(f, false, 2);
	struct phpc_sr_step *s = NULL;
	assert_int_equal(phpc_sr_enter(&p1, &s, &err), 0);
	struct phpc_sr_container c = {0};
	assert_int_equal(phpc_sr_wait(s, &c, &err), -EIO);
	assert_non_null(strstr(err->msg, "exited before the shared container"));
	char *pidtext = phpc_xasprintf("pid %d", (int)pid);
	assert_non_null(strstr(err->msg, pidtext));
	free(pidtext);
	phpc_error_freep(&err);
	phpc_sr_leave(s);
}

/* No task 0 at all: the wait ends at its timeout. */
static void test_timeout(void **state)
{
	struct fixture *f = *state;
	struct phpc_error *err = NULL;
	struct phpc_sr_params p1 = params(f, false, 2);
	p1.timeout_s = 0.2;
	struct phpc_sr_step *s = NULL;
	assert_int_equal(phpc_sr_enter(&p1, &s, &err), 0);
	struct phpc_sr_container c = {0};
	assert_int_equal(phpc_sr_wait(s, &c, &err), -ETIMEDOUT);
	assert_non_null(strstr(err->msg, "timed out after 0.2s"));
	phpc_error_freep(&err);
	phpc_sr_leave(s);
}

/* A state root another user could have planted is refused (safedir.h). */
static void test_state_root_checked(void **state)
{
	struct fixture *f = *state;
	struct phpc_error *err = NULL;
	mkdirs(f->run_root);
	char *link = phpc_xasprintf("%s/shared-run", f->run_root);
	assert_int_equal(symlink("/tmp", link), 0);
	struct phpc_sr_params p0 = params(f, true, 1);
	struct phpc_sr_step *s = NULL;
	assert_true(phpc_sr_enter(&p0, &s, &err) < 0);
	assert_null(s);
	assert_non_null(err);
	phpc_error_freep(&err);
	free(link);
}

/* A container that cannot be joined (its process is gone): an error, and
 * the command was never started (the caller may fall back to podman exec
 * without running it twice). */
static void test_join_fails_not_started(void **state)
{
	struct fixture *f = *state;
	struct phpc_error *err = NULL;
	fflush(NULL);
	pid_t gone = fork();
	if (gone == 0)
		_exit(0);
	assert_int_equal(waitpid(gone, NULL, 0), gone);
	fake_container(f, "c3");
	struct phpc_sr_container c = {.pid = gone};
	c.config = phpc_xasprintf("%s/overlay-containers/c3/userdata/config.json", f->graph_root);
	char *const argv[] = {"true", NULL};
	struct phpc_sr_task t = {.argv = argv};
	int st = 0;
	char *failure = NULL;
	bool started = true;
	assert_true(phpc_sr_run_task(&c, &t, &st, &failure, &started, &err) < 0);
	assert_false(started);
	assert_non_null(strstr(err->msg, "cannot join the shared container"));
	phpc_error_freep(&err);
	phpc_sr_container_clear(&c);
}

/* PMI_FD of the task's environment reaches the command as fd 3, and this
 * process's own fds stay as they were. */
static void test_pmi_fd_as_fd3(void **state)
{
	struct fixture *f = *state;
	struct phpc_error *err = NULL;
	fake_container(f, "c4");
	int p[2];
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(write(p[1], "pmi-hello\n", 10), 10);
	close(p[1]);
	char *pmi = phpc_xasprintf("PMI_FD=%d", p[0]);
	char *const host_env[] = {pmi, NULL};
	char *const argv[] = {
	    "sh", "-c", "test \"$PMI_FD\" = 3 && read l <&3 && test \"$l\" = pmi-hello", NULL};
	struct phpc_sr_task t = {.argv = argv, .host_env = host_env};
	struct phpc_sr_container c = {.pid = getpid()};
	c.config = phpc_xasprintf("%s/overlay-containers/c4/userdata/config.json", f->graph_root);
	int st = 0;
	char *failure = NULL;
	bool started = false;
	assert_int_equal(phpc_sr_run_task(&c, &t, &st, &failure, &started, &err), 0);
	assert_true(started);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_true(fcntl(p[0], F_GETFD) >= 0);
	close(p[0]);
	free(pmi);
	phpc_sr_container_clear(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_publish_wait_run, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_command_not_found, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_signal_forwarded_and_restored, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_leader_failed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_leader_killed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_state_root_checked, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_join_fails_not_started, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pmi_fd_as_fd3, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
