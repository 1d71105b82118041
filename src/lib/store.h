/* containers/storage stores that podman-hpc manages: the squash store that
 * podman reads as an additional read-only image store (spec section 5). */
#ifndef PHPC_STORE_H
#define PHPC_STORE_H

#include "error.h"

/* Makes dir a valid, empty overlay store if it is not one yet: the
 * overlay-images, overlay-layers and overlay/l directories, empty JSON
 * indexes and the lock files readers take. Existing content is never
 * touched, so concurrent first uses are harmless. */
int phpc_store_init(const char *dir, struct phpc_error **err);

#endif
