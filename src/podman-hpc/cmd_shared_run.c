/* podman-hpc shared-run [run/exec options] IMAGE COMMAND...: one container
 * per node for all tasks of a job step (spec section 6).
 *
 * Local task 0 starts the container (podman run -d) and records its pid and
 * OCI config in a state file under run_root; every task waits for that file
 * (inotify, bounded by the log2-scaled timeout), then joins the container
 * directly: its namespaces, user, groups, capabilities, no_new_privs, working
 * directory and environment (podman exec semantics), and execs its command
 * with its own stdin/stdout/stderr and PMI_FD: no process in the I/O path,
 * no podman call per task (NERSC's podman exec took ~125 ms per task, #117,
 * #118). podman exec is the fallback when joining fails.
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
 * and a task has yet to arrive. A monitor started by task 0, detached from
 * the step, waits until all tasks have registered (or the start timeout
 * passed), then takes the lock exclusively, which the kernel grants only once
 * every task has exited, even killed by scancel; then it removes the
 * container and the state. The directory is removed only under the exclusive
 * lock, and an arriving task checks, once it holds its shared lock, that its
 * directory and lock file are still the ones in place (else it starts over),
 * so a removal never strands a task that was just arriving. No task ever
 * waits for another's end, so a dying task makes nobody hang. */
#include "commands.h"
#include "fsutil.h"
#include "nsjoin.h"
#include "oci.h"
#include "proc.h"
#include "safedir.h"
#include "shared.h"
#include "util.h"

#include <errno.h>
#include <json.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

struct sr {
	struct phpc_ctx *ctx;
	char *podman;
	char *key;
	char *dir;
	int parentfd; /* run_root/shared-run */
	int dirfd;    /* run_root/shared-run/KEY */
	int lockfd;   /* tasks.lock, shared while this task lives */
	int leaderfd; /* task 0: leader, exclusive until the container is up */
	int ntasks;
	bool leader;
	double poll_s, timeout_s;
	struct phpc_shared_opts opts;
	char **cmd; /* the tasks' command (with the user's --entrypoint first) */
};

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* A killed task 0's lock is free within this time of its end (seconds). */
#define LEADER_CHECK_S 0.05

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* Whether the directory and lock file this task holds are still the step's:
 * a last task may have removed them just before this one got its lock. */
static bool still_current(const struct sr *s, int lockfd)
{
	struct stat d, n, l, m;
	return fstat(s->dirfd, &d) == 0 &&
	       fstatat(s->parentfd, s->key, &n, AT_SYMLINK_NOFOLLOW) == 0 && same_file(&d, &n) &&
	       fstat(lockfd, &l) == 0 &&
	       fstatat(s->dirfd, "tasks.lock", &m, AT_SYMLINK_NOFOLLOW) == 0 && same_file(&l, &m);
}

/* Creates or opens the step's directory and takes the shared lock that
 * keeps it, and the container, while this task lives. */
static int enter(struct sr *s, const char *what, struct phpc_error **err)
{
	for (int attempt = 0; attempt < 100; attempt++) {
		int fd = phpc_dir_open(s->dir, PHPC_DIR_PRIVATE, getuid(), what, err);
		if (fd == -ENOENT && attempt < 99) {
			/* removed between its creation and our opening it */
			phpc_error_free(*err);
			*err = NULL;
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
static int take_leader(struct sr *s, struct phpc_error **err)
{
	_cleanup_free_ char *tmp = phpc_xasprintf(".leader.%d", (int)getpid());
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

/* Task 0 has started the container or written why not: it says so in its
 * lock file, for the monitor ("PID started" or "PID failed"), and lets go. */
static void leader_done(struct sr *s, bool up)
{
	dprintf(s->leaderfd, " %s\n", up ? "started" : "failed");
	close(s->leaderfd);
	s->leaderfd = -1;
}

static int setup(struct sr *s, struct phpc_error **err)
{
	struct phpc_ctx *ctx = s->ctx;
	const struct phpc_config *cfg = ctx->cfg;
	const char *lid = phpc_env_get(ctx->envp, phpc_cfg_str(cfg, PHPC_K_LOCALID_VAR));
	s->leader = !lid || !*lid || strtol(lid, NULL, 10) == 0;
	int r = phpc_shared_ntasks(
	    phpc_env_get(ctx->envp, phpc_cfg_str(cfg, PHPC_K_TASKS_PER_NODE_VAR)),
	    phpc_cfg_str(cfg, PHPC_K_NTASKS_PATTERN), &s->ntasks, err);
	if (r < 0)
		return r;
	s->poll_s = phpc_shared_scale(cfg->v[PHPC_K_WAIT_POLL_INTERVAL].num, s->ntasks);
	s->timeout_s = phpc_shared_scale(cfg->v[PHPC_K_WAIT_TIMEOUT].num, s->ntasks);
	if (ctx->cli.image_idx < 0)
		return phpc_error_set(err, EINVAL,
		                      "shared-run: which image? (podman-hpc shared-run [options] "
		                      "IMAGE COMMAND...)");
	phpc_shared_split(ctx->cli.args.v, ctx->cli.image_idx, &s->opts);
	struct phpc_strv cmd = {0};
	if (s->opts.entrypoint)
		phpc_strv_add(&cmd, s->opts.entrypoint);
	phpc_strv_extend(&cmd, ctx->cli.args.v + ctx->cli.image_idx + 1);
	if (cmd.n == 0)
		return phpc_error_set(err, EINVAL,
		                      "shared-run: what should each task run? "
		                      "(podman-hpc shared-run [options] IMAGE COMMAND...)");
	s->cmd = phpc_strv_steal(&cmd);
	s->key = phpc_shared_key(ctx->envp, getuid(), getppid());
	/* below a world-writable /tmp another user could have made these
	 * first: they are walked and created without following a symlink and
	 * must be the user's, mode 0700 */
	_cleanup_free_ char *what = phpc_xasprintf("run_root (%s)", cfg->v[PHPC_K_RUN_ROOT].source);
	_cleanup_free_ char *parent =
	    phpc_xasprintf("%s/shared-run", phpc_cfg_str(cfg, PHPC_K_RUN_ROOT));
	s->dir = phpc_xasprintf("%s/%s", parent, s->key);
	s->parentfd = phpc_dir_open(parent, PHPC_DIR_PRIVATE, getuid(), what, err);
	if (s->parentfd < 0)
		return s->parentfd;
	r = enter(s, what, err);
	if (r == 0 && s->leader)
		r = take_leader(s, err);
	if (r < 0)
		return r;
	int fd = openat(s->dirfd, "joined", O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
	                0600);
	if (fd < 0 || write(fd, "x", 1) != 1) {
		r = phpc_error_errno(err, errno, "cannot register in %s", s->dir);
		if (fd >= 0)
			close(fd);
		return r;
	}
	close(fd);
	return 0;
}

/* Has task 0 written the state file (the container is up)? */
static bool started(const struct sr *s)
{
	struct stat st;
	return fstatat(s->dirfd, "state.json", &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* Every way out of a task that entered the step: the last one removes the
 * state directory (see the top of this file). */
static void leave(struct sr *s)
{
	if (s->leaderfd >= 0) {
		close(s->leaderfd);
		s->leaderfd = -1;
	}
	if (s->lockfd < 0)
		return;
	if (flock(s->lockfd, LOCK_EX | LOCK_NB) == 0 && still_current(s, s->lockfd)) {
		struct stat st;
		long joined = fstatat(s->dirfd, "joined", &st, AT_SYMLINK_NOFOLLOW) == 0
		                  ? (long)st.st_size
		                  : 0;
		if (phpc_shared_remove_on_leave(joined, s->ntasks, started(s)))
			phpc_rm_rf_at(s->parentfd, s->key);
	}
	close(s->lockfd);
	s->lockfd = -1;
}

/* ---- the monitor: removes the container once every task has gone ---------- */

/* Is the step's directory still in place (not removed by a last task)? */
static bool dir_present(const struct sr *s)
{
	struct stat d, n;
	return fstat(s->dirfd, &d) == 0 &&
	       fstatat(s->parentfd, s->key, &n, AT_SYMLINK_NOFOLLOW) == 0 && same_file(&d, &n);
}

/* podman rm --force of the step's container: whether there was one (podman
 * names what it removed; --force makes a missing one no error). */
static bool remove_container(struct sr *s)
{
	struct phpc_strv a = {0};
	static const char *const rm[] = {"rm", "--force", "--time", "0", NULL};
	phpc_ctx_podman_cmd(s->ctx, s->podman, rm, &a);
	phpc_strv_add(&a, s->key);
	_cleanup_strvp_ char **env = phpc_ctx_podman_env(s->ctx, false);
	_cleanup_free_ char *out = NULL;
	int status = 0;
	int r = phpc_spawn_capture_quiet(a.v, env, &out, &status, NULL);
	phpc_strv_clear(&a);
	return r == 0 && out && out[strspn(out, " \n")];
}

static void monitor(struct sr *s)
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
	bool removed = remove_container(s);
	/* still under the exclusive lock: an arriving task waits for it, then
	 * sees that its directory is gone and makes a new one */
	if (fd >= 0 && still_current(s, fd))
		phpc_rm_rf_at(s->parentfd, s->key);
	if (fd >= 0)
		close(fd);
	/* Task 0 died while starting the container: its podman run, left
	 * running, may still create it, as long as the tasks would have waited
	 * for it. */
	while (!done && !removed && now() < start + s->timeout_s + 5) {
		sleep(1);
		removed = remove_container(s);
	}
	_exit(0);
}

/* Detached from the step (its own session, no inherited output: srun waits
 * for every holder of the tasks' stdout to go). */
static int start_monitor(struct sr *s, struct phpc_error **err)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		return phpc_error_errno(err, errno, "fork");
	if (pid > 0) {
		int st;
		waitpid(pid, &st, 0);
		return 0;
	}
	setsid();
	if (fork() != 0)
		_exit(0);
	/* its shared lock would block its own exclusive one, and task 0's
	 * lock must go with task 0 */
	close(s->lockfd);
	close(s->leaderfd);
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	for (int fd = 0; fd < 3; fd++)
		dup2(null, fd);
	for (int fd = 3; fd < 1024; fd++)
		if (fd != s->dirfd && fd != s->parentfd)
			close(fd);
	monitor(s);
	return 0;
}

/* ---- task 0: start the container ------------------------------------------- */

static int fail_state(struct sr *s, const char *msg)
{
	return phpc_write_file_atomic(s->dirfd, "failed", msg, strlen(msg), 0600, NULL);
}

static int start_container(struct sr *s, struct phpc_error **err)
{
	struct phpc_ctx *ctx = s->ctx;
	char **sc = phpc_cfg_list(ctx->cfg, PHPC_K_SHARED_RUN_COMMAND);
	if (!sc[0])
		return phpc_error_set(err, EINVAL, "shared_run_command is empty");
	/* podman run -d --rm --name KEY --entrypoint CMD0 [user's run options]
	 * [site defaults, modules] IMAGE CMD1...: built by the same assembly
	 * as run, with the arguments swapped in */
	struct phpc_strv args = {0};
	const char *const head[] = {"-d", "--rm", "--name", s->key, "--entrypoint", sc[0], NULL};
	phpc_strv_extend(&args, (char *const *)head);
	phpc_strv_extend(&args, s->opts.run.v);
	phpc_strv_add(&args, ctx->cli.args.v[ctx->cli.image_idx]);
	phpc_strv_extend(&args, sc + 1);
	struct phpc_strv user_args = ctx->cli.args, user_cmd = ctx->cli.cmd;
	ctx->cli.args = args;
	ctx->cli.cmd = (struct phpc_strv){0};
	phpc_strv_add(&ctx->cli.cmd, "run");
	_cleanup_strvp_ char **argv = phpc_podman_argv(ctx->cfg, &ctx->cli, &ctx->mods, false);
	phpc_strv_clear(&ctx->cli.cmd);
	phpc_strv_clear(&ctx->cli.args);
	ctx->cli.args = user_args;
	ctx->cli.cmd = user_cmd;
	free(argv[0]);
	argv[0] = phpc_xstrdup(s->podman);
	_cleanup_strvp_ char **env = phpc_ctx_podman_env(ctx, false);
	_cleanup_free_ char *out = NULL;
	int status = 0;
	int r = phpc_spawn_capture(argv, env, &out, NULL, &status, err);
	if (r == 0 && phpc_exit_code(status) != 0)
		r = phpc_error_set(err, EIO,
		                   "the shared container did not start (podman run exit %d)",
		                   phpc_exit_code(status));
	if (r < 0)
		return r;
	out[strcspn(out, "\n")] = '\0';
	/* its pid and OCI config, where podman keeps them: no podman inspect */
	_cleanup_free_ char *pidf = phpc_xasprintf("%s/overlay-containers/%s/userdata/pidfile",
	                                           phpc_cfg_str(ctx->cfg, PHPC_K_RUN_ROOT), out);
	_cleanup_free_ char *pidtext = NULL;
	r = phpc_read_file(AT_FDCWD, pidf, &pidtext, NULL, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *config =
	    phpc_xasprintf("%s/overlay-containers/%s/userdata/config.json",
	                   phpc_cfg_str(ctx->cfg, PHPC_K_GRAPH_ROOT), out);
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_string(out));
	json_object_object_add(o, "pid", json_object_new_int64(strtol(pidtext, NULL, 10)));
	json_object_object_add(o, "config", json_object_new_string(config));
	_cleanup_free_ char *state = phpc_xstrdup(json_object_to_json_string(o));
	json_object_put(o);
	return phpc_write_file_atomic(s->dirfd, "state.json", state, strlen(state), 0600, err);
}

/* ---- every task: wait for the container ------------------------------------ */

/* A small file of the state directory, or NULL; never through a symlink. */
static char *read_state_file(const struct sr *s, const char *name)
{
	_cleanup_close_ int fd = openat(s->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	char *text = NULL;
	if (fd < 0 || phpc_read_fd(fd, name, &text, NULL, NULL) < 0)
		return NULL;
	return text;
}

/* Looks at task 0's lock (opening its file once it exists: *fd, *pid). */
static enum phpc_shared_leader observe_leader(const struct sr *s, int *fd, long *pid)
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

static int leader_gone(const struct sr *s, long pid, struct phpc_error **err)
{
	char host[256] = "";
	gethostname(host, sizeof(host) - 1);
	_cleanup_free_ char *who =
	    pid > 0 ? phpc_xasprintf("%s, pid %ld", host, pid) : phpc_xstrdup(host);
	return phpc_error_set(err, EIO,
	                      "local task 0 on this node (%s) exited before the shared container "
	                      "of this step was started: its own error message says why; if it "
	                      "has none, it was killed (see the job's output for task 0 and the "
	                      "node's slurmd log)",
	                      who);
}

static int parse_state(const struct sr *s, const char *text, pid_t *pid, char **config,
                       struct phpc_error **err)
{
	struct json_object *o = json_tokener_parse(text), *p = NULL, *c = NULL;
	int r = 0;
	if (o && json_object_object_get_ex(o, "pid", &p) &&
	    json_object_object_get_ex(o, "config", &c) && json_object_get_int64(p) > 0) {
		*pid = (pid_t)json_object_get_int64(p);
		*config = phpc_xstrdup(json_object_get_string(c));
	} else {
		r = phpc_error_set(err, EINVAL, "%s/state.json is not valid", s->dir);
	}
	if (o)
		json_object_put(o);
	return r;
}

static int wait_state(struct sr *s, pid_t *pid, char **config, struct phpc_error **err)
{
	_cleanup_close_ int ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	/* IN_CLOSE_WRITE also comes when a killed task 0's files are closed */
	if (ifd >= 0)
		inotify_add_watch(ifd, s->dir, IN_MOVED_TO | IN_CLOSE_WRITE | IN_CREATE);
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
			return parse_state(s, state, pid, config, err);
		case PHPC_WAIT_FAILED:
			return phpc_error_set(err, EIO,
			                      "the shared container of this step did not start: %s",
			                      failed);
		case PHPC_WAIT_LEADER_GONE:
			return leader_gone(s, leader_pid, err);
		case PHPC_WAIT_TIMEOUT:
			return phpc_error_set(
			    err, ETIMEDOUT,
			    "timed out after %gs waiting for local task 0 to start the "
			    "shared container (wait_timeout, scaled for %d tasks)",
			    s->timeout_s, s->ntasks);
		case PHPC_WAIT_MORE:
			break;
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

static volatile pid_t child_pid;
static volatile sig_atomic_t pending_sig;

/* Signals for the task (Slurm's SIGTERM on scancel or time limit) go to its
 * command; one that arrives before the command exists is passed on after. */
static void forward(int sig)
{
	if (child_pid > 0)
		kill(child_pid, sig);
	else
		pending_sig = sig;
}

static void catch_signals(void)
{
	struct sigaction sa = {.sa_handler = forward};
	sigemptyset(&sa.sa_mask);
	static const int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM};
	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
		sigaction(sigs[i], &sa, NULL);
}

/* The process manager's fd, from podman-hpc's own environment only: the
 * container's PMI_FD is the image's to set, and would name a host fd. */
static int host_pmi_fd(char *const *envp)
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
static void exec_task(struct sr *s, const struct phpc_oci_config *c, char **env, int errfd,
                      int pmifd)
{
	struct phpc_error *err = NULL;
	const char *cwd = s->opts.workdir ? s->opts.workdir : c->cwd;
	signal(SIGTERM, SIG_DFL);
	/* out of the way of fd 3 first */
	int high = fcntl(errfd, F_DUPFD_CLOEXEC, pmifd > 3 ? pmifd + 1 : 4);
	if (high < 0)
		_exit(127);
	errfd = high;
	if (pmifd >= 0 && pmifd != 3 && dup2(pmifd, 3) != 3)
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
		    phpc_find_executable(s->cmd[0], path ? path : "/usr/bin:/bin");
		if (exe)
			execve(exe, s->cmd, env);
		dprintf(errfd, "%s: %s", s->cmd[0],
		        exe ? strerror(errno) : "command not found in the container");
	}
	_exit(127);
}

/* The first child joins the container's namespaces; a joined pid namespace
 * applies to its own child, which becomes the command. The first child
 * reports that child's pid (or why it failed) and exits; the task process,
 * a subreaper, then waits for the command itself. */
static void join_child(struct sr *s, pid_t cpid, const struct phpc_oci_config *c, char **env,
                       int report, int errfd, int pmifd)
{
	struct phpc_error *err = NULL;
	/* Once in the container's user and pid namespaces with its uid, this
	 * process would be open to the container's processes through /proc
	 * (ptrace, /proc/PID/fd) until it execs: not dumpable, and holding no
	 * host fd it does not need (the step's state directory and locks). */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	int keep[] = {report, errfd, pmifd};
	phpc_close_fds_except(keep, ARRAY_SIZE(keep));
	if (phpc_nsjoin(cpid,
	                CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET |
	                    CLONE_NEWPID | CLONE_NEWCGROUP,
	                &err) < 0) {
		dprintf(report, "E%s", err->msg);
		_exit(1);
	}
	pid_t g = fork();
	if (g == 0)
		exec_task(s, c, env, errfd, pmifd);
	dprintf(report, "P%d", (int)g);
	_exit(0);
}

/* Joins and runs the command; *code is its exit code. A failure to join is
 * an error (the caller falls back to podman exec); a command that cannot run
 * is the task's failure, told on stderr, exit 127. */
static int run_joined(struct sr *s, pid_t cpid, const char *config, int *code,
                      struct phpc_error **err)
{
	_cleanup_free_ char *text = NULL;
	struct phpc_oci_config c = {0};
	int r = phpc_read_file(AT_FDCWD, config, &text, NULL, err);
	if (r == 0)
		r = phpc_oci_config_parse(text, "/", &c, err);
	if (r < 0)
		return r;
	_cleanup_strvp_ char **all =
	    phpc_shared_task_env(c.env, phpc_cfg_list(s->ctx->cfg, PHPC_K_SHARED_RUN_EXEC_ARGS),
	                         s->opts.env.v, s->ctx->envp);
	int pmifd = host_pmi_fd(s->ctx->envp);
	struct phpc_strv tenv = {0};
	for (char **e = all; *e; e++)
		if (!str_has_prefix(*e, "PMI_FD="))
			phpc_strv_add(&tenv, *e);
	if (pmifd >= 0)
		phpc_strv_add(&tenv, "PMI_FD=3");
	_cleanup_strvp_ char **env = phpc_strv_steal(&tenv);
	int rep[2], errp[2];
	if (pipe2(rep, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
		phpc_oci_config_clear(&c);
		return phpc_error_errno(err, errno, "pipe");
	}
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	catch_signals();
	fflush(NULL);
	pid_t j = fork();
	if (j == 0) {
		close(rep[0]);
		close(errp[0]);
		join_child(s, cpid, &c, env, rep[1], errp[1], pmifd);
	}
	close(rep[1]);
	close(errp[1]);
	char buf[1024] = {0};
	ssize_t n = read(rep[0], buf, sizeof(buf) - 1);
	close(rep[0]);
	int st;
	waitpid(j, &st, 0);
	phpc_oci_config_clear(&c);
	if (n <= 0 || buf[0] == 'E') {
		close(errp[0]);
		return phpc_error_set(err, EPERM, "cannot join the shared container: %s",
		                      n > 0 ? buf + 1 : "no answer");
	}
	child_pid = (pid_t)strtol(buf + 1, NULL, 10);
	if (pending_sig)
		kill(child_pid, pending_sig);
	/* nothing to read once the command runs: the pipe closed on exec */
	char msg[1024] = {0};
	ssize_t m = read(errp[0], msg, sizeof(msg) - 1);
	close(errp[0]);
	while (waitpid(child_pid, &st, 0) < 0)
		if (errno != EINTR)
			return phpc_error_errno(err, errno, "waiting for the task");
	if (m > 0)
		fprintf(stderr, "Error: %s\n", msg);
	*code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	if (WIFSIGNALED(st)) {
		/* end the same way, so that srun reports the signal */
		leave(s);
		signal(WTERMSIG(st), SIG_DFL);
		raise(WTERMSIG(st));
	}
	return 0;
}

/* podman exec, when joining is not possible. */
static int run_exec(struct sr *s, int *code, struct phpc_error **err)
{
	struct phpc_strv a = {0};
	static const char *const ex[] = {"exec", NULL};
	phpc_ctx_podman_cmd(s->ctx, s->podman, ex, &a);
	phpc_strv_extend(&a, phpc_cfg_list(s->ctx->cfg, PHPC_K_SHARED_RUN_EXEC_ARGS));
	for (size_t i = 0; i < s->opts.env.n; i++) {
		phpc_strv_add(&a, "-e");
		phpc_strv_add(&a, s->opts.env.v[i]);
	}
	if (s->opts.workdir) {
		phpc_strv_add(&a, "-w");
		phpc_strv_add(&a, s->opts.workdir);
	}
	if (s->opts.user) {
		phpc_strv_add(&a, "-u");
		phpc_strv_add(&a, s->opts.user);
	}
	phpc_strv_add(&a, "-i");
	if (s->opts.tty && isatty(STDIN_FILENO))
		phpc_strv_add(&a, "-t");
	phpc_strv_add(&a, s->key);
	phpc_strv_extend(&a, s->cmd);
	_cleanup_strvp_ char **env = phpc_ctx_podman_env(s->ctx, false);
	int status = 0;
	int r = phpc_spawn_wait(a.v, env, &status, err);
	phpc_strv_clear(&a);
	*code = phpc_exit_code(status);
	return r;
}

int cmd_shared_run(struct phpc_ctx *ctx, struct phpc_error **err)
{
	struct sr s = {.ctx = ctx, .parentfd = -1, .dirfd = -1, .lockfd = -1, .leaderfd = -1};
	int r = phpc_ctx_load_config(ctx, err);
	if (r == 0)
		r = phpc_ctx_parse_modules(ctx, err);
	if (r == 0)
		r = phpc_ctx_podman_path(ctx, &s.podman, err);
	if (r == 0)
		r = setup(&s, err);
	/* only task 0 starts podman: the others need none of its preparation,
	 * and on a node with 64 tasks every millisecond counts 64 times */
	if (r == 0 && s.leader)
		r = phpc_ctx_apply_modules(ctx, err);
	if (r == 0 && s.leader)
		r = phpc_ctx_prepare_storage(ctx, err);
	if (r == 0 && s.leader)
		r = start_monitor(&s, err);
	if (r == 0 && s.leader)
		r = start_container(&s, err);
	if (s.leaderfd >= 0) {
		/* task 0 tells the others why, then lets go of its lock */
		if (r < 0)
			fail_state(&s, (*err)->msg);
		leader_done(&s, r == 0);
	}
	pid_t cpid = 0;
	_cleanup_free_ char *config = NULL;
	if (r == 0)
		r = wait_state(&s, &cpid, &config, err);
	int code = 0;
	if (r == 0 && s.opts.user) {
		/* a user name needs the container's /etc/passwd: podman exec knows */
		r = run_exec(&s, &code, err);
	} else if (r == 0 && run_joined(&s, cpid, config, &code, err) < 0) {
		phpc_warn("%s; using podman exec", (*err)->msg);
		phpc_error_free(*err);
		*err = NULL;
		r = run_exec(&s, &code, err);
	}
	leave(&s);
	phpc_shared_opts_clear(&s.opts);
	phpc_strv_free(s.cmd);
	free(s.key);
	free(s.dir);
	free(s.podman);
	if (s.dirfd >= 0)
		close(s.dirfd);
	if (s.parentfd >= 0)
		close(s.parentfd);
	return r < 0 ? r : code;
}
