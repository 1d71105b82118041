#include "proc.h"
#include "util.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

static int capture(char *const *argv, char *const *envp, bool quiet, char **out, size_t *out_len,
                   int *status, struct phpc_error **err)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return phpc_error_errno(err, errno, "pipe");
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], STDOUT_FILENO);
	if (quiet)
		posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
	pid_t pid;
	int r = posix_spawn(&pid, argv[0], &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	if (r != 0) {
		close(p[0]);
		return phpc_error_errno(err, r, "cannot run %s", argv[0]);
	}
	size_t cap = 8192, n = 0;
	char *buf = phpc_xmalloc(cap);
	for (;;) {
		if (n + 1 >= cap)
			buf = phpc_xrealloc(buf, cap *= 2);
		ssize_t k = read(p[0], buf + n, cap - n - 1);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		n += (size_t)k;
	}
	buf[n] = '\0';
	close(p[0]);
	while (waitpid(pid, status, 0) < 0) {
		if (errno != EINTR) {
			free(buf);
			return phpc_error_errno(err, errno, "waiting for %s", argv[0]);
		}
	}
	*out = buf;
	if (out_len)
		*out_len = n;
	return 0;
}

int phpc_exec(char *const *argv, char *const *envp, struct phpc_error **err)
{
	execve(argv[0], argv, envp);
	return phpc_error_errno(err, errno, "cannot run %s", argv[0]);
}

int phpc_exit_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 125;
}

int phpc_spawn_capture(char *const *argv, char *const *envp, char **out, size_t *out_len,
                       int *status, struct phpc_error **err)
{
	return capture(argv, envp, false, out, out_len, status, err);
}

int phpc_spawn_capture_quiet(char *const *argv, char *const *envp, char **out, int *status,
                             struct phpc_error **err)
{
	return capture(argv, envp, true, out, NULL, status, err);
}

int phpc_spawn_wait(char *const *argv, char *const *envp, int *status, struct phpc_error **err)
{
	return phpc_spawn_wait_fd3(argv, envp, -1, status, err);
}

int phpc_spawn_wait_fd3(char *const *argv, char *const *envp, int fd, int *status,
                        struct phpc_error **err)
{
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	/* through a copy above 3: dup2 of an fd onto itself would keep its
	 * close-on-exec flag, and the caller's fd 3 is not ours to move */
	int copy = fd >= 0 ? fcntl(fd, F_DUPFD_CLOEXEC, 10) : -1;
	if (fd >= 0 && copy < 0) {
		posix_spawn_file_actions_destroy(&fa);
		return phpc_error_errno(err, errno, "cannot pass fd %d to %s", fd, argv[0]);
	}
	if (copy >= 0)
		posix_spawn_file_actions_adddup2(&fa, copy, 3);
	pid_t pid;
	int r = posix_spawn(&pid, argv[0], &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	if (copy >= 0)
		close(copy);
	if (r != 0)
		return phpc_error_errno(err, r, "cannot run %s", argv[0]);
	while (waitpid(pid, status, 0) < 0)
		if (errno != EINTR)
			return phpc_error_errno(err, errno, "waiting for %s", argv[0]);
	return 0;
}

/* One by one, where close_range is missing (Linux < 5.9). */
static void close_each(unsigned int lo, unsigned int hi)
{
	long max = sysconf(_SC_OPEN_MAX);
	unsigned int top = max > 0 && max < 1048576 ? (unsigned int)max - 1 : 65535;
	for (unsigned int fd = lo; fd <= hi && fd <= top; fd++)
		close((int)fd);
}

void phpc_close_fds_except(const int *keep, size_t n)
{
	/* ranges between the kept fds, lowest first */
	unsigned int lo = 3;
	for (;;) {
		unsigned int next = ~0U;
		for (size_t i = 0; i < n; i++)
			if (keep[i] >= (int)lo && (unsigned int)keep[i] < next)
				next = (unsigned int)keep[i];
		unsigned int hi = next == ~0U ? ~0U : next - 1;
		if (next > lo && close_range(lo, hi, 0) < 0)
			close_each(lo, hi);
		if (next == ~0U)
			return;
		lo = next + 1;
	}
}
