#include "safedir.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>

bool phpc_dir_is_open_to_others(mode_t mode, uid_t owner, uid_t uid)
{
	/* A group-writable directory is open to the group's other members; a
	 * directory of another user is theirs to change, whatever its mode. */
	return (mode & (S_IWGRP | S_IWOTH)) || (owner != uid && owner != 0);
}

/* "user NAME (uid N)", or "uid N" when NSS does not know it. */
static char *describe_owner(uid_t owner)
{
	struct passwd pw, *res = NULL;
	char buf[1024];
	if (getpwuid_r(owner, &pw, buf, sizeof(buf), &res) == 0 && res)
		return phpc_xasprintf("user %s (uid %u)", res->pw_name, (unsigned)owner);
	return phpc_xasprintf("uid %u", (unsigned)owner);
}

static int refuse_owner(const char *path, size_t len, uid_t owner, const char *parent,
                        const char *what, struct phpc_error **err)
{
	_cleanup_free_ char *who = describe_owner(owner);
	return phpc_error_set(err, EPERM,
	                      "%.*s belongs to %s, not to you, in %s, which others can write: "
	                      "another user may have created it to control your %s; remove it "
	                      "(ask its owner or an admin) or set %s to a directory of your own",
	                      (int)len, path, who, parent, what, what);
}

/* Opens the component name in dirfd without following a symlink; creates it
 * first when asked. Sets *st. */
static int open_component(int dirfd, const char *name, bool create, struct stat *st)
{
	int fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && create) {
		/* EEXIST: a concurrent task of the same job made it; the checks
		 * below decide whether it is acceptable either way. */
		if (mkdirat(dirfd, name, 0700) < 0 && errno != EEXIST)
			return -errno;
		fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0)
		return -errno;
	if (fstatat(fd, "", st, AT_EMPTY_PATH) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

int phpc_dir_open(const char *path, enum phpc_dir_kind kind, uid_t uid, const char *what,
                  struct phpc_error **err)
{
	if (!path || path[0] != '/')
		return phpc_error_set(err, EINVAL, "%s must be an absolute path, not \"%s\"", what,
		                      path ? path : "");
	bool create = kind == PHPC_DIR_PRIVATE;
	_cleanup_close_ int cur = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	struct stat st;
	if (cur < 0 || fstat(cur, &st) < 0)
		return phpc_error_errno(err, errno, "cannot open /");
	/* the deepest directory others can write that the walk passed through */
	size_t open_end = 0;
	bool below_open = false;
	const char *p = path;
	while (*p) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		const char *end = strchrnul(p, '/');
		size_t n = (size_t)(end - p), upto = (size_t)(end - path);
		if (n == 1 && p[0] == '.') {
			p = end;
			continue;
		}
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return phpc_error_set(err, EINVAL, "%s \"%s\" must not contain \"..\"",
			                      what, path);
		bool parent_open = phpc_dir_is_open_to_others(st.st_mode, st.st_uid, uid);
		if (parent_open) {
			below_open = true;
			open_end = (size_t)(p - path);
		}
		_cleanup_free_ char *name = phpc_xstrndup(p, n);
		int fd = open_component(cur, name, create, &st);
		if (fd < 0)
			return phpc_error_errno(err, -fd, "%s: cannot %s %.*s", what,
			                        create ? "create" : "open", (int)upto, path);
		close(cur);
		cur = fd;
		_cleanup_free_ char *parent =
		    open_end > 1 ? phpc_xstrndup(path, open_end - 1) : phpc_xstrdup("/");
		if (S_ISLNK(st.st_mode)) {
			/* A link its parent's owner placed is theirs to place (a site's
			 * /scratch -> /lustre/scratch); below an open directory it
			 * could point anywhere. */
			if (below_open)
				return phpc_error_set(
				    err, ELOOP,
				    "%.*s is a symbolic link below %s, which others "
				    "can write: refusing to follow it for %s; set %s "
				    "to the real path",
				    (int)upto, path, parent, what, what);
			close(cur);
			cur = -1;
			_cleanup_free_ char *prefix = phpc_xstrndup(path, upto);
			cur = open(prefix, O_PATH | O_DIRECTORY | O_CLOEXEC);
			if (cur < 0 || fstat(cur, &st) < 0)
				return phpc_error_errno(err, errno, "%s: cannot open %s", what,
				                        prefix);
		}
		if (!S_ISDIR(st.st_mode))
			return phpc_error_set(err, ENOTDIR, "%s: %.*s is not a directory", what,
			                      (int)upto, path);
		if (below_open && st.st_uid != uid && st.st_uid != 0)
			return refuse_owner(path, upto, st.st_uid, parent, what, err);
		/* Below a directory anyone can write, one of the user's that is
		 * writable by others lets them replace what lies below it; only
		 * a sticky directory (like /tmp itself) of root's or the user's
		 * keeps others from renaming the user's entries. */
		if (below_open && *end && (st.st_mode & (S_IWGRP | S_IWOTH)) &&
		    !((st.st_uid == 0 || st.st_uid == uid) && (st.st_mode & S_ISVTX)))
			return phpc_error_set(err, EPERM,
			                      "%s: %.*s is writable by others (mode %04o), who "
			                      "could replace what is below it; run 'chmod go-w' "
			                      "on it if it is yours, or set %s elsewhere",
			                      what, (int)upto, path, (unsigned)(st.st_mode & 07777),
			                      what);
		p = end;
	}
	bool mine = st.st_uid == uid;
	if (kind == PHPC_DIR_PRIVATE && !mine) {
		_cleanup_free_ char *who = describe_owner(st.st_uid);
		return phpc_error_set(err, EPERM,
		                      "%s %s belongs to %s, not to you: refusing to keep your "
		                      "containers there; set %s to a directory of your own",
		                      what, path, who, what);
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return phpc_error_set(err, EPERM,
		                      "%s %s is writable by %s (mode %04o): other users could "
		                      "change %s; %s",
		                      what, path, st.st_mode & S_IWOTH ? "everyone" : "its group",
		                      (unsigned)(st.st_mode & 07777),
		                      kind == PHPC_DIR_PRIVATE ? "your containers" : "its images",
		                      mine ? "run 'chmod go-w' on it"
		                           : "ask its owner to run 'chmod go-w' on it");
	int fd = openat(cur, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return phpc_error_errno(err, errno, "%s: cannot open %s", what, path);
	return fd;
}

int phpc_dir_check(const char *path, enum phpc_dir_kind kind, uid_t uid, const char *what,
                   struct phpc_error **err)
{
	int fd = phpc_dir_open(path, kind, uid, what, err);
	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}
