/* Squashed images (docs/compat.md, "Squashed images"): migrate an image from the user's local
 * store into the squash store as one squashfs file, and remove it again. */
#ifndef PHPC_SQUASH_H
#define PHPC_SQUASH_H

#include "error.h"
#include "strv.h"

#include <stdbool.h>

/* Builds the squashfs of image_id at out. layer_dir is the image's only
 * layer's directory when it has one layer (read it directly), else NULL
 * (mount the image). */
typedef int (*phpc_squash_build_fn)(void *data, const char *image_id, const char *layer_dir,
                                    const char *out, struct phpc_error **err);

struct phpc_migrate_req {
	const char *src_dir;  /* the local store: graph_root */
	const char *dst_dir;  /* the squash store: squash_dir */
	const char *image_id; /* the full ID */
	phpc_squash_build_fn build;
	void *data;
};

/* Migrates (or, when the image is there already, updates its names). The
 * squash store is changed under its locks, the image record written last:
 * killed at any moment, the store stays valid and does not list the image;
 * running migrate again completes it, and any migrate removes what killed
 * ones left (their staging directories, see phpc_staging_create). Sets
 * *already when only names changed. */
int phpc_migrate(const struct phpc_migrate_req *req, bool *already, struct phpc_error **err);

struct phpc_rmsqi_req {
	const char *dst_dir; /* the squash store: squash_dir */
	/* the local stores whose containers may use the image: graph_root
	 * (its images too) and run_root (transient containers); NULL: none */
	const char *graph_root;
	const char *run_root;
	bool force; /* remove it even when a container uses it */
};

/* Removes an image from the squash store (or only the given name, when the
 * image has others), then every layer and file no remaining image uses.
 * Refuses (-EBUSY, naming them) when containers of the local store were
 * created from the image and the local store does not hold the image itself
 * (then its containers use the local copy), unless req->force. */
int phpc_rmsqi(const struct phpc_rmsqi_req *req, const char *name, struct phpc_strv *notes,
               struct phpc_error **err);

/* Runs argv[0] (a path) with envp and stdin from /dev/null, and waits for it.
 * The child dies with this process (PR_SET_PDEATHSIG), and is killed when
 * watch_fd reaches its end (the write end of a pipe closes: whoever holds it
 * died). Returns 0 and the wait status in *status, or an error. */
int phpc_run_guarded(char *const *argv, char *const *envp, int watch_fd, int *status,
                     struct phpc_error **err);

#endif
