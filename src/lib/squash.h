/* Squashed images (spec section 5): migrate an image from the user's local
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
 * running migrate again completes it. Sets *already when only names changed. */
int phpc_migrate(const struct phpc_migrate_req *req, bool *already, struct phpc_error **err);

/* Removes an image from the squash store (or only the given name, when the
 * image has others), then every layer and file no remaining image uses. */
int phpc_rmsqi(const char *dst_dir, const char *name, struct phpc_strv *notes,
               struct phpc_error **err);

#endif
