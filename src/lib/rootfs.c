#include "rootfs.h"
#include "fsutil.h"
#include "path.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>

int phpc_root_openat(int rootfd, const char *path, int flags, mode_t mode)
{
	while (*path == '/')
		path++;
	struct open_how how = {
	    .flags = (uint64_t)(flags | O_CLOEXEC),
	    .mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
	    .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	int fd = (int)syscall(SYS_openat2, rootfd, *path ? path : ".", &how, sizeof(how));
	return fd < 0 ? -errno : fd;
}

int phpc_root_open(const char *path, struct phpc_error **err)
{
	int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return phpc_error_errno(err, errno, "cannot open the container root %s", path);
	return fd;
}

int phpc_root_mkdirs(int rootfd, const char *path, struct phpc_error **err)
{
	_cleanup_free_ char *norm = phpc_path_normalize(path);
	size_t len = strlen(norm);
	/* Walk down from the root; each prefix is resolved from the root again,
	 * so a symlink at any level stays inside it. */
	for (size_t i = 1; i <= len; i++) {
		if (norm[i] != '/' && norm[i] != '\0')
			continue;
		char c = norm[i];
		norm[i] = '\0';
		int fd = phpc_root_openat(rootfd, norm, O_PATH | O_DIRECTORY, 0);
		if (fd == -ENOENT) {
			char *slash = strrchr(norm, '/');
			*slash = '\0';
			int pfd =
			    phpc_root_openat(rootfd, *norm ? norm : "/", O_PATH | O_DIRECTORY, 0);
			*slash = '/';
			if (pfd < 0)
				return phpc_error_errno(err, -pfd, "cannot open %s", norm);
			int r = mkdirat(pfd, slash + 1, 0755);
			int e = errno;
			char target[256];
			ssize_t tl = r < 0 && e == EEXIST
			                 ? readlinkat(pfd, slash + 1, target, sizeof(target) - 1)
			                 : -1;
			close(pfd);
			if (tl >= 0) {
				/* A dangling symlink of the image: following it on the
				 * host could leave the root; creating its target is
				 * guesswork. Refuse. */
				target[tl] = '\0';
				return phpc_error_set(err, ELOOP,
				                      "%s is a symlink to %s, which does not exist "
				                      "in the container; refusing to follow it",
				                      norm, target);
			}
			if (r < 0 && e != EEXIST)
				return phpc_error_errno(err, e, "cannot create directory %s", norm);
			fd = phpc_root_openat(rootfd, norm, O_PATH | O_DIRECTORY, 0);
		}
		if (fd < 0)
			return phpc_error_errno(err, -fd, "cannot use %s as a directory", norm);
		norm[i] = c;
		if (c == '\0')
			return fd;
		close(fd);
	}
	int fd = phpc_root_openat(rootfd, "/", O_PATH | O_DIRECTORY, 0);
	if (fd < 0)
		return phpc_error_errno(err, -fd, "cannot open the container's root");
	return fd;
}

static int mount_id(int fd, uint64_t *id)
{
	struct statx stx;
	if (statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &stx) < 0)
		return -errno;
	*id = stx.stx_mnt_id;
	return 0;
}

/* Creates name in dirfd as a copy of the host file at srcdir/srcname (no
 * symlink is followed on either side). src and dst are the same two as
 * paths, the host's and the container's, for messages. */
static int copy_one(int srcdir, const char *srcname, const char *src, int dirfd, const char *name,
                    const char *dst, uint64_t rid, struct phpc_error **err);

static const char *file_kind(mode_t m)
{
	return S_ISFIFO(m)   ? "a FIFO"
	       : S_ISSOCK(m) ? "a socket"
	       : S_ISCHR(m)  ? "a character device"
	       : S_ISBLK(m)  ? "a block device"
	                     : "a special file";
}

/* What the image has at a copy's destination must be a regular file, a
 * directory or a symlink: opening a FIFO blocks the hook (and podman run)
 * for ever, and a device node is the host's device. */
static int check_dest(int dirfd, const char *name, const char *dst, struct stat *st,
                      struct phpc_error **err)
{
	if (fstatat(dirfd, name, st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno != ENOENT)
			return phpc_error_errno(err, errno, "cannot stat %s", dst);
		st->st_mode = 0;
		return 0;
	}
	if (S_ISREG(st->st_mode) || S_ISDIR(st->st_mode) || S_ISLNK(st->st_mode))
		return 0;
	return phpc_error_set(err, EPERM,
	                      "%s is %s in the image: refusing to write over it (remove it from "
	                      "the image, or change the module's destination)",
	                      dst, file_kind(st->st_mode));
}

/* Written to a temp file and renamed over the destination: a symlink there
 * is replaced, never followed; a hard link to it keeps its old content. */
static int copy_file(int srcfd, const char *src, const struct stat *st, int dirfd, const char *name,
                     const char *dst, struct phpc_error **err)
{
	struct stat cur;
	int r = check_dest(dirfd, name, dst, &cur, err);
	if (r < 0)
		return r;
	if (S_ISDIR(cur.st_mode))
		return phpc_error_errno(err, EISDIR, "cannot replace %s with a file", dst);
	char tmp[64];
	snprintf(tmp, sizeof(tmp), ".podman-hpc-copy.%ld", (long)getpid());
	int out = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0)
		return phpc_error_errno(err, errno, "cannot create a temporary file next to %s",
		                        dst);
	r = phpc_copy_data(srcfd, src, out, dst, err);
	/* no set-id bits: the hook may run as root */
	if (r == 0 && fchmod(out, st->st_mode & 0777) < 0)
		r = phpc_error_errno(err, errno, "cannot set the mode of %s", dst);
	if (close(out) < 0 && r == 0)
		r = phpc_error_errno(err, errno, "cannot write %s", dst);
	if (r == 0 && renameat(dirfd, tmp, dirfd, name) < 0)
		r = phpc_error_errno(err, errno, "cannot replace %s", dst);
	if (r < 0)
		unlinkat(dirfd, tmp, 0);
	return r;
}

static int copy_dir(int srcfd, const char *src, int parent, const char *name, const char *dst,
                    uint64_t rid, struct phpc_error **err)
{
	struct stat st;
	int r = check_dest(parent, name, dst, &st, err);
	if (r < 0)
		return r;
	if (st.st_mode && !S_ISDIR(st.st_mode) && unlinkat(parent, name, 0) < 0)
		return phpc_error_errno(err, errno, "cannot remove %s", dst);
	if (mkdirat(parent, name, 0755) < 0 && errno != EEXIST)
		return phpc_error_errno(err, errno, "cannot create directory %s", dst);
	_cleanup_close_ int out =
	    openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (out < 0)
		return phpc_error_errno(err, errno, "cannot open directory %s", dst);
	/* a directory of the image that is a mount point (a volume, a bind of
	 * the host) is not the container's to write into */
	uint64_t did = 0;
	r = mount_id(out, &did);
	if (r < 0)
		return phpc_error_errno(err, -r, "cannot stat %s", dst);
	if (did != rid)
		return phpc_error_set(err, EXDEV,
		                      "%s is a separate mount (a volume or a bind of the host), "
		                      "refusing to copy into it",
		                      dst);
	int dup = fcntl(srcfd, F_DUPFD_CLOEXEC, 0);
	if (dup < 0)
		return phpc_error_errno(err, errno, "cannot read directory %s", src);
	DIR *d = fdopendir(dup);
	if (!d) {
		int e = errno;
		close(dup);
		return phpc_error_errno(err, e, "cannot read directory %s", src);
	}
	struct dirent *de;
	while (r == 0 && (de = readdir(d))) {
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		_cleanup_free_ char *s = phpc_xasprintf("%s/%s", src, de->d_name);
		_cleanup_free_ char *t = phpc_xasprintf("%s/%s", dst, de->d_name);
		r = copy_one(dirfd(d), de->d_name, s, out, de->d_name, t, rid, err);
	}
	closedir(d);
	return r;
}

static int copy_symlink(int srcdir, const char *srcname, const char *src, int dirfd,
                        const char *name, const char *dst, struct phpc_error **err)
{
	char target[PATH_MAX];
	ssize_t n = readlinkat(srcdir, srcname, target, sizeof(target) - 1);
	if (n < 0)
		return phpc_error_errno(err, errno, "cannot read the symlink %s", src);
	target[n] = '\0';
	struct stat st;
	int r = check_dest(dirfd, name, dst, &st, err);
	if (r < 0)
		return r;
	if (st.st_mode && unlinkat(dirfd, name, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) < 0)
		return phpc_error_errno(err, errno, "cannot remove %s", dst);
	if (symlinkat(target, dirfd, name) < 0)
		return phpc_error_errno(err, errno, "cannot create the symlink %s", dst);
	return 0;
}

static int copy_one(int srcdir, const char *srcname, const char *src, int dirfd, const char *name,
                    const char *dst, uint64_t rid, struct phpc_error **err)
{
	struct stat st;
	if (fstatat(srcdir, srcname, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return phpc_error_errno(err, errno, "cannot stat %s", src);
	if (S_ISLNK(st.st_mode))
		return copy_symlink(srcdir, srcname, src, dirfd, name, dst, err);
	if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
		return 0; /* devices, sockets, fifos are bound, not copied */
	_cleanup_close_ int fd =
	    openat(srcdir, srcname, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return phpc_error_errno(err, errno, "cannot open %s", src);
	return S_ISDIR(st.st_mode) ? copy_dir(fd, src, dirfd, name, dst, rid, err)
	                           : copy_file(fd, src, &st, dirfd, name, dst, err);
}

/* The parent directory of path inside root, and the last component. */
static int open_parent(int rootfd, const char *path, char **base, struct phpc_error **err)
{
	_cleanup_free_ char *norm = phpc_path_normalize(path);
	char *slash = strrchr(norm, '/');
	*base = phpc_xstrdup(slash + 1); /* "" for the root (and never NULL) */
	if (streq(norm, "/"))
		return phpc_error_set(err, EINVAL, "cannot replace the container's root");
	*slash = '\0';
	return phpc_root_mkdirs(rootfd, *norm ? norm : "/", err);
}

int phpc_root_copy(int rootfd, const char *src, const char *path, struct phpc_error **err)
{
	_cleanup_free_ char *base = NULL;
	_cleanup_close_ int dirfd = open_parent(rootfd, path, &base, err);
	if (dirfd < 0)
		return dirfd;
	uint64_t rid = 0, did = 0;
	if (mount_id(rootfd, &rid) < 0 || mount_id(dirfd, &did) < 0)
		return phpc_error_errno(err, errno, "cannot stat the destination of %s", path);
	if (rid != did)
		return phpc_error_set(err, EXDEV,
		                      "the directory of %s is a separate mount (a volume or a bind "
		                      "of the host), refusing to copy into it",
		                      path);
	/* O_PATH fds cannot be used for the *at calls that create files: reopen. */
	_cleanup_close_ int wdir = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (wdir < 0)
		return phpc_error_errno(err, errno, "cannot open the directory of %s", path);
	int r = copy_one(AT_FDCWD, src, src, wdir, base, path, rid, err);
	if (r < 0)
		phpc_error_prefix(err, "cannot copy %s to %s", src, path);
	return r;
}

void phpc_root_cache_clear(struct phpc_root_cache *c)
{
	free(c->dir);
	if (c->fd >= 0)
		close(c->fd);
	*c = (struct phpc_root_cache)PHPC_ROOT_CACHE_INIT;
}

/* Mounts a fresh tmpfs on the directory dfd; returns a writable fd of its root. */
static int tmpfs_on(int dfd, struct phpc_error **err)
{
	_cleanup_close_ int fs = fsopen("tmpfs", FSOPEN_CLOEXEC);
	if (fs < 0)
		return phpc_error_errno(err, errno, "cannot create a tmpfs");
	if (fsconfig(fs, FSCONFIG_SET_STRING, "mode", "0755", 0) < 0 ||
	    fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return phpc_error_errno(err, errno, "cannot create a tmpfs");
	_cleanup_close_ int mnt =
	    fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID);
	if (mnt < 0)
		return phpc_error_errno(err, errno, "cannot create a tmpfs");
	if (move_mount(mnt, "", dfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		return phpc_error_errno(err, errno, "cannot mount a tmpfs");
	int fd = openat(mnt, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return phpc_error_errno(err, errno, "cannot open a tmpfs");
	return fd;
}

/* Creates the directory norm, which does not exist in the image: its first
 * missing component is made on the image and gets a private tmpfs, the rest
 * is made in that tmpfs. Mount points in a directory the image did not have
 * then cost no write to the container's (often FUSE) file system, and
 * nothing injected ends up in the container's layer. */
static int new_dir_on_tmpfs(int rootfd, char *norm, struct phpc_error **err)
{
	size_t len = strlen(norm);
	size_t i = 1;
	for (; i <= len; i++) {
		if (norm[i] != '/' && norm[i] != '\0')
			continue;
		char c = norm[i];
		norm[i] = '\0';
		int fd = phpc_root_openat(rootfd, norm, O_PATH | O_DIRECTORY, 0);
		norm[i] = c;
		if (fd == -ENOENT)
			break;
		if (fd < 0)
			return phpc_error_errno(err, -fd, "cannot use %s as a directory", norm);
		close(fd);
	}
	/* norm[..i) is the first missing directory */
	char c = norm[i];
	norm[i] = '\0';
	_cleanup_close_ int first = phpc_root_mkdirs(rootfd, norm, err);
	norm[i] = c;
	if (first < 0)
		return first;
	int cur = tmpfs_on(first, err);
	while (cur >= 0 && norm[i]) {
		char *comp = norm + i + 1;
		char *e = strchrnul(comp, '/');
		c = *e;
		*e = '\0';
		int next = -1;
		if (mkdirat(cur, comp, 0755) == 0 || errno == EEXIST)
			next = openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0)
			next = phpc_error_errno(err, errno, "cannot create directory %s", norm);
		*e = c;
		close(cur);
		cur = next;
		i = (size_t)(e - norm);
	}
	return cur;
}

/* A writable fd of the parent directory of path inside root, from the cache
 * when it is the same directory; *base gets the last component. */
static int parent_dir(int rootfd, struct phpc_root_cache *cache, const char *path, char **base,
                      struct phpc_error **err)
{
	_cleanup_free_ char *norm = phpc_path_normalize(path);
	char *slash = strrchr(norm, '/');
	*base = phpc_xstrdup(slash + 1); /* "" for the root (and never NULL) */
	if (streq(norm, "/"))
		return phpc_error_set(err, EINVAL, "cannot mount over the container's root");
	*slash = '\0';
	const char *dir = *norm ? norm : "/";
	if (cache && cache->dir && streq(cache->dir, dir)) {
		int fd = fcntl(cache->fd, F_DUPFD_CLOEXEC, 0);
		if (fd < 0)
			return phpc_error_errno(err, errno, "cannot open the directory of %s",
			                        path);
		return fd;
	}
	int wdir;
	int pfd = phpc_root_openat(rootfd, dir, O_PATH | O_DIRECTORY, 0);
	if (pfd >= 0) {
		wdir = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		close(pfd);
		if (wdir < 0)
			return phpc_error_errno(err, errno, "cannot open the directory of %s",
			                        path);
	} else if (pfd == -ENOENT) {
		wdir = new_dir_on_tmpfs(rootfd, norm, err);
		if (wdir < 0)
			return wdir;
	} else {
		return phpc_error_errno(err, -pfd, "cannot use %s as a directory", dir);
	}
	if (cache) {
		phpc_root_cache_clear(cache);
		/* without a copy of the fd, the next bind looks its directory up */
		cache->fd = fcntl(wdir, F_DUPFD_CLOEXEC, 0);
		if (cache->fd >= 0)
			cache->dir = phpc_xstrdup(dir);
	}
	return wdir;
}

int phpc_root_bind(int rootfd, struct phpc_root_cache *cache, const char *src, const char *path,
                   bool ro, struct phpc_error **err)
{
	struct stat st;
	if (stat(src, &st) < 0)
		return phpc_error_errno(err, errno, "cannot bind %s", src);
	_cleanup_free_ char *base = NULL;
	_cleanup_close_ int wdir = parent_dir(rootfd, cache, path, &base, err);
	if (wdir < 0)
		return wdir;
	/* A file this call creates is the mount point itself (the usual case: a
	 * library bound into a directory of the image); the fd of its creation
	 * serves as the target, saving a lookup and a stat per library. */
	_cleanup_close_ int target = -1;
	int r = S_ISDIR(st.st_mode)
	            ? mkdirat(wdir, base, 0755)
	            : (target = openat(wdir, base,
	                               O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
	if (r < 0 && errno != EEXIST)
		return phpc_error_errno(err, errno, "cannot create the mount point %s", path);
	/* Otherwise the entry itself, unless the image put a symlink there: that
	 * one is followed, inside the root. */
	struct stat ts = {0};
	if (target < 0) {
		target = openat(wdir, base, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (target < 0)
			return phpc_error_errno(err, errno, "cannot open the mount point %s", path);
		if (fstat(target, &ts) < 0)
			return phpc_error_errno(err, errno, "cannot open the mount point %s", path);
	}
	if (r < 0 && S_ISLNK(ts.st_mode)) {
		close(target);
		target = phpc_root_openat(rootfd, path, O_PATH, 0);
		if (target < 0)
			return phpc_error_errno(err, -target, "cannot open the mount point %s",
			                        path);
	}
	/* A detached copy of the host tree, moved onto the target fd: no path
	 * is resolved again between the check and the mount. */
	_cleanup_close_ int tree =
	    open_tree(AT_FDCWD, src, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
	if (tree < 0)
		return phpc_error_errno(err, errno, "cannot bind %s", src);
	if (ro) {
		struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY};
		if (mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) < 0)
			return phpc_error_errno(err, errno, "cannot make %s read-only", src);
	}
	if (move_mount(tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		return phpc_error_errno(err, errno, "cannot bind %s on %s", src, path);
	return 0;
}
