/* Directories another user must not steer: the user's own storage (graph_root,
 * run_root, config_home, shared-run state) and the image stores podman reads.
 *
 * On a shared node /tmp is writable by everyone, so a name such as
 * /tmp/1000_hpc can be created by another user before its owner's first run;
 * whoever owns that directory controls the victim's store. Every path is
 * walked one component at a time from "/", and below a directory that others
 * can write no symlink is followed and every component must belong to the
 * user (or root). See docs/security.md,
 * "Directories another user must not steer". */
#ifndef PHPC_SAFEDIR_H
#define PHPC_SAFEDIR_H

#include "error.h"

#include <stdbool.h>
#include <sys/stat.h>
#include <sys/types.h>

enum phpc_dir_kind {
	/* The user's own: missing components are created mode 0700; the
	 * directory must belong to the user and be writable by nobody else. */
	PHPC_DIR_PRIVATE,
	/* An image store podman reads: it must not be writable by group or
	 * others; below a directory others can write it must belong to the
	 * user or root. Not created. */
	PHPC_DIR_STORE,
	/* Where a service keeps what others use (the site registry's blobs):
	 * every component belongs to root or the account uid, so that no
	 * other user can rename anything on the way, and none is writable by
	 * others unless sticky and root's. Not created. */
	PHPC_DIR_SERVICE,
};

/* Whether a directory with this mode and owner lets users other than uid
 * and root create or rename entries in it. */
bool phpc_dir_is_open_to_others(mode_t mode, uid_t owner, uid_t uid);

/* Walks path as described above and returns an O_DIRECTORY fd of it (the
 * caller closes it), or a negative errno with *err naming the path, its owner
 * and what to do. what names the setting in messages, e.g. "run_root (env:
 * PODMANHPC_RUN_ROOT)". A missing PHPC_DIR_STORE is -ENOENT with *err set. */
int phpc_dir_open(const char *path, enum phpc_dir_kind kind, uid_t uid, const char *what,
                  struct phpc_error **err);

/* What phpc_dir_open(path, PHPC_DIR_PRIVATE, ...) would find, without
 * creating anything: path is walked by the same rules up to its first
 * missing component. Returns an O_PATH fd (usable as the dirfd of *at calls
 * and with fstatfs; the caller closes it) of path itself (*complete true) or
 * of its deepest existing directory, where phpc_dir_open would create the
 * rest (*complete false), or the error phpc_dir_open would give for the
 * components that exist. */
int phpc_dir_open_existing(const char *path, uid_t uid, const char *what, bool *complete,
                           struct phpc_error **err);

/* phpc_dir_open without keeping the fd. */
int phpc_dir_check(const char *path, enum phpc_dir_kind kind, uid_t uid, const char *what,
                   struct phpc_error **err);

#endif
