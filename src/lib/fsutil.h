/* File system helpers: whole-file reads, atomic replacement, safe directories. */
#ifndef PHPC_FSUTIL_H
#define PHPC_FSUTIL_H

#include "error.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* statfs's f_type of the POSIX message queue file system (mqueue), which
 * podman's --ipc=host needs at /dev/mqueue. */
#define PHPC_MQUEUE_MAGIC 0x19800202

/* Reads a whole file (relative to dirfd, or AT_FDCWD) into a NUL-terminated
 * buffer. A missing file is -ENOENT with an error naming it. */
int phpc_read_file(int dirfd, const char *path, char **out, size_t *len, struct phpc_error **err);

/* Reads everything from an open fd (what names it in messages). */
int phpc_read_fd(int fd, const char *what, char **out, size_t *len, struct phpc_error **err);

/* Replaces dirfd/name with data atomically: a temp file in the same directory,
 * fsync, rename. Readers see the old or the new file, never a partial one. */
int phpc_write_file_atomic(int dirfd, const char *name, const char *data, size_t len, mode_t mode,
                           struct phpc_error **err);

/* Replaces dirfd/name with data as phpc_write_file_atomic does, for a file
 * of the system's configuration (/etc/subuid): the new file gets mode, uid
 * and gid before it is renamed into place (pass the old file's, so that
 * nothing but the content changes), and the directory is fsynced after the
 * rename, so that after a crash the name holds the old file or the new one.
 * Returns -ENOMEM (not an abort) when it cannot allocate. */
int phpc_replace_file(int dirfd, const char *name, const char *data, size_t len, mode_t mode,
                      uid_t uid, gid_t gid, struct phpc_error **err);

/* Like phpc_write_file_atomic, but leaves the file alone (no write, no mtime
 * change) when it already holds exactly data. Sets *changed if given. */
int phpc_write_file_if_changed(int dirfd, const char *name, const char *data, size_t len,
                               mode_t mode, bool *changed, struct phpc_error **err);

/* Creates a directory and its parents (mode for the ones it creates), then
 * opens it O_DIRECTORY|O_NOFOLLOW. When must_own is set, a directory that
 * belongs to another user is refused: in a shared /tmp another user could
 * have planted it. Returns the fd or a negative errno. */
int phpc_mkdir_p_open(const char *path, mode_t mode, bool must_own, struct phpc_error **err);

/* Copies all data from in to out (copy_file_range, else read/write); src
 * and dst name them in messages. */
int phpc_copy_data(int in, const char *src, int out, const char *dst, struct phpc_error **err);

/* Copies srcdir/src, a regular file (not a symlink, FIFO or device), to
 * dstdir/dst atomically (temp file, fsync, rename). */
int phpc_copy_file_at(int srcdir, const char *src, int dstdir, const char *dst, mode_t mode,
                      struct phpc_error **err);

/* Copies the regular files of srcdir/src (not below; src not a symlink)
 * into dstdir/dst, which is created if needed. A missing src is -ENOENT
 * without an error set. */
int phpc_copy_dir_files(int srcdir, const char *src, int dstdir, const char *dst,
                        struct phpc_error **err);

/* Whether the tree at dirfd/path (not following symlinks) holds what only
 * fuse-overlayfs reads as a whiteout or an opaque directory: a name starting
 * with ".wh." (AUFS style, as containers/storage unpacks layers for a mount
 * program), or a directory with a "user.fuseoverlayfs." extended attribute.
 * The kernel's overlayfs would show such a deleted file again. A tree of
 * more than max_entries entries is reported as having them (*has = true):
 * scanning it costs more than the kernel's overlay saves. */
int phpc_tree_has_whiteouts(int dirfd, const char *path, size_t max_entries, bool *has,
                            struct phpc_error **err);

/* Removes parent/name and everything below it, without following symlinks.
 * A missing name is success. On failure, the message names the entry that
 * could not be removed, as a path below parent ("name/sub/file"); err may be
 * NULL where removal is best effort. */
int phpc_rm_rf_at(int parent, const char *name, struct phpc_error **err);

/* Searches PATH (or the given path when it contains a '/') for an executable.
 * Returns a newly allocated absolute or relative path, or NULL. */
char *phpc_find_executable(const char *name, const char *path_env);

#endif
