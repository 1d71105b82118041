#include "fsutil.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/xattr.h>

int phpc_read_fd(int fd, const char *what, char **out, size_t *len, struct phpc_error **err)
{
	size_t cap = 4096, n = 0;
	/* checked, not phpc_xmalloc: shared-run reads its state files from
	 * long-lived hosts too (sharedrun.h) */
	_cleanup_free_ char *buf = malloc(cap);
	if (!buf)
		return phpc_error_set(err, ENOMEM, "cannot read %s: out of memory", what);
	for (;;) {
		if (n + 1 >= cap) {
			char *bigger = cap < SIZE_MAX / 2 ? realloc(buf, cap * 2) : NULL;
			if (!bigger)
				return phpc_error_set(err, ENOMEM, "cannot read %s: out of memory",
				                      what);
			buf = bigger;
			cap *= 2;
		}
		ssize_t r = read(fd, buf + n, cap - n - 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return phpc_error_errno(err, errno, "cannot read %s", what);
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	if (len)
		*len = n;
	*out = steal_pointer(&buf);
	return 0;
}

int phpc_read_file(int dirfd, const char *path, char **out, size_t *len, struct phpc_error **err)
{
	_cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return phpc_error_errno(err, errno, "cannot open %s", path);
	return phpc_read_fd(fd, path, out, len, err);
}

static int write_all(int fd, const char *data, size_t len)
{
	while (len) {
		ssize_t w = write(fd, data, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		data += w;
		len -= (size_t)w;
	}
	return 0;
}

/* The two halves of an atomic replacement: a temp file next to name... */
static int atomic_open(int dirfd, const char *name, mode_t mode, char **tmp,
                       struct phpc_error **err)
{
	if (asprintf(tmp, ".%s.tmp.%ld", name, (long)getpid()) < 0) {
		*tmp = NULL;
		return phpc_error_set(err, ENOMEM, "cannot create a temporary file for %s", name);
	}
	int fd = openat(dirfd, *tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0 && errno == EEXIST) {
		/* A leftover of a killed process with our pid: it was never renamed
		 * into place, so nobody reads it. */
		unlinkat(dirfd, *tmp, 0);
		fd =
		    openat(dirfd, *tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	}
	if (fd < 0)
		return phpc_error_errno(err, errno, "cannot create %s", *tmp);
	return fd;
}

/* ... then, if r (the filling) succeeded: mode, fsync, close, rename. */
static int atomic_commit(int dirfd, const char *tmp, const char *name, int fd, mode_t mode, int r,
                         struct phpc_error **err)
{
	if (r == 0 && fchmod(fd, mode) < 0)
		r = -errno;
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && renameat(dirfd, tmp, dirfd, name) < 0)
		r = -errno;
	if (r < 0) {
		unlinkat(dirfd, tmp, 0);
		return phpc_error_errno(err, -r, "cannot write %s", name);
	}
	return 0;
}

int phpc_write_file_atomic(int dirfd, const char *name, const char *data, size_t len, mode_t mode,
                           struct phpc_error **err)
{
	_cleanup_free_ char *tmp = NULL;
	int fd = atomic_open(dirfd, name, mode, &tmp, err);
	if (fd < 0)
		return fd;
	return atomic_commit(dirfd, tmp, name, fd, mode, write_all(fd, data, len), err);
}

int phpc_replace_file(int dirfd, const char *name, const char *data, size_t len, mode_t mode,
                      uid_t uid, gid_t gid, struct phpc_error **err)
{
	_cleanup_free_ char *tmp = NULL;
	/* 0600 until it is complete and has its owner */
	int fd = atomic_open(dirfd, name, 0600, &tmp, err);
	if (fd < 0)
		return fd;
	int r = write_all(fd, data, len);
	if (r == 0 && fchown(fd, uid, gid) < 0)
		r = -errno;
	r = atomic_commit(dirfd, tmp, name, fd, mode, r, err);
	/* the rename is only durable once the directory is */
	if (r == 0 && fsync(dirfd) < 0)
		return phpc_error_errno(err, errno, "cannot sync the directory of %s", name);
	return r;
}

int phpc_write_file_if_changed(int dirfd, const char *name, const char *data, size_t len,
                               mode_t mode, bool *changed, struct phpc_error **err)
{
	_cleanup_free_ char *old = NULL;
	size_t old_len = 0;
	if (changed)
		*changed = false;
	if (phpc_read_file(dirfd, name, &old, &old_len, NULL) == 0 && old && old_len == len &&
	    memcmp(old, data, len) == 0)
		return 0;
	if (changed)
		*changed = true;
	return phpc_write_file_atomic(dirfd, name, data, len, mode, err);
}

static int open_dir_checked(const char *path, bool must_own, struct phpc_error **err)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return phpc_error_errno(err, errno, "cannot open directory %s", path);
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		return phpc_error_errno(err, e, "cannot stat %s", path);
	}
	if (must_own && st.st_uid != geteuid()) {
		close(fd);
		return phpc_error_set(err, EPERM,
		                      "directory %s belongs to uid %u, not to you (uid %u); "
		                      "refusing to use it: remove it or choose another path",
		                      path, (unsigned)st.st_uid, (unsigned)geteuid());
	}
	return fd;
}

int phpc_mkdir_p_open(const char *path, mode_t mode, bool must_own, struct phpc_error **err)
{
	if (!*path)
		return phpc_error_set(err, EINVAL, "empty directory path");
	_cleanup_free_ char *p = phpc_xstrdup(path);
	size_t len = strlen(p);
	while (len > 1 && p[len - 1] == '/')
		p[--len] = '\0';
	/* Fast path: it usually exists already. */
	struct stat st;
	if (stat(p, &st) == 0 && S_ISDIR(st.st_mode))
		return open_dir_checked(p, must_own, err);
	for (char *s = p + 1;; s++) {
		if (*s == '/' || *s == '\0') {
			char c = *s;
			*s = '\0';
			/* EEXIST is success: concurrent tasks create the same tree
			 * (NERSC #98, #101). */
			if (mkdir(p, mode) < 0 && errno != EEXIST)
				return phpc_error_errno(err, errno, "cannot create directory %s",
				                        p);
			*s = c;
			if (!c)
				break;
		}
	}
	return open_dir_checked(p, must_own, err);
}

char *phpc_find_executable(const char *name, const char *path_env)
{
	if (!name || !*name)
		return NULL;
	if (strchr(name, '/'))
		return access(name, X_OK) == 0 ? phpc_xstrdup(name) : NULL;
	const char *p = path_env && *path_env ? path_env : "/usr/local/bin:/usr/bin:/bin";
	while (*p) {
		const char *e = strchrnul(p, ':');
		size_t dl = (size_t)(e - p);
		_cleanup_free_ char *cand =
		    phpc_xasprintf("%.*s/%s", (int)(dl ? dl : 1), dl ? p : ".", name);
		struct stat st;
		if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0)
			return steal_pointer(&cand);
		p = *e ? e + 1 : e;
	}
	return NULL;
}

int phpc_copy_data(int in, const char *src, int out, const char *dst, struct phpc_error **err)
{
	for (;;) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
		if (n == 0)
			return 0;
		if (n > 0)
			continue;
		if (errno == EINTR)
			continue;
		if (errno != EXDEV && errno != ENOSYS && errno != EINVAL && errno != EOPNOTSUPP)
			return phpc_error_errno(err, errno, "cannot copy %s to %s", src, dst);
		break;
	}
	char buf[65536];
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return phpc_error_errno(err, errno, "cannot read %s", src);
		if (n == 0)
			return 0;
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(out, buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return phpc_error_errno(err, errno, "cannot write %s", dst);
			off += w;
		}
	}
}

int phpc_copy_file_at(int srcdir, const char *src, int dstdir, const char *dst, mode_t mode,
                      struct phpc_error **err)
{
	/* O_NONBLOCK: a FIFO put in a file's place must not hang the copy */
	_cleanup_close_ int in =
	    openat(srcdir, src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (in < 0)
		return phpc_error_errno(err, errno, "cannot open %s", src);
	struct stat st;
	if (fstat(in, &st) < 0)
		return phpc_error_errno(err, errno, "cannot stat %s", src);
	if (!S_ISREG(st.st_mode))
		return phpc_error_set(err, EINVAL, "%s is not a regular file", src);
	_cleanup_free_ char *tmp = NULL;
	int out = atomic_open(dstdir, dst, mode, &tmp, err);
	if (out < 0)
		return out;
	return atomic_commit(dstdir, tmp, dst, out, mode, phpc_copy_data(in, src, out, dst, err),
	                     err);
}

/* path: parent/name as messages show it. */
static int rm_rf(int parent, const char *name, const char *path, struct phpc_error **err)
{
	struct stat st;
	if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : phpc_error_errno(err, errno, "cannot stat %s", path);
	if (!S_ISDIR(st.st_mode)) {
		if (unlinkat(parent, name, 0) < 0 && errno != ENOENT)
			return phpc_error_errno(err, errno, "cannot remove %s", path);
		return 0;
	}
	int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return phpc_error_errno(err, errno, "cannot open directory %s", path);
	DIR *d = fdopendir(fd);
	if (!d) {
		int e = errno;
		close(fd);
		return phpc_error_errno(err, e, "cannot read directory %s", path);
	}
	int r = 0;
	struct dirent *de;
	while (r == 0 && (de = readdir(d))) {
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		/* the path only names it in messages: checked, not aborting (the
		 * state directory of shared-run goes this way, sharedrun.h) */
		_cleanup_free_ char *sub = NULL;
		if (asprintf(&sub, "%s/%s", path, de->d_name) < 0) {
			sub = NULL;
			r = phpc_error_set(err, ENOMEM, "cannot remove %s: out of memory", path);
			break;
		}
		r = rm_rf(dirfd(d), de->d_name, sub, err);
	}
	closedir(d);
	if (r == 0 && unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		r = phpc_error_errno(err, errno, "cannot remove directory %s", path);
	return r;
}

int phpc_rm_rf_at(int parent, const char *name, struct phpc_error **err)
{
	return rm_rf(parent, name, name, err);
}

/* A directory stream over a duplicate of fd (fd stays open and usable);
 * NULL with errno set on failure. */
static DIR *opendir_dup(int fd)
{
	int dup = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	DIR *d = dup < 0 ? NULL : fdopendir(dup);
	if (!d && dup >= 0) {
		int e = errno;
		close(dup);
		errno = e;
	}
	return d;
}

int phpc_copy_dir_files(int srcdir, const char *src, int dstdir, const char *dst,
                        struct phpc_error **err)
{
	_cleanup_close_ int in =
	    openat(srcdir, src, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (in < 0)
		return errno == ENOENT ? -ENOENT
		                       : phpc_error_errno(err, errno, "cannot open %s", src);
	if (mkdirat(dstdir, dst, 0755) < 0 && errno != EEXIST)
		return phpc_error_errno(err, errno, "cannot create %s", dst);
	_cleanup_close_ int out = openat(dstdir, dst, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = out < 0 ? NULL : opendir_dup(in);
	if (!d)
		return phpc_error_errno(err, errno, "cannot copy %s", src);
	int r = 0;
	struct dirent *de;
	while (r == 0 && (de = readdir(d))) {
		struct stat st;
		bool reg =
		    de->d_type == DT_REG ||
		    (de->d_type == DT_UNKNOWN &&
		     fstatat(in, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode));
		if (reg)
			r = phpc_copy_file_at(in, de->d_name, out, de->d_name, 0644, err);
	}
	closedir(d);
	return r;
}

/* Whether directory fd has an extended attribute of fuse-overlayfs's own. */
static bool has_fuse_overlay_xattr(int fd)
{
	char list[4096];
	ssize_t n = flistxattr(fd, list, sizeof list);
	if (n < 0)
		return errno == ERANGE; /* too many to list: assume the worst */
	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(list + i) + 1)
		if (str_has_prefix(list + i, "user.fuseoverlayfs."))
			return true;
	return false;
}

static int scan_whiteouts(int fd, const char *path, size_t *left, bool *has,
                          struct phpc_error **err)
{
	if (has_fuse_overlay_xattr(fd)) {
		*has = true;
		return 0;
	}
	DIR *d = opendir_dup(fd);
	if (!d)
		return phpc_error_errno(err, errno, "cannot read directory %s", path);
	int r = 0;
	struct dirent *de;
	while (r == 0 && !*has && (de = readdir(d))) {
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		if (str_has_prefix(de->d_name, ".wh.") || *left == 0) {
			*has = true;
			break;
		}
		(*left)--;
		bool dir = de->d_type == DT_DIR;
		if (de->d_type == DT_UNKNOWN) {
			struct stat st;
			dir = fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			      S_ISDIR(st.st_mode);
		}
		if (!dir)
			continue;
		int sub = openat(fd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0) {
			r = phpc_error_errno(err, errno, "cannot open %s/%s", path, de->d_name);
			break;
		}
		_cleanup_free_ char *p = phpc_xasprintf("%s/%s", path, de->d_name);
		r = scan_whiteouts(sub, p, left, has, err);
		close(sub);
	}
	closedir(d);
	return r;
}

int phpc_tree_has_whiteouts(int dirfd, const char *path, size_t max_entries, bool *has,
                            struct phpc_error **err)
{
	*has = false;
	_cleanup_close_ int fd =
	    openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return phpc_error_errno(err, errno, "cannot open %s", path);
	size_t left = max_entries;
	return scan_whiteouts(fd, path, &left, has, err);
}
