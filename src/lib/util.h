/* Small helpers shared by the library and the programs: cleanup attributes,
 * allocation that aborts on out-of-memory, string predicates. */
#ifndef PHPC_UTIL_H
#define PHPC_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static inline void phpc_freep(void *p)
{
	free(*(void **)p);
}

static inline void phpc_closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}

static inline void phpc_fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

#define _cleanup_free_   __attribute__((cleanup(phpc_freep)))
#define _cleanup_close_  __attribute__((cleanup(phpc_closep)))
#define _cleanup_fclose_ __attribute__((cleanup(phpc_fclosep)))
#define _cleanup_(f)     __attribute__((cleanup(f)))

/* Hands ownership out of a cleanup-managed variable. */
static inline void *phpc_steal(void *pp)
{
	void **p = pp;
	void *r = *p;
	*p = NULL;
	return r;
}
#define steal_pointer(pp) phpc_steal(pp)

/* Hands ownership of an fd out of a _cleanup_close_ variable. */
static inline int phpc_steal_fd(int *fd)
{
	int r = *fd;
	*fd = -1;
	return r;
}
#define steal_fd(fdp) phpc_steal_fd(fdp)

/* The programs are short-lived: running out of memory aborts (docs/conventions.md, 3;
 * code for long-lived hosts returns -ENOMEM instead, sharedrun.h). */
void *phpc_xmalloc(size_t n);
void *phpc_xcalloc(size_t n, size_t size);
void *phpc_xrealloc(void *p, size_t n);
char *phpc_xstrdup(const char *s);
char *phpc_xstrndup(const char *s, size_t n);
char *phpc_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *phpc_xvasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

static inline bool streq(const char *a, const char *b)
{
	return strcmp(a, b) == 0;
}

static inline bool str_has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Parses a boolean the way users write one: true/false, yes/no, on/off, 1/0,
 * any case. Returns 0 and sets *out, or -EINVAL. */
int phpc_parse_bool(const char *s, bool *out);

/* A value that is set and not 0/false/no/off/empty (used for module env vars). */
bool phpc_str_is_truthy(const char *s);

#endif
