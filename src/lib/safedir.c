#include "safedir.h"
#include "path.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>

bool phpc_dir_is_open_to_others(mode_t mode, uid_t owner, uid_t uid)
{
	/* A group-writable directory is open to the group's other members; a
	 * directory of another user is theirs to change, whatever its mode. */
	return (mode & (S_IWGRP | S_IWOTH)) || (owner != uid && owner != 0);
}

/* Nothing here allocates but the error: shared-run's state directory is
 * opened from long-lived hosts too (sharedrun.h). */

struct owner_name {
	char s[300];
};

/* "user NAME (uid N)", or "uid N" when NSS does not know it. */
static struct owner_name describe_owner(uid_t owner)
{
	struct passwd pw, *res = NULL;
	char buf[1024];
	struct owner_name o;
	if (getpwuid_r(owner, &pw, buf, sizeof(buf), &res) == 0 && res)
		snprintf(o.s, sizeof(o.s), "user %s (uid %u)", res->pw_name, (unsigned)owner);
	else
		snprintf(o.s, sizeof(o.s), "uid %u", (unsigned)owner);
	return o;
}

static int refuse_owner(const char *path, size_t len, uid_t owner, int plen, const char *parent,
                        const char *what, struct phpc_error **err)
{
	return phpc_error_set(err, EPERM,
	                      "%.*s belongs to %s, not to you, in %.*s, which others can write: "
	                      "another user may have created it to control your %s; remove it "
	                      "(ask its owner or an admin) or set %s to a directory of your own",
	                      (int)len, path, describe_owner(owner).s, plen, parent, what, what);
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
	if ((kind == PHPC_DIR_PRIVATE || kind == PHPC_DIR_SERVICE) && others_own)
		return true;
	return (st->st_mode & (S_IWGRP | S_IWOTH)) && !((st->st_mode & S_ISVTX) && !others_own);
}

/* Before opening a component: one that others can write lets them rename
 * what the user keeps in it, between this check and podman's use of the
 * path (path[0..here) is the directory st describes, path[0..upto) the
 * component). */
static int check_parent(const struct stat *st, uid_t uid, enum phpc_dir_kind kind, const char *what,
                        const char *path, size_t here, size_t upto, struct phpc_error **err)
{
	if (!entries_replaceable(st, uid, kind))
		return 0;
	if (!(st->st_mode & (S_IWGRP | S_IWOTH))) {
		struct owner_name who = describe_owner(st->st_uid);
		return phpc_error_set(err, EPERM,
		                      "%s: %.*s belongs to %s, not to you, who could rename "
		                      "or replace %.*s; set %s to a directory of your own",
		                      what, (int)here, path, who.s, (int)upto, path, what);
	}
	return phpc_error_set(err, EPERM,
	                      "%s: %.*s is writable by others (mode %04o) and not "
	                      "sticky: they could rename or replace %.*s; run 'chmod "
	                      "go-w' on it if it is yours, or set %s elsewhere",
	                      what, (int)here, path, (unsigned)(st->st_mode & 07777), (int)upto,
	                      path, what);
}

/* The path with the links met so far replaced (no allocation: see above). */
struct walk_buf {
	char joined[2 * PATH_MAX + 2];
	char expanded[PATH_MAX + 2];
};

/* The link open as linkfd (path[0..upto), in the directory path[0..here))
 * replaced by its target, with the rest of the path (end) after it, into
 * w->expanded. The part before the link has no link left: ".." in what it
 * leads to is lexical. */
static int follow_link(int linkfd, const char *path, size_t here, size_t upto, const char *end,
                       const char *what, struct walk_buf *w, struct phpc_error **err)
{
	char target[4096];
	ssize_t tl = readlinkat(linkfd, "", target, sizeof(target) - 1);
	if (tl < 0)
		return phpc_error_errno(err, errno, "%s: cannot follow %.*s", what, (int)upto,
		                        path);
	target[tl] = '\0';
	int jl = target[0] == '/' ? snprintf(w->joined, sizeof(w->joined), "%s/%s", target, end)
	                          : snprintf(w->joined, sizeof(w->joined), "%.*s/%s/%s", (int)here,
	                                     path, target, end);
	if (jl < 0 || (size_t)jl >= sizeof(w->joined) ||
	    phpc_path_normalize_into(w->joined, w->expanded, sizeof(w->expanded)) < 0)
		return phpc_error_set(err, ENAMETOOLONG, "%s: %.*s leads to a path too long", what,
		                      (int)upto, path);
	return 0;
}

/* The directory itself: the user's, for private storage; nobody else may
 * write it. */
static int check_final(const struct stat *st, uid_t uid, enum phpc_dir_kind kind, const char *what,
                       const char *path, struct phpc_error **err)
{
	bool mine = st->st_uid == uid;
	if (kind == PHPC_DIR_PRIVATE && !mine) {
		struct owner_name who = describe_owner(st->st_uid);
		return phpc_error_set(err, EPERM,
		                      "%s %s belongs to %s, not to you: refusing to keep your "
		                      "containers there; set %s to a directory of your own",
		                      what, path, who.s, what);
	}
	if (kind == PHPC_DIR_SERVICE && !mine && st->st_uid != 0) {
		struct owner_name who = describe_owner(st->st_uid);
		return phpc_error_set(err, EPERM,
		                      "%s %s belongs to %s, who could rename or replace what "
		                      "is kept there; choose a directory of root's",
		                      what, path, who.s);
	}
	if (st->st_mode & (S_IWGRP | S_IWOTH))
		return phpc_error_set(
		    err, EPERM,
		    "%s %s is writable by %s (mode %04o): other users could change %s; %s", what,
		    path, st->st_mode & S_IWOTH ? "everyone" : "its group",
		    (unsigned)(st->st_mode & 07777),
		    kind == PHPC_DIR_PRIVATE ? "your containers"
		    : kind == PHPC_DIR_STORE ? "its images"
		                             : "what is kept there",
		    /* a sticky one, as /tmp, is meant to be shared */
		    st->st_mode & S_ISVTX ? "choose a directory that only its owner can write"
		    : mine                ? "run 'chmod go-w' on it"
		                          : "ask its owner to run 'chmod go-w' on it");
	return 0;
}

#define MAX_LINKS 40

/* phpc_dir_open, and with complete set phpc_dir_open_existing: a missing
 * component then ends the walk instead of being created. */
static int walk(const char *path0, enum phpc_dir_kind kind, uid_t uid, const char *what,
                bool *complete, struct phpc_error **err)
{
	if (!path0 || path0[0] != '/')
		return phpc_error_set(err, EINVAL, "%s must be an absolute path, not \"%s\"", what,
		                      path0 ? path0 : "");
	bool create = kind == PHPC_DIR_PRIVATE && !complete;
	struct walk_buf w;
	const char *path = path0;
	int links = 0;
	_cleanup_close_ int cur = -1;
	struct stat st;
	size_t open_end = 0; /* where the directory others can write ends in path */
	bool below_open = false;
	const char *p; /* the component walked: set at restart */
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
		int r = check_parent(&st, uid, kind, what, path, here, upto, err);
		if (r < 0)
			return r;
		if (phpc_dir_is_open_to_others(st.st_mode, st.st_uid, uid)) {
			below_open = true;
			open_end = (size_t)(p - path);
		}
		char name[NAME_MAX + 1];
		if (n > NAME_MAX)
			return phpc_error_set(err, ENAMETOOLONG, "%s: %.*s: a name is too long",
			                      what, (int)upto, path);
		memcpy(name, p, n);
		name[n] = '\0';
		int fd = open_component(cur, name, create, &st);
		if (fd == -ENOENT && complete) {
			/* cur passed check_parent for this name: podman-hpc may
			 * create it there */
			*complete = false;
			return steal_fd(&cur);
		}
		if (fd < 0)
			return phpc_error_errno(err, -fd, "%s: cannot %s %.*s", what,
			                        create ? "create" : "open", (int)upto, path);
		int parentfd = cur;
		cur = fd;
		/* the directory others can write, for messages */
		const char *parent = open_end > 1 ? path : "/";
		int plen = open_end > 1 ? (int)(open_end - 1) : 1;
		if (S_ISLNK(st.st_mode)) {
			/* A link its parent's owner placed is theirs to place (a site's
			 * /scratch -> /lustre/scratch), but where it leads is walked
			 * by the same rules; below an open directory it could point
			 * anywhere. */
			close(parentfd);
			if (below_open)
				return phpc_error_set(
				    err, ELOOP,
				    "%.*s is a symbolic link below %.*s, which others "
				    "can write: refusing to follow it for %s; set %s "
				    "to the real path",
				    (int)upto, path, plen, parent, what, what);
			if (++links > MAX_LINKS)
				return phpc_error_errno(err, ELOOP, "%s: cannot follow %.*s", what,
				                        (int)upto, path);
			r = follow_link(cur, path, here, upto, end, what, &w, err);
			if (r < 0)
				return r;
			path = w.expanded;
			goto restart;
		}
		close(parentfd);
		if (!S_ISDIR(st.st_mode))
			return phpc_error_set(err, ENOTDIR, "%s: %.*s is not a directory", what,
			                      (int)upto, path);
		if (below_open && st.st_uid != uid && st.st_uid != 0)
			return refuse_owner(path, upto, st.st_uid, plen, parent, what, err);
		p = end;
	}
	int r = check_final(&st, uid, kind, what, path, err);
	if (r < 0)
		return r;
	if (complete) {
		*complete = true;
		return steal_fd(&cur);
	}
	int fd = openat(cur, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return phpc_error_errno(err, errno, "%s: cannot open %s", what, path);
	return fd;
}

int phpc_dir_open(const char *path, enum phpc_dir_kind kind, uid_t uid, const char *what,
                  struct phpc_error **err)
{
	return walk(path, kind, uid, what, NULL, err);
}

int phpc_dir_open_existing(const char *path, uid_t uid, const char *what, bool *complete,
                           struct phpc_error **err)
{
	return walk(path, PHPC_DIR_PRIVATE, uid, what, complete, err);
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
