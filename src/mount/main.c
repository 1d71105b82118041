/* podman-hpc-mount (also installed as fuse-overlayfs-wrap): the
 * mount_program containers/storage runs to mount a container's file system,
 * called as  podman-hpc-mount -o lowerdir=A:B,upperdir=U,workdir=W,... TARGET.
 *
 * A lower whose "<lower>.squash" exists is a squashed image (podman-hpc
 * migrate): the squashfs is mounted with squashfuse_ll (multithreaded) on a
 * private directory next to TARGET, never on the shared store's path, so any
 * number of containers of one image can start at once. The overlay is then
 * mounted with the kernel's overlayfs (no FUSE in the data path for writes; a
 * flattened image has no whiteouts, which the kernel could not read in the
 * AUFS form rootless stores use), or fuse-overlayfs where the kernel refuses.
 * Measured (bench/squash, rootless): python3 -c 1 starts in 259 ms from a
 * squashed image this way against 274 ms from a local image under
 * fuse-overlayfs; every mount point the hook creates costs ~1.2 ms through
 * fuse-overlayfs and microseconds in the kernel's overlayfs.
 * Last, the squash mount is detached: the overlay keeps the only reference,
 * so when podman unmounts the overlay, the squashfs superblock goes away and
 * squashfuse_ll exits by itself. No waiter process, no polling, no leftover
 * mount (NERSC #54).
 *
 * Every other mount is fuse-overlayfs's, as before: rootless stores write
 * AUFS-style whiteouts (".wh.name") that only fuse-overlayfs understands. */
#include "fsutil.h"
#include "proc.h"
#include "strv.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	fputs("Error: podman-hpc-mount: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

struct req {
	char *target;
	struct phpc_strv opts;   /* the -o options, without lowerdir */
	struct phpc_strv lowers; /* top first */
	const char *upper, *work;
	bool volatile_;
};

static char *find(const char *name)
{
	char *p = phpc_find_executable(name, getenv("PATH"));
	return p ? p : phpc_find_executable(name, "/usr/local/bin:/usr/bin:/bin");
}

static void parse(int argc, char **argv, struct req *r)
{
	*r = (struct req){0};
	const char *o = NULL;
	for (int i = 1; i < argc; i++) {
		if (streq(argv[i], "-o") && i + 1 < argc)
			o = argv[++i];
		else if (argv[i][0] != '-')
			r->target = argv[i];
	}
	if (!o || !r->target)
		die("usage: podman-hpc-mount -o lowerdir=...,upperdir=...,workdir=... TARGET");
	struct phpc_strv all = {0};
	phpc_strv_split(&all, o, ',');
	for (size_t i = 0; i < all.n; i++) {
		const char *x = all.v[i];
		if (!*x)
			continue;
		if (str_has_prefix(x, "lowerdir="))
			phpc_strv_split(&r->lowers, x + 9, ':');
		else
			phpc_strv_add(&r->opts, x);
		if (str_has_prefix(x, "upperdir="))
			r->upper = r->opts.v[r->opts.n - 1] + 9;
		else if (str_has_prefix(x, "workdir="))
			r->work = r->opts.v[r->opts.n - 1] + 8;
		else if (streq(x, "volatile"))
			r->volatile_ = true;
	}
	phpc_strv_clear(&all);
}

static bool in_initial_userns(void)
{
	_cleanup_free_ char *map = NULL;
	if (phpc_read_file(AT_FDCWD, "/proc/self/uid_map", &map, NULL, NULL) < 0)
		return true;
	unsigned a, b, c;
	return sscanf(map, "%u %u %u", &a, &b, &c) == 3 && a == 0 && b == 0 && c == 4294967295u;
}

static char *join_lowers(const struct req *r)
{
	return phpc_strv_join(r->lowers.v, ":");
}

/* The kernel's overlayfs, with only the options it knows. */
static int kernel_overlay(const struct req *r)
{
	_cleanup_free_ char *lowers = join_lowers(r);
	_cleanup_free_ char *data = NULL;
	if (r->upper && r->work)
		data = phpc_xasprintf("lowerdir=%s,upperdir=%s,workdir=%s%s%s", lowers, r->upper,
		                      r->work, r->volatile_ ? ",volatile" : "",
		                      in_initial_userns() ? "" : ",userxattr");
	else if (r->lowers.n > 1)
		data = phpc_xasprintf("lowerdir=%s%s", lowers,
		                      in_initial_userns() ? "" : ",userxattr");
	else
		return -EINVAL; /* one lower and no upper: a bind does it */
	return mount("overlay", r->target, "overlay", 0, data) < 0 ? -errno : 0;
}

static int bind_readonly(const char *src, const char *target)
{
	int tree = open_tree(AT_FDCWD, src, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
	if (tree < 0)
		return -errno;
	struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY};
	int r = 0;
	if (mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) < 0 ||
	    move_mount(tree, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		r = -errno;
	close(tree);
	return r;
}

static int run_wait(char *const *argv)
{
	int status = 0;
	struct phpc_error *err = NULL;
	if (phpc_spawn_wait(argv, environ, &status, &err) < 0) {
		fprintf(stderr, "Error: podman-hpc-mount: %s\n", err->msg);
		phpc_error_free(err);
		return -1;
	}
	return phpc_exit_code(status);
}

static int fuse_overlay(const struct req *r, const char *fo)
{
	_cleanup_free_ char *lowers = join_lowers(r);
	struct phpc_strv o = {0};
	phpc_strv_addf(&o, "lowerdir=%s", lowers);
	phpc_strv_extend(&o, r->opts.v);
	_cleanup_free_ char *joined = phpc_strv_join(o.v, ",");
	phpc_strv_clear(&o);
	char *argv[] = {(char *)fo, (char *)"-o", joined, r->target, NULL};
	return run_wait(argv) == 0 ? 0 : -EIO;
}

static int mount_squashed(struct req *r, size_t idx, const char *fo)
{
	_cleanup_free_ char *file = phpc_xasprintf("%s.squash", r->lowers.v[idx]);
	_cleanup_free_ char *tcopy = phpc_xstrdup(r->target);
	_cleanup_free_ char *priv = phpc_xasprintf("%s/phpc-squash-%zu", dirname(tcopy), idx);
	/* a leftover of a killed mount: nothing may hide below a new one */
	umount2(priv, MNT_DETACH);
	if (mkdir(priv, 0700) < 0 && errno != EEXIST)
		die("cannot create %s: %s", priv, strerror(errno));
	_cleanup_free_ char *sqf = find("squashfuse_ll");
	if (!sqf)
		sqf = find("squashfuse");
	if (!sqf)
		die("squashfuse_ll not found: install squashfuse to run squashed images");
	char *argv[] = {sqf, file, priv, NULL};
	if (run_wait(argv) != 0)
		die("cannot mount the squashed image %s", file);
	free(r->lowers.v[idx]);
	r->lowers.v[idx] = phpc_xstrdup(priv);
	int rc = kernel_overlay(r);
	if (rc == -EINVAL && !r->upper && r->lowers.n == 1)
		rc = bind_readonly(priv, r->target);
	if (rc < 0 && fo)
		rc = fuse_overlay(r, fo);
	/* detached, the squash mount lives exactly as long as the overlay */
	umount2(priv, MNT_DETACH);
	rmdir(priv);
	if (rc < 0)
		die("cannot mount %s: %s", r->target, strerror(-rc));
	return 0;
}

int main(int argc, char **argv)
{
	const char *prog = getenv("PODMANHPC_FUSE_OVERLAYFS");
	_cleanup_free_ char *fo = find(prog && *prog ? prog : "fuse-overlayfs");
	struct req r;
	parse(argc, argv, &r);
	for (size_t i = 0; i < r.lowers.n; i++) {
		_cleanup_free_ char *sq = phpc_xasprintf("%s.squash", r.lowers.v[i]);
		if (access(sq, R_OK) == 0)
			return mount_squashed(&r, i, fo);
	}
	if (!fo)
		die("fuse-overlayfs not found on PATH");
	argv[0] = fo;
	execv(fo, argv);
	die("cannot run %s: %s", fo, strerror(errno));
}
