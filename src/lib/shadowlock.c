#include "shadowlock.h"
#include "fsutil.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <shadow.h>
#include <signal.h>
#include <stdint.h>
#include <sys/stat.h>

int phpc_shadow_lock_db(bool *held, struct phpc_error **err)
{
	if (lckpwdf() == 0) {
		*held = true;
		return 0;
	}
	int e = errno ? errno : EBUSY;
	return phpc_error_errno(err, e,
	                        "cannot take the lock of the user database (/etc/.pwd.lock, "
	                        "lckpwdf) within 15 seconds: useradd, usermod, passwd or vipw "
	                        "may hold it; try again when they are done");
}

void phpc_shadow_unlock_db(bool *held)
{
	if (*held)
		ulckpwdf();
	*held = false;
}

/* The pid in a lock file: decimal digits, then a NUL (as shadow-utils
 * writes it), a newline or the end. 0 when there is none. */
static pid_t parse_pid(const char *s)
{
	long v = 0;
	size_t i = 0;
	for (; s[i] >= '0' && s[i] <= '9'; i++) {
		v = v * 10 + (s[i] - '0');
		if (v > 4194304) /* PID_MAX_LIMIT */
			return 0;
	}
	if (i == 0 || (s[i] != '\0' && s[i] != '\n'))
		return 0;
	return (pid_t)v;
}

/* The command of a running process, for a message: "useradd", or "?". */
static char *command_of(pid_t pid)
{
	char path[32];
	snprintf(path, sizeof(path), "/proc/%ld/comm", (long)pid);
	char *text = NULL;
	size_t len = 0;
	if (phpc_read_file(AT_FDCWD, path, &text, &len, NULL) < 0 || !text)
		return phpc_xstrdup("?");
	while (len && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		text[--len] = '\0';
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)text[i] < 0x20 || (unsigned char)text[i] >= 0x7f)
			text[i] = '?';
	return text;
}

/* FILE.<pid> with "PID\0", synced, as shadow-utils writes it. */
static int write_pid_file(const char *tmp, struct phpc_error **err)
{
	/* O_TRUNC, not O_EXCL: a leftover of an earlier process with this pid
	 * is ours to reuse, as shadow-utils does */
	_cleanup_close_ int fd =
	    open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return phpc_error_errno(err, errno, "cannot create %s", tmp);
	char buf[24];
	int n = snprintf(buf, sizeof(buf), "%ld", (long)getpid());
	size_t len = (size_t)n + 1;
	if (write(fd, buf, len) != (ssize_t)len || fdatasync(fd) < 0) {
		int e = errno ? errno : EIO;
		unlink(tmp);
		return phpc_error_errno(err, e, "cannot write %s", tmp);
	}
	return 0;
}

/* After a successful link: the link count of FILE.<pid> is 2 unless the
 * file system lied about the link (shadow-utils' check_link_count). */
static int check_linked(const char *tmp, const char *lock, struct phpc_error **err)
{
	struct stat st;
	if (stat(tmp, &st) < 0)
		return phpc_error_errno(err, errno, "cannot check %s", tmp);
	if (st.st_nlink != 2) {
		/* (not ours to remove: the link may have gone to someone else's) */
		return phpc_error_set(err, EBUSY,
		                      "%s: the lock file has %ju links, not 2: another program "
		                      "may be taking it; try again",
		                      lock, (uintmax_t)st.st_nlink);
	}
	return 0;
}

/* Whether lock is held by a running process; -errno when it cannot be read
 * (-ENOENT: it went away meanwhile). */
static int lock_busy(const char *lock, const char *path, struct phpc_error **err)
{
	_cleanup_free_ char *text = NULL;
	int r = phpc_read_file(AT_FDCWD, lock, &text, NULL, NULL);
	if (r == -ENOENT)
		return r;
	if (r < 0)
		return phpc_error_errno(err, -r, "cannot read the lock file %s", lock);
	pid_t pid = parse_pid(text);
	if (pid == 0)
		return phpc_error_set(
		    err, EBUSY,
		    "the lock file %s holds no process id: if no useradd, usermod "
		    "or podman-hpc-subid is changing %s, remove %s",
		    lock, path, lock);
	if (pid == getpid())
		return 0;
	if (kill(pid, 0) == 0 || errno == EPERM) {
		_cleanup_free_ char *comm = command_of(pid);
		return phpc_error_set(err, EBUSY,
		                      "%s is held by process %ld (%s): try again when it is done; "
		                      "if that process is not changing %s, remove %s",
		                      lock, (long)pid, comm, path, lock);
	}
	return 0;
}

int phpc_shadow_lock_file(const char *path, struct phpc_shadow_lock *lk, struct phpc_error **err)
{
	char *tmp = NULL, *lock = NULL;
	if (asprintf(&tmp, "%s.%ld", path, (long)getpid()) < 0)
		return phpc_error_set(err, ENOMEM, "cannot lock %s: out of memory", path);
	if (asprintf(&lock, "%s.lock", path) < 0) {
		free(tmp);
		return phpc_error_set(err, ENOMEM, "cannot lock %s: out of memory", path);
	}
	int r = write_pid_file(tmp, err);
	/* at most: a lock that exists, is found stale, removed, and linked again */
	for (int tries = 0; r == 0; tries++) {
		if (link(tmp, lock) == 0) {
			r = check_linked(tmp, lock, err);
			if (r == 0)
				lk->lock = steal_pointer(&lock);
			break;
		}
		if (errno != EEXIST) {
			r = phpc_error_errno(err, errno, "cannot create the lock file %s", lock);
			break;
		}
		if (tries == 2) {
			r = phpc_error_set(err, EBUSY,
			                   "%s: another program took the lock meanwhile; try again",
			                   lock);
			break;
		}
		r = lock_busy(lock, path, err);
		if (r == -ENOENT) {
			r = 0;
			continue;
		}
		if (r < 0)
			break;
		/* stale: its process is gone */
		if (unlink(lock) < 0 && errno != ENOENT)
			r = phpc_error_errno(err, errno, "cannot remove the stale lock file %s",
			                     lock);
	}
	unlink(tmp);
	free(tmp);
	free(lock);
	return r;
}

void phpc_shadow_unlock_file(struct phpc_shadow_lock *lk)
{
	if (lk->lock)
		unlink(lk->lock);
	free(lk->lock);
	lk->lock = NULL;
}
