/* Writing into a container's root file system from the host without ever
 * leaving it: every path is resolved with openat2(RESOLVE_IN_ROOT), so a
 * symlink in the image ("/usr/lib64 -> /", "../../..") resolves inside the
 * root, as it would for the container's own processes. */
#ifndef PHPC_ROOTFS_H
#define PHPC_ROOTFS_H

#include "error.h"

#include <stdbool.h>
#include <sys/types.h>

/* Opens path (the rootfs directory) as the root for the functions below. */
int phpc_root_open(const char *path, struct phpc_error **err);

/* Opens (O_PATH) the directory path inside root, creating what is missing. */
int phpc_root_mkdirs(int rootfd, const char *path, struct phpc_error **err);

/* Copies a host file, directory (recursively) or symlink (as a symlink) to
 * path inside root; an existing file or symlink there is replaced. Refuses a
 * destination on another mount than the root (a volume or bind of the host):
 * a copy must never write into host directories. */
int phpc_root_copy(int rootfd, const char *src, const char *path, struct phpc_error **err);

/* The last directory a bind went into: a module usually binds many files
 * into one directory, and every path walk in the root costs (through FUSE). */
struct phpc_root_cache {
	char *dir;
	int fd;
};
#define PHPC_ROOT_CACHE_INIT \
	{                    \
		NULL, -1     \
	}
void phpc_root_cache_clear(struct phpc_root_cache *c);

/* Bind-mounts a host path (recursively; read-only when ro) onto path inside
 * root, creating the target (a directory or an empty file) first. Must run in
 * the container's mount namespace. cache may be NULL. */
int phpc_root_bind(int rootfd, struct phpc_root_cache *cache, const char *src, const char *path,
                   bool ro, struct phpc_error **err);

/* Opens path inside root (following symlinks inside the root). Returns the
 * fd or a bare negative errno, without a message: a probe, whose callers
 * test for -ENOENT and say what they were looking for. */
int phpc_root_openat(int rootfd, const char *path, int flags, mode_t mode);

#endif
