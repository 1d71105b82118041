/* containers/storage overlay stores as podman-hpc reads and writes them: the
 * user's local store (graph_root, read) and the squash store (squash_dir,
 * written; podman reads it as an additional read-only image store).
 *
 * Layout: overlay-images/images.json (+ images.lock, one big-data directory
 * per image), overlay-layers/layers.json (+ layers.lock, <id>.tar-split.gz),
 * overlay/<layer>/{diff,link}, overlay/l/<LINK> -> ../<layer>/diff, and for a
 * squashed image overlay/l/<LINK of its top layer>.squash. */
#ifndef PHPC_STORE_H
#define PHPC_STORE_H

#include "error.h"
#include "strv.h"

#include <json.h>
#include <stdbool.h>

/* Makes dir a valid, empty overlay store if it is not one yet: the
 * overlay-images, overlay-layers and overlay/l directories, empty JSON
 * indexes and the lock files readers take. Existing content is never
 * touched, so concurrent first uses are harmless. */
int phpc_store_init(const char *dir, struct phpc_error **err);

struct phpc_store {
	char *dir;
	int dirfd;
	int images_lock; /* fcntl-locked as containers/storage does */
	int layers_lock;
	bool writable;
	struct json_object *images; /* arrays of records */
	struct json_object *layers;
};

/* Opens a store and loads its indexes under its locks: shared for reading,
 * exclusive for writing (podman, reading the store, waits meanwhile). A
 * writable store is initialised first if needed. */
int phpc_store_open(const char *dir, bool writable, struct phpc_store *s, struct phpc_error **err);
/* Writes layers.json or images.json atomically. */
int phpc_store_save_layers(struct phpc_store *s, struct phpc_error **err);
int phpc_store_save_images(struct phpc_store *s, struct phpc_error **err);
/* Releases the locks and frees everything. */
void phpc_store_close(struct phpc_store *s);

/* Finds an image by ID, unique ID prefix, or name as podman users write it
 * ("ubuntu" = "ubuntu:latest", tried as given and with "docker.io/",
 * "docker.io/library/" and "localhost/"; "docker://" and other transport
 * prefixes ignored). Returns the index or -ENOENT / -EINVAL (ambiguous
 * prefix). *matched_name gets the full name that matched (newly allocated),
 * or NULL when an ID did. */
int phpc_images_lookup(struct json_object *images, const char *name, char **matched_name,
                       struct phpc_error **err);
/* The one image that name could mean to podman: an ID prefix, or a name
 * (":latest" added when it has no tag) that is one of the image's names or
 * the end of one after a "/" (podman's search registries, aliases and
 * suffix match all land there). Its index, -ENOENT when none, -EINVAL when
 * several images could be meant or name has a digest. For callers that must
 * never pick an image other than podman's. */
int phpc_images_lookup_unique(struct json_object *images, const char *name);

/* The index of the record of records whose "id" is id, or -1. */
int phpc_records_find(struct json_object *records, const char *id);

/* The layer chain of top (top first, following "parent"): the layer IDs,
 * appended to ids. */
int phpc_layer_chain(struct json_object *layers, const char *top, struct phpc_strv *ids,
                     struct phpc_error **err);

/* Removes every name in names from every image but keep (-1: from all). */
void phpc_images_drop_names(struct json_object *images, int keep, struct json_object *names);

/* The link name of layer id (overlay/<id>/link, without its newline). */
int phpc_store_read_link(int storefd, const char *id, char **out, struct phpc_error **err);
/* Whether a link name read from a store is one file name (used as a path). */
bool phpc_store_link_ok(const char *link);

/* name without a "docker://" (or other transport) prefix. */
const char *phpc_strip_transport(const char *name);

/* A migrate's staging directory. Everything a migrate writes into the squash
 * store outside the store's lock (the squash file while mksquashfs builds it,
 * the image's big data, tar-split files) lives in one directory
 * ".phpc-migrate.tmp.XXXXXX" at the top of the store until the commit moves
 * it into place. It is created, with its file "lock", under the store's
 * exclusive lock, and "lock" stays locked (an open file description lock,
 * fcntl's) for as long as the writer lives: a killed writer's lock goes with
 * it, and the next writer's phpc_store_sweep removes what it left. */
struct phpc_staging {
	char *name;  /* relative to the store's directory */
	int dirfd;   /* the staging directory */
	int lock_fd; /* holds the lock; -1 when the staging is gone */
};
#define PHPC_STAGING_PREFIX ".phpc-migrate.tmp."

/* Creates a staging directory in s (opened writable, so its lock is held). */
int phpc_staging_create(struct phpc_store *s, struct phpc_staging *out, struct phpc_error **err);
/* Removes the staging directory (the lock last) and frees *stg; call it
 * under the store's lock when the store may be swept meanwhile. */
void phpc_staging_remove(int store_dirfd, struct phpc_staging *stg);

/* Removes, in s (opened writable), what writers that are provably gone left
 * behind: staging directories whose lock is free or that have no lock file,
 * and the temp files of the indexes and link files, which are only written
 * under the store's lock that s now holds. Never follows a symlink; removes
 * nothing else. Returns how many it removed. */
int phpc_store_sweep(struct phpc_store *s);
/* The patterns: PHPC_STAGING_PREFIX and six letters or digits (mkdtemp's);
 * ".<file>.tmp.<pid>" for the atomic replacement of <file>. */
bool phpc_store_is_staging_name(const char *name);
bool phpc_store_is_temp_of(const char *name, const char *file);

/* The containers of the local store in dir (graph_root, or run_root for
 * transient ones: overlay-containers/containers.json and
 * volatile-containers.json, read under containers.lock) created from
 * image_id, each added to users as "NAME (SHORT-ID)". A missing store has
 * none. */
int phpc_store_containers_using(const char *dir, const char *image_id, struct phpc_strv *users,
                                struct phpc_error **err);
/* The same for records already loaded. */
void phpc_containers_using(struct json_object *containers, const char *image_id,
                           struct phpc_strv *users);

/* Whether the store in dir (read under its images.lock) holds image id; a
 * missing store holds none. */
int phpc_store_has_image(const char *dir, const char *id, bool *has, struct phpc_error **err);

/* Whether name is an image or layer id (64 lowercase hex digits): ids from a
 * store's JSON name files and directories, so no other string may. */
bool phpc_store_is_id(const char *name);

#endif
