/* Node-local views of the squash store (docs/squash-view.md).
 *
 * podman reads an additional image store's indexes and lock files again and
 * again while it starts one container: measured, 588 calls (openat 280,
 * fstat 149, fcntl 123, newfstatat 35) on the squash store for one
 * `podman run` of a one-layer image. On a shared file system each is a
 * round trip to its server, from every node of a job at the same moment.
 *
 * A view is a small store on node-local disk that holds one image of the
 * squash store: its record, its layers' records, its big-data files, its
 * layers' link names, and for the squashed layer a symlink to the squash
 * file in the squash store. podman is pointed at the view instead of the
 * squash store; squashfuse reads the image's data from the shared file as
 * before.
 *
 * The views of one state of the squash store live in
 *   <views>/<state>/images.json, layers.json  copies of its indexes
 *   <views>/<state>/<image id>/               one image's view
 * where <state> hashes the store's path and its indexes' identity and times:
 * any change to the store (a migrate, an rmsqi: both replace the indexes by
 * rename) gives a new state. A start on a node that has the view costs two
 * stat calls on the squash store; the first start of an image on a node
 * reads the indexes once (under the store's locks), and the image's few
 * files, under its locks. Everything is written to a temporary name and
 * renamed into place (the first rename wins), so concurrent tasks of a job
 * build at most a few copies and never see a partial one. */
#ifndef PHPC_STOREVIEW_H
#define PHPC_STOREVIEW_H

#include "error.h"

#include <stdbool.h>
#include <sys/stat.h>

struct phpc_view_req {
	const char *store; /* the squash store, as podman would be given it */
	const char *views; /* node-local directory of the user's own (created) */
	const char *image; /* the image as the user named it */
};

/* Makes (or finds) the view of req->image. Returns 0 and the view's
 * directory in *view (newly allocated), or 0 and NULL when the squash store
 * does not hold that image or the name could mean several of its images
 * (then podman must see the whole store: the caller gives it that); a
 * negative errno with err set when the view could not be made. *built says
 * whether this call made it. */
int phpc_store_view(const struct phpc_view_req *req, char **view, bool *built,
                    struct phpc_error **err);

/* The state name of a store (above): a hash of its path and of the device,
 * inode, size, modification and change times of its
 * overlay-images/images.json and overlay-layers/layers.json. */
char *phpc_store_view_state(const char *store, const struct stat *images,
                            const struct stat *layers);

/* A state's views go when no start has used them for this long. podman's
 * cleanup of a container (conmon's exit command) names the view it started
 * from, so a view must outlive the longest job that uses it. */
#define PHPC_VIEW_MAX_IDLE_S (14L * 24 * 3600)

/* Removes the states of views other than keep that no start used for
 * max_idle_s seconds (best effort; a start touches its state). */
void phpc_store_views_prune(const char *views, const char *keep, long max_idle_s);

#endif
