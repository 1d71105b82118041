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
 * prefix). *by_name tells whether a name (not an ID) matched, and which. */
int phpc_images_lookup(struct json_object *images, const char *name, char **matched_name,
                       struct phpc_error **err);
int phpc_records_find(struct json_object *records, const char *id);

/* The layer chain of top (top first, following "parent"), as indexes. */
int phpc_layer_chain(struct json_object *layers, const char *top, struct phpc_strv *ids,
                     struct phpc_error **err);

/* Removes every name in names from every image but keep (-1: from all). */
void phpc_images_drop_names(struct json_object *images, int keep, struct json_object *names);

/* name without a "docker://" (or other transport) prefix. */
const char *phpc_strip_transport(const char *name);

const char *phpc_json_str(struct json_object *o, const char *key);

#endif
