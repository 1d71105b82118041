#include "testutil.h"

#include "fsutil.h"
#include "shadowlock.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>

/* A fresh directory with a file "subuid"; returns the file's path. */
static char *fresh(void)
{
	return write_temp("subuid", "alice:100000:65536\n");
}

static void cleanup(char *path)
{
	char *dir = phpc_xstrdup(path);
	*strrchr(dir, '/') = '\0';
	phpc_rm_rf_at(AT_FDCWD, dir, NULL);
	free(dir);
	free(path);
}

static char *lock_path(const char *path)
{
	return phpc_xasprintf("%s.lock", path);
}

static void put(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

/* Whether FILE.<pid> of this process is gone, as it must be after a lock
 * attempt, taken or not. */
static void assert_no_pid_file(const char *path)
{
	char *tmp = phpc_xasprintf("%s.%ld", path, (long)getpid());
	assert_int_equal(access(tmp, F_OK), -1);
	free(tmp);
}

static void test_lock_and_unlock(void **state)
{
	(void)state;
	char *path = fresh();
	char *lock = lock_path(path);
	struct phpc_shadow_lock lk = {0};
	struct phpc_error *err = NULL;
	assert_int_equal(phpc_shadow_lock_file(path, &lk, &err), 0);
	assert_null(err);
	assert_string_equal(lk.lock, lock);
	/* "PID\0", as shadow-utils writes it, and no FILE.<pid> left */
	char *text = NULL;
	size_t len = 0;
	assert_int_equal(phpc_read_file(AT_FDCWD, lock, &text, &len, NULL), 0);
	char want[32];
	int n = snprintf(want, sizeof(want), "%ld", (long)getpid());
	assert_int_equal(len, (size_t)n + 1);
	assert_memory_equal(text, want, (size_t)n + 1);
	free(text);
	assert_no_pid_file(path);
	phpc_shadow_unlock_file(&lk);
	assert_null(lk.lock);
	assert_int_equal(access(lock, F_OK), -1);
	/* twice is harmless */
	phpc_shadow_unlock_file(&lk);
	free(lock);
	cleanup(path);
}

static void test_held_by_running_process(void **state)
{
	(void)state;
	char *path = fresh();
	char *lock = lock_path(path);
	/* pid 1 always runs (kill gives EPERM to a user: still held) */
	put(lock, "1", 2);
	struct phpc_shadow_lock lk = {0};
	struct phpc_error *err = NULL;
	assert_int_equal(phpc_shadow_lock_file(path, &lk, &err), -EBUSY);
	assert_non_null(err);
	assert_non_null(strstr(err->msg, "is held by process 1 ("));
	assert_non_null(strstr(err->msg, "remove"));
	assert_null(lk.lock);
	phpc_error_free(err);
	/* the holder's lock is untouched, and nothing of ours is left */
	char *text = NULL;
	size_t len = 0;
	assert_int_equal(phpc_read_file(AT_FDCWD, lock, &text, &len, NULL), 0);
	assert_int_equal(len, 2);
	assert_memory_equal(text, "1", 2);
	free(text);
	assert_no_pid_file(path);
	free(lock);
	cleanup(path);
}

static void test_stale_lock_taken_over(void **state)
{
	(void)state;
	char *path = fresh();
	char *lock = lock_path(path);
	/* a process that has exited (and been reaped) */
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%ld", (long)pid);
	put(lock, buf, (size_t)n + 1);
	struct phpc_shadow_lock lk = {0};
	struct phpc_error *err = NULL;
	assert_int_equal(phpc_shadow_lock_file(path, &lk, &err), 0);
	assert_null(err);
	char *text = NULL;
	assert_int_equal(phpc_read_file(AT_FDCWD, lock, &text, NULL, NULL), 0);
	assert_int_equal(atol(text), (long)getpid());
	free(text);
	phpc_shadow_unlock_file(&lk);
	/* a leftover with this very pid (an earlier process's) is stale too */
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	put(lock, buf, (size_t)n);
	assert_int_equal(phpc_shadow_lock_file(path, &lk, &err), 0);
	phpc_shadow_unlock_file(&lk);
	free(lock);
	cleanup(path);
}

static void test_lock_without_pid_refused(void **state)
{
	(void)state;
	char *path = fresh();
	char *lock = lock_path(path);
	static const char *const bad[] = {"", "abc", "12x", "-5"};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		put(lock, bad[i], strlen(bad[i]));
		struct phpc_shadow_lock lk = {0};
		struct phpc_error *err = NULL;
		assert_int_equal(phpc_shadow_lock_file(path, &lk, &err), -EBUSY);
		assert_non_null(strstr(err->msg, "holds no process id"));
		phpc_error_free(err);
		assert_int_equal(access(lock, F_OK), 0);
		assert_no_pid_file(path);
	}
	free(lock);
	cleanup(path);
}

static void test_missing_directory(void **state)
{
	(void)state;
	struct phpc_shadow_lock lk = {0};
	struct phpc_error *err = NULL;
	assert_int_equal(phpc_shadow_lock_file("/nonexistent-phpc/subuid", &lk, &err), -ENOENT);
	assert_non_null(strstr(err->msg, "/nonexistent-phpc/subuid."));
	phpc_error_free(err);
	phpc_shadow_unlock_file(&lk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lock_and_unlock),
	    cmocka_unit_test(test_held_by_running_process),
	    cmocka_unit_test(test_stale_lock_taken_over),
	    cmocka_unit_test(test_lock_without_pid_refused),
	    cmocka_unit_test(test_missing_directory),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
