/* podman-hpc-hook (also installed as hook_tool): the OCI prestart hook that
 * applies the enabled site modules inside a starting container: copy rules,
 * then bind rules, then the image's ldconfig when a library was injected, so
 * that it is found.
 *
 * It runs with the privileges of whoever runs podman (the user, in rootless
 * podman's user namespace; root for root's podman), before the container's
 * process starts. Everything it writes is resolved inside the container's
 * root (rootfs.c); the image's ldconfig runs in the container's namespaces
 * without any capability. Its stderr reaches the user through podman, so a
 * real failure is one line there and a failed start.
 *
 * It acts only on the request podman-hpc wrote for this container
 * (request.h): which modules, the values of their rules' variables, and the
 * log file are the user's decisions. Nothing the image sets (environment,
 * labels, annotations) is read for them; a container started without
 * podman-hpc's request gets nothing from this hook. */
#include "env.h"
#include "fsutil.h"
#include "modules.h"
#include "nsjoin.h"
#include "oci.h"
#include "phpc-build.h"
#include "proc.h"
#include "request.h"
#include "rootfs.h"
#include "rules.h"
#include "strv.h"
#include "util.h"

#include <errno.h>
#include <linux/openat2.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#define PROG                "podman-hpc-hook" /* every message on stderr starts so */
#define LDCONFIG_TIMEOUT_MS 30000

static FILE *logf_; /* LOG_PLUGIN, or NULL */
static struct timespec start_;

static double elapsed_ms(void)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start_.tv_sec) * 1e3 +
	       (double)(now.tv_nsec - start_.tv_nsec) / 1e6;
}

/* Writes s with every byte an image could use to forge lines or drive a
 * terminal (control characters, DEL, backslash) escaped: paths and error
 * messages may carry the image's file names. */
static void put_escaped(FILE *f, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p < 0x20 || *p == 0x7f || *p == '\\')
			fprintf(f, "\\x%02x", *p);
		else
			fputc(*p, f);
	}
}

static void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logmsg(const char *fmt, ...)
{
	if (!logf_)
		return;
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *line = phpc_xvasprintf(fmt, ap);
	va_end(ap);
	fprintf(logf_, "[%7.2f ms] ", elapsed_ms());
	put_escaped(logf_, line);
	fputc('\n', logf_);
	fflush(logf_);
}

struct hook {
	struct phpc_oci_state state;
	struct phpc_oci_config cfg;
	struct phpc_request req;
	struct phpc_modules mods;
	char *modules_dir;
	int rootfd;
	struct phpc_root_cache cache;
	bool needs_ldconfig;        /* a library or the loader's config was injected */
	struct phpc_error *warning; /* not fatal: main() prints it */
};

/* Rule variables take the user's values from the request, and nothing else:
 * the container's environment is the image's to set. */
static const char *lookup(const char *name, void *data)
{
	struct hook *h = data;
	return phpc_request_env(&h->req, name);
}

static int read_input(struct hook *h, struct phpc_error **err)
{
	_cleanup_free_ char *in = NULL, *cj = NULL;
	int r = phpc_read_fd(STDIN_FILENO, "standard input", &in, NULL, err);
	if (r == 0)
		r = phpc_oci_state_parse(in, &h->state, err);
	if (r < 0)
		return phpc_error_prefix(err, "reading the container state");
	_cleanup_free_ char *path = phpc_xasprintf("%s/config.json", h->state.bundle);
	r = phpc_read_file(AT_FDCWD, path, &cj, NULL, err);
	if (r == 0)
		r = phpc_oci_config_parse(cj, h->state.bundle, &h->cfg, err);
	return r;
}

/* LOG_PLUGIN, as the user asked for it: a new file is created mode 0600; an
 * existing one is appended to only if it is a regular file of ours with a
 * single link; no symlink is followed anywhere in the path (podman-hpc
 * resolved the directory's as the user). Never truncated. Returns the fd or
 * a negative errno. */
static int open_log_fd(const char *path)
{
	struct open_how how = {.flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY,
	                       .mode = 0600,
	                       .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS};
	int fd = (int)syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how));
	if (fd >= 0)
		return fd;
	if (errno != EEXIST)
		return -errno;
	how.flags = O_WRONLY | O_APPEND | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;
	how.mode = 0;
	fd = (int)syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how));
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    st.st_nlink != 1) {
		close(fd);
		return -EPERM;
	}
	return fd;
}

/* A log that cannot be opened is not fatal: the container starts without
 * it, and *warn says why. */
static void open_log(struct hook *h, struct phpc_error **warn)
{
	if (!h->req.log)
		return;
	int fd = open_log_fd(h->req.log);
	if (fd < 0) {
		phpc_error_set(warn, -fd,
		               "not logging to LOG_PLUGIN=%s: %s (it must be a new file, or a "
		               "regular file of yours with one link, reached without symlinks)",
		               h->req.log, strerror(-fd));
		return;
	}
	logf_ = fdopen(fd, "a");
	if (!logf_) {
		phpc_error_errno(warn, errno, "not logging to LOG_PLUGIN=%s", h->req.log);
		close(fd);
	}
	logmsg(PROG " %s: container %s, pid %d, root %s", PHPC_VERSION, h->state.id,
	       (int)h->state.pid, h->cfg.root_path);
}

/* Whether src injected at dst needs the image's ldconfig (rules.h); only a
 * name that is not a library's costs a stat, to see a directory. */
static bool injects_library(const char *src, const char *dst)
{
	if (phpc_rule_needs_ldconfig(dst, false))
		return true;
	struct stat st;
	return stat(src, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Applies one rule of a module: every match of its source, to its destination. */
static int apply_rule(struct hook *h, const struct phpc_module *m, const char *text, bool bind,
                      struct phpc_error **err)
{
	struct phpc_rule rule;
	struct phpc_strv matches = {0}, dsts = {0};
	_cleanup_error_ struct phpc_error *skip = NULL;
	int r = phpc_rule_parse(text, h->modules_dir, lookup, h, &rule, err);
	if (r == 0)
		r = phpc_rule_glob(&rule, &matches, err);
	if (r == 0 && matches.n == 0)
		logmsg("  %s %s: no source matches %s, skipped", bind ? "bind" : "copy", text,
		       rule.src);
	/* a rule that cannot apply is skipped with a log line, not an error */
	if (r == 0 && matches.n && phpc_rule_destinations(&rule, matches.v, &dsts, &skip) < 0)
		logmsg("  %s %s: skipped: %s", bind ? "bind" : "copy", text, skip->msg);
	for (size_t i = 0; r == 0 && i < dsts.n; i++) {
		logmsg("  %s %s -> %s%s", bind ? "bind" : "copy", matches.v[i], dsts.v[i],
		       bind && rule.ro ? " (read-only)" : "");
		r = bind ? phpc_root_bind(h->rootfd, &h->cache, matches.v[i], dsts.v[i], rule.ro,
		                          err)
		         : phpc_root_copy(h->rootfd, matches.v[i], dsts.v[i], err);
		if (r == 0 && !h->needs_ldconfig)
			h->needs_ldconfig = injects_library(matches.v[i], dsts.v[i]);
	}
	phpc_strv_clear(&matches);
	phpc_strv_clear(&dsts);
	phpc_rule_clear(&rule);
	if (r < 0)
		return phpc_error_prefix(err, "module %s", m->name);
	return 0;
}

static int apply_module(struct hook *h, const struct phpc_module *m, struct phpc_error **err)
{
	int r = 0;
	for (char **c = m->copy; r == 0 && c && *c; c++)
		r = apply_rule(h, m, *c, false, err);
	for (char **b = m->bind; r == 0 && b && *b; b++)
		r = apply_rule(h, m, *b, true, err);
	return r;
}

/* Waits for pid at most ms milliseconds; kills it after that. */
static int wait_timeout(pid_t pid, int ms, int *status)
{
	int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pfd >= 0) {
		struct pollfd p = {.fd = pfd, .events = POLLIN};
		int n;
		do
			n = poll(&p, 1, ms);
		while (n < 0 && errno == EINTR);
		close(pfd);
		if (n == 0) {
			kill(pid, SIGKILL);
			waitpid(pid, status, 0);
			return -ETIMEDOUT;
		}
	}
	while (waitpid(pid, status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

/* The grandchild: in the container's namespaces and root, without privileges. */
static void exec_ldconfig(struct hook *h)
{
	struct phpc_error *err = NULL;
	if (chroot(h->cfg.root_path) < 0 || chdir("/") < 0 || phpc_drop_all_caps(&err) < 0)
		_exit(126);
	static char prog[] = "/sbin/ldconfig", path[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
	char *argv[] = {prog, NULL};
	char *envp[] = {path, NULL};
	execve(argv[0], argv, envp);
	_exit(127);
}

static void run_ldconfig(struct hook *h)
{
	int fd = phpc_root_openat(h->rootfd, "/sbin/ldconfig", O_PATH, 0);
	if (fd < 0) {
		logmsg("ldconfig: the image has no /sbin/ldconfig, skipped");
		return;
	}
	close(fd);
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		struct phpc_error *err = NULL;
		/* the image's program runs in the container's namespaces (mnt is
		 * already joined), never in the host's */
		if (phpc_nsjoin(h->state.pid,
		                CLONE_NEWUSER | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET |
		                    CLONE_NEWPID | CLONE_NEWCGROUP,
		                &err) < 0)
			_exit(125);
		/* The image's program gets nothing of the host's: not the log
		 * (it could read the user's earlier lines or write unescaped
		 * ones), not any other fd of the hook. */
		int out = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (out < 0 || dup2(out, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0 ||
		    dup2(out, STDERR_FILENO) < 0)
			_exit(125);
		phpc_close_fds_except(NULL, 0);
		pid_t g = fork();
		if (g == 0) {
			/* killed with this process at the time limit, not left
			 * running in the container */
			prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
			exec_ldconfig(h);
		}
		int st = 0;
		if (g < 0 || waitpid(g, &st, 0) < 0)
			_exit(125);
		_exit(phpc_exit_code(st));
	}
	int status = 0;
	if (pid < 0 || wait_timeout(pid, LDCONFIG_TIMEOUT_MS, &status) < 0) {
		logmsg("ldconfig: did not finish, skipped");
		return;
	}
	/* A failing ldconfig leaves the image as it was: logged, not fatal.
	 * Besides ldconfig's own codes: 125, the container's namespaces could
	 * not be joined; 126, chroot or dropping capabilities failed; 127, no
	 * exec; 128+N, killed by signal N. */
	int code = phpc_exit_code(status);
	if (code == 0)
		logmsg("ldconfig: done");
	else
		logmsg("ldconfig: failed (exit code %d)", code);
}

/* The modules the request names, in the site's file order. */
static int requested(struct hook *h, bool *on, struct phpc_error **err)
{
	for (size_t i = 0; i < h->req.modules.n; i++) {
		int m = phpc_modules_find_name(&h->mods, h->req.modules.v[i]);
		if (m < 0)
			return phpc_error_set(err, ENOENT, "module %s is not in %s",
			                      h->req.modules.v[i], h->modules_dir);
		on[m] = true;
	}
	return 0;
}

static int run(struct hook *h, struct phpc_error **err)
{
	int r = read_input(h, err);
	if (r < 0)
		return r;
	/* Without podman-hpc's request (a plain podman run, an image that
	 * carries our annotations, a buildah RUN step) there is nothing to do. */
	const char *token = phpc_env_get(h->cfg.annotations, PHPC_REQUEST_ANNOTATION);
	if (!token)
		return 0;
	r = phpc_request_load(h->state.bundle, h->state.id, token, &h->req, err);
	if (r == -ENOENT && !(err && *err))
		return 0;
	if (r < 0)
		return phpc_error_prefix(err, "the podman-hpc request of this container");
	open_log(h, &h->warning);
	h->modules_dir = phpc_xstrdup(h->req.modules_dir);
	r = phpc_modules_load(h->modules_dir, &h->mods, err);
	if (r < 0)
		return r;
	_cleanup_free_ bool *on = phpc_xcalloc(h->mods.n ? h->mods.n : 1, sizeof(bool));
	r = requested(h, on, err);
	if (r < 0)
		return r;
	bool any = false;
	for (size_t i = 0; i < h->mods.n; i++) {
		logmsg("module %s: %s", h->mods.m[i].name,
		       on[i] ? "requested by the user" : "not requested");
		any = any || on[i];
	}
	if (!any) {
		logmsg("done");
		return 0;
	}
	r = phpc_nsjoin(h->state.pid, CLONE_NEWNS, err);
	if (r < 0)
		return r;
	h->rootfd = phpc_root_open(h->cfg.root_path, err);
	if (h->rootfd < 0)
		return h->rootfd;
	for (size_t i = 0; r == 0 && i < h->mods.n; i++) {
		if (!on[i])
			continue;
		logmsg("applying module %s (%s)", h->mods.m[i].name, h->mods.m[i].file);
		r = apply_module(h, &h->mods.m[i], err);
	}
	if (r == 0 && h->needs_ldconfig)
		run_ldconfig(h);
	else if (r == 0)
		logmsg("ldconfig: not needed (no library, directory or ld.so.conf injected)");
	logmsg("done");
	return r;
}

int main(void)
{
	struct hook h = {.rootfd = -1, .cache = PHPC_ROOT_CACHE_INIT};
	clock_gettime(CLOCK_MONOTONIC, &start_);
	struct phpc_error *err = NULL;
	int r = run(&h, &err);
	if (h.warning) {
		fputs(PROG ": warning: ", stderr);
		put_escaped(stderr, h.warning->msg);
		fputc('\n', stderr);
	}
	if (r < 0) {
		fputs(PROG ": ", stderr);
		put_escaped(stderr, err ? err->msg : strerror(-r));
		fputc('\n', stderr);
		logmsg("error: %s", err ? err->msg : strerror(-r));
	}
	phpc_error_free(err);
	phpc_error_free(h.warning);
	phpc_root_cache_clear(&h.cache);
	if (h.rootfd >= 0)
		close(h.rootfd);
	phpc_modules_clear(&h.mods);
	free(h.modules_dir);
	phpc_oci_config_clear(&h.cfg);
	phpc_oci_state_clear(&h.state);
	phpc_request_clear(&h.req);
	if (logf_)
		fclose(logf_);
	return r < 0 ? 1 : 0;
}
