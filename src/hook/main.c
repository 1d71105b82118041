/* podman-hpc-hook (also installed as hook_tool): the OCI prestart hook that
 * applies the enabled site modules inside a starting container: copy rules,
 * then bind rules, then the image's ldconfig, so injected libraries are found.
 *
 * It runs with the privileges of whoever runs podman (the user, in rootless
 * podman's user namespace; root for root's podman), before the container's
 * process starts. Everything it writes is resolved inside the container's
 * root (rootfs.c); the image's ldconfig runs in the container's namespaces
 * without any capability. Its stderr reaches the user through podman, so a
 * real failure is one line there and a failed start. */
#include "config.h"
#include "fsutil.h"
#include "modules.h"
#include "nsjoin.h"
#include "oci.h"
#include "phpc-build.h"
#include "rootfs.h"
#include "rules.h"
#include "strv.h"
#include "util.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

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

static void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logmsg(const char *fmt, ...)
{
	if (!logf_)
		return;
	va_list ap;
	va_start(ap, fmt);
	fprintf(logf_, "[%7.2f ms] ", elapsed_ms());
	vfprintf(logf_, fmt, ap);
	va_end(ap);
	fputc('\n', logf_);
	fflush(logf_);
}

struct hook {
	struct phpc_oci_state state;
	struct phpc_oci_config cfg;
	struct phpc_modules mods;
	char *modules_dir;
	int rootfd;
	struct phpc_root_cache cache;
	bool applied; /* something was injected: run ldconfig */
};

/* podman-hpc's podman_hpc.env.NAME annotations (the user's values), then the
 * container's environment, then the hook's own. */
static const char *lookup(const char *name, void *data)
{
	struct hook *h = data;
	char key[256];
	snprintf(key, sizeof(key), "podman_hpc.env.%s", name);
	const char *v = phpc_env_get(h->cfg.annotations, key);
	if (!v)
		v = phpc_env_get(h->cfg.env, name);
	return v ? v : getenv(name);
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

static void open_log(struct hook *h)
{
	const char *lf = phpc_env_get(h->cfg.env, "LOG_PLUGIN");
	if (!lf || !*lf)
		return;
	int fd = open(lf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0644);
	if (fd >= 0)
		logf_ = fdopen(fd, "we");
	logmsg("podman-hpc-hook %s: container %s, pid %d, root %s", PHPC_VERSION, h->state.id,
	       (int)h->state.pid, h->cfg.root_path);
}

/* Applies one rule of a module: every match of its source, to its destination. */
static int apply_rule(struct hook *h, const struct phpc_module *m, const char *text, bool bind,
                      struct phpc_error **err)
{
	struct phpc_rule rule;
	struct phpc_strv matches = {0}, dsts = {0};
	_cleanup_free_ char *why = NULL;
	int r = phpc_rule_parse(text, h->modules_dir, lookup, h, &rule, err);
	if (r == 0)
		r = phpc_rule_glob(&rule, &matches, err);
	if (r == 0 && matches.n == 0)
		logmsg("  %s %s: no source matches %s, skipped", bind ? "bind" : "copy", text,
		       rule.src);
	if (r == 0 && matches.n && phpc_rule_destinations(&rule, matches.v, &dsts, &why) < 0)
		logmsg("  %s %s: skipped: %s", bind ? "bind" : "copy", text, why);
	for (size_t i = 0; r == 0 && i < dsts.n; i++) {
		logmsg("  %s %s -> %s%s", bind ? "bind" : "copy", matches.v[i], dsts.v[i],
		       bind && rule.ro ? " (read-only)" : "");
		r = bind ? phpc_root_bind(h->rootfd, &h->cache, matches.v[i], dsts.v[i], rule.ro,
		                          err)
		         : phpc_root_copy(h->rootfd, matches.v[i], dsts.v[i], err);
		h->applied = h->applied || r == 0;
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
		int out = logf_ ? fileno(logf_) : open("/dev/null", O_WRONLY | O_CLOEXEC);
		dup2(out, STDOUT_FILENO);
		dup2(out, STDERR_FILENO);
		pid_t g = fork();
		if (g == 0)
			exec_ldconfig(h);
		int st = 0;
		if (g < 0 || waitpid(g, &st, 0) < 0)
			_exit(125);
		_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	}
	int status = 0;
	if (pid < 0 || wait_timeout(pid, LDCONFIG_TIMEOUT_MS, &status) < 0) {
		logmsg("ldconfig: did not finish, skipped");
		return;
	}
	/* A failing ldconfig leaves the image as it was: logged, not fatal. */
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		logmsg("ldconfig: done");
	else
		logmsg("ldconfig: failed (status %d)", status);
}

static int run(struct hook *h, struct phpc_error **err)
{
	int r = read_input(h, err);
	if (r < 0)
		return r;
	open_log(h);
	const char *md = phpc_env_get(h->cfg.env, "PODMANHPC_MODULES_DIR");
	h->modules_dir = phpc_xstrdup(md && *md ? md : PHPC_SYSCONFDIR "/podman_hpc/modules.d");
	r = phpc_modules_load(h->modules_dir, &h->mods, err);
	if (r < 0)
		return r;

	bool any = false;
	for (size_t i = 0; i < h->mods.n; i++) {
		const struct phpc_module *m = &h->mods.m[i];
		const char *v = m->env ? phpc_env_get(h->cfg.env, m->env) : NULL;
		m->env ? logmsg("module %s: %s=%s: %s", m->name, m->env, v ? v : "(unset)",
		                phpc_str_is_truthy(v) ? "enabled" : "not enabled")
		       : logmsg("module %s: no env, never enabled", m->name);
		any = any || phpc_str_is_truthy(v);
	}
	if (!any)
		return 0; /* the common case: no work, no namespace switch, no ldconfig */
	r = phpc_nsjoin(h->state.pid, CLONE_NEWNS, err);
	if (r < 0)
		return r;
	h->rootfd = phpc_root_open(h->cfg.root_path, err);
	if (h->rootfd < 0)
		return h->rootfd;
	for (size_t i = 0; r == 0 && i < h->mods.n; i++) {
		const struct phpc_module *m = &h->mods.m[i];
		if (m->env && phpc_str_is_truthy(phpc_env_get(h->cfg.env, m->env))) {
			logmsg("applying module %s (%s)", m->name, m->file);
			r = apply_module(h, m, err);
		}
	}
	if (r == 0 && h->applied)
		run_ldconfig(h);
	logmsg("done");
	return r;
}

int main(void)
{
	struct hook h = {.rootfd = -1, .cache = PHPC_ROOT_CACHE_INIT};
	clock_gettime(CLOCK_MONOTONIC, &start_);
	struct phpc_error *err = NULL;
	int r = run(&h, &err);
	if (r < 0) {
		fprintf(stderr, "podman-hpc-hook: %s\n", err ? err->msg : strerror(-r));
		logmsg("error: %s", err ? err->msg : strerror(-r));
	}
	phpc_error_free(err);
	phpc_root_cache_clear(&h.cache);
	if (h.rootfd >= 0)
		close(h.rootfd);
	phpc_modules_clear(&h.mods);
	free(h.modules_dir);
	phpc_oci_config_clear(&h.cfg);
	phpc_oci_state_clear(&h.state);
	if (logf_)
		fclose(logf_);
	return r < 0 ? 1 : 0;
}
