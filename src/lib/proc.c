#include "proc.h"
#include "util.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>

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

struct sink {
	char *buf;
	size_t n, cap, max;
};

/* Reads what is there; returns false at the end of the stream. */
static bool drain(int fd, struct sink *s)
{
	char tmp[8192];
	ssize_t k = read(fd, tmp, sizeof(tmp));
	if (k < 0)
		return errno == EINTR || errno == EAGAIN;
	if (k == 0)
		return false;
	size_t take = s->n < s->max ? s->max - s->n : 0;
	if (take > (size_t)k)
		take = (size_t)k;
	if (take) {
		if (!s->buf || s->n + take + 1 > s->cap) {
			s->cap = (s->n + take + 1) * 2;
			s->buf = phpc_xrealloc(s->buf, s->cap);
		}
		memcpy(s->buf + s->n, tmp, take);
		s->n += take;
	}
	return true;
}

static long long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int phpc_spawn_run(char *const *argv, char *const *envp, int timeout_ms, size_t max, char **out,
                   char **errout, int *status, struct phpc_error **err)
{
	int po[2], pe[2];
	if (pipe2(po, O_CLOEXEC) < 0)
		return phpc_error_errno(err, errno, "pipe");
	if (pipe2(pe, O_CLOEXEC) < 0) {
		close(po[0]);
		close(po[1]);
		return phpc_error_errno(err, errno, "pipe");
	}
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, po[1], STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&fa, errout ? pe[1] : po[1], STDERR_FILENO);
	/* the caller's signal mask and dispositions are not the child's */
	posix_spawnattr_t at;
	posix_spawnattr_init(&at);
	sigset_t none, all;
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &all);
	/* its own process group: at the time limit, what it started goes too */
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
	                                  POSIX_SPAWN_SETPGROUP);
	pid_t pid;
	int r = posix_spawn(&pid, argv[0], &fa, &at, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(po[1]);
	close(pe[1]);
	if (r != 0) {
		close(po[0]);
		close(pe[0]);
		return phpc_error_errno(err, r, "cannot run %s", argv[0]);
	}
	struct sink so = {.max = max}, se = {.max = max};
	struct pollfd p[2] = {{.fd = po[0], .events = POLLIN}, {.fd = pe[0], .events = POLLIN}};
	long long deadline = timeout_ms > 0 ? now_ms() + timeout_ms : 0;
	while (p[0].fd >= 0 || p[1].fd >= 0) {
		int wait = -1;
		if (deadline) {
			long long left = deadline - now_ms();
			wait = left > 0 ? (int)left : 0;
		}
		int n = poll(p, 2, wait);
		if (n < 0 && errno != EINTR)
			break;
		if (n == 0) {
			/* its pipes may outlive it in a grandchild: stop
			 * waiting for them too */
			kill(-pid, SIGKILL);
			break;
		}
		for (int i = 0; i < 2 && n > 0; i++) {
			if (p[i].fd < 0 || !p[i].revents)
				continue;
			if (!drain(p[i].fd, i == 0 ? &so : &se)) {
				close(p[i].fd);
				p[i].fd = -1;
			}
		}
	}
	for (int i = 0; i < 2; i++)
		if (p[i].fd >= 0)
			close(p[i].fd);
	while (waitpid(pid, status, 0) < 0) {
		if (errno != EINTR) {
			free(so.buf);
			free(se.buf);
			return phpc_error_errno(err, errno, "waiting for %s", argv[0]);
		}
	}
	if (out) {
		*out = so.buf ? so.buf : phpc_xstrdup("");
		(*out)[so.n] = '\0';
		so.buf = NULL;
	}
	if (errout) {
		*errout = se.buf ? se.buf : phpc_xstrdup("");
		(*errout)[se.n] = '\0';
		se.buf = NULL;
	}
	free(so.buf);
	free(se.buf);
	return 0;
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
