/* Loads the flat YAML files podman-hpc reads (podman_hpc.yaml, modules.d/NAME.yaml):
 * one top-level mapping whose values are scalars or sequences of scalars.
 * Every entry keeps its line so errors can point at it. */
#ifndef PHPC_YMAP_H
#define PHPC_YMAP_H

#include "error.h"

#include <stdbool.h>
#include <stddef.h>

enum phpc_ykind {
	PHPC_Y_SCALAR,
	PHPC_Y_SEQ,
	PHPC_Y_MAP,
};

struct phpc_yentry {
	char *key;
	unsigned line; /* 1-based line of the key */
	enum phpc_ykind kind;
	char *scalar; /* PHPC_Y_SCALAR: the text */
	bool is_null; /* PHPC_Y_SCALAR: an unquoted empty, ~ or null */
	char **seq;   /* PHPC_Y_SEQ: the items (NULL-terminated) */
};

struct phpc_ymap {
	struct phpc_yentry *e;
	size_t n;
};

/* Parses buf (name is used in messages). Duplicate keys, non-scalar keys,
 * nested structures inside a sequence, or a top level that is not a mapping
 * are errors that name the line. An empty document is an empty map. */
int phpc_yaml_parse_map(const char *buf, size_t len, struct phpc_ymap *out,
                        struct phpc_error **err);
/* Reads and parses a file; errors are prefixed with the file name. */
int phpc_yaml_load_map(const char *path, struct phpc_ymap *out, struct phpc_error **err);
const struct phpc_yentry *phpc_ymap_get(const struct phpc_ymap *m, const char *key);
void phpc_ymap_clear(struct phpc_ymap *m);

#endif
