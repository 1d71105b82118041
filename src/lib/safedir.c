#include "safedir.h"
#include "rules.h"
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

/* Whether others can rename or replace entries of a directory: writable by
 * group or others, unless it is sticky (like /tmp) and root's or the user's.
 * For the user's own storage, a directory of another user counts too (its
 * owner may rename anything in it); an image store in one is the owner's to
 * share, and trusted as such. */
static bool entries_replaceable(const struct stat *st, uid_t uid, enum phpc_dir_kind kind)
{
	bool others_own = st->st_uid != 0 && st->st_uid != uid;
	if (kind == PHPC_DIR_PRIVATE && others_own)
		return true;
	return (st->st_mode & (S_IWGRP | S_IWOTH)) && !((st->st_mode & S_ISVTX) && !others_own);
}

#define MAX_LINKS 40

int phpc_dir_open(const char *path0, enum phpc_dir_kind kind, uid_t uid, const char *what,
                  struct phpc_error **err)
{
	if (!path0 || path0[0] != '/')
		return phpc_error_set(err, EINVAL, "%s must be an absolute path, not \"%s\"", what,
		                      path0 ? path0 : "");
	bool create = kind == PHPC_DIR_PRIVATE;
	_cleanup_free_ char *expanded = NULL; /* path0 with the links met so far replaced */
	const char *path = path0;
	int links = 0;
	_cleanup_close_ int cur = -1;
	struct stat st;
	size_t open_end = 0; /* where the directory others can write ends in path */
	bool below_open = false;
	const char *p = path;
restart:
	if (cur >= 0)
		close(cur);
	cur = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (cur < 0 || fstat(cur, &st) < 0)
		return phpc_error_errno(err, errno, "cannot open /");
	open_end = 0;
	below_open = false;
	p = path;
	while (*p) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		const char *end = strchrnul(p, '/');
		size_t n = (size_t)(end - p), upto = (size_t)(end - path);
		size_t here = p > path + 1 ? (size_t)(p - path - 1) : 1; /* the parent's length */
		if (n == 1 && p[0] == '.') {
			p = end;
			continue;
		}
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return phpc_error_set(err, EINVAL, "%s \"%s\" must not contain \"..\"",
			                      what, path);
		/* One that others can write lets them rename what the user keeps
		 * in it, between this check and podman's use of the path. */
		if (entries_replaceable(&st, uid, kind) && !(st.st_mode & (S_IWGRP | S_IWOTH))) {
			_cleanup_free_ char *who = describe_owner(st.st_uid);
			return phpc_error_set(
			    err, EPERM,
			    "%s: %.*s belongs to %s, not to you, who could rename "
			    "or replace %.*s; set %s to a directory of your own",
			    what, (int)here, path, who, (int)upto, path, what);
		}
		if (entries_replaceable(&st, uid, kind))
			return phpc_error_set(
			    err, EPERM,
			    "%s: %.*s is writable by others (mode %04o) and not "
			    "sticky: they could rename or replace %.*s; run 'chmod "
			    "go-w' on it if it is yours, or set %s elsewhere",
			    what, (int)here, path, (unsigned)(st.st_mode & 07777), (int)upto, path,
			    what);
		if (phpc_dir_is_open_to_others(st.st_mode, st.st_uid, uid)) {
			below_open = true;
			open_end = (size_t)(p - path);
		}
		_cleanup_free_ char *name = phpc_xstrndup(p, n);
		int fd = open_component(cur, name, create, &st);
		if (fd < 0)
			return phpc_error_errno(err, -fd, "%s: cannot %s %.*s", what,
			                        create ? "create" : "open", (int)upto, path);
		int parentfd = cur;
		cur = fd;
		_cleanup_free_ char *parent =
		    open_end > 1 ? phpc_xstrndup(path, open_end - 1) : phpc_xstrdup("/");
		if (S_ISLNK(st.st_mode)) {
			/* A link its parent's owner placed is theirs to place (a site's
			 * /scratch -> /lustre/scratch), but where it leads is walked
			 * by the same rules; below an open directory it could point
			 * anywhere. */
			close(parentfd);
			if (below_open)
				return phpc_error_set(
				    err, ELOOP,
				    "%.*s is a symbolic link below %s, which others "
				    "can write: refusing to follow it for %s; set %s "
				    "to the real path",
				    (int)upto, path, parent, what, what);
			char target[4096];
			ssize_t tl = readlinkat(cur, "", target, sizeof(target) - 1);
			if (tl < 0 || ++links > MAX_LINKS)
				return phpc_error_errno(err, tl < 0 ? errno : ELOOP,
				                        "%s: cannot follow %.*s", what, (int)upto,
				                        path);
			target[tl] = '\0';
			_cleanup_free_ char *joined =
			    target[0] == '/'
			        ? phpc_xasprintf("%s/%s", target, end)
			        : phpc_xasprintf("%.*s/%s/%s", (int)here, path, target, end);
			/* the part before the link has no link left: ".." in what
			 * it leads to is lexical */
			char *next = phpc_path_normalize(joined);
			free(expanded);
			expanded = next;
			path = expanded;
			goto restart;
		}
		close(parentfd);
		if (!S_ISDIR(st.st_mode))
			return phpc_error_set(err, ENOTDIR, "%s: %.*s is not a directory", what,
			                      (int)upto, path);
		if (below_open && st.st_uid != uid && st.st_uid != 0)
			return refuse_owner(path, upto, st.st_uid, parent, what, err);
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
