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
 * An image of the local store gets the kernel's overlayfs too when none of
 * its layers, nor the container's upper directory, holds what only
 * fuse-overlayfs understands: rootless stores unpack a deleted file as an
 * AUFS-style whiteout (".wh.name"), which the kernel would ignore. Each
 * layer is scanned once and the answer kept beside it. Everything else is
 * fuse-overlayfs's, as before (PODMANHPC_NO_KERNEL_OVERLAY=1 forces that). */
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

#define PROG "podman-hpc-mount" /* every message on stderr starts so */

struct req {
	char *target;
	struct phpc_strv opts;   /* the -o options, without lowerdir */
	struct phpc_strv lowers; /* top first */
	const char *upper, *work;
	bool volatile_;
};

static void req_clear(struct req *r)
{
	phpc_strv_clear(&r->opts);
	phpc_strv_clear(&r->lowers);
	*r = (struct req){0};
}

/* A failed attempt that a fallback follows is no error. */
static void forget(struct phpc_error **err)
{
	if (err)
		phpc_error_freep(err);
}

static char *find(const char *name)
{
	char *p = phpc_find_executable(name, getenv("PATH"));
	return p ? p : phpc_find_executable(name, "/usr/local/bin:/usr/bin:/bin");
}

static int parse(int argc, char **argv, struct req *r, struct phpc_error **err)
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
		return phpc_error_set(
		    err, EINVAL, "usage: " PROG " -o lowerdir=...,upperdir=...,workdir=... TARGET");
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
	return 0;
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

/* The kernel's overlayfs, with only the options it knows. -EINVAL for one
 * lower and no upper: a bind does it. */
static int kernel_overlay(const struct req *r, struct phpc_error **err)
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
		return phpc_error_set(err, EINVAL,
		                      "the kernel's overlayfs needs an upperdir and a workdir, "
		                      "or two lowerdirs");
	if (mount("overlay", r->target, "overlay", 0, data) < 0)
		return phpc_error_errno(err, errno, "the kernel's overlayfs refused it");
	return 0;
}

static int bind_readonly(const char *src, const char *target, struct phpc_error **err)
{
	_cleanup_close_ int tree =
	    open_tree(AT_FDCWD, src, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
	if (tree < 0)
		return phpc_error_errno(err, errno, "cannot bind %s", src);
	struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY};
	if (mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) < 0)
		return phpc_error_errno(err, errno, "cannot make the bind of %s read-only", src);
	if (move_mount(tree, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return phpc_error_errno(err, errno, "cannot bind %s on %s", src, target);
	return 0;
}

/* Runs argv[0] and waits: 0 when it exited with 0. */
static int run_wait(char *const *argv, struct phpc_error **err)
{
	int status = 0;
	int r = phpc_spawn_wait(argv, environ, &status, err);
	if (r < 0)
		return r;
	int code = phpc_exit_code(status);
	if (code != 0)
		return phpc_error_set(err, EIO, "%s failed (exit status %d)", argv[0], code);
	return 0;
}

static int fuse_overlay(const struct req *r, const char *fo, struct phpc_error **err)
{
	_cleanup_free_ char *lowers = join_lowers(r);
	struct phpc_strv o = {0};
	phpc_strv_addf(&o, "lowerdir=%s", lowers);
	phpc_strv_extend(&o, r->opts.v);
	_cleanup_free_ char *joined = phpc_strv_join(o.v, ",");
	phpc_strv_clear(&o);
	char *argv[] = {(char *)fo, (char *)"-o", joined, r->target, NULL};
	return run_wait(argv, err);
}

static int mount_squashed(struct req *r, size_t idx, const char *fo, struct phpc_error **err)
{
	_cleanup_free_ char *file = phpc_xasprintf("%s.squash", r->lowers.v[idx]);
	_cleanup_free_ char *tcopy = phpc_xstrdup(r->target);
	_cleanup_free_ char *priv = phpc_xasprintf("%s/phpc-squash-%zu", dirname(tcopy), idx);
	/* a leftover of a killed mount: nothing may hide below a new one */
	umount2(priv, MNT_DETACH);
	if (mkdir(priv, 0700) < 0 && errno != EEXIST)
		return phpc_error_errno(err, errno, "cannot create %s", priv);
	_cleanup_free_ char *sqf = find("squashfuse_ll");
	if (!sqf)
		sqf = find("squashfuse");
	if (!sqf)
		return phpc_error_set(err, ENOENT,
		                      "squashfuse_ll not found: install squashfuse to run "
		                      "squashed images");
	char *argv[] = {sqf, file, priv, NULL};
	int rc = run_wait(argv, err);
	if (rc < 0)
		return phpc_error_prefix(err, "cannot mount the squashed image %s", file);
	free(r->lowers.v[idx]);
	r->lowers.v[idx] = phpc_xstrdup(priv);
	rc = kernel_overlay(r, err);
	if (rc == -EINVAL && !r->upper && r->lowers.n == 1) {
		forget(err);
		rc = bind_readonly(priv, r->target, err);
	}
	if (rc < 0 && fo) {
		forget(err);
		rc = fuse_overlay(r, fo, err);
	}
	/* detached, the squash mount lives exactly as long as the overlay */
	umount2(priv, MNT_DETACH);
	rmdir(priv);
	if (rc < 0)
		return phpc_error_prefix(err, "cannot mount %s", r->target);
	return 0;
}

/* The most entries a lower's one-time whiteout scan reads (a layer of
 * Debian's python3 image has ~7,000); a bigger layer stays on fuse-overlayfs. */
#define WHITEOUT_SCAN_MAX 200000

/* Whether lower (a "l/LINK" symlink to a layer's diff directory, or any
 * directory) holds fuse-overlayfs-only whiteouts (phpc_tree_has_whiteouts).
 * A layer never changes once written, so the answer is kept next to its
 * diff directory, in "phpc-whiteouts" ("yes"/"no"), when that is writable
 * (the user's own store); a read-only store's layer is scanned each time. */
static bool lower_has_whiteouts(const char *lower)
{
	_cleanup_free_ char *real = realpath(lower, NULL);
	if (!real)
		return true;
	_cleanup_free_ char *copy = phpc_xstrdup(real);
	const char *base = strrchr(real, '/');
	bool is_diff = base && streq(base + 1, "diff");
	_cleanup_close_ int layer =
	    is_diff ? open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	char mark[8] = {0};
	if (layer >= 0) {
		_cleanup_close_ int m =
		    openat(layer, "phpc-whiteouts", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (m >= 0 && read(m, mark, sizeof mark - 1) > 0)
			return !str_has_prefix(mark, "no");
	}
	bool has = true;
	_cleanup_error_ struct phpc_error *e = NULL;
	if (phpc_tree_has_whiteouts(AT_FDCWD, real, WHITEOUT_SCAN_MAX, &has, &e) < 0)
		return true;
	if (layer >= 0) {
		const char *v = has ? "yes\n" : "no\n";
		phpc_write_file_atomic(layer, "phpc-whiteouts", v, strlen(v), 0644, NULL);
	}
	return has;
}

/* The kernel's overlayfs for an image of the local store, when nothing in
 * its layers or the container's upper directory needs fuse-overlayfs: the
 * container's files are then read and written without a FUSE round trip
 * (the hook's bind mount points, ldconfig, the program). 0 when mounted. */
static int try_kernel_overlay(const struct req *r)
{
	if (!r->upper || !r->work || getenv("PODMANHPC_NO_KERNEL_OVERLAY"))
		return -1;
	for (size_t i = 0; i < r->lowers.n; i++)
		if (lower_has_whiteouts(r->lowers.v[i]))
			return -1;
	bool has = true;
	_cleanup_error_ struct phpc_error *e = NULL;
	/* a container's upper directory from an earlier fuse-overlayfs mount
	 * may hold ".wh." files: scanned each time (it is small) */
	if (phpc_tree_has_whiteouts(AT_FDCWD, r->upper, WHITEOUT_SCAN_MAX, &has, &e) < 0 || has)
		return -1;
	return kernel_overlay(r, &e) < 0 ? -1 : 0;
}

/* Mounts a squashed image, or an image of the local store with the kernel's
 * overlayfs, or becomes fuse-overlayfs: returns only when it has mounted
 * one, or on failure. */
static int run(int argc, char **argv, struct phpc_error **err)
{
	const char *prog = getenv("PODMANHPC_FUSE_OVERLAYFS");
	_cleanup_free_ char *fo = find(prog && *prog ? prog : "fuse-overlayfs");
	struct req r;
	int rc = parse(argc, argv, &r, err);
	for (size_t i = 0; rc == 0 && i < r.lowers.n; i++) {
		_cleanup_free_ char *sq = phpc_xasprintf("%s.squash", r.lowers.v[i]);
		if (access(sq, R_OK) == 0) {
			rc = mount_squashed(&r, i, fo, err);
			req_clear(&r);
			return rc;
		}
	}
	if (rc == 0 && try_kernel_overlay(&r) == 0) {
		req_clear(&r);
		return 0;
	}
	req_clear(&r);
	if (rc < 0)
		return rc;
	if (!fo)
		return phpc_error_set(err, ENOENT, "fuse-overlayfs not found on PATH");
	argv[0] = fo;
	execv(fo, argv);
	return phpc_error_errno(err, errno, "cannot run %s", fo);
}

int main(int argc, char **argv)
{
	struct phpc_error *err = NULL;
	int r = run(argc, argv, &err);
	if (r < 0)
		fprintf(stderr, PROG ": %s\n", err ? err->msg : strerror(-r));
	phpc_error_free(err);
	return r < 0 ? 1 : 0;
}
