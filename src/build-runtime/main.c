/* podman-hpc-build-runtime: the OCI runtime that `podman-hpc build` gives
 * buildah when site modules are mounted into RUN steps. It runs the real
 * runtime (runc, crun) for every call, and removes the mount points the
 * runtime created for the modules before buildah commits the step, so the
 * image keeps none of them (buildmnt.h).
 *
 * Without podman-hpc's variables it is the real runtime and nothing else. */
#include "buildmnt.h"
#include "fsutil.h"
#include "oci.h"
#include "proc.h"
#include "rootfs.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define PROG "podman-hpc-build-runtime" /* every message on stderr starts so */

/* The runtime the site configured for podman, as the engine's containers.conf
 * names it, else runc. */
static char *real_runtime(void)
{
	const char *v = getenv(PHPC_BUILD_ENV_RUNTIME);
	const char *base = v ? strrchr(v, '/') : NULL;
	/* never ourselves: that would call itself for ever */
	if (v && *v && !streq(base ? base + 1 : v, PROG))
		return phpc_xstrdup(v);
	static const char *const files[] = {"/etc/containers/containers.conf",
	                                    "/usr/share/containers/containers.conf", NULL};
	for (const char *const *f = files; *f; f++) {
		_cleanup_free_ char *text = NULL;
		if (phpc_read_file(AT_FDCWD, *f, &text, NULL, NULL) < 0)
			continue;
		bool engine = false;
		for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
			line += strspn(line, " \t");
			if (line[0] == '[')
				engine = str_has_prefix(line, "[engine]");
			char name[256];
			if (engine && sscanf(line, "runtime = \"%255[^\"]\"", name) == 1)
				return phpc_xstrdup(name);
		}
	}
	return phpc_xstrdup("runc");
}

/* Runs the real runtime (searched in PATH) with our arguments and waits for
 * it. *code gets its exit code, or what a shell would report when it cannot
 * be run (127) or waited for (125). */
static int run_real(const char *real, char **argv, int *code, struct phpc_error **err)
{
	char *saved = argv[0];
	argv[0] = (char *)real;
	pid_t pid;
	int r = posix_spawnp(&pid, real, NULL, NULL, argv, environ);
	argv[0] = saved;
	if (r != 0) {
		*code = 127;
		return phpc_error_errno(err, r, "cannot run %s", real);
	}
	int st = 0;
	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR) {
			*code = 125;
			return phpc_error_errno(err, errno, "cannot wait for %s", real);
		}
	}
	*code = phpc_exit_code(st);
	return 0;
}

/* Before create: the first missing component of each module destination,
 * and the root they are in, into the record named by the container id. */
static int record(const struct phpc_runtime_call *c, int statefd, struct phpc_error **err)
{
	const char *mounts = getenv(PHPC_BUILD_ENV_MOUNTS);
	if (!c->bundle || !mounts || !*mounts)
		return 0;
	_cleanup_free_ char *cpath = phpc_xasprintf("%s/config.json", c->bundle), *text = NULL;
	struct phpc_oci_config cfg = {0};
	int r = phpc_read_file(AT_FDCWD, cpath, &text, NULL, err);
	if (r == 0)
		r = phpc_oci_config_parse(text, c->bundle, &cfg, err);
	if (r < 0)
		return r;
	struct phpc_strv lines = {0}, dests = {0};
	phpc_strv_add(&lines, cfg.root_path);
	phpc_strv_split(&dests, mounts, ':');
	_cleanup_close_ int rootfd = phpc_root_open(cfg.root_path, err);
	r = rootfd < 0 ? rootfd : 0;
	for (size_t i = 0; r == 0 && i < dests.n; i++) {
		char *first = NULL;
		if (!*dests.v[i] || dests.v[i][0] != '/')
			continue;
		r = phpc_buildmnt_first_missing(rootfd, dests.v[i], &first, err);
		if (r == 0 && first)
			phpc_strv_addf(&lines, "%s\t%s", first, dests.v[i]);
		free(first);
	}
	if (r == 0 && lines.n > 1) {
		_cleanup_free_ char *data = phpc_strv_join(lines.v, "\n");
		r = phpc_write_file_atomic(statefd, c->id, data, strlen(data), 0600, err);
	}
	phpc_strv_clear(&lines);
	phpc_strv_clear(&dests);
	phpc_oci_config_clear(&cfg);
	return r;
}

static int deeper_first(const void *a, const void *b)
{
	size_t la = strlen(*(char *const *)a), lb = strlen(*(char *const *)b);
	return la < lb ? 1 : la > lb ? -1 : 0;
}

/* After delete: removes what record() found missing, if still only mount
 * points. One that cannot be removed is a warning, added to warnings. */
static int clean(const struct phpc_runtime_call *c, int statefd, struct phpc_strv *warnings,
                 struct phpc_error **err)
{
	_cleanup_free_ char *text = NULL;
	int r = phpc_read_file(statefd, c->id, &text, NULL, NULL);
	if (r < 0)
		return 0; /* nothing recorded */
	struct phpc_strv lines = {0};
	phpc_strv_split(&lines, text, '\n');
	const char *root = lines.n ? lines.v[0] : "";
	/* the step's root, never the host's */
	struct stat st;
	if (root[0] != '/' || streq(root, "/") || stat(root, &st) < 0 || !S_ISDIR(st.st_mode)) {
		r = phpc_error_set(err, EINVAL, "bad root \"%s\" recorded for %s", root, c->id);
	} else {
		_cleanup_close_ int rootfd = phpc_root_open(root, err);
		r = rootfd < 0 ? rootfd : 0;
		/* the deepest first: a mount point inside another's directory */
		qsort(lines.v + 1, lines.n - 1, sizeof(char *), deeper_first);
		for (size_t i = 1; r == 0 && i < lines.n; i++) {
			struct phpc_error *e = NULL;
			char *tab = strchr(lines.v[i], '\t');
			if (!tab)
				continue;
			*tab = '\0';
			/* one that holds the step's own files stays: say so, go on */
			if (phpc_buildmnt_remove(rootfd, lines.v[i], tab + 1, &e) < 0)
				phpc_strv_add(warnings, e->msg);
			phpc_error_free(e);
		}
	}
	unlinkat(statefd, c->id, 0);
	phpc_strv_clear(&lines);
	return r;
}

int main(int argc, char **argv)
{
	_cleanup_free_ char *real = real_runtime();
	struct phpc_runtime_call call = {0};
	struct phpc_error *err = NULL;
	const char *state = getenv(PHPC_BUILD_ENV_STATE);
	bool ours = state && *state;
	if (ours && phpc_runtime_call_parse(argc, argv, &call, &err) < 0) {
		/* the real runtime judges the call; we only cannot follow it */
		fprintf(stderr,
		        PROG ": warning: %s; the image may keep empty mount points of site "
		             "modules\n",
		        err->msg);
		phpc_error_freep(&err);
		ours = false;
	}
	if (!ours || !call.sub || (!streq(call.sub, "create") && !streq(call.sub, "delete"))) {
		argv[0] = real;
		execvp(real, argv);
		fprintf(stderr, PROG ": cannot run %s: %s\n", real, strerror(errno));
		return 127;
	}
	_cleanup_close_ int statefd = open(state, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int r = statefd < 0 ? phpc_error_errno(&err, errno, "cannot open %s", state) : 0;
	if (r == 0 && streq(call.sub, "create"))
		r = record(&call, statefd, &err);
	if (r < 0) {
		/* the step still runs; its layer may keep empty mount points */
		fprintf(stderr, PROG ": warning: %s\n", err->msg);
		phpc_error_freep(&err);
	}
	int rc = 0;
	if (run_real(real, argv, &rc, &err) < 0) {
		fprintf(stderr, PROG ": %s\n", err->msg);
		phpc_error_freep(&err);
	}
	struct phpc_strv warnings = {0};
	if (streq(call.sub, "delete") && statefd >= 0 &&
	    clean(&call, statefd, &warnings, &err) < 0) {
		phpc_strv_add(&warnings, err->msg);
		phpc_error_freep(&err);
	}
	for (size_t i = 0; i < warnings.n; i++)
		fprintf(stderr, PROG ": warning: %s\n", warnings.v[i]);
	phpc_strv_clear(&warnings);
	return rc;
}
