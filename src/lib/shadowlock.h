/* The locks shadow-utils' programs (useradd, usermod, newusers, vipw) take
 * before they change /etc/passwd, /etc/subuid and the other files of the
 * user database, taken the same way and in the same order, so that a writer
 * of /etc/subuid never races them: first lckpwdf() (glibc: an fcntl lock of
 * /etc/.pwd.lock), then FILE.lock for each file (shadow-utils' lib/commonio.c).
 * docs/subid.md, "Locking". */
#ifndef PHPC_SHADOWLOCK_H
#define PHPC_SHADOWLOCK_H

#include "error.h"

#include <stdbool.h>

/* Takes lckpwdf(), which waits up to 15 seconds (glibc's limit) for another
 * holder, and sets *held. Returns 0, or a negative errno with a message that
 * names /etc/.pwd.lock and the programs that may hold it. */
int phpc_shadow_lock_db(bool *held, struct phpc_error **err);
/* Releases it (ulckpwdf) if *held, and clears *held. */
void phpc_shadow_unlock_db(bool *held);

struct phpc_shadow_lock {
	char *lock; /* FILE.lock while held, NULL otherwise; owned */
};

/* Takes FILE.lock for path as shadow-utils does: the pid (decimal, then a
 * NUL) written to FILE.<pid>, hard-linked to FILE.lock (link() fails if the
 * lock exists, atomically, on NFS too), the link count of FILE.<pid> checked
 * to be 2, FILE.<pid> removed. A FILE.lock of a process that no longer runs
 * (or of this pid: a leftover of an earlier process that had it) is stale:
 * it is removed and the link made once more. One attempt, no waiting:
 * -EBUSY with a message naming the holder (pid and command) when a running
 * process holds it or when it holds no pid, and what to do. Other failures
 * are a negative errno naming the file. lk must be zeroed; release it with
 * phpc_shadow_unlock_file, also after a failure. */
int phpc_shadow_lock_file(const char *path, struct phpc_shadow_lock *lk, struct phpc_error **err);
/* Removes FILE.lock if lk holds it; safe on a zeroed lk. */
void phpc_shadow_unlock_file(struct phpc_shadow_lock *lk);

#endif
