/* Lexical path helpers: no file system access. */
#ifndef PHPC_PATH_H
#define PHPC_PATH_H

#include <stddef.h>

/* Lexically normalises an absolute path: no "//", ".", or ".." (".." never
 * climbs above "/"). A relative path is taken as relative to "/". Returns a
 * newly allocated string. */
char *phpc_path_normalize(const char *path);

/* The same into out (size bytes, at most strlen(path) + 2 needed): 0, or
 * -ENAMETOOLONG. Allocates nothing (for code that must not abort). */
int phpc_path_normalize_into(const char *path, char *out, size_t size);

#endif
