/* shared-run's mechanism (sharedrun.h; the design: docs/shared-run.md).
 *
 * Task 0 holds an exclusive flock on the step's "leader" file from before it
 * prepares anything until it has written the state file (or the "failed"
 * file with its reason). The kernel releases that lock when task 0 ends, even
 * killed with SIGKILL, so a free lock and no file means task 0 died first:
 * the waiting tasks see it within a fraction of a second instead of waiting
 * for the timeout, which remains for a task 0 that never arrives.
 *
 * Every task holds a shared flock on the step's "tasks.lock" while it lives.
 * A task leaving takes it exclusively without waiting: granted, it is the
 * last one, and it removes the state directory, unless the container is up
 * and a task has yet to arrive. The monitor waits until all tasks have
 * registered (or the start timeout passed), then takes the lock exclusively,
 * which the kernel grants only once every task has exited, even killed by
 * scancel; then it removes the container and the state. The directory is
 * removed only under the exclusive lock, and an arriving task checks, once it
 * holds its shared lock, that its directory and lock file are still the ones
 * in place (else it starts over), so a removal never strands a task that was
 * just arriving. No task ever waits for another's end, so a dying task makes
 * nobody hang.
 *
 * Allocations in the caller's process are checked (-ENOMEM): see the header
 * for why. */
#include "sharedrun.h"
#include "env.h"
#include "fsutil.h"
#include "nsjoin.h"
#include "oci.h"
#include "proc.h"
#include "safedir.h"
#include "shared.h"
#include "strv.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <json.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

struct phpc_sr_step {
	char *key;
	char *dir;    /* state_root/key, for messages */
	int parentfd; /* state_root */
	int dirfd;    /* state_root/key */
	int lockfd;   /* tasks.lock, shared while this task lives */
	int leaderfd; /* task 0: leader, exclusive until the container is up */
	int ntasks;
	bool leader;
	double poll_s, timeout_s;
};

static void default_signals(void);

/* A killed task 0's lock is free within this time of its end (seconds). */
#define LEADER_CHECK_S 0.05

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int oom(struct phpc_error **err)
{
	return phpc_error_set(err, ENOMEM, "out of memory");
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* Is the step's directory still in place (not removed by a last task)? */
static bool dir_present(const struct phpc_sr_step *s)
{
	struct stat d, n;
	return fstat(s->dirfd, &d) == 0 &&
	       fstatat(s->parentfd, s->key, &n, AT_SYMLINK_NOFOLLOW) == 0 && same_file(&d, &n);
}

/* Whether the directory and lock file this task holds are still the step's:
 * a last task may have removed them just before this one got its lock. */
static bool still_current(const struct phpc_sr_step *s, int lockfd)
{
	struct stat l, m;
	return dir_present(s) && fstat(lockfd, &l) == 0 &&
	       fstatat(s->dirfd, "tasks.lock", &m, AT_SYMLINK_NOFOLLOW) == 0 && same_file(&l, &m);
}

/* Creates or opens the step's directory and takes the shared lock that
 * keeps it, and the container, while this task lives. */
static int enter_dir(struct phpc_sr_step *s, uid_t uid, const char *what, struct phpc_error **err)
{
	for (int attempt = 0; attempt < 100; attempt++) {
		int fd = phpc_dir_open(s->dir, PHPC_DIR_PRIVATE, uid, what, err);
		if (fd == -ENOENT && attempt < 99) {
			/* removed between its creation and our opening it */
			phpc_error_freep(err);
			continue;
		}
		if (fd < 0)
			return fd;
		s->dirfd = fd;
		fd =
		    openat(s->dirfd, "tasks.lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0 && errno != ENOENT)
			return phpc_error_errno(err, errno, "cannot create %s/tasks.lock", s->dir);
		if (fd >= 0 && flock(fd, LOCK_SH) < 0) {
			int e = errno;
			close(fd);
			return phpc_error_errno(err, e, "cannot lock %s/tasks.lock", s->dir);
		}
		if (fd >= 0 && still_current(s, fd)) {
			s->lockfd = fd;
			return 0;
		}
		if (fd >= 0)
			close(fd);
		close(s->dirfd);
		s->dirfd = -1;
	}
	return phpc_error_set(err, EAGAIN, "%s keeps being removed while this task enters it",
	                      s->dir);
}

/* Task 0's lock, taken before the file is visible under its name: a waiting
 * task that finds the file finds it locked until task 0 lets go. */
static int take_leader(struct phpc_sr_step *s, struct phpc_error **err)
{
	char tmp[32];
	snprintf(tmp, sizeof(tmp), ".leader.%d", (int)getpid());
	unlinkat(s->dirfd, tmp, 0); /* a leftover of a killed process with our pid */
	_cleanup_close_ int fd =
	    openat(s->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return phpc_error_errno(err, errno, "cannot create %s/%s", s->dir, tmp);
	if (flock(fd, LOCK_EX | LOCK_NB) < 0 || dprintf(fd, "%d", (int)getpid()) < 0 ||
	    renameat(s->dirfd, tmp, s->dirfd, "leader") < 0) {
		int e = errno;
		unlinkat(s->dirfd, tmp, 0);
		return phpc_error_errno(err, e, "cannot create %s/leader", s->dir);
	}
	s->leaderfd = phpc_steal_fd(&fd);
	return 0;
}

static int register_task(struct phpc_sr_step *s, struct phpc_error **err)
{
	_cleanup_close_ int fd = openat(
	    s->dirfd, "joined", O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, "x", 1) != 1)
		return phpc_error_errno(err, errno, "cannot register in %s", s->dir);
	return 0;
}

int phpc_sr_enter(const struct phpc_sr_params *p, struct phpc_sr_step **out,
                  struct phpc_error **err)
{
	*out = NULL;
	struct phpc_sr_step *s = calloc(1, sizeof(*s));
	if (!s)
		return oom(err);
	*s = (struct phpc_sr_step){
	    .parentfd = -1,
	    .dirfd = -1,
	    .lockfd = -1,
	    .leaderfd = -1,
	    .ntasks = p->ntasks,
	    .leader = p->leader,
	    .poll_s = p->poll_s,
	    .timeout_s = p->timeout_s,
	};
	int r = 0;
	s->key = strdup(p->key);
	if (!s->key || asprintf(&s->dir, "%s/%s", p->state_root, p->key) < 0) {
		s->dir = NULL;
		r = oom(err);
	}
	/* below a world-writable /tmp another user could have made these
	 * first: they are walked and created without following a symlink and
	 * must be the user's, mode 0700 */
	if (r == 0) {
		s->parentfd = phpc_dir_open(p->state_root, PHPC_DIR_PRIVATE, p->uid, p->what, err);
		r = s->parentfd < 0 ? s->parentfd : 0;
	}
	if (r == 0)
		r = enter_dir(s, p->uid, p->what, err);
	if (r == 0 && s->leader)
		r = take_leader(s, err);
	if (r == 0)
		r = register_task(s, err);
	if (r < 0) {
		/* task 0 that holds the leader lock tells the others why */
		if (s->leaderfd >= 0)
			phpc_sr_fail(s, *err ? (*err)->msg : "cannot enter the step");
		phpc_sr_leave(s);
		return r;
	}
	*out = s;
	return 0;
}

bool phpc_sr_is_leader(const struct phpc_sr_step *s)
{
	return s->leader;
}

/* Has task 0 written the state file (the container is up)? */
static bool started(const struct phpc_sr_step *s)
{
	struct stat st;
	return fstatat(s->dirfd, "state.json", &st, AT_SYMLINK_NOFOLLOW) == 0;
}

void phpc_sr_leave(struct phpc_sr_step *s)
{
	if (!s)
		return;
	if (s->leaderfd >= 0)
		close(s->leaderfd);
	if (s->lockfd >= 0) {
		if (flock(s->lockfd, LOCK_EX | LOCK_NB) == 0 && still_current(s, s->lockfd)) {
			struct stat st;
			long joined = fstatat(s->dirfd, "joined", &st, AT_SYMLINK_NOFOLLOW) == 0
			                  ? (long)st.st_size
			                  : 0;
			if (phpc_shared_remove_on_leave(joined, s->ntasks, started(s)))
				phpc_rm_rf_at(s->parentfd, s->key, NULL);
		}
		close(s->lockfd);
	}
	if (s->dirfd >= 0)
		close(s->dirfd);
	if (s->parentfd >= 0)
		close(s->parentfd);
	free(s->key);
	free(s->dir);
	free(s);
}

/* ---- the monitor: removes the container once every task has gone ---------- */

/* Runs the removal: whether there was a container (podman rm names what it
 * removed; --force makes a missing one no error). */
static bool remove_container(char *const *rm_argv, char *const *envp)
{
	_cleanup_free_ char *out = NULL;
	int status = 0;
	int r = phpc_spawn_capture_quiet(rm_argv, envp, &out, &status, NULL);
	return r == 0 && out && out[strspn(out, " \n")];
}

static void monitor(struct phpc_sr_step *s, char *const *rm_argv, char *const *envp)
{
	double start = now(), deadline = start + 2 * s->timeout_s + 5;
	/* task 0's last word goes there (leader_done); read once every task
	 * has gone, when the directory may be gone too */
	_cleanup_close_ int lfd = openat(s->dirfd, "leader", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	while (
	    now() < deadline && dir_present(s) &&
	    (fstatat(s->dirfd, "joined", &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_size < s->ntasks))
		usleep(50000);
	int fd = openat(s->dirfd, "tasks.lock", O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0)
		flock(fd, LOCK_EX); /* granted when the last task has exited */
	char word[64] = {0};
	bool done = lfd >= 0 && pread(lfd, word, sizeof(word) - 1, 0) > 0 && strchr(word, ' ');
	bool removed = remove_container(rm_argv, envp);
	/* still under the exclusive lock: an arriving task waits for it, then
	 * sees that its directory is gone and makes a new one */
	if (fd >= 0 && still_current(s, fd))
		phpc_rm_rf_at(s->parentfd, s->key, NULL);
	if (fd >= 0)
		close(fd);
	/* Task 0 died while starting the container: its podman run, left
	 * running, may still create it, as long as the tasks would have waited
	 * for it. */
	while (!done && !removed && now() < start + s->timeout_s + 5) {
		sleep(1);
		removed = remove_container(rm_argv, envp);
	}
}

/* Detached from the step (its own session, no inherited output: srun waits
 * for every holder of the tasks' stdout to go). */
int phpc_sr_start_monitor(struct phpc_sr_step *s, char *const *rm_argv, char *const *envp,
                          struct phpc_error **err)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		return phpc_error_errno(err, errno, "cannot start the shared container's monitor");
	if (pid > 0) {
		int st;
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		return 0;
	}
	setsid();
	if (fork() != 0)
		_exit(0);
	default_signals();
	/* its shared lock would block its own exclusive one, and task 0's
	 * lock must go with task 0 */
	close(s->lockfd);
	close(s->leaderfd);
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	for (int fd = 0; fd < 3; fd++)
		dup2(null, fd);
	int keep[] = {s->dirfd, s->parentfd};
	phpc_close_fds_except(keep, ARRAY_SIZE(keep));
	monitor(s, rm_argv, envp);
	_exit(0);
}

/* ---- task 0: publish the container, or why not ------------------------------ */

/* Task 0 has started the container or written why not: it says so in its
 * lock file, for the monitor ("PID started" or "PID failed"), and lets go. */
static void leader_done(struct phpc_sr_step *s, bool up)
{
	if (s->leaderfd < 0)
		return;
	dprintf(s->leaderfd, " %s\n", up ? "started" : "failed");
	close(s->leaderfd);
	s->leaderfd = -1;
}

void phpc_sr_fail(struct phpc_sr_step *s, const char *why)
{
	phpc_write_file_atomic(s->dirfd, "failed", why, strlen(why), 0600, NULL);
	leader_done(s, false);
}

/* The container's pid and OCI config, where podman keeps them (its
 * overlay-containers/ID/userdata in run_root and graph_root): no podman
 * inspect, which costs a podman start-up. */
static int state_text(const char *run_root, const char *graph_root, const char *id, char **out,
                      struct phpc_error **err)
{
	_cleanup_free_ char *pidf = NULL, *config = NULL, *pidtext = NULL;
	if (asprintf(&pidf, "%s/overlay-containers/%s/userdata/pidfile", run_root, id) < 0 ||
	    asprintf(&config, "%s/overlay-containers/%s/userdata/config.json", graph_root, id) <
	        0) {
		pidf = config = NULL;
		return oom(err);
	}
	int r = phpc_read_file(AT_FDCWD, pidf, &pidtext, NULL, err);
	if (r < 0)
		return r;
	long pid = strtol(pidtext, NULL, 10);
	if (pid <= 0)
		return phpc_error_set(err, EINVAL, "%s does not hold a pid", pidf);
	struct json_object *o = json_object_new_object();
	struct json_object *jid = json_object_new_string(id);
	struct json_object *jpid = json_object_new_int64(pid);
	struct json_object *jcfg = json_object_new_string(config);
	/* a value json_object_object_add did not take is still ours to free */
	bool ok = o && jid && jpid && jcfg && json_object_object_add(o, "id", jid) == 0;
	if (!ok)
		json_object_put(jid);
	ok = ok && json_object_object_add(o, "pid", jpid) == 0;
	if (!ok)
		json_object_put(jpid);
	ok = ok && json_object_object_add(o, "config", jcfg) == 0;
	if (!ok)
		json_object_put(jcfg);
	const char *text = ok ? json_object_to_json_string(o) : NULL;
	*out = text ? strdup(text) : NULL;
	json_object_put(o);
	return *out ? 0 : oom(err);
}

int phpc_sr_publish(struct phpc_sr_step *s, const char *run_root, const char *graph_root,
                    const char *id, struct phpc_error **err)
{
	char *state = NULL; /* freed explicitly: clang 14's analyzer loses a cleanup
	                     * attribute on memory from strdup */
	int r = state_text(run_root, graph_root, id, &state, err);
	if (r == 0)
		r = phpc_write_file_atomic(s->dirfd, "state.json", state, strlen(state), 0600, err);
	free(state);
	if (r == 0)
		leader_done(s, true);
	return r;
}

/* ---- every task: wait for the container ------------------------------------ */

/* A small file of the state directory, or NULL; never through a symlink. */
static char *read_state_file(const struct phpc_sr_step *s, const char *name)
{
	_cleanup_close_ int fd = openat(s->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	char *text = NULL;
	if (fd < 0 || phpc_read_fd(fd, name, &text, NULL, NULL) < 0)
		return NULL;
	return text;
}

/* Looks at task 0's lock (opening its file once it exists: *fd, *pid). */
static enum phpc_shared_leader observe_leader(const struct phpc_sr_step *s, int *fd, long *pid)
{
	if (*fd < 0) {
		*fd = openat(s->dirfd, "leader", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (*fd < 0)
			return PHPC_LEADER_UNKNOWN;
		char buf[32] = {0};
		if (pread(*fd, buf, sizeof(buf) - 1, 0) > 0)
			*pid = strtol(buf, NULL, 10);
	}
	if (flock(*fd, LOCK_SH | LOCK_NB) < 0)
		return errno == EWOULDBLOCK ? PHPC_LEADER_STARTING : PHPC_LEADER_UNKNOWN;
	flock(*fd, LOCK_UN);
	return PHPC_LEADER_GONE;
}

static int leader_gone(long pid, struct phpc_error **err)
{
	char host[256] = "";
	gethostname(host, sizeof(host) - 1);
	char who[300];
	if (pid > 0)
		snprintf(who, sizeof(who), "%s, pid %ld", host, pid);
	else
		snprintf(who, sizeof(who), "%s", host);
	return phpc_error_set(err, EIO,
	                      "local task 0 on this node (%s) exited before the shared container "
	                      "of this step was started: its own error message says why; if it "
	                      "has none, it was killed (see the job's output for task 0 and the "
	                      "node's slurmd log)",
	                      who);
}

static int parse_state(const struct phpc_sr_step *s, const char *text, struct phpc_sr_container *c,
                       struct phpc_error **err)
{
	struct json_object *o = json_tokener_parse(text), *p = NULL, *cf = NULL;
	int r = 0;
	if (o && json_object_object_get_ex(o, "pid", &p) &&
	    json_object_object_get_ex(o, "config", &cf) && json_object_get_int64(p) > 0 &&
	    json_object_get_string(cf)) {
		c->pid = (pid_t)json_object_get_int64(p);
		c->config = strdup(json_object_get_string(cf));
		if (!c->config)
			r = oom(err);
	} else {
		r = phpc_error_set(err, EINVAL, "%s/state.json is not valid", s->dir);
	}
	if (o)
		json_object_put(o);
	return r;
}

void phpc_sr_container_clear(struct phpc_sr_container *c)
{
	free(c->config);
	*c = (struct phpc_sr_container){0};
}

int phpc_sr_wait(struct phpc_sr_step *s, struct phpc_sr_container *c, struct phpc_error **err)
{
	/* The watch is made only when the container is not up yet: a task of a
	 * running container (most of a large step's tasks) does not pay for
	 * closing an inotify instance, which waits for an SRCU grace period
	 * (up to ~15 ms measured here, more than the rest of a join). */
	_cleanup_close_ int ifd = -1;
	bool watching = false;
	_cleanup_close_ int lfd = -1;
	long leader_pid = 0;
	double deadline = now() + s->timeout_s;
	for (;;) {
		/* the lock first, then the files: see phpc_shared_wait_verdict */
		enum phpc_shared_leader leader = observe_leader(s, &lfd, &leader_pid);
		_cleanup_free_ char *failed = read_state_file(s, "failed");
		_cleanup_free_ char *state = failed ? NULL : read_state_file(s, "state.json");
		double left = deadline - now();
		switch (
		    phpc_shared_wait_verdict(state != NULL, failed != NULL, leader, left <= 0)) {
		case PHPC_WAIT_READY:
			return parse_state(s, state, c, err);
		case PHPC_WAIT_FAILED:
			return phpc_error_set(err, EIO,
			                      "the shared container of this step did not start: %s",
			                      failed);
		case PHPC_WAIT_LEADER_GONE:
			return leader_gone(leader_pid, err);
		case PHPC_WAIT_TIMEOUT:
			return phpc_error_set(
			    err, ETIMEDOUT,
			    "timed out after %gs waiting for local task 0 to start the "
			    "shared container (wait_timeout, scaled for %d tasks)",
			    s->timeout_s, s->ntasks);
		case PHPC_WAIT_MORE:
			break;
		}
		if (!watching) {
			/* then look again: what changed before the watch
			 * existed sent no event */
			watching = true;
			ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
			/* IN_CLOSE_WRITE also comes when a killed task 0's files
			 * are closed */
			if (ifd >= 0)
				inotify_add_watch(ifd, s->dir,
				                  IN_MOVED_TO | IN_CLOSE_WRITE | IN_CREATE);
			continue;
		}
		double wait = phpc_shared_poll_wait(left, s->poll_s, LEADER_CHECK_S, leader);
		struct pollfd p = {.fd = ifd, .events = POLLIN};
		char buf[4096];
		if (ifd >= 0 && poll(&p, 1, (int)(wait * 1000) + 1) > 0)
			while (read(ifd, buf, sizeof(buf)) > 0)
				;
		else if (ifd < 0)
			usleep((useconds_t)(wait * 1e6));
	}
}

/* ---- every task: join and run ------------------------------------------------ */

/* What the signal handler needs, set only while phpc_sr_run_task runs (so it
 * is not reentrant: one task per process, as a task is). */
static volatile pid_t child_pid;
static volatile sig_atomic_t pending_sig;

/* Signals for the task (Slurm's SIGTERM on scancel or time limit) go to its
 * command; one that arrives before the command exists is passed on after. */
static void forward(int sig)
{
	pid_t c = child_pid;
	if (c > 0)
		kill(c, sig);
	else
		pending_sig = sig;
}

static const int forwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM};

struct saved_signals {
	struct sigaction old[ARRAY_SIZE(forwarded)];
	int subreaper;
};

static void catch_signals(struct saved_signals *saved)
{
	/* SA_RESTART: the host's other system calls, and ours, go on */
	struct sigaction sa = {.sa_handler = forward, .sa_flags = SA_RESTART};
	sigemptyset(&sa.sa_mask);
	child_pid = 0;
	pending_sig = 0;
	saved->subreaper = 0;
	prctl(PR_GET_CHILD_SUBREAPER, &saved->subreaper, 0, 0, 0);
	/* the command's parent exits first: the command is reparented to us,
	 * and we wait for it */
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	for (size_t i = 0; i < ARRAY_SIZE(forwarded); i++)
		sigaction(forwarded[i], &sa, &saved->old[i]);
}

static void restore_signals(const struct saved_signals *saved)
{
	child_pid = 0; /* first: a late signal must not reach a reused pid */
	for (size_t i = 0; i < ARRAY_SIZE(forwarded); i++)
		sigaction(forwarded[i], &saved->old[i], NULL);
	prctl(PR_SET_CHILD_SUBREAPER, saved->subreaper, 0, 0, 0);
	pending_sig = 0;
}

/* A child of ours about to run an image's program, or to be the monitor:
 * nothing of the host's signal set-up (a host may block or ignore signals
 * the program expects). */
static void default_signals(void)
{
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
}

int phpc_sr_host_pmi_fd(char *const *envp)
{
	const char *v = phpc_env_get(envp, "PMI_FD");
	char *end = NULL;
	if (!v || !*v)
		return -1;
	errno = 0;
	long fd = strtol(v, &end, 10);
	if (*end || errno || fd < 0 || fd > 65535 || fcntl((int)fd, F_GETFD) < 0)
		return -1;
	return (int)fd;
}

/* The command's process: the container's user, capabilities and directory.
 * It holds nothing of the host's but its stdio, PMI_FD (as fd 3, as in
 * NERSC's version) and the pipe that reports a failure to exec. */
static void exec_task(const struct phpc_sr_task *t, const struct phpc_oci_config *c, char **env,
                      int errfd, int pmifd)
{
	struct phpc_error *err = NULL;
	const char *cwd = t->workdir ? t->workdir : c->cwd ? c->cwd : "/";
	/* out of the way of fd 3 first */
	int high = fcntl(errfd, F_DUPFD_CLOEXEC, pmifd > 3 ? pmifd + 1 : 4);
	if (high < 0)
		_exit(127);
	errfd = high;
	if (pmifd >= 0 && pmifd != 3 && dup2(pmifd, 3) != 3)
		_exit(127);
	/* dup2 leaves fd 3 open across exec; one that was already 3 may not be */
	if (pmifd == 3 && fcntl(3, F_SETFD, 0) < 0)
		_exit(127);
	int keep[] = {pmifd >= 0 ? 3 : -1, errfd};
	phpc_close_fds_except(keep, ARRAY_SIZE(keep));
	if (phpc_become(c->uid, c->gid, c->groups, c->ngroups, c->caps, c->no_new_privs, &err) <
	    0) {
		dprintf(errfd, "%s", err->msg);
	} else if (chdir(cwd) < 0) {
		dprintf(errfd, "cannot enter the working directory %s: %s", cwd, strerror(errno));
	} else {
		const char *path = phpc_env_get(env, "PATH");
		_cleanup_free_ char *exe =
		    phpc_find_executable(t->argv[0], path ? path : "/usr/bin:/bin");
		if (exe)
			execve(exe, t->argv, env);
		dprintf(errfd, "%s: %s", t->argv[0],
		        exe ? strerror(errno) : "command not found in the container");
	}
	_exit(127);
}

/* The first child: reads the container's config, builds the task's
 * environment, joins the container's namespaces; a joined pid namespace
 * applies to its own child, which becomes the command. It reports that
 * child's pid ("P<pid>") or why it failed ("E<message>") and exits. It is a
 * process of its own, so the allocations here may abort: only this child
 * would end, and the caller reads "no answer". */
static void join_child(const struct phpc_sr_container *ct, const struct phpc_sr_task *t, int report,
                       int errfd)
{
	struct phpc_error *err = NULL;
	/* Once in the container's user and pid namespaces with its uid, this
	 * process would be open to the container's processes through /proc
	 * (ptrace, /proc/PID/fd) until it execs: not dumpable, and holding no
	 * host fd it does not need (the step's state directory and locks). */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	default_signals();
	int pmifd = phpc_sr_host_pmi_fd(t->host_env);
	int keep[] = {report, errfd, pmifd};
	phpc_close_fds_except(keep, ARRAY_SIZE(keep));
	/* The container's user namespace first: its config.json may belong to
	 * an id of that namespace (podman's --userns=keep-id makes it so),
	 * which only its capabilities can read; then the other namespaces. */
	_cleanup_free_ char *text = NULL;
	struct phpc_oci_config c = {0};
	int r = phpc_nsjoin(ct->pid, CLONE_NEWUSER, &err);
	if (r == 0)
		r = phpc_read_file(AT_FDCWD, ct->config, &text, NULL, &err);
	if (r == 0)
		r = phpc_oci_config_parse(text, "/", &c, &err);
	if (r < 0) {
		dprintf(report, "E%s", err->msg);
		_exit(1);
	}
	_cleanup_strvp_ char **all =
	    phpc_shared_task_env(c.env, t->exec_args, t->user_env, t->host_env);
	struct phpc_strv env = {0};
	for (char **e = all; *e; e++)
		if (!str_has_prefix(*e, "PMI_FD="))
			phpc_strv_add(&env, *e);
	if (pmifd >= 0)
		phpc_strv_add(&env, "PMI_FD=3");
	if (phpc_nsjoin(ct->pid,
	                CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET | CLONE_NEWPID |
	                    CLONE_NEWCGROUP,
	                &err) < 0) {
		dprintf(report, "E%s", err->msg);
		_exit(1);
	}
	pid_t g = fork();
	if (g == 0)
		exec_task(t, &c, env.v, errfd, pmifd);
	if (g < 0) {
		/* e.g. the container's init has gone: its pid namespace takes no
		 * new process */
		dprintf(report, "Ecannot start a process in the container: %s", strerror(errno));
		_exit(1);
	}
	dprintf(report, "P%d", (int)g);
	_exit(0);
}

/* Reads what the joining child reports, through signals (SA_RESTART aside,
 * a read may still end with EINTR). */
static ssize_t read_all(int fd, char *buf, size_t size)
{
	size_t n = 0;
	while (n < size) {
		ssize_t k = read(fd, buf + n, size - n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return n > 0 ? (ssize_t)n : k;
		n += (size_t)k;
	}
	return (ssize_t)n;
}

static pid_t wait_for(pid_t pid, int *st)
{
	pid_t r;
	while ((r = waitpid(pid, st, 0)) < 0 && errno == EINTR)
		;
	return r;
}

/* The joining child's answer: the command's pid (> 0), or an error. */
static int join(const struct phpc_sr_container *c, const struct phpc_sr_task *t, int errw,
                pid_t *cmd, struct phpc_error **err)
{
	int rep[2];
	if (pipe2(rep, O_CLOEXEC) < 0)
		return phpc_error_errno(err, errno, "cannot join the shared container: pipe");
	fflush(NULL);
	pid_t j = fork();
	if (j == 0) {
		close(rep[0]);
		join_child(c, t, rep[1], errw);
	}
	int fork_errno = errno;
	close(rep[1]);
	char buf[1024] = {0};
	ssize_t n = j < 0 ? -1 : read_all(rep[0], buf, sizeof(buf) - 1);
	close(rep[0]);
	int st;
	if (j > 0)
		wait_for(j, &st);
	if (j < 0)
		return phpc_error_errno(err, fork_errno, "cannot join the shared container: fork");
	long pid = n > 1 && buf[0] == 'P' ? strtol(buf + 1, NULL, 10) : 0;
	if (pid <= 0)
		return phpc_error_set(err, EPERM, "cannot join the shared container: %s",
		                      n > 1 && buf[0] == 'E' ? buf + 1 : "no answer");
	*cmd = (pid_t)pid;
	return 0;
}

int phpc_sr_run_task(const struct phpc_sr_container *c, const struct phpc_sr_task *t, int *status,
                     char **failure, bool *started, struct phpc_error **err)
{
	*failure = NULL;
	*started = false;
	int errp[2];
	if (pipe2(errp, O_CLOEXEC) < 0)
		return phpc_error_errno(err, errno, "cannot join the shared container: pipe");
	struct saved_signals saved;
	catch_signals(&saved);
	pid_t cmd = 0;
	int r = join(c, t, errp[1], &cmd, err);
	close(errp[1]);
	if (r < 0) {
		close(errp[0]);
		restore_signals(&saved);
		return r;
	}
	*started = true;
	child_pid = cmd;
	if (pending_sig)
		kill(cmd, pending_sig);
	/* nothing to read once the command runs: the pipe closed on exec */
	char msg[1024] = {0};
	ssize_t m = read_all(errp[0], msg, sizeof(msg) - 1);
	close(errp[0]);
	/* the command's status, without reaping it while signals still go to
	 * its pid: then no signal can reach a pid the kernel has reused */
	siginfo_t info;
	while (waitid(P_PID, (id_t)cmd, &info, WEXITED | WNOWAIT) < 0 && errno == EINTR)
		;
	child_pid = 0;
	int st = 0;
	if (wait_for(cmd, &st) < 0)
		r = phpc_error_errno(err, errno,
		                     "the task's command ran, but its exit status is lost (a "
		                     "process that reaps every child, or SIGCHLD ignored?)");
	restore_signals(&saved);
	if (r < 0)
		return r;
	if (m > 0)
		*failure = strdup(msg); /* NULL on ENOMEM: the status says 127 anyway */
	*status = st;
	return 0;
}
