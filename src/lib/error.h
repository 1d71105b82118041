/* Errors with context (docs/conventions.md, 1): a failing function returns a
 * negative errno and fills *err; callers prepend context; only main() prints.
 * Never aborts: out of memory, *err is a shared "out of memory" error. */
#ifndef PHPC_ERROR_H
#define PHPC_ERROR_H

struct phpc_error {
	int code;  /* positive errno-style code */
	char *msg; /* owned, one line, no trailing newline */
};

/* Sets *err (if err is not NULL and *err is NULL) and returns -code. */
int phpc_error_set(struct phpc_error **err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like phpc_error_set, with ": strerror(code)" appended. */
int phpc_error_errno(struct phpc_error **err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepends "context: " to an existing error; returns -(*err)->code. */
int phpc_error_prefix(struct phpc_error **err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void phpc_error_free(struct phpc_error *e);

/* For the clang static analyzer (tests/check-analyze), which reads one file
 * at a time: the setters above always return a negative value, so a caller's
 * "if (r < 0) return r" after them is taken on every path. */
#if defined(__clang_analyzer__) && !defined(PHPC_ERROR_C)
static inline int phpc_error_negative_(int r)
{
	if (r >= 0)
		__builtin_unreachable();
	return r;
}
#define phpc_error_set(...)    phpc_error_negative_(phpc_error_set(__VA_ARGS__))
#define phpc_error_errno(...)  phpc_error_negative_(phpc_error_errno(__VA_ARGS__))
#define phpc_error_prefix(...) phpc_error_negative_(phpc_error_prefix(__VA_ARGS__))
#endif

static inline void phpc_error_freep(struct phpc_error **e)
{
	phpc_error_free(*e);
	*e = 0;
}
#define _cleanup_error_ __attribute__((cleanup(phpc_error_freep)))

#endif
